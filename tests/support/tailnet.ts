// A real tailnet on this machine: Headscale (control server, embedded DERP + STUN) and Tailscale's own tailscaled,
// built by scripts/tailnet-toolchain.sh. Everything lives in network namespaces of this run:
//
//   <run>-hub   a bridge (10.77.0.0/24, inside the namespace only) and headscale on 10.77.0.1:8080
//   <run>-<n>   one namespace per node (tests/support/tailnetNode.ts), tailscaled with a kernel TUN (tailscale0)
//
// Nothing touches this machine's own network: no route leaves the bridge, so a client that tried Tailscale's
// hosted control plane or log server gets nowhere. Clients use DERP over plain HTTP (TS_DEBUG_USE_DERP_HTTP=1: the
// embedded DERP has no certificate here). A qemu guest reaches headscale (CONTROL_ADDRESS) through a guestfwd that
// runs relayArgv() per connection (tests/support/vmTailnet.ts). Needs root.
//
//   const net = await startTailnet({ policy });
//   try { const gpu = await net.addNode('gpu1'); await net.join(gpu, { tags: ['tag:gpu'] }); ... } finally { await net.stop(); }
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headscaleConfig } from './headscaleConfig.js';
import { eventually, must, run, type CmdResult } from './proc.js';
import { startNode, type TailnetNode } from './tailnetNode.js';
import { REPO_ROOT } from './testHost.js';

export { eventually, type CmdResult, type TailnetNode };

const TOOLCHAIN = join(REPO_ROOT, 'scripts/tailnet-toolchain.sh');
const SUBNET = '10.77.0';
/** Headscale's address and port on the bridge: server_url, and the embedded DERP's (same port). */
export const CONTROL_ADDRESS = `${SUBNET}.1`;
export const CONTROL_PORT = 8080;

export interface Tailnet {
  /** `http://10.77.0.1:8080`: what nodes pass as --login-server. */
  loginServer: string;
  /**
   * A command whose stdin/stdout become one TCP connection to headscale (control and DERP, one port) inside the
   * hub namespace: what a qemu guest's guestfwd runs per connection.
   */
  relayArgv(): string[];
  /** Directory with a `headscale` wrapper bound to this run's config (the product's scripts call plain `headscale`). */
  headscaleBinDir: string;
  /** Headscale's unix socket (its CLI's way in, as on the server's own host). */
  unixSocket: string;
  /** Runs a product script (components/scripts) as on the Headscale host: the `headscale` wrapper first on PATH. */
  onHeadscaleHost(script: string, args: string[], stdin?: string): Promise<CmdResult>;
  /** Runs the headscale CLI against this run's server (config, unix socket). */
  headscale(args: string[], opts?: { timeoutMs?: number }): Promise<CmdResult>;
  /** Creates a user with an email (policy identities are emails); returns its numeric id. */
  createUser(name: string, email: string): Promise<number>;
  /** Mints a single-use pre-auth key: tagged (tags-only key) or owned by a user id. */
  preAuthKey(opts: { tags?: string[]; user?: number; expiration?: string }): Promise<string>;
  /** Applies a policy (HuJSON/JSON text) with `headscale policy set`; returns the CLI result. */
  setPolicy(policy: string): Promise<CmdResult>;
  /** `headscale policy check` of a policy text against the live users and nodes (runs its `tests`). */
  checkPolicy(policy: string): Promise<CmdResult>;
  /** Starts tailscaled for a new node in its own namespace. */
  addNode(name: string): Promise<TailnetNode>;
  /** `tailscale up` with a key for this node (test-side join; the product's script is tested on its own). */
  join(node: TailnetNode, key: string, extra?: string[]): Promise<CmdResult>;
  dir: string;
  stop(): Promise<void>;
}

