/* tsvisor-launcher: the small C program that sets up each sandbox's host-side
 * jail. It holds no policy: the TypeScript side decides, the launcher does.
 *
 *   tsvisor-launcher gofer --lower DIR --state DIR [--ready-fd N] [--tty /dev/pts/N]... -- CMD...
 *       new mount namespace with the sandbox root (overlay of DIR under a
 *       tmpfs upper, tmpfs /tmp, a minimal /dev) at STATE/merged; then execs
 *       the gofer (CMD), which serves that tree. With --ready-fd, one byte
 *       is written there once the tree is mounted, before the exec.
 *   tsvisor-launcher app --mntns-of PID --root DIR [--cwd DIR] [--net none|host] [--init yes|no]
 *                        [--hostname NAME] -- CMD...
 *       joins PID's mount namespace, forks the sandbox's first process into
 *       fresh user/mount/pid/ipc/uts/cgroup(/net) namespaces, pivot_roots it
 *       into DIR, and hands its seccomp listener to the sentry over fd 3.
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

/* control socket messages: a 4-byte tag, then the payload */
void control_send(const char *tag, const void *payload, size_t len, int fd_to_pass);
size_t control_recv(const char *want_tag, void *buf, size_t cap);

int gofer_root_main(int argc, char **argv);
int jail_main(int argc, char **argv);
