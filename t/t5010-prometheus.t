#!/bin/sh

test_description='Prometheus metrics with EMQX names

GET /api/v5/prometheus/stats (and /api/v5/prometheus) on the dashboard
listener, without credentials: the text exposition format 0.0.4 that
promtool parses, a HELP and a TYPE line for every metric of
metrics_table.h and for the stats, cluster and VM figures EMQX exports,
values that follow real clients (connections, subscriptions, messages by
QoS, retained, the received rate, process memory), and a real Prometheus
server that scrapes the broker and answers queries.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

PROM_URL=http://127.0.0.1:$FLOCKMQ_PORT2/api/v5/prometheus/stats
PROMQL_URL=http://127.0.0.1:$FLOCKMQ_PORT3/api/v1/query

# scrape [FILE]: the exposition into FILE (metrics.txt).
scrape () {
	curl -sS -m 5 -o "${1:-metrics.txt}" "$PROM_URL"
}

# metric NAME [FILE]: the value of the sample NAME in FILE (metrics.txt).
metric () {
	sed -n "s/^$1 \\([^ ]*\\)\$/\\1/p" "${2:-metrics.txt}"
}

# value NAME: scrape now and print the value of NAME.
value () {
	scrape now.txt && metric "$1" now.txt
}

# value_is NAME N: NAME is N now.
value_is () {
	test "$(value "$1")" = "$2"
}

# value_cmp NAME OP N: awk's comparison of the value of NAME with N.
value_cmp () {
	value "$1" >cmp.txt &&
	test -s cmp.txt &&
	awk -v n="$3" "{ exit !(\$1 $2 n) }" cmp.txt
}

# check_deltas BEFORE AFTER EXPECT: each line "NAME N" of EXPECT says that
# NAME went up by exactly N from the exposition BEFORE to AFTER.
check_deltas () {
	check_ok_=0
	while read -r check_name_ check_want_
	do
		check_a_=$(metric "$check_name_" "$1")
		check_b_=$(metric "$check_name_" "$2")
		case $check_a_$check_b_ in
		''|*[!0-9]*)
			echo "$check_name_: not an integer: '$check_a_' '$check_b_'"
			check_ok_=1
			continue
			;;
		esac
		check_got_=$((check_b_ - check_a_))
		if test "$check_got_" != "$check_want_"; then
			echo "$check_name_: $check_a_ -> $check_b_," \
			    "up $check_got_, expected $check_want_"
			check_ok_=1
		fi
	done <"$3"
	return $check_ok_
}

# lines FILE: the number of lines of FILE (0 if it is missing).
lines () {
	if test -f "$1"; then
		wc -l <"$1" | tr -d " "
	else
		echo 0
	fi
}

# sub ID QOS FILTER: a mosquitto_sub in the background (for at most 60 s),
# its messages in ID.out; its pid is added to $SUB_PIDS.
SUB_PIDS=
sub () {
	test_spawn mosquitto_sub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -i "$1" \
	    -q "$2" -t "$3" -W 60 >"$1.out" 2>"$1.err" &&
	SUB_PIDS="$SUB_PIDS $!"
}

# emqx_lints: the promtool lint lines on stdin less those that EMQX's
# names cause: counters without _total, stats ending in _count, and the
# production guide's gauge emqx_vm_memory_total.
emqx_lints () {
	grep -v -e '^emqx_[a-z0-9_]* counter metrics should have "_total" suffix$' \
	    -e '^emqx_[a-z0-9_]*_count non-histogram .* "_count" suffix$' \
	    -e '^emqx_vm_memory_total non-counter .* "_total" suffix$'
}

