# sessions.py: MQTT clients for the session, will and malformed-input tests
# (t3000-t3099, t9000-t9099).
#
# Two kinds of client:
#
#   Raw     a synchronous client over a plain socket with its own small
#           encoder and decoder, for exact bits: DUP flags, packet ids,
#           reason codes, malformed packets, when the server closes.
#   Paho    a thin wrapper over paho-mqtt 1.6.1 (a real client library)
#           that connects synchronously and collects messages.
#
# A test runs a short program on stdin through the shell function
# sessions_py, which the scripts define as
#
#	MQTT_PORT=$FLOCKMQ_PORT BROKER_LOG=$BROKER_LOG \
#	PYTHONPATH=$TEST_DIRECTORY/helper "$PYTHON" -
#
# (BROKER_LOG for broker_log_has()), and which starts with
# "from sessions import *".  Failures raise
# AssertionError (check()) and end the program with status 1 and a message
# on stderr; every program is killed by SIGALRM after DEADLINE seconds so a
# test never hangs.

import os
import queue
import random
import re
import select
import signal
import socket
import struct
import sys
import time

HOST = "127.0.0.1"
PORT = int(os.environ.get("MQTT_PORT", "1883"))
DEADLINE = int(os.environ.get("SESSIONS_DEADLINE", "120"))


def _deadline(signum, frame):
    raise TimeoutError("sessions.py: deadline of %d s passed" % DEADLINE)


signal.signal(signal.SIGALRM, _deadline)
signal.alarm(DEADLINE)

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = range(1, 8)
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = range(8, 12)
PINGREQ, PINGRESP, DISCONNECT, AUTH = range(12, 16)
TYPE_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK",
              5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE",
              9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK",
              12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

# MQTT 5 properties: name -> (id, type).
PROPS = {
    "payload_format": (0x01, "byte"),
    "message_expiry": (0x02, "u32"),
    "content_type": (0x03, "utf8"),
    "response_topic": (0x08, "utf8"),
    "correlation_data": (0x09, "bin"),
    "sub_id": (0x0b, "varint"),
    "session_expiry": (0x11, "u32"),
    "assigned_client_id": (0x12, "utf8"),
    "server_keepalive": (0x13, "u16"),
    "auth_method": (0x15, "utf8"),
    "auth_data": (0x16, "bin"),
    "request_problem_info": (0x17, "byte"),
    "will_delay": (0x18, "u32"),
    "request_response_info": (0x19, "byte"),
    "response_info": (0x1a, "utf8"),
    "server_reference": (0x1c, "utf8"),
    "reason_string": (0x1f, "utf8"),
    "receive_max": (0x21, "u16"),
    "topic_alias_max": (0x22, "u16"),
    "topic_alias": (0x23, "u16"),
    "max_qos": (0x24, "byte"),
    "retain_available": (0x25, "byte"),
    "user": (0x26, "pair"),
    "max_packet_size": (0x27, "u32"),
    "wildcard_available": (0x28, "byte"),
    "sub_id_available": (0x29, "byte"),
    "shared_available": (0x2a, "byte"),
}
PROP_BY_ID = {v[0]: (k, v[1]) for k, v in PROPS.items()}


def log(*args):
    """A line on stderr (shown by the test when it fails, or with -v)."""
    print(*args, file=sys.stderr, flush=True)


def check(cond, what, *detail):
    """Assert with a message naming what was expected."""
    if not cond:
        raise AssertionError(what + ("" if not detail else
                                     ": " + " ".join(map(str, detail))))


# ---------------------------------------------------------------------------
# Encoding

def varint(n):
    out = bytearray()
    while True:
        d = n % 128
        n //= 128
        if n:
            d |= 0x80
        out.append(d)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack(">H", n)


def u32(n):
    return struct.pack(">I", n)


def utf8(s):
    """A two-byte length and the bytes (s may be str or raw bytes)."""
    b = s.encode() if isinstance(s, str) else bytes(s)
    return u16(len(b)) + b


