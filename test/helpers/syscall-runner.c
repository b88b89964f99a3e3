// syscall-runner: performs a script of raw syscalls read from stdin and prints
// one line per call, so that a native run and a sandboxed run can be compared
// line by line (test/syscall-args.test.ts).
//
// Script: one call per line, `NAME ARG...` (blank lines and lines starting
// with '#' are skipped). Argument tokens:
//   123 -5 0x41 0644         integers (strtoll/strtoull, base 0: hex, octal, decimal)
//   AT_FDCWD                 -100
//   NULL                     0
//   BADPTR                   the first byte of a PROT_NONE page
//   EDGE:n                   a pointer n bytes before that page (readable and writable):
//                            for results; what earlier calls wrote there stays
//   IEDGE:n                  a pointer n bytes before a second PROT_NONE page, for
//                            arguments the kernel reads: that memory is zeroed before
//                            each call, so reads from it do not depend on earlier calls
//   BUF                      a zeroed 8192-byte buffer (stat results, readlink, getcwd ...)
//   "text"                   a NUL-terminated string; escapes: \\ \" \n \t \xHH,
//                            \N{n} (n bytes 'n': a long name), \P{n} (n bytes of
//                            "a/a/a/...": a long path)
//   LONGNAME:n LONGPATH:n    the same as "\N{n}" and "\P{n}"
//   EDGESTR:"text"           the text WITHOUT its NUL, ending right at IEDGE's PROT_NONE
//                            page (write "text\x00" for a string whose NUL is the last
//                            readable byte)
//   FD:n                     the fd kept in slot n (0..15) by `=>n`, or -1 if none
//   HOW:flags:mode:resolve[:tail]   a struct open_how (followed by 4096 zero bytes,
//                            except byte 24 which is `tail`), for openat2
//   TIMES:s:ns:s:ns          a struct timespec[2]; ns may be NOW or OMIT
//   RLIM:cur:max             a struct rlimit; INF is RLIM_INFINITY
//   =>n                      (last token) keep the fd an open returns in slot n
//                            instead of closing it right away
// Output per call: `NAME RET ERRNO [details]`: RET is "fd" for a new fd (its
// number can differ between runs), else the return value; ERRNO is the errno's
// name, or "-" on success. Details on success: stat-like calls print the mode,
// owner, and for non-directories the size and link count; readlink the bytes
// read; getcwd the path; uname the sysname and machine.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <linux/openat2.h>
#include <linux/stat.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

enum result { R_INT, R_FD };
enum detail { D_NONE, D_STAT, D_STATX, D_READLINK, D_GETCWD, D_UNAME };

struct call {
  const char *name;
  long nr;
  enum result result;
  enum detail detail;
  int buf_arg; /* which argument holds the result buffer, for details */
};

