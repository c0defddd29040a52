// Pure builders for the monitoring stack: the rendered Prometheus and Alertmanager configs, Grafana datasources,
// the credential-expiry textfile, the tailnet access the monitoring node needs, and the versions pin. Everything
// reads the real files under monitoring/ (the single source; tests run promtool/amtool on what these return).
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import type { MonitoringAccessArgs } from './aclPolicy.js';
import { fail, MONITORING_PORTS, readMonitoringFile, SECRET_FILES } from './monitoringFiles.js';
import { credentialName, hostnameLabel, httpUrl as HTTP_URL, smtpSmarthost } from './rules.js';

const NAME = hostnameLabel;
const HOSTPORT_HOST = z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'an IP address or DNS name');

const scrapeInputSchema = z.object({
  monitoringHost: NAME,
  gpuHosts: z
    .array(
      z.object({
        name: NAME,
        address: HOSTPORT_HOST,
        apiPort: z.number().int().min(1).max(65535),
        gpu: z.boolean(),
        /** Only tests move these off their standard ports. */
        metricsProxyPort: z.number().int().min(1).max(65535).default(MONITORING_PORTS.vllmMetricsProxy),
        nodeExporterPort: z.number().int().min(1).max(65535).default(MONITORING_PORTS.nodeExporter),
      }),
    )
    .min(1, 'at least one GPU host'),
  edgeMetricsUrl: HTTP_URL.optional(),
  probes: z.array(z.object({ name: NAME, url: HTTP_URL })),
  rulesGlob: z.string().min(1),
  secretsDir: z.string().startsWith('/'),
});
export type ScrapeInput = z.input<typeof scrapeInputSchema>;


function unique(names: string[], what: string): void {
  const seen = new Set<string>();
  for (const n of names) {
    if (seen.has(n)) throw new Error(`monitoring: ${what} '${n}' appears twice`);
    seen.add(n);
  }
}

type ScrapeConfig = Record<string, unknown>;

/**
 * prometheus.yml: monitoring/prometheus/prometheus.base.yml plus the stack's targets. Every GPU host is scraped over
 * the tailnet (API with a bearer token from a 0600 file, vLLM through the metrics proxy, node exporter incl. the GPU
 * textfile metrics); the Worker over HTTPS (public mode); the public health URLs through the local blackbox exporter.
 */
export function renderPrometheusConfig(input: ScrapeInput): string {
  const parsed = scrapeInputSchema.safeParse(input);
  if (!parsed.success) fail('prometheus', parsed.error);
  const t = parsed.data;
  unique(t.gpuHosts.map((h) => h.name), 'GPU host name');
  unique(t.probes.map((p) => p.name), 'health probe name');
  // The GPU host may itself be the monitoring host (no edge box): its exporters are then scraped like any GPU host's.
  const monitoringIsGpu = t.gpuHosts.some((h) => h.name === t.monitoringHost);

  const base = parse(readMonitoringFile('prometheus/prometheus.base.yml')) as Record<string, unknown> & {
    scrape_configs: ScrapeConfig[];
    global: Record<string, unknown>;
  };
  const hostLabel = (host: string) => ({ host });
  const addr = (a: string, port: number) => (a.includes(':') && !a.startsWith('[') ? `[${a}]:${port}` : `${a}:${port}`);

  base.rule_files = [t.rulesGlob];
  base.scrape_configs = base.scrape_configs.map((s) => ({
    ...s,
    static_configs: (s.static_configs as ScrapeConfig[]).map((c) => ({ ...c, labels: hostLabel(t.monitoringHost) })),
  }));

  const jobs: ScrapeConfig[] = [
    {
      job_name: 'fudbuddy-api',
      metrics_path: '/metrics',
      authorization: { type: 'Bearer', credentials_file: `${t.secretsDir}/${SECRET_FILES.apiMetricsToken}` },
      static_configs: t.gpuHosts.map((h) => ({ targets: [addr(h.address, h.apiPort)], labels: hostLabel(h.name) })),
    },
    {
      job_name: 'vllm',
      metrics_path: '/metrics',
      static_configs: t.gpuHosts.map((h) => ({
        targets: [addr(h.address, h.metricsProxyPort)],
        labels: hostLabel(h.name),
      })),
    },
    {
      job_name: 'node',
      static_configs: [
        ...(monitoringIsGpu
          ? []
          : [{ targets: [`127.0.0.1:${MONITORING_PORTS.nodeExporter}`], labels: hostLabel(t.monitoringHost) }]),
        ...t.gpuHosts.map((h) => ({ targets: [addr(h.address, h.nodeExporterPort)], labels: hostLabel(h.name) })),
      ],
    },
  ];

  if (t.edgeMetricsUrl) {
    const u = new URL(t.edgeMetricsUrl);
    jobs.push({
      job_name: 'fudbuddy-edge',
      // Each scrape is a Worker request plus a Durable Object read: once a minute is plenty.
      scrape_interval: '60s',
      scrape_timeout: '20s',
      scheme: u.protocol.replace(':', ''),
      metrics_path: u.pathname,
      authorization: { type: 'Bearer', credentials_file: `${t.secretsDir}/${SECRET_FILES.edgeMetricsToken}` },
      static_configs: [{ targets: [u.host] }],
    });
  }

  if (t.probes.length > 0) {
    jobs.push({
      job_name: 'blackbox-http',
      scrape_interval: '30s',
      scrape_timeout: '15s',
      metrics_path: '/probe',
      params: { module: ['http_2xx'] },
      static_configs: t.probes.map((p) => ({ targets: [p.url], labels: { probe: p.name } })),
      relabel_configs: [
        { source_labels: ['__address__'], target_label: '__param_target' },
        { source_labels: ['__param_target'], target_label: 'instance' },
        { target_label: '__address__', replacement: `127.0.0.1:${MONITORING_PORTS.blackbox}` },
      ],
    });
  }

  base.scrape_configs = [...base.scrape_configs, ...jobs];
  return `# Rendered by the FUD Buddy monitoring component from monitoring/prometheus/prometheus.base.yml. Do not edit.\n${stringify(base, { lineWidth: 0 })}`;
}

