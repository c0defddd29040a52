// Monitoring and alerting for the stack: exporters on every GPU host, and Prometheus + Alertmanager + blackbox
// exporter (+ Grafana, on by default, + optional Loki/Alloy) on the monitoring node, all scraping over the tailnet. A thin shell over
// components/lib/monitoringConfig.ts (pure, tested alone) and the scripts in components/scripts/monitoring/.
// Non-secret files travel as one remote.Command payload per host (triggered by its content hash); every secret goes
// on its own command's stdin into a 0600 file (write-secret.sh), never into a command string or the payload.
import * as pulumi from '@pulumi/pulumi';
import type { remote } from '@pulumi/command';
import { sha256 } from './lib/contentHash.js';
import { hostSteps } from './lib/hostSteps.js';
import { gpuExportersPayload, monitoringHostPayload } from './lib/monitoringPayloads.js';
import { exposureMode, retention } from './lib/rules.js';
import { exportersTeardownArgs, MONITORING_DIRS, serverTeardownArgs } from './lib/hostFootprint.js';
import { asRoot, rootCommand, scriptCommand } from './lib/shell.js';
import {
  loadMonitoringVersions,
  MONITORING_PATHS,
  MONITORING_PORTS,
  monitoringTailnetAccess,
  renderAlertmanagerConfig,
  renderCredentialExpiryTextfile,
  renderPrometheusConfig,
  SECRET_FILES,
  versionEnv,
} from './lib/monitoringConfig.js';
import type { MonitoringArgs } from './lib/monitoringTypes.js';

export type * from './lib/monitoringTypes.js';
export { monitoringTailnetAccess, MONITORING_PORTS } from './lib/monitoringConfig.js';

const WRITE_SECRET = `${MONITORING_DIRS.lib}/write-secret.sh`;
const SERVER_TEARDOWN = `${MONITORING_DIRS.lib}/server-teardown.sh`;

/**
 * Fails `pulumi preview` with the offending key named, before any resource exists. Only what the component itself
 * requires (parts that go together, unique names); value formats are the stack config's (stacks/config.ts), with
 * the shared rules of components/lib/rules.ts.
 */
export function validateMonitoringArgs(args: MonitoringArgs): void {
  const bad = (key: string, msg: string): never => {
    throw new Error(`monitoring.${key}: ${msg}`);
  };
  if (!exposureMode.safeParse(args.exposure).success) bad('exposure', `must be "private" or "public", got "${String(args.exposure)}"`);
  if (args.gpuHosts.length === 0) bad('gpuHosts', 'at least one GPU host to monitor');
  const seen = new Set<string>();
  for (const [i, h] of args.gpuHosts.entries()) {
    if (seen.has(h.name)) bad(`gpuHosts[${i}].name`, `'${h.name}' appears twice`);
    seen.add(h.name);
    if (h.modelsDir !== undefined && !h.modelsDir.startsWith('/')) bad(`gpuHosts[${i}].modelsDir`, 'must be an absolute path');
  }
  if (args.exposure === 'public' && !args.edgeMetrics) {
    bad('edgeMetrics', 'is required when exposure is "public" (the Worker /metrics URL and METRICS_TOKEN feed the fallback-share alert)');
  }
  if (args.healthProbes.length === 0) bad('healthProbes', 'at least one health URL to probe (the Worker /healthz or the tailscale serve URL)');
  const probes = new Set<string>();
  for (const [i, p] of args.healthProbes.entries()) {
    if (probes.has(p.name)) bad(`healthProbes[${i}].name`, `'${p.name}' appears twice`);
    probes.add(p.name);
  }
  if (!args.alerting.webhookUrl && !args.alerting.email) bad('alerting', 'set a webhook URL (alertWebhookUrl) or an e-mail route (monitoring.alertEmail)');
  const grafana = args.grafana ?? true;
  if (grafana && args.grafanaAdminPassword === undefined) bad('grafanaAdminPassword', 'is required when grafana is on (set grafana: false to go without Grafana)');
  if (args.logs && !grafana) bad('logs', "needs grafana: Loki and Alloy come from Grafana's apt repository like Grafana (turn logs off, or grafana on)");
  if (args.logs && args.monitoringHost.tailnetAddress === undefined) {
    bad('monitoringHost.tailnetAddress', 'is required when logs are enabled (GPU hosts push to Loki on it)');
  }
  if (args.retention !== undefined && !retention.safeParse(args.retention).success) bad('retention', `'${args.retention}' is not a duration like 30d`);
}

