// The sentry's logger: pino to stderr, synchronous (a worker thread's log
// must not be lost when the sandbox ends), quiet unless asked.
import pino, { type Logger } from 'pino';

export function makeLogger(name: string): Logger {
  const level = process.env['TSVISOR_LOG'] ?? 'warn';
  return pino({ name, level, base: null }, pino.destination({ fd: 2, sync: true }));
}
