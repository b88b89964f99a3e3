/*
 * Races the kernel settles: a thread calls execve while another thread runs
 * (the exec succeeds, the other thread is gone, the pid stays); a process
 * killed while running or while exiting is waited for (WIFSIGNALED SIGKILL);
 * threads racing to exit_group; a signal racing a blocking wait; a vfork
 * child exec'ing while its parent waits.
 */
#include "proc.h"
#include <dirent.h>

static const char *self;

static int count_threads(void) {
  DIR *d = opendir("/proc/self/task");
  int n = 0;
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (e->d_name[0] != '.') n++;
  if (d) closedir(d);
  return n;
}

/* The image the exec'ing thread starts: reports on fd 0 (a pipe kept open across exec). */
static int after_exec(void) {
  put_long(0, getpid());
  put_long(0, syscall(SYS_gettid));
  put_long(0, count_threads());
  put_long(0, getppid());
  return 0;
}

static char **exec_argv;

static void *exec_from_thread(void *arg) {
  (void)arg;
  usleep(10000); /* let the main thread get into its loop */
  execv(self, exec_argv);
  _exit(126);
}

static void *spin(void *arg) {
  (void)arg;
  for (;;) busy(1000000);
  return NULL;
}

static void thread_exec(void) {
  int rep[2];
  pipe(rep);
  pid_t me = getpid();
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    dup2(rep[1], 0);
    static char *argv[3];
    argv[0] = (char *)self;
    argv[1] = "after-exec";
    argv[2] = NULL;
    exec_argv = argv;
    pthread_t a, b;
    pthread_create(&b, NULL, spin, NULL);
    pthread_create(&a, NULL, exec_from_thread, NULL);
    for (;;) busy(1000000); /* the main thread keeps running until the exec ends it */
  }
  long pid = get_long(rep[0]), tid = get_long(rep[0]), threads = get_long(rep[0]), ppid = get_long(rep[0]);
  SAYB("after a thread's exec: getpid == fork's return", pid == p);
  SAYB("after a thread's exec: gettid == getpid", tid == p);
  say("after a thread's exec: threads = %ld", threads);
  SAYB("after a thread's exec: getppid == parent's getpid", ppid == me);
  int st;
  SAYB("waitpid == fork's return", waitpid(p, &st, 0) == p);
  say_status("exec'd process", st);
  close(rep[0]);
  close(rep[1]);
}

static void kill_running(void) {
  /* SIGKILL right after fork: whatever the child is doing (even still being born). */
  for (int i = 0; i < 5; i++) {
    pid_t p = fork();
    if (p == 0) {
      for (;;) busy(1000000);
    }
    CHECK("kill -9 a just-forked child", kill(p, SIGKILL));
    int st;
    SAYB("  waitpid == fork's return", waitpid(p, &st, 0) == p);
    say_status("  child", st);
  }
  /* SIGKILL while the child is exiting: the exit or the kill, never both, never neither. */
  int ok = 0;
  for (int i = 0; i < 20; i++) {
    pid_t p = fork();
    if (p == 0) _exit(3);
    kill(p, SIGKILL);
    int st;
    if (waitpid(p, &st, 0) == p && ((WIFEXITED(st) && WEXITSTATUS(st) == 3) || (WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL))) ok++;
  }
  say("kill -9 racing _exit: each reaped once, exit 3 or SIGKILL = %d of 20", ok);
  /* A killed child blocked in a trapped call (an open of a FIFO with no writer). */
  mkfifo("fifo", 0644);
  pid_t p = fork();
  if (p == 0) {
    open("fifo", O_RDONLY);
    _exit(0);
  }
  wait_asleep(p);
  kill(p, SIGKILL);
  int st;
  waitpid(p, &st, 0);
  say_status("killed in a blocking open", st);
  /* A killed multi-threaded child. */
  p = fork();
  if (p == 0) {
    pthread_t t;
    for (int i = 0; i < 3; i++) pthread_create(&t, NULL, spin, NULL);
    for (;;) pause();
  }
  usleep(10000);
  kill(p, SIGKILL);
  waitpid(p, &st, 0);
  say_status("killed with 4 threads", st);
}

