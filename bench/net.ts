// The network figures (issue 7): loopback TCP throughput (iperf3) and HTTP
// requests per second (nginx serving a small static file, wrk as the load),
// each measured natively, inside runsc and inside tsvisor, in the same run,
// with server and client both inside one sandbox on its own loopback.
//
// Every measurement is one shell script run in an environment (`Env`): the
// same script natively (`/bin/sh -c`), under `runsc do` and under `tsvisor
// do`, so the three differ only in what runs the script. The one exception is
// the published-port row: the server in a `--network sandbox` sandbox, the
// client on the host through `-p`.
import fs from 'node:fs';
import path from 'node:path';
import { failure, run, type RunResult } from './proc.js';
import { RUNSC } from './runsc.js';
import { Collector, failed, type Outcome } from './stats.js';
import { renderRatio, type Cell, type Row } from './table.js';

/** The tools the network figures run, and the Debian packages they come from. */
const TOOLS = [
  { bin: '/usr/bin/iperf3', pkg: 'iperf3' },
  { bin: '/usr/sbin/nginx', pkg: 'nginx-light' },
  { bin: '/usr/bin/wrk', pkg: 'wrk' },
] as const;

const N = {
  rounds: 3,
  /** iperf3 -t and wrk -d. */
  seconds: 5,
  /** wrk -t1 -cCONNS: one load thread (2 vCPUs: the other is the server's). */
  conns: 16,
  /** The sandbox-side port of the published-port row. */
  sandboxPort: 5201,
  timeoutMs: 60_000,
} as const;

const log = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };

