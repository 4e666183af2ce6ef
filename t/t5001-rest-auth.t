#!/bin/sh

test_description='the REST API: authentication, users, API keys and errors

Every route of the route table but /status, /api/v5/status, Prometheus,
/api/v5/login and the dashboard files answers 401 with WWW-Authenticate
and EMQX'"'"'s error object without credentials or with bad ones, and
changes nothing; login, logout, expired tokens, the login lock (429 with
Retry-After), change_pwd and reset_pwd (ctl socket only), passwords that
survive a restart and never reach the log, the first password from
EMQX_DASHBOARD__DEFAULT_PASSWORD; API keys (HTTP Basic): the secret
shown once, disabled, expired and deleted keys refused, names checked,
keys kept over a restart; unknown paths 404, wrong methods 405, bad JSON
400 and bodies over 1 MiB 413, changing nothing.'

. "$(dirname "$0")"/test-lib.sh
. "$TEST_DIRECTORY"/lib-broker.sh
. "$TEST_DIRECTORY"/lib-rest.sh

# Every password this script types: none may reach the broker's log.
PW_NEW=n3w-Secret-pass
PW_RESET=r3set-Via-ctl-sock
PW_LOCKY=l0cky-Right-pass
PW_FIRST=xyz-f1rst-from-env
PW_OTHER=0ther-env-pass-9
PW_WRONG=wr0ng-Guess-pass
PASSWORDS="public $PW_NEW $PW_RESET $PW_LOCKY $PW_FIRST $PW_OTHER $PW_WRONG short7x"

# ctl METHOD PATH [JSON]: the same API on the ctl socket, without auth.
ctl () {
	if test $# -ge 3; then
		http_do "$1" "http://ctl/api/v5$2" \
		    --unix-socket "$BROKER_DATA/ctl.sock" \
		    -H "Content-Type: application/json" --data-binary "$3"
	else
		http_do "$1" "http://ctl/api/v5$2" \
		    --unix-socket "$BROKER_DATA/ctl.sock"
	fi
}

# login_fails USER PASSWORD: 401 BAD_USERNAME_OR_PWD.
login_fails () {
	try_login "$1" "$2" &&
	expect_code 401 BAD_USERNAME_OR_PWD
}

test_expect_success 'start the broker (log level debug)' '
	broker_config <<-\EOF &&
	log.console.level: debug
	sys_topics:
	  sys_msg_interval: disabled
	  sys_heartbeat_interval: disabled
	EOF
	start_broker
'

test_expect_success 'no credentials needed for /status, /api/v5/status, Prometheus, /api/v5/login and the dashboard, and only for them' '
	rest_py "$FLOCKMQ_SRC/src/http.c" <<-\EOF
	from rest import *
	routes = http_routes(sys.argv[1])
	check(len(routes) >= 30, "the route table", routes)
	noauth = sorted((m, p) for m, p, f in routes if "HTTP_F_NOAUTH" in f)
	check(noauth == sorted([("GET", "/status"), ("GET", "/api/v5/status"),
	                        ("GET", "/api/v5/prometheus"),
	                        ("GET", "/api/v5/prometheus/stats"),
	                        ("POST", "/api/v5/login")]),
	      "the routes without authentication", noauth)
	top = Api(url="http://%s:%d" % (api.host, api.port), token="")
	for m, p in noauth:
	    r = top.call(m, p, {"username": "nobody-here", "password": "x"}
	                 if p.endswith("/login") else None)
	    if p.endswith("/login"):
	        top.error(r, 401, "BAD_USERNAME_OR_PWD")
	    else:
	        check(r.status == 200 and r.body, p + ": 200", r)
	for p in ("/", "/index.html"):
	    r = top.call("GET", p)
	    check(r.status == 200 and r.headers["content-type"].startswith(
	          "text/html") and b"<html" in r.body.lower(), p, r)
	check(top.call("GET", "/").body == top.call("GET", "/index.html").body,
	      "/ is index.html")
	EOF
'

