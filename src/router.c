/*
 * router.c: fan-out (see router.h).
 *
 * Route replica entries (struct route) live in each worker's routes trie,
 * keyed by topic filter: a mask of workers that hold plain subscriptions,
 * and the share groups on that filter with all their members.  The worker
 * that owns a subscription changes its own replica at once and pushes the
 * same delta to every other worker's inbox; the wake-up is sent before
 * that worker writes its SUBACK (worker_before_sleep), and inbox items run
 * before socket reads in a loop turn (EV_MAXPRI), so a publish that a
 * client sends after seeing the SUBACK always finds the route.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "ds.h"
#include "hmap.h"
#include "log.h"
#include "msg.h"
#include "retain.h"
#include "router.h"
#include "session.h"
#include "topic.h"
#include "worker.h"
#include "xmalloc.h"

#define ROUTER_MAX_HOPS	8

static void	router_flow_apply(struct worker *, uint64_t, bool);
static void	router_link_check(struct worker *, unsigned);

struct share_member {
	char		*cid;		/* client id: the session's key */
	uint16_t	 worker;
	bool		 rap;
	uint8_t		 qos;
	uint32_t	 sub_id;
	uint32_t	 client_hash;
	uint64_t	 sid;
};

struct share_group {
	struct share_group *next;
	char		*name;
	size_t		 name_len;
	struct share_member *m;
	uint32_t	 n, cap;
	uint32_t	 rr;
	uint64_t	 sticky;	/* sid of the sticky member, 0 none */
};

struct route {
	uint64_t	 mask;
	struct share_group *groups;
};

/* Free a share group and its members. */
static void
share_group_free(struct share_group *g)
{
	uint32_t	 i;

	for (i = 0; i < g->n; i++)
		free(g->m[i].cid);
	free(g->name);
	free(g->m);
	free(g);
}

/* Free a route entry. */
static void
route_free(void *p)
{
	struct route		*r = p;
	struct share_group	*g, *next;

	for (g = r->groups; g != NULL; g = next) {
		next = g->next;
		share_group_free(g);
	}
	free(r);
}

/* Free a sub-list trie value: subs belong to sessions, nothing to do. */
static void
router_nofree(void *p)
{
	(void)p;
}

/* Set up a worker's tries. */
void
router_init(struct worker *w)
{
	w->subs = topic_trie_new();
	w->routes = topic_trie_new();
	w->out = xcalloc(WORKER_MAX, sizeof *w->out);
	w->out_hint = xcalloc(WORKER_MAX, sizeof *w->out_hint);
	w->flow_out = xcalloc(WORKER_MAX, sizeof *w->flow_out);
	w->links = xcalloc(WORKER_MAX, sizeof *w->links);
	w->rnd = 0x9e3779b9u * (w->id + 1);
}

/* Free a worker's tries. */
void
router_release(struct worker *w)
{
	unsigned	 d;

	topic_trie_free(w->subs, router_nofree);
	topic_trie_free(w->routes, route_free);
	free(w->out);
	free(w->out_hint);
	free(w->flow_out);
	for (d = 0; d < WORKER_MAX; d++)
		free(w->links[d].sids);
	free(w->links);
	free(w->dl);
}

/* Cheap per-worker random number (xorshift). */
static uint32_t
router_rand(struct worker *w)
{
	uint32_t	 x = w->rnd;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return (w->rnd = x);
}

/* Push an inbox item to worker d, waking it before this worker sleeps. */
static void
router_push(struct worker *w, unsigned d, struct inbox_item *it)
{
	loop_push(&workers[d]->loop, it);
	if (w != NULL)
		w->wake_mask |= UINT64_C(1) << d;
	else
		loop_wake(&workers[d]->loop);
}

