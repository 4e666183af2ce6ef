/*
 * mqtt.c: the pure MQTT codec for 3.1, 3.1.1 and 5.0 (see mqtt.h).
 *
 * Decoding reads a packet through a bounded cursor (struct rd) and yields
 * views into the caller's bytes; it allocates nothing and keeps nothing.
 * Everything that the first byte can tell (reserved type, flags, QoS 3,
 * a type the peer may not send) is reported before the rest of the packet
 * has arrived; the body is decoded only once all of it is there.
 *
 * Encoding runs each packet's body writer twice through a struct em: once
 * to count the remaining length, once to write into space reserved in the
 * buf.  One code path per packet, so the length can never disagree with
 * the bytes.
 *
 * Property identifiers, types and the packets allowing them come from one
 * table (MQTT 5 section 2.2.2.2).  No global mutable state: thread-safe.
 */
#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "mqtt.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

#define VARINT_MAX	268435455U

/* Property value types. */
enum prop_type {
	PT_NONE = 0,		/* not a property */
	PT_BYTE,
	PT_U16,
	PT_U32,
	PT_VARINT,
	PT_UTF8,
	PT_BIN,
	PT_PAIR,
};

/* Where a property may appear: bit 0 is the will, else bit (packet type). */
#define IN_WILL		(1U << 0)
#define IN(t)		(1U << MQTT_##t)
#define IN_ACKS		(IN(PUBACK) | IN(PUBREC) | IN(PUBREL) | IN(PUBCOMP))

/* id, type, packets allowing it, name for messages (MQTT 5 2.2.2.2). */
#define PROP_TABLE(P)							\
	P(PAYLOAD_FORMAT, BYTE, IN(PUBLISH) | IN_WILL,			\
	    "payload format indicator")					\
	P(MESSAGE_EXPIRY, U32, IN(PUBLISH) | IN_WILL,			\
	    "message expiry interval")					\
	P(CONTENT_TYPE, UTF8, IN(PUBLISH) | IN_WILL, "content type")	\
	P(RESPONSE_TOPIC, UTF8, IN(PUBLISH) | IN_WILL, "response topic") \
	P(CORRELATION_DATA, BIN, IN(PUBLISH) | IN_WILL,			\
	    "correlation data")						\
	P(SUB_ID, VARINT, IN(PUBLISH) | IN(SUBSCRIBE),			\
	    "subscription identifier")					\
	P(SESSION_EXPIRY, U32, IN(CONNECT) | IN(CONNACK) | IN(DISCONNECT), \
	    "session expiry interval")					\
	P(ASSIGNED_CLIENT_ID, UTF8, IN(CONNACK),			\
	    "assigned client identifier")				\
	P(SERVER_KEEPALIVE, U16, IN(CONNACK), "server keep alive")	\
	P(AUTH_METHOD, UTF8, IN(CONNECT) | IN(CONNACK) | IN(AUTH),	\
	    "authentication method")					\
	P(AUTH_DATA, BIN, IN(CONNECT) | IN(CONNACK) | IN(AUTH),		\
	    "authentication data")					\
	P(REQUEST_PROBLEM_INFO, BYTE, IN(CONNECT),			\
	    "request problem information")				\
	P(WILL_DELAY, U32, IN_WILL, "will delay interval")		\
	P(REQUEST_RESPONSE_INFO, BYTE, IN(CONNECT),			\
	    "request response information")				\
	P(RESPONSE_INFO, UTF8, IN(CONNACK), "response information")	\
	P(SERVER_REFERENCE, UTF8, IN(CONNACK) | IN(DISCONNECT),		\
	    "server reference")						\
	P(REASON_STRING, UTF8, IN(CONNACK) | IN_ACKS | IN(SUBACK) |	\
	    IN(UNSUBACK) | IN(DISCONNECT) | IN(AUTH), "reason string")	\
	P(RECEIVE_MAX, U16, IN(CONNECT) | IN(CONNACK), "receive maximum") \
	P(TOPIC_ALIAS_MAX, U16, IN(CONNECT) | IN(CONNACK),		\
	    "topic alias maximum")					\
	P(TOPIC_ALIAS, U16, IN(PUBLISH), "topic alias")			\
	P(MAX_QOS, BYTE, IN(CONNACK), "maximum qos")			\
	P(RETAIN_AVAILABLE, BYTE, IN(CONNACK), "retain available")	\
	P(USER, PAIR, IN_WILL | IN(CONNECT) | IN(CONNACK) | IN(PUBLISH) | \
	    IN_ACKS | IN(SUBSCRIBE) | IN(SUBACK) | IN(UNSUBSCRIBE) |	\
	    IN(UNSUBACK) | IN(DISCONNECT) | IN(AUTH), "user property")	\
	P(MAX_PACKET_SIZE, U32, IN(CONNECT) | IN(CONNACK),		\
	    "maximum packet size")					\
	P(WILDCARD_AVAILABLE, BYTE, IN(CONNACK),			\
	    "wildcard subscription available")				\
	P(SUB_ID_AVAILABLE, BYTE, IN(CONNACK),				\
	    "subscription identifier available")			\
	P(SHARED_AVAILABLE, BYTE, IN(CONNACK),				\
	    "shared subscription available")

struct prop_info {
	enum prop_type	 type;
	unsigned int	 allowed;
	const char	*dup_why;
	const char	*where_why;
	const char	*trunc_why;
	const char	*utf8_why;
	const char	*value_why;
};

#define PROP_INFO(id, t, in, name) [MQTT_PROP_##id] = {			\
	PT_##t, (in), "duplicate " name, name " not allowed in this packet", \
	"truncated " name, "invalid UTF-8 in " name, "invalid " name },
static const struct prop_info prop_info[MQTT_PROP_SHARED_AVAILABLE + 1] = {
	PROP_TABLE(PROP_INFO)
};
#undef PROP_INFO

/* Fixed-header flags each type must carry (PUBLISH: checked apart). */
static const uint8_t mqtt_fixed_flags[16] = {
	[MQTT_PUBREL] = 0x2,
	[MQTT_SUBSCRIBE] = 0x2,
	[MQTT_UNSUBSCRIBE] = 0x2,
};

/* Types a server may receive, and types a client may receive. */
#define SERVER_RX	(IN(PUBLISH) | IN_ACKS | IN(SUBSCRIBE) |	\
	IN(UNSUBSCRIBE) | IN(PINGREQ) | IN(DISCONNECT) | IN(AUTH))
#define CLIENT_RX	(IN(CONNACK) | IN(PUBLISH) | IN_ACKS | IN(SUBACK) | \
	IN(UNSUBACK) | IN(PINGRESP) | IN(DISCONNECT) | IN(AUTH))

static const char *mqtt_type_names[16] = {
	"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK",
	"PINGREQ", "PINGRESP", "DISCONNECT", "AUTH"
};

