#!/bin/sh

test_description='the test library itself

Runs small scripts that use t/test-lib.sh and checks their TAP, exit
status, cleanups, process reaping, wait_for and the port scheme.'

. "$(dirname "$0")"/test-lib.sh

# run_sub_test NAME: run the script on stdin as NAME.t with test-lib.sh,
# in NAME/, leaving its stdout in NAME/out and exit status in NAME/status.
run_sub_test () {
	mkdir -p "$1" &&
	{
		echo "test_description='sub-test $1'"
		echo '. "$FLOCKMQ_SRC/t/test-lib.sh"'
		cat
	} >"$1/$1.t" &&
	(
		cd "$1" &&
		env FLOCKMQ_SRC="$FLOCKMQ_SRC" FLOCKMQ_BUILD="$FLOCKMQ_BUILD" \
		    FLOCKMQ_TEST_OUTPUT="$TRASH_DIRECTORY/$1" \
		    sh "./$1.t" >out 2>err
		echo $? >status
	)
}

test_expect_success 'success is reported as ok' '
	:
'

test_expect_success 'failures, known breakages and skips are reported' '
	run_sub_test mixed <<-\EOF &&
	test_expect_success "passes" "true"
	test_expect_success "fails" "echo visible output && false"
	test_expect_failure "known breakage" "false"
	test_skip_if "no reason" "true"
	test_expect_success "skipped" "false"
	test_done
	EOF
	cat >expect <<-\EOF &&
	ok 1 - passes
	not ok 2 - fails
	not ok 3 - known breakage # TODO known breakage
	ok 4 - skipped # SKIP no reason
	1..4
	EOF
	grep -E "^(ok|not ok|1\.\.)" mixed/out >actual &&
	test_cmp expect actual &&
	test_grep "^# | visible output" mixed/out &&
	echo 1 >expect &&
	test_cmp expect mixed/status &&
	test -d mixed/trash.mixed
'

test_expect_success 'a passing script exits 0 and removes its trash' '
	run_sub_test passing <<-\EOF &&
	test_expect_success "passes" "echo hidden output"
	test_done
	EOF
	echo 0 >expect &&
	test_cmp expect passing/status &&
	test_grep ! "hidden output" passing/out &&
	test_path_is_missing passing/trash.passing
'

test_expect_success 'test_when_finished runs last-registered first' '
	test_when_finished "echo 1 >>order" &&
	test_when_finished "echo 2 >>order" &&
	echo 0 >order
'

test_expect_success '... after the test, which the next test sees' '
	printf "0\n2\n1\n" >expect &&
	test_cmp expect order
'

test_expect_success 'cleanups run when a test fails, and can fail it' '
	run_sub_test cleanup <<-\EOF &&
	test_expect_success "fails" "test_when_finished \"echo ran >../ran\" && false"
	test_expect_success "cleanup fails" "test_when_finished false && true"
	test_done
	EOF
	grep "^ok\|^not ok" cleanup/out >actual &&
	printf "not ok 1 - fails\nnot ok 2 - cleanup fails\n" >expect &&
	test_cmp expect actual &&
	test_path_is_file cleanup/ran
'

test_expect_success 'spawned processes are killed, atexit handlers run' '
	run_sub_test reap <<-\EOF &&
	test_atexit "echo atexit >../atexit"
	test_expect_success "spawn" "test_spawn sleep 300 && echo \$! >../pid"
	test_done
	EOF
	test_path_is_file reap/atexit &&
	pid=$(cat reap/pid) &&
	! test_pid_alive "$pid"
'

test_expect_success 'wait_for returns once the condition holds' '
	test_spawn sh -c "sleep 0.3 && touch flag" &&
	wait_for "test -f flag" 5
'

test_expect_success 'wait_for gives up after its timeout' '
	start=$(date +%s) &&
	test_must_fail wait_for false 1 &&
	end=$(date +%s) &&
	test $((end - start)) -ge 1 &&
	test $((end - start)) -le 3
'

test_expect_success 'FLOCKMQ_* and EMQX_* stay out of the environment' '
	test -n "$FLOCKMQ_SRC" &&
	env >env &&
	test_grep ! -e "^FLOCKMQ_" -e "^EMQX_" env
'

test_expect_success 'ports come from the test number' '
	test "$FLOCKMQ_PORT" = 20000 &&
	test "$FLOCKMQ_PORT6" = 20005 &&
	(test_set_port 7042 && test "$FLOCKMQ_PORT" = 28652) &&
	(test_set_port 9199 && test "$FLOCKMQ_PORT6" = 31999) &&
	test_must_fail env FLOCKMQ_SRC="$FLOCKMQ_SRC" \
	    FLOCKMQ_TEST_OUTPUT="$TRASH_DIRECTORY" sh -c ". \"\$FLOCKMQ_SRC/t/test-lib.sh\"; test_set_port 7200" 2>err &&
	test_grep "outside the port scheme" err
'

test_done
