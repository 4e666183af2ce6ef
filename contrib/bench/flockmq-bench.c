/*
 * flockmq-bench.c: a small MQTT load program.
 *
 *	flockmq-bench pubsub [options]	P publishers -> S subscribers
 *	flockmq-bench conn [options]	N idle connections
 *
 * Scenarios are entries in the scenarios[] table: a name, a run function
 * and a line of help; a new one adds an entry and a run function built on
 * the client and thread machinery below.  Options are shared (unused ones
 * are ignored) and listed by `flockmq-bench -h`.
 *
 * pubsub: S subscribers subscribe, then P publishers publish for
 * --duration seconds at --rate messages/s each (0: as fast as the socket
 * takes them; QoS 1 and 2 keep at most --inflight messages unfinished,
 * i.e. before PUBACK or PUBCOMP; at QoS 0, --qos0-inflight N keeps at most N
 * deliveries published and not yet arrived, all publishers together).
 * Rate-limited publishers are spread evenly over the 1 ms ticks of their
 * period instead of all publishing in the same one.  Publisher j publishes
 * to --pub-topic
 * and subscriber k subscribes to --sub-topic, patterns in which %i is the
 * client's index (j or k) and %p is k modulo P; --topics one is
 * "bench/t" for both, --topics pair is "bench/%i" and "bench/%p".  A
 * filter may hold wildcards or be "$share/GROUP/FILTER".  A payload
 * (--size bytes, at least 20) starts with the send time (CLOCK_MONOTONIC,
 * ns), the sequence number, the publisher id and a run id, so a subscriber
 * measures latency and counts what arrived, and ignores (as "stray")
 * what a broker still delivers from an earlier run.  After the run, it
 * waits up to --drain seconds for messages still in flight (less once
 * nothing has arrived for a second and nothing is unacknowledged).
 * With --session-expiry N the subscribers connect with Clean Start 0 and
 * Session Expiry Interval N (MQTT 5), or Clean Session 0 (3.1.1), so that
 * their sessions are durable (contrib/bench/durable); publishers always
 * connect clean.
 *
 * Accounting.  Before the run the filters are matched against the topics
 * here, as the broker should: a message of publisher j is expected once
 * at every plain subscriber whose filter matches and once per matching
 * share group (GROUP and FILTER).  A first arrival is unique; a second
 * one of the same (subscriber, publisher, seq), or for a share group of
 * the same (group, publisher, seq) at any member, is a duplicate.  lost is
 * expected minus unique; for QoS 1 and 2, acked_lost is the part of it
 * whose publish the broker had acknowledged (PUBACK, PUBREC).  ooo counts
 * unique arrivals below the highest seq seen from that publisher by that
 * subscriber.  Seen seqs are kept per (subscriber or group, publisher) as
 * a bitmap of the last win_bits seqs below the highest (sized from the
 * number of such pairs, 1024 to 1M bits): an arrival older than that is
 * counted unique and as "late", and the figures are then approximate.  A
 * share group's bitmap is shared by its members' threads under a mutex.
 *
 * conn: --connections clients connect at --rate per second (0: as fast as
 * --window pending handshakes allow), stay connected for --hold seconds
 * with PINGREQs at half the keepalive, and disconnect.  With --pid, the
 * broker's VmRSS is read before and while they are connected.
 *
 * With --pid PID (the broker), the broker's CPU time over the measured
 * window is printed next to this program's (and next to its busiest
 * thread's: one near 100% means the bench was the bottleneck).  The last
 * line of output is "RESULT key=value ..." for scripts
 * (contrib/bench/compare).
 *
 * Transports: --tls connects over TLS (mbedTLS, no certificate check,
 * for loopback brokers only), --ws PATH over WebSocket (the HTTP upgrade
 * with subprotocol mqtt, then masked binary frames; one frame per flush),
 * both together over WebSocket on TLS.  The handshakes happen before
 * CONNECT; what the figures measure after that is the broker's transport.
 *
 * Source addresses: past about half the ephemeral port range, connect()
 * spends most of its time looking for a free port (Linux prefers one
 * parity, then scans), and the bench becomes the bottleneck.  So for an
 * IPv4 loopback broker, clients are spread over the source addresses
 * 127.0.0.1 .. 127.0.0.N, N = --sources or one per BENCH_PER_SRC clients.
 *
 * Threads: --threads T loops, each owning the clients k with k % T equal
 * to its index (subscribers first, then publishers), with its own libev
 * loop and counters, merged at the end.  Phases are separated by a
 * pthread barrier; the shared state is a few atomic counters and the
 * share groups' bitmaps.
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <ev.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>

#include <mbedtls/base64.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>

#include "buf.h"
#include "mqtt.h"
#include "xmalloc.h"

#define BENCH_READ_SIZE		65536
#define BENCH_TX_HIGH		65536	/* publisher: write when this full */
#define BENCH_FILL_ROUNDS	16	/* publisher: buffers per callback */
#define BENCH_PAYLOAD_MIN	20
#define BENCH_HIST_BUCKETS	1024
#define BENCH_TICK		0.001	/* rate limiter granularity, s */
#define BENCH_CHECK		0.01	/* drain check interval, s */
#define BENCH_IDLE		1.0	/* drain: quiet this long, s */
#define BENCH_CUT		0.25	/* drain: arrivals this late, s */
#define BENCH_CLOSE_WAIT	3.0	/* for the broker to close, s */
#define BENCH_WIN_MIN		1024	/* seq bitmap, bits per pair */
#define BENCH_WIN_MAX		(1U << 20)
#define BENCH_WIN_BUDGET	((uint64_t)256 << 23)	/* 256 MB, in bits */
#define BENCH_PIDS		65535	/* packet ids 1..65535 */
#define BENCH_PER_SRC		10000	/* connections per source address */

/* Options (see usage()). */
struct opts {
	const char	*host;
	const char	*port;
	uint8_t		 version;
	unsigned	 threads;
	long		 pid;		/* broker, for CPU and RSS; 0 none */
	unsigned	 sources;	/* loopback source addresses; 0 auto */
	double		 timeout;	/* connect phase, s */
	/* pubsub */
	unsigned	 pubs;
	unsigned	 subs;
	const char	*pub_topic;	/* pattern: %i, %p, %% */
	const char	*sub_topic;
	uint8_t		 qos;
	size_t		 size;
	double		 duration;
	double		 rate;		/* msg/s per publisher (pubsub) */
	double		 conn_rate;	/* connects/s (conn) */
	unsigned	 inflight;
	uint64_t	 qos0_inflight;	/* deliveries outstanding; 0 no bound */
	double		 drain;
	uint32_t	 session_expiry; /* subscribers: durable; 0 clean */
	/* conn */
	unsigned	 conns;
	unsigned	 window;
	uint16_t	 keepalive;
	double		 hold;
	double		 settle;
	/* transports */
	int		 tls;		/* --tls */
	const char	*ws_path;	/* --ws PATH, NULL for none */
};

static struct opts opt = {
	.host = "127.0.0.1", .port = "1883", .version = MQTT_V311,
	.threads = 1, .timeout = 30,
	.pubs = 1, .subs = 1, .pub_topic = "bench/t", .sub_topic = "bench/t",
	.qos = 0, .size = 64, .duration = 5, .inflight = 64, .drain = 5,
	.conns = 1000, .window = 256, .keepalive = 60, .hold = 2,
	.settle = 1,
};

/* Latency histogram: 16 linear sub-buckets per power of two (ns). */
struct hist {
	uint64_t	 n;
	uint64_t	 max;
	uint64_t	 b[BENCH_HIST_BUCKETS];
};

/* Counters of one thread; summed at the end. */
struct stats {
	uint64_t	 sent;		/* publishes during the run window */
	uint64_t	 sent_total;	/* publishes, whole run */
	uint64_t	 acked;		/* PUBACKs, PUBRECs */
	uint64_t	 completed;	/* PUBCOMPs */
	uint64_t	 refused;	/* v5 PUBACK/PUBREC reason >= 0x80 */
	uint64_t	 recv;		/* deliveries during the run window */
	uint64_t	 recv_total;	/* deliveries, whole run */
	uint64_t	 uniq;		/* first arrivals */
	uint64_t	 dups;
	uint64_t	 reordered;	/* seq below the highest seen */
	uint64_t	 late;		/* below the seq window: not checked */
	uint64_t	 stray;		/* not for this subscriber or run */
	uint64_t	 resent;	/* QoS 2 PUBLISH again before PUBREL */
	uint64_t	 errors;	/* connections lost or refused */
	uint64_t	 connected;
	double		 conn_done;	/* when the last CONNACK came */
	struct hist	 lat;
};

/*
 * The seqs of one publisher seen by one subscriber or share group: bit
 * s % win_bits for the seqs s in [top - win_bits, top), exact there.
 */
struct seqwin {
	uint64_t	*bits;		/* NULL until the first arrival */
	uint32_t	 top;		/* highest seq seen + 1; 0 none */
};

/* Arrivals at one subscriber from one publisher. */
struct track {
	struct seqwin	 w;		/* unused for a share member */
	uint32_t	 max_seq;
	uint8_t		 seen;
	uint8_t		 match;		/* the filter matches the topic */
};

/* One publisher's messages in one share group (GROUP and FILTER). */
struct strack {
	pthread_mutex_t	 mu;
	struct seqwin	 w;
	uint8_t		 match;
};

/* A share group: its "$share/GROUP/FILTER" and a strack per publisher. */
struct share {
	const char	*key;
	struct strack	*tr;
};

enum bstate {
	BC_IDLE,		/* not started */
	BC_CONNECTING,		/* TCP connect in progress */
	BC_TLS,			/* TLS handshake in progress */
	BC_WS,			/* WebSocket upgrade sent, waiting for 101 */
	BC_CONNACK,		/* CONNECT sent */
	BC_SUBACK,		/* SUBSCRIBE sent */
	BC_READY,		/* connected (and subscribed) */
	BC_CLOSING,		/* DISCONNECT sent, waiting for the close */
	BC_DEAD,
};

enum brole {
	ROLE_SUB,
	ROLE_PUB,
	ROLE_IDLE,
};

struct bthread;