static const char *mqtt_unexpected_why[16] = {
	"reserved packet type", "unexpected connect", "unexpected connack",
	"unexpected publish", "unexpected puback", "unexpected pubrec",
	"unexpected pubrel", "unexpected pubcomp", "unexpected subscribe",
	"unexpected suback", "unexpected unsubscribe", "unexpected unsuback",
	"unexpected pingreq", "unexpected pingresp", "unexpected disconnect",
	"unexpected auth"
};

/* A bounded read cursor over one packet's body. */
struct rd {
	const uint8_t	*p;
	const uint8_t	*end;
	const char	*why;
	uint8_t		 level;		/* 3, 4 or 5 */
	bool		 client;	/* decoding what a server sent */
};

/* A writer that only counts when w is NULL. */
struct em {
	uint8_t		*w;
	size_t		 n;
};

typedef void	 mqtt_body_f(struct em *, uint8_t, const void *);

/* Record why decoding failed and return st. */
static inline enum mqtt_status
rd_fail(struct rd *r, enum mqtt_status st, const char *why)
{
	r->why = why;
	return (st);
}

/* Bytes left in the cursor. */
static inline size_t
rd_left(const struct rd *r)
{
	return ((size_t)(r->end - r->p));
}

/* Read one byte. */
static inline bool
rd_u8(struct rd *r, uint8_t *v)
{
	if (r->p >= r->end)
		return (false);
	*v = *r->p++;
	return (true);
}

/* Read a big-endian 16-bit integer. */
static inline bool
rd_u16(struct rd *r, uint16_t *v)
{
	if (rd_left(r) < 2)
		return (false);
	*v = (uint16_t)(r->p[0] << 8 | r->p[1]);
	r->p += 2;
	return (true);
}

/* Read a big-endian 32-bit integer. */
static inline bool
rd_u32(struct rd *r, uint32_t *v)
{
	if (rd_left(r) < 4)
		return (false);
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	return (true);
}

/* Read a variable byte integer of at most 4 bytes (MQTT 1.5.5). */
static inline bool
rd_varint(struct rd *r, uint32_t *v)
{
	uint32_t	 x = 0;
	unsigned int	 i;

	for (i = 0; i < 4; i++) {
		if (r->p >= r->end)
			return (false);
		x |= (uint32_t)(*r->p & 0x7f) << (7 * i);
		if ((*r->p++ & 0x80) == 0) {
			*v = x;
			return (true);
		}
	}
	return (false);
}

/* Read a two-byte length and that many bytes. */
static inline bool
rd_bin(struct rd *r, struct str *s)
{
	uint16_t	 n;

	if (!rd_u16(r, &n) || rd_left(r) < n)
		return (false);
	s->p = r->p;
	s->len = n;
	r->p += n;
	return (true);
}

/* Read an MQTT UTF-8 string; on failure say which of two ways it broke. */
static inline enum mqtt_status
rd_utf8(struct rd *r, struct str *s, const char *trunc_why,
    const char *utf8_why)
{
	if (!rd_bin(r, s))
		return (rd_fail(r, MQTT_MALFORMED, trunc_why));
	if (!mqtt_utf8_valid(*s))
		return (rd_fail(r, MQTT_MALFORMED, utf8_why));
	return (MQTT_OK);
}

#define RD_UTF8(r, s, name)						\
	rd_utf8((r), (s), "truncated " name, "invalid UTF-8 in " name)

