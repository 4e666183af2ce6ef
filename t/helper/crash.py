#!/usr/bin/python3
"""crash.py: durable-session clients for the crash test (t/t6020-crash.t).

Publishers send numbered QoS 1 and QoS 2 messages to durable subscribers
while the test script kills the broker with SIGKILL and starts it again on
the same data dir and port; every client reconnects with Clean Start 0 and
resumes.  At the end the report says whether every message the broker
acknowledged reached every subscriber (QoS 1 at least once, QoS 2 exactly
once).

The clients are written here on raw sockets (the codec is mqttc.py's), not
with paho, so that the session state on the client side is exactly what
MQTT 4.4 asks for and nothing more:

  publisher   keeps its unfinished messages across connections: on a
              reconnect with Session Present 1 it resends, in their
              original order and with their original packet ids, every
              PUBLISH not yet acknowledged (DUP 1) and every PUBREL not
              yet completed (MQTT-4.4.0-1).  A message counts as acked on
              PUBACK (QoS 1) or PUBCOMP (QoS 2) with a success code, or on
              PUBCOMP 0x92 (Packet Identifier not found) for a PUBREL sent
              again after a reconnect: the broker finished the flow before
              it died, the PUBCOMP was lost with it.
  subscriber  acknowledges every PUBLISH; for QoS 2 it delivers on the
              first PUBLISH of a packet id, keeps the id until PUBREL and
              answers a PUBLISH of a kept id with PUBREC without delivering
              it again (4.3.3, method B); the ids survive a reconnect with
              Session Present 1.

Each client is a thread with its own socket; when the connection breaks it
retries every 50 ms until it is connected again.  The clients connect with
Session Expiry Interval 600 (MQTT 5) or Clean Session 0 (3.1.1), the first
connection with Clean Start 1, every later one with Clean Start 0; a
reconnect without Session Present 1 is an anomaly (the broker lost the
session): the client then starts afresh (a subscriber subscribes again) so
that the run goes on, and the report fails.

Commands ($PYTHON crash.py COMMAND ..., in the test's trash directory):

  run -p PORT [--pubs 2] [--subs 2] [--pub-versions 5,4]
      [--sub-versions 5,4] [--rate 1000] [--window 16] [--timeout 75]
      [--drain 20] [--dir .]
      Runs the clients.  Publisher j (client id crash-pub-<j>) publishes
      to crash/p<j> messages numbered n = 0, 1, ...: QoS 1 when n is even,
      QoS 2 when odd, payload "p=<j> n=<n> q=<qos> " padded to 64 bytes,
      at most --rate per second and --window unfinished.  Subscriber k
      (crash-sub-<k>) subscribes to crash/# at QoS 2.  --pub-versions and
      --sub-versions give the protocol of each client in turn (5 or 4 for
      3.1.1).  Files in --dir, the way the test script steers it:
        crash.ready      written once every subscriber has its SUBACK and
                         every publisher an acknowledgement
        crash.progress   rewritten every 0.1 s: "acked=N", "received=N",
                         "connected=N" (clients connected now)
        crash.stop       made by the script: publish nothing new, finish
                         the unfinished messages
        crash.pubs-done  written once the publishers have nothing
                         unfinished (they then disconnect)
        crash.final      made by the script after the last restart: the
                         drain; it ends once every subscriber has every
                         acked message and nothing came for a second, or
                         after --drain seconds
        crash.json       the record of the run, for report
      Exits 0 once crash.json is written (also after --timeout, which
      report then flags), whatever it holds.
  report [--dir .] [--kills FILE]
      Reads crash.json (and FILE: one "kill <epoch seconds>" line per
      SIGKILL) and prints the counts per QoS: sent, acked, refused, and per
      subscriber received, unique, duplicates, missing; then every failure:
      an acked message missing at a subscriber (with when it was acked
      relative to the kills), a QoS 2 duplicate, a delivery of a message
      never published, a lost session, a protocol anomaly.  Exit status 1
      if there is a failure, else 0.
"""

import argparse
import collections
import json
import os
import select
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqttc as m  # noqa: E402

HOST = "127.0.0.1"
EXPIRY = 600
PAYLOAD_SIZE = 64
RETRY = 0.05


def now():
    return time.time()


