/*
 * raft-tool: crash and API checks of the Raft storage and driver
 * (t/t8020-raft-store.t).  Built with the failpoints (failpoint.h), so
 * FLOCKMQ_TEST_FAILPOINT=NAME[:N] kills it at a point of the storage path.
 *
 *	raft-tool load DIR [-g GROUPS] [-n PROPOSALS] [-l] [-c] [-K]
 *	    [-L] [-k POINT[:N] -a ACKED]
 *		three voters in DIR/n1..n3 (started again from what is
 *		there); proposes PROPOSALS unique ids per group, in batches;
 *		prints "GROUP ID" once each is committed and applied on its
 *		leader (one write(2) per batch, so a kill loses no printed
 *		line).  -l keeps n3 cut off until half are acknowledged, so
 *		that it catches up through a snapshot (the log is compacted
 *		every 64 entries).  -c cuts a random replica off for
 *		1.2 s, mends it for 0.4 s, and so on (leaders change,
 *		entries of old leaders are truncated, proposals are lost
 *		and proposed again).  -K crashes a random replica
 *		every second (raftdrv_crash: what its storage thread has
 *		not written is lost, as with kill -9) and starts it again
 *		0.3 s later, while the others go on.  -L has n1
 *		campaign first in every group, so that it leads them.  -k
 *		arms a failpoint once ACKED proposals are acknowledged
 *		(failpoint_set).
 *	raft-tool check DIR [-g GROUPS] [-f NODES] ACKED
 *		starts the three again, waits until every replica applied
 *		what its leader committed, stops them, and checks each
 *		group's state machine: no entry applied twice ("n" equals
 *		the number of "a" records), the same entries at the same
 *		indexes on every replica, no id twice, and every line of
 *		ACKED present.  A group a replica cannot load (damage) is
 *		left out of the comparison and named on stderr.  -f 23
 *		starts n2 and n3 first and lets them elect leaders before
 *		n1 starts.
 *	raft-tool corrupt DIR NODE GROUP
 *		flips a byte of the last log entry stored for GROUP on node
 *		NODE (as a disk would), printing its index.
 *	raft-tool bump DIR NODE GROUP
 *		counts one more applied entry in GROUP's state machine on
 *		NODE, as applying an entry twice would (the check's teeth).
 *	raft-tool api DIR
 *		TAP: the driver's API over three and then four replicas.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leveldb/c.h>

#include "failpoint.h"
#include "raftcluster.h"
#include "../unit/tap.h"

#define TOOL_BATCH	16
#define TOOL_WINDOW	4

struct load {
	struct rc_cluster	 c;
	uint64_t		 per_group;
	uint64_t		 proposed[RC_MAX_GROUPS];	/* not lost */
	uint64_t		 next_id[RC_MAX_GROUPS];
	unsigned		 slots[RC_MAX_GROUPS];	/* in flight */
	uint64_t		 acked;
	uint64_t		 lost;
	uint64_t		 total;
	uint64_t		 id_base;
	bool			 lag;
	bool			 lagging;
	bool			 chaos;
	int			 cut;		/* node cut, or -1 */
	ev_timer		 chaos_timer;
	bool			 kills;
	int			 dead;		/* node crashed, or -1 */
	uint64_t		 n_kills;
	ev_timer		 kill_timer;
	const char		*arm;		/* failpoint set */
	uint64_t		 arm_after;	/* after these acks */
};

struct load_slot {
	struct load	*ld;
	int		 group;
	uint64_t	 ids[TOOL_BATCH];
	size_t		 n;
};

static void	load_propose(struct load *, struct load_slot *);

/* A batch is done: print its ids if committed, propose the next. */
static void
load_done_cb(void *arg, const struct raftdrv_done *d)
{
	struct load_slot	*s = arg;
	struct load		*ld = s->ld;
	char			 out[TOOL_BATCH * 40];
	size_t			 i, len = 0;

	if (d->result == RAFTDRV_COMMITTED) {
		for (i = 0; i < s->n; i++)
			len += (size_t)snprintf(out + len, sizeof out - len,
			    "%d %llu\n", s->group,
			    (unsigned long long)s->ids[i]);
		if (write(1, out, len) != (ssize_t)len)
			exit(1);
		ld->acked += s->n;
	} else {
		/* Lost or refused: propose the same count again. */
		ld->proposed[s->group] -= s->n;
		ld->lost += s->n;
	}
	if (ld->arm != NULL && ld->acked >= ld->arm_after) {
		fprintf(stderr, "raft-tool: %llu acknowledged, failpoint "
		    "%s armed\n", (unsigned long long)ld->acked, ld->arm);
		failpoint_set(ld->arm);
		ld->arm = NULL;
	}
	if (ld->lagging && ld->acked * 2 >= ld->total) {
		ld->lagging = false;
		raftdrv_inproc_cut(ld->c.ip, 3, 1, false);
		raftdrv_inproc_cut(ld->c.ip, 3, 2, false);
	}
	load_propose(ld, s);
}

