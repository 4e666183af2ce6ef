/*
 * proto.c: MQTT dispatch (see proto.h).
 *
 * proto_input() runs on the connection's worker: decode a packet, check
 * what the codec cannot (state, limits, topic rules, aliases), act through
 * session.c and router.c, and encode the answer into the conn's tx buffer.
 * proto_error() is the only place that turns a failure into a reason code
 * and a closed connection.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "banned.h"
#include "config.h"
#include "conn.h"
#include "ds.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_rc.h"
#include "msg.h"
#include "proto.h"
#include "retain.h"
#include "router.h"
#include "session.h"
#include "sys.h"
#include "tls.h"
#include "topic.h"
#include "worker.h"
#include "xmalloc.h"

/* A topic alias (both directions): the entry owns the topic bytes. */
struct alias_ent {
	uint16_t	 alias;
	uint16_t	 len;
	char		 topic[];
};

struct alias_map {
	struct hmap	 h;
};

static const char *rc_names[256];

static void	proto_refuse_id(struct conn *, uint8_t, uint8_t, uint8_t,
		    const char *, struct str);

/* Reason code as text for logs. */
const char *
mqtt_rc_name(uint8_t rc)
{
	static int	 done;

	if (!done) {
#define RC(n, v, t)	rc_names[v] = t;
		MQTT_RC_TABLE
#undef RC
		done = 1;
	}
	return (rc_names[rc] != NULL ? rc_names[rc] : "unknown");
}

/* Free a map's entries. */
static void
alias_map_free(struct alias_map *am)
{
	struct hmap_ent	*e;
	size_t		 i = 0;
	void		**vals;
	size_t		 n = 0, k;

	if (am == NULL)
		return;
	vals = xcalloc(am->h.n + 1, sizeof *vals);
	for (e = hmap_next(&am->h, &i, NULL); e != NULL;
	    e = hmap_next(&am->h, &i, e))
		vals[n++] = e->val;
	for (k = 0; k < n; k++)
		free(vals[k]);
	free(vals);
	hmap_release(&am->h);
	free(am);
}

/* Free what proto keeps in a conn (called by conn.c). */
void
proto_conn_free(struct conn *c)
{
	alias_map_free(c->alias_in);
	alias_map_free(c->alias_out);
	c->alias_in = c->alias_out = NULL;
}

/* Set an incoming alias. */
static void
alias_in_set(struct conn *c, uint16_t alias, struct str topic)
{
	struct alias_ent	*e, *old;

	if (c->alias_in == NULL) {
		c->alias_in = xcalloc(1, sizeof *c->alias_in);
		hmap_init(&c->alias_in->h);
	}
	e = xmalloc(sizeof *e + topic.len);
	e->alias = alias;
	e->len = (uint16_t)topic.len;
	memcpy(e->topic, topic.p, topic.len);
	old = hmap_get(&c->alias_in->h,
	    (struct str){ (const uint8_t *)&alias, 2 });
	hmap_put(&c->alias_in->h, (struct str){ (const uint8_t *)&e->alias,
	    2 }, e);
	free(old);
}

/* Look up an incoming alias. */
static bool
alias_in_get(struct conn *c, uint16_t alias, struct str *topic)
{
	struct alias_ent	*e;

	if (c->alias_in == NULL)
		return (false);
	e = hmap_get(&c->alias_in->h, (struct str){ (const uint8_t *)&alias,
	    2 });
	if (e == NULL)
		return (false);
	topic->p = (const uint8_t *)e->topic;
	topic->len = e->len;
	return (true);
}

/*
 * Outgoing alias for a topic: the alias the client already knows (*known
 * set), or the one a new mapping would take, or 0 if none can be used.
 * Nothing is recorded until alias_out_commit().
 */
static uint16_t
alias_out(struct conn *c, struct str topic, bool *known)
{
	struct alias_ent	*e;

	*known = false;
	if (c->alias_max_out == 0 || topic.len > UINT16_MAX)
		return (0);
	if (c->alias_out != NULL &&
	    (e = hmap_get(&c->alias_out->h, topic)) != NULL) {
		*known = true;
		return (e->alias);
	}
	if (c->alias_next_out >= c->alias_max_out)
		return (0);
	return ((uint16_t)(c->alias_next_out + 1));
}

/* Record a new outgoing alias chosen by alias_out(). */
static void
alias_out_commit(struct conn *c, struct str topic)
{
	struct alias_ent	*e;

	if (c->alias_out == NULL) {
		c->alias_out = xcalloc(1, sizeof *c->alias_out);
		hmap_init(&c->alias_out->h);
	}
	e = xmalloc(sizeof *e + topic.len);
	e->alias = ++c->alias_next_out;
	e->len = (uint16_t)topic.len;
	memcpy(e->topic, topic.p, topic.len);
	hmap_put(&c->alias_out->h, (struct str){ (const uint8_t *)e->topic,
	    e->len }, e);
}

/* Encode pkt into the conn and schedule the write. */
static void
proto_send(struct conn *c, const struct mqtt_packet *pkt)
{
	size_t	 start = c->tx.len;

	mqtt_encode(&c->tx, c->version, pkt);
	if (c->tx.len - start > c->max_packet_out &&
	    (pkt->u.reason.props.has & MQTT_HAS(MQTT_PROP_REASON_STRING)) &&
	    (pkt->type == MQTT_DISCONNECT || pkt->type == MQTT_CONNACK)) {
		struct mqtt_packet	 p2 = *pkt;

		/* MQTT-3.1.2-24: drop the reason string to fit. */
		buf_truncate(&c->tx, start);
		if (pkt->type == MQTT_CONNACK)
			p2.u.connack.props.has &=
			    ~MQTT_HAS(MQTT_PROP_REASON_STRING);
		else
			p2.u.reason.props.has &=
			    ~MQTT_HAS(MQTT_PROP_REASON_STRING);
		mqtt_encode(&c->tx, c->version, &p2);
	}
	METRIC_INC(&c->w->metrics, PACKETS_SENT);
	c->send_pkt++;
	conn_want_flush(c);
}

