#!/bin/sh

test_description='malformed and forbidden packets close only their connection

Each case sends one bad packet on a raw socket, MQTT 3.1.1 and 5 where
the case exists in both.  A v5 client gets the reason code (MQTT 5 4.13:
0x81 malformed, 0x82 protocol error, 0x90 topic name invalid, 0x94 topic
alias invalid, 0x95 packet too large) in a DISCONNECT, or in a CONNACK
while its CONNECT is being processed; a 3.x client is just disconnected
(MQTT-4.8.0-1).  The broker logs a line naming the client, and a client
connected all along still publishes and receives.  Last, 2000 random and
mutated byte strings, and the broker still serves clients.'

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
	  max_packet_size: 4KB
	  max_topic_alias: 10
	  idle_timeout: 1s
	EOF
	start_broker
'

test_expect_success 'remaining length with 5 bytes (continuation bit on the 4th)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    bad_packet(b"\x30\xff\xff\xff\xff\x7f", v, 0x81)
	    bad_packet(b"\x10\xff\xff\xff\xff\x7f", v, None, connect=False)
	    survivor_check(s)
	EOF
'

test_expect_success 'v5: truncated properties' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	# Property length 10, 2 bytes of properties: the rest is payload-less.
	bad_packet(packet(0x30, utf8("t") + varint(10) + b"\x01\x01"), 5, 0x81)
	# Message Expiry (four bytes) cut to two inside a 3-byte block.
	bad_packet(packet(0x30, utf8("t") + varint(3) + b"\x02\x00\x01"), 5,
	           0x81)
	# A user property whose value runs past the block.
	bad_packet(packet(0x32, utf8("t") + u16(1) + varint(6) +
	                  b"\x26\x00\x01k\x00\x09" + b"payload"), 5, 0x81)
	# In CONNECT: the property length runs past the packet.
	body = utf8("MQTT") + bytes([5, 2]) + u16(60) + varint(20) + \
	    b"\x11\x00\x00" + utf8("bad-connect-props")
	bad_packet(packet(0x10, body), 5, 0x81, connect=False)
	survivor_check(s)
	EOF
'

test_expect_success 'v5: a duplicate property is a protocol error (0x82)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	twice = [("message_expiry", 10), ("message_expiry", 20)]
	bad_packet(publish_packet("t", "x", qos=1, pid=1, props=twice), 5, 0x82)
	bad_packet(publish_packet("t", "x", props=[("content_type", "a"),
	           ("content_type", "b")]), 5, 0x82)
	bad_packet(connect_packet("dup-connect", props=[("session_expiry", 1),
	           ("session_expiry", 2)]), 5, 0x82, connect=False)
	survivor_check(s)
	EOF
'

test_expect_success 'invalid UTF-8 in a topic name' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    for topic in (b"a/\xff", b"a/\xc0\xaf", b"\xed\xa0\x80", b"a\xe2\x82"):
	        bad_packet(publish_packet(topic, "x", version=v), v, 0x81)
	    bad_packet(subscribe_packet(1, [(b"a/\xfe", 0)], v), v, 0x81)
	    survivor_check(s)
	EOF
'

test_expect_success 'U+0000 in a topic name or filter' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    bad_packet(publish_packet(b"a\x00b", "x", version=v), v, 0x81)
	    bad_packet(publish_packet(b"a/b\x00", "x", qos=1, pid=3, version=v),
	               v, 0x81)
	    bad_packet(subscribe_packet(1, [(b"a/\x00", 1)], v), v, 0x81)
	    survivor_check(s)
	EOF
'

test_expect_success 'a wildcard in a PUBLISH topic (0x90)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    for topic in ("a/+", "a/#", "+", "#", "a/b+"):
	        bad_packet(publish_packet(topic, "x", qos=1, pid=1, version=v),
	                   v, 0x90)
	    survivor_check(s)
	EOF
'

test_expect_success 'packet id 0 on a QoS 1 or 2 PUBLISH' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    bad_packet(publish_packet("t", "x", qos=1, pid=0, version=v), v, 0x81)
	    bad_packet(publish_packet("t", "x", qos=2, pid=0, version=v), v, 0x81)
	    bad_packet(subscribe_packet(0, [("t", 0)], v), v, 0x81)
	    survivor_check(s)
	EOF
'

