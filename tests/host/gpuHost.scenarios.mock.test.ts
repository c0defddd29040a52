// GpuHost under Pulumi mocks: a token rotation (reload, not restart), a driver change (reboot, then wait for the
// host) and the CPU test-host shape. Fixture: support/gpuHostMocks.ts.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it } from 'vitest';

import { isSecretEnvelope, value, type Registered } from '../support/pulumiMocks.js';
import { GpuHost, SECRETS, byName, ci, deps, dir, mocks, plain, prodArgs, recordDeps, resources, testArgs, useGpuHosts, type GpuHostArgs } from './support/gpuHostMocks.js';

useGpuHosts();

describe('GpuHost under mocks (token rotation: reload, not restart)', () => {
  const NEW_TOKEN = 'api-token-secret-mock-00000002';
  const withTokens = (tokens: string[]): GpuHostArgs => ({ ...prodArgs(), api: { ...prodArgs().api, tokens: tokens.map((t) => pulumi.secret(t)) } });
  const steps = (host: string): Map<string, Registered> =>
    new Map(
      resources
        .filter((r) => r.name.startsWith(`${host}-`) && r.type.startsWith('command:'))
        .map((r) => [r.name.slice(host.length + 1), r]),
    );
  const inputsOf = (r: Registered) => JSON.stringify({ create: r.inputs.create, stdin: plain(r.inputs.stdin), triggers: r.inputs.triggers, source: r.inputs.source, remotePath: r.inputs.remotePath });

  beforeAll(async () => {
    // The same host before a rotation (old token), during it (new + old) and after it (new only).
    const hosts = [
      new GpuHost('rot0', withTokens([SECRETS.apiToken]), { transformations: [recordDeps] }),
      new GpuHost('rot1', withTokens([NEW_TOKEN, SECRETS.apiToken]), { transformations: [recordDeps] }),
      new GpuHost('rot2', withTokens([NEW_TOKEN]), { transformations: [recordDeps] }),
    ];
    await Promise.all(hosts.map((h) => value(h.apiUrl)));
    await mocks.settled();
  });

  it('a token change changes only the token step (its stdin), whose command reloads the API; env file and restarts stay', () => {
    const [before, during, after] = [steps('rot0'), steps('rot1'), steps('rot2')];
    expect(before.size).toBeGreaterThan(10);
    expect([...during.keys()].sort()).toEqual([...before.keys()].sort());
    for (const next of [during, after]) {
      const changed = [...before.keys()].filter((k) => inputsOf(before.get(k)!) !== inputsOf(next.get(k)!));
      // Pulumi re-runs a command whose inputs changed: only the token file step (running `create` again).
      expect(changed).toEqual(['api-tokens']);
    }
    // The env file (whose step restarts the API) is byte-identical, so its step does not run.
    const envOf = (m: Map<string, Registered>) => String(plain(m.get('api-env')!.inputs.stdin));
    expect(envOf(during)).toBe(envOf(before));
    expect(envOf(after)).toBe(envOf(before));
    const tokensStep = during.get('api-tokens')!;
    expect(String(tokensStep.inputs.create)).toContain('--reload fudbuddy-api.service');
    expect(String(tokensStep.inputs.create)).not.toContain('--restart');
    expect(String(before.get('api-env')!.inputs.create)).toContain('--restart fudbuddy-api.service');
    const tokensIn = (m: Map<string, Registered>) => String(plain(m.get('api-tokens')!.inputs.stdin)).split('\n').filter((l) => l && !l.startsWith('#'));
    expect(tokensIn(before)).toEqual([SECRETS.apiToken]);
    expect(tokensIn(during)).toEqual([NEW_TOKEN, SECRETS.apiToken]);
    expect(tokensIn(after)).toEqual([NEW_TOKEN]);
    expect(isSecretEnvelope(tokensStep.inputs.stdin)).toBe(true);
    expect(String(tokensStep.inputs.create)).not.toContain(NEW_TOKEN);
  });

  it('without metricsTokens there is no metrics token file and no METRICS_TOKENS_FILE', () => {
    const ciSteps = steps('ci');
    expect(ciSteps.has('api-tokens')).toBe(true);
    expect(ciSteps.has('api-metrics-tokens')).toBe(false);
    expect(String(plain(ciSteps.get('api-env')!.inputs.stdin))).not.toContain('METRICS_TOKENS');
  });
});

