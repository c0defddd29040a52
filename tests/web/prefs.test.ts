import { describe, expect, it } from 'vitest';
import { describeError } from '../../services/web/src/app/errorText.js';
import { BadRequestError, OfflineError, RateLimitedError, ServiceDownError, UnauthorizedError } from '../../services/web/src/aiService.js';
import { DEFAULT_PREFS, loadPrefs, savePrefs } from '../../services/web/src/prefs.js';

class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, String(v));
  }
  dump() {
    return Object.fromEntries(this.m);
  }
}

describe('preferences', () => {
  it('round-trips the two non-secret fields and nothing else', () => {
    const s = new MemoryStorage();
    expect(savePrefs({ preferredChatType: 'somethingFun', modelHint: 'qwen2.5-7b', token: 'x' } as never, s)).toBe(true);
    expect(s.dump()).toEqual({ 'fudbuddy.prefs.v1': '{"preferredChatType":"somethingFun","modelHint":"qwen2.5-7b"}' });
    expect(loadPrefs(s)).toEqual({ preferredChatType: 'somethingFun', modelHint: 'qwen2.5-7b' });
  });

  it('falls back to defaults on garbage, unknown chat types, odd hints or a throwing storage', () => {
    const s = new MemoryStorage();
    s.setItem('fudbuddy.prefs.v1', '{not json');
    expect(loadPrefs(s)).toEqual(DEFAULT_PREFS);
    s.setItem('fudbuddy.prefs.v1', JSON.stringify({ preferredChatType: 'dinner', modelHint: '<script>' }));
    expect(loadPrefs(s)).toEqual(DEFAULT_PREFS);
    const broken = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); } } as unknown as Storage;
    expect(loadPrefs(broken)).toEqual(DEFAULT_PREFS);
    expect(savePrefs(DEFAULT_PREFS, broken)).toBe(false);
  });
});

describe('error text shown to users', () => {
  const rid = { requestId: 'rid-1' };
  it('names the problem, keeps the request id and says whether Retry helps', () => {
    expect(describeError(new OfflineError('x', rid))).toMatchObject({ title: 'Can’t reach FUD Buddy', requestId: 'rid-1', canRetry: true });
    expect(describeError(new RateLimitedError('x', { ...rid, retryAfterMs: 30_000 }))?.detail).toContain('in 30 seconds');
    expect(describeError(new RateLimitedError('x', { ...rid, retryAfterMs: 3_600_000 }))?.detail).toContain('about 60 minutes');
    expect(describeError(new ServiceDownError('x', { ...rid, partialContent: 'half' }))?.detail).toContain('cut off');
    expect(describeError(new BadRequestError('message too long', rid))).toMatchObject({ detail: 'message too long', canRetry: false });
    expect(describeError(new UnauthorizedError('An invite code is required during the beta', { ...rid, code: 'invite_code_required' }))?.detail).toContain('Settings');
  });

  it('shows nothing for a cancel', () => {
    expect(describeError(new DOMException('stopped', 'AbortError'))).toBeUndefined();
  });
});
