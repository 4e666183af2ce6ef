#!/bin/sh

test_description='TLS listeners (listeners.ssl.NAME, mbedTLS)

mosquitto_pub/sub and paho over TLS with the test CA of
contrib/make-certs.sh; client certificates with verify_peer (verified
when sent) and fail_if_no_peer_cert (required); untrusted, expired and
missing certificates, MQTT and HTTP in the clear, a wrong server name and
a silent client refused with one log line each; peer_cert_as_username;
big and many messages; a listener restart that loads a new certificate
while older TLS clients stay; bad settings that keep the broker from
starting.  A plain TCP subscriber keeps working throughout.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-rest.sh

TLS_PORT=$FLOCKMQ_PORT3
STRICT_PORT=$FLOCKMQ_PORT4
C=$TRASH_DIRECTORY/certs

# tpub/tsub ARGS: mosquitto over TLS to the default ssl listener.
tpub () {
	mosquitto_pub -h 127.0.0.1 -p $TLS_PORT --cafile "$C/ca.pem" "$@"
}
tsub () {
	mosquitto_sub -h 127.0.0.1 -p $TLS_PORT --cafile "$C/ca.pem" "$@"
}

# tls_py ARGS: a Python program on stdin with paho; TLS_PORT, CERTS.
tls_py () {
	TLS_PORT=$TLS_PORT CERTS=$C PYTHONDONTWRITEBYTECODE=1 \
	    "$PYTHON" - "$@"
}

# wait_sub ID: wait until client ID has a subscription (REST; after login).
subscribed () {
	api GET "/clients?clientid=$1" &&
	jcheck "j[\"data\"] and j[\"data\"][0][\"subscriptions_cnt\"] >= 1" \
	    >/dev/null 2>&1
}
wait_sub () {
	wait_for "subscribed $1" 5
}

# wait_log RE: wait until the broker logged a line matching RE (the
# client may see the refusal before the line is written).
wait_log () {
	wait_for "broker_log_grep -q \"$1\"" 5 || {
		echo "not in the log: $1"
		return 1
	}
}

# serial PORT: the serial number of the certificate the port presents.
serial () {
	openssl s_client -connect 127.0.0.1:$1 -servername localhost \
	    -CAfile "$C/ca.pem" </dev/null 2>/dev/null |
	openssl x509 -noout -serial
}

test_expect_success 'setup: test certificates (contrib/make-certs.sh)' '
	sh "$FLOCKMQ_SRC/contrib/make-certs.sh" certs client1 &&
	for f in ca server client expired other-ca other
	do
		test_path_is_file certs/$f.pem &&
		test_path_is_file certs/$f.key || return 1
	done &&
	openssl verify -CAfile certs/ca.pem certs/server.pem certs/client.pem &&
	test_must_fail openssl verify -CAfile certs/ca.pem certs/expired.pem &&
	test_must_fail openssl verify -CAfile certs/ca.pem certs/other.pem
'

test_expect_success 'start the broker: tcp, ssl (verify_peer) and ssl:strict' '
	broker_config <<-EOF &&
	mqtt:
	  peer_cert_as_username: cn
	listeners:
	  ssl:
	    default:
	      bind: "127.0.0.1:$TLS_PORT"
	      ssl_options:
	        certfile: "$C/server.pem"
	        keyfile: "$C/server.key"
	        cacertfile: "$C/ca.pem"
	        verify: verify_peer
	        handshake_timeout: 1s
	    strict:
	      bind: "127.0.0.1:$STRICT_PORT"
	      ssl_options:
	        certfile: "$C/server.pem"
	        keyfile: "$C/server.key"
	        cacertfile: "$C/ca.pem"
	        verify: verify_peer
	        fail_if_no_peer_cert: true
	        versions: [tlsv1.2]
	        ciphers: [ECDHE-RSA-AES256-GCM-SHA384, TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256]
	EOF
	start_broker &&
	login &&
	broker_log_grep "ssl:default 127.0.0.1:$TLS_PORT" &&
	broker_log_grep "TLS 1.3 is not available"
'

test_expect_success 'a plain TCP subscriber, kept for the whole script' '
	test_spawn mosquitto_sub -h 127.0.0.1 -p $FLOCKMQ_PORT -i plainsub \
	    -t "plain/#" -q 1 -v >plain.out 2>plain.err &&
	plainsub=$! &&
	wait_sub plainsub &&
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t plain/1 -m one -q 1 &&
	wait_for "grep -q \"plain/1 one\" plain.out" 5
