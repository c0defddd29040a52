// The two install payloads the Monitoring component sends (one `bash -s` stdin per host), as pure builders: the
// component and the VM tests build exactly the same bytes. Non-secret content only (it is stored in Pulumi state).
import { HOST_PATHS } from './hostPaths.js';
import { installPayload, type InstallPayloadInput } from './hostSteps.js';
import { gpuPayloadFiles, serverPayloadFiles } from './monitoringFiles.js';

/** PIN_<CODENAME>_<PACKAGE> (+ Grafana apt versions): `versionEnv(loadMonitoringVersions(...))`. */
export type VersionPins = Record<string, string>;

export interface GpuExportersPayloadInput {
  name: string;
  gpu?: boolean;
  modelsDir?: string;
  modelMetricsUrl?: string;
  /** Where the exporters listen; default the host's tailnet address (found on the host). CPU test hosts only. */
  bindAddress?: string;
  pins: VersionPins;
  /** Loki's push URL when logs are on. */
  lokiPushUrl?: string;
}

/** gpu-exporters.sh's payload: node exporter, the GPU textfile collector, the vLLM metrics proxy (+ Alloy). */
export function gpuExportersPayload(h: GpuExportersPayloadInput): string {
  return installPayload({
    entry: 'gpu-exporters.sh',
    files: gpuPayloadFiles(),
    env: {
      ...h.pins,
      HOST_NAME: h.name,
      GPU: h.gpu === false ? '0' : '1',
      MODELS_DIR: h.modelsDir ?? HOST_PATHS.models,
      VLLM_METRICS_UPSTREAM: h.modelMetricsUrl ?? 'http://127.0.0.1:8000/metrics',
      LOGS: h.lokiPushUrl ? '1' : '0',
      ...(h.lokiPushUrl ? { LOKI_PUSH_URL: h.lokiPushUrl } : {}),
      ...(h.bindAddress ? { BIND_ADDRESS: h.bindAddress } : {}),
    },
  });
}

export interface MonitoringHostPayloadInput {
  name: string;
  prometheusYml: string;
  credentialsProm: string;
  logs: boolean;
  /**
   * Grafana on the monitoring host (from Grafana's apt repository): its files are staged and GRAFANA=1 makes
   * monitoring-host.sh run grafana-server.sh. false for boxes that cannot reach apt.grafana.com (logs must be off).
   */
  grafana: boolean;
  externalUrl?: string;
  retention?: string;
  /** The monitoring host is also a GPU host (its exporters came from gpuExportersPayload). */
  gpuAlso: boolean;
  pins: VersionPins;
  /**
   * monitoring-host.sh (default) runs monitoring-server.sh (Prometheus, Alertmanager, exporters from the
   * distribution), then Grafana (GRAFANA=1) and Loki (LOGS=1) from Grafana's apt repository; monitoring-server.sh
   * alone is the first part.
   */
  entry?: 'monitoring-host.sh' | 'monitoring-server.sh';
}

/** The monitoring host's payload parts (entry, files, env); tests replace a file before building it. */
export function monitoringHostInstall(m: MonitoringHostPayloadInput): InstallPayloadInput {
  return {
    entry: m.entry ?? 'monitoring-host.sh',
    files: serverPayloadFiles({ prometheusYml: m.prometheusYml, credentialsProm: m.credentialsProm, logs: m.logs, grafana: m.grafana, externalUrl: m.externalUrl }),
    env: {
      ...m.pins,
      HOST_NAME: m.name,
      RETENTION: m.retention ?? '30d',
      LOGS: m.logs ? '1' : '0',
      GRAFANA: m.grafana ? '1' : '0',
      GPU_ALSO: m.gpuAlso ? '1' : '0',
    },
  };
}

export const monitoringHostPayload = (m: MonitoringHostPayloadInput): string => installPayload(monitoringHostInstall(m));
