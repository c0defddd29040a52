// GpuHost phase 4, model server: vLLM on a GPU host, or the stub (its own unit) on a CPU test host.
import * as pulumi from '@pulumi/pulumi';
import type { remote } from '@pulumi/command';
import { hashFile } from '../lib/contentHash.js';
import { renderEnvFile } from '../lib/envFile.js';
import { HOST_PATHS } from '../lib/hostPaths.js';
import type { HostSteps } from '../lib/hostSteps.js';
import type { ModelStubArgs, VllmArgs } from '../lib/hostTypes.js';
import { scriptCommand } from '../lib/shell.js';
import { scriptHash } from '../lib/stageKeys.js';
import { modelStubUnit, STUB_UNIT, VLLM_UNIT, vllmModelEnv, vllmUnit } from '../lib/units.js';

export interface ModelServerPhase {
  /** The model unit installed and started. */
  service: remote.Command;
  /** The name clients send (vLLM --served-model-name / stub STUB_MODEL). */
  served: string;
  /** The key the model server requires: the API's UPSTREAM_API_KEY. */
  upstreamApiKey?: pulumi.Input<string>;
  unit: typeof VLLM_UNIT | typeof STUB_UNIT;
}

interface Deps {
  base: pulumi.Resource;
  node: pulumi.Resource;
  gpuReady: pulumi.Resource[];
  gpuCount: pulumi.Output<number>;
}

/** A root-owned file written from stdin (0600 unless the script is told otherwise); restart `unit` on change. */
const writeFile = (h: HostSteps, dest: string, unit: string) => scriptCommand(h.user, 'write-secret-file.sh', [dest, '--restart', unit]);

export function vllmPhase(h: HostSteps, hostname: string, v: VllmArgs, d: Deps): ModelServerPhase {
  const revision = v.revision ?? 'main';
  const install = h.step('vllm-install', {
    create: scriptCommand(h.user, 'vllm-install.sh', [v.version, v.python ?? 'python3']),
    triggers: [scriptHash('vllm-install.sh')],
    dependsOn: d.gpuReady,
    customTimeouts: { create: '60m', update: '60m' },
  });
  const hfToken = h.step('hf-token', {
    create: scriptCommand(h.user, 'write-secret-file.sh', [HOST_PATHS.hfToken]),
    stdin: pulumi.output(v.hfToken ?? '').apply((t) => (t ? `${t}\n` : '')),
    secret: true,
    triggers: [scriptHash('write-secret-file.sh')],
    dependsOn: [d.base],
  });
  const download = h.step('model-download', {
    create: scriptCommand(h.user, 'model-download.sh', [v.model, revision, String(v.minFreeDiskGb ?? 60)]),
    stdin: pulumi.output(v.hfToken ?? ''),
    secret: true,
    triggers: [scriptHash('model-download.sh')],
    dependsOn: [install, hfToken],
    customTimeouts: { create: '120m', update: '120m' },
  });
  const modelEnv = h.step('vllm-model-env', {
    create: writeFile(h, HOST_PATHS.vllmModelEnv, VLLM_UNIT),
    stdin: vllmModelEnv(v.model, revision),
    triggers: [scriptHash('write-secret-file.sh')],
    dependsOn: [download],
  });
  const env = h.step('vllm-env', {
    create: writeFile(h, HOST_PATHS.vllmEnv, VLLM_UNIT),
    stdin: pulumi.output(v.apiKey).apply((k) => renderEnvFile({ VLLM_API_KEY: k }, 'vllm.apiKey')),
    secret: true,
    triggers: [scriptHash('write-secret-file.sh')],
    dependsOn: [d.base],
  });
  const tp = v.tensorParallelSize !== undefined ? pulumi.output(v.tensorParallelSize) : d.gpuCount;
  const service = h.step('vllm-unit', {
    create: scriptCommand(h.user, 'install-unit.sh', [VLLM_UNIT]),
    stdin: tp.apply((n) =>
      vllmUnit({
        hostname,
        servedModelName: v.servedModelName,
        maxModelLen: v.maxModelLen,
        gpuMemoryUtilization: v.gpuMemoryUtilization ?? 0.9,
        tensorParallelSize: n,
        extraArgs: v.extraArgs,
      }),
    ),
    triggers: [scriptHash('install-unit.sh')],
    dependsOn: [modelEnv, env, download],
  });
  return { service, served: v.servedModelName, upstreamApiKey: v.apiKey, unit: VLLM_UNIT };
}

export function stubPhase(h: HostSteps, hostname: string, s: ModelStubArgs, d: Deps): ModelServerPhase {
  const staged = h.stage('stub', { file: s.bundlePath }, hashFile(s.bundlePath, 'inference.stub.bundlePath'), 'install-file.sh', { ext: '.mjs' });
  const install = h.step('stub-install', {
    create: scriptCommand(h.user, 'install-file.sh', [staged.remotePath, HOST_PATHS.stubBundle, '--restart', STUB_UNIT]),
    triggers: [staged.key],
    dependsOn: [staged.copy, d.base, d.node],
  });
  const env = h.step('stub-env', {
    create: writeFile(h, HOST_PATHS.stubEnv, STUB_UNIT),
    stdin: pulumi.output(s.apiKey ?? '').apply((k) =>
      renderEnvFile(
        {
          HOST: '127.0.0.1',
          PORT: '8000',
          STUB_MODEL: s.servedModelName,
          ...(k ? { STUB_API_KEY: k } : {}),
          ...(s.tokensPerSec !== undefined ? { STUB_TOKENS_PER_SEC: String(s.tokensPerSec) } : {}),
          ...(s.maxModelLen !== undefined ? { STUB_MAX_MODEL_LEN: String(s.maxModelLen) } : {}),
        },
        'inference.stub',
      ),
    ),
    secret: true,
    triggers: [scriptHash('write-secret-file.sh')],
    dependsOn: [d.base],
  });
  const service = h.step('stub-unit', {
    create: scriptCommand(h.user, 'install-unit.sh', [STUB_UNIT]),
    stdin: modelStubUnit({ hostname }),
    triggers: [scriptHash('install-unit.sh', 'wait-for-port.sh')],
    dependsOn: [install, env],
  });
  return { service, served: s.servedModelName, upstreamApiKey: s.apiKey, unit: STUB_UNIT };
}
