/*
 * raftdrv.c: many Raft groups of one node on a libev loop (see raftdrv.h).
 *
 * Every update of a group (raft.h's protocol) is carried out at once on
 * the loop thread: its writes go into the loop turn's job (one LevelDB
 * batch for every group), RAFT_WAIT_NONE messages go to the transport,
 * RAFT_WAIT_PERSIST ones are copied and held, committed entries are
 * applied into the same batch with the applied index.  Before the loop
 * sleeps (ev_prepare) the turn's jobs go to the storage thread, which
 * merges every waiting job into one leveldb_write with sync (one fsync for
 * all groups and turns that queued meanwhile) and hands them back through
 * an ev_async; then the held messages of those jobs are sent and each
 * group that wrote is stepped RAFT_EV_PERSISTED with its log's last entry.
 * Jobs complete in the order they were made (one FIFO to the disk), so a
 * job with nothing to write is a barrier that holds messages until every
 * earlier write is durable.  A failed write fails every later job too
 * (raftlog refuses writes after one failed): its groups are stepped
 * RAFT_EV_PERSIST_FAILED and its held messages are dropped.
 *
 * A snapshot install (the update with the last chunk) is a job of its
 * own, after the turn's earlier writes; the storage thread reads the
 * staged chunks and writes the install in one batch.  A snapshot to send
 * is read from a raftlog_view made by the storage thread after every
 * earlier apply is written, so the view shows exactly its applied index.
 *
 * Callbacks to users (raftdrv_done_f) are run after the update that
 * decided them is fully carried out, so they may call back in.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "failpoint.h"
#include "log.h"
#include "raftdrv.h"
#include "xmalloc.h"

#define RAFTDRV_MAGIC		0x52445256u	/* "RDRV" */
#define RAFTDRV_MAX_FOLLOW	8

enum raftdrv_job_kind {
	RAFTDRV_JOB_WRITE = 1,
	RAFTDRV_JOB_INSTALL,
	RAFTDRV_JOB_VIEW,
};

enum raftdrv_note_kind {
	RAFTDRV_NOTE_PERSISTED = 1,
	RAFTDRV_NOTE_SNAP,
};

/* What to step a group with once a job is durable. */
struct raftdrv_note {
	uint16_t		 group;
	uint32_t		 gen;		/* of the group's start */
	uint8_t			 kind;
	raft_index		 index;
	raft_term		 term;
};

/* One unit of the storage FIFO. */
struct raftdrv_job {
	struct raftdrv_job	*next;
	uint64_t		 seq;
	uint8_t			 kind;
	bool			 sync;
	bool			 failed;
	struct raftlog_batch	*b;
	struct raftdrv_note	*notes;
	size_t			 n_notes, cap_notes;
	/* INSTALL and VIEW */
	uint16_t		 group;
	uint32_t		 gen;
	raft_index		 index;
	raft_term		 term;
	struct raft_conf	 conf;
	uint64_t		 offset;
	void			*data;
	size_t			 len;
	struct raftlog_view	*view;
	char			*cause;
};

/* A message waiting for a job. */
struct raftdrv_held {
	struct raftdrv_held	*next;
	uint64_t		 seq;
	uint16_t		 group;
	uint32_t		 gen;
	struct raft_msg		*m;
};

/* A proposal or configuration change waiting for its outcome. */
struct raftdrv_prop {
	struct raftdrv_prop	*next;
	raft_index		 first, last;
	raft_term		 term;
	raftdrv_done_f		*cb;
	void			*arg;
};

/* A decided outcome, called back once the update is done. */
struct raftdrv_call {
	struct raftdrv_call	*next;
	raftdrv_done_f		*cb;
	void			*arg;
	struct raftdrv_done	 d;
};

/* The configuration in effect from an index on. */
struct raftdrv_confent {
	raft_index		 index;
	struct raft_conf	 conf;
};

struct raftdrv_group {
	struct raftdrv		*drv;
	uint16_t		 id;
	uint32_t		 gen;		/* this start of the group */
	struct raft		*r;
	struct raftdrv_sm	 sm;
	bool			 failed;
	/* The log as written or queued: snapshot, then terms[]. */
	raft_index		 snap_index;
	raft_term		 snap_term;
	raft_term		*terms;		/* snap_index + 1 ... */
	size_t			 n_terms, cap_terms;
	struct raftdrv_confent	*confs;	/* [0]: at snap_index */
	size_t			 n_confs, cap_confs;
	raft_index		 applied;
	uint64_t		*staged;	/* offsets of staged chunks */
	size_t			 n_staged, cap_staged;
	/* This turn's note (seq of the job holding it, and where). */
	uint64_t		 note_seq;
	size_t			 note_idx;
	struct raftdrv_prop	*props, *props_tail;
	/* Timer heap. */
	uint64_t		 deadline;
	size_t			 hidx;
	/* Snapshots to send. */
	struct raftlog_view	*view;
	bool			 view_pending;
	raft_id			 view_for[RAFT_MAX_NODES];
	size_t			 n_view_for;
	/* Follow-up events of the update being carried out. */
	struct raft_event	 follow[RAFTDRV_MAX_FOLLOW];
	size_t			 n_follow;
};

struct raftdrv {
	uint32_t		 magic;
	struct raftdrv_config	 cfg;
	char			*name;
	struct ev_loop		*loop;
	struct raftlog		*rl;
	struct raftdrv_group	**groups;	/* by id */
	size_t			 n_groups;
	struct raftdrv_group	**heap;
	size_t			 n_heap, cap_heap;
	ev_timer		 timer;
	ev_prepare		 prepare;
	ev_async		 async;
	/* This turn's jobs, not yet handed over. */
	struct raftdrv_job	*turn_head, *turn_tail;
	uint64_t		 next_seq;
	uint32_t		 next_gen;
	/* Held messages, in seq order. */
	struct raftdrv_held	*held_head, *held_tail;
	struct raftdrv_call	*calls_head, *calls_tail;
	struct buf		 scratch;
	struct raft_status	 status;	/* scratch */
	struct raftdrv_stats	 st;
	/* The storage thread. */
	pthread_t		 thread;
	bool			 thread_started;
	pthread_mutex_t		 mtx;
	pthread_cond_t		 cond;
	struct raftdrv_job	*in_head, *in_tail;	/* to the thread */
	struct raftdrv_job	*out_head, *out_tail;	/* back */
	bool			 stop;
	bool			 crash;		/* stop writing at once */
	bool			 broken;	/* thread: a write failed */
	uint64_t		 writes;		/* thread */
};

#ifdef FLOCKMQ_FAILPOINTS
/*
 * A bug on purpose, for the crash tests' teeth (failpoint builds only):
 * FLOCKMQ_TEST_RAFTDRV_BUG=send-before-fsync sends RAFT_WAIT_PERSIST
 * messages at once instead of holding them for their write.
 */
static bool
raftdrv_bug_early(void)
{
	static int	 on = -1;
	const char	*v;

	if (on == -1)
		on = (v = getenv("FLOCKMQ_TEST_RAFTDRV_BUG")) != NULL &&
		    strcmp(v, "send-before-fsync") == 0;
	return (on == 1);
}
#define RAFTDRV_BUG_EARLY()	raftdrv_bug_early()

/*
 * FLOCKMQ_TEST_RAFTDRV_SLOW=NAME,...:MS: a slow disk on the named nodes,
 * MS ms before each of their writes.
 */
static void
raftdrv_slow_disk(const char *name)
{
	const char	*v, *colon, *p;
	size_t		 n = strlen(name);

	if ((v = getenv("FLOCKMQ_TEST_RAFTDRV_SLOW")) == NULL ||
	    (colon = strchr(v, ':')) == NULL)
		return;
	for (p = v; p < colon; p++) {
		if ((p == v || p[-1] == ',') && strncmp(p, name, n) == 0 &&
		    (p[n] == ',' || p[n] == ':')) {
			usleep((useconds_t)atoi(colon + 1) * 1000);
			return;
		}
	}
}
#define RAFTDRV_SLOW_DISK(n)	raftdrv_slow_disk(n)
#else
#define RAFTDRV_BUG_EARLY()	false
#define RAFTDRV_SLOW_DISK(n)	do { } while (0)
#endif

