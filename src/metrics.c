/*
 * metrics.c: names of the counters and their sums over the workers (see
 * metrics.h), the node-wide stats beside them and the Prometheus text
 * exposition (format 0.0.4) with EMQX's names.
 *
 * Threads.  Counters are summed by any thread.  The sampler runs on the
 * node loop once a second (metrics_sampler_start, from sys_init): it keeps
 * the last METRICS_NSAMPLES values of messages.received and messages.sent
 * for the rates, the system CPU times for emqx_vm_cpu_use, and raises the
 * high-water marks.  metrics_lock guards the samples and the CPU figure;
 * the marks are atomics raised by compare-and-swap, so a scrape (HTTP
 * thread) raises them too: a "_max" is never below its "_count" in the
 * same exposition.  A peak shorter than a second between two samples and
 * no scrape is missed.
 */
#include <sys/resource.h>

#include <dirent.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "buf.h"
#include "cluster.h"
#include "metrics.h"
#include "retain.h"
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

/* Stats that are high-water marks of a gauge; metric -1 is retained.count. */
static const struct {
	const char	*name;
	const char	*stat;		/* in /api/v5/stats */
	int		 metric;
	const char	*help;
} metrics_maxima[] = {
#define MAX_CONNECTIONS	0
	{ "emqx_connections_max", "connections.max", METRIC_CONNECTIONS_COUNT,
	    "highest connections.count seen since the node started" },
	{ "emqx_live_connections_max", "live_connections.max", METRIC_LIVE_CONNECTIONS_COUNT,
	    "highest live_connections.count seen since the node started" },
	{ "emqx_sessions_max", "sessions.max", METRIC_SESSIONS_COUNT,
	    "highest sessions.count seen since the node started" },
	{ "emqx_topics_max", "topics.max", METRIC_TOPICS_COUNT,
	    "highest topics.count seen since the node started" },
	{ "emqx_subscriptions_max", "subscriptions.max", METRIC_SUBSCRIPTIONS_COUNT,
	    "highest subscriptions.count seen since the node started" },
	{ "emqx_suboptions_max", "suboptions.max", METRIC_SUBOPTIONS_COUNT,
	    "highest suboptions.count seen since the node started" },
	{ "emqx_subscriptions_shared_max", "subscriptions.shared.max", METRIC_SUBSCRIPTIONS_SHARED_COUNT,
	    "highest subscriptions.shared.count seen since the node started" },
	{ "emqx_retained_max", "retained.max", -1,
	    "highest retained.count seen since the node started" },
};
#define METRICS_NMAX	(sizeof metrics_maxima / sizeof metrics_maxima[0])

/* Table metrics that EMQX's exporter also gives another name. */
static const struct {
	const char	*name;
	enum metric	 metric;
} metrics_aliases[] = {
	{ "emqx_packets_connect", METRIC_PACKETS_CONNECT },
	{ "emqx_messages_dropped_expired",
	    METRIC_MESSAGES_DROPPED_AWAIT_PUBREL_TIMEOUT },
};
#define METRICS_NALIASES	\
	(sizeof metrics_aliases / sizeof metrics_aliases[0])

static uint64_t		 metrics_max[METRICS_NMAX];

/* The rates are over the samples of the last METRICS_WINDOW seconds. */
#define METRICS_NSAMPLES	8
#define METRICS_WINDOW		5.5

struct metrics_sample {
	double		 t;		/* CLOCK_MONOTONIC, seconds */
	uint64_t	 received;	/* messages.received */
	uint64_t	 sent;		/* messages.sent */
};

struct metrics_cpu {
	uint64_t	 busy;		/* jiffies, every CPU */
	uint64_t	 total;
};

static pthread_mutex_t		 metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_sample	 metrics_samples[METRICS_NSAMPLES];
static unsigned			 metrics_nsamples;	/* valid, <= N */
static unsigned			 metrics_next;		/* slot to write */
static struct metrics_cpu	 metrics_cpu_last;
static double			 metrics_cpu_use = -1;	/* percent; -1: none */

