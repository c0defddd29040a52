// What GpuHost checks of its arguments before anything runs: only the invariants of the component itself (parts
// that must go together, addresses and ports that would expose or lock out the host). The formats of the values
// (host names, versions, driver branch, CIDRs, model id) are validated once, by the stack config
// (stacks/config.ts) with the shared rules of components/lib/rules.ts; the component does not check them again.
import type { GpuHostArgs } from './hostTypes.js';
import { bindAddress, MODEL_PORT } from './rules.js';

export function validateGpuHostArgs(name: string, a: GpuHostArgs): void {
  const key = (k: string): string => `gpuHost ${name}: ${k}`;
  if (a.gpu === 'nvidia' && !a.nvidia) throw new Error(`${key('nvidia')} is required when gpu is 'nvidia' (driverBranch, e.g. '570')`);
  if (a.inference.backend === 'vllm' && a.gpu !== 'nvidia') {
    throw new Error(`${key('inference.backend')} 'vllm' needs gpu: 'nvidia'; CPU test hosts use backend 'stub'`);
  }
  if (a.inference.backend === 'stub' && a.gpu === 'nvidia') {
    throw new Error(`${key('inference.backend')} 'stub' is for CPU test hosts only; a GPU host serves vLLM`);
  }
  if (!a.tailscale.enabled) {
    const b = a.tailscale.bindAddress;
    if (!bindAddress.safeParse(b).success) throw new Error(`${key('tailscale.bindAddress')} '${b}' must be one IPv4 address of the host (not 0.0.0.0)`);
  } else {
    if (a.tailscale.tags.length === 0 || a.tailscale.tags.some((t) => !/^tag:[a-z0-9-]+$/.test(t))) {
      throw new Error(`${key('tailscale.tags')} must be a non-empty list of tag:name`);
    }
    for (const f of a.tailscale.extraUpFlags ?? []) {
      if (!/^--[a-z-]+(=[A-Za-z0-9_.:/,@-]+)?$/.test(f) || /^--(auth-?key|authkey|hostname|advertise-tags)/.test(f)) {
        throw new Error(`${key('tailscale.extraUpFlags')} '${f}' is not allowed (non-secret --flag[=value] only)`);
      }
    }
  }
  if (a.firewall.sshSources.length === 0) {
    throw new Error(`${key('firewall.sshSources')} is empty: Pulumi would lock itself out (use ['any'] knowingly)`);
  }
  for (const r of a.firewall.extraAllow ?? []) {
    if (r.port === MODEL_PORT) throw new Error(`${key('firewall.extraAllow')} port ${MODEL_PORT} (vLLM) is never exposed`);
  }
  for (const p of a.extraPackages ?? []) {
    if (!/^[a-z0-9][a-z0-9.+-]+$/.test(p)) throw new Error(`${key('extraPackages')} '${p}' is not a Debian package name`);
  }
}
