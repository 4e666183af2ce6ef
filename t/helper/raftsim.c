/*
 * raftsim.c: deterministic simulation of Raft groups (issue 13 §2, §4).
 *
 *	raftsim --seeds N [--first S] [--nodes 3|5] [--bug NAME]
 *	    [--time MS] [--steps N] [--safety-only] [--keep-going] [-v]
 *	raftsim --seed S [--nodes 3|5] [--bug NAME] [--trace] [-v]
 *	raftsim --list-bugs
 *
 * One process runs 3 or 5 replicas of the real core (src/raft.c, compiled
 * with -DRAFT_TEST_BUGS) and everything around them from one seed: a
 * simulated clock with per-node drift, a network (delay, drop, duplicate,
 * reorder, partitions of every shape, healing), disks (a write is durable
 * only when its simulated fsync completes; a crash loses every unsynced
 * write and may land a prefix of them, the last record torn, which the
 * restart refuses by its checksum; write errors), crashes and restarts
 * from the durable state only, pauses, clients proposing unique payloads,
 * membership changes, leadership transfers, compaction and chunked
 * snapshots.  No wall clock, no addresses and no unordered iteration reach
 * the run: the same seed gives the same run, bit for bit (-v prints the
 * trace hash).
 *
 * The simulator is the driver of raft.h's header comment: it persists each
 * update as one write in a FIFO per node, sends RAFT_WAIT_PERSIST messages
 * only once that write is durable (a crash drops them), steps PERSISTED
 * then, applies, serves snapshot views, ticks at the deadline.
 *
 * After every step it checks the safety invariants (election safety, log
 * matching on durable logs, leader completeness, state machine safety,
 * commit never going back, nothing applied twice, every acknowledged
 * proposal in every applied log) and, unless --safety-only, the rules of
 * durability that the driver can see on the wire (no reply before its term
 * and vote are durable, no append ack beyond the durable log, no commit
 * without a durable quorum nor of an old-term entry, no follower commit
 * beyond its durable log, no campaign with its log not durable).  When the
 * faults stop it checks liveness: a leader, and every acknowledged
 * proposal applied on every member, within a bounded time.
 *
 * A seed draws its own fault mix (swarm testing): which faults are on and
 * how often, network and disk latencies, timeouts, the core's options and
 * windows; 30% of the seeds are leader churn (Raft's Figure 8: young
 * leaders cut off, leaders dying as they commit).  docs/raft.md has the
 * model, the checks and the seeds each bug switch takes to be found.
 *
 * Memory: one struct sim per run, reset by sim_init() and freed by
 * sim_free(); every message, write and log entry is an owned copy (the
 * core's update is valid only until its next step).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "raft.h"

#define SIM_NODES	8	/* node ids 1..SIM_NODES, learners too */
#define TRACE_RING	40	/* events printed with a violation */

/* An owned copy of a log entry. */
struct sent {
	raft_term	 term;
	raft_index	 index;
	uint8_t		 type;
	uint8_t		*data;
	size_t		 len;
	uint64_t	 dhash;		/* type and data */
	uint64_t	 chain;		/* the prefix through it */
	uint64_t	 csum;		/* the checksum stored with it */
};

/* A log: a snapshot point, then entries snap_index + 1 ... */
struct slog {
	raft_index	 snap_index;
	raft_term	 snap_term;
	uint64_t	 snap_chain;
	struct raft_conf snap_conf;
	struct sent	*e;
	size_t		 n;
	size_t		 cap;
};

/* One applied entry of the state machine. */
struct smrec {
	raft_term	 term;
	uint8_t		 type;
	uint64_t	 dhash;
	uint64_t	 id;		/* proposal id + 1, or 0 */
	uint64_t	 chain;
};

/*
 * The state machine: a hash chain of the applied entries.  n entries are
 * applied; the records of base + 1 .. n are kept (r[k] has index
 * base + 1 + k), those through base survive as their chain hash only.
 */
struct sm {
	size_t		 n;
	size_t		 base;
	uint64_t	 base_chain;
	raft_term	 base_term;
	struct smrec	*r;
	size_t		 cap;
};

/* An owned copy of a message. */
struct smsg {
	struct raft_msg	 m;
	raft_term	 expect;	/* an ack's entry term when made */
	struct raft_entry *ents;
	uint8_t		*blob;
	struct raft_conf conf;
};

/* One update's write, durable at done_at, in a FIFO per node. */
struct wrec {
	struct wrec	*next;
	uint64_t	 done_at;
	bool		 hs_changed;
	struct raft_hard_state hs;
	raft_index	 truncate_from;
	struct sent	*ents;
	size_t		 n_ents;
	bool		 has_chunk;
	raft_index	 c_index;
	raft_term	 c_term;
	struct raft_conf c_conf;
	uint64_t	 c_offset;
	uint8_t		*c_data;
	size_t		 c_len;
	bool		 c_last;
	struct smsg	**msgs;
	size_t		 n_msgs;
	raft_index	 p_index;	/* for RAFT_EV_PERSISTED */
	raft_term	 p_term;
	bool		 empty;		/* nothing to write: a barrier */
	bool		 fail;		/* behind a failed write */
};

/* A snapshot view made for a peer (RAFT_EV_SNAP_READY). */
struct view {
	raft_index	 index;
	uint8_t		*data;
	size_t		 len;
};

struct node {
	raft_id		 id;
	bool		 exists;	/* created: initial or added */
	bool		 up;		/* running */
	struct raft	*r;
	uint32_t	 life;
	uint64_t	 paused_until;
	uint64_t	 rate;		/* clock rate, ppm */
	uint64_t	 offset;	/* clock offset, ms */
	uint64_t	 tick_gen;
	uint64_t	 restart_at;	/* 0: none scheduled */
	/* Durable. */
	struct raft_hard_state hs;
	uint8_t		*torn;		/* a torn last record */
	size_t		 torn_len;
	uint64_t	 torn_csum;
	struct slog	 dlog;
	struct sm	 sm;
	uint8_t		*stage;
	size_t		 stage_len;
	size_t		 stage_cap;
	/* The disk's queue. */
	struct wrec	*wq_head;
	struct wrec	*wq_tail;
	uint64_t	 disk_busy;
	unsigned	 fail_writes;	/* the next writes fail */
	/* Volatile. */
	struct slog	 vlog;		/* the core's log as written */
	struct view	 views[SIM_NODES + 1];
	raft_index	 commit_seen;
	raft_index	 commit_prev;	/* before the current step */
	uint8_t		 role_seen;
	raft_term	 term_seen;
	uint64_t	*pend;		/* proposals not applied yet */
	size_t		 n_pend;
	size_t		 cap_pend;
};

enum sev_kind {
	SE_DELIVER = 1,
	SE_DISK,
	SE_TICK,
	SE_NEMESIS,
	SE_CLIENT,
	SE_RESTART,
	SE_UNPAUSE,
	SE_LIVENESS,
	SE_HEAL,
	SE_CRASH,
	SE_ISOLATE,
	SE_REJOIN,
};

struct sev {
	uint64_t	 at;
	uint64_t	 seq;
	uint8_t		 kind;
	uint8_t		 node;
	uint32_t	 life;
	uint64_t	 gen;
	struct smsg	*m;
};

enum trace_kind {
	T_SEND = 1, T_DROP, T_RECV, T_DUP, T_DISK, T_DISK_FAIL, T_ROLE,
	T_CRASH, T_RESTART, T_PAUSE, T_PART, T_HEAL, T_PROPOSE, T_APPLY,
	T_ACK, T_CONF, T_TRANSFER, T_COMPACT, T_INSTALL, T_SNAP_READY,
	T_LIVE, T_CLOCK, T_TORN, T_DISK_ERR, T_COMMIT,
};

struct trec {
	uint64_t	 t;
	uint8_t		 kind;
	uint8_t		 node;
	uint8_t		 sub;
	uint64_t	 a, b, c, d;
};

/* One proposal: its payload is derived from its id. */
struct prop {
	raft_id		 node;
	uint32_t	 life;
	raft_index	 index;
	raft_term	 term;
	bool		 acked;
	raft_index	 applied_at[SIM_NODES + 1];
};

/* The fault mix and the settings of one seed. */
struct knobs {
	unsigned	 election_ms;
	unsigned	 heartbeat_ms;
	unsigned	 net_min;
	unsigned	 net_jitter;
	unsigned	 drop_pm;	/* per mille */
	unsigned	 dup_pm;
	unsigned	 slow_pm;	/* a much longer delay: reordering */
	unsigned	 fsync_min;
	unsigned	 fsync_jitter;
	unsigned	 torn_pm;
	unsigned	 land_pm;	/* unsynced writes land at a crash */
	unsigned	 nemesis_ms;
	unsigned	 w_part, w_heal, w_crash, w_pause, w_disk, w_transfer,
			 w_conf, w_clock, w_crash_snap;
	unsigned	 client_ms;
	unsigned	 batch_max;
	unsigned	 compact_every;
	unsigned	 compact_keep;
	unsigned	 snap_chunk;
	unsigned	 max_inflight;
	size_t		 max_inflight_bytes;
	size_t		 max_append_bytes;
	bool		 no_prevote;
	bool		 no_check_quorum;
	uint64_t	 fault_ms;
	unsigned	 restart_min;
	unsigned	 restart_jitter;
	unsigned	 clock_pm;	/* max drift, per mille */
	unsigned	 scenario;	/* 0 swarm, 1 leader churn */
	unsigned	 kill_leader_pm;	/* a new leader crashes soon */
	unsigned	 kill_leader_ms;	/* within this */
	unsigned	 isolate_pm;	/* cut it off, not crash it */
	unsigned	 kill_committer_pm; /* a leader dies as it commits */
	unsigned	 stall_pm;	/* an fsync stalls for a while */
	unsigned	 kill_proposer_pm;	/* crash while persisting */
	unsigned	 kill_replier_pm;	/* crash right after a reply */
};

struct crec {
	raft_term	 term;
	raft_term	 cterm;		/* committed in (monotonic) */
	uint64_t	 chain;
	uint64_t	 acked;		/* proposal id + 1 acked here */
};

struct reg {
	raft_index	 index;
	raft_term	 term;
	uint64_t	 chain;
};

struct sim {
	uint64_t	 seed;
	unsigned	 nnodes;
	uint32_t	 bugs;
	bool		 safety_only;
	bool		 trace_all;
	uint64_t	 rng;
	uint64_t	 now;
	uint64_t	 seq;
	uint64_t	 steps;
	uint64_t	 max_steps;
	struct sev	*heap;
	size_t		 nheap;
	size_t		 capheap;
	struct node	 nodes[SIM_NODES + 1];
	unsigned	 nslots;	/* ids 1..nslots created or reserved */
	bool		 cut[SIM_NODES + 1][SIM_NODES + 1];
	struct knobs	 k;
	bool		 faults;	/* the fault phase */
	bool		 live;		/* the liveness phase */
	uint64_t	 live_start;
	uint64_t	 live_progress_at; /* last progress */
	uint64_t	 live_progress;	/* a hash of where members are */
	bool		 done;
	/* Checker state. */
	raft_id		*leader_of;	/* by term */
	size_t		 n_leader_of;
	struct crec	*committed;	/* committed[i - 1]: index i */
	size_t		 n_committed;
	size_t		 cap_committed;
	struct reg	*regs;		/* (index, term) -> chain */
	size_t		 n_regs;
	size_t		 cap_regs;
	struct prop	*props;
	size_t		 n_props;
	size_t		 cap_props;
	raft_index	 max_acked;
	uint64_t	 n_acked;
	/* Trace. */
	struct trec	 ring[TRACE_RING];
	uint64_t	 n_trace;
	uint64_t	 thash;
	/* The verdict. */
	bool		 failed;
	char		 inv[64];
	char		 detail[512];
	/* Coverage, summed over seeds with -v. */
	uint64_t	 n_installs, n_crashes, n_torn, n_elections, n_truncs;
};

static const char *progname = "raftsim";

/* Abort on allocation failure: the simulator has no recovery to offer. */
static void *
xrealloc(void *p, size_t n)
{
	if (n == 0)
		n = 1;
	if ((p = realloc(p, n)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(2);
	}
	return (p);
}

/* Allocate zeroed memory. */
static void *
xcalloc(size_t n, size_t sz)
{
	void	*p;

	if ((p = calloc(n ? n : 1, sz ? sz : 1)) == NULL) {
		fprintf(stderr, "%s: out of memory\n", progname);
		exit(2);
	}
	return (p);
}

/* Copy bytes into new memory. */
static uint8_t *
xmemdup(const void *p, size_t n)
{
	uint8_t	*q = xrealloc(NULL, n);

	if (n > 0)
		memcpy(q, p, n);
	return (q);
}

/* splitmix64's finaliser. */
static uint64_t
fmix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return (x);
}

/* Fold v into hash h. */
static uint64_t
hmix(uint64_t h, uint64_t v)
{
	return (fmix(h ^ fmix(v + 0x9e3779b97f4a7c15ULL)));
}

/* Hash of bytes (FNV-1a, then mixed). */
static uint64_t
hbytes(uint64_t h, const void *p, size_t n)
{
	const uint8_t	*b = p;
	uint64_t	 x = 0xcbf29ce484222325ULL ^ h;
	size_t		 i;

	for (i = 0; i < n; i++) {
		x ^= b[i];
		x *= 0x100000001b3ULL;
	}
	return (fmix(x ^ n));
}

/* The next number of the seed's stream (xorshift64*). */
static uint64_t
rnd(struct sim *s)
{
	s->rng ^= s->rng >> 12;
	s->rng ^= s->rng << 25;
	s->rng ^= s->rng >> 27;
	return (s->rng * 0x2545f4914f6cdd1dULL);
}

/* A number in [0, n). */
static uint64_t
rnd_below(struct sim *s, uint64_t n)
{
	return (n == 0 ? 0 : rnd(s) % n);
}

/* True with probability pm per mille. */
static bool
rnd_pm(struct sim *s, unsigned pm)
{
	return (rnd_below(s, 1000) < pm);
}

