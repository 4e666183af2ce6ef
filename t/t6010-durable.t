#!/bin/sh

test_description='durable sessions: kept in the store across restarts

A session created by a CONNECT with a Session Expiry Interval (MQTT 5) or
with clean session 0 (3.1.1, which gets mqtt.session_expiry_interval) is
durable when durable_sessions.enable is true (the default): it survives a
SIGTERM restart and a SIGKILL, and the CONNACK of its next clean start 0
connection says Session Present 1.  Kept: the non-shared subscriptions
with their options, the messages queued while offline (QoS 0, 1, 2, in
order, within mqtt.max_mqueue_len), the messages in flight (resent with
DUP 1 and their packet ids, or as PUBREL once PUBREC-ed), the QoS 2
receipts of a durable publisher (a resent PUBLISH is not delivered twice),
a will waiting for its Will Delay Interval, and the expiry, which counts
from the disconnect.  The store (<node.data_dir>/store) has s/<clientid>
per session, q/<clientid> NUL <id> per queued or in-flight message and
d/<shard><id> per message body, shared; they go when nothing needs them
(acknowledged, expired, discarded).  Non-durable sessions and
durable_sessions.enable false keep nothing.  A damaged s/ or q/ record
stops start-up until "flockmq store repair".  t/helper/durable.py is the
client.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

STORE=$BROKER_DATA/store

# durable SUBCOMMAND ...: t/helper/durable.py against this broker.
durable () {
	MQTT_PORT=$FLOCKMQ_PORT BROKER_LOG=$BROKER_LOG \
	DURABLE_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE PYTHONDONTWRITEBYTECODE=1 \
	PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" "$TEST_DIRECTORY/helper/durable.py" "$@"
}

# settle: let a session_gc_interval sweep (1 s here) run.
settle () {
	wait_until_epoch $(($(date +%s) + 2))
}

# bounce term|kill: restart the broker after a SIGTERM or a SIGKILL.
bounce () {
	case $1 in
	term) stop_broker && start_broker ;;
	kill) kill_broker && start_broker ;;
	*) echo "bounce: term or kill, not '$1'"; return 1 ;;
	esac
}

# halt term|kill: stop the broker with a SIGTERM or a SIGKILL.
halt () {
	case $1 in
	term) stop_broker ;;
	kill) kill_broker ;;
	*) echo "halt: term or kill, not '$1'"; return 1 ;;
	esac
}

# snapshot FILE: `store-tool list` of the stopped store into FILE.
snapshot () {
	store-tool "$STORE" list >"$1"
}

# look FILE: stop the broker, snapshot the store into FILE, start it again.
look () {
	stop_broker && snapshot "$1" && start_broker
}

# has LIST WHAT N: `durable.py count LIST WHAT` is N.
has () {
	has_n_=$(durable count "$1" "$2") || return 1
	test "$has_n_" = "$3" || {
		echo "has: $3 records $2 expected in $1, $has_n_ found; the keys:"
		cut -f1 "$1"
		return 1
	}
}

# publishes FILE: the PUBLISH lines of FILE, without the packet ids.
publishes () {
	grep "^PUBLISH " "$1" | sed "s/ pid=[0-9-]* / /"
}

# pids FILE: the packet ids of the PUBLISH lines of FILE, one a line.
pids () {
	sed -n "s/^PUBLISH .* pid=\([0-9]*\) .*/\1/p" "$1"
}

# between T0FILE T1FILE MIN MAX: the time in T1FILE is MIN to MAX seconds
# after the one in T0FILE.
between () {
	between_d_=$(awk -v a="$(cat "$1")" -v b="$(cat "$2")" \
	    "BEGIN { printf \"%.2f\", b - a }") &&
	echo "between: $between_d_ s" &&
	awk -v d="$between_d_" -v lo="$3" -v hi="$4" \
	    "BEGIN { exit !(d >= lo && d <= hi) }" || {
		echo "between: $between_d_ s is not in [$3, $4]"
		return 1
	}
}

# wait_gone PID [SECONDS]: PID, a test_spawn of this test, ends in time
# and with status 0.
wait_gone () {
	wait_for "! test_pid_alive $1" "${2:-30}" &&
	wait "$1"
}

# forget ID...: end the sessions (clean start, no expiry).
forget () {
	for forget_id_
	do
		durable get "$forget_id_" --clean >/dev/null || return 1
	done
}

test_expect_success 'start the broker' '
	broker_config <<-\EOF &&
	sys_topics:
	  sys_msg_interval: 1s
	durable_sessions:
	  session_gc_interval: 1s
	  heartbeat_interval: 1s
	EOF
	start_broker
'

# ---------------------------------------------------------------------------
# Which sessions are durable

test_expect_success 'v5 with a Session Expiry Interval: Session Present 1 after a SIGTERM restart' '
	durable sub d-v5 -e 3600 --clean --sp 0 "d/v5@1" &&
	restart_broker &&
	durable get d-v5 -e 3600 --sp 1 --pub "1:d/v5:after" -n 1 --quiet 0.5 \
	    >out &&
	publishes out >actual &&
	echo "PUBLISH d/v5 qos=1 dup=0 retain=0 payload=after" >expect &&
	test_cmp expect actual &&
	durable get d-v5 -e 3600 --sp 1 >/dev/null &&
	forget d-v5
'

test_expect_success 'v5 with a Session Expiry Interval: Session Present 1 after a SIGKILL' '
	durable sub d-v5k -e 3600 --clean --sp 0 "d/v5k@1" &&
	bounce kill &&
	durable get d-v5k -e 3600 --sp 1 --pub "1:d/v5k:after" -n 1 \
	    --quiet 0.5 >out &&
	publishes out >actual &&
	echo "PUBLISH d/v5k qos=1 dup=0 retain=0 payload=after" >expect &&
	test_cmp expect actual &&
	forget d-v5k
