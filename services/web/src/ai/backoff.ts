// Retry timing: exponential backoff with "full jitter" (a uniformly random wait between 0 and the
// exponential cap), which spreads a crowd of clients that failed together instead of having them
// return in lock-step. A server's Retry-After wins over our own guess.

export interface BackoffPolicy {
  /** Cap of the first wait, in ms. */
  baseDelayMs: number;
  /** Largest cap, in ms. */
  maxDelayMs: number;
}

/** Wait before attempt `failedAttempts + 1`; `random` in [0, 1). */
export function backoffDelay(failedAttempts: number, policy: BackoffPolicy, random: () => number): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  return Math.floor(random() * exp);
}

/** Retry-After is either delay-seconds or an HTTP-date (RFC 9110 §10.2.3). Returns ms, or undefined. */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** setTimeout that an AbortSignal can cut short (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
