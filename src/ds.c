/*
 * ds.c: durable storage and durable sessions, builtin_local (see ds.h).
 *
 * Records (docs/storage.md; all integers big-endian, every record ends
 * with a CRC-32 of its key and value):
 *
 *   d/SHARD(2)POS(8)  a message: ver, qos, flags, expire_at, topic,
 *                     payload, properties
 *   q/CLIENTID\0POS(8) a queue entry: ver, shard, qos, state, pid, flags,
 *                     subscription id
 *   s/CLIENTID        a session: ver, protocol, expiry, detached_at,
 *                     username, subscriptions, QoS 2 receipts, will
 *   m/heartbeat       when this node last said it was alive (ms)
 *
 * Positions are one counter for all shards (the next one is found at
 * start-up), so a queue entry's key orders a session's messages as they
 * were published.  The storage thread counts the entries of every stored
 * message and deletes the message with its last entry; the GC sweep
 * (durable_sessions.session_gc_interval) recounts from the records and
 * deletes whatever nothing references, then compacts.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "conn.h"
#include "ds.h"
#include "hmap.h"
#include "log.h"
#include "mqtt_rc.h"
#include "msg.h"
#include "proto.h"
#include "router.h"
#include "session.h"
#include "store.h"
#include "topic.h"
#include "worker.h"
#include "xmalloc.h"

#define DS_REC_VERSION	1
#define DS_ENTRY_MIN	(1 + 2 + 1 + 1 + 2 + 1 + 1 + 4)
#define DS_SUB_ID_MAX	268435455	/* a Variable Byte Integer */

enum ds_op {
	DS_OP_MSG = 1,		/* pos, shard, record: a stored message */
	DS_OP_QNEW,		/* client id, pos, record: a new entry */
	DS_OP_QPUT,		/* client id, pos, record: entry changed */
	DS_OP_QDEL,		/* client id, pos */
	DS_OP_SPUT,		/* client id, record */
	DS_OP_SDEL,		/* client id: the session and its entries */
};

/* One worker's writes of one loop turn. */
struct ds_batch {
	struct inbox_item hdr;
	struct ds_batch	*next;
	unsigned	 worker;
	uint32_t	 seq;
	bool		 sync;		/* somebody waits for it */
	bool		 failed;
	uint32_t	 n_ops;
	uint32_t	 n_msgs;
	struct buf	 ops;
};

/* A stored message's entry count (storage thread). */
struct ds_count {
	uint64_t	 pos;
	uint16_t	 shard;
	uint32_t	 n;
};

/* A durable subscription in the index. */
struct ds_route {
	struct ds_route	*next;
	uint64_t	 sid;
	char		*cid;
	uint8_t		 qos;
	bool		 no_local;
	bool		 rap;
	uint32_t	 sub_id;
};

/* One match of a publish (publisher's worker). */
struct ds_hit {
	uint64_t	 sid;
	struct ds_route	*r;
	uint8_t		 qos;
};

/* A session read back at start-up, and its entries. */
struct ds_sentry {
	uint64_t	 pos;
	uint16_t	 shard;
	uint8_t		 qos;
	uint8_t		 state;
	uint8_t		 flags;
	uint16_t	 pid;
	uint8_t		 n_ids;
	uint32_t	*ids;		/* subscription identifiers */
	struct msg	*m;
};

struct ds_saved {
	struct ds_saved	*next;
	uint64_t	 sid;		/* once restored */
	char		*cid;
	uint8_t		*rec;
	size_t		 rec_len;
	struct ds_sentry *e;
	size_t		 n_e, cap_e;
};

static bool		 ds_on;
static pthread_t	 ds_thread;
static bool		 ds_thread_started;
static pthread_mutex_t	 ds_mtx = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 ds_cond = PTHREAD_COND_INITIALIZER;
static struct ds_batch	*ds_head, *ds_tail;
static uint32_t		 ds_queued_msgs;
static bool		 ds_stop, ds_detached;
static uint64_t		 ds_next_pos;		/* atomic */
static struct hmap	 ds_counts;		/* storage thread */
static struct ds_saved	*ds_loaded;
static bool		 ds_failing;		/* storage thread */

static pthread_rwlock_t	 ds_index_lock = PTHREAD_RWLOCK_INITIALIZER;
static struct topic_trie *ds_index;
static uint32_t		 ds_index_n;		/* atomic: routes */

/* A reader over a record. */
struct rd {
	const uint8_t	*p;
	size_t		 left;
	bool		 bad;
};

/* Take n bytes, or mark the reader bad. */
static const uint8_t *
rd_take(struct rd *r, size_t n)
{
	const uint8_t	*p = r->p;

	if (r->bad || r->left < n) {
		r->bad = true;
		return (NULL);
	}
	r->p += n;
	r->left -= n;
	return (p);
}

/* An integer of n bytes. */
static uint64_t
rd_int(struct rd *r, int n)
{
	const uint8_t	*p = rd_take(r, (size_t)n);

	return (p == NULL ? 0 : get_be(p, n));
}

/* A string with a length of lenbytes before it. */
static struct str
rd_str(struct rd *r, int lenbytes)
{
	size_t		 n = (size_t)rd_int(r, lenbytes);
	const uint8_t	*p = rd_take(r, n);

	return (p == NULL ? (struct str){ NULL, 0 } : (struct str){ p, n });
}

/* Append a 64-bit integer. */
static void
ds_add_u64(struct buf *b, uint64_t v)
{
	buf_add_u32(b, (uint32_t)(v >> 32));
	buf_add_u32(b, (uint32_t)v);
}

/* Fill the 4-byte length before off with the bytes written since. */
static void
ds_patch_len(struct buf *b, size_t off)
{
	uint8_t		*p = b->data + b->off + off - 4;
	size_t		 n = buf_used(b) - off;

	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
}

/* Append the CRC-32 of key and of b's bytes from off. */
static void
ds_add_crc(struct buf *b, size_t off, struct str key)
{
	uint32_t	 crc;

	crc = store_crc32(0, key.p, key.len);
	crc = store_crc32(crc, buf_head(b) + off, buf_used(b) - off);
	buf_add_u32(b, crc);
}

/* True if val ends with the CRC-32 of key and the rest of val. */
static bool
ds_crc_ok(struct str key, struct str val)
{
	uint32_t	 crc;

	if (val.len < 5)
		return (false);
	crc = store_crc32(0, key.p, key.len);
	crc = store_crc32(crc, val.p, val.len - 4);
	return (crc == (uint32_t)get_be(val.p + val.len - 4, 4));
}

/* Key "d/" shard pos. */
static struct str
ds_key_msg(uint8_t *k, uint16_t shard, uint64_t pos)
{
	int	 i;

	k[0] = 'd';
	k[1] = '/';
	k[2] = (uint8_t)(shard >> 8);
	k[3] = (uint8_t)shard;
	for (i = 0; i < 8; i++)
		k[4 + i] = (uint8_t)(pos >> (56 - 8 * i));
	return ((struct str){ k, 12 });
}

/* Key "q/" cid NUL pos into b (reset). */
static struct str
ds_key_entry(struct buf *b, struct str cid, uint64_t pos)
{
	buf_truncate(b, 0);
	buf_add_str(b, STR("q/"));
	buf_add_str(b, cid);
	buf_add_u8(b, 0);
	ds_add_u64(b, pos);
	return ((struct str){ buf_head(b), buf_used(b) });
}

/* Key "s/" cid into b (reset). */
static struct str
ds_key_session(struct buf *b, struct str cid)
{
	buf_truncate(b, 0);
	buf_add_str(b, STR("s/"));
	buf_add_str(b, cid);
	return ((struct str){ buf_head(b), buf_used(b) });
}

