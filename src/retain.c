/*
 * retain.c: retained messages (see retain.h).
 *
 * A trie of topic names to messages behind one mutex.  Lookups copy out
 * references under the lock and deliver after releasing it.  With the
 * store open, every change is also written to LevelDB ("r/TOPIC", under
 * the same lock so that the last writer wins there too; not synced: a
 * crash of the process loses nothing, a power cut may lose the last ones)
 * and retain_load() reads them back at start-up.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "mqtt.h"
#include "msg.h"
#include "retain.h"
#include "store.h"
#include "topic.h"
#include "worker.h"
#include "xmalloc.h"

static pthread_mutex_t	 retain_lock = PTHREAD_MUTEX_INITIALIZER;
static struct topic_trie *retain_trie;
static size_t		 retain_n;

#define RETAIN_REC_VERSION	1
#define RETAIN_REC_MIN		(1 + 1 + 8 + 4 + 4 + 4)

/* The record of m (docs/storage.md): version, qos, expiry, payload,
 * properties, CRC-32 of the key and everything before it. */
static void
retain_encode(struct buf *b, struct str key, const struct msg *m)
{
	uint32_t	 crc;

	buf_add_u8(b, RETAIN_REC_VERSION);
	buf_add_u8(b, m->qos);
	buf_add_u32(b, (uint32_t)(m->expire_at >> 32));
	buf_add_u32(b, (uint32_t)m->expire_at);
	buf_add_u32(b, m->payload_len);
	buf_add_str(b, msg_payload(m));
	buf_add_u32(b, m->props_len);
	buf_add_str(b, msg_props(m));
	crc = store_crc32(0, key.p, key.len);
	crc = store_crc32(crc, buf_head(b), buf_used(b));
	buf_add_u32(b, crc);
}

/*
 * The message a record holds, or NULL if it does not decode.  Past the
 * checksum, the topic and properties go through the MQTT 5 decoder as the
 * PUBLISH they came from, so a record can only hold what a client could
 * have sent: a valid topic name and properties that travel.
 */
static struct msg *
retain_decode(struct str key, struct str val)
{
	const uint8_t	*p = val.p;
	uint32_t	 plen, prlen, crc;

	if (key.len <= 2 || key.len - 2 > UINT16_MAX ||
	    val.len < RETAIN_REC_MIN || p[0] != RETAIN_REC_VERSION || p[1] > 2)
		return (NULL);
	crc = store_crc32(0, key.p, key.len);
	crc = store_crc32(crc, p, val.len - 4);
	if (crc != (uint32_t)get_be(p + val.len - 4, 4))
		return (NULL);
	plen = (uint32_t)get_be(p + 10, 4);
	if ((size_t)plen > val.len - RETAIN_REC_MIN)
		return (NULL);
	prlen = (uint32_t)get_be(p + 14 + plen, 4);
	if ((size_t)plen + prlen != val.len - RETAIN_REC_MIN)
		return (NULL);
	return (msg_from_stored((struct str){ key.p + 2, key.len - 2 },
	    (struct str){ p + 14, plen }, (struct str){ p + 18 + plen, prlen },
	    p[1], true, get_be(p + 2, 8)));
}

/* True if a "r/" record decodes (for store repair). */
bool
retain_record_ok(struct str key, struct str val)
{
	struct msg	*m;

	if ((m = retain_decode(key, val)) == NULL)
		return (false);
	msg_unref(m);
	return (true);
}

/* Write (m) or delete (NULL) the record of topic; called locked. */
static void
retain_store(struct str topic, const struct msg *m)
{
	struct buf	 key, val;
	char		*cause = NULL;
	int		 rv;

	if (!store_is_open())
		return;
	/* $SYS messages are made afresh at every start. */
	if (topic.len >= 4 && memcmp(topic.p, "$SYS", 4) == 0 &&
	    (topic.len == 4 || topic.p[4] == '/'))
		return;
	buf_init(&key);
	buf_init(&val);
	buf_add(&key, "r/", 2);
	buf_add_str(&key, topic);
	if (m != NULL) {
		retain_encode(&val, (struct str){ buf_head(&key),
		    buf_used(&key) }, m);
		rv = store_put((struct str){ buf_head(&key), buf_used(&key) },
		    (struct str){ buf_head(&val), buf_used(&val) }, false,
		    &cause);
	} else
		rv = store_del((struct str){ buf_head(&key), buf_used(&key) },
		    false, &cause);
	if (rv != 0) {
		log_err("retain: cannot %s '%.*s' in the store: %s",
		    m != NULL ? "write" : "delete", (int)topic.len,
		    (const char *)topic.p, cause);
		free(cause);
	}
	buf_release(&key);
	buf_release(&val);
}

struct retain_load_state {
	uint64_t	 now;
	size_t		 loaded, expired;
	char		*bad;		/* the first topic that did not decode */
};

