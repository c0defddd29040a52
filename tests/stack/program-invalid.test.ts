// The whole program under Pulumi mocks with a broken config: it must stop before creating anything, with every
// problem named by key with the command that fixes it, and without echoing a secret.
import { describe, expect, it } from 'vitest';
import { ALL_MARKERS, MARK, publicValues } from './fixtures.js';
import { runProgram } from './harness.js';

describe('invalid stack config (mock engine)', () => {
  it('rejects the program with key-named errors and fix commands, creating nothing', async () => {
    const v = publicValues();
    delete v.domain;
    v.serviceToken = 'short,MARKERweak';
    (v.gpuHosts as Record<string, unknown>[])[0]!.port = 70000;
    // Loki comes from Grafana's apt repository: logs without Grafana are refused at preview.
    v.monitoring = { grafana: 'false', logs: 'true' };
    let error: unknown;
    let created = 0;
    try {
      const run = await runProgram(v, { stack: 'beta', extraConfig: { 'cloudflare:apiToken': MARK.cloudflareApiToken }, inStack: false });
      created = run.resources.length;
    } catch (e) {
      error = e;
    }
    expect(error, 'the program should have failed').toBeInstanceOf(Error);
    const msg = (error as Error).message;
    expect(msg).toContain('fudbuddy:domain is required when exposure is "public"');
    expect(msg).toContain('fix: pulumi config set fudbuddy:domain <value>');
    expect(msg).toContain('fudbuddy:gpuHosts[0].port');
    expect(msg).toContain("fix: pulumi config set --path 'fudbuddy:gpuHosts[0].port' <value>");
    expect(msg).toContain('fix: pulumi config set --secret fudbuddy:serviceToken <value>');
    expect(msg).toContain('fudbuddy:monitoring.logs needs fudbuddy:monitoring.grafana true');
    for (const m of [...ALL_MARKERS, 'MARKERweak']) expect(msg).not.toContain(m);
    expect(created).toBe(0);
  });
});
