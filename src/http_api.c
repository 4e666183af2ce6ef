/*
 * http_api.c: the REST API's view of the broker (EMQX 5's /api/v5 paths
 * and shapes): clients, subscriptions, topics, nodes, metrics and stats,
 * listeners, publishing and the banned list.
 *
 * Runs on the HTTP threads (http.c).  Handlers never touch worker-owned
 * state: they read the summed counters, or run a function on each worker
 * (worker_call_all_wait) or on one (worker_call_wait) that copies what it
 * needs into JSON or acts there (a kick, a publish).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "banned.h"
#include "cluster.h"
#include "config.h"
#include "conn.h"
#include "http_int.h"
#include "link.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "mqtt_rc.h"
#include "msg.h"
#include "proto.h"
#include "retain.h"
#include "router.h"
#include "session.h"
#include "sys.h"
#include "topic.h"
#include "worker.h"
#include "xmalloc.h"

/* Client filters of GET /clients. */
struct http_cfilter {
	char	*clientid, *username, *ip, *like_clientid, *like_username;
	int	 conn_state;	/* -1 any, 0 disconnected, 1 connected */
	char	**ids[WORKER_MAX];	/* the matching client ids */
	size_t	 n_ids[WORKER_MAX];
	char	**page;			/* the ids of the page asked for */
	json_t	**obj;			/* and their objects */
	size_t	 n_page;
};

/* EMQX's client object of a session (worker thread). */
static json_t *
http_client_json(const struct session *s)
{
	const struct conn	*c = s->conn;
	json_t			*j;
	struct sub		*sub;
	unsigned		 n = 0;

	for (sub = s->subs; sub != NULL; sub = sub->next)
		n++;
	j = json_pack("{s:s, s:s?, s:s, s:b, s:s, s:i, s:b, s:I, s:o, "
	    "s:i, s:i, s:i, s:i, s:i}",
	    "clientid", s->client_id, "username", s->username, "node",
	    config->node_name, "connected", c != NULL, "conn_state", c != NULL
	    ? "connected" : "disconnected", "proto_ver", (int)s->version,
	    "durable", s->durable, "expiry_interval", s->expiry == UINT32_MAX ?
	    (json_int_t)-1 : (json_int_t)s->expiry, "created_at",
	    http_time_json(s->created_at), "subscriptions_cnt", (int)n,
	    "inflight_cnt", (int)s->n_inflight, "mqueue_len", (int)s->q_len,
	    "awaiting_rel_cnt", (int)s->n_awrel, "inflight_max",
	    (int)s->recv_max);
	json_object_set_new(j, "mqueue_dropped", json_integer(s->dropped));
	json_object_set_new(j, "proto_name", json_string(s->version == 3 ?
	    "MQIsdp" : "MQTT"));
	if (c == NULL) {
		json_object_set_new(j, "disconnected_at",
		    http_time_json(s->detached_at));
		return (j);
	}
	json_object_set_new(j, "ip_address", json_string(conn_ip(c)));
	json_object_set_new(j, "port", json_integer(c->port));
	json_object_set_new(j, "listener", json_string(c->l != NULL ?
	    c->l->id : ""));
	json_object_set_new(j, "keepalive", json_integer(c->keepalive));
	json_object_set_new(j, "clean_start", json_boolean(c->clean_start));
	json_object_set_new(j, "connected_at", http_time_json(
	    c->connected_at));
	json_object_set_new(j, "recv_oct", json_integer(
	    (json_int_t)c->recv_oct));
	json_object_set_new(j, "send_oct", json_integer(
	    (json_int_t)c->send_oct));
	json_object_set_new(j, "recv_pkt", json_integer(
	    (json_int_t)c->recv_pkt));
	json_object_set_new(j, "send_pkt", json_integer(
	    (json_int_t)c->send_pkt));
	json_object_set_new(j, "recv_msg", json_integer(
	    (json_int_t)c->recv_msg));
	json_object_set_new(j, "send_msg", json_integer(
	    (json_int_t)c->send_msg));
	return (j);
}

/* Whether a session passes the filters (worker thread). */
static bool
http_client_match(const struct http_cfilter *f, const struct session *s)
{
	if (f->clientid != NULL && strcmp(f->clientid, s->client_id) != 0)
		return (false);
	if (f->username != NULL && (s->username == NULL ||
	    strcmp(f->username, s->username) != 0))
		return (false);
	if (f->like_clientid != NULL && strstr(s->client_id,
	    f->like_clientid) == NULL)
		return (false);
	if (f->like_username != NULL && (s->username == NULL ||
	    strstr(s->username, f->like_username) == NULL))
		return (false);
	if (f->conn_state != -1 && (s->conn != NULL) != (f->conn_state == 1))
		return (false);
	if (f->ip != NULL && (s->conn == NULL ||
	    strcmp(f->ip, conn_ip(s->conn)) != 0))
		return (false);
	return (true);
}

/* Collect the ids of this worker's clients that match (worker thread). */
static void
http_clients_cb(struct worker *w, void *arg)
{
	struct http_cfilter	*f = arg;
	struct hmap_ent		*e = NULL;
	struct session		*s;
	size_t			 i = 0, n = 0;

	f->ids[w->id] = xreallocarray(NULL, w->sessions.n + 1,
	    sizeof *f->ids[w->id]);
	while ((e = hmap_next(&w->sessions, &i, e)) != NULL) {
		s = e->val;
		if (http_client_match(f, s))
			f->ids[w->id][n++] = xstrdup(s->client_id);
	}
	f->n_ids[w->id] = n;
}

