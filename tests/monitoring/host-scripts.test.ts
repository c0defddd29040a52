// The host-side pieces run for real: the nvidia-smi exporter against a stand-in nvidia-smi (no GPU here — the
// stand-in is named as such), the filesystem-roles textfile, the vLLM metrics proxy in front of the model stub,
// monitoring-host.sh choosing its parts from the payload's GRAFANA/LOGS, and shellcheck / bash -n on every script.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInstallPayload, loadMonitoringVersions, versionEnv } from '../../components/lib/monitoringConfig.js';
import { monitoringHostInstall } from '../../components/lib/monitoringPayloads.js';
import { startStub, type StubHandle } from '../../services/model-stub/src/stub.js';
import { startMetricsProxy, type Proc } from './live.js';
import { loadFixture, parseExposition, requireTool, ROOT, run, SCRIPTS } from './support.js';

const promtool = requireTool('promtool', 'prometheus');
const tmp = mkdtempSync(path.join(tmpdir(), 'fudbuddy-hostscripts-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const STANDIN = path.join(ROOT, 'tests/monitoring/fixtures/nvidia-smi-standin.sh');
const exporter = path.join(SCRIPTS, 'nvidia-smi-textfile.sh');

describe('nvidia-smi exporter (stand-in nvidia-smi, no GPU here)', () => {
  const out = path.join(tmp, 'nvidia_smi.prom');
  const runExporter = (env: Record<string, string> = {}) =>
    run('bash', [exporter, out], { env: { PATH: process.env.PATH ?? '', NVIDIA_SMI: STANDIN, ...env } });

  it('writes valid exposition text (promtool check metrics) with exactly the fixture names', () => {
    const r = runExporter();
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    const lint = run(promtool, ['check', 'metrics'], { input: text });
    expect(lint.status, lint.stdout + lint.stderr).toBe(0);
    const { families } = parseExposition(text);
    expect(new Map([...families].sort())).toEqual(new Map([...loadFixture('gpu-exporter.txt')].sort()));
  });

  it('converts units: MiB to bytes, percent to ratio; leaves out [N/A] values', () => {
    runExporter();
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('nvidia_smi_memory_used_bytes{gpu="0",uuid="GPU-11111111-2222-3333-4444-555555555555",name="NVIDIA A100 80GB PCIe"} 77114376192\n');
    expect(text).toContain('nvidia_smi_utilization_gpu_ratio{gpu="0",uuid="GPU-11111111-2222-3333-4444-555555555555",name="NVIDIA A100 80GB PCIe"} 0.87\n');
    expect(text).toContain('nvidia_smi_temperature_celsius{gpu="1",uuid="GPU-66666666-7777-8888-9999-000000000000",name="NVIDIA GeForce RTX 4090"} 51\n');
    expect(text).toContain('nvidia_smi_ecc_errors_uncorrected_volatile_total{gpu="0"');
    // The consumer card reports no ECC: no sample at all rather than a fake 0.
    expect(text).not.toMatch(/nvidia_smi_ecc_errors_\w+\{gpu="1"/);
    expect(text).toContain('nvidia_smi_collector_success 1\n');
  });

  it('a failing nvidia-smi is reported as success 0 (and a non-zero exit), replacing stale GPU values', () => {
    runExporter();
    const r = runExporter({ NVIDIA_SMI_STANDIN_FAIL: '1' });
    expect(r.status).not.toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('nvidia_smi_collector_success 0\n');
    expect(text).not.toContain('nvidia_smi_memory_used_bytes');
    expect(run(promtool, ['check', 'metrics'], { input: text }).status).toBe(0);
    // Atomic write: no temp files left next to the output.
    expect(readdirSync(tmp).filter((f) => f.startsWith('.nvidia_smi'))).toEqual([]);
  });
});

describe('filesystem roles textfile', () => {
  it('one series per filesystem with the roles merged; missing directories resolve to their parent', () => {
    const conf = path.join(tmp, 'fs-roles.d');
    mkdirSync(conf, { recursive: true });
    writeFileSync(path.join(conf, 'gpu.conf'), `models ${tmp}/not/yet/created/models\nlogs ${tmp}\n`);
    writeFileSync(path.join(conf, 'monitoring.conf'), `# comment\nprometheus ${tmp}\nlogs ${tmp}\n`);
    const out = path.join(tmp, 'roles.prom');
    const r = run('bash', [path.join(SCRIPTS, 'filesystem-roles.sh'), conf, out]);
    expect(r.status, r.stderr).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(run(promtool, ['check', 'metrics'], { input: text }).status).toBe(0);
    const samples = text.split('\n').filter((l) => l.startsWith('fudbuddy_filesystem_role{'));
    expect(samples).toHaveLength(1);
    expect(samples[0]).toMatch(/role="models,logs,prometheus"\} 1$/);
    // Unchanged input: the file is left alone (mtime stays).
    const before = statSync(out).mtimeMs;
    expect(run('bash', [path.join(SCRIPTS, 'filesystem-roles.sh'), conf, out]).status).toBe(0);
    expect(statSync(out).mtimeMs).toBe(before);
  });

  it('a bad role name fails with the file named', () => {
    const conf = path.join(tmp, 'bad-roles.d');
    mkdirSync(conf, { recursive: true });
    writeFileSync(path.join(conf, 'x.conf'), 'Models! /tmp\n');
    const r = run('bash', [path.join(SCRIPTS, 'filesystem-roles.sh'), conf, path.join(tmp, 'bad.prom')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('x.conf');
  });
});

describe('vLLM metrics proxy (in front of the model stub)', () => {
  let stub: StubHandle;
  let proxy: Proc;
  beforeAll(async () => {
    stub = await startStub({ host: '127.0.0.1', port: 0 });
    proxy = await startMetricsProxy({ UPSTREAM_URL: `${stub.url}/metrics` });
  }, 30_000);
  afterAll(async () => {
    await Promise.allSettled([proxy?.close(), stub?.close()]);
  });

  it('serves vLLM /metrics', async () => {
    const r = await fetch(`${proxy.url}/metrics`);
    expect(r.status).toBe(200);
    expect(await r.text()).toContain('vllm:num_requests_running');
  });

  it('exposes nothing else of the model server (its /v1 API stays loopback-only)', async () => {
    for (const p of ['/v1/models', '/health', '/metrics/../v1/models', '/']) {
      expect((await fetch(`${proxy.url}${p}`)).status, p).toBe(404);
    }
    const post = await fetch(`${proxy.url}/metrics`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(404);
    const chat = await fetch(`${proxy.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(chat.status).toBe(404);
  });

  it('answers 502 while the model server is down, so Prometheus marks the target down', async () => {
    stub.setMode('down');
    try {
      expect((await fetch(`${proxy.url}/metrics`)).status).toBe(502);
    } finally {
      stub.setMode('ok');
    }
    expect((await fetch(`${proxy.url}/metrics`)).status).toBe(200);
  });

  it('refuses to bind to all addresses or to forward off-host', () => {
    const node = process.execPath;
    const script = path.join(SCRIPTS, 'vllm-metrics-proxy.mjs');
    const all = run(node, [script], { env: { PATH: '', LISTEN_HOST: '0.0.0.0', LISTEN_PORT: '0' } });
    expect(all.status).toBe(2);
    expect(all.stderr).toContain('never 0.0.0.0');
    const off = run(node, [script], { env: { PATH: '', LISTEN_HOST: '127.0.0.1', LISTEN_PORT: '0', UPSTREAM_URL: 'http://10.0.0.1:8000/metrics' } });
    expect(off.status).toBe(2);
    expect(off.stderr).toContain('loopback');
  });
});

describe('script hygiene', () => {
  const shellcheck = requireTool('shellcheck', 'shellcheck');
  const scripts = readdirSync(SCRIPTS).filter((f) => f.endsWith('.sh')).map((f) => path.join(SCRIPTS, f));

  it('every monitoring script passes bash -n and shellcheck, and uses set -euo pipefail', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(6);
    const r = run(shellcheck, ['-x', '-P', SCRIPTS, ...scripts, STANDIN], { cwd: SCRIPTS });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    for (const s of scripts) {
      expect(run('bash', ['-n', s]).status, s).toBe(0);
      if (!s.endsWith('lib.sh')) expect(readFileSync(s, 'utf8'), s).toContain('set -euo pipefail');
    }
  });

  it('no monitoring unit or default file binds to 0.0.0.0', () => {
    const texts = [
      ...readdirSync(path.join(SCRIPTS, 'units')).map((f) => readFileSync(path.join(SCRIPTS, 'units', f), 'utf8')),
      ...scripts.map((s) => readFileSync(s, 'utf8')),
    ];
    for (const t of texts) expect(t).not.toMatch(/listen[-_.a-z]*[=: ]+(0\.0\.0\.0|:\d)/i);
    expect(existsSync(path.join(SCRIPTS, 'units/fudbuddy-vllm-metrics.service'))).toBe(true);
  });
});

describe('monitoring-host.sh as the payload drives it (bash for real; its parts replaced by recorders)', () => {
  const PINS = versionEnv(loadMonitoringVersions());
  /** Runs the real payload and entry; each part it starts only appends its name to a log. Returns the parts run. */
  function partsRun(name: string, m: { logs: boolean; grafana: boolean }, env: Record<string, string> = {}): { status: number | null; parts: string[]; stderr: string } {
    const log = path.join(tmp, `${name}.log`);
    const install = monitoringHostInstall({ name: 'edge', prometheusYml: 'x', credentialsProm: 'y', gpuAlso: false, pins: PINS, ...m });
    const files = { ...install.files };
    for (const part of ['monitoring-server.sh', 'grafana-server.sh', 'logs-server.sh']) {
      if (part in files) files[part] = `echo ${part} >> ${JSON.stringify(log)}\n`;
    }
    const r = run('bash', ['-s'], { input: buildInstallPayload({ ...install, files, env: { ...install.env, ...env } }) });
    const parts = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [];
    return { status: r.status, parts, stderr: r.stderr };
  }

  it('grafana on (the default): Prometheus & co., then Grafana (then Loki with logs)', () => {
    const r = partsRun('host-grafana', { logs: false, grafana: true });
    expect(r.status, r.stderr).toBe(0);
    expect(r.parts).toEqual(['monitoring-server.sh', 'grafana-server.sh']);
    expect(partsRun('host-grafana-logs', { logs: true, grafana: true }).parts).toEqual(['monitoring-server.sh', 'grafana-server.sh', 'logs-server.sh']);
  });

  it('grafana off: Prometheus & co. only, grafana-server.sh neither staged nor run', () => {
    const install = monitoringHostInstall({ name: 'edge', prometheusYml: 'x', credentialsProm: 'y', gpuAlso: false, pins: PINS, logs: false, grafana: false });
    expect(install.env.GRAFANA).toBe('0');
    expect(install.files['grafana-server.sh']).toBeUndefined();
    const r = partsRun('host-no-grafana', { logs: false, grafana: false });
    expect(r.status, r.stderr).toBe(0);
    expect(r.parts).toEqual(['monitoring-server.sh']);
  });

  it('refuses LOGS=1 without GRAFANA=1 before anything runs (Loki needs the repository grafana-server.sh adds)', () => {
    const r = partsRun('host-logs-no-grafana', { logs: false, grafana: false }, { LOGS: '1' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('LOGS=1 needs GRAFANA=1');
    expect(r.parts).toEqual([]);
  });
});