'

test_expect_success '3.1.1 clean session 0: the session and its queue survive a restart' '
	durable sub d-v4 -V 4 --sp 0 "d/v4@2" &&
	durable pub -V 4 "1:d/v4:one" "2:d/v4:two" "0:d/v4:zero" &&
	restart_broker &&
	durable get d-v4 -V 4 --sp 1 -n 3 --quiet 0.5 >out &&
	publishes out >actual &&
	cat >expect <<-\EOF &&
	PUBLISH d/v4 qos=1 dup=0 retain=0 payload=one
	PUBLISH d/v4 qos=2 dup=0 retain=0 payload=two
	PUBLISH d/v4 qos=0 dup=0 retain=0 payload=zero
	EOF
	test_cmp expect actual &&
	durable get d-v4 -V 4 --clean >/dev/null
'

test_expect_success 'paho-mqtt clients (3.1.1 and 5) resume after a SIGKILL' '
	durable paho-sub d-paho4 -V 4 d/paho/4 2 >/dev/null &&
	durable paho-sub d-paho5 -V 5 -e 3600 d/paho/5 2 >/dev/null &&
	durable pub "1:d/paho/4:a" "2:d/paho/4:b" "1:d/paho/5:c" \
	    "2:d/paho/5:d" &&
	bounce kill &&
	durable paho-get d-paho4 -V 4 --sp 1 -n 2 --quiet 1 >actual &&
	cat >expect <<-\EOF &&
	CONNACK sp=1
	d/paho/4 qos=1 payload=a
	d/paho/4 qos=2 payload=b
	EOF
	test_cmp expect actual &&
	durable paho-get d-paho5 -V 5 -e 3600 --sp 1 -n 2 --quiet 1 >actual &&
	cat >expect <<-\EOF &&
	CONNACK sp=1
	d/paho/5 qos=1 payload=c
	d/paho/5 qos=2 payload=d
	EOF
	test_cmp expect actual &&
	forget d-paho4 d-paho5
'

for how in term kill
do
	test_expect_success "non-durable sessions do not survive ($how)" '
		durable sub d-nd5-$how --sp 0 "d/nd/$how@1" &&
		test_spawn durable get d-nd5-$how --sub "d/nd/$how@1" \
		    --connected nd5.up --end hold >nd5.out 2>nd5.err &&
		p5=$! &&
		test_spawn durable get d-nd4-$how -V 4 --clean \
		    --sub "d/nd/$how@1" --connected nd4.up --end hold \
		    >nd4.out 2>nd4.err &&
		p4=$! &&
		test_spawn durable get d-ndc-$how --clean --sub "d/nd/$how@1" \
		    --connected ndc.up --end hold >ndc.out 2>ndc.err &&
		pc=$! &&
		wait_for "test -f nd5.up && test -f nd4.up && test -f ndc.up" &&
		rm -f nd5.up nd4.up ndc.up &&
		durable pub "1:d/nd/$how:while-up" &&
		halt $how &&
		wait_gone $p5 && wait_gone $p4 && wait_gone $pc &&
		snapshot list &&
		has list s:d-nd5-$how 0 &&
		has list s:d-nd4-$how 0 &&
		has list s:d-ndc-$how 0 &&
		start_broker &&
		durable get d-nd5-$how --sp 0 --pub "1:d/nd/$how:after" \
		    --quiet 1 >/dev/null &&
		durable get d-ndc-$how --sp 0 --quiet 0.5 >/dev/null &&
		durable get d-nd4-$how -V 4 --sp 0 --quiet 0.5 >/dev/null &&
		durable get d-nd4-$how -V 4 --clean >/dev/null
	'
done

# ---------------------------------------------------------------------------
# Subscriptions

for how in term kill
do
	test_expect_success "subscriptions keep QoS, No Local, Retain As Published, Subscription Identifier ($how)" '
		t=d/opt/$how &&
		durable sub d-opt-$how -e 3600 --clean --sp 0 -u "$t/gone" \
		    "$t/q0@0" "$t/q1@1" "$t/q2@2" "$t/nl@1,nl" "$t/rap@1,rap" \
		    "$t/norap@1" "$t/id@1,id=42" "$t/gone@1" &&
		bounce $how &&
		durable get d-opt-$how -e 3600 --sp 1 --self "1:$t/nl:mine" \
		    --pub "2:$t/q0:a" --pub "2:$t/q1:b" --pub "2:$t/q2:c" \
		    --pub "1:$t/nl:theirs" --pub "1r:$t/rap:kept" \
		    --pub "1r:$t/norap:flat" --pub "1:$t/id:tagged" \
		    --pub "1:$t/gone:nothing" -n 7 --quiet 1 >out &&
		publishes out | sort >actual &&
		sort >expect <<-EOF &&
		PUBLISH $t/q0 qos=0 dup=0 retain=0 payload=a
		PUBLISH $t/q1 qos=1 dup=0 retain=0 payload=b
		PUBLISH $t/q2 qos=2 dup=0 retain=0 payload=c
		PUBLISH $t/nl qos=1 dup=0 retain=0 payload=theirs
		PUBLISH $t/rap qos=1 dup=0 retain=1 payload=kept
		PUBLISH $t/norap qos=1 dup=0 retain=0 payload=flat
		PUBLISH $t/id qos=1 dup=0 retain=0 payload=tagged sub_id=42
		EOF
		test_cmp expect actual &&
		durable pub "1r:$t/rap:" "1r:$t/norap:" &&
		forget d-opt-$how
	'
