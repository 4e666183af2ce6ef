/*
 * cluster.c: the cluster's glue (see cluster.h, docs/cluster.md).
 *
 * This node's Raft driver (raftdrv.h) runs on the node loop with a
 * transport on the node links: a message goes out as a DATA frame of the
 * raft subsystem (wire.h) on the control connection of the peer whose
 * node id is the message's destination (Raft ids are node ids), and is
 * dropped if that peer has no live link (Raft retries).
 *
 * Group 0 is the metadata group.  Its state machine holds one record per
 * member (node id, name, role, address) under "m" + id.  Forming, with
 * cluster.discovery_strategy static: the seed with the smallest name
 * bootstraps the group with itself as its only voter, and only when its
 * store has no group 0, it is linked to a majority of the seeds and none
 * of the peers it is linked to says (HAVE) that its store has the group.
 * Every other node starts the group empty and waits to be added.  The
 * leader proposes a record for every authenticated peer that has none,
 * adds it as a learner, and promotes a core once it has caught up: one
 * change at a time.  Replicants stay learners.  A node whose store holds
 * group 0 resumes from it and never bootstraps.  A node that comes back
 * under a member's name with another node id (a wiped store) is refused
 * and logged, never merged.
 *
 * Threads: everything belongs to the node loop but cluster_nodes(), which
 * reads a copy of the members and of the group's state kept under
 * cluster_snap_lock and rebuilt by the node loop.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "cluster.h"
#include "config.h"
#include "link.h"
#include "log.h"
#include "raft.h"
#include "raftdrv.h"
#include "raftlog.h"
#include "wire.h"
#include "xmalloc.h"

#define CLUSTER_META		0	/* the metadata group */
#define CLUSTER_TICK		0.25	/* s between reconciliations */
#define CLUSTER_OP_PUT		1	/* entry: a member's record */
#define CLUSTER_OP_DEL		2	/* entry: a member leaves */
#define CLUSTER_REC_V1		1

struct cluster_member {
	uint64_t	 id;
	int		 role;		/* 0 core, 1 replicant */
	char		 name[256];
	char		 addr[64];
};

/* A peer as the links reported it. */
struct cluster_peer {
	uint64_t	 id;
	char		 name[256];
	int		 role;
	bool		 up;
	int		 have;		/* HAVE: -1 not heard, 0, 1 */
	uint64_t	 refused_id;	/* logged once per id */
	struct cluster_peer *next;
};

static struct ev_loop		*cluster_loop;
static struct raftlog		*cluster_log;
static struct raftdrv		*cluster_drv;
static ev_timer			 cluster_timer;
static bool			 cluster_started;	/* group 0 runs */
static bool			 cluster_proposing;
static uint64_t			 cluster_self;
static struct cluster_member	*cluster_members;
static size_t			 cluster_nmembers;
static struct cluster_peer	*cluster_peers;
static struct raft_entry	*cluster_ents;
static size_t			 cluster_nents;
static struct buf		 cluster_out;
static char			 cluster_waiting[256];	/* logged once */
static pthread_mutex_t		 cluster_snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cluster_member	*cluster_snap;
static size_t			 cluster_nsnap;
static struct raft_conf		 cluster_snap_conf;
static struct cluster_meta	 cluster_snap_meta;

/* A force-leave another thread asked for, carried out on the node loop. */
static pthread_mutex_t		 cluster_rq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 cluster_rq_cond = PTHREAD_COND_INITIALIZER;
static ev_async			 cluster_rq_async;
static bool			 cluster_rq_busy;	/* a caller waits */
static bool			 cluster_rq_taken;	/* the loop has it */
static uint64_t			 cluster_rq_gen;
static char			 cluster_rq_name[256];
static int			 cluster_rq_status;	/* 0: pending */
static char			 cluster_rq_err[512];
static uint64_t			 cluster_leaving;	/* node id, 0 none */

static void	cluster_publish(void);

/* The member with node id id, or NULL. */
static struct cluster_member *
cluster_member_find(uint64_t id)
{
	size_t	 i;

	for (i = 0; i < cluster_nmembers; i++)
		if (cluster_members[i].id == id)
			return (&cluster_members[i]);
	return (NULL);
}

/* The member named name, or NULL. */
static struct cluster_member *
cluster_member_named(const char *name)
{
	size_t	 i;

	for (i = 0; i < cluster_nmembers; i++)
		if (strcmp(cluster_members[i].name, name) == 0)
			return (&cluster_members[i]);
	return (NULL);
}

/* Add or replace a member in the loop's list. */
static void
cluster_member_set(const struct cluster_member *m)
{
	struct cluster_member	*old;

	if ((old = cluster_member_find(m->id)) != NULL) {
		*old = *m;
		return;
	}
	cluster_members = xreallocarray(cluster_members,
	    cluster_nmembers + 1, sizeof *cluster_members);
	cluster_members[cluster_nmembers++] = *m;
}

/* Drop a member from the loop's list. */
static void
cluster_member_drop(uint64_t id)
{
	struct cluster_member	*m;

	if ((m = cluster_member_find(id)) == NULL)
		return;
	*m = cluster_members[--cluster_nmembers];
}

