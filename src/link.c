/*
 * link.c: node links (see link.h, wire.h and docs/cluster.md).
 *
 * Ownership and threading: everything here belongs to the node loop (the
 * main thread's libev loop) but link_peers(), which copies a snapshot kept
 * under link_snap_lock; the node loop rebuilds that snapshot whenever a
 * peer changes state, so readers never touch a live peer or connection.
 *
 * Each pair of nodes has one control connection (kind 0) and up to
 * cluster.link.data_connections data connections (kinds 1..N).  Both
 * sides dial the peers they know; when both dial at once, the connection
 * dialled by the node with the smaller name wins (the other is refused as
 * a duplicate), so a pair settles on one connection per kind.  The side
 * that dialled the control connection dials the data connections once the
 * control connection is up.
 *
 * Handshake (every connection): the dialer sends HELLO (its nonce is the
 * challenge to the acceptor); the acceptor checks the cluster name, the
 * node and the versions and answers HELLO or REFUSE; the dialer answers
 * AUTH, an HMAC-SHA256 keyed by node.cookie over both HELLO payloads (so
 * both node ids and both nonces are bound in); the acceptor checks it and
 * answers WELCOME, its own MAC over the same bytes with another label, or
 * REFUSE.  The cookie never crosses the wire, and nothing is accepted
 * without both MACs.
 *
 * Cut-offs: garbage (a frame the decoder rejects, a frame the state does
 * not expect), a frame started and not finished within
 * cluster.link.frame_timeout, more than LINK_HS_BUDGET bytes before the
 * handshake is over, a frame over cluster.link.max_frame_size, a peer that
 * does not read (cluster.link.max_buffer queued), a handshake not over
 * within cluster.link.handshake_timeout, and silence past
 * cluster.link.down_timeout.  Each is logged with the peer and the reason;
 * a connection is freed only from the ev_prepare hook, never inside its
 * own callback.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/md.h>

#include "buf.h"
#include "config.h"
#include "link.h"
#include "log.h"
#include "store.h"
#include "wire.h"
#include "xmalloc.h"

#define LINK_MAX_DATA		8
#define LINK_KINDS		(1 + LINK_MAX_DATA)
#define LINK_HS_BUDGET		65536	/* input allowed before auth */
#define LINK_READ_CHUNK		65536
#define LINK_MAX_PENDING	64	/* inbound connections in handshake */
#define LINK_BACKOFF_MIN	0.1
#define LINK_CONN_MAGIC		0x4c4e4b43u
#define LINK_LABEL_DIALER	"flockmq link v1 dialer"
#define LINK_LABEL_ACCEPTOR	"flockmq link v1 acceptor"

extern struct config	*config;

/* Connection states; a connection only moves forward. */
enum link_cstate {
	LC_CONNECTING,		/* outbound, connect() in progress */
	LC_HELLO,		/* waiting for the peer's HELLO */
	LC_AUTH,		/* acceptor: HELLO sent, waiting for AUTH */
	LC_WELCOME,		/* dialer: AUTH sent, waiting for WELCOME */
	LC_UP,			/* authenticated; heartbeats both ways */
	LC_CLOSED		/* on link_closed, freed before sleeping */
};

struct link_peer;

struct link_conn {
	uint32_t	 magic;
	int		 fd;
	enum link_cstate state;
	bool		 outbound;
	int		 kind;		/* 0 control, 1.. data */
	struct link_peer *peer;		/* NULL until the HELLO names it */
	char		 addr[64];	/* the peer's address, host:port */
	ev_io		 rio, wio;
	ev_timer	 deadline;	/* handshake, then liveness */
	ev_timer	 frame_timer;	/* a frame started and not finished */
	ev_timer	 hb_timer;	/* heartbeats out */
	struct buf	 rx, tx;
	struct buf	 hello_mine, hello_theirs;	/* payloads, for MACs */
	uint8_t		 nonce[WIRE_NONCE_LEN];
	uint64_t	 hb_seq;
	size_t		 rx_total;
	/* From the peer's HELLO, applied to the peer once it is up. */
	char		 hname[256];
	uint64_t	 h_id, h_boot;
	int		 h_role, h_ndata;
	uint16_t	 h_port;
	char		 h_version[64];
	int		 agreed[WIRE_SUB_COUNT];
	struct link_conn *next;		/* link_conns or link_closed */
};

struct link_peer {
	char		*name;
	char		*host;		/* to dial; NULL: not known yet */
	uint16_t	 port;
	bool		 seed;
	uint64_t	 node_id, boot;
	int		 role;
	char		*version;
	int		 agreed[WIRE_SUB_COUNT];
	int		 n_data;	/* data connections agreed */
	struct link_conn *conn[LINK_KINDS];	/* up, or being dialled */
	ev_timer	 dial_timer;
	double		 backoff;
	char		 reason[256];	/* why not running */
	char		 in_reason[256];	/* why we last refused it */
	struct link_peer *next;
};

static struct ev_loop	*link_loop;
static int		 link_fd = -1;
static ev_io		 link_accept_io;
static ev_timer		 link_accept_pause;
static ev_prepare	 link_prepare;
static struct link_conn	*link_conns;
static struct link_conn	*link_closed;
static struct link_peer	*link_peer_list;
static uint64_t		 link_id, link_boot_n;
static bool		 link_running;
static char		*link_listen_text;
static struct sockaddr_storage link_src;	/* our address, port 0 */
static socklen_t	 link_srclen;
static ev_tstamp	 link_refused_at;
static pthread_mutex_t	 link_snap_lock = PTHREAD_MUTEX_INITIALIZER;
static struct link_peer_info *link_snap;
static size_t		 link_nsnap;

/*
 * The version ranges this build speaks.  A build made for the rolling
 * upgrade tests (-DLINK_TEST_VERSIONS, t/helper/flockmq-wire) reads others
 * from WIRE_TEST_VERSIONS, "raft=2-3,route=1-2"; no other build does.
 */
static struct wire_range link_ranges[WIRE_SUB_COUNT] = {
	[WIRE_SUB_LINK] = { 1, 1 },
	[WIRE_SUB_RAFT] = { 1, 1 },
	[WIRE_SUB_ROUTE] = { 1, 1 },
	[WIRE_SUB_FORWARD] = { 1, 1 },
};
static char		 link_ranges_buf[128];
static struct link_hooks link_hooks;

static void	link_conn_close(struct link_conn *, const char *why, bool);
static void	link_dial(struct link_peer *, int kind);
static void	link_send_flush(struct link_conn *);
static void	link_publish(void);

/* "link 1..1, raft 1..1, ..." */
const char *
link_ranges_text(void)
{
	size_t		 i, n = 0;

	link_ranges_buf[0] = '\0';
	for (i = 0; i < WIRE_SUB_COUNT; i++)
		n += (size_t)snprintf(link_ranges_buf + n,
		    sizeof link_ranges_buf - n, "%s%s %u..%u", i ? ", " : "",
		    wire_subsys_name(i), link_ranges[i].min,
		    link_ranges[i].max);
	return (link_ranges_buf);
}