done

test_expect_success 'a queued message keeps the identifiers of every subscription it matched (kill)' '
	durable sub d-ids -e 3600 --clean --sp 0 "d/ids/+@1,id=7" \
	    "d/ids/#@2,id=9" "d/other/#@1,id=11" &&
	durable pub "1:d/ids/x:both" &&
	bounce kill &&
	durable get d-ids -e 3600 --sp 1 -n 1 --quiet 0.5 >out &&
	publishes out >actual &&
	echo "PUBLISH d/ids/x qos=1 dup=0 retain=0 payload=both sub_id=7,9" \
	    >expect &&
	test_cmp expect actual &&
	forget d-ids
'

test_expect_success 'a restored subscription does not send the retained messages again' '
	durable sub d-ret -e 3600 --clean --sp 0 "d/ret@1" &&
	durable pub "1r:d/ret:r1" &&
	durable get d-ret -e 3600 --sp 1 -n 1 --quiet 0.5 >out &&
	publishes out >actual &&
	echo "PUBLISH d/ret qos=1 dup=0 retain=0 payload=r1" >expect &&
	test_cmp expect actual &&
	restart_broker &&
	durable get d-ret -e 3600 --sp 1 --quiet 1.5 >out &&
	bounce kill &&
	durable get d-ret -e 3600 --sp 1 --quiet 1.5 >out &&
	durable pub "1r:d/ret:" &&
	forget d-ret
'

# ---------------------------------------------------------------------------
# Messages queued while offline

for how in term kill
do
	test_expect_success "QoS 0, 1, 2 queued offline arrive in order after two restarts ($how)" '
		t=d/q/$how &&
		durable sub d-q-$how -e 3600 --clean --sp 0 "$t/#@2" &&
		durable sub d-q2-$how -V 4 --sp 0 "$t/#@2" &&
		durable pub --seq $t/a QMARK-$how-a 6 0,1,2 &&
		bounce $how &&
		durable pub --seq $t/b QMARK-$how-b 6 2,1,0,1 \
		    "1:$t/b:QMARK-$how-last" &&
		halt $how &&
		snapshot list &&
		has list q:d-q-$how 13 &&
		has list q:d-q2-$how 13 &&
		has list d:QMARK-$how- 13 &&
		durable layout list &&
		start_broker &&
		cat >expect <<-EOF &&
		PUBLISH $t/a qos=0 dup=0 retain=0 payload=QMARK-$how-a0
		PUBLISH $t/a qos=1 dup=0 retain=0 payload=QMARK-$how-a1
		PUBLISH $t/a qos=2 dup=0 retain=0 payload=QMARK-$how-a2
		PUBLISH $t/a qos=0 dup=0 retain=0 payload=QMARK-$how-a3
		PUBLISH $t/a qos=1 dup=0 retain=0 payload=QMARK-$how-a4
		PUBLISH $t/a qos=2 dup=0 retain=0 payload=QMARK-$how-a5
		PUBLISH $t/b qos=2 dup=0 retain=0 payload=QMARK-$how-b0
		PUBLISH $t/b qos=1 dup=0 retain=0 payload=QMARK-$how-b1
		PUBLISH $t/b qos=0 dup=0 retain=0 payload=QMARK-$how-b2
		PUBLISH $t/b qos=1 dup=0 retain=0 payload=QMARK-$how-b3
		PUBLISH $t/b qos=2 dup=0 retain=0 payload=QMARK-$how-b4
		PUBLISH $t/b qos=1 dup=0 retain=0 payload=QMARK-$how-b5
		PUBLISH $t/b qos=1 dup=0 retain=0 payload=QMARK-$how-last
		EOF
		durable get d-q-$how -e 3600 --sp 1 -n 13 --quiet 1 >out &&
		publishes out >actual &&
		test_cmp expect actual &&
		durable get d-q2-$how -V 4 --sp 1 -n 13 --quiet 1 >out &&
		publishes out >actual &&
		test_cmp expect actual &&
		settle &&
		stop_broker &&
		snapshot list &&
		has list q:d-q-$how 0 &&
		has list q:d-q2-$how 0 &&
		has list d:QMARK-$how- 0 &&
		has list s:d-q-$how 1 &&
		has list s:d-q2-$how 1 &&
		start_broker &&
		durable get d-q-$how -e 3600 --sp 1 --quiet 1 >/dev/null &&
		forget d-q-$how d-q2-$how
	'
done

big_sha1=$(printf "%0100000d" 0 | tr 0 x | sha1sum | cut -d" " -f1)

test_expect_success 'queued messages keep payload and properties (binary, 100 KB, v5 properties) across a SIGKILL' '
	durable sub d-props -e 3600 --clean --sp 0 "d/props/#@2" &&
	durable pub -P "{\"content_type\": \"text/plain\",
	    \"payload_format\": 1, \"response_topic\": \"d/reply\",
	    \"correlation_data\": \"corr-1\",
	    \"user\": [[\"k1\", \"v1\"], [\"k2\", \"v2\"], [\"k1\", \"again\"]]}" \
	    "2:d/props/a:hello" &&
	durable pub "1:d/props/b:hex:00ff7f0a" "1:d/props/c:rep:100000" &&
	bounce kill &&
	durable get d-props -e 3600 --sp 1 -n 3 --quiet 1 >out &&
	sed "s/ pid=[0-9-]* / /" out >actual &&
	cat >expect <<-EOF &&
	CONNACK sp=1
	PUBLISH d/props/a qos=2 dup=0 retain=0 payload=hello
	  content_type=text/plain
	  correlation_data=hex:636f72722d31
	  payload_format=1
	  response_topic=d/reply
	  user=k1=v1
	  user=k2=v2
	  user=k1=again
	PUBLISH d/props/b qos=1 dup=0 retain=0 payload=hex:00ff7f0a
	PUBLISH d/props/c qos=1 dup=0 retain=0 payload=<100000 bytes, sha1 $big_sha1>
	EOF
	test_cmp expect actual &&
	forget d-props