# check_families FILE: each family of the exposition has one HELP and one
# TYPE line before its samples, and at least one sample with a number.
check_families () {
	awk '
	/^# HELP / { if ($3 in help) { print "second HELP: " $3; bad = 1 }
		help[$3] = 1; next }
	/^# TYPE / { if ($3 in type) { print "second TYPE: " $3; bad = 1 }
		type[$3] = 1; next }
	/^#/ { next }
	{ n = $1; sub(/\{.*/, "", n)
	  if (!(n in help) || !(n in type)) { print "no HELP/TYPE: " n; bad = 1 }
	  if ($2 !~ /^-?[0-9][0-9.e+]*$/) { print "bad value: " $0; bad = 1 }
	  seen[n] = 1 }
	END { for (t in type) if (!(t in seen)) { print "no sample: " t; bad = 1 }
	      exit bad }
	' "$1"
}

# table_names: "NAME TYPE" of each metric of metrics_table.h, NAME as
# Prometheus has it (emqx_ + the EMQX name, "." -> "_").
table_names () {
	sed -n 's/^[[:space:]]*M([A-Z0-9_]*, "\([^"]*\)", \([A-Z]*\),.*/\1 \2/p' \
	    "$FLOCKMQ_SRC/src/metrics_table.h" |
	awk '{ n = $1; gsub(/\./, "_", n); print "emqx_" n, tolower($2) }'
}

# promq QUERY: the value of the first sample of an instant query on the
# Prometheus server (empty if there is none yet).
promq () {
	curl -s -m 5 --get --data-urlencode "query=$1" "$PROMQL_URL" |
	jq -r '.data.result[0].value[1] // empty'
}

test_expect_success 'start the broker' '
	start_broker &&
	scrape &&
	test "$(metric emqx_connections_count)" = 0
'

test_expect_success 'no credentials: 200, text/plain; version=0.0.4' '
	curl -sS -m 5 -D headers -o metrics.txt -w "%{http_code}\n" \
	    "$PROM_URL" >code &&
	echo 200 >expect &&
	test_cmp expect code &&
	tr -d "\r" <headers >headers.lf &&
	test_grep -i "^content-type: text/plain; *version=0\.0\.4" headers.lf &&
	curl -sS -m 5 -o plain.txt -w "%{http_code}\n" \
	    "http://127.0.0.1:$FLOCKMQ_PORT2/api/v5/prometheus" >code &&
	test_cmp expect code &&
	test_grep "^emqx_node_running 1$" plain.txt &&
	test_grep "^emqx_node_running 1$" metrics.txt
'

test_expect_success 'one HELP and one TYPE line before the sample of each family' '
	check_families metrics.txt
'

test_skip_if 'promtool is not installed' '! command -v promtool >/dev/null'
test_expect_success 'promtool parses it; its only lints are EMQX naming conventions' '
	{ promtool check metrics <metrics.txt >lint.out 2>&1; echo $? >lint.rc; } &&
	cat lint.out &&
	# 0: clean, 3: lint problems only, 1: a parse error.
	case $(cat lint.rc) in 0|3) ;; *) false ;; esac &&
	{ emqx_lints <lint.out >lint.other || :; } &&
	test ! -s lint.other
'