/* The objects of the page's clients that live here (worker thread). */
static void
http_client_page_cb(struct worker *w, void *arg)
{
	struct http_cfilter	*f = arg;
	struct session		*s;
	size_t			 k;

	for (k = 0; k < f->n_page; k++) {
		if (worker_home(STR(f->page[k])) == w->id &&
		    (s = session_find(w, STR(f->page[k]))) != NULL)
			f->obj[k] = http_client_json(s);
	}
}

/* qsort: client ids. */
static int
http_cmp_id(const void *a, const void *b)
{
	return (strcmp(*(char * const *)a, *(char * const *)b));
}

/*
 * Answer the page of the clients that passed the filters: their ids are
 * sorted here, and only the page's clients are made into objects, on
 * their workers (a session that ended meanwhile is left out).
 */
static void
http_clients_page(struct http_req *r, struct http_cfilter *f, long page,
    long limit)
{
	json_t		*data = json_array();
	char		**all;
	size_t		 n = 0, i, k, from;
	unsigned	 w;

	for (w = 0; w < n_workers; w++)
		n += f->n_ids[w];
	all = xreallocarray(NULL, n + 1, sizeof *all);
	for (n = 0, w = 0; w < n_workers; w++) {
		for (i = 0; i < f->n_ids[w]; i++)
			all[n++] = f->ids[w][i];
		free(f->ids[w]);
	}
	qsort(all, n, sizeof *all, http_cmp_id);
	from = (size_t)(page - 1) * (size_t)limit;
	if (from < n) {
		f->page = all + from;
		f->n_page = n - from < (size_t)limit ? n - from :
		    (size_t)limit;
		f->obj = xcalloc(f->n_page, sizeof *f->obj);
		worker_call_all_wait(http_client_page_cb, f);
		for (k = 0; k < f->n_page; k++) {
			if (f->obj[k] != NULL)
				json_array_append_new(data, f->obj[k]);
		}
		free(f->obj);
	}
	for (i = 0; i < n; i++)
		free(all[i]);
	free(all);
	http_page_answer(r, data, page, limit, n);
}

/* GET /api/v5/clients */
static void
http_get_clients(struct http_req *r)
{
	struct http_cfilter	 f;
	const char		*st = http_arg(r, "conn_state");
	long			 page, limit;

	if (!http_page_args(r, &page, &limit))
		return;
	memset(&f, 0, sizeof f);
	f.conn_state = -1;
	if (st != NULL) {
		if (strcmp(st, "connected") == 0)
			f.conn_state = 1;
		else if (strcmp(st, "disconnected") == 0)
			f.conn_state = 0;
		else {
			http_error(r, 400, "BAD_REQUEST", "bad conn_state '%s' "
			    "(connected or disconnected)", st);
			return;
		}
	}
	f.clientid = http_arg_str(r, "clientid");
	f.username = http_arg_str(r, "username");
	f.ip = http_arg_str(r, "ip_address");
	f.like_clientid = http_arg_str(r, "like_clientid");
	f.like_username = http_arg_str(r, "like_username");
	worker_call_all_wait(http_clients_cb, &f);
	http_clients_page(r, &f, page, limit);
	free(f.clientid);
	free(f.username);
	free(f.ip);
	free(f.like_clientid);
	free(f.like_username);
}

/* One client's lookup or kick on its home worker. */
struct http_one {
	const char	*clientid;
	json_t		*out;
	bool		 kick;
	bool		 found;
};

/* EMQX's object of one subscription (worker thread). */
static json_t *
http_sub_json(const struct session *s, const struct sub *sub)
{
	return (json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:s, s:b}",
	    "clientid", s->client_id, "topic", sub->text, "qos",
	    (int)sub->qos, "nl", (int)sub->no_local, "rap", (int)sub->rap,
	    "rh", (int)sub->rh, "node", config->node_name, "durable",
	    s->durable));
}

/* The subscriptions of a session as EMQX's objects (worker thread). */
static json_t *
http_subs_json(const struct session *s)
{
	json_t		*a = json_array();
	struct sub	*sub;

	for (sub = s->subs; sub != NULL; sub = sub->next)
		json_array_append_new(a, http_sub_json(s, sub));
	return (a);
}

/* Look up or kick a client on its home worker (worker thread). */
static void
http_one_cb(struct worker *w, void *arg)
{
	struct http_one		*o = arg;
	struct session		*s;
	struct str		 id = STR(o->clientid);

	if ((s = session_find(w, id)) == NULL)
		return;
	o->found = true;
	if (!o->kick) {
		o->out = json_pack("{s:o, s:o}", "client",
		    http_client_json(s), "subscriptions", http_subs_json(s));
		return;
	}
	log_notice("http: kicking client '%s'", s->client_id);
	if (s->conn != NULL)
		proto_disconnect(s->conn, MQTT_RC_ADMINISTRATIVE_ACTION,
		    "kicked by an administrator");
	/* Detaching may have ended it (expiry 0). */
	if ((s = session_find(w, id)) != NULL)
		session_end(s);
}

/* Run http_one_cb for a client id on its home worker. */
static void
http_one(struct http_one *o)
{
	worker_call_wait(workers[worker_home(STR(o->clientid))], http_one_cb,
	    o);
}

