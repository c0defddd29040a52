// Request validation for /v1/chat and /v1/chat/completions, and the upstream body built from it: our system prompt
// first, sampling clamped to safe ranges, max_tokens capped, only the parameters we forward.
import { z } from 'zod';
import { DEFAULT_CHAT_TYPE, isChatType, resolveSampling, CHAT_TYPES, type ChatType } from '../../common/chat-types.js';
import { badRequest, ApiError } from './errors.js';

const textPart = z.object({ type: z.literal('text'), text: z.string() });
const content = z.union([z.string(), z.array(textPart).min(1).max(64)]);
const message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant'], {
    error: (iss) => `unknown role ${JSON.stringify(iss.input)}: expected one of system, developer, user, assistant`,
  }),
  content,
  name: z.string().max(64).optional(),
});
const optionalNumber = z.number().nullish();

export const makeChatBodySchema = (maxMessages: number) =>
  z.object({
    messages: z
      .array(message, { error: (iss) => (iss.input === undefined ? 'messages is required' : 'messages must be an array') })
      .min(1, 'messages must not be empty')
      .max(maxMessages, `too many messages (at most ${maxMessages})`),
    chat_type: z.string().optional(),
    chatType: z.string().optional(),
    model: z.string().max(256).optional(),
    stream: z.boolean().nullish(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
    temperature: optionalNumber,
    top_p: optionalNumber,
    max_tokens: z.number().int().min(1).nullish(),
    max_completion_tokens: z.number().int().min(1).nullish(),
    n: z.literal(1, { error: 'only n=1 is supported' }).nullish(),
    stop: z.union([z.string().max(256), z.array(z.string().max(256)).max(4)]).nullish(),
    presence_penalty: z.number().min(-2).max(2).nullish(),
    frequency_penalty: z.number().min(-2).max(2).nullish(),
    seed: z.number().int().nullish(),
    user: z.string().max(256).optional(),
    metadata: z.record(z.string().max(64), z.string().max(512)).refine((m) => Object.keys(m).length <= 16, 'metadata holds at most 16 keys').nullish(),
    tools: z.undefined({ error: 'tools are not supported by this API' }).optional(),
    functions: z.undefined({ error: 'functions are not supported by this API' }).optional(),
  });
export type ChatBody = z.output<ReturnType<typeof makeChatBodySchema>>;

export interface ChatRequest {
  chatType: ChatType;
  stream: boolean;
  /** The client asked for the final usage chunk (stream_options.include_usage). */
  includeUsage: boolean;
  /** JSON for the upstream call (the system prompt is added by the caller). */
  upstream: Record<string, unknown> & { messages: { role: string; content: string | { type: 'text'; text: string }[] }[] };
}

function pathOf(p: readonly PropertyKey[]): string {
  return p.reduce<string>((acc, k) => (typeof k === 'number' ? `${acc}[${k}]` : acc ? `${acc}.${String(k)}` : String(k)), '');
}

export function resolveChatType(bodyValue: unknown, header: string | undefined): ChatType {
  const raw = bodyValue ?? header;
  if (raw === undefined || raw === '') return DEFAULT_CHAT_TYPE;
  if (!isChatType(raw)) {
    throw badRequest(`unknown chat_type ${JSON.stringify(String(raw).slice(0, 64))}: expected one of ${CHAT_TYPES.join(', ')}`, { param: 'chat_type', code: 'invalid_chat_type' });
  }
  return raw;
}

export function parseChatRequest(
  body: unknown,
  chatTypeHeader: string | undefined,
  opts: { maxMessages: number; maxTokensCap: number; model: string; systemPrompt: (t: ChatType) => string },
  schema = makeChatBodySchema(opts.maxMessages),
): ChatRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = pathOf(issue.path) || null;
    throw badRequest(param ? `${param}: ${issue.message}` : issue.message, { param, code: 'invalid_value' });
  }
  const b = parsed.data;
  const chatType = resolveChatType(b.chat_type ?? b.chatType, chatTypeHeader);
  const sampling = resolveSampling(chatType, { temperature: b.temperature ?? undefined, top_p: b.top_p ?? undefined });
  const requested = b.max_completion_tokens ?? b.max_tokens ?? opts.maxTokensCap;
  const stream = b.stream === true;

  // The server owns the persona: its prompt is the only system message, and client system/developer messages are
  // dropped. Appended to ours they could still override it ("ignore the above"), turning any token holder's chat into
  // a general-purpose LLM without our persona (issue 14); the edge's OpenAI fallback drops them the same way.
  const system = opts.systemPrompt(chatType);
  const conversation = b.messages.filter((m) => m.role === 'user' || m.role === 'assistant');
  if (conversation.length === 0) throw badRequest('messages must contain at least one user or assistant message', { param: 'messages', code: 'invalid_value' });

  const upstream: ChatRequest['upstream'] = {
    model: opts.model,
    messages: [{ role: 'system', content: system }, ...conversation.map((m) => (m.name ? { role: m.role, content: m.content, name: m.name } : { role: m.role, content: m.content }))],
    temperature: sampling.temperature,
    top_p: sampling.top_p,
    max_tokens: Math.min(requested, opts.maxTokensCap),
    stream,
  };
  if (stream) upstream.stream_options = { include_usage: true };
  if (b.stop != null) upstream.stop = b.stop;
  if (b.presence_penalty != null) upstream.presence_penalty = b.presence_penalty;
  if (b.frequency_penalty != null) upstream.frequency_penalty = b.frequency_penalty;
  if (b.seed != null) upstream.seed = b.seed;
  return { chatType, stream, includeUsage: stream && b.stream_options?.include_usage === true, upstream };
}

export { ApiError };
