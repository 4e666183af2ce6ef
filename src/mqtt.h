/*
 * mqtt.h: the pure MQTT codec for 3.1, 3.1.1 and 5.0.
 *
 * mqtt_decode() turns bytes into a struct mqtt_packet whose strings are
 * views (struct str) into the caller's buffer; nothing is allocated and
 * nothing is kept.  It checks everything that can be checked from the bytes
 * alone: remaining length, flags, UTF-8 rules (MQTT-1.5.4-1..3), property
 * identifiers allowed for the packet, duplicate properties, QoS 3, packet
 * id 0, subscription options' reserved bits.  Policy (limits, topic
 * validity, aliases) is proto.c's.  mqtt_encode() appends a packet to a
 * buf.  No global state; safe to call from any thread.
 */
#ifndef MQTT_H
#define MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define MQTT_V31	3
#define MQTT_V311	4
#define MQTT_V5		5

/*
 * OR'd into the version given to mqtt_decode() (0x84: client side of a
 * 3.1.1 session, 0x85: of a v5 one), the decoder acts for a client: it
 * accepts what a server sends (CONNACK, SUBACK, UNSUBACK, PINGRESP, several
 * Subscription Identifiers in a PUBLISH) and rejects CONNECT, SUBSCRIBE,
 * UNSUBSCRIBE, PINGREQ (and DISCONNECT from a 3.x server) with
 * MQTT_PROTOCOL.  Server side, a PUBLISH carrying a Subscription Identifier
 * is MQTT_PROTOCOL (MQTT-3.3.4-6).  mqtt_encode() ignores the bit.
 */
#define MQTT_CLIENT_SIDE	0x80

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
	MQTT_AUTH = 15,
};

/* Decoder results. */
enum mqtt_status {
	MQTT_OK = 0,		/* one packet decoded, *used bytes */
	MQTT_MORE,		/* need more bytes */
	MQTT_MALFORMED,		/* 0x81: bytes break the encoding rules */
	MQTT_PROTOCOL,		/* 0x82: well-formed but forbidden */
	MQTT_TOO_BIG,		/* 0x95: remaining length over the limit */
	MQTT_UNSUPPORTED,	/* CONNECT with an unknown protocol level/name */
};

/* Property identifiers (MQTT 5 section 2.2.2.2). */
#define MQTT_PROP_PAYLOAD_FORMAT	0x01
#define MQTT_PROP_MESSAGE_EXPIRY	0x02
#define MQTT_PROP_CONTENT_TYPE		0x03
#define MQTT_PROP_RESPONSE_TOPIC	0x08
#define MQTT_PROP_CORRELATION_DATA	0x09
#define MQTT_PROP_SUB_ID		0x0b
#define MQTT_PROP_SESSION_EXPIRY	0x11
#define MQTT_PROP_ASSIGNED_CLIENT_ID	0x12
#define MQTT_PROP_SERVER_KEEPALIVE	0x13
#define MQTT_PROP_AUTH_METHOD		0x15
#define MQTT_PROP_AUTH_DATA		0x16
#define MQTT_PROP_REQUEST_PROBLEM_INFO	0x17
#define MQTT_PROP_WILL_DELAY		0x18
#define MQTT_PROP_REQUEST_RESPONSE_INFO	0x19
#define MQTT_PROP_RESPONSE_INFO		0x1a
#define MQTT_PROP_SERVER_REFERENCE	0x1c
#define MQTT_PROP_REASON_STRING		0x1f
#define MQTT_PROP_RECEIVE_MAX		0x21
#define MQTT_PROP_TOPIC_ALIAS_MAX	0x22
#define MQTT_PROP_TOPIC_ALIAS		0x23
#define MQTT_PROP_MAX_QOS		0x24
#define MQTT_PROP_RETAIN_AVAILABLE	0x25
#define MQTT_PROP_USER			0x26
#define MQTT_PROP_MAX_PACKET_SIZE	0x27
#define MQTT_PROP_WILDCARD_AVAILABLE	0x28
#define MQTT_PROP_SUB_ID_AVAILABLE	0x29
#define MQTT_PROP_SHARED_AVAILABLE	0x2a

