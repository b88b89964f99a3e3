/*
 * Permission checks as a non-root user. The program (root) prepares files,
 * then a child drops to uid/gid 1000 and tries what it may and may not do.
 * Natively that is the host's root dropping to 1000; sandboxed, the sandbox's
 * root (uid 0 of its user namespace, which maps ids to the same numbers).
 */
#include "check.h"
#include <grp.h>
#include <sys/xattr.h>

int main(void) {
  struct stat st;
  umask(022);
  chmod(".", 0755); /* the work directory: enterable by uid 1000 */
  put_file("root600", "secret", 0600);
  put_file("root644", "public", 0644);
  put_file("root666", "shared", 0666);
  mkdir("dir700", 0700);
  put_file("dir700/inner", "x", 0644);
  mkdir("dir755", 0755);
  put_file("dir755/file", "x", 0644);
  mkdir("sticky", 0755);
  chmod("sticky", 01777); /* mkdir's mode is cut by the umask */
  put_file("sticky/other", "x", 0666);
  chown("sticky/other", 2000, 2000);
  put_file("sticky/mine", "x", 0644);
  chown("sticky/mine", 1000, 1000);
  mkdir("mydir", 0755);
  chown("mydir", 1000, 1000);
  put_file("mydir/myfile", "mine", 0644);
  chown("mydir/myfile", 1000, 1000);
  put_file("group660", "grp", 0660);
  chown("group660", 0, 1000);
  mkdir("nosearch", 0755);
  chmod("nosearch", 0766);
  put_file("nosearch/f", "x", 0644);

  pid_t pid = fork();
  if (pid == 0) {
    gid_t groups[1] = {1000};
    CHECK("setgroups", setgroups(1, groups));
    CHECK("setgid", setgid(1000));
    CHECK("setuid", setuid(1000));
    CHECK("getuid", getuid());
    CHECK("geteuid", geteuid());

    CHECK("open root600 r", open("root600", O_RDONLY));
    CHECK("open root644 r", open("root644", O_RDONLY) >= 0);
    CHECK("open root644 w", open("root644", O_WRONLY));
    CHECK("open root666 rw", open("root666", O_RDWR) >= 0);
    CHECK("open group660 rw (via group)", open("group660", O_RDWR) >= 0);
    CHECK("open dir700/inner", open("dir700/inner", O_RDONLY));
    CHECK("stat dir700/inner", stat("dir700/inner", &st));
    CHECK("stat dir700", stat("dir700", &st));
    CHECK("open dir700 dir", open("dir700", O_RDONLY | O_DIRECTORY));
    CHECK("stat nosearch/f (no x)", stat("nosearch/f", &st));
    CHECK("open nosearch dir (r ok)", open("nosearch", O_RDONLY | O_DIRECTORY) >= 0);
    CHECK("chdir dir700", chdir("dir700"));
    CHECK("open root644 O_TRUNC", open("root644", O_RDONLY | O_TRUNC));
    CHECK("truncate root644", truncate("root644", 0));
    CHECK("truncate root666", truncate("root666", 3));

    CHECK("access root600 R_OK", access("root600", R_OK));
    CHECK("access root644 R_OK", access("root644", R_OK));
    CHECK("access root644 W_OK", access("root644", W_OK));
    CHECK("access root666 W_OK", access("root666", W_OK));
    CHECK("access group660 W_OK", access("group660", W_OK));
    CHECK("access dir700 X_OK", access("dir700", X_OK));
    CHECK("access dir700/inner F_OK", access("dir700/inner", F_OK));

    CHECK("unlink sticky/other", unlink("sticky/other"));
    CHECK("rename sticky/other", rename("sticky/other", "sticky/taken"));
    CHECK("unlink sticky/mine", unlink("sticky/mine"));
    CHECK("create in sticky", open("sticky/new", O_CREAT | O_RDWR, 0644) >= 0);
    show("sticky/new", "sticky/new", 0);
    CHECK("mkdir in sticky", mkdir("sticky/newdir", 0755));
    show("sticky/newdir", "sticky/newdir", 0);
    CHECK("mkdir in dir755", mkdir("dir755/sub", 0755));
    CHECK("create in dir755", open("dir755/new", O_CREAT | O_RDWR, 0644));
    CHECK("unlink dir755/file", unlink("dir755/file"));
    CHECK("rename in dir755", rename("dir755/file", "dir755/file2"));
    CHECK("symlink in dir755", symlink("x", "dir755/link"));
    CHECK("link root644 into mydir", link("root644", "mydir/hard"));
    CHECK("link root600 into mydir", link("root600", "mydir/hard600"));
    CHECK("mkdir in mydir", mkdir("mydir/sub", 0755));
    show("mydir/sub", "mydir/sub", 0);
    CHECK("rename root file into mydir", rename("root644", "mydir/moved"));

    CHECK("chmod root600", chmod("root600", 0666));
    CHECK("chmod own file", chmod("mydir/myfile", 0600));
    show("mydir/myfile after chmod", "mydir/myfile", 0);
    CHECK("chmod own file setgid (not in group 0)", (chown("mydir/myfile", -1, 1000), chmod("mydir/myfile", 02644)));
    show("mydir/myfile after chmod 02644", "mydir/myfile", 0);
    CHECK("chown root600", chown("root600", 1000, 1000));
    CHECK("chown own file to other uid", chown("mydir/myfile", 2000, -1));
    CHECK("chown own file to own gid", chown("mydir/myfile", -1, 1000));
    CHECK("chown own file to foreign gid", chown("mydir/myfile", -1, 0));
    CHECK("chown own file -1 -1", chown("mydir/myfile", -1, -1));
    CHECK("lchown root file", lchown("root644", 1000, 1000));

    CHECK("utimensat NULL root644 (not writable)", utimensat(AT_FDCWD, "root644", NULL, 0));
    CHECK("utimensat NULL root666 (writable)", utimensat(AT_FDCWD, "root666", NULL, 0));
    struct timespec ts[2] = {{1, 0}, {2, 0}};
    CHECK("utimensat times root666 (not owner)", utimensat(AT_FDCWD, "root666", ts, 0));
    CHECK("utimensat times own", utimensat(AT_FDCWD, "mydir/myfile", ts, 0));
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    CHECK("utimensat UTIME_NOW root666", utimensat(AT_FDCWD, "root666", now, 0));
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
    CHECK("utimensat OMIT+NOW root666", utimensat(AT_FDCWD, "root666", omit, 0));

    CHECK("setxattr root644", setxattr("root644", "user.x", "v", 1, 0));
    CHECK("setxattr own", setxattr("mydir/myfile", "user.x", "v", 1, 0));
    CHECK("getxattr root600 (no read)", getxattr("root600", "user.x", NULL, 0));
    CHECK("chroot as user", chroot("mydir"));
    CHECK("mknod fifo in dir755", mknod("dir755/fifo", S_IFIFO | 0644, 0));
    CHECK("rmdir dir700 (parent writable? no)", rmdir("dir700"));
    _exit(0);
  }
  say_wait("child", pid);
  show("root600 after", "root600", 0);
  show("root644 after", "root644", 0);
  say("root644 holds %s", get_file("root644"));
  return 0;
}