/* Propose the slot's next batch (or free it when the group is done). */
static void
load_propose(struct load *ld, struct load_slot *s)
{
	struct raft_buf	 bufs[TOOL_BATCH];
	uint8_t		 data[TOOL_BATCH][24];
	size_t		 i;
	int		 l;

	s->n = 0;
	while (s->n < TOOL_BATCH && ld->proposed[s->group] < ld->per_group) {
		i = s->n++;
		ld->proposed[s->group]++;
		s->ids[i] = ld->id_base + (uint64_t)s->group * 1000000000ull +
		    ++ld->next_id[s->group];
		rc_be64(data[i], s->ids[i]);
		memset(data[i] + 8, 'x', sizeof data[i] - 8);
		bufs[i].data = data[i];
		bufs[i].len = sizeof data[i];
	}
	if (s->n > 0 && (l = rc_leader(&ld->c, s->group)) != -1 &&
	    raftdrv_propose(ld->c.node[l].drv, (uint16_t)s->group, bufs, s->n,
	    load_done_cb, s) == RAFT_OK)
		return;
	/* Done, or no leader now (load_finished tries again later). */
	ld->proposed[s->group] -= s->n;
	ld->slots[s->group]--;
	free(s);
}

/* True once every proposal is acknowledged; refills idle groups. */
static bool
load_finished(struct rc_cluster *c, void *arg)
{
	struct load		*ld = arg;
	struct load_slot	*s;
	int			 g, k;

	if (ld->acked >= ld->total)
		return (true);
	/* Groups whose slots all failed to propose get new ones. */
	for (g = 0; g < c->n_groups; g++) {
		for (k = 0; k < TOOL_WINDOW && ld->slots[g] < TOOL_WINDOW &&
		    ld->proposed[g] < ld->per_group && rc_leader(c, g) != -1;
		    k++) {
			s = calloc(1, sizeof *s);
			s->ld = ld;
			s->group = g;
			ld->slots[g]++;
			load_propose(ld, s);
		}
	}
	return (false);
}

/* Chaos: cut a random node off for 1.2 s, mend for 0.4 s, again. */
static void
load_chaos_cb(EV_P_ ev_timer *w, int revents)
{
	struct load	*ld = w->data;
	int		 i;

	if (ld->lagging)
		return;
	for (i = 0; i < 3; i++)
		if (ld->cut != -1 && i != ld->cut)
			raftdrv_inproc_cut(ld->c.ip, (raft_id)ld->cut + 1,
			    (raft_id)i + 1, false);
	if (ld->cut != -1) {
		ld->cut = -1;
		ev_timer_set(w, 0.4, 0.);
		ev_timer_start(EV_A_ w);
		return;
	}
	/* Longer than an election: leaders change. */
	ev_timer_set(w, 1.2, 0.);
	ev_timer_start(EV_A_ w);
	ld->cut = rand() % 3;
	for (i = 0; i < 3; i++)
		if (i != ld->cut)
			raftdrv_inproc_cut(ld->c.ip, (raft_id)ld->cut + 1,
			    (raft_id)i + 1, true);
}

/* Kills: crash a random node for 0.3 s every 1 s, then restart it. */
static void
load_kill_cb(EV_P_ ev_timer *w, int revents)
{
	struct load	*ld = w->data;

	if (ld->dead != -1) {
		if (rc_node_start(&ld->c, ld->dead) != 0)
			exit(1);
		ld->dead = -1;
		ev_timer_set(w, 0.7, 0.);
	} else {
		ld->dead = rand() % 3;
		rc_node_crash(&ld->c, ld->dead);
		ld->n_kills++;
		ev_timer_set(w, 0.3, 0.);
	}
	ev_timer_start(EV_A_ w);
}

/* Stop the kills, every node up. */
static void
load_revive(struct load *ld)
{
	if (!ld->kills)
		return;
	ev_timer_stop(ld->c.loop, &ld->kill_timer);
	if (ld->dead != -1 && rc_node_start(&ld->c, ld->dead) != 0)
		exit(1);
	ld->dead = -1;
	fprintf(stderr, "raft-tool: %llu replicas crashed and started "
	    "again\n", (unsigned long long)ld->n_kills);
}

