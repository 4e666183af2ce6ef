/*
 * t/unit/config.c: unit tests for the configuration (src/config.c).
 *
 * Each test loads YAML written to a file under a mkdtemp directory, or an
 * environment array, and checks the typed fields or the exact message.
 * FLOCKMQ_SRC (or srcdir) locates etc/flockmq.yaml, which must equal the
 * output of config_example().
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "tap.h"
#include "xmalloc.h"

static char	*tmpdir;
static int	 nfile;
static char	*last_path;

/* Write text to a new file in tmpdir; returns its path (kept in last_path). */
static const char *
put_file(const char *text)
{
	FILE	*f;

	free(last_path);
	xasprintf(&last_path, "%s/t%d.yaml", tmpdir, ++nfile);
	if ((f = fopen(last_path, "w")) == NULL)
		fatal("cannot write %s", last_path);
	fputs(text, f);
	fclose(f);
	return (last_path);
}

/* Load text over the defaults and check it; NULL and *cause on error. */
static struct config *
load(const char *text, char **cause)
{
	struct config	*c = config_new();

	*cause = NULL;
	if (config_load_file(c, put_file(text), cause) != 0 ||
	    config_check(c, cause) != 0) {
		config_free(c);
		return (NULL);
	}
	return (c);
}

/* Load text that must load; reports the error if not. */
static struct config *
load_ok(const char *text)
{
	struct config	*c;
	char		*cause;

	if ((c = load(text, &cause)) == NULL) {
		diag("unexpected error: %s", cause);
		free(cause);
		c = config_new();
	}
	return (c);
}

/* Load text that must fail with the message want (FILE: is the file). */
static int
load_fails(const char *text, const char *want)
{
	struct config	*c;
	char		*cause, *full;
	int		 r;

	if ((c = load(text, &cause)) != NULL) {
		config_free(c);
		diag("loaded, expected: %s", want);
		return (0);
	}
	if (strncmp(want, "FILE:", 5) == 0)
		xasprintf(&full, "%s:%s", last_path, want + 5);
	else
		full = xstrdup(want);
	if (!(r = strcmp(cause, full) == 0))
		diag("got '%s'\n#  want '%s'", cause, full);
	free(full);
	free(cause);
	return (r);
}

/* Apply env over a config loaded from text; the error or NULL. */
static char *
env_error(struct config *c, char **envp)
{
	char	*cause = NULL;

	if (config_load_env(c, envp, &cause) == 0 &&
	    config_check(c, &cause) == 0)
		return (NULL);
	return (cause);
}

/* The YAML dump of c as a string. */
static char *
dump(const struct config *c)
{
	char	*s;
	size_t	 len;
	FILE	*f = open_memstream(&s, &len);

	config_dump(c, f);
	fclose(f);
	return (s);
}

/* The example file as a string. */
static char *
example(void)
{
	char	*s;
	size_t	 len;
	FILE	*f = open_memstream(&s, &len);

	config_example(f);
	fclose(f);
	return (s);
}

/* Does the dump of c equal that of the config loaded from text? */
static int
same_as(const struct config *c, const char *text)
{
	struct config	*d = load_ok(text);
	char		*a = dump(c), *b = dump(d);
	int		 r = strcmp(a, b) == 0;

	free(a);
	free(b);
	config_free(d);
	return (r);
}

