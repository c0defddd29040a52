// The tailnet policy builder and the local checker that runs the policy's own `tests` against its grants.
import { describe, expect, it } from 'vitest';
import { ADMIN_GROUP, buildTailnetPolicy, renderTailnetPolicy, SERVE_CLIENT_RE, type TailnetPolicy } from '../../components/lib/aclPolicy.js';
import { monitoringTailnetAccess } from '../../components/lib/monitoringConfig.js';
import { testsForDevices } from '../../components/lib/headscale.js';
import { checkPolicy, isAllowed } from '../../components/lib/policyCheck.js';

const base = buildTailnetPolicy({ admins: ['alice@example.com', 'bob@example.com'] });
const withMonitoring = buildTailnetPolicy({
  admins: ['alice@example.com'],
  monitoring: { gpuPorts: [9100, 9400], edgePorts: [9100] },
});
const clone = (p: TailnetPolicy): TailnetPolicy => JSON.parse(JSON.stringify(p)) as TailnetPolicy;
/** Private exposure: every tailnet user may use the edge's `tailscale serve` URL. */
const privateServe = buildTailnetPolicy({ admins: ['alice@example.com'], funnel: false, serveClients: ['autogroup:member'] });
/** Monitoring with logs: GPU nodes push journald to Loki on the monitoring node. */
const withLogs = buildTailnetPolicy({ admins: ['alice@example.com'], monitoring: { gpuPorts: [9100, 9402], logsFromGpuPorts: [3100] } });

