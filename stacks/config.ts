// The typed stack config of the `fudbuddy` project.
//
// `parseStackConfig` is pure (plain values in, typed config or key-named errors out) so it is tested without Pulumi;
// `stacks/readConfig.ts` is the thin reader over Pulumi's config that turns secrets into secret Outputs.
// Every key carries a description: docs/config-reference.md is generated from this schema (and a test checks it).
import { z } from 'zod';
import { ADMIN_GROUP, SERVE_CLIENT_RE } from '../components/lib/aclPolicy.js';
import { HEADSCALE_CLI_DEFAULT } from '../components/lib/headscale.js';

export const PROJECT = 'fudbuddy';

const HOSTNAME_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const CF_ID = /^[0-9a-f]{32}$/;
const CIDR = /^([0-9]{1,3}(\.[0-9]{1,3}){3}\/[0-9]{1,2}|[0-9a-fA-F:]+\/[0-9]{1,3})$/;
// Tokens travel in API_TOKENS (comma-separated) and in Authorization headers: no commas, no whitespace.
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]+$/;

/** Pulumi hands scalars to the program as strings; objects arrive parsed. */
const bool = (def: boolean) =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean()).default(def);
const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
/** An empty string from a project-level default means "not set". */
const optionalString = <T extends z.ZodType>(s: T) => z.preprocess((v) => (v === '' ? undefined : v), s.optional());

const sshTarget = {
  address: z.string().min(1).describe('SSH address (DNS name or IP) Pulumi uses to reach the box'),
  port: int(22, 1, 65535).describe('SSH port'),
  user: z.string().regex(/^[a-z_][a-z0-9_-]*$/).default('ubuntu').describe('SSH user with passwordless sudo'),
};

export const gpuHostSchema = z
  .object({
    name: z.string().regex(HOSTNAME_LABEL).describe('Short unique name (resource names, default tailnet hostname)'),
    ...sshTarget,
    tailnetHostname: z.string().regex(HOSTNAME_LABEL).optional().describe('Tailscale hostname (default fudbuddy-<name>)'),
    gpu: z.enum(['nvidia', 'none']).default('nvidia').describe('nvidia: driver/CUDA/vLLM; none: CPU host running the model stub (tests)'),
    tensorParallelSize: z.coerce.number().int().min(1).max(16).optional().describe('vLLM --tensor-parallel-size (default: all GPUs of the host)'),
    hostKey: z.string().regex(/^(ssh-|ecdsa-)/, 'an OpenSSH public host key line').optional().describe('Pinned SSH host key (recommended)'),
    bindAddress: z.string().min(1).optional().describe('API bind address when tailscaleEnabled is false (e2e stack only)'),
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
    id: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a Hugging Face repo id like "org/name"').default('Qwen/Qwen2.5-7B-Instruct').describe('Hugging Face model repo id'),
    revision: z.string().min(1).optional().describe('Pinned model revision (commit sha or tag)'),
    servedName: z.string().regex(/^[\w.:-]+$/).default('fudbuddy-chat').describe('--served-model-name; what clients see as "model"'),
    maxModelLen: int(8192, 512, 1_048_576).describe('vLLM --max-model-len'),
    gpuMemoryUtilization: z.coerce.number().min(0.1).max(0.99).default(0.9).describe('vLLM --gpu-memory-utilization'),
  })
  .strict();

