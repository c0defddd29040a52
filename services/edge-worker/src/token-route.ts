import { z } from 'zod';
import { readJsonBody } from './body.js';
import type { Config } from './config.js';
import { HttpError, badRequest } from './errors.js';
import { secretIn } from './secure-compare.js';
import { bearerToken, issueToken, verifyToken } from './tokens.js';

// POST /v1/token  body {client_id, invite_code?}  →  {token, token_type, expires_at, expires_in}
// The caller's Origin has been checked against ALLOWED_ORIGINS before this runs. A request that carries
// a still-valid token for the same client keeps its session id (renewal), so per-session quotas are not
// reset by refreshing the token.
const TOKEN_BODY_LIMIT = 4096;

const tokenBody = z.object({
  client_id: z.string().min(1).max(128),
  invite_code: z.string().min(1).max(256).optional(),
});

export interface IssuedToken {
  token: string;
  token_type: 'Bearer';
  expires_at: number;
  expires_in: number;
}

export async function handleTokenRequest(request: Request, config: Config): Promise<IssuedToken> {
  const { json } = await readJsonBody(request, TOKEN_BODY_LIMIT);
  const parsed = tokenBody.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue?.path.join('.') || null;
    throw badRequest(`Invalid token request${param ? ` at ${param}` : ''}: ${issue?.message ?? 'bad value'}; expected {"client_id": string, "invite_code"?: string}`, 'invalid_body', param);
  }
  const { client_id: clientId, invite_code: inviteCode } = parsed.data;
  if (!config.clientIds.has(clientId)) {
    throw new HttpError({ status: 403, message: 'Unknown client id', type: 'permission_error', code: 'unknown_client', param: 'client_id' });
  }
  if (config.inviteCodes.length > 0) {
    if (!inviteCode) {
      throw new HttpError({ status: 401, message: 'An invite code is required during the beta', type: 'authentication_error', code: 'invite_code_required', param: 'invite_code' });
    }
    if (!(await secretIn(inviteCode, config.inviteCodes))) {
      throw new HttpError({ status: 403, message: 'Invalid invite code', type: 'permission_error', code: 'invalid_invite_code', param: 'invite_code' });
    }
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