static void
test_defaults(void)
{
	struct config			*c = config_new();
	const struct config_listener	*l;
	char				*cause = NULL;

	ok(strcmp(c->node_name, "flockmq@127.0.0.1") == 0, "node.name");
	ok(strcmp(c->node_cookie, "flockmqsecretcookie") == 0, "node.cookie");
	ok(c->node_role == NODE_ROLE_CORE, "node.role core");
	ok(strcmp(c->node_data_dir, FLOCKMQ_DATA_DIR) == 0, "node.data_dir");
	ok(strcmp(c->cluster_name, "flockmqcl") == 0, "cluster.name");
	ok(c->cluster_discovery_strategy == DISCOVERY_MANUAL, "discovery");
	ok(c->cluster_static_seeds.n == 0 && c->cluster_core_nodes.n == 0,
	    "no seeds, no core nodes");
	ok(c->cluster_autoclean == 24 * 3600 * 1000, "autoclean 24h");
	ok(c->cluster_autoheal, "autoheal");
	ok(c->mqtt_workers == 0 && c->mqtt_max_packet_size == 1 << 20,
	    "workers 0, max_packet_size 1MB");
	ok(c->mqtt_max_clientid_len == 65535 && c->mqtt_max_topic_levels ==
	    128 && c->mqtt_max_qos_allowed == 2 && c->mqtt_max_topic_alias ==
	    65535, "mqtt limits");
	ok(c->mqtt_retain_available && c->mqtt_wildcard_subscription &&
	    c->mqtt_shared_subscription && !c->mqtt_exclusive_subscription &&
	    !c->mqtt_ignore_loop_deliver && !c->mqtt_strict_mode &&
	    !c->mqtt_upgrade_qos && c->mqtt_mqueue_store_qos0 &&
	    !c->mqtt_use_username_as_clientid, "mqtt booleans");
	ok(c->mqtt_max_subscriptions == CONFIG_INFINITY, "max_subscriptions");
	ok(c->mqtt_max_inflight == 32 && c->mqtt_retry_interval == 30000 &&
	    c->mqtt_max_awaiting_rel == 100 &&
	    c->mqtt_await_rel_timeout == 300000, "inflight, qos2");
	ok(c->mqtt_session_expiry_interval == 7200000 &&
	    c->mqtt_max_mqueue_len == 1000 && c->mqtt_idle_timeout == 15000,
	    "session expiry, mqueue, idle");
	ok(c->mqtt_peer_cert_as_username == PEER_CERT_DISABLED &&
	    c->mqtt_peer_cert_as_clientid == PEER_CERT_DISABLED, "peer cert");
	ok(c->mqtt_keepalive_multiplier == 1.5 &&
	    c->mqtt_server_keepalive == 0, "keepalive");
	ok(strcmp(c->mqtt_response_information, "") == 0, "response info");
	ok(c->mqtt_shared_subscription_strategy == SHARED_ROUND_ROBIN,
	    "shared strategy round_robin");
	ok(c->durable_sessions_enable && c->durable_sessions_batch_size ==
	    100 && c->durable_sessions_idle_poll_interval == 10000 &&
	    c->durable_sessions_heartbeat_interval == 5000 &&
	    c->durable_sessions_renew_streams_interval == 5000 &&
	    c->durable_sessions_session_gc_interval == 600000 &&
	    c->durable_sessions_session_gc_batch_size == 100 &&
	    c->durable_sessions_message_retention_period == 86400000,
	    "durable_sessions");
	ok(c->durable_storage_messages_backend == DS_BACKEND_BUILTIN_LOCAL &&
	    c->durable_storage_messages_n_shards == 12 &&
	    c->durable_storage_messages_replication_factor == 3 &&
	    *c->durable_storage_messages_data_dir == '\0', "durable_storage");
	ok(c->retainer_enable && c->retainer_max_payload_size == 1 << 20 &&
	    c->retainer_msg_expiry_interval == 0 &&
	    c->retainer_max_retained_messages == 0, "retainer");
	ok(c->dashboard_listeners_http_enable &&
	    strcmp(c->dashboard_listeners_http_bind, "0.0.0.0:18083") == 0 &&
	    strcmp(c->dashboard_default_username, "admin") == 0 &&
	    strcmp(c->dashboard_default_password, "public") == 0 &&
	    c->dashboard_token_expired_time == 3600000 && !c->dashboard_cors,
	    "dashboard");
	ok(c->sys_topics_sys_msg_interval == 60000 &&
	    c->sys_topics_sys_heartbeat_interval == 30000, "sys_topics");
	ok(c->log_console_enable && strcmp(c->log_console_level, "notice") ==
	    0 && !c->log_file_enable && *c->log_file_path == '\0' &&
	    strcmp(c->log_file_level, "notice") == 0, "log");
	ok(c->n_listeners == 1, "one listener");
	l = config_find_listener(c, "tcp:default");
	ok(l != NULL && l->type == CONFIG_L_TCP &&
	    strcmp(l->name, "default") == 0, "tcp:default");
	ok(l != NULL && l->enable && strcmp(l->bind, "0.0.0.0:1883") == 0 &&
	    l->max_connections == CONFIG_INFINITY && isinf(l->max_conn_rate) &&
	    isinf(l->messages_rate) && isinf(l->bytes_rate) &&
	    l->acceptors == 16 && *l->mountpoint == '\0' && !l->proxy_protocol,
	    "tcp:default values");
	ok(l != NULL && *l->ssl_certfile == '\0' && l->ssl_verify ==
	    CONFIG_VERIFY_NONE && !l->ssl_fail_if_no_peer_cert &&
	    l->ssl_versions.n == 2 && strcmp(l->ssl_versions.v[0],
	    "tlsv1.3") == 0 && strcmp(l->ssl_versions.v[1], "tlsv1.2") == 0 &&
	    l->ssl_ciphers.n == 0 && l->ssl_handshake_timeout == 15000,
	    "tcp:default ssl_options");
	ok(l != NULL && strcmp(l->ws_mqtt_path, "/mqtt") == 0 &&
	    l->ws_max_frame_size == CONFIG_INFINITY &&
	    strcmp(l->ws_proxy_address_header, "x-forwarded-for") == 0 &&
	    strcmp(l->ws_proxy_port_header, "x-forwarded-port") == 0,
	    "tcp:default websocket");
	ok(config_find_listener(c, "ssl:default") == NULL, "no ssl:default");
	ok(config_check(c, &cause) == 0, "defaults pass config_check");
	free(cause);
	config_free(c);
	config_free(NULL);
}

/* Field names are the key paths with '.' -> '_'. */
static void
test_field_names(void)
{
	char	*want, *p;
	int	 bad = 0;

#define CHECK_FIELD(path, field, type, choices, def, min, max, flags,	\
	    help)							\
	want = xstrdup(path);						\
	for (p = want; *p != '\0'; p++)					\
		if (*p == '.')						\
			*p = '_';					\
	if (strcmp(want, #field) != 0) {				\
		diag("%s is field %s", path, #field);			\
		bad++;							\
	}								\
	free(want);
	CONFIG_TABLE(CHECK_FIELD)
	ok(bad == 0, "every field is named by its path");
	ok(SHARED_RANDOM == 0 && SHARED_ROUND_ROBIN == 1 &&
	    SHARED_STICKY == 2 && SHARED_HASH_CLIENTID == 3 &&
	    SHARED_HASH_TOPIC == 4, "shared strategy constants");
	ok(NODE_ROLE_CORE == 0 && NODE_ROLE_REPLICANT == 1 &&
	    DISCOVERY_MANUAL == 0 && DISCOVERY_STATIC == 1 &&
	    DS_BACKEND_BUILTIN_LOCAL == 0 && DS_BACKEND_BUILTIN_RAFT == 1 &&
	    PEER_CERT_DISABLED == 0 && PEER_CERT_CN == 1 && PEER_CERT_DN == 2 &&
	    CONFIG_VERIFY_NONE == 0 && CONFIG_VERIFY_PEER == 1,
	    "enum constants");
}

static void
test_durations(void)
{
	static const struct {
		const char	*text;
		int64_t		 ms;
	} t[] = {
		{ "100ms", 100 }, { "5s", 5000 }, { "10m", 600000 },
		{ "1h", 3600000 }, { "2d", 172800000 }, { "1h30m", 5400000 },
		{ "250", 250 }, { "0s", 0 }, { "3S", 3000 },
	};
	struct config	*c;
	char		*y;
	size_t		 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		xasprintf(&y, "mqtt.retry_interval: %s\n", t[i].text);
		c = load_ok(y);
		ok(c->mqtt_retry_interval == t[i].ms, "duration %s", t[i].text);
		config_free(c);
		free(y);
	}
	c = load_ok("mqtt.idle_timeout: infinity\n"
	    "sys_topics.sys_msg_interval: disabled\n");
	ok(c->mqtt_idle_timeout == CONFIG_INFINITY, "duration infinity");
	ok(c->sys_topics_sys_msg_interval == 0, "duration disabled is 0");
	config_free(c);
	ok(load_fails("mqtt:\n  retry_interval: infinity\n",
	    "FILE:2:19: mqtt.retry_interval: expected a duration (100ms, 5s, "
	    "10m, 1h, 2d), got 'infinity'"), "infinity only where allowed");
	ok(load_fails("mqtt.retry_interval: 5x\n",
	    "FILE:1:22: mqtt.retry_interval: expected a duration (100ms, 5s, "
	    "10m, 1h, 2d), got '5x'"), "bad duration unit");
	ok(load_fails("mqtt.retry_interval: -5s\n",
	    "FILE:1:22: mqtt.retry_interval: expected a duration (100ms, 5s, "
	    "10m, 1h, 2d), got '-5s'"), "negative duration");
	ok(load_fails("mqtt.retry_interval: 99999999999999999999d\n",
	    "FILE:1:22: mqtt.retry_interval: '99999999999999999999d' is too "
	    "large"), "duration overflow");
	ok(load_fails("dashboard.token_expired_time: 10ms\n",
	    "FILE:1:31: dashboard.token_expired_time: 10ms is out of range "
	    "(at least 1s)"), "duration below minimum");
}