test_expect_success 'POST /login: the token and EMQX'"'"'s fields; must_change_password with the default password' '
	login admin public &&
	jcheck "same_keys(j, [\"token\", \"version\", \"role\", \"license\", \"must_change_password\"])" \
	    "hexstr(j[\"token\"], 64)" \
	    "j[\"role\"] == \"administrator\"" \
	    "j[\"license\"] == {\"edition\": \"opensource\"}" \
	    "re.fullmatch(r\"\\d+\\.\\d+\\.\\d+.*\", j[\"version\"])" \
	    "j[\"must_change_password\"] is True" &&
	api GET /users &&
	expect_code 200 &&
	jcheck "j == [{\"username\": \"admin\", \"role\": \"administrator\", \"description\": j[0][\"description\"]}]"
'

test_expect_success 'every other route: 401, WWW-Authenticate and the error object without a token, with a bad one, with a bad API key; nothing changes' '
	rest_py "$FLOCKMQ_SRC/src/http.c" <<-\EOF
	from rest import *
	import base64
	node = os.environ["NODE"]
	victim = User("victim", "vic")
	victim.subscribe("victim/#", qos=1)
	params = {":name": "admin", ":node": node, ":clientid": "victim",
	          ":id": "tcp:default", ":action": "stop", ":as": "clientid",
	          ":who": "victim"}
	bodies = {
	    "/api/v5/users/:name/change_pwd": {"old_pwd": "public",
	                                       "new_pwd": "hijacked-pass"},
	    "/api/v5/clients/kickout/bulk": ["victim"],
	    "/api/v5/publish": {"topic": "victim/t", "payload": "x"},
	    "/api/v5/publish/bulk": [{"topic": "victim/t", "payload": "x"}],
	    "/api/v5/banned": {"as": "clientid", "who": "victim"},
	    "/api/v5/api_key": {"name": "sneaky"},
	    "/api/v5/api_key/:name": {"enable": False},
	}
	top = Api(url="http://%s:%d" % (api.host, api.port), token="")
	creds = [
	    ({}, "BAD_TOKEN"),
	    ({"Authorization": "Bearer " + "0" * 64}, "BAD_TOKEN"),
	    ({"Authorization": "Bearer "}, "BAD_TOKEN"),
	    ({"Authorization": "Bearer " + api.token[:-1]}, "BAD_TOKEN"),
	    ({"Authorization": "Bearer " + api.token + "0"}, "BAD_TOKEN"),
	    (basic("nokey", "nosecret"), "BAD_API_KEY_OR_SECRET"),
	    ({"Authorization": "Basic !!!"}, "BAD_API_KEY_OR_SECRET"),
	    ({"Authorization": "Basic " + base64.b64encode(b"admin:public")
	      .decode()}, "BAD_API_KEY_OR_SECRET"),
	    ({"Authorization": "Token " + api.token}, "BAD_API_KEY_OR_SECRET"),
	]
	n = 0
	for m, pat, flags in http_routes(sys.argv[1]):
	    if flags - {"HTTP_F_USER"}:
	        continue
	    path = "/".join(params.get(s, s) for s in pat.split("/"))
	    for h, code in creds:
	        r = top.call(m, path, bodies.get(pat, {} if m in ("POST", "PUT")
	                                         else None), headers=h)
	        top.error(r, 401, code)
	        www = r.headers.get("www-authenticate", "")
	        check("Bearer" in www and "Basic" in www,
	              "%s %s: WWW-Authenticate" % (m, path), r.headers)
	        n += 1
	check(n == 29 * len(creds), "29 routes", n)
	victim.expect_nothing(0.2)
	check(not victim.gone.is_set(), "the victim is still connected")
	check(client("victim")["subscriptions_cnt"] == 1, "still subscribed")
	check(api.get("/listeners")[0]["running"] is True, "listener running")
	check(api.get("/banned")["meta"]["count"] == 0, "nobody banned")
	check(api.get("/api_key") == [], "no API key")
	api.post("/publish", {"topic": "victim/t", "payload": "real"})
	check(victim.payloads(1) == ["real"], "the victim gets a real message")
	victim.disconnect()
	EOF