/* Send an ack-shaped packet. */
static void
proto_send_ack(struct conn *c, enum mqtt_type type, uint16_t pid, uint8_t rc)
{
	struct mqtt_packet	 pkt;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = type;
	pkt.u.ack.pid = pid;
	pkt.u.ack.rc = c->version == MQTT_V5 ? rc : 0;
	proto_send(c, &pkt);
}

/* Send PUBREL (resume or after PUBREC). */
void
proto_send_pubrel(struct conn *c, uint16_t pid)
{
	METRIC_INC(&c->w->metrics, PACKETS_PUBREL_SENT);
	proto_send_ack(c, MQTT_PUBREL, pid, 0);
}

/* Send a CONNACK refusing the connection, then close. */
static void
proto_refuse(struct conn *c, uint8_t version, uint8_t rc5, uint8_t rc3,
    const char *why)
{
	proto_refuse_id(c, version, rc5, rc3, why, STR_NULL);
}

/* Send a CONNACK refusing the connection of client id, then close. */
static void
proto_refuse_id(struct conn *c, uint8_t version, uint8_t rc5, uint8_t rc3,
    const char *why, struct str id)
{
	struct mqtt_packet	 pkt;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNACK;
	c->version = version == MQTT_V5 ? MQTT_V5 : MQTT_V311;
	pkt.u.connack.rc = version == MQTT_V5 ? rc5 : rc3;
	proto_send(c, &pkt);
	METRIC_INC(&c->w->metrics, PACKETS_CONNACK_SENT);
	METRIC_INC(&c->w->metrics, PACKETS_CONNACK_ERROR);
	if (rc5 == MQTT_RC_BAD_USERNAME_OR_PASSWORD ||
	    rc5 == MQTT_RC_NOT_AUTHORIZED)
		METRIC_INC(&c->w->metrics, PACKETS_CONNACK_AUTH_ERROR);
	log_info("proto: client '%.*s' %s refused: %s (0x%02x %s)",
	    (int)(id.len > 256 ? 256 : id.len), id.len ? (const char *)id.p :
	    "", conn_addr(c), why, pkt.u.connack.rc, version == MQTT_V5 ?
	    mqtt_rc_name(rc5) : "v3 return code");
	conn_close(c, NULL);
}

/* DISCONNECT with a reason (v5 only), then close; see proto.h. */
void
proto_disconnect(struct conn *c, uint8_t rc, const char *why)
{
	struct mqtt_packet	 pkt;

	if (c->state == CONN_S_CLOSING)
		return;
	if (c->version == MQTT_V5 && c->state == CONN_S_OPEN) {
		memset(&pkt, 0, sizeof pkt);
		pkt.type = MQTT_DISCONNECT;
		pkt.u.reason.rc = rc;
		if (why != NULL) {
			pkt.u.reason.props.has |=
			    MQTT_HAS(MQTT_PROP_REASON_STRING);
			pkt.u.reason.props.reason_string = STR(why);
		}
		proto_send(c, &pkt);
		METRIC_INC(&c->w->metrics, PACKETS_DISCONNECT_SENT);
	}
	/* A server-initiated close of a live session publishes the will,
	 * except on shutdown and takeover by a clean session. */
	if (c->state == CONN_S_OPEN && rc != MQTT_RC_SERVER_SHUTTING_DOWN)
		c->will_on_close = true;
	log_info("proto: %s disconnected: %s (0x%02x %s)", conn_name(c),
	    why != NULL ? why : mqtt_rc_name(rc), rc, mqtt_rc_name(rc));
	c->quiet = true;
	conn_close(c, NULL);
}

/* Close for a protocol failure with the right reason code. */
static void
proto_error(struct conn *c, enum mqtt_status st, const char *why,
    const struct mqtt_packet *pkt, const uint8_t *p, size_t len)
{
	uint8_t	 rc, version;
	size_t	 i;

	METRIC_INC(&c->w->metrics, PACKETS_MALFORMED);
	switch (st) {
	case MQTT_TOO_BIG:
		rc = MQTT_RC_PACKET_TOO_LARGE;
		break;
	case MQTT_PROTOCOL:
		rc = MQTT_RC_PROTOCOL_ERROR;
		break;
	case MQTT_UNSUPPORTED:
		rc = MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION;
		break;
	default:
		rc = MQTT_RC_MALFORMED_PACKET;
		break;
	}
	if (why == NULL)
		why = mqtt_rc_name(rc);
	if (c->state == CONN_S_NEW) {
		version = pkt->type == MQTT_CONNECT ? pkt->u.connect.version :
		    0;
		/* Not decoded (too big): peek at the protocol level byte. */
		if (version == 0 && len > 1 && p[0] == 0x10) {
			for (i = 1; i < 5 && i < len && (p[i] & 0x80); i++)
				;
			if (i + 7 < len && p[i + 1] == 0 && p[i + 2] == 4 &&
			    memcmp(p + i + 3, "MQTT", 4) == 0)
				version = p[i + 7];
		}
		if (st == MQTT_UNSUPPORTED) {
			proto_refuse(c, version, rc,
			    MQTT3_RC_BAD_VERSION, why);
			return;
		}
		if (version == MQTT_V5) {
			proto_refuse(c, version, rc, 0, why);
			return;
		}
		log_info("proto: %s closed: %s", conn_name(c), why);
		conn_close(c, NULL);
		return;
	}
	proto_disconnect(c, rc, why);
}