export class Monitoring extends pulumi.ComponentResource {
  /** The rendered prometheus.yml (non-secret: token paths only). */
  public readonly prometheusConfig: pulumi.Output<string>;
  /** One exporter install per GPU host, by host name. */
  public readonly exporters: Readonly<Record<string, remote.Command>>;
  /** Prometheus/Alertmanager (+ Grafana) install on the monitoring host. */
  public readonly server: remote.Command;
  /** The secret-file writes (API/Worker metrics tokens, Alertmanager config, Grafana admin password with Grafana). */
  public readonly secretWrites: remote.Command[];
  /** How ops reach Grafana (loopback on the monitoring host, through SSH); null without Grafana. */
  public readonly grafanaAccess: string | null;
  /** Tailnet access this monitoring needs (scrape ports, and Loki for GPU nodes when logs are on): the Tailnet's `monitoring`. */
  public readonly tailnetAccess: ReturnType<typeof monitoringTailnetAccess>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fudbuddy:monitoring:Monitoring', name, {}, opts);
    validateMonitoringArgs(args);
    const logs = args.logs ?? false;
    const grafana = args.grafana ?? true;
    const versions = loadMonitoringVersions(args.versions);
    const pins = versionEnv(versions);
    const mon = args.monitoringHost;
    this.tailnetAccess = monitoringTailnetAccess({ logs });
    const lokiPushUrl = logs
      ? pulumi.output(mon.tailnetAddress!).apply((a) => `http://${a}:${MONITORING_PORTS.loki}/loki/api/v1/push`)
      : pulumi.output('');

    // --- GPU hosts: node exporter, GPU textfile collector, vLLM metrics proxy (+ Alloy)
    const exporters: Record<string, remote.Command> = {};
    for (const h of args.gpuHosts) {
      const payload = lokiPushUrl.apply((loki) =>
        gpuExportersPayload({ name: h.name, gpu: h.gpu, modelsDir: h.modelsDir, modelMetricsUrl: h.modelMetricsUrl, pins, lokiPushUrl: logs ? loki : undefined }),
      );
      exporters[h.name] = hostSteps(name, h.connection, this).step(`exporters-${h.name}`, {
        create: asRoot(h.connection.user, 'bash -s'),
        stdin: payload,
        triggers: [payload.apply(sha256)],
        dependsOn: h.dependsOn,
      });
      // Destroy (or monitoring turned off) removes what the exporters installed, with constant inputs so that no
      // update runs it; GpuHost installed teardown.sh, and its own teardown keeps the host's firewall for later.
      hostSteps(name, h.connection, this).step(`exporters-teardown-${h.name}`, {
        create: 'true',
        delete: scriptCommand(h.connection.user, 'teardown.sh', exportersTeardownArgs()),
        triggers: [],
        dependsOn: [exporters[h.name]!],
      });
    }
    this.exporters = exporters;

