import type { Config } from './config.js';
import { originEndpoint, originPool } from './origins.js';

// GET /healthz: the edge answers, and can it reach an origin (through the origin's own /healthz)?
// Probes are cached per isolate for HEALTH_CACHE_SECONDS so a tight monitor does not load the origins.
export type OriginState = 'ok' | 'degraded' | 'unreachable';

export interface Health {
  status: 'ok' | 'degraded';
  edge: 'ok';
  origin: OriginState;
  origins: { total: number; ok: number; degraded: number; unreachable: number; breaker_open: number };
  fallback: 'configured' | 'not_configured';
  environment: string;
}

const PROBE_TIMEOUT_MS = 3000;
let cached: { at: number; key: string; states: OriginState[] } | undefined;

async function probe(url: URL, token: string): Promise<OriginState> {
  try {
    const res = await fetch(originEndpoint(url, '/healthz').href, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    await res.body?.cancel().catch(() => undefined);
    return res.status === 200 ? 'ok' : 'degraded';
  } catch {
    return 'unreachable';
  }
}

export async function checkHealth(config: Config): Promise<Health> {
  const key = config.origins.map((o) => o.href).join(',');
  const now = Date.now();
  let states: OriginState[];
  if (cached && cached.key === key && now - cached.at < config.n.HEALTH_CACHE_SECONDS * 1000) {
    states = cached.states;
  } else {
    states = await Promise.all(config.origins.map((o) => probe(o, config.originToken)));
    cached = { at: Date.now(), key, states };
  }
  const count = (s: OriginState) => states.filter((x) => x === s).length;
  const origin: OriginState = count('ok') > 0 ? 'ok' : count('degraded') > 0 ? 'degraded' : 'unreachable';
  return {
    status: origin === 'ok' ? 'ok' : 'degraded',
    edge: 'ok',
    origin,
    origins: {
      total: states.length,
      ok: count('ok'),
      degraded: count('degraded'),
      unreachable: count('unreachable'),
      breaker_open: originPool(config).filter((o) => o.breaker.isOpen(now)).length,
    },
    fallback: config.openaiApiKey ? 'configured' : 'not_configured',
    environment: config.environment,
  };
}
