#!/bin/sh

test_description='the banned list: /api/v5/banned

Bans by client id, username, peer address, network (CIDR) and regular
expression, added and removed through the REST API, refuse CONNECT with
MQTT 5 reason 0x8A Banned and MQTT 3.1.1 return code 5 Not authorized
(paho-mqtt and mosquitto_pub); an expiring ban lifts by itself; bans
survive a restart; bad bodies give 400, a duplicate 409, a missing ban
404; the list is paginated oldest first; a damaged ban record stops
start-up until store repair.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-rest.sh

STORE=$BROKER_DATA/store
# ban JSON: POST it, expecting 200.
ban () {
	api POST /banned "$1" &&
	expect_code 200
}

# unban AS WHO: DELETE it, expecting 204.
unban () {
	api DELETE "/banned/$1/$2" &&
	expect_code 204
}

# list [QUERY]: the whole answer of GET /banned?QUERY into list.json,
# compacted.
list () {
	api GET "/banned${1:+?$1}" &&
	expect_code 200 &&
	jq -c . out >list.json
}

# has_meta PAGE LIMIT COUNT HASNEXT: the pagination of list.json.
has_meta () {
	jq -c .meta list.json >meta.json &&
	printf '{"page":%s,"limit":%s,"count":%s,"hasnext":%s}\n' "$@" \
	    >meta.expect &&
	test_cmp meta.expect meta.json
}

# paho VERSION CLIENTID [USERNAME]: connect with paho-mqtt (5 or 4, that
# is MQTT 5.0 or 3.1.1) and print the CONNACK code as 0xNN, or "none".
paho () {
	"$PYTHON" - "$FLOCKMQ_PORT" "$FLOCKMQ_TEST_TIMEOUT_SCALE" "$@" <<-\EOF
	import sys, threading
	import paho.mqtt.client as mqtt
	port, scale, version, cid = sys.argv[1:5]
	user = sys.argv[5] if len(sys.argv) > 5 else None
	got, res = threading.Event(), []
	if version == "5":
	    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
	else:
	    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv311)
	if user is not None:
	    c.username_pw_set(user, "secret")
	def on_connect(client, userdata, flags, rc, props=None):
	    res.append(rc.value if hasattr(rc, "value") else int(rc))
	    got.set()
	c.on_connect = on_connect
	c.connect("127.0.0.1", int(port), 60)
	c.loop_start()
	got.wait(5 * int(scale))
	c.disconnect()
	c.loop_stop()
	print("0x%02x" % res[0] if res else "none")
	EOF
}

# refused_v5 CLIENTID [USERNAME] / refused_v4 ...: paho gets 0x8A Banned
# over MQTT 5, return code 5 over 3.1.1.
refused_v5 () {
	paho 5 "$@" >rc && echo 0x8a >expect.rc && test_cmp expect.rc rc
}
refused_v4 () {
	paho 4 "$@" >rc && echo 0x05 >expect.rc && test_cmp expect.rc rc
}

# accepted CLIENTID [USERNAME]: paho connects over MQTT 5 and 3.1.1.
accepted () {
	paho 5 "$@" >rc && echo 0x00 >expect.rc && test_cmp expect.rc rc &&
	paho 4 "$@" >rc && test_cmp expect.rc rc
}

# connack_errors: packets.connack.error of the node.
connack_errors () {
	api GET "/metrics?aggregate=true" &&
	expect_code 200 &&
	jq -e '."packets.connack.error"' out
}

# rfc3339 SECONDS: now plus SECONDS, as RFC 3339 (UTC).
rfc3339 () {
	date -u -d "@$(( $(date +%s) + $1 ))" +%Y-%m-%dT%H:%M:%SZ
}

test_expect_success 'start the broker and log in' '
	start_broker &&
	login
'

test_expect_success 'the list starts empty, with the pagination meta' '
	list &&
	has_meta 1 100 0 false &&
	jq -e ".data == []" list.json
'

