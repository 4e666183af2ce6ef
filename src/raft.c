/*
 * raft.c: one Raft group's consensus state machine as a pure step function
 * (the contract is raft.h; the rules are research/raft.md §5).
 *
 * No I/O, no clock, no threads, no global state: raft_step() takes one
 * event and fills one update that points into memory the group owns.
 * Includes only libc and raft.h.
 *
 * Memory.  The log is one array of struct raft_entry (first index
 * snap_index + 1), grown by doubling and reused; entry data lives in a
 * byte arena of chunks allocated in log order, so dropping a prefix
 * (compaction) frees whole chunks at the head and dropping a suffix
 * (truncation) rolls the tail back; one spare chunk is kept, so a steady
 * stream of entries allocates nothing after warm-up.  Messages and their
 * entry pointers are resolved at the end of a step (finish()), after every
 * change to the log, so no pointer handed out is stale when it is returned.
 *
 * Invariants (checked by the unit tests and the simulator):
 *	snap_index <= commit <= last; persisted <= last;
 *	applied <= applying <= min(commit, persisted) (apply is handed out
 *	    only up to what is durable here);
 *	a follower's commit <= min(commit_target, persisted), where
 *	    commit_target is min(leader commit, last index verified by an
 *	    AppendEntries of the current leader);
 *	the leader counts itself in a quorum only up to persisted and
 *	    commits only an entry of its own term (Raft §5.4.2);
 *	every reply (VOTE_RESP, APPEND_RESP, SNAP_RESP) and every real
 *	    VOTE request waits for this update's write (RAFT_WAIT_PERSIST);
 *	    the leader's AppendEntries go at once (thesis §10.2.1);
 *	no campaign (nor obeying TimeoutNow) while persisted < last or a
 *	    snapshot install is pending; vote requests carry persisted;
 *	truncation only at a real conflict (same index, other term), never
 *	    at or below commit;
 *	conf is the last configuration in the log (or the snapshot's): it
 *	    takes effect when appended and reverts when truncated away; a
 *	    leader appends a change only after an entry of its term has
 *	    committed, and one uncommitted change at a time.
 *
 * Writes.  The caller makes the writes of successive updates durable in
 * order.  An update with nothing to write is a barrier: its
 * RAFT_WAIT_PERSIST messages go once every earlier write is durable.  The
 * update that stages the last chunk of a snapshot also carries
 * truncate_from = the log's first index: that durable write is the install
 * (the staged snapshot becomes the state machine, every stored entry is
 * dropped); RAFT_EV_SNAP_PERSISTED then tells the core.  Staging does not
 * survive a restart: the core restarts it at offset 0.  hs is always the
 * current hard state; hs_changed says term or vote changed.
 *
 * Bug switches (-DRAFT_TEST_BUGS, raft_config.bugs), each breaking one rule:
 *	commit-old-term		the leader commits an old-term entry by
 *				counting replicas (Figure 8);
 *	leader-self-unpersisted	the leader counts itself up to its last
 *				index, not its persisted one;
 *	follower-commit-unpersisted  a follower's commit ignores persisted
 *				(and it applies through that commit);
 *	vote-before-persist	VOTE and VOTE_RESP go RAFT_WAIT_NONE;
 *	vote-no-uptodate	votes are granted without the up-to-date check;
 *	campaign-while-persisting  campaigns (and obeys TimeoutNow) with
 *				entries unpersisted, claiming its last index
 *				in the vote request and from then on taking
 *				them as durable (the write in flight is
 *				forgotten, as in cowsql 634cb11);
 *	truncate-stale-append	an AppendEntries with entries drops the
 *				suffix after them even when all match;
 *	ack-before-fsync	APPEND_RESP success goes RAFT_WAIT_NONE;
 *	disk-error-ignored	RAFT_EV_PERSIST_FAILED is ignored;
 *	snap-install-early	a snapshot chunk at any offset is taken as the
 *				next one of the staging, so an install cut by
 *				a crash completes with chunks missing.
 */
#include <stdlib.h>
#include <string.h>

#include "raft.h"

#ifdef RAFT_TEST_BUGS
#define BUG(r, b)	(((r)->cfg.bugs & (RAFT_BUG_ ## b)) != 0)
#else
#define BUG(r, b)	0
#endif

#define ARENA_CHUNK	(256u * 1024)
#define CONF_MAGIC	0xc1

/* A piece of the entry data arena; chunks are in log order. */
struct chunk {
	struct chunk	*next;
	struct chunk	*prev;
	size_t		 cap;
	size_t		 used;
	uint8_t		 data[];
};

/* How the leader replicates to a peer (etcd's progress states). */
enum pr_state {
	PR_PROBE = 0,		/* one AppendEntries at a time, find next */
	PR_REPLICATE,		/* pipelined, within the in-flight window */
	PR_SNAPSHOT,		/* streaming a snapshot, chunk by chunk */
};

/* One AppendEntries in flight: its last index and entry bytes. */
struct inflight {
	raft_index	 last;
	size_t		 bytes;
};

/* A member of the configuration, with the leader's view of it. */
struct peer {
	raft_id		 id;
	uint8_t		 role;		/* enum raft_member_role */
	uint8_t		 state;		/* enum pr_state */
	uint8_t		 vote;		/* 0 none, 1 granted, 2 rejected */
	bool		 active;	/* heard from since the last check */
	bool		 probe_sent;
	bool		 snap_wanted;	/* snap_need to be raised */
	bool		 snap_ready;	/* a view exists: chunks may go */
	raft_index	 match;
	raft_index	 next;
	uint64_t	 ae_seq;	/* seq of the last AppendEntries */
	uint64_t	 probe_at;
	uint64_t	 progress_at;
	uint64_t	 heard_at;
	struct inflight	*fl;		/* ring of max_inflight */
	unsigned	 fl_head;
	unsigned	 fl_n;
	size_t		 fl_bytes;
	raft_index	 snap_index;
	raft_term	 snap_term;
	struct raft_conf *snap_conf;
	uint64_t	 snap_offset;
	uint64_t	 snap_seq;	/* seq of the chunk in flight */
	uint64_t	 snap_at;
};

struct raft {
	struct raft_config	 cfg;
	uint64_t		 rng;
	uint64_t		 now;
	bool			 started;

	enum raft_role		 role;
	raft_term		 term;
	raft_id			 vote;
	raft_id			 leader;
	raft_term		 saved_term;	/* last hs handed out */
	raft_id			 saved_vote;

	/* The log. */
	struct raft_entry	*log;
	size_t			 log_n;
	size_t			 log_cap;
	raft_index		 snap_index;
	raft_term		 snap_term;
	struct raft_conf	 snap_conf;
	raft_index		 persisted;
	raft_index		 commit;
	raft_index		 commit_target;
	raft_index		 verified;	/* matched the leader, this term */
	raft_index		 applying;	/* handed out in u.apply */
	raft_index		 applied;
	struct chunk		*ar_head;
	struct chunk		*ar_tail;
	struct chunk		*ar_spare;

	/* Configuration in effect and the members. */
	struct raft_conf	 conf;
	raft_index		 conf_index;
	struct peer		 peers[RAFT_MAX_NODES];
	unsigned		 n_peers;

	/* Timers (absolute ms). */
	uint64_t		 election_at;
	uint64_t		 heartbeat_at;
	uint64_t		 check_at;
	uint64_t		 leader_heard_at;

	uint64_t		 seq;
	raft_id			 transfer_to;	/* leader: handing over */
	bool			 transfer_sent;
	uint64_t		 transfer_at;	/* abort deadline */
	bool			 timeout_now;	/* campaign once persisted */

	/* Snapshot being received. */
	raft_index		 stage_index;
	raft_term		 stage_term;
	struct raft_conf	 stage_conf;
	uint64_t		 stage_offset;
	raft_id			 stage_from;
	bool			 stage_pending;	/* last chunk being written */
	uint8_t			*stage_buf;
	size_t			 stage_cap;

	/* The update being built. */
	struct raft_msg		*msgs;
	raft_index		*msg_lo;	/* first entry index per msg */
	size_t			 n_msgs;
	size_t			 msgs_cap;
	raft_index		 u_trunc;
	raft_index		 u_app_lo;
	bool			 u_chunk;
	struct raft_snap_chunk	 u_snap_chunk;
	raft_id			 u_snap_need;
	raft_index		 u_prop_first;
	raft_index		 u_prop_last;
	bool			 u_silent;
};

