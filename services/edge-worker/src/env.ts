// Bindings of the edge Worker: the names are a contract with components/edgeWorker.ts (Pulumi) and
// wrangler.toml. Vars may arrive as strings (Pulumi plain_text) or numbers (wrangler.toml), so the
// config parser coerces them; the numeric ones, their defaults and ranges are listed once in defaults.ts.
import type { WorkerSettingName } from './defaults.js';
import type { QuotaCounter } from './quota.js';
import type { EdgeStats } from './stats.js';

export type Env = {
  QUOTA: DurableObjectNamespace<QuotaCounter>;
  STATS: DurableObjectNamespace<EdgeStats>;

  // vars
  ORIGIN_URL?: string;
  ALLOWED_ORIGINS?: string;
  CLIENT_IDS?: string;
  FALLBACK_MODEL?: string;
  OPENAI_BASE_URL?: string;
  ENVIRONMENT?: string;

  // secrets
  ORIGIN_TOKEN?: string;
  JWT_SIGNING_KEY?: string;
  JWT_SIGNING_KEY_PREVIOUS?: string;
  OPENAI_API_KEY?: string;
  INVITE_CODES?: string;
  METRICS_TOKEN?: string;
} & { [K in WorkerSettingName]?: string | number };
