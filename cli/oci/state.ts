// Container ids and the state directory of the OCI commands.
//
// Layout under the root (`--root`, default /run/tsvisor):
//
//   <root>/<id>/state.json   the container's record, replaced atomically
//   <root>/@locks/<id>       the container's lock file (flock)
//
// Clients change global flags between calls for one container (issue 6), so
// nothing here depends on anything but the root and the id. `@` cannot occur
// in an id, so the lock folder can never be mistaken for a container.
//
// Every command that reads and then changes a container holds its lock for
// the whole of it, so `kill` and `delete --force` racing on one id (as
// containerd's shim does) happen one after the other. The lock file lives
// outside the container's folder so that `delete` can remove the folder while
// holding it, and lock() checks after each flock that the file it locked is
// still the one at that name: a delete may have unlinked it meanwhile.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../../native/index.js';
import { CommandError } from '../usage.js';
import { OCI_VERSION, parseState, SpecError, type State } from './spec.js';

export const DEFAULT_ROOT = '/run/tsvisor';

/**
 * runc's rule, `^[\w+-\.]+$`: in that character class `+-\.` is the range
 * from '+' to '.', so a comma is allowed too. "." and ".." are refused (they
 * would name the root or its parent).
 */
const ID_RE = /^[\w+,\-.]+$/;
/** NAME_MAX: the id is a file name under the root. */
export const ID_MAX = 255;

/** Why `id` cannot be a container id, or undefined when it can. */
export function idError(id: string): string | undefined {
  if (id === '') return 'container id cannot be empty';
  if (id.length > ID_MAX) return `container id is longer than ${ID_MAX} bytes`;
  if (!ID_RE.test(id) || id === '.' || id === '..') return `invalid id format: ${id}`;
  return undefined;
}

export function checkId(id: string): void {
  const err = idError(id);
  if (err !== undefined) throw new CommandError(err);
}

/**
 * A container as tsvisor records it: the OCI state plus what later commands
 * need to find the sandbox again. `state.status` is the last recorded one:
 * `state` and `list` must check that the sandbox is still alive.
 */
export interface ContainerRecord {
  state: State;
  /** When `create` began, RFC 3339 (for `list`). */
  created: string;
  /** The sandbox's supervisor (tsvisor's node process), which owns the control socket. */
  sandboxPid?: number;
  /**
   * That process's start time (field 22 of /proc/PID/stat), so that a pid
   * reused by another process after the sandbox died is not taken for it.
   */
  sandboxStartTime?: number;
  /** Host pids of the sandbox's init (its pid 1) and of the program's process, with the program's start time. */
  initPid?: number;
  programPid?: number;
  programStartTime?: number;
  /** The program's exit status (128 + signal when killed), once stopped. */
  exitStatus?: number;
  /** The container's cgroups by controller, all made by tsvisor (see ociCgroupDir). */
  cgroups?: Partial<Record<CgroupController, string>>;
}

/** The controllers a container may have a cgroup of. */
export const CGROUP_CONTROLLERS = ['memory', 'pids', 'freezer', 'cpu'] as const;
export type CgroupController = (typeof CGROUP_CONTROLLERS)[number];

/**
 * Only a cgroup right below <controller>/tsvisor/ (cgroup v1) or tsvisor/
 * (cgroup v2, every controller's) is one tsvisor made: nothing else is ever
 * written or removed.
 */
export function isTsvisorCgroup(controller: CgroupController, dir: string): boolean {
  const below = (parent: string): boolean => dir.startsWith(parent) && !dir.slice(parent.length).includes('/') && !['', '.', '..'].includes(dir.slice(parent.length));
  return below(`/sys/fs/cgroup/${controller}/tsvisor/`) || below('/sys/fs/cgroup/tsvisor/');
}

export class StateDir {
  readonly root: string;

  constructor(root: string = DEFAULT_ROOT) {
    // Relative roots would change meaning with the caller's directory, and
    // clients call from different ones.
    this.root = path.resolve(root);
  }

  containerDir(id: string): string {
    checkId(id);
    return path.join(this.root, id);
  }

