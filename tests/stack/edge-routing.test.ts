// The edge routing builder (components/lib/edgeRouting.ts) and its stack config (stacks/edgeRoutingConfig.ts), pure.
// The rendered site is kept whole in __snapshots__/edge-nginx-*.conf so a reviewer sees every line nginx will run;
// tests/stack/edge-routing-nginx.test.ts proves the behaviour in a real nginx.
import { describe, expect, it } from 'vitest';
import { DEFAULT_ROUTING } from '../../components/lib/edgeRouting.js';
import { buildNginxConfig } from '../../components/lib/serveConfig.js';
import { formatIssues, parseStackConfig } from '../../stacks/validate.js';
import { edgeRoutingSchema, routingOf } from '../../stacks/edgeRoutingConfig.js';
import { privateValues } from './fixtures.js';

const three = ['100.64.0.1:8001', { address: '100.64.0.2:8001', drain: true }, '100.64.0.3:8001'];

describe('edge routing builder', () => {
  it('renders the session-affine site (whole file)', async () => {
    await expect(buildNginxConfig({ upstreams: three })).toMatchFileSnapshot('__snapshots__/edge-nginx-session.conf');
  });

  it('renders the round-robin comparison site (whole file)', async () => {
    await expect(buildNginxConfig({ upstreams: three, routing: { policy: 'roundRobin' } })).toMatchFileSnapshot('__snapshots__/edge-nginx-roundrobin.conf');
  });

  it('marks a draining host down in every pool (the ring keeps its points, so only its sessions move)', () => {
    const conf = buildNginxConfig({ upstreams: three });
    expect(conf.match(/server 100\.64\.0\.2:8001 [^;]* down;/g)).toHaveLength(2);
    expect(conf.match(/server 100\.64\.0\.[13]:8001 [^;]* down;/g)).toBeNull();
    // Retries cover every host that takes requests (a dead home costs a connect, then the next host on the ring).
    expect(conf).toContain('proxy_next_upstream_tries 2;');
    expect(buildNginxConfig({ upstreams: ['a:1', 'b:1', 'c:1', 'd:1'] })).toContain('proxy_next_upstream_tries 4;');
  });

  it('refuses to drain every host', () => {
    expect(() => buildNginxConfig({ upstreams: [{ address: 'a:1', drain: true }] })).toThrow(/every GPU host is draining/);
  });

  it('takes its timing and bound from the routing options', () => {
    const conf = buildNginxConfig({ upstreams: ['a:1', 'b:1'], routing: { sessionConcurrency: 9, maxFails: 5, failTimeoutSeconds: 30, connectTimeoutSeconds: 4 } });
    expect(conf).toContain('limit_conn fudbuddy_session_inflight 9;');
    expect(conf).toContain('server a:1 max_fails=5 fail_timeout=30s;');
    expect(conf).toContain('proxy_connect_timeout 4s;');
  });
});

describe('edgeRouting stack config', () => {
  it('defaults to the builder’s defaults (one place for them)', () => {
    expect(routingOf(edgeRoutingSchema.parse({}))).toEqual(DEFAULT_ROUTING);
    const r = parseStackConfig(privateValues());
    expect(r.ok && r.settings.edgeRouting).toEqual({ ...DEFAULT_ROUTING, drain: [] });
  });

  it('names the key and the fix for a bad value', () => {
    const r = parseStackConfig({ ...privateValues(), edgeRouting: { policy: 'random', sessionConcurrency: '0', drain: ['gpu9'] } });
    expect(r.ok).toBe(false);
    const text = r.ok ? '' : formatIssues(r.issues);
    expect(text).toContain('fudbuddy:edgeRouting.policy');
    expect(text).toContain('fudbuddy:edgeRouting.sessionConcurrency');
  });

  it('refuses a drain list naming an unknown host, or every host', () => {
    const unknown = parseStackConfig({ ...privateValues(), edgeRouting: { drain: ['gpu9'] } });
    expect(unknown.ok ? '' : formatIssues(unknown.issues)).toMatch(/fudbuddy:edgeRouting\.drain\[0\].*"gpu9" is not a gpuHosts name \(gpu1, gpu2\)/);
    const all = parseStackConfig({ ...privateValues(), edgeRouting: { drain: ['gpu1', 'gpu2'] } });
    expect(all.ok ? '' : formatIssues(all.issues)).toContain('drains every GPU host');
    expect(parseStackConfig({ ...privateValues(), edgeRouting: { drain: ['gpu2'], policy: 'roundRobin' } }).ok).toBe(true);
  });
});