static struct ev_loop		*metrics_loop;
static ev_timer			 metrics_timer;

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

/* Raise a high-water mark to n. */
static void
metrics_raise(uint64_t *mark, uint64_t n)
{
	uint64_t	 cur = __atomic_load_n(mark, __ATOMIC_RELAXED);

	while (n > cur && !__atomic_compare_exchange_n(mark, &cur, n, 0,
	    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Remember the highest connection count seen. */
void
metrics_note_connections(uint64_t n)
{
	metrics_raise(&metrics_max[MAX_CONNECTIONS], n);
}

/* Highest connection count seen. */
uint64_t
metrics_connections_max(void)
{
	return (__atomic_load_n(&metrics_max[MAX_CONNECTIONS],
	    __ATOMIC_RELAXED));
}

/* Raise every high-water mark from a snapshot and the retained count. */
static void
metrics_raise_all(const uint64_t *v, uint64_t retained)
{
	int64_t	 n;
	size_t	 i;

	for (i = 0; i < METRICS_NMAX; i++) {
		if (metrics_maxima[i].metric < 0)
			n = (int64_t)retained;
		else
			n = (int64_t)v[metrics_maxima[i].metric];
		/* A gauge summed mid-update can dip below zero. */
		if (n > 0)
			metrics_raise(&metrics_max[i], (uint64_t)n);
	}
}

/* Seconds on the monotonic clock. */
static double
metrics_now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* System CPU times from the first line of /proc/stat; -1 if unreadable. */
static int
metrics_read_cpu(struct metrics_cpu *c)
{
	unsigned long long	 v[8];
	FILE			*f;
	int			 n;

	if ((f = fopen("/proc/stat", "r")) == NULL)
		return (-1);
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
	    &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 4)
		return (-1);
	for (; n < 8; n++)
		v[n] = 0;
	/* user nice system idle iowait irq softirq steal; idle + iowait. */
	c->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
	c->busy = c->total - v[3] - v[4];
	return (0);
}

/* Busy percentage between two readings; -1 if no time passed. */
static double
metrics_cpu_percent(const struct metrics_cpu *from,
    const struct metrics_cpu *to)
{
	if (to->total <= from->total)
		return (-1);
	return (100.0 * (double)(to->busy - from->busy) /
	    (double)(to->total - from->total));
}

/* Take a sample: rates, CPU and high-water marks (node loop). */
static void
metrics_sample(void)
{
	uint64_t		 v[METRIC_COUNT];
	struct metrics_sample	*s;
	struct metrics_cpu	 cpu;
	double			 use = -1;
	int			 have_cpu;

	metrics_snapshot(v);
	metrics_raise_all(v, retain_count());
	have_cpu = metrics_read_cpu(&cpu) == 0;
	pthread_mutex_lock(&metrics_lock);
	s = &metrics_samples[metrics_next];
	s->t = metrics_now();
	s->received = v[METRIC_MESSAGES_RECEIVED];
	s->sent = v[METRIC_MESSAGES_SENT];
	metrics_next = (metrics_next + 1) % METRICS_NSAMPLES;
	if (metrics_nsamples < METRICS_NSAMPLES)
		metrics_nsamples++;
	if (have_cpu) {
		use = metrics_cpu_percent(&metrics_cpu_last, &cpu);
		if (use >= 0)
			metrics_cpu_use = use;
		metrics_cpu_last = cpu;
	}
	pthread_mutex_unlock(&metrics_lock);
}

/* The sampler's one-second timer. */
static void
metrics_timer_cb(EV_P_ ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	metrics_sample();
}

/* Start sampling once a second on the node loop. */
void
metrics_sampler_start(struct ev_loop *loop)
{
	metrics_loop = loop;
	metrics_sample();
	ev_timer_init(&metrics_timer, metrics_timer_cb, 1.0, 1.0);
	ev_timer_start(loop, &metrics_timer);
}

/* Stop the sampler. */
void
metrics_sampler_stop(void)
{
	if (metrics_loop == NULL)
		return;
	ev_timer_stop(metrics_loop, &metrics_timer);
	metrics_loop = NULL;
}

/* Messages per second: now against the oldest sample in METRICS_WINDOW. */
static void
metrics_rates(const uint64_t *v, double *received, double *sent)
{
	const struct metrics_sample	*s, *from = NULL;
	double				 now = metrics_now(), dt;
	unsigned			 i;

	*received = *sent = 0;
	pthread_mutex_lock(&metrics_lock);
	for (i = 0; i < metrics_nsamples; i++) {
		s = &metrics_samples[i];
		if (now - s->t <= METRICS_WINDOW &&
		    (from == NULL || s->t < from->t))
			from = s;
	}
	if (from != NULL && (dt = now - from->t) >= 0.5) {
		if (v[METRIC_MESSAGES_RECEIVED] >= from->received)
			*received = (double)(v[METRIC_MESSAGES_RECEIVED] -
			    from->received) / dt;
		if (v[METRIC_MESSAGES_SENT] >= from->sent)
			*sent = (double)(v[METRIC_MESSAGES_SENT] -
			    from->sent) / dt;
	}
	pthread_mutex_unlock(&metrics_lock);
}

/* System CPU busy percentage over the last second (since boot at first). */
static double
metrics_cpu(void)
{
	struct metrics_cpu	 zero = { 0, 0 }, now;
	double			 use;

	pthread_mutex_lock(&metrics_lock);
	use = metrics_cpu_use;
	pthread_mutex_unlock(&metrics_lock);
	if (use < 0 && metrics_read_cpu(&now) == 0)
		use = metrics_cpu_percent(&zero, &now);
	return (use < 0 ? 0 : use);
}

/* MemTotal and MemAvailable of /proc/meminfo in bytes; -1 if unreadable. */
static int
metrics_meminfo(uint64_t *total, uint64_t *avail)
{
	unsigned long long	 kb;
	char			 line[128];
	FILE			*f;
	int			 found = 0;

	if ((f = fopen("/proc/meminfo", "r")) == NULL)
		return (-1);
	while (found != 3 && fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "MemTotal: %llu kB", &kb) == 1) {
			*total = (uint64_t)kb * 1024;
			found |= 1;
		} else if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
			*avail = (uint64_t)kb * 1024;
			found |= 2;
		}
	}
	fclose(f);
	return (found == 3 ? 0 : -1);
}

