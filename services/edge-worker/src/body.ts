import * as z from 'zod/mini';
import { CHAT_TYPES, DEFAULT_CHAT_TYPE, isChatType, type ChatType } from '../../common/chat-types.js';
import { HttpError, badRequest } from './errors.js';

/** Reads a JSON body of at most `limit` bytes without trusting Content-Length. */
export async function readJsonBody(request: Request, limit: number): Promise<unknown> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError({ status: 415, message: 'Content-Type must be application/json', type: 'invalid_request_error', code: 'unsupported_media_type' });
  }
  const tooLarge = () =>
    new HttpError({ status: 413, message: `Request body is larger than ${limit} bytes`, type: 'invalid_request_error', code: 'body_too_large' });
  // A moderately oversized body is read to its end (and dropped) before answering, so the client can finish
  // sending and read the 413 instead of writing into a closed connection; a huge one is cut off at once.
  const drainCap = Math.max(limit * 16, 1 << 20);
  const declared = Number(request.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > drainCap) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (request.body) {
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > drainCap) {
        await reader.cancel();
        throw tooLarge();
      }
      if (size <= limit) chunks.push(value);
    }
  }
  if (size > limit) throw tooLarge();
  const raw = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    raw.set(c, offset);
    offset += c.byteLength;
  }
  if (size === 0) throw badRequest('Request body is empty; expected a JSON object', { code: 'invalid_json' });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw));
  } catch {
    throw badRequest('Request body is not valid JSON', { code: 'invalid_json' });
  }
  return json;
}

// The Worker turns away at the edge what the origin would refuse (services/inference-api/src/validate.ts: roles,
// text-only content, n, stop, no tools), so that neither the origin nor the OpenAI fallback ever sees it. Messages
// and sizes are bounded by the API's defaults (MAX_MESSAGES 64). zod/mini keeps the bundle small.
const MAX_MESSAGES = 64;
const MAX_CONTENT_CHARS = 100_000;
const MAX_PARTS = 64;

const text = z.string().check(z.maxLength(MAX_CONTENT_CHARS));
const textPart = z.object({ type: z.literal('text', { error: 'only text content parts are accepted' }), text });
const content = z.union([text, z.array(textPart).check(z.minLength(1), z.maxLength(MAX_PARTS))], { error: 'content must be a string or a list of text parts' });
const positiveInt = z.nullish(z.int().check(z.minimum(1)));
const finite = z.nullish(z.number());

const common = {
  chat_type: z.optional(z.string()),
  stream: z.nullish(z.boolean({ error: 'stream must be true or false' })),
  stream_options: z.nullish(z.object({ include_usage: z.optional(z.boolean()) })),
  temperature: finite,
  top_p: finite,
  max_tokens: positiveInt,
  max_completion_tokens: positiveInt,
  n: z.nullish(z.literal(1, { error: 'only n=1 is supported' })),
  stop: z.nullish(z.union([z.string().check(z.maxLength(256)), z.array(z.string().check(z.maxLength(256))).check(z.maxLength(4))])),
  tools: z.optional(z.undefined({ error: 'tools are not supported by this API' })),
  functions: z.optional(z.undefined({ error: 'functions are not supported by this API' })),
};

const messages = <T extends z.ZodMiniType>(m: T) =>
  z.array(m, { error: 'messages must be a list' }).check(z.minLength(1, 'messages must not be empty'), z.maxLength(MAX_MESSAGES, `at most ${MAX_MESSAGES} messages`));

const fudBuddyBody = z.looseObject({
  messages: messages(z.looseObject({ role: z.enum(['system', 'user', 'assistant'], { error: 'role must be system, user or assistant' }), content: text })),
  chatType: z.optional(z.string()),
  metadata: z.optional(z.record(z.string().check(z.maxLength(64)), z.unknown())),
  ...common,
});

const openAiBody = z.looseObject({
  messages: messages(
    z.looseObject({
      role: z.enum(['system', 'developer', 'user', 'assistant'], { error: 'role must be system, developer, user or assistant' }),
      content,
      name: z.optional(z.string().check(z.maxLength(64))),
    }),
  ),
  model: z.optional(z.string().check(z.maxLength(256))),
  ...common,
});

export type ChatRoute = 'chat' | 'completions';

export type Message = { role: string; content: string | Array<{ type: 'text'; text: string }> };

export interface ChatRequest {
  route: ChatRoute;
  /** The client's JSON as it came (validated); the origin gets it with the Worker's stream_options. */
  body: Record<string, unknown> & { messages: Message[] };
  chatType: ChatType;
  stream: boolean;
  /** The client asked for the streamed usage chunk itself (otherwise the Worker strips it). */
  clientWantsUsage: boolean;
  /** Completion tokens asked for, capped at MAX_TOKENS_CAP. */
  maxTokens: number;
}

export function parseChatBody(route: ChatRoute, json: unknown, headerChatType: string | null, maxTokensCap: number): ChatRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badRequest('Request body must be a JSON object', { code: 'invalid_body' });
  const schema = route === 'chat' ? fudBuddyBody : openAiBody;
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.join('.') || null;
    throw badRequest(`Invalid request body${param ? ` at ${param}` : ''}: ${issue?.message ?? 'bad value'}`, { code: 'invalid_body', param });
  }
  const body = parsed.data as unknown as ChatRequest['body'] & { chat_type?: string; chatType?: string; stream?: boolean | null; stream_options?: { include_usage?: boolean } | null; max_tokens?: number | null; max_completion_tokens?: number | null };
  const requested = body.chat_type ?? body.chatType ?? headerChatType ?? DEFAULT_CHAT_TYPE;
  if (!isChatType(requested)) {
    throw badRequest(`Unknown chat type "${String(requested).slice(0, 40)}"; expected one of ${CHAT_TYPES.join(', ')}`, { code: 'invalid_chat_type', param: 'chat_type' });
  }
  // The origin needs someone to answer: system messages alone are refused there, so here too.
  if (!body.messages.some((m) => m.role === 'user' || m.role === 'assistant')) {
    throw badRequest('Invalid request body at messages: at least one user or assistant message is needed', { code: 'invalid_body', param: 'messages' });
  }
  const stream = body.stream === true;
  const asked = body.max_completion_tokens ?? body.max_tokens ?? maxTokensCap;
  return {
    route,
    body,
    chatType: requested,
    stream,
    clientWantsUsage: stream && body.stream_options?.include_usage === true,
    maxTokens: Math.min(asked, maxTokensCap),
  };
}
