// The typed stack config of the `fudbuddy` project.
//
// The schema lives here; `parseStackConfig` (stacks/validate.ts) is pure (plain values in, typed config or key-named
// errors out) so it is tested without Pulumi; stacks/derive.ts computes the values that depend on other keys;
// `stacks/readConfig.ts` is the thin reader over Pulumi's config that turns secrets into secret Outputs.
// Every key carries a description: docs/config-reference.md is generated from this schema (and a test checks it).
import { z } from 'zod';
import { ADMIN_GROUP, SERVE_CLIENT_RE } from '../components/lib/aclPolicy.js';
import { HEADSCALE_CLI_DEFAULT, httpLoginServerProblem } from '../components/lib/headscale.js';
import { edgeRoutingSchema } from './edgeRoutingConfig.js';
import { DEFAULT_FALLBACK_MODEL, DEFAULT_OPENAI_BASE_URL, WORKER_SETTINGS, type WorkerSettingName } from '../services/edge-worker/src/defaults.js';
import { HOST_NODE } from '../components/lib/hostNode.js';
import {
  apiPort,
  bindAddress,
  CIDR,
  controlServer,
  credentialName,
  DEFAULT_API_PORT,
  driverBranch,
  driverInstall,
  exposureMode,
  gpuKind,
  hfModelId,
  hostNodeMajor,
  HOSTNAME_LABEL,
  retention,
  smtpSmarthost,
  sshUser,
  vllmVersion,
} from '../components/lib/rules.js';

export const PROJECT = 'fudbuddy';

const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const CF_ID = /^[0-9a-f]{32}$/;

/** Pulumi hands scalars to the program as strings; objects arrive parsed. */
const bool = (def: boolean) =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).default(def);
const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
/** A Worker setting: default and range from the Worker's own table, so the stack and the Worker cannot disagree. */
const workerInt = (name: WorkerSettingName) => int(WORKER_SETTINGS[name].default, WORKER_SETTINGS[name].min, WORKER_SETTINGS[name].max);
/** An empty string from a project-level default means "not set". */
const optionalString = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === '' ? undefined : v), s.optional());

const sshTarget = {
  address: z.string().min(1).describe('SSH address (DNS name or IP) Pulumi uses to reach the box'),
  port: int(22, 1, 65535).describe('SSH port'),
  user: sshUser.default('ubuntu').describe('SSH user with passwordless sudo'),
};

export const gpuHostSchema = z
  .object({
    name: z.string().regex(HOSTNAME_LABEL).describe('Short unique name (resource names, default tailnet hostname)'),
    ...sshTarget,
    tailnetHostname: z.string().regex(HOSTNAME_LABEL).optional().describe('Tailscale hostname (default fudbuddy-<name>)'),
    gpu: gpuKind.default('nvidia').describe('nvidia: driver/CUDA/vLLM; none: CPU host running the model stub (tests)'),
    tensorParallelSize: z.coerce.number().int().min(1).max(16).optional().describe('vLLM --tensor-parallel-size (default: all GPUs of the host)'),
    hostKey: z.string().regex(/^(ssh-|ecdsa-)/, 'an OpenSSH public host key line').optional().describe('Pinned SSH host key (recommended)'),
    bindAddress: bindAddress.optional().describe('API bind address when tailscaleEnabled is false (e2e stack only)'),
    rebootIfRequired: bool(false).describe(
      "Reboot after the base packages when the OS asks for it (/var/run/reboot-required: a new kernel from unattended-upgrades), on the host's first up only; false: up reboots only for a new NVIDIA driver",
    ),
  })
  .strict();

export const edgeNodeSchema = z
  .object({
    name: z.string().regex(HOSTNAME_LABEL).default('edge').describe('Short name used in resource names'),
    ...sshTarget,
    tailnetHostname: z.string().regex(HOSTNAME_LABEL).default('fudbuddy-edge').describe('Tailscale hostname; the Funnel/serve URL is https://<tailnetHostname>.<tailnetDnsName>'),
    hostKey: z.string().regex(/^(ssh-|ecdsa-)/, 'an OpenSSH public host key line').optional().describe('Pinned SSH host key (recommended)'),
  })
  .strict();