static void
test_sizes(void)
{
	static const struct {
		const char	*text;
		int64_t		 bytes;
	} t[] = {
		{ "1MB", 1 << 20 }, { "64KB", 64 << 10 }, { "512B", 512 },
		{ "1GB", 1 << 30 }, { "2mb", 2 << 20 }, { "3kb", 3 << 10 },
		{ "1000", 1000 },
	};
	struct config	*c;
	char		*y;
	size_t		 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		xasprintf(&y, "retainer.max_payload_size: %s\n", t[i].text);
		c = load_ok(y);
		ok(c->retainer_max_payload_size == t[i].bytes, "size %s",
		    t[i].text);
		config_free(c);
		free(y);
	}
	ok(load_fails("mqtt:\n  max_packet_size: 512MB\n",
	    "FILE:2:20: mqtt.max_packet_size: 512MB is out of range "
	    "(1B..256MB)"), "size out of range");
	ok(load_fails("mqtt:\n  max_packet_size: 1XB\n",
	    "FILE:2:20: mqtt.max_packet_size: expected a size (512B, 64KB, "
	    "1MB, 1GB), got '1XB'"), "bad size unit");
	c = load_ok("listeners.ws.default.websocket.max_frame_size: 64KB\n");
	ok(config_find_listener(c, "ws:default")->ws_max_frame_size ==
	    64 << 10, "listener size");
	config_free(c);
}

static void
test_rates(void)
{
	struct config			*c;
	const struct config_listener	*l;

	c = load_ok("listeners.tcp.default:\n"
	    "  max_conn_rate: 1000/s\n"
	    "  messages_rate: 100/10s\n"
	    "  bytes_rate: 1MB/s\n");
	l = config_find_listener(c, "tcp:default");
	ok(l->max_conn_rate == 1000, "rate 1000/s");
	ok(l->messages_rate == 10, "rate 100/10s");
	ok(l->bytes_rate == 1 << 20, "rate 1MB/s");
	config_free(c);
	c = load_ok("listeners.tcp.default:\n"
	    "  max_conn_rate: 60/m\n"
	    "  messages_rate: 500\n"
	    "  bytes_rate: 10KB/m\n");
	l = config_find_listener(c, "tcp:default");
	ok(l->max_conn_rate == 1, "rate 60/m");
	ok(l->messages_rate == 500, "bare rate is per second");
	ok(fabs(l->bytes_rate - 10240.0 / 60) < 1e-9, "rate 10KB/m");
	config_free(c);
	c = load_ok("listeners.tcp.default.messages_rate: 1000/s\n"
	    "listeners.tcp.default.messages_rate: infinity\n");
	ok(isinf(config_find_listener(c, "tcp:default")->messages_rate),
	    "rate infinity");
	config_free(c);
	ok(load_fails("listeners.tcp.default.messages_rate: 1MB/s\n",
	    "FILE:1:38: listeners.tcp.default.messages_rate: expected a rate "
	    "(1000/s, 100/10s), got '1MB/s'"), "size units only for bytes");
	ok(load_fails("listeners.tcp.default.max_conn_rate: 0/s\n",
	    "FILE:1:38: listeners.tcp.default.max_conn_rate: '0/s' must be a "
	    "positive rate or infinity"), "zero rate");
	ok(load_fails("listeners.tcp.default.max_conn_rate: 10/0s\n",
	    "FILE:1:38: listeners.tcp.default.max_conn_rate: expected a rate "
	    "(1000/s, 100/10s), got '10/0s'"), "zero period");
}

