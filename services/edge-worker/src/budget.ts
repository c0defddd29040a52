import type { Config } from './config.js';
import { PROGRESS_STEP_TOKENS } from './defaults.js';
import type { Env } from './env.js';
import { HttpError } from './errors.js';
import { log } from './log.js';
import type { QuotaCounter, QuotaDecision } from './quota.js';

// The Worker's side of reserve-then-settle: one Charge per answer, reserved on every budget key it counts against
// (session, IP, client id; for the OpenAI fallback also its own spend caps). It reports progress while the answer
// flows and settles to the real usage when it ends. No step here depends on a callback that may never run: if the
// settle is lost, each key charges the last reported progress when the lease runs out (quota.ts).

export interface BudgetKey {
  /** Durable Object name, e.g. "session:<id>". */
  key: string;
  /** Human word for the 429 message ("session", "address", ...). */
  scope: string;
  requests: number;
  tokens: number;
}

export interface Refusal {
  decision: QuotaDecision;
  scope: string;
}


export class Charge {
  private reported = 0;
  private settled = false;

  private constructor(
    private readonly stubs: Array<DurableObjectStub<QuotaCounter>>,
    readonly id: string,
    private readonly exec: ExecutionContext,
  ) {}

  /**
   * Reserves `reserve` tokens on every key at once. If any key refuses, the keys that admitted are released, so a
   * refusal on one key charges none of the others.
   */
  static async open(
    env: Env,
    exec: ExecutionContext,
    config: Config,
    keys: BudgetKey[],
    amounts: { id: string; reserve: number; ifAbandoned: number },
  ): Promise<{ ok: true; charge: Charge } | { ok: false; refusal: Refusal }> {
    const stubs = keys.map((k) => env.QUOTA.get(env.QUOTA.idFromName(k.key)));
    const decisions = await Promise.all(
      keys.map((k, i) =>
        stubs[i]!.admit({
          id: amounts.id,
          requests: k.requests,
          rateWindowSeconds: config.n.RATE_WINDOW_SECONDS,
          tokens: k.tokens,
          tokensWindowSeconds: config.n.TOKENS_WINDOW_SECONDS,
          reserve: amounts.reserve,
          ifAbandoned: amounts.ifAbandoned,
          leaseSeconds: config.n.RESERVATION_LEASE_SECONDS,
        }).catch((err: unknown): QuotaDecision => {
          // Fail open: a Durable Object hiccup must not take the chat down; the origin has its own limits.
          log('warn', 'quota check failed; allowing the request', { scope: k.scope, error: err instanceof Error ? err.name : 'unknown' });
          return { ok: true };
        }),
      ),
    );
    const refused = decisions.findIndex((d) => !d.ok);
    if (refused >= 0) {
      await Promise.all(stubs.map((s, i) => (decisions[i]!.ok ? s.release(amounts.id).catch(() => undefined) : undefined)));
      return { ok: false, refusal: { decision: decisions[refused]!, scope: keys[refused]!.scope } };
    }
    return { ok: true, charge: new Charge(stubs, amounts.id, exec) };
  }

  /** `ifAbandoned`: tokens this answer may have used so far; reported each PROGRESS_STEP_TOKENS, off the hot path. */
  progress(used: number): void {
    if (this.settled || used < this.reported + PROGRESS_STEP_TOKENS) return;
    this.reported = used;
    const floor = used + PROGRESS_STEP_TOKENS;
    this.exec.waitUntil(Promise.all(this.stubs.map((s) => s.progress(this.id, floor).catch(() => undefined))).then(() => undefined));
  }

  /** Replaces the reservation with what the answer used; safe to call more than once (the first wins). */
  settle(used: number): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.settled = true;
    const done = Promise.all(
      this.stubs.map((s) =>
        s.settle(this.id, used).catch((err: unknown) => log('warn', 'token count not recorded', { error: err instanceof Error ? err.name : 'unknown' })),
      ),
    ).then(() => undefined);
    this.exec.waitUntil(done);
    return done;
  }
}

/** The 429 for a refused budget: which budget, for what, and when to come back. */
export function rateLimited(refusal: Refusal): HttpError {
  const { decision, scope } = refusal;
  const what = decision.scope === 'tokens' ? 'token budget' : 'request rate limit';
  const retry = decision.retryAfterSeconds ?? 1;
  return new HttpError({
    status: 429,
    message: `Quota exceeded: ${what} for this ${scope}; retry after ${retry} s`,
    type: 'rate_limit_error',
    code: decision.scope === 'tokens' ? 'token_quota_exceeded' : 'rate_limited',
    headers: { 'retry-after': String(retry) },
  });
}
