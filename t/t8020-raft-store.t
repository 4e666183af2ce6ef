#!/bin/sh

test_description='Raft storage and driver: the API, crashes at every point of the storage path, damage

t/helper/raft-tool runs three replicas of four Raft groups in one process
(the in-process transport; one LevelDB directory, storage thread and fsync
per replica).  It is built with the failpoints: FLOCKMQ_TEST_FAILPOINT=
NAME:N kills it with SIGKILL at the Nth pass of NAME.  A load prints
every proposal its leader acknowledged (committed and applied); after a
kill the replicas start again from their directories, take more load, and
raft-tool check verifies that every acknowledged proposal is applied on
every replica, that no entry was applied twice (each state machine counts
what it applies in the batch of its applied index), and that the replicas
applied the same entries at the same indexes.  With -l the third replica
is cut off for the first half of the load, so it catches up through
snapshots (the log is compacted every 64 entries) and the install path is
crashed too; with -c a random replica is cut off for 1.2 s every 1.6 s,
so leaders change and proposals are lost (and proposed again); with -K
one replica at a time is crashed in the process (raftdrv_crash: what its
storage thread has not written is lost) and started again.'

. "$(dirname "$0")"/test-lib.sh

tool=$FLOCKMQ_BUILD/t/helper/raft-tool
test -x "$tool" || test_skip_all 'raft-tool is not built: run make check-programs'

test_expect_success 'the driver API over three and four replicas' '
	$TEST_VALGRIND "$tool" api api >api.tap 2>api.err &&
	test_grep "^1\.\.[1-9]" api.tap &&
	test_grep ! "^not ok" api.tap
'
test ! -f api.tap || sed 's/^/# /' api.tap

test_expect_success 'a load without faults is applied alike on every replica' '
	"$tool" load plain -g 4 -n 300 -l >acked 2>load.err &&
	test $(wc -l <acked) -eq 1200 &&
	test_grep "n3 held [1-9][0-9]* messages for their write, installed [1-9]" load.err &&
	"$tool" check plain -g 4 acked >check.out 2>check.err &&
	test_grep "group 3: 300 entries applied alike on 3 replicas, 300 acknowledged all there" check.out
'

test_expect_success 'the check has teeth: a forged acknowledgement, an entry counted twice' '
	cp -R plain teeth &&
	cp acked teeth.acked &&
	echo "2 987654321" >>teeth.acked &&
	test_must_fail "$tool" check teeth -g 4 teeth.acked >teeth.out 2>teeth.err &&
	test_grep "group 2: id 987654321 was acknowledged and is not applied" teeth.err &&
	"$tool" bump teeth 3 1 &&
	test_must_fail "$tool" check teeth -g 4 acked >teeth.out 2>teeth.err &&
	test_grep "n3 group 1: 301 entries counted as applied, 300 recorded" teeth.err
'

# slow_kill DIR [ENV...]: a load led by n1 with a slow disk on n2 and n3
# (30 ms before each write), killed on the loop after an apply once 300 are
# acknowledged; then the check starts n2 and n3 first, so that they elect
# the leaders: they must hold what they acknowledged.
slow_kill () {
	slow_dir=$1 &&
	shift &&
	: >"$slow_dir.acked" &&
	{
		env FLOCKMQ_TEST_RAFTDRV_SLOW=n2,n3:30 "$@" "$tool" load \
		    "$slow_dir" -g 4 -n 400 -L -k raftdrv-after-apply:5 -a 300 \
		    >>"$slow_dir.acked" 2>"$slow_dir.err1"
		test $? -eq 137
	} &&
	test_grep "failpoint: .raftdrv-after-apply. hit" "$slow_dir.err1"
}

test_expect_success 'a slow disk on two replicas: they still acknowledge only what they wrote' '
	slow_kill slow &&
	"$tool" check slow -g 4 -f 23 slow.acked >slow.check 2>slow.check.err &&
	cat slow.check
'

test_expect_success 'the crash check has teeth: replies sent before their fsync lose acknowledged entries' '
	slow_kill sendearly FLOCKMQ_TEST_RAFTDRV_BUG=send-before-fsync &&
	test_must_fail "$tool" check sendearly -g 4 -f 23 sendearly.acked >sendearly.check 2>sendearly.check.err &&
	test_grep "applied different entries\|acknowledged and is not applied" sendearly.check.err
'

# crash_at POINT:N DIR [ENV]: a load killed at the Nth pass of POINT once
# 300 proposals are acknowledged (with ENV: from the start, through
# FLOCKMQ_TEST_FAILPOINT), a load after the restart, then the check.
crash_at () {
	: >"$2.acked" &&
	{
		if test -n "$3"
		then
			FLOCKMQ_TEST_FAILPOINT=$1 "$tool" load "$2" -g 4 \
			    -n 400 -l >>"$2.acked" 2>"$2.err1"
		else
			"$tool" load "$2" -g 4 -n 400 -l -k "$1" -a 300 \
			    >>"$2.acked" 2>"$2.err1"
		fi
		crash_rc=$?
	} &&
	if test $crash_rc -ne 137
	then
		echo "exit status $crash_rc, not SIGKILL; stderr:" &&
		cat "$2.err1" &&
		return 1
	fi &&
	test_grep "failpoint: .${1%:*}. hit" "$2.err1" &&
	test_diag "$1: $(wc -l <"$2.acked") of 1600 proposals acknowledged before the kill" &&
	"$tool" load "$2" -g 4 -n 50 >>"$2.acked" 2>"$2.err2" &&
	"$tool" check "$2" -g 4 "$2.acked" >"$2.check" 2>"$2.check.err" &&
	cat "$2.check"
}

