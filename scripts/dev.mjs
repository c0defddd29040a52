#!/usr/bin/env node
// `npm run dev`: the whole FUD Buddy data path on this machine, wired with fresh local secrets:
//   model stub :8000 ← inference API :8001 ← edge Worker in workerd (Miniflare) :8787 ← web client (Vite) :5173
// DEV_STUB_PORT, DEV_API_PORT, DEV_WORKER_PORT, DEV_WEB_PORT override the ports. DEV_FALLBACK=stub starts a
// second stub as a stand-in for the public OpenAI API (DEV_FALLBACK_PORT, default 8010); DEV_FALLBACK=openai
// uses the real one with OPENAI_API_KEY from the environment (never picked up without asking: it costs money). Secrets are generated in memory, passed through the
// environment (children) or bindings (Worker), and never printed. Ctrl-C stops everything.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync, watch } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Miniflare } from 'miniflare';
import { DevError, PORTS, assertPortFree, readPorts } from './dev/ports.mjs';
import { prefixer, say, startChild, stopChild, waitHealthy } from './dev/processes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = (p) => path.join(root, p);
const DEV_CLIENT_ID = 'fudbuddy-dev';
const secret = () => randomBytes(32).toString('base64url');

// Worker bindings a developer may set in the environment to try them locally (e.g. INVITE_CODES): the secrets
// below and every numeric setting of services/edge-worker/src/defaults.ts.
const PASSTHROUGH_SECRETS = ['INVITE_CODES', 'METRICS_TOKEN'];

const children = [];
let mf;
let watcher;
let stopping;

async function shutdown(code, why) {
  if (stopping) return stopping;
  stopping = (async () => {
    if (why) say(why);
    watcher?.close();
    const running = [...children].reverse();
    await Promise.all([mf?.dispose().catch(() => undefined), ...running.map((c) => stopChild(c))]);
    if (running.length > 0 || mf) say('stopped');
    process.exit(code);
  })();
  return stopping;
}

