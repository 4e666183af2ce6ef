/*
 * router.h: fan-out of a message to the workers and sessions that want it.
 *
 * Two levels, as in EMQX.  Each worker keeps a replica of the route table
 * (filter -> mask of workers with subscribers, plus share groups and their
 * members); it is updated by route deltas that the subscribing worker
 * broadcasts through the inboxes before it writes its SUBACK, and read
 * without any lock on every publish.  Each worker then matches its own
 * subscription trie to find sessions.  Messages to other workers are batched
 * per destination and handed over once per loop turn.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"

struct msg;
struct session;
struct sub;
struct worker;

struct fwd_batch {
	struct inbox_item hdr;
	uint16_t	 from;		/* the worker that sent it */
	uint32_t	 n, cap;
	struct msg	**m;
};

/*
 * The messages one worker has handed to another and that one has not
 * matched yet.  Past ROUTER_LINK_HIGH the sender stops reading each
 * publisher that adds to it, until the receiver is down to ROUTER_LINK_LOW
 * and has no congested session (one that throttles its publishers), and
 * says so: a worker that cannot keep up slows its feeders instead of
 * letting its inbox grow without bound, and publishers that a congested
 * session has not seen yet do not flood it each time the link drains.
 */
struct router_link {
	uint32_t	 pending;	/* atomic: messages in flight */
	uint32_t	 waiting;	/* atomic: the sender wants a word */
	bool		 posted;	/* a release is on its way */
	uint64_t	*sids;		/* publishers stopped for this link */
	uint32_t	 n, cap;
};

/* A batch of at most ROUTER_ASSIST_MSGS messages for a worker, on a turn
 * with at most ROUTER_ASSIST_OWN conns of ours to write, while we hand over
 * at most ROUTER_ASSIST_RATE messages a second, may be matched by us if
 * that worker sleeps (router_before_sleep). */
#define ROUTER_ASSIST_MSGS	32
#define ROUTER_ASSIST_OWN	8
#define ROUTER_ASSIST_RATE	20000
#define ROUTER_LINK_HIGH	512
#define ROUTER_LINK_LOW		128

/* "The link from you to me is drained": release its publishers. */
struct link_drained {
	struct inbox_item hdr;
	uint16_t	 to;
};

struct fwd_shared {
	struct inbox_item hdr;
	struct msg	*m;
	uint64_t	 sid;
	uint8_t		 qos;
	bool		 rap;
	uint32_t	 sub_id;
	uint8_t		 hops;
	char		*share;		/* "group\0filter" */
	size_t		 share_len;
	char		*cid;		/* the member's client id */
};

/* Throttles for publishers' sessions on one worker (see session.c). */
struct flow_ev {
	uint64_t	 sid;
	bool		 on;
};

struct flow_batch {
	struct inbox_item hdr;
	uint32_t	 n, cap;
	struct flow_ev	*ev;
};

enum route_op { ROUTE_ADD, ROUTE_DEL, ROUTE_SHARE_ADD, ROUTE_SHARE_DEL };

struct route_delta {
	struct inbox_item hdr;
	enum route_op	 op;
	uint16_t	 worker;
	uint64_t	 sid;
	uint32_t	 client_hash;
	uint8_t		 qos;
	bool		 rap;
	bool		 no_local;
	uint32_t	 sub_id;
	uint16_t	 group_len;
	uint16_t	 filter_len;
	uint16_t	 cid_len;
	char		 key[];		/* group, filter, client id; no NULs */
};

void	 router_init(struct worker *);
void	 router_release(struct worker *);
/* Route a new message from a client, a will or the node (takes no ref). */
int	 router_publish(struct worker *, struct msg *);
/* Deliver to this worker's subscribers only. */
void	 router_deliver_local(struct worker *, struct msg *);
/* A local subscription appeared or went away. */
void	 router_sub_add(struct worker *, struct sub *);
void	 router_sub_del(struct worker *, struct sub *);
void	 router_apply(struct worker *, struct route_delta *);
void	 router_shared_in(struct worker *, struct fwd_shared *);
/* Send a message that a departing member held to another group member. */
void	 router_redispatch(struct worker *, struct msg *, const char *share,
	    uint64_t exclude_sid, uint8_t hops);
void	 router_before_sleep(struct worker *);
void	 router_cron(struct worker *);
/* $exclusive/FILTER: take (0) or find it held by another session (-1). */
int	 router_exclusive_take(struct str filter, uint64_t sid);
void	 router_exclusive_release(struct str filter, uint64_t sid);
void	 router_exclusive_free_all(void);
void	 router_forward_in(struct worker *, struct fwd_batch *);
/* Pause (on) or resume (off) reading from the publisher whose session is
 * sid, on whichever worker it lives; one off for every on. */
void	 router_flow(struct worker *, uint64_t sid, bool on);
void	 router_flow_in(struct worker *, struct flow_batch *);
void	 router_link_in(struct worker *, struct link_drained *);
/* A session of w starts (on) or stops (off) throttling its publishers. */
void	 router_congested(struct worker *, bool on);

#endif