class Ctl:
    """What the threads share: options, flags and the anomaly list."""

    def __init__(self, a):
        self.a = a
        self.port = a.port
        self.lock = threading.Lock()
        self.stop = threading.Event()       # publish nothing new
        self.done = threading.Event()       # everyone leaves
        self.anomalies = []
        self.t0 = now()

    def anomaly(self, who, text):
        with self.lock:
            self.anomalies.append({"t": now(), "who": who, "text": text})
        log("%s: ANOMALY %s" % (who, text))


def log(line):
    sys.stderr.write("%.3f %s\n" % (now(), line))
    sys.stderr.flush()


class Lost(Exception):
    """The connection broke."""


class Client(threading.Thread):
    """The connection plumbing of one client."""

    def __init__(self, ctl, cid, version):
        threading.Thread.__init__(self, name=cid, daemon=True)
        self.ctl = ctl
        self.cid = cid
        self.version = version
        self.sock = None
        self.buf = b""
        self.first = True
        self.connects = []          # (time, session present)
        self.connected = False
        self.last_ping = 0.0
        self.pending = []           # packets read with the CONNACK

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Lost("send: %s" % e)

    def close(self):
        self.connected = False
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.buf = b""

    def packets(self, timeout):
        """Whole packets read within timeout: [(type, flags, body)]."""
        out = []
        while True:
            sp = m.split_packet(self.buf)
            if sp is None:
                break
            first, start, end = sp
            out.append((first >> 4, first & 0x0F, self.buf[start:end]))
            self.buf = self.buf[end:]
        if out:
            return out
        try:
            r, _, _ = select.select([self.sock], [], [], max(timeout, 0))
        except (OSError, ValueError) as e:
            raise Lost("select: %s" % e)
        if not r:
            return out
        try:
            data = self.sock.recv(65536)
        except OSError as e:
            raise Lost("recv: %s" % e)
        if not data:
            raise Lost("closed by the broker")
        self.buf += data
        while True:
            sp = m.split_packet(self.buf)
            if sp is None:
                break
            first, start, end = sp
            out.append((first >> 4, first & 0x0F, self.buf[start:end]))
            self.buf = self.buf[end:]
        return out

    def fields(self, ptype, flags, body):
        return m.packet_fields(ptype, flags, body,
                               5 if self.version == 5 else 4)

    def try_connect(self):
        """One attempt: Session Present, or None if it did not work."""
        try:
            self.sock = socket.create_connection((HOST, self.ctl.port), 1)
        except OSError:
            self.sock = None
            return None
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        clean = self.first
        if self.version == 5:
            pkt = m.connect(self.cid, 5, clean=clean, keepalive=60,
                            properties={"session_expiry_interval": EXPIRY})
        else:
            # 3.1.1: Clean Session 0 from the first connection (the store
            # is new), so that the session outlives the connection.
            pkt = m.connect(self.cid, 4, clean=False, keepalive=60)
        try:
            self.send(pkt)
            deadline = time.monotonic() + 5
            while True:
                pk = self.packets(deadline - time.monotonic())
                if pk:
                    break
                if time.monotonic() >= deadline:
                    raise Lost("no CONNACK")
        except Lost as e:
            log("%s: connect: %s" % (self.cid, e))
            self.close()
            return None
        ptype, flags, body = pk[0]
        if ptype != m.CONNACK:
            self.ctl.anomaly(self.cid, "first packet %s, not CONNACK" %
                             m.PTYPES.get(ptype, ptype))
            self.close()
            return None
        f = self.fields(ptype, flags, body)
        if f["rc"] != 0:
            log("%s: CONNACK rc=0x%02x" % (self.cid, f["rc"]))
            self.close()
            return None
        # Anything after the CONNACK is handled by the caller's loop.
        rest = pk[1:]
        self.pending = rest
        return f["sp"]

    def connect_loop(self):
        """Connect until it works (or the run is over): Session Present."""
        while not self.ctl.done.is_set():
            sp = self.try_connect()
            if sp is not None:
                self.connects.append((now(), sp))
                self.connected = True
                self.last_ping = time.monotonic()
                log("%s: connected, session present %d%s" % (
                    self.cid, sp, " (first)" if self.first else ""))
                return sp
            time.sleep(RETRY)
        return None

    def ping(self):
        if time.monotonic() - self.last_ping > 20:
            self.send(m.pingreq())
            self.last_ping = time.monotonic()

    def disconnect(self):
        if self.sock is not None:
            try:
                self.sock.sendall(m.disconnect(0, self.version))
            except OSError:
                pass
        self.close()


