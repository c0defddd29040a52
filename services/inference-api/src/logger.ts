// pino JSON to stdout (journald on the host). Request logs carry ids, sizes and timings, never message content or
// bearer tokens; content is logged only when LOG_CONTENT=true, at debug level.
import { destination, pino, stdTimeFunctions, type DestinationStream, type Logger } from 'pino';

export function createLogger(level: string, dest?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'fudbuddy-api' },
      // Defence in depth: if a header object ever reaches a log call, its secrets are masked.
      redact: { paths: ['authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization', 'token', '*.token'], censor: '[redacted]' },
      timestamp: stdTimeFunctions.isoTime,
    },
    dest ?? destination({ fd: 1, sync: false }),
  );
}
export type { Logger };
