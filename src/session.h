/*
 * session.h: MQTT sessions: subscriptions, in-flight window, queue,
 * QoS 2 receipts, will, expiry.
 *
 * A session lives on the worker its client id hashes to and outlives its
 * connections until its expiry interval passes.  Deliveries enter through
 * session_deliver(); the in-flight window is min(client Receive Maximum,
 * mqtt.max_inflight); the rest waits in a queue bounded by
 * mqtt.max_mqueue_len (oldest dropped and counted).
 *
 * Back-pressure: when the queue of a connected session that is still
 * draining passes SESSION_FLOW_HIGH (or half of max_mqueue_len), the
 * publisher of each further message is throttled: its connection stops
 * being read, on whatever worker it is (router_flow).  The session keeps
 * the throttled publishers and lets them all go when its queue is down to
 * a quarter of that, when it stops draining (the socket took nothing for
 * SESSION_FLOW_STALL_MS: a stuck client must not stall its publishers; its
 * queue overflows and drops instead), or when it disconnects or ends.
 * A session whose own client is not being read (throttled or rate
 * limited) lets its publishers go too: that client cannot acknowledge
 * what it gets, and two clients that publish to each other would
 * otherwise hold each other until CONN_THROTTLE_MAX_MS.
 * What the publishers sent before their throttle took effect (a read
 * buffer, their in-flight windows) may take a draining session's queue up
 * to twice max_mqueue_len before anything is dropped.
 */
#ifndef SESSION_H
#define SESSION_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"

struct conn;
struct msg;
struct worker;

/* One subscription of a session. */
struct sub {
	struct sub	*next;		/* in the session */
	struct sub	*node_next;	/* in the worker's trie node list */
	struct session	*s;
	char		*text;		/* as subscribed, "$share/g/f" too */
	struct str	 filter;	/* the topic filter part of text */
	struct str	 group;		/* share group, len 0 if not shared */
	uint8_t		 qos;
	bool		 no_local;
	bool		 rap;
	bool		 exclusive;	/* $exclusive/: one subscriber */
	uint8_t		 rh;
	uint32_t	 sub_id;
};

/* A message waiting for delivery or acknowledgement. */
struct qitem {
	struct msg	*m;
	uint16_t	 pid;
	uint8_t		 qos;
	uint8_t		 state;		/* QI_* */
	bool		 retain;	/* retain flag to send */
	uint8_t		 n_ids;
	uint16_t	 ds_shard;	/* with ds_id */
	uint32_t	 id;		/* the sub id when n_ids == 1 */
	uint32_t	*ids;		/* when n_ids > 1 */
	char		*share;		/* "group\0filter" for redispatch */
	double		 sent_at;	/* ev_now of the last send */
	uint64_t	 ds_id;		/* its queue entry in storage, or 0 */
};

#define QI_QUEUED	0
#define QI_WAIT_ACK	1		/* sent QoS 1: PUBACK due */
#define QI_WAIT_REC	2		/* sent QoS 2: PUBREC due */
#define QI_WAIT_COMP	3		/* sent PUBREL: PUBCOMP due */

struct awaiting_rel {
	uint16_t	 pid;
	uint64_t	 at;		/* ms */
};

struct will {
	struct msg	*m;
	uint32_t	 delay;		/* seconds */
	ev_timer	 timer;
	struct session	*s;
};

struct session {			/* fields by size: no padding */
	uint64_t	 sid;
	char		*client_id;
	char		*username;	/* NULL when none was given */
	struct worker	*w;
	struct conn	*conn;
	ev_timer	*expiry_timer;	/* only while detached */
	struct sub	*subs;
	struct qitem	*inflight;	/* in send order */
	struct qitem	*queue;		/* ring */
	struct awaiting_rel *awrel;
	struct will	*will;
	uint64_t	*thr;		/* publishers' sids we throttle */
	uint64_t	 detached_at;	/* ms, wall clock; durable only */
	uint64_t	 created_at;	/* ms, wall clock */
	uint32_t	 client_hash;
	uint32_t	 expiry;	/* seconds; UINT32_MAX never */
	unsigned	 n_subs;
	uint32_t	 n_inflight, cap_inflight;
	uint32_t	 q_head, q_len, q_cap;
	uint32_t	 max_packet;	/* client's Maximum Packet Size */
	uint32_t	 n_awrel, cap_awrel;
	uint32_t	 n_thr, cap_thr;
	uint32_t	 match_gen;
	uint32_t	 match_idx;
	uint32_t	 dropped;	/* deliveries dropped (mqueue_dropped) */
	uint16_t	 next_pid;
	uint16_t	 recv_max;	/* client's Receive Maximum */
	uint8_t		 version;
	bool		 assigned_id;
	bool		 durable;	/* kept in durable storage (ds.h) */
	bool		 ds_dirty;	/* its record is to be written */
};

#define SESSION_FLOW_HIGH	1000
#define SESSION_FLOW_STALL_MS	1000

struct session	*session_new(struct worker *, struct str client_id);
/* End a session: publish a pending will, redispatch shared messages,
 * drop subscriptions, free. */
void		 session_end(struct session *);
void		 session_attach(struct session *, struct conn *);
/* The connection went away: start the will delay and the expiry timer. */
void		 session_detach(struct session *, bool publish_will);
struct session	*session_find(struct worker *, struct str client_id);
struct session	*session_by_sid(struct worker *, uint64_t sid);

/* Durable sessions read back at start-up (ds.c): add an item as it was
 * (queued, or in flight with its packet id), then start the will and
 * expiry timers from s->detached_at. */
void		 session_restore_item(struct session *, struct qitem *);
void		 session_restored(struct session *);

/* Deliver m at qos (already min'd with the subscription). */
void		 session_deliver(struct session *, struct msg *, uint8_t qos,
		    bool retain, const uint32_t *ids, size_t n_ids,
		    const char *share);
/* Let the publishers this session throttles go. */
void		 session_flow_release(struct session *);
/* Resend in-flight (DUP) and queued messages after CONNACK. */
void		 session_resume(struct session *);
/* Send what the window and socket allow from the queue. */
void		 session_drain(struct session *);
/* Acks from the client; return 0 or -1 if pid unknown. */
int		 session_puback(struct session *, uint16_t pid);
int		 session_pubrec(struct session *, uint16_t pid, uint8_t rc);
int		 session_pubcomp(struct session *, uint16_t pid);
/* QoS 2 receipt ids. */
bool		 session_awrel_has(struct session *, uint16_t pid);
int		 session_awrel_add(struct session *, uint16_t pid);
int		 session_awrel_del(struct session *, uint16_t pid);

/* Subscriptions (the worker's trie and routes are updated). */
struct sub	*session_sub_find(struct session *, struct str text);
struct sub	*session_subscribe(struct session *, struct str text,
		    struct str group, struct str filter, uint8_t qos,
		    bool no_local, bool rap, uint8_t rh, uint32_t sub_id,
		    bool *existed);
int		 session_unsubscribe(struct session *, struct str text);
void		 session_set_will(struct session *, struct msg *,
		    uint32_t delay);
void		 session_clear_will(struct session *);
void		 session_publish_will(struct session *);
uint32_t	 session_queue_len(const struct session *);
/* mqtt.retry_interval (3.x only): when the next resend is due, or 0. */
double		 session_retry_due(const struct session *);
/* Resend in-flight messages sent before now - retry_interval. */
void		 session_retry(struct session *, double now);

#endif
