#!/bin/sh

test_description='node links: three nodes on 127.0.0.1, .2 and .3

Three nodes with each other as seeds link up (one control and two data
connections each way) and report each other running in ctl cluster status,
/nodes, /cluster and Prometheus; a node killed with SIGKILL is reported
stopped, and running again after its restart with the same node id and a
higher boot counter; one stopped with SIGSTOP is cut off after
cluster.link.down_timeout of silence and running again after SIGCONT; a wrong cookie and another cluster name are refused
and both sides log who and why; raw peers that send garbage, stall
mid-frame, flood, announce a huge frame, stop after HELLO or open 100
connections at once (64 may be in handshake) are cut off and logged while
an MQTT client goes on publishing and receiving on that node.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-cluster.sh
. "$TEST_DIRECTORY"/lib-rest.sh

N1=$(node_name 1) N2=$(node_name 2) N3=$(node_name 3)

# The node's REST API: log in to node $1.
rest_on () {
	API=http://$(node_addr "$1"):$(node_http_port "$1")/api/v5 &&
	login
}

# An MQTT round trip on node $1: a subscriber gets what a publisher sends.
mqtt_round_trip () {
	rm -f rt.out &&
	mosquitto_sub -h "$(node_addr "$1")" -p "$(node_mqtt_port "$1")" \
	    -t "rt/$2" -C 1 -W 10 >rt.out &
	rt_pid=$! &&
	wait_for "node_ctl $1 subscriptions list | grep -q rt/$2" 10 &&
	mosquitto_pub -h "$(node_addr "$1")" -p "$(node_mqtt_port "$1")" \
	    -t "rt/$2" -m "hello $2" -q 1 &&
	wait "$rt_pid" &&
	echo "hello $2" >rt.expect &&
	test_cmp rt.expect rt.out
}

test_expect_success 'three nodes start' '
	start_cluster 3
'

test_expect_success 'each node reports the two others running' '
	for i in 1 2 3
	do
		for j in 1 2 3
		do
			test $i = $j || wait_for "node_sees $i $j running" 20 ||
			return 1
		done
	done &&
	node_ctl 1 cluster status >status &&
	test_grep "running_nodes => \[.$N1.,.$N2.,.$N3.\]" status &&
	test_grep "stopped_nodes => \[\]" status
'

test_expect_success 'one control and two data connections per pair, logged' '
	test_grep "cluster: peer .$N2. (.*) is up: node id [0-9a-f]\{16\}, boot 1, role core, version .*; using link v1, raft v1, route v1, forward v1" $(node_log 1) &&
	test_grep "cluster: peer .$N1. (.*) is up" $(node_log 3) &&
	wait_for "test \$(grep -c \"$N3. .*data connection [12] up\" $(node_log 1)) -ge 2" 10
'

test_expect_success '/nodes lists the peers with state, role, version and protocol versions' '
	rest_on 1 &&
	wait_for "api GET /nodes && jcheck \"all(n[\\\"data_connections\\\"] == 2 for n in j[1:])\"" 10 &&
	jcheck "len(j) == 3" \
	    "j[0][\"node\"] == \"$N1\" and j[0][\"node_status\"] == \"running\"" \
	    "sorted(n[\"node\"] for n in j[1:]) == [\"$N2\", \"$N3\"]" \
	    "all(n[\"node_status\"] == \"running\" and n[\"role\"] == \"core\" for n in j[1:])" \
	    "all(n[\"version\"] == j[0][\"version\"] for n in j[1:])" \
	    "all(n[\"protocol_versions\"] == {\"link\": 1, \"raft\": 1, \"route\": 1, \"forward\": 1} for n in j[1:])" \
	    "all(re.match(\"^[0-9a-f]{16}\$\", n[\"node_id\"]) and n[\"boot\"] == 1 for n in j[1:])" &&
	api GET "/nodes/$N2" && expect_code 200 &&
	jcheck "j[\"node\"] == \"$N2\"" &&
	# The metadata group may still be adding the last one (t7020).
	wait_for "api GET /cluster && jcheck \"sorted(j[\\\"nodes\\\"]) == [\\\"$N1\\\", \\\"$N2\\\", \\\"$N3\\\"]\"" 20 &&
	expect_code 200 &&
	jcheck "j[\"stopped_nodes\"] == []" &&
	test "$(node_prom 2 emqx_cluster_nodes_running)" = 3 &&
	test "$(node_prom 2 emqx_cluster_nodes_stopped)" = 0
'

test_expect_success 'node 3 killed: the others report it stopped' '
	rest_on 1 && api GET "/nodes/$N3" && id3=$(jget "j[\"node_id\"]") &&
	kill_node 3 &&
	wait_for "node_sees 1 3 stopped" 20 &&
	wait_for "node_sees 2 3 stopped" 20 &&
	node_sees 1 2 running &&
	test_grep "cluster: peer .$N3. is down" $(node_log 1) &&
	test "$(node_prom 1 emqx_cluster_nodes_running)" = 2 &&
	test "$(node_prom 1 emqx_cluster_nodes_stopped)" = 1 &&
	api GET /cluster && jcheck "j[\"stopped_nodes\"] == [\"$N3\"]"
'

