import { SignJWT, UnsecuredJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ALLOWED_ORIGIN, CLIENT_ID, FOREIGN_ORIGIN, chat, eventually, getToken, requestToken, secret } from './harness.js';
import { startStack, type Stack } from './stack.js';

// Tokens: issuance through the real Worker in workerd, accepted end to end (Worker → API bundle → stub),
// and every way a token or a token request can be wrong.
const ISSUER = 'fudbuddy-edge';
const AUDIENCE = 'fudbuddy-chat';
const key = (s: string) => new TextEncoder().encode(s);
const now = () => Math.floor(Date.now() / 1000);

async function forge(signingKey: string, claims: { aud?: string; iss?: string; iat?: number; exp?: number; cid?: string; sub?: string }, alg = 'HS256'): Promise<string> {
  const iat = claims.iat ?? now();
  return new SignJWT({ cid: claims.cid ?? CLIENT_ID })
    .setProtectedHeader({ alg, typ: 'JWT' })
    .setIssuer(claims.iss ?? ISSUER)
    .setAudience(claims.aud ?? AUDIENCE)
    .setSubject(claims.sub ?? 'session-forged')
    .setIssuedAt(iat)
    .setExpirationTime(claims.exp ?? iat + 300)
    .sign(key(signingKey));
}

async function expectRejected(stack: Stack, token: string, code: string): Promise<void> {
  const before = stack.stub.stats().requests;
  const res = await chat(stack.worker, { token });
  expect(res.status).toBe(401);
  const body = (await res.json()) as { error: { code: string; type: string } };
  expect(body.error).toMatchObject({ code, type: 'authentication_error' });
  expect(stack.stub.stats().requests).toBe(before);
}

describe('edge Worker tokens (workerd, real API and stub)', () => {
  let stack: Stack;
  beforeEach(async () => {
    stack = await startStack();
  });
  afterEach(async () => {
    await stack?.close();
  });

  it('issues a short-lived HS256 token bound to the audience, client and a session, and it opens the chat', async () => {
    const res = await requestToken(stack.worker);
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ALLOWED_ORIGIN);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const body = (await res.json()) as { token: string; token_type: string; expires_at: number; expires_in: number };
    expect(body.token_type).toBe('Bearer');
    expect(decodeProtectedHeader(body.token).alg).toBe('HS256');
    const claims = decodeJwt(body.token);
    expect(claims).toMatchObject({ iss: ISSUER, aud: AUDIENCE, cid: CLIENT_ID });
    expect(typeof claims.sub).toBe('string');
    expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(900);
    expect(body.expires_at).toBe(claims.exp);

    const chatRes = await chat(stack.worker, { token: body.token });
    expect(chatRes.status).toBe(200);
    expect(chatRes.headers.get('x-served-by')).toBe('origin');
    const completion = (await chatRes.json()) as { choices: Array<{ message: { content: string } }> };
    expect(completion.choices[0]?.message.content.length).toBeGreaterThan(0);
    // The API got the service token, not the browser's token.
    expect(stack.stub.stats().requests).toBe(1);
  });

  it('rejects an expired token', async () => {
    const iat = now() - 1000;
    await expectRejected(stack, await forge(stack.secrets.JWT_SIGNING_KEY, { iat, exp: iat + 600 }), 'token_expired');
  });

  it('rejects a token for another audience', async () => {
    await expectRejected(stack, await forge(stack.secrets.JWT_SIGNING_KEY, { aud: 'some-other-api' }), 'invalid_token');
  });

  it('rejects a token from another issuer', async () => {
    await expectRejected(stack, await forge(stack.secrets.JWT_SIGNING_KEY, { iss: 'someone-else' }), 'invalid_token');
  });

  it('rejects a token signed with another key', async () => {
    await expectRejected(stack, await forge(secret(), {}), 'invalid_token');
  });

  it('rejects alg "none"', async () => {
    const unsigned = new UnsecuredJWT({ cid: CLIENT_ID }).setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('s').setIssuedAt().setExpirationTime('5m').encode();
    await expectRejected(stack, unsigned, 'invalid_token');
  });

  it('rejects a tampered payload under a valid signature', async () => {
    const token = await getToken(stack.worker);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
    claims['sub'] = 'someone-elses-session';
    const tampered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
    await expectRejected(stack, tampered, 'invalid_token');
  });

  it('rejects a validly signed token that lives longer than 15 minutes', async () => {
    await expectRejected(stack, await forge(stack.secrets.JWT_SIGNING_KEY, { exp: now() + 3600 }), 'invalid_token');
  });

  it('rejects a validly signed token for a client id that is not (or no longer) known', async () => {
    await expectRejected(stack, await forge(stack.secrets.JWT_SIGNING_KEY, { cid: 'retired-client' }), 'invalid_token');
  });

  it('rejects a chat without a bearer token', async () => {
    const res = await stack.worker.fetch('/v1/chat', { method: 'POST', headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN }, body: '{}' });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('missing_token');
  });

  it('refuses a token to a foreign origin and to a request without Origin', async () => {
    const foreign = await requestToken(stack.worker, { origin: FOREIGN_ORIGIN });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('origin_not_allowed');
    const none = await stack.worker.fetch('/v1/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_id: CLIENT_ID }) });
    expect(none.status).toBe(403);
  });

  it('refuses a token to an unknown client id and to a body without one', async () => {
    const unknown = await requestToken(stack.worker, { clientId: 'not-a-client' });
    expect(unknown.status).toBe(403);
    expect(((await unknown.json()) as { error: { code: string } }).error.code).toBe('unknown_client');
    const missing = await stack.worker.fetch('/v1/token', { method: 'POST', headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN }, body: '{}' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as { error: { param: string } }).error.param).toBe('client_id');
  });

  it('keeps the session id when a still-valid token is renewed', async () => {
    const first = await getToken(stack.worker);
    const res = await stack.worker.fetch('/v1/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN, authorization: `Bearer ${first}` },
      body: JSON.stringify({ client_id: CLIENT_ID }),
    });
    const renewed = ((await res.json()) as { token: string }).token;
    expect(renewed).not.toBe(first);
    expect(decodeJwt(renewed).sub).toBe(decodeJwt(first).sub);
    const fresh = await getToken(stack.worker);
    expect(decodeJwt(fresh).sub).not.toBe(decodeJwt(first).sub);
  });
});