static void	become_follower(struct raft *, raft_term, raft_id);
static void	send_append(struct raft *, struct peer *);
static void	maybe_commit(struct raft *);
static void	campaign(struct raft *, bool, bool);

/* Abort on out of memory (raft.c links nothing of the engine). */
static void *
xrealloc0(void *p, size_t n)
{
	if ((p = realloc(p, n == 0 ? 1 : n)) == NULL)
		abort();
	return (p);
}

/* Next number of the group's own PRNG (xorshift64*). */
static uint64_t
rnd(struct raft *r)
{
	r->rng ^= r->rng >> 12;
	r->rng ^= r->rng << 25;
	r->rng ^= r->rng >> 27;
	return (r->rng * 0x2545f4914f6cdd1dULL);
}

/* Last index of the log. */
static raft_index
last_index(const struct raft *r)
{
	return (r->snap_index + r->log_n);
}

/* Term of the entry at i; 0 if unknown (compacted or beyond the end). */
static raft_term
term_at(const struct raft *r, raft_index i)
{
	if (i == r->snap_index)
		return (r->snap_term);
	if (i < r->snap_index || i > last_index(r))
		return (0);
	return (r->log[i - r->snap_index - 1].term);
}

/* The entry at i, which must be in the log. */
static struct raft_entry *
entry_at(const struct raft *r, raft_index i)
{
	return (&r->log[i - r->snap_index - 1]);
}

/* Start a new election timeout, random in [e, 2e). */
static void
reset_election(struct raft *r)
{
	r->election_at = r->now + r->cfg.election_ms +
	    rnd(r) % r->cfg.election_ms;
}

/* Copy len bytes into the arena; the result stays put until dropped. */
static void *
arena_put(struct raft *r, const void *data, size_t len)
{
	struct chunk	*c = r->ar_tail;
	size_t		 cap;
	uint8_t		*p;

	if (len == 0)
		return (NULL);
	if (c == NULL || c->cap - c->used < len) {
		cap = len > ARENA_CHUNK ? len : ARENA_CHUNK;
		if (r->ar_spare != NULL && r->ar_spare->cap >= cap) {
			c = r->ar_spare;
			r->ar_spare = NULL;
		} else
			c = xrealloc0(NULL, sizeof *c + cap);
		c->cap = cap;
		c->used = 0;
		c->next = NULL;
		c->prev = r->ar_tail;
		if (r->ar_tail != NULL)
			r->ar_tail->next = c;
		else
			r->ar_head = c;
		r->ar_tail = c;
	}
	p = c->data + c->used;
	memcpy(p, data, len);
	c->used += len;
	return (p);
}

/* Give a chunk back: keep one standard chunk as the spare. */
static void
chunk_release(struct raft *r, struct chunk *c)
{
	if (r->ar_spare == NULL && c->cap == ARENA_CHUNK)
		r->ar_spare = c;
	else
		free(c);
}

/* Does chunk c hold p? */
static bool
chunk_has(const struct chunk *c, const void *p)
{
	const uint8_t	*q = p;

	return (q >= c->data && q < c->data + c->cap);
}

/* Free head chunks that do not hold keep (NULL: free them all). */
static void
arena_drop_front(struct raft *r, const void *keep)
{
	struct chunk	*c;

	while ((c = r->ar_head) != NULL && (keep == NULL ||
	    !chunk_has(c, keep))) {
		r->ar_head = c->next;
		if (r->ar_head != NULL)
			r->ar_head->prev = NULL;
		else
			r->ar_tail = NULL;
		chunk_release(r, c);
	}
}

/* Roll the arena back so that from (first dropped datum) is free again. */
static void
arena_drop_back(struct raft *r, const void *from)
{
	struct chunk	*c;

	while ((c = r->ar_tail) != NULL && !chunk_has(c, from)) {
		r->ar_tail = c->prev;
		if (r->ar_tail != NULL)
			r->ar_tail->next = NULL;
		else
			r->ar_head = NULL;
		chunk_release(r, c);
	}
	if (c != NULL)
		c->used = (size_t)((const uint8_t *)from - c->data);
}

/* Find a member of the configuration, NULL if none. */
static const struct raft_member *
conf_find(const struct raft_conf *c, raft_id id)
{
	unsigned	 i;

	for (i = 0; i < c->n; i++)
		if (c->m[i].id == id)
			return (&c->m[i]);
	return (NULL);
}

/* Is id a voter in the configuration in effect? */
static bool
is_voter(const struct raft *r, raft_id id)
{
	const struct raft_member *m = conf_find(&r->conf, id);

	return (m != NULL && m->role == RAFT_VOTER);
}

/* Votes needed for a majority of the voters in effect. */
static unsigned
quorum(const struct raft *r)
{
	unsigned	 i, n = 0;

	for (i = 0; i < r->conf.n; i++)
		if (r->conf.m[i].role == RAFT_VOTER)
			n++;
	return (n / 2 + 1);
}

/* The peer with this id, NULL if not a member. */
static struct peer *
peer_find(struct raft *r, raft_id id)
{
	unsigned	 i;

	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].id == id)
			return (&r->peers[i]);
	return (NULL);
}

/* Forget what the leader had in flight to a peer. */
static void
peer_clear_inflight(struct peer *p)
{
	p->fl_head = 0;
	p->fl_n = 0;
	p->fl_bytes = 0;
}

/* Reset a peer's progress for a new leader term. */
static void
peer_reset(struct raft *r, struct peer *p)
{
	p->state = PR_PROBE;
	p->match = 0;
	p->next = last_index(r) + 1;
	p->probe_sent = false;
	p->snap_wanted = false;
	p->snap_ready = false;
	p->active = true;
	p->progress_at = r->now;
	peer_clear_inflight(p);
}

/* Make the peer table match conf, keeping the progress of those who stay. */
static void
peers_sync(struct raft *r)
{
	struct peer	 old[RAFT_MAX_NODES], *p;
	unsigned	 i, j, n_old = r->n_peers;
	bool		 kept[RAFT_MAX_NODES];

	memcpy(old, r->peers, sizeof(old[0]) * n_old);
	memset(kept, 0, sizeof kept);
	r->n_peers = 0;
	for (i = 0; i < r->conf.n; i++) {
		p = &r->peers[r->n_peers++];
		for (j = 0; j < n_old; j++)
			if (old[j].id == r->conf.m[i].id)
				break;
		if (j < n_old) {
			*p = old[j];
			kept[j] = true;
		} else {
			memset(p, 0, sizeof *p);
			p->id = r->conf.m[i].id;
			p->fl = xrealloc0(NULL,
			    sizeof(*p->fl) * r->cfg.max_inflight);
			peer_reset(r, p);
		}
		p->role = r->conf.m[i].role;
	}
	for (j = 0; j < n_old; j++)
		if (!kept[j]) {
			free(old[j].fl);
			free(old[j].snap_conf);
		}
}

/* The role a non-leader takes under the configuration in effect. */
static enum raft_role
follower_role(const struct raft *r)
{
	const struct raft_member *m = conf_find(&r->conf, r->cfg.id);

	return (m != NULL && m->role == RAFT_MEMBER_LEARNER ? RAFT_LEARNER :
	    RAFT_FOLLOWER);
}

/* Put a configuration in effect (appended, restored or installed). */
static void
conf_set(struct raft *r, const struct raft_conf *c, raft_index at)
{
	if (c != &r->conf)
		r->conf = *c;
	r->conf_index = at;
	peers_sync(r);
	if (r->role == RAFT_FOLLOWER || r->role == RAFT_LEARNER)
		r->role = follower_role(r);
}

/* The configuration as of index i (the last one at or before it). */
static void
conf_at(const struct raft *r, raft_index i, struct raft_conf *c)
{
	const struct raft_entry *e;

	for (; i > r->snap_index; i--) {
		e = entry_at(r, i);
		if (e->type == RAFT_ENTRY_CONF &&
		    raft_conf_decode(e->data, e->len, c) == 0)
			return;
	}
	*c = r->snap_conf;
}

/* Re-derive the configuration in effect from the log's tail. */
static void
conf_reload(struct raft *r)
{
	raft_index	 i;

	for (i = last_index(r); i > r->snap_index; i--)
		if (entry_at(r, i)->type == RAFT_ENTRY_CONF)
			break;
	conf_at(r, i, &r->conf);
	conf_set(r, &r->conf, i);
}

