/*
 * Process lifecycle: fork, vfork, clone (threads, CLONE_VFORK|CLONE_VM, tid
 * pointers, pidfd, exit signal), clone3's fallback, execve/execveat (scripts,
 * ENOEXEC, ETXTBSY, EACCES, close-on-exec, argv/envp), exit and exit_group,
 * wait4/waitid in all their modes, zombies and a child subreaper.
 *
 * Invoked with a first argument naming a mode, it is the image an exec
 * started (see main()).
 */
#include "proc.h"
#include <linux/futex.h>
#include <spawn.h>
#include <sys/mman.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif

extern char **environ;
static const char *self;

/* ---- the images an exec starts ---- */

static int image(int argc, char **argv) {
  const char *mode = argv[1];
  if (strcmp(mode, "args") == 0) {
    /* argv and envp exactly as passed, in order, empty strings included. */
    for (int i = 0; i < argc; i++) say("  argv[%d] = \"%s\"", i, argv[i]);
    for (char **e = environ; *e; e++) say("  env \"%s\"", *e);
    return 0;
  }
  if (strcmp(mode, "fds") == 0) {
    /* fd 0 was close-on-exec, fd 2 was not (fds from 3 up are closed by check.h's
     * constructor before main, so the two are moved down there before the exec). */
    for (int fd = 0; fd <= 2; fd += 2) {
      errno = 0;
      int r = fcntl(fd, F_GETFD);
      say("  fd %s after exec = %s", fd == 0 ? "cloexec" : "plain", r < 0 ? errname(errno) : "open");
    }
    return 0;
  }
  if (strcmp(mode, "interp") == 0) {
    /* Started as a script's interpreter: argv[0] is our path (not printed), then the #! argument, the script, its args. */
    say("  interpreter argc = %d", argc);
    for (int i = 1; i < argc; i++) say("  interpreter argv[%d] = \"%s\"", i, argv[i]);
    return 0;
  }
  if (strcmp(mode, "exit") == 0) return atoi(argv[2]);
  return 99;
}

/* ---- clone helpers ---- */

static char stack_a[65536] __attribute__((aligned(16)));
static volatile int shared_word;

static int vm_child(void *arg) {
  shared_word = (int)(long)arg;
  return 0;
}

static void thread_like_clone(void) {
  /* CLONE_VFORK|CLONE_VM: the parent sleeps until the child exits, and sees its writes. */
  shared_word = 0;
  pid_t p = clone(vm_child, stack_a + sizeof stack_a, CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)42L);
  SAYB("clone VFORK|VM returns a pid", p > 0);
  say("clone VFORK|VM child's write seen = %d", shared_word);
  int st;
  SAYB("clone VFORK|VM waitpid == clone's return", waitpid(p, &st, 0) == p);
  say_status("clone VFORK|VM child", st);
}

static pid_t child_settid_word;
static pid_t parent_settid_word;
static volatile pid_t cleartid_word;

static int tid_child(void *arg) {
  (void)arg;
  /* CLONE_CHILD_SETTID wrote our tid before we ran. */
  return child_settid_word == (pid_t)syscall(SYS_gettid) ? 0 : 1;
}

static void tid_pointers(void) {
  /* A thread (CLONE_VM|CLONE_THREAD ...) with all three tid pointers, as pthread_create
   * uses them: the parent's and child's words hold the new tid, and the child's is
   * cleared (and futex-woken) when it exits. */
  static char stack[65536] __attribute__((aligned(16)));
  cleartid_word = -1;
  int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
              CLONE_PARENT_SETTID | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
  /* child_tidptr is one word for both SETTID and CLEARTID in the kernel's clone(); use cleartid_word. */
  pid_t tid = clone(tid_child, stack + sizeof stack, flags, NULL, &parent_settid_word, NULL, &cleartid_word);
  SAYB("clone thread returns a tid", tid > 0);
  /* Wait until the kernel clears the word at the thread's exit. */
  for (;;) {
    pid_t v = cleartid_word;
    if (v == 0) break;
    syscall(SYS_futex, &cleartid_word, FUTEX_WAIT, v, NULL, NULL, 0);
  }
  SAYB("CLONE_PARENT_SETTID word == returned tid", parent_settid_word == tid);
  say("CLONE_CHILD_CLEARTID word after exit = %d", cleartid_word);
  SAYB("thread tid != pid", tid != getpid());
  /* The setter in the child: a process (no CLONE_VM), which sees its own copy. */
  pid_t p = clone(tid_child, stack_a + sizeof stack_a, CLONE_CHILD_SETTID | SIGCHLD, NULL, NULL, NULL, &child_settid_word);
  int st;
  waitpid(p, &st, 0);
  say_status("CLONE_CHILD_SETTID child saw its tid", st);
}

