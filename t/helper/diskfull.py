#!/usr/bin/python3
"""diskfull.py: the clients of t/t6030-disk-full.t (durable sessions on a
full disk).

    PYTHONPATH=$TEST_DIRECTORY/helper "$PYTHON" diskfull.py -p PORT \
        [-s SCALE] COMMAND ...

Every message it publishes has the payload TAG ":" followed by random
bytes (incompressible, so that LevelDB cannot make room by compressing);
TAG names the message ("a-17").  Every wait has a timeout (times SCALE), and SIGALRM ends
the program after 60 s (times SCALE) whatever it does.

  sub ID FILTER
      A durable MQTT 5 session (clean start, Session Expiry Interval 600)
      subscribes to FILTER at QoS 1 and disconnects.  Prints
      "CONNACK sp=N rc=0xNN" and "SUBACK 0xNN".
  get ID [-w QUIET] [-t TIMEOUT] [--out FILE]
      The durable session resumes (clean start 0, expiry 600; it
      subscribes to nothing: its subscriptions are kept) and takes
      every message (PUBACK for QoS 1) until QUIET seconds (default 1)
      pass without one or TIMEOUT (default 15) runs out; appends the tag
      of each, in arrival order, to FILE.  Prints "CONNACK sp=N rc=0xNN"
      and "received N".
  fill TOPIC PREFIX --max N [--size B] [--acked FILE]
      An MQTT 5 publisher (not durable) publishes PREFIX-1, PREFIX-2, ...
      at QoS 1, one at a time, until the broker disconnects it; the tag of
      each acknowledged one goes to FILE as soon as its PUBACK came.
      Prints "acked N", "inflight TAG" (the one that was waiting when the
      broker disconnected) and "DISCONNECT rc=0xNN" (or "CLOSED" when the
      connection closed without a DISCONNECT).  Exit status 1 if every
      one of the N was acknowledged or a PUBACK did not come in 5 s.
  pub TOPIC PREFIX FIRST LAST [--size B] [--acked FILE] [--retry SECS]
      An MQTT 5 publisher publishes PREFIX-FIRST .. PREFIX-LAST at QoS 1;
      each must be acknowledged (reason code below 0x80).  With --retry,
      a DISCONNECT 0x97 before the first acknowledgement is retried
      (after 0.2 s, with a new connection, the same tag) for up to SECS:
      prints "DISCONNECT rc=0x97, retrying" for each and "first ack
      after S s".  Prints "acked N".
  v311 TOPIC TAG [--size B] [-t SECS]
      paho-mqtt, MQTT 3.1.1, clean session: publishes TAG at QoS 1 and
      waits up to SECS (default 5) for its PUBACK or the end of the
      connection.  Prints "PUBACK" or "no PUBACK", then "disconnected"
      or "still connected".
  plain TOPIC N [-q QOS]
      Two non-durable MQTT 5 clients (clean start, no session expiry): one
      subscribes to TOPIC at QOS, the other publishes N messages to it at
      QOS (at QoS 1 each acknowledgement must come, reason below 0x80).
      Prints "puback N" (QoS 1) and "received N".

Exit status 0 done, 1 a check failed (message on stderr).
"""

import argparse
import os
import signal
import socket
import sys
import time

import mqttc
from mqttc import (Raw, PUBLISH, PUBACK, SUBACK, DISCONNECT, PTYPES,
                   packet_fields)

SCALE = 1
PORT = None
EXPIRY = 600


class Fail(Exception):
    pass


