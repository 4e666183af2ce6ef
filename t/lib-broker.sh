# lib-broker.sh: one broker per test script.  Source it after test-lib.sh.
#
#	broker_config <<-\EOF		YAML merged over the defaults below
#	mqtt:
#	  max_packet_size: 1KB
#	EOF
#	start_broker [VAR=VAL...] [ARGS...]	starts it; returns once ready
#	stop_broker			SIGTERM; $BROKER_EXIT is its status
#	kill_broker			SIGKILL
#	restart_broker [VAR=VAL...] [ARGS...]	stop_broker and start_broker
#	broker_pid			prints the pid
#	broker_log_grep [OPTIONS] RE	grep the log of the current run
#
# The broker runs `flockmq -c $BROKER_CONFIG ARGS foreground` with its output
# in $BROKER_LOG and no FLOCKMQ_* or EMQX_* variable in its environment but
# the VAR=VAL given.  start_broker blocks until the log has the readiness
# line, "flockmq is ready", which the broker prints once every listener is
# bound (at level notice: keep log.console.level at notice or lower).
# The defaults bind MQTT/TCP to 127.0.0.1:$FLOCKMQ_PORT and the dashboard to
# 127.0.0.1:$FLOCKMQ_PORT2, keep data in $BROKER_DATA and log at info level.
# Dotted keys at the top level of a fragment are expanded (a.b: 1 is
# a: {b: 1}); a null value deletes the key.  Merging uses $PYTHON with
# PyYAML.  A broker still running at the end of the script is stopped by
# test_atexit, and the script fails if it does not exit with status 0.
# FLOCKMQ_TEST_VALGRIND=1 runs it under valgrind (exit status 99 on errors).
#
# FLOCKMQ_TEST_TRANSPORT=tls, ws or wss (t4030 sets it): the listener on
# 127.0.0.1:$FLOCKMQ_PORT is listeners.ssl, ws or wss.default instead,
# MQTT/TCP moves to $FLOCKMQ_PORT6, and the clients of pubsub.py and
# sessions.py speak that transport (PUBSUB_TRANSPORT, PUBSUB_CAFILE in the
# environment).  The certificates are contrib/make-certs.sh's, from
# $FLOCKMQ_TEST_CERTS or made into $TRASH_DIRECTORY/certs.  mosquitto_pub
# and mosquitto_sub to $FLOCKMQ_PORT get --cafile over tls, and fail over
# ws and wss.

BROKER_CONFIG=$TRASH_DIRECTORY/flockmq.yaml
BROKER_LOG=$TRASH_DIRECTORY/broker.log
BROKER_DATA=$TRASH_DIRECTORY/data
: "${BROKER_READY_TIMEOUT:=10}" "${BROKER_STOP_TIMEOUT:=10}"
BROKER_PID=
BROKER_EXIT=
broker_fragments_=$TRASH_DIRECTORY/.broker-config
broker_atexit_=

# The configuration every test starts from.
broker_default_config () {
	cat <<-EOF
	node:
	  name: "flockmq@127.0.0.1"
	  data_dir: "$BROKER_DATA"
	listeners:
	  tcp:
	    default:
	EOF
	if test -z "$BROKER_TRANSPORT"; then
		cat <<-EOF
		      bind: "127.0.0.1:$FLOCKMQ_PORT"
		EOF
	else
		broker_transport_listener_
	fi
	cat <<-EOF
	dashboard:
	  listeners:
	    http:
	      bind: "127.0.0.1:$FLOCKMQ_PORT2"
	log:
	  console:
	    level: info
	EOF
}

# The listeners under FLOCKMQ_TEST_TRANSPORT, after "listeners: tcp:
# default:".
broker_transport_listener_ () {
	cat <<-EOF
	      bind: "127.0.0.1:$FLOCKMQ_PORT6"
	  $BROKER_TRANSPORT_KEY:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT"
	EOF
	test "$BROKER_TRANSPORT" = ws || cat <<-EOF
	      ssl_options:
	        certfile: "$BROKER_CERTS/server.pem"
	        keyfile: "$BROKER_CERTS/server.key"
	EOF
}

