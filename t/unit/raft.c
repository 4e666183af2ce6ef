/*
 * raft.c: unit tests for the Raft core (src/raft.c), printing TAP.
 *
 * Built with src/raft.c compiled with -DRAFT_TEST_BUGS, so a test can also
 * switch a bug on and see that exactly its rule breaks.
 *
 * A small harness plays the driver for a few nodes in one process: a
 * shared clock, a network of copied messages (FIFO per destination), and
 * per node a disk (hard state, log, snapshot, staged chunks) whose writes
 * become durable only on `persist`, each releasing the messages that
 * waited for it (RAFT_WAIT_PERSIST), and a state machine (the applied
 * NORMAL entries, joined by spaces), which is also the snapshot data.
 *
 * The harness is driven by commands (one per line), which the table tests
 * call one by one and the golden scripts under t/unit/raft-golden/ list
 * with the output each must print (etcd raft's testdata style):
 *
 *	add-nodes N [no-prevote] [no-check-quorum] [chunk=B] [window=W]
 *	add-empty ID			a node with nothing (to be added)
 *	restore ID term=T vote=V commit=C log=I@T,...   restart from a disk
 *	campaign ID | tick ID MS | propose ID DATA... | transfer ID TO
 *	conf ID add-learner|promote|remove X | compact ID INDEX
 *	persist ID... (process-ready)	make ID's writes durable, in order
 *	deliver-msgs [ID...]		deliver what is queued for ID (all)
 *	drop-msgs [ID...]		lose what is queued for ID (all)
 *	stabilize			persist and deliver until quiet
 *	run MS				tick all every 50 ms and stabilize,
 *					printing only role changes
 *	inject TO TYPE key=val...	hand TO a crafted message
 *	isolate ID | heal		drop ID's messages both ways | stop
 *	restart ID			from its disk (unpersisted writes lost)
 *	disk-fail ID			its next write fails
 *	set-bugs ID NAME		bug NAME on from ID's next restart
 *	status ID | log ID		the core's status | ID's disk
 *
 * A golden file is a list of blocks: a command line, a "----" line, the
 * expected output and a blank line.  RAFT_GOLDEN_REWRITE=1 rewrites the
 * files with what is printed (review the diff before committing).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#include "raft.h"
#include "tap.h"

#ifndef RAFT_GOLDEN_DIR
#define RAFT_GOLDEN_DIR	"t/unit/raft-golden"
#endif

#define MAXN		8

/* An entry, copied. */
struct tent {
	raft_term	 term;
	raft_index	 index;
	uint8_t		 type;
	char		*data;
	size_t		 len;
};

/* A message, deep-copied (entries, conf, data). */
struct tmsg {
	struct raft_msg		 m;
	struct raft_entry	*ents;
	struct raft_conf	 conf;
	char			*data;
};

/* A write of one update, durable once persisted. */
struct twrite {
	bool			 hs_changed;
	struct raft_hard_state	 hs;
	raft_index		 trunc;
	struct tent		*ents;
	size_t			 n;
	bool			 chunk;
	struct raft_snap_chunk	 ch;
	struct raft_conf	 ch_conf;
	char			*ch_data;
	struct tmsg		**held;
	size_t			 n_held;
};

/* A copy of the last update a node returned (for the table tests). */
struct cap {
	enum raft_rc		 rc;
	bool			 hs_changed;
	struct raft_hard_state	 hs;
	raft_index		 trunc;
	size_t			 n_entries;
	raft_index		 first, last;
	size_t			 n_msgs;
	struct raft_msg		 msgs[32];
	size_t			 n_apply;
	raft_index		 apply_first;
	raft_id			 snap_need;
	bool			 chunk;
	bool			 chunk_last;
	raft_index		 prop_first, prop_last;
	raft_term		 prop_term;
};

struct tnode {
	raft_id			 id;
	bool			 used;
	struct raft		*r;
	struct raft_config	 cfg;
	/* Disk. */
	struct raft_hard_state	 hs;
	struct tent		*log;
	size_t			 n;
	raft_index		 snap_index;
	raft_term		 snap_term;
	struct raft_conf	 snap_conf;
	char			 stage[1024];
	size_t			 stage_len;
	/* State machine (durable with its applied index). */
	char			 sm[1024];
	raft_index		 applied;
	/* Pending writes. */
	struct twrite		*w;
	size_t			 nw;
	bool			 fail_next;
	bool			 isolated;
	/* Snapshot view per peer. */
	char			 view[MAXN + 1][1024];
	struct cap		 last;
	enum raft_role		 seen_role;
	raft_term		 seen_term;
	raft_id			 seen_leader;
	raft_index		 seen_commit;
};

static struct tnode	 nodes[MAXN + 1];
static struct tmsg	**net;
static size_t		 n_net;
static uint64_t		 now;
static size_t		 chunk_size;
static FILE		*out;		/* where commands print */
static bool		 quiet;		/* run: only role changes */
static char		*outbuf;
static size_t		 outlen;

static void	handle(struct tnode *, const struct raft_update *,
		    enum raft_rc);

/*
 * Allocations made by the core: the test links with -Wl,--wrap=realloc
 * (raft.c allocates with realloc only) and counts calls made while a
 * raft_step() runs.
 */
static bool		 in_core;
static unsigned long	 core_allocs;
void	*__real_realloc(void *, size_t);
void	*__wrap_realloc(void *, size_t);

/* Count a core allocation, then allocate. */
void *
__wrap_realloc(void *p, size_t n)
{
	if (in_core)
		core_allocs++;
	return (__real_realloc(p, n));
}

/* Print to the command output. */
static void
pr(const char *fmt, ...)
{
	va_list	 ap;

	if (quiet)
		return;
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
}

/* A malloc that cannot fail (tests). */
static void *
xm(size_t n)
{
	void	*p = calloc(1, n == 0 ? 1 : n);

	if (p == NULL)
		abort();
	return (p);
}

/* Copy len bytes into a NUL-terminated string. */
static char *
xdup(const void *p, size_t len)
{
	char	*s = xm(len + 1);

	if (len > 0)
		memcpy(s, p, len);
	return (s);
}

/* Print a configuration: ids, learners with an l. */
static void
pr_conf(const struct raft_conf *c)
{
	unsigned	 i;

	for (i = 0; i < c->n; i++)
		pr("%s%s%llu", i ? "," : "",
		    c->m[i].role == RAFT_MEMBER_LEARNER ? "l" : "",
		    (unsigned long long)c->m[i].id);
}

/* Print one entry: index@term and what it holds. */
static void
pr_entry(const struct raft_entry *e)
{
	struct raft_conf	 c;

	pr("%llu@%llu", (unsigned long long)e->index,
	    (unsigned long long)e->term);
	if (e->type == RAFT_ENTRY_NOOP)
		pr(" noop");
	else if (e->type == RAFT_ENTRY_CONF) {
		pr(" conf ");
		if (raft_conf_decode(e->data, e->len, &c) == 0)
			pr_conf(&c);
		else
			pr("?");
	} else
		pr(" \"%.*s\"", (int)e->len, (const char *)e->data);
}

/* Print a message on one line. */
static void
pr_msg(const struct raft_msg *m)
{
	size_t	 i;

	pr("%llu->%llu %s t%llu", (unsigned long long)m->from,
	    (unsigned long long)m->to, raft_msg_type_name(m->type),
	    (unsigned long long)m->term);
	switch (m->type) {
	case RAFT_MSG_VOTE:
		pr("%s%s last=%llu@%llu", m->prevote ? " pre" : "",
		    m->transfer ? " transfer" : "",
		    (unsigned long long)m->index,
		    (unsigned long long)m->log_term);
		break;
	case RAFT_MSG_VOTE_RESP:
		pr("%s %s", m->prevote ? " pre" : "",
		    m->reject ? "rejected" : "granted");
		break;
	case RAFT_MSG_APPEND:
		pr(" prev=%llu@%llu commit=%llu", (unsigned long long)m->index,
		    (unsigned long long)m->log_term,
		    (unsigned long long)m->commit);
		if (m->n_entries > 0) {
			pr(" [");
			for (i = 0; i < m->n_entries; i++) {
				if (i > 0)
					pr(", ");
				pr_entry(&m->entries[i]);
			}
			pr("]");
		}
		break;
	case RAFT_MSG_APPEND_RESP:
		if (m->reject)
			pr(" reject index=%llu hint=%llu@%llu",
			    (unsigned long long)m->index,
			    (unsigned long long)m->hint,
			    (unsigned long long)m->log_term);
		else
			pr(" index=%llu", (unsigned long long)m->index);
		break;
	case RAFT_MSG_SNAP:
		pr(" snap=%llu@%llu off=%llu", (unsigned long long)m->index,
		    (unsigned long long)m->log_term,
		    (unsigned long long)m->offset);
		if (m->data != NULL || m->len > 0)
			pr(" \"%.*s\"", (int)m->len, (const char *)m->data);
		if (m->last)
			pr(" last");
		break;
	case RAFT_MSG_SNAP_RESP:
		pr(" snap=%llu off=%llu%s%s", (unsigned long long)m->index,
		    (unsigned long long)m->offset, m->reject ? " reject" : "",
		    m->done ? " done" : "");
		break;
	default:
		break;
	}
	if (m->wait == RAFT_WAIT_PERSIST)
		pr(" (after persist)");
}

/* Deep-copy a message. */
static struct tmsg *
msg_copy(const struct raft_msg *m)
{
	struct tmsg	*t = xm(sizeof *t);
	size_t		 i;

	t->m = *m;
	if (m->n_entries > 0) {
		t->ents = xm(sizeof(*t->ents) * m->n_entries);
		for (i = 0; i < m->n_entries; i++) {
			t->ents[i] = m->entries[i];
			t->ents[i].data = xdup(m->entries[i].data,
			    m->entries[i].len);
		}
	}
	t->m.entries = t->ents;
	if (m->conf != NULL) {
		t->conf = *m->conf;
		t->m.conf = &t->conf;
	}
	if (m->len > 0)
		t->data = xdup(m->data, m->len);
	t->m.data = t->data;
	return (t);
}