'

test_expect_success 'the password is still the default after those requests' '
	login admin public &&
	jcheck "j[\"must_change_password\"] is True"
'

test_expect_success 'POST /login: a wrong password or an unknown user is 401 BAD_USERNAME_OR_PWD; bad bodies 400' '
	login_fails admin "$PW_WRONG" &&
	test_grep -i "^www-authenticate: Bearer" hdr &&
	login_fails no-such-user public &&
	try_login admin "" &&
	expect_code 400 BAD_REQUEST &&
	for body in "{\"username\":\"admin\"}" "{\"password\":\"public\"}" \
	    "{\"username\":\"admin\",\"password\":5}" "[\"admin\",\"public\"]" \
	    "{\"username\":\"admin\",\"password\":\"public\"" ""
	do
		http_do POST "$API/login" -H "Content-Type: application/json" \
		    --data-binary "$body" &&
		expect_code 400 BAD_REQUEST || return 1
	done &&
	http_do GET "$API/login" &&
	expect_code 405 METHOD_NOT_ALLOWED
'

test_expect_success 'POST /logout ends the token used, and only it' '
	MAIN=$TOKEN &&
	login admin public &&
	SECOND=$TOKEN &&
	test "$SECOND" != "$MAIN" &&
	api GET /nodes &&
	expect_code 200 &&
	api POST /logout "{\"username\":\"admin\"}" &&
	expect_code 204 &&
	test_must_fail test -s out &&
	api GET /nodes &&
	expect_code 401 BAD_TOKEN &&
	api POST /logout "{\"username\":\"admin\"}" &&
	expect_code 401 BAD_TOKEN &&
	TOKEN=$MAIN &&
	api GET /nodes &&
	expect_code 200
'

test_expect_success 'POST /users/admin/change_pwd: a wrong old password, too short, too long, the default, missing fields are 400' '
	api POST /users/admin/change_pwd "{\"old_pwd\":\"$PW_WRONG\",\"new_pwd\":\"$PW_NEW\"}" &&
	expect_code 400 BAD_REQUEST &&
	api POST /users/admin/change_pwd "{\"old_pwd\":\"public\",\"new_pwd\":\"short7x\"}" &&
	expect_code 400 BAD_REQUEST &&
	long=$(printf "%065d" 0) &&
	api POST /users/admin/change_pwd "{\"old_pwd\":\"public\",\"new_pwd\":\"$long\"}" &&
	expect_code 400 BAD_REQUEST &&
	api POST /users/admin/change_pwd "{\"old_pwd\":\"public\",\"new_pwd\":\"public\"}" &&
	expect_code 400 BAD_REQUEST &&
	api POST /users/admin/change_pwd "{\"old_pwd\":\"public\"}" &&
	expect_code 400 BAD_REQUEST &&
	api POST /users/admin/change_pwd "{\"new_pwd\":\"$PW_NEW\"}" &&
	expect_code 400 BAD_REQUEST &&
	api POST /users/admin/change_pwd "{\"old_pwd\":\"public\",\"new_pwd\":8}" &&
	expect_code 400 BAD_REQUEST &&
	api POST /users/nobody/change_pwd "{\"old_pwd\":\"public\",\"new_pwd\":\"$PW_NEW\"}" &&
	expect_code 404 NOT_FOUND &&
	api GET /nodes &&
	expect_code 200 &&
	MAIN=$TOKEN &&
	login admin public &&
	jcheck "j[\"must_change_password\"] is True" &&
	TOKEN=$MAIN
'

