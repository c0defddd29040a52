// The one way files and commands reach a host (components/lib/hostSteps.ts): the pure step builder's secrecy and
// logging rules, the single SSH connection mapping, and that no component builds host resources another way.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../components/lib/contentHash.js';
import { HOST_PATHS } from '../../components/lib/hostPaths.js';
import { sshConnection, stepResource } from '../../components/lib/hostSteps.js';
import { REMOTE_BIN, rootCommand, scriptCommand } from '../../components/lib/shell.js';

const repo = path.resolve(import.meta.dirname, '../..');
const conn = sshConnection({ host: '203.0.113.9', user: 'ubuntu', privateKey: 'k' });
const componentSources = (): { file: string; text: string }[] => {
  const out: { file: string; text: string }[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) out.push({ file: path.relative(repo, p), text: readFileSync(p, 'utf8') });
    }
  };
  walk(path.join(repo, 'components'));
  return out;
};

describe('hostSteps: step arguments', () => {
  it('a secret step: secret stdin, no log streaming, stdout and stderr stored as secrets, no env over SSH', async () => {
    const { args, opts } = stepResource(conn, { create: 'x', triggers: [], stdin: 'tskey-auth-abc', secret: true });
    expect(args.logging).toBe('none');
    expect(opts.additionalSecretOutputs).toEqual(['stdout', 'stderr']);
    expect(await pulumi.isSecret(args.stdin as pulumi.Output<string>)).toBe(true);
    expect(args.addPreviousOutputInEnv).toBe(false);
  });

  it('a plain step logs both streams and keeps its stdin as given', () => {
    const { args, opts } = stepResource(conn, { create: 'x', triggers: ['h'], stdin: 'unit text' });
    expect(args.logging).toBe('stdoutAndStderr');
    expect(opts.additionalSecretOutputs).toEqual([]);
    expect(args.stdin).toBe('unit text');
    expect(args).not.toHaveProperty('delete');
  });

  it('what a step does (command, stdin) is in its triggers; the connection is not: a new key or port only updates, and the update is a no-op', async () => {
    const resolve = <T,>(o: pulumi.Input<T>): Promise<T> => new Promise((r) => pulumi.output(o).apply((v) => r(v as T)));
    const spec = { create: 'sudo -n bash /opt/fudbuddy/bin/x.sh', triggers: ['h'], stdin: 'unit text' };
    const a = stepResource(conn, spec);
    const rotated = stepResource(sshConnection({ host: '203.0.113.9', port: 40022, user: 'ubuntu', privateKey: 'k2' }), spec);
    const ta = await resolve(pulumi.all(a.args.triggers as pulumi.Input<unknown>[]));
    expect(ta).toEqual(['h', sha256('sudo -n bash /opt/fudbuddy/bin/x.sh\0unit text')]);
    // Only the connection differs: same triggers (no replace, no create), and the update command changes nothing.
    expect(await resolve(pulumi.all(rotated.args.triggers as pulumi.Input<unknown>[]))).toEqual(ta);
    expect(a.args.update).toBe('true');
    // A different command or stdin is a different action: replaced, so `create` runs.
    const other = await resolve(pulumi.all(stepResource(conn, { ...spec, stdin: 'unit text 2' }).args.triggers as pulumi.Input<unknown>[]));
    expect(other[1]).not.toBe(ta[1]);
    // A secret stdin's action key is a secret too.
    const secretKey = (stepResource(conn, { ...spec, secret: true }).args.triggers as pulumi.Input<unknown>[])[1] as pulumi.Output<string>;
    expect(await pulumi.isSecret(secretKey)).toBe(true);
  });

  it('a step others read the stdout of re-runs create on a connection change; a step with a delete keeps constant triggers', () => {
    expect(stepResource(conn, { create: 'x', triggers: ['h'], output: true }).args).not.toHaveProperty('update');
    const teardown = stepResource(conn, { create: 'true', delete: 'y', triggers: [] });
    expect(teardown.args.triggers).toEqual([]);
  });

  it('maps the SSH connection once: port 22 by default, the private key always secret, unset keys left out', async () => {
    expect(conn.port).toBe(22);
    expect(await pulumi.isSecret(conn.privateKey as pulumi.Output<string>)).toBe(true);
    expect(Object.keys(conn).sort()).toEqual(['host', 'port', 'privateKey', 'user']);
    const pinned = sshConnection({ host: 'h', port: 2222, user: 'root', privateKey: 'k', hostKey: 'ssh-ed25519 AAAA', dialErrorLimit: 3 });
    expect(pinned).toMatchObject({ port: 2222, hostKey: 'ssh-ed25519 AAAA', dialErrorLimit: 3 });
  });

  it('quotes every argument, so a value cannot become shell (the edge used to pass --hostname unquoted)', () => {
    expect(scriptCommand('pi', 'tailscale-up.sh', ['--hostname', 'edge; rm -rf /'])).toBe(
      `sudo -n bash ${HOST_PATHS.bin}/tailscale-up.sh --hostname 'edge; rm -rf /'`,
    );
    expect(rootCommand('root', ['/usr/local/lib/x.sh', "it's"])).toBe(`/usr/local/lib/x.sh 'it'\\''s'`);
  });
});

describe('hostSteps: one way to a host', () => {
  it('only hostSteps.ts constructs remote.Command / CopyToRemote or maps an SSH connection', () => {
    const offenders = componentSources()
      .filter((f) => f.file !== 'components/lib/hostSteps.ts')
      .filter((f) => /new remote\.(Command|CopyToRemote)\(|privateKey: pulumi\.secret\(/.test(f.text))
      .map((f) => f.file);
    expect(offenders).toEqual([]);
  });

  it('/opt/fudbuddy/bin is written once (hostPaths.ts), and install-scripts.sh defaults to the same directory', () => {
    const literal = componentSources().filter((f) => f.text.includes("'/opt/fudbuddy/bin'")).map((f) => f.file);
    expect(literal).toEqual(['components/lib/hostPaths.ts']);
    expect(REMOTE_BIN).toBe(HOST_PATHS.bin);
    const script = readFileSync(path.join(repo, 'components/scripts/install-scripts.sh'), 'utf8');
    expect(/^dest=\$\{2:-([^}]+)\}$/m.exec(script)?.[1]).toBe(HOST_PATHS.bin);
  });
});
