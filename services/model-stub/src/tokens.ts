// Deterministic "model output": the same request always yields the same tokens, so tests can assert on text.
const WORDS = [
  'Try', 'the', 'little', 'noodle', 'bar', 'on', 'the', 'corner,', 'order', 'the', 'spicy', 'dumplings', 'and', 'a',
  'cold', 'tea;', 'then', 'walk', 'to', 'the', 'river', 'for', 'gelato', 'before', 'sunset.',
];

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** Token i of a reply to `seedText`: a word plus a leading space (except the first), like a BPE stream. */
export function tokenAt(seedText: string, i: number): string {
  const word = WORDS[(hash(seedText) + i) % WORDS.length] ?? 'ok';
  return i === 0 ? word : ` ${word}`;
}

export function tokens(seedText: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => tokenAt(seedText, i));
}

/** Rough prompt size in tokens (~4 characters each); vLLM counts exactly, the stub only needs plausible numbers. */
export function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