#ifdef LINK_TEST_VERSIONS
/* Read WIRE_TEST_VERSIONS (test builds only). */
static void
link_test_versions(void)
{
	const char	*s = getenv("WIRE_TEST_VERSIONS"), *e;
	unsigned int	 lo, hi;
	int		 id;

	while (s != NULL && *s != '\0') {
		if ((e = strchr(s, '=')) == NULL ||
		    (id = wire_subsys_find(s, (size_t)(e - s))) == -1 ||
		    sscanf(e + 1, "%u-%u", &lo, &hi) != 2 || lo > hi ||
		    hi > 65535)
			fatal("cluster: bad WIRE_TEST_VERSIONS '%s'", s);
		link_ranges[id].min = (uint16_t)lo;
		link_ranges[id].max = (uint16_t)hi;
		if ((s = strchr(e, ',')) != NULL)
			s++;
	}
}
#endif

/* Load the node id (made once) and count this boot, both in the store. */
static int
link_identity(char **cause)
{
	struct str	 v;
	uint8_t		 b[8];
	char		*err = NULL;
	int		 i, rv;

	rv = store_get(STR("m/node_id"), &v, &err);
	if (rv == -1)
		goto fail;
	if (rv == 1 && v.len == 8) {
		for (i = 0, link_id = 0; i < 8; i++)
			link_id = link_id << 8 | v.p[i];
	}
	if (rv == 1)
		free((void *)v.p);
	if (link_id == 0) {
		do {
			if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
				fatal("cluster: getrandom failed");
			for (i = 0, link_id = 0; i < 8; i++)
				link_id = link_id << 8 | b[i];
		} while (link_id == 0);
		if (store_put(STR("m/node_id"), (struct str){ b, 8 }, true,
		    &err) != 0)
			goto fail;
		log_notice("cluster: new node id %016llx",
		    (unsigned long long)link_id);
	}
	link_boot_n = 0;
	rv = store_get(STR("m/boot"), &v, &err);
	if (rv == -1)
		goto fail;
	if (rv == 1 && v.len == 8) {
		for (i = 0; i < 8; i++)
			link_boot_n = link_boot_n << 8 | v.p[i];
	}
	if (rv == 1)
		free((void *)v.p);
	link_boot_n++;
	for (i = 0; i < 8; i++)
		b[i] = (uint8_t)(link_boot_n >> (56 - 8 * i));
	/* Persisted before any peer hears of it. */
	if (store_put(STR("m/boot"), (struct str){ b, 8 }, true, &err) != 0)
		goto fail;
	return (0);
fail:
	xasprintf(cause, "cluster: cannot keep the node id in the store: %s",
	    err != NULL ? err : "?");
	free(err);
	return (-1);
}

/* This node's persistent id. */
uint64_t
link_node_id(void)
{
	return (link_id);
}

/* This node's boot counter. */
uint64_t
link_boot(void)
{
	return (link_boot_n);
}

/* Split "name@host[:port]" into host and port (default port). */
static int
link_split_node(const char *node, char **name, char **host, uint16_t *port)
{
	const char	*at = strchr(node, '@'), *h, *c;
	char		*end;
	long		 p;

	if (at == NULL)
		return (-1);
	h = at + 1;
	*port = (uint16_t)config->cluster_link_port;
	if (*h == '[') {
		if ((c = strchr(h, ']')) == NULL)
			return (-1);
		*host = xstrndup(h + 1, (size_t)(c - h - 1));
		c++;
		if (*c != '\0' && *c != ':')
			goto bad;
	} else if ((c = strchr(h, ':')) != NULL && strchr(c + 1, ':') == NULL)
		*host = xstrndup(h, (size_t)(c - h));
	else {
		*host = xstrdup(h);
		c = NULL;
	}
	if (c != NULL && *c == ':') {
		p = strtol(c + 1, &end, 10);
		if (c[1] == '\0' || *end != '\0' || p < 1 || p > 65535)
			goto bad;
		*port = (uint16_t)p;
		*name = xstrndup(node, (size_t)(c - node));
	} else
		*name = xstrdup(node);
	return (0);
bad:
	free(*host);
	*host = NULL;
	return (-1);
}

/* The peer named name, or NULL. */
static struct link_peer *
link_peer_find(const char *name, size_t len)
{
	struct link_peer	*p;

	for (p = link_peer_list; p != NULL; p = p->next)
		if (strlen(p->name) == len && memcmp(p->name, name, len) == 0)
			return (p);
	return (NULL);
}

/* Dial timer: try the connections of this peer that are missing. */
static void
link_dial_cb(EV_P_ ev_timer *w, int revents)
{
	struct link_peer	*p = w->data;

	(void)loop;
	(void)revents;
	if (p->conn[0] == NULL)
		link_dial(p, 0);
}

/* A new peer (not yet linked). */
static struct link_peer *
link_peer_new(const char *name, size_t len)
{
	struct link_peer	*p = xcalloc(1, sizeof *p);

	p->name = xstrndup(name, len);
	p->role = -1;
	p->backoff = LINK_BACKOFF_MIN;
	ev_timer_init(&p->dial_timer, link_dial_cb, 0, 0);
	p->dial_timer.data = p;
	p->next = link_peer_list;
	link_peer_list = p;
	return (p);
}

/* Schedule the next dial of p's control connection, with backoff. */
static void
link_redial(struct link_peer *p)
{
	double	 max = config->cluster_link_reconnect_interval / 1000.0;

	if (!link_running || p->host == NULL || p->conn[0] != NULL)
		return;
	ev_timer_stop(link_loop, &p->dial_timer);
	ev_timer_set(&p->dial_timer, p->backoff, 0);
	ev_timer_start(link_loop, &p->dial_timer);
	p->backoff = p->backoff * 2 > max ? max : p->backoff * 2;
}

/* Whether p is running: its control connection is up. */
static bool
link_peer_running(const struct link_peer *p)
{
	return (p->conn[0] != NULL && p->conn[0]->state == LC_UP);
}

