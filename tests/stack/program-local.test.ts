// The whole program under Pulumi mocks (stand-in engine/providers), local/e2e config: one CPU test host over SSH,
// GPU, Tailscale, Cloudflare and monitoring off (the shape helper G's real-engine test deploys with Pulumi.e2e.yaml).
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALL_MARKERS, localValues } from './fixtures.js';
import { byType, isSecretOutput, plainText, runProgram, type ProgramRun } from './harness.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
let run: ProgramRun;
beforeAll(async () => {
  // The CPU host runs the model stub bundle; global setup builds only api + worker.
  if (!existsSync(`${root}services/model-stub/dist/stub.mjs`)) {
    execFileSync(process.execPath, ['scripts/build.mjs', 'stub'], { cwd: root, stdio: 'inherit' });
  }
  run = await runProgram(localValues(), { stack: 'e2e' });
}, 120_000);

describe('local/e2e stack (mock engine)', () => {
  it('creates only the GPU host component (stub backend) and no Tailscale, Cloudflare or edge resources', () => {
    expect(byType(run, 'fudbuddy:host:GpuHost').map((r) => r.name)).toEqual(['testhost']);
    expect(run.resources.filter((r) => r.type.startsWith('tailscale:') || r.type.startsWith('cloudflare:'))).toEqual([]);
    expect(run.resources.filter((r) => r.type.startsWith('fudbuddy:') && r.type !== 'fudbuddy:host:GpuHost')).toEqual([]);
    const steps = run.resources.filter((r) => r.type === 'command:remote:Command').map((r) => r.name);
    expect(steps.some((n) => /stub/.test(n))).toBe(true);
    expect(steps.some((n) => /vllm|nvidia|tailscale/.test(n))).toBe(false);
  });

  it("exports the host's API URL on its bind address", () => {
    expect(run.exports).toMatchObject({ exposure: 'private', apiUrl: 'http://127.0.0.1:8001', healthUrl: 'http://127.0.0.1:8001/healthz', modelServed: 'fudbuddy-chat' });
    expect(run.exports.edgeUrl).toBeNull();
    expect(run.exports.webUrl).toBeNull();
  });

  it('keeps every marker secret', async () => {
    for (const r of run.resources) {
      const text = plainText(r.inputs);
      for (const m of ALL_MARKERS) expect(text, `${r.type} ${r.name}`).not.toContain(m);
    }
    expect(JSON.stringify(run.exports)).not.toMatch(/MARKER/);
    for (const v of Object.values(run.module)) expect(await isSecretOutput(v)).toBe(false);
  });
});
