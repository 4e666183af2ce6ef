#!/bin/sh

test_description='the store: retained messages in LevelDB across restarts

Retained messages are kept in LevelDB under <node.data_dir>/store (keys
m/version = "1" and r/<topic>, docs/storage.md) and survive a SIGTERM
restart and a SIGKILL with payload, QoS and MQTT 5 properties, also when
the broker is killed under load (every acknowledged message is there); an
empty retained payload deletes, across restarts too; Message Expiry
Interval keeps counting while the broker is down.  Start-up stops with
status 1 and a clear line on a data_dir in use by another broker, an
unknown format version and a damaged store (records that do not decode,
records without a version, a garbled MANIFEST, a truncated table, a
corrupt log record, a missing table); "flockmq store repair" repairs a
stopped store, keeping every good record, and refuses while the broker
runs.  t/helper/store-tool edits the store behind the broker.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

STORE=$BROKER_DATA/store

# retained pub|get ...: t/helper/retained.py against this broker.
retained () {
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" "$TEST_DIRECTORY/helper/retained.py" "$@"
}

# snapshot FILE: `store-tool list` of the stopped store into FILE.
# The dashboard's user record (u/admin) is there too; it is not these
# tests' subject (t5001 tests it), so it is left out.
snapshot () {
	store-tool "$STORE" list | grep -v '^u/' >"$1"
}

# one_line FILE: FILE has exactly one line.
one_line () {
	test "$(wc -l <"$1")" -eq 1 || {
		echo "one_line: not one line in $1:"
		cat "$1"
		return 1
	}
}

test_expect_success 'start: the store is created with format version 1' '
	start_broker &&
	test -d "$STORE" &&
	test_must_fail store-tool "$STORE" list 2>err &&
	test_grep -i "lock" err &&
	stop_broker &&
	store-tool "$STORE" get m/version >actual &&
	printf 1 >expect &&
	test_cmp expect actual &&
	start_broker
'

big=$(printf "%0100000d" 0)
big_sha1=$(printf "%s" "$big" | sha1sum | cut -d" " -f1)

test_expect_success 'retained messages: QoS 0/1/2, v5 properties, binary, UTF-8, 100 KB, replaced' '
	retained pub -q 0 st/q0 zero &&
	retained pub -q 1 st/q1 one st/over old st/over new &&
	retained pub -q 2 st/q2 two &&
	retained pub -q 1 -P "{\"content_type\": \"text/plain\",
	    \"payload_format\": 1, \"response_topic\": \"st/reply\",
	    \"correlation_data\": \"corr-1\",
	    \"user\": [[\"k1\", \"v1\"], [\"k2\", \"v2\"], [\"k1\", \"again\"]]}" \
	    st/props hello &&
	retained pub -c paho -q 2 -P "{\"content_type\": \"application/json\",
	    \"user\": [[\"via\", \"paho\"]]}" st/paho/v5 "{\"a\": 1}" &&
	retained pub -c paho -V 4 -q 1 st/paho/v4 three-one-one &&
	retained pub -q 1 -x st/bin 00ff7f0a0d &&
	retained pub -q 1 "st/ü/ñ" unicode &&
	retained pub -q 1 st/big "$big" &&
	cat >expect <<-EOF &&
	st/big qos=1 retain=1 payload=<100000 bytes, sha1 $big_sha1>
	st/bin qos=1 retain=1 payload=hex:00ff7f0a0d
	st/over qos=1 retain=1 payload=new
	st/paho/v4 qos=1 retain=1 payload=three-one-one
	st/paho/v5 qos=2 retain=1 payload={"a": 1}
	  content_type=application/json
	  user=via=paho
	st/props qos=1 retain=1 payload=hello
	  content_type=text/plain
	  correlation_data=hex:636f72722d31
	  payload_format=1
	  response_topic=st/reply
	  user=k1=v1
	  user=k2=v2
	  user=k1=again
	st/q0 qos=0 retain=1 payload=zero
	st/q1 qos=1 retain=1 payload=one
	st/q2 qos=2 retain=1 payload=two
	st/ü/ñ qos=1 retain=1 payload=unicode
	EOF
	retained get "st/#" >before &&
	test_cmp expect before