/* Hand the batch for worker d over now, counting it on the link. */
static void
router_push_batch(struct worker *w, unsigned d)
{
	if (w->out[d] == NULL)
		return;
	__atomic_add_fetch(&w->links[d].pending, w->out[d]->n,
	    __ATOMIC_ACQ_REL);
	w->fwd_msgs += w->out[d]->n;
	if (w->out[d]->n <= ROUTER_ASSIST_MSGS)
		w->small_mask |= UINT64_C(1) << d;
	else
		w->wake_mask |= UINT64_C(1) << d;
	w->batch_mask |= UINT64_C(1) << d;
	loop_push(&workers[d]->loop, &w->out[d]->hdr);
	w->out[d] = NULL;
}

/* Find a share group of a route by name. */
static struct share_group *
route_group(struct route *r, struct str name, bool create)
{
	struct share_group	*g;

	for (g = r->groups; g != NULL; g = g->next) {
		if (g->name_len == name.len &&
		    memcmp(g->name, name.p, name.len) == 0)
			return (g);
	}
	if (!create)
		return (NULL);
	g = xcalloc(1, sizeof *g);
	g->name = str_dup(name);
	g->name_len = name.len;
	g->next = r->groups;
	r->groups = g;
	return (g);
}

/* Apply one route delta to this worker's replica. */
void
router_apply(struct worker *w, struct route_delta *d)
{
	struct str		 group = { (const uint8_t *)d->key,
				    d->group_len };
	struct str		 filter = { (const uint8_t *)d->key +
				    d->group_len, d->filter_len };
	struct route		*r, **slot;
	struct share_group	*g, **gp;
	struct share_member	*mb;
	uint32_t		 i;

	slot = (struct route **)topic_trie_slot(w->routes, filter);
	if ((r = *slot) == NULL) {
		if (d->op == ROUTE_DEL || d->op == ROUTE_SHARE_DEL) {
			topic_trie_remove(w->routes, filter);
			return;
		}
		r = *slot = xcalloc(1, sizeof *r);
		if (w->id == 0)
			METRIC_INC(&w->metrics, TOPICS_COUNT);
	}
	switch (d->op) {
	case ROUTE_ADD:
		r->mask |= UINT64_C(1) << d->worker;
		break;
	case ROUTE_DEL:
		r->mask &= ~(UINT64_C(1) << d->worker);
		break;
	case ROUTE_SHARE_ADD:
		g = route_group(r, group, true);
		for (i = 0; i < g->n; i++) {
			if (g->m[i].sid == d->sid)
				break;
		}
		if (i == g->n) {
			if (g->n == g->cap) {
				g->cap = g->cap == 0 ? 4 : g->cap * 2;
				g->m = xreallocarray(g->m, g->cap,
				    sizeof *g->m);
			}
			g->n++;
		} else
			free(g->m[i].cid);
		mb = &g->m[i];
		mb->cid = xstrndup(d->key + d->group_len + d->filter_len,
		    d->cid_len);
		mb->worker = d->worker;
		mb->sid = d->sid;
		mb->qos = d->qos;
		mb->rap = d->rap;
		mb->sub_id = d->sub_id;
		mb->client_hash = d->client_hash;
		break;
	case ROUTE_SHARE_DEL:
		if ((g = route_group(r, group, false)) == NULL)
			break;
		for (i = 0; i < g->n; i++) {
			if (g->m[i].sid == d->sid) {
				free(g->m[i].cid);
				g->m[i] = g->m[--g->n];
				break;
			}
		}
		if (g->n == 0) {
			for (gp = &r->groups; *gp != g; gp = &(*gp)->next)
				;
			*gp = g->next;
			share_group_free(g);
		}
		break;
	}
	if (r->mask == 0 && r->groups == NULL) {
		topic_trie_remove(w->routes, filter);
		free(r);
		if (w->id == 0)
			METRIC_DEC(&w->metrics, TOPICS_COUNT);
	}
}

