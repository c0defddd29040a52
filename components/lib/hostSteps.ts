// How files and commands reach a host: the one module GpuHost, EdgeNode and Monitoring run their host steps
// through. A step is a remote.Command over the host's SSH connection; a staged file or directory is a
// remote.CopyToRemote into a fresh content-addressed path that a step then installs; a payload is a script fed to
// `bash -s` that unpacks files and runs one of them. The argument/option builders are pure (tests/host/hostSteps).
import * as pulumi from '@pulumi/pulumi';
import { remote, type types } from '@pulumi/command';
import type { SshConnectionArgs } from './hostTypes.js';
import { sha256 } from './contentHash.js';
import { shq } from './shell.js';
import { stageKey, stagePath } from './stageKeys.js';

/** The provider's connection for a host (mapped here only). The private key is always a secret. */
export function sshConnection(c: SshConnectionArgs): types.input.remote.ConnectionArgs {
  return {
    host: c.host,
    port: c.port ?? 22,
    user: c.user,
    privateKey: pulumi.secret(c.privateKey),
    ...(c.hostKey !== undefined ? { hostKey: c.hostKey } : {}),
    ...(c.dialErrorLimit !== undefined ? { dialErrorLimit: c.dialErrorLimit } : {}),
  };
}

export interface StepSpec {
  create: pulumi.Input<string>;
  triggers: pulumi.Input<unknown>[];
  dependsOn?: pulumi.Input<pulumi.Resource>[];
  stdin?: pulumi.Input<string>;
  /** Runs on destroy only where replacing the step can never happen (constant inputs): see GpuHost's teardown. */
  delete?: pulumi.Input<string>;
  /**
   * A secret travels on stdin (or may show in the output). The stdin is a secret; nothing is streamed to the
   * engine log (`logging: none`; a failing command's error still carries its output, as upstream's run() does);
   * stdout and stderr are stored as secrets: under pulumi-command's rules the outputs of a command are plaintext
   * in state unless listed in additionalSecretOutputs, whatever its stdin was.
   */
  secret?: boolean;
  /** Another connection to the same host (e.g. a larger dial budget while it reboots). */
  connection?: types.input.remote.ConnectionArgs;
  /**
   * Later steps read this step's stdout (a status, a boot id, a minted key). A connection change then re-runs
   * `create` (an update replaces stdout with what its command printed, so a no-op would blank it); such a step
   * must be a read or idempotent.
   */
  output?: boolean;
  customTimeouts?: pulumi.CustomTimeouts;
}

/** Pure: the remote.Command arguments and resource options of a step. */
export function stepResource(
  connection: types.input.remote.ConnectionArgs,
  s: StepSpec,
): { args: remote.CommandArgs; opts: pulumi.CustomResourceOptions } {
  return {
    args: {
      connection: s.connection ?? connection,
      create: s.create,
      // What a step does is its command and stdin (with the scripts' hashes the caller's triggers hold): a change
      // replaces the step and so runs `create`. The connection is only how the host is reached: a change of it
      // alone (SSH key rotation, another port) is an update, and its `update` is a no-op that proves the new
      // connection, so nothing re-runs against staged copies an earlier run already consumed. A step with a
      // delete keeps constant inputs instead (its replacement would run the delete).
      ...(s.delete !== undefined ? { delete: s.delete } : {}),
      ...(s.output ? {} : { update: 'true' }),
      triggers: s.delete !== undefined ? s.triggers : [...s.triggers, actionKey(s)],
      ...(s.stdin !== undefined ? { stdin: s.secret ? pulumi.secret(s.stdin) : s.stdin } : {}),
      logging: s.secret ? 'none' : 'stdoutAndStderr',
      // Environment goes over SSH setenv, which sshd's AcceptEnv usually refuses: pass nothing that way.
      addPreviousOutputInEnv: false,
    },
    opts: {
      dependsOn: s.dependsOn ?? [],
      additionalSecretOutputs: s.secret ? ['stdout', 'stderr'] : [],
      ...(s.customTimeouts ? { customTimeouts: s.customTimeouts } : {}),
    },
  };
}

/** sha256 of a step's command and stdin; a secret when the stdin is (a hash of a weak secret could be guessed). */
export function actionKey(s: Pick<StepSpec, 'create' | 'stdin' | 'secret'>): pulumi.Output<string> {
  const key = pulumi.all([s.create, s.stdin ?? '']).apply(([c, i]) => sha256(`${c}\0${i}`));
  return s.secret ? pulumi.secret(key) : key;
}

/** A local file, or a directory (its files), to copy to the host. */
export type StageSource = { file: string } | { dir: string };

export interface Staged {
  copy: remote.CopyToRemote;
  /** Where the copy lands (a directory lands in it, or one level deeper: the install scripts accept both). */
  remotePath: string;
  /** Content + install script: trigger of both the copy and the step installing it. */
  key: string;
}

