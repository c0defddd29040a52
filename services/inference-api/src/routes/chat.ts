// POST /v1/chat/completions and POST /v1/chat: limits → validation → in-flight slot → upstream → response.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerFrom } from '../auth.js';
import { readJsonBody } from '../body.js';
import type { AppContext } from '../context.js';
import { ApiError, sendError } from '../errors.js';
import { withLocals, type Req, type Res } from '../http-types.js';
import { observe } from '../observe.js';
import { QueueAbortedError, takeRequest } from '../limits.js';
import { normalizeCompletion, usageOf, type Usage } from '../normalize.js';
import { endWithDone, endWithError, startSse, writeData } from '../sse.js';
import { UpstreamError } from '../upstream.js';
import { parseChatRequest } from '../validate.js';

export type ChatRoute = '/v1/chat' | '/v1/chat/completions';

const CLIENT_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof UpstreamError) {
    switch (err.kind) {
      case 'connect':
        return new ApiError(503, 'the model server is unavailable; try again shortly', 'upstream_error', 'upstream_unavailable', null, 5);
      case 'timeout':
        return new ApiError(504, 'the model server did not answer in time', 'timeout_error', 'upstream_timeout');
      case 'stream':
        return new ApiError(502, 'the model server connection failed mid-response', 'upstream_error', 'upstream_stream_error');
      case 'status': {
        const s = err.status ?? 502;
        if (s === 400 || s === 413 || s === 422) {
          return new ApiError(400, `the model server rejected the request${err.upstreamMessage ? `: ${err.upstreamMessage}` : ''}`, 'invalid_request_error', 'upstream_bad_request');
        }
        if (s === 429 || s === 503) return new ApiError(503, 'the model server is busy; try again shortly', 'server_overloaded', 'upstream_busy', null, 2);
        return new ApiError(502, `the model server failed (status ${s})`, 'upstream_error', 'upstream_error');
      }
    }
  }
  return new ApiError(500, 'internal error', 'server_error', 'internal_error');
}

function streamFailure(ctx: AppContext, message: string, upstreamMessage?: string): UpstreamError {
  ctx.metrics.upstreamErrors.inc({ kind: 'stream' });
  return new UpstreamError('stream', message, undefined, upstreamMessage);
}

interface StreamChunk {
  error?: { message?: unknown };
  choices?: { delta?: { content?: unknown } }[];
  usage?: unknown;
}