/* Make a client id that lives on this worker. */
static char *
proto_assign_id(struct conn *c)
{
	char		*id;
	uint64_t	 r;
	unsigned	 i;

	for (i = 0;; i++) {
		r = ((uint64_t)c->w->rnd << 32) ^ now_ms() ^
		    ((uint64_t)i << 48) ^ (uintptr_t)c;
		c->w->rnd = c->w->rnd * 1103515245u + 12345u;
		xasprintf(&id, "flockmq-%016" PRIx64, r);
		if (n_workers == 1 || worker_home(STR(id)) == c->w->id)
			return (id);
		free(id);
	}
}

/* Seconds as stored for a session from a duration in ms. */
static uint32_t
proto_seconds(int64_t ms)
{
	if (ms == CONFIG_INFINITY || ms / 1000 >= UINT32_MAX)
		return (UINT32_MAX);
	return ((uint32_t)(ms / 1000));
}

/* Make the will message of a CONNECT. */
static struct msg *
proto_will(struct conn *c, const struct mqtt_connect *ct, struct session *s)
{
	struct msg	*m;

	m = msg_new(ct->will_topic, ct->will_payload, ct->will_qos,
	    ct->will_retain, c->version == MQTT_V5 ? &ct->will_props : NULL,
	    s->sid, s->client_hash);
	m->flags |= MSG_F_WILL;
	return (m);
}

/* mqtt.peer_cert_as_clientid / _username: the verified TLS client
 * certificate's CN or DN, or NULL (not set, no certificate). */
static const char *
proto_cert_name(const struct conn *c, int how)
{
	if (how == PEER_CERT_DISABLED)
		return (NULL);
	return (tls_peer_name(c, how == PEER_CERT_DN));
}

