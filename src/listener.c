/*
 * listener.c: listening sockets (see listener.h).
 *
 * Each enabled listener (tcp, ssl, ws, wss) gets one socket per worker,
 * bound with SO_REUSEPORT so the kernel spreads accepts over the workers;
 * the transport of its connections (conn.h) follows its type.  Sockets
 * are created and bound in the main thread before the readiness line;
 * each worker starts its own accept watchers on its thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "tls.h"
#include "worker.h"
#include "xmalloc.h"

struct listener		**listeners;
size_t			  n_listeners;
/* Serialises listener_start and listener_stop. */
static pthread_mutex_t	  listener_lock;

/* Parse a bind address; see listener.h. */
int
listener_parse_bind(const char *s, struct sockaddr_storage *ss,
    socklen_t *len, char **cause)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			*host, *port, *end, *copy;
	long			 p;

	memset(ss, 0, sizeof *ss);
	copy = xstrdup(s);
	if (copy[0] == '[') {
		host = copy + 1;
		if ((end = strchr(host, ']')) == NULL || end[1] != ':')
			goto bad;
		*end = '\0';
		port = end + 2;
	} else if ((port = strrchr(copy, ':')) != NULL) {
		*port++ = '\0';
		host = copy;
	} else {
		host = NULL;
		port = copy;
	}
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 1 || p > 65535)
		goto bad;
	if (host == NULL || *host == '\0' || strcmp(host, "0.0.0.0") == 0) {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons((uint16_t)p);
		*len = sizeof *sin;
	} else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*len = sizeof *sin;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*len = sizeof *sin6;
	} else
		goto bad;
	free(copy);
	return (0);
bad:
	xasprintf(cause, "bad bind address '%s' (expected PORT, IP:PORT or "
	    "[IPv6]:PORT)", s);
	free(copy);
	return (-1);
}

/*
 * Open one socket bound to ss.  With reuseport it is a listening socket for
 * one worker (SO_REUSEPORT).  Without, it is a probe, closed at once: a
 * second SO_REUSEPORT socket would also bind when another process of the
 * same user already listens there with SO_REUSEPORT, so a plain bind first
 * makes a busy port an error, never a silent share.
 */
static int
listener_socket(const struct sockaddr_storage *ss, socklen_t len,
    const char *id, const char *bind_text, int reuseport, char **cause)
{
	int	 fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
		goto fail;
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)ss, len) != 0)
		goto fail;
	if (!reuseport) {
		close(fd);
		return (0);
	}
	if (listen(fd, 4096) != 0)
		goto fail;
	return (fd);
fail:
	xasprintf(cause, "listener: cannot bind '%s' for %s: %s", bind_text,
	    id, strerror(errno));
	if (fd != -1)
		close(fd);
	return (-1);
}

/* Resume accepting after an EMFILE back-off. */
static void
listener_backoff_cb(EV_P_ ev_timer *t, int revents)
{
	struct listener_sock	*ls = t->data;

	(void)revents;
	ev_io_start(EV_A, &ls->io);
}

/* Accept what is pending, within max_conn_rate. */
static void
listener_accept_cb(EV_P_ ev_io *io, int revents)
{
	struct listener_sock		*ls = io->data;
	struct listener			*l = ls->l;
	const struct config_listener	*lc = l->cfg;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	struct conn			*c;
	ev_tstamp			 now;
	int				 fd, one = 1, i;
	uint32_t			 n;

	(void)revents;
	for (i = 0; i < 64; i++) {
		if (!isinf(lc->max_conn_rate)) {
			now = ev_now(EV_A);
			ls->tokens += (now - ls->tok_at) * lc->max_conn_rate /
			    n_workers;
			ls->tok_at = now;
			if (ls->tokens > lc->max_conn_rate / n_workers + 1)
				ls->tokens = lc->max_conn_rate / n_workers + 1;
			if (ls->tokens < 1) {
				METRIC_INC(&ls->w->metrics,
				    LISTENER_REFUSED_RATE);
				ev_io_stop(EV_A, &ls->io);
				ev_timer_set(&ls->backoff,
				    (1 - ls->tokens) * n_workers /
				    lc->max_conn_rate, 0.);
				ev_timer_start(EV_A, &ls->backoff);
				return;
			}
		}
		len = sizeof ss;
		fd = accept4(ls->fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE) {
				METRIC_INC(&ls->w->metrics,
				    OVERLOAD_ACCEPT_EMFILE);
				log_warn("listener: cannot accept on %s: %s; "
				    "pausing accepts for 1s", l->id,
				    strerror(errno));
				ev_io_stop(EV_A, &ls->io);
				ev_timer_set(&ls->backoff, 1., 0.);
				ev_timer_start(EV_A, &ls->backoff);
			}
			return;
		}
		if (!isinf(lc->max_conn_rate))
			ls->tokens -= 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		n = __atomic_add_fetch(&l->conns, 1, __ATOMIC_RELAXED);
		c = conn_new(ls->w, fd, l, (struct sockaddr *)&ss, len);
		if (lc->max_connections != CONFIG_INFINITY &&
		    n > (uint64_t)lc->max_connections) {
			c->over_limit = true;
			METRIC_INC(&ls->w->metrics, LISTENER_REFUSED_MAX_CONN);
		}
	}
}

