# lib-load.sh: running t/helper/test-load against the broker (after
# lib-broker.sh).
#
#	load_clients WANT MIN		sets LOAD_CLIENTS to WANT, or fewer if the
#					open-file limit is low (skips all below MIN)
#	run_load NAME ARGS...		test-load with ARGS; report in NAME.out
#	load_ok NAME N...		NAME.out has its plan and "ok N" for each N
#	load_no_hold			no publisher was held until its throttle
#					ran out (the broker logs at level info)
#
# LOAD_TIMEOUT is test-load's --timeout (scaled).

command -v test-load >/dev/null 2>&1 ||
	test_skip_all 'test-load is not built (make check-programs)'

LOAD_TIMEOUT=$((50 * FLOCKMQ_TEST_TIMEOUT_SCALE))

# load_clients WANT MIN: each client is a socket here and one in the
# broker: raise the limit as far as the hard limit goes, and shrink WANT if
# it is still low.  ulimit -n and -H are not POSIX, but dash and bash have
# them.
load_clients () {
	# shellcheck disable=SC3045
	load_hard_=$(ulimit -H -n)
	test "$load_hard_" = unlimited && load_hard_=65536
	# shellcheck disable=SC3045
	ulimit -n "$load_hard_" 2>/dev/null
	# shellcheck disable=SC3045
	load_nofile_=$(ulimit -n)
	test "$load_nofile_" = unlimited && load_nofile_=65536
	LOAD_CLIENTS=$1
	if test "$load_nofile_" -lt $((LOAD_CLIENTS + 200)); then
		LOAD_CLIENTS=$((load_nofile_ - 200))
	fi
	test "$LOAD_CLIENTS" -ge "$2" ||
		test_skip_all "open file limit $load_nofile_ is too low for a load test"
}

# run_load NAME ARGS...: run test-load against the broker; its report is
# in NAME.out (printed, so that a failing test shows it).
run_load () {
	run_load_name_=$1
	shift
	test-load --port "$FLOCKMQ_PORT" --timeout "$LOAD_TIMEOUT" "$@" \
	    >"$run_load_name_.out" 2>&1
	run_load_ret_=$?
	cat "$run_load_name_.out"
	return $run_load_ret_
}

# load_ok NAME N...: the report NAME.out has its plan and "ok N" for each N.
load_ok () {
	load_ok_file_=$1.out
	shift
	test_grep "^1\.\.6$" "$load_ok_file_" || return 1
	for load_ok_n_
	do
		test_grep "^ok $load_ok_n_ - " "$load_ok_file_" || return 1
	done
}

# load_no_hold: nobody in these runs stops reading, so no publisher may
# have been held until its throttle ran out (CONN_THROTTLE_MAX_MS): that
# would be a pause nothing released (a cycle of pauses, a miscounted link).
# Restarts keep earlier logs in $BROKER_LOG.old.
load_no_hold () {
	cat "$BROKER_LOG.old" "$BROKER_LOG" >all.log 2>/dev/null
	test_grep ! "read again after" all.log
}
