# lib-cluster.sh: several nodes per test script.  Source it after
# test-lib.sh (lib-rest.sh may follow for REST calls).
#
#	CLUSTER_SAME_HOST=t	(before start) every node on 127.0.0.1, node
#				i on ports of its own (two nodes at most);
#				else node i is on 127.0.0.i with the
#				script's ports
#	start_cluster N [VAR=VAL...]	start nodes 1..N, each with every other
#				as a seed, and wait until each is ready
#	start_node I [VAR=VAL...]	start node I (FLOCKMQ_* overrides in
#				its environment); NODE_BIN=path picks another
#				build
#	stop_node I		SIGTERM (SIGKILL after 30 s); fails unless it
#				exits with status 0
#	kill_node I		SIGKILL, as a crash would
#	node_name I		nI@ADDR
#	node_addr I, node_mqtt_port I, node_http_port I, node_link_port I
#	node_ctl I ARGS...	flockmq ctl ARGS on node I
#	node_log I		node I's log file (its current run)
#	node_sees I J STATE	node I's `ctl cluster status --json` has node
#				J in running_nodes (STATE running) or
#				stopped_nodes (STATE stopped)
#	node_prom I METRIC	the value of a Prometheus metric on node I
#
# Each node keeps its data in $TRASH_DIRECTORY/nI and its configuration in
# nI.yaml; the cluster port is $FLOCKMQ_PORT3 (node 2 on one host:
# $FLOCKMQ_PORT6).  CLUSTER_SIZE (default 3) is how many nodes the seeds
# name.  Every node still running when the script ends is stopped by its
# pid and must exit with status 0.

: "${CLUSTER_SIZE:=3}" "${CLUSTER_SAME_HOST:=}"
cluster_atexit_=

node_addr () {
	if test -n "$CLUSTER_SAME_HOST"; then echo 127.0.0.1; else echo "127.0.0.$1"; fi
}

node_port_ () {
	if test -n "$CLUSTER_SAME_HOST" && test "$1" = 2; then
		echo $(($2 + 3))
	else
		echo "$2"
	fi
}

node_mqtt_port () { node_port_ "$1" "$FLOCKMQ_PORT"; }
node_http_port () { node_port_ "$1" "$FLOCKMQ_PORT2"; }
node_link_port () { node_port_ "$1" "$FLOCKMQ_PORT3"; }
node_name () { echo "n$1@$(node_addr "$1")"; }
node_log () { echo "$TRASH_DIRECTORY/n$1.log"; }

# The YAML of node $1.
node_config_ () {
	cluster_seeds_=
	cluster_j_=1
	while test "$cluster_j_" -le "$CLUSTER_SIZE"
	do
		cluster_seeds_="$cluster_seeds_${cluster_seeds_:+, }\"$(node_name $cluster_j_):$(node_link_port $cluster_j_)\""
		cluster_j_=$((cluster_j_ + 1))
	done
	cat <<-EOF
	node:
	  name: "$(node_name "$1")"
	  data_dir: "$TRASH_DIRECTORY/n$1"
	cluster:
	  discovery_strategy: static
	  static:
	    seeds: [$cluster_seeds_]
	  link:
	    port: $(node_link_port "$1")
	    heartbeat_interval: 200ms
	    down_timeout: 2s
	    frame_timeout: 2s
	    handshake_timeout: 3s
	    reconnect_interval: 500ms
	listeners:
	  tcp:
	    default:
	      bind: "$(node_addr "$1"):$(node_mqtt_port "$1")"
	dashboard:
	  listeners:
	    http:
	      bind: "$(node_addr "$1"):$(node_http_port "$1")"
	log:
	  console:
	    level: info
	EOF
}

