/*
 * session.c: MQTT sessions (see session.h).
 *
 * Invariants: s->conn != NULL iff a connection in CONN_S_OPEN is attached;
 * every qitem in inflight has a unique non-zero pid and holds one msg
 * reference (none once in QI_WAIT_COMP); queue items are QI_QUEUED.  The
 * expiry timer runs only while detached.  Owner: the session's worker.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "conn.h"
#include "ds.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "router.h"
#include "session.h"
#include "worker.h"
#include "xmalloc.h"

static void	session_expiry_cb(EV_P_ ev_timer *, int);
static void	session_expiry_stop(struct session *);
static void	session_inflight_del(struct session *, uint32_t);

/*
 * Session ids: worker (8 bits), slot in w->slots (24), a counter (32), so
 * an id is never 0, names its worker, finds its session in O(1) and is not
 * reused while the counter has not wrapped.  A free slot holds the next
 * free one as (index << 1) | 1.
 */
#define SLOT_FREE(p)	(((uintptr_t)(p)) & 1)

/* Take a slot for s; its session id. */
static uint64_t
session_slot_take(struct worker *w, struct session *s)
{
	uint32_t	 i;

	if ((i = w->free_slot) != UINT32_MAX)
		w->free_slot = (uint32_t)((uintptr_t)w->slots[i] >> 1);
	else {
		if (w->n_slots == (1U << 24))
			fatal("worker %u: more than 16M sessions", w->id);
		if (w->n_slots == w->cap_slots) {
			w->cap_slots = w->cap_slots == 0 ? 64 :
			    w->cap_slots * 2;
			w->slots = xreallocarray(w->slots, w->cap_slots,
			    sizeof *w->slots);
		}
		i = w->n_slots++;
	}
	w->slots[i] = s;
	return ((uint64_t)w->id << 56 | (uint64_t)i << 32 |
	    (uint32_t)w->next_sid++);
}

/* Give a session's slot back. */
static void
session_slot_give(struct worker *w, uint64_t sid)
{
	uint32_t	 i = (uint32_t)(sid >> 32) & 0xffffff;

	w->slots[i] = (struct session *)(((uintptr_t)w->free_slot << 1) | 1);
	w->free_slot = i;
}

/* The session with this id on w, or NULL. */
struct session *
session_by_sid(struct worker *w, uint64_t sid)
{
	uint32_t	 i = (uint32_t)(sid >> 32) & 0xffffff;
	struct session	*s;

	if ((sid >> 56) != w->id || i >= w->n_slots)
		return (NULL);
	s = w->slots[i];
	return (SLOT_FREE(s) || s->sid != sid ? NULL : s);
}

/* A new empty session registered on w. */
struct session *
session_new(struct worker *w, struct str client_id)
{
	struct session	*s;

	s = xcalloc(1, sizeof *s);
	s->created_at = now_ms();
	s->sid = session_slot_take(w, s);
	s->client_id = str_dup(client_id);
	s->client_hash = hash_bytes(client_id.p, client_id.len);
	s->w = w;
	s->next_pid = 1;
	s->recv_max = 65535;
	s->max_packet = UINT32_MAX;
	hmap_put(&w->sessions, (struct str){ (uint8_t *)s->client_id,
	    client_id.len }, s);
	METRIC_INC(&w->metrics, SESSIONS_COUNT);
	METRIC_INC(&w->metrics, SESSION_CREATED);
	return (s);
}

/* Look up a session by client id. */
struct session *
session_find(struct worker *w, struct str client_id)
{
	return (hmap_get(&w->sessions, client_id));
}

/* Release what a qitem holds. */
static void
qitem_release(struct qitem *qi)
{
	msg_unref(qi->m);
	qi->m = NULL;
	free(qi->ids);
	qi->ids = NULL;
	free(qi->share);
	qi->share = NULL;
}

/* Count a dropped delivery with its reason. */
static void
session_count_drop(struct session *s, enum metric reason)
{
	metrics_add(&s->w->metrics, METRIC_DELIVERY_DROPPED, 1);
	metrics_add(&s->w->metrics, reason, 1);
	s->dropped++;
}