/* Bit for property id in mqtt_props.has. */
#define MQTT_HAS(id)	(UINT64_C(1) << (id))

/*
 * Properties of one packet (v5).  A field is meaningful only when its bit
 * is set in has.
 *
 * user is a raw property block (identifiers and values, no length prefix)
 * that holds every User Property, each as 0x26 + UTF-8 pair, in order.  It
 * may hold other properties between them: User Properties need not be
 * contiguous on the wire, and the decoder makes user the span from the
 * first User Property to the end of the last one (also setting
 * MQTT_HAS(MQTT_PROP_USER)), so forwarding them is usually one copy.
 * mqtt_user_next() and the encoder skip every entry that is not a User
 * Property; the encoder writes user whenever user.len != 0.  Build one with
 * mqtt_user_add().
 *
 * The decoder stores a Subscription Identifier in sub_id (bit set) and
 * leaves sub_ids NULL; a client-side decode of a PUBLISH carrying several
 * keeps the first.  The encoder writes sub_id if its bit is set, then one
 * property for each of sub_ids[0..n_sub_ids) (PUBLISH to a client matched
 * by several subscriptions).
 */
struct mqtt_props {
	uint64_t	 has;
	uint8_t		 payload_format;
	uint8_t		 request_problem_info;
	uint8_t		 request_response_info;
	uint8_t		 max_qos;
	uint8_t		 retain_available;
	uint8_t		 wildcard_available;
	uint8_t		 sub_id_available;
	uint8_t		 shared_available;
	uint16_t	 server_keepalive;
	uint16_t	 receive_max;
	uint16_t	 topic_alias_max;
	uint16_t	 topic_alias;
	uint32_t	 message_expiry;
	uint32_t	 session_expiry;
	uint32_t	 will_delay;
	uint32_t	 max_packet_size;
	uint32_t	 sub_id;
	const uint32_t	*sub_ids;
	size_t		 n_sub_ids;
	struct str	 content_type;
	struct str	 response_topic;
	struct str	 correlation_data;
	struct str	 assigned_client_id;
	struct str	 auth_method;
	struct str	 auth_data;
	struct str	 response_info;
	struct str	 server_reference;
	struct str	 reason_string;
	struct str	 user;
};

struct mqtt_connect {
	uint8_t		 version;	/* MQTT_V31, MQTT_V311, MQTT_V5 */
	bool		 clean_start;
	uint16_t	 keepalive;
	struct mqtt_props props;
	struct str	 client_id;
	bool		 will;
	uint8_t		 will_qos;
	bool		 will_retain;
	struct mqtt_props will_props;
	struct str	 will_topic;
	struct str	 will_payload;
	bool		 has_username;
	bool		 has_password;
	struct str	 username;
	struct str	 password;
};

struct mqtt_connack {
	bool		 session_present;
	uint8_t		 rc;		/* v5 reason code or v3 return code */
	struct mqtt_props props;
};

