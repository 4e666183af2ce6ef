#!/bin/sh

test_description='retained messages: delivery on subscribe, clearing, options

A retained message goes to new subscriptions with RETAIN 1 (MQTT
3.3.1.3), an empty retained payload deletes it, Retain Handling 0/1/2
and Retain As Published (3.8.3.1), mqtt.retain_available false (3.3.1.3,
Retain Available), wildcard filters get every matching retained message,
and mosquitto_pub -r / mosquitto_sub work with it.'

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

for v in 4 5
do
	test_expect_success "v$v: a retained message reaches a new subscription with RETAIN 1 (paho)" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		t = "rt/v%d/a" % v
		live = Paho("rt-live-v%d" % v, version=v)
		live.subscribe(t, qos=2)
		pub = Paho("rt-pub-v%d" % v, version=v)
		pub.publish(t, "old", qos=1, retain=True)
		pub.publish(t, "hello", qos=1, retain=True)
		m = live.messages(2)
		check([(x.payload, x.retain) for x in m] ==
		      [(b"old", 0), (b"hello", 0)],
		      "live forwarding: RETAIN 0", [(x.payload, x.retain) for x in m])
		for q in (0, 1, 2):
		    s = Paho("rt-new%d-v%d" % (q, v), version=v)
		    s.subscribe(t, qos=q)
		    m = s.messages(1)[0]
		    check((m.payload, m.retain, m.qos) == (b"hello", 1, min(q, 1)),
		          "sub qos %d: the latest retained, RETAIN 1, qos" % q,
		          m.payload, m.retain, m.qos)
		    s.expect_nothing(0.2)
		    s.disconnect()
		live.disconnect()
		pub.disconnect()
		EOF
	'

	test_expect_success "v$v: an empty retained payload clears the topic and is forwarded" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		t = "rt/v%d/clear" % v
		pub = Paho("rc-pub-v%d" % v, version=v)
		pub.publish(t, "keep", qos=1, retain=True)
		s = Paho("rc-sub-v%d" % v, version=v)
		s.subscribe(t, qos=1)
		check(s.payloads(1) == ["keep"], "stored")
		pub.publish(t, b"", qos=1, retain=True)
		m = s.messages(1)[0]
		check(m.payload == b"", "the empty message is forwarded", m.payload)
		s.disconnect()
		s = Paho("rc-sub2-v%d" % v, version=v)
		s.subscribe(t, qos=1)
		s.expect_nothing(0.5)
		s.disconnect()
		pub.disconnect()
		EOF
	'
done

test_expect_success 'v5: Retain Handling 0 sends on every SUBSCRIBE, 1 only for a new subscription, 2 never' '
	pubsub_py <<-\EOF
	from pubsub import *
	pub = Raw("rh-pub")
	for rh in range(3):
	    pub.publish("rh/%d" % rh, "r%d" % rh, qos=1, retain=True)
	for rh, want in ((0, [1, 1, 1]), (1, [1, 0, 0]), (2, [0, 0, 0])):
	    s = Raw("rh-sub%d" % rh, autoack=True)
	    got = []
	    for i in range(3):
	        check(s.subscribe("rh/%d" % rh, qos=1, rh=rh) == [1], "granted")
	        got.append(len(s.drain(0.3)))
	    check(got == want, "rh %d: retained messages per SUBSCRIBE" % rh,
	          got, want)
	    # a live retained publish is still forwarded
	    pub.publish("rh/%d" % rh, "live", qos=1, retain=True)
	    check(s.payloads(1) == ["live"], "live message with rh %d" % rh)
	    s.disconnect()
	# rh 1 after UNSUBSCRIBE: a new subscription again
	s = Raw("rh-sub1b", autoack=True)
	s.subscribe("rh/1", qos=1, rh=1)
	check(len(s.drain(0.3)) == 1, "first")
	s.unsubscribe("rh/1")
	s.subscribe("rh/1", qos=1, rh=1)
	check(len(s.drain(0.3)) == 1, "new again after UNSUBSCRIBE")
	s.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'v5: Retain As Published keeps RETAIN on forwarded messages; 0 clears it' '
	pubsub_py <<-\EOF
	from pubsub import *
	rap0 = Raw("rap0", autoack=True)
	rap0.subscribe("rap/t", qos=1, rap=False)
	rap1 = Raw("rap1", autoack=True)
	rap1.subscribe("rap/t", qos=1, rap=True)
	v4 = Raw("rap-v4", version=4, autoack=True)
	v4.subscribe("rap/t", qos=1)
	pub = Raw("rap-pub")
	pub.publish("rap/t", "r", qos=1, retain=True)
	pub.publish("rap/t", "n", qos=1, retain=False)
	got0 = [(p.payload, p.retain) for p in rap0.messages(2)]
	got1 = [(p.payload, p.retain) for p in rap1.messages(2)]
	got4 = [(p.payload, p.retain) for p in v4.messages(2)]
	check(got0 == [(b"r", False), (b"n", False)], "rap 0", got0)
	check(got1 == [(b"r", True), (b"n", False)], "rap 1", got1)
	check(got4 == [(b"r", False), (b"n", False)], "v3.1.1", got4)
	# retained on subscribe: RETAIN 1 whatever rap says
	s = Raw("rap0-new", autoack=True)
	s.subscribe("rap/t", qos=1, rap=False)
	p = s.messages(1)[0]
	check(p.retain and p.payload == b"r", "RETAIN 1 on subscribe", p)
	for c in (rap0, rap1, v4, s, pub):
	    c.disconnect()
	EOF
