// Pure builder for the edge Worker's bindings and Durable Object migration (cloudflare.WorkersScript inputs).
// The names are the contract of services/edge-worker/src/env.ts.
import type * as pulumi from '@pulumi/pulumi';

export const WORKER_MAIN_MODULE = 'worker.js';
export const WORKER_COMPATIBILITY_DATE = '2026-04-01';
/** Durable Object classes exported by the bundle, and the binding names the Worker reads them under. */
export const DURABLE_OBJECTS = [
  { name: 'QUOTA', className: 'QuotaCounter' },
  { name: 'STATS', className: 'EdgeStats' },
] as const;
/**
 * What every local run of the bundle in workerd shares (Miniflare options: `npm run dev` and the Worker test
 * harness), so they load it exactly as Cloudflare will: same module format, compatibility date and Durable Objects.
 */
export function miniflareWorkerOptions(scriptPath: string) {
  return {
    modules: true,
    scriptPath,
    compatibilityDate: WORKER_COMPATIBILITY_DATE,
    durableObjects: Object.fromEntries(DURABLE_OBJECTS.map((d) => [d.name, { className: d.className, useSQLite: true }])),
  };
}

export interface MigrationStep {
  newSqliteClasses?: string[];
  newClasses?: string[];
  deletedClasses?: string[];
  renamedClasses?: Array<{ from: string; to: string }>;
}
/** One tagged entry of the history (wrangler.toml's [[migrations]] has the same shape). */
export interface MigrationEntry extends MigrationStep {
  tag: string;
}
/** The WorkersScript `migrations` input in its stepped form. */
export interface WorkerMigrations {
  oldTag?: string;
  newTag: string;
  steps: MigrationStep[];
}

/**
 * The Durable Object migration history, oldest first. A class added, renamed or deleted later is a new entry with a
 * new tag (v2, ...), never an edit of an entry that was deployed: Cloudflare applies each step once.
 */
export const WORKER_MIGRATION_HISTORY: readonly MigrationEntry[] = [{ tag: 'v1', newSqliteClasses: DURABLE_OBJECTS.map((d) => d.className) }];

/**
 * What an upload must carry for a Worker whose deployed migration tag is `deployedTag` (wrangler's
 * getMigrationsToUpload): Cloudflare refuses migrations whose `oldTag` is not the script's current tag (10079
 * "Migration tag precondition failed"), so a new script gets every step without oldTag, an up-to-date one nothing
 * (resending the v1 step on every update is what made the first rotation after a deploy fail), an older one the
 * pending steps from its tag on.
 */
export function workerMigrations(deployedTag: string | undefined, history: readonly MigrationEntry[] = WORKER_MIGRATION_HISTORY): WorkerMigrations | undefined {
  const last = history.at(-1);
  if (!last) return undefined;
  const steps = (from: number): MigrationStep[] => history.slice(from).map(({ tag: _tag, ...step }) => step);
  if (!deployedTag) return { newTag: last.tag, steps: steps(0) };
  const i = history.findIndex((m) => m.tag === deployedTag);
  if (i < 0) {
    throw new Error(
      `edgeWorker: the deployed Worker has migration tag '${deployedTag}', which WORKER_MIGRATION_HISTORY (components/lib/workerBindings.ts) does not list: add the missing entries, never edit or remove a deployed one`,
    );
  }
  return i === history.length - 1 ? undefined : { oldTag: deployedTag, newTag: last.tag, steps: steps(i + 1) };
}

export interface WorkerVars {
  originUrls: string[];
  allowedOrigins: string[];
  clientIds: string[];
  fallbackModel: string;
  openaiBaseUrl: string;
  tokenTtlSeconds: number;
  rateLimitRpm: number;
  tokensPerDay: number;
  ipRateLimitRpm: number;
  originTimeoutMs: number;
  breakerFailures: number;
  breakerOpenSeconds: number;
  environment: string;
}

/** Secrets: each one a secret Output in practice. Optional ones are left out when absent (no empty bindings). */
export interface WorkerSecrets<S> {
  originToken: S;
  jwtSigningKey: S;
  jwtSigningKeyPrevious?: S;
  openaiApiKey?: S;
  inviteCodes?: S;
  metricsToken?: S;
}

export interface WorkerBinding<S> {
  name: string;
  type: 'plain_text' | 'secret_text' | 'durable_object_namespace';
  text?: string | S;
  className?: string;
}

const list = (xs: string[]): string => xs.join(',');

export function buildWorkerVars(v: WorkerVars): Record<string, string> {
  if (v.originUrls.length === 0) throw new Error('edgeWorker: at least one origin URL is required (the Funnel URL)');
  for (const u of v.originUrls) {
    if (!/^https:\/\//.test(u)) throw new Error(`edgeWorker: origin URL '${u}' must be https (Tailscale Funnel serves HTTPS only)`);
  }
  if (v.tokenTtlSeconds > 900) throw new Error('edgeWorker: tokenTtlSeconds must be ≤ 900');
  return {
    ORIGIN_URL: list(v.originUrls),
    ALLOWED_ORIGINS: list(v.allowedOrigins),
    CLIENT_IDS: list(v.clientIds),
    FALLBACK_MODEL: v.fallbackModel,
    OPENAI_BASE_URL: v.openaiBaseUrl,
    TOKEN_TTL_SECONDS: String(v.tokenTtlSeconds),
    RATE_LIMIT_RPM: String(v.rateLimitRpm),
    TOKENS_PER_DAY: String(v.tokensPerDay),
    IP_RATE_LIMIT_RPM: String(v.ipRateLimitRpm),
    ORIGIN_TIMEOUT_MS: String(v.originTimeoutMs),
    BREAKER_FAILURES: String(v.breakerFailures),
    BREAKER_OPEN_SECONDS: String(v.breakerOpenSeconds),
    ENVIRONMENT: v.environment,
  };
}

export function buildWorkerBindings<S>(vars: WorkerVars, secrets: WorkerSecrets<S>): WorkerBinding<S>[] {
  const bindings: WorkerBinding<S>[] = DURABLE_OBJECTS.map((d) => ({
    name: d.name,
    type: 'durable_object_namespace' as const,
    className: d.className,
  }));
  for (const [name, text] of Object.entries(buildWorkerVars(vars))) bindings.push({ name, type: 'plain_text', text });
  const secretBindings: [string, S | undefined][] = [
    ['ORIGIN_TOKEN', secrets.originToken],
    ['JWT_SIGNING_KEY', secrets.jwtSigningKey],
    ['JWT_SIGNING_KEY_PREVIOUS', secrets.jwtSigningKeyPrevious],
    ['OPENAI_API_KEY', secrets.openaiApiKey],
    ['INVITE_CODES', secrets.inviteCodes],
    ['METRICS_TOKEN', secrets.metricsToken],
  ];
  for (const [name, text] of secretBindings) {
    if (text !== undefined) bindings.push({ name, type: 'secret_text', text });
  }
  return bindings;
}

/** The same bindings as the provider input type (kept separate so the builder stays free of Pulumi). */
export type PulumiWorkerBinding = WorkerBinding<pulumi.Output<string>>;
