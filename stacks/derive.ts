// Values every consumer derives the same way from the validated settings (defaults that depend on other keys).
import type { GpuHostConfig, StackSettings } from './config.js';

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
