/*
 * raft.h: one Raft group's consensus state machine as a pure step function.
 *
 * The core does no I/O, reads no clock, starts no thread and keeps no global
 * state: the caller (the driver in raftdrv.c, the simulator in
 * t/helper/raftsim.c, the unit tests) feeds it events and carries out the
 * update it returns, in the style of etcd's raft (Ready) and cowsql's
 * raft_step().  Many groups live in one process, each a struct raft.
 *
 *	struct raft_update u;
 *	rc = raft_step(r, &ev, &u);
 *	1. persist: u.hs (if u.hs_changed), drop stored entries at index >=
 *	   u.truncate_from (if not 0), append u.entries, stage u.snap_chunk
 *	   (if u.has_snap_chunk): all of it in one durable write (fsync);
 *	2. send every u.msgs[i] with wait == RAFT_WAIT_NONE now, and those
 *	   with RAFT_WAIT_PERSIST only once the write of step 1 is durable;
 *	3. when that write is durable, step RAFT_EV_PERSISTED (index and term
 *	   of the last entry written, or of the log's last entry if none was)
 *	   and, after a last snapshot chunk, RAFT_EV_SNAP_PERSISTED;
 *	4. apply u.apply[] to the state machine in order, writing each entry's
 *	   effects and the applied index in one batch, then step
 *	   RAFT_EV_APPLIED;
 *	5. if u.snap_need, make a point-in-time view of the state machine at
 *	   its applied index and step RAFT_EV_SNAP_READY; fill the data of
 *	   RAFT_MSG_SNAP messages from that view when sending them;
 *	6. step RAFT_EV_TICK at u.deadline (or earlier: ticks are idempotent).
 * Writes of successive updates become durable in the order the updates
 * were returned (one FIFO to the disk); a driver may merge the writes of
 * many updates and many groups into one fsync (group commit).
 *
 * Ownership: every pointer in an update (entries, messages, their entries,
 * snapshot chunk data) points into memory the group owns, valid until the
 * next raft_step() or raft_free() on that group: copy or serialise what
 * must live longer.  Every pointer in an event is borrowed for the call:
 * the core copies what it keeps.  After warm-up the core allocates nothing
 * per entry: entry data lives in a byte arena, the log and the update's
 * arrays are reused.
 *
 * Safety rules kept here (research/raft.md §5; Raft §5, dissertation §3-4):
 * commit counts only current-term entries, after a no-op on election; the
 * leader counts itself only up to its persisted index; a follower's commit
 * never passes what the current leader verified nor its persisted log;
 * votes and every reply wait for term and vote to be durable, and vote
 * requests carry the persisted last index; no campaign or TimeoutNow while
 * entries or a snapshot are being persisted; truncation only on a real
 * conflict, never on a stale, duplicate or reordered AppendEntries; a disk
 * write error makes the replica step down and stop voting and acking until
 * it is restarted; a snapshot is installed only once all its chunks are
 * durable, and an install cut by a crash restarts.  Pre-vote and
 * check-quorum are on by default; leadership is transferred with TimeoutNow
 * to a caught-up voter only; membership changes one server at a time
 * (learner first, then voter), one uncommitted change at a time, taking
 * effect when appended.
 *
 * Test builds (-DRAFT_TEST_BUGS) honour raft_config.bugs: each bit breaks
 * one rule on purpose (enum raft_bug) so the simulator can show that it
 * catches that bug; without the macro the bits are ignored.
 */
#ifndef RAFT_H
#define RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t raft_index;
typedef uint64_t raft_term;
typedef uint64_t raft_id;	/* a node id; 0 is "none" */

/* Members of one group (voters and learners) at most. */
#define RAFT_MAX_NODES	64

enum raft_rc {
	RAFT_OK = 0,
	RAFT_NOT_LEADER,	/* propose/transfer/conf on a non-leader */
	RAFT_BUSY,		/* a transfer or a conf change is under way */
	RAFT_INVALID,		/* bad argument (unknown node, bad conf op) */
	RAFT_DISK_FAILED,	/* the replica had a disk error: restart it */
	RAFT_TOO_BIG,		/* a proposal over raft_config.max_entry_bytes */
};

enum raft_role {
	RAFT_FOLLOWER = 0,
	RAFT_PRECANDIDATE,
	RAFT_CANDIDATE,
	RAFT_LEADER,
	RAFT_LEARNER,		/* a follower that may not vote or campaign */
	RAFT_FAILED,		/* disk error: silent until restarted */
};

enum raft_entry_type {
	RAFT_ENTRY_NORMAL = 0,	/* a proposal: the state machine's bytes */
	RAFT_ENTRY_NOOP,	/* appended by a new leader */
	RAFT_ENTRY_CONF,	/* a configuration, raft_conf_encode()d */
};

struct raft_entry {
	raft_term	 term;
	raft_index	 index;
	uint8_t		 type;		/* enum raft_entry_type */
	const void	*data;
	size_t		 len;
};

enum raft_member_role {
	RAFT_VOTER = 1,
	RAFT_MEMBER_LEARNER,
};

