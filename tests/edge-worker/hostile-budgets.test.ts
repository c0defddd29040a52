import { afterEach, describe, expect, it } from 'vitest';
import { PROGRESS_STEP_TOKENS } from '../../services/edge-worker/src/defaults.js';
import { chatOwnConnection, errorCode, generatedTokens, maxReservation, promptTokensOf, report, sessionOf, usageOf } from './attack.js';
import { chat, eventually, getToken, requestToken } from './harness.js';
import { startStack, type Stack } from './stack.js';

// Attacks on the money controls (issue 14), each against the real data path: Worker in workerd → API bundle → model
// stub. The ledgers are read straight from the QuotaCounter Durable Objects. Every test here failed before
// reserve-then-settle: aborted streams were never charged, concurrent requests all passed one check, streams were
// charged an estimate without the system prompt, refusals on one key charged the other, IPv6 was keyed per address.
const MSG = [{ role: 'user', content: 'Where should I eat tonight?' }];
const body = (extra: Record<string, unknown> = {}) => ({ messages: MSG, chat_type: 'home', ...extra });
const open = { RATE_LIMIT_RPM: '100000', IP_RATE_LIMIT_RPM: '100000' };

describe('hostile client vs the token budgets (workerd, real API bundle and stub)', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('an aborted stream is charged what was generated, even though the Worker never hears of the abort', async () => {
    stack = await startStack({ stub: { tokensPerSec: 40, completionTokens: 400 }, worker: { ...open, RESERVATION_LEASE_SECONDS: '2' } });
    const token = await getToken(stack.worker);
    const abort = new AbortController();
    const res = await chat(stack.worker, { token, stream: true, body: body({ stream: true }), signal: abort.signal, headers: { 'cf-connecting-ip': '198.51.100.9' } });
    const reader = res.body!.getReader();
    let deltas = 0;
    const decoder = new TextDecoder();
    while (deltas < 150) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended early');
      deltas += (decoder.decode(value).match(/"content":"[^"]+"/g) ?? []).length;
    }
    abort.abort();
    await eventually(() => stack!.stub.stats().clientAborts === 1, 'the stub to see the abort', 200, 50);
    const actual = promptTokensOf(stack.stub.stats().bodies.at(-1)) + (await generatedTokens(stack.stub));
    const session = `session:${sessionOf(token)}`;
    // The lease (2 s) runs out, and the Durable Object charges the abandoned answer on its own.
    await eventually(async () => (await stack!.worker.quota(session)).holds === 0, 'the abandoned reservation to be charged', 100, 100);
    const charged = (await stack.worker.quota(session)).used;
    const settledBy = /"msg":"chat finished".*"outcome":"(\w+)"/.exec(stack.worker.logs())?.[1] ?? 'lease expiry';
    report('aborted stream', { read_deltas: deltas, actual_tokens: actual, charged, overshoot: charged - actual, settled_by: settledBy });
    expect(charged).toBeGreaterThanOrEqual(actual);
    expect(charged - actual).toBeLessThanOrEqual(2 * PROGRESS_STEP_TOKENS + 16);
    for (const key of ['ip:198.51.100.9', 'client:fudbuddy-test']) expect((await stack.worker.quota(key)).used).toBe(charged);
  });

  it('20 concurrent requests, wave after wave, spend at most the budget plus one reservation', async () => {
    const BUDGET = 5000;
    stack = await startStack({ stub: { tokensPerSec: 0, completionTokens: 200 }, worker: { ...open, TOKENS_PER_DAY: String(BUDGET) } });
    const token = await getToken(stack.worker);
    const session = `session:${sessionOf(token)}`;
    let spent = 0;
    let served = 0;
    const refusals = new Set<string>();
    for (let wave = 0; wave < 10; wave++) {
      const replies = await Promise.all(
        Array.from({ length: 20 }, (_, i) => chatOwnConnection(stack!.worker, token, i % 2 ? body({ stream: true, stream_options: { include_usage: true } }) : body())),
      );
      let servedNow = 0;
      for (const r of replies) {
        if (r.status === 200) {
          servedNow += 1;
          spent += (await usageOf(r)) ?? NaN;
        } else {
          expect(r.status).toBe(429);
          refusals.add(await errorCode(r));
        }
      }
      served += servedNow;
      await eventually(async () => (await stack!.worker.quota(session)).holds === 0, 'every answer settled');
      if (servedNow === 0) break;
    }
    const ledger = await stack.worker.quota(session);
    const bound = BUDGET + maxReservation(MSG);
    report('20 concurrent', { budget: BUDGET, served, spent, ledger: ledger.used, overshoot: spent - BUDGET, bound });
    expect(served).toBeGreaterThan(1);
    expect(spent).toBeLessThanOrEqual(bound);
    // Charged exactly what the origin reported, stream or not.
    expect(ledger.used).toBe(spent);
    expect([...refusals]).toEqual(['token_quota_exceeded']);
  });

  it('a stream that did not ask for usage is charged the real usage (system prompt included) and never sees the usage chunk', async () => {
    stack = await startStack({ stub: { tokensPerSec: 0, completionTokens: 12 }, worker: open });
    const token = await getToken(stack.worker);
    const res = await chat(stack.worker, { token, body: { messages: [{ role: 'user', content: 'hi' }], stream: true } });
    const text = await res.text();
    expect(text).toContain('data: [DONE]');
    expect(text).not.toContain('"usage"');
    const real = promptTokensOf(stack.stub.stats().bodies.at(-1)) + 12;
    const session = `session:${sessionOf(token)}`;
    await eventually(async () => (await stack!.worker.quota(session)).used > 0, 'the stream to be charged');
    report('streamed "hi"', { real_tokens: real, charged: (await stack.worker.quota(session)).used });
    expect((await stack.worker.quota(session)).used).toBe(real);
    expect(real).toBeGreaterThan(300); // the server's system prompt is most of it
  });

  it('a token-minting script is bounded by its address (IPv6: the whole /64) and then by the client id', async () => {
    const IP_BUDGET = 3000;
    const CLIENT_BUDGET = 5000;
    stack = await startStack({ stub: { tokensPerSec: 0, completionTokens: 100 }, worker: { ...open, IP_TOKENS_PER_DAY: String(IP_BUDGET), CLIENT_TOKENS_PER_DAY: String(CLIENT_BUDGET) } });
    const worker = stack.worker;
    // Every chat from a fresh token (a fresh session), cycling through addresses of one /64.
    const script = async (addresses: string[], limit: number): Promise<{ spent: number; refusal: string }> => {
      let spent = 0;
      for (let i = 0; i < limit; i++) {
        const ip = addresses[i % addresses.length]!;
        // Minting itself is refused once the address has no budget left.
        const minted = await requestToken(worker, { ip });
        if (minted.status !== 200) return { spent, refusal: `${minted.status} ${await errorCode(minted)} ${minted.headers.get('retry-after')}` };
        const { token } = (await minted.json()) as { token: string };
        const res = await chat(worker, { token, body: body(), headers: { 'cf-connecting-ip': ip } });
        if (res.status !== 200) return { spent, refusal: `${res.status} ${await errorCode(res)} ${res.headers.get('retry-after')}` };
        spent += (await usageOf(res)) ?? NaN;
        await eventually(async () => (await worker.quota(`session:${sessionOf(token)}`)).holds === 0, 'settled');
      }
      return { spent, refusal: 'none' };
    };
    const net1 = ['2001:db8:7:7::1', '2001:db8:7:7:ffff::2', '2001:db8:7:7:1:2:3:4'];
    const first = await script(net1, 40);
    expect(first.refusal).toMatch(/^429 token_quota_exceeded \d+$/);
    expect(first.spent).toBeLessThanOrEqual(IP_BUDGET + maxReservation(MSG));
    expect((await worker.quota('ip:2001:db8:7:7::/64')).used).toBe(first.spent);
    // A neighbouring /64 is a different budget, until the client id's cap binds everyone.
    const second = await script(['2001:db8:7:8::1', '203.0.113.50'], 40);
    expect(second.refusal).toMatch(/^429 token_quota_exceeded/);
    const total = first.spent + second.spent;
    report('minted tokens', { ip_budget: IP_BUDGET, first_net_spent: first.spent, client_budget: CLIENT_BUDGET, total_spent: total });
    expect(total).toBeLessThanOrEqual(CLIENT_BUDGET + maxReservation(MSG));
    expect((await worker.quota('client:fudbuddy-test')).used).toBe(total);
  });

  it('a request refused on one key charges none of the others', async () => {
    stack = await startStack({ worker: { RATE_LIMIT_RPM: '1', IP_RATE_LIMIT_RPM: '4' } });
    const ip = { 'cf-connecting-ip': '198.51.100.77' };
    const a = await getToken(stack.worker, { ip: '198.51.100.77' }); // address: 1
    expect((await chat(stack.worker, { token: a, headers: ip })).status).toBe(200); // address: 2, session a: 1
    for (let i = 0; i < 3; i++) {
      const refused = await chat(stack.worker, { token: a, headers: ip }); // session a is over: address stays at 2
      expect(refused.status).toBe(429);
      expect(await errorCode(refused)).toBe('rate_limited');
    }
    const b = await getToken(stack.worker, { ip: '198.51.100.77' }); // address: 3
    const res = await chat(stack.worker, { token: b, headers: ip }); // address: 4
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    expect((await stack.worker.quota(`session:${sessionOf(a)}`)).holds).toBe(0);
  });
});
