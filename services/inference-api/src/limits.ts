// Request-rate limits (token buckets per key) and the cap on in-flight upstream requests (vLLM's own queue is
// unbounded by default, so the API is where load is shed).

interface Bucket {
  tokens: number;
  updated: number;
}

/** Token bucket: `perMinute` requests per minute with bursts up to `perMinute`. 0 disables the limit. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillPerMs: number;
  private lastSweep = 0;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {
    this.refillPerMs = perMinute / 60_000;
  }

  /** Takes one request from `key`'s bucket; returns 0 when allowed, else the seconds until one is available. */
  take(key: string): number {
    if (this.perMinute <= 0) return 0;
    const t = this.now();
    this.sweep(t);
    const b = this.buckets.get(key) ?? { tokens: this.perMinute, updated: t };
    b.tokens = Math.min(this.perMinute, b.tokens + (t - b.updated) * this.refillPerMs);
    b.updated = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.refillPerMs / 1000));
  }

  get size(): number {
    return this.buckets.size;
  }

  // Full buckets carry no information; dropping them bounds memory under many distinct clients.
  private sweep(t: number): void {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    for (const [k, b] of this.buckets) if (b.tokens + (t - b.updated) * this.refillPerMs >= this.perMinute) this.buckets.delete(k);
  }
}

export interface Refusal {
  scope: 'ip' | 'client';
  retryAfterSeconds: number;
}

/**
 * Which buckets a chat request draws from. A request the edge Worker forwarded carries X-Client-Id
 * (`<client_id>:<session>`): every public user arrives from the edge's one address, so a per-IP limit there would
 * let a few users starve everyone (issue 14); it is limited per client id only, and the Worker's own per-session,
 * per-IP and per-client quotas stand in front. A direct tailnet caller without one keeps the per-IP limits.
 */
export function takeRequest(limiters: { client: RateLimiter; ip: RateLimiter }, ip: string, clientId: string | undefined): Refusal | undefined {
  if (clientId) {
    const wait = limiters.client.take(`c:${clientId}`);
    return wait ? { scope: 'client', retryAfterSeconds: wait } : undefined;
  }
  let wait = limiters.ip.take(ip);
  if (wait) return { scope: 'ip', retryAfterSeconds: wait };
  wait = limiters.client.take(`ip:${ip}`);
  return wait ? { scope: 'client', retryAfterSeconds: wait } : undefined;
}

export class QueueFullError extends Error {}
export class QueueTimeoutError extends Error {}
export class QueueAbortedError extends Error {}

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  onAbort: () => void;
  signal: AbortSignal | undefined;
}

/** At most `max` holders; up to `queueMax` more wait up to `queueTimeoutMs` for a slot, the rest are refused. */
export class InflightGate {
  private active = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly max: number,
    private readonly queueMax: number,
    private readonly queueTimeoutMs: number,
    private readonly onChange: (inflight: number, queued: number) => void = () => {},
  ) {}

  get inflight(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.active < this.max) {
      this.active++;
      this.changed();
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.length >= this.queueMax || this.queueTimeoutMs === 0) return Promise.reject(new QueueFullError('queue full'));
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resolve,
        reject,
        signal,
        timer: setTimeout(() => this.drop(w, new QueueTimeoutError('queue wait timed out')), this.queueTimeoutMs),
        onAbort: () => this.drop(w, new QueueAbortedError('client went away while queued')),
      };
      signal?.addEventListener('abort', w.onAbort, { once: true });
      this.waiters.push(w);
      this.changed();
    });
  }

  private drop(w: Waiter, err: Error): void {
    const i = this.waiters.indexOf(w);
    if (i < 0) return;
    this.waiters.splice(i, 1);
    clearTimeout(w.timer);
    w.signal?.removeEventListener('abort', w.onAbort);
    this.changed();
    w.reject(err);
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) {
        // Hand the slot straight to the next waiter: `active` stays the same.
        clearTimeout(next.timer);
        next.signal?.removeEventListener('abort', next.onAbort);
        this.changed();
        next.resolve(this.releaser());
      } else {
        this.active--;
        this.changed();
      }
    };
  }

  private changed(): void {
    this.onChange(this.active, this.waiters.length);
  }
}
