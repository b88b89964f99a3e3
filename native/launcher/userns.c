/* A user namespace with a spec's maps, made for the gofer of a mapped
 * sandbox. The gofer enters it (setns) once it holds its root: its file
 * capabilities then count only in that namespace, so the host kernel applies
 * capable_wrt_inode_uidgid() to every file it touches for a task, as it does
 * for the sandbox's own processes (and runc's): the namespace's root has no
 * CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN... over a file whose owner or
 * group is unmapped.
 *
 * A process can only be given arbitrary maps by one in the parent namespace
 * that holds CAP_SETUID/CAP_SETGID there (new_idmap_permitted()): a child
 * makes the namespace (unshare) and waits, we write its maps from outside,
 * keep an fd to it, and let the child go. The setgroups file stays "allow":
 * the gofer takes each task's supplementary groups. */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int make_user_namespace(const char *uid_map, const char *gid_map) {
  int made[2], done[2];
  if (pipe2(made, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) die_errno("pipe");
  pid_t pid = fork();
  if (pid < 0) die_errno("fork");
  if (pid == 0) {
    close(made[0]);
    close(done[1]);
    char c = unshare(CLONE_NEWUSER) == 0 ? 'u' : 'e';
    if (write(made[1], &c, 1) != 1) _exit(LAUNCHER_FAIL);
    /* Held until the namespace is mapped and opened (EOF on done). */
    while (read(done[0], &c, 1) < 0 && errno == EINTR) {}
    _exit(0);
  }
  close(made[1]);
  close(done[0]);
  char c = 0;
  ssize_t n;
  while ((n = read(made[0], &c, 1)) < 0 && errno == EINTR) {}
  close(made[0]);
  if (n != 1 || c != 'u') die("unshare(CLONE_NEWUSER) for the gofer failed");
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
  write_file(path, uid_map);
  snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
  write_file(path, gid_map);
  snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die_errno("open %s", path);
  close(done[1]);
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) die_errno("waitpid");
  return fd;
}
