#!/bin/sh

test_description='MQTT over WebSocket (RFC 6455): ws listeners

paho-mqtt (transport="websockets", MQTT 5 and 3.1.1) and MQTT.js (Node,
t/node/ws-client.mjs) on listeners.ws.default, talking with plain TCP
clients; the upgrade request refused (400, 404, 426, 431); frames that
break RFC 6455 closed with 1002, 1003 or 1009 and a log line; ping, close,
fragmentation and MQTT packets spread over frames or sharing one; a stalled
upgrade cut at mqtt.idle_timeout; X-Forwarded-For in GET /clients; a 1 MB
message; and a plain TCP subscriber that keeps working through all of it.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-rest.sh

NODE_DIR=$TEST_DIRECTORY/node

# ws_py: a Python program on stdin with t/helper/ws.py (and pubsub.py).
ws_py () {
	MQTT_PORT=$FLOCKMQ_PORT WS_PORT=$FLOCKMQ_PORT3 \
	    PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" - "$@"
}

test_expect_success 'start the broker with two ws listeners' '
	broker_config <<-EOF &&
	listeners:
	  ws:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT3"
	    small:
	      bind: "127.0.0.1:$FLOCKMQ_PORT4"
	      websocket:
	        max_frame_size: 1KB
	mqtt:
	  idle_timeout: 2s
	  max_packet_size: 4MB
	EOF
	start_broker
'

# A plain TCP subscriber that runs through the whole script: tcp_ok N
# publishes keep/N on TCP and waits for the subscriber to have it.
test_expect_success 'a plain TCP subscriber' '
	cat >keep.py <<-\EOF &&
	import sys, time
	import paho.mqtt.client as mqtt
	c = mqtt.Client(client_id="keep-tcp", protocol=mqtt.MQTTv311)
	def on_connect(c, u, f, rc):
	    c.subscribe("keep/#", 1)
	def on_subscribe(c, u, mid, q):
	    print("subscribed", flush=True)
	def on_message(c, u, m):
	    print(m.topic, m.payload.decode(), flush=True)
	c.on_connect, c.on_subscribe, c.on_message = on_connect, on_subscribe, on_message
	c.connect("127.0.0.1", int(sys.argv[1]), 60)
	end = time.monotonic() + 600
	while time.monotonic() < end:
	    c.loop(0.2)
	EOF
	test_spawn "$PYTHON" keep.py $FLOCKMQ_PORT >keep.out 2>keep.err &&
	KEEP_PID=$! &&
	wait_for "grep -q subscribed keep.out" 10
'

tcp_ok () {
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -q 1 -t keep/$1 -m "$1" &&
	wait_for "grep -q \"^keep/$1 $1\$\" keep.out" 10 &&
	test_pid_alive $KEEP_PID
}

test_expect_success 'paho over ws, v5 and v3.1.1: QoS 0, 1, 2 to and from TCP' '
	ws_py <<-\EOF
	from ws import *
	for v in (5, 4):
	    tcp = Paho("tcp-sub-v%d" % v, version=v)
	    wss = WsPaho("ws-sub-v%d" % v, version=v)
	    check(tcp.subscribe("wsq/v%d/tcp" % v, qos=2) in ([2], [2]), "tcp sub")
	    check(wss.subscribe("wsq/v%d/ws" % v, qos=2) == [2], "ws sub")
	    pub_ws = WsPaho("ws-pub-v%d" % v, version=v)
	    pub_tcp = Paho("tcp-pub-v%d" % v, version=v)
	    for q in range(3):
	        pub_ws.publish("wsq/v%d/tcp" % v, "w%d" % q, qos=q)
	        pub_tcp.publish("wsq/v%d/ws" % v, "t%d" % q, qos=q)
	    got = {m.payload.decode(): m.qos for m in tcp.messages(3)}
	    check(got == {"w0": 0, "w1": 1, "w2": 2}, "ws -> tcp", got)
	    got = {m.payload.decode(): m.qos for m in wss.messages(3)}
	    check(got == {"t0": 0, "t1": 1, "t2": 2}, "tcp -> ws", got)
	    for c in (tcp, wss, pub_ws, pub_tcp):
	        c.disconnect()
	EOF