/* GET /api/v5/clients/:clientid */
static void
http_get_client(struct http_req *r)
{
	struct http_one	 o = { .clientid = r->param[0] };

	http_one(&o);
	if (!o.found) {
		http_error(r, 404, "CLIENTID_NOT_FOUND", "client id '%s' not "
		    "found", o.clientid);
		return;
	}
	http_json(r, 200, json_incref(json_object_get(o.out, "client")));
	json_decref(o.out);
}

/* GET /api/v5/clients/:clientid/subscriptions */
static void
http_get_client_subs(struct http_req *r)
{
	struct http_one	 o = { .clientid = r->param[0] };

	http_one(&o);
	if (!o.found) {
		http_error(r, 404, "CLIENTID_NOT_FOUND", "client id '%s' not "
		    "found", o.clientid);
		return;
	}
	http_json(r, 200, json_incref(json_object_get(o.out,
	    "subscriptions")));
	json_decref(o.out);
}

/* DELETE /api/v5/clients/:clientid */
static void
http_delete_client(struct http_req *r)
{
	struct http_one	 o = { .clientid = r->param[0], .kick = true };

	http_one(&o);
	if (!o.found) {
		http_error(r, 404, "CLIENTID_NOT_FOUND", "client id '%s' not "
		    "found", o.clientid);
		return;
	}
	http_empty(r, 204);
}

/* POST /api/v5/clients/kickout/bulk ["id", ...] */
static void
http_kick_bulk(struct http_req *r)
{
	struct http_one	 o;
	json_t		*j, *v;
	size_t		 i;

	if ((j = http_body_json(r)) == NULL)
		return;
	if (!json_is_array(j)) {
		http_error(r, 400, "BAD_REQUEST", "the body must be an array "
		    "of client ids");
		goto out;
	}
	json_array_foreach(j, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0) {
			http_error(r, 400, "BAD_REQUEST", "element %zu is not "
			    "a client id", i);
			goto out;
		}
	}
	json_array_foreach(j, i, v) {
		memset(&o, 0, sizeof o);
		o.clientid = json_string_value(v);
		o.kick = true;
		http_one(&o);
	}
	http_empty(r, 204);
out:
	json_decref(j);
}

/* Subscription filters of GET /subscriptions and /topics. */
struct http_sfilter {
	char	*clientid, *topic, *share_group, *match_topic;
	int	 qos;		/* -1 any */
	bool	 topics;	/* collect filters only */
	json_t	*per[WORKER_MAX];
};

/* Collect this worker's subscriptions (worker thread). */
static void
http_subs_cb(struct worker *w, void *arg)
{
	struct http_sfilter	*f = arg;
	struct hmap_ent		*e = NULL;
	struct session		*s;
	struct sub		*sub;
	size_t			 i = 0;

	f->per[w->id] = json_array();
	while ((e = hmap_next(&w->sessions, &i, e)) != NULL) {
		s = e->val;
		if (f->clientid != NULL && strcmp(f->clientid,
		    s->client_id) != 0)
			continue;
		for (sub = s->subs; sub != NULL; sub = sub->next) {
			if (f->topics) {
				json_array_append_new(f->per[w->id],
				    json_pack("{s:s%, s:s}", "topic",
				    sub->filter.p, sub->filter.len, "node",
				    config->node_name));
				continue;
			}
			if ((f->topic != NULL && strcmp(f->topic,
			    sub->text) != 0) || (f->qos != -1 &&
			    f->qos != sub->qos) || (f->share_group != NULL &&
			    (sub->group.len != strlen(f->share_group) ||
			    memcmp(sub->group.p, f->share_group,
			    sub->group.len) != 0)) ||
			    (f->match_topic != NULL && !topic_match(
			    sub->filter, STR(f->match_topic))))
				continue;
			json_array_append_new(f->per[w->id],
			    http_sub_json(s, sub));
		}
	}
}

/* GET /api/v5/subscriptions */
static void
http_get_subscriptions(struct http_req *r)
{
	struct http_sfilter	 f;
	const char		*q = http_arg(r, "qos");
	long			 page, limit;

	if (!http_page_args(r, &page, &limit))
		return;
	memset(&f, 0, sizeof f);
	f.qos = -1;
	if (q != NULL) {
		if (strlen(q) != 1 || q[0] < '0' || q[0] > '2') {
			http_error(r, 400, "BAD_REQUEST", "bad qos '%s' (0, 1 "
			    "or 2)", q);
			return;
		}
		f.qos = q[0] - '0';
	}
	f.share_group = http_arg_str(r, "share_group");
	if (f.share_group != NULL && f.share_group[0] == '\0') {
		http_error(r, 400, "BAD_REQUEST", "share_group must not be "
		    "empty");
		free(f.share_group);
		return;
	}
	f.clientid = http_arg_str(r, "clientid");
	f.topic = http_arg_str(r, "topic");
	f.match_topic = http_arg_str(r, "match_topic");
	worker_call_all_wait(http_subs_cb, &f);
	http_page(r, http_join(f.per), page, limit);
	free(f.clientid);
	free(f.topic);
	free(f.share_group);
	free(f.match_topic);
}

