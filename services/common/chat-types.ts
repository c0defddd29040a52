// The chat types FUD Buddy knows, and how each one samples. Shared by the inference API and the edge
// Worker (its OpenAI fallback must answer with the same prompt and sampling as the origin).
export const CHAT_TYPES = ['whereToGo', 'whatToOrder', 'somethingFun', 'home'] as const;
export type ChatType = (typeof CHAT_TYPES)[number];
export const DEFAULT_CHAT_TYPE: ChatType = 'home';

export function isChatType(value: unknown): value is ChatType {
  return typeof value === 'string' && (CHAT_TYPES as readonly string[]).includes(value);
}

export interface Sampling {
  temperature: number;
  top_p: number;
}

// Recommendations get a little more variety than practical chat; all stay in the 0.6–0.7 band.
export const SAMPLING_DEFAULTS: Readonly<Record<ChatType, Sampling>> = {
  whereToGo: { temperature: 0.7, top_p: 0.9 },
  whatToOrder: { temperature: 0.6, top_p: 0.9 },
  somethingFun: { temperature: 0.7, top_p: 0.9 },
  home: { temperature: 0.6, top_p: 0.9 },
};

/** Safe ranges for client-sent sampling values: outside them a model rambles or repeats itself. */
export const SAMPLING_LIMITS = {
  temperature: { min: 0, max: 1.2 },
  top_p: { min: 0.1, max: 1 },
} as const;

const clamp = (v: number, min: number, max: number): number => Math.min(max, Math.max(min, v));

/** Chat-type defaults, overridden by client values clamped into SAMPLING_LIMITS. */
export function resolveSampling(chatType: ChatType, requested: Partial<Sampling> = {}): Sampling {
  const base = SAMPLING_DEFAULTS[chatType];
  const pick = (key: keyof Sampling): number => {
    const v = requested[key];
    return typeof v === 'number' && Number.isFinite(v) ? clamp(v, SAMPLING_LIMITS[key].min, SAMPLING_LIMITS[key].max) : base[key];
  };
  return { temperature: pick('temperature'), top_p: pick('top_p') };
}
