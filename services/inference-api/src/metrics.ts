// Prometheus metrics (names fixed by the cross-team contract: monitoring rules and dashboards rely on them).
// One registry per app instance so tests can run several apps in one process.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

export type UpstreamErrorKind = 'connect' | 'timeout' | 'status' | 'stream';

export function createMetrics(version: string, model: string) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
  const m = {
    registry,
    requests: new Counter({ name: 'fudbuddy_api_requests_total', help: 'Requests by route, status and chat type.', labelNames: ['route', 'status', 'chat_type'] as const, registers }),
    duration: new Histogram({ name: 'fudbuddy_api_request_duration_seconds', help: 'Request duration (to the last byte).', labelNames: ['route', 'chat_type'] as const, buckets: latencyBuckets, registers }),
    ttft: new Histogram({ name: 'fudbuddy_api_ttft_seconds', help: 'Time to the first streamed token.', labelNames: ['chat_type'] as const, buckets: [0.01, 0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30], registers }),
    tokens: new Counter({ name: 'fudbuddy_api_tokens_total', help: 'Tokens in (prompt) and out (completion).', labelNames: ['direction', 'chat_type'] as const, registers }),
    inflight: new Gauge({ name: 'fudbuddy_api_inflight_requests', help: 'Upstream requests in flight.', registers }),
    queue: new Gauge({ name: 'fudbuddy_api_queue_length', help: 'Requests waiting for an in-flight slot.', registers }),
    upstreamErrors: new Counter({ name: 'fudbuddy_api_upstream_errors_total', help: 'Upstream failures by kind.', labelNames: ['kind'] as const, registers }),
    rateLimited: new Counter({ name: 'fudbuddy_api_rate_limited_total', help: 'Requests refused by a rate limit.', labelNames: ['scope'] as const, registers }),
    upstreamUp: new Gauge({ name: 'fudbuddy_api_upstream_up', help: 'Last upstream health probe (1 = answered).', registers }),
    promptReloadErrors: new Counter({ name: 'fudbuddy_api_prompt_reload_errors_total', help: 'Prompt files that failed to (re)load.', registers }),
    tokenReloadErrors: new Counter({ name: 'fudbuddy_api_token_reload_errors_total', help: 'Bearer token file reloads that failed (the last good tokens stay in force).', registers }),
    buildInfo: new Gauge({ name: 'fudbuddy_api_build_info', help: 'Build and model of this API.', labelNames: ['version', 'model'] as const, registers }),
  };
  m.buildInfo.set({ version, model }, 1);
  for (const kind of ['connect', 'timeout', 'status', 'stream'] as const) m.upstreamErrors.inc({ kind }, 0);
  for (const scope of ['client', 'ip'] as const) m.rateLimited.inc({ scope }, 0);
  m.promptReloadErrors.inc(0);
  m.tokenReloadErrors.inc(0);
  m.inflight.set(0);
  m.queue.set(0);
  return m;
}
export type Metrics = ReturnType<typeof createMetrics>;
