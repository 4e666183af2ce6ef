#!/bin/sh

test_description='sessions: redelivery of unacknowledged messages

On a reconnect with Clean Start 0 the server resends unacknowledged
PUBLISH packets with DUP 1 and their original packet identifiers, and
PUBREL for QoS 2 messages already PUBREC-ed (MQTT-4.4.0-1, MQTT-3.3.1-1;
3.1.1 and 5).  A QoS 2 message the broker received once is delivered once
even when its publisher resends it after a reconnect (4.3.3).  Raw sockets,
to see every bit.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# sessions_py: run the Python program on stdin with t/helper/sessions.py.
sessions_py () {
	MQTT_PORT=$FLOCKMQ_PORT BROKER_LOG=$BROKER_LOG \
	PYTHONPATH=$TEST_DIRECTORY/helper "$PYTHON" - "$@"
}

test_expect_success 'start the broker' '
	start_broker
'

test_expect_success 'unacknowledged QoS 1 and 2 are resent with DUP 1 and the same ids' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    props = {"session_expiry": 60} if v == 5 else None
	    sub = raw("r-dup", version=v, clean=True, props=props)
	    if v == 4:
	        sub.close()
	        sub = raw("r-dup", version=v, clean=False)
	    sub.subscribe("r/dup", qos=2)
	    pub = raw("r-dup-pub", version=v)
	    for i in range(4):
	        pub.publish("r/dup", "v%d-%d" % (v, i), qos=1 + i % 2)
	    first = sub.messages(4, ack=False)
	    check([p.dup for p in first] == [0] * 4, "v%d: DUP 0 at first" % v)
	    check([p.qos for p in first] == [1, 2, 1, 2], "v%d: QoS 1, 2" % v)
	    sub.close()
	    sub = Raw("r-dup", version=v)
	    sub.connect(clean=False, props=props)
	    check(sub.connack.session_present == 1, "v%d: Session Present" % v)
	    again = sub.messages(4, ack=False)
	    check([p.payload for p in again] == [p.payload for p in first],
	          "v%d: the same messages, in order" % v, again)
	    check([p.pid for p in again] == [p.pid for p in first],
	          "v%d: the same packet ids" % v, first, again)
	    check([p.dup for p in again] == [1] * 4, "v%d: DUP 1" % v, again)
	    check([p.qos for p in again] == [1, 2, 1, 2], "v%d: same QoS" % v)
	    for p in again:
	        sub.ack(p)
	    sub.expect_nothing(0.5)
	    sub.close()
	    sub = raw("r-dup", version=v, clean=False, props=props)
	    sub.expect_nothing(1)
	    sub.disconnect(**({"props": {"session_expiry": 0}} if v == 5 else {}))
	    pub.disconnect()
	EOF
'

test_expect_success 'redelivered messages come before those queued while offline' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    props = {"session_expiry": 60} if v == 5 else None
	    sub = raw("r-order", version=v, clean=False, props=props)
	    sub.subscribe("r/order", qos=1)
	    pub = raw("r-order-pub", version=v)
	    for i in range(3):
	        pub.publish("r/order", "in%d" % i, qos=1)
	    first = sub.messages(3, ack=False)
	    # DISCONNECT and wait for the close: a message published before
	    # the broker saw a plain close could still go out on the old
	    # connection (and come back with DUP 1).
	    sub.disconnect()
	    for i in range(2):
	        pub.publish("r/order", "q%d" % i, qos=1)
	    sub = raw("r-order", version=v, clean=False, props=props)
	    got = sub.messages(5, ack=False)
	    check([p.payload.decode() for p in got] ==
	          ["in0", "in1", "in2", "q0", "q1"], "v%d: order" % v, got)
	    check([p.dup for p in got] == [1, 1, 1, 0, 0],
	          "v%d: DUP only on the resent ones" % v, got)
	    ids = [p.pid for p in got]
	    check(ids[:3] == [p.pid for p in first] and len(set(ids)) == 5,
	          "v%d: original ids, fresh ids for new messages" % v, ids)
	    for p in got:
	        sub.ack(p)
	    sub.expect_nothing(0.5)
	    sub.disconnect()
	    sub = raw("r-order", version=v, clean=True)
	    sub.disconnect()
	    pub.disconnect()
	EOF
'

