/* OCI process.capabilities, set on a process about to exec, as runc sets
 * them. Used for the container's program (jail.c) and for each process of
 * `exec` (exec_helper.c). */
#include "launcher.h"

#include <errno.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int caps_parse(const char *text, unsigned long long caps[CAPS_SETS]) {
  const char *p = text;
  for (int k = 0; k < CAPS_SETS; k++) {
    char *end;
    errno = 0;
    caps[k] = strtoull(p, &end, 16);
    if (errno || end == p || *end != (k < CAPS_SETS - 1 ? ':' : '\0')) return -1;
    p = end + 1;
  }
  return 0;
}

/* Before the ids change, while still root: the bounding set is dropped to
 * the spec's (that needs CAP_SETPCAP, still held), and PR_SET_KEEPCAPS keeps
 * the permitted set across a change of user. */
int caps_before_ids(const unsigned long long caps[CAPS_SETS], int changing_user) {
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
    if (caps[CAPS_BOUNDING] & (1ULL << cap)) continue;
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) return -1;
  }
  if (changing_user && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return -1;
  return 0;
}

/* After the ids: effective, permitted and inheritable, then the ambient
 * set. Linux raises an ambient capability only if it is permitted and
 * inheritable; specs often list more (runc spec's own default does): those
 * are left out, as runc leaves them. */
int caps_after_ids(const unsigned long long caps[CAPS_SETS]) {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  for (int i = 0; i < 2; i++) {
    d[i].effective = (unsigned)(caps[CAPS_EFFECTIVE] >> (32 * i));
    d[i].permitted = (unsigned)(caps[CAPS_PERMITTED] >> (32 * i));
    d[i].inheritable = (unsigned)(caps[CAPS_INHERITABLE] >> (32 * i));
  }
  if (syscall(SYS_capset, &h, d) < 0) return -1;
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return -1;
  unsigned long long raisable = caps[CAPS_AMBIENT] & caps[CAPS_PERMITTED] & caps[CAPS_INHERITABLE];
  for (int cap = 0; cap <= CAP_LAST_CAP; cap++) {
    if ((raisable & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0) return -1;
  }
  return 0;
}
