#!/bin/sh

test_description='the pub/sub conformance scripts over TLS, WebSocket and WebSocket over TLS

First, the clients of t/helper/pubsub.py (raw and paho) are checked to
speak each transport (PUBSUB_TRANSPORT) to a broker with a tcp, ssl, ws
and wss listener, and so are those of t/helper/sessions.py.  Then
t2000-qos, t2010-wildcards, t2020-retain, t2030-properties, t3000-session
and t3030-will run once over each of tls, ws and wss
(FLOCKMQ_TEST_TRANSPORT, see lib-broker.sh): the listener on their MQTT
port is listeners.ssl, ws or wss.default, MQTT/TCP moves to their
FLOCKMQ_PORT6, and their Python clients speak that transport.  One test
per transport and script, failing if the sub-run fails, with its
failures as diagnostics.  The sub-runs take the ports of this script
(FLOCKMQ_TEST_PORTS_OF), one after another, and the trash directories
trash.NAME.TRANSPORT (FLOCKMQ_TEST_TRASH_SUFFIX), kept when they fail.
Over ws and wss the tests that run mosquitto_pub or mosquitto_sub are
skipped (FLOCKMQ_TEST_SKIP): those have no WebSocket transport.  Over
tls they get --cafile.'

. "$(dirname "$0")"/test-lib.sh
# This script's own broker is the plain one, whatever the environment says.
FLOCKMQ_TEST_TRANSPORT=
. "$TEST_DIRECTORY"/lib-broker.sh

TRANSPORTS='tls ws wss'
SCRIPTS='t2000-qos t2010-wildcards t2020-retain t2030-properties
t3000-session t3030-will'
C=$TRASH_DIRECTORY/certs

test_expect_success 'setup: test certificates (contrib/make-certs.sh)' '
	sh "$FLOCKMQ_SRC/contrib/make-certs.sh" "$C" >make-certs.log 2>&1 &&
	test_path_is_file "$C/server.pem" &&
	test_path_is_file "$C/ca.pem"
'

test_expect_success 'start a broker with a tcp, ssl, ws and wss listener' '
	broker_config <<-EOF &&
	listeners:
	  ssl:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT3"
	      ssl_options:
	        certfile: "$C/server.pem"
	        keyfile: "$C/server.key"
	  ws:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT4"
	  wss:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT5"
	      ssl_options:
	        certfile: "$C/server.pem"
	        keyfile: "$C/server.key"
	EOF
	start_broker
'

# transport_py TRANSPORT PORT: the Python program on stdin with pubsub.py
# speaking TRANSPORT to PORT; TCP_PORT is the plain listener.
transport_py () {
	PUBSUB_TRANSPORT=$1 PUBSUB_CAFILE=$C/ca.pem MQTT_PORT=$2 \
	    TCP_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" -
}

for t in $TRANSPORTS
do
	case $t in
	tls) port=$FLOCKMQ_PORT3 ;;
	ws) port=$FLOCKMQ_PORT4 ;;
	wss) port=$FLOCKMQ_PORT5 ;;
	esac
	test_expect_success "pubsub.py over $t: raw and paho, to and from TCP, large, closed" '
		transport_py $t $port <<-\EOF
		from pubsub import *
		import mqttc
		import pubsub
		t = os.environ["PUBSUB_TRANSPORT"]
		check(pubsub.TRANSPORT == t, "pubsub.TRANSPORT", pubsub.TRANSPORT)
		# A plain TCP client on this port gets no CONNACK.
		s = socket.create_connection((HOST, PORT), 3)
		s.sendall(connect_packet("chk-plain"))
		got = b""
		end = time.monotonic() + 3
		while True:
		    d = mqttc.read_some(s, end)
		    if not d:
		        break
		    got += d
		check(not got.startswith(b"\x20"), "no CONNACK to plain TCP", got)
		s.close()
		r = Raw("chk-raw", autoack=True)
		check(isinstance(r.sock, Stream), "Raw speaks " + t, r.sock)
		p = Paho("chk-paho")
		check(p.c._transport == ("tcp" if t == "tls" else "websockets"),
		      "paho transport", p.c._transport)
		check(p.c._ssl == (t != "ws"), "paho TLS", p.c._ssl)
		check(r.subscribe("chk/#", qos=2) == [2], "raw SUBACK")
		check(p.subscribe("chk/#", qos=2) == [2], "paho SUBACK")
		tcp = mqttc.Raw(int(os.environ["TCP_PORT"]))
		check(tcp.connect(client_id="chk-tcp")[1] == 0, "tcp CONNACK")
		tcp.send(mqttc.publish("chk/tcp", b"from tcp", qos=1, pid=1))
		check(tcp.recv_packet(5)[0] == PUBACK, "tcp PUBACK")
		r.publish("chk/raw", "from raw", qos=1)
		p.publish("chk/paho", "from paho", qos=2)
		big = os.urandom(300000)
		p.publish("chk/big", big, qos=1)
		got = {m.topic: m.payload for m in r.messages(4)}
		check(got == {"chk/tcp": b"from tcp", "chk/raw": b"from raw",
		              "chk/paho": b"from paho", "chk/big": big},
		      "raw got all four", sorted(got))
		got = {m.topic: m.payload for m in p.messages(4)}
		check(got == {"chk/tcp": b"from tcp", "chk/raw": b"from raw",
		              "chk/paho": b"from paho", "chk/big": big},
		      "paho got all four", sorted(got))
		r.expect_nothing(0.3)
		# The server closing is seen as the socket closing: a second
		# CONNECT is a protocol error.
		c = Raw("chk-close")
		c.send(connect_packet("chk-close"))
		check(c.expect_closed() == 0x82, "DISCONNECT 0x82, then closed")
		r.disconnect()
		p.disconnect()
		tcp.close()
		EOF
	'
	test_expect_success "sessions.py over $t: raw and paho, a will, a dead client" '
		BROKER_LOG=$BROKER_LOG transport_py $t $port <<-\EOF
		from sessions import *
		import pubsub
		import sessions
		t = os.environ["PUBSUB_TRANSPORT"]
		check(sessions.TRANSPORT == t, "sessions.TRANSPORT",
		      sessions.TRANSPORT)
		r = raw("chks-raw")
		check(isinstance(r.sock, pubsub.Stream), "Raw speaks " + t, r.sock)
		c, sp = paho_client("chks-paho")
		check(c._transport == ("tcp" if t == "tls" else "websockets"),
		      "paho transport", c._transport)
		check(c._ssl == (t != "ws"), "paho TLS", c._ssl)
		paho_subscribe(c, "chks/#", 1)
		w = raw("chks-will", will={"topic": "chks/will",
		                           "payload": b"gone", "qos": 1})
		w.reset()
		m = paho_messages(c, 1)[0]
		check((m.topic, m.payload) == ("chks/will", b"gone"),
		      "the will of a reset client", m.topic, m.payload)
		r.publish("chks/raw", "from raw", qos=1)
		m = paho_messages(c, 1)[0]
		check(m.payload == b"from raw", "paho got the raw one", m.payload)
		r.disconnect()
		c.disconnect()
		c.loop_stop()
		EOF
	'