def out(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def payload(tag, size):
    return tag.encode() + b":" + os.urandom(size)


def tag_of(data):
    return data.split(b":", 1)[0].decode("ascii", "replace")


def append(path, tag):
    if path:
        with open(path, "a") as f:
            f.write(tag + "\n")


def next_packet(c, timeout):
    """(type, fields) of the next packet, ("CLOSED", None) when the server
    closed, (None, None) on timeout."""
    try:
        pkt = c.recv_packet(timeout)
    except socket.timeout:
        return None, None
    if pkt is None:
        return "CLOSED", None
    ptype, flags, body = pkt
    return ptype, packet_fields(ptype, flags, body, c.version)


def v5_client(cid, clean, expiry=None):
    c = Raw(PORT, timeout=5 * SCALE, version=5)
    props = {"session_expiry_interval": expiry} if expiry else None
    sp, rc, _ = c.connect(client_id=cid, clean=clean, properties=props)
    return c, sp, rc


def cmd_sub(a):
    c, sp, rc = v5_client(a.id, True, EXPIRY)
    out("CONNACK sp=%d rc=0x%02x" % (sp, rc))
    c.send(mqttc.subscribe(1, a.filter, 1))
    ptype, f = next_packet(c, 5 * SCALE)
    if ptype != SUBACK:
        raise Fail("sub: no SUBACK (got %s)" % PTYPES.get(ptype, ptype))
    out("SUBACK " + " ".join("0x%02x" % x for x in f["rcs"]))
    c.send(mqttc.disconnect())
    c.wait_close(2 * SCALE)
    c.close()


def cmd_get(a):
    c, sp, rc = v5_client(a.id, False, EXPIRY)
    out("CONNACK sp=%d rc=0x%02x" % (sp, rc))
    deadline = time.monotonic() + a.timeout * SCALE
    n = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ptype, f = next_packet(c, min(left, a.quiet * SCALE))
        if ptype is None:
            break
        if ptype == "CLOSED":
            raise Fail("get: the broker closed the connection")
        if ptype == PUBLISH:
            if f["qos"] == 1:
                c.send(mqttc.ack(PUBACK, f["pid"]))
            append(a.out, tag_of(f["payload"]))
            n += 1
        else:
            raise Fail("get: unexpected %s" % PTYPES.get(ptype, ptype))
    out("received %d" % n)
    c.send(mqttc.disconnect())
    c.wait_close(2 * SCALE)
    c.close()


def publish_one(c, topic, tag, size, pid):
    """Publish tag at QoS 1: ("PUBACK", rc), ("DISCONNECT", rc),
    ("CLOSED", None) or ("TIMEOUT", None)."""
    c.send(mqttc.publish(topic, payload(tag, size), qos=1, pid=pid))
    deadline = time.monotonic() + 5 * SCALE
    while True:
        ptype, f = next_packet(c, max(deadline - time.monotonic(), 0.001))
        if ptype is None:
            return "TIMEOUT", None
        if ptype == "CLOSED":
            return "CLOSED", None
        if ptype == PUBACK and f["pid"] == pid:
            return "PUBACK", f["rc"]
        if ptype == DISCONNECT:
            return "DISCONNECT", f["rc"]
        raise Fail("publish %s: unexpected %s" %
                   (tag, PTYPES.get(ptype, ptype)))


def cmd_fill(a):
    c, _, rc = v5_client("df-fill-%d" % os.getpid(), True)
    if rc != 0:
        raise Fail("fill: CONNACK rc=0x%02x" % rc)
    acked = 0
    for i in range(1, a.max + 1):
        tag = "%s-%d" % (a.prefix, i)
        what, rc = publish_one(c, a.topic, tag, a.size, i % 65535 + 1)
        if what == "PUBACK":
            if rc >= 0x80:
                raise Fail("fill: %s: PUBACK rc=0x%02x" % (tag, rc))
            append(a.acked, tag)
            acked += 1
            continue
        out("acked %d" % acked)
        out("inflight %s" % tag)
        if what == "TIMEOUT":
            raise Fail("fill: no PUBACK nor DISCONNECT for %s in 5 s" % tag)
        if what == "CLOSED":
            out("CLOSED")
        else:
            out("DISCONNECT rc=0x%02x" % rc)
            c.wait_close(2 * SCALE)
        c.close()
        return 0
    out("acked %d" % acked)
    raise Fail("fill: all %d messages acknowledged: the disk never filled"
               % a.max)


def cmd_pub(a):
    t0 = time.monotonic()
    retry_until = t0 + a.retry * SCALE
    c = None
    acked = 0
    i = a.first
    while i <= a.last:
        if c is None:
            c, _, rc = v5_client("df-pub-%d" % os.getpid(), True)
            if rc != 0:
                raise Fail("pub: CONNACK rc=0x%02x" % rc)
        tag = "%s-%d" % (a.prefix, i)
        what, rc = publish_one(c, a.topic, tag, a.size, i % 65535 + 1)
        if what == "PUBACK" and rc < 0x80:
            if acked == 0 and a.retry:
                out("first ack after %.1f s" % (time.monotonic() - t0))
            append(a.acked, tag)
            acked += 1
            i += 1
            continue
        if (what == "DISCONNECT" and rc == 0x97 and acked == 0 and
                time.monotonic() < retry_until):
            out("DISCONNECT rc=0x97, retrying")
            c.wait_close(2 * SCALE)
            c.close()
            c = None
            time.sleep(0.2)
            continue
        raise Fail("pub: %s: %s%s" % (tag, what, "" if rc is None else
                                      " rc=0x%02x" % rc))
    out("acked %d" % acked)
    c.send(mqttc.disconnect())
    c.wait_close(2 * SCALE)
    c.close()


def cmd_v311(a):
    import threading
    import paho.mqtt.client as paho

    c = paho.Client(client_id="df-v311-%d" % os.getpid(),
                    clean_session=True, protocol=paho.MQTTv311)
    connected = threading.Event()
    gone = threading.Event()
    acked = threading.Event()
    c.on_connect = lambda cl, u, fl, rc: connected.set() if rc == 0 \
        else None
    c.on_disconnect = lambda cl, u, rc: gone.set()
    c.on_publish = lambda cl, u, mid: acked.set()
    c.connect("127.0.0.1", PORT, 60)
    # Run the network loop here, not in loop_start()'s thread: that one
    # reconnects (and publishes again) after the broker closes.
    deadline = time.monotonic() + 5 * SCALE
    while not connected.is_set() and not gone.is_set():
        if time.monotonic() > deadline:
            raise Fail("v311: no CONNACK")
        c.loop(0.05)
    if not connected.is_set():
        raise Fail("v311: refused")
    c.publish(a.topic, payload(a.tag, a.size), qos=1)
    deadline = time.monotonic() + a.timeout * SCALE
    while not acked.is_set() and not gone.is_set() and \
            time.monotonic() < deadline:
        c.loop(0.05)
    # A PUBACK and a close can come together: read what is left.
    end = time.monotonic() + 0.3
    while not gone.is_set() and time.monotonic() < end:
        c.loop(0.05)
    out("PUBACK" if acked.is_set() else "no PUBACK")
    out("disconnected" if gone.is_set() else "still connected")
    if not gone.is_set():
        c.disconnect()


def cmd_plain(a):
    s, _, rc = v5_client("df-plain-sub-%d" % os.getpid(), True)
    if rc != 0:
        raise Fail("plain: subscriber CONNACK rc=0x%02x" % rc)
    s.send(mqttc.subscribe(1, a.topic, a.qos))
    ptype, f = next_packet(s, 5 * SCALE)
    if ptype != SUBACK or f["rcs"][0] >= 0x80:
        raise Fail("plain: no SUBACK (%s %r)" % (ptype, f))
    p, _, rc = v5_client("df-plain-pub-%d" % os.getpid(), True)
    if rc != 0:
        raise Fail("plain: publisher CONNACK rc=0x%02x" % rc)
    pubacks = 0
    for i in range(1, a.n + 1):
        tag = "plain-%d" % i
        if a.qos == 0:
            p.send(mqttc.publish(a.topic, payload(tag, 100)))
            continue
        what, rc = publish_one(p, a.topic, tag, 100, i)
        if what != "PUBACK" or rc >= 0x80:
            raise Fail("plain: %s: %s rc=%r" % (tag, what, rc))
        pubacks += 1
    if a.qos:
        out("puback %d" % pubacks)
    got = set()
    deadline = time.monotonic() + 5 * SCALE
    while len(got) < a.n and time.monotonic() < deadline:
        ptype, f = next_packet(s, max(deadline - time.monotonic(), 0.001))
        if ptype is None:
            break
        if ptype == "CLOSED":
            raise Fail("plain: the broker closed the subscriber")
        if ptype == PUBLISH:
            if f["qos"] == 1:
                s.send(mqttc.ack(PUBACK, f["pid"]))
            got.add(tag_of(f["payload"]))
    out("received %d" % len(got))
    for c in (p, s):
        c.send(mqttc.disconnect())
        c.wait_close(2 * SCALE)
        c.close()


def main(argv):
    global PORT, SCALE
    ap = argparse.ArgumentParser(prog="diskfull.py")
    ap.add_argument("-p", dest="port", type=int, required=True)
    ap.add_argument("-s", dest="scale", type=int, default=1)
    sp = ap.add_subparsers(dest="cmd", required=True)

    p = sp.add_parser("sub")
    p.add_argument("id")
    p.add_argument("filter")
    p.set_defaults(func=cmd_sub)

    p = sp.add_parser("get")
    p.add_argument("id")
    p.add_argument("-w", dest="quiet", type=float, default=1)
    p.add_argument("-t", dest="timeout", type=float, default=15)
    p.add_argument("--out")
    p.set_defaults(func=cmd_get)

    p = sp.add_parser("fill")
    p.add_argument("topic")
    p.add_argument("prefix")
    p.add_argument("--max", type=int, required=True)
    p.add_argument("--size", type=int, default=20000)
    p.add_argument("--acked")
    p.set_defaults(func=cmd_fill)

    p = sp.add_parser("pub")
    p.add_argument("topic")
    p.add_argument("prefix")
    p.add_argument("first", type=int)
    p.add_argument("last", type=int)
    p.add_argument("--size", type=int, default=20000)
    p.add_argument("--acked")
    p.add_argument("--retry", type=float, default=0)
    p.set_defaults(func=cmd_pub)

    p = sp.add_parser("v311")
    p.add_argument("topic")
    p.add_argument("tag")
    p.add_argument("--size", type=int, default=20000)
    p.add_argument("-t", dest="timeout", type=float, default=5)
    p.set_defaults(func=cmd_v311)

    p = sp.add_parser("plain")
    p.add_argument("topic")
    p.add_argument("n", type=int)
    p.add_argument("-q", dest="qos", type=int, default=0, choices=(0, 1))
    p.set_defaults(func=cmd_plain)

    a = ap.parse_args(argv)
    PORT, SCALE = a.port, a.scale
    signal.alarm(60 * SCALE)
    try:
        return a.func(a) or 0
    except (Fail, AssertionError, OSError, ValueError) as e:
        sys.stderr.write("diskfull.py %s: %s\n" % (a.cmd, e))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
