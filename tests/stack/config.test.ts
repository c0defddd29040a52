import { describe, expect, it } from 'vitest';
import { SECRET_KEY_NAMES } from '../../stacks/config.js';
import { derive } from '../../stacks/derive.js';
import { formatIssues, parseStackConfig, type ConfigIssue } from '../../stacks/validate.js';
import { collectRawValues } from '../../stacks/readConfig.js';
import { ALL_MARKERS, asPulumiConfig, localValues, MARK, privateValues, publicValues } from './fixtures.js';

function issuesOf(values: Record<string, unknown>): ConfigIssue[] {
  const r = parseStackConfig(values);
  if (r.ok) throw new Error('expected the config to be rejected');
  return r.issues;
}

describe('stack config (pure parser)', () => {
  it('accepts the three reference configs and fills defaults', () => {
    for (const values of [publicValues(), privateValues(), localValues()]) {
      const r = parseStackConfig(values);
      expect(r.ok, r.ok ? '' : formatIssues(r.issues)).toBe(true);
    }
    const r = parseStackConfig(privateValues());
    if (!r.ok) throw new Error('unreachable');
    expect(r.settings.api.port).toBe(8001);
    expect(r.settings.worker.tokenTtlSeconds).toBe(600);
    expect(r.settings.gpuHosts[1]?.user).toBe('ubuntu');
    expect(r.settings.gpuHosts[1]?.port).toBe(22);
    expect(r.secretsPresent.has('serviceToken')).toBe(true);
    expect(r.secretsPresent.has('jwtSigningKey')).toBe(false);
  });

  it('coerces scalars that Pulumi passes as strings', () => {
    const r = parseStackConfig(localValues());
    if (!r.ok) throw new Error(formatIssues(r.issues));
    expect(r.settings.tailscaleEnabled).toBe(false);
    expect(r.settings.gpuHosts[0]?.port).toBe(2222);
  });

  it('names the key and the fix command for a missing public-mode key', () => {
    const v = publicValues();
    delete v.domain;
    delete v.jwtSigningKey;
    const issues = issuesOf(v);
    const domain = issues.find((i) => i.key === 'fudbuddy:domain');
    expect(domain?.message).toMatch(/required when exposure is "public"/);
    expect(domain?.fix).toBe('pulumi config set fudbuddy:domain <value>');
    const jwt = issues.find((i) => i.key === 'fudbuddy:jwtSigningKey');
    expect(jwt?.fix).toBe('pulumi config set --secret fudbuddy:jwtSigningKey <value>');
    expect(formatIssues(issues)).toContain('fudbuddy:jwtSigningKey is required when exposure is "public"');
  });

  it('points nested keys at `pulumi config set --path`', () => {
    const v = privateValues();
    (v.gpuHosts as Record<string, unknown>[])[1] = { name: 'gpu2', address: '', port: 99999 };
    const issues = issuesOf(v);
    const port = issues.find((i) => i.key === 'fudbuddy:gpuHosts[1].port');
    expect(port?.fix).toBe("pulumi config set --path 'fudbuddy:gpuHosts[1].port' <value>");
    expect(issues.some((i) => i.key === 'fudbuddy:gpuHosts[1].address')).toBe(true);
  });

  it('rejects unknown keys, bad enums, a TTL above 900 s and duplicate host names', () => {
    const v = publicValues();
    v.exposur = 'public';
    v.worker = { tokenTtlSeconds: 3600 };
    v.gpuHosts = [{ name: 'gpu1', address: 'a' }, { name: 'gpu1', address: 'b' }];
    const keys = issuesOf(v).map((i) => i.key);
    expect(keys).toEqual(expect.arrayContaining(['fudbuddy:exposur', 'fudbuddy:worker.tokenTtlSeconds']));
    const v2 = privateValues();
    v2.exposure = 'open';
    expect(issuesOf(v2).map((i) => i.key)).toContain('fudbuddy:exposure');
    const v3 = privateValues();
    v3.gpuHosts = [{ name: 'gpu1', address: 'a' }, { name: 'gpu1', address: 'b' }];
    expect(issuesOf(v3).map((i) => i.key)).toContain('fudbuddy:gpuHosts[1].name');
  });

  it('requires gpuHosts, the SSH key and the service token in every mode', () => {
    const keys = issuesOf({}).map((i) => i.key);
    expect(keys).toEqual(expect.arrayContaining(['fudbuddy:gpuHosts', 'fudbuddy:serviceToken', 'fudbuddy:sshPrivateKey', 'fudbuddy:upstreamApiKey']));
  });

  it('validates secrets without ever echoing them', () => {
    const v = publicValues();
    const weak = 'short,secret';
    v.serviceToken = weak;
    v.jwtSigningKeyPrevious = v.jwtSigningKey;
    v.sshPrivateKey = 'not-a-key-MARKER';
    const issues = issuesOf(v);
    expect(issues.map((i) => i.key)).toEqual(
      expect.arrayContaining(['fudbuddy:serviceToken', 'fudbuddy:jwtSigningKeyPrevious', 'fudbuddy:sshPrivateKey']),
    );
    const text = formatIssues(issues);
    for (const secret of [weak, 'not-a-key-MARKER', ...ALL_MARKERS]) expect(text).not.toContain(secret);
  });

  it('keeps secrets out of the parsed settings', () => {
    const r = parseStackConfig(publicValues());
    if (!r.ok) throw new Error(formatIssues(r.issues));
    const json = JSON.stringify(r.settings);
    for (const m of ALL_MARKERS) expect(json).not.toContain(m);
    expect([...r.secretsPresent].sort()).toEqual([...SECRET_KEY_NAMES].filter((k) => k !== 'alertSmtpPassword').sort());
  });

  it('tailnetClients: defaults to every tailnet member; accepts the admin group and logins; refuses anything wider, by key', () => {
    const r = parseStackConfig(privateValues());
    if (!r.ok) throw new Error(formatIssues(r.issues));
    expect(r.settings.tailnetClients).toEqual(['autogroup:member']);
    const narrow = parseStackConfig({ ...privateValues(), tailnetClients: ['group:fudbuddy-admins', 'carol@example.com'] });
    expect(narrow.ok && narrow.settings.tailnetClients).toEqual(['group:fudbuddy-admins', 'carol@example.com']);
    const bad = issuesOf({ ...privateValues(), tailnetClients: ['autogroup:member', '*', 'tag:ci'] });
    expect(bad.map((i) => i.key)).toEqual(['fudbuddy:tailnetClients[1]', 'fudbuddy:tailnetClients[2]']);
    expect(bad[0]?.message).toMatch(/must be autogroup:member, group:fudbuddy-admins or a Tailscale login email/);
    expect(bad[0]?.fix).toBe("pulumi config set --path 'fudbuddy:tailnetClients[1]' <value>");
    expect(issuesOf({ ...privateValues(), tailnetClients: [] }).find((i) => i.key === 'fudbuddy:tailnetClients')?.message).toMatch(/at least one/);
  });

  it('monitoring.credentialExpiries: RFC 3339 timestamps with credential names, errors name the entry', () => {
    const creds = [
      { credential: 'tailscale-api-key', expiresAt: '2036-02-25T00:00:00Z' },
      { credential: 'cloudflare-api-token', expiresAt: '2027-05-27T00:00:00+02:00' },
      { credential: 'service-token-rotation', expiresAt: '2026-12-27T00:00:00Z' },
    ];
    const r = parseStackConfig({ ...publicValues(), monitoring: { credentialExpiries: creds } });
    if (!r.ok) throw new Error(formatIssues(r.issues));
    expect(r.settings.monitoring.credentialExpiries).toEqual(creds);
    const bad = issuesOf({ ...publicValues(), monitoring: { credentialExpiries: [creds[0], { credential: 'x', expiresAt: '2027-02-25' }] } });
    expect(bad.map((i) => i.key)).toContain('fudbuddy:monitoring.credentialExpiries[1].expiresAt');
  });

  it('enforces mode rules: tailnet DNS name, admins, e2e-only keys, monitoring needs Tailscale and a route', () => {
    const p = privateValues();
    delete p.tailnetDnsName;
    p.tailnetAdmins = [];
    p.apiAllowFrom = ['10.0.0.0/8'];
    delete p.alertWebhookUrl;
    expect(issuesOf(p).map((i) => i.key)).toEqual(
      expect.arrayContaining(['fudbuddy:tailnetDnsName', 'fudbuddy:tailnetAdmins', 'fudbuddy:apiAllowFrom', 'fudbuddy:alertWebhookUrl']),
    );
    const l = localValues();
    l.monitoring = { enabled: true };
    (l.gpuHosts as Record<string, unknown>[])[0]!.bindAddress = undefined;
    expect(issuesOf(l).map((i) => i.key)).toEqual(expect.arrayContaining(['fudbuddy:monitoring.enabled', 'fudbuddy:gpuHosts[0].bindAddress']));
    const noWeb = publicValues();
    noWeb.web = { enabled: false };
    expect(issuesOf(noWeb).map((i) => i.key)).toEqual(['fudbuddy:worker.allowedOrigins']);
    const pub = publicValues();
    pub.tailscaleEnabled = 'false';
    expect(issuesOf(pub).map((i) => i.key)).toContain('fudbuddy:tailscaleEnabled');
  });

  it('monitoring.grafana: on by default and then needs grafanaAdminPassword; off, it needs none and refuses logs', () => {
    const on = parseStackConfig(privateValues());
    expect(on.ok && on.settings.monitoring.grafana).toBe(true);
    const noPassword = privateValues();
    delete noPassword.grafanaAdminPassword;
    const missing = issuesOf(noPassword);
    expect(missing.map((i) => i.key)).toEqual(['fudbuddy:grafanaAdminPassword']);
    expect(missing[0]!.message).toMatch(/^is required when monitoring\.enabled and monitoring\.grafana are true: Grafana admin password/);
    expect(missing[0]!.fix).toBe('pulumi config set --secret fudbuddy:grafanaAdminPassword <value>');
    // Off (as `pulumi config set --path` stores it, a string): no password needed, alerting still is.
    const off = parseStackConfig({ ...noPassword, monitoring: { grafana: 'false' } });
    expect(off.ok, off.ok ? '' : formatIssues(off.issues)).toBe(true);
    expect(off.ok && off.settings.monitoring).toMatchObject({ enabled: true, grafana: false, logs: false });
    const offNoRoute: Record<string, unknown> = { ...noPassword, monitoring: { grafana: false } };
    delete offNoRoute.alertWebhookUrl;
    expect(issuesOf(offNoRoute).map((i) => i.key)).toEqual(['fudbuddy:alertWebhookUrl']);
    // Monitoring off: no password either way.
    expect(parseStackConfig({ ...noPassword, monitoring: { enabled: false } }).ok).toBe(true);
    // Logs need Loki and Alloy from Grafana's apt repository: refused, naming both keys.
    const logs = issuesOf({ ...privateValues(), monitoring: { grafana: false, logs: true } });
    expect(logs.map((i) => i.key)).toEqual(['fudbuddy:monitoring.logs']);
    expect(logs[0]!.message).toContain('fudbuddy:monitoring.grafana');
    expect(logs[0]!.message).toContain('apt.grafana.com');
    expect(parseStackConfig({ ...privateValues(), monitoring: { grafana: true, logs: true } }).ok).toBe(true);
  });

  it('derives URLs: Funnel/serve URL from the edge (or first GPU host), api./app. hostnames from the domain', () => {
    const pub = parseStackConfig(publicValues());
    const priv = parseStackConfig(privateValues());
    if (!pub.ok || !priv.ok) throw new Error('fixtures invalid');
    const d = derive(pub.settings, 'beta');
    expect(d.edgeUrl).toBe('https://fudbuddy-edge.tail1234.ts.net');
    expect(d.workerUrl).toBe('https://api.fudbuddy.example');
    expect(d.webUrl).toBe('https://app.fudbuddy.example');
    expect(d.allowedOrigins).toEqual(['https://app.fudbuddy.example']);
    expect(d.workerScriptName).toBe('fudbuddy-api-beta');
    const p = derive(priv.settings, 'private');
    expect(p.edgeUrl).toBe('https://fudbuddy-gpu1.tail1234.ts.net');
    expect(p.workerUrl).toBeUndefined();
    expect(p.webUrl).toBeUndefined();
  });

  it('reads raw Pulumi config: parses JSON objects, leaves secrets and scalars as strings', () => {
    const raw = collectRawValues(asPulumiConfig(publicValues(), { 'cloudflare:apiToken': MARK.cloudflareApiToken }));
    expect(raw.gpuHosts).toEqual(publicValues().gpuHosts);
    expect(raw.serviceToken).toBe(MARK.serviceToken);
    expect(raw).not.toHaveProperty('apiToken');
    expect(parseStackConfig(raw).ok).toBe(true);
  });
});