static void	raftdrv_step(struct raftdrv_group *, struct raft_event *,
		    struct raft_update *);
static void	raftdrv_handle(struct raftdrv_group *, struct raft_update *);

/* Milliseconds of a monotonic clock. */
static uint64_t
raftdrv_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* The group with an id, or NULL. */
static struct raftdrv_group *
raftdrv_group(struct raftdrv *drv, uint16_t id)
{
	if (id >= drv->n_groups)
		return (NULL);
	return (drv->groups[id]);
}

/* ---- the timer heap ---- */

/* Swap two heap slots. */
static void
raftdrv_heap_swap(struct raftdrv *drv, size_t a, size_t b)
{
	struct raftdrv_group	*t = drv->heap[a];

	drv->heap[a] = drv->heap[b];
	drv->heap[b] = t;
	drv->heap[a]->hidx = a;
	drv->heap[b]->hidx = b;
}

/* Restore the heap order around slot i. */
static void
raftdrv_heap_fix(struct raftdrv *drv, size_t i)
{
	size_t	 c;

	while (i > 0 && drv->heap[(i - 1) / 2]->deadline >
	    drv->heap[i]->deadline) {
		raftdrv_heap_swap(drv, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
	for (;;) {
		c = 2 * i + 1;
		if (c >= drv->n_heap)
			break;
		if (c + 1 < drv->n_heap &&
		    drv->heap[c + 1]->deadline < drv->heap[c]->deadline)
			c++;
		if (drv->heap[i]->deadline <= drv->heap[c]->deadline)
			break;
		raftdrv_heap_swap(drv, i, c);
		i = c;
	}
}

/* Add a group to the heap. */
static void
raftdrv_heap_add(struct raftdrv *drv, struct raftdrv_group *g)
{
	if (drv->n_heap == drv->cap_heap) {
		drv->cap_heap = drv->cap_heap == 0 ? 16 : drv->cap_heap * 2;
		drv->heap = xreallocarray(drv->heap, drv->cap_heap,
		    sizeof *drv->heap);
	}
	g->hidx = drv->n_heap++;
	drv->heap[g->hidx] = g;
	raftdrv_heap_fix(drv, g->hidx);
}

/* Take a group out of the heap. */
static void
raftdrv_heap_del(struct raftdrv *drv, struct raftdrv_group *g)
{
	size_t	 i = g->hidx;

	if (i != --drv->n_heap) {
		raftdrv_heap_swap(drv, i, drv->n_heap);
		raftdrv_heap_fix(drv, i);
	}
}

/* Arm the timer for the earliest deadline. */
static void
raftdrv_timer_arm(struct raftdrv *drv)
{
	uint64_t	 now, at;

	ev_timer_stop(drv->loop, &drv->timer);
	if (drv->n_heap == 0)
		return;
	now = raftdrv_now();
	at = drv->heap[0]->deadline;
	ev_timer_set(&drv->timer, at > now ? (double)(at - now) / 1000.0 : 0.,
	    0.);
	ev_timer_start(drv->loop, &drv->timer);
}

/* Tick every group whose deadline passed. */
static void
raftdrv_timer_cb(EV_P_ ev_timer *w, int revents)
{
	struct raftdrv		*drv = w->data;
	struct raftdrv_group	*g;
	struct raft_event	 ev;
	struct raft_update	 u;
	uint64_t		 now = raftdrv_now();
	size_t			 n = drv->n_heap;

	while (drv->n_heap > 0 && n-- > 0 &&
	    (g = drv->heap[0])->deadline <= now) {
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_TICK;
		raftdrv_step(g, &ev, &u);
		if (g->deadline <= now) {
			g->deadline = now + 1;
			raftdrv_heap_fix(drv, g->hidx);
		}
	}
	raftdrv_timer_arm(drv);
}

/* ---- jobs ---- */

/* A new job at the end of this turn's list. */
static struct raftdrv_job *
raftdrv_job_new(struct raftdrv *drv, uint8_t kind)
{
	struct raftdrv_job	*j;

	j = xcalloc(1, sizeof *j);
	j->kind = kind;
	j->seq = ++drv->next_seq;
	if (kind != RAFTDRV_JOB_VIEW)
		j->b = raftlog_batch_new();
	if (drv->turn_tail != NULL)
		drv->turn_tail->next = j;
	else
		drv->turn_head = j;
	drv->turn_tail = j;
	return (j);
}

/* Free a job. */
static void
raftdrv_job_free(struct raftdrv_job *j)
{
	raftlog_batch_free(j->b);
	raftlog_view_free(j->view);
	free(j->notes);
	free(j->data);
	free(j->cause);
	free(j);
}

/* The turn's write job, made if needed. */
static struct raftdrv_job *
raftdrv_cur(struct raftdrv *drv)
{
	if (drv->turn_tail != NULL &&
	    drv->turn_tail->kind == RAFTDRV_JOB_WRITE)
		return (drv->turn_tail);
	return (raftdrv_job_new(drv, RAFTDRV_JOB_WRITE));
}

/* Add a note to a job (one PERSISTED note per group and job). */
static void
raftdrv_note(struct raftdrv_job *j, struct raftdrv_group *g, uint8_t kind,
    raft_index index, raft_term term)
{
	struct raftdrv_note	*n;

	if (kind == RAFTDRV_NOTE_PERSISTED && g->note_seq == j->seq) {
		n = &j->notes[g->note_idx];
		n->index = index;
		n->term = term;
		return;
	}
	if (j->n_notes == j->cap_notes) {
		j->cap_notes = j->cap_notes == 0 ? 8 : j->cap_notes * 2;
		j->notes = xreallocarray(j->notes, j->cap_notes,
		    sizeof *j->notes);
	}
	n = &j->notes[j->n_notes];
	n->group = g->id;
	n->gen = g->gen;
	n->kind = kind;
	n->index = index;
	n->term = term;
	if (kind == RAFTDRV_NOTE_PERSISTED) {
		g->note_seq = j->seq;
		g->note_idx = j->n_notes;
	}
	j->n_notes++;
}

/* ---- the storage thread ---- */

/* Write a run of WRITE jobs with one leveldb_write. */
static void
raftdrv_write_run(struct raftdrv *drv, struct raftdrv_job *first,
    struct raftdrv_job *end)
{
	struct raftdrv_job	*j;
	char			*cause = NULL;
	bool			 sync = false, failed = drv->broken;

	for (j = first->next; j != end; j = j->next) {
		raftlog_batch_append(first->b, j->b);
		raftlog_batch_clear(j->b);
	}
	for (j = first; j != end; j = j->next)
		sync = sync || j->sync;
	if (!failed && !raftlog_batch_empty(first->b)) {
		RAFTDRV_SLOW_DISK(drv->name);
		FAILPOINT("raftlog-before-write");
		if (raftlog_write(drv->rl, first->b, sync, &cause) != 0) {
			log_err("raftdrv: %s; every group of node '%s' stops "
			    "voting and acknowledging until it is restarted",
			    cause, drv->name);
			free(cause);
			failed = drv->broken = true;
		}
		drv->writes++;
		FAILPOINT("raftlog-after-write");
	}
	for (j = first; j != end; j = j->next)
		j->failed = failed;
}

/* Install a snapshot (INSTALL job). */
static void
raftdrv_install_run(struct raftdrv *drv, struct raftdrv_job *j)
{
	if (drv->broken) {
		j->failed = true;
		return;
	}
	FAILPOINT("raftlog-snap-before-install");
	if (raftlog_install(drv->rl, j->b, j->group, j->index, j->term,
	    &j->conf, j->offset, j->data, j->len, 0, &j->cause) != 0) {
		log_err("raftdrv: %s; the snapshot is refused", j->cause);
		j->failed = true;
		return;
	}
	if (raftlog_write(drv->rl, j->b, true, &j->cause) != 0) {
		log_err("raftdrv: %s; every group of node '%s' stops voting "
		    "and acknowledging until it is restarted", j->cause,
		    drv->name);
		j->failed = drv->broken = true;
	}
	drv->writes++;
	FAILPOINT("raftlog-snap-after-install");
}

/* The storage thread: write what the loop hands over, in order. */
static void *
raftdrv_thread(void *arg)
{
	struct raftdrv		*drv = arg;
	struct raftdrv_job	*list, *j, *end, *last;

	for (;;) {
		pthread_mutex_lock(&drv->mtx);
		while (drv->in_head == NULL && !drv->stop)
			pthread_cond_wait(&drv->cond, &drv->mtx);
		if (drv->crash) {
			/* raftdrv_crash: what is not written is lost. */
			pthread_mutex_unlock(&drv->mtx);
			break;
		}
		list = drv->in_head;
		last = drv->in_tail;
		drv->in_head = drv->in_tail = NULL;
		pthread_mutex_unlock(&drv->mtx);
		if (list == NULL)
			break;
		for (j = list; j != NULL; j = end) {
			switch (j->kind) {
			case RAFTDRV_JOB_WRITE:
				for (end = j; end != NULL &&
				    end->kind == RAFTDRV_JOB_WRITE;
				    end = end->next)
					;
				raftdrv_write_run(drv, j, end);
				continue;
			case RAFTDRV_JOB_INSTALL:
				raftdrv_install_run(drv, j);
				break;
			case RAFTDRV_JOB_VIEW:
				j->view = raftlog_view_new(drv->rl, j->group,
				    &j->cause);
				j->failed = j->view == NULL;
				break;
			}
			end = j->next;
		}
		pthread_mutex_lock(&drv->mtx);
		if (drv->out_tail != NULL)
			drv->out_tail->next = list;
		else
			drv->out_head = list;
		drv->out_tail = last;
		pthread_mutex_unlock(&drv->mtx);
		ev_async_send(drv->loop, &drv->async);
	}
	return (NULL);
}

/* ---- carrying out updates ---- */

/* Queue a callback for after the update. */
static void
raftdrv_call(struct raftdrv *drv, struct raftdrv_prop *p,
    struct raftdrv_group *g, enum raftdrv_result result)
{
	struct raftdrv_call	*c;
	const char		*name = NULL;

	if (p->cb == NULL)
		return;
	c = xcalloc(1, sizeof *c);
	c->cb = p->cb;
	c->arg = p->arg;
	c->d.result = result;
	c->d.group = g->id;
	c->d.first = p->first;
	c->d.last = p->last;
	if (result != RAFTDRV_COMMITTED && g->r != NULL) {
		c->d.leader = raft_leader(g->r);
		if (c->d.leader != 0 && drv->cfg.tr->name != NULL)
			name = drv->cfg.tr->name(drv->cfg.tr_arg, c->d.leader);
		c->d.leader_name = name;
	}
	if (drv->calls_tail != NULL)
		drv->calls_tail->next = c;
	else
		drv->calls_head = c;
	drv->calls_tail = c;
}

/* Run the queued callbacks. */
static void
raftdrv_run_calls(struct raftdrv *drv)
{
	struct raftdrv_call	*c;

	while ((c = drv->calls_head) != NULL) {
		if ((drv->calls_head = c->next) == NULL)
			drv->calls_tail = NULL;
		c->cb(c->arg, &c->d);
		free(c);
	}
}

/* Pop a group's first waiting proposal with an outcome. */
static void
raftdrv_prop_done(struct raftdrv_group *g, enum raftdrv_result result)
{
	struct raftdrv_prop	*p = g->props;

	if ((g->props = p->next) == NULL)
		g->props_tail = NULL;
	raftdrv_call(g->drv, p, g, result);
	free(p);
}

/* Answer LOST to the proposals with an index from on (truncated). */
static void
raftdrv_props_cut(struct raftdrv_group *g, raft_index from)
{
	struct raftdrv_prop	*p, *prev = NULL, *next;

	for (p = g->props; p != NULL && p->last < from; p = p->next)
		prev = p;
	if (p == NULL)
		return;
	if (prev != NULL)
		prev->next = NULL;
	else
		g->props = NULL;
	g->props_tail = prev;
	for (; p != NULL; p = next) {
		next = p->next;
		raftdrv_call(g->drv, p, g, RAFTDRV_LOST);
		free(p);
	}
}

/* The last index of the group's log as written or queued. */
static raft_index
raftdrv_last(const struct raftdrv_group *g)
{
	return (g->snap_index + g->n_terms);
}

/* The term of the last entry. */
static raft_term
raftdrv_last_term(const struct raftdrv_group *g)
{
	return (g->n_terms > 0 ? g->terms[g->n_terms - 1] : g->snap_term);
}

/* Note a CONF entry appended at index. */
static void
raftdrv_conf_push(struct raftdrv_group *g, raft_index index,
    const struct raft_conf *c)
{
	if (g->n_confs == g->cap_confs) {
		g->cap_confs = g->cap_confs == 0 ? 4 : g->cap_confs * 2;
		g->confs = xreallocarray(g->confs, g->cap_confs,
		    sizeof *g->confs);
	}
	g->confs[g->n_confs].index = index;
	g->confs[g->n_confs].conf = *c;
	g->n_confs++;
}

/* Note an entry appended to the log. */
static void
raftdrv_log_push(struct raftdrv_group *g, const struct raft_entry *e)
{
	struct raft_conf	 c;

	if (g->n_terms == g->cap_terms) {
		g->cap_terms = g->cap_terms == 0 ? 256 : g->cap_terms * 2;
		g->terms = xreallocarray(g->terms, g->cap_terms,
		    sizeof *g->terms);
	}
	g->terms[g->n_terms++] = e->term;
	if (e->type == RAFT_ENTRY_CONF) {
		if (raft_conf_decode(e->data, e->len, &c) == 0)
			raftdrv_conf_push(g, e->index, &c);
		else
			log_warn("raftdrv: group %u: the configuration at "
			    "index %llu does not decode", g->id,
			    (unsigned long long)e->index);
	}
}

/* Drop the log from index on (a conflict). */
static void
raftdrv_log_cut(struct raftdrv_group *g, raft_index from)
{
	if (from <= g->snap_index)
		g->n_terms = 0;
	else if (from - g->snap_index - 1 < g->n_terms)
		g->n_terms = (size_t)(from - g->snap_index - 1);
	while (g->n_confs > 1 && g->confs[g->n_confs - 1].index >= from)
		g->n_confs--;
}

/* The configuration in effect at index. */
static const struct raft_conf *
raftdrv_conf_at(const struct raftdrv_group *g, raft_index index)
{
	size_t	 i;

	for (i = g->n_confs; i > 0; i--)
		if (g->confs[i - 1].index <= index)
			return (&g->confs[i - 1].conf);
	return (g->n_confs > 0 ? &g->confs[0].conf : NULL);
}

/* Forget the log through index (compacted, or under a snapshot). */
static void
raftdrv_log_drop(struct raftdrv_group *g, raft_index index, raft_term term)
{
	size_t	 n, i;

	if (index <= g->snap_index)
		return;
	n = (size_t)(index - g->snap_index);
	if (n >= g->n_terms)
		g->n_terms = 0;
	else {
		memmove(g->terms, g->terms + n,
		    (g->n_terms - n) * sizeof *g->terms);
		g->n_terms -= n;
	}
	/* Keep the configuration in effect at index and those after it. */
	for (i = g->n_confs; i > 0; i--)
		if (g->confs[i - 1].index <= index)
			break;
	if (i > 1) {
		memmove(g->confs, g->confs + (i - 1),
		    (g->n_confs - (i - 1)) * sizeof *g->confs);
		g->n_confs -= i - 1;
	}
	g->snap_index = index;
	g->snap_term = term;
}

/* Queue a follow-up event of the update being carried out. */
static void
raftdrv_follow(struct raftdrv_group *g, uint8_t type, raft_index index,
    raft_id to)
{
	struct raft_event	*ev;

	if (g->n_follow == RAFTDRV_MAX_FOLLOW) {
		log_warn("raftdrv: group %u: too many follow-up events",
		    g->id);
		return;
	}
	ev = &g->follow[g->n_follow++];
	memset(ev, 0, sizeof *ev);
	ev->type = type;
	ev->index = index;
	ev->to = to;
}

/* Ask for a view of the state machine to send a peer a snapshot. */
static void
raftdrv_want_view(struct raftdrv_group *g, raft_id to)
{
	struct raftdrv_job	*j;
	size_t			 i;

	if (g->view != NULL && raftlog_view_index(g->view) >= g->snap_index &&
	    !g->view_pending) {
		raftdrv_follow(g, RAFT_EV_SNAP_READY,
		    raftlog_view_index(g->view), to);
		return;
	}
	for (i = 0; i < g->n_view_for; i++)
		if (g->view_for[i] == to)
			break;
	if (i == g->n_view_for && g->n_view_for < RAFT_MAX_NODES)
		g->view_for[g->n_view_for++] = to;
	if (g->view_pending)
		return;
	g->view_pending = true;
	j = raftdrv_job_new(g->drv, RAFTDRV_JOB_VIEW);
	j->group = g->id;
	j->gen = g->gen;
}

/* Fill a SNAP message's chunk from the group's view; false if none. */
static bool
raftdrv_fill_snap(struct raftdrv_group *g, struct raft_msg *m)
{
	struct raftdrv	*drv = g->drv;
	char		*cause = NULL;
	bool		 last;

	if (g->view == NULL || raftlog_view_index(g->view) != m->index) {
		raftdrv_want_view(g, m->to);
		return (false);
	}
	drv->scratch.off = drv->scratch.len = 0;
	if (raftlog_view_read(g->view, m->offset, drv->cfg.snap_chunk,
	    &drv->scratch, &last, &cause) != 0) {
		log_err("raftdrv: group %u: %s; no snapshot is sent", g->id,
		    cause);
		free(cause);
		return (false);
	}
	m->data = buf_used(&drv->scratch) > 0 ? buf_head(&drv->scratch) :
	    NULL;
	m->len = buf_used(&drv->scratch);
	m->last = last;
	drv->st.snaps_sent++;
	return (true);
}

/* Hold a copy of a message until job seq is durable. */
static void
raftdrv_hold(struct raftdrv *drv, uint64_t seq, struct raftdrv_group *g,
    const struct raft_msg *m)
{
	struct raftdrv_held	*h;

	h = xcalloc(1, sizeof *h);
	h->seq = seq;
	h->group = g->id;
	h->gen = g->gen;
	h->m = raftdrv_msg_dup(m);
	if (drv->held_tail != NULL)
		drv->held_tail->next = h;
	else
		drv->held_head = h;
	drv->held_tail = h;
	drv->st.held++;
}

/* Stage a snapshot chunk, or install the snapshot with the last one. */
static void
raftdrv_snap_chunk(struct raftdrv_group *g, const struct raft_update *u)
{
	const struct raft_snap_chunk *sc = &u->snap_chunk;
	struct raftdrv		*drv = g->drv;
	struct raftdrv_job	*j;
	size_t			 i;

	j = raftdrv_cur(drv);
	j->sync = true;
	if (sc->offset == 0 && !sc->last) {
		for (i = 0; i < g->n_staged; i++)
			raftlog_unstage_one(j->b, g->id, g->staged[i]);
		g->n_staged = 0;
	}
	if (!sc->last) {
		raftlog_stage(j->b, g->id, sc->offset, sc->data, sc->len);
		if (g->n_staged == g->cap_staged) {
			g->cap_staged = g->cap_staged == 0 ? 16 :
			    g->cap_staged * 2;
			g->staged = xreallocarray(g->staged, g->cap_staged,
			    sizeof *g->staged);
		}
		g->staged[g->n_staged++] = sc->offset;
		raftdrv_note(j, g, RAFTDRV_NOTE_PERSISTED, raftdrv_last(g),
		    raftdrv_last_term(g));
		return;
	}
	/* The install: a job of its own after this turn's earlier ones. */
	j = raftdrv_job_new(drv, RAFTDRV_JOB_INSTALL);
	j->sync = true;
	j->group = g->id;
	j->gen = g->gen;
	j->index = sc->index;
	j->term = sc->term;
	if (sc->conf != NULL)
		j->conf = *sc->conf;
	j->offset = sc->offset;
	if (sc->len > 0)
		j->data = xmemdup(sc->data, sc->len);
	j->len = sc->len;
	g->n_staged = 0;
	g->n_terms = 0;
	g->n_confs = 0;
	raftdrv_conf_push(g, sc->index, &j->conf);
	g->snap_index = sc->index;
	g->snap_term = sc->term;
	raftdrv_note(j, g, RAFTDRV_NOTE_SNAP, sc->index, sc->term);
}

/* Apply committed entries into the turn's batch. */
static void
raftdrv_apply(struct raftdrv_group *g, const struct raft_update *u)
{
	struct raftdrv		*drv = g->drv;
	struct raftdrv_job	*j;
	struct raftdrv_prop	*p;
	const struct raft_entry	*e;
	size_t			 i;

	j = raftdrv_cur(drv);
	for (i = 0; i < u->n_apply; i++) {
		e = &u->apply[i];
		if (e->index <= g->applied)
			continue;
		if (e->type == RAFT_ENTRY_NORMAL && g->sm.apply != NULL)
			g->sm.apply(g->sm.arg, g->id, e, j->b);
		g->applied = e->index;
		drv->st.applied++;
		while ((p = g->props) != NULL && p->first <= e->index) {
			if (e->term != p->term)
				raftdrv_prop_done(g, RAFTDRV_LOST);
			else if (e->index >= p->last)
				raftdrv_prop_done(g, RAFTDRV_COMMITTED);
			else
				break;
		}
	}
	raftlog_put_applied(j->b, g->id, g->applied);
	FAILPOINT("raftdrv-after-apply");
	raftdrv_follow(g, RAFT_EV_APPLIED, g->applied, 0);
}

/* Compact the log if the applied index is far enough past it. */
static void
raftdrv_compact(struct raftdrv_group *g, struct raft_update *u)
{
	struct raftdrv		*drv = g->drv;
	struct raftdrv_job	*j;
	const struct raft_conf	*c;
	struct raft_event	 ev;
	const struct raft_peer_status *pr;
	enum raft_rc		 rc;
	raft_index		 x;
	raft_term		 term;
	unsigned		 i;

	if (g->applied < g->snap_index + drv->cfg.compact_every ||
	    g->applied <= drv->cfg.compact_keep)
		return;
	x = g->applied - drv->cfg.compact_keep;
	/* A leader keeps what an active follower still needs, so that it
	 * catches up from the log rather than through a snapshot that the
	 * next compaction outdates; up to 8 compactions' worth, so that a
	 * slow follower cannot keep the log growing. */
	raft_status(g->r, &drv->status);
	if (drv->status.role == RAFT_LEADER) {
		for (i = 0; i < drv->status.n_peers; i++) {
			pr = &drv->status.peers[i];
			if (pr->id == drv->cfg.id || !pr->active ||
			    pr->match >= x)
				continue;
			if (pr->match + 8 * drv->cfg.compact_every >= x)
				x = pr->match;
		}
	}
	if (x <= g->snap_index || x > raftdrv_last(g) ||
	    (c = raftdrv_conf_at(g, x)) == NULL)
		return;
	term = g->terms[x - g->snap_index - 1];
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_COMPACT;
	ev.index = x;
	ev.now = raftdrv_now();
	memset(u, 0, sizeof *u);
	rc = raft_step(g->r, &ev, u);
	drv->st.steps++;
	/* The core may keep its log (a snapshot being staged): the store
	 * follows the core, never the other way round. */
	raft_status(g->r, &drv->status);
	if (rc == RAFT_OK && drv->status.snap_index == x) {
		j = raftdrv_cur(drv);
		j->sync = true;
		FAILPOINT("raftdrv-compact");
		raftlog_del_entries(j->b, g->id, g->snap_index + 1, x);
		raftlog_put_snap(j->b, g->id, x, term, c);
		raftdrv_log_drop(g, x, term);
		drv->st.compactions++;
	}
	/* The update of COMPACT is carried out like any other. */
	raftdrv_handle(g, u);
}

/* Carry out one update (raft.h's protocol, steps 1 to 6). */
static void
raftdrv_handle(struct raftdrv_group *g, struct raft_update *u)
{
	struct raftdrv		*drv = g->drv;
	struct raftdrv_job	*j = NULL;
	struct raft_msg		*m;
	size_t			 i;
	bool			 wait = false, wrote = false;

	for (i = 0; i < u->n_msgs; i++)
		wait = wait || u->msgs[i].wait == RAFT_WAIT_PERSIST;
	/* 1. persist */
	if (u->has_snap_chunk && u->snap_chunk.last) {
		j = raftdrv_cur(drv);
		if (u->hs_changed)
			raftlog_put_hs(j->b, g->id, &u->hs);
		/* The snapshot may or may not hold them: say so. */
		while (g->props != NULL)
			raftdrv_prop_done(g, RAFTDRV_UNKNOWN);
		raftdrv_snap_chunk(g, u);
	} else if (u->hs_changed || u->truncate_from != 0 ||
	    u->n_entries > 0 || u->has_snap_chunk) {
		j = raftdrv_cur(drv);
		j->sync = true;
		wrote = true;
		if (u->truncate_from != 0 &&
		    u->truncate_from <= raftdrv_last(g)) {
			raftlog_del_entries(j->b, g->id, u->truncate_from,
			    raftdrv_last(g));
			raftdrv_log_cut(g, u->truncate_from);
			raftdrv_props_cut(g, u->truncate_from);
		}
		for (i = 0; i < u->n_entries; i++) {
			if (u->entries[i].index != raftdrv_last(g) + 1) {
				log_err("raftdrv: group %u: entry %llu does "
				    "not follow the log's last %llu", g->id,
				    (unsigned long long)u->entries[i].index,
				    (unsigned long long)raftdrv_last(g));
				raftdrv_log_cut(g, u->entries[i].index);
			}
			raftlog_put_entry(j->b, g->id, &u->entries[i]);
			raftdrv_log_push(g, &u->entries[i]);
		}
		raftlog_put_hs(j->b, g->id, &u->hs);
		if (u->has_snap_chunk)
			raftdrv_snap_chunk(g, u);
	}
	if (wait || wrote) {
		j = raftdrv_cur(drv);
		raftdrv_note(j, g, RAFTDRV_NOTE_PERSISTED, raftdrv_last(g),
		    raftdrv_last_term(g));
	}
	/* 2. send, or hold until the last job so far is durable */
	for (i = 0; i < u->n_msgs; i++) {
		m = &u->msgs[i];
		if (m->type == RAFT_MSG_SNAP && !raftdrv_fill_snap(g, m))
			continue;
		if (m->wait == RAFT_WAIT_PERSIST && !RAFTDRV_BUG_EARLY())
			raftdrv_hold(drv, drv->turn_tail->seq, g, m);
		else
			drv->cfg.tr->send(drv->cfg.tr_arg, g->id, m);
	}
	/* 4. apply */
	if (u->n_apply > 0)
		raftdrv_apply(g, u);
	/* 5. a view for a snapshot */
	if (u->snap_need != 0)
		raftdrv_want_view(g, u->snap_need);
	/* 6. the deadline */
	if (u->deadline != 0 && u->deadline != g->deadline) {
		g->deadline = u->deadline;
		raftdrv_heap_fix(drv, g->hidx);
	}
}

/*
 * Step a group (ev NULL: carry out u, already stepped) and carry out the
 * update and the follow-ups it asks for, then run the callbacks.
 */
static void
raftdrv_step(struct raftdrv_group *g, struct raft_event *ev,
    struct raft_update *u)
{
	struct raftdrv		*drv = g->drv;
	struct raft_event	 fev;
	bool			 top = ev != NULL;

	if (ev != NULL) {
		ev->now = raftdrv_now();
		memset(u, 0, sizeof *u);
		(void)raft_step(g->r, ev, u);
		drv->st.steps++;
		g->n_follow = 0;
	}
	raftdrv_handle(g, u);
	/* Follow-ups (and theirs) in order, first in first out. */
	while (g->n_follow > 0) {
		fev = g->follow[0];
		memmove(g->follow, g->follow + 1,
		    --g->n_follow * sizeof *g->follow);
		fev.now = raftdrv_now();
		memset(u, 0, sizeof *u);
		(void)raft_step(g->r, &fev, u);
		drv->st.steps++;
		raftdrv_handle(g, u);
		if (fev.type == RAFT_EV_APPLIED)
			raftdrv_compact(g, u);
	}
	if (top)
		raftdrv_run_calls(drv);
}

/* ---- the loop side ---- */

/* Send the held messages of jobs through seq (drop them if failed). */
static void
raftdrv_release(struct raftdrv *drv, uint64_t seq, bool failed)
{
	struct raftdrv_group	*g;
	struct raftdrv_held	*h;

	while ((h = drv->held_head) != NULL && h->seq <= seq) {
		if ((drv->held_head = h->next) == NULL)
			drv->held_tail = NULL;
		if (!failed && (g = raftdrv_group(drv, h->group)) != NULL &&
		    g->gen == h->gen)
			drv->cfg.tr->send(drv->cfg.tr_arg, h->group, h->m);
		free(h->m);
		free(h);
	}
}

/* Step a group with what a finished job says. */
static void
raftdrv_job_notes(struct raftdrv *drv, struct raftdrv_job *j)
{
	struct raftdrv_group	*g;
	struct raft_event	 ev;
	struct raft_update	 u;
	size_t			 i, k;

	for (i = 0; i < j->n_notes; i++) {
		/* A group stopped (and maybe started again) since. */
		if ((g = raftdrv_group(drv, j->notes[i].group)) == NULL ||
		    g->gen != j->notes[i].gen)
			continue;
		memset(&ev, 0, sizeof ev);
		if (j->failed) {
			if (g->failed)
				continue;
			g->failed = true;
			ev.type = RAFT_EV_PERSIST_FAILED;
			while (g->props != NULL)
				raftdrv_prop_done(g, RAFTDRV_FAILED);
		} else if (j->notes[i].kind == RAFTDRV_NOTE_SNAP) {
			ev.type = RAFT_EV_SNAP_PERSISTED;
			drv->st.installs++;
			g->applied = j->notes[i].index;
			if (g->sm.installed != NULL)
				g->sm.installed(g->sm.arg, g->id,
				    j->notes[i].index);
		} else
			ev.type = RAFT_EV_PERSISTED;
		ev.index = j->notes[i].index;
		ev.term = j->notes[i].term;
		raftdrv_step(g, &ev, &u);
	}
	if (j->kind == RAFTDRV_JOB_VIEW &&
	    (g = raftdrv_group(drv, j->group)) != NULL && g->gen == j->gen) {
		g->view_pending = false;
		if (j->view == NULL) {
			log_err("raftdrv: group %u: %s; no snapshot is sent",
			    g->id, j->cause != NULL ? j->cause : "no view");
			g->n_view_for = 0;
			return;
		}
		raftlog_view_free(g->view);
		g->view = TAKE(j->view);
		for (k = 0; k < g->n_view_for; k++) {
			memset(&ev, 0, sizeof ev);
			ev.type = RAFT_EV_SNAP_READY;
			ev.to = g->view_for[k];
			ev.index = raftlog_view_index(g->view);
			raftdrv_step(g, &ev, &u);
		}
		g->n_view_for = 0;
	}
}

/* Jobs are back from the storage thread. */
static void
raftdrv_async_cb(EV_P_ ev_async *w, int revents)
{
	struct raftdrv		*drv = w->data;
	struct raftdrv_job	*list, *j;

	pthread_mutex_lock(&drv->mtx);
	list = drv->out_head;
	drv->out_head = drv->out_tail = NULL;
	pthread_mutex_unlock(&drv->mtx);
	while ((j = list) != NULL) {
		list = j->next;
		raftdrv_release(drv, j->seq, j->failed);
		raftdrv_job_notes(drv, j);
		raftdrv_job_free(j);
	}
}

/* End of a loop turn: hand the turn's jobs over, flush, arm the timer. */
static void
raftdrv_prepare_cb(EV_P_ ev_prepare *w, int revents)
{
	struct raftdrv		*drv = w->data;
	struct raftdrv_job	*j;

	if ((j = drv->turn_head) != NULL) {
		for (; j != NULL; j = j->next)
			drv->st.jobs++;
		pthread_mutex_lock(&drv->mtx);
		if (drv->in_tail != NULL)
			drv->in_tail->next = drv->turn_head;
		else
			drv->in_head = drv->turn_head;
		drv->in_tail = drv->turn_tail;
		pthread_cond_signal(&drv->cond);
		pthread_mutex_unlock(&drv->mtx);
		drv->turn_head = drv->turn_tail = NULL;
	}
	if (drv->cfg.tr->flush != NULL)
		drv->cfg.tr->flush(drv->cfg.tr_arg);
	raftdrv_timer_arm(drv);
}

/* ---- the API ---- */

/* A driver; see raftdrv.h. */
struct raftdrv *
raftdrv_new(const struct raftdrv_config *cfg, char **cause)
{
	struct raftdrv	*drv;

	drv = xcalloc(1, sizeof *drv);
	drv->magic = RAFTDRV_MAGIC;
	drv->cfg = *cfg;
	drv->name = xstrdup(cfg->name != NULL ? cfg->name : "?");
	drv->cfg.name = drv->name;
	if (drv->cfg.compact_every == 0)
		drv->cfg.compact_every = 8192;
	if (drv->cfg.compact_keep == 0)
		drv->cfg.compact_keep = 1024;
	if (drv->cfg.snap_chunk == 0)
		drv->cfg.snap_chunk = 256 << 10;
	drv->loop = cfg->loop;
	drv->rl = cfg->log;
	buf_init(&drv->scratch);
	pthread_mutex_init(&drv->mtx, NULL);
	pthread_cond_init(&drv->cond, NULL);
	ev_timer_init(&drv->timer, raftdrv_timer_cb, 0., 0.);
	drv->timer.data = drv;
	ev_prepare_init(&drv->prepare, raftdrv_prepare_cb);
	drv->prepare.data = drv;
	ev_prepare_start(drv->loop, &drv->prepare);
	ev_async_init(&drv->async, raftdrv_async_cb);
	drv->async.data = drv;
	ev_async_start(drv->loop, &drv->async);
	if (pthread_create(&drv->thread, NULL, raftdrv_thread, drv) != 0) {
		xasprintf(cause, "raftdrv: cannot start the storage thread");
		raftdrv_free(drv);
		return (NULL);
	}
	drv->thread_started = true;
	return (drv);
}

/* Stop a group, answering its waiting callbacks. */
static void
raftdrv_group_free(struct raftdrv_group *g)
{
	struct raftdrv	*drv = g->drv;

	while (g->props != NULL)
		raftdrv_prop_done(g, RAFTDRV_STOPPED);
	raftdrv_heap_del(drv, g);
	drv->groups[g->id] = NULL;
	raft_free(g->r);
	g->r = NULL;
	raftlog_view_free(g->view);
	free(g->terms);
	free(g->confs);
	free(g->staged);
	free(g);
}

/* Stop, writing what was handed over (or, for a crash, dropping it). */
static void
raftdrv_stop(struct raftdrv *drv, bool crash)
{
	struct raftdrv_job	*j, *lists[2];
	size_t			 i;

	/* Hand over what this turn made, then let the thread finish. */
	if (!crash)
		raftdrv_prepare_cb(drv->loop, &drv->prepare, 0);
	if (drv->thread_started) {
		pthread_mutex_lock(&drv->mtx);
		drv->stop = true;
		drv->crash = crash;
		pthread_cond_signal(&drv->cond);
		pthread_mutex_unlock(&drv->mtx);
		pthread_join(drv->thread, NULL);
	}
	/* A crash leaves jobs never handed over or never written. */
	lists[0] = drv->turn_head;
	lists[1] = drv->in_head;
	drv->turn_head = drv->turn_tail = drv->in_head = drv->in_tail = NULL;
	for (i = 0; i < 2; i++)
		while ((j = lists[i]) != NULL) {
			lists[i] = j->next;
			raftdrv_job_free(j);
		}
	ev_timer_stop(drv->loop, &drv->timer);
	ev_prepare_stop(drv->loop, &drv->prepare);
	ev_async_stop(drv->loop, &drv->async);
	while ((j = drv->out_head) != NULL) {
		drv->out_head = j->next;
		raftdrv_job_free(j);
	}
	raftdrv_release(drv, UINT64_MAX, true);
	for (i = 0; i < drv->n_groups; i++)
		if (drv->groups[i] != NULL)
			raftdrv_group_free(drv->groups[i]);
	raftdrv_run_calls(drv);
	pthread_mutex_destroy(&drv->mtx);
	pthread_cond_destroy(&drv->cond);
	buf_release(&drv->scratch);
	free(drv->groups);
	free(drv->heap);
	free(drv->name);
	drv->magic = 0;
	free(drv);
}

/* Stop a driver; see raftdrv.h. */
void
raftdrv_free(struct raftdrv *drv)
{
	if (drv != NULL)
		raftdrv_stop(drv, false);
}

/* Stop as a crash would; see raftdrv.h. */
void
raftdrv_crash(struct raftdrv *drv)
{
	if (drv != NULL)
		raftdrv_stop(drv, true);
}

/* Write the first entry of a new group (raft.h: index 1, term 1). */
static int
raftdrv_bootstrap(struct raftdrv *drv, uint16_t id,
    const struct raft_conf *conf, char **cause)
{
	struct raftlog_batch	*b;
	struct raft_hard_state	 hs = { 1, 0, 1 };
	struct raft_entry	 e;
	uint8_t			 buf[16 + RAFT_MAX_NODES * 16];
	int			 rv;

	memset(&e, 0, sizeof e);
	e.index = 1;
	e.term = 1;
	e.type = RAFT_ENTRY_CONF;
	e.data = buf;
	e.len = raft_conf_encode(conf, buf, sizeof buf);
	b = raftlog_batch_new();
	raftlog_put_entry(b, id, &e);
	raftlog_put_hs(b, id, &hs);
	rv = raftlog_write(drv->rl, b, true, cause);
	raftlog_batch_free(b);
	return (rv);
}

/* Start a group; see raftdrv.h. */
int
raftdrv_group_start(struct raftdrv *drv, uint16_t id,
    const struct raft_conf *conf, const struct raftdrv_sm *sm, char **cause)
{
	struct raftdrv_group	*g = NULL;
	struct raftlog_state	 st;
	struct raftlog_batch	*b;
	struct raft_restore	 rs;
	struct raft_config	 rc;
	size_t			 i;

	memset(&st, 0, sizeof st);
	if (raftdrv_group(drv, id) != NULL) {
		xasprintf(cause, "raftdrv: group %u is already started", id);
		return (-1);
	}
	if (raftlog_load(drv->rl, id, &st, cause) != 0)
		return (-1);
	if (!st.found && conf != NULL) {
		if (raftdrv_bootstrap(drv, id, conf, cause) != 0 ||
		    raftlog_load(drv->rl, id, &st, cause) != 0)
			return (-1);
	}
	if (st.staged > 0) {
		/* An install cut by a crash starts again from offset 0. */
		b = raftlog_batch_new();
		if (raftlog_unstage(drv->rl, b, id, cause) != 0 ||
		    raftlog_write(drv->rl, b, true, cause) != 0) {
			raftlog_batch_free(b);
			goto fail;
		}
		raftlog_batch_free(b);
		log_info("raftdrv: group %u: %llu staged snapshot chunks of an "
		    "install cut short are dropped", id,
		    (unsigned long long)st.staged);
	}
	g = xcalloc(1, sizeof *g);
	g->drv = drv;
	g->id = id;
	g->gen = ++drv->next_gen;
	if (sm != NULL)
		g->sm = *sm;
	rc = drv->cfg.raft;
	rc.id = drv->cfg.id;
	rc.seed = drv->cfg.raft.seed ^ ((uint64_t)drv->cfg.id << 32) ^
	    ((uint64_t)id * 0x9e3779b97f4a7c15ull);
	if ((g->r = raft_new(&rc)) == NULL) {
		xasprintf(cause, "raftdrv: group %u: the core refuses its "
		    "settings", id);
		goto fail;
	}
	memset(&rs, 0, sizeof rs);
	rs.hs = st.hs;
	rs.snap_index = st.snap_index;
	rs.snap_term = st.snap_term;
	rs.snap_conf = st.snap_conf;
	rs.entries = st.entries;
	rs.n_entries = st.n_entries;
	rs.applied = st.applied;
	if (raft_restore(g->r, &rs) != 0) {
		xasprintf(cause, "raftdrv: group %u: the core finds the stored "
		    "state inconsistent (term %llu, snapshot %llu, %zu "
		    "entries, applied %llu); the replica is not started", id,
		    (unsigned long long)st.hs.term,
		    (unsigned long long)st.snap_index, st.n_entries,
		    (unsigned long long)st.applied);
		goto fail;
	}
	g->snap_index = st.snap_index;
	g->snap_term = st.snap_term;
	g->applied = st.applied;
	if (st.snap_index > 0)
		raftdrv_conf_push(g, st.snap_index, &st.snap_conf);
	for (i = 0; i < st.n_entries; i++)
		raftdrv_log_push(g, &st.entries[i]);
	raftlog_state_release(&st);
	if (id >= drv->n_groups) {
		drv->groups = xreallocarray(drv->groups, (size_t)id + 1,
		    sizeof *drv->groups);
		memset(drv->groups + drv->n_groups, 0,
		    ((size_t)id + 1 - drv->n_groups) * sizeof *drv->groups);
		drv->n_groups = (size_t)id + 1;
	}
	drv->groups[id] = g;
	g->deadline = raftdrv_now();
	raftdrv_heap_add(drv, g);
	raftdrv_timer_arm(drv);
	return (0);

fail:
	raftlog_state_release(&st);
	if (g != NULL) {
		raft_free(g->r);
		free(g);
	}
	return (-1);
}

/* Stop a group; see raftdrv.h. */
void
raftdrv_group_stop(struct raftdrv *drv, uint16_t id)
{
	struct raftdrv_group	*g;

	if ((g = raftdrv_group(drv, id)) == NULL)
		return;
	raftdrv_group_free(g);
	raftdrv_run_calls(drv);
}

/* A message from the transport. */
void
raftdrv_recv(struct raftdrv *drv, uint16_t id, const struct raft_msg *m)
{
	struct raftdrv_group	*g;
	struct raft_event	 ev;
	struct raft_update	 u;

	if ((g = raftdrv_group(drv, id)) == NULL)
		return;
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_RECV;
	ev.msg = m;
	raftdrv_step(g, &ev, &u);
}

/* Step with an event and, if the core gave indexes, wait for them. */
static enum raft_rc
raftdrv_submit(struct raftdrv *drv, uint16_t id, struct raft_event *ev,
    raftdrv_done_f *cb, void *arg)
{
	struct raftdrv_group	*g;
	struct raftdrv_prop	*p;
	struct raft_update	 u;
	enum raft_rc		 rc;

	if ((g = raftdrv_group(drv, id)) == NULL)
		return (RAFT_INVALID);
	if (g->failed)
		return (RAFT_DISK_FAILED);
	ev->now = raftdrv_now();
	memset(&u, 0, sizeof u);
	rc = raft_step(g->r, ev, &u);
	drv->st.steps++;
	g->n_follow = 0;
	if (rc == RAFT_OK && u.prop_last == 0 &&
	    ev->type == RAFT_EV_CONF_CHANGE) {
		/* raft.h gives indexes for PROPOSE only: a change is the
		 * one entry the leader just appended. */
		raft_status(g->r, &drv->status);
		u.prop_first = u.prop_last = drv->status.last;
		u.prop_term = drv->status.term;
	}
	if (rc == RAFT_OK && u.prop_last != 0) {
		p = xcalloc(1, sizeof *p);
		p->first = u.prop_first;
		p->last = u.prop_last;
		p->term = u.prop_term;
		p->cb = cb;
		p->arg = arg;
		if (g->props_tail != NULL)
			g->props_tail->next = p;
		else
			g->props = p;
		g->props_tail = p;
	}
	raftdrv_step(g, NULL, &u);
	raftdrv_run_calls(drv);
	return (rc);
}

/* Propose entries; see raftdrv.h. */
enum raft_rc
raftdrv_propose(struct raftdrv *drv, uint16_t id, const struct raft_buf *bufs,
    size_t n, raftdrv_done_f *cb, void *arg)
{
	struct raft_event	 ev;

	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_PROPOSE;
	ev.bufs = bufs;
	ev.n_bufs = n;
	return (raftdrv_submit(drv, id, &ev, cb, arg));
}

/* Hand leadership to another voter. */
enum raft_rc
raftdrv_transfer(struct raftdrv *drv, uint16_t id, raft_id to)
{
	struct raft_event	 ev;

	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_TRANSFER;
	ev.to = to;
	return (raftdrv_submit(drv, id, &ev, NULL, NULL));
}

/* Change the members; see raftdrv.h. */
enum raft_rc
raftdrv_conf_change(struct raftdrv *drv, uint16_t id, enum raft_conf_op op,
    raft_id who, raftdrv_done_f *cb, void *arg)
{
	struct raft_event	 ev;

	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_CONF_CHANGE;
	ev.conf_op = (uint8_t)op;
	ev.to = who;
	return (raftdrv_submit(drv, id, &ev, cb, arg));
}

/* Start an election now. */
enum raft_rc
raftdrv_campaign(struct raftdrv *drv, uint16_t id)
{
	struct raft_event	 ev;

	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_CAMPAIGN;
	return (raftdrv_submit(drv, id, &ev, NULL, NULL));
}

/* The leader this replica knows of. */
raft_id
raftdrv_leader(struct raftdrv *drv, uint16_t id, const char **name)
{
	struct raftdrv_group	*g;
	raft_id			 l;

	if (name != NULL)
		*name = NULL;
	if ((g = raftdrv_group(drv, id)) == NULL)
		return (0);
	l = raft_leader(g->r);
	if (l != 0 && name != NULL && drv->cfg.tr->name != NULL)
		*name = drv->cfg.tr->name(drv->cfg.tr_arg, l);
	return (l);
}

/* A group's status. */
int
raftdrv_status(struct raftdrv *drv, uint16_t id, struct raft_status *st)
{
	struct raftdrv_group	*g;

	if ((g = raftdrv_group(drv, id)) == NULL)
		return (-1);
	raft_status(g->r, st);
	return (0);
}

/* The index the group's state machine applied (here, maybe not durable). */
raft_index
raftdrv_applied(struct raftdrv *drv, uint16_t id)
{
	struct raftdrv_group	*g;

	if ((g = raftdrv_group(drv, id)) == NULL)
		return (0);
	return (g->applied);
}

/* The store. */
struct raftlog *
raftdrv_log(struct raftdrv *drv)
{
	return (drv->rl);
}

/* Counters. */
void
raftdrv_stats(struct raftdrv *drv, struct raftdrv_stats *st)
{
	*st = drv->st;
	pthread_mutex_lock(&drv->mtx);
	st->writes = drv->writes;
	pthread_mutex_unlock(&drv->mtx);
}

/* A deep copy of a message; see raftdrv.h. */
struct raft_msg *
raftdrv_msg_dup(const struct raft_msg *m)
{
	struct raft_msg		*c;
	struct raft_entry	*e;
	uint8_t			*p;
	size_t			 size, i;

	size = sizeof *c + m->n_entries * sizeof *e + m->len;
	if (m->conf != NULL)
		size += sizeof *m->conf;
	for (i = 0; i < m->n_entries; i++)
		size += m->entries[i].len;
	c = xmalloc(size);
	*c = *m;
	p = (uint8_t *)(c + 1);
	e = (struct raft_entry *)p;
	p += m->n_entries * sizeof *e;
	if (m->conf != NULL) {
		memcpy(p, m->conf, sizeof *m->conf);
		c->conf = (const struct raft_conf *)p;
		p += sizeof *m->conf;
	}
	c->entries = m->n_entries > 0 ? e : NULL;
	for (i = 0; i < m->n_entries; i++) {
		e[i] = m->entries[i];
		if (e[i].len > 0) {
			memcpy(p, m->entries[i].data, e[i].len);
			e[i].data = p;
			p += e[i].len;
		} else
			e[i].data = NULL;
	}
	if (m->len > 0) {
		memcpy(p, m->data, m->len);
		c->data = p;
	} else
		c->data = NULL;
	return (c);
}

/* ---- the in-process transport ---- */

#define RAFTDRV_INPROC_MAX	16

struct raftdrv_inproc_msg {
	struct raftdrv_inproc_msg *next;
	uint16_t		 group;
	struct raft_msg		*m;
};

struct raftdrv_inproc {
	struct ev_loop		*loop;
	ev_idle			 idle;
	struct {
		raft_id		 id;
		char		*name;
		struct raftdrv	*drv;
	}			 nodes[RAFTDRV_INPROC_MAX];
	size_t			 n_nodes;
	bool			 cut[RAFTDRV_INPROC_MAX]
				     [RAFTDRV_INPROC_MAX];
	struct raftdrv_inproc_msg *head, *tail;
	uint64_t		 delivered, dropped;
};

/* The slot of a node, or -1. */
static int
raftdrv_inproc_slot(struct raftdrv_inproc *ip, raft_id id)
{
	size_t	 i;

	for (i = 0; i < ip->n_nodes; i++)
		if (ip->nodes[i].id == id)
			return ((int)i);
	return (-1);
}

/* Queue a copy of a message. */
static void
raftdrv_inproc_send(void *arg, uint16_t group, const struct raft_msg *m)
{
	struct raftdrv_inproc		*ip = arg;
	struct raftdrv_inproc_msg	*q;
	int				 a, b;

	a = raftdrv_inproc_slot(ip, m->from);
	b = raftdrv_inproc_slot(ip, m->to);
	if (a == -1 || b == -1 || ip->nodes[b].drv == NULL || ip->cut[a][b]) {
		ip->dropped++;
		return;
	}
	q = xmalloc(sizeof *q);
	q->next = NULL;
	q->group = group;
	q->m = raftdrv_msg_dup(m);
	if (ip->tail != NULL)
		ip->tail->next = q;
	else
		ip->head = q;
	ip->tail = q;
	ev_idle_start(ip->loop, &ip->idle);
}

/* The name of a node. */
static const char *
raftdrv_inproc_name(void *arg, raft_id id)
{
	struct raftdrv_inproc	*ip = arg;
	int			 s;

	if ((s = raftdrv_inproc_slot(ip, id)) == -1)
		return (NULL);
	return (ip->nodes[s].name);
}

/* Deliver what was queued before this iteration. */
static void
raftdrv_inproc_idle_cb(EV_P_ ev_idle *w, int revents)
{
	struct raftdrv_inproc		*ip = w->data;
	struct raftdrv_inproc_msg	*list, *q;
	int				 a, b;

	list = ip->head;
	ip->head = ip->tail = NULL;
	while ((q = list) != NULL) {
		list = q->next;
		a = raftdrv_inproc_slot(ip, q->m->from);
		b = raftdrv_inproc_slot(ip, q->m->to);
		if (a != -1 && b != -1 && ip->nodes[b].drv != NULL &&
		    !ip->cut[a][b]) {
			ip->delivered++;
			raftdrv_recv(ip->nodes[b].drv, q->group, q->m);
		} else
			ip->dropped++;
		free(q->m);
		free(q);
	}
	if (ip->head == NULL)
		ev_idle_stop(ip->loop, &ip->idle);
}

const struct raftdrv_transport raftdrv_inproc_transport = {
	raftdrv_inproc_send,
	NULL,
	raftdrv_inproc_name,
};

/* An in-process transport; see raftdrv.h. */
struct raftdrv_inproc *
raftdrv_inproc_new(struct ev_loop *loop)
{
	struct raftdrv_inproc	*ip;

	ip = xcalloc(1, sizeof *ip);
	ip->loop = loop;
	ev_idle_init(&ip->idle, raftdrv_inproc_idle_cb);
	ip->idle.data = ip;
	return (ip);
}

/* Free the transport and what it still queues. */
void
raftdrv_inproc_free(struct raftdrv_inproc *ip)
{
	struct raftdrv_inproc_msg	*q;
	size_t				 i;

	if (ip == NULL)
		return;
	ev_idle_stop(ip->loop, &ip->idle);
	while ((q = ip->head) != NULL) {
		ip->head = q->next;
		free(q->m);
		free(q);
	}
	for (i = 0; i < ip->n_nodes; i++)
		free(ip->nodes[i].name);
	free(ip);
}

/* Add (or replace) a node. */
void
raftdrv_inproc_add(struct raftdrv_inproc *ip, raft_id id, const char *name,
    struct raftdrv *drv)
{
	int	 s;

	if ((s = raftdrv_inproc_slot(ip, id)) == -1) {
		if (ip->n_nodes == RAFTDRV_INPROC_MAX)
			fatal("raftdrv: more than %d in-process nodes",
			    RAFTDRV_INPROC_MAX);
		s = (int)ip->n_nodes++;
		ip->nodes[s].id = id;
		ip->nodes[s].name = xstrdup(name);
	}
	ip->nodes[s].drv = drv;
}

/* Take a node's driver out. */
void
raftdrv_inproc_remove(struct raftdrv_inproc *ip, raft_id id)
{
	int	 s;

	if ((s = raftdrv_inproc_slot(ip, id)) != -1)
		ip->nodes[s].drv = NULL;
}

/* Cut or mend the link between two nodes, both ways. */
void
raftdrv_inproc_cut(struct raftdrv_inproc *ip, raft_id a, raft_id b, bool cut)
{
	int	 sa, sb;

	sa = raftdrv_inproc_slot(ip, a);
	sb = raftdrv_inproc_slot(ip, b);
	if (sa == -1 || sb == -1)
		return;
	ip->cut[sa][sb] = ip->cut[sb][sa] = cut;
}

/* Counts of messages. */
void
raftdrv_inproc_counts(struct raftdrv_inproc *ip, uint64_t *delivered,
    uint64_t *dropped)
{
	*delivered = ip->delivered;
	*dropped = ip->dropped;
}
