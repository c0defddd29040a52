// The model stub's prefix-cache SIMULATION (services/model-stub/src/prefixCacheSim.ts): chained block hashes like
// vLLM's automatic prefix caching, an LRU bound, TTFT from uncached tokens on one prefill lane; off by default.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { createPrefixCacheSim, prefixCacheSimFromEnv } from '../../services/model-stub/src/prefixCacheSim.js';
import { startStub, type StubHandle, type StubOptions } from '../../services/model-stub/src/stub.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const stubs: StubHandle[] = [];
afterEach(async () => {
  await Promise.all(stubs.splice(0).map((s) => s.close()));
});
async function stub(opts: StubOptions = {}) {
  const s = await startStub({ tokensPerSec: 0, completionTokens: 8, ...opts });
  stubs.push(s);
  return s;
}

// 16-token blocks of 4-character tokens: 64 characters per block.
const sim = (blocks = 100) => createPrefixCacheSim({ msPerToken: 0.01, blocks, blockTokens: 16 });
const text = (seed: string, blocks: number) => seed.repeat(64 * blocks).slice(0, 64 * blocks);

describe('prefix cache simulation (unit)', () => {
  it('hits on full blocks of an identical prefix only, chained like vLLM (a changed first block misses all)', async () => {
    const c = sim();
    const cold = c.prefill(text('a', 3) + 'tail');
    expect(cold.cachedTokens).toBe(0);
    expect(cold.prefillMs).toBeCloseTo(cold.promptTokens * 0.01);
    await cold.done; // blocks are cached once prefilled
    const warm = c.prefill(text('a', 3) + 'other tail, longer');
    expect(warm.cachedTokens).toBe(48);
    expect(warm.prefillMs).toBeCloseTo((warm.promptTokens - 48) * 0.01);
    // Same blocks 2 and 3, different block 1: nothing hits, because each block's hash covers its whole prefix.
    const shifted = c.prefill('b'.repeat(64) + text('a', 3).slice(64));
    expect(shifted.cachedTokens).toBe(0);
    await Promise.all([warm.done, shifted.done]);
    expect(c.stats()).toMatchObject({ requests: 3, hitTokens: 48 });
  });

  it('evicts the least recently used blocks beyond its bound', async () => {
    const c = sim(4);
    await c.prefill(text('x', 2)).done;
    await c.prefill(text('y', 2)).done;
    await c.prefill(text('x', 1)).done; // touches x's first block: x's second and y's first are now the oldest
    await c.prefill(text('z', 2)).done; // 6 blocks wanted, 4 kept
    expect(c.stats().blocksCached).toBe(4);
    expect(c.stats().evictions).toBe(2);
    expect(c.prefill(text('y', 2)).cachedTokens).toBe(0);
    expect(c.prefill(text('x', 2)).cachedTokens).toBe(16); // first block survived (recently used), second evicted
  });

  it('queues prefills on one lane: a second cold prompt waits for the first', async () => {
    const c = createPrefixCacheSim({ msPerToken: 0.5, blocks: 100, blockTokens: 16 });
    const t0 = performance.now();
    const a = c.prefill(text('p', 2)); // 32 tokens → 16 ms
    const b = c.prefill(text('q', 2)); // another 16 ms, after a
    await b.done;
    // A lower bound only (timers never fire early by more than their 1 ms granularity): b waited for a's prefill.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(a.prefillMs + b.prefillMs - 2);
  });

  it('reads its settings from the environment, off unless STUB_PREFIX_SIM_MS_PER_TOKEN > 0, naming a bad variable', () => {
    expect(prefixCacheSimFromEnv({})).toBeUndefined();
    expect(prefixCacheSimFromEnv({ STUB_PREFIX_SIM_MS_PER_TOKEN: '0' })).toBeUndefined();
    expect(prefixCacheSimFromEnv({ STUB_PREFIX_SIM_MS_PER_TOKEN: '0.2', STUB_PREFIX_SIM_BLOCKS: '64' })).toEqual({ msPerToken: 0.2, blocks: 64, blockTokens: 16 });
    expect(prefixCacheSimFromEnv({ STUB_PREFIX_SIM_MS_PER_TOKEN: '0.2', STUB_PREFIX_SIM_BLOCKS: '1.5' })).toEqual({ error: expect.stringContaining('STUB_PREFIX_SIM_BLOCKS') });
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/tsx/dist/cli.mjs'), 'services/model-stub/src/main.ts'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', PORT: '0', STUB_PREFIX_SIM_MS_PER_TOKEN: 'fast' },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('STUB_PREFIX_SIM_MS_PER_TOKEN');
  });
});

describe('prefix cache simulation in the stub (openai SDK over loopback)', () => {
  const system = { role: 'system' as const, content: 'You are FUD Buddy. '.repeat(40) };

  it('is off by default: no cached_tokens field, no simulation endpoint', async () => {
    const s = await stub();
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', maxRetries: 0 });
    const r = await client.chat.completions.create({ model: 'fudbuddy', messages: [system, { role: 'user', content: 'hi' }] });
    expect(r.usage?.prompt_tokens_details).toBeUndefined();
    expect((await fetch(`${s.url}/__stub/prefix-cache`)).status).toBe(404);
  });

  it('makes the next turn of a conversation hit on the earlier turns, reply included (stream and not)', async () => {
    const s = await stub({ prefixCacheSim: { msPerToken: 0.01, blocks: 1000, blockTokens: 16 } });
    const client = new OpenAI({ baseURL: s.baseURL, apiKey: 'unused', maxRetries: 0 });
    const turn1 = [system, { role: 'user' as const, content: 'Where should we eat tonight?' }];
    const { data: r1, response } = await client.chat.completions.create({ model: 'fudbuddy', messages: turn1 }).withResponse();
    expect(r1.usage?.prompt_tokens_details?.cached_tokens).toBe(0);
    const coldMs = Number(response.headers.get('x-stub-sim-prefill-ms'));
    expect(coldMs).toBeGreaterThan(0);

    const turn2 = [...turn1, { role: 'assistant' as const, content: r1.choices[0]!.message.content! }, { role: 'user' as const, content: 'Something spicier?' }];
    const stream = await client.chat.completions.create({ model: 'fudbuddy', messages: turn2, stream: true, stream_options: { include_usage: true } });
    let cached: number | undefined;
    let prompt = 0;
    for await (const c of stream) {
      if (c.usage) {
        cached = c.usage.prompt_tokens_details?.cached_tokens;
        prompt = c.usage.prompt_tokens;
      }
    }
    // Everything but the last partial block and the new user message was cached by turn 1 (prompt + reply).
    expect(cached).toBeGreaterThan(r1.usage!.prompt_tokens - 16);
    expect(cached).toBeLessThan(prompt);
    const simStats = (await (await fetch(`${s.url}/__stub/prefix-cache`)).json()) as { simulation: boolean; requests: number; hitTokens: number };
    expect(simStats).toMatchObject({ simulation: true, requests: 2, hitTokens: cached });
  });
});
