// filter-probe: installs a seccomp filter and reports what the real kernel answers
// for each syscall given on the command line. Used by test/seccomp-bpf.test.ts.
//
//   filter-probe OUTPUT FILTER CALL...
//     OUTPUT  file the results go to, through a shared mapping: a filter may trap
//             write(2) itself (strict mode), but a store to memory always works
//     FILTER  file holding the struct sock_filter array, or '-' to run unfiltered
//     CALL    nr[,arg...]  up to six arguments; each arg is an integer (strtoull,
//             base 0, "-1" is all ones), '@buf' (a zeroed 4 KiB scratch buffer) or
//             '@str:TEXT' (a pointer to TEXT). 'i386:NR' makes an int $0x80 call.
//
// OUTPUT gets "isolated 0|1", then "call NR RET ERRNO" per call (ERRNO 0 when RET
// is not -1), then "end". Without a filter the probe exits 0. With one, exit_group
// is usually trapped too, so it ends on a trap instruction (SIGILL, no core dump);
// the test reads OUTPUT, not the exit status, to know every call ran.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define OUTPUT_SIZE (1 << 20)
#define MAX_CALLS 4096

struct call {
  int i386;  // 1: int $0x80 with nr in eax, no arguments
  long nr;
  unsigned long args[6];
};

static char scratch[4096];
static char *out;
static size_t out_len;

// Appends to the shared mapping; snprintf makes no syscall.
static void emit(const char *fmt, long a, long b, long c) {
  if (out_len >= OUTPUT_SIZE - 128) return;
  out_len += (size_t)snprintf(out + out_len, OUTPUT_SIZE - out_len, fmt, a, b, c);
}

static void die(const char *what) {
  fprintf(stderr, "filter-probe: %s: %s\n", what, strerror(errno));
  exit(2);
}

static unsigned long parse_arg(const char *text) {
  if (strcmp(text, "@buf") == 0) return (unsigned long)scratch;
  if (strncmp(text, "@str:", 5) == 0) return (unsigned long)(text + 5);
  char *end;
  errno = 0;
  unsigned long value = strtoull(text, &end, 0);
  if (errno != 0 || *end != '\0' || end == text) {
    fprintf(stderr, "filter-probe: bad argument '%s'\n", text);
    exit(2);
  }
  return value;
}

static void parse_call(char *text, struct call *call) {
  memset(call, 0, sizeof *call);
  if (strncmp(text, "i386:", 5) == 0) {
    call->i386 = 1;
    call->nr = (long)parse_arg(text + 5);
    return;
  }
  char *save = NULL;
  char *field = strtok_r(text, ",", &save);
  if (!field) {
    fprintf(stderr, "filter-probe: empty call\n");
    exit(2);
  }
  call->nr = (long)parse_arg(field);
  for (int i = 0; i < 6 && (field = strtok_r(NULL, ",", &save)) != NULL; i++) call->args[i] = parse_arg(field);
}

static long run_i386(long nr) {
  long ret = nr;
  __asm__ volatile("int $0x80" : "+a"(ret) : : "memory", "r8", "r9", "r10", "r11");
  return ret;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: filter-probe OUTPUT FILTER|- CALL...\n");
    return 2;
  }
  int ncalls = argc - 3;
  if (ncalls > MAX_CALLS) {
    fprintf(stderr, "filter-probe: too many calls\n");
    return 2;
  }
  static struct call calls[MAX_CALLS];
  for (int i = 0; i < ncalls; i++) parse_call(argv[3 + i], &calls[i]);

  int out_fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (out_fd < 0) die("open output");
  if (ftruncate(out_fd, OUTPUT_SIZE) < 0) die("ftruncate output");
  out = mmap(NULL, OUTPUT_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, out_fd, 0);
  if (out == MAP_FAILED) die("mmap output");

  struct sock_fprog prog = {0, NULL};
  if (strcmp(argv[2], "-") != 0) {
    int fd = open(argv[2], O_RDONLY);
    if (fd < 0) die("open filter");
    struct stat st;
    if (fstat(fd, &st) < 0) die("stat filter");
    if (st.st_size == 0 || st.st_size % sizeof(struct sock_filter) != 0 || st.st_size > 65535 * (off_t)sizeof(struct sock_filter)) {
      fprintf(stderr, "filter-probe: filter size %ld is not a whole number of instructions\n", (long)st.st_size);
      return 2;
    }
    prog.filter = malloc((size_t)st.st_size);
    if (!prog.filter || read(fd, prog.filter, (size_t)st.st_size) != st.st_size) die("read filter");
    prog.len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
    close(fd);
  }

  // Limit the damage should a filter under test wrongly let a call through: no
  // controlling terminal (vhangup), own IPC/UTS/net namespaces (msgget, sethostname).
  setsid();
  int isolated = unshare(CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET) == 0;
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);  // the trap at the end must not write a core
  emit("isolated %ld\n", isolated, 0, 0);

  if (prog.filter) {
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("PR_SET_NO_NEW_PRIVS");
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("seccomp(SECCOMP_SET_MODE_FILTER)");
  }

  for (int i = 0; i < ncalls; i++) {
    const struct call *c = &calls[i];
    long ret;
    int err = 0;
    if (c->i386) {
      ret = run_i386(c->nr);
      if (ret < 0 && ret >= -4095) err = (int)-ret;
    } else {
      errno = 0;
      ret = syscall(c->nr, c->args[0], c->args[1], c->args[2], c->args[3], c->args[4], c->args[5]);
      if (ret == -1) err = errno;
    }
    emit("call %ld %ld %ld\n", c->nr, ret, err);
  }
  emit("end\n", 0, 0, 0);
  msync(out, OUTPUT_SIZE, MS_ASYNC);

  syscall(SYS_exit_group, 0);
  __builtin_trap();
}