/* Build a delta and apply it everywhere: here now, elsewhere by inbox. */
static void
router_broadcast(struct worker *w, enum route_op op, const struct sub *sub)
{
	struct route_delta	*d;
	size_t			 n;
	unsigned		 i;
	size_t			 cid_len = strlen(sub->s->client_id);

	n = sizeof *d + sub->group.len + sub->filter.len + cid_len;
	for (i = 0; i < n_workers; i++) {
		d = xmalloc(n);
		memset(d, 0, sizeof *d);
		d->hdr.kind = INBOX_ROUTE;
		d->op = op;
		d->worker = (uint16_t)w->id;
		d->sid = sub->s->sid;
		d->client_hash = sub->s->client_hash;
		d->qos = sub->qos;
		d->rap = sub->rap;
		d->no_local = sub->no_local;
		d->sub_id = sub->sub_id;
		d->group_len = (uint16_t)sub->group.len;
		d->filter_len = (uint16_t)sub->filter.len;
		if (sub->group.len != 0)
			memcpy(d->key, sub->group.p, sub->group.len);
		memcpy(d->key + sub->group.len, sub->filter.p,
		    sub->filter.len);
		d->cid_len = (uint16_t)cid_len;
		memcpy(d->key + sub->group.len + sub->filter.len,
		    sub->s->client_id, cid_len);
		if (i == w->id) {
			router_apply(w, d);
			free(d);
		} else
			router_push(w, i, &d->hdr);
	}
}

/* A local subscription appeared. */
void
router_sub_add(struct worker *w, struct sub *sub)
{
	struct sub	**slot;

	if (sub->group.len != 0) {
		router_broadcast(w, ROUTE_SHARE_ADD, sub);
		return;
	}
	slot = (struct sub **)topic_trie_slot(w->subs, sub->filter);
	sub->node_next = *slot;
	*slot = sub;
	if (sub->node_next == NULL)
		router_broadcast(w, ROUTE_ADD, sub);
}

/* A local subscription went away. */
void
router_sub_del(struct worker *w, struct sub *sub)
{
	struct sub	**slot, **pp;

	if (sub->group.len != 0) {
		router_broadcast(w, ROUTE_SHARE_DEL, sub);
		return;
	}
	slot = (struct sub **)topic_trie_slot(w->subs, sub->filter);
	for (pp = slot; *pp != NULL; pp = &(*pp)->node_next) {
		if (*pp == sub) {
			*pp = sub->node_next;
			break;
		}
	}
	if (*slot == NULL) {
		topic_trie_remove(w->subs, sub->filter);
		router_broadcast(w, ROUTE_DEL, sub);
	}
}

/* Send a shared delivery to member mb of group (filter) on its worker. */
static void
router_send_shared(struct worker *w, struct msg *m,
    const struct share_member *mb, struct str group, struct str filter,
    uint8_t hops)
{
	struct fwd_shared	*fs;

	fs = xcalloc(1, sizeof *fs);
	fs->hdr.kind = INBOX_SHARED;
	fs->m = msg_ref(m);
	fs->sid = mb->sid;
	fs->qos = mb->qos;
	fs->rap = mb->rap;
	fs->sub_id = mb->sub_id;
	fs->hops = hops;
	fs->share_len = group.len + 1 + filter.len;
	fs->share = xmalloc(fs->share_len + 1);
	memcpy(fs->share, group.p, group.len);
	fs->share[group.len] = '\0';
	memcpy(fs->share + group.len + 1, filter.p, filter.len);
	fs->share[fs->share_len] = '\0';
	fs->cid = xstrdup(mb->cid);
	if (mb->worker == w->id)
		router_shared_in(w, fs);
	else {
		METRIC_INC(&w->metrics, MESSAGES_FORWARD);
		/* Plain deliveries queued before it go first. */
		router_push_batch(w, mb->worker);
		router_push(w, mb->worker, &fs->hdr);
	}
}

