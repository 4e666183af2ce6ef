#!/usr/bin/python3
"""durable.py: MQTT clients and store readers for t6010-durable.t.

Durable sessions outlive the broker process, so a test is a series of
short client runs with broker restarts between them; each subcommand is one
such run and prints what it saw, one line per event, for test_cmp.  Built
on sessions.py (raw sockets, exact bits) and paho-mqtt 1.6.1.

Environment: MQTT_PORT (the broker), BROKER_LOG (for --end close: the
helper waits until the broker logged the close), SESSIONS_DEADLINE (every
run is killed by SIGALRM after it, default 120 s), DURABLE_SCALE (an
integer that multiplies every timeout, default 1).

Client subcommands (ID is the client id; -V 4 is MQTT 3.1.1, 5 is 5.0;
-e N the v5 Session Expiry Interval; --clean sets Clean Start / Clean
Session, which is off by default; --sp N fails unless the CONNACK's
Session Present is N):

  sub ID [-V] [-e N] [--clean] [--sp N] [-u FILTER]... [--end E] FILTER...
      subscribe (one SUBSCRIBE per FILTER), then unsubscribe each -u
      FILTER.  FILTER is TOPIC@OPTS, OPTS a comma list: the QoS (0, 1, 2),
      nl (No Local), rap (Retain As Published), rh=N (Retain Handling),
      id=N (Subscription Identifier).  Prints "CONNACK sp=N".

  pub [-V] [--id ID] [-e N] [--clean] [-P JSON] [--seq TOPIC PREFIX N QOSES]...
      [SPEC...]
      publish and complete every QoS 1 / 2 exchange, then DISCONNECT.
      SPEC is QOS[r]:TOPIC:PAYLOAD (r: retained); --seq publishes N
      messages PREFIX0 .. PREFIX<N-1> on TOPIC, their QoS cycling through
      the comma list QOSES.  The --seq messages go first, in order, then
      the SPECs.  A PAYLOAD hex:HEX is those bytes, rep:N is N bytes "x".
      -P: v5 properties of every message, a JSON object with the names of
      sessions.py (content_type, payload_format, response_topic,
      correlation_data, message_expiry, user: [[k, v], ...]).  Prints
      nothing.

  get ID [-V] [-e N] [--clean] [--sp N] [-n N] [-t SECS] [--ack MODE]
         [--quiet SECS] [--collect SECS] [--end E] [--connected FILE]
         [--ready FILE] [--hold SECS] [--times FILE] [--dis-expiry N]
         [--sub FILTER]... [--self SPEC]... [--pub SPEC]...
      connect and print "CONNACK sp=N"; subscribe to each --sub FILTER (as
      sub does); publish each --self SPEC on this connection and each
      --pub SPEC from a second client; then read -n events within -t seconds: a
      PUBLISH prints
        PUBLISH TOPIC qos=Q dup=D retain=R pid=P payload=X [sub_id=I,..]
      (pid=- at QoS 0; a payload that is not UTF-8 is hex:HEX, one
      longer than 200 bytes "<N bytes, sha1 X>"), followed by a line
      "  NAME=VALUE" for each other property (sorted; binary as hex:HEX;
      user=K=V per user property); a PUBREL the client did not ask for prints
      "PUBREL pid=P flags=F".  MODE: all (default: PUBACK, PUBREC/PUBCOMP,
      PUBCOMP for an unasked PUBREL), none (no acknowledgement at all),
      pubrec (PUBREC for QoS 2, then wait for its PUBREL, printed, and
      send no PUBCOMP; QoS 1 is not acknowledged).  --collect SECS: then
      read whatever comes for SECS seconds (printed, acknowledged);
      --quiet SECS: the same, but anything arriving fails the run.
      --connected FILE is created after the CONNACK, --times FILE gets the
      arrival time (epoch seconds) of each PUBLISH.
      E, the end: disconnect (DISCONNECT, with Session Expiry N in it if
      --dis-expiry N), close (close the socket without DISCONNECT and
      wait until the broker logged it), hold (create --ready FILE, then
      wait up to --hold seconds for the server to close the connection,
      printing what comes and "CLOSED"; it fails if it stays open).

  pub2 ID [-V] [-e N] [--clean] [--sp N] --pid P [--dup] [--upto STEP]
       [--end E] TOPIC PAYLOAD
      a QoS 2 PUBLISH with packet id P (DUP if --dup); prints
      "PUBREC pid=P rc=0xNN"; with --upto pubcomp it then sends PUBREL and
      prints "PUBCOMP pid=P rc=0xNN".  The end is close by default.

  will ID [-V] [-e N] --delay D [--qos Q] --t0 FILE TOPIC PAYLOAD
      connect with a will (v5 Will Delay Interval D), then close the
      socket without DISCONNECT; FILE gets the time of the close (epoch
      seconds) once the broker logged it.  Prints "CONNACK sp=N".

  paho-sub ID [-V] [-e N] TOPIC QOS      paho-mqtt: subscribe, disconnect
  paho-get ID [-V] [-e N] [--sp N] -n N [--quiet SECS]
      paho-mqtt with clean start/session 0: print "CONNACK sp=N", then
      "TOPIC qos=Q payload=X" for the next N messages.

  sub-many PREFIX COUNT FILTER [-e N]
      COUNT v5 sessions PREFIX0.. with expiry N (3600), clean start 1,
      each subscribed to FILTER (TOPIC@OPTS)
  get-many PREFIX COUNT -n N [-e N] [--clean]
      each resumes (Session Present 1; with --clean: clean start 1 and
      Session Present 0, which ends it) and must get N messages and no
      more; prints each distinct list once: "K sessions got:" and the
      messages, indented

  metric NAME       the value of $SYS/brokers/+/NAME (e.g.
                    metrics/delivery/dropped/queue_full)

Store subcommands (on the output of `store-tool DIR list`, or on the
LevelDB directory itself while no broker runs):

  count LIST WHAT   the number of records: s:ID (s/ID), q:ID (the q/
                    records of ID), q (every q/), d (every d/), d:TEXT
                    (d/ records whose value contains TEXT), s (every s/)
  layout LIST       every key is one of m/version, m/heartbeat, m/node_id,
                    m/boot, r/TOPIC,
                    s/ID, q/ID NUL <8 bytes>, d/<2 bytes><8 bytes>; prints
                    the others and fails
  sessions LIST     the client ids of the s/ records, one a line
  qkey LIST ID [I]  the hex of the I-th (from 0) q/ key of ID
  put-hex DIR KEYHEX VALHEX
                    set a record whose key may hold any byte (store-tool
                    takes C strings), through libleveldb
  del-hex DIR KEYHEX
"""

