#!/bin/sh

test_description='shared subscriptions: $share/GROUP/FILTER

Each message goes to one member of a group (MQTT 5 4.8.2) under each
mqtt.shared_subscription_strategy (random, round_robin, sticky,
hash_clientid, hash_topic); groups and plain subscriptions each get
their copy; the unacknowledged messages of a member whose session ends
go to another member; no retained messages on a shared subscription;
No Local on a shared subscription is a protocol error (3.8.3.1);
invalid share names (4.8.2); mqtt.shared_subscription false (0x9e).'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

pubsub_py () {
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
		PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
		"$PYTHON" - "$@"
}

run_group () {
	cat group.py - >prog.py &&
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
		PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
		"$PYTHON" prog.py "$@"
}

test_expect_success 'start the broker (round_robin)' '
	broker_config <<-\EOF &&
	mqtt:
	  shared_subscription_strategy: round_robin
	sys_topics:
	  sys_msg_interval: 1s
	EOF
	start_broker
'

# The Python prelude of the strategy tests: three members of $share/g/F,
# a v5 Raw client, a 3.1.1 and a v5 paho client, and who got what.
test_expect_success 'the Python prelude of the group tests' '
	cat >group.py <<-\EOF
	from pubsub import *

	def members(flt, tag):
	    ms = [Raw("%s-m0" % tag, autoack=True),
	          Paho("%s-m1" % tag, version=4),
	          Paho("%s-m2" % tag)]
	    for m in ms:
	        rcs = m.subscribe("$share/g/" + flt, qos=1)
	        check(rcs == [1], "%r joined the group" % m, rcs)
	    return ms

	def collect(ms, n):
	    """{payload: member index} for n messages, each delivered once."""
	    got = {}
	    for i, ps in enumerate(spread(ms, n)):
	        for x in ps:
	            check(x not in got, "each message delivered once", x)
	            got[x] = i
	    return got

	def counts(got, n=3):
	    c = [0] * n
	    for i in got.values():
	        c[i] += 1
	    return c

	def close(*cs):
	    for c in cs:
	        c.disconnect()
	EOF
'

test_expect_success 'round_robin: one member each, an even split of 30' '
	run_group <<-\EOF
	ms = members("rr/t", "rr")
	pub = Raw("rr-pub")
	for i in range(30):
	    pub.publish("rr/t", "m%d" % i, qos=1)
	c = counts(collect(ms, 30))
	check(max(c) - min(c) <= 1, "10 each, give or take one", c)
	close(pub, *ms)
	EOF
'

test_expect_success 'two groups on one filter each get every message; a plain subscriber too' '
	pubsub_py <<-\EOF
	from pubsub import *
	g1 = [Raw("tg-a%d" % i, autoack=True) for i in range(2)]
	g2 = [Raw("tg-b%d" % i, version=4, autoack=True) for i in range(2)]
	for m in g1:
	    check(m.subscribe("$share/g1/tg/#", qos=1) == [1], "g1")
	for m in g2:
	    check(m.subscribe("$share/g2/tg/#", qos=1) == [1], "g2")
	plain = Paho("tg-plain")
	plain.subscribe("tg/#", qos=1)
	pub = Raw("tg-pub")
	for i in range(10):
	    pub.publish("tg/x", "m%d" % i, qos=1)
	want = ["m%d" % i for i in range(10)]
	for g in (g1, g2):
	    got = sum(spread(g, 10, quiet=0.1), [])
	    check(sorted(got) == sorted(want), "each group: every message once",
	          sorted(got))
	check(sorted(plain.payloads(10)) == sorted(want), "the plain one")
	plain.expect_nothing(0.2)
	for c in g1 + g2 + [plain, pub]:
	    c.disconnect()
	EOF
'

test_expect_success 'a member that subscribed to the group and to the plain filter gets both copies' '
	pubsub_py <<-\EOF
	from pubsub import *
	m = Raw("both-m", autoack=True)
	check(m.subscribe("$share/g/both/t", "both/t", qos=1) == [1, 1], "sub")
	pub = Raw("both-pub")
	pub.publish("both/t", "x", qos=1)
	got = m.messages(2)
	check([p.payload for p in got] == [b"x", b"x"], "two copies", got)
	m.expect_nothing(0.2)
	m.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'shared QoS: min of the publish and the member subscription' '
	pubsub_py <<-\EOF
	from pubsub import *
	m = Raw("sq-m")
	check(m.subscribe("$share/g/sq/t", qos=1) == [1], "sub")
	pub = Raw("sq-pub")
	pub.publish("sq/t", "two", qos=2)
	p = m.expect(PUBLISH)
	check(p.qos == 1, "QoS 1", p)
	m.ack(p)
	pub.publish("sq/t", "zero", qos=0)
	p = m.expect(PUBLISH)
	check(p.qos == 0 and p.payload == b"zero", "QoS 0", p)
	m.disconnect()
	pub.disconnect()
	EOF
