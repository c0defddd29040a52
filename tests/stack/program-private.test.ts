// The whole program under Pulumi mocks (stand-in engine/providers), private exposure: two GPU hosts, no edge box
// (the first GPU host plays the edge with `tailscale serve`), no Cloudflare at all.
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_MARKERS, MARK, privateValues } from './fixtures.js';
import { checkPolicy, isAllowed } from '../../components/lib/policyCheck.js';
import { aclOf, byType, isSecretOutput, one, payloadFiles, plainText, runProgram, unwrap, type ProgramRun } from './harness.js';

let run: ProgramRun;
beforeAll(async () => {
  // Serve clients and edge routing from config (not the defaults, to show the values flow through), monitoring logs on.
  const values = {
    ...privateValues(),
    edgeRouting: { sessionConcurrency: 6, drain: ['gpu2'] },
    tailnetClients: ['carol@example.com', 'group:fudbuddy-admins'],
    monitoring: { logs: true, credentialExpiries: [{ credential: 'tailscale-api-key', expiresAt: '2036-02-25T00:00:00Z' }] },
  };
  run = await runProgram(values, { stack: 'private', extraConfig: { 'tailscale:apiKey': MARK.tailscaleApiKey } });
}, 60_000);

describe('private stack (mock engine)', () => {
  it('creates tailnet, two GPU hosts and the edge role, and nothing on Cloudflare', () => {
    expect(byType(run, 'fudbuddy:host:GpuHost').map((r) => r.name)).toEqual(['gpu1', 'gpu2']);
    expect(byType(run, 'fudbuddy:edge:EdgeNode')).toHaveLength(1);
    expect(run.resources.filter((r) => r.type.startsWith('cloudflare:'))).toEqual([]);
    expect(byType(run, 'fudbuddy:edge:EdgeWorker')).toEqual([]);
    expect(byType(run, 'fudbuddy:web:WebClient')).toEqual([]);
    // No separate edge box: nothing installs or joins Tailscale for the edge (the GPU host already did).
    expect(run.resources.filter((r) => r.name.startsWith('edge-tailscale'))).toEqual([]);
  });

  it('runs the edge on the first GPU host with tailscale serve (no Funnel)', () => {
    const proxy = one(run, 'command:remote:Command', 'edge-proxy');
    const conn = unwrap(proxy.inputs.connection) as Record<string, unknown>;
    expect(conn.host).toBe('203.0.113.10');
    // Destroy resets serve/funnel through a constant-input step: the proxy step itself deletes nothing, so a
    // replacement (new nginx config) never resets the door it just opened.
    expect(proxy.inputs.delete).toBeUndefined();
    const teardown = one(run, 'command:remote:Command', 'edge-teardown');
    expect(String(teardown.inputs.delete)).toContain('tailscale serve reset');
    expect(teardown.inputs.create).toBe('true');
    expect(teardown.inputs.triggers ?? []).toEqual([]);
    // nginx in front of both hosts' APIs on their tailnet addresses, session-affine, gpu2 draining (from config).
    const conf = String(unwrap(proxy.inputs.stdin));
    const home = /upstream fudbuddy_home \{([^}]*)\}/.exec(conf)?.[1] ?? '';
    expect(home).toContain('hash $fudbuddy_session consistent;');
    expect(home.match(/server 100\.64\.0\.\d+:8001 [^;]*;/g)?.map((l) => l.endsWith(' down;'))).toEqual([false, true]);
    expect(conf).toContain('limit_conn fudbuddy_session_inflight 6;');
    const acl = JSON.parse(String(one(run, 'tailscale:index/acl:Acl').inputs.acl)) as { nodeAttrs: unknown[] };
    expect(acl.nodeAttrs).toEqual([]);
  });

  it('gives the first GPU host a key with tag:gpu and tag:edge, the second one tag:gpu only', () => {
    const keys = byType(run, 'tailscale:index/tailnetKey:TailnetKey').map((k) => (k.inputs.tags as string[]).slice().sort());
    expect(keys).toContainEqual(['tag:edge', 'tag:gpu', 'tag:monitoring']);
    expect(keys).toContainEqual(['tag:gpu']);
  });

  it('grants the configured tailnet clients the edge serve port (tag:edge:443) and nothing on the GPU hosts', () => {
    const acl = aclOf(run);
    expect(checkPolicy(acl)).toEqual([]);
    expect(acl.grants).toContainEqual({ src: ['carol@example.com', 'group:fudbuddy-admins'], dst: ['tag:edge'], ip: ['tcp:443'] });
    expect(acl.tests).toContainEqual({ src: 'carol@example.com', accept: ['tag:edge:443'], deny: ['tag:gpu:8001', 'tag:gpu:8000'] });
    for (const user of ['carol@example.com', 'ops@example.com']) {
      expect(isAllowed(acl, user, 'tag:edge:443')).toBe(true);
      expect(isAllowed(acl, user, 'tag:gpu:8001')).toBe(false);
      expect(isAllowed(acl, user, 'tag:gpu:8000')).toBe(false);
    }
    expect(isAllowed(acl, 'mallory@example.com', 'tag:edge:443')).toBe(false);
  });

  it('with monitoring logs on, GPU hosts may push to Loki on the monitoring node, at the address they are given', () => {
    const acl = aclOf(run);
    expect(acl.grants).toContainEqual({ src: ['tag:gpu'], dst: ['tag:monitoring'], ip: ['tcp:3100'] });
    expect(isAllowed(acl, 'tag:gpu', 'tag:monitoring:3100')).toBe(true);
    // gpu2 (tag:gpu) ships to gpu1, the node carrying tag:monitoring, on the port the grant opens.
    const monitoringKey = byType(run, 'tailscale:index/tailnetKey:TailnetKey').find((k) => (k.inputs.tags as string[]).includes('tag:monitoring'));
    expect(monitoringKey?.name).toContain('fudbuddy-gpu1');
    const gpu2 = String(unwrap(one(run, 'command:remote:Command', 'monitoring-exporters-gpu2').inputs.stdin));
    expect(gpu2).toContain("export LOGS='1'");
    expect(gpu2).toMatch(/export LOKI_PUSH_URL='http:\/\/100\.64\.0\.\d+:3100\/loki\/api\/v1\/push'/);
    const server = payloadFiles(String(unwrap(one(run, 'command:remote:Command', 'monitoring-server').inputs.stdin)));
    expect(server['credentials.prom']).toContain(`credential="tailscale-api-key"} ${Date.parse('2036-02-25T00:00:00Z') / 1000}`);
    // The edge is probed where users' requests go through it (its loopback nginx), not at its own serve URL,
    // which Prometheus on the same box cannot reach through serve.
    const prom = server['prometheus.yml']!;
    expect(prom).toContain('- http://127.0.0.1:8080/healthz');
    expect(prom).toContain('probe: edge-proxy');
    expect(prom).not.toContain('.ts.net/healthz');
  });

  it('only mints keys for tags the policy owns', () => {
    const acl = JSON.parse(String(one(run, 'tailscale:index/acl:Acl').inputs.acl)) as { tagOwners: Record<string, string[]> };
    for (const k of byType(run, 'tailscale:index/tailnetKey:TailnetKey')) {
      for (const t of k.inputs.tags as string[]) expect(Object.keys(acl.tagOwners), `${k.name}: ${t}`).toContain(t);
    }
  });

  it('exports the tailnet-only serve URL as the API URL, no web URL', () => {
    expect(run.exports).toMatchObject({
      exposure: 'private',
      apiUrl: 'https://fudbuddy-gpu1.tail1234.ts.net',
      healthUrl: 'https://fudbuddy-gpu1.tail1234.ts.net/healthz',
      edgeUrl: 'https://fudbuddy-gpu1.tail1234.ts.net',
      modelServed: 'fudbuddy-chat',
    });
    expect(run.exports.webUrl).toBeNull();
    // Grafana is on by default (tests/stack/program-no-grafana.test.ts: off).
    expect(run.exports.grafana).toBe('ssh -L 3000:127.0.0.1:3000 <monitoring host> then http://127.0.0.1:3000');
    expect(one(run, 'command:remote:Command', 'monitoring-secret-grafana-admin-password').inputs.create).toContain('--grafana-admin');
    expect((run.exports.tailnetNames as { gpuHosts: string[] }).gpuHosts).toHaveLength(2);
  });

  it('keeps every marker secret', async () => {
    for (const r of run.resources) {
      const text = plainText(r.inputs);
      for (const m of ALL_MARKERS) expect(text, `${r.type} ${r.name}`).not.toContain(m);
    }
    const exported = JSON.stringify(run.exports);
    for (const m of ALL_MARKERS) expect(exported).not.toContain(m);
    for (const v of Object.values(run.module)) expect(await isSecretOutput(v)).toBe(false);
  });
});