/* CONNECT: checks, session takeover/resume, CONNACK. */
static void
proto_connect(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_connect	*ct = &pkt->u.connect;
	struct worker			*w = c->w;
	struct mqtt_packet		 ack;
	struct session			*s;
	struct conn			*old;
	struct str			 id = ct->client_id;
	char				*assigned = NULL;
	const char			*cert;
	uint8_t				 v = ct->version;
	bool				 present = false;
	double				 ka;

	METRIC_INC(&w->metrics, PACKETS_CONNECT);
	METRIC_INC(&w->metrics, CLIENT_CONNECT);
	c->version = v;
	if (c->over_limit) {
		proto_refuse_id(c, v, MQTT_RC_QUOTA_EXCEEDED,
		    MQTT3_RC_SERVER_UNAVAILABLE,
		    "listener max_connections reached", id);
		return;
	}
	if (w->stopping) {
		proto_refuse_id(c, v, MQTT_RC_SERVER_UNAVAILABLE,
		    MQTT3_RC_SERVER_UNAVAILABLE, "server shutting down", id);
		return;
	}
	if (config->mqtt_use_username_as_clientid && ct->has_username &&
	    ct->username.len != 0)
		id = ct->username;
	if ((cert = proto_cert_name(c, config->mqtt_peer_cert_as_clientid)) !=
	    NULL)
		id = STR(cert);
	if (id.len > (size_t)config->mqtt_max_clientid_len) {
		proto_refuse_id(c, v, MQTT_RC_CLIENT_ID_NOT_VALID,
		    MQTT3_RC_ID_REJECTED, "client id too long", id);
		return;
	}
	if (id.len == 0) {
		if (v != MQTT_V5 && (v == MQTT_V31 || !ct->clean_start)) {
			proto_refuse_id(c, v, MQTT_RC_CLIENT_ID_NOT_VALID,
			    MQTT3_RC_ID_REJECTED, "empty client id without "
			    "clean session", id);
			return;
		}
		assigned = proto_assign_id(c);
		id = STR(assigned);
	}
	if (!banned_empty()) {
		char	 why[512];

		if (banned_match(id, ct->has_username ? ct->username :
		    STR_NULL, conn_ip(c), why, sizeof why)) {
			proto_refuse_id(c, v, MQTT_RC_BANNED,
			    MQTT3_RC_NOT_AUTHORIZED, why, id);
			goto out;
		}
	}
	if (v == MQTT_V5 &&
	    (ct->props.has & MQTT_HAS(MQTT_PROP_AUTH_METHOD))) {
		proto_refuse_id(c, v, MQTT_RC_BAD_AUTHENTICATION_METHOD,
		    MQTT3_RC_NOT_AUTHORIZED,
		    "enhanced authentication is not configured", id);
		goto out;
	}
	if (ct->will) {
		if (!topic_valid_name(ct->will_topic,
		    (unsigned)config->mqtt_max_topic_levels)) {
			if (v == MQTT_V5)
				proto_refuse_id(c, v,
				    MQTT_RC_TOPIC_NAME_INVALID, 0,
				    "bad will topic", id);
			else {
				/* MQTT-3.2.2-6: no return code fits. */
				log_info("proto: client '%.*s' %s closed: bad "
				    "will topic", (int)(id.len > 256 ? 256 :
				    id.len), (const char *)id.p, conn_addr(c));
				METRIC_INC(&w->metrics, PACKETS_MALFORMED);
				conn_close(c, NULL);
			}
			goto out;
		}
		if (ct->will_qos > config->mqtt_max_qos_allowed) {
			proto_refuse_id(c, v, MQTT_RC_QOS_NOT_SUPPORTED,
			    MQTT3_RC_SERVER_UNAVAILABLE,
			    "will qos over mqtt.max_qos_allowed", id);
			goto out;
		}
		if (ct->will_retain && !config->mqtt_retain_available) {
			proto_refuse_id(c, v, MQTT_RC_RETAIN_NOT_SUPPORTED,
			    MQTT3_RC_SERVER_UNAVAILABLE,
			    "retain is not available", id);
			goto out;
		}
	}

	/* Takeover, clean start, resume. */
	s = session_find(w, id);
	if (s != NULL && (old = s->conn) != NULL) {
		METRIC_INC(&w->metrics, SESSION_TAKENOVER);
		char	 oldaddr[64];

		snprintf(oldaddr, sizeof oldaddr, "%s", conn_addr(old));
		log_info("proto: client '%s' %s takes over the session from %s",
		    s->client_id, conn_addr(c), oldaddr);
		proto_disconnect(old, MQTT_RC_SESSION_TAKEN_OVER,
		    "session taken over");
		s = session_find(w, id);
	}
	if (s != NULL && ct->clean_start) {
		METRIC_INC(&w->metrics, SESSION_DISCARDED);
		session_end(s);
		s = NULL;
	}
	if (s != NULL) {
		present = true;
		METRIC_INC(&w->metrics, SESSION_RESUMED);
	} else
		s = session_new(w, id);
	s->version = v;
	s->assigned_id = assigned != NULL;
	if (v == MQTT_V5)
		s->expiry = (ct->props.has &
		    MQTT_HAS(MQTT_PROP_SESSION_EXPIRY)) ?
		    ct->props.session_expiry : 0;
	else
		s->expiry = ct->clean_start ? 0 :
		    proto_seconds(config->mqtt_session_expiry_interval);
	/* A session that outlives its connection is durable (ds.h). */
	if (!present && s->expiry != 0 && ds_enabled()) {
		s->durable = true;
		METRIC_INC(&w->metrics, SESSIONS_DURABLE_COUNT);
	}
	s->recv_max = (ct->props.has & MQTT_HAS(MQTT_PROP_RECEIVE_MAX)) ?
	    ct->props.receive_max : 65535;
	s->max_packet = (ct->props.has & MQTT_HAS(MQTT_PROP_MAX_PACKET_SIZE)) ?
	    ct->props.max_packet_size : UINT32_MAX;
	c->max_packet_out = s->max_packet;
	c->alias_max_out = (ct->props.has &
	    MQTT_HAS(MQTT_PROP_TOPIC_ALIAS_MAX)) ? ct->props.topic_alias_max :
	    0;
	c->alias_max_in = v == MQTT_V5 ?
	    (uint16_t)config->mqtt_max_topic_alias : 0;
	session_attach(s, c);
	c->clean_start = ct->clean_start;
	free(s->username);
	s->username = ct->has_username ? str_dup(ct->username) : NULL;
	if ((cert = proto_cert_name(c, config->mqtt_peer_cert_as_username)) !=
	    NULL) {
		free(s->username);
		s->username = xstrdup(cert);
	}
	if (ct->will)
		session_set_will(s, proto_will(c, ct, s),
		    (ct->will_props.has & MQTT_HAS(MQTT_PROP_WILL_DELAY)) ?
		    ct->will_props.will_delay : 0);

	/* Keepalive: Server Keep Alive (v5) overrides the client's. */
	c->keepalive = ct->keepalive;
	memset(&ack, 0, sizeof ack);
	ack.type = MQTT_CONNACK;
	ack.u.connack.session_present = present;
	if (v == MQTT_V5) {
		struct mqtt_props	*p = &ack.u.connack.props;

		if (config->mqtt_server_keepalive > 0) {
			c->keepalive = (uint16_t)config->mqtt_server_keepalive;
			p->has |= MQTT_HAS(MQTT_PROP_SERVER_KEEPALIVE);
			p->server_keepalive = c->keepalive;
		}
		if (assigned != NULL) {
			p->has |= MQTT_HAS(MQTT_PROP_ASSIGNED_CLIENT_ID);
			p->assigned_client_id = STR(s->client_id);
		}
		if (config->mqtt_max_awaiting_rel != CONFIG_INFINITY) {
			p->has |= MQTT_HAS(MQTT_PROP_RECEIVE_MAX);
			p->receive_max = config->mqtt_max_awaiting_rel > 65535 ?
			    65535 : (uint16_t)config->mqtt_max_awaiting_rel;
			if (p->receive_max == 0)
				p->has &= ~MQTT_HAS(MQTT_PROP_RECEIVE_MAX);
		}
		if (config->mqtt_max_qos_allowed < 2) {
			p->has |= MQTT_HAS(MQTT_PROP_MAX_QOS);
			p->max_qos = (uint8_t)config->mqtt_max_qos_allowed;
		}
		if (!config->mqtt_retain_available) {
			p->has |= MQTT_HAS(MQTT_PROP_RETAIN_AVAILABLE);
			p->retain_available = 0;
		}
		p->has |= MQTT_HAS(MQTT_PROP_MAX_PACKET_SIZE);
		p->max_packet_size = (uint32_t)config->mqtt_max_packet_size;
		if (c->alias_max_in > 0) {
			p->has |= MQTT_HAS(MQTT_PROP_TOPIC_ALIAS_MAX);
			p->topic_alias_max = c->alias_max_in;
		}
		if (!config->mqtt_wildcard_subscription) {
			p->has |= MQTT_HAS(MQTT_PROP_WILDCARD_AVAILABLE);
			p->wildcard_available = 0;
		}
		if (!config->mqtt_shared_subscription) {
			p->has |= MQTT_HAS(MQTT_PROP_SHARED_AVAILABLE);
			p->shared_available = 0;
		}
		if ((ct->props.has &
		    MQTT_HAS(MQTT_PROP_REQUEST_RESPONSE_INFO)) &&
		    ct->props.request_response_info &&
		    config->mqtt_response_information[0] != '\0') {
			p->has |= MQTT_HAS(MQTT_PROP_RESPONSE_INFO);
			p->response_info =
			    STR(config->mqtt_response_information);
		}
	}
	proto_send(c, &ack);
	METRIC_INC(&w->metrics, PACKETS_CONNACK_SENT);
	METRIC_INC(&w->metrics, CLIENT_CONNACK);
	ka = c->keepalive * config->mqtt_keepalive_multiplier;
	conn_set_state(c, CONN_S_OPEN);
	c->connected_at = now_ms();
	conn_touch(c);
	conn_set_keepalive(c, ka);
	METRIC_INC(&w->metrics, CLIENT_CONNECTED);
	METRIC_INC(&w->metrics, LIVE_CONNECTIONS_COUNT);
	METRIC_INC(&w->metrics, CLIENT_AUTH_ANONYMOUS);
	log_info("proto: %s connected: mqtt %s, keepalive %u, clean start %d, "
	    "session present %d, expiry %u", conn_name(c),
	    v == MQTT_V5 ? "5.0" : v == MQTT_V311 ? "3.1.1" : "3.1",
	    c->keepalive, ct->clean_start, present, s->expiry);
	sys_client_event(w, c, true, NULL);
	if (present)
		session_resume(s);
out:
	free(assigned);
}

