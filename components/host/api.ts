// GpuHost phase 5, the inference API: bundle, prompts, token files, env file, unit; and the teardown step.
import * as pulumi from '@pulumi/pulumi';
import type { remote } from '@pulumi/command';
import { hashDir, hashFile } from '../lib/contentHash.js';
import { apiEnv, renderEnvFile, renderTokenFile } from '../lib/envFile.js';
import { teardownArgs } from '../lib/hostFootprint.js';
import { HOST_PATHS } from '../lib/hostPaths.js';
import { checkPromptsDir } from '../lib/promptsCheck.js';
import type { HostSteps } from '../lib/hostSteps.js';
import type { InferenceApiArgs } from '../lib/hostTypes.js';
import { scriptCommand } from '../lib/shell.js';
import { scriptHash } from '../lib/stageKeys.js';
import { API_SERVICE_USER, API_UNIT, apiUnit, type STUB_UNIT, type VLLM_UNIT } from '../lib/units.js';

interface ApiInput {
  hostname: string;
  api: InferenceApiArgs;
  port: number;
  bindAddress: pulumi.Output<string>;
  addressMode: 'tailscale' | 'address';
  model: { served: string; upstreamApiKey?: pulumi.Input<string>; unit: typeof VLLM_UNIT | typeof STUB_UNIT; service: pulumi.Resource };
  deps: { base: pulumi.Resource; node: pulumi.Resource; firewall: pulumi.Resource; addressReady: pulumi.Resource[] };
}

/** The API unit step (installed and active): the last step of a host. */
export function apiPhase(h: HostSteps, a: ApiInput): remote.Command {
  const { base, node } = a.deps;
  const bundle = h.stage('api', { file: a.api.bundlePath }, hashFile(a.api.bundlePath, 'api.bundlePath'), 'install-file.sh', { ext: '.mjs' });
  const installApi = h.step('api-install', {
    create: scriptCommand(h.user, 'install-file.sh', [bundle.remotePath, HOST_PATHS.apiBundle, '--restart', API_UNIT]),
    triggers: [bundle.key],
    dependsOn: [bundle.copy, base, node],
  });
  const promptsHash = hashDir(a.api.promptsDir, 'api.promptsDir');
  checkPromptsDir(a.api.promptsDir);
  const prompts = h.stage('prompts', { dir: a.api.promptsDir }, promptsHash, 'install-file.sh');
  const installPrompts = h.step('prompts-install', {
    create: scriptCommand(h.user, 'install-file.sh', [prompts.remotePath, HOST_PATHS.prompts, '--reload', API_UNIT]),
    triggers: [prompts.key],
    dependsOn: [prompts.copy, base],
  });
  // Tokens in their own files (not in api.env): a rotation rewrites only these and reloads the API (SIGHUP, no
  // restart, running streams untouched); api.env, whose change restarts the API, stays byte-identical. The
  // service user reads them (group), cannot write them; the directory is its own so the API can watch it.
  const tokenFile = (id: string, dest: string, content: pulumi.Output<string>): remote.Command =>
    h.step(id, {
      create: scriptCommand(h.user, 'write-secret-file.sh', [dest, '--owner', `root:${API_SERVICE_USER}`, '--mode', '0640', '--reload', API_UNIT]),
      stdin: content,
      secret: true,
      triggers: [scriptHash('write-secret-file.sh')],
      dependsOn: [base],
    });
  const tokenSteps = [tokenFile('api-tokens', HOST_PATHS.apiTokens, pulumi.output(a.api.tokens).apply((t) => renderTokenFile(t, 'api.tokens')))];
  // Whether a metrics token file exists is known up front (the key is set); an empty list falls back to the API
  // tokens and leaves METRICS_TOKENS_FILE out.
  const metricsTokens = pulumi.output(a.api.metricsTokens ?? []);
  if (a.api.metricsTokens !== undefined) {
    const content = metricsTokens.apply((t) =>
      t.length > 0 ? renderTokenFile(t, 'api.metricsTokens') : '# no metrics tokens: /metrics takes the API tokens\n',
    );
    tokenSteps.push(tokenFile('api-metrics-tokens', HOST_PATHS.apiMetricsTokens, content));
  }
  const envContent = pulumi
    .all([a.bindAddress, metricsTokens.apply((t) => t.length > 0), pulumi.output(a.model.upstreamApiKey ?? '')])
    .apply(([bind, hasMetricsTokens, key]) =>
      renderEnvFile(
        apiEnv({
          bindAddress: bind,
          port: a.port,
          upstreamModel: a.model.served,
          upstreamApiKey: key || undefined,
          tokensFile: HOST_PATHS.apiTokens,
          metricsTokensFile: hasMetricsTokens ? HOST_PATHS.apiMetricsTokens : undefined,
          promptsDir: HOST_PATHS.prompts,
          extra: a.api.env,
        }),
        'api',
      ),
    );
  // After the token files: a restart (first install, or an env change) must find them in place.
  const envFile = h.step('api-env', {
    create: scriptCommand(h.user, 'write-secret-file.sh', [HOST_PATHS.apiEnv, '--restart', API_UNIT]),
    stdin: envContent,
    secret: true,
    triggers: [scriptHash('write-secret-file.sh')],
    dependsOn: [base, ...a.deps.addressReady, ...tokenSteps],
  });
  return h.step('api-unit', {
    create: scriptCommand(h.user, 'install-unit.sh', [API_UNIT]),
    stdin: a.bindAddress.apply((bind) =>
      apiUnit({ hostname: a.hostname, bindAddress: bind, port: a.port, addressMode: a.addressMode, modelUnit: a.model.unit }),
    ),
    triggers: [scriptHash('install-unit.sh', 'wait-for-address.sh', 'wait-for-upstream.sh', 'wait-for-port.sh')],
    // Through tokenSteps, whatever depends on the API (the Worker) waits until the hosts accept a new token.
    dependsOn: [installApi, installPrompts, envFile, ...tokenSteps, a.model.service, a.deps.firewall],
    customTimeouts: { create: '30m', update: '30m' },
  });
}

/**
 * Teardown: a step whose inputs never change, so it is never replaced; its delete runs only on `pulumi destroy` or
 * when this host leaves the stack, and stops/removes the services and config installed above (a delete on the
 * install steps themselves would also run on every replacement and take the service down).
 */
export function teardownStep(h: HostSteps, dependsOn: pulumi.Resource[]): remote.Command {
  return h.step('teardown', { create: 'true', delete: scriptCommand(h.user, 'teardown.sh', teardownArgs()), triggers: [], dependsOn });
}
