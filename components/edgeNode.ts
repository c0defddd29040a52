// The edge node: an always-on box (e.g. a Pi) that joins the tailnet as tag:edge and exposes the inference API
// with `tailscale serve` (private: tailnet users only) or `tailscale funnel` (public: the Worker's origin, usable
// only with the service token). When the stack has no edge box, the first GPU host plays this role: then it is
// already on the tailnet (`tailscale` unset) and only the proxy and serve/funnel are set up.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { HOST_PATHS } from './lib/hostPaths.js';
import { hostSteps } from './lib/hostSteps.js';
import type { SshConnectionArgs } from './lib/hostTypes.js';
import type { EdgeRouting, EdgeUpstream } from './lib/edgeRouting.js';
import { asRoot, rootCommand, scriptCommand } from './lib/shell.js';
import { stageLocalDir } from './lib/stageDir.js';
import { buildEdgeProxyScript, buildNginxConfig, type EdgeMode, type EdgeScheme } from './lib/serveConfig.js';

const SCRIPTS_DIR = fileURLToPath(new URL('./scripts/', import.meta.url));
/** Host-layer scripts the edge needs (shared with gpuHost: same lib.sh conventions and install step). */
const SHARED_SCRIPTS = ['lib.sh', 'install-scripts.sh', 'tailscale-install.sh', 'tailscale-up.sh'];

export interface EdgeNodeArgs {
  connection: SshConnectionArgs;
  /** serve: tailnet only (private exposure); funnel: public HTTPS for the Worker (public exposure). */
  mode: EdgeMode;
  /** Tailscale hostname of the node; with `tailnetDnsName` it makes the URL https://<hostname>.<tailnetDnsName>. */
  hostname: string;
  tailnetDnsName: string;
  /** https (default; Tailscale's certificates) or http (a control server without certificates: Headscale). */
  scheme?: EdgeScheme;
  /**
   * Join the tailnet here (a separate edge box). Leave unset when the node already joined (a GPU host).
   * `loginServer`: a self-hosted control server (Headscale).
   */
  tailscale?: { authKey: pulumi.Input<string>; tags: string[]; loginServer?: string };
  /** host:port of each GPU host's inference API on the tailnet (or that with a drain flag). */
  upstreams: pulumi.Input<pulumi.Input<string | EdgeUpstream>[]>;
  /** Session affinity, bounded load, failover timing (components/lib/edgeRouting.ts); default session-affine. */
  routing?: Partial<EdgeRouting>;
  /** nginx body limit, ≥ the API's BODY_LIMIT (e.g. `1mb`). */
  bodyLimit?: string;
}

/**
 * The edge's scripts as one local directory (shared host-layer scripts + the generated edge script), copied with a
 * FileArchive: the command provider only accepts file assets and path archives, not an in-memory AssetArchive.
 * The directory is named by the content hash, so the archive's path (which lands in state) is stable across runs.
 */
export function stagedScripts(mode: EdgeMode, scheme: EdgeScheme = 'https'): { dir: string; hash: string; names: string[] } {
  const contents: Record<string, string | Buffer> = {};
  const present = new Set(readdirSync(SCRIPTS_DIR));
  for (const name of SHARED_SCRIPTS) {
    if (!present.has(name)) throw new Error(`edgeNode: components/scripts/${name} is missing`);
    contents[name] = readFileSync(path.join(SCRIPTS_DIR, name));
  }
  contents['edge-proxy.sh'] = buildEdgeProxyScript(mode, scheme);
  return stageLocalDir('edge', contents);
}

export class EdgeNode extends pulumi.ComponentResource {
  /** https://<hostname>.<tailnetDnsName>: the Funnel URL (public) or the tailnet-only serve URL (private). */
  public readonly url: string;
  public readonly healthUrl: string;
  public readonly hostname: string;
  public readonly mode: EdgeMode;
  /** The last step: anything that needs the edge URL to answer depends on this. */
  public readonly ready: pulumi.Resource;

