// Per-exposure composition helpers: which node plays which role, which tags each node's key carries.
// Pure: index.ts wires components from this plan; tests check the plan alone.
import type { StackSettings } from './config.js';
import { gpuTailnetHostname } from './derive.js';

export const TAGS = { gpu: 'tag:gpu', edge: 'tag:edge', monitoring: 'tag:monitoring' } as const;

export interface NodePlan {
  /** Tailscale hostname (also the Tailnet component's node name). */
  hostname: string;
  kind: 'gpu' | 'edgeBox';
  /** Index into gpuHosts for kind gpu. */
  gpuIndex?: number;
  tags: string[];
}

export interface Topology {
  nodes: NodePlan[];
  /** Hostname of the node running `tailscale serve|funnel` (edge box, else the first GPU host). */
  edgeHostname: string;
  edgeOnGpuHost: boolean;
  /** Hostname of the node running Prometheus & co (the edge node). */
  monitoringHostname?: string;
  edgeMode: 'serve' | 'funnel';
}

export function planTopology(s: StackSettings): Topology {
  const edgeOnGpuHost = !s.edgeNode;
  const monitoring = s.monitoring.enabled && s.tailscaleEnabled;
  const nodes: NodePlan[] = s.gpuHosts.map((h, i) => ({ hostname: gpuTailnetHostname(h), kind: 'gpu', gpuIndex: i, tags: [TAGS.gpu] }));
  let edge: NodePlan;
  if (s.edgeNode) {
    edge = { hostname: s.edgeNode.tailnetHostname, kind: 'edgeBox', tags: [TAGS.edge] };
    nodes.push(edge);
  } else {
    edge = nodes[0]!;
    edge.tags.push(TAGS.edge);
  }
  if (monitoring) edge.tags.push(TAGS.monitoring);
  return {
    nodes,
    edgeHostname: edge.hostname,
    edgeOnGpuHost,
    monitoringHostname: monitoring ? edge.hostname : undefined,
    edgeMode: s.exposure === 'public' ? 'funnel' : 'serve',
  };
}