static void *thread_fn(void *arg) {
  long *out = arg;
  out[0] = syscall(SYS_gettid);
  out[1] = getpid();
  return (void *)7L;
}

static void threads(void) {
  long seen[2] = {0, 0};
  pthread_t th;
  CHECK("pthread_create", pthread_create(&th, NULL, thread_fn, seen));
  void *ret = NULL;
  CHECK("pthread_join", pthread_join(th, &ret));
  say("thread's return value = %ld", (long)ret);
  SAYB("thread's getpid == process's getpid", seen[1] == getpid());
  SAYB("thread's gettid != getpid", seen[0] != getpid());
  SAYB("main thread's gettid == getpid", syscall(SYS_gettid) == getpid());
  /* After the join (CLONE_CHILD_CLEARTID woke it), the thread is gone from /proc. */
  char path[64];
  snprintf(path, sizeof path, "/proc/self/task/%ld", seen[0]);
  struct stat st;
  CHECK("joined thread's /proc/self/task entry", stat(path, &st));
}

static void clone3_fallback(void) {
  /* clone3 itself is refused with ENOSYS in the sandbox (a policy: its struct is in
   * task memory); glibc then uses clone, so threads and posix_spawn still work. */
  CHECK("clone3 with a zero size", syscall(SYS_clone3, NULL, 0));
  pid_t p;
  char *argv[] = {"true", NULL};
  CHECK("posix_spawn /bin/true", posix_spawn(&p, "/bin/true", NULL, NULL, argv, environ));
  int st;
  SAYB("posix_spawn's pid is waitable", waitpid(p, &st, 0) == p);
  say_status("posix_spawn child", st);
  CHECK("posix_spawn missing", posix_spawn(&p, "/nonexistent/x", NULL, NULL, argv, environ));
  CHECK("posix_spawnp missing", posix_spawnp(&p, "no-such-command-here", NULL, NULL, argv, environ));
}