'

test_expect_success 'a queued message whose Message Expiry Interval ran out while the broker was down is dropped' '
	durable sub d-mexp -e 3600 --clean --sp 0 "d/mexp/#@1" &&
	durable pub -P "{\"message_expiry\": 2}" "1:d/mexp/short:short" &&
	durable pub -P "{\"message_expiry\": 100}" "1:d/mexp/long:long" &&
	t0=$(date +%s) &&
	stop_broker &&
	wait_until_epoch $((t0 + 4)) &&
	start_broker &&
	durable get d-mexp -e 3600 --sp 1 -n 1 --quiet 1 >out &&
	sed -e "s/ pid=[0-9-]* / /" -e "s/message_expiry=9[0-7]\$/message_expiry=9x/" \
	    out >actual &&
	cat >expect <<-\EOF &&
	CONNACK sp=1
	PUBLISH d/mexp/long qos=1 dup=0 retain=0 payload=long
	  message_expiry=9x
	EOF
	test_cmp expect actual &&
	forget d-mexp
'

test_expect_success '50 durable sessions share the stored messages and all resume after a SIGKILL' '
	durable sub-many d-many- 50 "d/many@1" &&
	durable pub "1:d/many:MANY-1" "2:d/many:MANY-2" &&
	halt kill &&
	snapshot list &&
	has list d:MANY- 2 &&
	has list q:d-many-0 2 &&
	has list q:d-many-49 2 &&
	start_broker &&
	durable get-many d-many- 50 -n 2 >actual &&
	cat >expect <<-\EOF &&
	50 sessions got:
	  d/many qos=1 payload=MANY-1
	  d/many qos=1 payload=MANY-2
	EOF
	test_cmp expect actual &&
	durable get-many d-many- 50 --clean >/dev/null
'

test_expect_success 'the store: m/version, m/heartbeat, m/node_id, m/boot and only the documented keys' '
	stop_broker &&
	store-tool "$STORE" get m/version >actual &&
	printf 1 >expect &&
	test_cmp expect actual &&
	store-tool "$STORE" get m/heartbeat >/dev/null &&
	store-tool "$STORE" get m/node_id >/dev/null &&
	store-tool "$STORE" get m/boot >/dev/null &&
	snapshot list &&
	durable layout list &&
	start_broker
'

# ---------------------------------------------------------------------------
# Messages in flight

for how in term kill
do
	test_expect_success "in flight while connected: resent with DUP 1 and the same ids ($how)" '
		t=d/if/$how &&
		rm -f if.up if.ready &&
		durable sub d-if-$how -e 3600 --clean --sp 0 "$t/1@1" "$t/2@2" &&
		test_spawn durable get d-if-$how -e 3600 --sp 1 --ack none -n 4 \
		    --connected if.up --ready if.ready --end hold \
		    >first 2>first.err &&
		p=$! &&
		wait_for "test -f if.up" &&
		durable pub "1:$t/1:a" "2:$t/2:b" "1:$t/1:c" "2:$t/2:d" &&
		wait_for "test -f if.ready || ! test_pid_alive $p" &&
		test -f if.ready &&
		bounce $how &&
		wait_gone $p &&
		test_grep "^CLOSED" first &&
		publishes first >first.pub &&
		cat >expect <<-EOF &&
		PUBLISH $t/1 qos=1 dup=0 retain=0 payload=a
		PUBLISH $t/2 qos=2 dup=0 retain=0 payload=b
		PUBLISH $t/1 qos=1 dup=0 retain=0 payload=c
		PUBLISH $t/2 qos=2 dup=0 retain=0 payload=d
		EOF
		test_cmp expect first.pub &&
		durable get d-if-$how -e 3600 --sp 1 -n 4 --quiet 1 >second &&
		grep "^PUBLISH " first | sed "s/ dup=0 / dup=1 /" >expect &&
		grep "^PUBLISH " second >actual &&
		test_cmp expect actual &&
		durable get d-if-$how -e 3600 --sp 1 --quiet 1 >/dev/null &&
		settle &&
		stop_broker &&
		snapshot list &&
		has list q:d-if-$how 0 &&
		start_broker &&
		forget d-if-$how
	'
done

for v in 5 4
do
	for how in term kill
	do
		test_expect_success "v$v: in flight before the close come first (DUP 1, same ids), then those queued ($how)" '
			id=d-ord$v-$how t=d/ord/$v/$how &&
			if test $v = 5
			then
				first_opts="-e 3600 --clean" opts="-e 3600"
			else
				first_opts="-V 4" opts="-V 4"
			fi &&
			durable sub $id $first_opts --sp 0 "$t@2" &&
			durable pub "1:$t:in0" "2:$t:in1" "1:$t:in2" &&
			durable get $id $opts --sp 1 -n 3 --ack none --end close \
			    >first &&
			durable pub "2:$t:q0" "1:$t:q1" "0:$t:q2" &&
			bounce $how &&
			durable get $id $opts --sp 1 -n 6 --quiet 1 >second &&
			publishes second >actual &&
			cat >expect <<-EOF &&
			PUBLISH $t qos=1 dup=1 retain=0 payload=in0
			PUBLISH $t qos=2 dup=1 retain=0 payload=in1
			PUBLISH $t qos=1 dup=1 retain=0 payload=in2
			PUBLISH $t qos=2 dup=0 retain=0 payload=q0
			PUBLISH $t qos=1 dup=0 retain=0 payload=q1
			PUBLISH $t qos=0 dup=0 retain=0 payload=q2
			EOF
			test_cmp expect actual &&
			pids first >expect &&
			pids second | head -n 3 >actual &&
			test_cmp expect actual &&
			pids second | sort -u | wc -l >n &&
			echo 5 >expect &&
			tr -d " " <n >actual &&
			test_cmp expect actual &&
			durable get $id $opts --sp 1 --quiet 1 >/dev/null &&
			forget $id
		'
	done