struct bclient {
	struct bthread	*t;
	uint32_t	 id;		/* index within its role */
	enum brole	 role;
	enum bstate	 state;
	int		 fd;
	ev_io		 rio;
	ev_io		 wio;
	struct buf	 rx;
	struct buf	 tx;
	mbedtls_ssl_context *ssl;	/* --tls */
	size_t		 ssl_wlen;	/* length of a write to repeat */
	struct buf	 wrx;		/* --ws: raw bytes in (frames) */
	struct buf	 wtx;		/* --ws: raw bytes out */
	char		*topic;		/* pub: topic; sub: filter */
	/* publisher */
	uint32_t	 seq;		/* next seq; also messages published */
	uint32_t	 expect;	/* deliveries expected per message */
	uint32_t	 refused;
	uint32_t	 n_out;		/* QoS 1/2 unfinished */
	uint8_t		*pids;		/* packet ids unfinished (bitmap) */
	uint8_t		*rel;		/* QoS 2: PUBREC came, PUBREL sent */
	double		 tokens;	/* rate limiter */
	int		 blocked;	/* waiting for EV_WRITE */
	/* subscriber */
	struct track	*tracks;	/* by publisher id */
	struct share	*share;		/* NULL: a plain subscription */
	uint8_t		*rx2;		/* QoS 2 packet ids before PUBREL */
};

struct bthread {
	unsigned	 idx;
	pthread_t	 tid;
	struct ev_loop	*loop;
	struct bclient	**c;
	size_t		 n;
	struct bclient	**p;		/* its publishers */
	size_t		 np;
	size_t		 next;		/* next client to connect */
	unsigned	 pending;	/* connects not yet ready */
	unsigned	 open;		/* handshakes in progress */
	unsigned	 closing;	/* clients in BC_CLOSING */
	int		 running;	/* run window open */
	int		 draining;
	double		 deadline;
	double		 conn_tokens;
	ev_timer	 tick;		/* rate limiter, connects */
	ev_timer	 stop;		/* end of a phase */
	ev_timer	 check;		/* drain / ping */
	struct stats	 st;
	uint64_t	 out;		/* QoS 1/2 unfinished, all publishers */
	ev_async	 wake;		/* --qos0-inflight: room again */
	uint64_t	 credit;	/* deliveries it may still publish */
	double		 cpu0;		/* thread CPU at the window start, s */
	double		 cpu;		/* thread CPU over the window, s */
	uint64_t	 a_uniq;	/* atomic copies, for the drain check */
	uint64_t	 a_recv;
	uint64_t	 a_out;
	uint64_t	 last_recv;	/* drain: deliveries at last change */
	double		 last_change;
	uint64_t	 last_uniq_ns;	/* time of the last first arrival */
	uint64_t	 end_ns;	/* when its drain ended */
};

/* A scenario. */
struct scenario {
	const char	*name;
	int		(*run)(void);
	const char	*help;
};

static struct addrinfo	*server;
static struct bthread	*threads;
static pthread_barrier_t barrier;
static double		 g_start;	/* run window, CLOCK_MONOTONIC s */
static uint64_t		 g_expect;	/* atomic: expected arrivals */
static unsigned		 g_past;	/* atomic: threads past deadline */
static const char	*payload_pad;
static struct bclient	**g_subs;	/* by index */
static struct bclient	**g_pubs;
static struct share	*shares;
static size_t		 n_shares;
static uint32_t		 win_bits = BENCH_WIN_MAX;	/* power of two */
static uint32_t		 run_id;	/* in every payload */
/* --qos0-inflight: deliveries published (expected) and arrived, all
 * threads; a publisher thread that ran out of room sets g_win_wait and
 * the subscribers' threads wake it. */
static uint64_t		 g_win_sent __attribute__((aligned(64)));
static uint64_t		 g_win_recv __attribute__((aligned(64)));
static int		 g_win_wait __attribute__((aligned(64)));

static void	bc_io_cb(EV_P_ ev_io *, int);
static void	bc_flush(struct bclient *);
static void	pub_fill(struct bclient *);
static void	win_wake(void);

/* Monotonic time in seconds. */
static double
now_s(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* Monotonic time in nanoseconds. */
static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec);
}

/* Print a message and exit 2. */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	 ap;

	fputs("flockmq-bench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Histogram bucket of a value. */
static unsigned
hist_idx(uint64_t v)
{
	unsigned	 e;

	if (v < 16)
		return ((unsigned)v);
	e = 63 - (unsigned)__builtin_clzll(v);
	return ((e - 3) * 16 + (unsigned)((v >> (e - 4)) & 15));
}

/* Lowest value of a bucket. */
static uint64_t
hist_val(unsigned i)
{
	if (i < 16)
		return (i);
	return ((uint64_t)(16 + i % 16) << (i / 16 + 3 - 4));
}

/* Count one value. */
static void
hist_add(struct hist *h, uint64_t v)
{
	h->b[hist_idx(v)]++;
	h->n++;
	if (v > h->max)
		h->max = v;
}

/* The value at quantile q (0..1). */
static uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	 want, sum = 0;
	unsigned	 i;

	if (h->n == 0)
		return (0);
	want = (uint64_t)ceil(q * (double)h->n);
	if (want == 0)
		want = 1;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++) {
		sum += h->b[i];
		if (sum >= want)
			return (hist_val(i));
	}
	return (h->max);
}

/* Add one thread's counters to the total. */
static void
stats_merge(struct stats *to, const struct stats *from)
{
	unsigned	 i;

	to->sent += from->sent;
	to->sent_total += from->sent_total;
	to->acked += from->acked;
	to->completed += from->completed;
	to->refused += from->refused;
	to->recv += from->recv;
	to->recv_total += from->recv_total;
	to->uniq += from->uniq;
	to->dups += from->dups;
	to->reordered += from->reordered;
	to->late += from->late;
	to->stray += from->stray;
	to->resent += from->resent;
	to->errors += from->errors;
	to->connected += from->connected;
	if (from->conn_done > to->conn_done)
		to->conn_done = from->conn_done;
	to->lat.n += from->lat.n;
	if (from->lat.max > to->lat.max)
		to->lat.max = from->lat.max;
	for (i = 0; i < BENCH_HIST_BUCKETS; i++)
		to->lat.b[i] += from->lat.b[i];
}

/* CPU seconds (user + system) of a process from /proc/PID/stat. */
static double
proc_cpu(long pid)
{
	char			 path[64], buf[1024], *p;
	unsigned long		 ut, st;
	FILE			*f;
	size_t			 n;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* fields after the command, which may hold spaces: state is 3rd */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) != 2)
		return (-1);
	return ((double)(ut + st) / (double)sysconf(_SC_CLK_TCK));
}

/* VmRSS of a process in KB, or -1. */
static long
proc_rss_kb(long pid)
{
	char	 path[64], line[256];
	long	 kb = -1;
	FILE	*f;

	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return (kb);
}

/* CPU seconds of this process, every thread. */
static double
self_cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