/* Append one entry (data copied into the arena). */
static struct raft_entry *
log_append(struct raft *r, raft_term term, uint8_t type, const void *data,
    size_t len)
{
	struct raft_entry	*e;
	struct raft_conf	 c;

	if (r->log_n == r->log_cap) {
		r->log_cap = r->log_cap == 0 ? 64 : r->log_cap * 2;
		r->log = xrealloc0(r->log, sizeof(*r->log) * r->log_cap);
	}
	e = &r->log[r->log_n++];
	e->term = term;
	e->index = last_index(r);
	e->type = type;
	e->data = arena_put(r, data, len);
	e->len = len;
	if (r->u_app_lo == 0)
		r->u_app_lo = e->index;
	if (type == RAFT_ENTRY_CONF && raft_conf_decode(data, len, &c) == 0)
		conf_set(r, &c, e->index);
	return (e);
}

/* Drop the entries at index >= from (from > snap_index). */
static void
log_truncate(struct raft *r, raft_index from)
{
	size_t		 k = from - r->snap_index - 1, i;

	if (from > last_index(r))
		return;
	for (i = k; i < r->log_n; i++)
		if (r->log[i].len > 0) {
			arena_drop_back(r, r->log[i].data);
			break;
		}
	r->log_n = k;
	if (r->u_trunc == 0 || from < r->u_trunc)
		r->u_trunc = from;
	if (r->u_app_lo >= from)
		r->u_app_lo = 0;
	if (r->persisted >= from)
		r->persisted = from - 1;
	if (r->commit_target >= from)
		r->commit_target = from - 1;
	if (r->verified >= from)
		r->verified = from - 1;
	if (r->conf_index >= from)
		conf_reload(r);
}

/* Drop the entries through upto (snap_index < upto <= last). */
static void
log_compact(struct raft *r, raft_index upto)
{
	size_t		 k = upto - r->snap_index, i;

	conf_at(r, upto, &r->snap_conf);
	r->snap_term = term_at(r, upto);
	memmove(r->log, r->log + k, sizeof(*r->log) * (r->log_n - k));
	r->log_n -= k;
	r->snap_index = upto;
	for (i = 0; i < r->log_n; i++)
		if (r->log[i].len > 0)
			break;
	arena_drop_front(r, i < r->log_n ? r->log[i].data : NULL);
}

/* A new outgoing message to a peer (to == 0: none yet). */
static struct raft_msg *
msg_new(struct raft *r, uint8_t type, raft_id to, uint8_t wait)
{
	struct raft_msg	*m;

	if (r->n_msgs == r->msgs_cap) {
		r->msgs_cap = r->msgs_cap == 0 ? 16 : r->msgs_cap * 2;
		r->msgs = xrealloc0(r->msgs, sizeof(*r->msgs) * r->msgs_cap);
		r->msg_lo = xrealloc0(r->msg_lo,
		    sizeof(*r->msg_lo) * r->msgs_cap);
	}
	r->msg_lo[r->n_msgs] = 0;
	m = &r->msgs[r->n_msgs++];
	memset(m, 0, sizeof *m);
	m->type = type;
	m->wait = wait;
	m->from = r->cfg.id;
	m->to = to;
	m->term = r->term;
	return (m);
}

/* The wait tag of a reply: after this update's write. */
static uint8_t
reply_wait(void)
{
	return (RAFT_WAIT_PERSIST);
}

/*
 * Election.
 */

/* Can this replica start an election now? */
static bool
can_campaign(const struct raft *r)
{
	if (r->role == RAFT_LEADER || r->role == RAFT_FAILED ||
	    !is_voter(r, r->cfg.id))
		return (false);
	if (BUG(r, CAMPAIGN_WHILE_PERSISTING))
		return (true);
	/* Rule 4: not while entries or a snapshot are being persisted. */
	return (r->persisted == last_index(r) && !r->stage_pending);
}

/* Become a follower (or learner) in term, knowing leader (0: none). */
static void
become_follower(struct raft *r, raft_term term, raft_id leader)
{
	unsigned	 i;

	/* What a leader verified holds for that leader in that term only. */
	if (term != r->term || leader != r->leader || leader == 0)
		r->verified = 0;
	if (term != r->term) {
		r->term = term;
		r->vote = 0;
	}
	r->role = follower_role(r);
	r->leader = leader;
	r->transfer_to = 0;
	r->timeout_now = false;
	for (i = 0; i < r->n_peers; i++)
		r->peers[i].vote = 0;
	reset_election(r);
}

/* Win the election: append the no-op and start replicating. */
static void
become_leader(struct raft *r)
{
	unsigned	 i;

	r->role = RAFT_LEADER;
	r->leader = r->cfg.id;
	r->transfer_to = 0;
	r->timeout_now = false;
	for (i = 0; i < r->n_peers; i++)
		peer_reset(r, &r->peers[i]);
	r->heartbeat_at = r->now + r->cfg.heartbeat_ms;
	r->check_at = r->now + r->cfg.election_ms;
	/* The no-op lets entries of older terms commit (Raft §5.4.2). */
	log_append(r, r->term, RAFT_ENTRY_NOOP, NULL, 0);
	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].id != r->cfg.id)
			send_append(r, &r->peers[i]);
	maybe_commit(r);
}

/* Count the votes; act on a majority either way. */
static void
tally(struct raft *r)
{
	unsigned	 i, yes = 0, no = 0, q = quorum(r);

	for (i = 0; i < r->n_peers; i++) {
		if (r->peers[i].role != RAFT_VOTER)
			continue;
		if (r->peers[i].vote == 1)
			yes++;
		else if (r->peers[i].vote == 2)
			no++;
	}
	if (yes >= q) {
		if (r->role == RAFT_PRECANDIDATE)
			campaign(r, false, false);
		else
			become_leader(r);
	} else if (no >= q)
		become_follower(r, r->term, 0);
}

/*
 * Start an election: a pre-vote round (pre, our term is not bumped) or a
 * real one.  Vote requests carry the persisted last entry (rule 3).
 */
static void
campaign(struct raft *r, bool pre, bool transfer)
{
	struct raft_msg	*m;
	struct peer	*self;
	raft_index	 li;
	unsigned	 i;

	r->leader = 0;
	r->verified = 0;
	r->timeout_now = false;
	for (i = 0; i < r->n_peers; i++)
		r->peers[i].vote = 0;
	if (pre)
		r->role = RAFT_PRECANDIDATE;
	else {
		r->role = RAFT_CANDIDATE;
		r->term++;
		r->vote = r->cfg.id;
	}
	reset_election(r);
	li = r->persisted;
	if (BUG(r, CAMPAIGN_WHILE_PERSISTING)) {
		/* The write in flight is forgotten: taken as durable. */
		li = last_index(r);
		r->persisted = li;
	}
	for (i = 0; i < r->n_peers; i++) {
		if (r->peers[i].role != RAFT_VOTER ||
		    r->peers[i].id == r->cfg.id)
			continue;
		m = msg_new(r, RAFT_MSG_VOTE, r->peers[i].id,
		    pre || BUG(r, VOTE_BEFORE_PERSIST) ? RAFT_WAIT_NONE :
		    RAFT_WAIT_PERSIST);
		m->term = pre ? r->term + 1 : r->term;
		m->prevote = pre;
		m->transfer = transfer;
		m->index = li;
		m->log_term = term_at(r, li);
	}
	if ((self = peer_find(r, r->cfg.id)) != NULL)
		self->vote = 1;
	tally(r);
}

/* Start an election, with a pre-vote round unless disabled. */
static void
start_election(struct raft *r, bool transfer)
{
	campaign(r, !r->cfg.no_prevote && !transfer, transfer);
}

/* Is a leader's lease still running here (check-quorum)? */
static bool
in_lease(const struct raft *r)
{
	if (r->cfg.no_check_quorum)
		return (false);
	if (r->role == RAFT_LEADER)
		return (true);
	return (r->leader != 0 &&
	    r->now < r->leader_heard_at + r->cfg.election_ms);
}

/* Handle RequestVote (pre-vote or real). */
static void
recv_vote(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg	*out;
	raft_index	 li = last_index(r);
	raft_term	 lt = term_at(r, li);
	bool		 can, uptodate;

	can = r->vote == m->from || (r->vote == 0 && r->leader == 0) ||
	    (m->prevote && m->term > r->term);
	if (!is_voter(r, r->cfg.id) || r->role == RAFT_LEADER)
		can = false;
	uptodate = m->log_term > lt || (m->log_term == lt && m->index >= li);
	if (BUG(r, VOTE_NO_UPTODATE))
		uptodate = true;
	out = msg_new(r, RAFT_MSG_VOTE_RESP, m->from,
	    BUG(r, VOTE_BEFORE_PERSIST) ? RAFT_WAIT_NONE : reply_wait());
	out->prevote = m->prevote;
	if (can && uptodate) {
		if (m->prevote)
			out->term = m->term;
		else {
			r->vote = m->from;
			reset_election(r);
		}
	} else
		out->reject = true;
}