  stateFile(id: string): string {
    return path.join(this.containerDir(id), 'state.json');
  }

  lockFile(id: string): string {
    checkId(id);
    return path.join(this.root, '@locks', id);
  }

  /** Makes the root (0711, as runc's: others may reach what they know the name of). */
  ensureRoot(): void {
    try {
      fs.mkdirSync(this.root, { recursive: true, mode: 0o711 });
    } catch (e) {
      throw new CommandError(`cannot create the state root ${this.root}: ${errText(e)}`);
    }
  }

  /**
   * Makes a new container's folder; an existing one is an error with runc's
   * message. Call with the id's lock held.
   */
  createContainerDir(id: string): string {
    this.ensureRoot();
    const dir = this.containerDir(id);
    try {
      fs.mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if (errCode(e) === 'EEXIST') throw new CommandError(`container with id exists: ${id}`);
      throw new CommandError(`cannot create ${dir}: ${errText(e)}`);
    }
    return dir;
  }

  /**
   * Replaces the record: written to a temporary file in the same folder,
   * then renamed over state.json, so a reader sees the old record or the new
   * one, never part of one, even if tsvisor dies half way. Not fsynced, as
   * runc's is not: the state describes processes, which a machine crash
   * ends too (and --root is usually a tmpfs under /run).
   */
  write(record: ContainerRecord): void {
    const file = this.stateFile(record.state.id);
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    let fd: number | undefined;
    try {
      fd = fs.openSync(tmp, 'wx', 0o600);
      fs.writeSync(fd, JSON.stringify(record) + '\n');
      fs.closeSync(fd);
      fd = undefined;
      fs.renameSync(tmp, file);
    } catch (e) {
      if (fd !== undefined) fs.closeSync(fd);
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        // The folder itself is gone or unusable: the write's error says why.
      }
      throw new CommandError(`cannot write ${file}: ${errText(e)}`);
    }
  }

  /** The record of `id`, or undefined when there is no such container. */
  read(id: string): ContainerRecord | undefined {
    const file = this.stateFile(id);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if (errCode(e) === 'ENOENT') return undefined;
      throw new CommandError(`cannot read ${file}: ${errText(e)}`);
    }
    const rec = parseRecord(text, id);
    if (rec instanceof SpecError) throw new CommandError(`${file} is corrupt: ${rec.message}`);
    return rec;
  }

  /** Like read, with runc's message for a missing container ("does not exist" is what clients look for). */
  get(id: string): ContainerRecord {
    const rec = this.read(id);
    if (rec === undefined) throw new CommandError(`container "${id}" does not exist`);
    return rec;
  }

  /**
   * Every container under the root, by id. A folder without a readable
   * record is one being created or deleted right now: skipped, not an error.
   */
  list(): ContainerRecord[] {
    let names: string[];
    try {
      names = fs.readdirSync(this.root);
    } catch (e) {
      if (errCode(e) === 'ENOENT') return [];
      throw new CommandError(`cannot list ${this.root}: ${errText(e)}`);
    }
    const out: ContainerRecord[] = [];
    for (const name of names.sort()) {
      if (idError(name) !== undefined) continue;
      try {
        const rec = this.read(name);
        if (rec !== undefined) out.push(rec);
      } catch {
        // A corrupt record shows in `state ID`, which names the file; a list
        // goes on with the others.
      }
    }
    return out;
  }

  /** Removes the container's folder. Call with the id's lock held, then lock.remove(). */
  removeContainerDir(id: string): void {
    const dir = this.containerDir(id);
    try {
      fs.rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      throw new CommandError(`cannot remove ${dir}: ${errText(e)}`);
    }
  }

  /**
   * Takes the id's lock, waiting for another command that holds it (or, with
   * wait false, failing at once with "busy").
   */
  lock(id: string, opts: { wait?: boolean } = {}): ContainerLock {
    const file = this.lockFile(id);
    try {
      fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new CommandError(`cannot create ${path.dirname(file)}: ${errText(e)}`);
    }
    const wait = opts.wait ?? true;
    for (;;) {
      let fd: number;
      try {
        fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
      } catch (e) {
        throw new CommandError(`cannot open the lock ${file}: ${errText(e)}`);
      }
      const err = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB));
      if (err !== 0) {
        fs.closeSync(fd);
        if (err === EWOULDBLOCK) throw new CommandError(`container "${id}" is busy: another tsvisor command holds it`);
        throw new CommandError(`cannot lock ${file}: errno ${err}`);
      }
      // The holder before us may have deleted the container and unlinked
      // this file: then our lock guards nothing, and the next one to open
      // the name would lock another file. Start again on the current name.
      const mine = fs.fstatSync(fd);
      let now: fs.Stats | undefined;
      try {
        now = fs.statSync(file);
      } catch (e) {
        if (errCode(e) !== 'ENOENT') {
          fs.closeSync(fd);
          throw new CommandError(`cannot stat the lock ${file}: ${errText(e)}`);
        }
      }
      if (now !== undefined && now.ino === mine.ino && now.dev === mine.dev) return new ContainerLock(fd, file, this.containerDir(id));
      fs.closeSync(fd);
    }
  }
}

