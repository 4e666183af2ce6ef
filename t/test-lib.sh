# test-lib.sh: the library every t/tNNNN-*.t script sources (after git's).
#
# A script sets test_description, sources this file with
#	. "$(dirname "$0")"/test-lib.sh
# runs test_expect_success/test_expect_failure blocks and ends with
# test_done; TAP goes to stdout.  POSIX sh (dash, bash).  Each script runs
# in its own trash directory, $FLOCKMQ_BUILD/t/trash.NAME, removed when
# every test passed.  Test bodies run in this shell, their output captured
# and shown for a failing test (live on stderr with -v).  At exit the
# test_atexit handlers run, then background processes are killed.  See
# t/README for the functions and the options (-v, -i, -d, -x).

# Where things are.  Run from anywhere: FLOCKMQ_SRC and FLOCKMQ_BUILD come
# from make check, else from this script's location and the current directory.
TEST_NAME=$(basename "$0" .t)
if test -z "$FLOCKMQ_SRC"; then
	FLOCKMQ_SRC=$(cd "$(dirname "$0")/.." && pwd) || exit 1
fi
TEST_DIRECTORY=$FLOCKMQ_SRC/t
if test -n "$FLOCKMQ_BUILD"; then :
elif test -f ./config.status; then FLOCKMQ_BUILD=$(pwd)
elif test -f ../config.status; then FLOCKMQ_BUILD=$(cd .. && pwd)
else FLOCKMQ_BUILD=$FLOCKMQ_SRC
fi
: "${FLOCKMQ_TEST_OUTPUT:=$FLOCKMQ_BUILD/t}"

# Debian's python3 has paho-mqtt; a python3 earlier in PATH may not.
PYTHON=${FLOCKMQ_TEST_PYTHON:-/usr/bin/python3}
FLOCKMQ=$FLOCKMQ_BUILD/src/flockmq
PATH=$FLOCKMQ_BUILD/src:$FLOCKMQ_BUILD/t/helper:$FLOCKMQ_SRC/t/helper:$PATH
: "${FLOCKMQ_TEST_TIMEOUT_SCALE:=1}"
TEST_VALGRIND=
if test -n "$FLOCKMQ_TEST_VALGRIND"; then
	TEST_VALGRIND="valgrind --error-exitcode=99 -q $FLOCKMQ_TEST_VALGRIND_OPTS"
	test "$FLOCKMQ_TEST_TIMEOUT_SCALE" != 1 || FLOCKMQ_TEST_TIMEOUT_SCALE=5
fi
export PYTHON PATH
unset XDG_CONFIG_HOME

# The broker reads FLOCKMQ_* and EMQX_* variables as configuration
# overrides: keep them as shell variables, but out of the environment of
# the commands that tests run.  A test passes an override explicitly.
for test_var_ in $(env | sed -n -e 's/^\(FLOCKMQ_[A-Za-z0-9_]*\)=.*/\1/p' \
    -e 's/^\(EMQX_[A-Za-z0-9_]*\)=.*/\1/p')
do
	eval "test_val_=\$$test_var_"
	unset "$test_var_"
	eval "$test_var_=\$test_val_"
done
LC_ALL=C TZ=UTC
export LC_ALL TZ

verbose= immediate= debug= trace=
# shellcheck disable=SC2086 # FLOCKMQ_TEST_OPTS is a list of options
set -- $FLOCKMQ_TEST_OPTS "$@"
for test_arg_
do
	case $test_arg_ in
	-v|--verbose) verbose=t ;;
	-i|--immediate) immediate=t ;;
	-d|--debug) debug=t ;;
	-x) trace=t ;;
	*) echo "error: $0: unknown option '$test_arg_'" >&2; exit 1 ;;
	esac
done

# fd 6: the TAP stream (stdout); fd 7: the original stderr.
exec 6>&1 7>&2

test_count=0 test_success=0 test_failure=0 test_broken=0 test_fixed=0
test_skip_next_= test_atexit_= test_pids_= test_done_=

