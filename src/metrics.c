/*
 * metrics.c: names of the counters and their sums over the workers (see
 * metrics.h).
 */
#include <stdint.h>

#include "metrics.h"
#include "worker.h"

static const struct {
	const char	*name;
	const char	*help;
	int		 gauge;
} metrics_info[] = {
#define COUNTER	0
#define GAUGE	1
#define M(c, n, t, h)	{ n, h, t },
	METRICS_TABLE
#undef M
#undef COUNTER
#undef GAUGE
};

static uint64_t	 metrics_conn_max;

/* EMQX name of a metric ("messages.received"). */
const char *
metric_name(enum metric m)
{
	return (metrics_info[m].name);
}

/* Help text of a metric. */
const char *
metric_help(enum metric m)
{
	return (metrics_info[m].help);
}

/* True for gauges. */
int
metric_is_gauge(enum metric m)
{
	return (metrics_info[m].gauge);
}

/* Sum over workers. */
uint64_t
metrics_get(enum metric m)
{
	uint64_t	 sum = 0;
	unsigned	 i;

	for (i = 0; i < n_workers; i++)
		sum += __atomic_load_n(&workers[i]->metrics.v[m],
		    __ATOMIC_RELAXED);
	if (m == METRIC_CONNECTIONS_COUNT)
		metrics_note_connections(sum);
	return (sum);
}

/* Every sum at once. */
void
metrics_snapshot(uint64_t *out)
{
	int	 m;

	for (m = 0; m < METRIC_COUNT; m++)
		out[m] = metrics_get((enum metric)m);
}

/* Remember the highest connection count seen. */
void
metrics_note_connections(uint64_t n)
{
	uint64_t	 cur = __atomic_load_n(&metrics_conn_max,
			    __ATOMIC_RELAXED);

	while (n > cur && !__atomic_compare_exchange_n(&metrics_conn_max,
	    &cur, n, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Highest connection count seen. */
uint64_t
metrics_connections_max(void)
{
	return (__atomic_load_n(&metrics_conn_max, __ATOMIC_RELAXED));
}

/* Stub until the exposition lands. */
void
metrics_prometheus(struct buf *out)
{
	(void)out;
}