/* Handle a (pre-)vote answer. */
static void
recv_vote_resp(struct raft *r, const struct raft_msg *m)
{
	struct peer	*p;

	if (r->role == RAFT_PRECANDIDATE) {
		if (!m->prevote || (!m->reject && m->term != r->term + 1))
			return;
	} else if (r->role != RAFT_CANDIDATE || m->prevote ||
	    m->term != r->term)
		return;
	if ((p = peer_find(r, m->from)) == NULL || p->role != RAFT_VOTER)
		return;
	p->vote = m->reject ? 2 : 1;
	tally(r);
}

/* Handle TimeoutNow: campaign at once, ignoring leases (transfer). */
static void
recv_timeout_now(struct raft *r, const struct raft_msg *m)
{
	if (!is_voter(r, r->cfg.id) || r->role == RAFT_LEADER)
		return;
	r->leader_heard_at = r->now;
	if (can_campaign(r))
		start_election(r, true);
	else
		r->timeout_now = true;
}

/*
 * Replication: the leader's side.
 */

/* Is the peer's in-flight window full? */
static bool
window_full(const struct raft *r, const struct peer *p)
{
	return (p->fl_n >= r->cfg.max_inflight ||
	    p->fl_bytes >= r->cfg.max_inflight_bytes);
}

/* Forget in-flight AppendEntries acknowledged through index. */
static void
inflight_free(const struct raft *r, struct peer *p, raft_index index)
{
	while (p->fl_n > 0 && p->fl[p->fl_head].last <= index) {
		p->fl_bytes -= p->fl[p->fl_head].bytes;
		p->fl_head = (p->fl_head + 1) % r->cfg.max_inflight;
		p->fl_n--;
	}
}

/* Ask the caller for a snapshot view for this peer. */
static void
want_snapshot(struct peer *p)
{
	p->state = PR_SNAPSHOT;
	p->snap_wanted = true;
	p->snap_ready = false;
	p->probe_sent = false;
	peer_clear_inflight(p);
}

/*
 * Send what the peer needs: one probe in PR_PROBE, as many AppendEntries
 * as the window allows in PR_REPLICATE, each at most max_append_bytes of
 * entries (at least one entry).
 */
static void
send_append(struct raft *r, struct peer *p)
{
	struct raft_msg	*m;
	raft_index	 li = last_index(r), i;
	size_t		 bytes, n;

	for (;;) {
		if (p->state == PR_SNAPSHOT)
			return;
		if (p->next <= r->snap_index) {
			want_snapshot(p);
			return;
		}
		if (p->state == PR_PROBE && p->probe_sent)
			return;
		if (p->state == PR_REPLICATE && (window_full(r, p) ||
		    p->next > li))
			return;
		m = msg_new(r, RAFT_MSG_APPEND, p->id, RAFT_WAIT_NONE);
		m->index = p->next - 1;
		m->log_term = term_at(r, m->index);
		m->commit = r->commit;
		m->seq = ++r->seq;
		bytes = 0;
		n = 0;
		for (i = p->next; i <= li; i++) {
			if (n > 0 && bytes + entry_at(r, i)->len >
			    r->cfg.max_append_bytes)
				break;
			bytes += entry_at(r, i)->len;
			n++;
		}
		m->n_entries = n;
		r->msg_lo[r->n_msgs - 1] = p->next;
		p->ae_seq = m->seq;
		if (p->state == PR_PROBE) {
			p->probe_sent = true;
			p->probe_at = r->now;
			return;
		}
		if (n == 0)
			return;
		if (p->fl_n == 0)
			p->progress_at = r->now;
		p->fl[(p->fl_head + p->fl_n) % r->cfg.max_inflight] =
		    (struct inflight){ p->next + n - 1, bytes };
		p->fl_n++;
		p->fl_bytes += bytes;
		p->next += n;
	}
}

/* A heartbeat: an empty AppendEntries at what the peer surely has. */
static void
send_heartbeat(struct raft *r, struct peer *p)
{
	struct raft_msg	*m;

	m = msg_new(r, RAFT_MSG_APPEND, p->id, RAFT_WAIT_NONE);
	m->index = p->match >= r->snap_index ? p->match : 0;
	m->log_term = term_at(r, m->index);
	m->commit = r->commit;
	m->seq = ++r->seq;
}

/* Send one snapshot chunk at the peer's offset (the caller fills data). */
static void
send_snap_chunk(struct raft *r, struct peer *p)
{
	struct raft_msg	*m;

	m = msg_new(r, RAFT_MSG_SNAP, p->id, RAFT_WAIT_NONE);
	m->index = p->snap_index;
	m->log_term = p->snap_term;
	m->conf = p->snap_conf;
	m->offset = p->snap_offset;
	m->seq = ++r->seq;
	p->snap_seq = m->seq;
	p->snap_at = r->now;
}

/* Hand over leadership if the target is caught up (and we are durable). */
static void
maybe_timeout_now(struct raft *r)
{
	struct peer	*p;

	if (r->role != RAFT_LEADER || r->transfer_to == 0 || r->transfer_sent)
		return;
	if ((p = peer_find(r, r->transfer_to)) == NULL)
		return;
	if (p->match == last_index(r) && r->persisted == last_index(r)) {
		msg_new(r, RAFT_MSG_TIMEOUT_NOW, p->id, RAFT_WAIT_NONE);
		r->transfer_sent = true;
	} else
		send_append(r, p);
}

/* Compare raft_index values, largest first. */
static int
cmp_desc(const void *a, const void *b)
{
	raft_index	 x = *(const raft_index *)a, y = *(const raft_index *)b;

	return (x < y ? 1 : x > y ? -1 : 0);
}

/*
 * Advance the leader's commit to what a majority of voters hold, counting
 * itself only up to its persisted index, and only for an entry of its own
 * term (rules 1 and 2).
 */
static void
maybe_commit(struct raft *r)
{
	raft_index	 m[RAFT_MAX_NODES], n;
	unsigned	 i, k = 0;

	if (r->role != RAFT_LEADER)
		return;
	for (i = 0; i < r->n_peers; i++) {
		if (r->peers[i].role != RAFT_VOTER)
			continue;
		if (r->peers[i].id == r->cfg.id)
			m[k++] = BUG(r, LEADER_SELF_UNPERSISTED) ?
			    last_index(r) : r->persisted;
		else
			m[k++] = r->peers[i].match;
	}
	if (k == 0)
		return;
	qsort(m, k, sizeof m[0], cmp_desc);
	n = m[quorum(r) - 1];
	if (n <= r->commit)
		return;
	if (term_at(r, n) != r->term && !BUG(r, COMMIT_OLD_TERM))
		return;
	r->commit = n;
	/* A leader removed by a committed change steps down. */
	if (!is_voter(r, r->cfg.id) && r->conf_index <= r->commit)
		become_follower(r, r->term, 0);
}

/* Handle an AppendEntries answer. */
static void
recv_append_resp(struct raft *r, const struct raft_msg *m)
{
	struct peer	*p;
	raft_index	 h;

	if (r->role != RAFT_LEADER || (p = peer_find(r, m->from)) == NULL)
		return;
	p->active = true;
	p->heard_at = r->now;
	if (!m->reject) {
		if (m->index > last_index(r))
			return;
		if (m->index > p->match) {
			p->match = m->index;
			p->progress_at = r->now;
			if (p->next <= p->match)
				p->next = p->match + 1;
			inflight_free(r, p, p->match);
			if (p->state == PR_SNAPSHOT &&
			    p->match >= r->snap_index) {
				p->state = PR_PROBE;
				p->next = p->match + 1;
			}
			maybe_commit(r);
			if (r->role != RAFT_LEADER)
				return;
		}
		if (p->state == PR_REPLICATE && m->seq > p->ae_seq &&
		    p->match + 1 < p->next) {
			/*
			 * It answered a later message (a heartbeat) but not
			 * our last AppendEntries: lost, or overtaken (then
			 * the resent entries match and change nothing).
			 */
			p->state = PR_PROBE;
			p->next = p->match + 1;
			p->probe_sent = false;
			peer_clear_inflight(p);
		}
		if (p->state == PR_PROBE && p->match + 1 >= p->next) {
			p->state = PR_REPLICATE;
			p->probe_sent = false;
			p->next = p->match + 1;
			peer_clear_inflight(p);
		}
		if (p->id == r->transfer_to)
			maybe_timeout_now(r);
		send_append(r, p);
		return;
	}
	if (m->index <= p->match || m->index == 0)
		return;		/* stale: we know it has more */
	if (p->state == PR_SNAPSHOT)
		return;
	if (p->state == PR_PROBE && m->index != p->next - 1)
		return;		/* not about the prev we probe now */
	/*
	 * Probe next at the last index, at or below the follower's hint,
	 * whose term is at most the follower's term there (etcd's
	 * findConflictByTerm): one round trip per term, not per entry.
	 */
	h = m->hint < m->index - 1 ? m->hint : m->index - 1;
	if (m->log_term != 0)
		while (h > p->match && h > r->snap_index &&
		    term_at(r, h) > m->log_term)
			h--;
	p->next = h + 1;
	if (p->next < p->match + 1)
		p->next = p->match + 1;
	p->state = PR_PROBE;
	p->probe_sent = false;
	peer_clear_inflight(p);
	send_append(r, p);
}

