#!/bin/sh

test_description='the REST API (EMQX 5, /api/v5): every endpoint

/status, /nodes, /cluster; /clients with real clients (paho-mqtt 5.0 and
3.1.1, mosquitto_sub): the fields, counters that follow the traffic,
pagination, the filters, one client by a URL-encoded id, kicking one
(DISCONNECT 0x98) and several; /clients/:id/subscriptions,
/subscriptions with its filters, /topics; /listeners and stopping,
starting and restarting one; /metrics and /stats following the traffic;
/publish and /publish/bulk delivering to real subscribers, and refusing
bad messages without delivering anything.  Authentication, users, API
keys and the generic errors are t5001.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-rest.sh

# client_up ID: GET /clients/ID (ID URL-encoded already) answers 200.
client_up () {
	api GET "/clients/$1" && test "$(cat code)" = 200
}

# subscribed ID N: client ID (URL-encoded) is up with N subscriptions.
subscribed () {
	client_up "$1" && jcheck "j[\"subscriptions_cnt\"] == $2" 2>/dev/null
}

test_expect_success 'start the broker and log in' '
	broker_config <<-\EOF &&
	mqtt:
	  session_expiry_interval: 1h
	sys_topics:
	  sys_msg_interval: disabled
	  sys_heartbeat_interval: disabled
	EOF
	start_broker &&
	login
'

test_expect_success 'GET /status: text, and JSON with ?format=json, without a token' '
	http_do GET "http://127.0.0.1:$FLOCKMQ_PORT2/status" &&
	expect_code 200 &&
	printf "Node %s is started\nflockmq is running\n" "$NODE" >expect &&
	test_cmp expect out &&
	test_grep -i "^content-type: text/plain" hdr &&
	for p in "/status?format=json" "/api/v5/status?format=json"
	do
		http_do GET "http://127.0.0.1:$FLOCKMQ_PORT2$p" &&
		expect_code 200 &&
		test_grep -i "^content-type: application/json" hdr &&
		jcheck "j == {\"node_name\": \"$NODE\", \"rel_vsn\": j[\"rel_vsn\"], \"broker_status\": \"started\", \"app_status\": \"running\"}" \
		    "re.fullmatch(r\"\\d+\\.\\d+\\.\\d+.*\", j[\"rel_vsn\"])" ||
		return 1
	done &&
	http_do GET "http://127.0.0.1:$FLOCKMQ_PORT2/api/v5/status" &&
	expect_code 200 &&
	test_cmp expect out
'

NODE_KEYS='["node", "node_status", "version", "uptime", "connections",
"live_connections", "memory_total", "memory_used", "max_fds", "load1",
"load5", "load15", "role", "edition", "sys_path", "log_path", "otp_release",
"process_available", "process_used"]'

test_expect_success 'GET /nodes: this node, running, with its figures' '
	api GET /nodes &&
	expect_code 200 &&
	jcheck "isinstance(j, list) and len(j) == 1" \
	    "j[0][\"node\"] == \"$NODE\"" \
	    "j[0][\"node_status\"] == \"running\"" \
	    "j[0][\"role\"] == \"core\" and j[0][\"edition\"] == \"Opensource\"" \
	    "j[0][\"sys_path\"] == \"$BROKER_DATA\"" \
	    "isinstance(j[0][\"uptime\"], int) and 0 < j[0][\"uptime\"] < 600000" \
	    "j[0][\"connections\"] == 0 and j[0][\"live_connections\"] == 0" \
	    "0 < j[0][\"memory_used\"] <= j[0][\"memory_total\"]" \
	    "j[0][\"process_used\"] > 0 and j[0][\"max_fds\"] > 0" \
	    "all(isinstance(j[0][k], (int, float)) for k in (\"load1\", \"load5\", \"load15\"))" &&
	cp out nodes.json
'

test_expect_success 'GET /nodes: every field of the contract' '
	api GET /nodes &&
	expect_code 200 &&
	jcheck "same_keys(j[0], $NODE_KEYS)"
'

test_expect_success 'GET /nodes/:node: this node; another name is 404 NOT_FOUND' '
	api GET "/nodes/$NODE" &&
	expect_code 200 &&
	jcheck "j[\"node\"] == \"$NODE\" and j[\"node_status\"] == \"running\"" \
	    "set(j) == set(load(\"nodes.json\")[0])" &&
	api GET "/nodes/other@127.0.0.1" &&
	expect_code 404 NOT_FOUND &&
	api GET "/nodes/flockmq%40127.0.0.2" &&
	expect_code 404 NOT_FOUND
'

test_expect_success 'GET /cluster: name, the one node, self' '
	api GET /cluster &&
	expect_code 200 &&
	jcheck "j[\"nodes\"] == [\"$NODE\"] and j[\"self\"] == \"$NODE\"" \
	    "isinstance(j[\"name\"], str) and j[\"name\"] != \"\"" \
	    "set(j) >= {\"name\", \"nodes\", \"self\"}"
'

CLIENT_KEYS='"clientid", "username", "node", "ip_address", "port",
"listener", "proto_name", "proto_ver", "connected", "conn_state",
"keepalive", "clean_start", "expiry_interval", "durable", "connected_at",
"created_at", "subscriptions_cnt", "inflight_cnt", "mqueue_len",
"awaiting_rel_cnt", "recv_msg", "send_msg", "recv_oct", "send_oct",
"recv_pkt", "send_pkt"'

