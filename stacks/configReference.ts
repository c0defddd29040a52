// Renders docs/config-reference.md from the zod schema (the single source of truth):
//   npx tsx stacks/configReference.ts        (writes the file; tests/stack/docs.test.ts fails when it is stale)
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import {
  apiSchema,
  edgeNodeSchema,
  gpuHostSchema,
  modelSchema,
  monitoringSchema,
  PROJECT,
  SECRET_KEYS,
  SECRET_REQUIRED,
  stackConfigSchema,
  webSchema,
  workerSchema,
} from './config.js';
import { edgeRoutingSchema } from './edgeRoutingConfig.js';

const NESTED: Record<string, z.ZodObject> = {
  gpuHosts: gpuHostSchema,
  edgeNode: edgeNodeSchema,
  edgeRouting: edgeRoutingSchema,
  model: modelSchema,
  api: apiSchema,
  worker: workerSchema,
  web: webSchema,
  monitoring: monitoringSchema,
};

interface JsonProp {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  items?: JsonProp;
  properties?: Record<string, JsonProp>;
  required?: string[];
  anyOf?: JsonProp[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
}

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function typeOf(p: JsonProp): string {
  if (p.enum) return p.enum.map((e) => `\`${String(e)}\``).join(' | ');
  const t = p.type ?? p.anyOf?.find((a) => a.type)?.type ?? 'any';
  if (t === 'array') return `list of ${p.items?.type === 'object' ? 'objects' : (p.items?.type ?? 'any')}`;
  const range = p.minimum !== undefined && p.maximum !== undefined && Math.abs(p.maximum) < 1e12 ? ` (${p.minimum}–${p.maximum})` : '';
  return `${t}${range}`;
}

/** What the schema does with an unset key: its default, optional, or required (asked of zod itself). */
function defaultOf(field: z.ZodType, key: string): string {
  const r = field.safeParse(undefined);
  if (!r.success) return '**required**';
  if (r.data === undefined) return '—';
  if (key in NESTED && typeof r.data === 'object') return '(fields below)';
  return `\`${JSON.stringify(r.data)}\``;
}

function table(shape: Record<string, z.ZodType>, prefix: string): string {
  const rows = Object.entries(shape).map(([k, field]) => {
    const p = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as unknown as JsonProp;
    const description = field.description ?? p.description ?? '';
    return `| \`${prefix}${k}\` | ${cell(typeOf(p))} | ${cell(defaultOf(field, prefix ? '' : k))} | ${cell(description)} |`;
  });
  return ['| Key | Type | Default | Description |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

export function renderConfigReference(): string {
  const shape = stackConfigSchema.shape as Record<string, z.ZodType>;
  const out: string[] = [
    '# Stack configuration reference',
    '',
    '<!-- Generated from stacks/config.ts by `npx tsx stacks/configReference.ts`; tests/stack/docs.test.ts checks it. -->',
    '',
    `Every key lives in the \`${PROJECT}\` namespace. Set scalars with \`pulumi config set ${PROJECT}:<key> <value>\`,`,
    `nested values with \`pulumi config set --path '${PROJECT}:<key>.<field>' <value>\` (or edit the stack file), and`,
    `secrets with \`pulumi config set --secret ${PROJECT}:<key> <value>\`. A wrong or missing key fails \`pulumi preview\``,
    'with the key named and the command that fixes it.',
    '',
    '## Keys',
    '',
    table(shape, ''),
    '',
    'Rules across keys: `tailnetDnsName` and at least one `tailnetAdmins` entry when `tailscaleEnabled`; `domain`,',
    '`cloudflareAccountId`, `cloudflareZoneId` and `jwtSigningKey` when `exposure` is `public` (which also needs',
    'Tailscale); `gpuHosts[].bindAddress` only (and always) without Tailscale; `monitoring.enabled` needs Tailscale,',
    '`metricsToken`, `alertWebhookUrl` or `monitoring.alertEmail`, and (with `monitoring.grafana`, the default)',
    '`grafanaAdminPassword`; `monitoring.logs` needs `monitoring.grafana` (Loki comes from the same apt repository);',
    'host names unique.',
  ];
  for (const [k, obj] of Object.entries(NESTED)) {
    const prefix = k === 'gpuHosts' ? `${k}[].` : `${k}.`;
    out.push('', `## \`${k}\``, '', cell(shape[k]?.description ?? ''), '', table(obj.shape as Record<string, z.ZodType>, prefix));
  }
  out.push(
    '',
    '## Secrets',
    '',
    `Read with \`config.getSecret\`: they stay secret Outputs end to end. Set each with \`pulumi config set --secret ${PROJECT}:<key>\`.`,
    '',
    '| Key | Required | Description |',
    '| --- | --- | --- |',
    ...Object.entries(SECRET_KEYS).map(([k, s]) => {
      return `| \`${k}\` | ${cell(SECRET_REQUIRED[s.required].label)} | ${cell(s.description)} |`;
    }),
    '',
    '## Provider configuration',
    '',
    '| Key | When | Description |',
    '| --- | --- | --- |',
    '| `tailscale:tailnet` | with Tailscale | Tailnet name for the Tailscale provider (or `-` for the default tailnet of the key) |',
    '| `tailscale:apiKey` (secret) | with Tailscale | API access token; or `tailscale:oauthClientId` + `tailscale:oauthClientSecret` |',
    '| `cloudflare:apiToken` (secret) | public exposure | Token with Workers Scripts, Workers Routes, Pages and DNS edit on the account/zone; also handed to `wrangler pages deploy` through its environment |',
    '',
  );
  return out.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(fileURLToPath(new URL('../docs/config-reference.md', import.meta.url)), renderConfigReference());
  console.log('wrote docs/config-reference.md');
}