/* Rebuild the snapshot other threads read. */
static void
link_publish(void)
{
	struct link_peer_info	*v = NULL, *i;
	struct link_peer	*p;
	size_t			 n = 0, k;
	int			 j;

	for (p = link_peer_list; p != NULL; p = p->next)
		n++;
	if (n != 0)
		v = xcalloc(n, sizeof *v);
	for (p = link_peer_list, i = v; p != NULL; p = p->next, i++) {
		snprintf(i->name, sizeof i->name, "%s", p->name);
		if (p->conn[0] != NULL)
			snprintf(i->addr, sizeof i->addr, "%s",
			    p->conn[0]->addr);
		else if (p->host != NULL)
			snprintf(i->addr, sizeof i->addr, "%s:%u", p->host,
			    p->port);
		if (p->host != NULL)
			snprintf(i->listen, sizeof i->listen, strchr(p->host,
			    ':') != NULL ? "[%s]:%u" : "%s:%u", p->host,
			    p->port);
		snprintf(i->version, sizeof i->version, "%s",
		    p->version != NULL ? p->version : "");
		i->running = link_peer_running(p);
		i->role = p->role;
		i->node_id = p->node_id;
		i->boot = p->boot;
		for (j = 0; j < WIRE_SUB_COUNT; j++)
			i->agreed[j] = i->running ? p->agreed[j] : 0;
		for (k = 1; k < LINK_KINDS; k++)
			if (p->conn[k] != NULL && p->conn[k]->state == LC_UP)
				i->data_up++;
		snprintf(i->reason, sizeof i->reason, "%s",
		    i->running ? "" : p->reason);
	}
	pthread_mutex_lock(&link_snap_lock);
	free(link_snap);
	link_snap = v;
	link_nsnap = n;
	pthread_mutex_unlock(&link_snap_lock);
}

/* A copy of the peers; see link.h. */
size_t
link_peers(struct link_peer_info **out)
{
	size_t	 n;

	pthread_mutex_lock(&link_snap_lock);
	n = link_nsnap;
	*out = n != 0 ? xreallocarray(NULL, n, sizeof **out) : NULL;
	if (n != 0)
		memcpy(*out, link_snap, n * sizeof **out);
	pthread_mutex_unlock(&link_snap_lock);
	return (n);
}

/* How the connection is named in log lines: peer 'name' (addr) or addr. */
static const char *
link_who(const struct link_conn *c)
{
	static char	 b[400];

	if (c->peer != NULL || c->hname[0] != '\0')
		snprintf(b, sizeof b, "peer '%s' (%s%s)", c->peer != NULL ?
		    c->peer->name : c->hname, c->addr, c->kind != 0 ?
		    ", data" : "");
	else
		snprintf(b, sizeof b, "peer %s", c->addr);
	return (b);
}

/* Format a socket address as host:port. */
static void
link_addr_text(const struct sockaddr *sa, char *b, size_t len)
{
	char		 h[INET6_ADDRSTRLEN];
	uint16_t	 port = 0;

	h[0] = '\0';
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    h, sizeof h);
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		snprintf(b, len, "%s:%u", h, port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, h, sizeof h);
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		snprintf(b, len, "[%s]:%u", h, port);
	} else
		snprintf(b, len, "?");
}

/* The watchers' shared parts. */
static void	link_read_cb(EV_P_ ev_io *, int);
static void	link_write_cb(EV_P_ ev_io *, int);
static void	link_deadline_cb(EV_P_ ev_timer *, int);
static void	link_frame_cb(EV_P_ ev_timer *, int);
static void	link_hb_cb(EV_P_ ev_timer *, int);

/* A connection on fd (connected or connecting). */
static struct link_conn *
link_conn_new(int fd, bool outbound, int kind)
{
	struct link_conn	*c = xcalloc(1, sizeof *c);

	c->magic = LINK_CONN_MAGIC;
	c->fd = fd;
	c->outbound = outbound;
	c->kind = kind;
	buf_init(&c->rx);
	buf_init(&c->tx);
	buf_init(&c->hello_mine);
	buf_init(&c->hello_theirs);
	ev_io_init(&c->rio, link_read_cb, fd, EV_READ);
	ev_io_init(&c->wio, link_write_cb, fd, EV_WRITE);
	ev_timer_init(&c->deadline, link_deadline_cb, 0,
	    config->cluster_link_handshake_timeout / 1000.0);
	ev_timer_init(&c->frame_timer, link_frame_cb,
	    config->cluster_link_frame_timeout / 1000.0, 0);
	ev_timer_init(&c->hb_timer, link_hb_cb,
	    config->cluster_link_heartbeat_interval / 1000.0,
	    config->cluster_link_heartbeat_interval / 1000.0);
	c->rio.data = c->wio.data = c->deadline.data = c;
	c->frame_timer.data = c->hb_timer.data = c;
	ev_timer_again(link_loop, &c->deadline);
	c->next = link_conns;
	link_conns = c;
	return (c);
}

/* Free a closed connection (ev_prepare only). */
static void
link_conn_free(struct link_conn *c)
{
	buf_release(&c->rx);
	buf_release(&c->tx);
	buf_release(&c->hello_mine);
	buf_release(&c->hello_theirs);
	c->magic = 0;
	free(c);
}

/* Before sleeping: free the connections closed this turn. */
static void
link_prepare_cb(EV_P_ ev_prepare *w, int revents)
{
	struct link_conn	*c;

	(void)loop;
	(void)w;
	(void)revents;
	while ((c = link_closed) != NULL) {
		link_closed = c->next;
		link_conn_free(c);
	}
}

/* The connection's peer lost its control connection: stopped. */
static void
link_peer_down(struct link_peer *p, const char *why)
{
	size_t	 k;

	for (k = 1; k < LINK_KINDS; k++)
		if (p->conn[k] != NULL)
			link_conn_close(p->conn[k], "control connection closed",
			    true);
	snprintf(p->reason, sizeof p->reason, "%s", why);
	log_warn("cluster: peer '%s' is down: %s", p->name, why);
	link_redial(p);
	if (link_hooks.down != NULL)
		link_hooks.down(p->node_id, p->name);
}

/*
 * Close c: stop its watchers, detach it from its peer and queue it for
 * freeing.  quiet logs at debug only (a duplicate, a replaced one).
 */
