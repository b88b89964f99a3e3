// OCI hooks: programs the runtime runs at points of a container's life, each
// with the container's state JSON on its stdin. They run on the host, from
// the runtime's own namespaces (createContainer and startContainer are meant
// for the container's mount namespace; the sandbox's namespaces are those of
// its launcher's children, which a host program cannot enter safely here).
import { spawnSync } from 'node:child_process';
import { CommandError } from '../usage.js';
import type { Hook, HookName, State } from './spec.js';
import type { ContainerRecord } from './state.js';

/**
 * The state a hook reads on its stdin. Its pid is the sandbox's pid 1, which
 * lives in the container's namespaces, and not the daemon's (the state's
 * pid, which clients reap): hooks enter the namespaces of that pid. Docker's
 * prestart hook (libnetwork-setkey) sets up the network namespace of
 * /proc/<pid>/ns/net; given the daemon's, it set up the host's (it turned
 * IPv6 off on the host).
 */
export function hookState(rec: ContainerRecord, status?: State['status']): State {
  return { ...rec.state, ...(rec.initPid !== undefined ? { pid: rec.initPid } : {}), ...(status ? { status } : {}) };
}

/**
 * Runs each hook in order; the first that fails (non-zero, killed, timed
 * out, or not runnable) stops the rest and is thrown, naming it.
 */
export function runHooks(name: HookName, hooks: readonly Hook[], state: State): void {
  hooks.forEach((h, i) => {
    const [argv0, ...args] = h.args.length > 0 ? h.args : [h.path];
    const r = spawnSync(h.path, args, {
      argv0: argv0 ?? h.path,
      input: JSON.stringify(state),
      env: Object.fromEntries(h.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)])),
      stdio: ['pipe', 'inherit', 'pipe'],
      ...(h.timeout !== undefined ? { timeout: h.timeout * 1000 } : {}),
    });
    const what = `hooks.${name}[${i}] (${h.path})`;
    if (r.error) throw new CommandError(`${what}: ${r.error.message}`);
    if (r.signal) throw new CommandError(`${what}: killed by ${r.signal}${h.timeout !== undefined ? ' (timeout)' : ''}`);
    if (r.status !== 0) throw new CommandError(`${what}: exit status ${r.status}: ${r.stderr.toString().trim()}`);
  });
}

/** Runs hooks whose failure must not stop the runtime (poststart, poststop): warns instead. */
export function runHooksWarn(name: HookName, hooks: readonly Hook[], state: State): void {
  try {
    runHooks(name, hooks, state);
  } catch (e) {
    process.stderr.write(`tsvisor: warning: ${(e as Error).message}\n`);
  }
}
