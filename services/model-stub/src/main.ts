// `npm run stub` / `node stub.mjs`: the stub model server configured from the environment.
import { prefixCacheSimFromEnv } from './prefixCacheSim.js';
import { onShutdownSignals } from '../../common/shutdown-signals.js';
import { maxModelLenError } from './modelLen.js';
import { isStubMode, startStub, STUB_MODES } from './stub.js';

function intEnv(name: string, fallback: number, min = 0): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) {
    console.error(`model-stub: ${name} must be an integer >= ${min} (got "${raw}")`);
    process.exit(2);
  }
  return n;
}

const rawMode = process.env.STUB_MODE ?? 'ok';
if (!isStubMode(rawMode)) {
  console.error(`model-stub: STUB_MODE must be one of ${STUB_MODES.join('|')} (got "${rawMode}")`);
  process.exit(2);
}

const lenError = maxModelLenError(intEnv('STUB_MAX_MODEL_LEN', 0));
if (lenError) {
  console.error(`model-stub: ${lenError}`);
  process.exit(1);
}

const prefixCacheSim = prefixCacheSimFromEnv(process.env);
if (prefixCacheSim && 'error' in prefixCacheSim) {
  console.error(`model-stub: ${prefixCacheSim.error}`);
  process.exit(2);
}

const stub = await startStub({
  host: process.env.HOST || '127.0.0.1',
  port: intEnv('PORT', 8000),
  model: process.env.STUB_MODEL || 'fudbuddy',
  tokensPerSec: intEnv('STUB_TOKENS_PER_SEC', 50),
  completionTokens: intEnv('STUB_COMPLETION_TOKENS', 16),
  slowMs: intEnv('STUB_SLOW_MS', 3000),
  cutAfterTokens: intEnv('STUB_CUT_AFTER_TOKENS', 3),
  mode: rawMode,
  apiKey: process.env.STUB_API_KEY || undefined,
  prefixCacheSim,
});
console.log(JSON.stringify({ msg: 'model-stub listening', url: stub.url, mode: rawMode, ...(prefixCacheSim ? { prefixCacheSimulation: prefixCacheSim } : {}) }));

const line = (level: string) => (obj: object, msg: string) => console.log(JSON.stringify({ level, msg, ...obj }));
onShutdownSignals({ log: { info: line('info'), warn: line('warn') }, drain: () => stub.close() });