static void
test_bools_floats(void)
{
	static const struct {
		const char	*text;
		bool		 v;
	} t[] = {
		{ "true", 1 }, { "false", 0 }, { "on", 1 }, { "off", 0 },
		{ "yes", 1 }, { "no", 0 }, { "True", 1 }, { "\"false\"", 0 },
	};
	struct config	*c;
	char		*y;
	size_t		 i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		xasprintf(&y, "dashboard.cors: %s\n", t[i].text);
		c = load_ok(y);
		ok(c->dashboard_cors == t[i].v, "bool %s", t[i].text);
		config_free(c);
		free(y);
	}
	ok(load_fails("dashboard.cors: maybe\n",
	    "FILE:1:17: dashboard.cors: expected true or false, got 'maybe'"),
	    "bad bool");
	c = load_ok("mqtt.keepalive_multiplier: 2.25\n");
	ok(c->mqtt_keepalive_multiplier == 2.25, "float");
	config_free(c);
	ok(load_fails("mqtt.keepalive_multiplier: 0.5\n",
	    "FILE:1:28: mqtt.keepalive_multiplier: 0.5 is out of range "
	    "(1..100)"), "float out of range");
	ok(load_fails("mqtt.keepalive_multiplier: nan\n",
	    "FILE:1:28: mqtt.keepalive_multiplier: expected a number, got "
	    "'nan'"), "nan is not a number");
	c = load_ok("mqtt.server_keepalive: 60\n");
	ok(c->mqtt_server_keepalive == 60, "server_keepalive 60");
	config_free(c);
	ok(load_fails("mqtt.server_keepalive: 0\n",
	    "FILE:1:24: mqtt.server_keepalive: 0 is out of range (1..65535)"),
	    "server_keepalive 0 is not disabled");
	c = load_ok("mqtt.max_mqueue_len: infinity\n"
	    "mqtt.max_subscriptions: 10\n");
	ok(c->mqtt_max_mqueue_len == CONFIG_INFINITY &&
	    c->mqtt_max_subscriptions == 10, "int or infinity");
	config_free(c);
}

static void
test_strlists(void)
{
	struct config	*c;

	c = load_ok("cluster:\n  static:\n    seeds:\n"
	    "      - flockmq@n1\n      - flockmq@n2\n");
	ok(c->cluster_static_seeds.n == 2 &&
	    strcmp(c->cluster_static_seeds.v[1], "flockmq@n2") == 0,
	    "block sequence");
	ok(same_as(c, "cluster.static.seeds: [flockmq@n1, flockmq@n2]\n"),
	    "flow sequence, unquoted elements");
	ok(same_as(c, "cluster.static.seeds: \"flockmq@n1, flockmq@n2\"\n"),
	    "comma-separated string");
	ok(same_as(c, "cluster.static.seeds: '[flockmq@n1,flockmq@n2]'\n"),
	    "bracketed string");
	config_free(c);
	c = load_ok("cluster.core_nodes: a@b\n");
	ok(c->cluster_core_nodes.n == 1 &&
	    strcmp(c->cluster_core_nodes.v[0], "a@b") == 0, "one element");
	config_free(c);
	c = load_ok("cluster.core_nodes: \"\"\ncluster.static.seeds: []\n");
	ok(c->cluster_core_nodes.n == 0 && c->cluster_static_seeds.n == 0,
	    "empty lists");
	config_free(c);
	ok(load_fails("cluster.core_nodes: [[a]]\n",
	    "FILE:1:21: cluster.core_nodes: expected a list of strings"),
	    "nested list");
	ok(load_fails("listeners.ssl.default.ssl_options.versions: [tlsv1.1]\n",
	    "FILE:1:45: listeners.ssl.default.ssl_options.versions: 'tlsv1.1' "
	    "is not supported by flockmq (allowed: tlsv1.2, tlsv1.3)"),
	    "list element checked");
}

static void
test_nesting(void)
{
	struct config	*c;

	c = load_ok("mqtt:\n  max_inflight: 64\n"
	    "durable_storage:\n  messages:\n    backend: builtin_raft\n");
	ok(c->mqtt_max_inflight == 64 && c->durable_storage_messages_backend ==
	    DS_BACKEND_BUILTIN_RAFT, "nested keys");
	ok(same_as(c, "mqtt.max_inflight: 64\n"
	    "durable_storage.messages.backend: builtin_raft\n"),
	    "dotted keys equal nested ones");
	ok(same_as(c, "durable_storage:\n  messages.backend: builtin_raft\n"
	    "mqtt: {max_inflight: 64}\n"), "mixed nesting");
	config_free(c);
	c = load_ok("mqtt: {max_inflight: 1}\nmqtt.max_inflight: 2\n");
	ok(c->mqtt_max_inflight == 2, "the later key wins");
	config_free(c);
	c = load_ok("");
	ok(same_as(c, "# only a comment\n"), "empty file");
	ok(same_as(c, "mqtt:\nlisteners:\n"), "empty sections");
	config_free(c);
}