/* A number in [a, b]. */
static uint64_t
rnd_range(struct sim *s, uint64_t a, uint64_t b)
{
	return (a + rnd_below(s, b - a + 1));
}

/* Trace --------------------------------------------------------------- */

/* Names for the trace. */
static const char *
msg_name(unsigned t)
{
	switch (t) {
	case RAFT_MSG_VOTE: return ("vote");
	case RAFT_MSG_VOTE_RESP: return ("vote-resp");
	case RAFT_MSG_APPEND: return ("append");
	case RAFT_MSG_APPEND_RESP: return ("append-resp");
	case RAFT_MSG_SNAP: return ("snap");
	case RAFT_MSG_SNAP_RESP: return ("snap-resp");
	case RAFT_MSG_TIMEOUT_NOW: return ("timeout-now");
	}
	return ("?");
}

/* A role's name, without relying on the core's table. */
static const char *
role_name(unsigned r)
{
	switch (r) {
	case RAFT_FOLLOWER: return ("follower");
	case RAFT_PRECANDIDATE: return ("precandidate");
	case RAFT_CANDIDATE: return ("candidate");
	case RAFT_LEADER: return ("leader");
	case RAFT_LEARNER: return ("learner");
	case RAFT_FAILED: return ("failed");
	}
	return ("?");
}

/* Print one trace record. */
static void
trace_print(FILE *f, const struct trec *r)
{
	fprintf(f, "%8" PRIu64 " n%u ", r->t, r->node);
	switch (r->kind) {
	case T_SEND:
	case T_DROP:
	case T_RECV:
	case T_DUP:
		fprintf(f, "%s %s ->n%" PRIu64 " term %" PRIu64
		    " index %" PRIu64 " %s %" PRIu64 "%s %s\n",
		    r->kind == T_SEND ? "send" : r->kind == T_DROP ? "drop" :
		    r->kind == T_RECV ? "recv" : "dup",
		    msg_name(r->sub), r->a, r->b, r->c,
		    (r->d >> 18) & 1 ? "to" : "n", r->d & 0xffff,
		    (r->d >> 19) & 1 ? " last" : "",
		    (r->d >> 16) & 1 ? "reject" : (r->d >> 17) & 1 ? "done" :
		    "");
		break;
	case T_DISK:
		fprintf(f, "durable: persisted %" PRIu64 "/%" PRIu64
		    " hs term %" PRIu64 " %" PRIu64 " msgs\n",
		    r->a, r->b, r->c, r->d);
		break;
	case T_DISK_FAIL:
		fprintf(f, "write failed (persisted %" PRIu64 ")\n", r->a);
		break;
	case T_ROLE:
		fprintf(f, "role %s term %" PRIu64 " commit %" PRIu64
		    " last %" PRIu64 "\n", role_name(r->sub), r->a, r->b, r->c);
		break;
	case T_CRASH:
		fprintf(f, "crash: %" PRIu64 " unsynced writes lost, %" PRIu64
		    " landed%s\n", r->a, r->b, r->c ? ", one torn" : "");
		break;
	case T_TORN:
		fprintf(f, "restart refuses a torn record (%" PRIu64
		    " bytes, bad checksum)\n", r->a);
		break;
	case T_RESTART:
		fprintf(f, "restart: term %" PRIu64 " vote %" PRIu64
		    " log %" PRIu64 "..%" PRIu64 "\n", r->a, r->b, r->c, r->d);
		break;
	case T_PAUSE:
		fprintf(f, "pause until %" PRIu64 "\n", r->a);
		break;
	case T_PART:
		fprintf(f, "partition shape %u: cut mask %016" PRIx64 "\n",
		    r->sub, r->a);
		break;
	case T_HEAL:
		fprintf(f, "heal%s\n", r->sub ? " (faults end)" : "");
		break;
	case T_PROPOSE:
		fprintf(f, "propose %" PRIu64 " entries: rc %" PRIu64
		    " index %" PRIu64 "..%" PRIu64 "\n", r->a, r->b, r->c,
		    r->d);
		break;
	case T_APPLY:
		fprintf(f, "apply %" PRIu64 "..%" PRIu64 "\n", r->a, r->b);
		break;
	case T_ACK:
		fprintf(f, "ack proposal %" PRIu64 " at %" PRIu64 " term %"
		    PRIu64 "\n", r->a, r->b, r->c);
		break;
	case T_CONF:
		fprintf(f, "conf change op %u node %" PRIu64 ": rc %" PRIu64
		    "\n", r->sub, r->a, r->b);
		break;
	case T_TRANSFER:
		fprintf(f, "transfer to n%" PRIu64 ": rc %" PRIu64 "\n", r->a,
		    r->b);
		break;
	case T_COMPACT:
		fprintf(f, "compact through %" PRIu64 "\n", r->a);
		break;
	case T_INSTALL:
		fprintf(f, "snapshot installed at %" PRIu64 " term %" PRIu64
		    "\n", r->a, r->b);
		break;
	case T_SNAP_READY:
		fprintf(f, "snapshot view for n%" PRIu64 " at %" PRIu64
		    " (%" PRIu64 " bytes)\n", r->a, r->b, r->c);
		break;
	case T_LIVE:
		fprintf(f, "liveness phase: faults stop\n");
		break;
	case T_CLOCK:
		fprintf(f, "clock jumps %" PRIu64 " ms\n", r->a);
		break;
	case T_DISK_ERR:
		fprintf(f, "disk: next %" PRIu64 " writes fail\n", r->a);
		break;
	case T_COMMIT:
		fprintf(f, "commit %" PRIu64 "\n", r->a);
		break;
	default:
		fprintf(f, "?\n");
	}
}

/* Record one trace event. */
static void
trace(struct sim *s, unsigned kind, raft_id node, unsigned sub, uint64_t a,
    uint64_t b, uint64_t c, uint64_t d)
{
	struct trec	*r = &s->ring[s->n_trace % TRACE_RING];

	r->t = s->now;
	r->kind = kind;
	r->node = node;
	r->sub = sub;
	r->a = a;
	r->b = b;
	r->c = c;
	r->d = d;
	s->n_trace++;
	s->thash = hmix(s->thash, r->t);
	s->thash = hmix(s->thash, (uint64_t)kind << 16 | node << 8 | sub);
	s->thash = hmix(s->thash, a);
	s->thash = hmix(s->thash, b);
	s->thash = hmix(s->thash, c);
	s->thash = hmix(s->thash, d);
	if (s->trace_all)
		trace_print(stdout, r);
}

/* Record a broken invariant (the first one wins). */
static void
violation(struct sim *s, const char *inv, const char *fmt, ...)
{
	va_list	ap;

	if (s->failed)
		return;
	s->failed = true;
	snprintf(s->inv, sizeof s->inv, "%s", inv);
	va_start(ap, fmt);
	vsnprintf(s->detail, sizeof s->detail, fmt, ap);
	va_end(ap);
}

/* Event queue: a binary heap ordered by (time, sequence) ------------- */

/* True if a is due before b. */
static bool
sev_before(const struct sev *a, const struct sev *b)
{
	return (a->at < b->at || (a->at == b->at && a->seq < b->seq));
}