/* Handle an InstallSnapshot answer. */
static void
recv_snap_resp(struct raft *r, const struct raft_msg *m)
{
	struct peer	*p;

	if (r->role != RAFT_LEADER || (p = peer_find(r, m->from)) == NULL)
		return;
	p->active = true;
	p->heard_at = r->now;
	if (m->done) {
		if (m->index > p->match && m->index <= last_index(r)) {
			p->match = m->index;
			p->progress_at = r->now;
		}
		if (p->state == PR_SNAPSHOT && p->match >= r->snap_index) {
			p->state = PR_PROBE;
			p->probe_sent = false;
			p->next = p->match + 1;
		} else if (p->state == PR_SNAPSHOT &&
		    m->index == p->snap_index)
			want_snapshot(p);	/* we compacted past it: anew */
		maybe_commit(r);
		if (r->role == RAFT_LEADER)
			send_append(r, p);
		return;
	}
	/* One chunk in flight: only the answer to it moves the offset. */
	if (p->state != PR_SNAPSHOT || !p->snap_ready ||
	    m->index != p->snap_index || m->seq != p->snap_seq)
		return;
	p->snap_offset = m->offset;
	send_snap_chunk(r, p);
}

/*
 * Replication: the follower's side.
 */

/* Move a follower's commit to min(commit_target, persisted) (rule 2). */
static void
follower_commit(struct raft *r)
{
	raft_index	 c = r->commit_target;

	if (r->stage_pending)
		return;		/* commit stays below the snapshot */
	if (!BUG(r, FOLLOWER_COMMIT_UNPERSISTED) && c > r->persisted)
		c = r->persisted;
	if (c > last_index(r))
		c = last_index(r);
	if (c > r->commit)
		r->commit = c;
}

/* Answer an AppendEntries. */
static void
append_reply(struct raft *r, const struct raft_msg *m, bool reject,
    raft_index index, raft_index hint)
{
	struct raft_msg	*out;
	uint8_t		 w = reply_wait();

	if (!reject && BUG(r, ACK_BEFORE_FSYNC))
		w = RAFT_WAIT_NONE;
	out = msg_new(r, RAFT_MSG_APPEND_RESP, m->from, w);
	out->reject = reject;
	out->index = index;
	out->hint = hint;
	out->log_term = reject ? term_at(r, hint) : 0;
	out->seq = m->seq;
}

/*
 * Handle AppendEntries from the leader of our term: check prev, append
 * what is new, truncate only at a real conflict (rule 5), commit no
 * further than what this message verified and what is durable (rule 2).
 */
static void
recv_append(struct raft *r, const struct raft_msg *m)
{
	const struct raft_entry	*e = m->entries;
	raft_index		 prev = m->index, li = last_index(r), h, v;
	raft_term		 pt = m->log_term;
	size_t			 n = m->n_entries, i, skip;

	if (r->stage_pending)
		return;		/* an install is being written */
	for (i = 0; i < n; i++)
		if (e[i].index != prev + 1 + i || e[i].term > m->term)
			return;	/* malformed */
	/* Entries through commit are the leader's (Raft §5.4): skip. */
	if (prev < r->commit) {
		skip = r->commit - prev < n ? r->commit - prev : n;
		e += skip;
		n -= skip;
		prev = r->commit;
		pt = term_at(r, prev);
	}
	if (prev > li || term_at(r, prev) != pt) {
		h = prev < li ? prev : li;
		while (h > r->commit && term_at(r, h) > pt)
			h--;
		append_reply(r, m, true, m->index, h);
		return;
	}
	if (BUG(r, TRUNCATE_STALE_APPEND) && n > 0 && li > prev + n &&
	    prev + 1 > r->commit) {
		log_truncate(r, prev + 1);
		li = last_index(r);
	}
	for (i = 0; i < n; i++) {
		if (e[i].index <= li) {
			if (term_at(r, e[i].index) == e[i].term)
				continue;
			if (e[i].index <= r->commit)
				return;	/* never drop a committed entry */
			log_truncate(r, e[i].index);
		}
		for (; i < n; i++)
			log_append(r, e[i].term, e[i].type, e[i].data,
			    e[i].len);
		break;
	}
	v = prev + n;
	if (m->commit < v)
		v = m->commit;
	if (v > r->commit_target)
		r->commit_target = v;
	follower_commit(r);
	/*
	 * Acknowledge all this leader has verified in its term, not only
	 * this message: an answer to a heartbeat then tells the leader
	 * whether the AppendEntries sent before it arrived.
	 */
	if (prev + n > r->verified)
		r->verified = prev + n;
	append_reply(r, m, false, r->verified, 0);
}

/* Answer an InstallSnapshot chunk. */
static void
snap_reply(struct raft *r, const struct raft_msg *m, bool reject, bool done,
    uint64_t offset)
{
	struct raft_msg	*out;

	out = msg_new(r, RAFT_MSG_SNAP_RESP, m->from, reply_wait());
	out->index = m->index;
	out->reject = reject;
	out->done = done;
	out->offset = offset;
	out->seq = m->seq;
}

/*
 * Handle a snapshot chunk: stage it (written with this update, answered
 * once durable); the last one also drops the log, and the install takes
 * effect on RAFT_EV_SNAP_PERSISTED (rule 7).
 */
static void
recv_snap(struct raft *r, const struct raft_msg *m)
{
	struct raft_snap_chunk	*c = &r->u_snap_chunk;
	bool			 same;

	if (m->index <= r->commit || (m->index <= last_index(r) &&
	    m->index > r->snap_index && term_at(r, m->index) == m->log_term)) {
		snap_reply(r, m, false, true, 0);
		return;
	}
	if (r->stage_pending || m->conf == NULL)
		return;
	same = r->stage_index == m->index && r->stage_term == m->log_term;
	if (m->offset != 0 && !(same && m->offset == r->stage_offset) &&
	    !BUG(r, SNAP_INSTALL_EARLY)) {
		snap_reply(r, m, true, false, same ? r->stage_offset : 0);
		return;
	}
	if (m->len > r->stage_cap) {
		r->stage_cap = m->len;
		r->stage_buf = xrealloc0(r->stage_buf, r->stage_cap);
	}
	if (m->len > 0)
		memcpy(r->stage_buf, m->data, m->len);
	r->stage_index = m->index;
	r->stage_term = m->log_term;
	r->stage_conf = *m->conf;
	r->stage_offset = m->offset + m->len;
	r->stage_from = m->from;
	r->u_chunk = true;
	c->index = m->index;
	c->term = m->log_term;
	c->conf = &r->stage_conf;
	c->offset = m->offset;
	c->data = r->stage_buf;
	c->len = m->len;
	c->last = m->last;
	if (!m->last) {
		snap_reply(r, m, false, false, r->stage_offset);
		return;
	}
	/* The install write drops every stored entry. */
	r->stage_pending = true;
	if (r->u_trunc == 0 || r->snap_index + 1 < r->u_trunc)
		r->u_trunc = r->snap_index + 1;
}

