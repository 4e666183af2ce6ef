#!/bin/sh

test_description='flockmq ctl: EMQX'"'"'s ctl verbs against the running node

Every verb through the ctl socket (node.data_dir/ctl.sock, mode 0600) with
real clients connected: status, broker, cluster status, clients, kicks,
subscriptions, topics, listeners stop/start (connected clients keep
working), banned, admins passwd (the dashboard takes the new password),
usage errors (exit 2), a stopped node (exit 1), and environment overrides
that move node.data_dir.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

NODE=flockmq@127.0.0.1
MQTTC=$TEST_DIRECTORY/helper/mqttc.py

# ctl ARGS...: flockmq ctl against the test broker; output in out and err.
ctl () {
	"$FLOCKMQ" -c "$BROKER_CONFIG" ctl "$@" >out 2>err
}

# watch_client ID FILE: a raw MQTT 5 client on tcp:default that prints
# every packet until the server closes (30 s at most), in FILE; waits for
# its CONNACK.
watch_client () {
	test_spawn "$PYTHON" "$MQTTC" connect -p "$FLOCKMQ_PORT" -V 5 -i "$1" \
	    --wait 30 >"$2" 2>&1 &&
	wait_for "grep -q \"^CONNACK sp=0 rc=0x00\$\" $2" 5
}

# can_connect PORT: an MQTT 5 client gets a CONNACK there.
can_connect () {
	"$PYTHON" "$MQTTC" connect -p "$1" -V 5 -i probe >probe.out 2>&1 &&
	grep -q "^CONNACK sp=0 rc=0x00$" probe.out
}

# login PASSWORD: POST /api/v5/login as admin; the HTTP status.
login () {
	curl -s -o login.out -w "%{http_code}" -X POST \
	    -H "Content-Type: application/json" \
	    -d "{\"username\": \"admin\", \"password\": \"$1\"}" \
	    "http://127.0.0.1:$FLOCKMQ_PORT2/api/v5/login"
}

test_expect_success 'start the broker with a second listener' '
	broker_config <<-EOF &&
	listeners.tcp.internal.bind: "127.0.0.1:$FLOCKMQ_PORT3"
	EOF
	start_broker
'

test_expect_success 'the ctl socket is in node.data_dir, mode 0600' '
	test -S "$BROKER_DATA/ctl.sock" &&
	echo 600 >expect &&
	stat -c %a "$BROKER_DATA/ctl.sock" >actual &&
	test_cmp expect actual
'

test_expect_success 'status' '
	ctl status &&
	echo "Node '"'"'$NODE'"'"' $("$FLOCKMQ" version | sed "s/^flockmq //") is started" >expect &&
	test_cmp expect out
'

test_expect_success 'cluster status: EMQX'"'"'s shape' '
	ctl cluster status &&
	echo "Cluster status: #{running_nodes => ['"'"'$NODE'"'"'],stopped_nodes => []}" >expect &&
	test_cmp expect out
'

test_expect_success 'cluster status --json' '
	ctl cluster status --json &&
	"$PYTHON" -c "import json, sys; print(json.dumps(json.load(open(\"out\")), sort_keys=True))" >actual &&
	echo "{\"running_nodes\": [\"$NODE\"], \"stopped_nodes\": []}" >expect &&
	test_cmp expect actual
'

test_expect_success 'broker: sysdescr, version, datetime, uptime' '
	ctl broker &&
	sed -n "s/^\([a-z]*\) *: .*/\1/p" out >actual &&
	printf "%s\n" sysdescr version datetime uptime >expect &&
	test_cmp expect actual &&
	test_grep "^sysdescr  : flockmq" out &&
	test_grep "^version   : $("$FLOCKMQ" version | sed "s/^flockmq //")$" out &&
	test_grep -E "^datetime  : [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$" out &&
	test_grep -E "^uptime    : ([0-9]+ [a-z]+, )*[0-9]+ seconds$" out
'

test_expect_success 'clients list with no client' '
	ctl clients list &&
	echo "No clients." >expect &&
	test_cmp expect out
'