/* PUBLISH from the client. */
static void
proto_publish(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_publish	*pb = &pkt->u.publish;
	struct worker			*w = c->w;
	struct session			*s = c->s;
	struct str			 topic = pb->topic;
	struct msg			*m;
	uint16_t			 alias = 0;
	int				 matched;
	uint8_t				 rc;

	METRIC_INC(&w->metrics, PACKETS_PUBLISH_RECEIVED);
	if (pb->qos > config->mqtt_max_qos_allowed) {
		proto_disconnect(c, MQTT_RC_QOS_NOT_SUPPORTED,
		    "qos over mqtt.max_qos_allowed");
		return;
	}
	if (pb->retain && !config->mqtt_retain_available) {
		proto_disconnect(c, MQTT_RC_RETAIN_NOT_SUPPORTED,
		    "retain is not available");
		return;
	}
	if (c->version == MQTT_V5 &&
	    (pb->props.has & MQTT_HAS(MQTT_PROP_TOPIC_ALIAS))) {
		alias = pb->props.topic_alias;
		if (alias == 0 || alias > c->alias_max_in) {
			proto_disconnect(c, MQTT_RC_TOPIC_ALIAS_INVALID,
			    "topic alias out of range");
			return;
		}
		if (topic.len == 0 && !alias_in_get(c, alias, &topic)) {
			proto_disconnect(c, MQTT_RC_PROTOCOL_ERROR,
			    "unknown topic alias");
			return;
		}
	}
	if (!topic_valid_name(topic, (unsigned)config->mqtt_max_topic_levels)) {
		proto_disconnect(c, topic.len == 0 ? MQTT_RC_PROTOCOL_ERROR :
		    MQTT_RC_TOPIC_NAME_INVALID, topic.len == 0 ?
		    "empty topic name" : "invalid topic name");
		return;
	}
	if (c->version == MQTT_V5 &&
	    (pb->props.has & MQTT_HAS(MQTT_PROP_RESPONSE_TOPIC)) &&
	    !topic_valid_name(pb->props.response_topic, 0)) {
		/* MQTT-3.3.2-14 */
		proto_disconnect(c, MQTT_RC_PROTOCOL_ERROR,
		    "invalid response topic");
		return;
	}
	if (alias != 0 && pb->topic.len != 0)
		alias_in_set(c, alias, topic);
	METRIC_INC(&w->metrics, MESSAGES_RECEIVED);
	c->recv_msg++;
	switch (pb->qos) {
	case 0:
		METRIC_INC(&w->metrics, MESSAGES_QOS0_RECEIVED);
		break;
	case 1:
		METRIC_INC(&w->metrics, MESSAGES_QOS1_RECEIVED);
		break;
	default:
		METRIC_INC(&w->metrics, MESSAGES_QOS2_RECEIVED);
		break;
	}
	if (c->version == MQTT_V5 &&
	    (pb->props.has & MQTT_HAS(MQTT_PROP_PAYLOAD_FORMAT)) &&
	    pb->props.payload_format == 1 && !mqtt_utf8_valid(pb->payload)) {
		METRIC_INC(&w->metrics, PACKETS_PUBLISH_ERROR);
		if (pb->qos == 1)
			proto_send_ack(c, MQTT_PUBACK, pb->pid,
			    MQTT_RC_PAYLOAD_FORMAT_INVALID);
		else if (pb->qos == 2)
			proto_send_ack(c, MQTT_PUBREC, pb->pid,
			    MQTT_RC_PAYLOAD_FORMAT_INVALID);
		return;
	}
	if (pb->qos == 2) {
		if (session_awrel_has(s, pb->pid)) {
			/* A resend: it was routed once already. */
			METRIC_INC(&w->metrics, PACKETS_PUBLISH_INUSE);
			METRIC_INC(&w->metrics, PACKETS_PUBREC_SENT);
			proto_send_ack(c, MQTT_PUBREC, pb->pid, 0);
			return;
		}
		if (session_awrel_add(s, pb->pid) != 0) {
			METRIC_INC(&w->metrics, PACKETS_PUBLISH_DROPPED);
			proto_disconnect(c, MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED,
			    "too many QoS 2 messages awaiting PUBREL");
			return;
		}
	}
	m = msg_new(topic, pb->payload, pb->qos, pb->retain,
	    c->version == MQTT_V5 ? &pb->props : NULL, s->sid, s->client_hash);
	matched = router_publish(w, m);
	/* A stored message is acknowledged once it is on disk. */
	if (m->ds != NULL && pb->qos != 0)
		ds_hold(c);
	msg_unref(m);
	rc = matched ? 0 : MQTT_RC_NO_MATCHING_SUBSCRIBERS;
	if (pb->qos == 1) {
		METRIC_INC(&w->metrics, PACKETS_PUBACK_SENT);
		proto_send_ack(c, MQTT_PUBACK, pb->pid, rc);
	} else if (pb->qos == 2) {
		METRIC_INC(&w->metrics, PACKETS_PUBREC_SENT);
		proto_send_ack(c, MQTT_PUBREC, pb->pid, rc);
	}
}

