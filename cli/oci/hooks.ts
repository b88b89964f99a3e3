// OCI hooks: programs the runtime runs at points of a container's life, each
// with the container's state JSON on its stdin. prestart, createRuntime,
// poststart and poststop run in the runtime's (the host's) namespaces.
// createContainer and startContainer run in the container's, entered by the
// launcher (native/launcher/hook.c: Node cannot setns a mount namespace):
//
// - createContainer: the sandbox's uts, ipc, net, cgroup and pid namespaces,
//   and the gofer's mount namespace, which is the container's before its
//   pivot_root (runc runs it at that point): the host's tree with the
//   container's root mounted in it, and the one the program's files come
//   from (the gofer serves them), so what the hook mounts there the program
//   sees. Its path resolves on the host, as the spec says.
// - startContainer: all the sandbox's namespaces, its user namespace too,
//   with the container's root as / (its path resolves there, as the spec says).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { LAUNCHER_PATH } from '../../native/paths.js';
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

/** The hooks that run in the container's namespaces, with where their mount namespace is taken from. */
const IN_CONTAINER: Partial<Record<HookName, 'gofer' | 'container'>> = { createContainer: 'gofer', startContainer: 'container' };

/**
 * The launcher's options that run a hook in the container's namespaces;
 * state.pid is the sandbox's pid 1 (hookState). null: the hook runs on the host.
 */
function launcherOptions(name: HookName, state: State): string[] | null {
  const place = IN_CONTAINER[name];
  if (place === undefined) return null;
  const init = state.pid;
  if (init === undefined || init <= 0) throw new CommandError(`hooks.${name}: the container has no process to take its namespaces from`);
  // The sandbox's launcher, pid 1's parent, joined the gofer's mount namespace to start it.
  const mntnsOf = place === 'gofer' ? parentPid(init) : init;
  if (mntnsOf === undefined) throw new CommandError(`hooks.${name}: the container's process ${init} is gone`);
  return ['hook', '--mntns-of', String(mntnsOf), '--ns-of', String(init), ...(place === 'container' ? ['--userns'] : []), '--'];
}

function parentPid(pid: number): number | undefined {
  try {
    const m = /\nPPid:\s*([0-9]+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs each hook in order; the first that fails (non-zero, killed, timed
 * out, or not runnable) stops the rest and is thrown, naming it.
 */
export function runHooks(name: HookName, hooks: readonly Hook[], state: State): void {
  if (hooks.length === 0) return;
  const inContainer = launcherOptions(name, state);
  hooks.forEach((h, i) => {
    const [argv0 = h.path, ...args] = h.args.length > 0 ? h.args : [h.path];
    // Through the launcher, which execs the hook's path as argv0 with args (hook.c).
    const r = spawnSync(inContainer ? LAUNCHER_PATH : h.path, inContainer ? [...inContainer, h.path, argv0, ...args] : args, {
      argv0: inContainer ? LAUNCHER_PATH : argv0,
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
