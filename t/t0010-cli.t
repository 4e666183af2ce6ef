#!/bin/sh

test_description='the command line: version, usage, check-config, config-example

flockmq version, usage errors (exit status 2), check-config on the embedded
defaults and on bad files (FILE:LINE:COL, the key, did-you-mean, allowed
values, ranges, YAML syntax errors), config-example against the committed
etc/flockmq.yaml, and -c with a missing file.'

. "$(dirname "$0")"/test-lib.sh

# check_config FILE: run check-config on FILE, stdout in out, stderr in err;
# its status is check-config's.
check_config () {
	"$FLOCKMQ" -c "$1" check-config >out 2>err
}

# bad_config 'YAML' 'expected stderr line': check-config must fail (status
# 1) with exactly this one line on stderr and nothing on stdout.
bad_config () {
	printf '%s\n' "$1" >bad.yaml &&
	test_expect_code 1 check_config bad.yaml &&
	printf '%s\n' "$2" >expect &&
	test_cmp expect err &&
	test_must_be_empty_ out
}

test_must_be_empty_ () {
	test -s "$1" || return 0
	echo "not empty: $1"
	cat "$1"
	return 1
}

test_expect_success 'version prints the version' '
	"$FLOCKMQ" version >out 2>err &&
	echo "flockmq 0.1.0" >expect &&
	test_cmp expect out &&
	test_must_be_empty_ err
'

test_expect_success 'version ignores -c, even of a missing file' '
	"$FLOCKMQ" -c does-not-exist.yaml version >out &&
	echo "flockmq 0.1.0" >expect &&
	test_cmp expect out
'

test_expect_success 'an unknown command is a usage error (exit 2)' '
	test_expect_code 2 "$FLOCKMQ" frobnicate >out 2>err &&
	test_grep "^usage: flockmq" err &&
	test_must_be_empty_ out
'

test_expect_success 'no command, two commands, -c without a file: exit 2' '
	test_expect_code 2 "$FLOCKMQ" 2>err &&
	test_grep "^usage: flockmq" err &&
	test_expect_code 2 "$FLOCKMQ" version version 2>err &&
	test_grep "^usage: flockmq" err &&
	test_expect_code 2 "$FLOCKMQ" -c 2>err &&
	test_grep "^usage: flockmq" err &&
	test_expect_code 2 "$FLOCKMQ" -Z version 2>err &&
	test_grep "^usage: flockmq" err
'

test_expect_success 'the usage lists every command' '
	test_expect_code 2 "$FLOCKMQ" frobnicate 2>err &&
	for cmd in foreground start stop check-config config-example version
	do
		test_grep -w -e "$cmd" err || return 1
	done
'

# Without -c the file is /etc/flockmq/flockmq.yaml, if it exists.
test_skip_if 'this machine has /etc/flockmq/flockmq.yaml' \
	'test -f /etc/flockmq/flockmq.yaml'
test_expect_success 'check-config with no file prints the embedded defaults' '
	"$FLOCKMQ" check-config >defaults.yaml 2>err &&
	test_grep "configuration is valid" err &&
	test_grep "^  max_inflight: 32$" defaults.yaml &&
	test_grep "^  max_qos_allowed: 2$" defaults.yaml &&
	test_grep "^  max_packet_size: 1MB$" defaults.yaml &&
	test_grep "^  name: \"flockmq@127.0.0.1\"$" defaults.yaml &&
	test_grep "^    backend: builtin_local$" defaults.yaml
'

test_expect_success 'the dump is YAML, and check-config of an empty file gives the same' '
	: >empty.yaml &&
	check_config empty.yaml &&
	test_grep "configuration is valid" err &&
	cp out empty.dump &&
	"$PYTHON" -c "import sys, yaml; d = yaml.safe_load(open(sys.argv[1])); assert d[\"mqtt\"][\"max_inflight\"] == 32, d[\"mqtt\"]" empty.dump &&
	if ! test -f /etc/flockmq/flockmq.yaml
	then
		test_cmp defaults.yaml empty.dump
	fi
'

test_expect_success 'the dump loads back to the same dump' '
	check_config empty.dump &&
	test_cmp empty.dump out
'

test_expect_success 'a setting in the file shows in the dump' '
	cat >file.yaml <<-\EOF &&
	mqtt:
	  max_inflight: 64
	  max_packet_size: 2MB
	mqtt.max_clientid_len: 30
	EOF
	check_config file.yaml &&
	test_grep "^  max_inflight: 64$" out &&
	test_grep "^  max_packet_size: 2MB$" out &&
	test_grep "^  max_clientid_len: 30$" out &&
	test_grep ! "max_inflight: 32" out
'

test_expect_success 'unknown key: FILE:LINE:COL, the key and a did-you-mean' '
	bad_config "mqtt:
  max_inflght: 3" \
	    "flockmq: bad.yaml:2:3: unknown key '\''mqtt.max_inflght'\'' (did you mean '\''mqtt.max_inflight'\''?)"
'

test_expect_success 'unknown key in a listener' '
	bad_config "listeners:
  tcp:
    default:
      bindd: 1" \
	    "flockmq: bad.yaml:4:7: unknown key '\''listeners.tcp.default.bindd'\'' (did you mean '\''listeners.tcp.default.bind'\''?)"
'

