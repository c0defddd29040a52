// HTTP server lifecycle: listen, and a graceful drain on shutdown (stop accepting, let running streams finish up
// to a deadline, then close what is left).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp, type AppHandle, type AppOptions } from './app.js';
import type { Config } from './config.js';

export interface ServerHandle extends AppHandle {
  server: http.Server;
  url: string;
  port: number;
  /** Stops accepting, waits for running requests up to `graceMs`, then closes everything. True when all finished. */
  shutdown(graceMs?: number): Promise<boolean>;
}

export async function startServer(config: Config, opts: AppOptions = {}): Promise<ServerHandle> {
  const handle = createApp(config, opts);
  const { ctx } = handle;
  await ctx.prompts.loadAll();
  ctx.prompts.watch();
  for (const t of ctx.tokenSources) t.watch();
  void ctx.upstreamHealthy();

  const server = http.createServer(handle.listener);
  // Longer than the proxies in front keep idle connections, so they never reuse a socket we are closing.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // A deeper accept queue than Node's 511 absorbs reconnect bursts (edge restarts, many streams at once); the
    // kernel caps it at net.core.somaxconn.
    server.listen({ port: config.PORT, host: config.HOST, backlog: 2048 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  ctx.log.info({ url, upstream: config.UPSTREAM_BASE_URL, model: config.UPSTREAM_MODEL, version: config.version }, 'inference API listening');

  let shuttingDown: Promise<boolean> | undefined;
  const shutdown = (graceMs = config.SHUTDOWN_GRACE_MS): Promise<boolean> =>
    (shuttingDown ??= (async () => {
      ctx.state.draining = true;
      ctx.log.info({ active: ctx.state.active, graceMs }, 'draining');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (ctx.state.active > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        server.closeIdleConnections();
      }
      const clean = ctx.state.active === 0;
      if (!clean) ctx.log.warn({ active: ctx.state.active }, 'drain deadline reached; closing remaining connections');
      server.closeAllConnections();
      await closed;
      await handle.close();
      ctx.log.info({ clean }, 'stopped');
      return clean;
    })());

  return { ...handle, server, url, port: addr.port, shutdown };
}