/* The message record (without the CRC, added by the caller). */
static void
ds_encode_msg(struct buf *b, const struct msg *m)
{
	buf_add_u8(b, DS_REC_VERSION);
	buf_add_u8(b, m->qos);
	buf_add_u8(b, m->retain ? 1 : 0);
	ds_add_u64(b, m->expire_at);
	buf_add_u16(b, m->topic_len);
	buf_add_str(b, msg_topic(m));
	buf_add_u32(b, m->payload_len);
	buf_add_str(b, msg_payload(m));
	buf_add_u32(b, m->props_len);
	buf_add_str(b, msg_props(m));
}

/* A message from its fields (after the version byte); NULL if bad. */
static struct msg *
ds_decode_msg(struct rd *r)
{
	uint8_t		 qos, flags;
	uint64_t	 expire_at;
	struct str	 topic, payload, props;

	qos = (uint8_t)rd_int(r, 1);
	flags = (uint8_t)rd_int(r, 1);
	expire_at = rd_int(r, 8);
	topic = rd_str(r, 2);
	payload = rd_str(r, 4);
	props = rd_str(r, 4);
	if (r->bad || flags > 1)
		return (NULL);
	return (msg_from_stored(topic, payload, props, qos, flags != 0,
	    expire_at));
}

/* A "d/" record's message, or NULL. */
static struct msg *
ds_msg_record(struct str key, struct str val)
{
	struct rd	 r = { val.p, val.len - 4, false };
	struct msg	*m;

	if (key.len != 12 || !ds_crc_ok(key, val) ||
	    rd_int(&r, 1) != DS_REC_VERSION)
		return (NULL);
	m = ds_decode_msg(&r);
	if (m != NULL && r.left != 0) {
		msg_unref(m);
		m = NULL;
	}
	return (m);
}

/* A "q/" record, or -1. */
static int
ds_entry_record(struct str key, struct str val, struct ds_sentry *e)
{
	struct rd	 r = { val.p, val.len - 4, false };

	uint8_t		 i;

	memset(e, 0, sizeof *e);
	if (key.len < 2 + 1 + 1 + 8 || key.p[key.len - 9] != 0 ||
	    val.len < DS_ENTRY_MIN || !ds_crc_ok(key, val) ||
	    rd_int(&r, 1) != DS_REC_VERSION)
		return (-1);
	e->pos = get_be(key.p + key.len - 8, 8);
	e->shard = (uint16_t)rd_int(&r, 2);
	e->qos = (uint8_t)rd_int(&r, 1);
	e->state = (uint8_t)rd_int(&r, 1);
	e->pid = (uint16_t)rd_int(&r, 2);
	e->flags = (uint8_t)rd_int(&r, 1);
	e->n_ids = (uint8_t)rd_int(&r, 1);
	if (r.bad || r.left != (size_t)e->n_ids * 4 || e->qos > 2 ||
	    e->state > QI_WAIT_COMP ||
	    (e->state != QI_QUEUED && e->pid == 0) || e->flags > 1 ||
	    (e->state == QI_WAIT_ACK && e->qos != 1) ||
	    (e->state >= QI_WAIT_REC && e->qos != 2))
		return (-1);
	if (e->n_ids != 0)
		e->ids = xreallocarray(NULL, e->n_ids, sizeof *e->ids);
	for (i = 0; i < e->n_ids; i++) {
		e->ids[i] = (uint32_t)rd_int(&r, 4);
		if (e->ids[i] == 0 || e->ids[i] > DS_SUB_ID_MAX) {
			free(e->ids);
			e->ids = NULL;
			return (-1);
		}
	}
	return (0);
}

/* Append an entry record for key. */
static void
ds_encode_entry(struct buf *b, struct str key, uint16_t shard, uint8_t qos,
    uint8_t state, uint16_t pid, bool retain, const uint32_t *ids,
    size_t n_ids)
{
	size_t	 off = buf_used(b), i;

	buf_add_u8(b, DS_REC_VERSION);
	buf_add_u16(b, shard);
	buf_add_u8(b, qos);
	buf_add_u8(b, state);
	buf_add_u16(b, pid);
	buf_add_u8(b, retain ? 1 : 0);
	buf_add_u8(b, (uint8_t)n_ids);
	for (i = 0; i < n_ids; i++)
		buf_add_u32(b, ids[i]);
	ds_add_crc(b, off, key);
}

/* The session record of s for key. */
static void
ds_encode_session(struct buf *b, struct str key, const struct session *s)
{
	const struct sub	*sub;
	size_t			 off = buf_used(b);
	uint16_t		 n = 0;
	uint32_t		 i;

	buf_add_u8(b, DS_REC_VERSION);
	buf_add_u8(b, s->version);
	buf_add_u32(b, s->expiry);
	ds_add_u64(b, s->conn != NULL ? 0 : s->detached_at);
	buf_add_u8(b, s->username != NULL ? 1 : 0);
	if (s->username != NULL) {
		buf_add_u16(b, (uint16_t)strlen(s->username));
		buf_add_str(b, STR(s->username));
	}
	for (sub = s->subs; sub != NULL; sub = sub->next) {
		if (sub->group.len == 0)
			n++;
	}
	buf_add_u16(b, n);
	for (sub = s->subs; sub != NULL; sub = sub->next) {
		if (sub->group.len != 0)
			continue;
		buf_add_u16(b, (uint16_t)strlen(sub->text));
		buf_add_str(b, STR(sub->text));
		buf_add_u8(b, sub->qos);
		buf_add_u8(b, (uint8_t)((sub->no_local ? 1 : 0) |
		    (sub->rap ? 2 : 0) | sub->rh << 2));
		buf_add_u32(b, sub->sub_id);
	}
	buf_add_u16(b, (uint16_t)s->n_awrel);
	for (i = 0; i < s->n_awrel; i++)
		buf_add_u16(b, s->awrel[i].pid);
	if (s->will == NULL)
		buf_add_u8(b, 0);
	else {
		buf_add_u8(b, 1);
		buf_add_u32(b, s->will->delay);
		ds_encode_msg(b, s->will->m);
	}
	ds_add_crc(b, off, key);
}

/* A session record decoded: the parts restore needs. */
struct ds_srec {
	uint8_t		 version;
	uint32_t	 expiry;
	uint64_t	 detached_at;
	bool		 has_user;
	struct str	 user;
	uint16_t	 n_subs;
	struct rd	 subs;		/* at the first subscription */
	uint16_t	 n_awrel;
	const uint8_t	*awrel;
	uint32_t	 will_delay;
	struct msg	*will;
};

/* One subscription of a record's list; false when bad. */
static bool
ds_srec_sub(struct rd *r, struct str *text, uint8_t *qos, uint8_t *opts,
    uint32_t *sub_id)
{
	struct str	 group, filter;

	*text = rd_str(r, 2);
	*qos = (uint8_t)rd_int(r, 1);
	*opts = (uint8_t)rd_int(r, 1);
	*sub_id = (uint32_t)rd_int(r, 4);
	return (!r->bad && *qos <= 2 && (*opts >> 2) <= 2 &&
	    topic_valid_filter(*text, 0) &&
	    topic_parse_share(*text, &group, &filter) == 0);
}