static void pidfd_clone(void) {
  int pidfd = -1;
  pid_t p = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, NULL, &pidfd, NULL, 0);
  if (p == 0) _exit(3);
  if (p < 0) {
    report("clone CLONE_PIDFD", -1, errno);
    return;
  }
  say("clone CLONE_PIDFD = ok");
  SAYB("clone CLONE_PIDFD gave an fd", pidfd >= 0);
  struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
  CHECK("poll pidfd until the child exits", poll(&pfd, 1, 10000));
  int st;
  waitpid(p, &st, 0);
  say_status("CLONE_PIDFD child", st);
  close(pidfd);
  /* CLONE_PIDFD and CLONE_PARENT_SETTID share the pointer: refused together. */
  CHECK("clone CLONE_PIDFD|CLONE_PARENT_SETTID", syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, NULL, &pidfd, NULL, 0));
}

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static void pidfds(void) {
  int go[2];
  pipe(go);
  pid_t p = fork();
  if (p == 0) {
    char c;
    read(go[0], &c, 1);
    _exit(0);
  }
  int pfd = syscall(SYS_pidfd_open, p, 0);
  SAYB("pidfd_open a child", pfd >= 0);
  struct pollfd pl = {.fd = pfd, .events = POLLIN};
  CHECK("poll the pidfd, child running", poll(&pl, 1, 0));
  /* pidfd_getfd: a copy of the child's end of the pipe it inherited. */
  int copy = syscall(SYS_pidfd_getfd, pfd, go[0], 0);
  SAYB("pidfd_getfd", copy >= 0);
  if (copy >= 0) {
    struct stat a, b;
    fstat(copy, &a);
    fstat(go[0], &b);
    SAYB("  the same pipe", a.st_ino == b.st_ino);
    close(copy);
  }
  CHECK("pidfd_getfd a closed fd", syscall(SYS_pidfd_getfd, pfd, 999, 0));
  CHECK("pidfd_getfd bad flags", syscall(SYS_pidfd_getfd, pfd, 0, 1));
  CHECK("pidfd_send_signal SIGTERM", syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0));
  int st;
  SAYB("waitpid == fork's return", waitpid(p, &st, 0) == p);
  say_status("child signalled through its pidfd", st);
  CHECK("poll the pidfd, child reaped", poll(&pl, 1, 0));
  CHECK("pidfd_send_signal to a reaped child", syscall(SYS_pidfd_send_signal, pfd, SIGTERM, NULL, 0));
  CHECK("pidfd_send_signal bad flags", syscall(SYS_pidfd_send_signal, pfd, 0, NULL, 99));
  CHECK("pidfd_open a reaped pid", syscall(SYS_pidfd_open, p, 0));
  CHECK("pidfd_open bad flags", syscall(SYS_pidfd_open, getpid(), 1));
  CHECK("pidfd_open 0", syscall(SYS_pidfd_open, 0, 0));
  CHECK("pidfd_send_signal not a pidfd", syscall(SYS_pidfd_send_signal, 0, SIGTERM, NULL, 0));
  close(pfd);
  close(go[0]);
  close(go[1]);
}

static void clone_errors(void) {
  CHECK("clone CLONE_THREAD without SIGHAND", syscall(SYS_clone, CLONE_THREAD, NULL, NULL, NULL, 0));
  CHECK("clone CLONE_SIGHAND without VM", syscall(SYS_clone, CLONE_SIGHAND, NULL, NULL, NULL, 0));
  /* Refused for the flags alone, before any privilege check (natively as root a
   * namespace would be made; these combinations never are). */
  CHECK("clone CLONE_FS|CLONE_NEWNS", syscall(SYS_clone, CLONE_FS | CLONE_NEWNS, NULL, NULL, NULL, 0));
  CHECK("clone CLONE_FS|CLONE_NEWUSER", syscall(SYS_clone, CLONE_FS | CLONE_NEWUSER, NULL, NULL, NULL, 0));
  CHECK("clone a thread in a new pid namespace",
        syscall(SYS_clone, CLONE_THREAD | CLONE_SIGHAND | CLONE_VM | CLONE_NEWPID, NULL, NULL, NULL, 0));
}

static void forks(void) {
  int pfd[2];
  pipe(pfd);
  pid_t p = fork();
  if (p == 0) {
    put_long(pfd[1], getpid());
    put_long(pfd[1], getppid());
    _exit(5);
  }
  pid_t me = getpid();
  SAYB("fork returns a pid", p > 0);
  long cpid = get_long(pfd[0]);
  long cppid = get_long(pfd[0]);
  SAYB("child's getpid == fork's return", cpid == p);
  SAYB("child's getppid == parent's getpid", cppid == me);
  int st;
  SAYB("waitpid == fork's return", waitpid(p, &st, 0) == p);
  say_status("fork child", st);

  /* vfork: the parent waits until the child execs or exits. */
  volatile int order = 0;
  p = vfork();
  if (p == 0) {
    order = 1;
    _exit(6);
  }
  say("vfork: child ran first = %d", order);
  waitpid(p, &st, 0);
  say_status("vfork child", st);
  p = vfork();
  if (p == 0) {
    execl(self, self, "exit", "11", (char *)NULL);
    _exit(127);
  }
  waitpid(p, &st, 0);
  say_status("vfork+exec child", st);
  close(pfd[0]);
  close(pfd[1]);
}

/* ---- exec ---- */

static void run_and_wait(const char *label, char *const argv[], char *const envp[]) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    execve(argv[0], argv, envp);
    say("  %s: execve = -1 %s", label, errname(errno));
    _exit(127);
  }
  int st;
  waitpid(p, &st, 0);
  say_status(label, st);
}

