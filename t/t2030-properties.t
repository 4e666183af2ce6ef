#!/bin/sh

test_description='MQTT 5 PUBLISH properties and limits

Message Expiry Interval (3.3.2.3.3), the properties forwarded unchanged
(3.3.2.3.2, .5 to .7, user properties in order, 3.3.2.3.7), Payload
Format Indicator checks (0x99), Subscription Identifiers (3.8.2.1.2,
3.3.4), No Local (3.8.3.1), Topic Alias both ways (3.3.2.3.4), the
client Maximum Packet Size (3.1.2.11.4), mqtt.max_packet_size (0x95),
an empty topic without alias (0x82), mqtt.max_topic_alias and
mqtt.max_qos_allowed (0x9b).'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

pubsub_py () {
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
		PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
		"$PYTHON" - "$@"
}

test_expect_success 'start the broker' '
	start_broker
'

test_expect_success 'message expiry: expired messages are not delivered, the others carry what is left' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("exp-sub", props={"session_expiry": 60})
	sub.subscribe("exp/t", qos=1)
	sub.disconnect()
	pub = Raw("exp-pub")
	pub.publish("exp/t", "short", qos=1, props={"message_expiry": 2})
	pub.publish("exp/t", "mid", qos=1, props={"message_expiry": 10})
	pub.publish("exp/t", "none", qos=1)
	pub.publish("exp/r1", "short", qos=1, retain=True,
	            props={"message_expiry": 2})
	pub.publish("exp/r2", "long", qos=1, retain=True,
	            props={"message_expiry": 60})
	time.sleep(3)
	sub = Raw("exp-sub", clean=False, props={"session_expiry": 0},
	          autoack=True)
	check(sub.connack.sp == 1, "session present")
	got = sub.drain(0.5)
	check([p.payload for p in got] == [b"mid", b"none"],
	      "the expired one dropped", got)
	e = got[0].props.get("message_expiry")
	check(e is not None and 1 <= e <= 7, "expiry 10 minus 3 s waited", e)
	check("message_expiry" not in got[1].props, "no expiry, none sent",
	      got[1])
	check(sub.subscribe("exp/r1", "exp/r2", qos=1) == [1, 1], "subscribed")
	got = sub.drain(0.5)
	check([p.topic for p in got] == ["exp/r2"],
	      "the expired retained message is gone", got)
	e = got[0].props.get("message_expiry")
	check(e is not None and 1 <= e <= 57, "retained expiry decreased", e)
	sub.disconnect()
	pub.publish("exp/r2", "", qos=1, retain=True)
	pub.disconnect()
	EOF
'

test_expect_success 'message expiry is forwarded to an online subscriber' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("expo-sub", autoack=True)
	sub.subscribe("expo/t", qos=1)
	pub = Raw("expo-pub")
	pub.publish("expo/t", "x", qos=1, props={"message_expiry": 100})
	p = sub.messages(1)[0]
	e = p.props.get("message_expiry")
	check(e in (99, 100), "expiry 100 (or 99)", p)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'payload format, content type, response topic, correlation data and user properties are forwarded' '
	pubsub_py <<-\EOF
	from pubsub import *
	user = [("a", "1"), ("b", "2"), ("a", "3"), ("z", ""), ("k", "v w")]
	props = [("payload_format", 1), ("content_type", "text/plain"),
	         ("response_topic", "fw/resp"),
	         ("correlation_data", b"\x00\x01corr\xff"), ("user", user)]
	raw = Raw("fw-raw", autoack=True)
	raw.subscribe("fw/t", qos=1)
	ph = Paho("fw-paho")
	ph.subscribe("fw/t", qos=1)
	v4 = Raw("fw-v4", version=4, autoack=True)
	v4.subscribe("fw/t", qos=1)
	pub = Raw("fw-pub")
	pub.publish("fw/t", "caf\u00e9", qos=1, props=props)
	p = raw.messages(1)[0]
	check(p.payload == "caf\u00e9".encode(), "payload", p)
	check(p.props.get("payload_format") == 1, "payload format", p)
	check(p.props.get("content_type") == "text/plain", "content type", p)
	check(p.props.get("response_topic") == "fw/resp", "response topic", p)
	check(p.props.get("correlation_data") == b"\x00\x01corr\xff",
	      "correlation data", p)
	check(p.props.all("user") == user, "user properties in order",
	      p.props.all("user"))
	m = ph.messages(1)[0]
	check(prop_of(m, "user") == user, "paho: user properties",
	      prop_of(m, "user"))
	check(prop_of(m, "content_type") == "text/plain", "paho: content type")
	check(prop_of(m, "correlation_data") == b"\x00\x01corr\xff",
	      "paho: correlation data")
	q = v4.messages(1)[0]
	check(q.payload == "caf\u00e9".encode() and q.topic == "fw/t",
	      "v3.1.1 gets the message without properties", q)
	for c in (raw, ph, v4, pub):
	    c.disconnect()
	EOF