/* The record of m (without its id): version, role, name, address. */
static void
cluster_record_encode(struct buf *b, const struct cluster_member *m)
{
	size_t	 n = strlen(m->name), a = strlen(m->addr);

	buf_add_u8(b, CLUSTER_REC_V1);
	buf_add_u8(b, (uint8_t)m->role);
	buf_add_u8(b, (uint8_t)n);
	buf_add(b, m->name, n);
	buf_add_u8(b, (uint8_t)a);
	buf_add(b, m->addr, a);
}

/* Decode a record into m (id set by the caller); -1 if malformed. */
static int
cluster_record_decode(struct str s, struct cluster_member *m)
{
	size_t	 n, a;

	if (s.len < 4 || s.p[0] != CLUSTER_REC_V1 || s.p[1] > 1)
		return (-1);
	m->role = s.p[1];
	n = s.p[2];
	if (n == 0 || s.len < 3 + n + 1)
		return (-1);
	a = s.p[3 + n];
	if (s.len != 4 + n + a || a >= sizeof m->addr)
		return (-1);
	memcpy(m->name, s.p + 3, n);
	m->name[n] = '\0';
	memcpy(m->addr, s.p + 4 + n, a);
	m->addr[a] = '\0';
	return (0);
}

/* The state machine key of node id id: "m" and the id, big-endian. */
static void
cluster_key(uint8_t key[9], uint64_t id)
{
	int	 i;

	key[0] = 'm';
	for (i = 0; i < 8; i++)
		key[1 + i] = (uint8_t)(id >> (56 - 8 * i));
}

/* One record of a scan: into the loop's list. */
static int
cluster_scan_cb(struct str key, struct str val, void *arg)
{
	struct cluster_member	 m;
	int			 i;

	(void)arg;
	memset(&m, 0, sizeof m);
	if (key.len != 9 || cluster_record_decode(val, &m) != 0) {
		log_warn("cluster: a membership record of %zu bytes does not "
		    "decode; ignored", val.len);
		return (0);
	}
	for (i = 0; i < 8; i++)
		m.id = (m.id << 8) | key.p[1 + i];
	cluster_member_set(&m);
	return (0);
}

/* Read the members back from the store. */
static void
cluster_members_load(void)
{
	char	*cause = NULL;

	cluster_nmembers = 0;
	if (raftlog_sm_scan(cluster_log, CLUSTER_META, STR("m"),
	    cluster_scan_cb, NULL, &cause) != 0) {
		log_warn("cluster: cannot read the membership records: %s",
		    cause);
		free(cause);
	}
}

/* Apply a committed entry of the metadata group. */
static void
cluster_apply(void *arg, uint16_t group, const struct raft_entry *e,
    struct raftlog_batch *b)
{
	struct cluster_member	 m;
	struct buf		 v;
	const uint8_t		*p = e->data;
	uint8_t			 key[9];
	int			 i;

	(void)arg;
	if (group != CLUSTER_META || e->len < 9) {
		log_warn("cluster: entry %llu of group %u is not a membership "
		    "change; ignored", (unsigned long long)e->index, group);
		return;
	}
	memset(&m, 0, sizeof m);
	for (i = 0; i < 8; i++)
		m.id = (m.id << 8) | p[1 + i];
	cluster_key(key, m.id);
	if (p[0] == CLUSTER_OP_DEL && e->len == 9) {
		raftlog_sm_del(b, group, (struct str){ key, sizeof key });
		cluster_member_drop(m.id);
		log_notice("cluster: node id %016llx left the cluster",
		    (unsigned long long)m.id);
		cluster_publish();
		return;
	}
	if (p[0] != CLUSTER_OP_PUT || cluster_record_decode((struct str){
	    p + 9, e->len - 9 }, &m) != 0) {
		log_warn("cluster: entry %llu: malformed membership change; "
		    "ignored", (unsigned long long)e->index);
		return;
	}
	buf_init(&v);
	cluster_record_encode(&v, &m);
	raftlog_sm_put(b, group, (struct str){ key, sizeof key }, STRB(&v));
	buf_release(&v);
	cluster_member_set(&m);
	log_notice("cluster: member '%s' (node id %016llx, %s, %s) recorded "
	    "at index %llu", m.name, (unsigned long long)m.id, m.role == 1 ?
	    "replicant" : "core", m.addr, (unsigned long long)e->index);
	cluster_publish();
}

/* A snapshot replaced the records: read them again. */
static void
cluster_installed(void *arg, uint16_t group, raft_index index)
{
	(void)arg;
	(void)group;
	cluster_members_load();
	log_notice("cluster: membership installed from a snapshot at index "
	    "%llu: %zu members", (unsigned long long)index, cluster_nmembers);
	cluster_publish();
}

static const struct raftdrv_sm cluster_sm = {
	cluster_apply, cluster_installed, NULL
};

/* Transport: a raft message to its destination's control connection. */
static void
cluster_tr_send(void *arg, uint16_t group, const struct raft_msg *m)
{
	int	 v;

	(void)arg;
	if ((v = link_version(m->to, WIRE_SUB_RAFT)) <= 0)
		return;
	buf_truncate(&cluster_out, 0);
	wire_raft_msg_encode(&cluster_out, v, group, m);
	if ((int64_t)buf_used(&cluster_out) >
	    config->cluster_link_max_frame_size) {
		/* The peer would cut the link for it: Raft resends. */
		log_warn("cluster: a raft %s of %zu bytes for group %u is over "
		    "cluster.link.max_frame_size; dropped",
		    raft_msg_type_name((enum raft_msg_type)m->type),
		    buf_used(&cluster_out), group);
		return;
	}
	(void)link_send(m->to, WIRE_SUB_RAFT, STRB(&cluster_out));
}

