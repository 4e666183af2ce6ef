#!/bin/sh

test_description='QoS 0, 1 and 2: delivery, acknowledgement flows, in-flight window

Publish QoS x subscription QoS delivers at the lower of the two (MQTT
3.3.5, 3.8.4), for MQTT 3.1.1 and 5.0 with paho-mqtt; the QoS 1 and 2
flows complete (4.3); a QoS 2 PUBLISH resent with DUP before its PUBREL
is delivered once (4.3.3); PUBREL for an unknown packet id (3.7.2.1); the
Receive Maximum send window (3.3.4, 4.9); mqtt.upgrade_qos and
mqtt.max_inflight.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# pubsub_py: run the Python program on stdin with t/helper/pubsub.py.
pubsub_py () {
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
		PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
		"$PYTHON" - "$@"
}

test_expect_success 'start the broker' '
	start_broker
'

for v in 4 5
do
	test_expect_success "v$v: publish QoS x subscription QoS delivers at the lower (paho)" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		subs = [Paho("qm-sub%d-v%d" % (q, v), version=v) for q in range(3)]
		for q, s in enumerate(subs):
		    rcs = s.subscribe("qm/v%d/#" % v, qos=q)
		    check(rcs == [q], "SUBACK grants the QoS asked for", rcs)
		pub = Paho("qm-pub-v%d" % v, version=v)
		for pq in range(3):
		    # wait_for_publish: the PUBACK (1) or PUBREC/PUBREL/PUBCOMP (2)
		    pub.publish("qm/v%d/p%d" % (v, pq), "p%d" % pq, qos=pq)
		for sq, s in enumerate(subs):
		    got = {m.payload.decode(): m.qos for m in s.messages(3)}
		    want = {"p%d" % pq: min(pq, sq) for pq in range(3)}
		    check(got == want, "sub qos %d: delivered qos" % sq, got, want)
		time.sleep(0.3)
		for s in subs:
		    s.expect_nothing(0)
		    s.disconnect()
		pub.disconnect()
		EOF
	'

	test_expect_success "v$v: QoS 2 to a QoS 2 subscriber: PUBREC, PUBREL, PUBCOMP on the wire" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		sub = Raw("q2w-sub-v%d" % v, version=v)
		check(sub.subscribe("q2w/t", qos=2) == [2], "granted qos 2")
		pub = Raw("q2w-pub-v%d" % v, version=v)
		rec = pub.publish("q2w/t", "two", qos=2, pid=300)
		check(rec.rc == 0, "PUBREC rc success", rec)
		p = sub.expect(PUBLISH)
		check(p.qos == 2 and not p.dup and p.payload == b"two" and p.pid,
		      "a QoS 2 PUBLISH with a packet id, DUP 0", p)
		sub.send(ack_packet(PUBREC, p.pid, version=v))
		rel = sub.expect(PUBREL)
		check(rel.pid == p.pid and rel.flags == 2, "PUBREL, flags 0010", rel)
		sub.send(ack_packet(PUBCOMP, p.pid, version=v))
		sub.expect_nothing(0.5)
		check(sub.is_open(), "the subscriber is still connected")
		sub.disconnect()
		pub.disconnect()
		EOF
	'

	test_expect_success "v$v: a QoS 2 PUBLISH resent with DUP before PUBREL is delivered once" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		sub = Raw("dup-sub-v%d" % v, version=v, autoack=True)
		sub.subscribe("dup/t", qos=2)
		pub = Raw("dup-pub-v%d" % v, version=v)
		pub.send(publish_packet("dup/t", "once", qos=2, pid=7, version=v))
		check(pub.expect(PUBREC).pid == 7, "PUBREC 7")
		pub.send(publish_packet("dup/t", "once", qos=2, pid=7, dup=True,
		                        version=v))
		rec = pub.expect(PUBREC)
		check(rec.pid == 7 and rec.rc < 0x80, "PUBREC 7 again, success",
		      rec)
		pub.send(ack_packet(PUBREL, 7, version=v))
		comp = pub.expect(PUBCOMP)
		check(comp.pid == 7 and comp.rc == 0, "PUBCOMP 7 rc 0", comp)
		got = sub.payloads(1)
		check(got == ["once"], "delivered", got)
		sub.expect_nothing(0.5)
		# Packet id 7 is free again: a new message.
		pub.publish("dup/t", "again", qos=2, pid=7)
		got = sub.payloads(1)
		check(got == ["again"], "pid 7 reused after PUBCOMP", got)
		sub.expect_nothing(0.5)
		sub.disconnect()
		pub.disconnect()
		EOF
	'
