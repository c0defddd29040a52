// The tailnet: its policy (with policy tests so the control server itself rejects a policy that would open the
// API to anyone but the edge) and one single-use, tagged auth key per node, created after the policy so the key's
// tags exist when it is minted. Two control servers:
//   Tailscale (default)  tailscale.Acl + tailscale.TailnetKey through the Tailscale provider;
//   Headscale            its CLI over SSH on the Headscale host (headscale-policy.sh, headscale-key.sh), the way a
//                        Headscale admin runs it; see components/lib/headscale.ts for what differs.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import * as tailscale from '@pulumi/tailscale';
import { sha256 } from './lib/contentHash.js';
import { buildHeadscalePolicy, headscaleKeyScriptArgs, HEADSCALE_CLI_DEFAULT } from './lib/headscale.js';
import type { SshConnectionArgs } from './lib/hostTypes.js';
import { SCRIPTS_DIR } from './lib/scriptsDir.js';
import { HOST_PATHS } from './lib/hostPaths.js';
import { hostSteps } from './lib/hostSteps.js';
import { asRoot } from './lib/shell.js';
import { stageLocalDir } from './lib/stageDir.js';
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
  /** Funnel node attribute for the edge tag. Default true (Tailscale); Headscale has none (an error when true). */
  funnel?: boolean;
  /** The edge's serve port the serve clients are granted: 443 (HTTPS, Tailscale) or 80 (HTTP, Headscale). */
  servePort?: number;
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
   * Tailscale: let Pulumi replace a policy it has not imported (first adoption of an existing tailnet). Default
   * false: the provider then sends the `ts-default` ETag, which Tailscale refuses ("Overwrite Protected") for any
   * tailnet whose policy was ever edited. Import the policy first (`pulumi import tailscale:index/acl:Acl ...`), or
   * set true knowingly: our policy replaces the whole tailnet policy.
   */
  overwriteExistingPolicy?: boolean;
  /** Use a self-hosted Headscale instead of Tailscale's hosted control plane. */
  headscale?: HeadscaleControlArgs;
}

export interface HeadscaleControlArgs {
  /** Headscale's server_url: hosts join with `tailscale up --login-server <this>`. */
  loginServer: string;
  /** SSH to the host running Headscale (its CLI reaches the server over the local unix socket). */
  connection: SshConnectionArgs;
  /** The Headscale CLI there. Default `headscale`. */
  cli?: string;
}

/** Scripts the Headscale host runs (installed into /opt/fudbuddy/bin there). */
const HEADSCALE_SCRIPTS = ['lib.sh', 'install-scripts.sh', 'headscale-policy.sh', 'headscale-key.sh'];
const BIN = HOST_PATHS.bin;

/** The Headscale scripts as one content-named local directory (the archive path in state stays stable). */
function stageHeadscaleScripts(): { dir: string; hash: string } {
  return stageLocalDir('headscale', Object.fromEntries(HEADSCALE_SCRIPTS.map((n) => [n, readFileSync(path.join(SCRIPTS_DIR, n))])));
}

export class Tailnet extends pulumi.ComponentResource {
  /** The generated policy document (non-secret). */
  public readonly policy: TailnetPolicy;
  /** Tailscale: the policy resource. Headscale: the command that applied the bootstrap policy. */
  public readonly acl: pulumi.CustomResource;
  /** `--login-server` for `tailscale up` (Headscale), undefined for Tailscale's control plane. */
  public readonly loginServer?: string;
  private readonly urnName: string;
  private readonly headscaleRun?: { connection: SshConnectionArgs; cli: string; key: string; after: pulumi.Resource };
  /** Auth keys by node name (secret Outputs). */
  public readonly authKeys: Readonly<Record<string, pulumi.Output<string>>>;
  /** Tags by node name. */
  public readonly nodeTags: Readonly<Record<string, string[]>>;

