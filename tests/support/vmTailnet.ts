// A qemu VM (tests/support/vm.ts) on the real test tailnet (tests/support/tailnet.ts). The guest runs on qemu user
// networking with restrict=on, so its only way to Headscale is a guestfwd: its TCP connections to
// GUEST_CONTROL_ADDRESS:8080 each become a socat into the hub namespace (control and embedded DERP share that
// port). Headscale's URL and DERP map say 10.77.0.1:8080 (CONTROL_ADDRESS), which slirp cannot forward (a guestfwd
// must be an address of its own 10.0.2.0/24, and restrict=on gives the guest no default route), so a host route
// and one NAT rule in the guest send 10.77.0.1:8080 to the guestfwd: they stand in for the routed network a real
// host has to its control server. There is no UDP path, so WireGuard
// between the guest and the namespace nodes relays over DERP; STUN fails, which tailscaled survives.
//
// Tailscale itself is pre-placed as its Debian package installs it (release/dist/unixpkgs: /usr/bin/tailscale,
// /usr/sbin/tailscaled, /lib/systemd/system/tailscaled.service, /etc/default/tailscaled; then a daemon-reload
// as its postinst does), from the toolchain's binaries and the unit files of the same tailscale.com module: the
// product's tailscale-install.sh then takes its "already installed" path (this guest cannot reach
// pkgs.tailscale.com). What is test-only is a drop-in and its script, named so: the route and NAT rule (before
// every tailscaled start, so also after a reboot), DERP over plain HTTP (the embedded DERP has no certificate
// here), no log uploads.
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { rootCommand, shq } from '../../components/lib/shell.js';
import { CONTROL_ADDRESS, CONTROL_PORT, tailnetBinDir, type Tailnet } from './tailnet.js';
import { REPO_ROOT } from './testHost.js';
import type { GuestForward, Vm } from './vm.js';

/** Where the guest reaches Headscale: an address of qemu's user network that slirp itself does not use. */
export const GUEST_CONTROL_ADDRESS = '10.0.2.101';
/** The test-only part of tailscaled's unit on the guest, and the script its ExecStartPre runs. */
export const TEST_DROPIN = '/etc/systemd/system/tailscaled.service.d/10-fudbuddy-test-tailnet.conf';
const ROUTE_SCRIPT = '/usr/local/sbin/fudbuddy-test-tailnet-route';

/** The VmOptions.guestForwards entry that connects a guest to this tailnet's Headscale. */
export function controlForward(net: Tailnet): GuestForward {
  return { address: GUEST_CONTROL_ADDRESS, port: CONTROL_PORT, argv: net.relayArgv() };
}

function tailscaleSource(): string {
  return execFileSync('bash', [join(REPO_ROOT, 'scripts/tailnet-toolchain.sh'), 'tailscale-src'], { encoding: 'utf8' }).trim();
}

/**
 * Installs Tailscale on the guest as its package would (not enabled or started: tailscale-install.sh does that),
 * plus the test drop-in. `env`: more tailscaled environment for the drop-in.
 */