BROKER_TRANSPORT=
case ${FLOCKMQ_TEST_TRANSPORT:-tcp} in
tcp) ;;
tls|ws|wss)
	BROKER_TRANSPORT=$FLOCKMQ_TEST_TRANSPORT
	BROKER_TRANSPORT_KEY=$BROKER_TRANSPORT
	test "$BROKER_TRANSPORT" != tls || BROKER_TRANSPORT_KEY=ssl
	BROKER_CERTS=${FLOCKMQ_TEST_CERTS:-$TRASH_DIRECTORY/certs}
	if test "$BROKER_TRANSPORT" != ws &&
	    ! test -f "$BROKER_CERTS/server.pem"; then
		sh "$FLOCKMQ_SRC/contrib/make-certs.sh" "$BROKER_CERTS" \
		    >"$TRASH_DIRECTORY/make-certs.log" 2>&1 ||
			error "contrib/make-certs.sh $BROKER_CERTS failed"
	fi
	PUBSUB_TRANSPORT=$BROKER_TRANSPORT
	PUBSUB_CAFILE=$BROKER_CERTS/ca.pem
	export PUBSUB_TRANSPORT PUBSUB_CAFILE
	mosquitto_pub () { broker_mosquitto_ mosquitto_pub "$@"; }
	mosquitto_sub () { broker_mosquitto_ mosquitto_sub "$@"; }
	;;
*)
	error "FLOCKMQ_TEST_TRANSPORT is tcp, tls, ws or wss, not '$FLOCKMQ_TEST_TRANSPORT'" ;;
esac

# broker_mosquitto_ COMMAND ARGS...: COMMAND over FLOCKMQ_TEST_TRANSPORT
# if it goes to -p $FLOCKMQ_PORT.
broker_mosquitto_ () {
	broker_mosq_prev_=
	broker_mosq_ours_=
	for broker_mosq_arg_
	do
		if test "$broker_mosq_prev_" = -p &&
		    test "$broker_mosq_arg_" = "$FLOCKMQ_PORT"; then
			broker_mosq_ours_=t
		fi
		broker_mosq_prev_=$broker_mosq_arg_
	done
	broker_mosq_cmd_=$1
	shift
	if test -z "$broker_mosq_ours_"; then
		command "$broker_mosq_cmd_" "$@"
	elif test "$BROKER_TRANSPORT" = tls; then
		command "$broker_mosq_cmd_" --cafile "$PUBSUB_CAFILE" "$@"
	else
		echo "$broker_mosq_cmd_: no WebSocket client: cannot test over $BROKER_TRANSPORT" >&2
		return 1
	fi
}

# broker_config: append the YAML on stdin to the broker's configuration.
broker_config () {
	{
		echo "---"
		cat
	} >>"$broker_fragments_"
}

# Write $BROKER_CONFIG: the defaults, then each fragment merged over them.
broker_write_config_ () {
	broker_default_config >"$BROKER_CONFIG.defaults" || return 1
	if ! test -f "$broker_fragments_"; then
		cp "$BROKER_CONFIG.defaults" "$BROKER_CONFIG"
		return
	fi
	"$PYTHON" - "$BROKER_CONFIG.defaults" "$broker_fragments_" \
	    >"$BROKER_CONFIG" <<-\EOF
	import sys, yaml

	def merge(dst, src, delete=True):
	    for key, value in src.items():
	        if value is None and delete:
	            dst.pop(key, None)
	        elif isinstance(value, dict) and isinstance(dst.get(key), dict):
	            merge(dst[key], value, delete)
	        else:
	            dst[key] = value

	def expand(doc):
	    out = {}
	    for key, value in doc.items():
	        for part in reversed(str(key).split(".")[1:]):
	            value = {part: value}
	        merge(out, {str(key).split(".")[0]: value}, delete=False)
	    return out

	with open(sys.argv[1]) as f:
	    config = yaml.safe_load(f)
	with open(sys.argv[2]) as f:
	    for doc in yaml.safe_load_all(f):
	        if doc is not None:
	            merge(config, expand(doc))
	yaml.safe_dump(config, sys.stdout, default_flow_style=False,
	               sort_keys=False)
	EOF
}

# start_broker [VAR=VALUE...] [OPTIONS...]: start the broker with these
# environment variables (FLOCKMQ_A__B=1) and options, and wait until it is
# ready.
start_broker () {
	if test -n "$BROKER_PID"; then
		echo "start_broker: a broker is running already (pid $BROKER_PID)"
		return 1
	fi
	if ! test -x "$FLOCKMQ_BUILD/src/flockmq"; then
		echo "start_broker: $FLOCKMQ_BUILD/src/flockmq is not built"
		return 1
	fi
	broker_write_config_ || {
		echo "start_broker: cannot write $BROKER_CONFIG"
		return 1
	}
	# Empty the log before the broker starts: the readiness check must not
	# see the previous run's line.
	if test -f "$BROKER_LOG"; then
		cat "$BROKER_LOG" >>"$BROKER_LOG.old"
	fi
	: >"$BROKER_LOG"
	if test -z "$broker_atexit_"; then
		broker_atexit_=t
		test_atexit 'test -z "$BROKER_PID" || stop_broker'
	fi
	(
		while test "$#" -gt 0
		do
			case $1 in
			[A-Za-z_]*=*) export "$1"; shift ;;
			*) break ;;
			esac
		done
		# shellcheck disable=SC2086 # TEST_VALGRIND is a command prefix
		exec $TEST_VALGRIND "$FLOCKMQ_BUILD/src/flockmq" \
		    -c "$BROKER_CONFIG" "$@" foreground
	) >"$BROKER_LOG" 2>&1 &
	BROKER_PID=$!
	BROKER_EXIT=
	test_track_pid "$BROKER_PID"
	start_broker_n_=$((BROKER_READY_TIMEOUT * 10 * FLOCKMQ_TEST_TIMEOUT_SCALE))
	until grep -q "flockmq is ready" "$BROKER_LOG"
	do
		if ! test_pid_alive "$BROKER_PID"; then
			wait "$BROKER_PID"
			BROKER_EXIT=$?
			BROKER_PID=
			echo "start_broker: the broker exited with status $BROKER_EXIT before it was ready; its log:"
			sed 's/^/| /' "$BROKER_LOG"
			return 1
		fi
		if test "$start_broker_n_" -le 0; then
			echo "start_broker: the broker is not ready after $BROKER_READY_TIMEOUT s; its log:"
			sed 's/^/| /' "$BROKER_LOG"
			kill_broker
			return 1
		fi
		sleep 0.1
		start_broker_n_=$((start_broker_n_ - 1))
	done
}

