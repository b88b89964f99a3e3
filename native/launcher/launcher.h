/* tsvisor-launcher: the small C program that sets up each sandbox's host-side
 * jail. It holds no policy: the TypeScript side decides, the launcher does.
 *
 *   tsvisor-launcher gofer --lower DIR --state DIR [--overlay memory|dir|none] [--upper-dir DIR]
 *                          [--ready-fd N] [--tty /dev/pts/N]... [--console-pty FD] [--bind SRC DST rw|ro]...
 *                          [--tmpfs DST size=N,mode=OCTAL]... -- CMD...
 *       new mount namespace with the sandbox root at STATE/merged: an overlay
 *       of DIR under an upper layer in a tmpfs (memory) or in --upper-dir
 *       (dir), or DIR bound read-only (none); a tmpfs /tmp, a minimal /dev
 *       with its own devpts, a minimal /sys, then the --bind and --tmpfs
 *       mounts in the order given. Then execs the gofer (CMD), which serves
 *       that tree. With --ready-fd, one byte is written there once the tree
 *       is mounted, before the exec. With --console-pty, a pty of the
 *       sandbox's devpts is made its /dev/console and its master and slave
 *       are sent over FD (terminal.c); --tty binds the caller's instead.
 *   tsvisor-launcher app --mntns-of PID --root DIR [--cwd DIR] [--net none|host] [--init yes|no]
 *                        [--hostname NAME] [--terminal /dev/pts/N] [--platform seccomp|ptrace] -- CMD...
 *       joins PID's mount namespace, forks the sandbox's first process into
 *       fresh user/mount/pid/ipc/uts/cgroup(/net) namespaces, pivot_roots it
 *       into DIR, and hands its seccomp listener to the sentry over fd 3
 *       (with --platform ptrace: lets the sentry trace it instead).
 *       With --terminal the program gets a session of its own with that
 *       terminal (a path in the sandbox) as its controlling terminal and stdio.
 *       OCI (tsvisor create): --exec-fd N --exec-report-fd M start the exec
 *       helper (exec_helper.c); --user UID:GID[:G,...] sets the program's ids;
 *       --caps B:E:P:I:A its capabilities (caps.c);
 *       --start-fd N holds the program before its exec until a byte arrives.
 *       --net-ready-fd N writes the child's host pid and a newline to N and
 *       holds the child (before it does anything) until a 'g' comes back:
 *       tsvisor sets up its network namespace meanwhile (sentry/net/modes.ts).
 *
 * Exit status 125 means the launcher itself failed (the message says why).
 */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#define LAUNCHER_FAIL 125
#define CONTROL_FD 3

__attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void die_errno(const char *fmt, ...);
void write_file(const char *path, const char *text);
void die_with_parent(void);
void mkdir_p(const char *path, mode_t mode);

/* caps.c: OCI process.capabilities as five bit masks, in this order (the
 * text form: B:E:P:I:A in hex). Each returns 0, or -1 with errno. */
enum { CAPS_BOUNDING, CAPS_EFFECTIVE, CAPS_PERMITTED, CAPS_INHERITABLE, CAPS_AMBIENT, CAPS_SETS };
int caps_parse(const char *text, unsigned long long caps[CAPS_SETS]);
int caps_before_ids(const unsigned long long caps[CAPS_SETS], int changing_user);
int caps_after_ids(const unsigned long long caps[CAPS_SETS]);

/* control socket messages: a 4-byte tag, then the payload */
void control_send(const char *tag, const void *payload, size_t len, int fd_to_pass);
size_t control_recv(const char *want_tag, void *buf, size_t cap);

/* mounts.c: the sandbox root's extra mounts, below STATE/merged */
enum mount_kind { MOUNT_BIND, MOUNT_TMPFS };
struct mount_req {
  enum mount_kind kind;
  const char *src;  /* bind: the host path */
  const char *dst;  /* absolute, inside the sandbox */
  const char *opts; /* tmpfs: "size=N,mode=OCTAL" (either may be absent) */
  int read_only;    /* bind */
};
void bind_root_read_only(const char *lower, const char *merged);
void apply_mounts(const char *merged, const struct mount_req *mounts, int n, int may_create);

/* terminal.c: the sandbox's own pty (tsvisor do on a terminal) */
void make_console_pty(const char *dev_dir, int sock);
void take_terminal(const char *path);

/* exec_helper.c: the OCI exec helper, forked by the program's process before it execs. */
void start_exec_helper(int sock, int report);

int gofer_root_main(int argc, char **argv);
int jail_main(int argc, char **argv);
/* The whole command line (main's argc/argv), which the sandbox's init overwrites with its name. */
void remember_arg_area(int argc, char **argv);
/* Names the process (comm and command line), hiding the launcher's host paths. */
void rename_process(const char *name);
