/*
 * test-load.c: a correctness load generator for the test suite.
 *
 *	test-load [--shape mesh|fanin|fanout|share] [--host H] [--port P]
 *	    [--clients N] [--publishers K] [--subscribers N] [--messages M]
 *	    [--timeout SECS] [--seed S] [--protocol mix|3.1.1|5]
 *	    [--pub-qos mix|1|2] [--sub-qos mix|1|2] [--window W]
 *	    [--connect-window C] [--no-shared] [--settle MS] [--idle MS]
 *	    [--read-rate BYTES] [--prefix P] [--keepalive SECS] [-v]
 *
 * --shape mesh, the default: N clients connect with clean sessions and
 * unique client ids (so that they spread over the broker's workers): by
 * index i, MQTT 3.1.1 or 5 (i / 2 even or odd, with --protocol mix) and
 * subscription QoS 1 or 2 (i even or odd, with --sub-qos mix).  Each
 * subscribes to its own topic P/<i> and, unless --no-shared, to the shared
 * wildcard $share/tl/P/+ at the same QoS; an MQTT 5 client gives them
 * Subscription Identifiers 1 and 2.  Once every client is subscribed, each
 * publishes M messages, at most W unacknowledged at a time (less if the
 * server's Receive Maximum says so).  Message s of publisher i has QoS 1
 * or 2 (with --pub-qos mix) and goes to P/<(i + k) % N>, k in 1..N-1, both
 * drawn from a hash of (seed, i, s); its payload is "<i>:<s>".  Every ack
 * flow is completed as a client must (PUBACK; PUBREC, PUBREL, PUBCOMP;
 * PUBREC and PUBCOMP for the server's QoS 2).
 *
 * So every message has two expected deliveries: to the subscriber of its
 * topic, and to one member of the share group.  At the end (every
 * publish acknowledged and every delivery seen, then --settle ms more for
 * late duplicates; or --timeout) it checks:
 *   - every publish was acknowledged with success;
 *   - every delivery of effective QoS 1 (min of published and granted)
 *     arrived at least once, of QoS 2 exactly once (a retransmission
 *     before PUBREL does not count twice: the client keeps packet ids
 *     awaiting release, as MQTT 4.3.3 method B requires);
 *   - per publisher, per subscriber, per topic and per published QoS, the
 *     first arrivals come in publishing order (MQTT 4.6.0-5 and -6);
 *   - no unexpected message: unknown payload, topic that does not match
 *     the plan, wrong QoS, retain flag, wrong or missing Subscription
 *     Identifier, delivery to a client that has no matching subscription.
 * An MQTT 3.1.1 subscriber cannot tell its own subscription from the share
 * group when both match: its arrivals on its own topic are split after
 * the fact (the shared one is taken to be there when no other member got
 * the message), and one copy may serve both, since 3.1.1 lets a server
 * send one message for overlapping subscriptions (MQTT 3.1.1 3.3.5;
 * mosquitto does).
 *
 * The other shapes split the clients into K publishers (clients 0..K-1)
 * and N subscribers (clients K..K+N-1; subscriber j is client K + j) that
 * only publish or only subscribe, with the same plan for protocols, QoS
 * (subscriber j has QoS 1 or 2 by j with --sub-qos mix), windows and
 * payloads.  A subscriber has one subscription (Subscription Identifier 1
 * for MQTT 5):
 *   fanin	K publishers (default 100) publish to P/<i>; N subscribers
 *		(default 1) subscribe to P/+ at QoS 2 (default --sub-qos 2);
 *		each message must reach every subscriber.
 *   fanout	K publishers (default 1) publish to P/t; N subscribers
 *		(default 100) subscribe to P/t, P/+ or P/# (j % 3) at QoS 1 or
 *		2 (default --sub-qos mix); each message must reach every
 *		subscriber.
 *   share	K publishers (default 1) publish to P/t; N subscribers (default
 *		1000) subscribe to $share/g/P/t (default --sub-qos 2); each
 *		message must reach the group, at effective QoS 1 at least
 *		once, at QoS 2 exactly once, so at one member (MQTT 5
 *		4.8.2; the broker gives 3.1.1 clients the same).
 * The checks are those above, order per publisher and member included;
 * publishers keep their windows full, so a slow subscriber (fanin) or a
 * slow group lets the broker's queues grow.  --read-rate makes the
 * subscribers slow: each reads at most BYTES a second (in 10 ms slices)
 * through a small receive buffer, and so acknowledges at that pace.
 *
 * A run that may lose messages on purpose (over a broker's queue limits)
 * gives --idle: once every publish is complete, it stops when nothing has
 * arrived for MS ms, and what is missing then counts as lost.  Without it
 * the run waits for every delivery until --timeout.  The line
 * "# lost L (qos 1: A, qos 2: B), qos 2 duplicated D" sums it up.
 *
 * Output: '#' comment lines with counts, then TAP ("ok 1 - ..."), so that
 * prove can run it too.  Violations are listed on stderr (the first 20 of
 * each kind).  Exit status: 0 all checks pass, 1 a check failed, 2 usage
 * or set-up error.
 *
 * One thread, one libev loop, non-blocking sockets; the MQTT codec is the
 * broker's (src/mqtt.c).
 */
#include <sys/resource.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mqtt.h"
#include "xmalloc.h"

#define TL_MAX_CLIENTS		(1U << 20)
#define TL_MAX_ARRIVALS		(UINT64_C(1) << 30)
#define TL_MAX_MESSAGES		(1U << 24)
#define TL_MAX_REPORT		20
#define TL_READ_SIZE		16384
#define TL_SLOW_RCVBUF		16384	/* --read-rate receive buffer */
#define TL_SLOW_TICK		0.01	/* --read-rate budget period */
#define TL_SUB_PID		65535	/* SUBSCRIBE packet ids count down */
#define TL_SUBID_OWN		1
#define TL_SUBID_SHARED		2

/* Load shapes (see the top of the file). */
enum shape {
	SHAPE_MESH,
	SHAPE_FANIN,
	SHAPE_FANOUT,
	SHAPE_SHARE,
};

static const char *shape_names[] = { "mesh", "fanin", "fanout", "share" };

/* Long options without a short one. */
enum {
	OPT_SHAPE = 256,
	OPT_PUBLISHERS,
	OPT_SUBSCRIBERS,
	OPT_PUB_QOS,
	OPT_SUB_QOS,
	OPT_IDLE,
	OPT_READ_RATE,
};

/* Where a client is. */
enum cstate {
	CS_IDLE,		/* not started */
	CS_CONNECTING,		/* TCP connect in progress */
	CS_CONNACK,		/* CONNECT sent, waiting for CONNACK */
	CS_SUBACK,		/* SUBSCRIBE sent, waiting for SUBACKs */
	CS_READY,		/* subscribed; publishes once all are */
	CS_DEAD,		/* closed, by us or by the broker */
};

/* One outgoing QoS 1 or 2 publish not yet completed. */
enum ostate {
	OS_FREE = 0,
	OS_WAIT_ACK,		/* QoS 1, PUBLISH sent */
	OS_WAIT_REC,		/* QoS 2, PUBLISH sent */
	OS_WAIT_COMP,		/* QoS 2, PUBREL sent */
};

struct out_slot {
	uint32_t	 seq;
	uint16_t	 pid;
	uint8_t		 state;
};

struct client {
	uint32_t	 idx;
	int		 fd;
	enum cstate	 state;
	uint8_t		 version;
	uint8_t		 qos;		/* granted on both subscriptions */
	ev_io		 rio;
	ev_io		 wio;
	struct buf	 rx;
	struct buf	 tx;
	unsigned	 subacks_left;
	uint32_t	 next_seq;	/* next message to publish */
	uint32_t	 done;		/* publishes completed */
	uint32_t	 window;	/* most publishes in flight */
	uint32_t	 n_out;
	uint32_t	 gen;		/* packet id generation */
	struct out_slot	*out;		/* window slots; pid - 1 = slot */
	uint16_t	*awrel;		/* incoming QoS 2 awaiting PUBREL */
	uint32_t	 n_awrel;
	uint32_t	 cap_awrel;
	int		 slow;		/* reads under --read-rate */
	int		 paused;	/* slow, budget spent, rio stopped */
	uint64_t	 n_recv;	/* messages that arrived here */
	size_t		 budget;	/* bytes it may read this tick */
};

/*
 * What arrived for one message (saturating counters).  The share shape
 * uses sh_member for the first member, own for arrivals there and
 * sh_other for arrivals at other members; fanin and fanout count in
 * arrivals[] instead.
 */
