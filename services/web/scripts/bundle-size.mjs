#!/usr/bin/env node
// Builds the web client like a deployment would (scripts/build.mjs web) into a temporary directory and
// reports the JS it ships, raw and gzipped (level 9), with and without Sentry; writes the
// `web-bundle` section of docs/benchmarks.md. Usage: node services/web/scripts/bundle-size.mjs [--no-write]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const kB = (n) => (n / 1000).toFixed(1);

function measure(label, extraEnv) {
  const out = mkdtempSync(path.join(tmpdir(), 'fudbuddy-web-size-'));
  try {
    const env = { ...process.env, ...extraEnv, WEB_OUT_DIR: out };
    for (const k of Object.keys(env)) if (k.startsWith('VITE_') && !(k in extraEnv)) delete env[k];
    execFileSync(process.execPath, ['scripts/build.mjs', 'web'], { cwd: root, env, stdio: ['ignore', 'ignore', 'inherit'] });
    const assets = path.join(out, 'assets');
    const html = readFileSync(path.join(out, 'index.html'), 'utf8');
    const files = readdirSync(assets)
      .filter((f) => f.endsWith('.js') || f.endsWith('.css'))
      .map((f) => {
        const buf = readFileSync(path.join(assets, f));
        const initial = html.includes(`/assets/${f}`);
        return { file: f, kind: f.endsWith('.js') ? 'js' : 'css', initial, raw: buf.length, gzip: gzipSync(buf, { level: 9 }).length, brotli: brotliCompressSync(buf).length };
      });
    return { label, files };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const base = { VITE_AI_ENV: 'production', VITE_AI_API_BASE_URL: 'https://api.example.com', VITE_AI_CLIENT_ID: 'fudbuddy-web' };
const runs = [measure('Sentry off (no VITE_SENTRY_DSN)', base), measure('Sentry on (VITE_SENTRY_DSN set)', { ...base, VITE_SENTRY_DSN: 'https://public@o0.ingest.sentry.io/0' })];

const rows = [];
for (const r of runs) {
  for (const f of r.files) {
    const name = f.file.replace(/-[A-Za-z0-9_-]{8}\./, '.');
    rows.push(`| ${r.label} | ${name} | ${f.initial ? 'initial' : 'lazy'} | ${kB(f.raw)} | ${kB(f.gzip)} | ${kB(f.brotli)} |`);
  }
}
const initialJs = (r) => r.files.filter((f) => f.kind === 'js' && f.initial).reduce((n, f) => n + f.gzip, 0);
const allJs = (r) => r.files.filter((f) => f.kind === 'js').reduce((n, f) => n + f.gzip, 0);
const summary = runs.map((r) => `- ${r.label}: initial JS ${kB(initialJs(r))} kB gzipped; all JS ${kB(allJs(r))} kB gzipped (goal < 60 kB).`);

const section = [
  'Web client bundle (Preact + aiService), production build. Command: `node services/web/scripts/bundle-size.mjs`',
  `(measured ${new Date().toISOString().slice(0, 10)}, vite 8, gzip level 9; kB = 1000 bytes).`,
  '',
  ...summary,
  '',
  '| build | file | loaded | raw kB | gzip kB | brotli kB |',
  '| --- | --- | --- | ---: | ---: | ---: |',
  ...rows,
  '',
  'The Sentry SDK is a separate chunk fetched only when the build sets VITE_SENTRY_DSN; without it the chunk is not built.',
].join('\n');

console.log(section);
if (!process.argv.includes('--no-write')) {
  const doc = path.join(root, 'docs/benchmarks.md');
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- section:web-bundle:start -->';
  const end = '<!-- section:web-bundle:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a === -1 || b < a) throw new Error(`docs/benchmarks.md has no ${start} … ${end} markers`);
  writeFileSync(doc, `${text.slice(0, a + start.length)}\n${section}\n${text.slice(b)}`);
  console.log('\nwrote the web-bundle section of docs/benchmarks.md');
}
