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
#
# PUBSUB_TRANSPORT (lib-broker.sh sets it from FLOCKMQ_TEST_TRANSPORT) is
# what both speak on MQTT_PORT, as in pubsub.py, whose Stream Raw uses:
# tcp (the default), tls, ws (WebSocket, path /mqtt) or wss; TLS checks
# the server against PUBSUB_CAFILE, or nothing if unset.  To Raw the
# WebSocket or TLS close is the socket closing.

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

# pubsub.py checks PUBSUB_TRANSPORT and gives Stream (and sets a deadline
# of its own, replaced below).
import pubsub as _ps                                 # noqa: E402
TRANSPORT = _ps.TRANSPORT


def _deadline(signum, frame):
    raise TimeoutError("sessions.py: deadline of %d s passed" % DEADLINE)


signal.signal(signal.SIGALRM, _deadline)
signal.alarm(DEADLINE)

# The packet codec and the socket plumbing are mqttc.py's; what is here
# keeps the names and signatures the t3xxx and t9xxx scripts use.
import mqttc as _m                                   # noqa: E402
# Names imported here but unused are re-exported on purpose: the scripts
# get them (and the stdlib modules above) from "from sessions import *".
from mqttc import (CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC,  # noqa: E402
                   PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE,
                   UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH, Closed,
                   varint, u16, u32)

TYPE_NAMES = _m.PTYPES

# MQTT 5 properties: name -> (id, type).
PROPS = _m.SHORT_PROPS
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
# Encoding (mqttc.py's, with the signatures of sessions.py)

utf8 = _m.mstr      # a two-byte length and the bytes (str or raw bytes)


def prop(name, value):
    """One property entry (identifier and value)."""
    return _m.prop_entry(name, value)


def props_block(props):
    """A v5 property block from a dict, a list of (name, value) or raw bytes;
    "user" takes a list of pairs."""
    return _m.props(props)


def packet(first, body):
    """Fixed header (first byte and remaining length) and body."""
    return _m.packet(first >> 4, body, first & 0x0f)


def connect_packet(client_id="", version=5, clean=True, keepalive=60,
                   props=None, will=None, username=None, password=None,
                   flags=None):
    """CONNECT.  will: dict(topic, payload, qos=0, retain=False, props=None).
    flags overrides the connect flags byte."""
    return _m.connect(client_id, version, clean, keepalive, props,
                      username, password, will, flags=flags)


def publish_packet(topic, payload=b"", qos=0, retain=False, dup=False,
                   pid=None, props=None, version=5, flags=None):
    """PUBLISH; flags overrides the low nibble of the first byte."""
    return _m.publish(topic, payload, qos, pid, retain, version, props,
                      dup=dup, flags=flags,
                      with_pid=qos > 0 or pid is not None)


def subscribe_packet(pid, filters, version=5, props=None, flags=0x02):
    """SUBSCRIBE; filters: list of (filter, options byte) or filter strs
    (QoS 0)."""
    entries = [(f, 0) if isinstance(f, str) else (f[0], f[1])
               for f in filters]
    return _m.subscribe_many(pid, entries, version, props, flags)


def unsubscribe_packet(pid, filters, version=5):
    return _m.unsubscribe(pid, filters, version)


def ack_packet(ptype, pid, rc=None, props=None, version=5, flags=None):
    """PUBACK, PUBREC, PUBREL or PUBCOMP."""
    return _m.ack(ptype, pid, rc, props, version, flags)


def disconnect_packet(rc=0, props=None, version=5):
    if version != 5 or (rc == 0 and props is None):
        return b"\xe0\x00"
    body = bytes([rc])
    if props is not None:
        body += props_block(props)
    return packet(0xe0, body)


PINGREQ_PACKET = _m.pingreq()


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


_PROP_KW = {"errors": "strict", "unknown": KeyError}


def _props_dict(items):
    out = {}
    for pid, v in items:
        name = _m.SHORT_NAMES[pid]
        if name in ("user", "sub_id"):
            out.setdefault(name, []).append(v)
        else:
            out[name] = v
    return out


def decode_props(b, i):
    items, end = _m.prop_items(b, i, **_PROP_KW)
    return _props_dict(items), end


read_varint = _m._varint_at


def decode(raw, version):
    """Decode one whole packet the server sent."""
    p = Packet(raw)
    _, i = read_varint(raw, 1)
    f = _m.packet_fields(p.type, p.flags, raw[i:], version, **_PROP_KW)
    if p.type == CONNACK:
        p.session_present = f.pop("sp")
    for k, v in f.items():
        if k == "props":
            if v:
                p.props = _props_dict(v)
        else:
            setattr(p, k, v)
    return p


# ---------------------------------------------------------------------------
# The raw client

class Raw:
    """One connection; every call is synchronous."""

    def __init__(self, client_id="", version=5, port=None, name=None):
        self.client_id = client_id
        self.version = version
        self.name = name or client_id or "raw"
        if TRANSPORT == "tcp":
            self.sock = socket.create_connection((HOST, port or PORT), 5)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            self.sock = _ps.Stream(port or PORT)
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
        if TRANSPORT == "tcp":
            data = _m.read_some(self.sock, deadline,
                                (ConnectionResetError, OSError))
        else:
            try:
                data = self.sock.read_some(deadline)
            except OSError:
                data = b""
        if data is None:
            return False
        if not data:
            self.eof = True
            raise Closed(self.name)
        self.buf += data
        return True

    def _whole(self):
        """Length of the first whole packet in buf, or 0."""
        w = _m.split_packet(self.buf)
        return w[2] if w else 0

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
    tkw = {}
    if TRANSPORT in ("ws", "wss"):
        tkw["transport"] = "websockets"
    if v5:
        c = mqtt.Client(client_id, protocol=mqtt.MQTTv5, **tkw)
    else:
        c = mqtt.Client(client_id, clean_session=clean,
                        protocol=mqtt.MQTTv311, **tkw)
    if tkw:
        c.ws_set_options(path="/mqtt")
    if TRANSPORT in ("tls", "wss"):
        if _ps.CAFILE:
            c.tls_set(ca_certs=_ps.CAFILE)
        else:
            import ssl
            c.tls_set(cert_reqs=ssl.CERT_NONE)
            c.tls_insecure_set(True)
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