struct mstat {
	int32_t		 sh_member;	/* first shared receiver != dest */
	uint8_t		 acked;		/* PUBACK or PUBREC with success */
	uint8_t		 own;		/* MQTT 5 dest, Subscription Id 1 */
	uint8_t		 amb;		/* MQTT 3.1.1 dest, own topic */
	uint8_t		 sh_dest;	/* MQTT 5 dest, Subscription Id 2 */
	uint8_t		 sh_other;	/* at members other than dest */
	uint8_t		 sat;		/* counted in n_sat */
};

/* Kinds of violation, each counted and reported. */
enum viol {
	V_CONNECT,
	V_ACK,
	V_LOST1,
	V_LOST2,
	V_DUP2,
	V_ORDER,
	V_UNEXPECTED,
	V_COUNT
};

static const char *viol_names[V_COUNT] = {
	"connection",
	"publish not acknowledged",
	"qos 1 message lost",
	"qos 2 message lost",
	"qos 2 message duplicated",
	"order",
	"unexpected message",
};

/* Options. */
static enum shape	 opt_shape = SHAPE_MESH;
static const char	*opt_host = "127.0.0.1";
static const char	*opt_port = "1883";
static uint32_t		 opt_clients = 100;	/* all, publishers first */
static uint32_t		 opt_publishers;	/* 0: the shape's default */
static uint32_t		 opt_subscribers;	/* 0: the shape's default */
static int		 opt_pub_qos;		/* 0 mix, or 1 or 2 */
static int		 opt_sub_qos = -1;	/* -1: the shape's default */
static double		 opt_idle;		/* 0: wait for everything */
static uint32_t		 opt_read_rate;		/* bytes/s, 0: unlimited */
static uint32_t		 opt_messages = 10;
static double		 opt_timeout = 60;
static uint64_t		 opt_seed = 1;
static int		 opt_protocol;	/* 0 mix, else MQTT_V311 or MQTT_V5 */
static uint32_t		 opt_window = 16;
static uint32_t		 opt_connect_window = 256;
static int		 opt_shared = 1;
static double		 opt_settle = 0.3;
static const char	*opt_prefix = "load";
static uint16_t		 opt_keepalive = 60;
static int		 opt_verbose;

/* State. */
static struct ev_loop	*loop;
static struct addrinfo	*server;
static struct client	*clients;
static struct mstat	*mstats;
static uint8_t		*arrivals;	/* fanin, fanout: [m * n_subs + j] */
static uint32_t		*n_reached;	/* fanin, fanout: subscribers of m */
static uint64_t		 n_msgs;
static uint32_t		 n_pubs;	/* publishers: clients 0..n_pubs-1 */
static uint32_t		 n_subs;	/* subscribers */
static uint64_t		 n_sat;		/* messages with all deliveries */
static uint32_t		 n_started, n_connected, n_ready, n_dead;
static uint32_t		 n_open;	/* connecting, not yet CONNACKed */
static uint64_t		 n_completed;	/* publishes completed */
static uint64_t		 n_awrel_total;	/* incoming QoS 2 not released */
static uint64_t		 viols[V_COUNT];
static uint64_t		 n_pub[3], n_deliv, n_deliv_own, n_deliv_shared;
static uint64_t		 n_dup1, n_redeliv2, n_pubrel_unknown, n_merged;
static int		 publishing, finishing, idle_stop;
static ev_tstamp	 t_start, t_connected, t_ready, t_done, t_arrival;
static ev_tstamp	 t_published;
static ev_timer		 timeout_timer, settle_timer, ping_timer;
static ev_timer		 idle_timer, read_timer;
static char		 shared_filter[256];

/* Stream order: (publisher, receiver, topic, qos) -> last seq. */
struct ostream {
	uint64_t	 key;	/* 0: empty */
	uint32_t	 last;
};
static struct ostream	*streams;
static size_t		 streams_cap, streams_len;

static void	client_io_cb(EV_P_ ev_io *, int);
static void	client_start(struct client *);
static void	client_flush(struct client *);
static void	client_fill(struct client *);
static void	client_kill(struct client *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	check_done(void);

/* Print usage and exit. */
static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr, "usage: test-load [--shape mesh|fanin|fanout|share] "
	    "[--host H] [--port P]\n"
	    "    [--clients N] [--publishers K] [--subscribers N] "
	    "[--messages M]\n"
	    "    [--timeout SECS] [--seed S] [--protocol mix|3.1.1|5]\n"
	    "    [--pub-qos mix|1|2] [--sub-qos mix|1|2] [--window W]\n"
	    "    [--connect-window C] [--no-shared] [--settle MS] "
	    "[--idle MS]\n"
	    "    [--read-rate BYTES] [--prefix P] [--keepalive SECS] "
	    "[-v]\n");
	exit(2);
}

