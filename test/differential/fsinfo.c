/*
 * Calls that name filesystems, handles and marks rather than plain files:
 * sysfs, ustat, name_to_handle_at (open_by_handle_at stays refused), and
 * fanotify in its unprivileged form (what a container's root gets).
 * Handles are asked for as fids (AT_HANDLE_FID): overlayfs, the sandbox's
 * root, exports no openable handles without nfs_export, as in any container.
 */
#include "check.h"
#include <sys/fanotify.h>
#include <sys/sysmacros.h>

#ifndef AT_HANDLE_FID
#define AT_HANDLE_FID 0x200
#endif

#ifndef SYS_ustat
#define SYS_ustat 136
#endif
#ifndef SYS_sysfs
#define SYS_sysfs 139
#endif

struct handle {
  unsigned int bytes;
  int type;
  unsigned char f[128];
};

int main(void) {
  char name[64];
  put_file("f", "data", 0644);
  mkdir("d", 0755);
  symlink("f", "lnk");

  long count = syscall(SYS_sysfs, 3);
  say("sysfs count > 0: %d", count > 0);
  long proc = syscall(SYS_sysfs, 1, "proc");
  say("sysfs index of proc >= 0: %d", proc >= 0);
  CHECK("sysfs name of proc's index", syscall(SYS_sysfs, 2, proc, name));
  say("name: %s", name);
  CHECK("sysfs unknown name", syscall(SYS_sysfs, 1, "no-such-fs"));
  CHECK("sysfs index past the end", syscall(SYS_sysfs, 2, count, name));
  CHECK("sysfs bad buffer", syscall(SYS_sysfs, 2, 0, BADPTR));
  CHECK("sysfs bad name", syscall(SYS_sysfs, 1, BADPTR));
  CHECK("sysfs bad option", syscall(SYS_sysfs, 9));

  struct stat st;
  char ubuf[64];
  stat(".", &st);
  CHECK("ustat of cwd's device", syscall(SYS_ustat, (unsigned)((major(st.st_dev) << 8) | (minor(st.st_dev) & 0xff) | ((minor(st.st_dev) & ~0xffu) << 12)), ubuf));
  CHECK("ustat of an unknown device", syscall(SYS_ustat, (unsigned)((250u << 8) | 250u), ubuf));
  CHECK("ustat bad buffer", syscall(SYS_ustat, (unsigned)((major(st.st_dev) << 8) | (minor(st.st_dev) & 0xff) | ((minor(st.st_dev) & ~0xffu) << 12)), BADPTR));

  struct handle h;
  int mnt;
  h.bytes = sizeof h.f;
  CHECK("name_to_handle_at f", syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &h, &mnt, AT_HANDLE_FID));
  h.bytes = 0;
  CHECK("name_to_handle_at size probe", syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &h, &mnt, AT_HANDLE_FID));
  say("handle bytes > 0: %d", h.bytes > 0);
  h.bytes = sizeof h.f;
  CHECK("name_to_handle_at symlink nofollow", syscall(SYS_name_to_handle_at, AT_FDCWD, "lnk", &h, &mnt, AT_HANDLE_FID));
  CHECK("name_to_handle_at symlink follow", syscall(SYS_name_to_handle_at, AT_FDCWD, "lnk", &h, &mnt, AT_SYMLINK_FOLLOW | AT_HANDLE_FID));
  CHECK("name_to_handle_at missing", syscall(SYS_name_to_handle_at, AT_FDCWD, "nope", &h, &mnt, AT_HANDLE_FID));
  CHECK("name_to_handle_at bad flags", syscall(SYS_name_to_handle_at, AT_FDCWD, "f", &h, &mnt, 0x8000));
  CHECK("name_to_handle_at bad handle", syscall(SYS_name_to_handle_at, AT_FDCWD, "f", BADPTR, &mnt, AT_HANDLE_FID));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  CHECK("name_to_handle_at empty path", syscall(SYS_name_to_handle_at, dfd, "", &h, &mnt, AT_EMPTY_PATH | AT_HANDLE_FID));

  int fan = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_FID, O_RDONLY);
  CHECK_OK("fanotify_init unprivileged", fan);
  CHECK("fanotify_mark dir", fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE | FAN_DELETE | FAN_ONDIR, AT_FDCWD, "d"));
  CHECK("fanotify_mark missing", fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, "nope"));
  CHECK("fanotify_mark onlydir on file", fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_ONLYDIR, FAN_MODIFY, AT_FDCWD, "f"));
  CHECK("fanotify_mark bad fd", fanotify_mark(99, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, "d"));
  CHECK("fanotify_mark not fanotify", fanotify_mark(dfd, FAN_MARK_ADD, FAN_CREATE, AT_FDCWD, "d"));
  CHECK("fanotify_mark by dirfd", fanotify_mark(fan, FAN_MARK_ADD, FAN_CREATE, dfd, NULL));
  put_file("d/new", "x", 0644);
  unlink("d/new");
  char ev[4096];
  long n = read(fan, ev, sizeof ev);
  unsigned long long masks = 0;
  for (long off = 0; off < n;) {
    struct fanotify_event_metadata *m = (void *)(ev + off);
    masks |= m->mask;
    off += m->event_len;
  }
  say("fanotify events: %s%s", (masks & FAN_CREATE) ? "create " : "", (masks & FAN_DELETE) ? "delete" : "");
  return 0;
}