'

test_expect_success 'SIGTERM restart: a new v5 subscriber gets the same (raw and paho)' '
	restart_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual &&
	retained get -c paho "st/#" >actual &&
	test_cmp before actual
'

test_expect_success 'SIGTERM restart: a v3.1.1 subscriber gets them without properties' '
	grep -v "^  " before >expect &&
	retained get -c paho -V 4 "st/#" >actual &&
	test_cmp expect actual &&
	retained get -V 4 "st/#" >actual &&
	test_cmp expect actual
'

test_expect_success 'a subscription at QoS 0 gets them at QoS 0' '
	grep -v "^  " before | sed "s/ qos=[012] / qos=0 /" >expect &&
	retained get -V 4 -q 0 "st/#" >actual &&
	test_cmp expect actual
'

test_expect_success 'the stopped store has m/version and one r/<topic> per message' '
	stop_broker &&
	snapshot list &&
	cut -f1 list >actual &&
	cat >expect <<-\EOF &&
	m/boot
	m/heartbeat
	m/node_id
	m/version
	r/st/big
	r/st/bin
	r/st/over
	r/st/paho/v4
	r/st/paho/v5
	r/st/props
	r/st/q0
	r/st/q1
	r/st/q2
	r/st/ü/ñ
	EOF
	test_cmp expect actual &&
	start_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

test_expect_success 'a retained message on a $ topic other than $SYS survives a restart' '
	retained pub -q 1 "\$app/config" dollar &&
	echo "\$app/config qos=1 retain=1 payload=dollar" >expect &&
	retained get "\$app/config" >actual &&
	test_cmp expect actual &&
	restart_broker &&
	retained get "\$app/config" >actual &&
	test_cmp expect actual
'

test_expect_success 'SIGKILL after PUBACK / PUBCOMP: the retained messages survive' '
	retained pub -q 1 kill/q1 one-acked &&
	retained pub -q 2 kill/q2 two-completed &&
	retained pub -c paho -V 4 -q 1 kill/v4 v4-acked &&
	kill_broker &&
	start_broker &&
	cat >expect <<-\EOF &&
	kill/q1 qos=1 retain=1 payload=one-acked
	kill/q2 qos=2 retain=1 payload=two-completed
	kill/v4 qos=1 retain=1 payload=v4-acked
	EOF
	retained get "kill/#" >actual &&
	test_cmp expect actual &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

test_expect_success 'SIGKILL: a replaced retained message stays replaced' '
	retained pub -q 1 kill/q1 replaced &&
	kill_broker &&
	start_broker &&
	cat >expect <<-\EOF &&
	kill/q1 qos=1 retain=1 payload=replaced
	kill/q2 qos=2 retain=1 payload=two-completed
	kill/v4 qos=1 retain=1 payload=v4-acked
	EOF
	retained get "kill/#" >actual &&
	test_cmp expect actual
'

test_expect_success 'an empty retained payload deletes, across a SIGTERM restart' '
	retained pub -q 1 st/q1 "" &&
	retained pub -c paho -V 4 -q 1 st/paho/v4 "" &&
	grep -v -e "^st/q1 " -e "^st/paho/v4 " before >expect &&
	retained get "st/#" >actual &&
	test_cmp expect actual &&
	restart_broker &&
	retained get "st/#" >actual &&
	test_cmp expect actual &&
	mv expect before &&
	stop_broker &&
	test_must_fail store-tool "$STORE" get r/st/q1 &&
	test_must_fail store-tool "$STORE" get r/st/paho/v4 &&
	store-tool "$STORE" get r/st/q2 >/dev/null &&
	start_broker
'