/* Encode a PUBLISH for a session's item; see proto.h. */
bool
proto_send_publish(struct conn *c, struct qitem *qi, bool dup)
{
	struct msg	*m = qi->m;
	struct buf	*b = &c->tx;
	struct str	 topic = msg_topic(m), props = msg_props(m);
	size_t		 rem, plen = 0, total;
	uint32_t	 expiry = 0, id;
	uint16_t	 alias = 0;
	bool		 known = false;
	uint8_t		 i;

	if (c->version == MQTT_V5) {
		plen = props.len;
		if (m->expire_at != 0) {
			expiry = msg_expiry_left(m, now_ms());
			plen += 5;
		}
		for (i = 0; i < qi->n_ids; i++) {
			id = qi->n_ids == 1 ? qi->id : qi->ids[i];
			plen += 1 + varint_len(id);
		}
	}
	rem = 2 + topic.len + (qi->qos > 0 ? 2 : 0) + m->payload_len;
	if (c->version == MQTT_V5 &&
	    (alias = alias_out(c, topic, &known)) != 0) {
		size_t	 arem, aplen = plen + 3;

		/* MQTT-3.1.2-24: the alias must not push it over the limit. */
		arem = rem + varint_len((uint32_t)aplen) + aplen -
		    (known ? topic.len : 0);
		if (1 + varint_len((uint32_t)arem) + arem <= c->max_packet_out) {
			if (!known)
				alias_out_commit(c, topic);
			else
				topic.len = 0;
			plen = aplen;
			rem = arem;
		} else
			alias = 0;
	}
	if (alias == 0 && c->version == MQTT_V5)
		rem += varint_len((uint32_t)plen) + plen;
	total = 1 + varint_len((uint32_t)rem) + rem;
	if (total > c->max_packet_out || rem > 268435455)
		return (false);
	buf_reserve(b, 5 + rem);
	buf_add_u8(b, (uint8_t)(0x30 | (dup ? 0x08 : 0) | (qi->qos << 1) |
	    (qi->retain ? 1 : 0)));
	buf_add_varint(b, (uint32_t)rem);
	buf_add_u16(b, (uint16_t)topic.len);
	buf_add_str(b, topic);
	if (qi->qos > 0)
		buf_add_u16(b, qi->pid);
	if (c->version == MQTT_V5) {
		buf_add_varint(b, (uint32_t)plen);
		buf_add_str(b, props);
		if (m->expire_at != 0) {
			buf_add_u8(b, MQTT_PROP_MESSAGE_EXPIRY);
			buf_add_u32(b, expiry);
		}
		for (i = 0; i < qi->n_ids; i++) {
			buf_add_u8(b, MQTT_PROP_SUB_ID);
			buf_add_varint(b, qi->n_ids == 1 ? qi->id :
			    qi->ids[i]);
		}
		if (alias != 0) {
			buf_add_u8(b, MQTT_PROP_TOPIC_ALIAS);
			buf_add_u16(b, alias);
		}
	}
	buf_add_str(b, msg_payload(m));
	METRIC_INC(&c->w->metrics, PACKETS_SENT);
	METRIC_INC(&c->w->metrics, PACKETS_PUBLISH_SENT);
	METRIC_INC(&c->w->metrics, MESSAGES_SENT);
	c->send_pkt++;
	c->send_msg++;
	switch (qi->qos) {
	case 0:
		METRIC_INC(&c->w->metrics, MESSAGES_QOS0_SENT);
		break;
	case 1:
		METRIC_INC(&c->w->metrics, MESSAGES_QOS1_SENT);
		break;
	default:
		METRIC_INC(&c->w->metrics, MESSAGES_QOS2_SENT);
		break;
	}
	conn_want_flush(c);
	return (true);
}

/* Retained messages to send after a SUBACK. */
struct proto_retained {
	struct session	*s;
	uint8_t		 qos;
	uint32_t	 sub_id;
};

/* retain_match callback: deliver one retained message. */
static void
proto_retained_cb(struct msg *m, void *arg)
{
	struct proto_retained	*pr = arg;
	uint8_t			 qos = config->mqtt_upgrade_qos ? pr->qos :
				    (pr->qos < m->qos ? pr->qos : m->qos);

	if (pr->s->conn == NULL)
		return;
	session_deliver(pr->s, m, qos, true, pr->sub_id != 0 ?
	    &pr->sub_id : NULL, pr->sub_id != 0 ? 1 : 0, NULL);
}