'

test_expect_success 'paho over ws: retained messages and a will' '
	ws_py <<-\EOF &&
	from ws import *
	pub = WsPaho("ret-pub", version=5)
	pub.publish("wsr/a", "kept", qos=1, retain=True)
	pub.disconnect()
	tcp = Paho("ret-tcp", version=4)
	tcp.subscribe("wsr/#", qos=1)
	m = tcp.messages(1)[0]
	check(m.payload == b"kept" and m.retain, "retained to tcp", m.payload)
	sub = WsPaho("ret-ws", version=4)
	sub.subscribe("wsr/#", qos=1)
	m = sub.messages(1)[0]
	check(m.payload == b"kept" and m.retain, "retained to ws", m.payload)
	# A will: a ws client that goes away without DISCONNECT.
	w = Ws()
	body = (mstr("MQTT") + bytes([4, 0x06]) + u16(60) + mstr("will-ws") +
	        mstr("wsr/will") + mstr("gone"))
	w.send_mqtt(packet(0x10, body))
	w.version = 4
	p = w.recv_packet()
	check(p.type == CONNACK and p.rc == 0, "CONNACK", p)
	w.close()
	for c in (tcp, sub):
	    m = c.messages(1)[0]
	    check(m.topic == "wsr/will" and m.payload == b"gone", "the will", m.topic, m.payload)
	pub = WsPaho("ret-clear")
	pub.publish("wsr/a", "", qos=1, retain=True)
	for c in (tcp, sub, pub):
	    c.disconnect()
	EOF
	tcp_ok 1
'

test_expect_success 'ws:default stopped at run time keeps its clients; start again' '
	login &&
	REST_URL=$API REST_TOKEN=$TOKEN ws_py <<-\EOF
	import socket
	from ws import *
	from rest import api
	old = WsPaho("ws-stays", version=5)
	old.subscribe("wsl/#", qos=1)
	api.post("/listeners/ws:default/stop", {})
	try:
	    socket.create_connection(("127.0.0.1", WS_PORT), timeout=2).close()
	    check(False, "a new connection to the stopped ws listener")
	except ConnectionRefusedError:
	    pass
	tcp = Paho("wsl-pub", version=5)
	tcp.publish("wsl/a", "still", qos=1)
	m = old.messages(1)[0]
	check(m.payload == b"still", "the ws client still gets messages", m.payload)
	l = [x for x in api.get("/listeners") if x["id"] == "ws:default"][0]
	check(l["running"] is False and l["current_connections"] >= 1,
	      "listed stopped, with its connection", l)
	api.post("/listeners/ws:default/start", {})
	new = WsPaho("ws-new", version=5)
	new.subscribe("wsl/#", qos=1)
	tcp.publish("wsl/b", "both", qos=1)
	for c in (old, new):
	    m = c.messages(1)[0]
	    check(m.payload == b"both", "after start", m.payload)
	for c in (old, new, tcp):
	    c.disconnect()
	EOF
'

node_ok=
if command -v node >/dev/null 2>&1 &&
   node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)'
then
	if ! test -f "$NODE_DIR/node_modules/mqtt/package.json" &&
	   command -v npm >/dev/null 2>&1 &&
	   test -f "$NODE_DIR/package-lock.json"
	then
		npm ci --prefix "$NODE_DIR" --no-audit --no-fund >npm.log 2>&1 ||
			test_diag "npm ci --prefix $NODE_DIR failed"
	fi
	test -f "$NODE_DIR/node_modules/mqtt/package.json" && node_ok=yes
fi

