import type { Env } from './env.js';
import { log } from './log.js';

// Quotas that hold across Cloudflare's edge: one QuotaCounter Durable Object per key ("session:<id>",
// "ip:<addr>"), so every isolate in every colo counts against the same numbers. Each object keeps two
// windows that start at their first use (not aligned to the clock, so a burst cannot straddle a boundary
// to get twice the allowance): requests per rate window and tokens per tokens window.

export interface QuotaLimits {
  requests: number;
  rateWindowSeconds: number;
  tokens: number;
  tokensWindowSeconds: number;
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

interface State {
  requests: Window;
  tokens: Window;
}

const STATE_KEY = 'state';

function current(w: Window, lengthMs: number, now: number): Window {
  return now - w.start >= lengthMs ? { start: now, used: 0 } : w;
}

export class QuotaCounter implements DurableObject {
  private state: State = { requests: { start: 0, used: 0 }, tokens: { start: 0, used: 0 } };
  private expiresAt = 0;

  constructor(private readonly ctx: DurableObjectState, _env: Env) {
    void ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<State & { expiresAt: number }>(STATE_KEY);
      if (saved) {
        this.state = { requests: saved.requests, tokens: saved.tokens };
        this.expiresAt = saved.expiresAt;
      }
    });
  }

  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const body = (await request.json()) as Record<string, number>;
    const now = Date.now();
    if (url.pathname === '/check') return Response.json(await this.check(body as unknown as QuotaLimits, now));
    if (url.pathname === '/consume') {
      await this.consume(Number(body['tokens']) || 0, Number(body['tokensWindowSeconds']) || 86_400, now);
      return new Response(null, { status: 204 });
    }
    return new Response('not found', { status: 404 });
  }

  private async check(limits: QuotaLimits, now: number): Promise<QuotaDecision> {
    const rateMs = limits.rateWindowSeconds * 1000;
    const tokensMs = limits.tokensWindowSeconds * 1000;
    const tokens = current(this.state.tokens, tokensMs, now);
    const requests = current(this.state.requests, rateMs, now);
    let decision: QuotaDecision;
    if (tokens.used >= limits.tokens) {
      decision = { ok: false, scope: 'tokens', retryAfterSeconds: Math.max(1, Math.ceil((tokens.start + tokensMs - now) / 1000)) };
    } else if (requests.used >= limits.requests) {
      decision = { ok: false, scope: 'requests', retryAfterSeconds: Math.max(1, Math.ceil((requests.start + rateMs - now) / 1000)) };
    } else {
      requests.used += 1;
      decision = { ok: true };
    }
    this.state = { requests, tokens };
    await this.save(Math.max(requests.start + rateMs, tokens.start + tokensMs));
    return decision;
  }

  private async consume(count: number, tokensWindowSeconds: number, now: number): Promise<void> {
    if (count <= 0) return;
    const tokensMs = tokensWindowSeconds * 1000;
    const tokens = current(this.state.tokens, tokensMs, now);
    tokens.used += Math.ceil(count);
    this.state = { ...this.state, tokens };
    await this.save(tokens.start + tokensMs);
  }

  private async save(expiresAt: number): Promise<void> {
    const later = expiresAt > this.expiresAt;
    this.expiresAt = Math.max(this.expiresAt, expiresAt);
    // allowUnconfirmed: the answer does not wait for the write to be durable. A counter lost to a crash
    // costs at most one window of leniency; waiting would add a storage round trip to every chat.
    const opts = { allowUnconfirmed: true };
    await this.ctx.storage.put(STATE_KEY, { ...this.state, expiresAt: this.expiresAt }, opts);
    // Forget idle keys once every window has expired, so storage does not grow with every visitor.
    if (later) await this.ctx.storage.setAlarm(this.expiresAt, opts);
  }

  async alarm(): Promise<void> {
    if (this.expiresAt > Date.now()) {
      await this.ctx.storage.setAlarm(this.expiresAt);
      return;
    }
    await this.ctx.storage.deleteAll();
    this.state = { requests: { start: 0, used: 0 }, tokens: { start: 0, used: 0 } };
    this.expiresAt = 0;
  }
}

/** Asks the QuotaCounter for `key` whether one more request is allowed (and counts it if so). */
export async function checkQuota(env: Env, key: string, limits: QuotaLimits): Promise<QuotaDecision> {
  try {
    const stub = env.QUOTA.get(env.QUOTA.idFromName(key));
    const res = await stub.fetch('https://quota/check', { method: 'POST', body: JSON.stringify(limits) });
    if (!res.ok) throw new Error(`quota object answered ${res.status}`);
    return (await res.json()) as QuotaDecision;
  } catch (err) {
    // Fail open: a Durable Object hiccup must not take the chat down; the origin has its own limits.
    log('warn', 'quota check failed; allowing the request', { scope: key.split(':')[0], error: err instanceof Error ? err.name : 'unknown' });
    return { ok: true };
  }
}

export async function consumeTokens(env: Env, key: string, tokens: number, tokensWindowSeconds: number): Promise<void> {
  if (tokens <= 0) return;
  try {
    const stub = env.QUOTA.get(env.QUOTA.idFromName(key));
    await stub.fetch('https://quota/consume', { method: 'POST', body: JSON.stringify({ tokens, tokensWindowSeconds }) });
  } catch (err) {
    log('warn', 'token count not recorded', { scope: key.split(':')[0], error: err instanceof Error ? err.name : 'unknown' });
  }
}
