import { Counter, Gauge, Histogram, Registry } from 'prom-client';

// A few of vLLM's own metric names, so dashboards and alert rules can be exercised against the stub.
export function createStubMetrics(model: string) {
  const registry = new Registry();
  const labelNames = ['model_name'] as const;
  const labels = { model_name: model };
  const running = new Gauge({ name: 'vllm:num_requests_running', help: 'Requests currently generating.', labelNames, registers: [registry] });
  const waiting = new Gauge({ name: 'vllm:num_requests_waiting', help: 'Requests waiting to be scheduled.', labelNames, registers: [registry] });
  const gpuCache = new Gauge({ name: 'vllm:gpu_cache_usage_perc', help: 'GPU KV-cache usage (1 = 100%).', labelNames, registers: [registry] });
  const kvCache = new Gauge({ name: 'vllm:kv_cache_usage_perc', help: 'KV-cache usage (1 = 100%).', labelNames, registers: [registry] });
  const ttft = new Histogram({
    name: 'vllm:time_to_first_token_seconds',
    help: 'Time to first token.',
    labelNames,
    buckets: [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    registers: [registry],
  });
  const promptTokens = new Counter({ name: 'vllm:prompt_tokens_total', help: 'Prefill tokens processed.', labelNames, registers: [registry] });
  const generationTokens = new Counter({ name: 'vllm:generation_tokens_total', help: 'Generation tokens processed.', labelNames, registers: [registry] });
  for (const g of [running, waiting, gpuCache, kvCache]) g.set(labels, 0);
  promptTokens.inc(labels, 0);
  generationTokens.inc(labels, 0);

  return {
    registry,
    setRunning(n: number): void {
      running.set(labels, n);
      const usage = Math.min(1, n * 0.02);
      gpuCache.set(labels, usage);
      kvCache.set(labels, usage);
    },
    observeTtft(seconds: number): void {
      ttft.observe(labels, seconds);
    },
    countTokens(prompt: number, generated: number): void {
      if (prompt) promptTokens.inc(labels, prompt);
      if (generated) generationTokens.inc(labels, generated);
    },
  };
}
export type StubMetrics = ReturnType<typeof createStubMetrics>;
