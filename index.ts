// The FUD Buddy inference stack: composition only.
//   tailnet → GPU host(s) → edge node → Worker → web client (→ monitoring)
// Config: stacks/config.ts (docs/config-reference.md). Modes: private (tailnet only), public (Worker + Pages).
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { EdgeNode } from './components/edgeNode.js';
import { EDGE_LOCAL_HEALTH_URL } from './components/lib/serveConfig.js';
import { EdgeWorker } from './components/edgeWorker.js';
import { GpuHost } from './components/gpuHost.js';
import { Monitoring, monitoringTailnetAccess } from './components/monitoring.js';
import { Tailnet } from './components/tailnet.js';
import { WebClient } from './components/webClient.js';
import { edgeServePort } from './components/lib/serveConfig.js';
import type { EdgeNodeConfig, GpuHostConfig } from './stacks/config.js';
import { gpuTailnetHostname } from './stacks/derive.js';
import { routingOf } from './stacks/edgeRoutingConfig.js';
import { readStackConfig } from './stacks/readConfig.js';
import { planTopology } from './stacks/topology.js';

const at = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const cfg = readStackConfig();
const { settings: s, derived: d, secrets } = cfg;
const topology = planTopology(s);
const ssh = (t: GpuHostConfig | EdgeNodeConfig) => ({
  host: t.address,
  port: t.port,
  user: t.user,
  privateKey: secrets.sshPrivateKey,
  hostKey: t.hostKey,
});

// 1. Tailnet: the policy, then one single-use key per node carrying all of the node's tags.
let tailnet: Tailnet | undefined;
const authKeys = new Map<string, pulumi.Output<string>>();
const headscale = s.controlServer === 'headscale' ? s.headscale : undefined;
// Headscale issues no HTTPS certificates: the edge serves plain HTTP inside the tailnet (components/lib/headscale.ts).
const edgeScheme = headscale ? 'http' : 'https';
if (s.tailscaleEnabled) {
  tailnet = new Tailnet('tailnet', {
    admins: s.tailnetAdmins,
    nodes: topology.nodes.map((n) => ({ name: n.hostname, role: n.kind === 'gpu' ? 'gpu' : 'edge', tags: n.tags })),
    apiPort: s.api.port,
    funnel: s.exposure === 'public',
    servePort: edgeServePort(edgeScheme),
    overwriteExistingPolicy: s.tailnetPolicyOverwrite,
    headscale: headscale
      ? { loginServer: headscale.loginServer, cli: headscale.cli, connection: { host: headscale.address, port: headscale.port, user: headscale.user, privateKey: secrets.sshPrivateKey, hostKey: headscale.hostKey } }
      : undefined,
    // Private: tailnet users reach the edge's `tailscale serve` port. Public needs no grant: Funnel traffic comes
    // from Tailscale's ingress servers, which only offer the edge node a TCP connection.
    serveClients: s.exposure === 'private' ? s.tailnetClients : undefined,
    // Scrape ports on the GPU hosts, and (logs on) GPU hosts → Loki on the monitoring node.
    monitoring: topology.monitoringHostname ? monitoringTailnetAccess({ logs: s.monitoring.logs }) : undefined,
  });
  for (const n of topology.nodes) authKeys.set(n.hostname, tailnet.authKeyFor(n.hostname));
}

// 2. GPU hosts. API_TOKENS = current + previous service token during a rotation (docs/runbook.md).
const apiTokens = [secrets.serviceToken, ...(secrets.serviceTokenPrevious ? [secrets.serviceTokenPrevious] : [])];
const gpuHosts = s.gpuHosts.map((h) => {
  const hostname = gpuTailnetHostname(h);
  const node = topology.nodes.find((n) => n.hostname === hostname)!;
  return new GpuHost(
    h.name,
    {
      connection: ssh(h),
      hostname,
      gpu: h.gpu,
      rebootIfRequired: h.rebootIfRequired,
      nvidia: h.gpu === 'nvidia' ? { driverBranch: s.nvidiaDriverBranch, install: s.nvidiaDriverInstall } : undefined,
      tailscale: s.tailscaleEnabled
        ? { enabled: true, authKey: authKeys.get(hostname)!, tags: node.tags, extraUpFlags: headscale ? [`--login-server=${headscale.loginServer}`] : undefined }
        : { enabled: false, bindAddress: h.bindAddress! },
      inference:
        h.gpu === 'nvidia'
          ? {
              backend: 'vllm',
              vllm: {
                version: s.vllmVersion,
                model: s.model.id,
                revision: s.model.revision,
                servedModelName: s.model.servedName,
                maxModelLen: s.model.maxModelLen,
                gpuMemoryUtilization: s.model.gpuMemoryUtilization,
                tensorParallelSize: h.tensorParallelSize,
                hfToken: secrets.huggingFaceToken,
                apiKey: secrets.upstreamApiKey,
              },
            }
          : {
              backend: 'stub',
              stub: {
                bundlePath: at('./services/model-stub/dist/stub.mjs'),
                servedModelName: s.model.servedName,
                apiKey: secrets.upstreamApiKey,
                // As vLLM would take it: a value above the model's limit fails the unit at start.
                maxModelLen: s.model.maxModelLen,
              },
            },
      api: {
        bundlePath: at('./services/inference-api/dist/server.mjs'),
        promptsDir: at('./prompts'),
        tokens: apiTokens,
        metricsTokens: secrets.metricsToken ? [secrets.metricsToken] : undefined,
        port: s.api.port,
        env: {
          RATE_LIMIT_RPM: String(s.api.rateLimitRpm),
          MAX_INFLIGHT: String(s.api.maxInflight),
          BODY_LIMIT: s.api.bodyLimit,
          LOG_LEVEL: s.api.logLevel,
        },
      },
      nodeMajor: s.hostNodeMajor,
      firewall: {
        sshSources: s.sshAllowFrom,
        extraAllow: s.apiAllowFrom.map((from) => ({ port: s.api.port, from, comment: 'fudbuddy api (no tailnet)' })),
      },
    },
    { dependsOn: tailnet ? [tailnet] : [] },
  );
});
const firstGpu = gpuHosts[0]!;