done

for how in term kill
do
	test_expect_success "QoS 2 PUBREC-ed before the restart: PUBREL is resent, not PUBLISH ($how)" '
		t=d/rel/$how &&
		durable sub d-rel-$how -e 3600 --clean --sp 0 "$t@2" &&
		durable pub "2:$t:once" &&
		durable get d-rel-$how -e 3600 --sp 1 -n 1 --ack pubrec \
		    --end close >first &&
		rel=$(pids first) &&
		cat >expect <<-EOF &&
		CONNACK sp=1
		PUBLISH $t qos=2 dup=0 retain=0 pid=$rel payload=once
		PUBREL pid=$rel flags=2
		EOF
		test_cmp expect first &&
		bounce $how &&
		durable get d-rel-$how -e 3600 --sp 1 -n 1 --quiet 1 >second &&
		cat >expect <<-EOF &&
		CONNACK sp=1
		PUBREL pid=$rel flags=2
		EOF
		test_cmp expect second &&
		bounce $how &&
		durable get d-rel-$how -e 3600 --sp 1 --quiet 1 >third &&
		echo "CONNACK sp=1" >expect &&
		test_cmp expect third &&
		forget d-rel-$how
	'
done

for how in term kill
do
	test_expect_success "a durable publisher resends its QoS 2 PUBLISH after the restart: delivered once ($how)" '
		t=d/rx/$how &&
		durable sub d-rxs-$how -e 3600 --clean --sp 0 "$t@2" &&
		durable pub2 d-rxp-$how -e 3600 --clean --sp 0 --pid 7 \
		    "$t" once >pub1 &&
		test_grep "^PUBREC pid=7 rc=0x[0-7]" pub1 &&
		durable get d-rxs-$how -e 3600 --sp 1 --collect 1.5 >sub1 &&
		bounce $how &&
		durable pub2 d-rxp-$how -e 3600 --sp 1 --pid 7 --dup \
		    --upto pubcomp --end disconnect "$t" once >pub2 &&
		test_grep "^PUBREC pid=7 rc=0x[0-7]" pub2 &&
		test_grep "^PUBCOMP pid=7 rc=0x00" pub2 &&
		durable get d-rxs-$how -e 3600 --sp 1 --collect 1.5 >sub2 &&
		cat sub1 sub2 >both &&
		publishes both >actual &&
		echo "PUBLISH $t qos=2 dup=0 retain=0 payload=once" >expect &&
		test_cmp expect actual &&
		durable pub2 d-rxp-$how -e 3600 --sp 1 --pid 7 --upto pubcomp \
		    --end disconnect "$t" again >pub3 &&
		durable get d-rxs-$how -e 3600 --sp 1 -n 1 --quiet 1 >sub3 &&
		publishes sub3 >actual &&
		echo "PUBLISH $t qos=2 dup=0 retain=0 payload=again" >expect &&
		test_cmp expect actual &&
		forget d-rxs-$how d-rxp-$how
	'
done

# ---------------------------------------------------------------------------
# Wills

for how in term kill
do
	test_expect_success "a delayed will is published after the rest of its delay, across a restart ($how)" '
		t=d/will/$how &&
		rm -f t0 t1 &&
		durable sub d-ww-$how -e 3600 --clean --sp 0 "$t@1" &&
		durable will d-will-$how -e 60 --delay 5 --t0 t0 "$t" \
		    "gone-$how" >/dev/null &&
		bounce $how &&
		durable get d-ww-$how -e 3600 --sp 1 -n 1 -t 15 --times t1 \
		    --quiet 1 >out &&
		publishes out >actual &&
		echo "PUBLISH $t qos=1 dup=0 retain=0 payload=gone-$how" >expect &&
		test_cmp expect actual &&
		between t0 t1 4 8.5 &&
		forget d-ww-$how d-will-$how
	'
done

test_expect_success 'a reconnect after the restart, within the will delay, cancels the will' '
	rm -f t0 &&
	durable sub d-wcw -e 3600 --clean --sp 0 "d/wc@1" &&
	durable will d-wc -e 60 --delay 6 --t0 t0 d/wc cancelled >/dev/null &&
	restart_broker &&
	durable get d-wc -e 60 --sp 1 --quiet 7 >/dev/null &&
	durable get d-wcw -e 3600 --sp 1 --quiet 1 >/dev/null &&
	forget d-wc d-wcw
'

test_expect_success 'a will whose delay ran out while the broker was down is published at start-up' '
	rm -f t0 &&
	durable sub d-wdw -e 3600 --clean --sp 0 "d/wd@1" &&
	durable will d-wd -e 60 --delay 2 --t0 t0 d/wd down >/dev/null &&
	stop_broker &&
	t0=$(cut -d. -f1 t0) &&
	wait_until_epoch $((t0 + 4)) &&
	start_broker &&
	durable get d-wdw -e 3600 --sp 1 -n 1 --quiet 1 >out &&
	publishes out >actual &&
	echo "PUBLISH d/wd qos=1 dup=0 retain=0 payload=down" >expect &&
	test_cmp expect actual &&
	forget d-wd d-wdw
