#!/bin/sh

test_description='back-pressure: a slow subscriber slows its publishers

A QoS 1 publisher sends faster than a subscriber reads.  Once the
subscriber'"'"'s queue is half of mqtt.max_mqueue_len deep, the broker stops
reading the publisher until the queue is down again, so nothing is
dropped and the subscriber gets every message in order.  A subscriber that
stops reading altogether must not hold the publisher for more than about two
seconds: its own queue overflows, and the other subscribers still get
everything.  With one worker and with two (publisher and subscriber then
usually on different workers).'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# flow ARGS...: t/helper/flow.py against the broker, output in flow.out.
flow () {
	FLOW_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE PYTHONDONTWRITEBYTECODE=1 \
		"$PYTHON" "$TEST_DIRECTORY/helper/flow.py" "$FLOCKMQ_PORT" \
		"$@" >flow.out 2>flow.err
	flow_ret_=$?
	cat flow.out flow.err
	return $flow_ret_
}

for workers in 1 2
do
	test_expect_success "start the broker with $workers worker(s)" '
		{ test -z "$BROKER_PID" || stop_broker; } &&
		broker_config <<-EOF &&
		mqtt:
		  workers: $workers
		  max_mqueue_len: 100
		log.console.level: info
		EOF
		start_broker
	'

	test_expect_success "$workers: a slow subscriber gets all 20000" '
		flow 20000 1000 slow:20 &&
		test_grep "^publisher acked=20000 " flow.out &&
		test_grep "^sub1 slow:20 received=20000 in_order=yes dups=0$" \
			flow.out
	'

	test_expect_success "$workers: a stuck subscriber holds nobody" '
		flow 20000 1000 slow:20 stuck fast &&
		test_grep "^publisher acked=20000 " flow.out &&
		test_grep "^sub1 slow:20 received=20000 in_order=yes dups=0$" \
			flow.out &&
		test_grep "^sub3 fast received=20000 in_order=yes dups=0$" \
			flow.out &&
		{ grep "read again after" "$BROKER_LOG" || :; }
	'
done

test_done