# start_node I [VAR=VAL...]: start node I and wait for its readiness line.
start_node () {
	cluster_i_=$1
	shift
	if eval "test -n \"\$NODE_PID_$cluster_i_\""; then
		echo "start_node: node $cluster_i_ is running already"
		return 1
	fi
	if test -z "$cluster_atexit_"; then
		cluster_atexit_=t
		test_atexit 'cluster_stop_all_'
	fi
	node_config_ "$cluster_i_" >"$TRASH_DIRECTORY/n$cluster_i_.yaml" || return 1
	cluster_log_=$(node_log "$cluster_i_")
	test ! -f "$cluster_log_" || cat "$cluster_log_" >>"$cluster_log_.old"
	: >"$cluster_log_"
	(
		while test "$#" -gt 0
		do
			case $1 in
			[A-Za-z_]*=*) export "$1"; shift ;;
			*) break ;;
			esac
		done
		# shellcheck disable=SC2086 # TEST_VALGRIND is a command prefix
		exec $TEST_VALGRIND "${NODE_BIN:-$FLOCKMQ_BUILD/src/flockmq}" \
		    -c "$TRASH_DIRECTORY/n$cluster_i_.yaml" foreground
	) >"$cluster_log_" 2>&1 &
	cluster_pid_=$!
	eval "NODE_PID_$cluster_i_=$cluster_pid_"
	test_track_pid "$cluster_pid_"
	cluster_n_=$((BROKER_READY_TIMEOUT_CLUSTER * 10 * FLOCKMQ_TEST_TIMEOUT_SCALE))
	until grep -q "flockmq is ready" "$cluster_log_"
	do
		if ! test_pid_alive "$cluster_pid_" || test "$cluster_n_" -le 0
		then
			echo "start_node: node $cluster_i_ did not get ready; its log:"
			sed 's/^/| /' "$cluster_log_"
			kill -KILL "$cluster_pid_" 2>/dev/null
			wait "$cluster_pid_"
			eval "NODE_PID_$cluster_i_="
			return 1
		fi
		sleep 0.1
		cluster_n_=$((cluster_n_ - 1))
	done
}
: "${BROKER_READY_TIMEOUT_CLUSTER:=15}"

# start_cluster N [VAR=VAL...]
start_cluster () {
	cluster_k_=1
	cluster_want_=$1
	shift
	while test "$cluster_k_" -le "$cluster_want_"
	do
		start_node "$cluster_k_" "$@" || return 1
		cluster_k_=$((cluster_k_ + 1))
	done
}

# The pid of node $1, or nothing.
node_pid () {
	eval "echo \"\$NODE_PID_$1\""
}

stop_node () {
	cluster_p_=$(node_pid "$1")
	if test -z "$cluster_p_"; then
		echo "stop_node: node $1 is not running"
		return 1
	fi
	kill -TERM "$cluster_p_" 2>/dev/null
	kill -CONT "$cluster_p_" 2>/dev/null
	# Generous: a loaded machine (sanitizers, parallel scripts) is slow to
	# exit, and a node that does not stop is a failure all the same.
	cluster_n_=$((30 * 10 * FLOCKMQ_TEST_TIMEOUT_SCALE))
	while test_pid_alive "$cluster_p_"
	do
		if test "$cluster_n_" -le 0; then
			echo "stop_node: node $1 still running 30 s after SIGTERM"
			kill -KILL "$cluster_p_" 2>/dev/null
			break
		fi
		sleep 0.1
		cluster_n_=$((cluster_n_ - 1))
	done
	wait "$cluster_p_"
	cluster_st_=$?
	eval "NODE_PID_$1="
	test "$cluster_st_" = 0 && return 0
	echo "stop_node: node $1 exited with status $cluster_st_; the end of its log:"
	tail -n 30 "$(node_log "$1")" | sed 's/^/| /'
	return 1
}

kill_node () {
	cluster_p_=$(node_pid "$1")
	if test -z "$cluster_p_"; then
		echo "kill_node: node $1 is not running"
		return 1
	fi
	kill -KILL "$cluster_p_" 2>/dev/null
	wait "$cluster_p_"
	eval "NODE_PID_$1="
}

# Stop every node still running (at exit).
cluster_stop_all_ () {
	cluster_ret_=0
	cluster_k_=1
	while test "$cluster_k_" -le 9
	do
		if test -n "$(node_pid $cluster_k_)"; then
			stop_node "$cluster_k_" || cluster_ret_=1
		fi
		cluster_k_=$((cluster_k_ + 1))
	done
	return $cluster_ret_
}

node_ctl () {
	cluster_c_=$1
	shift
	"$FLOCKMQ" -c "$TRASH_DIRECTORY/n$cluster_c_.yaml" ctl "$@"
}

# node_sees I J running|stopped
node_sees () {
	node_ctl "$1" cluster status --json >"sees.$1" 2>&1 &&
	"$PYTHON" - "sees.$1" "$(node_name "$2")" "$3" <<-\EOF
	import json, sys
	j = json.load(open(sys.argv[1]))
	sys.exit(0 if sys.argv[2] in j[sys.argv[3] + "_nodes"] else 1)
	EOF
}

# node_prom I METRIC: the metric's value on node I.
node_prom () {
	curl -s -m 5 "http://$(node_addr "$1"):$(node_http_port "$1")/api/v5/prometheus/stats" |
	    sed -n "s/^$2 //p"
}