/* Transport: the name of a node id. */
static const char *
cluster_tr_name(void *arg, raft_id id)
{
	struct cluster_member	*m;
	struct cluster_peer	*p;

	(void)arg;
	if (id == cluster_self)
		return (config->node_name);
	if ((m = cluster_member_find(id)) != NULL)
		return (m->name);
	for (p = cluster_peers; p != NULL; p = p->next)
		if (p->id == id)
			return (p->name);
	return (NULL);
}

static const struct raftdrv_transport cluster_tr = {
	cluster_tr_send, NULL, cluster_tr_name
};

/* Whether this node's store holds the metadata group. */
static bool
cluster_have(void)
{
	struct raft_status	 st;

	if (!cluster_started || raftdrv_status(cluster_drv, CLUSTER_META,
	    &st) != 0)
		return (false);
	return (st.last > 0 || st.snap_index > 0);
}

/* Tell a peer whether our store holds the metadata group. */
static void
cluster_send_have(uint64_t id)
{
	int	 v;

	if ((v = link_version(id, WIRE_SUB_RAFT)) <= 0)
		return;
	buf_truncate(&cluster_out, 0);
	wire_raft_have_encode(&cluster_out, v, cluster_have() ? 1 : 0);
	(void)link_send(id, WIRE_SUB_RAFT, STRB(&cluster_out));
}

