/*
 * codec.c: unit tests for the MQTT codec (src/mqtt.c), printing TAP.
 *
 * Round trips every packet type for 3.1.1 and 5 (encode, decode, compare
 * every field and property), checks some encodings byte for byte, feeds
 * every proper prefix of each packet to see MQTT_MORE, and decodes a list of
 * malformed and forbidden packets built from a small hex notation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mqtt.h"
#include "tap.h"

#define CLIENT4	(MQTT_CLIENT_SIDE | MQTT_V311)
#define CLIENT5	(MQTT_CLIENT_SIDE | MQTT_V5)

static const char *status_names[] = {
	"OK", "MORE", "MALFORMED", "PROTOCOL", "TOO_BIG", "UNSUPPORTED"
};

/* Name of a decoder status. */
static const char *
sname(enum mqtt_status st)
{
	if ((unsigned int)st >= sizeof(status_names) / sizeof(*status_names))
		return ("?");
	return (status_names[st]);
}

/*
 * Parse hex digits into out, skipping blanks; text between single quotes
 * is copied as is.  Returns the length.
 */
static size_t
hex(uint8_t *out, const char *s)
{
	size_t		 n = 0;
	unsigned int	 v;

	while (*s != '\0') {
		if (*s == ' ') {
			s++;
			continue;
		}
		if (*s == '\'') {
			for (s++; *s != '\'' && *s != '\0'; s++)
				out[n++] = (uint8_t)*s;
			if (*s == '\'')
				s++;
			continue;
		}
		if (sscanf(s, "%2x", &v) != 1) {
			diag("bad hex '%s'", s);
			exit(2);
		}
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return (n);
}

/* Build a packet from its first byte and hex body; returns its length. */
static size_t
mk(uint8_t *out, uint8_t b0, const char *body)
{
	uint8_t		 tmp[1024];
	size_t		 n, i = 0, rl;

	n = hex(tmp, body);
	out[i++] = b0;
	rl = n;
	do {
		out[i] = rl & 0x7f;
		rl >>= 7;
		if (rl != 0)
			out[i] |= 0x80;
		i++;
	} while (rl != 0);
	memcpy(out + i, tmp, n);
	return (i + n);
}

/* Decode and check the status (and that errors come with a reason). */
static struct mqtt_packet
expect(uint8_t version, enum mqtt_status want, uint8_t b0, const char *body,
    const char *name)
{
	struct mqtt_packet	 pkt;
	uint8_t			 p[1100];
	size_t			 n, used;
	const char		*why = NULL;
	enum mqtt_status	 st;

	memset(&pkt, 0, sizeof(pkt));
	n = mk(p, b0, body);
	st = mqtt_decode(p, n, version, 0, &pkt, &used, &why);
	ok(st == want && (st == MQTT_OK || why != NULL) &&
	    (st != MQTT_OK || used == n),
	    "%s: %s (%s)", name, sname(st), why != NULL ? why : "-");
	return (pkt);
}

/* Every proper prefix of p gives MQTT_MORE. */
static void
check_prefixes(const uint8_t *p, size_t n, uint8_t version, const char *name)
{
	struct mqtt_packet	 pkt;
	size_t			 i, used;
	enum mqtt_status	 st;

	for (i = 0; i < n; i++) {
		st = mqtt_decode(p, i, version, 0, &pkt, &used, NULL);
		if (st != MQTT_MORE)
			break;
	}
	ok(i == n, "%s: all %zu prefixes need more (stopped at %zu: %s)",
	    name, n, i, i == n ? "-" : sname(st));
}

/* Compare the User Properties of two blocks entry by entry. */
static int
user_eq(const struct mqtt_props *a, const struct mqtt_props *b)
{
	struct str	 ka, va, kb, vb;
	size_t		 oa = 0, ob = 0;
	int		 na, nb;

	for (;;) {
		na = mqtt_user_next(a, &oa, &ka, &va);
		nb = mqtt_user_next(b, &ob, &kb, &vb);
		if (na != nb)
			return (0);
		if (!na)
			return (1);
		if (!str_eq(ka, kb) || !str_eq(va, vb))
			return (0);
	}
}

/* Compare two property sets field by field. */
static int
props_eq(const struct mqtt_props *a, const struct mqtt_props *b)
{
	uint64_t	 h = a->has;

#define F(id, f) if ((h & MQTT_HAS(MQTT_PROP_##id)) && a->f != b->f) {	\
	diag("property " #f " differs");				\
	return (0);							\
}
#define S(id, f) if ((h & MQTT_HAS(MQTT_PROP_##id)) &&			\
	!str_eq(a->f, b->f)) {						\
	diag("property " #f " differs");				\
	return (0);							\
}
	if (a->has != b->has) {
		diag("has %#llx != %#llx", (unsigned long long)a->has,
		    (unsigned long long)b->has);
		return (0);
	}
	F(PAYLOAD_FORMAT, payload_format)
	F(MESSAGE_EXPIRY, message_expiry)
	S(CONTENT_TYPE, content_type)
	S(RESPONSE_TOPIC, response_topic)
	S(CORRELATION_DATA, correlation_data)
	F(SUB_ID, sub_id)
	F(SESSION_EXPIRY, session_expiry)
	S(ASSIGNED_CLIENT_ID, assigned_client_id)
	F(SERVER_KEEPALIVE, server_keepalive)
	S(AUTH_METHOD, auth_method)
	S(AUTH_DATA, auth_data)
	F(REQUEST_PROBLEM_INFO, request_problem_info)
	F(WILL_DELAY, will_delay)
	F(REQUEST_RESPONSE_INFO, request_response_info)
	S(RESPONSE_INFO, response_info)
	S(SERVER_REFERENCE, server_reference)
	S(REASON_STRING, reason_string)
	F(RECEIVE_MAX, receive_max)
	F(TOPIC_ALIAS_MAX, topic_alias_max)
	F(TOPIC_ALIAS, topic_alias)
	F(MAX_QOS, max_qos)
	F(RETAIN_AVAILABLE, retain_available)
	F(MAX_PACKET_SIZE, max_packet_size)
	F(WILDCARD_AVAILABLE, wildcard_available)
	F(SUB_ID_AVAILABLE, sub_id_available)
	F(SHARED_AVAILABLE, shared_available)
#undef F
#undef S
	if (!user_eq(a, b)) {
		diag("user properties differ");
		return (0);
	}
	return (1);
}

/* Set one property to a recognisable value. */
static void
set_prop(struct mqtt_props *pr, uint8_t id)
{
	pr->has |= MQTT_HAS(id);
	switch (id) {
	case MQTT_PROP_PAYLOAD_FORMAT:
		pr->payload_format = 1;
		break;
	case MQTT_PROP_MESSAGE_EXPIRY:
		pr->message_expiry = 3600;
		break;
	case MQTT_PROP_CONTENT_TYPE:
		pr->content_type = STR("text/plain");
		break;
	case MQTT_PROP_RESPONSE_TOPIC:
		pr->response_topic = STR("reply/to/me");
		break;
	case MQTT_PROP_CORRELATION_DATA:
		pr->correlation_data = (struct str){ (const uint8_t *)"\0\1\2",
		    3 };
		break;
	case MQTT_PROP_SUB_ID:
		pr->sub_id = 268435455;
		break;
	case MQTT_PROP_SESSION_EXPIRY:
		pr->session_expiry = 0xffffffff;
		break;
	case MQTT_PROP_ASSIGNED_CLIENT_ID:
		pr->assigned_client_id = STR("auto-1234");
		break;
	case MQTT_PROP_SERVER_KEEPALIVE:
		pr->server_keepalive = 30;
		break;
	case MQTT_PROP_AUTH_METHOD:
		pr->auth_method = STR("SCRAM-SHA-1");
		break;
	case MQTT_PROP_AUTH_DATA:
		pr->auth_data = (struct str){ (const uint8_t *)"\xff\0x", 3 };
		break;
	case MQTT_PROP_REQUEST_PROBLEM_INFO:
		pr->request_problem_info = 0;
		break;
	case MQTT_PROP_WILL_DELAY:
		pr->will_delay = 17;
		break;
	case MQTT_PROP_REQUEST_RESPONSE_INFO:
		pr->request_response_info = 1;
		break;
	case MQTT_PROP_RESPONSE_INFO:
		pr->response_info = STR("resp/");
		break;
	case MQTT_PROP_SERVER_REFERENCE:
		pr->server_reference = STR("other:1883");
		break;
	case MQTT_PROP_REASON_STRING:
		pr->reason_string = STR("because \xc3\xa9");
		break;
	case MQTT_PROP_RECEIVE_MAX:
		pr->receive_max = 65535;
		break;
	case MQTT_PROP_TOPIC_ALIAS_MAX:
		pr->topic_alias_max = 10;
		break;
	case MQTT_PROP_TOPIC_ALIAS:
		pr->topic_alias = 7;
		break;
	case MQTT_PROP_MAX_QOS:
		pr->max_qos = 1;
		break;
	case MQTT_PROP_RETAIN_AVAILABLE:
		pr->retain_available = 0;
		break;
	case MQTT_PROP_MAX_PACKET_SIZE:
		pr->max_packet_size = 1048576;
		break;
	case MQTT_PROP_WILDCARD_AVAILABLE:
		pr->wildcard_available = 1;
		break;
	case MQTT_PROP_SUB_ID_AVAILABLE:
		pr->sub_id_available = 0;
		break;
	case MQTT_PROP_SHARED_AVAILABLE:
		pr->shared_available = 1;
		break;
	}
}

static struct buf	 userbuf;

/* Fill pr with the listed properties and two User Properties. */
static void
fill_props(struct mqtt_props *pr, const uint8_t *ids, size_t n)
{
	size_t	 i;

	memset(pr, 0, sizeof(*pr));
	for (i = 0; i < n; i++)
		set_prop(pr, ids[i]);
	if (userbuf.len == 0) {
		mqtt_user_add(&userbuf, STR("k1"), STR("v1"));
		mqtt_user_add(&userbuf, STR("k\xe2\x82\xac"), STR(""));
	}
	pr->user.p = userbuf.data;
	pr->user.len = userbuf.len;
	pr->has |= MQTT_HAS(MQTT_PROP_USER);
}

static const uint8_t connect_ids[] = {
	MQTT_PROP_SESSION_EXPIRY, MQTT_PROP_AUTH_METHOD, MQTT_PROP_AUTH_DATA,
	MQTT_PROP_REQUEST_PROBLEM_INFO, MQTT_PROP_REQUEST_RESPONSE_INFO,
	MQTT_PROP_RECEIVE_MAX, MQTT_PROP_TOPIC_ALIAS_MAX,
	MQTT_PROP_MAX_PACKET_SIZE
};
static const uint8_t will_ids[] = {
	MQTT_PROP_PAYLOAD_FORMAT, MQTT_PROP_MESSAGE_EXPIRY,
	MQTT_PROP_CONTENT_TYPE, MQTT_PROP_RESPONSE_TOPIC,
	MQTT_PROP_CORRELATION_DATA, MQTT_PROP_WILL_DELAY
};
static const uint8_t connack_ids[] = {
	MQTT_PROP_SESSION_EXPIRY, MQTT_PROP_ASSIGNED_CLIENT_ID,
	MQTT_PROP_SERVER_KEEPALIVE, MQTT_PROP_AUTH_METHOD,
	MQTT_PROP_AUTH_DATA, MQTT_PROP_RESPONSE_INFO,
	MQTT_PROP_SERVER_REFERENCE, MQTT_PROP_REASON_STRING,
	MQTT_PROP_RECEIVE_MAX, MQTT_PROP_TOPIC_ALIAS_MAX, MQTT_PROP_MAX_QOS,
	MQTT_PROP_RETAIN_AVAILABLE, MQTT_PROP_MAX_PACKET_SIZE,
	MQTT_PROP_WILDCARD_AVAILABLE, MQTT_PROP_SUB_ID_AVAILABLE,
	MQTT_PROP_SHARED_AVAILABLE
};
static const uint8_t publish_ids[] = {
	MQTT_PROP_PAYLOAD_FORMAT, MQTT_PROP_MESSAGE_EXPIRY,
	MQTT_PROP_CONTENT_TYPE, MQTT_PROP_RESPONSE_TOPIC,
	MQTT_PROP_CORRELATION_DATA, MQTT_PROP_TOPIC_ALIAS
};
static const uint8_t reason_ids[] = { MQTT_PROP_REASON_STRING };
static const uint8_t disconnect_ids[] = {
	MQTT_PROP_SESSION_EXPIRY, MQTT_PROP_SERVER_REFERENCE,
	MQTT_PROP_REASON_STRING
};
static const uint8_t auth_ids[] = {
	MQTT_PROP_AUTH_METHOD, MQTT_PROP_AUTH_DATA, MQTT_PROP_REASON_STRING
};
static const uint8_t sub_ids[] = { MQTT_PROP_SUB_ID };

#define FILL(pr, ids)	fill_props((pr), (ids), sizeof(ids))

/*
 * Encode in for enc_version, check the prefixes, decode at dec_version
 * into out.  Returns the encoded length (0 on failure).
 */
static size_t
roundtrip(const struct mqtt_packet *in, uint8_t enc_version,
    uint8_t dec_version, struct mqtt_packet *out, struct buf *b,
    const char *name)
{
	size_t		 n, used = 0;
	const char	*why = NULL;
	enum mqtt_status st;

	buf_init(b);
	n = mqtt_encode(b, enc_version, in);
	memset(out, 0x5a, sizeof(*out));
	st = mqtt_decode(b->data, b->len, dec_version, 0, out, &used, &why);
	ok(n == b->len && st == MQTT_OK && used == n &&
	    out->type == in->type, "%s: round trip (%zu bytes, %s%s%s)", name,
	    n, sname(st), why != NULL ? ": " : "", why != NULL ? why : "");
	check_prefixes(b->data, b->len, dec_version, name);
	return (st == MQTT_OK ? n : 0);
}

/* Round trips of CONNECT for 3.1, 3.1.1 and 5. */
static void
test_connect(void)
{
	struct mqtt_packet	 in, out;
	struct mqtt_connect	*c = &in.u.connect, *o = &out.u.connect;
	struct buf		 b;
	uint8_t			 v;

	for (v = MQTT_V31; v <= MQTT_V5; v++) {
		memset(&in, 0, sizeof(in));
		in.type = MQTT_CONNECT;
		c->version = v;
		c->clean_start = true;
		c->keepalive = 60;
		c->client_id = STR("client-\xc3\xa9");
		roundtrip(&in, v, 0, &out, &b, "connect minimal");
		ok(o->version == v && o->clean_start && o->keepalive == 60 &&
		    str_eq(o->client_id, c->client_id) && !o->will &&
		    !o->has_username && !o->has_password && o->props.has == 0,
		    "connect minimal v%u: fields", v);
		buf_release(&b);

		c->clean_start = false;
		c->keepalive = 0;
		c->client_id = STR("");
		c->will = true;
		c->will_qos = 2;
		c->will_retain = true;
		c->will_topic = STR("last/will");
		c->will_payload = (struct str){ (const uint8_t *)"bye\0", 4 };
		c->has_username = true;
		c->username = STR("user");
		c->has_password = true;
		c->password = (struct str){ (const uint8_t *)"\0\xff", 2 };
		if (v == MQTT_V5) {
			FILL(&c->props, connect_ids);
			FILL(&c->will_props, will_ids);
		}
		roundtrip(&in, v, 0, &out, &b, "connect full");
		ok(o->version == v && !o->clean_start && o->keepalive == 0 &&
		    o->client_id.len == 0 && o->will && o->will_qos == 2 &&
		    o->will_retain && str_eq(o->will_topic, c->will_topic) &&
		    str_eq(o->will_payload, c->will_payload) &&
		    o->has_username && str_eq(o->username, c->username) &&
		    o->has_password && str_eq(o->password, c->password),
		    "connect full v%u: fields", v);
		if (v == MQTT_V5) {
			ok(props_eq(&c->props, &o->props),
			    "connect full v5: every connect property");
			ok(props_eq(&c->will_props, &o->will_props),
			    "connect full v5: every will property");
		}
		buf_release(&b);
	}

	/* A v5 password without a username is allowed (not in 3.1.1). */
	memset(&in, 0, sizeof(in));
	in.type = MQTT_CONNECT;
	c->has_password = true;
	c->password = STR("secret");
	c->client_id = STR("x");
	roundtrip(&in, MQTT_V5, 0, &out, &b, "connect v5 password only");
	ok(o->has_password && !o->has_username &&
	    str_eq(o->password, c->password), "connect v5 password only: "
	    "fields");
	buf_release(&b);
}

/* Known encodings, byte for byte. */
static void
test_bytes(void)
{
	struct mqtt_packet	 pkt;
	struct mqtt_sub_entry	 se;
	struct buf		 b;
	uint8_t			 want[256];
	size_t			 n, wn;

#define BYTES(version, str, name) do {					\
	buf_init(&b);							\
	n = mqtt_encode(&b, (version), &pkt);				\
	wn = hex(want, (str));						\
	ok(n == wn && b.len == wn && memcmp(b.data, want, wn) == 0,	\
	    "bytes: %s", (name));					\
	buf_release(&b);						\
} while (0)

	/* MQTT 3.1.1 section 3.1: CONNECT with clean session, id "abc". */
	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_CONNECT;
	pkt.u.connect.version = MQTT_V311;
	pkt.u.connect.clean_start = true;
	pkt.u.connect.keepalive = 60;
	pkt.u.connect.client_id = STR("abc");
	BYTES(MQTT_V311, "10 0f 00 04 'MQTT' 04 02 00 3c 00 03 'abc'",
	    "connect 3.1.1");
	BYTES(MQTT_V31, "10 11 00 06 'MQIsdp' 03 02 00 3c 00 03 'abc'",
	    "connect 3.1");
	BYTES(MQTT_V5, "10 10 00 04 'MQTT' 05 02 00 3c 00 00 03 'abc'",
	    "connect 5");
	pkt.u.connect.props.has = MQTT_HAS(MQTT_PROP_SESSION_EXPIRY);
	pkt.u.connect.props.session_expiry = 120;
	BYTES(MQTT_V5, "10 15 00 04 'MQTT' 05 02 00 3c 05 11 00 00 00 78 "
	    "00 03 'abc'", "connect 5 session expiry");
	BYTES(MQTT_V311, "10 0f 00 04 'MQTT' 04 02 00 3c 00 03 'abc'",
	    "connect 3.1.1 ignores properties");

	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_PINGREQ;
	BYTES(MQTT_V311, "c0 00", "pingreq");
	pkt.type = MQTT_PINGRESP;
	BYTES(MQTT_V5, "d0 00", "pingresp");

	pkt.type = MQTT_CONNACK;
	pkt.u.connack.session_present = true;
	BYTES(MQTT_V311, "20 02 01 00", "connack 3.1.1 session present");
	pkt.u.connack.session_present = false;
	pkt.u.connack.rc = 0x05;
	BYTES(MQTT_V311, "20 02 00 05", "connack 3.1.1 not authorized");
	pkt.u.connack.rc = 0;
	BYTES(MQTT_V5, "20 03 00 00 00", "connack 5");
	pkt.u.connack.props.has = MQTT_HAS(MQTT_PROP_TOPIC_ALIAS_MAX);
	pkt.u.connack.props.topic_alias_max = 10;
	BYTES(MQTT_V5, "20 06 00 00 03 22 00 0a", "connack 5 alias max");

	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_PUBACK;
	pkt.u.ack.pid = 1;
	BYTES(MQTT_V311, "40 02 00 01", "puback 3.1.1");
	BYTES(MQTT_V5, "40 02 00 01", "puback 5 success omits rc");
	pkt.u.ack.rc = 0x10;
	BYTES(MQTT_V5, "40 03 00 01 10", "puback 5 no matching subscribers");
	BYTES(MQTT_V311, "40 02 00 01", "puback 3.1.1 ignores rc");
	pkt.u.ack.props.has = MQTT_HAS(MQTT_PROP_REASON_STRING);
	pkt.u.ack.props.reason_string = STR("x");
	BYTES(MQTT_V5, "40 08 00 01 10 04 1f 00 01 'x'", "puback 5 reason");
	pkt.type = MQTT_PUBREL;
	pkt.u.ack.rc = 0;
	pkt.u.ack.props.has = 0;
	BYTES(MQTT_V311, "62 02 00 01", "pubrel flags 2");

	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_PUBLISH;
	pkt.u.publish.topic = STR("a/b");
	pkt.u.publish.payload = STR("hi");
	BYTES(MQTT_V311, "30 07 00 03 'a/b' 'hi'", "publish qos 0");
	BYTES(MQTT_V5, "30 08 00 03 'a/b' 00 'hi'", "publish 5 qos 0");
	pkt.u.publish.qos = 1;
	pkt.u.publish.dup = true;
	pkt.u.publish.retain = true;
	pkt.u.publish.pid = 0x1234;
	BYTES(MQTT_V311, "3b 09 00 03 'a/b' 12 34 'hi'", "publish dup qos 1 "
	    "retain");
	pkt.u.publish.dup = false;
	pkt.u.publish.retain = false;
	pkt.u.publish.qos = 2;
	pkt.u.publish.props.has = MQTT_HAS(MQTT_PROP_TOPIC_ALIAS);
	pkt.u.publish.props.topic_alias = 1;
	BYTES(MQTT_V5, "34 0d 00 03 'a/b' 12 34 03 23 00 01 'hi'",
	    "publish 5 qos 2 alias");

	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_DISCONNECT;
	BYTES(MQTT_V311, "e0 00", "disconnect 3.1.1");
	BYTES(MQTT_V5, "e0 00", "disconnect 5 normal");
	pkt.u.reason.rc = 0x8e;
	BYTES(MQTT_V5, "e0 01 8e", "disconnect 5 session taken over");
	pkt.type = MQTT_AUTH;
	pkt.u.reason.rc = 0x18;
	BYTES(MQTT_V5, "f0 01 18", "auth continue");
	pkt.u.reason.rc = 0;
	BYTES(MQTT_V5, "f0 00", "auth success");
	buf_init(&b);
	ok(mqtt_encode(&b, MQTT_V311, &pkt) == 0 && b.len == 0,
	    "bytes: no auth for 3.1.1");
	buf_release(&b);

	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_SUBACK;
	pkt.u.suback.pid = 10;
	pkt.u.suback.rcs = (const uint8_t *)"\x00\x01\x80";
	pkt.u.suback.n = 3;
	BYTES(MQTT_V311, "90 05 00 0a 00 01 80", "suback 3.1.1");
	BYTES(MQTT_V5, "90 06 00 0a 00 00 01 80", "suback 5");
	pkt.type = MQTT_UNSUBACK;
	BYTES(MQTT_V311, "b0 02 00 0a", "unsuback 3.1.1 has no codes");
	BYTES(MQTT_V5, "b0 06 00 0a 00 00 01 80", "unsuback 5");

	se.filter = STR("a/+");
	se.qos = 1;
	se.no_local = true;
	se.retain_as_published = true;
	se.retain_handling = 2;
	buf_init(&b);
	n = mqtt_encode_subscribe(&b, MQTT_V311, 1, NULL, &se, 1);
	wn = hex(want, "82 08 00 01 00 03 'a/+' 01");
	ok(n == wn && memcmp(b.data, want, wn) == 0,
	    "bytes: subscribe 3.1.1 drops v5 options");
	buf_release(&b);
	buf_init(&b);
	n = mqtt_encode_subscribe(&b, MQTT_V5, 1, NULL, &se, 1);
	wn = hex(want, "82 09 00 01 00 00 03 'a/+' 2d");
	ok(n == wn && memcmp(b.data, want, wn) == 0, "bytes: subscribe 5");
	buf_release(&b);
	buf_init(&b);
	n = mqtt_encode_unsubscribe(&b, MQTT_V311, 2, NULL, &se.filter, 1);
	wn = hex(want, "a2 07 00 02 00 03 'a/+'");
	ok(n == wn && memcmp(b.data, want, wn) == 0,
	    "bytes: unsubscribe 3.1.1");
	buf_release(&b);
#undef BYTES
}