static void
link_conn_close(struct link_conn *c, const char *why, bool quiet)
{
	struct link_conn	**pp;
	struct link_peer	*p = c->peer;
	bool			 was_up = c->state == LC_UP;

	if (c->state == LC_CLOSED)
		return;
	if (quiet)
		log_debug("cluster: closed %s: %s", link_who(c), why);
	c->state = LC_CLOSED;
	ev_io_stop(link_loop, &c->rio);
	ev_io_stop(link_loop, &c->wio);
	ev_timer_stop(link_loop, &c->deadline);
	ev_timer_stop(link_loop, &c->frame_timer);
	ev_timer_stop(link_loop, &c->hb_timer);
	if (c->fd != -1) {
		/* Try to get a REFUSE queued by the caller out. */
		if (buf_used(&c->tx) != 0)
			(void)send(c->fd, buf_head(&c->tx), buf_used(&c->tx),
			    MSG_DONTWAIT | MSG_NOSIGNAL);
		close(c->fd);
		c->fd = -1;
	}
	for (pp = &link_conns; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	c->next = link_closed;
	link_closed = c;
	if (p != NULL && p->conn[c->kind] == c) {
		p->conn[c->kind] = NULL;
		if (c->kind == 0) {
			if (was_up)
				link_peer_down(p, why);
			else {
				if (strcmp(why, "refused") != 0)
					snprintf(p->reason, sizeof p->reason,
					    "%s", why);
				link_redial(p);
			}
		}
		link_publish();
	}
}

static void
link_cut(struct link_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Log why c is cut off and close it. */
static void
link_cut(struct link_conn *c, const char *fmt, ...)
{
	va_list	 ap;
	char	 why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	log_warn("cluster: cut off %s: %s", link_who(c), why);
	link_conn_close(c, why, false);
}

static void
link_refuse(struct link_conn *c, uint8_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Refuse: log, send REFUSE, close. */
static void
link_refuse(struct link_conn *c, uint8_t code, const char *fmt, ...)
{
	struct link_peer	*p;
	va_list			 ap;
	char			 why[256];

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	p = c->peer != NULL ? c->peer : link_peer_find(c->hname,
	    strlen(c->hname));
	/* The same refusal again (the peer retries): once is enough. */
	if (code == WIRE_R_DUPLICATE || (p != NULL &&
	    strcmp(p->in_reason, why) == 0))
		log_debug("cluster: refused %s: %s", link_who(c), why);
	else
		log_warn("cluster: refused %s: %s", link_who(c), why);
	if (p != NULL && code != WIRE_R_DUPLICATE)
		snprintf(p->in_reason, sizeof p->in_reason, "%s", why);
	wire_refuse_encode(&c->tx, code, why);
	link_conn_close(c, why, code == WIRE_R_DUPLICATE);
}

/* Queue bytes already in c->tx: write what the socket takes now. */
static void
link_send_flush(struct link_conn *c)
{
	ssize_t	 n;

	while (buf_used(&c->tx) != 0) {
		n = send(c->fd, buf_head(&c->tx), buf_used(&c->tx),
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->tx, (size_t)n);
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		link_cut(c, "write failed: %s", n == -1 ?
		    strerror(errno) : "closed");
		return;
	}
	if (buf_used(&c->tx) == 0) {
		ev_io_stop(link_loop, &c->wio);
		buf_shrink(&c->tx);
		return;
	}
	if ((int64_t)buf_used(&c->tx) > config->cluster_link_max_buffer) {
		link_cut(c, "not reading: %zu bytes queued, more than "
		    "cluster.link.max_buffer", buf_used(&c->tx));
		return;
	}
	ev_io_start(link_loop, &c->wio);
}

/* Our HELLO for connection c. */
static void
link_send_hello(struct link_conn *c)
{
	struct wire_hello	 h;
	struct buf		 f;
	size_t			 i;

	memset(&h, 0, sizeof h);
	if (getrandom(c->nonce, sizeof c->nonce, 0) != (ssize_t)sizeof
	    c->nonce)
		fatal("cluster: getrandom failed");
	h.wire_version = 1;
	h.role = config->node_role == NODE_ROLE_REPLICANT ? 1 : 0;
	h.conn_kind = (uint8_t)c->kind;
	h.n_data = (uint8_t)config->cluster_link_data_connections;
	h.node_id = link_id;
	h.boot = link_boot_n;
	h.listen_port = (uint16_t)config->cluster_link_port;
	h.cluster = STR(config->cluster_name);
	h.node_name = STR(config->node_name);
	h.version = STR(PACKAGE_VERSION);
	for (i = 0; i < WIRE_SUB_COUNT; i++)
		h.range[i] = link_ranges[i];
	memcpy(h.nonce, c->nonce, sizeof h.nonce);
	buf_init(&f);
	wire_hello_encode(&f, &h);
	buf_add(&c->hello_mine, buf_head(&f) + WIRE_HEADER_LEN,
	    buf_used(&f) - WIRE_HEADER_LEN);
	buf_add(&c->tx, buf_head(&f), buf_used(&f));
	buf_release(&f);
	link_send_flush(c);
}

/* HMAC-SHA256(cookie, label || dialer's HELLO || acceptor's HELLO). */
static void
link_mac(const struct link_conn *c, const char *label,
    uint8_t out[WIRE_MAC_LEN])
{
	const mbedtls_md_info_t	*md;
	mbedtls_md_context_t	 ctx;
	const struct buf	*d, *a;
	uint8_t			 len[4];
	size_t			 i;
	const struct buf	*parts[2];

	d = c->outbound ? &c->hello_mine : &c->hello_theirs;
	a = c->outbound ? &c->hello_theirs : &c->hello_mine;
	parts[0] = d;
	parts[1] = a;
	md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
	mbedtls_md_init(&ctx);
	if (mbedtls_md_setup(&ctx, md, 1) != 0)
		fatal("cluster: cannot set up HMAC-SHA256");
	mbedtls_md_hmac_starts(&ctx, (const unsigned char *)
	    config->node_cookie, strlen(config->node_cookie));
	mbedtls_md_hmac_update(&ctx, (const unsigned char *)label,
	    strlen(label) + 1);
	for (i = 0; i < 2; i++) {
		len[0] = (uint8_t)(buf_used(parts[i]) >> 24);
		len[1] = (uint8_t)(buf_used(parts[i]) >> 16);
		len[2] = (uint8_t)(buf_used(parts[i]) >> 8);
		len[3] = (uint8_t)buf_used(parts[i]);
		mbedtls_md_hmac_update(&ctx, len, 4);
		mbedtls_md_hmac_update(&ctx, buf_head(parts[i]),
		    buf_used(parts[i]));
	}
	mbedtls_md_hmac_finish(&ctx, out);
	mbedtls_md_free(&ctx);
}

/* Constant-time comparison of two MACs. */
static bool
link_mac_eq(const uint8_t *a, const uint8_t *b)
{
	volatile uint8_t	 d = 0;
	size_t			 i;

	for (i = 0; i < WIRE_MAC_LEN; i++)
		d |= a[i] ^ b[i];
	return (d == 0);
}

/* Check a peer's HELLO; 0 if it may go on, -1 if c is closed. */
static int
link_on_hello(struct link_conn *c, struct str payload)
{
	struct wire_hello	 h;
	struct link_peer	*p;
	char			 ours[64], theirs[64];
	size_t			 i;

	if (wire_hello_decode(payload, &h) != WIRE_OK) {
		link_cut(c, "garbage: malformed HELLO");
		return (-1);
	}
	/* Names the connection in log lines from now on. */
	snprintf(c->hname, sizeof c->hname, "%.*s", (int)h.node_name.len,
	    h.node_name.p);
	buf_add(&c->hello_theirs, payload.p, payload.len);
	if (!str_eq_cstr(h.cluster, config->cluster_name)) {
		link_refuse(c, WIRE_R_CLUSTER, "node '%s' is in cluster "
		    "'%.*s', not '%s'", c->hname, (int)h.cluster.len,
		    h.cluster.p, config->cluster_name);
		return (-1);
	}
	if (h.node_id == link_id || strcmp(c->hname, config->node_name) ==
	    0) {
		link_refuse(c, WIRE_R_SELF, "node '%s' (id %016llx) has this "
		    "node's name or id", c->hname,
		    (unsigned long long)h.node_id);
		return (-1);
	}
	if (c->outbound && strcmp(c->hname, c->peer->name) != 0) {
		link_refuse(c, WIRE_R_NODE, "expected node '%s' at %s, found "
		    "'%s'", c->peer->name, c->addr, c->hname);
		return (-1);
	}
	for (i = 0; i < WIRE_SUB_COUNT; i++) {
		c->agreed[i] = wire_agree(link_ranges[i], h.range[i]);
		if (c->agreed[i] == -1 ||
		    (i == WIRE_SUB_LINK && c->agreed[i] == 0)) {
			snprintf(ours, sizeof ours, "%u..%u",
			    link_ranges[i].min, link_ranges[i].max);
			snprintf(theirs, sizeof theirs, "%u..%u",
			    h.range[i].min, h.range[i].max);
			link_refuse(c, WIRE_R_VERSION, "node '%s' speaks %s "
			    "%s, node '%s' speaks %s %s: no common version",
			    c->hname, wire_subsys_name((unsigned int)i),
			    theirs, config->node_name,
			    wire_subsys_name((unsigned int)i), ours);
			return (-1);
		}
	}
	if (h.conn_kind > LINK_MAX_DATA || (c->outbound &&
	    h.conn_kind != c->kind)) {
		link_cut(c, "garbage: connection kind %u", h.conn_kind);
		return (-1);
	}
	c->h_id = h.node_id;
	c->h_boot = h.boot;
	c->h_role = h.role;
	c->h_port = h.listen_port;
	c->h_ndata = h.n_data;
	snprintf(c->h_version, sizeof c->h_version, "%.*s",
	    (int)h.version.len, h.version.p);
	if (c->outbound)
		return (0);
	/* Inbound: nothing about the peer changes before it is up. */
	c->kind = h.conn_kind;
	p = link_peer_find(c->hname, strlen(c->hname));
	if (c->kind != 0 && (p == NULL || !link_peer_running(p))) {
		link_refuse(c, WIRE_R_PROTOCOL, "data connection before the "
		    "control connection");
		return (-1);
	}
	if (p != NULL && p->conn[c->kind] != NULL &&
	    p->conn[c->kind]->outbound && p->conn[c->kind]->state != LC_UP &&
	    strcmp(config->node_name, p->name) < 0) {
		link_refuse(c, WIRE_R_DUPLICATE, "our connection to node '%s' "
		    "wins", p->name);
		return (-1);
	}
	return (0);
}

/* c is authenticated both ways: make it the peer's connection. */
static void
link_up(struct link_conn *c)
{
	struct link_peer	*p = c->peer;
	struct link_conn	*old;
	char			 vers[128], ip[64], *colon;
	size_t			 i, n = 0;
	int			 k;

	if (p == NULL) {
		p = link_peer_find(c->hname, strlen(c->hname));
		if (p == NULL)
			p = link_peer_new(c->hname, strlen(c->hname));
		c->peer = p;
	}
	old = p->conn[c->kind];
	c->state = LC_UP;
	p->conn[c->kind] = c;
	/* Not the peer's any more: closing it does not mark it down. */
	if (old != NULL && old != c)
		link_conn_close(old, "replaced", true);
	ev_timer_stop(link_loop, &c->frame_timer);
	c->deadline.repeat = config->cluster_link_down_timeout / 1000.0;
	ev_timer_again(link_loop, &c->deadline);
	ev_timer_start(link_loop, &c->hb_timer);
	buf_release(&c->hello_mine);
	buf_release(&c->hello_theirs);
	if (c->kind != 0) {
		log_info("cluster: %s: data connection %d up", link_who(c),
		    c->kind);
		link_publish();
		return;
	}
	/* A new node id: the metadata group refuses it (cluster.c). */
	if (p->node_id != 0 && c->h_id != p->node_id)
		log_notice("cluster: peer '%s' has a new node id %016llx "
		    "(was %016llx)", p->name, (unsigned long long)c->h_id,
		    (unsigned long long)p->node_id);
	p->node_id = c->h_id;
	p->boot = c->h_boot;
	p->role = c->h_role;
	free(p->version);
	p->version = xstrdup(c->h_version);
	memcpy(p->agreed, c->agreed, sizeof p->agreed);
	p->n_data = c->h_ndata < config->cluster_link_data_connections ?
	    c->h_ndata : (int)config->cluster_link_data_connections;
	/* Not a seed: dial it back where it says it listens. */
	if (!p->seed && !c->outbound) {
		snprintf(ip, sizeof ip, "%s", c->addr[0] == '[' ? c->addr + 1 :
		    c->addr);
		if ((colon = strrchr(ip, ':')) != NULL)
			*colon = '\0';
		if (c->addr[0] == '[' && (colon = strrchr(ip, ']')) != NULL)
			*colon = '\0';
		free(p->host);
		p->host = xstrdup(ip);
		p->port = c->h_port;
	}
	for (i = 0; i < WIRE_SUB_COUNT; i++)
		n += (size_t)snprintf(vers + n, sizeof vers - n, "%s%s v%d",
		    i ? ", " : "", wire_subsys_name((unsigned int)i),
		    p->agreed[i]);
	log_notice("cluster: peer '%s' (%s) is up: node id %016llx, boot "
	    "%llu, role %s, version %s; using %s", p->name, c->addr,
	    (unsigned long long)p->node_id, (unsigned long long)p->boot,
	    p->role == 1 ? "replicant" : "core", p->version, vers);
	p->backoff = LINK_BACKOFF_MIN;
	p->reason[0] = '\0';
	ev_timer_stop(link_loop, &p->dial_timer);
	if (c->outbound)
		for (k = 1; k <= p->n_data; k++)
			if (p->conn[k] == NULL)
				link_dial(p, k);
	link_publish();
	if (link_hooks.up != NULL)
		link_hooks.up(p->node_id, p->name, p->role, p->agreed);
}

/* One whole frame from c; -1 if c is closed. */
static int
link_on_frame(struct link_conn *c, const struct wire_frame *f)
{
	struct wire_refusal	 rf;
	char			 why[256];
	uint8_t			 mac[WIRE_MAC_LEN], want[WIRE_MAC_LEN];
	uint64_t		 seq;

	if (f->type == WIRE_REFUSE) {
		if (wire_refuse_decode(f->payload, &rf) != WIRE_OK) {
			link_cut(c, "garbage: malformed REFUSE");
			return (-1);
		}
		if (rf.code == WIRE_R_DUPLICATE) {
			log_debug("cluster: %s keeps its own connection",
			    link_who(c));
			link_conn_close(c, "duplicate", true);
			return (-1);
		}
		snprintf(why, sizeof why, "refused: %.*s",
		    (int)rf.reason.len, rf.reason.p);
		if (c->peer != NULL && strcmp(c->peer->reason, why) == 0)
			log_debug("cluster: %s refused us: %.*s", link_who(c),
			    (int)rf.reason.len, rf.reason.p);
		else
			log_warn("cluster: %s refused us: %.*s", link_who(c),
			    (int)rf.reason.len, rf.reason.p);
		if (c->peer != NULL)
			snprintf(c->peer->reason, sizeof c->peer->reason,
			    "%s", why);
		link_conn_close(c, "refused", true);
		return (-1);
	}
	switch (c->state) {
	case LC_HELLO:
		if (f->type != WIRE_HELLO)
			break;
		if (link_on_hello(c, f->payload) != 0)
			return (-1);
		if (c->outbound) {
			link_mac(c, LINK_LABEL_DIALER, mac);
			wire_mac_encode(&c->tx, WIRE_AUTH, mac);
			c->state = LC_WELCOME;
			link_send_flush(c);
		} else {
			c->state = LC_AUTH;
			link_send_hello(c);
		}
		return (c->state == LC_CLOSED ? -1 : 0);
	case LC_AUTH:
		if (f->type != WIRE_AUTH)
			break;
		if (wire_mac_decode(f->payload, mac) != WIRE_OK) {
			link_cut(c, "garbage: malformed AUTH");
			return (-1);
		}
		link_mac(c, LINK_LABEL_DIALER, want);
		if (!link_mac_eq(mac, want)) {
			link_refuse(c, WIRE_R_COOKIE, "wrong cookie");
			return (-1);
		}
		link_mac(c, LINK_LABEL_ACCEPTOR, mac);
		wire_mac_encode(&c->tx, WIRE_WELCOME, mac);
		link_send_flush(c);
		if (c->state == LC_CLOSED)
			return (-1);
		link_up(c);
		return (0);
	case LC_WELCOME:
		if (f->type != WIRE_WELCOME)
			break;
		if (wire_mac_decode(f->payload, mac) != WIRE_OK) {
			link_cut(c, "garbage: malformed WELCOME");
			return (-1);
		}
		link_mac(c, LINK_LABEL_ACCEPTOR, want);
		if (!link_mac_eq(mac, want)) {
			link_refuse(c, WIRE_R_COOKIE, "wrong cookie");
			return (-1);
		}
		link_up(c);
		return (0);
	case LC_UP:
		if (f->type == WIRE_HEARTBEAT) {
			if (wire_heartbeat_decode(f->payload, &seq) !=
			    WIRE_OK) {
				link_cut(c, "garbage: malformed HEARTBEAT");
				return (-1);
			}
			return (0);
		}
		if (f->type == WIRE_DATA) {
			if (c->kind == 0 && c->peer != NULL &&
			    f->subsys < WIRE_SUB_COUNT &&
			    c->peer->agreed[f->subsys] > 0 &&
			    link_hooks.data != NULL) {
				link_hooks.data(c->peer->node_id,
				    c->peer->name, f->subsys,
				    c->peer->agreed[f->subsys], f->payload);
				return (c->state == LC_CLOSED ? -1 : 0);
			}
			log_debug("cluster: %s: %zu bytes for %s ignored",
			    link_who(c), f->payload.len,
			    wire_subsys_name(f->subsys));
			return (0);
		}
		break;
	default:
		break;
	}
	link_cut(c, "garbage: unexpected %s frame", wire_type_name(f->type));
	return (-1);
}

/* Readable: read, then decode every whole frame. */
static void
link_read_cb(EV_P_ ev_io *w, int revents)
{
	struct link_conn	*c = w->data;
	struct wire_frame	 f;
	enum wire_status	 st;
	size_t			 used;
	ssize_t			 n;

	(void)loop;
	(void)revents;
	if (c->magic != LINK_CONN_MAGIC)
		abort();
	buf_reserve(&c->rx, LINK_READ_CHUNK);
	n = recv(c->fd, c->rx.data + c->rx.len, c->rx.cap - c->rx.len, 0);
	if (n == -1 && (errno == EAGAIN || errno == EINTR ||
	    errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		if (n == 0 && buf_used(&c->rx) != 0)
			link_cut(c, "closed mid-frame");
		else if (n == 0)
			link_conn_close(c, "closed by the peer",
			    c->state != LC_UP || c->kind != 0);
		else
			link_cut(c, "read failed: %s", strerror(errno));
		return;
	}
	c->rx.len += (uint32_t)n;
	if (c->state != LC_UP) {
		c->rx_total += (size_t)n;
		if (c->rx_total > LINK_HS_BUDGET) {
			link_cut(c, "flood: more than %d bytes before the "
			    "handshake finished", LINK_HS_BUDGET);
			return;
		}
	} else
		ev_timer_again(link_loop, &c->deadline);
	for (;;) {
		st = wire_decode(buf_head(&c->rx), buf_used(&c->rx),
		    (size_t)config->cluster_link_max_frame_size, &f, &used);
		if (st == WIRE_MORE)
			break;
		if (st == WIRE_MALFORMED) {
			link_cut(c, "garbage: malformed frame header");
			return;
		}
		if (st == WIRE_TOO_BIG) {
			link_cut(c, "flood: a frame longer than "
			    "cluster.link.max_frame_size (%lld bytes)",
			    (long long)config->cluster_link_max_frame_size);
			return;
		}
		ev_timer_stop(link_loop, &c->frame_timer);
		if (link_on_frame(c, &f) != 0)
			return;
		buf_consume(&c->rx, used);
	}
	if (buf_used(&c->rx) == 0) {
		ev_timer_stop(link_loop, &c->frame_timer);
		buf_shrink(&c->rx);
	} else if (!ev_is_active(&c->frame_timer))
		ev_timer_start(link_loop, &c->frame_timer);
}

/* Writable: connect finished, or room for queued bytes. */
static void
link_write_cb(EV_P_ ev_io *w, int revents)
{
	struct link_conn	*c = w->data;
	socklen_t		 len = sizeof(int);
	int			 err = 0;

	(void)loop;
	(void)revents;
	if (c->state == LC_CONNECTING) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err != 0) {
			char	 why[160];

			snprintf(why, sizeof why, "cannot connect to %s: %s",
			    c->addr, strerror(err));
			/* Once per reason: the dial is retried. */
			if (c->peer != NULL && strcmp(c->peer->reason, why) !=
			    0)
				log_info("cluster: peer '%s': %s",
				    c->peer->name, why);
			else
				log_debug("cluster: peer '%s': %s",
				    c->peer != NULL ? c->peer->name : "?",
				    why);
			link_conn_close(c, why, true);
			return;
		}
		ev_io_stop(link_loop, &c->wio);
		ev_io_start(link_loop, &c->rio);
		c->state = LC_HELLO;
		link_send_hello(c);
		return;
	}
	link_send_flush(c);
}

/* Handshake or liveness deadline. */
static void
link_deadline_cb(EV_P_ ev_timer *w, int revents)
{
	struct link_conn	*c = w->data;

	(void)loop;
	(void)revents;
	if (c->state == LC_UP)
		link_cut(c, "silent for %lldms (cluster.link.down_timeout)",
		    (long long)config->cluster_link_down_timeout);
	else if (c->state == LC_CONNECTING)
		link_conn_close(c, "connect timed out", true);
	else
		link_cut(c, "handshake not finished within %lldms "
		    "(cluster.link.handshake_timeout)",
		    (long long)config->cluster_link_handshake_timeout);
}

/* A frame started and was not finished in time. */
static void
link_frame_cb(EV_P_ ev_timer *w, int revents)
{
	struct link_conn	*c = w->data;

	(void)loop;
	(void)revents;
	link_cut(c, "stalled mid-frame: %zu bytes of a frame, nothing more "
	    "for %lldms (cluster.link.frame_timeout)", buf_used(&c->rx),
	    (long long)config->cluster_link_frame_timeout);
}

/* Heartbeat out. */
static void
link_hb_cb(EV_P_ ev_timer *w, int revents)
{
	struct link_conn	*c = w->data;
	int			 k;

	(void)loop;
	(void)revents;
	wire_heartbeat_encode(&c->tx, ++c->hb_seq);
	link_send_flush(c);
	/* The dialer of the control connection retries missing data ones. */
	if (c->state == LC_UP && c->kind == 0 && c->outbound)
		for (k = 1; k <= c->peer->n_data; k++)
			if (c->peer->conn[k] == NULL)
				link_dial(c->peer, k);
}

/* Whether our listen address is a wildcard (then dial from any). */
static bool
link_src_any(void)
{
	static const struct in6_addr any6 = IN6ADDR_ANY_INIT;

	if (link_src.ss_family == AF_INET)
		return (((struct sockaddr_in *)&link_src)->sin_addr.s_addr ==
		    htonl(INADDR_ANY));
	return (memcmp(&((struct sockaddr_in6 *)&link_src)->sin6_addr, &any6,
	    sizeof any6) == 0);
}

/* Start a connection of this kind to p. */
static void
link_dial(struct link_peer *p, int kind)
{
	struct addrinfo		 hints, *res = NULL;
	struct link_conn	*c;
	char			 port[8], why[200];
	int			 fd = -1, one = 1, rv;

	if (!link_running || p->host == NULL || p->conn[kind] != NULL)
		return;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof port, "%u", p->port);
	/* Resolved at every attempt: a peer may come back elsewhere. */
	if ((rv = getaddrinfo(p->host, port, &hints, &res)) != 0) {
		snprintf(why, sizeof why, "cannot resolve '%s': %s", p->host,
		    gai_strerror(rv));
		goto fail;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(why, sizeof why, "socket: %s", strerror(errno));
		goto fail;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (link_srclen != 0 && link_src.ss_family == res->ai_family &&
	    !link_src_any())
		(void)bind(fd, (struct sockaddr *)&link_src, link_srclen);
	if (connect(fd, res->ai_addr, res->ai_addrlen) != 0 &&
	    errno != EINPROGRESS) {
		snprintf(why, sizeof why, "cannot connect to %s:%u: %s",
		    p->host, p->port, strerror(errno));
		goto fail;
	}
	c = link_conn_new(fd, true, kind);
	c->peer = p;
	link_addr_text(res->ai_addr, c->addr, sizeof c->addr);
	c->state = LC_CONNECTING;
	p->conn[kind] = c;
	ev_io_start(link_loop, &c->wio);
	freeaddrinfo(res);
	return;
fail:
	if (fd != -1)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	if (strcmp(p->reason, why) != 0)
		log_info("cluster: peer '%s': %s", p->name, why);
	snprintf(p->reason, sizeof p->reason, "%s", why);
	if (kind == 0)
		link_redial(p);
}

/* Resume accepting after a pause for lack of descriptors. */
static void
link_accept_resume_cb(EV_P_ ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ev_io_start(EV_A, &link_accept_io);
}

/* Inbound connections not authenticated yet. */
static int
link_pending(void)
{
	struct link_conn	*c;
	int			 n = 0;

	for (c = link_conns; c != NULL; c = c->next)
		if (!c->outbound && c->state != LC_UP)
			n++;
	return (n);
}

/* Accept every pending connection. */
static void
link_accept_cb(EV_P_ ev_io *w, int revents)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	struct link_conn	*c;
	char			 addr[64];
	int			 fd, one = 1, i;

	(void)revents;
	for (i = 0; i < 64; i++) {
		len = sizeof ss;
		fd = accept4(w->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("cluster: cannot accept a peer: %s; "
				    "pausing for 1s", strerror(errno));
				ev_io_stop(EV_A, &link_accept_io);
				ev_timer_set(&link_accept_pause, 1, 0);
				ev_timer_start(EV_A, &link_accept_pause);
			}
			return;
		}
		/* Unauthenticated connections may not eat the descriptors. */
		if (link_pending() >= LINK_MAX_PENDING) {
			link_addr_text((struct sockaddr *)&ss, addr,
			    sizeof addr);
			close(fd);
			if (ev_now(EV_A) - link_refused_at >= 1) {
				log_warn("cluster: refused a connection from "
				    "%s: %d connections in handshake already",
				    addr, LINK_MAX_PENDING);
				link_refused_at = ev_now(EV_A);
			}
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof one);
		c = link_conn_new(fd, false, 0);
		link_addr_text((struct sockaddr *)&ss, c->addr,
		    sizeof c->addr);
		c->state = LC_HELLO;
		ev_io_start(EV_A, &c->rio);
		log_debug("cluster: connection from %s", c->addr);
	}
}

