#!/bin/sh

test_description='environment overrides: FLOCKMQ_A__B and EMQX_A__B

Variables set configuration keys (FLOCKMQ_ wins over EMQX_, both win over
the file), errors name the variable, the variables of an EMQX docker
compose file are accepted, and a listener moved by a variable really
listens there.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

# cc [VAR=VALUE...]: check-config of config.yaml with exactly these
# variables; dump in out, messages in err, status check-config's.
cc () {
	env "$@" "$FLOCKMQ" -c config.yaml check-config >out 2>err
}

# dump_value KEY: the value of a dotted KEY in the dump in out.
dump_value () {
	"$PYTHON" -c '
import sys, yaml
v = yaml.safe_load(open("out"))
for k in sys.argv[1].split("."):
    v = v[k]
print(v if not isinstance(v, (list, bool)) else
      ",".join(v) if isinstance(v, list) else str(v).lower())
' "$1"
}

# expect_value KEY VALUE: the dump in out has KEY = VALUE.
expect_value () {
	printf '%s\n' "$2" >expect.value &&
	dump_value "$1" >actual.value &&
	test_cmp expect.value actual.value
}

test_expect_success 'setup: a file that sets a few keys' '
	cat >config.yaml <<-\EOF &&
	mqtt:
	  max_inflight: 10
	durable_sessions:
	  enable: false
	node:
	  name: "file@127.0.0.1"
	EOF
	cc &&
	expect_value mqtt.max_inflight 10 &&
	expect_value durable_sessions.enable false &&
	expect_value node.name file@127.0.0.1
'

test_expect_success 'FLOCKMQ_MQTT__MAX_INFLIGHT sets mqtt.max_inflight over the file' '
	cc FLOCKMQ_MQTT__MAX_INFLIGHT=64 &&
	test_grep "configuration is valid" err &&
	test_grep "^  max_inflight: 64$" out &&
	expect_value mqtt.max_inflight 64
'

test_expect_success 'the EMQX_ prefix works too' '
	cc EMQX_MQTT__MAX_INFLIGHT=65 &&
	expect_value mqtt.max_inflight 65
'

test_expect_success 'FLOCKMQ_ wins over EMQX_' '
	cc EMQX_MQTT__MAX_INFLIGHT=65 FLOCKMQ_MQTT__MAX_INFLIGHT=64 &&
	expect_value mqtt.max_inflight 64 &&
	cc FLOCKMQ_MQTT__MAX_INFLIGHT=64 EMQX_MQTT__MAX_INFLIGHT=65 &&
	expect_value mqtt.max_inflight 64
'

test_expect_success 'sizes, booleans and listener keys from the environment' '
	cc EMQX_MQTT__MAX_PACKET_SIZE=2MB EMQX_MQTT__RETAIN_AVAILABLE=false \
	    EMQX_LISTENERS__TCP__DEFAULT__MAX_CONNECTIONS=2 &&
	expect_value mqtt.max_packet_size 2MB &&
	expect_value mqtt.retain_available false &&
	expect_value listeners.tcp.default.max_connections 2
'

test_expect_success 'the EMQX spellings (aliases) work in the environment' '
	cc EMQX_BROKER__SHARED_SUBSCRIPTION_STRATEGY=sticky \
	    EMQX_LISTENERS__TCP__DEFAULT__LIMITER__MESSAGES=10/s &&
	expect_value mqtt.shared_subscription_strategy sticky &&
	expect_value listeners.tcp.default.messages_rate 10/s
'

test_expect_success 'an out of range value: the error names the variable' '
	test_expect_code 1 cc EMQX_MQTT__MAX_QOS_ALLOWED=3 &&
	echo "flockmq: EMQX_MQTT__MAX_QOS_ALLOWED: mqtt.max_qos_allowed: 3 is out of range (0..2)" >expect &&
	test_cmp expect err &&
	test_grep ! "max_qos_allowed" out
'

test_expect_success 'a misspelt key: the variable and a did-you-mean' '
	test_expect_code 1 cc FLOCKMQ_MQTT__MAX_INFLGHT=3 &&
	test_grep "^flockmq: FLOCKMQ_MQTT__MAX_INFLGHT: unknown key '\''mqtt.max_inflght'\'' (did you mean '\''mqtt.max_inflight'\''?)$" err &&
	test_expect_code 1 cc EMQX_MQTT__MAX_INFLGHT=3 &&
	test_grep "^flockmq: EMQX_MQTT__MAX_INFLGHT: unknown key" err
'

test_expect_success 'an empty value is an error, not the default' '
	test_expect_code 1 cc FLOCKMQ_MQTT__MAX_INFLIGHT= &&
	test_grep "^flockmq: FLOCKMQ_MQTT__MAX_INFLIGHT: " err
'

