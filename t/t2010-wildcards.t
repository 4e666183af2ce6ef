#!/bin/sh

test_description='topic filters: wildcards, $-topics, the $SYS tree, limits

+ and # matching (MQTT 4.7.1), topics starting with $ and wildcard
filters (4.7.2), the $SYS/brokers/<node>/ tree, invalid filters in
SUBSCRIBE (3.9.3), wildcards in a PUBLISH topic (3.3.2.1),
mqtt.wildcard_subscription, mqtt.max_topic_levels and
mqtt.max_subscriptions.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

pubsub_py () {
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
		PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
		"$PYTHON" - "$@"
}

test_expect_success 'start the broker' '
	broker_config <<-\EOF &&
	sys_topics:
	  sys_msg_interval: 1s
	EOF
	start_broker
'

for v in 4 5
do
	test_expect_success "v$v: + and # match levels as the spec says (paho)" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		T = ["sport", "sport/", "sport/tennis", "sport/tennis/player1",
		     "sport/tennis/player1/ranking", "/finance", "finance",
		     "a/b/c/d"]
		want = {
		    "#": T,
		    "sport/#": T[0:5],
		    "sport/+": ["sport/", "sport/tennis"],
		    "sport/tennis/+": ["sport/tennis/player1"],
		    "sport/tennis/player1/#": ["sport/tennis/player1",
		                               "sport/tennis/player1/ranking"],
		    "+/tennis/#": T[2:5],
		    "+": ["sport", "finance"],
		    "+/+": ["sport/", "sport/tennis", "/finance"],
		    "/+": ["/finance"],
		    "+/b/+/d": ["a/b/c/d"],
		    "sport/tennis": ["sport/tennis"],
		    "Sport/#": [],
		}
		clients = {}
		for i, f in enumerate(want):
		    c = Paho("wc%d-v%d" % (i, v), version=v)
		    check(c.subscribe(f, qos=1) == [1], "filter %r accepted" % f)
		    clients[f] = c
		pub = Paho("wc-pub-v%d" % v, version=v)
		for t in T:
		    pub.publish(t, t, qos=1)
		wait_until(lambda: all(c.q.qsize() >= len(want[f])
		                       for f, c in clients.items()))
		time.sleep(0.3)
		bad = []
		for f, c in clients.items():
		    got = [m.topic for m in c.drain(0)]
		    if sorted(got) != sorted(want[f]):
		        bad.append((f, sorted(got), sorted(want[f])))
		    c.disconnect()
		check(not bad, "filter: got, wanted", *bad)
		pub.disconnect()
		EOF
	'
done

test_expect_success 'wildcards at the first level do not match $SYS topics; $SYS/# does' '
	pubsub_py <<-\EOF
	from pubsub import *
	filters = ["#", "+/brokers/#", "+/+/+/version", "$SYS/#"]
	cs = [Raw("dollar%d" % i, autoack=True) for i in range(len(filters))]
	for c, f in zip(cs, filters):
	    check(c.subscribe(f) == [0], "filter %r accepted" % f)
	# the retained $SYS version and a second of statistics
	got = cs[3].messages(5, timeout=3)
	check(all(p.topic.startswith("$SYS/") for p in got), "$SYS topics", got)
	for c in cs[:3]:
	    c.expect_nothing(0.3)
	    c.disconnect()
	cs[3].disconnect()
	EOF
'

test_expect_success '$SYS/brokers/+/version is retained and holds the version' '
	"$FLOCKMQ" version >version.out &&
	pubsub_py "$(sed "s/^flockmq //" version.out)" <<-\EOF
	from pubsub import *
	c = Raw("sysver", version=4)
	c.subscribe("$SYS/brokers/+/version", qos=1)
	p = c.expect(PUBLISH, timeout=2)
	check(p.topic == "$SYS/brokers/flockmq@127.0.0.1/version",
	      "the node name in the topic", p)
	check(p.retain, "retain flag 1 on subscribe", p)
	check(p.payload.decode() == sys.argv[1], "the version", p, sys.argv[1])
	c.disconnect()
	EOF
'