const emailSchema = z.object({
  to: z.email(),
  from: z.email(),
  smarthost: smtpSmarthost,
  authUsername: z.string().min(1).optional(),
  authPassword: z.string().min(1).optional(),
});
const alertRouteSchema = z
  .object({ webhookUrl: HTTP_URL.optional(), email: emailSchema.optional(), externalUrl: HTTP_URL.optional() })
  .refine((r) => r.webhookUrl !== undefined || r.email !== undefined, {
    message: 'set alertWebhookUrl (secret) or monitoring.alertEmail: alerts need somewhere to go',
  });
export type AlertRoute = z.input<typeof alertRouteSchema>;

/**
 * alertmanager.yml from monitoring/alertmanager/alertmanager.base.yml plus the `fudbuddy-ops` receiver. The result
 * contains the webhook URL / SMTP password: callers must treat it as a secret (0600 file, Pulumi secret stdin).
 */
export function renderAlertmanagerConfig(route: AlertRoute): string {
  const parsed = alertRouteSchema.safeParse(route);
  if (!parsed.success) fail('alerting', parsed.error);
  const r = parsed.data;
  const base = parse(readMonitoringFile('alertmanager/alertmanager.base.yml')) as Record<string, unknown>;
  const receiver: Record<string, unknown> = { name: 'fudbuddy-ops' };
  if (r.webhookUrl) receiver.webhook_configs = [{ url: r.webhookUrl, send_resolved: true, max_alerts: 20 }];
  if (r.email) {
    receiver.email_configs = [
      {
        to: r.email.to,
        from: r.email.from,
        smarthost: r.email.smarthost,
        require_tls: true,
        send_resolved: true,
        ...(r.email.authUsername ? { auth_username: r.email.authUsername } : {}),
        ...(r.email.authPassword ? { auth_password: r.email.authPassword } : {}),
      },
    ];
  }
  base.receivers = [receiver];
  return `# Rendered by the FUD Buddy monitoring component. Contains secrets: mode 0600.\n${stringify(base, { lineWidth: 0 })}`;
}

const CREDENTIAL = credentialName;

/**
 * The node-exporter textfile with fudbuddy_credential_expiry_timestamp_seconds{credential} (monitoring host).
 * Throws naming the credential when a timestamp does not parse.
 */
export function renderCredentialExpiryTextfile(creds: { credential: string; expiresAt: string }[]): string {
  unique(creds.map((c) => c.credential), 'credential');
  const lines = [
    '# HELP fudbuddy_credential_expiry_timestamp_seconds When a credential of the stack expires (Unix time), written by pulumi up.',
    '# TYPE fudbuddy_credential_expiry_timestamp_seconds gauge',
  ];
  for (const c of creds) {
    const name = CREDENTIAL.safeParse(c.credential);
    if (!name.success) throw new Error(`monitoring.credentialExpiries: '${c.credential}' is not a valid credential name (${name.error.issues[0]?.message})`);
    const ms = Date.parse(c.expiresAt);
    if (!Number.isFinite(ms)) {
      throw new Error(`monitoring.credentialExpiries: expiresAt of '${c.credential}' is not an RFC 3339 timestamp: '${c.expiresAt}'`);
    }
    lines.push(`fudbuddy_credential_expiry_timestamp_seconds{credential="${c.credential}"} ${Math.floor(ms / 1000)}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * What the tailnet policy must allow for monitoring (pass it as the Tailnet's `monitoring` arg). Prometheus runs on the
 * monitoring node: it scrapes node exporter and the vLLM metrics proxy on every GPU node. The API's :8001/metrics is
 * reached because the monitoring node is the edge node (tag:edge already reaches tag:gpu:8001); a dedicated monitoring
 * host would need the policy to let its tag reach 8001 too. With logs, GPU nodes push to Loki on the monitoring node
 * (`logsFromGpuPorts`: the policy grants tag:gpu -> monitoring tag, tcp:3100).
 */
export function monitoringTailnetAccess(opts: { tag?: string; logs?: boolean } = {}): MonitoringAccessArgs {
  return {
    tag: opts.tag ?? 'tag:monitoring',
    gpuPorts: [MONITORING_PORTS.nodeExporter, MONITORING_PORTS.vllmMetricsProxy],
    edgePorts: [],
    logsFromGpuPorts: opts.logs ? [MONITORING_PORTS.loki] : [],
  };
}

/** The payload builder lives with the other host steps; re-exported for the monitoring tests and scripts. */
export { installPayload as buildInstallPayload } from './hostSteps.js';
export {
  gpuPayloadFiles,
  listMonitoringDir,
  loadMonitoringVersions,
  MONITORING_DIR,
  MONITORING_PATHS,
  MONITORING_PORTS,
  MONITORING_SCRIPTS_DIR,
  readMonitoringFile,
  renderGrafanaDatasources,
  renderGrafanaEnv,
  SECRET_FILES,
  serverPayloadFiles,
  versionEnv,
} from './monitoringFiles.js';

