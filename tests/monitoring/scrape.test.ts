// End to end on loopback: a real Prometheus (Debian's package) runs the rendered config and the real rules, scraping
// the real inference API bundle (bearer token from a 0600 file) and the vLLM metrics proxy in front of the model stub.
// Then every dashboard query and every rule expression is run through Prometheus' query API, and the rules must
// evaluate without errors. The scrape interval is shortened to 1 s for the test; nothing else of the config changes.
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { renderPrometheusConfig } from '../../components/lib/monitoringConfig.js';
import { startStub, type StubHandle } from '../../services/model-stub/src/stub.js';
import { freePort } from '../support/net.js';
import { randomToken, startApiBundle, startMetricsProxy, startPrometheus, type Proc } from './live.js';
import { dashboardExprs, grafanaToPromql, loadAlertRules, requireTool, RULE_FILES } from './support.js';

requireTool('prometheus', 'prometheus');
const tmp = mkdtempSync(path.join(tmpdir(), 'fudbuddy-scrape-'));
let stub: StubHandle;
let api: Proc;
let proxy: Proc;
let prom: Proc;
const apiToken = randomToken();
const metricsToken = randomToken();

interface QueryResult {
  status: string;
  error?: string;
  data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
}
async function query(q: string): Promise<QueryResult> {
  const r = await fetch(`${prom.url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: q }) });
  return (await r.json()) as QueryResult;
}
/** Polls (bounded: 30 s) until the instant query returns `want` as the single value. */
async function waitFor(q: string, want: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  let last: QueryResult | undefined;
  while (Date.now() < deadline) {
    last = await query(q);
    if (last.data?.result.length === 1 && last.data.result[0]!.value[1] === want) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${q} never became ${want}: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  try {
    stub = await startStub({ host: '127.0.0.1', port: 0, tokensPerSec: 0 });
    api = await startApiBundle({ UPSTREAM_BASE_URL: stub.baseURL, UPSTREAM_MODEL: 'fudbuddy', API_TOKENS: apiToken, METRICS_TOKENS: metricsToken });
    proxy = await startMetricsProxy({ UPSTREAM_URL: `${stub.url}/metrics` });

    mkdirSync(path.join(tmp, 'rules'));
    mkdirSync(path.join(tmp, 'secrets'));
    for (const f of RULE_FILES) cpSync(f, path.join(tmp, 'rules', path.basename(f)));
    for (const [f, v] of [['api-metrics-token', metricsToken], ['edge-metrics-token', 'unused']] as const) {
      writeFileSync(path.join(tmp, 'secrets', f), v);
      chmodSync(path.join(tmp, 'secrets', f), 0o600);
    }
    const yml = renderPrometheusConfig({
      monitoringHost: 'edge',
      gpuHosts: [{ name: 'gpu-1', address: '127.0.0.1', apiPort: api.port, gpu: false, metricsProxyPort: proxy.port, nodeExporterPort: await freePort() }],
      probes: [],
      rulesGlob: path.join(tmp, 'rules', '*.yml'),
      secretsDir: path.join(tmp, 'secrets'),
    });
    const cfg = parse(yml);
    cfg.global.scrape_interval = '1s';
    cfg.global.scrape_timeout = '1s';
    cfg.global.evaluation_interval = '1s';
    // No Alertmanager here, and keep the monitoring host's own targets off fixed loopback ports.
    delete cfg.alerting;
    cfg.scrape_configs = cfg.scrape_configs.filter((s: { job_name: string }) => ['fudbuddy-api', 'vllm'].includes(s.job_name));
    writeFileSync(path.join(tmp, 'prometheus.yml'), stringify(cfg));
    prom = await startPrometheus(path.join(tmp, 'prometheus.yml'), path.join(tmp, 'data'));

    const client = new OpenAI({ baseURL: `${api.url}/v1`, apiKey: apiToken, maxRetries: 0, timeout: 20_000 });
    const stream = await client.chat.completions.create({ model: 'fudbuddy', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) void chunk;
  } catch (err) {
    await Promise.allSettled([prom?.close(), proxy?.close(), api?.close(), stub?.close()]);
    throw err;
  }
}, 120_000);

afterAll(async () => {
  await Promise.allSettled([prom?.close(), proxy?.close(), api?.close(), stub?.close()]);
  rmSync(tmp, { recursive: true, force: true });
});

describe('Prometheus scrapes the real services with the rendered config', () => {
  it('the API target is up: the bearer token from the 0600 file is accepted', async () => {
    await waitFor('up{job="fudbuddy-api",host="gpu-1"}', '1');
    const r = await fetch(`${prom.url}/api/v1/targets`);
    const targets = ((await r.json()) as { data: { activeTargets: { labels: Record<string, string>; lastError: string; health: string }[] } }).data.activeTargets;
    const apiTarget = targets.find((t) => t.labels.job === 'fudbuddy-api')!;
    expect(apiTarget.lastError).toBe('');
    expect(apiTarget.labels.host).toBe('gpu-1');
  });

  it('vLLM metrics arrive through the proxy, labelled with the host', async () => {
    await waitFor('up{job="vllm"}', '1');
    await waitFor('count(vllm:num_requests_running{job="vllm",host="gpu-1"})', '1');
  });

  it('the chat shows up in the API series Prometheus stored', async () => {
    await waitFor('sum(fudbuddy_api_ttft_seconds_count{job="fudbuddy-api"}) > bool 0', '1');
    await waitFor('count(fudbuddy_api_requests_total{job="fudbuddy-api",status="200"}) > bool 0', '1');
  });

  it('every dashboard query and every alert expression is accepted by Prometheus', async () => {
    const exprs = [...dashboardExprs().map(grafanaToPromql), ...loadAlertRules().map((r) => r.expr)];
    expect(exprs.length).toBeGreaterThan(30);
    const failures: string[] = [];
    for (const e of exprs) {
      const r = await query(e);
      if (r.status !== 'success') failures.push(`${e}: ${r.error}`);
    }
    expect(failures).toEqual([]);
  });

  it('all rule groups evaluate without errors', async () => {
    const deadline = Date.now() + 30_000;
    type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
    let rules: Rule[] = [];
    while (Date.now() < deadline) {
      const r = (await (await fetch(`${prom.url}/api/v1/rules`)).json()) as { data: { groups: { rules: Rule[] }[] } };
      rules = r.data.groups.flatMap((g) => g.rules);
      if (rules.length > 0 && rules.every((x) => !x.lastEvaluation.startsWith('0001'))) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    expect(rules.length).toBe(loadAlertRules().length);
    expect(rules.filter((x) => x.health !== 'ok').map((x) => `${x.name}: ${x.lastError}`)).toEqual([]);
  });

  it('when the model server goes down the vllm target goes down (FudbuddyVllmDown input)', async () => {
    stub.setMode('down');
    try {
      await waitFor('up{job="vllm"}', '0');
    } finally {
      stub.setMode('ok');
    }
    await waitFor('up{job="vllm"}', '1');
  });
});
