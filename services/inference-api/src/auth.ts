// Bearer-token checks. Several tokens are valid at once so a rotation can overlap (add new, deploy callers, drop old).
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export class TokenSet {
  private readonly digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.digests = tokens.map(digest);
  }

  /**
   * Constant-time with respect to the token values: comparing fixed-size digests hides lengths, and every
   * configured token is compared (no early exit) so timing does not reveal which one matched.
   */
  accepts(presented: string | undefined): boolean {
    if (!presented) return false;
    const d = digest(presented);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(d, known) || ok;
    return ok;
  }
}

export function bearerFrom(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  return m?.[1];
}
