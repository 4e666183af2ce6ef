#!/bin/sh

test_description='durable sessions on a full disk

The store (node.data_dir) is on a 6 MB tmpfs with a 4 MB filler file in
it.  A QoS 1 PUBLISH that matches a durable subscription is acknowledged
only once it is stored: when the disk fills, the broker logs "cannot
write to the store: ... No space left on device", an MQTT 5 publisher
gets DISCONNECT 0x97 (quota exceeded) instead of its PUBACK and a 3.1.1
publisher is disconnected without one, while traffic that needs no
storage (QoS 0 and QoS 1 between non-durable clients, retained messages
already stored) goes on and the broker keeps running.  While the disk
stays full, opening the store again fails (logged).  Once the filler is
deleted the store is opened again (at most every
durable_sessions.idle_poll_interval, 1s here) and publishes are
acknowledged again; the durable subscriber gets every message that was
acknowledged (and maybe some that were refused: at least once), and a
restart finds the session, its queue and the retained messages stored
before the disk filled.  A second round frees the space right after the
failed write, before the store is opened again: the store must still
open after a restart, with every acknowledged message.  Needs root (or
CAP_SYS_ADMIN) to mount the tmpfs: skipped otherwise.  The script runs in
a mount namespace of its own (unshare -m) when it can, so that the tmpfs
goes away with it however it ends; it also unmounts it at exit.
t/helper/diskfull.py is the client.'

# Mount the tmpfs in a private mount namespace when we can (same pids,
# same files; only the mount is ours).  First unmount what a run killed
# outside one left: test-lib.sh could not remove its trash directory.
if test "$T6030_UNSHARED" != "$$"; then
	awk '$1 == "flockmq-t6030" && $3 == "tmpfs" &&
	    $2 ~ /\/trash\.t6030-disk-full\/disk$/ { print $2 }' \
	    /proc/self/mounts 2>/dev/null |
	while read -r t6030_m_
	do
		umount "$t6030_m_" 2>/dev/null || umount -l "$t6030_m_"
	done
	if unshare -m true 2>/dev/null; then
		# exec keeps the pid: the marker is ours, not inherited.
		T6030_UNSHARED=$$
		export T6030_UNSHARED
		exec unshare -m -- sh "$0" "$@"
	fi
fi
t6030_private_=
test "$T6030_UNSHARED" != "$$" || t6030_private_=t
unset T6030_UNSHARED

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

DISK=$TRASH_DIRECTORY/disk
BROKER_DATA=$DISK/data
STORE=$BROKER_DATA/store

# disk_mounted: the tmpfs is mounted on $DISK.
disk_mounted () {
	awk -v d="$DISK" '$2 == d { found = 1 } END { exit !found }' \
	    /proc/self/mounts
}

# disk_umount: unmount it if it is mounted (lazily if it is busy), keeping
# a copy of node.data_dir in $TRASH_DIRECTORY/data.saved (-i and -d keep
# the trash directory, not the tmpfs).
disk_umount () {
	disk_mounted || return 0
	if test -d "$BROKER_DATA"; then
		rm -rf "$TRASH_DIRECTORY/data.saved" &&
		cp -R "$BROKER_DATA" "$TRASH_DIRECTORY/data.saved"
	fi
	umount "$DISK" || umount -l "$DISK"
}

mkdir "$DISK" || error "cannot create $DISK"
if ! mount -t tmpfs -o size=6m,mode=0755 flockmq-t6030 "$DISK" \
    2>mount.err; then
	test_skip_all "cannot mount a tmpfs (needs root or CAP_SYS_ADMIN):" \
	    "$(cat mount.err)"
fi
# At exit, after the broker stopped (its handler runs first).
test_atexit 'disk_umount'
test_diag "a 6 MB tmpfs on $DISK${t6030_private_:+ (private mount namespace)}"

# client COMMAND ...: t/helper/diskfull.py against this broker.
client () {
	PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" "$TEST_DIRECTORY/helper/diskfull.py" \
	    -p "$FLOCKMQ_PORT" -s "$FLOCKMQ_TEST_TIMEOUT_SCALE" "$@"
}

# retained pub|get ...: t/helper/retained.py against this broker.
retained () {
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" "$TEST_DIRECTORY/helper/retained.py" "$@"
}

# broker_alive: the broker still runs.
broker_alive () {
	test_pid_alive "$BROKER_PID" || {
		echo "the broker is gone; the end of its log:"
		tail -n 30 "$BROKER_LOG" | sed "s/^/| /"
		return 1
	}
}

# every_line_in EXPECT FILE: every line of EXPECT is a line of FILE.
every_line_in () {
	grep -v -x -F -f "$2" "$1" >"$2.missing"
	test ! -s "$2.missing" || {
		echo "lines of $1 missing from $2:"
		cat "$2.missing"
		return 1
	}
}

test_expect_success 'start the broker with node.data_dir on the tmpfs' '
	broker_config <<-\EOF &&
	durable_sessions.idle_poll_interval: 1s
	EOF
	start_broker &&
	test -d "$STORE"
'

test_expect_success 'before the disk fills: retained messages, a durable subscriber' '
	retained pub -q 1 keep/1 one keep/2 two keep/3 three &&
	retained get "keep/#" >retained.before &&
	test "$(wc -l <retained.before)" = 3 &&
	client sub dsub "df/#" >out &&
	printf "CONNACK sp=0 rc=0x00\nSUBACK 0x01\n" >expect &&
	test_cmp expect out
'