/* Record a violation; print the first few of each kind. */
static void __attribute__((format(printf, 2, 3)))
violation(enum viol v, const char *fmt, ...)
{
	va_list	 ap;

	if (viols[v]++ >= TL_MAX_REPORT) {
		if (viols[v] == TL_MAX_REPORT + 1)
			fprintf(stderr, "test-load: %s: more not shown\n",
			    viol_names[v]);
		return;
	}
	fprintf(stderr, "test-load: %s: ", viol_names[v]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* splitmix64. */
static uint64_t
mix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (x ^ (x >> 31));
}

/* The plan's hash of message s of publisher i. */
static uint64_t
plan_hash(uint32_t i, uint32_t s)
{
	return (mix64(mix64(opt_seed) ^ ((uint64_t)i << 32 | s)));
}

/* The client whose topic message s of publisher i goes to. */
static uint32_t
plan_dest(uint32_t i, uint32_t s)
{
	uint32_t	 k;

	if (opt_clients == 1)
		return (0);
	k = 1 + (uint32_t)(plan_hash(i, s) % (opt_clients - 1));
	return ((uint32_t)(((uint64_t)i + k) % opt_clients));
}

/* The QoS message s of publisher i is published with. */
static uint8_t
plan_qos(uint32_t i, uint32_t s)
{
	if (opt_pub_qos != 0)
		return ((uint8_t)opt_pub_qos);
	return ((uint8_t)(1 + (plan_hash(i, s) >> 63)));
}

/* Does client i publish? */
static int
plan_publishes(uint32_t i)
{
	return (opt_shape == SHAPE_MESH || i < n_pubs);
}

/* Does client i subscribe? */
static int
plan_subscribes(uint32_t i)
{
	return (opt_shape == SHAPE_MESH || i >= n_pubs);
}

/* The QoS client i subscribes with. */
static uint8_t
plan_sub_qos(uint32_t i)
{
	uint32_t	 j = opt_shape == SHAPE_MESH ? i : i - n_pubs;

	if (opt_sub_qos != 0)
		return ((uint8_t)opt_sub_qos);
	return ((uint8_t)(1 + (j & 1)));
}

/* The topic message s of publisher i goes to. */
static void
plan_topic(uint32_t i, uint32_t s, char *buf, size_t len)
{
	switch (opt_shape) {
	case SHAPE_MESH:
		snprintf(buf, len, "%s/%" PRIu32, opt_prefix,
		    plan_dest(i, s));
		break;
	case SHAPE_FANIN:
		snprintf(buf, len, "%s/%" PRIu32, opt_prefix, i);
		break;
	default:
		snprintf(buf, len, "%s/t", opt_prefix);
		break;
	}
}

/* The filter subscriber client i subscribes to (shapes but mesh). */
static void
plan_filter(uint32_t i, char *buf, size_t len)
{
	static const char	*fanout[] = { "t", "+", "#" };

	switch (opt_shape) {
	case SHAPE_FANIN:
		snprintf(buf, len, "%s/+", opt_prefix);
		break;
	case SHAPE_FANOUT:
		snprintf(buf, len, "%s/%s", opt_prefix,
		    fanout[(i - n_pubs) % 3]);
		break;
	default:
		snprintf(buf, len, "$share/g/%s/t", opt_prefix);
		break;
	}
}

/* Protocol version of client i. */
static uint8_t
plan_version(uint32_t i)
{
	if (opt_protocol != 0)
		return ((uint8_t)opt_protocol);
	return ((i >> 1) & 1 ? MQTT_V5 : MQTT_V311);
}

static uint8_t
min_qos(uint8_t a, uint8_t b)
{
	return (a < b ? a : b);
}

/* Find or add the order stream of key; returns its slot. */
static struct ostream *
stream_get(uint64_t key, int *fresh)
{
	struct ostream	*old, *st;
	size_t		 i, oldcap;

	if (streams_len * 2 >= streams_cap) {
		old = streams;
		oldcap = streams_cap;
		streams_cap = oldcap == 0 ? 4096 : oldcap * 2;
		streams = xcalloc(streams_cap, sizeof *streams);
		streams_len = 0;
		for (i = 0; i < oldcap; i++) {
			if (old[i].key != 0) {
				st = stream_get(old[i].key, fresh);
				st->last = old[i].last;
			}
		}
		free(old);
	}
	i = mix64(key) & (streams_cap - 1);
	while (streams[i].key != 0 && streams[i].key != key)
		i = (i + 1) & (streams_cap - 1);
	*fresh = streams[i].key == 0;
	if (*fresh) {
		streams[i].key = key;
		streams_len++;
	}
	return (&streams[i]);
}

/*
 * Split the arrivals of message m at its destination d into own and
 * shared deliveries (see the top of the file for MQTT 3.1.1).
 */
static void
mstat_split(const struct mstat *ms, uint32_t d, unsigned *own,
    unsigned *shared)
{
	if (plan_version(d) == MQTT_V5) {
		*own = ms->own;
		*shared = (unsigned)ms->sh_dest + ms->sh_other;
		return;
	}
	if (opt_shared && ms->sh_other == 0 && ms->amb >= 1) {
		/* one copy may serve both subscriptions (3.1.1 3.3.5) */
		*own = ms->amb >= 2 ? ms->amb - 1U : 1;
		*shared = 1;
	} else {
		*own = ms->amb;
		*shared = ms->sh_other;
	}
}

/* Update n_sat for message m (counts only grow, so once is enough). */
static void
mstat_update(uint64_t m)
{
	struct mstat	*ms = &mstats[m];
	unsigned	 own, shared;

	if (ms->sat || !ms->acked)
		return;
	switch (opt_shape) {
	case SHAPE_MESH:
		mstat_split(ms, plan_dest((uint32_t)(m / opt_messages),
		    (uint32_t)(m % opt_messages)), &own, &shared);
		if (own == 0 || (opt_shared && shared == 0))
			return;
		break;
	case SHAPE_SHARE:
		if (ms->sh_member < 0)
			return;
		break;
	default:
		if (n_reached[m] != n_subs)
			return;
		break;
	}
	ms->sat = 1;
	n_sat++;
}

static void
sat_inc(uint8_t *p)
{
	if (*p != UINT8_MAX)
		(*p)++;
}

/* Append a packet to the client's tx buffer. */
static void
client_send(struct client *c, const struct mqtt_packet *pkt)
{
	mqtt_encode(&c->tx, c->version, pkt);
}

/* Append an ack (PUBACK, PUBREC, PUBREL, PUBCOMP). */
static void
client_send_ack(struct client *c, enum mqtt_type type, uint16_t pid,
    uint8_t rc)
{
	struct mqtt_packet	 pkt;

	memset(&pkt, 0, sizeof pkt);
	pkt.type = type;
	pkt.u.ack.pid = pid;
	pkt.u.ack.rc = rc;
	client_send(c, &pkt);
}

/* Close a client's socket and stop its watchers. */
static void
client_close(struct client *c)
{
	if (c->state == CS_DEAD)
		return;
	if (c->state == CS_CONNECTING || c->state == CS_CONNACK)
		n_open--;
	ev_io_stop(loop, &c->rio);
	ev_io_stop(loop, &c->wio);
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->state = CS_DEAD;
	buf_release(&c->rx);
	buf_release(&c->tx);
	n_awrel_total -= c->n_awrel;
	c->n_awrel = 0;
	n_dead++;
}

/* A client failed: a violation; the run cannot complete, so end it. */
static void
client_kill(struct client *c, const char *fmt, ...)
{
	va_list	 ap;
	char	*why;

	va_start(ap, fmt);
	if (xvasprintf(&why, fmt, ap) == -1)
		why = NULL;
	va_end(ap);
	violation(V_CONNECT, "client %" PRIu32 " (MQTT %s): %s", c->idx,
	    c->version == MQTT_V5 ? "5" : "3.1.1", why != NULL ? why : "?");
	free(why);
	client_close(c);
	if (!finishing) {
		finishing = 1;
		ev_timer_stop(loop, &timeout_timer);
		ev_timer_set(&settle_timer, opt_settle, 0);
		ev_timer_start(loop, &settle_timer);
	}
}

/* Start connecting clients while fewer than the window are pending. */
static void
connect_more(void)
{
	while (n_started < opt_clients && n_open < opt_connect_window &&
	    !finishing)
		client_start(&clients[n_started++]);
}

/* Begin the TCP connect of a client. */
static void
client_start(struct client *c)
{
	int	 fd, one = 1, rcvbuf;

	n_open++;
	c->state = CS_CONNECTING;
	fd = socket(server->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		client_kill(c, "socket: %s", strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (c->slow) {
		/* before connect, so that the window is small from the start */
		rcvbuf = TL_SLOW_RCVBUF;
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	}
	c->fd = fd;
	ev_io_init(&c->rio, client_io_cb, fd, EV_READ);
	ev_io_init(&c->wio, client_io_cb, fd, EV_WRITE);
	c->rio.data = c->wio.data = c;
	if (connect(fd, server->ai_addr, server->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		client_kill(c, "connect: %s", strerror(errno));
		return;
	}
	ev_io_start(loop, &c->wio);
}

/* The TCP connect finished: send CONNECT. */
static void
client_connected(struct client *c)
{
	struct mqtt_packet	 pkt;
	char			 id[64];
	int			 err = 0;
	socklen_t		 len = sizeof err;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		client_kill(c, "connect: %s", strerror(err));
		return;
	}
	snprintf(id, sizeof id, "tl-%" PRIu64 "-%" PRIu32, opt_seed, c->idx);
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_CONNECT;
	pkt.u.connect.version = c->version;
	pkt.u.connect.clean_start = true;
	pkt.u.connect.keepalive = opt_keepalive;
	pkt.u.connect.client_id = STR(id);
	client_send(c, &pkt);
	c->state = CS_CONNACK;
	ev_io_start(loop, &c->rio);
}

/* Send the SUBSCRIBEs: one for 3.1.1, one per Subscription Id for 5. */
static void
client_subscribe(struct client *c)
{
	struct mqtt_sub_entry	 e[2];
	struct mqtt_props	 props;
	char			 own[128];
	size_t			 n = 0;

	if (opt_shape == SHAPE_MESH)
		snprintf(own, sizeof own, "%s/%" PRIu32, opt_prefix, c->idx);
	else
		plan_filter(c->idx, own, sizeof own);
	memset(e, 0, sizeof e);
	e[n].filter = STR(own);
	e[n++].qos = c->qos;
	if (opt_shape == SHAPE_MESH && opt_shared) {
		e[n].filter = STR(shared_filter);
		e[n++].qos = c->qos;
	}
	if (c->version != MQTT_V5) {
		mqtt_encode_subscribe(&c->tx, c->version, TL_SUB_PID, NULL,
		    e, n);
		c->subacks_left = 1;
	} else {
		memset(&props, 0, sizeof props);
		props.has = MQTT_HAS(MQTT_PROP_SUB_ID);
		props.sub_id = TL_SUBID_OWN;
		mqtt_encode_subscribe(&c->tx, c->version, TL_SUB_PID, &props,
		    &e[0], 1);
		c->subacks_left = 1;
		if (n == 2) {
			props.sub_id = TL_SUBID_SHARED;
			mqtt_encode_subscribe(&c->tx, c->version,
			    TL_SUB_PID - 1, &props, &e[1], 1);
			c->subacks_left = 2;
		}
	}
	c->state = CS_SUBACK;
}

/* Every client is subscribed: everyone publishes. */
static void
start_publishing(void)
{
	uint32_t	 i;

	t_ready = ev_time();
	publishing = 1;
	for (i = 0; i < opt_clients; i++) {
		client_fill(&clients[i]);
		client_flush(&clients[i]);
	}
	check_done();
}

/* Publish while the window has room. */
static void
client_fill(struct client *c)
{
	struct mqtt_packet	 pkt;
	struct out_slot		*o;
	char			 topic[128], payload[64];
	uint32_t		 slot;
	uint8_t			 q;

	if (c->state != CS_READY || !publishing || finishing ||
	    !plan_publishes(c->idx))
		return;
	while (c->n_out < c->window && c->next_seq < opt_messages) {
		for (slot = 0; slot < c->window; slot++) {
			if (c->out[slot].state == OS_FREE)
				break;
		}
		o = &c->out[slot];
		o->seq = c->next_seq++;
		q = plan_qos(c->idx, o->seq);
		/* pids cycle through 1..window * gens, pid - 1 = slot */
		o->pid = (uint16_t)(1 + slot + c->window *
		    (c->gen++ % (60000 / c->window)));
		o->state = q == 1 ? OS_WAIT_ACK : OS_WAIT_REC;
		c->n_out++;
		n_pub[q]++;
		plan_topic(c->idx, o->seq, topic, sizeof topic);
		snprintf(payload, sizeof payload, "%" PRIu32 ":%" PRIu32,
		    c->idx, o->seq);
		memset(&pkt, 0, sizeof pkt);
		pkt.type = MQTT_PUBLISH;
		pkt.u.publish.qos = q;
		pkt.u.publish.pid = o->pid;
		pkt.u.publish.topic = STR(topic);
		pkt.u.publish.payload = STR(payload);
		client_send(c, &pkt);
	}
}

/* The out slot of an ack's packet id, or NULL. */
static struct out_slot *
client_out_find(struct client *c, uint16_t pid)
{
	uint32_t	 slot;

	if (c->out == NULL || pid == 0)
		return (NULL);
	slot = (uint32_t)(pid - 1) % c->window;
	if (c->out[slot].state == OS_FREE || c->out[slot].pid != pid)
		return (NULL);
	return (&c->out[slot]);
}

/* An outgoing publish was accepted by the broker. */
static void
client_acked(struct client *c, const struct out_slot *o)
{
	uint64_t	 m = (uint64_t)c->idx * opt_messages + o->seq;

	if (!mstats[m].acked) {
		mstats[m].acked = 1;
		mstat_update(m);
	}
}

/* An outgoing publish completed: free its slot and send more. */
static void
client_out_done(struct client *c, struct out_slot *o)
{
	o->state = OS_FREE;
	c->n_out--;
	c->done++;
	if (++n_completed == n_msgs)
		t_published = ev_time();
	client_fill(c);
}

/* PUBACK, PUBREC, PUBCOMP for our publishes. */
static void
client_on_ack(struct client *c, const struct mqtt_packet *pkt)
{
	const struct mqtt_ack	*a = &pkt->u.ack;
	struct out_slot		*o;
	const char		*name = mqtt_type_name(pkt->type);

	o = client_out_find(c, a->pid);
	if (o == NULL || (pkt->type == MQTT_PUBACK &&
	    o->state != OS_WAIT_ACK) || (pkt->type == MQTT_PUBCOMP &&
	    o->state != OS_WAIT_COMP) || (pkt->type == MQTT_PUBREC &&
	    o->state == OS_WAIT_ACK)) {
		client_kill(c, "%s for unknown packet id %u", name, a->pid);
		return;
	}
	if (a->rc >= 0x80 || a->rc == 0x10) {
		/* 0x10: no matching subscribers, yet there are */
		violation(V_ACK, "client %" PRIu32 ": %s reason 0x%02x for "
		    "message %" PRIu32 ":%" PRIu32, c->idx, name, a->rc,
		    c->idx, o->seq);
		if (a->rc >= 0x80) {
			client_out_done(c, o);
			return;
		}
	}
	switch (pkt->type) {
	case MQTT_PUBACK:
		client_acked(c, o);
		client_out_done(c, o);
		break;
	case MQTT_PUBREC:
		/* A repeated PUBREC in OS_WAIT_COMP gets PUBREL again. */
		client_acked(c, o);
		o->state = OS_WAIT_COMP;
		client_send_ack(c, MQTT_PUBREL, a->pid, 0);
		break;
	case MQTT_PUBCOMP:
		client_out_done(c, o);
		break;
	default:
		break;
	}
}

/* Parse "<decimal>" of a view; -1 if not a number below limit. */
static int64_t
parse_u32(const uint8_t *p, size_t len, uint32_t limit)
{
	uint64_t	 v = 0;
	size_t		 i;

	if (len == 0 || len > 10)
		return (-1);
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9')
			return (-1);
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	if (v >= limit)
		return (-1);
	return ((int64_t)v);
}

/* Parse a payload "<i>:<s>" into publisher pi and sequence ps, or -1. */
static void
parse_payload(const struct mqtt_publish *pb, int64_t *pi, int64_t *ps)
{
	const uint8_t	*colon;

	colon = pb->payload.len == 0 ? NULL :
	    memchr(pb->payload.p, ':', pb->payload.len);
	*pi = *ps = -1;
	if (colon != NULL) {
		*pi = parse_u32(pb->payload.p, (size_t)(colon -
		    pb->payload.p), n_pubs);
		*ps = parse_u32(colon + 1, pb->payload.len -
		    (size_t)(colon + 1 - pb->payload.p), opt_messages);
	}
}

/* MQTT 4.6: first arrivals per (publisher, receiver, topic, qos) in order. */
static void
order_check(uint32_t i, uint32_t s, uint32_t r, uint32_t t, uint8_t q,
    const struct mqtt_publish *pb)
{
	struct ostream	*st;
	uint64_t	 key;
	int		 fresh;

	key = UINT64_C(1) << 63 | (uint64_t)i << 41 | (uint64_t)r << 21 |
	    (uint64_t)t << 1 | (uint64_t)(q - 1);
	st = stream_get(key, &fresh);
	if (!fresh && s <= st->last)
		violation(V_ORDER, "client %" PRIu32 " got message %" PRIu32
		    ":%" PRIu32 " (qos %u, '%.*s') after %" PRIu32 ":%"
		    PRIu32, r, i, s, q, (int)pb->topic.len, pb->topic.p, i,
		    st->last);
	if (fresh || s > st->last)
		st->last = s;
}

/* Check and count a delivered message for client c (shapes but mesh). */
static void
shape_on_message(struct client *c, const struct mqtt_publish *pb)
{
	struct mstat	*ms;
	uint8_t		*a;
	uint64_t	 m;
	int64_t		 pi, ps;
	uint32_t	 i, s, r = c->idx, sub_id = 0;
	char		 topic[128];
	uint8_t		 q;
	int		 first;

	parse_payload(pb, &pi, &ps);
	if (pi < 0 || ps < 0) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": topic '%.*s' "
		    "payload '%.*s'", r, (int)pb->topic.len, pb->topic.p,
		    (int)(pb->payload.len > 40 ? 40 : pb->payload.len),
		    pb->payload.p);
		return;
	}
	i = (uint32_t)pi;
	s = (uint32_t)ps;
	q = plan_qos(i, s);
	plan_topic(i, s, topic, sizeof topic);
	if (pb->topic.len != strlen(topic) ||
	    memcmp(pb->topic.p, topic, pb->topic.len) != 0) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": message %" PRIu32
		    ":%" PRIu32 " on topic '%.*s', published to %s", r, i, s,
		    (int)pb->topic.len, pb->topic.p, topic);
		return;
	}
	if (!plan_subscribes(r)) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": message %" PRIu32
		    ":%" PRIu32 " on '%s', not subscribed", r, i, s, topic);
		return;
	}
	if (pb->qos != min_qos(q, c->qos) || pb->retain) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": message %" PRIu32
		    ":%" PRIu32 " with qos %u retain %d, expected qos %u "
		    "retain 0", r, i, s, pb->qos, pb->retain,
		    min_qos(q, c->qos));
	}
	if (c->version == MQTT_V5) {
		if (pb->props.has & MQTT_HAS(MQTT_PROP_SUB_ID))
			sub_id = pb->props.sub_id;
		if (sub_id != TL_SUBID_OWN)
			violation(V_UNEXPECTED, "client %" PRIu32 ": message %"
			    PRIu32 ":%" PRIu32 " with subscription id %" PRIu32
			    " (MQTT-3.3.4-3)", r, i, s, sub_id);
	}

	m = (uint64_t)i * opt_messages + s;
	ms = &mstats[m];
	n_deliv++;
	c->n_recv++;
	if (opt_shape == SHAPE_SHARE) {
		/* only a member's first arrival has an order to keep */
		if (ms->sh_member == -1)
			ms->sh_member = (int32_t)r;
		if (ms->sh_member == (int32_t)r) {
			first = ms->own == 0;
			sat_inc(&ms->own);
		} else {
			first = ms->sh_other == 0;
			sat_inc(&ms->sh_other);
		}
	} else {
		a = &arrivals[m * n_subs + (r - n_pubs)];
		first = *a == 0;
		if (first)
			n_reached[m]++;
		sat_inc(a);
	}
	if (!first)
		n_dup1++;
	mstat_update(m);
	if (first)
		order_check(i, s, r, opt_shape == SHAPE_FANIN ? i : 0, q, pb);
}

