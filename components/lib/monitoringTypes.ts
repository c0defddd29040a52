// Public argument types of the monitoring component (components/monitoring.ts). Kept free of Pulumi resource code so
// the composition (index.ts, stacks/) and the pure builders can import them without side effects.
import type * as pulumi from '@pulumi/pulumi';
import type { z } from 'zod';
import type { SshConnectionArgs } from './hostTypes.js';
import type { exposureMode } from './rules.js';

/** SSH connection: the same shape the gpuHost/edgeNode components take (root or passwordless sudo). */
export type SshConnection = SshConnectionArgs;

/** How the API is published: `private` = tailnet only (`tailscale serve`), `public` = Worker + Funnel. */
export type ExposureMode = z.output<typeof exposureMode>;

/** One GPU host whose exporters the component installs and Prometheus scrapes over the tailnet. */
export interface MonitoredGpuHost {
  /** Short stable name, e.g. `gpu-1`: the Prometheus `host` label and part of resource names. [a-z0-9-] */
  name: string;
  /** SSH connection used to install node exporter, the nvidia-smi collector and the vLLM metrics proxy. */
  connection: SshConnection;
  /**
   * Tailnet address Prometheus scrapes (100.x.y.z or the MagicDNS name), e.g. the gpuHost/tailnet component output.
   * The exporters themselves bind to the address `tailscale ip -4` reports on the host, never 0.0.0.0.
   */
  tailnetAddress: pulumi.Input<string>;
  /** false for CPU test hosts: no nvidia-smi collector (GPU alerts then have no series). Default true. */
  gpu?: boolean;
  /** Directory holding the model weights; its filesystem gets the "models disk" alert. Default /var/lib/fudbuddy/models. */
  modelsDir?: string;
  /** vLLM's loopback metrics URL the proxy forwards to. Default http://127.0.0.1:8000/metrics (also the stub's). */
  modelMetricsUrl?: string;
  /** Port of the inference API on the tailnet address. Default 8001. */
  apiPort?: number;
  /** Resources the exporter install waits for (e.g. the gpuHost component: Tailscale must be up to bind). */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** Where Prometheus, Alertmanager, the blackbox exporter (and optionally Grafana and Loki) run. */
export interface MonitoringHost {
  /** Short name, e.g. `edge` (the edge box) or `mon-1`. [a-z0-9-] */
  name: string;
  connection: SshConnection;
  /** Its tailnet address (100.x.y.z or MagicDNS name). Required when `logs` is true: GPU hosts push to Loki there. */
  tailnetAddress?: pulumi.Input<string>;
  /** Resources to wait for (e.g. the edgeNode component: Tailscale must be up so scrapes and Grafana's bind work). */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** An HTTP(S) URL the blackbox exporter probes every 30 s; anything but a 2xx fires FudbuddyEndpointUnreachable. */
export interface HealthProbe {
  /** Label value `probe`, e.g. `worker` (https://api.<domain>/healthz), `funnel`, `tailnet-serve`. [a-z0-9-] */
  name: string;
  url: pulumi.Input<string>;
}

/** Where alerts go. At least one of webhookUrl / email is required. */
export interface AlertingArgs {
  /** Webhook receiver (Slack-compatible bridges, ntfy, PagerDuty events…). Secret: it usually embeds a token. */
  webhookUrl?: pulumi.Input<string>;
  email?: {
    to: string;
    from: string;
    /** host:port of the SMTP relay, e.g. smtp.example.com:587 (STARTTLS required). */
    smarthost: string;
    authUsername?: string;
    /** Secret. */
    authPassword?: pulumi.Input<string>;
  };
  /** Public URL of Grafana/Alertmanager used in alert links. Default http://<monitoring host>:3000. */
  externalUrl?: string;
}

/** An expiring credential: written as fudbuddy_credential_expiry_timestamp_seconds{credential=name}. */
export interface CredentialExpiry {
  /** e.g. `tailnet-key-gpu-1`, `api-service-token`. [a-zA-Z0-9_.:-] */
  credential: string;
  /** RFC 3339 timestamp (a tailscale.TailnetKey's `expiresAt`, or rotation date + policy period). */
  expiresAt: pulumi.Input<string>;
}

/** Package versions; defaults come from monitoring/versions.json (the single pinned list). */
export interface MonitoringVersions {
  /** apt version globs of Ubuntu's packages, per release codename (jammy, noble). */
  ubuntu: Record<string, Record<string, string>>;
  /** The same per Debian codename (bookworm: Debian and Raspberry Pi OS edge boxes). */
  debian: Record<string, Record<string, string>>;
  /** Exact versions from Grafana's apt repository (grafana, loki, alloy). */
  grafanaApt: { grafana: string; loki: string; alloy: string };
}

export interface MonitoringArgs {
  /** Exposure mode of the stack; `public` adds the Worker's /metrics scrape and the fallback-share alert input. */
  exposure: ExposureMode;
  /** The node that runs Prometheus & co. Usually the edge box (tag:edge); the GPU host when there is no edge box. */
  monitoringHost: MonitoringHost;
  /** Every GPU host (one entry per gpuHost component instance). */
  gpuHosts: MonitoredGpuHost[];
  /** Bearer token Prometheus sends to the API's /metrics (one of the API's METRICS_TOKENS/API_TOKENS). Secret. */
  apiMetricsToken: pulumi.Input<string>;
  /**
   * Public mode: the Worker's metrics endpoint (https://api.<domain>/metrics) and its METRICS_TOKEN (secret).
   * Required when exposure is `public`, ignored in `private`.
   */
  edgeMetrics?: { url: pulumi.Input<string>; token: pulumi.Input<string> };
  /** Public health URLs to probe (Worker /healthz, Funnel URL /healthz; tailscale-serve URL in private mode). >= 1. */
  healthProbes: HealthProbe[];
  alerting: AlertingArgs;
  /**
   * Grafana on the monitoring host (Grafana's apt repository, apt.grafana.com). false: Prometheus, Alertmanager,
   * exporters and alerting only, for boxes that cannot reach that repository or teams with their own Grafana; no
   * Grafana files, no admin-password step, `grafanaAccess` null, and `logs` must stay off. Default true.
   */
  grafana?: boolean;
  /** Grafana admin password (secret); required when `grafana` is on. Grafana listens on loopback, port 3000. */
  grafanaAdminPassword?: pulumi.Input<string>;
  /** journald → Loki (Grafana Alloy on every host, Loki on the monitoring host; needs `grafana`). Default false. */
  logs?: boolean;
  /** Credentials whose expiry is alerted on 14 days (warning) and 3 days (critical) ahead. */
  credentialExpiries?: CredentialExpiry[];
  /** Prometheus TSDB retention. Default `30d`. */
  retention?: string;
  /** Override pinned versions (rarely needed; edit monitoring/versions.json instead). */
  versions?: Partial<MonitoringVersions>;
}
