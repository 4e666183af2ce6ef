/*
 * conn.c: client connections (see conn.h).
 *
 * Read path: read into the worker's scratch buffer (or into rx when a
 * packet is already partly there), proto_input() consumes whole packets,
 * the rest is kept in rx.  Write path: handlers append to tx and call
 * conn_want_flush(); conn_before_sleep() writes every pending conn once and
 * watches for EV_WRITE only when the kernel did not take everything.
 * Close path: conn_close() queues, conn_before_sleep() either closes the
 * socket and frees the conn or starts its linger (conn.h), whose end
 * queues it again.
 */
#include <sys/ioctl.h>

#include <linux/sockios.h>

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "ds.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "session.h"
#include "sys.h"
#include "tls.h"
#include "worker.h"
#include "ws.h"
#include "xmalloc.h"

static void	conn_io_cb(EV_P_ ev_io *, int);
static void	conn_timer_cb(EV_P_ ev_timer *, int);
static void	conn_linger_io(struct conn *, int);
static void	conn_linger_timeout(struct conn *);

/* Plain TCP read. */
static ssize_t
tcp_read(struct conn *c, void *p, size_t n)
{
	return (read(c->fd, p, n));
}

/* Plain TCP write. */
static ssize_t
tcp_write(struct conn *c, const void *p, size_t n)
{
	return (write(c->fd, p, n));
}

/* Plain TCP: half-close before close. */
static void
tcp_shutdown(struct conn *c)
{
	shutdown(c->fd, SHUT_WR);
}

static const struct conn_transport conn_tcp = {
	.name = "tcp",
	.read = tcp_read,
	.write = tcp_write,
	.shutdown = tcp_shutdown,
};

/* Read below the WebSocket layer: TLS or the socket. */
ssize_t
conn_lower_read(struct conn *c, void *p, size_t n)
{
	return (c->tls != NULL ? tls_read(c, p, n) : read(c->fd, p, n));
}

/* Write below the WebSocket layer: TLS or the socket. */
ssize_t
conn_lower_write(struct conn *c, const void *p, size_t n)
{
	return (c->tls != NULL ? tls_write(c, p, n) : write(c->fd, p, n));
}

/* The transport of a conn's state: WebSocket over TLS or TCP, TLS, TCP. */
static const struct conn_transport *
conn_transport_of(const struct conn *c)
{
	if (c->ws != NULL)
		return (&ws_transport);
	if (c->tls != NULL)
		return (&tls_transport);
	return (&conn_tcp);
}

/* Common set-up of a new conn. */
static struct conn *
conn_setup(struct worker *w, int fd, struct listener *l)
{
	struct conn	*c;

	c = xcalloc(1, sizeof *c);
	c->magic = CONN_MAGIC;
	c->fd = fd;
	c->w = w;
	c->l = l;
	c->tr = &conn_tcp;
	c->state = CONN_S_NEW;
	c->max_packet_out = UINT32_MAX;
	buf_init(&c->rx);
	buf_init(&c->tx);
	ev_io_init(&c->io, conn_io_cb, fd, EV_READ);
	c->io.data = c;
	ev_io_start(w->loop.ev, &c->io);
	loop_touch(&w->loop);
	ev_init(&c->timer, conn_timer_cb);
	c->timer.data = c;
	c->last_rx = ev_now(w->loop.ev);
	TAILQ_INSERT_TAIL(&w->conns, c, entry);
	METRIC_INC(&w->metrics, CONNECTIONS_COUNT);
	return (c);
}