'

test_expect_success 'the wills of 10 sessions whose delay ran out while the broker was down all reach both watchers' '
	durable sub d-wmw-a -e 3600 --clean --sp 0 "d/wm/#@1" &&
	durable sub d-wmw-b -e 3600 --clean --sp 0 "d/wm/#@1" &&
	: >expect &&
	for i in 0 1 2 3 4 5 6 7 8 9
	do
		durable will d-wm-$i -e 60 --delay 1 --t0 t0 d/wm/$i "w$i" \
		    >/dev/null &&
		echo "PUBLISH d/wm/$i qos=1 dup=0 retain=0 payload=w$i" >>expect ||
		return 1
	done &&
	stop_broker &&
	t0=$(cut -d. -f1 t0) &&
	wait_until_epoch $((t0 + 3)) &&
	start_broker &&
	durable get d-wmw-a -e 3600 --sp 1 -n 10 --quiet 1 >out.a &&
	publishes out.a | sort >actual &&
	test_cmp expect actual &&
	durable get d-wmw-b -e 3600 --sp 1 -n 10 --quiet 1 >out.b &&
	publishes out.b | sort >actual &&
	test_cmp expect actual &&
	forget d-wmw-a d-wmw-b d-wm-0 d-wm-1 d-wm-2 d-wm-3 d-wm-4 d-wm-5 \
	    d-wm-6 d-wm-7 d-wm-8 d-wm-9
'

test_expect_success 'the wills of sessions that ended while the broker was down are published at start-up' '
	durable sub d-wmw-a -e 3600 --clean --sp 0 "d/wx/#@1" &&
	durable sub d-wmw-b -e 3600 --clean --sp 0 "d/wx/#@1" &&
	: >expect &&
	for i in 0 1 2 3
	do
		durable will d-wx-$i -e 2 --delay 60 --t0 t0 d/wx/$i "x$i" \
		    >/dev/null &&
		echo "PUBLISH d/wx/$i qos=1 dup=0 retain=0 payload=x$i" >>expect ||
		return 1
	done &&
	stop_broker &&
	t0=$(cut -d. -f1 t0) &&
	wait_until_epoch $((t0 + 4)) &&
	start_broker &&
	durable get d-wmw-a -e 3600 --sp 1 -n 4 --quiet 1 >out.a &&
	publishes out.a | sort >actual &&
	test_cmp expect actual &&
	durable get d-wmw-b -e 3600 --sp 1 -n 4 --quiet 1 >out.b &&
	publishes out.b | sort >actual &&
	test_cmp expect actual &&
	durable get d-wx-0 --sp 0 >/dev/null &&
	forget d-wmw-a d-wmw-b
'

test_expect_success 'a will delay longer than the session expiry: published at the session end, across a restart' '
	rm -f t0 t1 &&
	durable sub d-wew -e 3600 --clean --sp 0 "d/we@1" &&
	durable will d-we -e 4 --delay 60 --t0 t0 d/we ended >/dev/null &&
	restart_broker &&
	durable get d-wew -e 3600 --sp 1 -n 1 -t 12 --times t1 --quiet 1 \
	    >out &&
	publishes out >actual &&
	echo "PUBLISH d/we qos=1 dup=0 retain=0 payload=ended" >expect &&
	test_cmp expect actual &&
	between t0 t1 3 7.5 &&
	durable get d-we --sp 0 >/dev/null &&
	forget d-wew
'

# ---------------------------------------------------------------------------
# Expiry and discarding

for how in term kill
do
	test_expect_success "a session that expired while the broker was down is gone, its messages too ($how)" '
		t=d/exp/$how &&
		durable sub d-exp-$how -e 4 --clean --sp 0 "$t@1" &&
		t0=$(date +%s) &&
		durable pub --seq $t EMARK-$how- 5 1,2 &&
		halt $how &&
		snapshot list &&
		has list s:d-exp-$how 1 &&
		has list q:d-exp-$how 5 &&
		has list d:EMARK-$how- 5 &&
		wait_until_epoch $((t0 + 6)) &&
		start_broker &&
		durable get d-exp-$how --sp 0 --quiet 1 >out &&
		echo "CONNACK sp=0" >expect &&
		test_cmp expect out &&
		settle &&
		stop_broker &&
		snapshot list &&
		has list s:d-exp-$how 0 &&
		has list q:d-exp-$how 0 &&
		has list d:EMARK-$how- 0 &&
		start_broker
	'
done

test_expect_success 'the expiry counts from the disconnect, not from the restart' '
	durable sub d-cnt -e 5 --clean --sp 0 "d/cnt@1" &&
	t0=$(date +%s) &&
	wait_until_epoch $((t0 + 4)) &&
	restart_broker &&
	wait_until_epoch $((t0 + 8)) &&
	durable get d-cnt --sp 0 >/dev/null
'

test_expect_success 'a Session Expiry Interval set at DISCONNECT is the one kept across a restart' '
	durable sub d-dx -e 3600 --clean --sp 0 "d/dx@1" &&
	durable get d-dx -e 3600 --sp 1 --dis-expiry 3 >/dev/null &&
	durable sub d-dx2 -e 3 --clean --sp 0 "d/dx@1" &&
	durable get d-dx2 -e 3 --sp 1 --dis-expiry 3600 >/dev/null &&
	t0=$(date +%s) &&
	restart_broker &&
	wait_until_epoch $((t0 + 5)) &&
	durable get d-dx --sp 0 >/dev/null &&
	durable get d-dx2 -e 3600 --sp 1 --pub "1:d/dx:still" -n 1 \
	    --quiet 0.5 >/dev/null &&
	forget d-dx2
