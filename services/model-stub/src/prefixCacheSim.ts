// SIMULATION of vLLM's automatic prefix caching, for benchmarks without a GPU (off unless configured).
//
// What it copies from vLLM (v1 KV cache manager): the prompt is cut into blocks of `blockTokens` tokens; each full
// block is identified by a hash chained over its parent's hash, so a block hits only when the whole prefix up to it
// matches; only full blocks are cached; the cache holds at most `blocks` blocks and evicts the least recently used.
// Blocks are added once the prompt is prefilled, and the reply's blocks once it is generated (vLLM keeps the KV of
// generated tokens too, so the next turn, which resends the conversation, hits on them).
// What it does not copy: the real tokenizer (a token here is 4 characters, as estimateTokens counts) and the GPU.
// Time to first token = queueing for the one prefill lane + uncached tokens × msPerToken: prefill is compute-bound,
// so uncached prompts of concurrent requests wait for each other, which is what makes misses expensive under load.
import { createHash } from 'node:crypto';

export interface PrefixCacheSimOptions {
  /** Prefill cost of one uncached prompt token (ms). */
  msPerToken: number;
  /** Cache capacity in blocks (LRU beyond). */
  blocks: number;
  /** Tokens per KV block (vLLM's --block-size, 16 by default). */
  blockTokens: number;
}

export const PREFIX_SIM_DEFAULTS = { blocks: 4096, blockTokens: 16 } as const;
const CHARS_PER_TOKEN = 4;

export interface PrefixCacheSimStats {
  /** Prompt tokens seen / found in cache (vLLM's prefix_cache_queries / prefix_cache_hits count tokens too). */
  queriedTokens: number;
  hitTokens: number;
  requests: number;
  blocksCached: number;
  evictions: number;
}

export interface Prefill {
  promptTokens: number;
  cachedTokens: number;
  /** Simulated prefill of this request alone (ms), without queueing. */
  prefillMs: number;
  /** Resolves when the simulated prefill is done (after the requests ahead of it in the lane). */
  done: Promise<void>;
}

interface Message {
  role?: unknown;
  content?: unknown;
}

/** The text the cache sees for a conversation: a chat-template-like rendering, stable across turns. */
export function renderConversation(messages: Message[], contentOf: (c: unknown) => string): string {
  return messages.map((m) => `<|${String(m.role ?? 'user')}|>\n${contentOf(m.content)}\n`).join('');
}

export function createPrefixCacheSim(opts: PrefixCacheSimOptions) {
  if (!(opts.msPerToken > 0) || !(opts.blocks >= 1) || !(opts.blockTokens >= 1)) throw new Error('prefix cache simulation: msPerToken > 0, blocks >= 1, blockTokens >= 1');
  const lru = new Map<string, true>();
  const stats: PrefixCacheSimStats = { queriedTokens: 0, hitTokens: 0, requests: 0, blocksCached: 0, evictions: 0 };
  const blockChars = opts.blockTokens * CHARS_PER_TOKEN;
  let laneFreeAt = 0;

  function blockHashes(text: string): string[] {
    const out: string[] = [];
    let parent = '';
    for (let i = 0; i + blockChars <= text.length; i += blockChars) {
      parent = createHash('sha256').update(parent).update('\0').update(text.slice(i, i + blockChars)).digest('base64url');
      out.push(parent);
    }
    return out;
  }

  function remember(text: string): void {
    for (const h of blockHashes(text)) {
      lru.delete(h);
      lru.set(h, true);
    }
    while (lru.size > opts.blocks) {
      lru.delete(lru.keys().next().value!);
      stats.evictions++;
    }
    stats.blocksCached = lru.size;
  }

  return {
    /** Looks the prompt up, books its prefill on the lane, and caches its blocks once that is done. */
    prefill(prompt: string): Prefill {
      const promptTokens = Math.max(1, Math.ceil(prompt.length / CHARS_PER_TOKEN));
      let hitBlocks = 0;
      for (const h of blockHashes(prompt)) {
        if (!lru.has(h)) break;
        lru.delete(h);
        lru.set(h, true); // a hit is a use: move it to the young end
        hitBlocks++;
      }
      const cachedTokens = Math.min(promptTokens, hitBlocks * opts.blockTokens);
      const prefillMs = (promptTokens - cachedTokens) * opts.msPerToken;
      stats.requests++;
      stats.queriedTokens += promptTokens;
      stats.hitTokens += cachedTokens;
      const now = performance.now();
      laneFreeAt = Math.max(now, laneFreeAt) + prefillMs;
      const wait = laneFreeAt - now;
      const done = new Promise<void>((r) => setTimeout(r, wait)).then(() => remember(prompt));
      return { promptTokens, cachedTokens, prefillMs, done };
    },
    /** The finished turn (prompt + reply), so the next turn of the conversation hits on the reply too. */
    remember,
    stats: (): PrefixCacheSimStats => ({ ...stats }),
  };
}

export type PrefixCacheSim = ReturnType<typeof createPrefixCacheSim>;

/**
 * From the environment: STUB_PREFIX_SIM_MS_PER_TOKEN (> 0 turns the simulation on; unset/0 = off),
 * STUB_PREFIX_SIM_BLOCKS, STUB_PREFIX_SIM_BLOCK_TOKENS. Returns an error message naming the variable on bad input.
 */
export function prefixCacheSimFromEnv(env: Record<string, string | undefined>): PrefixCacheSimOptions | undefined | { error: string } {
  const num = (name: string, fallback: number, integer: boolean, min: number): number | string => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) return `${name} must be ${integer ? 'an integer' : 'a number'} >= ${min} (got "${raw}")`;
    return n;
  };
  const ms = num('STUB_PREFIX_SIM_MS_PER_TOKEN', 0, false, 0);
  const blocks = num('STUB_PREFIX_SIM_BLOCKS', PREFIX_SIM_DEFAULTS.blocks, true, 1);
  const blockTokens = num('STUB_PREFIX_SIM_BLOCK_TOKENS', PREFIX_SIM_DEFAULTS.blockTokens, true, 1);
  for (const v of [ms, blocks, blockTokens]) if (typeof v === 'string') return { error: v };
  if (ms === 0) return undefined;
  return { msPerToken: ms as number, blocks: blocks as number, blockTokens: blockTokens as number };
}
