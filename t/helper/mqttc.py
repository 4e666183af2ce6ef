#!/usr/bin/python3
"""mqttc: small MQTT client helpers for flockmq's tests.

Run it with $PYTHON (Debian's /usr/bin/python3, which has paho-mqtt 1.6.1).
The raw-socket part uses the standard library only; the paho part imports
paho lazily.  Everything talks to 127.0.0.1 and every wait has a timeout.

Python API (``sys.path.insert(0, TEST_DIRECTORY + "/helper"); import mqttc``)

  Encoding
    varint(n) -> bytes                 Variable Byte Integer (MQTT 1.5.5)
    mstr(s) -> bytes                   UTF-8 string with a 2-byte length
    props(dict_or_list) -> bytes       v5 properties, length included; keys
                                       are the names in PROPS below (or ids);
                                       user_property takes (k, v) pairs
    packet(type, body, flags=0)        fixed header + body
    connect(client_id="", version=5, clean=True, keepalive=60,
            properties=None, username=None, password=None, will=None,
            proto_name=None)           a CONNECT (version 3 = 3.1 "MQIsdp",
                                       4 = 3.1.1, 5 = 5.0, any other number
                                       is sent as it is); will is a dict
                                       {topic, payload, qos, retain,
                                       properties}
    disconnect(rc=0, version=5), pingreq(), auth(rc=0, properties=None),
    subscribe(pid, topic, qos=0, version=5),
    publish(topic, payload, qos=0, pid=None, retain=False, version=5)

    u16(n), u32(n)                     big-endian integers
    prop_entry(name, value)            one property (identifier and value)
    subscribe_many(pid, entries, version=5, properties=None, flags=0x2)
                                       entries: (filter, options byte)
    unsubscribe(pid, filters, version=5)
    ack(ptype, pid, rc=None, properties=None, version=5, flags=None)
                                       PUBACK/PUBREC/PUBREL/PUBCOMP; v5 adds
                                       rc (and properties) when given
  props() and prop_entry() also take the short names of SHORT_NAMES (as
  pubsub.py and sessions.py spell them); props() takes raw bytes as they
  are, and a list of values for user_property and subscription_identifier.

  Packet types: CONNECT .. AUTH (1 .. 15); PTYPES maps them to names.

  Decoding
    parse_props(data, off=0) -> (dict, end)  names as in PROPS; user_property
                                             is a list of (k, v)
    parse_connack(body, version) -> (session_present, rc, props)
    parse_reason(body, version) -> (rc, props)   DISCONNECT / AUTH body
    describe(ptype, flags, body, version) -> str  one line (see below)
    prop_items(data, off=0, errors="replace", pair_errors=None,
               unknown=ValueError) -> ([(id, value)], end)
                                   properties in wire order (the base of
                                   parse_props and of the other helpers)
    packet_fields(ptype, flags, body, version=5, ...) -> dict of what a
                         packet from the server carries (see there)
    split_packet(buf) -> (first_byte, body_start, body_end) of the first
                         whole packet in buf, or None
    read_some(sock, deadline, errors) -> bytes, b"" at EOF, None on timeout

  pubsub.py and sessions.py import the codec and socket plumbing from here
  and keep only their own client classes (and packet builders with their
  historical signatures, as thin wrappers).

  Raw connections
    Raw(port, host="127.0.0.1", timeout=5, version=5)   a connected
          socket; version (3, 4 or 5) is how packets are decoded
      .send(bytes) / .send_hex("10 0c ...")
      .recv_packet(timeout=None) -> (type, flags, body); None when the
          server closed the connection; raises socket.timeout on timeout
      .wait_close(timeout) -> True if the server closed, False on timeout
          (packets read meanwhile are appended to .seen)
      .connect(**kw) -> (session_present, rc, props)  send a CONNECT built
          by connect(**kw) and read its CONNACK (AssertionError if the
          first packet is not a CONNACK)
      .close()

  paho-mqtt (real client)
    paho_connect(port, version=5, client_id="", clean=True, keepalive=60,
                 properties=None, timeout=5) -> (client, rc, props_dict)
        connects with paho's network loop running; rc is an int; props_dict
        uses PROPS names; the caller disconnects: paho_close(client)

Command line ($PYTHON "$TEST_DIRECTORY/helper/mqttc.py" COMMAND ...)
  Common options: -p PORT (required), -t TIMEOUT seconds (default 5),
  -x (print each packet received as the hex of all its bytes instead)

  connect [-V 3|4|5|N] [-i ID] [--no-clean] [-k KEEPALIVE]
          [-P NAME=VALUE]... [-u USER] [--password PW]
          [--send HEX]... [--ping SECONDS] [--wait SECONDS]
      Connects with a raw socket and prints the CONNACK; then sends each
      --send packet: hex bytes, or one of the words connect (the same
      CONNECT again), pingreq, auth (AUTH 0x19 re-authenticate) and
      disconnect (normal, in the connection's version); then, for --wait
      seconds (0: not at all), prints every packet received until the
      server closes; --ping N sends a PINGREQ every N seconds meanwhile.
      Exit status 0 whatever the broker answers (compare the output); 1
      if the connection itself fails (e.g. ConnectionRefusedError).
  raw [-V VERSION] [--send HEX]... [--wait SECONDS]
      Connects, sends the --send packets (no CONNECT of its own) and
      prints what comes back until the server closes or --wait ends;
      -V only says how to decode what comes back (default 5).
  paho [-V 3|4|5] [-i ID] [--no-clean] [-k KEEPALIVE] [-P NAME=VALUE]...
      Connects with paho-mqtt and prints "CONNACK rc=0x.." and the
      properties as `connect` does (paho does not report the session
      present flag here); TIMEOUT if no CONNACK came.

  Output: one line per event, values in hex where the spec uses codes:
      CONNACK sp=0 rc=0x00
        assigned_client_identifier=flockmq-...      (v5 properties, sorted,
        maximum_packet_size=1048576                  indented two spaces)
      DISCONNECT rc=0x8b
        reason_string=server shutting down
      PINGRESP
      PUBLISH topic=a/b qos=1 retain=0 payload=hello
      CLOSED after=2.51        (the server closed; seconds since the last
                                --send or CONNACK, with --wait)
      TIMEOUT                  (--wait ended with the connection open)
"""

