/*
 * worker.c: worker threads, their loops and inboxes.
 *
 * Start-up: worker_start_all() creates every worker and its thread; each
 * thread builds its own ev_loop and runs it until an INBOX_STOP arrives.
 * Ownership and threading are described in worker.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "ds.h"
#include "listener.h"
#include "log.h"
#include "msg.h"
#include "proto.h"
#include "router.h"
#include "session.h"
#include "topic.h"
#include "worker.h"
#include "xmalloc.h"

struct worker		**workers;
unsigned		  n_workers;

static __thread struct worker *worker_tls;
static __thread bool worker_assisting;	/* doing another's turn */

/* A socket handed over at CONNECT (see worker.h). */
struct conn_handoff {
	struct inbox_item hdr;
	int		 fd;
	struct listener	*l;
	uint8_t		 family;
	uint16_t	 port;
	uint8_t		 addr[16];
	struct buf	 rx;
	struct tls_conn	*tls;		/* transport state, moved along */
	struct ws_conn	*ws;
};

/* For worker_call_all_wait. */
struct call_wait {
	pthread_mutex_t	 lock;
	pthread_cond_t	 cond;
	unsigned	 left;
	void		(*fn)(struct worker *, void *);
	void		*arg;
};

/* The worker running on this thread, or NULL. */
struct worker *
worker_self(void)
{
	return (worker_tls);
}

/* Home worker of a client id. */
unsigned
worker_home(struct str client_id)
{
	return (hash_bytes(client_id.p, client_id.len) % n_workers);
}

/* Post an item to a worker's inbox. */
void
worker_post(struct worker *w, struct inbox_item *it)
{
	loop_post(&w->loop, it);
}

/* Close every connection (shutdown) with DISCONNECT 0x8B for v5. */
static void
worker_shutdown(struct worker *w)
{
	struct conn	*c, *next;

	w->stopping = true;
	listener_worker_stop(w);
	for (c = TAILQ_FIRST(&w->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->state == CONN_S_OPEN)
			proto_disconnect(c, 0x8b, "server shutting down");
		else
			conn_close(c, "server shutting down");
	}
	conn_linger_stop(w);
	conn_before_sleep(w);
	ev_break(w->loop.ev, EVBREAK_ALL);
}

/* Adopt a socket handed over from another worker. */
static void
worker_adopt(struct worker *w, struct conn_handoff *h)
{
	struct conn	*c;

	c = conn_adopt(w, h->fd, h->l, h->family, h->port, h->addr, &h->rx,
	    h->tls, h->ws);
	buf_release(&h->rx);
	free(h);
	if (c != NULL)
		proto_adopted(c);
}

/* Inbox dispatch. */
static void
worker_inbox_cb(struct loop *l, struct inbox_item *it)
{
	struct worker		*w = l->owner;
	struct worker_call	*call;

	/* Deliveries mark what they change themselves (loop_touch());
	 * anything else, done by another thread, wakes us after. */
	if (it->kind != INBOX_FORWARD && it->kind != INBOX_SHARED)
		loop_touch(l);
	switch ((enum inbox_kind)it->kind) {
	case INBOX_FORWARD:
		router_forward_in(w, (struct fwd_batch *)it);
		break;
	case INBOX_SHARED:
		router_shared_in(w, (struct fwd_shared *)it);
		break;
	case INBOX_ROUTE:
		router_apply(w, (struct route_delta *)it);
		free(it);
		break;
	case INBOX_FLOW:
		router_flow_in(w, (struct flow_batch *)it);
		break;
	case INBOX_LINK:
		router_link_in(w, (struct link_drained *)it);
		break;
	case INBOX_DS:
		ds_done_in(w, it);
		break;
	case INBOX_HANDOFF:
		worker_adopt(w, (struct conn_handoff *)it);
		break;
	case INBOX_CALL:
		call = (struct worker_call *)it;
		call->fn(w, call->arg);
		free(call);
		break;
	case INBOX_STOP:
		free(it);
		worker_shutdown(w);
		break;
	}
}

static bool	worker_assist(struct worker *);

/* Do the turns of the workers handed small batches this turn (router.h)
 * that sleep; wake the others. */
static void
worker_assist_all(struct worker *w)
{
	uint64_t	 mask = w->assist_mask;
	unsigned	 d;

	w->assist_mask = 0;
	for (d = 0; mask != 0 && d < n_workers; d++) {
		if ((mask & (UINT64_C(1) << d)) == 0)
			continue;
		if (!worker_assisting && d != w->id &&
		    worker_assist(workers[d]))
			continue;
		loop_wake(&workers[d]->loop);
	}
}

