// Where a request's wall time goes, per process: time on a CPU and time runnable but waiting for one, summed over
// every thread, from Linux's /proc/<pid>/task/<tid>/schedstat (fields: on-cpu ns, run-queue wait ns, timeslices).
import { existsSync, readdirSync, readFileSync } from 'node:fs';

export interface SchedSample {
  cpuNs: number;
  waitNs: number;
}

function readTask(pid: number, tid: string): SchedSample {
  try {
    const [cpu, wait] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    return { cpuNs: cpu ?? 0, waitNs: wait ?? 0 };
  } catch {
    return { cpuNs: 0, waitNs: 0 }; // the thread exited between readdir and read
  }
}

export function sample(pids: number[]): SchedSample {
  const out = { cpuNs: 0, waitNs: 0 };
  for (const pid of pids) {
    if (!existsSync(`/proc/${pid}/task`)) continue;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const s = readTask(pid, tid);
      out.cpuNs += s.cpuNs;
      out.waitNs += s.waitNs;
    }
  }
  return out;
}

/** Direct children of a process (e.g. nginx's workers, or the workerd that Miniflare started). */
export function childrenOf(pid: number, comm?: string): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const raw = existsSync(`/proc/${pid}/task/${tid}/children`) ? readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8') : '';
    for (const c of raw.trim().split(/\s+/).filter(Boolean).map(Number)) {
      if (!comm || readFileSync(`/proc/${c}/comm`, 'utf8').trim() === comm) out.push(c);
    }
  }
  return out;
}

export const diff = (a: SchedSample, b: SchedSample): SchedSample => ({ cpuNs: b.cpuNs - a.cpuNs, waitNs: b.waitNs - a.waitNs });