/* Round trips of CONNACK, PUBLISH, acks, SUBACK/UNSUBACK, pings. */
static void
test_roundtrips(void)
{
	static const uint8_t	 acks[] = { MQTT_PUBACK, MQTT_PUBREC,
	    MQTT_PUBREL, MQTT_PUBCOMP };
	static const uint32_t	 many[] = { 1, 127, 128, 268435455 };
	struct mqtt_packet	 in, out;
	struct buf		 b;
	size_t			 i, n;
	uint8_t			 v, cv, dv;
	char			 name[64];

	for (v = MQTT_V311; v <= MQTT_V5; v++) {
		cv = MQTT_CLIENT_SIDE | v;

		memset(&in, 0, sizeof(in));
		in.type = MQTT_CONNACK;
		in.u.connack.session_present = true;
		in.u.connack.rc = v == MQTT_V5 ? 0x87 : 0x04;
		if (v == MQTT_V5)
			FILL(&in.u.connack.props, connack_ids);
		roundtrip(&in, v, cv, &out, &b, "connack");
		ok(out.u.connack.session_present &&
		    out.u.connack.rc == in.u.connack.rc &&
		    (v != MQTT_V5 || props_eq(&in.u.connack.props,
		    &out.u.connack.props)), "connack v%u: fields and every "
		    "connack property", v);
		buf_release(&b);

		for (i = 0; i < 3; i++) {
			memset(&in, 0, sizeof(in));
			in.type = MQTT_PUBLISH;
			in.u.publish.qos = (uint8_t)i;
			in.u.publish.dup = i != 0;
			in.u.publish.retain = i == 1;
			in.u.publish.pid = i == 0 ? 0 : (uint16_t)(65535 - i);
			in.u.publish.topic = STR("sensors/\xf0\x9f\x98\x80/t");
			in.u.publish.payload = i == 2 ? STR_NULL :
			    STR("\x01payload");
			if (v == MQTT_V5)
				FILL(&in.u.publish.props, publish_ids);
			snprintf(name, sizeof(name), "publish qos %zu", i);
			/* Server side, so no Subscription Identifier. */
			roundtrip(&in, v, v, &out, &b, name);
			ok(out.u.publish.qos == i &&
			    out.u.publish.dup == in.u.publish.dup &&
			    out.u.publish.retain == in.u.publish.retain &&
			    out.flags == (b.data[0] & 0x0f) &&
			    out.u.publish.pid == in.u.publish.pid &&
			    str_eq(out.u.publish.topic, in.u.publish.topic) &&
			    str_eq(out.u.publish.payload,
			    in.u.publish.payload) &&
			    (v != MQTT_V5 || props_eq(&in.u.publish.props,
			    &out.u.publish.props)),
			    "%s v%u: fields and properties", name, v);
			buf_release(&b);
		}

		for (i = 0; i < sizeof(acks); i++) {
			memset(&in, 0, sizeof(in));
			in.type = acks[i];
			in.u.ack.pid = (uint16_t)(i + 1);
			snprintf(name, sizeof(name), "%s",
			    mqtt_type_name(acks[i]));
			n = roundtrip(&in, v, v, &out, &b, name);
			ok(n == 4 && out.u.ack.pid == i + 1 &&
			    out.u.ack.rc == 0 && out.u.ack.props.has == 0,
			    "%s v%u: short form", name, v);
			buf_release(&b);
			if (v != MQTT_V5)
				continue;
			in.u.ack.rc = 0x80;
			n = roundtrip(&in, v, v, &out, &b, name);
			ok(n == 5 && out.u.ack.rc == 0x80 &&
			    out.u.ack.props.has == 0,
			    "%s v5: reason code only", name);
			buf_release(&b);
			FILL(&in.u.ack.props, reason_ids);
			roundtrip(&in, v, CLIENT5, &out, &b, name);
			ok(out.u.ack.rc == 0x80 && props_eq(&in.u.ack.props,
			    &out.u.ack.props), "%s v5: reason code and "
			    "properties", name);
			buf_release(&b);
		}

		memset(&in, 0, sizeof(in));
		in.type = MQTT_SUBACK;
		in.u.suback.pid = 77;
		in.u.suback.rcs = (const uint8_t *)"\x02\x80\x00";
		in.u.suback.n = 3;
		if (v == MQTT_V5)
			FILL(&in.u.suback.props, reason_ids);
		roundtrip(&in, v, cv, &out, &b, "suback");
		ok(out.u.suback.pid == 77 && out.u.suback.n == 3 &&
		    memcmp(out.u.suback.rcs, "\x02\x80\x00", 3) == 0 &&
		    (v != MQTT_V5 || props_eq(&in.u.suback.props,
		    &out.u.suback.props)), "suback v%u: fields", v);
		buf_release(&b);
		in.type = MQTT_UNSUBACK;
		roundtrip(&in, v, cv, &out, &b, "unsuback");
		ok(out.u.suback.pid == 77 &&
		    out.u.suback.n == (v == MQTT_V5 ? 3U : 0U) &&
		    (v != MQTT_V5 || props_eq(&in.u.suback.props,
		    &out.u.suback.props)), "unsuback v%u: fields", v);
		buf_release(&b);

		memset(&in, 0, sizeof(in));
		in.type = MQTT_PINGREQ;
		roundtrip(&in, v, v, &out, &b, "pingreq");
		buf_release(&b);
		in.type = MQTT_PINGRESP;
		roundtrip(&in, v, cv, &out, &b, "pingresp");
		buf_release(&b);

		memset(&in, 0, sizeof(in));
		in.type = MQTT_DISCONNECT;
		roundtrip(&in, v, v, &out, &b, "disconnect");
		ok(b.len == 2 && out.u.reason.rc == 0,
		    "disconnect v%u: two bytes", v);
		buf_release(&b);
	}

	memset(&in, 0, sizeof(in));
	in.type = MQTT_DISCONNECT;
	in.u.reason.rc = 0x04;
	FILL(&in.u.reason.props, disconnect_ids);
	for (dv = MQTT_V5; dv != 0; dv = dv == MQTT_V5 ? CLIENT5 : 0) {
		roundtrip(&in, MQTT_V5, dv, &out, &b, "disconnect props");
		ok(out.u.reason.rc == 0x04 && props_eq(&in.u.reason.props,
		    &out.u.reason.props), "disconnect v5 (%s side): rc and "
		    "every property", dv == MQTT_V5 ? "server" : "client");
		buf_release(&b);
	}

	memset(&in, 0, sizeof(in));
	in.type = MQTT_AUTH;
	in.u.reason.rc = 0x18;
	FILL(&in.u.reason.props, auth_ids);
	roundtrip(&in, MQTT_V5, MQTT_V5, &out, &b, "auth");
	ok(out.u.reason.rc == 0x18 && props_eq(&in.u.reason.props,
	    &out.u.reason.props), "auth: rc and every property");
	buf_release(&b);

	/* Several Subscription Identifiers to a client; it keeps the first. */
	memset(&in, 0, sizeof(in));
	in.type = MQTT_PUBLISH;
	in.u.publish.topic = STR("t");
	in.u.publish.props.sub_ids = many;
	in.u.publish.props.n_sub_ids = 4;
	n = roundtrip(&in, MQTT_V5, CLIENT5, &out, &b, "publish sub ids");
	ok(n == 2 + 3 + 1 + 2 + 2 + 3 + 5 && out.u.publish.props.has ==
	    MQTT_HAS(MQTT_PROP_SUB_ID) && out.u.publish.props.sub_id == 1 &&
	    out.u.publish.props.sub_ids == NULL, "publish sub ids: first kept");
	ok(mqtt_decode(b.data, b.len, MQTT_V5, 0, &out, &n, NULL) ==
	    MQTT_PROTOCOL, "publish sub ids: protocol error from a client");
	buf_release(&b);
	in.u.publish.props.n_sub_ids = 0;
	in.u.publish.props.has = MQTT_HAS(MQTT_PROP_SUB_ID);
	in.u.publish.props.sub_id = 128;
	n = roundtrip(&in, MQTT_V5, CLIENT5, &out, &b, "publish sub id");
	ok(out.u.publish.props.sub_id == 128, "publish sub id: value");
	buf_release(&b);
}