/* Give a shared message to another member, or just release it. */
static void
session_release_item(struct session *s, struct qitem *qi)
{
	if (qi->share != NULL && qi->m != NULL)
		router_redispatch(s->w, qi->m, qi->share, s->sid, 0);
	qitem_release(qi);
}

/* End a session; see session.h. */
void
session_end(struct session *s)
{
	struct worker	*w = s->w;
	struct sub	*sub, *next;
	uint32_t	 i;
	/* On shutdown a durable session stays in storage, will and all. */
	bool		 keep = s->durable && w->stopping;

	if (s->will != NULL && !keep)
		session_publish_will(s);
	if (s->durable) {
		if (!keep)
			ds_session_del(s);
		METRIC_DEC(&w->metrics, SESSIONS_DURABLE_COUNT);
	}
	/* Subscriptions first: redispatched messages must not come back. */
	for (sub = s->subs; sub != NULL; sub = next) {
		next = sub->next;
		router_sub_del(w, sub);
		ds_sub_del(s, sub);
		if (sub->exclusive)
			router_exclusive_release(sub->filter, s->sid);
		if (sub->group.len != 0)
			METRIC_DEC(&w->metrics, SUBSCRIPTIONS_SHARED_COUNT);
		free(sub->text);
		free(sub);
		METRIC_DEC(&w->metrics, SUBSCRIPTIONS_COUNT);
		METRIC_DEC(&w->metrics, SUBOPTIONS_COUNT);
	}
	s->subs = NULL;
	for (i = 0; i < s->n_inflight; i++)
		session_release_item(s, &s->inflight[i]);
	for (i = 0; i < s->q_len; i++)
		session_release_item(s, &s->queue[(s->q_head + i) % s->q_cap]);
	free(s->inflight);
	free(s->queue);
	free(s->awrel);
	session_expiry_stop(s);
	session_clear_will(s);
	hmap_del(&w->sessions, (struct str){ (uint8_t *)s->client_id,
	    strlen(s->client_id) });
	session_slot_give(w, s->sid);
	session_flow_release(s);
	free(s->thr);
	METRIC_DEC(&w->metrics, SESSIONS_COUNT);
	METRIC_INC(&w->metrics, SESSION_TERMINATED);
	log_debug("session: '%s' ended", s->client_id);
	free(s->client_id);
	free(s->username);
	free(s);
}

/* Session expiry timer. */
static void
session_expiry_cb(EV_P_ ev_timer *t, int revents)
{
	struct session	*s = t->data;

	(void)loop;
	(void)revents;
	log_info("session: '%s' expired", s->client_id);
	session_end(s);
}

/* Stop and free the expiry timer, if any. */
static void
session_expiry_stop(struct session *s)
{
	if (s->expiry_timer == NULL)
		return;
	ev_timer_stop(s->w->loop.ev, s->expiry_timer);
	free(s->expiry_timer);
	s->expiry_timer = NULL;
}

/* Attach a connection (after CONNACK is queued). */
void
session_attach(struct session *s, struct conn *c)
{
	session_expiry_stop(s);
	session_clear_will(s);
	s->conn = c;
	c->s = s;
	ds_session_dirty(s, false);
}

/* Will delay timer. */
static void
session_will_cb(EV_P_ ev_timer *t, int revents)
{
	struct will	*wl = t->data;

	(void)loop;
	(void)revents;
	session_publish_will(wl->s);
}

