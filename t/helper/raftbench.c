/*
 * raftbench: committed proposals per second through the Raft driver.
 *
 * Three replicas in one process (one libev loop, the in-process
 * transport), each with its own LevelDB directory and its own storage
 * thread writing with fsync.  Every group keeps WINDOW batches of BATCH
 * proposals of SIZE bytes in flight, as a broker's shard leader would
 * (every publish of a loop turn proposed together); a batch counts once
 * its leader applied it.  Leaders are spread over the three nodes.
 *
 *	raftbench [-d DIR] [-t SECONDS] [-g GROUPS] [-s SIZE] [-b BATCH]
 *	    [-w WINDOW]
 *
 * Without -g/-s/-b it runs 1 and 16 groups with 64-byte and 1 KiB
 * proposals.  DIR (default: the current directory) must be on the disk to
 * measure, not a tmpfs.  Prints one line per run: committed proposals/s,
 * fsyncs/s and writes/s per node, proposals per fsync, MB/s of proposals,
 * and the median and 99th percentile of a batch's time from proposal to
 * its leader's callback.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "raftcluster.h"

struct bench {
	struct rc_cluster	 c;
	size_t			 size;
	size_t			 batch;
	unsigned		 window;
	uint64_t		 committed;
	uint64_t		 lost;
	uint64_t		 next_id;
	bool			 running;
	bool			 measuring;
	uint64_t		*lat;		/* us, one per batch */
	size_t			 n_lat, cap_lat;
	uint8_t			*data;
	struct raft_buf		*bufs;
};

struct bench_slot {
	struct bench	*b;
	int		 group;
	uint64_t	 at;		/* proposed, us */
};

static void	bench_propose(struct bench *, int, struct bench_slot *);

/* Microseconds of a monotonic clock. */
static uint64_t
bench_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

static int
bench_u64_cmp(const void *a, const void *b)
{
	uint64_t	 x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x < y ? -1 : x > y);
}

/* A batch is done: count it and propose the next. */
static void
bench_done_cb(void *arg, const struct raftdrv_done *d)
{
	struct bench_slot	*s = arg;
	struct bench		*b = s->b;

	if (d->result == RAFTDRV_COMMITTED) {
		b->committed += d->last - d->first + 1;
		if (b->measuring) {
			if (b->n_lat == b->cap_lat) {
				b->cap_lat = b->cap_lat == 0 ? 4096 :
				    b->cap_lat * 2;
				b->lat = realloc(b->lat, b->cap_lat *
				    sizeof *b->lat);
			}
			b->lat[b->n_lat++] = bench_us() - s->at;
		}
	}
	else
		b->lost += d->last - d->first + 1;
	if (b->running)
		bench_propose(b, s->group, s);
	else
		free(s);
}

/* Propose one batch to group g at its leader. */
static void
bench_propose(struct bench *b, int g, struct bench_slot *s)
{
	enum raft_rc	 rc;
	size_t		 i;
	int		 l;

	if ((l = rc_leader(&b->c, g)) == -1) {
		free(s);
		return;
	}
	for (i = 0; i < b->batch; i++) {
		b->next_id++;
		rc_be64(b->data + i * b->size, b->next_id);
		b->bufs[i].data = b->data + i * b->size;
		b->bufs[i].len = b->size;
	}
	s->at = bench_us();
	rc = raftdrv_propose(b->c.node[l].drv, (uint16_t)g, b->bufs, b->batch,
	    bench_done_cb, s);
	if (rc != RAFT_OK)
		free(s);
}

/* True when the time is up. */
static bool
bench_never(struct rc_cluster *c, void *arg)
{
	return (false);
}