/* Pick a member of g for m by mqtt.shared_subscription_strategy. */
static struct share_member *
router_pick(struct worker *w, struct share_group *g, const struct msg *m,
    uint64_t exclude)
{
	uint32_t	 i, n = g->n, k;
	struct str	 t;

	if (n == 0)
		return (NULL);
	switch (config->mqtt_shared_subscription_strategy) {
	case SHARED_RANDOM:
		i = router_rand(w) % n;
		break;
	case SHARED_STICKY:
		for (i = 0; i < n; i++) {
			if (g->m[i].sid == g->sticky &&
			    g->m[i].sid != exclude)
				return (&g->m[i]);
		}
		i = router_rand(w) % n;
		if (g->m[i].sid == exclude && n > 1)
			i = (i + 1) % n;
		g->sticky = g->m[i].sid;
		break;
	case SHARED_HASH_CLIENTID:
		i = m->origin_hash % n;
		break;
	case SHARED_HASH_TOPIC:
		t = msg_topic(m);
		i = hash_bytes(t.p, t.len) % n;
		break;
	case SHARED_ROUND_ROBIN:
	default:
		i = g->rr++ % n;
		break;
	}
	for (k = 0; k < n; k++) {
		if (g->m[(i + k) % n].sid != exclude)
			return (&g->m[(i + k) % n]);
	}
	return (NULL);
}

/* Collect the matches of one publish in the route replica. */
struct route_match {
	struct worker	*w;
	struct msg	*m;
	uint64_t	 mask;
	bool		 any;
};

/* topic_trie_match callback over the routes trie. */
static void
router_route_cb(struct str filter, void *value, void *arg)
{
	struct route_match	*rm = arg;
	struct route		*r = value;
	struct share_group	*g;
	struct share_member	*mb;

	rm->mask |= r->mask;
	if (r->mask != 0)
		rm->any = true;
	for (g = r->groups; g != NULL; g = g->next) {
		if ((mb = router_pick(rm->w, g, rm->m, 0)) == NULL)
			continue;
		rm->any = true;
		router_send_shared(rm->w, rm->m, mb,
		    (struct str){ (const uint8_t *)g->name, g->name_len },
		    filter, 0);
	}
}

/* The link to d is full: stop reading the publisher of the message just
 * queued for it, if it is ours, until d says the link is drained. */
static void
router_link_stop(struct worker *w, unsigned d, uint64_t sid)
{
	struct router_link	*l = &w->links[d];
	uint32_t		 i;

	if (sid == 0 || (sid >> 56) != w->id)
		return;
	for (i = 0; i < l->n; i++) {
		if (l->sids[i] == sid)
			return;
	}
	if (l->n == l->cap) {
		l->cap = l->cap == 0 ? 8 : l->cap * 2;
		l->sids = xreallocarray(l->sids, l->cap, sizeof *l->sids);
	}
	l->sids[l->n++] = sid;
	router_flow_apply(w, sid, true);
	__atomic_store_n(&l->waiting, 1, __ATOMIC_RELEASE);
}

/* Tell worker from that its link to w is drained (or w itself). */
static void
router_link_post(unsigned from, unsigned to)
{
	struct link_drained	*ld;

	ld = xmalloc(sizeof *ld);
	ld->hdr.kind = INBOX_LINK;
	ld->to = (uint16_t)to;
	loop_post(&workers[from]->loop, &ld->hdr);
}

/* The link to ld->to is drained: read its publishers again. */
void
router_link_in(struct worker *w, struct link_drained *ld)
{
	struct router_link	*l = &w->links[ld->to];
	uint32_t		 i, n = l->n;

	free(ld);
	l->n = 0;
	l->posted = false;
	for (i = 0; i < n; i++)
		router_flow_apply(w, l->sids[i], false);
}