import select
import socket
import struct
import sys
import time

__all__ = [
    "PROPS", "PTYPES", "varint", "mstr", "props", "packet", "connect",
    "disconnect", "pingreq", "auth", "subscribe", "publish", "parse_props",
    "parse_connack", "parse_reason", "describe", "Raw", "paho_connect",
    "paho_close", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
    "PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK",
    "PINGREQ", "PINGRESP", "DISCONNECT", "AUTH",
]
# Also shared with pubsub.py and sessions.py (not in __all__ so that a
# "from mqttc import *" sees what it always did): SHORT_NAMES, SHORT_PROPS,
# u16, u32, prop_entry, subscribe_many, unsubscribe, ack, prop_items,
# packet_fields, split_packet, read_some, Closed.

# Packet types (MQTT 2.1.2).
CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, \
    SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = \
    range(1, 16)
PTYPES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK",
          5: "PUBREC", 6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE",
          9: "SUBACK", 10: "UNSUBSCRIBE", 11: "UNSUBACK", 12: "PINGREQ",
          13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

# v5 properties (MQTT 2.2.2.2): id -> (name, type).  Types: b byte,
# h two-byte int, i four-byte int, v varint, s string, d binary, p pair.
PROPS = {
    0x01: ("payload_format_indicator", "b"),
    0x02: ("message_expiry_interval", "i"),
    0x03: ("content_type", "s"),
    0x08: ("response_topic", "s"),
    0x09: ("correlation_data", "d"),
    0x0B: ("subscription_identifier", "v"),
    0x11: ("session_expiry_interval", "i"),
    0x12: ("assigned_client_identifier", "s"),
    0x13: ("server_keep_alive", "h"),
    0x15: ("authentication_method", "s"),
    0x16: ("authentication_data", "d"),
    0x17: ("request_problem_information", "b"),
    0x18: ("will_delay_interval", "i"),
    0x19: ("request_response_information", "b"),
    0x1A: ("response_information", "s"),
    0x1C: ("server_reference", "s"),
    0x1F: ("reason_string", "s"),
    0x21: ("receive_maximum", "h"),
    0x22: ("topic_alias_maximum", "h"),
    0x23: ("topic_alias", "h"),
    0x24: ("maximum_qos", "b"),
    0x25: ("retain_available", "b"),
    0x26: ("user_property", "p"),
    0x27: ("maximum_packet_size", "i"),
    0x28: ("wildcard_subscription_available", "b"),
    0x29: ("subscription_identifier_available", "b"),
    0x2A: ("shared_subscription_available", "b"),
}
PROP_IDS = {name: pid for pid, (name, _) in PROPS.items()}

