# rest.py: the REST API tests' helper (t5000-rest.t, t5001-rest-auth.t).
#
# Two uses.
#
#   rest.py check FILE EXPR...
#       FILE holds JSON, bound to j; every Python expression EXPR must be
#       true.  The first false one fails (status 1) and prints itself and
#       the JSON.  The expressions also see re and the helpers below
#       (hexstr, rfc3339, same_keys, load: the JSON of another file).
#
#   rest.py get FILE EXPR
#       prints the value of EXPR (j is FILE's JSON): a string as it is,
#       anything else as compact JSON.
#
#   from rest import *
#       in a short program a script feeds to $PYTHON on stdin, as the
#       t2xxx scripts do with pubsub.py: everything pubsub.py offers
#       (Paho and Raw clients, check, wait_until, the SIGALRM deadline),
#       plus `api`, a REST client of the broker under test:
#
#           r = api.call("GET", "/clients", token=None, body=None,
#                        data=None, headers=None)
#               -> Resp: status, headers (dict, lower-case names), text,
#                  json (None unless the body is JSON)
#           api.get("/clients?limit=5")        the JSON of a 200 answer
#           api.post("/publish", {...}, 200)   the JSON of the answer,
#                                              which must have that status
#           api.delete("/clients/x", 204)
#           api.error(r, 400, "BAD_REQUEST")   r is EMQX's error object
#           client(cid)                        GET /clients/<cid, encoded>
#           q(s)                               s percent-encoded, "/" too
#
#       The environment says where things are: REST_URL (the API's root,
#       http://127.0.0.1:PORT/api/v5), REST_TOKEN (a bearer token, or empty
#       to send none), MQTT_PORT and PUBSUB_SCALE (see pubsub.py).

import http.client
import json
import os
import re
import sys
import urllib.parse


def hexstr(s, n):
    """s is a string of n lower-case hex digits."""
    return isinstance(s, str) and re.fullmatch("[0-9a-f]{%d}" % n, s) \
        is not None


def rfc3339(s):
    """s is a UTC RFC 3339 time with milliseconds, as the broker writes."""
    return isinstance(s, str) and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s) is not None


def same_keys(obj, keys):
    """obj is a dict with exactly these keys; prints the difference."""
    if not isinstance(obj, dict):
        print("not an object: %r" % (obj,), file=sys.stderr)
        return False
    extra, missing = set(obj) - set(keys), set(keys) - set(obj)
    if extra or missing:
        print("keys: extra %s, missing %s" % (sorted(extra),
                                              sorted(missing)),
              file=sys.stderr)
    return not extra and not missing


def load(path):
    """The JSON of a file."""
    with open(path, "rb") as f:
        return json.load(f)