'

test_expect_success 'an expired session is swept from the store while the broker runs' '
	durable sub d-gc -e 2 --clean --sp 0 "d/gc@1" &&
	t0=$(date +%s) &&
	durable pub --seq d/gc GMARK- 5 1,2,0 &&
	wait_until_epoch $((t0 + 5)) &&
	stop_broker &&
	snapshot list &&
	has list s:d-gc 0 &&
	has list q:d-gc 0 &&
	has list d:GMARK- 0 &&
	start_broker &&
	durable get d-gc --sp 0 >/dev/null
'

test_expect_success '3.1.1: mqtt.session_expiry_interval is the expiry, across a restart' '
	restart_broker FLOCKMQ_MQTT__SESSION_EXPIRY_INTERVAL=3s &&
	durable sub d-v4exp -V 4 --sp 0 "d/v4exp@1" &&
	t0=$(date +%s) &&
	durable pub "1:d/v4exp:m" &&
	stop_broker &&
	snapshot list &&
	has list s:d-v4exp 1 &&
	wait_until_epoch $((t0 + 5)) &&
	start_broker FLOCKMQ_MQTT__SESSION_EXPIRY_INTERVAL=3s &&
	durable get d-v4exp -V 4 --sp 0 --quiet 1 >/dev/null &&
	durable get d-v4exp -V 4 --clean >/dev/null &&
	restart_broker
'

test_expect_success 'clean start, clean session 1 and DISCONNECT with expiry 0 discard a durable session and its messages' '
	durable sub d-cs5 -e 3600 --clean --sp 0 "d/cs@1" &&
	durable sub d-cs4 -V 4 --sp 0 "d/cs@1" &&
	durable sub d-cs0 -e 3600 --clean --sp 0 "d/cs@1" &&
	durable pub --seq d/cs CMARK- 4 1,2 &&
	stop_broker &&
	snapshot list &&
	has list q:d-cs5 4 &&
	has list q:d-cs4 4 &&
	has list q:d-cs0 4 &&
	has list d:CMARK- 4 &&
	start_broker &&
	durable get d-cs5 --clean --sp 0 --quiet 1 >/dev/null &&
	durable get d-cs4 -V 4 --clean --sp 0 --quiet 1 >/dev/null &&
	durable get d-cs0 -e 3600 --sp 1 -n 4 --ack none --dis-expiry 0 \
	    >/dev/null &&
	settle &&
	stop_broker &&
	snapshot list &&
	has list s:d-cs5 0 &&
	has list s:d-cs4 0 &&
	has list s:d-cs0 0 &&
	has list q:d-cs5 0 &&
	has list q:d-cs4 0 &&
	has list q:d-cs0 0 &&
	has list d:CMARK- 0 &&
	start_broker &&
	durable get d-cs5 --sp 0 >/dev/null &&
	durable get d-cs0 --sp 0 >/dev/null &&
	durable get d-cs4 -V 4 --clean --sp 0 >/dev/null
'

# ---------------------------------------------------------------------------
# mqtt.max_mqueue_len

test_expect_success 'max_mqueue_len 10: a restored session gets the newest 10 of 25, 15 drops counted' '
	restart_broker FLOCKMQ_MQTT__MAX_MQUEUE_LEN=10 &&
	durable sub d-mq -e 3600 --clean --sp 0 "d/mq@1" &&
	restart_broker FLOCKMQ_MQTT__MAX_MQUEUE_LEN=10 &&
	before=$(durable metric metrics/delivery/dropped/queue_full) &&
	durable pub --seq d/mq MQ- 25 1 &&
	durable get d-mq -e 3600 --sp 1 -n 10 --quiet 1 >out &&
	publishes out >actual &&
	for i in $(seq 15 24)
	do
		echo "PUBLISH d/mq qos=1 dup=0 retain=0 payload=MQ-$i" || return 1
	done >expect &&
	test_cmp expect actual &&
	wait_for "test \$(durable metric metrics/delivery/dropped/queue_full) -ge \$((before + 15))" 15 &&
	after=$(durable metric metrics/delivery/dropped/queue_full) &&
	test_diag "delivery.dropped.queue_full: $before -> $after" &&
	test $((after - before)) = 15 &&
	forget d-mq
'

for how in term kill
do
	test_expect_success "max_mqueue_len 10 bounds the queue on disk too ($how)" '
		durable sub d-mq-$how -e 3600 --clean --sp 0 "d/mq/$how@1" &&
		durable pub --seq d/mq/$how MQ$how- 25 1 &&
		halt $how &&
		snapshot list &&
		has list q:d-mq-$how 10 &&
		has list d:MQ$how- 10 &&
		start_broker FLOCKMQ_MQTT__MAX_MQUEUE_LEN=10 &&
		durable get d-mq-$how -e 3600 --sp 1 -n 10 --quiet 1 >out &&
		publishes out >actual &&
		for i in $(seq 15 24)
		do
			echo "PUBLISH d/mq/$how qos=1 dup=0 retain=0 payload=MQ$how-$i" ||
			return 1
		done >expect &&
		test_cmp expect actual &&
		forget d-mq-$how
	'
done

test_expect_success 'restart with the default max_mqueue_len' '
	restart_broker
'

# ---------------------------------------------------------------------------
# Damaged records

