// systemd EnvironmentFile rendering. Every value is single-quoted: systemd takes it verbatim (no escapes, no
// `$` expansion), and so does a POSIX shell sourcing the same file. Such files are written 0600 on the host
// (write-secret-file.sh), through the command's stdin, never through a command string.

const KEY_RE = /^[A-Z_][A-Z0-9_]*$/;

/** Renders KEY='value' lines in sorted key order (stable content → stable hash → no needless restart). */
export function renderEnvFile(vars: Readonly<Record<string, string>>, what = 'env'): string {
  const lines = Object.keys(vars)
    .sort()
    .map((key) => {
      const value = vars[key]!;
      if (!KEY_RE.test(key)) throw new Error(`${what}: '${key}' is not a valid environment variable name (UPPER_SNAKE)`);
      if (/['\n\r\0]/.test(value)) {
        // Do not echo the value: it may be a secret.
        throw new Error(`${what}.${key}: the value must not contain quotes ('), newlines or NUL`);
      }
      return `${key}='${value}'`;
    });
  return `${lines.join('\n')}\n`;
}

/** Parses what renderEnvFile writes (used by tests and by tooling that inspects env files). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)='([^']*)'$/.exec(line);
    if (!m) throw new Error(`not an env line: ${line.split('=')[0]}=…`);
    out[m[1]!] = m[2]!;
  }
  return out;
}

export interface ApiEnvInput {
  bindAddress: string;
  port: number;
  upstreamModel: string;
  upstreamApiKey?: string;
  /** Host path of the API token file (API_TOKENS_FILE); the tokens themselves never go into the env file. */
  tokensFile: string;
  /** Host path of the metrics token file (METRICS_TOKENS_FILE), when metrics tokens are configured. */
  metricsTokensFile?: string;
  promptsDir: string;
  extra?: Readonly<Record<string, string>>;
}

/** Keys the component sets itself; `api.env` extras may not override them. */
export const API_RESERVED_KEYS = [
  'HOST',
  'PORT',
  'UPSTREAM_BASE_URL',
  'UPSTREAM_API_KEY',
  'UPSTREAM_MODEL',
  'API_TOKENS',
  'API_TOKENS_FILE',
  'METRICS_TOKENS',
  'METRICS_TOKENS_FILE',
  'PROMPTS_DIR',
] as const;

/**
 * The inference API's environment (DESIGN.md contract): bound to one address, upstream on loopback, tokens by file
 * path. The tokens live in their own file (renderTokenFile) so a rotation changes neither this content nor its hash:
 * the env step, which restarts the API, does not run; the token step reloads it (SIGHUP) instead.
 */
export function apiEnv(input: ApiEnvInput): Record<string, string> {
  for (const k of Object.keys(input.extra ?? {})) {
    if ((API_RESERVED_KEYS as readonly string[]).includes(k)) {
      throw new Error(`api.env.${k} is set by the component; remove it from api.env`);
    }
  }
  const env: Record<string, string> = {
    NODE_ENV: 'production',
    ...input.extra,
    HOST: input.bindAddress,
    PORT: String(input.port),
    UPSTREAM_BASE_URL: 'http://127.0.0.1:8000/v1',
    UPSTREAM_MODEL: input.upstreamModel,
    API_TOKENS_FILE: input.tokensFile,
    PROMPTS_DIR: input.promptsDir,
  };
  if (input.upstreamApiKey) env.UPSTREAM_API_KEY = input.upstreamApiKey;
  if (input.metricsTokensFile) env.METRICS_TOKENS_FILE = input.metricsTokensFile;
  return env;
}

/**
 * A bearer token file for API_TOKENS_FILE / METRICS_TOKENS_FILE: one token per line, in the given order (stable
 * content → stable hash). Errors name the config key, never a token.
 */
export function renderTokenFile(tokens: readonly string[], what: 'api.tokens' | 'api.metricsTokens'): string {
  if (tokens.length === 0) throw new Error(`${what}: at least one bearer token is required`);
  for (const t of tokens) {
    if (t.length < 16 || /[,\s#]/.test(t)) {
      throw new Error(`${what}: each token needs at least 16 characters and no commas, spaces or '#'`);
    }
  }
  const variable = what === 'api.tokens' ? 'API_TOKENS_FILE' : 'METRICS_TOKENS_FILE';
  return `# Managed by Pulumi (FUD Buddy GpuHost): bearer tokens for ${variable}, one per line.\n# Re-read on change and on \`systemctl reload fudbuddy-api\` (SIGHUP); no restart.\n${tokens.join('\n')}\n`;
}

/** Parses what renderTokenFile writes (tests and tooling). */
export function parseTokenFile(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}