export async function preplaceTailscale(vm: Vm, env: Record<string, string> = {}): Promise<void> {
  const bin = tailnetBinDir();
  const unitDir = join(tailscaleSource(), 'cmd/tailscaled');
  const stage = '/var/tmp/fudbuddy-tailscale-pkg';
  const mk = await vm.ssh(`rm -rf ${stage} && mkdir -p ${stage}`);
  if (mk.code !== 0) throw new Error(`preplace: ${mk.stderr}`);
  for (const f of [join(bin, 'tailscale'), join(bin, 'tailscaled'), join(unitDir, 'tailscaled.service'), join(unitDir, 'tailscaled.defaults')]) {
    await vm.copyTo(f, `${stage}/`);
  }
  const knobs = { TS_DEBUG_USE_DERP_HTTP: '1', TS_NO_LOGS_NO_SUPPORT: 'true', ...env };
  for (const [k, v] of Object.entries(knobs)) {
    if (!/^[A-Z_]+$/.test(k) || !/^[A-Za-z0-9_.:-]+$/.test(v)) throw new Error(`preplace: tailscaled env ${k} is not a plain knob`);
  }
  const rule = `-d ${CONTROL_ADDRESS}/32 -p tcp --dport ${CONTROL_PORT} -j DNAT --to-destination ${GUEST_CONTROL_ADDRESS}:${CONTROL_PORT}`;
  const routeScript = [
    '#!/bin/sh',
    '# Test plumbing (tests/support/vmTailnet.ts), not part of the product: the path to the test Headscale.',
    `# ${CONTROL_ADDRESS}:${CONTROL_PORT} goes to qemu's guestfwd at ${GUEST_CONTROL_ADDRESS}; at boot the NIC may not have its address yet.`,
    'set -eu',
    'i=0',
    `until ip route replace ${CONTROL_ADDRESS}/32 via ${GUEST_CONTROL_ADDRESS} 2>/dev/null; do`,
    '  i=$((i + 1)); [ "$i" -lt 120 ] || { echo "no route via the guestfwd after 120 s" >&2; exit 1; }; sleep 1',
    'done',
    `iptables -t nat -C OUTPUT ${rule} 2>/dev/null || iptables -t nat -A OUTPUT ${rule}`,
    '',
  ].join('\n');
  const dropin = [
    '# Test plumbing (tests/support/vmTailnet.ts), not part of the product: the route to the test Headscale (a',
    '# guestfwd), whose embedded DERP speaks plain HTTP; no log server to upload to.',
    '[Service]',
    ...Object.entries(knobs).map(([k, v]) => `Environment=${k}=${v}`),
    `ExecStartPre=${ROUTE_SCRIPT}`,
    '',
  ].join('\n');
  const script = [
    'set -eu',
    `install -m 0755 ${stage}/tailscale /usr/bin/tailscale`,
    `install -m 0755 ${stage}/tailscaled /usr/sbin/tailscaled`,
    `install -m 0644 ${stage}/tailscaled.service /lib/systemd/system/tailscaled.service`,
    `install -m 0644 ${stage}/tailscaled.defaults /etc/default/tailscaled`,
    `install -d -m 0755 ${TEST_DROPIN.replace(/\/[^/]+$/, '')}`,
    `printf '%s' ${shq(routeScript)} > ${ROUTE_SCRIPT} && chmod 0755 ${ROUTE_SCRIPT}`,
    `cat > ${TEST_DROPIN}`,
    'systemctl daemon-reload',
    `rm -rf ${stage}`,
  ].join('\n');
  const r = await vm.ssh(rootCommand(vm.user, ['sh', '-c', script]), { stdin: dropin, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`preplace tailscale on ${vm.name}: ${r.stderr}`);
}


/** Where the Headscale CLI on a guest finds the server: the socket path Headscale's Debian package uses. */
const GUEST_HEADSCALE_SOCKET = '/var/run/headscale/headscale.sock';

/**
 * Makes a guest the tailnet's "Headscale host" for the product's headscale-*.sh scripts: Headscale's CLI installed
 * as its package installs it (/usr/bin/headscale, /etc/headscale/config.yaml), talking to the real server of this
 * run through its unix socket. The server itself stays in the hub namespace (where the namespace nodes reach it);
 * the guest's socket is an SSH remote forward of the server's (test plumbing: one extra SSH connection, ended by
 * the returned stop()). What the CLI sends and gets is the server's own gRPC, byte for byte.
 */
export async function headscaleCliOnVm(vm: Vm, net: Tailnet): Promise<{ stop(): void }> {
  const stage = '/var/tmp/fudbuddy-headscale-pkg';
  const mk = await vm.ssh(`rm -rf ${stage} && mkdir -p ${stage}`);
  if (mk.code !== 0) throw new Error(`headscale CLI: ${mk.stderr}`);
  await vm.copyTo(join(tailnetBinDir(), 'headscale'), `${stage}/`);
  const dir = GUEST_HEADSCALE_SOCKET.replace(/\/[^/]+$/, '');
  const config = [
    '# Test plumbing (tests/support/vmTailnet.ts): the CLI reaches the test server through this socket, an SSH',
    '# remote forward of the real one.',
    `unix_socket: ${GUEST_HEADSCALE_SOCKET}`,
    'disable_check_updates: true',
    '',
  ].join('\n');
  const script = [
    'set -eu',
    `install -m 0755 ${stage}/headscale /usr/bin/headscale`,
    'install -d -m 0755 /etc/headscale',
    'cat > /etc/headscale/config.yaml',
    // The forward is made by the SSH user: it owns the socket's directory (root, through sudo, can use it anyway).
    `install -d -m 0750 -o ${vm.user} -g ${vm.user} ${dir}`,
    `rm -rf ${stage}`,
  ].join('\n');
  const r = await vm.ssh(rootCommand(vm.user, ['sh', '-c', script]), { stdin: config, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`headscale CLI on ${vm.name}: ${r.stderr}`);
  const fwd = spawn(
    'ssh',
    ['-F', vm.sshConfig, '-N', '-o', 'ControlMaster=no', '-o', 'ControlPath=none', '-o', 'ExitOnForwardFailure=yes', '-R', `${GUEST_HEADSCALE_SOCKET}:${net.unixSocket}`, 'vm'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  fwd.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const stop = (): void => void (fwd.exitCode === null && fwd.kill('SIGTERM'));
  process.once('exit', stop);
  const t0 = Date.now();
  for (;;) {
    if (fwd.exitCode !== null) throw new Error(`headscale CLI forward to ${vm.name} ended: ${err}`);
    const users = await vm.ssh('sudo -n headscale users list -o json', { timeoutMs: 30_000 });
    if (users.code === 0) break;
    if (Date.now() - t0 > 120_000) throw new Error(`headscale CLI on ${vm.name} does not reach the server: ${users.stderr}${err}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
  return { stop };
}
