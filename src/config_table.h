/*
 * config_table.h: every configuration key, once (X-macros).
 *
 * This is the single source of truth for the configuration surface: the
 * fields of struct config and struct config_listener, their defaults,
 * validation, `config_dump` and the example file (etc/flockmq.yaml) are all
 * generated from the tables below.  To add a key, add one entry here and use
 * the new field; nothing else changes.
 *
 * CONFIG_TABLE(X) and LISTENER_TABLE(X) call
 *	X(path, field, type, choices, default, min, max, flags, help)
 * path	   the key as written in YAML, dotted (listener keys are relative to
 *	   listeners.TYPE.NAME)
 * field   the C field; for global keys it is the path with '.' -> '_'
 * type	   STRING, BOOL, INT, DURATION (int64_t ms), SIZE (int64_t bytes),
 *	   FLOAT, RATE (double per second), BYTERATE (a RATE that takes size
 *	   units), ENUM (int, one of a CONFIG_CHOICES_ list), KEYWORD (char *,
 *	   one of a list), STRLIST (struct config_strlist)
 * choices the CONFIG_CHOICES_ list for ENUM, KEYWORD and STRLIST, else NONE
 * default the default, as a string parsed like any configured value
 * min/max the range for numbers, in the field's unit; max CONFIG_NOMAX means
 *	   no upper bound
 * flags   CONFIG_F_* below
 * help	   one sentence for the example file and the docs
 *
 * Keys sharing a dotted prefix must be adjacent: the YAML writers nest them
 * under one mapping.
 */
#ifndef CONFIG_TABLE_H
#define CONFIG_TABLE_H

#define CONFIG_NOMAX		(-1)

#define CONFIG_F_RESTART	0x00	/* takes effect on restart */
#define CONFIG_F_RELOAD		0x01	/* may change on reload (SIGHUP) */
#define CONFIG_F_INF		0x02	/* accepts "infinity" */
#define CONFIG_F_DISABLED	0x04	/* accepts "disabled", stored as 0 */
#define CONFIG_F_BUILD		0x08	/* default is set at build time */

#ifndef FLOCKMQ_DATA_DIR
#define FLOCKMQ_DATA_DIR	"/var/lib/flockmq"
#endif

/*
 * Value lists: V(C constant, "name") for values flockmq implements, U("name")
 * for values EMQX has but flockmq rejects with "not supported".  Each list
 * declares enum config_<name> (see CONFIG_ENUMS) with constants from 0.
 */
#define CONFIG_CHOICES_NODE_ROLE(V, U)					\
	V(NODE_ROLE_CORE, "core")					\
	V(NODE_ROLE_REPLICANT, "replicant")

#define CONFIG_CHOICES_DISCOVERY(V, U)					\
	V(DISCOVERY_MANUAL, "manual")					\
	V(DISCOVERY_STATIC, "static")					\
	U("singleton") U("dns") U("etcd") U("k8s") U("mcast")

#define CONFIG_CHOICES_SHARED(V, U)					\
	V(SHARED_RANDOM, "random")					\
	V(SHARED_ROUND_ROBIN, "round_robin")				\
	V(SHARED_STICKY, "sticky")					\
	V(SHARED_HASH_CLIENTID, "hash_clientid")			\
	V(SHARED_HASH_TOPIC, "hash_topic")				\
	U("round_robin_per_group") U("local")

#define CONFIG_CHOICES_PEER_CERT(V, U)					\
	V(PEER_CERT_DISABLED, "disabled")				\
	V(PEER_CERT_CN, "cn")						\
	V(PEER_CERT_DN, "dn")						\
	U("crt") U("pem") U("md5")

#define CONFIG_CHOICES_DS_BACKEND(V, U)					\
	V(DS_BACKEND_BUILTIN_LOCAL, "builtin_local")			\
	V(DS_BACKEND_BUILTIN_RAFT, "builtin_raft")

#define CONFIG_CHOICES_SSL_VERIFY(V, U)					\
	V(CONFIG_VERIFY_NONE, "verify_none")				\
	V(CONFIG_VERIFY_PEER, "verify_peer")

#define CONFIG_CHOICES_TLS_VERSION(V, U)				\
	V(CONFIG_TLS_V1_2, "tlsv1.2")					\
	V(CONFIG_TLS_V1_3, "tlsv1.3")					\
	U("tlsv1.1") U("tlsv1")

