// monitoring-server.sh (Prometheus, Alertmanager, blackbox + node exporter) and write-secret.sh run for real, twice,
// over real SSH on a throwaway Debian host, fed the payload the component sends. apt works offline there: Debian's
// real packages (fetched here with `apt-get download`) are served from a local file repository on the host.
// Stand-in only for systemd as PID 1 (the host layer's `systemctl` stand-in + fixtures/systemctl-timer-standin.sh).
// Grafana/Loki come from Grafana's apt repository, which cannot exist here: grafana-server.sh / logs-server.sh are
// checked by shellcheck and the payload tests only.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildInstallPayload,
  renderAlertmanagerConfig,
  renderCredentialExpiryTextfile,
  renderPrometheusConfig,
  serverPayloadFiles,
} from '../../components/lib/monitoringConfig.js';
import { ensureTestHostRoot, startTestHost, testHostUnavailableReason, type TestHost } from '../support/testHost.js';
import { ROOT } from './support.js';

const PACKAGES = [
  'prometheus',
  'prometheus-alertmanager',
  'prometheus-blackbox-exporter',
  'prometheus-node-exporter',
  // prometheus' web UI dependencies, absent from the minimal test root
  'fonts-glyphicons-halflings',
  'javascript-common',
  'libjs-bootstrap',
  'libjs-bootstrap4',
  'libjs-d3',
  'libjs-eonasdan-bootstrap-datetimepicker',
  'libjs-jquery',
  'libjs-jquery-hotkeys',
  'libjs-moment',
  'libjs-moment-timezone',
  'libjs-mustache',
  'libjs-popper.js',
  'libjs-rickshaw',
];
const TIMER_STANDIN = path.join(ROOT, 'tests/monitoring/fixtures/systemctl-timer-standin.sh');
let host: TestHost;
const tmp = mkdtempSync(path.join(tmpdir(), 'fudbuddy-monserver-'));
const prometheusYml = renderPrometheusConfig({
  monitoringHost: 'edge',
  gpuHosts: [{ name: 'gpu-1', address: '100.64.0.7', apiPort: 8001, gpu: true }],
  edgeMetricsUrl: 'https://api.fudbuddy.example/metrics',
  probes: [{ name: 'worker', url: 'https://api.fudbuddy.example/healthz' }],
  rulesGlob: '/etc/prometheus/fudbuddy-rules/*.yml',
  secretsDir: '/etc/prometheus/fudbuddy-secrets',
});

function payload(files: Record<string, string> = {}, env: Record<string, string> = {}): string {
  return buildInstallPayload({
    entry: 'monitoring-server.sh',
    files: {
      ...serverPayloadFiles({
        prometheusYml,
        credentialsProm: renderCredentialExpiryTextfile([{ credential: 'tailscale-api-key', expiresAt: '2027-02-01T00:00:00Z' }]),
        logs: false,
      }),
      ...files,
    },
    env: {
      HOST_NAME: 'edge',
      RETENTION: '15d',
      GPU_ALSO: '0',
      // The test host is Debian bookworm: pin the series its archive ships (production pins jammy/noble).
      PIN_BOOKWORM_PROMETHEUS: '2.42.*',
      PIN_BOOKWORM_PROMETHEUS_ALERTMANAGER: '0.25.*',
      PIN_BOOKWORM_PROMETHEUS_BLACKBOX_EXPORTER: '0.23.*',
      PIN_BOOKWORM_PROMETHEUS_NODE_EXPORTER: '1.5.*',
      ...env,
    },
  });
}

/** A flat apt repository: the .debs plus a Packages index built from their control fields. */
function localRepo(dir: string): void {
  const entries: string[] = [];
  for (const deb of readdirSync(dir).filter((f) => f.endsWith('.deb')).sort()) {
    const file = path.join(dir, deb);
    const control = execFileSync('dpkg-deb', ['-f', file], { encoding: 'utf8' }).trimEnd();
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    entries.push(`${control}\nFilename: ./${deb}\nSize: ${statSync(file).size}\nSHA256: ${sha256}\n`);
  }
  writeFileSync(path.join(dir, 'Packages'), `${entries.join('\n')}`);
}

const writeSecret = (dest: string, owner: string, flags: string, stdin: string) =>
  host.ssh(`/usr/local/lib/fudbuddy-monitoring/write-secret.sh ${dest} ${owner} ${flags}`, { stdin, timeoutMs: 60_000 });

beforeAll(async () => {
  const reason = testHostUnavailableReason();
  if (reason) throw new Error(`monitoring-server host test cannot run: ${reason}`);
  await ensureTestHostRoot();
  const debs = path.join(tmp, 'debs');
  mkdirSync(debs);
  execFileSync('apt-get', ['download', '-qq', ...PACKAGES], { cwd: debs, stdio: 'pipe', timeout: 300_000 });
  localRepo(debs);
  host = await startTestHost({ standins: ['systemctl'] });
  await host.copyTo(debs, '/root/debs');
  await host.copyTo(TIMER_STANDIN, '/root/systemctl-timer-standin');
  const setup = await host.ssh(
    [
      'set -e',
      'mv /usr/local/sbin/systemctl /usr/local/sbin/systemctl.host-standin',
      'install -m 0755 /root/systemctl-timer-standin /usr/local/sbin/systemctl',
      // Offline apt: only the local repository.
      'rm -f /etc/apt/sources.list.d/*',
      "echo 'deb [trusted=yes] file:/root/debs ./' > /etc/apt/sources.list",
      // No daemons started by maintainer scripts (the stand-in systemctl runs what the scripts ask for).
      "printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d",
    ].join('\n'),
  );
  if (setup.code !== 0) throw new Error(`test host setup failed: ${setup.stderr}`);
}, 900_000);

