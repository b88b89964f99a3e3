# SO_PEERCRED on a unix listener: a child of a root server drops to uid and
# gid 1000 and connects; the server prints the ids the kernel gives the peer.
import os, socket, struct, sys
d = sys.argv[1]
path = os.path.join(d, 'pc.sock')
try: os.unlink(path)
except FileNotFoundError: pass
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path); os.chmod(path, 0o777); srv.listen(1)
pid = os.fork()
if pid == 0:
    os.setgid(1000); os.setuid(1000)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c.connect(path); c.send(b'x'); os._exit(0)
conn, _ = srv.accept()
p, u, g = struct.unpack('3i', conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))
print('peer uid', u, 'gid', g)
os.waitpid(pid, 0)
