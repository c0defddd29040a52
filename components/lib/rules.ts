// The validation rules and defaults shared by the stack config (stacks/config.ts, where every key is validated
// once, at preview, with the `pulumi config set` that fixes it) and the pure builders that render host files from
// those values. One definition each: tests/stack/rules.test.ts runs the same samples through both sides, and the
// host scripts' own guards are compared with these patterns.
import { z } from 'zod';

/** A DNS label: host names, Tailscale hostnames, Prometheus `host` labels, resource-name parts. */
export const HOSTNAME_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const hostnameLabel = z.string().regex(HOSTNAME_LABEL, 'lowercase letters, digits and dashes (a DNS label)');

export const sshUser = z.string().regex(/^[a-z_][a-z0-9_-]*$/, 'a Unix user name');

/** An IPv4 or IPv6 network in CIDR notation (ufw sources). */
export const CIDR = /^([0-9]{1,3}(\.[0-9]{1,3}){3}\/[0-9]{1,2}|[0-9a-fA-F:]+\/[0-9]{1,3})$/;

/** vLLM pinned exactly (x.y.z): the wheel a host installs; vllm-install.sh guards with the same pattern. */
export const VLLM_VERSION = /^[0-9]+\.[0-9]+\.[0-9]+$/;
export const vllmVersion = z.string().regex(VLLM_VERSION, 'a pinned version like 0.11.0');

/** An NVIDIA driver branch (three digits); nvidia-driver.sh guards with the same pattern. */
export const DRIVER_BRANCH = /^[0-9]{3}$/;
export const driverBranch = z.string().regex(DRIVER_BRANCH, "a driver branch like '570'");

export const hfModelId = z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a Hugging Face repo id like "org/name"');

/** host:port of an SMTP relay (Alertmanager smarthost). */
export const smtpSmarthost = z.string().regex(/^[A-Za-z0-9.-]+:[0-9]{1,5}$/, 'host:port of the SMTP relay');

/** Prometheus TSDB retention. */
export const retention = z.string().regex(/^[0-9]+[dwy]$/, 'a duration like 30d');

/** An http(s) URL (webhooks, probes, external links). */
export const httpUrl = z.url({ protocol: /^https?$/ });

export const credentialName = z.string().regex(/^[\w.:-]{1,100}$/, 'letters, digits, _ . : - (at most 100)');

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
export function isIpv4(a: string): boolean {
  const m = IPV4.exec(a);
  return !!m && m.slice(1).every((o) => Number(o) <= 255);
}
/** The one address a service binds to: an IPv4 address of the host, never every interface. */
export const bindAddress = z.string().refine((a) => isIpv4(a) && a !== '0.0.0.0', 'one IPv4 address of the host (not 0.0.0.0)');

/** vLLM's port on loopback: never the API's port, never opened in the firewall. */
export const MODEL_PORT = 8000;
export const DEFAULT_API_PORT = 8001;
export const apiPort = z.coerce
  .number()
  .int()
  .min(1024)
  .max(65535)
  .refine((p) => p !== MODEL_PORT, `must not be ${MODEL_PORT} (vLLM's port)`);

/** The Node line a host runs the API on: an LTS line still supported (20 reached end of life on 2026-04-30). */
export const hostNodeMajor = z.coerce
  .number()
  .int()
  .refine((n) => n >= 22 && n % 2 === 0, 'an LTS Node line that is still supported: 22, 24 or 26');

/** How the NVIDIA driver is installed (nvidia-driver.sh --method): the stack key and GpuHostArgs share this type. */
export const driverInstall = z.enum(['ubuntu-drivers', 'dkms']);
/** A GPU host's accelerator: `none` = CPU test host running the model stub. */
export const gpuKind = z.enum(['nvidia', 'none']);
/** How the stack is reached: tailnet only (the edge node's `tailscale serve`), or the Worker with Funnel. */
export const exposureMode = z.enum(['private', 'public']);
/** Who runs the tailnet's control plane. */
export const controlServer = z.enum(['tailscale', 'headscale']);