test_expect_success 'an empty retained payload deletes, across a SIGKILL' '
	retained pub -q 1 kill/q1 "" &&
	retained pub -q 2 kill/q2 "" &&
	kill_broker &&
	start_broker &&
	echo "kill/v4 qos=1 retain=1 payload=v4-acked" >expect &&
	retained get "kill/#" >actual &&
	test_cmp expect actual
'

test_expect_success 'deleting a topic that has no retained message changes nothing' '
	retained pub -q 1 st/never/set "" &&
	restart_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

test_expect_success '100 topics: wildcard subscribers get them all after a restart and a SIGKILL' '
	i=0 args= &&
	: >many.expect &&
	while test $i -lt 100
	do
		args="$args many/$((i % 5))/t$i p$i" &&
		echo "many/$((i % 5))/t$i qos=1 retain=1 payload=p$i" >>many.expect &&
		i=$((i + 1)) || return 1
	done &&
	retained pub -q 1 $args &&
	sort many.expect >expect &&
	restart_broker &&
	retained get "many/#" | sort >actual &&
	test_cmp expect actual &&
	kill_broker &&
	start_broker &&
	retained get "many/#" | sort >actual &&
	test_cmp expect actual &&
	grep "^many/3/" expect >expect3 &&
	retained get "many/3/+" | sort >actual &&
	test_cmp expect3 actual &&
	grep "^many/[0-4]/t42 " expect >expect42 &&
	retained get "many/+/t42" >actual &&
	test_cmp expect42 actual
'

test_expect_success 'setup: a publisher of numbered retained messages' '
	cat >crash-pub.py <<-\EOF
	# crash-pub.py ROUND: 4 clients publish retained messages "ROUND:SEQ"
	# (SEQ counting up) to crash/<client>/<SEQ % 10>, QoS 1 (clients 0
	# and 2) or QoS 1 and 2 in turn (1 and 3), 10 unacknowledged at most
	# each, until the broker goes away.  state.json keeps, per topic, the
	# last [ROUND, SEQ] acknowledged (PUBACK, PUBCOMP) and the last sent;
	# "progress" the number acknowledged in this round.
	import json, os, threading
	from pubsub import *
	rnd = int(sys.argv[1])
	try:
	    state = json.load(open("state.json"))
	except FileNotFoundError:
	    state = {"acked": {}, "sent": {}}
	lock = threading.Lock()
	count = [0]

	def run(ci):
	    try:
	        c = Raw("crash-%d-%d" % (rnd, ci))
	    except (OSError, AssertionError):
	        return
	    inflight = {}
	    seq = 0
	    try:
	        while True:
	            while len(inflight) < 10:
	                seq += 1
	                t = "crash/%d/%d" % (ci, seq % 10)
	                q = 1 + seq % 2 if ci % 2 else 1
	                pid = c.pid()
	                with lock:
	                    state["sent"][t] = [rnd, seq]
	                c.send(publish_packet(t, "%d:%d" % (rnd, seq), q, pid,
	                                      retain=True))
	                inflight[pid] = (t, seq)
	            p = c.recv(5)
	            if p is None:
	                return
	            if p.type == PUBREC:
	                c.send(ack_packet(PUBREL, p.pid))
	            elif p.type in (PUBACK, PUBCOMP):
	                check(p.rc < 0x80, "accepted", p)
	                t, s = inflight.pop(p.pid)
	                with lock:
	                    if state["acked"].get(t, [0, 0]) < [rnd, s]:
	                        state["acked"][t] = [rnd, s]
	                    count[0] += 1
	    except (Closed, OSError):
	        pass

	def progress():
	    while True:
	        with lock:
	            n = count[0]
	        with open("progress.tmp", "w") as f:
	            f.write("%d\n" % n)
	        os.rename("progress.tmp", "progress")
	        time.sleep(0.05)

	threading.Thread(target=progress, daemon=True).start()
	ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
	for th in ts:
	    th.start()
	for th in ts:
	    th.join()
	with lock:
	    json.dump(state, open("state.json", "w"))
	print("acked", count[0])
	EOF
