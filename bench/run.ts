// `npm run bench`: what tsvisor costs, against native, against the C floor of
// each trap mechanism (the least a seccomp-notify supervisor or a ptrace
// tracer can cost, DESIGN.md's table) and against runsc on its ptrace platform.
// Measurement only, no thresholds: it prints figures and exits 0. See
// bench/README.md for what each figure means and how to read it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compileAll, type Built } from './compile.js';
import { pollPeak } from './memory.js';
import { failure, numbersAfter, run, type RunResult } from './proc.js';
import { figureNet, type NetFigures, type Sandboxes } from './net.js';
import { findRunscFlags, RUNSC, type RunscProbe } from './runsc.js';
import { Collector, failed, type Outcome } from './stats.js';
import {
  renderDetails, renderMechanismDetails, renderMechanisms, renderNamedDetails, renderRatio, renderTable, type MechanismRow, type Row,
} from './table.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // dist/bench
// The bundle (`npm run build` makes it), and the executable that clients run
// it with (bin/tsvisor-runtime, the native front end: native/front/).
const CLI_MAIN = path.resolve(here, '..', 'bundle', 'main.cjs');
const FRONT_END = path.resolve(here, '..', '..', 'bin', 'tsvisor-runtime');
const PROBE_URL = pathToFileURL(path.join(here, 'rss-probe.js')).href;
const C_SRC = path.resolve(here, '..', '..', 'bench', 'c');

// Sizes, chosen so the whole bench stays near two minutes on 2 vCPUs.
// Each C program repeats its loop REPS times in one process and each
// configuration runs ROUNDS processes, interleaved with the other
// configurations so that a noisy spell hits all of them alike.
const P = {
  getppid: { nativeIters: 200_000, trappedIters: 50_000, reps: 5, rounds: 3 },
  // /etc/hostname: a few bytes, on the host root that the sandbox sees
  // through the gofer. The program reads up to 4 KiB per open.
  open: { paths: ['/etc/hostname', '/etc/os-release', '/etc/passwd'], nativeIters: 20_000, trappedIters: 2_000, reps: 5, rounds: 3 },
  start: { rounds: 15 },
  oci: { rounds: 10 },
  memory: { rounds: 3, pollMs: 5 },
  timeoutMs: 60_000,
} as const;

const log = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };

/** Adds the figures a C loop printed (scaled), or the reason it failed. */
function collect(c: Collector, r: RunResult, key: string, scale: number): void {
  const why = failure(r);
  if (why !== null) return c.fail(why);
  const xs = numbersAfter(r.stdout, key);
  if (xs.length === 0) return c.fail(`printed no '${key}'`);
  for (const x of xs) c.values.push(x * scale);
}

/** The count --stats printed for one syscall, or null. */
function trapCount(stderr: string, name: string): number | null {
  const m = stderr.match(new RegExp(`^\\s*(\\d+)\\s+${name}$`, 'm'));
  return m ? Number(m[1]) : null;
}

function floorStats(stderr: string): { notifications: number; vmhwmKb: number } | null {
  const m = stderr.match(/notify_floor: notifications (\d+) vmhwm_kb (\d+)/);
  return m ? { notifications: Number(m[1]), vmhwmKb: Number(m[2]) } : null;
}

/**
 * `tsvisor do` as users run it, through the front end; or, to measure its
 * memory, Node itself with the RSS probe loaded first (rss-probe.ts).
 */
function tsvisor(doArgs: readonly string[], rssOut?: string): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (rssOut === undefined) return { cmd: FRONT_END, args: ['do', ...doArgs], env: process.env };
  return { cmd: process.execPath, args: ['--import', PROBE_URL, CLI_MAIN, 'do', ...doArgs], env: { ...process.env, TSVISOR_BENCH_RSS_OUT: rssOut } };
}

function ptraceFloorStops(stderr: string): number | null {
  const m = stderr.match(/ptrace_floor: stops (\d+) vmhwm_kb \d+/);
  return m ? Number(m[1]) : null;
}

type PlatformProbe = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** What the network figures need to know to run a script in each sandbox. */
function sandboxes(runsc: RunscProbe, ptrace: PlatformProbe): Sandboxes {
  return {
    tsvisor: (doArgs, argv) => {
      return tsvisor([...doArgs, '--', ...argv]);
    },
    runsc,
    ptrace,
  };
}

/**
 * `--only net`: the network figures alone (about 3 minutes), with the same
 * probes and the same report style as the whole bench.
 */
