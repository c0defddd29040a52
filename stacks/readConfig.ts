// Thin reader over Pulumi's config: collects the `fudbuddy:*` values, validates them with the pure parser and
// returns secrets as secret Outputs (config.getSecret), so they never become plain strings in resource inputs.
import * as pulumi from '@pulumi/pulumi';
import { PROJECT, SECRET_KEY_NAMES, type SecretKey, type StackSettings } from './config.js';
import { derive, type Derived } from './derive.js';
import { formatIssues, parseStackConfig } from './validate.js';

export type StackSecrets = { [K in SecretKey]?: pulumi.Output<string> } & {
  serviceToken: pulumi.Output<string>;
  upstreamApiKey: pulumi.Output<string>;
  sshPrivateKey: pulumi.Output<string>;
};

export interface StackConfig {
  stack: string;
  settings: StackSettings;
  derived: Derived;
  secrets: StackSecrets;
  /** cloudflare:apiToken, handed to wrangler through the environment (never argv). */
  cloudflareApiToken?: pulumi.Output<string>;
}

/** Raw values for the parser: objects/arrays parsed from their JSON form, scalars left as strings. */
export function collectRawValues(all: Record<string, string>, project = PROJECT): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const prefix = `${project}:`;
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(prefix)) continue;
    const key = fullKey.slice(prefix.length);
    const looksStructured = /^\s*[[{]/.test(value);
    if (looksStructured && !(SECRET_KEY_NAMES as string[]).includes(key)) {
      try {
        out[key] = JSON.parse(value);
        continue;
      } catch {
        // Not JSON after all: let the schema report the type.
      }
    }
    out[key] = value;
  }
  return out;
}

export function readStackConfig(): StackConfig {
  const stack = pulumi.getStack();
  const result = parseStackConfig(collectRawValues(pulumi.runtime.allConfig()));
  if (!result.ok) throw new pulumi.RunError(formatIssues(result.issues));
  const config = new pulumi.Config(PROJECT);
  const secrets: Partial<Record<SecretKey, pulumi.Output<string>>> = {};
  for (const name of result.secretsPresent) {
    const value = config.getSecret(name);
    if (value) secrets[name] = value;
  }
  const cloudflareApiToken = new pulumi.Config('cloudflare').getSecret('apiToken');
  return {
    stack,
    settings: result.settings,
    derived: derive(result.settings, stack),
    secrets: secrets as StackSecrets,
    cloudflareApiToken,
  };
}
