#!/bin/sh

test_description='membership agreed by the metadata Raft group

Three cores on 127.0.0.1, .2 and .3, each with the three as seeds, form
one metadata group (the seed with the smallest name bootstraps it, the
leader adds the others as learners and promotes them) and all three list
the same three members in ctl cluster status, /cluster and /nodes.  kill -9
of the metadata leader: the other two elect a leader and still list all
three, the killed one stopped.  The killed node restarts and rejoins by
itself, resuming from its store (same node id, no new bootstrap).  A fourth
node with node.role replicant joins as a learner and is listed with role
replicant on every node.  A node that comes back with a wiped store (a new
node id under a member'"'"'s name) is refused and logged, never merged,
until ctl cluster force-leave on the leader removes the old member.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-cluster.sh
. "$TEST_DIRECTORY"/lib-rest.sh

N1=$(node_name 1) N2=$(node_name 2) N3=$(node_name 3) N4=$(node_name 4)

# The REST API of node $1, logged in (the token kept in token.$1: a
# login costs a PBKDF2).
rest_on () {
	API=http://$(node_addr "$1"):$(node_http_port "$1")/api/v5 &&
	if test -s "token.$1"
	then
		TOKEN=$(cat "token.$1")
	else
		login && echo "$TOKEN" >"token.$1"
	fi
}

# api_on I METHOD PATH: a request to node I, logging in again if the
# token is refused (the node restarted).
api_on () {
	rest_on "$1" && api "$2" "$3" &&
	if test "$(cat code)" = 401
	then
		rm -f "token.$1" && rest_on "$1" && api "$2" "$3"
	fi
}

# members I: node I's members by /cluster, "running:A,B stopped:C", sorted.
members () {
	api_on "$1" GET /cluster >/dev/null 2>&1 &&
	jget '"running:" + ",".join(sorted(j["nodes"])) + " stopped:" + ",".join(sorted(j["stopped_nodes"]))'
}

# node_members_are I RUNNING STOPPED: node I lists exactly those.
node_members_are () {
	test "$(members "$1")" = "running:$2 stopped:$3"
}

# The metadata group's field $2 on node $1 (from /cluster).
meta () {
	api_on "$1" GET /cluster >/dev/null 2>&1 &&
	jget "j[\"metadata\"][\"$2\"]"
}

# The node number of the metadata leader, as node $1 sees it.
leader_of () {
	l=$(meta "$1" leader) &&
	case $l in
	"$N1") echo 1 ;;
	"$N2") echo 2 ;;
	"$N3") echo 3 ;;
	*) return 1 ;;
	esac
}

test_expect_success 'three cores form one metadata group by their seeds' '
	start_cluster 3 &&
	for i in 1 2 3
	do
		wait_for "node_members_are $i $N1,$N2,$N3 \"\"" 30 || return 1
	done &&
	for i in 1 2 3
	do
		echo "proved: node $i lists $(members $i)" || return 1
	done
'

test_expect_success 'only the seed with the smallest name bootstrapped it' '
	test_grep "bootstrapped the metadata group with this node as its first voter" $(node_log 1) &&
	test_grep ! "bootstrapped the metadata group" $(node_log 2) &&
	test_grep ! "bootstrapped the metadata group" $(node_log 3) &&
	test_grep "waiting to be added by its leader" $(node_log 2)
'

test_expect_success 'every core is a voter; ctl cluster status and /nodes agree' '
	for i in 1 2 3
	do
		wait_for "api_on $i GET /nodes && jcheck \"all(n[\\\"raft\\\"] == \\\"voter\\\" and n[\\\"member\\\"] for n in j[1:])\"" 30 &&
		test "$(meta $i self_raft)" = voter || return 1
	done &&
	api_on 1 GET /nodes &&
	jcheck "len(j) == 3" "sorted(n[\"node\"] for n in j) == [\"$N1\", \"$N2\", \"$N3\"]" &&
	for i in 1 2 3
	do
		node_ctl $i cluster status >status.$i &&
		test_grep "running_nodes => \[.$N1.,.$N2.,.$N3.\]" status.$i &&
		test_grep "stopped_nodes => \[\]" status.$i || return 1
	done &&
	L=$(leader_of 1) &&
	test "$(leader_of 2)" = "$L" && test "$(leader_of 3)" = "$L" &&
	echo "proved: all three name node $L as the metadata leader, term $(meta 1 term), commit $(meta 1 commit)" &&
	echo "$L" >leader
