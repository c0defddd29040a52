import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DURABLE_OBJECTS, WORKER_COMPATIBILITY_DATE, WORKER_MAIN_MODULE, WORKER_MIGRATION_HISTORY, buildWorkerVars } from '../../components/lib/workerBindings.js';
import { configFrom } from '../../services/inference-api/src/config.js';
import { parseConfig } from '../../services/edge-worker/src/config.js';
import { WORKER_SETTINGS } from '../../services/edge-worker/src/defaults.js';
import { workerSchema } from '../../stacks/config.js';
import { ROOT, WORKER_BUNDLE } from './harness.js';

// wrangler.toml (local `wrangler dev`), the bundle and the Pulumi component describe the same Worker.
const toml = readFileSync(path.join(ROOT, 'services/edge-worker/wrangler.toml'), 'utf8');
const bindingsTs = readFileSync(path.join(ROOT, 'services/edge-worker/src/config.ts'), 'utf8');

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
    // The only import is the runtime's own module (Durable Object RPC's base class), which Cloudflare provides.
    const imports = bundle.match(/^import .*$/gm) ?? [];
    for (const line of imports) expect(line).toMatch(/from "cloudflare:workers";$/);
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
      const declared = key in WORKER_SETTINGS || new RegExp(`^\\s+${key}\\?:`, 'm').test(bindingsTs);
      expect(declared, `Bindings (config.ts) declares ${key}, or it is a numeric setting of defaults.ts`).toBe(true);
      expect(toml, `wrangler.toml sets ${key}`).toMatch(new RegExp(`^${key} = `, 'm'));
    }
  });
});

describe('Worker settings exist once (services/edge-worker/src/defaults.ts)', () => {
  it('the stack config, the Worker config parser and wrangler.toml take their defaults from the same table', () => {
    const stack = workerSchema.parse({});
    const fromStack: Record<string, number> = {
      TOKEN_TTL_SECONDS: stack.tokenTtlSeconds,
      RATE_LIMIT_RPM: stack.rateLimitRpm,
      TOKENS_PER_DAY: stack.tokensPerDay,
      IP_RATE_LIMIT_RPM: stack.ipRateLimitRpm,
      ORIGIN_TIMEOUT_MS: stack.originTimeoutMs,
      BREAKER_FAILURES: stack.breakerFailures,
      BREAKER_OPEN_SECONDS: stack.breakerOpenSeconds,
    };
    const worker = parseConfig({ ORIGIN_URL: 'https://edge.example.ts.net', CLIENT_IDS: 'c', ORIGIN_TOKEN: 'x'.repeat(16), JWT_SIGNING_KEY: 'k'.repeat(32) });
    let inTomlCount = 0;
    for (const [name, value] of Object.entries(fromStack)) {
      const setting = WORKER_SETTINGS[name as keyof typeof WORKER_SETTINGS];
      expect(value, `stack default of ${name}`).toBe(setting.default);
      expect(worker.n[name as keyof typeof WORKER_SETTINGS], `Worker default of ${name}`).toBe(setting.default);
      const inToml = new RegExp(`^${name} = "(\\d+)"$`, 'm').exec(toml)?.[1];
      if (inToml !== undefined) {
        inTomlCount += 1;
        expect(Number(inToml), `wrangler.toml ${name}`).toBe(setting.default);
      }
    }
    expect(inTomlCount).toBe(Object.keys(fromStack).length);
    expect(stack.fallbackModel).toBe(worker.fallbackModel);
    expect(stack.openaiBaseUrl).toBe(worker.openaiBaseUrl);
    // The same ranges on both sides: a value the stack accepts, the Worker accepts too.
    expect(() => workerSchema.parse({ originTimeoutMs: WORKER_SETTINGS.ORIGIN_TIMEOUT_MS.max + 1 })).toThrow();
    expect(() => parseConfig({ ...({ ORIGIN_URL: 'https://e.example', CLIENT_IDS: 'c', ORIGIN_TOKEN: 'x'.repeat(16), JWT_SIGNING_KEY: 'k'.repeat(32) }), ORIGIN_TIMEOUT_MS: String(WORKER_SETTINGS.ORIGIN_TIMEOUT_MS.max + 1) })).toThrow(/ORIGIN_TIMEOUT_MS/);
  });

  it("the Worker's completion cap is the inference API's MAX_TOKENS_CAP default (reservations assume the origin's cap)", () => {
    const api = configFrom({ API_TOKENS: 't'.repeat(16) });
    expect(WORKER_SETTINGS.MAX_TOKENS_CAP.default).toBe(api.MAX_TOKENS_CAP);
  });
});