test_expect_success 'without a token the list is 401' '
	curl -s -o out -w "%{http_code}" "$API/banned" >code &&
	expect_code 401
'

test_expect_success 'ban a client id: the object as EMQX shows it' '
	before=$(date -u +%s) &&
	ban "{\"as\":\"clientid\",\"who\":\"bad-id\",\"reason\":\"spamming\"}" &&
	jq -r "[.as, .who, .by, .reason] | join(\" \")" out >actual &&
	echo "clientid bad-id admin spamming" >expect &&
	test_cmp expect actual &&
	at=$(jq -r .at out) && until=$(jq -r .until out) &&
	at_s=$(date -u -d "$at" +%s) && until_s=$(date -u -d "$until" +%s) &&
	test "$at_s" -ge "$before" && test "$at_s" -le "$(( before + 5 ))" &&
	test "$until_s" -eq "$(( at_s + 31536000 ))"
'

test_expect_success 'a banned client id is refused: MQTT 5 0x8A, 3.1.1 code 5' '
	n0=$(connack_errors) &&
	refused_v5 bad-id &&
	refused_v4 bad-id &&
	n1=$(connack_errors) &&
	test "$n1" -eq "$(( n0 + 2 ))" &&
	broker_log_grep "client .bad-id. 127\.0\.0\.1:[0-9]* refused: banned" \
	    >log &&
	test_grep "(clientid .bad-id. by .admin. until [-0-9T:]*Z: .spamming.)" \
	    log &&
	accepted good-id
'

# mosquitto_pub exits with the CONNACK code: 5 over 3.1.1, 138 (0x8A)
# over MQTT 5.
test_expect_success 'mosquitto_pub is refused too, and another id is not' '
	test_expect_code 5 mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT \
	    -i bad-id -V mqttv311 -t t -m x 2>err &&
	test_grep "Connection Refused: not authorised" err &&
	test_expect_code 138 mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT \
	    -i bad-id -V mqttv5 -t t -m x 2>err &&
	test_grep "Connection error: Banned" err &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -i other-id -V mqttv5 \
	    -t t -m x
'

test_expect_success 'a duplicate ban is 409 ALREADY_EXISTS' '
	api POST /banned "{\"as\":\"clientid\",\"who\":\"bad-id\"}" &&
	expect_code 409 ALREADY_EXISTS
'

test_expect_success 'delete lifts the ban; deleting it again is 404' '
	unban clientid bad-id &&
	accepted bad-id &&
	api DELETE /banned/clientid/bad-id &&
	expect_code 404 NOT_FOUND &&
	api DELETE /banned/nonsense/bad-id &&
	expect_code 404
'

# online BAN-JSON: connect paho clients on-id (MQTT 5, user on-user),
# on-v4 (3.1.1) and on-other (MQTT 5); POST the ban; print each client's
# fate: "kicked 0x98" (MQTT 5 DISCONNECT reason), "kicked" (3.1.1 close)
# or "connected" after 2 s.
online () {
	"$PYTHON" - "$FLOCKMQ_PORT" "$API" "$TOKEN" "$1" <<-\EOF
	import sys, threading, time, urllib.request
	import paho.mqtt.client as mqtt
	port, api, token, body = sys.argv[1:5]
	fate, clients = {}, []
	def make(cid, proto, user):
	    c = mqtt.Client(client_id=cid, protocol=proto)
	    if user:
	        c.username_pw_set(user, "x")
	    up = threading.Event()
	    c.on_connect = lambda *a: up.set()
	    def gone(client, userdata, rc, props=None):
	        fate.setdefault(cid, "kicked" + (" 0x%02x" % rc.value
	                        if hasattr(rc, "value") else ""))
	    c.on_disconnect = gone
	    c.connect("127.0.0.1", int(port), 60)
	    c.loop_start()
	    if not up.wait(5):
	        sys.exit("%s did not connect" % cid)
	    clients.append(c)
	make("on-id", mqtt.MQTTv5, "on-user")
	make("on-v4", mqtt.MQTTv311, None)
	make("on-other", mqtt.MQTTv5, None)
	req = urllib.request.Request(api + "/banned", data=body.encode(),
	    method="POST", headers={"Authorization": "Bearer " + token,
	                            "Content-Type": "application/json"})
	urllib.request.urlopen(req, timeout=10).read()
	time.sleep(2)
	for c in clients:
	    cid = c._client_id.decode()
	    print("%s %s" % (cid, fate.get(cid, "connected")))
	    c.disconnect()
	    c.loop_stop()
	EOF
}