test_expect_success 'GET /clients: paho 5.0, paho 3.1.1 and mosquitto_sub, field by field; counters follow the traffic' '
	test_spawn mosquitto_sub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -V mqttv5 \
	    -i "ms sub/1" -u ms-user -k 50 -q 1 -t "cl/#" -W 30 >ms.out &&
	ms_pid=$! &&
	test_when_finished "kill $ms_pid" &&
	wait_for "subscribed ms%20sub%2F1 1" &&
	rest_py "$CLIENT_KEYS" <<-\EOF &&
	from rest import *
	keys = eval("[" + sys.argv[1] + "]")
	node = os.environ["NODE"]
	v5 = User("cl-v5", "u-v5", version=5, keepalive=30,
	          props={"session_expiry": 120})
	v4 = User("cl-v4", "u-v4", version=4, keepalive=45, clean=False)
	v5.subscribe("cl/own/a", qos=1)
	v5.subscribe("cl/own/b", qos=2)

	def common(c, cid, user, ver, port):
	    check(set(keys) <= set(c), cid + ": the contract fields",
	          sorted(set(keys) - set(c)))
	    check(c["clientid"] == cid and c["username"] == user, "ids", c)
	    check(c["node"] == node and c["listener"] == "tcp:default", "node", c)
	    check(c["ip_address"] == "127.0.0.1", "ip", c)
	    check(port is None or c["port"] == port, "port", c, port)
	    check(c["proto_name"] == "MQTT" and c["proto_ver"] == ver, "proto", c)
	    check(c["connected"] is True and c["conn_state"] == "connected",
	          "connected", c)
	    check("disconnected_at" not in c, "no disconnected_at", c)
	    check(rfc3339(c["connected_at"]) and rfc3339(c["created_at"]),
	          "times", c)
	    check(isinstance(c["durable"], bool), "durable", c)
	    check(c["inflight_cnt"] == 0 and c["mqueue_len"] == 0 and
	          c["awaiting_rel_cnt"] == 0, "queues", c)

	c = client("cl-v5")
	common(c, "cl-v5", "u-v5", 5, v5.local_port())
	check(c["keepalive"] == 30 and c["clean_start"] is True and
	      c["expiry_interval"] == 120 and c["subscriptions_cnt"] == 2, "v5", c)
	c = client("cl-v4")
	common(c, "cl-v4", "u-v4", 4, v4.local_port())
	# clean session 0 in 3.1.1: mqtt.session_expiry_interval, 1h
	check(c["keepalive"] == 45 and c["clean_start"] is False and
	      c["expiry_interval"] == 3600 and c["subscriptions_cnt"] == 0, "v4", c)
	c = client("ms sub/1")
	common(c, "ms sub/1", "ms-user", 5, None)
	check(c["keepalive"] == 50 and c["clean_start"] is True and
	      c["expiry_interval"] == 0 and c["subscriptions_cnt"] == 1, "ms", c)

	# Three QoS 1 messages from cl-v5 to the mosquitto_sub.
	p0, s0 = client("cl-v5"), client("ms sub/1")
	size = 0
	for i in range(3):
	    v5.publish("cl/x", "m%d" % i, qos=1)
	    size += len(publish_packet("cl/x", b"m%d" % i, qos=1, pid=1))
	p1 = client("cl-v5")
	check(p1["recv_msg"] - p0["recv_msg"] == 3, "publisher recv_msg +3", p0, p1)
	check(p1["recv_pkt"] - p0["recv_pkt"] == 3, "publisher recv_pkt +3", p0, p1)
	check(p1["recv_oct"] - p0["recv_oct"] == size,
	      "publisher recv_oct +%d" % size, p0, p1)
	check(p1["send_pkt"] - p0["send_pkt"] == 3, "3 PUBACKs sent", p0, p1)
	check(p1["send_msg"] == p0["send_msg"], "publisher send_msg", p0, p1)
	# The subscriber: 3 PUBLISH sent, then its 3 PUBACKs.
	check(wait_until(lambda: client("ms sub/1")["recv_pkt"] -
	                 s0["recv_pkt"] == 3), "subscriber: 3 PUBACKs",
	      s0, client("ms sub/1"))
	s1 = client("ms sub/1")
	check(s1["send_msg"] - s0["send_msg"] == 3 and
	      s1["send_pkt"] - s0["send_pkt"] == 3 and
	      s1["send_oct"] - s0["send_oct"] == size and
	      s1["recv_msg"] == s0["recv_msg"], "subscriber counters", s0, s1)
	v5.disconnect()
	v4.disconnect()
	# End the two sessions.
	User("cl-v5", None, clean=True).disconnect()
	User("cl-v4", None, version=4, clean=True).disconnect()
	EOF
	wait_for "test \$(wc -l <ms.out) -ge 3" 5 &&
	printf "m0\nm1\nm2\n" >expect &&
	test_cmp expect ms.out
'

test_expect_success 'GET /clients: mqueue_dropped, a field of the contract' '
	rest_py <<-\EOF
	from rest import *
	c = Raw("mq-dropped")
	check("mqueue_dropped" in client("mq-dropped"), "mqueue_dropped",
	      client("mq-dropped"))
	c.disconnect()
	EOF
'

test_expect_success 'GET /clients: recv_oct counts the CONNECT on every worker' '
	rest_py <<-\EOF
	from rest import *
	bad = []
	for i in range(8):
	    cid = "oct-%d" % i
	    c = Raw(cid)
	    r = client(cid)
	    want = len(connect_packet(cid, 5))
	    if (r["recv_oct"], r["recv_pkt"]) != (want, 1):
	        bad.append((cid, r["recv_oct"], r["recv_pkt"], want))
	    c.disconnect()
	check(not bad, "recv_oct is the CONNECT, recv_pkt 1 (id, recv_oct, "
	      "recv_pkt, CONNECT size)", bad)
	EOF
'