'

test_expect_success 'kill -9 of the metadata leader: the two others elect one and list all three' '
	L=$(cat leader) &&
	id=$(grep -o "node .n$L@[^ ]* id [0-9a-f]*" $(node_log $L) | head -1 | sed "s/.* id //") &&
	test -n "$id" && echo "$id" >killed.id &&
	kill_node $L &&
	others= &&
	for i in 1 2 3
	do
		test $i = $L || others="$others $i"
	done &&
	for i in $others
	do
		wait_for "leader_of $i >newleader.$i && test \$(cat newleader.$i) != $L" 30 ||
		return 1
	done &&
	set -- $others &&
	test_cmp newleader.$1 newleader.$2 &&
	dead=$(node_name $L) &&
	alive=$(for i in $others; do node_name $i; done | sort | paste -sd, -) &&
	for i in $others
	do
		wait_for "node_members_are $i $alive $dead" 30 || return 1
		echo "proved: node $i lists $(members $i), leader node $(cat newleader.$i)" || return 1
		node_sees $i $L stopped || return 1
	done
'

test_expect_success 'the killed node restarts and rejoins by itself, resuming from its store' '
	L=$(cat leader) &&
	start_node $L &&
	for i in 1 2 3
	do
		wait_for "node_members_are $i $N1,$N2,$N3 \"\"" 30 || return 1
		echo "proved: node $i lists $(members $i)" || return 1
	done &&
	test_grep "metadata group resumed from the store: index [1-9][0-9]*, term [1-9][0-9]*, 3 members" $(node_log $L) &&
	test_grep ! "bootstrapped the metadata group" $(node_log $L) &&
	test_grep "id $(cat killed.id) boot 2" $(node_log $L) &&
	O=$((L % 3 + 1)) &&
	api_on $O GET "/nodes/$(node_name $L)" &&
	jcheck "j[\"node_id\"] == \"$(cat killed.id)\"" "j[\"member\"]" \
	    "j[\"node_status\"] == \"running\""
'

test_expect_success 'a replicant joins as a learner and is listed with role replicant' '
	start_node 4 FLOCKMQ_NODE__ROLE=replicant &&
	for i in 1 2 3 4
	do
		wait_for "node_members_are $i $N1,$N2,$N3,$N4 \"\"" 30 || return 1
		echo "proved: node $i lists $(members $i)" || return 1
	done &&
	for i in 1 2 3
	do
		api_on $i GET "/nodes/$N4" &&
		jcheck "j[\"role\"] == \"replicant\"" "j[\"raft\"] == \"learner\"" \
		    "j[\"member\"]" || return 1
	done &&
	api_on 4 GET /cluster &&
	jcheck "j[\"metadata\"][\"raft_role\"] == \"learner\"" \
	    "j[\"metadata\"][\"self_raft\"] == \"learner\"" \
	    "j[\"metadata\"][\"applied\"] >= 1" &&
	test_grep "waiting to be added by its leader" $(node_log 4) &&
	echo "proved: node 4 follows as a learner: $(meta 4 raft_role), applied $(meta 4 applied)"
'

test_expect_success 'Prometheus counts the members on every node' '
	for i in 1 2 3 4
	do
		test "$(node_prom $i emqx_cluster_nodes_running)" = 4 &&
		test "$(node_prom $i emqx_cluster_nodes_stopped)" = 0 ||
		return 1
	done
'