/* Check and count a delivered message for client c. */
static void
client_on_message(struct client *c, const struct mqtt_publish *pb)
{
	struct mstat	*ms;
	uint64_t	 m;
	int64_t		 pi, ps, pd;
	size_t		 plen = strlen(opt_prefix);
	uint32_t	 i, s, d, r = c->idx, sub_id = 0;
	uint8_t		 q;
	int		 first;

	if (opt_shape != SHAPE_MESH) {
		shape_on_message(c, pb);
		return;
	}
	parse_payload(pb, &pi, &ps);
	pd = -1;
	if (pb->topic.len > plen + 1 && memcmp(pb->topic.p, opt_prefix,
	    plen) == 0 && pb->topic.p[plen] == '/')
		pd = parse_u32(pb->topic.p + plen + 1, pb->topic.len - plen - 1,
		    opt_clients);
	if (pi < 0 || ps < 0 || pd < 0) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": topic '%.*s' "
		    "payload '%.*s'", r, (int)pb->topic.len, pb->topic.p,
		    (int)(pb->payload.len > 40 ? 40 : pb->payload.len),
		    pb->payload.p);
		return;
	}
	i = (uint32_t)pi;
	s = (uint32_t)ps;
	d = (uint32_t)pd;
	q = plan_qos(i, s);
	if (plan_dest(i, s) != d) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": message %" PRIu32
		    ":%" PRIu32 " on topic '%.*s', published to %s/%" PRIu32,
		    r, i, s, (int)pb->topic.len, pb->topic.p, opt_prefix,
		    plan_dest(i, s));
		return;
	}
	if (pb->qos != min_qos(q, c->qos) || pb->retain) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": message %" PRIu32
		    ":%" PRIu32 " with qos %u retain %d, expected qos %u "
		    "retain 0", r, i, s, pb->qos, pb->retain,
		    min_qos(q, c->qos));
	}
	if (c->version == MQTT_V5) {
		if (pb->props.has & MQTT_HAS(MQTT_PROP_SUB_ID))
			sub_id = pb->props.sub_id;
		if (sub_id != TL_SUBID_OWN && sub_id != TL_SUBID_SHARED) {
			violation(V_UNEXPECTED, "client %" PRIu32 ": message %"
			    PRIu32 ":%" PRIu32 " with subscription id %" PRIu32
			    " (MQTT-3.3.4-3)", r, i, s, sub_id);
			sub_id = r == d ? TL_SUBID_OWN : TL_SUBID_SHARED;
		}
		if (sub_id == TL_SUBID_OWN && r != d) {
			violation(V_UNEXPECTED, "client %" PRIu32 ": message %"
			    PRIu32 ":%" PRIu32 " on '%.*s' has the id of "
			    "the subscription to %s/%" PRIu32, r, i, s,
			    (int)pb->topic.len, pb->topic.p, opt_prefix, r);
			return;
		}
	}
	if (r != d && !opt_shared) {
		violation(V_UNEXPECTED, "client %" PRIu32 ": message %" PRIu32
		    ":%" PRIu32 " on '%.*s', not subscribed", r, i, s,
		    (int)pb->topic.len, pb->topic.p);
		return;
	}

	m = (uint64_t)i * opt_messages + s;
	ms = &mstats[m];
	n_deliv++;
	if (r == d)
		first = ms->own == 0 && ms->amb == 0 && ms->sh_dest == 0;
	else
		first = ms->sh_member != (int32_t)r;
	if (r != d) {
		if (ms->sh_member == -1)
			ms->sh_member = (int32_t)r;
		sat_inc(&ms->sh_other);
	} else if (c->version != MQTT_V5)
		sat_inc(&ms->amb);
	else if (sub_id == TL_SUBID_SHARED)
		sat_inc(&ms->sh_dest);
	else
		sat_inc(&ms->own);
	if (!first)
		n_dup1++;
	mstat_update(m);
	if (first)
		order_check(i, s, r, d, q, pb);
}

