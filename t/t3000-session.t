#!/bin/sh

test_description='sessions: expiry, clean start, offline queueing

MQTT 5 Session Expiry Interval and Clean Start (3.1.2.4, 3.1.2.11.2,
4.1), MQTT 3.1.1 Clean Session with mqtt.session_expiry_interval,
messages queued for an offline session (mqtt.mqueue_store_qos0,
mqtt.max_mqueue_len and its $SYS counter), and the Session Expiry
Interval of a DISCONNECT (3.14.2.2.2).'

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
	  session_expiry_interval: 3s
	sys_topics:
	  sys_msg_interval: 1s
	EOF
	start_broker
'

test_expect_success 'v5: clean start 0 within the expiry resumes the session' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-resume", clean=True, props={"session_expiry": 60})
	check(c.connack.session_present == 0, "new session: Session Present 0")
	c.subscribe("s/resume", qos=1)
	c.disconnect()
	c = raw("s-resume", clean=False, props={"session_expiry": 60})
	check(c.connack.session_present == 1, "Session Present 1")
	pub = raw("s-resume-pub")
	pub.publish("s/resume", "kept", qos=1)
	got = c.payloads(1)
	check(got == ["kept"], "the subscription was kept", got)
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'v5: after the expiry a new session starts' '
	sessions_py <<-\EOF &&
	from sessions import *
	c = raw("s-expire", clean=True, props={"session_expiry": 1})
	c.subscribe("s/expire", qos=1)
	c.disconnect()
	EOF
	wait_for "broker_log_grep -q \"session: .s-expire. expired\"" 5 &&
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-expire", clean=False, props={"session_expiry": 60})
	check(c.connack.session_present == 0, "Session Present 0 after expiry")
	pub = raw("s-expire-pub")
	pub.publish("s/expire", "lost", qos=1)
	c.expect_nothing(1)
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'v5: the session outlives its connection until the expiry' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-outlive", clean=True, props={"session_expiry": 3})
	c.subscribe("s/outlive", qos=1)
	c.close()
	time.sleep(1.5)
	c = raw("s-outlive", clean=False, props={"session_expiry": 3})
	check(c.connack.session_present == 1, "Session Present 1 after 1.5 s")
	c.disconnect(props={"session_expiry": 0})
	EOF
'

test_expect_success 'v5: no Session Expiry Interval: the session ends with the connection' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-zero", clean=True)
	c.subscribe("s/zero", qos=1)
	c.disconnect()
	c = raw("s-zero", clean=False)
	check(c.connack.session_present == 0, "Session Present 0")
	c.disconnect()
	EOF
'

test_expect_success 'v5: clean start 1 discards the session' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-clean", clean=True, props={"session_expiry": 60})
	c.subscribe("s/clean", qos=1)
	c.disconnect()
	pub = raw("s-clean-pub")
	pub.publish("s/clean", "queued", qos=1)
	c = raw("s-clean", clean=True, props={"session_expiry": 60})
	check(c.connack.session_present == 0, "Session Present 0")
	c.expect_nothing(0.5)
	pub.publish("s/clean", "after", qos=1)
	c.expect_nothing(1)
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success '3.1.1: clean session 0 keeps the session' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-v3", version=4, clean=False)
	check(c.connack.session_present == 0, "new session: Session Present 0")
	c.subscribe("s/v3", qos=1)
	c.disconnect()
	pub = raw("s-v3-pub")
	pub.publish("s/v3", "while offline", qos=1)
	c = raw("s-v3", version=4, clean=False)
	check(c.connack.session_present == 1, "Session Present 1")
	got = c.payloads(1)
	check(got == ["while offline"], "the queued message arrives", got)
	pub.publish("s/v3", "online", qos=1)
	got = c.payloads(1)
	check(got == ["online"], "the subscription was kept", got)
	c.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success '3.1.1: the session expires after mqtt.session_expiry_interval' '
	wait_for "broker_log_grep -q \"session: .s-v3. expired\"" 6 &&
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-v3", version=4, clean=False)
	check(c.connack.session_present == 0, "Session Present 0 after expiry")
	c.disconnect()
	c = raw("s-v3", version=4, clean=True)
	c.disconnect()
	EOF
'

test_expect_success '3.1.1: clean session 1 discards the session, keeps none' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-v3c", version=4, clean=False)
	c.subscribe("s/v3c", qos=1)
	c.disconnect()
	c = raw("s-v3c", version=4, clean=True)
	check(c.connack.session_present == 0, "Session Present 0")
	c.subscribe("s/v3c2", qos=1)
	c.disconnect()
	c = raw("s-v3c", version=4, clean=False)
	check(c.connack.session_present == 0,
	      "nothing kept after clean session 1: Session Present 0")
	pub = raw("s-v3c-pub")
	pub.publish("s/v3c", "old sub", qos=1)
	pub.publish("s/v3c2", "clean sub", qos=1)
	c.expect_nothing(1)
	c.disconnect()
	c = raw("s-v3c", version=4, clean=True)
	c.disconnect()
	pub.disconnect()
	EOF