// 3. Edge node: tailscale serve (private) or funnel (public) in front of every GPU host's API.
let edge: EdgeNode | undefined;
if (s.tailscaleEnabled && s.tailnetDnsName) {
  const box = s.edgeNode;
  edge = new EdgeNode(
    'edge',
    {
      connection: box ? ssh(box) : ssh(s.gpuHosts[0]!),
      mode: topology.edgeMode,
      hostname: topology.edgeHostname,
      tailnetDnsName: s.tailnetDnsName,
      scheme: edgeScheme,
      tailscale: box
        ? { authKey: authKeys.get(box.tailnetHostname)!, tags: topology.nodes.find((n) => n.kind === 'edgeBox')!.tags, loginServer: headscale?.loginServer }
        : undefined,
      upstreams: gpuHosts.map((g, i) =>
        pulumi.all([g.tailnetAddress, g.apiBindAddress]).apply(([t, b]) => ({ address: `${t ?? b}:${s.api.port}`, drain: s.edgeRouting.drain.includes(s.gpuHosts[i]!.name) })),
      ),
      routing: routingOf(s.edgeRouting),
      bodyLimit: s.api.bodyLimit,
    },
    { dependsOn: gpuHosts },
  );
}
// Headscale evaluates the policy's tests against existing nodes: the full policy goes in once every host joined.
tailnet?.applyPolicyTests([...gpuHosts, ...(edge ? [edge] : [])]);

// 4. Worker (public). It depends on every GPU host: during a token rotation the APIs accept the new token
//    before the Worker starts sending it.
let worker: EdgeWorker | undefined;
if (s.exposure === 'public' && edge && d.apiHostname) {
  // Which Durable Object migration steps the upload carries depends on what is deployed: this stack's own last
  // `edgeWorkerMigrationTag` output (a self StackReference; none before the first deploy). See workerMigrations.
  const self = new pulumi.StackReference(`${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`);
  worker = new EdgeWorker(
    'api',
    {
      accountId: s.cloudflareAccountId!,
      zoneId: s.cloudflareZoneId!,
      scriptName: d.workerScriptName,
      hostname: d.apiHostname,
      routing: s.worker.routing,
      vars: {
        originUrls: [edge.url],
        allowedOrigins: d.allowedOrigins,
        clientIds: s.worker.clientIds,
        fallbackModel: s.worker.fallbackModel,
        openaiBaseUrl: s.worker.openaiBaseUrl,
        tokenTtlSeconds: s.worker.tokenTtlSeconds,
        rateLimitRpm: s.worker.rateLimitRpm,
        tokensPerDay: s.worker.tokensPerDay,
        ipRateLimitRpm: s.worker.ipRateLimitRpm,
        originTimeoutMs: s.worker.originTimeoutMs,
        breakerFailures: s.worker.breakerFailures,
        breakerOpenSeconds: s.worker.breakerOpenSeconds,
        environment: s.environment,
      },
      secrets: {
        originToken: secrets.serviceToken,
        jwtSigningKey: secrets.jwtSigningKey!,
        jwtSigningKeyPrevious: secrets.jwtSigningKeyPrevious,
        openaiApiKey: secrets.openaiApiKey,
        inviteCodes: secrets.inviteCodes,
        metricsToken: secrets.metricsToken,
      },
      observability: { enabled: s.worker.observability, headSamplingRate: s.worker.headSamplingRate },
      deployedMigrationTag: self.getOutput('edgeWorkerMigrationTag') as pulumi.Output<string | undefined>,
      preflight: { domain: s.domain!, pages: d.webHostname !== undefined, apiToken: cfg.cloudflareApiToken },
    },
    { dependsOn: [edge, ...gpuHosts] },
  );
}