# The short names pubsub.py and sessions.py use for the same properties.
SHORT_NAMES = {
    0x01: "payload_format", 0x02: "message_expiry", 0x03: "content_type",
    0x08: "response_topic", 0x09: "correlation_data", 0x0B: "sub_id",
    0x11: "session_expiry", 0x12: "assigned_client_id",
    0x13: "server_keepalive", 0x15: "auth_method", 0x16: "auth_data",
    0x17: "request_problem_info", 0x18: "will_delay",
    0x19: "request_response_info", 0x1A: "response_info",
    0x1C: "server_reference", 0x1F: "reason_string", 0x21: "receive_max",
    0x22: "topic_alias_max", 0x23: "topic_alias", 0x24: "max_qos",
    0x25: "retain_available", 0x26: "user", 0x27: "max_packet_size",
    0x28: "wildcard_available", 0x29: "sub_id_available",
    0x2A: "shared_available",
}
SHORT_IDS = {name: pid for pid, name in SHORT_NAMES.items()}
# name -> (identifier, type) with the type words pubsub.py and sessions.py
# always used (their PROPS).
_KIND_WORDS = {"b": "byte", "h": "u16", "i": "u32", "v": "varint",
               "s": "utf8", "d": "bin", "p": "pair"}
SHORT_PROPS = {SHORT_NAMES[pid]: (pid, _KIND_WORDS[kind])
               for pid, (_, kind) in PROPS.items()}


def _prop_id(name):
    if isinstance(name, int):
        return name
    if name in PROP_IDS:
        return PROP_IDS[name]
    return SHORT_IDS[name]


# ---------------------------------------------------------------- encoding

