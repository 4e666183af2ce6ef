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
. "$TEST_DIRECTORY"/lib-load.sh

load_clients 2000 200

test_expect_success 'start the broker with two workers' '
	broker_config <<-\EOF &&
	mqtt:
	  workers: 2
	  max_mqueue_len: infinity
	log.console.level: info
	EOF
	start_broker
'

test_expect_success "$LOAD_CLIENTS clients x 20 messages, shared wildcard" '
	run_load big --clients "$LOAD_CLIENTS" --messages 20 --seed 1
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

test_expect_success 'no publisher was held until its throttle ran out' '
	load_no_hold
'

test_expect_success 'the broker exits cleanly' '
	stop_broker
'

test_done