test_expect_success 'a new ban by client id disconnects that client (0x98) only' '
	online "{\"as\":\"clientid\",\"who\":\"on-id\"}" >actual &&
	cat >expect <<-\EOF &&
	on-id kicked 0x98
	on-v4 connected
	on-other connected
	EOF
	test_cmp expect actual &&
	broker_log_grep "disconnecting client .on-id., banned" &&
	unban clientid on-id
'

test_expect_success 'a new ban by username or address disconnects what it matches' '
	online "{\"as\":\"username\",\"who\":\"on-user\"}" >actual &&
	cat >expect <<-\EOF &&
	on-id kicked 0x98
	on-v4 connected
	on-other connected
	EOF
	test_cmp expect actual &&
	unban username on-user &&
	online "{\"as\":\"peerhost\",\"who\":\"127.0.0.1\"}" >actual &&
	cat >expect <<-\EOF &&
	on-id kicked 0x98
	on-v4 kicked
	on-other kicked 0x98
	EOF
	test_cmp expect actual &&
	unban peerhost 127.0.0.1
'

test_expect_success 'a regular expression applies at the next CONNECT only, as in EMQX' '
	online "{\"as\":\"clientid_re\",\"who\":\"^on-\"}" >actual &&
	cat >expect <<-\EOF &&
	on-id connected
	on-v4 connected
	on-other connected
	EOF
	test_cmp expect actual &&
	refused_v5 on-id &&
	unban clientid_re "%5Eon-"
'

test_expect_success 'DELETE /banned clears the whole list' '
	ban "{\"as\":\"clientid\",\"who\":\"clear-1\"}" &&
	ban "{\"as\":\"username\",\"who\":\"clear-2\"}" &&
	api DELETE /banned &&
	expect_code 204 &&
	list &&
	has_meta 1 100 0 false &&
	accepted clear-1 clear-2
'

test_expect_success 'a banned username is refused, other users are not' '
	ban "{\"as\":\"username\",\"who\":\"mallory\",\"until\":\"infinity\"}" &&
	test "$(jq -r .until out)" = infinity &&
	refused_v5 c1 mallory &&
	refused_v4 c1 mallory &&
	accepted c1 alice &&
	accepted c1 &&
	test_expect_code 138 mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT \
	    -i c2 -u mallory -P pw -V mqttv5 -t t -m x 2>err &&
	unban username mallory &&
	accepted c1 mallory
'

test_expect_success 'a banned peer address (127.0.0.1) refuses every client' '
	ban "{\"as\":\"peerhost\",\"who\":\"127.0.0.1\"}" &&
	refused_v5 anyone &&
	refused_v4 anyone &&
	broker_log_grep "client .anyone. 127\.0\.0\.1:[0-9]* refused:" >log &&
	test_grep "banned (peerhost .127\.0\.0\.1. by .admin." log &&
	unban peerhost 127.0.0.1 &&
	accepted anyone
'

test_expect_success 'an IPv4-mapped address is the same ban' '
	ban "{\"as\":\"peerhost\",\"who\":\"::ffff:127.0.0.1\"}" &&
	test "$(jq -r .who out)" = 127.0.0.1 &&
	refused_v5 anyone &&
	unban peerhost 127.0.0.1 &&
	accepted anyone
'

