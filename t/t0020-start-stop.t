#!/bin/sh

test_description='starting and stopping the broker

foreground with SIGTERM and SIGINT (exit 0; MQTT 5 clients get DISCONNECT
0x8B, 3.1.1 clients a close), the readiness line, start/stop as a daemon
with its pid file, a busy port, and two listeners.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# Spawn clients as "$PYTHON" "$MQTTC" (test_spawn of a shell function
# would track a subshell, not the client).
MQTTC=$TEST_DIRECTORY/helper/mqttc.py
mqttc () {
	"$PYTHON" "$MQTTC" "$@"
}

# watch_client NAME VERSION: a raw client that connects and prints every
# packet until the server closes (20 s at most), in NAME.out; waits for its
# CONNACK.
watch_client () {
	test_spawn "$PYTHON" "$MQTTC" connect -p "$FLOCKMQ_PORT" -V "$2" -i "$1" --wait 20 \
	    >"$1.out" 2>"$1.err" &&
	eval "${1}_pid=\$!" &&
	wait_for "grep -q \"^CONNACK sp=0 rc=0x00\$\" $1.out" 5
}

# signal_broker SIGNAL: send it to the foreground broker and wait until it
# has exited; its status in $BROKER_EXIT, which must be 0.
signal_broker () {
	kill -"$1" "$BROKER_PID" &&
	wait_for "! test_pid_alive $BROKER_PID" 10 &&
	{ wait "$BROKER_PID"; BROKER_EXIT=$?; BROKER_PID=; } &&
	test "$BROKER_EXIT" = 0 || {
		echo "broker exit status: $BROKER_EXIT"
		sed "s/^/| /" "$BROKER_LOG"
		return 1
	}
}

# The client's output once the broker is gone: these lines, then CLOSED.
expect_end () {
	file=$1
	shift
	wait_for "grep -q ^CLOSED $file" 5 &&
	sed -e "/^CONNACK/,/^[^ ]/{/^CONNACK/d;/^ /d;}" -e "s/^CLOSED .*/CLOSED/" \
	    "$file" >actual &&
	printf "%s\n" "$@" CLOSED >expect &&
	test_cmp expect actual
}

test_expect_success 'foreground: ready, the readiness line names the listener' '
	start_broker &&
	broker_log_grep "flockmq is ready: node .flockmq@127.0.0.1., [0-9]* workers, listeners: tcp:default 127.0.0.1:$FLOCKMQ_PORT\b"
'

test_expect_success 'SIGTERM: exit 0; v5 client gets DISCONNECT 0x8B, 3.1.1 just a close' '
	watch_client c5 5 &&
	watch_client c4 4 &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t x -m y &&
	signal_broker TERM &&
	expect_end c5.out "DISCONNECT rc=0x8b" "  reason_string=server shutting down" &&
	expect_end c4.out &&
	test_grep "SIGTERM received" "$BROKER_LOG" &&
	test_grep "main: stopped" "$BROKER_LOG"
'

test_expect_success 'the readiness line was logged once' '
	echo 1 >expect &&
	broker_log_grep -c "flockmq is ready" >actual &&
	test_cmp expect actual
'

test_expect_success 'SIGINT: the same' '
	start_broker &&
	watch_client i5 5 &&
	watch_client i4 4 &&
	signal_broker INT &&
	expect_end i5.out "DISCONNECT rc=0x8b" "  reason_string=server shutting down" &&
	expect_end i4.out &&
	test_grep "SIGINT received" "$BROKER_LOG"
'

test_expect_success 'a paho v5 client sees reason 0x8B on shutdown' '
	start_broker &&
	cat >paho-watch.py <<-\EOF &&
	import sys, threading, mqttc
	done = threading.Event()
	def on_disconnect(client, userdata, rc, props=None):
	    print("disconnect", hex(rc.value if hasattr(rc, "value") else rc))
	    sys.stdout.flush()
	    done.set()
	c, rc, props = mqttc.paho_connect(int(sys.argv[1]), 5, "paho5")
	c.on_disconnect = on_disconnect
	print("connack", rc)
	sys.stdout.flush()
	done.wait(15)
	c.loop_stop()
	EOF
	test_spawn env PYTHONPATH="$TEST_DIRECTORY/helper" "$PYTHON" paho-watch.py $FLOCKMQ_PORT >paho.out 2>&1 &&
	wait_for "grep -q \"^connack 0\" paho.out" 5 &&
	stop_broker &&
	wait_for "grep -q ^disconnect paho.out" 5 &&
	test_grep "^disconnect 0x8b$" paho.out
