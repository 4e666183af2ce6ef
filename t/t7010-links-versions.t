#!/bin/sh

test_description='node links: version ranges, two builds, one address

Two nodes on 127.0.0.1 with ports of their own.  t/helper/flockmq-wire is
the broker built to offer other protocol version ranges (from
WIRE_TEST_VERSIONS, which only that build reads): against the regular
build, overlapping ranges agree on the highest common version, ranges that
do not overlap are refused and both sides log both ranges; two nodes of
that build agree on the highest version both speak, and a subsystem one
side does not speak is simply not used.'

. "$(dirname "$0")"/test-lib.sh
CLUSTER_SAME_HOST=t
CLUSTER_SIZE=2
. "$TEST_DIRECTORY"/lib-cluster.sh
. "$TEST_DIRECTORY"/lib-rest.sh

N1=$(node_name 1) N2=$(node_name 2)
WIRE=$FLOCKMQ_BUILD/t/helper/flockmq-wire

# node_versions I J: the protocol versions node I uses with node J (JSON).
node_versions () {
	API=http://$(node_addr "$1"):$(node_http_port "$1")/api/v5 &&
	login >/dev/null &&
	api GET "/nodes/$(node_name "$2")" &&
	jget "j[\"protocol_versions\"] if j[\"node_status\"] == \"running\" else None"
}

test_expect_success 'flockmq-wire is built' '
	test -x "$WIRE" || {
		echo "$WIRE is not built: run make check-programs"
		false
	}
'

test_expect_success 'raft 1..1 and raft 1..2: linked, raft v1 on both sides' '
	start_node 1 &&
	NODE_BIN=$WIRE &&
	start_node 2 WIRE_TEST_VERSIONS=raft=1-2,route=1-3 &&
	NODE_BIN= &&
	test_grep "speaks link 1..1, raft 1..2, route 1..3, forward 1..1" $(node_log 2) &&
	wait_for "node_sees 1 2 running && node_sees 2 1 running" 20 &&
	test "$(node_versions 1 2)" = "{\"link\":1,\"raft\":1,\"route\":1,\"forward\":1}" &&
	test "$(node_versions 2 1)" = "{\"link\":1,\"raft\":1,\"route\":1,\"forward\":1}" &&
	test_grep "peer .$N1. (127.0.0.1:[0-9]*) is up: .*using link v1, raft v1, route v1, forward v1" $(node_log 2)
'

test_expect_success 'raft 1..1 and raft 2..3: refused, both sides name both ranges' '
	stop_node 2 &&
	NODE_BIN=$WIRE &&
	start_node 2 WIRE_TEST_VERSIONS=raft=2-3 &&
	NODE_BIN= &&
	msg12="node .$N2. speaks raft 2..3, node .$N1. speaks raft 1..1: no common version" &&
	msg21="node .$N1. speaks raft 1..1, node .$N2. speaks raft 2..3: no common version" &&
	wait_for "grep -q \"refused peer .$N2. (.*): $msg12\" $(node_log 1)" 20 &&
	wait_for "grep -q \"peer .$N2. (.*) refused us: $msg21\" $(node_log 1)" 20 &&
	wait_for "grep -q \"refused peer .$N1. (.*): $msg21\" $(node_log 2)" 20 &&
	wait_for "grep -q \"peer .$N1. (.*) refused us: $msg12\" $(node_log 2)" 20 &&
	node_sees 1 2 stopped && node_sees 2 1 stopped &&
	API=http://127.0.0.1:$(node_http_port 1)/api/v5 && login &&
	api GET "/nodes/$N2" &&
	jcheck "j[\"node_status\"] == \"stopped\"" \
	    "\"no common version\" in j[\"reason\"]"
'

test_expect_success 'two flockmq-wire nodes, raft 1..3 and 2..4: raft v3' '
	stop_node 2 && stop_node 1 &&
	NODE_BIN=$WIRE &&
	start_node 1 WIRE_TEST_VERSIONS=raft=1-3,forward=1-2 &&
	start_node 2 WIRE_TEST_VERSIONS=raft=2-4,forward=2-5 &&
	NODE_BIN= &&
	wait_for "node_sees 1 2 running && node_sees 2 1 running" 20 &&
	test "$(node_versions 1 2)" = "{\"link\":1,\"raft\":3,\"route\":1,\"forward\":2}" &&
	test "$(node_versions 2 1)" = "{\"link\":1,\"raft\":3,\"route\":1,\"forward\":2}"
'

test_expect_success 'a subsystem one side does not speak is not used' '
	stop_node 2 &&
	NODE_BIN=$WIRE &&
	start_node 2 WIRE_TEST_VERSIONS=route=0-0 &&
	NODE_BIN= &&
	wait_for "node_sees 1 2 running && node_sees 2 1 running" 20 &&
	test "$(node_versions 1 2)" = "{\"link\":1,\"raft\":1,\"forward\":1}"
'

test_expect_success 'the nodes stop cleanly' '
	stop_node 2 && stop_node 1
'

test_done
