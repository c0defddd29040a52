import * as z from 'zod/mini';
import { readJsonBody } from './body.js';
import type { Config } from './config.js';
import type { Env } from './env.js';
import { HttpError, badRequest } from './errors.js';
import { log } from './log.js';
import { secretIn } from './secure-compare.js';
import { bearerToken, issueToken, verifyToken } from './tokens.js';

// POST /v1/token  body {client_id, invite_code?}  →  {token, token_type, expires_at, expires_in}
// The caller's Origin has been checked against ALLOWED_ORIGINS before this runs. A request that carries
// a still-valid token for the same client keeps its session id (renewal), so per-session quotas are not
// reset by refreshing the token. Invite codes are guess-limited: INVITE_FAILURES_PER_IP wrong codes lock that
// address out, INVITE_FAILURES_GLOBAL wrong codes from anywhere lock every address out, for INVITE_LOCKOUT_SECONDS.
const TOKEN_BODY_LIMIT = 4096;

const tokenBody = z.object({
  client_id: z.string().check(z.minLength(1), z.maxLength(128)),
  invite_code: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});

export interface IssuedToken {
  token: string;
  token_type: 'Bearer';
  expires_at: number;
  expires_in: number;
}

function lockedOut(seconds: number): HttpError {
  return new HttpError({
    status: 429,
    message: `Too many wrong invite codes; try again in ${seconds} s`,
    type: 'rate_limit_error',
    code: 'invite_locked_out',
    param: 'invite_code',
    headers: { 'retry-after': String(seconds) },
  });
}

async function checkInvite(env: Env, config: Config, ipKey: string, code: string): Promise<void> {
  const n = config.n;
  const counters = [
    { stub: env.QUOTA.get(env.QUOTA.idFromName(`invite:${ipKey}`)), limit: n.INVITE_FAILURES_PER_IP },
    { stub: env.QUOTA.get(env.QUOTA.idFromName('invite:global')), limit: n.INVITE_FAILURES_GLOBAL },
  ];
  const ask = (record: boolean) => Promise.all(counters.map((c) => c.stub.failures(c.limit, n.INVITE_LOCKOUT_SECONDS, record)));
  // Locked out: the code is not even compared, so a locked-out guesser learns nothing.
  const locked = Math.max(...(await ask(false)));
  if (locked > 0) throw lockedOut(locked);
  if (await secretIn(code, config.inviteCodes)) return;
  const after = Math.max(...(await ask(true)));
  log('warn', 'wrong invite code', { locked_out_seconds: after });
  throw new HttpError({ status: 403, message: 'Invalid invite code', type: 'permission_error', code: 'invalid_invite_code', param: 'invite_code' });
}

export async function handleTokenRequest(request: Request, env: Env, config: Config, ipKey: string): Promise<IssuedToken> {
  const json = await readJsonBody(request, TOKEN_BODY_LIMIT);
  const parsed = tokenBody.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.join('.') || null;
    throw badRequest(`Invalid token request${param ? ` at ${param}` : ''}; expected {"client_id": string, "invite_code"?: string}`, { code: 'invalid_body', param });
  }
  const { client_id: clientId, invite_code: inviteCode } = parsed.data;
  if (!config.clientIds.has(clientId)) {
    throw new HttpError({ status: 403, message: 'Unknown client id', type: 'permission_error', code: 'unknown_client', param: 'client_id' });
  }
  if (config.inviteCodes.length > 0) {
    if (!inviteCode) {
      throw new HttpError({ status: 401, message: 'An invite code is required during the beta', type: 'authentication_error', code: 'invite_code_required', param: 'invite_code' });
    }
    await checkInvite(env, config, ipKey, inviteCode);
  }
  let sessionId: string = crypto.randomUUID();
  const previous = bearerToken(request.headers.get('authorization'));
  if (previous) {
    const verified = await verifyToken(previous, config);
    if (verified.ok && verified.claims.clientId === clientId) sessionId = verified.claims.sessionId;
  }
  const now = Math.floor(Date.now() / 1000);
  const { token, expiresAt } = await issueToken(config, clientId, sessionId, now);
  return { token, token_type: 'Bearer', expires_at: expiresAt, expires_in: expiresAt - now };
}
