#!/bin/sh

test_description='interoperability with mosquitto_pub and mosquitto_sub

mosquitto_sub -V mqttv5 and mqttv311 with mosquitto_pub at QoS 0, 1 and
2: a thousand lines sent with -l all arrive, in order, at the QoS asked
for; -r retained messages are delivered to a later subscriber with the
retain flag, live ones without.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

test_expect_success 'start the broker' '
	start_broker
'

test_expect_success 'a file of 1000 lines' '
	i=1 &&
	while test $i -le 1000
	do
		echo "line $i of the file, payload $((i * 7919 % 1000))"
		i=$((i + 1))
	done >lines &&
	test $(wc -l <lines) = 1000
'

# sub_ready VERSION QOS TOPIC COUNT: start mosquitto_sub on TOPIC/data and
# TOPIC/ready, printing "qos retain topic payload", and return once it got the
# retained message on TOPIC/ready (so it is subscribed).  $sub_pid is its
# pid, sub.out its output.
sub_ready () {
	mosquitto_pub -V "$1" -h 127.0.0.1 -p "$FLOCKMQ_PORT" -q 1 -r \
		-t "$3/ready" -m ready &&
	test_spawn mosquitto_sub -V "$1" -h 127.0.0.1 -p "$FLOCKMQ_PORT" \
		-q "$2" -t "$3/ready" -t "$3/data" -C $(($4 + 1)) -W 15 \
		-F "%q %r %t %p" >sub.out 2>sub.err &&
	sub_pid=$! &&
	wait_for "grep -q \"^. 1 $3/ready ready\$\" sub.out" 5
}

# sub_done: wait (15 s at most) for mosquitto_sub to exit, and check it
# exited with status 0 (it got all its messages).
sub_done () {
	wait_for "! test_pid_alive $sub_pid" 15 &&
	wait "$sub_pid" &&
	cat sub.err >&2
}

for V in mqttv311 mqttv5
do
	for q in 0 1 2
	do
		test_expect_success "$V QoS $q: 1000 lines with -l arrive in order" '
			sub_ready $V $q mos/$V/q$q 1000 &&
			mosquitto_pub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q $q \
				-t mos/$V/q$q/data -l <lines &&
			sub_done &&
			sed -e "s|^|$q 0 mos/$V/q$q/data |" lines >expect &&
			sed -e 1d sub.out >actual &&
			test_cmp expect actual
		'
	done

	test_expect_success "$V: -r retained at QoS 2 reaches a later subscriber with the retain flag" '
		mosquitto_pub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q 2 -r \
			-t mos/$V/ret -m "retained payload" &&
		mosquitto_sub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q 2 \
			-t mos/$V/ret -C 1 -W 5 -F "%q %r %t %p" >actual &&
		echo "2 1 mos/$V/ret retained payload" >expect &&
		test_cmp expect actual &&
		mosquitto_sub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q 1 \
			-t mos/$V/ret -C 1 -W 5 -F "%q %r %t %p" >actual &&
		echo "1 1 mos/$V/ret retained payload" >expect &&
		test_cmp expect actual
	'

	test_expect_success "$V: a live -r message arrives with the retain flag clear" '
		sub_ready $V 1 mos/$V/live 1 &&
		mosquitto_pub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -q 1 -r \
			-t mos/$V/live/data -m "live and retained" &&
		sub_done &&
		printf "%s\n" "1 1 mos/$V/live/ready ready" \
			"1 0 mos/$V/live/data live and retained" >expect &&
		test_cmp expect sub.out &&
		mosquitto_pub -V $V -h 127.0.0.1 -p $FLOCKMQ_PORT -r \
			-t mos/$V/live/data -n
	'
done

test_expect_success 'mqttv5 publisher, mqttv311 subscriber and back: QoS 2, 200 lines' '
	head -n 200 lines >lines200 &&
	sub_ready mqttv311 2 mos/cross1 200 &&
	mosquitto_pub -V mqttv5 -h 127.0.0.1 -p $FLOCKMQ_PORT -q 2 \
		-t mos/cross1/data -l <lines200 &&
	sub_done &&
	sed -e "s|^|2 0 mos/cross1/data |" lines200 >expect &&
	sed -e 1d sub.out >actual &&
	test_cmp expect actual &&
	sub_ready mqttv5 2 mos/cross2 200 &&
	mosquitto_pub -V mqttv311 -h 127.0.0.1 -p $FLOCKMQ_PORT -q 2 \
		-t mos/cross2/data -l <lines200 &&
	sub_done &&
	sed -e "s|^|2 0 mos/cross2/data |" lines200 >expect &&
	sed -e 1d sub.out >actual &&
	test_cmp expect actual
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
