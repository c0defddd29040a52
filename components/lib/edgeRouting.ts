// How the edge's nginx spreads chat requests over the GPU hosts (pure; rendered into the site by serveConfig.ts).
//
// policy `session` (default): one chat session → one GPU host, so vLLM's automatic prefix cache holds the earlier
// turns of the conversation when the next turn arrives.
//   * The session key is `X-Client-Id` (the Worker sends `<client_id>:<session>`), else `Tailscale-User-Login`
//     (set by `tailscale serve` for a user's device; tailscaled deletes any client-sent copy first, and sets
//     nothing for tagged devices).
//   * Keyed requests: `hash $key consistent` (ketama ring, 160 points per host): adding, removing, draining or
//     losing a host moves only that host's sessions, each to the next host on the ring, where they stay.
//   * Bounded load: a session may have `sessionConcurrency` requests in flight at once (limit_conn on the key);
//     beyond that its requests go to the least-busy pool instead of piling onto its home. Why not `max_conns`:
//     nginx's consistent-hash balancer never reads it (ngx_http_upstream_get_chash_peer checks down/max_fails
//     only), so a per-host cap cannot bound a ring; the API's own MAX_INFLIGHT/MAX_QUEUE (503 + Retry-After)
//     is the per-host bound.
//   * Requests without a key (tagged tailnet devices, health probes) and the overflow go `least_conn`.
// policy `roundRobin`: the earlier behaviour (nginx's default balancing), kept for comparison (bench:routing).
//
// Failover in both: a connection that fails or times out moves to the next host (safe: nothing reached a host);
// a request that reached a host is never sent to another (nginx's rule for POST unless told otherwise).
// A host listed as draining is `down`: the ring keeps its points, so only its sessions move; an nginx reload
// lets requests already running on it finish.

export type RoutingPolicy = 'session' | 'roundRobin';

export interface EdgeRouting {
  policy: RoutingPolicy;
  /** Requests one session may have in flight on its home host before the rest go to the least-busy pool. */
  sessionConcurrency: number;
  /** Failed attempts (connect error/timeout) within failTimeoutSeconds that take a host out for failTimeoutSeconds. */
  maxFails: number;
  failTimeoutSeconds: number;
  /** TCP connect timeout to a GPU host: an unreachable tailnet peer drops packets, so this bounds the failover wait. */
  connectTimeoutSeconds: number;
}

/** The one place these defaults live (the stack config schema imports them). */
export const DEFAULT_ROUTING: EdgeRouting = {
  policy: 'session',
  sessionConcurrency: 4,
  maxFails: 3,
  failTimeoutSeconds: 15,
  connectTimeoutSeconds: 2,
};

/** One GPU host API behind the edge: `host:port`, optionally draining (takes no new requests). */
export interface EdgeUpstream {
  address: string;
  drain?: boolean;
}

/** Response header that says which path served a request: `home`, `overflow`, `any` or `rr` (tests, benchmarks). */
export const ROUTE_HEADER = 'X-Fudbuddy-Route';

const POOL = { home: 'fudbuddy_home', any: 'fudbuddy_any' } as const;

/**
 * Answers nginx itself gives (never a host's answer: proxy_intercept_errors stays off), as OpenAI-style JSON like the
 * API's own errors instead of nginx's HTML pages. The named locations only `return`: nothing is sent to a host again.
 */
const EDGE_ERRORS = [
  { status: 413, name: 'too_large', type: 'invalid_request_error', code: 'request_too_large', message: 'request body exceeds the edge limit', retryAfter: 0 },
  { status: 502, name: 'bad_gateway', type: 'upstream_error', code: 'edge_upstream_failed', message: 'no GPU host answered this request (edge proxy); try again shortly', retryAfter: 2 },
  { status: 504, name: 'timeout', type: 'timeout_error', code: 'edge_upstream_timeout', message: 'no GPU host answered in time (edge proxy)', retryAfter: 0 },
] as const;