/* The staged snapshot is durable and installed: reset the log to it. */
static void
snap_installed(struct raft *r, const struct raft_event *ev)
{
	struct raft_msg	*out;

	if (!r->stage_pending || ev->index != r->stage_index ||
	    ev->term != r->stage_term)
		return;
	r->stage_pending = false;
	r->log_n = 0;
	arena_drop_front(r, NULL);
	r->u_app_lo = 0;
	r->snap_index = r->stage_index;
	r->snap_term = r->stage_term;
	r->snap_conf = r->stage_conf;
	r->persisted = r->snap_index;
	if (r->commit < r->snap_index)
		r->commit = r->snap_index;
	if (r->commit_target < r->snap_index)
		r->commit_target = r->snap_index;
	r->applying = r->applied = r->snap_index;
	r->verified = r->snap_index;
	conf_set(r, &r->snap_conf, r->snap_index);
	out = msg_new(r, RAFT_MSG_SNAP_RESP, r->stage_from, reply_wait());
	out->index = r->snap_index;
	out->done = true;
	out->offset = r->stage_offset;
	r->stage_index = 0;
	r->stage_offset = 0;
}

/*
 * Events.
 */

/* Handle a received message: terms first (Raft §5.1), then by type. */
static void
recv(struct raft *r, const struct raft_msg *m)
{
	struct raft_msg	*out;
	bool		 from_leader;

	if (m->from == r->cfg.id || m->from == 0)
		return;
	from_leader = m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAP ||
	    m->type == RAFT_MSG_TIMEOUT_NOW;
	if (m->term > r->term) {
		if (m->type == RAFT_MSG_VOTE && !m->transfer && in_lease(r))
			return;	/* a leader is alive: ignore (check-quorum) */
		if (!(m->type == RAFT_MSG_VOTE && m->prevote) &&
		    !(m->type == RAFT_MSG_VOTE_RESP && m->prevote &&
		    !m->reject))
			become_follower(r, m->term, from_leader ? m->from : 0);
	} else if (m->term < r->term) {
		/* Tell a stale leader or candidate about our term. */
		if (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_SNAP) {
			out = msg_new(r, RAFT_MSG_APPEND_RESP, m->from,
			    reply_wait());
			out->reject = true;
		} else if (m->type == RAFT_MSG_VOTE) {
			out = msg_new(r, RAFT_MSG_VOTE_RESP, m->from,
			    reply_wait());
			out->reject = true;
			out->prevote = m->prevote;
		}
		return;
	}
	if (from_leader && r->role != RAFT_LEADER) {
		if (r->role == RAFT_CANDIDATE || r->role == RAFT_PRECANDIDATE)
			become_follower(r, r->term, m->from);
		r->leader = m->from;
		r->leader_heard_at = r->now;
		reset_election(r);
	}
	switch (m->type) {
	case RAFT_MSG_VOTE:
		recv_vote(r, m);
		break;
	case RAFT_MSG_VOTE_RESP:
		recv_vote_resp(r, m);
		break;
	case RAFT_MSG_APPEND:
		if (r->role != RAFT_LEADER)
			recv_append(r, m);
		break;
	case RAFT_MSG_APPEND_RESP:
		recv_append_resp(r, m);
		break;
	case RAFT_MSG_SNAP:
		if (r->role != RAFT_LEADER)
			recv_snap(r, m);
		break;
	case RAFT_MSG_SNAP_RESP:
		recv_snap_resp(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		recv_timeout_now(r, m);
		break;
	}
}

/* The leader's check-quorum: step down without a live majority. */
static void
check_quorum(struct raft *r)
{
	unsigned	 i, n = 0;

	for (i = 0; i < r->n_peers; i++) {
		if (r->peers[i].role == RAFT_VOTER &&
		    (r->peers[i].active || r->peers[i].id == r->cfg.id))
			n++;
		r->peers[i].active = false;
	}
	if (n < quorum(r) && !r->cfg.no_check_quorum)
		become_follower(r, r->term, 0);
}

/* Time passes: heartbeats, retries and checks, or an election. */
static void
tick(struct raft *r)
{
	struct peer	*p;
	unsigned	 i;

	if (r->role != RAFT_LEADER) {
		if (r->now < r->election_at)
			return;
		if (can_campaign(r))
			start_election(r, false);
		else if (is_voter(r, r->cfg.id))
			r->election_at = r->now + r->cfg.heartbeat_ms;
		else
			reset_election(r);
		return;
	}
	if (r->transfer_to != 0 && r->now >= r->transfer_at)
		r->transfer_to = 0;	/* aborted after an election timeout */
	if (r->now >= r->check_at) {
		r->check_at = r->now + r->cfg.election_ms;
		check_quorum(r);
		if (r->role != RAFT_LEADER)
			return;
	}
	if (r->now < r->heartbeat_at)
		return;
	r->heartbeat_at = r->now + r->cfg.heartbeat_ms;
	for (i = 0; i < r->n_peers; i++) {
		p = &r->peers[i];
		if (p->id == r->cfg.id)
			continue;
		send_heartbeat(r, p);
		if (p->state == PR_PROBE && p->probe_sent &&
		    r->now >= p->probe_at + r->cfg.heartbeat_ms)
			p->probe_sent = false;
		if (p->state == PR_REPLICATE && p->fl_n > 0 &&
		    r->now >= p->progress_at + r->cfg.election_ms) {
			/*
			 * No progress for an election timeout (a heartbeat's
			 * answer usually shows a loss sooner): probe again.
			 */
			p->state = PR_PROBE;
			p->probe_sent = false;
			p->next = p->match + 1;
			peer_clear_inflight(p);
		}
		if (p->state == PR_SNAPSHOT) {
			if (p->snap_ready &&
			    r->now >= p->snap_at + r->cfg.election_ms)
				send_snap_chunk(r, p);
			else if (!p->snap_ready &&
			    r->now >= p->snap_at + r->cfg.election_ms)
				p->snap_wanted = true;
		} else
			send_append(r, p);
	}
}

/* The log is durable through index (if it still holds that entry). */
static void
persisted(struct raft *r, const struct raft_event *ev)
{
	struct peer	*p;

	if (ev->index > last_index(r) || ev->index < r->snap_index ||
	    term_at(r, ev->index) != ev->term || ev->index <= r->persisted)
		return;
	r->persisted = ev->index;
	if (r->role == RAFT_LEADER) {
		if ((p = peer_find(r, r->cfg.id)) != NULL)
			p->match = r->persisted;
		maybe_commit(r);
		maybe_timeout_now(r);
		return;
	}
	follower_commit(r);
	if (r->timeout_now && can_campaign(r))
		start_election(r, true);
}

/* Leader: append one NORMAL entry per buffer and replicate (batched). */
static enum raft_rc
propose(struct raft *r, const struct raft_event *ev)
{
	size_t		 i;

	if (r->role != RAFT_LEADER)
		return (RAFT_NOT_LEADER);
	if (r->transfer_to != 0)
		return (RAFT_BUSY);
	for (i = 0; i < ev->n_bufs; i++)
		if (ev->bufs[i].len > r->cfg.max_entry_bytes)
			return (RAFT_TOO_BIG);
	if (ev->n_bufs == 0)
		return (RAFT_INVALID);
	r->u_prop_first = last_index(r) + 1;
	for (i = 0; i < ev->n_bufs; i++)
		log_append(r, r->term, RAFT_ENTRY_NORMAL, ev->bufs[i].data,
		    ev->bufs[i].len);
	r->u_prop_last = last_index(r);
	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].id != r->cfg.id)
			send_append(r, &r->peers[i]);
	return (RAFT_OK);
}

