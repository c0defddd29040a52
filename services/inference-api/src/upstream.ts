// The path to vLLM. Two interchangeable clients behind one interface:
//   undici (default): a keep-alive Pool, raw JSON bodies, raw SSE events passed through untouched;
//   openai:           the official SDK (parses every chunk into objects and serialises it again).
// bench/api-bench.ts measures both; docs/inference-api.md has the figures and why undici is the default.
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Metrics, UpstreamErrorKind } from './metrics.js';
import { SseDecoder } from '../../common/sse.js';

export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    readonly status?: number,
    readonly upstreamMessage?: string,
  ) {
    super(message);
  }
}

export interface UpstreamOptions {
  baseUrl: string;
  apiKey: string | undefined;
  connections: number;
  connectTimeoutMs: number;
  firstTokenTimeoutMs: number;
  idleTimeoutMs: number;
  totalTimeoutMs: number;
  metrics: Metrics;
}

export interface StreamHandle {
  /** SSE `data:` payloads as upstream sent them (JSON chunks, then `[DONE]`). */
  events: AsyncGenerator<string>;
  /** Call once the first token arrived: switches the gap timer from first-token to idle timeout. */
  gotToken(): void;
  /** Re-arms the idle timer: time spent waiting for a slow client to drain is not upstream idleness. */
  touch(): void;
  /** Stops timers and releases the connection (aborts the upstream request if still running). */
  close(): void;
}

