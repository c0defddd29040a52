// gpu-exporters.sh run for real, twice, over real SSH on a throwaway Debian host (tests/support/testHost.ts), fed
// exactly the payload the component sends. Stand-ins only for what cannot exist here: systemd as PID 1 (the host
// layer's `systemctl` stand-in, wrapped for timers/oneshots by fixtures/systemctl-timer-standin.sh) and `nvidia-smi` (tests/monitoring/fixtures/nvidia-smi-standin.sh). Node exporter is
// Debian's real package (fetched with `apt-get download`), Node.js is this machine's binary.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstallPayload, gpuPayloadFiles } from '../../components/lib/monitoringConfig.js';
import { ensureTestHostRoot, startTestHost, testHostUnavailableReason, type TestHost } from '../support/testHost.js';
import { ROOT } from './support.js';

const STANDIN = path.join(ROOT, 'tests/monitoring/fixtures/nvidia-smi-standin.sh');
const TIMER_STANDIN = path.join(ROOT, 'tests/monitoring/fixtures/systemctl-timer-standin.sh');
let host: TestHost;
const tmp = mkdtempSync(path.join(tmpdir(), 'fudbuddy-gpuexp-'));

function payload(extra: Record<string, string> = {}): string {
  return buildInstallPayload({
    entry: 'gpu-exporters.sh',
    files: gpuPayloadFiles(),
    env: {
      HOST_NAME: 'gpu-1',
      GPU: '1',
      MODELS_DIR: '/srv/fudbuddy/models',
      BIND_ADDRESS: host.host,
      LOGS: '0',
      // The test host is Debian bookworm: pin the series its archive ships (production pins jammy/noble).
      PIN_BOOKWORM_PROMETHEUS_NODE_EXPORTER: '1.5.*',
      ...extra,
    },
  });
}

beforeAll(async () => {
  const reason = testHostUnavailableReason();
  if (reason) throw new Error(`gpu-exporters host test cannot run: ${reason}`);
  await ensureTestHostRoot();
  execFileSync('apt-get', ['download', '-qq', 'prometheus-node-exporter'], { cwd: tmp, stdio: 'pipe', timeout: 120_000 });
  const deb = readdirSync(tmp).find((f) => f.startsWith('prometheus-node-exporter_') && f.endsWith('.deb'));
  if (!deb) throw new Error('apt-get download prometheus-node-exporter produced no .deb (Debian mirror reachable?)');
  host = await startTestHost({ standins: ['systemctl'] });
  await host.copyTo(path.join(tmp, deb), '/root/node-exporter.deb');
  await host.copyTo(process.execPath, '/usr/local/bin/node');
  await host.copyTo(STANDIN, '/usr/local/bin/nvidia-smi');
  await host.copyTo(TIMER_STANDIN, '/root/systemctl-timer-standin');
  const inst = await host.ssh(
    'set -e; mv /usr/local/sbin/systemctl /usr/local/sbin/systemctl.host-standin; install -m 0755 /root/systemctl-timer-standin /usr/local/sbin/systemctl; ' +
      'chmod 0755 /usr/local/bin/nvidia-smi /usr/local/bin/node; DEBIAN_FRONTEND=noninteractive dpkg -i /root/node-exporter.deb',
    { timeoutMs: 180_000 },
  );
  if (inst.code !== 0) throw new Error(`dpkg -i prometheus-node-exporter on the test host failed:\n${inst.stdout}\n${inst.stderr}`);
}, 900_000);