class Msg:
    __slots__ = ("n", "qos", "pid", "stage", "sent", "acked", "refused",
                 "rc", "resends", "rel_resent")

    def __init__(self, n, qos, pid):
        self.n = n
        self.qos = qos
        self.pid = pid
        self.stage = "pub"          # "pub": PUBLISH out; "rel": PUBREL out
        self.sent = now()
        self.acked = None
        self.refused = None
        self.rc = None
        self.resends = 0
        self.rel_resent = False     # PUBREL sent again after a reconnect


class Publisher(Client):
    def __init__(self, ctl, j, version):
        Client.__init__(self, ctl, "crash-pub-%d" % j, version)
        self.j = j
        self.topic = "crash/p%d" % j
        self.msgs = []                              # by n
        self.inflight = collections.OrderedDict()   # pid -> Msg, send order
        self.next_pid = 1
        self.tokens = 1.0
        self.last_tick = time.monotonic()
        self.finished = threading.Event()
        self.n_acked = 0

    def payload(self, msg):
        p = ("p=%d n=%d q=%d " % (self.j, msg.n, msg.qos)).encode()
        return p + b"x" * max(0, PAYLOAD_SIZE - len(p))

    def publish_packet(self, msg, dup):
        return m.publish(self.topic, self.payload(msg), qos=msg.qos,
                         pid=msg.pid, version=self.version, dup=dup)

    def alloc_pid(self):
        while self.next_pid in self.inflight:
            self.next_pid = self.next_pid % 65535 + 1
        pid = self.next_pid
        self.next_pid = self.next_pid % 65535 + 1
        return pid

    def publish_new(self):
        n = len(self.msgs)
        msg = Msg(n, 1 if n % 2 == 0 else 2, self.alloc_pid())
        self.msgs.append(msg)
        self.inflight[msg.pid] = msg
        self.send(self.publish_packet(msg, False))

    def resume(self, sp):
        """After a reconnect: resend what is unfinished."""
        if not sp:
            self.ctl.anomaly(self.cid, "reconnected without Session "
                             "Present: %d unfinished messages" %
                             len(self.inflight))
        for msg in list(self.inflight.values()):
            msg.resends += 1
            if msg.stage == "pub":
                self.send(self.publish_packet(msg, bool(sp)))
            else:
                msg.rel_resent = True
                self.send(m.ack(m.PUBREL, msg.pid, version=self.version))

    def on_packet(self, ptype, flags, body):
        if ptype == m.PINGRESP:
            return
        if ptype == m.DISCONNECT:
            raise Lost("DISCONNECT rc=0x%02x" %
                       self.fields(ptype, flags, body)["rc"])
        if ptype not in (m.PUBACK, m.PUBREC, m.PUBCOMP):
            self.ctl.anomaly(self.cid, "unexpected %s" %
                             m.PTYPES.get(ptype, ptype))
            return
        f = self.fields(ptype, flags, body)
        pid, rc = f["pid"], f["rc"]
        msg = self.inflight.get(pid)
        want = {m.PUBACK: (1, "pub"), m.PUBREC: (2, "pub"),
                m.PUBCOMP: (2, "rel")}[ptype]
        if msg is None or (msg.qos, msg.stage) != want:
            self.ctl.anomaly(self.cid, "%s for packet id %d, which is %s" % (
                m.PTYPES[ptype], pid, "not in use" if msg is None else
                "n=%d qos %d stage %s" % (msg.n, msg.qos, msg.stage)))
            return
        if ptype == m.PUBREC and rc < 0x80:
            msg.stage = "rel"
            self.send(m.ack(m.PUBREL, pid, version=self.version))
            return
        del self.inflight[pid]
        msg.rc = rc
        if rc < 0x80 and not (ptype == m.PUBCOMP and rc != 0):
            msg.acked = now()
            self.n_acked += 1
        elif ptype == m.PUBCOMP and rc == 0x92 and msg.rel_resent:
            # Packet Identifier not found, for a PUBREL sent again after a
            # reconnect: the broker had finished the flow (and forgotten
            # the id) when it died, before its PUBCOMP reached us.  The
            # message was accepted at PUBREC: count it as completed.
            msg.acked = now()
            self.n_acked += 1
        else:
            msg.refused = now()
            self.ctl.anomaly(self.cid, "%s rc=0x%02x for n=%d" % (
                m.PTYPES[ptype], rc, msg.n))

    def can_publish(self):
        if self.ctl.stop.is_set() or len(self.inflight) >= self.ctl.a.window:
            return False
        if self.ctl.a.rate <= 0:
            return True
        t = time.monotonic()
        self.tokens = min(self.tokens + (t - self.last_tick) *
                          self.ctl.a.rate, max(1.0, self.ctl.a.rate / 20))
        self.last_tick = t
        return self.tokens >= 1

    def session(self):
        """One connection's life; returns when it breaks (Lost)."""
        for pk in self.pending:
            self.on_packet(*pk)
        while not self.ctl.done.is_set():
            while self.can_publish():
                if self.ctl.a.rate > 0:
                    self.tokens -= 1
                self.publish_new()
            if self.ctl.stop.is_set() and not self.inflight:
                self.finished.set()
                self.disconnect()
                return
            self.ping()
            wait = 0.05
            if self.ctl.a.rate > 0 and not self.ctl.stop.is_set():
                wait = min(wait, 1.0 / self.ctl.a.rate)
            for pk in self.packets(wait):
                self.on_packet(*pk)

    def run(self):
        try:
            while not self.ctl.done.is_set() and not self.finished.is_set():
                sp = self.connect_loop()
                if sp is None:
                    break
                try:
                    if not self.first:
                        self.resume(sp)
                    self.first = False
                    self.session()
                except Lost as e:
                    log("%s: connection lost: %s (%d unfinished)" % (
                        self.cid, e, len(self.inflight)))
                    self.close()
        except Exception as e:      # a bug here: say so in the record
            self.ctl.anomaly(self.cid, "client error: %r" % e)
            raise
        finally:
            self.close()

    def record(self):
        return {
            "cid": self.cid, "j": self.j, "version": self.version,
            "connects": self.connects,
            "msgs": [[x.n, x.qos, x.sent, x.acked, x.refused, x.rc,
                      x.resends, x.rel_resent] for x in self.msgs],
            "unfinished": [x.n for x in self.inflight.values()],
        }