/* Route a new message; see router.h.  Returns 0 if nobody subscribed. */
int
router_publish(struct worker *w, struct msg *m)
{
	struct route_match	 rm;
	struct fwd_batch	*b;
	unsigned		 d;

	METRIC_INC(&w->metrics, MESSAGES_PUBLISH);
	if (m->retain && config->mqtt_retain_available)
		retain_put(m);
	/* Stored before anybody can see it (ds.h). */
	ds_publish(w, m);
	rm.w = w;
	rm.m = m;
	rm.mask = 0;
	rm.any = false;
	topic_trie_match(w->routes, msg_topic(m), router_route_cb, &rm);
	if (!rm.any) {
		if (m->flags & MSG_F_SYS)
			return (0);
		METRIC_INC(&w->metrics, MESSAGES_DROPPED);
		METRIC_INC(&w->metrics, MESSAGES_DROPPED_NO_SUBSCRIBERS);
		return (0);
	}
	for (d = 0; rm.mask != 0 && d < n_workers; d++) {
		if ((rm.mask & (UINT64_C(1) << d)) == 0)
			continue;
		rm.mask &= ~(UINT64_C(1) << d);
		if (d == w->id) {
			router_deliver_local(w, m);
			continue;
		}
		METRIC_INC(&w->metrics, MESSAGES_FORWARD);
		if ((b = w->out[d]) == NULL) {
			b = w->out[d] = xmalloc(sizeof *b);
			b->hdr.kind = INBOX_FORWARD;
			b->from = (uint16_t)w->id;
			b->n = 0;
			/* Size it like the last one: no doubling each turn. */
			b->cap = w->out_hint[d] > 16 ? w->out_hint[d] : 16;
			b->m = xreallocarray(NULL, b->cap, sizeof *b->m);
		} else if (b->n == b->cap) {
			b->cap *= 2;
			b->m = xreallocarray(b->m, b->cap, sizeof *b->m);
		}
		b->m[b->n++] = msg_ref(m);
		if (b->n + __atomic_load_n(&w->links[d].pending,
		    __ATOMIC_RELAXED) >= ROUTER_LINK_HIGH)
			router_link_stop(w, d, m->origin);
	}
	return (1);
}

/*
 * Add a subscription identifier to a delivery (MQTT-3.3.4-3: all ids), kept
 * ascending: MQTT leaves the order open, mosquitto sends them so and clients'
 * tests expect it.  Insertion sort; the common case is zero or one id.
 */
static void
delivery_add_id(struct delivery *dl, uint32_t id)
{
	uint32_t	*ids;
	uint32_t	 i;

	if (dl->n_ids == 4) {
		dl->heap = xreallocarray(NULL, 8, sizeof *dl->heap);
		memcpy(dl->heap, dl->inl, sizeof dl->inl);
	} else if (dl->n_ids > 4 && (dl->n_ids & (dl->n_ids - 1)) == 0)
		dl->heap = xreallocarray(dl->heap, dl->n_ids * 2,
		    sizeof *dl->heap);
	ids = dl->n_ids < 4 ? dl->inl : dl->heap;
	for (i = dl->n_ids; i > 0 && ids[i - 1] > id; i--)
		ids[i] = ids[i - 1];
	ids[i] = id;
	dl->n_ids++;
}

/* topic_trie_match callback over this worker's subscriptions. */
static void
router_sub_cb(struct str filter, void *value, void *arg)
{
	struct route_match	*rm = arg;
	struct worker		*w = rm->w;
	struct msg		*m = rm->m;
	struct sub		*sub;
	struct session		*s;
	struct delivery		*dl;
	uint8_t			 qos;

	(void)filter;
	for (sub = value; sub != NULL; sub = sub->node_next) {
		s = sub->s;
		if ((sub->no_local || config->mqtt_ignore_loop_deliver) &&
		    s->sid == m->origin) {
			METRIC_INC(&w->metrics, DELIVERY_DROPPED_NO_LOCAL);
			continue;
		}
		qos = config->mqtt_upgrade_qos ? sub->qos :
		    (sub->qos < m->qos ? sub->qos : m->qos);
		if (s->match_gen != w->match_gen) {
			if (w->n_dl == w->cap_dl) {
				w->cap_dl = w->cap_dl == 0 ? 64 :
				    w->cap_dl * 2;
				w->dl = xreallocarray(w->dl, w->cap_dl,
				    sizeof *w->dl);
			}
			s->match_gen = w->match_gen;
			s->match_idx = (uint32_t)w->n_dl;
			dl = &w->dl[w->n_dl++];
			dl->s = s;
			dl->qos = qos;
			dl->retain = sub->rap && m->retain;
			dl->n_ids = 0;
			dl->heap = NULL;
		} else {
			dl = &w->dl[s->match_idx];
			if (qos > dl->qos)
				dl->qos = qos;
			if (sub->rap && m->retain)
				dl->retain = true;
		}
		if (sub->sub_id != 0)
			delivery_add_id(dl, sub->sub_id);
	}
}