/* Free a copied message. */
static void
msg_free(struct tmsg *t)
{
	size_t	 i;

	if (t == NULL)
		return;
	for (i = 0; i < t->m.n_entries; i++)
		free((void *)t->ents[i].data);
	free(t->ents);
	free(t->data);
	free(t);
}

/* Put a message on the network; snapshot chunks get their data now. */
static void
net_send(struct tmsg *t)
{
	struct tnode	*n = &nodes[t->m.from];
	const char	*v;
	size_t		 len, total;

	if (t->m.type == RAFT_MSG_SNAP && t->m.to <= MAXN) {
		v = n->view[t->m.to];
		total = strlen(v);
		len = total > t->m.offset ? total - t->m.offset : 0;
		if (len > chunk_size)
			len = chunk_size;
		free(t->data);
		t->data = xdup(v + (t->m.offset < total ? t->m.offset : total),
		    len);
		t->m.data = t->data;
		t->m.len = len;
		t->m.last = t->m.offset + len >= total;
	}
	net = realloc(net, sizeof(*net) * (n_net + 1));
	net[n_net++] = t;
}

/* Step a node with one event; handle and print its update. */
static enum raft_rc
step(struct tnode *n, struct raft_event *ev)
{
	struct raft_update	 u;
	enum raft_rc		 rc;

	ev->now = now;
	in_core = true;
	rc = raft_step(n->r, ev, &u);
	in_core = false;
	handle(n, &u, rc);
	return (rc);
}

/* Print what changed in a node's visible state. */
static void
pr_state(struct tnode *n)
{
	struct raft_status	 st;

	raft_status(n->r, &st);
	if (quiet && (st.role != n->seen_role || st.term != n->seen_term ||
	    st.leader != n->seen_leader))
		fprintf(out, "  %llu ms: %llu is %s term=%llu leader=%llu\n",
		    (unsigned long long)now, (unsigned long long)n->id,
		    raft_role_name((enum raft_role)st.role),
		    (unsigned long long)st.term,
		    (unsigned long long)st.leader);
	if (st.role != n->seen_role || st.term != n->seen_term ||
	    st.leader != n->seen_leader)
		pr("  %s term=%llu leader=%llu\n",
		    raft_role_name((enum raft_role)st.role),
		    (unsigned long long)st.term,
		    (unsigned long long)st.leader);
	if (st.commit != n->seen_commit)
		pr("  commit %llu\n", (unsigned long long)st.commit);
	n->seen_role = (enum raft_role)st.role;
	n->seen_term = st.term;
	n->seen_leader = st.leader;
	n->seen_commit = st.commit;
}

/* Apply committed entries to the state machine. */
static void
sm_apply(struct tnode *n, const struct raft_entry *e, size_t k)
{
	size_t	 i, l;

	for (i = 0; i < k; i++) {
		if (e[i].index != n->applied + 1)
			pr("  ERROR apply gap at %llu\n",
			    (unsigned long long)e[i].index);
		n->applied = e[i].index;
		if (e[i].type != RAFT_ENTRY_NORMAL)
			continue;
		l = strlen(n->sm);
		snprintf(n->sm + l, sizeof n->sm - l, "%s%.*s", l ? " " : "",
		    (int)e[i].len, (const char *)e[i].data);
	}
}

/* Carry out an update: queue its write, send, apply. */
static void
handle(struct tnode *n, const struct raft_update *u, enum raft_rc rc)
{
	struct twrite		*w;
	struct raft_event	 ev;
	struct cap		*c = &n->last;
	size_t			 i;

	memset(c, 0, sizeof *c);
	c->rc = rc;
	c->hs_changed = u->hs_changed;
	c->hs = u->hs;
	c->trunc = u->truncate_from;
	c->n_entries = u->n_entries;
	if (u->n_entries > 0) {
		c->first = u->entries[0].index;
		c->last = u->entries[u->n_entries - 1].index;
	}
	c->n_msgs = u->n_msgs;
	for (i = 0; i < u->n_msgs && i < 32; i++)
		c->msgs[i] = u->msgs[i];
	c->n_apply = u->n_apply;
	c->apply_first = u->n_apply > 0 ? u->apply[0].index : 0;
	c->snap_need = u->snap_need;
	c->chunk = u->has_snap_chunk;
	c->chunk_last = u->has_snap_chunk && u->snap_chunk.last;
	c->prop_first = u->prop_first;
	c->prop_last = u->prop_last;
	c->prop_term = u->prop_term;

	if (rc != RAFT_OK)
		pr("  rc %s\n", raft_rc_name(rc));
	pr_state(n);
	if (u->hs_changed)
		pr("  hs term=%llu vote=%llu\n",
		    (unsigned long long)u->hs.term,
		    (unsigned long long)u->hs.vote);
	if (u->truncate_from != 0)
		pr("  truncate from %llu\n",
		    (unsigned long long)u->truncate_from);
	for (i = 0; i < u->n_entries; i++) {
		pr("  append ");
		pr_entry(&u->entries[i]);
		pr("\n");
	}
	if (u->has_snap_chunk)
		pr("  stage snap=%llu@%llu off=%llu \"%.*s\"%s\n",
		    (unsigned long long)u->snap_chunk.index,
		    (unsigned long long)u->snap_chunk.term,
		    (unsigned long long)u->snap_chunk.offset,
		    (int)u->snap_chunk.len, (const char *)u->snap_chunk.data,
		    u->snap_chunk.last ? " last" : "");
	if (u->prop_first != 0)
		pr("  proposed %llu..%llu@%llu\n",
		    (unsigned long long)u->prop_first,
		    (unsigned long long)u->prop_last,
		    (unsigned long long)u->prop_term);
	for (i = 0; i < u->n_msgs; i++) {
		pr("  send ");
		pr_msg(&u->msgs[i]);
		pr("\n");
	}
	for (i = 0; i < u->n_apply; i++) {
		pr("  apply ");
		pr_entry(&u->apply[i]);
		pr("\n");
	}
	if (u->snap_need != 0)
		pr("  snap-need %llu\n", (unsigned long long)u->snap_need);

	/* 1. The write, durable on persist (an empty one is a barrier). */
	for (i = 0; i < u->n_msgs; i++)
		if (u->msgs[i].wait != RAFT_WAIT_NONE)
			break;
	if (!u->hs_changed && u->truncate_from == 0 && u->n_entries == 0 &&
	    !u->has_snap_chunk && i == u->n_msgs) {
		for (i = 0; i < u->n_msgs; i++)
			net_send(msg_copy(&u->msgs[i]));
		goto applying;
	}
	n->w = realloc(n->w, sizeof(*n->w) * (n->nw + 1));
	w = &n->w[n->nw++];
	memset(w, 0, sizeof *w);
	w->hs_changed = u->hs_changed;
	w->hs = u->hs;
	w->trunc = u->truncate_from;
	w->n = u->n_entries;
	w->ents = xm(sizeof(*w->ents) * (w->n + 1));
	for (i = 0; i < u->n_entries; i++) {
		w->ents[i].term = u->entries[i].term;
		w->ents[i].index = u->entries[i].index;
		w->ents[i].type = u->entries[i].type;
		w->ents[i].data = xdup(u->entries[i].data, u->entries[i].len);
		w->ents[i].len = u->entries[i].len;
	}
	if (u->has_snap_chunk) {
		w->chunk = true;
		w->ch = u->snap_chunk;
		w->ch_conf = *u->snap_chunk.conf;
		w->ch_data = xdup(u->snap_chunk.data, u->snap_chunk.len);
	}
	/* 2. Messages: now, or held by the write. */
	for (i = 0; i < u->n_msgs; i++) {
		if (u->msgs[i].wait == RAFT_WAIT_NONE)
			net_send(msg_copy(&u->msgs[i]));
		else {
			w->held = realloc(w->held,
			    sizeof(*w->held) * (w->n_held + 1));
			w->held[w->n_held++] = msg_copy(&u->msgs[i]);
		}
	}
applying:
	/* 4. Apply, then say so (quietly). */
	if (u->n_apply > 0) {
		sm_apply(n, u->apply, u->n_apply);
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_APPLIED;
		ev.index = n->applied;
		ev.now = now;
		{
			struct raft_update	 u2;

			in_core = true;
			raft_step(n->r, &ev, &u2);
			in_core = false;
		}
	}
	/* 5. A snapshot view at the applied index. */
	if (u->snap_need != 0 && u->snap_need <= MAXN) {
		snprintf(n->view[u->snap_need], sizeof n->view[0], "%s",
		    n->sm);
		pr("> %llu snap-ready for %llu at %llu\n",
		    (unsigned long long)n->id,
		    (unsigned long long)u->snap_need,
		    (unsigned long long)n->applied);
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_SNAP_READY;
		ev.to = u->snap_need;
		ev.index = n->applied;
		step(n, &ev);
	}
}

/* The last index on a node's disk. */
static raft_index
disk_last(const struct tnode *n)
{
	return (n->snap_index + n->n);
}

/* The term at index i on a node's disk (0 if none). */
static raft_term
disk_term(const struct tnode *n, raft_index i)
{
	if (i == n->snap_index)
		return (n->snap_term);
	if (i < n->snap_index || i > disk_last(n))
		return (0);
	return (n->log[i - n->snap_index - 1].term);
}

