/*
 * Credentials: the set*id family as root dropping to 1000 (then EPERM going
 * back), setgroups, setfsuid's effect on file access, capget/capset (a
 * dropped CAP_CHOWN makes chown fail), the bounding and ambient sets, and
 * prctl's per-process flags: no_new_privs, name, parent-death signal,
 * dumpable; a nested seccomp filter. Each change is made in a child, so the
 * next check starts from root again.
 */
#include "proc.h"
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/fsuid.h>

static int capget_raw(struct __user_cap_data_struct d[2]) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  return syscall(SYS_capget, &h, d);
}
static int capset_raw(struct __user_cap_data_struct d[2]) {
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  return syscall(SYS_capset, &h, d);
}


static void show_ids(const char *label) {
  uid_t r, e, s;
  gid_t gr, ge, gs;
  getresuid(&r, &e, &s);
  getresgid(&gr, &ge, &gs);
  say("%s: uid %u/%u/%u gid %u/%u/%u fsuid %d", label, r, e, s, gr, ge, gs, setfsuid(-1));
}

static void drop_all(void) {
  gid_t g[] = {1000, 1001};
  CHECK("setgroups 2", setgroups(2, g));
  gid_t got[8];
  CHECK("getgroups", getgroups(8, got));
  say("groups = %u %u", got[0], got[1]);
  CHECK("getgroups too small", getgroups(1, got));
  CHECK("setresgid 1000", setresgid(1000, 1000, 1000));
  CHECK("setresuid 1000", setresuid(1000, 1000, 1000));
  show_ids("after dropping");
  struct __user_cap_data_struct d[2];
  CHECK("capget", capget_raw(d));
  say("caps after dropping: effective %x permitted %x", d[0].effective, d[0].permitted);
  CHECK("setuid 0 back", setuid(0));
  CHECK("seteuid 0 back", seteuid(0));
  CHECK("setresuid 0 back", setresuid(-1, 0, -1));
  CHECK("setgid 0 back", setgid(0));
  CHECK("setgroups back", setgroups(0, NULL));
  CHECK("setuid to itself", setuid(1000));
  CHECK("setuid 1001", setuid(1001));
  CHECK("setreuid swap with itself", setreuid(1000, 1000));
  CHECK("setfsuid 0 (refused, returns current)", setfsuid(0));
  say("fsuid still = %d", setfsuid(-1));
  CHECK("chown as 1000", chown("rootfile", 1000, 1000));
  CHECK("open root's 0600 file as 1000", open("rootfile", O_RDONLY));
  CHECK("kill root parent as 1000", kill(getppid(), 0));
}

static void saved_ids(void) {
  /* seteuid keeps the saved uid: the way back stays open. */
  CHECK("seteuid 1000", seteuid(1000));
  show_ids("after seteuid");
  CHECK("open root's 0600 file with euid 1000", open("rootfile", O_RDONLY));
  CHECK("seteuid 0 from the saved uid", seteuid(0));
  show_ids("back");
  CHECK("setreuid 1000 1000", setreuid(1000, 1000));
  show_ids("after setreuid");
  CHECK("setreuid back to 0", setreuid(-1, 0));
  CHECK("setresuid -1 to 2000", ({ int r = setresuid(-1, -1, -1); r; }));
}

static void setreuid_keeps(void) {
  /* setreuid(-1, e): the real uid stays 0, so the saved uid becomes e and 0 can come back. */
  CHECK("setreuid -1 1000", setreuid(-1, 1000));
  show_ids("after setreuid -1 1000");
  CHECK("setreuid -1 0 (real uid is 0)", setreuid(-1, 0));
  show_ids("back");
  CHECK("setresuid 1000 2000 3000", setresuid(1000, 2000, 3000));
  show_ids("after setresuid");
  CHECK("setresuid to the saved one", setresuid(-1, 3000, -1));
  CHECK("setresuid to an unknown one", setresuid(-1, 4000, -1));
  CHECK("setresgid as non-root", setresgid(5, 5, 5));
}