describe('edge Worker invite codes and key rotation (workerd, real API and stub)', () => {
  let stack: Stack | undefined;
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
  });

  it('requires a valid invite code when INVITE_CODES is set', async () => {
    const codes = [secret(12), secret(12)];
    stack = await startStack({ worker: { INVITE_CODES: codes.join(',') } });
    const missing = await requestToken(stack.worker);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('invite_code_required');
    const wrong = await requestToken(stack.worker, { inviteCode: secret(12) });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('invalid_invite_code');
    const right = await requestToken(stack.worker, { inviteCode: codes[1] });
    expect(right.status).toBe(200);
  });

  it('refuses weak invite codes at start (edge_misconfigured, the log names INVITE_CODES, never the code)', async () => {
    stack = await startStack({ worker: { INVITE_CODES: `${secret(12)},beta2026` } });
    const res = await requestToken(stack.worker, { inviteCode: 'beta2026' });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('edge_misconfigured');
    await eventually(() => stack!.worker.logs().includes('INVITE_CODES holds a weak code'), 'the log to name INVITE_CODES');
    expect(stack.worker.logs()).not.toContain('beta2026');
  });

  it('locks an address out after INVITE_FAILURES_PER_IP wrong codes (even the right code is refused then), and everyone after the global budget', async () => {
    const code = secret(12);
    stack = await startStack({ worker: { INVITE_CODES: code, INVITE_FAILURES_PER_IP: '3', INVITE_FAILURES_GLOBAL: '5', INVITE_LOCKOUT_SECONDS: '60', IP_RATE_LIMIT_RPM: '1000' } });
    const from = (ip: string, inviteCode: string) => requestToken(stack!.worker, { ip, inviteCode });
    for (let i = 0; i < 3; i++) expect((await from('198.51.100.1', secret(12))).status).toBe(403);
    const locked = await from('198.51.100.1', code);
    expect(locked.status).toBe(429);
    expect(((await locked.json()) as { error: { code: string } }).error.code).toBe('invite_locked_out');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    // Another address is not locked by the first one's guesses...
    expect((await from('198.51.100.2', code)).status).toBe(200);
    // ...until the global failure budget (5) is spent by guesses spread over addresses.
    expect((await from('198.51.100.3', secret(12))).status).toBe(403);
    expect((await from('198.51.100.4', secret(12))).status).toBe(403);
    const everyone = await from('198.51.100.5', code);
    expect(everyone.status).toBe(429);
    expect(((await everyone.json()) as { error: { code: string } }).error.code).toBe('invite_locked_out');
  });

  it('accepts tokens signed with JWT_SIGNING_KEY_PREVIOUS during a rotation, and only then', async () => {
    const previous = secret();
    stack = await startStack({ worker: { JWT_SIGNING_KEY_PREVIOUS: previous } });
    const old = await forge(previous, {});
    const ok = await chat(stack.worker, { token: old });
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
    await stack.close();
    stack = await startStack();
    await expectRejected(stack, await forge(previous, {}), 'invalid_token');
  });

  it('answers 503 edge_misconfigured (naming nothing secret) when a binding is invalid', async () => {
    stack = await startStack({ worker: { TOKEN_TTL_SECONDS: '3600' } });
    const res = await requestToken(stack.worker);
    expect(res.status).toBe(503);
    const text = await res.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'edge_misconfigured' } });
    expect(stack.worker.logs()).toContain('TOKEN_TTL_SECONDS');
  });
});
