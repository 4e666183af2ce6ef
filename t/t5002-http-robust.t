#!/bin/sh

test_description='the HTTP server under bad and hostile input

Raw sockets against the dashboard port and the ctl socket: garbage
request lines, headers that never end, a body cut short by a peer that
goes away, a Content-Length that lies, many idle connections at once,
non-UTF-8 and NUL bytes in JSON, deep JSON nesting, and a ctl socket
that a second node may not take over.  Each is refused or dropped without
disturbing the REST API, MQTT clients or the node, and the node stops
cleanly afterwards.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-rest.sh

# raw PY: run a Python snippet with socket helpers: conn() opens a socket
# to the dashboard port, ask(data) sends and returns what comes back
# until the peer closes (5 s at most).
raw () {
	"$PYTHON" - "$FLOCKMQ_PORT2" "$1" <<-\EOF
	import socket, sys, time
	port = int(sys.argv[1])
	def conn():
	    s = socket.create_connection(("127.0.0.1", port), timeout=5)
	    return s
	def ask(data, s=None):
	    s = s or conn()
	    s.sendall(data)
	    out = b""
	    end = time.time() + 5
	    while time.time() < end:
	        try:
	            b = s.recv(65536)
	        except socket.timeout:
	            break
	        if not b:
	            break
	        out += b
	    s.close()
	    return out
	exec(sys.argv[2])
	EOF
}

# subscriber_up: GET /clients lists a client.
subscriber_up () {
	api GET /clients &&
	jcheck 'j["meta"]["count"] >= 1' 2>/dev/null
}

# healthy: the REST API answers and an MQTT round trip works.
healthy () {
	api GET /nodes &&
	expect_code 200 &&
	mosquitto_sub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -t robust/t -C 1 \
	    -W 5 >sub.out &
	sub_pid=$! &&
	wait_for subscriber_up 5 &&
	mosquitto_pub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -t robust/t -m ok &&
	wait "$sub_pid" &&
	echo ok >expect.sub &&
	test_cmp expect.sub sub.out
}

test_expect_success 'start the broker and log in' '
	start_broker &&
	login &&
	healthy
'

test_expect_success 'a garbage request gets 400 (or 505) or a close, and nothing else' '
	raw "