class Subscriber(Client):
    def __init__(self, ctl, k, version):
        Client.__init__(self, ctl, "crash-sub-%d" % k, version)
        self.k = k
        self.rx2 = {}                   # pid -> (j, n) until PUBREL
        self.deliveries = []            # (j, n, qos, dup, time)
        self.got = set()                # (j, n)
        self.subscribed = threading.Event()
        self.n_resent = 0
        self.last_delivery = 0.0
        self.bad = []                   # payloads not ours

    def subscribe(self):
        # options byte: QoS 2 (v5: No Local 0, Retain As Published 0)
        self.send(m.subscribe_many(1, [("crash/#", 2)], version=self.version))

    def on_publish(self, flags, body):
        f = self.fields(m.PUBLISH, flags, body)
        qos, pid, dup = f["qos"], f["pid"], f["dup"]
        try:
            words = dict(w.split("=", 1) for w in
                         f["payload"].decode().split() if "=" in w)
            key = (int(words["p"]), int(words["n"]))
            pub_qos = int(words["q"])
        except (ValueError, KeyError, UnicodeDecodeError):
            self.bad.append(f["payload"][:80].hex())
            key, pub_qos = None, None
        if qos == 2:
            if pid in self.rx2:
                # the same message again before PUBREL: acknowledge only
                self.n_resent += 1
                if self.rx2[pid] != key:
                    self.ctl.anomaly(self.cid, "QoS 2 packet id %d resent "
                                     "with another message (%s, was %s)" %
                                     (pid, key, self.rx2[pid]))
                elif not dup:
                    self.ctl.anomaly(self.cid, "QoS 2 %s resent with DUP 0"
                                     % (key,))
                self.send(m.ack(m.PUBREC, pid, version=self.version))
                return
            self.rx2[pid] = key
        if key is not None:
            if qos != pub_qos:
                self.ctl.anomaly(self.cid, "%s published at QoS %d came "
                                 "at QoS %d" % (key, pub_qos, qos))
            self.deliveries.append((key[0], key[1], qos, dup, now()))
            self.got.add(key)
            self.last_delivery = time.monotonic()
        if qos == 1:
            self.send(m.ack(m.PUBACK, pid, version=self.version))
        elif qos == 2:
            self.send(m.ack(m.PUBREC, pid, version=self.version))

    def on_packet(self, ptype, flags, body):
        if ptype == m.PUBLISH:
            self.on_publish(flags, body)
        elif ptype == m.PUBREL:
            pid = self.fields(ptype, flags, body)["pid"]
            self.rx2.pop(pid, None)
            self.send(m.ack(m.PUBCOMP, pid, version=self.version))
        elif ptype == m.SUBACK:
            f = self.fields(ptype, flags, body)
            if f["rcs"] != [2]:
                self.ctl.anomaly(self.cid, "SUBACK %r" % f["rcs"])
            self.subscribed.set()
        elif ptype == m.DISCONNECT:
            # the broker shutting down (SIGTERM): reconnect as after a kill
            raise Lost("DISCONNECT rc=0x%02x" %
                       self.fields(ptype, flags, body)["rc"])
        elif ptype != m.PINGRESP:
            self.ctl.anomaly(self.cid, "unexpected %s" %
                             m.PTYPES.get(ptype, ptype))

    def run(self):
        try:
            while not self.ctl.done.is_set():
                sp = self.connect_loop()
                if sp is None:
                    break
                try:
                    if self.first or not sp:
                        if not self.first:
                            self.ctl.anomaly(self.cid, "reconnected "
                                             "without Session Present")
                        self.rx2.clear()
                        self.subscribe()
                    self.first = False
                    for pk in self.pending:
                        self.on_packet(*pk)
                    while not self.ctl.done.is_set():
                        self.ping()
                        for pk in self.packets(0.05):
                            self.on_packet(*pk)
                    self.disconnect()
                except Lost as e:
                    log("%s: connection lost: %s (%d deliveries, %d QoS 2 "
                        "ids held)" % (self.cid, e, len(self.deliveries),
                                       len(self.rx2)))
                    self.close()
        except Exception as e:
            self.ctl.anomaly(self.cid, "client error: %r" % e)
            raise
        finally:
            self.close()

    def record(self):
        return {
            "cid": self.cid, "k": self.k, "version": self.version,
            "connects": self.connects, "deliveries": self.deliveries,
            "resent": self.n_resent, "bad": self.bad,
            "rx2_held": len(self.rx2),
        }


