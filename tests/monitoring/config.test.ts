// The rendered configs, checked with the real tools: `promtool check config` on prometheus.yml rendered with sample
// stack values (private and public mode) into a temp dir, `amtool check-config` on alertmanager.yml, `promtool check
// metrics` on the textfiles, and the install payload unpacked and run by bash for real.
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  buildInstallPayload,
  gpuPayloadFiles,
  loadMonitoringVersions,
  renderAlertmanagerConfig,
  renderCredentialExpiryTextfile,
  renderGrafanaDatasources,
  renderGrafanaEnv,
  renderPrometheusConfig,
  serverPayloadFiles,
  versionEnv,
  type ScrapeInput,
} from '../../components/lib/monitoringConfig.js';
import { MONITORING, requireTool, RULE_FILES, run, SCRIPTS } from './support.js';

const promtool = requireTool('promtool', 'prometheus');
const tmp = mkdtempSync(path.join(tmpdir(), 'fudbuddy-monconfig-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Renders prometheus.yml into its own dir with the rules and (optionally) the secret files promtool insists on. */
function renderInto(name: string, input: Omit<ScrapeInput, 'rulesGlob' | 'secretsDir'>, secrets = true): { dir: string; file: string; yml: string } {
  const dir = path.join(tmp, name);
  mkdirSync(path.join(dir, 'rules'), { recursive: true });
  mkdirSync(path.join(dir, 'secrets'), { recursive: true });
  for (const f of RULE_FILES) cpSync(f, path.join(dir, 'rules', path.basename(f)));
  if (secrets) {
    for (const s of ['api-metrics-token', 'edge-metrics-token']) {
      writeFileSync(path.join(dir, 'secrets', s), 'sample-token\n');
      chmodSync(path.join(dir, 'secrets', s), 0o600);
    }
  }
  const yml = renderPrometheusConfig({ ...input, rulesGlob: path.join(dir, 'rules', '*.yml'), secretsDir: path.join(dir, 'secrets') });
  const file = path.join(dir, 'prometheus.yml');
  writeFileSync(file, yml);
  return { dir, file, yml };
}

const privateStack = {
  monitoringHost: 'edge',
  gpuHosts: [
    { name: 'gpu-1', address: '100.101.102.103', apiPort: 8001, gpu: true },
    { name: 'gpu-2', address: 'gpu-2.tail1234.ts.net', apiPort: 8001, gpu: true },
  ],
  probes: [{ name: 'tailnet-serve', url: 'https://edge.tail1234.ts.net/healthz' }],
};
const publicStack = {
  monitoringHost: 'edge',
  gpuHosts: [{ name: 'gpu-1', address: '100.101.102.103', apiPort: 8001, gpu: true }],
  edgeMetricsUrl: 'https://api.fudbuddy.example/metrics',
  probes: [
    { name: 'worker', url: 'https://api.fudbuddy.example/healthz' },
    { name: 'funnel', url: 'https://edge.tail1234.ts.net/healthz' },
  ],
};

type Job = { job_name: string; static_configs?: { targets: string[]; labels?: Record<string, string> }[]; authorization?: { credentials_file?: string; credentials?: string } };
const jobs = (yml: string): Map<string, Job> => new Map((parse(yml) as { scrape_configs: Job[] }).scrape_configs.map((j) => [j.job_name, j]));

describe('prometheus.yml (promtool check config)', () => {
  it('private mode: valid, scrapes every GPU host over the tailnet, no Worker job', () => {
    const { file, yml } = renderInto('private', privateStack);
    const r = run(promtool, ['check', 'config', file]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rule files found/);
    const j = jobs(yml);
    expect([...j.keys()].sort()).toEqual(['alertmanager', 'blackbox-http', 'fudbuddy-api', 'node', 'prometheus', 'vllm']);
    expect(j.get('fudbuddy-api')!.static_configs!.map((c) => c.targets[0])).toEqual(['100.101.102.103:8001', 'gpu-2.tail1234.ts.net:8001']);
    expect(j.get('vllm')!.static_configs!.map((c) => c.targets[0])).toEqual(['100.101.102.103:9402', 'gpu-2.tail1234.ts.net:9402']);
    expect(j.get('node')!.static_configs!.map((c) => `${c.labels!.host}=${c.targets[0]}`)).toEqual([
      'edge=127.0.0.1:9100',
      'gpu-1=100.101.102.103:9100',
      'gpu-2=gpu-2.tail1234.ts.net:9100',
    ]);
  });

  it('public mode: valid, adds the Worker /metrics over HTTPS with a bearer token file', () => {
    const { file, yml } = renderInto('public', publicStack);
    const r = run(promtool, ['check', 'config', file]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    const edge = parse(yml).scrape_configs.find((s: { job_name: string }) => s.job_name === 'fudbuddy-edge');
    expect(edge).toMatchObject({ scheme: 'https', metrics_path: '/metrics', static_configs: [{ targets: ['api.fudbuddy.example'] }] });
    expect(edge.authorization.credentials_file).toMatch(/edge-metrics-token$/);
    const bb = jobs(yml).get('blackbox-http')!;
    expect(bb.static_configs!.map((c) => `${c.labels!.probe}=${c.targets[0]}`)).toEqual([
      'worker=https://api.fudbuddy.example/healthz',
      'funnel=https://edge.tail1234.ts.net/healthz',
    ]);
  });

  it('tokens are referenced by 0600 file path, never inline; nothing targets 0.0.0.0', () => {
    const { yml } = renderInto('tokens', publicStack);
    for (const j of jobs(yml).values()) expect(j.authorization?.credentials, j.job_name).toBeUndefined();
    expect(yml).not.toContain('sample-token');
    expect(yml).not.toMatch(/0\.0\.0\.0/);
  });

  it('promtool rejects the config when a token file is missing (the check is real)', () => {
    const { file } = renderInto('nosecrets', privateStack, false);
    const r = run(promtool, ['check', 'config', file]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('api-metrics-token');
  });

  it('a GPU host that is also the monitoring host is scraped once on its tailnet address', () => {
    const { yml } = renderInto('shared', { ...privateStack, monitoringHost: 'gpu-1' });
    const node = jobs(yml).get('node')!;
    expect(node.static_configs!.map((c) => c.targets[0])).toEqual(['100.101.102.103:9100', 'gpu-2.tail1234.ts.net:9100']);
  });

  it('bad input fails with the key named', () => {
    expect(() => renderInto('bad1', { ...privateStack, gpuHosts: [] })).toThrow(/prometheus\.gpuHosts/);
    expect(() => renderInto('bad2', { ...privateStack, gpuHosts: [{ name: 'GPU 1', address: 'x', apiPort: 8001, gpu: true }] })).toThrow(/gpuHosts\.0\.name/);
    expect(() => renderInto('bad3', { ...privateStack, probes: [{ name: 'p', url: 'ftp://x' }] })).toThrow(/probes\.0\.url/);
    expect(() => renderInto('bad4', { ...privateStack, probes: [{ name: 'p', url: 'https://a/healthz' }, { name: 'p', url: 'https://b/healthz' }] })).toThrow(/probe name 'p' appears twice/);
    expect(() => renderInto('bad5', { ...privateStack, gpuHosts: [{ name: 'g', address: '', apiPort: 8001, gpu: true }] })).toThrow(/gpuHosts\.0\.address/);
  });
});

describe('alertmanager.yml (amtool check-config)', () => {
  const amtool = requireTool('amtool', 'prometheus-alertmanager');
  const check = (name: string, yml: string) => {
    const file = path.join(tmp, `${name}.yml`);
    writeFileSync(file, yml, { mode: 0o600 });
    return run(amtool, ['check-config', file]);
  };

  it('webhook route is valid', () => {
    const yml = renderAlertmanagerConfig({ webhookUrl: 'https://hooks.example.com/services/T0/B0/secret-part' });
    const r = check('am-webhook', yml);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('1 receivers');
    expect(r.stdout).toMatch(/\d+ inhibit rules/);
  });

  it('e-mail route (with and without SMTP auth) is valid', () => {
    const withAuth = renderAlertmanagerConfig({
      email: { to: 'ops@fudbuddy.example', from: 'alerts@fudbuddy.example', smarthost: 'smtp.example.com:587', authUsername: 'alerts', authPassword: 'pw-marker' },
    });
    expect(check('am-email', withAuth).status).toBe(0);
    expect(parse(withAuth).receivers[0].email_configs[0]).toMatchObject({ require_tls: true, auth_password: 'pw-marker' });
    const noAuth = renderAlertmanagerConfig({ email: { to: 'ops@fudbuddy.example', from: 'alerts@fudbuddy.example', smarthost: 'smtp.example.com:25' } });
    expect(check('am-email2', noAuth).status).toBe(0);
  });

  it('amtool rejects a broken route (the check is real)', () => {
    const yml = renderAlertmanagerConfig({ webhookUrl: 'https://hooks.example.com/x' }).replace('receiver: fudbuddy-ops', 'receiver: nobody');
    expect(check('am-broken', yml).status).not.toBe(0);
  });

  it('every inhibit rule names alerts that exist', () => {
    const names = new Set(RULE_FILES.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1]!)));
    const am = parse(renderAlertmanagerConfig({ webhookUrl: 'https://hooks.example.com/x' })) as { inhibit_rules: { source_matchers: string[]; target_matchers: string[] }[] };
    for (const rule of am.inhibit_rules) {
      for (const m of [...rule.source_matchers, ...rule.target_matchers]) {
        const alt = /alertname=~?"([^"]+)"/.exec(m)![1]!;
        for (const n of alt.split('|')) expect(names, m).toContain(n);
      }
    }
  });

  it('no receiver configured fails naming what to set', () => {
    expect(() => renderAlertmanagerConfig({})).toThrow(/alertWebhookUrl.*alertEmail/);
    expect(() => renderAlertmanagerConfig({ webhookUrl: 'not a url' })).toThrow(/alerting\.webhookUrl/);
  });
});