#define CONFIG_CHOICES_LOG_LEVEL(V, U)					\
	V(CONFIG_LOG_DEBUG, "debug")					\
	V(CONFIG_LOG_INFO, "info")					\
	V(CONFIG_LOG_NOTICE, "notice")					\
	V(CONFIG_LOG_WARNING, "warning")				\
	V(CONFIG_LOG_ERROR, "error")					\
	V(CONFIG_LOG_CRITICAL, "critical")				\
	V(CONFIG_LOG_ALERT, "alert")					\
	V(CONFIG_LOG_EMERGENCY, "emergency")

/* X(list, tag): declares enum config_<tag> from CONFIG_CHOICES_<list>. */
#define CONFIG_ENUMS(X)							\
	X(NODE_ROLE, node_role)						\
	X(DISCOVERY, cluster_discovery_strategy)			\
	X(SHARED, mqtt_shared_subscription_strategy)			\
	X(PEER_CERT, peer_cert)						\
	X(DS_BACKEND, durable_storage_messages_backend)			\
	X(SSL_VERIFY, ssl_verify)					\
	X(TLS_VERSION, tls_version)					\
	X(LOG_LEVEL, log_level)

/* Top-level sections, in the order the YAML writers emit them. */
#define CONFIG_SECTIONS(X)						\
	X("node", "This node: its name, role and where it keeps its data.") \
	X("cluster", "How nodes find each other and form one cluster.")	\
	X("mqtt", "MQTT protocol limits and session behaviour.")	\
	X("durable_sessions", "Sessions kept in durable storage, "	\
	    "surviving restarts and the loss of a node.")		\
	X("durable_storage", "Where durable sessions keep their "	\
	    "messages.")						\
	X("retainer", "Retained messages.")				\
	X("dashboard", "The HTTP server: dashboard, REST API "		\
	    "(/api/v5) and Prometheus metrics.")			\
	X("sys_topics", "Messages the broker publishes under $SYS/.")	\
	X("log", "The log: console (standard error) and file.")		\
	X("listeners", "MQTT listeners, listeners.TYPE.NAME with TYPE "	\
	    "tcp, ssl, ws or wss; any NAME made of a-z, 0-9, _ and -.")

