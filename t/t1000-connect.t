#!/bin/sh

test_description='CONNECT and CONNACK: versions, client ids, properties

MQTT 3.1 (MQIsdp), 3.1.1 and 5.0 with paho-mqtt, mosquitto clients and raw
bytes; unsupported protocol levels; client identifier rules; a second
CONNECT; enhanced authentication; malformed CONNECTs; session present and
takeover; and the CONNACK properties that follow the mqtt.* settings.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# Spawn clients as "$PYTHON" "$MQTTC" (test_spawn of a shell function
# would track a subshell, not the client).
MQTTC=$TEST_DIRECTORY/helper/mqttc.py
mqttc () {
	"$PYTHON" "$MQTTC" "$@"
}

# py: run Python with mqttc importable.
py () {
	PYTHONPATH="$TEST_DIRECTORY/helper" "$PYTHON" "$@"
}

# hexpkt 'EXPR': the hex of a packet built by the Python expression EXPR
# (mqttc's names in scope).
hexpkt () {
	py -c "from mqttc import *; print(($1).hex())"
}

# send_raw HEX...: send these packets on a fresh connection and write what
# comes back, as hex, in out (CLOSED or TIMEOUT at the end), waiting 1 s
# at most (times FLOCKMQ_TEST_TIMEOUT_SCALE) for the close.
send_raw () {
	send_raw_args_=
	for send_raw_h_
	do
		send_raw_args_="$send_raw_args_ --send $send_raw_h_"
	done
	# shellcheck disable=SC2086
	mqttc raw -p $FLOCKMQ_PORT -x $send_raw_args_ \
	    --wait $FLOCKMQ_TEST_TIMEOUT_SCALE >out.raw &&
	sed "s/^CLOSED .*/CLOSED/" out.raw >out
}

# events FILE: the events of mqttc output FILE, without properties, in out.
events () {
	sed -e "/^  /d" -e "s/^CLOSED .*/CLOSED/" "$1" >out
}

# expect_out LINE...: out is exactly these lines.
expect_out () {
	printf '%s\n' "$@" >expect &&
	test_cmp expect out
}

test_expect_success 'start the broker' '
	start_broker
'

# CONNECT, client id "abc", keep alive 60, clean session.
CONNECT31=101100064d51497364700302003c0003616263
CONNECT311=100f00044d5154540402003c0003616263
CONNECT5=101000044d5154540502003c000003616263

test_expect_success 'MQTT 3.1 (MQIsdp, level 3): CONNACK 20 02 00 00' '
	send_raw $CONNECT31 &&
	expect_out 20020000 TIMEOUT
'

test_expect_success 'MQTT 3.1.1 (level 4): CONNACK 20 02 00 00' '
	send_raw $CONNECT311 &&
	expect_out 20020000 TIMEOUT
'

test_expect_success 'MQTT 5.0: CONNACK with reason code 0 and properties' '
	send_raw $CONNECT5 &&
	head -n 1 out >first &&
	test_grep -E "^20[0-7][0-9a-f]0000" first &&
	mqttc raw -p $FLOCKMQ_PORT --send $CONNECT5 --wait 1 >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out &&
	test_grep "^TIMEOUT$" out
'

test_expect_success 'paho-mqtt connects with 3.1, 3.1.1 and 5.0' '
	mqttc paho -p $FLOCKMQ_PORT -V 3 -i paho31 >out &&
	expect_out "CONNACK rc=0x00" &&
	mqttc paho -p $FLOCKMQ_PORT -V 4 -i paho311 >out &&
	expect_out "CONNACK rc=0x00" &&
	mqttc paho -p $FLOCKMQ_PORT -V 5 -i paho5 >out &&
	test_grep "^CONNACK rc=0x00$" out &&
	test_grep "^  topic_alias_maximum=65535$" out
'

test_expect_success 'mosquitto clients of each version publish and subscribe' '
	for v in mqttv31 mqttv311 mqttv5
	do
		mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -V $v -i pub-$v \
		    -t ver/$v -m "hello $v" -q 1 -r &&
		mosquitto_sub -h 127.0.0.1 -p $FLOCKMQ_PORT -V $v -i sub-$v \
		    -t ver/$v -C 1 -W 5 >out &&
		echo "hello $v" >expect &&
		test_cmp expect out || return 1
	done
