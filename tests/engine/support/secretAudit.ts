// The secret checks of the real-engine suites: no secret config value the stack was ever given (rotations add to
// the set) shows in `pulumi stack export`, in a backend file or in the output of any `pulumi` run, and every
// command fed a secret on stdin keeps its stdout and stderr as ciphertext in the state (under pulumi-command's
// rule they are plaintext unless listed in additionalSecretOutputs, whatever the stdin was).
import { expect } from 'vitest';
import { SIG_KEY } from '../../support/pulumiMocks.js';
import { expectOk, parseJson, type Workspace } from './engine.js';
import type { StackRunner } from './vmEngine.js';

interface StateExport {
  deployment: { resources: Array<{ type: string; urn: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }> };
}

export interface SecretAudit {
  /** Adds the stack's secret config values now (`config --json --show-secrets`, strings in secret objects too) to the set. */
  collect(): Promise<string[]>;
  /** Collects, then checks export, backend files and every output the runner logged; returns the export. */
  expectNoSecretAnywhere(): Promise<string>;
  /** Names (last URN part) of the remote commands fed a secret on stdin, each checked for ciphertext stdout/stderr. */
  expectSecretFedOutputsEncrypted(exported: string): string[];
}

export function secretAudit(ws: Workspace, stack: StackRunner): SecretAudit {
  const every = new Set<string>();
  const collect = async (): Promise<string[]> => {
    const cfg = parseJson<Record<string, { value?: unknown; objectValue?: unknown; secret?: boolean }>>(
      expectOk(await stack.pulumi(['config', '--json', '--show-secrets']), 'config --json').stdout,
    );
    const leaves = (v: unknown): string[] => (typeof v === 'string' ? [v] : v && typeof v === 'object' ? Object.values(v).flatMap(leaves) : []);
    const values = Object.values(cfg).filter((e) => e.secret).flatMap((e) => leaves(e.objectValue ?? e.value));
    // Line by line (a PEM key's body lines); short lines and PEM armour are not secret on their own.
    for (const v of values) for (const line of v.split('\n')) if (line.length >= 16 && !line.startsWith('-----')) every.add(line);
    return [...every];
  };
  return {
    collect,
    async expectNoSecretAnywhere() {
      const exported = expectOk(await stack.pulumi(['stack', 'export']), 'stack export').stdout;
      const backend = ws.backendText();
      const secrets = await collect();
      expect(secrets.length).toBeGreaterThanOrEqual(3); // serviceToken, upstreamApiKey, the SSH key's lines
      expect(stack.outputs.length).toBeGreaterThan(0);
      for (const secret of secrets) {
        expect(exported, 'a secret in `pulumi stack export`').not.toContain(secret);
        expect(backend, 'a secret in a backend file').not.toContain(secret);
        for (const out of stack.outputs) expect(out, 'a secret in the output of a pulumi run').not.toContain(secret);
      }
      return exported;
    },
    expectSecretFedOutputsEncrypted(exported) {
      const state = parseJson<StateExport>(exported);
      const fed = state.deployment.resources.filter((r) => r.type === 'command:remote:Command' && JSON.stringify(r.inputs?.stdin ?? '').includes(SIG_KEY));
      for (const r of fed) for (const k of ['stdout', 'stderr']) expect(JSON.stringify(r.outputs?.[k] ?? ''), `${r.urn} ${k}`).toContain(SIG_KEY);
      return fed.map((r) => r.urn.split('::').pop()!);
    },
  };
}
