# pubsub.py: MQTT clients for the publish/subscribe/QoS tests (t2000-t2199).
#
# A test script defines
#
#	pubsub_py () {
#		MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
#		    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
#		    "$PYTHON" - "$@"
#	}
#
# and feeds it a short program on stdin that starts with
# "from pubsub import *".  A failed check() raises AssertionError, which
# ends the program with status 1 and the message on stderr.  SIGALRM ends
# every program after DEADLINE seconds (PUBSUB_DEADLINE, default 15, times
# PUBSUB_SCALE), so no test hangs.  Everything talks to 127.0.0.1:$MQTT_PORT.
#
# Two kinds of client:
#
#   Raw(client_id, version=5, ...)    a plain socket with its own encoder
#       and decoder, for what must be exact on the wire: DUP and RETAIN
#       bits, packet ids, reason codes, topic aliases, acknowledging (or
#       not) at will.  Packets read come back as Packet objects.
#   Paho(client_id, version=5, ...)   paho-mqtt 1.6.1 (a real client
#       library) driven synchronously: connect, subscribe and publish wait
#       for their acknowledgements; received messages go to a queue.
#
# version is 4 (MQTT 3.1.1) or 5 (MQTT 5.0) for both.
#
# PUBSUB_TRANSPORT (lib-broker.sh sets it from FLOCKMQ_TEST_TRANSPORT) is
# what both speak on MQTT_PORT: tcp (the default), tls, ws (WebSocket,
# path /mqtt, MQTT in binary frames; ws.py's Ws) or wss (WebSocket over
# TLS).  TLS checks the server against PUBSUB_CAFILE, or nothing if unset.
# To Raw a WebSocket close frame or the TLS close is the socket closing.

import os
import queue
import select
import signal
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
PORT = int(os.environ.get("MQTT_PORT", "1883"))
# $FLOCKMQ_TEST_TIMEOUT_SCALE (5 under valgrind): multiplies the deadline
# and the waits for something to come, not the quiet periods.
SCALE = int(os.environ.get("PUBSUB_SCALE", "1"))
DEADLINE = int(os.environ.get("PUBSUB_DEADLINE", "15")) * SCALE
TRANSPORT = os.environ.get("PUBSUB_TRANSPORT", "tcp")
CAFILE = os.environ.get("PUBSUB_CAFILE")
if TRANSPORT not in ("tcp", "tls", "ws", "wss"):
    raise SystemExit("pubsub.py: PUBSUB_TRANSPORT %r: tcp, tls, ws or wss"
                     % TRANSPORT)


def _deadline(signum, frame):
    raise TimeoutError("pubsub.py: deadline of %d s passed" % DEADLINE)


signal.signal(signal.SIGALRM, _deadline)
signal.alarm(DEADLINE)

# The packet codec and the socket plumbing are mqttc.py's; what is here
# keeps the names and signatures the t2xxx scripts use.
import mqttc as _m                                   # noqa: E402
# Names imported here but unused are re-exported on purpose: the scripts
# get them (and the stdlib modules above) from "from pubsub import *".
from mqttc import (CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC,  # noqa: E402
                   PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE,
                   UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH, Closed,
                   varint, u16, u32, mstr)

TYPE_NAMES = _m.PTYPES

# MQTT 5 properties (2.2.2.2): name -> (identifier, type).
PROPS = _m.SHORT_PROPS
PROP_BY_ID = {v[0]: (k, v[1]) for k, v in PROPS.items()}


def log(*args):
    """A line on stderr (shown when the test fails, or with -v)."""
    print(*args, file=sys.stderr, flush=True)


def check(cond, what, *detail):
    """Fail the program unless cond holds; what says what was expected."""
    if not cond:
        raise AssertionError(what + ("" if not detail else
                                     ": " + " ".join(map(repr, detail))))


def wait_until(cond, timeout=5.0, step=0.05):
    """Poll cond() until it is true; False after timeout seconds."""
    end = time.monotonic() + timeout * SCALE
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(step)
    return bool(cond())


# ---------------------------------------------------------------------------
# Encoding (mqttc.py's, with pubsub's signatures)

_b = _m._bytes


