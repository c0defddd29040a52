// The Monitoring component alone under Pulumi mocks (no engine, no SSH — mock): the resources per exposure mode,
// their ordering, content-hash triggers, and that every secret stays secret (the composition is E's tests).
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportersTeardownArgs, serverTeardownArgs } from '../../components/lib/hostFootprint.js';
import { installMocks, isSecretEnvelope, plainText, value } from '../support/pulumiMocks.js';

const mocks = await installMocks({ state: () => ({ stdout: 'FUDBUDDY_RESULT=changed\n', stderr: '' }) }, 'fudbuddy', 'monitoring-mocktest');
const { resources } = mocks;

// Import after setMocks, as Pulumi requires.
const { Monitoring, validateMonitoringArgs } = await import('../../components/monitoring.js');
type MonitoringArgs = import('../../components/monitoring.js').MonitoringArgs;

const plain = (v: unknown): unknown => (isSecretEnvelope(v) ? v.value : v);
/** JSON of the inputs with every secret replaced by a marker: what would be readable in plaintext state. */
const visible = plainText;

const SECRETS = {
  sshKey: '-----BEGIN OPENSSH PRIVATE KEY-----mock-ssh-key-monitoring',
  metricsToken: 'metrics-token-SECRET-marker-0001',
  edgeToken: 'edge-metrics-token-SECRET-marker-0002',
  webhook: 'https://hooks.example.com/services/SECRET-marker-0003',
  smtp: 'smtp-password-SECRET-marker-0004',
  grafana: 'grafana-admin-SECRET-marker-0005',
};

function args(exposure: 'private' | 'public', over: Partial<MonitoringArgs> = {}): MonitoringArgs {
  const conn = (host: string, user = 'root') => ({ host, user, privateKey: pulumi.secret(SECRETS.sshKey) });
  return {
    exposure,
    monitoringHost: { name: 'edge', connection: conn('203.0.113.10', 'ops'), tailnetAddress: 'edge.tail1234.ts.net' },
    gpuHosts: [
      { name: 'gpu-1', connection: conn('203.0.113.20'), tailnetAddress: pulumi.output('100.64.0.7') },
      { name: 'gpu-2', connection: conn('203.0.113.21'), tailnetAddress: '100.64.0.8', gpu: false, modelsDir: '/srv/models' },
    ],
    apiMetricsToken: pulumi.secret(SECRETS.metricsToken),
    edgeMetrics: exposure === 'public' ? { url: 'https://api.fudbuddy.example/metrics', token: pulumi.secret(SECRETS.edgeToken) } : undefined,
    healthProbes:
      exposure === 'public'
        ? [
            { name: 'worker', url: 'https://api.fudbuddy.example/healthz' },
            { name: 'funnel', url: 'https://edge.tail1234.ts.net/healthz' },
          ]
        : [{ name: 'tailnet-serve', url: 'https://edge.tail1234.ts.net/healthz' }],
    alerting: {
      webhookUrl: pulumi.secret(SECRETS.webhook),
      email: { to: 'ops@fudbuddy.example', from: 'alerts@fudbuddy.example', smarthost: 'smtp.example.com:587', authUsername: 'alerts', authPassword: pulumi.secret(SECRETS.smtp) },
    },
    grafanaAdminPassword: pulumi.secret(SECRETS.grafana),
    credentialExpiries: [{ credential: 'tailscale-api-key', expiresAt: '2027-02-01T00:00:00Z' }],
    ...over,
  };
}

async function build(name: string, a: MonitoringArgs) {
  const m = new Monitoring(name, a);
  // Wait until every child is registered (mocks record inputs at registration).
  await Promise.all([m.server, ...Object.values(m.exporters), ...m.secretWrites].map((r) => value(r.id)));
  await mocks.settled();
  const mine = resources.filter((r) => r.name.startsWith(`${name}-`));
  const byName = new Map(mine.map((r) => [r.name, r]));
  return { m, mine, byName, prometheus: parse(await value(m.prometheusConfig)) as { scrape_configs: { job_name: string; static_configs?: { targets: string[] }[] }[] } };
}

const decodePayload = (payload: string): Record<string, string> => {
  const files: Record<string, string> = {};
  for (const m of payload.matchAll(/base64 -d > "\$STAGE\/([^"]+)" <<'FUDBUDDY_B64'\n([\s\S]*?)\nFUDBUDDY_B64/g)) {
    files[m[1]!] = Buffer.from(m[2]!.replace(/\n/g, ''), 'base64').toString('utf8');
  }
  return files;
};