say () {
	printf '%s\n' "$*" >&6
}

# test_diag LINE...: TAP comment lines, even from inside a test body.
test_diag () {
	printf '%s\n' "$@" | sed 's/^/# /' >&6
}

# error MESSAGE: the script itself is broken; stop here.
error () {
	echo "error: $TEST_NAME: $*" >&7
	exit 1
}

# A test body, run in this shell.
test_eval_ () {
	test "$trace" != t || set -x
	eval "$1"
	test_eval_ret_=$?
	test "$trace" != t || set +x
	return $test_eval_ret_
}

# Run a body and the test_when_finished cleanups it registered; the status
# is the body's unless a cleanup failed.
test_run_ () {
	test_cleanup_=:
	if test "$verbose" = t; then
		test_eval_ "$1" </dev/null >&7 2>&7
		eval_ret_=$?
		test_eval_ "$test_cleanup_" </dev/null >&7 2>&7
	else
		test_eval_ "$1" </dev/null >"$TRASH_DIRECTORY.out" 2>&1
		eval_ret_=$?
		test_eval_ "$test_cleanup_" </dev/null >>"$TRASH_DIRECTORY.out" 2>&1
	fi
	return $eval_ret_
}

# Show why test $test_count failed: its body and what it printed.
test_failure_diag_ () {
	test_diag "failed test body:" "$1"
	if test "$verbose" != t && test -s "$TRASH_DIRECTORY.out"; then
		test_diag "output:"
		sed 's/^/# | /' "$TRASH_DIRECTORY.out" >&6
	fi
}

# Returns 0 (and reports the skip) if the next test is to be skipped.
test_skip_ () {
	test -n "$test_skip_next_" || test_skip_listed_ "$1" || return 1
	say "ok $test_count - $1 # SKIP $test_skip_next_"
	test_skip_next_=
	return 0
}

# $FLOCKMQ_TEST_SKIP: glob patterns, one a line, of the titles of tests
# to report as skipped, with the reason $FLOCKMQ_TEST_SKIP_REASON (t4030
# runs scripts over transports that some of their tests cannot use).
test_skip_listed_ () {
	test -n "$FLOCKMQ_TEST_SKIP" || return 1
	while IFS= read -r test_skip_pat_
	do
		test -n "$test_skip_pat_" || continue
		case $1 in
		$test_skip_pat_)
			test_skip_next_=${FLOCKMQ_TEST_SKIP_REASON:-in FLOCKMQ_TEST_SKIP}
			return 0 ;;
		esac
	done <<-EOF
	$FLOCKMQ_TEST_SKIP
	EOF
	return 1
}

# test_expect_success 'title' 'body': the body must succeed.
test_expect_success () {
	test "$#" = 2 || error "test_expect_success needs 2 arguments, got $#"
	test_count=$((test_count + 1))
	test_skip_ "$1" && return 0
	test "$verbose" != t || echo "expecting success: $2" >&7
	if test_run_ "$2"; then
		test_success=$((test_success + 1))
		say "ok $test_count - $1"
	else
		test_failure=$((test_failure + 1))
		say "not ok $test_count - $1"
		test_failure_diag_ "$2"
		test "$immediate" != t || test_exit_ 1
	fi
}

# test_expect_failure 'title' 'body': a known breakage; TAP TODO.
test_expect_failure () {
	test "$#" = 2 || error "test_expect_failure needs 2 arguments, got $#"
	test_count=$((test_count + 1))
	test_skip_ "$1" && return 0
	test "$verbose" != t || echo "checking known breakage: $2" >&7
	if test_run_ "$2"; then
		test_fixed=$((test_fixed + 1))
		say "ok $test_count - $1 # TODO known breakage vanished"
	else
		test_broken=$((test_broken + 1))
		say "not ok $test_count - $1 # TODO known breakage"
	fi
}