/* Make a node's pending writes durable, in order, and tell the core. */
static bool
persist(struct tnode *n)
{
	struct raft_event	 ev;
	struct twrite		*ws, *w;
	raft_index		 li;
	size_t			 i, k, cnt = n->nw;
	bool			 installed;

	if (cnt == 0)
		return (false);
	/* Take the writes queued so far; steps below may queue more. */
	ws = n->w;
	n->w = NULL;
	n->nw = 0;
	for (k = 0; k < cnt; k++) {
		w = &ws[k];
		installed = false;
		memset(&ev, 0, sizeof ev);
		if (n->fail_next) {
			n->fail_next = false;
			pr("> %llu persist-failed\n",
			    (unsigned long long)n->id);
			for (i = 0; i < w->n_held; i++)
				msg_free(w->held[i]);
			for (i = 0; i < w->n; i++)
				free(w->ents[i].data);
			free(w->ents);
			free(w->held);
			free(w->ch_data);
			ev.type = RAFT_EV_PERSIST_FAILED;
			step(n, &ev);
			continue;
		}
		if (w->hs_changed) {
			n->hs.term = w->hs.term;
			n->hs.vote = w->hs.vote;
		}
		n->hs.commit = w->hs.commit;
		if (w->trunc != 0 && w->trunc <= disk_last(n)) {
			for (i = w->trunc > n->snap_index ?
			    w->trunc - n->snap_index - 1 : 0; i < n->n; i++)
				free(n->log[i].data);
			n->n = w->trunc > n->snap_index ?
			    w->trunc - n->snap_index - 1 : 0;
		}
		if (w->chunk) {
			if (w->ch.offset == 0)
				n->stage_len = 0;
			if (w->ch.offset != n->stage_len)
				pr("  ERROR chunk at %llu, staged %zu\n",
				    (unsigned long long)w->ch.offset,
				    n->stage_len);
			snprintf(n->stage + n->stage_len,
			    sizeof n->stage - n->stage_len, "%s", w->ch_data);
			n->stage_len = strlen(n->stage);
			if (w->ch.last) {
				/* The install: state machine and log. */
				snprintf(n->sm, sizeof n->sm, "%s", n->stage);
				n->applied = w->ch.index;
				n->snap_index = w->ch.index;
				n->snap_term = w->ch.term;
				n->snap_conf = w->ch_conf;
				for (i = 0; i < n->n; i++)
					free(n->log[i].data);
				n->n = 0;
				n->stage_len = 0;
				installed = true;
			}
		}
		for (i = 0; i < w->n; i++) {
			if (w->ents[i].index != disk_last(n) + 1)
				pr("  ERROR disk gap at %llu\n",
				    (unsigned long long)w->ents[i].index);
			n->log = realloc(n->log, sizeof(*n->log) * (n->n + 1));
			n->log[n->n++] = w->ents[i];
		}
		for (i = 0; i < w->n_held; i++)
			net_send(w->held[i]);
		li = w->n > 0 ? w->ents[w->n - 1].index : disk_last(n);
		free(w->ents);
		free(w->held);
		free(w->ch_data);
		pr("> %llu persisted %llu@%llu\n", (unsigned long long)n->id,
		    (unsigned long long)li,
		    (unsigned long long)disk_term(n, li));
		ev.type = RAFT_EV_PERSISTED;
		ev.index = li;
		ev.term = disk_term(n, li);
		step(n, &ev);
		if (installed) {
			pr("> %llu snap-persisted %llu@%llu\n",
			    (unsigned long long)n->id,
			    (unsigned long long)w->ch.index,
			    (unsigned long long)w->ch.term);
			memset(&ev, 0, sizeof ev);
			ev.type = RAFT_EV_SNAP_PERSISTED;
			ev.index = w->ch.index;
			ev.term = w->ch.term;
			step(n, &ev);
		}
	}
	free(ws);
	return (true);
}

/* Start (or restart) a node from its disk. */
static void
boot(struct tnode *n)
{
	struct raft_restore	 rs;
	struct raft_entry	*e;
	size_t			 i;

	raft_free(n->r);
	for (i = 0; i < n->nw; i++) {
		size_t	 j;

		for (j = 0; j < n->w[i].n; j++)
			free(n->w[i].ents[j].data);
		for (j = 0; j < n->w[i].n_held; j++)
			msg_free(n->w[i].held[j]);
		free(n->w[i].ents);
		free(n->w[i].held);
		free(n->w[i].ch_data);
	}
	n->nw = 0;
	n->stage_len = 0;
	n->r = raft_new(&n->cfg);
	memset(&rs, 0, sizeof rs);
	rs.hs = n->hs;
	rs.snap_index = n->snap_index;
	rs.snap_term = n->snap_term;
	rs.snap_conf = n->snap_conf;
	e = xm(sizeof(*e) * (n->n + 1));
	for (i = 0; i < n->n; i++) {
		e[i].term = n->log[i].term;
		e[i].index = n->log[i].index;
		e[i].type = n->log[i].type;
		e[i].data = n->log[i].data;
		e[i].len = n->log[i].len;
	}
	rs.entries = e;
	rs.n_entries = n->n;
	rs.applied = n->applied;
	if (raft_restore(n->r, &rs) != 0)
		pr("  ERROR restore refused\n");
	free(e);
	n->seen_role = raft_role(n->r);
	n->seen_term = raft_current_term(n->r);
	n->seen_leader = 0;
	{
		struct raft_status	 st;

		raft_status(n->r, &st);
		n->seen_commit = st.commit;
	}
}

/* Forget everything: no nodes, no messages, time 0. */
static void
reset(void)
{
	unsigned	 i;
	size_t		 j;

	for (i = 1; i <= MAXN; i++) {
		if (nodes[i].used) {
			boot(&nodes[i]);
			raft_free(nodes[i].r);
			for (j = 0; j < nodes[i].n; j++)
				free(nodes[i].log[j].data);
			free(nodes[i].log);
			free(nodes[i].w);
		}
		memset(&nodes[i], 0, sizeof nodes[i]);
	}
	for (j = 0; j < n_net; j++)
		msg_free(net[j]);
	n_net = 0;
	now = 0;
	chunk_size = 4;
}

/* A node's configuration from the add-nodes options. */
static void
node_cfg(struct tnode *n, raft_id id, bool nopv, bool nocq, unsigned win)
{
	memset(&n->cfg, 0, sizeof n->cfg);
	n->id = id;
	n->used = true;
	n->cfg.id = id;
	n->cfg.seed = id;
	n->cfg.election_ms = 1000;
	n->cfg.heartbeat_ms = 100;
	n->cfg.no_prevote = nopv;
	n->cfg.no_check_quorum = nocq;
	n->cfg.max_inflight = win;
	n->cfg.max_append_bytes = 64;
}

/* Give a node entry 1, the bootstrap configuration of voters 1..k. */
static void
bootstrap(struct tnode *n, unsigned k)
{
	struct raft_conf	 c;
	uint8_t			 buf[1024];
	unsigned		 i;

	memset(&c, 0, sizeof c);
	for (i = 1; i <= k; i++) {
		c.m[c.n].id = i;
		c.m[c.n++].role = RAFT_VOTER;
	}
	n->log = xm(sizeof(*n->log));
	n->log[0].term = 1;
	n->log[0].index = 1;
	n->log[0].type = RAFT_ENTRY_CONF;
	n->log[0].len = raft_conf_encode(&c, buf, sizeof buf);
	n->log[0].data = xdup(buf, n->log[0].len);
	n->n = 1;
	n->hs.term = 1;
	n->hs.commit = 1;
	n->applied = 1;
}

/* Parse "key=value" options. */
static bool
opt(const char *arg, const char *key, unsigned long long *v)
{
	size_t	 l = strlen(key);

	if (strncmp(arg, key, l) != 0 || arg[l] != '=')
		return (false);
	*v = strtoull(arg + l + 1, NULL, 0);
	return (true);
}

/* The node named by a command argument. */
static struct tnode *
node_arg(const char *s)
{
	unsigned long	 id = strtoul(s != NULL ? s : "0", NULL, 10);

	if (id == 0 || id > MAXN || !nodes[id].used) {
		pr("ERROR no node '%s'\n", s != NULL ? s : "");
		return (NULL);
	}
	return (&nodes[id]);
}

/* Parse "I@T[:data],..." into entries (data points into s). */
static size_t
parse_ents(char *s, struct raft_entry *e, size_t max)
{
	size_t	 n = 0;
	char	*tok, *save = NULL, *c;

	for (tok = strtok_r(s, ",", &save); tok != NULL && n < max;
	    tok = strtok_r(NULL, ",", &save)) {
		memset(&e[n], 0, sizeof e[n]);
		e[n].index = strtoull(tok, &c, 10);
		if (*c == '@')
			e[n].term = strtoull(c + 1, &c, 10);
		e[n].type = RAFT_ENTRY_NOOP;
		if (*c == ':') {
			e[n].type = RAFT_ENTRY_NORMAL;
			e[n].data = c + 1;
			e[n].len = strlen(c + 1);
		}
		n++;
	}
	return (n);
}

/* Deliver the queued messages for node n (all if n == NULL). */
static bool
deliver(struct tnode *n)
{
	struct raft_event	 ev;
	struct tmsg		*t;
	size_t			 i, k = 0, cnt;
	bool			 did = false;

	/* Only what is queued now: replies wait for the next round. */
	cnt = n_net;
	for (i = 0; i < cnt; i++) {
		t = net[i];
		if (n != NULL && t->m.to != n->id) {
			net[k++] = t;
			continue;
		}
		net[i] = NULL;
		did = true;
		if (t->m.to > MAXN || !nodes[t->m.to].used ||
		    nodes[t->m.to].isolated || nodes[t->m.from].isolated) {
			msg_free(t);
			continue;
		}
		pr("> %llu receive ", (unsigned long long)t->m.to);
		t->m.wait = RAFT_WAIT_NONE;
		pr_msg(&t->m);
		pr("\n");
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_RECV;
		ev.msg = &t->m;
		step(&nodes[t->m.to], &ev);
		msg_free(t);
	}
	/* Messages sent while delivering were appended after cnt. */
	for (i = cnt; i < n_net; i++)
		net[k++] = net[i];
	n_net = k;
	return (did);
}