import argparse
import hashlib
import json
import os
import sys
import time

from sessions import (Raw, Closed, check, PUBLISH, PUBACK, PUBREC,
                      PUBREL, PUBCOMP, DISCONNECT, ack_packet,
                      publish_packet, broker_log_has, sys_metric,
                      paho_client, paho_subscribe, paho_stop)
import queue

SCALE = int(os.environ.get("DURABLE_SCALE", "1") or "1")


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def touch(path):
    with open(path, "w") as f:
        f.write("%f\n" % time.time())


# ---------------------------------------------------------------- clients

def connect(a, will=None):
    """A Raw client connected as the common options say."""
    c = Raw(a.id, a.version)
    props = None
    if a.version == 5 and a.expiry is not None:
        props = {"session_expiry": a.expiry}
    c.connect(clean=a.clean, props=props, will=will)
    sp = c.connack.session_present
    out("CONNACK sp=%d" % sp)
    if a.sp is not None:
        check(sp == a.sp, "%s: Session Present %d" % (a.id, a.sp), "got", sp)
    return c


def end(c, a):
    """End the connection as --end says."""
    how = a.end
    if how == "disconnect":
        props = None
        if a.version == 5 and getattr(a, "dis_expiry", None) is not None:
            props = {"session_expiry": a.dis_expiry}
        c.disconnect(props=props)
    elif how == "close":
        port = c.sock.getsockname()[1]
        c.close()
        wait_logged_close(a.id, port)
    elif how == "hold":
        if a.ready:
            touch(a.ready)
        deadline = time.monotonic() + a.hold * SCALE
        try:
            while True:
                left = deadline - time.monotonic()
                check(left > 0, "%s: the server closed the connection "
                      "within %d s" % (a.id, a.hold * SCALE))
                p = c._recv_wire(left)
                if p is None:
                    continue
                show(p)
        except Closed:
            out("CLOSED")
        c.close()
    elif how == "keep":
        c.close()
    else:
        raise ValueError("unknown end %r" % how)


