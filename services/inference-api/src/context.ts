// Everything a route needs, built once per app instance.
import type { Config } from './config.js';
import { InflightGate, RateLimiter } from './limits.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics.js';
import { PromptStore } from './prompts.js';
import { FileTokens, StaticTokens, type TokenChecker, type TokenSource } from './token-file.js';
import { UndiciUpstream, type UpstreamClient, type UpstreamOptions } from './upstream.js';
import { makeChatBodySchema } from './validate.js';

export interface AppContext {
  config: Config;
  log: Logger;
  metrics: Metrics;
  prompts: PromptStore;
  upstream: UpstreamClient;
  gate: InflightGate;
  clientLimiter: RateLimiter;
  ipLimiter: RateLimiter;
  apiTokens: TokenSource;
  /** The metrics tokens, or the API tokens (live, so a rotation applies to both) when none are configured. */
  metricsTokens: TokenChecker;
  /** Token sets that reload (on SIGHUP and on file change); static ones are no-ops. */
  tokenSources: TokenSource[];
  chatSchema: ReturnType<typeof makeChatBodySchema>;
  startedAt: number;
  state: { draining: boolean; active: number };
  upstreamHealthy(): Promise<boolean>;
}

/** Builds the client the API talks to the model server with (UndiciUpstream; the benchmark swaps in the SDK). */
export type UpstreamFactory = (options: UpstreamOptions) => UpstreamClient;

export function createContext(config: Config, log: Logger, upstreamFactory: UpstreamFactory = (o) => new UndiciUpstream(o)): AppContext {
  const metrics = createMetrics(config.version, config.UPSTREAM_MODEL);
  const upstreamOptions: UpstreamOptions = {
    baseUrl: config.UPSTREAM_BASE_URL,
    apiKey: config.UPSTREAM_API_KEY,
    // A few spare connections so health probes never wait behind generation requests.
    connections: config.MAX_INFLIGHT + 2,
    connectTimeoutMs: config.UPSTREAM_CONNECT_TIMEOUT_MS,
    firstTokenTimeoutMs: config.UPSTREAM_FIRST_TOKEN_TIMEOUT_MS,
    idleTimeoutMs: config.UPSTREAM_IDLE_TIMEOUT_MS,
    totalTimeoutMs: config.UPSTREAM_TIMEOUT_MS,
    metrics,
  };
  const upstream = upstreamFactory(upstreamOptions);
  // Health probes are cached (and concurrent callers share one probe) so frequent health checks cost nothing.
  let cached: { at: number; ok: boolean } | undefined;
  let pending: Promise<boolean> | undefined;
  const upstreamHealthy = (): Promise<boolean> => {
    if (cached && Date.now() - cached.at < config.HEALTH_CACHE_MS) return Promise.resolve(cached.ok);
    pending ??= upstream
      .probe(Math.min(2_000, config.UPSTREAM_CONNECT_TIMEOUT_MS + 1_000))
      .then((ok) => {
        cached = { at: Date.now(), ok };
        metrics.upstreamUp.set(ok ? 1 : 0);
        return ok;
      })
      .finally(() => {
        pending = undefined;
      });
    return pending;
  };
  const tokens = (variable: 'API_TOKENS_FILE' | 'METRICS_TOKENS_FILE', file: string | undefined, initial: string[]): TokenSource =>
    file ? new FileTokens(file, variable, initial, log, () => metrics.tokenReloadErrors.inc()) : new StaticTokens(initial);
  const apiTokens = tokens('API_TOKENS_FILE', config.API_TOKENS_FILE, config.API_TOKENS);
  const metricsTokens = config.METRICS_TOKENS ? tokens('METRICS_TOKENS_FILE', config.METRICS_TOKENS_FILE, config.METRICS_TOKENS) : undefined;
  return {
    config,
    log,
    metrics,
    prompts: new PromptStore(config.PROMPTS_DIR, log, () => metrics.promptReloadErrors.inc()),
    upstream,
    gate: new InflightGate(config.MAX_INFLIGHT, config.MAX_QUEUE, config.QUEUE_TIMEOUT_MS, (inflight, queued) => {
      metrics.inflight.set(inflight);
      metrics.queue.set(queued);
    }),
    clientLimiter: new RateLimiter(config.RATE_LIMIT_RPM),
    ipLimiter: new RateLimiter(config.IP_RATE_LIMIT_RPM),
    apiTokens,
    metricsTokens: metricsTokens ?? apiTokens,
    tokenSources: metricsTokens ? [apiTokens, metricsTokens] : [apiTokens],
    chatSchema: makeChatBodySchema(config.MAX_MESSAGES),
    startedAt: Date.now(),
    state: { draining: false, active: 0 },
    upstreamHealthy,
  };
}
