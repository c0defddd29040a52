// Circuit breaker per origin. State lives in the isolate (module scope): each Cloudflare isolate learns
// on its own that an origin is dead, which costs at most BREAKER_FAILURES requests per isolate — cheap
// compared with a Durable Object round trip on every request.
export interface BreakerSettings {
  failures: number;
  openSeconds: number;
}

export type BreakerTransition = 'opened' | 'closed' | null;

export class CircuitBreaker {
  private consecutiveFailures = 0;
  private openUntil = 0;
  private trialInFlight = false;
  private trialStartedAt = 0;

  constructor(private readonly settings: () => BreakerSettings) {}

  isOpen(now: number): boolean {
    return this.openUntil > now || (this.openUntil !== 0 && this.trialPending(now));
  }

  // A trial whose request never reported back (its client vanished and the isolate dropped the work)
  // expires after another open period, so the origin is not shut out of this isolate for good.
  private trialPending(now: number): boolean {
    return this.trialInFlight && now - this.trialStartedAt < this.settings().openSeconds * 1000;
  }

  /** May a request go to this origin now? After the open period exactly one trial request is let through. */
  tryAcquire(now: number): boolean {
    if (this.openUntil === 0) return true;
    if (now < this.openUntil || this.trialPending(now)) return false;
    this.trialInFlight = true;
    this.trialStartedAt = now;
    return true;
  }

  onSuccess(): BreakerTransition {
    const wasOpen = this.openUntil !== 0;
    this.consecutiveFailures = 0;
    this.openUntil = 0;
    this.trialInFlight = false;
    return wasOpen ? 'closed' : null;
  }

  onFailure(now: number): BreakerTransition {
    const { failures, openSeconds } = this.settings();
    if (this.trialInFlight) {
      this.trialInFlight = false;
      this.openUntil = now + openSeconds * 1000;
      return null; // it was open already
    }
    this.consecutiveFailures += 1;
    if (this.openUntil === 0 && this.consecutiveFailures >= failures) {
      this.openUntil = now + openSeconds * 1000;
      return 'opened';
    }
    return null;
  }
}