test_expect_success 'GET /clients: pages (page, limit, meta.count, meta.hasnext)' '
	rest_py <<-\EOF &&
	from rest import *
	ids = ["pg-%02d" % i for i in range(25)]
	cs = [Raw(i) for i in ids]
	seen = []
	for page, n, more in ((1, 10, True), (2, 10, True), (3, 5, False),
	                      (4, 0, False)):
	    j = api.get("/clients?like_clientid=pg-&limit=10&page=%d" % page)
	    check(j["meta"] == {"page": page, "limit": 10, "count": 25,
	                        "hasnext": more}, "meta of page %d" % page, j["meta"])
	    check(len(j["data"]) == n, "%d on page %d" % (n, page), j["data"])
	    seen += [c["clientid"] for c in j["data"]]
	check(seen == ids, "every client once, in order", seen)
	j = api.get("/clients?like_clientid=pg-&limit=10000")
	check(j["meta"] == {"page": 1, "limit": 10000, "count": 25,
	                    "hasnext": False} and len(j["data"]) == 25, "10000", j["meta"])
	j = api.get("/clients?like_clientid=pg-")
	check(j["meta"] == {"page": 1, "limit": 100, "count": 25,
	                    "hasnext": False}, "default page and limit", j["meta"])
	j = api.get("/clients?like_clientid=pg-&limit=25")
	check(j["meta"]["hasnext"] is False and len(j["data"]) == 25, "25 of 25")
	j = api.get("/clients?like_clientid=pg-&limit=24")
	check(j["meta"]["hasnext"] is True and len(j["data"]) == 24, "24 of 25")
	for c in cs:
	    c.disconnect()
	EOF
	for q in limit=10001 limit=0 limit=abc limit=-1 limit= page=0 page=-1 \
	    page=abc "page=1&limit=1x"
	do
		api GET "/clients?$q" &&
		expect_code 400 BAD_REQUEST || return 1
	done &&
	for p in /subscriptions /topics
	do
		api GET "$p?limit=10001" &&
		expect_code 400 BAD_REQUEST &&
		api GET "$p?page=0" &&
		expect_code 400 BAD_REQUEST || return 1
	done
'

test_expect_success 'GET /subscriptions: a page past the end is empty with meta.page as asked; past 2^49 is 400' '
	rest_py <<-\EOF
	from rest import *
	c = User("pg-big", None)
	c.subscribe("big/a", qos=1)
	bad = []
	for page, limit in ((3000000000, 100), (922337203685477, 10000)):
	    j = api.get("/subscriptions?page=%d&limit=%d" % (page, limit))
	    if j["data"] != [] or j["meta"]["page"] != page:
	        bad.append((page, limit, j))
	for page, limit in ((922337203685478, 4), (4503599627370497, 4096),
	                    (2 ** 62 + 1, 4)):
	    api.get("/subscriptions?page=%d&limit=%d" % (page, limit),
	            status=400)
	c.disconnect()
	check(not bad, "an empty page with meta.page as asked", bad)
	EOF
'

test_expect_success 'GET /clients: filters clientid, username, ip_address, conn_state, like_clientid, like_username' '
	rest_py <<-\EOF
	from rest import *
	def ids(query):
	    j = api.get("/clients?" + query)
	    check(j["meta"]["count"] == len(j["data"]), "count", j)
	    return [c["clientid"] for c in j["data"]]
	def want(query, expect):
	    got = ids(query)
	    check(got == expect, query, got, expect)
	gone = User("f-gone", "gina", clean=False, props={"session_expiry": 300})
	gone.disconnect()
	a = User("f-alpha", "alice")
	b = User("f-beta", "bob", version=4)
	g = User("f-gamma", "alicia")
	odd = User("f/x y&z", "odd user")
	want("clientid=f-alpha", ["f-alpha"])
	want("clientid=f-alph", [])
	want("clientid=" + q("f/x y&z"), ["f/x y&z"])
	want("username=alice", ["f-alpha"])
	want("username=bob", ["f-beta"])
	want("username=" + q("odd user"), ["f/x y&z"])
	want("username=nobody", [])
	want("like_username=ali", ["f-alpha", "f-gamma"])
	want("like_clientid=f-", ["f-alpha", "f-beta", "f-gamma", "f-gone"])
	want("like_clientid=" + q("/x y"), ["f/x y&z"])
	want("like_clientid=f-&conn_state=connected",
	     ["f-alpha", "f-beta", "f-gamma"])
	want("like_clientid=f-&conn_state=disconnected", ["f-gone"])
	want("conn_state=disconnected", ["f-gone"])
	want("ip_address=127.0.0.1&like_clientid=f-&conn_state=connected",
	     ["f-alpha", "f-beta", "f-gamma"])
	want("ip_address=127.0.0.9", [])
	want("username=alice&clientid=f-beta", [])
	want("like_username=ali&like_clientid=gam", ["f-gamma"])
	c = client("f-gone")
	check(c["connected"] is False and c["conn_state"] == "disconnected" and
	      rfc3339(c.get("disconnected_at")) and c["expiry_interval"] == 300 and
	      c["username"] == "gina", "the disconnected session", c)
	r = api.call("GET", "/clients?conn_state=gone")
	api.error(r, 400, "BAD_REQUEST")
	for x in (a, b, g, odd):
	    x.disconnect()
	# the persistent session goes with a clean start
	User("f-gone", "gina", clean=True).disconnect()
	check(wait_until(lambda: ids("like_clientid=f-") == []), "all gone",
	      ids("like_clientid=f-"))
	EOF
'

