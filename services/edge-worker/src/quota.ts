import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env.js';

// Quotas that hold across Cloudflare's edge: one QuotaCounter Durable Object per key ("session:<id>",
// "ip:<addr or /64>", "client:<id>", "fallback:…"), so every isolate in every colo counts against the same numbers.
// Each object keeps two fixed windows that start at their first use: requests per rate window and tokens per tokens
// window. A fixed window still lets a client spend up to twice its allowance across a window boundary (the end of
// one window and the start of the next); for daily budgets that is accepted and documented (docs/edge.md).
//
// Tokens are reserved, then settled: admission reserves the request's worst case, atomically with the check (the
// object runs one call at a time, and every call updates its state before its first await), so concurrent requests
// cannot all pass a check before any is charged. The answer's real usage replaces the reservation when it ends. A
// reservation whose answer never reports back (the client vanished and the isolate dropped the work) is charged
// what its last progress report said it may have used, once its lease runs out.

export interface Admission {
  /** Reservation id: one per request, the same on every key it is charged to. */
  id: string;
  /** Requests per rate window; 0 = this key limits tokens only. */
  requests: number;
  rateWindowSeconds: number;
  tokens: number;
  tokensWindowSeconds: number;
  /** Worst case for this request: prompt estimate + the capped completion. */
  reserve: number;
  /** Charged if the answer never settles (raised by progress reports). */
  ifAbandoned: number;
  leaseSeconds: number;
}

export interface QuotaDecision {
  ok: boolean;
  scope?: 'requests' | 'tokens';
  retryAfterSeconds?: number;
}

interface Window {
  start: number;
  used: number;
}

interface Held {
  reserve: number;
  ifAbandoned: number;
  leaseUntil: number;
  leaseMs: number;
}

interface State {
  requests: Window;
  tokens: Window;
  tokensWindowMs: number;
  held: Record<string, Held>;
  expiresAt: number;
}

const STATE_KEY = 'state';
/** While only reservations (not spent tokens) fill the budget, they settle within seconds: retry soon. */
const RESERVED_RETRY_SECONDS = 5;

const empty = (): State => ({ requests: { start: 0, used: 0 }, tokens: { start: 0, used: 0 }, tokensWindowMs: 86_400_000, held: {}, expiresAt: 0 });

function current(w: Window, lengthMs: number, now: number): Window {
  return now - w.start >= lengthMs ? { start: now, used: 0 } : w;
}

const secondsUntil = (t: number, now: number): number => Math.max(1, Math.ceil((t - now) / 1000));

