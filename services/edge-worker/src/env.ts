// Bindings of the edge Worker: the names are a contract with components/edgeWorker.ts (Pulumi) and
// wrangler.toml. The vars and secrets are declared once, in config.ts (`Bindings`), the numeric ones with their
// defaults and ranges in defaults.ts; here they meet the Durable Object namespaces.
import type { Bindings } from './config.js';
import type { QuotaCounter } from './quota.js';
import type { EdgeStats } from './stats.js';

export type Env = Bindings & {
  QUOTA: DurableObjectNamespace<QuotaCounter>;
  STATS: DurableObjectNamespace<EdgeStats>;
};
