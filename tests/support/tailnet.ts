// A real tailnet on this machine: Headscale (control server, embedded DERP + STUN) and Tailscale's own tailscaled,
// built by scripts/tailnet-toolchain.sh. Everything lives in network namespaces of this run:
//
//   <run>-hub   a bridge (10.77.0.0/24, inside the namespace only) and headscale on 10.77.0.1:8080
//   <run>-<n>   one namespace per node, a veth on the bridge, tailscaled with a kernel TUN (tailscale0)
//
// Nothing touches this machine's own network: no route leaves the bridge, so a client that tried Tailscale's
// hosted control plane or log server gets nowhere. tailscaled runs in a private mount namespace (its own
// /etc/resolv.conf) with its state, socket and logs (TS_LOGS_DIR) under the run's temp directory; clients use DERP
// over plain HTTP (TS_DEBUG_USE_DERP_HTTP=1: the embedded DERP has no certificate here). Needs root.
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
import { REPO_ROOT } from './testHost.js';

export { eventually, type CmdResult };

const TOOLCHAIN = join(REPO_ROOT, 'scripts/tailnet-toolchain.sh');
const SUBNET = '10.77.0';
const HEADSCALE_PORT = 8080;


export interface TailnetNode {
  name: string;
  netns: string;
  /** Address on the private bridge (not the tailnet address). */
  lanAddress: string;
  /** Directory with a `tailscale` wrapper bound to this node's tailscaled socket (put it first on PATH). */
  binDir: string;
  socket: string;
  /** Runs a command inside the node's network namespace (the `tailscale` wrapper first on PATH). */
  exec(argv: string[], opts?: { stdin?: string; timeoutMs?: number; env?: Record<string, string> }): Promise<CmdResult>;
  /** `tailscale <args>` against this node's tailscaled. */
  tailscale(args: string[], opts?: { stdin?: string; timeoutMs?: number }): Promise<CmdResult>;
  /** The node's tailnet IPv4 (after a join). */
  ip(): Promise<string>;
  /** tailscaled's log so far (for failure messages). */
  log(): string;
  /** Starts TCP listeners on 0.0.0.0 (every address of the node, its tailnet address too) that answer `ok <port>`. */
  listen(ports: number[]): Promise<void>;
  /** An HTTP server on address:port inside the node (e.g. the loopback target of `tailscale serve`) answering `http ok <path>`. */
  listenHttp(address: string, port: number): Promise<void>;
  /** One HTTP GET from this node (optionally with a Host header): `<status> <body>`, or null when no answer came. */
  get(url: string, opts?: { timeoutMs?: number; host?: string }): Promise<string | null>;
  /** One TCP connection from this node: the listener's answer line, or null when none came within timeoutMs. */
  connect(host: string, port: number, timeoutMs?: number): Promise<string | null>;
}

// A listener per port that greets each connection with `ok <port>`: proof that the bytes crossed the tailnet.
const LISTENER_JS = `const net=require('net');let n=0;const ports=process.argv.slice(1).map(Number);
for(const p of ports){net.createServer(s=>{s.end('ok '+p+'\\n')}).listen(p,'0.0.0.0',()=>{if(++n===ports.length)console.log('listening')})}`;
const HTTP_JS = `require('http').createServer((q,r)=>{r.end('http ok '+q.url)}).listen(Number(process.argv[2]),process.argv[1],()=>console.log('listening'))`;
// http.get, not fetch: the request must carry the MagicDNS name as Host (the clients here have no resolver).
const GET_JS = `const u=new URL(process.argv[1]);const q=require('http').get({host:u.hostname,port:u.port||80,path:u.pathname,headers:process.argv[3]?{host:process.argv[3]}:{},timeout:Number(process.argv[2])},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(r.statusCode+' '+b))});
q.on('timeout',()=>{q.destroy();process.exit(2)});q.on('error',()=>process.exit(3))`;
const CONNECT_JS = `const net=require('net');const [h,p,t]=process.argv.slice(1);const s=net.connect(Number(p),h);let d='';
s.setTimeout(Number(t),()=>{console.log('TIMEOUT');process.exit(2)});s.on('data',b=>{d+=b});
s.on('end',()=>{console.log(d.trim());process.exit(0)});s.on('error',e=>{console.log('ERROR '+e.code);process.exit(3)})`;

export interface Tailnet {
  /** `http://10.77.0.1:8080`: what nodes pass as --login-server. */
  loginServer: string;
  /** Directory with a `headscale` wrapper bound to this run's config (the product's scripts call plain `headscale`). */
  headscaleBinDir: string;
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
    writeFileSync(config, headscaleConfig(hsDir, `${SUBNET}.1`, HEADSCALE_PORT));
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

