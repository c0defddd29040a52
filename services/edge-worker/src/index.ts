// FUD Buddy edge Worker: short-lived tokens, quotas, a streaming proxy to the GPU origin(s), and a
// fallback to the public OpenAI API. Everything is configured through bindings (see docs/edge.md).
import type { Env } from './env.js';
import { handleRequest } from './worker.js';

export { QuotaCounter } from './quota.js';
export { EdgeStats } from './stats.js';

export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    return handleRequest(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;