/* SUBSCRIBE and UNSUBSCRIBE, built from arrays and re-encoded. */
static void
test_subscribe(void)
{
	struct mqtt_sub_entry	 e[3], got;
	struct str		 f[2], gf;
	struct mqtt_props	 pr;
	struct mqtt_packet	 pkt, pkt2;
	struct buf		 b, b2;
	size_t			 n, used, off, i;
	uint8_t			 v;
	int			 good;

	memset(&pr, 0, sizeof(pr));
	memset(e, 0, sizeof(e));
	e[0].filter = STR("a/#");
	e[0].qos = 2;
	e[1].filter = STR("$share/g/+/x");
	e[1].qos = 1;
	e[1].no_local = true;
	e[1].retain_handling = 1;
	e[2].filter = STR("");
	e[2].retain_as_published = true;
	e[2].retain_handling = 2;
	f[0] = STR("a/#");
	f[1] = STR("b");

	for (v = MQTT_V311; v <= MQTT_V5; v++) {
		if (v == MQTT_V5)
			FILL(&pr, sub_ids);
		buf_init(&b);
		n = mqtt_encode_subscribe(&b, v, 300, v == MQTT_V5 ? &pr :
		    NULL, e, 3);
		ok(mqtt_decode(b.data, b.len, v, 0, &pkt, &used, NULL) ==
		    MQTT_OK && used == n && pkt.type == MQTT_SUBSCRIBE &&
		    pkt.flags == 2 && pkt.u.subscribe.pid == 300 &&
		    pkt.u.subscribe.n == 3, "subscribe v%u: decodes", v);
		check_prefixes(b.data, b.len, v, "subscribe");
		good = 1;
		off = 0;
		for (i = 0; i < 3; i++) {
			if (!mqtt_sub_next(&pkt.u.subscribe, &off, &got) ||
			    !str_eq(got.filter, e[i].filter) ||
			    got.qos != e[i].qos)
				good = 0;
			else if (v == MQTT_V5 && (got.no_local !=
			    e[i].no_local || got.retain_as_published !=
			    e[i].retain_as_published ||
			    got.retain_handling != e[i].retain_handling))
				good = 0;
			else if (v != MQTT_V5 && (got.no_local ||
			    got.retain_as_published || got.retain_handling))
				good = 0;
		}
		ok(good && !mqtt_sub_next(&pkt.u.subscribe, &off, &got),
		    "subscribe v%u: entries", v);
		ok(v != MQTT_V5 || props_eq(&pr, &pkt.u.subscribe.props),
		    "subscribe v%u: properties", v);
		buf_init(&b2);
		mqtt_encode(&b2, v, &pkt);
		ok(b2.len == b.len && memcmp(b.data, b2.data, b.len) == 0,
		    "subscribe v%u: re-encodes to the same bytes", v);
		buf_release(&b2);
		buf_release(&b);

		if (v == MQTT_V5) {
			/* The same properties are wrong in an UNSUBSCRIBE. */
			buf_init(&b);
			mqtt_encode_unsubscribe(&b, v, 301, &pr, f, 2);
			ok(mqtt_decode(b.data, b.len, v, 0, &pkt, &used,
			    NULL) == MQTT_MALFORMED,
			    "unsubscribe v5: sub id not allowed");
			buf_release(&b);
			pr.has = MQTT_HAS(MQTT_PROP_USER);
		}
		buf_init(&b);
		n = mqtt_encode_unsubscribe(&b, v, 301, v == MQTT_V5 ? &pr :
		    NULL, f, 2);
		ok(mqtt_decode(b.data, b.len, v, 0, &pkt, &used, NULL) ==
		    MQTT_OK && used == n && pkt.type == MQTT_UNSUBSCRIBE &&
		    pkt.u.subscribe.pid == 301 && pkt.u.subscribe.n == 2,
		    "unsubscribe v%u: decodes", v);
		check_prefixes(b.data, b.len, v, "unsubscribe");
		off = 0;
		good = mqtt_unsub_next(&pkt.u.subscribe, &off, &gf) &&
		    str_eq(gf, f[0]) &&
		    mqtt_unsub_next(&pkt.u.subscribe, &off, &gf) &&
		    str_eq(gf, f[1]) &&
		    !mqtt_unsub_next(&pkt.u.subscribe, &off, &gf);
		ok(good, "unsubscribe v%u: filters", v);
		ok(v != MQTT_V5 || props_eq(&pr, &pkt.u.subscribe.props),
		    "unsubscribe v%u: properties", v);
		buf_init(&b2);
		mqtt_encode(&b2, v, &pkt);
		ok(mqtt_decode(b2.data, b2.len, v, 0, &pkt2, &used, NULL) ==
		    MQTT_OK && b2.len == b.len &&
		    memcmp(b.data, b2.data, b.len) == 0,
		    "unsubscribe v%u: re-encodes to the same bytes", v);
		buf_release(&b2);
		buf_release(&b);
	}
}