/* An incoming PUBLISH: ack it and count it once. */
static void
client_on_publish(struct client *c, const struct mqtt_publish *pb)
{
	uint32_t	 k;

	t_arrival = ev_now(loop);
	switch (pb->qos) {
	case 0:
		client_on_message(c, pb);
		break;
	case 1:
		client_send_ack(c, MQTT_PUBACK, pb->pid, 0);
		client_on_message(c, pb);
		break;
	case 2:
		client_send_ack(c, MQTT_PUBREC, pb->pid, 0);
		for (k = 0; k < c->n_awrel; k++) {
			if (c->awrel[k] == pb->pid)
				break;
		}
		if (k < c->n_awrel) {
			/* a retransmission before PUBREL: not a new message */
			n_redeliv2++;
			break;
		}
		if (c->n_awrel == c->cap_awrel) {
			c->cap_awrel = c->cap_awrel == 0 ? 8 :
			    c->cap_awrel * 2;
			c->awrel = xreallocarray(c->awrel, c->cap_awrel,
			    sizeof *c->awrel);
		}
		c->awrel[c->n_awrel++] = pb->pid;
		n_awrel_total++;
		client_on_message(c, pb);
		break;
	}
}

/* PUBREL for an incoming QoS 2 message. */
static void
client_on_pubrel(struct client *c, uint16_t pid)
{
	uint32_t	 k;

	for (k = 0; k < c->n_awrel; k++) {
		if (c->awrel[k] == pid)
			break;
	}
	if (k == c->n_awrel) {
		/* allowed after a lost PUBCOMP; never expected here */
		n_pubrel_unknown++;
		client_send_ack(c, MQTT_PUBCOMP, pid,
		    c->version == MQTT_V5 ? 0x92 : 0);
		return;
	}
	c->awrel[k] = c->awrel[--c->n_awrel];
	n_awrel_total--;
	client_send_ack(c, MQTT_PUBCOMP, pid, 0);
}

/* A client is connected and subscribed: once all are, publish. */
static void
client_ready(struct client *c)
{
	c->state = CS_READY;
	if (++n_ready == opt_clients)
		start_publishing();
}

/* CONNACK: subscribe, unless the client only publishes. */
static void
client_on_connack(struct client *c, const struct mqtt_connack *ca)
{
	if (c->state != CS_CONNACK) {
		client_kill(c, "unexpected CONNACK");
		return;
	}
	if (ca->rc != 0) {
		client_kill(c, "CONNACK reason 0x%02x", ca->rc);
		return;
	}
	if (ca->session_present) {
		client_kill(c, "CONNACK with session present after clean "
		    "start");
		return;
	}
	if (c->version == MQTT_V5 &&
	    (ca->props.has & MQTT_HAS(MQTT_PROP_RECEIVE_MAX)) &&
	    ca->props.receive_max < c->window)
		c->window = ca->props.receive_max;
	c->out = xcalloc(c->window, sizeof *c->out);
	n_open--;
	n_connected++;
	if (n_connected == opt_clients)
		t_connected = ev_time();
	if (plan_subscribes(c->idx))
		client_subscribe(c);
	else
		client_ready(c);
	connect_more();
}

/* SUBACK: the granted QoS must be the one asked for. */
static void
client_on_suback(struct client *c, const struct mqtt_suback *sa)
{
	size_t	 k;

	if (c->state != CS_SUBACK || (sa->pid != TL_SUB_PID &&
	    sa->pid != TL_SUB_PID - 1)) {
		client_kill(c, "unexpected SUBACK (packet id %u)", sa->pid);
		return;
	}
	for (k = 0; k < sa->n; k++) {
		if (sa->rcs[k] != c->qos) {
			client_kill(c, "SUBACK %u granted 0x%02x for qos %u",
			    sa->pid, sa->rcs[k], c->qos);
			return;
		}
	}
	if (--c->subacks_left != 0)
		return;
	client_ready(c);
}

/* Act on one packet from the broker. */
static void
client_on_packet(struct client *c, const struct mqtt_packet *pkt)
{
	switch (pkt->type) {
	case MQTT_CONNACK:
		client_on_connack(c, &pkt->u.connack);
		break;
	case MQTT_SUBACK:
		client_on_suback(c, &pkt->u.suback);
		break;
	case MQTT_PUBLISH:
		client_on_publish(c, &pkt->u.publish);
		break;
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
		client_on_ack(c, pkt);
		break;
	case MQTT_PUBREL:
		client_on_pubrel(c, pkt->u.ack.pid);
		break;
	case MQTT_PINGRESP:
		break;
	case MQTT_DISCONNECT:
		client_kill(c, "DISCONNECT reason 0x%02x", pkt->u.reason.rc);
		break;
	default:
		client_kill(c, "unexpected %s", mqtt_type_name(pkt->type));
		break;
	}
}

/* Write what the kernel takes; watch for EV_WRITE if anything is left. */
static void
client_flush(struct client *c)
{
	ssize_t	 n;

	if (c->state == CS_DEAD || c->state == CS_CONNECTING)
		return;
	while (buf_used(&c->tx) != 0) {
		n = write(c->fd, buf_head(&c->tx), buf_used(&c->tx));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n == -1) {
			client_kill(c, "write: %s", strerror(errno));
			return;
		}
		buf_consume(&c->tx, (size_t)n);
	}
	if (buf_used(&c->tx) != 0)
		ev_io_start(loop, &c->wio);
	else
		ev_io_stop(loop, &c->wio);
}