def varint(n):
    """Variable Byte Integer."""
    if n < 0 or n > 268435455:
        raise ValueError("varint out of range: %d" % n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def _bytes(s):
    return s.encode("utf-8") if isinstance(s, str) else bytes(s)


def u16(n):
    return struct.pack("!H", n)


def u32(n):
    return struct.pack("!I", n)


def mstr(s):
    """UTF-8 string (or binary data) with its two-byte length."""
    b = _bytes(s)
    return struct.pack("!H", len(b)) + b


def prop_entry(name, value):
    """One property: its identifier and value.  name: a PROPS name, a
    SHORT_NAMES name or an id; a pair property takes one (k, v)."""
    pid = _prop_id(name)
    kind = PROPS[pid][1]
    out = varint(pid)
    if kind == "b":
        return out + struct.pack("!B", int(value))
    if kind == "h":
        return out + struct.pack("!H", int(value))
    if kind == "i":
        return out + struct.pack("!I", int(value))
    if kind == "v":
        return out + varint(int(value))
    if kind == "p":
        return out + mstr(value[0]) + mstr(value[1])
    return out + mstr(value)


def props(p):
    """v5 properties, with their length.  p: None, raw bytes (the
    properties as they are), a dict or a list of (name, value); names from
    PROPS or SHORT_NAMES or numeric ids; user_property takes a (k, v) pair
    or a list of them, subscription_identifier an int or a list."""
    if p is None:
        p = {}
    if isinstance(p, (bytes, bytearray)):
        return varint(len(p)) + bytes(p)
    items = list(p.items()) if isinstance(p, dict) else list(p)
    out = bytearray()
    for name, value in items:
        kind = PROPS[_prop_id(name)][1]
        if kind == "p":
            many = isinstance(value, list) and (
                not value or isinstance(value[0], (list, tuple)))
            if not many and value and isinstance(value[0], (list, tuple)):
                many = True
            for pair in (value if many else [value]):
                out += prop_entry(name, pair)
        elif kind == "v" and isinstance(value, list):
            for v in value:
                out += prop_entry(name, v)
        else:
            out += prop_entry(name, value)
    return varint(len(out)) + bytes(out)


def packet(ptype, body, flags=0):
    """Fixed header (type, flags, remaining length) + body."""
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + \
        bytes(body)


def connect(client_id="", version=5, clean=True, keepalive=60,
            properties=None, username=None, password=None, will=None,
            proto_name=None, flags=None):
    """A CONNECT packet.  version 3 sends "MQIsdp" (MQTT 3.1), others
    "MQTT"; properties (v5) as for props(); will["properties"] (or
    will["props"]) are the will properties; flags, when given, is sent as
    the connect flags byte whatever the other arguments say."""
    connect_flags = flags
    if proto_name is None:
        proto_name = "MQIsdp" if version == 3 else "MQTT"
    flags = 0
    if clean:
        flags |= 0x02
    if will is not None:
        flags |= 0x04 | ((will.get("qos", 0) & 3) << 3)
        if will.get("retain"):
            flags |= 0x20
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if connect_flags is not None:
        flags = connect_flags
    body = mstr(proto_name) + bytes([version, flags]) + \
        struct.pack("!H", keepalive)
    if version == 5:
        body += props(properties)
    body += mstr(client_id)
    if will is not None:
        if version == 5:
            body += props(will.get("properties", will.get("props")))
        body += mstr(will["topic"]) + mstr(will.get("payload", b""))
    if username is not None:
        body += mstr(username)
    if password is not None:
        body += mstr(password)
    return packet(CONNECT, body)


def disconnect(rc=0, version=5, properties=None):
    if version != 5:
        return packet(DISCONNECT, b"")
    return packet(DISCONNECT, bytes([rc]) + props(properties))


def pingreq():
    return packet(PINGREQ, b"")


def auth(rc=0, properties=None):
    return packet(AUTH, bytes([rc]) + props(properties))


def subscribe_many(pid, entries, version=5, properties=None, flags=0x2):
    """SUBSCRIBE; entries: (filter, options byte) pairs."""
    body = u16(pid)
    if version == 5:
        body += props(properties)
    for f, o in entries:
        body += mstr(f) + bytes([o])
    return packet(SUBSCRIBE, body, flags)


def subscribe(pid, topic, qos=0, version=5):
    return subscribe_many(pid, [(topic, qos)], version)


def unsubscribe(pid, filters, version=5):
    body = u16(pid)
    if version == 5:
        body += props(None)
    for f in filters:
        body += mstr(f)
    return packet(UNSUBSCRIBE, body, 0x2)


def ack(ptype, pid, rc=None, properties=None, version=5, flags=None):
    """PUBACK, PUBREC, PUBREL or PUBCOMP; v5 adds the reason code (0 if
    None) and the properties when either is given.  flags default: 2 for
    PUBREL, else 0."""
    if flags is None:
        flags = 0x02 if ptype == PUBREL else 0
    body = u16(pid)
    if version == 5 and (rc is not None or properties is not None):
        body += bytes([rc or 0])
        if properties is not None:
            body += props(properties)
    return packet(ptype, body, flags)


def publish(topic, payload, qos=0, pid=None, retain=False, version=5,
            properties=None, dup=False, flags=None, with_pid=None):
    """PUBLISH.  The packet id (pid, 1 if None) is there when with_pid, by
    default when qos > 0; flags, when given, replaces the whole low nibble
    (DUP, QoS, RETAIN) of the first byte."""
    if with_pid is None:
        with_pid = bool(qos)
    body = mstr(topic)
    if with_pid:
        body += struct.pack("!H", pid if pid is not None else 1)
    if version == 5:
        body += props(properties)
    body += _bytes(payload)
    if flags is None:
        flags = (0x08 if dup else 0) | (qos << 1) | (1 if retain else 0)
    return packet(PUBLISH, body, flags)


# ---------------------------------------------------------------- decoding

def _varint_at(data, off):
    n, mult = 0, 1
    for i in range(4):
        if off >= len(data):
            raise ValueError("truncated varint")
        b = data[off]
        off += 1
        n += (b & 0x7F) * mult
        if not b & 0x80:
            return n, off
        mult *= 128
    raise ValueError("varint longer than 4 bytes")


def _str_at(data, off):
    if off + 2 > len(data):
        raise ValueError("truncated string length")
    n = struct.unpack_from("!H", data, off)[0]
    off += 2
    if off + n > len(data):
        raise ValueError("truncated string")
    return bytes(data[off:off + n]), off + n


def prop_items(data, off=0, errors="replace", pair_errors=None,
               unknown=ValueError):
    """Decode v5 properties at off: ([(id, value)] in wire order, end).
    Strings are str (decoded with errors; user_property pairs with
    pair_errors, default errors), binary data bytes, user_property a
    (k, v) tuple.  An unknown identifier raises unknown."""
    if pair_errors is None:
        pair_errors = errors
    n, off = _varint_at(data, off)
    end = off + n
    if end > len(data):
        raise ValueError("properties run past the packet")
    out = []
    while off < end:
        pid, off = _varint_at(data, off)
        if pid not in PROPS:
            raise unknown("unknown property 0x%02x" % pid)
        kind = PROPS[pid][1]
        if kind == "b":
            val = data[off]
            off += 1
        elif kind == "h":
            val = struct.unpack_from("!H", data, off)[0]
            off += 2
        elif kind == "i":
            val = struct.unpack_from("!I", data, off)[0]
            off += 4
        elif kind == "v":
            val, off = _varint_at(data, off)
        elif kind == "p":
            k, off = _str_at(data, off)
            v, off = _str_at(data, off)
            val = (k.decode("utf-8", pair_errors),
                   v.decode("utf-8", pair_errors))
        else:
            val, off = _str_at(data, off)
            if kind == "s":
                val = val.decode("utf-8", errors)
        out.append((pid, val))
    if off != end:
        raise ValueError("properties overrun")
    return out, end


def parse_props(data, off=0):
    """Decode v5 properties at off: (dict, end).  Strings are str, binary
    data bytes, user_property a list of (k, v)."""
    items, end = prop_items(data, off)
    out = {}
    for pid, val in items:
        name, kind = PROPS[pid]
        if kind == "p":
            out.setdefault(name, []).append(val)
            continue
        if name in out:
            raise ValueError("property %s twice" % name)
        out[name] = val
    return out, end


def packet_fields(ptype, flags, body, version=5, errors="replace",
                  pair_errors=None, unknown=ValueError):
    """What a packet from the server carries, as a dict (properties as
    prop_items() lists; strings decoded with errors):
      PUBLISH: qos, dup, retain (ints), topic, pid (None at QoS 0), props,
               payload (bytes)
      CONNACK: sp, rc, props (v5 and longer than 2 bytes)
      PUBACK .. PUBCOMP: pid, rc (0 unless v5 and there), props
      SUBACK, UNSUBACK: pid, props (v5), rcs (list)
      DISCONNECT, AUTH: rc (0 without a body), props (body longer than 1)
    Other types: an empty dict."""
    kw = {"errors": errors, "pair_errors": pair_errors, "unknown": unknown}
    b = bytes(body)
    v5 = version == 5
    f = {}
    if ptype == PUBLISH:
        f["qos"] = (flags >> 1) & 3
        f["dup"] = (flags >> 3) & 1
        f["retain"] = flags & 1
        ln = struct.unpack_from("!H", b, 0)[0]
        f["topic"] = b[2:2 + ln].decode("utf-8", errors)
        i = 2 + ln
        f["pid"] = None
        if f["qos"]:
            f["pid"] = struct.unpack_from("!H", b, i)[0]
            i += 2
        f["props"] = []
        if v5:
            f["props"], i = prop_items(b, i, **kw)
        f["payload"] = b[i:]
    elif ptype == CONNACK:
        f["sp"] = b[0] & 1
        f["rc"] = b[1]
        f["props"] = []
        if v5 and len(b) > 2:
            f["props"] = prop_items(b, 2, **kw)[0]
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        f["pid"] = struct.unpack_from("!H", b, 0)[0]
        f["rc"] = 0
        f["props"] = []
        if v5 and len(b) > 2:
            f["rc"] = b[2]
            if len(b) > 3:
                f["props"] = prop_items(b, 3, **kw)[0]
    elif ptype in (SUBACK, UNSUBACK):
        f["pid"] = struct.unpack_from("!H", b, 0)[0]
        i = 2
        f["props"] = []
        if v5:
            f["props"], i = prop_items(b, i, **kw)
        f["rcs"] = list(b[i:])
    elif ptype in (DISCONNECT, AUTH):
        f["rc"] = b[0] if len(b) >= 1 else 0
        f["props"] = []
        if len(b) > 1:
            f["props"] = prop_items(b, 1, **kw)[0]
    return f


def parse_connack(body, version):
    """(session_present, rc, props) of a CONNACK body."""
    if len(body) < 2:
        raise ValueError("CONNACK body too short: %r" % body)
    p = {}
    if version == 5:
        p, end = parse_props(body, 2)
        if end != len(body):
            raise ValueError("CONNACK has trailing bytes")
    elif len(body) != 2:
        raise ValueError("v3 CONNACK body is not 2 bytes: %r" % body)
    return body[0] & 1, body[1], p


def parse_reason(body, version=5):
    """(rc, props) of a DISCONNECT or AUTH body (no body: rc 0)."""
    if version != 5 or len(body) == 0:
        return 0, {}
    if len(body) == 1:
        return body[0], {}
    p, _ = parse_props(body, 1)
    return body[0], p


def _fmt_props(p):
    lines = []
    for name in sorted(p):
        val = p[name]
        if isinstance(val, bytes):
            val = val.hex()
        lines.append("  %s=%s" % (name, val))
    return lines


def describe(ptype, flags, body, version=5):
    """One event as text (several lines for properties)."""
    name = PTYPES.get(ptype, "TYPE%d" % ptype)
    if ptype == CONNACK:
        # A 2-byte CONNACK is a 3.1.1 one, whatever was asked (a refused
        # CONNECT of an unknown version gets one).
        sp, rc, p = parse_connack(body, 4 if len(body) == 2 else version)
        return "\n".join(["CONNACK sp=%d rc=0x%02x" % (sp, rc)] +
                         _fmt_props(p))
    if ptype in (DISCONNECT, AUTH):
        rc, p = parse_reason(body, version)
        return "\n".join(["%s rc=0x%02x" % (name, rc)] + _fmt_props(p))
    if ptype == PUBLISH:
        topic, off = _str_at(body, 0)
        qos = (flags >> 1) & 3
        if qos:
            off += 2
        if version == 5:
            _, off = parse_props(body, off)
        return "PUBLISH topic=%s qos=%d retain=%d payload=%s" % (
            topic.decode("utf-8", "replace"), qos, flags & 1,
            bytes(body[off:]).decode("utf-8", "replace"))
    if body:
        return "%s %s" % (name, bytes(body).hex())
    return name


# ---------------------------------------------------------------- sockets

class Closed(Exception):
    """The server closed the connection (pubsub.py, sessions.py)."""


def split_packet(buf):
    """(first byte, body start, body end) of the first whole packet in
    buf, or None while it is not all there."""
    if len(buf) < 2:
        return None
    n, mult, i = 0, 1, 1
    while True:
        if i >= len(buf):
            return None
        d = buf[i]
        n += (d & 0x7F) * mult
        mult *= 128
        i += 1
        if not d & 0x80:
            break
    if len(buf) < i + n:
        return None
    return buf[0], i, i + n


def read_some(sock, deadline,
              errors=(ConnectionResetError, BrokenPipeError)):
    """Bytes from sock once readable before deadline (time.monotonic());
    None on timeout; b"" when the peer closed (or recv raised one of
    errors)."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    r, _, _ = select.select([sock], [], [], left)
    if not r:
        return None
    try:
        return sock.recv(65536)
    except errors:
        return b""


class Raw:
    """A raw TCP connection to the broker."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, version=5):
        self.sock = socket.create_connection((host, int(port)), timeout)
        self.timeout = timeout
        self.version = version
        self.buf = b""
        self.seen = []
        self.closed = False

    def send(self, data):
        self.sock.sendall(data)

    def send_hex(self, text):
        self.send(bytes.fromhex(text.replace(" ", "")))

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            chunk = b""
        if not chunk:
            self.closed = True
        self.buf += chunk
        return bool(chunk)

    def recv_packet(self, timeout=None):
        """(type, flags, body) of the next packet; None once the server
        closed (a partial packet before the close raises ValueError);
        socket.timeout if nothing whole came within timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None
                                       else timeout)
        while True:
            if self.buf:
                try:
                    n, off = _varint_at(self.buf, 1)
                except ValueError:
                    n, off = None, None
                if n is not None and len(self.buf) >= off + n:
                    hdr = self.buf[0]
                    body = self.buf[off:off + n]
                    self.buf = self.buf[off + n:]
                    return hdr >> 4, hdr & 0x0F, body
            if self.closed:
                if self.buf:
                    raise ValueError("connection closed inside a packet: "
                                     + self.buf.hex())
                return None
            self._fill(deadline)

    def wait_close(self, timeout):
        """True once the server closes within timeout, False otherwise;
        packets received meanwhile go to self.seen."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                pkt = self.recv_packet(max(deadline - time.monotonic(),
                                           0.001))
            except socket.timeout:
                return False
            if pkt is None:
                return True
            self.seen.append(pkt)

    def connect(self, **kw):
        kw.setdefault("version", self.version)
        self.version = kw["version"]
        self.send(connect(**kw))
        pkt = self.recv_packet()
        if pkt is None:
            raise AssertionError("closed instead of a CONNACK")
        if pkt[0] != CONNACK:
            raise AssertionError("expected CONNACK, got %s" %
                                 PTYPES.get(pkt[0], pkt[0]))
        return parse_connack(pkt[2], 5 if self.version == 5 else 4)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- paho

