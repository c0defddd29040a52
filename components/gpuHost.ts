// GpuHost: an existing Ubuntu box reachable over SSH becomes a hardened inference host. A thin shell over the
// scripts in components/scripts/ and the builders in components/lib/: every step is a remote.Command whose
// triggers are content hashes, so an unchanged input runs nothing on the next `pulumi up`. Secrets travel on
// the command's stdin (stored encrypted in state), never in a command string.
import * as pulumi from '@pulumi/pulumi';
import { local, remote, type types } from '@pulumi/command';
import { hashDir, hashFile } from './lib/contentHash.js';
import { apiEnv, renderEnvFile, renderTokenFile } from './lib/envFile.js';
import type { GpuHostArgs } from './lib/hostTypes.js';
import { SCRIPTS_DIR } from './lib/scriptsDir.js';
import { asRoot, scriptCommand, shq } from './lib/shell.js';
import { scriptHash, stageKey, stagePath } from './lib/stageKeys.js';
import { API_SERVICE_USER, API_UNIT, apiUnit, modelStubUnit, STUB_UNIT, VLLM_UNIT, vllmModelEnv, vllmUnit } from './lib/units.js';
import { validateGpuHostArgs } from './lib/validateHost.js';

export type * from './lib/hostTypes.js';

/** Remote locations, for docs, ops and other components (e.g. monitoring installing next to these). */
export const HOST_PATHS = {
  bin: '/opt/fudbuddy/bin',
  apiBundle: '/opt/fudbuddy/api/server.mjs',
  prompts: '/opt/fudbuddy/prompts',
  stubBundle: '/opt/fudbuddy/model-stub/stub.mjs',
  vllmVenv: '/opt/fudbuddy/vllm-venv',
  models: '/var/lib/fudbuddy/models',
  apiEnv: '/etc/fudbuddy/api.env',
  /** Bearer tokens (API_TOKENS_FILE), 0640 root:fudbuddy-api in a 0750 root:fudbuddy-api directory. */
  apiTokens: '/etc/fudbuddy-api/tokens',
  /** Metrics bearer tokens (METRICS_TOKENS_FILE), same ownership. */
  apiMetricsTokens: '/etc/fudbuddy-api/metrics-tokens',
  vllmEnv: '/etc/fudbuddy/vllm.env',
  vllmModelEnv: '/etc/fudbuddy/vllm-model.env',
  stubEnv: '/etc/fudbuddy/model-stub.env',
  hfToken: '/etc/fudbuddy/hf-token',
} as const;


export class GpuHost extends pulumi.ComponentResource {
  /** `http://<bind address>:<port>` of the inference API (the tailnet address when Tailscale is enabled). */
  public readonly apiUrl: pulumi.Output<string>;
  /** The address the API binds to. */
  public readonly apiBindAddress: pulumi.Output<string>;
  public readonly apiPort: number;
  /** The model name clients send (vLLM --served-model-name / stub STUB_MODEL). */
  public readonly modelServed: string;
  /** A command ops can run on the host to check the API (`/healthz`). */
  public readonly healthCommand: pulumi.Output<string>;
  /** Tailscale IPv4 of the host (undefined without Tailscale). */
  public readonly tailnetAddress: pulumi.Output<string | undefined>;
  /** MagicDNS name of the host (undefined without Tailscale). */
  public readonly tailnetName: pulumi.Output<string | undefined>;
  /** GPUs nvidia-smi lists (0 for gpu: 'none'). */
  public readonly gpuCount: pulumi.Output<number>;
  /** SSH connection the component uses; other components (monitoring) may run their own commands with it. */
  public readonly connection: remote.CommandArgs['connection'];
  /** The base step (packages, users, scripts in /opt/fudbuddy/bin): depend on it to add things to the host. */
  public readonly base: remote.Command;
  /** The final step (API unit active): depend on it to use the API. */
  public readonly apiService: remote.Command;