test_expect_success 'POST /users/admin/change_pwd: 204; other tokens of admin end; the old password fails, the new one works' '
	MAIN=$TOKEN &&
	login admin public &&
	OTHER=$TOKEN &&
	TOKEN=$MAIN &&
	api POST /users/admin/change_pwd "{\"old_pwd\":\"public\",\"new_pwd\":\"$PW_NEW\"}" &&
	expect_code 204 &&
	test_must_fail test -s out &&
	api GET /nodes &&
	expect_code 200 &&
	TOKEN=$OTHER &&
	api GET /nodes &&
	expect_code 401 BAD_TOKEN &&
	login_fails admin public &&
	login admin "$PW_NEW" &&
	jcheck "j[\"must_change_password\"] is False" &&
	api POST /users/admin/change_pwd "{\"old_pwd\":\"$PW_NEW\",\"new_pwd\":\"$PW_NEW\"}" &&
	expect_code 400 BAD_REQUEST &&
	login admin "$PW_NEW"
'

test_expect_success 'the new password survives a restart; the tokens do not' '
	OLD=$TOKEN &&
	restart_broker &&
	TOKEN=$OLD &&
	api GET /nodes &&
	expect_code 401 BAD_TOKEN &&
	login_fails admin public &&
	login admin "$PW_NEW" &&
	jcheck "j[\"must_change_password\"] is False"
'

test_expect_success 'reset_pwd: 404 on TCP, even with a token; on the ctl socket without auth it sets the password' '
	api POST /users/admin/reset_pwd "{\"password\":\"$PW_RESET\"}" &&
	expect_code 404 NOT_FOUND &&
	TCP=$TOKEN &&
	TOKEN= &&
	api POST /users/admin/reset_pwd "{\"password\":\"$PW_RESET\"}" &&
	expect_code 404 NOT_FOUND &&
	TOKEN=$TCP &&
	ctl GET /clients &&
	expect_code 200 &&
	jcheck "j[\"meta\"][\"count\"] == 0" &&
	ctl POST /users/admin/reset_pwd "{\"password\":\"short7x\"}" &&
	expect_code 400 BAD_REQUEST &&
	ctl POST /users/nobody/reset_pwd "{\"password\":\"$PW_RESET\"}" &&
	expect_code 404 NOT_FOUND &&
	ctl POST /users/admin/reset_pwd "{}" &&
	expect_code 400 BAD_REQUEST &&
	login admin "$PW_NEW" &&
	ctl POST /users/admin/reset_pwd "{\"password\":\"$PW_RESET\"}" &&
	expect_code 204 &&
	api GET /nodes &&
	expect_code 401 BAD_TOKEN &&
	login_fails admin "$PW_NEW" &&
	login admin "$PW_RESET" &&
	jcheck "j[\"must_change_password\"] is False"
'

test_expect_success 'API keys: POST shows the secret once; HTTP Basic key:secret works; GET never shows the secret' '
	rest_py <<-\EOF
	from rest import *
	j = api.post("/api_key", {"name": "k1", "desc": "the first key"})
	check(same_keys(j, ["name", "api_key", "api_secret", "desc", "enable",
	                    "expired_at", "created_at", "expired"]), "fields", j)
	check(j["name"] == "k1" and j["desc"] == "the first key" and
	      j["enable"] is True and j["expired_at"] == "infinity" and
	      j["expired"] is False and rfc3339(j["created_at"]), "values", j)
	check(hexstr(j["api_key"], 16) and hexstr(j["api_secret"], 48), "key", j)
	key, secret = j["api_key"], j["api_secret"]
	j2 = api.post("/api_key", {"name": "k2", "enable": True})
	check(j2["api_key"] != key and j2["api_secret"] != secret, "random", j2)
	lst = api.get("/api_key")
	check(sorted(k["name"] for k in lst) == ["k1", "k2"], "two keys", lst)
	one = api.get("/api_key/k1")
	for k in lst + [one]:
	    check("api_secret" not in k and secret not in json.dumps(k),
	          "no secret in GET", k)
	del j["api_secret"]
	check(one == j, "GET /api_key/k1 is what POST answered", one, j)
	top = Api(token="")
	for path in ("/nodes", "/clients", "/metrics"):
	    r = top.call("GET", path, headers=basic(key, secret))
	    check(r.status == 200, "Basic on " + path, r)
	# A key may not manage keys or users (HTTP_F_USER routes).
	for m, path in (("GET", "/api_key"), ("POST", "/api_key"),
	                ("GET", "/users"), ("DELETE", "/api_key/k1")):
	    r = top.call(m, path, {"name": "by-key"} if m == "POST" else None,
	                 headers=basic(key, secret))
	    top.error(r, 403, "FORBIDDEN")
	r = top.call("POST", "/publish", {"topic": "k/t", "payload": "x"},
	             headers=basic(key, secret))
	check(r.status == 202, "a POST with the key", r)
	for k, s in ((key, "0" * 48), (key, secret[:-1]), (key, secret + "0"),
	             (key, j2["api_secret"]), (j2["api_key"], secret),
	             ("k1", secret), (key, ""), ("", secret)):
	    r = top.call("GET", "/nodes", headers=basic(k, s))
	    top.error(r, 401, "BAD_API_KEY_OR_SECRET")
	    check("Basic" in r.headers.get("www-authenticate", ""), "www", r)
	EOF