describe('topology (roles and tags per node)', () => {
  it('public with an edge box: GPU hosts tag:gpu; the box tag:edge + tag:monitoring; funnel', async () => {
    const { planTopology } = await import('../../stacks/topology.js');
    const r = parseStackConfig(publicValues());
    if (!r.ok) throw new Error(formatIssues(r.issues));
    const t = planTopology(r.settings);
    expect(t.nodes.map((n) => [n.hostname, n.tags])).toEqual([
      ['fudbuddy-gpu1', ['tag:gpu']],
      ['fudbuddy-edge', ['tag:edge', 'tag:monitoring']],
    ]);
    expect(t).toMatchObject({ edgeHostname: 'fudbuddy-edge', edgeOnGpuHost: false, monitoringHostname: 'fudbuddy-edge', edgeMode: 'funnel' });
  });

  it('private without an edge box: the first GPU host plays edge (and monitoring); serve', async () => {
    const { planTopology } = await import('../../stacks/topology.js');
    const v = privateValues();
    v.monitoring = { enabled: false };
    const r = parseStackConfig(v);
    if (!r.ok) throw new Error(formatIssues(r.issues));
    const t = planTopology(r.settings);
    expect(t.nodes.map((n) => n.tags)).toEqual([['tag:gpu', 'tag:edge'], ['tag:gpu']]);
    expect(t).toMatchObject({ edgeHostname: 'fudbuddy-gpu1', edgeOnGpuHost: true, monitoringHostname: undefined, edgeMode: 'serve' });
  });
});
