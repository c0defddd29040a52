// throwaway manual check (deleted after use)
import http from 'node:http';
import { createServer } from 'vite';
import { chromium } from 'playwright-core';
const api = http.createServer((req, res) => {
  const cors = { 'access-control-allow-origin': req.headers.origin ?? '*', 'access-control-allow-headers': 'Authorization, Content-Type, X-Request-Id', 'access-control-expose-headers': 'X-Request-Id, X-Served-By, Retry-After' };
  if (req.method === 'OPTIONS') { res.writeHead(204, cors); res.end(); return; }
  let body = ''; req.on('data', (c) => (body += c)); req.on('end', async () => {
    if (req.url === '/v1/token') { res.writeHead(200, { ...cors, 'content-type': 'application/json' }); res.end(JSON.stringify({ token: 't', expires_at: Math.floor(Date.now() / 1000) + 900 })); return; }
    const msg = JSON.parse(body).messages.at(-1).content as string;
    if (msg.includes('fail')) { res.writeHead(503, { ...cors, 'x-request-id': String(req.headers['x-request-id']), 'content-type': 'application/json' }); res.end('{"error":{"message":"down"}}'); return; }
    res.writeHead(200, { ...cors, 'content-type': 'text/event-stream', 'x-request-id': String(req.headers['x-request-id']), 'x-served-by': msg.includes('fb') ? 'fallback' : 'origin' });
    for (const w of 'Try the little noodle bar on the corner, order the spicy dumplings and a cold tea'.split(' ')) { res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: w + ' ' } }] })}\n\n`); await new Promise((r) => setTimeout(r, 20)); }
    res.end('data: [DONE]\n\n');
  });
}).listen(0, '127.0.0.1');
await new Promise((r) => api.once('listening', r));
process.env.VITE_AI_API_BASE_URL = `http://127.0.0.1:${(api.address() as any).port}`;
process.env.DEV_WEB_PORT = '0';
const vite = await createServer({ configFile: new URL('../../../services/web/vite.config.ts', import.meta.url).pathname, server: { port: 0, strictPort: false } });
await vite.listen();
const url = vite.resolvedUrls!.local[0]!;
const ctx = await chromium.launchPersistentContext('/tmp/webcheck/ud', { executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'], viewport: { width: 375, height: 812 } });
const page = await ctx.newPage();
page.on('console', (m) => console.log('console', m.text()));
await page.goto(url);
for (const m of ['Where is good ramen?', 'fb please']) { await page.getByLabel('Message', { exact: true }).fill(m); await page.keyboard.press('Enter'); await page.waitForTimeout(1500); }
await page.screenshot({ path: '/tmp/webcheck/chat.png', fullPage: true });
await page.getByLabel('Message', { exact: true }).fill('fail now'); await page.keyboard.press('Enter'); await page.waitForTimeout(8000);
await page.screenshot({ path: '/tmp/webcheck/error.png', fullPage: true });
await page.goto(url + '#/config'); await page.waitForTimeout(500);
await page.screenshot({ path: '/tmp/webcheck/config.png', fullPage: true });
await ctx.close(); await vite.close(); api.close();