test_expect_success 'setup: two subscribers, one with an odd client id' '
	test_spawn mosquitto_sub -h 127.0.0.1 -p $FLOCKMQ_PORT -V 5 \
	    -i "sub one" -u alice -q 1 -t "t/#" >sub1.out &&
	sub1=$! &&
	test_spawn mosquitto_sub -h 127.0.0.1 -p $FLOCKMQ_PORT -V 311 \
	    -i "odd/id %2F x" -t "u/+" >sub2.out &&
	sub2=$! &&
	wait_for "ctl subscriptions list && test \$(wc -l <out) = 2"
'

test_expect_success 'clients list: EMQX'"'"'s Client(...) lines' '
	ctl clients list &&
	test $(wc -l <out) = 2 &&
	test_grep -E "^Client\(sub one, username=alice, peername=127\.0\.0\.1:[0-9]+, clean_start=true, keepalive=60, session_expiry_interval=0, subscriptions=1, inflight=0, awaiting_rel=0, delivered_msgs=0, enqueued_msgs=0, dropped_msgs=0, connected=true, created_at=[0-9]{13}, connected_at=[0-9]{13}\)$" out &&
	test_grep -E "^Client\(odd/id %2F x, username=undefined, peername=127\.0\.0\.1:[0-9]+, clean_start=true, keepalive=60, session_expiry_interval=0, subscriptions=1, .*connected=true, " out
'

test_expect_success 'clients show: an id with a space, a slash and a percent' '
	ctl clients show "odd/id %2F x" &&
	test $(wc -l <out) = 1 &&
	test_grep "^Client(odd/id %2F x, username=undefined, " out &&
	ctl clients show "sub one" &&
	test_grep "^Client(sub one, username=alice, " out
'

test_expect_success 'clients show and kick of an unknown client: Not Found., exit 1' '
	test_expect_code 1 ctl clients show nobody &&
	echo "Not Found." >expect &&
	test_cmp expect err &&
	test ! -s out &&
	test_expect_code 1 ctl clients kick "odd/id" &&
	test_cmp expect err
'

test_expect_success 'subscriptions list and show' '
	ctl subscriptions list &&
	cat >expect <<-\EOF &&
	odd/id %2F x -> topic:u/+ qos:0 nl:0 rh:0 rap:0
	sub one -> topic:t/# qos:1 nl:0 rh:0 rap:0
	EOF
	sort out >actual &&
	test_cmp expect actual &&
	ctl subscriptions show "sub one" &&
	tail -n 1 expect >expect1 &&
	test_cmp expect1 out &&
	test_expect_code 1 ctl subscriptions show nobody &&
	test_grep "^Not Found\.$" err
'

test_expect_success 'topics list and show' '
	ctl topics list &&
	printf "%s -> $NODE\n" "t/#" "u/+" >expect &&
	sort out >actual &&
	test_cmp expect actual &&
	ctl topics show "t/#" &&
	head -n 1 expect >expect1 &&
	test_cmp expect1 out
'

test_expect_success 'broker stats: sorted name : value lines' '
	ctl broker stats &&
	test_grep -E "^connections\.count +: 2$" out &&
	test_grep -E "^subscriptions\.count +: 2$" out &&
	test_grep -E "^topics\.count +: 2$" out &&
	test_grep ! -E "^node " out &&
	test_grep ! -v -E "^[a-z_.]+ *: [0-9]+$" out &&
	sed "s/ *: .*//" out >names &&
	LC_ALL=C sort -c names
'

test_expect_success 'broker metrics: every metric, sorted' '
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t t/x -m hello -q 1 &&
	wait_for "test -s sub1.out" &&
	ctl broker metrics &&
	test_grep -E "^messages\.received +: [1-9][0-9]*$" out &&
	test_grep -E "^bytes\.sent +: [1-9][0-9]*$" out &&
	test_grep ! -v -E "^[a-z0-9_.]+ *: [0-9]+$" out &&
	sed "s/ *: .*//" out >names &&
	LC_ALL=C sort -c names &&
	ctl clients show "sub one" &&
	test_grep "delivered_msgs=1, " out
'