static void
test_listeners(void)
{
	struct config			*c;
	const struct config_listener	*l;

	c = load_ok("listeners:\n  tcp:\n    default:\n      bind: 1884\n"
	    "    internal:\n      bind: \"127.0.0.1:11883\"\n"
	    "      limiter:\n        messages: 100/s\n        bytes: 1MB/s\n"
	    "  ws:\n    default: {}\n"
	    "  wss:\n    default:\n      enable: false\n"
	    "  ssl:\n    default:\n      ssl_options:\n"
	    "        certfile: /etc/c.pem\n        keyfile: /etc/k.pem\n"
	    "        verify: verify_peer\n        versions: tlsv1.3\n");
	ok(c->n_listeners == 5, "five listeners");
	l = config_find_listener(c, "tcp:default");
	ok(l != NULL && strcmp(l->bind, "1884") == 0 && l->acceptors == 16,
	    "tcp:default overridden, bind kept as written, rest default");
	ok(c->listeners[0].type == CONFIG_L_TCP &&
	    strcmp(c->listeners[0].id, "tcp:default") == 0,
	    "tcp:default stays first");
	l = config_find_listener(c, "tcp:internal");
	ok(l != NULL && strcmp(l->bind, "127.0.0.1:11883") == 0 &&
	    l->messages_rate == 100 && l->bytes_rate == 1 << 20,
	    "tcp:internal with the limiter alias");
	l = config_find_listener(c, "ws:default");
	ok(l != NULL && l->type == CONFIG_L_WS && l->enable &&
	    strcmp(l->bind, "0.0.0.0:8083") == 0, "ws:default bind 8083");
	l = config_find_listener(c, "wss:default");
	ok(l != NULL && !l->enable && strcmp(l->bind, "0.0.0.0:8084") == 0,
	    "wss:default kept but disabled");
	l = config_find_listener(c, "ssl:default");
	ok(l != NULL && strcmp(l->bind, "0.0.0.0:8883") == 0 &&
	    strcmp(l->ssl_certfile, "/etc/c.pem") == 0 &&
	    l->ssl_verify == CONFIG_VERIFY_PEER && l->ssl_versions.n == 1,
	    "ssl:default with ssl_options");
	config_free(c);
	c = load_ok("listeners.tcp.default.enable: false\n"
	    "listeners.tcp.other.bind: 1883\n");
	ok(c->n_listeners == 2, "a disabled listener does not clash");
	config_free(c);
	c = load_ok("listeners.tcp.default:\n");
	ok(c->n_listeners == 1, "null listener body");
	config_free(c);
	ok(load_fails("listeners:\n  tpc:\n    default:\n      bind: 1\n",
	    "FILE:2:3: unknown listener type 'tpc' in 'listeners.tpc' "
	    "(allowed: tcp, ssl, ws, wss)"), "bad listener type");
	ok(load_fails("listeners.tcp.Bad!.bind: 1\n",
	    "FILE:1:1: invalid listener name in 'listeners.tcp.Bad!.bind' "
	    "(a name is 1 to 64 of a-z, 0-9, _ and -)"), "bad listener name");
	ok(load_fails("listeners.tcp.default.max_connection: 5\n",
	    "FILE:1:1: unknown key 'listeners.tcp.default.max_connection' "
	    "(did you mean 'listeners.tcp.default.max_connections'?)"),
	    "unknown listener key");
	ok(load_fails("listeners.tcp.default: 5\n",
	    "FILE:1:24: listeners.tcp.default: expected a mapping, got a "
	    "value"), "listener must be a mapping");
}

static void
test_aliases(void)
{
	struct config	*c;

	c = load_ok("broker:\n  shared_subscription_strategy: hash_topic\n");
	ok(c->mqtt_shared_subscription_strategy == SHARED_HASH_TOPIC,
	    "broker.shared_subscription_strategy");
	ok(same_as(c, "broker.shared_subscription_strategy: hash_topic\n"),
	    "dotted alias");
	config_free(c);
	ok(load_fails("node_name: a@b\n",
	    "FILE:1:1: unknown key 'node_name' (did you mean 'node.name'?)"),
	    "environment-only alias refused in a file");
}

static void
test_errors(void)
{
	struct config	*c;
	char		*cause;

	ok(load_fails("node:\n  name: a@b\nmqtt.max_inflite: 3\n",
	    "FILE:3:1: unknown key 'mqtt.max_inflite' (did you mean "
	    "'mqtt.max_inflight'?)"), "unknown key, line:col, did you mean");
	ok(load_fails("max_inflight: 3\n",
	    "FILE:1:1: unknown key 'max_inflight' (did you mean "
	    "'mqtt.max_inflight'?)"), "did you mean by last segment");
	ok(load_fails("zzz: 3\n", "FILE:1:1: unknown key 'zzz'"),
	    "unknown key without suggestion");
	ok(load_fails("enable: true\n", "FILE:1:1: unknown key 'enable'"),
	    "no suggestion when several keys end the same way");
	ok(load_fails("mqtt:\n  shared_subscription_strategy: fastest\n",
	    "FILE:2:33: mqtt.shared_subscription_strategy: unknown value "
	    "'fastest' (allowed: random, round_robin, sticky, hash_clientid, "
	    "hash_topic)"), "bad enum lists allowed values");
	ok(load_fails("cluster.discovery_strategy: etcd\n",
	    "FILE:1:29: cluster.discovery_strategy: 'etcd' is not supported "
	    "by flockmq (allowed: manual, static)"),
	    "unsupported EMQX strategy");
	ok(load_fails("mqtt:\n  max_qos_allowed: 3\n",
	    "FILE:2:20: mqtt.max_qos_allowed: 3 is out of range (0..2)"),
	    "out of range");
	ok(load_fails("mqtt:\n  max_inflight: lots\n",
	    "FILE:2:17: mqtt.max_inflight: expected an integer, got 'lots'"),
	    "wrong type");
	ok(load_fails("mqtt.max_subscriptions: many\n",
	    "FILE:1:25: mqtt.max_subscriptions: expected an integer or "
	    "infinity, got 'many'"), "wrong type, infinity allowed");
	ok(load_fails("mqtt.max_inflight: {a: 1}\n",
	    "FILE:1:20: mqtt.max_inflight: expected an integer, got a "
	    "mapping"), "mapping for a value");
	ok(load_fails("mqtt.max_inflight:\n",
	    "FILE:1:19: mqtt.max_inflight: expected an integer, got an empty "
	    "value"), "empty value");
	ok(load_fails("mqtt: [1]\n",
	    "FILE:1:7: mqtt: expected a mapping, got a list"),
	    "list for a section");
	ok(load_fails("- a\n",
	    "FILE:1:1: expected a mapping of keys at the top level"),
	    "top level list");
	ok(load_fails("mqtt:\n  max_inflight: 3\n bad: [\n",
	    "FILE:3:2: syntax error: while parsing a block mapping, did not "
	    "find expected key"), "YAML syntax error");
	ok(load_fails("a: \"\\q\"\n",
	    "FILE:1:5: syntax error: while parsing a quoted scalar, found "
	    "unknown escape character"), "YAML scanner error");
	ok(load_fails("mqtt.max_inflight: 1\n---\nmqtt.max_inflight: 2\n",
	    "FILE:2:1: only one YAML document is allowed"), "two documents");
	ok(load_fails("node.name: \"a\\0b\"\n",
	    "FILE:1:12: node.name: contains a NUL byte"), "NUL in a string");
	c = load("a: &x\n  b: *x\n", &cause);
	ok(c == NULL && strstr(cause, ": too deeply nested or too large") !=
	    NULL, "recursive alias refused");
	free(cause);
}

