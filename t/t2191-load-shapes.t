#!/bin/sh

test_description='load shapes: nothing lost, duplicated or reordered

t/helper/test-load --shape drives a broker with two workers through the
shapes of issue 3: fan-in (100 publishers, one subscriber to P/+), fan-out
(one publisher, 100 subscribers to P/t, P/+ and P/#) and a share group (one
publisher, 1000 members of $share/g/P/t), publishing at QoS 1 and 2 as
fast as their inflight windows allow; and a fan-in at QoS 1 whose
subscriber reads slowly.  With unbounded session queues (max_mqueue_len:
infinity) every acknowledged message must arrive at every subscriber (in
a share group at one member), QoS 2 exactly once, each publisher in
order.  With the default limits (1000 queued messages) the broker may
drop: the helper stops once arrivals stop, the counts are printed, and
every delivery lost must be counted in the delivery.dropped metric, read
from $SYS.  The TAP lines of the helper are, in order: 1 connected,
2 acknowledged, 3 qos 1 at least once, 4 qos 2 exactly once, 5 order,
6 nothing unexpected.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-load.sh

load_clients 1000 100
MEMBERS=$LOAD_CLIENTS

# How long without arrivals ends a run that may lose messages (ms).
LOAD_IDLE=$((2000 * FLOCKMQ_TEST_TIMEOUT_SCALE))

# no_dup2 NAME: whatever was lost, no QoS 2 delivery arrived twice.
no_dup2 () {
	test_grep "ok 4 - .*, 0 duplicated)$" "$1.out"
}

# load_counts NAME: the counts of NAME.out as TAP comments.
load_counts () {
	test_diag "$1: $(sed -n 's/^# \(published .*\)/\1/p' "$1.out")" \
	    "$1: $(sed -n 's/^# \(deliveries .*\)/\1/p' "$1.out")" \
	    "$1: $(sed -n 's/^# \(lost .*\)/\1/p' "$1.out")"
}

# dropped: the broker's delivery.dropped counter, from the first $SYS
# statistics message after now (sys_msg_interval is 1s below).
dropped () {
	# shellcheck disable=SC2016
	mosquitto_sub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -C 1 \
	    -W $((5 * FLOCKMQ_TEST_TIMEOUT_SCALE)) \
	    -t '$SYS/brokers/+/metrics/delivery/dropped'
}

# lost_is_dropped NAME: the deliveries NAME lost are the ones the broker
# counted in delivery.dropped since the previous call: none silently.
DROPPED=0
lost_is_dropped () {
	lid_lost_=$(sed -n 's/^# lost \([0-9]*\) .*/\1/p' "$1.out") &&
	lid_now_=$(dropped) &&
	test -n "$lid_lost_" &&
	test -n "$lid_now_" || return 1
	lid_n_=$((lid_now_ - DROPPED))
	DROPPED=$lid_now_
	test_diag "$1: lost $lid_lost_, delivery.dropped grew by $lid_n_"
	test "$lid_lost_" -eq "$lid_n_"
}

test_expect_success 'start the broker with two workers, queues unbounded' '
	broker_config <<-\EOF &&
	mqtt:
	  workers: 2
	  max_mqueue_len: infinity
	log.console.level: info
	EOF
	start_broker
'

test_expect_success 'fan-in: 100 publishers x 1000 messages to 1 subscriber' '
	run_load fanin --shape fanin --publishers 100 --messages 1000 \
	    --seed 1 --prefix fanin
'

test_expect_success 'fan-out: 1 publisher x 5000 messages to 100 subscribers' '
	run_load fanout --shape fanout --subscribers 100 --messages 5000 \
	    --seed 2 --prefix fanout
'

test_expect_success "share: 1 publisher x 20000 messages to $MEMBERS members" '
	run_load share --shape share --subscribers "$MEMBERS" \
	    --messages 20000 --seed 3 --prefix share
'

test_expect_success 'share, MQTT 5: 4 publishers, QoS 1 and 2 members' '
	run_load share5 --shape share --publishers 4 --subscribers 200 \
	    --messages 2000 --sub-qos mix --protocol 5 --seed 4 \
	    --prefix share5
'

# 20000 messages read at 200 kB/s take about a second, far longer than
# the publishers need: the broker has to queue for the subscriber (or hold
# the publishers back).
test_expect_success 'fan-in at QoS 1 to a slow subscriber: nothing lost' '
	run_load slow --shape fanin --publishers 100 --messages 200 \
	    --pub-qos 1 --sub-qos 1 --read-rate 200000 --seed 5 \
	    --prefix slow
'

test_expect_success 'restart with the default limits (max_mqueue_len 1000)' '
	broker_config <<-\EOF &&
	mqtt.max_mqueue_len: null
	sys_topics.sys_msg_interval: 1s
	EOF
	restart_broker &&
	DROPPED=0
'

# From here on the broker may acknowledge messages that it then drops from
# a full session queue, counting them: the runs print their counts and are
# checked for duplicates, order and that every loss was counted.  The two
# fan-ins must lose nothing even so: a subscriber that still reads throttles
# its publishers (session.h), and a worker that falls behind the one that
# feeds it throttles that one's publishers (router.h), before the queue is
# full.
test_expect_success 'fan-in, default limits: every loss counted' '
	{ run_load dfanin --shape fanin --publishers 100 --messages 1000 \
	    --seed 6 --prefix dfanin --idle "$LOAD_IDLE" || :; } &&
	load_counts dfanin &&
	load_ok dfanin 1 2 5 6 &&
	no_dup2 dfanin &&
	lost_is_dropped dfanin
'

test_expect_success 'fan-in, default limits: nothing lost' '
	load_ok dfanin 3 4
'

test_expect_success 'fan-out, default limits: every loss counted' '
	{ run_load dfanout --shape fanout --subscribers 100 \
	    --messages 5000 --seed 7 --prefix dfanout \
	    --idle "$LOAD_IDLE" || :; } &&
	load_counts dfanout &&
	load_ok dfanout 1 2 5 6 &&
	no_dup2 dfanout &&
	lost_is_dropped dfanout
'

test_expect_success 'share, default limits: every loss counted' '
	{ run_load dshare --shape share --subscribers "$MEMBERS" \
	    --messages 20000 --seed 8 --prefix dshare \
	    --idle "$LOAD_IDLE" || :; } &&
	load_counts dshare &&
	load_ok dshare 1 2 5 6 &&
	no_dup2 dshare &&
	lost_is_dropped dshare
'

test_expect_success 'fan-in at QoS 1 to a slow subscriber, default limits' '
	{ run_load dslow --shape fanin --publishers 100 --messages 200 \
	    --pub-qos 1 --sub-qos 1 --read-rate 200000 --seed 9 \
	    --prefix dslow --idle "$LOAD_IDLE" || :; } &&
	load_counts dslow &&
	load_ok dslow 1 2 5 6 &&
	lost_is_dropped dslow
'

test_expect_success 'fan-in at QoS 1 to a slow subscriber: nothing lost' '
	load_ok dslow 3
'

test_expect_success 'no publisher was held until its throttle ran out' '
	load_no_hold
'

test_expect_success 'the broker exits cleanly' '
	stop_broker
'

test_done