  constructor(name: string, args: GpuHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fudbuddy:host:GpuHost', name, {}, opts);
    validateGpuHostArgs(name, args);
    const user = args.connection.user;
    const apiPort = args.api.port ?? 8001;
    this.apiPort = apiPort;

    const connection: types.input.remote.ConnectionArgs = {
      host: args.connection.host,
      port: args.connection.port ?? 22,
      user,
      privateKey: pulumi.secret(args.connection.privateKey),
      hostKey: args.connection.hostKey,
      dialErrorLimit: args.connection.dialErrorLimit,
    };
    this.connection = connection;
    const child = { parent: this };

    interface Step {
      create: pulumi.Input<string>;
      triggers: pulumi.Input<unknown>[];
      dependsOn: pulumi.Resource[];
      stdin?: pulumi.Input<string>;
      /** Runs on destroy only where replacing the step can never happen (constant inputs): see the teardown step. */
      delete?: pulumi.Input<string>;
      /** Secret on stdin: no logging, stdout/stderr stored as secrets. */
      secret?: boolean;
      connection?: typeof connection;
      customTimeouts?: pulumi.CustomTimeouts;
    }
    const step = (id: string, s: Step): remote.Command =>
      new remote.Command(
        `${name}-${id}`,
        {
          connection: s.connection ?? connection,
          create: s.create,
          delete: s.delete,
          triggers: s.triggers,
          stdin: s.stdin === undefined ? undefined : s.secret ? pulumi.secret(s.stdin) : s.stdin,
          logging: s.secret ? 'none' : 'stdoutAndStderr',
          // Environment goes over SSH setenv, which sshd's AcceptEnv usually refuses: pass nothing that way.
          addPreviousOutputInEnv: false,
        },
        {
          ...child,
          dependsOn: s.dependsOn,
          additionalSecretOutputs: s.secret ? ['stdout', 'stderr'] : [],
          customTimeouts: s.customTimeouts,
        },
      );
    // Stage a local file/dir in a fresh content-addressed path (the SSH user can write /var/tmp); a step then
    // installs it and deletes the staged copy. The copy and its install step share one key (content + install
    // script), so neither can re-run without the other (an install re-run must find its staged copy).
    const stage = (
      id: string,
      source: pulumi.asset.Asset | pulumi.asset.Archive,
      contentHash: string,
      installScript: string,
      ext = '',
    ): { copy: remote.CopyToRemote; remotePath: string; key: string } => {
      const key = stageKey(contentHash, installScript);
      const remotePath = stagePath(id, key, ext);
      const copy = new remote.CopyToRemote(`${name}-stage-${id}`, { connection, source, remotePath, triggers: [key] }, child);
      return { copy, remotePath, key };
    };

    // 1. Scripts → /opt/fudbuddy/bin.
    const scriptsHash = hashDir(SCRIPTS_DIR, 'components/scripts');
    const scripts = stage('scripts', new pulumi.asset.FileArchive(SCRIPTS_DIR), scriptsHash, 'install-scripts.sh');
    const installScripts = step('scripts', {
      create: asRoot(user, `bash ${scripts.remotePath}/install-scripts.sh ${scripts.remotePath}`),
      triggers: [scripts.key],
      dependsOn: [scripts.copy],
    });

    // 2. Base, firewall, node.
    const base = step('base', {
      create: scriptCommand(user, 'base-setup.sh', args.extraPackages ?? []),
      triggers: [scriptHash('base-setup.sh')],
      dependsOn: [installScripts],
    });
    this.base = base;
    const sshPort = typeof args.connection.port === 'number' ? args.connection.port : 22;
    const firewallArgs = pulumi.output(connection.port).apply((p) => [
      '--ssh-port',
      String(p ?? sshPort),
      '--ssh-from',
      args.firewall.sshSources.join(','),
      ...(args.tailscale.enabled ? [] : ['--no-tailscale']),
      ...(args.firewall.extraAllow ?? []).flatMap((r) => ['--allow', `${r.port}:${r.from}`]),
    ]);
    const firewall = step('firewall', {
      create: firewallArgs.apply((a) => scriptCommand(user, 'firewall.sh', a)),
      triggers: [scriptHash('firewall.sh')],
      dependsOn: [base],
    });
    const nodeMajor = args.nodeMajor ?? 20;
    const node = step('node', {
      create: scriptCommand(user, 'node-install.sh', [String(nodeMajor)]),
      triggers: [scriptHash('node-install.sh')],
      dependsOn: [base],
    });

    // 3. NVIDIA driver, reboot only when it changed, wait for the host, verify.
    let gpuReady: pulumi.Resource[] = [base];
    if (args.gpu === 'nvidia') {
      const nv = args.nvidia!;
      const driver = step('nvidia-driver', {
        create: scriptCommand(user, 'nvidia-driver.sh', [nv.driverBranch, ...(nv.cudaPackage ? [nv.cudaPackage] : [])]),
        triggers: [scriptHash('nvidia-driver.sh')],
        dependsOn: [base],
        customTimeouts: { create: '40m', update: '40m' },
      });
      const reboot = step('reboot', {
        create: scriptCommand(user, 'reboot-if-required.sh'),
        triggers: [scriptHash('reboot-if-required.sh'), driver.stdout],
        dependsOn: [driver],
      });
      const rebooting = reboot.stdout.apply((o) => o.includes('REBOOTING=1'));
      // Let the scheduled reboot take the host down before dialing again.
      const pause = new local.Command(
        `${name}-reboot-pause`,
        { create: rebooting.apply((r) => (r ? 'sleep 45' : 'true')), triggers: [reboot.stdout] },
        { ...child, dependsOn: [reboot] },
      );
      const minutes = nv.rebootTimeoutMinutes ?? 15;
      const verify = step('verify-gpu', {
        create: reboot.stdout.apply((o) => {
          const boot = /BOOT_ID=([0-9a-f-]+)/.exec(o)?.[1];
          const extra = o.includes('REBOOTING=1') && boot ? ['--not-boot-id', boot] : [];
          return scriptCommand(user, 'verify-gpu.sh', [nv.driverBranch, ...extra]);
        }),
        triggers: [scriptHash('verify-gpu.sh'), reboot.stdout],
        dependsOn: [pause],
        // A generous dial budget: the host is rebooting (with a new kernel module) while this dials.
        connection: { ...connection, dialErrorLimit: Math.ceil((minutes * 60) / 10), perDialTimeout: 10 },
        customTimeouts: { create: `${minutes + 5}m`, update: `${minutes + 5}m` },
      });
      gpuReady = [verify];
      this.gpuCount = verify.stdout.apply((o) => Number(/GPU_COUNT=(\d+)/.exec(o)?.[1] ?? '0'));
    } else {
      this.gpuCount = pulumi.output(0);
    }

    // 4. Tailscale.
    let addressReady: pulumi.Resource[] = [base];
    if (args.tailscale.enabled) {
      const ts = args.tailscale;
      const install = step('tailscale-install', {
        create: scriptCommand(user, 'tailscale-install.sh'),
        triggers: [scriptHash('tailscale-install.sh')],
        dependsOn: [base],
      });
      const up = step('tailscale-up', {
        create: scriptCommand(user, 'tailscale-up.sh', [
          '--hostname',
          args.hostname,
          '--advertise-tags',
          ts.tags.join(','),
          ...(ts.extraUpFlags ?? []),
        ]),
        stdin: ts.authKey,
        secret: true,
        triggers: [scriptHash('tailscale-up.sh')],
        dependsOn: [install, firewall],
      });
      const status = step('tailscale-status', {
        create: scriptCommand(user, 'tailscale-status.sh'),
        triggers: [scriptHash('tailscale-status.sh'), args.hostname, ts.tags.join(',')],
        dependsOn: [up],
      });
      const parsed = status.stdout.apply((o) => {
        const line = o.trim().split('\n').pop() ?? '';
        const j = JSON.parse(line) as { ip?: string; dnsName?: string };
        if (!j.ip) throw new Error(`gpuHost ${name}: tailscale-status.sh reported no IPv4 address`);
        return { ip: j.ip, dnsName: j.dnsName ?? '' };
      });
      this.tailnetAddress = parsed.apply((p) => p.ip as string | undefined);
      this.tailnetName = parsed.apply((p) => p.dnsName as string | undefined);
      this.apiBindAddress = parsed.apply((p) => p.ip);
      addressReady = [status];
    } else {
      this.tailnetAddress = pulumi.output(undefined as string | undefined);
      this.tailnetName = pulumi.output(undefined as string | undefined);
      this.apiBindAddress = pulumi.output(args.tailscale.bindAddress);
    }

    // 5. Model server: vLLM (GPU) or the stub (CPU test hosts, its own unit).
    let modelService: remote.Command;
    let upstreamApiKey: pulumi.Input<string> | undefined;
    if (args.inference.backend === 'vllm') {
      const v = args.inference.vllm;
      this.modelServed = v.servedModelName;
      upstreamApiKey = v.apiKey;
      const revision = v.revision ?? 'main';
      const install = step('vllm-install', {
        create: scriptCommand(user, 'vllm-install.sh', [v.version, v.python ?? 'python3']),
        triggers: [scriptHash('vllm-install.sh')],
        dependsOn: gpuReady,
        customTimeouts: { create: '60m', update: '60m' },
      });
      const hfToken = step('hf-token', {
        create: scriptCommand(user, 'write-secret-file.sh', [HOST_PATHS.hfToken]),
        stdin: pulumi.output(v.hfToken ?? '').apply((t) => (t ? `${t}\n` : '')),
        secret: true,
        triggers: [scriptHash('write-secret-file.sh')],
        dependsOn: [base],
      });
      const download = step('model-download', {
        create: scriptCommand(user, 'model-download.sh', [v.model, revision, String(v.minFreeDiskGb ?? 60)]),
        stdin: pulumi.output(v.hfToken ?? ''),
        secret: true,
        triggers: [scriptHash('model-download.sh')],
        dependsOn: [install, hfToken],
        customTimeouts: { create: '120m', update: '120m' },
      });
      const modelEnv = step('vllm-model-env', {
        create: scriptCommand(user, 'write-secret-file.sh', [HOST_PATHS.vllmModelEnv, '--restart', VLLM_UNIT]),
        stdin: vllmModelEnv(v.model, revision),
        triggers: [scriptHash('write-secret-file.sh')],
        dependsOn: [download],
      });
      const env = step('vllm-env', {
        create: scriptCommand(user, 'write-secret-file.sh', [HOST_PATHS.vllmEnv, '--restart', VLLM_UNIT]),
        stdin: pulumi.output(v.apiKey).apply((k) => renderEnvFile({ VLLM_API_KEY: k }, 'vllm.apiKey')),
        secret: true,
        triggers: [scriptHash('write-secret-file.sh')],
        dependsOn: [base],
      });
      const tp = v.tensorParallelSize !== undefined ? pulumi.output(v.tensorParallelSize) : this.gpuCount;
      modelService = step('vllm-unit', {
        create: scriptCommand(user, 'install-unit.sh', [VLLM_UNIT]),
        stdin: tp.apply((n) =>
          vllmUnit({
            hostname: args.hostname,
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
    } else {
      const s = args.inference.stub;
      this.modelServed = s.servedModelName;
      upstreamApiKey = s.apiKey;
      const h = hashFile(s.bundlePath, 'inference.stub.bundlePath');
      const staged = stage('stub', new pulumi.asset.FileAsset(s.bundlePath), h, 'install-file.sh', '.mjs');
      const install = step('stub-install', {
        create: scriptCommand(user, 'install-file.sh', [staged.remotePath, HOST_PATHS.stubBundle, '--restart', STUB_UNIT]),
        triggers: [staged.key],
        dependsOn: [staged.copy, base, node],
      });
      const env = step('stub-env', {
        create: scriptCommand(user, 'write-secret-file.sh', [HOST_PATHS.stubEnv, '--restart', STUB_UNIT]),
        stdin: pulumi.output(s.apiKey ?? '').apply((k) =>
          renderEnvFile(
            {
              HOST: '127.0.0.1',
              PORT: '8000',
              STUB_MODEL: s.servedModelName,
              ...(k ? { STUB_API_KEY: k } : {}),
              ...(s.tokensPerSec !== undefined ? { STUB_TOKENS_PER_SEC: String(s.tokensPerSec) } : {}),
            },
            'inference.stub',
          ),
        ),
        secret: true,
        triggers: [scriptHash('write-secret-file.sh')],
        dependsOn: [base],
      });
      modelService = step('stub-unit', {
        create: scriptCommand(user, 'install-unit.sh', [STUB_UNIT]),
        stdin: modelStubUnit({ hostname: args.hostname }),
        triggers: [scriptHash('install-unit.sh', 'wait-for-port.sh')],
        dependsOn: [install, env],
      });
    }

    // 6. The inference API.
    const bundleHash = hashFile(args.api.bundlePath, 'api.bundlePath');
    const bundle = stage('api', new pulumi.asset.FileAsset(args.api.bundlePath), bundleHash, 'install-file.sh', '.mjs');
    const installApi = step('api-install', {
      create: scriptCommand(user, 'install-file.sh', [bundle.remotePath, HOST_PATHS.apiBundle, '--restart', API_UNIT]),
      triggers: [bundle.key],
      dependsOn: [bundle.copy, base, node],
    });
    const promptsHash = hashDir(args.api.promptsDir, 'api.promptsDir');
    const prompts = stage('prompts', new pulumi.asset.FileArchive(args.api.promptsDir), promptsHash, 'install-file.sh');
    const installPrompts = step('prompts-install', {
      create: scriptCommand(user, 'install-file.sh', [prompts.remotePath, HOST_PATHS.prompts, '--reload', API_UNIT]),
      triggers: [prompts.key],
      dependsOn: [prompts.copy, base],
    });
    // Tokens in their own files (not in api.env): a rotation rewrites only these and reloads the API (SIGHUP, no
    // restart, running streams untouched); api.env, whose change restarts the API, stays byte-identical. The
    // service user reads them (group), cannot write them; the directory is its own so the API can watch it.
    const tokenFileStep = (id: string, dest: string, content: pulumi.Output<string>): remote.Command =>
      step(id, {
        create: scriptCommand(user, 'write-secret-file.sh', [dest, '--owner', `root:${API_SERVICE_USER}`, '--mode', '0640', '--reload', API_UNIT]),
        stdin: content,
        secret: true,
        triggers: [scriptHash('write-secret-file.sh')],
        dependsOn: [base],
      });
    const apiTokens = tokenFileStep(
      'api-tokens',
      HOST_PATHS.apiTokens,
      pulumi.output(args.api.tokens).apply((t) => renderTokenFile(t, 'api.tokens')),
    );
    const tokenSteps = [apiTokens];
    // Whether a metrics token file exists is known up front (the key is set); an empty list falls back to the API
    // tokens and leaves METRICS_TOKENS_FILE out.
    const metricsTokens = pulumi.output(args.api.metricsTokens ?? []);
    if (args.api.metricsTokens !== undefined) {
      tokenSteps.push(
        tokenFileStep(
          'api-metrics-tokens',
          HOST_PATHS.apiMetricsTokens,
          metricsTokens.apply((t) => (t.length > 0 ? renderTokenFile(t, 'api.metricsTokens') : '# no metrics tokens: /metrics takes the API tokens\n')),
        ),
      );
    }
    const envContent = pulumi
      .all([this.apiBindAddress, metricsTokens.apply((t) => t.length > 0), pulumi.output(upstreamApiKey ?? '')])
      .apply(([bind, hasMetricsTokens, key]) =>
        renderEnvFile(
          apiEnv({
            bindAddress: bind,
            port: apiPort,
            upstreamModel: this.modelServed,
            upstreamApiKey: key || undefined,
            tokensFile: HOST_PATHS.apiTokens,
            metricsTokensFile: hasMetricsTokens ? HOST_PATHS.apiMetricsTokens : undefined,
            promptsDir: HOST_PATHS.prompts,
            extra: args.api.env,
          }),
          'api',
        ),
      );
    // After the token files: a restart (first install, or an env change) must find them in place.
    const envFile = step('api-env', {
      create: scriptCommand(user, 'write-secret-file.sh', [HOST_PATHS.apiEnv, '--restart', API_UNIT]),
      stdin: envContent,
      secret: true,
      triggers: [scriptHash('write-secret-file.sh')],
      dependsOn: [base, ...addressReady, ...tokenSteps],
    });
    this.apiService = step('api-unit', {
      create: scriptCommand(user, 'install-unit.sh', [API_UNIT]),
      stdin: this.apiBindAddress.apply((bind) =>
        apiUnit({
          hostname: args.hostname,
          bindAddress: bind,
          port: apiPort,
          addressMode: args.tailscale.enabled ? 'tailscale' : 'address',
          modelUnit: args.inference.backend === 'vllm' ? VLLM_UNIT : STUB_UNIT,
        }),
      ),
      triggers: [scriptHash('install-unit.sh', 'wait-for-address.sh', 'wait-for-upstream.sh', 'wait-for-port.sh')],
      // Through tokenSteps, whatever depends on the API (the Worker) waits until the hosts accept a new token.
      dependsOn: [installApi, installPrompts, envFile, ...tokenSteps, modelService, firewall],
      customTimeouts: { create: '30m', update: '30m' },
    });

    // Teardown: a step whose inputs never change, so it is never replaced; its delete runs only on `pulumi destroy`
    // or when this host leaves the stack, and stops/removes the services and config installed above (a delete on
    // the install steps themselves would also run on every replacement and take the service down).
    step('teardown', {
      create: 'true',
      delete: scriptCommand(user, 'teardown.sh'),
      triggers: [],
      dependsOn: [installScripts, this.apiService],
    });

    this.apiUrl = pulumi.interpolate`http://${this.apiBindAddress}:${apiPort}`;
    this.healthCommand = pulumi.interpolate`curl -fsS ${this.apiUrl}/healthz`;
    this.registerOutputs({
      apiUrl: this.apiUrl,
      tailnetAddress: this.tailnetAddress,
      tailnetName: this.tailnetName,
      modelServed: this.modelServed,
      healthCommand: this.healthCommand,
      gpuCount: this.gpuCount,
    });
  }
}

/** Quoting helper re-exported for components that add their own host scripts. */
export { shq };