/* The peer named name, made if new. */
static struct cluster_peer *
cluster_peer_get(const char *name)
{
	struct cluster_peer	*p;

	for (p = cluster_peers; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return (p);
	p = xcalloc(1, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	p->have = -1;
	p->role = -1;
	p->next = cluster_peers;
	cluster_peers = p;
	return (p);
}

/* Link hook: a peer's control connection is up. */
static void
cluster_link_up(uint64_t id, const char *name, int role,
    const int agreed[WIRE_SUB_COUNT])
{
	struct cluster_peer	*p = cluster_peer_get(name);

	(void)agreed;
	if (p->id != id)
		p->have = -1;
	p->refused_id = 0;	/* tell it again on this link */
	p->id = id;
	p->role = role;
	p->up = true;
	cluster_send_have(id);
}

/* Link hook: a peer's control connection is down. */
static void
cluster_link_down(uint64_t id, const char *name)
{
	struct cluster_peer	*p = cluster_peer_get(name);

	(void)id;
	p->up = false;
}

/* Link hook: a DATA frame of a subsystem. */
static void
cluster_link_data(uint64_t id, const char *name, int subsys, int version,
    struct str payload)
{
	struct cluster_peer	*p;
	struct wire_raft	 w;
	struct raft_conf	 conf;
	size_t			 n;

	if (subsys != WIRE_SUB_RAFT)
		return;
	n = wire_raft_max_entries(payload);
	if (n > cluster_nents) {
		cluster_ents = xreallocarray(cluster_ents, n,
		    sizeof *cluster_ents);
		cluster_nents = n;
	}
	if (wire_raft_decode(payload, version, &w, cluster_ents, n, &conf) !=
	    WIRE_OK) {
		log_warn("cluster: peer '%s': malformed raft message of %zu "
		    "bytes (raft v%d); dropped", name, payload.len, version);
		return;
	}
	if (w.kind == WIRE_RAFT_HAVE) {
		p = cluster_peer_get(name);
		p->have = w.have;
		return;
	}
	if (w.kind == WIRE_RAFT_REFUSED) {
		log_warn("cluster: the metadata group's leader '%s' refused "
		    "this node: %.*s", name, (int)w.reason.len, w.reason.p);
		return;
	}
	if (w.msg.from != id || w.msg.to != cluster_self) {
		log_warn("cluster: peer '%s': raft message from %016llx to "
		    "%016llx on its link; dropped", name,
		    (unsigned long long)w.msg.from,
		    (unsigned long long)w.msg.to);
		return;
	}
	/* A group not started here drops it. */
	raftdrv_recv(cluster_drv, w.group, &w.msg);
}

static const struct link_hooks cluster_hooks = {
	cluster_link_up, cluster_link_down, cluster_link_data
};

/* Our own address as members see it: node name's host, cluster port. */
static void
cluster_self_addr(char *b, size_t len)
{
	const char	*at = strchr(config->node_name, '@');

	snprintf(b, len, "%s:%lld", at != NULL ? at + 1 : "",
	    (long long)config->cluster_link_port);
}

/* Rebuild the copy other threads read. */
static void
cluster_publish(void)
{
	struct cluster_member	*v = NULL;
	struct cluster_meta	 meta;
	struct raft_status	*st;
	const char		*ln = NULL;

	st = xcalloc(1, sizeof *st);
	memset(&meta, 0, sizeof meta);
	meta.started = cluster_started;
	if (cluster_started && raftdrv_status(cluster_drv, CLUSTER_META,
	    st) == 0) {
		snprintf(meta.raft_role, sizeof meta.raft_role, "%s",
		    raft_role_name((enum raft_role)st->role));
		meta.leader = raftdrv_leader(cluster_drv, CLUSTER_META, &ln);
		snprintf(meta.leader_name, sizeof meta.leader_name, "%s",
		    ln != NULL ? ln : "");
		meta.term = st->term;
		meta.commit = st->commit;
		meta.applied = st->applied;
		meta.last = st->last;
	} else
		memset(st, 0, sizeof *st);
	meta.n_members = cluster_nmembers;
	if (cluster_nmembers != 0) {
		v = xreallocarray(NULL, cluster_nmembers, sizeof *v);
		memcpy(v, cluster_members, cluster_nmembers * sizeof *v);
	}
	pthread_mutex_lock(&cluster_snap_lock);
	free(cluster_snap);
	cluster_snap = v;
	cluster_nsnap = cluster_nmembers;
	cluster_snap_conf = st->conf;
	cluster_snap_meta = meta;
	pthread_mutex_unlock(&cluster_snap_lock);
	free(st);
}

/* A proposal of ours ended. */
static void
cluster_proposed_cb(void *arg, const struct raftdrv_done *d)
{
	(void)arg;
	cluster_proposing = false;
	if (d->result != RAFTDRV_COMMITTED)
		log_info("cluster: a membership record was not committed "
		    "(result %d); will retry", (int)d->result);
}

/* Leader: propose the records of n members, one entry each. */
static void
cluster_propose(const struct cluster_member *m, size_t n)
{
	struct raft_buf	*rb;
	struct buf	*b;
	uint8_t		 key[9];
	enum raft_rc	 rc;
	size_t		 i;

	rb = xcalloc(n, sizeof *rb);
	b = xcalloc(n, sizeof *b);
	for (i = 0; i < n; i++) {
		buf_init(&b[i]);
		cluster_key(key, m[i].id);
		key[0] = CLUSTER_OP_PUT;
		buf_add(&b[i], key, sizeof key);
		cluster_record_encode(&b[i], &m[i]);
		rb[i].data = buf_head(&b[i]);
		rb[i].len = buf_used(&b[i]);
	}
	rc = raftdrv_propose(cluster_drv, CLUSTER_META, rb, n,
	    cluster_proposed_cb, NULL);
	if (rc == RAFT_OK)
		cluster_proposing = true;
	else
		log_debug("cluster: proposing %zu membership records: %s", n,
		    raft_rc_name(rc));
	for (i = 0; i < n; i++)
		buf_release(&b[i]);
	free(b);
	free(rb);
}

/* The role of id in a configuration: 0 if not in it. */
static int
cluster_conf_role(const struct raft_conf *c, uint64_t id)
{
	unsigned	 i;

	for (i = 0; i < c->n; i++)
		if (c->m[i].id == id)
			return (c->m[i].role);
	return (0);
}

/* The address the links have for the peer named name, into b. */
static void
cluster_peer_addr(const char *name, char *b, size_t len)
{
	struct link_peer_info	*v;
	size_t			 j, n = link_peers(&v);

	b[0] = '\0';
	for (j = 0; j < n; j++)
		if (strcmp(v[j].name, name) == 0)
			snprintf(b, len, "%s", v[j].listen[0] != '\0' ?
			    v[j].listen : v[j].addr);
	free(v);
}

/*
 * Leader: refuse a peer that is not the member its name or id says (log
 * once per link and tell it why).
 */
static void
cluster_refuse(struct cluster_peer *p, const char *why)
{
	int	 v;

	if (p->refused_id == p->id)
		return;
	p->refused_id = p->id;
	log_warn("cluster: refused node '%s': %s", p->name, why);
	if ((v = link_version(p->id, WIRE_SUB_RAFT)) <= 0)
		return;
	buf_truncate(&cluster_out, 0);
	wire_raft_refused_encode(&cluster_out, v, why);
	(void)link_send(p->id, WIRE_SUB_RAFT, STRB(&cluster_out));
}

/* Leader: one step towards every linked node being a member. */
static void
cluster_reconcile(void)
{
	struct raft_status	*st;
	struct cluster_member	*add = NULL, *have;
	struct cluster_peer	*p;
	char			 why[1024];
	unsigned		 i, k;
	size_t			 n;
	enum raft_rc		 rc;

	st = xcalloc(1, sizeof *st);
	if (raftdrv_status(cluster_drv, CLUSTER_META, st) != 0 ||
	    st->role != RAFT_LEADER || cluster_proposing)
		goto out;
	/* Records first, in one proposal: ours, every linked peer's. */
	for (p = cluster_peers, n = 0; p != NULL; p = p->next)
		n++;
	add = xcalloc(n + 1, sizeof *add);
	n = 0;
	if (cluster_member_find(cluster_self) == NULL) {
		add[n].id = cluster_self;
		add[n].role = config->node_role == NODE_ROLE_REPLICANT ? 1 : 0;
		snprintf(add[n].name, sizeof add[n].name, "%s",
		    config->node_name);
		cluster_self_addr(add[n].addr, sizeof add[n].addr);
		n++;
	}
	for (p = cluster_peers; p != NULL; p = p->next) {
		if (!p->up || p->id == 0)
			continue;
		if ((have = cluster_member_find(p->id)) != NULL) {
			if (strcmp(have->name, p->name) == 0)
				continue;
			snprintf(why, sizeof why, "node id %016llx is the "
			    "member '%s' and came back named '%s'; give it "
			    "its old name back, or run `flockmq ctl cluster "
			    "force-leave %s` on a member and restart it with "
			    "an empty node.data_dir",
			    (unsigned long long)p->id, have->name, p->name,
			    have->name);
			cluster_refuse(p, why);
			continue;
		}
		if ((have = cluster_member_named(p->name)) != NULL) {
			snprintf(why, sizeof why, "node '%s' came back with "
			    "node id %016llx but the member of that name has "
			    "node id %016llx (was its store wiped?); to let "
			    "it in, run `flockmq ctl cluster force-leave %s` "
			    "on a member, then restart it", p->name,
			    (unsigned long long)p->id,
			    (unsigned long long)have->id, p->name);
			cluster_refuse(p, why);
			continue;
		}
		add[n].id = p->id;
		add[n].role = p->role == 1 ? 1 : 0;
		snprintf(add[n].name, sizeof add[n].name, "%s", p->name);
		cluster_peer_addr(p->name, add[n].addr, sizeof add[n].addr);
		n++;
	}
	if (n != 0) {
		cluster_propose(add, n);
		goto out;
	}
	/* Then the configuration: add learners, promote caught-up cores. */
	for (i = 0; i < cluster_nmembers; i++) {
		if (cluster_conf_role(&st->conf, cluster_members[i].id) != 0 ||
		    cluster_members[i].id == cluster_leaving)
			continue;
		rc = raftdrv_conf_change(cluster_drv, CLUSTER_META,
		    RAFT_CONF_ADD_LEARNER, cluster_members[i].id, NULL, NULL);
		log_info("cluster: adding '%s' to the metadata group as a "
		    "learner: %s", cluster_members[i].name, raft_rc_name(rc));
		goto out;
	}
	for (k = 0; k < st->n_peers; k++) {
		const struct raft_peer_status	*ps = &st->peers[k];
		struct cluster_member		*mm;

		if (ps->role != RAFT_MEMBER_LEARNER || !ps->active ||
		    ps->match < st->commit ||
		    (mm = cluster_member_find(ps->id)) == NULL ||
		    mm->role != 0)
			continue;
		rc = raftdrv_conf_change(cluster_drv, CLUSTER_META,
		    RAFT_CONF_PROMOTE, ps->id, NULL, NULL);
		log_info("cluster: promoting '%s' to voter in the metadata "
		    "group: %s", mm->name, raft_rc_name(rc));
		goto out;
	}
out:
	free(add);
	free(st);
}

/* Start group 0 with conf (NULL: empty or from the store). */
static int
cluster_start(const struct raft_conf *conf, char **cause)
{
	if (raftdrv_group_start(cluster_drv, CLUSTER_META, conf, &cluster_sm,
	    cause) != 0)
		return (-1);
	cluster_started = true;
	cluster_members_load();
	return (0);
}

/* The name part of a seed, NAME@HOST[:PORT] -> NAME@HOST, into b. */
static void
cluster_seed_name(const char *seed, char *b, size_t len)
{
	const char	*at = strchr(seed, '@'), *colon;
	size_t		 n;

	snprintf(b, len, "%s", seed);
	if (at == NULL || (colon = strrchr(at, ':')) == NULL ||
	    strchr(at, ']') > colon)
		return;
	n = (size_t)(colon - seed);
	if (n < len)
		b[n] = '\0';
}

/* Waiting to form: log why, once per reason. */
static void
cluster_wait(const char *why)
{
	if (strcmp(cluster_waiting, why) == 0)
		return;
	snprintf(cluster_waiting, sizeof cluster_waiting, "%s", why);
	log_notice("cluster: metadata group: %s", why);
}

/*
 * Not started yet (the seed with the smallest name, empty store): start
 * the group once a majority of the seeds are linked, bootstrapping it
 * only if none of them has it.
 */
static void
cluster_form(void)
{
	struct raft_conf	 conf;
	struct cluster_peer	*p;
	char			 name[256], why[256], *cause = NULL;
	size_t			 i, n = 0, linked = 1, unknown = 0;

	for (p = cluster_peers; p != NULL; p = p->next)
		if (p->up && p->have == 1) {
			log_notice("cluster: metadata group: peer '%s' has it; "
			    "waiting to be added", p->name);
			if (cluster_start(NULL, &cause) != 0)
				goto fail;
			return;
		}
	for (i = 0; i < config->cluster_static_seeds.n; i++) {
		cluster_seed_name(config->cluster_static_seeds.v[i], name,
		    sizeof name);
		n++;
		if (strcmp(name, config->node_name) == 0)
			continue;
		for (p = cluster_peers; p != NULL; p = p->next)
			if (strcmp(p->name, name) == 0 && p->up) {
				if (p->have == 0)
					linked++;
				else
					unknown++;
			}
	}
	if (linked * 2 <= n || unknown != 0) {
		snprintf(why, sizeof why, "this node bootstraps it (the seed "
		    "with the smallest name) once a majority of the %zu seeds "
		    "are linked and none has it", n);
		cluster_wait(why);
		return;
	}
	memset(&conf, 0, sizeof conf);
	conf.n = 1;
	conf.m[0].id = cluster_self;
	conf.m[0].role = RAFT_VOTER;
	if (cluster_start(&conf, &cause) != 0)
		goto fail;
	log_notice("cluster: bootstrapped the metadata group with this node "
	    "as its first voter (the seed with the smallest name; %zu of %zu "
	    "seeds linked, none has the group)", linked, n);
	/* The only voter: no need to wait for an election timeout. */
	(void)raftdrv_campaign(cluster_drv, CLUSTER_META);
	for (p = cluster_peers; p != NULL; p = p->next)
		if (p->up)
			cluster_send_have(p->id);
	return;
fail:
	log_err("cluster: cannot start the metadata group: %s", cause);
	free(cause);
}

/* Every CLUSTER_TICK: form, reconcile, publish. */
static void
cluster_tick_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	if (!cluster_started)
		cluster_form();
	if (cluster_started)
		cluster_reconcile();
	cluster_publish();
}

/* The force-leave under way ends: answer the caller. */
static void
cluster_rq_finish(uint64_t gen, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
cluster_rq_finish(uint64_t gen, int status, const char *fmt, ...)
{
	va_list	 ap;

	cluster_leaving = 0;
	pthread_mutex_lock(&cluster_rq_lock);
	if (cluster_rq_busy && cluster_rq_gen == gen) {
		va_start(ap, fmt);
		vsnprintf(cluster_rq_err, sizeof cluster_rq_err, fmt, ap);
		va_end(ap);
		cluster_rq_status = status;
		pthread_cond_broadcast(&cluster_rq_cond);
	}
	pthread_mutex_unlock(&cluster_rq_lock);
}

/* The record of a node forced out is deleted (or not). */
static void
cluster_deleted_cb(void *arg, const struct raftdrv_done *d)
{
	uint64_t	 gen = (uint64_t)(uintptr_t)arg;

	if (d->result == RAFTDRV_COMMITTED)
		cluster_rq_finish(gen, 204, "ok");
	else
		cluster_rq_finish(gen, 503, "the membership record was not "
		    "deleted (result %d); retry", (int)d->result);
}

/* Propose the deletion of the record of id. */
static void
cluster_propose_del(uint64_t id, uint64_t gen)
{
	struct raft_buf	 rb;
	uint8_t		 e[9];
	enum raft_rc	 rc;

	cluster_key(e, id);
	e[0] = CLUSTER_OP_DEL;
	rb.data = e;
	rb.len = sizeof e;
	rc = raftdrv_propose(cluster_drv, CLUSTER_META, &rb, 1,
	    cluster_deleted_cb, (void *)(uintptr_t)gen);
	if (rc != RAFT_OK)
		cluster_rq_finish(gen, 503, "cannot propose: %s",
		    raft_rc_name(rc));
}

/* A node forced out has left the configuration (or not). */
static void
cluster_removed_cb(void *arg, const struct raftdrv_done *d)
{
	uint64_t	 gen = (uint64_t)(uintptr_t)arg;

	if (d->result != RAFTDRV_COMMITTED) {
		cluster_rq_finish(gen, 503, "the configuration change was not "
		    "committed (result %d); retry", (int)d->result);
		return;
	}
	cluster_propose_del(cluster_leaving, gen);
}

/* Node loop: carry out the force-leave another thread asked for. */
static void
cluster_rq_cb(EV_P_ ev_async *w, int revents)
{
	struct cluster_member	*m;
	struct cluster_peer	*p;
	struct raft_status	*st = NULL;
	char			 name[256];
	const char		*ln = NULL;
	uint64_t		 gen;
	enum raft_rc		 rc;

	(void)loop;
	(void)w;
	(void)revents;
	pthread_mutex_lock(&cluster_rq_lock);
	if (!cluster_rq_busy || cluster_rq_taken) {
		pthread_mutex_unlock(&cluster_rq_lock);
		return;
	}
	cluster_rq_taken = true;
	gen = cluster_rq_gen;
	snprintf(name, sizeof name, "%s", cluster_rq_name);
	pthread_mutex_unlock(&cluster_rq_lock);

	if ((m = cluster_member_named(name)) == NULL) {
		cluster_rq_finish(gen, 404, "node '%s' is not a member", name);
		return;
	}
	if (m->id == cluster_self) {
		cluster_rq_finish(gen, 400, "a node cannot force itself out; "
		    "run it on another member");
		return;
	}
	st = xcalloc(1, sizeof *st);
	if (!cluster_started || raftdrv_status(cluster_drv, CLUSTER_META,
	    st) != 0 || st->role != RAFT_LEADER) {
		(void)raftdrv_leader(cluster_drv, CLUSTER_META, &ln);
		cluster_rq_finish(gen, 503, "this node is not the leader of the "
		    "metadata group; run it on %s%s%s", ln != NULL ? "'" : "",
		    ln != NULL ? ln : "the leader (none now)", ln != NULL ?
		    "'" : "");
		goto out;
	}
	for (p = cluster_peers; p != NULL; p = p->next)
		if (p->up && p->id == m->id) {
			cluster_rq_finish(gen, 400, "node '%s' is running; stop "
			    "it first", name);
			goto out;
		}
	cluster_leaving = m->id;
	log_notice("cluster: forcing node '%s' (node id %016llx) out of the "
	    "cluster", name, (unsigned long long)m->id);
	if (cluster_conf_role(&st->conf, m->id) == 0) {
		cluster_propose_del(m->id, gen);
		goto out;
	}
	rc = raftdrv_conf_change(cluster_drv, CLUSTER_META, RAFT_CONF_REMOVE,
	    m->id, cluster_removed_cb, (void *)(uintptr_t)gen);
	if (rc != RAFT_OK)
		cluster_rq_finish(gen, 503, "cannot remove it from the metadata "
		    "group now: %s; retry", raft_rc_name(rc));
out:
	free(st);
}

/* Force a stopped member out (any thread); see cluster.h. */
int
cluster_force_leave(const char *name, char *err, size_t len)
{
	struct timespec	 ts;
	int		 status;

	pthread_mutex_lock(&cluster_rq_lock);
	if (cluster_loop == NULL || cluster_drv == NULL) {
		pthread_mutex_unlock(&cluster_rq_lock);
		snprintf(err, len, "this node runs no metadata group");
		return (503);
	}
	if (cluster_rq_busy) {
		pthread_mutex_unlock(&cluster_rq_lock);
		snprintf(err, len, "another force-leave is under way; retry");
		return (503);
	}
	cluster_rq_busy = true;
	cluster_rq_taken = false;
	cluster_rq_gen++;
	cluster_rq_status = 0;
	snprintf(cluster_rq_name, sizeof cluster_rq_name, "%s", name);
	ev_async_send(cluster_loop, &cluster_rq_async);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	while (cluster_rq_status == 0)
		if (pthread_cond_timedwait(&cluster_rq_cond, &cluster_rq_lock,
		    &ts) != 0)
			break;
	status = cluster_rq_status;
	if (status == 0) {
		status = 504;
		snprintf(err, len, "no answer within 10 s; the change may "
		    "still happen");
	} else
		snprintf(err, len, "%s", cluster_rq_err);
	cluster_rq_busy = false;
	pthread_mutex_unlock(&cluster_rq_lock);
	return (status);
}

/* Whether this node is the seed with the smallest name. */
static bool
cluster_first_seed(void)
{
	char	 name[256], least[256] = "";
	size_t	 i;
	bool	 in = false;

	for (i = 0; i < config->cluster_static_seeds.n; i++) {
		cluster_seed_name(config->cluster_static_seeds.v[i], name,
		    sizeof name);
		if (strcmp(name, config->node_name) == 0)
			in = true;
		if (least[0] == '\0' || strcmp(name, least) < 0)
			snprintf(least, sizeof least, "%s", name);
	}
	return (in && strcmp(least, config->node_name) == 0);
}

/* Start the driver and the metadata group; see cluster.h. */
int
cluster_init(struct ev_loop *loop, char **cause)
{
	struct raftdrv_config	 dc;
	struct raftlog_state	 st;
	char			*path = NULL;

	cluster_loop = loop;
	cluster_self = link_node_id();
	buf_init(&cluster_out);
	if (config->cluster_discovery_strategy != DISCOVERY_STATIC) {
		/* FIXME(issue 14): manual discovery, ctl cluster join. */
		cluster_publish();
		return (0);
	}
	xasprintf(&path, "%s/raft", config->node_data_dir);
	if ((cluster_log = raftlog_open(path, cause)) == NULL)
		goto fail;
	memset(&dc, 0, sizeof dc);
	dc.id = cluster_self;
	dc.name = config->node_name;
	dc.loop = loop;
	dc.log = cluster_log;
	dc.tr = &cluster_tr;
	/*
	 * Every message must fit in one frame of the peer's
	 * cluster.link.max_frame_size (the same key on every node): entries
	 * of an append, one proposal, a snapshot chunk.
	 */
	dc.raft.max_append_bytes = (size_t)config->cluster_link_max_frame_size
	    / 2;
	dc.raft.max_entry_bytes = (size_t)config->cluster_link_max_frame_size
	    / 4;
	dc.snap_chunk = (size_t)config->cluster_link_max_frame_size / 4;
	if (getrandom(&dc.raft.seed, sizeof dc.raft.seed, 0) !=
	    (ssize_t)sizeof dc.raft.seed)
		dc.raft.seed = cluster_self;
	if ((cluster_drv = raftdrv_new(&dc, cause)) == NULL)
		goto fail;
	memset(&st, 0, sizeof st);
	if (raftlog_load(cluster_log, CLUSTER_META, &st, cause) != 0)
		goto fail;
	if (st.found) {
		if (cluster_start(NULL, cause) != 0) {
			raftlog_state_release(&st);
			goto fail;
		}
		log_notice("cluster: metadata group resumed from the store: "
		    "index %llu, term %llu, %zu members",
		    (unsigned long long)(st.n_entries != 0 ?
		    st.entries[st.n_entries - 1].index : st.snap_index),
		    (unsigned long long)st.hs.term, cluster_nmembers);
	} else if (config->node_role == NODE_ROLE_REPLICANT ||
	    !cluster_first_seed()) {
		if (cluster_start(NULL, cause) != 0) {
			raftlog_state_release(&st);
			goto fail;
		}
		log_notice("cluster: metadata group: none in the store; "
		    "waiting to be added by its leader");
	}
	raftlog_state_release(&st);
	link_set_hooks(&cluster_hooks);
	ev_async_init(&cluster_rq_async, cluster_rq_cb);
	ev_async_start(loop, &cluster_rq_async);
	ev_timer_init(&cluster_timer, cluster_tick_cb, CLUSTER_TICK,
	    CLUSTER_TICK);
	ev_timer_start(loop, &cluster_timer);
	cluster_publish();
	free(path);
	return (0);
fail:
	free(path);
	return (-1);
}

/* Stop the driver and the group; see cluster.h. */
void
cluster_release(void)
{
	struct cluster_peer	*p;
	static const struct link_hooks none;

	if (cluster_loop == NULL)
		return;
	link_set_hooks(&none);
	ev_timer_stop(cluster_loop, &cluster_timer);
	ev_async_stop(cluster_loop, &cluster_rq_async);
	if (cluster_drv != NULL)
		raftdrv_free(cluster_drv);
	cluster_drv = NULL;
	cluster_started = false;
	if (cluster_log != NULL)
		raftlog_close(cluster_log);
	cluster_log = NULL;
	while ((p = cluster_peers) != NULL) {
		cluster_peers = p->next;
		free(p);
	}
	free(cluster_members);
	cluster_members = NULL;
	cluster_nmembers = 0;
	free(cluster_ents);
	cluster_ents = NULL;
	cluster_nents = 0;
	buf_release(&cluster_out);
	pthread_mutex_lock(&cluster_snap_lock);
	free(cluster_snap);
	cluster_snap = NULL;
	cluster_nsnap = 0;
	memset(&cluster_snap_meta, 0, sizeof cluster_snap_meta);
	pthread_mutex_unlock(&cluster_snap_lock);
	pthread_mutex_lock(&cluster_rq_lock);
	cluster_loop = NULL;
	pthread_mutex_unlock(&cluster_rq_lock);
}

/* Order nodes by name. */
static int
cluster_node_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct cluster_node *)a)->link.name,
	    ((const struct cluster_node *)b)->link.name));
}