test_expect_success 'GET /clients/:id and /clients/:id/subscriptions: URL-encoded ids; 404 CLIENTID_NOT_FOUND' '
	rest_py <<-\EOF
	from rest import *
	odd = ["a/b c", "100%/x", "lit%2Fslash", "sp ace", "q?x=1&y#z", "ünï"]
	cs = [Raw(i) for i in odd]
	for cid, c in zip(odd, cs):
	    c.subscribe("enc/" + str(odd.index(cid)), qos=1)
	    j = client(cid)
	    check(j["clientid"] == cid and j["connected"] is True, cid, j)
	    s = api.get("/clients/" + q(cid) + "/subscriptions")
	    check(isinstance(s, list) and len(s) == 1 and
	          s[0]["clientid"] == cid and s[0]["topic"] == "enc/%d" %
	          odd.index(cid) and s[0]["qos"] == 1 and s[0]["node"] ==
	          os.environ["NODE"], cid, s)
	    check({"topic", "qos", "nl", "rap", "rh", "clientid",
	           "node"} <= set(s[0]), "subscription fields", s[0])
	for c in cs:
	    c.disconnect()
	for path in ("/clients/nobody", "/clients/nobody/subscriptions",
	             "/clients/a%2Fb%20c", "/clients/" + q("a/b c") +
	             "/subscriptions"):
	    check(wait_until(lambda: api.call("GET", path).status == 404),
	          path + " gone")
	    api.error(api.call("GET", path), 404, "CLIENTID_NOT_FOUND")
	api.error(api.call("DELETE", "/clients/nobody"), 404,
	          "CLIENTID_NOT_FOUND")
	EOF
'

test_expect_success 'DELETE /clients/:id kicks: DISCONNECT 0x98 to paho 5.0, the session ends' '
	rest_py <<-\EOF
	from rest import *
	k = User("kick-v5", "kicked", clean=False, props={"session_expiry": 300})
	k.subscribe("kick/t", qos=1)
	stay = User("kick-stay", "stays")
	check(client("kick-v5")["connected"] is True, "connected")
	r = api.call("DELETE", "/clients/kick-v5")
	check(r.status == 204 and r.body == b"", "204, no body", r)
	k.kicked(0x98)
	api.error(api.call("GET", "/clients/kick-v5"), 404, "CLIENTID_NOT_FOUND")
	j = api.get("/subscriptions?clientid=kick-v5")
	check(j["meta"]["count"] == 0, "its subscriptions are gone", j)
	api.error(api.call("DELETE", "/clients/kick-v5"), 404,
	          "CLIENTID_NOT_FOUND")
	# The session ended: no session present on reconnecting.
	k = User("kick-v5", "kicked", clean=False, props={"session_expiry": 300})
	check(k.session_present == 0, "a new session", k.session_present)
	check(client("kick-stay")["connected"] is True, "the other stays")
	# A 3.1.1 client is closed (no DISCONNECT in 3.1.1).
	v4 = User("kick-v4", "old", version=4, clean=False)
	api.delete("/clients/kick-v4")
	v4.kicked(None)
	api.error(api.call("GET", "/clients/kick-v4"), 404, "CLIENTID_NOT_FOUND")
	# A disconnected session is ended too.
	off = User("kick-off", None, clean=False, props={"session_expiry": 300})
	off.disconnect()
	check(client("kick-off")["conn_state"] == "disconnected", "offline")
	api.delete("/clients/kick-off")
	api.error(api.call("GET", "/clients/kick-off"), 404, "CLIENTID_NOT_FOUND")
	off = User("kick-off", None, clean=False, props={"session_expiry": 300})
	check(off.session_present == 0, "its session ended", off.session_present)
	User("kick-off", None, clean=True).disconnect()
	User("kick-v5", None, clean=True).disconnect()
	stay.disconnect()
	EOF
'

test_expect_success 'POST /clients/kickout/bulk kicks several; bad bodies are 400 and kick nobody' '
	rest_py <<-\EOF
	from rest import *
	cs = {i: User(i, None, props={"session_expiry": 60}, clean=False)
	      for i in ("bulk-1", "bulk/2", "bulk 3", "bulk-stay")}
	for body in ("{}", "\"bulk-stay\"", "[1]", "[\"bulk-stay\", 2]",
	             "[\"bulk-stay\", \"\"]", "[\"bulk-stay\", null]",
	             "[\"bulk-stay\"", "", "[[\"bulk-stay\"]]"):
	    r = api.call("POST", "/clients/kickout/bulk", data=body.encode(),
	                 headers={"Content-Type": "application/json"})
	    api.error(r, 400, "BAD_REQUEST")
	check(client("bulk-stay")["connected"] is True, "nobody kicked")
	r = api.call("POST", "/clients/kickout/bulk",
	             ["bulk-1", "bulk/2", "bulk 3", "no-such-client"])
	check(r.status == 204, "204", r)
	for i in ("bulk-1", "bulk/2", "bulk 3"):
	    cs[i].kicked(0x98)
	    api.error(api.call("GET", "/clients/" + q(i)), 404,
	              "CLIENTID_NOT_FOUND")
	j = api.get("/clients?like_clientid=bulk")
	check([c["clientid"] for c in j["data"]] == ["bulk-stay"], "one left", j)
	check(not cs["bulk-stay"].gone.is_set(), "bulk-stay still connected")
	User("bulk-stay", None, clean=True).disconnect()
	EOF
'

