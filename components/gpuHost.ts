// GpuHost: an existing Ubuntu box reachable over SSH becomes a hardened inference host. A thin shell over five
// phases (components/host/: base → driver → tailnet → model server → API), each a function over the shared host
// steps (components/lib/hostSteps.ts): every step is a remote.Command whose triggers are content hashes, so an
// unchanged input runs nothing on the next `pulumi up`. Secrets travel on stdin, never in a command string.
import * as pulumi from '@pulumi/pulumi';
import type { remote } from '@pulumi/command';
import { apiPhase, teardownStep } from './host/api.js';
import { basePhase } from './host/base.js';
import { driverPhase } from './host/driver.js';
import { stubPhase, vllmPhase } from './host/modelServer.js';
import { tailnetPhase } from './host/tailnet.js';
import { hostSteps } from './lib/hostSteps.js';
import type { GpuHostArgs } from './lib/hostTypes.js';
import { shq } from './lib/shell.js';
import { validateGpuHostArgs } from './lib/validateHost.js';

export type * from './lib/hostTypes.js';
/** Remote locations, for docs, ops and other components (e.g. monitoring installing next to these). */
export { HOST_PATHS } from './lib/hostPaths.js';

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
    const h = hostSteps(name, args.connection, this);
    this.connection = h.connection;
    this.apiPort = args.api.port ?? 8001;

    const base = basePhase(h, args);
    this.base = base.base;
    const driver = driverPhase(h, args.gpu === 'nvidia' ? args.nvidia : undefined, base.base);
    this.gpuCount = driver.gpuCount;
    const tailnet = tailnetPhase(h, args.hostname, args.tailscale, base);
    this.tailnetAddress = tailnet.tailnetAddress;
    this.tailnetName = tailnet.tailnetName;
    this.apiBindAddress = tailnet.bindAddress;
    const modelDeps = { ...base, gpuReady: driver.ready, gpuCount: driver.gpuCount };
    const model =
      args.inference.backend === 'vllm'
        ? vllmPhase(h, args.hostname, args.inference.vllm, modelDeps)
        : stubPhase(h, args.hostname, args.inference.stub, modelDeps);
    this.modelServed = model.served;
    this.apiService = apiPhase(h, {
      hostname: args.hostname,
      api: args.api,
      port: this.apiPort,
      bindAddress: tailnet.bindAddress,
      addressMode: args.tailscale.enabled ? 'tailscale' : 'address',
      model,
      deps: { ...base, addressReady: tailnet.ready },
    });
    teardownStep(h, [base.installScripts, this.apiService]);

    this.apiUrl = pulumi.interpolate`http://${this.apiBindAddress}:${this.apiPort}`;
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