'

test_expect_success 'user properties interleaved with other properties keep their order' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("ui-sub", autoack=True)
	sub.subscribe("ui/t", qos=1)
	pub = Raw("ui-pub")
	pub.publish("ui/t", "x", qos=1, props=[
	    ("user", [("first", "1")]), ("content_type", "ct"),
	    ("user", [("second", "2")]), ("message_expiry", 100),
	    ("user", [("third", "3"), ("first", "again")])])
	p = sub.messages(1)[0]
	check(p.props.all("user") == [("first", "1"), ("second", "2"),
	                              ("third", "3"), ("first", "again")],
	      "all four, in order", p)
	check(p.props.get("content_type") == "ct", "content type", p)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'payload format 1 with invalid UTF-8: PUBACK/PUBREC 0x99, not delivered' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("pfi-sub", autoack=True)
	sub.subscribe("pfi/t", qos=1)
	pub = Raw("pfi-pub")
	bad = b"ok\xff\xfe\xc0\x80"
	a = pub.publish("pfi/t", bad, qos=1, props={"payload_format": 1})
	check(a.rc == 0x99, "PUBACK Payload format invalid", a)
	r = pub.publish("pfi/t", bad, qos=2, props={"payload_format": 1})
	check(r.rc == 0x99, "PUBREC Payload format invalid", r)
	sub.expect_nothing(0.3)
	a = pub.publish("pfi/t", bad, qos=1, props={"payload_format": 0})
	check(a.rc == 0, "format 0: any bytes", a)
	check(sub.messages(1)[0].payload == bad, "delivered as sent")
	check(pub.is_open(), "the publisher stays connected")
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'message expiry: a message that expires while queued behind a full window is dropped' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("expq-sub", props={"receive_max": 1})
	sub.subscribe("expq/t", qos=1)
	pub = Raw("expq-pub")
	pub.publish("expq/t", "first", qos=1)
	pub.publish("expq/t", "expires", qos=1, props={"message_expiry": 1})
	pub.publish("expq/t", "stays", qos=1, props={"message_expiry": 60})
	p = sub.expect(PUBLISH)
	check(p.payload == b"first", "first in flight", p)
	time.sleep(2.1)
	sub.ack(p)
	got = sub.messages(1)
	check(got[0].payload == b"stays", "the expired one was dropped", got)
	sub.expect_nothing(0.3)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'subscription identifiers: overlapping subscriptions give one PUBLISH with both ids' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("sid-sub", autoack=True)
	check(sub.subscribe("sid/+", qos=1, sub_id=5) == [1], "id 5")
	check(sub.subscribe("sid/#", qos=1, sub_id=7) == [1], "id 7")
	check(sub.subscribe("sid/a/none", qos=1) == [1], "no id")
	pub = Raw("sid-pub")
	pub.publish("sid/a", "both", qos=1)
	p = sub.messages(1)[0]
	check(sorted(p.props.all("sub_id")) == [5, 7], "ids 5 and 7", p)
	sub.expect_nothing(0.3)
	pub.publish("sid/a/b", "seven", qos=1)
	p = sub.messages(1)[0]
	check(p.props.all("sub_id") == [7], "only 7", p)
	pub.publish("sid/a/none", "noid", qos=1)
	p = sub.messages(1)[0]
	check(sorted(p.props.all("sub_id")) == [7], "7, none for sid/a/none", p)
	pub.publish("sid/r", "ret", qos=1, retain=True)
	sub.drain(0.2)
	check(sub.subscribe("sid/r", qos=1, sub_id=9) == [1], "id 9")
	p = sub.messages(1)[0]
	check(p.retain and p.props.all("sub_id") == [9],
	      "the retained message carries the new id", p)
	ph = Paho("sid-paho")
	ph.subscribe("sid/#", qos=1, sub_id=300)
	pub.publish("sid/p", "paho", qos=1)
	m = ph.messages(1)[0]
	check(prop_of(m, "sub_id") == [300], "paho: id 300",
	      prop_of(m, "sub_id"))
	pub.publish("sid/r", "", qos=1, retain=True)
	for c in (sub, pub, ph):
	    c.disconnect()
	EOF