/* One run; prints its line. */
static int
bench_run(const char *top, int groups, size_t size, size_t batch,
    unsigned window, double secs)
{
	struct bench		 b;
	struct bench_slot	*s;
	struct raftlog_stats	 st0[3], st1[3];
	struct raftdrv_stats	 ds;
	char			 dir[512], cmd[600];
	uint64_t		 t0, t1, syncs = 0, writes = 0, c0, wus = 0;
	unsigned		 w;
	int			 g, i, l;

	memset(&b, 0, sizeof b);
	snprintf(dir, sizeof dir, "%s/raftbench.%ld", top, (long)getpid());
	rc_init(&b.c, dir, 3, groups);
	b.c.tmpl.raft.election_ms = 1000;
	b.c.tmpl.raft.heartbeat_ms = 100;
	b.size = size < 8 ? 8 : size;
	b.batch = batch;
	b.window = window;
	b.data = calloc(batch, b.size);
	b.bufs = calloc(batch, sizeof *b.bufs);
	for (i = 0; i < 3; i++)
		if (rc_node_start(&b.c, i) != 0)
			return (-1);
	/* Spread the leaders: group g starts an election on node g % 3. */
	for (g = 0; g < groups; g++)
		(void)raftdrv_campaign(b.c.node[g % 3].drv, (uint16_t)g);
	if (!rc_run_until(&b.c, rc_all_led, NULL, 10000)) {
		fprintf(stderr, "raftbench: no leader for every group in "
		    "10 s\n");
		return (-1);
	}
	/* Warm up for a tenth of the run, then measure. */
	b.running = true;
	for (g = 0; g < groups; g++)
		for (w = 0; w < window; w++) {
			s = calloc(1, sizeof *s);
			s->b = &b;
			s->group = g;
			bench_propose(&b, g, s);
		}
	rc_run_until(&b.c, bench_never, NULL, (uint64_t)(secs * 100));
	for (i = 0; i < 3; i++)
		raftlog_stats(b.c.node[i].rl, &st0[i]);
	c0 = b.committed;
	t0 = rc_now();
	b.measuring = true;
	rc_run_until(&b.c, bench_never, NULL, (uint64_t)(secs * 1000));
	b.measuring = false;
	t1 = rc_now();
	for (i = 0; i < 3; i++) {
		raftlog_stats(b.c.node[i].rl, &st1[i]);
		syncs += st1[i].syncs - st0[i].syncs;
		writes += st1[i].writes - st0[i].writes;
		wus += st1[i].write_us - st0[i].write_us;
	}
	b.running = false;
	secs = (double)(t1 - t0) / 1000.0;
	qsort(b.lat, b.n_lat, sizeof *b.lat, bench_u64_cmp);
	printf("%6d %6zu %6zu %6u %12.0f %10.0f %10.0f %10.1f %8.1f "
	    "%7.2f %7.2f\n", groups, size, batch, window,
	    (double)(b.committed - c0) / secs,
	    (double)syncs / 3 / secs, (double)writes / 3 / secs,
	    syncs > 0 ? (double)(b.committed - c0) * 3 / (double)syncs : 0.,
	    (double)(b.committed - c0) * (double)size / secs / 1e6,
	    b.n_lat > 0 ? (double)b.lat[b.n_lat / 2] / 1000 : 0.,
	    b.n_lat > 0 ? (double)b.lat[b.n_lat * 99 / 100] / 1000 : 0.);
	fflush(stdout);
	l = rc_leader(&b.c, 0);
	if (l != -1 && getenv("RAFTBENCH_VERBOSE") != NULL) {
		raftdrv_stats(b.c.node[l].drv, &ds);
		fprintf(stderr, "writes took %.2f ms on average, %.0f%% of "
		    "the run per replica\n", writes > 0 ? (double)wus /
		    (double)writes / 1000 : 0., (double)wus / 3 / 10 / secs /
		    1000);
		fprintf(stderr, "leader n%d: steps %llu jobs %llu writes %llu "
		    "held %llu applied %llu compactions %llu\n", l + 1,
		    (unsigned long long)ds.steps, (unsigned long long)ds.jobs,
		    (unsigned long long)ds.writes,
		    (unsigned long long)ds.held,
		    (unsigned long long)ds.applied,
		    (unsigned long long)ds.compactions);
	}
	rc_done(&b.c);
	free(b.data);
	free(b.bufs);
	free(b.lat);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "raftbench: cannot remove %s\n", dir);
	return (0);
}

int
main(int argc, char **argv)
{
	const char	*dir = ".";
	double		 secs = 3;
	int		 ch, groups = 0, gs[] = { 1, 16 };
	size_t		 size = 0, batch = 0, ss[] = { 64, 1024 };
	unsigned	 window = 4;
	size_t		 i, k;

	while ((ch = getopt(argc, argv, "b:d:g:s:t:w:")) != -1) {
		switch (ch) {
		case 'b':
			batch = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dir = optarg;
			break;
		case 'g':
			groups = atoi(optarg);
			break;
		case 's':
			size = strtoul(optarg, NULL, 10);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'w':
			window = (unsigned)atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: raftbench [-d DIR] "
			    "[-t SECONDS] [-g GROUPS] [-s SIZE] [-b BATCH] "
			    "[-w WINDOW]\n");
			return (2);
		}
	}
	if (groups > RC_MAX_GROUPS || window == 0 || secs <= 0) {
		fprintf(stderr, "raftbench: bad arguments\n");
		return (2);
	}
	printf("# raftbench: 3 replicas in one process, in-process transport, "
	    "LevelDB + fsync under %s, %.0f s a run\n", dir, secs);
	printf("# groups   size  batch window  committed/s  fsyncs/s "
	    "  writes/s props/fsync     MB/s  p50 ms  p99 ms\n");
	if (groups != 0 || size != 0 || batch != 0) {
		if (bench_run(dir, groups ? groups : 1, size ? size : 64,
		    batch ? batch : 64, window, secs) != 0)
			return (1);
		return (0);
	}
	for (i = 0; i < 2; i++)
		for (k = 0; k < 2; k++)
			if (bench_run(dir, gs[i], ss[k], 64, window, secs) != 0)
				return (1);
	return (0);
}