    const tailnet: Tailnet = {
      loginServer: `http://${SUBNET}.1:${HEADSCALE_PORT}`,
      dir,
      headscaleBinDir,
      headscale,
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
        const ns = `${id}-${name}`;
        await must(['ip', 'netns', 'add', ns], 'ip netns add');
        namespaces.push(ns);
        const hubSide = `v${index}`;
        await must(['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', hubSide, 'netns', hub], 'veth');
        await must(['ip', '-n', hub, 'link', 'set', hubSide, 'master', 'br0', 'up'], 'veth on bridge');
        const lanAddress = `${SUBNET}.${index}`;
        await must(['ip', '-n', ns, 'addr', 'add', `${lanAddress}/24`, 'dev', 'eth0'], 'node address');
        await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'], 'eth0 up');
        await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], 'lo up');

        const nodeDir = join(dir, name);
        const binDir = join(nodeDir, 'bin');
        mkdirSync(join(nodeDir, 'state'), { recursive: true });
        mkdirSync(join(nodeDir, 'logs'), { recursive: true });
        mkdirSync(join(nodeDir, 'run'), { recursive: true });
        mkdirSync(binDir, { recursive: true });
        const socket = join(nodeDir, 'tailscaled.sock');
        // The product's scripts call plain `tailscale`: this wrapper points it at the node's own daemon.
        writeFileSync(join(binDir, 'tailscale'), `#!/bin/sh\nexec ${join(bin, 'tailscale')} --socket=${socket} "$@"\n`);
        chmodSync(join(binDir, 'tailscale'), 0o755);
        writeFileSync(join(nodeDir, 'resolv.conf'), '# no resolver: this namespace has no route off the bridge\n');
        const env = {
          PATH: `${binDir}:${process.env.PATH}`,
          HOME: nodeDir,
          TS_LOGS_DIR: join(nodeDir, 'logs'),
          TS_NO_LOGS_NO_SUPPORT: 'true',
          TS_DEBUG_USE_DERP_HTTP: '1',
        };
        // A private mount namespace: its own resolv.conf, and a fresh tmpfs /run (tailscale-up.sh keeps the key in
        // /run/fudbuddy), so nothing the node writes lands on this machine's own filesystems.
        const privateMounts = `mount --bind ${join(nodeDir, 'resolv.conf')} /etc/resolv.conf && mount -t tmpfs -o mode=0755,size=4m tmpfs /run`;
        const inner = `${privateMounts} && exec ${join(bin, 'tailscaled')} --statedir=${join(nodeDir, 'state')} --socket=${socket} --tun=tailscale0 --port=41641 --no-logs-no-support`;
        const child = spawnLogged(name, ['ip', 'netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', inner], env);
        await eventually(
          async () => {
            if (child.exitCode !== null) throw new Error(`tailscaled exited: ${logs.get(name)}`);
            const r = await run([join(binDir, 'tailscale'), 'status', '--json']);
            return r.code === 0 || /NeedsLogin|Logged out/i.test(r.stdout + r.stderr) ? true : undefined;
          },
          `tailscaled on ${name} to answer`,
          30_000,
        );
        const exec: TailnetNode['exec'] = (argv, o = {}) =>
          run(['ip', 'netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', `${privateMounts} && exec "$@"`, 'sh', ...argv], {
            stdin: o.stdin,
            timeoutMs: o.timeoutMs,
            env: { ...env, ...o.env },
          });
        const startServer = async (key: string, jsArgs: string[]): Promise<void> => {
          const child = spawnLogged(key, ['ip', 'netns', 'exec', ns, process.execPath, '-e', ...jsArgs], env);
          await eventually(
            async () => {
              if (child.exitCode !== null) throw new Error(`${key} exited: ${logs.get(key)}`);
              return logs.get(key)!.includes('listening') ? true : undefined;
            },
            key,
            10_000,
            100,
          );
        };
        const node: TailnetNode = {
          name,
          netns: ns,
          lanAddress,
          binDir,
          socket,
          exec,
          tailscale: (args, o = {}) => run([join(binDir, 'tailscale'), ...args], { stdin: o.stdin, timeoutMs: o.timeoutMs }),
          async ip() {
            const r = await run([join(binDir, 'tailscale'), 'ip', '-4']);
            const ip = r.stdout.trim().split('\n')[0];
            if (r.code !== 0 || !ip) throw new Error(`${name} has no tailnet address: ${r.stderr}`);
            return ip;
          },
          log: () => logs.get(name) ?? '',
          listen: (ports) => startServer(`${name}-listen-${ports.join('-')}`, [LISTENER_JS, ...ports.map(String)]),
          listenHttp: (address, port) => startServer(`${name}-http-${port}`, [HTTP_JS, address, String(port)]),
          async get(url, { timeoutMs = 3000, host = '' } = {}) {
            const r = await exec([process.execPath, '-e', GET_JS, url, String(timeoutMs), host], { timeoutMs: timeoutMs + 5000 });
            return r.code === 0 ? r.stdout.trim() : null;
          },
          async connect(host, port, timeoutMs = 3000) {
            const r = await exec([process.execPath, '-e', CONNECT_JS, host, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 5000 });
            const line = r.stdout.trim();
            return r.code === 0 && line.startsWith('ok ') ? line : null;
          },
        };
        return node;
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
