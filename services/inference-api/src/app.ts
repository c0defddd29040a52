// The API's one dispatcher (`listener`): the two chat routes go to the lean hot path on plain node:http
// (routes/chat.ts `chatEntry`, which does its own bookkeeping, auth and body reading; Express's router and body
// parser showed up in profiles); everything else (health, metrics, models, 404s, unexpected errors) to Express.
import express, { type NextFunction, type Request, type Response } from 'express';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DestinationStream } from 'pino';
import type { Config } from './config.js';
import { createContext, type AppContext, type UpstreamFactory } from './context.js';
import { ApiError, sendError } from './errors.js';
import { withLocals, type Req } from './http-types.js';
import { createLogger } from './logger.js';
import { observe } from './observe.js';
import { chatEntry, refuseIfDraining, refuseUnauthorized } from './routes/chat.js';
import { healthz, metricsRoute, models } from './routes/system.js';

export interface AppOptions {
  /** Where pino writes (tests capture it); stdout by default. */
  logDestination?: DestinationStream;
  /** The model-server client; the undici one unless a benchmark or test swaps it. */
  upstream?: UpstreamFactory;
}

export interface AppHandle {
  app: express.Express;
  ctx: AppContext;
  /** The request listener for http.createServer: chat routes straight to the lean path, the rest to Express. */
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  /** SIGHUP: re-reads the prompts and the bearer token files; running requests are untouched. */
  reload(): Promise<void>;
  close(): Promise<void>;
}

export function createApp(config: Config, opts: AppOptions = {}): AppHandle {
  const log = createLogger(config.LOG_LEVEL, opts.logDestination);
  const ctx = createContext(config, log, opts.upstream);
  const chatRoutes = new Map([
    ['/v1/chat/completions', chatEntry(ctx, '/v1/chat/completions')],
    ['/v1/chat', chatEntry(ctx, '/v1/chat')],
  ]);

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.use((req, res, next) => {
    observe(ctx, req as Req, withLocals(res));
    if (!refuseIfDraining(ctx, withLocals(res))) next();
  });
  app.get('/healthz', healthz(ctx));
  app.get('/metrics', metricsRoute(ctx));
  app.use('/v1', (req, res, next) => {
    if (!refuseUnauthorized(req, withLocals(res), (t) => ctx.apiTokens.accepts(t))) next();
  });
  app.get('/v1/models', models(ctx));

  app.use((req, res) => {
    req.resume();
    sendError(res, new ApiError(404, `no route for ${req.method} ${req.path.slice(0, 200)}`, 'invalid_request_error', 'not_found'));
  });
  // Anything unexpected becomes an OpenAI-style 500, never an HTML page or a crash.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    ctx.log.error({ reqId: res.locals.reqId, err: (err as Error)?.message }, 'unexpected error');
    res.locals.error = 'internal_error';
    if (req.readable) req.resume();
    sendError(res, new ApiError(500, 'internal error', 'server_error', 'internal_error'));
  });

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    const chat = req.method === 'POST' ? chatRoutes.get((req.url ?? '').split('?', 1)[0]!) : undefined;
    if (chat) return chat(req, res);
    app(req, res);
  };

  return {
    app,
    ctx,
    listener,
    reload: async () => {
      for (const t of ctx.tokenSources) t.reload();
      await ctx.prompts.loadAll();
    },
    close: async () => {
      for (const t of ctx.tokenSources) t.close();
      ctx.prompts.close();
      await ctx.upstream.close();
    },
  };
}