/* Detach the connection; see session.h. */
void
session_detach(struct session *s, bool publish_will)
{
	struct worker	*w = s->w;

	s->conn = NULL;
	s->detached_at = now_ms();
	session_flow_release(s);
	if (s->durable && w->stopping) {
		/* Shutdown: the will and the expiry wait in storage. */
		ds_session_dirty(s, false);
		return;
	}
	if (s->will != NULL && !publish_will)
		session_clear_will(s);
	if (s->will != NULL) {
		if (s->will->delay == 0 || s->expiry == 0)
			session_publish_will(s);
		else {
			METRIC_INC(&w->metrics, MESSAGES_DELAYED);
			ev_timer_init(&s->will->timer, session_will_cb,
			    (double)s->will->delay, 0.);
			s->will->timer.data = s->will;
			ev_timer_start(w->loop.ev, &s->will->timer);
			loop_touch(&w->loop);
		}
	}
	if (s->expiry == 0) {
		session_end(s);
		return;
	}
	ds_session_dirty(s, false);
	if (s->expiry != UINT32_MAX) {
		/* Allocated only while detached: connected sessions are
		 * the many, and they need no expiry timer. */
		session_expiry_stop(s);
		s->expiry_timer = xmalloc(sizeof *s->expiry_timer);
		ev_timer_init(s->expiry_timer, session_expiry_cb,
		    (double)s->expiry, 0.);
		s->expiry_timer->data = s;
		ev_timer_start(w->loop.ev, s->expiry_timer);
		loop_touch(&w->loop);
	}
}

/* Replace the will. */
void
session_set_will(struct session *s, struct msg *m, uint32_t delay)
{
	session_clear_will(s);
	s->will = xcalloc(1, sizeof *s->will);
	s->will->m = m;
	s->will->delay = delay;
	s->will->s = s;
	ev_init(&s->will->timer, session_will_cb);
	ds_session_dirty(s, false);
}

/* Drop the will without publishing it. */
void
session_clear_will(struct session *s)
{
	if (s->will == NULL)
		return;
	ev_timer_stop(s->w->loop.ev, &s->will->timer);
	msg_unref(s->will->m);
	free(s->will);
	s->will = NULL;
	ds_session_dirty(s, false);
}

/* Publish the will now and forget it. */
void
session_publish_will(struct session *s)
{
	struct will	*wl = TAKE(s->will);

	ev_timer_stop(s->w->loop.ev, &wl->timer);
	log_debug("session: '%s' publishes its will", s->client_id);
	router_publish(s->w, wl->m);
	msg_unref(wl->m);
	free(wl);
	ds_session_dirty(s, false);
}

/* Size of the send window. */
static uint32_t
session_window(const struct session *s)
{
	uint32_t	 mi = (uint32_t)config->mqtt_max_inflight;

	return (s->recv_max < mi ? s->recv_max : mi);
}

/* True if an item of this qos can go out now. */
static bool
session_can_send(const struct session *s, uint8_t qos)
{
	if (s->conn == NULL || buf_used(&s->conn->tx) >= CONN_TX_HIGH)
		return (false);
	return (qos == 0 || s->n_inflight < session_window(s));
}

/* Next free packet id. */
static uint16_t
session_next_pid(struct session *s)
{
	uint32_t	 i, tries;

	for (tries = 0; tries < 65536; tries++) {
		uint16_t pid = s->next_pid;

		s->next_pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
		for (i = 0; i < s->n_inflight; i++) {
			if (s->inflight[i].pid == pid)
				break;
		}
		if (i == s->n_inflight)
			return (pid);
	}
	return (0);
}

/* Append a copy of qi to the in-flight window; the new slot. */
static struct qitem *
session_inflight_add(struct session *s, const struct qitem *qi)
{
	if (s->n_inflight == s->cap_inflight) {
		s->cap_inflight = s->cap_inflight == 0 ? 4 :
		    s->cap_inflight * 2;
		s->inflight = xreallocarray(s->inflight, s->cap_inflight,
		    sizeof *s->inflight);
	}
	s->inflight[s->n_inflight] = *qi;
	return (&s->inflight[s->n_inflight++]);
}

