/*
 * worker.h: one MQTT worker thread and its libev loop.
 *
 * A worker owns outright its connections, the sessions whose client id
 * hashes to it (worker_home()), its subscription trie and its replica of
 * the route table.  Nothing else touches them: other threads post inbox
 * items (loop.h).  A CONNECT that arrives on another worker is handed to
 * the home worker with its socket, so a client id always lives on exactly
 * one worker and takeover needs no lock.
 *
 * A worker's state belongs to whoever holds its lock: its own thread
 * holds it except while its loop sleeps (libev's release and acquire
 * callbacks around epoll_wait).  A worker that handed a few messages to
 * another (router_before_sleep says when) looks, before its own few
 * writes, whether that one sleeps: if so it takes the sleeper's lock and
 * does the sleeper's turn itself (inbox, before-sleep hook: deliveries
 * and writes), so that the hand-over does not wait for a thread's
 * wake-up, and wakes the sleeper only if that turn started watchers
 * (loop_touch()), which libev takes in only in the loop's own thread
 * (the 10 Hz cron timer wakes every loop anyway); if the other is awake,
 * it wakes it.  Code that runs in a turn uses the worker it is given (or
 * worker_self(), which is the worker whose turn it is), never the
 * thread.
 */
#ifndef WORKER_H
#define WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "hmap.h"
#include "loop.h"
#include "metrics.h"

#define WORKER_MAX	64
#define WORKER_MAGIC	0x574f524bU
#define WORKER_RBUF	65536

struct conn;
struct ds_batch;
struct ds_hit;
struct flow_batch;
struct fwd_batch;
struct worker;
struct listener_sock;
struct topic_trie;

enum inbox_kind {
	INBOX_FORWARD,		/* struct fwd_batch: messages to match here */
	INBOX_SHARED,		/* struct fwd_shared: one shared delivery */
	INBOX_ROUTE,		/* struct route_delta */
	INBOX_HANDOFF,		/* struct conn_handoff: a socket past CONNECT */
	INBOX_CALL,		/* struct worker_call: run fn on this worker */
	INBOX_FLOW,		/* struct flow_batch: throttle publishers */
	INBOX_LINK,		/* struct link_drained: resume publishers */
	INBOX_DS,		/* struct ds_batch: committed (or failed) */
	INBOX_STOP,		/* shut down: disconnect clients, leave loop */
};

/* Run a function on a worker's thread (REST, ctl, $SYS). */
struct worker_call {
	struct inbox_item hdr;
	void		(*fn)(struct worker *, void *);
	void		*arg;
};

/* One session's share of a publish being matched (router.c). */
struct delivery {
	struct session	*s;
	uint8_t		 qos;
	bool		 retain;
	uint32_t	 n_ids;
	uint32_t	 inl[4];	/* the ids while n_ids <= 4 */
	uint32_t	*heap;		/* the ids beyond that */
};

struct session;

struct worker {
	uint32_t	 magic;
	unsigned	 id;
	pthread_t	 thread;
	struct loop	 loop;
	struct metrics	 metrics;
	struct hmap	 sessions;	/* client id -> session (home) */
	struct session	**slots;	/* by the slot in a session id */
	uint32_t	 n_slots, cap_slots;
	uint32_t	 free_slot;	/* head of the free chain, or ~0 */
	struct topic_trie *subs;	/* filter -> struct sub list */
	struct topic_trie *routes;	/* filter -> struct route */
	uint64_t	 next_sid;
	TAILQ_HEAD(, conn) conns;
	TAILQ_HEAD(, conn) lingering;	/* closed, socket still read */
	uint32_t	 n_lingering;
	struct conn	*tx_pending;	/* conns with bytes to flush */
	struct conn	*closing;	/* conns to free before sleep */
	struct fwd_batch **out;		/* per destination worker */
	uint64_t	 wake_mask;	/* workers to wake this turn */
	uint64_t	 batch_mask;	/* workers handed a batch this turn */
	uint64_t	 small_mask;	/* ... all of them small */
	uint64_t	 assist_mask;	/* workers to wake after our writes */
	uint32_t	 n_tx_pending;	/* conns on tx_pending */
	uint64_t	 fwd_msgs;	/* messages handed to other workers */
	uint64_t	 fwd_cron;	/* ... at the last cron */
	bool		 assist_ok;	/* few of them lately (router_cron) */
	pthread_mutex_t	 lock;		/* held by whoever runs its turn */
	bool		 running;	/* its thread is in ev_run (lock) */
	uint32_t	*out_hint;	/* last batch size per destination */
	struct flow_batch **flow_out;	/* throttles per worker, self too */
	struct router_link *links;	/* to each worker */
	uint32_t	 congested;	/* atomic: sessions throttling now */
	unsigned	 rnd;		/* random shared picks */
	uint32_t	 match_gen;
	struct delivery	*dl;		/* scratch for one publish's matches */
	size_t		 n_dl, cap_dl;
	struct listener_sock *lsocks;	/* this worker's listening sockets */
	uint8_t		*rbuf;		/* WORKER_RBUF read scratch */
	struct ds_batch	*ds_cur;	/* this turn's storage writes */
	uint32_t	 ds_seq;	/* the number ds_cur will get */
	uint64_t	*ds_dirty;	/* durable sessions to write */
	uint32_t	 n_dirty, cap_dirty;
	struct conn	**held;		/* conns whose output waits */
	uint32_t	 n_held, cap_held;
	struct ds_hit	*ds_hits;	/* scratch for one publish */
	struct buf	 ds_key;	/* scratch for storage keys */
	size_t		 n_hits, cap_hits;
	bool		 stopping;
	uint64_t	 now;		/* ms, refreshed each loop turn */
};

extern struct worker	**workers;
extern unsigned		  n_workers;

int		 worker_start_all(unsigned, char **cause);
void		 worker_stop_all(void);
void		 worker_join_all(void);
struct worker	*worker_self(void);
unsigned	 worker_home(struct str client_id);
void		 worker_post(struct worker *, struct inbox_item *);
/* Run fn(w, arg) on every worker and wait for all of them (not from a worker). */
void		 worker_call_all_wait(void (*fn)(struct worker *, void *),
		    void *arg);
/* Run fn(w, arg) on one worker and wait for it (not from a worker). */
void		 worker_call_wait(struct worker *,
		    void (*fn)(struct worker *, void *), void *arg);


struct listener;
struct tls_conn;
struct ws_conn;
/* Hand a socket past CONNECT to its home worker, with its unread bytes
 * and its transport state (taken). */
void		 worker_handoff(struct worker *, int fd, struct listener *,
		    uint8_t family, uint16_t port, const uint8_t *addr,
		    const uint8_t *p, size_t len, struct tls_conn *,
		    struct ws_conn *);

#endif