'

# crash_round ROUND: run crash-pub.py, SIGKILL the broker once its clients
# have had 300 publishes acknowledged, restart it and check that every
# topic holds its last acknowledged message or a later one.
crash_round () {
	rm -f progress &&
	test_spawn env MQTT_PORT="$FLOCKMQ_PORT" \
	    PUBSUB_SCALE="$FLOCKMQ_TEST_TIMEOUT_SCALE" \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH="$TEST_DIRECTORY/helper" \
	    "$PYTHON" crash-pub.py "$1" >"crash-pub.$1.out" 2>&1 &&
	crash_pid=$! &&
	wait_for "test -s progress && test \$(cat progress) -ge 300" 15 &&
	kill_broker &&
	wait_for "! test_pid_alive $crash_pid" 15 &&
	{ wait "$crash_pid"; crash_status=$?; } &&
	cat "crash-pub.$1.out" &&
	test "$crash_status" = 0 &&
	start_broker &&
	retained get "crash/#" >crash.got &&
	"$PYTHON" - <<-\EOF
	import json, sys
	state = json.load(open("state.json"))
	got = {}
	for line in open("crash.got"):
	    if line.startswith("crash/"):
	        t, q, r, p = line.split()
	        got[t] = [int(x) for x in p[len("payload="):].split(":")]
	bad = 0
	for t, a in sorted(state["acked"].items()):
	    g = got.get(t)
	    if g is None or g < a or g > state["sent"][t]:
	        print("%s: acknowledged %r, sent up to %r, retained %r"
	              % (t, a, state["sent"][t], g))
	        bad += 1
	print("# %d topics, %d with a message older than acknowledged"
	      % (len(state["acked"]), bad))
	sys.exit(1 if bad else 0)
	EOF
}

for round in 1 2 3
do
	test_expect_success "SIGKILL under load (round $round): every acknowledged retained message is there" '
		crash_round $round
	'
done

test_expect_success 'message expiry keeps counting across a restart' '
	retained pub -q 1 -P "{\"message_expiry\": 2}" exp/short short &&
	exp_t0=$(date +%s) &&
	retained pub -q 1 -P "{\"message_expiry\": 100}" exp/long long &&
	retained pub -q 1 exp/none none &&
	restart_broker &&
	cat >expect <<-\EOF &&
	exp/long qos=1 retain=1 payload=long
	  message_expiry=<=100
	exp/none qos=1 retain=1 payload=none
	EOF
	retained get -e 100 exp/long exp/none >actual &&
	test_cmp expect actual &&
	wait_until_epoch $((exp_t0 + 4)) &&
	cat >expect <<-\EOF &&
	exp/long qos=1 retain=1 payload=long
	  message_expiry=<=97
	exp/none qos=1 retain=1 payload=none
	EOF
	retained get -e 97 "exp/#" >actual &&
	test_cmp expect actual
'

test_expect_success 'message expiry counts while the broker is down' '
	retained pub -q 1 -P "{\"message_expiry\": 2}" exp/down down &&
	exp_t1=$(date +%s) &&
	stop_broker &&
	wait_until_epoch $((exp_t1 + 3)) &&
	start_broker &&
	: >expect &&
	retained get exp/down exp/short >actual &&
	test_cmp expect actual &&
	retained get -e 100 exp/long >actual &&
	test_grep "^exp/long qos=1 retain=1 payload=long$" actual
'

test_expect_success 'retainer.msg_expiry_interval keeps counting across a restart' '
	restart_broker FLOCKMQ_RETAINER__MSG_EXPIRY_INTERVAL=5s &&
	retained pub -q 1 exp/cfg cfg &&
	exp_t2=$(date +%s) &&
	retained get -e 5 exp/cfg >actual &&
	test_grep "^exp/cfg qos=1 retain=1 payload=cfg$" actual &&
	restart_broker &&
	wait_until_epoch $((exp_t2 + 6)) &&
	: >expect &&
	retained get exp/cfg >actual &&
	test_cmp expect actual