// 5. Web client (public): built against the Worker's URL, published after it.
let web: WebClient | undefined;
if (worker && d.webHostname) {
  web = new WebClient('web', {
    accountId: s.cloudflareAccountId!,
    zoneId: s.cloudflareZoneId!,
    projectName: d.pagesProjectName,
    productionBranch: s.web.productionBranch,
    hostname: d.webHostname,
    build: { apiBaseUrl: worker.url, clientId: s.worker.clientIds[0]!, environment: s.environment, sentryDsn: s.web.sentryDsn },
    cloudflareApiToken: cfg.cloudflareApiToken,
    dependsOn: [worker],
  });
}

// 6. Monitoring on the edge node: exporters on every GPU host, Prometheus/Alertmanager (+ Grafana) on the edge.
let monitoring: Monitoring | undefined;
if (topology.monitoringHostname && edge) {
  const box = s.edgeNode;
  // What users reach: the Worker's /healthz from outside (public: through Funnel to the origin), and the edge's
  // loopback nginx in front of the GPU hosts (Prometheus runs on the edge box, where its own serve URL is not
  // reachable through serve; docs/monitoring.md).
  const probes = [...(worker ? [{ name: 'worker', url: worker.healthUrl }] : []), { name: 'edge-proxy', url: EDGE_LOCAL_HEALTH_URL }];
  monitoring = new Monitoring(
    'monitoring',
    {
      exposure: s.exposure,
      monitoringHost: {
        name: box ? box.name : s.gpuHosts[0]!.name,
        connection: box ? ssh(box) : ssh(s.gpuHosts[0]!),
        tailnetAddress: box ? `${topology.edgeHostname}.${s.tailnetDnsName}` : firstGpu.tailnetAddress.apply((a) => a ?? ''),
        dependsOn: [edge],
      },
      gpuHosts: s.gpuHosts.map((h, i) => ({
        name: h.name,
        connection: ssh(h),
        tailnetAddress: gpuHosts[i]!.tailnetAddress.apply((a) => a ?? ''),
        gpu: h.gpu === 'nvidia',
        apiPort: s.api.port,
        dependsOn: [gpuHosts[i]!],
      })),
      apiMetricsToken: secrets.metricsToken!,
      edgeMetrics: worker ? { url: `${worker.url}/metrics`, token: secrets.metricsToken! } : undefined,
      healthProbes: probes,
      alerting: {
        webhookUrl: secrets.alertWebhookUrl,
        email: s.monitoring.alertEmail ? { ...s.monitoring.alertEmail, authPassword: secrets.alertSmtpPassword } : undefined,
        externalUrl: s.monitoring.externalUrl,
      },
      grafana: s.monitoring.grafana,
      grafanaAdminPassword: secrets.grafanaAdminPassword,
      logs: s.monitoring.logs,
      retention: s.monitoring.retention,
      // Tailscale API key, Cloudflare API token, next service-token rotation (docs/config-reference.md; Pulumi.beta.yaml).
      credentialExpiries: s.monitoring.credentialExpiries,
    },
    { dependsOn: [edge, ...gpuHosts] },
  );
}

// Outputs (no secrets).
export const exposure = s.exposure;
/** What clients call: the Worker (public), the tailnet-only serve URL (private), the host's API (local). */
export const apiUrl: pulumi.Output<string> = worker ? pulumi.output(worker.url) : edge ? pulumi.output(edge.url) : firstGpu.apiUrl;
export const healthUrl: pulumi.Output<string> = apiUrl.apply((u) => `${u}/healthz`);
export const webUrl: string | null = web?.url ?? null;
/** The Worker's Durable Object migration tag as Cloudflare reports it: read back by the next run (above). */
export const edgeWorkerMigrationTag: pulumi.Output<string> | null = worker?.migrationTag ?? null;
/** The Funnel URL (public: the Worker's origin) or the serve URL (private). */
export const edgeUrl: string | null = edge?.url ?? null;
export const tailnetNames = {
  gpuHosts: gpuHosts.map((g) => g.tailnetName),
  edge: edge ? `${edge.hostname}.${s.tailnetDnsName}` : null,
};
export const gpuApiUrls = gpuHosts.map((g) => g.apiUrl);
export const modelServed = firstGpu.modelServed;
export const model = s.model.id;
/** How to reach Grafana on the monitoring node (SSH tunnel to its loopback); null without monitoring or Grafana. */
export const grafana: string | null = monitoring?.grafanaAccess ?? null;
