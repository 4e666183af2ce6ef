#!/bin/sh

test_description='limits: awaiting PUBREL, in-flight window, packet size

mqtt.max_awaiting_rel is the Receive Maximum announced to MQTT 5 clients;
one QoS 2 PUBLISH too many is DISCONNECT 0x93 (3.3.4); receipts older
than mqtt.await_rel_timeout are dropped and free their slot.
mqtt.max_inflight (and the client Receive Maximum) bound the QoS 1 and 2
messages sent and not yet acknowledged (4.9).  A message over the client
Maximum Packet Size is not sent to it (3.1.2.11.4).'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# sessions_py: run the Python program on stdin with t/helper/sessions.py.
sessions_py () {
	MQTT_PORT=$FLOCKMQ_PORT BROKER_LOG=$BROKER_LOG \
	PYTHONPATH=$TEST_DIRECTORY/helper "$PYTHON" - "$@"
}

test_expect_success 'start the broker' '
	broker_config <<-\EOF &&
	mqtt:
	  max_awaiting_rel: 3
	  await_rel_timeout: 2s
	  max_inflight: 3
	sys_topics:
	  sys_msg_interval: 1s
	EOF
	start_broker
'

test_expect_success 'CONNACK announces Receive Maximum 3 (max_awaiting_rel)' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("l-rm")
	check(c.connack.props.get("receive_max") == 3, "Receive Maximum 3",
	      c.connack)
	c.disconnect()
	EOF
'

test_expect_success 'a 4th unreleased QoS 2 PUBLISH gets DISCONNECT 0x93' '
	sessions_py <<-\EOF &&
	from sessions import *
	w = raw("l-aw-watch")
	w.subscribe("l/aw", qos=2)
	c = raw("l-aw")
	for pid in (1, 2, 3):
	    c.send(publish_packet("l/aw", "m%d" % pid, qos=2, pid=pid))
	    check(c.expect(PUBREC).pid == pid, "PUBREC %d" % pid)
	c.send(publish_packet("l/aw", "m4", qos=2, pid=4))
	c.expect_disconnect(0x93)
	got = w.payloads(3)
	check(got == ["m1", "m2", "m3"], "the first three delivered", got)
	w.expect_nothing(0.5)
	w.disconnect()
	EOF
	broker_log_grep "client .l-aw. .*disconnected: .*0x93"
'

test_expect_success 'released receipts and resends do not count against the limit' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("l-aw2")
	for pid in (1, 2, 3):
	    c.send(publish_packet("l/aw2", "m", qos=2, pid=pid))
	    c.expect(PUBREC)
	# A resend of an id awaiting PUBREL is not a new message.
	c.send(publish_packet("l/aw2", "m", qos=2, pid=2, dup=True))
	check(c.expect(PUBREC).pid == 2, "PUBREC for the resend")
	c.send(ack_packet(PUBREL, 1))
	comp = c.expect(PUBCOMP)
	check(comp.pid == 1 and comp.rc == 0, "PUBCOMP 1", comp)
	c.send(publish_packet("l/aw2", "m", qos=2, pid=4))
	check(c.expect(PUBREC).pid == 4, "a 4th after one was released")
	check(c.is_open(), "still connected")
	for pid in (2, 3, 4):
	    c.send(ack_packet(PUBREL, pid))
	    check(c.expect(PUBCOMP).pid == pid, "PUBCOMP %d" % pid)
	c.disconnect()
	EOF
'

test_expect_success 'await_rel_timeout: old receipts are dropped and free their slots' '
	sessions_py <<-\EOF
	from sessions import *
	before = sys_metric("metrics/messages/dropped/await_pubrel_timeout")
	c = raw("l-awt")
	for pid in (1, 2, 3):
	    c.send(publish_packet("l/awt", "m", qos=2, pid=pid))
	    c.expect(PUBREC)
	time.sleep(2.5)
	for pid in (4, 5, 6):
	    c.send(publish_packet("l/awt", "m", qos=2, pid=pid))
	    check(c.expect(PUBREC).pid == pid, "PUBREC %d after the timeout" % pid)
	check(c.is_open(), "still connected")
	c.send(ack_packet(PUBREL, 1))
	comp = c.expect(PUBCOMP)
	check(comp.pid == 1 and comp.rc == 0x92,
	      "PUBREL for a dropped receipt: PUBCOMP 0x92", comp)
	c.disconnect()
	ok = wait_until(lambda: sys_metric(
	    "metrics/messages/dropped/await_pubrel_timeout") >= before + 3, 8, 0)
	check(ok, "messages/dropped/await_pubrel_timeout grew by 3")
	EOF
'

test_expect_success 'max_inflight 3: at most 3 unacknowledged deliveries' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    sub = raw("l-if", version=v)
	    sub.subscribe("l/if", qos=2)
	    pub = raw("l-if-pub", version=v)
	    for i in range(10):
	        pub.publish("l/if", "m%d" % i, qos=1 + i % 2)
	    first = sub.messages(3, ack=False)
	    check([p.payload for p in first] == [b"m0", b"m1", b"m2"],
	          "v%d: the first 3" % v, first)
	    sub.expect_nothing(1)
	    got = [p.payload.decode() for p in first]
	    pending = list(first)
	    while len(got) < 10:
	        p = pending.pop(0)
	        sub.ack(p)
	        more = sub.messages(1, ack=False)
	        got.append(more[0].payload.decode())
	        pending += more
	        sub.expect_nothing(0.2)
	    check(got == ["m%d" % i for i in range(10)],
	          "v%d: one more per ack, in order" % v, got)
	    for p in pending:
	        sub.ack(p)
	    sub.expect_nothing(0.5)
	    sub.disconnect()
	    pub.disconnect()
	EOF