/** Why a real tailnet cannot start here, or null (tests fail with it, never skip silently). */
export function tailnetUnavailableReason(): string | null {
  if (process.getuid?.() !== 0) return 'the real tailnet needs root (network namespaces, TUN devices)';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing (tailscaled needs a kernel TUN)';
  for (const tool of ['ip', 'unshare', 'go']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return null;
}

/**
 * The bin directory of the built tailscale/tailscaled/headscale. A build takes 13–30 min on a cold cache, far past a
 * test hook's timeout, so the suites never build: `.ci/run` (or you) runs the toolchain script first.
 */
export function tailnetBinDir(): string {
  const bin = execFileSync('bash', [TOOLCHAIN, 'bindir'], { encoding: 'utf8' }).trim();
  for (const b of ['tailscale', 'tailscaled', 'headscale']) {
    if (!existsSync(join(bin, b))) {
      throw new Error(`real tailnet unavailable: ${b} is not built yet; run \`bash scripts/tailnet-toolchain.sh build\` first (.ci/run does)`);
    }
  }
  return bin;
}

export async function startTailnet(opts: { policy?: string } = {}): Promise<Tailnet> {
  const why = tailnetUnavailableReason();
  if (why) throw new Error(`real tailnet unavailable: ${why}`);
  const bin = tailnetBinDir();
  const id = `tn${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `fudbuddy-${id}-`));
  const hub = `${id}-hub`;
  const children: ChildProcess[] = [];
  const namespaces: string[] = [];
  const logs = new Map<string, string>();
  let stopped = false;
  let nextIndex = 2; // the hub (headscale) is .1 on the bridge

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) =>
        c.exitCode !== null
          ? Promise.resolve()
          : new Promise<void>((r) => {
              const t = setTimeout(() => (c.kill('SIGKILL'), r()), 5000);
              c.once('exit', () => (clearTimeout(t), r()));
            }),
      ),
    );
    for (const ns of namespaces.reverse()) {
      // Anything still in our namespaces (a helper a test started) is ours to end.
      const pids = await run(['ip', 'netns', 'pids', ns]);
      for (const pid of pids.stdout.split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      await run(['ip', 'netns', 'del', ns]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const onExit = (): void => {
    // Last resort when the test process dies without reaching stop(): no namespace or tailscaled outlives it.
    for (const c of children) c.kill('SIGKILL');
    for (const ns of namespaces) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* gone */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const spawnLogged = (name: string, argv: string[], env: NodeJS.ProcessEnv): ChildProcess => {
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    logs.set(name, '');
    const add = (d: Buffer): void => {
      const cur = logs.get(name)!;
      // Keep the last 200 kB: enough to explain a failure, bounded for long runs.
      logs.set(name, (cur + d.toString()).slice(-200_000));
    };
    child.stdout!.on('data', add);
    child.stderr!.on('data', add);
    children.push(child);
    return child;
  };

  try {
    await must(['ip', 'netns', 'add', hub], 'ip netns add');
    namespaces.push(hub);
    await must(['ip', '-n', hub, 'link', 'set', 'lo', 'up'], 'hub lo');
    await must(['ip', '-n', hub, 'link', 'add', 'br0', 'type', 'bridge'], 'bridge');
    await must(['ip', '-n', hub, 'addr', 'add', `${SUBNET}.1/24`, 'dev', 'br0'], 'bridge address');
    await must(['ip', '-n', hub, 'link', 'set', 'br0', 'up'], 'bridge up');

    const hsDir = join(dir, 'headscale');
    mkdirSync(hsDir, { recursive: true });
    const config = join(hsDir, 'config.yaml');
    writeFileSync(config, headscaleConfig(hsDir, CONTROL_ADDRESS, CONTROL_PORT));
    const hsEnv = { PATH: process.env.PATH, HOME: hsDir };
    const hs = spawnLogged('headscale', ['ip', 'netns', 'exec', hub, join(bin, 'headscale'), 'serve', '-c', config], hsEnv);
    const headscaleBinDir = join(hsDir, 'bin');
    mkdirSync(headscaleBinDir);
    writeFileSync(join(headscaleBinDir, 'headscale'), `#!/bin/sh\nexec ${join(bin, 'headscale')} -c ${config} "$@"\n`);
    chmodSync(join(headscaleBinDir, 'headscale'), 0o755);
    const headscale = (args: string[], o: { timeoutMs?: number } = {}): Promise<CmdResult> =>
      run([join(bin, 'headscale'), '-c', config, '--force', ...args], { env: hsEnv, timeoutMs: o.timeoutMs });
    await eventually(
      async () => {
        if (hs.exitCode !== null) throw new Error(`headscale exited: ${logs.get('headscale')}`);
        const r = await headscale(['users', 'list', '-o', 'json']);
        return r.code === 0 ? true : undefined;
      },
      'headscale to answer on its unix socket',
      30_000,
    );

    const nodeContext = {
      id,
      hub,
      dir,
      bin,
      subnet: SUBNET,
      namespaces,
      spawnLogged,
      log: (name: string) => logs.get(name) ?? '',
    };
    const tailnet: Tailnet = {
      loginServer: `http://${CONTROL_ADDRESS}:${CONTROL_PORT}`,
      relayArgv: () => ['ip', 'netns', 'exec', hub, 'socat', '-', `TCP:${CONTROL_ADDRESS}:${CONTROL_PORT}`],
      dir,
      headscaleBinDir,
      unixSocket: join(hsDir, 'headscale.sock'),
      headscale,
      onHeadscaleHost: (script, args, stdin) =>
        run(['bash', join(REPO_ROOT, 'components/scripts', script), ...args], {
          stdin,
          env: { ...process.env, PATH: `${headscaleBinDir}:${process.env.PATH}` },
        }),
      async createUser(name, email) {
        const r = await headscale(['users', 'create', name, '--email', email, '-o', 'json']);
        if (r.code !== 0) throw new Error(`headscale users create ${name}: ${r.stderr || r.stdout}`);
        return Number((JSON.parse(r.stdout) as { id: number | string }).id);
      },
      async preAuthKey({ tags, user, expiration }) {
        const args = ['preauthkeys', 'create', '--expiration', expiration ?? '1h', '-o', 'json'];
        if (tags?.length) args.push('--tags', tags.join(','));
        if (user !== undefined) args.push('--user', String(user));
        const r = await headscale(args);
        if (r.code !== 0) throw new Error(`headscale preauthkeys create: ${r.stderr || r.stdout}`);
        return (JSON.parse(r.stdout) as { key: string }).key;
      },
      async setPolicy(policy) {
        const f = join(hsDir, `policy-${randomBytes(4).toString('hex')}.json`);
        writeFileSync(f, policy);
        return headscale(['policy', 'set', '-f', f]);
      },
      async checkPolicy(policy) {
        const f = join(hsDir, `policy-${randomBytes(4).toString('hex')}.json`);
        writeFileSync(f, policy);
        return headscale(['policy', 'check', '-f', f]);
      },
      async addNode(name) {
        const index = nextIndex++; // taken before any await: nodes may be added concurrently
        if (index > 250) throw new Error('too many nodes');
        return startNode(nodeContext, name, index);
      },
      async join(node, key, extra = []) {
        // The key reaches tailscale as a 0600 file, as the product's script does: never in argv.
        const keyFile = join(dir, node.name, `key-${randomBytes(4).toString('hex')}`);
        writeFileSync(keyFile, key, { mode: 0o600 });
        try {
          return await node.tailscale(
            ['up', `--login-server=${tailnet.loginServer}`, `--auth-key=file:${keyFile}`, `--hostname=${node.name}`, '--accept-dns=false', '--timeout=60s', ...extra],
            { timeoutMs: 90_000 },
          );
        } finally {
          rmSync(keyFile, { force: true });
        }
      },
      stop: async () => {
        process.removeListener('exit', onExit);
        await stop();
      },
    };
    if (opts.policy !== undefined) {
      const r = await tailnet.setPolicy(opts.policy);
      if (r.code !== 0) throw new Error(`headscale policy set: ${r.stderr || r.stdout}`);
    }
    return tailnet;
  } catch (e) {
    process.removeListener('exit', onExit);
    await stop();
    throw e;
  }
}
