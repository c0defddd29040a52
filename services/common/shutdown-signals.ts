// One drain per process, however many signals arrive. The listeners stay installed for the process's life: under
// tsx (`npm run api`) a hidden SIGINT/SIGTERM hook exits the process as soon as no user listener is left, so a
// `process.once` listener (removed before it runs) let tsx kill the API mid-drain and cut the streams in flight.
// A Ctrl-C also reaches every process of the group, so a signal may come twice: the first SIGTERM/SIGINT starts
// the drain; a repeat within `repeatWindowMs` is the same request and only logged; a later one is a deliberate
// second Ctrl-C and forces the exit (logged, exit code 1), as operators expect of a server.

export interface ShutdownLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface ShutdownOptions {
  /** Starts the drain; its promise settles when the process may exit (0 on success, 1 on failure). */
  drain: (signal: NodeJS.Signals) => Promise<unknown>;
  log: ShutdownLog;
  repeatWindowMs?: number;
  exit?: (code: number) => void;
  now?: () => number;
}

export const SHUTDOWN_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'];
export const REPEAT_SIGNAL_WINDOW_MS = 1000;

/** The signal handler, separate from `process` so its rules can be tested directly. */
export function shutdownHandler(opts: ShutdownOptions): (signal: NodeJS.Signals) => void {
  const { drain, log, repeatWindowMs = REPEAT_SIGNAL_WINDOW_MS, exit = (c) => process.exit(c), now = Date.now } = opts;
  let firstAt: number | undefined;
  return (signal) => {
    if (firstAt === undefined) {
      firstAt = now();
      log.info({ signal }, 'shutting down');
      drain(signal).then(
        () => exit(0),
        () => exit(1),
      );
    } else if (now() - firstAt < repeatWindowMs) {
      log.info({ signal }, 'already draining: repeated signal ignored');
    } else {
      log.warn({ signal }, 'second shutdown signal: exiting now without finishing the drain');
      exit(1);
    }
  };
}

export function onShutdownSignals(opts: ShutdownOptions): void {
  const handler = shutdownHandler(opts);
  for (const s of SHUTDOWN_SIGNALS) process.on(s, handler);
}
