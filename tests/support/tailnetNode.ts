// One tailscaled node of the real test tailnet (tests/support/tailnet.ts): its own network namespace with a veth on
// the hub's bridge, tailscaled with a kernel TUN (tailscale0) in a private mount namespace (its own
// /etc/resolv.conf and a tmpfs /run), state, socket and logs (TS_LOGS_DIR) under the run's temp directory.
import type { ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, must, run, type CmdResult } from './proc.js';

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
  /** One HTTP request from this node: status, body and ms (request sent → body complete), or null when no answer came. */
  request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number }): Promise<{ status: number; body: string; ms: number } | null>;
  /** One TCP connection from this node: the listener's answer line, or null when none came within timeoutMs. */
  connect(host: string, port: number, timeoutMs?: number): Promise<string | null>;
  /** The first line a server sends on connect (e.g. sshd's `SSH-2.0-...`), or null when none came within timeoutMs. */
  banner(host: string, port: number, timeoutMs?: number): Promise<string | null>;
}

// A listener per port that greets each connection with `ok <port>`: proof that the bytes crossed the tailnet.
const LISTENER_JS = `const net=require('net');let n=0;const ports=process.argv.slice(1).map(Number);
for(const p of ports){net.createServer(s=>{s.end('ok '+p+'\\n')}).listen(p,'0.0.0.0',()=>{if(++n===ports.length)console.log('listening')})}`;
const HTTP_JS = `require('http').createServer((q,r)=>{r.end('http ok '+q.url)}).listen(Number(process.argv[2]),process.argv[1],()=>console.log('listening'))`;
// http.get, not fetch: the request must carry the MagicDNS name as Host (the clients here have no resolver).
const GET_JS = `const u=new URL(process.argv[1]);const q=require('http').get({host:u.hostname,port:u.port||80,path:u.pathname,headers:process.argv[3]?{host:process.argv[3]}:{},timeout:Number(process.argv[2])},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(r.statusCode+' '+b))});
q.on('timeout',()=>{q.destroy();process.exit(2)});q.on('error',()=>process.exit(3))`;
// The request (method, headers, body) comes as JSON on stdin, so a bearer token is never in argv.
// ms is measured inside the namespace, so it leaves out starting this process.
const REQUEST_JS = `let i='';process.stdin.on('data',d=>i+=d).on('end',()=>{const o=JSON.parse(i);const u=new URL(o.url);const t=performance.now();
const q=require('http').request({host:u.hostname,port:u.port||80,path:u.pathname+u.search,method:o.method,headers:o.headers,timeout:o.timeoutMs},r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>console.log(JSON.stringify({status:r.statusCode,body:b,ms:Math.round(performance.now()-t)})))});
q.on('timeout',()=>{q.destroy();process.exit(2)});q.on('error',()=>process.exit(3));q.end(o.body||'')})`;
// Prints what the server sent when it closes, or (4th argument `first`) its first line as soon as that arrives.
const CONNECT_JS = `const net=require('net');const [h,p,t,first]=process.argv.slice(1);const s=net.connect(Number(p),h);let d='';
s.setTimeout(Number(t),()=>{console.log('TIMEOUT');process.exit(2)});s.on('data',b=>{d+=b;if(first&&d.includes('\\n')){console.log(d.split('\\n')[0].trim());process.exit(0)}});
s.on('end',()=>{console.log(d.trim());process.exit(0)});s.on('error',e=>{console.log('ERROR '+e.code);process.exit(3)})`;

/** What a node needs from its tailnet (tests/support/tailnet.ts). */
export interface NodeContext {
  /** The run's id: namespace names are `<id>-<name>`. */
  id: string;
  hub: string;
  /** The run's temp directory. */
  dir: string;
  /** The toolchain's bin directory (tailscale, tailscaled). */
  bin: string;
  subnet: string;
  /** The namespace list the tailnet deletes on stop (the node adds its own first). */
  namespaces: string[];
  spawnLogged(name: string, argv: string[], env: NodeJS.ProcessEnv): ChildProcess;
  log(name: string): string;
}

export async function startNode(ctx: NodeContext, name: string, index: number): Promise<TailnetNode> {
  const { id, hub, dir, bin, subnet } = ctx;
  const ns = `${id}-${name}`;
  await must(['ip', 'netns', 'add', ns], 'ip netns add');
  ctx.namespaces.push(ns);
  const hubSide = `v${index}`;
  await must(['ip', '-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', hubSide, 'netns', hub], 'veth');
  await must(['ip', '-n', hub, 'link', 'set', hubSide, 'master', 'br0', 'up'], 'veth on bridge');
  const lanAddress = `${subnet}.${index}`;
  await must(['ip', '-n', ns, 'addr', 'add', `${lanAddress}/24`, 'dev', 'eth0'], 'node address');
  await must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'], 'eth0 up');
  await must(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], 'lo up');

  const nodeDir = join(dir, name);
  const binDir = join(nodeDir, 'bin');
  for (const d of ['state', 'logs', 'run', 'bin']) mkdirSync(join(nodeDir, d), { recursive: true });
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
  const daemon = ctx.spawnLogged(name, ['ip', 'netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', inner], env);
  await eventually(
    async () => {
      if (daemon.exitCode !== null) throw new Error(`tailscaled exited: ${ctx.log(name)}`);
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
    const child = ctx.spawnLogged(key, ['ip', 'netns', 'exec', ns, process.execPath, '-e', ...jsArgs], env);
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`${key} exited: ${ctx.log(key)}`);
        return ctx.log(key).includes('listening') ? true : undefined;
      },
      key,
      10_000,
      100,
    );
  };
  return {
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
    log: () => ctx.log(name),
    listen: (ports) => startServer(`${name}-listen-${ports.join('-')}`, [LISTENER_JS, ...ports.map(String)]),
    listenHttp: (address, port) => startServer(`${name}-http-${port}`, [HTTP_JS, address, String(port)]),
    async get(url, { timeoutMs = 3000, host = '' } = {}) {
      const r = await exec([process.execPath, '-e', GET_JS, url, String(timeoutMs), host], { timeoutMs: timeoutMs + 5000 });
      return r.code === 0 ? r.stdout.trim() : null;
    },
    async request(url, { method = 'GET', headers = {}, body, timeoutMs = 3000 }) {
      const stdin = JSON.stringify({ url, method, headers, body, timeoutMs });
      const r = await exec([process.execPath, '-e', REQUEST_JS], { stdin, timeoutMs: timeoutMs + 5000 });
      return r.code === 0 ? (JSON.parse(r.stdout.trim()) as { status: number; body: string; ms: number }) : null;
    },
    async connect(host, port, timeoutMs = 3000) {
      const r = await exec([process.execPath, '-e', CONNECT_JS, host, String(port), String(timeoutMs)], { timeoutMs: timeoutMs + 5000 });
      const line = r.stdout.trim();
      return r.code === 0 && line.startsWith('ok ') ? line : null;
    },
    async banner(host, port, timeoutMs = 3000) {
      const r = await exec([process.execPath, '-e', CONNECT_JS, host, String(port), String(timeoutMs), 'first'], { timeoutMs: timeoutMs + 5000 });
      return r.code === 0 && r.stdout.trim() ? r.stdout.trim() : null;
    },
  };
}
