// The address a quota is keyed on. Cloudflare sets CF-Connecting-IP itself and overwrites any value a client sends.
// An IPv6 client usually holds a whole /64 (often more), so keying on the full address would give it 2^64 fresh
// budgets: IPv6 is keyed on its /64 prefix, IPv4 (and IPv4-mapped IPv6) on the address.

/** Expands an IPv6 address into its eight 16-bit groups, or undefined when it is not one. */
function ipv6Groups(addr: string): number[] | undefined {
  let text = addr.toLowerCase().replace(/%.*$/, '');
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two groups.
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    if (b.some((x) => x > 255)) return undefined;
    text = text.slice(0, v4.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const part = (s: string) => (s === '' ? [] : s.split(':'));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (!groups.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => parseInt(g, 16));
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** "ip:203.0.113.9", "ip:2001:db8:1:2::/64"; anything unparsable is keyed as given (still one bucket per value). */
export function ipKey(addr: string | null): string {
  if (!addr) return 'ip:unknown';
  const a = addr.trim();
  if (IPV4.test(a)) return `ip:${a}`;
  const g = ipv6Groups(a);
  if (!g) return `ip:${a.slice(0, 64)}`;
  const mapped = g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff;
  if (mapped) return `ip:${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  return `ip:${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}