def _paho_props(pp):
    """paho Properties -> dict with PROPS names."""
    out = {}
    if pp is None:
        return out
    for pid, (name, _) in PROPS.items():
        attr = "".join(w.capitalize() for w in name.split("_"))
        attr = {"MaximumQos": "MaximumQoS",
                "UserProperty": "UserProperty"}.get(attr, attr)
        if hasattr(pp, attr):
            out[name] = getattr(pp, attr)
    return out


def paho_connect(port, version=5, client_id="", clean=True, keepalive=60,
                 properties=None, timeout=5.0):
    """Connect with paho-mqtt; (client, rc, props).  version 3 is MQTT 3.1,
    4 is 3.1.1, 5 is 5.0.  rc is None if no CONNACK came in time."""
    import threading
    import paho.mqtt.client as paho
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    proto = {3: paho.MQTTv31, 4: paho.MQTTv311, 5: paho.MQTTv5}[version]
    got = threading.Event()
    res = {}
    if version == 5:
        c = paho.Client(client_id=client_id, protocol=proto)
    else:
        c = paho.Client(client_id=client_id, clean_session=clean,
                        protocol=proto)

    def on_connect(client, userdata, flags, rc, props=None):
        res["rc"] = rc.value if hasattr(rc, "value") else int(rc)
        res["props"] = _paho_props(props)
        got.set()

    c.on_connect = on_connect
    kw = {}
    if version == 5:
        cp = None
        if properties:
            cp = Properties(PacketTypes.CONNECT)
            for name, value in properties.items():
                attr = "".join(w.capitalize() for w in name.split("_"))
                setattr(cp, attr, value)
        kw = {"clean_start": clean, "properties": cp}
    c.connect("127.0.0.1", int(port), keepalive, **kw)
    c.loop_start()
    if not got.wait(timeout):
        return c, None, {}
    return c, res["rc"], res["props"]