/* Decode a session record; -1 if bad.  Takes a will reference. */
static int
ds_session_record(struct str key, struct str val, struct ds_srec *sr)
{
	struct rd	 r = { val.p, val.len - 4, false };
	struct str	 text;
	uint8_t		 qos, opts;
	uint32_t	 sub_id;
	uint16_t	 i;

	memset(sr, 0, sizeof *sr);
	if (key.len <= 2 || !ds_crc_ok(key, val) ||
	    rd_int(&r, 1) != DS_REC_VERSION)
		return (-1);
	sr->version = (uint8_t)rd_int(&r, 1);
	sr->expiry = (uint32_t)rd_int(&r, 4);
	sr->detached_at = rd_int(&r, 8);
	sr->has_user = rd_int(&r, 1) != 0;
	if (sr->has_user)
		sr->user = rd_str(&r, 2);
	sr->n_subs = (uint16_t)rd_int(&r, 2);
	sr->subs = r;
	for (i = 0; i < sr->n_subs; i++) {
		if (!ds_srec_sub(&r, &text, &qos, &opts, &sub_id))
			return (-1);
	}
	sr->n_awrel = (uint16_t)rd_int(&r, 2);
	sr->awrel = rd_take(&r, (size_t)sr->n_awrel * 2);
	if (rd_int(&r, 1) != 0) {
		sr->will_delay = (uint32_t)rd_int(&r, 4);
		if (rd_int(&r, 1) != DS_REC_VERSION ||
		    (sr->will = ds_decode_msg(&r)) == NULL)
			return (-1);
	}
	if (r.bad || r.left != 0 || sr->version < MQTT_V31 ||
	    sr->version > MQTT_V5 || sr->expiry == 0) {
		msg_unref(sr->will);
		sr->will = NULL;
		return (-1);
	}
	return (0);
}

/* Whether a record decodes; see ds.h. */
bool
ds_record_ok(struct str key, struct str val)
{
	struct ds_srec	 sr;
	struct ds_sentry e;
	struct msg	*m;

	if (key.len < 2)
		return (false);
	if (memcmp(key.p, "m/", 2) == 0)
		return (true);
	if (memcmp(key.p, "s/", 2) == 0) {
		if (ds_session_record(key, val, &sr) != 0)
			return (false);
		msg_unref(sr.will);
		return (true);
	}
	if (memcmp(key.p, "q/", 2) == 0) {
		if (ds_entry_record(key, val, &e) != 0)
			return (false);
		free(e.ids);
		return (true);
	}
	if (memcmp(key.p, "d/", 2) == 0) {
		if ((m = ds_msg_record(key, val)) == NULL)
			return (false);
		msg_unref(m);
		return (true);
	}
	return (false);
}

/* True if durable sessions are on. */
bool
ds_enabled(void)
{
	return (ds_on);
}

/* ---- the worker side ---- */

/* This turn's batch of w. */
static struct ds_batch *
ds_cur(struct worker *w)
{
	if (w->ds_cur == NULL) {
		w->ds_cur = xcalloc(1, sizeof *w->ds_cur);
		w->ds_cur->worker = w->id;
		buf_init(&w->ds_cur->ops);
	}
	return (w->ds_cur);
}

/* Op header with a client id. */
static void
ds_op_cid(struct ds_batch *b, enum ds_op op, struct str cid)
{
	buf_add_u8(&b->ops, (uint8_t)op);
	buf_add_u16(&b->ops, (uint16_t)cid.len);
	buf_add_str(&b->ops, cid);
	b->n_ops++;
}

/* Compare hits by session id. */
static int
ds_hit_cmp(const void *a, const void *b)
{
	const struct ds_hit	*x = a, *y = b;

	return (x->sid < y->sid ? -1 : x->sid > y->sid);
}

/* Compare subscription identifiers. */
static int
ds_id_cmp(const void *a, const void *b)
{
	uint32_t	 x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y ? -1 : x > y);
}

struct ds_match {
	struct worker	*w;
	const struct msg *m;
};

/* Collect the durable subscriptions a topic matches. */
static void
ds_match_cb(struct str key, void *value, void *arg)
{
	struct ds_match	*dm = arg;
	struct worker	*w = dm->w;
	struct ds_route	*r;

	(void)key;
	for (r = value; r != NULL; r = r->next) {
		if (r->no_local && r->sid == dm->m->origin)
			continue;
		if (w->n_hits == w->cap_hits) {
			w->cap_hits = w->cap_hits == 0 ? 16 : w->cap_hits * 2;
			w->ds_hits = xreallocarray(w->ds_hits, w->cap_hits,
			    sizeof *w->ds_hits);
		}
		w->ds_hits[w->n_hits].sid = r->sid;
		w->ds_hits[w->n_hits].r = r;
		w->ds_hits[w->n_hits].qos = r->qos < dm->m->qos ? r->qos :
		    dm->m->qos;
		w->n_hits++;
	}
}

/* Store a message that durable sessions want; see ds.h. */
void
ds_publish(struct worker *w, struct msg *m)
{
	struct ds_match	 dm = { w, m };
	struct ds_batch	*b;
	struct ds_hit	*h;
	struct msg_ds	*md;
	size_t		 off, i, j, n;
	uint64_t	 pos;
	uint16_t	 shard;
	uint8_t		 kbuf[12];

	if (!ds_on || m->ds != NULL || (m->flags & MSG_F_SYS) ||
	    __atomic_load_n(&ds_index_n, __ATOMIC_ACQUIRE) == 0)
		return;
	w->n_hits = 0;
	pthread_rwlock_rdlock(&ds_index_lock);
	topic_trie_match(ds_index, msg_topic(m), ds_match_cb, &dm);
	if (w->n_hits == 0) {
		pthread_rwlock_unlock(&ds_index_lock);
		return;
	}
	qsort(w->ds_hits, w->n_hits, sizeof *w->ds_hits, ds_hit_cmp);
	for (i = 0, n = 0; i < w->n_hits; i++) {
		if (n == 0 || w->ds_hits[i].sid != w->ds_hits[n - 1].sid)
			n++;
	}
	pos = __atomic_fetch_add(&ds_next_pos, 1, __ATOMIC_RELAXED);
	shard = (uint16_t)(m->origin_hash %
	    (uint32_t)config->durable_storage_messages_n_shards);
	b = ds_cur(w);
	buf_add_u8(&b->ops, DS_OP_MSG);
	ds_add_u64(&b->ops, pos);
	buf_add_u16(&b->ops, shard);
	off = buf_used(&b->ops) + 4;
	buf_add_u32(&b->ops, 0);	/* length, filled below */
	ds_encode_msg(&b->ops, m);
	ds_add_crc(&b->ops, off, ds_key_msg(kbuf, shard, pos));
	ds_patch_len(&b->ops, off);
	b->n_ops++;
	b->n_msgs++;
	md = xmalloc(sizeof *md + n * sizeof md->sids[0]);
	md->id = pos;
	md->shard = shard;
	md->n = (uint32_t)n;
	/* One entry per session: the highest QoS of its matching
	 * subscriptions and every identifier they carry (MQTT-3.3.4-3). */
	for (i = 0, n = 0; i < w->n_hits; i = j) {
		struct str	 cid;
		uint32_t	 ids[255];
		size_t		 n_ids = 0;
		uint8_t		 qos = 0;
		bool		 rap = false;

		h = &w->ds_hits[i];
		for (j = i; j < w->n_hits && w->ds_hits[j].sid == h->sid;
		    j++) {
			if (w->ds_hits[j].qos > qos)
				qos = w->ds_hits[j].qos;
			rap = rap || w->ds_hits[j].r->rap;
			if (w->ds_hits[j].r->sub_id != 0 && n_ids < 255)
				ids[n_ids++] = w->ds_hits[j].r->sub_id;
		}
		qsort(ids, n_ids, sizeof ids[0], ds_id_cmp);
		md->sids[n++] = h->sid;
		cid = STR(h->r->cid);
		ds_op_cid(b, DS_OP_QNEW, cid);
		ds_add_u64(&b->ops, pos);
		off = buf_used(&b->ops) + 4;
		buf_add_u32(&b->ops, 0);
		ds_encode_entry(&b->ops, ds_key_entry(&w->ds_key, cid, pos),
		    shard, qos, QI_QUEUED, 0, rap && m->retain, ids, n_ids);
		ds_patch_len(&b->ops, off);
	}
	pthread_rwlock_unlock(&ds_index_lock);
	m->ds = md;
	METRIC_INC(&w->metrics, MESSAGES_PERSISTED);
}