#define CONFIG_TABLE(X)							\
	X("node.name", node_name, STRING, NONE,				\
	    "flockmq@127.0.0.1", 0, 0, CONFIG_F_RESTART,		\
	    "This node's name, name@host; other nodes reach it at host.") \
	X("node.cookie", node_cookie, STRING, NONE,			\
	    "flockmqsecretcookie", 0, 0, CONFIG_F_RESTART,		\
	    "Secret shared by the nodes of a cluster; change it.")	\
	X("node.role", node_role, ENUM, NODE_ROLE,			\
	    "core", 0, 0, CONFIG_F_RESTART,				\
	    "core nodes hold durable storage replicas; replicant nodes " \
	    "only serve clients and reach storage through the cores.")	\
	X("node.data_dir", node_data_dir, STRING, NONE,			\
	    FLOCKMQ_DATA_DIR, 0, 0, CONFIG_F_RESTART | CONFIG_F_BUILD,	\
	    "Directory for the store, the Raft logs and, by default, the " \
	    "log file.")						\
	X("cluster.name", cluster_name, STRING, NONE,			\
	    "flockmqcl", 0, 0, CONFIG_F_RESTART,			\
	    "Name of the cluster; nodes only join a cluster of the same " \
	    "name.")							\
	X("cluster.discovery_strategy", cluster_discovery_strategy,	\
	    ENUM, DISCOVERY, "manual", 0, 0, CONFIG_F_RESTART,		\
	    "How nodes find each other: manual (flockmq ctl cluster "	\
	    "join) or static (cluster.static.seeds).")			\
	X("cluster.static.seeds", cluster_static_seeds, STRLIST, NONE,	\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "Nodes (name@host) to join when discovery_strategy is static.") \
	X("cluster.core_nodes", cluster_core_nodes, STRLIST, NONE,	\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "Core nodes (name@host) a replicant connects to; empty means " \
	    "every core node discovered.")				\
	X("cluster.autoclean", cluster_autoclean, DURATION, NONE,	\
	    "24h", 0, CONFIG_NOMAX, CONFIG_F_RESTART,			\
	    "Remove a node from the cluster once it has been down this " \
	    "long.")							\
	X("cluster.autoheal", cluster_autoheal, BOOL, NONE,		\
	    "true", 0, 0, CONFIG_F_RESTART,				\
	    "Heal a network partition automatically once it is over.")	\
	X("cluster.link.bind", cluster_link_bind, STRING, NONE,	\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "Address the node link listens on; empty means the host "	\
	    "part of node.name, resolved.")				\
	X("cluster.link.port", cluster_link_port, INT, NONE,		\
	    "4370", 1, 65535, CONFIG_F_RESTART,				\
	    "TCP port of the node link; every node uses the same unless " \
	    "a seed says name@host:port.")				\
	X("cluster.link.data_connections", cluster_link_data_connections, \
	    INT, NONE, "2", 0, 8, CONFIG_F_RESTART,			\
	    "Data connections to each peer, beside its control "	\
	    "connection.")						\
	X("cluster.link.heartbeat_interval",				\
	    cluster_link_heartbeat_interval, DURATION, NONE,		\
	    "1s", 50, 60000, CONFIG_F_RESTART,				\
	    "How often a heartbeat goes out on each link connection.")	\
	X("cluster.link.down_timeout", cluster_link_down_timeout,	\
	    DURATION, NONE, "5s", 200, 3600000, CONFIG_F_RESTART,	\
	    "A peer silent this long is cut off and reported stopped.") \
	X("cluster.link.handshake_timeout",				\
	    cluster_link_handshake_timeout, DURATION, NONE,		\
	    "10s", 100, 600000, CONFIG_F_RESTART,			\
	    "Time a new connection has to finish the HELLO and "	\
	    "authentication.")						\
	X("cluster.link.frame_timeout", cluster_link_frame_timeout,	\
	    DURATION, NONE, "5s", 100, 600000, CONFIG_F_RESTART,	\
	    "A peer that starts a frame and does not finish it this "	\
	    "long after is cut off.")					\
	X("cluster.link.max_frame_size", cluster_link_max_frame_size,	\
	    SIZE, NONE, "1MB", 4096, 256 << 20, CONFIG_F_RESTART,	\
	    "Largest frame accepted from a peer.")			\
	X("cluster.link.max_buffer", cluster_link_max_buffer, SIZE,	\
	    NONE, "8MB", 65536, 1 << 30, CONFIG_F_RESTART,		\
	    "Bytes waiting to go out to one connection past which the " \
	    "peer is cut off as not reading.")				\
	X("cluster.link.reconnect_interval",				\
	    cluster_link_reconnect_interval, DURATION, NONE,		\
	    "2s", 100, 600000, CONFIG_F_RESTART,			\
	    "Longest wait between attempts to reach an unreachable "	\
	    "seed (the wait doubles from 100ms up to this).")		\
	X("mqtt.workers", mqtt_workers, INT, NONE,			\
	    "0", 0, 64, CONFIG_F_RESTART,				\
	    "Worker threads serving connections; 0 means one per CPU core.") \
	X("mqtt.max_packet_size", mqtt_max_packet_size, SIZE, NONE,	\
	    "1MB", 1, 256 << 20, CONFIG_F_RELOAD,			\
	    "Largest MQTT packet accepted.")				\
	X("mqtt.max_clientid_len", mqtt_max_clientid_len, INT, NONE,	\
	    "65535", 23, 65535, CONFIG_F_RELOAD,			\
	    "Longest client id accepted.")				\
	X("mqtt.max_topic_levels", mqtt_max_topic_levels, INT, NONE,	\
	    "128", 1, 65535, CONFIG_F_RELOAD,				\
	    "Most levels a topic name or topic filter may have.")	\
	X("mqtt.max_qos_allowed", mqtt_max_qos_allowed, INT, NONE,	\
	    "2", 0, 2, CONFIG_F_RELOAD,					\
	    "Highest QoS granted; higher requests are downgraded.")	\
	X("mqtt.max_topic_alias", mqtt_max_topic_alias, INT, NONE,	\
	    "65535", 0, 65535, CONFIG_F_RELOAD,				\
	    "Topic Alias Maximum announced to MQTT 5 clients; 0 turns "	\
	    "topic aliases off.")					\
	X("mqtt.retain_available", mqtt_retain_available, BOOL, NONE,	\
	    "true", 0, 0, CONFIG_F_RELOAD,				\
	    "Whether clients may publish retained messages.")		\
	X("mqtt.wildcard_subscription", mqtt_wildcard_subscription,	\
	    BOOL, NONE, "true", 0, 0, CONFIG_F_RELOAD,			\
	    "Whether topic filters may contain the wildcards + and #.")	\
	X("mqtt.shared_subscription", mqtt_shared_subscription, BOOL,	\
	    NONE, "true", 0, 0, CONFIG_F_RELOAD,			\
	    "Whether $share/GROUP/FILTER subscriptions are allowed.")	\
	X("mqtt.exclusive_subscription", mqtt_exclusive_subscription,	\
	    BOOL, NONE, "false", 0, 0, CONFIG_F_RELOAD,			\
	    "Whether $exclusive/FILTER subscriptions are allowed.")	\
	X("mqtt.ignore_loop_deliver", mqtt_ignore_loop_deliver, BOOL,	\
	    NONE, "false", 0, 0, CONFIG_F_RELOAD,			\
	    "Do not deliver a client's own messages back to it (MQTT 5 " \
	    "clients ask for this with No Local).")			\
	X("mqtt.strict_mode", mqtt_strict_mode, BOOL, NONE,		\
	    "false", 0, 0, CONFIG_F_RELOAD,				\
	    "Check topics and UTF-8 payloads strictly.")		\
	X("mqtt.max_subscriptions", mqtt_max_subscriptions, INT, NONE,	\
	    "infinity", 0, CONFIG_NOMAX, CONFIG_F_RELOAD | CONFIG_F_INF, \
	    "Most subscriptions one client may hold.")			\
	X("mqtt.upgrade_qos", mqtt_upgrade_qos, BOOL, NONE,		\
	    "false", 0, 0, CONFIG_F_RELOAD,				\
	    "Deliver at the subscription's QoS even when the message was " \
	    "published at a lower one.")				\
	X("mqtt.max_inflight", mqtt_max_inflight, INT, NONE,		\
	    "32", 1, 65535, CONFIG_F_RELOAD,				\
	    "Most QoS 1 and 2 messages sent to a client and not yet "	\
	    "acknowledged.")						\
	X("mqtt.retry_interval", mqtt_retry_interval, DURATION, NONE,	\
	    "30s", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,			\
	    "Resend an unacknowledged QoS 1 or 2 message after this long.") \
	X("mqtt.max_awaiting_rel", mqtt_max_awaiting_rel, INT, NONE,	\
	    "100", 0, CONFIG_NOMAX, CONFIG_F_RELOAD | CONFIG_F_INF,	\
	    "Most incoming QoS 2 messages of a client awaiting PUBREL.") \
	X("mqtt.await_rel_timeout", mqtt_await_rel_timeout, DURATION,	\
	    NONE, "300s", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,		\
	    "Drop an incoming QoS 2 message whose PUBREL has not come "	\
	    "after this long.")						\
	X("mqtt.session_expiry_interval", mqtt_session_expiry_interval,	\
	    DURATION, NONE, "2h", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,	\
	    "Session expiry of MQTT 3 clients connecting with "		\
	    "clean_session false; MQTT 5 clients choose their own.")	\
	X("mqtt.max_mqueue_len", mqtt_max_mqueue_len, INT, NONE,	\
	    "1000", 0, CONFIG_NOMAX, CONFIG_F_RELOAD | CONFIG_F_INF,	\
	    "Most messages queued for an offline or stuck session; beyond " \
	    "it the oldest are dropped and counted.  A session that still " \
	    "reads slows its publishers down from half of it, and may " \
	    "queue up to twice it meanwhile.")				\
	X("mqtt.mqueue_store_qos0", mqtt_mqueue_store_qos0, BOOL, NONE,	\
	    "true", 0, 0, CONFIG_F_RELOAD,				\
	    "Whether QoS 0 messages are queued for offline sessions.")	\
	X("mqtt.use_username_as_clientid",				\
	    mqtt_use_username_as_clientid, BOOL, NONE,			\
	    "false", 0, 0, CONFIG_F_RELOAD,				\
	    "Replace each client's id with its username.")		\
	X("mqtt.peer_cert_as_username", mqtt_peer_cert_as_username,	\
	    ENUM, PEER_CERT, "disabled", 0, 0, CONFIG_F_RELOAD,		\
	    "Take the username from the TLS client certificate: its cn " \
	    "or its dn.")						\
	X("mqtt.peer_cert_as_clientid", mqtt_peer_cert_as_clientid,	\
	    ENUM, PEER_CERT, "disabled", 0, 0, CONFIG_F_RELOAD,		\
	    "Take the client id from the TLS client certificate: its cn " \
	    "or its dn.")						\
	X("mqtt.idle_timeout", mqtt_idle_timeout, DURATION, NONE,	\
	    "15s", 0, CONFIG_NOMAX, CONFIG_F_RELOAD | CONFIG_F_INF,	\
	    "Close a connection that has not sent CONNECT after this long.") \
	X("mqtt.close_linger", mqtt_close_linger, DURATION, NONE,	\
	    "2s", 0, 60000, CONFIG_F_RELOAD,				\
	    "After the broker ends a connection (DISCONNECT, refused "	\
	    "CONNACK, timeout, kick) its socket is shut for writing and " \
	    "read and discarded until the client closes, at most this "	\
	    "long, so that a client still sending reads the reason code " \
	    "instead of a reset; 0s closes at once.")			\
	X("mqtt.close_linger_max", mqtt_close_linger_max, INT, NONE,	\
	    "256", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,			\
	    "Most sockets lingering after close per worker thread; "	\
	    "beyond it a socket is closed at once.")			\
	X("mqtt.keepalive_multiplier", mqtt_keepalive_multiplier,	\
	    FLOAT, NONE, "1.5", 1, 100, CONFIG_F_RELOAD,		\
	    "Disconnect a client silent for its keep alive times this.") \
	X("mqtt.server_keepalive", mqtt_server_keepalive, INT, NONE,	\
	    "disabled", 1, 65535, CONFIG_F_RELOAD | CONFIG_F_DISABLED,	\
	    "Keep alive in seconds imposed on MQTT 5 clients, or "	\
	    "disabled to accept theirs (stored as 0).")			\
	X("mqtt.response_information", mqtt_response_information,	\
	    STRING, NONE, "", 0, 0, CONFIG_F_RELOAD,			\
	    "Response Information sent to MQTT 5 clients that ask; "	\
	    "empty sends none.")					\
	X("mqtt.shared_subscription_strategy",				\
	    mqtt_shared_subscription_strategy, ENUM, SHARED,		\
	    "round_robin", 0, 0, CONFIG_F_RELOAD,			\
	    "How a shared subscription group picks the member that gets " \
	    "a message (alias: broker.shared_subscription_strategy).")	\
	X("durable_sessions.enable", durable_sessions_enable, BOOL,	\
	    NONE, "true", 0, 0, CONFIG_F_RESTART,			\
	    "Keep the sessions of clients with clean_start false and a " \
	    "session expiry in durable storage.")			\
	X("durable_sessions.batch_size", durable_sessions_batch_size,	\
	    INT, NONE, "100", 1, 100000, CONFIG_F_RESTART,		\
	    "Most messages committed to storage with one fsync (group " \
	    "commit across all workers).")				\
	X("durable_sessions.idle_poll_interval",			\
	    durable_sessions_idle_poll_interval, DURATION, NONE,	\
	    "10s", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,			\
	    "builtin_local hands new messages to sessions as they are "	\
	    "stored, so no session polls; while storage writes fail "	\
	    "(a full disk), the store is opened again at most this "	\
	    "often to see whether it takes writes.")			\
	X("durable_sessions.heartbeat_interval",			\
	    durable_sessions_heartbeat_interval, DURATION, NONE,	\
	    "5s", 0, CONFIG_NOMAX, CONFIG_F_RESTART,			\
	    "How often the node records that it is alive: after a "	\
	    "crash, sessions that were connected count their expiry "	\
	    "from the last record.")					\
	X("durable_sessions.renew_streams_interval",			\
	    durable_sessions_renew_streams_interval, DURATION, NONE,	\
	    "5s", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,			\
	    "Accepted for EMQX configurations; builtin_local has no "	\
	    "streams to renew.")					\
	X("durable_sessions.session_gc_interval",			\
	    durable_sessions_session_gc_interval, DURATION, NONE,	\
	    "10m", 0, CONFIG_NOMAX, CONFIG_F_RESTART,			\
	    "How often a sweep deletes stored messages and queue "	\
	    "entries that no session references, then compacts the "	\
	    "store.  Sessions are deleted when they expire.")		\
	X("durable_sessions.session_gc_batch_size",			\
	    durable_sessions_session_gc_batch_size, INT, NONE,		\
	    "100", 1, 100000, CONFIG_F_RELOAD,				\
	    "Most deletions the sweep writes at once.")			\
	X("durable_sessions.message_retention_period",			\
	    durable_sessions_message_retention_period, DURATION, NONE,	\
	    "1d", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,			\
	    "Accepted for EMQX configurations, not applied yet: a "	\
	    "stored message is kept until every session that wants it " \
	    "has it, drops it (max_mqueue_len) or expires.")		\
	X("durable_storage.messages.backend",				\
	    durable_storage_messages_backend, ENUM, DS_BACKEND,		\
	    "builtin_local", 0, 0, CONFIG_F_RESTART,			\
	    "builtin_local keeps messages in this node's store; "	\
	    "builtin_raft replicates shards with Raft over core nodes.") \
	X("durable_storage.messages.n_shards",				\
	    durable_storage_messages_n_shards, INT, NONE,		\
	    "12", 1, 1024, CONFIG_F_RESTART,				\
	    "Number of shards messages are split into.")		\
	X("durable_storage.messages.replication_factor",		\
	    durable_storage_messages_replication_factor, INT, NONE,	\
	    "3", 1, 9, CONFIG_F_RESTART,				\
	    "Replicas of each shard (builtin_raft).")			\
	X("durable_storage.messages.data_dir",				\
	    durable_storage_messages_data_dir, STRING, NONE,		\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "Directory for message storage; empty means node.data_dir.") \
	X("durable_storage.messages.flush_interval",			\
	    durable_storage_messages_flush_interval, DURATION, NONE,	\
	    "0ms", 0, 1000, CONFIG_F_RESTART,				\
	    "Group commit: how long a write may wait for more to share " \
	    "its fsync, up to durable_sessions.batch_size messages; 0 "	\
	    "commits as soon as the disk is free, which batches "	\
	    "whatever arrived meanwhile.")				\
	X("retainer.enable", retainer_enable, BOOL, NONE,		\
	    "true", 0, 0, CONFIG_F_RELOAD,				\
	    "Whether retained messages are stored and delivered.")	\
	X("retainer.max_payload_size", retainer_max_payload_size, SIZE,	\
	    NONE, "1MB", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,		\
	    "Largest payload kept as a retained message.")		\
	X("retainer.msg_expiry_interval", retainer_msg_expiry_interval,	\
	    DURATION, NONE, "0s", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,	\
	    "Drop retained messages after this long; 0s keeps them "	\
	    "(a message's own expiry interval still applies).")		\
	X("retainer.max_retained_messages",				\
	    retainer_max_retained_messages, INT, NONE,			\
	    "0", 0, CONFIG_NOMAX, CONFIG_F_RELOAD,			\
	    "Most retained messages stored; 0 means no limit.")		\
	X("dashboard.listeners.http.enable",				\
	    dashboard_listeners_http_enable, BOOL, NONE,		\
	    "true", 0, 0, CONFIG_F_RESTART,				\
	    "Whether the HTTP server runs.")				\
	X("dashboard.listeners.http.bind",				\
	    dashboard_listeners_http_bind, STRING, NONE,		\
	    "0.0.0.0:18083", 0, 0, CONFIG_F_RESTART,			\
	    "Address of the HTTP server: PORT, IP:PORT or [IPV6]:PORT, " \
	    "kept as written.")						\
	X("dashboard.default_username", dashboard_default_username,	\
	    STRING, NONE, "admin", 0, 0, CONFIG_F_RESTART,		\
	    "User created on first start.")				\
	X("dashboard.default_password", dashboard_default_password,	\
	    STRING, NONE, "public", 0, 0, CONFIG_F_RESTART,		\
	    "Password of that user; the dashboard asks to change it.")	\
	X("dashboard.token_expired_time", dashboard_token_expired_time,	\
	    DURATION, NONE, "60m", 1000, CONFIG_NOMAX, CONFIG_F_RELOAD,	\
	    "Lifetime of a login token.")				\
	X("dashboard.cors", dashboard_cors, BOOL, NONE,			\
	    "false", 0, 0, CONFIG_F_RELOAD,				\
	    "Allow cross-origin requests to the REST API.")		\
	X("sys_topics.sys_msg_interval", sys_topics_sys_msg_interval,	\
	    DURATION, NONE, "1m", 0, CONFIG_NOMAX,			\
	    CONFIG_F_RELOAD | CONFIG_F_DISABLED,			\
	    "How often $SYS broker statistics are published; disabled "	\
	    "(or 0s) publishes none.")					\
	X("sys_topics.sys_heartbeat_interval",				\
	    sys_topics_sys_heartbeat_interval, DURATION, NONE,		\
	    "30s", 0, CONFIG_NOMAX, CONFIG_F_RELOAD | CONFIG_F_DISABLED, \
	    "How often $SYS uptime and datetime are published; disabled " \
	    "(or 0s) publishes none.")					\
	X("sys_topics.sys_event_messages.client_connected",		\
	    sys_topics_sys_event_messages_client_connected, BOOL, NONE,	\
	    "true", 0, 0, CONFIG_F_RELOAD,				\
	    "Publish $SYS/brokers/NODE/clients/ID/connected (JSON) when "	\
	    "a client connects.")					\
	X("sys_topics.sys_event_messages.client_disconnected",		\
	    sys_topics_sys_event_messages_client_disconnected, BOOL, NONE, \
	    "true", 0, 0, CONFIG_F_RELOAD,				\
	    "Publish $SYS/brokers/NODE/clients/ID/disconnected (JSON) when " \
	    "a client disconnects.")					\
	X("log.console.enable", log_console_enable, BOOL, NONE,		\
	    "true", 0, 0, CONFIG_F_RESTART,				\
	    "Log to standard error when running in the foreground.")	\
	X("log.console.level", log_console_level, KEYWORD, LOG_LEVEL,	\
	    "notice", 0, 0, CONFIG_F_RELOAD,				\
	    "Least severe level logged to the console.")		\
	X("log.file.enable", log_file_enable, BOOL, NONE,		\
	    "false", 0, 0, CONFIG_F_RESTART,				\
	    "Log to a file.")						\
	X("log.file.path", log_file_path, STRING, NONE,			\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "The log file; empty means node.data_dir/log/flockmq.log.")	\
	X("log.file.level", log_file_level, KEYWORD, LOG_LEVEL,		\
	    "notice", 0, 0, CONFIG_F_RELOAD,				\
	    "Least severe level logged to the file.")