test_expect_success 'the disk fills: an MQTT 5 publisher gets DISCONNECT 0x97, not the PUBACK' '
	dd if=/dev/zero of="$DISK/filler" bs=1024 count=4096 2>dd.err &&
	: >acked &&
	client fill df/x a --max 400 --acked acked >fill.out &&
	cat fill.out &&
	test_grep -x "DISCONNECT rc=0x97" fill.out &&
	test "$(wc -l <acked)" -ge 10 &&
	sed -n "s/^inflight //p" fill.out >refused &&
	test -s refused &&
	broker_alive
'

test_expect_success 'the broker logs the write that failed' '
	test_grep "cannot write to the store.*No space left on device" \
	    "$BROKER_LOG"
'

test_expect_success 'while the disk is full, a stored publish is still refused (MQTT 5)' '
	test_must_fail client pub df/x full 1 1 >out 2>err &&
	test_grep "full-1: DISCONNECT rc=0x97" err &&
	echo full-1 >>refused &&
	broker_alive
'

test_expect_success 'while the disk is full, a 3.1.1 publisher gets no PUBACK and is disconnected' '
	client v311 df/x v311-1 >out &&
	echo v311-1 >>refused &&
	printf "no PUBACK\ndisconnected\n" >expect &&
	test_cmp expect out &&
	broker_alive
'

test_expect_success 'while the disk is full, QoS 0 between non-durable clients works' '
	client plain plain/q0 20 >out &&
	echo "received 20" >expect &&
	test_cmp expect out &&
	broker_alive
'

test_expect_success 'while the disk is full, QoS 1 that no durable session wants is acknowledged' '
	client plain -q 1 plain/q1 10 >out &&
	printf "puback 10\nreceived 10\n" >expect &&
	test_cmp expect out &&
	broker_alive
'

test_expect_success 'while the disk is full, retained messages are still served' '
	retained get "keep/#" >actual &&
	test_cmp retained.before actual &&
	disk_mounted &&
	test_path_is_file "$DISK/filler" &&
	broker_alive
'

test_expect_success 'the disk stays full past idle_poll_interval: the store cannot be opened again' '
	wait_for "client pub df/x full 2 2 >/dev/null 2>&1;
	    grep -q \"cannot open .* again\" \"\$BROKER_LOG\"" 10 &&
	echo full-2 >>refused &&
	test_grep "cannot open .* again: .*No space left on device" \
	    "$BROKER_LOG" &&
	test_path_is_file "$DISK/filler" &&
	broker_alive
'

test_expect_success 'space comes back: publishes are acknowledged again' '
	rm "$DISK/filler" &&
	client pub df/x b 1 10 --retry 5 --acked acked >pub.out 2>pub.err || {
		cat pub.out pub.err
		false
	} &&
	cat pub.out &&
	test_grep -x "acked 10" pub.out &&
	test_diag "$(grep "first ack after" pub.out)" &&
	test_grep "the store takes writes again" "$BROKER_LOG" &&
	broker_alive
'

test_expect_success 'the durable subscriber gets every acknowledged message' '
	client get dsub --out got >out &&
	test_grep -x "CONNACK sp=1 rc=0x00" out &&
	every_line_in acked got &&
	cat acked refused >allowed &&
	lines_of allowed got &&
	test_diag "$(wc -l <acked) acknowledged, $(wc -l <got) delivered" \
	    "($(sort -u got | wc -l) distinct)" &&
	broker_alive
'

test_expect_success 'a restart finds the durable session and the store intact' '
	: >acked.c &&
	client pub df/x c 1 5 --acked acked.c >out &&
	test_grep -x "acked 5" out &&
	restart_broker &&
	client get dsub --out got.c >out &&
	test_grep -x "CONNACK sp=1 rc=0x00" out &&
	test_cmp acked.c got.c &&
	retained get "keep/#" >actual &&
	test_cmp retained.before actual
'

# Second round: the space comes back within idle_poll_interval of the
# failed write, before any attempt to open the store again; the broker
# must not go on writing to the log whose last write failed half-way.

test_expect_success 'second round: the disk fills again, DISCONNECT 0x97' '
	free=$(df -Pk "$DISK" | awk "NR == 2 { print \$4 }") &&
	test_diag "$free KB free on the tmpfs after the restart" &&
	test "$free" -gt 1500 &&
	dd if=/dev/zero of="$DISK/filler" bs=1024 count=$((free - 1024)) \
	    2>dd.err &&
	: >acked2 &&
	client fill df/x d --max 400 --acked acked2 >fill2.out &&
	cat fill2.out &&
	test_grep -x "DISCONNECT rc=0x97" fill2.out &&
	test "$(wc -l <acked2)" -ge 10 &&
	sed -n "s/^inflight //p" fill2.out >refused2 &&
	test -s refused2 &&
	broker_alive
'

test_expect_success 'second round: space comes back at once, publishes are acknowledged' '
	rm "$DISK/filler" &&
	client pub df/x e 1 5 --retry 5 --acked acked2 >pub2.out 2>pub2.err || {
		cat pub2.out pub2.err
		false
	} &&
	cat pub2.out &&
	test_grep -x "acked 5" pub2.out &&
	broker_alive
'

test_expect_success 'second round: the broker restarts on an undamaged store' '
	restart_broker
'

test_expect_success 'second round: after the restart, every acknowledged message is delivered' '
	test -n "$BROKER_PID" &&
	client get dsub --out got2 >out &&
	test_grep -x "CONNACK sp=1 rc=0x00" out &&
	every_line_in acked2 got2 &&
	cat acked2 refused2 >allowed2 &&
	lines_of allowed2 got2 &&
	retained get "keep/#" >actual &&
	test_cmp retained.before actual
'

test_expect_success 'stop the broker and unmount the tmpfs' '
	{ test -z "$BROKER_PID" || stop_broker; } &&
	disk_umount &&
	! disk_mounted
'

test_done