/* Read once and handle every whole packet. */
static void
client_read(struct client *c)
{
	struct mqtt_packet	 pkt;
	enum mqtt_status	 st;
	const char		*why;
	ssize_t			 n;
	size_t			 used, want;

	buf_reserve(&c->rx, TL_READ_SIZE);
	want = c->rx.cap - c->rx.len;
	if (c->slow) {
		if (c->budget == 0) {
			/* read_cb starts reading again */
			ev_io_stop(loop, &c->rio);
			c->paused = 1;
			return;
		}
		if (want > c->budget)
			want = c->budget;
	}
	n = read(c->fd, c->rx.data + c->rx.len, want);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return;
	if (n == -1) {
		client_kill(c, "read: %s", strerror(errno));
		return;
	}
	if (n == 0) {
		client_kill(c, "connection closed by the broker");
		return;
	}
	c->rx.len += (size_t)n;
	if (c->slow)
		c->budget -= (size_t)n;
	while (c->state != CS_DEAD && buf_used(&c->rx) != 0) {
		why = NULL;
		st = mqtt_decode(buf_head(&c->rx), buf_used(&c->rx),
		    c->version | MQTT_CLIENT_SIDE, UINT32_MAX, &pkt, &used,
		    &why);
		if (st == MQTT_MORE)
			break;
		if (st != MQTT_OK) {
			client_kill(c, "undecodable packet from the broker "
			    "(status %d: %s)", (int)st, why != NULL ? why :
			    "?");
			return;
		}
		client_on_packet(c, &pkt);
		if (c->state != CS_DEAD)
			buf_consume(&c->rx, used);
	}
	if (c->state != CS_DEAD && buf_used(&c->rx) == 0)
		buf_release(&c->rx);
	client_flush(c);
	check_done();
}

/* Socket events of a client. */
static void
client_io_cb(EV_P_ ev_io *w, int revents)
{
	struct client	*c = w->data;

	(void)loop;
	if (c->state == CS_CONNECTING) {
		ev_io_stop(EV_A_ &c->wio);
		client_connected(c);
		if (c->state != CS_DEAD)
			client_flush(c);
		return;
	}
	if (revents & EV_READ)
		client_read(c);
	if ((revents & EV_WRITE) && c->state != CS_DEAD)
		client_flush(c);
}

/*
 * Is everything in?  Then wait --settle for late duplicates.  With --idle,
 * once every publish is complete, also watch for arrivals to stop.
 */
static void
check_done(void)
{
	if (finishing || !publishing)
		return;
	if (opt_idle > 0 && n_completed == n_msgs &&
	    !ev_is_active(&idle_timer)) {
		t_arrival = ev_now(loop);
		ev_timer_set(&idle_timer, opt_idle, 0);
		ev_timer_start(loop, &idle_timer);
	}
	if (n_sat != n_msgs || n_completed != n_msgs || n_awrel_total != 0)
		return;
	t_done = ev_time();
	finishing = 1;
	ev_timer_stop(loop, &timeout_timer);
	ev_timer_set(&settle_timer, opt_settle, 0);
	ev_timer_start(loop, &settle_timer);
}

/* The end: disconnect everyone and stop the loop. */
static void
settle_cb(EV_P_ ev_timer *w, int revents)
{
	struct mqtt_packet	 pkt;
	uint32_t		 i;

	(void)w;
	(void)revents;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_DISCONNECT;
	for (i = 0; i < opt_clients; i++) {
		struct client	*c = &clients[i];

		if (c->state == CS_DEAD || c->state == CS_IDLE ||
		    c->state == CS_CONNECTING)
			continue;
		client_send(c, &pkt);
		client_flush(c);
	}
	ev_break(EV_A_ EVBREAK_ALL);
}

/* --idle: stop once nothing has arrived for that long. */
static void
idle_cb(EV_P_ ev_timer *w, int revents)
{
	ev_tstamp	 left;

	(void)revents;
	if (finishing)
		return;
	left = t_arrival + opt_idle - ev_now(EV_A);
	if (left > 0) {
		ev_timer_set(w, left, 0);
		ev_timer_start(EV_A_ w);
		return;
	}
	idle_stop = 1;
	finishing = 1;
	t_done = t_arrival;
	ev_timer_stop(EV_A_ &timeout_timer);
	settle_cb(EV_A_ &settle_timer, 0);
}

/* --read-rate: give each slow client its budget for the next slice. */
static void
read_cb(EV_P_ ev_timer *w, int revents)
{
	uint32_t	 i;

	(void)w;
	(void)revents;
	for (i = 0; i < opt_clients; i++) {
		struct client	*c = &clients[i];

		if (!c->slow)
			continue;
		c->budget = (size_t)(opt_read_rate * TL_SLOW_TICK);
		if (c->paused && c->state != CS_DEAD) {
			c->paused = 0;
			ev_io_start(EV_A_ &c->rio);
		}
	}
}

/* --timeout: give up waiting. */
static void
timeout_cb(EV_P_ ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	fprintf(stderr, "test-load: timed out after %.1f s: %" PRIu32
	    " of %" PRIu32 " connected, %" PRIu32 " subscribed, %" PRIu64
	    " of %" PRIu64 " publishes completed, %" PRIu64 " of %" PRIu64
	    " messages fully delivered, %" PRIu64 " awaiting PUBREL\n",
	    opt_timeout, n_connected, opt_clients, n_ready, n_completed,
	    n_msgs, n_sat, n_msgs, n_awrel_total);
	finishing = 1;
	settle_cb(EV_A_ &settle_timer, 0);
}

/* Keepalive: ping every open client at half the interval. */
static void
ping_cb(EV_P_ ev_timer *w, int revents)
{
	struct mqtt_packet	 pkt;
	uint32_t		 i;

	(void)w;
	(void)revents;
	(void)loop;
	memset(&pkt, 0, sizeof pkt);
	pkt.type = MQTT_PINGREQ;
	for (i = 0; i < opt_clients; i++) {
		struct client	*c = &clients[i];

		if (c->state < CS_SUBACK || c->state == CS_DEAD)
			continue;
		client_send(c, &pkt);
		client_flush(c);
	}
}

/* Go over every message; count and report losses and duplicates. */
static void
final_check(uint64_t *exp1, uint64_t *exp2)
{
	struct mstat	*ms;
	uint64_t	 m;
	uint32_t	 i, s, d, mem;
	unsigned	 own, shared;
	uint8_t		 q, eff;

	*exp1 = *exp2 = 0;
	for (m = 0; m < n_msgs; m++) {
		ms = &mstats[m];
		i = (uint32_t)(m / opt_messages);
		s = (uint32_t)(m % opt_messages);
		if (s >= clients[i].next_seq)
			continue;	/* never published */
		d = plan_dest(i, s);
		q = plan_qos(i, s);
		if (!ms->acked)
			violation(V_ACK, "message %" PRIu32 ":%" PRIu32
			    " (qos %u)", i, s, q);
		mstat_split(ms, d, &own, &shared);
		if (opt_shared && plan_version(d) != MQTT_V5 &&
		    ms->amb == 1 && ms->sh_other == 0)
			n_merged++;
		n_deliv_own += own;
		n_deliv_shared += shared;
		eff = min_qos(q, clients[d].qos);
		if (eff == 2)
			(*exp2)++;
		else
			(*exp1)++;
		if (own == 0 && ms->acked)
			violation(eff == 2 ? V_LOST2 : V_LOST1, "message %"
			    PRIu32 ":%" PRIu32 " never reached %s/%" PRIu32
			    " subscriber %" PRIu32, i, s, opt_prefix, d, d);
		else if (own > 1 && eff == 2)
			violation(V_DUP2, "message %" PRIu32 ":%" PRIu32
			    " reached subscriber %" PRIu32 " %u times", i, s,
			    d, own);
		if (!opt_shared)
			continue;
		mem = ms->sh_member >= 0 ? (uint32_t)ms->sh_member : d;
		eff = min_qos(q, clients[mem].qos);
		if (eff == 2)
			(*exp2)++;
		else
			(*exp1)++;
		if (shared == 0 && ms->acked)
			violation(eff == 2 ? V_LOST2 : V_LOST1, "message %"
			    PRIu32 ":%" PRIu32 " never reached the share "
			    "group", i, s);
		else if (shared > 1 && eff == 2)
			violation(V_DUP2, "message %" PRIu32 ":%" PRIu32
			    " reached the share group %u times (first "
			    "member %" PRIu32 ")", i, s, shared, mem);
	}
}