/* Bind the listener: cluster.link.bind or node.name's host, resolved. */
static int
link_listen(char **cause)
{
	struct addrinfo	 hints, *res = NULL;
	char		 port[8], *host = NULL, *name = NULL, text[80];
	uint16_t	 p;
	int		 one = 1, rv;

	if (config->cluster_link_bind[0] != '\0')
		host = xstrdup(config->cluster_link_bind);
	else if (link_split_node(config->node_name, &name, &host, &p) != 0) {
		xasprintf(cause, "cluster: node.name '%s' is not NAME@HOST",
		    config->node_name);
		return (-1);
	}
	free(name);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof port, "%lld",
	    (long long)config->cluster_link_port);
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		xasprintf(cause, "cluster: cannot resolve '%s' (the host of "
		    "%s) to listen on: %s", host,
		    config->cluster_link_bind[0] != '\0' ?
		    "cluster.link.bind" : "node.name", gai_strerror(rv));
		goto fail;
	}
	link_addr_text(res->ai_addr, text, sizeof text);
	link_fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (link_fd == -1 || setsockopt(link_fd, SOL_SOCKET, SO_REUSEADDR,
	    &one, sizeof one) != 0 || bind(link_fd, res->ai_addr,
	    res->ai_addrlen) != 0 || listen(link_fd, 128) != 0) {
		xasprintf(cause, "cluster: cannot listen on %s "
		    "(cluster.link.port): %s", text, strerror(errno));
		goto fail;
	}
	link_listen_text = xstrdup(text);
	/* Dial from the address we listen on, so peers see who we are. */
	if (config->cluster_link_bind[0] != '\0' ||
	    strcmp(host, "0.0.0.0") != 0) {
		memcpy(&link_src, res->ai_addr, res->ai_addrlen);
		link_srclen = res->ai_addrlen;
		if (link_src.ss_family == AF_INET)
			((struct sockaddr_in *)&link_src)->sin_port = 0;
		else if (link_src.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&link_src)->sin6_port = 0;
		else
			link_srclen = 0;
	}
	freeaddrinfo(res);
	free(host);
	return (0);
