// GpuHost phase 2, GPU driver: install (reboot only when it changed), wait for the host, verify; the GPU count.
import * as pulumi from '@pulumi/pulumi';
import type { HostSteps } from '../lib/hostSteps.js';
import type { NvidiaArgs } from '../lib/hostTypes.js';
import { scriptCommand } from '../lib/shell.js';
import { scriptHash } from '../lib/stageKeys.js';
import { afterRebootConnection, DEFAULT_REBOOT_MINUTES, rebootPause } from './reboot.js';

export interface DriverPhase {
  /** What the model server waits for: the verified driver (or the base step on a CPU host). */
  ready: pulumi.Resource[];
  /** GPUs nvidia-smi lists (0 on a CPU host). */
  gpuCount: pulumi.Output<number>;
}

export function driverPhase(h: HostSteps, nv: NvidiaArgs | undefined, base: pulumi.Resource): DriverPhase {
  if (!nv) return { ready: [base], gpuCount: pulumi.output(0) };
  const driver = h.step('nvidia-driver', {
    create: scriptCommand(h.user, 'nvidia-driver.sh', [
      nv.driverBranch,
      '--method',
      nv.install ?? 'ubuntu-drivers',
      ...(nv.cudaPackage ? ['--cuda-package', nv.cudaPackage] : []),
    ]),
    triggers: [scriptHash('nvidia-driver.sh')],
    dependsOn: [base],
    output: true,
    customTimeouts: { create: '40m', update: '40m' },
  });
  const reboot = h.step('reboot', {
    create: scriptCommand(h.user, 'reboot-if-required.sh'),
    triggers: [scriptHash('reboot-if-required.sh'), driver.stdout],
    dependsOn: [driver],
    output: true,
  });
  const pause = rebootPause(h, 'reboot', reboot);
  const minutes = nv.rebootTimeoutMinutes ?? DEFAULT_REBOOT_MINUTES;
  const verify = h.step('verify-gpu', {
    create: reboot.stdout.apply((o) => {
      const boot = /BOOT_ID=([0-9a-f-]+)/.exec(o)?.[1];
      const extra = o.includes('REBOOTING=1') && boot ? ['--not-boot-id', boot] : [];
      return scriptCommand(h.user, 'verify-gpu.sh', [nv.driverBranch, ...extra]);
    }),
    triggers: [scriptHash('verify-gpu.sh'), reboot.stdout],
    dependsOn: [pause],
    output: true,
    // A generous dial budget: the host is rebooting (with a new kernel module) while this dials.
    connection: afterRebootConnection(h, minutes),
    customTimeouts: { create: `${minutes + 5}m`, update: `${minutes + 5}m` },
  });
  // NVSwitch boxes: Fabric Manager at the running driver's exact version (decided on the host from nvidia-smi -q).
  const fabric = h.step('nvidia-fabricmanager', {
    create: scriptCommand(h.user, 'nvidia-fabricmanager.sh', [nv.driverBranch]),
    triggers: [scriptHash('nvidia-fabricmanager.sh'), verify.stdout],
    dependsOn: [verify],
  });
  return { ready: [fabric], gpuCount: verify.stdout.apply((o) => Number(/GPU_COUNT=(\d+)/.exec(o)?.[1] ?? '0')) };
}