test_expect_success '$SYS metrics/messages/received comes every second and grows' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("sysmetric", autoack=True)
	check(c.subscribe("$SYS/brokers/+/metrics/messages/received") == [0],
	      "subscribed")
	first = c.messages(1, timeout=3)[0]
	check(not first.retain, "a live message", first)
	n0 = int(first.payload)
	pub = Raw("sysmetric-pub")
	for i in range(5):
	    pub.publish("sysmetric/t", "x", qos=1)
	for i in range(4):
	    n = int(c.messages(1, timeout=2)[0].payload)
	    if n >= n0 + 5:
	        break
	check(n >= n0 + 5, "the count grew by the 5 publishes", n0, n)
	c.disconnect()
	pub.disconnect()
	EOF
'

for v in 4 5
do
	test_expect_success "v$v: invalid topic filters are refused in SUBACK" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		bad = 0x8f if v == 5 else 0x80
		c = Raw("badfilter-v%d" % v, version=v, autoack=True)
		rcs = c.subscribe("a/#/b", "ok/+", "a+", "#/a", "a/b#", "+a/b",
		                  qos=1)
		check(rcs == [bad, 1, bad, bad, bad, bad],
		      "invalid filters 0x%02x, the valid one granted" % bad,
		      [hex(r) for r in rcs])
		check(c.is_open(), "still connected")
		p = Raw("badfilter-pub-v%d" % v, version=v)
		p.publish("ok/x", "fine", qos=1)
		check(c.payloads(1) == ["fine"], "the valid filter works")
		c.disconnect()
		p.disconnect()
		EOF
	'

	test_expect_success "v$v: PUBLISH to a topic with a wildcard closes the connection" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		spy = Raw("wcpub-spy-v%d" % v, version=v, autoack=True)
		spy.subscribe("#")
		for t in ["a/+/b", "a/#", "+"]:
		    c = Raw("wcpub-v%d" % v, version=v)
		    c.send(publish_packet(t, "x", qos=1, pid=1, version=v))
		    rc = c.expect_closed()
		    if v == 5:
		        check(rc == 0x90, "DISCONNECT Topic Name invalid for %r" % t,
		              rc)
		spy.expect_nothing(0.3)
		spy.disconnect()
		EOF
	'
done

test_expect_success 'UNSUBSCRIBE: reason codes (v5), an empty UNSUBACK (v3.1.1), delivery stops' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("unsub", autoack=True)
	c.subscribe("un/a", "un/+", "$share/g/un/a", qos=1)
	rcs = c.unsubscribe("un/a", "un/b", "un/#/x", "$share/g/un/a",
	                    "$share/g/un/b")
	check(rcs == [0, 0x11, 0x8f, 0, 0x11],
	      "success, no subscription existed, invalid filter",
	      [hex(r) for r in rcs])
	pub = Raw("unsub-pub")
	pub.publish("un/a", "a", qos=1)
	got = c.messages(1)
	check(got[0].payload == b"a", "still subscribed through un/+", got)
	c.expect_nothing(0.2)
	check(c.unsubscribe("un/+") == [0], "the last one")
	pub.publish("un/a", "b", qos=1)
	c.expect_nothing(0.3)
	c.disconnect()
	c4 = Raw("unsub-v4", version=4, autoack=True)
	c4.subscribe("un/v4", qos=1)
	pid = c4.pid()
	c4.send(unsubscribe_packet(pid, ["un/v4", "un/none"], version=4))
	a = c4.expect(UNSUBACK)
	check(a.body == u16(pid), "UNSUBACK: packet id only", a.body)
	pub.publish("un/v4", "x", qos=1)
	c4.expect_nothing(0.3)
	c4.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'mqtt.exclusive_subscription false: $exclusive/ filters get 0x8f' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("excl-off")
	rcs = c.subscribe("$exclusive/ex/t", "ex/t", qos=1)
	check(rcs == [0x8f, 1], "refused while disabled", [hex(r) for r in rcs])
	c.disconnect()
	EOF
'

test_expect_success 'restart: mqtt.wildcard_subscription false, max_subscriptions 2' '
	broker_config <<-\EOF &&
	mqtt:
	  wildcard_subscription: false
	  max_subscriptions: 2
	EOF
	restart_broker