static void fsuid(void) {
  say("setfsuid 1000 returns the old = %d", setfsuid(1000));
  say("setfsuid -1 returns the current = %d", setfsuid(-1));
  show_ids("after setfsuid");
  /* A non-zero fsuid drops the file capabilities: root's 0600 file is closed to it. */
  CHECK("open root's 0600 file with fsuid 1000", open("rootfile", O_RDONLY));
  int fd = open("made-by-fsuid", O_WRONLY | O_CREAT, 0644);
  SAYB("create with fsuid 1000 (the dir is 0777)", fd >= 0);
  struct stat st;
  stat("made-by-fsuid", &st);
  say("its owner = %u:%u", st.st_uid, st.st_gid);
  say("setfsgid 1000 returns the old = %d", setfsgid(1000));
  say("setfsuid 0 returns the old = %d", setfsuid(0));
  CHECK_OK("open root's 0600 file with fsuid 0 again", open("rootfile", O_RDONLY));
  int fd2 = open("made-by-fsgid", O_WRONLY | O_CREAT, 0644);
  fstat(fd2, &st);
  say("made with fsgid 1000: owner = %u:%u", st.st_uid, st.st_gid);
}

static void caps(void) {
  struct __user_cap_data_struct d[2];
  CHECK("capget", capget_raw(d));
  SAYB("CAP_CHOWN effective", d[0].effective & (1u << CAP_CHOWN));
  SAYB("CAP_SETUID permitted", d[0].permitted & (1u << CAP_SETUID));
  d[0].effective &= ~(1u << CAP_CHOWN);
  CHECK("capset without CAP_CHOWN effective", capset_raw(d));
  CHECK("chown without CAP_CHOWN", chown("rootfile", 1000, 1000));
  CHECK("chown to itself without CAP_CHOWN", chown("rootfile", 0, 0));
  d[0].effective |= 1u << CAP_CHOWN;
  CHECK("capset CAP_CHOWN back (still permitted)", capset_raw(d));
  CHECK("chown with CAP_CHOWN", chown("rootfile", 1000, 1000));
  chown("rootfile", 0, 0);
  d[0].effective &= ~(1u << CAP_CHOWN);
  d[0].permitted &= ~(1u << CAP_CHOWN);
  CHECK("capset dropping CAP_CHOWN from permitted", capset_raw(d));
  d[0].effective |= 1u << CAP_CHOWN;
  CHECK("capset CAP_CHOWN effective, not permitted", capset_raw(d));
  d[0].permitted |= 1u << CAP_CHOWN;
  CHECK("capset CAP_CHOWN permitted again", capset_raw(d));
  /* Header errors: a bad version is EINVAL and the kernel writes its own back. */
  struct __user_cap_header_struct h = {.version = 0x12345678, .pid = 0};
  CHECK("capget bad version", syscall(SYS_capget, &h, d));
  say("version written back = %x", h.version);
  h.version = _LINUX_CAPABILITY_VERSION_3;
  h.pid = -5;
  CHECK("capget negative pid", syscall(SYS_capget, &h, d));
  h.pid = getppid();
  CHECK("capset another pid", syscall(SYS_capset, &h, d));
  h.pid = 0;
  CHECK("capget null data (version probe)", syscall(SYS_capget, &h, NULL));
  CHECK("capget bad header", syscall(SYS_capget, BADPTR, d));
}

static void capget_parent(void) {
  /* capget of another process names it by pid. */
  struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = getppid()};
  struct __user_cap_data_struct d[2];
  CHECK("capget the parent", syscall(SYS_capget, &h, d));
  SAYB("the parent has CAP_CHOWN", d[0].effective & (1u << CAP_CHOWN));
  pid_t p = fork();
  if (p == 0) _exit(0);
  waitpid(p, NULL, 0);
  h.pid = p;
  CHECK("capget a reaped pid", syscall(SYS_capget, &h, d));
}

