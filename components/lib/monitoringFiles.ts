// What the monitoring component ships: where things live (ports, paths), the files under monitoring/ and
// components/scripts/monitoring/ that go to each host, Grafana's provisioning, and the pinned package versions.
// Pure reads of the repository (components/lib/monitoringConfig.ts renders the configs from these).
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { z } from 'zod';
import type { MonitoringVersions } from './monitoringTypes.js';
import { httpUrl as HTTP_URL } from './rules.js';

/** Throws one message naming every bad field (`<what>.<path>: <message>`). */
export function fail(what: string, err: z.ZodError): never {
  const issues = err.issues.map((i) => `${what}.${i.path.join('.')}: ${i.message}`).join('; ');
  throw new Error(`monitoring: ${issues}`);
}

export const MONITORING_DIR = fileURLToPath(new URL('../../monitoring/', import.meta.url));
export const MONITORING_SCRIPTS_DIR = fileURLToPath(new URL('../scripts/monitoring/', import.meta.url));

/** Ports of the monitoring pieces. Only nodeExporter and vllmMetricsProxy (GPU hosts) and loki are on the tailnet. */
export const MONITORING_PORTS = {
  nodeExporter: 9100,
  vllmMetricsProxy: 9402,
  prometheus: 9090,
  alertmanager: 9093,
  blackbox: 9115,
  grafana: 3000,
  loki: 3100,
  alloy: 12345,
} as const;

/** Where things live on the monitoring host (Debian/Ubuntu package layout). */
export const MONITORING_PATHS = {
  prometheusConfig: '/etc/prometheus/prometheus.yml',
  rulesDir: '/etc/prometheus/fudbuddy-rules',
  secretsDir: '/etc/prometheus/fudbuddy-secrets',
  alertmanagerConfig: '/etc/prometheus/alertmanager.yml',
  textfileDir: '/var/lib/prometheus/node-exporter',
  dashboardsDir: '/var/lib/grafana/dashboards/fudbuddy',
  grafanaAdminPasswordFile: '/etc/grafana/fudbuddy-admin-password',
} as const;

export const SECRET_FILES = {
  apiMetricsToken: 'api-metrics-token',
  edgeMetricsToken: 'edge-metrics-token',
} as const;

export function readMonitoringFile(rel: string): string {
  try {
    return readFileSync(new URL(rel, `file://${MONITORING_DIR}`), 'utf8');
  } catch {
    throw new Error(`monitoring: cannot read monitoring/${rel} (it is part of the repository)`);
  }
}

const versionsSchema = z.object({
  ubuntu: z.record(z.string(), z.record(z.string(), z.string().regex(/^[0-9][0-9A-Za-z.+~*-]*$/))),
  debian: z.record(z.string(), z.record(z.string(), z.string().regex(/^[0-9][0-9A-Za-z.+~*-]*$/))),
  grafanaApt: z.object({
    grafana: z.string().regex(/^\d+\.\d+\.\d+$/),
    loki: z.string().regex(/^\d+\.\d+\.\d+$/),
    alloy: z.string().regex(/^\d+\.\d+\.\d+$/),
  }),
});

/** monitoring/versions.json, validated, with optional overrides. */
export function loadMonitoringVersions(overrides: Partial<MonitoringVersions> = {}): MonitoringVersions {
  const raw = JSON.parse(readMonitoringFile('versions.json')) as Record<string, unknown>;
  const parsed = versionsSchema.safeParse({ ...raw, ...overrides });
  if (!parsed.success) fail('versions', parsed.error);
  return parsed.data;
}

/** The Prometheus package series per Ubuntu or Debian codename, as KEY=VALUE lines the install scripts read. */
export function versionEnv(v: MonitoringVersions): Record<string, string> {
  const env: Record<string, string> = {
    GRAFANA_VERSION: v.grafanaApt.grafana,
    LOKI_VERSION: v.grafanaApt.loki,
    ALLOY_VERSION: v.grafanaApt.alloy,
  };
  for (const [codename, pkgs] of [...Object.entries(v.ubuntu), ...Object.entries(v.debian)]) {
    for (const [pkg, ver] of Object.entries(pkgs)) {
      env[`PIN_${codename.toUpperCase()}_${pkg.toUpperCase().replace(/-/g, '_')}`] = ver;
    }
  }
  return env;
}

/** Grafana's environment (GF_* variables; no secrets: the admin password is read from a 0600 file). */
export function renderGrafanaEnv(opts: { externalUrl?: string } = {}): string {
  const env: Record<string, string> = {
    GF_SERVER_HTTP_ADDR: '127.0.0.1',
    GF_SERVER_HTTP_PORT: String(MONITORING_PORTS.grafana),
    GF_SECURITY_ADMIN_USER: 'admin',
    GF_SECURITY_ADMIN_PASSWORD__FILE: MONITORING_PATHS.grafanaAdminPasswordFile,
    GF_SECURITY_DISABLE_GRAVATAR: 'true',
    GF_USERS_ALLOW_SIGN_UP: 'false',
    GF_AUTH_ANONYMOUS_ENABLED: 'false',
    GF_ANALYTICS_REPORTING_ENABLED: 'false',
    GF_ANALYTICS_CHECK_FOR_UPDATES: 'false',
    GF_NEWS_NEWS_FEED_ENABLED: 'false',
  };
  if (opts.externalUrl) {
    const u = HTTP_URL.safeParse(opts.externalUrl);
    if (!u.success) throw new Error(`monitoring.alerting.externalUrl: '${opts.externalUrl}' is not an http(s) URL`);
    env.GF_SERVER_ROOT_URL = u.data;
  }
  return `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n')}\n`;
}