def prop(name, value):
    """One property entry (identifier and value)."""
    pid, kind = PROPS[name]
    if kind == "byte":
        v = bytes([value])
    elif kind == "u16":
        v = u16(value)
    elif kind == "u32":
        v = u32(value)
    elif kind == "varint":
        v = varint(value)
    elif kind in ("utf8", "bin"):
        v = utf8(value)
    else:
        v = utf8(value[0]) + utf8(value[1])
    return bytes([pid]) + v


def props_block(props):
    """A v5 property block from a dict, a list of (name, value) or raw bytes;
    "user" takes a list of pairs."""
    if props is None:
        body = b""
    elif isinstance(props, (bytes, bytearray)):
        body = bytes(props)
    else:
        items = props.items() if isinstance(props, dict) else props
        body = b""
        for name, value in items:
            if name == "user" and isinstance(value, list):
                for pair in value:
                    body += prop("user", pair)
            else:
                body += prop(name, value)
    return varint(len(body)) + body


def packet(first, body):
    """Fixed header (first byte and remaining length) and body."""
    return bytes([first]) + varint(len(body)) + body


def connect_packet(client_id="", version=5, clean=True, keepalive=60,
                   props=None, will=None, username=None, password=None,
                   flags=None):
    """CONNECT.  will: dict(topic, payload, qos=0, retain=False, props=None).
    flags overrides the connect flags byte."""
    name = b"MQIsdp" if version == 3 else b"MQTT"
    fl = 0x02 if clean else 0
    if will is not None:
        fl |= 0x04 | (will.get("qos", 0) << 3)
        if will.get("retain"):
            fl |= 0x20
    if username is not None:
        fl |= 0x80
    if password is not None:
        fl |= 0x40
    if flags is not None:
        fl = flags
    body = utf8(name) + bytes([version, fl]) + u16(keepalive)
    if version == 5:
        body += props_block(props)
    body += utf8(client_id)
    if will is not None:
        if version == 5:
            body += props_block(will.get("props"))
        body += utf8(will["topic"]) + utf8(will.get("payload", b""))
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += utf8(password)
    return packet(0x10, body)


