// The inference API with the openai SDK as its model-server client (bench/sdk-upstream.ts), configured from the
// environment like the bundle: the benchmark's "what if we had used the SDK" variant. Not shipped.
import { loadConfig } from '../services/inference-api/src/config.js';
import { startServer } from '../services/inference-api/src/server.js';
import { VERSION } from '../services/inference-api/src/version.js';
import { onShutdownSignals } from '../services/common/shutdown-signals.js';
import { OpenAIUpstream } from './sdk-upstream.js';

const server = await startServer(loadConfig(process.env, VERSION), { upstream: (o) => new OpenAIUpstream(o) });
onShutdownSignals({ log: server.ctx.log, drain: () => server.shutdown() });