/* Stop the chaos and mend every link. */
static void
load_calm(struct load *ld)
{
	int	 i;

	if (!ld->chaos)
		return;
	ev_timer_stop(ld->c.loop, &ld->chaos_timer);
	for (i = 0; i < 3 && ld->cut != -1; i++)
		if (i != ld->cut)
			raftdrv_inproc_cut(ld->c.ip, (raft_id)ld->cut + 1,
			    (raft_id)i + 1, false);
	ld->cut = -1;
	fprintf(stderr, "raft-tool: %llu proposals lost and proposed "
	    "again\n", (unsigned long long)ld->lost);
}

/* raft-tool load. */
static int
cmd_load(const char *dir, int groups, uint64_t n, bool lag, bool chaos,
    bool kills, bool lead1, const char *arm, uint64_t arm_after)
{
	struct load	 ld;
	int		 i, rv = 0;

	memset(&ld, 0, sizeof ld);
	ld.cut = -1;
	ld.dead = -1;
	ld.arm = arm;
	ld.arm_after = arm_after;
	rc_init(&ld.c, dir, 3, groups);
	ld.c.tmpl.compact_every = 64;
	ld.c.tmpl.compact_keep = 16;
	/* Many chunks with -l (installs cut mid-way); fewer with -c, whose
	 * state grows past what 512-byte round trips catch up with. */
	ld.c.tmpl.snap_chunk = chaos ? 65536 : 512;
	ld.per_group = n;
	ld.total = n * (uint64_t)groups;
	ld.id_base = (uint64_t)getpid() << 40;
	for (i = 0; i < 3; i++)
		if (rc_node_start(&ld.c, i) != 0)
			return (1);
	if (lag) {
		ld.lagging = true;
		raftdrv_inproc_cut(ld.c.ip, 3, 1, true);
		raftdrv_inproc_cut(ld.c.ip, 3, 2, true);
	}
	if ((ld.kills = kills)) {
		srand((unsigned)getpid() * 7);
		ev_timer_init(&ld.kill_timer, load_kill_cb, 0.7, 0.);
		ld.kill_timer.data = &ld;
		ev_timer_start(ld.c.loop, &ld.kill_timer);
	}
	if ((ld.chaos = chaos)) {
		srand((unsigned)getpid());
		ev_timer_init(&ld.chaos_timer, load_chaos_cb, 0.4, 0.);
		ld.chaos_timer.data = &ld;
		ev_timer_start(ld.c.loop, &ld.chaos_timer);
	}
	for (i = 0; lead1 && i < groups; i++)
		(void)raftdrv_campaign(ld.c.node[0].drv, (uint16_t)i);
	if (!rc_run_until(&ld.c, rc_all_led, NULL, 20000)) {
		fprintf(stderr, "raft-tool: no leader for every group\n");
		rv = 1;
	} else if (!rc_run_until(&ld.c, load_finished, &ld, 60000)) {
		fprintf(stderr, "raft-tool: %llu of %llu acknowledged in 60 "
		    "s\n", (unsigned long long)ld.acked,
		    (unsigned long long)ld.total);
		rv = 1;
	}
	load_calm(&ld);
	load_revive(&ld);
	if (rv == 0 && (lag || chaos || kills) &&
	    !rc_run_until(&ld.c, rc_all_applied, NULL, 20000)) {
		fprintf(stderr, "raft-tool: the lagging replica did not "
		    "catch up\n");
		rv = 1;
	}
	for (i = 0; i < 3; i++) {
		struct raftdrv_stats	 st;

		raftdrv_stats(ld.c.node[i].drv, &st);
		fprintf(stderr, "raft-tool: n%d held %llu messages for their "
		    "write, installed %llu snapshots\n", i + 1,
		    (unsigned long long)st.held,
		    (unsigned long long)st.installs);
	}
	rc_done(&ld.c);
	return (rv);
}

struct rec {
	raft_index	 index;
	uint64_t	 id;
};

struct scan {
	struct rec	*r;
	size_t		 n, cap;
	uint64_t	 count;
	bool		 have_count;
};

/* Collect a state machine record. */
static int
scan_cb(struct str key, struct str val, void *arg)
{
	struct scan	*s = arg;

	if (key.len == 1 && key.p[0] == 'n' && val.len == 8) {
		s->count = rc_get64(val.p);
		s->have_count = true;
	} else if (key.len == 9 && key.p[0] == 'a') {
		if (s->n == s->cap) {
			s->cap = s->cap == 0 ? 1024 : s->cap * 2;
			s->r = realloc(s->r, s->cap * sizeof *s->r);
		}
		s->r[s->n].index = rc_get64(key.p + 1);
		s->r[s->n].id = val.len == 8 ? rc_get64(val.p) : 0;
		s->n++;
	}
	return (0);
}