/* Deliver to this worker's matching sessions. */
void
router_deliver_local(struct worker *w, struct msg *m)
{
	struct route_match	 rm;
	struct delivery		*dl;
	size_t			 i, n;

	w->match_gen++;
	w->n_dl = 0;
	rm.w = w;
	rm.m = m;
	topic_trie_match(w->subs, msg_topic(m), router_sub_cb, &rm);
	/* Deliveries may publish (a will); copy the count first. */
	n = w->n_dl;
	for (i = 0; i < n; i++) {
		dl = &w->dl[i];
		session_deliver(dl->s, m, dl->qos, dl->retain,
		    dl->n_ids > 4 ? dl->heap : dl->inl, dl->n_ids, NULL);
		free(dl->heap);
	}
	w->n_dl = 0;
}

/* A batch of messages from another worker. */
void
router_forward_in(struct worker *w, struct fwd_batch *b)
{
	struct router_link	*l = &workers[b->from]->links[w->id];
	uint32_t		 i;

	for (i = 0; i < b->n; i++) {
		router_deliver_local(w, b->m[i]);
		msg_unref(b->m[i]);
	}
	__atomic_sub_fetch(&l->pending, b->n, __ATOMIC_ACQ_REL);
	router_link_check(w, b->from);
	free(b->m);
	free(b);
}

/* Tell worker from that its link to w is drained, if it is and from wants
 * to know. */
static void
router_link_check(struct worker *w, unsigned from)
{
	struct router_link	*l = &workers[from]->links[w->id];

	if (__atomic_load_n(&l->pending, __ATOMIC_ACQUIRE) <= ROUTER_LINK_LOW &&
	    __atomic_load_n(&w->congested, __ATOMIC_ACQUIRE) == 0 &&
	    __atomic_load_n(&l->waiting, __ATOMIC_ACQUIRE) &&
	    __atomic_exchange_n(&l->waiting, 0, __ATOMIC_ACQ_REL))
		router_link_post(from, w->id);
}