def write_file(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def versions(text, n):
    v = [int(x) for x in text.split(",") if x]
    return [v[i % len(v)] for i in range(n)]


def cmd_run(a):
    ctl = Ctl(a)
    d = a.dir
    subs = [Subscriber(ctl, k, v) for k, v in
            enumerate(versions(a.sub_versions, a.subs))]
    pubs = [Publisher(ctl, j, v) for j, v in
            enumerate(versions(a.pub_versions, a.pubs))]
    start = time.monotonic()
    deadline = start + a.timeout
    timed_out = None
    phase = "subscribe"
    drain_start = None
    ppid = os.getppid()
    for s in subs:
        s.start()
    while True:
        t = time.monotonic()
        if os.getppid() != ppid:
            log("the test script is gone: stopping")
            ctl.done.set()
            return 1
        if t >= deadline:
            timed_out = phase
            log("timeout in phase %s" % phase)
            break
        acked = sum(p.n_acked for p in pubs)
        received = sum(len(s.deliveries) for s in subs)
        write_file(os.path.join(d, "crash.progress"),
                   "acked=%d\nreceived=%d\nconnected=%d\nphase=%s\n" % (
                       acked, received, sum(c.connected for c in subs + pubs),
                       phase))
        if phase == "subscribe" and all(s.subscribed.is_set() for s in subs):
            for p in pubs:
                p.start()
            phase = "start"
        elif phase == "start" and all(p.n_acked > 0 for p in pubs):
            write_file(os.path.join(d, "crash.ready"), "ready\n")
            phase = "publish"
        elif phase == "publish" and os.path.exists(os.path.join(d,
                                                               "crash.stop")):
            ctl.stop.set()
            phase = "stop"
        elif phase == "stop" and all(p.finished.is_set() for p in pubs):
            write_file(os.path.join(d, "crash.pubs-done"), "done\n")
            phase = "wait-final"
        elif phase == "wait-final" and os.path.exists(
                os.path.join(d, "crash.final")):
            phase = "drain"
            drain_start = t
        elif phase == "drain":
            want = set((p.j, x.n) for p in pubs for x in p.msgs
                       if x.acked is not None)
            complete = all(want <= s.got for s in subs)
            quiet = all(t - s.last_delivery >= 1.0 for s in subs)
            connected = all(s.connected for s in subs)
            if complete and quiet and connected and t - drain_start >= 1.0:
                break
            if t - drain_start >= a.drain:
                log("drain: incomplete after %g s" % a.drain)
                break
        time.sleep(0.1)
    ctl.stop.set()
    ctl.done.set()
    for c in subs + pubs:
        if c.is_alive():
            c.join(5)
    rec = {
        "t0": ctl.t0, "end": now(), "timed_out": timed_out,
        "drain_seconds": None if drain_start is None else
        time.monotonic() - drain_start,
        "options": vars(a),
        "anomalies": ctl.anomalies,
        "pubs": [p.record() for p in pubs],
        "subs": [s.record() for s in subs],
    }
    write_file(os.path.join(d, "crash.json"), json.dumps(rec))
    log("done: %d published, %d deliveries" % (
        sum(len(p.msgs) for p in pubs),
        sum(len(s.deliveries) for s in subs)))
    return 0


def ranges(keys):
    """(j, n) keys of one QoS as lines "p=J n=A..B (C)": runs of n two
    apart (the numbers of one QoS alternate)."""
    out = []
    by_pub = collections.defaultdict(list)
    for j, n in keys:
        by_pub[j].append(n)
    for j in sorted(by_pub):
        ns = sorted(by_pub[j])
        runs = []
        for n in ns:
            if runs and n == runs[-1][1] + 2:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        text = ", ".join("%d" % a if a == b else "%d..%d" % (a, b)
                         for a, b in runs[:12])
        if len(runs) > 12:
            text += ", ... (%d runs)" % len(runs)
        out.append("p=%d n=%s (%d messages)" % (j, text, len(ns)))
    return out


def cmd_report(a):
    with open(os.path.join(a.dir, "crash.json")) as f:
        rec = json.load(f)
    kills = []
    if a.kills and os.path.exists(a.kills):
        with open(a.kills) as f:
            for line in f:
                w = line.split()
                if len(w) >= 2 and w[0] == "kill":
                    kills.append(float(w[1]))
    t0 = rec["t0"]
    out = []
    fail = []

    def when(t):
        """t relative to the start and to the nearest kill."""
        if t is None:
            return "never"
        s = "%.3f s" % (t - t0)
        if kills:
            i = min(range(len(kills)), key=lambda i: abs(kills[i] - t))
            s += " (%+.3f s from kill %d)" % (t - kills[i], i + 1)
        return s

    msgs = {}                       # (j, n) -> [qos, sent, acked, ...]
    for p in rec["pubs"]:
        for x in p["msgs"]:
            msgs[(p["j"], x[0])] = x
    out.append("%d publishers (MQTT %s) -> %d subscribers (MQTT %s), "
               "%d kills, %.1f s" % (
                   len(rec["pubs"]), ",".join(str(p["version"]) for p in
                                              rec["pubs"]),
                   len(rec["subs"]), ",".join(str(s["version"]) for s in
                                              rec["subs"]),
                   len(kills), rec["end"] - t0))
    for qos in (1, 2):
        mine = [k for k, x in msgs.items() if x[1] == qos]
        acked = [k for k in mine if msgs[k][3] is not None]
        refused = [k for k in mine if msgs[k][4] is not None]
        resent = sum(1 for k in mine if msgs[k][6])
        c92 = sum(1 for k in mine if msgs[k][5] == 0x92)
        out.append("qos%d: sent %d, acked %d, refused %d, unfinished %d, "
                   "resent by the publisher after a reconnect %d%s" % (
                       qos, len(mine), len(acked), len(refused),
                       len(mine) - len(acked) - len(refused), resent,
                       ", PUBCOMP 0x92 for a PUBREL sent again %d" % c92
                       if qos == 2 else ""))
        for s in rec["subs"]:
            count = collections.Counter()
            dups_flagged = 0
            for j, n, q, dup, t in s["deliveries"]:
                if (j, n) in msgs and msgs[(j, n)][1] == qos:
                    count[(j, n)] += 1
                    if dup:
                        dups_flagged += 1
            received = sum(count.values())
            dup_n = sum(c - 1 for c in count.values() if c > 1)
            missing = sorted(k for k in acked if k not in count)
            out.append("  %s: received %d, unique %d, duplicates %d, "
                       "missing %d (acked, never delivered), "
                       "unacked delivered %d, with DUP 1 %d" % (
                           s["cid"], received, len(count), dup_n,
                           len(missing),
                           sum(1 for k in count if msgs[k][3] is None),
                           dups_flagged))
            for line in ranges(missing):
                fail.append("%s: qos%d acked, never delivered: %s" % (
                    s["cid"], qos, line))
            for k in missing[:10]:
                x = msgs[k]
                fail.append("%s: qos%d p=%d n=%d acked at %s, sent at %s, "
                            "never delivered" % (s["cid"], qos, k[0], k[1],
                                                 when(x[3]), when(x[2])))
            if len(missing) > 10:
                fail.append("%s: qos%d %d more missing" % (
                    s["cid"], qos, len(missing) - 10))
            if qos == 2:
                dup_keys = sorted(k for k, c in count.items() if c > 1)
                for k in dup_keys[:20]:
                    times = [when(t) for j, n, q, dup, t in s["deliveries"]
                             if (j, n) == k]
                    fail.append("%s: qos2 p=%d n=%d delivered %d times, at "
                                "%s" % (s["cid"], k[0], k[1], count[k],
                                        "; ".join(times)))
                if len(dup_keys) > 20:
                    fail.append("%s: qos2 %d more duplicated" % (
                        s["cid"], len(dup_keys) - 20))
    for s in rec["subs"]:
        stray = [(j, n) for j, n, q, dup, t in s["deliveries"]
                 if (j, n) not in msgs]
        if stray or s["bad"]:
            fail.append("%s: %d deliveries of messages never published "
                        "(%s), %d undecodable" % (s["cid"], len(stray),
                                                  stray[:5], len(s["bad"])))
        out.append("%s: %d connections, QoS 2 resends before PUBREL %d, "
                   "QoS 2 ids held at the end %d" % (
                       s["cid"], len(s["connects"]), s["resent"],
                       s["rx2_held"]))
    for p in rec["pubs"]:
        out.append("%s: %d connections" % (p["cid"], len(p["connects"])))
    for x in rec["anomalies"][:30]:
        fail.append("anomaly at %s: %s: %s" % (when(x["t"]), x["who"],
                                               x["text"]))
    if len(rec["anomalies"]) > 30:
        fail.append("%d more anomalies (crash.json)" %
                    (len(rec["anomalies"]) - 30))
    if rec["timed_out"]:
        fail.append("the run timed out in phase %s" % rec["timed_out"])
    for line in out:
        print(line)
    for line in fail:
        print("FAIL " + line)
    if not fail:
        print("ok: every acked message delivered to every subscriber, "
              "QoS 2 exactly once")
    return 1 if fail else 0


def main(argv):
    ap = argparse.ArgumentParser(prog="crash.py")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("-p", "--port", type=int, required=True)
    r.add_argument("--pubs", type=int, default=2)
    r.add_argument("--subs", type=int, default=2)
    r.add_argument("--pub-versions", default="5,4")
    r.add_argument("--sub-versions", default="5,4")
    r.add_argument("--rate", type=float, default=1000)
    r.add_argument("--window", type=int, default=16)
    r.add_argument("--timeout", type=float, default=75)
    r.add_argument("--drain", type=float, default=20)
    r.add_argument("--dir", default=".")
    p = sub.add_parser("report")
    p.add_argument("--dir", default=".")
    p.add_argument("--kills")
    a = ap.parse_args(argv)
    if a.command == "run":
        return cmd_run(a)
    return cmd_report(a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