test_expect_success 'listeners: each listener and its state' '
	ctl listeners &&
	cat >expect <<-EOF &&
	tcp:default
	  listen_on       : 127.0.0.1:$FLOCKMQ_PORT
	  acceptors       : 16
	  proxy_protocol  : false
	  running         : true
	  current_conn    : 2
	  max_conns       : infinity
	tcp:internal
	  listen_on       : 127.0.0.1:$FLOCKMQ_PORT3
	  acceptors       : 16
	  proxy_protocol  : false
	  running         : true
	  current_conn    : 0
	  max_conns       : infinity
	EOF
	test_cmp expect out
'

test_expect_success 'listeners stop: no new connection, a connected client still gets messages' '
	ctl listeners stop tcp:default &&
	echo "Stop tcp:default listener successfully." >expect &&
	test_cmp expect out &&
	test_must_fail can_connect $FLOCKMQ_PORT &&
	test_grep "ConnectionRefused" probe.out &&
	can_connect $FLOCKMQ_PORT3 &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT3 -t t/y -m "while stopped" -q 1 &&
	wait_for "grep -q \"^while stopped\$\" sub1.out" &&
	ctl listeners &&
	sed -n "/^tcp:default/,/^tcp:internal/p" out >actual &&
	cat >expect <<-EOF &&
	tcp:default
	  listen_on       : 127.0.0.1:$FLOCKMQ_PORT
	  acceptors       : 16
	  proxy_protocol  : false
	  running         : false
	tcp:internal
	EOF
	test_cmp expect actual
'

test_expect_success 'listeners start: accepting again' '
	ctl listeners start tcp:default &&
	echo "Started tcp:default listener successfully." >expect &&
	test_cmp expect out &&
	can_connect $FLOCKMQ_PORT &&
	ctl listeners &&
	grep -A4 "^tcp:default" out >actual &&
	test_grep "running         : true" actual
'

test_expect_success 'listeners restart: accepting afterwards' '
	ctl listeners restart tcp:default &&
	echo "Restarted tcp:default listener successfully." >expect &&
	test_cmp expect out &&
	can_connect $FLOCKMQ_PORT
'

test_expect_success 'listeners stop of an unknown listener: exit 1' '
	test_expect_code 1 ctl listeners stop tcp:nosuch &&
	echo "Invalid listener: \"tcp:nosuch\"" >expect &&
	test_cmp expect err
'

test_expect_success 'clients kick: the client is disconnected' '
	kill $sub1 $sub2 &&
	wait_for "ctl clients list && grep -q \"^No clients.\$\" out" &&
	watch_client victim watch.victim &&
	ctl clients kick victim &&
	echo ok >expect &&
	test_cmp expect out &&
	wait_for "grep -q ^CLOSED watch.victim" 5 &&
	wait_for "ctl clients list && grep -q \"^No clients.\$\" out" 5
'

test_expect_success 'broker kick all: every client is disconnected' '
	watch_client k1 watch.k1 &&
	watch_client "k 2/%" watch.k2 &&
	ctl broker kick all &&
	echo "Kicked out 2 clients." >expect &&
	test_cmp expect out &&
	wait_for "grep -q ^CLOSED watch.k1" 5 &&
	wait_for "grep -q ^CLOSED watch.k2" 5 &&
	ctl clients list &&
	echo "No clients." >expect &&
	test_cmp expect out
'

test_expect_success 'banned add, list, and the banned client is refused' '
	ctl banned list &&
	echo "No banned." >expect &&
	test_cmp expect out &&
	ctl banned add --as clientid --who "bad one" --reason "ctl test" &&
	echo ok >expect &&
	test_cmp expect out &&
	ctl banned add --as username --who mallory --until 2099-01-01T00:00:00Z &&
	ctl banned list &&
	test $(wc -l <out) = 2 &&
	test_grep -E "^Banned\(as=clientid, who=bad one, by=[^,]*, reason=ctl test, at=[0-9]{4}-[^,]*, until=[^,]*\)$" out &&
	test_grep -E "^Banned\(as=username, who=mallory, by=[^,]*, reason=[^,]*, at=[^,]*, until=2099-01-01T00:00:00" out &&
	"$PYTHON" "$MQTTC" connect -p $FLOCKMQ_PORT -V 5 -i "bad one" >banned.out 2>&1 &&
	test_grep "^CONNACK sp=0 rc=0x8a$" banned.out
