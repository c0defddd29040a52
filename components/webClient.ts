// The web client on Cloudflare Pages: a direct-upload PagesProject, a build step (Vite, VITE_* pointing at the
// Worker) whose output is the hash of dist/, a `wrangler pages deploy` step triggered by that hash, and the
// custom domain app.<domain>. Pages rather than Worker static assets: see docs/architecture.md ("Why Pages").
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import * as cloudflare from '@pulumi/cloudflare';
import { local } from '@pulumi/command';
import { buildCommand, buildViteEnv, deployCommand, hashTree, WEB_SOURCES, type WebBuildEnvArgs } from './lib/webDeploy.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface WebClientArgs {
  accountId: string;
  zoneId: string;
  projectName: string;
  productionBranch: string;
  /** app.<domain>. */
  hostname: string;
  /** Public build-time values; `apiBaseUrl` is the Worker's URL. */
  build: WebBuildEnvArgs;
  /** Token for wrangler (env only). Without it wrangler uses CLOUDFLARE_API_TOKEN from the environment. */
  cloudflareApiToken?: pulumi.Input<string>;
  /** The web client must not go live before its API: typically the Worker's custom domain. */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
  /** Repository root (tests); default: the root of this repo. */
  repoRoot?: string;
}

export class WebClient extends pulumi.ComponentResource {
  public readonly url: string;
  public readonly project: cloudflare.PagesProject;
  /** Hash of the deployed dist/ (stdout of the build step). */
  public readonly distHash: pulumi.Output<string>;
  public readonly viteEnv: Record<string, string>;

  constructor(name: string, args: WebClientArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fudbuddy:web:WebClient', name, {}, opts);
    const root = args.repoRoot ?? REPO_ROOT;
    this.url = `https://${args.hostname}`;
    this.viteEnv = buildViteEnv(args.build);
    const sourceHash = hashTree(root, WEB_SOURCES);
    const parent = { parent: this };

    this.project = new cloudflare.PagesProject(
      `${name}-project`,
      { accountId: args.accountId, name: args.projectName, productionBranch: args.productionBranch },
      parent,
    );

    const build = new local.Command(
      `${name}-build`,
      {
        dir: root,
        create: buildCommand(),
        environment: this.viteEnv,
        triggers: [sourceHash, JSON.stringify(this.viteEnv)],
        logging: 'stderr',
      },
      { ...parent, dependsOn: args.dependsOn },
    );
    this.distHash = build.stdout;

    const deployEnv: Record<string, pulumi.Input<string>> = { CLOUDFLARE_ACCOUNT_ID: args.accountId };
    if (args.cloudflareApiToken !== undefined) deployEnv.CLOUDFLARE_API_TOKEN = pulumi.secret(args.cloudflareApiToken);
    const deploy = new local.Command(
      `${name}-deploy`,
      {
        dir: root,
        create: deployCommand(args.projectName, args.productionBranch),
        // Publishing happens on a new dist (or project/account): those are triggers, which replace the step and
        // run `create`. Any other change (a rotated token in the environment) is an update, which would run
        // `create` again without this no-op (upstream's Update falls back to create): the same dist stays live.
        update: 'true',
        environment: deployEnv,
        triggers: [build.stdout, args.projectName, args.accountId],
        logging: 'stderr',
      },
      // The token is in this command's environment: its output is kept secret in case wrangler ever echoes it.
      { ...parent, dependsOn: [this.project, build], additionalSecretOutputs: ['stdout', 'stderr'] },
    );

    new cloudflare.PagesDomain(
      `${name}-domain`,
      { accountId: args.accountId, projectName: this.project.name, name: args.hostname },
      { ...parent, dependsOn: [deploy] },
    );
    new cloudflare.DnsRecord(
      `${name}-dns`,
      {
        zoneId: args.zoneId,
        name: args.hostname,
        type: 'CNAME',
        content: pulumi.interpolate`${this.project.subdomain}`,
        proxied: true,
        ttl: 1,
        comment: 'fudbuddy web client (Pulumi)',
      },
      parent,
    );

    this.registerOutputs({ url: this.url, projectName: args.projectName, distHash: this.distHash, viteEnv: this.viteEnv });
  }
}
