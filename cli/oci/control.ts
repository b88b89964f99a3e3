// The control socket of a container: how `start`, `exec` and `wait` reach
// the sandbox's daemon (cli/oci/daemon.ts). One connection per request, JSON
// lines both ways: the request, then one or more answers.
//
// The socket lives at <root>/@sockets/<hash of the id>: a unix socket path
// must fit in 108 bytes, and an id alone may be 255.
import { createHash } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { CommandError } from '../usage.js';

export function controlSocketPath(root: string, id: string): string {
  return path.join(root, '@sockets', createHash('sha256').update(id).digest('hex').slice(0, 24));
}

export type ControlRequest =
  | { readonly op: 'start' }
  | { readonly op: 'wait' }
  | { readonly op: 'exec'; readonly exec: ExecRequest };

/** A process to start in the running sandbox (see native/launcher/exec_helper.c). */
export interface ExecRequest {
  /** The `tsvisor exec` process whose fds 0..2 become the new process's stdio (taken with pidfd_getfd). */
  readonly callerPid: number;
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly uid: number;
  readonly gid: number;
  readonly groups: readonly number[];
  /** Its capabilities, as the launcher's --caps text (translate.ts capabilityMasks). */
  readonly caps: string;
  readonly tty: boolean;
  readonly consoleSocket?: string;
  readonly consoleSize?: { readonly rows: number; readonly cols: number };
}

export type ControlAnswer =
  | { readonly ok: true }
  | { readonly pid: number }
  | { readonly exit: number }
  | { readonly error: string };

/**
 * Sends one request and calls onAnswer for each answer line until it returns
 * true (done) or the daemon closes the connection. Resolves false when the
 * daemon is not there (no socket, or it refused).
 */
export function request(sock: string, req: ControlRequest, onAnswer: (a: ControlAnswer) => boolean): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(sock);
    let buf = '';
    let connected = false;
    let done = false;
    const finish = (v: boolean): void => {
      if (done) return;
      done = true;
      c.destroy();
      resolve(v);
    };
    c.on('connect', () => {
      connected = true;
      c.write(JSON.stringify(req) + '\n');
    });
    c.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (onAnswer(JSON.parse(line) as ControlAnswer)) return finish(true);
      }
    });
    c.on('error', () => finish(connected));
    c.on('close', () => finish(connected));
  });
}

/** One answer expected: ok, or the daemon's error as a CommandError. */
export async function requestOk(sock: string, req: ControlRequest, what: string): Promise<void> {
  let err: string | undefined;
  let ok = false;
  const reached = await request(sock, req, (a) => {
    if ('error' in a) err = a.error;
    else ok = true;
    return true;
  });
  if (!reached) throw new CommandError(`${what}: the container's sandbox does not answer (it has stopped)`);
  if (err !== undefined) throw new CommandError(`${what}: ${err}`);
  if (!ok) throw new CommandError(`${what}: the sandbox ended without an answer`);
}

/** Reads one JSON request line per connection and hands it, with a reply function, to the handler. */
export function serve(
  sock: string,
  handler: (req: ControlRequest, reply: (a: ControlAnswer) => void, closed: Promise<void>) => void,
): net.Server {
  const server = net.createServer((c) => {
    let buf = '';
    let handled = false;
    const closed = new Promise<void>((r) => c.on('close', () => r()));
    c.on('error', () => { /* the client went away: its answers are dropped */ });
    c.on('data', (d: Buffer) => {
      if (handled) return;
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      handled = true;
      let req: ControlRequest;
      try {
        req = JSON.parse(buf.slice(0, nl)) as ControlRequest;
      } catch {
        c.end(JSON.stringify({ error: 'bad request' }) + '\n');
        return;
      }
      handler(req, (a) => { if (!c.destroyed) c.write(JSON.stringify(a) + '\n'); }, closed);
    });
  });
  server.listen(sock);
  return server;
}
