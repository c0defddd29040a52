// Whether a driver branch can run the CUDA that a vLLM release needs, known before anything is installed (the stack
// config checks it at preview, naming fudbuddy:nvidiaDriverBranch and fudbuddy:vllmVersion). Two upstream tables:

/**
 * The CUDA runtime vLLM's PyPI wheels are built against, per release line (vLLM's release notes and its pinned
 * torch build: 0.8 → torch 2.6 cu124; 0.9/0.10 → torch 2.7 cu128; 0.11 → torch 2.8 cu128). A release line not
 * listed here needs fudbuddy:vllmCuda set by hand.
 */
export const VLLM_CUDA: Readonly<Record<string, string>> = { '0.8': '12.4', '0.9': '12.8', '0.10': '12.8', '0.11': '12.8' };

/**
 * The oldest Linux driver of each CUDA release (CUDA Toolkit release notes, "CUDA Toolkit and Corresponding Driver
 * Versions", Linux x86_64 column).
 */
export const CUDA_MIN_DRIVER: Readonly<Record<string, string>> = {
  '12.1': '530.30.02',
  '12.2': '535.54.03',
  '12.4': '550.54.14',
  '12.6': '560.28.03',
  '12.8': '570.26',
  '12.9': '575.51.03',
  '13.0': '580.65.06',
};

/** The stack key to fix and why (the message names the keys), or undefined when driver branch and vLLM's CUDA fit. */
export function cudaDriverMismatch(
  vllmVersion: string,
  driverBranch: string,
  cudaOverride?: string,
): { key: 'nvidiaDriverBranch' | 'vllmCuda'; message: string } | undefined {
  const line = vllmVersion.split('.').slice(0, 2).join('.');
  const cuda = cudaOverride ?? VLLM_CUDA[line];
  if (!cuda) {
    return { key: 'vllmCuda', message: `is needed: vLLM ${line}.x is not in the compatibility table (components/lib/cudaCompat.ts): set fudbuddy:vllmCuda to the CUDA version its wheels need (e.g. 12.8)` };
  }
  const min = CUDA_MIN_DRIVER[cuda];
  if (!min) return { key: 'vllmCuda', message: `${cuda} is not a CUDA release known to components/lib/cudaCompat.ts (${Object.keys(CUDA_MIN_DRIVER).join(', ')})` };
  if (Number(driverBranch) < Number(min.split('.')[0])) {
    return {
      key: 'nvidiaDriverBranch',
      message: `${driverBranch} is too old for fudbuddy:vllmVersion ${vllmVersion}: its CUDA ${cuda} needs driver ${min} or newer (branch ${min.split('.')[0]}+); raise nvidiaDriverBranch or pin an older vllmVersion`,
    };
  }
  return undefined;
}
