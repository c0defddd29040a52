// A real nginx (Debian's nginx-light, installed by .ci/run) on loopback, running one edge site from
// components/lib/serveConfig.ts under a throwaway prefix. Used by the edge suites and bench:routing / bench:e2e.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const NGINX_BIN = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));

export interface NginxProcess {
  url: string;
  dir: string;
  proc: ChildProcess;
  /** Replace the site and reload (nginx starts new workers; old ones finish their requests, then exit). */
  reload(site: string): Promise<void>;
  errorLog(): string;
  stop(): Promise<void>;
}

function mainConf(dir: string, workers: number): string {
  return (
    `pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log info;\nworker_processes ${workers};\n` +
    `events { worker_connections 4096; }\nhttp {\n` +
    `  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fcgi;\n` +
    `  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;\n  include ${dir}/site.conf;\n}\n`
  );
}

function check(dir: string): void {
  const r = spawnSync(NGINX_BIN!, ['-t', '-q', '-p', dir, '-c', `${dir}/nginx.conf`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nginx -t rejected the site:\n${r.stderr}`);
}

/** Starts nginx with `site` (its `listen` must be 127.0.0.1:<listenPort>) and waits until it answers. */
export async function startNginx(site: string, listenPort: number, opts: { workers?: number } = {}): Promise<NginxProcess> {
  if (!NGINX_BIN) throw new Error('nginx is not installed: apt-get install nginx-light (see .ci/run)');
  const dir = mkdtempSync(path.join(tmpdir(), 'edge-nginx-'));
  writeFileSync(path.join(dir, 'site.conf'), site);
  // Two workers by default, like a small edge box: proves the shared zones, not per-worker state.
  const workers = opts.workers ?? 2;
  writeFileSync(path.join(dir, 'nginx.conf'), mainConf(dir, workers));
  check(dir);
  const proc = spawn(NGINX_BIN, ['-p', dir, '-c', `${dir}/nginx.conf`, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  proc.stderr!.resume();
  const url = `http://127.0.0.1:${listenPort}`;
  const errorLog = () => (existsSync(`${dir}/error.log`) ? readFileSync(`${dir}/error.log`, 'utf8') : '');
  for (let i = 0; ; i++) {
    if (proc.exitCode !== null) throw new Error(`nginx exited ${proc.exitCode}: ${errorLog()}`);
    try {
      // Any answer (even an error from an upstream) means nginx accepts connections.
      await fetch(`${url}/__nginx_ready`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (i > 100) throw new Error(`nginx did not answer on ${url}: ${errorLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    url,
    dir,
    proc,
    errorLog,
    async reload(next: string) {
      writeFileSync(path.join(dir, 'site.conf'), next);
      check(dir);
      const marker = errorLog().length;
      proc.kill('SIGHUP');
      // Done when the new workers started and every old one stopped accepting (it finishes running requests).
      const reloaded = () => {
        const log = errorLog().slice(marker);
        return log.includes('start worker process') && (log.match(/gracefully shutting down/g) ?? []).length >= workers;
      };
      for (let i = 0; !reloaded(); i++) {
        if (i > 200) throw new Error(`nginx did not reload: ${errorLog().slice(marker)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