export const modelSchema = z
  .object({
    id: hfModelId.default('Qwen/Qwen2.5-7B-Instruct').describe('Hugging Face model repo id'),
    revision: z.string().min(1).optional().describe('Pinned model revision (commit sha or tag)'),
    servedName: z.string().regex(/^[\w.:-]+$/).default('fudbuddy-chat').describe('--served-model-name; what clients see as "model"'),
    maxModelLen: int(8192, 512, 1_048_576).describe('vLLM --max-model-len'),
    gpuMemoryUtilization: z.coerce.number().min(0.1).max(0.99).default(0.9).describe('vLLM --gpu-memory-utilization'),
  })
  .strict();

export const apiSchema = z
  .object({
    port: apiPort.default(DEFAULT_API_PORT).describe('Inference API port on the host tailnet address (not 8000, vLLM\'s)'),
    rateLimitRpm: int(120, 1, 100_000).describe('Per-client requests per minute at the API (RATE_LIMIT_RPM)'),
    maxInflight: int(8, 1, 1024).describe('Concurrent upstream requests before queueing (MAX_INFLIGHT)'),
    bodyLimit: z.string().regex(/^\d+(kb|mb)$/).default('1mb').describe('Largest request body (BODY_LIMIT)'),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info').describe('pino log level (LOG_LEVEL)'),
  })
  .strict();

export const workerSchema = z
  .object({
    scriptName: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/).optional().describe('Workers script name (default fudbuddy-api-<stack>)'),
    hostname: z.string().regex(DNS_NAME).optional().describe('Public API hostname (default api.<domain>)'),
    routing: z.enum(['customDomain', 'route']).default('customDomain').describe('customDomain: WorkersCustomDomain (Cloudflare makes the DNS record and certificate); route: WorkersRoute on an existing proxied record'),
    clientIds: z.array(z.string().regex(/^[\w.-]+$/)).min(1).default(['fudbuddy-web']).describe('Client ids allowed to get tokens (CLIENT_IDS); the web client uses the first'),
    allowedOrigins: z.array(z.url()).default([]).describe('Browser origins allowed by CORS (default: the web client URL)'),
    fallbackModel: z.string().min(1).default(DEFAULT_FALLBACK_MODEL).describe('OpenAI model used when the origin is down (needs openaiApiKey)'),
    openaiBaseUrl: z.url().default(DEFAULT_OPENAI_BASE_URL).describe('OpenAI-compatible base URL for the fallback'),
    tokenTtlSeconds: workerInt('TOKEN_TTL_SECONDS').describe('Lifetime of the short-lived browser tokens (≤ 900)'),
    rateLimitRpm: workerInt('RATE_LIMIT_RPM').describe('Requests per minute per client token'),
    tokensPerDay: workerInt('TOKENS_PER_DAY').describe('Model tokens per browser session per day (Durable Object quota; the Worker also caps each IP and the whole client id, see docs/edge.md)'),
    ipRateLimitRpm: workerInt('IP_RATE_LIMIT_RPM').describe('Requests per minute per IP'),
    originTimeoutMs: workerInt('ORIGIN_TIMEOUT_MS').describe('Streams: time to the first byte before the origin counts as dead (non-streamed calls wait for the whole answer, ORIGIN_RESPONSE_TIMEOUT_MS)'),
    breakerFailures: workerInt('BREAKER_FAILURES').describe('Consecutive origin failures that open the circuit breaker'),
    breakerOpenSeconds: workerInt('BREAKER_OPEN_SECONDS').describe('How long the breaker stays open'),
    observability: bool(true).describe('Workers Logs (observability) on'),
    headSamplingRate: z.coerce.number().min(0).max(1).default(1).describe('Share of requests logged by Workers observability'),
  })
  .strict();