'

test_expect_success 'setup: a daemon configuration' '
	cat >daemon.yaml <<-EOF
	node:
	  data_dir: "$TRASH_DIRECTORY/ddata"
	listeners:
	  tcp:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT"
	dashboard:
	  listeners:
	    http:
	      bind: "127.0.0.1:$FLOCKMQ_PORT2"
	log:
	  console:
	    level: info
	EOF
'

test_expect_success 'stop when nothing runs fails clearly' '
	test_expect_code 1 "$FLOCKMQ" -c daemon.yaml stop >out 2>err &&
	test_grep "not running" err &&
	test_grep "ddata/flockmq.pid" err
'

test_expect_success 'start daemonizes, writes the pid file and serves MQTT' '
	"$FLOCKMQ" -c daemon.yaml start >out 2>err &&
	test_path_is_file ddata/flockmq.pid &&
	dpid=$(cat ddata/flockmq.pid) &&
	test_track_pid "$dpid" &&
	test_pid_alive "$dpid" &&
	echo "flockmq started (pid $dpid)" >expect &&
	test_cmp expect out &&
	test_grep "flockmq is ready" ddata/log/flockmq.log &&
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i d1 >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out
'

test_expect_success 'the daemon is detached: own session, no terminal output' '
	sid=$(ps -o sid= -p "$dpid" | tr -d " ") &&
	test "$sid" = "$dpid" &&
	test "$(readlink /proc/$dpid/fd/2)" = /dev/null
'

test_expect_success 'start again refuses: already running' '
	test_expect_code 1 "$FLOCKMQ" -c daemon.yaml start >out 2>err &&
	test_grep "already running" err &&
	test_grep "$dpid" err &&
	test "$(cat ddata/flockmq.pid)" = "$dpid" &&
	test_pid_alive "$dpid"
'

test_expect_success 'stop stops it and removes the pid file' '
	"$FLOCKMQ" -c daemon.yaml stop >out 2>err &&
	test_grep "stopped" out &&
	! test_pid_alive "$dpid" &&
	test_path_is_missing ddata/flockmq.pid &&
	test_grep "main: stopped" ddata/log/flockmq.log &&
	test_must_fail mqttc connect -p $FLOCKMQ_PORT -V 4 -i d2 2>err
'

test_expect_success 'a stale pid file does not stop start' '
	test_spawn sh -c "exit 0" &&
	dead=$! &&
	wait $dead &&
	! test_pid_alive $dead &&
	echo $dead >ddata/flockmq.pid &&
	"$FLOCKMQ" -c daemon.yaml start >out 2>err &&
	dpid=$(cat ddata/flockmq.pid) &&
	test_track_pid "$dpid" &&
	test "$dpid" != "$dead" &&
	test_pid_alive "$dpid" &&
	"$FLOCKMQ" -c daemon.yaml stop &&
	test_path_is_missing ddata/flockmq.pid
'

# victim: a live process that is not flockmq ($other), whose parent reaps
# it at once when it dies (no zombie for flockmq stop to wait on).
victim () {
	rm -f victim.pid &&
	test_spawn sh -c "sleep 60 & echo \$! >victim.pid; wait" &&
	wait_for "test -s victim.pid" 5 &&
	other=$(cat victim.pid) &&
	test_track_pid "$other"
}
test_expect_success 'a pid file naming another live process does not block start' '
	victim &&
	echo $other >ddata/flockmq.pid &&
	test_when_finished "kill $other 2>/dev/null; rm -f ddata/flockmq.pid" &&
	"$FLOCKMQ" -c daemon.yaml start >out 2>err &&
	dpid=$(cat ddata/flockmq.pid) &&
	test_track_pid "$dpid" &&
	test "$dpid" != "$other" &&
	"$FLOCKMQ" -c daemon.yaml stop
'

test_expect_success 'stop does not signal a process that is not flockmq' '
	victim &&
	echo $other >ddata/flockmq.pid &&
	test_when_finished "kill $other 2>/dev/null; rm -f ddata/flockmq.pid" &&
	test_must_fail timeout 10 "$FLOCKMQ" -c daemon.yaml stop >out 2>err &&
	test_pid_alive $other &&
	test_grep "not running" err
