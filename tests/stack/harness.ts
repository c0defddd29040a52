// Runs the whole Pulumi program (index.ts) under pulumi.runtime.setMocks — a stand-in for the engine and the
// Cloudflare/Tailscale/SSH providers, which cannot exist here — and records every registered resource.
// setMocks is process-global: one program run per test file (vitest runs each file in its own fork).
import * as pulumi from '@pulumi/pulumi';
import type { TailnetPolicy } from '../../components/lib/aclPolicy.js';
import { asPulumiConfig } from './fixtures.js';
import { installMocks, settle, type Registered } from '../support/pulumiMocks.js';

export { isSecretEnvelope, plainText, settle, unwrap, type Registered } from '../support/pulumiMocks.js';

let tailnetIp = 10;

function mockState(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const state: Record<string, unknown> = {};
  if (type === 'command:remote:Command' || type === 'command:local:Command') {
    let stdout = '';
    if (name.endsWith('-tailscale-status')) {
      const host = name.replace(/-tailscale-status$/, '');
      stdout = `ok: tailscale up\n${JSON.stringify({ ip: `100.64.0.${tailnetIp++}`, dnsName: `fudbuddy-${host}.tail1234.ts.net` })}`;
    } else if (name.endsWith('-verify-gpu')) {
      stdout = 'GPU_COUNT=1\n';
    } else if (name.endsWith('-build') && type === 'command:local:Command') {
      stdout = 'a'.repeat(64);
    }
    state.stdout = stdout;
    state.stderr = '';
  }
  if (type === 'tailscale:index/tailnetKey:TailnetKey') state.key = `tskey-auth-mock-${name}`;
  // The program reads its own last outputs (the Worker's migration tag): none yet, as before a first deploy.
  if (type === 'pulumi:pulumi:StackReference') state.outputs = {};
  if (type === 'cloudflare:index/pagesProject:PagesProject') state.subdomain = `${String(inputs.name)}.pages.dev`;
  return state;
}

export interface ProgramRun {
  resources: Registered[];
  /** Explicit dependsOn of each resource, by name (recorded with a stack transformation). */
  dependsOn: Map<string, string[]>;
  exports: Record<string, unknown>;
  /** Module exports, as Outputs (to check secrecy). */
  module: Record<string, unknown>;
}

export async function runProgram(
  values: Record<string, unknown>,
  opts: { stack: string; extraConfig?: Record<string, string>; secretKeys?: string[]; /** default true */ inStack?: boolean },
): Promise<ProgramRun> {
  const mocks = await installMocks(
    {
      state: mockState,
      call: (token) => (token === 'tailscale:index/getDevice:getDevice' ? { name: 'mock', addresses: ['100.64.0.99'] } : {}),
    },
    'fudbuddy',
    opts.stack,
  );
  const { resources } = mocks;
  pulumi.runtime.setAllConfig(asPulumiConfig(values, opts.extraConfig), opts.secretKeys);
  const dependsOn = new Map<string, string[]>();
  let mod: Record<string, unknown> = {};
  // Without the root stack resource (no dependsOn recording), a program that throws at import rejects here and
  // nowhere else.
  if (opts.inStack === false) mod = (await import('../../index.js')) as Record<string, unknown>;
  else await pulumi.runtime.runInPulumiStack(async () => {
    pulumi.runtime.registerStackTransformation((a) => {
      const deps = a.opts.dependsOn;
      const list = Array.isArray(deps) ? deps : deps ? [deps] : [];
      dependsOn.set(a.name, list.map((r) => String((r as unknown as { __name?: string }).__name)));
      return undefined;
    });
    mod = (await import('../../index.js')) as Record<string, unknown>;
    return {};
  });
  const exports: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(mod)) exports[k] = await settle(v);
  await mocks.settled();
  return { resources, dependsOn, exports, module: mod };
}


export async function isSecretOutput(v: unknown): Promise<boolean> {
  if (!pulumi.Output.isInstance(v)) return false;
  return (v as unknown as { isSecret: Promise<boolean> }).isSecret;
}

export const byType = (run: ProgramRun, type: string): Registered[] => run.resources.filter((r) => r.type === type);
/** The one resource of `type` whose name contains `nameIncludes` (a name equal to it wins over longer ones). */
export const one = (run: ProgramRun, type: string, nameIncludes = ''): Registered => {
  const matching = run.resources.filter((r) => r.type === type && r.name.includes(nameIncludes));
  const exact = matching.filter((r) => r.name === nameIncludes);
  const found = exact.length > 0 ? exact : matching;
  if (found.length !== 1) throw new Error(`expected one ${type} named *${nameIncludes}*, found ${found.map((r) => r.name).join(', ') || 'none'}`);
  return found[0]!;
};

/** The files of a monitoring install payload (`base64 -d > "$STAGE/<file>" <<'FUDBUDDY_B64'` blocks), by name. */
export function payloadFiles(payload: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const m of payload.matchAll(/base64 -d > "\$STAGE\/([^"]+)" <<'FUDBUDDY_B64'\n([\s\S]*?)\nFUDBUDDY_B64/g)) {
    files[m[1]!] = Buffer.from(m[2]!.replace(/\n/g, ''), 'base64').toString('utf8');
  }
  return files;
}

/** The stack's tailnet policy as registered (tailscale.Acl input). */
export function aclOf(run: ProgramRun): TailnetPolicy {
  return JSON.parse(String(one(run, 'tailscale:index/acl:Acl').inputs.acl)) as TailnetPolicy;
}