for v in 5 4 3
do
	test_skip_if 'no node 20 or no mqtt in t/node/node_modules' \
	    'test -z "$node_ok"'
	test_expect_success "MQTT.js over ws, v$v: subscribe, publish, receive" '
		ws_py "$NODE_DIR/ws-client.mjs" $v <<-\EOF
		import subprocess
		from ws import *
		script, v = sys.argv[1], sys.argv[2]
		tcp = Paho("js-tcp-v" + v, version=5)
		tcp.subscribe("js/out", qos=1)
		js = subprocess.Popen(["node", script, "ws://127.0.0.1:%d/mqtt" %
		                       WS_PORT, "mqttjs-v" + v, v],
		                      stdout=subprocess.PIPE, text=True)
		try:
		    line = js.stdout.readline().strip()
		    check(line == "ready", "node: ready", line)
		    m = tcp.messages(1)[0]
		    check(m.payload == b"from-js" and m.qos == 1, "from MQTT.js", m.payload)
		    tcp.publish("js/in", "to-js", qos=1)
		    js.wait(timeout=10 * SCALE)
		    out = js.stdout.read()
		finally:
		    if js.poll() is None:
		        js.kill()
		log(out)
		check(js.returncode == 0, "node exits 0", js.returncode, out)
		check("got js/in to-js" in out, "MQTT.js got the TCP message", out)
		check("got js/self/mqttjs-v%s self" % v in out, "MQTT.js got its own", out)
		tcp.disconnect()
		EOF
	'
done

test_expect_success 'upgrade requests refused: 404, 400, 426, 405, 431' '
	ws_py <<-\EOF &&
	from ws import *
	def req(path="/mqtt", drop=(), add=b"", method=b"GET", version=b"13"):
	    h = {b"Host": b"x", b"Upgrade": b"websocket",
	         b"Connection": b"keep-alive, Upgrade",
	         b"Sec-WebSocket-Key": b"dGhlIHNhbXBsZSBub25jZQ==",
	         b"Sec-WebSocket-Version": version}
	    r = method + b" " + path.encode() + b" HTTP/1.1\r\n"
	    for k, v in h.items():
	        if k.decode() not in drop:
	            r += k + b": " + v + b"\r\n"
	    return r + add + b"\r\n"
	st, h, b = http_raw(req("/nope"))
	check(st == 404, "wrong path: 404", st, b)
	st, h, b = http_raw(req(drop=("Sec-WebSocket-Key",)))
	check(st == 400, "no key: 400", st, b)
	st, h, b = http_raw(req(add=b"Sec-WebSocket-Key: c2hvcnQ=\r\n",
	                        drop=("Sec-WebSocket-Key",)))
	check(st == 400, "short key: 400", st, b)
	st, h, b = http_raw(req(drop=("Connection",)))
	check(st == 400, "no Connection: upgrade: 400", st, b)
	st, h, b = http_raw(req(drop=("Upgrade",)))
	check(st == 426, "no Upgrade: 426", st, b)
	st, h, b = http_raw(req(version=b"8"))
	check(st == 426 and h.get("sec-websocket-version") == "13",
	      "version 8: 426 naming 13", st, h)
	st, h, b = http_raw(req(method=b"POST"))
	check(st == 405, "POST: 405", st, b)
	st, h, b = http_raw(req(add=b"X-Big: " + b"a" * 9000 + b"\r\n"))
	check(st == 431, "9 KB of headers: 431", st, b)
	st, h, b = http_raw(connect_packet("mqtt-on-ws", 5))
	check(st == 400, "MQTT bytes instead of HTTP: 400 at once", st, b)
	st, h, b = http_raw(b"\x16\x03\x01\x02\x00\x01")
	check(st == 400, "a TLS ClientHello: 400 at once", st, b)
	# The upgrade works with the same request right.
	w = Ws(protocol="mqttv3.1")
	check(w.headers.get("sec-websocket-protocol") == "mqttv3.1",
	      "subprotocol mqttv3.1 echoed", w.headers)
	w.close()
	w = Ws(protocol=None)
	check("sec-websocket-protocol" not in w.headers, "none offered: none", w.headers)
	w.close()
	w = Ws(protocol="foo, mqtt")
	check(w.headers.get("sec-websocket-protocol") == "mqtt", "mqtt picked", w.headers)
	w.close()
	EOF
	broker_log_grep "ws: .* closed: upgrade refused with 404: path .\/nope. is not ./mqtt." &&
	broker_log_grep "ws: .* closed: upgrade refused with 400: bad Sec-WebSocket-Key" &&
	broker_log_grep "ws: .* closed: upgrade refused with 426: Sec-WebSocket-Version .8., not 13" &&
	broker_log_grep "ws: .* closed: upgrade refused with 431" &&
	broker_log_grep "ws: 127.0.0.1:[0-9]* closed: upgrade refused with 400: not an HTTP request" &&
	tcp_ok 2
