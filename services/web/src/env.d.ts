/// <reference types="vite/client" />

interface ImportMetaEnv {
  readonly VITE_AI_API_BASE_URL?: string;
  readonly VITE_AI_CLIENT_ID?: string;
  readonly VITE_AI_ENV?: string;
  readonly VITE_SENTRY_DSN?: string;
}

interface ImportMeta {
  readonly env: ImportMetaEnv;
}

/** Replaced at build time by vite.config.ts: the Sentry DSN, or "" (then Sentry is not even bundled). */
declare const __FUD_SENTRY_DSN__: string;