static void execs(void) {
  char *args[] = {(char *)self, "args", "", "a b", "\xc3\xbc", "--", NULL};
  char *env[] = {"A=1", "B=", "NOEQUALS", "Z=last", NULL};
  run_and_wait("exec argv/envp", args, env);
  char *noenv[] = {NULL};
  char *args2[] = {(char *)self, "args", NULL};
  run_and_wait("exec with an empty envp", args2, noenv);

  /* close-on-exec: the O_CLOEXEC fd is gone in the new image, the plain one is not;
   * FD_CLOEXEC set later with fcntl counts the same. */
  char *fdargs[] = {(char *)self, "fds", NULL};
  for (int how = 0; how < 2; how++) {
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      int cx = open(".", O_RDONLY | O_DIRECTORY | (how == 0 ? O_CLOEXEC : 0));
      int plain = open(".", O_RDONLY | O_DIRECTORY);
      if (how == 0) dup3(cx, 0, O_CLOEXEC);
      else {
        dup2(cx, 0);
        fcntl(0, F_SETFD, FD_CLOEXEC);
      }
      dup2(plain, 2);
      execve(self, fdargs, environ);
      _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
    say_status(how == 0 ? "exec close-on-exec (O_CLOEXEC)" : "exec close-on-exec (F_SETFD)", st);
  }

  /* A #! script with an argument: the interpreter gets [interp, arg, script, args...]. */
  char script[PATH_MAX + 64];
  snprintf(script, sizeof script, "#!%s interp\nthis is never run\n", self);
  put_file("script", script, 0755);
  char *sargs[] = {"./script", "s1", "s 2", NULL};
  run_and_wait("exec #! script", sargs, environ);
  snprintf(script, sizeof script, "#! %s   interp  \n", self); /* spaces around: trimmed; inner kept */
  put_file("script2", script, 0755);
  char *s2args[] = {"./script2", NULL};
  run_and_wait("exec #! with spaces", s2args, environ);
  put_file("badinterp", "#!/nonexistent/interpreter\n", 0755);
  char *biargs[] = {"./badinterp", NULL};
  run_and_wait("exec #! missing interpreter", biargs, environ);

  /* ENOEXEC: executable bits, but neither ELF nor #!. */
  put_file("junk", "\x01\x02\x03 not a program\n", 0755);
  char *jargs[] = {"./junk", NULL};
  CHECK("execve junk", execve("./junk", jargs, environ));
  put_file("empty", "", 0755);
  char *eargs[] = {"./empty", NULL};
  CHECK("execve empty file", execve("./empty", eargs, environ));

  /* EACCES: no x bit; a directory; ENOENT; ENOTDIR. */
  put_file("nox", "#!/bin/sh\n", 0644);
  char *nargs[] = {"./nox", NULL};
  CHECK("execve without x bit", execve("./nox", nargs, environ));
  mkdir("dir", 0755);
  CHECK("execve a directory", execve("./dir", nargs, environ));
  CHECK("execve missing", execve("./missing", nargs, environ));
  CHECK("execve through a file", execve("./nox/x", nargs, environ));
  CHECK("execve empty path", execve("", nargs, environ));
  CHECK("execve bad path pointer", execve(BADPTR, nargs, environ));
  CHECK("execve bad argv pointer", execve(self, BADPTR, environ));

  /* ETXTBSY: the file is open for writing. */
  int in = open("/bin/true", O_RDONLY);
  int out = open("mytrue", O_WRONLY | O_CREAT | O_TRUNC, 0755);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
  close(in);
  char *targs[] = {"./mytrue", NULL};
  CHECK("execve a file open for writing", execve("./mytrue", targs, environ));
  close(out);
  run_and_wait("exec it once closed", targs, environ);
  /* ... and the other way round: a running image cannot be opened for writing. */
  int pfd[2];
  pipe2(pfd, O_CLOEXEC);
  pid_t p = fork();
  if (p == 0) {
    /* sleep keeps its image busy; our read end sees EOF at its exec. */
    put_file("sleeper", "", 0755);
    execl("/bin/sleep", "sleep", "10", (char *)NULL);
    _exit(127);
  }
  close(pfd[1]);
  char c;
  read(pfd[0], &c, 1);
  close(pfd[0]);
  CHECK("open a running image for writing", open("/bin/sleep", O_WRONLY));
  kill(p, SIGKILL);
  int st;
  waitpid(p, &st, 0);
  say_status("sleep killed", st);

  /* execveat: an fd and AT_EMPTY_PATH (fexecve), a dirfd and a name, NOFOLLOW on a symlink. */
  int dirfd = open(".", O_RDONLY | O_DIRECTORY);
  symlink("mytrue", "link");
  fflush(stdout);
  p = fork();
  if (p == 0) {
    int fd = open("mytrue", O_RDONLY);
    syscall(SYS_execveat, fd, "", targs, environ, AT_EMPTY_PATH);
    say("  execveat AT_EMPTY_PATH = -1 %s", errname(errno));
    _exit(127);
  }
  waitpid(p, &st, 0);
  say_status("execveat AT_EMPTY_PATH", st);
  p = fork();
  if (p == 0) {
    syscall(SYS_execveat, dirfd, "mytrue", targs, environ, 0);
    _exit(127);
  }
  waitpid(p, &st, 0);
  say_status("execveat dirfd+name", st);
  CHECK("execveat NOFOLLOW on a symlink", syscall(SYS_execveat, dirfd, "link", targs, environ, AT_SYMLINK_NOFOLLOW));
  CHECK("execveat bad flags", syscall(SYS_execveat, dirfd, "mytrue", targs, environ, 0x40000));
  CHECK("execveat bad dirfd", syscall(SYS_execveat, 999, "mytrue", targs, environ, 0));
  CHECK("execveat dirfd not a dir", syscall(SYS_execveat, 0, "mytrue", targs, environ, 0));
  close(dirfd);
}

