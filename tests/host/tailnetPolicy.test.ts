// The tailnet policy builder and the local checker that runs the policy's own `tests` against its grants.
import { describe, expect, it } from 'vitest';
import { ADMIN_GROUP, buildTailnetPolicy, renderTailnetPolicy, type TailnetPolicy } from '../../components/lib/aclPolicy.js';
import { checkPolicy, isAllowed } from '../../components/lib/policyCheck.js';

const base = buildTailnetPolicy({ admins: ['alice@example.com', 'bob@example.com'] });
const withMonitoring = buildTailnetPolicy({
  admins: ['alice@example.com'],
  monitoring: { gpuPorts: [9100, 9400], edgePorts: [9100] },
});
const clone = (p: TailnetPolicy): TailnetPolicy => JSON.parse(JSON.stringify(p)) as TailnetPolicy;

describe('tailnet policy', () => {
  it('has tag owners, the edge→gpu:8001 grant, admin SSH, Funnel for the edge, and tests', () => {
    expect(base.tagOwners).toEqual({ 'tag:gpu': [ADMIN_GROUP], 'tag:edge': [ADMIN_GROUP] });
    expect(base.groups[ADMIN_GROUP]).toEqual(['alice@example.com', 'bob@example.com']);
    expect(base.grants).toContainEqual({ src: ['tag:edge'], dst: ['tag:gpu'], ip: ['tcp:8001'] });
    expect(base.ssh[0]).toMatchObject({ src: [ADMIN_GROUP], dst: ['tag:gpu', 'tag:edge'] });
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