fail:
	if (link_fd != -1)
		close(link_fd);
	link_fd = -1;
	if (res != NULL)
		freeaddrinfo(res);
	free(host);
	return (-1);
}

/* Set what the links report to; see link.h. */
void
link_set_hooks(const struct link_hooks *h)
{
	link_hooks = *h;
}

/* The running peer with node id id, or NULL. */
static struct link_peer *
link_peer_by_id(uint64_t id)
{
	struct link_peer	*p;

	for (p = link_peer_list; p != NULL; p = p->next)
		if (p->node_id == id && link_peer_running(p))
			return (p);
	return (NULL);
}

/* Queue a DATA frame on a peer's control connection; see link.h. */
int
link_send(uint64_t node_id, int subsys, struct str payload)
{
	struct link_peer	*p;
	struct link_conn	*c;

	if (subsys < 0 || subsys >= WIRE_SUB_COUNT ||
	    (p = link_peer_by_id(node_id)) == NULL || p->agreed[subsys] <= 0)
		return (-1);
	c = p->conn[0];
	wire_frame_encode(&c->tx, WIRE_DATA, (uint8_t)subsys, payload);
	/* Written from the write callback: never re-entered from here. */
	ev_io_start(link_loop, &c->wio);
	return (0);
}

/* The version of subsys agreed with a running peer; see link.h. */
int
link_version(uint64_t node_id, int subsys)
{
	struct link_peer	*p;

	if (subsys < 0 || subsys >= WIRE_SUB_COUNT ||
	    (p = link_peer_by_id(node_id)) == NULL)
		return (0);
	return (p->agreed[subsys] > 0 ? p->agreed[subsys] : 0);
}