describe('textfiles and Grafana settings', () => {
  it('credential expiry textfile passes promtool check metrics and holds Unix seconds', () => {
    const text = renderCredentialExpiryTextfile([
      { credential: 'tailscale-api-key', expiresAt: '2027-02-01T00:00:00Z' },
      { credential: 'cloudflare-api-token', expiresAt: '2027-03-01T12:00:00+01:00' },
    ]);
    const r = run(promtool, ['check', 'metrics'], { input: text });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(text).toContain('fudbuddy_credential_expiry_timestamp_seconds{credential="tailscale-api-key"} 1801440000');
    expect(text).toContain('fudbuddy_credential_expiry_timestamp_seconds{credential="cloudflare-api-token"} 1803898800');
    expect(() => renderCredentialExpiryTextfile([{ credential: 'x', expiresAt: 'soon' }])).toThrow(/expiresAt of 'x'/);
    expect(() => renderCredentialExpiryTextfile([{ credential: 'bad"name', expiresAt: '2027-01-01T00:00:00Z' }])).toThrow(/not a valid credential name/);
  });

  it('Grafana datasources: Prometheus always (default), Loki only with logs', () => {
    const without = parse(renderGrafanaDatasources({ logs: false })).datasources;
    const withLogs = parse(renderGrafanaDatasources({ logs: true })).datasources;
    expect(without.map((d: { uid: string }) => d.uid)).toEqual(['fudbuddy-prometheus']);
    expect(withLogs.map((d: { uid: string }) => d.uid)).toEqual(['fudbuddy-prometheus', 'fudbuddy-loki']);
    expect(without[0]).toMatchObject({ type: 'prometheus', url: 'http://127.0.0.1:9090', isDefault: true });
  });

  it('Grafana listens on loopback, no sign-up, no anonymous access, password from a file', () => {
    const env = renderGrafanaEnv({ externalUrl: 'https://grafana.fudbuddy.example' });
    expect(env).toContain('GF_SERVER_HTTP_ADDR=127.0.0.1\n');
    expect(env).toContain('GF_USERS_ALLOW_SIGN_UP=false\n');
    expect(env).toContain('GF_AUTH_ANONYMOUS_ENABLED=false\n');
    expect(env).toContain('GF_SECURITY_ADMIN_PASSWORD__FILE=/etc/grafana/fudbuddy-admin-password\n');
    expect(env).not.toMatch(/GF_SECURITY_ADMIN_PASSWORD=/);
    expect(() => renderGrafanaEnv({ externalUrl: 'javascript:alert(1)' })).toThrow(/externalUrl/);
  });

  it('blackbox, Loki and datasource files are well-formed YAML with the expected shape', () => {
    const bb = parse(readFileSync(path.join(MONITORING, 'blackbox/blackbox.yml'), 'utf8'));
    expect(bb.modules.http_2xx.prober).toBe('http');
    const loki = parse(readFileSync(path.join(MONITORING, 'loki/loki.yml'), 'utf8'));
    expect(loki.server.http_listen_address).toBe('${LOKI_LISTEN_ADDRESS}');
    expect(loki.schema_config.configs[0].schema).toBe('v13');
    const alloy = readFileSync(path.join(MONITORING, 'alloy/config.alloy'), 'utf8');
    expect(alloy).toContain('loki.source.journal');
    expect(alloy).toContain('sys.env("LOKI_PUSH_URL")');
  });
});