struct mqtt_publish {
	uint8_t		 qos;
	bool		 dup;
	bool		 retain;
	struct str	 topic;
	uint16_t	 pid;		/* 0 for QoS 0 */
	struct mqtt_props props;
	struct str	 payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct mqtt_ack {
	uint16_t	 pid;
	uint8_t		 rc;		/* 0 when absent */
	struct mqtt_props props;
};

struct mqtt_sub_entry {
	struct str	 filter;
	uint8_t		 qos;
	bool		 no_local;
	bool		 retain_as_published;
	uint8_t		 retain_handling;	/* 0, 1, 2 */
};

/*
 * SUBSCRIBE and UNSUBSCRIBE: entries is a view of the already validated
 * payload; walk it with mqtt_sub_next() / mqtt_unsub_next().
 */
struct mqtt_subscribe {
	uint16_t	 pid;
	struct mqtt_props props;
	size_t		 n;
	struct str	 entries;
};

/* SUBACK and UNSUBACK (v3.1.1 UNSUBACK has no codes: n = 0). */
struct mqtt_suback {
	uint16_t	 pid;
	struct mqtt_props props;
	size_t		 n;
	const uint8_t	*rcs;
};

/* DISCONNECT and AUTH. */
struct mqtt_reason {
	uint8_t		 rc;
	struct mqtt_props props;
};

struct mqtt_packet {
	enum mqtt_type	 type;
	uint8_t		 flags;		/* low nibble of the fixed header */
	union {
		struct mqtt_connect	connect;
		struct mqtt_connack	connack;
		struct mqtt_publish	publish;
		struct mqtt_ack		ack;
		struct mqtt_subscribe	subscribe;	/* and UNSUBSCRIBE */
		struct mqtt_suback	suback;		/* and UNSUBACK */
		struct mqtt_reason	reason;		/* DISCONNECT, AUTH */
	} u;
};

/*
 * Decode one packet from p[0..len).  version is the session's protocol
 * level, or 0 before CONNECT (then only CONNECT is accepted; anything else
 * is MQTT_PROTOCOL), with MQTT_CLIENT_SIDE or'd in to decode what a server
 * sent.  A remaining length that makes the packet larger than
 * max_size (whole packet, header included) gives MQTT_TOO_BIG as soon as the
 * header is readable.  On MQTT_OK, *used is the packet's length.  On an
 * error, *why (if not NULL) points at a static description for the log,
 * e.g. "invalid UTF-8 in topic".  For MQTT_UNSUPPORTED the version field of
 * pkt->u.connect holds the level the client asked for.
 */
enum mqtt_status mqtt_decode(const uint8_t *p, size_t len, uint8_t version,
		    uint32_t max_size, struct mqtt_packet *pkt, size_t *used,
		    const char **why);

/* Iterate SUBSCRIBE entries; *off starts at 0.  Returns false at the end. */
bool		 mqtt_sub_next(const struct mqtt_subscribe *, size_t *off,
		    struct mqtt_sub_entry *);
/* Iterate UNSUBSCRIBE filters; *off starts at 0. */
bool		 mqtt_unsub_next(const struct mqtt_subscribe *, size_t *off,
		    struct str *filter);
/* Iterate the raw user properties in props->user; *off starts at 0. */
bool		 mqtt_user_next(const struct mqtt_props *, size_t *off,
		    struct str *key, struct str *val);

/*
 * Append the encoding of pkt for a peer speaking version to b; returns the
 * number of bytes appended.  Properties are written only for MQTT_V5.  For
 * an ack of v3.x, rc and props are ignored; for v5 the reason code and
 * property length are omitted when rc is 0 and there are no properties
 * (MQTT-3.4.2.1).  The fixed header flags come from the fields (PUBLISH
 * dup/qos/retain), never from pkt->flags.  A CONNECT encoded for version 0
 * uses u.connect.version.  AUTH for 3.x appends nothing and returns 0.
 * SUBSCRIBE/UNSUBSCRIBE need not be encoded by a server but are, from a
 * decoded packet or from mqtt_sub_entry arrays (test helper): see below.
 */
size_t		 mqtt_encode(struct buf *b, uint8_t version,
		    const struct mqtt_packet *pkt);
/* Encode a SUBSCRIBE (client side: test tool, benchmark). */
size_t		 mqtt_encode_subscribe(struct buf *b, uint8_t version,
		    uint16_t pid, const struct mqtt_props *props,
		    const struct mqtt_sub_entry *e, size_t n);
/* Encode an UNSUBSCRIBE (client side). */
size_t		 mqtt_encode_unsubscribe(struct buf *b, uint8_t version,
		    uint16_t pid, const struct mqtt_props *props,
		    const struct str *filters, size_t n);
/* Append one User Property in raw form (for building props.user). */
void		 mqtt_user_add(struct buf *b, struct str key, struct str val);

/* Check a UTF-8 string as MQTT requires (no U+0000, no surrogates). */
bool		 mqtt_utf8_valid(struct str);
/* Name of a packet type, for logs ("PUBLISH"). */
const char	*mqtt_type_name(enum mqtt_type);

#endif