export interface UpstreamClient {
  /** Non-streaming completion: the parsed JSON body of a 200, else an UpstreamError. */
  complete(body: object, clientSignal: AbortSignal): Promise<unknown>;
  /** Streaming completion: resolves once upstream answered 200. */
  stream(body: object, clientSignal: AbortSignal): Promise<StreamHandle>;
  /** True when the model server answers GET {base}/models with 200 within `timeoutMs`. */
  probe(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export type TimeoutKind = 'first-token' | 'idle' | 'total';

/**
 * One AbortController per upstream call, aborted by the client leaving or by a timer: the total timeout for a
 * non-streamed call; for a stream the first-token timeout until a token arrives, then the idle timeout, re-armed
 * on every chunk (`touch`).
 */
export class CallGuard {
  private readonly ac = new AbortController();
  private timer: NodeJS.Timeout;
  private phase: TimeoutKind;
  timedOut: TimeoutKind | undefined;
  private complete = false;
  private readonly onClient = () => this.ac.abort(this.clientSignal.reason);

  constructor(
    private readonly clientSignal: AbortSignal,
    firstPhase: TimeoutKind,
    ms: number,
  ) {
    this.phase = firstPhase;
    clientSignal.addEventListener('abort', this.onClient, { once: true });
    this.timer = setTimeout(this.fire, ms);
  }

  private readonly fire = () => {
    this.timedOut = this.phase;
    this.ac.abort(new Error(`upstream ${this.phase} timeout`));
  };

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  get clientGone(): boolean {
    return this.clientSignal.aborted;
  }

  gotToken(idleMs: number): void {
    if (this.phase !== 'first-token') return;
    this.phase = 'idle';
    clearTimeout(this.timer);
    this.timer = setTimeout(this.fire, idleMs);
  }

  touch(): void {
    if (this.phase === 'idle') this.timer.refresh();
  }

  /** The upstream reply was read to the end: nothing left to abort. */
  finished(): void {
    this.complete = true;
  }

  /** Stops the timers; aborts the upstream request unless it finished (the GPU must not keep generating). */
  close(): void {
    clearTimeout(this.timer);
    this.clientSignal.removeEventListener('abort', this.onClient);
    if (!this.complete && !this.ac.signal.aborted) this.ac.abort(CLOSED);
  }
}

// A shared reason: building an Error (and its stack) per request showed up in profiles.
const CLOSED = new Error('upstream call closed');
const MAX_ERROR_BODY = 16 * 1024;

export function messageFromErrorBody(text: string): string | undefined {
  try {
    const j = JSON.parse(text.slice(0, MAX_ERROR_BODY)) as { error?: { message?: unknown } | string; message?: unknown };
    const m = typeof j.error === 'object' ? j.error?.message : (j.message ?? j.error);
    return typeof m === 'string' ? m.slice(0, 500) : undefined;
  } catch {
    return undefined;
  }
}

function classify(err: unknown, timedOut: TimeoutKind | undefined): UpstreamError {
  if (err instanceof UpstreamError) return err;
  if (timedOut) return new UpstreamError('timeout', `upstream ${timedOut} timeout`);
  const e = err as { code?: string; cause?: { code?: string } };
  const code = e?.code ?? e?.cause?.code ?? '';
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return new UpstreamError('timeout', 'upstream timeout');
  if (err instanceof undiciErrors.ConnectTimeoutError || code === 'UND_ERR_CONNECT_TIMEOUT') return new UpstreamError('connect', 'upstream connect timeout');
  if (['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN'].includes(code)) return new UpstreamError('connect', `upstream unreachable (${code})`);
  return new UpstreamError('stream', `upstream connection failed${code ? ` (${code})` : ''}`);
}

/** Splits an SSE byte stream into `data:` payloads (one per event, multi-line data joined by \n). */
export async function* sseData(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new SseDecoder();
  for await (const chunk of body) for (const e of decoder.push(chunk)) yield e.data;
  for (const e of decoder.end()) yield e.data;
}

/**
 * A StreamHandle over upstream's `data:` payloads: every payload re-arms the guard, the end of the source marks the
 * call finished, a failure is mapped by `fail`, and the guard is always released. Shared by every UpstreamClient.
 */
export function guardedStream(guard: CallGuard, source: AsyncIterable<string>, fail: (err: unknown) => unknown, idleTimeoutMs: number): StreamHandle {
  async function* events(): AsyncGenerator<string> {
    try {
      for await (const data of source) {
        guard.touch();
        yield data;
      }
      guard.finished();
    } catch (err) {
      throw fail(err);
    } finally {
      guard.close();
    }
  }
  return { events: events(), gotToken: () => guard.gotToken(idleTimeoutMs), touch: () => guard.touch(), close: () => guard.close() };
}

export class UndiciUpstream implements UpstreamClient {
  private readonly pool: Pool;
  private readonly path: string;
  private readonly headers: Record<string, string>;

  constructor(private readonly o: UpstreamOptions) {
    const url = new URL(o.baseUrl);
    this.pool = new Pool(url.origin, {
      connections: o.connections,
      pipelining: 1,
      connect: { timeout: o.connectTimeoutMs },
      keepAliveTimeout: 30_000,
      // Our own timers (CallGuard) decide; undici's would fire with different semantics.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    this.path = url.pathname.replace(/\/+$/, '');
    this.headers = { 'content-type': 'application/json', accept: 'application/json' };
    if (o.apiKey) this.headers.authorization = `Bearer ${o.apiKey}`;
  }

  private fail(err: unknown, guard: CallGuard): unknown {
    if (guard.clientGone) return err;
    const e = classify(err, guard.timedOut);
    this.o.metrics.upstreamErrors.inc({ kind: e.kind });
    return e;
  }

  private async post(body: object, guard: CallGuard): Promise<Dispatcher.ResponseData> {
    const res = await this.pool.request({ method: 'POST', path: `${this.path}/chat/completions`, headers: this.headers, body: JSON.stringify(body), signal: guard.signal });
    if (res.statusCode !== 200) {
      const msg = messageFromErrorBody(await res.body.text().catch(() => ''));
      throw new UpstreamError('status', `upstream answered ${res.statusCode}`, res.statusCode, msg);
    }
    return res;
  }

  async complete(body: object, clientSignal: AbortSignal): Promise<unknown> {
    const guard = new CallGuard(clientSignal, 'total', this.o.totalTimeoutMs);
    try {
      const res = await this.post(body, guard);
      const text = await res.body.text();
      guard.finished();
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new UpstreamError('stream', 'upstream sent an incomplete or invalid JSON body');
      }
    } catch (err) {
      throw this.fail(err, guard);
    } finally {
      guard.close();
    }
  }

  async stream(body: object, clientSignal: AbortSignal): Promise<StreamHandle> {
    const guard = new CallGuard(clientSignal, 'first-token', this.o.firstTokenTimeoutMs);
    let res: Dispatcher.ResponseData;
    try {
      res = await this.post(body, guard);
    } catch (err) {
      guard.close();
      throw this.fail(err, guard);
    }
    return guardedStream(guard, sseData(res.body), (err) => this.fail(err, guard), this.o.idleTimeoutMs);
  }

  async probe(timeoutMs: number): Promise<boolean> {
    try {
      const res = await this.pool.request({ method: 'GET', path: `${this.path}/models`, headers: this.headers, signal: AbortSignal.timeout(timeoutMs) });
      await res.body.dump();
      return res.statusCode === 200;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