'

test_expect_success 'the log names the client and its version' '
	broker_log_grep "client .abc. .* connected: mqtt 3.1," &&
	broker_log_grep "client .abc. .* connected: mqtt 3.1.1," &&
	broker_log_grep "client .abc. .* connected: mqtt 5.0,"
'

test_expect_success 'protocol level 6: CONNACK 0x01, then close' '
	send_raw 100f00044d5154540602003c0003616263 &&
	expect_out 20020001 CLOSED
'

test_expect_success 'protocol level 2 and 255: CONNACK 0x01, then close' '
	send_raw 100f00044d5154540202003c0003616263 &&
	expect_out 20020001 CLOSED &&
	send_raw 100f00044d515454ff02003c0003616263 &&
	expect_out 20020001 CLOSED
'

test_expect_success 'a first packet that is not CONNECT: closed, no answer' '
	send_raw c000 &&
	expect_out CLOSED &&
	send_raw 300800036162636869 &&
	expect_out CLOSED
'

test_expect_success 'CONNECT with fixed header flags set: closed (3.1.1)' '
	send_raw 110f00044d5154540402003c0003616263 &&
	expect_out CLOSED
'

test_expect_success 'CONNECT reserved flag set: 3.1.1 closed, 5.0 CONNACK 0x81' '
	send_raw 100f00044d5154540403003c0003616263 &&
	expect_out CLOSED &&
	send_raw 101000044d5154540503003c000003616263 &&
	expect_out 2003008100 CLOSED
'

test_expect_success '3.1.1 password flag without user name flag: closed' '
	send_raw $(hexpkt "connect(\"pw\", 4, password=\"x\")") &&
	expect_out CLOSED
'

test_expect_success '5.0 allows a password without a user name' '
	mqttc raw -p $FLOCKMQ_PORT --send $(hexpkt "connect(\"pw5\", 5, password=\"x\")") --wait 1 >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out
'

test_expect_success 'will QoS 3 or will QoS without will flag: 3.1.1 closed, 5.0 0x81' '
	send_raw $(hexpkt "connect(\"wq\", 4, will={\"topic\": \"a\", \"qos\": 3})") &&
	expect_out CLOSED &&
	send_raw 100c00044d515454040a003c0000 &&
	expect_out CLOSED &&
	send_raw $(hexpkt "connect(\"wq\", 5, will={\"topic\": \"a\", \"qos\": 3})") &&
	expect_out 2003008100 CLOSED
'

test_expect_success 'a client id that is not UTF-8 or holds U+0000 is malformed' '
	send_raw $(hexpkt "connect(b\"\\xff\\xfe\", 4)") &&
	expect_out CLOSED &&
	send_raw $(hexpkt "connect(b\"\\xff\\xfe\", 5)") &&
	expect_out 2003008100 CLOSED &&
	send_raw $(hexpkt "connect(b\"a\\x00b\", 5)") &&
	expect_out 2003008100 CLOSED
'

test_expect_success '5.0 CONNECT properties that are protocol errors: CONNACK 0x82' '
	send_raw $(hexpkt "connect(\"p1\", 5, properties={\"receive_maximum\": 0})") &&
	expect_out 2003008200 CLOSED &&
	send_raw $(hexpkt "connect(\"p2\", 5, properties={\"maximum_packet_size\": 0})") &&
	expect_out 2003008200 CLOSED &&
	send_raw $(hexpkt "connect(\"p3\", 5, properties=[(\"session_expiry_interval\", 1), (\"session_expiry_interval\", 2)])") &&
	expect_out 2003008200 CLOSED &&
	send_raw $(hexpkt "connect(\"p4\", 5, properties={\"request_problem_information\": 2})") &&
	expect_out 2003008200 CLOSED
'

