/*
 * listener.h: listening sockets, one per listener per worker
 * (SO_REUSEPORT), accept with back-off on EMFILE, max_connections and
 * max_conn_rate.
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <ev.h>
#include <stdint.h>
#include <sys/socket.h>

struct config_listener;
struct worker;

struct tls_listener;

struct listener {
	const struct config_listener *cfg;
	struct tls_listener *tls;	/* ssl, wss: while running */
	char		*id;		/* "tcp:default" */
	char		*bind_text;
	uint32_t	 conns;		/* atomic: open connections */
	uint16_t	 port;
	int		 running;
};

struct listener_sock {
	struct listener_sock *next;
	struct listener	*l;
	struct worker	*w;
	int		 fd;
	ev_io		 io;
	ev_timer	 backoff;
	double		 tokens;	/* max_conn_rate bucket */
	ev_tstamp	 tok_at;
};

extern struct listener	**listeners;
extern size_t		  n_listeners;

/* Create and bind every enabled listener's sockets for every worker. */
int	 listener_init(char **cause);
/* Start accepting on this worker (called in the worker thread). */
void	 listener_worker_start(struct worker *);
void	 listener_worker_stop(struct worker *);
/* Run-time control (REST, ctl; not from a worker): a listener by id, or
 * NULL; start binds its sockets again (-1 and *cause if it cannot); stop
 * closes them and leaves its connections open.  Both are idempotent. */
struct listener	*listener_find(const char *id);
int	 listener_start(struct listener *, char **cause);
void	 listener_stop(struct listener *);
void	 listener_free_all(void);
/* Parse "host:port", "[v6]:port" or "port". */
int	 listener_parse_bind(const char *, struct sockaddr_storage *,
	    socklen_t *, char **cause);

#endif
