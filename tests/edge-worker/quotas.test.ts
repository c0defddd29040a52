import { afterEach, describe, expect, it } from 'vitest';
import { ALLOWED_ORIGIN, chat, eventually, getToken } from './harness.js';
import { startStack, type Stack } from './stack.js';

// Windows are shortened through the same bindings production uses (RATE_WINDOW_SECONDS,
// TOKENS_WINDOW_SECONDS) and the test waits for real: the Durable Object sees honest time.
async function rejection(res: Response): Promise<{ status: number; retryAfter: number; code: string }> {
  const body = (await res.json()) as { error: { code: string; type: string } };
  expect(body.error.type).toBe('rate_limit_error');
  return { status: res.status, retryAfter: Number(res.headers.get('retry-after')), code: body.error.code };
}

const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));

describe('edge Worker quotas in Durable Objects (workerd, real API and stub)', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('limits requests per session per window: 429 with Retry-After, then recovers after the window', async () => {
    stack = await startStack({ worker: { RATE_LIMIT_RPM: '2', RATE_WINDOW_SECONDS: '5', IP_RATE_LIMIT_RPM: '1000' } });
    const token = await getToken(stack.worker);
    // Send until the limit bites; on a very slow machine a window may pass between requests, so the count
    // before the first 429 is at least the limit rather than exactly it.
    let allowed = 0;
    let limited: Response | undefined;
    for (let i = 0; i < 12 && !limited; i++) {
      const res = await chat(stack.worker, { token });
      if (res.status === 429) limited = res;
      else {
        expect(res.status).toBe(200);
        allowed += 1;
        await res.arrayBuffer();
      }
    }
    expect(limited, 'a 429 within 12 requests').toBeDefined();
    expect(allowed).toBeGreaterThanOrEqual(2);
    // The rejected request never reached the model.
    expect(stack.stub.stats().requests).toBe(allowed);
    // The browser can read the 429 and its Retry-After (CORS on errors too).
    expect(limited!.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(limited!.headers.get('access-control-expose-headers')).toContain('Retry-After');
    const r = await rejection(limited!);
    expect(r.code).toBe('rate_limited');
    expect(r.retryAfter).toBeGreaterThanOrEqual(1);
    expect(r.retryAfter).toBeLessThanOrEqual(5);
    // Another session is not affected by this one's quota.
    const other = await getToken(stack.worker);
    const otherRes = await chat(stack.worker, { token: other });
    expect(otherRes.status).toBe(200);
    await otherRes.arrayBuffer();

    await sleep(r.retryAfter);
    const recovered = await chat(stack.worker, { token });
    expect(recovered.status).toBe(200);
    await recovered.arrayBuffer();
  });

  it('limits requests per IP across sessions (token requests count too)', async () => {
    stack = await startStack({ worker: { RATE_LIMIT_RPM: '100', IP_RATE_LIMIT_RPM: '3', RATE_WINDOW_SECONDS: '60' } });
    const a = await getToken(stack.worker, { ip: '198.51.100.7' }); // 1
    const b = await getToken(stack.worker, { ip: '198.51.100.7' }); // 2
    const ok = await chat(stack.worker, { token: a, headers: { 'cf-connecting-ip': '198.51.100.7' } }); // 3
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    const limited = await chat(stack.worker, { token: b, headers: { 'cf-connecting-ip': '198.51.100.7' } });
    expect(limited.status).toBe(429);
    expect((await rejection(limited)).retryAfter).toBeGreaterThan(0);
    const elsewhere = await chat(stack.worker, { token: b, headers: { 'cf-connecting-ip': '203.0.113.9' } });
    expect(elsewhere.status).toBe(200);
    await elsewhere.arrayBuffer();
  });

  it('limits tokens per session per window, counted from the origin usage, then recovers', async () => {
    stack = await startStack({ worker: { TOKENS_PER_DAY: '10', TOKENS_WINDOW_SECONDS: '6', RATE_LIMIT_RPM: '1000', IP_RATE_LIMIT_RPM: '1000' } });
    const token = await getToken(stack.worker);
    const first = await chat(stack.worker, { token });
    expect(first.status).toBe(200);
    const usage = ((await first.json()) as { usage: { total_tokens: number } }).usage.total_tokens;
    expect(usage).toBeGreaterThan(10);
    // Usage is recorded after the response (ctx.waitUntil), so the next request may still slip through.
    let limited: Response | undefined;
    await eventually(async () => {
      const res = await chat(stack!.worker, { token });
      if (res.status === 429) {
        limited = res;
        return true;
      }
      await res.arrayBuffer();
      return false;
    }, 'token budget exhausted', 20, 100);
    const r = await rejection(limited!);
    expect(r.code).toBe('token_quota_exceeded');
    expect(r.retryAfter).toBeLessThanOrEqual(6);
    await sleep(r.retryAfter);
    const recovered = await chat(stack.worker, { token });
    expect(recovered.status).toBe(200);
    await recovered.arrayBuffer();
  });

  it('counts streamed tokens too', async () => {
    stack = await startStack({ worker: { TOKENS_PER_DAY: '10', RATE_LIMIT_RPM: '1000', IP_RATE_LIMIT_RPM: '1000' } });
    const token = await getToken(stack.worker);
    const first = await chat(stack.worker, { token, stream: true });
    expect(first.status).toBe(200);
    await first.text();
    await eventually(async () => {
      const res = await chat(stack!.worker, { token, stream: true });
      await res.arrayBuffer();
      return res.status === 429;
    }, 'token budget exhausted by a stream', 20, 100);
  });
});
