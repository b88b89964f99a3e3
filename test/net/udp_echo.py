# UDP echo inside one sandbox: sendto with an address, recvfrom, connected send.
import socket, threading
srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.1", 0))
def echo():
    for _ in range(2):
        data, addr = srv.recvfrom(100)
        srv.sendto(data.upper(), addr)
t = threading.Thread(target=echo)
t.start()
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.sendto(b"ping", srv.getsockname())
print(c.recvfrom(100)[0])
c.connect(srv.getsockname())
c.send(b"pong")
print(c.recv(100))
t.join()
c6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
c6.sendto(b"v4-mapped", ("::ffff:127.0.0.1", 9))
print("v6 socket to a v4-mapped address: sent")