/* Before sleeping: hand batches over first (doing the turns of sleeping
 * workers that get a few messages: their subscribers wait for them, our
 * few writes can wait for that), then write to clients. */
static void
worker_before_sleep(struct loop *l)
{
	struct worker	*w = l->owner;

	/* Storage writes go before the messages they cover are handed
	 * over, so that a subscriber's acknowledgement never reaches the
	 * storage thread before the message it deletes. */
	ds_before_sleep(w);
	router_before_sleep(w);
	worker_assist_all(w);
	conn_before_sleep(w);
	/* Closing conns may have published wills: hand those over too. */
	ds_before_sleep(w);
	router_before_sleep(w);
	worker_assist_all(w);
	w->now = now_ms();
}

/*
 * Do the turn of worker d if its loop sleeps (see worker.h): what its
 * inbox holds, then its before-sleep hook.  True if that was all: false
 * if d is awake, or if its turn started watchers (loop_touch()) that its
 * loop must take in (libev applies fd changes and timers only in the
 * loop's own thread): then the caller wakes it.
 */
static bool
worker_assist(struct worker *d)
{
	struct worker	*self = worker_tls;
	bool		 done = false;

	if (pthread_mutex_trylock(&d->lock) != 0)
		return (false);
	if (d->running) {
		worker_tls = d;
		worker_assisting = true;
		d->loop.touched = false;
		ev_now_update(d->loop.ev);
		d->now = now_ms();
		if (loop_drain(&d->loop) != 0)
			worker_before_sleep(&d->loop);
		done = !d->loop.touched;
		worker_assisting = false;
		worker_tls = self;
	}
	pthread_mutex_unlock(&d->lock);
	return (done);
}

/* libev, before the loop blocks: its state is free to take. */
static void
worker_release_cb(EV_P)
{
	struct worker	*w = ev_userdata(EV_A);

	pthread_mutex_unlock(&w->lock);
}

/* libev, after the loop blocked: take its state back. */
static void
worker_acquire_cb(EV_P)
{
	struct worker	*w = ev_userdata(EV_A);

	pthread_mutex_lock(&w->lock);
}

/* 10 Hz housekeeping. */
static void
worker_cron(struct loop *l)
{
	struct worker	*w = l->owner;

	w->now = now_ms();
	router_cron(w);
}

/* Thread body. */
static void *
worker_main(void *arg)
{
	struct worker	*w = arg;

	worker_tls = w;
	pthread_mutex_lock(&w->lock);
	w->running = true;
	ev_run(w->loop.ev, 0);
	w->running = false;
	pthread_mutex_unlock(&w->lock);
	return (NULL);
}

/* Create workers and start their threads. */
int
worker_start_all(unsigned n, char **cause)
{
	struct worker	*w;
	unsigned	 i;
	int		 error;

	if (n == 0 || n > WORKER_MAX) {
		xasprintf(cause, "mqtt.workers: %u is out of range (1..%d)", n,
		    WORKER_MAX);
		return (-1);
	}
	n_workers = n;
	workers = xcalloc(n, sizeof *workers);
	for (i = 0; i < n; i++) {
		w = workers[i] = xcalloc(1, sizeof *w);
		w->magic = WORKER_MAGIC;
		w->id = i;
		w->next_sid = 1;
		hmap_init(&w->sessions);
		w->free_slot = UINT32_MAX;
		w->assist_ok = true;
		TAILQ_INIT(&w->conns);
		TAILQ_INIT(&w->lingering);
		w->rbuf = xmalloc(WORKER_RBUF);
		w->now = now_ms();
		loop_init(&w->loop, ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK),
		    w, worker_before_sleep, worker_cron, worker_inbox_cb);
		pthread_mutex_init(&w->lock, NULL);
		ev_set_userdata(w->loop.ev, w);
		ev_set_loop_release_cb(w->loop.ev, worker_release_cb,
		    worker_acquire_cb);
		router_init(w);
	}
	for (i = 0; i < n; i++) {
		w = workers[i];
		error = pthread_create(&w->thread, NULL, worker_main, w);
		if (error != 0) {
			xasprintf(cause, "worker: cannot start thread: %s",
			    strerror(error));
			return (-1);
		}
	}
	return (0);
}

/* Ask every worker to disconnect its clients and stop. */
void
worker_stop_all(void)
{
	struct inbox_item	*it;
	unsigned		 i;

	for (i = 0; i < n_workers; i++) {
		it = xcalloc(1, sizeof *it);
		it->kind = INBOX_STOP;
		worker_post(workers[i], it);
	}
}

