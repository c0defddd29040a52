// A small local evaluator of a Tailscale policy's `tests` against its `grants`, so a wrong grant fails in our
// test suite (and at preview) instead of at Tailscale's API during `pulumi up`. It understands the subset of
// the policy language aclPolicy.ts emits: sources that are tags, groups, user logins or `*`; destinations that
// are tags or `*`; `ip` entries `*`, `PORT`, `tcp:PORT`, `tcp:LOW-HIGH`, `tcp:*`. Anything else is reported as
// unsupported rather than guessed.
import type { PolicyTest, TailnetPolicy } from './aclPolicy.js';

function srcMatches(policy: TailnetPolicy, src: string, identity: string): boolean {
  if (src === '*' || src === identity) return true;
  if (src.startsWith('group:')) return (policy.groups[src] ?? []).includes(identity);
  if (src === 'autogroup:member') return identity.includes('@');
  return false;
}

function portMatches(spec: string, port: number, proto: string): boolean {
  if (spec === '*') return true;
  const m = /^(?:([a-z]+):)?(\*|\d+(?:-\d+)?)$/.exec(spec);
  if (!m) throw new Error(`policyCheck: unsupported ip entry '${spec}'`);
  const p = m[1] ?? 'tcp';
  if (p !== proto) return false;
  if (m[2] === '*') return true;
  const [lo, hi] = m[2]!.split('-').map(Number);
  return port >= lo! && port <= (hi ?? lo!);
}

/** Is `identity` allowed to reach `dst` ("tag:x:PORT") by some grant? */
export function isAllowed(policy: TailnetPolicy, identity: string, dst: string, proto = 'tcp'): boolean {
  const m = /^(.+):(\d+)$/.exec(dst);
  if (!m) throw new Error(`policyCheck: test destination '${dst}' is not host:port`);
  const [host, port] = [m[1]!, Number(m[2])];
  return policy.grants.some(
    (g) =>
      g.src.some((s) => srcMatches(policy, s, identity)) &&
      g.dst.some((d) => d === '*' || d === host) &&
      g.ip.some((spec) => portMatches(spec, port, proto)),
  );
}

/** Runs every test of the policy; returns human-readable failures (empty = all pass). */
export function checkPolicy(policy: TailnetPolicy, tests: PolicyTest[] = policy.tests): string[] {
  const failures: string[] = [];
  for (const t of tests) {
    const proto = t.proto ?? 'tcp';
    for (const dst of t.accept ?? []) {
      if (!isAllowed(policy, t.src, dst, proto)) failures.push(`expected ${t.src} -> ${dst} to be accepted, it is denied`);
    }
    for (const dst of t.deny ?? []) {
      if (isAllowed(policy, t.src, dst, proto)) failures.push(`expected ${t.src} -> ${dst} to be denied, it is accepted`);
    }
  }
  for (const tag of policy.grants.flatMap((g) => [...g.src, ...g.dst]).filter((x) => x.startsWith('tag:'))) {
    if (!(tag in policy.tagOwners)) failures.push(`${tag} is used in a grant but has no tagOwners entry`);
  }
  return failures;
}
