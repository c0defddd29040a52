// Reading one answer: the stream (SSE chunks → text, with the partial text kept for errors) or a plain JSON body,
// under a stall watch that aborts when nothing arrives for a while.
import { ServiceDownError } from './errors.js';
import { AttemptError, failureFromNetwork } from './http.js';
import { SseParser } from './sse.js';

/** What reading needs from the caller's send options. */
export interface ReadOptions {
  onDelta?: (chunk: string, soFar: string) => void;
}

/** Aborts an attempt when nothing arrives for `ms`; follows the caller's signal too. */
export class StallWatch {
  private readonly ctl = new AbortController();
  private timer: ReturnType<typeof setTimeout> | undefined;
  stalled = false;
  private readonly onCallerAbort = (): void => this.ctl.abort(this.caller?.reason);

  constructor(
    private readonly ms: number,
    private readonly caller: AbortSignal | undefined,
  ) {
    caller?.addEventListener('abort', this.onCallerAbort, { once: true });
    if (caller?.aborted) this.ctl.abort(caller.reason);
    this.kick();
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  /** Something arrived: restart the clock. */
  kick(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.stalled = true;
      this.ctl.abort(new DOMException('No data from the server', 'TimeoutError'));
    }, this.ms);
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.caller?.removeEventListener('abort', this.onCallerAbort);
  }
}

interface ChunkShape {
  choices?: { delta?: { content?: unknown }; message?: { content?: unknown }; finish_reason?: unknown }[];
  error?: { message?: unknown } | string;
}

export function streamError(message: string, requestId: string, partialContent: string): AttemptError {
  // Nothing shown yet: another attempt is safe. Text already shown: retrying would repeat it.
  return new AttemptError({
    error: new ServiceDownError(message, { requestId, partialContent }),
    retryable: partialContent === '',
  });
}

export async function readStream(res: Response, requestId: string, send: ReadOptions, watch: StallWatch): Promise<string> {
  if (!res.body) throw streamError('The assistant sent an empty answer.', requestId, '');
  const reader = res.body.getReader();
  const parser = new SseParser();
  let content = '';
  let finished = false;
  let drained = false;
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (watch.stalled) throw streamError('The assistant stopped responding.', requestId, content);
        throw new AttemptError(failureFromNetwork(err, requestId, content));
      }
      watch.kick();
      const events = chunk.done ? parser.end() : parser.push(chunk.value);
      for (const ev of events) {
        if (ev.data === '[DONE]') {
          finished = true;
          continue;
        }
        let parsed: ChunkShape;
        try {
          parsed = JSON.parse(ev.data) as ChunkShape;
        } catch {
          throw streamError('The assistant sent a garbled answer.', requestId, content);
        }
        if (parsed.error !== undefined) {
          const msg = typeof parsed.error === 'string' ? parsed.error : typeof parsed.error.message === 'string' ? parsed.error.message : 'The answer failed.';
          throw streamError(msg, requestId, content);
        }
        const choice = parsed.choices?.[0];
        const delta = choice?.delta?.content;
        if (typeof delta === 'string' && delta !== '') {
          content += delta;
          send.onDelta?.(delta, content);
        }
        if (typeof choice?.finish_reason === 'string') finished = true;
      }
      if (chunk.done) {
        drained = true;
        break;
      }
    }
  } finally {
    // Leaving early (error event, garbage, abort): close the connection so the servers stop generating.
    if (drained) reader.releaseLock();
    else reader.cancel().catch(() => undefined);
  }
  if (!finished) throw streamError('The answer was cut off.', requestId, content);
  return content;
}

/** A server that ignored stream:true and answered with one JSON body. */
export async function readJson(res: Response, requestId: string, send: ReadOptions, watch: StallWatch): Promise<string> {
  let body: ChunkShape;
  try {
    body = (await res.json()) as ChunkShape;
  } catch (err) {
    if (watch.stalled) throw streamError('The assistant stopped responding.', requestId, '');
    if (err instanceof SyntaxError) throw streamError('The assistant sent a garbled answer.', requestId, '');
    throw new AttemptError(failureFromNetwork(err, requestId));
  }
  const content = body.choices?.[0]?.message?.content;
  if (typeof content !== 'string') throw streamError('The assistant sent an answer without text.', requestId, '');
  if (content) send.onDelta?.(content, content);
  return content;
}