/* Send one item now (the window has room); consumes qi's contents. */
static void
session_send(struct session *s, struct qitem *qi)
{
	struct worker	*w = s->w;
	struct qitem	*slot;

	if (qi->qos == 0) {
		if (!proto_send_publish(s->conn, qi, false))
			session_count_drop(s, METRIC_DELIVERY_DROPPED_TOO_LARGE);
		ds_item_del(s, qi);
		qitem_release(qi);
		return;
	}
	slot = session_inflight_add(s, qi);
	slot->pid = session_next_pid(s);
	slot->state = qi->qos == 1 ? QI_WAIT_ACK : QI_WAIT_REC;
	slot->sent_at = ev_now(w->loop.ev);
	/* A QoS 2 packet id must be stored before the client sees it:
	 * after a crash it is resent with that id, or delivered twice. */
	ds_item_put(s, slot, slot->qos == 2);
	if (!proto_send_publish(s->conn, slot, false)) {
		session_count_drop(s, METRIC_DELIVERY_DROPPED_TOO_LARGE);
		ds_item_del(s, slot);
		qitem_release(slot);
		s->n_inflight--;
	} else if (s->n_inflight == 1 && s->version != MQTT_V5)
		conn_timer_rearm(s->conn);
}

/* Queue length from which a draining session throttles its publishers. */
static uint32_t
session_flow_high(void)
{
	uint64_t	 max = (uint64_t)config->mqtt_max_mqueue_len;

	if (max == CONFIG_INFINITY || max == 0 || max / 2 > SESSION_FLOW_HIGH)
		return (SESSION_FLOW_HIGH);
	return (max < 2 ? 1 : (uint32_t)(max / 2));
}

/* Let every publisher this session throttles go; see session.h. */
void
session_flow_release(struct session *s)
{
	uint32_t	 i;

	if (s->n_thr == 0)
		return;
	for (i = 0; i < s->n_thr; i++)
		router_flow(s->w, s->thr[i], false);
	s->n_thr = 0;
	router_congested(s->w, false);
	if (s->cap_thr > 64) {
		free(s->thr);
		s->thr = NULL;
		s->cap_thr = 0;
	}
}

/*
 * The queue is deep: throttle m's publisher if we still drain (see the
 * back-pressure note in session.h).  True if the session is draining, so
 * that what is already on its way may be queued past max_mqueue_len.
 */
static bool
session_flow_check(struct session *s, const struct msg *m)
{
	uint32_t	 i;

	/* A client we do not read cannot acknowledge what we send it:
	 * throttling its publishers could close a cycle of pauses. */
	if (s->conn == NULL || s->conn->paused ||
	    !conn_draining(s->conn, SESSION_FLOW_STALL_MS)) {
		if (s->n_thr != 0)
			session_flow_release(s);
		return (false);
	}
	if (m->origin == 0 || m->origin == s->sid)
		return (true);
	for (i = 0; i < s->n_thr; i++) {
		if (s->thr[i] == m->origin)
			return (true);
	}
	if (s->n_thr == s->cap_thr) {
		s->cap_thr = s->cap_thr == 0 ? 4 : s->cap_thr * 2;
		s->thr = xreallocarray(s->thr, s->cap_thr, sizeof *s->thr);
	}
	if (s->n_thr == 0)
		router_congested(s->w, true);
	s->thr[s->n_thr++] = m->origin;
	router_flow(s->w, m->origin, true);
	return (true);
}

/*
 * Append to the queue, dropping the oldest when full: at max_mqueue_len,
 * or twice that for a draining session that throttles its publishers.
 */
static void
session_enqueue(struct session *s, struct qitem *qi, bool draining)
{
	struct qitem	*old;
	uint64_t	 max = (uint64_t)config->mqtt_max_mqueue_len;
	uint32_t	 i;

	/* EMQX: max_mqueue_len 0 means no limit. */
	if (max != CONFIG_INFINITY && max != 0 &&
	    s->q_len >= (draining ? 2 * max : max)) {
		if (s->q_len == 0) {
			session_count_drop(s,
			    METRIC_DELIVERY_DROPPED_QUEUE_FULL);
			ds_item_del(s, qi);
			qitem_release(qi);
			return;
		}
		old = &s->queue[s->q_head];
		session_count_drop(s, old->qos == 0 ?
		    METRIC_DELIVERY_DROPPED_QOS0_MSG :
		    METRIC_DELIVERY_DROPPED_QUEUE_FULL);
		ds_item_del(s, old);
		qitem_release(old);
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
	}
	if (s->q_len == s->q_cap) {
		struct qitem	*nq;
		uint32_t	 ncap = s->q_cap == 0 ? 8 : s->q_cap * 2;

		nq = xreallocarray(NULL, ncap, sizeof *nq);
		for (i = 0; i < s->q_len; i++)
			nq[i] = s->queue[(s->q_head + i) % s->q_cap];
		free(s->queue);
		s->queue = nq;
		s->q_cap = ncap;
		s->q_head = 0;
	}
	s->queue[(s->q_head + s->q_len) % s->q_cap] = *qi;
	s->q_len++;
}