test_expect_success 'PUBLISH with QoS 3 (flags 0x36)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    bad_packet(publish_packet("t", "x", pid=1, flags=0x06, version=v),
	               v, 0x81)
	    bad_packet(publish_packet("t", "x", pid=1, flags=0x0f, version=v),
	               v, 0x81)
	    survivor_check(s)
	EOF
'

test_expect_success 'reserved fixed header flags (SUBSCRIBE 0, PUBREL 0, PINGREQ 1)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    bad_packet(subscribe_packet(1, [("t", 0)], v, flags=0), v, 0x81)
	    bad_packet(ack_packet(PUBREL, 1, version=v, flags=0), v, 0x81)
	    bad_packet(b"\xa0" + unsubscribe_packet(1, ["t"], v)[1:], v, 0x81)
	    bad_packet(b"\xc1\x00", v, 0x81)
	    bad_packet(b"\xe1\x00", v, 0x81)
	    survivor_check(s)
	EOF
'

test_expect_success 'a second CONNECT is a protocol error (0x82)' '
	sessions_py <<-\EOF &&
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    bad_packet(connect_packet("again", v), v, 0x82,
	               client_id="second-v%d" % v)
	    survivor_check(s)
	EOF
	broker_log_grep "client .second-v4. 127.0.0.1:[0-9]* disconnected: second connect" &&
	broker_log_grep "client .second-v5. 127.0.0.1:[0-9]* disconnected: second connect (0x82"
'

test_expect_success 'a packet over mqtt.max_packet_size (0x95)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    big = publish_packet("t", b"x" * 5000, qos=1, pid=1, version=v)
	    bad_packet(big, v, 0x95)
	    # The header alone is enough: the body never comes.
	    bad_packet(b"\x30" + varint(10**6), v, 0x95)
	    survivor_check(s)
	# Just under the limit is fine.
	c = raw("fits")
	c.publish("t", b"x" * 4000, qos=1)
	c.disconnect()
	EOF
'

test_expect_success 'v5: a topic alias out of range (0x94)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	bad_packet(publish_packet("t", "x", props={"topic_alias": 11}), 5, 0x94)
	bad_packet(publish_packet("t", "x", props={"topic_alias": 0}), 5, 0x94)
	bad_packet(publish_packet("t", "x", props={"topic_alias": 65535}), 5,
	           0x94)
	# An alias the client never set, with an empty topic: 0x82.
	bad_packet(publish_packet("", "x", props={"topic_alias": 3}), 5, 0x82)
	c = raw("alias-ok")
	c.subscribe("alias/t", qos=1)
	c.publish("alias/t", "one", props={"topic_alias": 10})
	c.publish("", "two", props={"topic_alias": 10})
	got = c.payloads(2)
	check(got == ["one", "two"], "aliases up to 10 work", got)
	c.disconnect()
	survivor_check(s)
	EOF
'

test_expect_success 'a first packet that is not CONNECT: closed' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for data in (publish_packet("t", "x", version=4),
	             publish_packet("t", "x", qos=1, pid=1, version=5),
	             subscribe_packet(1, [("t", 0)], 4), b"\xc0\x00", b"\xe0\x00",
	             b"\x20\x02\x00\x00"):
	    bad_packet(data, 4, None, connect=False)
	survivor_check(s)
	EOF
'

test_expect_success 'never sending CONNECT: closed after mqtt.idle_timeout' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	silent = Raw("silent")
	half = Raw("half")
	half.send(connect_packet("half")[:5])
	port = silent.sock.getsockname()[1]
	t0 = time.monotonic()
	check(silent.expect_closed(5) == [], "silent: closed, no packet")
	dt = time.monotonic() - t0
	check(0.8 <= dt <= 3, "after about 1 s", dt)
	check(half.expect_closed(5) == [], "half a CONNECT: closed too")
	broker_log_has(r"127\.0\.0\.1:%d closed: no CONNECT" % port)
	survivor_check(s)
	EOF
'

test_expect_success 'garbage bytes: closed' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	rng = random.Random(9000)
	for v in (4, 5):
	    for i in range(5):
	        junk = bytes([0]) + random_bytes(rng, 64)
	        bad_packet(junk, v, 0x81)
	    bad_packet(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", v, None,
	               connect=False)
	    bad_packet(b"\x00" * 16, v, None, connect=False)
	survivor_check(s)
	EOF
'

