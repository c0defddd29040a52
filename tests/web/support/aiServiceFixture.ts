// Shared by the aiService suites: a real HTTP server on loopback standing in for the edge Worker's contract (started
// fresh for each test), the service under test wired to it, and a probe for its retries.
import { afterEach, beforeEach, vi } from 'vitest';
import { createAiService, type AiServiceOptions, type RetryInfo } from '../../../services/web/src/aiService.js';
import { startStandIn, type StandIn } from './workerStandIn.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The current test's stand-in (a new one per test). */
export const standIn = (): StandIn => current!;
let current: StandIn | undefined;

export function useStandIn(): void {
  beforeEach(async () => {
    current = await startStandIn();
  });
  afterEach(async () => {
    vi.useRealTimers();
    await current?.close();
    current = undefined;
  });
}

/** For a test that closed its stand-in on purpose: a fresh one, closed after the test like the first. */
export async function restartStandIn(): Promise<StandIn> {
  current = await startStandIn();
  return current;
}

export function service(extra: Partial<AiServiceOptions> = {}) {
  return createAiService({ baseUrl: `${standIn().url}/`, clientId: 'fudbuddy-test', random: () => 0.5, baseDelayMs: 10, maxDelayMs: 40, ...extra });
}

/** Collects onRetry calls and lets a test await the n-th one. */
export function retryProbe() {
  const seen: RetryInfo[] = [];
  const waiters: { n: number; resolve: (r: RetryInfo) => void }[] = [];
  return {
    seen,
    onRetry: (info: RetryInfo) => {
      seen.push(info);
      for (const x of waiters.filter((q) => q.n === seen.length)) x.resolve(info);
    },
    nth: (n: number) => new Promise<RetryInfo>((resolve) => (seen[n - 1] ? resolve(seen[n - 1]!) : waiters.push({ n, resolve }))),
  };
}
