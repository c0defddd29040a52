import { DEFAULT_FALLBACK_MODEL, DEFAULT_OPENAI_BASE_URL, INVITE_CODE_MIN_LENGTH, WORKER_SETTINGS, type WorkerSettingName } from './defaults.js';

type Numbers = { [K in WorkerSettingName]: number };

/**
 * The bindings this parser reads (env.ts declares them for the Worker). Typed loosely on purpose: it keeps this
 * module free of Worker runtime types, so the stack's tests can import it and compare defaults.
 */
export type Bindings = {
  ORIGIN_URL?: string;
  ALLOWED_ORIGINS?: string;
  CLIENT_IDS?: string;
  FALLBACK_MODEL?: string;
  OPENAI_BASE_URL?: string;
  ENVIRONMENT?: string;
  ORIGIN_TOKEN?: string;
  JWT_SIGNING_KEY?: string;
  JWT_SIGNING_KEY_PREVIOUS?: string;
  OPENAI_API_KEY?: string;
  INVITE_CODES?: string;
  METRICS_TOKEN?: string;
} & { [K in WorkerSettingName]?: string | number };

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
  environment: string;
  /** Every numeric binding of defaults.ts, by binding name. */
  n: Numbers;
}

/** A bad binding: the message names the binding, never its value. */
export class ConfigError extends Error {}

const list = (v: string | undefined): string[] =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);

/** Vars arrive as strings (Pulumi plain_text, blank = default) or numbers (wrangler.toml). */
function parseNumbers(env: Bindings): Numbers {
  const out = {} as Numbers;
  for (const [key, setting] of Object.entries(WORKER_SETTINGS) as Array<[WorkerSettingName, (typeof WORKER_SETTINGS)[WorkerSettingName]]>) {
    const raw = (env as unknown as Record<string, unknown>)[key];
    if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim() === '')) {
      out[key] = setting.default;
      continue;
    }
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isSafeInteger(v) || v < setting.min || v > setting.max) {
      throw new ConfigError(`${key} is invalid: expected a whole number from ${setting.min} to ${setting.max}`);
    }
    out[key] = v;
  }
  return out;
}

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

function requireSecret(env: Bindings, key: 'ORIGIN_TOKEN' | 'JWT_SIGNING_KEY', minLength: number): string {
  const v = env[key];
  if (typeof v !== 'string' || v.length < minLength) {
    throw new ConfigError(`${key} is required (a secret of at least ${minLength} characters)`);
  }
  return v;
}

/** Short or guessable codes fall to the per-IP guess budget times many IPs; refuse them at start. */
function parseInviteCodes(raw: string | undefined): string[] {
  const codes = list(raw);
  for (const code of codes) {
    if (code.length < INVITE_CODE_MIN_LENGTH || new Set(code).size < 8) {
      throw new ConfigError(`INVITE_CODES holds a weak code: each needs at least ${INVITE_CODE_MIN_LENGTH} characters and 8 distinct ones (e.g. openssl rand -base64 18)`);
    }
  }
  return codes;
}

export function parseConfig(env: Bindings): Config {
  const n = parseNumbers(env);
  const jwtPreviousKey = env.JWT_SIGNING_KEY_PREVIOUS?.length ? env.JWT_SIGNING_KEY_PREVIOUS : undefined;
  if (jwtPreviousKey !== undefined && jwtPreviousKey.length < 32) {
    throw new ConfigError('JWT_SIGNING_KEY_PREVIOUS must be at least 32 characters when set');
  }
  const openaiBaseUrl = (env.OPENAI_BASE_URL ?? '').trim() || DEFAULT_OPENAI_BASE_URL;
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
    inviteCodes: parseInviteCodes(env.INVITE_CODES),
    fallbackModel: (env.FALLBACK_MODEL ?? '').trim() || DEFAULT_FALLBACK_MODEL,
    openaiBaseUrl: openaiBaseUrl.replace(/\/+$/, ''),
    openaiApiKey: env.OPENAI_API_KEY?.length ? env.OPENAI_API_KEY : undefined,
    originToken: requireSecret(env, 'ORIGIN_TOKEN', 16),
    jwtKey: requireSecret(env, 'JWT_SIGNING_KEY', 32),
    jwtPreviousKey,
    metricsToken: env.METRICS_TOKEN?.length ? env.METRICS_TOKEN : undefined,
    environment: (env.ENVIRONMENT ?? '').trim() || 'production',
    n,
  };
}

// The env object is stable per isolate, so parse once.
const cache = new WeakMap<Bindings, Config | ConfigError>();

export function getConfig(env: Bindings): Config {
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
