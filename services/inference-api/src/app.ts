// The Express app: request ids, drain guard, auth, body parsing and routes. Express stays at the edge of the app;
// the chat hot path writes straight to the socket and talks to the model over an undici Pool.
import express, { type NextFunction, type Request, type Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { DestinationStream } from 'pino';
import { bearerFrom } from './auth.js';
import type { Config } from './config.js';
import { createContext, type AppContext } from './context.js';
import { ApiError, sendError } from './errors.js';
import { createLogger } from './logger.js';
import { chatHandler } from './routes/chat.js';
import { healthz, metricsRoute, models } from './routes/system.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const KNOWN_ROUTES = new Set(['/v1/chat', '/v1/chat/completions', '/v1/models', '/healthz', '/metrics']);

export interface AppOptions {
  /** Where pino writes (tests capture it); stdout by default. */
  logDestination?: DestinationStream;
}

export interface AppHandle {
  app: express.Express;
  ctx: AppContext;
  close(): Promise<void>;
}

function observe(ctx: AppContext) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const t0 = performance.now();
    // originalUrl: mounted middleware (app.use('/v1')) rewrites req.url/req.path.
    const path = req.originalUrl.split('?')[0] ?? '';
    const incoming = req.headers['x-request-id'];
    const reqId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals.reqId = reqId;
    res.setHeader('x-request-id', reqId);
    ctx.state.active++;
    res.once('close', () => {
      ctx.state.active--;
      const seconds = (performance.now() - t0) / 1000;
      const route = (res.locals.route as string | undefined) ?? (KNOWN_ROUTES.has(path) ? path : 'other');
      const status = (res.locals.status as number | undefined) ?? (res.writableFinished ? res.statusCode : 499);
      const chatType = (res.locals.chatType as string | undefined) ?? 'none';
      ctx.metrics.requests.inc({ route, status: String(status), chat_type: chatType });
      ctx.metrics.duration.observe({ route, chat_type: chatType }, seconds);
      const quiet = route === '/metrics' || route === '/healthz';
      ctx.log[quiet ? 'debug' : 'info'](
        {
          reqId,
          method: req.method,
          route,
          status,
          chatType: res.locals.chatType,
          stream: res.locals.stream,
          ms: Math.round(seconds * 10_000) / 10,
          ttftMs: res.locals.ttft === undefined ? undefined : Math.round((res.locals.ttft as number) * 10_000) / 10,
          tokensIn: res.locals.tokensIn,
          tokensOut: res.locals.tokensOut,
          error: res.locals.error,
          clientId: res.locals.clientId,
          ip: req.socket.remoteAddress,
        },
        'request',
      );
    });
    next();
  };
}

export function createApp(config: Config, opts: AppOptions = {}): AppHandle {
  const log = createLogger(config.LOG_LEVEL, opts.logDestination);
  const ctx = createContext(config, log);
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');

  app.use(observe(ctx));
  app.use((_req, res, next) => {
    if (!ctx.state.draining) return next();
    res.setHeader('connection', 'close');
    sendError(res, new ApiError(503, 'the server is restarting; try again shortly', 'server_overloaded', 'shutting_down', null, 2));
  });

  app.get('/healthz', healthz(ctx));
  app.get('/metrics', metricsRoute(ctx));

  app.use('/v1', (req, res, next) => {
    if (ctx.apiTokens.accepts(bearerFrom(req.headers.authorization))) return next();
    req.resume();
    res.setHeader('WWW-Authenticate', 'Bearer');
    res.locals.error = 'invalid_api_key';
    sendError(res, new ApiError(401, 'invalid or missing bearer token (Authorization: Bearer <token>)', 'invalid_request_error', 'invalid_api_key'));
  });
  const json = express.json({ limit: config.BODY_LIMIT, type: () => true, strict: true });
  app.get('/v1/models', models(ctx));
  app.post('/v1/chat/completions', json, chatHandler(ctx, '/v1/chat/completions'));
  app.post('/v1/chat', json, chatHandler(ctx, '/v1/chat'));

  app.use((req, res) => {
    req.resume();
    sendError(res, new ApiError(404, `no route for ${req.method} ${req.path.slice(0, 200)}`, 'invalid_request_error', 'not_found'));
  });
  // Body-parser failures (and anything unexpected) become OpenAI-style errors, never an HTML page or a crash.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number; message?: string };
    let apiErr: ApiError;
    if (e?.type === 'entity.too.large') {
      apiErr = new ApiError(413, `request body exceeds the ${config.BODY_LIMIT}-byte limit`, 'invalid_request_error', 'request_too_large');
    } else if (e?.type === 'entity.parse.failed') {
      apiErr = new ApiError(400, 'request body is not valid JSON (expected a JSON object)', 'invalid_request_error', 'invalid_json');
    } else if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
      apiErr = new ApiError(400, `bad request body: ${e.message ?? 'unreadable'}`, 'invalid_request_error', 'invalid_body');
    } else {
      ctx.log.error({ reqId: res.locals.reqId, err: e?.message }, 'unexpected error');
      apiErr = new ApiError(500, 'internal error', 'server_error', 'internal_error');
    }
    res.locals.error = apiErr.code;
    if (req.readable) req.resume();
    sendError(res, apiErr);
  });

  return {
    app,
    ctx,
    close: async () => {
      ctx.prompts.close();
      await ctx.upstream.close();
    },
  };
}