static void bounding(void) {
  CHECK("PR_CAPBSET_READ CAP_CHOWN", prctl(PR_CAPBSET_READ, CAP_CHOWN));
  CHECK("PR_CAPBSET_READ CAP_SETUID", prctl(PR_CAPBSET_READ, CAP_SETUID));
  CHECK("PR_CAPBSET_READ 99", prctl(PR_CAPBSET_READ, 99));
  CHECK("PR_CAPBSET_DROP CAP_CHOWN", prctl(PR_CAPBSET_DROP, CAP_CHOWN));
  CHECK("PR_CAPBSET_READ CAP_CHOWN after", prctl(PR_CAPBSET_READ, CAP_CHOWN));
  CHECK("PR_CAPBSET_DROP 99", prctl(PR_CAPBSET_DROP, 99));
  /* Still in the effective set until an exec: chown works. */
  CHECK("chown after the bounding drop", chown("rootfile", 0, 0));

  /* Ambient: needs the capability permitted and inheritable. */
  CHECK("PR_CAP_AMBIENT_IS_SET CAP_KILL", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
  CHECK("PR_CAP_AMBIENT_RAISE, not inheritable", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
  struct __user_cap_data_struct d[2];
  capget_raw(d);
  d[0].inheritable |= 1u << CAP_KILL;
  CHECK("capset CAP_KILL inheritable", capset_raw(d));
  CHECK("PR_CAP_AMBIENT_RAISE", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0));
  CHECK("PR_CAP_AMBIENT_IS_SET after", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
  CHECK("PR_CAP_AMBIENT_LOWER", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, CAP_KILL, 0, 0));
  CHECK("PR_CAP_AMBIENT_IS_SET lowered", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_KILL, 0, 0);
  CHECK("PR_CAP_AMBIENT_CLEAR_ALL", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0));
  CHECK("PR_CAP_AMBIENT_IS_SET cleared", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_KILL, 0, 0));
  CHECK("PR_CAP_AMBIENT bad op", prctl(PR_CAP_AMBIENT, 99, 0, 0, 0));
  CHECK("PR_CAP_AMBIENT_RAISE, not in the bounding set", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_CHOWN, 0, 0));
  CHECK("PR_CAP_AMBIENT with stray args", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 1, 0, 0));
}