/*
 * Bind one socket per worker for a listener: socks[k] for worker k.  The
 * sockets are not watched yet; on failure none is left open.
 */
static struct listener_sock **
listener_bind(struct listener *l, char **cause)
{
	const struct config_listener	*lc = l->cfg;
	struct listener_sock		**socks;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	unsigned			 k;
	int				 fd;

	if (listener_parse_bind(lc->bind, &ss, &len, cause) != 0)
		return (NULL);
	if (listener_socket(&ss, len, lc->id, lc->bind, 0, cause) != 0)
		return (NULL);
	/* Certificates are read at every start: a restart takes new ones. */
	if ((lc->type == CONFIG_L_SSL || lc->type == CONFIG_L_WSS) &&
	    (l->tls = tls_listener_new(lc, cause)) == NULL)
		return (NULL);
	socks = xcalloc(n_workers, sizeof *socks);
	for (k = 0; k < n_workers; k++) {
		fd = listener_socket(&ss, len, lc->id, lc->bind, 1, cause);
		if (fd == -1)
			goto fail;
		socks[k] = xcalloc(1, sizeof *socks[k]);
		socks[k]->l = l;
		socks[k]->w = workers[k];
		socks[k]->fd = fd;
		socks[k]->tokens = 1;
		ev_io_init(&socks[k]->io, listener_accept_cb, fd, EV_READ);
		socks[k]->io.data = socks[k];
		ev_init(&socks[k]->backoff, listener_backoff_cb);
		socks[k]->backoff.data = socks[k];
	}
	return (socks);
fail:
	while (k-- > 0) {
		close(socks[k]->fd);
		free(socks[k]);
	}
	free(socks);
	tls_listener_unref(l->tls);
	l->tls = NULL;
	return (NULL);
}

/* Bind every listener (tcp, ssl, ws, wss) for every worker; the enabled
 * ones start. */
int
listener_init(char **cause)
{
	const struct config_listener	*lc;
	struct listener			*l;
	struct listener_sock		**socks;
	struct sockaddr_storage		 ss;
	socklen_t			 len;
	size_t				 i;
	unsigned			 k;

	pthread_mutex_init(&listener_lock, NULL);
	listeners = xcalloc(config->n_listeners + 1, sizeof *listeners);
	for (i = 0; i < config->n_listeners; i++) {
		lc = &config->listeners[i];
		/* Accepted by the config for EMQX files, not done yet: say
		 * so rather than run without them. */
		if (lc->mountpoint[0] != '\0' || lc->proxy_protocol) {
			xasprintf(cause, "listener: %s: %s is not supported "
			    "yet; remove it", lc->id, lc->proxy_protocol ?
			    "proxy_protocol" : "mountpoint");
			return (-1);
		}
		if (listener_parse_bind(lc->bind, &ss, &len, cause) != 0)
			return (-1);
		l = xcalloc(1, sizeof *l);
		l->cfg = lc;
		l->id = xstrdup(lc->id);
		l->bind_text = xstrdup(lc->bind);
		l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		listeners[n_listeners++] = l;
		if (!lc->enable)
			continue;
		/* The workers wait for main_start_accepts: theirs now. */
		if ((socks = listener_bind(l, cause)) == NULL)
			return (-1);
		for (k = 0; k < n_workers; k++) {
			socks[k]->next = workers[k]->lsocks;
			workers[k]->lsocks = socks[k];
		}
		free(socks);
		l->running = 1;
	}
	return (0);
}

