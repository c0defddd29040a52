import * as Sentry from '@sentry/browser';
import type { WebConfig } from './config.js';

/** Starts Sentry; returns how the app reports an error. Message text never leaves the browser. */
export function initSentry(config: WebConfig): (err: unknown, tags: Record<string, string>) => void {
  Sentry.init({
    dsn: config.sentryDsn,
    environment: config.env,
    // Chat text and tokens travel in bodies and the Authorization header: collect none of that.
    dataCollection: { userInfo: false, cookies: false, httpHeaders: false, httpBodies: [], urlQueryParams: false },
    // Breadcrumbs of fetch/XHR carry URLs only, but console breadcrumbs could echo chat text.
    beforeBreadcrumb: (crumb) => (crumb.category === 'console' ? null : crumb),
  });
  return (err, tags) => Sentry.captureException(err, { tags });
}