/* GET /api/v5/topics: the distinct filters subscribed. */
static void
http_get_topics(struct http_req *r)
{
	struct http_sfilter	 f;
	json_t			*all, *out, *v, *prev = NULL;
	char			*topic;
	size_t			 i;
	long			 page, limit;

	if (!http_page_args(r, &page, &limit))
		return;
	memset(&f, 0, sizeof f);
	f.qos = -1;
	f.topics = true;
	worker_call_all_wait(http_subs_cb, &f);
	all = http_join(f.per);
	topic = http_arg_str(r, "topic");
	out = json_array();
	json_array_foreach(all, i, v) {
		if (prev != NULL && json_equal(prev, v))
			continue;
		prev = v;
		if (topic != NULL && strcmp(topic, json_string_value(
		    json_object_get(v, "topic"))) != 0)
			continue;
		json_array_append(out, v);
	}
	json_decref(all);
	free(topic);
	http_page(r, out, page, limit);
}

/* EMQX's node object for this node. */
static json_t *
http_node_json(void)
{
	uint64_t	 total, used, proc;
	double		 load[3] = { 0, 0, 0 };
	struct rlimit	 rl;
	char		*log_path;
	json_t		*j;

	metrics_memory(&total, &used, &proc);
	(void)getloadavg(load, 3);
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		rl.rlim_cur = 0;
	if (config->log_file_path[0] != '\0')
		log_path = xstrdup(config->log_file_path);
	else
		xasprintf(&log_path, "%s/log", config->node_data_dir);
	j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:f, s:f, s:f, s:s, s:s, s:s, s:s}",
	    "node", config->node_name, "node_status", "running", "version",
	    PACKAGE_VERSION, "otp_release", "n/a", "uptime",
	    (json_int_t)(sys_uptime() * 1000), "connections",
	    (json_int_t)metrics_get(METRIC_CONNECTIONS_COUNT),
	    "live_connections",
	    (json_int_t)metrics_get(METRIC_LIVE_CONNECTIONS_COUNT),
	    "memory_total", (json_int_t)total, "memory_used",
	    (json_int_t)used, "process_used", (json_int_t)metrics_open_fds(),
	    "max_fds", (json_int_t)rl.rlim_cur, "load1", load[0], "load5",
	    load[1], "load15", load[2], "role", "core", "edition",
	    "Opensource", "sys_path", config->node_data_dir, "log_path",
	    log_path);
	free(log_path);
	/* EMQX's processes are our descriptors: one per connection. */
	json_object_set_new(j, "process_available", json_integer(
	    (json_int_t)rl.rlim_cur));
	return (j);
}

/* What the metadata group says of a node: member, raft. */
static void
http_member_json(json_t *j, const struct cluster_node *n)
{
	json_object_set_new(j, "member", json_boolean(n->member));
	json_object_set_new(j, "raft", json_string(n->voter ? "voter" :
	    n->learner ? "learner" : "none"));
}

/* The node object of a peer, from the node links' snapshot. */
static json_t *
http_peer_json(const struct cluster_node *n)
{
	const struct link_peer_info *p = &n->link;
	json_t		*j, *v;
	char		 id[20];
	unsigned int	 i;

	v = json_object();
	for (i = 0; i < WIRE_SUB_COUNT; i++)
		if (p->agreed[i] > 0)
			json_object_set_new(v, wire_subsys_name(i),
			    json_integer(p->agreed[i]));
	snprintf(id, sizeof id, "%016llx", (unsigned long long)p->node_id);
	j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:I, s:o, s:s}",
	    "node", p->name, "node_status", n->running ? "running" :
	    "stopped", "version", p->version, "role", n->role == 1 ?
	    "replicant" : "core", "node_id", p->node_id != 0 ? id : "",
	    "boot", (json_int_t)p->boot, "address", p->addr,
	    "data_connections", (json_int_t)p->data_up, "protocol_versions",
	    v, "reason", n->running ? "" : p->reason);
	http_member_json(j, n);
	return (j);
}

/* GET /api/v5/nodes */
static void
http_get_nodes(struct http_req *r)
{
	struct cluster_node	*v;
	json_t			*a;
	size_t			 i, n = cluster_nodes(&v, NULL);

	a = json_pack("[o]", http_node_json());
	for (i = 1; i < n; i++)
		json_array_append_new(a, http_peer_json(&v[i]));
	free(v);
	http_json(r, 200, a);
}

/* GET /api/v5/nodes/:node */
static void
http_get_node(struct http_req *r)
{
	struct cluster_node	*v;
	size_t			 i, n = cluster_nodes(&v, NULL);

	for (i = 0; i < n; i++)
		if (strcmp(v[i].link.name, r->param[0]) == 0)
			break;
	if (i == n)
		http_error(r, 404, "NOT_FOUND", "node '%s' not found",
		    r->param[0]);
	else
		http_json(r, 200, i == 0 ? http_node_json() :
		    http_peer_json(&v[i]));
	free(v);
}

/*
 * GET /api/v5/cluster: the members of the metadata group, running or
 * stopped (or, before there are any, the peers linked), the peers that
 * are not members, and the group's state as this node sees it.
 */