/* Leader: one membership change, one uncommitted at a time. */
static enum raft_rc
conf_change(struct raft *r, const struct raft_event *ev)
{
	struct raft_conf	 c = r->conf;
	const struct raft_member *mb;
	struct peer		*p;
	uint8_t			 buf[16 + RAFT_MAX_NODES * 9];
	size_t			 len;
	unsigned		 i, voters = 0;

	if (r->role != RAFT_LEADER)
		return (RAFT_NOT_LEADER);
	if (r->transfer_to != 0 || r->conf_index > r->commit)
		return (RAFT_BUSY);
	/*
	 * Not before an entry of this term has committed (the no-op):
	 * else a change appended by a new leader can diverge from one that
	 * an older leader's term committed (Ongaro, raft-dev 2015, the
	 * single-server change bug).
	 */
	if (term_at(r, r->commit) != r->term)
		return (RAFT_BUSY);
	if (ev->to == 0)
		return (RAFT_INVALID);
	mb = conf_find(&c, ev->to);
	for (i = 0; i < c.n; i++)
		voters += c.m[i].role == RAFT_VOTER;
	switch (ev->conf_op) {
	case RAFT_CONF_ADD_LEARNER:
		if (mb != NULL || c.n == RAFT_MAX_NODES)
			return (RAFT_INVALID);
		c.m[c.n].id = ev->to;
		c.m[c.n++].role = RAFT_MEMBER_LEARNER;
		break;
	case RAFT_CONF_PROMOTE:
		if (mb == NULL || mb->role != RAFT_MEMBER_LEARNER)
			return (RAFT_INVALID);
		if ((p = peer_find(r, ev->to)) == NULL || p->match < r->commit)
			return (RAFT_BUSY);	/* not caught up yet */
		c.m[mb - c.m].role = RAFT_VOTER;
		break;
	case RAFT_CONF_REMOVE:
		if (mb == NULL || (mb->role == RAFT_VOTER && voters == 1))
			return (RAFT_INVALID);
		i = (unsigned)(mb - c.m);
		memmove(&c.m[i], &c.m[i + 1], sizeof(c.m[0]) * (c.n - i - 1));
		c.n--;
		break;
	default:
		return (RAFT_INVALID);
	}
	len = raft_conf_encode(&c, buf, sizeof buf);
	log_append(r, r->term, RAFT_ENTRY_CONF, buf, len);
	r->u_prop_first = r->u_prop_last = last_index(r);
	for (i = 0; i < r->n_peers; i++)
		if (r->peers[i].id != r->cfg.id)
			send_append(r, &r->peers[i]);
	maybe_commit(r);
	return (RAFT_OK);
}

/* Leader: hand leadership to a voter, TimeoutNow once it is caught up. */
static enum raft_rc
transfer(struct raft *r, const struct raft_event *ev)
{
	if (r->role != RAFT_LEADER)
		return (RAFT_NOT_LEADER);
	if (ev->to == r->cfg.id || !is_voter(r, ev->to) ||
	    peer_find(r, ev->to) == NULL)
		return (RAFT_INVALID);
	if (r->transfer_to != 0)
		return (RAFT_BUSY);
	r->transfer_to = ev->to;
	r->transfer_sent = false;
	r->transfer_at = r->now + r->cfg.election_ms;
	maybe_timeout_now(r);
	return (RAFT_OK);
}

/* A view at index exists for peer to: start streaming it. */
static void
snap_ready(struct raft *r, const struct raft_event *ev)
{
	struct peer	*p;

	if (r->role != RAFT_LEADER || (p = peer_find(r, ev->to)) == NULL ||
	    p->state != PR_SNAPSHOT || p->snap_ready)
		return;
	if (ev->index < r->snap_index || ev->index > last_index(r) ||
	    ev->index > r->commit) {
		p->snap_wanted = true;
		return;
	}
	if (p->snap_conf == NULL)
		p->snap_conf = xrealloc0(NULL, sizeof *p->snap_conf);
	conf_at(r, ev->index, p->snap_conf);
	p->snap_index = ev->index;
	p->snap_term = term_at(r, ev->index);
	p->snap_offset = 0;
	p->snap_ready = true;
	send_snap_chunk(r, p);
}

/* Reset what a step returns. */
static void
begin(struct raft *r, uint64_t now)
{
	if (now > r->now)
		r->now = now;
	r->n_msgs = 0;
	r->u_trunc = 0;
	r->u_app_lo = 0;
	r->u_chunk = false;
	r->u_snap_need = 0;
	r->u_prop_first = r->u_prop_last = 0;
	r->u_silent = false;
	if (!r->started) {
		r->started = true;
		reset_election(r);
	}
}

/* Fill the update from the step's work; resolve every pointer now. */
static void
finish(struct raft *r, struct raft_update *u)
{
	raft_index	 li = last_index(r), target;
	struct peer	*p;
	size_t		 i;
	unsigned	 k;

	memset(u, 0, sizeof *u);
	u->hs.term = r->term;
	u->hs.vote = r->vote;
	u->hs.commit = r->commit;
	if (r->term != r->saved_term || r->vote != r->saved_vote) {
		u->hs_changed = true;
		r->saved_term = r->term;
		r->saved_vote = r->vote;
	}
	u->truncate_from = r->u_trunc;
	if (r->u_app_lo != 0 && r->u_app_lo <= li) {
		u->entries = entry_at(r, r->u_app_lo);
		u->n_entries = li - r->u_app_lo + 1;
	}
	if (r->u_chunk) {
		u->has_snap_chunk = true;
		u->snap_chunk = r->u_snap_chunk;
	}
	if (r->u_silent)
		r->n_msgs = 0;
	for (i = 0; i < r->n_msgs; i++)
		if (r->msgs[i].n_entries > 0)
			r->msgs[i].entries = entry_at(r, r->msg_lo[i]);
	u->msgs = r->n_msgs > 0 ? r->msgs : NULL;
	u->n_msgs = r->n_msgs;
	target = r->commit < r->persisted ? r->commit : r->persisted;
	if (BUG(r, FOLLOWER_COMMIT_UNPERSISTED) && r->role != RAFT_LEADER)
		target = r->commit;
	if (r->role != RAFT_FAILED && !r->stage_pending && !r->u_chunk &&
	    target > r->applying) {
		u->apply = entry_at(r, r->applying + 1);
		u->n_apply = target - r->applying;
		r->applying = target;
	}
	if (r->role == RAFT_LEADER) {
		for (k = 0; k < r->n_peers; k++) {
			p = &r->peers[k];
			if (p->state == PR_SNAPSHOT && p->snap_wanted) {
				p->snap_wanted = false;
				p->snap_at = r->now;
				u->snap_need = p->id;
				break;
			}
		}
	}
	u->prop_first = r->u_prop_first;
	u->prop_last = r->u_prop_last;
	u->prop_term = r->u_prop_first != 0 ? r->term : 0;
	if (r->role == RAFT_LEADER) {
		u->deadline = r->heartbeat_at < r->check_at ? r->heartbeat_at :
		    r->check_at;
		if (r->transfer_to != 0 && r->transfer_at < u->deadline)
			u->deadline = r->transfer_at;
		for (k = 0; k < r->n_peers; k++)
			if (r->peers[k].snap_wanted)
				u->deadline = r->now;
	} else
		u->deadline = r->election_at;
	if (r->role == RAFT_FAILED)
		u->deadline = r->now + 3600 * 1000;
}

/*
 * Public interface.
 */

/* A group with the given settings (zeros take defaults). */
struct raft *
raft_new(const struct raft_config *cfg)
{
	struct raft	*r;

	r = xrealloc0(NULL, sizeof *r);
	memset(r, 0, sizeof *r);
	r->cfg = *cfg;
	if (r->cfg.election_ms == 0)
		r->cfg.election_ms = 1000;
	if (r->cfg.heartbeat_ms == 0 ||
	    r->cfg.heartbeat_ms >= r->cfg.election_ms)
		r->cfg.heartbeat_ms = r->cfg.election_ms / 10 > 0 ?
		    r->cfg.election_ms / 10 : 1;
	if (r->cfg.max_inflight == 0)
		r->cfg.max_inflight = 64;
	if (r->cfg.max_inflight_bytes == 0)
		r->cfg.max_inflight_bytes = 4u << 20;
	if (r->cfg.max_append_bytes == 0)
		r->cfg.max_append_bytes = 1u << 20;
	if (r->cfg.max_entry_bytes == 0)
		r->cfg.max_entry_bytes = 1u << 20;
	r->rng = (cfg->seed ^ (cfg->id * 0x9e3779b97f4a7c15ULL)) |
	    0x100000000ULL;
	r->role = RAFT_FOLLOWER;
	return (r);
}

/* Free a group and all it owns; NULL is a no-op. */
void
raft_free(struct raft *r)
{
	unsigned	 i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_peers; i++) {
		free(r->peers[i].fl);
		free(r->peers[i].snap_conf);
	}
	arena_drop_front(r, NULL);
	free(r->ar_spare);
	free(r->log);
	free(r->msgs);
	free(r->msg_lo);
	free(r->stage_buf);
	free(r);
}

