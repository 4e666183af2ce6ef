# ws.py: WebSocket clients for the MQTT over WebSocket tests (t4020).
#
# A test script defines
#
#	ws_py () {
#		MQTT_PORT=$FLOCKMQ_PORT WS_PORT=$FLOCKMQ_PORT3 \
#		    PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
#		    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
#		    "$PYTHON" - "$@"
#	}
#
# and feeds it a program that starts with "from ws import *", which also
# gives it everything of pubsub.py (Raw and Paho on plain TCP, check, the
# packet encoders; SIGALRM ends it after the deadline).  Here:
#
#   WsPaho(client_id, version=5, ...)   pubsub's Paho with paho-mqtt's
#       transport="websockets", on ws://127.0.0.1:$WS_PORT/mqtt.
#   Ws(path="/mqtt", headers=None, protocol="mqtt", upgrade=True)
#       a raw WebSocket client on a socket: frames in and out, masked or
#       not, with MQTT packets carried in binary frames.
#
# Both take port= (default $WS_PORT) and ca= (a CA file: wss, the server
# checked against it).
#   http_raw(request_bytes)  send anything, read the answer to the close:
#       (status, headers dict (lower-case names), body).

import base64
import hashlib
import os
import ssl

import pubsub
from pubsub import *                                 # noqa: F401,F403
from pubsub import HOST, SCALE, Closed, Packet, check, mqtt
from mqttc import read_some, split_packet

WS_PORT = int(os.environ.get("WS_PORT", "8083"))
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY = 0, 1, 2
OP_CLOSE, OP_PING, OP_PONG = 8, 9, 10


class WsPaho(pubsub.Paho):
    """pubsub.Paho over WebSocket (paho-mqtt transport="websockets")."""

    def __init__(self, client_id="", version=5, port=None, path="/mqtt",
                 ca=None, **kw):
        real = mqtt.Client

        def make(*a, **k):
            c = real(*a, transport="websockets", **k)
            c.ws_set_options(path=path)
            if ca:
                c.tls_set(ca_certs=ca)
            return c
        mqtt.Client = make
        try:
            super().__init__(client_id, version=version,
                             port=port or WS_PORT, **kw)
        finally:
            mqtt.Client = real

    def __repr__(self):
        return "WsPaho(%r, v%d)" % (self.client_id, self.version)


def http_raw(data, port=None, timeout=5.0):
    """Send data, read until the server closes: (status, headers, body)."""
    s = socket.create_connection((HOST, port or WS_PORT), timeout * SCALE)
    s.sendall(data)
    got = b""
    deadline = time.monotonic() + timeout * SCALE
    while time.monotonic() < deadline:
        try:
            d = s.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not d:
            break
        got += d
    s.close()
    head, _, body = got.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    check(lines and lines[0].startswith("HTTP/1.1 "), "an HTTP answer", got)
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs, body


