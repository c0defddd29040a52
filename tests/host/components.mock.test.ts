// GpuHost under Pulumi mocks (no engine, no SSH, no Tailscale API — mock), production and CPU-test shapes: the resource
// graph, ordering through dependsOn, content-hash triggers, bind addresses, secrecy of every secret. Fixture:
// support/gpuHostMocks.ts; rotation, reboot and test-host shapes: gpuHost.scenarios.mock.test.ts; Tailnet: tailnet.mock.test.ts.
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { hashDir, hashFile, sha256 } from '../../components/lib/contentHash.js';
import { scriptHash, stageKey, stagePath } from '../../components/lib/stageKeys.js';
import { isSecretEnvelope, value } from '../support/pulumiMocks.js';
import { SECRETS, TS_IP, apiBundle, byName, deps, plain, prod, promptsDir, resources, useGpuHosts } from './support/gpuHostMocks.js';

useGpuHosts();

describe('GpuHost under mocks (production shape: nvidia, tailscale, vLLM)', () => {
  it('creates the expected steps, all as remote commands/copies under the component', () => {
    const names = resources.filter((r) => r.name.startsWith('prod-')).map((r) => r.name);
    for (const step of ['scripts', 'base', 'firewall', 'node', 'nvidia-driver', 'reboot', 'reboot-pause', 'verify-gpu', 'nvidia-fabricmanager', 'tailscale-install', 'tailscale-up', 'tailscale-status', 'vllm-install', 'hf-token', 'model-download', 'vllm-model-env', 'vllm-env', 'vllm-unit', 'api-install', 'prompts-install', 'api-tokens', 'api-metrics-tokens', 'api-env', 'api-unit', 'stage-scripts', 'stage-api', 'stage-prompts']) {
      expect(names).toContain(`prod-${step}`);
    }
    expect(names.some((n) => n.includes('stub'))).toBe(false);
    expect(byName('prod-reboot-pause').type).toBe('command:local:Command');
    expect(byName('prod-stage-api').type).toBe('command:remote:CopyToRemote');
  });

  it('orders the steps with dependsOn', () => {
    const d = (n: string): string[] => deps.get(`prod-${n}`) ?? [];
    expect(d('scripts')).toEqual(['prod-stage-scripts']);
    expect(d('base')).toEqual(['prod-scripts']);
    expect(d('firewall')).toEqual(['prod-base']);
    expect(d('reboot')).toEqual(['prod-nvidia-driver']);
    expect(d('verify-gpu')).toEqual(['prod-reboot-pause']);
    expect(d('nvidia-fabricmanager')).toEqual(['prod-verify-gpu']);
    expect(d('vllm-install')).toEqual(['prod-nvidia-fabricmanager']);
    expect(d('tailscale-up')).toEqual(expect.arrayContaining(['prod-tailscale-install', 'prod-firewall']));
    expect(d('tailscale-status')).toEqual(['prod-tailscale-up']);
    expect(d('model-download')).toEqual(expect.arrayContaining(['prod-vllm-install', 'prod-hf-token']));
    expect(d('vllm-unit')).toEqual(expect.arrayContaining(['prod-vllm-model-env', 'prod-vllm-env', 'prod-model-download']));
    expect(d('api-tokens')).toEqual(['prod-base']);
    expect(d('api-metrics-tokens')).toEqual(['prod-base']);
    // A restart (first install, env change) finds the token files in place.
    expect(d('api-env')).toEqual(expect.arrayContaining(['prod-tailscale-status', 'prod-api-tokens', 'prod-api-metrics-tokens']));
    // What depends on the API (the Worker) waits for the token files: hosts accept a new token before it is sent.
    expect(d('api-unit')).toEqual(
      expect.arrayContaining(['prod-api-install', 'prod-prompts-install', 'prod-api-env', 'prod-api-tokens', 'prod-api-metrics-tokens', 'prod-vllm-unit', 'prod-firewall']),
    );
  });

  it('triggers are content hashes of what each step ships', () => {
    const apiKey = stageKey(hashFile(apiBundle), 'install-file.sh');
    expect(byName('prod-stage-api').inputs.triggers).toEqual([apiKey, sha256(stagePath('api', apiKey, '.mjs'))]);
    // (then the step's action key: sha256 of its command and stdin, components/lib/hostSteps.ts)
    expect(byName('prod-api-install').inputs.triggers).toEqual([apiKey, sha256(`${String(byName('prod-api-install').inputs.create)}\0`)]);
    expect(byName('prod-stage-api').inputs.remotePath).toBe(stagePath('api', apiKey, '.mjs'));
    expect(String(byName('prod-api-install').inputs.create)).toContain(stagePath('api', apiKey, '.mjs'));
    expect((byName('prod-prompts-install').inputs.triggers as unknown[])[0]).toEqual(stageKey(hashDir(promptsDir), 'install-file.sh'));
    expect((byName('prod-base').inputs.triggers as unknown[])[0]).toEqual(scriptHash('base-setup.sh'));
    // A different bundle is a different key (and staging path): the copy and the install re-run together.
    expect(stageKey(hashDir(promptsDir), 'install-file.sh')).not.toBe(apiKey);
    // Except the teardown step, whose inputs must stay constant (see its own test).
    for (const r of resources.filter((x) => x.type === 'command:remote:Command' && !x.name.endsWith('-teardown'))) {
      const triggers = plain(r.inputs.triggers) as unknown[];
      expect(triggers?.length, `${r.name}: ${JSON.stringify(r.inputs.triggers)}`).toBeGreaterThan(0);
      expect(String(plain(triggers[0])), r.name).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('destroy tears down through one constant-input step; no other step deletes anything', () => {
    const teardown = byName('prod-teardown');
    expect(teardown.type).toBe('command:remote:Command');
    expect(String(teardown.inputs.delete)).toContain('/opt/fudbuddy/bin/teardown.sh');
    // Constant inputs: nothing can ever replace it (a replacement would run its delete and stop the services).
    expect(teardown.inputs.create).toBe('true');
    expect(teardown.inputs.triggers ?? []).toEqual([]);
    expect(deps.get('prod-teardown')).toEqual(expect.arrayContaining(['prod-scripts', 'prod-api-unit']));
    const deleters = resources.filter((r) => r.name.startsWith('prod-') && r.inputs.delete !== undefined).map((r) => r.name);
    expect(deleters).toEqual(['prod-teardown']);
  });

  it('binds the API to the tailnet address and vLLM to loopback, with TP = every GPU', async () => {
    expect(await value(prod.apiUrl)).toBe(`http://${TS_IP}:8001`);
    expect(await value(prod.tailnetAddress)).toBe(TS_IP);
    expect(await value(prod.tailnetName)).toBe('gpu-1.example.ts.net');
    expect(await value(prod.gpuCount)).toBe(2);
    expect(prod.modelServed).toBe('fudbuddy');
    const unit = String(plain(byName('prod-api-unit').inputs.stdin));
    expect(unit).toContain(`wait-for-address.sh tailscale ${TS_IP} 180`);
    expect(String(plain(byName('prod-api-env').inputs.stdin))).toContain(`HOST='${TS_IP}'`);
    const vllm = String(plain(byName('prod-vllm-unit').inputs.stdin));
    expect(vllm).toContain('--host 127.0.0.1 --port 8000');
    expect(vllm).toContain('--tensor-parallel-size 2');
  });

  it('every secret is a secret: stdin wrapped, logging off, outputs secret; none in any command string', async () => {
    for (const n of ['tailscale-up', 'api-env', 'api-tokens', 'api-metrics-tokens', 'vllm-env', 'model-download', 'hf-token']) {
      const r = byName(`prod-${n}`);
      expect(isSecretEnvelope(r.inputs.stdin), n).toBe(true);
      expect(r.inputs.logging, n).toBe('none');
    }
    // Tokens go to their own files; the env file names the files and holds no token.
    const env = String(plain(byName('prod-api-env').inputs.stdin));
    expect(env).toContain(`API_TOKENS_FILE='/etc/fudbuddy-api/tokens'`);
    expect(env).toContain(`METRICS_TOKENS_FILE='/etc/fudbuddy-api/metrics-tokens'`);
    expect(env).not.toContain(SECRETS.apiToken);
    expect(env).not.toContain(SECRETS.metricsToken);
    expect(String(plain(byName('prod-api-tokens').inputs.stdin)).split('\n')).toContain(SECRETS.apiToken);
    expect(String(plain(byName('prod-api-metrics-tokens').inputs.stdin)).split('\n')).toContain(SECRETS.metricsToken);
    expect(String(byName('prod-api-tokens').inputs.create)).toBe(
      'sudo -n bash /opt/fudbuddy/bin/write-secret-file.sh /etc/fudbuddy-api/tokens --owner root:fudbuddy-api --mode 0640 --reload fudbuddy-api.service',
    );
    expect(String(plain(byName('prod-vllm-env').inputs.stdin))).toBe(`VLLM_API_KEY='${SECRETS.vllmKey}'\n`);
    expect(isSecretEnvelope(byName('prod-base').inputs.connection)).toBe(true);
    const all = JSON.stringify(
      resources.map((r) => ({ n: r.name, create: r.inputs.create, triggers: r.inputs.triggers, remotePath: r.inputs.remotePath, env: r.inputs.environment })),
    );
    for (const s of Object.values(SECRETS)) expect(all).not.toContain(s);
    expect(await pulumi.isSecret(prod.apiUrl)).toBe(false);
  });

  it('a non-root SSH user runs every step through sudo -n', () => {
    for (const r of resources.filter((x) => x.type === 'command:remote:Command' && x.name.startsWith('prod-'))) {
      // The teardown step's work is its delete command (its create is a no-op).
      const command = r.name.endsWith('-teardown') ? r.inputs.delete : r.inputs.create;
      expect(String(command), r.name).toMatch(/^sudo -n bash \//);
    }
  });
});
