#!/bin/sh

test_description='fuzz corpora replay

Feeds every file of fuzz/corpus/<target>/ to fuzz/<target>_replay, which
links the target with fuzz/replay.c; a crash or sanitizer report fails.'

. "$(dirname "$0")"/test-lib.sh

for target in config ds_record http mqtt_decode retain_record topic wire
do
	test_expect_success "replay fuzz/corpus/$target" '
		bin=$FLOCKMQ_BUILD/fuzz/${target}_replay &&
		corpus=$FLOCKMQ_SRC/fuzz/corpus/$target &&
		if ! test -x "$bin"
		then
			echo "$bin is not built: run make check-programs" &&
			false
		fi &&
		test -d "$corpus" &&
		$TEST_VALGRIND "$bin" "$corpus" >$target.tap 2>&1 &&
		test_grep "^1\.\.[1-9]" $target.tap &&
		test_grep ! "^not ok" $target.tap
	'
	test ! -f $target.tap || tail -n 3 $target.tap | sed 's/^/# /'
done

test_done
