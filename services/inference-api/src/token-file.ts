// Bearer tokens from a file (API_TOKENS_FILE / METRICS_TOKENS_FILE), re-read on SIGHUP and when the file changes,
// so a rotation never restarts the API: running streams are untouched and new requests see the new set at once.
// A broken, empty or unreadable file on reload keeps the last good set. Tokens never reach logs or error messages.
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { TokenSet } from './auth.js';
import type { Logger } from './logger.js';

export const MIN_TOKEN_LENGTH = 16;
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

/** What routes need: a check. The set behind it may be swapped at any time. */
export interface TokenChecker {
  accepts(presented: string | undefined): boolean;
}

/**
 * Parses a token file: one token per line or comma-separated; blank lines and `#` comments (a whole line, or
 * from a `#` preceded by whitespace) ignored. Errors name the line, never its content.
 */
export function parseTokenText(text: string): string[] {
  if (text.includes('\u0000')) throw new Error('the file is binary');
  const tokens: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    for (const t of line.replace(/\s#.*$/, '').split(/[,\s]+/).filter(Boolean)) {
      if (t.length < MIN_TOKEN_LENGTH) throw new Error(`line ${i + 1}: each token must be at least ${MIN_TOKEN_LENGTH} characters`);
      tokens.push(t);
    }
  });
  if (tokens.length === 0) throw new Error('the file holds no token (needs at least one)');
  return tokens;
}

/** Reads and parses a token file; the error message carries the path and the reason only. */
export function readTokenFile(file: string): string[] {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new Error(`cannot read ${file}: ${e.code ?? e.message}`);
  }
  if (buf.length > MAX_TOKEN_FILE_BYTES) throw new Error(`${file} is larger than ${MAX_TOKEN_FILE_BYTES} bytes`);
  try {
    return parseTokenText(new TextDecoder('utf-8', { fatal: true }).decode(buf));
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
}

/** A fixed set (API_TOKENS from the environment). */
export class StaticTokens implements TokenChecker {
  private readonly set: TokenSet;
  constructor(tokens: readonly string[]) {
    this.set = new TokenSet(tokens);
  }
  accepts(presented: string | undefined): boolean {
    return this.set.accepts(presented);
  }
  reload(): boolean {
    return true;
  }
  watch(): void {}
  close(): void {}
}

/** A set loaded from a file, swapped atomically on a successful reload. */
export class FileTokens implements TokenChecker {
  private set: TokenSet;
  private count: number;
  private watcher: FSWatcher | undefined;
  private pending: NodeJS.Timeout | undefined;

  /** `initial` is what config validation already read at start (the start fails on a bad file, see config.ts). */
  constructor(
    readonly file: string,
    readonly variable: string,
    initial: readonly string[],
    private readonly log: Logger,
    /** Counts failed reloads (fudbuddy_api_token_reload_errors_total: a rotation that did not take effect). */
    private readonly onError: () => void = () => {},
  ) {
    this.set = new TokenSet(initial);
    this.count = initial.length;
  }

  accepts(presented: string | undefined): boolean {
    return this.set.accepts(presented);
  }

  /** Re-reads the file; on any problem keeps the last good set, logs (no token values) and returns false. */
  reload(): boolean {
    try {
      const tokens = readTokenFile(this.file);
      this.set = new TokenSet(tokens);
      this.count = tokens.length;
      this.log.info({ variable: this.variable, file: this.file, tokens: tokens.length }, 'bearer tokens reloaded');
      return true;
    } catch (err) {
      this.onError();
      this.log.error(
        { variable: this.variable, err: (err as Error).message, keeping: this.count },
        'bearer token file reload failed; keeping the last good tokens',
      );
      return false;
    }
  }

  /**
   * Watches the directory, not the file: tools replace files by rename (write-secret-file.sh does), which would
   * orphan a watch on the old inode. SIGHUP reloads too, so a watcher failure is logged, not fatal.
   */
  watch(): void {
    const base = path.basename(this.file);
    try {
      this.watcher = watch(path.dirname(this.file), { persistent: false }, (_event, filename) => {
        if (!filename || filename.toString() === base) this.schedule();
      });
      this.watcher.on('error', (err) => this.log.error({ variable: this.variable, err: err.message }, 'token file watcher failed; SIGHUP still reloads'));
    } catch (err) {
      this.log.error({ variable: this.variable, err: (err as Error).message }, 'cannot watch the token file; SIGHUP still reloads');
    }
  }

  // A write shows up as several events (create, modify, rename): read once it has settled.
  private schedule(): void {
    clearTimeout(this.pending);
    this.pending = setTimeout(() => {
      this.pending = undefined;
      this.reload();
    }, 50);
  }

  close(): void {
    this.watcher?.close();
    clearTimeout(this.pending);
  }
}

export type TokenSource = StaticTokens | FileTokens;