test_expect_success 'GET /subscriptions: fields and the filters clientid, topic, qos, share_group, match_topic; pages' '
	rest_py <<-\EOF
	from rest import *
	node = os.environ["NODE"]
	s1 = User("sub-1", None)
	s2 = User("sub-2", None, version=4)
	s1.subscribe("sub/a", qos=1)
	s1.subscribe("sub/+/b", qos=2, nl=True, rap=True, rh=1)
	s1.subscribe("$share/g1/sub/s", qos=0)
	s2.subscribe("sub/a", qos=0)
	s2.subscribe("$share/g2/sub/s", qos=1)
	def subs(query):
	    j = api.get("/subscriptions?" + query)
	    check(j["meta"]["count"] == len(j["data"]) or "limit" in query,
	          "count", j)
	    for s in j["data"]:
	        check({"clientid", "topic", "qos", "nl", "rap", "rh", "node",
	               "durable"} == set(s) and s["node"] == node,
	              "subscription fields", s)
	    return [(s["clientid"], s["topic"], s["qos"]) for s in j["data"]]
	def want(query, expect):
	    got = subs(query)
	    check(sorted(got) == sorted(expect), query, got, expect)
	every = [("sub-1", "sub/a", 1), ("sub-1", "sub/+/b", 2),
	         ("sub-1", "$share/g1/sub/s", 0), ("sub-2", "sub/a", 0),
	         ("sub-2", "$share/g2/sub/s", 1)]
	want("", every)
	want("clientid=sub-1", every[:3])
	want("clientid=sub-2", every[3:])
	want("clientid=sub-3", [])
	want("topic=sub/a", [every[0], every[3]])
	want("topic=" + q("sub/+/b"), [every[1]])
	want("topic=" + q("$share/g1/sub/s"), [every[2]])
	want("topic=sub/x/b", [])
	want("qos=0", [every[2], every[3]])
	want("qos=1", [every[0], every[4]])
	want("qos=2", [every[1]])
	want("qos=1&clientid=sub-2", [every[4]])
	want("share_group=g1", [every[2]])
	want("share_group=g2", [every[4]])
	want("share_group=g3", [])
	want("match_topic=sub/x/b", [every[1]])
	want("match_topic=sub/a", [every[0], every[3]])
	want("match_topic=other", [])
	s = [x for x in api.get("/clients/sub-1/subscriptions")
	     if x["topic"] == "sub/+/b"]
	check(len(s) == 1 and (s[0]["qos"], s[0]["nl"], s[0]["rap"],
	      s[0]["rh"]) == (2, 1, 1, 1), "the options of sub/+/b", s)
	seen = []
	for page, n, more in ((1, 2, True), (2, 2, True), (3, 1, False)):
	    j = api.get("/subscriptions?limit=2&page=%d" % page)
	    check(j["meta"] == {"page": page, "limit": 2, "count": 5,
	                        "hasnext": more} and len(j["data"]) == n,
	          "page %d" % page, j)
	    seen += [(s["clientid"], s["topic"], s["qos"]) for s in j["data"]]
	check(sorted(seen) == sorted(every), "every subscription once", seen)
	for bad in ("qos=3", "qos=x", "qos=-1", "qos="):
	    api.error(api.call("GET", "/subscriptions?" + bad), 400,
	              "BAD_REQUEST")
	s1.disconnect()
	s2.disconnect()
	check(wait_until(lambda: subs("") == []), "none left", subs(""))
	EOF
'

test_expect_success 'GET /topics: distinct filters, counted once; the topic filter; pages' '
	rest_py <<-\EOF
	from rest import *
	node = os.environ["NODE"]
	a = User("top-1", None)
	b = User("top-2", None, version=4)
	for c in (a, b):
	    c.subscribe("top/same", qos=1)
	    c.subscribe("top/+/w", qos=0)
	a.subscribe("top/only-a", qos=2)
	j = api.get("/topics")
	check(j["meta"] == {"page": 1, "limit": 100, "count": 3,
	                    "hasnext": False}, "3 distinct filters", j)
	check(sorted(t["topic"] for t in j["data"]) ==
	      ["top/+/w", "top/only-a", "top/same"] and
	      all(t == {"topic": t["topic"], "node": node} for t in j["data"]),
	      "the filters", j)
	j = api.get("/topics?topic=top/same")
	check(j["data"] == [{"topic": "top/same", "node": node}] and
	      j["meta"]["count"] == 1, "?topic", j)
	j = api.get("/topics?topic=" + q("top/+/w"))
	check(len(j["data"]) == 1, "?topic with a wildcard", j)
	j = api.get("/topics?topic=top/nothing")
	check(j["data"] == [] and j["meta"]["count"] == 0, "no such topic", j)
	j = api.get("/topics?limit=2&page=2")
	check(j["meta"] == {"page": 2, "limit": 2, "count": 3, "hasnext": False}
	      and len(j["data"]) == 1, "page 2", j)
	b.disconnect()
	j = api.get("/topics")
	check(j["meta"]["count"] == 3, "still 3 with one subscriber each", j)
	a.disconnect()
	check(wait_until(lambda: api.get("/topics")["meta"]["count"] == 0),
	      "none once both left", api.get("/topics"))
	EOF
'

test_expect_success 'GET /listeners: tcp:default, its bind and connections' '
	rest_py "$FLOCKMQ_PORT" <<-\EOF
	from rest import *
	def ls():
	    j = api.get("/listeners")
	    check(isinstance(j, list) and len(j) == 1, "one listener", j)
	    return j[0]
	want = {"id": "tcp:default", "type": "tcp", "name": "default",
	        "bind": "127.0.0.1:" + sys.argv[1], "enable": True,
	        "running": True, "current_connections": 0,
	        "max_connections": -1}
	check(wait_until(lambda: ls() == want), "the listener", ls(), want)
	cs = [Raw("ls-%d" % i) for i in range(3)]
	want["current_connections"] = 3
	check(ls() == want, "3 connections", ls())
	for c in cs:
	    c.disconnect()
	want["current_connections"] = 0
	check(wait_until(lambda: ls() == want), "0 again", ls())
	EOF
'

# mqtt_refused: a new MQTT connection is refused.
mqtt_refused () {
	test_must_fail mosquitto_pub -h 127.0.0.1 -p "$FLOCKMQ_PORT" \
	    -i refused -t ls/x -m x 2>pub.err &&
	test_grep -i "refused" pub.err
}

