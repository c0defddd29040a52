// Counts tokens of a response while it passes through, without holding it back: usage from the body
// when the server reports it (JSON `usage`, or a streamed chunk carrying `usage`), otherwise an estimate
// (one token per streamed content delta, plus about four characters per prompt token).
const MAX_JSON_BYTES = 1 << 20;

export class TokenMeter {
  private readonly decoder = new TextDecoder();
  private pending = '';
  private jsonText = '';
  private reportedTotal: number | undefined;
  private deltas = 0;

  constructor(
    private readonly sse: boolean,
    private readonly promptEstimate: number,
  ) {}

  push(chunk: Uint8Array): void {
    const text = this.decoder.decode(chunk, { stream: true });
    if (!this.sse) {
      if (this.jsonText.length + text.length <= MAX_JSON_BYTES) this.jsonText += text;
      return;
    }
    this.pending += text;
    let nl: number;
    while ((nl = this.pending.indexOf('\n')) >= 0) {
      this.line(this.pending.slice(0, nl).trim());
      this.pending = this.pending.slice(nl + 1);
    }
  }

  private line(line: string): void {
    if (!line.startsWith('data:')) return;
    const data = line.slice(5).trim();
    if (data === '' || data === '[DONE]') return;
    try {
      const chunk = JSON.parse(data) as { usage?: { total_tokens?: number } | null; choices?: Array<{ delta?: { content?: string | null } }> };
      if (typeof chunk.usage?.total_tokens === 'number') this.reportedTotal = chunk.usage.total_tokens;
      if (chunk.choices?.some((c) => typeof c.delta?.content === 'string' && c.delta.content.length > 0)) this.deltas += 1;
    } catch {
      // not JSON: not ours to count
    }
  }

  total(): number {
    if (!this.sse) {
      try {
        const body = JSON.parse(this.jsonText) as { usage?: { total_tokens?: number } };
        if (typeof body.usage?.total_tokens === 'number') return body.usage.total_tokens;
      } catch {
        // fall through to the estimate
      }
      return this.promptEstimate;
    }
    return this.reportedTotal ?? this.promptEstimate + this.deltas;
  }
}

export function estimatePromptTokens(messages: ReadonlyArray<{ content?: unknown }>): number {
  let chars = 0;
  for (const m of messages) {
    if (typeof m.content === 'string') chars += m.content.length;
    else if (Array.isArray(m.content)) chars += JSON.stringify(m.content).length;
  }
  return Math.ceil(chars / 4) + 4 * messages.length;
}