test_expect_success 'a will topic with a wildcard: 5.0 CONNACK 0x90' '
	send_raw $(hexpkt "connect(\"wt\", 5, will={\"topic\": \"a/#\"})") &&
	expect_out 2003009000 CLOSED
'

test_expect_success '3.1.1 empty client id with clean session: accepted' '
	send_raw 100c00044d5154540402003c0000 &&
	expect_out 20020000 TIMEOUT
'

test_expect_success '3.1.1 empty client id without clean session: 0x02, close' '
	send_raw 100c00044d5154540400003c0000 &&
	expect_out 20020002 CLOSED
'

test_expect_success '3.1 empty client id: 0x02 even with clean session' '
	send_raw 100e00064d51497364700302003c0000 &&
	expect_out 20020002 CLOSED
'

test_expect_success 'two 3.1.1 clients with empty ids do not take over each other' '
	test_spawn "$PYTHON" "$MQTTC" connect -p $FLOCKMQ_PORT -V 4 --wait 3 >e1.out &&
	wait_for "grep -q ^CONNACK e1.out" 5 &&
	mqttc connect -p $FLOCKMQ_PORT -V 4 --wait 1 >e2.out &&
	wait_for "grep -q -e ^TIMEOUT -e ^CLOSED e1.out" 5 &&
	printf "CONNACK sp=0 rc=0x00\nTIMEOUT\n" >expect &&
	test_cmp expect e1.out &&
	test_cmp expect e2.out
'

test_expect_success '5.0 empty client id: an Assigned Client Identifier' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 >a1.out &&
	mqttc connect -p $FLOCKMQ_PORT -V 5 --no-clean >a2.out &&
	test_grep "^CONNACK sp=0 rc=0x00$" a1.out &&
	test_grep "^CONNACK sp=0 rc=0x00$" a2.out &&
	sed -n "s/^  assigned_client_identifier=//p" a1.out >id1 &&
	sed -n "s/^  assigned_client_identifier=//p" a2.out >id2 &&
	test -s id1 &&
	test -s id2 &&
	! test_cmp id1 id2 &&
	id1=$(cat id1) &&
	broker_log_grep "client .$id1. .* connected: mqtt 5.0"
'

test_expect_success '5.0 with a client id: no Assigned Client Identifier' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i given >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out &&
	test_grep ! "assigned_client_identifier" out
'

test_expect_success 'a second CONNECT: 5.0 DISCONNECT 0x82, then close' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i twice --send connect --wait 3 >out.raw &&
	events out.raw &&
	expect_out "CONNACK sp=0 rc=0x00" "DISCONNECT rc=0x82" CLOSED
'

test_expect_success 'a second CONNECT: 3.1.1 closed' '
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i twice4 --send connect --wait 3 >out.raw &&
	events out.raw &&
	expect_out "CONNACK sp=0 rc=0x00" CLOSED
'

test_expect_success 'Authentication Method in CONNECT: CONNACK 0x8C, close' '
	send_raw $(hexpkt "connect(\"am\", 5, properties={\"authentication_method\": \"SCRAM-SHA-1\"})") &&
	expect_out 2003008c00 CLOSED
'

test_expect_success 'AUTH after a CONNECT without a method: DISCONNECT 0x82' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i au --send auth --wait 3 >out.raw &&
	events out.raw &&
	expect_out "CONNACK sp=0 rc=0x00" "DISCONNECT rc=0x82" CLOSED
'

test_expect_success 'default CONNACK properties: exactly these' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i props >out &&
	expect_out "CONNACK sp=0 rc=0x00" \
	    "  maximum_packet_size=1048576" \
	    "  receive_maximum=100" \
	    "  topic_alias_maximum=65535"
'

test_expect_success 'Response Information only when asked and configured' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i ri -P request_response_information=1 >out &&
	test_grep ! response_information out
'

test_expect_success '3.1.1 session present: clean 0 resumes, clean 1 discards' '
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i sp4 --no-clean -x --send disconnect >out &&
	expect_out 20020000 &&
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i sp4 --no-clean -x --send disconnect >out &&
	expect_out 20020100 &&
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i sp4 -x --send disconnect >out &&
	expect_out 20020000 &&
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i sp4 --no-clean -x --send disconnect >out &&
	expect_out 20020000