static void
http_get_cluster(struct http_req *r)
{
	struct cluster_node	*v;
	struct cluster_meta	 m;
	struct cluster_node	 v0;
	json_t			*run, *stop, *other, *meta;
	size_t			 i, n = cluster_nodes(&v, &m);
	char			 id[20];

	run = json_array();
	stop = json_array();
	other = json_array();
	for (i = 0; i < n; i++) {
		if (m.n_members != 0 && !v[i].member && !v[i].self) {
			json_array_append_new(other,
			    json_string(v[i].link.name));
			continue;
		}
		json_array_append_new(v[i].running ? run : stop,
		    json_string(v[i].link.name));
	}
	v0 = v[0];
	free(v);
	snprintf(id, sizeof id, "%016llx", (unsigned long long)m.leader);
	meta = json_pack("{s:b, s:b, s:s, s:s, s:s, s:I, s:I, s:I, s:I, "
	    "s:I}", "started", m.started, "member", m.member, "raft_role",
	    m.raft_role, "leader", m.leader_name, "leader_id", m.leader != 0 ?
	    id : "", "term", (json_int_t)m.term, "commit",
	    (json_int_t)m.commit, "applied", (json_int_t)m.applied, "last",
	    (json_int_t)m.last, "members", (json_int_t)m.n_members);
	/* This node's own object keeps EMQX's fields: its id is here. */
	snprintf(id, sizeof id, "%016llx", (unsigned long long)link_node_id());
	json_object_set_new(meta, "self_id", json_string(id));
	json_object_set_new(meta, "self_raft", json_string(v0.voter ?
	    "voter" : v0.learner ? "learner" : "none"));
	http_json(r, 200, json_pack("{s:s, s:o, s:o, s:o, s:s, s:o}", "name",
	    config->cluster_name, "nodes", run, "stopped_nodes", stop,
	    "not_members", other, "self", config->node_name, "metadata",
	    meta));
}

/* GET /status and /api/v5/status */
static void
http_get_status(struct http_req *r)
{
	const char	*fmt = http_arg(r, "format");
	char		*s;

	if (fmt != NULL && strcmp(fmt, "json") == 0) {
		http_json(r, 200, json_pack("{s:s, s:s, s:s, s:s}",
		    "node_name", config->node_name, "rel_vsn", PACKAGE_VERSION,
		    "broker_status", "started", "app_status", "running"));
		return;
	}
	xasprintf(&s, "Node %s is started\nflockmq is running\n",
	    config->node_name);
	http_text(r, 200, "text/plain; charset=utf-8", s, strlen(s));
}

/* Whether ?aggregate=true. */
static bool
http_aggregate(const struct http_req *r)
{
	const char	*a = http_arg(r, "aggregate");

	return (a != NULL && strcmp(a, "true") == 0);
}

/*
 * Answer EMQX's metrics or stats object: alone with ?aggregate=true, else
 * in a list, one object per node with its name (takes j).
 */
static void
http_per_node(struct http_req *r, json_t *j)
{
	if (http_aggregate(r)) {
		http_json(r, 200, j);
		return;
	}
	json_object_set_new(j, "node", json_string(config->node_name));
	http_json(r, 200, json_pack("[o]", j));
}

/* The counters, or the gauges, of the metrics table by EMQX name. */
static json_t *
http_metric_values(bool gauges)
{
	uint64_t	 v[METRIC_COUNT];
	json_t		*j = json_object();
	int		 m;

	metrics_snapshot(v);
	for (m = 0; m < METRIC_COUNT; m++) {
		if ((metric_is_gauge(m) != 0) == gauges)
			json_object_set_new(j, metric_name(m), json_integer(
			    (json_int_t)v[m]));
	}
	return (j);
}

/* GET /api/v5/metrics: the counters. */
static void
http_get_metrics(struct http_req *r)
{
	http_per_node(r, http_metric_values(false));
}

/* GET /api/v5/stats: the gauges and their maxima. */
static void
http_get_stats(struct http_req *r)
{
	uint64_t	 maxv[16];
	const char	*names[16];
	json_t		*j = http_metric_values(true);
	size_t		 n, i;

	json_object_set_new(j, "retained.count", json_integer(
	    (json_int_t)retain_count()));
	n = metrics_maxima_get(names, maxv, sizeof maxv / sizeof maxv[0]);
	for (i = 0; i < n; i++)
		json_object_set_new(j, names[i], json_integer(
		    (json_int_t)maxv[i]));
	http_per_node(r, j);
}

/* GET /api/v5/prometheus and /api/v5/prometheus/stats */
static void
http_get_prometheus(struct http_req *r)
{
	struct buf	 b;

	buf_init(&b);
	metrics_prometheus(&b);
	buf_add_u8(&b, 0);
	http_text(r, 200, "text/plain; version=0.0.4; charset=utf-8",
	    xstrdup((const char *)buf_head(&b)), buf_used(&b) - 1);
	buf_release(&b);
}

/* GET /api/v5/listeners */
static void
http_get_listeners(struct http_req *r)
{
	const struct config_listener	*lc;
	struct listener			*l;
	json_t				*a = json_array();
	const char			*colon;
	size_t				 i;

	for (i = 0; i < n_listeners; i++) {
		l = listeners[i];
		lc = l->cfg;
		colon = strchr(l->id, ':');
		json_array_append_new(a, json_pack("{s:s, s:s%, s:s, s:s, "
		    "s:b, s:b, s:I, s:I}", "id", l->id, "type", l->id,
		    colon != NULL ? (size_t)(colon - l->id) : strlen(l->id),
		    "name", colon != NULL ? colon + 1 : l->id, "bind",
		    l->bind_text, "enable", lc->enable, "running",
		    __atomic_load_n(&l->running, __ATOMIC_RELAXED) != 0,
		    "current_connections", (json_int_t)__atomic_load_n(
		    &l->conns, __ATOMIC_RELAXED), "max_connections",
		    lc->max_connections == CONFIG_INFINITY ? (json_int_t)-1 :
		    (json_int_t)lc->max_connections));
	}
	http_json(r, 200, a);
}