static void
test_limits(void)
{
	struct config	*c;
	char		*y = NULL, *cause;
	size_t		 i;
	FILE		*f;
	size_t		 len;

	f = open_memstream(&y, &len);
	for (i = 0; i < 40; i++)
		fprintf(f, "%*sk%zu:\n", (int)i, "", i);
	fprintf(f, "%*sv: 1\n", 40, "");
	fclose(f);
	c = load(y, &cause);
	ok(c == NULL && strstr(cause, "too deeply nested") != NULL,
	    "deep nesting refused");
	free(cause);
	free(y);
	f = open_memstream(&y, &len);
	fprintf(f, "a0: &a0 {x: 1}\n");
	for (i = 1; i < 20; i++)
		fprintf(f, "a%zu: &a%zu [*a%zu, *a%zu, *a%zu, *a%zu]\n", i, i,
		    i - 1, i - 1, i - 1, i - 1);
	fclose(f);
	c = load(y, &cause);
	ok(c == NULL, "alias bomb refused: %s", c == NULL ? cause : "");
	free(cause);
	free(y);
}

static void
test_check(void)
{
	ok(load_fails("node.name: flockmq\n",
	    "FILE:1:12: node.name: 'flockmq' must be NAME@HOST"),
	    "node.name without @");
	ok(load_fails("node.name: a@b@c\n",
	    "FILE:1:12: node.name: 'a@b@c' must be NAME@HOST"),
	    "node.name with two @");
	ok(load_fails("node.name: \"@host\"\n",
	    "FILE:1:12: node.name: '@host' must be NAME@HOST"),
	    "node.name with empty name");
	ok(load_fails("cluster.static.seeds: [a@b, c]\n",
	    "FILE:1:23: cluster.static.seeds: 'c' must be NAME@HOST"),
	    "bad seed");
	ok(load_fails("listeners.tcp.default.bind: \"1883x\"\n",
	    "FILE:1:29: listeners.tcp.default.bind: '1883x' is not PORT, "
	    "IP:PORT or [IPV6]:PORT with a port in 1..65535"), "bad bind");
	ok(load_fails("listeners.tcp.default.bind: 0\n",
	    "FILE:1:29: listeners.tcp.default.bind: '0' is not PORT, "
	    "IP:PORT or [IPV6]:PORT with a port in 1..65535"), "port 0");
	ok(load_fails("listeners.tcp.default.bind: 70000\n",
	    "FILE:1:29: listeners.tcp.default.bind: '70000' is not PORT, "
	    "IP:PORT or [IPV6]:PORT with a port in 1..65535"), "port 70000");
	ok(load_fails("listeners.tcp.b:\n  bind: 127.0.0.1:1883\n",
	    "FILE:2:9: listeners.tcp.b.bind: '127.0.0.1:1883' clashes with "
	    "listener tcp:default ('0.0.0.0:1883')"), "listener bind clash");
	ok(load_fails("listeners.ws.default.bind: 18083\n",
	    "FILE:1:28: listeners.ws.default.bind: '18083' clashes with "
	    "dashboard.listeners.http.bind '0.0.0.0:18083'"),
	    "clash with the dashboard");
	ok(load_fails("listeners.ssl.default.bind: 8883\n",
	    "FILE:1:29: listeners.ssl.default.ssl_options.certfile: required "
	    "for an enabled ssl listener"), "ssl needs a certificate");
	ok(load_fails("listeners.ws.default.websocket.mqtt_path: mqtt\n",
	    "FILE:1:43: listeners.ws.default.websocket.mqtt_path: 'mqtt' "
	    "must start with '/'"), "websocket path");
	config_free(load_ok("listeners.tcp.v6.bind: \"[::1]:1883\"\n"
	    "listeners.tcp.lo.bind: 127.0.0.2:1884\n"
	    "listeners.tcp.lo2.bind: 127.0.0.3:1884\n"));
	ok(1, "IPv6 loopback beside 0.0.0.0, distinct hosts");
}

static void
test_split_bind(void)
{
	static const struct {
		const char	*bind;
		const char	*host;
		int		 port;
	} t[] = {
		{ "1883", "0.0.0.0", 1883 },
		{ "127.0.0.1:1883", "127.0.0.1", 1883 },
		{ "[::1]:8883", "::1", 8883 },
		{ ":1883", "0.0.0.0", 1883 },
		{ "[::]:1", "::", 1 },
		{ "localhost:1", NULL, 0 },
		{ "[]:1883", NULL, 0 },
		{ "[127.0.0.1]:1883", NULL, 0 },
		{ "::1:1883", NULL, 0 },
		{ "[::1]1883", NULL, 0 },
		{ "a b:1883", NULL, 0 },
		{ "1883:", NULL, 0 },
	};
	char		*host;
	uint16_t	 port;
	size_t		 i;
	int		 r;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		r = config_split_bind(t[i].bind, &host, &port);
		if (t[i].host == NULL) {
			ok(r == -1, "bind '%s' refused", t[i].bind);
			continue;
		}
		ok(r == 0 && strcmp(host, t[i].host) == 0 && port == t[i].port,
		    "bind '%s'", t[i].bind);
		if (r == 0)
			free(host);
	}
}