'

for how in disconnect close v4
do
	test_expect_success "a member whose session ends ($how) hands its unacknowledged messages to another" '
		pubsub_py $how <<-\EOF
		from pubsub import *
		how = sys.argv[1]
		if how == "v4":
		    m1 = Raw("ho-m1-%s" % how, version=4)
		else:
		    m1 = Raw("ho-m1-%s" % how, props={"receive_max": 10})
		check(m1.subscribe("$share/g/ho/%s" % how, qos=1) == [1], "m1")
		m2 = Raw("ho-m2-%s" % how, autoack=True)
		check(m2.subscribe("$share/g/ho/%s" % how, qos=1) == [1], "m2")
		pub = Raw("ho-pub-%s" % how)
		want = ["m%d" % i for i in range(10)]
		for x in want:
		    pub.publish("ho/%s" % how, x, qos=1)
		held, first = spread([m1, m2], 10)
		check(len(held) >= 2, "m1 holds unacknowledged messages", held)
		check(sorted(held + first) == sorted(want), "split", held, first)
		if how == "close":
		    m1.close()
		else:
		    m1.disconnect()
		later = spread([m2], len(held))[0]
		check(sorted(later) == sorted(held), "m2 gets what m1 held", later)
		m2.disconnect()
		pub.disconnect()
		EOF
	'
done

test_expect_success 'queued messages of a member whose window is full go to another too' '
	pubsub_py <<-\EOF
	from pubsub import *
	m1 = Raw("hq-m1", props={"receive_max": 1})
	m1.subscribe("$share/g/hq/t", qos=1)
	m2 = Raw("hq-m2", autoack=True)
	m2.subscribe("$share/g/hq/t", qos=1)
	pub = Raw("hq-pub")
	want = ["m%d" % i for i in range(10)]
	for x in want:
	    pub.publish("hq/t", x, qos=1)
	# round robin: five each; m1 has one in flight and four queued
	held, first = spread([m1, m2], 6)
	check(len(held) == 1, "one in flight at m1", held)
	m1.disconnect()
	later = spread([m2], len(want) - len(first))[0]
	check(sorted(first + later) == sorted(want),
	      "m2 ends up with every message", first, later)
	m2.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'a shared subscription gets no retained messages' '
	pubsub_py <<-\EOF
	from pubsub import *
	pub = Raw("sr-pub")
	pub.publish("sr/t", "kept", qos=1, retain=True)
	for v in (4, 5):
	    m = Raw("sr-m%d" % v, version=v, autoack=True)
	    check(m.subscribe("$share/g/sr/t", qos=1) == [1], "sub")
	    m.expect_nothing(0.4)
	    m.disconnect()
	p = Raw("sr-plain", autoack=True)
	p.subscribe("sr/t", qos=1)
	check(p.payloads(1) == ["kept"], "a plain subscription does")
	pub.publish("sr/t", "", qos=1, retain=True)
	p.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'a shared subscription carries its Subscription Identifier' '
	pubsub_py <<-\EOF
	from pubsub import *
	m = Raw("ssid-m", autoack=True)
	check(m.subscribe("$share/g/ssid/t", qos=1, sub_id=42) == [1], "sub")
	pub = Raw("ssid-pub")
	pub.publish("ssid/t", "x", qos=1)
	p = m.messages(1)[0]
	check(p.props.all("sub_id") == [42], "id 42", p)
	m.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'a shared subscription to $SYS topics gets the $SYS messages' '
	pubsub_py <<-\EOF
	from pubsub import *
	m = [Raw("ssys-m%d" % i, autoack=True) for i in range(2)]
	for c in m:
	    check(c.subscribe("$share/g/$SYS/brokers/+/metrics/messages/received")
	          == [0], "sub")
	got = spread(m, 2, timeout=3, quiet=0)
	check(all(p.isdigit() for p in sum(got, [])), "counts", got)
	for c in m:
	    c.disconnect()
	EOF
'

test_expect_success 'No Local on a shared subscription: DISCONNECT 0x82' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("share-nl")
	c.send(subscribe_packet(1, [("$share/g/nl/t", sub_options(1, nl=True))]))
	c.expect_disconnect(0x82)
	EOF
'

for v in 4 5
do
	test_expect_success "v$v: invalid \$share filters are refused" '
		pubsub_py $v <<-\EOF
		from pubsub import *
		v = int(sys.argv[1])
		bad = 0x8f if v == 5 else 0x80
		c = Raw("share-bad-v%d" % v, version=v)
		fs = ["$share/g", "$share//t", "$share/g+/t", "$share/g#/t",
		      "$share/g/", "$share/g/a/#/b", "$share/+/t", "$share/#"]
		rcs = c.subscribe(*fs)
		check(rcs == [bad] * len(fs), "all refused with 0x%02x" % bad,
		      list(zip(fs, map(hex, rcs))))
		check(c.subscribe("$share/g/ok/+") == [0], "a valid one")
		c.disconnect()
		EOF
	'
