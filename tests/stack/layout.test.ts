// Module size limit of the team's standards: no source file of the Pulumi package over 300 lines (the constructors
// and config schemas used to be 400+; they are split into phases and modules that each read alone).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const sources = (dir: string): string[] =>
  readdirSync(path.join(repo, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(repo, path.join(e.parentPath, e.name)));

describe('layout', () => {
  it('no TypeScript module of components/, stacks/ or index.ts is over 300 lines', () => {
    const long = [...sources('components'), ...sources('stacks'), 'index.ts']
      .map((f) => ({ f, lines: readFileSync(path.join(repo, f), 'utf8').split('\n').length - 1 }))
      .filter((x) => x.lines > 300);
    expect(long).toEqual([]);
  });
});
