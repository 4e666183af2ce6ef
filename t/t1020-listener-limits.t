#!/bin/sh

test_description='listener limits: max_connections, max_conn_rate, messages_rate

max_connections refuses the connection over the limit (MQTT 5 CONNACK
0x97, 3.1.1 0x03) and accepts again once one leaves; max_conn_rate and
messages_rate (and bytes_rate, as limiter.bytes) slow clients down
without refusing or dropping anything.  Time bounds are generous lower
bounds only.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# Spawn clients as "$PYTHON" "$MQTTC" (test_spawn of a shell function
# would track a subshell, not the client).
MQTTC=$TEST_DIRECTORY/helper/mqttc.py
mqttc () {
	"$PYTHON" "$MQTTC" "$@"
}

py () {
	PYTHONPATH="$TEST_DIRECTORY/helper" "$PYTHON" "$@"
}

events () {
	sed -e "/^  /d" -e "s/^CLOSED .*/CLOSED/" "$1" >out
}

expect_out () {
	printf '%s\n' "$@" >expect &&
	test_cmp expect out
}

# at_least SECONDS FILE: the number in FILE is >= SECONDS.
at_least () {
	test_diag "took $(cat "$2") s (at least $1 s expected)" &&
	awk -v lo="$1" "{ exit !(\$1 >= lo) }" "$2"
}

test_expect_success 'start the broker with four limited listeners' '
	broker_config <<-EOF &&
	listeners:
	  tcp:
	    default:
	      max_connections: 2
	    rate:
	      bind: "127.0.0.1:$FLOCKMQ_PORT3"
	      max_conn_rate: "5/s"
	    msgs:
	      bind: "127.0.0.1:$FLOCKMQ_PORT4"
	      messages_rate: "10/s"
	    bytes:
	      bind: "127.0.0.1:$FLOCKMQ_PORT5"
	      limiter:
	        bytes: "2KB/s"
	EOF
	start_broker
'

test_expect_success 'max_connections 2: two clients are in' '
	test_spawn "$PYTHON" "$MQTTC" connect -p $FLOCKMQ_PORT -V 5 -i mc1 --wait 15 >mc1.out &&
	mc1=$! &&
	wait_for "grep -q ^CONNACK mc1.out" 5 &&
	test_spawn "$PYTHON" "$MQTTC" connect -p $FLOCKMQ_PORT -V 4 -i mc2 --wait 15 >mc2.out &&
	mc2=$! &&
	wait_for "grep -q ^CONNACK mc2.out" 5 &&
	test_grep "^CONNACK sp=0 rc=0x00$" mc1.out &&
	test_grep "^CONNACK sp=0 rc=0x00$" mc2.out
'

test_expect_success 'the third: 5.0 CONNACK 0x97 (quota exceeded), close' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i mc3 --wait 3 >out.raw &&
	events out.raw &&
	expect_out "CONNACK sp=0 rc=0x97" CLOSED
'

test_expect_success 'the third: 3.1.1 CONNACK 0x03 (server unavailable), close' '
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i mc4 -x --wait 3 >out.raw &&
	events out.raw &&
	expect_out 20020003 CLOSED &&
	mqttc connect -p $FLOCKMQ_PORT -V 3 -i mc5 -x --wait 3 >out.raw &&
	events out.raw &&
	expect_out 20020003 CLOSED
'

test_expect_success 'the refused clients did not take over the ids of those in' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i mc1 --wait 1 >out.raw &&
	events out.raw &&
	expect_out "CONNACK sp=0 rc=0x97" CLOSED &&
	test_grep ! "^CLOSED" mc1.out
'

test_expect_success 'after one leaves, a new client is accepted' '
	kill $mc2 &&
	wait_for "broker_log_grep -q \"client .mc2. .*closed\"" 5 &&
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i mc6 --wait 1 >out.raw &&
	events out.raw &&
	expect_out "CONNACK sp=0 rc=0x00" TIMEOUT
'

test_expect_success 'max_conn_rate 5/s: 20 connections all succeed, slowly' '
	py - $FLOCKMQ_PORT3 >rate.out <<-\EOF &&
	import sys, time, mqttc
	port = int(sys.argv[1])
	t0 = time.monotonic()
	conns = [mqttc.Raw(port, timeout=20, version=4) for i in range(20)]
	for i, r in enumerate(conns):
	    r.send(mqttc.connect("rate%d" % i, 4))
	rcs = []
	for r in conns:
	    p = r.recv_packet(20)
	    rcs.append("closed" if p is None else
	                "0x%02x" % mqttc.parse_connack(p[2], 4)[1])
	print(" ".join(rcs))
	print("%.2f" % (time.monotonic() - t0))
	EOF
	sed -n 1p rate.out >out &&
	expect_out "0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00 0x00" &&
	sed -n 2p rate.out >elapsed &&
	at_least 1.8 elapsed
