#!/bin/sh

test_description='close linger: clients still writing read why they were closed

When the broker ends a connection (DISCONNECT with a reason code, a
refused CONNACK, a kick) it sends what it owes, shuts down its write side
and reads and discards until the client closes, mqtt.close_linger at
most, so that a client still writing reads the reason code instead of
meeting a reset.  Clients here write before they read, as paho does, and
go on writing after the reason code, over TCP, TLS and WebSocket.  The linger is
bounded in time and in count (mqtt.close_linger_max per worker), and a
lingering socket is no connection: not counted, no client id held.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-rest.sh

TLS_PORT=$FLOCKMQ_PORT3
WS_PORT=$FLOCKMQ_PORT4
WSS_PORT=$FLOCKMQ_PORT5

# linger_py TRANSPORT [ARGS]: the Python program on stdin, with linger.py
# (rest.py's clients speaking TRANSPORT, tcp, tls, ws or wss, and the REST
# client).
linger_py () {
	case $1 in
	tls)	lp_port_=$TLS_PORT ;;
	ws)	lp_port_=$WS_PORT ;;
	wss)	lp_port_=$WSS_PORT ;;
	*)	lp_port_=$FLOCKMQ_PORT ;;
	esac
	lp_tr_=$1
	shift
	MQTT_PORT=$lp_port_ PUBSUB_TRANSPORT=$lp_tr_ \
	    PUBSUB_CAFILE=$TRASH_DIRECTORY/certs/ca.pem \
	    PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE PUBSUB_DEADLINE=40 \
	    REST_URL=$API REST_TOKEN=$TOKEN \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" - "$@"
}

# config LINGER MAX: the broker's configuration.
config () {
	broker_config <<-EOF
	mqtt:
	  workers: 2
	  max_awaiting_rel: 5
	  max_packet_size: 4KB
	  close_linger: $1
	  close_linger_max: $2
	listeners:
	  ssl:
	    default:
	      bind: "127.0.0.1:$TLS_PORT"
	      ssl_options:
	        certfile: "$TRASH_DIRECTORY/certs/server.pem"
	        keyfile: "$TRASH_DIRECTORY/certs/server.key"
	  ws:
	    default:
	      bind: "127.0.0.1:$WS_PORT"
	  wss:
	    default:
	      bind: "127.0.0.1:$WSS_PORT"
	      ssl_options:
	        certfile: "$TRASH_DIRECTORY/certs/server.pem"
	        keyfile: "$TRASH_DIRECTORY/certs/server.key"
	sys_topics:
	  sys_msg_interval: disabled
	  sys_heartbeat_interval: disabled
	EOF
}

test_expect_success 'setup: certificates, start the broker (tcp, ssl, ws, wss; mqtt.close_linger 60s)' '
	sh "$FLOCKMQ_SRC/contrib/make-certs.sh" certs >make-certs.log 2>&1 &&
	config 60s 256 &&
	start_broker &&
	login
'

for tr in tcp tls ws wss
do
	test_expect_success "$tr: QoS 2 over Receive Maximum, PUBREL for each PUBREC: DISCONNECT 0x93 read while writing" '
		linger_py $tr <<-\EOF &&
		from linger import *
		c = Raw("lg-q2-'$tr'")
		check(c.connack.props.get("receive_max") == 5, "Receive Maximum",
		      c.connack)
		keep_writing(c, Qos2Flood(8), 0x93)
		EOF
		broker_log_grep "client .lg-q2-$tr. .*disconnected: .*0x93"
	'

	test_expect_success "$tr: a PUBLISH over max_packet_size, its body still coming: DISCONNECT 0x95 read" '
		linger_py $tr <<-\EOF
		from linger import *
		c = Raw("lg-big-'$tr'")
		head = b"\x30" + varint(65536) + b"\x00\x03a/b\x00"
		keep_writing(c, Chunks(head, 2048), 0x95)
		EOF
	'

	test_expect_success "$tr: a CONNECT over max_packet_size, its body still coming: CONNACK 0x95 read" '
		linger_py $tr <<-\EOF
		from linger import *
		c = Raw(connect=False)
		keep_writing(c, Chunks(big_connect_head(65536), 2048), 0x95,
		             ptype=CONNACK)
		EOF
	'

	test_expect_success "$tr: kicked (DELETE /clients/:id) while publishing: DISCONNECT 0x98 read" '
		linger_py $tr <<-\EOF
		from linger import *
		import threading
		cid = "lg-kick-'$tr'"
		c = Raw(cid)
		def kick():
		    time.sleep(0.3)
		    api.delete("/clients/" + cid, 204)
		t = threading.Thread(target=kick)
		t.start()
		keep_writing(c, publish_step, 0x98)
		t.join()
		EOF
	'
done

