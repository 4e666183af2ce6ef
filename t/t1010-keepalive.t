#!/bin/sh

test_description='keep alive, idle timeout and Server Keep Alive

A silent client is disconnected after 1.5 times its keep alive (MQTT 5:
DISCONNECT 0x8D first), PINGREQ keeps a client connected, keep alive 0
never times out, a socket that sends no CONNECT is closed after
mqtt.idle_timeout, and mqtt.server_keepalive overrides the keep alive of
MQTT 5 clients only.  The clients of each phase run in parallel.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# Spawn clients as "$PYTHON" "$MQTTC" (test_spawn of a shell function
# would track a subshell, not the client).
MQTTC=$TEST_DIRECTORY/helper/mqttc.py
mqttc () {
	"$PYTHON" "$MQTTC" "$@"
}

# client NAME ARGS...: an mqttc client in the background, output in NAME.out.
client () {
	client_name_=$1
	shift
	test_spawn "$PYTHON" "$MQTTC" "$@" -p "$FLOCKMQ_PORT" >"$client_name_.out" \
	    2>"$client_name_.err"
}

# finished NAME: its output has its last line (CLOSED or TIMEOUT).
finished () {
	grep -q -e "^CLOSED" -e "^TIMEOUT" "$1.out"
}

# events NAME: the output of NAME without properties and times, in out.
events () {
	sed -e "/^  /d" -e "s/^CLOSED .*/CLOSED/" "$1.out" >out
}

expect_out () {
	printf '%s\n' "$@" >expect &&
	test_cmp expect out
}

# closed_between NAME LOW HIGH: NAME was closed LOW..HIGH seconds after its
# CONNACK (or its connect, for a client that sent no CONNECT).
closed_between () {
	after=$(sed -n "s/^CLOSED after=//p" "$1.out") &&
	test -n "$after" &&
	awk -v a="$after" -v lo="$2" -v hi="$3" \
	    "BEGIN { exit !(a >= lo && a <= hi) }" || {
		echo "$1: closed after ${after:-never}, not within $2..$3 s"
		cat "$1.out"
		return 1
	}
}

test_expect_success 'start the broker with idle_timeout 1s' '
	broker_config <<-\EOF &&
	mqtt.idle_timeout: 1s
	EOF
	start_broker
'

test_expect_success 'phase 1: start the clients' '
	client silent5 connect -V 5 -i silent5 -k 2 --wait 8 &&
	client silent4 connect -V 4 -i silent4 -k 2 --wait 8 &&
	client ping5 connect -V 5 -i ping5 -k 2 --ping 1 --wait 6 &&
	client slowping4 connect -V 4 -i slowping4 -k 2 --ping 2.2 --wait 6 &&
	client zero5 connect -V 5 -i zero5 -k 0 --wait 6 &&
	client zero4 connect -V 4 -i zero4 -k 0 --wait 6 &&
	client noconnect raw --wait 6 &&
	client partial raw --send 100f00044d51 --wait 6 &&
	for c in silent5 silent4 ping5 slowping4 zero5 zero4 noconnect partial
	do
		wait_for "finished $c" 12 || return 1
	done
'

test_expect_success 'a silent 5.0 client gets DISCONNECT 0x8D after ~3 s' '
	events silent5 &&
	expect_out "CONNACK sp=0 rc=0x00" "DISCONNECT rc=0x8d" CLOSED &&
	closed_between silent5 2.5 6
'

test_expect_success 'a silent 3.1.1 client is closed after ~3 s, no packet' '
	events silent4 &&
	expect_out "CONNACK sp=0 rc=0x00" CLOSED &&
	closed_between silent4 2.5 6
'

test_expect_success 'the log says why' '
	broker_log_grep "client .silent5. .*keepalive timeout" &&
	broker_log_grep "client .silent4. .*keepalive timeout"
'

test_expect_success 'a client sending PINGREQ stays and gets PINGRESPs' '
	events ping5 &&
	test_grep "^TIMEOUT$" out &&
	test_grep ! -e "^CLOSED" -e "^DISCONNECT" out &&
	n=$(grep -c "^PINGRESP$" out) &&
	test "$n" -ge 4
'

test_expect_success 'PINGREQ every 2.2 s is within 1.5 x 2 s' '
	events slowping4 &&
	test_grep "^TIMEOUT$" out &&
	test_grep "^PINGRESP$" out &&
	test_grep ! "^CLOSED" out
'

test_expect_success 'keep alive 0: no timeout' '
	events zero5 &&
	expect_out "CONNACK sp=0 rc=0x00" TIMEOUT &&
	events zero4 &&
	expect_out "CONNACK sp=0 rc=0x00" TIMEOUT
'

test_expect_success 'no CONNECT: closed after idle_timeout (1 s)' '
	events noconnect &&
	expect_out CLOSED &&
	closed_between noconnect 0.7 3 &&
	broker_log_grep "closed: no CONNECT within idle_timeout"
'

test_expect_success 'half a CONNECT: closed after idle_timeout too' '
	events partial &&
	expect_out CLOSED &&
	closed_between partial 0.7 3
'

test_expect_success 'a CONNECT trickled byte by byte: closed after idle_timeout' '
	"$PYTHON" - $FLOCKMQ_PORT >out <<-\EOF &&
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 5)
	t0 = time.monotonic()
	# CONNECT, remaining length 1000: the rest never comes in time.
	data = bytes.fromhex("10e80700044d51545405") + bytes(40)
	for b in data:
	    if time.monotonic() - t0 > 6:
	        break
	    try:
	        s.sendall(bytes([b]))
	        s.settimeout(0.3)
	        if s.recv(100) == b"":
	            break
	    except socket.timeout:
	        pass
	    except OSError:
	        break
	print("%.2f" % (time.monotonic() - t0))
	EOF
	awk "{ exit !(\$1 >= 0.7 && \$1 <= 3) }" out || {
		echo "closed after $(cat out) s"
		false
	}
'

test_expect_success 'phase 2: server_keepalive 2' '
	broker_config <<-\EOF &&
	mqtt.server_keepalive: 2
	EOF
	restart_broker &&
	client sk60 connect -V 5 -i sk60 -k 60 --wait 8 &&
	client sk0 connect -V 5 -i sk0 -k 0 --wait 8 &&
	client sk4 connect -V 4 -i sk4 -k 0 --wait 5 &&
	client skping connect -V 5 -i skping -k 60 --ping 1 --wait 5 &&
	for c in sk60 sk0 sk4 skping
	do
		wait_for "finished $c" 12 || return 1
	done
'

test_expect_success '5.0 keep alive 60: CONNACK says 2, timed out after ~3 s' '
	test_grep "^  server_keep_alive=2$" sk60.out &&
	events sk60 &&
	expect_out "CONNACK sp=0 rc=0x00" "DISCONNECT rc=0x8d" CLOSED &&
	closed_between sk60 2.5 6
'

test_expect_success '5.0 keep alive 0 is overridden too' '
	test_grep "^  server_keep_alive=2$" sk0.out &&
	events sk0 &&
	expect_out "CONNACK sp=0 rc=0x00" "DISCONNECT rc=0x8d" CLOSED &&
	closed_between sk0 2.5 6
'

test_expect_success 'a pinging 5.0 client stays' '
	events skping &&
	test_grep "^TIMEOUT$" out &&
	test_grep ! "^CLOSED" out
'

test_expect_success 'MQTT 3.1.1 clients keep their own keep alive' '
	events sk4 &&
	expect_out "CONNACK sp=0 rc=0x00" TIMEOUT
'

test_expect_success 'stop' '
	stop_broker
'

test_done