/* A freshly accepted socket. */
struct conn *
conn_new(struct worker *w, int fd, struct listener *l,
    const struct sockaddr *sa, socklen_t salen)
{
	struct conn	*c;
	double		 timeout;

	c = conn_setup(w, fd, l);
	(void)salen;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;

		c->family = AF_INET;
		c->port = ntohs(sin->sin_port);
		memcpy(c->addr, &sin->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;

		c->family = AF_INET6;
		c->port = ntohs(sin6->sin6_port);
		memcpy(c->addr, &sin6->sin6_addr, 16);
	}
	timeout = (double)config->mqtt_idle_timeout / 1000.0;
	if (l != NULL) {
		switch (l->cfg->type) {
		case CONFIG_L_WSS:
			tls_attach(c);
			/* FALLTHROUGH */
		case CONFIG_L_WS:
			ws_attach(c);
			break;
		case CONFIG_L_SSL:
			tls_attach(c);
			break;
		default:
			break;
		}
		/* The handshake has its own, usually shorter, limit. */
		if (c->tls != NULL && (double)l->cfg->ssl_handshake_timeout /
		    1000.0 < timeout)
			timeout = (double)l->cfg->ssl_handshake_timeout /
			    1000.0;
	}
	c->tr = conn_transport_of(c);
	conn_set_keepalive(c, timeout);
	return (c);
}

/* Adopt a socket handed over by another worker. */
struct conn *
conn_adopt(struct worker *w, int fd, struct listener *l, uint8_t family,
    uint16_t port, const uint8_t *addr, struct buf *rx, struct tls_conn *tls,
    struct ws_conn *ws)
{
	struct conn	*c;

	c = conn_setup(w, fd, l);
	c->tls = tls;
	c->ws = ws;
	c->tr = conn_transport_of(c);
	c->family = family;
	c->port = port;
	memcpy(c->addr, addr, sizeof c->addr);
	buf_add(&c->rx, buf_head(rx), buf_used(rx));
	/* Read by the worker that handed it over, counted here. */
	c->recv_oct = buf_used(rx);
	conn_set_keepalive(c, (double)config->mqtt_idle_timeout / 1000.0);
	/* Frames or records the transport decoded but the old owner did
	 * not read: read them after proto_adopted() took rx. */
	if (c->tr->buffered != NULL && c->tr->buffered(c))
		ev_feed_event(w->loop.ev, &c->io, EV_READ);
	return (c);
}

/* The peer's IP address as text, without the port ("" if unknown). */
const char *
conn_ip(const struct conn *c)
{
	static __thread char	 a[INET6_ADDRSTRLEN];

	a[0] = '\0';
	if (c->family == AF_INET6 || c->family == AF_INET)
		inet_ntop(c->family, c->addr, a, sizeof a);
	return (a);
}

/* The peer's address as text. */
const char *
conn_addr(const struct conn *c)
{
	static __thread char	 s[INET6_ADDRSTRLEN + 16];

	if (c->family == AF_INET6)
		snprintf(s, sizeof s, "[%s]:%u", conn_ip(c), c->port);
	else if (c->family == AF_INET)
		snprintf(s, sizeof s, "%s:%u", conn_ip(c), c->port);
	else
		snprintf(s, sizeof s, "unknown");
	return (s);
}

/* "client 'id' addr" for log lines. */
const char *
conn_name(const struct conn *c)
{
	static __thread char	 s[512];

	snprintf(s, sizeof s, "client '%.300s' %s",
	    c->s != NULL ? c->s->client_id : "", conn_addr(c));
	return (s);
}

/* Transition with a debug line. */
void
conn_set_state(struct conn *c, enum conn_state st)
{
	static const char *names[] = { "new", "open", "closing" };

	log_debug("conn: %s state %s -> %s", conn_name(c), names[c->state],
	    names[st]);
	c->state = st;
}

/*
 * (Re)arm the one timer for the nearest deadline: the idle timeout from the
 * accept (before CONNECT), the keepalive from the last packet (after), and
 * the next look at the rate limit or throttle while paused.
 */
static void
conn_timer_arm(struct conn *c)
{
	ev_tstamp	 now = ev_now(c->w->loop.ev), next = -1, due;

	if (c->linger != CONN_L_NONE)	/* the timer is the linger's */
		return;
	ev_timer_stop(c->w->loop.ev, &c->timer);
	if (c->state == CONN_S_CLOSING)
		return;
	if (c->ka_timeout > 0) {
		next = c->last_rx + c->ka_timeout - now;
		if (next < 0.001)
			next = 0.001;
	}
	if (c->paused && (next < 0 || next > 0.05))
		next = 0.05;
	if (c->s != NULL && c->state == CONN_S_OPEN &&
	    (due = session_retry_due(c->s)) != 0) {
		due -= now;
		if (due < 0.001)
			due = 0.001;
		if (next < 0 || due < next)
			next = due;
	}
	if (next >= 0) {
		ev_timer_set(&c->timer, next, 0.);
		ev_timer_start(c->w->loop.ev, &c->timer);
		if (next < LOOP_CRON_MS / 1000.0)
			loop_touch(&c->w->loop);
	}
}