/* Check MQTT-1.5.4: well-formed, shortest form, no surrogates, no U+0000. */
bool
mqtt_utf8_valid(struct str s)
{
	const uint8_t	*p, *end;
	uint64_t	 x;
	uint8_t		 c, lo, hi;

	if (s.len == 0)		/* s.p may be NULL */
		return (true);
	p = s.p;
	end = s.p + s.len;
	while (p < end) {
		/* Eight bytes of non-NUL ASCII at a time. */
		while (end - p >= 8) {
			memcpy(&x, p, sizeof(x));
			if ((x & UINT64_C(0x8080808080808080)) != 0 ||
			    ((x - UINT64_C(0x0101010101010101)) & ~x &
			    UINT64_C(0x8080808080808080)) != 0)
				break;
			p += 8;
		}
		if (p >= end)
			break;
		c = *p;
		if (c < 0x80) {
			if (c == 0)
				return (false);
			p++;
			continue;
		}
		lo = 0x80;
		hi = 0xbf;
		if (c < 0xc2)		/* continuation byte or overlong */
			return (false);
		if (c < 0xe0) {
			if (end - p < 2 || p[1] < lo || p[1] > hi)
				return (false);
			p += 2;
			continue;
		}
		if (c < 0xf0) {
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* U+D800..U+DFFF */
			if (end - p < 3 || p[1] < lo || p[1] > hi ||
			    (p[2] & 0xc0) != 0x80)
				return (false);
			p += 3;
			continue;
		}
		if (c > 0xf4)
			return (false);
		if (c == 0xf0)
			lo = 0x90;		/* overlong */
		else if (c == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
		if (end - p < 4 || p[1] < lo || p[1] > hi ||
		    (p[2] & 0xc0) != 0x80 || (p[3] & 0xc0) != 0x80)
			return (false);
		p += 4;
	}
	return (true);
}

/* Length of the property entry at p (0 if unknown or cut short). */
static size_t
prop_entry_len(const uint8_t *p, const uint8_t *end)
{
	size_t		 left = (size_t)(end - p), n, i;

	if (left < 1 || *p >= nitems(prop_info))
		return (0);
	switch (prop_info[*p].type) {
	case PT_BYTE:
		n = 2;
		break;
	case PT_U16:
		n = 3;
		break;
	case PT_U32:
		n = 5;
		break;
	case PT_VARINT:
		for (i = 1; i < 5 && i < left; i++) {
			if ((p[i] & 0x80) == 0)
				return (i + 1);
		}
		return (0);
	case PT_UTF8:
	case PT_BIN:
		if (left < 3)
			return (0);
		n = 3 + (size_t)(p[1] << 8 | p[2]);
		break;
	case PT_PAIR:
		if (left < 3)
			return (0);
		n = 3 + (size_t)(p[1] << 8 | p[2]);
		if (left < n + 2)
			return (0);
		n += 2 + (size_t)(p[n] << 8 | p[n + 1]);
		break;
	default:
		return (0);
	}
	return (n <= left ? n : 0);
}

/*
 * Decode a property block (length and properties) into pr, for packet type
 * where (0: will properties).  MQTT 5 2.2.2.2: an identifier not allowed in
 * the packet is malformed; a repeated one other than User Property (and a
 * Subscription Identifier in a PUBLISH a server sent) is a protocol error.
 */
static enum mqtt_status
props_decode(struct rd *r, struct mqtt_props *pr, unsigned int where)
{
	const struct prop_info	*pi;
	const uint8_t		*start, *ustart = NULL, *uend = NULL;
	enum mqtt_status	 st;
	struct rd		 b;
	struct str		 s = STR_NULL, s2;
	uint64_t		 seen = 0;
	uint32_t		 len, n = 0;
	uint16_t		 n16;
	uint8_t			 id;

	if (!rd_varint(r, &len))
		return (rd_fail(r, MQTT_MALFORMED, "bad property length"));
	if (rd_left(r) < len)
		return (rd_fail(r, MQTT_MALFORMED,
		    "property length exceeds packet"));
	b = *r;
	b.end = r->p + len;
	r->p = b.end;
	while (b.p < b.end) {
		start = b.p;
		id = *b.p++;
		if (id >= nitems(prop_info) || prop_info[id].type == PT_NONE)
			return (rd_fail(r, MQTT_MALFORMED, "unknown property"));
		pi = &prop_info[id];
		if ((pi->allowed & (1U << where)) == 0)
			return (rd_fail(r, MQTT_MALFORMED, pi->where_why));
		if ((seen & MQTT_HAS(id)) != 0 && id != MQTT_PROP_USER &&
		    (id != MQTT_PROP_SUB_ID || where != MQTT_PUBLISH ||
		    !r->client))
			return (rd_fail(r, MQTT_PROTOCOL, pi->dup_why));
		switch (pi->type) {
		case PT_BYTE:
			if (b.p >= b.end)
				return (rd_fail(r, MQTT_MALFORMED,
				    pi->trunc_why));
			/* Each is a flag; Maximum QoS is 0 or 1 (3.2.2.3.4). */
			n = *b.p++;
			if (n > 1)
				return (rd_fail(r, MQTT_PROTOCOL,
				    pi->value_why));
			break;
		case PT_U16:
			if (!rd_u16(&b, &n16))
				return (rd_fail(r, MQTT_MALFORMED,
				    pi->trunc_why));
			n = n16;
			break;
		case PT_U32:
			if (!rd_u32(&b, &n))
				return (rd_fail(r, MQTT_MALFORMED,
				    pi->trunc_why));
			break;
		case PT_VARINT:
			if (!rd_varint(&b, &n))
				return (rd_fail(r, MQTT_MALFORMED,
				    pi->trunc_why));
			break;
		case PT_UTF8:
			if ((st = rd_utf8(&b, &s, pi->trunc_why,
			    pi->utf8_why)) != MQTT_OK)
				return (rd_fail(r, st, b.why));
			break;
		case PT_BIN:
			if (!rd_bin(&b, &s))
				return (rd_fail(r, MQTT_MALFORMED,
				    pi->trunc_why));
			break;
		case PT_PAIR:
			if ((st = rd_utf8(&b, &s, pi->trunc_why,
			    pi->utf8_why)) != MQTT_OK ||
			    (st = rd_utf8(&b, &s2, pi->trunc_why,
			    pi->utf8_why)) != MQTT_OK)
				return (rd_fail(r, st, b.why));
			break;
		case PT_NONE:
			break;
		}
		switch (id) {
		case MQTT_PROP_PAYLOAD_FORMAT:
			pr->payload_format = (uint8_t)n;
			break;
		case MQTT_PROP_MESSAGE_EXPIRY:
			pr->message_expiry = n;
			break;
		case MQTT_PROP_CONTENT_TYPE:
			pr->content_type = s;
			break;
		case MQTT_PROP_RESPONSE_TOPIC:
			pr->response_topic = s;
			break;
		case MQTT_PROP_CORRELATION_DATA:
			pr->correlation_data = s;
			break;
		case MQTT_PROP_SUB_ID:
			if (n == 0)
				return (rd_fail(r, MQTT_PROTOCOL,
				    "subscription identifier 0"));
			/* MQTT-3.3.4-6: only a server sends it in PUBLISH. */
			if (where == MQTT_PUBLISH && !r->client)
				return (rd_fail(r, MQTT_PROTOCOL,
				    "subscription identifier in publish "
				    "from client"));
			if ((seen & MQTT_HAS(id)) == 0)
				pr->sub_id = n;
			break;
		case MQTT_PROP_SESSION_EXPIRY:
			pr->session_expiry = n;
			break;
		case MQTT_PROP_ASSIGNED_CLIENT_ID:
			pr->assigned_client_id = s;
			break;
		case MQTT_PROP_SERVER_KEEPALIVE:
			pr->server_keepalive = (uint16_t)n;
			break;
		case MQTT_PROP_AUTH_METHOD:
			pr->auth_method = s;
			break;
		case MQTT_PROP_AUTH_DATA:
			pr->auth_data = s;
			break;
		case MQTT_PROP_REQUEST_PROBLEM_INFO:
			pr->request_problem_info = (uint8_t)n;
			break;
		case MQTT_PROP_WILL_DELAY:
			pr->will_delay = n;
			break;
		case MQTT_PROP_REQUEST_RESPONSE_INFO:
			pr->request_response_info = (uint8_t)n;
			break;
		case MQTT_PROP_RESPONSE_INFO:
			pr->response_info = s;
			break;
		case MQTT_PROP_SERVER_REFERENCE:
			pr->server_reference = s;
			break;
		case MQTT_PROP_REASON_STRING:
			pr->reason_string = s;
			break;
		case MQTT_PROP_RECEIVE_MAX:
			if (n == 0)
				return (rd_fail(r, MQTT_PROTOCOL,
				    "receive maximum 0"));
			pr->receive_max = (uint16_t)n;
			break;
		case MQTT_PROP_TOPIC_ALIAS_MAX:
			pr->topic_alias_max = (uint16_t)n;
			break;
		case MQTT_PROP_TOPIC_ALIAS:
			pr->topic_alias = (uint16_t)n;
			break;
		case MQTT_PROP_MAX_QOS:
			pr->max_qos = (uint8_t)n;
			break;
		case MQTT_PROP_RETAIN_AVAILABLE:
			pr->retain_available = (uint8_t)n;
			break;
		case MQTT_PROP_USER:
			if (ustart == NULL)
				ustart = start;
			uend = b.p;
			break;
		case MQTT_PROP_MAX_PACKET_SIZE:
			if (n == 0)
				return (rd_fail(r, MQTT_PROTOCOL,
				    "maximum packet size 0"));
			pr->max_packet_size = n;
			break;
		case MQTT_PROP_WILDCARD_AVAILABLE:
			pr->wildcard_available = (uint8_t)n;
			break;
		case MQTT_PROP_SUB_ID_AVAILABLE:
			pr->sub_id_available = (uint8_t)n;
			break;
		case MQTT_PROP_SHARED_AVAILABLE:
			pr->shared_available = (uint8_t)n;
			break;
		}
		seen |= MQTT_HAS(id);
	}
	pr->has = seen;
	if (ustart != NULL) {
		pr->user.p = ustart;
		pr->user.len = (size_t)(uend - ustart);
	}
	return (MQTT_OK);
}

/* Properties of a v5 packet; nothing for 3.x. */
static inline enum mqtt_status
rd_props(struct rd *r, struct mqtt_props *pr, unsigned int where)
{
	if (r->level != MQTT_V5)
		return (MQTT_OK);
	return (props_decode(r, pr, where));
}

/* Fail unless the whole body was used. */
static inline enum mqtt_status
rd_end(struct rd *r)
{
	if (r->p != r->end)
		return (rd_fail(r, MQTT_MALFORMED, "trailing bytes in packet"));
	return (MQTT_OK);
}

/* CONNECT (MQTT 3.1). */
static enum mqtt_status
dec_connect(struct rd *r, struct mqtt_connect *c)
{
	enum mqtt_status st;
	struct str	 name;
	uint8_t		 level = 0, fl = 0;

	memset(c, 0, sizeof(*c));
	if (!rd_bin(r, &name))
		return (rd_fail(r, MQTT_MALFORMED, "truncated protocol name"));
	if (!rd_u8(r, &level))
		return (rd_fail(r, MQTT_MALFORMED, "truncated protocol level"));
	c->version = level;
	if (str_eq(name, STR("MQTT"))) {
		if (level != MQTT_V311 && level != MQTT_V5)
			return (rd_fail(r, MQTT_UNSUPPORTED,
			    "unsupported protocol level"));
	} else if (str_eq(name, STR("MQIsdp"))) {
		if (level != MQTT_V31)
			return (rd_fail(r, MQTT_UNSUPPORTED,
			    "unsupported protocol level"));
	} else
		return (rd_fail(r, MQTT_UNSUPPORTED, "unknown protocol name"));
	r->level = level;

	if (!rd_u8(r, &fl))
		return (rd_fail(r, MQTT_MALFORMED, "truncated connect flags"));
	if (fl & 0x01)
		return (rd_fail(r, MQTT_MALFORMED,
		    "reserved connect flag set"));
	c->clean_start = (fl & 0x02) != 0;
	c->will = (fl & 0x04) != 0;
	c->will_qos = (fl >> 3) & 0x03;
	c->will_retain = (fl & 0x20) != 0;
	c->has_password = (fl & 0x40) != 0;
	c->has_username = (fl & 0x80) != 0;
	if (!c->will && (c->will_qos != 0 || c->will_retain))
		return (rd_fail(r, MQTT_MALFORMED,
		    "will qos or retain without will"));
	if (c->will_qos == 3)
		return (rd_fail(r, MQTT_MALFORMED, "will qos 3"));
	/* MQTT-3.1.2-22; v5 allows a password alone. */
	if (level != MQTT_V5 && c->has_password && !c->has_username)
		return (rd_fail(r, MQTT_MALFORMED,
		    "password flag without username flag"));
	if (!rd_u16(r, &c->keepalive))
		return (rd_fail(r, MQTT_MALFORMED, "truncated keep alive"));
	if ((st = rd_props(r, &c->props, MQTT_CONNECT)) != MQTT_OK)
		return (st);

	if ((st = RD_UTF8(r, &c->client_id, "client identifier")) != MQTT_OK)
		return (st);
	if (c->will) {
		if ((st = rd_props(r, &c->will_props, 0)) != MQTT_OK)
			return (st);
		if ((st = RD_UTF8(r, &c->will_topic, "will topic")) != MQTT_OK)
			return (st);
		if (!rd_bin(r, &c->will_payload))
			return (rd_fail(r, MQTT_MALFORMED,
			    "truncated will payload"));
	}
	if (c->has_username &&
	    (st = RD_UTF8(r, &c->username, "username")) != MQTT_OK)
		return (st);
	if (c->has_password && !rd_bin(r, &c->password))
		return (rd_fail(r, MQTT_MALFORMED, "truncated password"));
	return (rd_end(r));
}

/* CONNACK (MQTT 3.2), client side. */
static enum mqtt_status
dec_connack(struct rd *r, struct mqtt_connack *c)
{
	enum mqtt_status st;
	uint8_t		 fl;

	memset(c, 0, sizeof(*c));
	if (!rd_u8(r, &fl) || !rd_u8(r, &c->rc))
		return (rd_fail(r, MQTT_MALFORMED, "truncated connack"));
	if (fl & 0xfe)
		return (rd_fail(r, MQTT_MALFORMED,
		    "reserved connack flag set"));
	c->session_present = fl & 0x01;
	if ((st = rd_props(r, &c->props, MQTT_CONNACK)) != MQTT_OK)
		return (st);
	return (rd_end(r));
}

/* PUBLISH (MQTT 3.3); the flags were checked with the fixed header. */
static enum mqtt_status
dec_publish(struct rd *r, uint8_t flags, struct mqtt_publish *m)
{
	enum mqtt_status st;

	memset(m, 0, sizeof(*m));
	m->qos = (flags >> 1) & 0x03;
	m->dup = (flags & 0x08) != 0;
	m->retain = (flags & 0x01) != 0;
	if ((st = RD_UTF8(r, &m->topic, "topic")) != MQTT_OK)
		return (st);
	if (m->qos != 0) {
		if (!rd_u16(r, &m->pid))
			return (rd_fail(r, MQTT_MALFORMED,
			    "truncated packet identifier"));
		/* MQTT 2.2.1: non-zero; a malformed packet, not a policy. */
		if (m->pid == 0)
			return (rd_fail(r, MQTT_MALFORMED,
			    "packet identifier 0"));
	}
	if ((st = rd_props(r, &m->props, MQTT_PUBLISH)) != MQTT_OK)
		return (st);
	m->payload.p = r->p;
	m->payload.len = rd_left(r);
	r->p = r->end;
	return (MQTT_OK);
}

/* A packet identifier, which must not be 0 (MQTT 2.2.1). */
static inline enum mqtt_status
rd_pid(struct rd *r, uint16_t *pid)
{
	if (!rd_u16(r, pid))
		return (rd_fail(r, MQTT_MALFORMED,
		    "truncated packet identifier"));
	if (*pid == 0)
		return (rd_fail(r, MQTT_MALFORMED, "packet identifier 0"));
	return (MQTT_OK);
}

/* v5 optional reason code then optional properties (MQTT-3.4.2.1). */
static enum mqtt_status
rd_rc_props(struct rd *r, uint8_t *rc, struct mqtt_props *pr,
    unsigned int where)
{
	if (r->level != MQTT_V5 || !rd_u8(r, rc))
		return (MQTT_OK);
	if (r->p == r->end)
		return (MQTT_OK);
	return (props_decode(r, pr, where));
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP (MQTT 3.4 to 3.7). */
static enum mqtt_status
dec_ack(struct rd *r, unsigned int type, struct mqtt_ack *a)
{
	enum mqtt_status st;

	memset(a, 0, sizeof(*a));
	if ((st = rd_pid(r, &a->pid)) != MQTT_OK ||
	    (st = rd_rc_props(r, &a->rc, &a->props, type)) != MQTT_OK)
		return (st);
	return (rd_end(r));
}

/* SUBSCRIBE (MQTT 3.8): validate every entry, keep a view of them all. */
static enum mqtt_status
dec_subscribe(struct rd *r, struct mqtt_subscribe *s)
{
	enum mqtt_status st;
	struct str	 filter;
	uint8_t		 o;

	memset(s, 0, sizeof(*s));
	if ((st = rd_pid(r, &s->pid)) != MQTT_OK ||
	    (st = rd_props(r, &s->props, MQTT_SUBSCRIBE)) != MQTT_OK)
		return (st);
	s->entries.p = r->p;
	while (r->p < r->end) {
		if ((st = RD_UTF8(r, &filter, "topic filter")) != MQTT_OK)
			return (st);
		if (!rd_u8(r, &o))
			return (rd_fail(r, MQTT_MALFORMED,
			    "truncated subscription options"));
		if ((o & 0x03) == 3)
			return (rd_fail(r, MQTT_MALFORMED,
			    "subscription qos 3"));
		if (r->level != MQTT_V5 && (o & 0xfc) != 0)
			return (rd_fail(r, MQTT_MALFORMED,
			    "reserved subscription option bits set"));
		if ((o & 0xc0) != 0)
			return (rd_fail(r, MQTT_MALFORMED,
			    "reserved subscription option bits set"));
		if (((o >> 4) & 0x03) == 3)
			return (rd_fail(r, MQTT_MALFORMED,
			    "retain handling 3"));
		s->n++;
	}
	s->entries.len = (size_t)(r->p - s->entries.p);
	if (s->n == 0)		/* MQTT-3.8.3-3 */
		return (rd_fail(r, MQTT_PROTOCOL, "subscribe without filter"));
	return (MQTT_OK);
}

/* UNSUBSCRIBE (MQTT 3.10). */
static enum mqtt_status
dec_unsubscribe(struct rd *r, struct mqtt_subscribe *s)
{
	enum mqtt_status st;
	struct str	 filter;

	memset(s, 0, sizeof(*s));
	if ((st = rd_pid(r, &s->pid)) != MQTT_OK ||
	    (st = rd_props(r, &s->props, MQTT_UNSUBSCRIBE)) != MQTT_OK)
		return (st);
	s->entries.p = r->p;
	while (r->p < r->end) {
		if ((st = RD_UTF8(r, &filter, "topic filter")) != MQTT_OK)
			return (st);
		s->n++;
	}
	s->entries.len = (size_t)(r->p - s->entries.p);
	if (s->n == 0)		/* MQTT-3.10.3-2 */
		return (rd_fail(r, MQTT_PROTOCOL,
		    "unsubscribe without filter"));
	return (MQTT_OK);
}

/* SUBACK and UNSUBACK (MQTT 3.9, 3.11), client side. */
static enum mqtt_status
dec_suback(struct rd *r, unsigned int type, struct mqtt_suback *s)
{
	enum mqtt_status st;

	memset(s, 0, sizeof(*s));
	if ((st = rd_pid(r, &s->pid)) != MQTT_OK ||
	    (st = rd_props(r, &s->props, type)) != MQTT_OK)
		return (st);
	if (type == MQTT_UNSUBACK && r->level != MQTT_V5)
		return (rd_end(r));
	s->n = rd_left(r);
	s->rcs = s->n != 0 ? r->p : NULL;
	r->p = r->end;
	return (MQTT_OK);
}

/* DISCONNECT and AUTH (MQTT 3.14, 3.15). */
static enum mqtt_status
dec_reason(struct rd *r, unsigned int type, struct mqtt_reason *m)
{
	enum mqtt_status st;

	memset(m, 0, sizeof(*m));
	if ((st = rd_rc_props(r, &m->rc, &m->props, type)) != MQTT_OK)
		return (st);
	return (rd_end(r));
}

/*
 * Check what the first byte alone tells: reserved type, reserved flags,
 * PUBLISH QoS 3 and DUP on QoS 0 (MQTT-3.3.1-2), and whether this side may
 * receive the type at all.
 */
static enum mqtt_status
check_first(struct rd *r, uint8_t b0, uint8_t version)
{
	unsigned int	 type = b0 >> 4, flags = b0 & 0x0f;

	if (type == 0)
		return (rd_fail(r, MQTT_MALFORMED, "reserved packet type"));
	if (type == MQTT_PUBLISH) {
		if ((flags & 0x06) == 0x06)
			return (rd_fail(r, MQTT_MALFORMED, "publish qos 3"));
		if ((flags & 0x0e) == 0x08)
			return (rd_fail(r, MQTT_MALFORMED,
			    "dup flag on qos 0 publish"));
	} else if (flags != mqtt_fixed_flags[type])
		return (rd_fail(r, MQTT_MALFORMED,
		    "reserved fixed header flags"));

	if (version == 0) {
		if (type != MQTT_CONNECT)
			return (rd_fail(r, MQTT_PROTOCOL,
			    "first packet is not connect"));
		return (MQTT_OK);
	}
	if (r->level < MQTT_V31 || r->level > MQTT_V5)
		return (rd_fail(r, MQTT_PROTOCOL, "unknown protocol version"));
	if (type == MQTT_AUTH && r->level != MQTT_V5)
		return (rd_fail(r, MQTT_MALFORMED,
		    "reserved packet type before mqtt 5"));
	if (type == MQTT_CONNECT && !r->client)
		return (rd_fail(r, MQTT_PROTOCOL, "second connect"));
	if (((r->client ? CLIENT_RX : SERVER_RX) & (1U << type)) == 0)
		return (rd_fail(r, MQTT_PROTOCOL, mqtt_unexpected_why[type]));
	/* A 3.x server never sends DISCONNECT. */
	if (type == MQTT_DISCONNECT && r->client && r->level != MQTT_V5)
		return (rd_fail(r, MQTT_PROTOCOL, "unexpected disconnect"));
	return (MQTT_OK);
}

/* Decode one packet (see mqtt.h). */
enum mqtt_status
mqtt_decode(const uint8_t *p, size_t len, uint8_t version,
    uint32_t max_size, struct mqtt_packet *pkt, size_t *used,
    const char **why)
{
	enum mqtt_status st;
	struct rd	 r;
	uint32_t	 rl = 0;
	size_t		 i, hl;
	unsigned int	 type;

	*used = 0;
	r.why = NULL;
	r.level = version & ~MQTT_CLIENT_SIDE;
	r.client = (version & MQTT_CLIENT_SIDE) != 0;
	if (len == 0)
		return (MQTT_MORE);
	if ((st = check_first(&r, p[0], version)) != MQTT_OK)
		goto fail;

	for (i = 1; i < 5; i++) {
		if (i >= len)
			return (MQTT_MORE);
		rl |= (uint32_t)(p[i] & 0x7f) << (7 * (i - 1));
		if ((p[i] & 0x80) == 0)
			break;
	}
	if (i == 5) {
		st = rd_fail(&r, MQTT_MALFORMED, "bad remaining length");
		goto fail;
	}
	hl = i + 1;
	if (max_size != 0 && hl + rl > max_size) {
		st = rd_fail(&r, MQTT_TOO_BIG, "packet too big");
		goto fail;
	}
	if (len - hl < rl)
		return (MQTT_MORE);

	type = p[0] >> 4;
	pkt->type = (enum mqtt_type)type;
	pkt->flags = p[0] & 0x0f;
	r.p = p + hl;
	r.end = r.p + rl;
	switch (type) {
	case MQTT_CONNECT:
		st = dec_connect(&r, &pkt->u.connect);
		break;
	case MQTT_CONNACK:
		st = dec_connack(&r, &pkt->u.connack);
		break;
	case MQTT_PUBLISH:
		st = dec_publish(&r, pkt->flags, &pkt->u.publish);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		st = dec_ack(&r, type, &pkt->u.ack);
		break;
	case MQTT_SUBSCRIBE:
		st = dec_subscribe(&r, &pkt->u.subscribe);
		break;
	case MQTT_UNSUBSCRIBE:
		st = dec_unsubscribe(&r, &pkt->u.subscribe);
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		st = dec_suback(&r, type, &pkt->u.suback);
		break;
	case MQTT_PINGREQ:
	case MQTT_PINGRESP:
		st = rd_end(&r);
		break;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		st = dec_reason(&r, type, &pkt->u.reason);
		break;
	default:
		st = rd_fail(&r, MQTT_MALFORMED, "reserved packet type");
		break;
	}
	if (st != MQTT_OK)
		goto fail;
	*used = hl + rl;
	return (MQTT_OK);

fail:
	if (why != NULL)
		*why = r.why;
	return (st);
}

/* Next SUBSCRIBE entry from the validated view. */
bool
mqtt_sub_next(const struct mqtt_subscribe *s, size_t *off,
    struct mqtt_sub_entry *e)
{
	struct rd	 r;
	uint8_t		 o;

	if (*off >= s->entries.len)
		return (false);
	r.p = s->entries.p + *off;
	r.end = s->entries.p + s->entries.len;
	if (!rd_bin(&r, &e->filter) || !rd_u8(&r, &o))
		return (false);
	e->qos = o & 0x03;
	e->no_local = (o & 0x04) != 0;
	e->retain_as_published = (o & 0x08) != 0;
	e->retain_handling = (o >> 4) & 0x03;
	*off = (size_t)(r.p - s->entries.p);
	return (true);
}

/* Next UNSUBSCRIBE filter from the validated view. */
bool
mqtt_unsub_next(const struct mqtt_subscribe *s, size_t *off,
    struct str *filter)
{
	struct rd	 r;

	if (*off >= s->entries.len)
		return (false);
	r.p = s->entries.p + *off;
	r.end = s->entries.p + s->entries.len;
	if (!rd_bin(&r, filter))
		return (false);
	*off = (size_t)(r.p - s->entries.p);
	return (true);
}

/* Next User Property in props->user, skipping any other property. */
bool
mqtt_user_next(const struct mqtt_props *props, size_t *off,
    struct str *key, struct str *val)
{
	const uint8_t	*p, *end;
	size_t		 n;
	struct rd	 r;

	if (*off >= props->user.len)	/* user.p may be NULL */
		return (false);
	end = props->user.p + props->user.len;
	while (*off < props->user.len) {
		p = props->user.p + *off;
		if ((n = prop_entry_len(p, end)) == 0)
			return (false);
		*off += n;
		if (*p != MQTT_PROP_USER)
			continue;
		r.p = p + 1;
		r.end = p + n;
		return (rd_bin(&r, key) && rd_bin(&r, val));
	}
	return (false);
}

/* Write (or count) one byte. */
static inline void
em_u8(struct em *e, uint8_t v)
{
	if (e->w != NULL)
		*e->w++ = v;
	e->n++;
}

/* Write (or count) a big-endian 16-bit integer. */
static inline void
em_u16(struct em *e, uint16_t v)
{
	if (e->w != NULL) {
		e->w[0] = (uint8_t)(v >> 8);
		e->w[1] = (uint8_t)v;
		e->w += 2;
	}
	e->n += 2;
}

/* Write (or count) a big-endian 32-bit integer. */
static inline void
em_u32(struct em *e, uint32_t v)
{
	if (e->w != NULL) {
		e->w[0] = (uint8_t)(v >> 24);
		e->w[1] = (uint8_t)(v >> 16);
		e->w[2] = (uint8_t)(v >> 8);
		e->w[3] = (uint8_t)v;
		e->w += 4;
	}
	e->n += 4;
}

/* Write (or count) a variable byte integer. */
static inline void
em_varint(struct em *e, uint32_t v)
{
	assert(v <= VARINT_MAX);
	if (e->w == NULL) {
		e->n += varint_len(v);
		return;
	}
	do {
		uint8_t	 c = v & 0x7f;

		v >>= 7;
		if (v != 0)
			c |= 0x80;
		*e->w++ = c;
		e->n++;
	} while (v != 0);
}

/* Write (or count) raw bytes. */
static inline void
em_bytes(struct em *e, const void *p, size_t n)
{
	if (e->w != NULL && n != 0) {
		memcpy(e->w, p, n);
		e->w += n;
	}
	e->n += n;
}

/* Write (or count) a two-byte length and the bytes. */
static inline void
em_str(struct em *e, struct str s)
{
	assert(s.len <= UINT16_MAX);
	em_u16(e, (uint16_t)s.len);
	em_bytes(e, s.p, s.len);
}

/* Write (or count) the User Properties of a raw block, in runs. */
static void
em_user(struct em *e, struct str u)
{
	const uint8_t	*p, *end, *run = NULL;
	size_t		 n;

	if (u.len == 0)
		return;
	p = u.p;
	end = u.p + u.len;
	while (p < end && (n = prop_entry_len(p, end)) != 0) {
		if (*p == MQTT_PROP_USER) {
			if (run == NULL)
				run = p;
		} else if (run != NULL) {
			em_bytes(e, run, (size_t)(p - run));
			run = NULL;
		}
		p += n;
	}
	if (run != NULL)
		em_bytes(e, run, (size_t)(p - run));
}

/* Write (or count) the properties of pr, without their length. */
static void
em_props_body(struct em *e, const struct mqtt_props *pr)
{
	uint64_t	 has = pr->has;
	size_t		 i;
	uint8_t		 id;

	while (has != 0) {
		id = (uint8_t)__builtin_ctzll(has);
		has &= has - 1;
		if (id >= nitems(prop_info) || prop_info[id].type == PT_NONE ||
		    id == MQTT_PROP_USER)
			continue;
		em_u8(e, id);
		switch (id) {
		case MQTT_PROP_PAYLOAD_FORMAT:
			em_u8(e, pr->payload_format);
			break;
		case MQTT_PROP_MESSAGE_EXPIRY:
			em_u32(e, pr->message_expiry);
			break;
		case MQTT_PROP_CONTENT_TYPE:
			em_str(e, pr->content_type);
			break;
		case MQTT_PROP_RESPONSE_TOPIC:
			em_str(e, pr->response_topic);
			break;
		case MQTT_PROP_CORRELATION_DATA:
			em_str(e, pr->correlation_data);
			break;
		case MQTT_PROP_SUB_ID:
			em_varint(e, pr->sub_id);
			break;
		case MQTT_PROP_SESSION_EXPIRY:
			em_u32(e, pr->session_expiry);
			break;
		case MQTT_PROP_ASSIGNED_CLIENT_ID:
			em_str(e, pr->assigned_client_id);
			break;
		case MQTT_PROP_SERVER_KEEPALIVE:
			em_u16(e, pr->server_keepalive);
			break;
		case MQTT_PROP_AUTH_METHOD:
			em_str(e, pr->auth_method);
			break;
		case MQTT_PROP_AUTH_DATA:
			em_str(e, pr->auth_data);
			break;
		case MQTT_PROP_REQUEST_PROBLEM_INFO:
			em_u8(e, pr->request_problem_info);
			break;
		case MQTT_PROP_WILL_DELAY:
			em_u32(e, pr->will_delay);
			break;
		case MQTT_PROP_REQUEST_RESPONSE_INFO:
			em_u8(e, pr->request_response_info);
			break;
		case MQTT_PROP_RESPONSE_INFO:
			em_str(e, pr->response_info);
			break;
		case MQTT_PROP_SERVER_REFERENCE:
			em_str(e, pr->server_reference);
			break;
		case MQTT_PROP_REASON_STRING:
			em_str(e, pr->reason_string);
			break;
		case MQTT_PROP_RECEIVE_MAX:
			em_u16(e, pr->receive_max);
			break;
		case MQTT_PROP_TOPIC_ALIAS_MAX:
			em_u16(e, pr->topic_alias_max);
			break;
		case MQTT_PROP_TOPIC_ALIAS:
			em_u16(e, pr->topic_alias);
			break;
		case MQTT_PROP_MAX_QOS:
			em_u8(e, pr->max_qos);
			break;
		case MQTT_PROP_RETAIN_AVAILABLE:
			em_u8(e, pr->retain_available);
			break;
		case MQTT_PROP_MAX_PACKET_SIZE:
			em_u32(e, pr->max_packet_size);
			break;
		case MQTT_PROP_WILDCARD_AVAILABLE:
			em_u8(e, pr->wildcard_available);
			break;
		case MQTT_PROP_SUB_ID_AVAILABLE:
			em_u8(e, pr->sub_id_available);
			break;
		case MQTT_PROP_SHARED_AVAILABLE:
			em_u8(e, pr->shared_available);
			break;
		}
	}
	for (i = 0; i < pr->n_sub_ids; i++) {
		em_u8(e, MQTT_PROP_SUB_ID);
		em_varint(e, pr->sub_ids[i]);
	}
	if (pr->user.len != 0)
		em_user(e, pr->user);
}

/* Write (or count) a v5 property block with its length; nothing for 3.x. */
static void
em_props(struct em *e, uint8_t v, const struct mqtt_props *pr)
{
	struct em	 c = { NULL, 0 };

	if (v != MQTT_V5)
		return;
	if (pr == NULL || (pr->has == 0 && pr->n_sub_ids == 0 &&
	    pr->user.len == 0)) {
		em_u8(e, 0);
		return;
	}
	em_props_body(&c, pr);
	em_varint(e, (uint32_t)c.n);
	if (e->w == NULL)
		e->n += c.n;
	else
		em_props_body(e, pr);
}

/* True if a v5 reason code and properties must be written. */
static inline bool
need_rc_props(uint8_t v, uint8_t rc, const struct mqtt_props *pr)
{
	return (v == MQTT_V5 && (rc != 0 || pr->has != 0 ||
	    pr->n_sub_ids != 0 || pr->user.len != 0));
}

/* Write (or count) an optional reason code and properties (MQTT-3.4.2.1). */
static void
em_rc_props(struct em *e, uint8_t v, uint8_t rc, const struct mqtt_props *pr)
{
	if (!need_rc_props(v, rc, pr))
		return;
	em_u8(e, rc);
	if (pr->has != 0 || pr->n_sub_ids != 0 || pr->user.len != 0)
		em_props(e, v, pr);
}

/* Body of a CONNECT. */
static void
enc_connect(struct em *e, uint8_t v, const struct mqtt_connect *c)
{
	uint8_t		 fl = 0;

	if (v == MQTT_V31)
		em_bytes(e, "\0\6MQIsdp", 8);
	else
		em_bytes(e, "\0\4MQTT", 6);
	em_u8(e, v);
	if (c->clean_start)
		fl |= 0x02;
	if (c->will)
		fl |= 0x04 | (uint8_t)((c->will_qos & 0x03) << 3) |
		    (c->will_retain ? 0x20 : 0);
	if (c->has_password)
		fl |= 0x40;
	if (c->has_username)
		fl |= 0x80;
	em_u8(e, fl);
	em_u16(e, c->keepalive);
	em_props(e, v, &c->props);
	em_str(e, c->client_id);
	if (c->will) {
		em_props(e, v, &c->will_props);
		em_str(e, c->will_topic);
		em_str(e, c->will_payload);
	}
	if (c->has_username)
		em_str(e, c->username);
	if (c->has_password)
		em_str(e, c->password);
}

/* Body of any packet for mqtt_encode(). */
static void
enc_packet(struct em *e, uint8_t v, const void *arg)
{
	const struct mqtt_packet	*pkt = arg;
	const struct mqtt_publish	*m;
	const struct mqtt_subscribe	*s;
	struct mqtt_sub_entry		 se;
	struct str			 f;
	size_t				 off = 0;

	switch (pkt->type) {
	case MQTT_CONNECT:
		enc_connect(e, v, &pkt->u.connect);
		break;
	case MQTT_CONNACK:
		em_u8(e, pkt->u.connack.session_present ? 1 : 0);
		em_u8(e, pkt->u.connack.rc);
		em_props(e, v, &pkt->u.connack.props);
		break;
	case MQTT_PUBLISH:
		m = &pkt->u.publish;
		em_str(e, m->topic);
		if (m->qos != 0)
			em_u16(e, m->pid);
		em_props(e, v, &m->props);
		em_bytes(e, m->payload.p, m->payload.len);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBREL:
	case MQTT_PUBCOMP:
		em_u16(e, pkt->u.ack.pid);
		em_rc_props(e, v, pkt->u.ack.rc, &pkt->u.ack.props);
		break;
	case MQTT_SUBSCRIBE:
		s = &pkt->u.subscribe;
		em_u16(e, s->pid);
		em_props(e, v, &s->props);
		while (mqtt_sub_next(s, &off, &se)) {
			em_str(e, se.filter);
			if (v == MQTT_V5)
				em_u8(e, (uint8_t)(se.qos |
				    se.no_local << 2 |
				    se.retain_as_published << 3 |
				    se.retain_handling << 4));
			else
				em_u8(e, se.qos);
		}
		break;
	case MQTT_UNSUBSCRIBE:
		s = &pkt->u.subscribe;
		em_u16(e, s->pid);
		em_props(e, v, &s->props);
		while (mqtt_unsub_next(s, &off, &f))
			em_str(e, f);
		break;
	case MQTT_SUBACK:
	case MQTT_UNSUBACK:
		em_u16(e, pkt->u.suback.pid);
		if (pkt->type == MQTT_UNSUBACK && v != MQTT_V5)
			break;
		em_props(e, v, &pkt->u.suback.props);
		em_bytes(e, pkt->u.suback.rcs, pkt->u.suback.n);
		break;
	case MQTT_DISCONNECT:
	case MQTT_AUTH:
		em_rc_props(e, v, pkt->u.reason.rc, &pkt->u.reason.props);
		break;
	default:
		break;
	}
}

/* Fixed header byte for pkt. */
static uint8_t
first_byte(const struct mqtt_packet *pkt)
{
	const struct mqtt_publish	*m = &pkt->u.publish;
	unsigned int			 type = pkt->type & 0x0f;

	if (type != MQTT_PUBLISH)
		return ((uint8_t)(type << 4 | mqtt_fixed_flags[type]));
	return ((uint8_t)(MQTT_PUBLISH << 4 | (m->dup ? 0x08 : 0) |
	    (m->qos & 0x03) << 1 | (m->retain ? 0x01 : 0)));
}

/* Count the body, reserve, then write header and body in place. */
static size_t
encode(struct buf *b, uint8_t b0, uint8_t v, mqtt_body_f *body,
    const void *arg)
{
	struct em	 e = { NULL, 0 };
	size_t		 rl, total;

	body(&e, v, arg);
	rl = e.n;
	assert(rl <= VARINT_MAX);
	total = 1 + varint_len((uint32_t)rl) + rl;
	buf_reserve(b, total);
	e.w = b->data + b->len;
	e.n = 0;
	em_u8(&e, b0);
	em_varint(&e, (uint32_t)rl);
	body(&e, v, arg);
	assert(e.n == total);
	b->len += total;
	return (total);
}

/* Encode pkt for a peer speaking version (see mqtt.h). */
size_t
mqtt_encode(struct buf *b, uint8_t version, const struct mqtt_packet *pkt)
{
	uint8_t		 v = version & ~MQTT_CLIENT_SIDE;

	if (pkt->type == MQTT_CONNECT && v == 0)
		v = pkt->u.connect.version;
	if (pkt->type == MQTT_AUTH && v != MQTT_V5)
		return (0);
	return (encode(b, first_byte(pkt), v, enc_packet, pkt));
}

struct sub_args {
	uint16_t			 pid;
	const struct mqtt_props		*props;
	const struct mqtt_sub_entry	*e;
	const struct str		*filters;
	size_t				 n;
};

/* Body of a SUBSCRIBE built from an entry array. */
static void
enc_subscribe(struct em *e, uint8_t v, const void *arg)
{
	const struct sub_args		*a = arg;
	const struct mqtt_sub_entry	*se;
	size_t				 i;

	em_u16(e, a->pid);
	em_props(e, v, a->props);
	for (i = 0; i < a->n; i++) {
		se = &a->e[i];
		em_str(e, se->filter);
		if (v == MQTT_V5)
			em_u8(e, (uint8_t)((se->qos & 0x03) |
			    (se->no_local ? 0x04 : 0) |
			    (se->retain_as_published ? 0x08 : 0) |
			    (se->retain_handling & 0x03) << 4));
		else
			em_u8(e, se->qos & 0x03);
	}
}

/* Body of an UNSUBSCRIBE built from a filter array. */
static void
enc_unsubscribe(struct em *e, uint8_t v, const void *arg)
{
	const struct sub_args	*a = arg;
	size_t			 i;

	em_u16(e, a->pid);
	em_props(e, v, a->props);
	for (i = 0; i < a->n; i++)
		em_str(e, a->filters[i]);
}

/* Encode a SUBSCRIBE (client side). */
size_t
mqtt_encode_subscribe(struct buf *b, uint8_t version, uint16_t pid,
    const struct mqtt_props *props, const struct mqtt_sub_entry *e, size_t n)
{
	struct sub_args	 a = { pid, props, e, NULL, n };

	return (encode(b, MQTT_SUBSCRIBE << 4 | 0x2,
	    version & ~MQTT_CLIENT_SIDE, enc_subscribe, &a));
}

/* Encode an UNSUBSCRIBE (client side). */
size_t
mqtt_encode_unsubscribe(struct buf *b, uint8_t version, uint16_t pid,
    const struct mqtt_props *props, const struct str *filters, size_t n)
{
	struct sub_args	 a = { pid, props, NULL, filters, n };

	return (encode(b, MQTT_UNSUBSCRIBE << 4 | 0x2,
	    version & ~MQTT_CLIENT_SIDE, enc_unsubscribe, &a));
}

/* Append one User Property entry to a raw block. */
void
mqtt_user_add(struct buf *b, struct str key, struct str val)
{
	assert(key.len <= UINT16_MAX && val.len <= UINT16_MAX);
	buf_reserve(b, 5 + key.len + val.len);
	buf_add_u8(b, MQTT_PROP_USER);
	buf_add_u16(b, (uint16_t)key.len);
	buf_add_str(b, key);
	buf_add_u16(b, (uint16_t)val.len);
	buf_add_str(b, val);
}

/* Name of a packet type for logs. */
const char *
mqtt_type_name(enum mqtt_type type)
{
	if ((unsigned int)type >= nitems(mqtt_type_names))
		return ("UNKNOWN");
	return (mqtt_type_names[type]);
}