test_expect_success 'a node back with a wiped store is refused, never merged' '
	stop_node 4 &&
	rm -rf "$TRASH_DIRECTORY/n4" &&
	start_node 4 FLOCKMQ_NODE__ROLE=replicant &&
	L=$(leader_of 1) &&
	wait_for "grep -q \"refused node .$N4.: node .$N4. came back with node id\" $(node_log $L)" 30 &&
	test_grep "ctl cluster force-leave $N4. on a member, then restart it" $(node_log $L) &&
	wait_for "grep -q \"the metadata group.s leader .$(node_name $L). refused this node: node .$N4. came back with node id\" $(node_log 4)" 30 &&
	api_on 1 GET /cluster &&
	jcheck "\"$N4\" in j[\"stopped_nodes\"]" "\"$N4\" in j[\"not_members\"]" &&
	echo "proved: node 1 lists $(members 1), and n4 under its new id as not a member"
'

test_expect_success 'ctl cluster force-leave: refused off the leader and for a running node' '
	L=$(leader_of 1) &&
	O=$((L % 3 + 1)) &&
	test_must_fail node_ctl $O cluster force-leave "$N4" 2>err &&
	test_grep "SERVICE_UNAVAILABLE: this node is not the leader of the metadata group; run it on .$(node_name $L)." err &&
	test_must_fail node_ctl $L cluster force-leave "$(node_name $O)" 2>err &&
	test_grep "BAD_REQUEST: node .$(node_name $O). is running; stop it first" err &&
	test_must_fail node_ctl $L cluster force-leave nobody@127.0.0.9 2>err &&
	test_grep "NOT_FOUND: node .nobody@127.0.0.9. is not a member" err
'

test_expect_success 'ctl cluster force-leave on the leader lets the wiped node in' '
	L=$(leader_of 1) &&
	node_ctl $L cluster force-leave "$N4" >out.fl &&
	test_grep "^ok$" out.fl &&
	test_grep "forcing node .$N4. (node id [0-9a-f]*) out of the cluster" $(node_log $L) &&
	new_id=$(grep -o "node .$N4. id [0-9a-f]*" $(node_log 4) | head -1 | sed "s/.* id //") &&
	test -n "$new_id" &&
	for i in 1 2 3 4
	do
		wait_for "node_members_are $i $N1,$N2,$N3,$N4 \"\"" 30 || return 1
		echo "proved: node $i lists $(members $i)" || return 1
	done &&
	api_on 1 GET "/nodes/$N4" &&
	jcheck "j[\"node_id\"] == \"$new_id\"" "j[\"raft\"] == \"learner\"" \
	    "j[\"role\"] == \"replicant\""
'

test_expect_success 'a core with a wiped store: force-leave removes the old voter, the new one is promoted' '
	stop_node 3 &&
	rm -rf "$TRASH_DIRECTORY/n3" &&
	start_node 3 &&
	wait_for "leader_of 1 >wl && test \$(cat wl) != 3" 30 &&
	L=$(cat wl) &&
	wait_for "grep -q \"refused node .$N3.: node .$N3. came back with node id\" $(node_log $L)" 30 &&
	node_ctl $L cluster force-leave "$N3" >out.fl &&
	test_grep "^ok$" out.fl &&
	new_id=$(grep -o "node .$N3. id [0-9a-f]*" $(node_log 3) | head -1 | sed "s/.* id //") &&
	wait_for "api_on $L GET /nodes/$N3 && jcheck \"j[\\\"node_id\\\"] == \\\"$new_id\\\" and j[\\\"raft\\\"] == \\\"voter\\\"\"" 30 &&
	for i in 1 2 3 4
	do
		wait_for "node_members_are $i $N1,$N2,$N3,$N4 \"\"" 30 || return 1
		echo "proved: node $i lists $(members $i)" || return 1
	done &&
	echo "proved: $N3 is a voter again under node id $new_id"
'

test_expect_success 'every node stops cleanly' '
	stop_node 4 && stop_node 1 && stop_node 2 && stop_node 3
'

test_done