/* ---- exit ---- */

static void *exit_group_thread(void *arg) {
  (void)arg;
  syscall(SYS_exit_group, 7);
  return NULL;
}

static void *thread_exit_only(void *arg) {
  (void)arg;
  syscall(SYS_exit, 0); /* ends this thread only */
  return NULL;
}

static void *late_exit(void *arg) {
  (void)arg;
  usleep(20000);
  exit(9);
}

static void exits(void) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    pthread_t th;
    pthread_create(&th, NULL, exit_group_thread, NULL);
    for (;;) pause();
  }
  int st;
  waitpid(p, &st, 0);
  say_status("exit_group from a thread", st);

  p = fork();
  if (p == 0) {
    pthread_t th;
    pthread_create(&th, NULL, thread_exit_only, NULL);
    pthread_join(th, NULL);
    _exit(4);
  }
  waitpid(p, &st, 0);
  say_status("exit from a thread, then the process", st);

  /* The main thread ends (pthread_exit); the process lives on in the other thread. */
  p = fork();
  if (p == 0) {
    pthread_t th;
    pthread_create(&th, NULL, late_exit, NULL);
    pthread_exit(NULL);
  }
  waitpid(p, &st, 0);
  say_status("main thread exits first", st);
  p = fork();
  if (p == 0) _exit(256 + 3);
  waitpid(p, &st, 0);
  say_status("exit status is 8 bits", st);
}

/* ---- wait ---- */

