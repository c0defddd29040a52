// A Server-Sent Events parser that follows the WHATWG event-stream rules and does not care where the
// network cut the bytes: inside a UTF-8 character, between "\r" and "\n", or in the middle of a field.

export interface SseEvent {
  /** `event:` field, "message" when absent. */
  type: string;
  /** `data:` lines joined with "\n". */
  data: string;
  /** Last `id:` seen (sticky across events, as EventSource does). */
  lastEventId: string;
}

const LINE_END = /[\r\n]/g;

export class SseParser {
  // stream:true keeps a partial multibyte sequence until its remaining bytes arrive; the default
  // ignoreBOM:false drops a leading BOM as the spec asks.
  private readonly decoder = new TextDecoder('utf-8');
  private buffer = '';
  /** The previous chunk ended in "\r": a "\n" starting the next chunk belongs to the same line end. */
  private skipLeadingLf = false;
  private dataLines: string[] = [];
  private hasData = false;
  private eventType = '';
  private lastEventId = '';

  /** Feed raw bytes; returns the events completed by them. */
  push(chunk: Uint8Array): SseEvent[] {
    return this.feed(this.decoder.decode(chunk, { stream: true }));
  }

  /** Feed already-decoded text (tests, or a source that hands out strings). */
  pushText(text: string): SseEvent[] {
    return this.feed(text);
  }

  /**
   * End of stream. Per the spec an event without its terminating blank line is discarded: a
   * half-received event is not trustworthy.
   */
  end(): SseEvent[] {
    const events = this.feed(this.decoder.decode());
    this.buffer = '';
    this.dataLines = [];
    this.hasData = false;
    return events;
  }

  private feed(text: string): SseEvent[] {
    const events: SseEvent[] = [];
    if (text.length === 0) return events;
    if (this.skipLeadingLf && text.charCodeAt(0) === 10) text = text.slice(1);
    this.skipLeadingLf = false;
    this.buffer += text;

    let pos = 0;
    LINE_END.lastIndex = 0;
    for (let m = LINE_END.exec(this.buffer); m !== null; m = LINE_END.exec(this.buffer)) {
      const i = m.index;
      let next = i + 1;
      if (this.buffer.charCodeAt(i) === 13) {
        if (i + 1 < this.buffer.length) {
          if (this.buffer.charCodeAt(i + 1) === 10) next = i + 2;
        } else {
          this.skipLeadingLf = true;
        }
      }
      this.line(this.buffer.slice(pos, i), events);
      pos = next;
      LINE_END.lastIndex = next;
    }
    this.buffer = this.buffer.slice(pos);
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === '') {
      if (this.hasData) {
        events.push({ type: this.eventType || 'message', data: this.dataLines.join('\n'), lastEventId: this.lastEventId });
      }
      this.dataLines = [];
      this.hasData = false;
      this.eventType = '';
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' comment, e.g. keep-alive */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case 'data':
        this.dataLines.push(value);
        this.hasData = true;
        break;
      case 'event':
        this.eventType = value;
        break;
      case 'id':
        if (!value.includes('\u0000')) this.lastEventId = value;
        break;
      default:
        // `retry:` and unknown fields do not matter to a fetch-based reader.
        break;
    }
  }
}
