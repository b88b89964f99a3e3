/* setxattr, getxattr, listxattr, removexattr and their l* and f* forms. */
#include "check.h"
#include <sys/xattr.h>

/** The names a list holds, sorted, as one line. */
static void show_list(const char *label, const char *buf, long n) {
  if (n < 0) {
    report(label, n, errno);
    return;
  }
  const char *names[64];
  int count = 0;
  for (long i = 0; i < n && count < 64; i += (long)strlen(buf + i) + 1) names[count++] = buf + i;
  for (int i = 0; i < count; i++)
    for (int j = i + 1; j < count; j++)
      if (strcmp(names[i], names[j]) > 0) {
        const char *t = names[i];
        names[i] = names[j];
        names[j] = t;
      }
  printf("%s (%ld bytes):", label, n);
  for (int i = 0; i < count; i++) printf(" %s", names[i]);
  printf("\n");
  fflush(stdout);
}

int main(void) {
  char buf[256];
  char list[1024];
  put_file("f", "x", 0644);
  mkdir("d", 0755);
  symlink("f", "lf");
  symlink("missing", "dangling");
  int ffd = open("f", O_RDWR);
  int pfd = open("f", O_PATH);

  CHECK("setxattr", setxattr("f", "user.a", "value-a", 7, 0));
  CHECK("setxattr empty value", setxattr("f", "user.empty", "", 0, 0));
  CHECK("setxattr CREATE existing", setxattr("f", "user.a", "x", 1, XATTR_CREATE));
  CHECK("setxattr REPLACE missing", setxattr("f", "user.b", "x", 1, XATTR_REPLACE));
  CHECK("setxattr REPLACE existing", setxattr("f", "user.a", "AAAA", 4, XATTR_REPLACE));
  CHECK("setxattr CREATE new", setxattr("f", "user.b", "bee", 3, XATTR_CREATE));
  CHECK("setxattr CREATE|REPLACE", setxattr("f", "user.c", "x", 1, XATTR_CREATE | XATTR_REPLACE));
  CHECK("setxattr bad flags", setxattr("f", "user.c", "x", 1, 0x4));
  CHECK("setxattr no namespace", setxattr("f", "plain", "x", 1, 0));
  CHECK("setxattr unknown namespace", setxattr("f", "bogus.x", "x", 1, 0));
  CHECK("setxattr empty name", setxattr("f", "", "x", 1, 0));
  CHECK("setxattr user. only", setxattr("f", "user.", "x", 1, 0));
  char name[300] = "user.";
  memset(name + 5, 'n', 250);
  name[255] = 0;
  CHECK("setxattr name 255", setxattr("f", name, "x", 1, 0));
  memset(name + 5, 'n', 251);
  name[256] = 0;
  CHECK("setxattr name 256", setxattr("f", name, "x", 1, 0));
  CHECK("getxattr name 256", getxattr("f", name, buf, sizeof buf));
  CHECK("removexattr name 256", removexattr("f", name));
  CHECK("setxattr value 65537", setxattr("f", "user.big", calloc(1, 70000), 65537, 0));
  CHECK("setxattr badptr name", setxattr("f", BADPTR, "x", 1, 0));
  CHECK("setxattr badptr value", setxattr("f", "user.c", BADPTR, 1, 0));
  CHECK("setxattr badptr path", setxattr(BADPTR, "user.c", "x", 1, 0));
  CHECK("setxattr missing", setxattr("missing", "user.c", "x", 1, 0));
  CHECK("setxattr symlink follows", setxattr("lf", "user.vialink", "L", 1, 0));
  CHECK("lsetxattr user on symlink", lsetxattr("lf", "user.onlink", "L", 1, 0));
  CHECK("lsetxattr dangling", lsetxattr("dangling", "user.x", "L", 1, 0));
  CHECK("setxattr dangling", setxattr("dangling", "user.x", "L", 1, 0));
  CHECK("setxattr dir", setxattr("d", "user.dir", "D", 1, 0));
  CHECK("fsetxattr", fsetxattr(ffd, "user.fd", "F", 1, 0));
  CHECK("fsetxattr badfd", fsetxattr(999, "user.fd", "F", 1, 0));
  CHECK("fsetxattr O_PATH", fsetxattr(pfd, "user.fd", "F", 1, 0));
  CHECK("setxattr f/", setxattr("f/", "user.x", "x", 1, 0));
  CHECK("setxattr empty path", setxattr("", "user.x", "x", 1, 0));

  memset(buf, 0, sizeof buf);
  CHECK("getxattr", getxattr("f", "user.a", buf, sizeof buf));
  say("getxattr value: %s", buf);
  CHECK("getxattr size 0", getxattr("f", "user.a", NULL, 0));
  CHECK("getxattr short", getxattr("f", "user.a", buf, 2));
  CHECK("getxattr exact", getxattr("f", "user.a", buf, 4));
  CHECK("getxattr empty value", getxattr("f", "user.empty", buf, sizeof buf));
  CHECK("getxattr missing attr", getxattr("f", "user.nope", buf, sizeof buf));
  CHECK("getxattr missing file", getxattr("missing", "user.a", buf, sizeof buf));
  CHECK("getxattr via symlink", getxattr("lf", "user.vialink", buf, sizeof buf));
  CHECK("lgetxattr on symlink", lgetxattr("lf", "user.vialink", buf, sizeof buf));
  CHECK("getxattr no namespace", getxattr("f", "plain", buf, sizeof buf));
  CHECK("getxattr empty name", getxattr("f", "", buf, sizeof buf));
  CHECK("getxattr badptr buf", getxattr("f", "user.a", BADPTR, sizeof buf));
  CHECK("getxattr badptr name", getxattr("f", BADPTR, buf, sizeof buf));
  CHECK("fgetxattr", fgetxattr(ffd, "user.fd", buf, sizeof buf));
  CHECK("fgetxattr badfd", fgetxattr(999, "user.fd", buf, sizeof buf));
  CHECK("getxattr dir", getxattr("d", "user.dir", buf, sizeof buf));
  CHECK("getxattr size -1", syscall(SYS_getxattr, "f", "user.a", buf, (size_t)-1));

  long n = listxattr("f", list, sizeof list);
  show_list("listxattr", list, n);
  CHECK("listxattr size 0", listxattr("f", NULL, 0));
  CHECK("listxattr short", listxattr("f", list, 3));
  n = llistxattr("lf", list, sizeof list);
  show_list("llistxattr lf", list, n);
  n = listxattr("lf", list, sizeof list);
  show_list("listxattr lf", list, n);
  n = flistxattr(ffd, list, sizeof list);
  show_list("flistxattr", list, n);
  n = listxattr("d", list, sizeof list);
  show_list("listxattr d", list, n);
  CHECK("listxattr missing", listxattr("missing", list, sizeof list));
  CHECK("listxattr badptr", listxattr("f", BADPTR, sizeof list));
  CHECK("flistxattr badfd", flistxattr(999, list, sizeof list));

  CHECK("removexattr", removexattr("f", "user.a"));
  CHECK("removexattr again", removexattr("f", "user.a"));
  CHECK("lremovexattr symlink attr", lremovexattr("lf", "user.vialink"));
  CHECK("removexattr via symlink", removexattr("lf", "user.vialink"));
  CHECK("fremovexattr", fremovexattr(ffd, "user.fd"));
  CHECK("fremovexattr again", fremovexattr(ffd, "user.fd"));
  CHECK("removexattr empty name", removexattr("f", ""));
  CHECK("removexattr no namespace", removexattr("f", "plain"));
  CHECK("removexattr missing file", removexattr("missing", "user.x"));
  n = listxattr("f", list, sizeof list);
  show_list("listxattr after removes", list, n);
  return 0;
}
