// One rule per fact: the stack config (stacks/config.ts) and the builders/scripts that consume its values share
// the definitions of components/lib/rules.ts. The same samples go through both sides; they used to disagree
// (a trailing-dash host name, an underscore smarthost, a vLLM pre-release version, port 8000 for the API).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderAlertmanagerConfig, renderCredentialExpiryTextfile, renderPrometheusConfig } from '../../components/lib/monitoringConfig.js';
import { DRIVER_BRANCH, HOSTNAME_LABEL, MODEL_PORT, VLLM_VERSION } from '../../components/lib/rules.js';
import { validateGpuHostArgs } from '../../components/lib/validateHost.js';
import type { GpuHostArgs } from '../../components/lib/hostTypes.js';
import { parseStackConfig } from '../../stacks/validate.js';
import { localValues, privateValues } from './fixtures.js';

const repo = path.resolve(import.meta.dirname, '../..');
const issueKeys = (v: Record<string, unknown>): string[] => {
  const r = parseStackConfig(v);
  return r.ok ? [] : r.issues.map((i) => i.key);
};
const withHost = (patch: Record<string, unknown>) => {
  const v = privateValues();
  const hosts = v.gpuHosts as Record<string, unknown>[];
  hosts[0] = { ...hosts[0], ...patch };
  return v;
};
const scrape = (name: string) => () =>
  renderPrometheusConfig({ monitoringHost: 'edge', gpuHosts: [{ name, address: '100.64.0.1', apiPort: 8001, gpu: true }], probes: [], rulesGlob: '/r/*.yml', secretsDir: '/s' });
const alerting = (smarthost: string) => () =>
  renderAlertmanagerConfig({ email: { to: 'ops@example.com', from: 'am@example.com', smarthost } });

describe('shared rules: the stack config and the builders agree', () => {
  it.each(['gpu-1', 'a', 'x9'])('host name %s is accepted by both', (name) => {
    expect(issueKeys(withHost({ name }))).toEqual([]);
    expect(scrape(name)).not.toThrow();
    expect(HOSTNAME_LABEL.test(name)).toBe(true);
  });
  it.each(['gpu-', 'GPU1', 'a_b', '-x'])('host name %s is refused by both', (name) => {
    expect(issueKeys(withHost({ name }))).toContain('fudbuddy:gpuHosts[0].name');
    expect(scrape(name)).toThrow(/name/);
  });

  it.each([
    ['smtp.example.com:587', true],
    ['smtp_relay.example.com:587', false],
    ['smtp.example.com', false],
  ])('smarthost %s: accepted=%s on both sides', (smarthost, ok) => {
    const v = { ...privateValues(), monitoring: { alertEmail: { to: 'ops@example.com', from: 'am@example.com', smarthost } } };
    expect(issueKeys(v).includes('fudbuddy:monitoring.alertEmail.smarthost')).toBe(!ok);
    if (ok) expect(alerting(smarthost)).not.toThrow();
    else expect(alerting(smarthost)).toThrow(/smarthost/);
  });

  it.each([['tailscale-api-key', true], ['bad"name', false], ['x'.repeat(101), false]])('credential %s: accepted=%s on both sides', (credential, ok) => {
    const v = { ...privateValues(), monitoring: { credentialExpiries: [{ credential, expiresAt: '2027-01-01T00:00:00Z' }] } };
    expect(issueKeys(v).some((k) => k.startsWith('fudbuddy:monitoring.credentialExpiries'))).toBe(!ok);
    const render = () => renderCredentialExpiryTextfile([{ credential, expiresAt: '2027-01-01T00:00:00Z' }]);
    if (ok) expect(render).not.toThrow();
    else expect(render).toThrow(/credential name/);
  });

  it("the API port cannot be vLLM's (refused at the stack key, not later by the component)", () => {
    expect(issueKeys({ ...privateValues(), api: { port: String(MODEL_PORT) } })).toContain('fudbuddy:api.port');
  });

  it('a bind address of 0.0.0.0 is refused by the stack key and by the component with the same rule', () => {
    const v = localValues();
    (v.gpuHosts as Record<string, unknown>[])[0]!.bindAddress = '0.0.0.0';
    expect(issueKeys(v)).toContain('fudbuddy:gpuHosts[0].bindAddress');
    const args = { gpu: 'none', inference: { backend: 'stub' }, firewall: { sshSources: ['any'] }, tailscale: { enabled: false, bindAddress: '0.0.0.0' } };
    expect(() => validateGpuHostArgs('t', args as unknown as GpuHostArgs)).toThrow(/tailscale.bindAddress/);
  });

  it('the host scripts guard with the very patterns the stack config uses', () => {
    const guard = (script: string, variable: string): string => {
      const text = readFileSync(path.join(repo, 'components/scripts', script), 'utf8');
      const m = new RegExp(`\\[\\[ \\$${variable} =~ (\\S+) \\]\\]`).exec(text);
      if (!m) throw new Error(`${script} has no [[ $${variable} =~ ... ]] guard`);
      return m[1]!;
    };
    expect(guard('vllm-install.sh', 'version')).toBe(VLLM_VERSION.source);
    expect(guard('nvidia-driver.sh', 'branch')).toBe(DRIVER_BRANCH.source);
    expect(issueKeys({ ...privateValues(), vllmVersion: '0.11.0rc1' })).toContain('fudbuddy:vllmVersion');
    expect(new RegExp(guard('vllm-install.sh', 'version')).test('0.11.0rc1')).toBe(false);
  });
});

