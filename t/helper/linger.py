# linger.py: clients that keep writing while the server ends their
# connection (t1030-close-linger.t).
#
# A script feeds $PYTHON a short program on stdin that starts with
# "from linger import *": everything rest.py offers (pubsub.py's Raw over
# PUBSUB_TRANSPORT tcp or tls, check, api), plus
#
#   keep_writing(c, step, rc, ptype=DISCONNECT, seconds=10)
#       call step(c), which writes something, and read what has come, in
#       turn, as a client does that writes before it reads (paho's loop):
#       until a packet of ptype (DISCONNECT, or CONNACK for a refused
#       CONNECT) with reason code rc is read.  A write that fails, or the
#       connection closing, before that fails the program: that client
#       would never see the reason code.  Then it writes AFTER more times
#       over 100 ms, which must all go, and the server must close (end of
#       stream).
#       Returns the number of writes.
#   Qos2Flood(burst)      a step: BURST QoS 2 PUBLISHes with new packet
#       ids, after a PUBREL for each PUBREC read so far
#   Chunks(first, size)   a step: FIRST (the head of a packet) once, then
#       SIZE zero bytes each time
#   publish_step(c)       a step: one QoS 0 PUBLISH and a 5 ms pause
#   big_connect_head(n)   the start of an MQTT 5 CONNECT announcing n
#       bytes (send it, then Chunks of its rest)
#   fd_count(pid)         the open file descriptors of a process
#   stats(), metrics()    GET /stats and /metrics?aggregate=true

import ssl  # noqa: F401 (ssl.SSLError is an OSError)

from rest import *                                   # noqa: F401,F403
from rest import Api
from pubsub import (Closed, DISCONNECT, CONNACK, PUBREC, PUBREL,
                    ack_packet, publish_packet, varint, log, check, SCALE)
import os
import time

AFTER = 5

api = Api() if os.environ.get("REST_URL") else None


def keep_writing(c, step, rc, ptype=DISCONNECT, seconds=10.0):
    end = time.monotonic() + seconds * SCALE
    writes = 0
    got = None
    c.owed = []
    while got is None:
        check(time.monotonic() < end, "%r: reason code 0x%02x within %d "
              "writes" % (c, rc, writes))
        try:
            step(c)
        except OSError as e:
            raise AssertionError("%r: write %d failed before the reason "
                                 "code was read: %r" % (c, writes + 1, e))
        writes += 1
        while True:
            try:
                p = c._recv_wire(0.002)
            except Closed:
                raise AssertionError("%r: closed after %d writes, before "
                                     "the reason code was read" %
                                     (c, writes))
            if p is None:
                break
            if p.type == PUBREC:
                c.owed.append(p.pid)
            elif p.type == ptype:
                got = p
                break
    check(got.rc == rc, "%r: reason code 0x%02x" % (c, rc), got)
    log("%r: 0x%02x read after %d writes" % (c, rc, writes))
    # Spread over 100 ms: a socket closed meanwhile resets them.
    for i in range(AFTER):
        time.sleep(0.02)
        try:
            step(c)
        except OSError as e:
            raise AssertionError("%r: write %d after the reason code "
                                 "failed: %r" % (c, i + 1, e))
    # Only acknowledgements of what went before may still come.
    while True:
        try:
            p = c._recv_wire(5.0 * SCALE)
        except Closed:
            break
        check(p is not None, "%r: the server closes" % c)
        check(p.type == PUBREC, "%r: nothing but PUBREC after the reason "
              "code" % c, p)
    c.close()
    return writes


class Qos2Flood:
    def __init__(self, burst):
        self.burst = burst
        self.pid = 0

    def __call__(self, c):
        out = b"".join(ack_packet(PUBREL, pid) for pid in c.owed)
        c.owed = []
        for i in range(self.burst):
            self.pid = self.pid % 65535 + 1
            out += publish_packet("linger/q2", b"x" * 16, qos=2,
                                  pid=self.pid)
        c.send(out)


class Chunks:
    def __init__(self, first, size):
        self.first = first
        self.size = size

    def __call__(self, c):
        if self.first is not None:
            c.send(self.first)
            self.first = None
        else:
            c.send(bytes(self.size))


def publish_step(c):
    c.send(publish_packet("linger/q0", b"y" * 64))
    time.sleep(0.005)


def big_connect_head(n):
    """An MQTT 5 CONNECT of n bytes, cut after its variable header."""
    vh = b"\x00\x04MQTT\x05\x02\x00\x3c\x00"
    return b"\x10" + varint(n) + vh


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def stats():
    return api.get("/stats?aggregate=true")


def metrics():
    return api.get("/metrics?aggregate=true")