/* Virtual and resident size of this process in bytes (/proc/self/statm). */
static int
metrics_statm(uint64_t *vsize, uint64_t *rss)
{
	unsigned long long	 size, res;
	long			 page = sysconf(_SC_PAGESIZE);
	FILE			*f;
	int			 n;

	if ((f = fopen("/proc/self/statm", "r")) == NULL)
		return (-1);
	n = fscanf(f, "%llu %llu", &size, &res);
	fclose(f);
	if (n != 2 || page <= 0)
		return (-1);
	*vsize = (uint64_t)size * (uint64_t)page;
	*rss = (uint64_t)res * (uint64_t)page;
	return (0);
}

/* User plus system CPU seconds of this process (/proc/self/stat). */
static int
metrics_proc_cpu(double *secs)
{
	unsigned long long	 ut, st;
	char			 line[1024], *p;
	long			 hz = sysconf(_SC_CLK_TCK);
	FILE			*f;
	int			 i;

	if ((f = fopen("/proc/self/stat", "r")) == NULL)
		return (-1);
	p = fgets(line, sizeof line, f);
	fclose(f);
	if (p == NULL || hz <= 0 || (p = strrchr(line, ')')) == NULL)
		return (-1);
	/* Fields 3 (state) to 13 follow ") "; utime and stime are 14, 15. */
	for (i = 0; i < 12; i++) {
		if ((p = strchr(p + 1, ' ')) == NULL)
			return (-1);
	}
	if (sscanf(p, " %llu %llu", &ut, &st) != 2)
		return (-1);
	*secs = (double)(ut + st) / (double)hz;
	return (0);
}