describe('driver branch vs the CUDA vLLM needs (caught at preview, before vLLM is installed)', () => {
  it('refuses a branch too old for the pinned vLLM, naming both keys', () => {
    const r = parseStackConfig({ ...privateValues(), nvidiaDriverBranch: '550', vllmVersion: '0.11.0' });
    expect(r.ok).toBe(false);
    const i = r.ok ? undefined : r.issues.find((x) => x.key === 'fudbuddy:nvidiaDriverBranch');
    expect(i?.message).toBe('550 is too old for fudbuddy:vllmVersion 0.11.0: its CUDA 12.8 needs driver 570.26 or newer (branch 570+); raise nvidiaDriverBranch or pin an older vllmVersion');
    expect(i?.fix).toBe('pulumi config set fudbuddy:nvidiaDriverBranch <value>');
  });
  it('accepts the defaults, an older vLLM on 550, and asks for vllmCuda for an unknown vLLM line', () => {
    expect(issueKeys(privateValues())).toEqual([]);
    expect(issueKeys({ ...privateValues(), nvidiaDriverBranch: '550', vllmVersion: '0.8.5' })).toEqual([]);
    expect(issueKeys({ ...privateValues(), vllmVersion: '0.99.0' })).toEqual(['fudbuddy:vllmCuda']);
    expect(issueKeys({ ...privateValues(), vllmVersion: '0.99.0', vllmCuda: '12.9' })).toEqual(['fudbuddy:nvidiaDriverBranch']);
    expect(issueKeys({ ...privateValues(), vllmVersion: '0.99.0', vllmCuda: '12.8' })).toEqual([]);
  });
  it('CPU-only stacks (the stub) are not checked', () => {
    expect(issueKeys({ ...localValues(), nvidiaDriverBranch: '450' })).toEqual([]);
  });
});

describe('enums the component argument types are derived from', () => {
  it('the stack config accepts exactly the driver install methods and GPU kinds GpuHostArgs takes', async () => {
    const { driverInstall, gpuKind } = await import('../../components/lib/rules.js');
    for (const m of driverInstall.options) expect(issueKeys({ ...privateValues(), nvidiaDriverInstall: m })).toEqual([]);
    expect(issueKeys({ ...privateValues(), nvidiaDriverInstall: 'runfile' })).toContain('fudbuddy:nvidiaDriverInstall');
    expect(gpuKind.options).toEqual(['nvidia', 'none']);
    expect(issueKeys(withHost({ gpu: 'amd' }))).toContain('fudbuddy:gpuHosts[0].gpu');
  });
});
