import { SseDecoder, type SseEvent } from '../../common/sse.js';

// Counts the tokens of an answer while it passes through, without holding it back (SSE decoded by the stack's one
// reader, services/common/sse.ts over eventsource-parser). Exact usage comes from the
// server (JSON `usage`, or the streamed usage chunk the Worker always asks for); until it arrives, or when the
// answer is cut before it, the count is an estimate: the prompt estimate plus, per streamed content delta, the
// larger of one token and a token per four characters.
const MAX_JSON_BYTES = 1 << 20;
const CHARS_PER_TOKEN = 4;
/** Chat templates add a few tokens per message around its text. */
const TOKENS_PER_MESSAGE = 4;

const encoder = new TextEncoder();

interface StreamChunk {
  usage?: { total_tokens?: unknown } | null;
  choices?: Array<{ delta?: { content?: unknown } }>;
}

const textTokens = (chars: number): number => Math.ceil(chars / CHARS_PER_TOKEN);

/** An upper-leaning estimate of a prompt's tokens: the server's system prompt plus every message. */
export function estimatePromptTokens(systemPrompt: string, messages: ReadonlyArray<{ content?: unknown }>): number {
  let chars = systemPrompt.length;
  for (const m of messages) {
    if (typeof m.content === 'string') chars += m.content.length;
    else if (Array.isArray(m.content)) chars += JSON.stringify(m.content).length;
  }
  return textTokens(chars) + TOKENS_PER_MESSAGE * (messages.length + 1);
}

export interface MeterOptions {
  sse: boolean;
  promptEstimate: number;
  /** Drop the usage chunk on its way to the client (it was requested by the Worker, not by the client). */
  stripUsage: boolean;
}

export class TokenMeter {
  private readonly decoder = new TextDecoder();
  private readonly sse: SseDecoder | undefined;
  private jsonText = '';
  private reported: number | undefined;
  private completion = 0;

  constructor(private readonly opts: MeterOptions) {
    if (opts.sse) this.sse = new SseDecoder();
  }

  /** Feeds upstream bytes; returns the bytes to pass on (for SSE: whole events only, the usage chunk maybe dropped). */
  push(chunk: Uint8Array): Uint8Array | undefined {
    if (!this.sse) {
      const text = this.decoder.decode(chunk, { stream: true });
      if (this.jsonText.length + text.length <= MAX_JSON_BYTES) this.jsonText += text;
      return chunk;
    }
    const out = this.sse.push(chunk).map((e) => this.event(e)).join('');
    return out === '' ? undefined : encoder.encode(out);
  }

  /** Counts one event; returns it re-encoded for the client ("" when it is dropped). */
  private event(e: SseEvent): string {
    let forward = true;
    if (e.data !== '[DONE]') {
      try {
        const chunk = JSON.parse(e.data) as StreamChunk;
        const total = chunk.usage?.total_tokens;
        if (typeof total === 'number' && Number.isFinite(total) && total >= 0) {
          this.reported = total;
          if (this.opts.stripUsage && Array.isArray(chunk.choices) && chunk.choices.length === 0) forward = false;
        }
        for (const c of chunk.choices ?? []) {
          const piece = c.delta?.content;
          if (typeof piece === 'string' && piece.length > 0) this.completion += Math.max(1, textTokens(piece.length));
        }
      } catch {
        // not JSON: passed on, not counted
      }
    }
    if (!forward) return '';
    const lines = e.data.split('\n').map((l) => `data: ${l}\n`);
    return `${e.type !== 'message' ? `event: ${e.type}\n` : ''}${lines.join('')}\n`;
  }

  /** Exact usage when the server reported it, else the estimate so far. */
  total(): number {
    if (this.reported !== undefined) return this.reported;
    if (!this.opts.sse) {
      try {
        const body = JSON.parse(this.jsonText) as { usage?: { total_tokens?: unknown } };
        if (typeof body.usage?.total_tokens === 'number') return body.usage.total_tokens;
      } catch {
        // an unparsable reply: fall back to the estimate
      }
    }
    return this.opts.promptEstimate + this.completion;
  }

  /** Did the server say exactly what the answer used? */
  exact(): boolean {
    if (this.reported !== undefined) return true;
    if (this.opts.sse) return false;
    try {
      return typeof (JSON.parse(this.jsonText) as { usage?: { total_tokens?: unknown } }).usage?.total_tokens === 'number';
    } catch {
      return false;
    }
  }
}
