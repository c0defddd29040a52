// Configuration from the environment, validated once at start: a bad value stops the process with a message that
// names the variable, instead of surfacing later as a confusing runtime failure.
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { readTokenFile } from './token-file.js';
import { VERSION } from './version.js';

const int = (def: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, `must be a whole number between ${min} and ${max}`)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional()
    .transform((v) => v ?? def);

const bool = (def: boolean) =>
  z
    .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
    .optional()
    .transform((v) => (v === undefined ? def : ['true', '1', 'yes'].includes(v)));

const tokenList = z
  .string()
  .transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(16, 'each token must be at least 16 characters')).min(1, 'needs at least one token'));

const tokenFilePath = z
  .string()
  .trim()
  .min(1)
  .optional()
  .transform((p) => (p ? path.resolve(p) : undefined));

const byteSize = z
  .string()
  .trim()
  .regex(/^\d+(\.\d+)?\s*(b|kb|mb)?$/i, 'must be a size like 262144, 256kb or 1mb')
  .transform((s) => {
    const m = /^(\d+(?:\.\d+)?)\s*(b|kb|mb)?$/i.exec(s)!;
    const unit = (m[2] ?? 'b').toLowerCase();
    return Math.floor(Number(m[1]) * (unit === 'mb' ? 1024 * 1024 : unit === 'kb' ? 1024 : 1));
  })
  .pipe(z.number().int().min(1024, 'must be at least 1kb').max(16 * 1024 * 1024, 'must be at most 16mb'))
  .optional()
  .transform((v) => v ?? 256 * 1024);

const upstreamUrl = z
  .string()
  .trim()
  .url('must be a URL like http://127.0.0.1:8000/v1')
  .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), 'must be an http(s) URL')
  .optional()
  .transform((u) => (u ?? 'http://127.0.0.1:8000/v1').replace(/\/+$/, ''));

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const envSchema = z.object({
  HOST: z.string().trim().min(1).optional().transform((v) => v ?? '127.0.0.1'),
  PORT: int(8001, 0, 65535),
  UPSTREAM_BASE_URL: upstreamUrl,
  UPSTREAM_API_KEY: z.string().optional().transform((v) => v || undefined),
  UPSTREAM_MODEL: z.string().trim().min(1).optional().transform((v) => v ?? 'fudbuddy'),
  // Exactly one of API_TOKENS / API_TOKENS_FILE (checked in loadConfig). The file is re-read on SIGHUP and on
  // change, so a token rotation needs no restart.
  API_TOKENS: tokenList.optional(),
  API_TOKENS_FILE: tokenFilePath,
  METRICS_TOKENS: tokenList.optional(),
  METRICS_TOKENS_FILE: tokenFilePath,
  PROMPTS_DIR: z
    .string()
    .optional()
    .transform((v) => path.resolve(v || 'prompts'))
    .refine((p) => existsSync(p) && statSync(p).isDirectory(), 'must be an existing directory holding <chatType>.md prompts'),
  RATE_LIMIT_RPM: int(60, 0),
  IP_RATE_LIMIT_RPM: int(600, 0),
  MAX_INFLIGHT: int(32, 1, 10_000),
  MAX_QUEUE: int(64, 0, 100_000),
  QUEUE_TIMEOUT_MS: int(2_000, 0, 600_000),
  BODY_LIMIT: byteSize,
  MAX_MESSAGES: int(64, 1, 10_000),
  MAX_TOKENS_CAP: int(1024, 1, 1_000_000),
  UPSTREAM_CONNECT_TIMEOUT_MS: int(2_000, 1, 600_000),
  UPSTREAM_FIRST_TOKEN_TIMEOUT_MS: int(30_000, 1, 3_600_000),
  UPSTREAM_IDLE_TIMEOUT_MS: int(15_000, 1, 3_600_000),
  UPSTREAM_TIMEOUT_MS: int(120_000, 1, 3_600_000),
  HEALTH_CACHE_MS: int(5_000, 0, 600_000),
  SHUTDOWN_GRACE_MS: int(30_000, 0, 3_600_000),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join('|')}` }).optional().transform((v) => v ?? 'info'),
  LOG_CONTENT: bool(false),
}).superRefine((v, ctx) => {
  // Tokens from the variable or from a file: exactly one source for the API, at most one for /metrics.
  for (const [key, required] of [['API_TOKENS', true], ['METRICS_TOKENS', false]] as const) {
    const fileKey = `${key}_FILE` as const;
    if (v[key] !== undefined && v[fileKey] !== undefined) {
      ctx.addIssue({ code: 'custom', path: [fileKey], message: `set either ${key} or ${fileKey}, not both` });
    } else if (required && v[key] === undefined && v[fileKey] === undefined) {
      ctx.addIssue({ code: 'custom', path: [key], message: `is required (comma-separated bearer tokens, at least 16 characters each), or set ${fileKey} to a file holding them` });
    }
  }
});

type Parsed = z.output<typeof envSchema>;
/** API_TOKENS holds the tokens in force at start, from the variable or read from API_TOKENS_FILE. */
export type Config = Omit<Parsed, 'API_TOKENS'> & { API_TOKENS: string[]; version: string };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; throws ConfigError whose message names every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, version = VERSION): Config {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(envSchema.shape)) {
    const v = env[key];
    // An empty variable means "unset" (systemd EnvironmentFile lines like `METRICS_TOKENS=`).
    picked[key] = v === '' ? undefined : v;
  }
  const result = envSchema.safeParse(picked);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `${String(i.path[0] ?? 'config')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  // A token file must be usable at start (there is no last good set to fall back on yet).
  const lines: string[] = [];
  const fromFile = (key: 'API_TOKENS_FILE' | 'METRICS_TOKENS_FILE'): string[] | undefined => {
    const file = result.data[key];
    if (file === undefined) return undefined;
    try {
      return readTokenFile(file);
    } catch (err) {
      lines.push(`${key}: ${(err as Error).message}`);
      return undefined;
    }
  };
  const apiTokens = result.data.API_TOKENS ?? fromFile('API_TOKENS_FILE');
  const metricsTokens = result.data.METRICS_TOKENS ?? fromFile('METRICS_TOKENS_FILE');
  if (lines.length > 0 || !apiTokens) throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  return { ...result.data, API_TOKENS: apiTokens, METRICS_TOKENS: metricsTokens, version };
}

/** Test helper: a complete config from a few overrides, validated like the real thing. */
export function configFrom(overrides: Record<string, string | number | boolean | undefined>): Config {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) env[k] = String(v);
  return loadConfig(env);
}