test_expect_success 'POST /listeners/tcp:default/stop (after a start while running, twice): new connections refused, a connected subscriber still gets a message from POST /publish' '
	test_when_finished "api POST /listeners/tcp:default/start" &&
	test_spawn mosquitto_sub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -i ls-live \
	    -q 1 -t ls/t -C 1 -W 20 >live.out &&
	live_pid=$! &&
	test_when_finished "kill $live_pid 2>/dev/null || :" &&
	wait_for "subscribed ls-live 1" &&
	api POST /listeners/tcp:default/start &&
	expect_code 200 &&
	api POST /listeners/tcp:default/stop &&
	expect_code 200 &&
	api POST /listeners/tcp:default/stop &&
	expect_code 200 &&
	jcheck "j == {}" &&
	api GET /listeners &&
	jcheck "j[0][\"running\"] is False and j[0][\"current_connections\"] == 1" &&
	mqtt_refused &&
	api POST /publish "{\"topic\":\"ls/t\",\"payload\":\"while stopped\",\"qos\":1}" &&
	expect_code 200 &&
	wait_for "! test_pid_alive $live_pid" 10 &&
	echo "while stopped" >expect &&
	test_cmp expect live.out &&
	api POST /listeners/tcp:default/start &&
	expect_code 200 &&
	jcheck "j == {}" &&
	api GET /listeners &&
	jcheck "j[0][\"running\"] is True" &&
	mosquitto_pub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -i after-start -t ls/x -m x
'

test_expect_success 'POST /listeners/tcp:default/restart: accepting after it; a connected client keeps its connection' '
	rest_py <<-\EOF &&
	from rest import *
	live = User("restart-live", None)
	live.subscribe("rs/t", qos=1)
	check(api.post("/listeners/tcp:default/restart") == {}, "restart")
	check(api.get("/listeners")[0]["running"] is True, "running")
	api.post("/publish", {"topic": "rs/t", "payload": "after", "qos": 1})
	check(live.payloads(1) == ["after"], "still subscribed")
	n = Raw("restart-new")
	n.disconnect()
	live.disconnect()
	EOF
	api POST /listeners/tcp:default/start &&
	expect_code 200 &&
	mosquitto_pub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -i twice -t ls/x -m x
'

test_expect_success 'POST /listeners: unknown listener or action is 404; GET on an action 405' '
	for id in tcp:nope ssl:default ws:default nope
	do
		api POST "/listeners/$id/stop" &&
		expect_code 404 BAD_LISTENER_ID || return 1
	done &&
	for act in pause STOP "" stopp
	do
		api POST "/listeners/tcp:default/$act" &&
		test "$(cat code)" = 404 || return 1
	done &&
	api POST /listeners/tcp:default/pause &&
	expect_code 404 NOT_FOUND &&
	api GET /listeners/tcp:default/stop &&
	expect_code 405 METHOD_NOT_ALLOWED &&
	api GET /listeners &&
	jcheck "j[0][\"running\"] is True" &&
	mosquitto_pub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -i still -t ls/x -m x
'

STATS_KEYS='["connections.count", "connections.max", "live_connections.count",
"sessions.count", "durable_sessions.count", "subscriptions.count",
"subscriptions.shared.count", "topics.count", "retained.count",
"retained.max"]'

test_expect_success 'GET /metrics and /stats: a list with the node, ?aggregate=true an object' '
	for p in metrics stats
	do
		api GET "/$p" &&
		expect_code 200 &&
		cp out "$p.list" &&
		jcheck "isinstance(j, list) and len(j) == 1" \
		    "j[0][\"node\"] == \"$NODE\"" \
		    "all(type(v) is int for k, v in j[0].items() if k != \"node\")" &&
		api GET "/$p?aggregate=true" &&
		expect_code 200 &&
		jcheck "isinstance(j, dict) and \"node\" not in j" \
		    "all(type(v) is int for v in j.values())" \
		    "set(j) | {\"node\"} == set(load(\"$p.list\")[0])" ||
		return 1
	done &&
	api GET /metrics &&
	jcheck "{\"bytes.received\", \"messages.received\", \"messages.qos0.received\", \"messages.qos1.received\", \"messages.qos2.received\", \"messages.sent\", \"packets.connect.received\"} <= set(j[0])" &&
	api GET /stats &&
	jcheck "set($STATS_KEYS) - {\"retained.max\"} <= set(j[0])"
'

test_expect_success 'GET /stats: retained.max, a field of the contract' '
	api GET /stats &&
	jcheck "\"retained.max\" in j[0]"
'

test_expect_success 'GET /metrics and /stats follow real traffic exactly' '
	rest_py <<-\EOF
	from rest import *
	m0 = api.get("/metrics?aggregate=true")
	s0 = api.get("/stats?aggregate=true")
	sub = User("st-sub", None)
	sub.subscribe("st/+", qos=2)
	sub.subscribe("$share/sg/sh/x", qos=1)
	pub = User("st-pub", None)
	third = Raw("st-third")
	s1 = api.get("/stats?aggregate=true")
	def d(a, b, k):
	    return b[k] - a[k]
	for k, n in (("connections.count", 3), ("live_connections.count", 3),
	             ("sessions.count", 3), ("subscriptions.count", 2),
	             ("subscriptions.shared.count", 1)):
	    check(d(s0, s1, k) == n, "%s +%d" % (k, n), s0[k], s1[k])
	check(s1["connections.max"] >= s1["connections.count"], "max", s1)
	for i in range(4):
	    pub.publish("st/q0", "x", qos=0)
	pub.publish("st/q1", "x", qos=1)
	pub.publish("st/q1", "x", qos=1)
	pub.publish("st/q2", "kept", qos=2, retain=True)
	pub.publish("sh/x", "s", qos=1)
	check(len(sub.messages(8)) == 8, "8 delivered")
	m1 = api.get("/metrics?aggregate=true")
	for k, n in (("messages.received", 8), ("messages.qos0.received", 4),
	             ("messages.qos1.received", 3), ("messages.qos2.received", 1),
	             ("packets.connect.received", 3),
	             ("packets.subscribe.received", 2),
	             ("packets.publish.received", 8)):
	    check(d(m0, m1, k) == n, "%s +%d" % (k, n), m0[k], m1[k])
	check(wait_until(lambda: d(m0, api.get("/metrics?aggregate=true"),
	                           "messages.sent") == 8), "messages.sent +8",
	      m0["messages.sent"], api.get("/metrics?aggregate=true")["messages.sent"])
	s2 = api.get("/stats?aggregate=true")
	check(d(s0, s2, "retained.count") == 1, "retained.count +1", s0, s2)
	pub.publish("st/q2", b"", qos=1, retain=True)
	for c in (sub, pub, third):
	    c.disconnect()
	def back():
	    s = api.get("/stats?aggregate=true")
	    return all(s[k] == s0[k] for k in
	               ("connections.count", "live_connections.count",
	                "subscriptions.count", "subscriptions.shared.count",
	                "retained.count"))
	check(wait_until(back), "back to the start", s0,
	      api.get("/stats?aggregate=true"))
	EOF