afterAll(async () => {
  await host?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('gpu-exporters.sh on a test host (stand-ins: systemctl, nvidia-smi)', { timeout: 300_000 }, () => {
  it('first run configures everything; a second run changes nothing', async () => {
    const first = await host.ssh('bash -s', { stdin: payload(), timeoutMs: 300_000 });
    expect(first.code, first.stdout + first.stderr).toBe(0);
    expect(first.stdout).toContain('FUDBUDDY_RESULT=changed');
    const second = await host.ssh('bash -s', { stdin: payload(), timeoutMs: 300_000 });
    expect(second.code, second.stdout + second.stderr).toBe(0);
    expect(second.stdout.split('\n').filter((l) => l.startsWith('changed:'))).toEqual([]);
    expect(second.stdout).toContain('FUDBUDDY_RESULT=unchanged');
  });

  it('node exporter is configured on the given address (never all addresses) with the textfile collector', () => {
    const def = readFileSync(path.join(host.rootDir, 'etc/default/prometheus-node-exporter'), 'utf8');
    expect(def).toContain(`--web.listen-address=${host.host}:9100`);
    expect(def).toContain('--collector.textfile.directory=/var/lib/prometheus/node-exporter');
    expect(readFileSync(path.join(host.rootDir, 'etc/systemd/system/prometheus-node-exporter.service.d/fudbuddy.conf'), 'utf8')).toContain('Restart=always');
  });

  it('the GPU collector and the filesystem roles wrote their textfiles', () => {
    const dir = path.join(host.rootDir, 'var/lib/prometheus/node-exporter');
    expect(readFileSync(path.join(dir, 'nvidia_smi.prom'), 'utf8')).toContain('nvidia_smi_collector_success 1');
    const roles = readFileSync(path.join(dir, 'fudbuddy_filesystem_roles.prom'), 'utf8');
    expect(roles).toMatch(/fudbuddy_filesystem_role\{mountpoint="[^"]+",role="[a-z,]*models[a-z,]*"\} 1/);
    expect(readFileSync(path.join(host.rootDir, 'etc/systemd/system/fudbuddy-gpu-metrics.timer'), 'utf8')).toContain('OnUnitActiveSec=15s');
  });

  it('the vLLM metrics proxy listens on the given address only and answers 502 without a model server', async () => {
    const env = readFileSync(path.join(host.rootDir, 'etc/fudbuddy-monitoring/vllm-metrics.env'), 'utf8');
    expect(env).toContain(`LISTEN_HOST=${host.host}\n`);
    const r = await host.ssh(`curl -s -o /dev/null -w '%{http_code}' http://${host.host}:9402/metrics; echo; curl -s -o /dev/null -w '%{http_code}' http://${host.host}:9402/v1/models`);
    expect(r.stdout.trim().split('\n')).toEqual(['502', '404']);
    const lo = await host.ssh(`curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:9402/metrics || true`);
    expect(lo.stdout.trim()).toBe('000');
  });

  it('refuses to bind to 0.0.0.0, and GPU=1 without nvidia-smi fails with what to do', async () => {
    const all = await host.ssh('bash -s', { stdin: payload({ BIND_ADDRESS: '0.0.0.0' }) });
    expect(all.code).not.toBe(0);
    expect(all.stderr).toContain("refusing to bind exporters to '0.0.0.0'");
    const noGpu = await host.ssh('mv /usr/local/bin/nvidia-smi /root/nvidia-smi.off && bash -s; rc=$?; mv /root/nvidia-smi.off /usr/local/bin/nvidia-smi; exit $rc', { stdin: payload() });
    expect(noGpu.code).not.toBe(0);
    expect(noGpu.stderr).toContain('nvidia-smi is missing');
  });

  it('an unsupported release without a pin fails naming the fix', async () => {
    const r = await host.ssh('bash -s', { stdin: payload({ PIN_BOOKWORM_PROMETHEUS_NODE_EXPORTER: '' }), timeoutMs: 60_000 });
    expect(r.code).not.toBe(0);
    // It stops before touching anything (no apt run, no file written).
    expect(r.stdout).not.toContain('changed:');
    expect(r.stderr).toContain('no pinned version of prometheus-node-exporter');
    expect(r.stderr).toContain('monitoring/versions.json');
  });
});
