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
 * takes them; QoS 1 keeps at most --inflight unacknowledged), to one topic
 * that every subscriber gets (--topics one) or to bench/<j> per publisher
 * j, subscriber k taking bench/<k % P> (--topics pair).  A payload
 * (--size bytes, at least 16) starts with the send time (CLOCK_MONOTONIC,
 * ns), the sequence number and the publisher id, so a subscriber counts
 * duplicates and losses per publisher and measures latency.  After the
 * run, it waits up to --drain seconds for messages still in flight.
 *
 * conn: --connections clients connect at --rate per second (0: as fast as
 * --window pending handshakes allow), stay connected for --hold seconds
 * with PINGREQs at half the keepalive, and disconnect.  With --pid, the
 * broker's VmRSS is read before and while they are connected.
 *
 * With --pid PID (the broker), the broker's CPU time over the measured
 * window is printed next to this program's, to show whether the bench or
 * the broker was the bottleneck.  The last line of output is
 * "RESULT key=value ..." for scripts (contrib/bench/compare).
 *
 * Threads: --threads T loops, each owning the clients k with k % T equal
 * to its index (subscribers first, then publishers), with its own libev
 * loop and counters, merged at the end.  Phases are separated by a
 * pthread barrier; the only shared state is a few atomic counters.
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

#include "buf.h"
#include "mqtt.h"
#include "xmalloc.h"

#define BENCH_READ_SIZE		65536
#define BENCH_TX_HIGH		65536	/* publisher: write when this full */
#define BENCH_FILL_ROUNDS	16	/* publisher: buffers per callback */
#define BENCH_PAYLOAD_MIN	16
#define BENCH_HIST_BUCKETS	1024
#define BENCH_TICK		0.001	/* rate limiter granularity, s */
#define BENCH_CHECK		0.01	/* drain check interval, s */
#define BENCH_CLOSE_WAIT	3.0	/* for the broker to close, s */

/* Options (see usage()). */
struct opts {
	const char	*host;
	const char	*port;
	uint8_t		 version;
	unsigned	 threads;
	long		 pid;		/* broker, for CPU and RSS; 0 none */
	double		 timeout;	/* connect phase, s */
	/* pubsub */
	unsigned	 pubs;
	unsigned	 subs;
	int		 pair;		/* --topics pair */
	uint8_t		 qos;
	size_t		 size;
	double		 duration;
	double		 rate;		/* msg/s per publisher (pubsub) */
	double		 conn_rate;	/* connects/s (conn) */
	unsigned	 inflight;
	double		 drain;
	/* conn */
	unsigned	 conns;
	unsigned	 window;
	uint16_t	 keepalive;
	double		 hold;
	double		 settle;
};

static struct opts opt = {
	.host = "127.0.0.1", .port = "1883", .version = MQTT_V311,
	.threads = 1, .timeout = 30,
	.pubs = 1, .subs = 1, .qos = 0, .size = 64, .duration = 5,
	.inflight = 64, .drain = 5,
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
	uint64_t	 acked;		/* PUBACKs */
	uint64_t	 recv;		/* deliveries during the run window */
	uint64_t	 recv_total;	/* deliveries, whole run */
	uint64_t	 uniq;		/* first arrivals */
	uint64_t	 dups;
	uint64_t	 reordered;	/* seq below the highest seen */
	uint64_t	 errors;	/* connections lost or refused */
	uint64_t	 connected;
	double		 conn_done;	/* when the last CONNACK came */
	struct hist	 lat;
};

/* Arrivals at one subscriber from one publisher. */
struct track {
	uint8_t		*bits;		/* seen seqs */
	uint32_t	 nbits;
	uint32_t	 max_seq;
	uint64_t	 n;
};

enum bstate {
	BC_IDLE,		/* not started */
	BC_CONNECTING,		/* TCP connect in progress */
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
	/* publisher */
	char		 topic[64];
	uint32_t	 seq;
	uint32_t	 n_out;		/* QoS 1 unacknowledged */
	uint16_t	 next_pid;
	uint8_t		*pids;		/* QoS 1 pids in flight (bitmap) */
	double		 tokens;	/* rate limiter */
	int		 blocked;	/* waiting for EV_WRITE */
	/* subscriber */
	struct track	*tracks;	/* by publisher id */
};

