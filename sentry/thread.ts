// The sentry's thread, started before its sandbox is known. A worker's
// isolate takes tens of milliseconds to boot and load the sentry; started
// first, it boots on the other core while the caller reads the spec, makes
// the sandbox's folders and starts the gofer, and gets its sandbox by one
// message (sentry/worker.ts waits for it) when runSandbox has it.
import { Worker } from 'node:worker_threads';
import { SENTRY_WORKER } from '../native/paths.js';

export class SentryThread {
  readonly worker = new Worker(SENTRY_WORKER);
  /** An error or exit before runSandbox listens (a crash while booting); runSandbox reports it. */
  early: string | null = null;
  private readonly onError = (e: Error): void => { this.early ??= `sentry crashed: ${e.message}`; };
  private readonly onExit = (): void => { this.early ??= 'the sentry ended before the sandbox started'; };

  constructor() {
    booting.add(this.worker);
    this.worker.once('online', () => booting.delete(this.worker));
    this.worker.once('exit', () => booting.delete(this.worker));
    this.worker.on('error', this.onError);
    this.worker.on('exit', this.onExit);
  }

  /** runSandbox takes the thread over: its own listeners replace these. */
  adopt(): Worker {
    this.worker.off('error', this.onError);
    this.worker.off('exit', this.onExit);
    return this.worker;
  }

  /** A thread that was never given a sandbox (the caller failed first): it must not keep the process alive. */
  discard(): void {
    void this.worker.terminate();
  }
}

let prestarted: SentryThread | null = null;
/** Threads started and not yet running their first line, for stopBootingSentryThreads. */
const booting = new Set<Worker>();

/**
 * Stops the sentry threads that are still booting, and waits until they are
 * gone: called before process.exit, since a command may end while its
 * thread still boots (a usage error right after the prestart), and Node 20
 * does not always survive exiting under a worker in its bootstrap. A thread
 * past it is left to the exit, as Node does.
 */
export async function stopBootingSentryThreads(): Promise<void> {
  await Promise.allSettled([...booting].map((w) => w.terminate()));
}

/**
 * Starts the thread now, before the command's own modules load: cli/prestart.ts
 * calls it first of all when its command line will run a sandbox.
 */
export function prestartSentryThread(): void {
  prestarted ??= new SentryThread();
}

/** The thread started by prestartSentryThread, or a new one. */
export function takeSentryThread(): SentryThread {
  const t = prestarted ?? new SentryThread();
  prestarted = null;
  return t;
}
