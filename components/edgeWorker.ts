// The public edge: the bundled Worker (services/edge-worker/dist/worker.js) as a cloudflare.WorkersScript with
// its Durable Objects, vars and secret bindings, on api.<domain> through a WorkersCustomDomain (or a WorkersRoute).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import * as cloudflare from '@pulumi/cloudflare';
import { local } from '@pulumi/command';
import {
  buildWorkerBindings,
  WORKER_COMPATIBILITY_DATE,
  WORKER_MAIN_MODULE,
  workerMigrations,
  type WorkerSecrets,
  type WorkerVars,
} from './lib/workerBindings.js';

export const DEFAULT_WORKER_BUNDLE = fileURLToPath(new URL('../services/edge-worker/dist/worker.js', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface EdgeWorkerArgs {
  accountId: string;
  zoneId: string;
  scriptName: string;
  /** api.<domain>. */
  hostname: string;
  routing: 'customDomain' | 'route';
  vars: WorkerVars;
  secrets: WorkerSecrets<pulumi.Input<string>>;
  observability: { enabled: boolean; headSamplingRate: number };
  /** Path of the bundle (`npm run build`); default services/edge-worker/dist/worker.js. */
  bundlePath?: string;
  /**
   * The migration tag Cloudflare reports for the deployed script (this stack's last `edgeWorkerMigrationTag`
   * output; undefined before the first deploy): decides which Durable Object migration steps the upload carries.
   */
  deployedMigrationTag?: pulumi.Input<string | undefined>;
  /** First contact (scripts/cloudflare-preflight.mjs), before any upload: the token, its permissions, the zone. */
  preflight: {
    /** fudbuddy:domain: the zone must be its own. */
    domain: string;
    /** The web client publishes to Pages too: its permission is checked. */
    pages: boolean;
    /** cloudflare:apiToken (else the CLOUDFLARE_API_TOKEN of the environment `pulumi up` runs in). */
    apiToken?: pulumi.Input<string>;
  };
}

export function readWorkerBundle(bundlePath: string): { content: string; sha256: string } {
  if (!existsSync(bundlePath)) {
    throw new Error(`edgeWorker: ${bundlePath} does not exist; build it first: node scripts/build.mjs worker (or npm run build)`);
  }
  const content = readFileSync(bundlePath, 'utf8');
  return { content, sha256: createHash('sha256').update(content).digest('hex') };
}

const listOf = (d: pulumi.ComponentResourceOptions['dependsOn']): pulumi.Input<pulumi.Resource>[] =>
  d === undefined ? [] : Array.isArray(d) ? d : [d as pulumi.Input<pulumi.Resource>];

export class EdgeWorker extends pulumi.ComponentResource {
  public readonly script: cloudflare.WorkersScript;
  public readonly url: string;
  public readonly healthUrl: string;
  public readonly bundleSha256: string;
  /** The migration tag Cloudflare applied: exported by the stack so the next run knows what is deployed. */
  public readonly migrationTag: pulumi.Output<string>;

  constructor(name: string, args: EdgeWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super('fudbuddy:edge:EdgeWorker', name, {}, opts);
    const bundle = readWorkerBundle(args.bundlePath ?? DEFAULT_WORKER_BUNDLE);
    this.bundleSha256 = bundle.sha256;
    this.url = `https://${args.hostname}`;
    this.healthUrl = `${this.url}/healthz`;

    const secrets: WorkerSecrets<pulumi.Output<string>> = {
      originToken: pulumi.secret(args.secrets.originToken),
      jwtSigningKey: pulumi.secret(args.secrets.jwtSigningKey),
      jwtSigningKeyPrevious: args.secrets.jwtSigningKeyPrevious === undefined ? undefined : pulumi.secret(args.secrets.jwtSigningKeyPrevious),
      openaiApiKey: args.secrets.openaiApiKey === undefined ? undefined : pulumi.secret(args.secrets.openaiApiKey),
      inviteCodes: args.secrets.inviteCodes === undefined ? undefined : pulumi.secret(args.secrets.inviteCodes),
      metricsToken: args.secrets.metricsToken === undefined ? undefined : pulumi.secret(args.secrets.metricsToken),
    };

    // Runs in `up` only (a command runs nothing in a preview); prints the problems with the config key of each, no secret.
    const preflight = new local.Command(
      `${name}-cloudflare-preflight`,
      {
        dir: REPO_ROOT,
        create: 'node scripts/cloudflare-preflight.mjs',
        environment: {
          CLOUDFLARE_ACCOUNT_ID: args.accountId,
          FUDBUDDY_ZONE_ID: args.zoneId,
          FUDBUDDY_DOMAIN: args.preflight.domain,
          FUDBUDDY_PAGES: args.preflight.pages ? '1' : '0',
          ...(args.preflight.apiToken !== undefined ? { CLOUDFLARE_API_TOKEN: pulumi.secret(args.preflight.apiToken) } : {}),
        },
        triggers: [args.accountId, args.zoneId, args.preflight.domain, args.preflight.pages],
      },
      { parent: this, additionalSecretOutputs: ['stdout', 'stderr'] },
    );

    this.script = new cloudflare.WorkersScript(
      `${name}-script`,
      {
        accountId: args.accountId,
        scriptName: args.scriptName,
        mainModule: WORKER_MAIN_MODULE,
        content: bundle.content,
        compatibilityDate: WORKER_COMPATIBILITY_DATE,
        bindings: buildWorkerBindings(args.vars, secrets),
        migrations: pulumi.output(args.deployedMigrationTag).apply((tag) => workerMigrations(tag)),
        // A script implementing Durable Object namespaces is only deleted when forced (destroy would fail).
        force: true,
        observability: {
          enabled: args.observability.enabled,
          headSamplingRate: args.observability.headSamplingRate,
          logs: { enabled: args.observability.enabled, invocationLogs: true },
        },
      },
      // Explicit (not only on the component): the upload itself must wait, e.g. for the API hosts to accept a new
      // service token before the Worker starts sending it.
      { parent: this, dependsOn: [preflight, ...listOf(opts?.dependsOn)] },
    );

    this.migrationTag = this.script.migrationTag;

    if (args.routing === 'customDomain') {
      new cloudflare.WorkersCustomDomain(
        `${name}-domain`,
        { accountId: args.accountId, zoneId: args.zoneId, hostname: args.hostname, service: this.script.scriptName },
        { parent: this },
      );
    } else {
      new cloudflare.WorkersRoute(
        `${name}-route`,
        { zoneId: args.zoneId, pattern: `${args.hostname}/*`, script: this.script.scriptName },
        { parent: this },
      );
    }

    this.registerOutputs({ url: this.url, healthUrl: this.healthUrl, scriptName: args.scriptName, bundleSha256: this.bundleSha256 });
  }
}