/* Set the keepalive (or idle) timeout in seconds; 0 disables it. */
void
conn_set_keepalive(struct conn *c, double seconds)
{
	c->ka_timeout = seconds;
	conn_timer_arm(c);
}

/* A whole packet arrived after CONNECT: the keepalive counts from here. */
void
conn_touch(struct conn *c)
{
	c->last_rx = ev_now(c->w->loop.ev);
}

/* Keepalive / idle timeout and rate-limit pause. */
static void
conn_timer_cb(EV_P_ ev_timer *t, int revents)
{
	struct conn	*c = t->data;
	ev_tstamp	 now = ev_now(EV_A);
	const char	*why;

	(void)t;
	(void)revents;
	if (c->linger != CONN_L_NONE) {
		conn_linger_timeout(c);
		return;
	}
	if (c->paused) {
		conn_resume_reading(c);
		if (c->state == CONN_S_CLOSING)
			return;
	}
	if (c->ka_timeout > 0 && now - c->last_rx >= c->ka_timeout) {
		if (c->state == CONN_S_NEW) {
			why = c->tr->stalled != NULL ? c->tr->stalled(c) : NULL;
			if (why != NULL)
				log_info("conn: %s closed: %s within %.3g s",
				    conn_addr(c), why, c->ka_timeout);
			else
				log_info("conn: %s closed: no CONNECT within "
				    "idle_timeout (%.3g s)", conn_addr(c),
				    c->ka_timeout);
			conn_close(c, NULL);
		} else
			proto_disconnect(c, 0x8d, "keepalive timeout");
		return;
	}
	if (c->s != NULL && c->state == CONN_S_OPEN)
		session_retry(c->s, now);
	conn_timer_arm(c);
}

/* Re-arm the timer after a deadline changed. */
void
conn_timer_rearm(struct conn *c)
{
	conn_timer_arm(c);
}

/* Add to the worker's flush list. */
void
conn_want_flush(struct conn *c)
{
	if (c->in_tx_list || c->state == CONN_S_CLOSING)
		return;
	/* Held bytes (ds.h) wait for ds_done_in(), which asks again: a
	 * flush now would write nothing, and asking would spin the
	 * before-sleep loop. */
	if (c->hold_idx != 0 && c->tx_ok == 0)
		return;
	c->in_tx_list = true;
	c->tx_next = c->w->tx_pending;
	c->w->tx_pending = c;
	c->w->n_tx_pending++;
}

/* Write what we can; returns -1 on a write error. */
static int
conn_flush(struct conn *c)
{
	ssize_t	 n;
	size_t	 avail;
	int	 pend = 0;

	/* While held (ds.h), only the bytes written before the hold go. */
	while ((avail = c->hold_idx != 0 ? c->tx_ok : buf_used(&c->tx)) != 0) {
		n = c->tr->write(c, buf_head(&c->tx), avail);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return (-1);
		}
		METRIC_ADD(&c->w->metrics, BYTES_SENT, n);
		c->send_oct += (uint64_t)n;
		buf_consume(&c->tx, (size_t)n);
		if (c->hold_idx != 0)
			c->tx_ok -= (uint32_t)n;
		c->drained_ms = (uint32_t)c->w->now;
	}
	/* What the transport holds (a frame's rest, handshake records). */
	if (c->tr->flush != NULL && (pend = c->tr->flush(c)) < 0)
		return (-1);
	if (buf_used(&c->tx) == 0 && pend == 0) {
		buf_release(&c->tx);
		if (c->want_write) {
			c->want_write = false;
			ev_io_stop(c->w->loop.ev, &c->io);
			ev_io_set(&c->io, c->fd, c->paused ? 0 : EV_READ);
			if (!c->paused)
				ev_io_start(c->w->loop.ev, &c->io);
		}
	} else if (!c->want_write && (c->hold_idx == 0 || c->tx_ok != 0 ||
	    pend != 0)) {
		c->want_write = true;
		ev_io_stop(c->w->loop.ev, &c->io);
		ev_io_set(&c->io, c->fd, EV_WRITE | (c->paused ? 0 : EV_READ));
		ev_io_start(c->w->loop.ev, &c->io);
		loop_touch(&c->w->loop);
	}
	return (0);
}