/* User Properties: building, non-contiguous blocks, re-encoding. */
static void
test_user(void)
{
	struct mqtt_packet	 pkt, out;
	struct mqtt_props	*pr;
	struct str		 k, val;
	struct buf		 u, b;
	size_t			 off, used, n;
	uint8_t			 p[256];

	memset(&pkt, 0, sizeof(pkt));
	off = 0;
	ok(!mqtt_user_next(&pkt.u.publish.props, &off, &k, &val),
	    "user: empty block has none");
	pkt.type = MQTT_PUBLISH;
	buf_init(&b);
	ok(mqtt_encode(&b, MQTT_V5, &pkt) == 5 &&
	    memcmp(b.data, "\x30\x03\x00\x00\x00", 5) == 0,
	    "user: NULL topic, payload and user encode");
	buf_release(&b);

	buf_init(&u);
	mqtt_user_add(&u, STR("a"), STR("1"));
	ok(u.len == 7 && memcmp(u.data, "\x26\0\1a\0\0011", 7) == 0,
	    "user: mqtt_user_add encoding");
	memset(&pkt, 0, sizeof(pkt));
	pkt.u.publish.props.user.p = u.data;
	pkt.u.publish.props.user.len = u.len;
	off = 0;
	ok(mqtt_user_next(&pkt.u.publish.props, &off, &k, &val) &&
	    str_eq(k, STR("a")) && str_eq(val, STR("1")) && off == 7 &&
	    !mqtt_user_next(&pkt.u.publish.props, &off, &k, &val),
	    "user: mqtt_user_next walks a built block");
	buf_release(&u);

	/* User, content type, user: the view spans the content type. */
	n = mk(p, 0x30, "00 01 't' 11 26 00 01 'a' 00 01 '1' 03 00 01 'x' "
	    "26 00 01 'b' 00 00 'pay'");
	ok(mqtt_decode(p, n, MQTT_V5, 0, &pkt, &used, NULL) == MQTT_OK,
	    "user: interleaved properties decode");
	pr = &pkt.u.publish.props;
	ok(pr->has == (MQTT_HAS(MQTT_PROP_USER) |
	    MQTT_HAS(MQTT_PROP_CONTENT_TYPE)) && pr->user.len == 17 &&
	    str_eq(pr->content_type, STR("x")) &&
	    str_eq(pkt.u.publish.payload, STR("pay")),
	    "user: view spans first to last user property");
	off = 0;
	ok(mqtt_user_next(pr, &off, &k, &val) && str_eq(k, STR("a")) &&
	    str_eq(val, STR("1")) && mqtt_user_next(pr, &off, &k, &val) &&
	    str_eq(k, STR("b")) && val.len == 0 &&
	    !mqtt_user_next(pr, &off, &k, &val),
	    "user: mqtt_user_next skips the content type");
	buf_init(&b);
	ok(mqtt_encode(&b, MQTT_V5, &pkt) == n && mqtt_decode(b.data, b.len,
	    MQTT_V5, 0, &out, &used, NULL) == MQTT_OK &&
	    props_eq(pr, &out.u.publish.props) &&
	    out.u.publish.props.user.len == 13,
	    "user: encoder copies only user properties, once");
	buf_release(&b);

	/* Without the content type bit, only the users are written. */
	pr->has = MQTT_HAS(MQTT_PROP_USER);
	buf_init(&b);
	ok(mqtt_encode(&b, MQTT_V5, &pkt) == n - 4 &&
	    mqtt_decode(b.data, b.len, MQTT_V5, 0, &out, &used, NULL) ==
	    MQTT_OK && out.u.publish.props.has == MQTT_HAS(MQTT_PROP_USER),
	    "user: other ids in the block are never written");
	buf_release(&b);
	ok(mqtt_encode(&b, MQTT_V311, &pkt) == 2 + 3 + 3 &&
	    b.data[1] == 6, "user: never written for 3.1.1");
	buf_release(&b);
}

