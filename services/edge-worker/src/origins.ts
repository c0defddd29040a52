import { CircuitBreaker, type BreakerTransition } from './breaker.js';
import type { Config } from './config.js';

// The pool of origins from ORIGIN_URL, with a breaker each. Module scope = per isolate; the pool is
// rebuilt when the list of origins changes (a new deployment).
export interface PooledOrigin {
  index: number;
  url: URL;
  breaker: CircuitBreaker;
}

let pool: { key: string; origins: PooledOrigin[]; next: number } | undefined;

export function originPool(config: Config): PooledOrigin[] {
  const key = config.origins.map((u) => u.href).join(',');
  if (!pool || pool.key !== key) {
    const settings = () => ({ failures: config.n.BREAKER_FAILURES, openSeconds: config.n.BREAKER_OPEN_SECONDS });
    pool = {
      key,
      origins: config.origins.map((url, index) => ({ index, url, breaker: new CircuitBreaker(settings) })),
      // Start each isolate at a random origin so isolates do not all pile onto the first one.
      next: Math.floor(Math.random() * config.origins.length),
    };
  }
  return pool.origins;
}

/**
 * The order in which to try origins for one request: round robin over the pool, origins whose breaker
 * refuses right now left out. Breakers are acquired lazily by the caller, one attempt at a time.
 */
export function attemptOrder(config: Config): PooledOrigin[] {
  const origins = originPool(config);
  const start = pool ? pool.next : 0;
  if (pool) pool.next = (pool.next + 1) % origins.length;
  return origins.map((_, i) => origins[(start + i) % origins.length] as PooledOrigin);
}

export function originEndpoint(origin: URL, path: string): URL {
  return new URL(path.replace(/^\/+/, ''), origin);
}

export type { BreakerTransition };