def paho_close(client):
    try:
        client.disconnect()
    finally:
        client.loop_stop()


# ---------------------------------------------------------------- CLI

def _prop_value(name, text):
    kind = PROPS[PROP_IDS[name]][1]
    if kind in "bhiv":
        return int(text, 0)
    if kind == "p":
        return tuple(text.split("=", 1))
    if kind == "d":
        return text.encode()
    return text


def _print(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _show(pkt, version, as_hex):
    if as_hex:
        ptype, flags, body = pkt
        _print(packet(ptype, body, flags).hex())
    else:
        _print(describe(pkt[0], pkt[1], pkt[2], version))


def _watch(raw, wait, ping, start, as_hex=False):
    """Print packets until close or wait seconds; PINGREQ every ping s."""
    deadline = time.monotonic() + wait
    next_ping = time.monotonic() + ping if ping else None
    version = 5 if raw.version == 5 else 4
    while True:
        now = time.monotonic()
        if now >= deadline:
            _print("TIMEOUT")
            return
        until = deadline
        if next_ping is not None:
            if now >= next_ping:
                raw.send(pingreq())
                next_ping += ping
            until = min(until, next_ping)
        try:
            pkt = raw.recv_packet(max(until - time.monotonic(), 0.001))
        except socket.timeout:
            continue
        if pkt is None:
            _print("CLOSED after=%.2f" % (time.monotonic() - start))
            return
        _show(pkt, version, as_hex)


def main(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="mqttc.py")
    ap.add_argument("command", choices=["connect", "raw", "paho"])
    ap.add_argument("-p", "--port", type=int, required=True)
    ap.add_argument("-t", "--timeout", type=float, default=5.0)
    ap.add_argument("-V", "--protocol-version", type=int, default=5)
    ap.add_argument("-i", "--id", default="")
    ap.add_argument("--no-clean", action="store_true")
    ap.add_argument("-k", "--keepalive", type=int, default=60)
    ap.add_argument("-P", "--property", action="append", default=[])
    ap.add_argument("-u", "--username")
    ap.add_argument("--password")
    ap.add_argument("--send", action="append", default=[])
    ap.add_argument("--ping", type=float, default=0)
    ap.add_argument("--wait", type=float, default=0)
    ap.add_argument("-x", "--hex", action="store_true")
    a = ap.parse_args(argv)
    v = a.protocol_version
    cprops = []
    for item in a.property:
        name, _, text = item.partition("=")
        cprops.append((name, _prop_value(name, text)))

    if a.command == "paho":
        c, rc, p = paho_connect(a.port, v, a.id, not a.no_clean,
                                a.keepalive, dict(cprops), a.timeout)
        if rc is None:
            _print("TIMEOUT")
        else:
            _print("\n".join(["CONNACK rc=0x%02x" % rc] + _fmt_props(p)))
        paho_close(c)
        return 0

    raw = Raw(a.port, timeout=a.timeout, version=v)
    start = time.monotonic()
    if a.command == "connect":
        raw.send(connect(a.id, v, not a.no_clean, a.keepalive, cprops,
                         a.username, a.password))
        try:
            pkt = raw.recv_packet()
        except socket.timeout:
            _print("TIMEOUT")
            return 0
        if pkt is None:
            _print("CLOSED after=%.2f" % (time.monotonic() - start))
            return 0
        _show(pkt, 5 if v == 5 else 4, a.hex)
        start = time.monotonic()
    named = {
        "connect": lambda: connect(a.id, v, not a.no_clean, a.keepalive,
                                   cprops, a.username, a.password),
        "pingreq": pingreq,
        "auth": lambda: auth(0x19),
        "disconnect": lambda: disconnect(0, v),
    }
    for h in a.send:
        try:
            if h in named:
                raw.send(named[h]())
            else:
                raw.send_hex(h)
        except OSError as e:
            _print("SEND-FAILED %s" % e.__class__.__name__)
        start = time.monotonic()
    if a.wait > 0:
        _watch(raw, a.wait, a.ping, start, a.hex)
    raw.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