'

test_expect_success 'six overlapping subscriptions with identifiers: all six ids in one PUBLISH' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("sid6-sub", autoack=True)
	fs = ["sid6/a", "sid6/+", "+/a", "#", "sid6/#", "+/+"]
	for i, f in enumerate(fs):
	    check(sub.subscribe(f, qos=1, sub_id=i + 1) == [1], "id %d" % (i + 1))
	pub = Raw("sid6-pub")
	pub.publish("sid6/a", "x", qos=1)
	got = sub.messages(1) + sub.drain(0.3)
	ids = sorted(sum((p.props.all("sub_id") for p in got), []))
	check(ids == [1, 2, 3, 4, 5, 6], "every identifier, once", got)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'subscription identifiers go out ascending whatever the subscribe order' '
	pubsub_py <<-\EOF
	from pubsub import *
	ph = Paho("sido-paho", clean=False, props={"session_expiry": 60})
	fs = [("sido/a", 42), ("sido/+", 7), ("#", 300), ("+/a", 1),
	      ("sido/#", 19), ("+/+", 5)]
	for f, i in fs:
	    check(ph.subscribe(f, qos=1, sub_id=i) == [1], "id %d" % i)
	pub = Raw("sido-pub")
	pub.publish("sido/a", "six", qos=1)
	pub.publish("sido/b", "four", qos=1)
	pub.publish("x/a", "two", qos=0)
	got = [(m.payload, prop_of(m, "sub_id")) for m in ph.messages(3)]
	check(got == [(b"six", [1, 5, 7, 19, 42, 300]),
	              (b"four", [5, 7, 19, 300]), (b"two", [1, 5, 300])],
	      "paho: the ids of each PUBLISH in ascending order", got)
	ph.disconnect()
	pub.publish("sido/a", "queued", qos=1)
	ph = Paho("sido-paho", clean=False, props={"session_expiry": 60})
	m = ph.messages(1)[0]
	check(prop_of(m, "sub_id") == [1, 5, 7, 19, 42, 300],
	      "paho: ascending for a message queued while offline",
	      prop_of(m, "sub_id"))
	ph.disconnect()
	raw = Raw("sido-raw", autoack=True)
	check(raw.subscribe("sido/+", qos=1, sub_id=9) == [1], "id 9")
	check(raw.subscribe("sido/a", qos=1, sub_id=3) == [1], "id 3")
	pub.publish("sido/a", "raw", qos=1)
	p = raw.messages(1)[0]
	check(p.props.all("sub_id") == [3, 9], "raw: 3 then 9 on the wire", p)
	raw.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'No Local: a client does not get its own messages' '
	pubsub_py <<-\EOF
	from pubsub import *
	nl = Raw("nl-self", autoack=True)
	nl.subscribe("nl/t", qos=1, nl=True)
	loop = Raw("nl-loop", autoack=True)
	loop.subscribe("nl/t", qos=1)
	nl.publish("nl/t", "from-nl", qos=1)
	loop.publish("nl/t", "from-loop", qos=1)
	check(nl.payloads(1) == ["from-loop"], "only the other one")
	nl.expect_nothing(0.3)
	got = sorted(loop.payloads(2))
	check(got == ["from-loop", "from-nl"], "without No Local: both", got)
	ph = Paho("nl-paho")
	ph.subscribe("nl/p", qos=1, nl=True)
	ph.publish("nl/p", "mine", qos=1)
	nl.publish("nl/p", "theirs", qos=1)
	check(ph.payloads(1) == ["theirs"], "paho: only theirs")
	ph.expect_nothing(0.3)
	for c in (nl, loop, ph):
	    c.disconnect()
	EOF
'

