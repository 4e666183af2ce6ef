/*
 * msg.c: the immutable, reference-counted application message (see msg.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "msg.h"
#include "topic.h"
#include "xmalloc.h"

/* Append the properties that travel with a message to b. */
static void
msg_encode_props(struct buf *b, const struct mqtt_props *p)
{
	struct str	 k, v;
	size_t		 off = 0;

	if (p->has & MQTT_HAS(MQTT_PROP_PAYLOAD_FORMAT)) {
		buf_add_u8(b, MQTT_PROP_PAYLOAD_FORMAT);
		buf_add_u8(b, p->payload_format);
	}
	if (p->has & MQTT_HAS(MQTT_PROP_CONTENT_TYPE)) {
		buf_add_u8(b, MQTT_PROP_CONTENT_TYPE);
		buf_add_u16(b, (uint16_t)p->content_type.len);
		buf_add_str(b, p->content_type);
	}
	if (p->has & MQTT_HAS(MQTT_PROP_RESPONSE_TOPIC)) {
		buf_add_u8(b, MQTT_PROP_RESPONSE_TOPIC);
		buf_add_u16(b, (uint16_t)p->response_topic.len);
		buf_add_str(b, p->response_topic);
	}
	if (p->has & MQTT_HAS(MQTT_PROP_CORRELATION_DATA)) {
		buf_add_u8(b, MQTT_PROP_CORRELATION_DATA);
		buf_add_u16(b, (uint16_t)p->correlation_data.len);
		buf_add_str(b, p->correlation_data);
	}
	while (mqtt_user_next(p, &off, &k, &v))
		mqtt_user_add(b, k, v);
}

/* Build a message; see msg.h. */
struct msg *
msg_new(struct str topic, struct str payload, uint8_t qos, bool retain,
    const struct mqtt_props *props, uint64_t origin, uint32_t origin_hash)
{
	struct msg	*m;
	struct buf	 pb;
	size_t		 plen = 0;

	buf_init(&pb);
	if (props != NULL) {
		msg_encode_props(&pb, props);
		plen = buf_used(&pb);
	}
	m = xmalloc(sizeof *m + topic.len + payload.len + plen);
	m->refs = 1;
	m->qos = qos;
	m->retain = retain;
	m->flags = 0;
	m->topic_len = (uint16_t)topic.len;
	m->payload_len = (uint32_t)payload.len;
	m->props_len = (uint32_t)plen;
	m->expire_at = 0;
	if (props != NULL &&
	    (props->has & MQTT_HAS(MQTT_PROP_MESSAGE_EXPIRY)))
		m->expire_at = now_ms() + (uint64_t)props->message_expiry *
		    1000;
	m->origin = origin;
	m->origin_hash = origin_hash;
	m->ds = NULL;
	if (topic.len != 0)
		memcpy(m->data, topic.p, topic.len);
	if (payload.len != 0)
		memcpy(m->data + topic.len, payload.p, payload.len);
	if (plen != 0)
		memcpy(m->data + topic.len + payload.len, buf_head(&pb), plen);
	buf_release(&pb);
	return (m);
}

/* Take a reference. */
struct msg *
msg_ref(struct msg *m)
{
	__atomic_add_fetch(&m->refs, 1, __ATOMIC_RELAXED);
	return (m);
}

/* Drop a reference; the last one frees. */
void
msg_unref(struct msg *m)
{
	if (m == NULL)
		return;
	if (__atomic_sub_fetch(&m->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(m->ds);
		free(m);
	}
}

/* Copy of m with another qos and retain flag. */
struct msg *
msg_copy(const struct msg *m, uint8_t qos, bool retain)
{
	size_t		 n;
	struct msg	*c;

	n = sizeof *m + m->topic_len + m->payload_len + m->props_len;
	c = xmemdup(m, n);
	c->refs = 1;
	c->qos = qos;
	c->retain = retain;
	c->ds = NULL;
	return (c);
}

/* Properties a stored message may carry: those that travel. */
#define MSG_STORED_PROPS (MQTT_HAS(MQTT_PROP_PAYLOAD_FORMAT) |		\
	MQTT_HAS(MQTT_PROP_CONTENT_TYPE) | MQTT_HAS(MQTT_PROP_RESPONSE_TOPIC) | \
	MQTT_HAS(MQTT_PROP_CORRELATION_DATA) | MQTT_HAS(MQTT_PROP_USER))

/* Rebuild a stored message; see msg.h. */
struct msg *
msg_from_stored(struct str topic, struct str payload, struct str props,
    uint8_t qos, bool retain, uint64_t expire_at)
{
	struct mqtt_packet	 pkt;
	struct buf		 pb;
	struct msg		*m = NULL;
	const char		*why;
	size_t			 used, rl;

	if (qos > 2 || topic.len > UINT16_MAX || !topic_valid_name(topic, 0))
		return (NULL);
	/* PUBLISH, QoS 0: topic, properties, payload. */
	rl = 2 + topic.len + varint_len((uint32_t)props.len) + props.len +
	    payload.len;
	if (props.len > 268435455 || rl > 268435455)	/* varint maximum */
		return (NULL);
	buf_init(&pb);
	buf_add_u8(&pb, 0x30);
	buf_add_varint(&pb, (uint32_t)rl);
	buf_add_u16(&pb, (uint16_t)topic.len);
	buf_add_str(&pb, topic);
	buf_add_varint(&pb, (uint32_t)props.len);
	buf_add_str(&pb, props);
	buf_add_str(&pb, payload);
	if (mqtt_decode(buf_head(&pb), buf_used(&pb), MQTT_V5, UINT32_MAX,
	    &pkt, &used, &why) == MQTT_OK && pkt.type == MQTT_PUBLISH &&
	    used == buf_used(&pb) &&
	    (pkt.u.publish.props.has & ~(uint64_t)MSG_STORED_PROPS) == 0) {
		m = msg_new(topic, payload, qos, retain, &pkt.u.publish.props,
		    0, 0);
		m->expire_at = expire_at;
	}
	buf_release(&pb);
	return (m);
}

/* Big-endian integer; see msg.h. */
uint64_t
get_be(const uint8_t *p, int n)
{
	uint64_t	 v = 0;

	while (n-- > 0)
		v = v << 8 | *p++;
	return (v);
}

/* True if m has expired. */
bool
msg_expired(const struct msg *m, uint64_t now)
{
	return (m->expire_at != 0 && now >= m->expire_at);
}

/* Seconds of expiry left, at least 1 while not expired; 0 means none. */
uint32_t
msg_expiry_left(const struct msg *m, uint64_t now)
{
	uint64_t	 left;

	if (m->expire_at == 0)
		return (0);
	if (now >= m->expire_at)
		return (1);
	left = (m->expire_at - now + 999) / 1000;
	return (left == 0 ? 1 : (uint32_t)left);
}

/* Wall-clock milliseconds. */
uint64_t
now_ms(void)
{
	struct timeval	 tv;

	gettimeofday(&tv, NULL);
	return ((uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000);
}

/* 32-bit FNV-1a. */
uint32_t
hash_bytes(const void *p, size_t n)
{
	const uint8_t	*s = p;
	uint32_t	 h = 2166136261u;

	while (n-- > 0) {
		h ^= *s++;
		h *= 16777619u;
	}
	return (h);
}