/* Free a session from the map walk. */
static void
worker_free_sessions(struct worker *w)
{
	struct hmap_ent	*e;
	size_t		 i = 0;
	struct session	**all;
	size_t		 n = 0, k;

	all = xcalloc(w->sessions.n + 1, sizeof *all);
	for (e = hmap_next(&w->sessions, &i, NULL); e != NULL;
	    e = hmap_next(&w->sessions, &i, e))
		all[n++] = e->val;
	for (k = 0; k < n; k++)
		session_end(all[k]);
	free(all);
}

/* Wait for the worker threads and free them. */
void
worker_join_all(void)
{
	struct worker	*w;
	unsigned	 i, round;

	for (i = 0; i < n_workers; i++)
		pthread_join(workers[i]->thread, NULL);
	/* The threads are gone: this thread now plays each worker in turn. */
	for (i = 0; i < n_workers; i++) {
		w = workers[i];
		worker_tls = w;
		loop_drain(&w->loop);
		/* Detached durable sessions are written before they go. */
		ds_before_sleep(w);
		worker_free_sessions(w);
		conn_before_sleep(w);
		ds_before_sleep(w);
		router_before_sleep(w);
		worker_tls = NULL;
	}
	/* Items in flight between workers die out: no session is left. */
	for (round = 0; round < 16; round++) {
		for (i = 0; i < n_workers; i++) {
			w = workers[i];
			worker_tls = w;
			loop_drain(&w->loop);
			router_before_sleep(w);
			worker_tls = NULL;
		}
	}
	/* What the sessions left is committed before the workers go. */
	ds_shutdown();
	for (i = 0; i < n_workers; i++) {
		w = workers[i];
		worker_tls = w;
		loop_drain(&w->loop);
		ds_worker_release(w);
		router_release(w);
		loop_release(&w->loop);
		ev_loop_destroy(w->loop.ev);
		hmap_release(&w->sessions);
		pthread_mutex_destroy(&w->lock);
		free(w->slots);
		free(w->rbuf);
		free(w);
		worker_tls = NULL;
	}
	free(workers);
	workers = NULL;
	n_workers = 0;
}

/* One worker's part of worker_call_all_wait. */
static void
worker_call_one(struct worker *w, void *arg)
{
	struct call_wait	*cw = arg;

	cw->fn(w, cw->arg);
	pthread_mutex_lock(&cw->lock);
	if (--cw->left == 0)
		pthread_cond_signal(&cw->cond);
	pthread_mutex_unlock(&cw->lock);
}

/* Run fn on workers [from, to) and wait until all have run it. */
static void
worker_call_range_wait(unsigned from, unsigned to,
    void (*fn)(struct worker *, void *), void *arg)
{
	struct call_wait	 cw;
	struct worker_call	*call;
	unsigned		 i;

	pthread_mutex_init(&cw.lock, NULL);
	pthread_cond_init(&cw.cond, NULL);
	cw.left = to - from;
	cw.fn = fn;
	cw.arg = arg;
	for (i = from; i < to; i++) {
		call = xcalloc(1, sizeof *call);
		call->hdr.kind = INBOX_CALL;
		call->fn = worker_call_one;
		call->arg = &cw;
		worker_post(workers[i], &call->hdr);
	}
	pthread_mutex_lock(&cw.lock);
	while (cw.left != 0)
		pthread_cond_wait(&cw.cond, &cw.lock);
	pthread_mutex_unlock(&cw.lock);
	pthread_mutex_destroy(&cw.lock);
	pthread_cond_destroy(&cw.cond);
}

/* Run fn on every worker thread and wait until all have run it. */
void
worker_call_all_wait(void (*fn)(struct worker *, void *), void *arg)
{
	worker_call_range_wait(0, n_workers, fn, arg);
}

/* Run fn on one worker's thread and wait for it. */
void
worker_call_wait(struct worker *w, void (*fn)(struct worker *, void *),
    void *arg)
{
	worker_call_range_wait(w->id, w->id + 1, fn, arg);
}

/* Hand a connection's socket and unread bytes to another worker. */
void
worker_handoff(struct worker *to, int fd, struct listener *l, uint8_t family,
    uint16_t port, const uint8_t *addr, const uint8_t *p, size_t len,
    struct tls_conn *tls, struct ws_conn *ws)
{
	struct conn_handoff	*h;

	h = xcalloc(1, sizeof *h);
	h->hdr.kind = INBOX_HANDOFF;
	h->fd = fd;
	h->l = l;
	h->family = family;
	h->port = port;
	memcpy(h->addr, addr, sizeof h->addr);
	buf_init(&h->rx);
	buf_add(&h->rx, p, len);
	h->tls = tls;
	h->ws = ws;
	worker_post(to, &h->hdr);
}