static void *exit_racer(void *arg) {
  syscall(SYS_exit_group, (int)(long)arg);
  return NULL;
}

static void exit_races(void) {
  /* Several threads call exit_group at once: the process exits once, with one of their codes. */
  int ok = 0;
  for (int i = 0; i < 10; i++) {
    pid_t p = fork();
    if (p == 0) {
      pthread_t t;
      for (int k = 1; k <= 4; k++) pthread_create(&t, NULL, exit_racer, (void *)(long)(10 + k));
      syscall(SYS_exit_group, 10);
    }
    int st;
    if (waitpid(p, &st, 0) == p && WIFEXITED(st) && WEXITSTATUS(st) >= 10 && WEXITSTATUS(st) <= 14) ok++;
  }
  say("racing exit_groups: one exit with one of the codes = %d of 10", ok);
  /* The parent waits while children exit in any order: each reaped exactly once. */
  pid_t kids[8];
  for (int i = 0; i < 8; i++) {
    kids[i] = fork();
    if (kids[i] == 0) _exit(i);
  }
  int seen = 0, st;
  pid_t w;
  while ((w = wait(&st)) > 0) {
    for (int i = 0; i < 8; i++)
      if (kids[i] == w && WIFEXITED(st) && WEXITSTATUS(st) == i) seen |= 1 << i;
  }
  say("8 children, each reaped once with its code = %d", seen == 0xff);
  CHECK("then wait", wait(&st));
}

static volatile sig_atomic_t got_usr1;
static void on_usr1(int s) {
  (void)s;
  got_usr1 = 1;
}

static void wait_interrupted(void) {
  /* A signal while blocked in waitpid: EINTR without SA_RESTART, restarted with it. */
  struct sigaction sa = {.sa_handler = on_usr1};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGUSR1, &sa, NULL);
  pid_t parent = getpid();
  int go[2];
  pipe(go);
  for (int restart = 0; restart < 2; restart++) {
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGUSR1, &sa, NULL);
    got_usr1 = 0;
    pid_t p = fork();
    if (p == 0) {
      wait_asleep(parent);
      kill(parent, SIGUSR1);
      /* Without SA_RESTART the parent's waitpid returned; it lets us go. With it, the
       * parent is back in waitpid, for us to exit. */
      char c;
      if (!restart) read(go[0], &c, 1);
      else usleep(20000);
      _exit(5);
    }
    int st;
    errno = 0;
    pid_t r = waitpid(p, &st, 0);
    say("waitpid with a signal, %s = %s", restart ? "SA_RESTART" : "no SA_RESTART",
        r == p ? "the child" : r < 0 ? errname(errno) : "?");
    say("  handled = %d", got_usr1);
    if (!restart) write(go[1], "x", 1);
    if (r != p) waitpid(p, &st, 0);
  }
  signal(SIGUSR1, SIG_DFL);
  close(go[0]);
  close(go[1]);
}

static void vfork_exec(void) {
  /* vfork then exec: the parent resumes at the exec; the child's exit comes later. */
  int rep[2];
  pipe(rep);
  pid_t p = vfork();
  if (p == 0) {
    dup2(rep[1], 0);
    execl(self, self, "after-exec", (char *)NULL);
    _exit(127);
  }
  long pid = get_long(rep[0]);
  get_long(rep[0]);
  long threads = get_long(rep[0]);
  get_long(rep[0]);
  SAYB("vfork+exec: the new image's getpid == vfork's return", pid == p);
  say("vfork+exec: threads = %ld", threads);
  int st;
  waitpid(p, &st, 0);
  say_status("vfork+exec child", st);
  close(rep[0]);
  close(rep[1]);
}

int main(int argc, char **argv) {
  self = argv[0];
  if (argc > 1 && strcmp(argv[1], "after-exec") == 0) return after_exec();
  thread_exec();
  kill_running();
  exit_races();
  wait_interrupted();
  vfork_exec();
  return 0;
}
