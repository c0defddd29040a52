// Edge boxes on Debian bookworm / Raspberry Pi OS bookworm (the beta stack's Pi) get the edge proxy and monitoring:
// monitoring/versions.json pins the series bookworm's archive ships. Checked against this machine's own Debian
// bookworm apt archive (apt-cache policy), so a pin that bookworm cannot satisfy fails here, not on the Pi.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadMonitoringVersions, versionEnv } from '../../components/lib/monitoringConfig.js';

const osRelease = readFileSync('/etc/os-release', 'utf8');
const glob = (g: string): RegExp => new RegExp(`^${g.replace(/[.+]/g, (c) => `\\${c}`).replace(/\*/g, '.*')}$`);

describe('bookworm edge boxes', () => {
  it('every monitoring package has a bookworm pin, and the component passes it to the host scripts', () => {
    const v = loadMonitoringVersions();
    expect(Object.keys(v.debian.bookworm ?? {}).sort()).toEqual(Object.keys(v.ubuntu.noble!).sort());
    const env = versionEnv(v);
    expect(env.PIN_BOOKWORM_PROMETHEUS_NODE_EXPORTER).toBe(v.debian.bookworm!['prometheus-node-exporter']);
  });

  it.runIf(/^VERSION_CODENAME=bookworm$/m.test(osRelease))("each bookworm pin matches the version Debian bookworm's archive offers", () => {
    const pins = loadMonitoringVersions().debian.bookworm!;
    for (const [pkg, pin] of Object.entries(pins)) {
      const policy = execFileSync('apt-cache', ['policy', pkg], { encoding: 'utf8' });
      const candidate = /Candidate: (\S+)/.exec(policy)?.[1];
      expect(candidate, `${pkg}: apt-cache policy shows no candidate (apt-get update?)`).toBeDefined();
      expect(candidate, `${pkg} ${candidate} vs pin ${pin}`).toMatch(glob(pin));
    }
  });
});