/* CPU seconds of the calling thread. */
static double
thread_cpu(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ((double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
}

/* CPU use over a window, for the bottleneck check. */
struct cpu_window {
	double		 t0, self0, broker0;
	double		 wall, self, broker;	/* results, % of one core */
};

/* Open a CPU window now. */
static void
cpu_begin(struct cpu_window *cw)
{
	cw->t0 = now_s();
	cw->self0 = self_cpu();
	cw->broker0 = opt.pid != 0 ? proc_cpu(opt.pid) : -1;
}

/* Close a CPU window: percentages of one core. */
static void
cpu_end(struct cpu_window *cw)
{
	double	 b;

	cw->wall = now_s() - cw->t0;
	cw->self = 100 * (self_cpu() - cw->self0) / cw->wall;
	b = opt.pid != 0 ? proc_cpu(opt.pid) : -1;
	cw->broker = b >= 0 && cw->broker0 >= 0 ?
	    100 * (b - cw->broker0) / cw->wall : -1;
}


/* Note seq in a window: 1 if it is new, 0 if seen before. */
static int
seqwin_add(struct seqwin *w, uint32_t seq, uint64_t *late)
{
	uint32_t	 mask = win_bits - 1, s;
	uint64_t	 bit;

	if (w->bits == NULL)
		w->bits = xcalloc(win_bits / 64, sizeof *w->bits);
	if (seq >= w->top) {
		/* the bits between the old top and seq were older seqs' */
		if (seq - w->top >= win_bits)
			memset(w->bits, 0, win_bits / 8);
		else {
			for (s = w->top; s != seq; s++)
				w->bits[(s & mask) / 64] &=
				    ~(UINT64_C(1) << (s & 63));
		}
		w->bits[(seq & mask) / 64] |= UINT64_C(1) << (seq & 63);
		w->top = seq + 1;
		return (1);
	}
	if (w->top - seq > win_bits) {
		(*late)++;
		return (1);
	}
	bit = UINT64_C(1) << (seq & 63);
	if (w->bits[(seq & mask) / 64] & bit)
		return (0);
	w->bits[(seq & mask) / 64] |= bit;
	return (1);
}

/* True if seq was seen (and is still in the window). */
static int
seqwin_has(const struct seqwin *w, uint32_t seq)
{
	if (w->bits == NULL || seq >= w->top || w->top - seq > win_bits)
		return (0);
	return ((w->bits[(seq & (win_bits - 1)) / 64] >> (seq & 63)) & 1);
}

/* Expand a topic pattern: %i is idx, %p idx modulo the publishers. */
static char *
topic_expand(const char *pat, uint32_t idx)
{
	struct buf	 b;
	char		 num[16];
	const char	*p;

	buf_init(&b);
	for (p = pat; *p != '\0'; p++) {
		if (*p != '%') {
			buf_add_u8(&b, (uint8_t)*p);
			continue;
		}
		switch (p[1]) {
		case 'i':
			snprintf(num, sizeof num, "%" PRIu32, idx);
			break;
		case 'p':
			if (opt.pubs == 0)
				die("%%p in '%s' needs publishers", pat);
			snprintf(num, sizeof num, "%" PRIu32, idx % opt.pubs);
			break;
		case '%':
			snprintf(num, sizeof num, "%%");
			break;
		default:
			die("topic pattern '%s': %%i, %%p or %%%% only", pat);
		}
		buf_add(&b, num, strlen(num));
		p++;
	}
	buf_add_u8(&b, 0);
	return ((char *)b.data);
}

/* The filter of "$share/GROUP/FILTER", or NULL if not shared. */
static const char *
share_filter(const char *f)
{
	const char	*p;

	if (strncmp(f, "$share/", 7) != 0 || (p = strchr(f + 7, '/')) == NULL)
		return (NULL);
	return (p + 1);
}

/*
 * True if filter f matches topic t (MQTT 4.7): '+' is one level, '#' any
 * number including none ("a/#" matches "a"), and a wildcard at the start
 * never matches a topic starting with '$' (MQTT-4.7.2-1).
 */
static int
filter_match(const char *f, const char *t)
{
	if (*t == '$' && (*f == '+' || *f == '#'))
		return (0);
	for (;;) {
		if (f[0] == '#' && f[1] == '\0')
			return (1);
		if (f[0] == '+' && (f[1] == '/' || f[1] == '\0')) {
			while (*t != '\0' && *t != '/')
				t++;
			f++;
		} else {
			while (*f != '\0' && *f != '/' && *f == *t) {
				f++;
				t++;
			}
			if ((*f != '\0' && *f != '/') ||
			    (*t != '\0' && *t != '/'))
				return (0);
		}
		if (*f == '\0')
			return (*t == '\0');
		if (*t == '\0')
			return (strcmp(f, "/#") == 0);
		f++;
		t++;
	}
}

/* The share group of a "$share/..." filter, made on first use. */
static struct share *
share_get(const char *key)
{
	size_t	 i;

	for (i = n_shares; i > 0; i--) {
		if (strcmp(shares[i - 1].key, key) == 0)
			return (&shares[i - 1]);
	}
	shares = xreallocarray(shares, n_shares + 1, sizeof *shares);
	shares[n_shares].key = key;
	shares[n_shares].tr = NULL;
	return (&shares[n_shares++]);
}

/*
 * Match every subscriber's filter against every publisher's topic, as the
 * broker does: the deliveries expected per message of each publisher, the
 * share groups, and the size of the seq windows.  Subscribers and
 * publishers with the same string as the one before reuse its result, so
 * one topic or one filter for all costs P + S matches.
 */
static void
pubsub_match(void)
{
	struct bclient	*c;
	struct share	*sh;
	const char	*f;
	uint64_t	 pairs = 0, w;
	uint8_t		*row;
	uint32_t	 j, k;

	row = xcalloc(opt.pubs + 1, 1);
	for (k = 0; k < opt.subs; k++) {
		c = g_subs[k];
		if ((f = share_filter(c->topic)) == NULL)
			f = c->topic;
		if (k == 0 || strcmp(c->topic, g_subs[k - 1]->topic) != 0) {
			for (j = 0; j < opt.pubs; j++)
				row[j] = j > 0 && strcmp(g_pubs[j]->topic,
				    g_pubs[j - 1]->topic) == 0 ? row[j - 1] :
				    (uint8_t)filter_match(f, g_pubs[j]->topic);
		}
		for (j = 0; j < opt.pubs; j++)
			c->tracks[j].match = row[j];
		if (f == c->topic) {
			for (j = 0; j < opt.pubs; j++) {
				g_pubs[j]->expect += row[j];
				pairs += row[j];
			}
			continue;
		}
		sh = c->share = share_get(c->topic);
		if (sh->tr != NULL)
			continue;
		sh->tr = xcalloc(opt.pubs + 1, sizeof *sh->tr);
		for (j = 0; j < opt.pubs; j++) {
			pthread_mutex_init(&sh->tr[j].mu, NULL);
			sh->tr[j].match = row[j];
			g_pubs[j]->expect += row[j];
			pairs += row[j];
		}
	}
	free(row);
	/* shares may have moved while growing: point the members again */
	for (k = 0; k < opt.subs; k++) {
		if (g_subs[k]->share != NULL)
			g_subs[k]->share = share_get(g_subs[k]->topic);
	}
	w = pairs == 0 ? BENCH_WIN_MAX : BENCH_WIN_BUDGET / pairs;
	if (w > BENCH_WIN_MAX)
		w = BENCH_WIN_MAX;
	for (win_bits = BENCH_WIN_MIN; (uint64_t)win_bits * 2 <= w;)
		win_bits *= 2;
}

/* Append an encoded packet. */
static void
bc_send(struct bclient *c, const struct mqtt_packet *pkt)
{
	mqtt_encode(&c->tx, opt.version, pkt);
}

/* Append an ack (PUBACK, PUBREC, PUBREL, PUBCOMP). */
static void
bc_send_ack(struct bclient *c, enum mqtt_type type, uint16_t pid)
{
	struct mqtt_packet	 pkt;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = type;
	pkt.u.ack.pid = pid;
	mqtt_encode(&c->tx, opt.version, &pkt);
}

/* Close a client; an error unless we asked for it. */
static void
bc_close(struct bclient *c, int error, const char *why)
{
	struct bthread	*t = c->t;

	if (c->state == BC_DEAD)
		return;
	if (error) {
		if (t->st.errors++ < 5)
			fprintf(stderr, "flockmq-bench: client %s %" PRIu32
			    ": %s\n", c->role == ROLE_PUB ? "pub" :
			    c->role == ROLE_SUB ? "sub" : "conn", c->id, why);
		if (c->state < BC_READY && t->pending > 0 &&
		    --t->pending == 0)
			ev_break(t->loop, EVBREAK_ONE);
	}
	if (c->state == BC_CONNECTING || c->state == BC_TLS ||
	    c->state == BC_WS || c->state == BC_CONNACK)
		t->open--;
	if (c->state == BC_CLOSING && --t->closing == 0)
		ev_break(t->loop, EVBREAK_ONE);
	ev_io_stop(t->loop, &c->rio);
	ev_io_stop(t->loop, &c->wio);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = BC_DEAD;
	buf_release(&c->rx);
	buf_release(&c->tx);
	buf_release(&c->wrx);
	buf_release(&c->wtx);
	if (c->ssl != NULL) {
		mbedtls_ssl_free(c->ssl);
		free(c->ssl);
		c->ssl = NULL;
	}
}

/* Bind a socket to loopback source address k % opt.sources. */
static int
bc_bind_source(int fd, uint32_t k)
{
	struct sockaddr_in	 sin;
	int			 one = 1;

	if (opt.sources <= 1 || server->ai_family != AF_INET)
		return (0);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK + k % opt.sources);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
	return (bind(fd, (struct sockaddr *)&sin, sizeof sin));
}

/* Start a non-blocking connect. */
static void
bc_start(struct bclient *c)
{
	struct bthread	*t = c->t;
	int		 one = 1;

	t->open++;
	c->state = BC_CONNECTING;
	c->fd = socket(server->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		bc_close(c, 1, strerror(errno));
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (bc_bind_source(c->fd, c->id) == -1) {
		bc_close(c, 1, strerror(errno));
		return;
	}
	ev_io_init(&c->rio, bc_io_cb, c->fd, EV_READ);
	ev_io_init(&c->wio, bc_io_cb, c->fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	if (connect(c->fd, server->ai_addr, server->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		bc_close(c, 1, strerror(errno));
		return;
	}
	ev_io_start(t->loop, &c->wio);
}

/* Start connects while the window and the rate allow. */
static void
thread_connect_more(struct bthread *t)
{
	unsigned	 window = opt.window / opt.threads;

	if (window == 0)
		window = 1;
	while (t->next < t->n && t->open < window) {
		if (opt.conn_rate > 0 && t->conn_tokens < 1)
			break;
		if (opt.conn_rate > 0)
			t->conn_tokens -= 1;
		bc_start(t->c[t->next++]);
	}
}

static mbedtls_ssl_config	 tls_conf;

/* Random bytes for mbedTLS (thread-safe: no shared generator). */
static int
tls_rng(void *arg, unsigned char *p, size_t n)
{
	(void)arg;
	while (n > 0) {
		ssize_t	 k = getrandom(p, n, 0);

		if (k <= 0)
			return (-1);
		p += k;
		n -= (size_t)k;
	}
	return (0);
}

/* mbedTLS's socket I/O, on the client's fd. */
static int
tls_send(void *arg, const unsigned char *p, size_t n)
{
	ssize_t	 k = write(*(int *)arg, p, n);

	if (k >= 0)
		return ((int)k);
	return (errno == EAGAIN || errno == EINTR ?
	    MBEDTLS_ERR_SSL_WANT_WRITE : MBEDTLS_ERR_NET_SEND_FAILED);
}

/* mbedTLS's socket input. */
static int
tls_recv(void *arg, unsigned char *p, size_t n)
{
	ssize_t	 k = read(*(int *)arg, p, n);

	if (k >= 0)
		return ((int)k);
	return (errno == EAGAIN || errno == EINTR ?
	    MBEDTLS_ERR_SSL_WANT_READ : MBEDTLS_ERR_NET_RECV_FAILED);
}

/* The client TLS settings, once: no certificate check (loopback). */
static void
tls_setup(void)
{
	mbedtls_ssl_config_init(&tls_conf);
	if (mbedtls_ssl_config_defaults(&tls_conf, MBEDTLS_SSL_IS_CLIENT,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		die("TLS set-up failed");
	mbedtls_ssl_conf_authmode(&tls_conf, MBEDTLS_SSL_VERIFY_NONE);
	mbedtls_ssl_conf_rng(&tls_conf, tls_rng, NULL);
}

/* Write below MQTT: TLS or the socket; -1 and EAGAIN when blocked. */
static ssize_t
bc_raw_write(struct bclient *c, const void *p, size_t n)
{
	int	 r;

	if (c->ssl == NULL)
		return (write(c->fd, p, n));
	/* After WANT_WRITE mbedTLS wants the same length again. */
	if (c->ssl_wlen != 0)
		n = c->ssl_wlen;
	r = mbedtls_ssl_write(c->ssl, p, n);
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
		c->ssl_wlen = n;
		errno = EAGAIN;
		return (-1);
	}
	c->ssl_wlen = 0;
	if (r < 0) {
		errno = EIO;
		return (-1);
	}
	return (r);
}

/* Read below MQTT: TLS or the socket; 0 at the end. */
static ssize_t
bc_raw_read(struct bclient *c, void *p, size_t n)
{
	int	 r;

	if (c->ssl == NULL)
		return (read(c->fd, p, n));
	r = mbedtls_ssl_read(c->ssl, p, n);
	if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		errno = EAGAIN;
		return (-1);
	}
	if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return (0);
	if (r < 0) {
		errno = EIO;
		return (-1);
	}
	return (r);
}

/* --ws: the HTTP upgrade request. */
static void
ws_upgrade(struct bclient *c)
{
	unsigned char	 key[16], b64[32];
	size_t		 n;
	char		 req[512];

	(void)tls_rng(NULL, key, sizeof key);
	mbedtls_base64_encode(b64, sizeof b64, &n, key, sizeof key);
	snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %.*s\r\nSec-WebSocket-Version: 13\r\n"
	    "Sec-WebSocket-Protocol: mqtt\r\n\r\n", opt.ws_path, opt.host,
	    opt.port, (int)n, b64);
	buf_add(&c->wtx, req, strlen(req));
}

/* --ws: MQTT bytes of tx into one masked binary frame in wtx. */
static void
ws_frame(struct bclient *c)
{
	size_t		 n = buf_used(&c->tx), i;
	const uint8_t	*p = buf_head(&c->tx);
	uint8_t		 mask[4];

	if (n == 0)
		return;
	buf_add_u8(&c->wtx, 0x82);
	if (n < 126)
		buf_add_u8(&c->wtx, 0x80 | (uint8_t)n);
	else if (n < 65536) {
		buf_add_u8(&c->wtx, 0x80 | 126);
		buf_add_u16(&c->wtx, (uint16_t)n);
	} else {
		buf_add_u8(&c->wtx, 0x80 | 127);
		buf_add_u32(&c->wtx, 0);
		buf_add_u32(&c->wtx, (uint32_t)n);
	}
	(void)tls_rng(NULL, mask, sizeof mask);
	buf_add(&c->wtx, mask, sizeof mask);
	buf_reserve(&c->wtx, n);
	for (i = 0; i < n; i++)
		c->wtx.data[c->wtx.len + i] = p[i] ^ mask[i & 3];
	c->wtx.len += n;
	buf_consume(&c->tx, n);
}

/*
 * --ws: move the payloads of the complete frames in wrx to rx; -1 on a
 * frame a server must not send.  Before the 101, look for its end: 1 once
 * it came.
 */
static int
ws_unframe(struct bclient *c)
{
	const uint8_t	*p;
	size_t		 n, hl;
	uint64_t	 len;
	const char	*end;

	if (c->state == BC_WS) {
		n = buf_used(&c->wrx);
		p = buf_head(&c->wrx);
		end = memmem(p, n, "\r\n\r\n", 4);
		if (end == NULL)
			return (0);
		if (n < 12 || memcmp(p + 9, "101", 3) != 0)
			return (-1);
		buf_consume(&c->wrx, (size_t)((const uint8_t *)end - p) + 4);
		return (1);
	}
	for (;;) {
		n = buf_used(&c->wrx);
		p = buf_head(&c->wrx);
		if (n < 2)
			return (0);
		if (p[1] & 0x80)
			return (-1);	/* masked by the server */
		len = p[1] & 0x7f;
		hl = 2;
		if (len == 126) {
			if (n < 4)
				return (0);
			len = (uint64_t)p[2] << 8 | p[3];
			hl = 4;
		} else if (len == 127) {
			if (n < 10)
				return (0);
			len = 0;
			for (hl = 2; hl < 10; hl++)
				len = len << 8 | p[hl];
		}
		if (n - hl < len)
			return (0);
		if ((p[0] & 0x0f) == 0x8)
			return (-1);	/* close */
		if ((p[0] & 0x0f) <= 0x2)
			buf_add(&c->rx, p + hl, (size_t)len);
		buf_consume(&c->wrx, hl + (size_t)len);
	}
}

static void	bc_send_connect(struct bclient *);

/* --ws: send the upgrade; CONNECT follows the 101. */
static void
ws_start(struct bclient *c)
{
	c->state = BC_WS;
	ws_upgrade(c);
	ev_io_start(c->t->loop, &c->rio);
	bc_flush(c);
}

/* Drive the TLS handshake. */
static void
bc_tls_step(struct bclient *c)
{
	int	 r = mbedtls_ssl_handshake(c->ssl);

	if (r == MBEDTLS_ERR_SSL_WANT_READ) {
		ev_io_stop(c->t->loop, &c->wio);
		ev_io_start(c->t->loop, &c->rio);
		return;
	}
	if (r == MBEDTLS_ERR_SSL_WANT_WRITE) {
		ev_io_start(c->t->loop, &c->wio);
		return;
	}
	ev_io_stop(c->t->loop, &c->wio);
	if (r != 0) {
		bc_close(c, 1, "TLS handshake failed");
		return;
	}
	if (opt.ws_path != NULL)
		ws_start(c);
	else
		bc_send_connect(c);
}

/* TCP connected: TLS, the upgrade, or CONNECT. */
static void
bc_connected(struct bclient *c)
{
	int		 err = 0;
	socklen_t	 len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		bc_close(c, 1, strerror(err));
		return;
	}
	if (opt.tls) {
		c->ssl = xcalloc(1, sizeof *c->ssl);
		mbedtls_ssl_init(c->ssl);
		if (mbedtls_ssl_setup(c->ssl, &tls_conf) != 0) {
			bc_close(c, 1, "TLS set-up failed");
			return;
		}
		mbedtls_ssl_set_bio(c->ssl, &c->fd, tls_send, tls_recv, NULL);
		c->state = BC_TLS;
		bc_tls_step(c);
		return;
	}
	if (opt.ws_path != NULL) {
		ws_start(c);
		return;
	}
	bc_send_connect(c);
}

/* Send CONNECT. */
static void
bc_send_connect(struct bclient *c)
{
	struct mqtt_packet	 pkt;
	char			 id[64];

	snprintf(id, sizeof id, "bench-%ld-%s-%" PRIu32, (long)getpid(),
	    c->role == ROLE_PUB ? "p" : c->role == ROLE_SUB ? "s" : "c",
	    c->id);
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNECT;
	pkt.u.connect.version = opt.version;
	pkt.u.connect.clean_start = true;
	pkt.u.connect.keepalive = opt.keepalive;
	pkt.u.connect.client_id = STR(id);
	if (c->role == ROLE_SUB && opt.session_expiry > 0) {
		/* a session that outlives the connection (durable) */
		pkt.u.connect.clean_start = false;
		if (opt.version == MQTT_V5) {
			pkt.u.connect.props.has |=
			    MQTT_HAS(MQTT_PROP_SESSION_EXPIRY);
			pkt.u.connect.props.session_expiry =
			    opt.session_expiry;
		}
	}
	bc_send(c, &pkt);
	c->state = BC_CONNACK;
	ev_io_start(c->t->loop, &c->rio);
	bc_flush(c);
}

/* The client is connected and subscribed. */
static void
bc_ready(struct bclient *c)
{
	struct bthread	*t = c->t;

	c->state = BC_READY;
	t->st.connected++;
	if (--t->pending == 0) {
		t->st.conn_done = now_s();
		ev_break(t->loop, EVBREAK_ONE);
	}
}

/* CONNACK: subscribe or be ready. */
static void
bc_on_connack(struct bclient *c, const struct mqtt_connack *ca)
{
	struct mqtt_sub_entry	 e;

	if (ca->rc != 0) {
		bc_close(c, 1, "CONNACK refused");
		return;
	}
	c->t->open--;
	thread_connect_more(c->t);
	if (c->role != ROLE_SUB) {
		bc_ready(c);
		return;
	}
	memset(&e, 0, sizeof e);
	e.filter = STR(c->topic);
	e.qos = opt.qos;
	mqtt_encode_subscribe(&c->tx, opt.version, 1, NULL, &e, 1);
	c->state = BC_SUBACK;
}

/* Dedupe one arrival at a subscriber: 1 if it is the first. */
static int
sub_first(struct bclient *c, uint32_t pub, uint32_t seq)
{
	struct stats	*st = &c->t->st;
	struct strack	*sr;
	int		 first;

	if (c->share == NULL)
		return (seqwin_add(&c->tracks[pub].w, seq, &st->late));
	sr = &c->share->tr[pub];
	pthread_mutex_lock(&sr->mu);
	first = seqwin_add(&sr->w, seq, &st->late);
	pthread_mutex_unlock(&sr->mu);
	return (first);
}

/* A delivery: ack it, then latency, duplicates, order. */
static void
sub_on_publish(struct bclient *c, const struct mqtt_publish *pb,
    uint64_t rx_ns)
{
	struct stats	*st = &c->t->st;
	struct track	*tr;
	uint64_t	 sent_ns;
	uint32_t	 seq, pub, run;

	if (pb->qos == 1)
		bc_send_ack(c, MQTT_PUBACK, pb->pid);
	else if (pb->qos == 2) {
		bc_send_ack(c, MQTT_PUBREC, pb->pid);
		if (c->rx2 == NULL)
			c->rx2 = xcalloc(65536 / 8, 1);
		/* the same message again before PUBREL (MQTT 4.3.3) */
		if (c->rx2[pb->pid / 8] & (1U << (pb->pid % 8))) {
			st->resent++;
			return;
		}
		c->rx2[pb->pid / 8] |= (uint8_t)(1U << (pb->pid % 8));
	}
	if (pb->payload.len < BENCH_PAYLOAD_MIN) {
		st->stray++;
		return;
	}
	memcpy(&sent_ns, pb->payload.p, 8);
	memcpy(&seq, pb->payload.p + 8, 4);
	memcpy(&pub, pb->payload.p + 12, 4);
	memcpy(&run, pb->payload.p + 16, 4);
	if (run != run_id || pub >= opt.pubs || !c->tracks[pub].match) {
		st->stray++;
		return;
	}
	st->recv_total++;
	if (c->t->running)
		st->recv++;
	if (opt.qos0_inflight != 0)
		__atomic_add_fetch(&g_win_recv, 1, __ATOMIC_RELEASE);
	hist_add(&st->lat, rx_ns > sent_ns ? rx_ns - sent_ns : 0);
	if (!sub_first(c, pub, seq)) {
		st->dups++;
		return;
	}
	tr = &c->tracks[pub];
	if (tr->seen && seq < tr->max_seq)
		st->reordered++;
	if (!tr->seen || seq > tr->max_seq)
		tr->max_seq = seq;
	tr->seen = 1;
	st->uniq++;
	c->t->last_uniq_ns = rx_ns;
}

/* PUBREL for a subscriber: the QoS 2 delivery is over. */
static void
sub_on_pubrel(struct bclient *c, uint16_t pid)
{
	bc_send_ack(c, MQTT_PUBCOMP, pid);
	if (c->rx2 != NULL)
		c->rx2[pid / 8] &= (uint8_t)~(1U << (pid % 8));
}

/* The packet id of a publisher's seq: one pid per seq modulo 65535. */
static uint16_t
pub_pid(uint32_t seq)
{
	return ((uint16_t)(seq % BENCH_PIDS + 1));
}

/* The last seq published with pid (the one unfinished, if any). */
static uint32_t
pub_pid_seq(const struct bclient *c, uint16_t pid)
{
	uint32_t	 last = c->seq - 1;

	return (last - (last % BENCH_PIDS + BENCH_PIDS - (pid - 1u)) %
	    BENCH_PIDS);
}

/* True if pid is unfinished (and, if rel, PUBREC came). */
static int
pub_pid_busy(const struct bclient *c, uint16_t pid, int rel)
{
	if (c->pids == NULL || !(c->pids[pid / 8] & (1U << (pid % 8))))
		return (0);
	return (!rel || (c->rel[pid / 8] & (1U << (pid % 8))));
}

/* A QoS 1/2 flow of a publisher is over. */
static void
pub_done(struct bclient *c, uint16_t pid)
{
	c->pids[pid / 8] &= (uint8_t)~(1U << (pid % 8));
	c->rel[pid / 8] &= (uint8_t)~(1U << (pid % 8));
	c->n_out--;
	c->t->out--;
}

/* PUBACK, PUBREC or PUBCOMP for a publisher. */
static void
pub_on_ack(struct bclient *c, enum mqtt_type type, const struct mqtt_ack *a)
{
	struct stats	*st = &c->t->st;
	int		 ok;

	ok = pub_pid_busy(c, a->pid, type == MQTT_PUBCOMP) &&
	    (type == MQTT_PUBCOMP || !pub_pid_busy(c, a->pid, 1)) &&
	    (type == MQTT_PUBACK) == (opt.qos == 1);
	if (!ok) {
		bc_close(c, 1, "ack for an unknown packet id");
		return;
	}
	if (type != MQTT_PUBCOMP && a->rc >= 0x80) {
		st->refused++;
		c->refused++;
		pub_done(c, a->pid);
		return;
	}
	switch (type) {
	case MQTT_PUBACK:
		st->acked++;
		pub_done(c, a->pid);
		break;
	case MQTT_PUBREC:
		st->acked++;
		c->rel[a->pid / 8] |= (uint8_t)(1U << (a->pid % 8));
		bc_send_ack(c, MQTT_PUBREL, a->pid);
		break;
	default:
		st->completed++;
		pub_done(c, a->pid);
		break;
	}
}

/* One packet from the broker. */
static void
bc_on_packet(struct bclient *c, const struct mqtt_packet *pkt,
    uint64_t rx_ns)
{
	switch (pkt->type) {
	case MQTT_CONNACK:
		if (c->state != BC_CONNACK)
			bc_close(c, 1, "unexpected CONNACK");
		else
			bc_on_connack(c, &pkt->u.connack);
		break;
	case MQTT_SUBACK:
		if (c->state != BC_SUBACK || pkt->u.suback.n != 1 ||
		    pkt->u.suback.rcs[0] >= 0x80)
			bc_close(c, 1, "SUBACK refused");
		else
			bc_ready(c);
		break;
	case MQTT_PUBLISH:
		sub_on_publish(c, &pkt->u.publish, rx_ns);
		break;
	case MQTT_PUBREL:
		sub_on_pubrel(c, pkt->u.ack.pid);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
		pub_on_ack(c, pkt->type, &pkt->u.ack);
		break;
	case MQTT_PINGRESP:
		break;
	default:
		bc_close(c, 1, mqtt_type_name(pkt->type));
		break;
	}
}

/* Write what the socket takes; watch EV_WRITE for the rest. */
static void
bc_flush(struct bclient *c)
{
	struct buf	*out = opt.ws_path != NULL ? &c->wtx : &c->tx;
	ssize_t		 n;

	if (opt.ws_path != NULL && c->state != BC_WS)
		ws_frame(c);
	while (buf_used(out) != 0) {
		n = bc_raw_write(c, buf_head(out), buf_used(out));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			bc_close(c, 1, strerror(errno));
			return;
		}
		buf_consume(out, (size_t)n);
	}
	c->blocked = buf_used(out) != 0;
	if (c->blocked)
		ev_io_start(c->t->loop, &c->wio);
	else
		ev_io_stop(c->t->loop, &c->wio);
}

/* Read once and handle the whole packets. */
static void
bc_read(struct bclient *c)
{
	struct mqtt_packet	 pkt;
	enum mqtt_status	 st;
	struct buf		*in;
	ssize_t			 n;
	size_t			 used;
	uint64_t		 rx_ns;
	int			 ws;

	in = opt.ws_path != NULL ? &c->wrx : &c->rx;
	do {
		buf_reserve(in, BENCH_READ_SIZE);
		n = bc_raw_read(c, in->data + in->len, in->cap - in->len);
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			break;
		if (n <= 0) {
			/* after DISCONNECT, the broker closing is the
			 * expected end */
			bc_close(c, c->state != BC_CLOSING, n == 0 ?
			    "closed by the broker" : strerror(errno));
			return;
		}
		in->len += (size_t)n;
	} while (c->ssl != NULL && mbedtls_ssl_get_bytes_avail(c->ssl) > 0);
	rx_ns = now_ns();
	if (opt.ws_path != NULL) {
		ws = ws_unframe(c);
		if (ws < 0) {
			bc_close(c, c->state != BC_CLOSING,
			    "bad WebSocket answer or frame");
			return;
		}
		if (ws == 1) {
			bc_send_connect(c);
			if (c->state != BC_DEAD && ws_unframe(c) < 0)
				bc_close(c, 1, "bad WebSocket frame");
			return;
		}
	}
	while (c->state != BC_DEAD && buf_used(&c->rx) != 0) {
		st = mqtt_decode(buf_head(&c->rx), buf_used(&c->rx),
		    opt.version | MQTT_CLIENT_SIDE, UINT32_MAX, &pkt, &used,
		    NULL);
		if (st == MQTT_MORE)
			break;
		if (st != MQTT_OK) {
			bc_close(c, 1, "undecodable packet");
			return;
		}
		bc_on_packet(c, &pkt, rx_ns);
		if (c->state != BC_DEAD)
			buf_consume(&c->rx, used);
	}
	if (c->state == BC_DEAD)
		return;
	if (buf_used(&c->rx) == 0)
		buf_release(&c->rx);
	if (c->role == ROLE_PUB)
		pub_fill(c);
	else {
		if (!c->blocked)
			bc_flush(c);
		if (opt.qos0_inflight != 0 &&
		    __atomic_load_n(&g_win_wait, __ATOMIC_ACQUIRE) &&
		    __atomic_exchange_n(&g_win_wait, 0, __ATOMIC_ACQ_REL))
			win_wake();
	}
}

/* Socket events. */
static void
bc_io_cb(EV_P_ ev_io *w, int revents)
{
	struct bclient	*c = w->data;

	(void)loop;
	if (c->state == BC_CONNECTING) {
		ev_io_stop(EV_A_ &c->wio);
		bc_connected(c);
		return;
	}
	if (c->state == BC_TLS) {
		bc_tls_step(c);
		return;
	}
	if (revents & EV_READ)
		bc_read(c);
	if ((revents & EV_WRITE) && c->state != BC_DEAD) {
		bc_flush(c);
		if (c->role == ROLE_PUB && !c->blocked)
			pub_fill(c);
	}
}

/* Room under --qos0-inflight for c's thread: 1 if it may publish once
 * more; otherwise ask the subscribers' threads for a wake-up. */
static int
win_room(struct bclient *c)
{
	struct bthread	*t = c->t;
	uint64_t	 out;
	int		 tries;

	if (t->credit >= c->expect)
		return (1);
	for (tries = 0; tries < 2; tries++) {
		out = __atomic_load_n(&g_win_sent, __ATOMIC_ACQUIRE) -
		    __atomic_load_n(&g_win_recv, __ATOMIC_ACQUIRE);
		if (out < opt.qos0_inflight)
			t->credit = opt.qos0_inflight - out;
		if (t->credit >= c->expect)
			return (1);
		/* Full: ask to be woken, then look once more (an arrival
		 * in between has not seen the flag). */
		if (tries == 0)
			__atomic_store_n(&g_win_wait, 1, __ATOMIC_SEQ_CST);
	}
	return (0);
}

/* True if publisher c may publish now: QoS 1/2 window and packet id, or
 * QoS 0 window. */
static int
pub_can(struct bclient *c)
{
	if (opt.qos == 0)
		return (opt.qos0_inflight == 0 || win_room(c));
	return (c->n_out < opt.inflight &&
	    !pub_pid_busy(c, pub_pid(c->seq), 0));
}

/* Encode one PUBLISH of publisher c (pub_can() said yes). */
static void
pub_one(struct bclient *c)
{
	struct mqtt_packet	 pkt;
	uint8_t			 head[BENCH_PAYLOAD_MIN];
	uint64_t		 ns = now_ns();
	uint16_t		 pid = 0;

	if (opt.qos > 0) {
		pid = pub_pid(c->seq);
		c->pids[pid / 8] |= (uint8_t)(1U << (pid % 8));
		c->n_out++;
		c->t->out++;
	} else if (opt.qos0_inflight != 0) {
		c->t->credit -= c->expect;
		__atomic_add_fetch(&g_win_sent, c->expect, __ATOMIC_RELEASE);
	}
	memcpy(head, &ns, 8);
	memcpy(head + 8, &c->seq, 4);
	memcpy(head + 12, &c->id, 4);
	memcpy(head + 16, &run_id, 4);
	c->seq++;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PUBLISH;
	pkt.u.publish.qos = opt.qos;
	pkt.u.publish.pid = pid;
	pkt.u.publish.topic = STR(c->topic);
	/* encode with the padding, then write the header over its start */
	pkt.u.publish.payload = (struct str){ (const uint8_t *)payload_pad,
	    opt.size };
	mqtt_encode(&c->tx, opt.version, &pkt);
	memcpy(c->tx.data + c->tx.len - opt.size, head, sizeof head);
	c->t->st.sent_total++;
	if (c->t->running)
		c->t->st.sent++;
}

/*
 * Unlimited rate: publish until the socket or the QoS 1/2 window is full,
 * at most BENCH_FILL_ROUNDS buffers at a time; if the socket still takes
 * more, EV_WRITE brings us back after the loop has run other watchers.
 */
static void
pub_fill(struct bclient *c)
{
	struct bthread	*t = c->t;
	int		 rounds;

	if (!t->running || opt.rate > 0 || c->state != BC_READY) {
		if (c->state != BC_DEAD && !c->blocked)
			bc_flush(c);
		return;
	}
	for (rounds = 0; rounds < BENCH_FILL_ROUNDS; rounds++) {
		while (buf_used(&c->tx) < BENCH_TX_HIGH && pub_can(c))
			pub_one(c);
		if (c->blocked || buf_used(&c->tx) == 0)
			return;
		bc_flush(c);
		if (c->blocked || c->state != BC_READY || !pub_can(c))
			return;
	}
	ev_io_start(t->loop, &c->wio);
}

/* Wake every publisher thread: the subscribers made room. */
static void
win_wake(void)
{
	unsigned	 i;

	for (i = 0; i < opt.threads; i++) {
		if (threads[i].np != 0)
			ev_async_send(threads[i].loop, &threads[i].wake);
	}
}

/* --qos0-inflight: room again; publish on. */
static void
win_wake_cb(EV_P_ ev_async *w, int revents)
{
	struct bthread	*t = w->data;
	size_t		 i;

	(void)loop;
	(void)revents;
	for (i = 0; i < t->np; i++) {
		if (!t->p[i]->blocked)
			pub_fill(t->p[i]);
	}
}

/* Rate limiter tick: connects in the conn phase, publishes in pubsub. */
static void
tick_cb(EV_P_ ev_timer *w, int revents)
{
	struct bthread	*t = w->data;
	struct bclient	*c;
	size_t		 i;

	(void)loop;
	(void)revents;
	if (!t->running) {
		t->conn_tokens += opt.conn_rate / opt.threads * BENCH_TICK;
		if (t->conn_tokens > opt.window)
			t->conn_tokens = opt.window;
		thread_connect_more(t);
		return;
	}
	for (i = 0; i < t->np; i++) {
		c = t->p[i];
		if (c->state != BC_READY)
			continue;
		c->tokens += opt.rate * BENCH_TICK;
		while (c->tokens >= 1 && pub_can(c)) {
			c->tokens -= 1;
			pub_one(c);
		}
		if (c->tokens > 1000)
			c->tokens = 1000;	/* do not burst after a stall */
		if (!c->blocked)
			bc_flush(c);
	}
}

/* Connect phase: connect every client of the thread. */
static int
thread_connect_all(struct bthread *t)
{
	t->pending = (unsigned)t->n;
	if (t->n == 0)
		return (0);
	t->conn_tokens = 1;
	ev_timer_again(t->loop, &t->tick);
	thread_connect_more(t);
	ev_timer_set(&t->stop, opt.timeout, 0);
	ev_timer_start(t->loop, &t->stop);
	ev_run(t->loop, 0);
	ev_timer_stop(t->loop, &t->stop);
	ev_timer_stop(t->loop, &t->tick);
	if (t->pending != 0) {
		fprintf(stderr, "flockmq-bench: thread %u: %u clients not "
		    "connected after %.0f s\n", t->idx, t->pending,
		    opt.timeout);
		return (-1);
	}
	return (0);
}

/* Phase end timer: leave ev_run. */
static void
stop_cb(EV_P_ ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_break(EV_A_ EVBREAK_ONE);
}

/* Copy this thread's progress where the other threads read it. */
static void
thread_publish_counts(struct bthread *t)
{
	__atomic_store_n(&t->a_uniq, t->st.uniq, __ATOMIC_RELAXED);
	__atomic_store_n(&t->a_recv, t->st.recv_total, __ATOMIC_RELAXED);
	__atomic_store_n(&t->a_out, t->out, __ATOMIC_RELAXED);
}

/* Sum of every thread's progress. */
static void
threads_progress(uint64_t *uniq, uint64_t *recv, uint64_t *out)
{
	unsigned	 i;

	*uniq = *recv = *out = 0;
	for (i = 0; i < opt.threads; i++) {
		*uniq += __atomic_load_n(&threads[i].a_uniq, __ATOMIC_RELAXED);
		*recv += __atomic_load_n(&threads[i].a_recv, __ATOMIC_RELAXED);
		*out += __atomic_load_n(&threads[i].a_out, __ATOMIC_RELAXED);
	}
}

/* pubsub, run phase: the window ends; wait for stragglers. */
static void
pubsub_deadline_cb(EV_P_ ev_timer *w, int revents)
{
	struct bthread	*t = w->data;
	struct bclient	*c;
	uint64_t	 expect = 0;
	size_t		 i;

	(void)revents;
	t->cpu = thread_cpu() - t->cpu0;
	t->running = 0;
	t->draining = 1;
	t->last_change = now_s();
	ev_timer_stop(EV_A_ &t->tick);
	for (i = 0; i < t->np; i++) {
		c = t->p[i];
		expect += (uint64_t)(c->seq - c->refused) * c->expect;
	}
	__atomic_add_fetch(&g_expect, expect, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_past, 1, __ATOMIC_RELEASE);
	ev_set_cb(w, stop_cb);
	ev_timer_set(w, opt.drain, 0);
	ev_timer_start(EV_A_ w);
}

/*
 * pubsub, drain: stop once everything expected has arrived, or once
 * nothing is unacknowledged and nothing has arrived for BENCH_IDLE.
 */
static void
pubsub_check_cb(EV_P_ ev_timer *w, int revents)
{
	struct bthread	*t = w->data;
	uint64_t	 uniq, recv, out;
	double		 now;

	(void)w;
	(void)revents;
	thread_publish_counts(t);
	if (!t->draining ||
	    __atomic_load_n(&g_past, __ATOMIC_ACQUIRE) != opt.threads)
		return;
	threads_progress(&uniq, &recv, &out);
	if (uniq >= __atomic_load_n(&g_expect, __ATOMIC_RELAXED)) {
		ev_break(EV_A_ EVBREAK_ONE);
		return;
	}
	now = now_s();
	if (recv != t->last_recv || out != 0) {
		t->last_recv = recv;
		t->last_change = now;
	} else if (now - t->last_change >= BENCH_IDLE)
		ev_break(EV_A_ EVBREAK_ONE);
}

/*
 * Send DISCONNECT to every client of a thread and wait (a few seconds at
 * most) for the broker to close: then TIME_WAIT stays on the broker's side
 * and back-to-back runs do not run out of local ports.
 */
static void
thread_disconnect(struct bthread *t)
{
	struct mqtt_packet	 pkt;
	size_t			 i;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_DISCONNECT;
	for (i = 0; i < t->n; i++) {
		struct bclient	*c = t->c[i];

		if (c->state == BC_DEAD || c->state == BC_IDLE)
			continue;
		if (c->state != BC_READY) {
			bc_close(c, 0, NULL);
			continue;
		}
		bc_send(c, &pkt);
		bc_flush(c);
		if (c->state == BC_READY) {
			c->state = BC_CLOSING;
			t->closing++;
		}
	}
	if (t->closing != 0) {
		ev_set_cb(&t->stop, stop_cb);
		ev_timer_set(&t->stop, BENCH_CLOSE_WAIT, 0);
		ev_timer_start(t->loop, &t->stop);
		ev_run(t->loop, 0);
		ev_timer_stop(t->loop, &t->stop);
	}
	for (i = 0; i < t->n; i++)
		bc_close(t->c[i], 0, NULL);
}

/* pubsub thread body. */
static void *
pubsub_thread(void *arg)
{
	struct bthread	*t = arg;
	size_t		 i;
	int		 ok;

	ok = thread_connect_all(t) == 0;
	pthread_barrier_wait(&barrier);		/* 1: connected */
	pthread_barrier_wait(&barrier);		/* 2: g_start is set */
	if (ok && g_start > 0) {
		ev_now_update(t->loop);
		t->cpu0 = thread_cpu();
		t->running = 1;
		t->deadline = g_start + opt.duration;
		ev_set_cb(&t->stop, pubsub_deadline_cb);
		ev_timer_set(&t->stop, t->deadline - now_s(), 0);
		ev_timer_start(t->loop, &t->stop);
		ev_timer_set(&t->check, BENCH_CHECK, BENCH_CHECK);
		ev_timer_start(t->loop, &t->check);
		if (opt.rate > 0)
			ev_timer_again(t->loop, &t->tick);
		for (i = 0; i < t->np; i++)
			pub_fill(t->p[i]);
		ev_run(t->loop, 0);
		t->end_ns = now_ns();
		ev_timer_stop(t->loop, &t->check);
		ev_timer_stop(t->loop, &t->stop);
		thread_publish_counts(t);
	}
	thread_disconnect(t);
	pthread_barrier_wait(&barrier);		/* 3: done */
	return (NULL);
}

/* conn, hold phase: keepalive. */
static void
conn_ping_cb(EV_P_ ev_timer *w, int revents)
{
	struct bthread		*t = w->data;
	struct mqtt_packet	 pkt;
	size_t			 i;

	(void)loop;
	(void)revents;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PINGREQ;
	for (i = 0; i < t->n; i++) {
		if (t->c[i]->state != BC_READY)
			continue;
		bc_send(t->c[i], &pkt);
		bc_flush(t->c[i]);
	}
}

/* conn thread body. */
static void *
conn_thread(void *arg)
{
	struct bthread	*t = arg;
	int		 ok;

	pthread_barrier_wait(&barrier);		/* 1: start */
	t->cpu0 = thread_cpu();
	ok = thread_connect_all(t) == 0;
	t->cpu = thread_cpu() - t->cpu0;
	pthread_barrier_wait(&barrier);		/* 2: connected */
	if (ok) {
		t->running = 1;
		ev_timer_set(&t->stop, opt.hold, 0);
		ev_timer_start(t->loop, &t->stop);
		ev_set_cb(&t->check, conn_ping_cb);
		ev_timer_set(&t->check, opt.keepalive / 2.0,
		    opt.keepalive / 2.0);
		ev_timer_start(t->loop, &t->check);
		ev_run(t->loop, 0);
		ev_timer_stop(t->loop, &t->check);
	}
	thread_disconnect(t);
	pthread_barrier_wait(&barrier);		/* 3: done */
	return (NULL);
}

/* Make the threads and spread n clients over them. */
static void
threads_setup(unsigned n_subs, unsigned n_pubs, unsigned n_idle)
{
	struct bthread	*t;
	struct bclient	*c;
	unsigned	 i, k, total = n_subs + n_pubs + n_idle;
	uint32_t	 a;

	if (server->ai_family == AF_INET) {
		a = ntohl(((struct sockaddr_in *)server->ai_addr)->
		    sin_addr.s_addr);
		if (a >> 24 != 127)
			opt.sources = 1;
		else if (opt.sources == 0)
			opt.sources = (total + BENCH_PER_SRC - 1) /
			    BENCH_PER_SRC;
	}
	threads = xcalloc(opt.threads, sizeof *threads);
	g_subs = xcalloc(n_subs + 1, sizeof *g_subs);
	g_pubs = xcalloc(n_pubs + 1, sizeof *g_pubs);
	for (i = 0; i < opt.threads; i++) {
		t = &threads[i];
		t->idx = i;
		t->loop = ev_loop_new(EVFLAG_AUTO);
		t->c = xcalloc(total / opt.threads + 1, sizeof *t->c);
		t->p = xcalloc(n_pubs / opt.threads + 1, sizeof *t->p);
		ev_timer_init(&t->tick, tick_cb, BENCH_TICK, BENCH_TICK);
		ev_timer_init(&t->stop, stop_cb, 0, 0);
		ev_timer_init(&t->check, pubsub_check_cb, BENCH_CHECK,
		    BENCH_CHECK);
		t->tick.data = t->stop.data = t->check.data = t;
		ev_async_init(&t->wake, win_wake_cb);
		t->wake.data = t;
		ev_async_start(t->loop, &t->wake);
	}
	for (k = 0; k < total; k++) {
		c = xcalloc(1, sizeof *c);
		t = &threads[k % opt.threads];
		c->t = t;
		c->fd = -1;
		buf_init(&c->rx);
		buf_init(&c->tx);
		if (k < n_subs) {
			c->role = ROLE_SUB;
			c->id = k;
			c->topic = topic_expand(opt.sub_topic, c->id);
			c->tracks = xcalloc(n_pubs + 1, sizeof *c->tracks);
			g_subs[c->id] = c;
		} else if (k < n_subs + n_pubs) {
			c->role = ROLE_PUB;
			c->id = k - n_subs;
			c->topic = topic_expand(opt.pub_topic, c->id);
			if (opt.qos > 0) {
				c->pids = xcalloc(65536 / 8, 1);
				c->rel = xcalloc(65536 / 8, 1);
			}
			g_pubs[c->id] = c;
			t->p[t->np++] = c;
			/* Spread over the period: not all in one tick. */
			if (opt.rate > 0 && opt.rate * BENCH_TICK < 1)
				c->tokens = (double)c->id / n_pubs;
		} else {
			c->role = ROLE_IDLE;
			c->id = k - n_subs - n_pubs;
		}
		t->c[t->n++] = c;
	}
}

/* Run fn on every thread (the clients connect in list order). */
static void
threads_start(void *(*fn)(void *))
{
	unsigned	 i;

	pthread_barrier_init(&barrier, NULL, opt.threads + 1);
	for (i = 0; i < opt.threads; i++) {
		if (pthread_create(&threads[i].tid, NULL, fn,
		    &threads[i]) != 0)
			die("cannot create a thread");
	}
}

/* Join the threads and sum their counters. */
static void
threads_join(struct stats *total)
{
	unsigned	 i;

	memset(total, 0, sizeof *total);
	for (i = 0; i < opt.threads; i++) {
		pthread_join(threads[i].tid, NULL);
		stats_merge(total, &threads[i].st);
	}
}

/* Sleep until a CLOCK_MONOTONIC time. */
static void
sleep_until(double when)
{
	struct timespec	 ts;

	ts.tv_sec = (time_t)when;
	ts.tv_nsec = (long)((when - (double)ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	    EINTR)
		;
}

/* Unique arrivals of publisher j's seq, over subscribers and groups. */
static uint64_t
delivered(uint32_t j, uint32_t seq)
{
	uint64_t	 n = 0;
	size_t		 k;

	for (k = 0; k < opt.subs; k++) {
		if (g_subs[k]->share == NULL && g_subs[k]->tracks[j].match)
			n += (uint64_t)seqwin_has(&g_subs[k]->tracks[j].w, seq);
	}
	for (k = 0; k < n_shares; k++) {
		if (shares[k].tr[j].match)
			n += (uint64_t)seqwin_has(&shares[k].tr[j].w, seq);
	}
	return (n);
}

/*
 * The deliveries missing for messages the broker never acknowledged (QoS
 * 1/2 packet ids still waiting for PUBACK or PUBREC at the end): lost
 * minus these is what it acknowledged and then lost.
 */
static uint64_t
missing_unacked(void)
{
	struct bclient	*c;
	uint64_t	 n = 0, got;
	uint32_t	 j, pid, seq;

	for (j = 0; j < opt.pubs && opt.qos > 0; j++) {
		c = g_pubs[j];
		for (pid = 1; pid <= BENCH_PIDS && c->n_out != 0; pid++) {
			if (!pub_pid_busy(c, (uint16_t)pid, 0) ||
			    pub_pid_busy(c, (uint16_t)pid, 1))
				continue;
			seq = pub_pid_seq(c, (uint16_t)pid);
			got = delivered(j, seq);
			n += got < c->expect ? c->expect - got : 0;
		}
	}
	return (n);
}

/* The busiest bench thread's CPU over a window, % of one core. */
static double
threads_cpu_max(double wall)
{
	double		 m = 0;
	unsigned	 i;

	for (i = 0; i < opt.threads; i++) {
		if (threads[i].cpu > m)
			m = threads[i].cpu;
	}
	return (wall > 0 ? 100 * m / wall : 0);
}

/*
 * True if some thread still had new messages arriving when its drain
 * ended: lost then counts messages the broker still held, not only drops.
 */
static int
drain_cut(void)
{
	unsigned	 i;

	for (i = 0; i < opt.threads; i++) {
		if (threads[i].last_uniq_ns != 0 && threads[i].end_ns <
		    threads[i].last_uniq_ns + (uint64_t)(BENCH_CUT * 1e9))
			return (1);
	}
	return (0);
}

/* Scenario pubsub. */
static int
run_pubsub(void)
{
	struct cpu_window	 cw;
	struct stats		 st;
	struct bclient		*c;
	uint64_t		 expect = 0, loss, acked_loss = 0, uniq_out;
	double			 dur, tcpu;
	unsigned		 i;
	int			 cut;
	char			*pad;

	if (opt.size < BENCH_PAYLOAD_MIN)
		die("--size must be at least %d", BENCH_PAYLOAD_MIN);
	run_id = (uint32_t)getpid() ^ (uint32_t)now_ns();
	pad = xcalloc(1, opt.size);
	memset(pad, 'x', opt.size);
	payload_pad = pad;
	threads_setup(opt.subs, opt.pubs, 0);
	pubsub_match();
	threads_start(pubsub_thread);
	pthread_barrier_wait(&barrier);		/* 1: connected */
	for (i = 0; i < opt.threads; i++) {
		if (threads[i].pending != 0)
			break;
	}
	memset(&cw, 0, sizeof cw);
	if (i == opt.threads) {
		g_start = now_s();
		cpu_begin(&cw);
	}
	pthread_barrier_wait(&barrier);		/* 2: go */
	if (g_start > 0) {
		sleep_until(g_start + opt.duration);
		cpu_end(&cw);
	}
	pthread_barrier_wait(&barrier);		/* 3: done */
	threads_join(&st);
	if (g_start == 0)
		die("could not connect every client");
	for (i = 0; i < opt.pubs; i++) {
		c = g_pubs[i];
		expect += (uint64_t)(c->seq - c->refused) * c->expect;
	}
	loss = expect > st.uniq ? expect - st.uniq : 0;
	if (opt.qos > 0) {
		uniq_out = missing_unacked();
		acked_loss = loss > uniq_out ? loss - uniq_out : 0;
	}
	dur = opt.duration;
	tcpu = threads_cpu_max(opt.duration);
	cut = loss != 0 && drain_cut();
	printf("pubsub: %u pub (%s) -> %u sub (%s), qos %u, %zu B, %.1f s, "
	    "rate %s, MQTT %s, %u thread%s\n", opt.pubs, opt.pub_topic,
	    opt.subs, opt.sub_topic, opt.qos, opt.size, dur,
	    opt.rate > 0 ? "limited" : "unlimited",
	    opt.version == MQTT_V5 ? "5" : "3.1.1", opt.threads,
	    opt.threads == 1 ? "" : "s");
	printf("  sent      %12" PRIu64 "  %12.0f msg/s (%" PRIu64 " in all, "
	    "%" PRIu64 " acked, %" PRIu64 " refused)\n", st.sent,
	    (double)st.sent / dur, st.sent_total, st.acked, st.refused);
	printf("  received  %12" PRIu64 "  %12.0f deliveries/s (in the "
	    "window; %" PRIu64 " in all)\n", st.recv, (double)st.recv / dur,
	    st.recv_total);
	printf("  expected  %12" PRIu64 "  lost %" PRIu64 " (%.3f%%), acked "
	    "and lost %" PRIu64 ", dup %" PRIu64 ", out of order %" PRIu64
	    "\n", expect, loss, expect != 0 ? 100.0 * (double)loss /
	    (double)expect : 0, acked_loss, st.dups, st.reordered);
	printf("  odd       late %" PRIu64 " (older than the %" PRIu32
	    "-seq window: unchecked), stray %" PRIu64 ", qos 2 resent %"
	    PRIu64 ", errors %" PRIu64 "\n", st.late, win_bits, st.stray,
	    st.resent, st.errors);
	if (cut)
		printf("  drain     cut short: still arriving after --drain "
		    "%g s, so lost counts what the broker still held\n",
		    opt.drain);
	if (st.uniq > expect)
		printf("  warning   %" PRIu64 " unique arrivals more than "
		    "expected: the figures are wrong\n", st.uniq - expect);
	printf("  latency   p50 %.0f us, p90 %.0f us, p99 %.0f us, max %.0f "
	    "us\n", hist_quantile(&st.lat, 0.50) / 1e3,
	    hist_quantile(&st.lat, 0.90) / 1e3,
	    hist_quantile(&st.lat, 0.99) / 1e3, st.lat.max / 1e3);
	printf("  cpu       bench %.0f%% (busiest thread %.0f%%), broker "
	    "%.0f%% (%% of one core; -1: no --pid)\n", cw.self, tcpu,
	    cw.broker);
	printf("RESULT scenario=pubsub sent_per_s=%.0f recv_per_s=%.0f "
	    "expected=%" PRIu64 " lost=%" PRIu64 " acked_lost=%" PRIu64
	    " dup=%" PRIu64 " ooo=%" PRIu64 " late=%" PRIu64 " stray=%"
	    PRIu64 " p50_us=%.0f p90_us=%.0f p99_us=%.0f max_us=%.0f "
	    "bench_cpu=%.0f bench_thread_cpu=%.0f broker_cpu=%.0f "
	    "drain_cut=%d errors=%" PRIu64 "\n", (double)st.sent / dur,
	    (double)st.recv / dur, expect, loss, acked_loss, st.dups,
	    st.reordered, st.late, st.stray,
	    hist_quantile(&st.lat, 0.50) / 1e3,
	    hist_quantile(&st.lat, 0.90) / 1e3,
	    hist_quantile(&st.lat, 0.99) / 1e3, st.lat.max / 1e3, cw.self,
	    tcpu, cw.broker, cut, st.errors);
	return (st.errors != 0 ? 1 : 0);
}

/* Scenario conn. */
static int
run_conn(void)
{
	struct cpu_window	 cw;
	struct stats		 st;
	long			 rss0 = -1, rss1 = -1;
	double			 t0, secs, tcpu;

	opt.conn_rate = opt.rate;
	if (opt.hold < opt.settle + 0.5)
		opt.hold = opt.settle + 0.5;
	threads_setup(0, 0, opt.conns);
	threads_start(conn_thread);
	if (opt.pid != 0)
		rss0 = proc_rss_kb(opt.pid);
	cpu_begin(&cw);
	t0 = now_s();
	pthread_barrier_wait(&barrier);		/* 1: start */
	pthread_barrier_wait(&barrier);		/* 2: connected */
	cpu_end(&cw);
	sleep_until(now_s() + opt.settle);
	if (opt.pid != 0)
		rss1 = proc_rss_kb(opt.pid);
	pthread_barrier_wait(&barrier);		/* 3: done */
	threads_join(&st);
	secs = st.conn_done > t0 ? st.conn_done - t0 : 0;
	tcpu = threads_cpu_max(cw.wall);
	printf("conn: %u connections, rate %s, window %u, MQTT %s, %u "
	    "thread%s, %u source address%s\n", opt.conns, opt.conn_rate > 0 ?
	    "limited" : "unlimited", opt.window, opt.version == MQTT_V5 ? "5" :
	    "3.1.1", opt.threads, opt.threads == 1 ? "" : "s", opt.sources,
	    opt.sources == 1 ? "" : "es");
	printf("  connected %" PRIu64 " in %.3f s: %.0f connects/s, errors %"
	    PRIu64 "\n", st.connected, secs, secs > 0 ?
	    (double)st.connected / secs : 0, st.errors);
	if (rss0 >= 0 && rss1 >= 0)
		printf("  broker VmRSS %ld KB -> %ld KB: %.2f KB per "
		    "connection\n", rss0, rss1, st.connected != 0 ?
		    (double)(rss1 - rss0) / (double)st.connected : 0);
	printf("  cpu       bench %.0f%% (busiest thread %.0f%%), broker "
	    "%.0f%% (%% of one core)\n", cw.self, tcpu, cw.broker);
	printf("RESULT scenario=conn connected=%" PRIu64 " conn_per_s=%.0f "
	    "rss_before_kb=%ld rss_after_kb=%ld kb_per_conn=%.2f "
	    "bench_cpu=%.0f bench_thread_cpu=%.0f broker_cpu=%.0f errors=%"
	    PRIu64 "\n", st.connected, secs > 0 ? (double)st.connected /
	    secs : 0, rss0, rss1, st.connected != 0 && rss0 >= 0 &&
	    rss1 >= 0 ? (double)(rss1 - rss0) / (double)st.connected : -1,
	    cw.self, tcpu, cw.broker, st.errors);
	return (st.errors != 0 || st.connected != opt.conns ? 1 : 0);
}

static const struct scenario scenarios[] = {
	{ "pubsub", run_pubsub, "P publishers -> S subscribers: msg/s, "
	    "loss, latency" },
	{ "conn", run_conn, "N idle connections: connects/s, broker RSS" },
};

/* Print the usage and exit with status. */
static void __attribute__((noreturn))
usage(int status)
{
	size_t	 i;

	fprintf(status == 0 ? stdout : stderr,
	    "usage: flockmq-bench SCENARIO [options]\n"
	    "scenarios:\n");
	for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++)
		fprintf(status == 0 ? stdout : stderr, "  %-8s %s\n",
		    scenarios[i].name, scenarios[i].help);
	fprintf(status == 0 ? stdout : stderr,
	    "options:\n"
	    "  -H, --host HOST       broker address (127.0.0.1)\n"
	    "  -p, --port PORT       broker port (1883)\n"
	    "  -V, --mqtt 3.1.1|5    protocol version (3.1.1)\n"
	    "  -T, --threads N       event loop threads (1)\n"
	    "      --pid PID         broker process: CPU time and VmRSS\n"
	    "      --timeout SECS    connect phase limit (30)\n"
	    "      --sources N       loopback source addresses, 0 one per "
	    "10000 clients (0)\n"
	    "      --tls             over TLS (no certificate check)\n"
	    "      --ws PATH         over WebSocket at PATH (e.g. /mqtt); "
	    "with --tls, wss\n"
	    "pubsub:\n"
	    "  -P, --pubs N          publishers (1)\n"
	    "  -S, --subs N          subscribers (1)\n"
	    "      --pub-topic PAT   publisher j's topic; %%i is j (bench/t)\n"
	    "      --sub-topic PAT   subscriber k's filter; %%i is k, %%p is k "
	    "modulo P,\n"
	    "                        wildcards and $share/GROUP/... allowed "
	    "(bench/t)\n"
	    "      --topics one|pair shorthands: bench/t for both, or "
	    "bench/%%i and bench/%%p\n"
	    "  -q, --qos 0|1|2       QoS of publishes and subscriptions (0)\n"
	    "  -s, --size BYTES      payload size, at least 20 (64)\n"
	    "  -d, --duration SECS   publishing time (5)\n"
	    "  -r, --rate N          msg/s per publisher, 0 unlimited (0)\n"
	    "      --inflight N      QoS 1/2 unfinished per publisher (64)\n"
	    "      --qos0-inflight N QoS 0 deliveries published and not yet "
	    "arrived, all\n"
	    "                        publishers together, 0 no bound (0)\n"
	    "      --drain SECS      wait for late messages at most (5)\n"
	    "      --session-expiry N\n"
	    "                        subscribers keep their sessions: clean "
	    "start 0 and\n"
	    "                        Session Expiry Interval N (3.1.1: clean "
	    "session 0);\n"
	    "                        0 clean sessions (0)\n"
	    "conn:\n"
	    "  -n, --connections N   connections (1000)\n"
	    "  -r, --rate N          connects/s, 0 unlimited (0)\n"
	    "  -w, --window N        handshakes in progress at most (256)\n"
	    "  -k, --keepalive SECS  MQTT keepalive (60)\n"
	    "      --hold SECS       stay connected (2)\n"
	    "      --settle SECS     wait before reading VmRSS (1)\n");
	exit(status);
}

/* A number option or die. */
static double
num(const char *name, const char *s, double lo, double hi)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *s == '\0' || *end != '\0' || !(v >= lo) ||
	    !(v <= hi))
		die("--%s: want a number in %g..%g, not '%s'", name, lo, hi,
		    s);
	return (v);
}