/* See conn.h.  The kernel wakes a writer only when a good part of its
 * send buffer is free, which takes long with a slow reader: so its queue
 * is looked at too, at most every 50 ms. */
bool
conn_draining(struct conn *c, uint64_t stall_ms)
{
	uint32_t	 now = (uint32_t)c->w->now;
	int		 q;

	if (now - c->drained_ms < stall_ms)
		return (true);
	if (now - c->outq_ms >= 50) {
		if (ioctl(c->fd, SIOCOUTQ, &q) == 0 && q >= 0) {
			if ((uint32_t)q < c->outq)
				c->drained_ms = now;
			c->outq = (uint32_t)q;
		}
		c->outq_ms = now;
	}
	return (now - c->drained_ms < stall_ms);
}

/* Stop reading (a rate limit or a throttle). */
static void
conn_stop_reading(struct conn *c)
{
	if (c->paused)
		return;
	c->paused = true;
	ev_io_stop(c->w->loop.ev, &c->io);
	ev_io_set(&c->io, c->fd, c->want_write ? EV_WRITE : 0);
	if (c->want_write)
		ev_io_start(c->w->loop.ev, &c->io);
	loop_touch(&c->w->loop);
	conn_timer_arm(c);
}

/* Stop reading until the rate limit allows it again. */
static void
conn_pause(struct conn *c)
{
	if (c->rate_paused)
		return;
	c->rate_paused = true;
	METRIC_INC(&c->w->metrics, CLIENT_RATE_PAUSED);
	conn_stop_reading(c);
}

/* Throttle on or off; see conn.h. */
void
conn_throttle(struct conn *c, bool on)
{
	if (c->state == CONN_S_CLOSING)
		return;
	if (on) {
		if (c->throttles++ == 0)
			METRIC_INC(&c->w->metrics, CLIENT_THROTTLED);
		c->throttled_ms = (uint32_t)c->w->now;
		conn_stop_reading(c);
	} else if (c->throttles != 0 && --c->throttles == 0)
		conn_resume_reading(c);
}

/* The conn's rate buckets, made full on first use; NULL if its listener
 * has no rate limit. */
static struct conn_rate *
conn_rate(struct conn *c)
{
	const struct config_listener	*lc;

	if (c->rate != NULL || c->l == NULL)
		return (c->rate);
	lc = c->l->cfg;
	if (isinf(lc->messages_rate) && isinf(lc->bytes_rate))
		return (NULL);
	c->rate = xmalloc(sizeof *c->rate);
	c->rate->msgs = lc->messages_rate;
	c->rate->bytes = lc->bytes_rate;
	c->rate->at = ev_now(c->w->loop.ev);
	return (c->rate);
}

/* Refill the rate buckets; true if reading may go on. */
static bool
conn_rate_ok(struct conn *c)
{
	const struct config_listener	*lc;
	struct conn_rate		*r;
	ev_tstamp			 now, dt;

	if ((r = conn_rate(c)) == NULL)
		return (true);
	lc = c->l->cfg;
	now = ev_now(c->w->loop.ev);
	dt = now - r->at;
	r->at = now;
	if (!isinf(lc->messages_rate)) {
		r->msgs += dt * lc->messages_rate;
		if (r->msgs > lc->messages_rate)
			r->msgs = lc->messages_rate;
	}
	if (!isinf(lc->bytes_rate)) {
		r->bytes += dt * lc->bytes_rate;
		if (r->bytes > lc->bytes_rate)
			r->bytes = lc->bytes_rate;
	}
	return (r->msgs > 0 && r->bytes > 0);
}

