// Builds the tailnet policy (Tailscale's JSON policy file) from the topology. Pure: tested alone and by the
// local policy checker (policyCheck.ts) that evaluates the policy's own `tests` against its grants.

export const DEFAULT_TAGS = { gpu: 'tag:gpu', edge: 'tag:edge', monitoring: 'tag:monitoring' } as const;
/** Ports nobody but the edge may reach on a GPU node (8001) or nobody at all (8000: vLLM is loopback-only). */
export const API_PORT = 8001;
export const MODEL_PORT = 8000;
/** The HTTPS port `tailscale serve` listens on (tailnet address of the edge node). */
export const SERVE_PORT = 443;

/** Monitoring access to GPU nodes, set by the monitoring component (node exporter, GPU exporter, ...). */
export interface MonitoringAccessArgs {
  /** Tag of the Prometheus node. Default `tag:monitoring`. */
  tag?: string;
  /** TCP ports on tag:gpu (and tag:edge when `edgePorts`) it may scrape, e.g. `[9100, 9400]`. 8000/8001 are refused. */
  gpuPorts: number[];
  /** TCP ports on tag:edge it may scrape. */
  edgePorts?: number[];
  /**
   * TCP ports on the monitoring tag that tag:gpu nodes push logs to (Loki, `[3100]`, when monitoring logs are on).
   * 8000/8001/22 are refused: the monitoring node may itself be a GPU host.
   */
  logsFromGpuPorts?: number[];
}

/**
 * Who may be a serve client: every tailnet user (`autogroup:member`), the admin group, or user logins. Tags are not
 * accepted (this policy owns only its own tags) and `*` is refused (it would include shared-in and tagged devices).
 */
export const SERVE_CLIENT_RE = /^(autogroup:member|group:fudbuddy-admins|[^\s@:]+@[^\s@]+)$/;

export interface TailnetPolicyArgs {
  /**
   * Admin identities (Tailscale login emails, e.g. `alice@example.com`). They own the tags, get OpenSSH (tcp:22)
   * to every node, and nothing else. At least one: the policy tests use the first as a source.
   */
  admins: string[];
  /** Tag of inference hosts. Default `tag:gpu`. */
  gpuTag?: string;
  /** Tag of the edge node (Funnel endpoint for the Worker). Default `tag:edge`. */
  edgeTag?: string;
  /** The API port on GPU nodes. Default 8001. */
  apiPort?: number;
  /** Grant the `funnel` node attribute to the edge tag (the Worker reaches the edge through Funnel). Default true. */
  funnel?: boolean;
  /** Monitoring node access, when the stack has monitoring. */
  monitoring?: MonitoringAccessArgs;
  /**
   * Private exposure: tailnet sources allowed to the edge node's `tailscale serve` HTTPS port (tag:edge:443), e.g.
   * `['autogroup:member']` or user logins. Unset: no tailnet user reaches tag:edge:443 (public exposure needs no
   * grant: Funnel traffic arrives from Tailscale's ingress servers, not from tailnet sources).
   */
  serveClients?: string[];
  /** The edge's serve port: SERVE_PORT (HTTPS) by default; Headscale serves plain HTTP (HEADSCALE_EDGE_HTTP_PORT). */
  servePort?: number;
}

export interface PolicyGrant {
  src: string[];
  dst: string[];
  ip: string[];
}
export interface PolicyTest {
  src: string;
  proto?: string;
  accept?: string[];
  deny?: string[];
}
export interface TailnetPolicy {
  groups: Record<string, string[]>;
  tagOwners: Record<string, string[]>;
  grants: PolicyGrant[];
  nodeAttrs: { target: string[]; attr: string[] }[];
  tests: PolicyTest[];
}

export const ADMIN_GROUP = 'group:fudbuddy-admins';

const TAG_RE = /^tag:[a-z0-9][a-z0-9-]*$/;
const EMAIL_RE = /^[^\s@]+@[^\s@]+$/;

function checkPort(port: number, key: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`${key}: ${port} is not a TCP port`);
}