test_expect_success 'CONNECT with will flag 0 but will QoS 1 or will retain' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    for flags in (0x02 | 0x08, 0x02 | 0x20, 0x02 | 0x18):
	        bad_packet(connect_packet("badwill", v, flags=flags), v, 0x81,
	                   connect=False)
	    # Will QoS 3 with the will flag.
	    bad_packet(connect_packet("badwill3", v, flags=0x02 | 0x04 | 0x18,
	               will={"topic": "w", "payload": "x"}), v, 0x81,
	               connect=False)
	    # Reserved connect flag.
	    bad_packet(connect_packet("reserved", v, flags=0x03), v, 0x81,
	               connect=False)
	survivor_check(s)
	EOF
'

test_expect_success 'CONNECT: bad client id, unknown protocol level or name' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for v in (4, 5):
	    bad_packet(connect_packet(b"id\xff", v), v, 0x81, connect=False)
	    bad_packet(connect_packet(b"id\x00", v), v, 0x81, connect=False)
	# Level 6: refused with 3.1.1 return code 1 (0x84 would be v5-only).
	c = Raw("level6", 4)
	c.send(connect_packet("level6", 6))
	got = c.expect_closed()
	check(len(got) == 1 and got[0].type == CONNACK and got[0].rc in (1, 0x84),
	      "level 6: CONNACK unacceptable protocol version, closed", got)
	c = Raw("badname", 4)
	c.send(packet(0x10, utf8("MQTX") + bytes([4, 2]) + u16(60) +
	              utf8("badname")))
	got = c.expect_closed()
	check(len(got) <= 1 and all(p.type == CONNACK and p.rc in (1, 0x84)
	      for p in got), "unknown protocol name: refused or closed", got)
	survivor_check(s)
	EOF
'

test_expect_success 'v5 CONNECT: forbidden property values (0x82), misplaced property (0x81)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	for props, rc in (({"receive_max": 0}, 0x82),
	                  ({"max_packet_size": 0}, 0x82),
	                  ({"request_problem_info": 2}, 0x82),
	                  ({"topic_alias": 1}, 0x81),
	                  ({"will_delay": 1}, 0x81)):
	    bad_packet(connect_packet("cprops", props=props), 5, rc,
	               connect=False)
	survivor_check(s)
	EOF
'

test_expect_success 'v5 CONNECT: a wildcard in the will topic is CONNACK 0x90' '
	sessions_py <<-\EOF
	from sessions import *
	for topic in ("a/#", "+/b"):
	    bad_packet(connect_packet("wildwill", 5, will={"topic": topic,
	               "payload": "x"}), 5, 0x90, connect=False)
	EOF
'

test_expect_success '3.1.1 CONNECT: a wildcard in the will topic closes without a CONNACK' '
	sessions_py <<-\EOF
	from sessions import *
	bad_packet(connect_packet("wildwill", 4, will={"topic": "a/#",
	           "payload": "x"}), 4, None, connect=False)
	EOF
'

test_expect_success 'a refused CONNECT is logged with its client id' '
	sessions_py <<-\EOF &&
	from sessions import *
	bad_packet(connect_packet("refused-id", 5, will={"topic": "a/#",
	           "payload": "x"}), 5, 0x90, connect=False)
	EOF
	broker_log_grep "client .refused-id. .*refused"
'

test_expect_success 'v5: a wildcard in a PUBLISH Response Topic is a protocol error' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	bad_packet(publish_packet("t", "x", qos=1, pid=1,
	           props={"response_topic": "reply/+"}), 5, (0x82, 0x90))
	survivor_check(s)
	EOF
'

test_expect_success 'packets sent a byte at a time are put together' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    c = Raw("bytewise-%d" % v, v)
	    data = connect_packet(c.client_id, v) + \
	        subscribe_packet(1, [("bytes/t", 1)], v) + \
	        publish_packet("bytes/t", "x" * 300, qos=1, pid=2, version=v)
	    for i in range(len(data)):
	        c.send(data[i:i + 1])
	        time.sleep(0.001)
	    got = []
	    while len(got) < 4:
	        p = c.recv(5)
	        check(p is not None, "v%d: all answers" % v, got)
	        got.append(p)
	    check(sorted(p.type for p in got) == [CONNACK, PUBLISH, PUBACK, SUBACK],
	          "v%d: CONNACK, SUBACK, PUBACK and the message" % v, got)
	    c.disconnect()
	EOF
'