export const webSchema = z
  .object({
    enabled: bool(true).describe('Publish the web client to Cloudflare Pages (public exposure only)'),
    projectName: z.string().regex(/^[a-z0-9][a-z0-9-]{0,57}$/).optional().describe('Pages project name (default fudbuddy-web-<stack>)'),
    hostname: z.string().regex(DNS_NAME).optional().describe('Custom domain of the app (default app.<domain>)'),
    productionBranch: z.string().min(1).default('main').describe('Pages production branch name used by deploys'),
    sentryDsn: optionalString(z.url()).describe('VITE_SENTRY_DSN (public by design; optional)'),
  })
  .strict();

export const monitoringSchema = z
  .object({
    enabled: bool(true).describe('Install exporters on the GPU hosts and Prometheus/Alertmanager (+ Grafana) on the edge node (needs Tailscale)'),
    grafana: bool(true).describe(
      "Grafana (from Grafana's apt repository, apt.grafana.com) with the FUD Buddy dashboards on the monitoring node. false: Prometheus, Alertmanager, exporters and alerting only (boxes that cannot reach apt.grafana.com, or your own Grafana); grafanaAdminPassword is then not needed and logs must stay off",
    ),
    logs: bool(false).describe("Ship journald to Loki (Grafana Alloy on every host); Loki and Alloy come from Grafana's apt repository, so this needs monitoring.grafana"),
    retention: retention.default('30d').describe('Prometheus TSDB retention'),
    alertEmail: z
      .object({
        to: z.email(),
        from: z.email(),
        smarthost: smtpSmarthost,
        authUsername: z.string().optional(),
      })
      .strict()
      .optional()
      .describe('E-mail route for alerts (password in the secret alertSmtpPassword)'),
    externalUrl: z.url().optional().describe('URL of Grafana/Alertmanager used in alert links'),
    credentialExpiries: z
      .array(z.object({ credential: credentialName, expiresAt: z.iso.datetime({ offset: true, error: 'an RFC 3339 timestamp, quoted in the stack file, e.g. "2027-01-31T00:00:00Z"' }) }).strict())
      .default([])
      .describe(
        'Credentials alerted on 14 and 3 days before they expire: [{credential, expiresAt}], expiresAt an RFC 3339 timestamp (quoted in the stack file). ' +
          'List at least: `tailscale-api-key` (expiry of tailscale:apiKey, Tailscale admin console → Settings → Keys), ' +
          '`cloudflare-api-token` (end of the TTL of cloudflare:apiToken, Cloudflare dashboard → API Tokens), ' +
          '`service-token-rotation` (next planned rotation of fudbuddy:serviceToken, docs/runbook.md; move it after each rotation)',
      ),
  })
  .strict();

export const headscaleSchema = z
  .object({
    loginServer: z
      .url({ protocol: /^https?$/ })
      .regex(/^https?:\/\/[A-Za-z0-9.:/_-]+$/, 'an http(s) URL of letters, digits and . : / _ -')
      .superRefine((v, ctx) => {
        const why = httpLoginServerProblem(v);
        if (why) ctx.addIssue({ code: 'custom', message: why });
      })
      .describe("Headscale's server_url, what hosts pass as `tailscale up --login-server` (e.g. https://headscale.example.com)"),
    ...sshTarget,
    hostKey: z.string().regex(/^(ssh-|ecdsa-)/, 'an OpenSSH public host key line').optional().describe('Pinned SSH host key of the Headscale host (recommended)'),
    cli: z.string().regex(/^[A-Za-z0-9_./-]+$/, 'a plain command path').default(HEADSCALE_CLI_DEFAULT).describe('The Headscale CLI on that host (run as the SSH user, through sudo unless root)'),
  })
  .strict();

