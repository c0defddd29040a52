// The edge proxy config (components/lib/serveConfig.ts) in a real nginx on loopback, in front of loopback HTTP
// servers standing in for the GPU hosts' APIs: streaming passes through unbuffered, a dead host is skipped, an
// oversized body is refused. (tailscale serve/funnel in front of it cannot run here.)
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildNginxConfig } from '../../components/lib/serveConfig.js';
import { freePort } from '../support/net.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));


let dir: string;
let nginx: ChildProcess | undefined;
let upstream: Server;
let proxyUrl: string;
let releaseSecondChunk: (() => void) | undefined;
let hits = 0;

beforeAll(async () => {
  if (!NGINX) throw new Error('nginx is not installed: apt-get install nginx-light (see .ci/run)');
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
  dir = mkdtempSync(path.join(tmpdir(), 'edge-nginx-'));
  writeFileSync(path.join(dir, 'site.conf'), buildNginxConfig({ upstreams: [`127.0.0.1:${deadPort}`, `127.0.0.1:${upPort}`], bodyLimit: '1kb', listenPort }));
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nworker_processes 1;\nevents {}\nhttp {\n` +
      `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;\n` +
      `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n  include ${dir}/site.conf;\n}\n`,
  );
  const check = spawnSync(NGINX, ['-t', '-q', '-p', dir, '-c', `${dir}/nginx.conf`], { encoding: 'utf8' });
  expect(check.status, check.stderr).toBe(0);
  nginx = spawn(NGINX, ['-p', dir, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  proxyUrl = `http://127.0.0.1:${listenPort}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${proxyUrl}/healthz`);
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nginx did not start on ${proxyUrl}`);
}, 30_000);

afterAll(async () => {
  nginx?.kill('SIGQUIT');
  await new Promise<void>((r) => (nginx && nginx.exitCode === null ? nginx.once('exit', () => r()) : r()));
  await new Promise<void>((r) => upstream?.close(() => r()));
  if (dir) rmSync(dir, { recursive: true, force: true });
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

  it('refuses a body above the limit with 413 before it reaches a host', async () => {
    const before = hits;
    const r = await fetch(`${proxyUrl}/v1/chat`, { method: 'POST', body: 'x'.repeat(4096) });
    expect(r.status).toBe(413);
    expect(hits).toBe(before);
  });
});
