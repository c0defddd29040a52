import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../services/edge-worker/src/breaker.js';
import { ipKey } from '../../services/edge-worker/src/ip.js';
import { TokenMeter, estimatePromptTokens } from '../../services/edge-worker/src/meter.js';

// Pure parts of the Worker, with an explicit clock. The behaviour in workerd is covered by the other files.
describe('CircuitBreaker (pure, explicit clock)', () => {
  const settings = { failures: 3, openSeconds: 10 };

  it('opens after N consecutive failures, lets exactly one trial through after the open period, closes on success', () => {
    const b = new CircuitBreaker(() => settings);
    expect(b.onFailure(0)).toBeNull();
    expect(b.onFailure(1)).toBeNull();
    expect(b.tryAcquire(2)).toBe(true);
    expect(b.onFailure(2)).toBe('opened');
    expect(b.isOpen(3)).toBe(true);
    expect(b.tryAcquire(9_999)).toBe(false);
    expect(b.tryAcquire(10_002)).toBe(true); // the trial
    expect(b.tryAcquire(10_003)).toBe(false); // only one
    expect(b.onSuccess()).toBe('closed');
    expect(b.isOpen(10_004)).toBe(false);
    expect(b.tryAcquire(10_004)).toBe(true);
  });

  it('a success resets the failure count; a failed trial re-opens for a full period', () => {
    const b = new CircuitBreaker(() => settings);
    b.onFailure(0);
    b.onFailure(1);
    b.onSuccess();
    expect(b.onFailure(2)).toBeNull(); // count restarted
    b.onFailure(3);
    expect(b.onFailure(4)).toBe('opened');
    expect(b.tryAcquire(10_004)).toBe(true);
    expect(b.onFailure(10_005)).toBeNull();
    expect(b.tryAcquire(20_004)).toBe(false);
    expect(b.tryAcquire(20_005)).toBe(true);
  });

  it('a trial that never reports back expires after another open period', () => {
    const b = new CircuitBreaker(() => ({ failures: 1, openSeconds: 5 }));
    b.onFailure(0);
    expect(b.tryAcquire(5_000)).toBe(true);
    expect(b.tryAcquire(9_999)).toBe(false);
    expect(b.tryAcquire(10_000)).toBe(true);
  });
});

describe('TokenMeter (pure, eventsource-parser)', () => {
  const enc = new TextEncoder();
  const dec = new TextDecoder();
  const sse = (chunks: unknown[]) => chunks.map((c) => `data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`).join('');
  const delta = (content: string) => ({ choices: [{ index: 0, delta: { content } }] });
  const usage = { choices: [], usage: { prompt_tokens: 30, completion_tokens: 3, total_tokens: 33 } };

  it('prefers usage reported in a JSON reply, split anywhere', () => {
    const m = new TokenMeter({ sse: false, promptEstimate: 99, stripUsage: true });
    const body = JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
    m.push(enc.encode(body.slice(0, 10)));
    m.push(enc.encode(body.slice(10)));
    expect(m.total()).toBe(12);
    expect(m.exact()).toBe(true);
  });

  it('counts streamed deltas across any byte split, then takes the usage chunk; strips it for a client that did not ask', () => {
    const events = sse([delta('a'), delta('bbbbbbbbb'), delta(''), delta('c'), usage, '[DONE]']);
    const m = new TokenMeter({ sse: true, promptEstimate: 4, stripUsage: true });
    let out = '';
    const counts: number[] = [];
    for (let i = 0; i < events.length; i += 7) {
      const bytes = m.push(enc.encode(events.slice(i, i + 7)));
      if (bytes) out += dec.decode(bytes);
      counts.push(m.total());
    }
    // Before the usage chunk: prompt estimate 4 + 1 + ceil(9/4)=3 + 1; then the server's exact figure.
    expect(counts).toContain(4 + 1 + 3 + 1);
    expect(m.total()).toBe(33);
    expect(m.exact()).toBe(true);
    expect(out).not.toContain('"usage"');
    expect(out).toContain('data: [DONE]');
    expect(out.split('\n\n').filter(Boolean)).toHaveLength(5);
  });

  it('passes the usage chunk on to a client that asked for it', () => {
    const m = new TokenMeter({ sse: true, promptEstimate: 4, stripUsage: false });
    const out = dec.decode(m.push(enc.encode(sse([delta('x'), usage, '[DONE]'])))!);
    expect(out).toContain('"total_tokens":33');
  });

  it('an answer cut before its usage chunk is charged the estimate so far (prompt + deltas)', () => {
    const m = new TokenMeter({ sse: true, promptEstimate: 10, stripUsage: true });
    m.push(enc.encode(sse([delta('one'), delta('two')]) + 'data: {"choi'));
    expect(m.total()).toBe(12);
    expect(m.exact()).toBe(false);
  });

  it('estimates prompt tokens from the server system prompt and every message', () => {
    expect(estimatePromptTokens('s'.repeat(400), [{ content: 'x'.repeat(400) }])).toBe(200 + 4 * 2);
  });
});

describe('ipKey (pure): IPv6 keyed on the /64', () => {
  it('keys IPv4 on the address, IPv6 on its /64 however it is written, IPv4-mapped IPv6 as IPv4', () => {
    expect(ipKey('203.0.113.9')).toBe('ip:203.0.113.9');
    expect(ipKey('2001:db8:1:2::1')).toBe('ip:2001:db8:1:2::/64');
    expect(ipKey('2001:0db8:0001:0002:ffff:eeee:dddd:cccc')).toBe('ip:2001:db8:1:2::/64');
    expect(ipKey('2001:DB8:1:2:0:0:0:7')).toBe('ip:2001:db8:1:2::/64');
    expect(ipKey('2001:db8:1:3::1')).not.toBe(ipKey('2001:db8:1:2::1'));
    expect(ipKey('::ffff:198.51.100.7')).toBe('ip:198.51.100.7');
    expect(ipKey('::1')).toBe('ip:0:0:0:0::/64');
    expect(ipKey(null)).toBe('ip:unknown');
    expect(ipKey('not an address')).toBe('ip:not an address');
    expect(ipKey('1:2:3:4:5:6:7:8:9')).toBe('ip:1:2:3:4:5:6:7:8:9');
  });
});
