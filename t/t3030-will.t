#!/bin/sh

test_description='sessions: will messages

The will is published when the network connection closes without a
normal DISCONNECT (MQTT-3.1.2-8, 3.1.2.5): a dropped socket, a keep alive
timeout, a protocol error, a takeover; with its QoS, retain flag and (5.0)
properties.  A DISCONNECT 0x00 deletes it, 0x04 publishes it.  The Will
Delay Interval (3.1.3.2.2) holds it back, cancelled by a reconnect to the
session within the delay, and cut short by the end of the session.'

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

test_expect_success 'a closed socket publishes the will with its QoS and retain flag' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    w = raw("w-watch", version=5)
	    w.subscribe(("w/fin/%d" % v, 2 | 0x08))
	    c = raw("w-fin", version=v, will={"topic": "w/fin/%d" % v,
	            "payload": b"gone %d" % v, "qos": 1, "retain": True})
	    c.close()
	    p = w.messages(1)[0]
	    check(p.topic == "w/fin/%d" % v and p.payload == b"gone %d" % v,
	          "v%d: the will arrives" % v, p)
	    check(p.qos == 1, "v%d: at the will QoS 1" % v, p)
	    check(p.retain == 1, "v%d: retain flag (Retain As Published)" % v, p)
	    w.expect_nothing(0.5)
	    w.disconnect()
	    late = raw("w-late", version=v)
	    late.subscribe("w/fin/%d" % v, qos=1)
	    p = late.messages(1)[0]
	    check(p.payload == b"gone %d" % v and p.retain == 1,
	          "v%d: the will was retained" % v, p)
	    late.disconnect()
	    clear = raw("w-clear")
	    clear.publish("w/fin/%d" % v, b"", qos=1, retain=True)
	    clear.disconnect()
	EOF
'

test_expect_success 'QoS 2 and QoS 0 wills keep their QoS' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/qos/+", qos=2)
	for q in (0, 2):
	    c = raw("w-qos%d" % q, will={"topic": "w/qos/%d" % q,
	            "payload": "q", "qos": q})
	    c.close()
	    p = w.messages(1)[0]
	    check(p.topic == "w/qos/%d" % q and p.qos == q and p.retain == 0,
	          "QoS %d will, not retained" % q, p)
	w.disconnect()
	EOF
'

test_expect_success 'a connection reset (RST) publishes the will' '
	sessions_py <<-\EOF
	from sessions import *
	for v in (4, 5):
	    w = raw("w-watch")
	    w.subscribe("w/rst", qos=1)
	    c = raw("w-rst", version=v, will={"topic": "w/rst",
	            "payload": "reset %d" % v, "qos": 1})
	    c.reset()
	    p = w.recv(3)
	    check(p is not None and p.type == PUBLISH and
	          p.payload == b"reset %d" % v, "v%d: the will arrives" % v, p)
	    w.disconnect()
	EOF
'

test_expect_success 'v5 will properties are forwarded' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/props", qos=1)
	c = raw("w-props", will={"topic": "w/props", "payload": "{}",
	        "qos": 1, "props": [
	            ("payload_format", 1),
	            ("message_expiry", 300),
	            ("content_type", "application/json"),
	            ("response_topic", "w/reply"),
	            ("correlation_data", b"\x01\x02\x03"),
	            ("user", [("k1", "v1"), ("k2", "v2")]),
	        ]})
	c.close()
	p = w.messages(1)[0]
	pr = p.props
	check(pr.get("payload_format") == 1, "payload format", pr)
	check(0 < pr.get("message_expiry", 0) <= 300, "message expiry", pr)
	check(pr.get("content_type") == "application/json", "content type", pr)
	check(pr.get("response_topic") == "w/reply", "response topic", pr)
	check(pr.get("correlation_data") == b"\x01\x02\x03", "correlation", pr)
	check(pr.get("user") == [("k1", "v1"), ("k2", "v2")],
	      "user properties, in order", pr)
	check("will_delay" not in pr, "no will delay in the PUBLISH", pr)
	w.disconnect()
	EOF
'

test_expect_success 'DISCONNECT 0x00 deletes the will (3.1.1 and 5)' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/normal", qos=1)
	for v in (4, 5):
	    c = raw("w-normal", version=v, will={"topic": "w/normal",
	            "payload": "no", "qos": 1})
	    c.disconnect()
	w.expect_nothing(1)
	w.disconnect()
	EOF
'

test_expect_success 'v5 DISCONNECT 0x04 publishes the will' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/04", qos=1)
	c = raw("w-04", will={"topic": "w/04", "payload": "with will",
	        "qos": 1})
	c.disconnect(rc=0x04)
	p = w.messages(1)[0]
	check(p.payload == b"with will", "the will arrives", p)
	w.expect_nothing(0.5)
	w.disconnect()
	EOF
'

test_expect_success 'a protocol error (DISCONNECT raising Session Expiry from 0) publishes the will' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/err", qos=1)
	c = raw("w-err", will={"topic": "w/err", "payload": "error", "qos": 1})
	c.send(disconnect_packet(0, {"session_expiry": 30}))
	c.expect_disconnect(0x82)
	p = w.messages(1)[0]
	check(p.payload == b"error", "the will arrives", p)
	w.disconnect()
	EOF
'

test_expect_success 'Will Delay Interval 2 s: published about 2 s after the close' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/delay", qos=1)
	c = raw("w-delay", props={"session_expiry": 60}, will={
	        "topic": "w/delay", "payload": "late", "qos": 1,
	        "props": {"will_delay": 2}})
	c.close()
	t0 = time.monotonic()
	p = w.recv(6)
	dt = time.monotonic() - t0
	check(p is not None and p.type == PUBLISH and p.payload == b"late",
	      "the will arrives", p)
	check(1.5 <= dt <= 4, "after about 2 s", dt)
	w.disconnect()
	c = raw("w-delay", clean=True)
	c.disconnect()
	EOF