test_expect_success 'unknown listener type lists the allowed ones' '
	bad_config "listeners:
  quic:
    default:
      bind: 1" \
	    "flockmq: bad.yaml:2:3: unknown listener type '\''quic'\'' in '\''listeners.quic'\'' (allowed: tcp, ssl, ws, wss)"
'

test_expect_success 'bad enum value lists the allowed values' '
	bad_config "mqtt:
  shared_subscription_strategy: foo" \
	    "flockmq: bad.yaml:2:33: mqtt.shared_subscription_strategy: unknown value '\''foo'\'' (allowed: random, round_robin, sticky, hash_clientid, hash_topic)" &&
	bad_config "log:
  console:
    level: verbose" \
	    "flockmq: bad.yaml:3:12: log.console.level: unknown value '\''verbose'\'' (allowed: debug, info, notice, warning, error, critical, alert, emergency)"
'

test_expect_success 'out of range values give the range' '
	bad_config "mqtt:
  max_qos_allowed: 3" \
	    "flockmq: bad.yaml:2:20: mqtt.max_qos_allowed: 3 is out of range (0..2)" &&
	bad_config "mqtt:
  max_inflight: 0" \
	    "flockmq: bad.yaml:2:17: mqtt.max_inflight: 0 is out of range (1..65535)"
'

test_expect_success 'values of the wrong type say what was expected' '
	bad_config "mqtt:
  retain_available: maybe" \
	    "flockmq: bad.yaml:2:21: mqtt.retain_available: expected true or false, got '\''maybe'\''" &&
	bad_config "mqtt:
  max_packet_size: 10XB" \
	    "flockmq: bad.yaml:2:20: mqtt.max_packet_size: expected a size (512B, 64KB, 1MB, 1GB), got '\''10XB'\''" &&
	bad_config "mqtt.retry_interval: soon" \
	    "flockmq: bad.yaml:1:22: mqtt.retry_interval: expected a duration (100ms, 5s, 10m, 1h, 2d), got '\''soon'\''"
'

test_expect_success 'YAML syntax errors give the position' '
	printf "mqtt:\n  max_qos_allowed: [3\n" >bad.yaml &&
	test_expect_code 1 check_config bad.yaml &&
	test_grep "^flockmq: bad.yaml:3:1: syntax error: " err &&
	printf "mqtt:\n  max_qos_allowed: 1\n   foo: 2\n" >bad.yaml &&
	test_expect_code 1 check_config bad.yaml &&
	test_grep "^flockmq: bad.yaml:3:7: syntax error: mapping values are not allowed" err &&
	test_must_be_empty_ out
'

test_expect_success 'a top level that is not a mapping is refused' '
	printf -- "- a\n- b\n" >bad.yaml &&
	test_expect_code 1 check_config bad.yaml &&
	test_grep "^flockmq: bad.yaml:1:1: " err &&
	test_grep "mapping" err
'

test_expect_success 'the first error wins, and names the right line' '
	cat >bad.yaml <<-\EOF &&
	mqtt:
	  max_inflight: 10
	  max_topic_levels: 12
	  max_awaiting_rel: -1
	  max_qos_allowed: 7
	EOF
	test_expect_code 1 check_config bad.yaml &&
	test_grep "^flockmq: bad.yaml:4:[0-9]*: mqtt.max_awaiting_rel: " err
'

test_expect_success '-c with a missing file fails and names it' '
	test_must_fail "$FLOCKMQ" -c no-such-file.yaml check-config >out 2>err &&
	test_grep "no-such-file.yaml" err &&
	test_grep "No such file" err &&
	test_must_be_empty_ out
'

test_expect_success '-c with a missing file: foreground fails too, binds nothing' '
	test_must_fail "$FLOCKMQ" -c no-such-file.yaml foreground >out 2>err &&
	test_grep "no-such-file.yaml" err &&
	test_grep ! "flockmq is ready" err
'

test_expect_success '-c with a directory fails' '
	mkdir adir &&
	test_must_fail "$FLOCKMQ" -c adir check-config 2>err &&
	test_grep "adir" err
'

test_expect_success 'config-example is the committed etc/flockmq.yaml' '
	"$FLOCKMQ" config-example >example.yaml &&
	test -s example.yaml &&
	test_path_is_file "$FLOCKMQ_SRC/etc/flockmq.yaml" &&
	test_cmp "$FLOCKMQ_SRC/etc/flockmq.yaml" example.yaml
'

test_expect_success 'the example is valid and sets exactly the defaults' '
	check_config example.yaml &&
	test_grep "configuration is valid" err &&
	test_cmp empty.dump out
'

test_expect_success 'every key of the dump is in the example' '
	"$PYTHON" - empty.dump example.yaml <<-\EOF
	import sys, yaml
	def keys(d, pre=""):
	    for k, v in d.items():
	        if isinstance(v, dict):
	            yield from keys(v, pre + k + ".")
	        else:
	            yield pre + k
	dump = set(keys(yaml.safe_load(open(sys.argv[1]))))
	ex = set(keys(yaml.safe_load(open(sys.argv[2]))))
	# data_dir is commented out in the example: it is set at build time.
	missing = sorted(dump - ex - {"node.data_dir"})
	extra = sorted(ex - dump)
	if missing or extra:
	    print("missing from the example:", missing)
	    print("not in the dump:", extra)
	    sys.exit(1)
	EOF
'

test_done