'

test_expect_success 'an unmasked frame: close 1002 and a log line' '
	ws_py <<-\EOF &&
	from ws import *
	w = Ws()
	w.connect("unmasked")
	w.send_frame(OP_BINARY, b"\xc0\x00", mask=False)
	w.expect_close(1002)
	EOF
	broker_log_grep "ws: client .unmasked. 127.0.0.1:[0-9]* closed: unmasked client frame (close 1002)" &&
	tcp_ok 3
'

test_expect_success 'a frame over websocket.max_frame_size: close 1009' '
	ws_py $FLOCKMQ_PORT4 <<-\EOF &&
	from ws import *
	w = Ws(port=int(sys.argv[1]))
	w.connect("big-frame")
	w.send_mqtt(publish_packet("big/f", b"x" * 1000))
	w.send_mqtt(publish_packet("big/f", b"x" * 2000))
	w.expect_close(1009)
	# Only the length counts: the header alone is enough.
	w = Ws(port=int(sys.argv[1]))
	w.send(frame(OP_BINARY, b"", length=1 << 40)[:14])
	w.expect_close(1009)
	EOF
	broker_log_grep "ws: client .big-frame. .* closed: frame of 2011 bytes over websocket.max_frame_size 1024 (close 1009)" &&
	broker_log_grep "closed: frame of 1099511627776 bytes" &&
	tcp_ok 4
'

test_expect_success 'text frames, reserved bits, unknown opcodes, bad control frames' '
	ws_py <<-\EOF &&
	from ws import *
	w = Ws()
	w.connect("text")
	w.send_frame(OP_TEXT, b"hello")
	w.expect_close(1003)
	for f in (frame(OP_BINARY, b"\xc0\x00", rsv=4), frame(3, b"x"),
	          frame(OP_PING, b"x" * 126), frame(OP_PING, b"x", fin=False),
	          frame(OP_CONT, b"x"), frame(OP_CLOSE, b"\x03")):
	    w = Ws()
	    w.send(f)
	    w.expect_close(1002)
	# A binary frame inside a fragmented message.
	w = Ws()
	w.send(frame(OP_BINARY, b"\x10", fin=False) + frame(OP_BINARY, b"\x10"))
	w.expect_close(1002)
	EOF
	broker_log_grep "ws: client .text. .* closed: text frame (close 1003)" &&
	broker_log_grep "closed: reserved bits set in a frame (close 1002)" &&
	broker_log_grep "closed: unknown opcode 3 (close 1002)" &&
	broker_log_grep "closed: long control frame (close 1002)" &&
	broker_log_grep "closed: fragmented control frame (close 1002)" &&
	broker_log_grep "closed: continuation frame without a message (close 1002)" &&
	broker_log_grep "closed: binary frame inside a fragmented message (close 1002)" &&
	tcp_ok 5
'

test_expect_success 'ping gets a pong with its payload; a close is echoed' '
	ws_py <<-\EOF
	from ws import *
	w = Ws()
	w.send_frame(OP_PING, b"before connect")
	check(w.recv_frame() == (True, OP_PONG, b"before connect"), "pong 1")
	w.connect("pinger")
	w.send_frame(OP_PING, b"")
	check(w.recv_frame() == (True, OP_PONG, b""), "empty pong")
	w.send_frame(OP_PONG, b"unasked")
	w.send_frame(OP_PING, b"p" * 125)
	check(w.recv_frame() == (True, OP_PONG, b"p" * 125), "125-byte pong")
	w.send_frame(OP_CLOSE, struct.pack(">H", 1000) + b"bye")
	w.expect_close(1000)
	# A close without a code is answered with 1000.
	w = Ws()
	w.send_frame(OP_CLOSE, b"")
	w.expect_close(1000)
	# DISCONNECT then close in one segment, as MQTT.js sends them.
	t = Paho("close-tcp", version=5)
	t.subscribe("close/#", qos=0)
	w = Ws()
	w.connect("closer", version=4)
	body = (mstr("MQTT") + bytes([4, 0x06]) + u16(60) + mstr("closer2") +
	        mstr("close/will") + mstr("gone"))
	w2 = Ws()
	w2.send(frame(OP_BINARY, packet(0x10, body)))
	w2.version = 4
	check(w2.recv_packet().type == CONNACK, "CONNACK")
	w2.send(frame(OP_BINARY, b"\xe0\x00") + frame(OP_CLOSE, struct.pack(">H", 1000)))
	w2.expect_close(1000)
	t.expect_nothing(0.5)
	t.disconnect()
	EOF
