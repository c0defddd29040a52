// Stack config of the edge's routing (`fudbuddy:edgeRouting`); the nginx it renders is components/lib/edgeRouting.ts,
// which owns the defaults. Kept beside config.ts so routing changes stay out of the shared schema file.
import { z } from 'zod';
import { DEFAULT_ROUTING, type EdgeRouting } from '../components/lib/edgeRouting.js';

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

export const edgeRoutingSchema = z
  .object({
    policy: z
      .enum(['session', 'roundRobin'])
      .default(DEFAULT_ROUTING.policy)
      .describe('session: one chat session → one GPU host (consistent hashing on X-Client-Id, else the tailnet user), so vLLM’s prefix cache stays warm; roundRobin: no affinity (comparison only)'),
    sessionConcurrency: int(DEFAULT_ROUTING.sessionConcurrency, 1, 1024).describe('Requests one session may have in flight on its home host; beyond that they go to the least-busy host'),
    maxFails: int(DEFAULT_ROUTING.maxFails, 1, 100).describe('Failed connects within failTimeoutSeconds that take a host out of rotation'),
    failTimeoutSeconds: int(DEFAULT_ROUTING.failTimeoutSeconds, 1, 3600).describe('How long a failed host stays out before it is tried again'),
    connectTimeoutSeconds: int(DEFAULT_ROUTING.connectTimeoutSeconds, 1, 60).describe('TCP connect timeout to a GPU host: bounds the wait before failing over from an unreachable one'),
    drain: z
      .array(z.string())
      .default([])
      .describe('GPU host names (gpuHosts[].name) that take no new requests: their sessions move to the next host, running requests finish (docs/runbook.md)'),
  })
  .strict();

export type EdgeRoutingConfig = z.output<typeof edgeRoutingSchema>;

/** Problems across keys, as [path under edgeRouting, message]. */
export function edgeRoutingIssues(r: EdgeRoutingConfig | undefined, hostNames: string[]): [Array<string | number>, string][] {
  if (!r) return [];
  const out: [Array<string | number>, string][] = [];
  r.drain.forEach((name, i) => {
    if (!hostNames.includes(name)) out.push([['edgeRouting', 'drain', i], `"${name}" is not a gpuHosts name (${hostNames.join(', ')})`]);
  });
  if (hostNames.length > 0 && hostNames.every((n) => r.drain.includes(n))) {
    out.push([['edgeRouting', 'drain'], 'drains every GPU host; at least one must take requests']);
  }
  return out;
}

/** What the edge node's nginx builder takes. */
export function routingOf(r: EdgeRoutingConfig): EdgeRouting {
  const { drain: _drain, ...rest } = r;
  return rest;
}