test_expect_success 'topic alias client to server: set, use, remap' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("tain-sub", autoack=True)
	sub.subscribe("tain/#", qos=1)
	pub = Raw("tain-pub")
	check(pub.connack.props.get("topic_alias_max", 0) > 0,
	      "CONNACK Topic Alias Maximum", pub.connack)
	pub.publish("tain/a", "1", qos=1, props={"topic_alias": 1})
	pub.publish("", "2", qos=1, props={"topic_alias": 1})
	pub.publish("tain/b", "3", qos=1, props={"topic_alias": 1})
	pub.publish("", "4", qos=1, props={"topic_alias": 1})
	pub.publish("tain/c", "5", qos=0, props={"topic_alias": 2})
	pub.publish("", "6", qos=0, props={"topic_alias": 2})
	msgs = sub.messages(6)
	got = [(p.topic, p.payload.decode()) for p in msgs]
	check(got == [("tain/a", "1"), ("tain/a", "2"), ("tain/b", "3"),
	              ("tain/b", "4"), ("tain/c", "5"), ("tain/c", "6")],
	      "full topics", got)
	check(all("topic_alias" not in p.props for p in msgs),
	      "the inbound alias is not forwarded", msgs)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'topic alias 0 gets DISCONNECT 0x94; an unknown alias 0x82' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("ta0")
	c.send(publish_packet("ta/z", "x", qos=1, pid=1,
	                      props={"topic_alias": 0}))
	c.expect_disconnect(0x94)
	c = Raw("ta-unknown")
	c.send(publish_packet("", "x", qos=1, pid=1,
	                      props={"topic_alias": 3}))
	c.expect_disconnect(0x82)
	EOF
'

test_expect_success 'an empty topic without a topic alias gets DISCONNECT 0x82' '
	pubsub_py <<-\EOF
	from pubsub import *
	spy = Raw("empty-spy", autoack=True)
	spy.subscribe("#")
	c = Raw("empty-topic")
	c.send(publish_packet("", "x", qos=1, pid=1))
	c.expect_disconnect(0x82)
	spy.expect_nothing(0.3)
	spy.disconnect()
	EOF
'

test_expect_success 'topic alias server to client: the second message has an empty topic' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("taout-sub", props={"topic_alias_max": 2}, autoack=True)
	sub.subscribe("taout/#", qos=1)
	pub = Raw("taout-pub")
	for t in ["taout/x", "taout/x", "taout/y", "taout/y", "taout/z",
	          "taout/z", "taout/x"]:
	    pub.publish(t, t, qos=1)
	got = sub.messages(7)
	aliases = {}
	for p in got:
	    a = p.props.get("topic_alias")
	    check(a is None or 1 <= a <= 2, "alias within 1..2", p)
	    if p.topic:
	        if a is not None:
	            aliases[a] = p.topic
	        check(p.topic == p.payload.decode(), "topic", p)
	    else:
	        check(a in aliases and aliases[a] == p.payload.decode(),
	              "an empty topic with a known alias", p)
	check(got[0].topic == "taout/x" and got[0].props.get("topic_alias"),
	      "first: topic and alias", got[0])
	check(got[1].topic == "" and got[1].props.get("topic_alias") ==
	      got[0].props.get("topic_alias"), "second: alias only", got[1])
	check(got[3].topic == "" and got[3].props.get("topic_alias"),
	      "taout/y by alias", got[3])
	none = Raw("taout-none", autoack=True)
	none.subscribe("taout/#", qos=1)
	pub.publish("taout/x", "taout/x", qos=1)
	pub.publish("taout/x", "taout/x", qos=1)
	for p in none.messages(2):
	    check(p.topic == "taout/x" and "topic_alias" not in p.props,
	          "no Topic Alias Maximum: no aliases", p)
	for c in (sub, pub, none):
	    c.disconnect()
	EOF
'

test_expect_success 'client Maximum Packet Size 100: a larger message is skipped, smaller ones come' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("mps-sub", props={"max_packet_size": 100, "receive_max": 1},
	          autoack=True)
	sub.subscribe("mps/t", qos=1)
	other = Raw("mps-other", autoack=True)
	other.subscribe("mps/t", qos=1)
	pub = Raw("mps-pub")
	pub.publish("mps/t", "small1", qos=1)
	pub.publish("mps/t", "B" * 200, qos=1)
	pub.publish("mps/t", "B" * 200, qos=0)
	pub.publish("mps/t", "small2", qos=1)
	got = sub.payloads(2)
	check(got == ["small1", "small2"], "the big ones skipped", got)
	sub.expect_nothing(0.3)
	check(sub.is_open(), "still connected")
	check(len(other.messages(4)) == 4, "another client gets all four")
	for c in (sub, pub, other):
	    c.disconnect()
	EOF
'

