// Stack configs for the three modes, as Pulumi hands them to the program (scalars as strings, objects parsed).
// Secret values are MARKERS: tests assert they never appear unwrapped in registered inputs or exports.
export const MARK = {
  serviceToken: 'MARKERservicetoken000000000000000000000001',
  serviceTokenPrevious: 'MARKERservicetokenprevious0000000000000002',
  jwtSigningKey: 'MARKERjwtsigningkey00000000000000000000003',
  jwtSigningKeyPrevious: 'MARKERjwtsigningkeyprevious000000000000004',
  upstreamApiKey: 'MARKERupstreamapikey0000000000000000000005',
  metricsToken: 'MARKERmetricstoken0000000000000000000000006',
  openaiApiKey: 'MARKERopenaiapikey7',
  inviteCodes: 'MARKERinvite8a,MARKERinvite8b',
  huggingFaceToken: 'MARKERhuggingface9',
  grafanaAdminPassword: 'MARKERgrafana10',
  alertWebhookUrl: 'https://hooks.example.com/MARKERwebhook11',
  sshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nMARKERsshkey12\n-----END OPENSSH PRIVATE KEY-----\n',
  cloudflareApiToken: 'MARKERcloudflare13',
  tailscaleApiKey: 'MARKERtailscale14',
} as const;

export const ALL_MARKERS: string[] = [
  ...Object.values(MARK),
  // Parts that could leak separately (comma-joined lists, multi-line keys).
  'MARKERinvite8a',
  'MARKERinvite8b',
  'MARKERsshkey12',
];

const gpu1 = { name: 'gpu1', address: '203.0.113.10', user: 'ubuntu', tailnetHostname: 'fudbuddy-gpu1', gpu: 'nvidia' };

export function publicValues(): Record<string, unknown> {
  return {
    exposure: 'public',
    environment: 'beta',
    tailnetDnsName: 'tail1234.ts.net',
    tailnetAdmins: ['ops@example.com'],
    gpuHosts: [gpu1],
    edgeNode: { address: '198.51.100.20', user: 'pi', tailnetHostname: 'fudbuddy-edge' },
    model: { id: 'Qwen/Qwen2.5-7B-Instruct', servedName: 'fudbuddy-chat', maxModelLen: 8192 },
    domain: 'fudbuddy.example',
    cloudflareAccountId: '0123456789abcdef0123456789abcdef',
    cloudflareZoneId: 'fedcba9876543210fedcba9876543210',
    sshAllowFrom: ['198.51.100.0/24'],
    serviceToken: MARK.serviceToken,
    serviceTokenPrevious: MARK.serviceTokenPrevious,
    jwtSigningKey: MARK.jwtSigningKey,
    jwtSigningKeyPrevious: MARK.jwtSigningKeyPrevious,
    upstreamApiKey: MARK.upstreamApiKey,
    metricsToken: MARK.metricsToken,
    openaiApiKey: MARK.openaiApiKey,
    inviteCodes: MARK.inviteCodes,
    huggingFaceToken: MARK.huggingFaceToken,
    grafanaAdminPassword: MARK.grafanaAdminPassword,
    alertWebhookUrl: MARK.alertWebhookUrl,
    sshPrivateKey: MARK.sshPrivateKey,
  };
}

/** Private: tailnet only, two GPU hosts, no edge box (the first GPU host is the edge), no Cloudflare. */
export function privateValues(): Record<string, unknown> {
  return {
    exposure: 'private',
    tailnetDnsName: 'tail1234.ts.net',
    tailnetAdmins: ['ops@example.com'],
    gpuHosts: [gpu1, { name: 'gpu2', address: '203.0.113.11', gpu: 'nvidia', tensorParallelSize: 2 }],
    serviceToken: MARK.serviceToken,
    upstreamApiKey: MARK.upstreamApiKey,
    metricsToken: MARK.metricsToken,
    grafanaAdminPassword: MARK.grafanaAdminPassword,
    alertWebhookUrl: MARK.alertWebhookUrl,
    sshPrivateKey: MARK.sshPrivateKey,
  };
}

/** Local/e2e: GPU, Cloudflare, Tailscale and monitoring off; a CPU test host reached over SSH. */
export function localValues(): Record<string, unknown> {
  return {
    exposure: 'private',
    environment: 'e2e',
    tailscaleEnabled: 'false',
    gpuHosts: [{ name: 'testhost', address: '127.0.0.1', port: 2222, user: 'root', gpu: 'none', bindAddress: '127.0.0.1' }],
    apiAllowFrom: ['127.0.0.0/8'],
    monitoring: { enabled: false },
    serviceToken: MARK.serviceToken,
    upstreamApiKey: MARK.upstreamApiKey,
    sshPrivateKey: MARK.sshPrivateKey,
  };
}

/** The form pulumi.runtime.setAllConfig takes: fully qualified keys, string values (objects as JSON). */
export function asPulumiConfig(values: Record<string, unknown>, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) out[`fudbuddy:${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
  return { ...out, ...extra };
}
