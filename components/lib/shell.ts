// Shell quoting and the command strings Pulumi sends over SSH. Command strings are stored in Pulumi state in
// plaintext: they carry script paths and non-secret arguments only; secrets travel on stdin.
import { HOST_PATHS } from './hostPaths.js';

/** POSIX single-quote quoting. */
export function shq(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export const REMOTE_BIN = HOST_PATHS.bin;

/** `sudo -n` unless the SSH user is root. */
export function asRoot(user: string, command: string): string {
  return user === 'root' ? command : `sudo -n ${command}`;
}

/** A program and its arguments, each quoted, run as root. */
export function rootCommand(user: string, argv: readonly string[]): string {
  return asRoot(user, argv.map(shq).join(' '));
}

/** The command line running an installed host script with quoted arguments. */
export function scriptCommand(user: string, script: string, args: readonly string[] = []): string {
  if (!/^[a-z0-9-]+\.sh$/.test(script)) throw new Error(`not a host script name: ${script}`);
  return asRoot(user, [`bash ${REMOTE_BIN}/${script}`, ...args.map(shq)].join(' '));
}
