import { describe, expect, it } from 'vitest';
import { shutdownHandler } from './shutdown-signals.js';

function harness() {
  let t = 0;
  const exits: number[] = [];
  const logs: string[] = [];
  let drains = 0;
  let finish!: (ok: boolean) => void;
  const handler = shutdownHandler({
    drain: () => {
      drains++;
      return new Promise((resolve, reject) => (finish = (ok) => (ok ? resolve(undefined) : reject(new Error('x')))));
    },
    log: { info: (_o, m) => logs.push(`info ${m}`), warn: (_o, m) => logs.push(`warn ${m}`) },
    exit: (c) => exits.push(c),
    now: () => t,
  });
  return { handler, exits, logs, advance: (ms: number) => (t += ms), drains: () => drains, finish: (ok: boolean) => finish(ok) };
}

describe('shutdown signals', () => {
  it('a relayed repeat (same Ctrl-C twice within the window) does not cut the drain', async () => {
    const h = harness();
    h.handler('SIGINT');
    h.advance(5);
    h.handler('SIGINT');
    h.handler('SIGTERM');
    expect(h.drains()).toBe(1);
    expect(h.exits).toEqual([]);
    expect(h.logs.filter((l) => l.includes('repeated signal ignored'))).toHaveLength(2);
    h.finish(true);
    await new Promise((r) => setImmediate(r));
    expect(h.exits).toEqual([0]);
  });

  it('a deliberate second signal after the window forces the exit, logged at warn', () => {
    const h = harness();
    h.handler('SIGINT');
    h.advance(1500);
    h.handler('SIGINT');
    expect(h.exits).toEqual([1]);
    expect(h.logs.at(-1)).toMatch(/^warn second shutdown signal/);
  });

  it('a failed drain exits 1', async () => {
    const h = harness();
    h.handler('SIGTERM');
    h.finish(false);
    await new Promise((r) => setImmediate(r));
    expect(h.exits).toEqual([1]);
  });
});