'

test_expect_success 'mosquitto over TLS: QoS 0, 1 and 2' '
	for q in 0 1 2
	do
		test_spawn mosquitto_sub -h 127.0.0.1 -p $TLS_PORT \
		    --cafile "$C/ca.pem" -i tsub$q -t "tls/q$q" -q $q -C 1 \
		    -W 10 >sub$q.out &&
		sub=$! &&
		wait_sub tsub$q &&
		tpub -t "tls/q$q" -m "hello $q" -q $q &&
		wait_for "test -s sub$q.out" 5 &&
		echo "hello $q" >expect &&
		test_cmp expect sub$q.out || return 1
	done
'

test_expect_success 'mosquitto over TLS: a retained message' '
	tpub -t tls/ret -m kept -r -q 1 &&
	tsub -t tls/ret -C 1 -W 5 >out &&
	echo kept >expect &&
	test_cmp expect out &&
	tpub -t tls/ret -n -r -q 1
'

test_expect_success 'paho over TLS: MQTT 5 and 3.1.1' '
	tls_py >paho.out <<-\EOF &&
	import os, queue, ssl, sys
	import paho.mqtt.client as mqtt
	port, certs = int(os.environ["TLS_PORT"]), os.environ["CERTS"]
	for proto, name in ((mqtt.MQTTv5, "v5"), (mqtt.MQTTv311, "v311")):
	    got = queue.Queue()
	    c = mqtt.Client("paho-" + name, protocol=proto)
	    c.tls_set(ca_certs=certs + "/ca.pem")
	    subacked = queue.Queue()
	    c.on_message = lambda cl, u, m: got.put((m.topic, m.payload, m.qos))
	    c.on_subscribe = lambda *a: subacked.put(1)
	    c.connect("127.0.0.1", port, 30)
	    c.loop_start()
	    c.subscribe("paho/" + name, 2)
	    subacked.get(timeout=5)
	    c.publish("paho/" + name, b"over tls " + name.encode(), 2).wait_for_publish()
	    m = got.get(timeout=5)
	    print(name, m[0], m[1].decode(), m[2])
	    c.disconnect()
	    c.loop_stop()
	EOF
	cat >expect <<-\EOF &&
	v5 paho/v5 over tls v5 2
	v311 paho/v311 over tls v311 2
	EOF
	test_cmp expect paho.out
'

test_expect_success 'verify_peer: a client certificate of the CA is accepted' '
	tpub --cert "$C/client.pem" --key "$C/client.key" -i withcert \
	    -t tls/cert -m ok -q 1 &&
	broker_log_grep "client .withcert. .*connected"
'

test_expect_success 'verify_peer: an untrusted certificate is refused, logged' '
	test_must_fail tpub --cert "$C/other.pem" --key "$C/other.key" \
	    -i untrusted -t tls/cert -m no 2>err &&
	wait_log "tls: 127.0.0.1:[0-9]* refused on ssl:default: client certificate refused: The certificate is not correctly signed by the trusted CA" &&
	test_must_fail broker_log_grep "client .untrusted. .*connected"
'

test_expect_success 'verify_peer: an expired certificate is refused, logged' '
	test_must_fail tpub --cert "$C/expired.pem" --key "$C/expired.key" \
	    -i expired -t tls/cert -m no 2>err &&
	wait_log "refused on ssl:default: client certificate refused: The certificate validity has expired" &&
	test_must_fail broker_log_grep "client .expired. .*connected"
'

test_expect_success 'verify_peer: a certificate not for clients is refused, logged' '
	test_must_fail tpub --cert "$C/server.pem" --key "$C/server.key" \
	    -i serverkey -t tls/cert -m no 2>err &&
	wait_log "refused on ssl:default: client certificate refused: Usage does not match the extendedKeyUsage extension" &&
	test_must_fail broker_log_grep "client .serverkey. .*connected"
'