/* Queue an event. */
static void
sev_push(struct sim *s, uint64_t at, unsigned kind, raft_id node,
    uint32_t life, uint64_t gen, struct smsg *m)
{
	struct sev	 e, t;
	size_t		 i;

	if (s->nheap == s->capheap) {
		s->capheap = s->capheap ? s->capheap * 2 : 1024;
		s->heap = xrealloc(s->heap, s->capheap * sizeof *s->heap);
	}
	e.at = at;
	e.seq = s->seq++;
	e.kind = kind;
	e.node = node;
	e.life = life;
	e.gen = gen;
	e.m = m;
	i = s->nheap++;
	s->heap[i] = e;
	while (i > 0 && sev_before(&s->heap[i], &s->heap[(i - 1) / 2])) {
		t = s->heap[i];
		s->heap[i] = s->heap[(i - 1) / 2];
		s->heap[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

/* Take the earliest event. */
static bool
sev_pop(struct sim *s, struct sev *out)
{
	struct sev	 t;
	size_t		 i, l, r, m;

	if (s->nheap == 0)
		return (false);
	*out = s->heap[0];
	s->heap[0] = s->heap[--s->nheap];
	i = 0;
	for (;;) {
		l = 2 * i + 1;
		r = l + 1;
		m = i;
		if (l < s->nheap && sev_before(&s->heap[l], &s->heap[m]))
			m = l;
		if (r < s->nheap && sev_before(&s->heap[r], &s->heap[m]))
			m = r;
		if (m == i)
			break;
		t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
	return (true);
}

/* Logs ------------------------------------------------------------------ */

/* The hash of an entry's type and data. */
static uint64_t
entry_dhash(unsigned type, const void *data, size_t len)
{
	return (hbytes(type + 1, data, len));
}

/* The stored checksum of an entry. */
static uint64_t
entry_csum(const struct sent *e)
{
	uint64_t	h = hbytes(0x5eed, e->data, e->len);

	h = hmix(h, e->index);
	h = hmix(h, e->term);
	return (hmix(h, e->type));
}

/* The chain hash of an entry given the previous one's. */
static uint64_t
entry_chain(uint64_t prev, raft_index index, raft_term term, uint64_t dhash)
{
	return (hmix(hmix(hmix(prev, index), term), dhash));
}

/* The last index of a log. */
static raft_index
slog_last(const struct slog *l)
{
	return (l->snap_index + l->n);
}

/* The entry at index, or NULL if compacted or beyond the end. */
static struct sent *
slog_at(const struct slog *l, raft_index i)
{
	if (i <= l->snap_index || i > slog_last(l))
		return (NULL);
	return (&l->e[i - l->snap_index - 1]);
}

/* The term at index (0 if unknown). */
static raft_term
slog_term(const struct slog *l, raft_index i)
{
	struct sent	*e;

	if (i == l->snap_index)
		return (l->snap_term);
	return ((e = slog_at(l, i)) ? e->term : 0);
}

/* The chain hash at index: true if known. */
static bool
slog_chain(const struct slog *l, raft_index i, uint64_t *chain)
{
	struct sent	*e;

	if (i == l->snap_index) {
		*chain = l->snap_chain;
		return (true);
	}
	if ((e = slog_at(l, i)) == NULL)
		return (false);
	*chain = e->chain;
	return (true);
}

/* Drop entries from index on. */
static void
slog_truncate(struct slog *l, raft_index from)
{
	size_t	keep, k;

	if (from <= l->snap_index)
		keep = 0;
	else if (from > slog_last(l))
		return;
	else
		keep = from - l->snap_index - 1;
	for (k = keep; k < l->n; k++)
		free(l->e[k].data);
	l->n = keep;
}

/* Append a copy of e (contiguous); false if it would leave a gap. */
static bool
slog_append(struct slog *l, const struct sent *e)
{
	struct sent	*d;
	uint64_t	 prev;

	if (e->index <= slog_last(l))
		slog_truncate(l, e->index);
	if (e->index != slog_last(l) + 1)
		return (false);
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->e = xrealloc(l->e, l->cap * sizeof *l->e);
	}
	prev = l->n ? l->e[l->n - 1].chain : l->snap_chain;
	d = &l->e[l->n++];
	*d = *e;
	d->data = xmemdup(e->data, e->len);
	d->chain = entry_chain(prev, e->index, e->term, e->dhash);
	return (true);
}

/* Drop entries through index (compaction), keeping its term and chain. */
static void
slog_compact(struct slog *l, raft_index index, const struct raft_conf *conf)
{
	struct sent	*e;
	size_t		 drop, k;

	if ((e = slog_at(l, index)) == NULL)
		return;
	l->snap_term = e->term;
	l->snap_chain = e->chain;
	l->snap_conf = *conf;
	drop = index - l->snap_index;
	for (k = 0; k < drop; k++)
		free(l->e[k].data);
	memmove(l->e, l->e + drop, (l->n - drop) * sizeof *l->e);
	l->n -= drop;
	l->snap_index = index;
}

/* Free a log's entries. */
static void
slog_clear(struct slog *l)
{
	size_t	k;

	for (k = 0; k < l->n; k++)
		free(l->e[k].data);
	free(l->e);
	memset(l, 0, sizeof *l);
}

/* Copy a log. */
static void
slog_copy(struct slog *dst, const struct slog *src)
{
	size_t	k;

	slog_clear(dst);
	*dst = *src;
	dst->cap = src->n ? src->n : 1;
	dst->e = xrealloc(NULL, dst->cap * sizeof *dst->e);
	for (k = 0; k < src->n; k++) {
		dst->e[k] = src->e[k];
		dst->e[k].data = xmemdup(src->e[k].data, src->e[k].len);
	}
}

/* The configuration in force at index (the last CONF entry through it). */
static void
slog_conf_at(const struct slog *l, raft_index index, struct raft_conf *conf)
{
	raft_index	 i;
	struct sent	*e;

	for (i = index; i > l->snap_index; i--) {
		e = slog_at(l, i);
		if (e != NULL && e->type == RAFT_ENTRY_CONF &&
		    raft_conf_decode(e->data, e->len, conf) == 0)
			return;
	}
	*conf = l->snap_conf;
}

/* The state machine -------------------------------------------------- */

/* Append a record. */
static void
sm_push(struct sm *sm, const struct smrec *r)
{
	if (sm->n - sm->base == sm->cap) {
		sm->cap = sm->cap ? sm->cap * 2 : 64;
		sm->r = xrealloc(sm->r, sm->cap * sizeof *sm->r);
	}
	sm->r[sm->n++ - sm->base] = *r;
}

/* The chain hash at the state machine's applied index. */
static uint64_t
sm_chain(const struct sm *sm)
{
	return (sm->n > sm->base ? sm->r[sm->n - sm->base - 1].chain :
	    sm->base_chain);
}

/* The term of the last applied entry. */
static raft_term
sm_term(const struct sm *sm)
{
	return (sm->n > sm->base ? sm->r[sm->n - sm->base - 1].term :
	    sm->base_term);
}

#define SNAP_MAGIC	0x52534e50u	/* "RSNP" */
#define SNAP_HEAD	36
#define SNAP_REC	33
#define SNAP_KEEP	16		/* records in a snapshot */

/*
 * Serialise the state machine as snapshot bytes: its applied index, the
 * chain hash and term some entries before it, those last entries' records,
 * a checksum.  The chain hash stands for the whole prefix.
 */
static uint8_t *
sm_encode(const struct sm *sm, size_t *lenp)
{
	size_t		 start, len, k, o = 0;
	uint8_t		*b;
	uint64_t	 h, n = sm->n, st, chain;
	uint32_t	 magic = SNAP_MAGIC;
	raft_term	 term;

	start = sm->n > sm->base + SNAP_KEEP ? sm->n - SNAP_KEEP : sm->base;
	len = SNAP_HEAD + (sm->n - start) * SNAP_REC + 8;
	b = xrealloc(NULL, len);
	st = start;
	chain = start > sm->base ? sm->r[start - sm->base - 1].chain :
	    sm->base_chain;
	term = start > sm->base ? sm->r[start - sm->base - 1].term :
	    sm->base_term;
	memcpy(b + o, &magic, 4);
	memcpy(b + 4, &n, 8);
	memcpy(b + 12, &st, 8);
	memcpy(b + 20, &chain, 8);
	memcpy(b + 28, &term, 8);
	o = SNAP_HEAD;
	for (k = start; k < sm->n; k++) {
		const struct smrec *r = &sm->r[k - sm->base];

		memcpy(b + o, &r->term, 8);
		memcpy(b + o + 8, &r->type, 1);
		memcpy(b + o + 9, &r->dhash, 8);
		memcpy(b + o + 17, &r->id, 8);
		memcpy(b + o + 25, &r->chain, 8);
		o += SNAP_REC;
	}
	h = hbytes(SNAP_MAGIC, b, o);
	memcpy(b + o, &h, 8);
	*lenp = len;
	return (b);
}

/* Parse snapshot bytes; -1 if corrupt. */
static int
sm_decode(const uint8_t *b, size_t len, struct sm *sm)
{
	uint32_t	 magic;
	uint64_t	 n, st, h, chain;
	size_t		 k, o = SNAP_HEAD;
	struct smrec	 r;

	memset(sm, 0, sizeof *sm);
	if (len < SNAP_HEAD + 8)
		return (-1);
	memcpy(&magic, b, 4);
	memcpy(&n, b + 4, 8);
	memcpy(&st, b + 12, 8);
	if (magic != SNAP_MAGIC || st > n || n - st > len ||
	    len != SNAP_HEAD + (n - st) * SNAP_REC + 8)
		return (-1);
	memcpy(&h, b + len - 8, 8);
	if (h != hbytes(SNAP_MAGIC, b, len - 8))
		return (-1);
	sm->n = sm->base = st;
	memcpy(&sm->base_chain, b + 20, 8);
	memcpy(&sm->base_term, b + 28, 8);
	chain = sm->base_chain;
	for (k = st; k < n; k++) {
		memcpy(&r.term, b + o, 8);
		memcpy(&r.type, b + o + 8, 1);
		memcpy(&r.dhash, b + o + 9, 8);
		memcpy(&r.id, b + o + 17, 8);
		memcpy(&r.chain, b + o + 25, 8);
		chain = entry_chain(chain, k + 1, r.term, r.dhash);
		if (chain != r.chain) {
			free(sm->r);
			memset(sm, 0, sizeof *sm);
			return (-1);
		}
		sm_push(sm, &r);
		o += SNAP_REC;
	}
	return (0);
}

/* Messages ------------------------------------------------------------ */

/* An owned copy of a message. */
static struct smsg *
smsg_copy(const struct raft_msg *m)
{
	struct smsg	*c = xcalloc(1, sizeof *c);
	size_t		 total = m->len, k, o;

	c->m = *m;
	for (k = 0; k < m->n_entries; k++)
		total += m->entries[k].len;
	c->blob = xrealloc(NULL, total);
	o = 0;
	if (m->len > 0 && m->data != NULL) {
		memcpy(c->blob, m->data, m->len);
		c->m.data = c->blob;
		o = m->len;
	} else
		c->m.data = NULL;
	if (m->n_entries > 0) {
		c->ents = xcalloc(m->n_entries, sizeof *c->ents);
		for (k = 0; k < m->n_entries; k++) {
			c->ents[k] = m->entries[k];
			if (m->entries[k].len > 0)
				memcpy(c->blob + o, m->entries[k].data,
				    m->entries[k].len);
			c->ents[k].data = c->blob + o;
			o += m->entries[k].len;
		}
	}
	c->m.entries = c->ents;
	if (m->conf != NULL) {
		c->conf = *m->conf;
		c->m.conf = &c->conf;
	}
	return (c);
}

/* Free a message copy. */
static void
smsg_free(struct smsg *c)
{
	if (c == NULL)
		return;
	free(c->ents);
	free(c->blob);
	free(c);
}

/* Proposals ------------------------------------------------------------ */

/* The payload of proposal id (a unique 8-byte id, then derived padding). */
static size_t
prop_payload(uint64_t id, uint8_t *buf)
{
	size_t	len = 8 + fmix(id + 77) % 40, i;

	memcpy(buf, &id, 8);
	for (i = 8; i < len; i++)
		buf[i] = (uint8_t)fmix(id * 131 + i);
	return (len);
}

/* The node's clock and scheduling ------------------------------------- */

/* The node's local time at global time t. */
static uint64_t
node_clock(const struct node *n, uint64_t t)
{
	return (n->offset + t * n->rate / 1000000);
}

/* The global time at which the node's clock reads local. */
static uint64_t
node_when(const struct node *n, uint64_t local)
{
	if (local <= n->offset)
		return (0);
	return (((local - n->offset) * 1000000 + n->rate - 1) / n->rate);
}

typedef void hook_f(struct sim *, struct node *, const struct raft_update *,
    enum raft_rc, void *);

static enum raft_rc node_step(struct sim *, struct node *,
		    struct raft_event *, hook_f *, void *);
static void	node_crash(struct sim *, struct node *, bool);
static void	check_node(struct sim *, struct node *);
static void	disk_install(struct sim *, struct node *, struct wrec *);

/* Does the durable log hold index with term (0: the core's term now)? */
static bool
durable_holds(const struct node *n, raft_index index, raft_term term)
{
	const struct sent	*d;

	if (index <= n->dlog.snap_index)
		return (true);
	if ((d = slog_at(&n->dlog, index)) == NULL)
		return (false);
	if (term == 0)
		term = slog_term(&n->vlog, index);
	return (term == 0 || term == d->term);
}

/* Is the node durable through index, with the term the core wrote? */
static bool
durable_has(const struct node *n, raft_index index)
{
	return (durable_holds(n, index, 0));
}

/* The durable log's last good index. */
static raft_index
durable_last(const struct node *n)
{
	return (slog_last(&n->dlog));
}

/* The wire rules a driver can check when a message leaves. */
static void
check_send(struct sim *s, struct node *n, const struct smsg *c)
{
	const struct raft_msg	*m = &c->m;
	bool	reply = m->type == RAFT_MSG_VOTE_RESP ||
	    m->type == RAFT_MSG_APPEND_RESP || m->type == RAFT_MSG_SNAP_RESP;

	if (s->safety_only)
		return;
	if (m->type == RAFT_MSG_VOTE && m->index > n->dlog.snap_index &&
	    slog_term(&n->dlog, m->index) != m->log_term)
		violation(s, "vote-claims-undurable", "n%" PRIu64 " asks "
		    "for a %svote claiming index %" PRIu64 " term %" PRIu64
		    " but its durable log ends at %" PRIu64, n->id,
		    m->prevote ? "pre-" : "", m->index, m->log_term,
		    durable_last(n));
	if (!reply)
		return;
	if (m->type == RAFT_MSG_VOTE_RESP && m->prevote)
		return;
	if (n->hs.term < m->term)
		violation(s, "reply-before-durable", "n%" PRIu64 " sends %s "
		    "in term %" PRIu64 " to n%" PRIu64 " but its durable term "
		    "is %" PRIu64, n->id, msg_name(m->type), m->term, m->to,
		    n->hs.term);
	else if (m->type == RAFT_MSG_VOTE_RESP && !m->reject &&
	    (n->hs.term != m->term || n->hs.vote != m->to))
		violation(s, "vote-before-durable", "n%" PRIu64 " grants its "
		    "vote in term %" PRIu64 " to n%" PRIu64 " but its durable "
		    "term/vote is %" PRIu64 "/%" PRIu64, n->id, m->term, m->to,
		    n->hs.term, n->hs.vote);
	else if (m->type == RAFT_MSG_APPEND_RESP && !m->reject &&
	    !durable_holds(n, m->index, c->expect))
		violation(s, "ack-before-durable", "n%" PRIu64 " acks index %"
		    PRIu64 " to n%" PRIu64 " (term %" PRIu64 ") but its "
		    "durable "
		    "log ends at %" PRIu64, n->id, m->index, m->to, m->term,
		    durable_last(n));
	else if (m->type == RAFT_MSG_SNAP_RESP && m->done && !m->reject &&
	    !durable_holds(n, m->index, c->expect) && n->sm.n < m->index)
		violation(s, "snap-ack-before-durable", "n%" PRIu64 " reports "
		    "the snapshot at %" PRIu64 " installed but its durable "
		    "snapshot is at %" PRIu64, n->id, m->index,
		    n->dlog.snap_index);
}

/* The network ---------------------------------------------------------- */

/* What the trace shows of a message besides its type, peer, term, index. */
static uint64_t
msg_info(const struct raft_msg *m)
{
	uint64_t	n = m->n_entries;

	if (m->type == RAFT_MSG_SNAP || m->type == RAFT_MSG_SNAP_RESP)
		n = m->offset + (m->type == RAFT_MSG_SNAP ? m->len : 0);
	return ((n & 0xffff) | (uint64_t)m->reject << 16 |
	    (uint64_t)m->done << 17 | (uint64_t)(m->type == RAFT_MSG_SNAP ||
	    m->type == RAFT_MSG_SNAP_RESP) << 18 | (uint64_t)m->last << 19);
}

/* Send a message through the network: maybe dropped, duplicated, delayed. */
static void
net_send(struct sim *s, struct node *n, struct smsg *c)
{
	const struct raft_msg	*m = &c->m;
	unsigned		 copies = 1, k;
	uint64_t		 d, info;
	struct view		*v;
	size_t			 len;

	info = msg_info(m);
	if (m->type == RAFT_MSG_SNAP) {
		/* The driver fills the chunk from its view for the peer. */
		v = m->to <= SIM_NODES ? &n->views[m->to] : NULL;
		if (v == NULL || v->data == NULL || v->index != m->index ||
		    m->offset > v->len) {
			trace(s, T_DROP, n->id, m->type, m->to, m->term,
			    m->index, info);
			smsg_free(c);
			return;
		}
		len = v->len - m->offset;
		if (m->len > 0 && m->len < len)
			len = m->len;
		if (len > s->k.snap_chunk)
			len = s->k.snap_chunk;
		free(c->blob);
		c->blob = xmemdup(v->data + m->offset, len);
		c->m.data = c->blob;
		c->m.len = len;
		c->m.last = m->offset + len == v->len;
	}
	check_send(s, n, c);
	if (s->faults && (m->type == RAFT_MSG_VOTE_RESP ||
	    m->type == RAFT_MSG_APPEND_RESP) && !m->reject &&
	    rnd_pm(s, s->k.kill_replier_pm))
		sev_push(s, s->now + rnd_below(s, s->k.net_min + 2), SE_CRASH,
		    n->id, n->life, 0, NULL);
	if (m->to == 0 || m->to > SIM_NODES || s->cut[n->id][m->to] ||
	    (s->faults && rnd_pm(s, s->k.drop_pm))) {
		trace(s, T_DROP, n->id, m->type, m->to, m->term, m->index,
		    info);
		smsg_free(c);
		return;
	}
	trace(s, T_SEND, n->id, m->type, m->to, m->term, m->index, info);
	if (s->faults && rnd_pm(s, s->k.dup_pm))
		copies = 2;
	for (k = 0; k < copies; k++) {
		d = s->k.net_min + rnd_below(s, s->k.net_jitter + 1);
		if (s->faults && rnd_pm(s, s->k.slow_pm))
			d += rnd_range(s, s->k.election_ms / 4,
			    s->k.election_ms * 2);
		sev_push(s, s->now + d, SE_DELIVER, m->to, 0, 0,
		    k + 1 < copies ? smsg_copy(&c->m) : c);
		if (k + 1 < copies)
			trace(s, T_DUP, n->id, m->type, m->to, m->term,
			    m->index, info);
	}
}

/* Deliver a message to its node. */
static void
net_deliver(struct sim *s, struct sev *e)
{
	struct node		*n = &s->nodes[e->node];
	struct raft_event	 ev;
	const struct raft_msg	*m = &e->m->m;

	if (!n->exists || !n->up || s->cut[m->from <= SIM_NODES ?
	    m->from : 0][n->id]) {
		trace(s, T_DROP, m->from, m->type, m->to, m->term, m->index,
		    msg_info(m));
		smsg_free(e->m);
		return;
	}
	if (n->paused_until > s->now) {
		sev_push(s, n->paused_until, SE_DELIVER, e->node, 0, 0, e->m);
		return;
	}
	trace(s, T_RECV, n->id, m->type, m->from, m->term, m->index,
	    msg_info(m));
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_RECV;
	ev.msg = m;
	node_step(s, n, &ev, NULL, NULL);
	smsg_free(e->m);
}

/* The checker -------------------------------------------------------- */

/* Look (index, term) up in the registry of every entry ever durable. */
static struct reg *
reg_find(struct sim *s, raft_index index, raft_term term, bool add)
{
	size_t		 i, k;
	struct reg	*old;
	size_t		 oldcap;

	if (add && (s->n_regs + 1) * 2 > s->cap_regs) {
		old = s->regs;
		oldcap = s->cap_regs;
		s->cap_regs = oldcap ? oldcap * 2 : 1024;
		s->regs = xcalloc(s->cap_regs, sizeof *s->regs);
		s->n_regs = 0;
		for (k = 0; k < oldcap; k++)
			if (old[k].index != 0) {
				struct reg *r = reg_find(s, old[k].index,
				    old[k].term, true);
				r->chain = old[k].chain;
			}
		free(old);
	}
	if (s->cap_regs == 0)
		return (NULL);
	i = hmix(index, term) & (s->cap_regs - 1);
	for (;;) {
		if (s->regs[i].index == index && s->regs[i].term == term)
			return (&s->regs[i]);
		if (s->regs[i].index == 0) {
			if (!add)
				return (NULL);
			s->regs[i].index = index;
			s->regs[i].term = term;
			s->n_regs++;
			return (&s->regs[i]);
		}
		i = (i + 1) & (s->cap_regs - 1);
	}
}

/* Log matching: an (index, term) names one entry and one prefix forever. */
static void
check_durable_entry(struct sim *s, struct node *n, const struct sent *e)
{
	struct reg	*r;

	if ((r = reg_find(s, e->index, e->term, false)) == NULL) {
		r = reg_find(s, e->index, e->term, true);
		r->chain = e->chain;
		return;
	}
	if (r->chain != e->chain)
		violation(s, "log-matching", "n%" PRIu64 " holds entry %"
		    PRIu64 " of term %" PRIu64 " with a different content or "
		    "prefix than another node's", n->id, e->index, e->term);
}

/* Leader completeness: a leader's log holds every committed entry. */
static void
check_leader_log(struct sim *s, struct node *n, raft_term term)
{
	size_t		 lo = 0, hi = s->n_committed;
	raft_index	 k;
	uint64_t	 chain;

	/* The last index committed in a term before the leader's. */
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->committed[mid].cterm < term)
			lo = mid + 1;
		else
			hi = mid;
	}
	k = lo;
	if (k == 0)
		return;
	if (k < n->vlog.snap_index) {
		if (n->vlog.snap_index <= s->n_committed &&
		    s->committed[n->vlog.snap_index - 1].chain !=
		    n->vlog.snap_chain)
			violation(s, "leader-completeness", "leader n%" PRIu64
			    " of term %" PRIu64 " has a snapshot at %" PRIu64
			    " that differs from the committed entries",
			    n->id, term, n->vlog.snap_index);
		return;
	}
	if (!slog_chain(&n->vlog, k, &chain))
		violation(s, "leader-completeness", "leader n%" PRIu64
		    " of term %" PRIu64 " lacks committed entry %" PRIu64
		    " (its log ends at %" PRIu64 ")", n->id, term, k,
		    slog_last(&n->vlog));
	else if (chain != s->committed[k - 1].chain)
		violation(s, "leader-completeness", "leader n%" PRIu64
		    " of term %" PRIu64 " has a different entry or prefix at "
		    "committed index %" PRIu64 " (term %" PRIu64 " there, "
		    "committed term %" PRIu64 ")", n->id, term, k,
		    slog_term(&n->vlog, k), s->committed[k - 1].term);
}

/* Does a majority of conf's voters hold (index, chain) durably? */
static bool
quorum_holds(struct sim *s, const struct raft_conf *conf, raft_index index,
    uint64_t chain, char *who, size_t wlen)
{
	unsigned	 voters = 0, have = 0, k;
	struct node	*v;
	uint64_t	 c;
	size_t		 o;

	for (k = 0; k < conf->n; k++) {
		if (conf->m[k].role != RAFT_VOTER)
			continue;
		voters++;
		if (conf->m[k].id == 0 || conf->m[k].id > SIM_NODES)
			continue;
		v = &s->nodes[conf->m[k].id];
		o = strlen(who);
		snprintf(who + o, wlen - o, " n%" PRIu64 ":%" PRIu64, v->id,
		    durable_last(v));
		if (index <= v->dlog.snap_index)
			have++;
		else if (slog_chain(&v->dlog, index, &c) && c == chain)
			have++;
	}
	return (voters == 0 || have * 2 > voters);
}

/*
 * When a leader's commit index moves, the entry there (and so, by its
 * chain hash, every entry before it) must be durable on a majority of the
 * voters of the leader's configuration.
 */
static void
check_quorum(struct sim *s, struct node *n, const struct raft_status *st)
{
	char		who[256] = "";
	uint64_t	chain;

	if (s->safety_only || !slog_chain(&n->vlog, st->commit, &chain))
		return;
	if (!quorum_holds(s, &st->conf, st->commit, chain, who, sizeof who))
		violation(s, "commit-without-durable-quorum", "leader n%"
		    PRIu64 " commits index %" PRIu64 " which no majority of "
		    "voters holds durably (voter:durable%s)", n->id,
		    st->commit, who);
}

/* Apply one committed entry to the node's state machine. */
static void
sm_apply(struct sim *s, struct node *n, const struct raft_entry *e)
{
	struct smrec	 r;
	struct crec	*c;
	uint64_t	 id = 0;
	uint8_t		 buf[64];
	size_t		 len, k;
	struct prop	*p;

	if (e->index != n->sm.n + 1) {
		violation(s, e->index <= n->sm.n ? "applied-twice" :
		    "applied-gap", "n%" PRIu64 " applies index %" PRIu64
		    " after %zu", n->id, e->index, n->sm.n);
		return;
	}
	memset(&r, 0, sizeof r);
	r.term = e->term;
	r.type = e->type;
	r.dhash = entry_dhash(e->type, e->data, e->len);
	r.chain = entry_chain(sm_chain(&n->sm), e->index, e->term, r.dhash);
	if (e->type == RAFT_ENTRY_NORMAL) {
		if (e->len >= 8)
			memcpy(&id, e->data, 8);
		if (e->len < 8 || id >= s->n_props ||
		    (len = prop_payload(id, buf)) != e->len ||
		    memcmp(buf, e->data, len) != 0) {
			violation(s, "unproposed-entry", "n%" PRIu64 " applies "
			    "at %" PRIu64 " a NORMAL entry nobody proposed",
			    n->id, e->index);
			return;
		}
		r.id = id + 1;
		p = &s->props[id];
		if (p->applied_at[n->id] != 0) {
			violation(s, "applied-twice", "n%" PRIu64 " applies "
			    "proposal %" PRIu64 " at %" PRIu64 " and at %"
			    PRIu64, n->id, id, p->applied_at[n->id],
			    e->index);
			return;
		}
		p->applied_at[n->id] = e->index;
	}
	sm_push(&n->sm, &r);
	/* State machine safety: one entry per index, on every node. */
	if (e->index <= s->n_committed) {
		c = &s->committed[e->index - 1];
		if (c->chain != r.chain) {
			violation(s, "state-machine-safety", "n%" PRIu64
			    " applies at %" PRIu64 " an entry of term %" PRIu64
			    " but another node applied one of term %" PRIu64
			    " (or a different prefix)", n->id, e->index,
			    e->term, c->term);
			return;
		}
		if (c->acked != 0 && c->acked != r.id)
			violation(s, "acked-proposal-lost", "n%" PRIu64
			    " applies at %" PRIu64 " something else than "
			    "acknowledged proposal %" PRIu64, n->id, e->index,
			    c->acked - 1);
	} else {
		if (s->n_committed == s->cap_committed) {
			s->cap_committed = s->cap_committed ?
			    s->cap_committed * 2 : 256;
			s->committed = xrealloc(s->committed,
			    s->cap_committed * sizeof *s->committed);
		}
		c = &s->committed[s->n_committed++];
		c->term = e->term;
		c->cterm = raft_current_term(n->r);
		if (s->n_committed > 1 && c->cterm < c[-1].cterm)
			c->cterm = c[-1].cterm;
		c->chain = r.chain;
		c->acked = 0;
	}
	/* The proposer acknowledges its client when it applies the entry. */
	for (k = 0; k < n->n_pend; k++) {
		p = &s->props[n->pend[k]];
		if (p->index != e->index)
			continue;
		if (p->term == e->term && r.id == n->pend[k] + 1) {
			p->acked = true;
			s->committed[e->index - 1].acked = r.id;
			if (e->index > s->max_acked)
				s->max_acked = e->index;
			s->n_acked++;
			trace(s, T_ACK, n->id, 0, n->pend[k], e->index,
			    e->term, 0);
		}
		n->pend[k] = n->pend[--n->n_pend];
		k--;
	}
}

/* Install snapshot bytes into the node's state machine (durably). */
static bool
sm_install(struct sim *s, struct node *n, const uint8_t *b, size_t len,
    raft_index index, raft_term term)
{
	struct sm	 nsm;
	size_t		 k;
	struct prop	*p;

	if (sm_decode(b, len, &nsm) != 0) {
		violation(s, "snapshot-corrupt", "n%" PRIu64 " staged a "
		    "snapshot whose bytes do not check out", n->id);
		return (false);
	}
	if (nsm.n != index || sm_term(&nsm) != term) {
		violation(s, "snapshot-mismatch", "n%" PRIu64 " staged a "
		    "snapshot of index %zu for index %" PRIu64 " term %" PRIu64,
		    n->id, nsm.n, index, term);
		free(nsm.r);
		return (false);
	}
	if (index < n->sm.n) {
		violation(s, "applied-went-back", "n%" PRIu64 " installs a "
		    "snapshot at %" PRIu64 " over its state machine at %zu",
		    n->id, index, n->sm.n);
		free(nsm.r);
		return (false);
	}
	/* The chain hash at base covers every entry through it. */
	for (k = nsm.base; k < nsm.n; k++) {
		uint64_t c = k == nsm.base ? nsm.base_chain :
		    nsm.r[k - nsm.base - 1].chain;

		if (k > 0 && k <= s->n_committed &&
		    s->committed[k - 1].chain != c) {
			violation(s, "state-machine-safety", "n%" PRIu64
			    " installs a snapshot that differs from the "
			    "committed entries at %zu", n->id, k);
			free(nsm.r);
			return (false);
		}
	}
	if (nsm.n > 0 && nsm.n <= s->n_committed &&
	    s->committed[nsm.n - 1].chain != sm_chain(&nsm)) {
		violation(s, "state-machine-safety", "n%" PRIu64 " installs a "
		    "snapshot that differs from the committed entries at %zu",
		    n->id, nsm.n);
		free(nsm.r);
		return (false);
	}
	for (k = nsm.base; k < nsm.n; k++) {
		const struct smrec *r = &nsm.r[k - nsm.base];

		if (k >= n->sm.n && r->id != 0 && r->id - 1 < s->n_props) {
			p = &s->props[r->id - 1];
			p->applied_at[n->id] = k + 1;
		}
	}
	free(n->sm.r);
	n->sm = nsm;
	/* Proposals pending at indexes the snapshot covers are unknowable. */
	for (k = 0; k < n->n_pend; k++)
		if (s->props[n->pend[k]].index <= index)
			n->pend[k--] = n->pend[--n->n_pend];
	return (true);
}

/* Per node after every step: roles, terms, commit. */
static void
check_node(struct sim *s, struct node *n)
{
	struct raft_status	st;
	bool			was_leader;

	if (!n->up || n->r == NULL)
		return;
	raft_status(n->r, &st);
	was_leader = n->role_seen == RAFT_LEADER && n->term_seen == st.term;
	if (st.role != n->role_seen || st.term != n->term_seen) {
		trace(s, T_ROLE, n->id, st.role, st.term, st.commit,
		    slog_last(&n->vlog), 0);
		if (!s->safety_only && st.role != n->role_seen &&
		    (st.role == RAFT_PRECANDIDATE ||
		    st.role == RAFT_CANDIDATE) &&
		    !durable_has(n, slog_last(&n->vlog)))
			violation(s, "campaign-while-persisting", "n%" PRIu64
			    " campaigns with its log through %" PRIu64
			    " but durable only through %" PRIu64, n->id,
			    slog_last(&n->vlog), durable_last(n));
		/* Leaders die young: partially replicated entries. */
		if (st.role == RAFT_LEADER && s->faults &&
		    rnd_pm(s, s->k.kill_leader_pm))
			sev_push(s, s->now + rnd_below(s,
			    s->k.kill_leader_ms), rnd_pm(s,
			    s->k.isolate_pm) ? SE_ISOLATE : SE_CRASH, n->id,
			    n->life, 0, NULL);
		if (st.role == RAFT_LEADER && n->role_seen != RAFT_LEADER)
			s->n_elections++;
		if (st.role == RAFT_FAILED && n->restart_at == 0) {
			/* A supervisor restarts a replica that failed. */
			n->restart_at = s->now + s->k.restart_min +
			    rnd_below(s, s->k.restart_jitter + 1);
			sev_push(s, n->restart_at, SE_RESTART, n->id,
			    n->life, 0, NULL);
		}
		n->role_seen = st.role;
		n->term_seen = st.term;
	}
	if (st.role == RAFT_LEADER) {
		if (st.term >= s->n_leader_of) {
			size_t ncap = st.term * 2 + 16;

			s->leader_of = xrealloc(s->leader_of,
			    ncap * sizeof *s->leader_of);
			memset(s->leader_of + s->n_leader_of, 0,
			    (ncap - s->n_leader_of) * sizeof *s->leader_of);
			s->n_leader_of = ncap;
		}
		if (s->leader_of[st.term] == 0)
			s->leader_of[st.term] = n->id;
		else if (s->leader_of[st.term] != n->id)
			violation(s, "election-safety", "n%" PRIu64 " and n%"
			    PRIu64 " are both leaders of term %" PRIu64,
			    s->leader_of[st.term], n->id, st.term);
		check_leader_log(s, n, st.term);
	}
	if (st.commit < n->commit_seen)
		violation(s, "commit-went-back", "n%" PRIu64 "'s commit index "
		    "went from %" PRIu64 " back to %" PRIu64, n->id,
		    n->commit_seen, st.commit);
	else if (st.commit > n->commit_seen) {
		/* Raft §5.4.2: a leader commits by counting its own term. */
		if (!s->safety_only && st.role == RAFT_LEADER && was_leader &&
		    slog_term(&n->vlog, st.commit) != 0 &&
		    slog_term(&n->vlog, st.commit) != st.term)
			violation(s, "commit-old-term", "leader n%" PRIu64
			    " of term %" PRIu64 " commits through %" PRIu64
			    ", an entry of term %" PRIu64, n->id, st.term,
			    st.commit, slog_term(&n->vlog, st.commit));
		if (st.role == RAFT_LEADER || was_leader)
			check_quorum(s, n, &st);
		if (st.role == RAFT_LEADER && s->faults &&
		    rnd_pm(s, s->k.kill_committer_pm))
			sev_push(s, s->now, rnd_pm(s, s->k.isolate_pm) ?
			    SE_ISOLATE : SE_CRASH, n->id, n->life, 0, NULL);
		if (!s->safety_only && st.role != RAFT_LEADER && !was_leader &&
		    st.commit > durable_last(n))
			violation(s, "follower-commit-beyond-durable", "n%"
			    PRIu64 " (%s) commits through %" PRIu64 " but its "
			    "durable log ends at %" PRIu64, n->id,
			    role_name(st.role), st.commit, durable_last(n));
		n->commit_seen = st.commit;
	}
}

/* The driver: carry out one update ----------------------------------- */

/* Copy an entry of the core into an owned one. */
static void
sent_from(struct sent *d, const struct raft_entry *e)
{
	d->term = e->term;
	d->index = e->index;
	d->type = e->type;
	d->data = xmemdup(e->data, e->len);
	d->len = e->len;
	d->dhash = entry_dhash(e->type, e->data, e->len);
	d->chain = 0;
	d->csum = 0;
}

/* Free a write record. */
static void
wrec_free(struct wrec *w)
{
	size_t	k;

	for (k = 0; k < w->n_ents; k++)
		free(w->ents[k].data);
	free(w->ents);
	free(w->c_data);
	for (k = 0; k < w->n_msgs; k++)
		smsg_free(w->msgs[k]);
	free(w->msgs);
	free(w);
}

/* Make a view of the state machine for a peer. */
static raft_index
view_make(struct sim *s, struct node *n, raft_id to)
{
	struct view	*v = &n->views[to];

	free(v->data);
	v->data = sm_encode(&n->sm, &v->len);
	v->index = n->sm.n;
	trace(s, T_SNAP_READY, n->id, 0, to, v->index, v->len, 0);
	return (v->index);
}

/* Carry out an update: queue its write, send, apply; then follow up. */
static void
handle_update(struct sim *s, struct node *n, const struct raft_update *u)
{
	struct wrec		*w = NULL;
	size_t			 k, nwait = 0;
	bool			 write;
	raft_index		 applied = 0, first_apply = 0;
	raft_id			 snap_need = u->snap_need;
	uint64_t		 deadline = u->deadline, lat;
	struct raft_event	 ev;
	struct smsg		*c;

	for (k = 0; k < u->n_msgs; k++)
		if (u->msgs[k].wait == RAFT_WAIT_PERSIST)
			nwait++;
	write = u->hs_changed || u->truncate_from != 0 || u->n_entries > 0 ||
	    u->has_snap_chunk;
	if (write || nwait > 0) {
		w = xcalloc(1, sizeof *w);
		w->empty = !write;
		w->hs_changed = u->hs_changed;	/* else commit only */
		w->hs = u->hs;
		w->truncate_from = u->truncate_from;
		if (u->truncate_from != 0) {
			s->n_truncs++;
			/* The install of a snapshot drops the whole log. */
			if (u->truncate_from <= n->commit_prev &&
			    !(u->has_snap_chunk && u->snap_chunk.last))
				violation(s, "truncate-committed", "n%" PRIu64
				    " truncates its log from %" PRIu64
				    " below its commit index %" PRIu64, n->id,
				    u->truncate_from, n->commit_prev);
			slog_truncate(&n->vlog, u->truncate_from);
		}
		if (u->n_entries > 0) {
			w->ents = xcalloc(u->n_entries, sizeof *w->ents);
			w->n_ents = u->n_entries;
		}
		for (k = 0; k < u->n_entries; k++) {
			sent_from(&w->ents[k], &u->entries[k]);
			if (w->ents[k].index <= n->commit_prev &&
			    slog_term(&n->vlog, w->ents[k].index) !=
			    w->ents[k].term)
				violation(s, "truncate-committed", "n%" PRIu64
				    " overwrites committed entry %" PRIu64,
				    n->id, w->ents[k].index);
			if (!slog_append(&n->vlog, &w->ents[k]))
				violation(s, "log-gap", "n%" PRIu64 " writes "
				    "entry %" PRIu64 " after its last %" PRIu64,
				    n->id, w->ents[k].index,
				    slog_last(&n->vlog));
		}
		if (u->has_snap_chunk) {
			w->has_chunk = true;
			w->c_index = u->snap_chunk.index;
			w->c_term = u->snap_chunk.term;
			if (u->snap_chunk.conf != NULL)
				w->c_conf = *u->snap_chunk.conf;
			w->c_offset = u->snap_chunk.offset;
			w->c_data = xmemdup(u->snap_chunk.data,
			    u->snap_chunk.len);
			w->c_len = u->snap_chunk.len;
			w->c_last = u->snap_chunk.last;
		}
		w->p_index = slog_last(&n->vlog);
		w->p_term = slog_term(&n->vlog, w->p_index);
		w->msgs = xcalloc(nwait ? nwait : 1, sizeof *w->msgs);
		lat = write ? s->k.fsync_min +
		    rnd_below(s, s->k.fsync_jitter + 1) : 0;
		if (write && s->faults && rnd_pm(s, s->k.stall_pm))
			lat += rnd_range(s, s->k.election_ms / 2,
			    s->k.election_ms * 3);
		w->done_at = s->now + lat;
		if (w->done_at < n->disk_busy)
			w->done_at = n->disk_busy;
		n->disk_busy = w->done_at;
	}
	for (k = 0; k < u->n_msgs; k++) {
		c = smsg_copy(&u->msgs[k]);
		c->m.from = n->id;
		if (c->m.type == RAFT_MSG_APPEND_RESP ||
		    c->m.type == RAFT_MSG_SNAP_RESP)
			c->expect = slog_term(&n->vlog, c->m.index);
		if (u->msgs[k].wait == RAFT_WAIT_PERSIST)
			w->msgs[w->n_msgs++] = c;
		else
			net_send(s, n, c);
	}
	if (w != NULL) {
		if (n->wq_tail != NULL)
			n->wq_tail->next = w;
		else
			n->wq_head = w;
		n->wq_tail = w;
		sev_push(s, w->done_at, SE_DISK, n->id, n->life, 0, NULL);
	}
	for (k = 0; k < u->n_apply && !s->failed; k++) {
		if (first_apply == 0)
			first_apply = u->apply[k].index;
		sm_apply(s, n, &u->apply[k]);
		applied = u->apply[k].index;
	}
	if (applied != 0)
		trace(s, T_APPLY, n->id, 0, first_apply, applied, 0, 0);
	/* Step 6: the next tick. */
	n->tick_gen++;
	{
		uint64_t at = node_when(n, deadline);

		if (at <= s->now)
			at = s->now + 1;
		sev_push(s, at, SE_TICK, n->id, n->life, n->tick_gen, NULL);
	}
	/* Follow-ups, once u is no longer needed. */
	if (applied != 0 && n->up) {
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_APPLIED;
		ev.index = applied;
		node_step(s, n, &ev, NULL, NULL);
		/* Compaction now and then, keeping a few entries. */
		if (n->up && s->k.compact_every > 0 &&
		    n->sm.n >= n->dlog.snap_index + s->k.compact_every +
		    s->k.compact_keep) {
			raft_index ci = n->sm.n - s->k.compact_keep;
			struct raft_conf conf;

			if (ci > durable_last(n))
				ci = durable_last(n);
			if (ci > n->dlog.snap_index &&
			    ci > n->vlog.snap_index &&
			    slog_at(&n->vlog, ci) != NULL &&
			    durable_has(n, ci)) {
				struct raft_status st;

				memset(&ev, 0, sizeof ev);
				ev.type = RAFT_EV_COMPACT;
				ev.index = ci;
				node_step(s, n, &ev, NULL, NULL);
				/* Storage drops what the core let go of. */
				if (n->up && !s->failed) {
					raft_status(n->r, &st);
					if (st.snap_index >= ci) {
						slog_conf_at(&n->dlog, ci,
						    &conf);
						trace(s, T_COMPACT, n->id, 0,
						    ci, 0, 0, 0);
						slog_compact(&n->dlog, ci,
						    &conf);
						slog_compact(&n->vlog, ci,
						    &conf);
					}
				}
			}
		}
	}
	if (snap_need != 0 && snap_need <= SIM_NODES && n->up) {
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_SNAP_READY;
		ev.to = snap_need;
		ev.index = view_make(s, n, snap_need);
		ev.term = sm_term(&n->sm);
		node_step(s, n, &ev, NULL, NULL);
	}
}

/*
 * Feed one event to a node and carry out what it returns; hook, if any,
 * sees the update first (a proposal's indexes).
 */
static enum raft_rc
node_step(struct sim *s, struct node *n, struct raft_event *ev, hook_f *hook,
    void *arg)
{
	struct raft_update	u;
	enum raft_rc		rc;

	if (!n->up || n->r == NULL || s->failed)
		return (RAFT_INVALID);
	ev->now = node_clock(n, s->now);
	s->steps++;
	n->commit_prev = n->commit_seen;
	memset(&u, 0, sizeof u);
	rc = raft_step(n->r, ev, &u);
	if (hook != NULL)
		hook(s, n, &u, rc, arg);
	check_node(s, n);
	handle_update(s, n, &u);
	check_node(s, n);
	return (rc);
}

/* The disk ------------------------------------------------------------- */

/* Make a write durable on the node's disk (one atomic record). */
static void
disk_land(struct sim *s, struct node *n, struct wrec *w)
{
	size_t		 k;
	struct sent	*d;
	bool		 gap = false;

	if (w->hs_changed)
		n->hs = w->hs;
	else if (w->hs.commit > n->hs.commit)
		n->hs.commit = w->hs.commit;
	if (w->truncate_from != 0)
		slog_truncate(&n->dlog, w->truncate_from);
	for (k = 0; k < w->n_ents; k++) {
		/* After a failed write, entries past the hole are lost. */
		if (gap || !slog_append(&n->dlog, &w->ents[k])) {
			gap = true;
			continue;
		}
		d = slog_at(&n->dlog, w->ents[k].index);
		d->csum = entry_csum(d);
		check_durable_entry(s, n, d);
	}
	if (w->has_chunk) {
		if (w->c_offset == 0)
			n->stage_len = 0;
		if (w->c_offset != n->stage_len && !s->safety_only) {
			violation(s, "snapshot-staging", "n%" PRIu64 " stages "
			    "a chunk at offset %" PRIu64 " after %zu bytes",
			    n->id, w->c_offset, n->stage_len);
			return;
		}
		/* Written where it says (a hole reads as zeros). */
		if (w->c_offset + w->c_len > n->stage_cap) {
			n->stage_cap = (w->c_offset + w->c_len) * 2;
			n->stage = xrealloc(n->stage, n->stage_cap);
		}
		if (w->c_offset > n->stage_len)
			memset(n->stage + n->stage_len, 0,
			    w->c_offset - n->stage_len);
		if (w->c_len > 0)
			memcpy(n->stage + w->c_offset, w->c_data, w->c_len);
		n->stage_len = w->c_offset + w->c_len;
		/* The write with the last chunk is the install. */
		if (w->c_last && !s->failed)
			disk_install(s, n, w);
	}
}

/* The bytes of a write as the disk holds them (for the torn record). */
static uint8_t *
wrec_encode(const struct wrec *w, size_t *lenp)
{
	size_t		 len = 40 + w->c_len, k, o;
	uint8_t		*b;

	for (k = 0; k < w->n_ents; k++)
		len += 17 + w->ents[k].len;
	b = xcalloc(1, len);
	memcpy(b, &w->hs.term, 8);
	memcpy(b + 8, &w->hs.vote, 8);
	memcpy(b + 16, &w->hs.commit, 8);
	memcpy(b + 24, &w->truncate_from, 8);
	memcpy(b + 32, &w->n_ents, 8);
	o = 40;
	for (k = 0; k < w->n_ents; k++) {
		memcpy(b + o, &w->ents[k].index, 8);
		memcpy(b + o + 8, &w->ents[k].term, 8);
		b[o + 16] = w->ents[k].type;
		if (w->ents[k].len > 0)
			memcpy(b + o + 17, w->ents[k].data, w->ents[k].len);
		o += 17 + w->ents[k].len;
	}
	if (w->c_len > 0)
		memcpy(b + o, w->c_data, w->c_len);
	*lenp = len;
	return (b);
}

/*
 * A crash tore the write being flushed: its record reached the disk with
 * some bytes wrong, under the checksum of the whole.
 */
static void
disk_tear(struct sim *s, struct node *n, const struct wrec *w)
{
	free(n->torn);
	n->torn = wrec_encode(w, &n->torn_len);
	n->torn_csum = hbytes(0x7041, n->torn, n->torn_len);
	if (rnd_pm(s, 500) && n->torn_len > 1)
		n->torn_len = rnd_below(s, n->torn_len);
	else
		n->torn[rnd_below(s, n->torn_len)] ^= 1 << rnd_below(s, 8);
}

/* Install the staged snapshot: state machine, log, both durable. */
static void
disk_install(struct sim *s, struct node *n, struct wrec *w)
{
	struct sent	*e;
	uint64_t	 chain;

	if (!sm_install(s, n, n->stage, n->stage_len, w->c_index, w->c_term))
		return;
	chain = sm_chain(&n->sm);
	/* Keep the log after the snapshot only if it matches there. */
	e = slog_at(&n->dlog, w->c_index);
	if (e != NULL && e->term == w->c_term && e->chain == chain) {
		slog_compact(&n->dlog, w->c_index, &w->c_conf);
	} else {
		slog_truncate(&n->dlog, 1);
		n->dlog.n = 0;
		n->dlog.snap_index = w->c_index;
		n->dlog.snap_term = w->c_term;
		n->dlog.snap_chain = chain;
		n->dlog.snap_conf = w->c_conf;
	}
	e = slog_at(&n->vlog, w->c_index);
	if (e != NULL && e->term == w->c_term && e->chain == chain) {
		slog_compact(&n->vlog, w->c_index, &w->c_conf);
	} else {
		slog_truncate(&n->vlog, 1);
		n->vlog.n = 0;
		n->vlog.snap_index = w->c_index;
		n->vlog.snap_term = w->c_term;
		n->vlog.snap_chain = chain;
		n->vlog.snap_conf = w->c_conf;
	}
	n->stage_len = 0;
	s->n_installs++;
	trace(s, T_INSTALL, n->id, 0, w->c_index, w->c_term, 0, 0);
}

/* The head of the node's disk queue is durable (or failed). */
static void
disk_done(struct sim *s, struct sev *e)
{
	struct node		*n = &s->nodes[e->node];
	struct wrec		*w, *q;
	struct raft_event	 ev;
	size_t			 k;
	bool			 fail;

	if (!n->up || e->life != n->life || (w = n->wq_head) == NULL)
		return;
	if (n->paused_until > s->now) {
		sev_push(s, n->paused_until, SE_DISK, n->id, n->life, 0, NULL);
		return;
	}
	n->wq_head = w->next;
	if (n->wq_head == NULL)
		n->wq_tail = NULL;
	/*
	 * An injected error fails this write and every write queued behind
	 * it (they were ordered after it: none of them can be durable).
	 */
	fail = w->fail;
	if (!fail && !w->empty && n->fail_writes > 0) {
		fail = true;
		n->fail_writes--;
		for (q = w->next; q != NULL; q = q->next)
			q->fail = true;
	}
	if (fail) {
		trace(s, T_DISK_FAIL, n->id, 0, w->p_index, 0, 0, 0);
		wrec_free(w);
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_PERSIST_FAILED;
		node_step(s, n, &ev, NULL, NULL);
		return;
	}
	disk_land(s, n, w);
	trace(s, T_DISK, n->id, 0, w->p_index, w->p_term, n->hs.term,
	    w->n_msgs);
	for (k = 0; k < w->n_msgs; k++) {
		net_send(s, n, w->msgs[k]);
		w->msgs[k] = NULL;
	}
	w->n_msgs = 0;
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_PERSISTED;
	ev.index = w->p_index;
	ev.term = w->p_term;
	node_step(s, n, &ev, NULL, NULL);
	if (w->has_chunk && w->c_last && n->up && !s->failed) {
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_SNAP_PERSISTED;
		ev.index = w->c_index;
		ev.term = w->c_term;
		node_step(s, n, &ev, NULL, NULL);
	}
	wrec_free(w);
}

/* Nodes: start, crash, restart ------------------------------------------ */

/* Start the node's core from its durable state (raft_restore). */
static void
node_start(struct sim *s, struct node *n)
{
	struct raft_config	 cfg;
	struct raft_restore	*rs;
	struct raft_entry	*ents;
	struct raft_event	 ev;
	raft_index		 i, good;
	size_t			 k;

	memset(&cfg, 0, sizeof cfg);
	cfg.id = n->id;
	cfg.seed = hmix(hmix(s->seed, n->id), n->life);
	cfg.election_ms = s->k.election_ms;
	cfg.heartbeat_ms = s->k.heartbeat_ms;
	cfg.max_inflight = s->k.max_inflight;
	cfg.max_append_bytes = s->k.max_append_bytes;
	cfg.max_inflight_bytes = s->k.max_inflight_bytes;
	cfg.no_prevote = s->k.no_prevote;
	cfg.no_check_quorum = s->k.no_check_quorum;
	cfg.bugs = s->bugs;
	/* The loader refuses a record whose checksum fails: it is absent. */
	if (n->torn != NULL) {
		if (hbytes(0x7041, n->torn, n->torn_len) == n->torn_csum)
			violation(s, "torn-record-served", "n%" PRIu64 "'s "
			    "torn record checks out", n->id);
		s->n_torn++;
		trace(s, T_TORN, n->id, 0, n->torn_len, 0, 0, 0);
		free(n->torn);
		n->torn = NULL;
	}
	good = n->dlog.snap_index;
	for (i = n->dlog.snap_index + 1; i <= slog_last(&n->dlog); i++) {
		struct sent *d = slog_at(&n->dlog, i);

		if (d->csum != entry_csum(d))
			break;
		good = i;
	}
	slog_truncate(&n->dlog, good + 1);
	n->stage_len = 0;
	n->r = raft_new(&cfg);
	if (n->r == NULL) {
		fprintf(stderr, "%s: raft_new failed\n", progname);
		exit(2);
	}
	n->up = true;
	n->fail_writes = 0;
	n->commit_seen = 0;
	n->role_seen = 0;
	n->term_seen = 0;
	n->restart_at = 0;
	n->disk_busy = s->now;
	slog_copy(&n->vlog, &n->dlog);
	if (n->hs.term != 0 || slog_last(&n->dlog) != 0 || n->sm.n != 0) {
		rs = xcalloc(1, sizeof *rs);
		ents = xcalloc(n->dlog.n ? n->dlog.n : 1, sizeof *ents);
		for (k = 0; k < n->dlog.n; k++) {
			ents[k].term = n->dlog.e[k].term;
			ents[k].index = n->dlog.e[k].index;
			ents[k].type = n->dlog.e[k].type;
			ents[k].data = n->dlog.e[k].data;
			ents[k].len = n->dlog.e[k].len;
		}
		rs->hs = n->hs;
		rs->snap_index = n->dlog.snap_index;
		rs->snap_term = n->dlog.snap_term;
		rs->snap_conf = n->dlog.snap_conf;
		rs->entries = ents;
		rs->n_entries = n->dlog.n;
		rs->applied = n->sm.n;
		if (raft_restore(n->r, rs) != 0)
			violation(s, "restore-refused", "n%" PRIu64 " refuses "
			    "its durable state (term %" PRIu64 ", snapshot %"
			    PRIu64 ", log to %" PRIu64 ", applied %zu)", n->id,
			    n->hs.term, n->dlog.snap_index,
			    slog_last(&n->dlog), n->sm.n);
		free(ents);
		free(rs);
	}
	trace(s, T_RESTART, n->id, 0, n->hs.term, n->hs.vote,
	    n->dlog.snap_index, slog_last(&n->dlog));
	check_node(s, n);
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_TICK;
	node_step(s, n, &ev, NULL, NULL);
}

/*
 * Crash: the core and its memory are gone, and so is every unsynced write,
 * except that a prefix of them may have reached the disk, the last record
 * torn.
 */
static void
node_crash(struct sim *s, struct node *n, bool restart)
{
	struct wrec	*w, *next;
	size_t		 lost = 0, landed = 0, k;
	bool		 stop = false;

	if (!n->up)
		return;
	s->n_crashes++;
	for (w = n->wq_head; w != NULL; w = next) {
		next = w->next;
		if (w->empty) {
			wrec_free(w);
			continue;
		}
		if (!stop && !w->fail && n->fail_writes == 0 &&
		    rnd_pm(s, s->k.land_pm)) {
			disk_land(s, n, w);
			landed++;
		} else {
			if (!stop && rnd_pm(s, s->k.torn_pm))
				disk_tear(s, n, w);
			stop = true;
			lost++;
		}
		wrec_free(w);
	}
	n->wq_head = n->wq_tail = NULL;
	trace(s, T_CRASH, n->id, 0, lost, landed, n->torn != NULL, 0);
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	n->life++;
	n->paused_until = 0;
	slog_clear(&n->vlog);
	for (k = 0; k <= SIM_NODES; k++) {
		free(n->views[k].data);
		memset(&n->views[k], 0, sizeof n->views[k]);
	}
	n->n_pend = 0;
	n->restart_at = 0;
	if (restart) {
		n->restart_at = s->now + s->k.restart_min +
		    rnd_below(s, s->k.restart_jitter + 1);
		sev_push(s, n->restart_at, SE_RESTART, n->id, n->life, 0,
		    NULL);
	}
}

/* Create node id, empty, with a clock of its own. */
static void
node_create(struct sim *s, raft_id id)
{
	struct node	*n = &s->nodes[id];

	memset(n, 0, sizeof *n);
	n->id = id;
	n->exists = true;
	n->rate = 1000000 - s->k.clock_pm * 1000 +
	    rnd_below(s, 2 * s->k.clock_pm * 1000 + 1);
	n->offset = rnd_below(s, 1000000);
	if (id > s->nslots)
		s->nslots = id;
}

/* Free everything a node holds. */
static void
node_destroy(struct node *n)
{
	struct wrec	*w, *next;
	size_t		 k;

	raft_free(n->r);
	for (w = n->wq_head; w != NULL; w = next) {
		next = w->next;
		wrec_free(w);
	}
	slog_clear(&n->vlog);
	slog_clear(&n->dlog);
	free(n->sm.r);
	free(n->stage);
	free(n->torn);
	free(n->pend);
	for (k = 0; k <= SIM_NODES; k++)
		free(n->views[k].data);
	memset(n, 0, sizeof *n);
}

/* Scenario: clients, nemesis, liveness --------------------------------- */

/* The leader with the highest term among running nodes, or NULL. */
static struct node *
find_leader(struct sim *s)
{
	struct node	*best = NULL;
	unsigned	 i;

	for (i = 1; i <= s->nslots; i++) {
		struct node *n = &s->nodes[i];

		if (n->up && n->r != NULL && raft_role(n->r) == RAFT_LEADER &&
		    (best == NULL || raft_current_term(n->r) >
		    raft_current_term(best->r)))
			best = n;
	}
	return (best);
}

/* A random running node, or NULL. */
static struct node *
any_up(struct sim *s)
{
	unsigned	i, k, start = rnd_below(s, s->nslots);

	for (k = 0; k < s->nslots; k++) {
		i = 1 + (start + k) % s->nslots;
		if (s->nodes[i].up)
			return (&s->nodes[i]);
	}
	return (NULL);
}

/* Note the indexes a proposal got, before its update is carried out. */
static void
propose_hook(struct sim *s, struct node *n, const struct raft_update *u,
    enum raft_rc rc, void *arg)
{
	const uint64_t	*ids = arg;	/* first id, count */
	struct prop	*p;
	uint64_t	 k;

	trace(s, T_PROPOSE, n->id, 0, ids[1], rc, u->prop_first,
	    u->prop_last);
	if (rc != RAFT_OK || u->prop_first == 0)
		return;
	if (u->prop_last - u->prop_first + 1 != ids[1])
		violation(s, "propose", "n%" PRIu64 " took %" PRIu64
		    " proposals at %" PRIu64 "..%" PRIu64, n->id, ids[1],
		    u->prop_first, u->prop_last);
	for (k = 0; k < ids[1]; k++) {
		p = &s->props[ids[0] + k];
		p->node = n->id;
		p->life = n->life;
		p->index = u->prop_first + k;
		p->term = u->prop_term;
		if (n->n_pend == n->cap_pend) {
			n->cap_pend = n->cap_pend ? n->cap_pend * 2 : 16;
			n->pend = xrealloc(n->pend,
			    n->cap_pend * sizeof *n->pend);
		}
		n->pend[n->n_pend++] = ids[0] + k;
	}
	if (s->faults && rnd_pm(s, s->k.kill_proposer_pm))
		sev_push(s, s->now + rnd_below(s, s->k.fsync_min +
		    s->k.fsync_jitter + 1), SE_CRASH, n->id, n->life, 0, NULL);
}

#define CLIENT_WINDOW	100

/* A client proposes a batch of unique payloads, mostly to the leader. */
static void
client_propose(struct sim *s)
{
	struct node		*n;
	struct raft_event	 ev;
	struct raft_buf		 bufs[8];
	uint8_t			 data[8][64];
	unsigned		 nb, k;
	uint64_t		 ids[2];

	/* Clients keep at most CLIENT_WINDOW proposals unanswered. */
	for (k = 1, nb = 0; k <= s->nslots; k++)
		nb += s->nodes[k].n_pend;
	if (nb >= CLIENT_WINDOW)
		return;
	n = rnd_pm(s, 850) ? find_leader(s) : NULL;
	if (n == NULL)
		n = any_up(s);
	if (n == NULL || n->paused_until > s->now || n->r == NULL)
		return;
	nb = 1 + rnd_below(s, s->k.batch_max);
	ids[0] = s->n_props;
	ids[1] = nb;
	if (s->n_props + nb > s->cap_props) {
		s->cap_props = (s->n_props + nb) * 2;
		s->props = xrealloc(s->props, s->cap_props * sizeof *s->props);
	}
	for (k = 0; k < nb; k++) {
		memset(&s->props[s->n_props + k], 0, sizeof *s->props);
		bufs[k].data = data[k];
		bufs[k].len = prop_payload(ids[0] + k, data[k]);
	}
	s->n_props += nb;
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_PROPOSE;
	ev.bufs = bufs;
	ev.n_bufs = nb;
	node_step(s, n, &ev, propose_hook, ids);
}

/* Cut links to make a partition of some shape. */
static void
nemesis_partition(struct sim *s)
{
	unsigned	 ids[SIM_NODES], n = 0, i, j, shape, a, b, x;
	bool		 side[SIM_NODES + 1];
	uint64_t	 mask = 0;

	for (i = 1; i <= s->nslots; i++)
		if (s->nodes[i].exists)
			ids[n++] = i;
	if (n < 2)
		return;
	/* Shuffle the ids (Fisher-Yates, from the seed). */
	for (i = n - 1; i > 0; i--) {
		j = rnd_below(s, i + 1);
		x = ids[i];
		ids[i] = ids[j];
		ids[j] = x;
	}
	shape = rnd_below(s, 7);
	memset(side, 0, sizeof side);
	switch (shape) {
	case 0:		/* isolate one, both ways */
		for (i = 1; i < n; i++)
			s->cut[ids[0]][ids[i]] = s->cut[ids[i]][ids[0]] = true;
		break;
	case 1:		/* one way: one node hears nobody */
		for (i = 1; i < n; i++)
			s->cut[ids[i]][ids[0]] = true;
		break;
	case 2:		/* one way: nobody hears one node */
		for (i = 1; i < n; i++)
			s->cut[ids[0]][ids[i]] = true;
		break;
	case 3:		/* split: a minority and a majority */
		a = n / 2 + rnd_below(s, 2);
		for (i = 0; i < a && i < n; i++)
			side[ids[i]] = true;
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				if (side[ids[i]] != side[ids[j]])
					s->cut[ids[i]][ids[j]] = true;
		break;
	case 4:		/* ring: each sees its neighbours only */
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++) {
				a = (i + n - j) % n;
				b = (j + n - i) % n;
				if (i != j && a > 1 && b > 1)
					s->cut[ids[i]][ids[j]] = true;
			}
		break;
	case 5:		/* bridge: two halves, one node sees both */
		for (i = 1; i < n; i++)
			side[ids[i]] = i % 2;
		for (i = 1; i < n; i++)
			for (j = 1; j < n; j++)
				if (side[ids[i]] != side[ids[j]])
					s->cut[ids[i]][ids[j]] = true;
		break;
	default:	/* random one-way cuts */
		for (i = 0; i < n; i++)
			for (j = 0; j < n; j++)
				if (i != j && rnd_pm(s, 300))
					s->cut[ids[i]][ids[j]] = true;
		break;
	}
	for (i = 1; i <= SIM_NODES && i <= 8; i++)
		for (j = 1; j <= SIM_NODES && j <= 8; j++)
			if (s->cut[i][j])
				mask |= 1ULL << ((i - 1) * 8 + (j - 1));
	trace(s, T_PART, 0, shape, mask, 0, 0, 0);
}

