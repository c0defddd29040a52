// Error reporting goes to Sentry only when the build set VITE_SENTRY_DSN; otherwise this module is all
// there is (the SDK is a separate chunk loaded on demand, and not even built when the DSN is empty).
import type { AiServiceError } from './aiService.js';
import { config } from './config.js';

type Reporter = (err: unknown, tags: Record<string, string>) => void;
let reporter: Reporter | undefined;

export function initTelemetry(): void {
  if (!__FUD_SENTRY_DSN__) return;
  import('./sentry.js')
    .then((m) => {
      reporter = m.initSentry(config);
    })
    .catch((err: unknown) => console.warn('error reporting unavailable', err));
}

export function reportError(err: unknown): void {
  const e = err as Partial<AiServiceError>;
  reporter?.(err, { kind: e.kind ?? 'unknown', request_id: e.requestId ?? 'none' });
}