  constructor(name: string, args: TailnetArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fudbuddy:tailnet:Tailnet', name, {}, opts);
    this.urnName = name;
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

    const tagFor = (role: TailnetNodeArgs['role']): string =>
      role === 'gpu'
        ? (args.gpuTag ?? DEFAULT_TAGS.gpu)
        : role === 'edge'
          ? (args.edgeTag ?? DEFAULT_TAGS.edge)
          : (args.monitoring?.tag ?? DEFAULT_TAGS.monitoring);

    const policyArgs = {
      admins: args.admins,
      gpuTag: args.gpuTag,
      edgeTag: args.edgeTag,
      apiPort: args.apiPort,
      monitoring: args.monitoring,
      serveClients: args.serveClients,
      servePort: args.servePort,
    };
    if (args.headscale && args.funnel) throw new Error('tailnet.funnel: Headscale has no Funnel (private exposure only)');
    this.policy = args.headscale
      ? buildHeadscalePolicy(policyArgs, { nodeTags: args.nodes.map((n) => n.tags ?? [tagFor(n.role)]) })
      : buildTailnetPolicy({ ...policyArgs, funnel: args.funnel });
    // Fail at preview, with the failing case named, instead of at Tailscale's API during `up`.
    const failures = checkPolicy(this.policy);
    if (failures.length > 0) throw new Error(`tailnet policy fails its own tests:\n${failures.join('\n')}`);

    let mintKey: (node: string, nodeTags: string[]) => pulumi.Output<string>;
    if (args.headscale) {
      const hs = args.headscale;
      const c = hs.connection;
      const h = hostSteps(name, c, this);
      const cli = hs.cli ?? HEADSCALE_CLI_DEFAULT;
      const { dir, hash } = stageHeadscaleScripts();
      // Trailing slash: the provider copies the directory's contents into remotePath (install-scripts.sh is there).
      const scripts = h.stage('headscale', { dir: `${dir}/` }, hash, 'install-scripts.sh', { copyId: 'headscale-scripts' });
      const install = h.step('headscale-install-scripts', {
        create: asRoot(c.user, `bash ${scripts.remotePath}/install-scripts.sh ${scripts.remotePath} ${BIN}`),
        triggers: [scripts.key],
        dependsOn: [scripts.copy],
      });
      // The policy without its tests first: Headscale evaluates tests against existing nodes, and none joined yet.
      const bootstrap = renderTailnetPolicy({ ...this.policy, tests: [] });
      this.acl = h.step('headscale-policy-base', {
        create: asRoot(c.user, `${BIN}/headscale-policy.sh --cli ${cli}`),
        stdin: bootstrap,
        triggers: [sha256(bootstrap), scripts.key],
        dependsOn: [install],
      });
      this.loginServer = hs.loginServer;
      this.headscaleRun = { connection: c, cli, key: scripts.key, after: this.acl };
      mintKey = (node, nodeTags) => {
        // A new key for new tags (the host then re-authenticates with it); stdout is the key: a secret step.
        const cmd = h.step(`key-${node}`, {
          create: asRoot(c.user, `${BIN}/headscale-key.sh ${headscaleKeyScriptArgs(nodeTags, expiry, cli).join(' ')}`),
          triggers: [nodeTags.join(','), expiry, scripts.key],
          dependsOn: [this.acl],
          secret: true,
          output: true,
        });
        return cmd.stdout.apply((o) => o.trim());
      };
    } else {
      this.acl = new tailscale.Acl(
        `${name}-acl`,
        { acl: renderTailnetPolicy(this.policy), overwriteExistingContent: args.overwriteExistingPolicy ?? false },
        { parent: this },
      );
      mintKey = (node, nodeTags) =>
        new tailscale.TailnetKey(
          `${name}-key-${node}`,
          {
            description: `fudbuddy ${node}`.replace(/[^A-Za-z0-9 ]/g, ' ').slice(0, 50),
            preauthorized: true,
            reusable: false,
            ephemeral: false,
            expiry,
            tags: nodeTags,
            // A key that is used, expired or revoked is replaced on the next `pulumi up --refresh` (the provider
            // checks validity when it reads the key): a first `up` that failed before the join and is retried
            // after the expiry gets a fresh key instead of the dead one. The host's join step is idempotent, so
            // a new key for a joined host re-runs it as a no-op.
            recreateIfInvalid: 'always',
          },
          { parent: this, dependsOn: [this.acl], additionalSecretOutputs: ['key'] },
        ).key;
    }

    const keys: Record<string, pulumi.Output<string>> = {};
    const tags: Record<string, string[]> = {};
    const known = Object.keys(this.policy.tagOwners);
    for (const node of args.nodes) {
      const nodeTags = node.tags ?? [tagFor(node.role)];
      if (nodeTags.length === 0) throw new Error(`tailnet.nodes: '${node.name}' has an empty tags list`);
      for (const t of nodeTags) {
        if (!known.includes(t)) throw new Error(`tailnet.nodes: '${node.name}' tag ${t} is not owned in the policy (${known.join(', ')})`);
      }
      const unique = [...new Set(nodeTags)];
      tags[node.name] = unique;
      keys[node.name] = pulumi.secret(mintKey(node.name, unique));
    }
    this.authKeys = keys;
    this.nodeTags = tags;
    this.registerOutputs({ policy: renderTailnetPolicy(this.policy), nodeTags: tags });
  }

  /**
   * Headscale: applies the full policy, its `tests` included, once the hosts in `joined` are on the tailnet
   * (Headscale evaluates the tests against existing nodes and refuses a policy whose tests fail). Tailscale: nothing
   * to do (the Acl resource already carries the tests); returns undefined.
   */
  applyPolicyTests(joined: pulumi.Resource[]): pulumi.Resource | undefined {
    const hs = this.headscaleRun;
    if (!hs) return undefined;
    const full = renderTailnetPolicy(this.policy);
    // Not a child of this component: the hosts depend on the whole Tailnet (its keys), and a child that waits for
    // the hosts would make that a cycle. It still runs over the same SSH connection, after the bootstrap policy.
    return hostSteps(this.urnName, hs.connection, undefined).step('headscale-policy-full', {
      create: asRoot(hs.connection.user, `${BIN}/headscale-policy.sh --cli ${hs.cli}`),
      stdin: full,
      triggers: [sha256(full), hs.key],
      dependsOn: [hs.after, ...joined],
    });
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
    if (this.headscaleRun) throw new Error('tailnet.device: the Tailscale device lookup has no Headscale counterpart (use the host-reported address)');
    return tailscale
      .getDeviceOutput({ hostname, waitFor: '120s' }, { parent: this, dependsOn: [joined] })
      .apply((d) => ({ name: d.name ?? hostname, addresses: d.addresses }));
  }
}