/* Heal every link. */
static void
heal(struct sim *s, bool end)
{
	memset(s->cut, 0, sizeof s->cut);
	trace(s, T_HEAL, 0, end, 0, 0, 0, 0);
}

/* Propose a membership change on the leader: add, promote or remove. */
static void
nemesis_conf(struct sim *s)
{
	struct node		*l = find_leader(s);
	struct raft_status	 st;
	struct raft_event	 ev;
	unsigned		 voters = 0, k, op;
	raft_id			 to, learner = 0;
	enum raft_rc		 rc;

	if (l == NULL || l->paused_until > s->now)
		return;
	raft_status(l->r, &st);
	for (k = 0; k < st.conf.n; k++) {
		if (st.conf.m[k].role == RAFT_VOTER)
			voters++;
		else if (learner == 0)
			learner = st.conf.m[k].id;
	}
	if (learner != 0 && rnd_pm(s, 700)) {
		op = RAFT_CONF_PROMOTE;
		to = learner;
	} else if (voters > 3 && rnd_pm(s, 500)) {
		op = RAFT_CONF_REMOVE;
		to = st.conf.m[rnd_below(s, st.conf.n)].id;
		if (to == l->id && !rnd_pm(s, 300))
			return;
	} else if (learner == 0 && s->nslots < SIM_NODES &&
	    voters <= s->nnodes) {
		op = RAFT_CONF_ADD_LEARNER;
		to = s->nslots + 1;
	} else
		return;
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_CONF_CHANGE;
	ev.conf_op = op;
	ev.to = to;
	rc = node_step(s, l, &ev, NULL, NULL);
	trace(s, T_CONF, l->id, op, to, rc, 0, 0);
	if (rc == RAFT_OK && op == RAFT_CONF_ADD_LEARNER && !s->failed) {
		node_create(s, to);
		node_start(s, &s->nodes[to]);
	}
}