/* File descriptors open in this process, or -1. */
long
metrics_open_fds(void)
{
	struct dirent	*d;
	DIR		*dir;
	long		 n = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return (-1);
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] != '.')
			n++;
	}
	closedir(dir);
	/* Less the descriptor that read the directory. */
	return (n > 0 ? n - 1 : 0);
}

/* Append printf output to a buffer. */
static void
prom_printf(struct buf *out, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(out, line, (size_t)n < sizeof line ? (size_t)n :
		    sizeof line - 1);
}

/* The HELP and TYPE lines of a family; help escaped as 0.0.4 says. */
static void
prom_head(struct buf *out, const char *name, const char *help,
    const char *type)
{
	const char	*p;

	prom_printf(out, "# HELP %s ", name);
	for (p = help; *p != '\0'; p++) {
		if (*p == '\\')
			buf_add(out, "\\\\", 2);
		else if (*p == '\n')
			buf_add(out, "\\n", 2);
		else
			buf_add(out, p, 1);
	}
	prom_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* A family with one unsigned sample. */
static void
prom_u64(struct buf *out, const char *name, const char *help,
    const char *type, uint64_t v)
{
	prom_head(out, name, help, type);
	prom_printf(out, "%s %" PRIu64 "\n", name, v);
}

/* A gauge with one signed sample. */
static void
prom_i64(struct buf *out, const char *name, const char *help, int64_t v)
{
	prom_head(out, name, help, "gauge");
	prom_printf(out, "%s %" PRId64 "\n", name, v);
}

/* A family with one floating-point sample. */
static void
prom_dbl(struct buf *out, const char *name, const char *help,
    const char *type, double v)
{
	prom_head(out, name, help, type);
	prom_printf(out, "%s %.3f\n", name, v);
}

/* Prometheus name of a table metric: emqx_ + name, '.' -> '_'. */
static void
prom_name(char *dst, size_t len, const char *emqx)
{
	char	*p;

	snprintf(dst, len, "emqx_%s", emqx);
	for (p = dst; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
	}
}

/* The Prometheus text exposition (see metrics.h). */
void
metrics_prometheus(struct buf *out)
{
	uint64_t	 v[METRIC_COUNT], retained, vsize, rss;
	uint64_t	 total = 0, avail = 0;
	struct rlimit	 rl;
	double		 rx, tx, cpu, secs;
	char		 name[128], help[192];
	long		 fds;
	size_t		 i, k, npeers;
	uint64_t	 running = 0, stopped = 0;
	struct cluster_node *nodes;
	struct cluster_meta meta;
	int		 m, have_mem;

	metrics_snapshot(v);
	retained = retain_count();
	metrics_raise_all(v, retained);
	metrics_rates(v, &rx, &tx);

	for (m = 0; m < METRIC_COUNT; m++) {
		prom_name(name, sizeof name, metric_name((enum metric)m));
		if (metric_is_gauge((enum metric)m))
			prom_i64(out, name, metric_help((enum metric)m),
			    (int64_t)v[m]);
		else
			prom_u64(out, name, metric_help((enum metric)m),
			    "counter", v[m]);
	}
	for (i = 0; i < METRICS_NALIASES; i++) {
		m = metrics_aliases[i].metric;
		prom_name(name, sizeof name, metric_name((enum metric)m));
		snprintf(help, sizeof help, "%s, the name EMQX exports it as",
		    name);
		prom_u64(out, metrics_aliases[i].name, help, "counter", v[m]);
	}
	prom_u64(out, "emqx_retained_count", "retained messages stored",
	    "gauge", retained);
	for (i = 0; i < METRICS_NMAX; i++)
		prom_u64(out, metrics_maxima[i].name, metrics_maxima[i].help,
		    "gauge", __atomic_load_n(&metrics_max[i],
		    __ATOMIC_RELAXED));

	prom_dbl(out, "emqx_messages_received_rate",
	    "messages received from clients per second, last 5 s", "gauge",
	    rx);
	prom_dbl(out, "emqx_messages_sent_rate",
	    "messages sent to clients per second, last 5 s", "gauge", tx);

	prom_u64(out, "emqx_node_running", "1: this node is running",
	    "gauge", 1);
	/* The members of the metadata group; before there are any, the
	 * peers linked. */
	npeers = cluster_nodes(&nodes, &meta);
	for (k = 0; k < npeers; k++) {
		if (meta.n_members != 0 && !nodes[k].member &&
		    !nodes[k].self)
			continue;
		if (nodes[k].running)
			running++;
		else
			stopped++;
	}
	free(nodes);
	prom_u64(out, "emqx_cluster_nodes_running",
	    "cluster nodes running: members of the metadata group linked to "
	    "this one, and this one", "gauge", running);
	prom_u64(out, "emqx_cluster_nodes_stopped",
	    "members of the metadata group not linked to this one", "gauge",
	    stopped);

	cpu = metrics_cpu();
	prom_dbl(out, "emqx_vm_cpu_use",
	    "system CPU busy, percent, over the last second", "gauge", cpu);
	prom_dbl(out, "emqx_vm_cpu_idle",
	    "system CPU idle, percent, over the last second", "gauge",
	    100.0 - cpu);
	have_mem = metrics_meminfo(&total, &avail) == 0;
	if (have_mem) {
		prom_u64(out, "emqx_vm_total_memory",
		    "system memory, bytes (MemTotal)", "gauge", total);
		prom_u64(out, "emqx_vm_used_memory",
		    "system memory in use, bytes (MemTotal - MemAvailable)",
		    "gauge", total - avail);
		prom_u64(out, "emqx_vm_memory_total",
		    "system memory, bytes (MemTotal)", "gauge", total);
	}
	if (metrics_statm(&vsize, &rss) == 0) {
		prom_u64(out, "emqx_vm_memory_proc_used",
		    "resident memory of the broker process, bytes", "gauge",
		    rss);
		prom_u64(out, "process_resident_memory_bytes",
		    "resident memory size in bytes", "gauge", rss);
		prom_u64(out, "process_virtual_memory_bytes",
		    "virtual memory size in bytes", "gauge", vsize);
	}
	if (metrics_proc_cpu(&secs) == 0)
		prom_dbl(out, "process_cpu_seconds_total",
		    "user and system CPU time spent in seconds", "counter",
		    secs);
	if ((fds = metrics_open_fds()) >= 0)
		prom_u64(out, "process_open_fds",
		    "number of open file descriptors", "gauge",
		    (uint64_t)fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY) {
		prom_u64(out, "emqx_vm_max_fds",
		    "soft limit on open file descriptors (RLIMIT_NOFILE)",
		    "gauge", (uint64_t)rl.rlim_cur);
		prom_u64(out, "process_max_fds",
		    "maximum number of open file descriptors", "gauge",
		    (uint64_t)rl.rlim_cur);
	}
}

/* System memory (total, used) and this process's resident size, bytes. */
void
metrics_memory(uint64_t *total, uint64_t *used, uint64_t *rss)
{
	uint64_t	 avail = 0, vsize;

	*total = *used = *rss = 0;
	if (metrics_meminfo(total, &avail) == 0 && *total > avail)
		*used = *total - avail;
	if (metrics_statm(&vsize, rss) != 0)
		*rss = 0;
}

/* The high-water marks by their /api/v5/stats names; see metrics.h. */
size_t
metrics_maxima_get(const char **names, uint64_t *values, size_t max)
{
	uint64_t	 v[METRIC_COUNT];
	size_t		 i;

	metrics_snapshot(v);
	metrics_raise_all(v, retain_count());
	for (i = 0; i < METRICS_NMAX && i < max; i++) {
		names[i] = metrics_maxima[i].stat;
		values[i] = __atomic_load_n(&metrics_max[i],
		    __ATOMIC_RELAXED);
	}
	return (i);
}