static void waits(void) {
  int st = 0;
  siginfo_t si;
  CHECK("waitpid with no children", waitpid(-1, &st, 0));
  CHECK("waitid P_ALL with no children", waitid(P_ALL, 0, &si, WEXITED));
  CHECK("waitpid WNOHANG with no children", waitpid(-1, &st, WNOHANG));
  CHECK("waitpid bad options", waitpid(-1, &st, 0x10000000));
  CHECK("waitid no event wanted", waitid(P_ALL, 0, &si, 0));
  CHECK("waitid bad idtype", waitid(99, 0, &si, WEXITED));
  CHECK("waitid P_PID 0", waitid(P_PID, 0, &si, WEXITED));

  int go[2];
  pipe(go);
  pid_t p = fork();
  if (p == 0) {
    char c;
    read(go[0], &c, 1);
    _exit(12);
  }
  CHECK("waitpid WNOHANG, child running", waitpid(p, &st, WNOHANG));
  memset(&si, 0xff, sizeof si);
  CHECK("waitid WNOHANG, child running", waitid(P_PID, p, &si, WEXITED | WNOHANG));
  say("waitid WNOHANG si_pid when nothing = %d", si.si_pid);
  CHECK("waitpid a non-child", waitpid(getppid(), &st, 0));
  write(go[1], "x", 1);
  /* WNOWAIT: see the exit without reaping it, then reap it. */
  memset(&si, 0, sizeof si);
  CHECK("waitid WEXITED|WNOWAIT", waitid(P_PID, p, &si, WEXITED | WNOWAIT));
  SAYB("waitid si_pid == fork's return", si.si_pid == p);
  say("waitid si_code = %d (CLD_EXITED %d), si_status = %d, si_signo = %d", si.si_code, CLD_EXITED, si.si_status, si.si_signo);
  say("zombie's /proc state = %c", proc_state(p));
  memset(&si, 0, sizeof si);
  CHECK("waitid WEXITED again", waitid(P_PID, p, &si, WEXITED));
  say("waitid again si_status = %d", si.si_status);
  say("reaped child's /proc state = %c", proc_state(p));
  CHECK("waitid after reaping", waitid(P_PID, p, &si, WEXITED));

  /* Stop and continue: WUNTRACED/WSTOPPED, WCONTINUED. */
  p = fork();
  if (p == 0) {
    for (;;) pause();
  }
  kill(p, SIGSTOP);
  SAYB("waitpid WUNTRACED == pid", waitpid(p, &st, WUNTRACED) == p);
  say_status("after SIGSTOP", st);
  CHECK("waitpid WUNTRACED again (reported once)", waitpid(p, &st, WUNTRACED | WNOHANG));
  kill(p, SIGCONT);
  SAYB("waitpid WCONTINUED == pid", waitpid(p, &st, WCONTINUED) == p);
  say_status("after SIGCONT", st);
  kill(p, SIGSTOP);
  memset(&si, 0, sizeof si);
  CHECK("waitid WSTOPPED", waitid(P_PID, p, &si, WSTOPPED));
  say("waitid WSTOPPED si_code = %d (CLD_STOPPED %d) si_status = %d", si.si_code, CLD_STOPPED, si.si_status);
  kill(p, SIGCONT);
  memset(&si, 0, sizeof si);
  CHECK("waitid WCONTINUED", waitid(P_PID, p, &si, WCONTINUED));
  say("waitid WCONTINUED si_code = %d (CLD_CONTINUED %d) si_status = %d", si.si_code, CLD_CONTINUED, si.si_status);
  kill(p, SIGTERM);
  memset(&si, 0, sizeof si);
  CHECK("waitid WEXITED, killed", waitid(P_PID, p, &si, WEXITED));
  say("killed: si_code = %d (CLD_KILLED %d) si_status = %d", si.si_code, CLD_KILLED, si.si_status);

  /* P_PGID and waitpid(-pgid): a child in its own group. */
  p = fork();
  if (p == 0) {
    setpgid(0, 0);
    _exit(21);
  }
  setpgid(p, p);
  memset(&si, 0, sizeof si);
  CHECK("waitid P_PGID", waitid(P_PGID, p, &si, WEXITED));
  SAYB("waitid P_PGID si_pid == fork's return", si.si_pid == p);
  p = fork();
  if (p == 0) {
    setpgid(0, 0);
    _exit(22);
  }
  setpgid(p, p);
  SAYB("waitpid(-pgid) == fork's return", waitpid(-p, &st, 0) == p);
  say_status("waitpid(-pgid)", st);
  CHECK("waitid P_PGID, empty group", waitid(P_PGID, p, &si, WEXITED));
  p = fork();
  if (p == 0) _exit(23);
  memset(&si, 0, sizeof si);
  CHECK("waitid P_ALL", waitid(P_ALL, 0, &si, WEXITED));
  say("waitid P_ALL si_status = %d", si.si_status);

  /* A clone child with no exit signal: only __WCLONE or __WALL waits for it. */
  p = clone(vm_child, stack_a + sizeof stack_a, 0, (void *)1L);
  usleep(1000);
  CHECK("waitpid a clone child without __WALL", waitpid(p, &st, WNOHANG));
  SAYB("waitpid __WALL == clone's return", waitpid(p, &st, __WALL) == p);
  say_status("clone child, no exit signal", st);
  p = clone(vm_child, stack_a + sizeof stack_a, 0, (void *)1L);
  SAYB("waitpid __WCLONE == clone's return", waitpid(p, &st, __WCLONE) == p);

  /* wait4 with rusage. */
  p = fork();
  if (p == 0) _exit(1);
  struct rusage ru;
  SAYB("wait4 with rusage == pid", wait4(p, &st, 0, &ru) == p);
  /* The child is reaped even though its status cannot be stored. */
  p = fork();
  if (p == 0) _exit(0);
  CHECK("wait4 bad status pointer", wait4(p, BADPTR, 0, NULL));
  CHECK("wait4 after that", wait4(p, &st, WNOHANG, NULL));
}