test_expect_success 'every table metric and stat, cluster and VM name' '
	table_names >expect.names &&
	test $(lines expect.names) -gt 80 &&
	grep "^emqx_delivery_dropped_" expect.names >delivery &&
	test $(lines delivery) -ge 5 &&
	cat >>expect.names <<-\EOF &&
	emqx_packets_connect counter
	emqx_messages_dropped_expired counter
	emqx_connections_max gauge
	emqx_live_connections_max gauge
	emqx_sessions_max gauge
	emqx_topics_max gauge
	emqx_subscriptions_max gauge
	emqx_suboptions_max gauge
	emqx_subscriptions_shared_max gauge
	emqx_retained_count gauge
	emqx_retained_max gauge
	emqx_messages_received_rate gauge
	emqx_messages_sent_rate gauge
	emqx_node_running gauge
	emqx_cluster_nodes_running gauge
	emqx_cluster_nodes_stopped gauge
	emqx_vm_cpu_use gauge
	emqx_vm_cpu_idle gauge
	emqx_vm_total_memory gauge
	emqx_vm_used_memory gauge
	emqx_vm_memory_total gauge
	emqx_vm_memory_proc_used gauge
	emqx_vm_max_fds gauge
	process_resident_memory_bytes gauge
	process_virtual_memory_bytes gauge
	process_cpu_seconds_total counter
	process_open_fds gauge
	process_max_fds gauge
	EOF
	for n in emqx_connections_count emqx_live_connections_count \
	    emqx_sessions_count emqx_topics_count emqx_subscriptions_count \
	    emqx_suboptions_count emqx_subscriptions_shared_count \
	    emqx_durable_sessions_count emqx_messages_received \
	    emqx_messages_sent emqx_messages_dropped \
	    emqx_messages_qos0_received emqx_messages_qos0_sent \
	    emqx_messages_qos1_received emqx_messages_qos1_sent \
	    emqx_messages_qos2_received emqx_messages_qos2_sent
	do
		test_grep "^$n " expect.names || return 1
	done &&
	while read -r name type
	do
		grep -x "# TYPE $name $type" metrics.txt >/dev/null &&
		grep "^# HELP $name [^ ]" metrics.txt >/dev/null &&
		grep "^$name [0-9]" metrics.txt >/dev/null || {
			echo "missing or wrong: $name ($type)"
			return 1
		}
	done <expect.names
'

test_expect_success 'the two names EMQX exports differently are there too' '
	test "$(metric emqx_packets_connect)" = \
	    "$(metric emqx_packets_connect_received)" &&
	test "$(metric emqx_messages_dropped_expired)" = \
	    "$(metric emqx_messages_dropped_await_pubrel_timeout)"
'

test_expect_success 'single node: running 1, cluster 1 running and 0 stopped' '
	test "$(metric emqx_node_running)" = 1 &&
	test "$(metric emqx_cluster_nodes_running)" = 1 &&
	test "$(metric emqx_cluster_nodes_stopped)" = 0
'

test_expect_success 'three subscribers: connections, sessions, subscriptions, topics' '
	sub pm-s1 2 "pm/a/#" &&
	sub pm-s2 1 "pm/a/#" &&
	sub pm-s3 0 pm/b &&
	wait_for "value_is emqx_connections_count 3" &&
	wait_for "value_is emqx_subscriptions_count 3" &&
	wait_for "value_is emqx_topics_count 2" &&
	scrape &&
	test "$(metric emqx_live_connections_count)" = 3 &&
	test "$(metric emqx_sessions_count)" = 3 &&
	test "$(metric emqx_suboptions_count)" = 3 &&
	test "$(metric emqx_subscriptions_shared_count)" = 0 &&
	test "$(metric emqx_connections_max)" -ge 3 &&
	test "$(metric emqx_live_connections_max)" -ge 3 &&
	test "$(metric emqx_sessions_max)" = 3 &&
	test "$(metric emqx_subscriptions_max)" = 3 &&
	test "$(metric emqx_topics_max)" = 2 &&
	# Routes are everywhere once a probe reaches both pm/a/# subscribers.
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t pm/a/probe -m probe &&
	wait_for "test \$(lines pm-s1.out) = 1 && test \$(lines pm-s2.out) = 1"
'

test_expect_success 'QoS 0, 1 and 2 publishes move the message counters exactly' '
	scrape before.txt &&
	printf "m%s\n" 1 2 3 4 5 | mosquitto_pub -h 127.0.0.1 \
	    -p $FLOCKMQ_PORT -t pm/a/x -q 0 -l &&
	printf "m%s\n" 1 2 3 4 | mosquitto_pub -h 127.0.0.1 \
	    -p $FLOCKMQ_PORT -t pm/a/x -q 1 -l &&
	printf "m%s\n" 1 2 3 | mosquitto_pub -h 127.0.0.1 \
	    -p $FLOCKMQ_PORT -t pm/a/x -q 2 -l &&
	wait_for "test \$(lines pm-s1.out) = 13 && test \$(lines pm-s2.out) = 13" &&
	wait_for "value_is emqx_connections_count 3" &&
	scrape after.txt &&
	# pm-s1 (QoS 2) gets each at its QoS; pm-s2 (QoS 1) gets QoS 2 as 1.
	cat >expect.deltas <<-\EOF &&
	emqx_messages_received 12
	emqx_messages_qos0_received 5
	emqx_messages_qos1_received 4
	emqx_messages_qos2_received 3
	emqx_messages_sent 24
	emqx_messages_qos0_sent 10
	emqx_messages_qos1_sent 11
	emqx_messages_qos2_sent 3
	emqx_packets_publish_received 12
	emqx_packets_publish_sent 24
	emqx_client_connected 3
	emqx_delivery_dropped 0
	EOF
	check_deltas before.txt after.txt expect.deltas