'

# hold_port PORT [reuseport]: a Python process listening on PORT (with
# SO_REUSEPORT if asked) until the end of the test; waits until it listens.
hold_port () {
	rm -f held &&
	test_spawn "$PYTHON" -c "
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if sys.argv[2] == \"reuseport\":
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind((\"127.0.0.1\", int(sys.argv[1])))
s.listen()
open(\"held\", \"w\").close()
time.sleep(30)
" "$1" "${2:-plain}" &&
	holder=$! &&
	test_when_finished "kill $holder" &&
	wait_for "test -f held" 5
}

test_expect_success 'a busy port: foreground fails with "cannot bind"' '
	hold_port $FLOCKMQ_PORT &&
	test_must_fail start_broker >out 2>&1 &&
	test_grep "cannot bind .127.0.0.1:$FLOCKMQ_PORT. for tcp:default: Address already in use" "$BROKER_LOG" &&
	test_grep ! "flockmq is ready" "$BROKER_LOG" &&
	test "$BROKER_EXIT" != 0
'

test_expect_success 'a port held with SO_REUSEPORT is busy too' '
	hold_port $FLOCKMQ_PORT reuseport &&
	test_must_fail start_broker >out 2>&1 &&
	test_grep "cannot bind .127.0.0.1:$FLOCKMQ_PORT." "$BROKER_LOG" &&
	test "$BROKER_EXIT" != 0
'

test_expect_success 'a busy port: start fails, leaves no daemon and no pid file' '
	hold_port $FLOCKMQ_PORT &&
	test_must_fail "$FLOCKMQ" -c daemon.yaml start >out 2>err &&
	test_grep "failed to start" err &&
	test_path_is_missing ddata/flockmq.pid &&
	test_grep "cannot bind" ddata/log/flockmq.log
'

test_expect_success 'a bad configuration: start fails before forking' '
	cp daemon.yaml bad.yaml &&
	echo "mqtt.max_qos_allowed: 5" >>bad.yaml &&
	test_expect_code 1 "$FLOCKMQ" -c bad.yaml start >out 2>err &&
	test_grep "bad.yaml:[0-9]*:[0-9]*: mqtt.max_qos_allowed" err &&
	test_path_is_missing ddata/flockmq.pid
'

test_expect_success 'two listeners both accept, and share messages' '
	broker_config <<-EOF &&
	listeners.tcp.internal.bind: "127.0.0.1:$FLOCKMQ_PORT3"
	listeners.tcp.off:
	  bind: "127.0.0.1:$FLOCKMQ_PORT4"
	  enable: false
	EOF
	start_broker &&
	broker_log_grep "flockmq is ready: .*listeners: .*tcp:default 127.0.0.1:$FLOCKMQ_PORT" &&
	broker_log_grep "flockmq is ready: .*listeners: .*tcp:internal 127.0.0.1:$FLOCKMQ_PORT3" &&
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i l1 >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out &&
	mqttc connect -p $FLOCKMQ_PORT3 -V 5 -i l2 >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT3 -t two/l -m across -q 1 -r &&
	mosquitto_sub -h 127.0.0.1 -p $FLOCKMQ_PORT -t two/l -C 1 -W 5 >sub.out &&
	echo across >expect &&
	test_cmp expect sub.out
'

test_expect_success 'a disabled listener does not listen' '
	test_must_fail mqttc connect -p $FLOCKMQ_PORT4 -V 5 -i l3 2>err &&
	test_grep "ConnectionRefused" err
'

test_expect_success 'both listeners close on SIGTERM' '
	stop_broker &&
	test_must_fail mqttc connect -p $FLOCKMQ_PORT -V 5 2>err &&
	test_must_fail mqttc connect -p $FLOCKMQ_PORT3 -V 5 2>err
'

test_expect_success 'a listener mountpoint (not supported yet) stops start-up clearly' '
	cat >mp.yaml <<-EOF &&
	node:
	  data_dir: "$TRASH_DIRECTORY/mpdata"
	listeners:
	  tcp:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT"
	      mountpoint: "tenant1/"
	EOF
	test_must_fail "$FLOCKMQ" -c mp.yaml foreground >out 2>err &&
	test_grep "tcp:default: mountpoint is not supported yet" err &&
	test_grep ! "flockmq is ready" err
'

test_done