export class QuotaCounter extends DurableObject<Env> {
  private state: State = empty();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<State>(STATE_KEY);
      if (saved && saved.held) this.state = saved;
    });
  }

  /** Checks the request and token budgets and, when both allow it, counts the request and holds its reservation. */
  async admit(a: Admission): Promise<QuotaDecision> {
    const now = Date.now();
    this.expireLeases(now);
    const rateMs = a.rateWindowSeconds * 1000;
    const tokensMs = a.tokensWindowSeconds * 1000;
    const tokens = current(this.state.tokens, tokensMs, now);
    const requests = current(this.state.requests, rateMs, now);
    const reserved = this.reserved();
    let decision: QuotaDecision;
    // Admitted while anything is left: one request's reservation is the most the budget can be overshot by.
    if (tokens.used >= a.tokens) {
      decision = { ok: false, scope: 'tokens', retryAfterSeconds: secondsUntil(tokens.start + tokensMs, now) };
    } else if (tokens.used + reserved >= a.tokens) {
      decision = { ok: false, scope: 'tokens', retryAfterSeconds: Math.min(RESERVED_RETRY_SECONDS, secondsUntil(tokens.start + tokensMs, now)) };
    } else if (a.requests > 0 && requests.used >= a.requests) {
      decision = { ok: false, scope: 'requests', retryAfterSeconds: secondsUntil(requests.start + rateMs, now) };
    } else {
      requests.used += 1;
      const leaseMs = a.leaseSeconds * 1000;
      // A request that spends no tokens (a token request counted against its IP) holds nothing.
      if (a.reserve > 0 || a.ifAbandoned > 0) {
        this.state.held[a.id] = { reserve: Math.ceil(a.reserve), ifAbandoned: Math.ceil(a.ifAbandoned), leaseUntil: now + leaseMs, leaseMs };
      }
      decision = { ok: true };
    }
    this.state.requests = requests;
    this.state.tokens = tokens;
    this.state.tokensWindowMs = tokensMs;
    await this.save(now, Math.max(requests.start + rateMs, tokens.start + tokensMs));
    return decision;
  }

  /** The answer is still flowing and has used up to `ifAbandoned` tokens: renew the lease, raise the floor. */
  async progress(id: string, ifAbandoned: number): Promise<void> {
    const held = this.state.held[id];
    if (!held) return;
    const now = Date.now();
    held.ifAbandoned = Math.max(held.ifAbandoned, Math.ceil(ifAbandoned));
    held.leaseUntil = now + held.leaseMs;
    await this.save(now, 0);
  }

  /** The answer ended (complete, cut or aborted): its reservation becomes the tokens it really used. */
  async settle(id: string, used: number): Promise<void> {
    const held = this.state.held[id];
    // Unknown id: its lease already ran out and it was charged then.
    if (!held) return;
    delete this.state.held[id];
    const now = Date.now();
    this.charge(Math.max(0, Math.ceil(used)), now);
    await this.save(now, 0);
  }

  /** Undoes an admission that another key refused: this key keeps neither the request nor the reservation. */
  async release(id: string): Promise<void> {
    if (!this.state.held[id]) return;
    delete this.state.held[id];
    this.state.requests.used = Math.max(0, this.state.requests.used - 1);
    await this.save(Date.now(), 0);
  }

  /**
   * Failure counter for guess-limited checks (invite codes): keys "invite:<ip>" and "invite:global" use the request
   * window as a count of failures. `record` adds one. Answers how long the key stays locked out (0 = not locked).
   */
  async failures(limit: number, windowSeconds: number, record: boolean): Promise<number> {
    const now = Date.now();
    const windowMs = windowSeconds * 1000;
    const w = current(this.state.requests, windowMs, now);
    if (record) w.used += 1;
    this.state.requests = w;
    if (record) await this.save(now, w.start + windowMs);
    return w.used >= limit ? secondsUntil(w.start + windowMs, now) : 0;
  }

  /** For tests and the runbook: what this key has spent and holds. */
  async usage(): Promise<{ used: number; reserved: number; holds: number }> {
    this.expireLeases(Date.now());
    return { used: this.state.tokens.used, reserved: this.reserved(), holds: Object.keys(this.state.held).length };
  }

  private reserved(): number {
    let sum = 0;
    for (const h of Object.values(this.state.held)) sum += h.reserve;
    return sum;
  }

  private charge(tokens: number, now: number): void {
    const w = current(this.state.tokens, this.state.tokensWindowMs, now);
    w.used += tokens;
    this.state.tokens = w;
  }

  private expireLeases(now: number): void {
    for (const [id, h] of Object.entries(this.state.held)) {
      if (h.leaseUntil > now) continue;
      delete this.state.held[id];
      this.charge(h.ifAbandoned, now);
    }
  }

  private async save(now: number, windowsEnd: number): Promise<void> {
    this.state.expiresAt = Math.max(this.state.expiresAt, windowsEnd);
    // allowUnconfirmed: the answer does not wait for the write to be durable. A counter lost to a crash
    // costs at most one window of leniency; waiting would add a storage round trip to every chat.
    const opts = { allowUnconfirmed: true };
    await this.ctx.storage.put(STATE_KEY, this.state, opts);
    // Wake for the next lease to expire (to charge an abandoned answer), else when every window is over (to forget).
    const leases = Object.values(this.state.held).map((h) => h.leaseUntil);
    const wake = leases.length > 0 ? Math.min(...leases) : this.state.expiresAt;
    if (wake > now) await this.ctx.storage.setAlarm(wake, opts);
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.expireLeases(now);
    if (Object.keys(this.state.held).length > 0 || this.state.expiresAt > now) {
      await this.save(now, 0);
      return;
    }
    await this.ctx.storage.deleteAll();
    this.state = empty();
  }
}
