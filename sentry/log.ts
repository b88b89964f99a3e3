// The sentry's logger: pino to stderr (or to $TSVISOR_LOG_FILE, the OCI
// runtime's --debug-log), synchronous (a worker thread's log must not be
// lost when the sandbox ends), quiet unless asked ($TSVISOR_LOG: a level).
//
// pino and what it pulls in (streams, worker_threads, diagnostics_channel)
// take ~20 ms to load in each isolate, and a sandbox that starts well logs
// nothing at the default level (warn). So pino is loaded on the first line
// that is logged; a level check is all that runs before.
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

type LogCall = { (obj: object, msg?: string): void; (msg: string): void };

/** What tsvisor logs with: pino's calls, pino's levels. */
export interface Log {
  readonly debug: LogCall;
  readonly info: LogCall;
  readonly warn: LogCall;
  readonly error: LogCall;
}

const LEVELS: Readonly<Record<string, number>> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

export function makeLogger(name: string): Log {
  const level = process.env['TSVISOR_LOG'] ?? 'warn';
  const threshold = LEVELS[level];
  let pinoLogger: Logger | null = null;
  const real = (): Logger => {
    if (pinoLogger === null) {
      const pino = createRequire(import.meta.url)('pino') as typeof import('pino');
      const file = process.env['TSVISOR_LOG_FILE'];
      const dest = file !== undefined ? pino.destination({ dest: file, sync: true, append: true, mkdir: true }) : pino.destination({ fd: 2, sync: true });
      pinoLogger = pino.pino({ name, level, base: null }, dest);
    }
    return pinoLogger;
  };
  // A level pino does not know: let pino say so now, as it always did.
  if (threshold === undefined) real();
  const at = (levelName: 'debug' | 'info' | 'warn' | 'error'): LogCall => ((objOrMsg: object | string, msg?: string): void => {
    if (threshold !== undefined && LEVELS[levelName]! < threshold) return;
    if (typeof objOrMsg === 'string') real()[levelName](objOrMsg);
    else real()[levelName](objOrMsg, msg);
  }) as LogCall;
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}