# stop_broker: SIGTERM, then SIGKILL after $BROKER_STOP_TIMEOUT seconds.
# Fails unless the broker exits with status 0.
stop_broker () {
	if test -z "$BROKER_PID"; then
		echo "stop_broker: no broker is running"
		return 1
	fi
	kill -TERM "$BROKER_PID" 2>/dev/null
	kill -CONT "$BROKER_PID" 2>/dev/null
	stop_broker_n_=$((BROKER_STOP_TIMEOUT * 10 * FLOCKMQ_TEST_TIMEOUT_SCALE))
	while test_pid_alive "$BROKER_PID"
	do
		if test "$stop_broker_n_" -le 0; then
			echo "stop_broker: still running $BROKER_STOP_TIMEOUT s after SIGTERM; sending SIGKILL"
			kill -KILL "$BROKER_PID" 2>/dev/null
			break
		fi
		sleep 0.1
		stop_broker_n_=$((stop_broker_n_ - 1))
	done
	wait "$BROKER_PID"
	BROKER_EXIT=$?
	BROKER_PID=
	test "$BROKER_EXIT" = 0 && return 0
	echo "stop_broker: the broker exited with status $BROKER_EXIT; the end of its log:"
	tail -n 30 "$BROKER_LOG" | sed 's/^/| /'
	return 1
}

# kill_broker: SIGKILL, as a crash would.
kill_broker () {
	if test -z "$BROKER_PID"; then
		echo "kill_broker: no broker is running"
		return 1
	fi
	kill -KILL "$BROKER_PID" 2>/dev/null
	wait "$BROKER_PID"
	BROKER_EXIT=$?
	BROKER_PID=
}

restart_broker () {
	stop_broker && start_broker "$@"
}

broker_pid () {
	test -n "$BROKER_PID" && echo "$BROKER_PID"
}

broker_log_grep () {
	grep "$@" "$BROKER_LOG"
}

# The store (t6xxx): where it is, repair, refused start-ups.

# use_data_dir NAME: later brokers keep their data in $TRASH_DIRECTORY/NAME.
use_data_dir () {
	BROKER_DATA=$TRASH_DIRECTORY/$1
	STORE=$BROKER_DATA/store
	broker_config <<-EOF
	node.data_dir: "$BROKER_DATA"
	EOF
}

# store_repair: flockmq store repair with the configuration the last
# start_broker wrote.
store_repair () {
	"$FLOCKMQ" -c "$BROKER_CONFIG" store repair
}

# refused PHRASE...: start_broker fails, the broker exits with status 1
# (not a signal) and its log has every PHRASE but no readiness line.
refused () {
	test_must_fail start_broker >start.out 2>&1 &&
	test "$BROKER_EXIT" = 1 || {
		echo "broker exit status: $BROKER_EXIT"
		cat start.out
		return 1
	}
	for refused_p_
	do
		test_grep -e "$refused_p_" "$BROKER_LOG" || return 1
	done
	test_grep ! "flockmq is ready" "$BROKER_LOG"
}

# wait_until_epoch T: wait until the clock reads T (seconds since the
# epoch, an integer), at most 30 s.
wait_until_epoch () {
	wait_for "test \$(date +%s) -ge $1" 30
}

# lines_of EXPECT ACTUAL: every line of ACTUAL is a line of EXPECT.
lines_of () {
	grep -v -x -F -f "$1" "$2" >"$2.unexpected"
	test ! -s "$2.unexpected" || {
		echo "lines_of: lines of $2 not in $1:"
		cat "$2.unexpected"
		return 1
	}
}