done

test_expect_success 'v5: PUBREL for an unknown packet id gets PUBCOMP 0x92' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("pubrel-unknown")
	c.send(ack_packet(PUBREL, 4242))
	comp = c.expect(PUBCOMP)
	check(comp.pid == 4242 and comp.rc == 0x92,
	      "PUBCOMP 4242 Packet Identifier not found", comp)
	check(c.is_open(), "the connection stays open")
	c.disconnect()
	EOF
'

test_expect_success 'v3.1.1: PUBREL for an unknown packet id gets PUBCOMP' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("pubrel-unknown-v4", version=4)
	c.send(ack_packet(PUBREL, 4243, version=4))
	comp = c.expect(PUBCOMP)
	check(comp.pid == 4243 and comp.body == b"\x10\x93",
	      "PUBCOMP 4243, two bytes", comp)
	check(c.is_open(), "the connection stays open")
	c.disconnect()
	EOF
'

test_expect_success 'v5: PUBACK and PUBREC say 0x10 when nobody subscribed' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("nomatch")
	a = c.publish("nomatch/nobody/here", "x", qos=1)
	check(a.rc == 0x10, "PUBACK No matching subscribers", a)
	r = c.publish("nomatch/nobody/here", "x", qos=2)
	check(r.rc == 0x10, "PUBREC No matching subscribers", r)
	c.subscribe("nomatch/#")
	a = c.publish("nomatch/nobody/here", "x", qos=1)
	check(a.rc == 0x00, "PUBACK success with a subscriber", a)
	c.disconnect()
	EOF
'

test_expect_success 'overlapping subscriptions: a copy at the highest of their QoS' '
	pubsub_py <<-\EOF
	from pubsub import *
	for v in (4, 5):
	    c = Raw("ov-v%d" % v, version=v, autoack=True)
	    check(c.subscribe("ov/+", qos=0) == [0], "ov/+")
	    check(c.subscribe("ov/#", qos=2) == [2], "ov/#")
	    check(c.subscribe("+/a", qos=1) == [1], "+/a")
	    pub = Raw("ov-pub-v%d" % v, version=v)
	    pub.publish("ov/a", "x", qos=2)
	    got = c.messages(1) + c.drain(0.3)
	    check(max(p.qos for p in got) == 2, "one copy at QoS 2", got)
	    c.disconnect()
	    pub.disconnect()
	EOF
'

test_expect_success 'v5: more QoS 2 awaiting PUBREL than the Receive Maximum in CONNACK: 0x93' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("rmax")
	rm = c.connack.props.get("receive_max", 65535)
	check(rm == 100, "CONNACK Receive Maximum (mqtt.max_awaiting_rel)", rm)
	for pid in range(1, rm + 1):
	    c.send(publish_packet("rmax/t", "x", qos=2, pid=pid))
	for pid in range(1, rm + 1):
	    r = c.expect(PUBREC)
	    check(r.pid == pid, "PUBREC %d" % pid, r)
	c.send(publish_packet("rmax/t", "x", qos=2, pid=rm + 1))
	c.expect_disconnect(0x93)
	EOF
'

test_expect_success 'v5: Receive Maximum 2: two unacknowledged PUBLISH, then one per PUBACK' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("win-sub", props={"receive_max": 2})
	sub.subscribe("win/t", qos=1)
	pub = Raw("win-pub")
	for i in range(6):
	    pub.publish("win/t", "m%d" % i, qos=1)
	got = sub.messages(2, ack=False)
	check([p.payload for p in got] == [b"m0", b"m1"], "m0, m1", got)
	sub.expect_nothing(0.7)
	sub.ack(got[0])
	m = sub.messages(1, ack=False)
	check(m[0].payload == b"m2", "m2 after one PUBACK", m)
	sub.expect_nothing(0.5)
	sub.ack(got[1])
	sub.ack(m[0])
	more = sub.messages(2, ack=False)
	check([p.payload for p in more] == [b"m3", b"m4"], "m3, m4", more)
	sub.expect_nothing(0.5)
	for p in more:
	    sub.ack(p)
	last = sub.messages(1)
	check(last[0].payload == b"m5", "m5", last)
	sub.expect_nothing(0.3)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'v5: the window counts QoS 2 until PUBCOMP' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("win2-sub", props={"receive_max": 1})
	sub.subscribe("win2/t", qos=2)
	pub = Raw("win2-pub")
	pub.publish("win2/t", "a", qos=2)
	pub.publish("win2/t", "b", qos=2)
	p = sub.expect(PUBLISH)
	check(p.payload == b"a", "a first", p)
	sub.send(ack_packet(PUBREC, p.pid))
	rel = sub.expect(PUBREL)
	sub.expect_nothing(0.7)
	sub.send(ack_packet(PUBCOMP, p.pid))
	p2 = sub.expect(PUBLISH)
	check(p2.payload == b"b", "b after PUBCOMP", p2)
	sub.ack(p2)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'restart with mqtt.upgrade_qos and mqtt.max_inflight 3' '
	broker_config <<-\EOF &&
	mqtt:
	  upgrade_qos: true
	  max_inflight: 3
	EOF
	restart_broker