'

test_expect_success 'a CONNECT over 3 frames; several packets in one frame' '
	ws_py <<-\EOF &&
	from ws import *
	t = Paho("split-tcp", version=5)
	t.subscribe("split/#", qos=1)
	w = Ws()
	c = connect_packet("split-ws", 5)
	w.send(frame(OP_BINARY, c[:3]))
	time.sleep(0.05)
	w.send(frame(OP_BINARY, c[3:10]))
	time.sleep(0.05)
	w.send(frame(OP_BINARY, c[10:]))
	p = w.recv_packet()
	check(p.type == CONNACK and p.rc == 0, "CONNACK", p)
	# SUBSCRIBE and two PUBLISH in one frame.
	w.send_mqtt(subscribe_packet(1, [("split/ws", 1)]) +
	            publish_packet("split/a", "one", qos=1, pid=2) +
	            publish_packet("split/b", "two", qos=0))
	got = [w.recv_packet() for i in range(2)]
	check(sorted(p.type for p in got) == [PUBACK, SUBACK], "SUBACK and PUBACK", got)
	check(sorted(t.payloads(2)) == ["one", "two"], "both published")
	# CONNECT and PUBLISH in one frame, and frames split anyhow across
	# TCP segments.
	w2 = Ws()
	data = frame(OP_BINARY, connect_packet("split-ws2", 5) +
	             publish_packet("split/c", "three")) + \
	       frame(OP_BINARY, publish_packet("split/d", "four"))
	for i in range(0, len(data), 5):
	    w2.send(data[i:i + 5])
	    time.sleep(0.01)
	check(w2.recv_packet().type == CONNACK, "CONNACK 2")
	check(t.payloads(2) == ["three", "four"], "in order")
	# A CONNECT and a SUBSCRIBE in two frames of one segment: the second
	# is read even when the session lives on another worker.
	for i in range(4):
	    w3 = Ws()
	    w3.send(frame(OP_BINARY, connect_packet("split-many-%d" % i, 5)) +
	            frame(OP_BINARY, subscribe_packet(1, [("split/x", 0)])))
	    got = [w3.recv_packet().type for j in range(2)]
	    check(got == [CONNACK, SUBACK], "CONNACK and SUBACK", i, got)
	    w3.close()
	# The same with 100 KB between them, more than one read takes.
	for i in range(4):
	    w3 = Ws()
	    w3.send(frame(OP_BINARY, connect_packet("split-big-%d" % i, 5)) +
	            frame(OP_BINARY, publish_packet("split/big", b"b" * 100000,
	                                            qos=1, pid=9)) +
	            frame(OP_BINARY, b"\xc0\x00"))
	    got = [w3.recv_packet().type for j in range(3)]
	    check(got == [CONNACK, PUBACK, PINGRESP], "CONNACK, PUBACK, PINGRESP",
	          i, got)
	    w3.close()
	t.disconnect()
	EOF
	tcp_ok 6
'

test_expect_success 'a message in fragments, with a ping between them' '
	ws_py <<-\EOF &&
	from ws import *
	t = Paho("frag-tcp", version=5)
	t.subscribe("frag/#", qos=0)
	w = Ws()
	w.connect("frag-ws")
	p = publish_packet("frag/t", "fragmented payload")
	w.send(frame(OP_BINARY, p[:4], fin=False))
	w.send(frame(OP_CONT, p[4:9], fin=False) + frame(OP_PING, b"mid"))
	check(w.recv_frame() == (True, OP_PONG, b"mid"), "pong between fragments")
	w.send(frame(OP_CONT, b"", fin=False) + frame(OP_CONT, p[9:]))
	check(t.payloads(1) == ["fragmented payload"], "delivered")
	# A new message may start after the last fragment.
	w.send(frame(OP_BINARY, publish_packet("frag/u", "next")))
	check(t.payloads(1) == ["next"], "next message")
	t.disconnect()
	EOF
	tcp_ok 7