def wait_logged_close(cid, port):
    """Wait until the broker logged the close of cid's connection from
    port (so that whatever comes next happens after it)."""
    if not os.environ.get("BROKER_LOG"):
        return
    broker_log_has(r"client '%s' 127\.0\.0\.1:%d " % (cid, port) +
                   r"(disconnected|closed)", 5 * SCALE)


def payload_text(b):
    """A payload as the output shows it: UTF-8 text, hex:... when it is
    not, <N bytes, sha1 X> when longer than 200 bytes."""
    if len(b) > 200:
        return "<%d bytes, sha1 %s>" % (len(b), hashlib.sha1(b).hexdigest())
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return "hex:" + b.hex()


def payload_bytes(text):
    """The inverse for a SPEC: hex:HEX, rep:N (N bytes "x") or text."""
    if text.startswith("hex:"):
        return bytes.fromhex(text[4:])
    if text.startswith("rep:"):
        return b"x" * int(text[4:])
    return text.encode()


def show(p):
    """One line for a packet from the server (and, for a PUBLISH, one
    indented line per property other than the Subscription Identifier)."""
    if p.type == PUBLISH:
        line = "PUBLISH %s qos=%d dup=%d retain=%d pid=%s payload=%s" % (
            p.topic, p.qos, p.dup, p.retain,
            "-" if p.pid is None else p.pid, payload_text(p.payload))
        if p.props.get("sub_id"):
            line += " sub_id=" + ",".join(str(i) for i in p.props["sub_id"])
        out(line)
        for name in sorted(p.props):
            val = p.props[name]
            if name == "sub_id":
                continue
            if name == "user":
                for k, v in val:
                    out("  user=%s=%s" % (k, v))
                continue
            if isinstance(val, bytes):
                val = "hex:" + val.hex()
            out("  %s=%s" % (name, val))
    elif p.type == PUBREL:
        out("PUBREL pid=%d flags=%d" % (p.pid, p.flags))
    elif p.type == DISCONNECT:
        out("DISCONNECT rc=0x%02x" % (p.rc or 0))
    else:
        out(repr(p))


def parse_filter(spec):
    """TOPIC@OPTS -> (topic, options byte, subscription id or None)."""
    topic, _, opts = spec.rpartition("@")
    if not topic:
        topic, opts = spec, "0"
    o, sid = 0, None
    for w in opts.split(","):
        if w in ("0", "1", "2"):
            o |= int(w)
        elif w == "nl":
            o |= 0x04
        elif w == "rap":
            o |= 0x08
        elif w.startswith("rh="):
            o |= int(w[3:]) << 4
        elif w.startswith("id="):
            sid = int(w[3:])
        else:
            raise ValueError("unknown subscription option %r" % w)
    return topic, o, sid


def parse_spec(spec):
    """QOS[r]:TOPIC:PAYLOAD -> (topic, payload, qos, retain)."""
    q, topic, payload = spec.split(":", 2)
    return topic, payload_bytes(payload), int(q[0]), q.endswith("r")


def specs(a):
    s = []
    for topic, prefix, n, qoses in (a.seq or []):
        qs = [int(x) for x in qoses.split(",")]
        for i in range(int(n)):
            s.append((topic, ("%s%d" % (prefix, i)).encode(),
                      qs[i % len(qs)], False))
    return s + [parse_spec(x) for x in (a.spec or [])]


def publish_all(c, todo, props=None):
    for topic, payload, qos, retain in todo:
        c.publish(topic, payload, qos=qos, retain=retain, props=props)


def cmd_sub(a):
    c = connect(a)
    for f in a.filter:
        topic, o, sid = parse_filter(f)
        props = {"sub_id": sid} if sid is not None else None
        c.subscribe((topic, o), props=props)
    for f in a.unsub or []:
        from sessions import unsubscribe_packet, UNSUBACK
        pid = c.pid()
        c.send(unsubscribe_packet(pid, [f], a.version))
        p = c.expect(UNSUBACK)
        check(p.pid == pid, "UNSUBACK %d" % pid, p)
    end(c, a)


