/* linux.seccomp: the container's own filter, compiled by tsvisor
 * (cli/oci/seccomp-profile.ts) and read here once, from an fd, before the
 * sandbox's first process is cloned (so it and the exec helper forked from
 * it hold a copy). It goes on top of tsvisor's filter as the last step
 * before an exec: the program's (jail.c) and each exec'd process's
 * (exec_helper.c), as runc installs it. no_new_privs is already set then
 * (jail.c sets it before tsvisor's own filter, and fork keeps it). */
#include "launcher.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct sock_filter profile[BPF_MAXINSNS];
static unsigned short profile_len; /* instructions; 0: no profile */
static unsigned int profile_flags;

void seccomp_profile_read(int fd, unsigned int flags) {
  size_t got = 0;
  for (;;) {
    char *at = (char *)profile + got;
    /* One byte of room past a full program, so that a longer one shows. */
    char extra;
    size_t room = sizeof profile - got;
    ssize_t n = room ? read(fd, at, room) : read(fd, &extra, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die_errno("linux.seccomp: read the profile");
    if (n == 0) break;
    if (!room) die("linux.seccomp: the profile is longer than %d instructions", BPF_MAXINSNS);
    got += (size_t)n;
  }
  close(fd);
  if (got == 0 || got % sizeof(struct sock_filter) != 0) die("linux.seccomp: a malformed profile (%zu bytes)", got);
  profile_len = (unsigned short)(got / sizeof(struct sock_filter));
  profile_flags = flags;
}

int seccomp_profile_install(void) {
  if (profile_len == 0) return 0;
  struct sock_fprog prog = {profile_len, profile};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, profile_flags, &prog) < 0 ? -1 : 0;
}