test_expect_success 'node 3 restarted: running again, same node id, boot 2' '
	start_node 3 &&
	wait_for "node_sees 1 3 running" 20 &&
	wait_for "node_sees 2 3 running" 20 &&
	wait_for "node_sees 3 1 running && node_sees 3 2 running" 20 &&
	rest_on 1 && api GET "/nodes/$N3" &&
	jcheck "j[\"node_id\"] == \"$id3\"" "j[\"boot\"] == 2"
'

test_expect_success 'node 2 stopped with SIGSTOP: reported stopped past down_timeout, running after SIGCONT' '
	kill -STOP $(node_pid 2) &&
	test_when_finished "kill -CONT $(node_pid 2)" &&
	wait_for "node_sees 1 2 stopped" 20 &&
	wait_for "node_sees 3 2 stopped" 20 &&
	test_grep "cluster: cut off peer .$N2. (.*): silent for 2000ms (cluster.link.down_timeout)" $(node_log 1) &&
	node_sees 1 3 running &&
	kill -CONT $(node_pid 2) &&
	wait_for "node_sees 1 2 running && node_sees 3 2 running" 20 &&
	wait_for "node_sees 2 1 running && node_sees 2 3 running" 20
'

test_expect_success 'a wrong cookie is refused; both sides log who and why' '
	stop_node 3 &&
	wait_for "node_sees 1 3 stopped" 20 &&
	start_node 3 FLOCKMQ_NODE__COOKIE=notthecookie &&
	wait_for "grep -q \"refused peer .$N3. (.*): wrong cookie\" $(node_log 1)" 20 &&
	wait_for "grep -q \"peer .$N1. (.*) refused us: wrong cookie\" $(node_log 3)" 20 &&
	wait_for "grep -q \"refused peer .$N1. (.*): wrong cookie\" $(node_log 3)" 20 &&
	wait_for "grep -q \"peer .$N3. (.*) refused us: wrong cookie\" $(node_log 1)" 20 &&
	node_sees 1 3 stopped && node_sees 2 3 stopped &&
	node_sees 3 1 stopped && node_sees 3 2 stopped &&
	! grep -i "notthecookie\|flockmqsecretcookie" $(node_log 1) $(node_log 3)
'

test_expect_success 'another cluster name is refused; both sides log it' '
	stop_node 3 &&
	start_node 3 FLOCKMQ_CLUSTER__NAME=othercl &&
	wait_for "grep -q \"refused peer .$N3. (.*): node .$N3. is in cluster .othercl., not .flockmqcl.\" $(node_log 1)" 20 &&
	wait_for "grep -q \"peer .$N1. (.*) refused us: node .$N3. is in cluster .othercl., not .flockmqcl.\" $(node_log 3)" 20 &&
	wait_for "grep -q \"refused peer .$N1. (.*): node .$N1. is in cluster .flockmqcl., not .othercl.\" $(node_log 3)" 20 &&
	node_sees 1 3 stopped && node_sees 3 2 stopped
'

test_expect_success 'node 3 back with the right cookie and name' '
	stop_node 3 &&
	start_node 3 &&
	wait_for "node_sees 1 3 running && node_sees 3 1 running" 20
'

for mode in garbage stall flood toobig hello many
do
	case $mode in
	garbage) why="garbage: malformed frame header" ;;
	stall) why="stalled mid-frame: 30 bytes of a frame" ;;
	flood) why="flood: more than 65536 bytes before the handshake finished" ;;
	toobig) why="flood: a frame longer than cluster.link.max_frame_size" ;;
	hello) why="handshake not finished within" ;;
	many) why="handshake not finished within" ;;
	esac
	test_expect_success "a raw peer that does '$mode' is cut off; MQTT goes on" '
		"$PYTHON" "$TEST_DIRECTORY/helper/linkpeer.py" 127.0.0.1 \
		    $(node_link_port 1) $mode >peer.$mode 2>&1 &
		peer_pid=$! &&
		mqtt_round_trip 1 $mode &&
		wait "$peer_pid" &&
		test_grep "closed after" peer.$mode &&
		if test $mode = many
		then
			test_grep "cluster: refused a connection from 127.0.0.1:[0-9]*: 64 connections in handshake already" $(node_log 1) &&
			early=$(sed -n "s/^early //p" peer.many) &&
			test "$early" -ge 30
		fi &&
		test_grep "cluster: cut off peer \(.raw@127.0.0.9. (\)\{0,1\}127.0.0.1:[0-9]*)\{0,1\}: $why" $(node_log 1) &&
		mqtt_round_trip 1 $mode-after &&
		node_sees 1 2 running && node_sees 1 3 running &&
		node_ctl 1 cluster status >status &&
		test_grep ! raw@ status
	'
done

test_expect_success 'the default cookie is warned about; an empty one stops start-up' '
	test_grep "cluster: node.cookie is the default one" $(node_log 1) &&
	stop_node 3 &&
	test_must_fail start_node 3 FLOCKMQ_NODE__COOKIE= >start.out 2>&1 &&
	test_grep "cluster: node.cookie is empty" start.out &&
	start_node 3 &&
	wait_for "node_sees 1 3 running" 20
'

test_expect_success 'the nodes stop cleanly' '
	stop_node 3 && stop_node 2 && stop_node 1
'

test_done
