// The edge Worker's numeric settings, once: default and accepted range of each binding. The Worker's config parser
// (config.ts) and the stack config (stacks/config.ts, `worker.*` keys) both read this table, so a deployed stack
// and `npm run dev` cannot drift apart. Pure data: no Worker or Pulumi types, so both sides can import it.
export interface Setting {
  default: number;
  min: number;
  max: number;
}

const s = (def: number, min: number, max: number): Setting => ({ default: def, min, max });

/** Browser tokens may not outlive 15 minutes whatever the configuration says. */
export const MAX_TOKEN_TTL_SECONDS = 900;

export const WORKER_SETTINGS = {
  TOKEN_TTL_SECONDS: s(600, 30, MAX_TOKEN_TTL_SECONDS),
  /** Requests per session per rate window. */
  RATE_LIMIT_RPM: s(20, 1, 100_000),
  /** Model tokens per session per tokens window. */
  TOKENS_PER_DAY: s(200_000, 1, 1_000_000_000),
  /** Requests (token + chat) per IP (IPv6: per /64) per rate window. */
  IP_RATE_LIMIT_RPM: s(60, 1, 100_000),
  /** Model tokens per IP per tokens window (a household or office shares one). */
  IP_TOKENS_PER_DAY: s(1_000_000, 1, 1_000_000_000),
  /** Model tokens per client id (the whole web app) per tokens window: the global daily cap. */
  CLIENT_TOKENS_PER_DAY: s(20_000_000, 1, 10_000_000_000),
  RATE_WINDOW_SECONDS: s(60, 1, 3600),
  TOKENS_WINDOW_SECONDS: s(86_400, 1, 7 * 86_400),
  /** Streams: time to the first body byte. A stream that has not started by then is a dead origin. */
  ORIGIN_TIMEOUT_MS: s(30_000, 100, 300_000),
  /**
   * Non-streamed calls send nothing until the answer is complete, so only the total time can tell a dead origin
   * from a long answer; above the API's own UPSTREAM_TIMEOUT_MS (120 s) so the API's 504 arrives first.
   */
  ORIGIN_RESPONSE_TIMEOUT_MS: s(130_000, 100, 600_000),
  BREAKER_FAILURES: s(5, 1, 1000),
  BREAKER_OPEN_SECONDS: s(30, 1, 3600),
  HEALTH_CACHE_SECONDS: s(5, 0, 300),
  MAX_BODY_BYTES: s(64 * 1024, 1024, 10_000_000),
  /** Completion tokens a request may ask for; the same as the inference API's MAX_TOKENS_CAP default. */
  MAX_TOKENS_CAP: s(1024, 1, 1_000_000),
  /** Unsettled reservations (their stream vanished) are charged and dropped after this long without progress. */
  RESERVATION_LEASE_SECONDS: s(120, 1, 3600),
  /** OpenAI fallback spend caps in tokens per tokens window: per session, per IP, and for the whole Worker. */
  FALLBACK_SESSION_TOKENS_PER_DAY: s(20_000, 0, 1_000_000_000),
  FALLBACK_IP_TOKENS_PER_DAY: s(50_000, 0, 1_000_000_000),
  FALLBACK_TOKENS_PER_DAY: s(1_000_000, 0, 10_000_000_000),
  /** Failed invite codes per IP per rate window, and for the whole Worker, before further tries are refused. */
  INVITE_FAILURES_PER_IP: s(5, 1, 10_000),
  INVITE_FAILURES_GLOBAL: s(200, 1, 1_000_000),
  /** How long an IP (or, past the global budget, everyone) is locked out of invite-code checks. */
  INVITE_LOCKOUT_SECONDS: s(900, 1, 86_400),
} as const satisfies Record<string, Setting>;

/** Tokens counted between two progress reports; an abandoned answer is charged up to one step above its last report. */
export const PROGRESS_STEP_TOKENS = 64;

export type WorkerSettingName = keyof typeof WORKER_SETTINGS;

/** Invite codes must be at least this long and not all one character class, so 60 guesses a minute find nothing. */
export const INVITE_CODE_MIN_LENGTH = 16;

export const DEFAULT_FALLBACK_MODEL = 'gpt-4o-mini';
export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
