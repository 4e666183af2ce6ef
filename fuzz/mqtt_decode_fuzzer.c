/*
 * mqtt_decode_fuzzer.c: libFuzzer target for the MQTT codec.
 *
 * The input is decoded as a stream of packets once per session kind:
 * server side before CONNECT (switching to the level the CONNECT asked
 * for), server side 3.1, 3.1.1 and 5, and client side 3.1.1 and 5.  Each
 * packet decoded is checked against the codec's invariants: every proper
 * prefix needs more, a max_size one byte short is too big, and encoding it
 * then decoding the result gives the same fields (and encoding that again
 * gives the same bytes).  The input is also walked as a raw User Property
 * block.  A broken invariant aborts.  Built with -fsanitize=fuzzer, or
 * linked with replay.c to replay a corpus from `make check`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "mqtt.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

static const uint8_t fuzz_versions[] = {
	0, MQTT_V31, MQTT_V311, MQTT_V5,
	MQTT_CLIENT_SIDE | MQTT_V311, MQTT_CLIENT_SIDE | MQTT_V5
};

/* Check the User Properties of two blocks are the same pairs. */
static void
fuzz_user_eq(const struct mqtt_props *a, const struct mqtt_props *b)
{
	struct str	 ka, va, kb, vb;
	size_t		 oa = 0, ob = 0;
	bool		 na, nb;

	for (;;) {
		na = mqtt_user_next(a, &oa, &ka, &va);
		nb = mqtt_user_next(b, &ob, &kb, &vb);
		CHECK(na == nb);
		if (!na)
			break;
		CHECK(str_eq(ka, kb) && str_eq(va, vb));
	}
}

/* Check two property sets hold the same values. */
static void
fuzz_props_eq(const struct mqtt_props *a, const struct mqtt_props *b)
{
	uint64_t	 h = a->has;

#define F(id, f)	CHECK((h & MQTT_HAS(MQTT_PROP_##id)) == 0 ||	\
	a->f == b->f)
#define S(id, f)	CHECK((h & MQTT_HAS(MQTT_PROP_##id)) == 0 ||	\
	str_eq(a->f, b->f))
	CHECK(a->has == b->has);
	CHECK(b->sub_ids == NULL && b->n_sub_ids == 0);
	F(PAYLOAD_FORMAT, payload_format);
	F(MESSAGE_EXPIRY, message_expiry);
	S(CONTENT_TYPE, content_type);
	S(RESPONSE_TOPIC, response_topic);
	S(CORRELATION_DATA, correlation_data);
	F(SUB_ID, sub_id);
	F(SESSION_EXPIRY, session_expiry);
	S(ASSIGNED_CLIENT_ID, assigned_client_id);
	F(SERVER_KEEPALIVE, server_keepalive);
	S(AUTH_METHOD, auth_method);
	S(AUTH_DATA, auth_data);
	F(REQUEST_PROBLEM_INFO, request_problem_info);
	F(WILL_DELAY, will_delay);
	F(REQUEST_RESPONSE_INFO, request_response_info);
	S(RESPONSE_INFO, response_info);
	S(SERVER_REFERENCE, server_reference);
	S(REASON_STRING, reason_string);
	F(RECEIVE_MAX, receive_max);
	F(TOPIC_ALIAS_MAX, topic_alias_max);
	F(TOPIC_ALIAS, topic_alias);
	F(MAX_QOS, max_qos);
	F(RETAIN_AVAILABLE, retain_available);
	F(MAX_PACKET_SIZE, max_packet_size);
	F(WILDCARD_AVAILABLE, wildcard_available);
	F(SUB_ID_AVAILABLE, sub_id_available);
	F(SHARED_AVAILABLE, shared_available);
#undef F
#undef S
	CHECK(((h & MQTT_HAS(MQTT_PROP_USER)) != 0) == (a->user.len != 0));
	fuzz_user_eq(a, b);
}