/* Run one command line; its output goes to out. */
static void
run(const char *line)
{
	char			 buf[1024], *argv[32], *save = NULL, *tok;
	int			 argc = 0, i;
	struct raft_event	 ev;
	struct raft_buf		 bufs[16];
	struct tnode		*n;
	unsigned long long	 v;

	snprintf(buf, sizeof buf, "%s", line);
	for (tok = strtok_r(buf, " \t\n", &save); tok != NULL && argc < 31;
	    tok = strtok_r(NULL, " \t\n", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	if (argc == 0)
		return;
	memset(&ev, 0, sizeof ev);
	if (strcmp(argv[0], "add-nodes") == 0) {
		unsigned k = (unsigned)strtoul(argv[1], NULL, 10), j, win = 0;
		bool nopv = false, nocq = false;

		reset();
		for (i = 2; i < argc; i++) {
			if (strcmp(argv[i], "no-prevote") == 0)
				nopv = true;
			else if (strcmp(argv[i], "no-check-quorum") == 0)
				nocq = true;
			else if (opt(argv[i], "chunk", &v))
				chunk_size = (size_t)v;
			else if (opt(argv[i], "window", &v))
				win = (unsigned)v;
		}
		for (j = 1; j <= k && j <= MAXN; j++) {
			node_cfg(&nodes[j], j, nopv, nocq, win);
			bootstrap(&nodes[j], k);
			boot(&nodes[j]);
		}
	} else if (strcmp(argv[0], "add-empty") == 0) {
		unsigned j = (unsigned)strtoul(argv[1], NULL, 10);

		node_cfg(&nodes[j], j, nodes[1].cfg.no_prevote,
		    nodes[1].cfg.no_check_quorum, nodes[1].cfg.max_inflight);
		boot(&nodes[j]);
	} else if (strcmp(argv[0], "restore") == 0) {
		struct raft_entry e[64];
		size_t ne = 0, j;

		if ((n = node_arg(argv[1])) == NULL)
			return;
		for (i = 2; i < argc; i++) {
			if (opt(argv[i], "term", &v))
				n->hs.term = v;
			else if (opt(argv[i], "vote", &v))
				n->hs.vote = v;
			else if (opt(argv[i], "commit", &v))
				n->hs.commit = v;
			else if (strncmp(argv[i], "log=", 4) == 0)
				ne = parse_ents(argv[i] + 4, e, 64);
		}
		/* Keep entry 1 (the configuration), replace the rest. */
		for (j = 1; j < n->n; j++)
			free(n->log[j].data);
		n->n = 1;
		n->log = realloc(n->log, sizeof(*n->log) * (ne + 1));
		for (j = 0; j < ne; j++) {
			n->log[n->n].term = e[j].term;
			n->log[n->n].index = e[j].index;
			n->log[n->n].type = e[j].type;
			n->log[n->n].data = xdup(e[j].data, e[j].len);
			n->log[n->n++].len = e[j].len;
		}
		boot(n);
	} else if (strcmp(argv[0], "campaign") == 0) {
		if ((n = node_arg(argv[1])) == NULL)
			return;
		pr("> %s campaign\n", argv[1]);
		ev.type = RAFT_EV_CAMPAIGN;
		step(n, &ev);
	} else if (strcmp(argv[0], "tick") == 0) {
		if ((n = node_arg(argv[1])) == NULL)
			return;
		now += argc > 2 ? strtoull(argv[2], NULL, 10) : 0;
		pr("> %s tick at %llu\n", argv[1], (unsigned long long)now);
		ev.type = RAFT_EV_TICK;
		step(n, &ev);
	} else if (strcmp(argv[0], "propose") == 0) {
		if ((n = node_arg(argv[1])) == NULL)
			return;
		for (i = 2; i < argc && i - 2 < 16; i++) {
			bufs[i - 2].data = argv[i];
			bufs[i - 2].len = strlen(argv[i]);
		}
		pr("> %s propose %d\n", argv[1], argc - 2);
		ev.type = RAFT_EV_PROPOSE;
		ev.bufs = bufs;
		ev.n_bufs = (size_t)(argc - 2);
		step(n, &ev);
	} else if (strcmp(argv[0], "transfer") == 0) {
		if ((n = node_arg(argv[1])) == NULL)
			return;
		pr("> %s transfer to %s\n", argv[1], argv[2]);
		ev.type = RAFT_EV_TRANSFER;
		ev.to = strtoull(argv[2], NULL, 10);
		step(n, &ev);
	} else if (strcmp(argv[0], "conf") == 0) {
		if ((n = node_arg(argv[1])) == NULL || argc < 4)
			return;
		pr("> %s conf %s %s\n", argv[1], argv[2], argv[3]);
		ev.type = RAFT_EV_CONF_CHANGE;
		ev.conf_op = strcmp(argv[2], "add-learner") == 0 ?
		    RAFT_CONF_ADD_LEARNER : strcmp(argv[2], "promote") == 0 ?
		    RAFT_CONF_PROMOTE : strcmp(argv[2], "remove") == 0 ?
		    RAFT_CONF_REMOVE : 0;
		ev.to = strtoull(argv[3], NULL, 10);
		step(n, &ev);
	} else if (strcmp(argv[0], "compact") == 0) {
		if ((n = node_arg(argv[1])) == NULL)
			return;
		pr("> %s compact %s\n", argv[1], argv[2]);
		ev.type = RAFT_EV_COMPACT;
		ev.index = strtoull(argv[2], NULL, 10);
		/* The driver's snapshot: the state machine at that index. */
		step(n, &ev);
	} else if (strcmp(argv[0], "persist") == 0 ||
	    strcmp(argv[0], "process-ready") == 0) {
		for (i = 1; i < argc; i++)
			if ((n = node_arg(argv[i])) != NULL)
				persist(n);
	} else if (strcmp(argv[0], "deliver-msgs") == 0) {
		if (argc == 1)
			deliver(NULL);
		for (i = 1; i < argc; i++)
			if ((n = node_arg(argv[i])) != NULL)
				deliver(n);
	} else if (strcmp(argv[0], "drop-msgs") == 0) {
		size_t j, k = 0;

		for (j = 0; j < n_net; j++) {
			bool drop = argc == 1;

			for (i = 1; i < argc; i++)
				if (net[j]->m.to == strtoull(argv[i], NULL, 10))
					drop = true;
			if (drop) {
				pr("  dropped ");
				pr_msg(&net[j]->m);
				pr("\n");
				msg_free(net[j]);
			} else
				net[k++] = net[j];
		}
		n_net = k;
	} else if (strcmp(argv[0], "run") == 0) {
		/*
		 * run MS: let MS pass in steps of 50 ms, ticking every node
		 * and stabilizing; prints only role, term and leader changes.
		 */
		uint64_t end = now + strtoull(argv[1], NULL, 10);
		unsigned j;

		quiet = true;
		while (now < end) {
			now += 50;
			for (j = 1; j <= MAXN; j++)
				if (nodes[j].used) {
					ev.type = RAFT_EV_TICK;
					step(&nodes[j], &ev);
				}
			run("stabilize");
		}
		quiet = false;
	} else if (strcmp(argv[0], "stabilize") == 0) {
		int rounds;
		bool did = true;

		for (rounds = 0; did && rounds < 100; rounds++) {
			unsigned j;

			did = false;
			for (j = 1; j <= MAXN; j++)
				if (nodes[j].used && persist(&nodes[j]))
					did = true;
			for (j = 1; j <= MAXN; j++)
				if (nodes[j].used && deliver(&nodes[j]))
					did = true;
		}
	} else if (strcmp(argv[0], "inject") == 0) {
		struct raft_msg m;
		struct raft_entry e[32];
		struct raft_conf c;
		static const char *types[] = { "", "vote", "vote-resp",
		    "append", "append-resp", "snap", "snap-resp",
		    "timeout-now" };
		unsigned t;

		if ((n = node_arg(argv[1])) == NULL || argc < 3)
			return;
		memset(&m, 0, sizeof m);
		memset(&c, 0, sizeof c);
		m.to = n->id;
		for (t = 1; t < 8; t++)
			if (strcmp(argv[2], types[t]) == 0)
				m.type = (uint8_t)t;
		for (i = 3; i < argc; i++) {
			if (opt(argv[i], "from", &v))
				m.from = v;
			else if (opt(argv[i], "term", &v))
				m.term = v;
			else if (opt(argv[i], "index", &v))
				m.index = v;
			else if (opt(argv[i], "logterm", &v))
				m.log_term = v;
			else if (opt(argv[i], "commit", &v))
				m.commit = v;
			else if (opt(argv[i], "hint", &v))
				m.hint = v;
			else if (opt(argv[i], "seq", &v))
				m.seq = v;
			else if (opt(argv[i], "offset", &v))
				m.offset = v;
			else if (strcmp(argv[i], "prevote") == 0)
				m.prevote = true;
			else if (strcmp(argv[i], "transfer") == 0)
				m.transfer = true;
			else if (strcmp(argv[i], "reject") == 0)
				m.reject = true;
			else if (strcmp(argv[i], "last") == 0)
				m.last = true;
			else if (strcmp(argv[i], "done") == 0)
				m.done = true;
			else if (strncmp(argv[i], "data=", 5) == 0) {
				m.data = argv[i] + 5;
				m.len = strlen(argv[i] + 5);
			} else if (strncmp(argv[i], "voters=", 7) == 0) {
				char *p = argv[i] + 7;

				while (*p != '\0' && c.n < RAFT_MAX_NODES) {
					c.m[c.n].id = strtoull(p, &p, 10);
					c.m[c.n++].role = RAFT_VOTER;
					if (*p == ',')
						p++;
				}
				m.conf = &c;
			} else if (strncmp(argv[i], "ents=", 5) == 0) {
				m.n_entries = parse_ents(argv[i] + 5, e, 32);
				m.entries = e;
			}
		}
		pr("> %llu receive ", (unsigned long long)m.to);
		pr_msg(&m);
		pr("\n");
		ev.type = RAFT_EV_RECV;
		ev.msg = &m;
		step(n, &ev);
	} else if (strcmp(argv[0], "isolate") == 0) {
		if ((n = node_arg(argv[1])) != NULL)
			n->isolated = true;
	} else if (strcmp(argv[0], "heal") == 0) {
		unsigned j;

		for (j = 1; j <= MAXN; j++)
			nodes[j].isolated = false;
	} else if (strcmp(argv[0], "restart") == 0) {
		if ((n = node_arg(argv[1])) == NULL)
			return;
		pr("> %s restart (unpersisted writes lost)\n", argv[1]);
		boot(n);
		pr_state(n);
	} else if (strcmp(argv[0], "disk-fail") == 0) {
		if ((n = node_arg(argv[1])) != NULL)
			n->fail_next = true;
	} else if (strcmp(argv[0], "status") == 0) {
		struct raft_status st;

		if ((n = node_arg(argv[1])) == NULL)
			return;
		raft_status(n->r, &st);
		pr("%s term=%llu vote=%llu leader=%llu log=%llu..%llu "
		    "persisted=%llu commit=%llu applied=%llu conf=",
		    raft_role_name((enum raft_role)st.role),
		    (unsigned long long)st.term, (unsigned long long)st.vote,
		    (unsigned long long)st.leader,
		    (unsigned long long)st.first, (unsigned long long)st.last,
		    (unsigned long long)st.persisted,
		    (unsigned long long)st.commit,
		    (unsigned long long)st.applied);
		pr_conf(&st.conf);
		pr("\n");
		for (i = 0; i < (int)st.n_peers; i++)
			pr("  peer %llu match=%llu next=%llu%s\n",
			    (unsigned long long)st.peers[i].id,
			    (unsigned long long)st.peers[i].match,
			    (unsigned long long)st.peers[i].next,
			    st.peers[i].snapshotting ? " snapshot" : "");
	} else if (strcmp(argv[0], "log") == 0) {
		size_t j;

		if ((n = node_arg(argv[1])) == NULL)
			return;
		pr("disk term=%llu vote=%llu snap=%llu@%llu sm=\"%s\"",
		    (unsigned long long)n->hs.term,
		    (unsigned long long)n->hs.vote,
		    (unsigned long long)n->snap_index,
		    (unsigned long long)n->snap_term, n->sm);
		for (j = 0; j < n->n; j++) {
			struct raft_entry e = { n->log[j].term,
			    n->log[j].index, n->log[j].type, n->log[j].data,
			    n->log[j].len };

			pr(j == 0 ? "\n  " : ", ");
			pr_entry(&e);
		}
		pr("\n");
	} else if (strcmp(argv[0], "set-bugs") == 0) {
		/* set-bugs ID NAME: on a restart the bug is switched on. */
		unsigned b;

		if ((n = node_arg(argv[1])) == NULL)
			return;
		for (b = 0; b < RAFT_BUG_COUNT; b++)
			if (argc > 2 && strcmp(argv[2], raft_bug_name(b)) == 0)
				n->cfg.bugs |= 1u << b;
	} else
		pr("ERROR unknown command '%s'\n", argv[0]);
}

/* Run a command, returning its output (valid until the next call). */
static const char *
cmd(const char *line)
{
	fflush(out);
	fclose(out);
	free(outbuf);
	outbuf = NULL;
	out = open_memstream(&outbuf, &outlen);
	run(line);
	fflush(out);
	return (outbuf);
}

/* Run several commands separated by ';' quietly. */
static void
cmds(const char *lines)
{
	char	 buf[4096], *tok, *save = NULL;

	snprintf(buf, sizeof buf, "%s", lines);
	for (tok = strtok_r(buf, ";", &save); tok != NULL;
	    tok = strtok_r(NULL, ";", &save))
		cmd(tok);
}

/*
 * Table tests: single steps for every rule of research/raft.md §5, each
 * asserting the exact messages, wait tags, hard state, entries, truncation
 * and commit it prints; where a bug switch exists, the same step with the
 * bug on shows that exactly this rule breaks.
 */
static const char	*got;

#define HAS(s, name) do {						\
	if (!ok(strstr(got, (s)) != NULL, "%s", (name)))		\
		diag("printed:\n%s# wanted: %s", got, (s));		\
} while (0)
#define NOT(s, name) do {						\
	if (!ok(strstr(got, (s)) == NULL, "%s", (name)))		\
		diag("printed:\n%s# unwanted: %s", got, (s));		\
} while (0)

