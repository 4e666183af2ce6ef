/*
 * loop.c: before-sleep hook, cron timer and inbox of one libev loop.
 *
 * The inbox is Dmitry Vyukov's intrusive MPSC queue: producers exchange the
 * head pointer (one atomic exchange each), the single consumer follows
 * next pointers from the tail.  A producer pushes completely before calling
 * ev_async_send, so a consumer that sees a half-linked push is always
 * woken again.
 */
#include <stddef.h>

#include "loop.h"

/* ev_prepare: run the owner's before-sleep hook. */
static void
loop_prepare_cb(EV_P_ ev_prepare *w, int revents)
{
	struct loop	*l = w->data;

	(void)loop;
	(void)revents;
	if (l->before_sleep != NULL)
		l->before_sleep(l);
}

/* 10 Hz cron. */
static void
loop_cron_cb(EV_P_ ev_timer *w, int revents)
{
	struct loop	*l = w->data;

	(void)loop;
	(void)revents;
	l->cron_loops++;
	if (l->cron != NULL)
		l->cron(l);
}

/* Pop one item; NULL when empty (or a push is half done). */
static struct inbox_item *
loop_pop(struct loop *l)
{
	struct inbox_item	*tail = l->tail, *next, *head;

	next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
	if (tail == &l->stub) {
		if (next == NULL)
			return (NULL);
		l->tail = next;
		tail = next;
		next = __atomic_load_n(&next->next, __ATOMIC_ACQUIRE);
	}
	if (next != NULL) {
		l->tail = next;
		return (tail);
	}
	head = __atomic_load_n(&l->head, __ATOMIC_ACQUIRE);
	if (tail != head)
		return (NULL);
	loop_push(l, &l->stub);
	next = __atomic_load_n(&tail->next, __ATOMIC_ACQUIRE);
	if (next != NULL) {
		l->tail = next;
		return (tail);
	}
	return (NULL);
}

/* Drain every item now; returns how many there were. */
size_t
loop_drain(struct loop *l)
{
	struct inbox_item	*it;
	size_t			 n = 0;

	while ((it = loop_pop(l)) != NULL) {
		l->inbox_cb(l, it);
		n++;
	}
	return (n);
}

/* ev_async: drain the inbox. */
static void
loop_wake_cb(EV_P_ ev_async *w, int revents)
{
	(void)loop;
	(void)revents;
	loop_drain(w->data);
}

/* Set up a loop's watchers. */
void
loop_init(struct loop *l, struct ev_loop *ev, void *owner,
    loop_hook_f *before_sleep, loop_hook_f *cron, loop_inbox_f *inbox_cb)
{
	l->ev = ev;
	l->owner = owner;
	l->before_sleep = before_sleep;
	l->cron = cron;
	l->inbox_cb = inbox_cb;
	l->cron_loops = 0;
	l->stub.next = NULL;
	l->head = l->tail = &l->stub;

	ev_prepare_init(&l->prepare, loop_prepare_cb);
	l->prepare.data = l;
	ev_prepare_start(ev, &l->prepare);

	ev_timer_init(&l->cron_timer, loop_cron_cb, LOOP_CRON_MS / 1000.0,
	    LOOP_CRON_MS / 1000.0);
	l->cron_timer.data = l;
	ev_timer_start(ev, &l->cron_timer);

	/* The inbox runs before I/O of the same loop turn (router.c). */
	ev_async_init(&l->wake, loop_wake_cb);
	ev_set_priority(&l->wake, EV_MAXPRI);
	l->wake.data = l;
	ev_async_start(ev, &l->wake);
}

/* Stop the loop's watchers. */
void
loop_release(struct loop *l)
{
	ev_prepare_stop(l->ev, &l->prepare);
	ev_timer_stop(l->ev, &l->cron_timer);
	ev_async_stop(l->ev, &l->wake);
}

/* Push an item without waking the loop. */
void
loop_push(struct loop *l, struct inbox_item *it)
{
	struct inbox_item	*prev;

	__atomic_store_n(&it->next, NULL, __ATOMIC_RELAXED);
	prev = __atomic_exchange_n(&l->head, it, __ATOMIC_ACQ_REL);
	__atomic_store_n(&prev->next, it, __ATOMIC_RELEASE);
}

/* Wake the loop (coalesced by libev). */
void
loop_wake(struct loop *l)
{
	ev_async_send(l->ev, &l->wake);
}

/* Push and wake. */
void
loop_post(struct loop *l, struct inbox_item *it)
{
	loop_push(l, it);
	loop_wake(l);
}