/* Deliver one message to the session; see session.h. */
void
session_deliver(struct session *s, struct msg *m, uint8_t qos, bool retain,
    const uint32_t *ids, size_t n_ids, const char *share)
{
	struct qitem	 qi;
	size_t		 len;

	memset(&qi, 0, sizeof qi);
	/* Shared deliveries are not durable (ds.h). */
	if (share == NULL && ds_has_entry(s, m)) {
		qi.ds_id = m->ds->id;
		qi.ds_shard = m->ds->shard;
	}
	if (msg_expired(m, s->w->now)) {
		session_count_drop(s, METRIC_DELIVERY_DROPPED_EXPIRED);
		ds_item_del(s, &qi);
		return;
	}
	if (qos == 0 && s->conn == NULL && !config->mqtt_mqueue_store_qos0) {
		session_count_drop(s, METRIC_DELIVERY_DROPPED_QOS0_MSG);
		ds_item_del(s, &qi);
		return;
	}
	if (qos == 0 && n_ids <= 1 && share == NULL && s->q_len == 0 &&
	    session_can_send(s, 0)) {
		/* Written out at once: no reference to take and drop. */
		qi.m = m;
		qi.retain = retain;
		qi.n_ids = (uint8_t)n_ids;
		qi.id = n_ids == 1 ? ids[0] : 0;
		if (!proto_send_publish(s->conn, &qi, false))
			session_count_drop(s, METRIC_DELIVERY_DROPPED_TOO_LARGE);
		ds_item_del(s, &qi);
		return;
	}
	qi.m = msg_ref(m);
	qi.qos = qos;
	qi.retain = retain;
	qi.state = QI_QUEUED;
	if (n_ids == 1) {
		qi.n_ids = 1;
		qi.id = ids[0];
	} else if (n_ids > 1) {
		qi.n_ids = (uint8_t)(n_ids > 255 ? 255 : n_ids);
		qi.ids = xmemdup(ids, n_ids * sizeof *ids);
	}
	if (share != NULL) {
		len = strlen(share);
		len += strlen(share + len + 1) + 2;
		qi.share = xmemdup(share, len);
	}
	if (s->q_len == 0 && session_can_send(s, qos))
		session_send(s, &qi);
	else
		session_enqueue(s, &qi, s->q_len >= session_flow_high() &&
		    session_flow_check(s, m));
}

/* Send queued items while the window and socket allow. */
void
session_drain(struct session *s)
{
	struct qitem	 qi;

	while (s->q_len != 0 && s->conn != NULL) {
		qi = s->queue[s->q_head];
		if (!session_can_send(s, qi.qos))
			break;
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_len--;
		if (msg_expired(qi.m, s->w->now)) {
			session_count_drop(s, METRIC_DELIVERY_DROPPED_EXPIRED);
			ds_item_del(s, &qi);
			qitem_release(&qi);
			continue;
		}
		session_send(s, &qi);
	}
	if (s->n_thr != 0 && s->q_len <= session_flow_high() / 4)
		session_flow_release(s);
	if (s->q_len == 0 && s->q_cap > 64) {
		free(s->queue);
		s->queue = NULL;
		s->q_cap = s->q_head = 0;
	}
}