/* SUBSCRIBE. */
static void
proto_subscribe(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_subscribe	*sb = &pkt->u.subscribe;
	struct worker			*w = c->w;
	struct session			*s = c->s;
	struct mqtt_sub_entry		 e;
	struct mqtt_packet		 ack;
	struct str			 group, filter;
	struct proto_retained		 pr;
	uint8_t				*rcs;
	struct str			*rfilters;
	uint8_t				*rqos;
	size_t				 off = 0, i = 0, n_ret = 0, k;
	uint32_t			 sub_id = 0;
	bool				 v5 = c->version == MQTT_V5, existed;
	bool				 excl;
	struct sub			*sub;
	int				 sh;
	uint8_t				 rc;

	METRIC_INC(&w->metrics, PACKETS_SUBSCRIBE_RECEIVED);
	if (v5 && (sb->props.has & MQTT_HAS(MQTT_PROP_SUB_ID)))
		sub_id = sb->props.sub_id;
	rcs = xcalloc(sb->n, 1);
	rfilters = xcalloc(sb->n, sizeof *rfilters);
	rqos = xcalloc(sb->n, 1);
	while (mqtt_sub_next(sb, &off, &e)) {
		sh = topic_parse_share(e.filter, &group, &filter);
		excl = false;
		if (sh == 0) {
			group = STR_NULL;
			filter = e.filter;
			if (filter.len > 11 &&
			    memcmp(filter.p, "$exclusive/", 11) == 0) {
				excl = true;
				filter.p += 11;
				filter.len -= 11;
			}
		}
		if (excl && !config->mqtt_exclusive_subscription)
			rc = v5 ? MQTT_RC_TOPIC_FILTER_INVALID : 0x80;
		else if (sh == -1 || !topic_valid_filter(filter,
		    (unsigned)config->mqtt_max_topic_levels))
			rc = v5 ? MQTT_RC_TOPIC_FILTER_INVALID : 0x80;
		else if (sh == 1 && !config->mqtt_shared_subscription)
			rc = v5 ? MQTT_RC_SHARED_SUBS_NOT_SUPPORTED : 0x80;
		else if (sh == 1 && e.no_local) {
			free(rcs);
			free(rfilters);
			free(rqos);
			proto_disconnect(c, MQTT_RC_PROTOCOL_ERROR,
			    "no local on a shared subscription");
			return;
		} else if (topic_has_wildcard(filter) &&
		    !config->mqtt_wildcard_subscription)
			rc = v5 ? MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED : 0x80;
		else if (config->mqtt_max_subscriptions != CONFIG_INFINITY &&
		    s->n_subs >= (uint64_t)config->mqtt_max_subscriptions &&
		    session_sub_find(s, e.filter) == NULL)
			rc = v5 ? MQTT_RC_QUOTA_EXCEEDED : 0x80;
		else if (excl && router_exclusive_take(filter, s->sid) != 0)
			rc = v5 ? MQTT_RC_QUOTA_EXCEEDED : 0x80;
		else {
			rc = e.qos < config->mqtt_max_qos_allowed ? e.qos :
			    (uint8_t)config->mqtt_max_qos_allowed;
			sub = session_subscribe(s, e.filter, group, filter, rc,
			    e.no_local, e.retain_as_published,
			    e.retain_handling, sub_id, &existed);
			sub->exclusive = excl;
			if (sh == 0 && config->mqtt_retain_available &&
			    (e.retain_handling == 0 ||
			    (e.retain_handling == 1 && !existed))) {
				rfilters[n_ret] = filter;
				rqos[n_ret++] = rc;
			}
			log_debug("proto: %s subscribed to '%.*s' qos %u",
			    conn_name(c), (int)e.filter.len, e.filter.p, rc);
		}
		if (rc >= 0x80)
			METRIC_INC(&w->metrics, PACKETS_SUBSCRIBE_ERROR);
		rcs[i++] = rc;
	}
	memset(&ack, 0, sizeof ack);
	ack.type = MQTT_SUBACK;
	ack.u.suback.pid = sb->pid;
	ack.u.suback.n = i;
	ack.u.suback.rcs = rcs;
	proto_send(c, &ack);
	METRIC_INC(&w->metrics, PACKETS_SUBACK_SENT);
	/* MQTT-3.8.4: retained messages follow the SUBACK. */
	for (k = 0; k < n_ret && c->state == CONN_S_OPEN; k++) {
		pr.s = s;
		pr.qos = rqos[k];
		pr.sub_id = sub_id;
		retain_match(rfilters[k], proto_retained_cb, &pr);
	}
	free(rcs);
	free(rfilters);
	free(rqos);
}

/* UNSUBSCRIBE. */
static void
proto_unsubscribe(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_subscribe	*sb = &pkt->u.subscribe;
	struct mqtt_packet		 ack;
	struct str			 f, group, filter;
	uint8_t				*rcs;
	size_t				 off = 0, i = 0;
	int				 sh;

	METRIC_INC(&c->w->metrics, PACKETS_UNSUBSCRIBE_RECEIVED);
	rcs = xcalloc(sb->n, 1);
	while (mqtt_unsub_next(sb, &off, &f)) {
		sh = topic_parse_share(f, &group, &filter);
		if (sh == 0)
			filter = f;
		if (sh == -1 || !topic_valid_filter(filter, 0))
			rcs[i++] = MQTT_RC_TOPIC_FILTER_INVALID;
		else if (session_unsubscribe(c->s, f) == 0)
			rcs[i++] = MQTT_RC_SUCCESS;
		else
			rcs[i++] = MQTT_RC_NO_SUBSCRIPTION_EXISTED;
	}
	memset(&ack, 0, sizeof ack);
	ack.type = MQTT_UNSUBACK;
	ack.u.suback.pid = sb->pid;
	ack.u.suback.n = c->version == MQTT_V5 ? i : 0;
	ack.u.suback.rcs = rcs;
	proto_send(c, &ack);
	METRIC_INC(&c->w->metrics, PACKETS_UNSUBACK_SENT);
	free(rcs);
}

/* DISCONNECT from the client. */
static void
proto_client_disconnect(struct conn *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_reason	*r = &pkt->u.reason;
	struct session			*s = c->s;

	METRIC_INC(&c->w->metrics, PACKETS_DISCONNECT_RECEIVED);
	if (c->version == MQTT_V5 &&
	    (r->props.has & MQTT_HAS(MQTT_PROP_SESSION_EXPIRY))) {
		if (s->expiry == 0 && r->props.session_expiry != 0) {
			/* MQTT-3.14.2-2 */
			proto_disconnect(c, MQTT_RC_PROTOCOL_ERROR,
			    "session expiry set at DISCONNECT after 0 at "
			    "CONNECT");
			return;
		}
		s->expiry = r->props.session_expiry;
	}
	c->got_disconnect = true;
	c->will_on_close = c->version == MQTT_V5 &&
	    r->rc == MQTT_RC_DISCONNECT_WITH_WILL;
	log_info("proto: %s disconnected by client (0x%02x %s)", conn_name(c),
	    r->rc, mqtt_rc_name(r->rc));
	c->quiet = true;
	conn_close(c, NULL);
}