/** Non-secret keys. Object-valued keys are set with `pulumi config set --path` or in the stack file. */
export const stackConfigSchema = z
  .object({
    exposure: exposureMode.default('private').describe('private: tailnet only (edge node `tailscale serve`); public: Cloudflare Worker + Pages, origin through Tailscale Funnel'),
    environment: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/).default('beta').describe('Environment label (Worker ENVIRONMENT, VITE_AI_ENV, resource names)'),
    tailscaleEnabled: bool(true).describe('Join hosts to the tailnet and manage the ACL (false only for the local e2e stack)'),
    controlServer: controlServer
      .default('tailscale')
      .describe(
        "tailscale: Tailscale's hosted control plane (policy and keys through the Tailscale provider); headscale: a self-hosted Headscale (policy and keys through its CLI over SSH, see `headscale`). Headscale has no Funnel and no HTTPS certificates: private exposure only, served over plain HTTP inside the tailnet",
      ),
    headscale: headscaleSchema.optional().describe('The Headscale server (controlServer: headscale): its URL and the SSH target that runs its CLI'),
    tailnetPolicyOverwrite: bool(false).describe(
      "Tailscale only: let the first `pulumi up` replace a tailnet policy that was edited before (the provider's overwriteExistingContent). Our policy replaces the WHOLE tailnet policy: merge your own rules first (docs/runbook.md)",
    ),
    tailnetDnsName: optionalString(z.string().regex(DNS_NAME, 'the MagicDNS suffix, e.g. tail1234.ts.net')).describe("MagicDNS suffix of the tailnet (Tailscale: Admin console → DNS, e.g. tail1234.ts.net; Headscale: its dns.base_domain)"),
    tailnetAdmins: z.array(z.email()).default([]).describe('Tailscale login emails that own the tags and may SSH to the hosts (at least one when tailscaleEnabled)'),
    tailnetClients: z
      .array(z.string().regex(SERVE_CLIENT_RE, `must be autogroup:member, ${ADMIN_GROUP} or a Tailscale login email`))
      .min(1, 'needs at least one source (autogroup:member lets every tailnet user in)')
      .default(['autogroup:member'])
      .describe(
        `Private exposure: who on the tailnet may call the API through the edge node's \`tailscale serve\` URL (the policy grants them tag:edge:443 only): autogroup:member, ${ADMIN_GROUP} or login emails. Unused when public (Funnel needs no grant)`,
      ),
    gpuHosts: z.array(gpuHostSchema).min(1).describe('GPU (or CPU test) hosts; each becomes one gpuHost component'),
    edgeNode: edgeNodeSchema.optional().describe('Always-on edge box (e.g. a Pi); without it the first GPU host plays the edge role'),
    edgeRouting: edgeRoutingSchema.default(edgeRoutingSchema.parse({})).describe('How the edge node spreads requests over the GPU hosts (session affinity, bounded load, drain); see docs/architecture.md'),
    model: modelSchema.default(modelSchema.parse({})).describe('The model vLLM serves'),
    vllmVersion: vllmVersion.default('0.11.0').describe('Pinned vLLM version'),
    hostNodeMajor: hostNodeMajor.default(HOST_NODE.major).describe('Node.js LTS line the hosts run the inference API on (NodeSource apt repository)'),
    vllmCuda: z.string().regex(/^\d+\.\d+$/, 'a CUDA version like 12.8').optional().describe('CUDA version the vLLM wheels need, for a vLLM release line not in components/lib/cudaCompat.ts'),
    nvidiaDriverInstall: driverInstall.default('ubuntu-drivers').describe("ubuntu-drivers: Ubuntu's signed prebuilt modules (work under Secure Boot); dkms: built from NVIDIA's CUDA repository (refused under Secure Boot)"),
    nvidiaDriverBranch: driverBranch.default('570').describe('Pinned NVIDIA driver branch'),
    sshAllowFrom: z.array(z.string().regex(CIDR, 'a CIDR like 203.0.113.0/24')).min(1).default(['0.0.0.0/0', '::/0']).describe('Sources allowed to reach SSH through ufw (narrow it to your admin network)'),
    apiAllowFrom: z.array(z.string().regex(CIDR, 'a CIDR like 10.0.0.0/24')).default([]).describe('Extra sources allowed to the API port through ufw: only for stacks without Tailscale (e2e)'),
    api: apiSchema.default(apiSchema.parse({})).describe('Inference API settings'),
    domain: optionalString(z.string().regex(DNS_NAME, 'a DNS name like fudbuddy.com')).describe('Cloudflare zone name (public exposure)'),
    cloudflareAccountId: optionalString(z.string().regex(CF_ID, '32 hex characters')).describe('Cloudflare account id (public exposure)'),
    cloudflareZoneId: optionalString(z.string().regex(CF_ID, '32 hex characters')).describe('Cloudflare zone id of `domain` (public exposure)'),
    worker: workerSchema.default(workerSchema.parse({})).describe('Edge Worker settings (public exposure)'),
    web: webSchema.default(webSchema.parse({})).describe('Web client settings (public exposure)'),
    monitoring: monitoringSchema.default(monitoringSchema.parse({})).describe('Monitoring (Prometheus, Alertmanager, Grafana on the edge box); see docs/monitoring.md'),
  })
  .strict();