'

test_expect_success 'retained count and its high-water mark' '
	# The node keeps its own $SYS facts (version, sysdescr) retained.
	base=$(value emqx_retained_count) &&
	test "$base" -ge 0 &&
	test "$(metric emqx_retained_max now.txt)" = "$base" &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t pm/r/1 -m one -r &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t pm/r/2 -m two -r &&
	wait_for "value_is emqx_retained_count $((base + 2))" &&
	test "$(metric emqx_retained_max now.txt)" = $((base + 2)) &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t pm/r/1 -n -r &&
	wait_for "value_is emqx_retained_count $((base + 1))" &&
	test "$(metric emqx_retained_max now.txt)" = $((base + 2))
'

test_expect_success 'emqx_messages_received_rate follows a steady publisher' '
	# The messages of the tests above leave the window first.
	wait_for "value_cmp emqx_messages_received_rate \"<\" 0.5" 10 &&
	# 50 messages a second for 7 seconds, from paho.
	cat >rate.py <<-\EOF &&
	import sys, time
	import paho.mqtt.client as mqtt
	c = mqtt.Client("pm-rate")
	c.connect("127.0.0.1", int(sys.argv[1]))
	c.loop_start()
	start = time.monotonic()
	n = 0
	while time.monotonic() < start + 7:
	    n += 1
	    c.publish("pm/rate", "x", qos=0)
	    time.sleep(max(0, start + n / 50.0 - time.monotonic()))
	c.disconnect()
	c.loop_stop()
	print(n)
	EOF
	test_spawn "$PYTHON" rate.py "$FLOCKMQ_PORT" >rate.out 2>&1 &&
	rate_pid=$! &&
	wait_for "value_cmp emqx_messages_received_rate \">=\" 30" 8 &&
	cat cmp.txt &&
	value_cmp emqx_messages_received_rate "<=" 70 &&
	wait_for "! test_pid_alive $rate_pid" 15 &&
	cat rate.out &&
	wait_for "value_cmp emqx_messages_received_rate \"<\" 0.5" 10
'

test_expect_success 'process RSS, system memory, fd limit and CPU from /proc' '
	scrape &&
	rss=$(metric emqx_vm_memory_proc_used) &&
	pid=$(broker_pid) &&
	vmrss=$(sed -n "s/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p" \
	    /proc/$pid/status) &&
	echo "exposition $rss, VmRSS $vmrss kB" &&
	test "$rss" -gt 1048576 &&
	# Within 25% or 4 MB of VmRSS read a moment later.
	awk -v a="$rss" -v b="$((vmrss * 1024))" "BEGIN {
		d = a - b; if (d < 0) d = -d
		exit !(d <= b / 4 || d <= 4194304) }" &&
	memtotal=$(sed -n "s/^MemTotal:[[:space:]]*\([0-9]*\) kB/\1/p" \
	    /proc/meminfo) &&
	test "$(metric emqx_vm_total_memory)" = $((memtotal * 1024)) &&
	test "$(metric emqx_vm_memory_total)" = $((memtotal * 1024)) &&
	used=$(metric emqx_vm_used_memory) &&
	test "$used" -gt "$rss" &&
	test "$used" -lt $((memtotal * 1024)) &&
	test "$(metric process_resident_memory_bytes)" -gt 0 &&
	nofile=$(awk "/^Max open files/ { print \$4 }" /proc/$pid/limits) &&
	max_fds=$(metric emqx_vm_max_fds) &&
	echo "emqx_vm_max_fds $max_fds, Max open files $nofile" &&
	test "$(metric process_max_fds)" = "$max_fds" &&
	# valgrind keeps a few descriptors for itself and says so.
	test "$max_fds" -le "$nofile" &&
	test "$max_fds" -gt $((nofile - 32)) &&
	awk "/^emqx_vm_cpu_(use|idle) / {
		s += \$2; if (\$2 < 0 || \$2 > 100) exit 1 }
	     END { exit !(s > 99.9 && s < 100.1) }" metrics.txt
