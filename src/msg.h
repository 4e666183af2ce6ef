/*
 * msg.h: the immutable, reference-counted application message.
 *
 * One allocation per publish holds the topic, the payload and the v5
 * properties that travel with the message (payload format, content type,
 * response topic, correlation data, user properties) already encoded, so a
 * delivery copies them in one go.  Every delivery, on any worker, shares
 * the same msg; the count is atomic because workers share messages.
 */
#ifndef MSG_H
#define MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "mqtt.h"

struct msg {
	uint32_t	 refs;		/* atomic */
	uint8_t		 qos;
	bool		 retain;
	uint8_t		 flags;		/* MSG_F_* */
	uint16_t	 topic_len;
	uint32_t	 payload_len;
	uint32_t	 props_len;	/* encoded forwarded properties */
	uint64_t	 expire_at;	/* ms since epoch; 0 = never */
	uint64_t	 origin;	/* publisher's session id (No Local) */
	uint32_t	 origin_hash;	/* hash of publisher's client id */
	struct msg_ds	*ds;		/* set once stored (ds.c), or NULL */
	uint8_t		 data[];	/* topic, payload, props */
};

/*
 * A message kept in durable storage: its id and shard, and the durable
 * sessions that have a queue entry for it (sorted), so that each of them
 * knows the entry is its to delete.  Set before the message is routed.
 */
struct msg_ds {
	uint64_t	 id;
	uint16_t	 shard;
	uint32_t	 n;
	uint64_t	 sids[];
};

#define MSG_F_SYS	0x01		/* published by the node itself */
#define MSG_F_WILL	0x02

static inline struct str
msg_topic(const struct msg *m)
{
	return ((struct str){ m->data, m->topic_len });
}

static inline struct str
msg_payload(const struct msg *m)
{
	return ((struct str){ m->data + m->topic_len, m->payload_len });
}

static inline struct str
msg_props(const struct msg *m)
{
	return ((struct str){ m->data + m->topic_len + m->payload_len,
	    m->props_len });
}

/*
 * Build a message from a decoded PUBLISH (topic given separately because
 * it may come from a topic alias).  props may be NULL.
 */
struct msg	*msg_new(struct str topic, struct str payload, uint8_t qos,
		    bool retain, const struct mqtt_props *props, uint64_t origin,
		    uint32_t origin_hash);
struct msg	*msg_ref(struct msg *);
void		 msg_unref(struct msg *);
/*
 * Rebuild a stored message (retained or durable) from its parts.  The
 * topic and properties go through the MQTT 5 decoder as the PUBLISH they
 * came from, so only what a client could have sent is accepted: a valid
 * topic name and properties that travel.  NULL if they do not decode.
 */
struct msg	*msg_from_stored(struct str topic, struct str payload,
		    struct str props, uint8_t qos, bool retain,
		    uint64_t expire_at);
/* Copy of m with a different retain flag or qos (retained delivery). */
struct msg	*msg_copy(const struct msg *, uint8_t qos, bool retain);
/* True if the message's expiry has passed at now_ms. */
bool		 msg_expired(const struct msg *, uint64_t now_ms);
/* Remaining expiry in seconds to send, 0 if none (MQTT-3.3.2-6). */
uint32_t	 msg_expiry_left(const struct msg *, uint64_t now_ms);
/* Wall clock in ms. */
uint64_t	 now_ms(void);
/* Big-endian integer of n bytes at p. */
uint64_t	 get_be(const uint8_t *p, int n);
/* FNV-1a hash. */
uint32_t	 hash_bytes(const void *, size_t);

#endif
