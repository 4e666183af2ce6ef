/*
 * raftdrv.h: the driver that runs many Raft groups of one node.
 *
 * The driver does the I/O the pure core (raft.h) leaves out, following
 * the update protocol in raft.h's header: one libev timer serves every
 * group's deadline; a transport (a struct of function pointers: the node
 * links plug in here, raftdrv_inproc connects drivers of one process)
 * carries messages; one storage thread takes the writes of every group of
 * a loop turn and writes them with ONE leveldb_write with sync (group
 * commit), then reports back through an ev_async.  A message tagged
 * RAFT_WAIT_PERSIST is held until the write it depends on is durable, and
 * dropped if that write failed: nothing is acknowledged, voted or sent
 * before its fsync.  Committed entries are applied on the loop thread by
 * the group's state machine, which writes its effects into the same batch
 * as the applied index (raftlog.h), so replay after a crash is idempotent.
 *
 * Threads: every function here runs on the loop thread given in the
 * config; the storage thread touches only jobs and the raftlog.
 */
#ifndef RAFTDRV_H
#define RAFTDRV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft.h"
#include "raftlog.h"

struct ev_loop;
struct raftdrv;
struct raftdrv_inproc;

/* How a proposal or a configuration change ended. */
enum raftdrv_result {
	RAFTDRV_COMMITTED = 0,	/* committed and applied at first..last */
	RAFTDRV_LOST,		/* its index got another entry: never
				   applied */
	RAFTDRV_STOPPED,	/* the group stopped first: outcome unknown */
	RAFTDRV_FAILED,		/* a disk error here: outcome unknown
				   (the others may commit it) */
	RAFTDRV_UNKNOWN,	/* a snapshot replaced the log here: the
				   batch may or may not be in it */
};

struct raftdrv_done {
	enum raftdrv_result	 result;
	uint16_t		 group;
	raft_index		 first;
	raft_index		 last;
	raft_id			 leader;	/* the leader now, or 0 */
	const char		*leader_name;	/* or NULL */
};

typedef void	 raftdrv_done_f(void *, const struct raftdrv_done *);

/* A transport; the node links of the cluster implement one. */
struct raftdrv_transport {
	/* Send m (of group) to m->to; copy whatever must outlive the call. */
	void		 (*send)(void *, uint16_t, const struct raft_msg *);
	/* End of a loop turn: push out what send() queued (may be NULL). */
	void		 (*flush)(void *);
	/* The name of a node, or NULL (may be NULL). */
	const char	*(*name)(void *, raft_id);
};

/* A group's state machine; its calls run on the loop thread. */
struct raftdrv_sm {
	/* Apply a committed NORMAL entry, writing its effects into the
	 * batch with raftlog_sm_put() and raftlog_sm_del(). */
	void		 (*apply)(void *, uint16_t,
			     const struct raft_entry *,
			     struct raftlog_batch *);
	/* A snapshot replaced the state machine's records (may be NULL). */
	void		 (*installed)(void *, uint16_t, raft_index);
	void		*arg;
};

struct raftdrv_config {
	raft_id				 id;
	const char			*name;
	struct ev_loop			*loop;
	struct raftlog			*log;
	const struct raftdrv_transport	*tr;
	void				*tr_arg;
	struct raft_config		 raft;	/* id, seed: per group */
	raft_index			 compact_every;	/* 0: 8192 */
	raft_index			 compact_keep;	/* 0: 1024 */
	size_t				 snap_chunk;	/* 0: 256K */
};

struct raftdrv_stats {
	uint64_t	 steps;
	uint64_t	 jobs;		/* handed to the storage thread */
	uint64_t	 writes;	/* leveldb_write calls of the thread */
	uint64_t	 held;		/* messages held for a write */
	uint64_t	 applied;	/* entries applied */
	uint64_t	 snaps_sent;	/* snapshot chunks sent */
	uint64_t	 installs;	/* snapshots installed */
	uint64_t	 compactions;
};