test_expect_success 'v3.1.1: AUTH (reserved before 5) and a v5 property-less ack are errors' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	bad_packet(b"\xf0\x00", 4, None)
	# A 3.1.1 PUBACK with a reason code: trailing bytes.
	bad_packet(b"\x40\x03\x00\x01\x00", 4, None)
	survivor_check(s)
	EOF
'

test_expect_success 'v5: SUBSCRIBE without a filter, subscription id in PUBLISH (0x82)' '
	sessions_py <<-\EOF
	from sessions import *
	s = survivor()
	bad_packet(packet(0x82, u16(1) + varint(0)), 5, 0x82)
	bad_packet(publish_packet("t", "x", props={"sub_id": 1}), 5, 0x82)
	survivor_check(s)
	EOF
'

test_expect_success 'the broker survives 2000 random and mutated byte strings' '
	sessions_py <<-\EOF &&
	from sessions import *
	# T9000_SEED and T9000_COUNT (in the environment) fuzz further.
	seed = int(os.environ.get("T9000_SEED", "9000"))
	count = int(os.environ.get("T9000_COUNT", "2000"))
	log("seed", seed, "count", count)
	rng = random.Random(seed)
	s = survivor()
	valid = [
	    connect_packet("fz", 5, props={"session_expiry": 5}, will={
	        "topic": "fz/w", "payload": "w", "qos": 1,
	        "props": {"will_delay": 1}}),
	    connect_packet("fz", 4, clean=False),
	    publish_packet("fz/t", "p", qos=1, pid=1,
	                   props=[("user", [("a", "b")]), ("message_expiry", 9)]),
	    publish_packet("fz/t", "p", qos=2, pid=2, props={"topic_alias": 3}),
	    subscribe_packet(3, [("fz/#", 2), ("$share/g/fz/+", 1)], 5,
	                     props={"sub_id": 5}),
	    unsubscribe_packet(4, ["fz/#"], 5),
	    ack_packet(PUBREL, 2, 0, props={"reason_string": "r"}),
	    disconnect_packet(4, {"session_expiry": 3}),
	]
	def mutate(b):
	    b = bytearray(b)
	    for _ in range(rng.randint(1, 4)):
	        op = rng.randrange(4)
	        if op == 0 and b:
	            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
	        elif op == 1 and b:
	            b[rng.randrange(len(b))] = rng.randrange(256)
	        elif op == 2 and len(b) > 2:
	            del b[rng.randrange(1, len(b)):]
	        else:
	            b[rng.randrange(len(b) + 1):0] = random_bytes(rng, 3)
	    return bytes(b)
	open_socks = []
	for i in range(count):
	    kind = i % 4
	    if kind == 0:
	        data = random_bytes(rng, rng.randint(1, 200))
	    elif kind == 1:
	        data = mutate(rng.choice(valid[:2]))
	    else:
	        v = rng.choice((4, 5))
	        data = connect_packet("fz-%d" % i, v, clean=rng.random() < 0.5,
	                              props={"session_expiry": 2} if v == 5
	                              else None)
	        if kind == 2:
	            data += random_bytes(rng, rng.randint(1, 200))
	        else:
	            data += b"".join(mutate(rng.choice(valid[2:]))
	                             for _ in range(rng.randint(1, 3)))
	    try:
	        sk = socket.create_connection((HOST, PORT), 5)
	        sk.sendall(data)
	        if rng.random() < 0.3:
	            sk.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
	                          struct.pack("ii", 1, 0))
	            sk.close()
	        else:
	            open_socks.append(sk)
	    except OSError as e:
	        log("case %d: %s" % (i, e))
	    if len(open_socks) > 50:
	        for sk in open_socks:
	            sk.close()
	        open_socks = []
	    if i % 500 == 499 or i == count - 1:
	        survivor_check(s, tag=str(i))
	for sk in open_socks:
	    sk.close()
	survivor_check(s, tag="end")
	c = raw("after-fuzz", version=4)
	c.subscribe("after/fuzz", qos=2)
	c.publish("after/fuzz", "still fine", qos=2)
	check(c.payloads(1) == ["still fine"], "a new client works")
	c.disconnect()
	EOF
	test_pid_alive "$BROKER_PID" &&
	test_grep ! -e "AddressSanitizer" -e "runtime error" -e "LeakSanitizer" "$BROKER_LOG"
'

test_expect_success 'stop the broker: it exits cleanly' '
	stop_broker &&
	test_grep ! -e "AddressSanitizer" -e "runtime error" "$BROKER_LOG"
'

test_done