test_expect_success 'fail_if_no_peer_cert: no certificate, refused, logged' '
	test_must_fail mosquitto_pub -h 127.0.0.1 -p $STRICT_PORT \
	    --cafile "$C/ca.pem" -i nocert -t tls/cert -m no 2>err &&
	wait_log "refused on ssl:strict: no client certificate (fail_if_no_peer_cert)" &&
	mosquitto_pub -h 127.0.0.1 -p $STRICT_PORT --cafile "$C/ca.pem" \
	    --cert "$C/client.pem" --key "$C/client.key" -i strictok \
	    -t tls/cert -m ok &&
	broker_log_grep "client .strictok. .*connected" &&
	test_must_fail mosquitto_pub -h 127.0.0.1 -p $STRICT_PORT \
	    --cafile "$C/ca.pem" --cert "$C/server.pem" --key "$C/server.key" \
	    -i strictserverkey -t tls/cert -m no 2>err &&
	wait_log "refused on ssl:strict: client certificate refused: Usage does not match the extendedKeyUsage extension" &&
	test_must_fail mosquitto_pub -h 127.0.0.1 -p $STRICT_PORT \
	    --cafile "$C/ca.pem" --cert "$C/expired.pem" --key "$C/expired.key" \
	    -i strictexpired -t tls/cert -m no 2>err &&
	wait_log "refused on ssl:strict: client certificate refused: The certificate validity has expired"
'

test_expect_success 'ssl:strict offers only the ciphers configured' '
	openssl s_client -connect 127.0.0.1:$STRICT_PORT -CAfile "$C/ca.pem" \
	    -cert "$C/client.pem" -key "$C/client.key" \
	    -cipher ECDHE-RSA-AES256-GCM-SHA384 </dev/null >s.out 2>&1 &&
	test_grep "Cipher is ECDHE-RSA-AES256-GCM-SHA384" s.out &&
	test_must_fail openssl s_client -connect 127.0.0.1:$STRICT_PORT \
	    -CAfile "$C/ca.pem" -cert "$C/client.pem" -key "$C/client.key" \
	    -cipher ECDHE-RSA-CHACHA20-POLY1305 </dev/null >s.out 2>&1
'

test_expect_success 'peer_cert_as_username cn: the username in GET /clients' '
	test_spawn mosquitto_sub -h 127.0.0.1 -p $TLS_PORT \
	    --cafile "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" \
	    -i certsub -u ignored -t "tls/none" -W 30 >/dev/null &&
	certsub=$! &&
	wait_for "broker_log_grep -q \"client .certsub. .*connected\"" 5 &&
	login &&
	api GET "/clients?clientid=certsub" &&
	expect_code 200 &&
	jcheck "j[\"data\"][0][\"username\"] == \"client1\"" &&
	kill $certsub &&
	test_spawn mosquitto_sub -h 127.0.0.1 -p $TLS_PORT \
	    --cafile "$C/ca.pem" -i nocertsub -u plainuser -t "tls/none" \
	    -W 30 >/dev/null &&
	nocertsub=$! &&
	wait_for "broker_log_grep -q \"client .nocertsub. .*connected\"" 5 &&
	api GET "/clients?clientid=nocertsub" &&
	jcheck "j[\"data\"][0][\"username\"] == \"plainuser\"" &&
	kill $nocertsub
'

test_expect_success 'MQTT in the clear to the TLS port: refused, logged' '
	test_must_fail mosquitto_pub -h 127.0.0.1 -p $TLS_PORT -i clear \
	    -t tls/x -m no 2>err &&
	wait_log "refused on ssl:default: not TLS: looks like MQTT in the clear" &&
	test_must_fail broker_log_grep "client .clear. .*connected"
'

test_expect_success 'HTTP to the TLS port: refused, logged' '
	test_must_fail curl -s -m 5 http://127.0.0.1:$TLS_PORT/ >out &&
	wait_log "refused on ssl:default: not TLS: looks like HTTP in the clear"
'

test_expect_success 'a silent client is cut at handshake_timeout (1 s)' '
	"$PYTHON" - $TLS_PORT >silent.out <<-\EOF &&
	import socket, sys, time
	s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
	s.settimeout(10)
	t0 = time.monotonic()
	try:
	    d = s.recv(100)
	except ConnectionResetError:
	    d = b""
	print("closed" if d == b"" else "data", round(time.monotonic() - t0))
	EOF
	echo "closed 1" >expect &&
	test_cmp expect silent.out &&
	wait_log "conn: 127.0.0.1:[0-9]* closed: TLS handshake not finished within 1 s"
'