'

test_expect_success 'POST /publish: delivered with its QoS; 200 {"id"}' '
	rest_py <<-\EOF
	from rest import *
	s = User("pb-sub", None)
	s.subscribe("pb/#", qos=2)
	for qos in (0, 1, 2):
	    j = api.post("/publish", {"topic": "pb/q%d" % qos,
	                              "payload": "qos %d" % qos, "qos": qos})
	    check(set(j) == {"id"} and hexstr(j["id"], 32), "the answer", j)
	    m = s.messages(1)[0]
	    check((m.topic, m.payload, m.qos, m.retain) ==
	          ("pb/q%d" % qos, b"qos %d" % qos, qos, 0), "delivered", m.topic,
	          m.payload, m.qos)
	j = api.post("/publish", {"topic": "pb/min"})
	m = s.messages(1)[0]
	check((m.topic, m.payload, m.qos) == ("pb/min", b"", 0),
	      "defaults: empty payload, QoS 0", m.payload, m.qos)
	s.expect_nothing(0.2)
	s.disconnect()
	EOF
'

test_expect_success 'POST /publish: retain reaches a later subscriber; base64 is byte-exact; properties reach paho 5.0' '
	rest_py <<-\EOF
	from rest import *
	import base64
	j = api.post("/publish", {"topic": "pr/kept", "payload": "kept",
	                          "retain": True, "qos": 1}, 202)
	check(j["reason_code"] == 16, "nobody subscribed yet", j)
	late = User("pr-late", None)
	late.subscribe("pr/kept", qos=1)
	m = late.messages(1)[0]
	check((m.payload, m.retain, m.qos) == (b"kept", 1, 1), "retained", m.payload,
	      m.retain, m.qos)
	late.subscribe("pr/#", qos=1)
	late.messages(1)
	blob = bytes(range(256)) * 3 + b"\0\xff\0"
	api.post("/publish", {"topic": "pr/bin", "qos": 1,
	                      "payload_encoding": "base64",
	                      "payload": base64.b64encode(blob).decode()})
	m = late.messages(1)[0]
	check(m.payload == blob, "byte-exact", len(m.payload))
	api.post("/publish", {"topic": "pr/plain", "payload": "aGVsbG8=",
	                      "payload_encoding": "plain"})
	check(late.messages(1)[0].payload == b"aGVsbG8=", "plain is as is")
	api.post("/publish", {"topic": "pr/props", "payload": "{}", "qos": 1,
	    "properties": {"user_properties": {"k1": "v1", "k2": "zwei"},
	                   "content_type": "application/json",
	                   "message_expiry_interval": 300,
	                   "payload_format_indicator": 1,
	                   "response_topic": "pr/resp",
	                   "correlation_data": "corr-1"}})
	m = late.messages(1)[0]
	p = m.properties
	check(sorted(getattr(p, "UserProperty", [])) ==
	      [("k1", "v1"), ("k2", "zwei")], "user properties", p)
	check(getattr(p, "ContentType", None) == "application/json",
	      "content type", p)
	check(295 <= getattr(p, "MessageExpiryInterval", 0) <= 300,
	      "message expiry", p)
	check(getattr(p, "PayloadFormatIndicator", None) == 1, "format", p)
	check(getattr(p, "ResponseTopic", None) == "pr/resp", "response", p)
	check(getattr(p, "CorrelationData", None) == b"corr-1", "corr", p)
	api.post("/publish", {"topic": "pr/kept", "payload": "", "retain": True})
	late.messages(1)
	late.disconnect()
	n = User("pr-later", None)
	n.subscribe("pr/kept", qos=1)
	n.expect_nothing(0.3)
	n.disconnect()
	EOF
'

test_expect_success 'POST /publish: 202 no_matching_subscribers, reason code 16, when nobody subscribed' '
	api POST /publish "{\"topic\":\"nobody/here\",\"payload\":\"x\"}" &&
	expect_code 202 &&
	jcheck "set(j) == {\"id\", \"message\", \"reason_code\"}" \
	    "hexstr(j[\"id\"], 32)" \
	    "j[\"message\"] == \"no_matching_subscribers\"" \
	    "j[\"reason_code\"] == 16"
'

