// tsvisor do on a terminal (as docker run -it): the program gets a pty of the
// sandbox's own, with job control and window size changes passed through.
// Driven through tmux, a real terminal emulator: keys go in with send-keys,
// the screen comes out with capture-pane, and the same steps are run with
// busybox sh natively in a pane of its own to compare.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PLATFORM } from './helpers/platform.js';
import { BASE_ENV, makeWorkDir, removeDir, runNative, sandboxArgs, sandboxCommandLine } from './helpers/sandbox.js';

const BUSYBOX = '/bin/busybox';
/** A hang guard for each wait, not a speed threshold. */
const DEADLINE_MS = 60_000;
const SOCKET = `tsvisor-terminal-test-${process.pid}`;
const COLS = 100;
const ROWS = 30;
// Each pane runs busybox sh natively as the outer shell (prompt "host$ "),
// which starts the shell under test (prompt "box$ ").
const TMUX_ENV = { ...BASE_ENV, PS1: 'host$ ' };

function tmux(...args: string[]): string {
  return execFileSync('tmux', ['-L', SOCKET, '-f', '/dev/null', ...args], { encoding: 'utf8', env: TMUX_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * A stopped job as the host sees it: "T", or "t" (tracing stop) when the
 * sentry traces it (the ptrace platform), which is how the host kernel shows
 * any traced process in a group-stop. Inside the sandbox it reads "T".
 */
function isStoppedState(state: string): boolean {
  return state === 'T' || (PLATFORM === 'ptrace' && state === 't');
}

/** A host process: pid, parent, state letter, argv. */
interface Proc { pid: number; ppid: number; state: string; argv: string[] }

function listProcs(): Proc[] {
  const out: Proc[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      // comm may hold spaces and parentheses: the fields start after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').slice(0, -1);
      out.push({ pid: Number(name), ppid: Number(fields[1]), state: fields[0]!, argv });
    } catch { /* gone meanwhile */ }
  }
  return out;
}

class Pane {
  private constructor(readonly name: string, readonly pid: number) {}

  static start(name: string): Pane {
    tmux('new-session', '-d', '-s', name, '-x', String(COLS), '-y', String(ROWS), '--', BUSYBOX, 'sh');
    return new Pane(name, Number(tmux('display-message', '-p', '-t', name, '#{pane_pid}').trim()));
  }

  /** The whole pane, history included, wrapped lines joined. */
  screen(): string {
    return tmux('capture-pane', '-p', '-J', '-S', '-', '-t', this.name);
  }

  type(text: string): void {
    tmux('send-keys', '-t', this.name, '-l', text);
    tmux('send-keys', '-t', this.name, 'Enter');
  }

  key(k: string): void {
    tmux('send-keys', '-t', this.name, k);
  }

  resize(cols: number, rows: number): void {
    tmux('resize-window', '-t', this.name, '-x', String(cols), '-y', String(rows));
  }

  kill(): void {
    try {
      tmux('kill-session', '-t', this.name);
    } catch { /* already gone */ }
  }

  async waitFor<T>(what: string, probe: (screen: string) => T | null | undefined | false): Promise<T> {
    const end = Date.now() + DEADLINE_MS;
    for (;;) {
      const screen = this.screen();
      const v = probe(screen);
      if (v !== null && v !== undefined && v !== false) return v;
      if (Date.now() > end) throw new Error(`pane ${this.name}: no ${what} within ${DEADLINE_MS} ms; the screen:\n${screen}`);
      await delay(100);
    }
  }

  /** Waits for a regexp's n-th match (0: the first) and returns its first group. */
  waitMatch(re: RegExp, what: string, n = 0): Promise<string> {
    const g = new RegExp(re.source, re.flags.includes('g') ? re.flags : re.flags + 'g');
    return this.waitFor(what, (s) => [...s.matchAll(g)][n]?.[1]);
  }

  /** The last non-empty line of the screen. */
  lastLine(): string {
    const lines = this.screen().split('\n').filter((l) => l.trim() !== '');
    return (lines[lines.length - 1] ?? '').trim();
  }

  /** This pane's processes below its shell running exactly argv. */
  descendants(argv: readonly string[]): Proc[] {
    const procs = listProcs();
    const below = new Set([this.pid]);
    // Parents are listed before children only by chance: iterate to a fixed point.
    for (let grew = true; grew;) {
      grew = false;
      for (const p of procs) {
        if (!below.has(p.pid) && below.has(p.ppid)) { below.add(p.pid); grew = true; }
      }
    }
    return procs.filter((p) => p.pid !== this.pid && below.has(p.pid) && p.argv.join('\0') === argv.join('\0'));
  }

  async waitProc(argv: readonly string[], what: string, ok: (p: Proc) => boolean): Promise<Proc> {
    return this.waitFor(what, () => this.descendants(argv).find(ok));
  }

  async waitNoProc(argv: readonly string[], what: string): Promise<void> {
    await this.waitFor(what, () => this.descendants(argv).length === 0);
  }
}

/** What one run of the interactive steps showed. */
interface Observed {
  hello: string;
  tty: string;
  /** What `echo ... > /dev/tty` printed: /dev/tty is the shell's own controlling terminal. */
  devTty: string;
  size: string;
  stopped: string;
  jobs: string;
  resized: string;
  exitStatus: string;
  sttyBefore: string;
  sttyAfter: string;
}

const SLEEP = ['sleep', '100'];

/** The brief's interactive steps, typed into pane; inner starts the shell under test. */
async function interactive(p: Pane, inner: string, work: string): Promise<Observed> {
  const before = path.join(work, `${p.name}.before`);
  const after = path.join(work, `${p.name}.after`);
  await p.waitFor('the outer prompt', (s) => /^host\$/m.test(s));
  p.type(`stty -g > ${before}; PS1='box$ ' ${inner}; echo "exit-status=$?"; stty -g > ${after}; echo outer-done`);
  // A line of its own: the command line above names the prompt too.
  await p.waitFor('a prompt', (s) => /^box\$/m.test(s));

  p.type('echo "hello-$((6*7))"');
  const hello = await p.waitMatch(/^(hello-\d+)$/m, 'echo');
  p.type('echo "tty=$(tty)"');
  const tty = await p.waitMatch(/^tty=(.*)$/m, 'tty');
  p.type('echo "via-dev-tty-ok" > /dev/tty');
  const devTty = await p.waitMatch(/^(via-dev-tty-\w+)$/m, '/dev/tty');
  p.type('echo "size=$(stty size)"');
  const size = await p.waitMatch(/^size=(.*)$/m, 'stty size');

  // Ctrl-C interrupts the foreground job, and the shell survives.
  p.type(SLEEP.join(' '));
  await p.waitProc(SLEEP, 'a running sleep', (q) => q.state === 'S');
  p.key('C-c');
  await p.waitNoProc(SLEEP, 'the sleep interrupted by ^C');
  await p.waitFor('the prompt back after ^C', () => p.lastLine() === 'box$');
  p.type('echo "int-ok-$((1+1))"');
  await p.waitMatch(/^(int-ok-2)$/m, 'the shell alive after ^C');

  // Ctrl-Z stops it, jobs lists it, fg resumes it, and ^C ends it.
  p.type(SLEEP.join(' '));
  const sleeper = await p.waitProc(SLEEP, 'a running sleep', (q) => q.state === 'S');
  p.key('C-z');
  await p.waitProc(SLEEP, 'the sleep stopped by ^Z', (q) => q.pid === sleeper.pid && isStoppedState(q.state));
  const stopped = await p.waitMatch(/(\[1\]\+ +Stopped +sleep 100)/, '"Stopped"');
  p.type('jobs; echo jobs-done');
  const jobs = await p.waitMatch(/^(.*)\n(?:box\$ )?jobs-done$/m, 'jobs');
  p.type('fg');
  await p.waitProc(SLEEP, 'the sleep resumed by fg', (q) => q.pid === sleeper.pid && q.state === 'S');
  p.key('C-c');
  await p.waitNoProc(SLEEP, 'the resumed sleep interrupted by ^C');
  p.type('echo "fg-ok-$((2+1))"');
  await p.waitMatch(/^(fg-ok-3)$/m, 'the shell alive after fg and ^C');

  // A resize reaches the program (SIGWINCH, TIOCSWINSZ): ask until it shows,
  // as the signal reaches the pane's processes in their own time.
  p.resize(80, 24);
  let resized = '';
  for (let i = 0; resized !== '24 80'; i++) {
    p.type(`echo "resized-${i}=$(stty size)"`);
    resized = await p.waitMatch(new RegExp(`^resized-${i}=(.*)$`, 'm'), 'stty size after the resize');
    if (resized !== '24 80') await delay(200);
  }

  p.type('exit 3');
  const exitStatus = await p.waitMatch(/^exit-status=(\d+)$/m, 'the exit status');
  await p.waitMatch(/^(outer-done)$/m, 'the outer shell');
  return {
    hello, tty, devTty, size, stopped, jobs, resized, exitStatus,
    sttyBefore: fs.readFileSync(before, 'utf8').trim(),
    sttyAfter: fs.readFileSync(after, 'utf8').trim(),
  };
}

let work: string;
const panes: Pane[] = [];
let paneCount = 0;
function pane(): Pane {
  const p = Pane.start(`p${paneCount++}`);
  panes.push(p);
  return p;
}

beforeAll(() => {
  work = makeWorkDir('tsvisor-terminal-');
});
afterAll(() => {
  for (const p of panes) p.kill();
  try {
    tmux('kill-server');
  } catch { /* no server left */ }
  removeDir(work);
});

const SANDBOXED = `${sandboxCommandLine()} -- ${BUSYBOX} sh`;

describe('an interactive shell on a terminal', () => {
  let native: Observed;
  let sandboxed: Observed;
  beforeAll(async () => {
    const [n, s] = [pane(), pane()];
    [native, sandboxed] = await Promise.all([interactive(n, `${BUSYBOX} sh`, work), interactive(s, SANDBOXED, work)]);
  });

  it('prompts, runs commands, and has the sandbox\'s own /dev/pts/0 as its terminal', () => {
    expect(sandboxed.hello).toBe('hello-42');
    expect(native.tty).toMatch(/^\/dev\/pts\/[0-9]+$/);
    expect(sandboxed.tty).toBe('/dev/pts/0');
    // /dev/tty is opened in the program's own context, so it is its terminal (not tsvisor's).
    expect(sandboxed.devTty).toBe(native.devTty);
  });

  it('has the window\'s size, and the new one after a resize (SIGWINCH passed through)', () => {
    expect(native.size).toBe(`${ROWS} ${COLS}`);
    expect(sandboxed.size).toBe(native.size);
    expect(sandboxed.resized).toBe('24 80');
  });

  it('has job control: ^Z stops a job, jobs lists it, fg resumes it, ^C ends it', () => {
    expect(sandboxed.stopped).toBe(native.stopped);
    expect(sandboxed.jobs).toBe(native.jobs);
    expect(sandboxed.jobs).toMatch(/^\[1\]\+ +Stopped +sleep 100$/);
  });

  it('ends with the shell\'s exit status and gives the terminal back as it was', () => {
    expect(native.exitStatus).toBe('3');
    expect(sandboxed.exitStatus).toBe('3');
    expect(sandboxed.sttyAfter).toBe(sandboxed.sttyBefore);
    expect(native.sttyAfter).toBe(native.sttyBefore);
  });
});

describe('when a terminal is given', () => {
  it('hands over all the output when the program exits', async () => {
    const p = pane();
    await p.waitFor('the outer prompt', (s) => /^host\$/m.test(s));
    p.type(`${sandboxCommandLine()} -- ${BUSYBOX} sh -c 'seq 1 1500; echo "drained-$((40+2))"; exit 4'; echo "exit-status=$?"`);
    const status = await p.waitMatch(/^exit-status=(\d+)$/m, 'the exit status');
    expect(status).toBe('4');
    expect(p.screen()).toMatch(/^1500\n+drained-42\n+exit-status=4$/m);
  });

  it('follows docker\'s rule: a terminal only when stdin and stdout both are one, or with --tty', async () => {
    const p = pane();
    await p.waitFor('the outer prompt', (s) => /^host\$/m.test(s));
    // Redirections and pipes apply to tsvisor itself, as the program inherits or gets its stdio from it.
    const cases: Array<{ flags: readonly string[]; redirect: string; want: string }> = [
      { flags: [], redirect: '', want: '/dev/pts/0' },
      // stdout a pipe: stdio inherited as it is, the caller's terminal at /dev/console
      { flags: [], redirect: '| cat', want: '/dev/console' },
      { flags: [], redirect: '</dev/null', want: 'not a tty' },
      { flags: ['--no-tty'], redirect: '', want: '/dev/console' },
      { flags: ['--tty'], redirect: '| cat', want: '/dev/pts/0' },
    ];
    for (const [i, c] of cases.entries()) {
      p.type(`${sandboxCommandLine(c.flags)} -- ${BUSYBOX} sh -c 'echo "case-${i}-tty=$(tty)"' ${c.redirect}; echo "case-${i}-done"`);
      await p.waitMatch(new RegExp(`^(case-${i}-done)$`, 'm'), `case ${i}`);
      expect(p.screen(), JSON.stringify(c)).toMatch(new RegExp(`^case-${i}-tty=${c.want}$`, 'm'));
    }
  });
});

describe('--tty without a terminal', () => {
  it('is refused with a clear message', async () => {
    const r = await runNative([process.execPath, ...sandboxArgs(['true'], ['--tty'])], { cwd: '/' });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--tty: stdin is not a terminal/);
  });
});