/* Three nodes, node 1 leader in term 2 with everything committed. */
static void
three_with_leader(void)
{
	reset();
	cmds("add-nodes 3;campaign 1;stabilize");
}

/* Switch a bug on for node id (a restart from its disk). */
static void
bug(int id, const char *name)
{
	char	 b[128];

	snprintf(b, sizeof b, "set-bugs %d %s;restart %d", id, name, id);
	cmds(b);
}

/* Rule 1: commit counts only current-term entries (Figure 8). */
static void
rule_commit_current_term(void)
{
	int	 bugged;

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3;restore 1 term=3 log=2@2:old");
		if (bugged)
			bug(1, "commit-old-term");
		/* Pre-vote, vote; the leader's appends are lost. */
		cmds("campaign 1;deliver-msgs 2 3;persist 2 3;deliver-msgs 1;"
		    "persist 1;deliver-msgs 2 3;persist 2 3;deliver-msgs 1;"
		    "drop-msgs");
		got = cmd("status 1");
		HAS("leader term=4", "r1: node 1 leads term 4 with 2@2 and "
		    "no-op 3@4");
		HAS("log=1..3", "r1: leader log is 1..3");
		/* Node 2 acknowledges only the old-term entry 2. */
		got = cmd("inject 1 append-resp from=2 term=4 index=2");
		if (!bugged)
			NOT("  commit", "r1: ack of an old-term entry commits "
			    "nothing");
		else
			HAS("  commit 2", "r1 bug commit-old-term: commits "
			    "2@2 by counting");
	}
	cmd("persist 1");
	got = cmd("inject 1 append-resp from=2 term=4 index=3");
	HAS("  commit 3", "r1: ack of the no-op commits through 3");
}

/* Rule 2: the leader counts itself only up to its persisted index. */
static void
rule_leader_self_persisted(void)
{
	int	 bugged;

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3");
		if (bugged)
			bug(1, "leader-self-unpersisted");
		cmds("campaign 1;stabilize");
		got = cmd("propose 1 x");
		if (!bugged) {
			HAS("  append 3@2 \"x\"", "r2: leader appends 3@2");
			HAS("send 1->2 append t2 prev=2@2 commit=2 "
			    "[3@2 \"x\"]\n", "r2: AppendEntries go before "
			    "the leader's own write is durable");
		}
		got = cmd("inject 1 append-resp from=2 term=2 index=3");
		if (!bugged) {
			NOT("commit", "r2: one follower plus an unpersisted "
			    "leader is no quorum");
			got = cmd("persist 1");
			HAS("  commit 3", "r2: once the leader's write is "
			    "durable, 3 commits");
		} else
			HAS("  commit 3", "r2 bug leader-self-unpersisted: "
			    "commits with its own write in flight");
	}
}

/* Rule 2: a follower commits min(leader commit, verified, persisted). */
static void
rule_follower_commit(void)
{
	int	 bugged;

	reset();
	cmds("add-nodes 3;restore 2 term=2 commit=1 log=2@2:a,3@2:b");
	got = cmd("inject 2 append from=1 term=2 index=1 logterm=1 commit=3");
	HAS("send 2->1 append-resp t2 index=1 (after persist)",
	    "r2: a heartbeat at 1 verifies only 1");
	NOT("  commit", "r2: commit stays at min(leader commit 3, verified 1)");
	got = cmd("inject 2 append from=1 term=2 index=3 logterm=2 commit=3");
	HAS("  commit 3", "r2: an AppendEntries verifying 3 commits 3");

	/* Acks claim what the leader verified in its term, no more. */
	reset();
	cmds("add-nodes 3;inject 2 append from=1 term=2 index=1 logterm=1 "
	    "ents=2@2:a");
	got = cmd("inject 2 append from=1 term=2 index=1 logterm=1");
	HAS("send 2->1 append-resp t2 index=2", "a: a heartbeat's ack "
	    "carries what this leader verified in this term (2)");
	got = cmd("inject 2 append from=1 term=3 index=1 logterm=1");
	HAS("send 2->1 append-resp t3 index=1", "a: in a new term, even "
	    "of the same leader, only what it verifies again (1)");

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3");
		if (bugged)
			bug(2, "follower-commit-unpersisted");
		got = cmd("inject 2 append from=1 term=2 index=1 logterm=1 "
		    "commit=2 ents=2@2:a");
		HAS("  append 2@2 \"a\"", "r2: follower appends 2@2");
		HAS("send 2->1 append-resp t2 index=2 (after persist)",
		    "r2: the ack waits for the write");
		if (!bugged) {
			NOT("  commit", "r2: no commit beyond the persisted "
			    "log");
			got = cmd("persist 2");
			HAS("  commit 2", "r2: commit 2 once 2 is durable");
		} else
			HAS("  commit 2", "r2 bug follower-commit-unpersisted: "
			    "commits an unpersisted entry");
	}
}