'

test_expect_success 'API keys: disabled, expired and deleted keys are 401; PUT changes desc, enable, expired_at' '
	rest_py <<-\EOF
	from rest import *
	import base64
	j = api.post("/api_key", {"name": "k3"})
	key, secret = j["api_key"], j["api_secret"]
	top = Api(token="")
	def works():
	    return top.call("GET", "/nodes", headers=basic(key, secret)).status
	check(works() == 200, "works")
	j = api.expect(200, "PUT", "/api_key/k3", {"enable": False})
	check(j["enable"] is False and "api_secret" not in j, "disabled", j)
	top.error(top.call("GET", "/nodes", headers=basic(key, secret)), 401,
	          "BAD_API_KEY_OR_SECRET")
	j = api.expect(200, "PUT", "/api_key/k3", {"enable": True,
	                                           "desc": "again"})
	check(j["enable"] is True and j["desc"] == "again", "enabled", j)
	check(works() == 200, "works again")
	j = api.expect(200, "PUT", "/api_key/k3",
	               {"expired_at": "2020-01-01T00:00:00Z"})
	check(j["expired_at"] == "2020-01-01T00:00:00.000Z" and
	      j["expired"] is True, "expired", j)
	top.error(top.call("GET", "/nodes", headers=basic(key, secret)), 401,
	          "BAD_API_KEY_OR_SECRET")
	j = api.expect(200, "PUT", "/api_key/k3",
	               {"expired_at": "2099-06-30T02:30:00+02:00"})
	check(j["expired_at"] == "2099-06-30T00:30:00.000Z" and
	      j["expired"] is False, "in 2099, in UTC", j)
	check(works() == 200, "works until 2099")
	j = api.expect(200, "PUT", "/api_key/k3", {"expired_at": "infinity"})
	check(j["expired_at"] == "infinity", "infinity", j)
	before = api.get("/api_key/k3")
	for body in ({"enable": "no"}, {"expired_at": "soon"},
	             {"expired_at": "2099-13-01T00:00:00Z"}, {"desc": 5},
	             ["enable"], {"expired_at": 1700000000}):
	    api.error(api.call("PUT", "/api_key/k3", body), 400, "BAD_REQUEST")
	check(api.get("/api_key/k3") == before, "unchanged", before)
	api.error(api.call("PUT", "/api_key/nokey", {"enable": False}), 404,
	          "NOT_FOUND")
	api.delete("/api_key/k3")
	top.error(top.call("GET", "/nodes", headers=basic(key, secret)), 401,
	          "BAD_API_KEY_OR_SECRET")
	for m in ("GET", "PUT", "DELETE"):
	    api.error(api.call(m, "/api_key/k3", {} if m == "PUT" else None),
	              404, "NOT_FOUND")
	check("k3" not in [k["name"] for k in api.get("/api_key")], "gone")
	# An expired key given at creation.
	j = api.post("/api_key", {"name": "k-old",
	                          "expired_at": "2001-02-03T04:05:06.789Z"})
	check(j["expired"] is True, "expired at creation", j)
	top.error(top.call("GET", "/nodes", headers=basic(j["api_key"],
	          j["api_secret"])), 401, "BAD_API_KEY_OR_SECRET")
	api.delete("/api_key/k-old")
	EOF