'

test_expect_success 'QoS 1 and 2 messages queued offline all arrive (paho)' '
	sessions_py <<-\EOF
	from sessions import *
	sub, sp = paho_client("s-queue", clean=True, expiry=300)
	paho_subscribe(sub, "s/queue", 2)
	paho_stop(sub)
	pub, _ = paho_client("s-queue-pub")
	sent = ["m%02d" % i for i in range(20)]
	for i, m in enumerate(sent):
	    paho_publish(pub, "s/queue", [m], qos=1 + i % 2)
	paho_stop(pub)
	sub, sp = paho_client("s-queue", clean=False, expiry=300)
	check(sp == 1, "Session Present 1")
	got = paho_messages(sub, 20)
	# paho hands a QoS 2 message over at PUBREL: compare per QoS.
	for q in (1, 2):
	    want = [m for i, m in enumerate(sent) if 1 + i % 2 == q]
	    have = [m.payload.decode() for m in got if m.qos == q]
	    check(have == want, "QoS %d messages all there, in order" % q, have)
	time.sleep(0.5)
	check(sub.inbox.empty(), "no duplicates")
	paho_stop(sub)
	c = raw("s-queue", clean=True)
	c.disconnect()
	EOF
'

test_expect_success 'QoS 1 and 2 messages queued offline are sent in order (3.1.1, 5)' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    props = {"session_expiry": 60} if v == 5 else None
	    c = raw("s-order", version=v, clean=False, props=props)
	    c.subscribe("s/order", qos=2)
	    c.disconnect()
	    pub = raw("s-order-pub", version=v)
	    sent = ["v%d-m%02d" % (v, i) for i in range(10)]
	    for i, m in enumerate(sent):
	        pub.publish("s/order", m, qos=2 - i % 2)
	    c = raw("s-order", version=v, clean=False, props=props)
	    check(c.connack.session_present == 1, "v%d: Session Present 1" % v)
	    got = c.messages(10)
	    check([p.payload.decode() for p in got] == sent,
	          "v%d: all 10 in order" % v, got)
	    check([p.qos for p in got] == [2 - i % 2 for i in range(10)],
	          "v%d: each at its QoS" % v)
	    c.expect_nothing(0.5)
	    c.disconnect()
	    c = raw("s-order", version=v, clean=True)
	    c.disconnect()
	    pub.disconnect()
	EOF
'

test_expect_success 'QoS 0 is queued offline with mqueue_store_qos0 true' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-q0", clean=True, props={"session_expiry": 60})
	c.subscribe("s/q0", qos=1)
	c.disconnect()
	pub = raw("s-q0-pub")
	for m in ["a", "b", "c"]:
	    pub.publish("s/q0", m, qos=0)
	pub.publish("s/q0", "d", qos=1)
	c = raw("s-q0", clean=False, props={"session_expiry": 60})
	got = c.messages(4)
	check([p.payload.decode() for p in got] == ["a", "b", "c", "d"],
	      "QoS 0 queued, in order", got)
	check([p.qos for p in got] == [0, 0, 0, 1], "QoS kept")
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'queued messages past their Message Expiry Interval are dropped' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-mexp", clean=True, props={"session_expiry": 60})
	c.subscribe("s/mexp", qos=1)
	c.disconnect()
	pub = raw("s-mexp-pub")
	pub.publish("s/mexp", "short", qos=1, props={"message_expiry": 1})
	pub.publish("s/mexp", "long", qos=1, props={"message_expiry": 60})
	pub.publish("s/mexp", "none", qos=1)
	time.sleep(2.2)
	c = raw("s-mexp", clean=False, props={"session_expiry": 60})
	got = c.messages(2)
	check([p.payload for p in got] == [b"long", b"none"],
	      "the expired one is gone", got)
	left = got[0].props.get("message_expiry")
	check(left is not None and 55 <= left <= 58,
	      "the expiry sent is what is left of 60 s", got[0])
	check("message_expiry" not in got[1].props, "none without", got[1])
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'restart with mqueue_store_qos0 false and max_mqueue_len 5' '
	broker_config <<-\EOF &&
	mqtt:
	  mqueue_store_qos0: false
	  max_mqueue_len: 5
	EOF
	restart_broker
'