/** A held container lock: release() it, or remove() it when the container is gone. */
export class ContainerLock {
  private open = true;

  constructor(private readonly fd: number, readonly file: string, private readonly containerDir: string) {}

  release(): void {
    if (!this.open) return;
    this.open = false;
    fs.closeSync(this.fd);
  }

  /**
   * release(), or remove() when there is no such container: a command on an
   * unknown or already deleted id (clients' cleanups send those) leaves no
   * lock file behind under the root.
   */
  done(): void {
    if (fs.existsSync(this.containerDir)) this.release();
    else this.remove();
  }

  /** Unlinks the lock file while still holding it (see lock()), then releases it. */
  remove(): void {
    if (!this.open) return;
    fs.rmSync(this.file, { force: true });
    this.release();
  }
}

/** A new container's record in the `creating` state. */
export function newRecord(id: string, bundle: string, annotations: Record<string, string>): ContainerRecord {
  const state: State = { ociVersion: OCI_VERSION, id, status: 'creating', bundle: path.resolve(bundle) };
  if (Object.keys(annotations).length > 0) state.annotations = annotations;
  return { state, created: new Date().toISOString() };
}

function parseRecord(text: string, id: string): ContainerRecord | SpecError {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return new SpecError('', `not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return new SpecError('', 'not an object');
  const o = json as Record<string, unknown>;
  const state = parseState(o.state);
  if (state instanceof SpecError) return new SpecError(`state.${state.field}`, state.reason);
  if (state.id !== id) return new SpecError('state.id', `'${state.id}' is not the folder's id '${id}'`);
  if (typeof o.created !== 'string') return new SpecError('created', 'not a string');
  const rec: ContainerRecord = { state, created: o.created };
  const cgroups = parseCgroups(o.cgroups);
  if (cgroups instanceof SpecError) return cgroups;
  if (cgroups !== undefined) rec.cgroups = cgroups;
  for (const k of ['sandboxPid', 'sandboxStartTime', 'initPid', 'programPid', 'programStartTime', 'exitStatus'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) return new SpecError(k, 'not a non-negative integer');
    rec[k] = v;
  }
  return rec;
}

function parseCgroups(v: unknown): ContainerRecord['cgroups'] | SpecError {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return new SpecError('cgroups', 'not an object');
  const out: Partial<Record<CgroupController, string>> = {};
  for (const [k, dir] of Object.entries(v)) {
    const c = CGROUP_CONTROLLERS.find((x) => x === k);
    if (c === undefined || typeof dir !== 'string' || !isTsvisorCgroup(c, dir)) return new SpecError(`cgroups.${k}`, 'not a cgroup tsvisor made');
    out[c] = dir;
  }
  return out;
}

// ---------------------------------------------------------------------------
// flock(2), which Node has not: the addon's (loaded in a millisecond, where
// koffi took ten at every command that locks).

const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;

/** 0, or the errno. */
function flock(fd: number, op: number): number {
  return -Math.min(0, native.flock(fd, op));
}

function errCode(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string' ? e.code : undefined;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