static void flags(void) {
  CHECK("PR_SET_NO_NEW_PRIVS 1", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
  CHECK("PR_GET_NO_NEW_PRIVS after setting", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  CHECK("PR_SET_NO_NEW_PRIVS 0", prctl(PR_SET_NO_NEW_PRIVS, 0, 0, 0, 0));
  CHECK("PR_SET_NO_NEW_PRIVS stray args", prctl(PR_SET_NO_NEW_PRIVS, 1, 1, 0, 0));
  CHECK("PR_GET_NO_NEW_PRIVS stray args", prctl(PR_GET_NO_NEW_PRIVS, 1, 0, 0, 0));
}

static void names(void) {
  char name[32] = {0};
  CHECK("PR_SET_NAME", prctl(PR_SET_NAME, "differ-name"));
  CHECK("PR_GET_NAME", prctl(PR_GET_NAME, name));
  say("name = %s", name);
  say("/proc/self/comm = %s", strtok((char *)get_file("/proc/self/comm"), "\n"));
  CHECK("PR_SET_NAME long", prctl(PR_SET_NAME, "a-name-longer-than-fifteen"));
  prctl(PR_GET_NAME, name);
  say("long name kept as = %s", name);
  CHECK("PR_SET_NAME bad pointer", prctl(PR_SET_NAME, BADPTR));
  CHECK("PR_GET_NAME bad pointer", prctl(PR_GET_NAME, BADPTR));
  CHECK("write /proc/self/comm", ({ int fd = open("/proc/self/comm", O_WRONLY); long r = write(fd, "viaproc", 7); close(fd); r; }));
  prctl(PR_GET_NAME, name);
  say("name after /proc write = %s", name);

  int v = -1;
  CHECK("PR_GET_PDEATHSIG", prctl(PR_GET_PDEATHSIG, &v));
  say("pdeathsig = %d", v);
  CHECK("PR_SET_PDEATHSIG SIGUSR1", prctl(PR_SET_PDEATHSIG, SIGUSR1));
  prctl(PR_GET_PDEATHSIG, &v);
  say("pdeathsig after = %d", v);
  CHECK("PR_SET_PDEATHSIG 99", prctl(PR_SET_PDEATHSIG, 99));
  CHECK("PR_GET_PDEATHSIG bad pointer", prctl(PR_GET_PDEATHSIG, BADPTR));

  CHECK("PR_GET_DUMPABLE", prctl(PR_GET_DUMPABLE));
  CHECK("PR_SET_DUMPABLE 0", prctl(PR_SET_DUMPABLE, 0));
  CHECK("PR_GET_DUMPABLE after", prctl(PR_GET_DUMPABLE));
  CHECK("PR_SET_DUMPABLE 2", prctl(PR_SET_DUMPABLE, 2));
  CHECK("PR_SET_DUMPABLE 1", prctl(PR_SET_DUMPABLE, 1));
  CHECK("prctl unknown option", prctl(0x7fff1234, 0, 0, 0, 0));
}

static void pdeathsig(void) {
  /* The parent-death signal arrives when the parent (a thread of it, here the whole process) dies. */
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  int rep[2];
  pipe(rep);
  pid_t mid = fork();
  if (mid == 0) {
    pid_t g = fork();
    if (g == 0) {
      sigset_t s;
      sigemptyset(&s);
      sigaddset(&s, SIGUSR1);
      sigprocmask(SIG_BLOCK, &s, NULL);
      prctl(PR_SET_PDEATHSIG, SIGUSR1);
      put_long(rep[1], 1); /* armed */
      int sig = 0;
      sigwait(&s, &sig);
      put_long(rep[1], sig);
      _exit(0);
    }
    get_long(rep[0]);
    _exit(0);
  }
  int st;
  waitpid(mid, &st, 0);
  say("pdeathsig delivered on the parent's exit = %ld", get_long(rep[0]));
  while (wait(&st) > 0) {}
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

static void nested_seccomp(void) {
  struct sock_filter f[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOTTY),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = 4, .filter = f};
  pid_t before = getppid();
  CHECK("seccomp bad op", syscall(SYS_seccomp, 99, 0, &prog));
  CHECK("seccomp bad flags", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0x80000000u, &prog));
  CHECK("seccomp bad program pointer", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, BADPTR));
  unsigned action = SECCOMP_RET_ERRNO;
  CHECK("SECCOMP_GET_ACTION_AVAIL errno", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
  action = 0x12340000;
  CHECK("SECCOMP_GET_ACTION_AVAIL unknown", syscall(SYS_seccomp, SECCOMP_GET_ACTION_AVAIL, 0, &action));
  CHECK("seccomp filter", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
  CHECK("getppid under the filter", syscall(SYS_getppid));
  SAYB("getpid still works", getpid() > 0);
  CHECK("PR_GET_SECCOMP", prctl(PR_GET_SECCOMP));
  (void)before;
  /* A child inherits the filter. */
  pid_t p = fork();
  if (p == 0) _exit(syscall(SYS_getppid) == -1 && errno == ENOTTY ? 0 : 1);
  int st;
  waitpid(p, &st, 0);
  say_status("child under the inherited filter", st);
}

static void seccomp_needs_nnp(void) {
  /* Without no_new_privs, a filter needs CAP_SYS_ADMIN; uid 1000 has none. */
  setgid(1000);
  setuid(1000);
  struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog prog = {.len = 1, .filter = f};
  /* Natively no_new_privs is off here, so EACCES; the sandbox set it on its program. */
  CHECK("uid 1000 seccomp filter, no_new_privs as inherited", syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog));
}

int main(void) {
  put_file("rootfile", "secret\n", 0600);
  chmod(".", 0777);
  say("PR_GET_NO_NEW_PRIVS at start = %d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
  in_child("drop to 1000", drop_all);
  in_child("saved ids", saved_ids);
  in_child("setreuid", setreuid_keeps);
  in_child("setfsuid", fsuid);
  in_child("capabilities", caps);
  in_child("capget of others", capget_parent);
  in_child("bounding and ambient", bounding);
  in_child("no_new_privs", flags);
  in_child("name, pdeathsig, dumpable", names);
  in_child("parent-death signal", pdeathsig);
  in_child("nested seccomp", nested_seccomp);
  in_child("seccomp without privileges", seccomp_needs_nnp);
  return 0;
}