def prop(name, value):
    return _m.prop_entry(name, value)


def props_block(props):
    """A property block (length first) from None, raw bytes, a dict or a
    list of (name, value); "user" takes a list of (key, value) pairs and
    "sub_id" may be a list too."""
    return _m.props(props)


def packet(first, body):
    return _m.packet(first >> 4, body, first & 0x0f)


def connect_packet(client_id="", version=5, clean=True, keepalive=60,
                   props=None):
    return _m.connect(client_id, version, clean, keepalive, props,
                      proto_name="MQTT")


def publish_packet(topic, payload=b"", qos=0, pid=None, retain=False,
                   dup=False, props=None, version=5):
    return _m.publish(topic, payload, qos, pid, retain, version, props,
                      dup=dup)


def sub_options(qos=0, nl=False, rap=False, rh=0):
    return qos | (4 if nl else 0) | (8 if rap else 0) | (rh << 4)


def subscribe_packet(pid, entries, props=None, version=5):
    """entries: list of (filter, options byte)."""
    return _m.subscribe_many(pid, entries, version, props)


def unsubscribe_packet(pid, filters, version=5):
    return _m.unsubscribe(pid, filters, version)


def ack_packet(ptype, pid, rc=None, version=5):
    """PUBACK, PUBREC, PUBREL or PUBCOMP; v5 adds rc when given."""
    return _m.ack(ptype, pid, rc, version=version)


def disconnect_packet(rc=0, props=None, version=5):
    return _m.disconnect(rc, version, props)


# ---------------------------------------------------------------------------
# Decoding

_PROP_KW = {"errors": "replace", "pair_errors": "strict",
            "unknown": AssertionError}


def _named(items):
    return [(_m.SHORT_NAMES[pid], v) for pid, v in items]


def decode_props(b, i):
    """(list of (name, value), end) for the property block at b[i:]."""
    items, end = _m.prop_items(b, i, **_PROP_KW)
    return _named(items), end


class Props(list):
    """Decoded properties in wire order: a list of (name, value)."""

    def get(self, name, default=None):
        for k, v in self:
            if k == name:
                return v
        return default

    def all(self, name):
        return [v for k, v in self if k == name]

    def __contains__(self, name):
        return any(k == name for k, v in self)


class Packet:
    """A decoded packet.  Always: type, flags, body (bytes), name.
    PUBLISH: topic, qos, dup, retain, pid, props, payload.
    CONNACK: sp, rc, props.  SUBACK/UNSUBACK: pid, rcs, props.
    PUBACK..PUBCOMP: pid, rc, props.  DISCONNECT: rc, props."""

    def __init__(self, first, body, version):
        self.type = first >> 4
        self.flags = first & 0x0f
        self.first = first
        self.body = bytes(body)
        self.version = version
        self.name = TYPE_NAMES.get(self.type, str(self.type))
        self.props = Props()
        self.rc = 0
        self.pid = None
        if self.type == DISCONNECT and version != 5:
            if len(self.body) >= 1:
                self.rc = self.body[0]
        elif self.type != AUTH:
            f = _m.packet_fields(self.type, self.flags, self.body, version,
                                 **_PROP_KW)
            if self.type == PUBLISH:
                self.qos = f["qos"]
                self.dup = bool(f["dup"])
                self.retain = bool(f["retain"])
                self.topic = f["topic"]
                self.payload = f["payload"]
            elif self.type == CONNACK:
                self.sp = f["sp"]
            elif self.type in (SUBACK, UNSUBACK):
                self.rcs = f["rcs"]
            if "pid" in f:
                self.pid = f["pid"]
            if "rc" in f:
                self.rc = f["rc"]
            if f.get("props"):
                self.props = Props(_named(f["props"]))

    def __repr__(self):
        if self.type == PUBLISH:
            s = "PUBLISH(topic=%r qos=%d dup=%d retain=%d pid=%s " \
                "payload=%r" % (self.topic, self.qos, self.dup,
                                self.retain, self.pid, self.payload[:40])
            if self.props:
                s += " props=%r" % list(self.props)
            return s + ")"
        if self.type in (SUBACK, UNSUBACK):
            return "%s(pid=%s rcs=%s)" % (self.name, self.pid,
                                          [hex(r) for r in self.rcs])
        return "%s(pid=%s rc=0x%02x props=%r)" % (self.name, self.pid,
                                                   self.rc, list(self.props))


