import { fileURLToPath } from 'node:url';
import { defineConfig, loadEnv, type Plugin } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

// Only VITE_* variables reach the bundle (Vite's envPrefix). This guard makes the build fail when one
// of them looks like a secret, because everything in the bundle is public.
const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE|API_?KEY|SIGNING|CREDENTIAL/i;
const SECRET_VALUE = /sk-[A-Za-z0-9_-]{16,}|-----BEGIN [A-Z ]*PRIVATE KEY-----/;

export function checkPublicEnv(env: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith('VITE_')) continue;
    if (SECRET_NAME.test(key)) problems.push(`${key}: the name looks like a secret, and VITE_* variables are published in the bundle`);
    else if (SECRET_VALUE.test(value)) problems.push(`${key}: the value looks like an API or private key`);
  }
  const base = env.VITE_AI_API_BASE_URL;
  if (!base && env.VITE_AI_ENV === 'production') {
    problems.push('VITE_AI_API_BASE_URL: required when VITE_AI_ENV=production (the Worker URL, e.g. https://api.example.com)');
  }
  if (base) {
    let ok = false;
    try {
      ok = ['http:', 'https:'].includes(new URL(base).protocol);
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`VITE_AI_API_BASE_URL: "${base}" is not an http(s) URL`);
  }
  return problems;
}

function publicEnvGuard(env: Record<string, string>): Plugin {
  return {
    name: 'fudbuddy-public-env-guard',
    configResolved() {
      const problems = checkPublicEnv(env);
      if (problems.length) throw new Error(`web build refused:\n  ${problems.join('\n  ')}`);
    },
  };
}

export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, root, 'VITE_');
  const webPort = Number(process.env.DEV_WEB_PORT ?? 5173);
  return {
    root,
    envDir: root,
    envPrefix: 'VITE_',
    plugins: [publicEnvGuard(env)],
    define: {
      // A literal, so `if (__FUD_SENTRY_DSN__)` folds away and the Sentry chunk is not built at all when unset.
      __FUD_SENTRY_DSN__: JSON.stringify(env.VITE_SENTRY_DSN ?? ''),
    },
    oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
    build: {
      // WEB_OUT_DIR lets tests build elsewhere without clobbering services/web/dist.
      outDir: process.env.WEB_OUT_DIR || 'dist',
      emptyOutDir: true,
      target: 'es2022',
      sourcemap: false,
      reportCompressedSize: true,
    },
    // Pre-bundle these at dev-server start: discovering them on first page load makes Vite reload the page.
    optimizeDeps: { include: ['preact', 'preact/hooks', 'preact/jsx-runtime'] },
    server: {
      host: '127.0.0.1',
      port: webPort,
      strictPort: true,
    },
    preview: { host: '127.0.0.1', port: webPort, strictPort: true },
  };
});