/* Act on one decoded packet (state OPEN). */
static void
proto_dispatch(struct conn *c, const struct mqtt_packet *pkt)
{
	struct worker	*w = c->w;
	uint16_t	 pid = pkt->u.ack.pid;

	switch (pkt->type) {
	case MQTT_PUBLISH:
		proto_publish(c, pkt);
		break;
	case MQTT_PUBACK:
		METRIC_INC(&w->metrics, PACKETS_PUBACK_RECEIVED);
		if (session_puback(c->s, pid) != 0)
			METRIC_INC(&w->metrics, PACKETS_PUBACK_MISSED);
		break;
	case MQTT_PUBREC:
		METRIC_INC(&w->metrics, PACKETS_PUBREC_RECEIVED);
		if (session_pubrec(c->s, pid, pkt->u.ack.rc) != 0) {
			METRIC_INC(&w->metrics, PACKETS_PUBREC_MISSED);
			if (pkt->u.ack.rc < 0x80) {
				METRIC_INC(&w->metrics, PACKETS_PUBREL_SENT);
				proto_send_ack(c, MQTT_PUBREL, pid,
				    MQTT_RC_PACKET_ID_NOT_FOUND);
			}
		}
		break;
	case MQTT_PUBREL:
		METRIC_INC(&w->metrics, PACKETS_PUBREL_RECEIVED);
		METRIC_INC(&w->metrics, PACKETS_PUBCOMP_SENT);
		if (session_awrel_del(c->s, pid) != 0) {
			METRIC_INC(&w->metrics, PACKETS_PUBREL_MISSED);
			proto_send_ack(c, MQTT_PUBCOMP, pid,
			    MQTT_RC_PACKET_ID_NOT_FOUND);
		} else
			proto_send_ack(c, MQTT_PUBCOMP, pid, 0);
		break;
	case MQTT_PUBCOMP:
		METRIC_INC(&w->metrics, PACKETS_PUBCOMP_RECEIVED);
		if (session_pubcomp(c->s, pid) != 0)
			METRIC_INC(&w->metrics, PACKETS_PUBCOMP_MISSED);
		break;
	case MQTT_SUBSCRIBE:
		proto_subscribe(c, pkt);
		break;
	case MQTT_UNSUBSCRIBE:
		proto_unsubscribe(c, pkt);
		break;
	case MQTT_PINGREQ: {
		struct mqtt_packet	 pong;

		METRIC_INC(&w->metrics, PACKETS_PINGREQ_RECEIVED);
		memset(&pong, 0, sizeof pong);
		pong.type = MQTT_PINGRESP;
		proto_send(c, &pong);
		METRIC_INC(&w->metrics, PACKETS_PINGRESP_SENT);
		break;
	}
	case MQTT_DISCONNECT:
		proto_client_disconnect(c, pkt);
		break;
	case MQTT_AUTH:
		METRIC_INC(&w->metrics, PACKETS_AUTH_RECEIVED);
		/* No CONNECT carried an Authentication Method (we refuse
		 * those), so any AUTH is a protocol error (MQTT-4.12.0-2). */
		proto_disconnect(c, MQTT_RC_PROTOCOL_ERROR,
		    "AUTH without an authentication method");
		break;
	default:
		proto_disconnect(c, MQTT_RC_PROTOCOL_ERROR,
		    "unexpected packet");
		break;
	}
}

/* Decode and act on whole packets; see proto.h. */
size_t
proto_input(struct conn *c, const uint8_t *p, size_t len, bool *handoff)
{
	struct mqtt_packet	 pkt;
	enum mqtt_status	 st;
	const char		*why;
	size_t			 off = 0, used;
	unsigned		 home;
	struct str		 id;
	const char		*cert;

	while (off < len && c->state != CONN_S_CLOSING && !c->paused) {
		why = NULL;
		memset(&pkt, 0, sizeof pkt);
		st = mqtt_decode(p + off, len - off,
		    c->state == CONN_S_NEW ? 0 : c->version,
		    (uint32_t)config->mqtt_max_packet_size, &pkt, &used, &why);
		if (st == MQTT_MORE)
			break;
		if (st != MQTT_OK) {
			log_debug("proto: %s bad packet: %s", conn_name(c),
			    why != NULL ? why : "?");
			proto_error(c, st, why, &pkt, p + off, len - off);
			return (off);
		}
		METRIC_INC(&c->w->metrics, PACKETS_RECEIVED);
		c->recv_pkt++;
		if (c->state == CONN_S_NEW) {
			id = pkt.u.connect.client_id;
			if (config->mqtt_use_username_as_clientid &&
			    pkt.u.connect.has_username &&
			    pkt.u.connect.username.len != 0)
				id = pkt.u.connect.username;
			if ((cert = proto_cert_name(c,
			    config->mqtt_peer_cert_as_clientid)) != NULL)
				id = STR(cert);
			home = id.len == 0 ? c->w->id : worker_home(id);
			if (home != c->w->id && !c->over_limit) {
				METRIC_ADD(&c->w->metrics, PACKETS_RECEIVED,
				    (uint64_t)-1);
				c->handoff_to = home;
				*handoff = true;
				return (off);
			}
			proto_connect(c, &pkt);
		} else {
			conn_touch(c);
			proto_dispatch(c, &pkt);
		}
		off += used;
		if (c->state != CONN_S_CLOSING &&
		    !conn_rate_charge(c, used, pkt.type == MQTT_PUBLISH))
			break;
	}
	return (off);
}

/* A handed-over connection: its rx starts with the CONNECT. */
void
proto_adopted(struct conn *c)
{
	size_t	 used;
	bool	 handoff = false;

	used = proto_input(c, buf_head(&c->rx), buf_used(&c->rx), &handoff);
	if (c->state == CONN_S_CLOSING)
		return;
	if (handoff) {	/* cannot happen: the id hashes here */
		conn_close(c, "client id moved between workers");
		return;
	}
	buf_consume(&c->rx, used);
	buf_shrink(&c->rx);
}