def _tls_context():
    import ssl
    if CAFILE:
        return ssl.create_default_context(cafile=CAFILE)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Stream:
    """Raw's connection under PUBSUB_TRANSPORT tls, ws or wss: sendall(),
    read_some(deadline) as mqttc.read_some (bytes; None on timeout; b""
    once closed), close(); anything else goes to the socket."""

    def __init__(self, port):
        import ssl
        self._ssl = ssl
        self.ws = None
        if TRANSPORT in ("ws", "wss"):
            import ws
            self._op = ws
            self.ws = ws.Ws(port=port, upgrade=False)
            sock = self.ws.sock
        else:
            sock = socket.create_connection((HOST, port), timeout=5 * SCALE)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if TRANSPORT in ("tls", "wss"):
            sock = _tls_context().wrap_socket(sock, server_hostname=HOST)
        self.sock = sock
        if self.ws:
            self.ws.sock = sock
            self.ws.upgrade("/mqtt")

    def __getattr__(self, name):
        if name == "sock":
            raise AttributeError(name)
        return getattr(self.sock, name)

    def sendall(self, data):
        if self.ws:
            self.ws.send_mqtt(data)
        else:
            self.sock.sendall(data)

    def _read(self, deadline):
        s = self.sock
        try:
            if isinstance(s, self._ssl.SSLSocket) and s.pending():
                return s.recv(65536)
            return _m.read_some(s, deadline)
        except self._ssl.SSLError:
            return b""

    def read_some(self, deadline):
        if not self.ws:
            return self._read(deadline)
        w, op = self.ws, self._op
        while True:
            f = w._frame()
            if f is None:
                d = self._read(deadline)
                if not d:
                    return d
                w.buf += d
                continue
            fin, code, payload = f
            if code in (op.OP_BINARY, op.OP_CONT):
                if payload:
                    return payload
            elif code == op.OP_CLOSE:
                try:
                    w.send_frame(op.OP_CLOSE, payload[:2])
                except OSError:
                    pass
                return b""
            elif code == op.OP_PING:
                w.send_frame(op.OP_PONG, payload)
            elif code != op.OP_PONG:
                raise AssertionError("a WebSocket frame of opcode %d" %
                                     code)

    def close(self):
        self.sock.close()


