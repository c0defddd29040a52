// The VM suites' order (tests/vmSequencer.ts): every VM file has a figure, and they start longest first.
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TestSpecification } from 'vitest/node';
import { LongestFirst, VM_FILE_SECONDS } from '../vmSequencer.js';

const root = path.resolve(import.meta.dirname, '../..');
const vmFiles = (readdirSync(path.join(root, 'tests'), { recursive: true }) as string[])
  .filter((f) => f.endsWith('.vm.test.ts'))
  .map((f) => path.posix.join('tests', f.split(path.sep).join('/')))
  .sort();

describe('VM suite order', () => {
  it('has a figure for every VM test file and none for a file that is gone', () => {
    expect(vmFiles.length).toBeGreaterThanOrEqual(6);
    expect(Object.keys(VM_FILE_SECONDS).sort()).toEqual(vmFiles);
  });

  it('starts the longest file first, an unknown one before all', async () => {
    const spec = (f: string) => ({ moduleId: path.join(root, f), project: { config: { root } } }) as unknown as TestSpecification;
    const files = [...vmFiles, 'tests/new.vm.test.ts'].map(spec);
    const sorted = await new LongestFirst({} as never).sort(files);
    const names = sorted.map((s) => path.relative(root, s.moduleId));
    expect(names[0]).toBe('tests/new.vm.test.ts');
    const secs = names.slice(1).map((n) => VM_FILE_SECONDS[n]!);
    expect(secs).toEqual([...secs].sort((a, b) => b - a));
  });
});