def publish_packet(topic, payload=b"", qos=0, retain=False, dup=False,
                   pid=None, props=None, version=5, flags=None):
    """PUBLISH; flags overrides the low nibble of the first byte."""
    first = 0x30 | (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    if flags is not None:
        first = 0x30 | flags
    body = utf8(topic)
    if qos > 0 or pid is not None:
        body += u16(pid if pid is not None else 1)
    if version == 5:
        body += props_block(props)
    if isinstance(payload, str):
        payload = payload.encode()
    return packet(first, body + payload)


def subscribe_packet(pid, filters, version=5, props=None, flags=0x02):
    """SUBSCRIBE; filters: list of (filter, options byte) or filter strs
    (QoS 0)."""
    body = u16(pid)
    if version == 5:
        body += props_block(props)
    for f in filters:
        if isinstance(f, str):
            f = (f, 0)
        body += utf8(f[0]) + bytes([f[1]])
    return packet(0x80 | flags, body)


def unsubscribe_packet(pid, filters, version=5):
    body = u16(pid)
    if version == 5:
        body += props_block(None)
    for f in filters:
        body += utf8(f)
    return packet(0xa2, body)


def ack_packet(ptype, pid, rc=None, props=None, version=5, flags=None):
    """PUBACK, PUBREC, PUBREL or PUBCOMP."""
    first = ptype << 4
    if flags is not None:
        first |= flags
    elif ptype == PUBREL:
        first |= 0x02
    body = u16(pid)
    if version == 5 and (rc is not None or props is not None):
        body += bytes([rc or 0])
        if props is not None:
            body += props_block(props)
    return packet(first, body)


def disconnect_packet(rc=0, props=None, version=5):
    if version != 5 or (rc == 0 and props is None):
        return b"\xe0\x00"
    body = bytes([rc])
    if props is not None:
        body += props_block(props)
    return packet(0xe0, body)


PINGREQ_PACKET = b"\xc0\x00"


# ---------------------------------------------------------------------------
# Decoding (what a server sends)

class Packet:
    """A decoded packet; raw is every byte of it."""

    def __init__(self, raw):
        self.raw = raw
        self.type = raw[0] >> 4
        self.flags = raw[0] & 0x0f
        self.props = {}
        self.rc = None
        self.pid = None

    @property
    def name(self):
        return TYPE_NAMES.get(self.type, "?")

    def __repr__(self):
        extra = ""
        if self.type == PUBLISH:
            extra = " topic=%r qos=%d dup=%d retain=%d pid=%s payload=%r" % (
                self.topic, self.qos, self.dup, self.retain, self.pid,
                self.payload)
        elif self.type == CONNACK:
            extra = " sp=%d rc=0x%02x" % (self.session_present, self.rc)
        elif self.rc is not None:
            extra = " pid=%s rc=0x%02x" % (self.pid, self.rc)
        elif self.pid is not None:
            extra = " pid=%s" % self.pid
        if self.props:
            extra += " props=%r" % self.props
        return "<%s%s>" % (self.name, extra)


def decode_props(b, i):
    n, i = read_varint(b, i)
    end = i + n
    out = {}
    while i < end:
        pid = b[i]
        i += 1
        name, kind = PROP_BY_ID[pid]
        if kind == "byte":
            v = b[i]
            i += 1
        elif kind == "u16":
            v = struct.unpack(">H", b[i:i + 2])[0]
            i += 2
        elif kind == "u32":
            v = struct.unpack(">I", b[i:i + 4])[0]
            i += 4
        elif kind == "varint":
            v, i = read_varint(b, i)
        elif kind in ("utf8", "bin"):
            ln = struct.unpack(">H", b[i:i + 2])[0]
            v = bytes(b[i + 2:i + 2 + ln])
            if kind == "utf8":
                v = v.decode()
            i += 2 + ln
        else:
            k = []
            for _ in range(2):
                ln = struct.unpack(">H", b[i:i + 2])[0]
                k.append(bytes(b[i + 2:i + 2 + ln]).decode())
                i += 2 + ln
            v = tuple(k)
        if name in ("user", "sub_id"):
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
    return out, end


def read_varint(b, i):
    n, mult = 0, 1
    while True:
        d = b[i]
        i += 1
        n += (d & 0x7f) * mult
        mult *= 128
        if not d & 0x80:
            return n, i


def decode(raw, version):
    """Decode one whole packet the server sent."""
    p = Packet(raw)
    _, i = read_varint(raw, 1)
    body = raw[i:]
    t = p.type
    if t == CONNACK:
        p.session_present = body[0] & 1
        p.rc = body[1]
        if version == 5 and len(body) > 2:
            p.props, _ = decode_props(body, 2)
    elif t == PUBLISH:
        p.qos = (p.flags >> 1) & 3
        p.dup = (p.flags >> 3) & 1
        p.retain = p.flags & 1
        ln = struct.unpack(">H", body[:2])[0]
        p.topic = bytes(body[2:2 + ln]).decode()
        j = 2 + ln
        if p.qos:
            p.pid = struct.unpack(">H", body[j:j + 2])[0]
            j += 2
        if version == 5:
            p.props, j = decode_props(body, j)
        p.payload = bytes(body[j:])
    elif t in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.pid = struct.unpack(">H", body[:2])[0]
        p.rc = 0
        if version == 5 and len(body) > 2:
            p.rc = body[2]
            if len(body) > 3:
                p.props, _ = decode_props(body, 3)
    elif t in (SUBACK, UNSUBACK):
        p.pid = struct.unpack(">H", body[:2])[0]
        j = 2
        if version == 5:
            p.props, j = decode_props(body, 2)
        p.rcs = list(body[j:])
    elif t in (DISCONNECT, AUTH):
        p.rc = 0
        if len(body) > 0:
            p.rc = body[0]
            if len(body) > 1:
                p.props, _ = decode_props(body, 1)
    return p


class Closed(Exception):
    """The server closed the connection."""


# ---------------------------------------------------------------------------
# The raw client

class Raw:
    """One connection; every call is synchronous."""

    def __init__(self, client_id="", version=5, port=None, name=None):
        self.client_id = client_id
        self.version = version
        self.name = name or client_id or "raw"
        self.sock = socket.create_connection((HOST, port or PORT), 5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.next_pid = 1
        self.connack = None
        self.want_rel = set()
        self.held = []

    # -- bytes ------------------------------------------------------------

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        """Read more bytes; False on timeout; raises Closed at EOF."""
        if self.eof:
            raise Closed(self.name)
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        r, _, _ = select.select([self.sock], [], [], left)
        if not r:
            return False
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, OSError):
            data = b""
        if not data:
            self.eof = True
            raise Closed(self.name)
        self.buf += data
        return True

    def _whole(self):
        """Length of the first whole packet in buf, or 0."""
        b = self.buf
        if len(b) < 2:
            return 0
        n, mult, i = 0, 1, 1
        while True:
            if i >= len(b):
                return 0
            d = b[i]
            n += (d & 0x7f) * mult
            mult *= 128
            i += 1
            if not d & 0x80:
                break
        return i + n if len(b) >= i + n else 0

    def recv(self, timeout=5.0):
        """The next packet, or None after timeout; raises Closed."""
        if self.held:
            return self.held.pop(0)
        return self._recv_wire(timeout)

    def _recv_wire(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            n = self._whole()
            if n:
                raw, self.buf = self.buf[:n], self.buf[n:]
                p = decode(raw, self.version)
                log("%s <- %r" % (self.name, p))
                return p
            if not self._fill(deadline):
                return None

    def expect(self, ptype, timeout=5.0):
        """The next packet, which must be of this type."""
        p = self.recv(timeout)
        check(p is not None and p.type == ptype,
              "%s: %s received" % (self.name, TYPE_NAMES[ptype]),
              "got", p)
        return p

    def expect_nothing(self, timeout=1.0):
        """No packet arrives within timeout (the connection may stay open)."""
        p = self.recv(timeout)
        check(p is None, "%s: nothing received in %.1f s" % (self.name,
              timeout), "got", p)

    def expect_closed(self, timeout=5.0):
        """Every packet until the server closes the connection (which it
        must do within timeout)."""
        got = []
        deadline = time.monotonic() + timeout
        try:
            while True:
                p = self.recv(max(0.0, deadline - time.monotonic()))
                if p is None:
                    raise AssertionError("%s: not closed within %.1f s; "
                                         "got %r" % (self.name, timeout, got))
                got.append(p)
        except Closed:
            pass
        log("%s: closed by the server after %r" % (self.name, got))
        return got

    def expect_disconnect(self, rc, timeout=5.0):
        """A DISCONNECT with reason code rc, then the close."""
        got = self.expect_closed(timeout)
        d = [p for p in got if p.type == DISCONNECT]
        check(len(d) == 1 and d[0].rc == rc and got[-1] is d[0],
              "%s: DISCONNECT 0x%02x then close" % (self.name, rc),
              "got", got)
        return d[0]

    def is_open(self, timeout=0.3):
        """True if a PINGREQ still gets its PINGRESP.  Other packets read
        meanwhile are kept for recv()."""
        try:
            self.send(PINGREQ_PACKET)
            while True:
                p = self._recv_wire(timeout)
                if p is None:
                    return False
                if p.type == PINGRESP:
                    return True
                self.held.append(p)
        except (Closed, OSError):
            self.eof = True
            return False

    def close(self):
        """Close the socket without DISCONNECT (FIN)."""
        try:
            self.sock.close()
        except OSError:
            pass

    def reset(self):
        """Close the socket with a TCP RST (SO_LINGER 0): a dead client."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             struct.pack("ii", 1, 0))
        self.sock.close()

    # -- packets ----------------------------------------------------------

    def pid(self):
        p = self.next_pid
        self.next_pid = p % 65535 + 1
        return p

    def connect(self, clean=True, keepalive=60, props=None, will=None,
                expect_rc=0, **kw):
        """CONNECT and its CONNACK, which must carry expect_rc."""
        self.send(connect_packet(self.client_id, self.version, clean,
                                 keepalive, props, will, **kw))
        p = self.expect(CONNACK)
        check(p.rc == expect_rc, "%s: CONNACK rc 0x%02x" % (self.name,
              expect_rc), "got", p)
        self.connack = p
        return p

    def subscribe(self, *filters, qos=None, props=None, expect=None):
        """SUBSCRIBE (filters: str at qos, or (filter, options)); waits for
        the SUBACK, whose codes must be the granted QoS (or expect)."""
        fs = [(f, qos or 0) if isinstance(f, str) else f for f in filters]
        pid = self.pid()
        self.send(subscribe_packet(pid, fs, self.version, props))
        p = self.expect(SUBACK)
        want = expect if expect is not None else [o & 3 for _, o in fs]
        check(p.pid == pid and p.rcs == want,
              "%s: SUBACK %r" % (self.name, want), "got", p, p.rcs)
        return p

    def publish(self, topic, payload=b"", qos=0, retain=False, dup=False,
                pid=None, props=None, complete=True):
        """PUBLISH; for QoS 1 and 2 with complete, finish the exchange
        (PUBACK, or PUBREC/PUBREL/PUBCOMP).  Returns the pid."""
        if qos and pid is None:
            pid = self.pid()
        self.send(publish_packet(topic, payload, qos, retain, dup, pid,
                                 props, self.version))
        if qos == 1 and complete:
            self._expect_ack(PUBACK, pid)
        elif qos == 2 and complete:
            self._expect_ack(PUBREC, pid)
            self.send(ack_packet(PUBREL, pid, version=self.version))
            self._expect_ack(PUBCOMP, pid)
        return pid

    def _expect_ack(self, ptype, pid, timeout=5.0):
        """Wait for an ack of ours; PUBLISH packets that come first (to our
        own subscriptions) are kept for recv()."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._recv_wire(max(0.0, deadline - time.monotonic()))
            if p is not None and p.type == PUBLISH:
                self.held.append(p)
                continue
            check(p is not None and p.type == ptype and p.pid == pid,
                  "%s: %s for %d" % (self.name, TYPE_NAMES[ptype], pid),
                  "got", p)
            return p

    def ack(self, p):
        """Acknowledge a received PUBLISH: PUBACK, or PUBREC, then the
        PUBREL (other PUBLISH packets may come first: they are kept for
        messages()) and PUBCOMP."""
        if p.qos == 1:
            self.send(ack_packet(PUBACK, p.pid, version=self.version))
        elif p.qos == 2:
            self.send(ack_packet(PUBREC, p.pid, version=self.version))
            self.want_rel.add(p.pid)
            self._wait_rel(5.0)

    def _wait_rel(self, timeout):
        """Complete every QoS 2 exchange in want_rel."""
        deadline = time.monotonic() + timeout
        while self.want_rel:
            p = self._recv_wire(max(0.0, deadline - time.monotonic()))
            check(p is not None, "%s: PUBREL for %r" % (self.name,
                  sorted(self.want_rel)))
            if p.type == PUBREL and p.pid in self.want_rel:
                self.want_rel.discard(p.pid)
                self.send(ack_packet(PUBCOMP, p.pid, version=self.version))
            elif p.type == PUBLISH:
                self.held.append(p)
            else:
                raise AssertionError("%s: unexpected %r" % (self.name, p))

    def messages(self, n, timeout=5.0, ack=True):
        """The next n PUBLISH packets, in arrival order, acknowledged when
        ack (QoS 2 exchanges completed); fails on any other packet or a
        timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            p = self.recv(max(0.0, deadline - time.monotonic()))
            check(p is not None, "%s: %d messages within %.1f s" % (
                self.name, n, timeout), "only got", got)
            if ack and p.type == PUBREL and p.pid in self.want_rel:
                self.want_rel.discard(p.pid)
                self.send(ack_packet(PUBCOMP, p.pid, version=self.version))
                continue
            check(p.type == PUBLISH, "%s: a PUBLISH" % self.name, "got", p)
            if ack and p.qos == 1:
                self.send(ack_packet(PUBACK, p.pid, version=self.version))
            elif ack and p.qos == 2:
                self.send(ack_packet(PUBREC, p.pid, version=self.version))
                self.want_rel.add(p.pid)
            got.append(p)
        if ack:
            self._wait_rel(max(0.0, deadline - time.monotonic()) + 1)
        return got

    def payloads(self, n, timeout=5.0, ack=True):
        return [p.payload.decode() for p in self.messages(n, timeout, ack)]

    def disconnect(self, rc=0, props=None):
        """DISCONNECT, then wait for the server to close the socket."""
        self.send(disconnect_packet(rc, props, self.version))
        try:
            self.expect_closed(5)
        finally:
            self.close()


def raw(client_id="", version=5, clean=True, **kw):
    """A Raw client, connected."""
    c = Raw(client_id, version)
    c.connect(clean=clean, **kw)
    return c


# ---------------------------------------------------------------------------
# paho-mqtt

def paho_client(client_id, version=5, clean=True, expiry=None, will=None,
                keepalive=60, port=None):
    """A paho client, connected (loop running); returns (client, session
    present).  Messages are collected in client.inbox (a queue.Queue of
    paho MQTTMessage)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.properties import Properties
    from paho.mqtt.packettypes import PacketTypes

    v5 = version == 5
    if v5:
        c = mqtt.Client(client_id, protocol=mqtt.MQTTv5)
    else:
        c = mqtt.Client(client_id, clean_session=clean,
                        protocol=mqtt.MQTTv311)
    c.inbox = queue.Queue()
    c.connacks = queue.Queue()
    c.on_message = lambda cl, ud, m: c.inbox.put(m)
    if v5:
        c.on_connect = lambda cl, ud, fl, rc, pr=None: c.connacks.put(
            (fl.get("session present", 0), int(getattr(rc, "value", rc))))
    else:
        c.on_connect = lambda cl, ud, fl, rc: c.connacks.put(
            (fl.get("session present", 0), rc))
    if will is not None:
        wp = None
        if v5 and will.get("props"):
            wp = Properties(PacketTypes.WILLMESSAGE)
            for k, v in will["props"].items():
                setattr(wp, k, v)
        c.will_set(will["topic"], will.get("payload"), will.get("qos", 0),
                   will.get("retain", False), properties=wp)
    props = None
    if v5 and expiry is not None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = expiry
    if v5:
        c.connect(HOST, port or PORT, keepalive, clean_start=clean,
                  properties=props)
    else:
        c.connect(HOST, port or PORT, keepalive)
    c.loop_start()
    try:
        sp, rc = c.connacks.get(timeout=5)
    except queue.Empty:
        raise AssertionError("paho %s: no CONNACK in 5 s" % client_id)
    check(rc == 0, "paho %s: connected" % client_id, "rc", rc)
    return c, sp


def paho_subscribe(c, topic, qos):
    done = queue.Queue()
    c.on_subscribe = lambda *a: done.put(a)
    rc, mid = c.subscribe(topic, qos)
    check(rc == 0, "paho: subscribe sent")
    try:
        done.get(timeout=5)
    except queue.Empty:
        raise AssertionError("paho: no SUBACK in 5 s")


def paho_publish(c, topic, payloads, qos=1, retain=False):
    """Publish each payload and wait until the broker acknowledged it."""
    for p in payloads:
        info = c.publish(topic, p, qos, retain)
        info.wait_for_publish(5)
        check(qos == 0 or info.is_published(),
              "paho: %r published at qos %d" % (p, qos))


def paho_messages(c, n, timeout=5.0):
    """The next n messages paho received."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        try:
            got.append(c.inbox.get(
                timeout=max(0.01, deadline - time.monotonic())))
        except queue.Empty:
            raise AssertionError("paho: %d messages within %.1f s, got %r" %
                                 (n, timeout, [m.payload for m in got]))
    return got


def paho_stop(c, disconnect=True):
    if disconnect:
        c.disconnect()
    c.loop_stop()


# ---------------------------------------------------------------------------
# Broker state

def sys_metric(name, timeout=5.0):
    """The value of a $SYS metric (or stats gauge), e.g.
    "metrics/delivery/dropped/queue_full", from its next publication (needs
    sys_topics.sys_msg_interval short, e.g. 1s)."""
    c = raw("sysreader-%d" % os.getpid())
    c.subscribe("$SYS/brokers/+/" + name, qos=0)
    p = c.recv(timeout)
    while p is not None and p.type != PUBLISH:
        p = c.recv(timeout)
    check(p is not None, "$SYS %s published" % name)
    c.disconnect()
    return int(p.payload)


def fnv1a(s):
    """The broker's hash_bytes() (32-bit FNV-1a)."""
    h = 2166136261
    for ch in s.encode():
        h ^= ch
        h = (h * 16777619) & 0xffffffff
    return h


def home_worker(client_id, n_workers):
    """The worker a client id's session lives on."""
    return fnv1a(client_id) % n_workers


def survivor_check(survivor, topic="survivor/t", tag=""):
    """A connected, subscribed client (see survivor()) still gets a QoS 1
    message published by a new client (other messages are skipped)."""
    payload = ("alive %s %f" % (tag, time.time())).encode()
    pub = raw("survivor-pub")
    pub.publish(topic, payload, qos=1)
    pub.disconnect()
    deadline = time.monotonic() + 5
    while True:
        got = survivor.messages(1, timeout=max(0.0,
                                               deadline - time.monotonic()))
        if got[0].payload == payload:
            return
        log("survivor: skipping %r" % got[0])


_survivor = None


def survivor(topic="survivor/t", version=5):
    """A client subscribed to topic, to check that others keep working;
    bad_packet() checks it after each case."""
    global _survivor
    s = raw("survivor-%d" % os.getpid(), version)
    s.subscribe(topic, qos=1)
    _survivor = s
    return s


def broker_log_has(regex, timeout=3.0):
    """The broker log ($BROKER_LOG) has a line matching regex (waits up to
    timeout); returns the line."""
    path = os.environ["BROKER_LOG"]
    deadline = time.monotonic() + timeout
    while True:
        with open(path, errors="replace") as f:
            for line in f:
                if re.search(regex, line):
                    return line.rstrip("\n")
        if time.monotonic() >= deadline:
            raise AssertionError("no line matching %r in the broker log"
                                 % regex)
        time.sleep(0.05)


def bad_packet(data, version=5, rc=None, connect=True, client_id=None,
               props=None, timeout=5.0):
    """Send data, a malformed or forbidden packet, and check that only this
    connection is closed.  After CONNACK (connect True) a v5 client must get
    DISCONNECT rc (or one of a tuple of codes), then the close.  Before it
    (connect False) a v5 client whose CONNECT was decoded far enough gets
    CONNACK rc (rc not None), then the close.  A 3.x client (or rc None)
    gets the close alone.  The broker log must name the client (id and
    address) or, before CONNECT, its address.  Then the survivor() client,
    if any, must still get messages.  Returns the client."""
    cid = client_id or "bad-%d-%d" % (os.getpid(), random.randrange(10**6))
    c = Raw(cid, version)
    if connect:
        c.connect(props=props)
    port = c.sock.getsockname()[1]
    c.send(data)
    got = c.expect_closed(timeout)
    if version == 5 and rc is not None:
        want = DISCONNECT if connect else CONNACK
        rcs = rc if isinstance(rc, tuple) else (rc,)
        check(len(got) == 1 and got[0].type == want and got[0].rc in rcs,
              "v5: %s %s then close" % (TYPE_NAMES[want], " or ".join(
                  "0x%02x" % r for r in rcs)), got)
    else:
        check(got == [], "v%d: closed without a packet" % version, got)
    if connect:
        line = broker_log_has(r"client '%s' 127\.0\.0\.1:%d "
                              r"(disconnected|closed)" % (re.escape(cid),
                                                          port))
    else:
        line = broker_log_has(r"client '[^']*' 127\.0\.0\.1:%d "
                              r"(closed|refused)|"
                              r" 127\.0\.0\.1:%d closed" % (port, port))
    log("broker log: " + line)
    if _survivor is not None:
        survivor_check(_survivor)
    return c


def wait_until(cond, timeout=5.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def random_bytes(rng, n):
    return bytes(rng.getrandbits(8) for _ in range(n))
