#!/bin/sh

test_description='Raft simulator: seeds of 3 and 5 nodes, determinism, bugs

Runs t/helper/raftsim, the deterministic simulator of the Raft core (see
docs/raft.md): thousands of seeds of 3 and 5 replicas under simulated
network, disk, crash and clock faults must break no invariant; a seed must
replay bit for bit; and every bug the core can switch on (--list-bugs)
must be found within a budget of seeds, with all checks and, for the bugs
that show end to end, with the safety checks alone.'

. "$(dirname "$0")"/test-lib.sh

RAFTSIM=$FLOCKMQ_BUILD/t/helper/raftsim
test -x "$RAFTSIM" ||
	test_skip_all 'raftsim is not built: run make check-programs'

# Seeds per run: enough to cover the fault mix, well under a minute here.
SEEDS3=${FLOCKMQ_RAFTSIM_SEEDS3:-2000}
SEEDS5=${FLOCKMQ_RAFTSIM_SEEDS5:-1000}

test_expect_success "$SEEDS3 seeds of 3 nodes break no invariant" '
	"$RAFTSIM" --seeds $SEEDS3 --nodes 3 -v >out3 &&
	cat out3 &&
	test_grep "^$SEEDS3 seeds from 1 (nodes 3): no invariant broken;" \
	    out3 &&
	test_grep "seeds/s" out3
'

test_expect_success "$SEEDS5 seeds of 5 nodes break no invariant" '
	"$RAFTSIM" --seeds $SEEDS5 --first 100001 --nodes 5 -v >out5 &&
	cat out5 &&
	test_grep "^$SEEDS5 seeds from 100001 (nodes 5): no invariant" out5
'

test_expect_success 'the runs reached crashes, snapshots and torn records' '
	n="\([0-9]*\)" &&
	re="crashes $n, snapshots installed $n, torn records $n" &&
	re="$re, proposals acknowledged $n" &&
	for f in out3 out5
	do
		sed -n "s/.*$re/\1 \2 \3 \4/p" $f >counts &&
		read crashes installs torn acked <counts &&
		test "$crashes" -gt 1000 &&
		test "$installs" -gt 200 &&
		test "$torn" -gt 100 &&
		test "$acked" -gt 10000 || return 1
	done
'

test_expect_success 'a seed replays bit for bit; other seeds differ' '
	"$RAFTSIM" --seed 7 -v >a &&
	"$RAFTSIM" --seed 7 -v >b &&
	"$RAFTSIM" --seed 8 -v >c &&
	"$RAFTSIM" --seed 7 --nodes 5 -v >d &&
	grep "^seed 7 trace hash" a >ha &&
	grep "^seed 7 trace hash" b >hb &&
	test_cmp ha hb &&
	grep "^seed 8 trace hash" c | sed "s/^seed 8/seed 7/" >hc &&
	! cmp -s ha hc &&
	grep "^seed 7 trace hash" d >hd &&
	! cmp -s ha hd
'

test_expect_success 'a seed runs the same alone and among others' '
	"$RAFTSIM" --seeds 5 --first 5 -v >batch &&
	grep "^seed 7 trace hash" batch >hbatch &&
	test_cmp ha hbatch
'

test_expect_success '--trace prints the whole run, the same each time' '
	"$RAFTSIM" --seed 7 --trace | grep -v seeds/s >t1 &&
	"$RAFTSIM" --seed 7 --trace | grep -v seeds/s >t2 &&
	test_cmp t1 t2 &&
	test $(wc -l <t1) -gt 100 &&
	test_grep " role leader term " t1 &&
	test_grep " durable: persisted " t1
'

test_expect_success '--time and --steps bound a seed' '
	"$RAFTSIM" --seeds 20 --time 500 -v >short &&
	test_grep "^20 seeds from 1 (nodes 3): no invariant broken" short &&
	test_expect_code 1 "$RAFTSIM" --seed 1 --steps 100 >budget &&
	test_grep "invariant .step-budget. broken" budget
'

test_expect_success '--list-bugs names the bugs of the core' '
	"$RAFTSIM" --list-bugs >bugs &&
	cat bugs &&
	test $(wc -l <bugs) -ge 10 &&
	test_grep "^commit-old-term$" bugs &&
	test_grep "^ack-before-fsync$" bugs &&
	test_must_fail "$RAFTSIM" --bug no-such-bug --seeds 1 2>err &&
	test_grep "unknown bug" err
'

test_expect_success 'a violation prints the seed, the invariant, a trace' '
	test_expect_code 1 "$RAFTSIM" --bug ack-before-fsync --seeds 50 >v &&
	cat v &&
	test_grep "^seed [0-9]* (nodes 3): invariant .* broken at" v &&
	test_grep "^last [0-9]* events:" v &&
	test_grep "^replay: raftsim --seed [0-9]* --nodes 3 --bug ack-" v &&
	test_grep "^bug ack-before-fsync found after [0-9]* seeds" v &&
	seed=$(sed -n "s/^seed \([0-9]*\) (nodes.*/\1/p" v) &&
	inv=$(sed -n "s/^seed .*invariant .\([a-z-]*\). broken.*/\1/p" v) &&
	test_expect_code 1 "$RAFTSIM" --seed $seed --bug ack-before-fsync \
	    --trace >replay &&
	test_grep "invariant .$inv. broken" replay
'

# Every bug, with every check: found within BUDGET seeds of 3 nodes.
BUDGET=300
for bug in $("$RAFTSIM" --list-bugs)
do
	test_expect_success "bug $bug is found within $BUDGET seeds" '
		test_expect_code 1 "$RAFTSIM" --bug $bug --seeds $BUDGET \
		    >bug-$bug &&
		test_grep "^bug $bug found after [0-9]* seeds" bug-$bug
	'
	test ! -f bug-$bug || grep "^bug " bug-$bug | sed 's/^/# /'
done

# The bugs that show end to end, with the safety checks alone (no rule of
# durability checked on the wire): name, nodes and budget (a few times the
# seeds it took when this was written, see docs/raft.md).
# campaign-while-persisting shows end to end only rarely (at 5 nodes): the
# FIFO of writes makes its vote requests wait for the entries they claim.
while read bug nodes budget
do
	test_expect_success "bug $bug is found by the safety checks alone" '
		test_expect_code 1 "$RAFTSIM" --bug $bug --seeds $budget \
		    --nodes $nodes --safety-only >safe-$bug &&
		test_grep "^bug $bug found after [0-9]* seeds" safe-$bug
	'
	test ! -f safe-$bug || grep "^bug " safe-$bug | sed 's/^/# /'
done <<EOF
commit-old-term 5 1500
leader-self-unpersisted 3 500
follower-commit-unpersisted 3 100
vote-before-persist 3 500
vote-no-uptodate 3 50
truncate-stale-append 3 50
ack-before-fsync 3 200
disk-error-ignored 3 100
snap-install-early 3 300
EOF

test_done
