// What the SSH test hosts (scripts/test-host.sh) and the qemu VMs (scripts/vm.sh) share: the check that the tools
// they need are here, and a lifecycle through their script (`start NAME ...` printing one JSON line last, `stop
// NAME`) that stops whatever is still running when the test process exits, also after a failed start.
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A message naming the first missing tool and how to install it, or null when all are on PATH. */
export function missingTool(tools: readonly string[], what: string, install: string): string | null {
  for (const tool of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${what} need${what.endsWith('s') ? '' : 's'} '${tool}' (apt-get install ${install})`;
    }
  }
  return null;
}

export interface ScriptedHosts {
  /** Runs `<script> start NAME ...args`; returns the JSON of its last output line. Cleans up when it fails. */
  start<T>(name: string, args: string[], timeoutMs: number, what: string): Promise<T>;
  stop(name: string): Promise<void>;
}

export function scriptedHosts(script: string): ScriptedHosts {
  const running = new Set<string>();
  process.on('exit', () => {
    for (const name of running) {
      try {
        execFileSync('bash', [script, 'stop', name], { stdio: 'ignore' });
      } catch {
        /* best effort at exit */
      }
    }
  });
  return {
    async start<T>(name: string, args: string[], timeoutMs: number, what: string): Promise<T> {
      running.add(name);
      let out: string;
      try {
        out = (await execFileAsync('bash', [script, 'start', name, ...args], { maxBuffer: 1 << 20, timeout: timeoutMs })).stdout;
      } catch (e) {
        await execFileAsync('bash', [script, 'stop', name]).catch(() => undefined);
        running.delete(name);
        throw new Error(`${what} ${name} did not start: ${(e as { stderr?: string }).stderr ?? String(e)}`);
      }
      return JSON.parse(out.trim().split('\n').pop()!) as T;
    },
    async stop(name) {
      await execFileAsync('bash', [script, 'stop', name]);
      running.delete(name);
    },
  };
}