    // --- monitoring host
    const gpuTargets = pulumi
      .all(args.gpuHosts.map((h) => pulumi.output(h.tailnetAddress)))
      .apply((addrs) =>
        args.gpuHosts.map((h, i) => ({ name: h.name, address: addrs[i]!, apiPort: h.apiPort ?? 8001, gpu: h.gpu !== false })),
      );
    const probes = pulumi
      .all(args.healthProbes.map((p) => pulumi.output(p.url)))
      .apply((urls) => args.healthProbes.map((p, i) => ({ name: p.name, url: urls[i]! })));
    const edgeUrl = args.exposure === 'public' && args.edgeMetrics ? pulumi.output(args.edgeMetrics.url) : pulumi.output(undefined);
    this.prometheusConfig = pulumi.all([gpuTargets, probes, edgeUrl]).apply(([gpuHosts, healthProbes, edgeMetricsUrl]) =>
      renderPrometheusConfig({
        monitoringHost: mon.name,
        gpuHosts,
        probes: healthProbes,
        edgeMetricsUrl,
        rulesGlob: `${MONITORING_PATHS.rulesDir}/*.yml`,
        secretsDir: MONITORING_PATHS.secretsDir,
      }),
    );
    const credentials = pulumi
      .all((args.credentialExpiries ?? []).map((c) => pulumi.output(c.expiresAt)))
      .apply((ts) => renderCredentialExpiryTextfile((args.credentialExpiries ?? []).map((c, i) => ({ credential: c.credential, expiresAt: ts[i]! }))));
    const monitoringIsGpu = args.gpuHosts.some((h) => h.name === mon.name);
    const serverPayload = pulumi.all([this.prometheusConfig, credentials]).apply(([prometheusYml, credentialsProm]) =>
      monitoringHostPayload({ name: mon.name, prometheusYml, credentialsProm, logs, grafana, externalUrl: args.alerting.externalUrl, retention: args.retention, gpuAlso: monitoringIsGpu, pins }),
    );
    const monUser = mon.connection.user;
    const monHost = hostSteps(name, mon.connection, this);
    this.server = monHost.step('server', {
      create: asRoot(monUser, 'bash -s'),
      stdin: serverPayload,
      triggers: [serverPayload.apply(sha256)],
      // The GPU exporters first: the server's first scrape then finds them, and a shared host is configured once.
      dependsOn: [...Object.values(exporters), ...(mon.dependsOn ?? [])],
    });

    // --- secrets: each on stdin into a 0600 file on the monitoring host
    const writeSecret = (id: string, dest: string, owner: string, value: pulumi.Input<string>, flags: string[] = []): remote.Command =>
      monHost.step(`secret-${id}`, {
        create: rootCommand(monUser, [WRITE_SECRET, dest, owner, ...flags]),
        stdin: value,
        secret: true,
        // The hash changes with the secret (re-run on rotation) and is itself kept secret.
        triggers: [pulumi.secret(pulumi.output(value).apply(sha256))],
        dependsOn: [this.server],
      });
    const secrets = [
      writeSecret('api-metrics-token', `${MONITORING_PATHS.secretsDir}/${SECRET_FILES.apiMetricsToken}`, 'prometheus:prometheus', args.apiMetricsToken),
    ];
    if (args.exposure === 'public' && args.edgeMetrics) {
      secrets.push(
        writeSecret('edge-metrics-token', `${MONITORING_PATHS.secretsDir}/${SECRET_FILES.edgeMetricsToken}`, 'prometheus:prometheus', args.edgeMetrics.token),
      );
    }
    const alertmanagerConfig = pulumi
      .all([pulumi.output(args.alerting.webhookUrl), pulumi.output(args.alerting.email?.authPassword)])
      .apply(([webhookUrl, authPassword]) =>
        renderAlertmanagerConfig({
          webhookUrl,
          externalUrl: args.alerting.externalUrl,
          email: args.alerting.email ? { ...args.alerting.email, authPassword } : undefined,
        }),
      );
    secrets.push(
      writeSecret('alertmanager-config', MONITORING_PATHS.alertmanagerConfig, 'prometheus:prometheus', alertmanagerConfig, [
        '--amtool',
        '--reload',
        'prometheus-alertmanager',
      ]),
    );
    if (grafana) {
      secrets.push(
        writeSecret('grafana-admin-password', MONITORING_PATHS.grafanaAdminPasswordFile, 'grafana:grafana', args.grafanaAdminPassword!, ['--grafana-admin']),
      );
    }
    this.secretWrites = secrets;
    // Destroy (or monitoring turned off) stops the server and removes its secrets and our files (hostFootprint.ts's
    // MONITORING_SERVER_TEARDOWN); constant inputs, so no update runs it. Nothing to do where the server step never
    // installed the script.
    monHost.step('server-teardown', {
      create: 'true',
      delete: `test ! -e ${SERVER_TEARDOWN} || ${rootCommand(monUser, ['bash', SERVER_TEARDOWN, ...serverTeardownArgs()])}`,
      triggers: [],
      dependsOn: [this.server, ...secrets],
    });
    this.grafanaAccess = grafana
      ? `ssh -L ${MONITORING_PORTS.grafana}:127.0.0.1:${MONITORING_PORTS.grafana} <monitoring host> then http://127.0.0.1:${MONITORING_PORTS.grafana}`
      : null;

    this.registerOutputs({ prometheusConfig: this.prometheusConfig, grafanaAccess: this.grafanaAccess });
  }
}