export const apiSchema = z
  .object({
    port: int(8001, 1024, 65535).describe('Inference API port on the host tailnet address'),
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
    fallbackModel: z.string().min(1).default('gpt-4o-mini').describe('OpenAI model used when the origin is down (needs openaiApiKey)'),
    openaiBaseUrl: z.url().default('https://api.openai.com/v1').describe('OpenAI-compatible base URL for the fallback'),
    tokenTtlSeconds: int(600, 60, 900).describe('Lifetime of the short-lived browser tokens (≤ 900)'),
    rateLimitRpm: int(20, 1, 10_000).describe('Requests per minute per client token'),
    tokensPerDay: int(200_000, 1, 1_000_000_000).describe('Model tokens per client per day (Durable Object quota)'),
    ipRateLimitRpm: int(60, 1, 100_000).describe('Requests per minute per IP'),
    originTimeoutMs: int(30_000, 1000, 300_000).describe('Time to wait for the origin before the fallback'),
    breakerFailures: int(5, 1, 1000).describe('Consecutive origin failures that open the circuit breaker'),
    breakerOpenSeconds: int(30, 1, 3600).describe('How long the breaker stays open'),
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
    enabled: bool(true).describe('Install exporters on the GPU hosts and Prometheus/Alertmanager/Grafana on the edge node (needs Tailscale)'),
    logs: bool(false).describe('Ship journald to Loki (Grafana Alloy on every host)'),
    retention: z.string().regex(/^\d+[dwy]$/).default('30d').describe('Prometheus TSDB retention'),
    alertEmail: z
      .object({
        to: z.email(),
        from: z.email(),
        smarthost: z.string().regex(/^[\w.-]+:\d+$/, 'host:port'),
        authUsername: z.string().optional(),
      })
      .strict()
      .optional()
      .describe('E-mail route for alerts (password in the secret alertSmtpPassword)'),
    externalUrl: z.url().optional().describe('URL of Grafana/Alertmanager used in alert links'),
    credentialExpiries: z
      .array(z.object({ credential: z.string().regex(/^[\w.:-]{1,100}$/, 'letters, digits, _ . : - (at most 100)'), expiresAt: z.iso.datetime({ offset: true, error: 'an RFC 3339 timestamp, quoted in the stack file, e.g. "2027-01-31T00:00:00Z"' }) }).strict())
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
    loginServer: z.url({ protocol: /^https?$/ }).regex(/^https?:\/\/[A-Za-z0-9.:/_-]+$/, 'an http(s) URL of letters, digits and . : / _ -').describe("Headscale's server_url, what hosts pass as `tailscale up --login-server` (e.g. https://headscale.example.com)"),
    ...sshTarget,
    hostKey: z.string().regex(/^(ssh-|ecdsa-)/, 'an OpenSSH public host key line').optional().describe('Pinned SSH host key of the Headscale host (recommended)'),
    cli: z.string().regex(/^[A-Za-z0-9_./-]+$/, 'a plain command path').default(HEADSCALE_CLI_DEFAULT).describe('The Headscale CLI on that host (run as the SSH user, through sudo unless root)'),
  })
  .strict();