def frame(op, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One client frame; length overrides the length field."""
    payload = bytes(payload)
    n = len(payload) if length is None else length
    b = bytes([(0x80 if fin else 0) | rsv << 4 | op])
    m = 0x80 if mask else 0
    if n < 126:
        b += bytes([m | n])
    elif n < 65536:
        b += bytes([m | 126]) + struct.pack(">H", n)
    else:
        b += bytes([m | 127]) + struct.pack(">Q", n)
    if mask:
        key = os.urandom(4)
        b += key + bytes(x ^ key[i & 3] for i, x in enumerate(payload))
    else:
        b += payload
    return b


class Ws:
    """A raw WebSocket client on 127.0.0.1:$WS_PORT."""

    def __init__(self, path="/mqtt", headers=None, protocol="mqtt",
                 upgrade=True, port=None, version=5, ca=None):
        self.sock = socket.create_connection((HOST, port or WS_PORT),
                                             5 * SCALE)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if ca:
            ctx = ssl.create_default_context(cafile=ca)
            self.sock = ctx.wrap_socket(self.sock, server_hostname=HOST)
        self.buf = b""
        self.mqtt = b""
        self.version = version
        self.closed = False
        if upgrade:
            self.upgrade(path, headers, protocol)

    def upgrade(self, path="/mqtt", headers=None, protocol="mqtt"):
        key = base64.b64encode(os.urandom(16))
        req = (b"GET " + path.encode() + b" HTTP/1.1\r\n"
               b"Host: 127.0.0.1\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key +
               b"\r\nSec-WebSocket-Version: 13\r\n")
        if protocol:
            req += b"Sec-WebSocket-Protocol: " + protocol.encode() + b"\r\n"
        for k, v in (headers or {}).items():
            req += k.encode() + b": " + v.encode() + b"\r\n"
        self.sock.sendall(req + b"\r\n")
        deadline = time.monotonic() + 5 * SCALE
        while b"\r\n\r\n" not in self.buf:
            self._fill(deadline)
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        check(lines[0].startswith("HTTP/1.1 101 "), "101", lines)
        h = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            h[k.strip().lower()] = v.strip()
        want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        check(h.get("sec-websocket-accept") == want,
              "Sec-WebSocket-Accept", h, want)
        self.headers = h
        return h

    def _fill(self, deadline):
        try:
            if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                d = self.sock.recv(65536)
            else:
                d = read_some(self.sock, deadline)
        except ssl.SSLError:
            d = b""
        if d is None:
            raise AssertionError("nothing from the server in time")
        if not d:
            self.closed = True
            raise Closed()
        self.buf += d

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, op, payload=b"", **kw):
        self.sock.sendall(frame(op, payload, **kw))

    def send_mqtt(self, data):
        """MQTT bytes in one binary frame."""
        self.send_frame(OP_BINARY, data)

    def _frame(self):
        b = self.buf
        if len(b) < 2:
            return None
        check(not b[1] & 0x80, "server frames are not masked", b[:2])
        n, i = b[1] & 0x7f, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, i = struct.unpack(">H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, i = struct.unpack(">Q", b[2:10])[0], 10
        if len(b) < i + n:
            return None
        self.buf = b[i + n:]
        return bool(b[0] & 0x80), b[0] & 0x0f, b[i:i + n]

    def recv_frame(self, timeout=5.0):
        """(fin, opcode, payload); AssertionError on timeout; Closed."""
        deadline = time.monotonic() + timeout * SCALE
        while True:
            f = self._frame()
            if f is not None:
                return f
            if self.closed:
                raise Closed()
            self._fill(deadline)

    def expect_close(self, code, timeout=5.0):
        """A close frame with code (skipping data frames), then the TCP
        close."""
        while True:
            fin, op, pl = self.recv_frame(timeout)
            if op == OP_CLOSE:
                break
        got = struct.unpack(">H", pl[:2])[0] if len(pl) >= 2 else None
        check(got == code, "close code %d" % code, got, pl)
        self.expect_eof(timeout)
        return got

    def expect_eof(self, timeout=5.0):
        deadline = time.monotonic() + timeout * SCALE
        try:
            while True:
                self._fill(deadline)
        except Closed:
            return
        except ConnectionResetError:
            return

    def recv_packet(self, timeout=5.0):
        """The next MQTT packet from binary frames (a Packet)."""
        deadline = time.monotonic() + timeout * SCALE
        while True:
            w = split_packet(self.mqtt)
            if w is not None:
                first, i, end = w
                p = Packet(first, self.mqtt[i:end], self.version)
                self.mqtt = self.mqtt[end:]
                return p
            fin, op, pl = self.recv_frame(max(0.0, deadline -
                                              time.monotonic()) / SCALE)
            check(op in (OP_BINARY, OP_CONT), "a binary frame", op, pl)
            self.mqtt += pl

    def connect(self, client_id, version=5, keepalive=60):
        self.version = version
        self.send_mqtt(connect_packet(client_id, version,
                                      keepalive=keepalive))
        p = self.recv_packet()
        check(p.type == CONNACK and p.rc == 0, "CONNACK 0", p)
        return p

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
