/* tsvisor-launcher: the small C program that sets up each sandbox's host-side
 * jail. It holds no policy: the TypeScript side decides, the launcher does.
 *
 *   tsvisor-launcher gofer --lower DIR --state DIR [--overlay memory|dir|none|direct] [--upper-dir DIR]
 *                          [--ready-fd N] [--tty /dev/pts/N]... [--console-pty FD] [--bind SRC DST rw|ro]...
 *                          [--tmpfs DST size=N,mode=OCTAL]... [--root-owner UID:GID]
 *                          [--uid-map MAP --gid-map MAP --userns-fd N] -- CMD...
 *       new mount namespace with the sandbox root at STATE/merged: an overlay
 *       of DIR under an upper layer in a tmpfs (memory) or in --upper-dir
 *       (dir), or DIR bound read-only (none) or read-write (direct: the
 *       writes land in DIR); a tmpfs /tmp (but with direct), a minimal /dev
 *       with its own devpts, a minimal /sys, then the --bind and --tmpfs
 *       mounts in the order given. Then execs the gofer (CMD), which serves
 *       that tree. With --ready-fd, one byte is written there once the tree
 *       is mounted, before the exec. With --console-pty, a pty of the
 *       sandbox's devpts is made its /dev/console and its master and slave
 *       are sent over FD (terminal.c); --tty binds the caller's instead.
 *       With --uid-map/--gid-map (a mapped sandbox's), CMD gets at fd N a
 *       user namespace with those maps (userns.c), for the gofer to enter.
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
 *       --root-ready-fd N waits for the gofer launcher's --ready-fd byte
 *       (EOF: it failed) before joining PID's mount namespace, so that both
 *       launchers start at once.
 *       --net-ready-fd N writes the child's host pid and a newline to N and
 *       holds the child (before it does anything) until a 'g' comes back:
 *       tsvisor sets up its network namespace meanwhile (sentry/net/modes.ts).
 *
 *   tsvisor-launcher hook --mntns-of PID --ns-of PID [--userns] -- PATH ARGV0 ARGS...
 *       runs one OCI hook in a sandbox's namespaces (hook.c): PID's mount
 *       namespace, and the uts, ipc, net, cgroup, pid (and user) ones of the
 *       other PID; exits with the hook's status.
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
/* The fd number an option names: digits, from min up to 2^20; anything else is fatal. */
int fd_option(const char *opt, const char *value, int min);
/* jail.c: in a user namespace with a spec's maps, become its root (setgroups, setresgid, setresuid 0). */
void become_namespace_root(void);
/* Linux's limits on a uid_map or gid_map: 340 lines, written at once in less than a page. */
#define MAX_ID_RANGES 340
#define ID_MAP_TEXT 4096
/* jail.c: --uid-map / --gid-map NS:HOST:SIZE[,...] into uid_map text (ID_MAP_TEXT bytes), or die. */
void parse_id_map(const char *opt, const char *v, char *text);
/* userns.c: a user namespace with these maps (uid_map text), as an fd (close-on-exec). */
int make_user_namespace(const char *uid_map, const char *gid_map);
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
/* MOUNT_MQUEUE_DIR: where an mqueue filesystem goes, made by the gofer
 * launcher; the app launcher mounts it once the sandbox's ipc namespace
 * exists (mount_mqueue). */
enum mount_kind { MOUNT_BIND, MOUNT_TMPFS, MOUNT_MQUEUE_DIR };
struct mount_req {
  enum mount_kind kind;
  const char *src;  /* bind: the host path */
  const char *dst;  /* absolute, inside the sandbox */
  const char *opts; /* tmpfs: "size=N,mode=OCTAL" (either may be absent) */
  int read_only;    /* bind */
};
void bind_root(const char *lower, const char *merged, int read_only);
/* gofer --root-owner UID:GID: the host ids of the sandbox's root when its
 * user namespace maps ids (-1: one to one); the tmpfs mounts the launcher
 * makes belong to it, as those a container's runtime mounts in its user
 * namespace do. */
extern long sandbox_root_uid, sandbox_root_gid;
void apply_mounts(const char *merged, const struct mount_req *mounts, int n, int may_create);
/* The mqueue filesystem of the caller's ipc namespace at dst below merged,
 * in the caller's mount namespace (nosuid, nodev, noexec, as runc's spec
 * gives it). dst exists already (MOUNT_MQUEUE_DIR). */
void mount_mqueue(const char *merged, const char *dst);

/* terminal.c: the sandbox's own pty (tsvisor do on a terminal) */
void make_console_pty(const char *dev_dir, int sock);
void take_terminal(const char *path);

/* seccomp_profile.c: linux.seccomp, a BPF program read once from an fd
 * (--seccomp-fd), installed as the last step before an exec: returns 0
 * (also with no profile), or -1 with errno. */
void seccomp_profile_read(int fd, unsigned int flags);
int seccomp_profile_install(void);

/* exec_helper.c: the OCI exec helper, forked by the program's process before it execs. */
void start_exec_helper(int sock, int report);

int gofer_root_main(int argc, char **argv);
int jail_main(int argc, char **argv);
int hook_main(int argc, char **argv);
/* The whole command line (main's argc/argv), which the sandbox's init overwrites with its name. */
void remember_arg_area(int argc, char **argv);
/* Names the process (comm and command line), hiding the launcher's host paths. */
void rename_process(const char *name);