/* Charge one received packet to the rate buckets; false to pause. */
bool
conn_rate_charge(struct conn *c, size_t bytes, bool is_publish)
{
	const struct config_listener	*lc;
	struct conn_rate		*r;

	if ((r = conn_rate(c)) == NULL)
		return (true);
	lc = c->l->cfg;
	if (is_publish && !isinf(lc->messages_rate))
		r->msgs -= 1;
	if (!isinf(lc->bytes_rate))
		r->bytes -= (double)bytes;
	if (r->msgs <= 0 || r->bytes <= 0) {
		conn_pause(c);
		return (false);
	}
	return (true);
}

/* Feed bytes to the protocol; keep the rest.  Returns false if the conn
 * went away (closed or handed off). */
static bool
conn_feed(struct conn *c, const uint8_t *p, size_t len, bool from_rx)
{
	size_t	 used;
	bool	 handoff = false;
	int	 fd;

	used = proto_input(c, p, len, &handoff);
	if (handoff) {
		fd = c->fd;
		worker_handoff(workers[c->handoff_to], fd, c->l, c->family,
		    c->port, c->addr, p + used, len - used, c->tls, c->ws);
		/* The transport state went with the socket. */
		c->tls = NULL;
		c->ws = NULL;
		conn_release_fd(c);
		return (false);
	}
	if (c->state == CONN_S_CLOSING)
		return (false);
	if (from_rx) {
		buf_consume(&c->rx, used);
		buf_shrink(&c->rx);
	}
	else if (used < len)
		buf_add(&c->rx, p + used, len - used);
	return (true);
}

/* Read once from the socket; false if the conn went away (closed, or
 * handed off and freed). */
static bool
conn_read_once(struct conn *c)
{
	struct worker	*w = c->w;
	ssize_t		 n;

	if (buf_used(&c->rx) != 0) {
		buf_reserve(&c->rx, 16384);
		n = c->tr->read(c, c->rx.data + c->rx.len,
		    c->rx.cap - c->rx.len);
	} else
		n = c->tr->read(c, w->rbuf, WORKER_RBUF);
	if (n == 0) {
		c->peer_closed = true;
		if (c->state == CONN_S_OPEN)
			c->will_on_close = !c->got_disconnect;
		conn_close(c, c->got_disconnect ? NULL :
		    "connection closed by peer");
		return (false);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return (true);
		/* A reset is an abnormal close: the will goes out. */
		c->will_on_close = c->state == CONN_S_OPEN;
		c->peer_closed = errno == ECONNRESET || errno == EPIPE;
		conn_close(c, strerror(errno));
		return (false);
	}
	METRIC_ADD(&w->metrics, BYTES_RECEIVED, n);
	c->recv_oct += (uint64_t)n;
	if (buf_used(&c->rx) != 0) {
		c->rx.len += (size_t)n;
		return (conn_feed(c, buf_head(&c->rx), buf_used(&c->rx),
		    true));
	}
	return (conn_feed(c, w->rbuf, (size_t)n, false));
}

/*
 * Read from the socket; a transport holding decoded bytes (TLS records,
 * WebSocket frames) is read until it is empty, up to a bound, then the
 * rest waits for the next loop turn.
 */
static void
conn_read(struct conn *c)
{
	int	 i;

	if (!conn_read_once(c))
		return;
	for (i = 0; i < 64 && c->tr->buffered != NULL &&
	    c->state != CONN_S_CLOSING && !c->paused && c->tr->buffered(c);
	    i++)
		if (!conn_read_once(c))
			return;
	if (c->state != CONN_S_CLOSING && !c->paused &&
	    c->tr->buffered != NULL && c->tr->buffered(c)) {
		ev_feed_event(c->w->loop.ev, &c->io, EV_READ);
		loop_touch(&c->w->loop);
	}
}

/*
 * Read again once the rate limit allows it and no throttle holds (or the
 * last one is older than CONN_THROTTLE_MAX); process what is buffered.
 */