/* Ask the leader to hand leadership to a member. */
static void
nemesis_transfer(struct sim *s)
{
	struct node		*l = find_leader(s);
	struct raft_status	 st;
	struct raft_event	 ev;
	enum raft_rc		 rc;

	if (l == NULL || l->paused_until > s->now)
		return;
	raft_status(l->r, &st);
	if (st.conf.n == 0)
		return;
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_TRANSFER;
	ev.to = st.conf.m[rnd_below(s, st.conf.n)].id;
	rc = node_step(s, l, &ev, NULL, NULL);
	trace(s, T_TRANSFER, l->id, 0, ev.to, rc, 0, 0);
}

/* One fault, drawn by the seed's weights. */
static void
nemesis(struct sim *s)
{
	unsigned	 w[9], total = 0, k, r;
	struct node	*n;
	uint64_t	 until;

	w[0] = s->k.w_part;
	w[1] = s->k.w_heal;
	w[2] = s->k.w_crash;
	w[3] = s->k.w_pause;
	w[4] = s->k.w_disk;
	w[5] = s->k.w_transfer;
	w[6] = s->k.w_conf;
	w[7] = s->k.w_clock;
	w[8] = s->k.w_crash_snap;
	for (k = 0; k < 9; k++)
		total += w[k];
	if (total == 0)
		return;
	r = rnd_below(s, total);
	for (k = 0; k < 9 && r >= w[k]; k++)
		r -= w[k];
	switch (k) {
	case 0:
		if (rnd_pm(s, 500))
			memset(s->cut, 0, sizeof s->cut);
		nemesis_partition(s);
		break;
	case 1:
		heal(s, false);
		break;
	case 2:
		/* Prefer the leader, or a node with writes in flight. */
		n = NULL;
		if (rnd_pm(s, 400))
			n = find_leader(s);
		if (n == NULL)
			n = any_up(s);
		if (n != NULL)
			node_crash(s, n, true);
		break;
	case 3:
		if ((n = rnd_pm(s, 500) ? find_leader(s) : any_up(s)) == NULL)
			break;
		until = s->now + rnd_range(s, s->k.election_ms / 2,
		    s->k.election_ms * 3);
		n->paused_until = until;
		trace(s, T_PAUSE, n->id, 0, until, 0, 0, 0);
		break;
	case 4:
		if ((n = any_up(s)) == NULL)
			break;
		n->fail_writes = 1 + rnd_below(s, 2);
		trace(s, T_DISK_ERR, n->id, 0, n->fail_writes, 0, 0, 0);
		break;
	case 5:
		nemesis_transfer(s);
		break;
	case 6:
		nemesis_conf(s);
		break;
	case 7:
		if ((n = any_up(s)) == NULL)
			break;
		until = rnd_range(s, 1, s->k.election_ms * 2);
		n->offset += until;
		trace(s, T_CLOCK, n->id, 0, until, 0, 0, 0);
		break;
	case 8:
		/* Crash a node in the middle of a snapshot install. */
		for (k = 1; k <= s->nslots; k++) {
			n = &s->nodes[k];
			if (n->up && (n->stage_len > 0 ||
			    (n->wq_head != NULL && n->wq_head->has_chunk))) {
				node_crash(s, n, true);
				break;
			}
		}
		break;
	}
}