test_expect_success 'EMQX_ variables outside the configuration are ignored, FLOCKMQ_ ones are errors' '
	cc EMQX_HOST=somewhere EMQX_WAIT_FOR_START=60 &&
	expect_value mqtt.max_inflight 10 &&
	test_expect_code 1 cc FLOCKMQ_HOST=somewhere &&
	test_grep "^flockmq: FLOCKMQ_HOST: unknown key" err
'

test_expect_success 'the variables of an EMQX compose file are accepted and shown' '
	cc EMQX_NODE_NAME=emqx@node1.emqx.io \
	    EMQX_CLUSTER__DISCOVERY_STRATEGY=static \
	    EMQX_CLUSTER__STATIC__SEEDS="[emqx@emqx1,emqx@emqx2,emqx@emqx3]" \
	    EMQX_CLUSTER__CORE_NODES="emqx@emqx1,emqx@emqx2" \
	    EMQX_DASHBOARD__DEFAULT_PASSWORD=secret \
	    EMQX_DURABLE_SESSIONS__ENABLE=true \
	    EMQX_DURABLE_STORAGE__MESSAGES__BACKEND=builtin_raft &&
	test_grep "configuration is valid" err &&
	expect_value node.name emqx@node1.emqx.io &&
	expect_value cluster.discovery_strategy static &&
	expect_value cluster.static.seeds emqx@emqx1,emqx@emqx2,emqx@emqx3 &&
	expect_value cluster.core_nodes emqx@emqx1,emqx@emqx2 &&
	expect_value dashboard.default_password secret &&
	expect_value durable_sessions.enable true &&
	expect_value durable_storage.messages.backend builtin_raft &&
	test_grep "^  name: \"emqx@node1.emqx.io\"$" out &&
	test_grep "^    seeds: \[\"emqx@emqx1\", \"emqx@emqx2\", \"emqx@emqx3\"\]$" out
'

test_expect_success 'EMQX_NODE__NAME and FLOCKMQ_NODE_NAME set node.name too' '
	cc EMQX_NODE__NAME=a@b.example &&
	expect_value node.name a@b.example &&
	cc FLOCKMQ_NODE_NAME=c@d.example EMQX_NODE_NAME=e@f.example &&
	expect_value node.name c@d.example
'

test_expect_success 'a bad node name from the environment names the variable' '
	test_expect_code 1 cc EMQX_NODE_NAME=nohost &&
	test_grep "^flockmq: EMQX_NODE_NAME: node.name: " err
'

test_expect_success 'a bad flow sequence names the variable' '
	test_expect_code 1 cc EMQX_CLUSTER__STATIC__SEEDS="[a@b" &&
	test_grep "^flockmq: EMQX_CLUSTER__STATIC__SEEDS: " err
'

test_expect_success 'a bad enum value lists the allowed values' '
	test_expect_code 1 cc EMQX_DURABLE_STORAGE__MESSAGES__BACKEND=rocksdb &&
	test_grep "^flockmq: EMQX_DURABLE_STORAGE__MESSAGES__BACKEND: .*allowed: builtin_local, builtin_raft" err
'

test_expect_success 'strings are taken as they are: a password with # and quotes' '
	cc EMQX_DASHBOARD__DEFAULT_PASSWORD="p#ss \"w0rd\" : x" &&
	expect_value dashboard.default_password "p#ss \"w0rd\" : x"
'

test_expect_success 'a variable may define a new listener' '
	cc EMQX_LISTENERS__TCP__INTERNAL__BIND=127.0.0.1:11883 &&
	expect_value listeners.tcp.internal.bind 127.0.0.1:11883 &&
	expect_value listeners.tcp.default.bind 0.0.0.0:1883
'

test_expect_success 'an environment variable moves the running listener' '
	start_broker EMQX_LISTENERS__TCP__DEFAULT__BIND=127.0.0.1:$FLOCKMQ_PORT3 &&
	broker_log_grep "flockmq is ready.*tcp:default 127.0.0.1:$FLOCKMQ_PORT3" &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT3 -t env/t -m moved -q 1 -r &&
	mosquitto_sub -h 127.0.0.1 -p $FLOCKMQ_PORT3 -t env/t -C 1 -W 5 >sub.out &&
	echo moved >expect &&
	test_cmp expect sub.out &&
	test_must_fail mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t env/t -m old 2>err
'

test_expect_success 'a FLOCKMQ_ variable given to the broker takes effect' '
	stop_broker &&
	start_broker FLOCKMQ_MQTT__MAX_CLIENTID_LEN=30 &&
	"$PYTHON" "$TEST_DIRECTORY/helper/mqttc.py" connect -p $FLOCKMQ_PORT \
	    -V 5 -i aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >out &&
	test_grep "^CONNACK sp=0 rc=0x85$" out &&
	"$PYTHON" "$TEST_DIRECTORY/helper/mqttc.py" connect -p $FLOCKMQ_PORT \
	    -V 5 -i aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa >out &&
	test_grep "^CONNACK sp=0 rc=0x00$" out &&
	stop_broker
'

test_done
