// Validation of the stack config: every problem at once, each naming its key and the `pulumi config set` that
// fixes it. Pure (plain values in), so it is tested without Pulumi. Secret values never appear in a message.
import { expiredCredentialIssues, type ExpiringCredential } from './credentialExpiry.js';
import { edgeRoutingIssues } from './edgeRoutingConfig.js';
import type { z } from 'zod';
import { cudaDriverMismatch } from '../components/lib/cudaCompat.js';
import { PROJECT, SECRET_KEY_NAMES, SECRET_KEYS, SECRET_REQUIRED, stackConfigSchema, type SecretKey, type StackSettings } from './config.js';

// Tokens travel in API_TOKENS (comma-separated) and in Authorization headers: no commas, no whitespace.
const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]+$/;

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
  const issues: ConfigIssue[] = [];
  const present = new Set<SecretKey>();
  for (const name of SECRET_KEY_NAMES) {
    const spec = SECRET_KEYS[name];
    const raw = values[name];
    const value = typeof raw === 'string' ? raw : raw === undefined ? undefined : null;
    const rule = SECRET_REQUIRED[spec.required];
    const needed = rule.when(settings);
    if (value === null) {
      issues.push(issue([name], 'must be a string', true));
      continue;
    }
    if (value === undefined || value === '') {
      if (needed) {
        const hint = spec.kind === 'sshKey' ? ' (cat ~/.ssh/id_ed25519 | pulumi config set --secret fudbuddy:sshPrivateKey)' : spec.kind === 'token' ? ' (e.g. $(openssl rand -hex 32))' : '';
        issues.push(issue([name], `is required${rule.why}: ${spec.description}${hint}`, true));
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
    if (p.monitoring?.logs && !p.monitoring.grafana) {
      issues.push(
        issue(
          ['monitoring', 'logs'],
          `needs ${PROJECT}:monitoring.grafana true: Loki and Alloy come from Grafana's apt repository (apt.grafana.com) like Grafana; turn logs off, or set --path '${PROJECT}:monitoring.grafana' true`,
        ),
      );
    }
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
  // The CUDA vLLM needs against the driver branch: caught here, before any host installs vLLM.
  if (s.gpuHosts.some((h) => h.gpu === 'nvidia') && s.vllmVersion && s.nvidiaDriverBranch) {
    const problem = cudaDriverMismatch(s.vllmVersion, s.nvidiaDriverBranch, s.vllmCuda);
    if (problem) issues.push(issue([problem.key], problem.message));
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
  for (const [path, message] of edgeRoutingIssues(s.edgeRouting, [...names])) issues.push(issue(path, message));
  return issues;
}

/**
 * Validates plain config values (keys without the `fudbuddy:` prefix; scalars as strings as Pulumi passes them,
 * objects parsed; secrets as plaintext, which never appear in the returned settings or in messages).
 */
export function parseStackConfig(values: Record<string, unknown>, now: Date = new Date()): ParseResult {
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
  const credentialsInUse = new Set<ExpiringCredential>([
    ...((partialSettings.tailscaleEnabled ?? true) ? (['tailscale-api-key'] as const) : []),
    ...(partialSettings.exposure === 'public' ? (['cloudflare-api-token'] as const) : []),
  ]);
  issues.push(...expiredCredentialIssues(partialSettings.monitoring?.credentialExpiries ?? [], credentialsInUse, now));
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
