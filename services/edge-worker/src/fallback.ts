import { resolveSampling } from '../../common/chat-types.js';
import type { ChatRequest, Message } from './body.js';
import type { Config } from './config.js';
import { SYSTEM_PROMPTS } from './prompts.js';

// The OpenAI request that stands in for the origin, holding to what the origin would send vLLM
// (services/inference-api/src/validate.ts): the server's system prompt first and alone (client system/developer
// messages are dropped, as the origin drops them), text-only user/assistant turns, chat-type sampling clamped to
// the same ranges, the same max_tokens cap, and always the usage chunk so the answer is charged what it used.
// body.ts has already refused what the origin would refuse (other roles, non-text parts, tools, n > 1).

const textOf = (c: Message['content']): string => (typeof c === 'string' ? c : c.map((p) => p.text).join(''));

export function fallbackBody(req: ChatRequest, config: Config): Record<string, unknown> {
  const b = req.body;
  const turns = b.messages.filter((m) => m.role === 'user' || m.role === 'assistant').map((m) => ({ role: m.role, content: textOf(m.content) }));
  const sampling = resolveSampling(req.chatType, {
    temperature: typeof b['temperature'] === 'number' ? b['temperature'] : undefined,
    top_p: typeof b['top_p'] === 'number' ? b['top_p'] : undefined,
  });
  const body: Record<string, unknown> = {
    model: config.fallbackModel,
    messages: [{ role: 'system', content: SYSTEM_PROMPTS[req.chatType] }, ...turns],
    temperature: sampling.temperature,
    top_p: sampling.top_p,
    max_completion_tokens: req.maxTokens,
    stream: req.stream,
  };
  if (req.stream) body['stream_options'] = { include_usage: true };
  if (typeof b['stop'] === 'string' || Array.isArray(b['stop'])) body['stop'] = b['stop'];
  return body;
}

export function fallbackUrl(config: Config): string {
  return `${config.openaiBaseUrl}/chat/completions`;
}