'

test_expect_success 'mqtt.wildcard_subscription false: 0xa2 (v5), 0x80 (v3.1.1)' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("nowc", autoack=True)
	check(c.connack.props.get("wildcard_available") == 0,
	      "CONNACK Wildcard Subscription Available 0", c.connack)
	rcs = c.subscribe("nowc/+", "nowc/t")
	check(rcs == [0xa2, 0], "wildcard refused, plain accepted",
	      [hex(r) for r in rcs])
	check(c.subscribe("nowc/#") == [0xa2], "# refused")
	c.publish("nowc/t", "plain")
	check(c.payloads(1) == ["plain"], "the plain filter works")
	c.expect_nothing(0.3)
	c.disconnect()
	c = Raw("nowc-v4", version=4)
	rcs = c.subscribe("nowc/+", "nowc/t")
	check(rcs == [0x80, 0], "v3.1.1", [hex(r) for r in rcs])
	c.disconnect()
	EOF
'

for v in 4 5
do
	test_expect_success "v$v: mqtt.max_subscriptions 2: the third gets 0x97 / 0x80" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		full = 0x97 if v == 5 else 0x80
		c = Raw("maxsubs-v%d" % v, version=v, autoack=True)
		rcs = c.subscribe("ms/a", "ms/b", "ms/c")
		check(rcs == [0, 0, full], "two granted, the third refused",
		      [hex(r) for r in rcs])
		check(c.subscribe("ms/d") == [full], "still full")
		check(c.subscribe("ms/a", qos=1) == [1],
		      "re-subscribing to a held filter is not a new one")
		c.unsubscribe("ms/b")
		check(c.subscribe("ms/d") == [0], "room again after UNSUBSCRIBE")
		c.publish("ms/c", "c")
		c.publish("ms/d", "d")
		check(c.payloads(1) == ["d"], "ms/d held, ms/c not")
		c.expect_nothing(0.3)
		c.disconnect()
		EOF
	'
done

test_expect_success 'restart: mqtt.max_topic_levels 4, exclusive_subscription true' '
	broker_config <<-\EOF &&
	mqtt:
	  wildcard_subscription: true
	  max_subscriptions: infinity
	  max_topic_levels: 4
	  exclusive_subscription: true
	EOF
	restart_broker
'

test_expect_success 'mqtt.max_topic_levels 4: five-level topics and filters are refused' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("levels", autoack=True)
	rcs = c.subscribe("l/2/3/4", "l/2/3/4/5", "l/+/+/+/+", "l/2/3/#")
	check(rcs == [0, 0x8f, 0x8f, 0], "four levels ok, five refused",
	      [hex(r) for r in rcs])
	c.publish("l/2/3/4", "four", qos=1)
	check(c.payloads(1) == ["four"], "four levels delivered")
	c.send(publish_packet("l/2/3/4/5", "five", qos=1, pid=9))
	check(c.expect_closed() == 0x90, "five levels: DISCONNECT 0x90")
	c3 = Raw("levels-v4", version=4)
	check(c3.subscribe("l/2/3/4/5") == [0x80], "v3.1.1: 0x80")
	c3.disconnect()
	EOF
'

test_expect_success 'mqtt.exclusive_subscription true: one subscriber at a time, 0x97 for the next' '
	pubsub_py <<-\EOF
	from pubsub import *
	a = Raw("excl-a", autoack=True)
	b = Raw("excl-b", autoack=True)
	check(a.subscribe("$exclusive/ex/t", qos=1) == [1], "the first")
	check(b.subscribe("$exclusive/ex/t", qos=1) == [0x97],
	      "the second: Quota exceeded")
	check(b.subscribe("ex/t", qos=1) == [1], "the real topic is free")
	pub = Raw("excl-pub")
	pub.publish("ex/t", "x", qos=1)
	check(a.payloads(1) == ["x"], "the exclusive subscriber gets it")
	check(b.payloads(1) == ["x"], "the plain one too")
	check(a.unsubscribe("$exclusive/ex/t") == [0], "released")
	check(b.subscribe("$exclusive/ex/t", qos=1) == [1], "free again")
	for c in (a, b, pub):
	    c.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