async function netOnly(t0: number, dir: string): Promise<number> {
  log('looking for a working runsc command line');
  const runsc = fs.existsSync(RUNSC) ? await findRunscFlags() : { ok: false as const, reason: `${RUNSC} not installed` };
  log('asking tsvisor for its ptrace platform');
  const net = await figureNet(dir, sandboxes(runsc, await probeTsvisorPtrace()));
  process.stdout.write([
    '',
    `tsvisor bench --only net: Linux ${os.release()} ${os.arch()}, ${os.cpus().length} CPUs, node ${process.version}`,
    'native = the commands on the host; runsc = runsc do on its ptrace platform, --network=none; tsvisor = bin/tsvisor-runtime do (the front end, which execs node on dist/bundle/main.cjs);',
    'higher is better in every row here; ratios are of medians; "-" = not measured by design; * = some runs failed (reasons below)',
    '',
    renderTable(net.rows),
    '',
    ...net.summary,
    '',
    'details (min / median / max over all runs):',
    renderDetails(net.rows),
    '',
    runsc.ok ? `runsc: ${RUNSC} ${runsc.flags.join(' ')} do ...` : `runsc: unavailable (${runsc.reason})`,
    `bench took ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    '',
  ].join('\n'));
  return 0;
}

/**
 * Whether the built CLI has `--platform ptrace`. Only a command-line error
 * about the platform (exit 2) means it is not built: a platform that is there
 * but fails is measured, and its failures shown, like any other.
 */
async function probeTsvisorPtrace(): Promise<PlatformProbe> {
  const r = await run(process.execPath, [CLI_MAIN, 'do', '--platform', 'ptrace', '--', '/bin/true'], { timeoutMs: P.timeoutMs });
  const first = r.stderr.split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  if (r.code === 2 && /platform/i.test(first)) return { ok: false, reason: first };
  return { ok: true };
}

/** "12 calls, 12 traps", or MISMATCH when the premise (one trap per call) does not hold. */
function trapNote(calls: number | undefined, traps: number | null): string | null {
  if (calls === undefined || traps === null) return null;
  return traps === calls ? `${calls} calls, ${traps} traps` : `MISMATCH: ${calls} calls, ${traps} traps`;
}

function readProbe(file: string): number | null {
  try {
    const kb = Number(fs.readFileSync(file, 'utf8').trim());
    fs.rmSync(file, { force: true });
    return Number.isFinite(kb) && kb > 0 ? kb : null;
  } catch {
    return null;
  }
}

const KB_PER_MIB = 1024;

interface GetppidFigures {
  readonly time: Row;
  readonly memory: Row;
  readonly native: Outcome;
  readonly mechanisms: readonly MechanismRow[];
  readonly ptraceVsRunsc: string;
}

// 1 and 4 (the getppid half): one trap and one reply per call, on both
// mechanisms: seccomp notify (tsvisor's default platform and its C floor) and
// ptrace (tsvisor's ptrace platform, its C floor, and runsc's ptrace platform).
async function figureGetppid(b: Built, runsc: RunscProbe, tsvPtraceProbe: PlatformProbe): Promise<GetppidFigures> {
  const { nativeIters, trappedIters, reps, rounds } = P.getppid;
  const native = new Collector();
  const floor = new Collector();
  const tsv = new Collector();
  const floorMem = new Collector();
  const tsvMem = new Collector();
  const pFloor = new Collector();
  const rsPtrace = new Collector();
  const tsvPtrace = new Collector();
  const loop = b.bin.getppid_loop;
  const loopArgs = [loop, String(trappedIters), String(reps)];
  const runscArgs = runsc.ok ? [...runsc.flags, 'do', ...loopArgs] : [];
  for (let i = 0; i < rounds; i++) {
    log(`getppid round trip, round ${i + 1}/${rounds}`);
    collect(native, await run(loop, [String(nativeIters), String(reps)], { timeoutMs: P.timeoutMs, captureStdout: true }), 'ns_per_call', 1e-3);

    const f = await run(b.bin.notify_floor, [loop, String(trappedIters), String(reps)], { timeoutMs: P.timeoutMs, captureStdout: true });
    collect(floor, f, 'ns_per_call', 1e-3);
    // The floor counts what it answered: one trap per call is the premise.
    const fWhy = failure(f);
    const fStats = floorStats(f.stderr);
    const calls = numbersAfter(f.stdout, 'calls_total')[0];
    if (fWhy !== null) floorMem.fail(fWhy);
    else if (fStats === null) floorMem.fail('the floor printed no stats');
    else {
      floorMem.values.push(fStats.vmhwmKb / KB_PER_MIB);
      const n = fStats.notifications;
      floor.notes.push(n === calls ? `${calls} calls, ${n} traps` : `MISMATCH: ${calls} calls, ${n} traps`);
    }

    // The RSS probe only acts at exit, so it does not disturb the timing:
    // the getppid-loop memory figure comes from these same runs.
    const rssOut = path.join(b.dir, `rss-getppid-${i}`);
    const t = tsvisor(['--stats', '--', loop, String(trappedIters), String(reps)], rssOut);
    const r = await run(t.cmd, t.args, { timeoutMs: P.timeoutMs, captureStdout: true, env: t.env });
    collect(tsv, r, 'ns_per_call', 1e-3);
    const traps = trapCount(r.stderr, 'getppid');
    const tcalls = numbersAfter(r.stdout, 'calls_total')[0];
    if (traps !== null && tcalls !== undefined) {
      tsv.notes.push(traps === tcalls ? `${tcalls} calls, ${traps} traps` : `MISMATCH: ${tcalls} calls, ${traps} traps`);
    }
    const kb = readProbe(rssOut);
    const why = failure(r);
    if (why !== null) tsvMem.fail(why);
    else if (kb !== null) tsvMem.values.push(kb / KB_PER_MIB);
    else tsvMem.fail('the RSS probe wrote nothing');

    // The ptrace mechanism, in the same round so the same noise hits it.
    const pf = await run(b.bin.ptrace_floor, loopArgs, { timeoutMs: P.timeoutMs, captureStdout: true });
    collect(pFloor, pf, 'ns_per_call', 1e-3);
    const pNote = trapNote(numbersAfter(pf.stdout, 'calls_total')[0], ptraceFloorStops(pf.stderr));
    if (pNote !== null) pFloor.notes.push(pNote);

    // runsc's ptrace platform traps every syscall (PTRACE_SYSEMU); the loop
    // makes getppid calls only, and its clock is gVisor's own vDSO.
    if (runsc.ok) collect(rsPtrace, await run(RUNSC, runscArgs, { timeoutMs: P.timeoutMs, captureStdout: true }), 'ns_per_call', 1e-3);

    if (tsvPtraceProbe.ok) {
      const tp = tsvisor(['--platform', 'ptrace', '--stats', '--', ...loopArgs]);
      const rp = await run(tp.cmd, tp.args, { timeoutMs: P.timeoutMs, captureStdout: true, env: tp.env });
      collect(tsvPtrace, rp, 'ns_per_call', 1e-3);
      const note = trapNote(numbersAfter(rp.stdout, 'calls_total')[0], trapCount(rp.stderr, 'getppid'));
      if (note !== null) tsvPtrace.notes.push(note);
    }
  }
  const trapped = `${trappedIters} calls x ${reps} reps x ${rounds} runs`;
  native.notes.push(`${nativeIters} calls x ${reps} reps x ${rounds} runs`);
  for (const c of [floor, tsv, pFloor, rsPtrace, tsvPtrace]) c.notes.push(trapped);
  if (runsc.ok) rsPtrace.notes.push(`runsc ${runsc.flags.join(' ')} do getppid_loop`);

  const nativeO = native.outcome();
  const floorO = floor.outcome();
  const pFloorO = pFloor.outcome();
  const rsO = runsc.ok ? rsPtrace.outcome() : failed(runsc.reason);
  const tsvPtraceO = tsvPtraceProbe.ok ? tsvPtrace.outcome() : failed(`platform not built: ${tsvPtraceProbe.reason}`);
  const tsvO = tsv.outcome();
  const mechanisms: MechanismRow[] = [
    { label: 'seccomp notify: C floor (notify_floor.c)', value: floorO, floor: floorO },
    { label: 'seccomp notify: tsvisor do (default platform)', value: tsvO, floor: floorO },
    { label: 'ptrace, RET_TRACE: C floor (ptrace_floor.c)', value: pFloorO, floor: pFloorO },
    { label: 'ptrace: runsc --platform=ptrace do', value: rsO, floor: pFloorO },
    {
      label: 'ptrace: tsvisor do --platform ptrace', value: tsvPtraceO, floor: pFloorO,
      ...(tsvPtraceProbe.ok ? {} : { absent: 'n/a (platform not built)' }),
    },
  ];
  return {
    // runsc here is its ptrace platform against tsvisor's default: each as a
    // user gets it. Like against like is in the mechanism table.
    time: { label: 'getppid round trip (µs/call)', native: nativeO, floor: floorO, runsc: rsO, tsvisor: tsvO },
    memory: { label: 'supervisor peak RSS, getppid loop (MiB)', native: '-', floor: floorMem.outcome(), runsc: '-', tsvisor: tsvMem.outcome() },
    native: nativeO,
    mechanisms,
    // Issue 5's goal: on the same workload, tsvisor's ptrace platform is not slower than runsc's (at most 1.00x).
    ptraceVsRunsc: renderRatio('tsvisor ptrace / runsc ptrace, getppid round trip (goal: at most 1.00x)', tsvPtraceO, rsO)
      + (tsvPtraceProbe.ok ? '' : ' (platform not built)'),
  };
}

// 2: open is trapped (sentry + gofer); read and close run natively.
async function figureOpen(b: Built): Promise<Row> {
  const { paths, nativeIters, trappedIters, reps, rounds } = P.open;
  const file = paths.find((p) => fs.existsSync(p));
  if (file === undefined) {
    const why = failed(`none of ${paths.join(', ')} exists`);
    return { label: 'open+read+close (µs/iter)', native: why, floor: '-', runsc: '-', tsvisor: why };
  }
  const native = new Collector();
  const tsv = new Collector();
  for (let i = 0; i < rounds; i++) {
    log(`open+read+close of ${file}, round ${i + 1}/${rounds}`);
    collect(native, await run(b.bin.open_read_close, [file, String(nativeIters), String(reps)], { timeoutMs: P.timeoutMs, captureStdout: true }), 'ns_per_iter', 1e-3);
    const t = tsvisor(['--stats', '--', b.bin.open_read_close, file, String(trappedIters), String(reps)]);
    const r = await run(t.cmd, t.args, { timeoutMs: P.timeoutMs, captureStdout: true, env: t.env });
    collect(tsv, r, 'ns_per_iter', 1e-3);
    const traps = trapCount(r.stderr, 'openat');
    const opens = numbersAfter(r.stdout, 'opens_total')[0];
    // The dynamic loader's own opens are trapped too, so the trap count is
    // a few above the loop's: both are shown, not compared.
    if (traps !== null && opens !== undefined) tsv.notes.push(`${opens} opens by the loop, ${traps} openat traps in all`);
  }
  native.notes.push(`${file}, ${nativeIters} x ${reps} reps x ${rounds} runs`);
  tsv.notes.push(`${file}, ${trappedIters} x ${reps} reps x ${rounds} runs`);
  return { label: 'open+read+close (µs/iter)', native: native.outcome(), floor: '-', runsc: '-', tsvisor: tsv.outcome() };
}

// 3 and 4 (the /bin/true half).
async function figureStart(b: Built, runsc: RunscProbe): Promise<{ time: Row; memory: Row; gofer: Row }> {
  const { rounds } = P.start;
  const native = new Collector();
  const floor = new Collector();
  const floorMem = new Collector();
  const rs = new Collector();
  const tsv = new Collector();
  const o = { timeoutMs: P.timeoutMs };
  const tsvTrue = tsvisor(['--', '/bin/true']);
  const runscArgs = runsc.ok ? [...runsc.flags, 'do', '/bin/true'] : [];

  type Config = { c: Collector; go: () => Promise<RunResult> };
  const configs: Config[] = [
    { c: native, go: () => run('/bin/true', [], o) },
    { c: floor, go: () => run(b.bin.notify_floor, ['/bin/true'], o) },
    { c: tsv, go: () => run(tsvTrue.cmd, tsvTrue.args, { ...o, env: tsvTrue.env }) },
  ];
  if (runsc.ok) configs.push({ c: rs, go: () => run(RUNSC, runscArgs, o) });

  // One untimed run each first: page cache, and runsc's first start.
  log('start to exit, warm-up');
  for (const k of configs) await k.go();
  for (let i = 0; i < rounds; i++) {
    log(`start to exit, round ${i + 1}/${rounds}`);
    for (const k of configs) {
      const r = await k.go();
      const why = failure(r);
      if (why !== null) k.c.fail(why);
      else k.c.values.push(r.wallMs);
      if (k.c === floor) {
        // The floor reports its own peak RSS at exit: free, so taken here.
        const s = floorStats(r.stderr);
        if (why === null && s !== null) floorMem.values.push(s.vmhwmKb / KB_PER_MIB);
      }
    }
  }
  const each = `${rounds} runs, spawn to exit`;
  for (const c of [native, floor, tsv, rs]) c.notes.push(each);
  if (runsc.ok) rs.notes.push(`runsc ${runscArgs.join(' ')}`);

  // Memory: separate runs, because polling the gofer every few ms would
  // perturb the start-to-exit timing above.
  const tsvMem = new Collector();
  const goferMem = new Collector();
  for (let i = 0; i < P.memory.rounds; i++) {
    log(`peak RSS of do /bin/true, round ${i + 1}/${P.memory.rounds}`);
    const rssOut = path.join(b.dir, `rss-true-${i}`);
    const t = tsvisor(['--', '/bin/true'], rssOut);
    // Filled in by onSpawn; a holder object because TypeScript cannot see
    // that the callback runs before run() resolves.
    const gofer: { poll: ReturnType<typeof pollPeak> | null } = { poll: null };
    const r = await run(t.cmd, t.args, {
      timeoutMs: P.timeoutMs, env: t.env,
      onSpawn: (pid) => { gofer.poll = pollPeak(pid, 'tsvisor-gofer', P.memory.pollMs); },
    });
    const goferKb = gofer.poll?.stop() ?? null;
    const why = failure(r);
    const kb = readProbe(rssOut);
    if (why !== null) { tsvMem.fail(why); goferMem.fail(why); continue; }
    if (kb !== null) tsvMem.values.push(kb / KB_PER_MIB);
    else tsvMem.fail('the RSS probe wrote nothing');
    if (goferKb !== null) goferMem.values.push(goferKb / KB_PER_MIB);
    else goferMem.fail('no gofer process seen (is it still build/Release/tsvisor-gofer?)');
  }
  goferMem.notes.push(`polled every ${P.memory.pollMs} ms: a lower bound`);

  return {
    time: { label: 'start to exit, /bin/true (ms)', native: native.outcome(), floor: floor.outcome(), runsc: runsc.ok ? rs.outcome() : failed(runsc.reason), tsvisor: tsv.outcome() },
    memory: { label: 'supervisor peak RSS, /bin/true (MiB)', native: '-', floor: floorMem.outcome(), runsc: '-', tsvisor: tsvMem.outcome() },
    gofer: { label: 'gofer peak RSS, /bin/true (MiB)', native: '-', floor: '-', runsc: '-', tsvisor: goferMem.outcome() },
  };
}

interface OciFigures {
  readonly row: Row;
  readonly tsvisor: Outcome;
  readonly runsc: Outcome;
  readonly runc: Outcome;
  readonly crun: Outcome;
  readonly details: string;
  /** create + start + delete, as Docker and containerd call a runtime: ratio lines and details. */
  readonly lifecycle: { readonly summary: readonly string[]; readonly details: string };
}

/** How a runtime is called: its executable and the global flags before each command. */
interface OciRuntime {
  readonly name: string;
  readonly cmd: string;
  readonly global: readonly string[];
}

/** One container's create, start and delete, each timed; the wait for its exit between start and delete is not. */
interface LifecycleCollectors {
  readonly create: Collector;
  readonly start: Collector;
  readonly delete: Collector;
  readonly total: Collector;
}

/** The container's status from `state`, or why there is none. */
async function ociStatus(rt: OciRuntime, id: string): Promise<string> {
  const r = await run(rt.cmd, [...rt.global, 'state', id], { timeoutMs: P.timeoutMs, captureStdout: true });
  if (failure(r) !== null) return `state: ${failure(r)}`;
  try {
    return (JSON.parse(r.stdout) as { status: string }).status;
  } catch {
    return 'state: not JSON';
  }
}

/**
 * One create, start, (wait for /bin/true to end), delete: the path Docker and
 * containerd's shim take. Returns the three times, or why it failed (the
 * container is then deleted with --force, untimed).
 */
async function ociLifecycleOnce(rt: OciRuntime, bundle: string, id: string): Promise<{ create: number; start: number; delete: number } | string> {
  const o = { timeoutMs: P.timeoutMs };
  const step = async (args: readonly string[], detached = false): Promise<RunResult> =>
    run(rt.cmd, [...rt.global, ...args], detached ? { ...o, detachedOutput: true } : o);
  const fail = async (why: string): Promise<string> => {
    await step(['delete', '--force', id]);
    return why;
  };
  const c = await step(['create', '--bundle', bundle, id], true);
  if (failure(c) !== null) return fail(`create: ${failure(c)}`);
  const s = await step(['start', id]);
  if (failure(s) !== null) return fail(`start: ${failure(s)}`);
  const end = Date.now() + P.timeoutMs;
  for (let st = await ociStatus(rt, id); st !== 'stopped'; st = await ociStatus(rt, id)) {
    if (Date.now() > end) return fail(`still ${st} after start`);
    await new Promise<void>((r) => setTimeout(r, 10));
  }
  const d = await step(['delete', id]);
  if (failure(d) !== null) return fail(`delete: ${failure(d)}`);
  return { create: c.wallMs, start: s.wallMs, delete: d.wallMs };
}

// 5b: create + start + delete of the /bin/true bundle for tsvisor, runc and runsc.
async function figureOciLifecycle(runtimes: readonly OciRuntime[], bundle: string): Promise<OciFigures['lifecycle']> {
  const all = new Map<string, LifecycleCollectors>(runtimes.map((rt) => [rt.name, { create: new Collector(), start: new Collector(), delete: new Collector(), total: new Collector() }]));
  let seq = 0;
  for (const rt of runtimes) await ociLifecycleOnce(rt, bundle, `life-warm-${rt.name}`);
  for (let i = 0; i < P.oci.rounds; i++) {
    log(`OCI create, start, delete of /bin/true, round ${i + 1}/${P.oci.rounds}`);
    for (const rt of runtimes) {
      const c = all.get(rt.name)!;
      const r = await ociLifecycleOnce(rt, bundle, `life-${++seq}`);
      if (typeof r === 'string') {
        for (const k of [c.create, c.start, c.delete, c.total]) k.fail(r);
        continue;
      }
      c.create.values.push(r.create);
      c.start.values.push(r.start);
      c.delete.values.push(r.delete);
      c.total.values.push(r.create + r.start + r.delete);
    }
  }
  const outcomes = (pick: (c: LifecycleCollectors) => Collector): [string, Outcome][] =>
    runtimes.map((rt) => [rt.name, pick(all.get(rt.name)!).outcome()]);
  const total = new Map(outcomes((c) => c.total));
  const ratio = (peer: string): string[] => total.has(peer) ? [renderRatio(`tsvisor / ${peer}`, total.get('tsvisor')!, total.get(peer)!)] : [];
  return {
    summary: ['`create` + `start` + `delete` of the same bundle, as Docker and containerd call a runtime (the wait for the exit is not counted):', ...ratio('runsc'), ...ratio('runc')],
    details: [
      renderNamedDetails('OCI create + start + delete, /bin/true (ms)', outcomes((c) => c.total)),
      renderNamedDetails('  of which create (ms)', outcomes((c) => c.create)),
      renderNamedDetails('  of which start (ms)', outcomes((c) => c.start)),
      renderNamedDetails('  of which delete (ms)', outcomes((c) => c.delete)),
    ].join('\n'),
  };
}

const OCI_PEERS = { runc: '/usr/sbin/runc', crun: '/usr/bin/crun' } as const;

/**
 * A busybox bundle (busybox-static, `--install -s`) whose process is
 * /bin/true, from `tsvisor spec`, for every runtime alike; or why not.
 */
function ociBundle(dir: string): string | { error: string } {
  const rootfs = path.join(dir, 'rootfs');
  if (!fs.existsSync('/bin/busybox')) return { error: '/bin/busybox missing (busybox-static)' };
  for (const d of ['bin', 'dev', 'proc', 'sys', 'etc', 'tmp', 'root']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  const inst = spawnSync('chroot', [rootfs, '/bin/busybox', '--install', '-s', '/bin'], { encoding: 'utf8' });
  if (inst.status !== 0) return { error: `busybox --install: ${inst.stderr}` };
  const spec = spawnSync(process.execPath, [CLI_MAIN, 'spec', '--bundle', dir], { encoding: 'utf8' });
  if (spec.status !== 0) return { error: `tsvisor spec: ${spec.stderr}` };
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as { ociVersion: string; process: { terminal: boolean; args: string[] }; root: { path: string } };
  // crun 1.8 knows versions up to 1.0.x only; runc, runsc and tsvisor take it too.
  c.ociVersion = '1.0.2';
  c.process.terminal = false;
  c.process.args = ['/bin/true'];
  c.root.path = 'rootfs';
  fs.writeFileSync(file, JSON.stringify(c));
  return dir;
}

// 5: `<runtime> run` of /bin/true on a busybox bundle, spawn to exit, for
// tsvisor and its peers as OCI runtimes: runc and crun (no sandbox) and runsc.
async function figureOci(b: Built, runsc: RunscProbe): Promise<OciFigures> {
  const label = 'OCI run, /bin/true, busybox bundle (ms)';
  const bundle = ociBundle(path.join(b.dir, 'oci-bundle'));
  const roots = path.join(b.dir, 'oci-roots');
  const o = { timeoutMs: P.timeoutMs };
  const tsv = new Collector();
  const runc = new Collector();
  const crun = new Collector();
  const rs = new Collector();
  let seq = 0;
  type Config = { c: Collector; name: string; go: (id: string) => Promise<RunResult> };
  const configs: Config[] = [];
  if (typeof bundle === 'string') {
    configs.push({ c: tsv, name: 'tsvisor', go: (id) => run(FRONT_END, ['--root', path.join(roots, 'tsvisor'), 'run', '--bundle', bundle, id], o) });
    if (fs.existsSync(OCI_PEERS.runc)) configs.push({ c: runc, name: 'runc', go: (id) => run(OCI_PEERS.runc, ['--root', path.join(roots, 'runc'), 'run', '--bundle', bundle, id], o) });
    // crun 1.8 refuses the hybrid cgroup layout: it runs in a private mount
    // namespace without /sys/fs/cgroup/unified (CLIENTS.md); the host's own
    // mounts are never touched. unshare and sh add a few ms to its figure.
    if (fs.existsSync(OCI_PEERS.crun)) {
      configs.push({
        c: crun, name: 'crun', go: (id) => run('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
          'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$0" --root "$1" run --bundle "$2" "$3"', OCI_PEERS.crun, path.join(roots, 'crun'), bundle, id], o),
      });
    }
    if (runsc.ok) configs.push({ c: rs, name: 'runsc', go: (id) => run(RUNSC, ['--root', path.join(roots, 'runsc'), ...runsc.flags, 'run', '--bundle', bundle, id], o) });
    log('OCI run, warm-up');
    for (const k of configs) await k.go(`bench-${++seq}`);
    for (let i = 0; i < P.oci.rounds; i++) {
      log(`OCI run of /bin/true, round ${i + 1}/${P.oci.rounds}`);
      for (const k of configs) {
        const r = await k.go(`bench-${++seq}`);
        const why = failure(r);
        if (why !== null) k.c.fail(why);
        else k.c.values.push(r.wallMs);
      }
    }
    for (const k of configs) k.c.notes.push(`${P.oci.rounds} runs, \`${k.name} run\` spawn to exit`);
  }
  const lifecycleRuntimes: OciRuntime[] = [{ name: 'tsvisor', cmd: FRONT_END, global: ['--root', path.join(roots, 'tsvisor')] }];
  if (fs.existsSync(OCI_PEERS.runc)) lifecycleRuntimes.push({ name: 'runc', cmd: OCI_PEERS.runc, global: ['--root', path.join(roots, 'runc')] });
  if (runsc.ok) lifecycleRuntimes.push({ name: 'runsc', cmd: RUNSC, global: ['--root', path.join(roots, 'runsc'), ...runsc.flags] });
  const lifecycle = typeof bundle === 'string'
    ? await figureOciLifecycle(lifecycleRuntimes, bundle)
    : { summary: [`create + start + delete: ${bundle.error}`], details: '' };
  const outcome = (c: Collector, name: keyof typeof OCI_PEERS | 'tsvisor' | 'runsc'): Outcome => {
    if (typeof bundle !== 'string') return failed(bundle.error);
    if (name === 'runsc' && !runsc.ok) return failed(runsc.reason);
    if (name !== 'tsvisor' && name !== 'runsc' && !fs.existsSync(OCI_PEERS[name])) return failed(`${OCI_PEERS[name]} not installed`);
    return c.outcome();
  };
  const tsvO = outcome(tsv, 'tsvisor');
  const runcO = outcome(runc, 'runc');
  const crunO = outcome(crun, 'crun');
  const rsO = outcome(rs, 'runsc');
  return {
    row: { label, native: '-', floor: '-', runsc: rsO, tsvisor: tsvO },
    tsvisor: tsvO,
    runsc: rsO,
    runc: runcO,
    crun: crunO,
    details: renderNamedDetails(label, [['runc', runcO], ['crun', crunO], ['runsc', rsO], ['tsvisor', tsvO]]),
    lifecycle,
  };
}

