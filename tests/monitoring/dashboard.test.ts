// Grafana provisioning: the dashboard JSON is valid and self-consistent, every datasource it references is
// provisioned, and it covers what ops asked for (traffic, latency, TTFT, tokens/s, errors, GPU, fallback share).
// (Every query is also executed by a real Prometheus in scrape.test.ts.)
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { renderGrafanaDatasources } from '../../components/lib/monitoringConfig.js';
import { DASHBOARDS, loadDashboard, MONITORING } from './support.js';

describe('Grafana dashboards', () => {
  const provisioned = new Set<string>(parse(renderGrafanaDatasources({ logs: true })).datasources.map((d: { uid: string }) => d.uid));
  const promOnly = new Set<string>(parse(renderGrafanaDatasources({ logs: false })).datasources.map((d: { uid: string }) => d.uid));

  it('there is at least one dashboard and it parses as JSON', () => {
    expect(DASHBOARDS.length).toBeGreaterThan(0);
    for (const f of DASHBOARDS) expect(() => JSON.parse(readFileSync(f, 'utf8')), f).not.toThrow();
  });

  for (const file of DASHBOARDS) {
    const d = loadDashboard(file);
    const name = path.basename(file);

    it(`${name}: unique uid/panel ids, sane grid, every panel has a title and query`, () => {
      expect(d.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      const ids = d.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of d.panels) {
        expect(p.title, `panel ${p.id}`).toBeTruthy();
        expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
        if (p.type === 'row') continue;
        expect(p.targets?.length, p.title).toBeGreaterThan(0);
        for (const t of p.targets!) expect(t.expr?.trim(), p.title).toBeTruthy();
      }
    });

    it(`${name}: every datasource uid is provisioned (and works without Loki)`, () => {
      const refs = [
        ...d.panels.flatMap((p) => [p.datasource?.uid, ...(p.targets ?? []).map((t) => t.datasource?.uid)]),
        ...(d.templating?.list ?? []).map((v) => v.datasource?.uid),
      ].filter((u): u is string => u !== undefined);
      expect(refs.length).toBeGreaterThan(0);
      for (const u of refs) {
        expect(provisioned, u).toContain(u);
        expect(promOnly, `${u} needs logs enabled`).toContain(u);
      }
    });
  }

  it('the stack dashboard covers traffic, latency, TTFT, tokens/s, errors, GPU and fallback share', () => {
    const d = loadDashboard(path.join(MONITORING, 'grafana/dashboards/fudbuddy-stack.json'));
    const exprs = d.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')).join('\n');
    for (const needle of [
      'fudbuddy_api_requests_total',
      'fudbuddy_api_request_duration_seconds_bucket',
      'fudbuddy_api_ttft_seconds_bucket',
      'fudbuddy_api_tokens_total',
      'vllm:generation_tokens_total',
      'status=~"5.."',
      'nvidia_smi_utilization_gpu_ratio',
      'nvidia_smi_memory_used_bytes',
      'nvidia_smi_temperature_celsius',
      'served_by="fallback"',
      'probe_success',
    ]) {
      expect(exprs, needle).toContain(needle);
    }
  });

  it('the dashboard provider points at the directory the component installs to', () => {
    const provider = parse(readFileSync(path.join(MONITORING, 'grafana/provisioning/dashboards/fudbuddy.yml'), 'utf8'));
    expect(provider.providers[0].options.path).toBe('/var/lib/grafana/dashboards/fudbuddy');
    const server = readFileSync(path.join(MONITORING, '../components/scripts/monitoring/grafana-server.sh'), 'utf8');
    expect(server).toContain('/var/lib/grafana/dashboards/fudbuddy/$name');
  });
});