describe('GpuHost under mocks (driver changed → reboot, then wait for the host)', () => {
  it('pauses, then verifies with a large dial budget that the boot id changed; no pause/boot check without a reboot', async () => {
    const a = prodArgs();
    const reb = new GpuHost('reb', { ...a, nvidia: { driverBranch: '550', rebootTimeoutMinutes: 20 }, inference: { backend: 'vllm', vllm: { ...(a.inference as { vllm: import('../../components/gpuHost.js').VllmArgs }).vllm, tensorParallelSize: 1 } } });
    await value(reb.apiUrl);
    await mocks.settled();
    expect(byName('reb-reboot-pause').inputs.create).toBe('sleep 45');
    expect(String(byName('reb-verify-gpu').inputs.create)).toBe('sudo -n bash /opt/fudbuddy/bin/verify-gpu.sh 550 --not-boot-id 0b7c9a2e-0000-4000-8000-000000000000');
    expect(plain(byName('reb-verify-gpu').inputs.connection)).toMatchObject({ dialErrorLimit: 120, perDialTimeout: 10 });
    expect(String(plain(byName('reb-vllm-unit').inputs.stdin))).toContain('--tensor-parallel-size 1');
    expect(byName('prod-reboot-pause').inputs.create).toBe('true');
    expect(String(byName('prod-verify-gpu').inputs.create)).toBe('sudo -n bash /opt/fudbuddy/bin/verify-gpu.sh 550');
    // Ubuntu's signed modules unless DKMS is asked for; Fabric Manager decided on the host, after the driver runs.
    expect(String(byName('prod-nvidia-driver').inputs.create)).toBe('sudo -n bash /opt/fudbuddy/bin/nvidia-driver.sh 550 --method ubuntu-drivers');
    expect(String(byName('prod-nvidia-fabricmanager').inputs.create)).toBe('sudo -n bash /opt/fudbuddy/bin/nvidia-fabricmanager.sh 550');
  });
});

describe('GpuHost under mocks (rebootIfRequired: the OS asks for a reboot on the first up)', () => {
  it('reboots after the base packages and waits for the new boot before any other step; constant triggers; off by default', async () => {
    const osr = new GpuHost('osr', { ...testArgs(), rebootIfRequired: true }, { transformations: [recordDeps] });
    await value(osr.apiUrl);
    await mocks.settled();
    expect(String(byName('osr-os-reboot').inputs.create)).toBe('bash /opt/fudbuddy/bin/reboot-if-required.sh --os-updates');
    expect(deps.get('osr-os-reboot')).toEqual(['osr-base']);
    expect(byName('osr-os-reboot-pause').inputs.create).toBe('sleep 45');
    // A later connection change blanks the reboot step's stdout (its no-op update): the pause ignores it, not replaced.
    expect(mocks.ignoreChanges.get('osr-os-reboot-pause')).toEqual(['create', 'triggers']);
    // The driver's pause follows every new run of its reboot step (re-run when the driver changes).
    expect(resources.some((r) => r.name === 'prod-reboot-pause')).toBe(true);
    expect(mocks.ignoreChanges.has('prod-reboot-pause')).toBe(false);
    expect(String(byName('osr-os-booted').inputs.create)).toBe('bash /opt/fudbuddy/bin/verify-boot.sh');
    expect(plain(byName('osr-os-booted').inputs.connection)).toMatchObject({ dialErrorLimit: 90, perDialTimeout: 10 });
    // Once, when created: no script hash among the triggers (only the constant command's own key).
    for (const id of ['os-reboot', 'os-booted']) expect(byName(`osr-${id}`).inputs.triggers).toHaveLength(1);
    // Everything that followed base now follows the new boot.
    for (const id of ['firewall', 'node', 'stub-install', 'api-install']) {
      const d = deps.get(`osr-${id}`) ?? [];
      if (d.includes('osr-base')) throw new Error(`osr-${id} depends on base, not on os-booted: ${d.join(', ')}`);
    }
    expect(deps.get('osr-firewall')).toEqual(['osr-os-booted']);
    expect(resources.filter((r) => r.name.startsWith('ci-') && /os-reboot|os-booted/.test(r.name))).toEqual([]);
  });
});

