/*
 * retain.c: retained messages (see retain.h).
 *
 * A trie of topic names to messages behind one mutex.  Lookups copy out
 * references under the lock and deliver after releasing it.
 */
#include <pthread.h>
#include <stdlib.h>

#include "config.h"
#include "log.h"
#include "msg.h"
#include "retain.h"
#include "topic.h"
#include "worker.h"
#include "xmalloc.h"

static pthread_mutex_t	 retain_lock = PTHREAD_MUTEX_INITIALIZER;
static struct topic_trie *retain_trie;
static size_t		 retain_n;

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
		if (old != NULL)
			retain_n--;
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