const errorPages = EDGE_ERRORS.map((e) => `    error_page ${e.status} = @fudbuddy_${e.name};`).join('\n');

function errorLocations(): string {
  return EDGE_ERRORS.map((e) => {
    const body = JSON.stringify({ error: { message: e.message, type: e.type, code: e.code, param: null } });
    return `  location @fudbuddy_${e.name} {
    default_type application/json;
${e.retryAfter ? `    add_header Retry-After ${e.retryAfter} always;\n` : ''}    return ${e.status} '${body}';
  }`;
  }).join('\n');
}

function servers(ups: EdgeUpstream[], r: EdgeRouting): string {
  return ups
    .map((u) => `  server ${u.address} max_fails=${r.maxFails} fail_timeout=${r.failTimeoutSeconds}s${u.drain ? ' down' : ''};`)
    .join('\n');
}

function pool(name: string, balancing: string | undefined, ups: EdgeUpstream[], r: EdgeRouting): string {
  // zone: peer state (failures, connection counts) shared by every worker process, not kept per worker.
  return `upstream ${name} {
${balancing ? `  ${balancing}\n` : ''}  zone ${name} 64k;
${servers(ups, r)}
  keepalive 16;
}`;
}

/** http-level blocks: session key, limit zone and the upstream pools. */
export function buildRoutingHttp(ups: EdgeUpstream[], r: EdgeRouting): string {
  if (ups.every((u) => u.drain)) throw new Error('edgeNode: every GPU host is draining; at least one must take requests');
  if (r.policy === 'roundRobin') return pool(POOL.any, undefined, ups, r);
  return `# Session key: the Worker's X-Client-Id (<client_id>:<session>), else the tailnet user tailscale serve names.
map $http_x_client_id $fudbuddy_session {
  ""      $http_tailscale_user_login;
  default $http_x_client_id;
}
# No key: nothing to keep warm, so the least-busy host.
map $fudbuddy_session $fudbuddy_pool {
  ""      ${POOL.any};
  default ${POOL.home};
}
map $fudbuddy_session $fudbuddy_route {
  ""      any;
  default home;
}
limit_conn_zone $fudbuddy_session zone=fudbuddy_session_inflight:1m;

${pool(POOL.home, 'hash $fudbuddy_session consistent;', ups, r)}

${pool(POOL.any, 'least_conn;', ups, r)}`;
}

/** The server-level proxy directives and locations that use the pools. */
export function buildRoutingLocations(ups: EdgeUpstream[], r: EdgeRouting): string {
  const tries = Math.max(2, ups.filter((u) => !u.drain).length);
  const common = `  proxy_connect_timeout ${r.connectTimeoutSeconds}s;
  # Only connection failures and timeouts move a request to another host, and nginx never resends a POST that
  # reached one (that would take the non-idempotent flag, which stays off).
  proxy_next_upstream error timeout;
  proxy_next_upstream_tries ${tries};`;
  if (r.policy === 'roundRobin') {
    return `${common}

  location / {
${errorPages}
    add_header ${ROUTE_HEADER} rr always;
    proxy_pass http://${POOL.any};
  }

${errorLocations()}`;
  }
  return `${common}

  location / {
    # Bounded load: a session's requests beyond sessionConcurrency go to the least-busy host (not an error).
    limit_conn fudbuddy_session_inflight ${r.sessionConcurrency};
    limit_conn_status 429;
    limit_conn_log_level info;
    error_page 429 = @fudbuddy_overflow;
    # ...and an overflow request that then fails still gets the JSON error below.
    recursive_error_pages on;
${errorPages}
    add_header ${ROUTE_HEADER} $fudbuddy_route always;
    proxy_pass http://$fudbuddy_pool;
  }

  # Reached only from limit_conn's refusal, before any host saw the request: nothing is replayed.
  location @fudbuddy_overflow {
${errorPages}
    add_header ${ROUTE_HEADER} overflow always;
    proxy_pass http://${POOL.any};
  }

${errorLocations()}`;
}
