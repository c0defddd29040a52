// Every metric name a rule or a dashboard query uses exists: fudbuddy_api_* in the REAL /metrics of the inference
// API bundle (driven by one streamed and one plain chat through the official openai SDK, against the model stub),
// fudbuddy_edge_* in the REAL /metrics of the Worker bundle in workerd, vllm:* / node / GPU / blackbox names in the
// fixtures (monitoring/fixtures, sources in its README), and the stub's vllm:* names are real vLLM names.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStub, type StubHandle } from '../../services/model-stub/src/stub.js';
import { randomToken, startApiBundle, startWorker, type Proc } from './live.js';
import { dashboardExprs, loadAlertRules, loadFixture, metricNamesIn, parseExposition, seriesNames } from './support.js';
import { API_METRICS_CONTRACT, EDGE_METRICS_CONTRACT } from '../support/contracts.js';

const CONTRACT_API_METRICS = API_METRICS_CONTRACT;
const CONTRACT_EDGE_METRICS = EDGE_METRICS_CONTRACT;

const ruleNames = new Set(loadAlertRules().flatMap((r) => [...metricNamesIn(r.expr)]));
const dashNames = new Set(dashboardExprs().flatMap((e) => [...metricNamesIn(e)]));
const used = new Set([...ruleNames, ...dashNames]);

let stub: StubHandle;
let api: Proc;
let worker: { url: string; close(): Promise<void> };
let apiText = '';
let workerText = '';
let stubText = '';

beforeAll(async () => {
  const token = randomToken();
  const metricsToken = randomToken();
  stub = await startStub({ host: '127.0.0.1', port: 0, tokensPerSec: 0 });
  try {
    api = await startApiBundle({ UPSTREAM_BASE_URL: stub.baseURL, UPSTREAM_MODEL: 'fudbuddy', API_TOKENS: token, METRICS_TOKENS: metricsToken });
    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: token, maxRetries: 0, timeout: 20_000 });
    // One streamed chat (TTFT histogram) and one plain one, so every histogram/counter has series.
    const stream = await client.chat.completions.create({ model: 'fudbuddy', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) void chunk;
    await client.chat.completions.create({ model: 'fudbuddy', messages: [{ role: 'user', content: 'hello' }] });
    const r = await fetch(`${api.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(r.status).toBe(200);
    apiText = await r.text();
    stubText = await (await fetch(`${stub.url}/metrics`)).text();

    worker = await startWorker(metricsToken);
    const w = await fetch(`${worker.url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}` } });
    expect(w.status).toBe(200);
    workerText = await w.text();
  } catch (err) {
    await Promise.allSettled([api?.close(), worker?.close(), stub.close()]);
    throw err;
  }
}, 90_000);

afterAll(async () => {
  await Promise.allSettled([api?.close(), worker?.close(), stub?.close()]);
});

describe('metric names used by rules and dashboards exist', () => {
  it('the extractor finds the names (this test cannot pass vacuously)', () => {
    expect(metricNamesIn('sum by (host) (rate(fudbuddy_api_requests_total{status=~"5.."}[5m])) / on (instance) group_left (role) x_y > 1e9')).toEqual(
      new Set(['fudbuddy_api_requests_total', 'x_y']),
    );
    expect(metricNamesIn('max by (host) (vllm:kv_cache_usage_perc or vllm:gpu_cache_usage_perc) > 0.9')).toEqual(
      new Set(['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc']),
    );
    for (const n of ['fudbuddy_api_requests_total', 'fudbuddy_edge_requests_total', 'vllm:num_requests_waiting', 'nvidia_smi_temperature_celsius', 'node_filesystem_avail_bytes', 'probe_success', 'up']) {
      expect(used, n).toContain(n);
    }
  });

  it('the API bundle serves every contract metric (real /metrics after real chats)', () => {
    const { families, samples } = parseExposition(apiText);
    for (const m of CONTRACT_API_METRICS) expect(families.has(m), m).toBe(true);
    // Histograms got observations from the chats above.
    expect(samples).toContain('fudbuddy_api_ttft_seconds_bucket');
    expect(samples).toContain('fudbuddy_api_request_duration_seconds_bucket');
  });

  it('every fudbuddy_api_* name used exists in the API output', () => {
    const real = seriesNames(parseExposition(apiText).families);
    const missing = [...used].filter((n) => n.startsWith('fudbuddy_api_') && !real.has(n));
    expect(missing).toEqual([]);
  });

  it('every fudbuddy_edge_* name used exists in the Worker output (workerd)', () => {
    const real = seriesNames(parseExposition(workerText).families);
    for (const m of CONTRACT_EDGE_METRICS) expect(real.has(m), m).toBe(true);
    const missing = [...used].filter((n) => n.startsWith('fudbuddy_edge_') && !real.has(n));
    expect(missing).toEqual([]);
  });

  it('every other name is in a fixture (vLLM, node exporter, GPU exporter, blackbox, textfiles, Prometheus)', () => {
    const known = new Set<string>();
    for (const f of ['vllm.txt', 'node-exporter.txt', 'gpu-exporter.txt', 'blackbox-exporter.txt', 'fudbuddy-textfiles.txt', 'prometheus.txt']) {
      for (const n of seriesNames(loadFixture(f))) known.add(n);
    }
    const missing = [...used].filter((n) => !n.startsWith('fudbuddy_api_') && !n.startsWith('fudbuddy_edge_') && !known.has(n));
    expect(missing).toEqual([]);
  });

  it("the model stub's vllm:* metrics are real vLLM names (dashboards work against the stub)", () => {
    const vllm = seriesNames(loadFixture('vllm.txt'));
    const stubFamilies = [...parseExposition(stubText).families.keys()].filter((n) => n.startsWith('vllm:'));
    expect(stubFamilies.length).toBeGreaterThan(3);
    expect(stubFamilies.filter((n) => !vllm.has(n))).toEqual([]);
  });
});