/* Rule 3: term and vote are durable before the vote leaves. */
static void
rule_vote_persisted(void)
{
	int	 bugged;

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3");
		if (bugged)
			bug(2, "vote-before-persist");
		got = cmd("inject 2 vote from=1 term=2 index=1 logterm=1");
		HAS("  hs term=2 vote=1\n", "r3: the vote is in this update's "
		    "hard state");
		if (!bugged)
			HAS("send 2->1 vote-resp t2 granted (after persist)",
			    "r3: the grant waits for the write");
		else
			HAS("send 2->1 vote-resp t2 granted\n",
			    "r3 bug vote-before-persist: the grant goes now");
	}
	reset();
	cmds("add-nodes 3 no-prevote");
	got = cmd("campaign 1");
	HAS("  hs term=2 vote=1\n", "r3: a candidate persists its own vote");
	HAS("send 1->2 vote t2 last=1@1 (after persist)",
	    "r3: vote requests wait for it too");
	got = cmd("inject 2 vote from=3 term=2 index=1 logterm=1");
	HAS("send 2->3 vote-resp t2 granted", "r3: 2 grants 3 in term 2");
	got = cmd("inject 2 vote from=1 term=2 index=1 logterm=1");
	HAS("send 2->1 vote-resp t2 rejected", "r3: one vote per term");
}

/* Rule 3: a vote needs an up-to-date log (Raft §5.4.1). */
static void
rule_vote_uptodate(void)
{
	int	 bugged;

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3;restore 2 term=2 log=2@2:a");
		if (bugged)
			bug(2, "vote-no-uptodate");
		got = cmd("inject 2 vote from=3 term=3 index=1 logterm=1");
		if (!bugged)
			HAS("send 2->3 vote-resp t3 rejected",
			    "r3: a log ending 1@1 is behind 2@2: rejected");
		else
			HAS("send 2->3 vote-resp t3 granted",
			    "r3 bug vote-no-uptodate: granted");
	}
	got = cmd("inject 2 vote from=1 term=4 index=2 logterm=2");
	HAS("granted", "r3: a log ending 2@2 is up to date");
}

/* Rule 4: no campaign (nor TimeoutNow) while entries are persisting. */
static void
rule_no_campaign_persisting(void)
{
	int	 bugged;

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3 no-prevote");
		if (bugged)
			bug(2, "campaign-while-persisting");
		cmds("inject 2 append from=1 term=2 index=1 logterm=1 "
		    "ents=2@2:a");
		got = cmd("tick 2 5000");
		if (!bugged) {
			NOT("send", "r4: election timeout with 2@2 "
			    "unpersisted: no campaign");
			got = cmd("campaign 2");
			HAS("rc busy", "r4: nor on demand");
			got = cmd("persist 2");
			got = cmd("tick 2 5000");
			HAS("send 2->1 vote t3 last=2@2",
			    "r4: once durable it campaigns, claiming 2@2");
		} else
			HAS("send 2->1 vote t3 last=2@2", "r4 bug "
			    "campaign-while-persisting: campaigns claiming "
			    "the unpersisted 2@2");
	}
	reset();
	cmds("add-nodes 3;inject 2 append from=1 term=2 index=1 logterm=1 "
	    "ents=2@2:a");
	got = cmd("inject 2 timeout-now from=1 term=2");
	NOT("vote", "r4: TimeoutNow while persisting waits");
	got = cmd("persist 2");
	HAS("send 2->1 vote t3 transfer last=2@2",
	    "r4: then campaigns (no pre-vote: a transfer)");
}

/* Rule 5: truncate only at a real conflict. */
static void
rule_truncate(void)
{
	int	 bugged;

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3;restore 2 term=2 commit=1 "
		    "log=2@2:a,3@2:b,4@2:c");
		if (bugged)
			bug(2, "truncate-stale-append");
		got = cmd("inject 2 append from=1 term=2 index=1 logterm=1 "
		    "commit=1 ents=2@2:a,3@2:b");
		if (!bugged) {
			NOT("truncate", "r5: a stale AppendEntries whose "
			    "entries match truncates nothing");
			NOT("append 2@2", "r5: and appends nothing");
			HAS("send 2->1 append-resp t2 index=3",
			    "r5: it acks what it verified (3)");
			got = cmd("status 2");
			HAS("log=1..4", "r5: 4@2 stays");
		} else {
			HAS("  truncate from 2", "r5 bug "
			    "truncate-stale-append: drops 2..4");
			cmd("persist 2");
			got = cmd("status 2");
			HAS("log=1..3", "r5 bug: 4@2 is lost");
		}
	}
	reset();
	cmds("add-nodes 3;restore 2 term=2 commit=1 log=2@2:a,3@2:b,4@2:c");
	got = cmd("inject 2 append from=3 term=3 index=2 logterm=2 commit=2 "
	    "ents=3@3:x");
	HAS("  truncate from 3\n  append 3@3 \"x\"",
	    "r5: a real conflict at 3 truncates from 3 and appends 3@3");
	HAS("send 2->3 append-resp t3 index=3", "r5: and acks 3");
	got = cmd("inject 2 append from=3 term=3 index=1 logterm=1 commit=2 "
	    "ents=2@9:z");
	NOT("truncate", "r5: never below commit (malformed is dropped)");
	got = cmd("inject 2 append from=3 term=3 index=6 logterm=3 commit=2");
	HAS("send 2->3 append-resp t3 reject index=6 hint=3@3",
	    "r5: a gap is rejected with the last index as hint");

	/* A divergent suffix costs one round trip per term, not per entry. */
	reset();
	cmds("add-nodes 3;restore 1 term=3 log=2@3:x,3@3:y,4@3:z;"
	    "restore 2 term=3 log=2@2:a,3@2:b,4@2:c,5@2:d;campaign 1;"
	    "deliver-msgs 2;persist 2;deliver-msgs 1;persist 1;"
	    "deliver-msgs 2;persist 2;deliver-msgs 1;drop-msgs 3");
	got = cmd("deliver-msgs 2");
	HAS("send 2->1 append-resp t4 reject index=4 hint=4@2",
	    "r5: 2 rejects 4@3, hinting at its 4@2");
	cmd("persist 2");
	got = cmd("deliver-msgs 1");
	HAS("send 1->2 append t4 prev=1@1 commit=1 [2@3 \"x\", 3@3 \"y\", "
	    "4@3 \"z\", 5@4 noop]", "r5: the leader skips its entries of "
	    "terms above 2 and resends from 2");
	cmd("persist 1");
	got = cmd("stabilize");
	HAS("> 2 receive 1->2 append t4 prev=1@1 commit=1 [2@3 \"x\", 3@3 "
	    "\"y\", 4@3 \"z\", 5@4 noop]\n  truncate from 2\n",
	    "r5: 2 truncates its term-2 suffix at the real conflict (2)");
}

/* Rule 6: acks after fsync; a disk error silences the replica. */
static void
rule_disk(void)
{
	int	 bugged;

	reset();
	cmds("add-nodes 3");
	bug(2, "ack-before-fsync");
	got = cmd("inject 2 append from=1 term=2 index=1 logterm=1 "
	    "ents=2@2:a");
	HAS("send 2->1 append-resp t2 index=2\n",
	    "r6 bug ack-before-fsync: the ack goes before the write");

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3");
		if (bugged)
			bug(2, "disk-error-ignored");
		cmds("inject 2 append from=1 term=2 index=1 logterm=1 "
		    "ents=2@2:a;disk-fail 2");
		got = cmd("persist 2");
		HAS("> 2 persist-failed", "r6: the write fails");
		if (!bugged) {
			HAS("failed term=2", "r6: the replica goes failed");
			NOT("send", "r6: the held ack is never sent");
			got = cmd("inject 2 vote from=3 term=3 index=9 "
			    "logterm=9 transfer");
			HAS("rc disk-failed", "r6: steps report disk-failed");
			NOT("send", "r6: no vote from a failed replica");
		} else {
			got = cmd("inject 2 vote from=3 term=3 index=9 "
			    "logterm=9 transfer");
			HAS("send 2->3 vote-resp t3 granted",
			    "r6 bug disk-error-ignored: still votes");
		}
	}
}

/* Rule 7: chunks are staged, the install waits for durability. */
static void
rule_snapshot(void)
{
	int	 bugged;

	reset();
	cmds("add-nodes 3");
	got = cmd("inject 2 snap from=1 term=2 index=9 logterm=2 offset=0 "
	    "voters=1,2,3 data=abcd");
	HAS("  stage snap=9@2 off=0 \"abcd\"\n", "r7: chunk 0 is staged");
	HAS("send 2->1 snap-resp t2 snap=9 off=4 (after persist)",
	    "r7: and acked once durable, with the next offset");
	got = cmd("inject 2 snap from=1 term=2 index=9 logterm=2 offset=4 "
	    "voters=1,2,3 data=ef last");
	HAS("  truncate from 1\n", "r7: the install write drops the log");
	HAS("stage snap=9@2 off=4 \"ef\" last", "r7: with the last chunk");
	NOT("send", "r7: no answer before the install is durable");
	got = cmd("persist 2");
	HAS("> 2 snap-persisted 9@2", "r7: the write installs the snapshot");
	HAS("send 2->1 snap-resp t2 snap=9 off=6 done",
	    "r7: then done is sent");
	HAS("  commit 9", "r7: commit moves to the snapshot");
	got = cmd("log 2");
	HAS("snap=9@2 sm=\"abcdef\"", "r7: state machine is the snapshot");

	for (bugged = 0; bugged <= 1; bugged++) {
		reset();
		cmds("add-nodes 3");
		if (bugged)
			bug(2, "snap-install-early");
		cmds("inject 2 snap from=1 term=2 index=9 logterm=2 offset=0 "
		    "voters=1,2,3 data=abcd;persist 2;restart 2");
		got = cmd("inject 2 snap from=1 term=2 index=9 logterm=2 "
		    "offset=4 voters=1,2,3 data=ef last");
		if (!bugged) {
			HAS("send 2->1 snap-resp t2 snap=9 off=0 reject",
			    "r7: after a crash the staging restarts at 0");
			NOT("stage", "r7: and nothing is staged");
		} else
			HAS("stage snap=9@2 off=4 \"ef\" last", "r7 bug "
			    "snap-install-early: installs with chunk 0 lost");
	}
}

