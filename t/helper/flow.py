#!/usr/bin/python3
"""flow: back-pressure checks for flockmq's tests (raw sockets, threads).

    flow.py PORT COUNT SIZE SUBSCRIBERS...

One MQTT 5 publisher sends COUNT numbered QoS 1 messages of SIZE bytes to
flow/t, at most 64 unacknowledged, as fast as the broker reads them.
Every SUBSCRIBER is one client subscribed to flow/t at QoS 1, given as

    slow:N     reads N messages at a time, then sleeps 5 ms (a client that
               drains, slower than the publisher sends)
    fast       reads as fast as it can
    stuck      subscribes and never reads again

The subscribers connect first; the publisher starts once all are
subscribed.  The output is one line per client:

    publisher acked=A seconds=S
    sub1 slow received=R in_order=yes|no dups=D

Every wait is bounded (60 s for the whole run, times $FLOW_SCALE); exit status 0 unless a
client failed (connect refused, a timeout, a closed connection), which is
reported on stderr.  Run it with Debian's python3 ($PYTHON).
"""

import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mqttc  # noqa: E402

LIMIT = 60.0 * int(os.environ.get("FLOW_SCALE", "1"))
TOPIC = "flow/t"


class Sub(threading.Thread):
    """One subscriber; kind is slow:N, fast or stuck."""

    def __init__(self, port, name, kind, count, start):
        super().__init__(daemon=True)
        self.name_ = name
        self.kind = kind
        self.count = count
        self.start_at = start
        self.ready = threading.Event()
        self.received = 0
        self.dups = 0
        self.in_order = True
        self.error = None
        self.raw = mqttc.Raw(port, timeout=10.0)
        if kind != "fast":
            # A small receive buffer: the broker holds what is not read.
            self.raw.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                     16384)

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by main
            self.error = "%s: %r" % (self.name_, e)
            self.ready.set()

    def _run(self):
        raw = self.raw
        raw.connect(client_id="flow-" + self.name_, version=5)
        raw.send(mqttc.subscribe(1, TOPIC, qos=1))
        pkt = raw.recv_packet()
        if pkt is None or pkt[0] != mqttc.SUBACK:
            raise AssertionError("no SUBACK")
        self.ready.set()
        if self.kind == "stuck":
            return
        batch = int(self.kind.split(":")[1]) if ":" in self.kind else 0
        seen = set()
        last = -1
        deadline = self.start_at + LIMIT
        while len(seen) < self.count:
            pkt = raw.recv_packet(max(deadline - time.monotonic(), 0.001))
            if pkt is None:
                raise AssertionError("connection closed after %d"
                                     % self.received)
            ptype, flags, body = pkt
            if ptype != mqttc.PUBLISH:
                continue
            tlen = struct.unpack(">H", body[:2])[0]
            off = 2 + tlen
            qos = (flags >> 1) & 3
            pid = None
            if qos:
                pid = struct.unpack(">H", body[off:off + 2])[0]
                off += 2
            plen, off = mqttc._varint_at(body, off)
            off += plen
            seq = struct.unpack(">I", body[off:off + 4])[0]
            if pid is not None:
                raw.send(mqttc.ack(mqttc.PUBACK, pid))
            self.received += 1
            if seq in seen:
                self.dups += 1
                continue
            seen.add(seq)
            if seq < last:
                self.in_order = False
            last = seq
            if batch and self.received % batch == 0:
                time.sleep(0.005)

    def report(self):
        if self.kind == "stuck":
            return "%s stuck" % self.name_
        return "%s %s received=%d in_order=%s dups=%d" % (
            self.name_, self.kind, self.received - self.dups,
            "yes" if self.in_order else "no", self.dups)


def publish(port, count, size, start):
    """Send count numbered QoS 1 messages; return (acked, seconds)."""
    raw = mqttc.Raw(port, timeout=10.0)
    raw.connect(client_id="flow-pub", version=5)
    pad = b"x" * max(size - 4, 0)
    sent = acked = 0
    inflight = set()
    deadline = start + LIMIT
    t0 = time.monotonic()
    while acked < count:
        while sent < count and len(inflight) < 64:
            pid = sent % 65535 + 1
            raw.sock.settimeout(max(deadline - time.monotonic(), 0.001))
            raw.send(mqttc.publish(TOPIC, struct.pack(">I", sent) + pad,
                                   qos=1, pid=pid))
            inflight.add(pid)
            sent += 1
        pkt = raw.recv_packet(max(deadline - time.monotonic(), 0.001))
        if pkt is None:
            raise AssertionError("publisher: connection closed")
        if pkt[0] == mqttc.PUBACK:
            pid = struct.unpack(">H", pkt[2][:2])[0]
            rc = pkt[2][2] if len(pkt[2]) > 2 else 0
            if rc >= 0x80:
                raise AssertionError("publisher: PUBACK rc 0x%02x" % rc)
            if pid in inflight:
                inflight.discard(pid)
                acked += 1
    secs = time.monotonic() - t0
    raw.close()
    return acked, secs


def main(argv):
    if len(argv) < 5:
        sys.stderr.write(__doc__)
        return 2
    port, count, size = argv[1], int(argv[2]), int(argv[3])
    start = time.monotonic()
    subs = [Sub(port, "sub%d" % (i + 1), k, count, start)
            for i, k in enumerate(argv[4:])]
    for s in subs:
        s.start()
    for s in subs:
        s.ready.wait(10)
    failed = [s.error for s in subs if s.error]
    if failed:
        sys.stderr.write("\n".join(failed) + "\n")
        return 1
    status = 0
    try:
        acked, secs = publish(port, count, size, start)
        print("publisher acked=%d seconds=%.1f" % (acked, secs))
    except Exception as e:
        sys.stderr.write("publisher: %r\n" % (e,))
        status = 1
    for s in subs:
        if s.kind != "stuck":
            s.join(max(start + LIMIT - time.monotonic(), 0.001))
        print(s.report())
        if s.error:
            sys.stderr.write(s.error + "\n")
            status = 1
        s.raw.close()
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
