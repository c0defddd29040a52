// Per-request bookkeeping shared by the Express routes and the lean chat path: request id (accepted or minted),
// the drain counter, and on close one metrics update and one access-log line (no content, no tokens).
import { randomUUID } from 'node:crypto';
import type { AppContext } from './context.js';
import type { Req, Res } from './http-types.js';

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const KNOWN_ROUTES = new Set(['/v1/chat', '/v1/chat/completions', '/v1/models', '/healthz', '/metrics']);

export function observe(ctx: AppContext, req: Req, res: Res): void {
  const t0 = performance.now();
  const path = (req.originalUrl ?? req.url ?? '').split('?')[0] ?? '';
  const incoming = req.headers['x-request-id'];
  const reqId = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  const locals = res.locals;
  locals.reqId = reqId;
  res.setHeader('x-request-id', reqId);
  ctx.state.active++;
  res.once('close', () => {
    ctx.state.active--;
    const seconds = (performance.now() - t0) / 1000;
    const route = (locals.route as string | undefined) ?? (KNOWN_ROUTES.has(path) ? path : 'other');
    const status = (locals.status as number | undefined) ?? (res.writableFinished ? res.statusCode : 499);
    const chatType = (locals.chatType as string | undefined) ?? 'none';
    ctx.metrics.requests.inc({ route, status: String(status), chat_type: chatType });
    ctx.metrics.duration.observe({ route, chat_type: chatType }, seconds);
    const quiet = route === '/metrics' || route === '/healthz';
    ctx.log[quiet ? 'debug' : 'info'](
      {
        reqId,
        method: req.method,
        route,
        status,
        chatType: locals.chatType,
        stream: locals.stream,
        ms: Math.round(seconds * 10_000) / 10,
        ttftMs: locals.ttft === undefined ? undefined : Math.round((locals.ttft as number) * 10_000) / 10,
        tokensIn: locals.tokensIn,
        tokensOut: locals.tokensOut,
        error: locals.error,
        clientId: locals.clientId,
        ip: req.socket.remoteAddress,
      },
      'request',
    );
  });
}