'

test_expect_success 'banned add of an existing entry: the node'"'"'s error, exit 1' '
	test_expect_code 1 ctl banned add --as clientid --who "bad one" &&
	test_grep "^Error: ALREADY_EXISTS" err
'

test_expect_success 'banned del, then the client connects' '
	ctl banned del --as clientid --who "bad one" &&
	echo ok >expect &&
	test_cmp expect out &&
	ctl banned list &&
	test $(wc -l <out) = 1 &&
	test_grep "who=mallory" out &&
	"$PYTHON" "$MQTTC" connect -p $FLOCKMQ_PORT -V 5 -i "bad one" >banned.out 2>&1 &&
	test_grep "^CONNACK sp=0 rc=0x00$" banned.out &&
	test_expect_code 1 ctl banned del --as clientid --who "bad one" &&
	echo "Not Found." >expect &&
	test_cmp expect err
'

test_expect_success 'admins passwd: the dashboard takes the new password only' '
	test "$(login public)" = 200 &&
	ctl admins passwd admin "N3w-passw0rd" &&
	echo ok >expect &&
	test_cmp expect out &&
	test "$(login N3w-passw0rd)" = 200 &&
	test_grep "\"token\"" login.out &&
	test "$(login public)" = 401
'

test_expect_success 'admins passwd of an unknown user: exit 1' '
	test_expect_code 1 ctl admins passwd nobody "An0ther-pass" &&
	test_grep "^Error: " err
'

test_expect_success 'usage errors: the usage on stderr, exit 2' '
	for args in "" help nosuch "clients" "clients show" "clients show a b" \
	    "broker kick" "cluster status --xml" "listeners stop" \
	    "banned add --as clientid" "banned add --who x --as" \
	    "banned del --as clientid --who x --reason r" "admins passwd admin"
	do
		test_expect_code 2 ctl $args &&
		test_grep "^Usage: flockmq \[-c FILE\] ctl" err &&
		test_grep "^clients kick <ClientId> " err &&
		test_grep "^banned add --as" err &&
		test ! -s out || return 1
	done
'

test_expect_success 'options after ctl are its own, not flockmq'"'"'s' '
	test_expect_code 2 ctl clients list -c x &&
	test_grep "^Usage: flockmq" err
'

test_expect_success 'FLOCKMQ_NODE__DATA_DIR and EMQX_NODE__DATA_DIR lead ctl to the node' '
	stop_broker &&
	start_broker FLOCKMQ_NODE__DATA_DIR="$TRASH_DIRECTORY/envdata" &&
	test -S envdata/ctl.sock &&
	test_expect_code 1 ctl status &&
	test_grep "not running (no socket at $BROKER_DATA/ctl.sock)" err &&
	FLOCKMQ_NODE__DATA_DIR="$TRASH_DIRECTORY/envdata" \
	    "$FLOCKMQ" -c "$BROKER_CONFIG" ctl status >out &&
	test_grep "^Node .$NODE. .* is started$" out &&
	EMQX_NODE__DATA_DIR="$TRASH_DIRECTORY/envdata" \
	    "$FLOCKMQ" -c "$BROKER_CONFIG" ctl cluster status >out &&
	test_grep "running_nodes => \[.$NODE.\]" out
'

test_expect_success 'a stopped node: exit 1 and a clear message' '
	stop_broker &&
	test_expect_code 1 env FLOCKMQ_NODE__DATA_DIR="$TRASH_DIRECTORY/envdata" \
	    "$FLOCKMQ" -c "$BROKER_CONFIG" ctl clients list >out 2>err &&
	test ! -s out &&
	test_grep "^Node .$NODE. not running (no socket at $TRASH_DIRECTORY/envdata/ctl.sock)$" err
'

test_expect_success 'a killed node (socket left behind): exit 1, connection refused' '
	start_broker &&
	kill_broker &&
	test -S "$BROKER_DATA/ctl.sock" &&
	test_expect_code 1 ctl broker &&
	test_grep "^Node .$NODE. not running (connection refused at $BROKER_DATA/ctl.sock)$" err
'

test_done