'

test_expect_success 'Will Delay: a reconnect to the session within the delay cancels it' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/cancel", qos=1)
	for v in (4, 5):
	    c = raw("w-cancel", version=5, props={"session_expiry": 60}, will={
	            "topic": "w/cancel", "payload": "no", "qos": 1,
	            "props": {"will_delay": 2}})
	    c.close()
	    time.sleep(0.5)
	    c = raw("w-cancel", version=v, clean=False,
	            props={"session_expiry": 60} if v == 5 else None)
	    check(c.connack.session_present == 1, "v%d: resumed" % v)
	    w.expect_nothing(3)
	    c.disconnect()
	c = raw("w-cancel", clean=True)
	c.disconnect()
	w.disconnect()
	EOF
'

test_expect_success 'Will Delay longer than the session expiry: published at the session end' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/end", qos=1)
	c = raw("w-end", props={"session_expiry": 2}, will={
	        "topic": "w/end", "payload": "session ended", "qos": 1,
	        "props": {"will_delay": 30}})
	c.close()
	t0 = time.monotonic()
	p = w.recv(8)
	dt = time.monotonic() - t0
	check(p is not None and p.type == PUBLISH and
	      p.payload == b"session ended", "the will arrives", p)
	check(1.5 <= dt <= 4, "at the session expiry, about 2 s", dt)
	w.expect_nothing(0.5)
	w.disconnect()
	EOF
'

test_expect_success 'Will Delay with Session Expiry 0: published at once' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/now", qos=1)
	c = raw("w-now", will={"topic": "w/now", "payload": "now", "qos": 1,
	        "props": {"will_delay": 30}})
	c.close()
	t0 = time.monotonic()
	p = w.recv(3)
	check(p is not None and p.type == PUBLISH and p.payload == b"now",
	      "the will arrives", p)
	check(time.monotonic() - t0 < 1.5, "at once")
	w.disconnect()
	EOF
'

test_expect_success 'a keep alive timeout publishes the will' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/ka/+", qos=1)
	for v in (4, 5):
	    c = raw("w-ka", version=v, keepalive=1, will={
	            "topic": "w/ka/%d" % v, "payload": "silent", "qos": 1})
	    t0 = time.monotonic()
	    if v == 5:
	        c.expect_disconnect(0x8D, timeout=4)
	    else:
	        check(c.expect_closed(4) == [], "v4: closed")
	    dt = time.monotonic() - t0
	    check(1.0 <= dt <= 3, "v%d: after 1.5 keep alives" % v, dt)
	    p = w.messages(1)[0]
	    check(p.topic == "w/ka/%d" % v and p.payload == b"silent",
	          "v%d: the will arrives" % v, p)
	w.disconnect()
	EOF
'

test_expect_success 'a client that keeps PINGing is not timed out, its will kept' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/ping", qos=1)
	c = raw("w-ping", keepalive=1, will={"topic": "w/ping",
	        "payload": "no", "qos": 1})
	for i in range(8):
	    time.sleep(0.5)
	    check(c.is_open(1), "alive after %.1f s" % ((i + 1) * 0.5))
	w.expect_nothing(0.2)
	c.disconnect()
	w.expect_nothing(0.5)
	w.disconnect()
	EOF
'

test_expect_success 'a takeover publishes the old connection will (no delay)' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/tk/+", qos=1)
	for v in (4, 5):
	    old = raw("w-tk", version=v, clean=v == 5,
	              props={"session_expiry": 60} if v == 5 else None,
	              will={"topic": "w/tk/%d" % v, "payload": "taken %d" % v,
	                    "qos": 1})
	    new = raw("w-tk", version=v, clean=False,
	              props={"session_expiry": 60} if v == 5 else None)
	    old.expect_closed()
	    p = w.messages(1)[0]
	    check(p.topic == "w/tk/%d" % v and p.payload == b"taken %d" % v,
	          "v%d: the old will arrives" % v, p)
	    w.expect_nothing(0.5)
	    new.disconnect()
	w.expect_nothing(0.5)
	c = raw("w-tk", version=4, clean=True)
	c.disconnect()
	w.disconnect()
	EOF
'

test_expect_success 'a takeover does not publish a will with a delay' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/tkd", qos=1)
	old = raw("w-tkd", props={"session_expiry": 60}, will={
	          "topic": "w/tkd", "payload": "no", "qos": 1,
	          "props": {"will_delay": 2}})
	new = raw("w-tkd", clean=False, props={"session_expiry": 60})
	old.expect_disconnect(0x8E)
	w.expect_nothing(3)
	new.disconnect(props={"session_expiry": 0})
	w.expect_nothing(0.5)
	w.disconnect()
	EOF
'

test_expect_success 'the new connection will replaces the old one' '
	sessions_py <<-\EOF
	from sessions import *
	w = raw("w-watch")
	w.subscribe("w/repl/+", qos=1)
	c = raw("w-repl", props={"session_expiry": 60}, will={
	        "topic": "w/repl/old", "payload": "old", "qos": 1,
	        "props": {"will_delay": 5}})
	c.close()
	c = raw("w-repl", clean=False, props={"session_expiry": 60}, will={
	        "topic": "w/repl/new", "payload": "new", "qos": 1})
	c.close()
	p = w.messages(1)[0]
	check(p.topic == "w/repl/new", "the new will", p)
	w.expect_nothing(1)
	w.disconnect()
	c = raw("w-repl", clean=True)
	c.disconnect()
	EOF
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
