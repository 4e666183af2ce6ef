/*
 * metrics.h: per-worker counters, summed when read.
 *
 * Each worker increments its own array with relaxed atomic load/store (no
 * locked instruction on the hot path); readers on other threads sum the
 * arrays with relaxed loads.  Node-wide values that no worker owns
 * (retained count, maxima, rates) live in metrics.c, sampled once a second
 * on the node loop.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "metrics_table.h"

enum metric {
#define M(c, n, t, h)	METRIC_##c,
	METRICS_TABLE
#undef M
	METRIC_COUNT
};

struct metrics {
	uint64_t	 v[METRIC_COUNT];
};

/* Add d to a per-worker counter (owner thread only). */
#define METRIC_ADD(ms, name, d)	metrics_add((ms), METRIC_##name, (uint64_t)(d))
#define METRIC_INC(ms, name)	METRIC_ADD(ms, name, 1)
#define METRIC_DEC(ms, name)	METRIC_ADD(ms, name, (uint64_t)-1)

/* Add d to counter m of a worker's set (owner thread only). */
static inline void
metrics_add(struct metrics *ms, enum metric m, uint64_t d)
{
	__atomic_store_n(&ms->v[m], __atomic_load_n(&ms->v[m],
	    __ATOMIC_RELAXED) + d, __ATOMIC_RELAXED);
}

const char	*metric_name(enum metric);
const char	*metric_help(enum metric);
int		 metric_is_gauge(enum metric);
/* Sum of one metric over every worker. */
uint64_t	 metrics_get(enum metric);
/* Sums of every metric into out[METRIC_COUNT]. */
void		 metrics_snapshot(uint64_t *out);
/* Highest connections.count seen (connections.max). */
uint64_t	 metrics_connections_max(void);
void		 metrics_note_connections(uint64_t);

struct ev_loop;
/* Sample rates, CPU and maxima every second on the node loop (sys_init). */
void		 metrics_sampler_start(struct ev_loop *);
void		 metrics_sampler_stop(void);

struct buf;
/* The Prometheus text exposition of every metric, stat and VM figure,
 * with EMQX's names (GET /api/v5/prometheus/stats); any thread. */
void		 metrics_prometheus(struct buf *out);
/* System memory (total, used) and this process's resident size, bytes;
 * 0 where /proc cannot tell. */
void		 metrics_memory(uint64_t *total, uint64_t *used, uint64_t *rss);
/* File descriptors open in this process, or -1. */
long		 metrics_open_fds(void);
/* The high-water marks ("connections.max", ...): up to max names and
 * values, raised to the current counts first; returns how many. */
size_t		 metrics_maxima_get(const char **names, uint64_t *values,
		    size_t max);

#endif