'

# The CONNECT of a client id homed on another worker hands the socket over
# with the pong the same read queued (it once stayed in the flush list of
# the freed conn).
test_expect_success 'CONNECT and a ping in one read, then the hand-off: CONNACK and pong' '
	ws_py <<-\EOF
	from ws import *
	for i in range(24):
	    w = Ws()
	    w.version = 5
	    w.send(frame(OP_BINARY, connect_packet("ping-%d" % i, 5)) +
	           frame(OP_PING, b"p%d" % i))
	    got = []
	    while len(got) < 2:
	        fin, op, pl = w.recv_frame()
	        got.append((op, pl[:1] if op == OP_BINARY else pl))
	    check(sorted(got) == [(OP_BINARY, b"\x20"), (OP_PONG, b"p%d" % i)],
	          "CONNACK and pong %d" % i, got)
	    w.close()
	EOF
'

test_expect_success 'an upgrade that stalls is cut at mqtt.idle_timeout' '
	ws_py <<-\EOF &&
	from ws import *
	s = socket.create_connection((HOST, WS_PORT))
	s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: web")
	t0 = time.monotonic()
	s.settimeout(10)
	check(s.recv(100) == b"", "closed")
	dt = time.monotonic() - t0
	check(1.5 < dt < 5, "after about 2 s", dt)
	# After the upgrade, the CONNECT is waited for as long.
	w = Ws()
	t0 = time.monotonic()
	w.expect_close(1000, 10)
	dt = time.monotonic() - t0
	check(1.5 < dt < 5, "after about 2 s", dt)
	EOF
	broker_log_grep "conn: 127.0.0.1:[0-9]* closed: WebSocket upgrade not finished within 2 s" &&
	broker_log_grep "conn: 127.0.0.1:[0-9]* closed: no CONNECT within idle_timeout (2 s)" &&
	tcp_ok 8
'

test_expect_success 'X-Forwarded-For and X-Forwarded-Port give the client address' '
	ws_py "$API" <<-\EOF &&
	import json, urllib.request
	from ws import *
	api = sys.argv[1]
	def call(method, path, body=None, token=None):
	    r = urllib.request.Request(api + path, method=method,
	                               data=json.dumps(body).encode() if body else None)
	    r.add_header("Content-Type", "application/json")
	    if token:
	        r.add_header("Authorization", "Bearer " + token)
	    with urllib.request.urlopen(r, timeout=5) as f:
	        return json.load(f)
	token = call("POST", "/login", {"username": "admin", "password": "public"})["token"]
	w = Ws(headers={"X-Forwarded-For": " 203.0.113.7 , 10.0.0.1",
	                "X-Forwarded-Port": "4711"})
	w.connect("xff-v4")
	w6 = Ws(headers={"x-forwarded-for": "[2001:db8::5]"})
	w6.connect("xff-v6")
	bad = Ws(headers={"X-Forwarded-For": "not-an-address"})
	bad.connect("xff-bad")
	plain = WsPaho("xff-none")
	got = {}
	for cid in ("xff-v4", "xff-v6", "xff-bad", "xff-none"):
	    j = call("GET", "/clients/" + cid, token=token)
	    got[cid] = (j["ip_address"], j["port"])
	log(got)
	check(got["xff-v4"] == ("203.0.113.7", 4711), "v4 and port from the headers", got)
	check(got["xff-v6"][0] == "2001:db8::5", "v6 from the header", got)
	check(got["xff-bad"][0] == "127.0.0.1", "a bad header is ignored", got)
	check(got["xff-none"][0] == "127.0.0.1", "no header: the peer", got)
	j = call("GET", "/clients?ip_address=203.0.113.7", token=token)
	check([c["clientid"] for c in j["data"]] == ["xff-v4"], "found by ip_address", j)
	plain.disconnect()
	EOF
	broker_log_grep "client .xff-v4. 203.0.113.7:4711 connected" &&
	tcp_ok 9
