// Bindings of the edge Worker: the names are a contract with components/edgeWorker.ts (Pulumi) and
// wrangler.toml. Vars may arrive as strings (Pulumi plain_text) or numbers (wrangler.toml), so the
// config parser coerces them.
export interface Env {
  QUOTA: DurableObjectNamespace;
  STATS: DurableObjectNamespace;

  // vars
  ORIGIN_URL?: string;
  ALLOWED_ORIGINS?: string;
  CLIENT_IDS?: string;
  FALLBACK_MODEL?: string;
  OPENAI_BASE_URL?: string;
  TOKEN_TTL_SECONDS?: string | number;
  RATE_LIMIT_RPM?: string | number;
  TOKENS_PER_DAY?: string | number;
  IP_RATE_LIMIT_RPM?: string | number;
  IP_TOKENS_PER_DAY?: string | number;
  RATE_WINDOW_SECONDS?: string | number;
  TOKENS_WINDOW_SECONDS?: string | number;
  ORIGIN_TIMEOUT_MS?: string | number;
  BREAKER_FAILURES?: string | number;
  BREAKER_OPEN_SECONDS?: string | number;
  HEALTH_CACHE_SECONDS?: string | number;
  MAX_BODY_BYTES?: string | number;
  ENVIRONMENT?: string;

  // secrets
  ORIGIN_TOKEN?: string;
  JWT_SIGNING_KEY?: string;
  JWT_SIGNING_KEY_PREVIOUS?: string;
  OPENAI_API_KEY?: string;
  INVITE_CODES?: string;
  METRICS_TOKEN?: string;
}
