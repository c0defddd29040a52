// Shared helpers of the monitoring suites: paths, running the real tools (promtool, amtool, shellcheck, bash), the
// metric-name fixtures, and extracting metric names from PromQL (rules and dashboard queries).
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const MONITORING = path.join(ROOT, 'monitoring');
export const SCRIPTS = path.join(ROOT, 'components/scripts/monitoring');
export const RULE_FILES = readdirSync(path.join(MONITORING, 'rules'))
  .filter((f) => f.endsWith('.yml'))
  .map((f) => path.join(MONITORING, 'rules', f));
export const RULE_TEST_FILES = readdirSync(path.join(ROOT, 'tests/monitoring/rules'))
  .filter((f) => f.endsWith('.test.yml'))
  .map((f) => path.join(ROOT, 'tests/monitoring/rules', f));
export const DASHBOARDS = readdirSync(path.join(MONITORING, 'grafana/dashboards'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => path.join(MONITORING, 'grafana/dashboards', f));

/** Fails with a clear message when a required tool is missing (never skips silently). */
export function requireTool(bin: string, pkg: string): string {
  const found = ['/usr/bin', '/usr/local/bin', '/bin'].map((d) => path.join(d, bin)).find((p) => existsSync(p));
  if (!found) throw new Error(`${bin} is not installed: apt-get install ${pkg} (.ci/run installs it)`);
  return found;
}

export function run(cmd: string, args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): SpawnSyncReturns<string> {
  return spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, input: opts.input, env: opts.env ?? process.env, cwd: opts.cwd });
}

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export function loadAlertRules(): AlertRule[] {
  return RULE_FILES.flatMap((f) => {
    const doc = parse(readFileSync(f, 'utf8')) as { groups: { rules: (AlertRule & { record?: string })[] }[] };
    return doc.groups.flatMap((g) => g.rules.filter((r) => r.alert));
  });
}

export interface DashboardTarget {
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: DashboardTarget[];
  gridPos: { x: number; y: number; w: number; h: number };
}

export function loadDashboard(file: string): { uid: string; title: string; panels: DashboardPanel[]; templating?: { list: { datasource?: { uid?: string }; query?: unknown }[] } } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

export function dashboardExprs(): string[] {
  return DASHBOARDS.flatMap((f) => loadDashboard(f).panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')));
}

/** Replaces Grafana's template variables with values Prometheus accepts. */
export function grafanaToPromql(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval/g, '1m').replace(/\$host/g, '.*');
}

/** Metric name -> type from a fixture file (`name type` per line; histograms expand to _bucket/_sum/_count). */
export function loadFixture(file: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const line of readFileSync(path.join(MONITORING, 'fixtures', file), 'utf8').split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const [name, type] = t.split(/\s+/);
    names.set(name!, type!);
  }
  return names;
}

/** Every series name a metric family exposes (histogram/summary parts included). */
export function seriesNames(families: Map<string, string>): Set<string> {
  const out = new Set<string>();
  for (const [name, type] of families) {
    out.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) out.add(name + s);
  }
  return out;
}

/** Families (name -> type) and sample names from Prometheus text exposition. */
export function parseExposition(text: string): { families: Map<string, string>; samples: Set<string> } {
  const families = new Map<string, string>();
  const samples = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)/.exec(line);
    if (m) families.set(m[1]!, m[2]!);
    else if (line && !line.startsWith('#')) samples.add(/^[^{\s]+/.exec(line)![0]);
  }
  return { families, samples };
}

const PROMQL_KEYWORDS = new Set([
  'and', 'or', 'unless', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'offset', 'bool', 'inf', 'nan',
]);

/**
 * Metric names referenced by a PromQL expression: identifiers outside strings, label matchers, range selectors and
 * grouping clauses, that are not function calls or keywords.
 */
export function metricNamesIn(expr: string): Set<string> {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  // Durations and numbers (1m, 0.05, 1e9) are not names.
  s = s.replace(/\b\d+(\.\d+)?(e[+-]?\d+)?[smhdwy]?\b/gi, ' ');
  const out = new Set<string>();
  const re = /([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s))) {
    const [, name, call] = m;
    if (call) continue;
    if (PROMQL_KEYWORDS.has(name!.toLowerCase())) continue;
    out.add(name!);
  }
  return out;
}

/** Like run(), but without blocking the event loop (needed while in-process servers such as the stub must answer). */
export function runAsync(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const t = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    p.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    p.once('error', reject);
    p.once('close', (status) => {
      clearTimeout(t);
      resolve({ status, stdout, stderr });
    });
  });
}