/* Open the listener and start dialling; see link.h. */
int
link_init(struct ev_loop *loop, char **cause)
{
	struct link_peer	*p;
	char			*name, *host;
	uint16_t		 port;
	size_t			 i;

	link_loop = loop;
#ifdef LINK_TEST_VERSIONS
	link_test_versions();
#endif
	if (link_identity(cause) != 0)
		return (-1);
	if (config->cluster_discovery_strategy != DISCOVERY_STATIC) {
		log_info("cluster: node id %016llx, boot %llu; "
		    "discovery_strategy manual: no node link yet",
		    (unsigned long long)link_id,
		    (unsigned long long)link_boot_n);
		return (0);
	}
	if (config->node_cookie[0] == '\0') {
		xasprintf(cause, "cluster: node.cookie is empty: the nodes "
		    "of a cluster need a shared secret");
		return (-1);
	}
	if (strcmp(config->node_cookie, "flockmqsecretcookie") == 0)
		log_warn("cluster: node.cookie is the default one: anybody "
		    "who can reach %lld/tcp can join; set your own",
		    (long long)config->cluster_link_port);
	if (link_listen(cause) != 0)
		return (-1);
	link_running = true;
	ev_io_init(&link_accept_io, link_accept_cb, link_fd, EV_READ);
	ev_io_start(loop, &link_accept_io);
	ev_timer_init(&link_accept_pause, link_accept_resume_cb, 1, 0);
	ev_prepare_init(&link_prepare, link_prepare_cb);
	ev_prepare_start(loop, &link_prepare);
	log_notice("cluster: node '%s' id %016llx boot %llu, cluster '%s', "
	    "listening on %s; speaks %s", config->node_name,
	    (unsigned long long)link_id, (unsigned long long)link_boot_n,
	    config->cluster_name, link_listen_text, link_ranges_text());
	for (i = 0; i < config->cluster_static_seeds.n; i++) {
		if (link_split_node(config->cluster_static_seeds.v[i], &name,
		    &host, &port) != 0) {
			log_warn("cluster: seed '%s' is not NAME@HOST[:PORT]; "
			    "ignored", config->cluster_static_seeds.v[i]);
			continue;
		}
		if (strcmp(name, config->node_name) == 0 ||
		    link_peer_find(name, strlen(name)) != NULL) {
			free(name);
			free(host);
			continue;
		}
		p = link_peer_new(name, strlen(name));
		p->seed = true;
		p->host = host;
		p->port = port;
		snprintf(p->reason, sizeof p->reason, "not reached yet");
		free(name);
		link_dial(p, 0);
	}
	link_publish();
	return (0);
}

/* Close everything; see link.h. */
void
link_release(void)
{
	struct link_peer	*p;

	if (link_loop == NULL)
		return;
	link_running = false;
	while (link_conns != NULL) {
		link_conns->peer = NULL;
		link_conn_close(link_conns, "shutting down", true);
	}
	link_prepare_cb(link_loop, &link_prepare, 0);
	while ((p = link_peer_list) != NULL) {
		link_peer_list = p->next;
		ev_timer_stop(link_loop, &p->dial_timer);
		free(p->name);
		free(p->host);
		free(p->version);
		free(p);
	}
	if (link_fd != -1) {
		ev_io_stop(link_loop, &link_accept_io);
		ev_timer_stop(link_loop, &link_accept_pause);
		ev_prepare_stop(link_loop, &link_prepare);
		close(link_fd);
		link_fd = -1;
	}
	free(link_listen_text);
	link_listen_text = NULL;
	pthread_mutex_lock(&link_snap_lock);
	free(link_snap);
	link_snap = NULL;
	link_nsnap = 0;
	pthread_mutex_unlock(&link_snap_lock);
	link_loop = NULL;
}