/* Check two SUBSCRIBE or UNSUBSCRIBE packets list the same entries. */
static void
fuzz_subscribe_eq(enum mqtt_type type, const struct mqtt_subscribe *a,
    const struct mqtt_subscribe *b)
{
	struct mqtt_sub_entry	 ea, eb;
	size_t			 oa = 0, ob = 0, n = 0;
	bool			 na, nb;

	CHECK(a->pid == b->pid && a->pid != 0 && a->n == b->n && a->n != 0);
	fuzz_props_eq(&a->props, &b->props);
	for (;;) {
		if (type == MQTT_SUBSCRIBE) {
			na = mqtt_sub_next(a, &oa, &ea);
			nb = mqtt_sub_next(b, &ob, &eb);
		} else {
			memset(&ea, 0, sizeof(ea));
			memset(&eb, 0, sizeof(eb));
			na = mqtt_unsub_next(a, &oa, &ea.filter);
			nb = mqtt_unsub_next(b, &ob, &eb.filter);
		}
		CHECK(na == nb);
		if (!na)
			break;
		n++;
		CHECK(str_eq(ea.filter, eb.filter) && ea.qos == eb.qos &&
		    ea.qos < 3 && ea.no_local == eb.no_local &&
		    ea.retain_as_published == eb.retain_as_published &&
		    ea.retain_handling == eb.retain_handling &&
		    ea.retain_handling < 3);
	}
	CHECK(n == a->n);
}

/* Check two decoded packets carry the same fields. */
static void
fuzz_packet_eq(const struct mqtt_packet *a, const struct mqtt_packet *b)
{
	const struct mqtt_connect	*ca = &a->u.connect;
	const struct mqtt_connect	*cb = &b->u.connect;
	const struct mqtt_publish	*pa = &a->u.publish;
	const struct mqtt_publish	*pb = &b->u.publish;

	CHECK(a->type == b->type && a->flags == b->flags);
	switch (a->type) {
	case MQTT_CONNECT:
		CHECK(ca->version == cb->version &&
		    ca->clean_start == cb->clean_start &&
		    ca->keepalive == cb->keepalive &&
		    str_eq(ca->client_id, cb->client_id) &&
		    ca->will == cb->will && ca->will_qos == cb->will_qos &&
		    ca->will_retain == cb->will_retain &&
		    str_eq(ca->will_topic, cb->will_topic) &&
		    str_eq(ca->will_payload, cb->will_payload) &&
		    ca->has_username == cb->has_username &&
		    str_eq(ca->username, cb->username) &&
		    ca->has_password == cb->has_password &&
		    str_eq(ca->password, cb->password));
		CHECK(ca->will_qos < 3);
		fuzz_props_eq(&ca->props, &cb->props);
		fuzz_props_eq(&ca->will_props, &cb->will_props);
		break;
	case MQTT_CONNACK:
		CHECK(a->u.connack.session_present ==
		    b->u.connack.session_present &&
		    a->u.connack.rc == b->u.connack.rc);
		fuzz_props_eq(&a->u.connack.props, &b->u.connack.props);
		break;
	case MQTT_PUBLISH:
		CHECK(pa->qos == pb->qos && pa->qos < 3 && pa->dup == pb->dup &&
		    pa->retain == pb->retain && pa->pid == pb->pid &&
		    (pa->qos == 0) == (pa->pid == 0) &&
		    str_eq(pa->topic, pb->topic) &&
		    str_eq(pa->payload, pb->payload));
		fuzz_props_eq(&pa->props, &pb->props);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		CHECK(a->u.ack.pid == b->u.ack.pid && a->u.ack.pid != 0 &&
		    a->u.ack.rc == b->u.ack.rc);
		fuzz_props_eq(&a->u.ack.props, &b->u.ack.props);
		break;
	case MQTT_SUBSCRIBE:
	case MQTT_UNSUBSCRIBE:
		fuzz_subscribe_eq(a->type, &a->u.subscribe, &b->u.subscribe);
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		CHECK(a->u.suback.pid == b->u.suback.pid &&
		    a->u.suback.n == b->u.suback.n &&
		    (a->u.suback.n == 0 || memcmp(a->u.suback.rcs,
		    b->u.suback.rcs, a->u.suback.n) == 0));
		fuzz_props_eq(&a->u.suback.props, &b->u.suback.props);
		break;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		CHECK(a->u.reason.rc == b->u.reason.rc);
		fuzz_props_eq(&a->u.reason.props, &b->u.reason.props);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		break;
	default:
		CHECK(!"decoded an unknown type");
	}
}