static const struct call CALLS[] = {
  {"open", SYS_open, R_FD, D_NONE, -1},
  {"openat", SYS_openat, R_FD, D_NONE, -1},
  {"openat2", SYS_openat2, R_FD, D_NONE, -1},
  {"creat", SYS_creat, R_FD, D_NONE, -1},
  {"close", SYS_close, R_INT, D_NONE, -1},
  {"stat", SYS_stat, R_INT, D_STAT, 1},
  {"lstat", SYS_lstat, R_INT, D_STAT, 1},
  {"fstat", SYS_fstat, R_INT, D_STAT, 1},
  {"newfstatat", SYS_newfstatat, R_INT, D_STAT, 2},
  {"statx", SYS_statx, R_INT, D_STATX, 4},
  {"access", SYS_access, R_INT, D_NONE, -1},
  {"faccessat", SYS_faccessat, R_INT, D_NONE, -1},
  {"faccessat2", SYS_faccessat2, R_INT, D_NONE, -1},
  {"readlink", SYS_readlink, R_INT, D_READLINK, 1},
  {"readlinkat", SYS_readlinkat, R_INT, D_READLINK, 2},
  {"mkdir", SYS_mkdir, R_INT, D_NONE, -1},
  {"mkdirat", SYS_mkdirat, R_INT, D_NONE, -1},
  {"mknod", SYS_mknod, R_INT, D_NONE, -1},
  {"mknodat", SYS_mknodat, R_INT, D_NONE, -1},
  {"unlink", SYS_unlink, R_INT, D_NONE, -1},
  {"unlinkat", SYS_unlinkat, R_INT, D_NONE, -1},
  {"rmdir", SYS_rmdir, R_INT, D_NONE, -1},
  {"rename", SYS_rename, R_INT, D_NONE, -1},
  {"renameat", SYS_renameat, R_INT, D_NONE, -1},
  {"renameat2", SYS_renameat2, R_INT, D_NONE, -1},
  {"link", SYS_link, R_INT, D_NONE, -1},
  {"linkat", SYS_linkat, R_INT, D_NONE, -1},
  {"symlink", SYS_symlink, R_INT, D_NONE, -1},
  {"symlinkat", SYS_symlinkat, R_INT, D_NONE, -1},
  {"chmod", SYS_chmod, R_INT, D_NONE, -1},
  {"fchmodat", SYS_fchmodat, R_INT, D_NONE, -1},
  {"fchmodat2", SYS_fchmodat2, R_INT, D_NONE, -1},
  {"chown", SYS_chown, R_INT, D_NONE, -1},
  {"lchown", SYS_lchown, R_INT, D_NONE, -1},
  {"fchownat", SYS_fchownat, R_INT, D_NONE, -1},
  {"utimensat", SYS_utimensat, R_INT, D_NONE, -1},
  {"truncate", SYS_truncate, R_INT, D_NONE, -1},
  {"getcwd", SYS_getcwd, R_INT, D_GETCWD, 0},
  {"chdir", SYS_chdir, R_INT, D_NONE, -1},
  {"fchdir", SYS_fchdir, R_INT, D_NONE, -1},
  {"uname", SYS_uname, R_INT, D_UNAME, 0},
  {"getrandom", SYS_getrandom, R_INT, D_NONE, -1},
  {"getrlimit", SYS_getrlimit, R_INT, D_NONE, -1},
  {"setrlimit", SYS_setrlimit, R_INT, D_NONE, -1},
  {"prlimit64", SYS_prlimit64, R_INT, D_NONE, -1},
  {"sethostname", SYS_sethostname, R_INT, D_NONE, -1},
};

#define NSLOTS 16
#define PAGE 4096
#define BUFSZ 8192
#define ARENA_SIZE (1 << 20)

static int slots[NSLOTS];
static char *guard;   /* the PROT_NONE page after the result area (EDGE:n) */
static char *iguard;  /* the PROT_NONE page after the argument area (IEDGE:n, EDGESTR) */
static char *buf;     /* BUF */
static char *arena;   /* per-line storage for strings and structs */
static size_t arena_used;

static void die(const char *what, const char *line) {
  fprintf(stderr, "syscall-runner: %s: %s\n", what, line);
  exit(2);
}

static void *arena_alloc(size_t n, const char *line) {
  size_t at = (arena_used + 15) & ~(size_t)15;
  if (at + n > ARENA_SIZE) die("script line too big", line);
  arena_used = at + n;
  memset(arena + at, 0, n);
  return arena + at;
}

/* Appends the bytes a "..." token stands for; *p points after the opening quote
   and is left after the closing quote. Returns the length; out may be NULL to measure. */
static size_t parse_string(const char **p, char *out, const char *line) {
  const char *s = *p;
  size_t n = 0;
  for (;;) {
    char c = *s++;
    if (c == '\0') die("unterminated string", line);
    if (c == '"') break;
    if (c != '\\') {
      if (out) out[n] = c;
      n++;
      continue;
    }
    char e = *s++;
    switch (e) {
      case '\\': case '"':
        if (out) out[n] = e;
        n++;
        break;
      case 'n':
        if (out) out[n] = '\n';
        n++;
        break;
      case 't':
        if (out) out[n] = '\t';
        n++;
        break;
      case 'x': {
        char hex[3] = {s[0], s[1], 0};
        if (!s[0] || !s[1]) die("bad \\x escape", line);
        if (out) out[n] = (char)strtol(hex, NULL, 16);
        n++;
        s += 2;
        break;
      }
      case 'N': case 'P': {
        if (*s != '{') die("bad \\N or \\P escape", line);
        char *end;
        long count = strtol(s + 1, &end, 10);
        if (*end != '}' || count < 0 || count > 65536) die("bad \\N or \\P count", line);
        for (long i = 0; i < count; i++) {
          if (out) out[n] = e == 'N' ? 'n' : (i % 2 == 0 ? 'a' : '/');
          n++;
        }
        s = end + 1;
        break;
      }
      default:
        die("bad escape", line);
    }
  }
  *p = s;
  return n;
}