test_expect_success 'killed at the third write (elections): FLOCKMQ_TEST_FAILPOINT' '
	crash_at raftlog-after-write:3 early env &&
	test_grep "group 0: 50 entries applied alike on 3 replicas, 50 acknowledged" early.check
'

for fp in raftlog-before-write:5 raftlog-after-write:5 \
    raftdrv-after-apply:20 raftdrv-compact:3 \
    raftlog-snap-before-install:1 raftlog-snap-after-install:1
do
	test_expect_success "killed at ${fp%:*}: nothing acknowledged is lost or applied twice" '
		crash_at $fp "${fp%:*}"
	'
done

test_expect_success 'replicas cut off at random: what is answered lost is not applied' '
	"$tool" load chaos -g 4 -n 20000 -c >chaos.acked 2>chaos.err &&
	test_diag "$(grep "proposals lost" chaos.err)" &&
	"$tool" check chaos -g 4 chaos.acked >chaos.check 2>chaos.check.err &&
	cat chaos.check &&
	for g in 0 1 2 3
	do
		test_grep "group $g: 20000 entries applied alike on 3 replicas, 20000 acknowledged all there" chaos.check || return 1
	done
'

test_expect_success 'replicas cut off at random, then killed after a write' '
	: >chaoskill.acked &&
	{
		"$tool" load chaoskill -g 4 -n 20000 -c \
		    -k raftlog-after-write:10 -a 5000 >>chaoskill.acked \
		    2>chaoskill.err
		test $? -eq 137
	} &&
	test_grep "failpoint: .raftlog-after-write. hit" chaoskill.err &&
	"$tool" load chaoskill -g 4 -n 100 >>chaoskill.acked 2>/dev/null &&
	"$tool" check chaoskill -g 4 chaoskill.acked >chaoskill.check 2>chaoskill.check.err &&
	cat chaoskill.check
'

test_expect_success 'one replica at a time crashed (its unwritten writes lost) and started again under load' '
	"$tool" load kills -g 4 -n 50000 -K >kills.acked 2>kills.err &&
	test_grep "raft-tool: [1-9][0-9]* replicas crashed and started again" kills.err &&
	test_diag "$(grep crashed kills.err)" &&
	"$tool" load kills -g 4 -n 100 >>kills.acked 2>/dev/null &&
	"$tool" check kills -g 4 kills.acked >kills.check 2>kills.check.err &&
	cat kills.check
'

test_expect_success 'a disk error on one replica: it stops, the others carry on, then all agree' '
	"$tool" load diskerr -g 4 -n 400 -k raftlog-write-error:5 -a 300 \
	    >diskerr.acked 2>diskerr.err &&
	test $(wc -l <diskerr.acked) -eq 1600 &&
	test_grep "raftdrv: raftlog: cannot write to .diskerr/n[123].: IO error: injected by a failpoint; every group of node .n[123]. stops voting and acknowledging until it is restarted" diskerr.err &&
	"$tool" load diskerr -g 4 -n 50 >>diskerr.acked 2>/dev/null &&
	"$tool" check diskerr -g 4 diskerr.acked >diskerr.check 2>diskerr.check.err &&
	cat diskerr.check
'

test_expect_success 'kill -9 from outside under load, several times' '
	: >ext.acked &&
	for i in 1 2 3
	do
		test_spawn "$tool" load ext -g 4 -n 100000 -l >>ext.acked 2>ext.err &&
		pid=$! &&
		n=$(($(wc -l <ext.acked) + 200 * i)) &&
		wait_for "test \$(wc -l <ext.acked) -ge $n" 20 &&
		kill -9 $pid &&
		wait_for "! test_pid_alive $pid" 10 || return 1
	done &&
	"$tool" check ext -g 4 ext.acked >ext.check 2>ext.check.err &&
	cat ext.check
'

test_expect_success 'a damaged log entry is refused with a line naming it; the others carry on' '
	idx=$("$tool" corrupt plain 2 1) &&
	"$tool" check plain -g 4 acked >damaged.out 2>damaged.err &&
	test_grep "n2: raftlog: group 1: log entry $idx is damaged (CRC mismatch); the replica is not started" damaged.err &&
	test_grep "group 1: 300 entries applied alike on 2 replicas, 300 acknowledged" damaged.out &&
	test_grep "group 2: 300 entries applied alike on 3 replicas" damaged.out
'

test_done
