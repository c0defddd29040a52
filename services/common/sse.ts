// Server-sent events from bytes, for every reader in the stack (the API reading vLLM, the Worker's usage meter, the
// web client): eventsource-parser does the WHATWG line and field rules (CR/LF/CRLF, also split across chunks;
// comments; multi-line data); this adds the byte side (a UTF-8 character cut by the network waits for its rest;
// a leading BOM is dropped) and EventSource's sticky last event id. Runs in Node, workerd and browsers.
import { createParser, type EventSourceParser } from 'eventsource-parser';

export interface SseEvent {
  /** `event:` field, "message" when absent. */
  type: string;
  /** `data:` lines joined with "\n". */
  data: string;
  /** Last `id:` seen (sticky across events, as EventSource does). */
  lastEventId: string;
}

export class SseDecoder {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly parser: EventSourceParser;
  private out: SseEvent[] = [];
  private lastEventId = '';
  private endsInCr = false;

  constructor() {
    this.parser = createParser({
      onEvent: (e) => {
        if (e.id !== undefined) this.lastEventId = e.id;
        this.out.push({ type: e.event || 'message', data: e.data, lastEventId: this.lastEventId });
      },
    });
  }

  /** Feed raw bytes (or already-decoded text); returns the events completed by them. */
  push(chunk: Uint8Array | string): SseEvent[] {
    this.feed(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
    return this.take();
  }

  /** End of stream: an event without its terminating blank line is discarded, as the spec asks. */
  end(): SseEvent[] {
    this.feed(this.decoder.decode());
    // The parser holds a final "\r" in case a "\n" follows; at the end of the stream it is a line end on its own,
    // and "\r\n" is the same single line end, so completing it changes nothing but the wait.
    if (this.endsInCr) this.feed('\n');
    const events = this.take();
    this.parser.reset();
    return events;
  }

  private feed(text: string): void {
    if (text === '') return;
    this.endsInCr = text.charCodeAt(text.length - 1) === 13;
    this.parser.feed(text);
  }

  private take(): SseEvent[] {
    const events = this.out;
    this.out = [];
    return events;
  }
}