static int
u64_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* raft-tool check. */
static int
cmd_check(const char *dir, int groups, const char *acked, const char *first)
{
	struct rc_cluster	 c;
	struct scan		 sc[3];
	struct raftlog		*rl;
	struct raftlog_state	 st;
	uint64_t		*ids, id;
	char			 path[600], *cause = NULL, line[128];
	bool			 loaded[3];
	FILE			*f;
	size_t			 k, n_ids, n_acked;
	int			 g, i, ref, bad = 0, ag;

	rc_init(&c, dir, 3, groups);
	/* -f: these nodes first, until they elect leaders, then the rest
	 * (the replicas that acknowledged must carry what they did). */
	for (i = 0; first != NULL && first[i] != '\0'; i++)
		if (first[i] < '1' || first[i] > '3' ||
		    rc_node_start(&c, first[i] - '1') != 0)
			return (1);
	if (first != NULL && !rc_run_until(&c, rc_all_led, NULL, 20000)) {
		fprintf(stderr, "raft-tool: nodes %s elected no leaders\n",
		    first);
		bad++;
	}
	for (i = 0; i < 3; i++)
		if (!c.node[i].up && rc_node_start(&c, i) != 0)
			return (1);
	if (!rc_run_until(&c, rc_all_led, NULL, 20000) ||
	    !rc_run_until(&c, rc_all_applied, NULL, 20000)) {
		fprintf(stderr, "raft-tool: the replicas did not settle in "
		    "40 s\n");
		bad++;
	}
	rc_done(&c);
	for (g = 0; g < groups; g++) {
		ref = -1;
		for (i = 0; i < 3; i++) {
			memset(&sc[i], 0, sizeof sc[i]);
			snprintf(path, sizeof path, "%s/n%d", dir, i + 1);
			loaded[i] = false;
			if ((rl = raftlog_open(path, &cause)) == NULL) {
				fprintf(stderr, "%s\n", cause);
				return (1);
			}
			if (raftlog_load(rl, (uint16_t)g, &st, &cause) != 0) {
				fprintf(stderr, "n%d: %s\n", i + 1, cause);
				free(cause);
				cause = NULL;
			} else {
				loaded[i] = true;
				raftlog_state_release(&st);
				if (raftlog_sm_scan(rl, (uint16_t)g, STR(""),
				    scan_cb, &sc[i], &cause) != 0) {
					fprintf(stderr, "n%d: %s\n", i + 1,
					    cause);
					return (1);
				}
			}
			raftlog_close(rl);
			if (!loaded[i])
				continue;
			if (sc[i].count != sc[i].n) {
				fprintf(stderr, "n%d group %d: %llu entries "
				    "counted as applied, %zu recorded: an "
				    "entry was applied twice or lost\n", i + 1,
				    g, (unsigned long long)sc[i].count,
				    sc[i].n);
				bad++;
			}
			if (ref == -1)
				ref = i;
			else if (sc[i].n != sc[ref].n || (sc[i].n > 0 &&
			    memcmp(sc[i].r, sc[ref].r, sc[i].n *
			    sizeof *sc[i].r) != 0)) {
				fprintf(stderr, "group %d: n%d and n%d applied "
				    "different entries (%zu and %zu)\n", g,
				    ref + 1, i + 1, sc[ref].n, sc[i].n);
				bad++;
			}
		}
		if (ref == -1) {
			fprintf(stderr, "group %d: no replica loads\n", g);
			bad++;
			continue;
		}
		/* Ids unique, then every acknowledged id present. */
		n_ids = sc[ref].n;
		ids = calloc(n_ids + 1, sizeof *ids);
		for (k = 0; k < n_ids; k++)
			ids[k] = sc[ref].r[k].id;
		qsort(ids, n_ids, sizeof *ids, u64_cmp);
		for (k = 1; k < n_ids; k++)
			if (ids[k] == ids[k - 1]) {
				fprintf(stderr, "group %d: id %llu applied at "
				    "two indexes\n", g,
				    (unsigned long long)ids[k]);
				bad++;
				break;
			}
		n_acked = 0;
		if ((f = fopen(acked, "r")) != NULL) {
			while (fgets(line, sizeof line, f) != NULL) {
				if (sscanf(line, "%d %llu", &ag,
				    (unsigned long long *)&id) != 2 || ag != g)
					continue;
				n_acked++;
				if (bsearch(&id, ids, n_ids, sizeof *ids,
				    u64_cmp) == NULL) {
					fprintf(stderr, "group %d: id %llu was "
					    "acknowledged and is not applied\n",
					    g, (unsigned long long)id);
					bad++;
				}
			}
			fclose(f);
		}
		printf("group %d: %zu entries applied alike on %d replicas, "
		    "%zu acknowledged all there\n", g, n_ids,
		    loaded[0] + loaded[1] + loaded[2], n_acked);
		free(ids);
		for (i = 0; i < 3; i++)
			free(sc[i].r);
	}
	return (bad == 0 ? 0 : 1);
}

