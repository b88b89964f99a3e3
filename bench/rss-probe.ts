// Loaded into the tsvisor process with `node --import` by the memory figure:
// at exit it writes the process's peak RSS (VmHWM) to the file named by
// TSVISOR_BENCH_RSS_OUT. Reading it from inside at the 'exit' event sees the
// whole run up to the last moment, which polling from outside can miss; and
// the sentry is a worker thread of this same process, so this is its memory.
import fs from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const out = process.env['TSVISOR_BENCH_RSS_OUT'];
// Taken out before tsvisor reads its environment, so the sandboxed program
// and the sentry worker never see it.
delete process.env['TSVISOR_BENCH_RSS_OUT'];

if (isMainThread && out !== undefined) {
  process.on('exit', () => {
    const status = fs.readFileSync('/proc/self/status', 'utf8');
    const hwm = status.match(/^VmHWM:\s+(\d+) kB$/m)?.[1];
    if (hwm !== undefined) fs.writeFileSync(out, `${hwm}\n`);
  });
}
