/* copy_file_range, sendfile, splice, tee. */
#include "check.h"
#include <sys/sendfile.h>

int main(void) {
  put_file("src", "0123456789abcdefghij", 0644);
  put_file("dst", "", 0644);
  int in = open("src", O_RDONLY);
  int out = open("dst", O_RDWR);
  int rofd = open("dst", O_RDONLY);
  int app = open("dst", O_WRONLY | O_APPEND);
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  loff_t off_in = 5, off_out = 0;

  CHECK("copy_file_range", copy_file_range(in, NULL, out, NULL, 10, 0));
  say("dst: %s", get_file("dst"));
  CHECK("copy_file_range offsets", copy_file_range(in, &off_in, out, &off_out, 4, 0));
  say("offsets now %lld %lld; dst: %s", (long long)off_in, (long long)off_out, get_file("dst"));
  CHECK("copy_file_range past end", copy_file_range(in, &(loff_t){100}, out, NULL, 10, 0));
  CHECK("copy_file_range bad flags", copy_file_range(in, NULL, out, NULL, 10, 1));
  CHECK("copy_file_range to rdonly", copy_file_range(in, NULL, rofd, NULL, 10, 0));
  CHECK("copy_file_range to O_APPEND", copy_file_range(in, NULL, app, NULL, 10, 0));
  CHECK("copy_file_range badfd", copy_file_range(999, NULL, out, NULL, 10, 0));
  CHECK("copy_file_range dir", copy_file_range(dfd, NULL, out, NULL, 10, 0));
  CHECK("copy_file_range same file overlap", copy_file_range(in, &(loff_t){0}, open("src", O_RDWR), &(loff_t){2}, 5, 0));
  CHECK("copy_file_range badptr off", copy_file_range(in, BADPTR, out, NULL, 10, 0));
  CHECK("copy_file_range negative off", copy_file_range(in, &(loff_t){-1}, out, NULL, 10, 0));
  CHECK("copy_file_range len 0", copy_file_range(in, NULL, out, NULL, 0, 0));

  int p[2];
  pipe(p);
  lseek(in, 0, SEEK_SET);
  ftruncate(out, 0);
  lseek(out, 0, SEEK_SET);
  CHECK("sendfile", sendfile(out, in, NULL, 6));
  say("dst: %s", get_file("dst"));
  off_t off = 10;
  CHECK("sendfile offset", sendfile(out, in, &off, 3));
  say("offset now %lld; dst: %s", (long long)off, get_file("dst"));
  CHECK("sendfile to pipe", sendfile(p[1], in, NULL, 4));
  char buf[64] = "";
  CHECK("read pipe", read(p[0], buf, sizeof buf - 1));
  say("pipe had: %s", buf);
  CHECK("sendfile from pipe", sendfile(out, p[0], NULL, 4));
  CHECK("sendfile to rdonly", sendfile(rofd, in, NULL, 4));
  CHECK("sendfile badfd", sendfile(999, in, NULL, 4));
  CHECK("sendfile badptr off", sendfile(out, in, BADPTR, 4));
  CHECK("sendfile negative off", sendfile(out, in, &(off_t){-1}, 4));

  /* splice, tee */
  int q[2];
  pipe(q);
  lseek(in, 0, SEEK_SET);
  CHECK("splice file to pipe", splice(in, NULL, p[1], NULL, 8, 0));
  CHECK("tee pipe to pipe", tee(p[0], q[1], 8, 0));
  memset(buf, 0, sizeof buf);
  CHECK("read tee copy", read(q[0], buf, sizeof buf - 1));
  say("tee copy: %s", buf);
  ftruncate(out, 0);
  CHECK("splice pipe to file", splice(p[0], NULL, out, &(loff_t){0}, 8, 0));
  say("dst: %s", get_file("dst"));
  CHECK("splice file to file", splice(in, NULL, out, NULL, 4, 0));
  CHECK("splice offset on pipe", splice(p[0], &(loff_t){0}, out, NULL, 4, 0));
  CHECK("splice badfd", splice(999, NULL, p[1], NULL, 4, 0));
  CHECK("splice bad flags", splice(in, NULL, p[1], NULL, 4, 0x100));
  CHECK("splice empty pipe nonblock", splice(p[0], NULL, out, NULL, 4, SPLICE_F_NONBLOCK));
  CHECK("tee file", tee(in, q[1], 4, 0));
  CHECK("tee same pipe", tee(p[0], p[1], 4, 0));
  CHECK("tee empty nonblock", tee(p[0], q[1], 4, SPLICE_F_NONBLOCK));
  CHECK("tee bad flags", tee(p[0], q[1], 4, 0x100));
  CHECK("vmsplice", vmsplice(q[1], &(struct iovec){.iov_base = "vm", .iov_len = 2}, 1, 0));
  return 0;
}