describe('tailnet policy', () => {
  it('has tag owners, the edge→gpu:8001 grant, admin OpenSSH (tcp:22), Funnel for the edge, and tests', () => {
    expect(base.tagOwners).toEqual({ 'tag:gpu': [ADMIN_GROUP], 'tag:edge': [ADMIN_GROUP] });
    expect(base.groups[ADMIN_GROUP]).toEqual(['alice@example.com', 'bob@example.com']);
    expect(base.grants).toContainEqual({ src: ['tag:edge'], dst: ['tag:gpu'], ip: ['tcp:8001'] });
    expect(base.grants).toContainEqual({ src: [ADMIN_GROUP], dst: ['tag:gpu', 'tag:edge'], ip: ['tcp:22'] });
    // Hosts never run `tailscale up --ssh`: no Tailscale SSH rules that would promise access that is not there.
    expect(base).not.toHaveProperty('ssh');
    expect(base.nodeAttrs).toEqual([{ target: ['tag:edge'], attr: ['funnel'] }]);
    expect(base.tests.length).toBeGreaterThanOrEqual(3);
    expect(base.tests.some((t) => t.accept?.length) && base.tests.some((t) => t.deny?.length)).toBe(true);
  });

  it('only the edge reaches 8001; nobody reaches 8000', () => {
    const identities = ['tag:edge', 'tag:gpu', 'tag:monitoring', 'alice@example.com', 'mallory@example.com'];
    for (const id of identities) {
      expect(isAllowed(withMonitoring, id, 'tag:gpu:8001')).toBe(id === 'tag:edge');
      expect(isAllowed(withMonitoring, id, 'tag:gpu:8000')).toBe(false);
    }
    expect(isAllowed(withMonitoring, 'tag:monitoring', 'tag:gpu:9400')).toBe(true);
    expect(isAllowed(withMonitoring, 'tag:monitoring', 'tag:edge:9100')).toBe(true);
    expect(isAllowed(withMonitoring, 'alice@example.com', 'tag:gpu:22')).toBe(true);
    expect(isAllowed(withMonitoring, 'mallory@example.com', 'tag:gpu:22')).toBe(false);
  });

  it("the generated policies pass their own tests in the local checker", () => {
    expect(checkPolicy(base)).toEqual([]);
    expect(checkPolicy(withMonitoring)).toEqual([]);
    expect(checkPolicy(buildTailnetPolicy({ admins: ['a@b.c'], funnel: false, apiPort: 9001 }))).toEqual([]);
  });

  it('NEGATIVE: the checker catches a grant that opens the API to everyone', () => {
    const bad = clone(base);
    bad.grants.push({ src: ['*'], dst: ['tag:gpu'], ip: ['tcp:8001'] });
    const failures = checkPolicy(bad);
    expect(failures).toContain('expected alice@example.com -> tag:gpu:8001 to be denied, it is accepted');
    expect(failures).toContain('expected tag:gpu -> tag:gpu:8001 to be denied, it is accepted');
  });

  it('NEGATIVE: the checker catches a port range that exposes vLLM, and a missing edge grant', () => {
    const range = clone(base);
    range.grants[0] = { src: ['tag:edge'], dst: ['tag:gpu'], ip: ['tcp:8000-8001'] };
    expect(checkPolicy(range)).toContain('expected tag:edge -> tag:gpu:8000 to be denied, it is accepted');
    const missing = clone(base);
    missing.grants = missing.grants.filter((g) => !g.src.includes('tag:edge'));
    expect(checkPolicy(missing)).toContain('expected tag:edge -> tag:gpu:8001 to be accepted, it is denied');
    const wildcard = clone(base);
    wildcard.grants.push({ src: [ADMIN_GROUP], dst: ['*'], ip: ['*'] });
    expect(checkPolicy(wildcard)).toContain('expected alice@example.com -> tag:gpu:8000 to be denied, it is accepted');
    const owner = clone(base);
    delete owner.tagOwners['tag:edge'];
    expect(checkPolicy(owner)).toContain('tag:edge is used in a grant but has no tagOwners entry');
  });

  it('the checker refuses syntax it does not understand instead of guessing', () => {
    const odd = clone(base);
    odd.grants.push({ src: ['tag:edge'], dst: ['tag:gpu'], ip: ['icmp-ish'] });
    expect(() => checkPolicy(odd)).toThrow(/unsupported ip entry 'icmp-ish'/);
  });

  it('bad topology gets an error naming the key', () => {
    expect(() => buildTailnetPolicy({ admins: [] })).toThrow(/tailnet.admins/);
    expect(() => buildTailnetPolicy({ admins: ['not-an-email'] })).toThrow(/tailnet.admins/);
    expect(() => buildTailnetPolicy({ admins: ['a@b.c'], gpuTag: 'gpu' })).toThrow(/tailnet.gpuTag/);
    expect(() => buildTailnetPolicy({ admins: ['a@b.c'], edgeTag: 'tag:gpu' })).toThrow(/tailnet.edgeTag/);
    expect(() => buildTailnetPolicy({ admins: ['a@b.c'], apiPort: 8000 })).toThrow(/tailnet.apiPort/);
    expect(() => buildTailnetPolicy({ admins: ['a@b.c'], monitoring: { gpuPorts: [8001] } })).toThrow(/tailnet.monitoring.gpuPorts: 8001 is reserved/);
    expect(() => buildTailnetPolicy({ admins: ['a@b.c'], monitoring: { gpuPorts: [8000] } })).toThrow(/reserved/);
  });

  it('renders deterministic JSON (no diff for an unchanged topology)', () => {
    const a = renderTailnetPolicy(buildTailnetPolicy({ admins: ['alice@example.com', 'bob@example.com'] }));
    expect(a).toBe(renderTailnetPolicy(base));
    expect(JSON.parse(a)).toEqual(base);
  });
});