/* Resend in-flight messages (DUP) and PUBRELs, then the queue. */
void
session_resume(struct session *s)
{
	uint32_t	 i;

	i = 0;
	while (i < s->n_inflight && s->conn != NULL) {
		s->inflight[i].sent_at = ev_now(s->w->loop.ev);
		if (s->inflight[i].state == QI_WAIT_COMP)
			proto_send_pubrel(s->conn, s->inflight[i].pid);
		else if (!proto_send_publish(s->conn, &s->inflight[i], true)) {
			/* MQTT-3.1.2-25: too large for this connection:
			 * discard it as if it had been delivered. */
			session_count_drop(s,
			    METRIC_DELIVERY_DROPPED_TOO_LARGE);
			session_inflight_del(s, i);
			continue;
		}
		i++;
	}
	if (s->conn != NULL && s->n_inflight != 0 && s->version != MQTT_V5)
		conn_timer_rearm(s->conn);
	session_drain(s);
}

/* Index of pid in inflight with the given state, or -1. */
static int
session_inflight_find(const struct session *s, uint16_t pid, uint8_t state)
{
	uint32_t	 i;

	for (i = 0; i < s->n_inflight; i++) {
		if (s->inflight[i].pid == pid)
			return (s->inflight[i].state == state ? (int)i : -1);
	}
	return (-1);
}

/* Remove inflight[i], keeping send order. */
static void
session_inflight_del(struct session *s, uint32_t i)
{
	ds_item_del(s, &s->inflight[i]);
	qitem_release(&s->inflight[i]);
	memmove(&s->inflight[i], &s->inflight[i + 1],
	    (s->n_inflight - i - 1) * sizeof *s->inflight);
	s->n_inflight--;
	if (s->n_inflight == 0 && s->cap_inflight > 16) {
		free(s->inflight);
		s->inflight = NULL;
		s->cap_inflight = 0;
	}
}

/* PUBACK from the client. */
int
session_puback(struct session *s, uint16_t pid)
{
	int	 i;

	if ((i = session_inflight_find(s, pid, QI_WAIT_ACK)) == -1)
		return (-1);
	session_inflight_del(s, (uint32_t)i);
	METRIC_INC(&s->w->metrics, MESSAGES_ACKED);
	session_drain(s);
	return (0);
}

/* PUBREC from the client. */
int
session_pubrec(struct session *s, uint16_t pid, uint8_t rc)
{
	struct qitem	*qi;
	int		 i;

	if ((i = session_inflight_find(s, pid, QI_WAIT_REC)) == -1)
		return (-1);
	qi = &s->inflight[i];
	if (rc >= 0x80) {
		session_inflight_del(s, (uint32_t)i);
		session_drain(s);
		return (0);
	}
	msg_unref(qi->m);
	qi->m = NULL;
	free(qi->share);
	qi->share = NULL;
	qi->state = QI_WAIT_COMP;
	ds_item_put(s, qi, true);
	if (s->conn != NULL)
		proto_send_pubrel(s->conn, pid);
	return (0);
}

/* PUBCOMP from the client. */
int
session_pubcomp(struct session *s, uint16_t pid)
{
	int	 i;

	if ((i = session_inflight_find(s, pid, QI_WAIT_COMP)) == -1)
		return (-1);
	session_inflight_del(s, (uint32_t)i);
	METRIC_INC(&s->w->metrics, MESSAGES_ACKED);
	session_drain(s);
	return (0);
}

/* Forget QoS 2 receipts older than mqtt.await_rel_timeout. */
static void
session_awrel_expire(struct session *s)
{
	uint64_t	 limit = (uint64_t)config->mqtt_await_rel_timeout;
	uint32_t	 i = 0;

	while (i < s->n_awrel) {
		if (s->w->now - s->awrel[i].at >= limit) {
			METRIC_INC(&s->w->metrics,
			    MESSAGES_DROPPED_AWAIT_PUBREL_TIMEOUT);
			s->awrel[i] = s->awrel[--s->n_awrel];
			ds_session_dirty(s, false);
		} else
			i++;
	}
}

/* True if a QoS 2 receipt for pid is pending. */
bool
session_awrel_has(struct session *s, uint16_t pid)
{
	uint32_t	 i;

	for (i = 0; i < s->n_awrel; i++) {
		if (s->awrel[i].pid == pid)
			return (true);
	}
	return (false);
}