struct bthread {
	unsigned	 idx;
	pthread_t	 tid;
	struct ev_loop	*loop;
	struct bclient	**c;
	size_t		 n;
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
	uint64_t	 pushed_uniq;	/* st.uniq already in g_uniq */
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
static uint64_t		 g_uniq;	/* atomic: first arrivals so far */
static uint64_t		 g_expect;	/* atomic: expected arrivals */
static unsigned		 g_past;	/* atomic: threads past deadline */
static const char	*payload_pad;

static void	bc_io_cb(EV_P_ ev_io *, int);
static void	bc_flush(struct bclient *);
static void	pub_fill(struct bclient *);

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
	to->recv += from->recv;
	to->recv_total += from->recv_total;
	to->uniq += from->uniq;
	to->dups += from->dups;
	to->reordered += from->reordered;
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

/* CPU use over a window, for the bottleneck check. */
struct cpu_window {
	double		 t0, self0, broker0;
	double		 wall, self, broker;	/* results, % of one core */
};

static void
cpu_begin(struct cpu_window *cw)
{
	cw->t0 = now_s();
	cw->self0 = self_cpu();
	cw->broker0 = opt.pid != 0 ? proc_cpu(opt.pid) : -1;
}

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

/* Append an encoded packet. */
static void
bc_send(struct bclient *c, const struct mqtt_packet *pkt)
{
	mqtt_encode(&c->tx, opt.version, pkt);
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
	if (c->state == BC_CONNECTING || c->state == BC_CONNACK)
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

/* TCP connected: send CONNECT. */
static void
bc_connected(struct bclient *c)
{
	struct mqtt_packet	 pkt;
	char			 id[64];
	int			 err = 0;
	socklen_t		 len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		bc_close(c, 1, strerror(err));
		return;
	}
	snprintf(id, sizeof id, "bench-%ld-%s-%" PRIu32, (long)getpid(),
	    c->role == ROLE_PUB ? "p" : c->role == ROLE_SUB ? "s" : "c",
	    c->id);
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNECT;
	pkt.u.connect.version = opt.version;
	pkt.u.connect.clean_start = true;
	pkt.u.connect.keepalive = opt.keepalive;
	pkt.u.connect.client_id = STR(id);
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
	char			 topic[64];

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
	if (opt.pair)
		snprintf(topic, sizeof topic, "bench/%" PRIu32,
		    c->id % opt.pubs);
	else
		snprintf(topic, sizeof topic, "bench/t");
	memset(&e, 0, sizeof e);
	e.filter = STR(topic);
	e.qos = opt.qos;
	mqtt_encode_subscribe(&c->tx, opt.version, 1, NULL, &e, 1);
	c->state = BC_SUBACK;
}

/* A delivery: latency, duplicates, order. */
static void
sub_on_publish(struct bclient *c, const struct mqtt_publish *pb,
    uint64_t rx_ns)
{
	struct stats	*st = &c->t->st;
	struct track	*tr;
	uint64_t	 sent_ns;
	uint32_t	 seq, pub, nb;

	if (pb->qos == 1) {
		struct mqtt_packet	 ack;

		memset(&ack, 0, sizeof ack);
		ack.type = MQTT_PUBACK;
		ack.u.ack.pid = pb->pid;
		bc_send(c, &ack);
	}
	if (pb->payload.len < BENCH_PAYLOAD_MIN)
		return;
	memcpy(&sent_ns, pb->payload.p, 8);
	memcpy(&seq, pb->payload.p + 8, 4);
	memcpy(&pub, pb->payload.p + 12, 4);
	if (pub >= opt.pubs)
		return;
	st->recv_total++;
	if (c->t->running)
		st->recv++;
	hist_add(&st->lat, rx_ns > sent_ns ? rx_ns - sent_ns : 0);
	tr = &c->tracks[pub];
	if (seq >= tr->nbits) {
		nb = tr->nbits == 0 ? 65536 : tr->nbits;
		while (nb <= seq)
			nb *= 2;
		tr->bits = xrealloc(tr->bits, nb / 8);
		memset(tr->bits + tr->nbits / 8, 0, (nb - tr->nbits) / 8);
		tr->nbits = nb;
	}
	if (tr->bits[seq / 8] & (1U << (seq % 8))) {
		st->dups++;
		return;
	}
	tr->bits[seq / 8] |= (uint8_t)(1U << (seq % 8));
	if (tr->n != 0 && seq < tr->max_seq)
		st->reordered++;
	if (seq > tr->max_seq || tr->n == 0)
		tr->max_seq = seq;
	tr->n++;
	st->uniq++;
}

/* PUBACK for a publisher. */
static void
pub_on_puback(struct bclient *c, uint16_t pid)
{
	if (c->pids == NULL || !(c->pids[pid / 8] & (1U << (pid % 8)))) {
		bc_close(c, 1, "PUBACK for an unknown packet id");
		return;
	}
	c->pids[pid / 8] &= (uint8_t)~(1U << (pid % 8));
	c->n_out--;
	c->t->st.acked++;
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
	case MQTT_PUBACK:
		pub_on_puback(c, pkt->u.ack.pid);
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
	ssize_t	 n;

	while (buf_used(&c->tx) != 0) {
		n = write(c->fd, buf_head(&c->tx), buf_used(&c->tx));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			bc_close(c, 1, strerror(errno));
			return;
		}
		buf_consume(&c->tx, (size_t)n);
	}
	c->blocked = buf_used(&c->tx) != 0;
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
	ssize_t			 n;
	size_t			 used;
	uint64_t		 rx_ns;