test_expect_success 'POST /publish: bad messages are 400 and deliver nothing' '
	rest_py <<-\EOF
	from rest import *
	s = User("pe-sub", None)
	s.subscribe("#", qos=1, rh=2)
	bad = [
	    ({"payload": "no topic"}, "BAD_REQUEST"),
	    ({"topic": "", "payload": "x"}, "BAD_REQUEST"),
	    ({"topic": 5, "payload": "x"}, "BAD_REQUEST"),
	    ({"topic": "pe/+", "payload": "x"}, "BAD_TOPIC"),
	    ({"topic": "pe/#", "payload": "x"}, "BAD_TOPIC"),
	    ({"topic": "pe/x", "qos": 3}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "qos": -1}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "qos": "1"}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "retain": "yes"}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "retain": 1}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "payload": 42}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "payload": "!!not base64!!",
	      "payload_encoding": "base64"}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "payload": "x", "payload_encoding": "hex"},
	     "BAD_REQUEST"),
	    ({"topic": "pe/x", "properties": "yes"}, "BAD_REQUEST"),
	    ({"topic": "pe/x", "properties": {"user_properties": {"a": 1}}},
	     "BAD_REQUEST"),
	    ({"topic": "pe/x", "properties": {"user_properties": ["a"]}},
	     "BAD_REQUEST"),
	    ({"topic": "pe/x", "properties": {"message_expiry_interval": -1}},
	     "BAD_REQUEST"),
	    ({"topic": "pe/x", "properties": {"payload_format_indicator": 2}},
	     "BAD_REQUEST"),
	    ({"topic": "pe/x", "properties": {"content_type": 7}},
	     "BAD_REQUEST"),
	    ({"topic": "pe/x", "properties": {"response_topic": "a/+"}},
	     "BAD_REQUEST"),
	    (["pe/x"], "BAD_REQUEST"),
	    ("pe/x", "BAD_REQUEST"),
	    (1, "BAD_REQUEST"),
	    (None, "BAD_REQUEST"),
	]
	for body, code in bad:
	    r = api.call("POST", "/publish", data=json.dumps(body).encode(),
	                 headers={"Content-Type": "application/json"})
	    api.error(r, 400, code)
	for data in (b"", b"{", b"{\"topic\": \"pe/x\",}", b"\xff\xfe"):
	    api.error(api.call("POST", "/publish", data=data), 400,
	              "BAD_REQUEST")
	api.post("/publish", {"topic": "pe/sentinel", "payload": "end"})
	m = s.messages(1)[0]
	check((m.topic, m.payload) == ("pe/sentinel", b"end"),
	      "the sentinel first: nothing before", m.topic, m.payload)
	s.expect_nothing(0.2)
	s.disconnect()
	EOF
'

test_expect_success 'POST /publish/bulk: all delivered, in order on each topic; one bad message and none is' '
	rest_py <<-\EOF
	from rest import *
	s = User("bk-sub", None)
	s.subscribe("bk/#", qos=2)
	j = api.post("/publish/bulk", [
	    {"topic": "bk/1", "payload": "one"},
	    {"topic": "bk/2", "payload": "two", "qos": 1},
	    {"topic": "bk/3", "payload": "dGhyZWU=", "payload_encoding": "base64",
	     "qos": 2},
	    {"topic": "nobody/bk", "payload": "none"},
	    {"topic": "bk/1", "payload": "four", "qos": 1},
	    {"topic": "bk/1", "payload": "five", "qos": 2}])
	check(isinstance(j, list) and len(j) == 6, "6 results", j)
	check(all(hexstr(r["id"], 32) for r in j), "ids", j)
	check(len(set(r["id"] for r in j)) == 6, "6 different ids", j)
	check([r.get("reason_code") for r in j] ==
	      [None, None, None, 16, None, None], "no subscriber for the 4th", j)
	got = [(m.topic, m.payload, m.qos) for m in s.messages(5)]
	check(sorted(got) == sorted([("bk/1", b"one", 0), ("bk/2", b"two", 1),
	                             ("bk/3", b"three", 2), ("bk/1", b"four", 1),
	                             ("bk/1", b"five", 2)]), "all 5", got)
	check([p for t, p, q in got if t == "bk/1"] == [b"one", b"four", b"five"],
	      "in order on bk/1", got)
	s.expect_nothing(0.2)
	for body in ([{"topic": "bk/1", "payload": "a"},
	              {"topic": "bk/+", "payload": "b"},
	              {"topic": "bk/3", "payload": "c"}],
	             [{"topic": "bk/1", "payload": "a"}, {"qos": 1}],
	             [{"topic": "bk/1", "payload": "a"}, "bk/2"],
	             [{"topic": "bk/1", "payload": "a"},
	              {"topic": "bk/2", "payload": "%%", "payload_encoding":
	               "base64"}],
	             [{"topic": "bk/1", "payload": "a"},
	              {"topic": "bk/2", "qos": 1, "retain": "no"}],
	             [], {"topic": "bk/1", "payload": "a"}, "x", None):
	    r = api.call("POST", "/publish/bulk", data=json.dumps(body).encode())
	    api.error(r, 400, "BAD_TOPIC" if body and isinstance(body, list) and
	              body[1:2] == [{"topic": "bk/+", "payload": "b"}]
	              else "BAD_REQUEST")
	api.post("/publish", {"topic": "bk/sentinel", "payload": "end"})
	m = s.messages(1)[0]
	check((m.topic, m.payload) == ("bk/sentinel", b"end"),
	      "nothing of the bad bulks", m.topic, m.payload)
	s.disconnect()
	EOF
'

test_expect_success 'POST /publish/bulk: messages of one QoS on several topics arrive in the order of the request' '
	rest_py <<-\EOF
	from rest import *
	s = User("bo-sub", None)
	s.subscribe("bo/#", qos=1)
	bad = []
	for trial in range(20):
	    api.post("/publish/bulk", [{"topic": "bo/%d" % (i % 7),
	                                "payload": str(i), "qos": 1}
	                               for i in range(30)])
	    got = [int(m.payload) for m in s.messages(30)]
	    if got != list(range(30)):
	        bad.append(got)
	check(not bad, "in order in every one of 20 requests; out of order "
	      "in %d, the first:" % len(bad), bad[:1])
	s.disconnect()
	EOF
'

test_expect_success 'the broker stops cleanly' '
	stop_broker
'

test_done
