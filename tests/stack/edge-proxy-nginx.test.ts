// The edge proxy config (components/lib/serveConfig.ts) in a real nginx on loopback, in front of loopback HTTP
// servers standing in for the GPU hosts' APIs: streaming passes through unbuffered, a dead host is skipped, an
// oversized body is refused. (tailscale serve/funnel in front of it cannot run here.)
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNginxConfig } from '../../components/lib/serveConfig.js';
import { freePort } from '../support/net.js';
import { startNginx, type NginxProcess } from '../support/nginx.js';

let nginx: NginxProcess | undefined;
let upstream: Server;
let proxyUrl: string;
let releaseSecondChunk: (() => void) | undefined;
let hits = 0;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    hits++;
    if (req.url === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      releaseSecondChunk = () => res.end('data: second\n\n');
      return;
    }
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => res.end(JSON.stringify({ ok: true, path: req.url, size })));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = (upstream.address() as { port: number }).port;
  const deadPort = await freePort(); // nothing listens: a dead GPU host
  const listenPort = await freePort();
  // startNginx runs `nginx -t` first and fails on a site nginx rejects.
  nginx = await startNginx(buildNginxConfig({ upstreams: [`127.0.0.1:${deadPort}`, `127.0.0.1:${upPort}`], bodyLimit: '1kb', listenPort }), listenPort);
  proxyUrl = nginx.url;
}, 30_000);

afterAll(async () => {
  await nginx?.stop();
  await new Promise<void>((r) => upstream?.close(() => r()));
});

describe('edge proxy in real nginx (loopback stand-ins for the GPU hosts)', () => {
  it('passes a streamed answer through before the upstream finishes it (no buffering)', async () => {
    const res = await fetch(`${proxyUrl}/stream`);
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // The upstream has not sent the second event yet: it only does once the client saw the first one.
    expect(first).toContain('data: first');
    releaseSecondChunk!();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    expect(rest).toContain('data: second');
  });

  it('skips the dead host: every request is answered by the live one', async () => {
    const before = hits;
    for (let i = 0; i < 4; i++) {
      const r = await fetch(`${proxyUrl}/v1/chat/completions`, { method: 'POST', body: '{"x":1}', headers: { 'content-type': 'application/json' } });
      expect(r.status).toBe(200);
      expect(await r.json()).toMatchObject({ ok: true, path: '/v1/chat/completions', size: 7 });
    }
    expect(hits - before).toBe(4);
  });

  it('refuses a body above the limit with an OpenAI-style 413 before it reaches a host', async () => {
    const before = hits;
    const r = await fetch(`${proxyUrl}/v1/chat`, { method: 'POST', body: 'x'.repeat(4096) });
    expect(r.status).toBe(413);
    expect(await r.json()).toMatchObject({ error: { type: 'invalid_request_error', code: 'request_too_large' } });
    expect(hits).toBe(before);
  });
});