/* Note a QoS 2 receipt; -1 over mqtt.max_awaiting_rel. */
int
session_awrel_add(struct session *s, uint16_t pid)
{
	session_awrel_expire(s);
	/* EMQX: max_awaiting_rel 0 means no limit. */
	if (config->mqtt_max_awaiting_rel != CONFIG_INFINITY &&
	    config->mqtt_max_awaiting_rel != 0 &&
	    s->n_awrel >= (uint64_t)config->mqtt_max_awaiting_rel)
		return (-1);
	if (s->n_awrel == s->cap_awrel) {
		s->cap_awrel = s->cap_awrel == 0 ? 4 : s->cap_awrel * 2;
		s->awrel = xreallocarray(s->awrel, s->cap_awrel,
		    sizeof *s->awrel);
	}
	s->awrel[s->n_awrel].pid = pid;
	s->awrel[s->n_awrel].at = s->w->now;
	s->n_awrel++;
	/* PUBREC waits until the receipt is stored (exactly once). */
	ds_session_dirty(s, true);
	return (0);
}

/* Release a QoS 2 receipt; -1 if unknown. */
int
session_awrel_del(struct session *s, uint16_t pid)
{
	uint32_t	 i;

	for (i = 0; i < s->n_awrel; i++) {
		if (s->awrel[i].pid == pid) {
			s->awrel[i] = s->awrel[--s->n_awrel];
			/* PUBCOMP waits too: the id may then be reused. */
			ds_session_dirty(s, true);
			if (s->n_awrel == 0) {
				free(s->awrel);
				s->awrel = NULL;
				s->cap_awrel = 0;
			}
			return (0);
		}
	}
	return (-1);
}

/* The subscription with this exact text. */
struct sub *
session_sub_find(struct session *s, struct str text)
{
	struct sub	*sub;

	for (sub = s->subs; sub != NULL; sub = sub->next) {
		if (str_eq_cstr(text, sub->text))
			return (sub);
	}
	return (NULL);
}

/* Add or replace a subscription; see session.h. */
struct sub *
session_subscribe(struct session *s, struct str text, struct str group,
    struct str filter, uint8_t qos, bool no_local, bool rap, uint8_t rh,
    uint32_t sub_id, bool *existed)
{
	struct sub	*sub;

	if ((sub = session_sub_find(s, text)) != NULL) {
		*existed = true;
		if (sub->group.len != 0)
			router_sub_del(s->w, sub);
		sub->qos = qos;
		sub->no_local = no_local;
		sub->rap = rap;
		sub->rh = rh;
		sub->sub_id = sub_id;
		if (sub->group.len != 0)
			router_sub_add(s->w, sub);
		ds_sub_del(s, sub);
		ds_sub_add(s, sub);
		ds_session_dirty(s, true);
		return (sub);
	}
	*existed = false;
	sub = xcalloc(1, sizeof *sub);
	sub->s = s;
	sub->text = str_dup(text);
	sub->filter.p = (const uint8_t *)sub->text + (filter.p - text.p);
	sub->filter.len = filter.len;
	if (group.len != 0) {
		sub->group.p = (const uint8_t *)sub->text + (group.p - text.p);
		sub->group.len = group.len;
	}
	sub->qos = qos;
	sub->no_local = no_local;
	sub->rap = rap;
	sub->rh = rh;
	sub->sub_id = sub_id;
	sub->next = s->subs;
	s->subs = sub;
	s->n_subs++;
	router_sub_add(s->w, sub);
	ds_sub_add(s, sub);
	ds_session_dirty(s, true);
	METRIC_INC(&s->w->metrics, SUBSCRIPTIONS_COUNT);
	METRIC_INC(&s->w->metrics, SUBOPTIONS_COUNT);
	if (group.len != 0)
		METRIC_INC(&s->w->metrics, SUBSCRIPTIONS_SHARED_COUNT);
	METRIC_INC(&s->w->metrics, CLIENT_SUBSCRIBE);
	return (sub);
}