describe('tailnet policy: private exposure (tailscale serve clients)', () => {
  it('grants the serve clients tag:edge:443 and nothing else, and tests it', () => {
    expect(privateServe.grants).toContainEqual({ src: ['autogroup:member'], dst: ['tag:edge'], ip: ['tcp:443'] });
    // The policy's own test: a serve client (the first admin stands in for autogroup:member) is accepted on the
    // edge's HTTPS port and denied the API and vLLM ports of the GPU nodes.
    expect(privateServe.tests).toContainEqual({ src: 'alice@example.com', accept: ['tag:edge:443'], deny: ['tag:gpu:8001', 'tag:gpu:8000'] });
    expect(checkPolicy(privateServe)).toEqual([]);
  });

  it('a serve client reaches tag:edge:443, never tag:gpu:8001 or tag:gpu:8000', () => {
    for (const member of ['alice@example.com', 'mallory@example.com']) {
      expect(isAllowed(privateServe, member, 'tag:edge:443')).toBe(true);
      expect(isAllowed(privateServe, member, 'tag:gpu:8001')).toBe(false);
      expect(isAllowed(privateServe, member, 'tag:gpu:8000')).toBe(false);
      expect(isAllowed(privateServe, member, 'tag:edge:8443')).toBe(false);
    }
    // Tagged nodes are not members: the GPU hosts and the monitoring node get nothing from this grant.
    expect(isAllowed(privateServe, 'tag:gpu', 'tag:edge:443')).toBe(false);
  });

  it('user logins as serve clients: only they get in, and the policy tests use one of them', () => {
    const p = buildTailnetPolicy({ admins: ['alice@example.com'], serveClients: ['carol@example.com', ADMIN_GROUP] });
    expect(checkPolicy(p)).toEqual([]);
    expect(p.tests).toContainEqual(expect.objectContaining({ src: 'carol@example.com', accept: ['tag:edge:443'] }));
    expect(isAllowed(p, 'carol@example.com', 'tag:edge:443')).toBe(true);
    expect(isAllowed(p, 'alice@example.com', 'tag:edge:443')).toBe(true);
    expect(isAllowed(p, 'mallory@example.com', 'tag:edge:443')).toBe(false);
    expect(SERVE_CLIENT_RE.test(ADMIN_GROUP)).toBe(true);
  });

  it('without serve clients (public exposure) no tailnet user reaches tag:edge:443, and the policy tests say so', () => {
    for (const p of [base, withMonitoring]) {
      expect(isAllowed(p, 'alice@example.com', 'tag:edge:443')).toBe(false);
      expect(p.tests.find((t) => t.src === 'alice@example.com')?.deny).toContain('tag:edge:443');
    }
  });

  it('NEGATIVE: the checker catches a missing serve grant and a serve grant that opens the API port', () => {
    const missing = clone(privateServe);
    missing.grants = missing.grants.filter((g) => !g.ip.includes('tcp:443'));
    expect(checkPolicy(missing)).toContain('expected alice@example.com -> tag:edge:443 to be accepted, it is denied');
    const wide = clone(privateServe);
    wide.grants.push({ src: ['autogroup:member'], dst: ['tag:gpu'], ip: ['tcp:8001'] });
    expect(checkPolicy(wide)).toContain('expected alice@example.com -> tag:gpu:8001 to be denied, it is accepted');
  });

  it('bad serve clients get an error naming the key', () => {
    expect(() => buildTailnetPolicy({ admins: ['a@b.c'], serveClients: [] })).toThrow(/tailnet.serveClients: at least one/);
    for (const bad of ['*', 'tag:ci', 'group:others', 'autogroup:tagged', 'not a login']) {
      expect(() => buildTailnetPolicy({ admins: ['a@b.c'], serveClients: [bad] }), bad).toThrow(/tailnet.serveClients/);
    }
  });
});

