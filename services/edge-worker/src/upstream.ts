import { TokenMeter } from './meter.js';

// One call to an upstream (an origin or the OpenAI fallback) that either yields a response whose first
// body bytes have arrived (so no retry can ever happen after the client saw data) or a classified failure.

export type FailureKind = 'connect' | 'timeout' | 'status';

export type UpstreamResult =
  | { ok: true; response: Response; first: Uint8Array | undefined; reader: ReadableStreamDefaultReader<Uint8Array> | undefined; abort: AbortController }
  | { ok: false; kind: FailureKind; status?: number };

/** Statuses that mean "this upstream cannot serve now", as opposed to an answer to pass on. */
export const FAILOVER_STATUSES = new Set([502, 503, 504]);

const TIMEOUT = Symbol('timeout');

export async function callUpstream(url: string, init: RequestInit, timeoutMs: number, failoverStatuses: ReadonlySet<number>): Promise<UpstreamResult> {
  const abort = new AbortController();
  let timer: number | undefined;
  const timeout = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), timeoutMs);
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
    if (failoverStatuses.has(response.status)) {
      await response.body?.cancel().catch(() => undefined);
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

export interface PassThrough {
  body: ReadableStream<Uint8Array>;
  done: Promise<{ outcome: StreamOutcome; tokens: number }>;
}

/**
 * Re-emits the upstream body chunk by chunk (pull-based, no read-ahead). When the client goes away the
 * upstream fetch is aborted so the GPU stops generating. A break after data started cannot be retried;
 * for SSE the client gets an error event so it does not wait for more.
 */
export function passThrough(result: Extract<UpstreamResult, { ok: true }>, sse: boolean, promptEstimate: number): PassThrough {
  const meter = new TokenMeter(sse, promptEstimate);
  let settle!: (v: { outcome: StreamOutcome; tokens: number }) => void;
  const done = new Promise<{ outcome: StreamOutcome; tokens: number }>((resolve) => (settle = resolve));
  let settled = false;
  const finish = (outcome: StreamOutcome) => {
    if (settled) return;
    settled = true;
    settle({ outcome, tokens: meter.total() });
  };
  const { reader, first, abort } = result;
  const body = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (first) {
          meter.push(first);
          controller.enqueue(first);
        }
        if (!reader) {
          controller.close();
          finish('complete');
        }
      },
      async pull(controller) {
        if (!reader) return;
        try {
          const { done: end, value } = await reader.read();
          if (end) {
            controller.close();
            finish('complete');
            return;
          }
          meter.push(value);
          controller.enqueue(value);
        } catch {
          if (sse) {
            const event = { error: { message: 'The model stream was interrupted', type: 'server_error', code: 'stream_interrupted', param: null } };
            controller.enqueue(new TextEncoder().encode(`data: ${JSON.stringify(event)}\n\n`));
          }
          controller.close();
          finish('error');
        }
      },
      async cancel() {
        abort.abort();
        await reader?.cancel().catch(() => undefined);
        finish('aborted');
      },
    },
    { highWaterMark: 0 },
  );
  return { body, done };
}