done

test_expect_success 'stop the broker' '
	stop_broker
'

# sub_run TRANSPORT SCRIPT: run t/SCRIPT.t with its tests over TRANSPORT;
# its TAP in SCRIPT.TRANSPORT.tap, its stderr in SCRIPT.TRANSPORT.err and
# its exit status in $sub_status.
sub_run () {
	sub_skip= sub_reason=
	case $1 in
	ws|wss)
		sub_skip='*mosquitto_pub*
*mosquitto_sub*'
		sub_reason="mosquitto_pub and mosquitto_sub have no WebSocket transport" ;;
	esac
	FLOCKMQ_BUILD=$FLOCKMQ_BUILD FLOCKMQ_SRC=$FLOCKMQ_SRC \
	FLOCKMQ_TEST_OUTPUT=$FLOCKMQ_TEST_OUTPUT \
	FLOCKMQ_TEST_TIMEOUT_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
	FLOCKMQ_TEST_PYTHON=$PYTHON \
	FLOCKMQ_TEST_VALGRIND=$FLOCKMQ_TEST_VALGRIND \
	FLOCKMQ_TEST_VALGRIND_OPTS=$FLOCKMQ_TEST_VALGRIND_OPTS \
	FLOCKMQ_TEST_TRANSPORT=$1 FLOCKMQ_TEST_CERTS=$C \
	FLOCKMQ_TEST_PORTS_OF=$(expr "$TEST_NAME" : 't\([0-9]*\)-') \
	FLOCKMQ_TEST_TRASH_SUFFIX=.$1 \
	FLOCKMQ_TEST_SKIP=$sub_skip FLOCKMQ_TEST_SKIP_REASON=$sub_reason \
	    sh "$TEST_DIRECTORY/$2.t" >"$2.$1.tap" 2>"$2.$1.err" </dev/null
	sub_status=$?
}

# sub_summary TAP: "N passed[, N skipped][, N failed][, N todo]".
sub_summary () {
	sub_pass=$(grep "^ok " "$1" | grep -c -v "# SKIP\|# TODO")
	sub_skipped=$(grep -c "^ok [0-9]* .*# SKIP" "$1")
	sub_failed=$(grep "^not ok " "$1" | grep -c -v "# TODO")
	sub_todo=$(grep -c "^\(not \)\{0,1\}ok [0-9]* .*# TODO" "$1")
	printf "%s passed" "$sub_pass"
	test "$sub_skipped" = 0 || printf ", %s skipped" "$sub_skipped"
	test "$sub_failed" = 0 || printf ", %s failed" "$sub_failed"
	test "$sub_todo" = 0 || printf ", %s todo" "$sub_todo"
}

# sub_check TRANSPORT SCRIPT STATUS: the sub-run passed and had a plan;
# else print its failures and the end of its stderr.  Skips are noted.
sub_check () {
	sub_tap=$2.$1.tap
	grep "^ok [0-9]* .*# SKIP" "$sub_tap" |
	    sed "s/^/$2.t over $1: /" | while IFS= read -r sub_line
	do
		test_diag "$sub_line"
	done
	test "$3" = 0 && grep -q "^1\.\.[1-9]" "$sub_tap" && return 0
	echo "$2.t over $1 exited with status $3; kept:" \
	    "$FLOCKMQ_TEST_OUTPUT/trash.$2.$1"
	grep -v "^ok " "$sub_tap"
	if test -s "$2.$1.err"; then
		echo "its stderr (the end):"
		tail -n 20 "$2.$1.err"
	fi
	return 1
}

for t in $TRANSPORTS
do
	for s in $SCRIPTS
	do
		sub_run $t $s
		test_expect_success "$s.t over $t: $(sub_summary $s.$t.tap)" '
			sub_check $t $s $sub_status
		'
	done
done

test_done
