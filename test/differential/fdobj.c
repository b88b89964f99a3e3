/* memfd_create (MFD_CLOEXEC, MFD_ALLOW_SEALING, F_ADD_SEALS), pipe2, eventfd2. */
#include "check.h"
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

int main(void) {
  struct stat st;
  char link[64], buf[128];
  int m = memfd_create("test-memfd", 0);
  report_ok("memfd_create", m, errno);
  CHECK("memfd F_GETFD", fcntl(m, F_GETFD));
  CHECK("memfd write", write(m, "memfd", 5));
  CHECK("memfd fstat", fstat(m, &st));
  say("memfd: %s mode=%04o size=%lld nlink=%lu", type_name(st.st_mode), st.st_mode & 07777, (long long)st.st_size, (unsigned long)st.st_nlink);
  sprintf(link, "/proc/self/fd/%d", m);
  memset(buf, 0, sizeof buf);
  CHECK("readlink memfd", readlink(link, buf, sizeof buf) > 0);
  say("memfd link: %s", buf);
  say("memfd reopened holds %s", get_file(link));
  int ro = open(link, O_RDONLY);
  CHECK("memfd reopened read-only: write", write(ro, "x", 1));
  CHECK("memfd reopened offset", lseek(ro, 0, SEEK_CUR));
  CHECK("memfd original offset", lseek(m, 0, SEEK_CUR));
  CHECK("memfd reopen O_NOFOLLOW", open(link, O_RDONLY | O_NOFOLLOW));
  int sp[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, sp);
  sprintf(buf, "/proc/self/fd/%d", sp[0]);
  CHECK("open socket via /proc/self/fd", open(buf, O_RDWR));
  CHECK("memfd F_GET_SEALS (no sealing)", fcntl(m, F_GET_SEALS));
  CHECK("memfd F_ADD_SEALS (no sealing)", fcntl(m, F_ADD_SEALS, F_SEAL_WRITE));
  int c = memfd_create("cloexec", MFD_CLOEXEC);
  CHECK("memfd MFD_CLOEXEC F_GETFD", fcntl(c, F_GETFD));
  int s = memfd_create("sealed", MFD_ALLOW_SEALING);
  CHECK("sealing F_GET_SEALS", fcntl(s, F_GET_SEALS));
  CHECK("write before seal", write(s, "abc", 3));
  CHECK("F_ADD_SEALS SHRINK|GROW", fcntl(s, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW));
  CHECK("F_GET_SEALS", fcntl(s, F_GET_SEALS));
  CHECK("ftruncate shrink sealed", ftruncate(s, 1));
  CHECK("ftruncate grow sealed", ftruncate(s, 100));
  CHECK("write in place", pwrite(s, "X", 1, 0));
  CHECK("write past end", pwrite(s, "X", 1, 3));
  CHECK("F_ADD_SEALS WRITE", fcntl(s, F_ADD_SEALS, F_SEAL_WRITE));
  CHECK("write sealed", pwrite(s, "Y", 1, 0));
  CHECK("mmap shared writable sealed", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0) == MAP_FAILED ? -1 : 0);
  CHECK("F_ADD_SEALS SEAL", fcntl(s, F_ADD_SEALS, F_SEAL_SEAL));
  CHECK("F_ADD_SEALS after SEAL", fcntl(s, F_ADD_SEALS, F_SEAL_GROW));
  CHECK("F_ADD_SEALS bad", fcntl(m, F_ADD_SEALS, 0x1000));
  CHECK("F_ADD_SEALS on a file", fcntl((put_file("f", "", 0644), open("f", O_RDWR)), F_ADD_SEALS, F_SEAL_WRITE));
  CHECK("memfd_create bad flags", memfd_create("x", 0x100));
  CHECK("memfd_create long name", memfd_create(long_name(250), 0));
  CHECK("memfd_create name 249", memfd_create(long_name(249), 0) >= 0);
  CHECK("memfd_create badptr", memfd_create(BADPTR, 0));
  CHECK("memfd_create name with /", memfd_create("a/b", 0) >= 0);

  int p[2];
  CHECK("pipe2 0", pipe2(p, 0));
  CHECK("pipe2 F_GETFD", fcntl(p[0], F_GETFD));
  CHECK("pipe2 F_GETFL", fcntl(p[1], F_GETFL) & (O_ACCMODE | O_NONBLOCK));
  CHECK("pipe2 O_CLOEXEC|O_NONBLOCK", pipe2(p, O_CLOEXEC | O_NONBLOCK));
  CHECK("pipe2 F_GETFD", fcntl(p[0], F_GETFD));
  CHECK("pipe2 F_GETFL", fcntl(p[0], F_GETFL) & (O_ACCMODE | O_NONBLOCK));
  CHECK("pipe2 read empty", read(p[0], buf, 1));
  CHECK("pipe2 O_DIRECT", pipe2(p, O_DIRECT));
  CHECK("pipe2 bad flags", pipe2(p, O_RDWR));
  CHECK("pipe2 bad flags 2", pipe2(p, O_APPEND));
  CHECK("pipe2 badptr", pipe2(BADPTR, 0));
  CHECK("pipe fstat", fstat(p[0], &st));
  say("pipe: %s mode=%04o", type_name(st.st_mode), st.st_mode & 07777);
  close(p[1]);
  CHECK("read pipe with no writer", read(p[0], buf, 1));

  int e = eventfd(3, 0);
  report_ok("eventfd", e, errno);
  uint64_t v = 0;
  CHECK("eventfd read", read(e, &v, 8));
  say("eventfd value %llu", (unsigned long long)v);
  v = 5;
  CHECK("eventfd write", write(e, &v, 8));
  CHECK("eventfd write short", write(e, &v, 4));
  v = UINT64_MAX;
  CHECK("eventfd write max", write(e, &v, 8));
  int es = eventfd(2, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
  CHECK("eventfd sem F_GETFD", fcntl(es, F_GETFD));
  CHECK("eventfd sem read", read(es, &v, 8));
  say("sem value %llu", (unsigned long long)v);
  read(es, &v, 8);
  CHECK("eventfd sem read empty", read(es, &v, 8));
  CHECK("eventfd bad flags", eventfd(0, 0x1));
  CHECK("eventfd2 raw bad flags", syscall(SYS_eventfd2, 0, O_RDWR));
  CHECK("eventfd fstat", fstat(e, &st));
  say("eventfd: mode=%04o", st.st_mode & 07777);
  sprintf(link, "/proc/self/fd/%d", e);
  memset(buf, 0, sizeof buf);
  readlink(link, buf, sizeof buf);
  say("eventfd link: %s", buf);
  return 0;
}