/* POST /api/v5/listeners/:id/:action */
static void
http_listener_action(struct http_req *r)
{
	struct listener	*l;
	const char	*act = r->param[1];
	char		*cause = NULL;

	if ((l = listener_find(r->param[0])) == NULL) {
		http_error(r, 404, "BAD_LISTENER_ID", "no listener '%s'",
		    r->param[0]);
		return;
	}
	if (strcmp(act, "stop") != 0 && strcmp(act, "start") != 0 &&
	    strcmp(act, "restart") != 0) {
		http_error(r, 404, "NOT_FOUND", "no action '%s' (start, stop "
		    "or restart)", act);
		return;
	}
	log_notice("http: %s of listener %s requested by '%s'", act, l->id,
	    r->who);
	if (strcmp(act, "start") != 0)
		listener_stop(l);
	if (strcmp(act, "stop") != 0 && listener_start(l, &cause) != 0) {
		http_error(r, 500, "INTERNAL_ERROR", "%s", cause);
		free(cause);
		return;
	}
	http_json(r, 200, json_object());
}

/* Validate a publish body; fills m, or answers 400 and returns NULL. */
static struct msg *
http_publish_msg(struct http_req *r, json_t *b)
{
	struct mqtt_props	 props;
	const char		*topic, *payload, *enc = NULL, *k;
	json_t			*v, *p, *u;
	struct buf		 ub;
	struct msg		*m = NULL;
	unsigned char		*dec = NULL;
	size_t			 declen = 0, plen;
	int			 qos = 0, retain = 0;

	memset(&props, 0, sizeof props);
	buf_init(&ub);
	if (!json_is_object(b)) {
		http_error(r, 400, "BAD_REQUEST", "a message must be a JSON "
		    "object");
		return (NULL);
	}
	if (!http_member_str(r, b, "topic", true, &topic) ||
	    !http_member_str(r, b, "payload", false, &payload) ||
	    !http_member_str(r, b, "payload_encoding", false, &enc))
		return (NULL);
	if (payload == NULL)
		payload = "";
	if ((v = json_object_get(b, "qos")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) > 2) {
			http_error(r, 400, "BAD_REQUEST", "'qos' must be 0, 1 "
			    "or 2");
			return (NULL);
		}
		qos = (int)json_integer_value(v);
	}
	if ((v = json_object_get(b, "retain")) != NULL) {
		if (!json_is_boolean(v)) {
			http_error(r, 400, "BAD_REQUEST", "'retain' must be "
			    "true or false");
			return (NULL);
		}
		retain = json_is_true(v);
	}
	if (!topic_valid_name(STR(topic), (unsigned)
	    config->mqtt_max_topic_levels) || topic_has_wildcard(STR(topic))) {
		http_error(r, 400, "BAD_TOPIC", "bad topic name '%s'", topic);
		return (NULL);
	}
	plen = strlen(payload);
	if (enc != NULL && strcmp(enc, "base64") == 0) {
		dec = xmalloc(plen + 1);
		if (mbedtls_base64_decode(dec, plen + 1, &declen,
		    (const unsigned char *)payload, plen) != 0) {
			free(dec);
			http_error(r, 400, "BAD_REQUEST", "'payload' is not "
			    "base64");
			return (NULL);
		}
	} else if (enc != NULL && strcmp(enc, "plain") != 0) {
		http_error(r, 400, "BAD_REQUEST", "'payload_encoding' must be "
		    "plain or base64");
		return (NULL);
	}
	if ((p = json_object_get(b, "properties")) != NULL) {
		if (!json_is_object(p))
			goto bad_props;
		if ((v = json_object_get(p, "payload_format_indicator")) !=
		    NULL) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 1)
				goto bad_props;
			props.has |= MQTT_HAS(MQTT_PROP_PAYLOAD_FORMAT);
			props.payload_format = (uint8_t)json_integer_value(v);
		}
		if ((v = json_object_get(p, "message_expiry_interval")) !=
		    NULL) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > UINT32_MAX)
				goto bad_props;
			props.has |= MQTT_HAS(MQTT_PROP_MESSAGE_EXPIRY);
			props.message_expiry = (uint32_t)json_integer_value(v);
		}
		if ((v = json_object_get(p, "content_type")) != NULL) {
			if (!json_is_string(v))
				goto bad_props;
			props.has |= MQTT_HAS(MQTT_PROP_CONTENT_TYPE);
			props.content_type = STR(json_string_value(v));
		}
		if ((v = json_object_get(p, "response_topic")) != NULL) {
			if (!json_is_string(v) || !topic_valid_name(
			    STR(json_string_value(v)), (unsigned)
			    config->mqtt_max_topic_levels))
				goto bad_props;
			props.has |= MQTT_HAS(MQTT_PROP_RESPONSE_TOPIC);
			props.response_topic = STR(json_string_value(v));
		}
		if ((v = json_object_get(p, "correlation_data")) != NULL) {
			if (!json_is_string(v))
				goto bad_props;
			props.has |= MQTT_HAS(MQTT_PROP_CORRELATION_DATA);
			props.correlation_data = STR(json_string_value(v));
		}
		if ((u = json_object_get(p, "user_properties")) != NULL) {
			if (!json_is_object(u))
				goto bad_props;
			json_object_foreach(u, k, v) {
				if (!json_is_string(v) || strlen(k) > 65535 ||
				    json_string_length(v) > 65535)
					goto bad_props;
				buf_add_u8(&ub, MQTT_PROP_USER);
				buf_add_u16(&ub, (uint16_t)strlen(k));
				buf_add(&ub, k, strlen(k));
				buf_add_u16(&ub, (uint16_t)
				    json_string_length(v));
				buf_add(&ub, json_string_value(v),
				    json_string_length(v));
			}
			if (buf_used(&ub) != 0) {
				props.has |= MQTT_HAS(MQTT_PROP_USER);
				props.user = STRB(&ub);
			}
		}
	}
	if ((dec != NULL ? declen : plen) > (size_t)config->mqtt_max_packet_size) {
		http_error(r, 400, "PACKET_TOO_LARGE", "payload over "
		    "mqtt.max_packet_size");
		goto out;
	}
	m = msg_new(STR(topic), dec != NULL ? (struct str){ dec, declen } :
	    STR(payload), (uint8_t)qos, retain != 0, &props, 0, 0);
	goto out;