test_expect_success 'a server topic alias never makes a PUBLISH exceed the client Maximum Packet Size' '
	pubsub_py <<-\EOF
	from pubsub import *
	sub = Raw("mpsa-sub", props={"max_packet_size": 100,
	                             "topic_alias_max": 5}, autoack=True)
	sub.subscribe("mpsa/t", qos=1)
	pub = Raw("mpsa-pub")
	# 1 + 1 + (2 + 6 + 2 + 1 + 87) = 100 bytes without an alias
	for n in (85, 86, 87, 88):
	    pub.publish("mpsa/t", "P" * n, qos=1)
	got = sub.drain(0.5)
	sizes = [1 + len(varint(len(p.body))) + len(p.body) for p in got]
	check(all(n <= 100 for n in sizes), "no packet over 100 bytes", sizes)
	check(len(got) >= 3, "the messages that fit are delivered", sizes)
	sub.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'restart: max_packet_size 1KB, max_topic_alias 10, max_qos_allowed 1, ignore_loop_deliver' '
	broker_config <<-\EOF &&
	mqtt:
	  max_packet_size: 1KB
	  max_topic_alias: 10
	  max_qos_allowed: 1
	  ignore_loop_deliver: true
	EOF
	restart_broker
'

test_expect_success 'a PUBLISH over mqtt.max_packet_size gets DISCONNECT 0x95' '
	pubsub_py <<-\EOF
	from pubsub import *
	spy = Raw("big-spy", autoack=True)
	spy.subscribe("big/#", qos=1)
	c = Raw("big")
	check(c.connack.props.get("max_packet_size") == 1024,
	      "CONNACK Maximum Packet Size 1024", c.connack)
	c.publish("big/ok", "x" * 1000, qos=1)
	check(len(spy.messages(1)[0].payload) == 1000, "1000 bytes pass")
	c.send(publish_packet("big/t", "x" * 2000, qos=1, pid=2))
	c.expect_disconnect(0x95)
	spy.expect_nothing(0.3)
	spy.disconnect()
	EOF
'

test_expect_success 'v3.1.1: a PUBLISH over mqtt.max_packet_size closes the connection' '
	pubsub_py <<-\EOF
	from pubsub import *
	spy = Raw("big4-spy", version=4, autoack=True)
	spy.subscribe("big4/#", qos=1)
	c = Raw("big4", version=4)
	c.publish("big4/ok", "x" * 1000, qos=1)
	check(len(spy.messages(1)[0].payload) == 1000, "1000 bytes pass")
	c.send(publish_packet("big4/t", "x" * 2000, qos=1, pid=2, version=4))
	check(c.expect_closed() is None, "closed without a DISCONNECT")
	spy.expect_nothing(0.3)
	spy.disconnect()
	EOF
'

test_expect_success 'topic alias over mqtt.max_topic_alias gets DISCONNECT 0x94' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("tamax")
	check(c.connack.props.get("topic_alias_max") == 10,
	      "CONNACK Topic Alias Maximum 10", c.connack)
	c.publish("tamax/a", "x", qos=1, props={"topic_alias": 10})
	c.send(publish_packet("tamax/b", "x", qos=1, pid=5,
	                      props={"topic_alias": 11}))
	c.expect_disconnect(0x94)
	EOF
'

test_expect_success 'mqtt.max_qos_allowed 1: QoS 2 granted as 1, a QoS 2 PUBLISH gets DISCONNECT 0x9b' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("maxqos")
	check(c.connack.props.get("max_qos") == 1, "CONNACK Maximum QoS 1",
	      c.connack)
	check(c.subscribe("mq/t", qos=2) == [1], "QoS 2 granted as 1")
	# Another publisher: mqtt.ignore_loop_deliver is on in this run.
	pub = Raw("maxqos-pub", autoack=True)
	pub.publish("mq/t", "one", qos=1)
	p = c.expect(PUBLISH)
	check(p.qos == 1, "delivered at QoS 1", p)
	c.ack(p)
	c.send(publish_packet("mq/t", "two", qos=2, pid=9))
	c.expect_disconnect(0x9b)
	EOF
'

test_expect_success 'mqtt.ignore_loop_deliver: no client gets its own messages back' '
	pubsub_py <<-\EOF
	from pubsub import *
	for v in (4, 5):
	    c = Raw("loop-v%d" % v, version=v, autoack=True)
	    c.subscribe("loop/t", qos=1)
	    other = Raw("loop-other-v%d" % v, version=v, autoack=True)
	    other.subscribe("loop/t", qos=1)
	    c.publish("loop/t", "own", qos=1)
	    check(other.payloads(1) == ["own"], "another client gets it")
	    c.expect_nothing(0.3)
	    c.disconnect()
	    other.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