'

for v in 4 5
do
	test_expect_success "v$v: mqtt.upgrade_qos delivers at the subscription QoS" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		subs = [Paho("up-sub%d-v%d" % (q, v), version=v) for q in range(3)]
		for q, s in enumerate(subs):
		    s.subscribe("up/v%d/#" % v, qos=q)
		pub = Paho("up-pub-v%d" % v, version=v)
		for pq in range(3):
		    pub.publish("up/v%d/p%d" % (v, pq), "p%d" % pq, qos=pq)
		for sq, s in enumerate(subs):
		    got = {m.payload.decode(): m.qos for m in s.messages(3)}
		    want = {"p%d" % pq: sq for pq in range(3)}
		    check(got == want, "sub qos %d: delivered qos" % sq, got, want)
		    s.disconnect()
		pub.disconnect()
		EOF
	'

	test_expect_success "v$v: mqtt.max_inflight 3 bounds the unacknowledged messages" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		sub = Raw("mi-sub-v%d" % v, version=v)
		sub.subscribe("mi/t", qos=1)
		pub = Raw("mi-pub-v%d" % v, version=v)
		for i in range(5):
		    pub.publish("mi/t", "m%d" % i, qos=1)
		got = sub.messages(3, ack=False)
		check([p.payload for p in got] == [b"m0", b"m1", b"m2"],
		      "three in flight", got)
		sub.expect_nothing(0.5)
		for p in got:
		    sub.ack(p)
		rest = sub.messages(2)
		check([p.payload for p in rest] == [b"m3", b"m4"], "the rest", rest)
		sub.disconnect()
		pub.disconnect()
		EOF
	'
done

test_expect_success 'mqtt.upgrade_qos applies to retained messages too' '
	pubsub_py <<-\EOF
	from pubsub import *
	pub = Raw("upr-pub")
	pub.publish("upr/t", "r", qos=0, retain=True)
	for q in (1, 2):
	    s = Raw("upr-sub%d" % q, autoack=True)
	    s.subscribe("upr/t", qos=q)
	    p = s.messages(1)[0]
	    check(p.retain and p.qos == q, "retained, upgraded to QoS %d" % q, p)
	    s.disconnect()
	pub.publish("upr/t", "", qos=0, retain=True)
	pub.disconnect()
	EOF
'

test_expect_success 'restart with mqtt.retry_interval 500ms' '
	broker_config <<-\EOF &&
	mqtt:
	  upgrade_qos: false
	  max_inflight: 32
	  retry_interval: 500ms
	EOF
	restart_broker
'

test_expect_success 'v3.1.1: mqtt.retry_interval resends an unacknowledged QoS 1 PUBLISH with DUP' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("retry-v4", version=4)
	sub.subscribe("retry/v4", qos=1)
	pub = Raw("retry-v4-pub", version=4)
	pub.publish("retry/v4", "again", qos=1)
	p = sub.expect(PUBLISH)
	check(not p.dup, "first send: DUP 0", p)
	r = sub.expect(PUBLISH, timeout=1.5)
	check(r.dup and r.pid == p.pid and r.payload == b"again",
	      "resent with DUP 1 and the same packet id", r)
	sub.ack(r)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'v5: no resend on a live connection (MQTT-4.4.0-1)' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("retry-v5")
	sub.subscribe("retry/v5", qos=1)
	pub = Raw("retry-v5-pub")
	pub.publish("retry/v5", "once", qos=1)
	p = sub.expect(PUBLISH)
	sub.expect_nothing(1.2)
	sub.ack(p)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