/* Rule 8: pre-vote, check-quorum and the leader lease. */
static void
rule_prevote_check_quorum(void)
{
	reset();
	cmds("add-nodes 3");
	got = cmd("campaign 1");
	HAS("precandidate term=1", "r8: a pre-vote round first");
	NOT("hs term", "r8: it does not bump the term");
	HAS("send 1->2 vote t2 pre last=1@1\n",
	    "r8: pre-vote requests name the next term, sent at once");
	got = cmd("deliver-msgs 2");
	HAS("send 2->1 vote-resp t2 pre granted", "r8: 2 grants a pre-vote");
	NOT("hs term", "r8: a pre-vote changes nothing at the voter");

	three_with_leader();
	got = cmd("inject 2 vote from=3 term=3 index=9 logterm=9");
	NOT("send", "r8: a follower in a leader's lease ignores a vote");
	NOT("term=3", "r8: and keeps its term");
	got = cmd("inject 2 vote from=3 term=3 index=9 logterm=9 transfer");
	HAS("send 2->3 vote-resp t3 granted",
	    "r8: unless the request is a leadership transfer");

	three_with_leader();
	got = cmd("tick 1 1000");
	HAS("send 1->2 append", "r8: heartbeats");
	NOT("follower", "r8: with a live quorum the leader stays");
	cmds("drop-msgs");
	got = cmd("tick 1 1000");
	HAS("follower term=2 leader=0",
	    "r8: check-quorum: no answers for an election timeout, steps "
	    "down");
}

/* Rule 8: transfer only to a caught-up voter; busy meanwhile. */
static void
rule_transfer(void)
{
	three_with_leader();
	cmds("isolate 3;propose 1 a;stabilize;heal");
	got = cmd("transfer 1 3");
	NOT("timeout-now", "r8: 3 lags: no TimeoutNow yet");
	got = cmd("propose 1 b");
	HAS("rc busy", "r8: proposals are refused during a transfer");
	got = cmd("transfer 1 2");
	HAS("rc busy", "r8: one transfer at a time");
	got = cmd("transfer 1 4");
	HAS("rc invalid", "r8: only to a voter of the group");
	got = cmd("tick 1 100");
	HAS("send 1->3 append", "r8: 3 is caught up first");
	got = cmd("stabilize");
	HAS("send 1->3 timeout-now t2", "r8: then gets TimeoutNow");
	HAS("leader term=3 leader=3", "r8: and leads");

	three_with_leader();
	cmds("isolate 3;propose 1 a;stabilize");
	got = cmd("transfer 1 3");
	NOT("timeout-now", "r8: 3 unreachable: no TimeoutNow");
	got = cmd("tick 1 1000");
	got = cmd("propose 1 b");
	NOT("rc busy", "r8: the transfer is aborted after an election "
	    "timeout");

	three_with_leader();
	got = cmd("transfer 1 2");
	HAS("send 1->2 timeout-now t2", "r8: caught up: TimeoutNow at once");
}

/* Membership: one change at a time, effective when appended. */
static void
rule_membership(void)
{
	reset();
	cmds("add-nodes 3;campaign 1;deliver-msgs 2 3;persist 2 3;"
	    "deliver-msgs 1;persist 1;deliver-msgs 2 3;persist 2 3;"
	    "deliver-msgs 1");
	got = cmd("conf 1 add-learner 4");
	HAS("rc busy", "m: no change before the new leader's no-op commits");
	cmds("persist 1;deliver-msgs 2 3;persist 2 3;deliver-msgs 1");
	got = cmd("conf 1 add-learner 4");
	HAS("append 3@2 conf 1,2,3,l4", "m: once it has, the change goes");
	HAS("proposed 3..3@2", "m: and its index and term are given");

	three_with_leader();
	cmds("add-empty 4");
	got = cmd("conf 1 add-learner 4");
	HAS("append 3@2 conf 1,2,3,l4", "m: the change is an entry");
	HAS("send 1->4 append", "m: the learner is replicated to at once");
	got = cmd("conf 1 add-learner 5");
	HAS("rc busy", "m: one uncommitted change at a time");
	got = cmd("conf 1 promote 4");
	HAS("rc busy", "m: nor a promotion before the first commits");
	cmds("stabilize");
	got = cmd("status 4");
	HAS("learner term=2", "m: 4 follows as a learner");
	HAS("conf=1,2,3,l4", "m: with the new configuration");
	got = cmd("inject 4 vote from=3 term=2 index=9 logterm=9 transfer");
	HAS("send 4->3 vote-resp t2 rejected", "m: a learner never votes");
	got = cmd("tick 4 5000");
	NOT("vote", "m: nor campaigns");
	cmds("tick 1 100;stabilize");
	got = cmd("conf 1 promote 4");
	HAS("conf 1,2,3,4", "m: promoted once caught up");
	cmds("stabilize");
	got = cmd("status 4");
	HAS("follower", "m: 4 is a voter now");
	got = cmd("conf 1 remove 1");
	HAS("conf 2,3,4", "m: the leader removes itself");
	got = cmd("stabilize");
	HAS("> 1 receive 2->1 append-resp", "m: and replicates the removal");
	got = cmd("status 1");
	HAS("follower", "m: it steps down once the removal commits");

	reset();
	cmds("add-nodes 3;restore 2 term=2 commit=1");
	cmds("inject 2 append from=1 term=2 index=1 logterm=1 commit=1 "
	    "ents=2@2:a");
	{
		struct raft_conf c = { 2, { { 1, RAFT_VOTER },
		    { 2, RAFT_VOTER } } };
		uint8_t b[64];
		struct raft_msg m;
		struct raft_entry e;
		struct raft_event ev;

		memset(&m, 0, sizeof m);
		e.index = 3;
		e.term = 2;
		e.type = RAFT_ENTRY_CONF;
		e.data = b;
		e.len = raft_conf_encode(&c, b, sizeof b);
		m.type = RAFT_MSG_APPEND;
		m.from = 1;
		m.to = 2;
		m.term = 2;
		m.index = 2;
		m.log_term = 2;
		m.commit = 1;
		m.entries = &e;
		m.n_entries = 1;
		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_RECV;
		ev.msg = &m;
		cmd("status 2");
		step(&nodes[2], &ev);
	}
	got = cmd("status 2");
	HAS("conf=1,2\n", "m: an appended conf takes effect at once");
	got = cmd("inject 2 append from=3 term=3 index=2 logterm=2 commit=1 "
	    "ents=3@3:y");
	HAS("truncate from 3", "m: a new leader overwrites it");
	got = cmd("status 2");
	HAS("conf=1,2,3\n", "m: and the configuration reverts");
}

/* Replication: batching, proposal indexes, window, byte cap. */
static void
rule_replication(void)
{
	size_t	 i, n;

	three_with_leader();
	got = cmd("propose 1 a b c");
	HAS("  proposed 3..5@2\n", "p: one PROPOSE of 3 bufs is 3..5@2");
	HAS("send 1->2 append t2 prev=2@2 commit=2 [3@2 \"a\", 4@2 \"b\", "
	    "5@2 \"c\"]\n", "p: batched in one AppendEntries per follower");
	got = cmd("propose 3 z");
	HAS("rc not-leader", "p: a follower refuses proposals");
	{
		static char	 big[(1u << 20) + 1];
		struct raft_buf	 bufs[2] = { { "a", 1 }, { big, sizeof big } };
		struct raft_event ev;

		memset(&ev, 0, sizeof ev);
		ev.type = RAFT_EV_PROPOSE;
		ev.bufs = bufs;
		ev.n_bufs = 2;
		ok(step(&nodes[1], &ev) == RAFT_TOO_BIG &&
		    nodes[1].last.n_entries == 0 &&
		    nodes[1].last.prop_first == 0, "p: a proposal over "
		    "max_entry_bytes is refused whole (too-big)");
	}

	reset();
	cmds("add-nodes 3 window=2;campaign 1;stabilize");
	got = cmd("propose 1 0123456789012345678901234567890123456789 "
	    "0123456789012345678901234567890123456789 "
	    "0123456789012345678901234567890123456789 "
	    "0123456789012345678901234567890123456789");
	for (i = 0, n = 0; got[i] != '\0'; i++)
		if (strncmp(got + i, "send 1->2 append", 16) == 0)
			n++;
	ok(n == 2, "p: 4 entries of 40 bytes, cap 64: one per message, "
	    "window 2: %zu in flight", n);
	got = cmd("stabilize");
	HAS("commit 6", "p: the window refills as acks come: all commit");

	three_with_leader();
	got = cmd("tick 2 5000");
	HAS("precandidate", "e: a follower without a leader campaigns");
}