'

test_expect_success 'expired records are deleted from the store' '
	restart_broker &&
	stop_broker &&
	test_must_fail store-tool "$STORE" get r/exp/down &&
	test_must_fail store-tool "$STORE" get r/exp/short &&
	test_must_fail store-tool "$STORE" get r/exp/cfg &&
	store-tool "$STORE" get r/exp/long >/dev/null &&
	start_broker
'

test_expect_success 'a second broker on the same data_dir is refused (foreground)' '
	cat >second.yaml <<-EOF &&
	node:
	  data_dir: "$BROKER_DATA"
	listeners:
	  tcp:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT3"
	dashboard:
	  listeners:
	    http:
	      bind: "127.0.0.1:$FLOCKMQ_PORT4"
	log:
	  console:
	    level: info
	EOF
	test_expect_code 1 timeout 20 "$FLOCKMQ" -c second.yaml foreground \
	    >second.out 2>&1 &&
	test_grep "is in use by another flockmq" second.out &&
	test_grep ! "flockmq is ready" second.out &&
	test_pid_alive "$BROKER_PID" &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

test_expect_success 'a second broker on the same data_dir is refused (start)' '
	test_when_finished "test ! -f \"\$BROKER_DATA/flockmq.pid\" ||
	    \"\$FLOCKMQ\" -c second.yaml stop" &&
	test_expect_code 1 timeout 20 "$FLOCKMQ" -c second.yaml start \
	    >second.out 2>second.err &&
	test_path_is_missing "$BROKER_DATA/flockmq.pid" &&
	test_grep "is in use by another flockmq" "$BROKER_DATA/log/flockmq.log" &&
	test_pid_alive "$BROKER_PID" &&
	restart_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

test_expect_success 'store repair is refused while the broker runs' '
	test_expect_code 1 store_repair >out 2>&1 &&
	test_grep "is in use by another flockmq" out &&
	test_grep ! "store repaired" out &&
	test_pid_alive "$BROKER_PID" &&
	retained get "st/#" >actual &&
	test_cmp before actual &&
	restart_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

for v in 99 2 ""
do
	test_expect_success "an unknown format version ('$v') stops start-up" '
		stop_broker &&
		snapshot list.before &&
		store-tool "$STORE" put m/version "$v" &&
		refused "format version" &&
		store-tool "$STORE" get m/version >actual &&
		printf "%s" "$v" >expect &&
		test_cmp expect actual &&
		store-tool "$STORE" put m/version 1 &&
		snapshot list.after &&
		test_cmp list.before list.after &&
		start_broker &&
		retained get "st/#" >actual &&
		test_cmp before actual
	'
done

test_expect_success 'store repair on a healthy store keeps everything' '
	stop_broker &&
	snapshot list.before &&
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	snapshot list.after &&
	test_cmp list.before list.after &&
	start_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

test_expect_success 'a damaged record stops start-up, untouched' '
	stop_broker &&
	snapshot list.before &&
	store-tool "$STORE" put r/some/topic garbage &&
	store-tool "$STORE" put r/some/empty "" &&
	refused "is damaged" "flockmq store repair" &&
	store-tool "$STORE" get r/some/topic >actual &&
	echo garbage | tr -d "\n" >expect &&
	test_cmp expect actual &&
	store-tool "$STORE" get r/some/empty >actual &&
	test ! -s actual
'

test_expect_success 'store repair drops the damaged records and keeps the good ones' '
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	test_must_fail store-tool "$STORE" get r/some/topic &&
	test_must_fail store-tool "$STORE" get r/some/empty &&
	snapshot list.after &&
	test_cmp list.before list.after &&
	start_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual &&
	: >expect &&
	retained get "some/#" >actual &&
	test_cmp expect actual
'