done

test_expect_success 'restart with sticky' '
	broker_config <<-\EOF &&
	mqtt:
	  shared_subscription_strategy: sticky
	EOF
	restart_broker
'

test_expect_success 'sticky: every message to the same member' '
	run_group <<-\EOF
	ms = members("st/t", "st")
	pub = Raw("st-pub")
	for i in range(30):
	    pub.publish("st/t", "m%d" % i, qos=1)
	c = counts(collect(ms, 30))
	check(sorted(c) == [0, 0, 30], "all 30 to one member", c)
	close(pub, *ms)
	EOF
'

test_expect_success 'sticky: when the chosen member leaves, another one takes over' '
	run_group <<-\EOF
	ms = members("st2/t", "st2")
	pub = Raw("st2-pub")
	pub.publish("st2/t", "first", qos=1)
	got = collect(ms, 1)
	who = got["first"]
	ms[who].disconnect()
	rest = [m for i, m in enumerate(ms) if i != who]
	for i in range(10):
	    pub.publish("st2/t", "m%d" % i, qos=1)
	c = counts(collect(rest, 10), 2)
	check(sorted(c) == [0, 10], "all 10 to one of the others", c)
	close(pub, *rest)
	EOF
'

test_expect_success 'restart with random' '
	broker_config <<-\EOF &&
	mqtt:
	  shared_subscription_strategy: random
	EOF
	restart_broker
'

test_expect_success 'random: one member each, not all to one' '
	run_group <<-\EOF
	ms = members("rd/t", "rd")
	pub = Raw("rd-pub")
	for i in range(30):
	    pub.publish("rd/t", "m%d" % i, qos=1)
	c = counts(collect(ms, 30))
	check(max(c) < 30, "spread over the members", c)
	close(pub, *ms)
	EOF
'

test_expect_success 'restart with hash_clientid' '
	broker_config <<-\EOF &&
	mqtt:
	  shared_subscription_strategy: hash_clientid
	EOF
	restart_broker
'

test_expect_success 'hash_clientid: the same publisher always reaches the same member' '
	run_group <<-\EOF
	ms = members("hc/t", "hc")
	pubs = [Raw("hc-pub%d" % i) for i in range(6)]
	for k in range(5):
	    for i, p in enumerate(pubs):
	        p.publish("hc/t", "p%d-%d" % (i, k), qos=1)
	got = collect(ms, 30)
	per = {}
	for payload, who in got.items():
	    per.setdefault(payload.split("-")[0], set()).add(who)
	check(all(len(s) == 1 for s in per.values()),
	      "one member per publisher", per)
	check(len(set.union(*per.values())) > 1, "not all to one member", per)
	close(*pubs)
	close(*ms)
	EOF
'

test_expect_success 'restart with hash_topic' '
	broker_config <<-\EOF &&
	mqtt:
	  shared_subscription_strategy: hash_topic
	EOF
	restart_broker
'

test_expect_success 'hash_topic: the same topic always reaches the same member' '
	run_group <<-\EOF
	ms = members("ht/#", "ht")
	pubs = [Raw("ht-pub%d" % i) for i in range(2)]
	for k in range(5):
	    for t in range(6):
	        pubs[(k + t) % 2].publish("ht/%d" % t, "t%d-%d" % (t, k), qos=1)
	got = collect(ms, 30)
	per = {}
	for payload, who in got.items():
	    per.setdefault(payload.split("-")[0], set()).add(who)
	check(all(len(s) == 1 for s in per.values()), "one member per topic",
	      per)
	check(len(set.union(*per.values())) > 1, "not all to one member", per)
	close(*pubs)
	close(*ms)
	EOF
'

test_expect_success 'restart with mqtt.shared_subscription false' '
	broker_config <<-\EOF &&
	mqtt:
	  shared_subscription: false
	EOF
	restart_broker
'

test_expect_success 'mqtt.shared_subscription false: CONNACK says so, SUBACK 0x9e (v5) / 0x80 (v3.1.1)' '
	pubsub_py <<-\EOF
	from pubsub import *
	c = Raw("noshare")
	check(c.connack.props.get("shared_available") == 0,
	      "CONNACK Shared Subscription Available 0", c.connack)
	check(c.subscribe("$share/g/ns/t", "ns/t") == [0x9e, 0],
	      "0x9e, the plain one granted")
	c.disconnect()
	c = Raw("noshare-v4", version=4)
	check(c.subscribe("$share/g/ns/t", "ns/t") == [0x80, 0], "0x80")
	c.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