/* mqtt_utf8_valid() directly. */
static void
test_utf8(void)
{
	static const struct {
		const char	*s;
		size_t		 len;
		bool		 valid;
		const char	*name;
	} t[] = {
		{ "", 0, true, "empty" },
		{ "a/b/c", 5, true, "ascii" },
		{ "0123456789abcdefghij/klmnopqrstuvwxyz", 37, true,
		    "long ascii" },
		{ "0123456789a\0cdefghij", 20, false, "nul in a word" },
		{ "\0", 1, false, "nul alone" },
		{ "\xc3\xa9", 2, true, "U+00E9" },
		{ "\xe2\x82\xac", 3, true, "U+20AC" },
		{ "\xef\xbf\xbf", 3, true, "U+FFFF (non-character allowed)" },
		{ "\xf0\x9f\x98\x80", 4, true, "U+1F600" },
		{ "\xf4\x8f\xbf\xbf", 4, true, "U+10FFFF" },
		{ "\xed\x9f\xbf", 3, true, "U+D7FF" },
		{ "\xee\x80\x80", 3, true, "U+E000" },
		{ "\xed\xa0\x80", 3, false, "U+D800 surrogate" },
		{ "\xed\xbf\xbf", 3, false, "U+DFFF surrogate" },
		{ "\xc0\x80", 2, false, "overlong NUL" },
		{ "\xc1\xbf", 2, false, "overlong 2-byte" },
		{ "\xe0\x9f\xbf", 3, false, "overlong 3-byte" },
		{ "\xf0\x8f\xbf\xbf", 4, false, "overlong 4-byte" },
		{ "\xf4\x90\x80\x80", 4, false, "above U+10FFFF" },
		{ "\xf5\x80\x80\x80", 4, false, "lead byte f5" },
		{ "\xff", 1, false, "byte ff" },
		{ "\x80", 1, false, "lone continuation" },
		{ "\xc3", 1, false, "cut 2-byte" },
		{ "\xe2\x82", 2, false, "cut 3-byte" },
		{ "\xf0\x9f\x98", 3, false, "cut 4-byte" },
		{ "\xc3\x28", 2, false, "bad continuation" },
		{ "\xe2\x28\xa1", 3, false, "bad second of 3" },
		{ "\xe2\x82\x28", 3, false, "bad third of 3" },
		{ "abcdefgh\xc3\xa9zzzzzzzz\xed\xa0\x80", 21, false,
		    "surrogate after words" },
	};
	size_t	 i;

	ok(mqtt_utf8_valid(STR_NULL), "utf8: NULL view of length 0 valid");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(mqtt_utf8_valid((struct str){ (const uint8_t *)t[i].s,
		    t[i].len }) == t[i].valid, "utf8: %s %s", t[i].name,
		    t[i].valid ? "valid" : "invalid");
}

