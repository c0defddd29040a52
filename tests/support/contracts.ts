// Cross-team contracts that more than one suite checks, written down once. Deliberately not imported from the
// services: a test that read the list from the code under test could not notice the code dropping a metric.

/** Metric names the inference API exposes on GET /metrics (alerts and dashboards depend on them). */
export const API_METRICS_CONTRACT = [
  'fudbuddy_api_requests_total',
  'fudbuddy_api_request_duration_seconds',
  'fudbuddy_api_ttft_seconds',
  'fudbuddy_api_tokens_total',
  'fudbuddy_api_inflight_requests',
  'fudbuddy_api_queue_length',
  'fudbuddy_api_upstream_errors_total',
  'fudbuddy_api_rate_limited_total',
  'fudbuddy_api_upstream_up',
  'fudbuddy_api_prompt_reload_errors_total',
  'fudbuddy_api_token_reload_errors_total',
  'fudbuddy_api_build_info',
] as const;

/** Metric names the edge Worker exposes on GET /metrics (with METRICS_TOKEN). */
export const EDGE_METRICS_CONTRACT = ['fudbuddy_edge_requests_total', 'fudbuddy_edge_origin_failures_total', 'fudbuddy_edge_breaker_open'] as const;
