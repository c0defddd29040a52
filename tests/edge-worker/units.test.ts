import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../services/edge-worker/src/breaker.js';
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

describe('TokenMeter (pure)', () => {
  const enc = new TextEncoder();

  it('prefers usage reported in a JSON reply', () => {
    const m = new TokenMeter(false, 99);
    const body = JSON.stringify({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
    m.push(enc.encode(body.slice(0, 10)));
    m.push(enc.encode(body.slice(10)));
    expect(m.total()).toBe(12);
  });

  it('counts streamed content deltas across chunk boundaries, or takes streamed usage when present', () => {
    const m = new TokenMeter(true, 4);
    const events = ['a', 'b', '', 'c'].map((c) => `data: ${JSON.stringify({ choices: [{ delta: { content: c } }] })}\n\n`).join('') + 'data: [DONE]\n\n';
    for (let i = 0; i < events.length; i += 7) m.push(enc.encode(events.slice(i, i + 7)));
    expect(m.total()).toBe(4 + 3);
    const withUsage = new TokenMeter(true, 4);
    withUsage.push(enc.encode(`data: ${JSON.stringify({ choices: [], usage: { total_tokens: 42 } })}\n\n`));
    expect(withUsage.total()).toBe(42);
  });

  it('estimates prompt tokens from characters', () => {
    expect(estimatePromptTokens([{ content: 'x'.repeat(400) }])).toBe(100 + 4);
  });
});