struct raftdrv	*raftdrv_new(const struct raftdrv_config *, char **cause);
/* Stop: what the storage thread has is written; pending callbacks get
 * RAFTDRV_STOPPED. */
void		 raftdrv_free(struct raftdrv *);
/* Stop as a kill -9 would (for tests): writes not yet made are dropped,
 * nothing more is sent; callbacks get RAFTDRV_STOPPED. */
void		 raftdrv_crash(struct raftdrv *);
/*
 * Start a group from the store.  A group the store has nothing of starts
 * as a new group of the voters in conf (index 1, term 1, raft.h) or, with
 * conf NULL, empty (a member being added, filled by the leader).  -1 with
 * *cause if the stored state is damaged (the group stays down).
 */
int		 raftdrv_group_start(struct raftdrv *, uint16_t,
		     const struct raft_conf *, const struct raftdrv_sm *,
		     char **cause);
/* Stop one group (its pending callbacks get RAFTDRV_STOPPED). */
void		 raftdrv_group_stop(struct raftdrv *, uint16_t);
/* A message from the transport (borrowed for the call). */
void		 raftdrv_recv(struct raftdrv *, uint16_t,
		     const struct raft_msg *);
/*
 * Propose n entries to a group.  RAFT_OK: cb is called once, when the
 * batch is committed and applied here, or lost, or its outcome cannot
 * be known here (the group stopped, a disk error, a snapshot installed
 * over it).
 * Otherwise (RAFT_NOT_LEADER: raftdrv_leader() names the leader) nothing
 * was proposed and cb is not called.
 */
enum raft_rc	 raftdrv_propose(struct raftdrv *, uint16_t,
		     const struct raft_buf *, size_t, raftdrv_done_f *, void *);
enum raft_rc	 raftdrv_transfer(struct raftdrv *, uint16_t, raft_id);
/* Add a learner, promote it, or remove a member; cb as for a proposal
 * (may be NULL). */
enum raft_rc	 raftdrv_conf_change(struct raftdrv *, uint16_t,
		     enum raft_conf_op, raft_id, raftdrv_done_f *, void *);
enum raft_rc	 raftdrv_campaign(struct raftdrv *, uint16_t);
/* The leader this replica knows of (0 if none) and its name. */
raft_id		 raftdrv_leader(struct raftdrv *, uint16_t,
		     const char **);
/* -1 if the group is not started here. */
int		 raftdrv_status(struct raftdrv *, uint16_t,
		     struct raft_status *);
raft_index	 raftdrv_applied(struct raftdrv *, uint16_t);
struct raftlog	*raftdrv_log(struct raftdrv *);
void		 raftdrv_stats(struct raftdrv *, struct raftdrv_stats *);

/* A deep copy of a message in one allocation (free() it). */
struct raft_msg	*raftdrv_msg_dup(const struct raft_msg *);

/*
 * The in-process transport: drivers of one process on one loop.  Create
 * it, pass &raftdrv_inproc_transport and it as tr/tr_arg to each driver,
 * then add each driver.  Messages are copied and delivered on a later
 * loop iteration; a link can be cut (both ways) to make partitions.
 */
extern const struct raftdrv_transport raftdrv_inproc_transport;
struct raftdrv_inproc *raftdrv_inproc_new(struct ev_loop *);
void		 raftdrv_inproc_free(struct raftdrv_inproc *);
void		 raftdrv_inproc_add(struct raftdrv_inproc *, raft_id,
		     const char *, struct raftdrv *);
/* Take a node out (its driver stopped); queued messages to it drop. */
void		 raftdrv_inproc_remove(struct raftdrv_inproc *, raft_id);
void		 raftdrv_inproc_cut(struct raftdrv_inproc *, raft_id,
		     raft_id, bool);
/* Messages delivered and dropped so far. */
void		 raftdrv_inproc_counts(struct raftdrv_inproc *, uint64_t *,
		     uint64_t *);

#endif /* RAFTDRV_H */