struct raft_member {
	raft_id		 id;
	uint8_t		 role;		/* enum raft_member_role */
};

/* A configuration: who votes and who follows as a learner. */
struct raft_conf {
	unsigned		 n;
	struct raft_member	 m[RAFT_MAX_NODES];
};

/* What must be durable before a message may leave. */
enum raft_wait {
	RAFT_WAIT_NONE = 0,	/* send now (the leader's AppendEntries) */
	RAFT_WAIT_PERSIST,	/* after this update's write is durable */
};

enum raft_msg_type {
	RAFT_MSG_VOTE = 1,	/* RequestVote (pre-vote if .prevote) */
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_APPEND,	/* AppendEntries; a heartbeat has no entries */
	RAFT_MSG_APPEND_RESP,
	RAFT_MSG_SNAP,		/* one chunk of InstallSnapshot */
	RAFT_MSG_SNAP_RESP,
	RAFT_MSG_TIMEOUT_NOW,	/* leadership transfer: campaign now */
};

/*
 * One message; which fields mean something depends on the type:
 *	VOTE		index, log_term: candidate's persisted last entry;
 *			prevote; transfer (ignore the leader lease)
 *	VOTE_RESP	reject; prevote
 *	APPEND		index, log_term: the entry before entries[];
 *			commit; entries, n_entries
 *	APPEND_RESP	reject; index: last index now matched (success) or
 *			the rejected prev index; hint, log_term (on reject):
 *			the follower's last index that may match (at most
 *			its last) and its term there
 *	SNAP		index, log_term, conf: the snapshot's last entry and
 *			configuration; offset; data, len, last: the chunk
 *			(filled by the driver from its view, see raft_step)
 *	SNAP_RESP	index; offset: bytes staged so far (next offset);
 *			reject; done (installed)
 *	TIMEOUT_NOW	-
 * term is the sender's term in every message.  seq is the sender's
 * sequence for APPEND and SNAP, echoed in the response so stale replies
 * can be told apart.
 */
struct raft_msg {
	uint8_t			 type;	/* enum raft_msg_type */
	uint8_t			 wait;	/* enum raft_wait (outgoing only) */
	bool			 prevote;
	bool			 transfer;
	bool			 reject;
	bool			 last;
	bool			 done;
	raft_id			 from;
	raft_id			 to;
	raft_term		 term;
	raft_index		 index;
	raft_term		 log_term;
	raft_index		 commit;
	raft_index		 hint;
	uint64_t		 seq;
	const struct raft_entry	*entries;
	size_t			 n_entries;
	uint64_t		 offset;
	const void		*data;
	size_t			 len;
	const struct raft_conf	*conf;
};

/* What must survive a restart besides the log. */
struct raft_hard_state {
	raft_term	 term;
	raft_id		 vote;
	raft_index	 commit;	/* a hint: restored as min(commit, last) */
};

enum raft_conf_op {
	RAFT_CONF_ADD_LEARNER = 1,
	RAFT_CONF_PROMOTE,		/* learner -> voter (caught up) */
	RAFT_CONF_REMOVE,
};

enum raft_ev_type {
	RAFT_EV_TICK = 1,	/* now */
	RAFT_EV_RECV,		/* msg */
	RAFT_EV_PROPOSE,	/* bufs, n_bufs: one NORMAL entry each */
	RAFT_EV_PERSISTED,	/* index, term: the log is durable through it */
	RAFT_EV_PERSIST_FAILED,	/* the write of an update failed */
	RAFT_EV_SNAP_PERSISTED,	/* index, term: staged snapshot installed */
	RAFT_EV_APPLIED,	/* index: the state machine applied through it */
	RAFT_EV_COMPACT,	/* index (<= applied): log may drop through it */
	RAFT_EV_SNAP_READY,	/* to, index: a view at index exists for to */
	RAFT_EV_TRANSFER,	/* to: hand leadership over */
	RAFT_EV_CONF_CHANGE,	/* conf_op, to */
	RAFT_EV_CAMPAIGN,	/* start an election now (tests, bootstrap) */
};

struct raft_buf {
	const void	*data;
	size_t		 len;
};

struct raft_event {
	uint8_t			 type;	/* enum raft_ev_type */
	uint8_t			 conf_op;	/* enum raft_conf_op */
	uint64_t		 now;	/* ms, every event: the caller's clock */
	const struct raft_msg	*msg;
	const struct raft_buf	*bufs;
	size_t			 n_bufs;
	raft_index		 index;
	raft_term		 term;
	raft_id			 to;
};

/* A snapshot chunk to stage (follower): installed on SNAP_PERSISTED. */
struct raft_snap_chunk {
	raft_index		 index;
	raft_term		 term;
	const struct raft_conf	*conf;
	uint64_t		 offset;	/* 0 starts a new staging */
	const void		*data;
	size_t			 len;
	bool			 last;
};

