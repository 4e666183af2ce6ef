#!/bin/sh

test_description='many clients under load: nothing lost, duplicated or reordered

t/helper/test-load connects thousands of MQTT 3.1.1 and 5 clients to a
broker with two workers.  Each subscribes to its own topic and to a shared
wildcard, publishes numbered QoS 1 and 2 messages to the others topics and
acks everything it receives.  The helper then checks that every
acknowledged message reached its subscriber and one member of the share
group, QoS 2 exactly once, in publishing order, and that nothing else
arrived.  Its TAP lines are, in order: 1 connected, 2 acknowledged,
3 qos 1 at least once, 4 qos 2 exactly once, 5 order, 6 nothing unexpected.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

command -v test-load >/dev/null 2>&1 ||
	test_skip_all 'test-load is not built (make check-programs)'

# Each client is a socket here and one in the broker: raise the limit as
# far as the hard limit goes, and shrink the big run if it is still low.
# ulimit -n and -H are not POSIX, but dash and bash have them.
# shellcheck disable=SC3045
hard=$(ulimit -H -n)
test "$hard" = unlimited && hard=65536
# shellcheck disable=SC3045
ulimit -n "$hard" 2>/dev/null
# shellcheck disable=SC3045
nofile=$(ulimit -n)
test "$nofile" = unlimited && nofile=65536
CLIENTS=2000
if test "$nofile" -lt $((CLIENTS + 200)); then
	CLIENTS=$((nofile - 200))
fi
test "$CLIENTS" -ge 200 ||
	test_skip_all "open file limit $nofile is too low for a load test"
LOAD_TIMEOUT=$((50 * FLOCKMQ_TEST_TIMEOUT_SCALE))

# run_load NAME ARGS...: run test-load against the broker; its report is
# in NAME.out (printed, so that a failing test shows it).
run_load () {
	run_load_name_=$1
	shift
	test-load --port "$FLOCKMQ_PORT" --timeout "$LOAD_TIMEOUT" "$@" \
	    >"$run_load_name_.out" 2>&1
	run_load_ret_=$?
	cat "$run_load_name_.out"
	return $run_load_ret_
}

# load_ok NAME N...: the report NAME.out has its plan and "ok N" for each N.
load_ok () {
	load_ok_file_=$1.out
	shift
	test_grep "^1\.\.6$" "$load_ok_file_" || return 1
	for load_ok_n_
	do
		test_grep "^ok $load_ok_n_ - " "$load_ok_file_" || return 1
	done
}

test_expect_success 'start the broker with two workers' '
	broker_config <<-\EOF &&
	mqtt:
	  workers: 2
	  max_mqueue_len: infinity
	log.console.level: info
	EOF
	start_broker
'

test_expect_success "$CLIENTS clients x 20 messages, shared wildcard" '
	run_load big --clients "$CLIENTS" --messages 20 --seed 1
'

test_expect_success '200 clients x 500 messages: none lost or duplicated' '
	{ run_load long --clients 200 --messages 500 --seed 2 || :; } &&
	load_ok long 1 2 3 4 6
'

test_expect_success '8 clients x 2000 messages: none lost or duplicated' '
	{ run_load few --clients 8 --messages 2000 --seed 3 || :; } &&
	load_ok few 1 2 3 4 6
'

# A client subscribed directly and through a share group keeps each
# publisher's order (MQTT-4.6.0-6) across workers.
test_expect_success '... and in order across own and shared subscriptions' '
	load_ok long 5 &&
	load_ok few 5
'

test_expect_success '200 clients x 500 messages, no share group: in order' '
	run_load plain --clients 200 --messages 500 --seed 4 --no-shared
'

test_expect_success 'MQTT 5 only, 1000 clients x 40 messages' '
	run_load v5 --clients 1000 --messages 40 --seed 5 --protocol 5 &&
	test_grep "1000 MQTT 5)" v5.out
'

test_expect_success 'an inflight window of 2 makes deliveries queue' '
	broker_config <<-\EOF &&
	mqtt.max_inflight: 2
	EOF
	restart_broker &&
	run_load queued --clients 500 --messages 50 --seed 6 --no-shared \
	    --window 50
'

# Nobody here stops reading, so no publisher may have been held until
# its throttle ran out (CONN_THROTTLE_MAX_MS): that would mean a pause
# that nothing released (a cycle of pauses, a miscounted link).
test_expect_success 'no publisher was held until its throttle ran out' '
	cat "$BROKER_LOG.old" "$BROKER_LOG" >all.log 2>/dev/null;
	test_grep ! "read again after" all.log
'

test_expect_success 'the broker exits cleanly' '
	stop_broker
'

test_done