describe('Monitoring component (Pulumi mocks)', () => {
  it('private mode: exporters per GPU host, the server, and three secret writes (no Worker token)', async () => {
    const { mine, byName, prometheus } = await build('mon-priv', args('private'));
    expect(mine.map((r) => r.name).sort()).toEqual(
      [
        'mon-priv-exporters-gpu-1',
        'mon-priv-exporters-gpu-2',
        'mon-priv-exporters-teardown-gpu-1',
        'mon-priv-exporters-teardown-gpu-2',
        'mon-priv-secret-alertmanager-config',
        'mon-priv-secret-api-metrics-token',
        'mon-priv-secret-grafana-admin-password',
        'mon-priv-server',
        'mon-priv-server-teardown',
      ].sort(),
    );
    for (const r of mine) expect(r.type).toBe('command:remote:Command');
    expect(prometheus.scrape_configs.map((s) => s.job_name)).not.toContain('fudbuddy-edge');
    const api = prometheus.scrape_configs.find((s) => s.job_name === 'fudbuddy-api')!;
    expect(api.static_configs!.map((c) => c.targets[0])).toEqual(['100.64.0.7:8001', '100.64.0.8:8001']);
    // The SSH user of the monitoring host is not root: every step goes through sudo -n.
    expect(plain(byName.get('mon-priv-server')!.inputs.create)).toBe('sudo -n bash -s');
    expect(plain(byName.get('mon-priv-exporters-gpu-1')!.inputs.create)).toBe('bash -s');
    // Destroy removes the exporters' units and files (hostFootprint's list), never the host's firewall; no update runs it.
    const teardown = byName.get('mon-priv-exporters-teardown-gpu-1')!.inputs;
    expect(plain(teardown.create)).toBe('true');
    expect(plain(teardown.delete)).toBe(`bash /opt/fudbuddy/bin/teardown.sh ${exportersTeardownArgs().join(' ')}`);
    expect(plain(teardown.delete)).toContain('--unit fudbuddy-vllm-metrics.service');
    expect(plain(teardown.delete)).toContain('--keep-firewall');
    expect(teardown.triggers).toEqual([]);
    // The server's teardown removes every secret file a secret step writes (its DEST), and runs on destroy only.
    const server = byName.get('mon-priv-server-teardown')!.inputs;
    expect(plain(server.create)).toBe('true');
    expect(server.triggers).toEqual([]);
    const del = plain(server.delete) as string;
    expect(del).toBe(`test ! -e /usr/local/lib/fudbuddy-monitoring/server-teardown.sh || sudo -n bash /usr/local/lib/fudbuddy-monitoring/server-teardown.sh ${serverTeardownArgs().join(' ')}`);
    const removed = serverTeardownArgs().filter((a, i, all) => all[i - 1] === '--path');
    const secretDests = mine.filter((r) => r.name.includes('-secret-')).map((r) => /write-secret\.sh (\S+) /.exec(plain(r.inputs.create) as string)![1]!);
    expect(secretDests.length).toBe(3);
    for (const d of secretDests) expect(removed.some((p) => d === p || d.startsWith(`${p}/`)), `${d} is left behind by destroy`).toBe(true);
  });

  it('public mode adds the Worker scrape, its token write and the Worker/Funnel probes', async () => {
    const { mine, prometheus, m } = await build('mon-pub', args('public'));
    expect(mine.map((r) => r.name)).toContain('mon-pub-secret-edge-metrics-token');
    const edge = prometheus.scrape_configs.find((s) => s.job_name === 'fudbuddy-edge')!;
    expect(edge.static_configs![0]!.targets).toEqual(['api.fudbuddy.example']);
    const bb = prometheus.scrape_configs.find((s) => s.job_name === 'blackbox-http')!;
    expect(bb.static_configs!.map((c) => c.targets[0])).toEqual(['https://api.fudbuddy.example/healthz', 'https://edge.tail1234.ts.net/healthz']);
    expect(m.tailnetAccess.gpuPorts).toEqual([9100, 9402]);
    expect(m.tailnetAccess.logsFromGpuPorts).toEqual([]);
  });

  it('payloads: the GPU host gets its settings, the server gets the rendered config, rules and dashboards', async () => {
    const { byName } = await build('mon-pay', args('public'));
    const gpu2 = plain(byName.get('mon-pay-exporters-gpu-2')!.inputs.stdin) as string;
    expect(gpu2).toContain("export GPU='0'");
    expect(gpu2).toContain("export MODELS_DIR='/srv/models'");
    expect(gpu2).toContain("export HOST_NAME='gpu-2'");
    expect(gpu2).toMatch(/export PIN_NOBLE_PROMETHEUS_NODE_EXPORTER='[0-9.*]+'/);
    expect(Object.keys(decodePayload(gpu2))).toContain('vllm-metrics-proxy.mjs');
    const server = decodePayload(plain(byName.get('mon-pay-server')!.inputs.stdin) as string);
    expect(server['prometheus.yml']).toContain('100.64.0.7:9402');
    expect(server['credentials.prom']).toContain('credential="tailscale-api-key"} 1801440000');
    expect(Object.keys(server).filter((f) => f.startsWith('rules/')).length).toBeGreaterThan(0);
    expect(Object.keys(server).some((f) => f.startsWith('dashboards/'))).toBe(true);
  });

  it('every secret stays secret: stdin of secret writes is secret, and no secret value is readable anywhere', async () => {
    const { mine, byName } = await build('mon-sec', args('public'));
    for (const id of ['api-metrics-token', 'edge-metrics-token', 'alertmanager-config', 'grafana-admin-password']) {
      const r = byName.get(`mon-sec-secret-${id}`)!;
      expect(isSecretEnvelope(r.inputs.stdin), id).toBe(true);
      const trig = r.inputs.triggers;
      expect(isSecretEnvelope(trig) || isSecretEnvelope((trig as unknown[])[0]), `${id} trigger`).toBe(true);
      expect(plain(r.inputs.create)).toMatch(/^sudo -n \/usr\/local\/lib\/fudbuddy-monitoring\/write-secret\.sh \/etc\//);
    }
    const am = plain(byName.get('mon-sec-secret-alertmanager-config')!.inputs.stdin) as string;
    expect(am).toContain(SECRETS.webhook);
    expect(am).toContain(SECRETS.smtp);
    for (const r of mine) {
      const v = visible(r.inputs);
      for (const s of Object.values(SECRETS)) expect(v, `${r.name} shows a secret`).not.toContain(s);
    }
  });

  it('ordering: the server waits for the exporters; secrets wait for the server', async () => {
    const { deps, recordDeps } = mocks;
    const m = new Monitoring('mon-ord', args('public'), { transformations: [recordDeps] });
    await Promise.all([m.server, ...m.secretWrites].map((r) => value(r.id)));
    await mocks.settled();
    expect(deps.get('mon-ord-server')).toEqual(expect.arrayContaining(['mon-ord-exporters-gpu-1', 'mon-ord-exporters-gpu-2']));
    for (const s of ['api-metrics-token', 'edge-metrics-token', 'alertmanager-config', 'grafana-admin-password']) {
      expect(deps.get(`mon-ord-secret-${s}`), s).toEqual(['mon-ord-server']);
    }
  });

  it('triggers are content hashes: same inputs, same triggers; a changed target re-runs only the server', async () => {
    const a = await build('mon-h1', args('private'));
    const b = await build('mon-h2', args('private'));
    const c = await build('mon-h3', args('private', { healthProbes: [{ name: 'tailnet-serve', url: 'https://edge2.tail1234.ts.net/healthz' }] }));
    const trig = (x: Awaited<ReturnType<typeof build>>, n: string, prefix: string) => JSON.stringify(x.byName.get(`${prefix}-${n}`)!.inputs.triggers);
    expect(trig(a, 'server', 'mon-h1')).toBe(trig(b, 'server', 'mon-h2'));
    expect(trig(a, 'exporters-gpu-1', 'mon-h1')).toBe(trig(b, 'exporters-gpu-1', 'mon-h2'));
    expect(trig(a, 'server', 'mon-h1')).not.toBe(trig(c, 'server', 'mon-h3'));
    expect(trig(a, 'exporters-gpu-1', 'mon-h1')).toBe(trig(c, 'exporters-gpu-1', 'mon-h3'));
  });

  it('logs: exporters get the Loki push URL of the monitoring host, the server installs Loki', async () => {
    const { byName, m } = await build('mon-logs', args('private', { logs: true }));
    const gpu1 = plain(byName.get('mon-logs-exporters-gpu-1')!.inputs.stdin) as string;
    expect(gpu1).toContain("export LOKI_PUSH_URL='http://edge.tail1234.ts.net:3100/loki/api/v1/push'");
    // ... and the component asks the tailnet policy for exactly that port (tag:gpu → tag:monitoring:3100).
    expect(m.tailnetAccess.logsFromGpuPorts).toEqual([3100]);
    expect(gpu1).toContain("export LOGS='1'");
    const server = plain(byName.get('mon-logs-server')!.inputs.stdin) as string;
    expect(server).toContain("export LOGS='1'");
    expect(decodePayload(server)['grafana/datasources.yml']).toContain('fudbuddy-loki');
  });

  it('grafana on (the default): the payload stages and runs Grafana, its admin password has its own step', async () => {
    const { mine, byName, m } = await build('mon-gf', args('private'));
    expect(mine.map((r) => r.name)).toContain('mon-gf-secret-grafana-admin-password');
    const stdin = plain(byName.get('mon-gf-server')!.inputs.stdin) as string;
    expect(stdin).toContain("export GRAFANA='1'");
    expect(Object.keys(decodePayload(stdin))).toEqual(expect.arrayContaining(['grafana-server.sh', 'grafana.env', 'grafana/datasources.yml']));
    expect(m.grafanaAccess).toMatch(/^ssh -L 3000:127\.0\.0\.1:3000 /);
  });

  it('grafana: false: no Grafana file or step, no admin password needed, no Grafana access', async () => {
    const { mine, byName, m } = await build('mon-nogf', args('private', { grafana: false, grafanaAdminPassword: undefined }));
    expect(mine.map((r) => r.name).sort()).toEqual(
      ['mon-nogf-exporters-gpu-1', 'mon-nogf-exporters-gpu-2', 'mon-nogf-exporters-teardown-gpu-1', 'mon-nogf-exporters-teardown-gpu-2', 'mon-nogf-secret-alertmanager-config', 'mon-nogf-secret-api-metrics-token', 'mon-nogf-server', 'mon-nogf-server-teardown'].sort(),
    );
    const stdin = plain(byName.get('mon-nogf-server')!.inputs.stdin) as string;
    expect(stdin).toContain("export GRAFANA='0'");
    expect(stdin).toContain('bash "$STAGE/monitoring-host.sh"');
    const files = decodePayload(stdin);
    expect(Object.keys(files).filter((f) => /grafana|^dashboards\//.test(f))).toEqual([]);
    // Prometheus & co. are all there.
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['monitoring-host.sh', 'monitoring-server.sh', 'prometheus.yml', 'write-secret.sh']));
    expect(m.grafanaAccess).toBeNull();
  });

  it('bad arguments fail at preview with the key named', () => {
    expect(() => validateMonitoringArgs(args('private', { grafanaAdminPassword: undefined }))).toThrow(/monitoring\.grafanaAdminPassword: is required when grafana is on/);
    expect(() => validateMonitoringArgs(args('private', { grafana: false, grafanaAdminPassword: undefined }))).not.toThrow();
    expect(() => validateMonitoringArgs(args('private', { grafana: false, logs: true }))).toThrow(/monitoring\.logs: needs grafana/);
    expect(() => validateMonitoringArgs(args('public', { edgeMetrics: undefined }))).toThrow(/monitoring\.edgeMetrics: is required when exposure is "public"/);
    expect(() => validateMonitoringArgs(args('private', { alerting: {} }))).toThrow(/monitoring\.alerting/);
    expect(() => validateMonitoringArgs(args('private', { healthProbes: [] }))).toThrow(/monitoring\.healthProbes/);
    expect(() => validateMonitoringArgs(args('private', { gpuHosts: [] }))).toThrow(/monitoring\.gpuHosts/);
    expect(() =>
      validateMonitoringArgs(args('private', { logs: true, monitoringHost: { name: 'edge', connection: { host: 'h', user: 'root', privateKey: 'k' } } })),
    ).toThrow(/monitoring\.monitoringHost\.tailnetAddress/);
    expect(() => validateMonitoringArgs(args('private', { retention: 'forever' }))).toThrow(/monitoring\.retention/);
    const dup = args('private');
    dup.gpuHosts = [dup.gpuHosts[0]!, { ...dup.gpuHosts[0]! }];
    expect(() => validateMonitoringArgs(dup)).toThrow(/gpuHosts\[1\]\.name: 'gpu-1' appears twice/);
  });
});
