// Upstream (vLLM) responses rebuilt into exactly OpenAI's published shape, so strict generated clients accept them
// (vLLM adds fields such as `annotations: null` that OpenAI's schema does not allow to be null).

const FINISH = new Set(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const nonNegInt = (v: unknown): number => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : 0);

export function usageOf(v: unknown): Usage | undefined {
  if (!isObj(v)) return undefined;
  const prompt = nonNegInt(v.prompt_tokens);
  const completion = nonNegInt(v.completion_tokens);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

export const finishReason = (v: unknown): string => (typeof v === 'string' && FINISH.has(v) ? v : 'stop');

export function normalizeCompletion(up: unknown, fallbackId: string, fallbackModel: string) {
  const u = isObj(up) ? up : {};
  const choices = Array.isArray(u.choices) ? u.choices : [];
  return {
    id: typeof u.id === 'string' ? u.id : fallbackId,
    object: 'chat.completion' as const,
    created: typeof u.created === 'number' && Number.isInteger(u.created) ? u.created : Math.floor(Date.now() / 1000),
    model: typeof u.model === 'string' ? u.model : fallbackModel,
    choices: choices.map((c: unknown, i: number) => {
      const ch = isObj(c) ? c : {};
      const msg = isObj(ch.message) ? ch.message : {};
      return {
        index: typeof ch.index === 'number' && Number.isInteger(ch.index) ? ch.index : i,
        message: {
          role: 'assistant' as const,
          content: typeof msg.content === 'string' ? msg.content : null,
          refusal: typeof msg.refusal === 'string' ? msg.refusal : null,
        },
        logprobs: null,
        finish_reason: finishReason(ch.finish_reason),
      };
    }),
    usage: usageOf(u.usage) ?? { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
  };
}