bad_props:
	http_error(r, 400, "BAD_REQUEST", "bad 'properties': "
	    "payload_format_indicator 0 or 1, message_expiry_interval, "
	    "content_type, response_topic, correlation_data (strings) and "
	    "user_properties (an object of strings)");
out:
	free(dec);
	buf_release(&ub);
	return (m);
}

/* Messages routed by a worker for POST /publish and /publish/bulk. */
struct http_pub {
	struct msg	**m;
	int		*matched;
	size_t		 n;
};

/*
 * Route REST messages in order (worker thread).  Always on worker 0, as
 * $SYS messages are: one worker keeps the order of consecutive requests.
 */
static void
http_publish_cb(struct worker *w, void *arg)
{
	struct http_pub	*p = arg;
	size_t		 i;

	for (i = 0; i < p->n; i++)
		p->matched[i] = router_publish(w, p->m[i]);
}

/*
 * Publish the messages of an array of bodies; all are checked first and
 * none goes if one is bad (answered, NULL).  Else EMQX's result objects.
 */
static json_t *
http_publish_all(struct http_req *r, json_t *bodies)
{
	struct http_pub	 p;
	json_t		*out = NULL, *v;
	char		 id[33];
	size_t		 i;

	p.n = json_array_size(bodies);
	p.m = xcalloc(p.n, sizeof *p.m);
	p.matched = xcalloc(p.n, sizeof *p.matched);
	json_array_foreach(bodies, i, v) {
		if ((p.m[i] = http_publish_msg(r, v)) == NULL)
			goto out;
	}
	worker_call_wait(workers[0], http_publish_cb, &p);
	out = json_array();
	for (i = 0; i < p.n; i++) {
		http_random_hex(id, 16);
		if (p.matched[i])
			v = json_pack("{s:s}", "id", id);
		else
			v = json_pack("{s:s, s:s, s:i}", "id", id, "message",
			    "no_matching_subscribers", "reason_code", 16);
		json_array_append_new(out, v);
	}
out:
	for (i = 0; i < p.n; i++)
		msg_unref(p.m[i]);
	free(p.m);
	free(p.matched);
	return (out);
}

/* POST /api/v5/publish */
static void
http_publish(struct http_req *r)
{
	json_t	*b, *one, *res;

	if ((b = http_body_object(r)) == NULL)
		return;
	one = json_pack("[o]", b);
	if ((res = http_publish_all(r, one)) != NULL) {
		http_json(r, json_object_get(json_array_get(res, 0),
		    "reason_code") != NULL ? 202 : 200,
		    json_incref(json_array_get(res, 0)));
		json_decref(res);
	}
	json_decref(one);
}

/* POST /api/v5/publish/bulk */
static void
http_publish_bulk(struct http_req *r)
{
	json_t	*b, *res;

	if ((b = http_body_json(r)) == NULL)
		return;
	if (!json_is_array(b) || json_array_size(b) == 0)
		http_error(r, 400, "BAD_REQUEST", "the body must be a "
		    "non-empty array of messages");
	else if ((res = http_publish_all(r, b)) != NULL)
		http_json(r, 200, res);
	json_decref(b);
}

/* GET /api/v5/banned */
static void
http_get_banned(struct http_req *r)
{
	long	 page, limit;

	if (http_page_args(r, &page, &limit))
		http_page(r, banned_list(), page, limit);
}

/*
 * Disconnect this worker's clients that are banned now (worker thread).
 * Found first, then disconnected: a disconnect may end its session, which
 * leaves the session map.
 */
static void
http_ban_kick_cb(struct worker *w, void *arg)
{
	struct hmap_ent		*e = NULL;
	struct session		*s;
	struct conn		**hit = NULL;
	unsigned		*n = arg;
	char			 why[512];
	size_t			 i = 0, k, n_hit = 0;

	while ((e = hmap_next(&w->sessions, &i, e)) != NULL) {
		s = e->val;
		if (s->conn == NULL || !banned_match(STR(s->client_id),
		    s->username != NULL ? STR(s->username) : STR_NULL,
		    conn_ip(s->conn), why, sizeof why))
			continue;
		log_notice("http: disconnecting client '%s', banned: %s",
		    s->client_id, why);
		hit = xreallocarray(hit, n_hit + 1, sizeof *hit);
		hit[n_hit++] = s->conn;
	}
	for (k = 0; k < n_hit; k++)
		proto_disconnect(hit[k], MQTT_RC_ADMINISTRATIVE_ACTION,
		    "banned");
	free(hit);
	__atomic_add_fetch(n, (unsigned)n_hit, __ATOMIC_RELAXED);
}

