// Headscale as the tailnet's control server: what differs from Tailscale's hosted control plane, as pure builders.
// Read in Headscale v0.29.3's source (hscontrol/policy/v2, hscontrol/state, cmd/headscale/cli) and checked against
// the real server in tests/tailnet:
// - the `funnel` node attribute is rejected (Headscale has no Funnel), so the policy carries none;
// - a policy's `tests` are evaluated against the nodes that exist ("destination resolved to no IP addresses"
//   otherwise), and `policy set` runs them too: the policy is applied once without tests before the keys are minted
//   and the hosts join, and in full (tests included) once they joined;
// - a pre-auth key is refused together with `--advertise-tags` (the key's own tags apply), so hosts join with a
//   tagged key and no --advertise-tags;
// - tests are evaluated per device, with all of its tags: a deny for one tag fails when another tag on the same
//   device is granted that destination (tag:monitoring on the edge node reaches tag:gpu:8001 as tag:edge), so
//   such denies are left out for the devices the stack joins (`nodeTags`);
// - there are no HTTPS certificates (`tailscale serve --https` fails), so the edge serves plain HTTP on the
//   tailnet (WireGuard encrypts it end to end): EDGE_HTTP_PORT.
import { BlockList, isIPv4 } from 'node:net';
import { buildTailnetPolicy, renderTailnetPolicy, type PolicyTest, type TailnetPolicy, type TailnetPolicyArgs } from './aclPolicy.js';
import { isAllowed } from './policyCheck.js';

/** The port the edge node serves the API on over a Headscale tailnet (`tailscale serve --http`). */
export const HEADSCALE_EDGE_HTTP_PORT = 80;

/** Headscale's CLI on the control server's host, as its packages install it. */
export const HEADSCALE_CLI_DEFAULT = 'headscale';

export interface HeadscalePolicyOptions {
  /** Include the policy's `tests` (default true). False for the bootstrap before any host joined. */
  withTests?: boolean;
  /** The tags of each device the stack joins: denies a device cannot hold (another of its tags is granted) are left out. */
  nodeTags?: string[][];
}

/**
 * The tests as a per-device evaluator can hold them: for a tag source, a deny that another tag of a device carrying
 * that tag is granted is dropped (accepts all stay); a test left with nothing to check is dropped.
 */
export function testsForDevices(policy: TailnetPolicy, nodeTags: string[][]): PolicyTest[] {
  return policy.tests
    .map((t) => {
      if (!t.src.startsWith('tag:') || !t.deny) return t;
      const coTags = [...new Set(nodeTags.filter((tags) => tags.includes(t.src)).flat())].filter((tag) => tag !== t.src);
      return { ...t, deny: t.deny.filter((dst) => !coTags.some((tag) => isAllowed(policy, tag, dst, t.proto ?? 'tcp'))) };
    })
    .filter((t) => (t.accept?.length ?? 0) + (t.deny?.length ?? 0) > 0);
}

/** The policy document Headscale gets: ours without Funnel (and, for the bootstrap, without tests). */
export function buildHeadscalePolicy(args: Omit<TailnetPolicyArgs, 'funnel'>, opts: HeadscalePolicyOptions = {}): TailnetPolicy {
  const policy = buildTailnetPolicy({ ...args, funnel: false });
  if (opts.withTests === false) return { ...policy, tests: [] };
  return opts.nodeTags ? { ...policy, tests: testsForDevices(policy, opts.nodeTags) } : policy;
}

/** The rendered policy text for `headscale policy set` / `policy check`. */
export function headscalePolicy(args: Omit<TailnetPolicyArgs, 'funnel'>, opts: HeadscalePolicyOptions = {}): string {
  return renderTailnetPolicy(buildHeadscalePolicy(args, opts));
}

/** Headscale's duration format for --expiration (Prometheus style): whole seconds. */
export function headscaleExpiry(seconds: number): string {
  if (!Number.isInteger(seconds) || seconds <= 0) throw new Error(`headscale key expiry: ${seconds} is not a positive number of seconds`);
  return `${seconds}s`;
}

/** Arguments of components/scripts/headscale-key.sh: a single-use, pre-authorised, tags-only key. */
export function headscaleKeyScriptArgs(tags: string[], expirySeconds: number, cli = HEADSCALE_CLI_DEFAULT): string[] {
  if (tags.length === 0) throw new Error('headscale key: a node key needs at least one tag');
  for (const t of tags) if (!/^tag:[a-z0-9][a-z0-9-]*$/.test(t)) throw new Error(`headscale key: '${t}' is not a tag`);
  if (!/^[A-Za-z0-9_./-]+$/.test(cli)) throw new Error(`tailnet.headscale.cli: '${cli}' is not a plain command path`);
  return ['--tags', [...new Set(tags)].sort().join(','), '--expiration', headscaleExpiry(expirySeconds), '--cli', cli];
}

/** Go's netip IsPrivate + IsLoopback for IPv4 (the login server's charset rule, stacks/config.ts, admits no IPv6 literal). */
const PRIVATE_OR_LOOPBACK = new BlockList();
for (const [net, bits] of [['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['127.0.0.0', 8]] as const) PRIVATE_OR_LOOPBACK.addSubnet(net, bits, 'ipv4');

/**
 * Why an http:// login server cannot work, or undefined. Tailscale's client (control/ts2021 NewClient, v1.102.5)
 * skips HTTPS for an http:// URL only when its host is a private or loopback IP or `localhost`; for any other host
 * it still dials HTTPS on 443 when it re-authenticates, which plain-HTTP Headscale does not answer.
 */
export function httpLoginServerProblem(loginServer: string): string | undefined {
  let u: URL;
  try {
    u = new URL(loginServer);
  } catch {
    return undefined; // not a URL: the schema's own URL check says so
  }
  if (u.protocol !== 'http:') return undefined;
  const host = u.hostname;
  if (host === 'localhost' || (isIPv4(host) && PRIVATE_OR_LOOPBACK.check(host, 'ipv4'))) return undefined;
  return `http:// works only with a private or loopback IP (Tailscale's client re-authenticates to ${host} over HTTPS on 443 anyway): use https:// with a certificate, or the server's private address`;
}
