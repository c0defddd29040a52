// The model stub's options, statistics and handle (services/model-stub/src/stub.ts).
import type { StubMode } from './stub.js';
import type { PrefixCacheSimOptions } from './prefixCacheSim.js';

export interface StubOptions {
  host?: string;
  port?: number;
  model?: string;
  /** Tokens per second while generating; 0 = emit every token at once. */
  tokensPerSec?: number;
  /** Tokens per reply unless max_tokens asks for fewer. */
  completionTokens?: number;
  mode?: StubMode;
  apiKey?: string;
  /** `slow` mode: delay before the first token (and before a non-streamed reply). */
  slowMs?: number;
  /** `cut` mode: tokens sent before the connection is destroyed. */
  cutAfterTokens?: number;
  /** SIMULATION of vLLM's prefix cache (prefixCacheSim.ts): TTFT grows with uncached prompt tokens. Off when unset. */
  prefixCacheSim?: PrefixCacheSimOptions;
}

export interface StubStats {
  /** POST /v1/chat/completions received. */
  requests: number;
  /** Generating right now. */
  active: number;
  /** Replies finished normally. */
  completed: number;
  /** Connections the client closed before the reply finished (abort propagation). */
  clientAborts: number;
  /** Time (ms since epoch) of the last client abort. */
  lastClientAbortAt: number | null;
  /** Last request bodies (newest last, at most 50). */
  bodies: unknown[];
  /** Authorization header of the last request ("" when absent); in-process only, never served by /__stub/stats. */
  lastAuthorization: string;
}

export interface StubHandle {
  url: string;
  baseURL: string;
  port: number;
  close(): Promise<void>;
  setMode(mode: StubMode): void;
  stats(): StubStats;
  resetStats(): void;
}
