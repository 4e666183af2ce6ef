#!/bin/sh

test_description='sessions: takeover by a second connection with the same id

A CONNECT with a client id that is connected already takes the session
over: the old MQTT 5 connection gets DISCONNECT 0x8E (Session taken
over), an old 3.1.1 one is closed (MQTT-3.1.4-3), and the new one resumes
the session (Session Present 1 with Clean Start 0) with its subscriptions,
in-flight and queued messages.  Sessions live on the worker their id
hashes to; ten ids cover both workers.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# sessions_py: run the Python program on stdin with t/helper/sessions.py.
sessions_py () {
	MQTT_PORT=$FLOCKMQ_PORT BROKER_LOG=$BROKER_LOG \
	PYTHONPATH=$TEST_DIRECTORY/helper "$PYTHON" - "$@"
}

test_expect_success 'start the broker with two workers' '
	broker_config <<-\EOF &&
	mqtt:
	  workers: 2
	EOF
	start_broker &&
	broker_log_grep "flockmq is ready.*2 workers"
'

test_expect_success 'v5: the old connection gets DISCONNECT 0x8E, the new one resumes' '
	sessions_py <<-\EOF
	from sessions import *
	old = raw("tk-v5", clean=True, props={"session_expiry": 60})
	old.subscribe("tk/v5", qos=1)
	new = raw("tk-v5", clean=False, props={"session_expiry": 60})
	check(new.connack.session_present == 1, "Session Present 1")
	d = old.expect_disconnect(0x8E)
	pub = raw("tk-v5-pub")
	pub.publish("tk/v5", "to the new one", qos=1)
	got = new.payloads(1)
	check(got == ["to the new one"], "the subscription moved", got)
	new.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'the takeover is logged with the client id and both addresses' '
	sessions_py <<-\EOF &&
	from sessions import *
	old = raw("tk-log", clean=True)
	new = raw("tk-log", clean=True)
	old.expect_disconnect(0x8E)
	with open("ports", "w") as f:
	    print(old.sock.getsockname()[1], new.sock.getsockname()[1], file=f)
	new.disconnect()
	EOF
	read old new <ports &&
	broker_log_grep "client .tk-log. 127.0.0.1:$new takes over the session from 127.0.0.1:$old"
'