test_expect_success 'QoS 0 is not queued offline with mqueue_store_qos0 false' '
	sessions_py <<-\EOF
	from sessions import *
	before = sys_metric("metrics/delivery/dropped/qos0_msg")
	c = raw("s-q0n", clean=True, props={"session_expiry": 60})
	c.subscribe("s/q0n", qos=1)
	c.disconnect()
	pub = raw("s-q0n-pub")
	pub.publish("s/q0n", "q0-a", qos=0)
	pub.publish("s/q0n", "q1", qos=1)
	pub.publish("s/q0n", "q0-b", qos=0)
	# Another worker may hold the session: reconnect once it has seen
	# q0-b, or q0-b may reach the client online.
	ok = wait_until(lambda: sys_metric(
	    "metrics/delivery/dropped/qos0_msg") >= before + 2, 8, 0)
	check(ok, "both QoS 0 messages were dropped for the offline session")
	c = raw("s-q0n", clean=False, props={"session_expiry": 60})
	check(c.connack.session_present == 1, "Session Present 1")
	got = c.payloads(1)
	check(got == ["q1"], "only the QoS 1 message", got)
	c.expect_nothing(1)
	pub.publish("s/q0n", "q0-online", qos=0)
	got = c.payloads(1)
	check(got == ["q0-online"], "QoS 0 still delivered while online", got)
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'max_mqueue_len 5: only the newest 5 of 10 arrive, drops are counted' '
	sessions_py <<-\EOF
	from sessions import *
	before = sys_metric("metrics/delivery/dropped/queue_full")
	c = raw("s-mq", clean=True, props={"session_expiry": 60})
	c.subscribe("s/mq", qos=1)
	c.disconnect()
	pub = raw("s-mq-pub")
	for i in range(10):
	    pub.publish("s/mq", "n%d" % i, qos=1)
	pub.disconnect()
	c = raw("s-mq", clean=False, props={"session_expiry": 60})
	got = c.payloads(5)
	check(got == ["n5", "n6", "n7", "n8", "n9"], "the newest 5", got)
	c.expect_nothing(1)
	c.disconnect(props={"session_expiry": 0})
	ok = wait_until(lambda: sys_metric(
	    "metrics/delivery/dropped/queue_full") >= before + 5, 8, 0)
	after = sys_metric("metrics/delivery/dropped/queue_full")
	check(after - before == 5, "delivery/dropped/queue_full grew by 5",
	      before, after)
	EOF
'

test_expect_success 'DISCONNECT: Session Expiry 0 at CONNECT, non-zero at DISCONNECT is 0x82' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-dis82", clean=True)
	c.subscribe("s/dis82", qos=1)
	c.send(disconnect_packet(0, {"session_expiry": 60}))
	c.expect_disconnect(0x82)
	c = raw("s-dis82", clean=False)
	check(c.connack.session_present == 0, "the session was not kept")
	c.disconnect()
	EOF
'

test_expect_success 'DISCONNECT: Session Expiry 0 ends a session at the disconnect' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-dis0", clean=True, props={"session_expiry": 300})
	c.subscribe("s/dis0", qos=1)
	c.disconnect(props={"session_expiry": 0})
	pub = raw("s-dis0-pub")
	pub.publish("s/dis0", "x", qos=1)
	c = raw("s-dis0", clean=False, props={"session_expiry": 300})
	check(c.connack.session_present == 0, "the session ended")
	c.expect_nothing(0.5)
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'DISCONNECT: a longer Session Expiry at DISCONNECT keeps the session' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-dislong", clean=True, props={"session_expiry": 1})
	c.subscribe("s/dislong", qos=1)
	c.disconnect(props={"session_expiry": 60})
	time.sleep(2.5)
	pub = raw("s-dislong-pub")
	pub.publish("s/dislong", "still here", qos=1)
	c = raw("s-dislong", clean=False, props={"session_expiry": 60})
	check(c.connack.session_present == 1, "Session Present 1 after 2.5 s")
	got = c.payloads(1)
	check(got == ["still here"], "queued for the kept session", got)
	c.disconnect(props={"session_expiry": 0})
	pub.disconnect()
	EOF
'

test_expect_success 'restart with max_mqueue_len 0' '
	broker_config <<-\EOF &&
	mqtt:
	  max_mqueue_len: 0
	EOF
	restart_broker
'

test_expect_success 'max_mqueue_len 0 means no limit (EMQX)' '
	sessions_py <<-\EOF
	from sessions import *
	c = raw("s-mq0", clean=True, props={"session_expiry": 60})
	c.subscribe("s/mq0", qos=1)
	c.disconnect()
	pub = raw("s-mq0-pub")
	for i in range(20):
	    pub.publish("s/mq0", "n%d" % i, qos=1)
	pub.disconnect()
	c = raw("s-mq0", clean=False, props={"session_expiry": 60})
	got = c.payloads(20)
	check(got == ["n%d" % i for i in range(20)], "all 20 arrive", got)
	c.disconnect(props={"session_expiry": 0})
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
