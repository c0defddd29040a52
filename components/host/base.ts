// GpuHost phase 1, base: the host scripts into /opt/fudbuddy/bin, packages and users, the firewall, Node.
import type { remote } from '@pulumi/command';
import { hashDir } from '../lib/contentHash.js';
import type { HostSteps } from '../lib/hostSteps.js';
import type { GpuHostArgs } from '../lib/hostTypes.js';
import { SCRIPTS_DIR } from '../lib/scriptsDir.js';
import { asRoot, scriptCommand } from '../lib/shell.js';
import { scriptHash } from '../lib/stageKeys.js';
import { HOST_NODE } from '../lib/hostNode.js';
import { osRebootPhase } from './reboot.js';

export interface BasePhase {
  /** The scripts step: teardown depends on it (its delete needs the scripts). */
  installScripts: remote.Command;
  /**
   * Packages, users, directories, and (rebootIfRequired) the host back from the reboot they asked for: every
   * later step depends on it.
   */
  base: remote.Command;
  firewall: remote.Command;
  /** Node for the API (and the stub). */
  node: remote.Command;
}

export function basePhase(h: HostSteps, args: GpuHostArgs): BasePhase {
  const scripts = h.stage('scripts', { dir: SCRIPTS_DIR }, hashDir(SCRIPTS_DIR, 'components/scripts'), 'install-scripts.sh');
  const installScripts = h.step('scripts', {
    create: asRoot(h.user, `bash ${scripts.remotePath}/install-scripts.sh ${scripts.remotePath}`),
    triggers: [scripts.key],
    dependsOn: [scripts.copy],
  });
  const packages = h.step('base', {
    create: scriptCommand(h.user, 'base-setup.sh', args.extraPackages ?? []),
    triggers: [scriptHash('base-setup.sh')],
    dependsOn: [installScripts],
  });
  const base = args.rebootIfRequired ? osRebootPhase(h, packages) : packages;
  // No SSH port: firewall.sh opens sshd's own port(s); the port Pulumi dials belongs to the connection (a port
  // forward may map another one), and a step's command must not change when only the connection does.
  const firewallArgs = [
    '--ssh-from',
    args.firewall.sshSources.join(','),
    ...(args.tailscale.enabled ? [] : ['--no-tailscale']),
    ...(args.firewall.extraAllow ?? []).flatMap((r) => ['--allow', `${r.port}:${r.from}`]),
  ];
  const firewall = h.step('firewall', {
    create: scriptCommand(h.user, 'firewall.sh', firewallArgs),
    triggers: [scriptHash('firewall.sh')],
    dependsOn: [base],
  });
  const node = h.step('node', {
    create: scriptCommand(h.user, 'node-install.sh', [String(args.nodeMajor ?? HOST_NODE.major)]),
    triggers: [scriptHash('node-install.sh')],
    dependsOn: [base],
  });
  return { installScripts, base, firewall, node };
}