static long long parse_int(const char *tok, const char *line) {
  char *end;
  errno = 0;
  long long v;
  if (tok[0] == '-') v = strtoll(tok, &end, 0);
  else v = (long long)strtoull(tok, &end, 0);
  if (errno != 0 || *end != '\0' || end == tok) die("bad integer", line);
  return v;
}

/* One field of a HOW:/TIMES:/RLIM: token, up to the next ':' or the end. */
static long long parse_field(const char **p, const char *line) {
  char field[64];
  size_t n = strcspn(*p, ":");
  if (n == 0 || n >= sizeof field) die("bad struct field", line);
  memcpy(field, *p, n);
  field[n] = '\0';
  *p += n;
  if (**p == ':') (*p)++;
  if (strcmp(field, "NOW") == 0) return UTIME_NOW;
  if (strcmp(field, "OMIT") == 0) return UTIME_OMIT;
  if (strcmp(field, "INF") == 0) return (long long)RLIM_INFINITY;
  return parse_int(field, line);
}

static void print_escaped(const char *s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') printf("\\%c", c);
    else if (c >= 0x20 && c < 0x7f) putchar(c);
    else printf("\\x%02x", c);
  }
  putchar('"');
}

static const char *errname(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "E?";
}

static void run_line(char *line) {
  const char *p = line;
  char name[32];
  size_t n = strcspn(p, " \t");
  if (n == 0 || n >= sizeof name) die("bad call name", line);
  memcpy(name, p, n);
  name[n] = '\0';
  p += n;
  const struct call *call = NULL;
  for (size_t i = 0; i < sizeof CALLS / sizeof CALLS[0]; i++) {
    if (strcmp(CALLS[i].name, name) == 0) call = &CALLS[i];
  }
  if (!call) die("unknown call", line);

  long args[6] = {0};
  int nargs = 0;
  int keep = -1;
  arena_used = 0;
  memset(buf, 0, BUFSZ);
  memset(iguard - 2 * PAGE, 0, 2 * PAGE);
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '\0' || *p == '\n') break;
    if (nargs == 6) die("too many arguments", line);
    long v;
    if (*p == '"') {
      p++;
      const char *q = p;
      size_t len = parse_string(&q, NULL, line);
      char *s = arena_alloc(len + 1, line);
      parse_string(&p, s, line);
      v = (long)s;
    } else if (strncmp(p, "EDGESTR:\"", 9) == 0) {
      p += 9;
      const char *q = p;
      size_t len = parse_string(&q, NULL, line);
      if (len > 2 * PAGE) die("EDGESTR too long", line);
      char *s = iguard - len;
      parse_string(&p, s, line);
      v = (long)s;
    } else {
      char tok[256];
      size_t tn = strcspn(p, " \t\n");
      if (tn >= sizeof tok) die("token too long", line);
      memcpy(tok, p, tn);
      tok[tn] = '\0';
      p += tn;
      if (strcmp(tok, "AT_FDCWD") == 0) v = AT_FDCWD;
      else if (strcmp(tok, "NULL") == 0) v = 0;
      else if (strcmp(tok, "BADPTR") == 0) v = (long)guard;
      else if (strcmp(tok, "BUF") == 0) v = (long)buf;
      else if (strncmp(tok, "EDGE:", 5) == 0 || strncmp(tok, "IEDGE:", 6) == 0) {
        int input = tok[0] == 'I';
        long long off = parse_int(tok + (input ? 6 : 5), line);
        if (off < 0 || off > 2 * PAGE) die("bad EDGE offset", line);
        v = (long)((input ? iguard : guard) - off);
      } else if (strncmp(tok, "LONGNAME:", 9) == 0 || strncmp(tok, "LONGPATH:", 9) == 0) {
        long long count = parse_int(tok + 9, line);
        if (count < 0 || count > 65536) die("bad long path length", line);
        char *s = arena_alloc((size_t)count + 1, line);
        for (long long i = 0; i < count; i++) s[i] = tok[4] == 'N' ? 'n' : (i % 2 == 0 ? 'a' : '/');
        v = (long)s;
      } else if (strncmp(tok, "FD:", 3) == 0) {
        long long slot = parse_int(tok + 3, line);
        if (slot < 0 || slot >= NSLOTS) die("bad fd slot", line);
        v = slots[slot];
      } else if (strncmp(tok, "HOW:", 4) == 0) {
        const char *f = tok + 4;
        struct open_how *how = arena_alloc(sizeof *how + PAGE, line);
        how->flags = (uint64_t)parse_field(&f, line);
        how->mode = (uint64_t)parse_field(&f, line);
        how->resolve = (uint64_t)parse_field(&f, line);
        if (*f) ((unsigned char *)how)[sizeof *how] = (unsigned char)parse_field(&f, line);
        v = (long)how;
      } else if (strncmp(tok, "TIMES:", 6) == 0) {
        const char *f = tok + 6;
        struct timespec *ts = arena_alloc(2 * sizeof *ts, line);
        for (int i = 0; i < 2; i++) {
          ts[i].tv_sec = (time_t)parse_field(&f, line);
          ts[i].tv_nsec = (long)parse_field(&f, line);
        }
        v = (long)ts;
      } else if (strncmp(tok, "RLIM:", 5) == 0) {
        const char *f = tok + 5;
        struct rlimit *rl = arena_alloc(sizeof *rl, line);
        rl->rlim_cur = (rlim_t)parse_field(&f, line);
        rl->rlim_max = (rlim_t)parse_field(&f, line);
        v = (long)rl;
      } else if (strncmp(tok, "=>", 2) == 0) {
        long long slot = parse_int(tok + 2, line);
        if (slot < 0 || slot >= NSLOTS) die("bad fd slot", line);
        keep = (int)slot;
        continue;
      } else {
        v = (long)parse_int(tok, line);
      }
    }
    args[nargs++] = v;
  }

  errno = 0;
  long ret = syscall(call->nr, args[0], args[1], args[2], args[3], args[4], args[5]);
  int err = ret < 0 ? errno : 0;

  printf("%s ", name);
  if (ret >= 0 && call->result == R_FD) printf("fd");
  else printf("%ld", ret);
  printf(" %s", ret < 0 ? errname(err) : "-");
  if (ret >= 0 && call->buf_arg >= 0) {
    const char *out = (const char *)args[call->buf_arg];
    switch (call->detail) {
      case D_STAT: {
        const struct stat *st = (const struct stat *)out;
        printf(" mode=0%o uid=%u gid=%u", st->st_mode, st->st_uid, st->st_gid);
        if (!S_ISDIR(st->st_mode)) printf(" size=%lld nlink=%lu", (long long)st->st_size, (unsigned long)st->st_nlink);
        break;
      }
      case D_STATX: {
        const struct statx *sx = (const struct statx *)out;
        printf(" mode=0%o uid=%u gid=%u", sx->stx_mode, sx->stx_uid, sx->stx_gid);
        if (!S_ISDIR(sx->stx_mode)) printf(" size=%llu nlink=%u", (unsigned long long)sx->stx_size, sx->stx_nlink);
        break;
      }
      case D_READLINK:
        printf(" ");
        print_escaped(out, (size_t)ret);
        break;
      case D_GETCWD:
        printf(" ");
        print_escaped(out, ret > 0 ? strnlen(out, (size_t)ret) : 0);
        break;
      case D_UNAME: {
        const struct utsname *u = (const struct utsname *)out;
        printf(" %s %s", u->sysname, u->machine);
        break;
      }
      case D_NONE:
        break;
    }
  }
  printf("\n");

  if (ret >= 0 && call->result == R_FD) {
    if (keep >= 0) {
      if (slots[keep] >= 0) close(slots[keep]);
      slots[keep] = (int)ret;
    } else {
      close((int)ret);
    }
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  umask(022);
  for (int i = 0; i < NSLOTS; i++) slots[i] = -1;
  /* [2 pages results][guard][2 pages arguments][iguard] */
  char *region = mmap(NULL, 6 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) die("mmap", "");
  guard = region + 2 * PAGE;
  iguard = region + 5 * PAGE;
  if (mprotect(guard, PAGE, PROT_NONE) != 0 || mprotect(iguard, PAGE, PROT_NONE) != 0) die("mprotect", "");
  buf = malloc(BUFSZ);
  arena = malloc(ARENA_SIZE);
  if (!buf || !arena) die("malloc", "");

  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  while ((len = getline(&line, &cap, stdin)) >= 0) {
    if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
    if (len == 0 || line[0] == '#') continue;
    run_line(line);
  }
  free(line);
  return 0;
}