export interface Command {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** What the bench found out about the sandboxes before measuring. */
export interface Sandboxes {
  /** `tsvisor do <doArgs> -- <argv>`. */
  readonly tsvisor: (doArgs: readonly string[], argv: readonly string[]) => Command;
  /** runsc's working flags (its ptrace platform, --network=none), or why there are none. */
  readonly runsc: { readonly ok: true; readonly flags: readonly string[] } | { readonly ok: false; readonly reason: string };
  /** Whether tsvisor's ptrace platform is built, or why not. */
  readonly ptrace: { readonly ok: true } | { readonly ok: false; readonly reason: string };
}

/** A place to run a shell script. */
interface Env {
  readonly name: string;
  readonly c: Collector;
  readonly sh: (script: string) => Command;
}

export interface NetFigures {
  readonly rows: readonly Row[];
  /** The closing note: issue 7's ratios. */
  readonly summary: readonly string[];
}

function missingTools(): string | null {
  const missing = TOOLS.filter((t) => !fs.existsSync(t.bin));
  if (missing.length === 0) return null;
  return `missing tool(s) ${missing.map((t) => t.bin).join(', ')}: apt-get install ${missing.map((t) => t.pkg).join(' ')}`;
}

/** A port for the native runs (they share the host's namespace); sandboxes have their own. */
function pickPort(): number {
  return 20_000 + Math.floor(Math.random() * 20_000);
}

function exec(c: Command, opts: { onStdout?: (chunk: string) => void; onSpawn?: (pid: number) => void } = {}): Promise<RunResult> {
  return run(c.cmd, c.args, { timeoutMs: N.timeoutMs, captureStdout: true, ...(c.env ? { env: c.env } : {}), ...opts });
}

// ---- throughput: iperf3 ----

/**
 * iperf3's server in the background, its client against it on 127.0.0.1,
 * the client's JSON on stdout. The client retries while the server is not
 * listening yet (a refused connection does not use up the server's -1).
 */
function iperfScript(port: number): string {
  return [
    `iperf3 -s -1 -p ${port} >/dev/null 2>&1 & s=$!`,
    'i=0',
    'while :; do',
    `  out=$(iperf3 -c 127.0.0.1 -p ${port} -t ${N.seconds} -J 2>&1)`,
    '  case "$out" in',
    `    ''|*'"error"'*) i=$((i+1)); if [ $i -ge 50 ]; then printf '%s\\n' "$out"; kill $s 2>/dev/null; wait $s; exit 1; fi; sleep 0.1 ;;`,
    `    *) printf '%s\\n' "$out"; wait $s; exit 0 ;;`,
    '  esac',
    'done',
  ].join('\n');
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null;
}

/** Gbit/s received, from iperf3 -J, or why there is none. */
export function parseIperf(stdout: string): number | string {
  let j: unknown;
  try {
    j = JSON.parse(stdout);
  } catch {
    return `iperf3 printed no JSON: ${stdout.trim().split('\n').pop()?.slice(0, 120) ?? ''}`;
  }
  if (!isRecord(j)) return 'iperf3 JSON is not an object';
  if (typeof j.error === 'string') return `iperf3: ${j.error}`;
  const end = j.end;
  const sum = isRecord(end) ? end.sum_received : undefined;
  const bps = isRecord(sum) ? sum.bits_per_second : undefined;
  return typeof bps === 'number' && bps > 0 ? bps / 1e9 : 'iperf3 JSON has no end.sum_received.bits_per_second';
}

function collectWith(c: Collector, r: RunResult, parse: (stdout: string) => number | string): void {
  const value = parse(r.stdout);
  const why = failure(r);
  if (typeof value === 'number' && why === null) c.values.push(value);
  else c.fail(why ?? (typeof value === 'string' ? value : 'no figure'));
}

/**
 * The published-port row: iperf3's server in a `--network sandbox` sandbox
 * with `-p 127.0.0.1:HOSTPORT:5201`, the client on the host against
 * 127.0.0.1:HOSTPORT (tsvisor's forwarder on its main thread carries it:
 * connections the host makes itself never pass the kernel's DNAT).
 */
async function publishedRound(s: Sandboxes, c: Collector): Promise<void> {
  const hostPort = pickPort();
  let ready: () => void = () => {};
  const listening = new Promise<void>((resolve) => { ready = resolve; });
  let seen = '';
  let pid: number | undefined;
  const server = exec(
    s.tsvisor(['--network', 'sandbox', '-p', `127.0.0.1:${hostPort}:${N.sandboxPort}`],
      ['iperf3', '-s', '-1', '-p', String(N.sandboxPort), '--forceflush']),
    {
      onSpawn: (p) => { pid = p; },
      onStdout: (d) => { seen += d; if (seen.includes('Server listening')) ready(); },
    },
  );
  const first = await Promise.race([listening.then(() => null), server]);
  if (first !== null) {
    c.fail(`the server ended before listening: ${failure(first) ?? 'exit 0'}`);
    return;
  }
  const client = await run('/usr/bin/iperf3', ['-c', '127.0.0.1', '-p', String(hostPort), '-t', String(N.seconds), '-J'],
    { timeoutMs: N.timeoutMs, captureStdout: true });
  const value = parseIperf(client.stdout);
  // A client that never got through leaves the -1 server waiting: end it
  // (SIGTERM, so that tsvisor removes its veth pair and nftables table).
  if (typeof value !== 'number' && pid !== undefined) {
    try { process.kill(pid, 'SIGTERM'); } catch { /* already gone */ }
  }
  const sr = await server;
  if (typeof value !== 'number') c.fail(value);
  else if (failure(client) !== null) c.fail(`client: ${failure(client)}`);
  else if (failure(sr) !== null) c.fail(`server: ${failure(sr)}`);
  else c.values.push(value);
}

// ---- requests per second: nginx + wrk ----

const INDEX = `<!DOCTYPE html>\n<html><head><title>tsvisor bench</title></head>\n<body>\n${'<p>tsvisor network bench: a small static file.</p>\n'.repeat(11)}</body></html>\n`;

/** One worker, no access log, a small file; with `cache`, nginx keeps the file's fd open across requests. */
function nginxConf(dir: string, port: number, cache: boolean): string {
  return [
    'worker_processes 1;',
    `pid ${dir}/nginx.pid;`,
    `error_log ${dir}/error.log warn;`,
    'events { worker_connections 256; }',
    'http {',
    '  access_log off;',
    ...(cache ? ['  open_file_cache max=64 inactive=60s;', '  open_file_cache_valid 60s;'] : []),
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${dir}/${t}_temp;`),
    `  server { listen 127.0.0.1:${port}; root ${dir}; }`,
    '}',
    '',
  ].join('\n');
}

/**
 * nginx in the foreground of a background job (so the script is its parent
 * and can wait for it), ready once it has written its pid file (after its
 * listening socket is bound), then wrk from the same place.
 */
function nginxScript(dir: string, conf: string, port: number): string {
  const pidFile = `${dir}/nginx.pid`;
  return [
    `rm -f ${pidFile}`,
    `nginx -c ${conf} -e ${dir}/error.log -g 'daemon off;' & n=$!`,
    'i=0',
    `while [ ! -s ${pidFile} ]; do`,
    `  i=$((i+1)); if [ $i -ge 250 ]; then echo 'nginx did not start' >&2; cat ${dir}/error.log >&2; kill $n 2>/dev/null; exit 1; fi`,
    '  sleep 0.02',
    'done',
    `wrk -t1 -c${N.conns} -d${N.seconds}s http://127.0.0.1:${port}/index.html; r=$?`,
    'kill $n; wait $n',
    'exit $r',
  ].join('\n');
}

/** Requests/s from wrk's report, or why there is none. */
export function parseWrk(stdout: string): number | string {
  const bad = stdout.match(/Non-2xx or 3xx responses:\s+(\d+)/);
  if (bad) return `wrk: ${bad[1]} non-2xx/3xx responses`;
  const m = stdout.match(/^Requests\/sec:\s+([0-9.]+)/m);
  if (!m) return `wrk printed no Requests/sec: ${stdout.trim().split('\n').pop()?.slice(0, 120) ?? ''}`;
  const v = Number(m[1]);
  return v > 0 ? v : 'wrk: 0 requests/sec';
}

// ---- the figures ----

export async function figureNet(benchDir: string, s: Sandboxes): Promise<NetFigures> {
  const labels = {
    tput: 'TCP loopback, iperf3 (Gbit/s)',
    tputPtrace: 'TCP loopback, iperf3, ptrace (Gbit/s)',
    tputPub: 'TCP host to -p port, iperf3 (Gbit/s)',
    http: 'HTTP nginx+wrk (req/s)',
    httpCache: 'HTTP nginx+wrk, open_file_cache (req/s)',
  };
  const missing = missingTools();
  if (missing !== null) {
    const f = failed(missing);
    const row = (label: string): Row => ({ label, native: f, floor: '-', runsc: f, tsvisor: f });
    return { rows: Object.values(labels).map(row), summary: [`network figures: ${missing}`] };
  }

  // The worker processes nginx starts as root drop to an unprivileged user,
  // which must reach the file: the bench dir is mkdtemp's 0700.
  fs.chmodSync(benchDir, 0o755);
  const dir = path.join(benchDir, 'net');
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'index.html'), INDEX, { mode: 0o644 });

  const mk = (name: string, sh: (script: string) => Command): Env => ({ name, c: new Collector(), sh });
  const shIn = (doArgs: readonly string[]) => (script: string): Command => s.tsvisor(doArgs, ['/bin/sh', '-c', script]);
  const envs = {
    native: mk('native', (script) => ({ cmd: '/bin/sh', args: ['-c', script] })),
    runsc: s.runsc.ok ? mk('runsc', (script) => ({ cmd: RUNSC, args: [...(s.runsc.ok ? s.runsc.flags : []), 'do', '/bin/sh', '-c', script] })) : null,
    tsvisor: mk('tsvisor', shIn([])),
    ptrace: s.ptrace.ok ? mk('tsvisor ptrace', shIn(['--platform', 'ptrace'])) : null,
  };
  const loopEnvs = [envs.native, envs.runsc, envs.tsvisor, envs.ptrace].filter((e): e is Env => e !== null);
  const httpEnvs = [envs.native, envs.runsc, envs.tsvisor].filter((e): e is Env => e !== null);
  const published = new Collector();
  const http = { plain: new Map<Env, Collector>(), cache: new Map<Env, Collector>() };
  for (const e of httpEnvs) { http.plain.set(e, new Collector()); http.cache.set(e, new Collector()); }

  for (let i = 0; i < N.rounds; i++) {
    // Each round runs every configuration in turn, so a noisy spell hits all alike.
    for (const e of loopEnvs) {
      log(`TCP loopback throughput (iperf3 -t ${N.seconds}), ${e.name}, round ${i + 1}/${N.rounds}`);
      collectWith(e.c, await exec(e.sh(iperfScript(pickPort()))), parseIperf);
    }
    log(`TCP throughput host to a published port, tsvisor --network sandbox, round ${i + 1}/${N.rounds}`);
    await publishedRound(s, published);
    for (const [kind, byEnv] of [['plain', http.plain], ['cache', http.cache]] as const) {
      const conf = path.join(dir, `nginx-${kind}.conf`);
      for (const e of httpEnvs) {
        const port = pickPort();
        fs.writeFileSync(conf, nginxConf(dir, port, kind === 'cache'));
        log(`HTTP requests/s (nginx${kind === 'cache' ? ' open_file_cache' : ''}, wrk -d${N.seconds}s), ${e.name}, round ${i + 1}/${N.rounds}`);
        const c = byEnv.get(e);
        if (c !== undefined) collectWith(c, await exec(e.sh(nginxScript(dir, conf, port))), parseWrk);
      }
    }
  }

  const each = `${N.rounds} runs`;
  for (const e of loopEnvs) e.c.notes.push(`iperf3 -s -1 and iperf3 -c 127.0.0.1 -t ${N.seconds}, 1 stream, both ${e.name === 'native' ? 'on the host' : `in one ${e.name} sandbox`}, received; ${each}`);
  published.notes.push(`iperf3 -s in do --network sandbox -p 127.0.0.1:H:${N.sandboxPort}, iperf3 -c 127.0.0.1:H on the host; ${each}`);
  for (const [e, c] of [...http.plain, ...http.cache]) {
    c.notes.push(`nginx (1 worker) and wrk -t1 -c${N.conns} -d${N.seconds}s, ${INDEX.length} B file, both ${e.name === 'native' ? 'on the host' : `in one ${e.name} sandbox`}; ${each}`);
  }

  const runscFailed = failed(s.runsc.ok ? 'no samples' : s.runsc.reason);
  const out = (e: Env | null, absent: Outcome): Outcome => (e === null ? absent : e.c.outcome());
  const nativeT = envs.native.c.outcome();
  const runscT = out(envs.runsc, runscFailed);
  const tsvT = envs.tsvisor.c.outcome();
  const ptraceT = out(envs.ptrace, failed(s.ptrace.ok ? 'no samples' : `platform not built: ${s.ptrace.reason}`));
  const httpOut = (m: Map<Env, Collector>, e: Env | null): Outcome => {
    const c = e === null ? undefined : m.get(e);
    return c === undefined ? runscFailed : c.outcome();
  };
  const httpRow = (label: string, m: Map<Env, Collector>): Row => ({
    label, native: httpOut(m, envs.native), floor: '-', runsc: httpOut(m, envs.runsc), tsvisor: httpOut(m, envs.tsvisor),
  });
  const rows: Row[] = [
    { label: labels.tput, native: nativeT, floor: '-', runsc: runscT, tsvisor: tsvT },
    // runsc's column is its ptrace platform (as everywhere here): like against like.
    { label: labels.tputPtrace, native: nativeT, floor: '-', runsc: runscT, tsvisor: ptraceT },
    // runsc do has no published ports; native is the host's loopback.
    { label: labels.tputPub, native: nativeT, floor: '-', runsc: '-', tsvisor: published.outcome() },
    httpRow(labels.http, http.plain),
    httpRow(labels.httpCache, http.cache),
  ];
  const [tput, , , plain, cache] = rows;
  const cell = (c: Cell | undefined): Outcome => (c === undefined || c === '-' ? failed('not measured') : c);
  const ratios = (what: string, r: Row | undefined, goal: string): string[] => [
    renderRatio(`${what}, tsvisor / native${goal}`, cell(r?.tsvisor), cell(r?.native)),
    renderRatio(`${what}, runsc / native`, cell(r?.runsc), cell(r?.native)),
    renderRatio(`${what}, tsvisor / runsc`, cell(r?.tsvisor), cell(r?.runsc)),
  ];
  return {
    rows,
    summary: [
      'issue 7, the network (higher is better; runsc = its ptrace platform, --network=none: netstack\'s loopback):',
      ...ratios('loopback TCP throughput', tput, ' (goal: at least 0.90x; gVisor: about 0.4x to 0.7x)'),
      ...ratios('HTTP requests/s, file opened per request', plain, ''),
      ...ratios('HTTP requests/s, open_file_cache', cache, ''),
    ],
  };
}