test_expect_success 'a lingering socket is no connection: not counted, its client id free' '
	linger_py tcp <<-\EOF
	from linger import *
	s0 = stats()
	a = Raw("lg-same")
	a.subscribe("lg/same/#", qos=1)
	api.delete("/clients/lg-same", 204)
	a.expect_disconnect(0x98)
	# a keeps its socket open: the broker lingers on it.
	check(wait_until(lambda: stats()["connections.lingering"] ==
	                 s0["connections.lingering"] + 1), "one lingering",
	      stats())
	s1 = stats()
	check(s1["connections.count"] == s0["connections.count"] and
	      s1["live_connections.count"] == s0["live_connections.count"],
	      "a lingering socket is not a connection", s0, s1)
	b = Raw("lg-same", clean=False)
	check(b.connack.rc == 0 and not b.connack.sp,
	      "the same client id connects at once, a new session", b.connack)
	check(api.get("/clients/lg-same")["connected"] is True, "connected")
	ids = [x["clientid"] for x in api.get("/clients?limit=1000")["data"]]
	check(ids.count("lg-same") == 1, "one lg-same in /clients", ids)
	s2 = stats()
	check(s2["connections.count"] == s0["connections.count"] + 1,
	      "the new one counted once", s0, s2)
	check(b.is_open(), "the new connection works")
	a.send(b"\xc0\x00" * 100)
	b.disconnect()
	a.close()
	check(wait_until(lambda: stats()["connections.lingering"] ==
	                 s0["connections.lingering"]), "the linger ends when "
	      "the client closes", stats())
	EOF
'

test_expect_success 'restart: mqtt.close_linger 1s' '
	config 1s 256 &&
	restart_broker &&
	login
'

test_expect_success 'a client that never closes and keeps writing is closed within the bound' '
	linger_py tcp <<-\EOF
	from linger import *
	m0 = metrics()
	c = Raw("lg-stay")
	api.delete("/clients/lg-stay", 204)
	c.expect_disconnect(0x98)
	# The end of the stream came (write side shut); c keeps writing.
	err = None
	end = time.monotonic() + 20 * SCALE
	while err is None and time.monotonic() < end:
	    try:
	        c.send(b"\xc0\x00")
	        time.sleep(0.02)
	    except OSError as e:
	        err = e
	check(isinstance(err, (ConnectionResetError, BrokenPipeError)),
	      "the broker closed the socket (a reset to the next write)", err)
	c.close()
	check(wait_until(lambda: metrics()["connections.linger.timeout"] ==
	                 m0["connections.linger.timeout"] + 1),
	      "counted as a linger timeout", metrics())
	check(stats()["connections.lingering"] == 0, "none lingering", stats())
	EOF
'

test_expect_success 'restart: mqtt.close_linger 60s, close_linger_max 3 (per worker)' '
	config 60s 3 &&
	restart_broker &&
	login
'

test_expect_success 'over close_linger_max lingering sockets, the others are closed at once' '
	linger_py tcp $(broker_pid) <<-\EOF
	from linger import *
	pid = int(sys.argv[1])
	m0 = metrics()
	base = fd_count(pid)
	cs = []
	for i in range(20):
	    c = Raw(connect=False)
	    c.send(big_connect_head(65536) + bytes(100))
	    p = c.expect(CONNACK)
	    check(p.rc == 0x95, "CONNACK 0x95", p)
	    cs.append(c)
	# 20 clients keep their sockets open; the broker keeps 6 at most.
	check(wait_until(lambda: fd_count(pid) <= base + 6 + 2),
	      "the descriptors of the broker go back down", base, fd_count(pid))
	s = stats()
	check(1 <= s["connections.lingering"] <= 6, "at most 3 per worker "
	      "linger", s)
	m1 = metrics()
	check(m1["connections.linger.skipped"] -
	      m0["connections.linger.skipped"] ==
	      20 - s["connections.lingering"], "the others counted", m0, m1, s)
	check(s["connections.count"] == 0, "none is a connection", s)
	for c in cs:
	    c.close()
	check(wait_until(lambda: stats()["connections.lingering"] == 0),
	      "the lingers end as the clients close", stats())
	check(wait_until(lambda: fd_count(pid) <= base + 2),
	      "every descriptor is back", base, fd_count(pid))
	EOF
'

test_expect_success 'the broker stops cleanly while sockets linger' '
	rm -f ready done &&
	linger_py tcp >stop.out 2>&1 <<-\EOF &
	from linger import *
	cs = [Raw("lg-stop-%d" % i) for i in range(4)]
	for c in cs:
	    api.delete("/clients/" + c.client_id, 204)
	    c.expect_disconnect(0x98)
	check(wait_until(lambda: stats()["connections.lingering"] == 4),
	      "lingering", stats())
	open("ready", "w").close()
	check(wait_until(lambda: os.path.exists("done"), 30), "done")
	EOF
	py=$! &&
	test_track_pid $py &&
	wait_for "test -f ready || ! test_pid_alive $py" &&
	test -f ready &&
	stop_broker &&
	touch done &&
	wait $py ||
	{ cat stop.out; false; }
'

test_done
