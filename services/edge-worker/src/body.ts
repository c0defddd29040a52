import { z } from 'zod';
import { CHAT_TYPES, DEFAULT_CHAT_TYPE, isChatType, type ChatType } from '../../common/chat-types.js';
import { HttpError, badRequest } from './errors.js';

/** Reads a JSON body of at most `limit` bytes without trusting Content-Length. */
export async function readJsonBody(request: Request, limit: number): Promise<{ raw: Uint8Array; json: unknown }> {
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
  if (size === 0) throw badRequest('Request body is empty; expected a JSON object', 'invalid_json');
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw));
  } catch {
    throw badRequest('Request body is not valid JSON', 'invalid_json');
  }
  return { raw, json };
}

// The Worker validates enough to turn garbage away at the edge; the origin does the full validation.
const MAX_MESSAGES = 200;
const MAX_CONTENT_CHARS = 100_000;

const contentPart = z.looseObject({ type: z.string() });
const openAiMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string().max(MAX_CONTENT_CHARS), z.array(contentPart).max(100), z.null()]).optional(),
});

const fudBuddyMessage = z.looseObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string().max(MAX_CONTENT_CHARS),
});

const sampling = {
  stream: z.boolean().optional(),
  temperature: z.number().finite().optional(),
  top_p: z.number().finite().optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
};

const fudBuddyBody = z.looseObject({
  messages: z.array(fudBuddyMessage).min(1).max(MAX_MESSAGES),
  chat_type: z.string().optional(),
  chatType: z.string().optional(),
  metadata: z.record(z.string(), z.unknown()).optional(),
  ...sampling,
});

const openAiBody = z.looseObject({
  messages: z.array(openAiMessage).min(1).max(MAX_MESSAGES),
  model: z.string().max(256).optional(),
  chat_type: z.string().optional(),
  ...sampling,
});

export type ChatRoute = 'chat' | 'completions';

export interface ChatRequest {
  route: ChatRoute;
  raw: Uint8Array;
  body: Record<string, unknown> & { messages: Array<{ role: string; content?: unknown }> };
  chatType: ChatType;
  stream: boolean;
}

export function parseChatBody(route: ChatRoute, json: unknown, headerChatType: string | null, raw: Uint8Array): ChatRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw badRequest('Request body must be a JSON object', 'invalid_body');
  const schema = route === 'chat' ? fudBuddyBody : openAiBody;
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.join('.') || null;
    throw badRequest(`Invalid request body${param ? ` at ${param}` : ''}: ${issue?.message ?? 'bad value'}`, 'invalid_body', param);
  }
  const body = parsed.data as ChatRequest['body'] & { chat_type?: string; chatType?: string; stream?: boolean };
  const requested = body.chat_type ?? body.chatType ?? headerChatType ?? DEFAULT_CHAT_TYPE;
  if (!isChatType(requested)) {
    throw badRequest(`Unknown chat type "${String(requested).slice(0, 40)}"; expected one of ${CHAT_TYPES.join(', ')}`, 'invalid_chat_type', 'chat_type');
  }
  return { route, raw, body, chatType: requested, stream: body.stream === true };
}