'

# pubtest.py PORT COUNT SIZE DEADLINE [KEEPALIVE]: a client subscribes to
# lim/# on PORT, another (keep alive KEEPALIVE, default 60) publishes COUNT
# QoS 1 messages of SIZE bytes back to back on PORT; prints how many PUBACKs
# and deliveries came, in order or not, and the seconds it took (DEADLINE at
# most); exits 1 if the broker closes a connection.
test_expect_success 'setup: pubtest.py' '
	cat >pubtest.py <<-\EOF
	import sys, time, socket, mqttc
	port, count, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
	limit = float(sys.argv[4])
	keepalive = int(sys.argv[5]) if len(sys.argv) > 5 else 60
	sub = mqttc.Raw(port, timeout=20)
	sub.connect(client_id="rsub")
	sub.send(mqttc.subscribe(1, "lim/#", 1))
	p = sub.recv_packet()
	assert p[0] == mqttc.SUBACK and p[2][-1] == 1, p
	pub = mqttc.Raw(port, timeout=20)
	pub.connect(client_id="rpub", keepalive=keepalive)
	t0 = time.monotonic()
	for i in range(count):
	    pub.send(mqttc.publish("lim/t", b"%05d" % i + b"x" * (size - 5), 1, i + 1))
	acks, got = set(), []
	deadline = t0 + limit
	while (len(acks) < count or len(got) < count) and time.monotonic() < deadline:
	    for r in (pub, sub):
	        try:
	            p = r.recv_packet(0.05)
	        except socket.timeout:
	            continue
	        if p is None:
	            print("closed", "publisher" if r is pub else "subscriber",
	                  "after", len(acks), "pubacks")
	            sys.exit(1)
	        if p[0] == mqttc.PUBACK:
	            acks.add(int.from_bytes(p[2][:2], "big"))
	        elif p[0] == mqttc.PUBLISH:
	            tl = int.from_bytes(p[2][:2], "big")
	            off = 2 + tl
	            if (p[1] >> 1) & 3:
	                sub.send(mqttc.packet(mqttc.PUBACK, p[2][off:off + 2]))
	                off += 2
	            n, off = mqttc.parse_props(p[2], off)
	            got.append(int(p[2][off:off + 5]))
	        else:
	            print("unexpected", mqttc.describe(*p).split("\n")[0])
	print("pubacks", len(acks), "delivered", len(got),
	      "in order" if got == list(range(count)) else "out of order")
	print("%.2f" % (time.monotonic() - t0))
	EOF
'

test_expect_success 'messages_rate 10/s: 50 QoS 1 messages all arrive, slowly' '
	py pubtest.py $FLOCKMQ_PORT4 50 20 7 >msgs.out &&
	sed -n 1p msgs.out >out &&
	expect_out "pubacks 50 delivered 50 in order" &&
	sed -n 2p msgs.out >elapsed &&
	at_least 3 elapsed
'

test_expect_success 'the publisher was slowed, not disconnected' '
	test_grep "client .rpub. .*connected: mqtt 5.0" "$BROKER_LOG" &&
	test_grep ! "client .rpub. .*disconnected: " "$BROKER_LOG"
'

test_expect_success 'a publisher held back by messages_rate keeps its keep alive' '
	py pubtest.py $FLOCKMQ_PORT4 45 20 7 2 >ka.out &&
	sed -n 1p ka.out >out &&
	expect_out "pubacks 45 delivered 45 in order"
'

test_expect_success 'limiter.bytes 2KB/s: 6 KB of messages arrive, slowly' '
	py pubtest.py $FLOCKMQ_PORT5 6 1000 5 >bytes.out &&
	sed -n 1p bytes.out >out &&
	expect_out "pubacks 6 delivered 6 in order" &&
	sed -n 2p bytes.out >elapsed &&
	at_least 1.2 elapsed
'

test_expect_success 'a listener without messages_rate is not slowed by them' '
	py pubtest.py $FLOCKMQ_PORT3 50 20 8 >free.out &&
	sed -n 1p free.out >out &&
	expect_out "pubacks 50 delivered 50 in order" &&
	test_diag "50 messages on an unlimited listener: $(sed -n 2p free.out) s"
'

test_expect_success 'stop' '
	stop_broker
'

test_done
