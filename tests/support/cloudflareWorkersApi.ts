// STAND-IN for Cloudflare's Workers Scripts API (the real one cannot be reached from here), on loopback. It keeps
// scripts in memory and enforces the documented upload and delete rules a Pulumi program can break:
//   - PUT  /client/v4/accounts/:account/workers/scripts/:name   multipart/form-data with a `metadata` JSON part
//     (https://developers.cloudflare.com/workers/configuration/multipart-upload-metadata/): main_module names an
//     uploaded part; each binding has a name and a known type (plain_text/secret_text need text,
//     durable_object_namespace a class_name this script implements after its migrations);
//     migrations (single step or `steps`): `old_tag` must equal the script's current migration tag (absent means
//     "no tag yet"), else 10079 "Migration tag precondition failed" — so a static `new_tag` without `old_tag`,
//     re-sent on an update, is refused; a new class must not exist, a deleted or renamed one must;
//   - DELETE .../scripts/:name[?force=true]: a script implementing Durable Object namespaces is deleted only forced;
//   - GET .../scripts: the account's scripts with their migration_tag (what wrangler reads before an upload);
//   - GET /user/tokens/verify, /zones/:id, /zones/:id/dns_records, /accounts/:a/pages/projects: what a first-contact
//     check reads. A token lacking the permission an endpoint needs gets 403 / 10000 "Authentication error", as
//     Cloudflare answers; a zone is reported with its name and owning account.
// Every refusal has Cloudflare's error shape ({success:false, errors:[{code, message}]}); 10079 is the code Cloudflare
// returns for the tag precondition; the other codes are this stand-in's placeholders (tests match messages).
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StoredScript {
  mainModule: string;
  modules: Record<string, string>;
  bindings: Array<Record<string, unknown>>;
  migrationTag?: string;
  /** Durable Object classes with a namespace (created by migrations). */
  doClasses: Set<string>;
  uploads: number;
}