test_expect_success 'a damaged s/ record stops start-up, untouched' '
	durable sub d-keep -e 3600 --clean --sp 0 "d/keep@1" &&
	durable sub d-vs -e 3600 --clean --sp 0 "d/vic@1" &&
	durable sub d-vq -e 3600 --clean --sp 0 "d/vic@1" &&
	durable pub --seq d/keep KMARK- 3 1 --seq d/vic VMARK- 3 1 &&
	stop_broker &&
	store-tool "$STORE" get s/d-vs >/dev/null &&
	store-tool "$STORE" put s/d-vs garbage &&
	refused "flockmq store repair" &&
	store-tool "$STORE" get s/d-vs >actual &&
	printf garbage >expect &&
	test_cmp expect actual
'

test_expect_success 'store repair drops it; the other sessions are intact' '
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	start_broker &&
	durable get d-keep -e 3600 --sp 1 -n 3 --quiet 1 >out &&
	publishes out >actual &&
	cat >expect <<-\EOF &&
	PUBLISH d/keep qos=1 dup=0 retain=0 payload=KMARK-0
	PUBLISH d/keep qos=1 dup=0 retain=0 payload=KMARK-1
	PUBLISH d/keep qos=1 dup=0 retain=0 payload=KMARK-2
	EOF
	test_cmp expect actual &&
	durable get d-vs -e 3600 --sp 0 --quiet 1 >/dev/null &&
	forget d-vs &&
	settle &&
	stop_broker &&
	snapshot list &&
	has list s:d-vs 0 &&
	has list q:d-vs 0 &&
	has list q:d-vq 3 &&
	has list s:d-vq 1 &&
	start_broker
'

test_expect_success 'a new s/ record of garbage stops start-up; repair drops it' '
	stop_broker &&
	snapshot list.before &&
	store-tool "$STORE" put-hex s/d-ghost 00ff00ff &&
	refused "flockmq store repair" &&
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	snapshot list.after &&
	test_cmp list.before list.after &&
	start_broker
'

test_expect_success 'a damaged q/ record stops start-up, untouched' '
	durable pub --seq d/keep K2MARK- 2 1 &&
	stop_broker &&
	snapshot list &&
	key=$(durable qkey list d-vq 1) &&
	durable put-hex "$STORE" "$key" 67617262616765 &&
	refused "flockmq store repair" &&
	snapshot list &&
	grep "67617262616765\$" list >bad &&
	test "$(wc -l <bad)" -eq 1
'

test_expect_success 'store repair drops it; the sessions are intact' '
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	start_broker &&
	durable get d-keep -e 3600 --sp 1 -n 2 --quiet 1 >out &&
	publishes out >actual &&
	cat >expect <<-\EOF &&
	PUBLISH d/keep qos=1 dup=0 retain=0 payload=K2MARK-0
	PUBLISH d/keep qos=1 dup=0 retain=0 payload=K2MARK-1
	EOF
	test_cmp expect actual &&
	durable get d-vq -e 3600 --collect 1.5 >out &&
	publishes out >actual &&
	cat >all <<-\EOF &&
	PUBLISH d/vic qos=1 dup=0 retain=0 payload=VMARK-0
	PUBLISH d/vic qos=1 dup=0 retain=0 payload=VMARK-1
	PUBLISH d/vic qos=1 dup=0 retain=0 payload=VMARK-2
	EOF
	test_diag "d-vq after the repair of its q/ record:" \
	    "$(cat out)" &&
	# a subsequence of what was queued: in order, nothing else
	{ grep -x -F -f actual all >expect || :; } &&
	test_cmp expect actual &&
	test_grep ! VMARK-1 actual &&
	forget d-keep d-vq
'

# ---------------------------------------------------------------------------
# Nothing left behind

test_expect_success 'once every session is gone the store has no s/, q/ or d/ record' '
	stop_broker &&
	snapshot list &&
	durable sessions list >left &&
	start_broker &&
	while read -r id
	do
		forget "$id" || return 1
	done <left &&
	settle &&
	stop_broker &&
	snapshot list &&
	has list s 0 &&
	has list q 0 &&
	has list d 0 &&
	start_broker
'

# ---------------------------------------------------------------------------
# durable_sessions.enable false

test_expect_success 'durable_sessions.enable false: in memory only, nothing in the store' '
	stop_broker &&
	use_data_dir d-off &&
	broker_config <<-\EOF &&
	durable_sessions.enable: false
	EOF
	start_broker &&
	durable sub d-off -e 3600 --clean --sp 0 "d/off@1" &&
	durable pub "1:d/off:kept" &&
	durable get d-off -e 3600 --sp 1 -n 1 --quiet 0.5 >out &&
	publishes out >actual &&
	echo "PUBLISH d/off qos=1 dup=0 retain=0 payload=kept" >expect &&
	test_cmp expect actual &&
	durable sub d-off4 -V 4 --sp 0 "d/off@1" &&
	durable pub "1:d/off:lost" &&
	stop_broker &&
	snapshot list &&
	has list s 0 &&
	has list q 0 &&
	has list d 0 &&
	start_broker &&
	durable get d-off -e 3600 --sp 0 --quiet 1 >/dev/null &&
	durable get d-off4 -V 4 --sp 0 --quiet 1 >/dev/null &&
	durable get d-off4 -V 4 --clean >/dev/null
'

test_expect_success 'durable_sessions.enable false: not after a SIGKILL either' '
	durable sub d-offk -e 3600 --clean --sp 0 "d/offk@1" &&
	durable pub "1:d/offk:lost" &&
	bounce kill &&
	durable get d-offk -e 3600 --sp 0 --quiet 1 >/dev/null &&
	forget d-offk
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