/* Remove a subscription; -1 if there was none. */
int
session_unsubscribe(struct session *s, struct str text)
{
	struct sub	**pp, *sub;

	for (pp = &s->subs; (sub = *pp) != NULL; pp = &sub->next) {
		if (str_eq_cstr(text, sub->text))
			break;
	}
	if (sub == NULL)
		return (-1);
	*pp = sub->next;
	s->n_subs--;
	router_sub_del(s->w, sub);
	ds_sub_del(s, sub);
	ds_session_dirty(s, true);
	if (sub->exclusive)
		router_exclusive_release(sub->filter, s->sid);
	if (sub->group.len != 0)
		METRIC_DEC(&s->w->metrics, SUBSCRIPTIONS_SHARED_COUNT);
	METRIC_DEC(&s->w->metrics, SUBSCRIPTIONS_COUNT);
	METRIC_DEC(&s->w->metrics, SUBOPTIONS_COUNT);
	METRIC_INC(&s->w->metrics, CLIENT_UNSUBSCRIBE);
	free(sub->text);
	free(sub);
	return (0);
}

/* The retry interval in seconds, or 0 when resends are off. */
static double
session_retry_interval(const struct session *s)
{
	if (s->version == MQTT_V5 || config->mqtt_retry_interval <= 0 ||
	    config->mqtt_retry_interval == CONFIG_INFINITY)
		return (0);
	return ((double)config->mqtt_retry_interval / 1000.0);
}

/* When the oldest in-flight message is due for a resend, or 0. */
double
session_retry_due(const struct session *s)
{
	double		 iv = session_retry_interval(s), due = 0;
	uint32_t	 i;

	if (iv == 0)
		return (0);
	for (i = 0; i < s->n_inflight; i++) {
		if (due == 0 || s->inflight[i].sent_at + iv < due)
			due = s->inflight[i].sent_at + iv;
	}
	return (due);
}

/* Resend (DUP) what has waited longer than mqtt.retry_interval. */
void
session_retry(struct session *s, double now)
{
	double		 iv = session_retry_interval(s);
	struct qitem	*qi;
	uint32_t	 i;

	if (iv == 0 || s->conn == NULL)
		return;
	for (i = 0; i < s->n_inflight; i++) {
		qi = &s->inflight[i];
		if (qi->sent_at + iv > now)
			continue;
		qi->sent_at = now;
		if (qi->state == QI_WAIT_COMP)
			proto_send_pubrel(s->conn, qi->pid);
		else
			(void)proto_send_publish(s->conn, qi, true);
	}
}

/* Messages waiting in the queue. */
uint32_t
session_queue_len(const struct session *s)
{
	return (s->q_len);
}

/* Add an item read back from storage; see session.h. */
void
session_restore_item(struct session *s, struct qitem *qi)
{
	if (qi->state == QI_QUEUED) {
		session_enqueue(s, qi, false);
		return;
	}
	(void)session_inflight_add(s, qi);
	if (qi->pid >= s->next_pid)
		s->next_pid = (uint16_t)(qi->pid == 65535 ? 1 : qi->pid + 1);
}

/* Timers of a session read back from storage; see session.h. */
void
session_restored(struct session *s)
{
	struct worker	*w = s->w;
	uint64_t	 now = now_ms(), end;

	if (s->will != NULL) {
		end = s->detached_at + (uint64_t)s->will->delay * 1000;
		METRIC_INC(&w->metrics, MESSAGES_DELAYED);
		ev_timer_init(&s->will->timer, session_will_cb,
		    end > now ? (double)(end - now) / 1000.0 : 0., 0.);
		s->will->timer.data = s->will;
		ev_timer_start(w->loop.ev, &s->will->timer);
		loop_touch(&w->loop);
	}
	if (s->expiry == UINT32_MAX)
		return;
	end = s->detached_at + (uint64_t)s->expiry * 1000;
	if (end <= now) {
		log_info("session: '%s' expired while the node was down",
		    s->client_id);
		session_end(s);
		return;
	}
	s->expiry_timer = xmalloc(sizeof *s->expiry_timer);
	ev_timer_init(s->expiry_timer, session_expiry_cb,
	    (double)(end - now) / 1000.0, 0.);
	s->expiry_timer->data = s;
	ev_timer_start(w->loop.ev, s->expiry_timer);
	loop_touch(&w->loop);
}