struct raft_update {
	bool			 hs_changed;
	struct raft_hard_state	 hs;
	raft_index		 truncate_from;	/* 0: nothing to drop */
	const struct raft_entry	*entries;
	size_t			 n_entries;
	bool			 has_snap_chunk;
	struct raft_snap_chunk	 snap_chunk;
	struct raft_msg		*msgs;
	size_t			 n_msgs;
	const struct raft_entry	*apply;		/* committed, in order */
	size_t			 n_apply;
	raft_id			 snap_need;	/* 0, or a peer to send one */
	raft_index		 prop_first;	/* PROPOSE, CONF_CHANGE: the */
	raft_index		 prop_last;	/*   indexes given, 0: none */
	raft_term		 prop_term;
	uint64_t		 deadline;	/* tick by then (ms) */
};

/* Bugs a test build can switch on (raft_config.bugs), one bit each. */
enum raft_bug {
	RAFT_BUG_COMMIT_OLD_TERM = 1u << 0,	/* Figure 8 */
	RAFT_BUG_LEADER_SELF_UNPERSISTED = 1u << 1,
	RAFT_BUG_FOLLOWER_COMMIT_UNPERSISTED = 1u << 2,
	RAFT_BUG_VOTE_BEFORE_PERSIST = 1u << 3,
	RAFT_BUG_VOTE_NO_UPTODATE = 1u << 4,
	RAFT_BUG_CAMPAIGN_WHILE_PERSISTING = 1u << 5,
	RAFT_BUG_TRUNCATE_STALE_APPEND = 1u << 6,
	RAFT_BUG_ACK_BEFORE_FSYNC = 1u << 7,
	RAFT_BUG_DISK_ERROR_IGNORED = 1u << 8,
	RAFT_BUG_SNAP_INSTALL_EARLY = 1u << 9,
};
#define RAFT_BUG_COUNT	10

struct raft_config {
	raft_id		 id;
	uint64_t	 seed;			/* election timeout PRNG */
	unsigned	 election_ms;		/* base; random in [e, 2e) */
	unsigned	 heartbeat_ms;
	bool		 no_prevote;
	bool		 no_check_quorum;
	unsigned	 max_inflight;		/* AppendEntries per follower */
	size_t		 max_inflight_bytes;	/* per follower */
	size_t		 max_append_bytes;	/* entry bytes per message */
	size_t		 max_entry_bytes;	/* one proposal */
	uint32_t	 bugs;			/* enum raft_bug (test builds) */
};

/* What a replica restarts from: all of it read from durable storage. */
struct raft_restore {
	struct raft_hard_state	 hs;
	raft_index		 snap_index;	/* 0: none */
	raft_term		 snap_term;
	struct raft_conf	 snap_conf;	/* the conf at snap_index */
	const struct raft_entry	*entries;	/* snap_index + 1 ... */
	size_t			 n_entries;
	raft_index		 applied;	/* the state machine's */
};

/* A peer's replication state, as the leader sees it. */
struct raft_peer_status {
	raft_id		 id;
	uint8_t		 role;		/* enum raft_member_role */
	raft_index	 match;
	raft_index	 next;
	bool		 active;	/* heard from in the last election_ms */
	bool		 snapshotting;
};

struct raft_status {
	raft_id			 id;
	uint8_t			 role;		/* enum raft_role */
	raft_term		 term;
	raft_id			 vote;
	raft_id			 leader;	/* 0: unknown */
	raft_index		 first;		/* first index in the log */
	raft_index		 last;
	raft_index		 persisted;
	raft_index		 commit;
	raft_index		 applied;
	raft_index		 snap_index;
	struct raft_conf	 conf;
	unsigned		 n_peers;	/* leader only */
	struct raft_peer_status	 peers[RAFT_MAX_NODES];
};

/* A group with the given settings (zeros take defaults). */
struct raft	*raft_new(const struct raft_config *);
void		 raft_free(struct raft *);
/* Load persisted state before the first step; -1 if inconsistent. */
int		 raft_restore(struct raft *, const struct raft_restore *);
/* Feed one event; the update is valid until the next call. */
enum raft_rc	 raft_step(struct raft *, const struct raft_event *,
		     struct raft_update *);
void		 raft_status(const struct raft *, struct raft_status *);
enum raft_role	 raft_role(const struct raft *);
raft_id		 raft_leader(const struct raft *);
raft_term	 raft_current_term(const struct raft *);

/*
 * The first entry of a new group: index 1, term 1, a CONF entry with the
 * initial voters.  Every initial member persists the same entry (and
 * restores with hs.commit = 1) before its first step; members added later
 * start empty and receive it.  Writes at most cap bytes of data into buf.
 */
size_t		 raft_conf_encode(const struct raft_conf *, void *, size_t);
int		 raft_conf_decode(const void *, size_t, struct raft_conf *);
const char	*raft_rc_name(enum raft_rc);
const char	*raft_role_name(enum raft_role);
const char	*raft_msg_type_name(enum raft_msg_type);
/* The name of bug bit i (0 .. RAFT_BUG_COUNT - 1), e.g. "commit-old-term". */
const char	*raft_bug_name(unsigned);

#endif /* RAFT_H */