# record TOPIC QOS EXPIRE_MS PAYLOAD [NAME=VALUE...]: the hex of a
# retained message record for key r/TOPIC as docs/storage.md describes
# it.  props=HEX: the properties; version=N: the record version (1);
# plen=N: the payload length field; extra=HEX: bytes after the properties
# (under the CRC); crc_xor=N: XORed into the CRC.
record () {
	"$PYTHON" - "$@" <<-\EOF
	import os, struct, sys, zlib
	topic, qos, exp, payload = sys.argv[1:5]
	kw = dict(a.split("=", 1) for a in sys.argv[5:])
	topic = os.fsencode(topic)
	payload = os.fsencode(payload)
	props = bytes.fromhex(kw.get("props", ""))
	v = struct.pack(">BBQI", int(kw.get("version", 1)), int(qos), int(exp),
	                int(kw.get("plen", len(payload)))) + payload
	v += struct.pack(">I", len(props)) + props
	v += bytes.fromhex(kw.get("extra", ""))
	crc = zlib.crc32(b"r/" + topic + v) ^ int(kw.get("crc_xor", 0))
	print((v + struct.pack(">I", crc)).hex())
	EOF
}

# put_record TOPIC QOS EXPIRE_MS PAYLOAD [NAME=VALUE...]: store it.
put_record () {
	put_record_hex_=$(record "$@") &&
	store-tool "$STORE" put-hex "r/$1" "$put_record_hex_"
}

# now_ms: the time, in milliseconds since the epoch (to the second).
now_ms () {
	echo $(($(date +%s) * 1000))
}

test_expect_success 'a record written as docs/storage.md describes is loaded' '
	stop_broker &&
	# content type "t/p" and the user property k=v, as in a PUBLISH
	put_record hand/made 1 0 hand-payload props=030003742f702600016b000176 &&
	put_record hand/q0 0 0 zero &&
	put_record hand/later 2 $(($(now_ms) + 1000000)) later &&
	put_record hand/expired 1 1000 expired &&
	start_broker &&
	cat >expect <<-\EOF &&
	hand/later qos=2 retain=1 payload=later
	  message_expiry=<=1000
	hand/made qos=1 retain=1 payload=hand-payload
	  content_type=t/p
	  user=k=v
	hand/q0 qos=0 retain=1 payload=zero
	EOF
	retained get -e 1000 "hand/#" >actual &&
	test_cmp expect actual &&
	stop_broker &&
	test_must_fail store-tool "$STORE" get r/hand/expired &&
	start_broker
'

# bad_record NAME: put a record that must not load, under the key
# r/hand/bad/NAME or the one $bad_key names.
bad_record () {
	bad_key=r/hand/bad/$1
	bad_t_=hand/bad/$1
	case $1 in
	bad-crc) put_record "$bad_t_" 1 0 x crc_xor=1 ;;
	record-version-0) put_record "$bad_t_" 1 0 x version=0 ;;
	record-version-2) put_record "$bad_t_" 1 0 x version=2 ;;
	qos-3) put_record "$bad_t_" 3 0 x ;;
	payload-length) put_record "$bad_t_" 1 0 x plen=1000 ;;
	extra-byte) put_record "$bad_t_" 1 0 x extra=00 ;;
	too-short) store-tool "$STORE" put-hex "$bad_key" 0101 ;;
	empty-topic) bad_key=r/ && put_record "" 1 0 x ;;
	wildcard-plus) bad_key=r/hand/+/bad && put_record hand/+/bad 1 0 x ;;
	wildcard-hash) bad_key="r/hand/#" && put_record "hand/#" 1 0 x ;;
	invalid-utf8)
		bad_t_=hand/$(printf "\377") && bad_key=r/$bad_t_ &&
		put_record "$bad_t_" 1 0 x ;;
	# not a property block
	bad-properties) put_record "$bad_t_" 1 0 x props=ffffffff ;;
	# Topic Alias 1: a property of the connection, not of the message
	topic-alias-property) put_record "$bad_t_" 1 0 x props=230001 ;;
	*) echo "bad_record: unknown case $1"; return 1 ;;
	esac
}

