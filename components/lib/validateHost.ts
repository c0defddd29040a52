// Validation of GpuHost arguments that can be checked before anything runs (clear messages at preview).
import type { GpuHostArgs } from './hostTypes.js';
import { isIpv4 } from './units.js';

export function validateGpuHostArgs(name: string, a: GpuHostArgs): void {
  const key = (k: string): string => `gpuHost ${name}: ${k}`;
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(a.hostname)) {
    throw new Error(`${key('hostname')} '${a.hostname}' must be lowercase letters, digits and dashes`);
  }
  if (!/^[a-z_][a-z0-9_-]*$/.test(a.connection.user)) throw new Error(`${key('connection.user')} '${a.connection.user}' is not a user name`);
  if (a.gpu === 'nvidia' && !a.nvidia) throw new Error(`${key('nvidia')} is required when gpu is 'nvidia' (driverBranch, e.g. '550')`);
  if (a.gpu === 'nvidia' && a.nvidia && !/^\d{3}$/.test(a.nvidia.driverBranch)) {
    throw new Error(`${key('nvidia.driverBranch')} '${a.nvidia.driverBranch}' must be a driver branch like '550'`);
  }
  if (a.inference.backend === 'vllm' && a.gpu !== 'nvidia') {
    throw new Error(`${key('inference.backend')} 'vllm' needs gpu: 'nvidia'; CPU test hosts use backend 'stub'`);
  }
  if (a.inference.backend === 'stub' && a.gpu === 'nvidia') {
    throw new Error(`${key('inference.backend')} 'stub' is for CPU test hosts only; a GPU host serves vLLM`);
  }
  if (!a.tailscale.enabled) {
    const b = a.tailscale.bindAddress;
    if (!isIpv4(b) || b === '0.0.0.0') throw new Error(`${key('tailscale.bindAddress')} '${b}' must be one IPv4 address of the host (not 0.0.0.0)`);
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
  const port = a.api.port ?? 8001;
  if (!Number.isInteger(port) || port < 1024 || port > 65535 || port === 8000) {
    throw new Error(`${key('api.port')} ${port} must be 1024-65535 and not 8000 (vLLM)`);
  }
  if (a.firewall.sshSources.length === 0) {
    throw new Error(`${key('firewall.sshSources')} is empty: Pulumi would lock itself out (use ['any'] knowingly)`);
  }
  const cidr = /^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$|^[0-9a-f:]+(\/\d{1,3})?$|^any$/i;
  for (const s of a.firewall.sshSources) if (!cidr.test(s)) throw new Error(`${key('firewall.sshSources')} '${s}' is not a CIDR or 'any'`);
  for (const r of a.firewall.extraAllow ?? []) {
    if (r.port === 8000) throw new Error(`${key('firewall.extraAllow')} port 8000 (vLLM) is never exposed`);
    if (!Number.isInteger(r.port) || r.port < 1 || r.port > 65535) throw new Error(`${key('firewall.extraAllow')} ${r.port} is not a port`);
    if (!cidr.test(r.from)) throw new Error(`${key('firewall.extraAllow')} '${r.from}' is not a CIDR or 'any'`);
  }
  for (const p of a.extraPackages ?? []) {
    if (!/^[a-z0-9][a-z0-9.+-]+$/.test(p)) throw new Error(`${key('extraPackages')} '${p}' is not a Debian package name`);
  }
  if (a.inference.backend === 'vllm') {
    const v = a.inference.vllm;
    if (!/^[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+$/.test(v.model)) throw new Error(`${key('vllm.model')} '${v.model}' is not a Hugging Face id (org/name)`);
    if (!/^\d+\.\d+(\.\d+)?([a-z0-9.+-]*)$/.test(v.version)) throw new Error(`${key('vllm.version')} '${v.version}' must be a pinned version like 0.11.0`);
  }
}