static void
test_env(void)
{
	struct config			*c;
	const struct config_listener	*l;
	char				*cause;
	char *compose[] = {
		"PATH=/bin",
		"EMQX_NODE_NAME=emqx@node1.emqx.io",
		"EMQX_CLUSTER__DISCOVERY_STRATEGY=static",
		"EMQX_CLUSTER__STATIC__SEEDS="
		    "[emqx@emqx1,emqx@emqx2,emqx@emqx3]",
		"EMQX_CLUSTER__CORE_NODES=emqx@emqx1,emqx@emqx2",
		"EMQX_DASHBOARD__DEFAULT_PASSWORD=secret",
		"EMQX_DURABLE_SESSIONS__ENABLE=true",
		"EMQX_DURABLE_STORAGE__MESSAGES__BACKEND=builtin_raft",
		"EMQX_LISTENERS__TCP__DEFAULT__BIND=1884",
		"EMQX_LOG_DIR=/var/log/emqx",
		"EMQX_HOST=node1.emqx.io",
		NULL
	};
	char *prec[] = {
		"FLOCKMQ_MQTT__MAX_INFLIGHT=7",
		"EMQX_MQTT__MAX_INFLIGHT=100",
		"EMQX_MQTT__MAX_QOS_ALLOWED=1",
		NULL
	};
	char *bad[] = { "EMQX_MQTT__MAX_QOS_ALLOWED=3", NULL };
	char *unknown[] = { "FLOCKMQ_MQTT__MAX_INFLITE=3", NULL };
	char *root[] = { "FLOCKMQ_BOGUS=1", NULL };
	char *blank[] = { "FLOCKMQ_=mqtt: {max_inflight: 1}", NULL };
	char *tool[] = { "FLOCKMQ_TEST_VALGRIND=1", NULL };
	char *yaml[] = { "FLOCKMQ_CLUSTER__STATIC__SEEDS=[a@b", NULL };
	char *raw[] = {
		"FLOCKMQ_NODE__COOKIE=c#1: [x",
		"FLOCKMQ_LISTENERS__SSL__TLS__SSL_OPTIONS__CERTFILE=/c.pem",
		"FLOCKMQ_LISTENERS__SSL__TLS__SSL_OPTIONS__KEYFILE=/k.pem",
		"FLOCKMQ_MQTT=",
		"EMQX_CLUSTER__CORE_NODES=",
		"EMQX_MQTT__RESPONSE_INFORMATION=",
		NULL
	};
	char *empty[] = { "EMQX_MQTT__RETRY_INTERVAL=", NULL };
	char *tree[] = { "FLOCKMQ_MQTT={max_inflight: 9, upgrade_qos: on}",
		NULL };

	c = config_new();
	ok((cause = env_error(c, compose)) == NULL, "compose variables load");
	free(cause);
	ok(strcmp(c->node_name, "emqx@node1.emqx.io") == 0,
	    "EMQX_NODE_NAME");
	ok(c->cluster_discovery_strategy == DISCOVERY_STATIC,
	    "EMQX_CLUSTER__DISCOVERY_STRATEGY");
	ok(c->cluster_static_seeds.n == 3 &&
	    strcmp(c->cluster_static_seeds.v[2], "emqx@emqx3") == 0,
	    "EMQX_CLUSTER__STATIC__SEEDS flow sequence");
	ok(c->cluster_core_nodes.n == 2 &&
	    strcmp(c->cluster_core_nodes.v[1], "emqx@emqx2") == 0,
	    "EMQX_CLUSTER__CORE_NODES comma list");
	ok(strcmp(c->dashboard_default_password, "secret") == 0,
	    "EMQX_DASHBOARD__DEFAULT_PASSWORD");
	ok(c->durable_sessions_enable, "EMQX_DURABLE_SESSIONS__ENABLE");
	ok(c->durable_storage_messages_backend == DS_BACKEND_BUILTIN_RAFT,
	    "EMQX_DURABLE_STORAGE__MESSAGES__BACKEND");
	l = config_find_listener(c, "tcp:default");
	ok(strcmp(l->bind, "1884") == 0, "EMQX_LISTENERS__TCP__DEFAULT__BIND");
	config_free(c);

	c = load_ok("mqtt.max_inflight: 64\nmqtt.max_qos_allowed: 2\n");
	ok((cause = env_error(c, prec)) == NULL, "precedence variables");
	free(cause);
	ok(c->mqtt_max_inflight == 7, "FLOCKMQ_ wins over EMQX_ and the file");
	ok(c->mqtt_max_qos_allowed == 1, "EMQX_ wins over the file");
	config_free(c);

	c = config_new();
	cause = env_error(c, bad);
	ok(cause != NULL && strcmp(cause, "EMQX_MQTT__MAX_QOS_ALLOWED: "
	    "mqtt.max_qos_allowed: 3 is out of range (0..2)") == 0,
	    "env error names the variable: %s", cause);
	free(cause);
	cause = env_error(c, unknown);
	ok(cause != NULL && strcmp(cause, "FLOCKMQ_MQTT__MAX_INFLITE: "
	    "unknown key 'mqtt.max_inflite' (did you mean "
	    "'mqtt.max_inflight'?)") == 0, "env unknown key: %s", cause);
	free(cause);
	cause = env_error(c, root);
	ok(cause != NULL && strcmp(cause, "FLOCKMQ_BOGUS: unknown key "
	    "'bogus'") == 0, "FLOCKMQ_ unknown root is an error: %s", cause);
	free(cause);
	cause = env_error(c, blank);
	ok(cause != NULL && strcmp(cause, "FLOCKMQ_: unknown key ''") == 0,
	    "FLOCKMQ_ alone: %s", cause);
	free(cause);
	ok((cause = env_error(c, tool)) == NULL, "FLOCKMQ_TEST_ ignored");
	free(cause);
	cause = env_error(c, yaml);
	ok(cause != NULL && strncmp(cause, "FLOCKMQ_CLUSTER__STATIC__SEEDS: "
	    "cannot parse value: ", 52) == 0, "env YAML error: %s", cause);
	free(cause);
	config_free(c);

	c = config_new();
	cause = env_error(c, raw);
	ok(cause == NULL, "raw strings: %s", cause != NULL ? cause : "ok");
	free(cause);
	ok(strcmp(c->node_cookie, "c#1: [x") == 0, "strings taken verbatim");
	ok(c->cluster_core_nodes.n == 0 && *c->mqtt_response_information ==
	    '\0', "empty values");
	cause = env_error(c, empty);
	ok(cause != NULL && strcmp(cause, "EMQX_MQTT__RETRY_INTERVAL: "
	    "mqtt.retry_interval: expected a duration (100ms, 5s, 10m, 1h, "
	    "2d), got an empty value") == 0, "empty duration: %s", cause);
	free(cause);
	l = config_find_listener(c, "ssl:tls");
	ok(l != NULL && strcmp(l->ssl_keyfile, "/k.pem") == 0 &&
	    strcmp(l->bind, "0.0.0.0:8883") == 0, "env creates a listener");
	config_free(c);
	c = config_new();
	ok((cause = env_error(c, tree)) == NULL, "env mapping value");
	free(cause);
	ok(c->mqtt_max_inflight == 9 && c->mqtt_upgrade_qos, "env mapping");
	config_free(c);
	c = config_new();
	ok(config_load_env(c, NULL, &cause) == 0, "NULL environment");
	config_free(c);
}

