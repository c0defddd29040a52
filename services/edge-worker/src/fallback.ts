import { resolveSampling } from '../../common/chat-types.js';
import type { ChatRequest } from './body.js';
import type { Config } from './config.js';
import { SYSTEM_PROMPTS } from './prompts.js';

// The OpenAI request that stands in for the origin: same system prompt and sampling as the inference
// API would use for this chat type; the client's own system messages are dropped, as the origin does.
const DEFAULT_MAX_TOKENS = 1024;
const MAX_TOKENS_CAP = 4096;

export function fallbackBody(req: ChatRequest, config: Config): Record<string, unknown> {
  const b = req.body;
  const messages = b.messages
    .filter((m) => m.role !== 'system' && m.role !== 'developer')
    .map((m) => ({ ...m }));
  const sampling = resolveSampling(req.chatType, {
    temperature: typeof b['temperature'] === 'number' ? b['temperature'] : undefined,
    top_p: typeof b['top_p'] === 'number' ? b['top_p'] : undefined,
  });
  const requestedMax = b['max_completion_tokens'] ?? b['max_tokens'];
  const maxTokens = typeof requestedMax === 'number' ? Math.min(requestedMax, MAX_TOKENS_CAP) : DEFAULT_MAX_TOKENS;
  const body: Record<string, unknown> = {
    model: config.fallbackModel,
    messages: [{ role: 'system', content: SYSTEM_PROMPTS[req.chatType] }, ...messages],
    temperature: sampling.temperature,
    top_p: sampling.top_p,
    max_completion_tokens: maxTokens,
    stream: req.stream,
  };
  if (typeof b['stop'] === 'string' || Array.isArray(b['stop'])) body['stop'] = b['stop'];
  return body;
}

export function fallbackUrl(config: Config): string {
  return `${config.openaiBaseUrl}/chat/completions`;
}
