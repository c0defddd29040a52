// Reboots in the middle of `up`: reboot-if-required.sh schedules one (5 s, detached, so its SSH session ends
// cleanly), a local pause lets the host go down, and the next step dials with a budget that outlasts the boot.
import * as pulumi from '@pulumi/pulumi';
import { local, type remote, type types } from '@pulumi/command';
import type { HostSteps } from '../lib/hostSteps.js';
import { scriptCommand } from '../lib/shell.js';

/** Minutes a host may take to come back from a reboot before the step after it gives up (per host, nvidia.rebootTimeoutMinutes). */
export const DEFAULT_REBOOT_MINUTES = 15;

/**
 * `<prefix>-<id>-pause`: sleeps only when the reboot step's stdout says a reboot was scheduled. `once`: for a reboot
 * step that runs only when created, whose stdout a later connection change blanks (its no-op update prints
 * nothing): the pause then ignores that change instead of being replaced.
 */
export function rebootPause(h: HostSteps, id: string, reboot: remote.Command, o: { once?: boolean } = {}): local.Command {
  const rebooting = reboot.stdout.apply((out) => out.includes('REBOOTING=1'));
  return new local.Command(
    `${h.prefix}-${id}-pause`,
    { create: rebooting.apply((r) => (r ? 'sleep 45' : 'true')), triggers: [reboot.stdout] },
    { parent: h.parent, dependsOn: [reboot], ...(o.once ? { ignoreChanges: ['create', 'triggers'] } : {}) },
  );
}

/** The connection of the step after a reboot: dials every 10 s for `minutes`. */
export function afterRebootConnection(h: HostSteps, minutes: number): types.input.remote.ConnectionArgs {
  return { ...h.connection, dialErrorLimit: Math.ceil((minutes * 60) / 10), perDialTimeout: 10 };
}

/**
 * The opt-in reboot for OS updates (gpuHosts[N].rebootIfRequired): after the base packages, reboot when the OS
 * asks for it (/var/run/reboot-required), then wait for the new boot. It runs when the step is created (the
 * host's first `up`, or the `up` that turns the option on) and never again: neither a later `up`, nor a script
 * or connection change, reboots a serving host. Returns the step the rest of the host waits for.
 */
export function osRebootPhase(h: HostSteps, base: pulumi.Resource): remote.Command {
  const reboot = h.step('os-reboot', {
    create: scriptCommand(h.user, 'reboot-if-required.sh', ['--os-updates']),
    triggers: [],
    dependsOn: [base],
  });
  const pause = rebootPause(h, 'os-reboot', reboot, { once: true });
  return h.step('os-booted', {
    // verify-boot.sh reads the old boot id from the host (not from the reboot step's stdout), so a later
    // connection change updates these steps without running them.
    create: scriptCommand(h.user, 'verify-boot.sh'),
    triggers: [],
    dependsOn: [pause],
    connection: afterRebootConnection(h, DEFAULT_REBOOT_MINUTES),
    customTimeouts: { create: `${DEFAULT_REBOOT_MINUTES + 5}m`, update: `${DEFAULT_REBOOT_MINUTES + 5}m` },
  });
}