test_expect_success 'a server name the certificate does not cover: refused' '
	test_must_fail openssl s_client -connect 127.0.0.1:$TLS_PORT \
	    -CAfile "$C/ca.pem" -servername evil.example </dev/null \
	    >s.out 2>&1 &&
	wait_log "refused on ssl:default: server name .evil.example. is not in the certificate" &&
	openssl s_client -connect 127.0.0.1:$TLS_PORT -CAfile "$C/ca.pem" \
	    -servername localhost -verify_return_error </dev/null >s.out 2>&1 &&
	test_grep "Verify return code: 0 (ok)" s.out &&
	test_grep "Protocol  *: TLSv1.2" s.out
'

test_expect_success 'a 1 MB message (base64 text) over TLS arrives intact' '
	"$PYTHON" -c "import base64, os, sys; sys.stdout.write(base64.b64encode(os.urandom(750000)).decode())" >big &&
	test_spawn mosquitto_sub -h 127.0.0.1 -p $TLS_PORT \
	    --cafile "$C/ca.pem" -i bigsub -t tls/big -q 1 -C 1 -N -W 20 \
	    >big.out &&
	bigsub=$! &&
	wait_sub bigsub &&
	tpub -t tls/big -f big -q 1 &&
	wait_for "cmp -s big big.out" 15 &&
	cmp big big.out
'

test_expect_success 'a slow TLS reader gets 10 messages of 300 KB intact (partial writes)' '
	PYTHONPATH="$TEST_DIRECTORY/helper" tls_py >slow.out 2>slow.err <<-\EOF &
	import os, socket, ssl, sys, time, mqttc
	port, certs = int(os.environ["TLS_PORT"]), os.environ["CERTS"]
	ctx = ssl.create_default_context(cafile=certs + "/ca.pem")
	raw = socket.socket()
	raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
	raw.settimeout(30)
	raw.connect(("127.0.0.1", port))
	s = ctx.wrap_socket(raw, server_hostname="localhost")
	buf = b""
	def packet():
	    global buf
	    while True:
	        p = mqttc.split_packet(buf)
	        if p is not None:
	            first, start, end = p
	            body, buf = buf[start:end], buf[end:]
	            return first >> 4, body
	        d = s.recv(65536)
	        if not d:
	            sys.exit("closed")
	        buf += d
	s.sendall(mqttc.connect("slowsub", 4))
	assert packet()[0] == mqttc.CONNACK
	s.sendall(mqttc.subscribe(1, "tls/slow", 0, 4))
	assert packet()[0] == mqttc.SUBACK
	open("slow.ready", "w").close()
	while not os.path.exists("slow.go"):
	    time.sleep(0.05)
	time.sleep(1)
	for i in range(10):
	    t, body = packet()
	    assert t == mqttc.PUBLISH, t
	    n = int.from_bytes(body[:2], "big")
	    payload = body[2 + n:]
	    want = (b"%02d" % i) * 150000
	    print(i, "ok" if payload == want else "BAD %d" % len(payload))
	EOF
	slow=$! &&
	test_track_pid $slow &&
	wait_for "test -f slow.ready" 10 &&
	for i in 0 1 2 3 4 5 6 7 8 9
	do
		"$PYTHON" -c "import sys; sys.stdout.write(\"%02d\" % $i * 150000)" >slow.msg &&
		tpub -t tls/slow -f slow.msg || return 1
	done &&
	: >slow.go &&
	wait_for "test \$(wc -l <slow.out) -ge 10" 20 &&
	for i in 0 1 2 3 4 5 6 7 8 9; do echo "$i ok"; done >expect &&
	test_cmp expect slow.out
'

test_expect_success '2000 QoS 1 messages over TLS arrive, in order' '
	test_spawn mosquitto_sub -h 127.0.0.1 -p $TLS_PORT \
	    --cafile "$C/ca.pem" -i manysub -t tls/many -q 1 -C 2000 -W 30 \
	    >many.out &&
	manysub=$! &&
	wait_sub manysub &&
	seq 1 2000 >expect &&
	tpub -t tls/many -q 1 -l <expect &&
	wait_for "test \$(wc -l <many.out) -ge 2000" 20 &&
	test_cmp expect many.out
'

test_expect_success 'the REST listeners list shows ssl:default running' '
	login &&
	api GET /listeners &&
	expect_code 200 &&
	jcheck "[l for l in j if l[\"id\"] == \"ssl:default\" and l[\"type\"] == \"ssl\" and l[\"running\"]]"
'