def cmd_pub(a):
    a.id = a.id or "d-pub-%d" % os.getpid()
    c = Raw(a.id, a.version)
    props = None
    if a.version == 5 and a.expiry is not None:
        props = {"session_expiry": a.expiry}
    c.connect(clean=a.clean, props=props)
    publish_all(c, specs(a), json.loads(a.props) if a.props else None)
    c.disconnect()


class Reader:
    """Reads events from a connected Raw client, acknowledging as MODE
    says."""

    def __init__(self, c, mode, times=None):
        self.c = c
        self.mode = mode
        self.want_rel = set()
        self.times = times

    def event(self, deadline, until_rels=False):
        """Handle packets until one event (a PUBLISH or an unasked PUBREL);
        returns it, or None at the deadline (or, with until_rels, once
        every PUBREL we wait for came)."""
        c = self.c
        v = c.version
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            p = c.recv(left)
            if p is None:
                return None
            if p.type == PUBREL and p.pid in self.want_rel:
                self.want_rel.discard(p.pid)
                if self.mode == "all":
                    c.send(ack_packet(PUBCOMP, p.pid, version=v))
                else:
                    show(p)
                if until_rels and not self.want_rel:
                    return None
                continue
            if p.type == PUBLISH:
                show(p)
                if self.times:
                    with open(self.times, "a") as f:
                        f.write("%f\n" % time.time())
                if p.qos == 1 and self.mode == "all":
                    c.send(ack_packet(PUBACK, p.pid, version=v))
                elif p.qos == 2 and self.mode in ("all", "pubrec"):
                    c.send(ack_packet(PUBREC, p.pid, version=v))
                    self.want_rel.add(p.pid)
                return p
            if p.type == PUBREL:
                show(p)
                if self.mode == "all":
                    c.send(ack_packet(PUBCOMP, p.pid, version=v))
                return p
            show(p)
            raise AssertionError("%s: unexpected %r" % (c.name, p))

    def finish(self, timeout):
        """Wait for the PUBRELs of our PUBRECs; returns how many other
        events (printed and handled) came meanwhile."""
        deadline = time.monotonic() + timeout
        extra = 0
        while self.want_rel:
            p = self.event(deadline, until_rels=True)
            if p is None:
                check(not self.want_rel, "%s: PUBREL for %r" % (
                    self.c.name, sorted(self.want_rel)))
                break
            extra += 1
        return extra


def cmd_get(a):
    c = connect(a)
    for f in a.sub or []:
        topic, o, sid = parse_filter(f)
        c.subscribe((topic, o),
                    props={"sub_id": sid} if sid is not None else None)
    if a.connected:
        touch(a.connected)
    publish_all(c, [parse_spec(x) for x in a.self or []])
    if a.pub:
        pc = Raw("d-getpub-%d" % os.getpid(), a.version)
        pc.connect(clean=True)
        publish_all(pc, [parse_spec(s) for s in a.pub])
        pc.disconnect()
    r = Reader(c, a.ack, a.times)
    t = a.timeout * SCALE
    deadline = time.monotonic() + t
    got = 0
    while got < a.n:
        p = r.event(deadline)
        check(p is not None, "%s: %d events within %.1f s" % (a.id, a.n, t),
              "only got", got)
        got += 1
    r.finish(t)
    for secs, fail in ((a.collect, False), (a.quiet, True)):
        if not secs:
            continue
        deadline = time.monotonic() + secs
        extra = 0
        while True:
            p = r.event(deadline)
            if p is None:
                break
            extra += 1
        extra += r.finish(t)
        check(not (fail and extra), "%s: nothing more in %.1f s" % (a.id,
              secs), "got", extra, "more")
    end(c, a)


def cmd_pub2(a):
    c = connect(a)
    v = a.version
    c.send(publish_packet(a.topic, a.payload, qos=2, pid=a.pid, dup=a.dup,
                          version=v))
    p = c.expect(PUBREC)
    out("PUBREC pid=%d rc=0x%02x" % (p.pid, p.rc or 0))
    if a.upto == "pubcomp":
        c.send(ack_packet(PUBREL, a.pid, version=v))
        p = c.expect(PUBCOMP)
        out("PUBCOMP pid=%d rc=0x%02x" % (p.pid, p.rc or 0))
    end(c, a)