/* The fixed header: remaining length, flags, limits, streams. */
static void
test_header(void)
{
	struct mqtt_packet	 pkt;
	uint8_t			 p[64];
	size_t			 n, used;
	const char		*why;

	n = hex(p, "30 ff ff ff");
	ok(mqtt_decode(p, n, MQTT_V311, 0, &pkt, &used, NULL) == MQTT_MORE,
	    "header: 4-byte remaining length not complete");
	n = hex(p, "30 ff ff ff ff 01");
	ok(mqtt_decode(p, n, MQTT_V311, 0, &pkt, &used, &why) ==
	    MQTT_MALFORMED, "header: 5-byte remaining length malformed");
	n = hex(p, "30 ff ff ff 7f");
	ok(mqtt_decode(p, n, MQTT_V311, 0, &pkt, &used, &why) == MQTT_MORE,
	    "header: largest remaining length needs more");
	ok(mqtt_decode(p, n, MQTT_V311, 268435459, &pkt, &used, &why) ==
	    MQTT_TOO_BIG, "header: largest remaining length too big");
	n = hex(p, "30 64");
	ok(mqtt_decode(p, n, MQTT_V5, 50, &pkt, &used, &why) ==
	    MQTT_TOO_BIG && why != NULL,
	    "header: too big as soon as the header is readable");
	n = mk(p, 0x30, "00 01 't' 00 'abc'");
	ok(mqtt_decode(p, n, MQTT_V5, (uint32_t)n, &pkt, &used, NULL) ==
	    MQTT_OK && used == n, "header: packet of exactly max_size is ok");
	ok(mqtt_decode(p, n, MQTT_V5, (uint32_t)n - 1, &pkt, &used, NULL) ==
	    MQTT_TOO_BIG, "header: one byte over max_size is too big");
	ok(mqtt_decode(p, 0, MQTT_V5, 0, &pkt, &used, NULL) == MQTT_MORE,
	    "header: empty input needs more");

	/* Two packets back to back, then a partial one. */
	n = hex(p, "c0 00 40 02 00 05 30 03 00");
	ok(mqtt_decode(p, n, MQTT_V311, 0, &pkt, &used, NULL) == MQTT_OK &&
	    used == 2 && pkt.type == MQTT_PINGREQ &&
	    mqtt_decode(p + 2, n - 2, MQTT_V311, 0, &pkt, &used, NULL) ==
	    MQTT_OK && used == 4 && pkt.u.ack.pid == 5 &&
	    mqtt_decode(p + 6, n - 6, MQTT_V311, 0, &pkt, &used, NULL) ==
	    MQTT_MORE, "header: stream of packets");

	/* Non-minimal remaining length is accepted (Postel). */
	n = hex(p, "c0 80 00");
	ok(mqtt_decode(p, n, MQTT_V311, 0, &pkt, &used, NULL) == MQTT_OK &&
	    used == 3, "header: non-minimal remaining length accepted");
	/* The first byte is judged before the rest arrives. */
	n = hex(p, "36");
	ok(mqtt_decode(p, n, MQTT_V311, 0, &pkt, &used, NULL) ==
	    MQTT_MALFORMED, "header: qos 3 known from one byte");
	ok(strcmp(mqtt_type_name(MQTT_PUBLISH), "PUBLISH") == 0 &&
	    strcmp(mqtt_type_name(MQTT_AUTH), "AUTH") == 0 &&
	    strcmp(mqtt_type_name((enum mqtt_type)99), "UNKNOWN") == 0,
	    "header: type names");
}

