// Typed arguments of the host layer (GpuHost, Tailnet). The stack composition (index.ts / stacks/) maps its
// validated config onto these; components never read stack config themselves. Keep these stable: other
// components and the e2e stack code against them.
import type * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { driverInstall, gpuKind } from './rules.js';

/** How Pulumi reaches the host over SSH. */
export interface SshConnectionArgs {
  /** Address or DNS name Pulumi dials (the public/LAN address, not the tailnet one: the tailnet is set up here). */
  host: pulumi.Input<string>;
  /** SSH port, default 22. */
  port?: pulumi.Input<number>;
  /**
   * Login user. `root`, or a user with passwordless sudo (every step then runs through `sudo -n`).
   * A plain string because the command strings depend on it.
   */
  user: string;
  /** PEM/OpenSSH private key. Pass a secret (`config.requireSecret`). */
  privateKey: pulumi.Input<string>;
  /** Pin the host key (OpenSSH public key line); recommended in production. */
  hostKey?: pulumi.Input<string>;
  /**
   * How many times to retry dialing before giving up (the provider default is 10). The post-reboot wait uses
   * its own, larger limit.
   */
  dialErrorLimit?: number;
}

/** The NVIDIA server driver (nvidia-driver.sh). Only used when `gpu: 'nvidia'`. */
export interface NvidiaArgs {
  /** Driver branch, pinned, e.g. `'570'`. Nothing is installed when `nvidia-smi` already reports this branch. */
  driverBranch: string;
  /**
   * `ubuntu-drivers` (default): Ubuntu's signed prebuilt modules (`ubuntu-drivers install --gpgpu`), which load
   * under Secure Boot and need no headers. `dkms`: built from NVIDIA's CUDA repository; refused under Secure Boot.
   */
  install?: z.output<typeof driverInstall>;
  /** Optional CUDA toolkit package, e.g. `'cuda-toolkit-12-4'` (vLLM wheels bring their own CUDA runtime). */
  cudaPackage?: string;
  /** Minutes to wait for the host to come back after a driver-triggered reboot. Default 15. */
  rebootTimeoutMinutes?: number;
}

/** Join the tailnet (production). The API binds to the host's Tailscale IPv4 address. */
export interface TailscaleEnabledArgs {
  enabled: true;
  /** A single-use, preauthorized, tagged key: `Tailnet.authKeyFor(name)` (a secret Output). */
  authKey: pulumi.Input<string>;
  /** ACL tags this node advertises, e.g. `['tag:gpu']`. Must match the key's tags. */
  tags: string[];
  /** Extra `tailscale up` flags that are not secret, e.g. `['--accept-dns=false']`. */
  extraUpFlags?: string[];
}

/** No tailnet (CPU test hosts, the e2e stack): the API binds to `bindAddress` instead. */
export interface TailscaleDisabledArgs {
  enabled: false;
  /** Address the API listens on, e.g. the test host's private address. Never `0.0.0.0` in production. */
  bindAddress: string;
}

export type TailscaleArgs = TailscaleEnabledArgs | TailscaleDisabledArgs;

/** vLLM's OpenAI-compatible server, `vllm.service` on 127.0.0.1:8000. */
export interface VllmArgs {
  /** Pinned vLLM version installed into the virtualenv, e.g. `'0.11.0'`. */
  version: string;
  /** Hugging Face model id, e.g. `'Qwen/Qwen2.5-7B-Instruct'`. Changing it downloads the model and restarts vLLM. */
  model: string;
  /** Optional pinned model revision (commit or tag); default `main`. */
  revision?: string;
  /** `--served-model-name`, the name clients (and the API's UPSTREAM_MODEL) use. */
  servedModelName: string;
  /** `--max-model-len`. */
  maxModelLen: number;
  /** `--gpu-memory-utilization`, 0 < x <= 1. Default 0.9. */
  gpuMemoryUtilization?: number;
  /** `--tensor-parallel-size`; default: every GPU `nvidia-smi -L` lists on the host. */
  tensorParallelSize?: number;
  /** Free disk space (GiB) required in the models directory before a download starts. Default 60. */
  minFreeDiskGb?: number;
  /** Python interpreter for the venv. Default `python3`. */
  python?: string;
  /** Hugging Face token (secret) for gated models; written to a 0600 file, fed over stdin. */
  hfToken?: pulumi.Input<string>;
  /** vLLM `--api-key` (secret): delivered in vllm.env (0600, EnvironmentFile) and to the API as UPSTREAM_API_KEY. */
  apiKey: pulumi.Input<string>;
  /** Extra non-secret vLLM flags, e.g. `['--enable-prefix-caching']`. */
  extraArgs?: string[];
}

