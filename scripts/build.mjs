#!/usr/bin/env node
// Bundles the deployable artifacts:
//   api    → services/inference-api/dist/server.mjs  (one file, runs with plain `node`, no node_modules)
//   stub   → services/model-stub/dist/stub.mjs        (installed on CPU test hosts by the e2e stack)
//   worker → services/edge-worker/dist/worker.js      (the ES module uploaded as cloudflare.WorkersScript content)
//   web    → services/web/dist                         (Vite build; VITE_* variables from the environment)
// `node scripts/build.mjs` builds all of them; pass names to build a subset.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';

import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = (p) => path.join(root, p);
// BUILD_OUT_DIR (tests): write every bundle under that folder instead of services/*/dist.
const outDir = process.env.BUILD_OUT_DIR ? path.resolve(process.env.BUILD_OUT_DIR) : undefined;
const out = (target, p) => (outDir ? path.join(outDir, target, path.basename(p)) : at(p));

// A build is a production build whatever the caller's shell or test runner set (vitest sets NODE_ENV=test): with
// NODE_ENV=development Vite bundles Preact's dev JSX runtime, which embeds each component's absolute source path.
process.env.NODE_ENV = 'production';

// CJS dependencies (express, pino) call require() for Node built-ins; give the ESM bundle one.
const nodeBanner = {
  js: "import { createRequire as __fudCreateRequire } from 'node:module'; const require = __fudCreateRequire(import.meta.url);",
};

const nodeBundle = (entry, outfile) => ({
  entryPoints: [at(entry)],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  banner: nodeBanner,
  sourcemap: false,
  minify: false,
  legalComments: 'none',
  logLevel: 'warning',
});

// Write next to the target, then rename: a test starting the bundle never reads a half-written file.
async function atomicBuild(options) {
  const tmp = `${options.outfile}.${process.pid}.tmp`;
  // BUILD_METAFILE=<path>: also write esbuild's metafile (what each input adds), for the bundle-size reports.
  const result = await build({ ...options, outfile: tmp, metafile: Boolean(process.env.BUILD_METAFILE) });
  renameSync(tmp, options.outfile);
  if (process.env.BUILD_METAFILE) writeFileSync(process.env.BUILD_METAFILE, JSON.stringify({ outfile: tmp, ...result.metafile }));
}

const targets = {
  api: () => atomicBuild(nodeBundle('services/inference-api/src/main.ts', out('api', 'services/inference-api/dist/server.mjs'))),
  stub: () => atomicBuild(nodeBundle('services/model-stub/src/main.ts', out('stub', 'services/model-stub/dist/stub.mjs'))),
  worker: () =>
    atomicBuild({
      entryPoints: [at('services/edge-worker/src/index.ts')],
      outfile: out('worker', 'services/edge-worker/dist/worker.js'),
      bundle: true,
      platform: 'neutral',
      conditions: ['workerd', 'worker', 'browser'],
      // Durable Object RPC needs the runtime's own base class; workerd provides the module.
      external: ['cloudflare:workers'],
      mainFields: ['module', 'main'],
      target: 'es2022',
      format: 'esm',
      // prompts/ is the single source of system prompts: bundled as text for the fallback path.
      loader: { '.md': 'text' },
      define: { 'process.env.NODE_ENV': '"production"' },
      legalComments: 'none',
      logLevel: 'warning',
    }),
  web: () => {
    execFileSync(process.execPath, [at('node_modules/vite/bin/vite.js'), 'build', '--config', at('services/web/vite.config.ts')], {
      cwd: at('services/web'),
      env: { ...process.env, NODE_ENV: 'production', ...(outDir ? { WEB_OUT_DIR: path.join(outDir, 'web') } : {}) },
      stdio: 'inherit',
    });
  },
};

const wanted = process.argv.slice(2);
const names = wanted.length ? wanted : Object.keys(targets);
for (const name of names) {
  if (!targets[name]) {
    console.error(`build: unknown target "${name}" (known: ${Object.keys(targets).join(', ')})`);
    process.exit(2);
  }
}
for (const name of names) {
  const t0 = Date.now();
  await targets[name]();
  console.log(`build: ${name} ok (${Date.now() - t0} ms)`);
}