/* Every node; see cluster.h. */
size_t
cluster_nodes(struct cluster_node **out, struct cluster_meta *meta)
{
	struct link_peer_info	*lp;
	struct cluster_member	*mv = NULL;
	struct cluster_node	*v, *x;
	struct raft_conf	*conf;
	size_t			 nl, nm, i, j, n = 1;
	int			 r;

	conf = xcalloc(1, sizeof *conf);
	nl = link_peers(&lp);
	pthread_mutex_lock(&cluster_snap_lock);
	nm = cluster_nsnap;
	if (nm != 0) {
		mv = xreallocarray(NULL, nm, sizeof *mv);
		memcpy(mv, cluster_snap, nm * sizeof *mv);
	}
	*conf = cluster_snap_conf;
	if (meta != NULL)
		*meta = cluster_snap_meta;
	pthread_mutex_unlock(&cluster_snap_lock);
	if (meta != NULL)
		meta->member = cluster_conf_role(conf, link_node_id()) != 0;

	v = xcalloc(1 + nm + nl, sizeof *v);
	snprintf(v[0].link.name, sizeof v[0].link.name, "%s",
	    config->node_name);
	v[0].link.node_id = link_node_id();
	v[0].link.running = true;
	v[0].self = true;
	v[0].running = true;
	v[0].role = config->node_role == NODE_ROLE_REPLICANT ? 1 : 0;
	for (i = 0; i < nm; i++) {
		r = cluster_conf_role(conf, mv[i].id);
		if (mv[i].id == link_node_id()) {
			v[0].member = true;
			v[0].voter = r == RAFT_VOTER;
			v[0].learner = r == RAFT_MEMBER_LEARNER;
			continue;
		}
		x = &v[n++];
		x->member = true;
		x->voter = r == RAFT_VOTER;
		x->learner = r == RAFT_MEMBER_LEARNER;
		x->role = mv[i].role;
		snprintf(x->link.name, sizeof x->link.name, "%s", mv[i].name);
		snprintf(x->link.addr, sizeof x->link.addr, "%s", mv[i].addr);
		x->link.node_id = mv[i].id;
		x->link.role = mv[i].role;
		snprintf(x->link.reason, sizeof x->link.reason,
		    "not linked");
		for (j = 0; j < nl; j++) {
			if (strcmp(lp[j].name, mv[i].name) != 0)
				continue;
			if (lp[j].node_id == mv[i].id || lp[j].node_id == 0) {
				x->link = lp[j];
				x->link.node_id = mv[i].id;
				x->running = lp[j].running;
			} else {
				snprintf(x->link.reason, sizeof
				    x->link.reason, "its name is linked with "
				    "another node id, %016llx",
				    (unsigned long long)lp[j].node_id);
			}
		}
	}
	qsort(v + 1, n - 1, sizeof *v, cluster_node_cmp);
	/* Peers that are not members (or not the member of their name). */
	for (j = 0; j < nl; j++) {
		for (i = 0; i < nm; i++)
			if (strcmp(lp[j].name, mv[i].name) == 0 &&
			    (lp[j].node_id == mv[i].id || lp[j].node_id == 0))
				break;
		if (i != nm)
			continue;
		x = &v[n++];
		x->link = lp[j];
		x->running = lp[j].running;
		x->role = lp[j].role;
	}
	free(lp);
	free(mv);
	free(conf);
	*out = v;
	return (n);
}
