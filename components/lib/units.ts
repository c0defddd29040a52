// systemd units rendered from the templates in components/scripts/units/ (real files, reviewed as such).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isIpv4 } from './rules.js';
import { UNITS_DIR } from './scriptsDir.js';

/** Fills {{NAME}} placeholders; every placeholder must get a value and every value must be used. */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>, what: string): string {
  const used = new Set<string>();
  const out = template.replace(/\{\{([A-Z_]+)\}\}/g, (_m, name: string) => {
    const v = vars[name];
    if (v === undefined) throw new Error(`${what}: no value for {{${name}}}`);
    if (/[\n\r]/.test(v)) throw new Error(`${what}: the value of ${name} must be one line`);
    used.add(name);
    return v;
  });
  for (const k of Object.keys(vars)) if (!used.has(k)) throw new Error(`${what}: ${k} is not a placeholder of the template`);
  return out;
}

function template(name: string): string {
  return readFileSync(path.join(UNITS_DIR, `${name}.tmpl`), 'utf8');
}

const SAFE_ARG = /^[A-Za-z0-9_.:/=@,+-]+$/;
export { isIpv4 };

export const API_UNIT = 'fudbuddy-api.service';
/** The API's system user (base-setup.sh creates it; the unit runs as it; it may read the token files). */
export const API_SERVICE_USER = 'fudbuddy-api';
export const VLLM_UNIT = 'vllm.service';
export const STUB_UNIT = 'fudbuddy-model-stub.service';

export interface ApiUnitInput {
  hostname: string;
  /** IPv4 the API binds to (the Tailscale address, or the configured bindAddress). */
  bindAddress: string;
  port: number;
  /** `tailscale`: wait until `tailscale ip -4` shows the address; `address`: until `ip addr` shows it. */
  addressMode: 'tailscale' | 'address';
  modelUnit: typeof VLLM_UNIT | typeof STUB_UNIT;
  node?: string;
}

export function apiUnit(u: ApiUnitInput): string {
  if (!isIpv4(u.bindAddress)) throw new Error(`api bind address '${u.bindAddress}' is not an IPv4 address`);
  if (u.bindAddress === '0.0.0.0') throw new Error('api bind address 0.0.0.0 would expose the API on every interface');
  const after = [u.modelUnit, ...(u.addressMode === 'tailscale' ? ['tailscaled.service'] : [])].join(' ');
  return renderTemplate(
    template(API_UNIT),
    {
      HOSTNAME: u.hostname,
      BIND_ADDRESS: u.bindAddress,
      PORT: String(u.port),
      ADDRESS_MODE: u.addressMode,
      AFTER_UNITS: after,
      MODEL_UNIT: u.modelUnit,
      NODE: u.node ?? '/usr/bin/node',
    },
    API_UNIT,
  );
}

export interface VllmUnitInput {
  hostname: string;
  servedModelName: string;
  maxModelLen: number;
  gpuMemoryUtilization: number;
  tensorParallelSize: number;
  extraArgs?: string[];
}

export function vllmUnit(u: VllmUnitInput): string {
  if (!SAFE_ARG.test(u.servedModelName)) throw new Error(`vllm.servedModelName '${u.servedModelName}' has unsafe characters`);
  if (!Number.isInteger(u.maxModelLen) || u.maxModelLen < 256) throw new Error('vllm.maxModelLen must be an integer >= 256');
  if (!(u.gpuMemoryUtilization > 0 && u.gpuMemoryUtilization <= 1)) {
    throw new Error('vllm.gpuMemoryUtilization must be in (0, 1]');
  }
  if (!Number.isInteger(u.tensorParallelSize) || u.tensorParallelSize < 1) {
    throw new Error('vllm.tensorParallelSize must be a positive integer (the host has no GPU?)');
  }
  for (const a of u.extraArgs ?? []) {
    if (!SAFE_ARG.test(a)) throw new Error(`vllm.extraArgs: '${a}' has unsafe characters`);
    if (/^--(api-key|host|port)(=|$)/.test(a)) throw new Error(`vllm.extraArgs: ${a} is managed by the component`);
  }
  return renderTemplate(
    template(VLLM_UNIT),
    {
      HOSTNAME: u.hostname,
      SERVED_MODEL_NAME: u.servedModelName,
      MAX_MODEL_LEN: String(u.maxModelLen),
      GPU_MEMORY_UTILIZATION: String(u.gpuMemoryUtilization),
      TENSOR_PARALLEL_SIZE: String(u.tensorParallelSize),
      EXTRA_ARGS: (u.extraArgs ?? []).map((a) => ` ${a}`).join(''),
    },
    VLLM_UNIT,
  );
}

export function modelStubUnit(u: { hostname: string; node?: string }): string {
  return renderTemplate(template(STUB_UNIT), { HOSTNAME: u.hostname, NODE: u.node ?? '/usr/bin/node' }, STUB_UNIT);
}

/** /etc/fudbuddy/vllm-model.env (not secret): the model and revision vllm.service serves. */
export function vllmModelEnv(model: string, revision: string): string {
  return `VLLM_MODEL=${model}\nVLLM_REVISION=${revision}\n`;
}
