# linkpeer.py: a misbehaving node-link peer for t7000-links.t.
#
#   linkpeer.py HOST PORT MODE
#
# Connects to a node's cluster port and, by MODE:
#   garbage   sends an HTTP request line (not a frame)
#   stall     sends 30 bytes of a HELLO frame and nothing more
#   flood     announces a 1,000,000-byte DATA frame and pours bytes in
#   toobig    announces a DATA frame of 0x7fffffff bytes
#   hello     sends a whole, valid HELLO and waits (no AUTH follows)
#   many      opens 100 connections and sends nothing; prints "early N",
#             how many the node closed within 2 s
# then waits (at most 30 s) for the node to close the connection and
# prints "closed after N s" (status 0), or "still open" (status 1).
import socket
import struct
import sys
import time

host, port, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]


def frame(t, payload, sub=0):
    return struct.pack(">IBBH", len(payload), t, sub, 0) + payload


def hello():
    def s8(b):
        return bytes([len(b)]) + b
    p = b"FLMQ" + bytes([1, 0, 0, 2])
    p += struct.pack(">QQH", 0x0102030405060708, 1, 1)
    p += s8(b"flockmqcl") + s8(b"raw@127.0.0.9") + s8(b"0")
    p += bytes([1]) + struct.pack(">BHH", 0, 1, 1) + bytes(32)
    return frame(1, p)


if mode == "many":
    import select
    socks = [socket.create_connection((host, port), timeout=10)
             for _ in range(100)]
    start = time.monotonic()
    open_ = set(socks)
    early = None
    while open_ and time.monotonic() - start < 30:
        r, _, _ = select.select(list(open_), [], [], 0.2)
        for x in r:
            try:
                b = x.recv(4096)
            except OSError:
                b = b""
            if not b:
                open_.discard(x)
                x.close()
        if early is None and time.monotonic() - start >= 2:
            early = 100 - len(open_)
    print("early %d" % (early if early is not None else 100 - len(open_)))
    if open_:
        print("still open")
        sys.exit(1)
    print("closed after %.1f s" % (time.monotonic() - start))
    sys.exit(0)

s = socket.create_connection((host, port), timeout=10)
start = time.monotonic()
try:
    if mode == "garbage":
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    elif mode == "stall":
        s.sendall(hello()[:30])
    elif mode == "hello":
        s.sendall(hello())
    elif mode == "toobig":
        s.sendall(struct.pack(">IBBH", 0x7fffffff, 6, 3, 0))
    elif mode == "flood":
        s.sendall(struct.pack(">IBBH", 1000000, 6, 3, 0))
        chunk = b"\xa5" * 16384
        for _ in range(61):
            s.sendall(chunk)
    else:
        sys.exit("linkpeer.py: unknown mode " + mode)
except OSError:
    pass
s.settimeout(1)
while time.monotonic() - start < 30:
    try:
        b = s.recv(4096)
    except socket.timeout:
        continue
    except OSError:
        break
    if not b:
        break
else:
    print("still open")
    sys.exit(1)
print("closed after %.1f s" % (time.monotonic() - start))