'

test_expect_success 'API keys: a malformed time offset in expired_at is 400' '
	rest_py <<-\EOF
	from rest import *
	for t in ("2099-01-01T00:00:00+1:2", "2099-01-01T00:00:00+2:0",
	          "2099-01-01T00:00:00+02", "2099-01-01T00:00:00-1:00"):
	    r = api.call("POST", "/api_key", {"name": "k-tz", "expired_at": t})
	    if r.status == 200:
	        api.delete("/api_key/k-tz")
	    check(r.status == 400, t + ": 400", r)
	EOF
'

test_expect_success 'API keys: a duplicate name is 409; bad names are 400' '
	rest_py <<-\EOF
	from rest import *
	before = api.get("/api_key")
	api.error(api.call("POST", "/api_key", {"name": "k1"}), 409,
	          "ALREADY_EXISTS")
	api.error(api.call("POST", "/api_key", {"name": "k1", "desc": "x"}),
	          409, "ALREADY_EXISTS")
	for body in ({"name": "bad name"}, {"name": "a/b"}, {"name": "x" * 65},
	             {"name": ""}, {"name": "d\u00e9j\u00e0"}, {"name": "a.b"},
	             {"name": 5}, {}, {"desc": "no name"}, ["k9"],
	             {"name": "k9", "enable": "yes"},
	             {"name": "k9", "expired_at": "tomorrow"},
	             {"name": "k9", "desc": ["x"]}):
	    api.error(api.call("POST", "/api_key", body), 400, "BAD_REQUEST")
	check(api.get("/api_key") == before, "no key added", before)
	for name in ("x" * 64, "A-z_0-9"):
	    j = api.post("/api_key", {"name": name})
	    check(j["name"] == name, name, j)
	    api.delete("/api_key/" + name)
	check(api.get("/api_key") == before, "back to two keys")
	EOF
'

test_expect_success 'API keys survive a restart, enabled or not' '
	rest_py <<-\EOF >keys.sh &&
	from rest import *
	a = api.post("/api_key", {"name": "keep-on", "desc": "kept",
	                          "expired_at": "2099-01-01T00:00:00Z"})
	b = api.post("/api_key", {"name": "keep-off"})
	api.expect(200, "PUT", "/api_key/keep-off", {"enable": False})
	print("ON=%s:%s OFF=%s:%s" % (a["api_key"], a["api_secret"],
	                              b["api_key"], b["api_secret"]))
	EOF
	api GET /api_key &&
	cp out keys.before &&
	. ./keys.sh &&
	restart_broker &&
	http_do GET "$API/nodes" -u "$ON" &&
	expect_code 200 &&
	http_do GET "$API/nodes" -u "$OFF" &&
	expect_code 401 BAD_API_KEY_OR_SECRET &&
	login admin "$PW_RESET" &&
	api GET /api_key &&
	jcheck "sorted(j, key=lambda k: k[\"name\"]) == sorted(load(\"keys.before\"), key=lambda k: k[\"name\"])" \
	    "sorted(k[\"name\"] for k in j) == [\"k1\", \"k2\", \"keep-off\", \"keep-on\"]"
'