/** Non-secret keys. Object-valued keys are set with `pulumi config set --path` or in the stack file. */
export const stackConfigSchema = z
  .object({
    exposure: z.enum(['private', 'public']).default('private').describe('private: tailnet only (edge node `tailscale serve`); public: Cloudflare Worker + Pages, origin through Tailscale Funnel'),
    environment: z.string().regex(/^[a-z][a-z0-9-]{0,31}$/).default('beta').describe('Environment label (Worker ENVIRONMENT, VITE_AI_ENV, resource names)'),
    tailscaleEnabled: bool(true).describe('Join hosts to the tailnet and manage the ACL (false only for the local e2e stack)'),
    controlServer: z
      .enum(['tailscale', 'headscale'])
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
    model: modelSchema.default(modelSchema.parse({})).describe('The model vLLM serves'),
    vllmVersion: z.string().regex(/^\d+\.\d+\.\d+$/).default('0.11.0').describe('Pinned vLLM version'),
    nvidiaDriverBranch: z.string().regex(/^\d{3}$/).default('570').describe('Pinned NVIDIA driver branch'),
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
  grafanaAdminPassword: { required: 'monitoring', kind: 'text', description: 'Grafana admin password (monitoring)' },
  alertWebhookUrl: { required: 'never', kind: 'url', description: 'Alertmanager webhook receiver URL (it usually embeds a token); this or monitoring.alertEmail' },
  alertSmtpPassword: { required: 'never', kind: 'text', description: 'SMTP password for monitoring.alertEmail' },
  sshPrivateKey: { required: 'always', kind: 'sshKey', description: 'Private key (OpenSSH/PEM) Pulumi uses for SSH to every host' },
} as const;
export type SecretKey = keyof typeof SECRET_KEYS;
export const SECRET_KEY_NAMES = Object.keys(SECRET_KEYS) as SecretKey[];

export interface ConfigIssue {
  /** Fully qualified key, e.g. `fudbuddy:gpuHosts[0].address`. */
  key: string;
  message: string;
  /** The command that fixes it. */
  fix: string;
}

export type ParseResult =
  | { ok: true; settings: StackSettings; secretsPresent: Set<SecretKey> }
  | { ok: false; issues: ConfigIssue[] };

function keyOf(path: ReadonlyArray<PropertyKey>): string {
  let out = `${PROJECT}:`;
  path.forEach((p, i) => {
    if (typeof p === 'number') out += `[${p}]`;
    else out += i === 0 ? String(p) : `.${String(p)}`;
  });
  return out;
}

export function fixCommand(path: ReadonlyArray<PropertyKey>, secret = false): string {
  const key = keyOf(path);
  const placeholder = secret ? '<value>' : '<value>';
  if (secret) return `pulumi config set --secret ${key} ${placeholder}`;
  if (path.length > 1) return `pulumi config set --path '${key}' ${placeholder}`;
  return `pulumi config set ${key} ${placeholder}`;
}

function issue(path: ReadonlyArray<PropertyKey>, message: string, secret = false): ConfigIssue {
  return { key: keyOf(path), message, fix: fixCommand(path, secret) };
}

function secretIssues(values: Record<string, unknown>, settings: Partial<StackSettings>): { issues: ConfigIssue[]; present: Set<SecretKey> } {
  const exposure = settings.exposure ?? 'private';
  const monitoring = settings.monitoring?.enabled ?? false;
  const issues: ConfigIssue[] = [];
  const present = new Set<SecretKey>();
  for (const name of SECRET_KEY_NAMES) {
    const spec = SECRET_KEYS[name];
    const raw = values[name];
    const value = typeof raw === 'string' ? raw : raw === undefined ? undefined : null;
    const needed =
      spec.required === 'always' ||
      (spec.required === 'public' && exposure === 'public') ||
      (spec.required === 'monitoring' && monitoring);
    if (value === null) {
      issues.push(issue([name], 'must be a string', true));
      continue;
    }
    if (value === undefined || value === '') {
      if (needed) {
        const why = spec.required === 'public' ? ' when exposure is "public"' : spec.required === 'monitoring' ? ' when monitoring.enabled is true' : '';
        const hint = spec.kind === 'sshKey' ? ' (cat ~/.ssh/id_ed25519 | pulumi config set --secret fudbuddy:sshPrivateKey)' : spec.kind === 'token' ? ' (e.g. $(openssl rand -hex 32))' : '';
        issues.push(issue([name], `is required${why}: ${spec.description}${hint}`, true));
      }
      continue;
    }
    present.add(name);
    // Messages below never include the value.
    if (spec.kind === 'token' && (value.length < 32 || !TOKEN_CHARS.test(value))) {
      issues.push(issue([name], 'must be at least 32 characters of [A-Za-z0-9._~+/=-] (no commas or spaces), e.g. $(openssl rand -hex 32)', true));
    }
    if (spec.kind === 'sshKey' && !/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) {
      issues.push(issue([name], 'must be a private key in OpenSSH or PEM format (-----BEGIN ... PRIVATE KEY-----)', true));
    }
    if (spec.kind === 'url' && !URL.canParse(value)) {
      issues.push(issue([name], 'must be an absolute URL', true));
    }
    if (spec.kind === 'list' && value.split(',').some((c) => c.trim() === '')) {
      issues.push(issue([name], 'must be a comma-separated list without empty entries', true));
    }
  }
  for (const [current, previous] of [['serviceToken', 'serviceTokenPrevious'], ['jwtSigningKey', 'jwtSigningKeyPrevious']] as const) {
    if (present.has(previous) && values[previous] === values[current]) {
      issues.push(issue([previous], `equals ${current}: set it to the old value during a rotation, or remove it (pulumi config rm ${PROJECT}:${previous})`, true));
    }
  }
  if (present.has('serviceTokenPrevious') && !present.has('serviceToken')) {
    issues.push(issue(['serviceToken'], 'is required when serviceTokenPrevious is set', true));
  }
  return { issues, present };
}

/** Checks across keys. Runs on whatever keys parsed, so one bad key does not hide problems elsewhere. */
function crossFieldIssues(p: Partial<StackSettings>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const s = {
    ...p,
    tailscaleEnabled: p.tailscaleEnabled ?? true,
    tailnetAdmins: p.tailnetAdmins ?? ['?'],
    gpuHosts: p.gpuHosts ?? [],
    apiAllowFrom: p.apiAllowFrom ?? [],
    monitoring: p.monitoring ?? { enabled: false },
    exposure: p.exposure ?? 'private',
  };
  const controlServer = p.controlServer ?? 'tailscale';
  if (s.tailscaleEnabled && controlServer === 'tailscale' && s.tailnetDnsName && !/\.ts\.net$/.test(s.tailnetDnsName)) {
    issues.push(issue(['tailnetDnsName'], "must be the tailnet's MagicDNS suffix ending in .ts.net (e.g. tail1234.ts.net) with controlServer tailscale"));
  }
  if (controlServer === 'headscale') {
    if (!p.headscale) issues.push(issue(['headscale'], "is required when controlServer is \"headscale\" ({loginServer, address, user}; pulumi config set --path 'fudbuddy:headscale.loginServer' https://headscale.example.com)"));
    if (s.exposure === 'public') {
      issues.push(issue(['exposure'], 'must be "private" with controlServer "headscale": Headscale has no Funnel, so the Worker cannot reach the origin (pulumi config set fudbuddy:exposure private)'));
    }
    if (!s.tailscaleEnabled) issues.push(issue(['controlServer'], 'is "headscale" but tailscaleEnabled is false: hosts join no tailnet (set controlServer tailscale or tailscaleEnabled true)'));
    if (p.tailnetPolicyOverwrite) issues.push(issue(['tailnetPolicyOverwrite'], 'is for Tailscale only: Headscale takes the policy with `headscale policy set` (pulumi config rm fudbuddy:tailnetPolicyOverwrite)'));
  } else if (p.headscale) {
    issues.push(issue(['headscale'], 'is set but controlServer is "tailscale" (pulumi config set fudbuddy:controlServer headscale, or pulumi config rm fudbuddy:headscale)'));
  }
  if (s.tailscaleEnabled && !s.tailnetDnsName) {
    issues.push(issue(['tailnetDnsName'], 'is required when tailscaleEnabled is true (MagicDNS suffix, e.g. tail1234.ts.net)'));
  }
  if (s.tailscaleEnabled && s.tailnetAdmins.length === 0) {
    issues.push(issue(['tailnetAdmins'], "needs at least one Tailscale login email when tailscaleEnabled is true (pulumi config set --path 'fudbuddy:tailnetAdmins[0]' you@example.com)"));
  }
  if (!s.tailscaleEnabled) {
    s.gpuHosts.forEach((h, i) => {
      if (!h.bindAddress) issues.push(issue(['gpuHosts', i, 'bindAddress'], 'is required when tailscaleEnabled is false (the API has no tailnet address to bind to)'));
    });
    if (s.edgeNode) issues.push(issue(['edgeNode'], 'needs tailscaleEnabled: true (the edge node serves the API over the tailnet); remove it (pulumi config rm fudbuddy:edgeNode)'));
  } else {
    if (s.apiAllowFrom.length > 0) issues.push(issue(['apiAllowFrom'], 'is only for stacks without Tailscale; with Tailscale the API is reachable over the tailnet only (pulumi config rm fudbuddy:apiAllowFrom)'));
    s.gpuHosts.forEach((h, i) => {
      if (h.bindAddress) issues.push(issue(['gpuHosts', i, 'bindAddress'], 'is only for stacks without Tailscale; the API binds to the tailnet address'));
    });
  }
  if (s.monitoring.enabled) {
    if (!s.tailscaleEnabled) issues.push(issue(['monitoring', 'enabled'], 'needs tailscaleEnabled: true (Prometheus scrapes over the tailnet); set it to false for this stack'));
  }
  if (s.exposure === 'public') {
    if (!s.tailscaleEnabled) issues.push(issue(['tailscaleEnabled'], 'must be true when exposure is "public" (the Worker reaches the origin through Tailscale Funnel)'));
    for (const k of ['domain', 'cloudflareAccountId', 'cloudflareZoneId'] as const) {
      if (!s[k]) issues.push(issue([k], 'is required when exposure is "public"'));
    }
    if (s.web && !s.web.enabled && s.worker && s.worker.allowedOrigins.length === 0) {
      issues.push(issue(['worker', 'allowedOrigins'], "needs the web app's origin when web.enabled is false (the Worker refuses every other browser origin)"));
    }
  }
  const names = new Set<string>();
  const tailnetNames = new Set<string>();
  s.gpuHosts.forEach((h, i) => {
    if (names.has(h.name)) issues.push(issue(['gpuHosts', i, 'name'], `duplicates another host name "${h.name}"; names must be unique`));
    names.add(h.name);
    const tn = h.tailnetHostname ?? `fudbuddy-${h.name}`;
    if (tailnetNames.has(tn)) issues.push(issue(['gpuHosts', i, 'tailnetHostname'], `duplicates another tailnet hostname "${tn}"`));
    tailnetNames.add(tn);
  });
  if (s.edgeNode && tailnetNames.has(s.edgeNode.tailnetHostname)) {
    issues.push(issue(['edgeNode', 'tailnetHostname'], `"${s.edgeNode.tailnetHostname}" is also a GPU host's tailnet hostname`));
  }
  if (s.edgeNode && names.has(s.edgeNode.name)) {
    issues.push(issue(['edgeNode', 'name'], `"${s.edgeNode.name}" is also a GPU host name`));
  }
  return issues;
}

/**
 * Validates plain config values (keys without the `fudbuddy:` prefix; scalars as strings as Pulumi passes them,
 * objects parsed; secrets as plaintext, which never appear in the returned settings or in messages).
 */
export function parseStackConfig(values: Record<string, unknown>): ParseResult {
  const plain: Record<string, unknown> = {};
  const issues: ConfigIssue[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (k in SECRET_KEYS) continue;
    if (!(k in stackConfigSchema.shape)) {
      issues.push({ key: `${PROJECT}:${k}`, message: 'is not a known key (see docs/config-reference.md)', fix: `pulumi config rm ${PROJECT}:${k}` });
      continue;
    }
    plain[k] = v;
  }
  const parsed = stackConfigSchema.safeParse(plain);
  // Each key on its own as well: the cross-key rules then see every key that is valid by itself.
  const partial: Record<string, unknown> = {};
  for (const [k, schema] of Object.entries(stackConfigSchema.shape as Record<string, z.ZodType>)) {
    const r = schema.safeParse(plain[k]);
    if (r.success) partial[k] = r.data;
  }
  const partialSettings = partial as Partial<StackSettings>;
  const secrets = secretIssues(values, partialSettings);
  if (!parsed.success) {
    for (const e of parsed.error.issues) {
      const message = e.code === 'invalid_type' && e.input === undefined ? 'is required' : e.message;
      issues.push(issue(e.path, message));
    }
  }
  issues.push(...crossFieldIssues(partialSettings));
  issues.push(...secrets.issues);
  if (partialSettings.monitoring?.enabled && !partialSettings.monitoring.alertEmail && !secrets.present.has('alertWebhookUrl')) {
    issues.push(issue(['alertWebhookUrl'], 'or monitoring.alertEmail is required when monitoring.enabled is true (where do alerts go?)', true));
  }
  if (issues.length > 0) return { ok: false, issues };
  if (!parsed.success) throw new Error('unreachable');
  return { ok: true, settings: parsed.data, secretsPresent: secrets.present };
}

export function formatIssues(issues: ConfigIssue[]): string {
  const lines = issues.map((i) => `  - ${i.key} ${i.message}\n      fix: ${i.fix}`);
  return `invalid stack configuration (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}\nSee docs/config-reference.md for every key.`;
}

/** Values every consumer derives the same way (defaults that depend on other keys). */
export interface Derived {
  edgeTailnetHostname: string;
  /** https://<edge>.<tailnet>: the `tailscale serve` URL (private) or Funnel URL (public). */
  edgeUrl?: string;
  apiHostname?: string;
  workerUrl?: string;
  webHostname?: string;
  webUrl?: string;
  workerScriptName: string;
  pagesProjectName: string;
  allowedOrigins: string[];
}

export function gpuTailnetHostname(h: GpuHostConfig): string {
  return h.tailnetHostname ?? `fudbuddy-${h.name}`;
}

export function derive(s: StackSettings, stack: string): Derived {
  const first = s.gpuHosts[0];
  if (!first) throw new Error('gpuHosts is empty');
  const edgeTailnetHostname = s.edgeNode?.tailnetHostname ?? gpuTailnetHostname(first);
  const edgeUrl = s.tailscaleEnabled && s.tailnetDnsName ? `https://${edgeTailnetHostname}.${s.tailnetDnsName}` : undefined;
  const isPublic = s.exposure === 'public' && s.domain;
  const apiHostname = isPublic ? s.worker.hostname ?? `api.${s.domain}` : undefined;
  const webHostname = isPublic && s.web.enabled ? s.web.hostname ?? `app.${s.domain}` : undefined;
  const webUrl = webHostname ? `https://${webHostname}` : undefined;
  const allowedOrigins = s.worker.allowedOrigins.length > 0 ? s.worker.allowedOrigins : webUrl ? [webUrl] : [];
  return {
    edgeTailnetHostname,
    edgeUrl,
    apiHostname,
    workerUrl: apiHostname ? `https://${apiHostname}` : undefined,
    webHostname,
    webUrl,
    workerScriptName: s.worker.scriptName ?? `fudbuddy-api-${stack}`.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
    pagesProjectName: s.web.projectName ?? `fudbuddy-web-${stack}`.toLowerCase().replace(/[^a-z0-9-]/g, '-'),
    allowedOrigins,
  };
}