def cmd_will(a):
    will = {"topic": a.topic, "payload": a.payload, "qos": a.qos}
    if a.version == 5:
        will["props"] = {"will_delay": a.delay}
    c = connect(a, will=will)
    port = c.sock.getsockname()[1]
    t0 = time.time()
    c.close()
    wait_logged_close(a.id, port)
    with open(a.t0, "w") as f:
        f.write("%f\n" % t0)


def cmd_sub_many(a):
    for i in range(a.count):
        c = Raw("%s%d" % (a.prefix, i), 5)
        c.connect(clean=True, props={"session_expiry": a.expiry})
        topic, o, _ = parse_filter(a.filter)
        c.subscribe((topic, o))
        c.disconnect()


def cmd_get_many(a):
    """Each session resumes (Session Present 1) and gets the same n
    messages; prints them once, with how many sessions got them."""
    seen = {}
    for i in range(a.count):
        cid = "%s%d" % (a.prefix, i)
        c = Raw(cid, 5)
        props = {"session_expiry": a.expiry} if not a.clean else None
        c.connect(clean=a.clean, props=props)
        check(c.connack.session_present == (0 if a.clean else 1),
              "%s: Session Present %d" % (cid, 0 if a.clean else 1))
        got = tuple((p.topic, p.qos, payload_text(p.payload))
                    for p in c.messages(a.n, 5 * SCALE))
        c.expect_nothing(0.2)
        c.disconnect()
        seen[got] = seen.get(got, 0) + 1
    for got, n in sorted(seen.items()):
        out("%d sessions got:" % n)
        for topic, qos, payload in got:
            out("  %s qos=%d payload=%s" % (topic, qos, payload))


def paho_args(a):
    return dict(version=a.version, clean=False,
                expiry=a.expiry if a.version == 5 else None)


def cmd_paho_sub(a):
    c, sp = paho_client(a.id, **paho_args(a))
    out("CONNACK sp=%d" % sp)
    paho_subscribe(c, a.topic, a.qos)
    paho_stop(c)


def cmd_paho_get(a):
    c, sp = paho_client(a.id, **paho_args(a))
    out("CONNACK sp=%d" % sp)
    if a.sp is not None:
        check(sp == a.sp, "paho %s: Session Present %d" % (a.id, a.sp),
              "got", sp)
    deadline = time.monotonic() + a.timeout * SCALE
    n = 0
    try:
        while n < a.n:
            left = deadline - time.monotonic()
            check(left > 0, "paho %s: %d messages" % (a.id, a.n), "got", n)
            try:
                m = c.inbox.get(timeout=left)
            except queue.Empty:
                continue
            out("%s qos=%d payload=%s" % (m.topic, m.qos,
                                          m.payload.decode()))
            n += 1
        if a.quiet:
            try:
                m = c.inbox.get(timeout=a.quiet)
                out("%s qos=%d payload=%s" % (m.topic, m.qos,
                                              m.payload.decode()))
                raise AssertionError("paho %s: nothing more" % a.id)
            except queue.Empty:
                pass
        # Let paho send its last acknowledgements before the DISCONNECT.
        time.sleep(0.2)
    finally:
        paho_stop(c)


def cmd_metric(a):
    out(str(sys_metric(a.name)))


# ---------------------------------------------------------------- the store

def read_list(path):
    """[(key bytes, value bytes)] from `store-tool DIR list` output."""
    recs = []
    with open(path, "rb") as f:
        for line in f:
            line = line.rstrip(b"\n")
            if not line:
                continue
            k, _, v = line.partition(b"\t")
            key = bytearray()
            i = 0
            while i < len(k):
                if k[i:i + 2] == b"\\x" and i + 4 <= len(k):
                    key.append(int(k[i + 2:i + 4], 16))
                    i += 4
                else:
                    key.append(k[i])
                    i += 1
            recs.append((bytes(key), bytes.fromhex(v.decode())))
    return recs


def q_of(key, cid):
    pre = b"q/" + cid.encode() + b"\0"
    return key.startswith(pre) and len(key) == len(pre) + 8


