// What a GpuHost puts on a host and what `pulumi destroy` (the teardown step, teardown.sh) removes: the one list
// the teardown step passes to teardown.sh, docs/host.md shows (a unit test keeps the doc's table equal to it) and
// the VM engine test checks after destroy.
import { HOST_PATHS } from './hostPaths.js';
import { GPU_EXPORTER_UNITS, MONITORING_PATHS } from './monitoringFiles.js';
import { API_SERVICE_USER, API_UNIT, STUB_UNIT, VLLM_UNIT } from './units.js';

/** Removed by destroy. */
export const TEARDOWN = {
  /** Stopped, disabled, unit files deleted. */
  units: [API_UNIT, STUB_UNIT, VLLM_UNIT],
  /** Config (secrets included), bundles, prompts. */
  paths: ['/etc/fudbuddy', '/etc/fudbuddy-api', '/opt/fudbuddy/api', HOST_PATHS.prompts, '/opt/fudbuddy/model-stub'],
  /** Owns nothing that stays. */
  users: [API_SERVICE_USER],
  /** Leftover staged copies of a failed run (a successful install deletes its own), and the apt queue's lock. */
  globs: ['/var/tmp/fudbuddy-*', '/run/lock/fudbuddy-apt.lock'],
  /** ufw: every rule firewall.sh added (recorded in /etc/fudbuddy/ufw.rules) except those for sshd's own port(s). */
  firewall: 'our rules except SSH',
} as const;

/** CONF_DIR and LIB_DIR of components/scripts/monitoring/lib.sh (a test keeps them equal). */
export const MONITORING_DIRS = { conf: '/etc/fudbuddy-monitoring', lib: '/usr/local/lib/fudbuddy-monitoring' } as const;

/**
 * What the monitoring component's exporters put on a GPU host (components/scripts/monitoring/gpu-exporters.sh) and
 * its own teardown step removes on destroy, or when monitoring is turned off: the host's API keeps its firewall.
 */
export const EXPORTERS_TEARDOWN = {
  units: GPU_EXPORTER_UNITS,
  paths: [MONITORING_DIRS.conf, MONITORING_DIRS.lib],
} as const;

/**
 * What the monitoring server (components/scripts/monitoring/monitoring-server.sh, grafana-server.sh,
 * logs-server.sh) has of ours on its host, removed by the monitoring component's server-teardown step
 * (server-teardown.sh, which also removes MONITORING_DIRS.lib, where it runs from, last) on destroy or when
 * monitoring is turned off. The packages stay, with their non-secret settings (/etc/default/…, prometheus.yml).
 */
export const MONITORING_SERVER_TEARDOWN = {
  /** The distribution packages' services this stack runs: stopped and disabled (absent ones are skipped). */
  stopped: ['prometheus.service', 'prometheus-alertmanager.service', 'prometheus-blackbox-exporter.service', 'grafana-server.service', 'loki.service'],
  units: ['fudbuddy-fs-roles.service'],
  /** Secrets first (metrics tokens, the Alertmanager config with its webhook/SMTP password, Grafana's admin password). */
  paths: [
    MONITORING_PATHS.secretsDir,
    MONITORING_PATHS.alertmanagerConfig,
    MONITORING_PATHS.grafanaAdminPasswordFile,
    MONITORING_PATHS.rulesDir,
    MONITORING_PATHS.dashboardsDir,
    '/etc/grafana/provisioning/datasources/fudbuddy.yml',
    '/etc/grafana/provisioning/dashboards/fudbuddy.yml',
    '/etc/systemd/system/grafana-server.service.d/fudbuddy.conf',
    '/etc/systemd/system/loki.service.d/fudbuddy.conf',
    MONITORING_DIRS.conf,
  ],
} as const;

/** server-teardown.sh's arguments. */
export function serverTeardownArgs(): string[] {
  const s = MONITORING_SERVER_TEARDOWN;
  return [...s.stopped.flatMap((u) => ['--stop', u]), ...s.units.flatMap((u) => ['--unit', u]), ...s.paths.flatMap((p) => ['--path', p])];
}

/** Kept by destroy, each with why (docs/host.md says how to remove them by hand). */
export const KEPT: readonly { what: string; why: string }[] = [
  { what: 'ufw enabled, default deny, our SSH rule(s)', why: 'removing the SSH rule under default-deny locks the operator out; disabling ufw would open every other port of the box' },
  { what: `${HOST_PATHS.bin}/`, why: 'the ops scripts (runbook) and teardown.sh itself' },
  { what: `${HOST_PATHS.models}/, /var/lib/fudbuddy/, user fudbuddy-model`, why: 'the model cache (tens of GB, slow to download again); the user owns it' },
  { what: `${HOST_PATHS.vllmVenv}/`, why: 'the pinned vLLM venv: minutes to rebuild, idle when no unit runs it' },
  { what: 'packages (Node, ufw, curl, gnupg, unattended-upgrades, the NVIDIA driver and its apt holds, Tailscale)', why: 'shared with the rest of the box; purging a driver or Node may break other software' },
  { what: '/etc/modprobe.d/blacklist-nouveau.conf', why: 'removing it would load nouveau next boot under the kept NVIDIA driver' },
  { what: 'the tailnet membership (tailscaled logged in)', why: 'the node is removed from the tailnet by the Tailnet resources, not by the host' },
  { what: "Debian's prometheus-node-exporter with our settings (/etc/default/prometheus-node-exporter, its fudbuddy.conf drop-in)", why: 'a distribution package like the others above: `apt purge prometheus-node-exporter` removes it and its settings' },
  { what: '/etc/systemd/journald.conf.d/fudbuddy.conf, /etc/apt/apt.conf.d/20auto-upgrades', why: 'persistent logs for a post-mortem; security updates stay on' },
];

/** teardown.sh's arguments (the delete command of the teardown step). */
export function teardownArgs(): string[] {
  return [
    ...TEARDOWN.units.flatMap((u) => ['--unit', u]),
    ...TEARDOWN.paths.flatMap((p) => ['--path', p]),
    ...TEARDOWN.users.flatMap((u) => ['--user', u]),
    ...TEARDOWN.globs.flatMap((g) => ['--glob', g]),
  ];
}

/** teardown.sh's arguments for the monitoring exporters' teardown step (the API's ufw rules are not theirs). */
export function exportersTeardownArgs(): string[] {
  return [...EXPORTERS_TEARDOWN.units.flatMap((u) => ['--unit', u]), ...EXPORTERS_TEARDOWN.paths.flatMap((p) => ['--path', p]), '--keep-firewall'];
}

/** The docs/host.md table (between its `footprint` markers). */
export function footprintTable(): string {
  const rows = [
    '| On the host | `pulumi destroy` |',
    '|---|---|',
    ...TEARDOWN.units.map((u) => `| unit \`${u}\` | removed (stopped, disabled, file deleted) |`),
    ...TEARDOWN.paths.map((p) => `| \`${p}\` | removed |`),
    ...TEARDOWN.users.map((u) => `| user \`${u}\` | removed |`),
    ...TEARDOWN.globs.map((g) => `| \`${g}\` | removed |`),
    `| ufw rules firewall.sh added | removed, except the SSH rule(s) |`,
    ...KEPT.map((k) => `| ${k.what} | **kept**: ${k.why} |`),
  ];
  return rows.join('\n');
}