def load_env(path):
    """The names EXPR sees, j FILE's JSON; None if it is not JSON."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        j = json.loads(raw)
    except ValueError as e:
        print("rest.py: %s is not JSON (%s): %r" % (path, e, raw[:500]),
              file=sys.stderr)
        return None
    return {"j": j, "re": re, "hexstr": hexstr, "rfc3339": rfc3339,
            "same_keys": same_keys, "load": load}


def get_value(path, expr):
    env = load_env(path)
    if env is None:
        return 1
    v = eval(expr, env)
    print(v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
    return 0


def check_file(path, exprs):
    env = load_env(path)
    if env is None:
        return 1
    j = env["j"]
    for e in exprs:
        try:
            ok = eval(e, env)
        except Exception as x:
            ok = False
            print("rest.py check: %s raised %r" % (e, x), file=sys.stderr)
        if not ok:
            print("rest.py check: false: %s\nthe JSON of %s:\n%s" %
                  (e, path, json.dumps(j, indent=1)[:4000]), file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "check":
        sys.exit(check_file(sys.argv[2], sys.argv[3:]))
    if len(sys.argv) == 4 and sys.argv[1] == "get":
        sys.exit(get_value(sys.argv[2], sys.argv[3]))
    sys.exit("usage: rest.py check FILE EXPR... | rest.py get FILE EXPR")


# As a module: pubsub.py's clients and the REST client.
from pubsub import *                                 # noqa: E402,F401,F403


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self.text = body.decode("utf-8", "replace")
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return "Resp(%d, %s)" % (self.status, self.text[:300])


class Api:
    def __init__(self, url=None, token=None):
        u = urllib.parse.urlsplit(url or os.environ["REST_URL"])
        self.host, self.port = u.hostname, u.port
        self.root = u.path.rstrip("/")
        self.token = token if token is not None else \
            os.environ.get("REST_TOKEN", "")

    def call(self, method, path, body=None, data=None, token=None,
             headers=None):
        """One request; body is JSON-encoded, data sent as is."""
        h = {}
        tok = self.token if token is None else token
        if tok:
            h["Authorization"] = "Bearer " + tok
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = http.client.HTTPConnection(self.host, self.port,
                                       timeout=10 * SCALE)
        try:
            c.request(method, self.root + path, body=data, headers=h)
            r = c.getresponse()
            out = Resp(r.status, {k.lower(): v for k, v in r.getheaders()},
                       r.read())
        finally:
            c.close()
        return out

    def expect(self, status, method, path, body=None, **kw):
        r = self.call(method, path, body, **kw)
        check(r.status == status, "%s %s: status %d" % (method, path,
                                                         status), r)
        return r.json

    def get(self, path, status=200, **kw):
        return self.expect(status, "GET", path, **kw)

    def post(self, path, body=None, status=200, **kw):
        return self.expect(status, "POST", path, body, **kw)

    def delete(self, path, status=204, **kw):
        return self.expect(status, "DELETE", path, **kw)

    def error(self, r, status, code):
        """r (a Resp) is EMQX's error object with this status and code."""
        check(r.status == status and isinstance(r.json, dict) and
              set(r.json) == {"code", "message"} and
              r.json["code"] == code and
              isinstance(r.json["message"], str) and r.json["message"],
              "error %d %s" % (status, code), r)


def q(s):
    return urllib.parse.quote(s, safe="")


if "REST_URL" in os.environ:
    api = Api()


def client(cid, status=200):
    """GET /clients/<cid>: the client object (or the error)."""
    return api.get("/clients/" + q(cid), status)


class User(Paho):
    """pubsub's Paho with a username (and password) in the CONNECT:
    User(client_id, username, version=5, clean=True, props=None,
    keepalive=60, password=None, expect_rc=0)."""

    def __init__(self, client_id, username, version=5, clean=True,
                 props=None, keepalive=60, password=None, expect_rc=0):
        # No reconnecting by itself after a kick.
        Paho.__init__(self, client_id, version, clean, props, keepalive,
                      expect_rc, username=username, password=password,
                      reconnect_delay=(60, 120))

    def kicked(self, rc=0x98):
        """The server disconnected us (v5: with rc); stop the loop, so
        that paho does not reconnect."""
        self.expect_disconnect(rc)
        self.c.loop_stop()

    def local_port(self):
        """The client's TCP port."""
        return self.c.socket().getsockname()[1]


def basic(key, secret):
    """The headers of HTTP Basic authentication with an API key."""
    import base64
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (key, secret)).encode()).decode()}


def http_routes(path):
    """The route table of src/http.c: a list of (method, pattern, flags),
    flags the set of HTTP_F_* names."""
    out = []
    # http.c's own table and http_api.c's, beside it.
    for p in (path, os.path.join(os.path.dirname(path), "http_api.c")):
        with open(p) as f:
            src = f.read()
        table = src[src.index("_routes[] = {"):]
        table = table[:table.index("};")]
        for m in re.finditer(r'\{\s*"(\w+)",\s*"([^"]+)",\s*\w+,\s*'
                             r'([\w|\s]+?)\s*\}', table):
            flags = set(x.strip() for x in m.group(3).split("|")) - {"0"}
            out.append((m.group(1), m.group(2), flags))
    return out