void
conn_resume_reading(struct conn *c)
{
	if (!c->paused)
		return;
	if (c->rate_paused) {
		if (!conn_rate_ok(c))
			return;
		c->rate_paused = false;
	}
	if (c->throttles != 0) {
		if ((uint32_t)c->w->now - c->throttled_ms <
		    CONN_THROTTLE_MAX_MS)
			return;
		log_info("conn: %s read again after %.1f s throttled by a "
		    "subscriber that stopped draining", conn_name(c),
		    CONN_THROTTLE_MAX_MS / 1000.0);
		c->throttles = 0;
	}
	c->paused = false;
	ev_io_stop(c->w->loop.ev, &c->io);
	ev_io_set(&c->io, c->fd, EV_READ | (c->want_write ? EV_WRITE : 0));
	ev_io_start(c->w->loop.ev, &c->io);
	loop_touch(&c->w->loop);
	if (buf_used(&c->rx) != 0 &&
	    !conn_feed(c, buf_head(&c->rx), buf_used(&c->rx), true))
		return;
	if (c->tr->buffered != NULL && c->tr->buffered(c)) {
		ev_feed_event(c->w->loop.ev, &c->io, EV_READ);
		loop_touch(&c->w->loop);
	}
	conn_timer_arm(c);
}

/* Socket events. */
static void
conn_io_cb(EV_P_ ev_io *io, int revents)
{
	struct conn	*c = io->data;

	(void)loop;
	if (c->linger != CONN_L_NONE) {
		conn_linger_io(c, revents);
		return;
	}
	if (revents & EV_WRITE) {
		if (conn_flush(c) != 0) {
			c->will_on_close = c->state == CONN_S_OPEN;
			conn_close(c, strerror(errno));
			return;
		}
		if (buf_used(&c->tx) < CONN_TX_HIGH / 2 && c->s != NULL &&
		    c->state == CONN_S_OPEN)
			session_drain(c->s);
		/* A handshake that waited to write may now read on. */
		if (c->tr->flush != NULL)
			revents |= EV_READ;
	}
	if ((revents & EV_READ) && c->state != CONN_S_CLOSING && !c->paused)
		conn_read(c);
}

/* Close: stop watchers, detach from the session, free before sleeping. */
void
conn_close(struct conn *c, const char *why)
{
	struct worker	*w = c->w;

	if (c->state == CONN_S_CLOSING)
		return;
	if (why != NULL && !c->quiet)
		log_info("conn: %s closed: %s", conn_name(c), why);
	ev_io_stop(w->loop.ev, &c->io);
	ev_timer_stop(w->loop.ev, &c->timer);
	if (c->state == CONN_S_OPEN) {
		sys_client_event(w, c, false, c->got_disconnect ? "normal" :
		    why != NULL ? why : "closed");
		METRIC_INC(&w->metrics, CLIENT_DISCONNECTED);
		METRIC_DEC(&w->metrics, LIVE_CONNECTIONS_COUNT);
	}
	conn_set_state(c, CONN_S_CLOSING);
	if (c->s != NULL) {
		session_detach(c->s, c->will_on_close);
		c->s = NULL;
	}
	c->close_next = w->closing;
	w->closing = c;
}

/* Free a conn's memory; the fd is the caller's business. */
static void
conn_free(struct conn *c)
{
	struct worker	*w = c->w;

	if (c->linger != CONN_L_NONE) {
		TAILQ_REMOVE(&w->lingering, c, entry);
		w->n_lingering--;
		METRIC_DEC(&w->metrics, CONNECTIONS_LINGERING);
	} else {
		TAILQ_REMOVE(&w->conns, c, entry);
		METRIC_DEC(&w->metrics, CONNECTIONS_COUNT);
		if (c->l != NULL)
			__atomic_sub_fetch(&c->l->conns, 1, __ATOMIC_RELAXED);
	}
	ds_conn_free(c);
	proto_conn_free(c);
	ws_free(c);
	tls_free(c);
	buf_release(&c->rx);
	buf_release(&c->tx);
	free(c->rate);
	c->magic = 0;
	free(c);
}

/* Give the socket away (hand-off) and free the conn now. */
void
conn_release_fd(struct conn *c)
{
	struct worker	*w = c->w;
	struct conn	**pp;

	/* Out of the flush list: a WebSocket pong, say, queued by the read
	 * that brought the CONNECT.  What the transport holds goes along. */
	if (c->in_tx_list) {
		for (pp = &w->tx_pending; *pp != c; pp = &(*pp)->tx_next)
			;
		*pp = c->tx_next;
		c->in_tx_list = false;
	}
	ev_io_stop(w->loop.ev, &c->io);
	ev_timer_stop(w->loop.ev, &c->timer);
	if (c->l != NULL)	/* the new owner counts it again */
		__atomic_add_fetch(&c->l->conns, 1, __ATOMIC_RELAXED);
	conn_free(c);
}

