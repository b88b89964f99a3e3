# Prints one line per entry of each tree named on the command line, sorted by
# path, with what a copy or an archive round trip must keep: the file type, the
# mode bits (setuid, setgid and sticky included), owner and group, the size of
# regular files, the target of symlinks, a hash of the contents, the device
# number of device nodes, the user.* extended attributes, hardlink groups (the
# first path seen with the same inode, and the link count) and, with --mtime,
# the modification time in nanoseconds.
#
# Usage: python3 tree-list.py [--mtime] [--skip NAME] ROOT [...]
# Flags apply to the root that follows them only; --skip leaves out every
# directory called NAME with what it holds (e.g. .git). Paths are printed relative to
# their root, so two copies of one tree print the same lines.
#
# Not printed, on purpose: directory sizes and directory link counts (those are
# the file system's: ext4 and tmpfs give different numbers for the same tree),
# st_blocks, inode numbers, atime and ctime.
import hashlib
import os
import stat
import sys

KINDS = [
    (stat.S_ISREG, 'f'),
    (stat.S_ISDIR, 'd'),
    (stat.S_ISLNK, 'l'),
    (stat.S_ISFIFO, 'p'),
    (stat.S_ISSOCK, 's'),
    (stat.S_ISCHR, 'c'),
    (stat.S_ISBLK, 'b'),
]


def kind(mode):
    for test, letter in KINDS:
        if test(mode):
            return letter
    return '?'


def xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        return 'xattr-error=' + (os.strerror(e.errno) if e.errno else str(e))
    out = []
    for n in sorted(names):
        if not n.startswith('user.'):
            continue
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
            out.append(n + '=' + v.hex())
        except OSError as e:
            out.append(n + '=<' + os.strerror(e.errno) + '>')
    return ','.join(out)


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            h.update(b)
    return h.hexdigest()[:16]


def entries(root, skip):
    yield '.'
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        rel = os.path.relpath(dirpath, root)
        for n in dirnames + filenames:
            yield n if rel == '.' else os.path.join(rel, n)


def list_tree(root, with_mtime, skip):
    print('== ' + os.path.basename(os.path.normpath(root)) + (' (mtimes)' if with_mtime else ''))
    first_of_inode = {}
    for rel in sorted(entries(root, skip)):
        p = os.path.join(root, rel)
        st = os.lstat(p)
        k = kind(st.st_mode)
        fields = [repr(rel), k, '%05o' % stat.S_IMODE(st.st_mode), 'uid=%d' % st.st_uid, 'gid=%d' % st.st_gid]
        if k == 'f':
            fields.append('size=%d' % st.st_size)
            fields.append('sha=' + sha(p))
        if k == 'l':
            fields.append('-> ' + repr(os.readlink(p)))
        if k in ('c', 'b'):
            fields.append('rdev=%d,%d' % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        if k != 'd':
            fields.append('nlink=%d' % st.st_nlink)
            if st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                fields.append('same-as=' + repr(first_of_inode.setdefault(key, rel)))
        if with_mtime:
            fields.append('mtime=%d' % st.st_mtime_ns)
        x = xattrs(p)
        if x:
            fields.append('xattrs{' + x + '}')
        print(' '.join(fields))


def main(argv):
    with_mtime = False
    skip = set()
    it = iter(argv)
    for a in it:
        if a == '--mtime':
            with_mtime = True
        elif a == '--skip':
            skip.add(next(it))
        else:
            list_tree(a, with_mtime, skip)
            with_mtime = False
            skip = set()


main(sys.argv[1:])