export interface HostSteps {
  /** Resource-name prefix (the component's name) and the parent of every step (none: top-level resources). */
  readonly prefix: string;
  readonly parent: pulumi.Resource | undefined;
  /** The SSH login user (root, or a user whose commands go through `sudo -n`). */
  readonly user: string;
  readonly connection: types.input.remote.ConnectionArgs;
  /** A remote.Command named `<prefix>-<id>`. */
  step(id: string, s: StepSpec): remote.Command;
  /**
   * Stage `source` in a fresh content-addressed path under /var/tmp (the SSH user can write there). The copy
   * (`<prefix>-<copyId>`, default `stage-<id>`) and the step installing it share one key (content + install
   * script), so neither re-runs without the other: an install re-run must find its staged copy.
   */
  stage(
    id: string,
    source: StageSource,
    contentHash: string,
    installScript: string,
    o?: { ext?: string; copyId?: string; dependsOn?: pulumi.Input<pulumi.Resource>[] },
  ): Staged;
}

export function hostSteps(prefix: string, c: SshConnectionArgs, parent: pulumi.Resource | undefined): HostSteps {
  const connection = sshConnection(c);
  return {
    prefix,
    parent,
    user: c.user,
    connection,
    step(id, s) {
      const { args, opts } = stepResource(connection, s);
      return new remote.Command(`${prefix}-${id}`, args, { ...opts, parent });
    },
    stage(id, source, contentHash, installScript, o = {}) {
      const key = stageKey(contentHash, installScript);
      const remotePath = stagePath(id, key, o.ext ?? '');
      const asset = 'file' in source ? new pulumi.asset.FileAsset(source.file) : new pulumi.asset.FileArchive(source.dir);
      const copy = new remote.CopyToRemote(
        `${prefix}-${o.copyId ?? `stage-${id}`}`,
        // What a copy does is its content (key) and destination, as a step's action key is its command: the same
        // trigger layout, so a change of that layout replaces a copy together with its install step.
        { connection, source: asset, remotePath, triggers: [key, sha256(remotePath)] },
        { parent, dependsOn: o.dependsOn },
      );
      return { copy, remotePath, key };
    },
  };
}

const ENV_KEY = /^[A-Z_][A-Z0-9_]*$/;
const FILE_PATH = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/**
 * The script fed to `bash -s` on a host (a step's stdin): unpacks `files` into a fresh temp directory, then runs
 * `entry` from it with `env` exported and stdin closed (so nothing in the entry script can swallow the rest of the
 * payload). Non-secret content only: it is stored in Pulumi state as the command's input.
 */
export interface InstallPayloadInput {
  entry: string;
  env: Record<string, string>;
  files: Record<string, string>;
}

export function installPayload(p: InstallPayloadInput): string {
  if (!(p.entry in p.files)) throw new Error(`monitoring payload: entry ${p.entry} is not among its files`);
  const out = [
    '# FUD Buddy install payload (generated by components/lib/hostSteps.ts).',
    'set -euo pipefail',
    'umask 022',
    'STAGE=$(mktemp -d /tmp/fudbuddy-monitoring.XXXXXX)',
    `trap 'rm -rf "$STAGE"' EXIT`,
  ];
  const names = Object.keys(p.files).sort();
  const dirs = [...new Set(names.filter((n) => n.includes('/')).map((n) => n.slice(0, n.lastIndexOf('/'))))].sort();
  for (const d of dirs) out.push(`mkdir -p "$STAGE/${d}"`);
  for (const n of names) {
    if (!FILE_PATH.test(n) || n.split('/').includes('..')) throw new Error(`monitoring payload: bad file name ${n}`);
    // base64 keeps arbitrary content (quotes, `$`, heredoc markers) inert inside the payload.
    const b64 = Buffer.from(p.files[n]!, 'utf8').toString('base64').replace(/(.{76})/g, '$1\n');
    out.push(`base64 -d > "$STAGE/${n}" <<'FUDBUDDY_B64'`, b64.trimEnd(), 'FUDBUDDY_B64');
  }
  out.push('export STAGE');
  for (const [k, v] of Object.entries(p.env).sort(([a], [b]) => a.localeCompare(b))) {
    if (!ENV_KEY.test(k)) throw new Error(`monitoring payload: bad variable name ${k}`);
    if (/[\n\r\0]/.test(v)) throw new Error(`monitoring payload: ${k} holds a newline`);
    // Always quoted (shq leaves plain words bare): the value is data, never shell.
    out.push(`export ${k}=${shq(v) === v ? `'${v}'` : shq(v)}`);
  }
  out.push(`bash "$STAGE/${p.entry}" </dev/null`);
  return `${out.join('\n')}\n`;
}