/* Faults stop: heal, restart, resume; liveness is checked from now. */
static void
liveness_start(struct sim *s)
{
	unsigned	 i;
	struct node	*n;

	s->faults = false;
	s->live = true;
	heal(s, true);
	trace(s, T_LIVE, 0, 0, 0, 0, 0, 0);
	for (i = 1; i <= s->nslots; i++) {
		n = &s->nodes[i];
		if (!n->exists)
			continue;
		n->fail_writes = 0;
			n->paused_until = 0;
		if (!n->up)
			node_start(s, n);
		else if (raft_role(n->r) == RAFT_FAILED) {
			node_crash(s, n, false);
			node_start(s, n);
		}
	}
	s->live_start = s->live_progress_at = s->now;
	s->live_progress = 0;
	sev_push(s, s->now + s->k.election_ms, SE_LIVENESS, 0, 0, 0, NULL);
}

/* The bounds of the liveness phase (simulated ms). */
#define LIVE_LEADER_MS(s)	(20 * (uint64_t)(s)->k.election_ms + 1000)
#define LIVE_STALL_MS(s)	(30 * (uint64_t)(s)->k.election_ms + 2000)
#define LIVE_MAX_MS		120000

/*
 * Liveness, once the faults stop: a leader within LIVE_LEADER_MS, then
 * every acknowledged proposal applied on every member of its
 * configuration, the members never going LIVE_STALL_MS with nothing
 * moving (applied and durable indexes, the leader's match and next for
 * each: slow catch-up is not a stall), all within LIVE_MAX_MS.
 */