describe('versions pin', () => {
  it('monitoring/versions.json pins every package the scripts install, for jammy and noble', () => {
    const v = loadMonitoringVersions();
    for (const codename of ['jammy', 'noble']) {
      expect(Object.keys(v.ubuntu[codename]!).sort()).toEqual(['prometheus', 'prometheus-alertmanager', 'prometheus-blackbox-exporter', 'prometheus-node-exporter']);
    }
    const env = versionEnv(v);
    expect(env.PIN_NOBLE_PROMETHEUS_NODE_EXPORTER).toBe(v.ubuntu.noble!['prometheus-node-exporter']);
    expect(env.GRAFANA_VERSION).toMatch(/^\d+\.\d+\.\d+$/);
    const scripts = ['gpu-exporters.sh', 'monitoring-server.sh', 'grafana-server.sh', 'logs-server.sh'].map((f) => readFileSync(path.join(SCRIPTS, f), 'utf8')).join('\n');
    for (const pkg of Object.keys(v.ubuntu.noble!)) expect(scripts).toContain(`pinned_version ${pkg}`);
    for (const k of ['GRAFANA_VERSION', 'LOKI_VERSION', 'ALLOY_VERSION']) expect(scripts).toContain(k);
  });

  it('a bad override fails naming the key', () => {
    expect(() => loadMonitoringVersions({ grafanaApt: { grafana: 'latest', loki: '3.7.0', alloy: '1.21.2' } })).toThrow(/versions\.grafanaApt\.grafana/);
  });
});