/* End a linger: queue the conn to be closed and freed before sleeping. */
static void
conn_linger_end(struct conn *c)
{
	struct worker	*w = c->w;

	if (c->linger == CONN_L_OVER)
		return;
	ev_io_stop(w->loop.ev, &c->io);
	ev_timer_stop(w->loop.ev, &c->timer);
	c->linger = CONN_L_OVER;
	c->close_next = w->closing;
	w->closing = c;
}

/*
 * Send what a lingering conn still owes (tx, then what the transport
 * holds); once it is all out, or cannot go, shut down the write side
 * (close frame, close_notify, FIN) and drop the transport state: from
 * then on only the socket is read.
 */
static void
conn_linger_send(struct conn *c)
{
	ssize_t	 n;
	int	 pend = 0;

	while (buf_used(&c->tx) != 0) {
		n = c->tr->write(c, buf_head(&c->tx), buf_used(&c->tx));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				buf_release(&c->tx);	/* cannot go */
			break;
		}
		METRIC_ADD(&c->w->metrics, BYTES_SENT, n);
		c->send_oct += (uint64_t)n;
		buf_consume(&c->tx, (size_t)n);
	}
	/* Not a handshake that never finished: that would read. */
	if (buf_used(&c->tx) == 0 && c->tr->flush != NULL &&
	    (c->tr->stalled == NULL || c->tr->stalled(c) == NULL) &&
	    (pend = c->tr->flush(c)) < 0)
		pend = 0;			/* cannot go either */
	if (buf_used(&c->tx) != 0 || pend != 0) {
		ev_io_stop(c->w->loop.ev, &c->io);
		ev_io_set(&c->io, c->fd, EV_WRITE |
		    (c->peer_closed ? 0 : EV_READ));
		ev_io_start(c->w->loop.ev, &c->io);
		loop_touch(&c->w->loop);
		return;
	}
	c->tr->shutdown(c);
	c->linger = CONN_L_DRAIN;
	ws_free(c);
	tls_free(c);
	c->tr = &conn_tcp;
	buf_release(&c->tx);
	buf_release(&c->rx);
	if (c->peer_closed) {
		conn_linger_end(c);
		return;
	}
	ev_io_stop(c->w->loop.ev, &c->io);
	ev_io_set(&c->io, c->fd, EV_READ);
	ev_io_start(c->w->loop.ev, &c->io);
	loop_touch(&c->w->loop);
}

/* A lingering socket is writable (more owed bytes go) or readable (what
 * the client sends is discarded; its end of the stream ends the linger). */
static void
conn_linger_io(struct conn *c, int revents)
{
	ssize_t	 n;
	int	 i;

	if ((revents & EV_WRITE) && c->linger == CONN_L_SEND) {
		conn_linger_send(c);
		if (c->linger == CONN_L_OVER)
			return;
	}
	if (!(revents & EV_READ) || c->peer_closed)
		return;
	/* A client that keeps sending is read again on the next turn. */
	for (i = 0; i < 16; i++) {
		n = read(c->fd, c->w->rbuf, WORKER_RBUF);
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		log_debug("conn: %s linger over: %s", conn_addr(c),
		    n == 0 ? "closed by peer" : strerror(errno));
		/* A half-closed client may still read what is owed. */
		if (n == 0 && c->linger == CONN_L_SEND) {
			c->peer_closed = true;
			ev_io_stop(c->w->loop.ev, &c->io);
			ev_io_set(&c->io, c->fd, EV_WRITE);
			ev_io_start(c->w->loop.ev, &c->io);
			loop_touch(&c->w->loop);
			return;
		}
		conn_linger_end(c);
		return;
	}
}