test_expect_success 'a banned network (CIDR) refuses its addresses only' '
	ban "{\"as\":\"peerhost_net\",\"who\":\"10.0.0.0/8\"}" &&
	accepted anyone &&
	ban "{\"as\":\"peerhost_net\",\"who\":\"127.1.2.3/8\"}" &&
	test "$(jq -r .who out)" = 127.0.0.0/8 &&
	refused_v5 anyone &&
	refused_v4 anyone &&
	broker_log_grep "refused: banned (peerhost_net .127\.0\.0\.0/8." &&
	ban "{\"as\":\"peerhost_net\",\"who\":\"2001:db8::1/32\"}" &&
	test "$(jq -r .who out)" = 2001:db8::/32 &&
	unban peerhost_net 127.0.0.0%2F8 &&
	accepted anyone &&
	unban peerhost_net 10.0.0.0%2F8 &&
	unban peerhost_net 2001:db8::%2F32
'

test_expect_success 'regular expressions: clientid_re and username_re' '
	ban "{\"as\":\"clientid_re\",\"who\":\"^bot-[0-9]+$\"}" &&
	ban "{\"as\":\"username_re\",\"who\":\"^guest\"}" &&
	refused_v5 bot-42 &&
	refused_v4 bot-7 &&
	accepted bot-x &&
	refused_v5 c1 guest17 &&
	accepted c1 theguest &&
	unban clientid_re "%5Ebot-%5B0-9%5D%2B%24" &&
	accepted bot-42 &&
	unban username_re "%5Eguest" &&
	accepted c1 guest17
'

test_expect_success 'an expiring ban lifts by itself and leaves the list' '
	until=$(rfc3339 3) &&
	ban "{\"as\":\"clientid\",\"who\":\"brief\",\"until\":\"$until\"}" &&
	test "$(jq -r .until out)" = "$until" &&
	refused_v5 brief &&
	wait_for "test \"\$(paho 5 brief)\" = 0x00" 10 &&
	accepted brief &&
	list &&
	jq -e ".meta.count == 0 and .data == []" list.json
'

test_expect_success 'bad bodies are 400 BAD_REQUEST and change nothing' '
	ban "{\"as\":\"clientid\",\"who\":\"keep\"}" &&
	list && cp list.json list.before &&
	past=$(rfc3339 -3600) &&
	for body in \
	    "{\"as\":\"ip\",\"who\":\"x\"}" \
	    "{\"who\":\"x\"}" \
	    "{\"as\":\"clientid\"}" \
	    "{\"as\":\"clientid\",\"who\":\"\"}" \
	    "{\"as\":\"clientid\",\"who\":42}" \
	    "{\"as\":7,\"who\":\"x\"}" \
	    "{\"as\":\"clientid\",\"who\":\"x\",\"reason\":[]}" \
	    "{\"as\":\"clientid\",\"who\":\"x\",\"by\":{}}" \
	    "{\"as\":\"clientid\",\"who\":\"x\",\"until\":\"tomorrow\"}" \
	    "{\"as\":\"clientid\",\"who\":\"x\",\"until\":\"2031-02-30T00:00:00Z\"}" \
	    "{\"as\":\"clientid\",\"who\":\"x\",\"until\":\"$past\"}" \
	    "{\"as\":\"clientid\",\"who\":\"x\",\"at\":\"infinity\"}" \
	    "{\"as\":\"clientid\",\"who\":\"x\",\"at\":true}" \
	    "{\"as\":\"peerhost\",\"who\":\"localhost\"}" \
	    "{\"as\":\"peerhost\",\"who\":\"10.0.0.0/8\"}" \
	    "{\"as\":\"peerhost_net\",\"who\":\"10.0.0.0/33\"}" \
	    "{\"as\":\"peerhost_net\",\"who\":\"::/129\"}" \
	    "{\"as\":\"peerhost_net\",\"who\":\"10.0.0.0/\"}" \
	    "{\"as\":\"clientid_re\",\"who\":\"(unclosed\"}" \
	    "[\"clientid\",\"x\"]" \
	    "{\"as\":\"clientid\"" \
	    "x"
	do
		api POST /banned "$body" &&
		expect_code 400 BAD_REQUEST || {
			echo "body: $body"
			return 1
		}
	done &&
	api POST /banned "{\"as\":\"clientid\",\"who\":\"x\",\"until\":\"$past\"}" &&
	jq -r .message out >msg &&
	test_grep "in the past" msg &&
	api POST /banned "{\"as\":\"peerhost_net\",\"who\":\"10.0.0.0/33\"}" &&
	jq -r .message out >msg &&
	test_grep "not a network" msg &&
	list &&
	test_cmp list.before list.json &&
	accepted x