/* raft-tool corrupt. */
static int
cmd_corrupt(const char *dir, int node, int group)
{
	struct raftlog		*rl;
	struct raftlog_state	 st;
	leveldb_options_t	*o;
	leveldb_readoptions_t	*ro;
	leveldb_writeoptions_t	*wo;
	leveldb_t		*db;
	raft_index		 last;
	uint8_t			 k[13];
	char			 path[600], *cause = NULL, *v;
	size_t			 vlen;

	snprintf(path, sizeof path, "%s/n%d", dir, node);
	if ((rl = raftlog_open(path, &cause)) == NULL ||
	    raftlog_load(rl, (uint16_t)group, &st, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return (1);
	}
	last = st.snap_index + st.n_entries;
	raftlog_state_release(&st);
	raftlog_close(rl);
	if (last == st.snap_index) {
		fprintf(stderr, "raft-tool: no entry stored\n");
		return (1);
	}
	o = leveldb_options_create();
	ro = leveldb_readoptions_create();
	wo = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(wo, 1);
	if ((db = leveldb_open(o, path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return (1);
	}
	k[0] = 'R';
	k[1] = '/';
	k[2] = (uint8_t)(group >> 8);
	k[3] = (uint8_t)group;
	k[4] = 'e';
	rc_be64(k + 5, last);
	v = leveldb_get(db, ro, (char *)k, sizeof k, &vlen, &cause);
	if (v == NULL || vlen < 12) {
		fprintf(stderr, "raft-tool: entry %llu not found\n",
		    (unsigned long long)last);
		return (1);
	}
	v[vlen / 2] ^= 0x10;
	leveldb_put(db, wo, (char *)k, sizeof k, v, vlen, &cause);
	leveldb_free(v);
	leveldb_close(db);
	leveldb_options_destroy(o);
	leveldb_readoptions_destroy(ro);
	leveldb_writeoptions_destroy(wo);
	printf("%llu\n", (unsigned long long)last);
	return (cause == NULL ? 0 : 1);
}

/* raft-tool dump: what a node stores of a group. */
static int
cmd_dump(const char *dir, int node, int group)
{
	struct raftlog		*rl;
	struct raftlog_state	 st;
	struct scan		 sc;
	char			 path[600], *cause = NULL;
	size_t			 i;

	snprintf(path, sizeof path, "%s/n%d", dir, node);
	if ((rl = raftlog_open(path, &cause)) == NULL ||
	    raftlog_load(rl, (uint16_t)group, &st, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return (1);
	}
	printf("term %llu vote %llu commit %llu snapshot %llu/%llu "
	    "entries %zu applied %llu\n", (unsigned long long)st.hs.term,
	    (unsigned long long)st.hs.vote, (unsigned long long)st.hs.commit,
	    (unsigned long long)st.snap_index,
	    (unsigned long long)st.snap_term, st.n_entries,
	    (unsigned long long)st.applied);
	for (i = 0; i < st.n_entries; i++)
		printf("  %llu t%llu type %u len %zu\n",
		    (unsigned long long)st.entries[i].index,
		    (unsigned long long)st.entries[i].term, st.entries[i].type,
		    st.entries[i].len);
	memset(&sc, 0, sizeof sc);
	raftlog_sm_scan(rl, (uint16_t)group, STR(""), scan_cb, &sc, &cause);
	printf("state machine: n %llu, %zu records, last at index %llu\n",
	    (unsigned long long)sc.count, sc.n, sc.n > 0 ?
	    (unsigned long long)sc.r[sc.n - 1].index : 0ull);
	raftlog_state_release(&st);
	raftlog_close(rl);
	return (0);
}

/* raft-tool bump: count one more applied entry, as a replay would. */
static int
cmd_bump(const char *dir, int node, int group)
{
	struct raftlog		*rl;
	struct raftlog_batch	*b;
	struct rc_node		 n;
	char			 path[600], *cause = NULL;
	uint8_t			 v[8];

	snprintf(path, sizeof path, "%s/n%d", dir, node);
	if ((rl = raftlog_open(path, &cause)) == NULL) {
		fprintf(stderr, "%s\n", cause);
		return (1);
	}
	memset(&n, 0, sizeof n);
	n.rl = rl;
	rc_sm_load(&n, (uint16_t)group);
	rc_be64(v, n.n[group] + 1);
	b = raftlog_batch_new();
	raftlog_sm_put(b, (uint16_t)group, STR("n"), (struct str){ v, 8 });
	if (raftlog_write(rl, b, true, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		return (1);
	}
	raftlog_batch_free(b);
	raftlog_close(rl);
	return (0);
}

struct api_wait {
	int			 done;
	struct raftdrv_done	 d;
};

/* Note an outcome. */
static void
api_done_cb(void *arg, const struct raftdrv_done *d)
{
	struct api_wait	*w = arg;

	w->done++;
	w->d = *d;
}

static bool
api_waited(struct rc_cluster *c, void *arg)
{
	return (((struct api_wait *)arg)->done > 0);
}

/* Propose n ids to group 0 at node l and wait for the outcome. */
static enum raft_rc
api_propose(struct rc_cluster *c, int l, int n, struct api_wait *w)
{
	static uint64_t	 next_id = 1;
	struct raft_buf	 bufs[64];
	uint8_t		 data[64][8];
	enum raft_rc	 rc;
	int		 i;

	memset(w, 0, sizeof *w);
	for (i = 0; i < n && i < 64; i++) {
		rc_be64(data[i], next_id++);
		bufs[i].data = data[i];
		bufs[i].len = 8;
	}
	rc = raftdrv_propose(c->node[l].drv, 0, bufs, (size_t)i, api_done_cb,
	    w);
	if (rc == RAFT_OK)
		rc_run_until(c, api_waited, w, 10000);
	return (rc);
}

struct api_leader {
	int	 who;
};

static bool
api_is_leader(struct rc_cluster *c, void *arg)
{
	return (rc_leader(c, 0) == ((struct api_leader *)arg)->who);
}

struct api_member {
	int	 node;
	bool	 in;
};

/* True when every up node's conf of group 0 has (or lacks) a node. */
static bool
api_conf_has(struct rc_cluster *c, void *arg)
{
	struct api_member	*m = arg;
	struct raft_status	 st;
	unsigned		 k;
	int			 i;
	bool			 has;

	for (i = 0; i < c->n_nodes; i++) {
		if (!c->node[i].up || i == m->node ||
		    raftdrv_status(c->node[i].drv, 0, &st) != 0)
			continue;
		has = false;
		for (k = 0; k < st.conf.n; k++)
			if (st.conf.m[k].id == (raft_id)m->node + 1)
				has = true;
		if (has != m->in)
			return (false);
	}
	return (true);
}

/* True when node 4 applied what the leader of group 0 applied. */
static bool
api_caught_up(struct rc_cluster *c, void *arg)
{
	int	 l = rc_leader(c, 0);

	return (l != -1 && raftdrv_applied(c->node[3].drv, 0) > 0 &&
	    raftdrv_applied(c->node[3].drv, 0) >=
	    raftdrv_applied(c->node[l].drv, 0));
}

/* Keeps the loop turning for a while. */
static bool
api_until(struct rc_cluster *c, void *arg)
{
	return (rc_now() >= *(uint64_t *)arg);
}

/* A membership change at node l, tried again while the core is busy
 * (a change or the leader's no-op not yet committed, a learner behind). */
static enum raft_rc
api_conf(struct rc_cluster *c, int l, enum raft_conf_op op, raft_id who,
    raftdrv_done_f *cb, void *arg)
{
	enum raft_rc	 rc;
	uint64_t	 at;
	int		 i;

	for (i = 0; i < 50; i++) {
		rc = raftdrv_conf_change(c->node[l].drv, 0, op, who, cb, arg);
		if (rc != RAFT_BUSY)
			break;
		at = rc_now() + 100;
		rc_run_until(c, api_until, &at, 200);
	}
	return (rc);
}

struct api_other {
	int	 old;
};

/* True when a node other than old leads group 0. */
static bool
api_other_leads(struct rc_cluster *c, void *arg)
{
	int	 l = rc_leader(c, 0);

	return (l != -1 && l != ((struct api_other *)arg)->old);
}

/* Cut the leader off, propose there, and see the proposal lost. */
static void
api_lost(struct rc_cluster *c, int l)
{
	struct api_wait		 w, w2;
	struct api_other	 ao = { l };
	struct raft_buf		 b = { "lostlost", 8 };
	char			 want[16];
	enum raft_rc		 rc;
	int			 i, nl;

	for (i = 0; i < c->n_nodes; i++)
		if (i != l)
			raftdrv_inproc_cut(c->ip, (raft_id)l + 1,
			    (raft_id)i + 1, true);
	memset(&w, 0, sizeof w);
	rc = raftdrv_propose(c->node[l].drv, 0, &b, 1, api_done_cb, &w);
	ok(rc == RAFT_OK, "the cut-off leader takes a proposal");
	ok(rc_run_until(c, api_other_leads, &ao, 10000),
	    "the others elect a leader");
	nl = rc_leader(c, 0);
	if (nl == -1)
		return;
	rc = api_propose(c, nl, 3, &w2);
	ok(rc == RAFT_OK && w2.d.result == RAFTDRV_COMMITTED,
	    "the new leader n%d commits", nl + 1);
	for (i = 0; i < c->n_nodes; i++)
		raftdrv_inproc_cut(c->ip, (raft_id)l + 1, (raft_id)i + 1,
		    false);
	snprintf(want, sizeof want, "n%d", nl + 1);
	rc_run_until(c, api_waited, &w, 10000);
	ok(w.done == 1 && w.d.result == RAFTDRV_LOST &&
	    w.d.leader == (raft_id)nl + 1 && w.d.leader_name != NULL &&
	    strcmp(w.d.leader_name, want) == 0,
	    "once the link is back its proposal is answered lost, naming "
	    "the leader %s", w.d.leader_name != NULL ? w.d.leader_name :
	    "(none)");
	ok(rc_run_until(c, rc_all_applied, NULL, 10000),
	    "every replica applies the new leader's log");
}

/* raft-tool api: TAP. */
static int
cmd_api(const char *dir)
{
	struct rc_cluster	 c;
	struct api_wait		 w;
	struct api_leader	 al;
	struct api_member	 am;
	struct raftdrv_stats	 ds;
	struct raft_status	 st;
	const char		*name = NULL;
	char			 want[16];
	enum raft_rc		 rc;
	raft_id			 lid;
	int			 i, l, f, t;

	rc_init(&c, dir, 3, 1);
	c.tmpl.compact_every = 64;
	c.tmpl.compact_keep = 8;
	c.tmpl.snap_chunk = 200;
	for (i = 0; i < 3; i++)
		if (rc_node_start(&c, i) != 0)
			return (1);
	ok(rc_run_until(&c, rc_all_led, NULL, 10000), "a leader is elected");
	l = rc_leader(&c, 0);
	if (l == -1)
		return (tap_done());
	f = (l + 1) % 3;
	t = (l + 2) % 3;

	rc = api_propose(&c, l, 10, &w);
	ok(rc == RAFT_OK && w.done == 1 && w.d.result == RAFTDRV_COMMITTED &&
	    w.d.last - w.d.first == 9, "a batch of 10 is committed at "
	    "%llu..%llu", (unsigned long long)w.d.first,
	    (unsigned long long)w.d.last);
	ok(rc_run_until(&c, rc_all_applied, NULL, 5000) &&
	    c.node[0].n[0] == c.node[1].n[0] &&
	    c.node[1].n[0] == c.node[2].n[0] && c.node[0].n[0] == 10,
	    "the three replicas applied it");

	rc = api_propose(&c, f, 1, &w);
	lid = raftdrv_leader(c.node[f].drv, 0, &name);
	snprintf(want, sizeof want, "n%d", l + 1);
	ok(rc == RAFT_NOT_LEADER && w.done == 0 &&
	    lid == (raft_id)l + 1 && name != NULL && strcmp(name, want) == 0,
	    "a follower refuses a proposal and names the leader %s",
	    name != NULL ? name : "(none)");

	rc = raftdrv_transfer(c.node[l].drv, 0, (raft_id)t + 1);
	al.who = t;
	ok(rc == RAFT_OK && rc_run_until(&c, api_is_leader, &al, 10000),
	    "leadership moves to n%d on request (rc %s)", t + 1,
	    raft_rc_name(rc));
	l = rc_leader(&c, 0);
	if (l == -1)
		return (tap_done());
	rc = api_propose(&c, l, 10, &w);
	ok(rc == RAFT_OK && w.d.result == RAFTDRV_COMMITTED,
	    "the new leader commits");

	/* Enough entries that the log is compacted past the start. */
	for (i = 0; i < 20; i++)
		if (api_propose(&c, l, 16, &w) != RAFT_OK ||
		    w.d.result != RAFTDRV_COMMITTED)
			break;
	raftdrv_status(c.node[l].drv, 0, &st);
	ok(i == 20 && st.snap_index > 1, "320 more committed, the log is "
	    "compacted to %llu", (unsigned long long)st.snap_index);

	/* A fourth node joins as a learner and catches up. */
	c.n_voters = 3;
	ok(rc_node_start(&c, 3) == 0, "n4 starts empty");
	memset(&w, 0, sizeof w);
	rc = api_conf(&c, l, RAFT_CONF_ADD_LEARNER, 4, api_done_cb, &w);
	ok(rc == RAFT_OK, "n4 is added as a learner (rc %s)",
	    raft_rc_name(rc));
	t = rc_run_until(&c, api_caught_up, NULL, 15000);
	ok(t, "the learner catches up (applied %llu)",
	    (unsigned long long)raftdrv_applied(c.node[3].drv, 0));
	raftdrv_stats(c.node[3].drv, &ds);
	ok(ds.installs >= 1, "through a snapshot (%llu installed)",
	    (unsigned long long)ds.installs);
	ok(c.node[3].n[0] == c.node[l].n[0], "its state machine counts the "
	    "same %llu entries", (unsigned long long)c.node[3].n[0]);
	rc = api_propose(&c, l, 5, &w);
	ok(rc == RAFT_OK && w.d.result == RAFTDRV_COMMITTED &&
	    rc_run_until(&c, api_caught_up, NULL, 5000),
	    "and follows new entries");

	/* The learner becomes a voter. */
	memset(&w, 0, sizeof w);
	rc = api_conf(&c, l, RAFT_CONF_PROMOTE, 4, api_done_cb, &w);
	ok(rc == RAFT_OK && rc_run_until(&c, api_waited, &w, 10000) &&
	    w.d.result == RAFTDRV_COMMITTED, "n4 is promoted to voter (rc %s)",
	    raft_rc_name(rc));
	raftdrv_status(c.node[l].drv, 0, &st);
	for (i = 0, t = 0; i < (int)st.conf.n; i++)
		t += st.conf.m[i].role == RAFT_VOTER;
	ok(t == 4, "the group has %d voters", t);

	/* Remove a follower that is not the leader. */
	f = (l + 1) % 3;
	am.node = f;
	am.in = true;
	ok(api_conf_has(&c, &am), "n%d is a member", f + 1);
	rc = api_conf(&c, l, RAFT_CONF_REMOVE, (raft_id)f + 1, NULL, NULL);
	am.in = false;
	ok(rc == RAFT_OK && rc_run_until(&c, api_conf_has, &am, 10000),
	    "n%d is removed (rc %s)", f + 1, raft_rc_name(rc));
	rc_node_stop(&c, f);
	rc = api_propose(&c, l, 5, &w);
	ok(rc == RAFT_OK && w.d.result == RAFTDRV_COMMITTED,
	    "the group commits without it");

	/* A proposal cut off with an old leader is answered LOST. */
	api_lost(&c, l);
	rc_done(&c);
	return (tap_done());
}

int
main(int argc, char **argv)
{
	const char	*cmd, *dir;
	const char	*arm = NULL, *first = NULL;
	uint64_t	 n = 500, arm_after = 0;
	int		 ch, groups = 4;
	bool		 lag = false, chaos = false, lead1 = false;
	bool		 kills = false;

	if (argc < 3)
		goto usage;
	cmd = argv[1];
	dir = argv[2];
	optind = 3;
	while ((ch = getopt(argc, argv, "a:cf:g:k:KlLn:")) != -1) {
		switch (ch) {
		case 'K':
			kills = true;
			break;
		case 'L':
			lead1 = true;
			break;
		case 'f':
			first = optarg;
			break;
		case 'c':
			chaos = true;
			break;
		case 'a':
			arm_after = strtoull(optarg, NULL, 10);
			break;
		case 'k':
			arm = optarg;
			break;
		case 'g':
			groups = atoi(optarg);
			break;
		case 'l':
			lag = true;
			break;
		case 'n':
			n = strtoull(optarg, NULL, 10);
			break;
		default:
			goto usage;
		}
	}
	if (groups < 1 || groups > RC_MAX_GROUPS)
		goto usage;
	if (strcmp(cmd, "load") == 0)
		return (cmd_load(dir, groups, n, lag, chaos, kills, lead1,
		    arm, arm_after));
	if (strcmp(cmd, "check") == 0 && optind < argc)
		return (cmd_check(dir, groups, argv[optind], first));
	if (strcmp(cmd, "corrupt") == 0 && optind + 1 < argc)
		return (cmd_corrupt(dir, atoi(argv[optind]),
		    atoi(argv[optind + 1])));
	if (strcmp(cmd, "dump") == 0 && optind + 1 < argc)
		return (cmd_dump(dir, atoi(argv[optind]),
		    atoi(argv[optind + 1])));
	if (strcmp(cmd, "bump") == 0 && optind + 1 < argc)
		return (cmd_bump(dir, atoi(argv[optind]),
		    atoi(argv[optind + 1])));
	if (strcmp(cmd, "api") == 0)
		return (cmd_api(dir));
usage:
	fprintf(stderr, "usage: raft-tool load DIR [-g GROUPS] [-n N] [-l] "
	    "[-c] [-K] [-L] [-k POINT[:N] -a ACKED]\n"
	    "       raft-tool check DIR [-g GROUPS] [-f NODES] ACKED\n"
	    "       raft-tool corrupt DIR NODE GROUP\n"
	    "       raft-tool bump DIR NODE GROUP\n"
	    "       raft-tool api DIR\n");
	return (2);
}