static void
liveness_check(struct sim *s)
{
	struct node		*l = find_leader(s), *n;
	struct raft_status	 st;
	unsigned		 k;
	uint64_t		 progress = 0, since = s->now - s->live_start;
	char			 why[256];

	snprintf(why, sizeof why, "no leader");
	if (l != NULL) {
		raft_status(l->r, &st);
		why[0] = '\0';
		for (k = 0; k < st.conf.n; k++) {
			raft_id id = st.conf.m[k].id;

			if (id == 0 || id > SIM_NODES ||
			    !s->nodes[id].exists) {
				snprintf(why, sizeof why, "leader n%" PRIu64
				    "'s conf names unknown n%" PRIu64, l->id,
				    id);
				break;
			}
			n = &s->nodes[id];
			/* Anything moving is progress: a livelock is not. */
			progress = hmix(hmix(progress, n->sm.n),
			    durable_last(n));
			if (n->sm.n < s->max_acked && why[0] == '\0')
				snprintf(why, sizeof why, "n%" PRIu64 " applied"
				    " through %zu only, acknowledged through %"
				    PRIu64 " (leader n%" PRIu64 " term %" PRIu64
				    " commit %" PRIu64 ")", id, n->sm.n,
				    s->max_acked, l->id, st.term, st.commit);
		}
		if (why[0] == '\0') {
			s->done = true;
			return;
		}
		for (k = 0; k < st.n_peers; k++)
			progress = hmix(hmix(progress, st.peers[k].match),
			    st.peers[k].next);
	}
	if (progress != s->live_progress) {
		s->live_progress = progress;
		s->live_progress_at = s->now;
	}
	if ((l == NULL && since > LIVE_LEADER_MS(s)) ||
	    s->now - s->live_progress_at > LIVE_STALL_MS(s) ||
	    since > LIVE_MAX_MS) {
		violation(s, "liveness", "%" PRIu64 " ms after the faults "
		    "stopped (%" PRIu64 " ms without progress): %s", since,
		    s->now - s->live_progress_at, why);
		return;
	}
	sev_push(s, s->now + s->k.election_ms / 2 + 1, SE_LIVENESS, 0, 0, 0,
	    NULL);
}

/* Draw the seed's fault mix and settings. */
static void
knobs_draw(struct sim *s)
{
	struct knobs	*k = &s->k;
	bool		 calm = rnd_pm(s, 100);

	k->election_ms = 100 + rnd_below(s, 5) * 50;
	k->heartbeat_ms = k->election_ms / (4 + rnd_below(s, 5));
	k->net_min = 1 + rnd_below(s, 5);
	k->net_jitter = rnd_below(s, 4) == 0 ? 40 : 1 + rnd_below(s, 15);
	k->drop_pm = calm ? 0 : rnd_below(s, 3) == 0 ? 0 : rnd_below(s, 150);
	k->dup_pm = rnd_below(s, 2) == 0 ? 0 : rnd_below(s, 100);
	k->slow_pm = rnd_below(s, 2) == 0 ? 0 : rnd_below(s, 50);
	k->fsync_min = 1 + rnd_below(s, 5);
	k->fsync_jitter = rnd_below(s, 3) == 0 ? 30 : 1 + rnd_below(s, 10);
	k->torn_pm = rnd_below(s, 1000);
	k->land_pm = rnd_below(s, 3) == 0 ? 0 : rnd_below(s, 700);
	k->nemesis_ms = 40 + rnd_below(s, 300);
	k->w_part = rnd_pm(s, 700) ? 1 + rnd_below(s, 10) : 0;
	k->w_heal = 1 + rnd_below(s, 10);
	k->w_crash = rnd_pm(s, 700) ? 1 + rnd_below(s, 10) : 0;
	k->w_pause = rnd_pm(s, 500) ? 1 + rnd_below(s, 5) : 0;
	k->w_disk = rnd_pm(s, 300) ? 1 + rnd_below(s, 3) : 0;
	k->w_transfer = rnd_pm(s, 500) ? 1 + rnd_below(s, 5) : 0;
	k->w_conf = rnd_pm(s, 300) ? 1 + rnd_below(s, 3) : 0;
	k->w_clock = rnd_pm(s, 200) ? 1 : 0;
	k->w_crash_snap = rnd_pm(s, 300) ? 1 + rnd_below(s, 5) : 0;
	if (calm)
		k->w_part = k->w_crash = k->w_pause = k->w_disk = 0;
	k->client_ms = 2 + rnd_below(s, 40);
	k->batch_max = 1 + rnd_below(s, 4);
	k->compact_every = rnd_pm(s, 700) ? 4 + rnd_below(s, 40) : 0;
	k->compact_keep = rnd_below(s, 8);
	k->snap_chunk = 64 + rnd_below(s, 400);
	k->max_inflight = 1 + rnd_below(s, 8);
	k->max_append_bytes = rnd_pm(s, 500) ? 1 + rnd_below(s, 200) :
	    4096;
	k->restart_min = 10 + rnd_below(s, 100);
	k->restart_jitter = rnd_below(s, 2) ? k->election_ms * 4 : 100;
	k->clock_pm = rnd_below(s, 50);
	k->kill_leader_pm = rnd_pm(s, 400) ? rnd_below(s, 600) : 0;
	k->stall_pm = rnd_pm(s, 400) ? rnd_below(s, 60) : 0;
	k->kill_proposer_pm = rnd_pm(s, 300) ? rnd_below(s, 50) : 0;
	k->kill_replier_pm = rnd_pm(s, 300) ? rnd_below(s, 10) : 0;
	k->no_prevote = rnd_pm(s, 150);
	k->no_check_quorum = rnd_pm(s, 150);
	k->max_inflight_bytes = rnd_pm(s, 300) ? 64 + rnd_below(s, 512) : 0;
	k->kill_leader_ms = 3 * (k->net_min + k->net_jitter) + 2;
	/*
	 * Leader churn (Raft Figure 8): leaders die a round trip or two
	 * after their election, with entries of older terms half
	 * replicated, one entry per AppendEntries, and come back quickly.
	 */
	if (rnd_pm(s, 300)) {
		k->scenario = 1;
		k->kill_leader_pm = 600 + rnd_below(s, 400);
		k->restart_min = 5 + rnd_below(s, 30);
		k->restart_jitter = k->election_ms * (1 + rnd_below(s, 3));
		k->max_append_bytes = 1;
		k->max_inflight = 1;
		k->client_ms = 2 + rnd_below(s, 10);
		k->drop_pm = rnd_below(s, 200);
		k->w_part = k->w_pause = k->w_disk = k->w_conf = 0;
		k->w_crash = rnd_below(s, 3);
		/* Cut off before its first AppendEntries lands. */
		k->isolate_pm = 500 + rnd_below(s, 500);
		k->kill_leader_ms = k->net_min;
		k->kill_committer_pm = rnd_below(s, 1000);
		k->no_prevote = k->no_check_quorum = false;
		k->max_inflight_bytes = 0;
	}
}