# test_skip_if 'reason' 'condition': if the shell condition holds, the next
# test is reported as skipped instead of run.
test_skip_if () {
	test "$#" = 2 || error "test_skip_if needs 2 arguments, got $#"
	if eval "$2"; then
		test_skip_next_=$1
	fi
}

# test_skip_all 'reason': skip the whole script (before any test).
test_skip_all () {
	test "$test_count" = 0 || error "test_skip_all after $test_count tests"
	say "1..0 # SKIP $*"
	test_done_=t
	test_exit_ 0
}

# test_when_finished 'commands': run after the current test, even if it
# failed; the last registered runs first.  A failing cleanup fails the test.
test_when_finished () {
	test_cleanup_="{ $*
	} && (exit \"\$eval_ret_\"); eval_ret_=\$?; $test_cleanup_"
}

# test_atexit 'commands': run when the script ends, last registered first.
test_atexit () {
	test_atexit_="{ $*
	} || test_atexit_ret_=1; $test_atexit_"
}

# test_spawn command [args...]: run a command in the background, killed at
# exit; $! is its pid.  Redirect as usual: test_spawn cmd >out 2>&1
test_spawn () {
	"$@" &
	test_track_pid $!
}

# test_track_pid PID: kill PID at exit too.  The pids also go to a file, so
# that the next run can kill what a killed run left behind.
test_track_pid () {
	test_pids_="$test_pids_ $1"
	echo "$1" >>"$TRASH_DIRECTORY.pids"
}

