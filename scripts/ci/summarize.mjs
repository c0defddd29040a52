#!/usr/bin/env node
// The plain closing line CI reads: "N passed, N failed, N skipped" over vitest JSON reports.
//   node scripts/ci/summarize.mjs REPORT[=CONFIG] ...
// A missing REPORT whose suite printed SKIPPED (e.g. the real-engine suite without its toolchain) counts that suite's
// tests as skipped: with `=CONFIG` they are listed with `vitest list --config CONFIG`, so the line never claims
// "0 skipped" for a suite that did not run. Exits 1 when no test ran at all.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

let passed = 0;
let failed = 0;
let skipped = 0;
for (const arg of process.argv.slice(2)) {
  const [report, config] = arg.split('=');
  if (existsSync(report)) {
    const r = JSON.parse(readFileSync(report, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += r.numPendingTests + r.numTodoTests;
  } else if (config) {
    const listed = execFileSync('npx', ['vitest', 'list', '--config', config, '--json'], { encoding: 'utf8', maxBuffer: 64 << 20 });
    const n = JSON.parse(listed.slice(listed.indexOf('['))).length;
    console.error(`summary: ${report} missing: ${n} test(s) of ${config} did not run, counted as skipped`);
    skipped += n;
  } else {
    console.error(`summary: ${report} missing`);
  }
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
if (passed + failed === 0) process.exit(1);
