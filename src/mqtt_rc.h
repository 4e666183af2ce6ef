/*
 * mqtt_rc.h: MQTT 5 reason codes (section 2.4) and their names.
 *
 * X-macro: RC(constant suffix, value, text).  proto.c is the only place that
 * maps an error to a reason code; everything else uses these constants.
 */
#ifndef MQTT_RC_H
#define MQTT_RC_H

#define MQTT_RC_TABLE							\
	RC(SUCCESS,			0x00, "success")		\
	RC(GRANTED_QOS1,		0x01, "granted qos 1")		\
	RC(GRANTED_QOS2,		0x02, "granted qos 2")		\
	RC(DISCONNECT_WITH_WILL,	0x04, "disconnect with will message") \
	RC(NO_MATCHING_SUBSCRIBERS,	0x10, "no matching subscribers") \
	RC(NO_SUBSCRIPTION_EXISTED,	0x11, "no subscription existed") \
	RC(CONTINUE_AUTHENTICATION,	0x18, "continue authentication") \
	RC(REAUTHENTICATE,		0x19, "re-authenticate")	\
	RC(UNSPECIFIED_ERROR,		0x80, "unspecified error")	\
	RC(MALFORMED_PACKET,		0x81, "malformed packet")	\
	RC(PROTOCOL_ERROR,		0x82, "protocol error")		\
	RC(IMPLEMENTATION_SPECIFIC,	0x83, "implementation specific error") \
	RC(UNSUPPORTED_PROTOCOL_VERSION, 0x84, "unsupported protocol version") \
	RC(CLIENT_ID_NOT_VALID,		0x85, "client identifier not valid") \
	RC(BAD_USERNAME_OR_PASSWORD,	0x86, "bad user name or password") \
	RC(NOT_AUTHORIZED,		0x87, "not authorized")		\
	RC(SERVER_UNAVAILABLE,		0x88, "server unavailable")	\
	RC(SERVER_BUSY,			0x89, "server busy")		\
	RC(BANNED,			0x8a, "banned")			\
	RC(SERVER_SHUTTING_DOWN,	0x8b, "server shutting down")	\
	RC(BAD_AUTHENTICATION_METHOD,	0x8c, "bad authentication method") \
	RC(KEEP_ALIVE_TIMEOUT,		0x8d, "keep alive timeout")	\
	RC(SESSION_TAKEN_OVER,		0x8e, "session taken over")	\
	RC(TOPIC_FILTER_INVALID,	0x8f, "topic filter invalid")	\
	RC(TOPIC_NAME_INVALID,		0x90, "topic name invalid")	\
	RC(PACKET_ID_IN_USE,		0x91, "packet identifier in use") \
	RC(PACKET_ID_NOT_FOUND,		0x92, "packet identifier not found") \
	RC(RECEIVE_MAXIMUM_EXCEEDED,	0x93, "receive maximum exceeded") \
	RC(TOPIC_ALIAS_INVALID,		0x94, "topic alias invalid")	\
	RC(PACKET_TOO_LARGE,		0x95, "packet too large")	\
	RC(MESSAGE_RATE_TOO_HIGH,	0x96, "message rate too high")	\
	RC(QUOTA_EXCEEDED,		0x97, "quota exceeded")		\
	RC(ADMINISTRATIVE_ACTION,	0x98, "administrative action")	\
	RC(PAYLOAD_FORMAT_INVALID,	0x99, "payload format invalid")	\
	RC(RETAIN_NOT_SUPPORTED,	0x9a, "retain not supported")	\
	RC(QOS_NOT_SUPPORTED,		0x9b, "qos not supported")	\
	RC(USE_ANOTHER_SERVER,		0x9c, "use another server")	\
	RC(SERVER_MOVED,		0x9d, "server moved")		\
	RC(SHARED_SUBS_NOT_SUPPORTED,	0x9e, "shared subscriptions not supported") \
	RC(CONNECTION_RATE_EXCEEDED,	0x9f, "connection rate exceeded") \
	RC(MAXIMUM_CONNECT_TIME,	0xa0, "maximum connect time")	\
	RC(SUB_IDS_NOT_SUPPORTED,	0xa1, "subscription identifiers not supported") \
	RC(WILDCARD_SUBS_NOT_SUPPORTED,	0xa2, "wildcard subscriptions not supported")

enum mqtt_rc {
#define RC(n, v, t)	MQTT_RC_##n = v,
	MQTT_RC_TABLE
#undef RC
};

/* MQTT 3.1.1 CONNACK return codes. */
#define MQTT3_RC_ACCEPTED		0x00
#define MQTT3_RC_BAD_VERSION		0x01
#define MQTT3_RC_ID_REJECTED		0x02
#define MQTT3_RC_SERVER_UNAVAILABLE	0x03
#define MQTT3_RC_BAD_CREDENTIALS	0x04
#define MQTT3_RC_NOT_AUTHORIZED		0x05

const char	*mqtt_rc_name(uint8_t);

#endif
