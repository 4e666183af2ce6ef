#!/bin/sh

test_description='C unit tests

Runs each unit test binary built from t/unit/*.c (every file there that
defines main()) as one test; its TAP output follows as comments.'

. "$(dirname "$0")"/test-lib.sh

units=$(cd "$FLOCKMQ_SRC/t/unit" 2>/dev/null &&
	grep -l '^main(\|^int main(' -- *.c 2>/dev/null | sed 's/\.c$//')
test -n "$units" || test_skip_all 'no unit tests in t/unit'

for unit in $units
do
	test_expect_success "unit test $unit" '
		bin=$FLOCKMQ_BUILD/t/unit/$unit &&
		if ! test -x "$bin"
		then
			echo "$bin is not built: run make check-programs" &&
			false
		fi &&
		$TEST_VALGRIND "$bin" >$unit.tap 2>&1 &&
		test_grep "^1\.\.[1-9]" $unit.tap &&
		test_grep ! "^not ok" $unit.tap
	'
	test ! -f $unit.tap || sed 's/^/# /' $unit.tap
done

test_done