/* ---- zombies and subreapers ---- */

static void reparenting(void) {
  CHECK("PR_GET_CHILD_SUBREAPER", ({ int v = -1; prctl(PR_GET_CHILD_SUBREAPER, &v); v; }));
  CHECK("PR_SET_CHILD_SUBREAPER", prctl(PR_SET_CHILD_SUBREAPER, 1));
  CHECK("PR_GET_CHILD_SUBREAPER after", ({ int v = -1; prctl(PR_GET_CHILD_SUBREAPER, &v); v; }));
  int rep[2];
  pipe(rep);
  pid_t me = getpid();
  fflush(stdout);
  pid_t a = fork();
  if (a == 0) {
    pid_t mid = getpid();
    pid_t g = fork();
    if (g == 0) {
      /* The grandchild: wait for the middle process to go, then report its new parent. */
      for (int i = 0; i < 10000 && getppid() == mid; i++) usleep(1000);
      put_long(rep[1], getpid());
      put_long(rep[1], getppid() == me);
      _exit(0);
    }
    _exit(0);
  }
  int st;
  waitpid(a, &st, 0);
  long g = get_long(rep[0]);
  long ok = get_long(rep[0]);
  say("orphan's new getppid == subreaper's getpid = %ld", ok);
  SAYB("subreaper reaps the orphan", waitpid((pid_t)g, &st, 0) == g);
  say_status("orphan", st);

  /* The same when the middle process is killed outright (it never makes an exit call). */
  int armed[2];
  pipe(armed);
  a = fork();
  if (a == 0) {
    pid_t mid = getpid();
    pid_t g2 = fork();
    if (g2 == 0) {
      put_long(armed[1], getppid() == mid);
      for (int i = 0; i < 10000 && getppid() == mid; i++) usleep(1000);
      put_long(rep[1], getpid());
      put_long(rep[1], getppid() == me);
      _exit(0);
    }
    for (;;) pause();
  }
  say("grandchild's getppid == the middle's pid = %ld", get_long(armed[0]));
  kill(a, SIGKILL);
  waitpid(a, &st, 0);
  say_status("middle process", st);
  g = get_long(rep[0]);
  ok = get_long(rep[0]);
  say("orphan of a killed parent: getppid == subreaper's getpid = %ld", ok);
  SAYB("subreaper reaps it", waitpid((pid_t)g, &st, 0) == g);
  close(armed[0]);
  close(armed[1]);
  prctl(PR_SET_CHILD_SUBREAPER, 0);
  close(rep[0]);
  close(rep[1]);
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc > 1) return image(argc, argv);
  forks();
  threads();
  thread_like_clone();
  tid_pointers();
  clone3_fallback();
  pidfd_clone();
  pidfds();
  clone_errors();
  execs();
  exits();
  waits();
  reparenting();
  return 0;
}