def cmd_count(a):
    recs = read_list(a.list)
    kind, _, arg = a.what.partition(":")
    if kind == "s":
        n = sum(1 for k, _ in recs if (k == b"s/" + arg.encode() if arg
                                       else k.startswith(b"s/")))
    elif kind == "q":
        n = sum(1 for k, _ in recs if (q_of(k, arg) if arg
                                       else k.startswith(b"q/")))
    elif kind == "d":
        n = sum(1 for k, v in recs if k.startswith(b"d/") and
                (not arg or arg.encode() in v))
    else:
        raise ValueError("count: unknown %r" % a.what)
    out(str(n))


def cmd_layout(a):
    bad = []
    for k, _ in read_list(a.list):
        if k in (b"m/version", b"m/heartbeat", b"m/node_id", b"m/boot"):
            continue
        if k.startswith(b"r/") and len(k) > 2:
            continue
        if k.startswith(b"s/") and len(k) > 2 and b"\0" not in k:
            continue
        if k.startswith(b"q/") and len(k) > 11 and k[-9] == 0 and \
                b"\0" not in k[2:-9]:
            continue
        if k.startswith(b"d/") and len(k) == 12:
            continue
        # Dashboard users, API keys and bans (docs/storage.md).
        if k[:2] in (b"u/", b"k/", b"b/") and len(k) > 2:
            continue
        bad.append(k)
    for k in bad:
        out("unexpected key %r" % k)
    return 1 if bad else 0


def cmd_sessions(a):
    for k, _ in read_list(a.list):
        if k.startswith(b"s/"):
            out(k[2:].decode("utf-8", "replace"))


def cmd_qkey(a):
    keys = [k for k, _ in read_list(a.list) if q_of(k, a.cid)]
    out(keys[a.index].hex())


def _leveldb(path):
    import ctypes
    lib = ctypes.CDLL("libleveldb.so")
    lib.leveldb_options_create.restype = ctypes.c_void_p
    lib.leveldb_open.restype = ctypes.c_void_p
    lib.leveldb_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                 ctypes.POINTER(ctypes.c_char_p)]
    lib.leveldb_writeoptions_create.restype = ctypes.c_void_p
    lib.leveldb_writeoptions_set_sync.argtypes = [ctypes.c_void_p,
                                                  ctypes.c_ubyte]
    lib.leveldb_put.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.c_char_p, ctypes.c_size_t,
                                ctypes.POINTER(ctypes.c_char_p)]
    lib.leveldb_delete.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                   ctypes.c_char_p, ctypes.c_size_t,
                                   ctypes.POINTER(ctypes.c_char_p)]
    lib.leveldb_close.argtypes = [ctypes.c_void_p]
    opts = lib.leveldb_options_create()
    err = ctypes.c_char_p()
    db = lib.leveldb_open(opts, path.encode(), ctypes.byref(err))
    if err.value:
        raise SystemExit("durable.py: cannot open %s: %s" %
                         (path, err.value.decode()))
    wo = lib.leveldb_writeoptions_create()
    lib.leveldb_writeoptions_set_sync(wo, 1)
    return ctypes, lib, db, wo, err


def cmd_put_hex(a):
    ctypes, lib, db, wo, err = _leveldb(a.dir)
    k, v = bytes.fromhex(a.key), bytes.fromhex(a.value)
    lib.leveldb_put(db, wo, k, len(k), v, len(v), ctypes.byref(err))
    lib.leveldb_close(db)
    if err.value:
        raise SystemExit("durable.py: cannot write: %s" % err.value.decode())


def cmd_del_hex(a):
    ctypes, lib, db, wo, err = _leveldb(a.dir)
    k = bytes.fromhex(a.key)
    lib.leveldb_delete(db, wo, k, len(k), ctypes.byref(err))
    lib.leveldb_close(db)
    if err.value:
        raise SystemExit("durable.py: cannot delete: %s" % err.value.decode())


# ---------------------------------------------------------------- CLI

