// The gofer process: `node dist/gofer/main.js --root DIR --sock-fd N [--read-only]`.
// Serves the tree at DIR to the sentry at the other end of the SOCK_SEQPACKET
// socket N, and exits when the sentry goes away. It serves under its own
// seccomp filter (jail.ts), installed before the first request.
import { native } from '../native/index.js';
import { AT_FDCWD, O_DIRECTORY, O_PATH, S_IFMT, S_IFSOCK, STAT_SIZE } from '../sentry/abi/linux.js';
import * as host from './hostfs.js';
import { enterGoferJail } from './jail.js';
import { GoferServer } from './server.js';

interface GoferArgs {
  readonly root: string;
  readonly sockFd: number;
  readonly readOnly: boolean;
}

const USAGE = 'usage: tsvisor-gofer --root DIR --sock-fd N [--read-only]';

/** Parsed arguments, or the message explaining what is wrong with them. */
function parseArgs(argv: readonly string[]): GoferArgs | string {
  let root: string | undefined;
  let sockFd: number | undefined;
  let readOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    switch (arg) {
      case '--root':
      case '--sock-fd': {
        const value = argv[i + 1];
        if (value === undefined) return `${arg} needs a value`;
        i++;
        if (arg === '--root') {
          if (value.length === 0) return '--root must not be empty';
          root = value;
        } else {
          if (!/^[0-9]{1,9}$/.test(value)) return `--sock-fd: not an fd number: ${JSON.stringify(value)}`;
          sockFd = Number(value);
        }
        break;
      }
      case '--read-only':
        readOnly = true;
        break;
      default:
        return `unknown argument ${JSON.stringify(arg)}`;
    }
  }
  if (root === undefined) return '--root is required';
  if (sockFd === undefined) return '--sock-fd is required';
  return { root, sockFd, readOnly };
}

function fail(message: string): never {
  process.stderr.write(`tsvisor-gofer: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function main(): void {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') fail(args);

  const stat = new Uint8Array(STAT_SIZE);
  const r = native.fstatRaw(args.sockFd, stat);
  if (r < 0) fail(`--sock-fd ${args.sockFd}: not an open fd (errno ${-r})`);
  const mode = new DataView(stat.buffer).getUint32(24, true); // st_mode
  if ((mode & S_IFMT) !== S_IFSOCK) fail(`--sock-fd ${args.sockFd}: not a socket`);

  // The root is named by our trusted launcher, so this one lookup may follow
  // symlinks; everything after it is relative to the fd and trusts nothing.
  const rootPath = new host.CPath(Buffer.byteLength(args.root));
  rootPath.bytes.set(Buffer.from(args.root));
  const rootFd = host.openat2(AT_FDCWD, rootPath.bytes, O_PATH | O_DIRECTORY, 0, 0);
  if (rootFd < 0) fail(`--root ${args.root}: cannot open as a directory (errno ${-rootFd})`);

  // The sentry applies the task's umask to every mode it sends: ours must not apply a second one.
  process.umask(0);

  const server = new GoferServer({ rootFd, readOnly: args.readOnly });

  // Everything the gofer holds is ready (root fd, socket, koffi, the addon):
  // from here on it runs jailed, or not at all.
  const jailError = enterGoferJail();
  if (jailError !== undefined) {
    process.stderr.write(`tsvisor-gofer: ${jailError}: refusing to serve without the gofer's seccomp filter\n`);
    process.exit(1);
  }
  process.exit(server.serve(args.sockFd));
}

main();