# test_pid_alive PID: PID is running (a zombie is not).
test_pid_alive () {
	read -r test_line_ 2>/dev/null <"/proc/$1/stat" || return 1
	# shellcheck disable=SC2086 # split the fields after "(comm) "
	set -- ${test_line_##*) }
	test "$1" != Z
}

test_any_alive_ () {
	for test_pid_
	do
		! test_pid_alive "$test_pid_" || return 0
	done
	return 1
}

# test_in_trash_ PID: PID runs inside this script's trash directory.
test_in_trash_ () {
	case $(readlink "/proc/$1/cwd" 2>/dev/null) in
	"$TRASH_DIRECTORY"|"$TRASH_DIRECTORY"/*) return 0 ;;
	esac
	return 1
}

# Kill the tracked processes, the other children of this shell (a bare
# `cmd &`) and what subshells tracked if it runs in the trash directory:
# SIGTERM, then SIGKILL after 2 seconds.
test_kill_pids_ () {
	for test_stat_ in /proc/[0-9]*/stat
	do
		read -r test_line_ 2>/dev/null <"$test_stat_" || continue
		# shellcheck disable=SC2086 # split the fields after "(comm) "
		set -- ${test_line_##*) }
		test "$2" != "$$" || test_pids_="$test_pids_ ${test_stat_%/stat}"
	done
	for test_pid_ in $(cat "$TRASH_DIRECTORY.pids" 2>/dev/null)
	do
		! test_in_trash_ "$test_pid_" || test_pids_="$test_pids_ $test_pid_"
	done
	set --
	for test_pid_ in $test_pids_
	do
		test_pid_=${test_pid_#/proc/}
		test_pid_alive "$test_pid_" || continue
		kill -TERM "$test_pid_" 2>/dev/null
		kill -CONT "$test_pid_" 2>/dev/null
		set -- "$@" "$test_pid_"
	done
	test_kill_n_=20
	while test "$test_kill_n_" -gt 0 && test_any_alive_ "$@"
	do
		sleep 0.1
		test_kill_n_=$((test_kill_n_ - 1))
	done
	for test_pid_
	do
		kill -KILL "$test_pid_" 2>/dev/null
	done
	test_pids_=
	rm -f "$TRASH_DIRECTORY.pids"
}

# Run the test_atexit handlers once; returns 1 if one failed.
test_run_atexit_ () {
	test_atexit_ret_=0
	test -n "$test_atexit_" || return 0
	test_eval_ "$test_atexit_" </dev/null >"$TRASH_DIRECTORY.out" 2>&1
	test_atexit_=
	if test "$test_atexit_ret_" != 0; then
		test_diag "a test_atexit handler failed; its output:"
		sed 's/^/# | /' "$TRASH_DIRECTORY.out" >&6
		return 1
	fi
}

# Leave: atexit handlers, kill leftovers, remove the trash if asked.
test_exit_ () {
	test_exit_code_=$1
	trap '' PIPE
	test_run_atexit_ || test_exit_code_=1
	test_kill_pids_
	if test "$test_exit_code_" = 0 && test "$debug" != t; then
		cd "$FLOCKMQ_TEST_OUTPUT" &&
		rm -rf "$TRASH_DIRECTORY" "$TRASH_DIRECTORY.out"
	fi
	trap - EXIT
	exit "$test_exit_code_"
}

# test_done: the plan and the verdict; call it last.
test_done () {
	test_done_=t
	test_done_code_=0
	test_run_atexit_ || test_done_code_=1
	say "1..$test_count"
	test "$test_fixed" = 0 ||
		test_diag "fixed $test_fixed known breakage(s)"
	test "$test_broken" = 0 ||
		test_diag "still have $test_broken known breakage(s)"
	if test "$test_failure" = 0; then
		test_diag "passed all $test_count test(s)"
	else
		test_diag "failed $test_failure among $test_count test(s)"
		test_done_code_=1
	fi
	test_exit_ "$test_done_code_"
}

# The script ended (or was interrupted) without test_done.
test_trap_exit_ () {
	test_trap_code_=$1
	trap '' PIPE
	test -n "$test_done_" && return
	test "$test_trap_code_" != 0 || test_trap_code_=1
	echo "error: $TEST_NAME exited (status $test_trap_code_) before test_done" >&7
	test_exit_ "$test_trap_code_"
}

# test_cmp EXPECTED ACTUAL
test_cmp () {
	diff -u "$@"
}

# test_grep [!] [grep options] PATTERN FILE: like grep, but shows the file
# when the expectation fails.
test_grep () {
	test_grep_neg_=
	if test "$1" = "!"; then
		test_grep_neg_=t
		shift
	fi
	eval "test_grep_file_=\${$#}"
	if test -z "$test_grep_neg_"; then
		grep "$@" >/dev/null && return 0
		echo "test_grep: no match for 'grep $*'; the file:"
		cat "$test_grep_file_"
	else
		grep "$@" >/dev/null || return 0
		echo "test_grep: unexpected match for 'grep $*':"
		grep "$@"
	fi
	return 1
}

# test_must_fail command...: the command fails cleanly (not by a signal,
# not "command not found").
test_must_fail () {
	"$@"
	test_must_fail_code_=$?
	case $test_must_fail_code_ in
	0) echo "test_must_fail: command succeeded: $*" ;;
	12[67]) echo "test_must_fail: cannot run: $*" ;;
	129|1[3-8][0-9]|19[0-2])
		echo "test_must_fail: died of signal" \
		    "$((test_must_fail_code_ - 128)): $*" ;;
	*) return 0 ;;
	esac
	return 1
}

# test_expect_code CODE command...
test_expect_code () {
	test_expect_code_=$1
	shift
	"$@"
	test_expect_code_got_=$?
	test "$test_expect_code_got_" = "$test_expect_code_" && return 0
	echo "test_expect_code: expected $test_expect_code_," \
	    "got $test_expect_code_got_: $*"
	return 1
}

test_path_is_file () { test -f "$1" || { echo "not a file: $1"; false; }; }
test_path_is_missing () { test ! -e "$1" || { echo "exists: $1"; false; }; }