describe('install payload (unpacked and run by bash for real)', () => {
  it('recreates every file byte for byte, exports the env, and runs the entry with stdin closed', () => {
    const out = path.join(tmp, 'payload-out');
    const files = {
      'entry.sh': `set -euo pipefail\ncp -r "$STAGE/." "${out}/"\nprintf '%s|%s' "$HOST_NAME" "$TRICKY" > "${out}/env.txt"\nif read -r _; then echo stdin-open > "${out}/stdin.txt"; else echo stdin-closed > "${out}/stdin.txt"; fi\n`,
      'units/a.service': "[Service]\nExecStart=/bin/sh -c 'echo $HOME'\n",
      'weird.txt': "FUDBUDDY_B64\n'quotes' \"double\" $(not run) `nor this`\n",
    };
    mkdirSync(out, { recursive: true });
    const payload = buildInstallPayload({ entry: 'entry.sh', files, env: { HOST_NAME: 'gpu-1', TRICKY: "it's $(id) `x`" } });
    // Trailing junk after the payload must never be read by the entry script.
    const r = run('bash', ['-s'], { input: `${payload}echo should-not-be-read-by-entry\n` });
    expect(r.status, r.stderr).toBe(0);
    for (const [name, content] of Object.entries(files)) expect(readFileSync(path.join(out, name), 'utf8')).toBe(content);
    expect(readFileSync(path.join(out, 'env.txt'), 'utf8')).toBe("gpu-1|it's $(id) `x`");
    expect(readFileSync(path.join(out, 'stdin.txt'), 'utf8').trim()).toBe('stdin-closed');
    // The temp stage is removed afterwards.
    expect(existsSync(payload.match(/\/tmp\/fudbuddy-monitoring\.X+/)![0])).toBe(false);
  });

  it('rejects bad names and values', () => {
    expect(() => buildInstallPayload({ entry: 'x.sh', files: {}, env: {} })).toThrow(/entry x\.sh/);
    expect(() => buildInstallPayload({ entry: 'x.sh', files: { 'x.sh': '', '../evil': '' }, env: {} })).toThrow(/bad file name/);
    expect(() => buildInstallPayload({ entry: 'x.sh', files: { 'x.sh': '' }, env: { 'bad-key': 'v' } })).toThrow(/bad variable name/);
    expect(() => buildInstallPayload({ entry: 'x.sh', files: { 'x.sh': '' }, env: { K: 'a\nb' } })).toThrow(/newline/);
  });

  it('the GPU and server payloads ship every file their scripts read from $STAGE', () => {
    const gpu = gpuPayloadFiles();
    const server = serverPayloadFiles({ prometheusYml: 'x', credentialsProm: 'y', logs: true, grafana: true });
    for (const files of [gpu, server]) {
      for (const script of Object.keys(files).filter((f) => f.endsWith('.sh'))) {
        const wanted = [...files[script]!.matchAll(/"\$STAGE\/([A-Za-z0-9_./-]+)"/g)].map((m) => m[1]!).filter((p) => !p.includes('*'));
        for (const w of wanted) expect(Object.keys(files), `${script} reads $STAGE/${w}`).toContain(w);
      }
    }
    expect(server['monitoring-host.sh']).toContain('"$STAGE/grafana-server.sh"');
    expect(Object.keys(server).filter((f) => f.startsWith('rules/')).length).toBe(RULE_FILES.length);
    expect(Object.keys(server).some((f) => f.startsWith('dashboards/') && f.endsWith('.json'))).toBe(true);
  });

  it('grafana: false stages none of Grafana\'s files, and every file its other scripts read', () => {
    const server = serverPayloadFiles({ prometheusYml: 'x', credentialsProm: 'y', logs: false, grafana: false });
    const grafanaFiles = Object.keys(server).filter((f) => /grafana|^dashboards\//.test(f));
    expect(grafanaFiles).toEqual([]);
    const withGrafana = Object.keys(serverPayloadFiles({ prometheusYml: 'x', credentialsProm: 'y', logs: false, grafana: true }));
    expect(withGrafana.filter((f) => !(f in server)).sort()).toEqual(
      expect.arrayContaining(['grafana-server.sh', 'grafana.env', 'grafana/dashboards.yml', 'grafana/datasources.yml', 'units/grafana-override.conf']),
    );
    for (const script of Object.keys(server).filter((f) => f.endsWith('.sh'))) {
      const wanted = [...server[script]!.matchAll(/"\$STAGE\/([A-Za-z0-9_./-]+)"/g)].map((m) => m[1]!).filter((p) => !p.includes('*'));
      // monitoring-host.sh names grafana-server.sh behind GRAFANA=1 (run for real in host-scripts.test.ts).
      for (const w of wanted.filter((w) => w !== 'grafana-server.sh')) expect(Object.keys(server), `${script} reads $STAGE/${w}`).toContain(w);
    }
  });
});
