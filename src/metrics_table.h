/*
 * metrics_table.h: every counter and gauge, with EMQX's names.
 *
 * X-macro: M(C name, EMQX metric name, type, help).  type is COUNTER or
 * GAUGE.  Counters are per worker and summed when read (metrics.c); the
 * Prometheus name is "emqx_" + the EMQX name with '.' -> '_'.
 */
#define METRICS_TABLE							\
	M(BYTES_RECEIVED, "bytes.received", COUNTER, "bytes received from clients") \
	M(BYTES_SENT, "bytes.sent", COUNTER, "bytes sent to clients")	\
	M(PACKETS_RECEIVED, "packets.received", COUNTER, "MQTT packets received") \
	M(PACKETS_SENT, "packets.sent", COUNTER, "MQTT packets sent")	\
	M(PACKETS_CONNECT, "packets.connect.received", COUNTER, "CONNECT packets received") \
	M(PACKETS_CONNACK_SENT, "packets.connack.sent", COUNTER, "CONNACK packets sent") \
	M(PACKETS_CONNACK_ERROR, "packets.connack.error", COUNTER, "CONNACK packets sent with an error code") \
	M(PACKETS_CONNACK_AUTH_ERROR, "packets.connack.auth_error", COUNTER, "CONNACK packets refusing credentials") \
	M(PACKETS_PUBLISH_RECEIVED, "packets.publish.received", COUNTER, "PUBLISH packets received") \
	M(PACKETS_PUBLISH_SENT, "packets.publish.sent", COUNTER, "PUBLISH packets sent") \
	M(PACKETS_PUBLISH_INUSE, "packets.publish.inuse", COUNTER, "PUBLISH packets with a packet id already in use") \
	M(PACKETS_PUBLISH_ERROR, "packets.publish.error", COUNTER, "PUBLISH packets that could not be processed") \
	M(PACKETS_PUBLISH_DROPPED, "packets.publish.dropped", COUNTER, "PUBLISH packets dropped over limits") \
	M(PACKETS_PUBACK_RECEIVED, "packets.puback.received", COUNTER, "PUBACK packets received") \
	M(PACKETS_PUBACK_SENT, "packets.puback.sent", COUNTER, "PUBACK packets sent") \
	M(PACKETS_PUBACK_MISSED, "packets.puback.missed", COUNTER, "PUBACK packets for an unknown packet id") \
	M(PACKETS_PUBREC_RECEIVED, "packets.pubrec.received", COUNTER, "PUBREC packets received") \
	M(PACKETS_PUBREC_SENT, "packets.pubrec.sent", COUNTER, "PUBREC packets sent") \
	M(PACKETS_PUBREC_MISSED, "packets.pubrec.missed", COUNTER, "PUBREC packets for an unknown packet id") \
	M(PACKETS_PUBREL_RECEIVED, "packets.pubrel.received", COUNTER, "PUBREL packets received") \
	M(PACKETS_PUBREL_SENT, "packets.pubrel.sent", COUNTER, "PUBREL packets sent") \
	M(PACKETS_PUBREL_MISSED, "packets.pubrel.missed", COUNTER, "PUBREL packets for an unknown packet id") \
	M(PACKETS_PUBCOMP_RECEIVED, "packets.pubcomp.received", COUNTER, "PUBCOMP packets received") \
	M(PACKETS_PUBCOMP_SENT, "packets.pubcomp.sent", COUNTER, "PUBCOMP packets sent") \
	M(PACKETS_PUBCOMP_MISSED, "packets.pubcomp.missed", COUNTER, "PUBCOMP packets for an unknown packet id") \
	M(PACKETS_SUBSCRIBE_RECEIVED, "packets.subscribe.received", COUNTER, "SUBSCRIBE packets received") \
	M(PACKETS_SUBSCRIBE_ERROR, "packets.subscribe.error", COUNTER, "SUBSCRIBE entries refused") \
	M(PACKETS_SUBACK_SENT, "packets.suback.sent", COUNTER, "SUBACK packets sent") \
	M(PACKETS_UNSUBSCRIBE_RECEIVED, "packets.unsubscribe.received", COUNTER, "UNSUBSCRIBE packets received") \
	M(PACKETS_UNSUBACK_SENT, "packets.unsuback.sent", COUNTER, "UNSUBACK packets sent") \
	M(PACKETS_PINGREQ_RECEIVED, "packets.pingreq.received", COUNTER, "PINGREQ packets received") \
	M(PACKETS_PINGRESP_SENT, "packets.pingresp.sent", COUNTER, "PINGRESP packets sent") \
	M(PACKETS_DISCONNECT_RECEIVED, "packets.disconnect.received", COUNTER, "DISCONNECT packets received") \
	M(PACKETS_DISCONNECT_SENT, "packets.disconnect.sent", COUNTER, "DISCONNECT packets sent") \
	M(PACKETS_AUTH_RECEIVED, "packets.auth.received", COUNTER, "AUTH packets received") \
	M(PACKETS_MALFORMED, "packets.malformed", COUNTER, "connections closed for a malformed or forbidden packet") \
	M(MESSAGES_RECEIVED, "messages.received", COUNTER, "application messages received from clients") \
	M(MESSAGES_SENT, "messages.sent", COUNTER, "application messages sent to clients") \
	M(MESSAGES_QOS0_RECEIVED, "messages.qos0.received", COUNTER, "QoS 0 messages received") \
	M(MESSAGES_QOS0_SENT, "messages.qos0.sent", COUNTER, "QoS 0 messages sent") \
	M(MESSAGES_QOS1_RECEIVED, "messages.qos1.received", COUNTER, "QoS 1 messages received") \
	M(MESSAGES_QOS1_SENT, "messages.qos1.sent", COUNTER, "QoS 1 messages sent") \
	M(MESSAGES_QOS2_RECEIVED, "messages.qos2.received", COUNTER, "QoS 2 messages received") \
	M(MESSAGES_QOS2_SENT, "messages.qos2.sent", COUNTER, "QoS 2 messages sent") \
	M(MESSAGES_PUBLISH, "messages.publish", COUNTER, "messages published (clients, wills, $SYS)") \
	M(MESSAGES_DROPPED, "messages.dropped", COUNTER, "messages dropped before delivery, all reasons") \
	M(MESSAGES_DROPPED_NO_SUBSCRIBERS, "messages.dropped.no_subscribers", COUNTER, "messages dropped because nobody subscribed") \
	M(MESSAGES_DROPPED_AWAIT_PUBREL_TIMEOUT, "messages.dropped.await_pubrel_timeout", COUNTER, "QoS 2 receipts dropped waiting for PUBREL") \
	M(MESSAGES_FORWARD, "messages.forward", COUNTER, "messages handed to another worker") \
	M(MESSAGES_DELAYED, "messages.delayed", COUNTER, "will messages delayed") \
	M(MESSAGES_ACKED, "messages.acked", COUNTER, "QoS 1/2 messages acknowledged by subscribers") \
	M(MESSAGES_RETAINED, "messages.retained", COUNTER, "retained messages stored") \
	M(DELIVERY_DROPPED, "delivery.dropped", COUNTER, "deliveries dropped, all reasons") \
	M(DELIVERY_DROPPED_NO_LOCAL, "delivery.dropped.no_local", COUNTER, "deliveries skipped by No Local") \
	M(DELIVERY_DROPPED_TOO_LARGE, "delivery.dropped.too_large", COUNTER, "deliveries over the client's Maximum Packet Size") \
	M(DELIVERY_DROPPED_QOS0_MSG, "delivery.dropped.qos0_msg", COUNTER, "QoS 0 deliveries dropped from a full queue") \
	M(DELIVERY_DROPPED_QUEUE_FULL, "delivery.dropped.queue_full", COUNTER, "deliveries dropped because the session queue was full") \
	M(DELIVERY_DROPPED_EXPIRED, "delivery.dropped.expired", COUNTER, "deliveries dropped after their Message Expiry Interval") \
	M(CLIENT_CONNECT, "client.connect", COUNTER, "CONNECT packets processed") \
	M(CLIENT_CONNACK, "client.connack", COUNTER, "CONNACK packets sent") \
	M(CLIENT_CONNECTED, "client.connected", COUNTER, "clients connected") \
	M(CLIENT_AUTHENTICATE, "client.authenticate", COUNTER, "authentications") \
	M(CLIENT_AUTH_ANONYMOUS, "client.auth.anonymous", COUNTER, "anonymous logins") \
	M(CLIENT_DISCONNECTED, "client.disconnected", COUNTER, "clients disconnected") \
	M(CLIENT_SUBSCRIBE, "client.subscribe", COUNTER, "subscriptions made") \
	M(CLIENT_UNSUBSCRIBE, "client.unsubscribe", COUNTER, "subscriptions removed") \
	M(SESSION_CREATED, "session.created", COUNTER, "sessions created") \
	M(SESSION_RESUMED, "session.resumed", COUNTER, "sessions resumed") \
	M(SESSION_TAKENOVER, "session.takenover", COUNTER, "sessions taken over by a new connection") \
	M(SESSION_DISCARDED, "session.discarded", COUNTER, "sessions discarded by clean start") \
	M(SESSION_TERMINATED, "session.terminated", COUNTER, "sessions ended") \
	M(OVERLOAD_ACCEPT_EMFILE, "overload_protection.accept_emfile", COUNTER, "accepts paused for lack of file descriptors") \
	M(LISTENER_REFUSED_MAX_CONN, "listener.refused.max_connections", COUNTER, "connections refused over max_connections") \
	M(LISTENER_REFUSED_RATE, "listener.refused.conn_rate", COUNTER, "accepts delayed by max_conn_rate") \
	M(CLIENT_RATE_PAUSED, "client.rate_limited", COUNTER, "times a client was paused by messages_rate or bytes_rate") \
	M(CLIENT_THROTTLED, "client.throttled", COUNTER, "times a publisher was paused because a subscriber it feeds was congested") \
	M(CONNECTIONS_COUNT, "connections.count", GAUGE, "connections open") \
	M(LIVE_CONNECTIONS_COUNT, "live_connections.count", GAUGE, "connections past CONNECT") \
	M(CONNECTIONS_LINGERING, "connections.lingering", GAUGE, "closed connections whose socket is read until the client closes it (not in connections.count)") \
	M(CONNECTIONS_LINGER_TIMEOUT, "connections.linger.timeout", COUNTER, "lingering sockets closed at mqtt.close_linger, the client still connected") \
	M(CONNECTIONS_LINGER_SKIPPED, "connections.linger.skipped", COUNTER, "sockets closed at once because mqtt.close_linger_max were lingering") \
	M(SESSIONS_COUNT, "sessions.count", GAUGE, "sessions, connected or not") \
	M(SESSIONS_DURABLE_COUNT, "durable_sessions.count", GAUGE, "sessions kept in durable storage, connected or not") \
	M(MESSAGES_PERSISTED, "messages.persisted", COUNTER, "messages written to durable storage for durable sessions") \
	M(DS_BATCHES_FAILED, "ds.batches.failed", COUNTER, "storage batches that could not be written (full disk, I/O error)") \
	M(SUBSCRIPTIONS_COUNT, "subscriptions.count", GAUGE, "subscriptions") \
	M(SUBSCRIPTIONS_SHARED_COUNT, "subscriptions.shared.count", GAUGE, "shared subscriptions") \
	M(SUBOPTIONS_COUNT, "suboptions.count", GAUGE, "subscription options (same as subscriptions)") \
	M(TOPICS_COUNT, "topics.count", GAUGE, "distinct topic filters subscribed")