describe('tailnet policy: log shipping (GPU nodes → Loki on the monitoring node)', () => {
  it('grants tag:gpu → tag:monitoring:3100 and tests it', () => {
    expect(withLogs.grants).toContainEqual({ src: ['tag:gpu'], dst: ['tag:monitoring'], ip: ['tcp:3100'] });
    expect(withLogs.tests).toContainEqual({ src: 'tag:gpu', accept: ['tag:monitoring:3100'], deny: ['tag:monitoring:22', 'tag:monitoring:8001', 'tag:monitoring:8000'] });
    expect(checkPolicy(withLogs)).toEqual([]);
  });

  it('only GPU nodes reach Loki, only on its port; the API stays edge-only', () => {
    expect(isAllowed(withLogs, 'tag:gpu', 'tag:monitoring:3100')).toBe(true);
    expect(isAllowed(withLogs, 'tag:gpu', 'tag:monitoring:9090')).toBe(false);
    expect(isAllowed(withLogs, 'tag:edge', 'tag:monitoring:3100')).toBe(false);
    expect(isAllowed(withLogs, 'alice@example.com', 'tag:monitoring:3100')).toBe(false);
    for (const id of ['tag:gpu', 'tag:monitoring', 'alice@example.com']) expect(isAllowed(withLogs, id, 'tag:gpu:8001')).toBe(false);
  });

  it("the monitoring component's access request feeds the policy: Loki only when logs are on", () => {
    const on = buildTailnetPolicy({ admins: ['a@b.c'], monitoring: monitoringTailnetAccess({ logs: true }) });
    const off = buildTailnetPolicy({ admins: ['a@b.c'], monitoring: monitoringTailnetAccess({ logs: false }) });
    expect(checkPolicy(on)).toEqual([]);
    expect(checkPolicy(off)).toEqual([]);
    expect(isAllowed(on, 'tag:gpu', 'tag:monitoring:3100')).toBe(true);
    expect(isAllowed(off, 'tag:gpu', 'tag:monitoring:3100')).toBe(false);
    expect(off.grants.some((g) => g.dst.includes('tag:monitoring'))).toBe(false);
  });

  it('NEGATIVE: the checker catches a missing Loki grant; reserved ports are refused by name', () => {
    const missing = clone(withLogs);
    missing.grants = missing.grants.filter((g) => !g.ip.includes('tcp:3100'));
    expect(checkPolicy(missing)).toContain('expected tag:gpu -> tag:monitoring:3100 to be accepted, it is denied');
    for (const p of [8001, 8000, 22]) {
      expect(() => buildTailnetPolicy({ admins: ['a@b.c'], monitoring: { gpuPorts: [9100], logsFromGpuPorts: [p] } }), String(p)).toThrow(
        /tailnet.monitoring.logsFromGpuPorts: \d+ is reserved/,
      );
    }
  });
});

describe('Headscale: tests as a per-device evaluator holds them (testsForDevices)', () => {
  const monitoring = buildTailnetPolicy({ admins: ['alice@example.com'], monitoring: monitoringTailnetAccess({ logs: false }) });
  const denies = (tests: TailnetPolicy['tests'], src: string): string[] | undefined => tests.find((t) => t.src === src)?.deny;

  it('monitoring on the edge box: only the API deny the edge tag breaks is left out, every accept stays', () => {
    const tests = testsForDevices(monitoring, [['tag:gpu'], ['tag:edge', 'tag:monitoring']]);
    expect(denies(monitoring.tests, 'tag:monitoring')).toContain('tag:gpu:8001');
    expect(denies(tests, 'tag:monitoring')).toEqual(['tag:gpu:8000', 'tag:gpu:22']);
    expect(tests.flatMap((t) => t.accept ?? [])).toEqual(monitoring.tests.flatMap((t) => t.accept ?? []));
    // The GPU tag's denies are untouched: no device carries tag:gpu with another tag.
    expect(denies(tests, 'tag:gpu')).toEqual(denies(monitoring.tests, 'tag:gpu'));
    // What is left still holds per tag (our checker), as Headscale will check it per device.
    expect(checkPolicy({ ...monitoring, tests })).toEqual([]);
  });

  it('the edge on the first GPU host: tag:gpu cannot be asserted away from the API it serves as tag:edge', () => {
    const tests = testsForDevices(base, [['tag:gpu', 'tag:edge'], ['tag:gpu']]);
    expect(denies(base.tests, 'tag:gpu')).toContain('tag:gpu:8001');
    expect(denies(tests, 'tag:gpu')).not.toContain('tag:gpu:8001');
    expect(denies(tests, 'tag:gpu')).toContain('tag:gpu:8000');
  });

  it('one tag per device: the tests are unchanged', () => {
    expect(testsForDevices(monitoring, [['tag:gpu'], ['tag:edge'], ['tag:monitoring']])).toEqual(monitoring.tests);
  });
});