class Raw:
    """A synchronous MQTT client on a plain socket.

    Raw(client_id, version=5, clean=True, props=None, connect=True)
    connects and reads the CONNACK (self.connack) unless connect=False.
    With autoack (default False) every PUBLISH read is acknowledged at
    once (PUBACK, or PUBREC then PUBCOMP when the PUBREL comes, which
    recv() then does not return)."""

    def __init__(self, client_id="", version=5, clean=True, props=None,
                 keepalive=60, connect=True, autoack=False, port=None,
                 expect_rc=0):
        self.version = version
        self.client_id = client_id
        self.autoack = autoack
        self.buf = b""
        self.pending = []
        self.next_pid = 1
        self.closed = False
        if TRANSPORT == "tcp":
            self.sock = socket.create_connection((HOST, port or PORT),
                                                 timeout=5 * SCALE)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        else:
            self.sock = Stream(port or PORT)
        self.connack = None
        if connect:
            self.send(connect_packet(client_id, version, clean, keepalive,
                                     props))
            self.connack = self.expect(CONNACK)
            if expect_rc is not None:
                check(self.connack.rc == expect_rc,
                      "%s: CONNACK rc 0x%02x" % (client_id, expect_rc),
                      self.connack)

    def __repr__(self):
        return "Raw(%r)" % self.client_id

    def send(self, data):
        self.sock.sendall(data)

    def pid(self):
        p = self.next_pid
        self.next_pid = p % 65535 + 1
        return p

    def _fill(self, deadline):
        if TRANSPORT == "tcp":
            d = _m.read_some(self.sock, deadline)
        else:
            d = self.sock.read_some(deadline)
        if d is None:
            return False
        if not d:
            self.closed = True
            raise Closed()
        self.buf += d
        return True

    def _whole(self):
        """One packet from the buffer, or None."""
        w = _m.split_packet(self.buf)
        if w is None:
            return None
        first, i, end = w
        b = self.buf
        self.buf = b[end:]
        return Packet(first, b[i:end], self.version)

    def _recv_wire(self, timeout):
        """The next packet off the wire; None on timeout; Closed."""
        deadline = time.monotonic() + timeout
        while True:
            p = self._whole()
            if p is not None:
                self._auto(p)
                if self.autoack and p.type == PUBREL:
                    continue
                return p
            if self.closed:
                raise Closed()
            if not self._fill(deadline):
                return None

    def _auto(self, p):
        if not self.autoack:
            return
        if p.type == PUBLISH and p.qos == 1:
            self.send(ack_packet(PUBACK, p.pid, version=self.version))
        elif p.type == PUBLISH and p.qos == 2:
            self.send(ack_packet(PUBREC, p.pid, version=self.version))
        elif p.type == PUBREL:
            self.send(ack_packet(PUBCOMP, p.pid, version=self.version))

    def recv(self, timeout=5.0):
        """The next packet (kept ones first); None on timeout; Closed."""
        if self.pending:
            return self.pending.pop(0)
        return self._recv_wire(timeout)

    def expect(self, ptype, timeout=5.0):
        """The next packet of ptype; PUBLISH packets read meanwhile are
        kept for recv(), anything else fails."""
        timeout *= SCALE
        deadline = time.monotonic() + timeout
        for i, p in enumerate(self.pending):
            if p.type == ptype:
                return self.pending.pop(i)
        while True:
            try:
                p = self._recv_wire(max(0.0, deadline - time.monotonic()))
            except Closed:
                raise AssertionError("%r: closed while waiting for %s" %
                                     (self, TYPE_NAMES[ptype]))
            check(p is not None, "%r: %s within %.1f s" %
                  (self, TYPE_NAMES[ptype], timeout))
            if p.type == ptype:
                return p
            if p.type == PUBLISH and ptype != PUBLISH:
                self.pending.append(p)
                continue
            raise AssertionError("%r: expected %s, got %r" %
                                 (self, TYPE_NAMES[ptype], p))

    def expect_nothing(self, timeout=1.0):
        """No packet at all for timeout seconds (the connection stays)."""
        p = self.pending[0] if self.pending else self._recv_wire(timeout)
        check(p is None, "%r: nothing within %.1f s" % (self, timeout), p)

    def expect_disconnect(self, rc, timeout=5.0):
        """A v5 DISCONNECT with reason code rc, then the close; for 3.1.1
        only the close."""
        if self.version == 5:
            p = self.expect(DISCONNECT, timeout)
            check(p.rc == rc, "%r: DISCONNECT rc 0x%02x" % (self, rc), p)
        self.expect_closed(timeout)
        return None

    def expect_closed(self, timeout=5.0):
        """The server closes the connection within timeout; only a
        DISCONNECT may come before (its rc is returned, or None)."""
        timeout *= SCALE
        deadline = time.monotonic() + timeout
        rc = None
        while True:
            try:
                p = self._recv_wire(max(0.0, deadline - time.monotonic()))
            except Closed:
                return rc
            check(p is not None, "%r: closed within %.1f s" % (self, timeout))
            check(p.type == DISCONNECT, "%r: only DISCONNECT before the "
                  "close" % self, p)
            rc = p.rc

    def is_open(self, timeout=0.3):
        """Ping: True if PINGRESP comes back."""
        try:
            self.send(b"\xc0\x00")
            self.expect(PINGRESP, timeout)
            return True
        except (AssertionError, OSError):
            return False

    def subscribe(self, *filters, qos=0, nl=False, rap=False, rh=0,
                  props=None, sub_id=None):
        """SUBSCRIBE to the filters with one set of options; returns the
        SUBACK reason codes.  A filter may also be (filter, options)."""
        entries = []
        for f in filters:
            if isinstance(f, tuple):
                entries.append(f)
            else:
                entries.append((f, sub_options(qos, nl, rap, rh)))
        if sub_id is not None:
            props = dict(props or {}, sub_id=sub_id)
        pid = self.pid()
        self.send(subscribe_packet(pid, entries, props, self.version))
        p = self.expect(SUBACK)
        check(p.pid == pid, "%r: SUBACK pid %d" % (self, pid), p)
        check(len(p.rcs) == len(entries), "%r: one SUBACK code per "
              "filter" % self, p)
        return p.rcs

    def unsubscribe(self, *filters):
        pid = self.pid()
        self.send(unsubscribe_packet(pid, filters, self.version))
        p = self.expect(UNSUBACK)
        return p.rcs

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None,
                dup=False, pid=None, wait=True):
        """PUBLISH; with wait, complete the QoS flow and return the PUBACK
        (qos 1) or the PUBREC (qos 2, after PUBREL and PUBCOMP)."""
        if qos and pid is None:
            pid = self.pid()
        self.send(publish_packet(topic, payload, qos, pid, retain, dup,
                                 props, self.version))
        if not wait or qos == 0:
            return pid
        if qos == 1:
            a = self.expect(PUBACK)
            check(a.pid == pid, "%r: PUBACK pid %d" % (self, pid), a)
            return a
        rec = self.expect(PUBREC)
        check(rec.pid == pid, "%r: PUBREC pid %d" % (self, pid), rec)
        if rec.rc >= 0x80:
            return rec
        self.send(ack_packet(PUBREL, pid, version=self.version))
        comp = self.expect(PUBCOMP)
        check(comp.pid == pid and comp.rc == 0,
              "%r: PUBCOMP pid %d rc 0" % (self, pid), comp)
        return rec

    def ack(self, p):
        """Acknowledge a PUBLISH we received (QoS 2: the whole flow)."""
        if p.qos == 1:
            self.send(ack_packet(PUBACK, p.pid, version=self.version))
        elif p.qos == 2:
            self.send(ack_packet(PUBREC, p.pid, version=self.version))
            rel = self.expect(PUBREL)
            check(rel.pid == p.pid, "%r: PUBREL pid %d" % (self, p.pid),
                  rel)
            self.send(ack_packet(PUBCOMP, p.pid, version=self.version))

    def messages(self, n, timeout=5.0, ack=True):
        """The next n PUBLISH packets (acknowledged if ack and not
        autoack); anything else fails."""
        out = []
        timeout *= SCALE
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                p = self.recv(max(0.0, deadline - time.monotonic()))
            except Closed:
                raise AssertionError("%r: closed after %d of %d messages" %
                                     (self, len(out), n))
            check(p is not None, "%r: %d messages within %.1f s, got %d" %
                  (self, n, timeout, len(out)), out)
            check(p.type == PUBLISH, "%r: a PUBLISH" % self, p)
            if ack and not self.autoack:
                self.ack(p)
            out.append(p)
        return out

    def payloads(self, n, timeout=5.0, ack=True):
        return [p.payload.decode() for p in self.messages(n, timeout, ack)]

    def drain(self, timeout=0.5, ack=True):
        """Every PUBLISH arriving until timeout seconds of quiet."""
        out = []
        while True:
            p = self.recv(timeout)
            if p is None:
                return out
            check(p.type == PUBLISH, "%r: a PUBLISH" % self, p)
            if ack and not self.autoack:
                self.ack(p)
            out.append(p)

    def disconnect(self, rc=0, props=None):
        try:
            self.send(disconnect_packet(rc, props, self.version))
        except OSError:
            pass
        self.close()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# paho-mqtt