# bad_cleanup KEY...: after a test that failed half-way, take the bad
# records out again and start the broker, so that the next tests start
# from the good store.
bad_cleanup () {
	test -z "$BROKER_PID" || stop_broker
	for bad_cleanup_k_
	do
		store-tool "$STORE" del "$bad_cleanup_k_" 2>/dev/null
	done
	start_broker
}

for bad in bad-crc record-version-0 record-version-2 qos-3 payload-length \
    extra-byte too-short empty-topic wildcard-plus wildcard-hash \
    invalid-utf8 bad-properties topic-alias-property
do
	test_expect_success "a record that does not decode ($bad) stops start-up, untouched" '
		stop_broker &&
		snapshot list.before &&
		bad_record "$bad" &&
		bad_done= &&
		test_when_finished "test -n \"\$bad_done\" || bad_cleanup \"\$bad_key\"" &&
		store-tool "$STORE" get "$bad_key" >bad.value &&
		refused "is damaged" "flockmq store repair" &&
		store-tool "$STORE" get "$bad_key" >actual &&
		test_cmp bad.value actual &&
		store-tool "$STORE" del "$bad_key" &&
		snapshot list.after &&
		test_cmp list.before list.after &&
		start_broker &&
		bad_done=t
	'
done

# repair_drops CASE...: put the bad records, repair, and check that they
# are gone and the rest is as before.
repair_drops () {
	stop_broker &&
	snapshot list.before &&
	: >bad.keys &&
	bad_done= &&
	test_when_finished "test -n \"\$bad_done\" || bad_cleanup \$(cat bad.keys)" &&
	for bad
	do
		bad_record "$bad" &&
		echo "$bad_key" >>bad.keys || return 1
	done &&
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	while read -r key
	do
		test_must_fail store-tool "$STORE" get "$key" 2>/dev/null || return 1
	done <bad.keys &&
	snapshot list.after &&
	test_cmp list.before list.after &&
	start_broker &&
	bad_done=t &&
	retained get "st/#" >actual &&
	test_cmp before actual
}

test_expect_success 'store repair drops the records that do not decode' '
	repair_drops bad-crc record-version-2 qos-3 payload-length extra-byte \
	    too-short empty-topic
'

test_expect_success 'store repair drops records with a topic or properties no PUBLISH may carry' '
	repair_drops wildcard-plus wildcard-hash invalid-utf8 bad-properties \
	    topic-alias-property
'

test_expect_success 'records without m/version stop start-up; repair writes version 1' '
	stop_broker &&
	snapshot list.before &&
	store-tool "$STORE" del m/version &&
	refused "is damaged" "flockmq store repair" &&
	test_must_fail store-tool "$STORE" get m/version &&
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	snapshot list.after &&
	test_cmp list.before list.after &&
	start_broker &&
	retained get "st/#" >actual &&
	test_cmp before actual
'

test_expect_success 'store repair refuses a store of another format version' '
	stop_broker &&
	snapshot list.before &&
	store-tool "$STORE" put m/version 99 &&
	test_expect_code 1 store_repair >out 2>&1 &&
	test_grep "format version" out &&
	test_grep ! "store repaired" out &&
	store-tool "$STORE" put m/version 1 &&
	snapshot list.after &&
	test_cmp list.before list.after &&
	start_broker
'

# shellcheck disable=SC2086 # $keep_set_args_ is a list of words
# keep_set PREFIX N: publish N retained messages PREFIX/<i> with payload
# PREFIX-PAYLOAD-<i> (upper case), and write PREFIX.expect.
keep_set () {
	keep_set_up_=$(echo "$1" | tr a-z A-Z) &&
	keep_set_args_= &&
	: >"$1.expect" &&
	for keep_set_i_ in $(seq "$2")
	do
		keep_set_p_=$keep_set_up_-PAYLOAD-$keep_set_i_ &&
		keep_set_args_="$keep_set_args_ $1/$keep_set_i_ $keep_set_p_" &&
		echo "$1/$keep_set_i_ qos=1 retain=1 payload=$keep_set_p_" \
		    >>"$1.expect" || return 1
	done &&
	retained pub -q 1 $keep_set_args_
}