afterAll(async () => {
  await host?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('monitoring-server.sh on a test host (offline apt, stand-in systemctl)', { timeout: 600_000 }, () => {
  it('first run installs the pinned packages and configs; a second run changes nothing', async () => {
    const first = await host.ssh('bash -s', { stdin: payload(), timeoutMs: 600_000 });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('FUDBUDDY_RESULT=changed');
    const second = await host.ssh('bash -s', { stdin: payload(), timeoutMs: 300_000 });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout.split('\n').filter((l) => l.startsWith('changed:'))).toEqual([]);
    expect(second.stdout).toContain('FUDBUDDY_RESULT=unchanged');
  });

  it('installed the pinned versions and kept our listen addresses over the package defaults', async () => {
    const v = await host.ssh("dpkg-query -W -f='${Package} ${Version}\\n' prometheus prometheus-alertmanager prometheus-blackbox-exporter prometheus-node-exporter");
    expect(v.stdout).toMatch(/^prometheus 2\.42\./m);
    expect(v.stdout).toMatch(/^prometheus-alertmanager 0\.25\./m);
    const r = (p: string) => readFileSync(path.join(host.rootDir, p), 'utf8');
    expect(r('etc/default/prometheus')).toContain('--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=15d');
    expect(r('etc/default/prometheus-alertmanager')).toContain('--web.listen-address=127.0.0.1:9093 --cluster.listen-address=');
    expect(r('etc/default/prometheus-blackbox-exporter')).toContain('--web.listen-address=127.0.0.1:9115');
    expect(r('etc/default/prometheus-node-exporter')).toContain('--web.listen-address=127.0.0.1:9100');
    expect(r('etc/prometheus/prometheus.yml')).toBe(prometheusYml);
    expect(r('etc/prometheus/blackbox.yml')).toContain('http_2xx');
    expect(readdirSync(path.join(host.rootDir, 'etc/prometheus/fudbuddy-rules'))).toEqual(['fudbuddy-alerts.yml']);
    expect(r('var/lib/prometheus/node-exporter/fudbuddy_credentials.prom')).toContain('credential="tailscale-api-key"} 1801440000');
    expect(r('var/lib/prometheus/node-exporter/fudbuddy_filesystem_roles.prom')).toMatch(/role="[a-z,]*prometheus[a-z,]*"/);
  });

  it('the installed config passes the host\'s own promtool', async () => {
    const c = await host.ssh('promtool check config /etc/prometheus/prometheus.yml');
    expect(c.code, c.stdout + c.stderr).toBe(0);
  });

  it('write-secret.sh: tokens and the Alertmanager config land 0600, validated by amtool, never echoed', async () => {
    const token = 'metrics-token-SECRET-on-stdin-only';
    const t = await writeSecret('/etc/prometheus/fudbuddy-secrets/api-metrics-token', 'prometheus:prometheus', '', token);
    expect(t.code, t.stderr).toBe(0);
    expect(t.stdout + t.stderr).not.toContain(token);
    const st = await host.ssh("stat -c '%a %U:%G' /etc/prometheus/fudbuddy-secrets/api-metrics-token /etc/prometheus/fudbuddy-secrets");
    expect(st.stdout.trim().split('\n')).toEqual(['600 prometheus:prometheus', '750 root:prometheus']);
    expect(readFileSync(path.join(host.rootDir, 'etc/prometheus/fudbuddy-secrets/api-metrics-token'), 'utf8')).toBe(token);

    const hook = 'https://hooks.example.com/services/SECRET-webhook-path';
    const am = renderAlertmanagerConfig({ webhookUrl: hook });
    const a = await writeSecret('/etc/prometheus/alertmanager.yml', 'prometheus:prometheus', '--amtool --reload prometheus-alertmanager', am);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(a.stdout + a.stderr).not.toContain(hook);
    expect(readFileSync(path.join(host.rootDir, 'etc/prometheus/alertmanager.yml'), 'utf8')).toBe(am);
    expect((await host.ssh("stat -c '%a %U' /etc/prometheus/alertmanager.yml")).stdout.trim()).toBe('600 prometheus');
    // Same content again: nothing changes.
    const again = await writeSecret('/etc/prometheus/alertmanager.yml', 'prometheus:prometheus', '--amtool', am);
    expect(again.stdout).toContain('FUDBUDDY_RESULT=unchanged');
  });

  it('an invalid Alertmanager config or an empty secret is refused and the installed file kept', async () => {
    const before = readFileSync(path.join(host.rootDir, 'etc/prometheus/alertmanager.yml'), 'utf8');
    const bad = await writeSecret('/etc/prometheus/alertmanager.yml', 'prometheus:prometheus', '--amtool', 'route: {receiver: nobody}\n');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('amtool check-config');
    const empty = await writeSecret('/etc/prometheus/fudbuddy-secrets/api-metrics-token', 'prometheus:prometheus', '', '');
    expect(empty.code).not.toBe(0);
    expect(empty.stderr).toContain('empty secret');
    expect(readFileSync(path.join(host.rootDir, 'etc/prometheus/alertmanager.yml'), 'utf8')).toBe(before);
  });

  it('a broken alert rule is refused before anything is replaced', async () => {
    const broken = { 'rules/fudbuddy-alerts.yml': 'groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: sum(rate(x[5m])\n' };
    const r = await host.ssh('bash -s', { stdin: payload(broken), timeoutMs: 300_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('staged alert rules are invalid; nothing was changed');
    expect(readFileSync(path.join(host.rootDir, 'etc/prometheus/fudbuddy-rules/fudbuddy-alerts.yml'), 'utf8')).toContain('FudbuddyApiDown');
  });
});
