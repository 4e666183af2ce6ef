/*
 * raftcluster.h: nodes of Raft groups in one process, for raft-tool and
 * raftbench: each node has its own LevelDB directory (DIR/nN) and driver,
 * all on one libev loop, connected by the in-process transport.
 *
 * The state machine of every group counts what it applies: for a NORMAL
 * entry whose data starts with an 8-byte id it writes "a" INDEX(8) -> id
 * and "n" -> the number of entries applied so far, in the batch of the
 * applied index; so an entry applied twice shows as "n" above the number
 * of "a" records, and replicas compare record by record.
 */
#ifndef RAFTCLUSTER_H
#define RAFTCLUSTER_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "raftdrv.h"
#include "raftlog.h"

#define RC_MAX_NODES	5
#define RC_MAX_GROUPS	64

struct rc_node {
	int			 i;		/* id = i + 1 */
	char			 name[16];
	char			 dir[512];
	struct raftlog		*rl;
	struct raftdrv		*drv;
	uint64_t		 n[RC_MAX_GROUPS];	/* applied count */
	bool			 up;
};

struct rc_cluster {
	struct ev_loop		*loop;
	struct raftdrv_inproc	*ip;
	struct rc_node		 node[RC_MAX_NODES];
	int			 n_nodes;	/* nodes made */
	int			 n_voters;	/* first voters: 1 .. n */
	int			 n_groups;
	struct raftdrv_config	 tmpl;
	const char		*dir;
	ev_timer		 wake;
};

/* Big-endian helpers. */
static inline void
rc_be64(uint8_t *p, uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static inline uint64_t
rc_get64(const uint8_t *p)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (v);
}

/* The state machine: count and record what is applied. */
static void
rc_sm_apply(void *arg, uint16_t group, const struct raft_entry *e,
    struct raftlog_batch *b)
{
	struct rc_node	*n = arg;
	uint8_t		 k[9], v[8];

	if (group >= RC_MAX_GROUPS)
		return;
	n->n[group]++;
	k[0] = 'a';
	rc_be64(k + 1, e->index);
	raftlog_sm_put(b, group, (struct str){ k, 9 },
	    (struct str){ e->data, e->len >= 8 ? 8 : e->len });
	rc_be64(v, n->n[group]);
	raftlog_sm_put(b, group, (struct str){ (const uint8_t *)"n", 1 },
	    (struct str){ v, 8 });
}

/* Load a group's count from the store. */
static void
rc_sm_load(struct rc_node *n, uint16_t group)
{
	struct str	 v;
	char		*cause = NULL;

	n->n[group] = 0;
	if (raftlog_sm_get(n->rl, group, (struct str){ (const uint8_t *)"n",
	    1 }, &v, &cause) == 1) {
		if (v.len == 8)
			n->n[group] = rc_get64(v.p);
		free((void *)v.p);
	}
	free(cause);
}

/* A snapshot replaced the records: read the count again. */
static void
rc_sm_installed(void *arg, uint16_t group, raft_index index)
{
	rc_sm_load(arg, group);
}

/* The voters 1 .. n_voters. */
static inline void
rc_conf(const struct rc_cluster *c, struct raft_conf *conf)
{
	int	 i;

	memset(conf, 0, sizeof *conf);
	for (i = 0; i < c->n_voters; i++) {
		conf->m[i].id = (raft_id)i + 1;
		conf->m[i].role = RAFT_VOTER;
	}
	conf->n = (unsigned)c->n_voters;
}

/* Start node i (a voter of every group, or an empty member if not). */
static inline int
rc_node_start(struct rc_cluster *c, int i)
{
	struct rc_node		*n = &c->node[i];
	struct raftdrv_config	 cfg = c->tmpl;
	struct raftdrv_sm	 sm;
	struct raft_conf	 conf;
	char			*cause = NULL;
	int			 g, tries;

	n->i = i;
	snprintf(n->name, sizeof n->name, "n%d", i + 1);
	snprintf(n->dir, sizeof n->dir, "%s/n%d", c->dir, i + 1);
	mkdir(c->dir, 0755);
	/* A process killed a moment ago may hold the LOCK a little longer
	 * than its main thread lives (its other threads are exiting). */
	for (tries = 0; (n->rl = raftlog_open(n->dir, &cause)) == NULL &&
	    strstr(cause, "lock") != NULL && tries < 100; tries++) {
		free(cause);
		cause = NULL;
		usleep(50000);
	}
	if (n->rl == NULL)
		goto fail;
	cfg.id = (raft_id)i + 1;
	cfg.name = n->name;
	cfg.loop = c->loop;
	cfg.log = n->rl;
	cfg.tr = &raftdrv_inproc_transport;
	cfg.tr_arg = c->ip;
	if ((n->drv = raftdrv_new(&cfg, &cause)) == NULL)
		goto fail;
	raftdrv_inproc_add(c->ip, cfg.id, n->name, n->drv);
	rc_conf(c, &conf);
	memset(&sm, 0, sizeof sm);
	sm.apply = rc_sm_apply;
	sm.installed = rc_sm_installed;
	sm.arg = n;
	for (g = 0; g < c->n_groups; g++) {
		rc_sm_load(n, (uint16_t)g);
		if (raftdrv_group_start(n->drv, (uint16_t)g,
		    i < c->n_voters ? &conf : NULL, &sm, &cause) != 0) {
			fprintf(stderr, "%s: %s\n", n->name, cause);
			free(cause);
			cause = NULL;
		}
	}
	n->up = true;
	if (i >= c->n_nodes)
		c->n_nodes = i + 1;
	return (0);

fail:
	fprintf(stderr, "%s: %s\n", n->name, cause);
	free(cause);
	return (-1);
}