describe('GpuHost under mocks (CPU test host: no GPU, no tailnet, model stub)', () => {
  it('skips NVIDIA and Tailscale, binds the API to the configured address, uses the stub unit', async () => {
    const names = resources.filter((r) => r.name.startsWith('ci-')).map((r) => r.name);
    expect(names.filter((n) => /nvidia|reboot|verify-gpu|tailscale|vllm|model-download/.test(n))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['ci-stage-stub', 'ci-stub-install', 'ci-stub-env', 'ci-stub-unit']));
    expect(await value(ci.apiUrl)).toBe('http://10.213.9.2:8001');
    expect(await value(ci.tailnetAddress)).toBeUndefined();
    expect(await value(ci.gpuCount)).toBe(0);
    expect(String(plain(byName('ci-api-unit').inputs.stdin))).toContain('wait-for-address.sh address 10.213.9.2');
    expect(String(plain(byName('ci-stub-unit').inputs.stdin))).toContain('model STUB (test hosts only)');
    expect(String(byName('ci-stub-unit').inputs.create)).toBe('bash /opt/fudbuddy/bin/install-unit.sh fudbuddy-model-stub.service');
    expect(String(byName('ci-firewall').inputs.create)).toBe(
      'bash /opt/fudbuddy/bin/firewall.sh --ssh-from 10.213.9.1/32 --no-tailscale --allow 8001:10.213.9.1/32',
    );
    expect(deps.get('ci-api-unit')).toEqual(expect.arrayContaining(['ci-stub-unit']));
  });

  it('rejects configurations that mix production and test parts, naming the key', () => {
    const a = testArgs();
    expect(() => new GpuHost('bad1', { ...a, inference: prodArgs().inference })).toThrow(/inference.backend.*'vllm' needs gpu: 'nvidia'/);
    expect(() => new GpuHost('bad2', { ...prodArgs(), inference: a.inference })).toThrow(/'stub' is for CPU test hosts only/);
    expect(() => new GpuHost('bad3', { ...a, tailscale: { enabled: false, bindAddress: '0.0.0.0' } })).toThrow(/tailscale.bindAddress/);
    expect(() => new GpuHost('bad4', { ...a, firewall: { sshSources: [] } })).toThrow(/firewall.sshSources.*lock itself out/);
    expect(() => new GpuHost('bad5', { ...a, firewall: { sshSources: ['any'], extraAllow: [{ port: 8000, from: 'any' }] } })).toThrow(/8000/);
    expect(() => new GpuHost('bad6', { ...prodArgs(), nvidia: undefined })).toThrow(/nvidia is required/);
    expect(() => new GpuHost('bad7', { ...a, api: { ...a.api, bundlePath: path.join(dir, 'missing.mjs') } })).toThrow(/api.bundlePath: cannot read .*npm run build/);
    // A prompts dir the API could not load (here: no home.md) fails the program before anything ships.
    const partial = path.join(dir, 'prompts-partial');
    mkdirSync(partial, { recursive: true });
    writeFileSync(path.join(partial, 'whereToGo.md'), 'Where to go.\n');
    expect(() => new GpuHost('bad8', { ...a, api: { ...a.api, promptsDir: partial } })).toThrow(/^api\.promptsDir: .*whatToOrder\.md is missing/);
  });
});