'

test_expect_success 'a wildcard subscription gets every matching retained message' '
	pubsub_py <<-\EOF
	from pubsub import *
	pub = Raw("rw-pub")
	topics = ["rw", "rw/a", "rw/b/c", "rw/d", "rw/", "rwx/a", "other/rw"]
	for t in topics:
	    pub.publish(t, t, qos=1, retain=True)
	for f, want in (("rw/#", ["rw", "rw/a", "rw/b/c", "rw/d", "rw/"]),
	                ("rw/+", ["rw/a", "rw/d", "rw/"]),
	                ("+/rw", ["other/rw"]),
	                ("+/+/c", ["rw/b/c"])):
	    for v in (4, 5):
	        s = Raw("rw-sub", version=v, autoack=True)
	        s.subscribe(f, qos=1)
	        got = s.messages(len(want))
	        s.expect_nothing(0.2)
	        check(all(p.retain for p in got), "RETAIN 1", got)
	        got = sorted(p.topic for p in got)
	        check(got == sorted(want), "v%d %r" % (v, f), got, sorted(want))
	        s.disconnect()
	for t in topics:
	    pub.publish(t, "", qos=1, retain=True)
	pub.disconnect()
	EOF
'

test_expect_success 'retained QoS 2 goes out at QoS 2 with the full flow' '
	pubsub_py <<-\EOF
	from pubsub import *
	pub = Raw("rq2-pub")
	pub.publish("rq2/t", "two", qos=2, retain=True)
	s = Raw("rq2-sub")
	s.subscribe("rq2/t", qos=2)
	p = s.expect(PUBLISH)
	check(p.qos == 2 and p.retain and p.payload == b"two", "qos 2 retained", p)
	s.ack(p)
	s.expect_nothing(0.3)
	s.disconnect()
	pub.disconnect()
	EOF
'

for V in mqttv311 mqttv5
do
	test_expect_success "mosquitto_pub -r and mosquitto_sub ($V)" '
		mosquitto_pub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q 1 -r \
			-t mq/$V/r -m "kept for later" &&
		mosquitto_sub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q 1 \
			-t mq/$V/r -C 1 -W 5 -v >actual &&
		echo "mq/$V/r kept for later" >expect &&
		test_cmp expect actual &&
		mosquitto_sub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -t mq/$V/r \
			--retained-only -C 1 -W 5 >actual &&
		echo "kept for later" >expect &&
		test_cmp expect actual &&
		mosquitto_pub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q 1 -r \
			-t mq/$V/r -n &&
		{ mosquitto_sub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT \
			-t mq/$V/r -C 1 -W 1 >actual; true; } &&
		test_cmp /dev/null actual
	'
done

test_expect_success 'restart with mqtt.retain_available false' '
	broker_config <<-\EOF &&
	mqtt:
	  retain_available: false
	EOF
	restart_broker
'

test_expect_success 'v5: retain_available false: CONNACK says so, a retained PUBLISH gets DISCONNECT 0x9a' '
	pubsub_py <<-\EOF
	from pubsub import *
	spy = Raw("noret-spy", autoack=True)
	spy.subscribe("noret/#")
	c = Raw("noret")
	check(c.connack.props.get("retain_available") == 0,
	      "CONNACK Retain Available 0", c.connack)
	c.send(publish_packet("noret/t", "x", qos=1, pid=1, retain=True))
	c.expect_disconnect(0x9a)
	spy.expect_nothing(0.3)
	c = Raw("noret2")
	c.publish("noret/t", "plain", qos=1)
	check(spy.payloads(1) == ["plain"], "a plain PUBLISH still works")
	s = Raw("noret-sub", autoack=True)
	s.subscribe("noret/#")
	s.expect_nothing(0.3)
	for x in (c, s, spy):
	    x.disconnect()
	EOF
'

test_expect_success 'v5: retain_available false: paho is disconnected with 0x9a' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Paho("noret-paho")
	c.publish("noret/p", "x", qos=0, retain=True, wait=False)
	c.expect_disconnect(0x9a)
	c.c.loop_stop()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