function baseEnv() {
  // Children get PATH/HOME and the like, not the developer's whole environment (no stray secrets).
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TERM', 'NODE_OPTIONS', 'NO_COLOR', 'FORCE_COLOR'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

function buildWorker() {
  execFileSync(process.execPath, [at('scripts/build.mjs'), 'worker'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs);
  }
  return newest;
}

/** Rebuild only when a source is newer than the bundle: other runs (tests) may be reading that file. */
function workerBundleStale() {
  const bundle = at('services/edge-worker/dist/worker.js');
  if (!existsSync(bundle)) return true;
  const sources = ['services/edge-worker/src', 'services/common', 'prompts'].map((d) => newestMtime(at(d)));
  return Math.max(...sources, statSync(at('scripts/build.mjs')).mtimeMs) > statSync(bundle).mtimeMs;
}

async function main() {
  const ports = readPorts(process.env);
  const fallbackMode = process.env.DEV_FALLBACK || 'off';
  if (!['off', 'stub', 'openai'].includes(fallbackMode)) {
    throw new DevError(`DEV_FALLBACK must be "off", "stub" or "openai" (got "${fallbackMode}")`);
  }
  if (fallbackMode === 'openai' && !process.env.OPENAI_API_KEY) {
    throw new DevError('DEV_FALLBACK=openai needs OPENAI_API_KEY in the environment');
  }
  const webConfig = at('services/web/vite.config.ts');
  const withWeb = existsSync(webConfig);
  for (const spec of PORTS) {
    if (spec.key === 'web' && !withWeb) continue;
    if (spec.key === 'fallback' && fallbackMode !== 'stub') continue;
    await assertPortFree(spec, ports[spec.key]);
  }

  const serviceToken = secret();
  const upstreamKey = secret();
  const fallbackKey = secret();
  const loopback = (port) => `http://127.0.0.1:${port}`;

  if (workerBundleStale()) {
    say('building the Worker bundle');
    buildWorker();
  }

  const stubEnv = { ...baseEnv(), HOST: '127.0.0.1', STUB_MODEL: 'fudbuddy-dev', STUB_TOKENS_PER_SEC: process.env.STUB_TOKENS_PER_SEC ?? '30', STUB_COMPLETION_TOKENS: process.env.STUB_COMPLETION_TOKENS ?? '40' };
  const stubMain = at('services/model-stub/src/main.ts');
  const stub = startChild('stub', ['--import', 'tsx', stubMain], { cwd: root, env: { ...stubEnv, PORT: String(ports.stub), STUB_API_KEY: upstreamKey } });
  children.push(stub);
  let fallbackStub;
  if (fallbackMode === 'stub') {
    fallbackStub = startChild('fallback', ['--import', 'tsx', stubMain], { cwd: root, env: { ...stubEnv, PORT: String(ports.fallback), STUB_MODEL: 'openai-stand-in', STUB_API_KEY: fallbackKey } });
    children.push(fallbackStub);
  }
  await waitHealthy('stub', `${loopback(ports.stub)}/health`, { child: stub.child });
  if (fallbackStub) await waitHealthy('fallback stub', `${loopback(ports.fallback)}/health`, { child: fallbackStub.child });

  const api = startChild('api', ['--import', 'tsx', at('services/inference-api/src/main.ts')], {
    cwd: root,
    env: {
      ...baseEnv(),
      HOST: '127.0.0.1',
      PORT: String(ports.api),
      UPSTREAM_BASE_URL: `${loopback(ports.stub)}/v1`,
      UPSTREAM_API_KEY: upstreamKey,
      UPSTREAM_MODEL: 'fudbuddy-dev',
      API_TOKENS: serviceToken,
      PROMPTS_DIR: at('prompts'),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      SHUTDOWN_GRACE_MS: '2000',
    },
  });
  children.push(api);
  await waitHealthy('api', `${loopback(ports.api)}/healthz`, { child: api.child });

  const webOrigins = [`http://localhost:${ports.web}`, `http://127.0.0.1:${ports.web}`];
  const bindings = {
    ORIGIN_URL: loopback(ports.api),
    ALLOWED_ORIGINS: webOrigins.join(','),
    CLIENT_IDS: DEV_CLIENT_ID,
    ENVIRONMENT: 'development',
    RATE_LIMIT_RPM: '120',
    IP_RATE_LIMIT_RPM: '600',
    BREAKER_OPEN_SECONDS: '5',
    ORIGIN_TOKEN: serviceToken,
    JWT_SIGNING_KEY: secret(),
  };
  if (fallbackMode === 'stub') {
    bindings.OPENAI_API_KEY = fallbackKey;
    bindings.OPENAI_BASE_URL = `${loopback(ports.fallback)}/v1`;
    bindings.FALLBACK_MODEL = 'gpt-4o-mini';
  } else if (fallbackMode === 'openai') {
    bindings.OPENAI_API_KEY = process.env.OPENAI_API_KEY;
    if (process.env.OPENAI_BASE_URL) bindings.OPENAI_BASE_URL = process.env.OPENAI_BASE_URL;
    if (process.env.FALLBACK_MODEL) bindings.FALLBACK_MODEL = process.env.FALLBACK_MODEL;
  }
  // The module format, compatibility date and Durable Objects come from the one place Pulumi uses too.
  const { tsImport } = await import('tsx/esm/api');
  const { miniflareWorkerOptions } = await tsImport('../components/lib/workerBindings.ts', import.meta.url);
  const { WORKER_SETTINGS } = await tsImport('../services/edge-worker/src/defaults.ts', import.meta.url);
  for (const key of [...PASSTHROUGH_SECRETS, ...Object.keys(WORKER_SETTINGS)]) if (process.env[key]) bindings[key] = process.env[key];
  const workerOptions = {
    ...miniflareWorkerOptions(at('services/edge-worker/dist/worker.js')),
    host: '127.0.0.1',
    port: ports.worker,
    bindings,
    handleRuntimeStdio(stdout, stderr) {
      stdout.on('data', prefixer('worker', process.stdout));
      stderr.on('data', prefixer('worker', process.stderr));
    },
  };
  mf = new Miniflare(workerOptions);
  keepOnlyOurSignalHandlers();
  await mf.ready;
  keepOnlyOurSignalHandlers();
  await waitHealthy('worker', `${loopback(ports.worker)}/healthz`);

  // Edit the Worker, see it live: rebuild and reload workerd (state in Durable Objects starts over).
  let timer;
  watcher = watch(at('services/edge-worker/src'), { recursive: true }, () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        buildWorker();
        void mf.setOptions(workerOptions).then(() => say('Worker rebuilt and reloaded'));
      } catch {
        say('Worker build failed; keeping the previous version');
      }
    }, 200);
  });

  let webUrl = '(services/web/vite.config.ts not found: web client not started)';
  if (withWeb) {
    const web = startChild('web', [at('node_modules/vite/bin/vite.js'), '--config', webConfig, '--port', String(ports.web), '--strictPort', '--host', '127.0.0.1'], {
      cwd: at('services/web'),
      env: {
        ...baseEnv(),
        VITE_AI_API_BASE_URL: loopback(ports.worker),
        VITE_AI_CLIENT_ID: DEV_CLIENT_ID,
        VITE_AI_ENV: 'development',
      },
    });
    children.push(web);
    await waitHealthy('web', `${loopback(ports.web)}/`, { child: web.child });
    webUrl = `http://localhost:${ports.web}`;
  }

  for (const c of children) {
    // On Ctrl-C in a terminal the children get SIGINT too; give our own handler the first word.
    c.child.once('exit', (code, signal) => setTimeout(() => void shutdown(1, `${c.name} exited unexpectedly (${code ?? signal}); stopping everything`), 300));
  }
  const fallbackLine = { off: 'off (DEV_FALLBACK=stub: an OpenAI stand-in stub; DEV_FALLBACK=openai + OPENAI_API_KEY: the real one)', stub: `${loopback(ports.fallback)}  (OpenAI stand-in stub)`, openai: `${process.env.OPENAI_BASE_URL || 'https://api.openai.com/v1'}` }[fallbackMode];
  console.log(
    [
      '',
      'dev: ready',
      `  web       ${webUrl}`,
      `  worker    ${loopback(ports.worker)}   POST /v1/token {"client_id":"${DEV_CLIENT_ID}"}, POST /v1/chat, GET /healthz`,
      `  api       ${loopback(ports.api)}`,
      `  stub      ${loopback(ports.stub)}   POST /__stub/mode {"mode":"down"} simulates an outage`,
      `  fallback  ${fallbackLine}`,
      'Secrets were generated for this run only. Press Ctrl-C to stop everything.',
      '',
    ].join('\n'),
  );
}

const onSigint = () => void shutdown(0, 'Ctrl-C: stopping');
const onSigterm = () => void shutdown(0, 'SIGTERM: stopping');
process.on('SIGINT', onSigint);
process.on('SIGTERM', onSigterm);

/**
 * Miniflare installs SIGINT/SIGTERM hooks that exit at once, which would orphan the other services
 * mid-shutdown. Ours stop everything (Miniflare included) and then exit; its exit hook stays as a backstop.
 */
function keepOnlyOurSignalHandlers() {
  for (const [signal, ours] of [['SIGINT', onSigint], ['SIGTERM', onSigterm]]) {
    for (const listener of process.listeners(signal)) if (listener !== ours) process.removeListener(signal, listener);
  }
}
process.on('uncaughtException', (err) => void shutdown(1, `dev: ${err.message}`));

main().catch((err) => {
  if (err instanceof DevError) {
    console.error(`dev: ${err.message}`);
    void shutdown(1);
  } else {
    void shutdown(1, `dev: ${err?.message ?? err}`);
  }
});
