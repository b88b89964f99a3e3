# Two processes of one sandbox over unix sockets: a stream listener at a
# path, a child that connects and passes a pipe's write end with SCM_RIGHTS,
# credentials with SCM_CREDENTIALS, a datagram socket at a path, names.
import os, socket, struct, sys

os.chdir(sys.argv[1])
for n in ("stream.sock", "dgram.sock"):
    try:
        os.unlink(n)
    except FileNotFoundError:
        pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("stream.sock")
srv.listen(1)
print("listener name", srv.getsockname())
print("mode", oct(os.stat("stream.sock").st_mode & 0o777))
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind("dgram.sock")
dg.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect("stream.sock")
    print("child peer", c.getpeername(), flush=True)
    socket.send_fds(c, [b"fd"], [w])
    d = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    d.sendto(b"datagram", "dgram.sock")
    d.sendmsg([b"with creds"], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, struct.pack("iII", os.getpid(), os.getuid(), os.getgid()))], 0, os.path.abspath("dgram.sock"))
    os._exit(0)
os.close(w)
conn, addr = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 10, 1)
print("got", msg, len(fds))
os.write(fds[0], b"through the passed fd")
os.close(fds[0])
print(os.read(r, 100))
data, anc, _, _ = dg.recvmsg(100, socket.CMSG_SPACE(12))
pid1, uid1, gid1 = struct.unpack("iII", anc[0][2])
print("dgram", data, "creds pid is child:", pid1 == pid, uid1, gid1)
data, anc, _, _ = dg.recvmsg(100, socket.CMSG_SPACE(12))
pid2, uid2, gid2 = struct.unpack("iII", anc[0][2])
print("dgram", data, "creds pid is child:", pid2 == pid, uid2, gid2)
os.waitpid(pid, 0)
try:
    socket.socket(socket.AF_UNIX).connect("missing.sock")
except OSError as e:
    print("missing", e.errno)
try:
    socket.socket(socket.AF_UNIX).connect(".")
except OSError as e:
    print("not a socket", e.errno)
try:
    socket.socket(socket.AF_UNIX).bind("stream.sock")
except OSError as e:
    print("in use", e.errno)
a = socket.socket(socket.AF_UNIX)
a.bind("\0tsvisor-abstract-test")
a.listen()
b = socket.socket(socket.AF_UNIX)
b.connect("\0tsvisor-abstract-test")
print("abstract", b.getpeername())