/* A listener by id ("tcp:default"), or NULL. */
struct listener *
listener_find(const char *id)
{
	size_t	 i;

	for (i = 0; i < n_listeners; i++) {
		if (strcmp(listeners[i]->id, id) == 0)
			return (listeners[i]);
	}
	return (NULL);
}

/* listener_start's part on each worker: watch its new socket. */
static void
listener_attach_cb(struct worker *w, void *arg)
{
	struct listener_sock	**socks = arg, *ls = socks[w->id];

	ls->next = w->lsocks;
	w->lsocks = ls;
	ls->tok_at = ev_now(w->loop.ev);
	ev_io_start(w->loop.ev, &ls->io);
}

/* listener_stop's part on each worker: close its socket of l. */
static void
listener_detach_cb(struct worker *w, void *arg)
{
	struct listener		*l = arg;
	struct listener_sock	**pp, *ls;

	for (pp = &w->lsocks; (ls = *pp) != NULL;) {
		if (ls->l != l) {
			pp = &ls->next;
			continue;
		}
		*pp = ls->next;
		ev_io_stop(w->loop.ev, &ls->io);
		ev_timer_stop(w->loop.ev, &ls->backoff);
		close(ls->fd);
		free(ls);
	}
}

/* Start accepting on a stopped listener (not from a worker). */
int
listener_start(struct listener *l, char **cause)
{
	struct listener_sock	**socks;

	pthread_mutex_lock(&listener_lock);
	if (l->running) {
		pthread_mutex_unlock(&listener_lock);
		return (0);
	}
	if ((socks = listener_bind(l, cause)) == NULL) {
		pthread_mutex_unlock(&listener_lock);
		log_warn("%s", *cause);
		return (-1);
	}
	worker_call_all_wait(listener_attach_cb, socks);
	free(socks);
	__atomic_store_n(&l->running, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&listener_lock);
	log_notice("listener: %s started on %s", l->id, l->bind_text);
	return (0);
}

/* Stop accepting; open connections stay (not from a worker). */
void
listener_stop(struct listener *l)
{
	pthread_mutex_lock(&listener_lock);
	if (l->running) {
		worker_call_all_wait(listener_detach_cb, l);
		/* Open connections keep their reference. */
		tls_listener_unref(l->tls);
		l->tls = NULL;
		__atomic_store_n(&l->running, 0, __ATOMIC_RELAXED);
		log_notice("listener: %s stopped; its %u connections stay",
		    l->id, __atomic_load_n(&l->conns, __ATOMIC_RELAXED));
	}
	pthread_mutex_unlock(&listener_lock);
}

/* Start this worker's accept watchers (worker thread). */
void
listener_worker_start(struct worker *w)
{
	struct listener_sock	*ls;

	for (ls = w->lsocks; ls != NULL; ls = ls->next) {
		ls->tok_at = ev_now(w->loop.ev);
		ev_io_start(w->loop.ev, &ls->io);
	}
}

/* Stop accepting and close this worker's sockets (worker thread). */
void
listener_worker_stop(struct worker *w)
{
	struct listener_sock	*ls, *next;

	for (ls = w->lsocks; ls != NULL; ls = next) {
		next = ls->next;
		ev_io_stop(w->loop.ev, &ls->io);
		ev_timer_stop(w->loop.ev, &ls->backoff);
		close(ls->fd);
		free(ls);
	}
	w->lsocks = NULL;
}

/* Free the listener records (after the workers stopped). */
void
listener_free_all(void)
{
	size_t	 i;

	for (i = 0; i < n_listeners; i++) {
		tls_listener_unref(listeners[i]->tls);
		free(listeners[i]->id);
		free(listeners[i]->bind_text);
		free(listeners[i]);
	}
	free(listeners);
	listeners = NULL;
	n_listeners = 0;
}