interface Step {
  new_classes?: string[];
  new_sqlite_classes?: string[];
  deleted_classes?: string[];
  renamed_classes?: Array<{ from: string; to: string }>;
}
interface Migrations extends Step {
  old_tag?: string;
  new_tag?: string;
  steps?: Step[];
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
const invalid = (message: string) => new ApiError(400, 10021, message);

/** Applies migration steps to a copy of the script's classes, as Cloudflare's upload does (or refuses). */
export function applyMigrations(current: { migrationTag?: string; doClasses: Set<string> }, m: Migrations): { tag?: string; classes: Set<string> } {
  if ((m.old_tag ?? null) !== (current.migrationTag ?? null)) {
    throw new ApiError(400, 10079, `Migration tag precondition failed; current tag is '${current.migrationTag ?? ''}', expected tag is '${m.old_tag ?? ''}'`);
  }
  const classes = new Set(current.doClasses);
  const steps: Step[] = m.steps ?? [m];
  for (const s of steps) {
    for (const c of [...(s.new_classes ?? []), ...(s.new_sqlite_classes ?? [])]) {
      if (classes.has(c)) throw invalid(`Cannot apply new-class migration to class '${c}' that already exists`);
      classes.add(c);
    }
    for (const c of s.deleted_classes ?? []) {
      if (!classes.delete(c)) throw invalid(`Cannot apply deleted_classes migration to non-existent class '${c}'`);
    }
    for (const r of s.renamed_classes ?? []) {
      if (!classes.delete(r.from)) throw invalid(`Cannot rename non-existent class '${r.from}'`);
      if (classes.has(r.to)) throw invalid(`Cannot rename '${r.from}' to existing class '${r.to}'`);
      classes.add(r.to);
    }
  }
  if (steps.some((s) => Object.keys(s).length > 0) && !m.new_tag) throw invalid('migrations: new_tag is required');
  return { tag: m.new_tag ?? current.migrationTag, classes };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface WorkersApiStandIn {
  url: string;
  scripts: Map<string, StoredScript>;
  close(): Promise<void>;
}

/** What a token may do: one permission per API family (Cloudflare's permission groups, coarsely). */
export type Permission = 'workers' | 'zone' | 'dns' | 'pages';
const ALL: Permission[] = ['workers', 'zone', 'dns', 'pages'];

/**
 * Starts the stand-in. `tokens`: the API tokens it accepts (Authorization: Bearer), each with every permission
 * (a list) or with the ones given; `zones`: zone id → name and owning account.
 */
export async function startWorkersApi(
  tokens: string[] | Record<string, Permission[]>,
  zones: Record<string, { name: string; accountId: string }> = {},
): Promise<WorkersApiStandIn> {
  const scripts = new Map<string, StoredScript>();
  const grants = new Map<string, Permission[]>(Array.isArray(tokens) ? tokens.map((t) => [t, ALL]) : Object.entries(tokens));
  const upload = async (name: string, req: IncomingMessage, body: Buffer) => {
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('multipart/form-data')) throw invalid('Content-Type must be multipart/form-data');
    // undici's multipart parser (Node's fetch Request), not a hand-written one.
    const form = await new Request('http://standin/', { method: 'PUT', headers: { 'content-type': type }, body: new Uint8Array(body) }).formData();
    const meta = form.get('metadata');
    if (meta === null) throw invalid('No metadata part in the upload');
    let metadata: { main_module?: string; bindings?: Array<Record<string, unknown>>; migrations?: Migrations };
    try {
      metadata = JSON.parse(typeof meta === 'string' ? meta : await meta.text()) as typeof metadata;
    } catch {
      throw invalid('metadata is not valid JSON');
    }
    const modules: Record<string, string> = {};
    for (const [k, v] of form.entries()) if (k !== 'metadata') modules[k] = typeof v === 'string' ? v : await v.text();
    if (!metadata.main_module || !(metadata.main_module in modules)) throw invalid(`main_module '${metadata.main_module ?? ''}' is not an uploaded part`);
    const existing = scripts.get(name) ?? { doClasses: new Set<string>(), migrationTag: undefined };
    const { tag, classes } = metadata.migrations ? applyMigrations(existing, metadata.migrations) : { tag: existing.migrationTag, classes: existing.doClasses };
    for (const b of metadata.bindings ?? []) {
      if (typeof b.name !== 'string' || !b.name) throw invalid('binding without a name');
      if (b.type === 'plain_text' || b.type === 'secret_text') {
        if (typeof b.text !== 'string') throw invalid(`binding ${b.name}: text is required for ${b.type}`);
      } else if (b.type === 'durable_object_namespace') {
        if (!b.script_name && !classes.has(String(b.class_name))) {
          throw invalid(`binding ${b.name}: Durable Object class '${String(b.class_name)}' has no namespace: add a migration that creates it`);
        }
      } else throw invalid(`binding ${b.name}: unknown type ${String(b.type)}`);
    }
    const stored: StoredScript = { mainModule: metadata.main_module, modules, bindings: metadata.bindings ?? [], migrationTag: tag, doClasses: classes, uploads: (scripts.get(name)?.uploads ?? 0) + 1 };
    scripts.set(name, stored);
    return { id: name, migration_tag: tag ?? null };
  };

  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    void (async () => {
      try {
        const auth = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        const granted = auth === undefined ? undefined : grants.get(auth);
        if (req.url === '/client/v4/user/tokens/verify' && !granted) throw new ApiError(401, 1000, 'Invalid API Token');
        if (!granted) throw new ApiError(403, 10000, 'Authentication error');
        const need = (p: Permission) => {
          if (!granted.includes(p)) throw new ApiError(403, 10000, 'Authentication error');
        };
        const url = new URL(req.url ?? '/', 'http://standin');
        const ok = (result: unknown) => reply(200, { success: true, errors: [], result });
        if (req.method === 'GET' && url.pathname === '/client/v4/user/tokens/verify') return ok({ id: 'standin', status: 'active' });
        const z = /^\/client\/v4\/zones\/([^/]+)(\/dns_records)?$/.exec(url.pathname);
        if (req.method === 'GET' && z) {
          need(z[2] ? 'dns' : 'zone');
          const zone = zones[decodeURIComponent(z[1]!)];
          if (!zone) throw new ApiError(404, 7003, 'Could not route to /zones: perhaps your object identifier is invalid?');
          return ok(z[2] ? [] : { id: z[1], name: zone.name, account: { id: zone.accountId } });
        }
        if (req.method === 'GET' && /^\/client\/v4\/accounts\/[^/]+\/pages\/projects$/.test(url.pathname)) {
          need('pages');
          return ok([]);
        }
        const m = /^\/client\/v4\/accounts\/([^/]+)\/workers\/scripts(?:\/([^/]+))?$/.exec(url.pathname);
        if (m) need('workers');
        if (!m) throw new ApiError(404, 7003, 'Could not route to the requested URL');
        const name = m[2] && decodeURIComponent(m[2]);
        const body = await readBody(req);
        if (req.method === 'GET' && !name) {
          return reply(200, { success: true, errors: [], result: [...scripts].map(([id, s]) => ({ id, migration_tag: s.migrationTag ?? null })) });
        }
        if (req.method === 'PUT' && name) return reply(200, { success: true, errors: [], result: await upload(name, req, body) });
        if (req.method === 'DELETE' && name) {
          const s = scripts.get(name);
          if (!s) throw new ApiError(404, 10007, 'This Worker does not exist on your account.');
          if (s.doClasses.size > 0 && url.searchParams.get('force') !== 'true') {
            throw invalid(`Cannot delete script '${name}': it implements Durable Object namespaces (${[...s.doClasses].join(', ')}); delete it with force`);
          }
          scripts.delete(name);
          return reply(200, { success: true, errors: [], result: null });
        }
        throw new ApiError(405, 10405, 'Method not allowed');
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(500, 10013, String(e));
        reply(err.status, { success: false, errors: [{ code: err.code, message: err.message }], result: null });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/client/v4`,
    scripts,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
