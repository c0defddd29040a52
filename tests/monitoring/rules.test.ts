// The alert rules, checked with the real promtool (Debian's prometheus package): syntax, unit tests with synthetic
// series for every alert (fires AND stays quiet), and their documentation in docs/monitoring.md.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { loadAlertRules, requireTool, ROOT, RULE_FILES, RULE_TEST_FILES, run } from './support.js';

const promtool = requireTool('promtool', 'prometheus');
const tmp = mkdtempSync(path.join(tmpdir(), 'fudbuddy-rules-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface RuleTestFile {
  rule_files: string[];
  tests: { name?: string; alert_rule_test?: { alertname: string; eval_time: string; exp_alerts?: unknown[] }[] }[];
}
const testDocs = RULE_TEST_FILES.map((f) => ({ file: f, doc: parse(readFileSync(f, 'utf8')) as RuleTestFile }));
const alerts = loadAlertRules();

describe('alert rules (promtool)', () => {
  it('there are rule files and alerts to check', () => {
    expect(RULE_FILES.length).toBeGreaterThan(0);
    expect(alerts.length).toBeGreaterThanOrEqual(15);
    expect(RULE_TEST_FILES.length).toBeGreaterThan(0);
  });

  it('promtool check rules accepts every rule file', () => {
    const r = run(promtool, ['check', 'rules', ...RULE_FILES]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('promtool check rules rejects a broken rule (the check is real)', () => {
    const bad = path.join(tmp, 'bad.yml');
    writeFileSync(bad, stringify({ groups: [{ name: 'g', rules: [{ alert: 'Broken', expr: 'sum(rate(x[5m])' }] }] }));
    const r = run(promtool, ['check', 'rules', bad]);
    expect(r.status).not.toBe(0);
  });

  it('promtool test rules: every unit test passes', () => {
    const r = run(promtool, ['test', 'rules', ...RULE_TEST_FILES]);
    expect(r.status, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('SUCCESS');
    expect(r.stdout).not.toContain('FAILED');
  });

  it('alert names are unique and each has severity, summary, description and a runbook link', () => {
    const names = alerts.map((a) => a.alert);
    expect(new Set(names).size).toBe(names.length);
    for (const a of alerts) {
      expect(['warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      expect(a.annotations?.runbook_url, a.alert).toBe(`docs/monitoring.md#${a.alert.toLowerCase()}`);
    }
  });

  it('every alert has a unit test where it fires and one where it stays quiet', () => {
    const fires = new Set<string>();
    const quiet = new Set<string>();
    for (const { doc } of testDocs) {
      for (const t of doc.tests) {
        for (const c of t.alert_rule_test ?? []) {
          if ((c.exp_alerts ?? []).length > 0) fires.add(c.alertname);
          else quiet.add(c.alertname);
        }
      }
    }
    const missing = alerts.flatMap((a) => [
      ...(fires.has(a.alert) ? [] : [`${a.alert}: no case where it fires`]),
      ...(quiet.has(a.alert) ? [] : [`${a.alert}: no case where it stays quiet`]),
    ]);
    expect(missing).toEqual([]);
    // A test for an alert that does not exist is a stale test.
    const known = new Set(alerts.map((a) => a.alert));
    expect([...fires, ...quiet].filter((n) => !known.has(n))).toEqual([]);
  });

  it('the unit tests catch a changed threshold (a rule mutated to never fire fails its tests)', () => {
    // Copy the rules with FudbuddyGpuTemperatureHigh raised to 150 °C and run the same tests against the copy.
    const rulesDir = path.join(tmp, 'mutated-rules');
    const testsDir = path.join(tmp, 'mutated-tests');
    for (const d of [rulesDir, testsDir]) rmSync(d, { recursive: true, force: true });
    mkdirSync(rulesDir, { recursive: true });
    mkdirSync(testsDir, { recursive: true });
    for (const f of RULE_FILES) {
      const text = readFileSync(f, 'utf8').replace('nvidia_smi_temperature_celsius > 85', 'nvidia_smi_temperature_celsius > 150');
      writeFileSync(path.join(rulesDir, path.basename(f)), text);
    }
    for (const { file, doc } of testDocs) {
      const copy = { ...doc, rule_files: doc.rule_files.map((r) => path.join(rulesDir, path.basename(r))) };
      writeFileSync(path.join(testsDir, path.basename(file)), stringify(copy));
    }
    const r = run(promtool, ['test', 'rules', ...testDocs.map(({ file }) => path.join(testsDir, path.basename(file)))]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('FudbuddyGpuTemperatureHigh');
  });

  it('rules stay within what the oldest pinned Prometheus (2.31, Ubuntu jammy) understands', () => {
    for (const f of RULE_FILES) {
      const text = readFileSync(f, 'utf8');
      // keep_firing_for arrived in 2.42; native-histogram functions in 2.40+.
      expect(text).not.toMatch(/keep_firing_for|histogram_(count|sum|fraction|avg|stddev|stdvar)\(/);
    }
  });
});

describe('runbook: docs/monitoring.md', () => {
  const doc = readFileSync(path.join(ROOT, 'docs/monitoring.md'), 'utf8');

  it('has a section for every alert, saying what it means and what to do', () => {
    const problems: string[] = [];
    for (const a of alerts) {
      const heading = new RegExp(`^###\\s+${a.alert}\\s*$`, 'm').exec(doc);
      if (!heading) {
        problems.push(`${a.alert}: no "### ${a.alert}" heading`);
        continue;
      }
      const rest = doc.slice(heading.index + heading[0].length);
      const section = rest.slice(0, rest.search(/^#{2,3}\s/m) === -1 ? undefined : rest.search(/^#{2,3}\s/m));
      if (!/\*\*Means:\*\*/.test(section)) problems.push(`${a.alert}: no **Means:** line`);
      if (!/\*\*Do:\*\*/.test(section)) problems.push(`${a.alert}: no **Do:** line`);
    }
    expect(problems).toEqual([]);
  });

  it('has the "where to look when something breaks" section (Sentry, Workers logs, journald, Grafana)', () => {
    const m = /^## Where to look when something breaks[\s\S]*?(?=^## |(?![\s\S]))/m.exec(doc);
    expect(m, 'section missing').toBeTruthy();
    for (const word of ['Sentry', 'Workers', 'observability', 'journalctl', 'Grafana', 'wrangler tail']) expect(m![0]).toContain(word);
  });
});