/* Keys of each listener, relative to listeners.TYPE.NAME. */
#define LISTENER_TABLE(X)						\
	X("enable", enable, BOOL, NONE,					\
	    "true", 0, 0, CONFIG_F_RELOAD,				\
	    "Whether the listener accepts connections.")		\
	X("bind", bind, STRING, NONE,					\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "PORT, IP:PORT or [IPV6]:PORT; by default 0.0.0.0 and port " \
	    "1883 (tcp), 8883 (ssl), 8083 (ws) or 8084 (wss).")		\
	X("max_connections", max_connections, INT, NONE,		\
	    "infinity", 1, CONFIG_NOMAX, CONFIG_F_RELOAD | CONFIG_F_INF, \
	    "Most connections open at once on this listener.")		\
	X("max_conn_rate", max_conn_rate, RATE, NONE,			\
	    "infinity", 0, 0, CONFIG_F_RELOAD,				\
	    "Most connections accepted per second, e.g. 1000/s.")	\
	X("messages_rate", messages_rate, RATE, NONE,			\
	    "infinity", 0, 0, CONFIG_F_RELOAD,				\
	    "Most messages each client may publish, e.g. 100/s; above it " \
	    "reading pauses (alias: limiter.messages).")		\
	X("bytes_rate", bytes_rate, BYTERATE, NONE,			\
	    "infinity", 0, 0, CONFIG_F_RELOAD,				\
	    "Most bytes each client may send, e.g. 1MB/s; above it "	\
	    "reading pauses (alias: limiter.bytes).")			\
	X("acceptors", acceptors, INT, NONE,				\
	    "16", 1, 1024, CONFIG_F_RESTART,				\
	    "Accepted for EMQX compatibility; every worker accepts.")	\
	X("mountpoint", mountpoint, STRING, NONE,			\
	    "", 0, 0, CONFIG_F_RELOAD,					\
	    "Prefix added to the topics of this listener's clients.")	\
	X("proxy_protocol", proxy_protocol, BOOL, NONE,			\
	    "false", 0, 0, CONFIG_F_RESTART,				\
	    "Expect a PROXY protocol v1 or v2 header on each connection.") \
	X("ssl_options.certfile", ssl_certfile, STRING, NONE,		\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "Server certificate chain, PEM (ssl and wss).")		\
	X("ssl_options.keyfile", ssl_keyfile, STRING, NONE,		\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "Private key of the certificate, PEM.")			\
	X("ssl_options.cacertfile", ssl_cacertfile, STRING, NONE,	\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "CA certificates that client certificates are checked "	\
	    "against, PEM.")						\
	X("ssl_options.verify", ssl_verify, ENUM, SSL_VERIFY,		\
	    "verify_none", 0, 0, CONFIG_F_RESTART,			\
	    "verify_peer checks the client certificates that are sent.") \
	X("ssl_options.fail_if_no_peer_cert", ssl_fail_if_no_peer_cert,	\
	    BOOL, NONE, "false", 0, 0, CONFIG_F_RESTART,		\
	    "With verify_peer, refuse clients that send no certificate.") \
	X("ssl_options.versions", ssl_versions, STRLIST, TLS_VERSION,	\
	    "tlsv1.3,tlsv1.2", 0, 0, CONFIG_F_RESTART,			\
	    "TLS versions offered.")					\
	X("ssl_options.ciphers", ssl_ciphers, STRLIST, NONE,		\
	    "", 0, 0, CONFIG_F_RESTART,					\
	    "Cipher suites offered; empty means the TLS library's "	\
	    "defaults.")						\
	X("ssl_options.handshake_timeout", ssl_handshake_timeout,	\
	    DURATION, NONE, "15s", 1, CONFIG_NOMAX, CONFIG_F_RESTART,	\
	    "Close a connection whose TLS handshake takes longer.")	\
	X("websocket.mqtt_path", ws_mqtt_path, STRING, NONE,		\
	    "/mqtt", 0, 0, CONFIG_F_RESTART,				\
	    "HTTP path of the WebSocket endpoint (ws and wss).")	\
	X("websocket.max_frame_size", ws_max_frame_size, SIZE, NONE,	\
	    "infinity", 1, CONFIG_NOMAX, CONFIG_F_RESTART | CONFIG_F_INF, \
	    "Largest WebSocket frame accepted.")			\
	X("websocket.proxy_address_header", ws_proxy_address_header,	\
	    STRING, NONE, "x-forwarded-for", 0, 0, CONFIG_F_RESTART,	\
	    "Header a reverse proxy puts the client address in.")	\
	X("websocket.proxy_port_header", ws_proxy_port_header, STRING,	\
	    NONE, "x-forwarded-port", 0, 0, CONFIG_F_RESTART,		\
	    "Header a reverse proxy puts the client port in.")

/*
 * Other spellings of keys: X(alias, key, env_only).  Prefixes are rewritten:
 * an alias of a listener key is relative to listeners.TYPE.NAME.  env_only
 * aliases are only looked up for environment variables (EMQX_NODE_NAME).
 */
#define CONFIG_ALIASES(X)						\
	X("broker.shared_subscription_strategy",			\
	    "mqtt.shared_subscription_strategy", 0)			\
	X("node_name", "node.name", 1)					\
	X("node_cookie", "node.cookie", 1)

#define LISTENER_ALIASES(X)						\
	X("limiter.messages", "messages_rate", 0)			\
	X("limiter.bytes", "bytes_rate", 0)

#endif
