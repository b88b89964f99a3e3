/*
 * File handles as a container's root gets them: name_to_handle_at works,
 * open_by_handle_at is the kernel's to allow (Linux 6.10: only without
 * CAP_DAC_READ_SEARCH on the host, inside a mount fd's subtree free of locked
 * mounts). Run in the sandbox and natively in `unshare --user --map-root-user`
 * with a fresh tmpfs at /tmp, the two print the same.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say(const char *what, int r) {
  if (r < 0) printf("%s = -1 %s\n", what, strerrorname_np(errno));
  else printf("%s = ok\n", what);
}

int main(void) {
  struct {
    struct file_handle h;
    unsigned char bytes[128];
  } fh;
  int mount_id;
  mkdir("/tmp/sub", 0755);
  int f = open("/tmp/sub/f", O_CREAT | O_WRONLY, 0644);
  if (f < 0 || write(f, "hello", 5) != 5) return 2;
  close(f);
  fh.h.handle_bytes = sizeof fh.bytes;
  say("name_to_handle_at /tmp/sub/f", name_to_handle_at(AT_FDCWD, "/tmp/sub/f", &fh.h, &mount_id, 0));
  int sub = open("/tmp/sub", O_RDONLY | O_DIRECTORY);
  int root = open("/", O_RDONLY | O_DIRECTORY);
  errno = 0;
  say("open_by_handle_at below /tmp/sub", open_by_handle_at(sub, &fh.h, O_RDONLY));
  errno = 0;
  say("open_by_handle_at below /", open_by_handle_at(root, &fh.h, O_RDONLY));
  errno = 0;
  say("open_by_handle_at bad mount fd", open_by_handle_at(99, &fh.h, O_RDONLY));
  return 0;
}