'

test_expect_success 'subscribers gone: counts fall to 0, maxima stay' '
	for pid in $SUB_PIDS
	do
		kill "$pid" || return 1
	done &&
	wait_for "value_is emqx_connections_count 0" &&
	wait_for "value_is emqx_topics_count 0" &&
	scrape &&
	test "$(metric emqx_live_connections_count)" = 0 &&
	test "$(metric emqx_sessions_count)" = 0 &&
	test "$(metric emqx_subscriptions_count)" = 0 &&
	# The publishers connected for less than the sampling second.
	test "$(metric emqx_connections_max)" -ge 3 &&
	test "$(metric emqx_live_connections_max)" -ge 3 &&
	test "$(metric emqx_sessions_max)" -ge 3 &&
	test "$(metric emqx_subscriptions_max)" = 3 &&
	test "$(metric emqx_topics_max)" = 2
'

test_skip_if 'prometheus is not installed' '! test -x /usr/bin/prometheus'
test_expect_success 'a Prometheus server scrapes the broker every second' '
	cat >prometheus.yml <<-EOF &&
	global:
	  scrape_interval: 1s
	  scrape_timeout: 1s
	scrape_configs:
	  - job_name: flockmq
	    metrics_path: /api/v5/prometheus/stats
	    static_configs:
	      - targets: ["127.0.0.1:$FLOCKMQ_PORT2"]
	EOF
	test_spawn /usr/bin/prometheus --config.file=prometheus.yml \
	    --storage.tsdb.path="$TRASH_DIRECTORY/prometheus-data" \
	    --web.listen-address="127.0.0.1:$FLOCKMQ_PORT3" \
	    >prometheus.log 2>&1 &&
	PROM_PID=$! &&
	test_atexit "kill $PROM_PID 2>/dev/null || :" &&
	wait_for "test \"\$(promq up)\" = 1" 30 &&
	wait_for "test \"\$(promq emqx_node_running)\" = 1" 10 &&
	test "$(promq emqx_cluster_nodes_running)" = 1
'

test_skip_if 'prometheus is not installed' '! test -x /usr/bin/prometheus'
test_expect_success 'Prometheus sees the connected clients and the counters' '
	SUB_PIDS= &&
	sub pm-p1 1 pm/p/1 &&
	sub pm-p2 1 pm/p/2 &&
	wait_for "value_is emqx_connections_count 2" &&
	wait_for "test \"\$(promq emqx_connections_count)\" = 2" 15 &&
	test "$(promq emqx_subscriptions_count)" = 2 &&
	scrape &&
	test "$(promq emqx_messages_received)" = \
	    "$(metric emqx_messages_received)" &&
	test "$(promq emqx_retained_count)" = "$(metric emqx_retained_count)"
'

test_skip_if 'prometheus is not installed' '! test -x /usr/bin/prometheus'
test_expect_success 'stop Prometheus and the clients' '
	kill "$PROM_PID" &&
	wait_for "! test_pid_alive $PROM_PID" 10 &&
	for pid in $SUB_PIDS
	do
		kill "$pid" || return 1
	done &&
	wait_for "value_is emqx_connections_count 0"
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