'

test_expect_success 'a 1 MB message over ws, both ways, intact' '
	ws_py <<-\EOF &&
	import hashlib
	from ws import *
	big = bytes((i * 7 + (i >> 11)) & 0xff for i in range(1 << 20))
	t = Paho("big-tcp", version=5)
	t.subscribe("big/tcp", qos=1)
	w = WsPaho("big-ws", version=5)
	w.subscribe("big/ws", qos=1)
	w.publish("big/tcp", big, qos=1)
	t.publish("big/ws", big, qos=1)
	for c in (t, w):
	    m = c.messages(1, timeout=10)[0]
	    check(hashlib.sha1(m.payload).digest() == hashlib.sha1(big).digest(),
	          "%r: 1 MB intact" % c, len(m.payload))
	# A raw client reading slowly gets it in 64 KB frames.
	r = Ws()
	r.connect("big-raw")
	r.send_mqtt(subscribe_packet(1, [("big/ws", 0)]))
	check(r.recv_packet().type == SUBACK, "SUBACK")
	t.publish("big/ws", big, qos=0)
	p = r.recv_packet(10)
	check(p.type == PUBLISH and p.payload == big, "raw: intact")
	for c in (t, w):
	    c.disconnect()
	EOF
	tcp_ok 10
'

test_expect_success 'random frames and requests (seeded) leave the broker well' '
	ws_py <<-\EOF &&
	import random
	from ws import *
	rnd = random.Random(4020)
	def junk_frame():
	    op = rnd.choice([0, 1, 2, 2, 2, 3, 8, 9, 10, 15])
	    n = rnd.choice([0, 1, 2, 5, 125, 126, 127, 300, 70000])
	    return frame(op, bytes(rnd.getrandbits(8) for i in range(min(n, 2000))),
	                 fin=rnd.random() < 0.7, mask=rnd.random() < 0.9,
	                 rsv=rnd.choice([0, 0, 0, 0, 1, 4]),
	                 length=n if rnd.random() < 0.3 else None)
	for i in range(150):
	    try:
	        if i % 3 == 0:
	            req = (b"GET /mqtt HTTP/1.1\r\nUpgrade: websocket\r\n"
	                   b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
	                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
	            b = bytearray(req)
	            for k in range(rnd.randint(1, 4)):
	                b[rnd.randrange(len(b))] = rnd.getrandbits(8)
	            s = socket.create_connection((HOST, WS_PORT), 2)
	            s.sendall(bytes(b))
	        else:
	            w = Ws()
	            if i % 2:
	                w.send_mqtt(connect_packet("junk-%d" % i, 5))
	            s = w.sock
	            data = b"".join(junk_frame() for k in range(rnd.randint(1, 4)))
	            cut = rnd.randint(1, len(data))
	            s.sendall(data[:cut])
	        s.close()
	    except OSError:
	        pass
	t = Paho("after-junk", version=5)
	w = WsPaho("after-junk-ws", version=5)
	w.subscribe("junk/ok", qos=1)
	t.publish("junk/ok", "fine", qos=1)
	check(w.payloads(1) == ["fine"], "ws still works")
	t.disconnect()
	w.disconnect()
	EOF
	tcp_ok 11
'

test_expect_success 'the TCP subscriber saw everything; the broker stops cleanly' '
	tcp_ok 12 &&
	kill $KEEP_PID &&
	stop_broker
'

# wss: the same over TLS (tls.c), on $FLOCKMQ_PORT5.
wss_ok=
test_expect_success 'setup: test certificates, a wss listener' '
	sh "$FLOCKMQ_SRC/contrib/make-certs.sh" certs >certs.log 2>&1 &&
	C=$(pwd)/certs &&
	broker_config <<-EOF &&
	listeners:
	  wss:
	    default:
	      bind: "127.0.0.1:$FLOCKMQ_PORT5"
	      ssl_options:
	        certfile: "$C/server.pem"
	        keyfile: "$C/server.key"
	EOF
	if start_broker >wss-start.log 2>&1
	then
		wss_ok=yes
	else
		test_diag "the wss listener does not start:" &&
		sed -n "/listener\|tls\|ssl/p" "$BROKER_LOG" | tail -n 3 |
		    sed "s/^/# | /" >&6
	fi
'

test_skip_if 'no wss listener (TLS not available)' 'test -z "$wss_ok"'
test_expect_success 'wss: paho over TLS and WebSocket, to and from TCP' '
	ws_py $FLOCKMQ_PORT5 "$C/ca.pem" <<-\EOF
	import hashlib
	from ws import *
	port, ca = int(sys.argv[1]), sys.argv[2]
	for v in (5, 4):
	    t = Paho("wss-tcp-v%d" % v, version=v)
	    t.subscribe("wss/v%d/tcp" % v, qos=1)
	    w = WsPaho("wss-ws-v%d" % v, version=v, port=port, ca=ca)
	    check(w.subscribe("wss/v%d/ws" % v, qos=2) == [2], "wss sub")
	    for q in range(3):
	        w.publish("wss/v%d/tcp" % v, "w%d" % q, qos=q)
	        t.publish("wss/v%d/ws" % v, "t%d" % q, qos=q)
	    check(sorted(t.payloads(3)) == ["w0", "w1", "w2"], "wss -> tcp")
	    check(sorted(w.payloads(3)) == ["t0", "t1", "t2"], "tcp -> wss")
	    for c in (t, w):
	        c.disconnect()
	big = os.urandom(1 << 20)
	t = Paho("wss-big-tcp")
	t.subscribe("wss/big", qos=1)
	w = WsPaho("wss-big", port=port, ca=ca)
	w.subscribe("wss/big", qos=1)
	w.publish("wss/big", big, qos=1)
	for c in (t, w):
	    m = c.messages(1, timeout=10)[0]
	    check(m.payload == big, "%r: 1 MB intact over wss" % c, len(m.payload))
	    c.disconnect()
	EOF
'

test_skip_if 'no wss listener (TLS not available)' 'test -z "$wss_ok"'
test_expect_success 'wss: raw frames, ping, unmasked frame, bad upgrade' '
	ws_py $FLOCKMQ_PORT5 "$C/ca.pem" <<-\EOF &&
	from ws import *
	port, ca = int(sys.argv[1]), sys.argv[2]
	w = Ws(port=port, ca=ca)
	w.send_frame(OP_PING, b"tls")
	check(w.recv_frame() == (True, OP_PONG, b"tls"), "pong over TLS")
	w.connect("wss-raw")
	w.send_frame(OP_BINARY, b"\xc0\x00", mask=False)
	w.expect_close(1002)
	w = Ws(port=port, ca=ca, upgrade=False)
	w.send(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
	deadline = time.monotonic() + 5
	try:
	    while b"\r\n\r\n" not in w.buf:
	        w._fill(deadline)
	except Closed:
	    pass
	check(w.buf.startswith(b"HTTP/1.1 404 "), "404 over TLS", w.buf)
	EOF
	broker_log_grep "ws: client .wss-raw. .* closed: unmasked client frame (close 1002)" &&
	broker_log_grep "ws: .* closed: upgrade refused with 404: path ./other."
'

test_skip_if 'no wss listener (TLS not available)' 'test -z "$wss_ok"'
test_expect_success 'wss: MQTT.js, if there' '
	if test -z "$node_ok"
	then
		test_diag "skipped: no node or no mqtt package"
	else
		NODE_EXTRA_CA_CERTS=$C/ca.pem node "$NODE_DIR/ws-client.mjs" \
		    "wss://127.0.0.1:$FLOCKMQ_PORT5/mqtt" mqttjs-wss 5 >js.out &
		js_pid=$! &&
		test_track_pid $js_pid &&
		wait_for "grep -q ready js.out" 10 &&
		mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -q 1 -t js/in -m to-js &&
		wait_for "! test_pid_alive $js_pid" 10 &&
		wait $js_pid &&
		cat js.out &&
		grep -q "got js/in to-js" js.out &&
		grep -q "got js/self/mqttjs-wss self" js.out
	fi
'

test_skip_if 'no wss listener (TLS not available)' 'test -z "$wss_ok"'
test_expect_success 'wss: the broker stops cleanly' '
	stop_broker
'

test_done
