#!/bin/sh

test_description='the dashboard (admin-ui/) in headless Chromium

t/node/dashboard.mjs drives Debian'"'"'s Chromium with playwright-core
(t/node/node_modules, from npm ci): it logs in as admin with the default
password, is made to change it, reads the overview, publishes to a real
MQTT client (paho), finds that client in the clients table, opens its
details and kicks it out, stops and starts the listener, bans and unbans,
collapses the nav in a narrow window, logs out and checks that the old
password no longer works.  Any console error or uncaught exception in
the page fails it.  Screenshots of every page go to
t/screenshots/t5030-dashboard in the build tree, kept after the run.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh

NODE_DIR=$TEST_DIRECTORY/node
CHROMIUM=/usr/bin/chromium
NEW_PWD='Dash-board-2nd!'
SHOTS=$FLOCKMQ_BUILD/t/screenshots/t5030-dashboard
rm -rf "$SHOTS"
DASH_URL=http://127.0.0.1:$FLOCKMQ_PORT2

test -x "$CHROMIUM" ||
	test_skip_all "no $CHROMIUM (Debian package chromium)"
command -v node >/dev/null 2>&1 ||
	test_skip_all 'no node (Debian package nodejs)'
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' ||
	test_skip_all "node $(node --version) is too old for playwright-core (20 or later)"
test -f "$NODE_DIR/package-lock.json" ||
	test_skip_all "no $NODE_DIR/package-lock.json"
# playwright-core comes from npm ci (contrib/deps.sh runs it); without it,
# try once here, and skip if that fails (no npm, no network, read-only
# source tree).
if ! test -f "$NODE_DIR/node_modules/playwright-core/package.json"; then
	command -v npm >/dev/null 2>&1 ||
		test_skip_all 'no playwright-core in t/node/node_modules, and no npm to install it'
	if ! npm ci --prefix "$NODE_DIR" --no-audit --no-fund >npm.log 2>&1; then
		test_diag "npm ci --prefix $NODE_DIR failed:"
		tail -n 5 npm.log | sed 's/^/# | /' >&6
		test_skip_all 'cannot install playwright-core (npm ci failed)'
	fi
fi

# mqtt_client.py CLIENTID PORT PROTOCOL [N]: a paho client that connects
# (username dash-user, keepalive 30), subscribes to dash/test/# and
# dash/alerts (dash-test-client) or to dash/other/+ (others, which also
# publish there four times a second, for the charts), prints what happens,
# and exits 0 once the broker closes its connection.  It never reconnects.
# N more clients, dash-bulk-1..N, only connect (for the clients' pages).
cat >mqtt_client.py <<\EOF
import sys, time
import paho.mqtt.client as mqtt

cid, port, proto = sys.argv[1], int(sys.argv[2]), sys.argv[3]
gone = []
c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5 if proto == "5" else mqtt.MQTTv311,
                **({} if proto == "5" else {"clean_session": True}))
c.username_pw_set("dash-user")

def on_connect(c, u, flags, rc, props=None):
    print("connected rc=%s" % rc, flush=True)
    if cid == "dash-test-client":
        c.subscribe([("dash/test/#", 1), ("dash/alerts", 0)])
    else:
        c.subscribe("dash/other/+", 2)

def on_subscribe(c, u, mid, granted, props=None):
    print("subscribed", flush=True)

def on_message(c, u, m):
    print("message %s %s" % (m.topic, m.payload.decode(errors="replace")), flush=True)

def on_disconnect(c, u, rc, props=None):
    print("disconnected rc=%s" % rc, flush=True)
    gone.append(rc)

c.on_connect, c.on_subscribe = on_connect, on_subscribe
c.on_message, c.on_disconnect = on_message, on_disconnect
c.connect("127.0.0.1", port, keepalive=30)
bulk = []
for i in range(int(sys.argv[4]) if len(sys.argv) > 4 else 0):
    b = mqtt.Client(client_id="dash-bulk-%d" % (i + 1))
    b.connect("127.0.0.1", port, keepalive=30)
    bulk.append(b)
deadline = time.time() + 300
next_pub = 0
while not gone and time.time() < deadline:
    c.loop(timeout=0.05)
    for b in bulk:
        b.loop(timeout=0)
    if cid != "dash-test-client" and c.is_connected() and time.time() >= next_pub:
        c.publish("dash/other/tick", "tick", qos=1)
        next_pub = time.time() + 0.25