test_expect_success 'five failed logins lock that user from that address: 429 LOGIN_LOCKED with Retry-After, even with the right password' '
	restart_broker FLOCKMQ_DASHBOARD__DEFAULT_USERNAME=locky \
	    FLOCKMQ_DASHBOARD__DEFAULT_PASSWORD="$PW_LOCKY" &&
	login admin "$PW_RESET" &&
	api GET /users &&
	jcheck "sorted(u[\"username\"] for u in j) == [\"admin\", \"locky\"]" &&
	login locky "$PW_LOCKY" &&
	for i in 1 2 3 4 5
	do
		login_fails locky "$PW_WRONG" || return 1
	done &&
	try_login locky "$PW_LOCKY" &&
	expect_code 429 LOGIN_LOCKED &&
	sed -n "s/^[Rr]etry-[Aa]fter: *\\([0-9]*\\).*/\\1/p" hdr >retry &&
	test "$(cat retry)" -ge 50 &&
	test "$(cat retry)" -le 61 &&
	try_login locky "$PW_WRONG" &&
	expect_code 429 LOGIN_LOCKED &&
	login admin "$PW_RESET" &&
	for i in 1 2 3 4 5
	do
		login_fails ghost-user "$PW_WRONG" || return 1
	done &&
	try_login ghost-user "$PW_WRONG" &&
	expect_code 429 LOGIN_LOCKED &&
	test_grep -i "^retry-after: [0-9]" hdr &&
	login admin "$PW_RESET"
'

test_expect_success 'concurrent logins: five wrong ones at most are checked, the rest get 429; right ones and other requests meanwhile pass' '
	rest_py "$PW_WRONG" "$PW_RESET" <<-\EOF
	from rest import *
	import threading
	wrong, right = sys.argv[1], sys.argv[2]
	got = {"racer": [], "admin": [], "nodes": []}
	def login(user, pw):
	    r = api.call("POST", "/login", {"username": user, "password": pw},
	                 token="")
	    got[user].append(r.status)
	def nodes():
	    got["nodes"].append(api.call("GET", "/nodes").status)
	ts = [threading.Thread(target=login, args=("racer", wrong))
	      for i in range(12)]
	ts += [threading.Thread(target=login, args=("admin", right))
	       for i in range(4)]
	ts += [threading.Thread(target=nodes) for i in range(8)]
	for t in ts:
	    t.start()
	for t in ts:
	    t.join(30 * SCALE)
	check(sorted(got["racer"]) == [401] * 5 + [429] * 7,
	      "five 401, then 429", got)
	check(got["admin"] == [200] * 4 and got["nodes"] == [200] * 8,
	      "the others pass", got)
	EOF
'

test_expect_success 'a token expires after dashboard.token_expired_time: 401 TOKEN_TIME_OUT' '
	broker_config <<-\EOF &&
	dashboard.token_expired_time: 2s
	EOF
	restart_broker &&
	login admin "$PW_RESET" &&
	api GET /nodes &&
	expect_code 200 &&
	wait_for "api GET /nodes && test \"\$(cat code)\" = 401" 6 &&
	expect_code 401 TOKEN_TIME_OUT &&
	test_grep -i "^www-authenticate: Bearer" hdr &&
	broker_config <<-\EOF &&
	dashboard.token_expired_time: 60m
	EOF
	restart_broker &&
	login admin "$PW_RESET"
'

test_expect_success 'unknown paths are 404 NOT_FOUND, wrong methods 405 METHOD_NOT_ALLOWED' '
	for p in /api/v5/nope /api/v4/clients /api/v5/clients/a/b/c \
	    /api/v5/ /api/v5 /api/v5/nodes/x/y /nope.html /admin/ \
	    /api/v5/a/b/c/d/e/f/g/h/i
	do
		http_do GET "http://127.0.0.1:$FLOCKMQ_PORT2$p" \
		    -H "Authorization: Bearer $TOKEN" &&
		expect_code 404 NOT_FOUND || return 1
	done &&
	for mp in "DELETE /api/v5/nodes" "PUT /api/v5/publish" \
	    "GET /api/v5/publish" "GET /api/v5/login" "POST /status" \
	    "POST /api/v5/status" "POST /" "PUT /index.html" \
	    "PATCH /api/v5/api_key/k1" "POST /api/v5/clients/x" \
	    "GET /api/v5/clients/kickout/bulk" "PUT /api/v5/banned"
	do
		http_do ${mp% *} "http://127.0.0.1:$FLOCKMQ_PORT2${mp#* }" \
		    -H "Authorization: Bearer $TOKEN" &&
		expect_code 405 METHOD_NOT_ALLOWED || return 1
	done
