import { AttemptError, failureFromNetwork, failureFromResponse, mintRequestId, raceAbort } from './http.js';
import { ServiceDownError } from './errors.js';

export interface TokenSourceOptions {
  baseUrl: string;
  clientId: string;
  /** Invite code for the beta cohort, asked for each time a token is fetched (never cached here). */
  inviteCode?: () => string | undefined;
  fetch: typeof fetch;
  now: () => number;
  /** Refresh this long before expiry (capped at half the token's lifetime). */
  refreshMarginMs: number;
}

interface CachedToken {
  token: string;
  /** Local clock time after which the token is refreshed rather than used. */
  refreshAt: number;
}

// When the server's expires_at cannot be trusted (missing, or already past by our clock because of
// skew), assume a short life; a 401 will still trigger a refresh.
const ASSUMED_LIFETIME_MS = 60_000;

/** `expires_at` as epoch seconds, epoch ms or an ISO date; `expires_in` as seconds. */
export function expiryFromBody(body: { expires_at?: unknown; expires_in?: unknown }, now: number): number | undefined {
  const at = body.expires_at;
  if (typeof at === 'number' && Number.isFinite(at)) return at < 1e11 ? at * 1000 : at;
  if (typeof at === 'string') {
    const parsed = /^\d+$/.test(at) ? Number(at) * 1000 : Date.parse(at);
    if (!Number.isNaN(parsed)) return parsed;
  }
  if (typeof body.expires_in === 'number' && Number.isFinite(body.expires_in)) return now + body.expires_in * 1000;
  return undefined;
}

/**
 * Short-lived Worker tokens: cached, refreshed before they expire, and fetched once no matter how
 * many requests ask at the same moment (single flight).
 */
export class TokenSource {
  private cached: CachedToken | undefined;
  private inflight: Promise<CachedToken> | undefined;
  /** Bumped by invalidate() so that a fetch started before it cannot re-install a rejected token. */
  private generation = 0;

  constructor(private readonly opts: TokenSourceOptions) {}

  async get(signal?: AbortSignal): Promise<string> {
    const c = this.cached;
    if (c && this.opts.now() < c.refreshAt) return c.token;
    if (!this.inflight) {
      const gen = this.generation;
      // The shared fetch is not tied to any one caller's signal: one caller giving up must not fail the others.
      // Presenting the still-valid token on refresh lets the Worker keep the session (and its quota).
      this.inflight = this.fetchToken(c?.token).then(
        (t) => {
          if (gen === this.generation) this.cached = t;
          this.inflight = undefined;
          return t;
        },
        (e: unknown) => {
          this.inflight = undefined;
          throw e;
        },
      );
    }
    return (await raceAbort(this.inflight, signal)).token;
  }

  /** Forget the cached token (the server answered 401 to it). */
  invalidate(): void {
    this.cached = undefined;
    this.generation++;
  }

  private async fetchToken(previous: string | undefined): Promise<CachedToken> {
    const requestId = mintRequestId();
    const invite = this.opts.inviteCode?.();
    let res: Response;
    try {
      res = await this.opts.fetch(`${this.opts.baseUrl}/v1/token`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-Request-Id': requestId,
          ...(previous ? { Authorization: `Bearer ${previous}` } : {}),
        },
        body: JSON.stringify({ client_id: this.opts.clientId, ...(invite ? { invite_code: invite } : {}) }),
      });
    } catch (err) {
      throw new AttemptError(failureFromNetwork(err, requestId));
    }
    const rid = res.headers.get('x-request-id') ?? requestId;
    if (!res.ok) throw new AttemptError(await failureFromResponse(res, rid, this.opts.now()));
    let body: { token?: unknown; expires_at?: unknown; expires_in?: unknown };
    try {
      body = (await res.json()) as typeof body;
    } catch (err) {
      throw new AttemptError(failureFromNetwork(err, rid));
    }
    if (typeof body.token !== 'string' || body.token === '') {
      throw new AttemptError({
        error: new ServiceDownError('The token service answered without a token.', { requestId: rid, status: res.status }),
        retryable: true,
      });
    }
    const now = this.opts.now();
    let expiresAt = expiryFromBody(body, now);
    if (expiresAt === undefined || expiresAt <= now) expiresAt = now + ASSUMED_LIFETIME_MS;
    const lifetime = expiresAt - now;
    return { token: body.token, refreshAt: expiresAt - Math.min(this.opts.refreshMarginMs, lifetime / 2) };
  }
}