/* mqtt.close_linger passed and the client has not closed: close. */
static void
conn_linger_timeout(struct conn *c)
{
	METRIC_INC(&c->w->metrics, CONNECTIONS_LINGER_TIMEOUT);
	log_debug("conn: %s linger over: %s", conn_addr(c),
	    c->linger == CONN_L_SEND ? "owed bytes not taken" :
	    "client still connected");
	conn_linger_end(c);
}

/*
 * Start the linger of a closed conn (conn.h) unless the client closed
 * already, the worker stops, lingering is off or mqtt.close_linger_max
 * sockets linger on this worker.  False: close it now.  A client that
 * sent DISCONNECT lingers too: it sends no more MQTT (MQTT-3.14.4-1), but
 * over WebSocket its close frame comes after ours, and a reset would turn
 * its clean end into an error (MQTT.js: "write EPIPE").
 */
static bool
conn_linger(struct conn *c)
{
	struct worker	*w = c->w;
	double		 secs;

	secs = (double)config->mqtt_close_linger / 1000.0;
	if (secs <= 0 || w->stopping || c->peer_closed)
		return (false);
	if (w->n_lingering >= (uint32_t)config->mqtt_close_linger_max) {
		METRIC_INC(&w->metrics, CONNECTIONS_LINGER_SKIPPED);
		log_debug("conn: %s closed at once: %u sockets lingering",
		    conn_addr(c), w->n_lingering);
		return (false);
	}
	/* Out of every count, and of its listener's max_connections. */
	TAILQ_REMOVE(&w->conns, c, entry);
	METRIC_DEC(&w->metrics, CONNECTIONS_COUNT);
	if (c->l != NULL)
		__atomic_sub_fetch(&c->l->conns, 1, __ATOMIC_RELAXED);
	c->l = NULL;
	TAILQ_INSERT_TAIL(&w->lingering, c, entry);
	w->n_lingering++;
	METRIC_INC(&w->metrics, CONNECTIONS_LINGERING);
	c->linger = CONN_L_SEND;
	c->paused = false;
	ds_conn_free(c);
	proto_conn_free(c);
	log_debug("conn: %s lingering (%u on this worker)", conn_addr(c),
	    w->n_lingering);
	ev_timer_stop(w->loop.ev, &c->timer);
	ev_timer_set(&c->timer, secs, 0.);
	ev_timer_start(w->loop.ev, &c->timer);
	loop_touch(&w->loop);
	conn_linger_send(c);
	return (true);
}

/* Close every lingering socket now. */
void
conn_linger_stop(struct worker *w)
{
	struct conn	*c;

	TAILQ_FOREACH(c, &w->lingering, entry)
		conn_linger_end(c);
}

/* Flush pending writes, then free closed conns. */
void
conn_before_sleep(struct worker *w)
{
	struct conn	*c, *next;

	/* A failed write closes a conn, which may publish a will and queue
	 * more writes: go round until nothing is pending. */
	while (w->tx_pending != NULL) {
		w->n_tx_pending = 0;
		for (c = w->tx_pending, w->tx_pending = NULL; c != NULL;
		    c = next) {
			next = c->tx_next;
			c->in_tx_list = false;
			if (c->state == CONN_S_CLOSING)
				continue;
			if (conn_flush(c) != 0) {
				c->will_on_close = c->state == CONN_S_OPEN;
				conn_close(c, strerror(errno));
				continue;
			}
			if (c->s != NULL && c->state == CONN_S_OPEN &&
			    session_queue_len(c->s) != 0 &&
			    buf_used(&c->tx) < CONN_TX_HIGH / 2) {
				session_drain(c->s);
				if (buf_used(&c->tx) != 0)
					conn_want_flush(c);
			}
		}
	}
	while ((c = w->closing) != NULL) {
		w->closing = c->close_next;
		if (c->linger == CONN_L_OVER) {
			close(c->fd);
			conn_free(c);
			continue;
		}
		if (c->hold_idx != 0)	/* not stored: must not go */
			buf_truncate(&c->tx, c->tx.off + c->tx_ok);
		if (conn_linger(c))
			continue;
		if (buf_used(&c->tx) != 0)
			(void)c->tr->write(c, buf_head(&c->tx),
			    buf_used(&c->tx));
		c->tr->shutdown(c);
		close(c->fd);
		conn_free(c);
	}
}