test_expect_success 'QoS 2 PUBREC-ed before the disconnect: PUBREL is resent, not PUBLISH' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    props = {"session_expiry": 60} if v == 5 else None
	    sub = raw("r-rel", version=v, clean=False, props=props)
	    sub.subscribe("r/rel", qos=2)
	    pub = raw("r-rel-pub", version=v)
	    pub.publish("r/rel", "once", qos=2)
	    p = sub.messages(1, ack=False)[0]
	    sub.send(ack_packet(PUBREC, p.pid, version=v))
	    rel = sub.expect(PUBREL)
	    check(rel.pid == p.pid, "v%d: PUBREL for the message" % v)
	    sub.close()
	    sub = raw("r-rel", version=v, clean=False, props=props)
	    check(sub.connack.session_present == 1, "v%d: Session Present" % v)
	    rel = sub.recv(3)
	    check(rel is not None and rel.type == PUBREL and rel.pid == p.pid,
	          "v%d: PUBREL resent with the same id" % v, rel)
	    check(rel.flags == 2, "v%d: PUBREL flags 0010" % v, rel.flags)
	    sub.send(ack_packet(PUBCOMP, p.pid, version=v))
	    sub.expect_nothing(1)
	    sub.close()
	    sub = raw("r-rel", version=v, clean=False, props=props)
	    sub.expect_nothing(1)
	    sub.disconnect()
	    sub = raw("r-rel", version=v, clean=True)
	    sub.disconnect()
	    pub.disconnect()
	EOF
'

test_expect_success 'QoS 2 from a publisher that resends after a reconnect arrives once' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    props = {"session_expiry": 60} if v == 5 else None
	    sub = raw("r-eo-sub", version=v)
	    sub.subscribe("r/eo", qos=2)
	    pub = raw("r-eo-pub", version=v, clean=False, props=props)
	    pub.send(publish_packet("r/eo", "exactly once", qos=2, pid=7,
	                            version=v))
	    rec = pub.expect(PUBREC)
	    check(rec.pid == 7, "v%d: PUBREC 7" % v)
	    pub.close()
	    pub = raw("r-eo-pub", version=v, clean=False, props=props)
	    check(pub.connack.session_present == 1, "v%d: Session Present" % v)
	    pub.send(publish_packet("r/eo", "exactly once", qos=2, pid=7,
	                            dup=True, version=v))
	    rec = pub.expect(PUBREC)
	    check(rec.pid == 7 and (rec.rc or 0) < 0x80,
	          "v%d: PUBREC 7 for the resent PUBLISH" % v, rec)
	    pub.send(ack_packet(PUBREL, 7, version=v))
	    comp = pub.expect(PUBCOMP)
	    check(comp.pid == 7 and (comp.rc or 0) == 0,
	          "v%d: PUBCOMP 7, success" % v, comp)
	    got = sub.messages(1)
	    check(got[0].payload == b"exactly once", "v%d: delivered" % v)
	    sub.expect_nothing(1)
	    pub.disconnect()
	    sub.disconnect()
	    pub = raw("r-eo-pub", version=v, clean=True)
	    pub.disconnect()
	EOF
'

test_expect_success 'QoS 2 publisher that only resends PUBREL after a reconnect' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    props = {"session_expiry": 60} if v == 5 else None
	    sub = raw("r-rel2-sub", version=v)
	    sub.subscribe("r/rel2", qos=2)
	    pub = raw("r-rel2-pub", version=v, clean=False, props=props)
	    pub.send(publish_packet("r/rel2", "rel only", qos=2, pid=9,
	                            version=v))
	    pub.expect(PUBREC)
	    pub.close()
	    pub = raw("r-rel2-pub", version=v, clean=False, props=props)
	    pub.send(ack_packet(PUBREL, 9, version=v))
	    comp = pub.expect(PUBCOMP)
	    check(comp.pid == 9 and (comp.rc or 0) == 0,
	          "v%d: PUBCOMP 9 success: the receipt survived" % v, comp)
	    got = sub.messages(1)
	    check(got[0].payload == b"rel only", "v%d: delivered once" % v)
	    sub.expect_nothing(1)
	    pub.disconnect()
	    sub.disconnect()
	    pub = raw("r-rel2-pub", version=v, clean=True)
	    pub.disconnect()
	EOF
'

test_expect_success 'the packet id of a released QoS 2 message can be reused' '
	sessions_py <<-\EOF
	from sessions import *
	sub = raw("r-reuse-sub")
	sub.subscribe("r/reuse", qos=2)
	pub = raw("r-reuse-pub")
	for text in ("first", "second"):
	    pub.publish("r/reuse", text, qos=2, pid=11)
	    got = sub.messages(1)
	    check(got[0].payload.decode() == text, "%s delivered" % text)
	sub.expect_nothing(0.5)
	pub.disconnect()
	sub.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