/*
 * POST /api/v5/banned.  As in EMQX, a ban by client id, username or
 * address also disconnects the clients it matches; a regular expression
 * applies from their next CONNECT only.
 */
static void
http_post_banned(struct http_req *r)
{
	json_t		*b, *out = NULL;
	const char	*as;
	char		*cause = NULL;
	unsigned	 kicked = 0;
	int		 rc;

	if ((b = http_body_object(r)) == NULL)
		return;
	rc = banned_add(b, r->who, &out, &cause);
	if (rc == 0) {
		as = json_string_value(json_object_get(out, "as"));
		if (as != NULL && strstr(as, "_re") == NULL)
			worker_call_all_wait(http_ban_kick_cb, &kicked);
		log_notice("http: %s '%s' banned by '%s'; %u connected "
		    "clients disconnected", as, json_string_value(
		    json_object_get(out, "who")), r->who, kicked);
		http_json(r, 200, out);
	} else
		http_error(r, rc == 1 ? 409 : 400, rc == 1 ? "ALREADY_EXISTS" :
		    "BAD_REQUEST", "%s", cause != NULL ? cause : "bad ban");
	free(cause);
	json_decref(b);
}

/* DELETE /api/v5/banned: every ban goes. */
static void
http_clear_banned(struct http_req *r)
{
	json_t		*all = banned_list(), *v;
	size_t		 i;

	json_array_foreach(all, i, v)
		(void)banned_del(json_string_value(json_object_get(v, "as")),
		    json_string_value(json_object_get(v, "who")));
	json_decref(all);
	log_notice("http: banned list cleared by '%s'", r->who);
	http_empty(r, 204);
}

/* DELETE /api/v5/banned/:as/:who */
static void
http_delete_banned(struct http_req *r)
{
	if (banned_del(r->param[0], r->param[1]) != 0) {
		http_error(r, 404, "NOT_FOUND", "no ban of %s '%s'",
		    r->param[0], r->param[1]);
		return;
	}
	http_empty(r, 204);
}

/* DELETE /api/v5/cluster/:node/force_leave (on the metadata leader). */
static void
http_force_leave(struct http_req *r)
{
	char	 err[512];
	int	 status = cluster_force_leave(r->param[0], err, sizeof err);

	if (status == 204)
		http_empty(r, 204);
	else
		http_error(r, status, status == 404 ? "NOT_FOUND" :
		    status == 400 ? "BAD_REQUEST" : "SERVICE_UNAVAILABLE",
		    "%s", err);
}

/* The REST API's routes; http.c adds login, users and API keys. */
const struct http_route http_api_routes[] = {
	{ "GET", "/status", http_get_status, HTTP_F_NOAUTH },
	{ "GET", "/api/v5/status", http_get_status, HTTP_F_NOAUTH },
	{ "GET", "/api/v5/prometheus", http_get_prometheus, HTTP_F_NOAUTH },
	{ "GET", "/api/v5/prometheus/stats", http_get_prometheus,
	    HTTP_F_NOAUTH },
	{ "GET", "/api/v5/nodes", http_get_nodes, 0 },
	{ "GET", "/api/v5/nodes/:node", http_get_node, 0 },
	{ "GET", "/api/v5/cluster", http_get_cluster, 0 },
	{ "DELETE", "/api/v5/cluster/:node/force_leave", http_force_leave, 0 },
	{ "GET", "/api/v5/clients", http_get_clients, 0 },
	{ "POST", "/api/v5/clients/kickout/bulk", http_kick_bulk, 0 },
	{ "GET", "/api/v5/clients/:clientid", http_get_client, 0 },
	{ "DELETE", "/api/v5/clients/:clientid", http_delete_client, 0 },
	{ "GET", "/api/v5/clients/:clientid/subscriptions",
	    http_get_client_subs, 0 },
	{ "GET", "/api/v5/subscriptions", http_get_subscriptions, 0 },
	{ "GET", "/api/v5/topics", http_get_topics, 0 },
	{ "GET", "/api/v5/listeners", http_get_listeners, 0 },
	{ "POST", "/api/v5/listeners/:id/:action", http_listener_action, 0 },
	{ "GET", "/api/v5/metrics", http_get_metrics, 0 },
	{ "GET", "/api/v5/stats", http_get_stats, 0 },
	{ "POST", "/api/v5/publish", http_publish, 0 },
	{ "POST", "/api/v5/publish/bulk", http_publish_bulk, 0 },
	{ "GET", "/api/v5/banned", http_get_banned, 0 },
	{ "POST", "/api/v5/banned", http_post_banned, 0 },
	{ "DELETE", "/api/v5/banned", http_clear_banned, 0 },
	{ "DELETE", "/api/v5/banned/:as/:who", http_delete_banned, 0 },
};
const size_t http_api_n_routes =
    sizeof http_api_routes / sizeof http_api_routes[0];