'

test_expect_success 'the list: oldest first, with every field; pagination' '
	cat >body <<-\EOF &&
	{"as": "username", "who": "u1", "by": "ops", "reason": "r1",
	 "at": "2024-01-02T03:04:05+01:00", "until": "2099-01-01T00:00:00Z"}
	EOF
	ban "$(cat body)" &&
	ban "{\"as\":\"peerhost\",\"who\":\"192.0.2.1\"}" &&
	ban "{\"as\":\"peerhost_net\",\"who\":\"198.51.100.0/24\"}" &&
	list &&
	jq -c ".data[0]" list.json >actual &&
	cat >expect <<-\EOF &&
	{"as":"username","who":"u1","by":"ops","reason":"r1","at":"2024-01-02T02:04:05Z","until":"2099-01-01T00:00:00Z"}
	EOF
	test_cmp expect actual &&
	jq -r ".data[] | .as + \" \" + .who" list.json >actual &&
	cat >expect <<-\EOF &&
	username u1
	clientid keep
	peerhost 192.0.2.1
	peerhost_net 198.51.100.0/24
	EOF
	test_cmp expect actual &&
	has_meta 1 100 4 false &&
	jq -c "[.data[] | keys] | unique" list.json >actual &&
	echo "[[\"as\",\"at\",\"by\",\"reason\",\"until\",\"who\"]]" >expect &&
	test_cmp expect actual &&
	list "page=1&limit=3" &&
	has_meta 1 3 4 true &&
	jq -r ".data[] | .who" list.json >actual &&
	printf "%s\n" u1 keep 192.0.2.1 >expect &&
	test_cmp expect actual &&
	list "page=2&limit=3" &&
	has_meta 2 3 4 false &&
	jq -r ".data[] | .who" list.json >actual &&
	echo 198.51.100.0/24 >expect &&
	test_cmp expect actual &&
	list "page=3&limit=3" &&
	jq -e ".data == []" list.json
'

test_expect_success 'bans survive a restart' '
	list && cp list.json list.before &&
	restart_broker &&
	login &&
	broker_log_grep "banned: 4 bans loaded from the store" &&
	list &&
	test_cmp list.before list.json &&
	refused_v5 keep &&
	refused_v4 c1 u1 &&
	accepted c1 u2
'

test_expect_success 'a damaged ban record stops start-up' '
	stop_broker &&
	store-tool "$STORE" put b/clientid garbage &&
	refused "ban record .b/clientid. is damaged" "flockmq store repair"
'

test_expect_success 'store repair drops it and keeps the good bans' '
	store_repair >out 2>&1 &&
	test_grep "store repaired" out &&
	test_must_fail store-tool "$STORE" get b/clientid &&
	start_broker &&
	login &&
	list &&
	test_cmp list.before list.json
'

test_expect_success 'expired bans are deleted from the store at start-up' '
	until=$(rfc3339 2) &&
	ban "{\"as\":\"clientid\",\"who\":\"short\",\"until\":\"$until\"}" &&
	stop_broker &&
	store-tool "$STORE" list >records &&
	test_grep "^b/clientid.x00short	" records &&
	wait_until_epoch "$(( $(date -u -d "$until" +%s) + 1 ))" &&
	start_broker &&
	login &&
	list &&
	test_cmp list.before list.json &&
	stop_broker &&
	store-tool "$STORE" list >records &&
	test_grep ! "short" records &&
	start_broker
'

test_done