/* Load persisted state before the first step; -1 if inconsistent. */
int
raft_restore(struct raft *r, const struct raft_restore *rs)
{
	const struct raft_entry	*e;
	raft_index		 li;
	size_t			 i;

	for (i = 0; i < rs->n_entries; i++) {
		e = &rs->entries[i];
		if (e->index != rs->snap_index + 1 + i ||
		    e->term > rs->hs.term ||
		    e->term < (i == 0 ? rs->snap_term : e[-1].term))
			return (-1);
	}
	li = rs->snap_index + rs->n_entries;
	if (rs->applied > li || rs->applied < rs->snap_index ||
	    rs->snap_term > rs->hs.term)
		return (-1);
	r->log_n = 0;
	arena_drop_front(r, NULL);
	r->term = r->saved_term = rs->hs.term;
	r->vote = r->saved_vote = rs->hs.vote;
	r->snap_index = rs->snap_index;
	r->snap_term = rs->snap_term;
	r->snap_conf = rs->snap_conf;
	r->conf = rs->snap_conf;
	r->conf_index = rs->snap_index;
	for (i = 0; i < rs->n_entries; i++)
		log_append(r, rs->entries[i].term, rs->entries[i].type,
		    rs->entries[i].data, rs->entries[i].len);
	r->u_app_lo = 0;
	r->persisted = li;
	r->commit = rs->hs.commit < li ? rs->hs.commit : li;
	if (r->commit < rs->snap_index)
		r->commit = rs->snap_index;
	if (r->commit < rs->applied)
		r->commit = rs->applied;
	r->commit_target = r->commit;
	r->applying = r->applied = rs->applied;
	r->stage_pending = false;
	r->stage_index = 0;
	r->stage_offset = 0;
	conf_set(r, &r->conf, r->conf_index > rs->snap_index ? r->conf_index :
	    rs->snap_index);
	r->role = follower_role(r);
	r->leader = 0;
	return (0);
}

/* Feed one event; the update is valid until the next call. */
enum raft_rc
raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *u)
{
	enum raft_rc	 rc = RAFT_OK;

	begin(r, ev->now);
	if (r->role == RAFT_FAILED) {
		rc = RAFT_DISK_FAILED;
		goto out;
	}
	switch (ev->type) {
	case RAFT_EV_TICK:
		tick(r);
		break;
	case RAFT_EV_RECV:
		if (ev->msg == NULL || (ev->msg->to != r->cfg.id &&
		    ev->msg->to != 0))
			rc = RAFT_INVALID;
		else
			recv(r, ev->msg);
		break;
	case RAFT_EV_PROPOSE:
		rc = propose(r, ev);
		break;
	case RAFT_EV_PERSISTED:
		persisted(r, ev);
		break;
	case RAFT_EV_PERSIST_FAILED:
		if (BUG(r, DISK_ERROR_IGNORED))
			break;
		/* Rule 6: step down, stay silent until restarted. */
		r->role = RAFT_FAILED;
		r->leader = 0;
		r->transfer_to = 0;
		r->u_silent = true;
		rc = RAFT_DISK_FAILED;
		break;
	case RAFT_EV_SNAP_PERSISTED:
		snap_installed(r, ev);
		break;
	case RAFT_EV_APPLIED:
		if (ev->index > r->applied && ev->index <= r->applying)
			r->applied = ev->index;
		break;
	case RAFT_EV_COMPACT:
		if (ev->index > r->snap_index && ev->index <= r->applied &&
		    !r->stage_pending)
			log_compact(r, ev->index);
		else if (ev->index > r->applied)
			rc = RAFT_INVALID;
		break;
	case RAFT_EV_SNAP_READY:
		snap_ready(r, ev);
		break;
	case RAFT_EV_TRANSFER:
		rc = transfer(r, ev);
		break;
	case RAFT_EV_CONF_CHANGE:
		rc = conf_change(r, ev);
		break;
	case RAFT_EV_CAMPAIGN:
		if (r->role == RAFT_LEADER)
			break;
		if (!can_campaign(r))
			rc = is_voter(r, r->cfg.id) ? RAFT_BUSY :
			    RAFT_INVALID;
		else
			start_election(r, false);
		break;
	default:
		rc = RAFT_INVALID;
		break;
	}
out:
	finish(r, u);
	return (rc);
}

/* Report the group's state (peers when leader). */
void
raft_status(const struct raft *r, struct raft_status *st)
{
	const struct peer	*p;
	unsigned		 i;

	memset(st, 0, sizeof *st);
	st->id = r->cfg.id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
	st->first = r->snap_index + 1;
	st->last = last_index(r);
	st->persisted = r->persisted;
	st->commit = r->commit;
	st->applied = r->applied;
	st->snap_index = r->snap_index;
	st->conf = r->conf;
	if (r->role != RAFT_LEADER)
		return;
	for (i = 0; i < r->n_peers; i++) {
		p = &r->peers[i];
		st->peers[i].id = p->id;
		st->peers[i].role = p->role;
		st->peers[i].match = p->id == r->cfg.id ? r->persisted :
		    p->match;
		st->peers[i].next = p->id == r->cfg.id ? last_index(r) + 1 :
		    p->next;
		st->peers[i].active = p->id == r->cfg.id ||
		    r->now < p->heard_at + r->cfg.election_ms;
		st->peers[i].snapshotting = p->state == PR_SNAPSHOT;
	}
	st->n_peers = r->n_peers;
}

/* The group's role. */
enum raft_role
raft_role(const struct raft *r)
{
	return (r->role);
}

/* The leader this replica knows of, 0 if none. */
raft_id
raft_leader(const struct raft *r)
{
	return (r->leader);
}

/* The current term. */
raft_term
raft_current_term(const struct raft *r)
{
	return (r->term);
}

/*
 * Configuration encoding: magic, count, then per member its id (8 bytes,
 * big-endian) and role (1 byte).
 */
size_t
raft_conf_encode(const struct raft_conf *c, void *buf, size_t cap)
{
	uint8_t		*p = buf;
	size_t		 need = 2 + (size_t)c->n * 9, i;
	unsigned	 k;

	if (need > cap || c->n > RAFT_MAX_NODES)
		return (0);
	p[0] = CONF_MAGIC;
	p[1] = (uint8_t)c->n;
	p += 2;
	for (k = 0; k < c->n; k++) {
		for (i = 0; i < 8; i++)
			p[i] = (uint8_t)(c->m[k].id >> (56 - 8 * i));
		p[8] = c->m[k].role;
		p += 9;
	}
	return (need);
}

/* Decode a configuration; -1 if malformed. */
int
raft_conf_decode(const void *buf, size_t len, struct raft_conf *c)
{
	const uint8_t	*p = buf;
	unsigned	 n, k, i, j;
	raft_id		 id;

	if (len < 2 || p[0] != CONF_MAGIC)
		return (-1);
	n = p[1];
	if (n > RAFT_MAX_NODES || len != 2 + (size_t)n * 9)
		return (-1);
	p += 2;
	for (k = 0; k < n; k++, p += 9) {
		for (id = 0, i = 0; i < 8; i++)
			id = id << 8 | p[i];
		if (id == 0 || (p[8] != RAFT_VOTER &&
		    p[8] != RAFT_MEMBER_LEARNER))
			return (-1);
		for (j = 0; j < k; j++)
			if (c->m[j].id == id)
				return (-1);
		c->m[k].id = id;
		c->m[k].role = p[8];
	}
	c->n = n;
	return (0);
}

/* Name of a return code. */
const char *
raft_rc_name(enum raft_rc rc)
{
	static const char *const names[] = {
		"ok", "not-leader", "busy", "invalid", "disk-failed", "too-big"
	};

	if ((unsigned)rc >= sizeof(names) / sizeof(names[0]))
		return ("?");
	return (names[rc]);
}

/* Name of a role. */
const char *
raft_role_name(enum raft_role role)
{
	static const char *const names[] = {
		"follower", "precandidate", "candidate", "leader", "learner",
		"failed"
	};

	if ((unsigned)role >= sizeof(names) / sizeof(names[0]))
		return ("?");
	return (names[role]);
}

/* Name of a message type. */
const char *
raft_msg_type_name(enum raft_msg_type t)
{
	static const char *const names[] = {
		"?", "vote", "vote-resp", "append", "append-resp", "snap",
		"snap-resp", "timeout-now"
	};

	if ((unsigned)t >= sizeof(names) / sizeof(names[0]))
		return ("?");
	return (names[t]);
}

/* The name of bug bit i, NULL past the last. */
const char *
raft_bug_name(unsigned i)
{
	static const char *const names[RAFT_BUG_COUNT] = {
		"commit-old-term",
		"leader-self-unpersisted",
		"follower-commit-unpersisted",
		"vote-before-persist",
		"vote-no-uptodate",
		"campaign-while-persisting",
		"truncate-stale-append",
		"ack-before-fsync",
		"disk-error-ignored",
		"snap-install-early",
	};

	if (i >= RAFT_BUG_COUNT)
		return (NULL);
	return (names[i]);
}