/* Malformed and forbidden packets. */
static void
test_errors(void)
{
	struct mqtt_packet	 pkt;

	/* Fixed header flags and types. */
	expect(MQTT_V311, MQTT_MALFORMED, 0x00, "", "type 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0x60, "00 01", "pubrel flags 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0x80, "00 01 00 01 'a' 00",
	    "subscribe flags 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0xa0, "00 01 00 01 'a'",
	    "unsubscribe flags 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0x42, "00 01", "puback flags 2");
	expect(MQTT_V311, MQTT_MALFORMED, 0xc1, "", "pingreq flags 1");
	expect(MQTT_V311, MQTT_MALFORMED, 0xe8, "", "disconnect flags 8");
	expect(0, MQTT_MALFORMED, 0x12, "00 04 'MQTT' 04 02 00 00 00 00",
	    "connect flags 2");
	expect(MQTT_V311, MQTT_MALFORMED, 0x36, "00 01 't' 00 01",
	    "publish qos 3");
	expect(MQTT_V311, MQTT_MALFORMED, 0x38, "00 01 't'",
	    "publish dup on qos 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0xf0, "", "auth in 3.1.1");
	expect(MQTT_V5, MQTT_OK, 0xf0, "", "auth in 5");

	/* Order of packets and direction. */
	expect(0, MQTT_PROTOCOL, 0x30, "00 01 't'", "publish before connect");
	expect(0, MQTT_PROTOCOL, 0xc0, "", "pingreq before connect");
	expect(MQTT_V311, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 04 02 00 00 00 00", "second connect");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 05 02 00 00 00 00 00", "second connect v5");
	expect(MQTT_V311, MQTT_PROTOCOL, 0x20, "00 00", "connack from client");
	expect(MQTT_V311, MQTT_PROTOCOL, 0x90, "00 01 00",
	    "suback from client");
	expect(MQTT_V5, MQTT_PROTOCOL, 0xb0, "00 01 00 00",
	    "unsuback from client");
	expect(MQTT_V311, MQTT_PROTOCOL, 0xd0, "", "pingresp from client");
	expect(CLIENT5, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 05 02 00 00 00 00 00", "connect from server");
	expect(CLIENT4, MQTT_PROTOCOL, 0x82, "00 01 00 01 'a' 00",
	    "subscribe from server");
	expect(CLIENT4, MQTT_PROTOCOL, 0xa2, "00 01 00 01 'a'",
	    "unsubscribe from server");
	expect(CLIENT5, MQTT_PROTOCOL, 0xc0, "", "pingreq from server");
	expect(CLIENT4, MQTT_PROTOCOL, 0xe0, "",
	    "disconnect from 3.1.1 server");
	expect(CLIENT5, MQTT_OK, 0xe0, "", "disconnect from v5 server");
	expect(CLIENT4, MQTT_OK, 0x20, "00 00", "connack to client");
	expect(CLIENT4, MQTT_MALFORMED, 0x20, "02 00",
	    "connack reserved flag");
	expect(CLIENT4, MQTT_MALFORMED, 0x20, "00 00 00",
	    "connack 3.1.1 trailing byte");
	expect(CLIENT4, MQTT_MALFORMED, 0xb0, "00 01 00",
	    "unsuback 3.1.1 trailing byte");
	expect(MQTT_CLIENT_SIDE, MQTT_PROTOCOL, 0x20, "00 00",
	    "client side without version");
	expect(7, MQTT_PROTOCOL, 0xc0, "", "unknown session version");

	/* CONNECT. */
	pkt = expect(0, MQTT_UNSUPPORTED, 0x10,
	    "00 04 'MQTT' 06 02 00 00 00 00", "connect level 6");
	ok(pkt.u.connect.version == 6, "connect level 6: version reported");
	pkt = expect(0, MQTT_UNSUPPORTED, 0x10,
	    "00 04 'MQTT' 03 02 00 00 00 00", "connect MQTT level 3");
	ok(pkt.u.connect.version == 3, "connect MQTT level 3: version "
	    "reported");
	expect(0, MQTT_UNSUPPORTED, 0x10, "00 06 'MQIsdp' 04 02 00 00 00 00",
	    "connect MQIsdp level 4");
	expect(0, MQTT_UNSUPPORTED, 0x10, "00 04 'MQTX' 04 02 00 00 00 00",
	    "connect bad protocol name");
	pkt = expect(0, MQTT_OK, 0x10, "00 06 'MQIsdp' 03 02 00 00 00 00",
	    "connect 3.1");
	ok(pkt.u.connect.version == MQTT_V31, "connect 3.1: version");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT'", "connect no level");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT' 04 03 00 00 00 00",
	    "connect reserved flag");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT' 04 0a 00 00 00 00",
	    "connect will qos without will");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT' 04 22 00 00 00 00",
	    "connect will retain without will");
	expect(0, MQTT_MALFORMED, 0x10,
	    "00 04 'MQTT' 04 1e 00 00 00 00 00 01 't' 00 00",
	    "connect will qos 3");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT' 04 42 00 00 00 00 00 00",
	    "connect password without username 3.1.1");
	expect(0, MQTT_OK, 0x10, "00 04 'MQTT' 05 42 00 00 00 00 00 00 00",
	    "connect password without username 5");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT' 04 82 00 00 00 00",
	    "connect username flag without username");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT' 04 02 00 00 00 00 ff",
	    "connect trailing byte");
	expect(0, MQTT_MALFORMED, 0x10, "00 04 'MQTT' 04 02 00 00 00 01 ff",
	    "connect client id invalid UTF-8");
	expect(0, MQTT_MALFORMED, 0x10,
	    "00 04 'MQTT' 04 06 00 00 00 00 00 02 c0 80 00 00",
	    "connect will topic overlong NUL");
	expect(0, MQTT_MALFORMED, 0x10,
	    "00 04 'MQTT' 04 82 00 00 00 00 00 03 ed a0 80",
	    "connect username surrogate");
	expect(0, MQTT_MALFORMED, 0x10,
	    "00 04 'MQTT' 05 02 00 00 05 18 00 00 00 05 00 00",
	    "connect will delay outside will properties");
	expect(0, MQTT_MALFORMED, 0x10,
	    "00 04 'MQTT' 05 06 00 00 00 00 00 03 23 00 01 00 01 't' 00 00",
	    "connect topic alias in will properties");
	expect(0, MQTT_OK, 0x10,
	    "00 04 'MQTT' 05 06 00 00 00 00 00 05 18 00 00 00 05 "
	    "00 01 't' 00 00", "connect will delay in will properties");
	expect(0, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 05 02 00 00 03 21 00 00 00 00",
	    "connect receive maximum 0");
	expect(0, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 05 02 00 00 05 27 00 00 00 00 00 00",
	    "connect maximum packet size 0");
	expect(0, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 05 02 00 00 02 17 02 00 00",
	    "connect request problem information 2");
	expect(0, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 05 02 00 00 02 19 05 00 00",
	    "connect request response information 5");
	expect(0, MQTT_PROTOCOL, 0x10,
	    "00 04 'MQTT' 05 02 00 00 0a 11 00 00 00 01 11 00 00 00 02 00 00",
	    "connect duplicate session expiry");
	expect(0, MQTT_MALFORMED, 0x10,
	    "00 04 'MQTT' 05 02 00 00 03 11 00 00",
	    "connect truncated property");
	expect(0, MQTT_MALFORMED, 0x10,
	    "00 04 'MQTT' 05 02 00 00 09 11 00 00 00 01",
	    "connect property length past the end");

	/* PUBLISH. */
	expect(MQTT_V311, MQTT_MALFORMED, 0x32, "00 01 't' 00 00",
	    "publish qos 1 pid 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0x34, "00 01 't' 00",
	    "publish qos 2 truncated pid");
	expect(MQTT_V311, MQTT_MALFORMED, 0x30, "00 05 't'",
	    "publish topic past the end");
	expect(MQTT_V311, MQTT_MALFORMED, 0x30, "00", "publish half a length");
	expect(MQTT_V311, MQTT_OK, 0x30, "00 00",
	    "publish empty topic decodes");
	expect(MQTT_V311, MQTT_OK, 0x31, "00 01 '#'",
	    "publish wildcard topic decodes");
	expect(MQTT_V311, MQTT_MALFORMED, 0x30, "00 03 'a' 00 'b'",
	    "publish topic with U+0000");
	expect(MQTT_V311, MQTT_MALFORMED, 0x30, "00 03 ed b0 80",
	    "publish topic surrogate");
	expect(MQTT_V311, MQTT_MALFORMED, 0x30, "00 02 c1 81",
	    "publish topic overlong");
	expect(MQTT_V311, MQTT_MALFORMED, 0x30, "00 01 fe",
	    "publish topic invalid UTF-8");
	expect(MQTT_V311, MQTT_OK, 0x30, "00 01 't' ff fe 00",
	    "publish payload is not UTF-8 checked");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30, "00 01 't'",
	    "publish v5 without property length");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x30,
	    "00 01 't' 09 03 00 01 'a' 03 00 02 'bc'",
	    "publish duplicate content type");
	expect(MQTT_V5, MQTT_OK, 0x30,
	    "00 01 't' 0d 26 00 01 'a' 00 00 26 00 01 'a' 00 01 'b'",
	    "publish repeated user property");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30, "00 01 't' 05 11 00 00 00 01",
	    "publish session expiry not allowed");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30, "00 01 't' 02 00 00",
	    "publish property id 0");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30, "00 01 't' 02 7f 00",
	    "publish unknown property 0x7f");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30, "00 01 't' 02 ff 01",
	    "publish two-byte property id");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x30, "00 01 't' 02 01 02",
	    "publish payload format 2");
	expect(MQTT_V5, MQTT_OK, 0x30, "00 01 't' 03 23 00 00",
	    "publish topic alias 0 decodes");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x30, "00 01 't' 02 0b 01",
	    "publish sub id from client");
	expect(CLIENT5, MQTT_OK, 0x30, "00 01 't' 04 0b 01 0b 02",
	    "publish two sub ids to client");
	expect(CLIENT5, MQTT_PROTOCOL, 0x30, "00 01 't' 02 0b 00",
	    "publish sub id 0");
	expect(CLIENT5, MQTT_MALFORMED, 0x30, "00 01 't' 05 0b ff ff ff ff",
	    "publish sub id 5 bytes");
	expect(CLIENT5, MQTT_MALFORMED, 0x30, "00 01 't' 02 02 00",
	    "publish truncated message expiry");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30,
	    "00 01 't' 07 26 00 01 'a' 00 01 ff", "publish user value bad "
	    "UTF-8");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30, "00 01 't' 04 03 00 01 00",
	    "publish content type U+0000");
	expect(MQTT_V5, MQTT_MALFORMED, 0x30, "00 01 't' 80 80 80 80 01",
	    "publish property length 5 bytes");
	expect(MQTT_V5, MQTT_OK, 0x30, "00 01 't' 05 09 00 02 00 ff",
	    "publish correlation data is binary");

	/* Acks. */
	expect(MQTT_V311, MQTT_MALFORMED, 0x40, "00 00", "puback pid 0");
	expect(MQTT_V5, MQTT_MALFORMED, 0x50, "00 00 10", "pubrec pid 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0x40, "00", "puback one byte");
	expect(MQTT_V311, MQTT_MALFORMED, 0x70, "00 01 00",
	    "pubcomp 3.1.1 trailing byte");
	pkt = expect(MQTT_V5, MQTT_OK, 0x62, "00 01 92", "pubrel rc only");
	ok(pkt.u.ack.rc == 0x92 && pkt.u.ack.pid == 1 &&
	    pkt.u.ack.props.has == 0, "pubrel rc only: fields");
	expect(MQTT_V5, MQTT_OK, 0x40, "00 01 00 00", "puback rc and empty "
	    "properties");
	expect(MQTT_V5, MQTT_MALFORMED, 0x40, "00 01 00 02 1f",
	    "puback truncated reason string");
	expect(MQTT_V5, MQTT_MALFORMED, 0x40, "00 01 00 00 00",
	    "puback trailing byte after properties");
	expect(MQTT_V5, MQTT_MALFORMED, 0x40, "00 01 00 02 23 00",
	    "puback topic alias not allowed");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x70,
	    "00 01 00 08 1f 00 01 'a' 1f 00 01 'b'",
	    "pubcomp duplicate reason string");

	/* SUBSCRIBE / UNSUBSCRIBE. */
	expect(MQTT_V311, MQTT_PROTOCOL, 0x82, "00 01", "subscribe empty");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x82, "00 01 00", "subscribe v5 empty");
	expect(MQTT_V311, MQTT_MALFORMED, 0x82, "00 00 00 01 'a' 00",
	    "subscribe pid 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0x82, "00 01 00 01 'a' 03",
	    "subscribe qos 3");
	expect(MQTT_V311, MQTT_MALFORMED, 0x82, "00 01 00 01 'a' 04",
	    "subscribe 3.1.1 no local bit");
	expect(MQTT_V311, MQTT_MALFORMED, 0x82, "00 01 00 01 'a'",
	    "subscribe missing options");
	expect(MQTT_V5, MQTT_OK, 0x82, "00 01 00 00 01 'a' 2e",
	    "subscribe v5 all options");
	expect(MQTT_V5, MQTT_MALFORMED, 0x82, "00 01 00 00 01 'a' 40",
	    "subscribe v5 reserved bit 6");
	expect(MQTT_V5, MQTT_MALFORMED, 0x82, "00 01 00 00 01 'a' 80",
	    "subscribe v5 reserved bit 7");
	expect(MQTT_V5, MQTT_MALFORMED, 0x82, "00 01 00 00 01 'a' 30",
	    "subscribe v5 retain handling 3");
	expect(MQTT_V5, MQTT_MALFORMED, 0x82, "00 01 00 00 01 ff 00",
	    "subscribe filter invalid UTF-8");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x82, "00 01 02 0b 00 00 01 'a' 00",
	    "subscribe sub id 0");
	expect(MQTT_V5, MQTT_PROTOCOL, 0x82,
	    "00 01 04 0b 01 0b 02 00 01 'a' 00", "subscribe two sub ids");
	expect(MQTT_V5, MQTT_MALFORMED, 0x82, "00 01 02 01 00 00 01 'a' 00",
	    "subscribe payload format not allowed");
	expect(MQTT_V311, MQTT_PROTOCOL, 0xa2, "00 01", "unsubscribe empty");
	expect(MQTT_V311, MQTT_MALFORMED, 0xa2, "00 00 00 01 'a'",
	    "unsubscribe pid 0");
	expect(MQTT_V311, MQTT_MALFORMED, 0xa2, "00 01 00 02 'a'",
	    "unsubscribe truncated filter");
	expect(MQTT_V5, MQTT_MALFORMED, 0xa2, "00 01 00 00 01 00",
	    "unsubscribe filter U+0000");

	/* PINGREQ, DISCONNECT, AUTH. */
	expect(MQTT_V311, MQTT_MALFORMED, 0xc0, "00", "pingreq with a byte");
	expect(MQTT_V311, MQTT_MALFORMED, 0xe0, "00",
	    "disconnect 3.1.1 with a byte");
	pkt = expect(MQTT_V5, MQTT_OK, 0xe0, "04", "disconnect v5 rc only");
	ok(pkt.u.reason.rc == 4, "disconnect v5 rc only: rc");
	expect(MQTT_V5, MQTT_OK, 0xe0, "00 05 11 00 00 00 00",
	    "disconnect v5 session expiry");
	expect(MQTT_V5, MQTT_MALFORMED, 0xe0, "00 02 21 00",
	    "disconnect v5 receive maximum not allowed");
	expect(MQTT_V5, MQTT_MALFORMED, 0xf0, "18 02 11 00",
	    "auth session expiry not allowed");
	expect(MQTT_V5, MQTT_PROTOCOL, 0xf0,
	    "18 08 15 00 01 'a' 15 00 01 'b'", "auth duplicate method");
	expect(CLIENT5, MQTT_MALFORMED, 0x20, "00 00 03 24 02",
	    "connack truncated props");
	expect(CLIENT5, MQTT_PROTOCOL, 0x20, "00 00 02 24 02",
	    "connack maximum qos 2");
	expect(CLIENT5, MQTT_PROTOCOL, 0x20, "00 00 02 25 07",
	    "connack retain available 7");
	expect(CLIENT5, MQTT_MALFORMED, 0x20, "00 00 02 17 01",
	    "connack request problem information not allowed");
}