for junk in (b\"\\x16\\x03\\x01\\x00\\xa5garbage\\r\\n\\r\\n\", b\"GET\\r\\n\\r\\n\",
             b\"GET / HTTP/9.9\\r\\n\\r\\n\", b\"\\x00\" * 5000 + b\"\\r\\n\\r\\n\"):
    r = ask(junk)
    assert r == b\"\" or r.startswith(b\"HTTP/1.1 400\") or \\
        r.startswith(b\"HTTP/1.1 505\"), (junk[:20], r[:80])
" &&
	healthy
'

test_expect_success 'a body cut short by a peer that goes away changes nothing' '
	raw "
s = conn()
s.sendall(b\"POST /api/v5/api_key HTTP/1.1\\r\\nHost: x\\r\\n\"
          b\"Authorization: Bearer $TOKEN\\r\\n\"
          b\"Content-Type: application/json\\r\\n\"
          b\"Content-Length: 1000\\r\\n\\r\\n{\\\"name\\\": \\\"half\")
s.close()
" &&
	api GET /api_key &&
	jcheck "j == []" &&
	healthy
'

test_expect_success 'a Content-Length over the body sent: nothing happens until the timeout' '
	raw "
s = conn()
s.settimeout(1)
s.sendall(b\"POST /api/v5/banned HTTP/1.1\\r\\nHost: x\\r\\n\"
          b\"Authorization: Bearer $TOKEN\\r\\n\"
          b\"Content-Length: 100\\r\\n\\r\\n{}\")
try:
    r = s.recv(100)
except socket.timeout:
    r = None
assert r is None, r
s.close()
" &&
	api GET /banned &&
	jcheck "j[\"meta\"][\"count\"] == 0" &&
	healthy
'

test_expect_success '100 idle and half-open connections do not block the API' '
	raw "
held = []
for i in range(100):
    s = conn()
    if i % 2:
        s.sendall(b\"GET /api/v5/nodes HTTP/1.1\\r\\nHost: x\\r\\n\")
    held.append(s)
r = ask(b\"GET /status HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n\")
assert r.startswith(b\"HTTP/1.1 200\"), r[:80]
for s in held:
    s.close()
" &&
	healthy
'

test_expect_success 'two requests on one connection (keep-alive) both answer' '
	raw "
s = conn()
req = b\"GET /status HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n\"
r = ask(req + req[:-2] + b\"Connection: close\\r\\n\\r\\n\", s)
assert r.count(b\"HTTP/1.1 200\") == 2, r
"
'

test_expect_success 'bad bytes in JSON: 400, and nothing stored' '
	printf "{\"name\":\"k\\377\\376\"}" >bad.json &&
	http_do POST "$API/api_key" -H "Authorization: Bearer $TOKEN" \
	    --data-binary @bad.json &&
	expect_code 400 BAD_REQUEST &&
	printf "{\"as\":\"clientid\",\"who\":\"a\\\\u0000b\"}" >nul.json &&
	http_do POST "$API/banned" -H "Authorization: Bearer $TOKEN" \
	    --data-binary @nul.json &&
	expect_code 400 BAD_REQUEST &&
	api GET /api_key &&
	jcheck "j == []" &&
	api GET /banned &&
	jcheck "j[\"meta\"][\"count\"] == 0"
'

test_expect_success 'deeply nested JSON is refused, not a crash' '
	"$PYTHON" -c "print(\"[\" * 100000 + \"]\" * 100000)" >deep.json &&
	http_do POST "$API/publish/bulk" -H "Authorization: Bearer $TOKEN" \
	    --data-binary @deep.json &&
	expect_code 400 BAD_REQUEST &&
	healthy
'

test_expect_success 'a second node on the same data_dir does not take the ctl socket' '
	cp "$BROKER_CONFIG" second.yaml &&
	sed -i "s/$FLOCKMQ_PORT\"/$FLOCKMQ_PORT3\"/; s/$FLOCKMQ_PORT2\"/$FLOCKMQ_PORT4\"/" \
	    second.yaml &&
	test_expect_code 1 timeout 20 "$FLOCKMQ_BUILD/src/flockmq" \
	    -c second.yaml foreground >second.log 2>&1 &&
	test -S "$BROKER_DATA/ctl.sock" &&
	curl -s -S --unix-socket "$BROKER_DATA/ctl.sock" \
	    http://ctl/api/v5/nodes >out &&
	jcheck "j[0][\"node\"] == \"flockmq@127.0.0.1\""
'

test_expect_success 'the node stops cleanly and removes its ctl socket' '
	stop_broker &&
	test "$BROKER_EXIT" = 0 &&
	! test -e "$BROKER_DATA/ctl.sock"
'

test_expect_success 'a ctl socket left by a killed node is replaced at start' '
	start_broker &&
	kill_broker &&
	test -S "$BROKER_DATA/ctl.sock" &&
	start_broker &&
	curl -s -S --unix-socket "$BROKER_DATA/ctl.sock" \
	    http://ctl/api/v5/nodes >out &&
	jcheck "j[0][\"node_status\"] == \"running\"" &&
	stop_broker
'

test_expect_success 'dashboard.cors: preflight 204 and Access-Control headers; off by default' '
	start_broker &&
	http_do OPTIONS "$API/clients" -H "Origin: http://elsewhere" &&
	test_grep ! -i "^access-control-allow-origin" hdr &&
	stop_broker &&
	broker_config <<-\EOF &&
	dashboard.cors: true
	EOF
	start_broker &&
	http_do OPTIONS "$API/clients" -H "Origin: http://elsewhere" \
	    -H "Access-Control-Request-Method: GET" &&
	expect_code 204 &&
	test_grep -i "^access-control-allow-origin: \*" hdr &&
	test_grep -i "^access-control-allow-headers:.*authorization" hdr &&
	http_do GET "$API/status" &&
	test_grep -i "^access-control-allow-origin: \*" hdr &&
	api GET /clients &&
	expect_code 401 BAD_TOKEN &&
	stop_broker
'

test_done
