#!/usr/bin/env node
// Builds the edge Worker exactly as a deployment does (scripts/build.mjs worker) and reports what it ships: the
// module raw and gzipped (level 9), and what each package adds to it. Writes the `worker-bundle` section of
// docs/benchmarks.md. Usage: node services/edge-worker/scripts/bundle-size.mjs [--no-write]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const kB = (n) => (n / 1000).toFixed(1);
const dir = mkdtempSync(path.join(tmpdir(), 'fudbuddy-worker-size-'));
let meta;
try {
  const metafile = path.join(dir, 'meta.json');
  execFileSync(process.execPath, ['scripts/build.mjs', 'worker'], { cwd: root, env: { ...process.env, BUILD_METAFILE: metafile }, stdio: ['ignore', 'ignore', 'inherit'] });
  meta = JSON.parse(readFileSync(metafile, 'utf8'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const bundle = readFileSync(path.join(root, 'services/edge-worker/dist/worker.js'));
const inputs = Object.values(meta.outputs)[0].inputs;
const byPackage = new Map();
for (const [file, { bytesInOutput }] of Object.entries(inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const name = m ? m[1] : file.startsWith('prompts/') ? 'prompts (text)' : 'FUD Buddy code';
  byPackage.set(name, (byPackage.get(name) ?? 0) + bytesInOutput);
}
const rows = [...byPackage].sort((a, b) => b[1] - a[1]).map(([name, bytes]) => `| ${name} | ${kB(bytes)} | ${((100 * bytes) / bundle.length).toFixed(0)} % |`);
const section = [
  'Edge Worker module (`services/edge-worker/dist/worker.js`, the file Pulumi uploads). Command:',
  `\`node services/edge-worker/scripts/bundle-size.mjs\` (measured ${new Date().toISOString().slice(0, 10)}, esbuild, not minified; gzip level 9; kB = 1000 bytes).`,
  '',
  `- Now: ${kB(bundle.length)} kB raw, ${kB(gzipSync(bundle, { level: 9 }).length)} kB gzipped.`,
  '- Before (zod, fetch-based Durable Objects; measured on the previous tree with `gzip -6`): 554.0 kB raw, 91.1 kB gzipped, zod 82 % of it (issue 11).',
  '',
  '| part | raw kB | share |',
  '| --- | ---: | ---: |',
  ...rows,
].join('\n');
console.log(section);
if (!process.argv.includes('--no-write')) {
  const file = path.join(root, 'docs/benchmarks.md');
  const text = readFileSync(file, 'utf8');
  const start = '<!-- section:worker-bundle:start -->';
  const end = '<!-- section:worker-bundle:end -->';
  const block = `${start}\n${section}\n${end}`;
  writeFileSync(file, text.includes(start) ? text.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block) : `${text.trimEnd()}\n\n${block}\n`);
}
