#!/bin/sh

test_description='durable sessions survive SIGKILL under load

Two publishers (MQTT 5 and 3.1.1) send numbered QoS 1 and QoS 2 messages
to two durable subscribers (MQTT 5 with Session Expiry Interval 600, 3.1.1
with Clean Session 0) on crash/#, while the broker is killed with SIGKILL
several times, 0.3 to 1.5 s of traffic apart, and started again on the
same data dir and port each time.  The clients (t/helper/crash.py, raw
sockets) reconnect with Clean Start 0 and resume: publishers resend what
was not acknowledged (DUP 1, same packet ids) and PUBREL what was not
completed, subscribers keep their QoS 2 packet ids until PUBREL.  After a
last SIGTERM restart and a drain, every message whose PUBACK (QoS 1) or
PUBCOMP (QoS 2) its publisher received has reached every subscriber, QoS 2
exactly once and QoS 1 at least once (the counts are printed as TAP
comments), and once stopped the store holds no queue entry.
CRASH_KILLS=N sets the number of kills (5), CRASH_SEED=N repeats the kill
times of a run (the seed is printed), CRASH_RATE=N the messages per
second per publisher (1000, 0 as fast as the broker acknowledges).'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

: "${CRASH_KILLS:=5}" "${CRASH_SEED:=$(date +%s)}" "${CRASH_RATE:=1000}"
STORE=$BROKER_DATA/store

# crash COMMAND ...: t/helper/crash.py in the trash directory.
crash () {
	PYTHONDONTWRITEBYTECODE=1 "$PYTHON" "$TEST_DIRECTORY/helper/crash.py" \
	    "$@"
}

# progress NAME: a figure of crash.progress (acked, received, connected).
progress () {
	sed -n "s/^$1=//p" crash.progress
}

# crash_alive: the clients still run; if not, show why.
crash_alive () {
	test_pid_alive "$crash_pid" || {
		echo "crash.py exited early; its log:"
		tail -n 40 crash.log
		return 1
	}
}

# wait_progress N: wait (10 s at most) until the publishers have N more
# messages acknowledged than now; if not, show where things stand.
wait_progress () {
	wait_progress_n_=$(($(progress acked) + $1))
	wait_for "test \$(progress acked) -ge $wait_progress_n_ ||
	    ! test_pid_alive $crash_pid" 10 &&
	crash_alive &&
	test "$(progress acked)" -ge "$wait_progress_n_" || {
		echo "no progress: acked $(progress acked), wanted" \
		    "$wait_progress_n_; crash.progress, then the end of" \
		    "crash.log and of the broker log:"
		cat crash.progress
		tail -n 20 crash.log
		tail -n 20 "$BROKER_LOG"
		return 1
	}
}

# around_kills: the end of the broker's log before each SIGKILL.
around_kills () {
	cat "$BROKER_LOG.old" "$BROKER_LOG" 2>/dev/null |
	grep -B 12 -A 1 "^=== SIGKILL"
}

test_expect_success 'start the broker (durable sessions are on by default)' '
	start_broker
'

test_expect_success 'the clients connect, subscribe and publish' '
	test_diag "seed $CRASH_SEED, $CRASH_KILLS kills" &&
	test_spawn env PYTHONDONTWRITEBYTECODE=1 "$PYTHON" \
	    "$TEST_DIRECTORY/helper/crash.py" run -p "$FLOCKMQ_PORT" \
	    --rate "$CRASH_RATE" \
	    --timeout $((75 * FLOCKMQ_TEST_TIMEOUT_SCALE)) \
	    >crash.out 2>crash.log &&
	crash_pid=$! &&
	wait_for "test -f crash.ready || ! test_pid_alive $crash_pid" 10 &&
	crash_alive &&
	test -f crash.ready
'

test_expect_success 'SIGKILL at random moments under load, restart on the same data dir' '
	awk -v seed="$CRASH_SEED" -v n="$CRASH_KILLS" "BEGIN {
		srand(seed)
		for (i = 0; i < n; i++)
			printf \"%.2f\\n\", 0.3 + rand() * 1.2
	}" >delays &&
	: >kills &&
	i=0 &&
	for d in $(cat delays)
	do
		i=$((i + 1)) &&
		# traffic flows again: the clients are back after the restart
		wait_progress 20 &&
		# the random moment is the point of the test: a bare sleep
		sleep "$d" &&
		crash_alive &&
		echo "kill $(date +%s.%N) acked=$(progress acked) received=$(progress received)" >>kills &&
		kill_broker &&
		echo "=== SIGKILL $i after $d s" >>"$BROKER_LOG" &&
		start_broker || return 1
	done &&
	cat kills
'

test_expect_success 'the publishers stop and finish their unfinished messages' '
	wait_progress 20 &&
	touch crash.stop &&
	wait_for "test -f crash.pubs-done || ! test_pid_alive $crash_pid" 20 &&
	crash_alive &&
	test -f crash.pubs-done
'

test_expect_success 'a SIGTERM restart; the subscribers drain' '
	restart_broker &&
	touch crash.final &&
	wait_for "! test_pid_alive $crash_pid" 30 &&
	wait "$crash_pid" &&
	test -f crash.json
'

test_expect_success 'every acknowledged message reached every subscriber, QoS 2 exactly once' '
	{ crash report --kills kills >report; echo $? >report.status; } &&
	cat report &&
	test_diag "$(cat report)" &&
	test "$(cat report.status)" = 0 || {
		echo "the broker log before each SIGKILL:" &&
		around_kills
		return 1
	}
'

test_expect_success 'after the drain the store holds no queue entry (q/)' '
	stop_broker &&
	store-tool "$STORE" list >list &&
	cut -f1 list >keys &&
	sed "s,/.*,/," keys | sort | uniq -c >prefixes &&
	test_diag "store keys after the drain: $(tr -s " \n" " " <prefixes)" &&
	test_grep ! "^q/" keys
'

test_done
