// Where the host layer puts things on a host: one list every component, script argument and doc table reads.
// install-scripts.sh defaults to HOST_PATHS.bin too (a test keeps the two equal).

export const HOST_PATHS = {
  /** The host scripts of components/scripts/ (root 0755; ops run them too). */
  bin: '/opt/fudbuddy/bin',
  apiBundle: '/opt/fudbuddy/api/server.mjs',
  prompts: '/opt/fudbuddy/prompts',
  stubBundle: '/opt/fudbuddy/model-stub/stub.mjs',
  vllmVenv: '/opt/fudbuddy/vllm-venv',
  models: '/var/lib/fudbuddy/models',
  apiEnv: '/etc/fudbuddy/api.env',
  /** Bearer tokens (API_TOKENS_FILE), 0640 root:fudbuddy-api in a 0750 root:fudbuddy-api directory. */
  apiTokens: '/etc/fudbuddy-api/tokens',
  /** Metrics bearer tokens (METRICS_TOKENS_FILE), same ownership. */
  apiMetricsTokens: '/etc/fudbuddy-api/metrics-tokens',
  vllmEnv: '/etc/fudbuddy/vllm.env',
  vllmModelEnv: '/etc/fudbuddy/vllm-model.env',
  stubEnv: '/etc/fudbuddy/model-stub.env',
  hfToken: '/etc/fudbuddy/hf-token',
} as const;
