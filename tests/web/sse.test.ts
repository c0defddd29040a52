import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from '../../services/web/src/ai/sse.js';

function parseAll(chunks: Uint8Array[]): SseEvent[] {
  const p = new SseParser();
  const out: SseEvent[] = [];
  for (const c of chunks) out.push(...p.push(c));
  out.push(...p.end());
  return out;
}

function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    parts.push(bytes.slice(prev, p));
    prev = p;
  }
  parts.push(bytes.slice(prev));
  return parts;
}

const enc = new TextEncoder();

describe('SseParser', () => {
  it('parses fields, comments, multi-line data, event types and ids', () => {
    const text = ': keep-alive\nevent: note\nid: 7\ndata: first\ndata:second\n\ndata: {"a":1}\n\nretry: 10\nunknown: x\n\n';
    expect(parseAll([enc.encode(text)])).toEqual([
      { type: 'note', data: 'first\nsecond', lastEventId: '7' },
      { type: 'message', data: '{"a":1}', lastEventId: '7' },
    ]);
  });

  it('treats CRLF, CR and LF alike, also when "\\r" and "\\n" arrive in different chunks', () => {
    const bytes = enc.encode('data: a\r\ndata: a2\r\n\r\ndata: b\r\rdata: c\n\n');
    const expected = ['a\na2', 'b', 'c'];
    // Cut after every "\r": the "\n" that follows must not count as a second (event-ending) line end.
    const crCuts = [...bytes.keys()].filter((i) => bytes[i] === 13).map((i) => i + 1);
    expect(parseAll(splitAt(bytes, crCuts)).map((e) => e.data)).toEqual(expected);
    expect(parseAll(splitAt(bytes, [...bytes.keys()])).map((e) => e.data)).toEqual(expected);
  });

  it('keeps UTF-8 characters whole when a chunk ends inside one', () => {
    const text = 'data: Zürich 🍜 中文 café\n\n';
    const bytes = enc.encode(text);
    const emoji = bytes.indexOf(0xf0);
    expect(emoji).toBeGreaterThan(0);
    for (const cut of [emoji + 1, emoji + 2, emoji + 3]) {
      expect(parseAll(splitAt(bytes, [cut])).map((e) => e.data)).toEqual(['Zürich 🍜 中文 café']);
    }
    expect(parseAll(splitAt(bytes, [...bytes.keys()])).map((e) => e.data)).toEqual(['Zürich 🍜 中文 café']);
  });

  it('drops a leading BOM and an unterminated last event', () => {
    const bytes = new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('data: x\n\ndata: half')]);
    expect(parseAll(splitAt(bytes, [1, 2]))).toEqual([{ type: 'message', data: 'x', lastEventId: '' }]);
  });

  it('gives the same events however the byte stream is split (property)', () => {
    const piece = fc.oneof(fc.string(), fc.constantFrom('é', '🍕', '中', 'ß', '\u00a0'));
    const eventArb = fc.array(fc.array(piece, { maxLength: 4 }).map((a) => a.join('').replace(/[\r\n]/g, ' ')), {
      minLength: 1,
      maxLength: 3,
    });
    fc.assert(
      fc.property(
        fc.array(eventArb, { minLength: 1, maxLength: 5 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 12 }),
        (events, eol, cuts) => {
          const text = events.map((lines) => lines.map((l) => `data: ${l}${eol}`).join('') + eol).join('');
          const bytes = enc.encode(text);
          const whole = parseAll([bytes]);
          expect(whole.map((e) => e.data)).toEqual(events.map((lines) => lines.join('\n')));
          expect(parseAll(splitAt(bytes, cuts))).toEqual(whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});
