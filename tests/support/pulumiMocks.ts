// One way to run Pulumi code under `pulumi.runtime.setMocks` (a stand-in for the engine and every provider) in the
// unit suites: records each registered resource and each child's dependsOn, opens and hides secret envelopes, and
// `settled()` waits for what it recorded instead of a fixed sleep.
//
// setMocks is process-global and must run before the code under test is imported: call `installMocks` at the top
// of a test file (vitest runs each file in its own fork), then `await import(...)` the components.
import * as pulumi from '@pulumi/pulumi';

/** Pulumi's wire signature of a secret value: `{ [SIG_KEY]: SECRET_SIG, value }`. */
export const SIG_KEY = '4dabf18193072939515e22adb298388d';
export const SECRET_SIG = '1b47061264138c4ac30d75fd1eb44270';

export interface Registered {
  type: string;
  name: string;
  /** Inputs as the engine would receive them (secrets still wrapped in Pulumi's secret envelope). */
  inputs: Record<string, unknown>;
}

export function isSecretEnvelope(v: unknown): v is { value: unknown } {
  return typeof v === 'object' && v !== null && (v as Record<string, unknown>)[SIG_KEY] === SECRET_SIG;
}

/** Everything in `v` except the insides of secret envelopes, as text: what plaintext state would show. */
export function plainText(v: unknown): string {
  const strip = (x: unknown): unknown => {
    if (isSecretEnvelope(x)) return '<secret>';
    if (Array.isArray(x)) return x.map(strip);
    if (x && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, strip(y)]));
    return x;
  };
  return JSON.stringify(strip(v));
}

/** The value with secret envelopes opened (to check wiring). */
export function unwrap(v: unknown): unknown {
  if (isSecretEnvelope(v)) return unwrap(v.value);
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, y]) => [k, unwrap(y)]));
  return v;
}

/** An Output's value (mocks resolve every Output, unknowns included). */
export const value = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply((v) => resolve(v)));

/** Resolves Outputs (also nested in arrays/objects) to plain values. */
export async function settle(v: unknown): Promise<unknown> {
  if (pulumi.Output.isInstance(v)) return settle(await value(v as pulumi.Output<unknown>));
  if (Array.isArray(v)) return Promise.all(v.map(settle));
  if (v && typeof v === 'object' && !(v instanceof pulumi.Resource)) {
    const out: Record<string, unknown> = {};
    for (const [k, y] of Object.entries(v)) out[k] = await settle(y);
    return out;
  }
  return v;
}

// The engine's own "all registrations and RPCs done" wait (what a program run awaits before it exits). It is
// exported by the runtime but marked @internal in its typings.
const waitForRPCs = (pulumi.runtime as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;

export interface MockProviders {
  /** Extra state for a new resource (merged over its inputs). */
  state?: (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;
  call?: (token: string, inputs: Record<string, unknown>) => Record<string, unknown>;
}

export interface MockRun {
  resources: Registered[];
  /** Explicit dependsOn of each resource recorded by `recordDeps`, as resource names. */
  deps: Map<string, string[]>;
  /** ignoreChanges of each resource seen by `recordDeps`. */
  ignoreChanges: Map<string, string[]>;
  byName(name: string): Registered;
  /** A transformation that records each child's dependsOn (a component's transformations apply to its children). */
  recordDeps: pulumi.ResourceTransformation;
  /** Resolves once every registration, RPC and recorded dependsOn has settled. */
  settled(): Promise<void>;
}

export async function installMocks(providers: MockProviders, project: string, stack: string, preview = false): Promise<MockRun> {
  const resources: Registered[] = [];
  const deps = new Map<string, string[]>();
  const ignoreChanges = new Map<string, string[]>();
  const pending = new Set<Promise<unknown>>();
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        const inputs = args.inputs as Record<string, unknown>;
        resources.push({ type: args.type, name: args.name, inputs });
        return { id: `${args.name}-id`, state: { ...inputs, ...providers.state?.(args.type, args.name, inputs) } };
      },
      call(args) {
        return providers.call ? providers.call(args.token, args.inputs as Record<string, unknown>) : (args.inputs as Record<string, unknown>);
      },
    },
    project,
    stack,
    preview,
    // What a self-hosted (file) backend reports; the program reads its own stack by organization/project/stack.
    'organization',
  );
  const recordDeps: pulumi.ResourceTransformation = (a) => {
    if (a.opts.ignoreChanges) ignoreChanges.set(a.name, a.opts.ignoreChanges);
    const list = (Array.isArray(a.opts.dependsOn) ? a.opts.dependsOn : a.opts.dependsOn ? [a.opts.dependsOn] : []) as pulumi.Resource[];
    const p = Promise.all(list.map((r) => value(r.urn))).then((urns) => void deps.set(a.name, urns.map((u) => u.split('::').pop()!)));
    pending.add(p);
    void p.finally(() => pending.delete(p));
    return undefined;
  };
  return {
    resources,
    deps,
    ignoreChanges,
    recordDeps,
    byName(name) {
      const r = resources.find((x) => x.name === name);
      if (!r) throw new Error(`no resource ${name}; have ${resources.map((x) => x.name).join(', ')}`);
      return r;
    },
    async settled() {
      // Recording a dependency can register more work and vice versa: loop until both are quiet.
      for (;;) {
        await waitForRPCs();
        if (pending.size === 0) return;
        await Promise.all([...pending]);
      }
    },
  };
}