/** The policy document. Throws with the offending argument's name on bad input. */
export function buildTailnetPolicy(args: TailnetPolicyArgs): TailnetPolicy {
  const gpu = args.gpuTag ?? DEFAULT_TAGS.gpu;
  const edge = args.edgeTag ?? DEFAULT_TAGS.edge;
  const apiPort = args.apiPort ?? API_PORT;
  for (const [k, t] of [['gpuTag', gpu], ['edgeTag', edge]] as const) {
    if (!TAG_RE.test(t)) throw new Error(`tailnet.${k}: '${t}' is not a tag (tag:lowercase-name)`);
  }
  if (gpu === edge) throw new Error('tailnet.edgeTag must differ from tailnet.gpuTag');
  checkPort(apiPort, 'tailnet.apiPort');
  const servePort = args.servePort ?? SERVE_PORT;
  checkPort(servePort, 'tailnet.servePort');
  if (apiPort === MODEL_PORT) throw new Error(`tailnet.apiPort must not be ${MODEL_PORT} (vLLM is never exposed)`);
  if (args.admins.length === 0) throw new Error('tailnet.admins: at least one admin login (email) is required');
  for (const a of args.admins) {
    if (!EMAIL_RE.test(a)) throw new Error(`tailnet.admins: '${a}' is not a Tailscale login (user@domain)`);
  }

  if (args.serveClients !== undefined) {
    if (args.serveClients.length === 0) {
      throw new Error('tailnet.serveClients: at least one source (e.g. autogroup:member), or leave it unset for no serve access');
    }
    for (const c of args.serveClients) {
      if (!SERVE_CLIENT_RE.test(c)) {
        throw new Error(`tailnet.serveClients: '${c}' is not autogroup:member, ${ADMIN_GROUP} or a user login (user@domain)`);
      }
    }
  }

  const tagOwners: Record<string, string[]> = { [gpu]: [ADMIN_GROUP], [edge]: [ADMIN_GROUP] };
  const grants: PolicyGrant[] = [
    // The one data-path rule: only the edge reaches the API. Nothing reaches MODEL_PORT.
    { src: [edge], dst: [gpu], ip: [`tcp:${apiPort}`] },
    { src: [ADMIN_GROUP], dst: [gpu, edge], ip: ['tcp:22'] },
  ];
  const tests: PolicyTest[] = [
    { src: edge, accept: [`${gpu}:${apiPort}`], deny: [`${gpu}:${MODEL_PORT}`, `${gpu}:22`] },
    {
      src: args.admins[0]!,
      accept: [`${gpu}:22`, `${edge}:22`],
      // Without serve clients nobody on the tailnet reaches the edge's HTTPS port (public mode: Funnel only).
      deny: [`${gpu}:${apiPort}`, `${gpu}:${MODEL_PORT}`, ...(args.serveClients ? [] : [`${edge}:${servePort}`])],
    },
    { src: gpu, deny: [`${gpu}:${apiPort}`, `${gpu}:${MODEL_PORT}`, `${edge}:22`] },
  ];

  if (args.serveClients) {
    // Private exposure: tailnet users call the API through the edge's `tailscale serve` (HTTPS on the tailnet
    // address); the edge's proxy, not the user, reaches tag:gpu:8001.
    grants.push({ src: [...args.serveClients], dst: [edge], ip: [`tcp:${servePort}`] });
    // A concrete identity for the test: a listed login, else the first admin (a member, and in the admin group).
    const client = args.serveClients.find((c) => c.includes('@')) ?? args.admins[0]!;
    tests.push({ src: client, accept: [`${edge}:${servePort}`], deny: [`${gpu}:${apiPort}`, `${gpu}:${MODEL_PORT}`] });
  }

  if (args.monitoring) {
    const mon = args.monitoring.tag ?? DEFAULT_TAGS.monitoring;
    if (!TAG_RE.test(mon)) throw new Error(`tailnet.monitoring.tag: '${mon}' is not a tag`);
    if (mon === gpu || mon === edge) throw new Error('tailnet.monitoring.tag must differ from the gpu and edge tags');
    const check = (ports: number[], key: string): void => {
      for (const p of ports) {
        checkPort(p, key);
        if (p === apiPort || p === MODEL_PORT) {
          throw new Error(`${key}: ${p} is reserved (only ${edge} reaches ${apiPort}; ${MODEL_PORT} is never exposed)`);
        }
      }
    };
    check(args.monitoring.gpuPorts, 'tailnet.monitoring.gpuPorts');
    check(args.monitoring.edgePorts ?? [], 'tailnet.monitoring.edgePorts');
    const logsPorts = args.monitoring.logsFromGpuPorts ?? [];
    check(logsPorts, 'tailnet.monitoring.logsFromGpuPorts');
    if (logsPorts.includes(22)) throw new Error('tailnet.monitoring.logsFromGpuPorts: 22 is reserved (SSH is for admins only)');
    tagOwners[mon] = [ADMIN_GROUP];
    if (args.monitoring.gpuPorts.length > 0) {
      grants.push({ src: [mon], dst: [gpu], ip: args.monitoring.gpuPorts.map((p) => `tcp:${p}`) });
    }
    if ((args.monitoring.edgePorts ?? []).length > 0) {
      grants.push({ src: [mon], dst: [edge], ip: args.monitoring.edgePorts!.map((p) => `tcp:${p}`) });
    }
    tests.push({
      src: mon,
      accept: [...args.monitoring.gpuPorts.map((p) => `${gpu}:${p}`), ...(args.monitoring.edgePorts ?? []).map((p) => `${edge}:${p}`)],
      deny: [`${gpu}:${apiPort}`, `${gpu}:${MODEL_PORT}`, `${gpu}:22`],
    });
    if (logsPorts.length > 0) {
      // Log shipping: Alloy on every GPU node pushes journald to Loki on the monitoring node.
      grants.push({ src: [gpu], dst: [mon], ip: logsPorts.map((p) => `tcp:${p}`) });
      tests.push({
        src: gpu,
        accept: logsPorts.map((p) => `${mon}:${p}`),
        deny: [`${mon}:22`, `${mon}:${apiPort}`, `${mon}:${MODEL_PORT}`],
      });
    }
  }

  return {
    groups: { [ADMIN_GROUP]: [...args.admins] },
    tagOwners,
    // No `ssh` section: hosts never run `tailscale up --ssh` (Pulumi and admins use the hosts' OpenSSH with pinned
    // host keys, over the tcp:22 grant above), so Tailscale SSH rules would promise access that is not there.
    grants,
    nodeAttrs: args.funnel === false ? [] : [{ target: [edge], attr: ['funnel'] }],
    tests,
  };
}

/** The policy as the string tailscale.Acl takes (stable key order, so an unchanged topology is no diff). */
export function renderTailnetPolicy(policy: TailnetPolicy): string {
  return `${JSON.stringify(policy, null, 2)}\n`;
}