/** Grafana datasources: Prometheus always, Loki only when logs are shipped. */
export function renderGrafanaDatasources(opts: { logs: boolean }): string {
  const doc = parse(readMonitoringFile('grafana/provisioning/datasources/fudbuddy.yml')) as {
    datasources: { type: string }[];
  };
  if (!opts.logs) doc.datasources = doc.datasources.filter((d) => d.type !== 'loki');
  return stringify(doc, { lineWidth: 0 });
}

const script = (rel: string): string => {
  try {
    return readFileSync(new URL(rel, `file://${MONITORING_SCRIPTS_DIR}`), 'utf8');
  } catch {
    throw new Error(`monitoring: cannot read components/scripts/monitoring/${rel}`);
  }
};

/** The host layer's lib.sh, which the monitoring scripts' lib.sh sources (one copy of the shared shell helpers). */
const hostLib = (): string => readFileSync(new URL('../scripts/lib.sh', import.meta.url), 'utf8');

/** Our units the exporters' payload installs on a GPU host; the timer before its service (teardown stops them in this order). */
export const GPU_EXPORTER_UNITS = ['fudbuddy-vllm-metrics.service', 'fudbuddy-gpu-metrics.timer', 'fudbuddy-gpu-metrics.service', 'fudbuddy-fs-roles.service'] as const;

/** Files shipped to every GPU host. */
export function gpuPayloadFiles(): Record<string, string> {
  const files: Record<string, string> = { 'config.alloy': readMonitoringFile('alloy/config.alloy') };
  for (const f of ['lib.sh', 'gpu-exporters.sh', 'nvidia-smi-textfile.sh', 'filesystem-roles.sh', 'vllm-metrics-proxy.mjs']) files[f] = script(f);
  files['host-lib.sh'] = hostLib();
  for (const u of ['node-exporter-override.conf', ...GPU_EXPORTER_UNITS]) {
    files[`units/${u}`] = script(`units/${u}`);
  }
  return files;
}

/** The rule files and dashboards in monitoring/ (name -> content), sorted by name. */
export function listMonitoringDir(sub: string, ext: string): Record<string, string> {
  const dir = new URL(`${sub}/`, `file://${MONITORING_DIR}`);
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).filter((n) => n.endsWith(ext)).sort()) out[f] = readFileSync(new URL(f, dir), 'utf8');
  return out;
}

/** Grafana's share of the monitoring host's payload: its script, env, override unit, provisioning and dashboards. */
function grafanaPayloadFiles(p: { logs: boolean; externalUrl?: string }): Record<string, string> {
  const files: Record<string, string> = {
    'grafana-server.sh': script('grafana-server.sh'),
    'grafana/datasources.yml': renderGrafanaDatasources({ logs: p.logs }),
    'grafana/dashboards.yml': readMonitoringFile('grafana/provisioning/dashboards/fudbuddy.yml'),
    'grafana.env': renderGrafanaEnv({ externalUrl: p.externalUrl }),
    'units/grafana-override.conf': script('units/grafana-override.conf'),
  };
  for (const [n, c] of Object.entries(listMonitoringDir('grafana/dashboards', '.json'))) files[`dashboards/${n}`] = c;
  return files;
}

/** Files shipped to the monitoring host (no secrets: those go through write-secret.sh); Grafana's only with `grafana`. */
export function serverPayloadFiles(p: { prometheusYml: string; credentialsProm: string; logs: boolean; grafana: boolean; externalUrl?: string }): Record<string, string> {
  const files: Record<string, string> = {
    'prometheus.yml': p.prometheusYml,
    'credentials.prom': p.credentialsProm,
    'blackbox.yml': readMonitoringFile('blackbox/blackbox.yml'),
    'loki.yml': readMonitoringFile('loki/loki.yml'),
    'config.alloy': readMonitoringFile('alloy/config.alloy'),
  };
  for (const f of ['lib.sh', 'monitoring-host.sh', 'monitoring-server.sh', 'logs-server.sh', 'filesystem-roles.sh', 'write-secret.sh', 'server-teardown.sh']) {
    files[f] = script(f);
  }
  files['host-lib.sh'] = hostLib();
  for (const u of ['fudbuddy-fs-roles.service', 'loki-override.conf']) files[`units/${u}`] = script(`units/${u}`);
  for (const [n, c] of Object.entries(listMonitoringDir('rules', '.yml'))) files[`rules/${n}`] = c;
  return p.grafana ? { ...files, ...grafanaPayloadFiles(p) } : files;
}
