// The host footprint list (components/lib/hostFootprint.ts) is the one place: docs/host.md's table is generated
// from it, and the teardown step passes exactly it to teardown.sh.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  EXPORTERS_TEARDOWN,
  exportersTeardownArgs,
  footprintTable,
  KEPT,
  MONITORING_DIRS,
  MONITORING_SERVER_TEARDOWN,
  serverTeardownArgs,
  TEARDOWN,
  teardownArgs,
} from '../../components/lib/hostFootprint.js';

const repo = path.resolve(import.meta.dirname, '../..');

describe('host footprint: one list for teardown, docs and the VM check', () => {
  it("docs/host.md's table is the list's rendering", () => {
    const doc = readFileSync(path.join(repo, 'docs/host.md'), 'utf8');
    const m = /<!-- footprint:start[^>]*-->\n([\s\S]*?)\n<!-- footprint:end -->/.exec(doc);
    expect(m, 'footprint markers in docs/host.md').not.toBeNull();
    expect(m![1]).toBe(footprintTable());
  });

  it('teardown.sh gets every unit, path, user and glob of the list, each once, and every kept item says why', () => {
    const args = teardownArgs();
    const values = (flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
    expect(values('--unit')).toEqual([...TEARDOWN.units]);
    expect(values('--path')).toEqual([...TEARDOWN.paths]);
    expect(values('--user')).toEqual([...TEARDOWN.users]);
    expect(values('--glob')).toEqual([...TEARDOWN.globs]);
    expect(args.length).toBe(2 * (TEARDOWN.units.length + TEARDOWN.paths.length + TEARDOWN.users.length + TEARDOWN.globs.length));
    for (const k of KEPT) expect(k.why.length, k.what).toBeGreaterThan(20);
  });

  it('teardown.sh only removes what its guards allow (our prefixes), so the list cannot point it elsewhere', () => {
    const script = readFileSync(path.join(repo, 'components/scripts/teardown.sh'), 'utf8');
    for (const p of TEARDOWN.paths) expect(p.startsWith('/etc/fudbuddy') || p.startsWith('/opt/fudbuddy/'), p).toBe(true);
    for (const u of TEARDOWN.users) expect(u.startsWith('fudbuddy-'), u).toBe(true);
    expect(script).toContain('refusing to remove');
  });

  it("the exporters' teardown removes the monitoring lib.sh's own directories and every unit the payload ships, never the firewall", () => {
    const lib = readFileSync(path.join(repo, 'components/scripts/monitoring/lib.sh'), 'utf8');
    const dirs = ['CONF_DIR', 'LIB_DIR'].map((v) => new RegExp(`^${v}=(\\S+)$`, 'm').exec(lib)?.[1]);
    expect(dirs).toEqual([MONITORING_DIRS.conf, MONITORING_DIRS.lib]);
    expect([...EXPORTERS_TEARDOWN.paths].sort()).toEqual(dirs.sort());
    const args = exportersTeardownArgs();
    for (const u of EXPORTERS_TEARDOWN.units) expect(readFileSync(path.join(repo, 'components/scripts/monitoring/units', u), 'utf8').length, u).toBeGreaterThan(0);
    expect(args.filter((a, i) => args[i - 1] === '--unit')).toEqual([...EXPORTERS_TEARDOWN.units]);
    expect(args).toContain('--keep-firewall');
  });
});

describe("monitoring server footprint: server-teardown.sh's lists", () => {
  const script = readFileSync(path.join(repo, 'components/scripts/monitoring/server-teardown.sh'), 'utf8');
  const guard = /case \$path in\n([\s\S]*?)\) ;;/.exec(script)![1]!;
  const patterns = guard.split('|').map((p) => p.replace(/\\\n/g, '').trim()).filter(Boolean);
  const allowed = (p: string) =>
    patterns.some((pat) => {
      const resolved = pat.replace('"$CONF_DIR"', MONITORING_DIRS.conf).replace('"$LIB_DIR"', MONITORING_DIRS.lib);
      return new RegExp(`^${resolved.replace(/[.+]/g, '\\$&').replace(/\*/g, '[^/]*')}$`).test(p);
    });

  it('passes every stopped service, unit and path once, and every path is one its guard allows', () => {
    const args = serverTeardownArgs();
    const values = (flag: string): string[] => args.flatMap((a, i) => (args[i - 1] === flag ? [a] : []));
    const s = MONITORING_SERVER_TEARDOWN;
    expect(values('--stop')).toEqual([...s.stopped]);
    expect(values('--unit')).toEqual([...s.units]);
    expect(values('--path')).toEqual([...s.paths]);
    expect(patterns.length).toBeGreaterThan(5);
    for (const p of s.paths) expect(allowed(p), p).toBe(true);
    // The guard is a real one: neither the host's own paths nor the packages' settings pass it.
    for (const p of ['/etc/fudbuddy', '/etc/prometheus/prometheus.yml', '/etc/default/prometheus', '/etc']) expect(allowed(p), p).toBe(false);
  });

});