/* Stop node i (a clean stop: what was handed over is written). */
static inline void
rc_node_stop(struct rc_cluster *c, int i)
{
	struct rc_node	*n = &c->node[i];

	if (!n->up)
		return;
	/* Down first: callbacks run while the driver stops. */
	n->up = false;
	raftdrv_inproc_remove(c->ip, (raft_id)i + 1);
	raftdrv_free(n->drv);
	raftlog_close(n->rl);
	n->drv = NULL;
	n->rl = NULL;
}

/* Kill node i as kill -9 would: its unwritten writes are lost. */
static inline void
rc_node_crash(struct rc_cluster *c, int i)
{
	struct rc_node	*n = &c->node[i];

	if (!n->up)
		return;
	n->up = false;
	raftdrv_inproc_remove(c->ip, (raft_id)i + 1);
	raftdrv_crash(n->drv);
	raftlog_close(n->rl);
	n->drv = NULL;
	n->rl = NULL;
}

/* Keeps the loop from sleeping long while a condition is polled. */
static void
rc_wake_cb(EV_P_ ev_timer *w, int revents)
{
}

/* A cluster of n voters and groups, not started. */
static inline void
rc_init(struct rc_cluster *c, const char *dir, int voters, int groups)
{
	memset(c, 0, sizeof *c);
	c->loop = ev_loop_new(EVFLAG_AUTO);
	c->ip = raftdrv_inproc_new(c->loop);
	c->dir = dir;
	c->n_voters = voters;
	c->n_groups = groups;
	/* Elections differ from run to run (the seed of each group's
	 * timeouts), so restarts are not won by the same node each time. */
	c->tmpl.raft.seed = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^
	    (uint64_t)time(NULL);
	c->tmpl.raft.election_ms = 300;
	c->tmpl.raft.heartbeat_ms = 50;
	ev_timer_init(&c->wake, rc_wake_cb, 0.02, 0.02);
	ev_timer_start(c->loop, &c->wake);
}

/* Stop every node. */
static inline void
rc_done(struct rc_cluster *c)
{
	int	 i;

	for (i = 0; i < c->n_nodes; i++)
		rc_node_stop(c, i);
	raftdrv_inproc_free(c->ip);
	ev_timer_stop(c->loop, &c->wake);
	ev_loop_destroy(c->loop);
}

/* Milliseconds of a monotonic clock. */
static inline uint64_t
rc_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Run the loop until cond(c, arg) or ms pass; the result of cond. */
static inline bool
rc_run_until(struct rc_cluster *c, bool (*cond)(struct rc_cluster *, void *),
    void *arg, uint64_t ms)
{
	uint64_t	 end = rc_now() + ms;

	while (!cond(c, arg)) {
		if (rc_now() >= end)
			return (false);
		ev_run(c->loop, EVRUN_ONCE);
	}
	return (true);
}

/* The node leading group g in the highest term, or -1. */
static inline int
rc_leader(struct rc_cluster *c, int g)
{
	struct raft_status	 st;
	raft_term		 best = 0;
	int			 i, who = -1;

	for (i = 0; i < c->n_nodes; i++) {
		if (!c->node[i].up ||
		    raftdrv_status(c->node[i].drv, (uint16_t)g, &st) != 0)
			continue;
		if (st.role == RAFT_LEADER && st.term >= best) {
			best = st.term;
			who = i;
		}
	}
	return (who);
}

/* True when every group has a leader. */
static inline bool
rc_all_led(struct rc_cluster *c, void *arg)
{
	int	 g;

	for (g = 0; g < c->n_groups; g++)
		if (rc_leader(c, g) == -1)
			return (false);
	return (true);
}

/* True when every group's leader committed its whole log and every up
 * member applied it. */
static inline bool
rc_all_applied(struct rc_cluster *c, void *arg)
{
	struct raft_status	 st;
	raft_index		 commit;
	int			 g, i, l;

	for (g = 0; g < c->n_groups; g++) {
		if ((l = rc_leader(c, g)) == -1)
			return (false);
		raftdrv_status(c->node[l].drv, (uint16_t)g, &st);
		commit = st.commit;
		/* Everything the leader has is committed (its no-op too). */
		if (commit < st.last || st.applied < commit)
			return (false);
		for (i = 0; i < c->n_nodes; i++) {
			if (!c->node[i].up ||
			    raftdrv_status(c->node[i].drv, (uint16_t)g,
			    &st) != 0)
				continue;
			if (st.conf.n > 0 && raftdrv_applied(c->node[i].drv,
			    (uint16_t)g) < commit)
				return (false);
		}
	}
	return (true);
}

#endif /* RAFTCLUSTER_H */
