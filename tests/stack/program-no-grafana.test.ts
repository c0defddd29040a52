// The whole program under Pulumi mocks (stand-in engine/providers), private exposure with `monitoring.grafana: false`
// and no grafanaAdminPassword: Prometheus, Alertmanager, exporters and alerting as usual, nothing of Grafana.
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_MARKERS, MARK, privateValues } from './fixtures.js';
import { byType, one, payloadFiles, plainText, runProgram, unwrap, type ProgramRun } from './harness.js';

let run: ProgramRun;
beforeAll(async () => {
  const values: Record<string, unknown> = { ...privateValues(), monitoring: { grafana: 'false' } };
  delete values.grafanaAdminPassword;
  run = await runProgram(values, { stack: 'private', extraConfig: { 'tailscale:apiKey': MARK.tailscaleApiKey } });
}, 60_000);

describe('private stack without Grafana (mock engine)', () => {
  it('installs the monitoring server without Grafana: GRAFANA=0, no Grafana file staged', () => {
    const stdin = String(unwrap(one(run, 'command:remote:Command', 'monitoring-server').inputs.stdin));
    expect(stdin).toContain("export GRAFANA='0'");
    const files = payloadFiles(stdin);
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['monitoring-host.sh', 'monitoring-server.sh', 'prometheus.yml']));
    expect(Object.keys(files).filter((f) => /grafana|^dashboards\//.test(f))).toEqual([]);
  });

  it('writes the monitoring secrets but no Grafana admin password', () => {
    const steps = byType(run, 'command:remote:Command').map((r) => r.name);
    expect(steps).toEqual(expect.arrayContaining(['monitoring-secret-api-metrics-token', 'monitoring-secret-alertmanager-config']));
    expect(steps.filter((n) => n.includes('grafana'))).toEqual([]);
    for (const r of byType(run, 'command:remote:Command')) expect(plainText(r.inputs), r.name).not.toContain('--grafana-admin');
  });

  it('exports no Grafana access and keeps every marker secret', () => {
    expect(run.exports.grafana).toBeNull();
    expect(run.exports.exposure).toBe('private');
    const exported = JSON.stringify(run.exports);
    for (const m of ALL_MARKERS) expect(exported).not.toContain(m);
  });
});