'

test_expect_success 'QoS 2 holds its in-flight slot until PUBCOMP' '
	sessions_py <<-\EOF
	from sessions import *
	sub = raw("l-if2")
	sub.subscribe("l/if2", qos=2)
	pub = raw("l-if2-pub")
	for i in range(4):
	    pub.publish("l/if2", "m%d" % i, qos=2)
	first = sub.messages(3, ack=False)
	for p in first:
	    sub.send(ack_packet(PUBREC, p.pid))
	    check(sub.expect(PUBREL).pid == p.pid, "PUBREL %d" % p.pid)
	sub.expect_nothing(1)
	sub.send(ack_packet(PUBCOMP, first[0].pid))
	p = sub.messages(1)[0]
	check(p.payload == b"m3", "the 4th after a PUBCOMP", p)
	for q in first[1:]:
	    sub.send(ack_packet(PUBCOMP, q.pid))
	sub.expect_nothing(0.5)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'the client Receive Maximum below max_inflight wins' '
	sessions_py <<-\EOF
	from sessions import *
	sub = raw("l-rm2", props={"receive_max": 2})
	sub.subscribe("l/rm2", qos=1)
	pub = raw("l-rm2-pub")
	for i in range(5):
	    pub.publish("l/rm2", "m%d" % i, qos=1)
	first = sub.messages(2, ack=False)
	sub.expect_nothing(1)
	sub.ack(first[0])
	check(sub.payloads(1, ack=False) == ["m2"], "one more after an ack")
	sub.expect_nothing(0.5)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'the window also holds across a reconnect' '
	sessions_py <<-\EOF
	from sessions import *
	sub = raw("l-ifr", props={"session_expiry": 60})
	sub.subscribe("l/ifr", qos=1)
	pub = raw("l-ifr-pub")
	for i in range(6):
	    pub.publish("l/ifr", "m%d" % i, qos=1)
	sub.messages(3, ack=False)
	sub.close()
	sub = raw("l-ifr", clean=False, props={"session_expiry": 60})
	again = sub.messages(3, ack=False)
	check([p.payload for p in again] == [b"m0", b"m1", b"m2"] and
	      all(p.dup for p in again), "the 3 in flight resent", again)
	sub.expect_nothing(1)
	for p in again:
	    sub.ack(p)
	got = sub.payloads(3)
	check(got == ["m3", "m4", "m5"], "then the queued ones", got)
	sub.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'a message over the client Maximum Packet Size is not sent' '
	sessions_py <<-\EOF
	from sessions import *
	before = sys_metric("metrics/delivery/dropped/too_large")
	sub = raw("l-mps", props={"max_packet_size": 128})
	sub.subscribe("l/mps", qos=1)
	pub = raw("l-mps-pub")
	pub.publish("l/mps", b"x" * 200, qos=1)
	pub.publish("l/mps", b"small", qos=1)
	got = sub.payloads(1)
	check(got == ["small"], "only the small one", got)
	sub.expect_nothing(0.5)
	sub.disconnect()
	pub.disconnect()
	ok = wait_until(lambda: sys_metric(
	    "metrics/delivery/dropped/too_large") >= before + 1, 8, 0)
	check(ok, "delivery/dropped/too_large grew")
	EOF
'

test_expect_success 'a PUBLISH with a new topic alias still fits the Maximum Packet Size' '
	sessions_py <<-\EOF
	from sessions import *
	limit = 100
	sub = raw("l-mpsa", props={"max_packet_size": limit,
	                           "topic_alias_max": 5})
	sub.subscribe("l/mpsa", qos=0)
	pub = raw("l-mpsa-pub")
	# Fixed header 2, topic 2 + 6, property length 1, payload: the
	# PUBLISH without an alias is 11 + n bytes.
	sizes = [limit - 11 - k for k in range(4)]
	for n in sizes:
	    pub.publish("l/mpsa", b"x" * n)
	got = []
	while True:
	    p = sub.recv(1)
	    if p is None:
	        break
	    got.append(p)
	for p in got:
	    check(len(p.raw) <= limit, "a PUBLISH of %d bytes (limit %d)" % (
	          len(p.raw), limit), p)
	check(len(got) >= 1, "the messages that fit arrive", got)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'in-flight messages too large for the new connection are discarded' '
	sessions_py <<-\EOF
	from sessions import *
	sub = raw("l-mpsr", props={"session_expiry": 60})
	sub.subscribe("l/mpsr", qos=1)
	pub = raw("l-mpsr-pub")
	for i in range(3):
	    pub.publish("l/mpsr", b"%d" % i + b"x" * 300, qos=1)
	sub.messages(3, ack=False)
	sub.close()
	sub = raw("l-mpsr", clean=False, props={"session_expiry": 60,
	          "max_packet_size": 128})
	pub.publish("l/mpsr", b"small", qos=1)
	got = sub.payloads(1)
	check(got == ["small"], "the small message arrives", got)
	sub.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'restart with max_awaiting_rel 0' '
	broker_config <<-\EOF &&
	mqtt:
	  max_awaiting_rel: 0
	EOF
	restart_broker
'

test_expect_success 'max_awaiting_rel 0 means no limit (EMQX)' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("l-aw0")
	check("receive_max" not in c.connack.props, "no Receive Maximum",
	      c.connack)
	for pid in range(1, 21):
	    c.send(publish_packet("l/aw0", "m", qos=2, pid=pid))
	    p = c.recv(3)
	    check(p is not None and p.type == PUBREC and p.pid == pid,
	          "PUBREC %d" % pid, p)
	for pid in range(1, 21):
	    c.send(ack_packet(PUBREL, pid))
	    c.expect(PUBCOMP)
	c.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