import paho.mqtt.client as mqtt                      # noqa: E402
from paho.mqtt.properties import Properties          # noqa: E402
from paho.mqtt.packettypes import PacketTypes        # noqa: E402
from paho.mqtt.subscribeoptions import SubscribeOptions  # noqa: E402

PAHO_NAMES = {
    "payload_format": "PayloadFormatIndicator",
    "message_expiry": "MessageExpiryInterval",
    "content_type": "ContentType",
    "response_topic": "ResponseTopic",
    "correlation_data": "CorrelationData",
    "sub_id": "SubscriptionIdentifier",
    "session_expiry": "SessionExpiryInterval",
    "receive_max": "ReceiveMaximum",
    "topic_alias_max": "TopicAliasMaximum",
    "topic_alias": "TopicAlias",
    "max_packet_size": "MaximumPacketSize",
    "user": "UserProperty",
}


def paho_props(ptype, props):
    """paho Properties of packet type ptype ("CONNECT", "PUBLISH", ...)
    from a dict with PROPS names."""
    if not props:
        return None
    p = Properties(getattr(PacketTypes, ptype))
    for k, v in props.items():
        setattr(p, PAHO_NAMES[k], v)
    return p


def prop_of(msg, name, default=None):
    """A property of a paho message by PROPS name."""
    props = getattr(msg, "properties", None)
    if props is None:
        return default
    return getattr(props, PAHO_NAMES[name], default)