/** The OCI start figures against the other runtimes, as the report prints them. */
function ociSummary(oci: OciFigures): string[] {
  return [
    'tsvisor as an OCI runtime, `run` of /bin/true on a busybox bundle, against the other runtimes (issue 6: beat runsc):',
    renderRatio('tsvisor run / runsc run (goal: below 1.00x)', oci.tsvisor, oci.runsc),
    renderRatio('tsvisor run / crun run (crun in a private mount namespace, via unshare and sh)', oci.tsvisor, oci.crun),
    renderRatio('tsvisor run / runc run', oci.tsvisor, oci.runc),
    ...oci.lifecycle.summary,
  ];
}

/** `--only oci`: the OCI start figures alone (about a minute), as the whole bench prints them. */
async function ociOnly(t0: number, built: Built): Promise<number> {
  log('looking for a working runsc command line');
  const runsc = fs.existsSync(RUNSC) ? await findRunscFlags() : { ok: false as const, reason: `${RUNSC} not installed` };
  const oci = await figureOci(built, runsc);
  process.stdout.write([
    '',
    `tsvisor bench --only oci: Linux ${os.release()} ${os.arch()}, ${os.cpus().length} CPUs, node ${process.version}`,
    '',
    ...ociSummary(oci),
    '',
    oci.details,
    oci.lifecycle.details,
    `bench took ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    '',
  ].join('\n'));
  return 0;
}

async function main(): Promise<number> {
  const t0 = Date.now();
  if (!fs.existsSync(CLI_MAIN)) {
    process.stderr.write(`bench: ${CLI_MAIN} is missing: run npm run build first\n`);
    return 1;
  }
  if (!fs.existsSync(FRONT_END)) {
    process.stderr.write(`bench: ${FRONT_END} leads to no executable: run npm ci (node-gyp builds it)\n`);
    return 1;
  }
  const argv = process.argv.slice(2);
  const only = argv[0] === '--only' ? argv[1] : undefined;
  if ((argv.length > 0 && only !== 'net' && only !== 'oci') || (only !== undefined && argv.length !== 2)) {
    process.stderr.write('usage: node dist/bench/run.js [--only net|oci]\n');
    return 2;
  }
  log(`compiling ${C_SRC}/*.c with gcc -O2`);
  let built: Built;
  try {
    built = compileAll(C_SRC, path.join(here, '.bin'));
  } catch (err) {
    // Without its programs there is nothing to measure: that is a broken
    // bench, not a slow sandbox, so it is the one non-zero exit.
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  if (only === 'net' || only === 'oci') {
    try {
      return await (only === 'net' ? netOnly(t0, built.dir) : ociOnly(t0, built));
    } finally {
      fs.rmSync(built.dir, { recursive: true, force: true });
    }
  }
  const rows: Row[] = [];
  let net: NetFigures;
  let runsc: RunscProbe;
  let g: GetppidFigures;
  let oci: OciFigures;
  try {
    log('looking for a working runsc command line');
    runsc = fs.existsSync(RUNSC) ? await findRunscFlags() : { ok: false, reason: `${RUNSC} not installed` };
    log('asking tsvisor for its ptrace platform');
    const tsvPtrace = await probeTsvisorPtrace();
    g = await figureGetppid(built, runsc, tsvPtrace);
    const open = await figureOpen(built);
    const s = await figureStart(built, runsc);
    oci = await figureOci(built, runsc);
    net = await figureNet(built.dir, sandboxes(runsc, tsvPtrace));
    rows.push(g.time, open, s.time, oci.row, s.memory, g.memory, s.gofer);
    rows.push(...net.rows);
  } finally {
    fs.rmSync(built.dir, { recursive: true, force: true });
  }

  const out = [
    '',
    `tsvisor bench: Linux ${os.release()} ${os.arch()}, ${os.cpus().length} CPUs, node ${process.version}`,
    'native = the program alone; C floor = bench/c/notify_floor.c (seccomp notify, blocking RECV/SEND, sync wake-up);',
    'ptrace C floor = bench/c/ptrace_floor.c (seccomp RET_TRACE, skip the call at the stop); runsc = its ptrace platform;',
    'tsvisor = bin/tsvisor-runtime do (the front end, which execs node on dist/bundle/main.cjs); ratios are of medians; "-" = not measured by design;',
    'n/a = every run failed, * = some runs failed and are left out (reasons below);',
    'the network rows (Gbit/s, req/s) are the one place where higher is better',
    '',
    renderTable(rows),
    '',
    'the trapped-syscall round trip on both trap mechanisms; x floor = against the C floor of the same mechanism:',
    renderMechanisms(g.native, g.mechanisms),
    g.ptraceVsRunsc,
    '',
    ...ociSummary(oci),
    '',
    ...net.summary,
    '',
    'details (min / median / max over all repetitions):',
    renderDetails(rows),
    renderMechanismDetails(g.native, g.mechanisms),
    oci.details,
    oci.lifecycle.details,
    '',
    runsc.ok ? `runsc: ${RUNSC} ${runsc.flags.join(' ')} do ...` : `runsc: unavailable (${runsc.reason})`,
    `bench took ${((Date.now() - t0) / 1000).toFixed(1)} s`,
    '',
  ];
  process.stdout.write(out.join('\n'));
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    process.stderr.write(`bench: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  },
);
