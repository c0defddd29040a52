// The VM suites run two files at a time: longest first (LPT) keeps both workers busy to the end, where vitest's
// default for a fresh clone (no results cache: larger files first) could leave the longest file to start last.
// Seconds per file, measured with two files at a time on a 2-core machine (docs/benchmarks.md); only the order
// depends on them. A file missing here runs first (vitest's rule for unknown files).
import path from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

export const VM_FILE_SECONDS: Record<string, number> = {
  'tests/engine/vm-headscale.vm.test.ts': 800,
  'tests/monitoring/monitoring.vm.test.ts': 750,
  'tests/engine/vm-host.vm.test.ts': 700,
  'tests/host/scripts.vm.test.ts': 500,
  'tests/tailnet/vm-tailnet.vm.test.ts': 450,
  'tests/host/gpu.vm.test.ts': 400,
};

export class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (f: TestSpecification): number => VM_FILE_SECONDS[path.relative(f.project.config.root, f.moduleId)] ?? Infinity;
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}
