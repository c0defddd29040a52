// The tailnet: its policy (tailscale.Acl, with policy tests so Tailscale itself rejects a policy that would
// open the API to anyone but the edge) and one single-use auth key per node, created after the policy so the
// key's tags exist when it is minted.
import * as pulumi from '@pulumi/pulumi';
import * as tailscale from '@pulumi/tailscale';
import {
  buildTailnetPolicy,
  DEFAULT_TAGS,
  renderTailnetPolicy,
  type MonitoringAccessArgs,
  type TailnetPolicy,
} from './lib/aclPolicy.js';
import { checkPolicy } from './lib/policyCheck.js';

export type { MonitoringAccessArgs } from './lib/aclPolicy.js';

/** One machine that joins the tailnet with a key minted here. */
export interface TailnetNodeArgs {
  /** Unique node name (used in resource names and `authKeyFor(name)`), e.g. the host's Tailscale hostname. */
  name: string;
  /** Its role; decides the tag (`tag:gpu` / `tag:edge` / `tag:monitoring`, or the overrides below). */
  role: 'gpu' | 'edge' | 'monitoring';
  /**
   * Several tags for a node with several roles (a GPU host that is also the edge, an edge box that also runs
   * monitoring). Replaces the role's tag; each must be a tag of this policy.
   */
  tags?: string[];
}

export interface TailnetArgs {
  /** Admin logins (emails): own the tags, SSH to every node, nothing else. The first one is the policy tests' admin. */
  admins: string[];
  /** The nodes that get an auth key. */
  nodes: TailnetNodeArgs[];
  /** Tag overrides; defaults tag:gpu, tag:edge. */
  gpuTag?: string;
  edgeTag?: string;
  /** API port on GPU nodes; default 8001. */
  apiPort?: number;
  /** Funnel node attribute for the edge tag. Default true. */
  funnel?: boolean;
  /** Monitoring access (set by the monitoring component/composition): scrape ports on gpu/edge nodes, Loki from gpu. */
  monitoring?: MonitoringAccessArgs;
  /**
   * Private exposure: tailnet sources (`autogroup:member`, the admin group, user logins) allowed to the edge node's
   * `tailscale serve` HTTPS port (tag:edge:443). Leave unset for public exposure: Funnel needs no grant.
   */
  serveClients?: string[];
  /** Auth key lifetime in seconds. Default 3600: the key is single-use and only needed during `pulumi up`. */
  keyExpirySeconds?: number;
  /**
   * Let Pulumi replace a policy it has not imported (first adoption of an existing tailnet). Default false: import
   * the policy first (`pulumi import tailscale:index/acl:Acl ...`), or set true knowingly.
   */
  overwriteExistingPolicy?: boolean;
}

export class Tailnet extends pulumi.ComponentResource {
  /** The generated policy document (non-secret). */
  public readonly policy: TailnetPolicy;
  public readonly acl: tailscale.Acl;
  /** Auth keys by node name (secret Outputs). */
  public readonly authKeys: Readonly<Record<string, pulumi.Output<string>>>;
  /** Tags by node name. */
  public readonly nodeTags: Readonly<Record<string, string[]>>;

  constructor(name: string, args: TailnetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fudbuddy:tailnet:Tailnet', name, {}, opts);
    const names = new Set<string>();
    for (const n of args.nodes) {
      if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(n.name)) {
        throw new Error(`tailnet.nodes: '${n.name}' is not a valid node name (lowercase letters, digits, dashes)`);
      }
      if (names.has(n.name)) throw new Error(`tailnet.nodes: '${n.name}' appears twice`);
      names.add(n.name);
    }
    const expiry = args.keyExpirySeconds ?? 3600;
    if (!Number.isInteger(expiry) || expiry < 300 || expiry > 7 * 86400) {
      throw new Error('tailnet.keyExpirySeconds must be an integer between 300 and 604800');
    }
    if (args.nodes.some((n) => n.role === 'monitoring') && !args.monitoring) {
      throw new Error('tailnet.monitoring must be set when a node has role monitoring (which ports may it scrape?)');
    }

    this.policy = buildTailnetPolicy({
      admins: args.admins,
      gpuTag: args.gpuTag,
      edgeTag: args.edgeTag,
      apiPort: args.apiPort,
      funnel: args.funnel,
      monitoring: args.monitoring,
      serveClients: args.serveClients,
    });
    // Fail at preview, with the failing case named, instead of at Tailscale's API during `up`.
    const failures = checkPolicy(this.policy);
    if (failures.length > 0) throw new Error(`tailnet policy fails its own tests:\n${failures.join('\n')}`);

    this.acl = new tailscale.Acl(
      `${name}-acl`,
      { acl: renderTailnetPolicy(this.policy), overwriteExistingContent: args.overwriteExistingPolicy ?? false },
      { parent: this },
    );

    const tagFor = (role: TailnetNodeArgs['role']): string =>
      role === 'gpu'
        ? (args.gpuTag ?? DEFAULT_TAGS.gpu)
        : role === 'edge'
          ? (args.edgeTag ?? DEFAULT_TAGS.edge)
          : (args.monitoring?.tag ?? DEFAULT_TAGS.monitoring);

    const keys: Record<string, pulumi.Output<string>> = {};
    const tags: Record<string, string[]> = {};
    const known = Object.keys(this.policy.tagOwners);
    for (const node of args.nodes) {
      const nodeTags = node.tags ?? [tagFor(node.role)];
      if (nodeTags.length === 0) throw new Error(`tailnet.nodes: '${node.name}' has an empty tags list`);
      for (const t of nodeTags) {
        if (!known.includes(t)) throw new Error(`tailnet.nodes: '${node.name}' tag ${t} is not owned in the policy (${known.join(', ')})`);
      }
      tags[node.name] = [...new Set(nodeTags)];
      const key = new tailscale.TailnetKey(
        `${name}-key-${node.name}`,
        {
          description: `fudbuddy ${node.name}`.replace(/[^A-Za-z0-9 ]/g, ' ').slice(0, 50),
          preauthorized: true,
          reusable: false,
          ephemeral: false,
          expiry,
          tags: tags[node.name],
          // A used single-use key is "invalid" by design; recreating it would only churn the joins.
          recreateIfInvalid: 'never',
        },
        { parent: this, dependsOn: [this.acl], additionalSecretOutputs: ['key'] },
      );
      keys[node.name] = pulumi.secret(key.key);
    }
    this.authKeys = keys;
    this.nodeTags = tags;
    this.registerOutputs({ policy: renderTailnetPolicy(this.policy), nodeTags: tags });
  }

  /** The auth key (secret) for a node declared in `nodes`. */
  authKeyFor(node: string): pulumi.Output<string> {
    const k = this.authKeys[node];
    if (!k) throw new Error(`tailnet: no node '${node}' in tailnet.nodes`);
    return k;
  }

  /** Tags of a node declared in `nodes`. */
  tagsFor(node: string): string[] {
    const t = this.nodeTags[node];
    if (!t) throw new Error(`tailnet: no node '${node}' in tailnet.nodes`);
    return t;
  }

  /**
   * The node's device as Tailscale's API sees it (name and addresses), looked up after `joined` (e.g. the GpuHost)
   * exists. GpuHost also reports its own address from the host; this is the control plane's view.
   */
  device(hostname: string, joined: pulumi.Resource): pulumi.Output<{ name: string; addresses: string[] }> {
    return tailscale
      .getDeviceOutput({ hostname, waitFor: '120s' }, { parent: this, dependsOn: [joined] })
      .apply((d) => ({ name: d.name ?? hostname, addresses: d.addresses }));
  }
}
