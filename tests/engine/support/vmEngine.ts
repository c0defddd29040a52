// What the real-engine VM suites (tests/engine/*.vm.test.ts) ask of a stack and its VMs: timed `pulumi` runs,
// what the last update changed, which remote commands ran (every remote step runs through `sudo -n`, so sudo's own
// log on the guest counts them), and what a destroy left of components/lib/hostFootprint.ts's list.
import { EXPORTERS_TEARDOWN, MONITORING_DIRS, MONITORING_SERVER_TEARDOWN, TEARDOWN } from '../../../components/lib/hostFootprint.js';
import type { Vm } from '../../support/vm.js';
import { expectOk, parseJson, type RunResult, type Workspace } from './engine.js';

export interface StackRunner {
  /** Output of every `up`, `preview` and `destroy` run through this runner (the secret audit reads them). */
  readonly outputs: string[];
  pulumi(args: string[], timeoutMs?: number, stdin?: string): Promise<RunResult>;
  /** Runs `pulumi <args>`, requires success, prints `<what>: N s`; returns the result and the seconds. */
  timed(what: string, args: string[], timeoutMs: number): Promise<RunResult & { seconds: number }>;
  /** resourceChanges of the newest update in `pulumi stack history`. */
  changesOfLastUpdate(): Promise<Record<string, number>>;
  /** `pulumi config set --path` (plain values). */
  set(path: string, value: string): Promise<void>;
}

export function stackRunner(ws: Workspace, stack: string): StackRunner {
  const outputs: string[] = [];
  const pulumi: StackRunner['pulumi'] = async (args, timeoutMs, stdin) => {
    const r = await ws.pulumi([...args, '--stack', stack], { timeoutMs, stdin });
    if (['up', 'preview', 'destroy'].includes(args[0]!)) outputs.push(r.output);
    return r;
  };
  return {
    outputs,
    pulumi,
    async timed(what, args, timeoutMs) {
      const t0 = Date.now();
      const r = expectOk(await pulumi(args, timeoutMs), what);
      const seconds = (Date.now() - t0) / 1000;
      console.log(`${what}: ${seconds.toFixed(1)} s`);
      return { ...r, seconds };
    },
    async changesOfLastUpdate() {
      const history = parseJson<Array<{ resourceChanges?: Record<string, number> }>>(expectOk(await pulumi(['stack', 'history', '--json']), 'history').stdout);
      return history[0]!.resourceChanges ?? {};
    },
    async set(path, value) {
      expectOk(await pulumi(['config', 'set', '--path', path, value]), `config set ${path}`);
    },
  };
}

/** The guest's clock, in the form journalctl's --since takes. */
export async function vmNow(vm: Vm): Promise<string> {
  return (await vm.ssh("date '+%Y-%m-%d %H:%M:%S'")).stdout.trim();
}

/** sudo runs on the VM since `since` (this query's own journalctl line is not counted). */
export async function sudoRunsSince(vm: Vm, since: string): Promise<number> {
  const r = await vm.ssh(`sudo -n journalctl --no-pager -o cat _COMM=sudo --since '${since}' | grep 'COMMAND=' | grep -vc 'COMMAND=/usr/bin/journalctl' || true`);
  return Number(r.stdout.trim());
}

/** When each remote step started on the VM since `since` (seconds after the first), from sudo's own log. */
export async function remoteTimeline(vm: Vm, since: string): Promise<string> {
  const steps = await vm.ssh(`sudo -n journalctl --no-pager -o short-unix _COMM=sudo --since '${since}' | grep 'COMMAND=' | grep -v journalctl`);
  const rows = steps.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const argv = l.replace(/^.*COMMAND=/, '').split(' ');
      // The script a step runs: the first argument naming a .sh (after `bash`, or the command itself).
      return [l.split(' ')[0]!, (argv.find((a) => a.endsWith('.sh')) ?? argv[0]!).split('/').pop()!] as const;
    });
  const t0 = Number(rows[0]?.[0] ?? 0);
  return rows.map(([t, c]) => `  ${(Number(t) - t0).toFixed(0).padStart(5)}  ${c}`).join('\n');
}

/** What of hostFootprint's removed lists (the host's and the monitoring exporters') is still on the VM: empty after a clean destroy. */
export async function footprintLeft(vm: Vm): Promise<string> {
  const r = await vm.ssh(
    [
      'ls /etc/systemd/system | grep -E "^(fudbuddy|vllm)" | grep -v "^fudbuddy-seed" || true',
      'systemctl list-units --all --no-legend "fudbuddy*" "vllm*" | grep -v -e not-found -e fudbuddy-seed || true',
      `for p in ${[...TEARDOWN.paths, ...TEARDOWN.globs, ...EXPORTERS_TEARDOWN.paths].join(' ')}; do [ -e "$p" ] && echo "$p"; done`,
      `for u in ${TEARDOWN.users.join(' ')}; do getent passwd "$u"; getent group "$u"; done`,
      'true',
    ].join('; '),
  );
  return r.stdout.trim();
}

/** What of the monitoring server's list (MONITORING_SERVER_TEARDOWN) is on the VM: its services running, our units and paths. */
export async function serverFootprintLeft(vm: Vm): Promise<string> {
  const s = MONITORING_SERVER_TEARDOWN;
  const r = await vm.ssh(
    [
      `for u in ${s.stopped.join(' ')}; do systemctl is-active --quiet "$u" && echo "$u active"; done`,
      `for u in ${s.units.join(' ')}; do [ -e "/etc/systemd/system/$u" ] && echo "$u"; done`,
      `for p in ${[...s.paths, MONITORING_DIRS.lib].join(' ')}; do sudo -n test -e "$p" && echo "$p"; done`,
      'true',
    ].join('; '),
  );
  return r.stdout.trim();
}
