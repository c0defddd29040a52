// Library surface for tests and tools (main.ts is the process entry and starts listening on import).
export { createApp, type AppHandle, type AppOptions } from './app.js';
export { startServer, type ServerHandle } from './server.js';
export { loadConfig, configFrom, ConfigError, type Config } from './config.js';