test_expect_success 'a restart of ssl:default loads a new certificate; old clients stay' '
	test_spawn mosquitto_sub -h 127.0.0.1 -p $TLS_PORT \
	    --cafile "$C/ca.pem" -i oldtls -t tls/after -q 1 -C 1 -W 30 \
	    >old.out &&
	oldtls=$! &&
	wait_sub oldtls &&
	serial $TLS_PORT >serial.before &&
	test_grep "^serial=" serial.before &&
	openssl req -new -key certs/server.key -subj "/O=flockmq test/CN=localhost" -out new.csr &&
	printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" >new.ext &&
	openssl x509 -req -in new.csr -CA certs/ca.pem -CAkey certs/ca.key \
	    -set_serial 0x4242 -days 30 -extfile new.ext -out new.pem &&
	cp new.pem certs/server.pem &&
	login &&
	api POST /listeners/ssl:default/restart &&
	expect_code 200 &&
	serial $TLS_PORT >serial.after &&
	echo serial=4242 >expect &&
	test_cmp expect serial.after &&
	tpub -t tls/after -m "still here" -q 1 &&
	wait_for "test -s old.out" 5 &&
	echo "still here" >expect &&
	test_cmp expect old.out
'

test_expect_success 'a restart with a missing certfile fails, naming it; start after the fix' '
	mv certs/server.pem certs/server.pem.away &&
	api POST /listeners/ssl:default/restart &&
	expect_code 500 &&
	jcheck "\"cannot read certfile\" in j[\"message\"]" "\"No such file\" in j[\"message\"]" &&
	api GET /listeners &&
	jcheck "[l for l in j if l[\"id\"] == \"ssl:default\" and not l[\"running\"]]" &&
	test_must_fail tpub -t tls/after -m no 2>err &&
	mv certs/server.pem.away certs/server.pem &&
	api POST /listeners/ssl:default/start &&
	expect_code 200 &&
	tpub -t tls/after -m again -q 1
'

test_expect_success 'the plain TCP subscriber kept working' '
	mosquitto_pub -h 127.0.0.1 -p $FLOCKMQ_PORT -t plain/2 -m two -q 1 &&
	wait_for "grep -q \"plain/2 two\" plain.out" 5 &&
	test_pid_alive $plainsub &&
	stop_broker
'

test_expect_success 'peer_cert_as_clientid cn and peer_cert_as_username dn' '
	start_broker FLOCKMQ_MQTT__PEER_CERT_AS_CLIENTID=cn \
	    FLOCKMQ_MQTT__PEER_CERT_AS_USERNAME=dn &&
	login &&
	test_spawn mosquitto_sub -h 127.0.0.1 -p $TLS_PORT \
	    --cafile "$C/ca.pem" --cert "$C/client.pem" --key "$C/client.key" \
	    -i notthisid -t "tls/none" -W 30 >/dev/null &&
	idsub=$! &&
	wait_sub client1 &&
	api GET "/clients?clientid=client1" &&
	jcheck "j[\"data\"][0][\"username\"] == \"O=flockmq test, CN=client1\"" &&
	api GET "/clients?clientid=notthisid" &&
	jcheck "j[\"data\"] == []" &&
	kill $idsub &&
	stop_broker
'

test_expect_success 'versions with tlsv1.3 only: the broker does not start' '
	broker_config <<-\EOF &&
	listeners.ssl.default.ssl_options.versions: [tlsv1.3]
	EOF
	test_must_fail start_broker >out 2>&1 &&
	broker_log_grep "ssl:default: ssl_options.versions must include tlsv1.2"
'

test_expect_success 'an unknown cipher name: the broker does not start' '
	broker_config <<-\EOF &&
	listeners.ssl.default.ssl_options.versions: [tlsv1.2]
	listeners.ssl.default.ssl_options.ciphers: [ECDHE-RSA-AES256-GCM-SHA384, NO-SUCH-CIPHER]
	EOF
	test_must_fail start_broker >out 2>&1 &&
	broker_log_grep "ssl:default: ssl_options.ciphers: unknown cipher suites: NO-SUCH-CIPHER"
'

test_expect_success 'a missing certfile: the broker does not start, naming it' '
	broker_config <<-EOF &&
	listeners.ssl.default.ssl_options.ciphers: []
	listeners.ssl.default.ssl_options.certfile: "$C/nope.pem"
	EOF
	test_must_fail start_broker >out 2>&1 &&
	broker_log_grep "ssl:default: cannot read certfile .$C/nope.pem.: No such file or directory"
'

test_done
