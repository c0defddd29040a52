// Config validation: defaults, and a message naming the variable for every bad value.
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../services/inference-api/src/config.js';
import { ROOT } from './helpers.js';

const base = { API_TOKENS: 'aaaaaaaaaaaaaaaa', PROMPTS_DIR: `${ROOT}/prompts` };

describe('config', () => {
  it('defaults', () => {
    const c = loadConfig(base);
    expect(c).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 8001,
      UPSTREAM_BASE_URL: 'http://127.0.0.1:8000/v1',
      UPSTREAM_MODEL: 'fudbuddy',
      RATE_LIMIT_RPM: 60,
      IP_RATE_LIMIT_RPM: 600,
      MAX_INFLIGHT: 32,
      BODY_LIMIT: 262144,
      MAX_TOKENS_CAP: 1024,
      LOG_LEVEL: 'info',
      LOG_CONTENT: false,
    });
    expect(c.API_TOKENS).toEqual(['aaaaaaaaaaaaaaaa']);
    expect(c.METRICS_TOKENS).toBeUndefined();
  });

  it('parses lists, sizes and booleans', () => {
    const c = loadConfig({ ...base, API_TOKENS: ' aaaaaaaaaaaaaaaa , bbbbbbbbbbbbbbbb,', BODY_LIMIT: '1mb', LOG_CONTENT: 'yes', UPSTREAM_BASE_URL: 'http://10.0.0.1:8000/v1/' });
    expect(c.API_TOKENS).toHaveLength(2);
    expect(c.BODY_LIMIT).toBe(1024 * 1024);
    expect(c.LOG_CONTENT).toBe(true);
    expect(c.UPSTREAM_BASE_URL).toBe('http://10.0.0.1:8000/v1');
    expect(loadConfig({ ...base, BODY_LIMIT: '64kb', METRICS_TOKENS: '' }).BODY_LIMIT).toBe(65536);
  });

  const bad: [Record<string, string>, string][] = [
    [{ API_TOKENS: '' }, 'API_TOKENS'],
    [{ API_TOKENS: 'short' }, 'API_TOKENS'],
    [{ PORT: '80000' }, 'PORT'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ UPSTREAM_BASE_URL: 'not a url' }, 'UPSTREAM_BASE_URL'],
    [{ UPSTREAM_BASE_URL: 'ftp://x/v1' }, 'UPSTREAM_BASE_URL'],
    [{ MAX_INFLIGHT: '0' }, 'MAX_INFLIGHT'],
    [{ RATE_LIMIT_RPM: '-1' }, 'RATE_LIMIT_RPM'],
    [{ BODY_LIMIT: 'huge' }, 'BODY_LIMIT'],
    [{ BODY_LIMIT: '100mb' }, 'BODY_LIMIT'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ LOG_CONTENT: 'maybe' }, 'LOG_CONTENT'],
    [{ PROMPTS_DIR: '/does/not/exist' }, 'PROMPTS_DIR'],
    [{ METRICS_TOKENS: 'tiny' }, 'METRICS_TOKENS'],
  ];
  for (const [env, name] of bad) {
    it(`bad ${name} (${JSON.stringify(Object.values(env)[0])}) names the variable`, () => {
      const e = (() => {
        try {
          loadConfig({ ...base, ...env });
        } catch (err) {
          return err;
        }
        return undefined;
      })();
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).toMatch(new RegExp(`^  ${name}: `, 'm'));
    });
  }

  it('a missing API_TOKENS names it', () => {
    expect(() => loadConfig({ PROMPTS_DIR: base.PROMPTS_DIR })).toThrow(/API_TOKENS: is required/);
  });
});