export type StackSettings = z.output<typeof stackConfigSchema>;
export type GpuHostConfig = z.output<typeof gpuHostSchema>;
export type EdgeNodeConfig = z.output<typeof edgeNodeSchema>;

/**
 * When a secret is required, one rule per name: `when` over the settings that parsed (stacks/validate.ts asks it),
 * `why` ends its "is required" message, `label` is the Required column of docs/config-reference.md.
 */
export const SECRET_REQUIRED = {
  always: { when: () => true, why: '', label: 'always' },
  never: { when: () => false, why: '', label: 'optional' },
  public: { when: (s) => s.exposure === 'public', why: ' when exposure is "public"', label: 'public exposure' },
  monitoring: { when: (s) => s.monitoring?.enabled === true, why: ' when monitoring.enabled is true', label: 'with monitoring' },
  grafana: {
    when: (s) => s.monitoring?.enabled === true && s.monitoring.grafana,
    why: ' when monitoring.enabled and monitoring.grafana are true',
    label: 'with monitoring and `monitoring.grafana`',
  },
} as const satisfies Record<string, { when: (s: Partial<StackSettings>) => boolean; why: string; label: string }>;

/** Secret keys: read with getSecret, stay secret Outputs; validated here without ever echoing the value. */
export const SECRET_KEYS = {
  serviceToken: { required: 'always', kind: 'token', description: 'Service bearer token: the Worker (ORIGIN_TOKEN) and tailnet clients use it; in API_TOKENS' },
  serviceTokenPrevious: { required: 'never', kind: 'token', description: 'Previous service token, still accepted by the API during a rotation (drop it on the next run)' },
  jwtSigningKey: { required: 'public', kind: 'token', description: 'HS256 key the Worker signs browser tokens with (JWT_SIGNING_KEY)' },
  jwtSigningKeyPrevious: { required: 'never', kind: 'token', description: 'Previous JWT key, still verified for one token lifetime (JWT_SIGNING_KEY_PREVIOUS)' },
  upstreamApiKey: { required: 'always', kind: 'token', description: 'vLLM --api-key (UPSTREAM_API_KEY of the API), never leaves the GPU host' },
  metricsToken: { required: 'monitoring', kind: 'token', description: 'Bearer token for /metrics of the API (METRICS_TOKENS) and the Worker (METRICS_TOKEN)' },
  openaiApiKey: { required: 'never', kind: 'text', description: 'OpenAI key for the Worker fallback (OPENAI_API_KEY); no fallback without it' },
  inviteCodes: { required: 'never', kind: 'list', description: 'Comma-separated invite codes required by POST /v1/token (INVITE_CODES)' },
  huggingFaceToken: { required: 'never', kind: 'text', description: 'Hugging Face token for gated models' },
  grafanaAdminPassword: { required: 'grafana', kind: 'text', description: 'Grafana admin password (not needed with monitoring.grafana false)' },
  alertWebhookUrl: { required: 'never', kind: 'url', description: 'Alertmanager webhook receiver URL (it usually embeds a token); this or monitoring.alertEmail' },
  alertSmtpPassword: { required: 'never', kind: 'text', description: 'SMTP password for monitoring.alertEmail' },
  sshPrivateKey: { required: 'always', kind: 'sshKey', description: 'Private key (OpenSSH/PEM) Pulumi uses for SSH to every host' },
} as const satisfies Record<string, { required: keyof typeof SECRET_REQUIRED; kind: string; description: string }>;
export type SecretKey = keyof typeof SECRET_KEYS;
export const SECRET_KEY_NAMES = Object.keys(SECRET_KEYS) as SecretKey[];