/**
 * The CPU stand-in model server (services/model-stub bundle) as `fudbuddy-model-stub.service`. ONLY for CPU test
 * hosts: it is a different unit than vllm.service so nothing of it reaches the production path.
 */
export interface ModelStubArgs {
  /** Local path of the bundled stub (`services/model-stub/dist/stub.mjs`). */
  bundlePath: string;
  /** Model name the stub reports (STUB_MODEL) and the API requests. */
  servedModelName: string;
  /** Optional key the stub requires (STUB_API_KEY); also the API's UPSTREAM_API_KEY. */
  apiKey?: pulumi.Input<string>;
  /** STUB_TOKENS_PER_SEC. */
  tokensPerSec?: number;
  /** STUB_MAX_MODEL_LEN: like vLLM's --max-model-len, refused at start above the model's own limit. */
  maxModelLen?: number;
}

export type InferenceArgs = { backend: 'vllm'; vllm: VllmArgs } | { backend: 'stub'; stub: ModelStubArgs };

/** The inference API (services/inference-api bundle) as `fudbuddy-api.service`. */
export interface InferenceApiArgs {
  /** Local path of the bundle: `services/inference-api/dist/server.mjs` (`npm run build`). */
  bundlePath: string;
  /** Local prompts directory (`prompts/`); a change is copied and the API reloaded (SIGHUP), not restarted. */
  promptsDir: string;
  /** Bearer tokens the API accepts (API_TOKENS), secrets. The edge's service token must be one of them. */
  tokens: pulumi.Input<pulumi.Input<string>[]>;
  /** Bearer tokens for GET /metrics (METRICS_TOKENS), secrets; the API falls back to `tokens` when absent. */
  metricsTokens?: pulumi.Input<pulumi.Input<string>[]>;
  /** Port, default 8001. */
  port?: number;
  /** Extra non-secret env (RATE_LIMIT_RPM, MAX_INFLIGHT, BODY_LIMIT, LOG_LEVEL, ...). Keys must be UPPER_SNAKE. */
  env?: Record<string, string>;
}

/** ufw. Inbound denied by default; tailscale0 allowed; SSH from `sshSources`; 8000 never opened. */
export interface FirewallArgs {
  /** CIDRs (or `'any'`) allowed to reach SSH (port from the connection) so Pulumi is never locked out. Required. */
  sshSources: string[];
  /**
   * Extra inbound TCP allows on non-tailnet interfaces, e.g. the e2e host's API port from the test network.
   * Port 8000 is refused.
   */
  extraAllow?: { port: number; from: string; comment?: string }[];
}

export interface GpuHostArgs {
  /** SSH access for Pulumi. */
  connection: SshConnectionArgs;
  /** Tailscale hostname (and the name in unit descriptions). Lowercase letters, digits and dashes. */
  hostname: string;
  /** `'nvidia'`: install/verify the driver. `'none'`: CPU host (tests), every GPU step is skipped. */
  gpu: z.output<typeof gpuKind>;
  /** Required when `gpu: 'nvidia'`. */
  nvidia?: NvidiaArgs;
  tailscale: TailscaleArgs;
  inference: InferenceArgs;
  api: InferenceApiArgs;
  firewall: FirewallArgs;
  /** Node.js major version on the host (NodeSource repository when missing/older). Default HOST_NODE.major (24, LTS). */
  nodeMajor?: number;
  /** Extra apt packages for the base step. */
  extraPackages?: string[];
  /**
   * Reboot after the base packages when the OS asks for it (/var/run/reboot-required), on the host's first `up`
   * (or the one that turns this on) only. Default false: `up` then reboots a host only for a new NVIDIA driver.
   */
  rebootIfRequired?: boolean;
}
