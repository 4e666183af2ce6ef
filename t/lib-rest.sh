# lib-rest.sh: the REST API from test scripts.  Source it after
# lib-broker.sh.
#
#	login [USER PASSWORD]	POST /login (admin, public); the token in TOKEN
#	api METHOD PATH [JSON]	a request with the token (none if TOKEN is empty)
#	http_do METHOD URL [CURL-ARGS...]	any request
#	expect_code STATUS [ERROR-CODE]	the last answer's status (and code)
#	jcheck EXPR...		Python expressions of the last answer's JSON, j
#	jget EXPR		the value of a Python expression of it
#	rest_py [ARGS]		a Python program on stdin with t/helper/rest.py
#
# Each request leaves the body in out, the headers in hdr and the status
# in code, in the current directory.

API=http://127.0.0.1:$FLOCKMQ_PORT2/api/v5
NODE=flockmq@127.0.0.1
TOKEN=

# http_do METHOD URL [CURL-ARGS...]: one request; the body goes to out, the
# headers to hdr, the status to code.
http_do () {
	http_m_=$1 http_u_=$2
	shift 2
	curl -s -S -m 10 -o out -D hdr -w "%{http_code}" -X "$http_m_" \
	    "$@" "$http_u_" >code
}

# api METHOD PATH [JSON]: the REST API with the token ($TOKEN, none if
# empty).
api () {
	if test -n "$TOKEN"; then
		api_h_="Authorization: Bearer $TOKEN"
	else
		api_h_="X-No-Token: 1"
	fi
	if test $# -ge 3; then
		http_do "$1" "$API$2" -H "$api_h_" \
		    -H "Content-Type: application/json" --data-binary "$3"
	else
		http_do "$1" "$API$2" -H "$api_h_"
	fi
}

# jcheck EXPR...: each Python expression holds of the JSON in out (j).
jcheck () {
	"$PYTHON" "$TEST_DIRECTORY/helper/rest.py" check out "$@"
}

# jget EXPR: the value of EXPR of the JSON in out.
jget () {
	"$PYTHON" "$TEST_DIRECTORY/helper/rest.py" get out "$1"
}

# expect_code STATUS [ERROR-CODE]: the last request answered STATUS, with
# EMQX's error object {"code": ERROR-CODE, "message"} if given.
expect_code () {
	test "$(cat code)" = "$1" || {
		echo "expected HTTP $1, got $(cat code):"
		cat out
		echo
		return 1
	}
	test $# -lt 2 ||
	jcheck "same_keys(j, ['code', 'message'])" "j['code'] == '$2'" \
	    "isinstance(j['message'], str) and j['message'] != ''"
}

# try_login USER PASSWORD: POST /login (status in code, answer in out).
try_login () {
	http_do POST "$API/login" -H "Content-Type: application/json" \
	    --data-binary "{\"username\":\"$1\",\"password\":\"$2\"}"
}

# login [USER PASSWORD]: log in (as admin, public); the token goes to
# $TOKEN.  Tokens live in the node's memory: log in again after a restart.
login () {
	try_login "${1:-admin}" "${2:-public}" &&
	expect_code 200 &&
	TOKEN=$(jget 'j["token"]') &&
	test -n "$TOKEN"
}

# rest_py [ARGS]: a Python program on stdin, with rest.py's clients.
rest_py () {
	MQTT_PORT=$FLOCKMQ_PORT PUBSUB_SCALE=$FLOCKMQ_TEST_TIMEOUT_SCALE \
	    REST_URL=$API REST_TOKEN=$TOKEN NODE=$NODE \
	    PYTHONDONTWRITEBYTECODE=1 PYTHONPATH=$TEST_DIRECTORY/helper \
	    "$PYTHON" - "$@"
}