/* See router.h. */
void
router_congested(struct worker *w, bool on)
{
	unsigned	 from;

	if (on) {
		__atomic_add_fetch(&w->congested, 1, __ATOMIC_ACQ_REL);
		return;
	}
	if (__atomic_sub_fetch(&w->congested, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (from = 0; from < n_workers; from++) {
		if (from != w->id)
			router_link_check(w, from);
	}
}

/* Find the shared subscription of s for "group\0filter". */
static struct sub *
router_share_sub(struct session *s, const char *share)
{
	struct sub	*sub;
	struct str	 g = STR(share);
	struct str	 f = STR(share + g.len + 1);

	for (sub = s->subs; sub != NULL; sub = sub->next) {
		if (str_eq(sub->group, g) && str_eq(sub->filter, f))
			return (sub);
	}
	return (NULL);
}

/* One shared delivery for a session of this worker. */
void
router_shared_in(struct worker *w, struct fwd_shared *fs)
{
	struct session	*s;
	struct sub	*sub;
	uint8_t		 qos;

	s = session_find(w, STR(fs->cid));
	if (s != NULL && s->sid == fs->sid &&
	    (sub = router_share_sub(s, fs->share)) != NULL) {
		qos = config->mqtt_upgrade_qos ? sub->qos :
		    (sub->qos < fs->m->qos ? sub->qos : fs->m->qos);
		session_deliver(s, fs->m, qos, sub->rap && fs->m->retain,
		    sub->sub_id != 0 ? &sub->sub_id : NULL,
		    sub->sub_id != 0 ? 1 : 0, fs->share);
	} else
		router_redispatch(w, fs->m, fs->share, fs->sid,
		    (uint8_t)(fs->hops + 1));
	msg_unref(fs->m);
	free(fs->share);
	free(fs->cid);
	free(fs);
}

/* Send m to another member of the share group (see router.h). */
void
router_redispatch(struct worker *w, struct msg *m, const char *share,
    uint64_t exclude, uint8_t hops)
{
	struct str		 g = STR(share);
	struct str		 f = STR(share + g.len + 1);
	struct route		*r;
	struct share_group	*grp;
	struct share_member	*mb;

	if (hops <= ROUTER_MAX_HOPS &&
	    (r = topic_trie_get(w->routes, f)) != NULL &&
	    (grp = route_group(r, g, false)) != NULL &&
	    (mb = router_pick(w, grp, m, exclude)) != NULL) {
		router_send_shared(w, m, mb, g, f, hops);
		return;
	}
	log_debug("router: no member left in share group '%s' for '%s'",
	    share, share + g.len + 1);
	METRIC_INC(&w->metrics, MESSAGES_DROPPED);
	METRIC_INC(&w->metrics, MESSAGES_DROPPED_NO_SUBSCRIBERS);
}

/* Apply a throttle to a publisher's connection on this worker. */
static void
router_flow_apply(struct worker *w, uint64_t sid, bool on)
{
	struct session	*s;

	s = session_by_sid(w, sid);
	if (s == NULL || s->conn == NULL)
		return;
	conn_throttle(s->conn, on);
	/* Its acknowledgements are not read now: see session.h. */
	if (on && s->n_thr != 0)
		session_flow_release(s);
}

/* Throttle a publisher; see router.h. */
void
router_flow(struct worker *w, uint64_t sid, bool on)
{
	struct flow_batch	*b;
	unsigned		 d = (unsigned)(sid >> 56);
	uint32_t		 i;

	if (sid == 0 || d >= n_workers)
		return;
	/*
	 * Pausing here is safe at once; resuming reads and publishes, so it
	 * waits for this worker's next turn, behind the inbox.  A pause
	 * cancels a resume of the same publisher still waiting here: applied
	 * after it, that resume would undo the pause.
	 */
	if (on && d == w->id) {
		if ((b = w->flow_out[d]) != NULL) {
			for (i = 0; i < b->n; i++) {
				if (b->ev[i].sid == sid && !b->ev[i].on) {
					b->ev[i] = b->ev[--b->n];
					return;
				}
			}
		}
		router_flow_apply(w, sid, on);
		return;
	}
	/* A pause for another worker goes now, not at the end of this turn:
	 * that worker keeps reading the publisher until it arrives.  The
	 * resumes we hold for it go first, so that they stay in order. */
	if (on) {
		if (w->flow_out[d] != NULL) {
			loop_push(&workers[d]->loop, &w->flow_out[d]->hdr);
			w->flow_out[d] = NULL;
		}
		b = xmalloc(sizeof *b);
		b->hdr.kind = INBOX_FLOW;
		b->n = b->cap = 1;
		b->ev = xmalloc(sizeof *b->ev);
		b->ev[0].sid = sid;
		b->ev[0].on = true;
		loop_post(&workers[d]->loop, &b->hdr);
		return;
	}
	if ((b = w->flow_out[d]) == NULL) {
		b = w->flow_out[d] = xmalloc(sizeof *b);
		b->hdr.kind = INBOX_FLOW;
		b->n = 0;
		b->cap = 16;
		b->ev = xreallocarray(NULL, b->cap, sizeof *b->ev);
	} else if (b->n == b->cap) {
		b->cap *= 2;
		b->ev = xreallocarray(b->ev, b->cap, sizeof *b->ev);
	}
	b->ev[b->n].sid = sid;
	b->ev[b->n].on = on;
	b->n++;
}

/* Throttles from a worker (or from this one's last turn). */
void
router_flow_in(struct worker *w, struct flow_batch *b)
{
	uint32_t	 i;

	for (i = 0; i < b->n; i++)
		router_flow_apply(w, b->ev[i].sid, b->ev[i].on);
	free(b->ev);
	free(b);
}

/* Hand batches over and wake the workers that got items this turn. */
void
router_before_sleep(struct worker *w)
{
	uint64_t	 defer;
	unsigned	 d;

	for (d = 0; d < n_workers; d++) {
		if (w->flow_out[d] != NULL) {
			loop_push(&workers[d]->loop, &w->flow_out[d]->hdr);
			w->flow_out[d] = NULL;
			w->wake_mask |= UINT64_C(1) << d;
		}
		/* Stopped publishers, but d drained the link before we
		 * asked it to say so: release them on our next turn. */
		if (w->links[d].n != 0 && !w->links[d].posted &&
		    __atomic_load_n(&w->links[d].pending, __ATOMIC_ACQUIRE) +
		    (w->out[d] != NULL ? w->out[d]->n : 0) <=
		    ROUTER_LINK_LOW &&
		    __atomic_load_n(&workers[d]->congested, __ATOMIC_ACQUIRE) ==
		    0) {
			w->links[d].posted = true;
			router_link_post(w->id, d);
		}
		if (w->out[d] == NULL)
			continue;
		w->out_hint[d] = w->out[d]->n;
		router_push_batch(w, d);
	}
	/*
	 * A worker handed only small batches of messages this turn, while
	 * we have few writes of our own, is not woken here: if it sleeps, we
	 * do its turn next (worker.h), sparing the messages a thread's
	 * wake-up; if not, we wake it then.  Anything else wakes it now:
	 * route deltas must be in before our SUBACKs go (see the top of
	 * this file), and large batches, or a steady stream of small ones,
	 * are better matched in parallel.
	 */
	defer = w->batch_mask & w->small_mask & ~w->wake_mask;
	if (w->n_tx_pending > ROUTER_ASSIST_OWN || !w->assist_ok)
		defer = 0;
	w->wake_mask |= w->batch_mask & ~defer;
	for (d = 0; w->wake_mask != 0 && d < n_workers; d++) {
		if (w->wake_mask & (UINT64_C(1) << d))
			loop_wake(&workers[d]->loop);
	}
	w->assist_mask |= defer;
	w->wake_mask = w->batch_mask = w->small_mask = 0;
}

/* 10 Hz: may we do the turns of workers we hand messages to (see
 * router_before_sleep)?  Only while we hand over few. */
void
router_cron(struct worker *w)
{
	w->assist_ok = w->fwd_msgs - w->fwd_cron <=
	    ROUTER_ASSIST_RATE * LOOP_CRON_MS / 1000;
	w->fwd_cron = w->fwd_msgs;
}

/* $exclusive/ subscriptions: filter -> owner, node-wide (SUBSCRIBE only). */
struct exclusive {
	uint64_t	 sid;
	size_t		 len;
	char		 filter[];
};

static pthread_mutex_t	 exclusive_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap	 exclusive_map;

/* Take an exclusive filter for sid; -1 if another session holds it. */
int
router_exclusive_take(struct str filter, uint64_t sid)
{
	struct exclusive	*e;
	int			 rv = 0;

	pthread_mutex_lock(&exclusive_lock);
	if ((e = hmap_get(&exclusive_map, filter)) != NULL)
		rv = e->sid == sid ? 0 : -1;
	else {
		e = xmalloc(sizeof *e + filter.len);
		e->sid = sid;
		e->len = filter.len;
		memcpy(e->filter, filter.p, filter.len);
		hmap_put(&exclusive_map, (struct str){
		    (const uint8_t *)e->filter, e->len }, e);
	}
	pthread_mutex_unlock(&exclusive_lock);
	return (rv);
}

/* Give an exclusive filter back. */
void
router_exclusive_release(struct str filter, uint64_t sid)
{
	struct exclusive	*e;

	pthread_mutex_lock(&exclusive_lock);
	if ((e = hmap_get(&exclusive_map, filter)) != NULL && e->sid == sid) {
		hmap_del(&exclusive_map, filter);
		free(e);
	}
	pthread_mutex_unlock(&exclusive_lock);
}

/* Free the registry at shutdown. */
void
router_exclusive_free_all(void)
{
	struct hmap_ent	*e;
	size_t		 i = 0;

	pthread_mutex_lock(&exclusive_lock);
	for (e = hmap_next(&exclusive_map, &i, NULL); e != NULL;
	    e = hmap_next(&exclusive_map, &i, e))
		free(e->val);
	hmap_release(&exclusive_map);
	pthread_mutex_unlock(&exclusive_lock);
}