'

test_expect_success '5.0 session present needs a Session Expiry Interval' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i sp5 --no-clean --send disconnect >out &&
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i sp5 --no-clean --send disconnect >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out &&
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i sp5 --no-clean -P session_expiry_interval=60 --send disconnect >out &&
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i sp5 --no-clean -P session_expiry_interval=60 --send disconnect >out &&
	test_grep "^CONNACK sp=1 rc=0x00$" out
'

test_expect_success 'the same client id again takes over: 5.0 DISCONNECT 0x8E' '
	test_spawn "$PYTHON" "$MQTTC" connect -p $FLOCKMQ_PORT -V 5 -i dup --wait 5 >old5.out &&
	wait_for "grep -q ^CONNACK old5.out" 5 &&
	test_spawn "$PYTHON" "$MQTTC" connect -p $FLOCKMQ_PORT -V 4 -i dup4 --wait 5 >old4.out &&
	wait_for "grep -q ^CONNACK old4.out" 5 &&
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i dup >new5.out &&
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i dup4 >new4.out &&
	test_grep "^CONNACK sp=0 rc=0x00$" new5.out &&
	test_grep "^CONNACK sp=0 rc=0x00$" new4.out &&
	wait_for "grep -q ^CLOSED old5.out" 5 &&
	wait_for "grep -q ^CLOSED old4.out" 5 &&
	test_grep "^DISCONNECT rc=0x8e$" old5.out &&
	events old4.out &&
	expect_out "CONNACK sp=0 rc=0x00" CLOSED &&
	events old5.out &&
	expect_out "CONNACK sp=0 rc=0x00" "DISCONNECT rc=0x8e" CLOSED
'

test_expect_success 'packets right behind the CONNECT are not lost (any worker)' '
	py - $FLOCKMQ_PORT >out <<-\EOF &&
	import sys, mqttc
	port, bad = int(sys.argv[1]), 0
	for v in (4, 5):
	    for i in range(16):
	        r = mqttc.Raw(port, version=v)
	        r.send(mqttc.connect("pipe%d-%d" % (v, i), v) + mqttc.pingreq() +
	               mqttc.subscribe(7, "pipe/%d" % i, 1, v) +
	               mqttc.publish("pipe/%d" % i, "x", 1, 9, version=v))
	        got = []
	        while len(got) < 5:
	            p = r.recv_packet(3)
	            if p is None:
	                got.append("CLOSED")
	                break
	            got.append(mqttc.PTYPES[p[0]])
	        if got[:3] != ["CONNACK", "PINGRESP", "SUBACK"] or \
	                sorted(got[3:]) != ["PUBACK", "PUBLISH"]:
	            bad += 1
	            print(v, i, got)
	        r.close()
	print("bad", bad)
	EOF
	expect_out "bad 0"
'

test_expect_success 'a CONNECT sent one byte at a time' '
	py - $FLOCKMQ_PORT >out <<-\EOF &&
	import sys, time, mqttc
	for v in (4, 5):
	    r = mqttc.Raw(int(sys.argv[1]), version=v)
	    for b in mqttc.connect("slow%d" % v, v) + mqttc.pingreq():
	        r.send(bytes([b]))
	        time.sleep(0.005)
	    print(" ".join(mqttc.PTYPES[r.recv_packet(3)[0]] for _ in range(2)))
	EOF
	expect_out "CONNACK PINGRESP" "CONNACK PINGRESP"
'

test_expect_success 'a remaining length of 5 bytes is malformed: closed' '
	send_raw 10ffffffff01 &&
	expect_out CLOSED
'

test_expect_success 'a 5.0 CONNECT over max_packet_size: CONNACK 0x95' '
	py - $FLOCKMQ_PORT >out <<-\EOF &&
	import sys, mqttc
	r = mqttc.Raw(int(sys.argv[1]))
	big = [("k", "v" * 40000)] * 30
	r.send(mqttc.connect("big", 5, properties={"user_property": big})[:200])
	p = r.recv_packet(3)
	print(p and mqttc.packet(p[0], p[2], p[1]).hex())
	print(r.wait_close(3))
	EOF
	expect_out 2003009500 True