static void
test_log_levels(void)
{
	static const char *const levels[] = { "debug", "info", "notice",
	    "warning", "error", "critical", "alert", "emergency" };
	struct config	*c;
	enum log_level	 l;
	char		*y;
	size_t		 i;
	int		 good = 1;

	for (i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		xasprintf(&y, "log.console.level: %s\n", levels[i]);
		c = load_ok(y);
		if (strcmp(c->log_console_level, levels[i]) != 0 ||
		    log_parse_level(c->log_console_level, &l) != 0)
			good = 0;
		config_free(c);
		free(y);
	}
	ok(good, "every log level loads and suits log_open()");
	ok(load_fails("log.file.level: loud\n",
	    "FILE:1:17: log.file.level: unknown value 'loud' (allowed: debug, "
	    "info, notice, warning, error, critical, alert, emergency)"),
	    "bad log level");
}

static void
test_round_trip(void)
{
	struct config	*c, *d;
	char		*a, *b, *ex, *cause;
	const char	*path;
	FILE		*f;
	size_t		 len;

	ex = example();
	c = load_ok(ex);
	d = config_new();
	a = dump(c);
	b = dump(d);
	ok(strcmp(a, b) == 0, "the example loads to the defaults");
	free(a);
	free(b);
	config_free(c);
	config_free(d);
	f = open_memstream(&a, &len);
	fputs(ex, f);
	fclose(f);
	ok(strstr(ex, "  max_inflight: 32\n") != NULL &&
	    strstr(ex, "  # default: 32; range: 1..65535\n") != NULL,
	    "example shows values, defaults and ranges");
	free(a);

	c = load_ok("dashboard.default_password: "
	    "\"x\\ty\\u00e9\\u2028\\\"q\\\\@h\"\n"
	    "node.cookie: \"\\x01\\U0001F600\"\n"
	    "cluster.static.seeds: [\"a@b\", \"c,d@e\"]\n"
	    "mqtt.keepalive_multiplier: 1.1\n"
	    "mqtt.retry_interval: 1h30m\n"
	    "listeners.tcp.x:\n  bind: 2000\n"
	    "  messages_rate: 1/3s\n  bytes_rate: 10KB/m\n"
	    "  max_conn_rate: 7/h\n"
	    "listeners.ws.default.websocket.max_frame_size: 1000\n");
	a = dump(c);
	path = put_file(a);
	d = config_new();
	ok(config_load_file(d, path, &cause) == 0, "dump reloads");
	b = dump(d);
	ok(strcmp(a, b) == 0, "dump -> reload gives an equal config");
	if (strcmp(a, b) != 0)
		diag("%s\n---\n%s", a, b);
	ok(strcmp(d->dashboard_default_password,
	    c->dashboard_default_password) == 0 &&
	    strcmp(d->node_cookie, c->node_cookie) == 0 &&
	    config_find_listener(d, "tcp:x")->messages_rate ==
	    config_find_listener(c, "tcp:x")->messages_rate,
	    "escapes and rates survive");
	free(a);
	free(b);
	config_free(c);
	config_free(d);
	free(ex);
}

/* The committed etc/flockmq.yaml must be what config_example() writes. */
static void
test_example_file(void)
{
	const char	*srcdir;
	char		*path, *want, *got = NULL;
	size_t		 n;
	FILE		*f;

	if ((srcdir = getenv("FLOCKMQ_SRC")) == NULL &&
	    (srcdir = getenv("srcdir")) == NULL)
		srcdir = ".";
	xasprintf(&path, "%s/etc/flockmq.yaml", srcdir);
	if ((f = fopen(path, "r")) == NULL) {
		ok(1, "# SKIP no %s (set FLOCKMQ_SRC)", path);
		free(path);
		return;
	}
	want = example();
	got = xmalloc(strlen(want) + 2);
	n = fread(got, 1, strlen(want) + 1, f);
	got[n] = '\0';
	fclose(f);
	ok(strcmp(got, want) == 0, "%s is up to date (flockmq "
	    "config-example > etc/flockmq.yaml)", path);
	free(got);
	free(want);
	free(path);
}

int
main(void)
{
	char	 template[] = "/tmp/flockmq-config.XXXXXX";
	char	*cmd;

	if ((tmpdir = mkdtemp(template)) == NULL)
		fatal("mkdtemp failed");
	log_level = LOG_L_ERROR;
	test_defaults();
	test_field_names();
	test_durations();
	test_sizes();
	test_rates();
	test_bools_floats();
	test_strlists();
	test_nesting();
	test_listeners();
	test_aliases();
	test_errors();
	test_limits();
	test_check();
	test_split_bind();
	test_env();
	test_log_levels();
	test_round_trip();
	test_example_file();
	xasprintf(&cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	free(cmd);
	free(last_path);
	return (tap_done());
}