/* Whether s has an entry for m; see ds.h. */
bool
ds_has_entry(const struct session *s, const struct msg *m)
{
	const struct msg_ds	*md = m->ds;
	uint32_t		 lo = 0, hi, mid;

	if (md == NULL || !s->durable)
		return (false);
	hi = md->n;
	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (md->sids[mid] == s->sid)
			return (true);
		if (md->sids[mid] < s->sid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (false);
}

/* Hold a connection's output; see ds.h. */
void
ds_hold(struct conn *c)
{
	struct worker	*w = c->w;

	ds_cur(w)->sync = true;
	c->hold_seq = w->ds_seq;
	if (c->hold_idx != 0)
		return;
	c->tx_ok = (uint32_t)buf_used(&c->tx);
	if (w->n_held == w->cap_held) {
		w->cap_held = w->cap_held == 0 ? 16 : w->cap_held * 2;
		w->held = xreallocarray(w->held, w->cap_held, sizeof *w->held);
	}
	w->held[w->n_held++] = c;
	c->hold_idx = w->n_held;
}

/* Forget a freed conn's hold. */
void
ds_conn_free(struct conn *c)
{
	if (c->hold_idx != 0)
		c->w->held[c->hold_idx - 1] = NULL;
	c->hold_idx = 0;
}

/* Mark a session dirty; see ds.h. */
void
ds_session_dirty(struct session *s, bool hold)
{
	struct worker	*w = s->w;

	if (!s->durable)
		return;
	if (!s->ds_dirty) {
		s->ds_dirty = true;
		if (w->n_dirty == w->cap_dirty) {
			w->cap_dirty = w->cap_dirty == 0 ? 16 :
			    w->cap_dirty * 2;
			w->ds_dirty = xreallocarray(w->ds_dirty, w->cap_dirty,
			    sizeof *w->ds_dirty);
		}
		w->ds_dirty[w->n_dirty++] = s->sid;
	}
	ds_cur(w);
	if (hold && s->conn != NULL)
		ds_hold(s->conn);
}

/* A durable session ended. */
void
ds_session_del(struct session *s)
{
	if (!s->durable)
		return;
	ds_op_cid(ds_cur(s->w), DS_OP_SDEL, STR(s->client_id));
}

/* Write an item's entry; see ds.h. */
void
ds_item_put(struct session *s, const struct qitem *qi, bool hold)
{
	struct ds_batch	*b;
	struct str	 cid = STR(s->client_id);
	size_t		 off;

	if (qi->ds_id == 0)
		return;
	b = ds_cur(s->w);
	ds_op_cid(b, DS_OP_QPUT, cid);
	ds_add_u64(&b->ops, qi->ds_id);
	off = buf_used(&b->ops) + 4;
	buf_add_u32(&b->ops, 0);
	ds_encode_entry(&b->ops, ds_key_entry(&s->w->ds_key, cid, qi->ds_id),
	    qi->ds_shard, qi->qos, qi->state, qi->pid, qi->retain,
	    qi->n_ids == 1 ? &qi->id : qi->ids, qi->n_ids);
	ds_patch_len(&b->ops, off);
	if (hold && s->conn != NULL)
		ds_hold(s->conn);
}

/* Delete an item's entry; see ds.h. */
void
ds_item_del(struct session *s, struct qitem *qi)
{
	struct ds_batch	*b;

	if (qi->ds_id == 0)
		return;
	b = ds_cur(s->w);
	ds_op_cid(b, DS_OP_QDEL, STR(s->client_id));
	ds_add_u64(&b->ops, qi->ds_id);
	qi->ds_id = 0;
}

/* Add a durable subscription to the index. */
void
ds_sub_add(struct session *s, const struct sub *sub)
{
	struct ds_route	*r, **slot;

	if (!s->durable || sub->group.len != 0)
		return;
	r = xcalloc(1, sizeof *r);
	r->sid = s->sid;
	r->cid = xstrdup(s->client_id);
	r->qos = sub->qos;
	r->no_local = sub->no_local;
	r->rap = sub->rap;
	r->sub_id = sub->sub_id;
	pthread_rwlock_wrlock(&ds_index_lock);
	slot = (struct ds_route **)topic_trie_slot(ds_index, sub->filter);
	r->next = *slot;
	*slot = r;
	__atomic_add_fetch(&ds_index_n, 1, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&ds_index_lock);
}

/* Remove a durable subscription from the index. */
void
ds_sub_del(struct session *s, const struct sub *sub)
{
	struct ds_route	*r, **pp, **slot;

	if (!s->durable || sub->group.len != 0)
		return;
	pthread_rwlock_wrlock(&ds_index_lock);
	slot = (struct ds_route **)topic_trie_slot(ds_index, sub->filter);
	for (pp = slot; (r = *pp) != NULL; pp = &r->next) {
		if (r->sid == s->sid)
			break;
	}
	if (r != NULL) {
		*pp = r->next;
		free(r->cid);
		free(r);
		__atomic_sub_fetch(&ds_index_n, 1, __ATOMIC_RELEASE);
	}
	if (*slot == NULL)
		topic_trie_remove(ds_index, sub->filter);
	pthread_rwlock_unlock(&ds_index_lock);
}

/* Hand a batch to the storage thread. */
static void
ds_submit(struct ds_batch *b)
{
	pthread_mutex_lock(&ds_mtx);
	b->next = NULL;
	if (ds_tail != NULL)
		ds_tail->next = b;
	else
		ds_head = b;
	ds_tail = b;
	ds_queued_msgs += b->n_msgs;
	pthread_cond_signal(&ds_cond);
	pthread_mutex_unlock(&ds_mtx);
}

/* Write dirty sessions, submit the batch; see ds.h. */
void
ds_before_sleep(struct worker *w)
{
	struct ds_batch	*b;
	struct session	*s;
	struct str	 key;
	size_t		 off;
	uint32_t	 i;

	if (w->ds_cur == NULL)
		return;
	b = w->ds_cur;
	for (i = 0; i < w->n_dirty; i++) {
		if ((s = session_by_sid(w, w->ds_dirty[i])) == NULL)
			continue;
		s->ds_dirty = false;
		ds_op_cid(b, DS_OP_SPUT, STR(s->client_id));
		off = buf_used(&b->ops) + 4;
		buf_add_u32(&b->ops, 0);
		key = ds_key_session(&w->ds_key, STR(s->client_id));
		ds_encode_session(&b->ops, key, s);
		ds_patch_len(&b->ops, off);
	}
	w->n_dirty = 0;
	w->ds_cur = NULL;
	b->seq = w->ds_seq++;
	b->hdr.kind = INBOX_DS;
	ds_submit(b);
}

/* A batch is back: release or fail the connections it held. */
void
ds_done_in(struct worker *w, struct inbox_item *it)
{
	struct ds_batch	*b = (struct ds_batch *)it;
	struct conn	*c;
	uint32_t	 i, n = 0;

	for (i = 0; i < w->n_held; i++) {
		if ((c = w->held[i]) == NULL)
			continue;
		if ((int32_t)(c->hold_seq - b->seq) > 0) {
			w->held[n++] = c;
			c->hold_idx = n;
			continue;
		}
		c->hold_idx = 0;
		if (!b->failed) {
			if (buf_used(&c->tx) != 0)
				conn_want_flush(c);
			continue;
		}
		/* What waited must not be sent: it says "stored". */
		buf_truncate(&c->tx, c->tx.off + c->tx_ok);
		if (c->state == CONN_S_OPEN)
			proto_disconnect(c, MQTT_RC_QUOTA_EXCEEDED,
			    "storage failed (see the store's log line)");
		else
			conn_close(c, "storage failed");
	}
	w->n_held = n;
	if (b->failed)
		METRIC_INC(&w->metrics, DS_BATCHES_FAILED);
	buf_release(&b->ops);
	free(b);
}

/* Free a worker's storage state. */
void
ds_worker_release(struct worker *w)
{
	if (w->ds_cur != NULL) {
		buf_release(&w->ds_cur->ops);
		free(w->ds_cur);
		w->ds_cur = NULL;
	}
	buf_release(&w->ds_key);
	free(w->ds_dirty);
	free(w->held);
	free(w->ds_hits);
	w->ds_dirty = NULL;
	w->held = NULL;
	w->ds_hits = NULL;
}

/* ---- the storage thread ---- */

/* The count of a stored message, or NULL. */
static struct ds_count *
ds_count_get(uint64_t pos)
{
	return (hmap_get(&ds_counts, (struct str){ (const uint8_t *)&pos,
	    sizeof pos }));
}

/* Add a count for a new stored message. */
static struct ds_count *
ds_count_new(uint64_t pos, uint16_t shard)
{
	struct ds_count	*c;

	c = xcalloc(1, sizeof *c);
	c->pos = pos;
	c->shard = shard;
	hmap_put(&ds_counts, (struct str){ (const uint8_t *)&c->pos,
	    sizeof c->pos }, c);
	return (c);
}

/* One entry fewer for pos: delete the message with its last one. */
static void
ds_count_drop(struct store_batch *sb, uint64_t pos)
{
	struct ds_count	*c;
	uint8_t		 k[12];

	if ((c = ds_count_get(pos)) == NULL)
		return;
	if (c->n > 1) {
		c->n--;
		return;
	}
	store_batch_del(sb, ds_key_msg(k, c->shard, pos));
	hmap_del(&ds_counts, (struct str){ (const uint8_t *)&pos,
	    sizeof pos });
	free(c);
}

/* Free every count. */
static void
ds_counts_clear(void)
{
	struct hmap_ent	*e;
	size_t		 i = 0;
	struct ds_count	**all;
	size_t		 n = 0, k;

	all = xcalloc(ds_counts.n + 1, sizeof *all);
	for (e = hmap_next(&ds_counts, &i, NULL); e != NULL;
	    e = hmap_next(&ds_counts, &i, e))
		all[n++] = e->val;
	for (k = 0; k < n; k++)
		free(all[k]);
	free(all);
	hmap_release(&ds_counts);
	hmap_init(&ds_counts);
}

struct ds_sdel {
	struct store_batch *sb;
	uint64_t	 n;
};

/* Delete one entry of an ended session. */
static int
ds_sdel_cb(struct str key, struct str val, void *arg)
{
	struct ds_sdel	*sd = arg;

	(void)val;
	store_batch_del(sd->sb, key);
	if (key.len >= 8)
		ds_count_drop(sd->sb, get_be(key.p + key.len - 8, 8));
	sd->n++;
	return (0);
}

/* Apply one batch's ops to sb; false when a write failed. */
static bool
ds_apply(struct ds_batch *b, struct store_batch *sb)
{
	struct rd	 r = { buf_head(&b->ops), buf_used(&b->ops), false };
	struct ds_count	*c;
	struct ds_sdel	 sd;
	struct buf	 kb;
	struct str	 cid, rec;
	uint64_t	 pos;
	uint16_t	 shard;
	uint8_t		 k[12];
	char		*cause = NULL;
	bool		 ok = true;
	uint32_t	 i;
	enum ds_op	 op;

	buf_init(&kb);
	for (i = 0; i < b->n_ops && !r.bad; i++) {
		switch ((op = (enum ds_op)rd_int(&r, 1))) {
		case DS_OP_MSG:
			pos = rd_int(&r, 8);
			shard = (uint16_t)rd_int(&r, 2);
			rec = rd_str(&r, 4);
			store_batch_put(sb, ds_key_msg(k, shard, pos), rec);
			ds_count_new(pos, shard);
			break;
		case DS_OP_QNEW:
		case DS_OP_QPUT:
			cid = rd_str(&r, 2);
			pos = rd_int(&r, 8);
			rec = rd_str(&r, 4);
			if (r.bad)
				break;
			store_batch_put(sb, ds_key_entry(&kb, cid, pos), rec);
			if (op == DS_OP_QNEW && (c = ds_count_get(pos)) != NULL)
				c->n++;
			break;
		case DS_OP_QDEL:
			cid = rd_str(&r, 2);
			pos = rd_int(&r, 8);
			store_batch_del(sb, ds_key_entry(&kb, cid, pos));
			ds_count_drop(sb, pos);
			break;
		case DS_OP_SPUT:
			cid = rd_str(&r, 2);
			rec = rd_str(&r, 4);
			store_batch_put(sb, ds_key_session(&kb, cid), rec);
			break;
		case DS_OP_SDEL:
			cid = rd_str(&r, 2);
			store_batch_del(sb, ds_key_session(&kb, cid));
			/* The entries the scan must see are written first. */
			if (!store_batch_empty(sb) &&
			    store_batch_write(sb, false, &cause) != 0) {
				ok = false;
				break;
			}
			buf_truncate(&kb, 0);
			buf_add_str(&kb, STR("q/"));
			buf_add_str(&kb, cid);
			buf_add_u8(&kb, 0);
			sd.sb = sb;
			sd.n = 0;
			if (store_scan((struct str){ buf_head(&kb),
			    buf_used(&kb) }, ds_sdel_cb, &sd, &cause) != 0)
				ok = false;
			break;
		default:
			r.bad = true;
			break;
		}
	}
	buf_release(&kb);
	if (cause != NULL) {
		log_warn("ds: %s", cause);
		free(cause);
	}
	if (r.bad)
		log_warn("ds: a batch from worker %u does not decode",
		    b->worker);
	return (ok && !r.bad);
}

/* Milliseconds of a monotonic clock. */
static uint64_t
ds_mono_ms(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Commit a list of batches with one write; hand them back. */
static void
ds_commit(struct ds_batch *list, struct store_batch *sb)
{
	static uint64_t	 last_reopen;
	struct ds_batch	*b, *next;
	char		*cause = NULL;
	bool		 ok = true, sync = false;
	uint64_t	 now;

	if (!store_writable()) {
		/* No write may follow a failed one on the same LevelDB
		 * handle (store.c): open it again first, at once after the
		 * failure, then at most every idle_poll_interval. */
		now = ds_mono_ms();
		if (last_reopen == 0 || now - last_reopen >=
		    (uint64_t)config->durable_sessions_idle_poll_interval) {
			last_reopen = now;
			if (store_reopen(&cause) != 0) {
				log_warn("ds: %s", cause);
				free(cause);
				cause = NULL;
			}
		}
	}
	for (b = list; b != NULL; b = b->next) {
		sync = sync || b->sync;
		if (ok && !ds_apply(b, sb))
			ok = false;
	}
	if (ok && !store_batch_empty(sb) &&
	    store_batch_write(sb, sync, &cause) != 0)
		ok = false;
	else if (!ok)
		(void)store_batch_write(sb, false, &cause);
	if (!ok && !ds_failing) {
		log_err("ds: cannot write to the store: %s; publishes that "
		    "need storage are refused (MQTT 5: DISCONNECT 0x97 quota "
		    "exceeded; 3.1.1: no acknowledgement) until it works "
		    "again", cause != NULL ? cause : "write failed");
		ds_failing = true;
		last_reopen = 0;
	} else if (ok && ds_failing) {
		log_info("ds: the store takes writes again");
		ds_failing = false;
	}
	free(cause);
	for (b = list; b != NULL; b = next) {
		next = b->next;
		b->failed = !ok;
		if (ds_detached) {
			buf_release(&b->ops);
			free(b);
		} else
			worker_post(workers[b->worker], &b->hdr);
	}
}

/* Write m/heartbeat: now, for expiry after a crash. */
static void
ds_heartbeat(void)
{
	uint8_t		 v[8];
	uint64_t	 now = now_ms();
	char		*cause = NULL;
	int		 i;

	for (i = 0; i < 8; i++)
		v[i] = (uint8_t)(now >> (56 - 8 * i));
	if (store_put(STR("m/heartbeat"), (struct str){ v, 8 }, false,
	    &cause) != 0) {
		log_debug("ds: heartbeat: %s", cause);
		free(cause);
	}
}

struct ds_gc {
	struct hmap	 sessions;	/* client ids with a record */
	struct hmap	 counts;	/* pos -> ds_count, recounted */
	struct store_batch *sb;
	uint64_t	 entries, messages;
	uint32_t	 pending;
};

/* Write the sweep's deletes every session_gc_batch_size of them. */
static void
ds_gc_flush(struct ds_gc *g, bool force)
{
	char		*cause = NULL;
	uint32_t	 max;

	max = (uint32_t)config->durable_sessions_session_gc_batch_size;
	if (++g->pending < max && !force)
		return;
	g->pending = 0;
	if (!store_batch_empty(g->sb) &&
	    store_batch_write(g->sb, false, &cause) != 0) {
		log_warn("ds: gc: %s", cause);
		free(cause);
	}
}

/* Note a session's client id. */
static int
ds_gc_session_cb(struct str key, struct str val, void *arg)
{
	struct ds_gc	*g = arg;
	char		*cid;

	(void)val;
	cid = xmemdup(key.p + 2, key.len - 2);
	hmap_put(&g->sessions, (struct str){ (uint8_t *)cid, key.len - 2 },
	    cid);
	return (0);
}

/* Keep an entry of a known session (counting it), delete an orphan. */
static int
ds_gc_entry_cb(struct str key, struct str val, void *arg)
{
	struct ds_gc	*g = arg;
	struct ds_count	*c;
	uint64_t	 pos;

	(void)val;
	if (key.len < 2 + 1 + 8 ||
	    hmap_get(&g->sessions, (struct str){ key.p + 2,
	    key.len - 2 - 9 }) == NULL) {
		store_batch_del(g->sb, key);
		g->entries++;
		ds_gc_flush(g, false);
		return (0);
	}
	pos = get_be(key.p + key.len - 8, 8);
	c = hmap_get(&g->counts, (struct str){ (const uint8_t *)&pos,
	    sizeof pos });
	if (c == NULL) {
		c = xcalloc(1, sizeof *c);
		c->pos = pos;
		hmap_put(&g->counts, (struct str){ (const uint8_t *)&c->pos,
		    sizeof c->pos }, c);
	}
	c->n++;
	return (0);
}

/* Delete a message nothing references. */
static int
ds_gc_msg_cb(struct str key, struct str val, void *arg)
{
	struct ds_gc	*g = arg;
	struct ds_count	*c = NULL;
	uint64_t	 pos;

	(void)val;
	if (key.len == 12) {
		pos = get_be(key.p + 4, 8);
		c = hmap_get(&g->counts, (struct str){ (const uint8_t *)&pos,
		    sizeof pos });
	}
	if (c == NULL) {
		store_batch_del(g->sb, key);
		g->messages++;
		ds_gc_flush(g, false);
	} else
		c->shard = (uint16_t)get_be(key.p + 2, 2);
	return (0);
}

/* The sweep: orphan entries, unreferenced messages, then compaction. */
static void
ds_gc(void)
{
	struct ds_gc	 g;
	struct hmap_ent	*e;
	size_t		 i = 0;
	char		*cause = NULL;

	memset(&g, 0, sizeof g);
	hmap_init(&g.sessions);
	hmap_init(&g.counts);
	g.sb = store_batch_new();
	if (store_scan(STR("s/"), ds_gc_session_cb, &g, &cause) != 0 ||
	    store_scan(STR("q/"), ds_gc_entry_cb, &g, &cause) != 0 ||
	    store_scan(STR("d/"), ds_gc_msg_cb, &g, &cause) != 0) {
		log_warn("ds: gc: %s", cause);
		free(cause);
		store_batch_free(g.sb);
		g.sb = NULL;
	} else {
		ds_gc_flush(&g, true);
		store_batch_free(g.sb);
		/* The recount replaces the running one. */
		ds_counts_clear();
		for (e = hmap_next(&g.counts, &i, NULL); e != NULL;
		    e = hmap_next(&g.counts, &i, e)) {
			struct ds_count	*c = e->val;

			hmap_put(&ds_counts, (struct str){
			    (const uint8_t *)&c->pos, sizeof c->pos }, c);
		}
		hmap_release(&g.counts);
		hmap_init(&g.counts);
		if (g.entries + g.messages != 0) {
			store_compact(STR("d/"), STR("d0"));
			store_compact(STR("q/"), STR("q0"));
			log_info("ds: gc deleted %llu messages and %llu queue "
			    "entries that nothing referenced",
			    (unsigned long long)g.messages,
			    (unsigned long long)g.entries);
		}
	}
	i = 0;
	for (e = hmap_next(&g.sessions, &i, NULL); e != NULL;
	    e = hmap_next(&g.sessions, &i, e))
		free(e->val);
	hmap_release(&g.sessions);
	i = 0;
	for (e = hmap_next(&g.counts, &i, NULL); e != NULL;
	    e = hmap_next(&g.counts, &i, e))
		free(e->val);
	hmap_release(&g.counts);
}

/* The storage thread: group commit, heartbeat, GC. */
static void *
ds_main(void *arg)
{
	struct store_batch *sb = store_batch_new();
	struct ds_batch	*list, **tailp, *b;
	struct timespec	 ts;
	uint64_t	 now, next_hb, next_gc, first_at = 0, wake, wait_ms;
	uint32_t	 msgs;
	uint32_t	 max = (uint32_t)config->durable_sessions_batch_size;
	uint64_t	 hb = (uint64_t)
	    config->durable_sessions_heartbeat_interval;
	uint64_t	 gc = (uint64_t)
	    config->durable_sessions_session_gc_interval;
	uint64_t	 flush = (uint64_t)
	    config->durable_storage_messages_flush_interval;

	(void)arg;
	now = ds_mono_ms();
	next_hb = now;
	next_gc = now + gc;
	pthread_mutex_lock(&ds_mtx);
	for (;;) {
		now = ds_mono_ms();
		if (ds_head == NULL)
			first_at = 0;
		else if (first_at == 0)
			first_at = now;
		/* Group commit: take what waits now, unless a flush
		 * deadline asks to wait for batch_size messages. */
		if (ds_head == NULL || (flush != 0 && !ds_stop &&
		    ds_queued_msgs < max && now < first_at + flush)) {
			wake = UINT64_MAX;
			if (hb != 0)
				wake = next_hb;
			if (gc != 0 && next_gc < wake)
				wake = next_gc;
			if (ds_head != NULL && first_at + flush < wake)
				wake = first_at + flush;
			if (ds_stop && ds_head == NULL)
				break;
			if (wake <= now)
				goto timers;
			wait_ms = wake == UINT64_MAX ? 3600 * 1000 :
			    wake - now;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += (time_t)(wait_ms / 1000);
			ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&ds_cond, &ds_mtx, &ts);
			continue;
		}
		list = NULL;
		tailp = &list;
		msgs = 0;
		while ((b = ds_head) != NULL && (list == NULL ||
		    msgs + b->n_msgs <= max)) {
			ds_head = b->next;
			msgs += b->n_msgs;
			*tailp = b;
			tailp = &b->next;
		}
		*tailp = NULL;
		if (ds_head == NULL)
			ds_tail = NULL;
		ds_queued_msgs -= msgs;
		first_at = 0;
		pthread_mutex_unlock(&ds_mtx);
		ds_commit(list, sb);
		pthread_mutex_lock(&ds_mtx);
timers:
		now = ds_mono_ms();
		if ((hb != 0 && now >= next_hb) ||
		    (gc != 0 && now >= next_gc)) {
			bool	 do_hb = hb != 0 && now >= next_hb;
			bool	 do_gc = gc != 0 && now >= next_gc;

			pthread_mutex_unlock(&ds_mtx);
			if (do_hb) {
				ds_heartbeat();
				next_hb = now + hb;
			}
			if (do_gc) {
				ds_gc();
				next_gc = ds_mono_ms() + gc;
			}
			pthread_mutex_lock(&ds_mtx);
		}
	}
	pthread_mutex_unlock(&ds_mtx);
	store_batch_free(sb);
	return (NULL);
}

/* ---- start-up ---- */

struct ds_loaded_msg {
	uint64_t	 pos;
	struct msg	*m;		/* NULL until its "d/" is read */
};

struct ds_load {
	struct hmap	 saved;		/* client id -> ds_saved */
	struct hmap	 msgs;		/* pos -> msg, while loading */
	struct store_batch *sb;
	char		*bad;
	const char	*what;
	uint64_t	 max_pos;
	uint64_t	 n_sessions, n_entries, n_msgs, orphans, dropped;
};

/* Note a damaged record's key. */
static int
ds_load_bad(struct ds_load *ld, struct str key, const char *what)
{
	size_t	 i, n = key.len > 120 ? 120 : key.len;
	char	*p;

	p = xmalloc(n * 4 + 1);
	ld->bad = p;
	for (i = 0; i < n; i++) {
		if (key.p[i] >= 0x20 && key.p[i] < 0x7f)
			*p++ = (char)key.p[i];
		else
			p += sprintf(p, "\\x%02x", key.p[i]);
	}
	*p = '\0';
	ld->what = what;
	return (-1);
}

/* A session record. */
static int
ds_load_session_cb(struct str key, struct str val, void *arg)
{
	struct ds_load	*ld = arg;
	struct ds_saved	*sv;
	struct ds_srec	 sr;

	if (ds_session_record(key, val, &sr) != 0)
		return (ds_load_bad(ld, key, "durable session"));
	msg_unref(sr.will);
	if (!ds_on) {
		store_batch_del(ld->sb, key);
		ld->dropped++;
		return (0);
	}
	sv = xcalloc(1, sizeof *sv);
	sv->cid = xmemdup(key.p + 2, key.len - 2 + 1);
	sv->cid[key.len - 2] = '\0';
	sv->rec = xmemdup(val.p, val.len);
	sv->rec_len = val.len;
	sv->next = ds_loaded;
	ds_loaded = sv;
	hmap_put(&ld->saved, (struct str){ (uint8_t *)sv->cid,
	    key.len - 2 }, sv);
	ld->n_sessions++;
	return (0);
}

/* A queue entry. */
static int
ds_load_entry_cb(struct str key, struct str val, void *arg)
{
	struct ds_load	*ld = arg;
	struct ds_saved	*sv = NULL;
	struct ds_sentry e;

	if (ds_entry_record(key, val, &e) != 0)
		return (ds_load_bad(ld, key, "durable queue entry"));
	if (e.pos >= ld->max_pos)
		ld->max_pos = e.pos + 1;
	sv = hmap_get(&ld->saved, (struct str){ key.p + 2, key.len - 2 - 9 });
	if (sv == NULL) {
		store_batch_del(ld->sb, key);
		ld->orphans++;
		free(e.ids);
		return (0);
	}
	if (sv->n_e == sv->cap_e) {
		sv->cap_e = sv->cap_e == 0 ? 8 : sv->cap_e * 2;
		sv->e = xreallocarray(sv->e, sv->cap_e, sizeof *sv->e);
	}
	sv->e[sv->n_e++] = e;
	if (hmap_get(&ld->msgs, (struct str){ (const uint8_t *)&e.pos,
	    sizeof e.pos }) == NULL) {
		struct ds_loaded_msg	*lm = xcalloc(1, sizeof *lm);

		lm->pos = e.pos;
		hmap_put(&ld->msgs, (struct str){ (const uint8_t *)&lm->pos,
		    sizeof lm->pos }, lm);
	}
	ld->n_entries++;
	return (0);
}

/* A stored message: keep it if an entry wants it. */
static int
ds_load_msg_cb(struct str key, struct str val, void *arg)
{
	struct ds_load		*ld = arg;
	struct ds_loaded_msg	*lm;
	uint64_t		 pos;
	struct msg		*m;

	if (key.len != 12 || (m = ds_msg_record(key, val)) == NULL)
		return (ds_load_bad(ld, key, "durable message"));
	pos = get_be(key.p + 4, 8);
	if (pos >= ld->max_pos)
		ld->max_pos = pos + 1;
	lm = hmap_get(&ld->msgs, (struct str){ (const uint8_t *)&pos,
	    sizeof pos });
	if (lm == NULL) {
		msg_unref(m);
		store_batch_del(ld->sb, key);
		ld->orphans++;
		return (0);
	}
	m->ds = xcalloc(1, sizeof *m->ds);
	m->ds->id = pos;
	m->ds->shard = (uint16_t)get_be(key.p + 2, 2);
	lm->m = m;
	ld->n_msgs++;
	return (0);
}

/* Attach messages to entries; count references; drop what lost its
 * message (an entry with a message to send and no message). */
static void
ds_load_attach(struct ds_load *ld)
{
	struct ds_saved		*sv;
	struct ds_loaded_msg	*lm;
	struct ds_count		*c;
	struct buf		 kb;
	size_t			 i, n;

	buf_init(&kb);
	for (sv = ds_loaded; sv != NULL; sv = sv->next) {
		for (i = 0, n = 0; i < sv->n_e; i++) {
			struct ds_sentry *e = &sv->e[i];

			lm = hmap_get(&ld->msgs, (struct str){
			    (const uint8_t *)&e->pos, sizeof e->pos });
			if (lm != NULL && lm->m != NULL)
				e->m = msg_ref(lm->m);
			else if (e->state != QI_WAIT_COMP) {
				store_batch_del(ld->sb, ds_key_entry(&kb,
				    STR(sv->cid), e->pos));
				ld->dropped++;
				free(e->ids);
				continue;
			}
			if ((c = ds_count_get(e->pos)) == NULL)
				c = ds_count_new(e->pos, e->shard);
			c->n++;
			sv->e[n++] = *e;
		}
		sv->n_e = n;
	}
	buf_release(&kb);
}

static uint64_t		 ds_heartbeat_at;	/* read at start-up */

/* Load and start; see ds.h. */
int
ds_init(char **cause)
{
	struct ds_load		 ld;
	struct hmap_ent		*e;
	struct str		 hb;
	size_t			 i = 0;
	char			*err = NULL;
	int			 rv = -1;

	ds_on = config->durable_sessions_enable;
	ds_index = topic_trie_new();
	hmap_init(&ds_counts);
	memset(&ld, 0, sizeof ld);
	hmap_init(&ld.saved);
	hmap_init(&ld.msgs);
	ld.sb = store_batch_new();
	ld.max_pos = 1;
	if (store_get(STR("m/heartbeat"), &hb, &err) == 1) {
		if (hb.len == 8)
			ds_heartbeat_at = get_be(hb.p, 8);
		free((void *)hb.p);
	}
	free(err);
	err = NULL;
	if (store_scan(STR("s/"), ds_load_session_cb, &ld, &err) != 0 ||
	    store_scan(STR("q/"), ds_load_entry_cb, &ld, &err) != 0 ||
	    store_scan(STR("d/"), ds_load_msg_cb, &ld, &err) != 0) {
		if (ld.bad != NULL && err == NULL)
			xasprintf(cause, "store: the %s record '%s' is damaged "
			    "(it does not decode); run 'flockmq store repair' "
			    "with the same configuration to drop it and keep "
			    "the rest", ld.what, ld.bad);
		else
			*cause = TAKE(err);
		goto out;
	}
	ds_load_attach(&ld);
	if (!store_batch_empty(ld.sb) &&
	    store_batch_write(ld.sb, true, &err) != 0) {
		xasprintf(cause, "store: cannot write: %s", err);
		free(err);
		goto out;
	}
	ds_next_pos = ld.max_pos;
	if (ld.dropped != 0 && !ds_on)
		log_info("ds: durable_sessions.enable is false: %llu stored "
		    "sessions deleted", (unsigned long long)ld.dropped);
	else if (ld.dropped != 0)
		log_warn("ds: %llu queue entries had lost their message and "
		    "were deleted", (unsigned long long)ld.dropped);
	if (ld.orphans != 0)
		log_info("ds: %llu records of ended sessions deleted",
		    (unsigned long long)ld.orphans);
	log_info("ds: %s; %llu durable sessions, %llu queued messages "
	    "(%llu distinct) loaded", ds_on ? "durable sessions on "
	    "(builtin_local)" : "durable sessions off",
	    (unsigned long long)ld.n_sessions,
	    (unsigned long long)ld.n_entries, (unsigned long long)ld.n_msgs);
	if (pthread_create(&ds_thread, NULL, ds_main, NULL) != 0) {
		xasprintf(cause, "ds: cannot start the storage thread");
		goto out;
	}
	ds_thread_started = true;
	rv = 0;
out:
	for (e = hmap_next(&ld.msgs, &i, NULL); e != NULL;
	    e = hmap_next(&ld.msgs, &i, e)) {
		struct ds_loaded_msg *lm = e->val;

		msg_unref(lm->m);
		free(lm);
	}
	hmap_release(&ld.msgs);
	hmap_release(&ld.saved);
	store_batch_free(ld.sb);
	free(ld.bad);
	return (rv);
}

/* Recreate one stored session on its worker. */
static void
ds_restore_one(struct worker *w, struct ds_saved *sv)
{
	struct ds_srec	 sr;
	struct session	*s;
	struct str	 text, group, filter, key;
	struct qitem	 qi;
	struct buf	 kb;
	uint8_t		 qos, opts;
	uint32_t	 sub_id;
	struct sub	*sub;
	bool		 existed, excl;
	size_t		 i;

	buf_init(&kb);
	key = ds_key_session(&kb, STR(sv->cid));
	if (ds_session_record(key, (struct str){ sv->rec, sv->rec_len },
	    &sr) != 0) {
		buf_release(&kb);
		return;
	}
	buf_release(&kb);
	s = session_new(w, STR(sv->cid));
	s->durable = true;
	METRIC_INC(&w->metrics, SESSIONS_DURABLE_COUNT);
	s->version = sr.version;
	s->expiry = sr.expiry;
	s->detached_at = sr.detached_at != 0 ? sr.detached_at :
	    ds_heartbeat_at != 0 ? ds_heartbeat_at : now_ms();
	if (sr.has_user)
		s->username = str_dup(sr.user);
	for (i = 0; i < sr.n_subs; i++) {
		(void)ds_srec_sub(&sr.subs, &text, &qos, &opts, &sub_id);
		group = (struct str){ NULL, 0 };
		filter = text;
		excl = filter.len > 11 &&
		    memcmp(filter.p, "$exclusive/", 11) == 0;
		if (excl) {
			filter.p += 11;
			filter.len -= 11;
		}
		sub = session_subscribe(s, text, group, filter, qos,
		    (opts & 1) != 0, (opts & 2) != 0, opts >> 2, sub_id,
		    &existed);
		sub->exclusive = excl &&
		    router_exclusive_take(filter, s->sid) == 0;
	}
	for (i = 0; i < sr.n_awrel; i++)
		(void)session_awrel_add(s, (uint16_t)get_be(sr.awrel + 2 * i,
		    2));
	if (sr.will != NULL)
		session_set_will(s, TAKE(sr.will), sr.will_delay);
	for (i = 0; i < sv->n_e; i++) {
		struct ds_sentry *e = &sv->e[i];

		memset(&qi, 0, sizeof qi);
		qi.m = TAKE(e->m);
		if (e->state == QI_WAIT_COMP) {	/* PUBREL only */
			msg_unref(qi.m);
			qi.m = NULL;
		}
		qi.qos = e->qos;
		qi.state = e->state;
		qi.pid = e->pid;
		qi.retain = (e->flags & 1) != 0;
		qi.n_ids = e->n_ids;
		if (e->n_ids == 1)
			qi.id = e->ids[0];
		else if (e->n_ids > 1)
			qi.ids = TAKE(e->ids);
		qi.ds_id = e->pos;
		qi.ds_shard = e->shard;
		session_restore_item(s, &qi);
	}
	ds_session_dirty(s, false);
	sv->sid = s->sid;
}

/* A worker's share of ds_restore: its sessions, without timers. */
static void
ds_restore_worker(struct worker *w, void *arg)
{
	struct ds_saved	*sv;

	(void)arg;
	for (sv = ds_loaded; sv != NULL; sv = sv->next) {
		if (worker_home(STR(sv->cid)) == w->id)
			ds_restore_one(w, sv);
	}
}

/*
 * Then their timers, once every worker has its sessions and routes back
 * (the route deltas of the first pass are ahead of this call in each
 * inbox): a will whose delay ran out while the node was down, or that of
 * a session that expired meanwhile, goes out now and must find every
 * subscriber.
 */
static void
ds_restore_timers(struct worker *w, void *arg)
{
	struct ds_saved	*sv;
	struct session	*s;

	(void)arg;
	for (sv = ds_loaded; sv != NULL; sv = sv->next) {
		if (worker_home(STR(sv->cid)) == w->id &&
		    (s = session_by_sid(w, sv->sid)) != NULL)
			session_restored(s);
	}
}

/* Recreate the stored sessions; see ds.h. */
void
ds_restore(void)
{
	struct ds_saved	*sv, *next;
	size_t		 i;

	if (ds_loaded != NULL) {
		worker_call_all_wait(ds_restore_worker, NULL);
		worker_call_all_wait(ds_restore_timers, NULL);
	}
	for (sv = ds_loaded; sv != NULL; sv = next) {
		next = sv->next;
		for (i = 0; i < sv->n_e; i++) {
			msg_unref(sv->e[i].m);
			free(sv->e[i].ids);
		}
		free(sv->e);
		free(sv->rec);
		free(sv->cid);
		free(sv);
	}
	ds_loaded = NULL;
}

/* Free an index value. */
static void
ds_route_free(void *p)
{
	struct ds_route	*r, *next;

	for (r = p; r != NULL; r = next) {
		next = r->next;
		free(r->cid);
		free(r);
	}
}

/* Commit what is left and stop; see ds.h. */
void
ds_shutdown(void)
{
	if (ds_thread_started) {
		pthread_mutex_lock(&ds_mtx);
		ds_detached = true;
		ds_stop = true;
		pthread_cond_signal(&ds_cond);
		pthread_mutex_unlock(&ds_mtx);
		pthread_join(ds_thread, NULL);
		ds_thread_started = false;
	}
	ds_restore();
	ds_counts_clear();
	hmap_release(&ds_counts);
	if (ds_index != NULL)
		topic_trie_free(ds_index, ds_route_free);
	ds_index = NULL;
}
