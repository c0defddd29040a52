#!/usr/bin/env node
// vLLM listens on 127.0.0.1:8000 only and must never be reachable from the tailnet (its /v1 API is the model).
// Prometheus on the monitoring node still needs vLLM's /metrics: this tiny proxy serves exactly GET /metrics on the
// host's tailnet address (port 9402) and forwards it to vLLM's loopback /metrics. Everything else is 404.
// Env: LISTEN_HOST (required, the tailnet address; never 0.0.0.0), LISTEN_PORT (9402),
//      UPSTREAM_URL (http://127.0.0.1:8000/metrics), UPSTREAM_TIMEOUT_MS (5000).
// Plain Node (>= 20), no dependencies: it is copied to the host as a single file.
/* global AbortSignal */
import http from 'node:http';

const host = process.env.LISTEN_HOST ?? '';
const port = Number(process.env.LISTEN_PORT ?? '9402');
const upstream = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:8000/metrics';
const timeoutMs = Number(process.env.UPSTREAM_TIMEOUT_MS ?? '5000');

function fatal(msg) {
  console.error(`vllm-metrics-proxy: ${msg}`);
  process.exit(2);
}
if (!host || host === '0.0.0.0' || host === '::') fatal('LISTEN_HOST must be the tailnet address (never 0.0.0.0 or ::)');
if (!Number.isInteger(port) || port < 0 || port > 65535) fatal(`LISTEN_PORT '${process.env.LISTEN_PORT}' is not a port`);
let upstreamUrl;
try {
  upstreamUrl = new URL(upstream);
} catch {
  fatal(`UPSTREAM_URL '${upstream}' is not a URL`);
}
if (!['127.0.0.1', 'localhost', '[::1]'].includes(upstreamUrl.hostname)) fatal('UPSTREAM_URL must point at loopback');
if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) fatal('UPSTREAM_TIMEOUT_MS must be a positive integer');

const server = http.createServer(async (req, res) => {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  try {
    const r = await fetch(upstreamUrl, { signal: AbortSignal.timeout(timeoutMs) });
    if (!r.ok) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end(`vLLM /metrics answered ${r.status}\n`);
      return;
    }
    const body = await r.text();
    res.writeHead(200, { 'content-type': r.headers.get('content-type') ?? 'text/plain; version=0.0.4' });
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (err) {
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`vLLM /metrics unreachable: ${err?.name ?? 'error'}\n`);
  }
});
server.on('error', (err) => fatal(`cannot listen on ${host}:${port}: ${err.message}`));
server.listen(port, host, () => {
  const a = server.address();
  console.log(`vllm-metrics-proxy listening on ${a.address}:${a.port} -> ${upstreamUrl.href}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