def main(argv):
    ap = argparse.ArgumentParser(prog="durable.py")
    sp = ap.add_subparsers(dest="cmd", required=True)

    def client(name, with_id=True, end="disconnect"):
        p = sp.add_parser(name)
        if with_id:
            p.add_argument("id")
        p.add_argument("-V", dest="version", type=int, default=5,
                       choices=(4, 5))
        p.add_argument("-e", dest="expiry", type=int)
        p.add_argument("--clean", action="store_true")
        p.add_argument("--sp", type=int)
        p.add_argument("--end", default=end,
                       choices=("disconnect", "close", "hold", "keep"))
        p.add_argument("--ready")
        p.add_argument("--hold", type=float, default=20)
        p.add_argument("--dis-expiry", type=int)
        return p

    p = client("sub")
    p.add_argument("-u", dest="unsub", action="append")
    p.add_argument("filter", nargs="+")
    p.set_defaults(func=cmd_sub)

    p = client("pub", with_id=False)
    p.add_argument("--id")
    p.add_argument("--seq", nargs=4, action="append",
                   metavar=("TOPIC", "PREFIX", "N", "QOSES"))
    p.add_argument("-P", dest="props")
    p.add_argument("spec", nargs="*")
    p.set_defaults(func=cmd_pub)

    p = client("get")
    p.add_argument("-n", type=int, default=0)
    p.add_argument("-t", dest="timeout", type=float, default=5)
    p.add_argument("--ack", default="all", choices=("all", "none", "pubrec"))
    p.add_argument("--quiet", type=float, default=0)
    p.add_argument("--collect", type=float, default=0)
    p.add_argument("--connected")
    p.add_argument("--times")
    p.add_argument("--pub", action="append")
    p.add_argument("--sub", action="append")
    p.add_argument("--self", action="append")
    p.set_defaults(func=cmd_get)

    p = client("pub2", end="close")
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--dup", action="store_true")
    p.add_argument("--upto", default="pubrec", choices=("pubrec", "pubcomp"))
    p.add_argument("topic")
    p.add_argument("payload")
    p.set_defaults(func=cmd_pub2)

    p = client("will", end="close")
    p.add_argument("--delay", type=int, required=True)
    p.add_argument("--qos", type=int, default=1)
    p.add_argument("--t0", required=True)
    p.add_argument("topic")
    p.add_argument("payload")
    p.set_defaults(func=cmd_will)

    p = client("paho-sub")
    p.add_argument("topic")
    p.add_argument("qos", type=int)
    p.set_defaults(func=cmd_paho_sub)

    p = client("paho-get")
    p.add_argument("-n", type=int, default=0)
    p.add_argument("-t", dest="timeout", type=float, default=5)
    p.add_argument("--quiet", type=float, default=0)
    p.set_defaults(func=cmd_paho_get)

    p = sp.add_parser("sub-many")
    p.add_argument("prefix")
    p.add_argument("count", type=int)
    p.add_argument("filter")
    p.add_argument("-e", dest="expiry", type=int, default=3600)
    p.set_defaults(func=cmd_sub_many)

    p = sp.add_parser("get-many")
    p.add_argument("prefix")
    p.add_argument("count", type=int)
    p.add_argument("-n", type=int, default=0)
    p.add_argument("-e", dest="expiry", type=int, default=3600)
    p.add_argument("--clean", action="store_true")
    p.set_defaults(func=cmd_get_many)

    p = sp.add_parser("metric")
    p.add_argument("name")
    p.set_defaults(func=cmd_metric)

    p = sp.add_parser("count")
    p.add_argument("list")
    p.add_argument("what")
    p.set_defaults(func=cmd_count)

    p = sp.add_parser("layout")
    p.add_argument("list")
    p.set_defaults(func=cmd_layout)

    p = sp.add_parser("sessions")
    p.add_argument("list")
    p.set_defaults(func=cmd_sessions)

    p = sp.add_parser("qkey")
    p.add_argument("list")
    p.add_argument("cid")
    p.add_argument("index", type=int, nargs="?", default=0)
    p.set_defaults(func=cmd_qkey)

    p = sp.add_parser("put-hex")
    p.add_argument("dir")
    p.add_argument("key")
    p.add_argument("value")
    p.set_defaults(func=cmd_put_hex)

    p = sp.add_parser("del-hex")
    p.add_argument("dir")
    p.add_argument("key")
    p.set_defaults(func=cmd_del_hex)

    a = ap.parse_args(argv)
    return a.func(a) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
