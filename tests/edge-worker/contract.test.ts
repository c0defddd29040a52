import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DURABLE_OBJECTS, WORKER_COMPATIBILITY_DATE, WORKER_MAIN_MODULE, WORKER_MIGRATION_HISTORY, buildWorkerVars } from '../../components/lib/workerBindings.js';
import { ROOT, WORKER_BUNDLE } from './harness.js';

// wrangler.toml (local `wrangler dev`), the bundle and the Pulumi component describe the same Worker.
const toml = readFileSync(path.join(ROOT, 'services/edge-worker/wrangler.toml'), 'utf8');
const envTs = readFileSync(path.join(ROOT, 'services/edge-worker/src/env.ts'), 'utf8');

describe('edge Worker contract: wrangler.toml, bundle and Pulumi component agree', () => {
  it('same main module, compatibility date, Durable Object classes and migration', () => {
    expect(toml).toMatch(new RegExp(`^main = "dist/${WORKER_MAIN_MODULE}"$`, 'm'));
    expect(path.basename(WORKER_BUNDLE)).toBe(WORKER_MAIN_MODULE);
    expect(toml).toMatch(new RegExp(`^compatibility_date = "${WORKER_COMPATIBILITY_DATE}"$`, 'm'));
    expect(toml).not.toMatch(/^compatibility_flags/m);
    for (const d of DURABLE_OBJECTS) {
      expect(toml).toContain(`name = "${d.name}"\nclass_name = "${d.className}"`);
    }
    // wrangler.toml (local dev) lists the same migration history as the component.
    for (const m of WORKER_MIGRATION_HISTORY) {
      expect(toml).toContain(`tag = "${m.tag}"\nnew_sqlite_classes = [${(m.newSqliteClasses ?? []).map((c) => `"${c}"`).join(', ')}]`);
    }
  });

  it('the bundle is one ES module exporting the default handler and every Durable Object class', () => {
    const bundle = readFileSync(WORKER_BUNDLE, 'utf8');
    expect(bundle).not.toMatch(/^import /m);
    const exported = /export\s*\{([^}]*)\}\s*;?\s*$/.exec(bundle)?.[1] ?? '';
    for (const d of DURABLE_OBJECTS) expect(exported).toContain(d.className);
    expect(exported).toMatch(/as default/);
  });

  it('every var the Pulumi component sets is one the Worker reads, and wrangler.toml sets the same ones', () => {
    const vars = buildWorkerVars({
      originUrls: ['https://edge.example.ts.net'],
      allowedOrigins: ['https://app.example.com'],
      clientIds: ['fudbuddy-web'],
      fallbackModel: 'gpt-4o-mini',
      openaiBaseUrl: 'https://api.openai.com/v1',
      tokenTtlSeconds: 600,
      rateLimitRpm: 20,
      tokensPerDay: 1000,
      ipRateLimitRpm: 60,
      originTimeoutMs: 20000,
      breakerFailures: 3,
      breakerOpenSeconds: 30,
      environment: 'beta',
    });
    for (const key of Object.keys(vars)) {
      expect(envTs, `Env declares ${key}`).toMatch(new RegExp(`^\\s+${key}\\?:`, 'm'));
      expect(toml, `wrangler.toml sets ${key}`).toMatch(new RegExp(`^${key} = `, 'm'));
    }
  });
});