'

test_expect_success 'a 3.1.1 CONNECT over max_packet_size: closed at its header' '
	py - $FLOCKMQ_PORT >out <<-\EOF &&
	import sys, mqttc
	r = mqttc.Raw(int(sys.argv[1]), version=4)
	head = mqttc.connect("big", 4, password="p" * 60000, username="u")
	# Remaining length 2 MB, then the start of a real CONNECT.
	r.send(b"\x10" + mqttc.varint(2 * 1024 * 1024) + head[4:4000])
	print(r.recv_packet(3))
	EOF
	expect_out None
'

test_expect_success 'restart with max_clientid_len 30 and other limits' '
	broker_config <<-\EOF &&
	mqtt:
	  max_clientid_len: 30
	  max_qos_allowed: 1
	  retain_available: false
	  server_keepalive: 5
	  max_packet_size: 64KB
	  max_awaiting_rel: 10
	  max_topic_alias: 0
	  wildcard_subscription: false
	  shared_subscription: false
	  response_information: "resp/"
	EOF
	restart_broker
'

ID30=abcdefghijklmnopqrstuvwxyz0123
ID31=${ID30}4

test_expect_success 'a client id of max_clientid_len is accepted' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i $ID30 >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out &&
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i $ID30 -x >out &&
	expect_out 20020000
'

test_expect_success 'one character more: 5.0 CONNACK 0x85, 3.1.1 0x02, 3.1 0x02' '
	send_raw $(hexpkt "connect(\"$ID31\", 5)") &&
	expect_out 2003008500 CLOSED &&
	send_raw $(hexpkt "connect(\"$ID31\", 4)") &&
	expect_out 20020002 CLOSED &&
	send_raw $(hexpkt "connect(\"$ID31\", 3)") &&
	expect_out 20020002 CLOSED
'

test_expect_success 'the CONNACK properties follow the settings' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i props2 >out &&
	expect_out "CONNACK sp=0 rc=0x00" \
	    "  maximum_packet_size=65536" \
	    "  maximum_qos=1" \
	    "  receive_maximum=10" \
	    "  retain_available=0" \
	    "  server_keep_alive=5" \
	    "  shared_subscription_available=0" \
	    "  wildcard_subscription_available=0"
'

test_expect_success 'Response Information when asked' '
	mqttc connect -p $FLOCKMQ_PORT -V 5 -i ri2 -P request_response_information=1 >out &&
	test_grep "^  response_information=resp/$" out
'

test_expect_success 'paho sees Maximum QoS 1 and Server Keep Alive 5' '
	mqttc paho -p $FLOCKMQ_PORT -V 5 -i paho-props >out &&
	test_grep "^CONNACK rc=0x00$" out &&
	test_grep "^  maximum_qos=1$" out &&
	test_grep "^  server_keep_alive=5$" out
'

test_expect_success '3.1.1 CONNACK stays 4 bytes' '
	send_raw $CONNECT311 &&
	expect_out 20020000 TIMEOUT
'

test_expect_success 'will QoS over max_qos_allowed: 5.0 0x9B, 3.1.1 0x03' '
	send_raw $(hexpkt "connect(\"wq2\", 5, will={\"topic\": \"w\", \"qos\": 2})") &&
	expect_out 2003009b00 CLOSED &&
	send_raw $(hexpkt "connect(\"wq2\", 4, will={\"topic\": \"w\", \"qos\": 2})") &&
	expect_out 20020003 CLOSED
'

test_expect_success 'will retain without retain_available: 5.0 0x9A' '
	send_raw $(hexpkt "connect(\"wr\", 5, will={\"topic\": \"w\", \"retain\": True})") &&
	expect_out 2003009a00 CLOSED
'

test_expect_success 'the broker survived all of this' '
	mqttc connect -p $FLOCKMQ_PORT -V 4 -i last -x >out &&
	expect_out 20020000 &&
	stop_broker
'

test_done