sys.exit(0 if gone else 1)
EOF

test_expect_success 'start the broker' '
	start_broker
'

test_expect_success 'a fresh node serves the dashboard and wants its password changed' '
	curl -sS -o index.html -w "%{http_code} %{content_type}\n" "$DASH_URL/" >got &&
	test_grep "^200 text/html" got &&
	test_grep "<script type=\"module\" src=\"js/app.js\">" index.html &&
	curl -sS -o /dev/null -w "%{http_code}\n" "$DASH_URL/js/app.js" >got &&
	echo 200 >expect &&
	test_cmp expect got &&
	curl -sS -X POST -H "Content-Type: application/json" \
		-d "{\"username\":\"admin\",\"password\":\"public\"}" \
		"$DASH_URL/api/v5/login" >login.json &&
	test_grep "\"must_change_password\": *true" login.json
'

test_expect_success 'MQTT clients connect and subscribe' '
	test_spawn "$PYTHON" mqtt_client.py dash-test-client $FLOCKMQ_PORT 4 >client.out 2>client.err &&
	client_pid=$! &&
	test_spawn "$PYTHON" mqtt_client.py dash-other-client $FLOCKMQ_PORT 5 10 >other.out 2>other.err &&
	other_pid=$! &&
	wait_for "grep -q ^subscribed client.out && grep -q ^subscribed other.out" ||
	{ cat client.out client.err other.out other.err; false; }
'

test_expect_success 'the dashboard, driven in Chromium, passes every step' '
	test_when_finished "test_diag \"\$(cat dashboard.out 2>/dev/null)\"" &&
	CHROMIUM=$CHROMIUM node "$NODE_DIR/dashboard.mjs" "$DASH_URL/" "$SHOTS" \
		dash-test-client "$NEW_PWD" >dashboard.out 2>dashboard.err
	dash_status=$? &&
	cat dashboard.out dashboard.err &&
	test "$dash_status" = 0 &&
	test_grep ! "^not ok" dashboard.out &&
	test_grep "^ok - the new password logs in" dashboard.out
'

test_expect_success 'the message published from the dashboard reached the client' '
	test_grep "^message dash/test/greeting hello from the dashboard\$" client.out
'

test_expect_success 'the kicked client saw its connection closed' '
	wait_for "! test_pid_alive $client_pid" 5 &&
	wait "$client_pid" &&
	test_grep "^disconnected" client.out &&
	test "$(grep -c ^connected client.out)" = 1
'

test_expect_success 'the other client was left alone' '
	test_pid_alive $other_pid &&
	test_grep ! "^disconnected" other.out &&
	kill $other_pid &&
	wait_for "! test_pid_alive $other_pid" 5
'

test_expect_success 'the REST API refuses the old password and takes the new one' '
	curl -sS -o old.json -w "%{http_code}\n" -X POST \
		-H "Content-Type: application/json" \
		-d "{\"username\":\"admin\",\"password\":\"public\"}" \
		"$DASH_URL/api/v5/login" >got &&
	echo 401 >expect &&
	test_cmp expect got &&
	test_grep BAD_USERNAME_OR_PWD old.json &&
	curl -sS -o new.json -w "%{http_code}\n" -X POST \
		-H "Content-Type: application/json" \
		-d "{\"username\":\"admin\",\"password\":\"$NEW_PWD\"}" \
		"$DASH_URL/api/v5/login" >got &&
	echo 200 >expect &&
	test_cmp expect got &&
	test_grep "\"must_change_password\": *false" new.json
'

test_expect_success 'a screenshot of every page' '
	printf "\211PNG" >magic &&
	bad= &&
	for name in login change-password overview publish clients \
		client-details subscriptions topics listeners metrics banned \
		overview-narrow clients-narrow
	do
		head -c 4 "$SHOTS/$name.png" >head 2>/dev/null &&
		cmp -s magic head ||
		bad="$bad $name.png"
	done &&
	test -z "$bad" || { echo "missing or not PNG in $SHOTS:$bad"; false; }
'

test_expect_success 'stop the broker' '
	stop_broker
'

test_done
