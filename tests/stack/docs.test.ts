// Docs and workflows say what the code does: generated config reference, rotation commands naming real keys,
// the example passphrase, the workflow shapes the issue asks for.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SECRET_KEYS, stackConfigSchema } from '../../stacks/config.js';
import { renderConfigReference } from '../../stacks/configReference.js';
import { EXAMPLE_PASSPHRASE } from '../../stacks/exampleStacks.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (f: string) => readFileSync(`${root}${f}`, 'utf8');

describe('docs', () => {
  it('docs/config-reference.md is the current rendering of the zod schema (npx tsx stacks/configReference.ts)', () => {
    expect(read('docs/config-reference.md')).toBe(renderConfigReference());
    const doc = read('docs/config-reference.md');
    for (const k of Object.keys(stackConfigSchema.shape)) expect(doc).toContain(`\`${k}\``);
    for (const k of Object.keys(SECRET_KEYS)) expect(doc).toContain(`\`${k}\``);
  });

  it('the runbook rotates tokens with commands on real keys, in the order the code enforces', () => {
    const rb = read('docs/runbook.md');
    const steps = [
      'pulumi config set --secret fudbuddy:serviceTokenPrevious "$(pulumi config get fudbuddy:serviceToken)"',
      'pulumi config set --secret fudbuddy:serviceToken "$(openssl rand -hex 32)"',
      'pulumi config rm fudbuddy:serviceTokenPrevious',
      'pulumi config set --secret fudbuddy:jwtSigningKeyPrevious "$(pulumi config get fudbuddy:jwtSigningKey)"',
      'pulumi config rm fudbuddy:jwtSigningKeyPrevious',
    ];
    const rotation = rb.slice(rb.indexOf('## Rotate the service token'));
    let at = -1;
    for (const s of steps) {
      const i = rotation.indexOf(s);
      expect(i, s).toBeGreaterThan(at);
      at = i;
    }
    for (const m of rb.matchAll(/(?<![:\w])fudbuddy:([A-Za-z]+)\b(?!:)/g)) {
      const key = m[1]!;
      expect(key in stackConfigSchema.shape || key in SECRET_KEYS, `runbook names unknown key fudbuddy:${key}`).toBe(true);
    }
    for (const section of ['Rotate the service token', 'Rotate the JWT signing key', 'Change the model', 'Add a GPU host', 'Recover a dead host', 'Roll back', 'Destroy']) {
      expect(rb).toContain(`## ${section}`);
    }
    expect(rb).toContain('docs/monitoring.md');
    expect(rb).toContain(EXAMPLE_PASSPHRASE);
  });

  it('SECURITY.md covers every secret, the rotation schedule and reporting', () => {
    const sec = read('SECURITY.md');
    for (const k of Object.keys(SECRET_KEYS)) expect(sec, k).toContain(k);
    for (const h of ['## Reporting a vulnerability', '## What is exposed where', '## Threat model', '## How secrets move', '## Rotation schedule']) expect(sec).toContain(h);
  });

  it('docs/architecture.md explains the Pages choice and names every component', () => {
    const arch = read('docs/architecture.md');
    expect(arch).toContain('Why Pages');
    for (const c of ['gpuHost', 'tailnet', 'edgeNode', 'edgeWorker', 'webClient', 'monitoring']) expect(arch).toContain(c);
  });
});

describe('workflows', () => {
  type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };
  type Wf = { on: Record<string, unknown>; jobs: Record<string, { 'runs-on': string; if?: string; steps: Step[]; container?: unknown }> };

  it('ci.yml installs, typechecks, lints and tests on pushes and pull requests with Node 20', () => {
    const wf = parse(read('.github/workflows/ci.yml')) as Wf;
    expect(Object.keys(wf.on).sort()).toEqual(['pull_request', 'push']);
    const steps = Object.values(wf.jobs).flatMap((j) => j.steps);
    const runs = steps.map((s) => s.run ?? '').join('\n');
    for (const cmd of ['npm ci', 'npm run typecheck', 'npm run lint', '.ci/run']) expect(runs).toContain(cmd);
    for (const j of Object.values(wf.jobs)) {
      expect(j['runs-on']).toMatch(/ubuntu/);
      const node = j.steps.find((s) => s.uses?.startsWith('actions/setup-node'));
      expect(String(node?.with?.['node-version'])).toBe('20');
    }
  });

  it('preview.yml previews the beta stack on PRs, comments, keeps state in S3/R2 and never runs for forks', () => {
    const wf = parse(read('.github/workflows/preview.yml')) as Wf;
    expect(Object.keys(wf.on)).toEqual(['pull_request']);
    const job = Object.values(wf.jobs)[0]!;
    expect(job.if).toBe('github.event.pull_request.head.repo.full_name == github.repository');
    const pulumi = job.steps.find((s) => s.uses?.startsWith('pulumi/actions@'))!;
    expect(pulumi.with).toMatchObject({ command: 'preview', 'comment-on-pr': true, 'stack-name': 'beta', 'cloud-url': '${{ secrets.PULUMI_BACKEND_URL }}' });
    for (const v of Object.values(pulumi.env ?? {})) expect(v).toMatch(/^\$\{\{ secrets\.[A-Z0-9_]+ \}\}$|^auto$/);
    expect(pulumi.env).toHaveProperty('PULUMI_CONFIG_PASSPHRASE');
  });
});
