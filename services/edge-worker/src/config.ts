import { z } from 'zod';
import type { Env } from './env.js';

/** Validated, typed view of the Worker's bindings. */
export interface Config {
  origins: URL[];
  allowedOrigins: Set<string>;
  clientIds: Set<string>;
  inviteCodes: string[];
  fallbackModel: string;
  openaiBaseUrl: string;
  openaiApiKey: string | undefined;
  originToken: string;
  jwtKey: string;
  jwtPreviousKey: string | undefined;
  metricsToken: string | undefined;
  tokenTtlSeconds: number;
  rateLimitRpm: number;
  tokensPerDay: number;
  ipRateLimitRpm: number;
  ipTokensPerDay: number;
  rateWindowSeconds: number;
  tokensWindowSeconds: number;
  originTimeoutMs: number;
  breakerFailures: number;
  breakerOpenSeconds: number;
  healthCacheSeconds: number;
  maxBodyBytes: number;
  environment: string;
}

/** A bad binding: the message names the binding, never its value. */
export class ConfigError extends Error {}

const MAX_TOKEN_TTL_SECONDS = 900;

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

// Defaults are the production values; tests and `npm run dev` shorten the windows through the same bindings.
const numbers = z.object({
  TOKEN_TTL_SECONDS: int(30, MAX_TOKEN_TTL_SECONDS).default(600),
  RATE_LIMIT_RPM: int(1, 100_000).default(20),
  TOKENS_PER_DAY: int(1, 1_000_000_000).default(50_000),
  IP_RATE_LIMIT_RPM: int(1, 100_000).default(60),
  IP_TOKENS_PER_DAY: int(1, 1_000_000_000).optional(),
  RATE_WINDOW_SECONDS: int(1, 3600).default(60),
  TOKENS_WINDOW_SECONDS: int(1, 7 * 86_400).default(86_400),
  ORIGIN_TIMEOUT_MS: int(100, 300_000).default(20_000),
  BREAKER_FAILURES: int(1, 1000).default(3),
  BREAKER_OPEN_SECONDS: int(1, 3600).default(30),
  HEALTH_CACHE_SECONDS: int(0, 300).default(5),
  MAX_BODY_BYTES: int(1024, 10_000_000).default(64 * 1024),
});

function parseOrigins(raw: string | undefined): URL[] {
  const items = list(raw);
  if (items.length === 0) throw new ConfigError('ORIGIN_URL is required (comma-separated origin base URLs)');
  return items.map((item) => {
    let url: URL;
    try {
      url = new URL(item);
    } catch {
      throw new ConfigError('ORIGIN_URL contains an entry that is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('ORIGIN_URL entries must be http(s) URLs');
    if (!url.pathname.endsWith('/')) url.pathname += '/';
    return url;
  });
}

function requireSecret(env: Env, key: 'ORIGIN_TOKEN' | 'JWT_SIGNING_KEY', minLength: number): string {
  const v = env[key];
  if (typeof v !== 'string' || v.length < minLength) {
    throw new ConfigError(`${key} is required (a secret of at least ${minLength} characters)`);
  }
  return v;
}

export function parseConfig(env: Env): Config {
  // Pulumi passes unset plain_text vars as "": treat blank as "use the default".
  const raw = Object.fromEntries(
    Object.keys(numbers.shape).map((k) => {
      const v = (env as unknown as Record<string, unknown>)[k];
      return [k, typeof v === 'string' && v.trim() === '' ? undefined : v];
    }),
  );
  const parsed = numbers.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? 'binding');
    throw new ConfigError(`${key} is invalid: ${issue?.message ?? 'bad value'}`);
  }
  const n = parsed.data;
  const jwtPreviousKey = env.JWT_SIGNING_KEY_PREVIOUS?.length ? env.JWT_SIGNING_KEY_PREVIOUS : undefined;
  if (jwtPreviousKey !== undefined && jwtPreviousKey.length < 32) {
    throw new ConfigError('JWT_SIGNING_KEY_PREVIOUS must be at least 32 characters when set');
  }
  const openaiBaseUrl = (env.OPENAI_BASE_URL ?? '').trim() || 'https://api.openai.com/v1';
  try {
    new URL(openaiBaseUrl);
  } catch {
    throw new ConfigError('OPENAI_BASE_URL is not a URL');
  }
  const clientIds = list(env.CLIENT_IDS);
  if (clientIds.length === 0) throw new ConfigError('CLIENT_IDS is required (comma-separated client ids)');
  return {
    origins: parseOrigins(env.ORIGIN_URL),
    allowedOrigins: new Set(list(env.ALLOWED_ORIGINS).map((o) => o.replace(/\/+$/, ''))),
    clientIds: new Set(clientIds),
    inviteCodes: list(env.INVITE_CODES),
    fallbackModel: (env.FALLBACK_MODEL ?? '').trim() || 'gpt-4o-mini',
    openaiBaseUrl: openaiBaseUrl.replace(/\/+$/, ''),
    openaiApiKey: env.OPENAI_API_KEY?.length ? env.OPENAI_API_KEY : undefined,
    originToken: requireSecret(env, 'ORIGIN_TOKEN', 16),
    jwtKey: requireSecret(env, 'JWT_SIGNING_KEY', 32),
    jwtPreviousKey,
    metricsToken: env.METRICS_TOKEN?.length ? env.METRICS_TOKEN : undefined,
    tokenTtlSeconds: n.TOKEN_TTL_SECONDS,
    rateLimitRpm: n.RATE_LIMIT_RPM,
    tokensPerDay: n.TOKENS_PER_DAY,
    ipRateLimitRpm: n.IP_RATE_LIMIT_RPM,
    ipTokensPerDay: n.IP_TOKENS_PER_DAY ?? n.TOKENS_PER_DAY * 5,
    rateWindowSeconds: n.RATE_WINDOW_SECONDS,
    tokensWindowSeconds: n.TOKENS_WINDOW_SECONDS,
    originTimeoutMs: n.ORIGIN_TIMEOUT_MS,
    breakerFailures: n.BREAKER_FAILURES,
    breakerOpenSeconds: n.BREAKER_OPEN_SECONDS,
    healthCacheSeconds: n.HEALTH_CACHE_SECONDS,
    maxBodyBytes: n.MAX_BODY_BYTES,
    environment: (env.ENVIRONMENT ?? '').trim() || 'production',
  };
}

// The env object is stable per isolate, so parse once.
const cache = new WeakMap<Env, Config | ConfigError>();

export function getConfig(env: Env): Config {
  let c = cache.get(env);
  if (!c) {
    try {
      c = parseConfig(env);
    } catch (err) {
      c = err instanceof ConfigError ? err : new ConfigError('configuration could not be read');
    }
    cache.set(env, c);
  }
  if (c instanceof ConfigError) throw c;
  return c;
}