/* Raise the soft open-file limit to the hard one. */
static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Parse the options, resolve the broker, run the scenario. */
int
main(int argc, char **argv)
{
	enum {
		O_PID = 256, O_TIMEOUT, O_TOPICS, O_PUB_TOPIC, O_SUB_TOPIC,
		O_INFLIGHT, O_DRAIN, O_HOLD, O_SETTLE, O_SOURCES, O_TLS, O_WS,
		O_SESSION_EXPIRY, O_QOS0_INFLIGHT
	};
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "mqtt", required_argument, NULL, 'V' },
		{ "threads", required_argument, NULL, 'T' },
		{ "pid", required_argument, NULL, O_PID },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "sources", required_argument, NULL, O_SOURCES },
		{ "pubs", required_argument, NULL, 'P' },
		{ "subs", required_argument, NULL, 'S' },
		{ "topics", required_argument, NULL, O_TOPICS },
		{ "pub-topic", required_argument, NULL, O_PUB_TOPIC },
		{ "sub-topic", required_argument, NULL, O_SUB_TOPIC },
		{ "qos", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "inflight", required_argument, NULL, O_INFLIGHT },
		{ "qos0-inflight", required_argument, NULL, O_QOS0_INFLIGHT },
		{ "drain", required_argument, NULL, O_DRAIN },
		{ "session-expiry", required_argument, NULL,
		    O_SESSION_EXPIRY },
		{ "connections", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "settle", required_argument, NULL, O_SETTLE },
		{ "tls", no_argument, NULL, O_TLS },
		{ "ws", required_argument, NULL, O_WS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const struct scenario	*sc = NULL;
	struct addrinfo		 hints;
	size_t			 i;
	int			 ch, error;

	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)
		usage(argc < 2 ? 2 : 0);
	for (i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
		if (strcmp(argv[1], scenarios[i].name) == 0)
			sc = &scenarios[i];
	}
	if (sc == NULL)
		usage(2);
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "H:p:V:T:P:S:q:s:d:r:n:w:k:h",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			opt.host = optarg;
			break;
		case 'p':
			opt.port = optarg;
			break;
		case 'V':
			if (strcmp(optarg, "3.1.1") == 0 ||
			    strcmp(optarg, "4") == 0)
				opt.version = MQTT_V311;
			else if (strcmp(optarg, "5") == 0)
				opt.version = MQTT_V5;
			else
				die("--mqtt: 3.1.1 or 5");
			break;
		case 'T':
			opt.threads = (unsigned)num("threads", optarg, 1, 64);
			break;
		case O_PID:
			opt.pid = (long)num("pid", optarg, 1, 1e9);
			break;
		case O_TIMEOUT:
			opt.timeout = num("timeout", optarg, 0.1, 3600);
			break;
		case O_SOURCES:
			opt.sources = (unsigned)num("sources", optarg, 0, 254);
			break;
		case 'P':
			opt.pubs = (unsigned)num("pubs", optarg, 0, 1e6);
			break;
		case 'S':
			opt.subs = (unsigned)num("subs", optarg, 0, 1e6);
			break;
		case O_TOPICS:
			if (strcmp(optarg, "one") == 0) {
				opt.pub_topic = "bench/t";
				opt.sub_topic = "bench/t";
			} else if (strcmp(optarg, "pair") == 0) {
				opt.pub_topic = "bench/%i";
				opt.sub_topic = "bench/%p";
			} else
				die("--topics: one or pair");
			break;
		case O_PUB_TOPIC:
			opt.pub_topic = optarg;
			break;
		case O_SUB_TOPIC:
			opt.sub_topic = optarg;
			break;
		case 'q':
			opt.qos = (uint8_t)num("qos", optarg, 0, 2);
			break;
		case 's':
			opt.size = (size_t)num("size", optarg, 0, 1 << 24);
			break;
		case 'd':
			opt.duration = num("duration", optarg, 0.1, 86400);
			break;
		case 'r':
			opt.rate = num("rate", optarg, 0, 1e9);
			break;
		case O_INFLIGHT:
			opt.inflight = (unsigned)num("inflight", optarg, 1,
			    65000);
			break;
		case O_QOS0_INFLIGHT:
			opt.qos0_inflight = (uint64_t)num("qos0-inflight",
			    optarg, 0, 1e9);
			break;
		case O_DRAIN:
			opt.drain = num("drain", optarg, 0, 3600);
			break;
		case O_SESSION_EXPIRY:
			opt.session_expiry = (uint32_t)num("session-expiry",
			    optarg, 0, 4294967295.0);
			break;
		case 'n':
			opt.conns = (unsigned)num("connections", optarg, 1,
			    1e6);
			break;
		case 'w':
			opt.window = (unsigned)num("window", optarg, 1, 1e6);
			break;
		case 'k':
			opt.keepalive = (uint16_t)num("keepalive", optarg, 0,
			    65535);
			break;
		case O_HOLD:
			opt.hold = num("hold", optarg, 0, 86400);
			break;
		case O_SETTLE:
			opt.settle = num("settle", optarg, 0, 3600);
			break;
		case O_TLS:
			opt.tls = 1;
			break;
		case O_WS:
			if (optarg[0] != '/')
				die("--ws: a path, e.g. /mqtt, not '%s'", optarg);
			opt.ws_path = optarg;
			break;
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	if (opt.tls)
		tls_setup();
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(opt.host, opt.port, &hints, &server)) != 0)
		die("%s port %s: %s", opt.host, opt.port, gai_strerror(error));
	return (sc->run());
}
