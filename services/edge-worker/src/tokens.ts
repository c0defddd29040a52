import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import type { Config } from './config.js';
import { MAX_TOKEN_TTL_SECONDS } from './defaults.js';

// The short-lived browser token. HS256 only: the Worker both signs and verifies, so a shared key is
// enough, and pinning the algorithm rules out `alg: none` and key-confusion tricks.
export const TOKEN_ISSUER = 'fudbuddy-edge';
export const TOKEN_AUDIENCE = 'fudbuddy-chat';
const ALG = 'HS256';
const MAX_TTL_SECONDS = MAX_TOKEN_TTL_SECONDS;
const CLOCK_TOLERANCE_SECONDS = 5;

export interface TokenClaims {
  clientId: string;
  sessionId: string;
  expiresAt: number;
}

const encoder = new TextEncoder();
const keyBytes = (k: string): Uint8Array => encoder.encode(k);

export async function issueToken(config: Config, clientId: string, sessionId: string, nowSeconds: number): Promise<{ token: string; expiresAt: number }> {
  const ttl = Math.min(config.n.TOKEN_TTL_SECONDS, MAX_TTL_SECONDS);
  const expiresAt = nowSeconds + ttl;
  const token = await new SignJWT({ cid: clientId })
    .setProtectedHeader({ alg: ALG, typ: 'JWT' })
    .setIssuer(TOKEN_ISSUER)
    .setAudience(TOKEN_AUDIENCE)
    .setSubject(sessionId)
    .setIssuedAt(nowSeconds)
    .setNotBefore(nowSeconds - CLOCK_TOLERANCE_SECONDS)
    .setExpirationTime(expiresAt)
    .setJti(crypto.randomUUID())
    .sign(keyBytes(config.jwtKey));
  return { token, expiresAt };
}

export type VerifyFailure = 'expired' | 'invalid';

async function verifyWith(token: string, key: string, config: Config): Promise<TokenClaims> {
  const { payload } = await jwtVerify(token, keyBytes(key), {
    algorithms: [ALG],
    issuer: TOKEN_ISSUER,
    audience: TOKEN_AUDIENCE,
    requiredClaims: ['exp', 'iat', 'sub'],
    // A token may not live longer than 15 minutes whatever its exp says.
    maxTokenAge: MAX_TTL_SECONDS + CLOCK_TOLERANCE_SECONDS,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
  });
  const cid = payload['cid'];
  if (typeof cid !== 'string' || !config.clientIds.has(cid)) throw new Error('unknown client id in token');
  if (typeof payload.sub !== 'string' || typeof payload.exp !== 'number') throw new Error('malformed claims');
  if (payload.exp - (payload.iat ?? 0) > MAX_TTL_SECONDS) throw new Error('token lifetime too long');
  return { clientId: cid, sessionId: payload.sub, expiresAt: payload.exp };
}

/**
 * Verifies with the current key, then with the previous one (key rotation: tokens signed before a
 * rotation stay valid for at most one token lifetime).
 */
export async function verifyToken(token: string, config: Config): Promise<{ ok: true; claims: TokenClaims } | { ok: false; reason: VerifyFailure }> {
  const keys = config.jwtPreviousKey ? [config.jwtKey, config.jwtPreviousKey] : [config.jwtKey];
  let reason: VerifyFailure = 'invalid';
  for (const key of keys) {
    try {
      return { ok: true, claims: await verifyWith(token, key, config) };
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) reason = 'expired';
      // A wrong signature under the current key is expected right after a rotation: try the next key.
    }
  }
  return { ok: false, reason };
}

export function bearerToken(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
  return m?.[1];
}
