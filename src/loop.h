/*
 * loop.h: what every libev loop of the process has.
 *
 * Each thread's loop (the node loop in main, one per worker) owns one
 * struct loop: an ev_prepare that runs the owner's before-sleep hook (flush
 * writes, forward batches, free closed connections), a 10 Hz cron timer
 * (LOOP_EVERY(ms) runs a block at most every ms), and an inbox: a lock-free
 * multi-producer single-consumer queue drained by one coalesced ev_async.
 * Other threads reach a loop's state only by posting to its inbox.
 */
#ifndef LOOP_H
#define LOOP_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct inbox_item {
	struct inbox_item *next;	/* atomic */
	int		 kind;
};

struct loop;
typedef void	 loop_hook_f(struct loop *);
typedef void	 loop_inbox_f(struct loop *, struct inbox_item *);

struct loop {
	struct ev_loop	*ev;
	void		*owner;
	loop_hook_f	*before_sleep;
	loop_hook_f	*cron;
	loop_inbox_f	*inbox_cb;
	ev_prepare	 prepare;
	ev_timer	 cron_timer;
	ev_async	 wake;
	uint64_t	 cron_loops;
	bool		 touched;	/* see loop_touch() */
	/* Vyukov MPSC queue */
	struct inbox_item *head;	/* atomic, producers */
	struct inbox_item *tail;	/* consumer only */
	struct inbox_item stub;
};

#define LOOP_CRON_MS	100
/* Run the following block at most every ms (from a cron hook). */
#define LOOP_EVERY(l, ms)						\
	if ((ms) <= LOOP_CRON_MS ||					\
	    (l)->cron_loops % ((ms) / LOOP_CRON_MS) == 0)

void	 loop_init(struct loop *, struct ev_loop *, void *owner,
	    loop_hook_f *before_sleep, loop_hook_f *cron, loop_inbox_f *);
void	 loop_release(struct loop *);
/* Post an item from any thread; wakes the loop. */
void	 loop_post(struct loop *, struct inbox_item *);
/* Push without waking (batching); call loop_wake after. */
void	 loop_push(struct loop *, struct inbox_item *);
void	 loop_wake(struct loop *);
/*
 * Say that a watcher started (or an event was fed) that the loop must take
 * in before it sleeps again: an fd to watch, a timer due within
 * LOOP_CRON_MS.  When another thread did this loop's turn while it slept
 * (worker.h), the loop is woken for it; otherwise it is a no-op.  A
 * start left unmarked is not lost: the loop takes it in when it next
 * wakes, at the latest at its cron tick (LOOP_CRON_MS).
 */
#define loop_touch(l)	((l)->touched = true)

/* Drain the inbox now (owner thread); returns the items drained. */
size_t	 loop_drain(struct loop *);

#endif