/* One stored retained message into the trie. */
static int
retain_load_cb(struct str key, struct str val, void *arg)
{
	struct retain_load_state	*ls = arg;
	struct msg			*m;
	char				*cause = NULL;

	if ((m = retain_decode(key, val)) == NULL) {
		xasprintf(&ls->bad, "%.*s", (int)(key.len > 200 ? 200 :
		    key.len), (const char *)key.p);
		return (-1);
	}
	if (msg_expired(m, ls->now)) {
		if (store_del(key, false, &cause) != 0)
			free(cause);
		msg_unref(m);
		ls->expired++;
		return (0);
	}
	*topic_trie_slot(retain_trie, msg_topic(m)) = m;
	retain_n++;
	ls->loaded++;
	return (0);
}

/* Read the retained messages back from the store; see retain.h. */
int
retain_load(char **cause)
{
	struct retain_load_state	 ls;

	memset(&ls, 0, sizeof ls);
	ls.now = now_ms();
	if (store_scan((struct str){ (const uint8_t *)"r/", 2 },
	    retain_load_cb, &ls, cause) != 0) {
		if (ls.bad != NULL && *cause == NULL)
			xasprintf(cause, "store: the retained message record "
			    "'%s' is damaged (it does not decode); run "
			    "'flockmq store repair' with the same configuration "
			    "to drop it and keep the rest", ls.bad);
		free(ls.bad);
		return (-1);
	}
	log_info("retain: %zu retained messages loaded from the store%s",
	    ls.loaded, ls.expired != 0 ? " (expired ones deleted)" : "");
	return (0);
}

/* Free one stored message. */
static void
retain_free_msg(void *p)
{
	msg_unref(p);
}

/* Create the store. */
void
retain_init(void)
{
	retain_trie = topic_trie_new();
	retain_n = 0;
}

/* Free the store. */
void
retain_release(void)
{
	topic_trie_free(retain_trie, retain_free_msg);
	retain_trie = NULL;
	retain_n = 0;
}

/* Store or delete a retained message. */
void
retain_put(struct msg *m)
{
	struct worker	*w = worker_self();
	struct msg	*copy = NULL, *old;
	void		**slot;
	uint64_t	 now;

	if (!config->retainer_enable)
		return;
	if (m->payload_len != 0) {
		if ((int64_t)m->payload_len > config->retainer_max_payload_size) {
			log_info("retain: message on '%.*s' not retained: "
			    "payload over retainer.max_payload_size",
			    (int)m->topic_len, (const char *)m->data);
			return;
		}
		/* The stored copy keeps its retain flag set. */
		copy = msg_ref(m);
		if (copy->expire_at == 0 && config->retainer_msg_expiry_interval
		    > 0 && config->retainer_msg_expiry_interval !=
		    CONFIG_INFINITY) {
			msg_unref(copy);
			copy = msg_copy(m, m->qos, true);
			now = now_ms();
			copy->expire_at = now +
			    (uint64_t)config->retainer_msg_expiry_interval;
		}
	}
	pthread_mutex_lock(&retain_lock);
	if (copy == NULL) {
		old = topic_trie_remove(retain_trie, msg_topic(m));
		if (old != NULL) {
			retain_n--;
			retain_store(msg_topic(m), NULL);
		}
	} else {
		slot = topic_trie_slot(retain_trie, msg_topic(m));
		old = *slot;
		if (old == NULL && config->retainer_max_retained_messages > 0 &&
		    retain_n >=
		    (size_t)config->retainer_max_retained_messages) {
			topic_trie_remove(retain_trie, msg_topic(m));
			pthread_mutex_unlock(&retain_lock);
			log_warn("retain: message on '%.*s' not retained: "
			    "retainer.max_retained_messages reached",
			    (int)m->topic_len, (const char *)m->data);
			msg_unref(copy);
			return;
		}
		*slot = copy;
		retain_store(msg_topic(m), copy);
		if (old == NULL)
			retain_n++;
		if (w != NULL)
			METRIC_INC(&w->metrics, MESSAGES_RETAINED);
	}
	pthread_mutex_unlock(&retain_lock);
	msg_unref(old);
}

struct retain_collect {
	struct msg	**m;
	size_t		 n, cap;
	uint64_t	 now;
};

/* Collect matching, unexpired messages. */
static void
retain_collect_cb(struct str key, void *value, void *arg)
{
	struct retain_collect	*rc = arg;
	struct msg		*m = value;

	(void)key;
	if (msg_expired(m, rc->now))
		return;
	if (rc->n == rc->cap) {
		rc->cap = rc->cap == 0 ? 16 : rc->cap * 2;
		rc->m = xreallocarray(rc->m, rc->cap, sizeof *rc->m);
	}
	rc->m[rc->n++] = msg_ref(m);
}

/* Call fn for each retained message matching filter. */
void
retain_match(struct str filter, void (*fn)(struct msg *, void *), void *arg)
{
	struct retain_collect	 rc = { NULL, 0, 0, now_ms() };
	size_t			 i;

	pthread_mutex_lock(&retain_lock);
	topic_trie_match_filter(retain_trie, filter, retain_collect_cb, &rc);
	pthread_mutex_unlock(&retain_lock);
	for (i = 0; i < rc.n; i++) {
		fn(rc.m[i], arg);
		msg_unref(rc.m[i]);
	}
	free(rc.m);
}

/* Number of retained messages. */
size_t
retain_count(void)
{
	size_t	 n;

	pthread_mutex_lock(&retain_lock);
	n = retain_n;
	pthread_mutex_unlock(&retain_lock);
	return (n);
}
