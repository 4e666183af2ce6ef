/*
 * sys.c: the $SYS/brokers/<node>/... tree (see sys.h).
 *
 * Runs on the node loop.  Every sys_topics.sys_msg_interval it publishes
 * statistics and metrics; every sys_heartbeat_interval the uptime and
 * datetime; version and sysdescr once, retained.  A $SYS message goes to
 * each worker's inbox and is matched there against local subscriptions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "conn.h"
#include "listener.h"
#include "session.h"
#include "metrics.h"
#include "msg.h"
#include "retain.h"
#include "router.h"
#include "sys.h"
#include "worker.h"
#include "xmalloc.h"

static ev_timer		 sys_msg_timer;
static ev_timer		 sys_hb_timer;
static struct ev_loop	*sys_loop;
static double		 sys_started;

/* Route a $SYS message from worker 0 (worker thread). */
static void
sys_route_cb(struct worker *w, void *arg)
{
	struct msg	*m = arg;

	router_publish(w, m);
	msg_unref(m);
}

/* Publish a node message: worker 0 routes it like any other. */
void
sys_publish(const char *topic, const char *payload, int retain)
{
	struct worker_call	*call;
	struct msg		*m;

	m = msg_new(STR(topic), STR(payload), 0, retain != 0, NULL, 0, 0);
	m->flags |= MSG_F_SYS;
	call = xcalloc(1, sizeof *call);
	call->hdr.kind = INBOX_CALL;
	call->fn = sys_route_cb;
	call->arg = m;
	worker_post(workers[0], &call->hdr);
}

/* A client connected or went away: publish EMQX's event message. */
void
sys_client_event(struct worker *w, const struct conn *c, bool connected,
    const char *reason)
{
	const struct session	*s = c->s;
	struct msg		*m;
	json_t			*j;
	char			*topic, *payload;
	uint64_t		 now = now_ms();

	if (s == NULL || (connected ?
	    !config->sys_topics_sys_event_messages_client_connected :
	    !config->sys_topics_sys_event_messages_client_disconnected))
		return;
	j = json_pack("{s:s, s:s?, s:s, s:i, s:i, s:s, s:I}",
	    "clientid", s->client_id, "username", s->username,
	    "ipaddress", conn_ip(c), "sockport",
	    c->l != NULL ? (int)c->l->port : 0, "proto_ver", (int)c->version, "proto_name",
	    c->version == 3 ? "MQIsdp" : "MQTT", "ts", (json_int_t)now);
	if (j == NULL)
		return;
	if (connected) {
		json_object_set_new(j, "keepalive",
		    json_integer(c->keepalive));
		json_object_set_new(j, "clean_start", json_boolean(
		    c->clean_start));
		json_object_set_new(j, "expiry_interval",
		    json_integer(s->expiry == UINT32_MAX ? -1 :
		    (json_int_t)s->expiry));
		json_object_set_new(j, "connected_at",
		    json_integer((json_int_t)now));
		json_object_set_new(j, "connack", json_integer(0));
	} else {
		json_object_set_new(j, "reason", json_string(reason != NULL ?
		    reason : "normal"));
		json_object_set_new(j, "disconnected_at",
		    json_integer((json_int_t)now));
	}
	payload = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (payload == NULL)
		return;
	xasprintf(&topic, "$SYS/brokers/%s/clients/%s/%s", config->node_name,
	    s->client_id, connected ? "connected" : "disconnected");
	m = msg_new(STR(topic), STR(payload), 0, false, NULL, 0, 0);
	m->flags |= MSG_F_SYS;
	router_publish(w, m);
	msg_unref(m);
	free(topic);
	free(payload);
}

/* Seconds since start. */
double
sys_uptime(void)
{
	return (ev_time() - sys_started);
}

/* Publish "$SYS/brokers/<node>/<sub>". */
static void
sys_pub(const char *sub, const char *payload, int retain)
{
	char	*topic;

	xasprintf(&topic, "$SYS/brokers/%s/%s", config->node_name, sub);
	sys_publish(topic, payload, retain);
	free(topic);
}

/* Uptime and datetime. */
static void
sys_heartbeat(void)
{
	char		 buf[64];
	time_t		 t = time(NULL);
	struct tm	 tm;

	snprintf(buf, sizeof buf, "%.0f", sys_uptime());
	sys_pub("uptime", buf, 0);
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	sys_pub("datetime", buf, 0);
}

/* Statistics and every metric. */
static void
sys_stats(void)
{
	uint64_t	 v[METRIC_COUNT];
	char		 name[128], val[32];
	char		*p;
	int		 m;

	metrics_snapshot(v);
	for (m = 0; m < METRIC_COUNT; m++) {
		snprintf(val, sizeof val, "%llu", (unsigned long long)v[m]);
		if (metric_is_gauge((enum metric)m))
			snprintf(name, sizeof name, "stats/%s",
			    metric_name((enum metric)m));
		else
			snprintf(name, sizeof name, "metrics/%s",
			    metric_name((enum metric)m));
		for (p = name; *p != '\0'; p++) {
			if (*p == '.')
				*p = '/';
		}
		sys_pub(name, val, 0);
	}
	snprintf(val, sizeof val, "%zu", retain_count());
	sys_pub("stats/retained/count", val, 0);
	snprintf(val, sizeof val, "%llu",
	    (unsigned long long)metrics_connections_max());
	sys_pub("stats/connections/max", val, 0);
}

/* sys_msg_interval timer. */
static void
sys_msg_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	sys_stats();
}

/* sys_heartbeat_interval timer. */
static void
sys_hb_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	sys_heartbeat();
}

/* Start the timers and publish the retained facts. */
void
sys_init(struct ev_loop *loop)
{
	double	 iv;

	sys_loop = loop;
	sys_started = ev_time();
	sys_pub("version", PACKAGE_VERSION, 1);
	sys_pub("sysdescr", "flockmq MQTT broker", 1);
	sys_publish("$SYS/brokers", config->node_name, 1);
	metrics_sampler_start(loop);
	if (config->sys_topics_sys_msg_interval > 0 &&
	    config->sys_topics_sys_msg_interval != CONFIG_INFINITY) {
		iv = (double)config->sys_topics_sys_msg_interval / 1000.0;
		ev_timer_init(&sys_msg_timer, sys_msg_cb, iv, iv);
		ev_timer_start(loop, &sys_msg_timer);
	}
	if (config->sys_topics_sys_heartbeat_interval > 0 &&
	    config->sys_topics_sys_heartbeat_interval != CONFIG_INFINITY) {
		iv = (double)config->sys_topics_sys_heartbeat_interval /
		    1000.0;
		ev_timer_init(&sys_hb_timer, sys_hb_cb, iv, iv);
		ev_timer_start(loop, &sys_hb_timer);
	}
}

/* Stop the timers. */
void
sys_release(void)
{
	if (sys_loop == NULL)
		return;
	metrics_sampler_stop();
	ev_timer_stop(sys_loop, &sys_msg_timer);
	ev_timer_stop(sys_loop, &sys_hb_timer);
	sys_loop = NULL;
}
