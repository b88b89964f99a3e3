/* mkdir, mknod, unlink, rmdir, rename, renameat2, link, linkat, symlink, readlink. */
#include "check.h"
#include <linux/fs.h>
#include <sys/sysmacros.h>

#define RENAMEAT2(a, b, c, d, f) syscall(SYS_renameat2, (a), (b), (c), (d), (f))

int main(void) {
  struct stat st;
  char buf[64];
  umask(022);
  put_file("f", "file", 0644);
  put_file("g", "gee", 0644);
  mkdir("d", 0755);
  mkdir("full", 0755);
  put_file("full/x", "", 0644);
  symlink("f", "lf");
  symlink("missing", "dangling");
  symlink("loop1", "loop2");
  symlink("loop2", "loop1");
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int ffd = open("f", O_RDONLY);

  /* mkdir */
  CHECK("mkdir new", mkdir("m", 0777));
  show("stat m", "m", 0);
  CHECK("mkdir exists", mkdir("m", 0755));
  CHECK("mkdir on file", mkdir("f", 0755));
  CHECK("mkdir on symlink", mkdir("lf", 0755));
  CHECK("mkdir on dangling", mkdir("dangling", 0755));
  CHECK("mkdir trailing slash", mkdir("m2/", 0700));
  show("stat m2", "m2", 0);
  CHECK("mkdir trailing slashes", mkdir("m3///", 0700));
  CHECK("mkdir missing parent", mkdir("nope/m", 0755));
  CHECK("mkdir under file", mkdir("f/m", 0755));
  CHECK("mkdir .", mkdir(".", 0755));
  CHECK("mkdir ..", mkdir("..", 0755));
  CHECK("mkdir /", mkdir("/", 0755));
  CHECK("mkdir m/.", mkdir("m/.", 0755));
  CHECK("mkdir empty", mkdir("", 0755));
  CHECK("mkdir name256", mkdir(long_name(256), 0755));
  CHECK("mkdir pathmax", mkdir(long_path(), 0755));
  CHECK("mkdir badptr", mkdir(BADPTR, 0755));
  CHECK("mkdir loop/x", mkdir("loop1/x", 0755));
  CHECK("mkdirat dirfd", mkdirat(dfd, "sub", 0750));
  show("stat d/sub", "d/sub", 0);
  CHECK("mkdirat badfd", mkdirat(999, "sub", 0750));
  CHECK("mkdirat file dirfd", mkdirat(ffd, "sub", 0750));
  CHECK("mkdir mode bits 07777", mkdir("sticky", 07777));
  show("stat sticky", "sticky", 0);
  show("stat d (nlink after mkdir)", "d", 0);

  /* mknod */
  CHECK("mknod fifo", mknod("fifo", S_IFIFO | 0644, 0));
  show("stat fifo", "fifo", 0);
  CHECK("mknod sock", mknod("sock", S_IFSOCK | 0600, 0));
  show("stat sock", "sock", 0);
  CHECK("mknod reg", mknod("reg", S_IFREG | 0640, 0));
  show("stat reg", "reg", 0);
  CHECK("mknod type 0", mknod("reg0", 0640, 0));
  show("stat reg0", "reg0", 0);
  CHECK("mknod dir", mknod("dirnod", S_IFDIR | 0755, 0));
  CHECK("mknod bad type", mknod("bad", 0070000, 0));
  CHECK("mknod bad type 2", mknod("bad", 0110000 | 0644, 0));
  CHECK("mknod exists", mknod("fifo", S_IFIFO | 0644, 0));
  CHECK("mknod trailing slash", mknod("fifo2/", S_IFIFO | 0644, 0));
  CHECK("mknod missing parent", mknod("nope/fifo", S_IFIFO | 0644, 0));
  CHECK("mknod empty", mknod("", S_IFIFO | 0644, 0));
  CHECK("mknod name256", mknod(long_name(256), S_IFIFO | 0644, 0));
  CHECK("mknod badptr", mknod(BADPTR, S_IFIFO | 0644, 0));
  CHECK("mknodat dirfd", mknodat(dfd, "fifo", S_IFIFO | 0600, 0));
  CHECK("mknodat badfd", mknodat(999, "fifo", S_IFIFO | 0600, 0));
  /* Not checked: mknod of a character or block device. Natively root may make one;
   * in the sandbox the program is root of a user namespace, which may not (EPERM). */

  /* unlink, rmdir */
  CHECK("unlink reg", unlink("reg"));
  CHECK("unlink again", unlink("reg"));
  CHECK("unlink dir", unlink("m"));
  CHECK("unlink symlink", unlink("dangling"));
  CHECK("lstat dangling after", lstat("dangling", &st));
  CHECK("unlink f/", unlink("f/"));
  CHECK("unlink lf/", unlink("lf/"));
  CHECK("unlink m/", unlink("m/"));
  CHECK("unlink .", unlink("."));
  CHECK("unlink empty", unlink(""));
  CHECK("unlink name256", unlink(long_name(256)));
  CHECK("unlink badptr", unlink(BADPTR));
  CHECK("unlink under file", unlink("f/x"));
  CHECK("unlinkat bad flags", unlinkat(AT_FDCWD, "reg0", 0x1));
  CHECK("unlinkat AT_REMOVEDIR file", unlinkat(AT_FDCWD, "reg0", AT_REMOVEDIR));
  CHECK("unlinkat dirfd", unlinkat(dfd, "fifo", 0));
  CHECK("unlinkat badfd", unlinkat(999, "fifo", 0));
  CHECK("rmdir full", rmdir("full"));
  CHECK("rmdir file", rmdir("f"));
  CHECK("rmdir symlink to dir", (symlink("m", "lm"), rmdir("lm")));
  CHECK("rmdir lm/", rmdir("lm/"));
  CHECK("rmdir .", rmdir("."));
  CHECK("rmdir ..", rmdir(".."));
  CHECK("rmdir m/.", rmdir("m/."));
  CHECK("rmdir m/..", rmdir("m/.."));
  CHECK("rmdir /", rmdir("/"));
  CHECK("rmdir /proc", rmdir("/proc"));
  CHECK("rmdir missing", rmdir("missing"));
  CHECK("rmdir m2/", rmdir("m2/"));
  CHECK("rmdir m3", rmdir("m3"));
  CHECK("unlinkat AT_REMOVEDIR dirfd", unlinkat(dfd, "sub", AT_REMOVEDIR));
  CHECK("rmdir empty", rmdir(""));

  /* rename */
  put_file("r1", "one", 0644);
  put_file("r2", "two", 0644);
  mkdir("rd1", 0755);
  mkdir("rd2", 0755);
  mkdir("rdfull", 0755);
  put_file("rdfull/x", "", 0644);
  CHECK("rename file over file", rename("r1", "r2"));
  say("r2 holds %s", get_file("r2"));
  CHECK("rename missing", rename("r1", "r3"));
  CHECK("rename file over dir", rename("r2", "rd1"));
  CHECK("rename dir over file", rename("rd1", "r2"));
  CHECK("rename dir over empty dir", rename("rd1", "rd2"));
  CHECK("rename dir over full dir", rename("rd2", "rdfull"));
  CHECK("rename dir into itself", rename("rd2", "rd2/sub"));
  CHECK("rename same file", rename("r2", "r2"));
  CHECK("rename hard links", (link("r2", "r2link"), rename("r2", "r2link")));
  show("stat r2 after same-inode rename", "r2", 0);
  CHECK("rename file/", rename("r2/", "r4"));
  CHECK("rename to file/", rename("r2", "r4/"));
  CHECK("rename dir/ to new/", rename("rd2/", "rd3/"));
  CHECK("rename .", rename(".", "x"));
  CHECK("rename to ..", rename("rd3", ".."));
  CHECK("rename empty", rename("", "x"));
  CHECK("rename to empty", rename("r2", ""));
  CHECK("rename badptr old", rename(BADPTR, "x"));
  CHECK("rename badptr new", rename("r2", BADPTR));
  CHECK("rename name256", rename("r2", long_name(256)));
  CHECK("rename to missing dir", rename("r2", "nope/x"));
  CHECK("rename symlink", rename("lf", "lf2"));
  CHECK("readlink lf2", readlink("lf2", buf, sizeof buf));
  CHECK("rename across mounts", rename("r2", "/dev/shm/tsvisor-rename-test"));
  CHECK("rename /proc", rename("/proc", "proc2"));
  CHECK("renameat dirfds", renameat(AT_FDCWD, "r2", dfd, "r2-in-d"));
  CHECK("renameat badfd", renameat(999, "r2", dfd, "x"));
  say("d/r2-in-d holds %s", get_file("d/r2-in-d"));

  /* renameat2 */
  put_file("a", "A", 0644);
  put_file("b", "B", 0644);
  mkdir("ad", 0755);
  CHECK("RENAME_NOREPLACE onto existing", RENAMEAT2(AT_FDCWD, "a", AT_FDCWD, "b", RENAME_NOREPLACE));
  CHECK("RENAME_NOREPLACE to new", RENAMEAT2(AT_FDCWD, "a", AT_FDCWD, "a2", RENAME_NOREPLACE));
  CHECK("RENAME_EXCHANGE", RENAMEAT2(AT_FDCWD, "a2", AT_FDCWD, "b", RENAME_EXCHANGE));
  say("after exchange a2=%s", get_file("a2"));
  say("after exchange b=%s", get_file("b"));
  CHECK("RENAME_EXCHANGE file and dir", RENAMEAT2(AT_FDCWD, "a2", AT_FDCWD, "ad", RENAME_EXCHANGE));
  show("a2 after exchange with dir", "a2", 0);
  show("ad after exchange with dir", "ad", 0);
  CHECK("RENAME_EXCHANGE missing target", RENAMEAT2(AT_FDCWD, "b", AT_FDCWD, "nothere", RENAME_EXCHANGE));
  CHECK("RENAME_EXCHANGE missing source", RENAMEAT2(AT_FDCWD, "nothere", AT_FDCWD, "b", RENAME_EXCHANGE));
  CHECK("RENAME_EXCHANGE|NOREPLACE", RENAMEAT2(AT_FDCWD, "a2", AT_FDCWD, "b", RENAME_EXCHANGE | RENAME_NOREPLACE));
  CHECK("RENAME_EXCHANGE|WHITEOUT", RENAMEAT2(AT_FDCWD, "a2", AT_FDCWD, "b", RENAME_EXCHANGE | RENAME_WHITEOUT));
  CHECK("renameat2 bad flags", RENAMEAT2(AT_FDCWD, "a2", AT_FDCWD, "b", 0x10));
  CHECK("RENAME_EXCHANGE same", RENAMEAT2(AT_FDCWD, "b", AT_FDCWD, "b", RENAME_EXCHANGE));
  /* RENAME_WHITEOUT leaves a whiteout (a 0/0 character device) behind; it needs CAP_MKNOD. */
  put_file("w", "W", 0644);
  CHECK("RENAME_WHITEOUT", RENAMEAT2(AT_FDCWD, "w", AT_FDCWD, "w2", RENAME_WHITEOUT));
  if (lstat("w", &st) == 0)
    say("whiteout left: %s rdev=%u:%u", type_name(st.st_mode), major(st.st_rdev), minor(st.st_rdev));
  else
    report("whiteout left", -1, errno);
  CHECK("RENAME_WHITEOUT missing", RENAMEAT2(AT_FDCWD, "nothere", AT_FDCWD, "w3", RENAME_WHITEOUT));

  /* link, linkat */
  CHECK("link", link("b", "b-link"));
  show("stat b", "b", 0);
  CHECK("link exists", link("b", "b-link"));
  CHECK("link dir", link("ad", "ad-link"));
  CHECK("link missing", link("nothere", "x"));
  CHECK("link to missing dir", link("b", "nope/x"));
  CHECK("link trailing slash new", link("b", "b2/"));
  CHECK("link trailing slash old", link("b/", "b2"));
  CHECK("link symlink (no follow)", link("lf2", "lf2-link"));
  show("lstat lf2-link", "lf2-link", 0);
  CHECK("linkat AT_SYMLINK_FOLLOW", linkat(AT_FDCWD, "lf2", AT_FDCWD, "lf2-follow", AT_SYMLINK_FOLLOW));
  show("lstat lf2-follow", "lf2-follow", 0);
  CHECK("linkat follow dangling", (symlink("gone", "dang2"), linkat(AT_FDCWD, "dang2", AT_FDCWD, "x", AT_SYMLINK_FOLLOW)));
  CHECK("linkat no follow dangling", linkat(AT_FDCWD, "dang2", AT_FDCWD, "dang2-link", 0));
  CHECK("linkat follow loop", linkat(AT_FDCWD, "loop1", AT_FDCWD, "x", AT_SYMLINK_FOLLOW));
  int bfd = open("b", O_RDONLY);
  CHECK("linkat AT_EMPTY_PATH", linkat(bfd, "", AT_FDCWD, "b-empty", AT_EMPTY_PATH));
  show("stat b-empty", "b-empty", 0);
  CHECK("linkat AT_EMPTY_PATH dir fd", linkat(dfd, "", AT_FDCWD, "d-link", AT_EMPTY_PATH));
  CHECK("linkat AT_EMPTY_PATH badfd", linkat(999, "", AT_FDCWD, "x", AT_EMPTY_PATH));
  CHECK("linkat empty without flag", linkat(bfd, "", AT_FDCWD, "x", 0));
  CHECK("linkat bad flags", linkat(AT_FDCWD, "b", AT_FDCWD, "x", 0x1));
  CHECK("linkat dirfds", linkat(AT_FDCWD, "b", dfd, "b-in-d", 0));
  CHECK("linkat badfd", linkat(999, "b", AT_FDCWD, "x", 0));
  CHECK("link across mounts", link("b", "/dev/shm/tsvisor-link-test"));
  CHECK("link name256", link("b", long_name(256)));
  CHECK("link badptr", link(BADPTR, "x"));
  CHECK("link empty", link("", "x"));
  CHECK("link to empty", link("b", ""));
  show("stat b (all links)", "b", 0);

  /* symlink, readlink */
  CHECK("symlink", symlink("some/target", "sl"));
  CHECK("symlink exists", symlink("x", "sl"));
  CHECK("symlink over file", symlink("x", "b"));
  CHECK("symlink empty target", symlink("", "sl2"));
  CHECK("symlink empty name", symlink("x", ""));
  CHECK("symlink trailing slash", symlink("x", "sl3/"));
  CHECK("symlink missing parent", symlink("x", "nope/sl"));
  CHECK("symlink badptr target", symlink(BADPTR, "sl4"));
  CHECK("symlink badptr name", symlink("x", BADPTR));
  CHECK("symlink name256", symlink("x", long_name(256)));
  CHECK("symlink target 4095", symlink(long_path() + (strlen(long_path()) - 4095), "sl-long"));
  show("lstat sl-long", "sl-long", 0);
  CHECK("symlink target pathmax", symlink(long_path(), "sl-toolong"));
  CHECK("symlinkat dirfd", symlinkat("../b", dfd, "sl-in-d"));
  say("d/sl-in-d holds %s", get_file("d/sl-in-d"));
  CHECK("symlinkat badfd", symlinkat("x", 999, "sl"));

  memset(buf, 0, sizeof buf);
  CHECK("readlink sl", readlink("sl", buf, sizeof buf));
  say("readlink sl: %s", buf);
  memset(buf, 0, sizeof buf);
  CHECK("readlink short buffer", readlink("sl", buf, 4));
  say("readlink short: %s", buf);
  CHECK("readlink size 0", readlink("sl", buf, 0));
  CHECK("readlink size -1", syscall(SYS_readlink, "sl", buf, -1));
  CHECK("readlink not a link", readlink("b", buf, sizeof buf));
  CHECK("readlink dir", readlink("d", buf, sizeof buf));
  CHECK("readlink missing", readlink("nothere", buf, sizeof buf));
  CHECK("readlink empty", readlink("", buf, sizeof buf));
  CHECK("readlink sl/", readlink("sl/", buf, sizeof buf));
  CHECK("readlink badptr buf", readlink("sl", BADPTR, sizeof buf));
  CHECK("readlink badptr path", readlink(BADPTR, buf, sizeof buf));
  CHECK("readlink name256", readlink(long_name(256), buf, sizeof buf));
  CHECK("readlink loop", readlink("loop1", buf, sizeof buf));
  CHECK("readlink through link dir", (symlink("d", "ld"), readlink("ld/sl-in-d", buf, sizeof buf)));
  CHECK("readlinkat dirfd", readlinkat(dfd, "sl-in-d", buf, sizeof buf));
  CHECK("readlinkat badfd", readlinkat(999, "sl-in-d", buf, sizeof buf));
  int slfd = open("sl", O_PATH | O_NOFOLLOW);
  memset(buf, 0, sizeof buf);
  CHECK("readlinkat O_PATH empty", readlinkat(slfd, "", buf, sizeof buf));
  say("readlinkat O_PATH: %s", buf);
  CHECK("readlinkat file fd empty", readlinkat(bfd, "", buf, sizeof buf));
  CHECK("readlinkat AT_FDCWD empty", readlinkat(AT_FDCWD, "", buf, sizeof buf));
  CHECK("readlink sl-long", readlink("sl-long", buf, sizeof buf));
  CHECK("readlink /proc/self/cwd ok", readlink("/proc/self/cwd", buf, sizeof buf) > 0);
  return 0;
}