test_expect_success '3.1.1: the old connection is closed, the new one resumes' '
	sessions_py <<-\EOF
	from sessions import *
	old = raw("tk-v3", version=4, clean=False)
	old.subscribe("tk/v3", qos=1)
	new = raw("tk-v3", version=4, clean=False)
	check(new.connack.session_present == 1, "Session Present 1")
	got = old.expect_closed()
	check(got == [], "closed without a packet", got)
	pub = raw("tk-v3-pub", version=4)
	pub.publish("tk/v3", "hello", qos=1)
	check(new.payloads(1) == ["hello"], "the subscription moved")
	new.disconnect()
	new = raw("tk-v3", version=4, clean=True)
	new.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'takeover across protocol versions (3.1.1 by 5, 5 by 3.1.1)' '
	sessions_py <<-\EOF
	from sessions import *
	old = raw("tk-mix", version=4, clean=False)
	old.subscribe("tk/mix", qos=1)
	new = raw("tk-mix", version=5, clean=False,
	          props={"session_expiry": 60})
	check(new.connack.session_present == 1, "5 resumes a 3.1.1 session")
	check(old.expect_closed() == [], "old 3.1.1 closed without a packet")
	newer = raw("tk-mix", version=4, clean=False)
	check(newer.connack.session_present == 1, "3.1.1 resumes a 5 session")
	new.expect_disconnect(0x8E)
	pub = raw("tk-mix-pub")
	pub.publish("tk/mix", "still subscribed", qos=1)
	check(newer.payloads(1) == ["still subscribed"], "subscription kept")
	newer.disconnect()
	newer = raw("tk-mix", version=4, clean=True)
	newer.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'takeover with clean start 1 starts a new session' '
	sessions_py <<-\EOF
	from sessions import *
	old = raw("tk-clean", clean=True, props={"session_expiry": 60})
	old.subscribe("tk/clean", qos=1)
	new = raw("tk-clean", clean=True, props={"session_expiry": 60})
	check(new.connack.session_present == 0, "Session Present 0")
	old.expect_disconnect(0x8E)
	pub = raw("tk-clean-pub")
	pub.publish("tk/clean", "nobody", qos=1)
	new.expect_nothing(1)
	new.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'in-flight and queued messages continue on the new connection' '
	sessions_py <<-\EOF
	from sessions import *
	old = raw("tk-flight", clean=True, props={"session_expiry": 60})
	old.subscribe("tk/flight", qos=2)
	pub = raw("tk-flight-pub")
	for i in range(3):
	    pub.publish("tk/flight", "m%d" % i, qos=1 + i % 2)
	first = old.messages(3, ack=False)
	new = raw("tk-flight", clean=False, props={"session_expiry": 60})
	check(new.connack.session_present == 1, "Session Present 1")
	old.expect_disconnect(0x8E)
	for i in range(3, 5):
	    pub.publish("tk/flight", "m%d" % i, qos=1)
	got = new.messages(5)
	check([p.payload.decode() for p in got] == ["m%d" % i for i in range(5)],
	      "all five, in order", got)
	check([p.pid for p in got[:3]] == [p.pid for p in first],
	      "in-flight resent with their ids", got)
	check([p.dup for p in got] == [1, 1, 1, 0, 0], "DUP on the resent ones")
	new.expect_nothing(0.5)
	new.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'takeover works for sessions on both workers (10 ids)' '
	sessions_py <<-\EOF
	from sessions import *
	ids = ["tk-w-%d" % i for i in range(10)]
	homes = [home_worker(i, 2) for i in ids]
	check(set(homes) == {0, 1}, "the ids cover both workers", homes)
	pub = raw("tk-w-pub")
	for n, cid in enumerate(ids):
	    v_old = 5 if n % 2 == 0 else 4
	    props = {"session_expiry": 60}
	    old = raw(cid, version=v_old, clean=v_old == 5,
	              props=props if v_old == 5 else None)
	    old.subscribe("tk/w/%d" % n, qos=1)
	    pub.publish("tk/w/%d" % n, "queued %d" % n, qos=1)
	    first = old.messages(1, ack=False)
	    new = raw(cid, clean=False, props=props)
	    check(new.connack.session_present == 1,
	          "%s (worker %d): Session Present 1" % (cid, homes[n]))
	    if v_old == 5:
	        old.expect_disconnect(0x8E)
	    else:
	        check(old.expect_closed() == [], "%s: old 3.1.1 closed" % cid)
	    got = new.messages(1)
	    check(got[0].payload == first[0].payload and got[0].dup == 1,
	          "%s: the unacked message resent" % cid, got)
	    pub.publish("tk/w/%d" % n, "live %d" % n, qos=1)
	    got = new.payloads(1)
	    check(got == ["live %d" % n], "%s: subscription kept" % cid, got)
	    # A third connection takes it over again.
	    third = raw(cid, clean=False, props=props)
	    check(third.connack.session_present == 1, "%s: again" % cid)
	    new.expect_disconnect(0x8E)
	    third.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'packets sent right behind CONNECT survive the hand-off to the home worker' '
	sessions_py <<-\EOF
	from sessions import *
	ids = ["tk-pipe-%d" % i for i in range(10)]
	check({home_worker(i, 2) for i in ids} == {0, 1}, "both workers")
	for v in (4, 5):
	    for cid in ids:
	        c = Raw(cid, v)
	        c.send(connect_packet(cid, v) +
	               subscribe_packet(1, [("tk/pipe/" + cid, 1)], v) +
	               publish_packet("tk/pipe/" + cid, "self", qos=1, pid=2,
	                              version=v) + PINGREQ_PACKET)
	        got = []
	        while len(got) < 5:
	            p = c.recv(3)
	            check(p is not None, "v%d %s: all answers" % (v, cid), got)
	            got.append(p)
	        types = [p.type for p in got]
	        check(types[:2] == [CONNACK, SUBACK] and
	              sorted(types[2:]) == sorted([PUBACK, PUBLISH, PINGRESP]),
	              "v%d %s: CONNACK, SUBACK, then PUBACK, message, PINGRESP"
	              % (v, cid), got)
	        c.ack([p for p in got if p.type == PUBLISH][0])
	        c.disconnect()
	EOF
'

test_expect_success 'many takeovers at once leave one working connection' '
	sessions_py <<-\EOF
	from sessions import *
	conns = []
	for i in range(20):
	    c = Raw("tk-storm", version=5 if i % 3 else 4, name="storm%d" % i)
	    c.send(connect_packet("tk-storm", c.version, clean=False,
	           props={"session_expiry": 60} if c.version == 5 else None))
	    conns.append(c)
	# Separate sockets: the broker may take them in any order, but each
	# gets its CONNACK, and then all but one are taken over.
	for c in conns:
	    c.expect(CONNACK)
	time.sleep(0.5)
	alive = [c for c in conns if c.is_open()]
	check(len(alive) == 1, "one connection left", [c.name for c in alive])
	last = alive[0]
	for c in conns:
	    if c is not last:
	        got = c.expect_closed(1)
	        check(all(p.type == DISCONNECT and p.rc == 0x8E for p in got)
	              and len(got) == (1 if c.version == 5 else 0),
	              "%s: taken over" % c.name, got)
	last.subscribe("tk/storm", qos=1)
	pub = raw("tk-storm-pub")
	pub.publish("tk/storm", "survived", qos=1)
	check(last.payloads(1) == ["survived"], "the last one works")
	last.disconnect()
	last = raw("tk-storm", clean=True)
	last.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
