// fast-check fuzzing: the request validator never throws anything but a 400 ApiError, and a live server answers
// arbitrary bodies and headers with 2xx/4xx — never 5xx, never a crash or hang.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLING_LIMITS } from '../../services/common/chat-types.js';
import { ApiError } from '../../services/inference-api/src/errors.js';
import { makeChatBodySchema, parseChatRequest } from '../../services/inference-api/src/validate.js';
import { startStack, TOKEN, type Stack } from './helpers.js';

const opts = { maxMessages: 8, maxTokensCap: 64, model: 'm', systemPrompt: (t: string) => `prompt:${t}` };
const schema = makeChatBodySchema(opts.maxMessages);

const role = fc.oneof(fc.constantFrom('system', 'developer', 'user', 'assistant', 'tool', 'function', ''), fc.string());
const content = fc.oneof(fc.string(), fc.array(fc.record({ type: fc.constantFrom('text', 'image_url'), text: fc.string() })), fc.jsonValue());
const message = fc.oneof(fc.record({ role, content }, { requiredKeys: [] }), fc.jsonValue());
const num = fc.oneof(fc.double(), fc.integer(), fc.constant(null), fc.string());
const nearlyValid = fc.record(
  {
    messages: fc.oneof(fc.array(message, { maxLength: 12 }), fc.jsonValue()),
    chat_type: fc.oneof(fc.constantFrom('home', 'whereToGo', 'whatToOrder', 'somethingFun', 'nope'), fc.jsonValue()),
    chatType: fc.jsonValue(),
    stream: fc.oneof(fc.boolean(), fc.jsonValue()),
    temperature: num,
    top_p: num,
    max_tokens: num,
    max_completion_tokens: num,
    n: num,
    stop: fc.oneof(fc.string(), fc.array(fc.string()), fc.jsonValue()),
    metadata: fc.oneof(fc.dictionary(fc.string(), fc.string()), fc.jsonValue()),
    stream_options: fc.oneof(fc.record({ include_usage: fc.jsonValue() }), fc.jsonValue()),
  },
  { requiredKeys: [] },
);
const valid = fc.record(
  {
    messages: fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content: fc.string({ maxLength: 200 }) }), { minLength: 1, maxLength: 6 }).map((m) => [...m, { role: 'user', content: 'hi' }]),
    chat_type: fc.constantFrom('home', 'whereToGo', 'whatToOrder', 'somethingFun'),
    stream: fc.boolean(),
    temperature: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    top_p: fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
    max_tokens: fc.integer({ min: 1, max: 1e9 }),
  },
  { requiredKeys: ['messages'] },
);
const anyBody = fc.oneof(valid, nearlyValid, fc.jsonValue(), fc.anything());

describe('validator fuzz', () => {
  it('returns a sane upstream body or throws a 400 ApiError — nothing else', () => {
    fc.assert(
      fc.property(anyBody, fc.option(fc.string(), { nil: undefined }), (body, header) => {
        let r;
        try {
          r = parseChatRequest(body, header, opts, schema);
        } catch (err) {
          expect(err).toBeInstanceOf(ApiError);
          expect((err as ApiError).status).toBe(400);
          expect((err as ApiError).message.length).toBeGreaterThan(0);
          return;
        }
        const u = r.upstream;
        expect(u.messages[0]?.role).toBe('system');
        expect(String(u.messages[0]?.content).startsWith(`prompt:${r.chatType}`)).toBe(true);
        expect(u.messages.slice(1).every((m) => m.role === 'user' || m.role === 'assistant')).toBe(true);
        expect(u.max_tokens).toBeGreaterThanOrEqual(1);
        expect(u.max_tokens).toBeLessThanOrEqual(opts.maxTokensCap);
        expect(u.temperature).toBeGreaterThanOrEqual(SAMPLING_LIMITS.temperature.min);
        expect(u.temperature).toBeLessThanOrEqual(SAMPLING_LIMITS.temperature.max);
        expect(u.top_p).toBeGreaterThanOrEqual(SAMPLING_LIMITS.top_p.min);
        expect(u.top_p).toBeLessThanOrEqual(SAMPLING_LIMITS.top_p.max);
        expect(u.model).toBe('m');
      }),
      { numRuns: 3000 },
    );
  });
});

describe('live HTTP fuzz', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ RATE_LIMIT_RPM: 0, IP_RATE_LIMIT_RPM: 0, BODY_LIMIT: '16kb', MAX_TOKENS_CAP: 4 }, { completionTokens: 4 });
  });
  afterAll(async () => s?.close());

  const rawBody = fc.oneof(
    anyBody.map((b) => {
      try {
        return JSON.stringify(b) ?? 'undefined';
      } catch {
        return String(b);
      }
    }),
    fc.string(),
    fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a).toString('latin1')),
  );
  const headers = fc.record(
    {
      'x-chat-type': fc.string({ maxLength: 40 }).filter((h) => /^[\x20-\x7e]*$/.test(h)),
      'x-request-id': fc.string({ maxLength: 200 }).filter((h) => /^[\x20-\x7e]*$/.test(h)),
      'x-client-id': fc.string({ maxLength: 200 }).filter((h) => /^[\x20-\x7e]*$/.test(h)),
      'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1'),
    },
    { requiredKeys: [] },
  );

  it('arbitrary bodies and headers never produce a 5xx, and the server stays up', async () => {
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(rawBody, headers, fc.constantFrom('/v1/chat/completions', '/v1/chat'), async (body, hdrs, route) => {
        const res = await fetch(`${s.api.url}${route}`, { method: 'POST', headers: { ...hdrs, authorization: `Bearer ${TOKEN}` }, body });
        const text = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        expect(res.status, text).toBeLessThan(500);
        if (res.status !== 200) expect((JSON.parse(text) as { error: { message: string } }).error.message).toBeTruthy();
      }),
      { numRuns: 300 },
    );
    expect((await fetch(`${s.api.url}/healthz`)).status).toBe(200);
    // The corpus must exercise both sides: some requests accepted, some rejected.
    expect(statuses.get(400) ?? 0).toBeGreaterThan(0);
    expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
  });
});
