// Shell quoting and the command strings Pulumi sends over SSH. Command strings are stored in Pulumi state in
// plaintext: they carry script paths and non-secret arguments only; secrets travel on stdin.

/** POSIX single-quote quoting. */
export function shq(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export const REMOTE_BIN = '/opt/fudbuddy/bin';

/** `sudo -n` unless the SSH user is root. */
export function asRoot(user: string, command: string): string {
  return user === 'root' ? command : `sudo -n ${command}`;
}

/** The command line running an installed host script with quoted arguments. */
export function scriptCommand(user: string, script: string, args: readonly string[] = []): string {
  if (!/^[a-z0-9-]+\.sh$/.test(script)) throw new Error(`not a host script name: ${script}`);
  return asRoot(user, [`bash ${REMOTE_BIN}/${script}`, ...args.map(shq)].join(' '));
}