/* Check the invariants of one packet decoded from p[0..used). */
static void
fuzz_packet(const uint8_t *p, size_t len, size_t used, uint8_t version,
    const struct mqtt_packet *pkt)
{
	struct mqtt_packet	 out, again;
	struct buf		 b, b2;
	size_t			 n, u;
	const char		*why = NULL;

	CHECK(used >= 2 && used <= len);
	CHECK(mqtt_decode(p, used - 1, version, 0, &out, &u, NULL) ==
	    MQTT_MORE);
	CHECK(mqtt_decode(p, len, version, (uint32_t)used - 1, &out, &u,
	    NULL) == MQTT_TOO_BIG);
	CHECK(mqtt_decode(p, len, version, (uint32_t)used, &out, &u,
	    NULL) == MQTT_OK && u == used);
	CHECK(mqtt_type_name(pkt->type) != NULL);

	buf_init(&b);
	buf_init(&b2);
	n = mqtt_encode(&b, version, pkt);
	CHECK(n == b.len && n >= 2 && n <= used);
	if (mqtt_decode(b.data, b.len, version, 0, &out, &u, &why) !=
	    MQTT_OK) {
		fprintf(stderr, "re-encoded %s does not decode: %s\n",
		    mqtt_type_name(pkt->type), why);
		abort();
	}
	CHECK(u == n);
	fuzz_packet_eq(pkt, &out);
	CHECK(mqtt_encode(&b2, version, &out) == n &&
	    memcmp(b.data, b2.data, n) == 0);
	CHECK(mqtt_decode(b2.data, b2.len, version, 0, &again, &u, NULL) ==
	    MQTT_OK);
	buf_release(&b2);
	buf_release(&b);
}

/* Decode p as a stream for one session kind. */
static void
fuzz_stream(const uint8_t *p, size_t len, uint8_t version)
{
	struct mqtt_packet	 pkt;
	enum mqtt_status	 st;
	const char		*why;
	size_t			 off = 0, used;

	while (off < len) {
		why = NULL;
		st = mqtt_decode(p + off, len - off, version, 0, &pkt, &used,
		    &why);
		if (st != MQTT_OK) {
			CHECK(st == MQTT_MORE || why != NULL);
			CHECK(used == 0);
			break;
		}
		fuzz_packet(p + off, len - off, used, version, &pkt);
		if (version == 0)
			version = pkt.u.connect.version;
		off += used;
	}
}

/* Walk the input as a raw User Property block, then send it in a PUBLISH. */
static void
fuzz_user_block(const uint8_t *p, size_t len)
{
	struct mqtt_packet	 pkt, out;
	struct str		 k, v;
	struct buf		 b;
	size_t			 off = 0, n = 0, used;

	memset(&pkt, 0, sizeof(pkt));
	pkt.type = MQTT_PUBLISH;
	pkt.u.publish.topic = STR("t");
	pkt.u.publish.props.user.p = p;
	pkt.u.publish.props.user.len = len;
	while (mqtt_user_next(&pkt.u.publish.props, &off, &k, &v)) {
		CHECK(off <= len);
		n++;
	}
	buf_init(&b);
	mqtt_encode(&b, MQTT_V5, &pkt);
	if (mqtt_decode(b.data, b.len, MQTT_V5, 0, &out, &used, NULL) ==
	    MQTT_OK) {
		CHECK(used == b.len);
		pkt.u.publish.props.has = n != 0 ? MQTT_HAS(MQTT_PROP_USER) : 0;
		if (n == 0)
			pkt.u.publish.props.user.len = 0;
		fuzz_props_eq(&pkt.u.publish.props, &out.u.publish.props);
	}
	buf_release(&b);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t	 i;

	for (i = 0; i < sizeof(fuzz_versions); i++)
		fuzz_stream(data, size, fuzz_versions[i]);
	(void)mqtt_utf8_valid((struct str){ data, size });
	if (size < 65536)
		fuzz_user_block(data, size);
	return (0);
}
