// Pure builders of the host layer: systemd units, env files, shell command strings, content hashes.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { hashDir } from '../../components/lib/contentHash.js';
import { apiEnv, parseEnvFile, parseTokenFile, renderEnvFile, renderTokenFile } from '../../components/lib/envFile.js';
import { parseTokenText } from '../../services/inference-api/src/token-file.js';
import { asRoot, scriptCommand, shq } from '../../components/lib/shell.js';
import { apiUnit, modelStubUnit, renderTemplate, vllmModelEnv, vllmUnit } from '../../components/lib/units.js';

const dirs: string[] = [];
const tmp = (): string => {
  const d = mkdtempSync(path.join(tmpdir(), 'fudbuddy-builders-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const api = apiUnit({ hostname: 'gpu-1', bindAddress: '100.64.0.7', port: 8001, addressMode: 'tailscale', modelUnit: 'vllm.service' });
const vllm = vllmUnit({ hostname: 'gpu-1', servedModelName: 'fudbuddy', maxModelLen: 8192, gpuMemoryUtilization: 0.85, tensorParallelSize: 2 });
const stub = modelStubUnit({ hostname: 'ci-1' });
/** The unit without its comment lines (comments explain, directives count). */
const body = (unit: string): string => unit.split('\n').filter((l) => !l.startsWith('#')).join('\n');

/** systemd's own parser: every problem except the executables that only exist on a real host fails. */
function systemdVerify(name: string, text: string): string[] {
  const d = tmp();
  writeFileSync(path.join(d, name), text);
  let out = '';
  try {
    out = execFileSync('systemd-analyze', ['verify', '--man=no', `./${name}`], { cwd: d, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
  }
  return out.split('\n').filter((l) => l.trim() && !/is not executable: No such file or directory/.test(l));
}

function exposure(name: string, text: string): number {
  const d = tmp();
  writeFileSync(path.join(d, name), text);
  const out = execFileSync('systemd-analyze', ['security', '--offline=yes', `./${name}`], { cwd: d, encoding: 'utf8' });
  const m = /Overall exposure level for \S+: ([\d.]+)/.exec(out);
  if (!m) throw new Error(`no exposure level in: ${out.slice(-300)}`);
  return Number(m[1]);
}

describe('systemd units', () => {
  it('the API unit binds to the given address, waits for the tailnet address and the upstream, reloads with HUP', () => {
    expect(api).toContain('ExecStartPre=+/opt/fudbuddy/bin/wait-for-address.sh tailscale 100.64.0.7 180');
    expect(api).toContain('ExecStartPre=/opt/fudbuddy/bin/wait-for-upstream.sh http://127.0.0.1:8000/health 1200');
    expect(api).toContain('ExecReload=/bin/kill -HUP $MAINPID');
    // start/restart (and so the Pulumi step) completes only once the API accepts connections.
    expect(api).toContain('ExecStartPost=/opt/fudbuddy/bin/wait-for-port.sh 100.64.0.7 8001 60');
    expect(api).toMatch(/^After=network-online.target vllm.service tailscaled.service$/m);
    expect(api).toContain('User=fudbuddy-api');
    expect(api).toContain('EnvironmentFile=/etc/fudbuddy/api.env');
    for (const d of ['NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'PrivateDevices=yes', 'CapabilityBoundingSet=', 'SystemCallFilter=@system-service @pkey', 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6']) {
      expect(api).toContain(d);
    }
    expect(api).not.toMatch(/\{\{/);
  });

  it('an address-mode API unit (no tailnet) does not wait for tailscaled', () => {
    const u = apiUnit({ hostname: 'ci', bindAddress: '10.213.1.2', port: 8001, addressMode: 'address', modelUnit: 'fudbuddy-model-stub.service' });
    expect(u).toContain('wait-for-address.sh address 10.213.1.2');
    expect(body(u)).not.toContain('tailscaled');
    expect(u).toContain('Wants=network-online.target fudbuddy-model-stub.service');
  });

  it('refuses to bind the API to every interface or to a non-address', () => {
    const base = { hostname: 'h', port: 8001, addressMode: 'address' as const, modelUnit: 'vllm.service' as const };
    expect(() => apiUnit({ ...base, bindAddress: '0.0.0.0' })).toThrow(/every interface/);
    expect(() => apiUnit({ ...base, bindAddress: '100.64.0.1\nExecStart=/bin/sh' })).toThrow(/not an IPv4/);
  });

  it('vLLM: loopback only, flags from args, API key only via the EnvironmentFile, GPU devices allowed', () => {
    expect(vllm).toMatch(/--host 127\.0\.0\.1 --port 8000 --served-model-name fudbuddy --max-model-len 8192 --gpu-memory-utilization 0\.85 --tensor-parallel-size 2$/m);
    expect(body(vllm)).not.toContain('--api-key');
    expect(vllm).toContain('EnvironmentFile=/etc/fudbuddy/vllm.env');
    expect(vllm).toContain('Restart=on-failure');
    expect(vllm).not.toMatch(/^PrivateDevices=/m); // needs /dev/nvidia*
    expect(vllm).toContain('ReadWritePaths=/var/lib/fudbuddy/models');
    expect(vllm).toContain('HF_HUB_OFFLINE=1');
  });

  it('vLLM arguments are validated with the key named', () => {
    const ok = { hostname: 'h', servedModelName: 'm', maxModelLen: 4096, gpuMemoryUtilization: 0.9, tensorParallelSize: 1 };
    expect(() => vllmUnit({ ...ok, gpuMemoryUtilization: 1.5 })).toThrow(/vllm.gpuMemoryUtilization/);
    expect(() => vllmUnit({ ...ok, tensorParallelSize: 0 })).toThrow(/vllm.tensorParallelSize/);
    expect(() => vllmUnit({ ...ok, servedModelName: 'a b' })).toThrow(/vllm.servedModelName/);
    expect(() => vllmUnit({ ...ok, extraArgs: ['--api-key=x'] })).toThrow(/managed by the component/);
    expect(() => vllmUnit({ ...ok, extraArgs: ['--x; rm -rf /'] })).toThrow(/unsafe/);
    expect(vllmUnit({ ...ok, extraArgs: ['--enable-prefix-caching'] })).toMatch(/--tensor-parallel-size 1 --enable-prefix-caching$/m);
  });

  it('the stub is its own unit, marked test-only, never vllm.service', () => {
    expect(stub).toContain('Description=FUD Buddy model STUB (test hosts only)');
    expect(stub).toContain('ExecStart=/usr/bin/node /opt/fudbuddy/model-stub/stub.mjs');
    expect(stub).toContain('ExecStartPost=/opt/fudbuddy/bin/wait-for-port.sh 127.0.0.1 8000 60');
    expect(body(stub)).not.toContain('vllm');
  });

  it('systemd itself accepts the units (systemd-analyze verify)', () => {
    expect(systemdVerify('fudbuddy-api.service', api)).toEqual([]);
    expect(systemdVerify('vllm.service', vllm)).toEqual([]);
    expect(systemdVerify('fudbuddy-model-stub.service', stub)).toEqual([]);
    expect(systemdVerify('broken.service', '[Service]\nExecStart=relative/path\n').length).toBeGreaterThan(0);
  });

  it('systemd-analyze security rates the API, stub and vLLM as well sandboxed (exposure <= 2.5; vLLM 2.0, docs/host.md)', () => {
    expect(exposure('fudbuddy-api.service', api)).toBeLessThan(2.5);
    expect(exposure('fudbuddy-model-stub.service', stub)).toBeLessThan(2.5);
    expect(exposure('vllm.service', vllm)).toBeLessThanOrEqual(2.0);
  });

  it('vLLM: a root pre-start creates the CUDA device nodes, and the service itself keeps its user and sandbox', () => {
    const lines = vllm.split('\n');
    const pre = lines.indexOf('ExecStartPre=+/opt/fudbuddy/bin/nvidia-device-nodes.sh');
    expect(pre).toBeGreaterThan(-1);
    expect(pre).toBeLessThan(lines.findIndex((l) => l.startsWith('ExecStart=')));
    // Only the "+" line runs privileged: every other Exec line runs as the service user inside the sandbox.
    expect(lines.filter((l) => /^Exec\w*=[+!]/.test(l))).toEqual(['ExecStartPre=+/opt/fudbuddy/bin/nvidia-device-nodes.sh']);
    for (const l of ['User=fudbuddy-model', 'NoNewPrivileges=yes', 'ProtectKernelModules=yes', 'CapabilityBoundingSet=']) expect(lines).toContain(l);
  });

  it('templates: every placeholder filled, no stray values, one-line values', () => {
    expect(renderTemplate('a={{A}}', { A: '1' }, 't')).toBe('a=1');
    expect(() => renderTemplate('a={{A}}', {}, 't')).toThrow(/no value for \{\{A\}\}/);
    expect(() => renderTemplate('a={{A}}', { A: '1', B: '2' }, 't')).toThrow(/B is not a placeholder/);
    expect(() => renderTemplate('a={{A}}', { A: '1\n[Service]' }, 't')).toThrow(/one line/);
  });

  it('vllm-model.env matches what model-switch.sh writes', () => {
    expect(vllmModelEnv('Qwen/Qwen2.5-7B-Instruct', 'main')).toBe('VLLM_MODEL=Qwen/Qwen2.5-7B-Instruct\nVLLM_REVISION=main\n');
  });
});

describe('env files', () => {
  it('renders sorted single-quoted lines that parse back (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,10}$/), fc.string().filter((v) => !/['\n\r\0]/.test(v))),
        (vars) => {
          const text = renderEnvFile(vars);
          expect(parseEnvFile(text)).toEqual(vars);
          const keys = text.trim() ? text.trim().split('\n').map((l) => l.split('=')[0]) : [];
          expect(keys).toEqual([...keys].sort());
        },
      ),
    );
  });

  it('values are taken verbatim by a shell sourcing the file ($, backslash, spaces)', () => {
    const d = tmp();
    const f = path.join(d, 'x.env');
    writeFileSync(f, renderEnvFile({ A: 'p$HOME `id` \\n x', B: 'plain' }));
    const out = execFileSync('bash', ['-c', `set -a; . ${f}; printf '%s|%s' "$A" "$B"`], { encoding: 'utf8' });
    expect(out).toBe('p$HOME `id` \\n x|plain');
  });

  it('rejects newlines and quotes without echoing the (possibly secret) value', () => {
    let msg = '';
    try {
      renderEnvFile({ TOKEN: "s3cr3t'value" }, 'api');
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('api.TOKEN');
    expect(msg).not.toContain('s3cr3t');
    expect(() => renderEnvFile({ A: 'x\nB=y' })).toThrow(/newlines/);
    expect(() => renderEnvFile({ 'bad-key': 'x' })).toThrow(/not a valid environment variable name/);
  });

  it('API env: DESIGN.md contract, loopback upstream, token file paths (never tokens), reserved keys protected', () => {
    const input = {
      bindAddress: '100.64.0.7',
      port: 8001,
      upstreamModel: 'fudbuddy',
      upstreamApiKey: 'k'.repeat(20),
      tokensFile: '/etc/fudbuddy-api/tokens',
      metricsTokensFile: '/etc/fudbuddy-api/metrics-tokens',
      promptsDir: '/opt/fudbuddy/prompts',
      extra: { RATE_LIMIT_RPM: '60', LOG_LEVEL: 'info' },
    };
    const env = apiEnv(input);
    expect(env).toMatchObject({
      HOST: '100.64.0.7',
      PORT: '8001',
      UPSTREAM_BASE_URL: 'http://127.0.0.1:8000/v1',
      UPSTREAM_MODEL: 'fudbuddy',
      API_TOKENS_FILE: '/etc/fudbuddy-api/tokens',
      METRICS_TOKENS_FILE: '/etc/fudbuddy-api/metrics-tokens',
      PROMPTS_DIR: '/opt/fudbuddy/prompts',
      RATE_LIMIT_RPM: '60',
    });
    expect(env).not.toHaveProperty('API_TOKENS');
    expect(env).not.toHaveProperty('METRICS_TOKENS');
    expect(apiEnv({ ...input, metricsTokensFile: undefined })).not.toHaveProperty('METRICS_TOKENS_FILE');
    for (const key of ['HOST', 'API_TOKENS', 'API_TOKENS_FILE', 'METRICS_TOKENS', 'METRICS_TOKENS_FILE']) {
      expect(() => apiEnv({ ...input, extra: { [key]: 'x' } })).toThrow(new RegExp(`api.env.${key} is set by the component`));
    }
  });

  it('token file: one token per line, stable, parsed the same way by the API; bad tokens named by key, not value', () => {
    const tokens = ['a'.repeat(20), 'b'.repeat(20)];
    const text = renderTokenFile(tokens, 'api.tokens');
    expect(text).toBe(renderTokenFile(tokens, 'api.tokens'));
    expect(text).toMatch(/^# Managed by Pulumi .*API_TOKENS_FILE/);
    expect(parseTokenFile(text)).toEqual(tokens);
    // The API's own parser reads exactly these tokens.
    expect(parseTokenText(text)).toEqual(tokens);
    expect(() => renderTokenFile([], 'api.tokens')).toThrow(/api.tokens: at least one/);
    expect(() => renderTokenFile(['secret-short'], 'api.metricsTokens')).toThrow(/api.metricsTokens: .*16 characters/);
    for (const bad of ['secret-with,comma-000', 'secret with space 000', '#secret-comment-00000']) {
      let msg = '';
      try {
        renderTokenFile(['c'.repeat(20), bad], 'api.tokens');
      } catch (e) {
        msg = (e as Error).message;
      }
      expect(msg).toMatch(/^api.tokens: /);
      expect(msg).not.toContain(bad);
    }
  });
});

describe('command strings', () => {
  it('quotes arguments for the remote shell (property: bash sees exactly the argument)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }).filter((s) => !s.includes('\0')), (s) => {
        const out = execFileSync('bash', ['-c', `printf '%s' ${shq(s)}`], { encoding: 'utf8' });
        expect(out).toBe(s);
      }),
      { numRuns: 40 },
    );
  });

  it('runs installed scripts, through sudo -n unless the user is root', () => {
    expect(scriptCommand('root', 'base-setup.sh')).toBe('bash /opt/fudbuddy/bin/base-setup.sh');
    expect(scriptCommand('ubuntu', 'firewall.sh', ['--ssh-from', '10.0.0.0/8,any'])).toBe(
      'sudo -n bash /opt/fudbuddy/bin/firewall.sh --ssh-from 10.0.0.0/8,any',
    );
    expect(asRoot('ubuntu', 'true')).toBe('sudo -n true');
    expect(() => scriptCommand('root', '../evil.sh')).toThrow(/not a host script/);
  });
});

describe('content hashes', () => {
  it('depend on content and names, not on mtimes', () => {
    const d = tmp();
    mkdirSync(path.join(d, 'sub'));
    writeFileSync(path.join(d, 'a.md'), 'one');
    writeFileSync(path.join(d, 'sub', 'b.md'), 'two');
    const h1 = hashDir(d);
    writeFileSync(path.join(d, 'a.md'), 'one'); // rewritten, same content
    expect(hashDir(d)).toBe(h1);
    writeFileSync(path.join(d, 'a.md'), 'one!');
    expect(hashDir(d)).not.toBe(h1);
    expect(() => hashDir(path.join(d, 'missing'), 'api.promptsDir')).toThrow(/api.promptsDir: .* does not exist/);
  });
});