/* final_check for the shapes but mesh. */
static void
final_check_shape(uint64_t *exp1, uint64_t *exp2)
{
	struct mstat	*ms;
	uint64_t	 m;
	uint32_t	 i, s, j, r;
	unsigned	 got;
	uint8_t		 q, eff;

	*exp1 = *exp2 = 0;
	for (m = 0; m < n_msgs; m++) {
		ms = &mstats[m];
		i = (uint32_t)(m / opt_messages);
		s = (uint32_t)(m % opt_messages);
		if (s >= clients[i].next_seq)
			continue;	/* never published */
		q = plan_qos(i, s);
		if (!ms->acked)
			violation(V_ACK, "message %" PRIu32 ":%" PRIu32
			    " (qos %u)", i, s, q);
		if (opt_shape == SHAPE_SHARE) {
			/* lost: as if at a member of the highest QoS */
			eff = min_qos(q, ms->sh_member >= 0 ?
			    clients[ms->sh_member].qos : (opt_sub_qos == 1 ?
			    1 : 2));
			got = (unsigned)ms->own + ms->sh_other;
			n_deliv_shared += got;
			if (eff == 2)
				(*exp2)++;
			else
				(*exp1)++;
			if (got == 0 && ms->acked)
				violation(eff == 2 ? V_LOST2 : V_LOST1,
				    "message %" PRIu32 ":%" PRIu32 " never "
				    "reached the share group", i, s);
			else if (got > 1 && eff == 2)
				violation(V_DUP2, "message %" PRIu32 ":%"
				    PRIu32 " reached the share group %u "
				    "times, %u at member %" PRId32 " (first)",
				    i, s, got, ms->own, ms->sh_member);
			continue;
		}
		for (j = 0; j < n_subs; j++) {
			r = n_pubs + j;
			eff = min_qos(q, clients[r].qos);
			got = arrivals[m * n_subs + j];
			n_deliv_own += got;
			if (eff == 2)
				(*exp2)++;
			else
				(*exp1)++;
			if (got == 0 && ms->acked)
				violation(eff == 2 ? V_LOST2 : V_LOST1,
				    "message %" PRIu32 ":%" PRIu32 " never "
				    "reached subscriber %" PRIu32, i, s, r);
			else if (got > 1 && eff == 2)
				violation(V_DUP2, "message %" PRIu32 ":%"
				    PRIu32 " reached subscriber %" PRIu32
				    " %u times", i, s, r, got);
		}
	}
}