/*
 * A buffer that a slow reader keeps nearly full (append a little, consume
 * a little, for long): the bytes come out in order, and reclaiming the
 * consumed front does not move the unsent rest over and over (buf.c):
 * over many appends, the bytes moved stay below the bytes added.
 */
static void
test_buf_slow_reader(void)
{
	struct buf	 b;
	uint32_t	 in = 0, out = 0, v;
	size_t		 i, k, bad = 0, off, used;
	uint64_t	 moved = 0, added = 0;

	buf_init(&b);
	for (i = 0; i < 200000; i++) {		/* about 800 kB unsent */
		buf_add_u32(&b, in);
		in++;
	}
	for (k = 0; k < 4000; k++) {
		for (i = 0; i < 300; i++) {
			off = b.off;
			used = buf_used(&b);
			buf_add_u32(&b, in);
			in++;
			added += 4;
			if (off != 0 && b.off == 0)
				moved += used;
		}
		for (i = 0; i < 300; i++) {
			v = (uint32_t)buf_head(&b)[0] << 24 |
			    (uint32_t)buf_head(&b)[1] << 16 |
			    (uint32_t)buf_head(&b)[2] << 8 | buf_head(&b)[3];
			if (v != out)
				bad++;
			out++;
			buf_consume(&b, 4);
		}
	}
	ok(bad == 0 && buf_used(&b) == (size_t)(in - out) * 4,
	    "buf: a slow reader's bytes come out in order (%zu wrong)", bad);
	ok(moved <= added, "buf: %llu bytes moved for %llu added",
	    (unsigned long long)moved, (unsigned long long)added);
	buf_release(&b);
}

/* Run every group of codec tests; exit status says if all passed. */
int
main(void)
{
	test_buf_slow_reader();
	buf_init(&userbuf);
	test_header();
	test_bytes();
	test_connect();
	test_roundtrips();
	test_subscribe();
	test_user();
	test_utf8();
	test_errors();
	buf_release(&userbuf);
	return (tap_done());
}