'

test_expect_success 'invalid JSON is 400 BAD_REQUEST and a body over 1 MiB 413, changing nothing' '
	test_spawn mosquitto_sub -h 127.0.0.1 -p "$FLOCKMQ_PORT" -i err-sub \
	    -q 1 -t "err/#" -C 1 -W 20 >sub.out &&
	sub_pid=$! &&
	test_when_finished "kill $sub_pid 2>/dev/null || :" &&
	wait_for "api GET /clients/err-sub && jcheck \"j[\\\"subscriptions_cnt\\\"] == 1\" 2>/dev/null" &&
	api GET /api_key &&
	cp out keys.before &&
	for bad in "{" "{\"topic\":\"err/t\",}" "{\"topic\":\"err/t\" \"payload\":\"x\"}" \
	    "nul" "{\"topic\":\"err/t\",\"topic\":\"err/u\"}"
	do
		api POST /publish "$bad" &&
		expect_code 400 BAD_REQUEST &&
		api POST /api_key "$bad" &&
		expect_code 400 BAD_REQUEST &&
		api POST /banned "$bad" &&
		expect_code 400 BAD_REQUEST || return 1
	done &&
	"$PYTHON" -c "import sys; sys.stdout.write(\"{\\\"topic\\\":\\\"err/t\\\",\\\"payload\\\":\\\"\" + \"x\" * (1 << 20) + \"\\\"}\")" >big-publish.json &&
	"$PYTHON" -c "import sys; sys.stdout.write(\"{\\\"name\\\":\\\"big\\\",\\\"desc\\\":\\\"\" + \"x\" * (1 << 20) + \"\\\"}\")" >big-key.json &&
	test $(wc -c <big-publish.json) -gt 1048576 &&
	api POST /publish @big-publish.json &&
	expect_code 413 &&
	api POST /api_key @big-key.json &&
	expect_code 413 &&
	http_do POST "$API/publish" -H "Content-Type: application/json" \
	    --data-binary @big-publish.json &&
	test "$(cat code)" = 413 &&
	api GET /api_key &&
	jcheck "j == load(\"keys.before\")" &&
	api GET /banned &&
	jcheck "j[\"meta\"][\"count\"] == 0" &&
	api POST /publish "{\"topic\":\"err/t\",\"payload\":\"the first\"}" &&
	expect_code 200 &&
	wait_for "! test_pid_alive $sub_pid" &&
	echo "the first" >expect &&
	test_cmp expect sub.out
'

test_expect_success 'EMQX_DASHBOARD__DEFAULT_PASSWORD sets the first password of a fresh data directory, and only the first' '
	stop_broker &&
	use_data_dir fresh &&
	start_broker EMQX_DASHBOARD__DEFAULT_PASSWORD="$PW_FIRST" &&
	login_fails admin public &&
	login admin "$PW_FIRST" &&
	api GET /users &&
	jcheck "[u[\"username\"] for u in j] == [\"admin\"]" &&
	restart_broker EMQX_DASHBOARD__DEFAULT_PASSWORD="$PW_OTHER" &&
	login_fails admin "$PW_OTHER" &&
	login admin "$PW_FIRST"
'

test_expect_success 'must_change_password is true with the password of dashboard.default_password' '
	restart_broker EMQX_DASHBOARD__DEFAULT_PASSWORD="$PW_FIRST" &&
	login admin "$PW_FIRST" &&
	jcheck "j[\"must_change_password\"] is True"
'

test_expect_success 'no password used here is in the broker log' '
	cat "$BROKER_LOG.old" "$BROKER_LOG" >all.log &&
	test_grep "http: user .admin. logged in" all.log &&
	test_grep "login failed for user" all.log &&
	for pw in $PASSWORDS hijacked-pass
	do
		test_grep ! -F -e "$pw" all.log || return 1
	done
'

test_expect_success 'the broker stops cleanly' '
	stop_broker
'

test_done
