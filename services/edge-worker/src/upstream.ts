import type { TokenMeter } from './meter.js';

// One call to an upstream (an origin or the OpenAI fallback) that either yields a response whose first body bytes
// have arrived (so no retry can ever happen after the client saw data) or a classified failure.

export type FailureKind = 'connect' | 'timeout' | 'status';

export type UpstreamResult =
  | { ok: true; response: Response; first: Uint8Array | undefined; reader: ReadableStreamDefaultReader<Uint8Array> | undefined; abort: AbortController }
  | { ok: false; kind: FailureKind; status?: number }
  /** The API's own "busy" answer: the origin is alive and shedding load. Passed on, never a reason to fall back. */
  | { ok: false; kind: 'busy'; status: number; body: string; retryAfter: string | null };

/** Statuses that mean "this upstream cannot serve now", as opposed to an answer to pass on. */
export const FAILOVER_STATUSES = new Set([502, 503, 504]);

/**
 * Error code of the inference API's own overload answer (services/inference-api/src/routes/chat.ts): its in-flight
 * gate and queue are full. The origin is alive and shedding load; the answer goes to the client with its
 * Retry-After. Any other 5xx — `upstream_unavailable` or `upstream_busy` (vLLM unreachable or failing),
 * `shutting_down` (the host restarts), 502, 504 — is a dead origin.
 */
export const ORIGIN_BUSY_CODES: ReadonlySet<string> = new Set(['server_busy']);

const MAX_ERROR_BODY_BYTES = 16 * 1024;
const TIMEOUT = Symbol('timeout');

async function readSmall(response: Response, timeout: Promise<typeof TIMEOUT>): Promise<string | undefined> {
  const text = response.text().then((t) => (t.length <= MAX_ERROR_BODY_BYTES ? t : undefined));
  const got = await Promise.race([text, timeout]).catch(() => undefined);
  return got === TIMEOUT ? undefined : got;
}

function busyCode(body: string | undefined): boolean {
  if (!body) return false;
  try {
    const code = (JSON.parse(body) as { error?: { code?: unknown } }).error?.code;
    return typeof code === 'string' && ORIGIN_BUSY_CODES.has(code);
  } catch {
    return false;
  }
}

export interface CallOptions {
  /** Time to response headers and the first body byte (for a non-streamed call: to the whole answer). */
  timeoutMs: number;
  /** Read a 503 and tell the API's busy answers apart (origins only; the fallback's 503 is just a failure). */
  recognizeBusy: boolean;
}

export async function callUpstream(url: string, init: RequestInit, opts: CallOptions): Promise<UpstreamResult> {
  const abort = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), opts.timeoutMs);
  });
  try {
    let response: Response | typeof TIMEOUT;
    try {
      response = await Promise.race([fetch(url, { ...init, signal: abort.signal }), timeout]);
    } catch {
      return { ok: false, kind: 'connect' };
    }
    if (response === TIMEOUT) {
      abort.abort();
      return { ok: false, kind: 'timeout' };
    }
    if (FAILOVER_STATUSES.has(response.status)) {
      if (opts.recognizeBusy && response.status === 503) {
        const body = await readSmall(response, timeout);
        if (busyCode(body)) return { ok: false, kind: 'busy', status: 503, body: body!, retryAfter: response.headers.get('retry-after') };
      } else {
        await response.body?.cancel().catch(() => undefined);
      }
      return { ok: false, kind: 'status', status: response.status };
    }
    // Time to first byte, not just to headers: a server that flushes SSE headers and then stalls is
    // as dead as one that never answers, and at this point nothing has reached the client yet.
    const reader = response.body?.getReader();
    if (!reader) return { ok: true, response, first: undefined, reader: undefined, abort };
    let first: ReadableStreamReadResult<Uint8Array> | typeof TIMEOUT;
    try {
      first = await Promise.race([reader.read(), timeout]);
    } catch {
      abort.abort();
      return { ok: false, kind: 'connect' };
    }
    if (first === TIMEOUT) {
      abort.abort();
      await reader.cancel().catch(() => undefined);
      return { ok: false, kind: 'timeout' };
    }
    if (first.done) return { ok: true, response, first: undefined, reader: undefined, abort };
    return { ok: true, response, first: first.value, reader, abort };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export type StreamOutcome = 'complete' | 'aborted' | 'error';

export interface PassThroughHooks {
  meter: TokenMeter;
  /** After every chunk: the meter's running count (progress reports). */
  onProgress(tokens: number): void;
  /** Exactly once, however the body ends. */
  onEnd(outcome: StreamOutcome): void;
}

const INTERRUPTED = `data: ${JSON.stringify({ error: { message: 'The model stream was interrupted', type: 'server_error', code: 'stream_interrupted', param: null } })}\n\n`;

/**
 * Re-emits the upstream body chunk by chunk (pull-based, no read-ahead), metered as it flows. When the client goes
 * away the upstream fetch is aborted so the GPU stops generating. A break after data started cannot be retried;
 * for SSE the client gets an error event so it does not wait for more.
 */
export function passThrough(result: Extract<UpstreamResult, { ok: true }>, sse: boolean, hooks: PassThroughHooks): ReadableStream<Uint8Array> {
  let ended = false;
  const end = (outcome: StreamOutcome) => {
    if (ended) return;
    ended = true;
    hooks.onEnd(outcome);
  };
  const { reader, first, abort } = result;
  const take = (chunk: Uint8Array): Uint8Array | undefined => {
    const out = hooks.meter.push(chunk);
    hooks.onProgress(hooks.meter.total());
    return out;
  };
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        const out = first ? take(first) : undefined;
        if (out) controller.enqueue(out);
        if (!reader) {
          controller.close();
          end('complete');
        }
      },
      async pull(controller) {
        if (!reader) return;
        try {
          // Loop until there is something to pass on: an SSE event may span several upstream chunks.
          for (;;) {
            const { done, value } = await reader.read();
            if (done) {
              controller.close();
              end('complete');
              return;
            }
            const out = take(value);
            if (out) {
              controller.enqueue(out);
              return;
            }
          }
        } catch {
          if (sse) controller.enqueue(new TextEncoder().encode(INTERRUPTED));
          controller.close();
          end('error');
        }
      },
      async cancel() {
        abort.abort();
        await reader?.cancel().catch(() => undefined);
        end('aborted');
      },
    },
    { highWaterMark: 0 },
  );
}
