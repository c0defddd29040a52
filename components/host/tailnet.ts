// GpuHost phase 3, tailnet: install tailscaled, join with the single-use key (stdin), read the address back.
import * as pulumi from '@pulumi/pulumi';
import type { HostSteps } from '../lib/hostSteps.js';
import type { TailscaleArgs, TailscaleEnabledArgs } from '../lib/hostTypes.js';
import { scriptCommand } from '../lib/shell.js';
import { scriptHash } from '../lib/stageKeys.js';

export interface TailnetPhase {
  /** What the API's env file waits for (the address is known). */
  ready: pulumi.Resource[];
  /** The address the API binds to: the tailnet IPv4, or the configured bindAddress without Tailscale. */
  bindAddress: pulumi.Output<string>;
  tailnetAddress: pulumi.Output<string | undefined>;
  tailnetName: pulumi.Output<string | undefined>;
}

/** tailscale-up.sh's arguments for a host (a self-hosted control server's --login-server is among extraUpFlags). */
export function tailscaleUpArgs(hostname: string, ts: Pick<TailscaleEnabledArgs, 'tags' | 'extraUpFlags'>): string[] {
  return ['--hostname', hostname, '--advertise-tags', ts.tags.join(','), ...(ts.extraUpFlags ?? [])];
}

export function tailnetPhase(
  h: HostSteps,
  hostname: string,
  ts: TailscaleArgs,
  deps: { base: pulumi.Resource; firewall: pulumi.Resource },
): TailnetPhase {
  if (!ts.enabled) {
    return {
      ready: [deps.base],
      bindAddress: pulumi.output(ts.bindAddress),
      tailnetAddress: pulumi.output(undefined as string | undefined),
      tailnetName: pulumi.output(undefined as string | undefined),
    };
  }
  const install = h.step('tailscale-install', {
    create: scriptCommand(h.user, 'tailscale-install.sh'),
    triggers: [scriptHash('tailscale-install.sh')],
    dependsOn: [deps.base],
  });
  const up = h.step('tailscale-up', {
    create: scriptCommand(h.user, 'tailscale-up.sh', tailscaleUpArgs(hostname, ts)),
    stdin: ts.authKey,
    secret: true,
    triggers: [scriptHash('tailscale-up.sh')],
    dependsOn: [install, deps.firewall],
  });
  const status = h.step('tailscale-status', {
    create: scriptCommand(h.user, 'tailscale-status.sh'),
    triggers: [scriptHash('tailscale-status.sh'), hostname, ts.tags.join(',')],
    dependsOn: [up],
    output: true,
  });
  const parsed = status.stdout.apply((o) => {
    const line = o.trim().split('\n').pop() ?? '';
    const j = JSON.parse(line) as { ip?: string; dnsName?: string };
    if (!j.ip) throw new Error(`gpuHost ${h.prefix}: tailscale-status.sh reported no IPv4 address`);
    return { ip: j.ip, dnsName: j.dnsName ?? '' };
  });
  return {
    ready: [status],
    bindAddress: parsed.apply((p) => p.ip),
    tailnetAddress: parsed.apply((p) => p.ip as string | undefined),
    tailnetName: parsed.apply((p) => p.dnsName as string | undefined),
  };
}