# wait_for 'condition' [SECONDS]: poll the shell condition every 0.1 s;
# fail after SECONDS (default 10, times $FLOCKMQ_TEST_TIMEOUT_SCALE).
wait_for () {
	wait_for_n_=$(( ${2:-10} * 10 * FLOCKMQ_TEST_TIMEOUT_SCALE ))
	until eval "$1"
	do
		if test "$wait_for_n_" -le 0; then
			echo "wait_for: timed out after ${2:-10} s: $1"
			return 1
		fi
		sleep 0.1
		wait_for_n_=$((wait_for_n_ - 1))
	done
}

# test_set_port [NNNN]: six TCP ports for this script, from its number
# (tFSSS: family F, script S < 200): FLOCKMQ_PORT = 20000 + 6 * (200F + S),
# FLOCKMQ_PORT2..FLOCKMQ_PORT6 follow.  All stay in 20000..31999, below
# Linux's ephemeral range (32768..60999), where client sockets in TIME_WAIT
# would make a listener's bind fail now and then.
test_set_port () {
	test_port_n_=${1:-$(expr "$TEST_NAME" : 't\([0-9][0-9][0-9][0-9]\)-')}
	test -n "$test_port_n_" ||
		error "test_set_port: no tNNNN number in '$TEST_NAME'"
	test_port_s_=$(expr "$test_port_n_" % 1000)
	test "$test_port_s_" -lt 200 ||
		error "test_set_port: t$test_port_n_ is outside the port scheme: number scripts tF000..tF199"
	test_port_f_=$(expr "$test_port_n_" / 1000)
	FLOCKMQ_PORT=$((20000 + 6 * (200 * test_port_f_ + test_port_s_)))
	FLOCKMQ_PORT2=$((FLOCKMQ_PORT + 1))
	FLOCKMQ_PORT3=$((FLOCKMQ_PORT + 2))
	FLOCKMQ_PORT4=$((FLOCKMQ_PORT + 3))
	FLOCKMQ_PORT5=$((FLOCKMQ_PORT + 4))
	FLOCKMQ_PORT6=$((FLOCKMQ_PORT + 5))
}

# $FLOCKMQ_TEST_PORTS_OF=NNNN: take script tNNNN's ports instead (a script
# that t4030 runs over another transport takes t4030's, not its own).
if test -n "$FLOCKMQ_TEST_PORTS_OF"; then
	test_set_port "$FLOCKMQ_TEST_PORTS_OF"
else
	case $TEST_NAME in
	t[0-9][0-9][0-9][0-9]-*) test_set_port ;;
	esac
fi

# The trash directory.  First kill what a killed earlier run left behind:
# the processes it recorded that still run inside its trash directory.
mkdir -p "$FLOCKMQ_TEST_OUTPUT" &&
FLOCKMQ_TEST_OUTPUT=$(cd -P "$FLOCKMQ_TEST_OUTPUT" && pwd) ||
	error "cannot create $FLOCKMQ_TEST_OUTPUT"
# $FLOCKMQ_TEST_TRASH_SUFFIX (.tls): trash.NAME.tls, beside trash.NAME.
TRASH_DIRECTORY=$FLOCKMQ_TEST_OUTPUT/trash.$TEST_NAME$FLOCKMQ_TEST_TRASH_SUFFIX
for test_pid_ in $(cat "$TRASH_DIRECTORY.pids" 2>/dev/null)
do
	! test_in_trash_ "$test_pid_" || kill -KILL "$test_pid_"
done
rm -rf "$TRASH_DIRECTORY" "$TRASH_DIRECTORY.out" "$TRASH_DIRECTORY.pids" ||
	error "cannot remove $TRASH_DIRECTORY"
mkdir "$TRASH_DIRECTORY" && cd "$TRASH_DIRECTORY" ||
	error "cannot create $TRASH_DIRECTORY"
HOME=$TRASH_DIRECTORY
export HOME TRASH_DIRECTORY
trap 'test_trap_exit_ $?' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 141' PIPE
trap 'exit 143' TERM
test "$verbose" != t || echo "# $TEST_NAME: $test_description" >&7