	buf_reserve(&c->rx, BENCH_READ_SIZE);
	n = read(c->fd, c->rx.data + c->rx.len, c->rx.cap - c->rx.len);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* after DISCONNECT, the broker closing is the expected end */
		bc_close(c, c->state != BC_CLOSING, n == 0 ?
		    "closed by the broker" : strerror(errno));
		return;
	}
	rx_ns = now_ns();
	c->rx.len += (size_t)n;
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
	else if (!c->blocked)
		bc_flush(c);
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
	if (revents & EV_READ)
		bc_read(c);
	if ((revents & EV_WRITE) && c->state != BC_DEAD) {
		bc_flush(c);
		if (c->role == ROLE_PUB && !c->blocked)
			pub_fill(c);
	}
}

/* Encode one PUBLISH of publisher c. */
static void
pub_one(struct bclient *c)
{
	struct mqtt_packet	 pkt;
	uint8_t			 head[BENCH_PAYLOAD_MIN];
	uint64_t		 ns = now_ns();
	uint16_t		 pid = 0;

	if (opt.qos == 1) {
		do {
			pid = c->next_pid;
			c->next_pid = (uint16_t)(pid == 65535 ? 1 : pid + 1);
		} while (c->pids[pid / 8] & (1U << (pid % 8)));
		c->pids[pid / 8] |= (uint8_t)(1U << (pid % 8));
		c->n_out++;
	}
	memcpy(head, &ns, 8);
	memcpy(head + 8, &c->seq, 4);
	memcpy(head + 12, &c->id, 4);
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
 * Unlimited rate: publish until the socket or the QoS 1 window is full,
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
		while (buf_used(&c->tx) < BENCH_TX_HIGH &&
		    (opt.qos == 0 || c->n_out < opt.inflight))
			pub_one(c);
		if (c->blocked || buf_used(&c->tx) == 0)
			return;
		bc_flush(c);
		if (c->blocked || c->state != BC_READY)
			return;
		if (opt.qos == 1 && c->n_out >= opt.inflight)
			return;
	}
	ev_io_start(t->loop, &c->wio);
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
	for (i = 0; i < t->n; i++) {
		c = t->c[i];
		if (c->role != ROLE_PUB || c->state != BC_READY)
			continue;
		c->tokens += opt.rate * BENCH_TICK;
		while (c->tokens >= 1 && (opt.qos == 0 ||
		    c->n_out < opt.inflight)) {
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

/* Push this thread's first arrivals to the global count. */
static void
thread_publish_counts(struct bthread *t)
{
	__atomic_add_fetch(&g_uniq, t->st.uniq - t->pushed_uniq,
	    __ATOMIC_RELAXED);
	t->pushed_uniq = t->st.uniq;
}

/* Expected deliveries of one publisher's messages. */
static uint64_t
fanout(uint32_t pub)
{
	if (!opt.pair)
		return (opt.subs);
	return (opt.subs / opt.pubs + (pub < opt.subs % opt.pubs ? 1 : 0));
}

/* pubsub, run phase: the window ends; wait for stragglers. */
static void
pubsub_deadline_cb(EV_P_ ev_timer *w, int revents)
{
	struct bthread	*t = w->data;
	uint64_t	 expect = 0;
	size_t		 i;

	(void)revents;
	t->running = 0;
	t->draining = 1;
	ev_timer_stop(EV_A_ &t->tick);
	for (i = 0; i < t->n; i++) {
		if (t->c[i]->role == ROLE_PUB)
			expect += (uint64_t)t->c[i]->seq * fanout(t->c[i]->id);
	}
	__atomic_add_fetch(&g_expect, expect, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_past, 1, __ATOMIC_RELEASE);
	ev_set_cb(w, stop_cb);
	ev_timer_set(w, opt.drain, 0);
	ev_timer_start(EV_A_ w);
}

/* pubsub, drain: stop once everything sent has arrived. */
static void
pubsub_check_cb(EV_P_ ev_timer *w, int revents)
{
	struct bthread	*t = w->data;

	(void)revents;
	thread_publish_counts(t);
	if (!t->draining)
		return;
	if (__atomic_load_n(&g_past, __ATOMIC_ACQUIRE) == opt.threads &&
	    __atomic_load_n(&g_uniq, __ATOMIC_RELAXED) >=
	    __atomic_load_n(&g_expect, __ATOMIC_RELAXED))
		ev_break(EV_A_ EVBREAK_ONE);
	(void)w;
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
		t->running = 1;
		t->deadline = g_start + opt.duration;
		ev_set_cb(&t->stop, pubsub_deadline_cb);
		ev_timer_set(&t->stop, t->deadline - now_s(), 0);
		ev_timer_start(t->loop, &t->stop);
		ev_timer_set(&t->check, BENCH_CHECK, BENCH_CHECK);
		ev_timer_start(t->loop, &t->check);
		if (opt.rate > 0)
			ev_timer_again(t->loop, &t->tick);
		for (i = 0; i < t->n; i++) {
			if (t->c[i]->role == ROLE_PUB)
				pub_fill(t->c[i]);
		}
		ev_run(t->loop, 0);
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
	ok = thread_connect_all(t) == 0;
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

	threads = xcalloc(opt.threads, sizeof *threads);
	for (i = 0; i < opt.threads; i++) {
		t = &threads[i];
		t->idx = i;
		t->loop = ev_loop_new(EVFLAG_AUTO);
		t->c = xcalloc(total / opt.threads + 1, sizeof *t->c);
		ev_timer_init(&t->tick, tick_cb, BENCH_TICK, BENCH_TICK);
		ev_timer_init(&t->stop, stop_cb, 0, 0);
		ev_timer_init(&t->check, pubsub_check_cb, BENCH_CHECK,
		    BENCH_CHECK);
		t->tick.data = t->stop.data = t->check.data = t;
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
			c->tracks = xcalloc(n_pubs == 0 ? 1 : n_pubs,
			    sizeof *c->tracks);
		} else if (k < n_subs + n_pubs) {
			c->role = ROLE_PUB;
			c->id = k - n_subs;
			if (opt.pair)
				snprintf(c->topic, sizeof c->topic,
				    "bench/%" PRIu32, c->id);
			else
				snprintf(c->topic, sizeof c->topic, "bench/t");
			c->next_pid = 1;
			if (opt.qos == 1)
				c->pids = xcalloc(65536 / 8, 1);
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

/* Scenario pubsub. */
static int
run_pubsub(void)
{
	struct cpu_window	 cw;
	struct stats		 st;
	uint64_t		 expect = 0, loss;
	double			 dur;
	unsigned		 i;
	char			*pad;

	if (opt.size < BENCH_PAYLOAD_MIN)
		die("--size must be at least %d", BENCH_PAYLOAD_MIN);
	if (opt.qos > 1)
		die("--qos must be 0 or 1");
	pad = xcalloc(1, opt.size);
	memset(pad, 'x', opt.size);
	payload_pad = pad;
	threads_setup(opt.subs, opt.pubs, 0);
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
	for (i = 0; i < opt.threads; i++) {
		size_t	 k;

		for (k = 0; k < threads[i].n; k++) {
			struct bclient	*c = threads[i].c[k];

			if (c->role == ROLE_PUB)
				expect += (uint64_t)c->seq * fanout(c->id);
		}
	}
	loss = expect > st.uniq ? expect - st.uniq : 0;
	dur = opt.duration;
	printf("pubsub: %u pub -> %u sub, %s topic%s, qos %u, %zu B, %.1f s, "
	    "rate %s, MQTT %s, %u thread%s\n", opt.pubs, opt.subs,
	    opt.pair ? "per-pair" : "one", opt.pair ? "s" : "", opt.qos,
	    opt.size, dur, opt.rate > 0 ? "limited" : "unlimited",
	    opt.version == MQTT_V5 ? "5" : "3.1.1", opt.threads,
	    opt.threads == 1 ? "" : "s");
	printf("  sent      %12" PRIu64 "  %12.0f msg/s\n", st.sent,
	    (double)st.sent / dur);
	printf("  received  %12" PRIu64 "  %12.0f msg/s (in the window; %"
	    PRIu64 " in all)\n", st.recv, (double)st.recv / dur,
	    st.recv_total);
	printf("  expected  %12" PRIu64 "  lost %" PRIu64 " (%.3f%%), dup %"
	    PRIu64 ", reordered %" PRIu64 ", errors %" PRIu64 "\n", expect,
	    loss, expect != 0 ? 100.0 * (double)loss / (double)expect : 0,
	    st.dups, st.reordered, st.errors);
	printf("  latency   p50 %.0f us, p99 %.0f us, max %.0f us\n",
	    hist_quantile(&st.lat, 0.50) / 1e3,
	    hist_quantile(&st.lat, 0.99) / 1e3, st.lat.max / 1e3);
	printf("  cpu       bench %.0f%%, broker %.0f%% (%% of one core; -1: "
	    "no --pid)\n", cw.self, cw.broker);
	printf("RESULT scenario=pubsub sent_per_s=%.0f recv_per_s=%.0f "
	    "lost=%" PRIu64 " dup=%" PRIu64 " reordered=%" PRIu64
	    " p50_us=%.0f p99_us=%.0f bench_cpu=%.0f broker_cpu=%.0f "
	    "errors=%" PRIu64 "\n", (double)st.sent / dur,
	    (double)st.recv / dur, loss, st.dups, st.reordered,
	    hist_quantile(&st.lat, 0.50) / 1e3,
	    hist_quantile(&st.lat, 0.99) / 1e3, cw.self, cw.broker,
	    st.errors);
	return (st.errors != 0 ? 1 : 0);
}

/* Scenario conn. */
static int
run_conn(void)
{
	struct cpu_window	 cw;
	struct stats		 st;
	long			 rss0 = -1, rss1 = -1;
	double			 t0, secs;

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
	printf("conn: %u connections, rate %s, window %u, MQTT %s, %u "
	    "thread%s\n", opt.conns, opt.conn_rate > 0 ? "limited" :
	    "unlimited", opt.window, opt.version == MQTT_V5 ? "5" : "3.1.1",
	    opt.threads, opt.threads == 1 ? "" : "s");
	printf("  connected %" PRIu64 " in %.3f s: %.0f connects/s, errors %"
	    PRIu64 "\n", st.connected, secs, secs > 0 ?
	    (double)st.connected / secs : 0, st.errors);
	if (rss0 >= 0 && rss1 >= 0)
		printf("  broker VmRSS %ld KB -> %ld KB: %.2f KB per "
		    "connection\n", rss0, rss1, st.connected != 0 ?
		    (double)(rss1 - rss0) / (double)st.connected : 0);
	printf("  cpu       bench %.0f%%, broker %.0f%% (%% of one core)\n",
	    cw.self, cw.broker);
	printf("RESULT scenario=conn connected=%" PRIu64 " conn_per_s=%.0f "
	    "rss_before_kb=%ld rss_after_kb=%ld kb_per_conn=%.2f "
	    "bench_cpu=%.0f broker_cpu=%.0f errors=%" PRIu64 "\n",
	    st.connected, secs > 0 ? (double)st.connected / secs : 0, rss0,
	    rss1, st.connected != 0 && rss0 >= 0 && rss1 >= 0 ?
	    (double)(rss1 - rss0) / (double)st.connected : -1, cw.self,
	    cw.broker, st.errors);
	return (st.errors != 0 || st.connected != opt.conns ? 1 : 0);
}

static const struct scenario scenarios[] = {
	{ "pubsub", run_pubsub, "P publishers -> S subscribers: msg/s, "
	    "loss, latency" },
	{ "conn", run_conn, "N idle connections: connects/s, broker RSS" },
};

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
	    "pubsub:\n"
	    "  -P, --pubs N          publishers (1)\n"
	    "  -S, --subs N          subscribers (1)\n"
	    "      --topics one|pair one topic, or one per publisher (one)\n"
	    "  -q, --qos 0|1         QoS of publishes and subscriptions (0)\n"
	    "  -s, --size BYTES      payload size, at least 16 (64)\n"
	    "  -d, --duration SECS   publishing time (5)\n"
	    "  -r, --rate N          msg/s per publisher, 0 unlimited (0)\n"
	    "      --inflight N      QoS 1 unacknowledged per publisher "
	    "(64)\n"
	    "      --drain SECS      wait for late messages at most (5)\n"
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

int
main(int argc, char **argv)
{
	enum {
		O_PID = 256, O_TIMEOUT, O_TOPICS, O_INFLIGHT, O_DRAIN, O_HOLD,
		O_SETTLE
	};
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "mqtt", required_argument, NULL, 'V' },
		{ "threads", required_argument, NULL, 'T' },
		{ "pid", required_argument, NULL, O_PID },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "pubs", required_argument, NULL, 'P' },
		{ "subs", required_argument, NULL, 'S' },
		{ "topics", required_argument, NULL, O_TOPICS },
		{ "qos", required_argument, NULL, 'q' },
		{ "size", required_argument, NULL, 's' },
		{ "duration", required_argument, NULL, 'd' },
		{ "rate", required_argument, NULL, 'r' },
		{ "inflight", required_argument, NULL, O_INFLIGHT },
		{ "drain", required_argument, NULL, O_DRAIN },
		{ "connections", required_argument, NULL, 'n' },
		{ "window", required_argument, NULL, 'w' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "hold", required_argument, NULL, O_HOLD },
		{ "settle", required_argument, NULL, O_SETTLE },
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
		case 'P':
			opt.pubs = (unsigned)num("pubs", optarg, 0, 1e6);
			break;
		case 'S':
			opt.subs = (unsigned)num("subs", optarg, 0, 1e6);
			break;
		case O_TOPICS:
			if (strcmp(optarg, "one") == 0)
				opt.pair = 0;
			else if (strcmp(optarg, "pair") == 0)
				opt.pair = 1;
			else
				die("--topics: one or pair");
			break;
		case 'q':
			opt.qos = (uint8_t)num("qos", optarg, 0, 1);
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
		case O_DRAIN:
			opt.drain = num("drain", optarg, 0, 3600);
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
		case 'h':
			usage(0);
		default:
			usage(2);
		}
	}
	if (optind != argc)
		usage(2);
	if (opt.pair && opt.pubs == 0)
		die("--topics pair needs publishers");
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(opt.host, opt.port, &hints, &server)) != 0)
		die("%s port %s: %s", opt.host, opt.port, gai_strerror(error));
	return (sc->run());
}