export function chatHandler(ctx: AppContext, route: ChatRoute) {
  const { config, metrics } = ctx;
  return async (req: Req, res: Res): Promise<void> => {
    const t0 = performance.now();
    const reqId = res.locals.reqId as string;
    res.locals.route = route;
    const ac = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client closed the connection'));
    });
    let release: (() => void) | undefined;
    let usage: Usage | undefined;
    let outChunks = 0;
    let output = '';
    try {
      const ip = req.socket.remoteAddress ?? 'unknown';
      const rawClient = req.headers['x-client-id'];
      const clientId = typeof rawClient === 'string' && CLIENT_ID.test(rawClient) ? rawClient : undefined;
      res.locals.clientId = clientId;
      const refused = takeRequest({ client: ctx.clientLimiter, ip: ctx.ipLimiter }, ip, clientId);
      if (refused) {
        metrics.rateLimited.inc({ scope: refused.scope });
        const who = refused.scope === 'ip' ? 'from this address' : 'for this client';
        throw new ApiError(429, `too many requests ${who}`, 'rate_limit_error', 'rate_limit_exceeded', null, refused.retryAfterSeconds);
      }

      const body = await readJsonBody(req, config.BODY_LIMIT);
      const chatTypeHeader = req.headers['x-chat-type'];
      const parsed = parseChatRequest(
        body,
        typeof chatTypeHeader === 'string' ? chatTypeHeader : undefined,
        { maxMessages: config.MAX_MESSAGES, maxTokensCap: config.MAX_TOKENS_CAP, model: config.UPSTREAM_MODEL, systemPrompt: (t) => ctx.prompts.get(t) },
        ctx.chatSchema,
      );
      res.locals.chatType = parsed.chatType;
      res.locals.stream = parsed.stream;
      if (config.LOG_CONTENT) ctx.log.debug({ reqId, messages: parsed.upstream.messages }, 'request content (LOG_CONTENT=true)');

      try {
        release = await ctx.gate.acquire(ac.signal);
      } catch (err) {
        if (err instanceof QueueAbortedError) return;
        throw new ApiError(503, 'the model is at capacity; try again shortly', 'server_overloaded', 'server_busy', null, 1);
      }

      if (!parsed.stream) {
        const up = await ctx.upstream.complete(parsed.upstream, ac.signal);
        const out = normalizeCompletion(up, `chatcmpl-${randomUUID()}`, config.UPSTREAM_MODEL);
        usage = out.usage;
        if (config.LOG_CONTENT) output = out.choices[0]?.message.content ?? '';
        const text = JSON.stringify(out);
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-request-id': reqId });
        res.end(text);
        return;
      }

      const handle = await ctx.upstream.stream(parsed.upstream, ac.signal);
      let started = false;
      let done = false;
      try {
        for await (const data of handle.events) {
          // Read on to the end of the body after [DONE] (it follows at once) so the connection goes back to the pool.
          if (done) continue;
          if (data === '[DONE]') {
            done = true;
            continue;
          }
          let chunk: StreamChunk;
          try {
            chunk = JSON.parse(data) as StreamChunk;
          } catch {
            throw streamFailure(ctx, 'upstream sent a malformed event');
          }
          if (chunk.error) throw streamFailure(ctx, 'upstream reported an error mid-stream', typeof chunk.error.message === 'string' ? chunk.error.message : undefined);
          const choices = chunk.choices;
          if (Array.isArray(choices) && choices.length === 0 && chunk.usage) {
            usage = usageOf(chunk.usage);
            // We always ask upstream for usage (token metrics); the client gets the chunk only if it asked too.
            if (!parsed.includeUsage) continue;
          } else {
            const piece = choices?.[0]?.delta?.content;
            if (typeof piece === 'string' && piece.length > 0) {
              if (outChunks++ === 0) {
                handle.gotToken();
                res.locals.ttft = (performance.now() - t0) / 1000;
              }
              if (config.LOG_CONTENT) output += piece;
            }
          }
          if (!started) {
            startSse(res, { 'x-request-id': reqId });
            started = true;
          }
          const drained = writeData(res, data);
          if (drained) {
            await drained;
            handle.touch();
          }
          if (ac.signal.aborted) break;
        }
      } finally {
        handle.close();
      }
      if (ac.signal.aborted) return;
      if (!done) throw streamFailure(ctx, 'upstream stream ended before [DONE]');
      if (!started) startSse(res, { 'x-request-id': reqId });
      endWithDone(res);
    } catch (err) {
      if (ac.signal.aborted) return;
      const apiErr = toApiError(err);
      // Refusals the API chose (server_busy, rate limits) are expected: warn, not "unexpected error".
      if (err instanceof ApiError && apiErr.status >= 500) ctx.log.warn({ reqId, code: apiErr.code }, 'request refused');
      else if (apiErr.status >= 500 && !(err instanceof UpstreamError)) ctx.log.error({ reqId, err: (err as Error)?.message }, 'unexpected error');
      res.locals.error = apiErr.code;
      if (res.headersSent) {
        res.locals.status = 200;
        res.locals.streamError = apiErr.code;
        endWithError(res, apiErr);
      } else sendError(res, apiErr);
    } finally {
      release?.();
      const chatType = (res.locals.chatType as string | undefined) ?? 'none';
      const tokensIn = usage?.prompt_tokens ?? 0;
      const tokensOut = usage?.completion_tokens ?? outChunks;
      res.locals.tokensIn = tokensIn;
      res.locals.tokensOut = tokensOut;
      if (tokensIn) metrics.tokens.inc({ direction: 'in', chat_type: chatType }, tokensIn);
      if (tokensOut) metrics.tokens.inc({ direction: 'out', chat_type: chatType }, tokensOut);
      if (res.locals.ttft !== undefined) metrics.ttft.observe({ chat_type: chatType }, res.locals.ttft as number);
      if (config.LOG_CONTENT && output) ctx.log.debug({ reqId, output }, 'response content (LOG_CONTENT=true)');
    }
  };
}

/** 503 while draining after SIGTERM (with Connection: close so clients reconnect elsewhere/later). */
export function refuseIfDraining(ctx: AppContext, res: Res): boolean {
  if (!ctx.state.draining) return false;
  res.setHeader('connection', 'close');
  res.locals.error = 'shutting_down';
  sendError(res, new ApiError(503, 'the server is restarting; try again shortly', 'server_overloaded', 'shutting_down', null, 2));
  return true;
}

/** 401 unless the request carries one of `tokens` as a bearer token. */
export function refuseUnauthorized(req: Req, res: Res, accepts: (t: string | undefined) => boolean, what = 'bearer token'): boolean {
  if (accepts(bearerFrom(req.headers.authorization))) return false;
  res.setHeader('www-authenticate', 'Bearer');
  res.locals.error = 'invalid_api_key';
  sendError(res, new ApiError(401, `invalid or missing ${what} (Authorization: Bearer <token>)`, 'invalid_request_error', 'invalid_api_key'));
  return true;
}

/**
 * The whole chat request on plain node:http — id, drain guard, auth, body, handler — so the app's dispatcher hands
 * these two routes over without going through Express's router and body parser (they showed up in profiles).
 */
export function chatEntry(ctx: AppContext, route: ChatRoute) {
  const handle = chatHandler(ctx, route);
  return (rawReq: IncomingMessage, rawRes: ServerResponse): void => {
    const req = rawReq as Req;
    const res = withLocals(rawRes);
    observe(ctx, req, res);
    res.locals.route = route;
    if (refuseIfDraining(ctx, res) || refuseUnauthorized(req, res, (t) => ctx.apiTokens.accepts(t))) return;
    void handle(req, res);
  };
}
