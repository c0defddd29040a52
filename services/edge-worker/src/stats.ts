import { DurableObject } from 'cloudflare:workers';
import type { Env } from './env.js';

// Global edge counters for GET /metrics. One EdgeStats object ("global") holds them; the request path
// reports through ctx.waitUntil so it never waits on this object.

export type ServedBy = 'origin' | 'fallback' | 'none';

export interface StatsEvent {
  kind: 'request';
  servedBy: ServedBy;
  status: number;
  originFailures: number;
}

export interface BreakerEvent {
  kind: 'breaker';
  origin: number;
  open: boolean;
}

interface Counters {
  requests: Record<string, number>; // key: `${servedBy}|${status}`
  originFailures: number;
  breakerOpen: Record<string, boolean>; // origin index → open
}

const KEY = 'counters';

export class EdgeStats extends DurableObject<Env> {
  private counters: Counters = { requests: {}, originFailures: 0, breakerOpen: {} };

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      const saved = await ctx.storage.get<Counters>(KEY);
      if (saved) this.counters = saved;
    });
  }

  async record(event: StatsEvent | BreakerEvent): Promise<void> {
    if (event.kind === 'request') {
      const key = `${event.servedBy}|${Math.trunc(event.status)}`;
      this.counters.requests[key] = (this.counters.requests[key] ?? 0) + 1;
      this.counters.originFailures += Math.max(0, Math.trunc(event.originFailures));
    } else if (event.kind === 'breaker') {
      this.counters.breakerOpen[String(Math.trunc(event.origin))] = Boolean(event.open);
    }
    await this.ctx.storage.put(KEY, this.counters);
  }

  async metrics(): Promise<string> {
    return renderMetrics(this.counters);
  }
}

export function renderMetrics(c: Counters): string {
  const lines = [
    '# HELP fudbuddy_edge_requests_total Chat requests answered by the edge Worker, by who served them and status.',
    '# TYPE fudbuddy_edge_requests_total counter',
  ];
  for (const [key, value] of Object.entries(c.requests).sort()) {
    const [servedBy, status] = key.split('|');
    lines.push(`fudbuddy_edge_requests_total{served_by="${servedBy}",status="${status}"} ${value}`);
  }
  lines.push(
    '# HELP fudbuddy_edge_origin_failures_total Failed attempts to reach an origin (connect, timeout, 502/503/504).',
    '# TYPE fudbuddy_edge_origin_failures_total counter',
    `fudbuddy_edge_origin_failures_total ${c.originFailures}`,
    '# HELP fudbuddy_edge_breaker_open Origins whose circuit breaker is open, as last reported by any isolate.',
    '# TYPE fudbuddy_edge_breaker_open gauge',
    `fudbuddy_edge_breaker_open ${Object.values(c.breakerOpen).filter(Boolean).length}`,
  );
  return lines.join('\n') + '\n';
}

function statsStub(env: Env): DurableObjectStub<EdgeStats> {
  return env.STATS.get(env.STATS.idFromName('global'));
}

export async function recordEvent(env: Env, event: StatsEvent | BreakerEvent): Promise<void> {
  try {
    await statsStub(env).record(event);
  } catch {
    // Metrics are best effort; the request they describe has already been answered.
  }
}

export async function readMetrics(env: Env): Promise<string> {
  return statsStub(env).metrics();
}