  constructor(name: string, args: EdgeNodeArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fudbuddy:edge:EdgeNode', name, {}, opts);
    this.hostname = args.hostname;
    this.mode = args.mode;
    const scheme = args.scheme ?? 'https';
    // Both serve ports are their scheme's default (443, 80): the URL carries none.
    this.url = `${scheme}://${args.hostname}.${args.tailnetDnsName}`;
    this.healthUrl = `${this.url}/healthz`;

    const h = hostSteps(name, args.connection, this);
    const user = args.connection.user;
    const upstreamHosts = Array.isArray(opts?.dependsOn) ? (opts.dependsOn as pulumi.Input<pulumi.Resource>[]) : [];
    const { dir, hash } = stagedScripts(args.mode, scheme);
    // Trailing slash: only then does the provider copy the directory's contents into remotePath (else into
    // remotePath/<dirname>, and install-scripts.sh below would not be at remotePath/).
    const scripts = h.stage('edge-scripts', { dir: `${dir}/` }, hash, 'install-scripts.sh', { copyId: 'scripts', dependsOn: upstreamHosts });
    const install = h.step('install-scripts', {
      create: asRoot(user, `bash ${scripts.remotePath}/install-scripts.sh ${scripts.remotePath} ${HOST_PATHS.bin}`),
      triggers: [scripts.key],
      dependsOn: [scripts.copy],
    });

    let joined: pulumi.Resource = install;
    if (args.tailscale) {
      const tsInstall = h.step('tailscale-install', {
        create: scriptCommand(user, 'tailscale-install.sh'),
        triggers: [hash],
        dependsOn: [install],
      });
      const tags = args.tailscale.tags.join(',');
      joined = h.step('tailscale-up', {
        create: scriptCommand(user, 'tailscale-up.sh', [
          '--hostname',
          args.hostname,
          '--advertise-tags',
          tags,
          ...(args.tailscale.loginServer ? [`--login-server=${args.tailscale.loginServer}`] : []),
        ]),
        // The single-use key goes over stdin into a 0600 tmpfs file: never argv, never output.
        stdin: args.tailscale.authKey,
        secret: true,
        triggers: [args.hostname, tags, args.tailscale.loginServer ?? ''],
        dependsOn: [tsInstall],
      });
    }

    const nginxConf = pulumi.output(args.upstreams).apply((ups) => buildNginxConfig({ upstreams: ups, bodyLimit: args.bodyLimit, routing: args.routing }));
    const confHash = nginxConf.apply((t) => createHash('sha256').update(t).digest('hex'));
    const orTrue = (argv: string[]) => `${rootCommand(user, argv)} || true`;
    this.ready = h.step('proxy', {
      create: scriptCommand(user, 'edge-proxy.sh'),
      stdin: nginxConf,
      triggers: [confHash, hash, args.mode],
      // The upstream hosts must serve before the proxy points at them.
      dependsOn: [joined, ...upstreamHosts],
    });
    // Destroy closes the door first: no Funnel/serve left pointing at a half-removed backend. Its own step with
    // constant inputs (as GpuHost's teardown): a delete on the proxy step itself also ran on every replacement
    // (a changed nginx config: create-before-delete), resetting serve/funnel right after the new config went live.
    // Both modes are reset, so the command does not depend on the mode either.
    h.step('teardown', {
      create: 'true',
      delete: [
        orTrue(['tailscale', 'funnel', 'reset']),
        orTrue(['tailscale', 'serve', 'reset']),
        rootCommand(user, ['rm', '-f', '/etc/nginx/conf.d/fudbuddy-edge.conf', '/var/lib/fudbuddy/edge-serve.state']),
        orTrue(['systemctl', 'reload', 'nginx']),
      ].join('; '),
      triggers: [],
      dependsOn: [this.ready],
    });

    this.registerOutputs({ url: this.url, healthUrl: this.healthUrl, hostname: this.hostname, mode: this.mode });
  }
}
