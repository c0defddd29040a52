// Build-time configuration. Everything here ends up in the public bundle, so it holds only
// public values: where the Worker is, which client id this build presents, which environment.

export interface WebConfig {
  apiBaseUrl: string;
  clientId: string;
  env: string;
  sentryDsn: string;
}

export const config: WebConfig = {
  apiBaseUrl: (import.meta.env.VITE_AI_API_BASE_URL || 'http://localhost:8787').replace(/\/+$/, ''),
  clientId: import.meta.env.VITE_AI_CLIENT_ID || 'fudbuddy-dev',
  env: import.meta.env.VITE_AI_ENV || 'development',
  sentryDsn: __FUD_SENTRY_DSN__,
};
