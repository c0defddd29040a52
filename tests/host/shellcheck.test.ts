// Every host script, the repo's own scripts (VM, toolchain and test-host scripts) and the stand-ins: `bash -n`, shellcheck (Debian's package), strict mode.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCRIPTS_DIR } from '../../components/lib/scriptsDir.js';
import { REPO_ROOT } from '../support/testHost.js';

const STANDINS = path.join(REPO_ROOT, 'tests/host/standins');
const hostScripts = readdirSync(SCRIPTS_DIR).filter((f) => f.endsWith('.sh')).map((f) => path.join(SCRIPTS_DIR, f));
const standins = readdirSync(STANDINS).map((f) => path.join(STANDINS, f));
/** The GPU/apt stand-ins of the driver and device-node tests (tests/host/standins-gpu, standins-apt). */
const gpuStandins = ['standins-gpu', 'standins-apt'].flatMap((d) => readdirSync(path.join(REPO_ROOT, 'tests/host', d)).map((f) => path.join(REPO_ROOT, 'tests/host', d, f)));
/** scripts/*.sh: the VM, toolchain and test-host scripts that CI itself runs. */
const repoScripts = readdirSync(path.join(REPO_ROOT, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => path.join(REPO_ROOT, 'scripts', f));
const all = [...hostScripts, ...repoScripts, ...standins, ...gpuStandins];

function shellcheck(files: string[]): string {
  try {
    execFileSync('shellcheck', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new Error('shellcheck is not installed: apt-get install shellcheck (.ci/run installs it)');
  }
  try {
    execFileSync('shellcheck', ['-x', '-s', 'bash', '-f', 'gcc', ...files], { cwd: SCRIPTS_DIR, encoding: 'utf8' });
    return '';
  } catch (e) {
    return (e as { stdout?: string }).stdout ?? String(e);
  }
}

describe('shell scripts', () => {
  it('there are scripts to check', () => {
    expect(hostScripts.length).toBeGreaterThanOrEqual(20);
    expect(repoScripts.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['vm.sh', 'vm-recipe.sh', 'test-host.sh', 'host-node.sh']));
    expect(standins.map((f) => path.basename(f)).sort()).toEqual(['tailscale', 'tailscaled']);
  });

  it.each(all.map((f) => [path.relative(REPO_ROOT, f), f]))('bash -n %s', (_rel, file) => {
    execFileSync('bash', ['-n', file]);
  });

  // One shellcheck run over ~50 files: slow on a loaded machine, so a longer budget than the default 30 s.
  it('shellcheck finds nothing (all severities)', { timeout: 120_000 }, () => {
    expect(shellcheck(all)).toBe('');
  });

  it('shellcheck does catch a bad script (the check is live)', () => {
    const out = (() => {
      try {
        execFileSync('shellcheck', ['-s', 'bash', '-'], { input: '#!/bin/bash\nrm -rf $1/*\n', encoding: 'utf8' });
        return '';
      } catch (e) {
        return (e as { stdout?: string }).stdout ?? '';
      }
    })();
    expect(out).toContain('SC2086');
  });

  it('executable scripts run with set -euo pipefail; lib.sh and vm-recipe.sh are sourced only', () => {
    for (const f of all) {
      const text = readFileSync(f, 'utf8');
      expect(text.startsWith('#!/usr/bin/env bash\n'), f).toBe(true);
      if (['lib.sh', 'vm-recipe.sh'].includes(path.basename(f))) continue;
      expect(text, f).toMatch(/^set -euo pipefail$/m);
    }
  });

  it('no stand-in lives among the production scripts', () => {
    for (const f of hostScripts) expect(readFileSync(f, 'utf8'), f).not.toMatch(/STAND-IN|standin/i);
  });
});
