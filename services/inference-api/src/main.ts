// Entry point (`npm run api`, or `node server.mjs` from the bundle): config from the environment, SIGHUP reloads
// prompts and the token files (API_TOKENS_FILE, METRICS_TOKENS_FILE), SIGTERM/SIGINT drain and exit 0
// (services/common/shutdown-signals.ts: a relayed or repeated signal does not cut the drain).
import { ConfigError, loadConfig } from './config.js';
import { startServer } from './server.js';
import { DEV_TOKEN } from './dev-token.js';
import { VERSION } from './version.js';
import { onShutdownSignals } from '../../common/shutdown-signals.js';

const env = { ...process.env };
if (env.FUDBUDDY_DEV === '1' && !env.API_TOKENS && !env.API_TOKENS_FILE && ['127.0.0.1', 'localhost', '::1'].includes(env.HOST || '127.0.0.1')) {
  env.API_TOKENS = DEV_TOKEN;
  console.warn(`fudbuddy-api: API_TOKENS unset; dev mode on loopback accepts "Authorization: Bearer ${DEV_TOKEN}"`);
}

let config;
try {
  config = loadConfig(env, VERSION);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`fudbuddy-api: ${err.message}`);
    process.exit(2);
  }
  throw err;
}

let server: Awaited<ReturnType<typeof startServer>>;
try {
  server = await startServer(config);
} catch (err) {
  console.error(`fudbuddy-api: cannot start: ${(err as Error).message}`);
  process.exit(1);
}

process.on('SIGHUP', () => {
  server.ctx.log.info('SIGHUP: reloading prompts and token files');
  void server.reload();
});
onShutdownSignals({ log: server.ctx.log, drain: () => server.shutdown() });
