// tsvisor do on a terminal, as `docker run -it`: the program's terminal is a
// pty of the sandbox's own devpts (its /dev/pts/0), and tsvisor's main thread
// relays bytes between the host's terminal, put in raw mode, and the pty's
// master. The line discipline that matters (echo, ^C, ^Z, job control) is
// then the sandbox's pty's, driven by the program, and the host's terminal
// only carries bytes. Window size changes go to the master (TIOCSWINSZ), and
// the kernel sends SIGWINCH to the program's foreground job.
//
// The pty is made by the gofer's launcher, which builds /dev (it binds the
// slave at /dev/console too) and sends the master and a slave over a socket
// (native/launcher/terminal.c). Relaying here, off the sentry's worker
// thread, keeps terminal traffic away from the trap loop.
import fs from 'node:fs';
import os from 'node:os';
import tty from 'node:tty';
import { native } from '../native/index.js';

export class TerminalError extends Error {}

/** The sandbox's pty as tsvisor holds it. */
export interface SandboxPty {
  /** Non-blocking, close-on-exec. */
  readonly master: number;
  /**
   * Held until the sandbox is gone, so the master cannot read EIO (every
   * slave closed) before the program has opened its own.
   */
  readonly slave: number;
  /** The slave's path in the sandbox, /dev/pts/N. */
  readonly name: string;
}

/** The one message the gofer's launcher sends on the socket: "PTY0/dev/pts/N" with [master, slave]. */
export function receivePty(sock: number, timeoutMs: number): SandboxPty {
  const buf = new Uint8Array(64);
  const fds = new Int32Array(4);
  const n = native.recvMsg(sock, buf, fds, timeoutMs);
  const got = fds[0]!;
  const close = (): void => {
    for (let i = 1; i <= got; i++) native.close(fds[i]!);
  };
  if (n < 0) {
    close();
    throw new TerminalError(n === -os.constants.errno.ETIMEDOUT ? 'the launcher did not send the sandbox\'s terminal' : `receiving the sandbox's terminal: errno ${-n}`);
  }
  const text = Buffer.from(buf.subarray(0, n)).toString('latin1');
  if (!text.startsWith('PTY0') || got !== 2 || !/^\/dev\/pts\/[0-9]+$/.test(text.slice(4))) {
    close();
    throw new TerminalError(n === 0 ? 'the launcher ended before it sent the sandbox\'s terminal' : `bad terminal message from the launcher: '${text}'`);
  }
  return { master: fds[1]!, slave: fds[2]!, name: text.slice(4) };
}

/** The host terminal's size source: stdout, else stderr, when a terminal. */
function sizeSource(): tty.WriteStream | null {
  if (process.stdout instanceof tty.WriteStream) return process.stdout;
  if (process.stderr instanceof tty.WriteStream) return process.stderr;
  return null;
}

/** Retry delay for input the pty cannot take yet (its input queue is full: the program is not reading). */
const INPUT_RETRY_MS = 20;

export class TerminalRelay {
  private readonly masterIn: tty.ReadStream;
  private readonly size = sizeSource();
  private pending: Buffer[] = [];
  private retry: NodeJS.Timeout | null = null;
  /** The master's fd is closed (and its number may be reused): nothing may touch it. */
  private closed = false;
  private slaveOpen = true;
  private rawSet = false;
  private readonly ended: Promise<void>;

  /**
   * Takes ownership of pty's fds. hostIn must be the host's terminal (the
   * caller checked); its raw mode is undone by restore(), which every exit
   * path must reach (a process 'exit' hook is the last resort).
   */
  constructor(private readonly pty: SandboxPty, private readonly hostIn: tty.ReadStream, private readonly hostOut: NodeJS.WritableStream) {
    this.masterIn = new tty.ReadStream(pty.master);
    this.ended = new Promise<void>((resolve) => {
      // EIO is how a pty master says every slave is closed: the end, not an error.
      this.masterIn.on('error', () => resolve());
      this.masterIn.on('end', () => resolve());
      this.masterIn.on('close', () => resolve());
    });
  }

  start(): void {
    this.setWindowSize();
    this.size?.on('resize', this.onResize);
    this.masterIn.on('data', this.onOutput);
    process.on('exit', this.restore);
    this.hostIn.setRawMode(true);
    this.rawSet = true;
    this.hostIn.on('data', this.onInput);
    this.hostIn.resume();
  }

  /**
   * The program is gone: drop our slave and let the master hand over what the
   * program wrote last (it reads EIO once the pty is drained and every slave
   * is closed), waiting at most guardMs.
   */
  async finish(guardMs: number): Promise<void> {
    this.closeSlave();
    let timer: NodeJS.Timeout | null = null;
    await Promise.race([this.ended, new Promise<void>((r) => { timer = setTimeout(r, guardMs); })]);
    if (timer) clearTimeout(timer);
  }

  /** Idempotent: the host terminal back as it was, the pty closed, every listener gone. */
  readonly restore = (): void => {
    process.off('exit', this.restore);
    this.size?.off('resize', this.onResize);
    this.hostIn.off('data', this.onInput);
    if (this.rawSet) {
      this.rawSet = false;
      try {
        this.hostIn.setRawMode(false);
      } catch { /* the terminal is gone (hung up): nothing to restore */ }
      this.hostIn.pause();
    }
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    this.pending = [];
    this.closeSlave();
    if (!this.closed) {
      this.closed = true;
      this.masterIn.off('data', this.onOutput);
      // Closes the master's fd.
      this.masterIn.destroy();
    }
  };

  private closeSlave(): void {
    if (!this.slaveOpen) return;
    this.slaveOpen = false;
    native.close(this.pty.slave);
  }

  private readonly onOutput = (chunk: Buffer): void => {
    this.hostOut.write(chunk);
  };

  private readonly onInput = (chunk: Buffer): void => {
    this.pending.push(chunk);
    if (!this.retry) this.flushInput();
  };

  /** Writes what it can; the rest waits for the program to read (EAGAIN), retried on a timer. */
  private flushInput(): void {
    this.retry = null;
    while (this.pending.length > 0 && !this.closed) {
      const chunk = this.pending[0]!;
      let n: number;
      try {
        n = fs.writeSync(this.pty.master, chunk);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.retry = setTimeout(() => this.flushInput(), INPUT_RETRY_MS);
          return;
        }
        // EIO: the program side is gone; its input goes with it.
        this.pending = [];
        return;
      }
      if (n < chunk.length) this.pending[0] = chunk.subarray(n);
      else this.pending.shift();
    }
  }

  private readonly onResize = (): void => this.setWindowSize();

  private setWindowSize(): void {
    if (!this.size || this.closed) return;
    const [cols, rows] = this.size.getWindowSize();
    // A failure here only leaves the old size: not worth ending the session for.
    native.setWindowSize(this.pty.master, rows, cols);
  }
}
