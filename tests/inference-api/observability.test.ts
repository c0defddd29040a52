// /metrics carries exactly the contract's metric names; logs carry ids and timings but never message content or
// bearer tokens (unless LOG_CONTENT=true).
import { describe, expect, it } from 'vitest';
import { readSse, stacksClosedAfterEach, TOKEN, type Stack } from './helpers.js';
import { API_METRICS_CONTRACT } from '../support/contracts.js';

const stack = stacksClosedAfterEach({ stub: { completionTokens: 6 } });

const CONTRACT = API_METRICS_CONTRACT;

const SECRET_CONTENT = 'my-secret-craving-for-durian-pancakes';

async function traffic(s: Stack) {
  const body = { messages: [{ role: 'user', content: SECRET_CONTENT }], chat_type: 'whatToOrder' };
  await (await s.post('/v1/chat/completions', body)).json();
  const events = await readSse(await s.post('/v1/chat/completions', { ...body, stream: true }));
  const tokens = events
    .filter((e) => e !== '[DONE]')
    .map((e) => (JSON.parse(e) as { choices: { delta: { content?: string } }[] }).choices[0]?.delta.content ?? '')
    .join('');
  await fetch(`${s.baseURL}/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-xxxxxxxxxxxx' }, body: '{}' });
  return tokens;
}

describe('metrics', () => {
  it('exposes every contract metric with its labels, plus process/nodejs defaults', async () => {
    const s = await stack();
    await traffic(s);
    const text = await (await fetch(`${s.api.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const names = new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
    for (const n of CONTRACT) expect(names, n).toContain(n);
    expect([...names].filter((n) => n?.startsWith('fudbuddy_')).sort()).toEqual([...CONTRACT].sort());
    expect(text).toMatch(/^process_resident_memory_bytes /m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds /m);
    expect(text).toMatch(/fudbuddy_api_requests_total\{route="\/v1\/chat\/completions",status="200",chat_type="whatToOrder"\} 2/);
    expect(text).toMatch(/fudbuddy_api_requests_total\{route="\/v1\/chat\/completions",status="401",chat_type="none"\} 1/);
    expect(text).toMatch(/fudbuddy_api_tokens_total\{direction="out",chat_type="whatToOrder"\} 12/);
    expect(text).toMatch(/fudbuddy_api_tokens_total\{direction="in",chat_type="whatToOrder"\} [1-9]/);
    expect(text).toMatch(/fudbuddy_api_ttft_seconds_count\{chat_type="whatToOrder"\} 1/);
    expect(text).toMatch(/fudbuddy_api_request_duration_seconds_count\{route="\/v1\/chat\/completions",chat_type="whatToOrder"\} 2/);
    expect(text).toMatch(/fudbuddy_api_build_info\{version="[^"]+",model="fudbuddy"\} 1/);
    expect(text).toMatch(/fudbuddy_api_upstream_up 1/);
  });
});

describe('logs', () => {
  it('one JSON line per request with id, route, status, timings and token counts — no content, no tokens', async () => {
    const s = await stack();
    const output = await traffic(s);
    expect(output.length).toBeGreaterThan(10);
    const all = s.logs.join('');
    expect(all).not.toContain(SECRET_CONTENT);
    expect(all).not.toContain(output);
    expect(all).not.toContain(output.trim().split(' ').slice(0, 3).join(' '));
    expect(all).not.toContain(TOKEN);
    expect(all).not.toContain('wrong-token-xxxxxxxxxxxx');
    expect(all).not.toContain(s.api.ctx.prompts.get('whatToOrder').slice(0, 40));
    const requests = s.logObjects().filter((l) => l.msg === 'request');
    expect(requests).toHaveLength(3);
    expect(requests[1]).toMatchObject({ route: '/v1/chat/completions', status: 200, chatType: 'whatToOrder', stream: true, tokensOut: 6 });
    expect(typeof requests[1]?.reqId).toBe('string');
    expect(typeof requests[1]?.ttftMs).toBe('number');
  });

  it('LOG_CONTENT=true (explicit opt-in) logs content at debug level', async () => {
    const s = await stack({ LOG_CONTENT: 'true' });
    const output = await traffic(s);
    const all = s.logs.join('');
    expect(all).toContain(SECRET_CONTENT);
    expect(all).toContain(output);
    expect(all).not.toContain(TOKEN);
  });
});