/* One TAP line. */
static int
tap(int *n, int good, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
tap(int *n, int good, const char *fmt, ...)
{
	va_list	 ap;

	printf("%sok %d - ", good ? "" : "not ", ++*n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	return (good ? 0 : 1);
}

/* Print the counts and the TAP summary; returns the exit status. */
static int
report(void)
{
	uint64_t	 exp1, exp2, want, most = 0;
	double		 secs;
	uint32_t	 i, v5 = 0, members = 0;
	int		 n = 0, bad = 0;

	if (opt_shape == SHAPE_MESH)
		final_check(&exp1, &exp2);
	else
		final_check_shape(&exp1, &exp2);
	for (i = 0; i < opt_clients; i++)
		v5 += clients[i].version == MQTT_V5;
	if (opt_shape == SHAPE_MESH)
		printf("# test-load: %" PRIu32 " clients (%" PRIu32 " MQTT "
		    "3.1.1, %" PRIu32 " MQTT 5), %" PRIu32 " messages each, "
		    "seed %" PRIu64 ", shared subscription %s\n",
		    opt_clients, opt_clients - v5, v5, opt_messages, opt_seed,
		    opt_shared ? "on" : "off");
	else
		printf("# test-load: %s, %" PRIu32 " publishers x %" PRIu32
		    " messages, %" PRIu32 " subscribers (%" PRIu32 " MQTT "
		    "3.1.1, %" PRIu32 " MQTT 5 clients in all), seed %" PRIu64
		    "%s\n", shape_names[opt_shape], n_pubs, opt_messages,
		    n_subs, opt_clients - v5, v5, opt_seed, opt_read_rate ?
		    ", slow subscribers" : "");
	if (t_ready != 0) {
		secs = (t_done != 0 ? t_done : ev_time()) - t_ready;
		printf("# connected in %.2f s, subscribed %.2f s later, "
		    "messages took %.2f s (%.0f publishes/s, %.0f "
		    "deliveries/s)\n", t_connected - t_start,
		    t_ready - t_connected, secs,
		    secs > 0 ? (double)n_completed / secs : 0,
		    secs > 0 ? (double)n_deliv / secs : 0);
	}
	printf("# published %" PRIu64 " (qos 1: %" PRIu64 ", qos 2: %" PRIu64
	    "), completed %" PRIu64 "\n", n_pub[1] + n_pub[2], n_pub[1],
	    n_pub[2], n_completed);
	if (t_published != 0)
		printf("# every publish completed %.2f s after the first\n",
		    t_published - t_ready);
	if (opt_shape == SHAPE_SHARE) {
		for (i = n_pubs; i < opt_clients; i++) {
			if (clients[i].n_recv == 0)
				continue;
			members++;
			if (clients[i].n_recv > most)
				most = clients[i].n_recv;
		}
		printf("# %" PRIu32 " of %" PRIu32 " members got messages, "
		    "at most %" PRIu64 " each\n", members, n_subs, most);
	}
	printf("# deliveries %" PRIu64 " (own topic %" PRIu64 ", shared %"
	    PRIu64 "), expected %" PRIu64 " (qos 1: %" PRIu64 ", qos 2: %"
	    PRIu64 ")\n", n_deliv, n_deliv_own, n_deliv_shared, exp1 + exp2,
	    exp1, exp2);
	if (idle_stop)
		printf("# stopped after %.1f s without arrivals, %" PRIu64
		    " of %" PRIu64 " messages fully delivered, %" PRIu64
		    " awaiting PUBREL\n", opt_idle, n_sat, n_msgs,
		    n_awrel_total);
	printf("# repeated arrivals at a client %" PRIu64 ", qos 2 "
	    "retransmissions %" PRIu64 ", PUBREL for unknown ids %" PRIu64
	    ", one copy for both subscriptions (3.1.1) %" PRIu64 "\n",
	    n_dup1, n_redeliv2, n_pubrel_unknown, n_merged);
	printf("# lost %" PRIu64 " (qos 1: %" PRIu64 ", qos 2: %" PRIu64
	    "), qos 2 duplicated %" PRIu64 "\n", viols[V_LOST1] +
	    viols[V_LOST2], viols[V_LOST1], viols[V_LOST2], viols[V_DUP2]);

	bad |= tap(&n, viols[V_CONNECT] == 0 && n_ready == opt_clients,
	    "%" PRIu32 " of %" PRIu32 " clients connected and subscribed, "
	    "none dropped", n_ready, opt_clients);
	want = n_msgs;
	bad |= tap(&n, viols[V_ACK] == 0 && n_completed == want,
	    "%" PRIu64 " of %" PRIu64 " publishes acknowledged",
	    n_completed, want);
	bad |= tap(&n, viols[V_LOST1] == 0, "qos 1: every delivery arrived "
	    "at least once (%" PRIu64 " lost)", viols[V_LOST1]);
	bad |= tap(&n, viols[V_LOST2] == 0 && viols[V_DUP2] == 0,
	    "qos 2: every delivery arrived exactly once (%" PRIu64 " lost, %"
	    PRIu64 " duplicated)", viols[V_LOST2], viols[V_DUP2]);
	bad |= tap(&n, viols[V_ORDER] == 0, "per-publisher order kept (%"
	    PRIu64 " out of order)", viols[V_ORDER]);
	bad |= tap(&n, viols[V_UNEXPECTED] == 0, "no unexpected messages (%"
	    PRIu64 ")", viols[V_UNEXPECTED]);
	printf("1..%d\n", n);
	return (bad ? 1 : 0);
}

/* Parse a number option within [lo, hi] or exit. */
static uint64_t
num_opt(const char *name, const char *s, uint64_t lo, uint64_t hi)
{
	char			*end;
	unsigned long long	 v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "test-load: --%s: want a number in %" PRIu64
		    "..%" PRIu64 ", not '%s'\n", name, lo, hi, s);
		exit(2);
	}
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
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    rl.rlim_cur < (rlim_t)opt_clients + 32) {
		fprintf(stderr, "test-load: %" PRIu32 " clients need more "
		    "open files than the limit, %llu\n", opt_clients,
		    (unsigned long long)rl.rlim_cur);
		exit(2);
	}
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "clients", required_argument, NULL, 'n' },
		{ "messages", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "seed", required_argument, NULL, 's' },
		{ "protocol", required_argument, NULL, 'P' },
		{ "window", required_argument, NULL, 'w' },
		{ "connect-window", required_argument, NULL, 'c' },
		{ "no-shared", no_argument, NULL, 'S' },
		{ "settle", required_argument, NULL, 'e' },
		{ "prefix", required_argument, NULL, 'x' },
		{ "keepalive", required_argument, NULL, 'k' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "shape", required_argument, NULL, OPT_SHAPE },
		{ "publishers", required_argument, NULL, OPT_PUBLISHERS },
		{ "subscribers", required_argument, NULL, OPT_SUBSCRIBERS },
		{ "pub-qos", required_argument, NULL, OPT_PUB_QOS },
		{ "sub-qos", required_argument, NULL, OPT_SUB_QOS },
		{ "idle", required_argument, NULL, OPT_IDLE },
		{ "read-rate", required_argument, NULL, OPT_READ_RATE },
		{ NULL, 0, NULL, 0 }
	};
	struct addrinfo	 hints;
	uint64_t	 n_arrivals;
	uint32_t	 i;
	int		 ch, error, clients_set = 0;

	while ((ch = getopt_long(argc, argv, "h:p:n:m:t:s:P:w:c:Se:x:k:v",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 'h':
			opt_host = optarg;
			break;
		case 'p':
			opt_port = optarg;
			break;
		case 'n':
			opt_clients = (uint32_t)num_opt("clients", optarg, 1,
			    TL_MAX_CLIENTS - 1);
			clients_set = 1;
			break;
		case 'm':
			opt_messages = (uint32_t)num_opt("messages", optarg, 0,
			    TL_MAX_MESSAGES);
			break;
		case 't':
			opt_timeout = (double)num_opt("timeout", optarg, 1,
			    86400);
			break;
		case 's':
			opt_seed = num_opt("seed", optarg, 0, UINT64_MAX);
			break;
		case 'P':
			if (strcmp(optarg, "mix") == 0)
				opt_protocol = 0;
			else if (strcmp(optarg, "3.1.1") == 0 ||
			    strcmp(optarg, "4") == 0)
				opt_protocol = MQTT_V311;
			else if (strcmp(optarg, "5") == 0)
				opt_protocol = MQTT_V5;
			else
				usage();
			break;
		case 'w':
			opt_window = (uint32_t)num_opt("window", optarg, 1,
			    1000);
			break;
		case 'c':
			opt_connect_window = (uint32_t)num_opt(
			    "connect-window", optarg, 1, 100000);
			break;
		case 'S':
			opt_shared = 0;
			break;
		case 'e':
			opt_settle = (double)num_opt("settle", optarg, 0,
			    60000) / 1000.0;
			break;
		case 'x':
			opt_prefix = optarg;
			if (strlen(opt_prefix) > 64 || *opt_prefix == '\0' ||
			    strpbrk(opt_prefix, "+#") != NULL)
				usage();
			break;
		case 'k':
			opt_keepalive = (uint16_t)num_opt("keepalive", optarg,
			    2, 65535);
			break;
		case 'v':
			opt_verbose = 1;
			break;
		case OPT_SHAPE:
			for (i = 0; i <= SHAPE_SHARE; i++) {
				if (strcmp(optarg, shape_names[i]) == 0)
					break;
			}
			if (i > SHAPE_SHARE)
				usage();
			opt_shape = (enum shape)i;
			break;
		case OPT_PUBLISHERS:
			opt_publishers = (uint32_t)num_opt("publishers",
			    optarg, 1, TL_MAX_CLIENTS / 2);
			break;
		case OPT_SUBSCRIBERS:
			opt_subscribers = (uint32_t)num_opt("subscribers",
			    optarg, 1, TL_MAX_CLIENTS / 2);
			break;
		case OPT_PUB_QOS:
			opt_pub_qos = strcmp(optarg, "mix") == 0 ? 0 :
			    (int)num_opt("pub-qos", optarg, 1, 2);
			break;
		case OPT_SUB_QOS:
			opt_sub_qos = strcmp(optarg, "mix") == 0 ? 0 :
			    (int)num_opt("sub-qos", optarg, 1, 2);
			break;
		case OPT_IDLE:
			opt_idle = (double)num_opt("idle", optarg, 1,
			    600000) / 1000.0;
			break;
		case OPT_READ_RATE:
			opt_read_rate = (uint32_t)num_opt("read-rate", optarg,
			    (uint64_t)(1 / TL_SLOW_TICK), UINT32_MAX);
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (opt_shape == SHAPE_MESH) {
		if (opt_publishers != 0 || opt_subscribers != 0 ||
		    opt_read_rate != 0) {
			fprintf(stderr, "test-load: --publishers, "
			    "--subscribers and --read-rate are for the other "
			    "shapes\n");
			exit(2);
		}
		n_pubs = n_subs = opt_clients;
		if (opt_sub_qos == -1)
			opt_sub_qos = 0;
	} else {
		if (clients_set || !opt_shared) {
			fprintf(stderr, "test-load: --clients and --no-shared "
			    "are for --shape mesh\n");
			exit(2);
		}
		n_pubs = opt_publishers != 0 ? opt_publishers :
		    opt_shape == SHAPE_FANIN ? 100 : 1;
		n_subs = opt_subscribers != 0 ? opt_subscribers :
		    opt_shape == SHAPE_FANIN ? 1 :
		    opt_shape == SHAPE_FANOUT ? 100 : 1000;
		opt_clients = n_pubs + n_subs;
		if (opt_sub_qos == -1)
			opt_sub_qos = opt_shape == SHAPE_FANOUT ? 0 : 2;
	}
	if ((uint64_t)n_pubs * opt_messages > (UINT64_C(1) << 32)) {
		fprintf(stderr, "test-load: publishers x messages is too "
		    "large\n");
		exit(2);
	}
	n_msgs = (uint64_t)n_pubs * opt_messages;
	n_arrivals = opt_shape == SHAPE_FANIN || opt_shape == SHAPE_FANOUT ?
	    n_msgs * n_subs : 0;
	if (n_arrivals > TL_MAX_ARRIVALS) {
		fprintf(stderr, "test-load: publishers x messages x "
		    "subscribers is too large\n");
		exit(2);
	}
	raise_nofile();
	signal(SIGPIPE, SIG_IGN);
	snprintf(shared_filter, sizeof shared_filter, "$share/tl/%s/+",
	    opt_prefix);

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((error = getaddrinfo(opt_host, opt_port, &hints, &server)) != 0) {
		fprintf(stderr, "test-load: %s port %s: %s\n", opt_host,
		    opt_port, gai_strerror(error));
		exit(2);
	}

	clients = xcalloc(opt_clients, sizeof *clients);
	mstats = xcalloc(n_msgs == 0 ? 1 : n_msgs, sizeof *mstats);
	for (i = 0; i < n_msgs; i++)
		mstats[i].sh_member = -1;
	if (n_arrivals != 0) {
		arrivals = xcalloc(n_arrivals, 1);
		n_reached = xcalloc(n_msgs, sizeof *n_reached);
	}
	for (i = 0; i < opt_clients; i++) {
		clients[i].idx = i;
		clients[i].fd = -1;
		clients[i].version = plan_version(i);
		clients[i].qos = plan_sub_qos(i);
		clients[i].slow = opt_read_rate != 0 && !plan_publishes(i);
		clients[i].budget = (size_t)(opt_read_rate * TL_SLOW_TICK);
		clients[i].window = opt_window < opt_messages ? opt_window :
		    (opt_messages == 0 ? 1 : opt_messages);
		buf_init(&clients[i].rx);
		buf_init(&clients[i].tx);
	}

	loop = ev_default_loop(EVFLAG_AUTO);
	t_start = ev_time();
	ev_timer_init(&timeout_timer, timeout_cb, opt_timeout, 0);
	ev_timer_start(loop, &timeout_timer);
	ev_timer_init(&settle_timer, settle_cb, opt_settle, 0);
	ev_timer_init(&ping_timer, ping_cb, opt_keepalive / 2.0,
	    opt_keepalive / 2.0);
	ev_timer_start(loop, &ping_timer);
	ev_timer_init(&idle_timer, idle_cb, 0, 0);
	ev_timer_init(&read_timer, read_cb, TL_SLOW_TICK, TL_SLOW_TICK);
	if (opt_read_rate != 0)
		ev_timer_start(loop, &read_timer);
	connect_more();
	ev_run(loop, 0);
	if (opt_verbose)
		fprintf(stderr, "test-load: %" PRIu32 " clients died\n",
		    n_dead);
	return (report());
}