test_expect_success 'a garbled MANIFEST stops start-up' '
	stop_broker &&
	use_data_dir d-manifest &&
	start_broker &&
	keep_set keep 5 &&
	restart_broker &&
	keep_set more 5 &&
	stop_broker &&
	ls "$STORE"/MANIFEST-* >manifests &&
	test -s manifests &&
	for f in $(cat manifests)
	do
		printf "garbage" >"$f" || return 1
	done &&
	refused "is damaged" "flockmq store repair"
'

test_expect_success 'store repair rebuilds it; every retained message is kept' '
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	start_broker &&
	retained get "keep/#" >actual &&
	test_cmp keep.expect actual &&
	retained get "more/#" >actual &&
	test_cmp more.expect actual
'

test_expect_success 'a missing table file stops start-up; repair lets it start' '
	stop_broker &&
	ls "$STORE"/*.ldb >tables &&
	test -s tables &&
	rm "$(tail -n 1 tables)" &&
	refused "is damaged" "flockmq store repair" &&
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	start_broker &&
	retained get "keep/#" "more/#" >actual &&
	cat keep.expect more.expect >expect &&
	lines_of expect actual
'

test_expect_success 'a truncated table file stops start-up' '
	stop_broker &&
	use_data_dir d-table &&
	start_broker &&
	keep_set keep 5 &&
	restart_broker &&
	keep_set lose 5 &&
	stop_broker &&
	# Opening the store turns the log into a table: then lose/* are in
	# the newest table and nowhere else.
	store-tool "$STORE" list >/dev/null &&
	grep -l -a "LOSE-PAYLOAD" "$STORE"/*.ldb >lose.tables &&
	one_line lose.tables &&
	table=$(cat lose.tables) &&
	test_must_fail grep -q -a "KEEP-PAYLOAD" "$table" &&
	size=$(wc -c <"$table") &&
	head -c $((size / 2)) "$table" >table.tmp &&
	mv table.tmp "$table" &&
	refused "is damaged" "flockmq store repair"
'

test_expect_success 'store repair: the broker starts with the records of the other tables' '
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	start_broker &&
	retained get "keep/#" >actual &&
	test_cmp keep.expect actual &&
	retained get "lose/#" >actual &&
	lines_of lose.expect actual
'

test_expect_success 'a corrupt record in the log stops start-up' '
	stop_broker &&
	use_data_dir d-log &&
	start_broker &&
	keep_set keep 5 &&
	retained pub -q 1 zap/1 ZAP-PAYLOAD-0123456789 &&
	stop_broker &&
	# The last run is in the log: garble the zap/1 record there (its CRC
	# no longer matches).
	grep -H -a -b -o "ZAP-PAYLOAD" "$STORE"/*.log >zap &&
	one_line zap &&
	log=$(cut -d: -f1 zap) &&
	off=$(cut -d: -f2 zap) &&
	printf "QQQQ" |
	dd of="$log" bs=1 seek="$off" conv=notrunc status=none &&
	refused "is damaged" "flockmq store repair"
'

test_expect_success 'store repair: the records before it are kept' '
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	start_broker &&
	retained get "keep/#" >actual &&
	test_cmp keep.expect actual &&
	retained get "zap/#" >actual &&
	echo "zap/1 qos=1 retain=1 payload=ZAP-PAYLOAD-0123456789" >expect &&
	lines_of expect actual
'

test_expect_success 'the repaired stores keep working: publish, delete, restart' '
	retained pub -q 1 keep/1 "" keep/new fresh &&
	restart_broker &&
	sed -e 1d keep.expect >expect &&
	echo "keep/new qos=1 retain=1 payload=fresh" >>expect &&
	retained get "keep/#" >actual &&
	test_cmp expect actual
'

test_done
