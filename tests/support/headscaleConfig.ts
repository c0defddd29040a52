// Headscale's config for an offline test run (tests/support/tailnet.ts): only what differs from the defaults of
// Headscale v0.29.3's config-example.yaml. Embedded DERP and STUN on the private bridge, no external DERP map, no
// update checks or log uploads, the policy in the database (so `headscale policy set` works), state under `dir`.
// server_url is the bridge address, not a name: Tailscale's client never tries HTTPS for an http:// URL with a
// private IP (control/ts2021 NewClient), but for an http://name:port it does, and a re-authentication shortly
// after a noise dial then goes to https://name:8080 only ("TLS forced: no port 80 dialed"), which fails here.
export function headscaleConfig(dir: string, address: string, port: number): string {
  return `server_url: http://${address}:${port}
listen_addr: ${address}:${port}
metrics_listen_addr: 127.0.0.1:0
grpc_listen_addr: 127.0.0.1:0
noise:
  private_key_path: ${dir}/noise_private.key
prefixes:
  v4: 100.64.0.0/10
  v6: fd7a:115c:a1e0::/48
  allocation: sequential
derp:
  server:
    enabled: true
    region_id: 999
    region_code: headscale
    region_name: Headscale Embedded DERP
    verify_clients: true
    stun_listen_addr: ${address}:3478
    private_key_path: ${dir}/derp_server_private.key
    automatically_add_embedded_derp_region: true
    ipv4: ${address}
  urls: []
  paths: []
  auto_update_enabled: false
disable_check_updates: true
database:
  type: sqlite
  sqlite:
    path: ${dir}/db.sqlite
    write_ahead_log: true
log:
  level: info
policy:
  mode: database
dns:
  magic_dns: true
  base_domain: tailnet.test
  override_local_dns: false
  nameservers:
    global: []
unix_socket: ${dir}/headscale.sock
unix_socket_permission: "0770"
logtail:
  enabled: false
`;
}

