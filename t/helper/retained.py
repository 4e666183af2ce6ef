# retained.py: publish retained messages and list what a new subscriber
# gets, for the store tests (t6xxx): the state is written before a restart
# and compared after it.
#
#	MQTT_PORT=$FLOCKMQ_PORT PYTHONPATH=$TEST_DIRECTORY/helper \
#	    "$PYTHON" "$TEST_DIRECTORY/helper/retained.py" COMMAND ...
#
#   pub [-c raw|paho] [-V 4|5] [-q QOS] [-P JSON] [-i ID] [-x]
#       TOPIC PAYLOAD [TOPIC PAYLOAD...]
#       Publishes each with RETAIN 1 at QOS and waits for its PUBACK or
#       PUBCOMP (a reason code of 0x80 or more fails); at QoS 0 a PINGREQ
#       afterwards makes sure the broker has read it.  -P gives v5
#       PUBLISH properties as a JSON object with pubsub.py's names
#       ("content_type", "user": [[k, v], ...], "message_expiry", ...;
#       "correlation_data" as a string).  -x: each PAYLOAD is hex; an
#       empty PAYLOAD deletes (MQTT 3.3.1.3).
#   get [-c raw|paho] [-V 4|5] [-q QOS] [-i ID] [-w SECONDS] FILTER...
#       Subscribes to the filters at QOS (default 2), takes every message
#       until -w seconds (default 0.5) pass without one, and prints them
#       sorted by topic (then arrival), one line each
#           TOPIC qos=Q retain=R payload=TEXT
#       and the v5 properties under it, sorted by name (user properties
#       in the order they came), Subscription Identifier left out:
#             content_type=text/plain
#             user=k=v
#       A payload of printable ASCII up to 64 bytes is printed as it is;
#       any other as "hex:..." (up to 32 bytes) or "<N bytes, sha1 ...>".
#       message_expiry is printed as it came unless -e: then as
#       "message_expiry=<=N" for the N given (-e N fails the program if
#       the value is above N or below N - 10).
#
# Exit status 0 done, 1 a check failed (message on stderr).  pubsub.py's
# SIGALRM deadline bounds every run.

import argparse
import hashlib
import json
import sys

from pubsub import Paho, Raw, check, prop_of, PAHO_NAMES


def fmt_payload(b):
    if len(b) <= 64 and all(0x20 <= c < 0x7f for c in b):
        return b.decode()
    if len(b) <= 32:
        return "hex:" + b.hex()
    return "<%d bytes, sha1 %s>" % (len(b), hashlib.sha1(b).hexdigest())


def fmt_value(v):
    if isinstance(v, (bytes, bytearray)):
        return "hex:" + bytes(v).hex()
    if isinstance(v, tuple):
        return "%s=%s" % v
    return str(v)


def props_of_raw(p):
    """(name, value) pairs of a Raw Packet, users one per pair."""
    out = []
    for k, v in p.props:
        if k == "sub_id":
            continue
        out.append((k, v))
    return out


def props_of_paho(m):
    out = []
    for name in sorted(PAHO_NAMES):
        v = prop_of(m, name)
        if v is None or name == "sub_id":
            continue
        if name == "user":
            out.extend(("user", tuple(x)) for x in v)
        else:
            out.append((name, v))
    return out


def pub(a):
    props = json.loads(a.props) if a.props else None
    if props and "user" in props:
        props["user"] = [tuple(x) for x in props["user"]]
    if props and "correlation_data" in props:
        props["correlation_data"] = props["correlation_data"].encode()
    check(len(a.args) % 2 == 0, "pub: TOPIC PAYLOAD pairs", a.args)
    pairs = [(a.args[i], a.args[i + 1]) for i in range(0, len(a.args), 2)]
    if a.client == "paho":
        c = Paho(a.id, version=a.version)
    else:
        c = Raw(a.id, version=a.version)
    for topic, payload in pairs:
        data = bytes.fromhex(payload) if a.hex else payload.encode()
        if a.client == "paho":
            c.publish(topic, data, qos=a.qos, retain=True,
                      props=props)
            continue
        ack = c.publish(topic, data, qos=a.qos, retain=True,
                        props=list(props.items()) if props else None)
        if a.qos:
            check(ack.rc < 0x80, "%s: acknowledged with success" % topic,
                  ack)
    if a.client == "raw":
        check(c.is_open(5), "PINGRESP after the publishes")
    c.disconnect()


def get(a):
    out = []
    if a.client == "paho":
        c = Paho(a.id, version=a.version)
        for f in a.args:
            codes = c.subscribe(f, qos=a.qos)
            check(codes and codes[0] < 0x80, "%s: subscribed" % f, codes)
        for m in c.drain(a.wait):
            out.append((m.topic, m.qos, int(m.retain), m.payload,
                        props_of_paho(m)))
    else:
        c = Raw(a.id, version=a.version, autoack=True)
        codes = c.subscribe(*a.args, qos=a.qos)
        check(all(x < 0x80 for x in codes), "subscribed", codes)
        for p in c.drain(a.wait):
            out.append((p.topic, p.qos, int(p.retain), p.payload,
                        props_of_raw(p)))
    c.disconnect()
    out = sorted(enumerate(out), key=lambda x: (x[1][0], x[0]))
    for _, (topic, qos, retain, payload, props) in out:
        print("%s qos=%d retain=%d payload=%s" % (topic, qos, retain,
                                                  fmt_payload(payload)))
        props = sorted(props, key=lambda kv: kv[0])
        for k, v in props:
            if k == "message_expiry" and a.expiry is not None:
                check(a.expiry - 10 <= v <= a.expiry,
                      "%s: message expiry in [%d, %d]" %
                      (topic, a.expiry - 10, a.expiry), v)
                print("  %s=<=%d" % (k, a.expiry))
                continue
            print("  %s=%s" % (k, fmt_value(v)))


def main():
    ap = argparse.ArgumentParser(prog="retained.py")
    ap.add_argument("command", choices=("pub", "get"))
    ap.add_argument("-c", dest="client", choices=("raw", "paho"),
                    default="raw")
    ap.add_argument("-V", dest="version", type=int, choices=(4, 5),
                    default=5)
    ap.add_argument("-q", dest="qos", type=int, choices=(0, 1, 2))
    ap.add_argument("-P", dest="props")
    ap.add_argument("-i", dest="id", default="")
    ap.add_argument("-x", dest="hex", action="store_true")
    ap.add_argument("-w", dest="wait", type=float, default=0.5)
    ap.add_argument("-e", dest="expiry", type=int)
    ap.add_argument("args", nargs="+")
    a = ap.parse_args()
    if a.command == "pub":
        if a.qos is None:
            a.qos = 1
        pub(a)
    else:
        if a.qos is None:
            a.qos = 2
        get(a)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("retained.py: %s" % e, file=sys.stderr)
        sys.exit(1)