/* Deadline of a fresh voter of three after its first step at time 0. */
static uint64_t
first_deadline(uint64_t seed)
{
	struct raft_config	 cfg;
	struct raft_restore	 rs;
	struct raft_entry	 e;
	struct raft_conf	 c = { 3, { { 1, RAFT_VOTER }, { 2, RAFT_VOTER },
	    { 3, RAFT_VOTER } } };
	struct raft_event	 ev;
	struct raft_update	 u;
	struct raft		*r;
	uint8_t			 buf[64];

	memset(&cfg, 0, sizeof cfg);
	cfg.id = 1;
	cfg.seed = seed;
	cfg.election_ms = 1000;
	r = raft_new(&cfg);
	memset(&rs, 0, sizeof rs);
	e.term = 1;
	e.index = 1;
	e.type = RAFT_ENTRY_CONF;
	e.data = buf;
	e.len = raft_conf_encode(&c, buf, sizeof buf);
	rs.hs.term = 1;
	rs.hs.commit = 1;
	rs.entries = &e;
	rs.n_entries = 1;
	rs.applied = 1;
	raft_restore(r, &rs);
	memset(&ev, 0, sizeof ev);
	ev.type = RAFT_EV_TICK;
	raft_step(r, &ev, &u);
	raft_free(r);
	return (u.deadline);
}

/* Election timeouts, configuration encoding, restore checks, names. */
static void
rule_misc(void)
{
	struct raft_conf	 c = { 2, { { 7, RAFT_VOTER },
	    { 1ULL << 40, RAFT_MEMBER_LEARNER } } }, d;
	struct raft_restore	 rs;
	struct raft_entry	 e[2];
	struct raft_config	 cfg;
	struct raft		*r;
	uint8_t			 buf[64];
	uint64_t		 t;
	size_t			 len;
	unsigned		 i;
	bool			 in = true, differ = false;

	for (i = 1; i <= 20; i++) {
		t = first_deadline(i);
		in = in && t >= 1000 && t < 2000;
		differ = differ || t != first_deadline(1);
	}
	ok(in, "e: election timeouts are in [e, 2e)");
	ok(first_deadline(42) == first_deadline(42), "e: the same seed "
	    "gives the same timeouts (no global state)");
	ok(differ, "e: other seeds give other timeouts");

	len = raft_conf_encode(&c, buf, sizeof buf);
	ok(len == 20 && raft_conf_decode(buf, len, &d) == 0 && d.n == 2 &&
	    d.m[0].id == 7 && d.m[1].id == 1ULL << 40 &&
	    d.m[1].role == RAFT_MEMBER_LEARNER, "c: conf round trip");
	ok(raft_conf_decode(buf, len - 1, &d) == -1, "c: truncated conf "
	    "refused");
	ok(raft_conf_encode(&c, buf, 10) == 0, "c: encode respects cap");
	buf[10] = 9;
	ok(raft_conf_decode(buf, len, &d) == -1, "c: bad role refused");

	memset(&cfg, 0, sizeof cfg);
	cfg.id = 1;
	r = raft_new(&cfg);
	memset(&rs, 0, sizeof rs);
	memset(e, 0, sizeof e);
	e[0].index = 1;
	e[0].term = 1;
	e[1].index = 3;
	e[1].term = 1;
	rs.hs.term = 1;
	rs.entries = e;
	rs.n_entries = 2;
	ok(raft_restore(r, &rs) == -1, "s: a log with a gap is refused");
	e[1].index = 2;
	e[1].term = 2;
	ok(raft_restore(r, &rs) == -1, "s: an entry above the term is "
	    "refused");
	rs.hs.term = 2;
	rs.applied = 3;
	ok(raft_restore(r, &rs) == -1, "s: applied beyond the log is "
	    "refused");
	rs.applied = 2;
	ok(raft_restore(r, &rs) == 0, "s: a consistent state is restored");
	raft_free(r);
	raft_free(NULL);

	ok(strcmp(raft_bug_name(0), "commit-old-term") == 0 &&
	    strcmp(raft_bug_name(RAFT_BUG_COUNT - 1), "snap-install-early")
	    == 0 && raft_bug_name(RAFT_BUG_COUNT) == NULL,
	    "n: bug names");
	ok(strcmp(raft_role_name(RAFT_PRECANDIDATE), "precandidate") == 0 &&
	    strcmp(raft_rc_name(RAFT_TOO_BIG), "too-big") == 0 &&
	    strcmp(raft_msg_type_name(RAFT_MSG_TIMEOUT_NOW), "timeout-now") ==
	    0, "n: role, rc and message names");
}

/* The hot path allocates nothing per entry once warm. */
static void
rule_no_alloc(void)
{
	char		 line[64];
	unsigned	 i;

	reset();
	cmds("add-nodes 3;campaign 1;stabilize");
	for (i = 0; i < 300; i++) {
		snprintf(line, sizeof line, "propose 1 p%u q%u;stabilize", i,
		    i);
		cmds(line);
		if (i % 50 == 49) {
			snprintf(line, sizeof line, "compact 1 %u;compact 2 "
			    "%u;compact 3 %u", 2 * i, 2 * i, 2 * i);
			cmds(line);
		}
		if (i == 149) {
			ok(core_allocs > 0, "h: warming up allocates (%lu)",
			    core_allocs);
			core_allocs = 0;	/* warm now */
		}
	}
	got = cmd("status 1");
	HAS("commit=602", "h: 300 rounds of 2 proposals commit");
	ok(core_allocs == 0, "h: after warm-up, 150 rounds (300 entries, "
	    "3 compactions) allocate nothing in the core: %lu", core_allocs);
}

/* Run every table test. */
static void
rules(void)
{
	rule_no_alloc();
	rule_misc();
	rule_commit_current_term();
	rule_leader_self_persisted();
	rule_follower_commit();
	rule_vote_persisted();
	rule_vote_uptodate();
	rule_no_campaign_persisting();
	rule_truncate();
	rule_disk();
	rule_snapshot();
	rule_prevote_check_quorum();
	rule_transfer();
	rule_membership();
	rule_replication();
	reset();
}

/* Run one golden file; returns the number of mismatching blocks. */
static int
golden(const char *path, bool rewrite)
{
	FILE	*f, *w = NULL;
	char	*line = NULL, cmdline[1024], *exp = NULL;
	size_t	 cap = 0, explen = 0;
	ssize_t	 len;
	int	 bad = 0, blocks = 0, lineno = 0, at = 0;
	enum { CMD, SEP, EXP } st = CMD;
	char	 tmp[2200];

	if ((f = fopen(path, "r")) == NULL) {
		ok(0, "open %s", path);
		return (1);
	}
	if (rewrite) {
		snprintf(tmp, sizeof tmp, "%s.new", path);
		w = fopen(tmp, "w");
	}
	reset();
	for (;;) {
		len = getline(&line, &cap, f);
		lineno++;
		if (st == CMD) {
			if (len < 0)
				break;
			if (line[0] == '#' || line[0] == '\n') {
				if (w != NULL)
					fputs(line, w);
				continue;
			}
			snprintf(cmdline, sizeof cmdline, "%s", line);
			cmdline[strcspn(cmdline, "\n")] = '\0';
			at = lineno;
			st = SEP;
			continue;
		}
		if (st == SEP) {
			if (len < 0 || strcmp(line, "----\n") != 0) {
				ok(0, "%s:%d: '----' after the command", path,
				    lineno);
				bad++;
				break;
			}
			free(exp);
			exp = NULL;
			explen = 0;
			st = EXP;
			continue;
		}
		if (len > 0 && strcmp(line, "\n") != 0) {
			exp = realloc(exp, explen + (size_t)len + 1);
			memcpy(exp + explen, line, (size_t)len + 1);
			explen += (size_t)len;
			continue;
		}
		/* End of a block: run and compare. */
		{
			const char *got = cmd(cmdline);

			blocks++;
			if (strcmp(got, exp != NULL ? exp : "") != 0) {
				bad++;
				diag("%s:%d: '%s' printed:\n%s# expected:\n%s",
				    path, at, cmdline, got,
				    exp != NULL ? exp : "");
			}
			if (w != NULL)
				fprintf(w, "%s\n----\n%s\n", cmdline, got);
		}
		st = CMD;
		if (len < 0)
			break;
	}
	ok(bad == 0 && blocks > 0, "golden %s: %d blocks", strrchr(path, '/') +
	    1, blocks);
	free(line);
	free(exp);
	fclose(f);
	if (w != NULL) {
		fclose(w);
		rename(tmp, path);
	}
	return (bad);
}

/* Compare file names for a stable order. */
static int
cmp_names(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

int
main(int argc, char **argv)
{
	const char	*dir = RAFT_GOLDEN_DIR, *src = getenv("FLOCKMQ_SRC");
	char		 path[2100], srcdir[1024], *names[64];
	DIR		*d;
	struct dirent	*de;
	size_t		 n = 0, i;
	bool		 rewrite = getenv("RAFT_GOLDEN_REWRITE") != NULL;

	out = open_memstream(&outbuf, &outlen);
	reset();
	if (argc > 1) {
		/* raft FILE: run its commands, printing what they print. */
		FILE	*f = fopen(argv[1], "r");
		char	 l[1024];

		while (f != NULL && fgets(l, sizeof l, f) != NULL) {
			if (l[0] == '#' || l[0] == '\n' ||
			    strcmp(l, "----\n") == 0 || l[0] == ' ' ||
			    l[0] == '>')
				continue;
			printf("%s----\n%s\n", l, cmd(l));
		}
		return (0);
	}
	rules();
	if (src != NULL) {
		snprintf(srcdir, sizeof srcdir, "%s/t/unit/raft-golden", src);
		dir = srcdir;
	}
	if ((d = opendir(dir)) == NULL) {
		ok(0, "golden directory %s", dir);
		return (tap_done());
	}
	while ((de = readdir(d)) != NULL && n < 64)
		if (strstr(de->d_name, ".txt") != NULL)
			names[n++] = strdup(de->d_name);
	closedir(d);
	qsort(names, n, sizeof names[0], cmp_names);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		golden(path, rewrite);
		free(names[i]);
	}
	reset();
	fclose(out);
	free(outbuf);
	free(net);
	return (tap_done());
}