/* Set up a seed's run: knobs, the initial voters and their first entry. */
static void
sim_init(struct sim *s, uint64_t seed, unsigned nnodes, uint32_t bugs,
    uint64_t fault_ms)
{
	struct raft_conf	 conf;
	uint8_t			 buf[4096];
	size_t			 len;
	struct sent		 e;
	unsigned		 i;
	uint64_t		 x = seed;

	memset(s, 0, sizeof *s);
	s->seed = seed;
	s->nnodes = nnodes;
	s->bugs = bugs;
	s->rng = fmix(x + 0x1234567) | 1;
	s->thash = fmix(seed);
	knobs_draw(s);
	s->k.fault_ms = fault_ms != 0 ? fault_ms :
	    2000 + rnd_below(s, 6000);
	memset(&conf, 0, sizeof conf);
	conf.n = nnodes;
	for (i = 0; i < nnodes; i++) {
		conf.m[i].id = i + 1;
		conf.m[i].role = RAFT_VOTER;
	}
	len = raft_conf_encode(&conf, buf, sizeof buf);
	for (i = 1; i <= nnodes; i++) {
		node_create(s, i);
		memset(&e, 0, sizeof e);
		e.term = 1;
		e.index = 1;
		e.type = RAFT_ENTRY_CONF;
		e.data = buf;
		e.len = len;
		e.dhash = entry_dhash(e.type, buf, len);
		s->nodes[i].dlog.snap_conf = conf;
		(void)slog_append(&s->nodes[i].dlog, &e);
		slog_at(&s->nodes[i].dlog, 1)->csum =
		    entry_csum(slog_at(&s->nodes[i].dlog, 1));
		s->nodes[i].hs.term = 1;
		s->nodes[i].hs.commit = 1;
	}
	s->faults = true;
}

/* Free a run's memory. */
static void
sim_free(struct sim *s)
{
	struct sev	e;
	unsigned	i;

	while (sev_pop(s, &e))
		smsg_free(e.m);
	free(s->heap);
	for (i = 1; i <= SIM_NODES; i++)
		if (s->nodes[i].exists)
			node_destroy(&s->nodes[i]);
	free(s->leader_of);
	free(s->committed);
	free(s->regs);
	free(s->props);
}

/* Run one seed to its end; true if every invariant held. */
static bool
sim_run(struct sim *s)
{
	struct sev	 e;
	unsigned	 i;
	struct node	*n;

	for (i = 1; i <= s->nnodes; i++)
		node_start(s, &s->nodes[i]);
	sev_push(s, s->k.nemesis_ms, SE_NEMESIS, 0, 0, 0, NULL);
	sev_push(s, s->k.client_ms, SE_CLIENT, 0, 0, 0, NULL);
	sev_push(s, s->k.fault_ms, SE_HEAL, 0, 0, 0, NULL);
	while (!s->failed && !s->done && sev_pop(s, &e)) {
		s->now = e.at;
		if (s->steps > s->max_steps) {
			violation(s, "step-budget", "more than %" PRIu64
			    " steps by %" PRIu64 " ms", s->max_steps, s->now);
			break;
		}
		n = e.node <= SIM_NODES ? &s->nodes[e.node] : NULL;
		switch (e.kind) {
		case SE_DELIVER:
			net_deliver(s, &e);
			break;
		case SE_DISK:
			disk_done(s, &e);
			break;
		case SE_TICK:
			if (!n->up || e.life != n->life ||
			    e.gen != n->tick_gen)
				break;
			if (n->paused_until > s->now) {
				sev_push(s, n->paused_until, SE_TICK, n->id,
				    n->life, n->tick_gen, NULL);
				break;
			}
			{
				struct raft_event ev;

				memset(&ev, 0, sizeof ev);
				ev.type = RAFT_EV_TICK;
				node_step(s, n, &ev, NULL, NULL);
			}
			break;
		case SE_NEMESIS:
			if (!s->faults)
				break;
			nemesis(s);
			sev_push(s, s->now + 1 + rnd_below(s,
			    2 * s->k.nemesis_ms), SE_NEMESIS, 0, 0, 0, NULL);
			break;
		case SE_CLIENT:
			if (!s->faults)
				break;
			client_propose(s);
			sev_push(s, s->now + 1 + rnd_below(s,
			    2 * s->k.client_ms), SE_CLIENT, 0, 0, 0, NULL);
			break;
		case SE_RESTART:
			if (e.life != n->life || n->restart_at != s->now)
				break;
			if (n->up && n->r != NULL &&
			    raft_role(n->r) == RAFT_FAILED)
				node_crash(s, n, false);
			if (!n->up)
				node_start(s, n);
			break;
		case SE_HEAL:
			liveness_start(s);
			break;
		case SE_CRASH:
			if (n->up && e.life == n->life && s->faults)
				node_crash(s, n, true);
			break;
		case SE_ISOLATE:
			if (!n->up || e.life != n->life || !s->faults)
				break;
			for (i = 1; i <= SIM_NODES; i++)
				s->cut[n->id][i] = s->cut[i][n->id] = true;
			trace(s, T_PART, 0, 9, n->id, 0, 0, 0);
			sev_push(s, s->now + rnd_range(s, s->k.election_ms,
			    s->k.election_ms * 4), SE_REJOIN, n->id, 0, 0,
			    NULL);
			break;
		case SE_REJOIN:
			if (!s->faults)
				break;
			for (i = 1; i <= SIM_NODES; i++)
				s->cut[n->id][i] = s->cut[i][n->id] = false;
			trace(s, T_HEAL, n->id, 2, 0, 0, 0, 0);
			break;
		case SE_LIVENESS:
			liveness_check(s);
			break;
		}
	}
	return (!s->failed);
}

/* The command line ------------------------------------------------------- */

/* The bug bit named name, or -1. */
static int
bug_lookup(const char *name)
{
	unsigned	 i;
	const char	*b;

	for (i = 0; i < RAFT_BUG_COUNT; i++)
		if ((b = raft_bug_name(i)) != NULL && strcmp(b, name) == 0)
			return ((int)i);
	return (-1);
}

/* Seconds on a monotonic clock: only to report seeds/s. */
static double
mono_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Print a violation with its short trace. */
static void
report(struct sim *s, const char *bugname)
{
	uint64_t	 k, first;

	printf("seed %" PRIu64 " (nodes %u): invariant '%s' broken at %"
	    PRIu64 " ms, step %" PRIu64 ": %s\n", s->seed, s->nnodes,
	    s->inv, s->now, s->steps, s->detail);
	if (!s->trace_all) {
		first = s->n_trace > TRACE_RING ? s->n_trace - TRACE_RING : 0;
		printf("last %" PRIu64 " events:\n", s->n_trace - first);
		for (k = first; k < s->n_trace; k++)
			trace_print(stdout, &s->ring[k % TRACE_RING]);
	}
	printf("replay: raftsim --seed %" PRIu64 " --nodes %u%s%s --trace\n",
	    s->seed, s->nnodes, bugname ? " --bug " : "",
	    bugname ? bugname : "");
}

/* Print how to run the simulator. */
static void
usage(void)
{
	fprintf(stderr,
	    "usage: raftsim --seeds N [--first S] [--nodes 3|5] [--bug NAME]\n"
	    "           [--time MS] [--steps N] [--safety-only] [-v]\n"
	    "       raftsim --seed S [--nodes 3|5] [--bug NAME] [--trace] "
	    "[-v]\n"
	    "       raftsim --list-bugs\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	uint64_t	 seeds = 1, first = 1, fault_ms = 0;
	uint64_t	 max_steps = 2000000;
	uint64_t	 i, total = 0, tsum = 0;
	unsigned	 nnodes = 3;
	uint32_t	 bugs = 0;
	const char	*bugname = NULL;
	bool		 trace_all = false, verbose = false, safety = false;
	bool		 single = false, keep_going = false;
	uint64_t	 nfailed = 0;
	int		 a, b;
	double		 t0, dt;
	struct sim	*s;
	uint64_t	 cov[5] = { 0, 0, 0, 0, 0 };

	for (a = 1; a < argc; a++) {
		const char *o = argv[a], *v = a + 1 < argc ? argv[a + 1] : NULL;

		if (strcmp(o, "--list-bugs") == 0) {
			for (b = 0; b < RAFT_BUG_COUNT; b++)
				if (raft_bug_name(b) != NULL)
					printf("%s\n", raft_bug_name(b));
			return (0);
		} else if (strcmp(o, "--seeds") == 0 && v != NULL) {
			seeds = strtoull(v, NULL, 10);
			a++;
		} else if (strcmp(o, "--first") == 0 && v != NULL) {
			first = strtoull(v, NULL, 10);
			a++;
		} else if (strcmp(o, "--seed") == 0 && v != NULL) {
			first = strtoull(v, NULL, 10);
			seeds = 1;
			single = true;
			a++;
		} else if (strcmp(o, "--nodes") == 0 && v != NULL) {
			nnodes = atoi(v);
			a++;
		} else if (strcmp(o, "--time") == 0 && v != NULL) {
			fault_ms = strtoull(v, NULL, 10);
			a++;
		} else if (strcmp(o, "--steps") == 0 && v != NULL) {
			max_steps = strtoull(v, NULL, 10);
			a++;
		} else if (strcmp(o, "--bug") == 0 && v != NULL) {
			if ((b = bug_lookup(v)) < 0) {
				fprintf(stderr, "%s: unknown bug '%s' (see "
				    "--list-bugs)\n", progname, v);
				return (2);
			}
			bugs |= 1u << b;
			bugname = v;
			a++;
		} else if (strcmp(o, "--trace") == 0)
			trace_all = true;
		else if (strcmp(o, "--safety-only") == 0)
			safety = true;
		else if (strcmp(o, "--keep-going") == 0)
			keep_going = true;
		else if (strcmp(o, "-v") == 0)
			verbose = true;
		else
			usage();
	}
	if (nnodes != 3 && nnodes != 5)
		usage();
	if (seeds == 0)
		usage();
	s = xcalloc(1, sizeof *s);
	t0 = mono_now();
	for (i = 0; i < seeds; i++) {
		sim_init(s, first + i, nnodes, bugs, fault_ms);
		s->max_steps = max_steps;
		s->trace_all = trace_all;
		s->safety_only = safety;
		sim_run(s);
		total++;
		tsum = hmix(tsum, s->thash);
		cov[0] += s->n_elections;
		cov[1] += s->n_crashes;
		cov[2] += s->n_installs;
		cov[3] += s->n_torn;
		cov[4] += s->n_acked;
		if (verbose && (single || seeds <= 100))
			printf("seed %" PRIu64 " trace hash %016" PRIx64
			    " (%" PRIu64 " events, %" PRIu64 " steps, %"
			    PRIu64 " ms)\n", s->seed, s->thash, s->n_trace,
			    s->steps, s->now);
		if (s->failed && keep_going) {
			printf("seed %" PRIu64 ": %s: %s\n", s->seed, s->inv,
			    s->detail);
			nfailed++;
		} else if (s->failed) {
			report(s, bugname);
			if (bugname != NULL)
				printf("bug %s found after %" PRIu64 " seeds "
				    "(seed %" PRIu64 ", invariant %s)\n",
				    bugname, total, s->seed, s->inv);
			sim_free(s);
			free(s);
			return (1);
		}
		sim_free(s);
	}
	dt = mono_now() - t0;
	if (nfailed > 0)
		printf("%" PRIu64 " seeds from %" PRIu64 " (nodes %u%s%s): %"
		    PRIu64 " broke an invariant; %.1f seeds/s\n", total,
		    first, nnodes, bugname ? ", bug " : "",
		    bugname ? bugname : "", nfailed,
		    dt > 0 ? total / dt : 0.0);
	else
		printf("%" PRIu64 " seeds from %" PRIu64 " (nodes %u%s%s): no "
		    "invariant broken; %.1f seeds/s\n", total, first, nnodes,
		    bugname ? ", bug " : "", bugname ? bugname : "",
		    dt > 0 ? total / dt : 0.0);
	if (bugname != NULL && nfailed == 0)
		printf("bug %s not found in %" PRIu64 " seeds\n", bugname,
		    total);
	if (verbose)
		printf("trace hash %016" PRIx64 "; leaders elected %" PRIu64
		    ", crashes %" PRIu64 ", snapshots installed %" PRIu64
		    ", torn records %" PRIu64 ", proposals acknowledged %"
		    PRIu64 "\n", tsum, cov[0], cov[1], cov[2], cov[3],
		    cov[4]);
	free(s);
	return (nfailed > 0 ? 1 : 0);
}
