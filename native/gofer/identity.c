/* Whose credentials the gofer acts with. The gofer is root (the host's, or
 * a mapped sandbox's user namespace's: main.c, enter_user_namespace, and
 * then the ids are that namespace's); before it
 * touches a file for a task it takes that task's filesystem identity (fsuid,
 * fsgid, supplementary groups) and its file capabilities, so that the host
 * kernel makes every permission check itself, exactly as it would for the
 * task: DAC and the sticky bit, ownership for chmod/chown/utimes, the owner
 * and group of what is created, setgid inheritance and its clearing.
 * Raw syscalls: all of it is per thread in Linux, and glibc's setgroups
 * would make it a process-wide broadcast. */
#define _GNU_SOURCE
#include "gofer.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The capabilities that decide file operations, which the sandbox's root
 * holds in its user namespace with the same effect as the gofer's in its
 * own (the same namespace when ids are mapped: capable_wrt_inode_uidgid()
 * then applies as for the task): nothing else is ever made effective for a task. CAP_SYS_ADMIN
 * (trusted.* xattrs) and CAP_LINUX_IMMUTABLE are not here: a sandbox's root
 * does not have them over its files natively either. */
#define FS_CAPABILITIES                                                                                   \
  ((1u << CAP_CHOWN) | (1u << CAP_DAC_OVERRIDE) | (1u << CAP_DAC_READ_SEARCH) | (1u << CAP_FOWNER) | \
   (1u << CAP_FSETID) | (1u << CAP_MKNOD))

/* The gofer's own capability sets, read once (before the jail, which has no capget). */
void identity_init(struct identity *id) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  id->own_error = 0;
  if (syscall(SYS_capget, &header, data) < 0) {
    id->own_error = -errno;
    return;
  }
  for (int i = 0; i < 2; i++) {
    id->permitted[i] = data[i].permitted;
    id->inheritable[i] = data[i].inheritable;
  }
}

static int set_effective(const struct identity *id, uint32_t low, uint32_t high) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2] = {
      {low, id->permitted[0], id->inheritable[0]},
      {high, id->permitted[1], id->inheritable[1]},
  };
  return syscall(SYS_capset, &header, data) < 0 ? -errno : 0;
}

/* Takes on a task's identity; 0 or -errno, after which the caller must serve no one. */
int identity_assume(const struct identity *id, uint32_t fsuid, uint32_t fsgid, uint32_t ngroups,
                    const uint32_t *groups, uint64_t capabilities) {
  if (id->own_error < 0) return id->own_error;
  if (ngroups > MAX_GROUPS) return -EINVAL;
  /* Changing ids needs CAP_SETUID and CAP_SETGID, which the last identity
   * taken may not have left effective: raise everything permitted first. */
  int r = set_effective(id, id->permitted[0], id->permitted[1]);
  if (r < 0) return r;
  if (syscall(SYS_setgroups, (long)ngroups, groups) < 0) return -errno;
  /* setfs[ug]id answer the previous id, never an error: read back to know it took. */
  syscall(SYS_setfsgid, (long)fsgid);
  if ((uint32_t)syscall(SYS_setfsgid, -1L) != fsgid) return -EPERM;
  syscall(SYS_setfsuid, (long)fsuid);
  if ((uint32_t)syscall(SYS_setfsuid, -1L) != fsuid) return -EPERM;
  /* Then only the task's file capabilities stay effective: setfsuid alone
   * would get them wrong for a root that dropped some, or a non-root that
   * holds some. */
  return set_effective(id, (uint32_t)capabilities & FS_CAPABILITIES & id->permitted[0], 0);
}