class Paho:
    """paho-mqtt, synchronous: Paho(client_id, version=5, clean=True,
    props=None) is connected (rc in self.rc, CONNACK properties in
    self.connack_props) with the network loop running in a thread.
    username and password go in the CONNECT; reconnect_delay (min, max)
    replaces paho's own."""

    def __init__(self, client_id="", version=5, clean=True, props=None,
                 keepalive=60, expect_rc=0, port=None, username=None,
                 password=None, reconnect_delay=None):
        self.version = version
        self.client_id = client_id
        self.q = queue.Queue()
        self.connected = threading.Event()
        self.gone = threading.Event()
        self.disconnect_rc = None
        self.subacks = {}
        self.suback_ev = threading.Condition()
        tkw = {}
        if TRANSPORT in ("ws", "wss"):
            tkw["transport"] = "websockets"
        if version == 5:
            c = mqtt.Client(client_id=client_id, protocol=mqtt.MQTTv5,
                            **tkw)
        else:
            c = mqtt.Client(client_id=client_id, clean_session=clean,
                            protocol=mqtt.MQTTv311, **tkw)
        if tkw:
            c.ws_set_options(path="/mqtt")
        if TRANSPORT in ("tls", "wss"):
            if CAFILE:
                c.tls_set(ca_certs=CAFILE)
            else:
                import ssl
                c.tls_set(cert_reqs=ssl.CERT_NONE)
                c.tls_insecure_set(True)
        self.c = c
        if username is not None:
            c.username_pw_set(username, password)
        if reconnect_delay is not None:
            c.reconnect_delay_set(*reconnect_delay)
        c.on_connect = self._on_connect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        c.on_disconnect = self._on_disconnect
        kw = {}
        if version == 5:
            kw["clean_start"] = clean
            kw["properties"] = paho_props("CONNECT", props)
        c.connect(HOST, port or PORT, keepalive, **kw)
        c.loop_start()
        check(self.connected.wait(5 * SCALE), "%r: CONNACK within 5 s" %
              self)
        if expect_rc is not None:
            check(self.rc == expect_rc, "%r: CONNACK rc %d" %
                  (self, expect_rc), self.rc)

    def __repr__(self):
        return "Paho(%r, v%d)" % (self.client_id, self.version)

    def _on_connect(self, c, ud, flags, rc, props=None):
        self.rc = rc.value if hasattr(rc, "value") else rc
        self.connack_props = props
        self.session_present = flags.get("session present")
        self.connected.set()

    def _on_message(self, c, ud, msg):
        self.q.put(msg)

    def _on_subscribe(self, c, ud, mid, granted, props=None):
        codes = [g.value if hasattr(g, "value") else g for g in granted]
        with self.suback_ev:
            self.subacks[mid] = codes
            self.suback_ev.notify_all()

    def _on_disconnect(self, c, ud, rc, props=None):
        self.disconnect_rc = rc.value if hasattr(rc, "value") else rc
        self.gone.set()

    def subscribe(self, topic, qos=0, nl=False, rap=False, rh=0,
                  sub_id=None):
        """SUBSCRIBE and wait for the SUBACK; returns its codes (v5 reason
        codes; 3.1.1 granted QoS or 0x80)."""
        if self.version == 5:
            opts = SubscribeOptions(qos=qos, noLocal=nl,
                                    retainAsPublished=rap,
                                    retainHandling=rh)
            props = paho_props("SUBSCRIBE", {"sub_id": sub_id}
                               if sub_id is not None else None)
            rc, mid = self.c.subscribe(topic, options=opts,
                                       properties=props)
        else:
            rc, mid = self.c.subscribe(topic, qos)
        check(rc == mqtt.MQTT_ERR_SUCCESS, "%r: subscribe sent" % self, rc)
        with self.suback_ev:
            ok = self.suback_ev.wait_for(lambda: mid in self.subacks,
                                         5 * SCALE)
        check(ok, "%r: SUBACK within 5 s" % self)
        return self.subacks.pop(mid)

    def publish(self, topic, payload=b"", qos=0, retain=False, props=None,
                wait=True):
        """PUBLISH; with wait, until the QoS flow completes (PUBACK or
        PUBCOMP).  Returns paho's MQTTMessageInfo."""
        info = self.c.publish(topic, payload, qos, retain,
                              properties=paho_props("PUBLISH", props))
        check(info.rc == mqtt.MQTT_ERR_SUCCESS, "%r: publish sent" % self,
              info.rc)
        if wait:
            info.wait_for_publish(5 * SCALE)
            check(info.is_published(), "%r: the QoS %d flow of %r "
                  "completed within 5 s" % (self, qos, topic))
        return info

    def messages(self, n, timeout=5.0):
        """The next n messages (paho MQTTMessage)."""
        out = []
        timeout *= SCALE
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                out.append(self.q.get(timeout=max(0.01, deadline -
                                                  time.monotonic())))
            except queue.Empty:
                raise AssertionError("%r: %d messages within %.1f s, got "
                                     "%d: %r" % (self, n, timeout, len(out),
                                                 [m.payload for m in out]))
        return out

    def payloads(self, n, timeout=5.0):
        return [m.payload.decode() for m in self.messages(n, timeout)]

    def drain(self, timeout=0.5):
        """Every message arriving until timeout seconds of quiet."""
        out = []
        while True:
            try:
                out.append(self.q.get(timeout=timeout))
            except queue.Empty:
                return out

    def expect_nothing(self, timeout=1.0):
        try:
            m = self.q.get(timeout=timeout)
        except queue.Empty:
            return
        raise AssertionError("%r: no message within %.1f s, got %r on %r"
                             % (self, timeout, m.payload, m.topic))

    def expect_disconnect(self, rc, timeout=5.0):
        """The server disconnects us; v5: with reason code rc."""
        check(self.gone.wait(timeout * SCALE),
              "%r: disconnected within %.1f s" % (self, timeout))
        if self.version == 5:
            check(self.disconnect_rc == rc, "%r: DISCONNECT rc 0x%02x" %
                  (self, rc), self.disconnect_rc)

    def disconnect(self):
        self.c.disconnect()
        self.gone.wait(5)
        self.c.loop_stop()


def spread(clients, n, timeout=5.0, quiet=0.3):
    """n messages received over several clients (Raw or Paho; a Raw one
    acknowledges only if autoack), then quiet seconds without any more:
    a list per client of the payloads (str) in arrival order."""
    out = [[] for c in clients]
    timeout *= SCALE
    deadline = time.monotonic() + timeout

    def poll(wait):
        got = 0
        for i, c in enumerate(clients):
            if isinstance(c, Raw):
                p = c.recv(wait)
                if p is not None:
                    check(p.type == PUBLISH, "%r: a PUBLISH" % c, p)
                    out[i].append(p.payload.decode())
                    got += 1
            else:
                try:
                    m = c.q.get(timeout=wait)
                except queue.Empty:
                    continue
                out[i].append(m.payload.decode())
                got += 1
        return got

    while sum(map(len, out)) < n and time.monotonic() < deadline:
        poll(0.01)
    check(sum(map(len, out)) >= n, "%d messages within %.1f s" %
          (n, timeout), out)
    time.sleep(quiet)
    while poll(0):
        pass
    check(sum(map(len, out)) == n, "no more than %d messages" % n, out)
    return out
