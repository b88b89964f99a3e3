// The syscall table against the machine's own headers, the generated module
// against its .tbl source, the policy's invariants, the compatibility report, and
// the rule that no syscall number is written outside syscall-tables/.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AUDIT_ARCH_X86_64,
  MAX_SYSCALL_NR,
  NR,
  SYSCALLS,
  syscallByName,
  syscallByNr,
  type SyscallEntry,
} from '../syscall-tables/index.js';
import { parseTbl, renderGenerated, TblError } from '../syscall-tables/tbl-format.js';
import { compatCounts, compatReport } from '../syscall-tables/compat-report.js';
import { HANDLERS } from '../sentry/syscalls/dispatch.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TBL_PATH = path.join(ROOT, 'syscall-tables', 'x86_64.tbl');
const GENERATED_PATH = path.join(ROOT, 'syscall-tables', 'x86_64.generated.ts');
const UNISTD_64 = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';

const EPERM = 1;
const ENOSYS = 38;

function headerSyscalls(): Map<string, number> {
  const numbers = new Map<string, number>();
  for (const match of readFileSync(UNISTD_64, 'utf8').matchAll(/^#define __NR_(\w+)\s+(\d+)\s*$/gm)) {
    numbers.set(match[1] as string, Number(match[2]));
  }
  return numbers;
}

function byName(name: string): SyscallEntry {
  return syscallByName(name);
}

describe('x86_64 syscall table', () => {
  it('covers every __NR_ of the installed uapi header, with the same number', () => {
    const header = headerSyscalls();
    expect(header.size).toBe(362);
    for (const [name, nr] of header) {
      expect(syscallByNr(nr)?.name, `__NR_${name} ${nr}`).toBe(name);
      expect(byName(name).nr).toBe(nr);
    }
  });

  it('has the syscalls the running 6.18 kernel adds beyond the 6.1 headers', () => {
    const newer = [
      'cachestat', 'fchmodat2', 'map_shadow_stack', 'futex_wake', 'futex_wait', 'futex_requeue',
      'statmount', 'listmount', 'lsm_get_self_attr', 'lsm_set_self_attr', 'lsm_list_modules', 'mseal',
      'setxattrat', 'getxattrat', 'listxattrat', 'removexattrat', 'open_tree_attr', 'file_getattr', 'file_setattr',
    ];
    // The kernel numbers them consecutively after set_mempolicy_home_node.
    newer.forEach((name, index) => expect(byName(name).nr).toBe(NR.set_mempolicy_home_node + 1 + index));
    expect(MAX_SYSCALL_NR).toBe(NR.file_setattr);
  });

  it('has unique names and numbers, sorted by number', () => {
    expect(new Set(SYSCALLS.map((entry) => entry.name)).size).toBe(SYSCALLS.length);
    for (let i = 1; i < SYSCALLS.length; i++) {
      expect((SYSCALLS[i] as SyscallEntry).nr).toBeGreaterThan((SYSCALLS[i - 1] as SyscallEntry).nr);
    }
  });

  it('gives every denied syscall an errno, and errnos and argument rules only where they belong', () => {
    for (const entry of SYSCALLS) {
      if (entry.disposition === 'denied') expect([EPERM, ENOSYS], entry.name).toContain(entry.deniedErrno);
      else expect(entry.deniedErrno, entry.name).toBeUndefined();
      if (entry.argDeny) {
        expect(entry.disposition, entry.name).toBe('passthrough');
        for (const rule of entry.argDeny) expect(rule.arg).toBeLessThan(entry.args.length);
      }
      expect(entry.args.length).toBeLessThanOrEqual(6);
    }
  });

  it('is frozen', () => {
    const entry = byName('openat');
    expect(Object.isFrozen(SYSCALLS)).toBe(true);
    expect(Object.isFrozen(entry)).toBe(true);
    expect(Object.isFrozen(entry.args)).toBe(true);
    expect(Object.isFrozen(NR)).toBe(true);
  });

  it('looks up by number and by name, and NR agrees', () => {
    for (const entry of SYSCALLS) {
      expect(syscallByNr(entry.nr)).toBe(entry);
      expect(syscallByName(entry.name)).toBe(entry);
      expect((NR as Readonly<Record<string, number>>)[entry.name]).toBe(entry.nr);
    }
    expect(Object.keys(NR)).toHaveLength(SYSCALLS.length);
    expect(syscallByNr(MAX_SYSCALL_NR + 1)).toBeUndefined();
    expect(syscallByNr(-1)).toBeUndefined();
    expect(() => syscallByName('no_such_syscall')).toThrow(/unknown syscall/);
    expect(AUDIT_ARCH_X86_64).toBe(0xc000003e);
  });

  it('describes the common calls accurately enough for a decoder', () => {
    const kinds = (name: string): string[] => byName(name).args.map((arg) => arg.kind);
    expect(kinds('read')).toEqual(['fd', 'buf_out', 'len']);
    expect(kinds('write')).toEqual(['fd', 'buf_in', 'len']);
    expect(kinds('openat')).toEqual(['dirfd', 'path', 'open_flags', 'mode']);
    expect(kinds('open')).toEqual(['path', 'open_flags', 'mode']);
    expect(kinds('newfstatat')).toEqual(['dirfd', 'path', 'struct_out', 'at_flags']);
    expect(kinds('clone')).toEqual(['clone_flags', 'addr', 'ptr', 'ptr', 'addr']);
    expect(kinds('execve')).toEqual(['path', 'argv', 'argv']);
    expect(kinds('fcntl')[1]).toBe('fcntl_cmd');
    expect(kinds('ioctl')[1]).toBe('ioctl_cmd');
    expect(kinds('mmap')).toEqual(['addr', 'size', 'prot', 'mmap_flags', 'fd', 'off']);
    expect(kinds('lseek')).toEqual(['fd', 'off', 'whence']);
    expect(kinds('kill')).toEqual(['pid', 'signal']);
    expect(kinds('connect')).toEqual(['fd', 'sockaddr', 'len']);
    expect(kinds('prlimit64')).toEqual(['pid', 'resource', 'struct_in', 'struct_out']);
    expect(byName('openat').ret).toBe('fd');
    expect(byName('read').ret).toBe('ssize');
    expect(byName('exit_group').ret).toBe('noreturn');
  });
});

describe('policy', () => {
  const disposition = (name: string): string => {
    const entry = byName(name);
    return entry.disposition === 'denied' ? `denied:${entry.deniedErrno}` : entry.disposition;
  };

  it('never passes through a call that takes a path', () => {
    for (const entry of SYSCALLS) {
      if (entry.args.some((arg) => arg.kind === 'path' || arg.kind === 'dirfd')) {
        expect(entry.disposition, entry.name).not.toBe('passthrough');
      }
    }
  });

  it('passes signals and clocks to the kernel, which checks them (pid namespace, CAP_SYS_TIME)', () => {
    for (const name of ['kill', 'tkill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'clock_settime', 'settimeofday', 'adjtimex', 'clock_adjtime']) {
      expect(disposition(name), name).toBe('passthrough');
    }
  });

  it('passes pidfds to the kernel, which confines them to the sandbox (its pid namespace, ptrace rules)', () => {
    for (const name of ['pidfd_open', 'pidfd_send_signal', 'pidfd_getfd']) expect(disposition(name), name).toBe('passthrough');
    // What a pidfd also reaches stays refused: another process's memory.
    for (const name of ['process_madvise', 'process_mrelease']) expect(disposition(name), name).toBe(`denied:${EPERM}`);
  });

  it('emulates path, process and identity calls', () => {
    const emulated = [
      'open', 'openat', 'openat2', 'creat', 'stat', 'lstat', 'newfstatat', 'statx', 'access', 'faccessat', 'faccessat2',
      'readlink', 'readlinkat', 'chdir', 'fchdir', 'getcwd', 'mkdir', 'mkdirat', 'mknod', 'mknodat', 'unlink', 'unlinkat',
      'rmdir', 'rename', 'renameat', 'renameat2', 'link', 'linkat', 'symlink', 'symlinkat', 'chmod', 'fchmodat', 'fchmodat2',
      'chown', 'lchown', 'fchownat', 'utime', 'utimes', 'futimesat', 'utimensat', 'truncate', 'statfs', 'execve', 'execveat',
      'chroot', 'setxattr', 'lsetxattr', 'getxattr', 'lgetxattr', 'listxattr', 'llistxattr', 'removexattr', 'lremovexattr',
      'setxattrat', 'getxattrat', 'listxattrat', 'removexattrat', 'inotify_add_watch', 'fanotify_mark',
      'clone', 'exit', 'exit_group', 'wait4', 'waitid', 'getppid', 'uname', 'sethostname', 'setdomainname', 'getuid', 'geteuid', 'getgid', 'getegid',
      'getresuid', 'getresgid', 'getgroups', 'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid',
      'setgroups', 'setfsuid', 'setfsgid', 'capget', 'capset', 'sysinfo', 'prlimit64', 'getrlimit', 'setrlimit',
      'getrandom', 'fcntl', 'prctl', 'personality', 'seccomp',
      'socket', 'socketpair', 'connect', 'bind', 'sendto', 'sendmsg', 'sendmmsg', 'getsockname', 'getpeername',
      'setsockopt', 'getsockopt',
    ];
    for (const name of emulated) expect(disposition(name), name).toBe('emulated');
  });

  it('passes through byte movers and calls on the task itself', () => {
    const passthrough = [
      'read', 'write', 'pread64', 'pwrite64', 'readv', 'writev', 'lseek', 'close', 'close_range', 'dup', 'dup3', 'fstat',
      'getdents64', 'mmap', 'mprotect', 'munmap', 'brk', 'rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'ioctl',
      'pipe2', 'poll', 'ppoll', 'epoll_wait', 'epoll_ctl', 'futex', 'futex_waitv', 'futex_wake', 'set_robust_list',
      'set_tid_address', 'arch_prctl', 'rseq', 'clock_gettime', 'nanosleep', 'getpid', 'gettid', 'listen', 'accept4',
      'recvfrom', 'recvmsg', 'umask', 'sched_yield', 'restart_syscall', 'memfd_create', 'cachestat', 'map_shadow_stack',
      'landlock_create_ruleset', 'mseal', 'fsetxattr', 'io_submit', 'shmget', 'mq_open',
    ];
    for (const name of passthrough) expect(disposition(name), name).toBe('passthrough');
    expect(byName('ioctl').argDeny).toEqual([
      { arg: 1, value: 0x5412, errno: EPERM }, // TIOCSTI
      { arg: 1, value: 0x541c, errno: EPERM }, // TIOCLINUX
    ]);
  });

  it('denies what a sandbox must never do, with the errno programs expect', () => {
    const eperm = [
      'mount', 'umount2', 'pivot_root', 'swapon', 'swapoff', 'reboot', 'kexec_load', 'kexec_file_load', 'init_module',
      'finit_module', 'delete_module', 'bpf', 'ptrace', 'perf_event_open', 'unshare', 'setns', 'process_vm_readv',
      'process_vm_writev', 'kcmp', 'userfaultfd', 'acct', 'quotactl', 'quotactl_fd', 'iopl', 'ioperm',
      'syslog', 'vhangup', 'move_pages', 'migrate_pages', 'fsopen', 'fsconfig', 'fsmount', 'fspick', 'move_mount', 'open_tree', 'open_tree_attr',
      'mount_setattr', 'statmount', 'listmount', 'keyctl', 'add_key', 'request_key', 'process_mrelease',
      'process_madvise', 'memfd_secret', 'modify_ldt',
    ];
    for (const name of eperm) expect(disposition(name), name).toBe(`denied:${EPERM}`);
    const enosys = [
      'create_module', 'get_kernel_syms', 'query_module', 'nfsservctl', 'getpmsg', 'putpmsg', 'afs_syscall', 'tuxcall',
      'security', 'vserver', '_sysctl', 'uselib', 'lookup_dcookie', 'set_thread_area', 'get_thread_area',
      'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'clone3', 'lsm_get_self_attr', 'lsm_set_self_attr',
      'lsm_list_modules',
    ];
    for (const name of enosys) expect(disposition(name), name).toBe(`denied:${ENOSYS}`);
    // Filesystem calls the sentry checks by name; fanotify_init's groups are
    // unprivileged in a sandbox, the kernel sees to that.
    for (const name of ['name_to_handle_at', 'open_by_handle_at', 'sysfs', 'ustat', 'fanotify_mark']) expect(disposition(name), name).toBe('emulated');
    expect(disposition('fanotify_init')).toBe('passthrough');
  });
});

describe('x86_64.tbl and its generated module', () => {
  it('the committed x86_64.generated.ts is what generate.ts makes of x86_64.tbl', () => {
    const expected = renderGenerated(parseTbl(readFileSync(TBL_PATH, 'utf8')));
    const committed = readFileSync(GENERATED_PATH, 'utf8');
    // On failure: npx tsc -p tsconfig.json && node dist/syscall-tables/generate.js
    expect(committed === expected, 'x86_64.generated.ts is out of date with x86_64.tbl').toBe(true);
  });

  it('the module loaded is the table parsed', () => {
    expect(parseTbl(readFileSync(TBL_PATH, 'utf8'))).toEqual(SYSCALLS.map((entry) => ({ ...entry })));
  });

  it('rejects malformed lines with the line number', () => {
    const bad = [
      '0 read file_io passthrough ssize fd:fd buf:nonsense count:len',
      '0 read file_io denied ssize -',
      '0 read file_io denied:EFOO ssize -',
      '0 read file_io emulated:EPERM ssize -',
      '0 read nowhere passthrough ssize -',
      '0 read file_io passthrough ssize',
      '0 read file_io passthrough[nope=1:EPERM] ssize fd:fd',
      '0 read file_io passthrough[fd=0x1ffffffff:EPERM] ssize fd:fd',
      '0 read file_io passthrough ssize a:int b:int c:int d:int e:int f:int g:int',
      '1 a fd passthrough int -\n1 b fd passthrough int -',
      '2 a fd passthrough int -\n1 b fd passthrough int -',
      '1 a fd passthrough int -\n2 a fd passthrough int -',
      '1073741824 x32 fd passthrough int -',
    ];
    for (const text of bad) expect(() => parseTbl(text), text).toThrow(TblError);
    expect(() => parseTbl('# comment\n\n7 x fd passthrough int -\n0 y fd emulated int -')).toThrow(/x86_64\.tbl:4:/);
    expect(parseTbl('5 x fd passthrough[a=-1:EPERM] int a:int # trailing comment')).toEqual([
      { nr: 5, name: 'x', family: 'fd', disposition: 'passthrough', argDeny: [{ arg: 0, value: 0xffffffff, errno: EPERM }], ret: 'int', args: [{ name: 'a', kind: 'int' }] },
    ]);
  });
});

describe('compatibility report', () => {
  const emulated = SYSCALLS.filter((entry) => entry.disposition === 'emulated').map((entry) => entry.name);

  function totalsOf(report: string): { handled: number; total: number; native: number; implemented: number; denied: number; missing: number } {
    const head = /\*\*(\d+) of (\d+) syscalls handled\*\*.*?: (\d+) run natively.*?, (\d+) implemented/.exec(report);
    const denied = /- (\d+) refused by policy/.exec(report);
    const missing = /- (\d+) emulated but without a handler/.exec(report);
    if (!head || !denied || !missing) throw new Error('report totals not found');
    return {
      handled: Number(head[1]),
      total: Number(head[2]),
      native: Number(head[3]),
      implemented: Number(head[4]),
      denied: Number(denied[1]),
      missing: Number(missing[1]),
    };
  }

  for (const [label, implemented] of [
    ['no handlers', new Set<string>()],
    ['some handlers', new Set(['openat', 'getppid', 'read', 'not_a_syscall'])],
    ['every emulated syscall', new Set(emulated)],
  ] as const) {
    it(`adds up with ${label}`, () => {
      const counts = compatCounts(implemented);
      expect(counts.total).toBe(SYSCALLS.length);
      expect(counts.native + counts.implemented + counts.missing + counts.denied).toBe(counts.total);
      expect(counts.native).toBe(SYSCALLS.filter((entry) => entry.disposition === 'passthrough').length);
      expect(counts.denied).toBe(SYSCALLS.filter((entry) => entry.disposition === 'denied').length);
      expect(counts.implemented + counts.missing).toBe(emulated.length);
      expect(counts.implemented).toBe(emulated.filter((name) => implemented.has(name)).length);

      let familyTotal = 0;
      for (const tally of counts.byFamily.values()) {
        expect(tally.native + tally.implemented + tally.missing + tally.denied).toBe(tally.total);
        familyTotal += tally.total;
      }
      expect(familyTotal).toBe(counts.total);

      const report = compatReport(implemented);
      const totals = totalsOf(report);
      expect(totals).toEqual({
        handled: counts.native + counts.implemented,
        total: counts.total,
        native: counts.native,
        implemented: counts.implemented,
        denied: counts.denied,
        missing: counts.missing,
      });
      // One row per syscall in the per-family tables.
      const rows = report.split('\n').filter((line) => /^\| \d+ \| `/.test(line));
      expect(rows).toHaveLength(SYSCALLS.length);
      expect(rows.filter((line) => line.endsWith('| **ENOSYS**: no handler yet |'))).toHaveLength(counts.missing);
    });
  }

  it('lists every filesystem syscall as handled: run natively or implemented by the sentry', () => {
    const counts = compatCounts(new Set(Object.keys(HANDLERS)));
    for (const family of ['fs', 'file_io', 'fd', 'xattr', 'notify'] as const) {
      const tally = counts.byFamily.get(family);
      expect(tally, family).toBeDefined();
      expect({ family, missing: tally!.missing, denied: tally!.denied }).toEqual({ family, missing: 0, denied: 0 });
    }
  });

  it('names handlers that match no emulated syscall', () => {
    const counts = compatCounts(new Set(['openat', 'read', 'not_a_syscall']));
    expect(counts.strayHandlers).toEqual(['not_a_syscall', 'read']);
    expect(compatReport(new Set(['read']))).toMatch(/not emulated[\s\S]*`read`/);
  });
});

describe('syscall numbers live only in syscall-tables/', () => {
  // Folders whose TypeScript must take numbers from NR / SYSCALLS.
  const SCANNED = ['sentry', 'platform', 'gofer', 'cli'];

  function tsFiles(directory: string): string[] {
    let names: string[];
    try {
      names = readdirSync(directory);
    } catch {
      return [];
    }
    return names.flatMap((name) => {
      const full = path.join(directory, name);
      if (statSync(full).isDirectory()) return name === 'node_modules' ? [] : tsFiles(full);
      return name.endsWith('.ts') ? [full] : [];
    });
  }

  const numberOf = new Map(SYSCALLS.map((entry) => [entry.name, entry.nr]));
  /** The syscall an identifier is named after: openat, SYS_openat, __NR_openat, SYS_OPENAT2, OPENAT_NR. */
  function syscallNamedBy(identifier: string): string | undefined {
    const lower = identifier.toLowerCase().replace(/^_+/, '');
    if (numberOf.has(lower)) return lower;
    for (const prefix of ['sys_', 'nr_', 'syscall_']) {
      if (lower.startsWith(prefix) && numberOf.has(lower.slice(prefix.length))) return lower.slice(prefix.length);
    }
    for (const suffix of ['_nr', '_syscall']) {
      if (lower.endsWith(suffix) && numberOf.has(lower.slice(0, -suffix.length))) return lower.slice(0, -suffix.length);
    }
    return undefined;
  }

  /**
   * A line that pairs a syscall's name with its number (openat: 257, SYS_OPENAT2 = 437,
   * case 39: // getpid). Numbers below 16 (read is 0, close 3) are everyday values, so
   * for them the line must also say "syscall" or "nr" before it counts.
   */
  function violations(file: string): string[] {
    const found: string[] = [];
    readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
      if (/__NR_|\bSYS_[a-z]/.test(line)) found.push(`${file}:${index + 1}: ${line.trim()}`);
      const numbers = [...line.matchAll(/\b(0x[0-9a-fA-F]+|\d+)\b/g)].map((match) => Number(match[1]));
      if (numbers.length === 0) return;
      const syscallContext = /syscall|\bnr\b|\bNR_|\bSYS_/i.test(line);
      for (const match of line.matchAll(/[A-Za-z_][A-Za-z0-9_]*/g)) {
        const name = syscallNamedBy(match[0]);
        if (name === undefined) continue;
        const nr = numberOf.get(name) as number;
        if (numbers.includes(nr) && (nr >= 16 || syscallContext)) {
          found.push(`${file}:${index + 1}: ${line.trim()}`);
          break;
        }
      }
    });
    return found;
  }

  it('finds the pattern it looks for', () => {
    expect(syscallNamedBy('SYS_OPENAT2')).toBe('openat2');
    expect(syscallNamedBy('__NR_getpid')).toBe('getpid');
    expect(syscallNamedBy('bytesRead')).toBeUndefined();
  });

  it('no .ts file under sentry/, platform/, gofer/ or cli/ writes a syscall number', () => {
    const files = SCANNED.flatMap((folder) => tsFiles(path.join(ROOT, folder)));
    const found = files.flatMap(violations).map((line) => path.relative(ROOT, line));
    expect(found, `write NR.<name> from syscall-tables/index.js instead:\n${found.join('\n')}`).toEqual([]);
  });

  it('the generated table is the only place in syscall-tables/ with a name-to-number list', () => {
    const others = tsFiles(path.join(ROOT, 'syscall-tables')).filter((file) => file !== GENERATED_PATH);
    expect(others.flatMap(violations)).toEqual([]);
  });
});
