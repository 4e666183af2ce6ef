/*
 * conn.h: one client connection: socket, buffers, state, transport.
 *
 * Owned by one worker.  Reads go through the worker's scratch buffer; only
 * the bytes of an incomplete packet are kept in rx, and tx holds only what
 * the kernel has not taken yet, so an idle connection holds no buffer
 * memory.  Writes are flushed once per loop turn (before sleeping).  A conn
 * is never freed inside its own callback: conn_close() queues it.
 *
 * Linger: a conn the broker closes while the client may still be sending
 * is not closed at once, or the kernel would answer the client's next
 * bytes with a reset and the client would lose the DISCONNECT or CONNACK
 * it has not read yet.  Before the loop sleeps it moves from w->conns to
 * w->lingering (no longer a connection in any count, no session), sends
 * what it still owes, shuts down its write side (close frame,
 * close_notify, FIN), then reads and discards until the client closes,
 * mqtt.close_linger at most; over mqtt.close_linger_max per worker it is
 * closed at once.
 */
#ifndef CONN_H
#define CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "buf.h"

#define CONN_MAGIC	0x434f4e4eU
/* Over this many unsent bytes, QoS 0 deliveries wait in the session queue. */
#define CONN_TX_HIGH	(1024 * 1024)
/* A throttled client is read again after this long without a new throttle,
 * even if no resume came (a subscriber that stopped draining). */
#define CONN_THROTTLE_MAX_MS 2000

enum conn_state {
	CONN_S_NEW,		/* accepted; waiting for CONNECT */
	CONN_S_OPEN,		/* CONNACK sent; attached to a session */
	CONN_S_CLOSING,		/* closed; freed before the loop sleeps,
				 * or lingers (enum conn_linger) */
};

/* The linger of a closed conn (see above). */
enum conn_linger {
	CONN_L_NONE,		/* not lingering */
	CONN_L_SEND,		/* sending what it owes, then shut down */
	CONN_L_DRAIN,		/* write side shut; read and discarded */
	CONN_L_OVER,		/* queued to be closed and freed */
};

struct conn;
struct listener;
struct session;
struct worker;

/*
 * Transport vtable: TCP, TLS (tls.c) and WebSocket (ws.c, over TCP or
 * TLS) behind the same calls, so that the MQTT engine never knows which.
 * read and write behave like read(2) and write(2): -1 with errno EAGAIN
 * when nothing can be done now, 0 from read at the end of the stream.
 * The rest may be NULL (plain TCP needs none of them):
 * - flush pushes out what the transport holds (handshake records, the
 *   rest of a frame): -1 on error (errno), 0 when all is out, 1 when it
 *   waits for the socket to take more (the conn then waits for EV_WRITE,
 *   and reads again once it is writable).
 * - buffered: bytes already taken from the socket and not yet returned by
 *   read, so the conn reads again without waiting for the socket.
 * - stalled: why a conn that never got to CONNECT is closed at its
 *   timeout ("TLS handshake not finished"), or NULL.
 */
struct conn_transport {
	const char	*name;
	ssize_t		(*read)(struct conn *, void *, size_t);
	ssize_t		(*write)(struct conn *, const void *, size_t);
	void		(*shutdown)(struct conn *);
	int		(*flush)(struct conn *);
	bool		(*buffered)(const struct conn *);
	const char	*(*stalled)(const struct conn *);
};

struct tls_conn;
struct ws_conn;

struct alias_map;

/* Token buckets of a listener's messages_rate and bytes_rate. */
struct conn_rate {
	double		 msgs;
	double		 bytes;
	ev_tstamp	 at;
};

struct conn {
	uint32_t	 magic;
	enum conn_state	 state;
	uint8_t		 version;	/* protocol level after CONNECT */
	uint8_t		 family;
	uint16_t	 port;
	uint8_t		 addr[16];
	bool		 paused;	/* reading stopped, for either reason: */
	bool		 rate_paused;	/* a rate limit */
	uint16_t	 throttles;	/* congested subscribers it feeds */
	bool		 want_write;
	bool		 in_tx_list;
	bool		 over_limit;	/* refused by max_connections */
	bool		 will_on_close;	/* publish the will when closing */
	bool		 got_disconnect;
	bool		 peer_closed;	/* its end of stream or a reset */
	enum conn_linger linger;
	bool		 quiet;		/* no log line on close */
	bool		 clean_start;
	uint16_t	 keepalive;
	uint16_t	 alias_max_in;	/* Topic Alias Maximum we granted */
	uint16_t	 alias_max_out;	/* client's Topic Alias Maximum */
	uint16_t	 alias_next_out;
	uint32_t	 max_packet_out; /* client's Maximum Packet Size */
	int		 fd;
	struct worker	*w;
	struct listener	*l;
	const struct conn_transport *tr;
	struct tls_conn	*tls;		/* TLS state (ssl, wss), or NULL */
	struct ws_conn	*ws;		/* WebSocket state (ws, wss), or NULL */
	struct session	*s;
	ev_io		 io;
	ev_timer	 timer;		/* keepalive, idle timeout, rate pause */
	struct buf	 rx;
	struct buf	 tx;
	struct alias_map *alias_in;	/* alias -> topic (client to us) */
	struct alias_map *alias_out;	/* topic -> alias (us to client) */
	struct conn_rate *rate;		/* buckets, only with rate limits */
	ev_tstamp	 last_rx;
	uint32_t	 throttled_ms;	/* w->now (mod 2^32) of the last throttle */
	uint32_t	 drained_ms;	/* w->now of the last sign of progress */
	uint32_t	 outq_ms;	/* when outq was read */
	uint32_t	 outq;		/* the kernel's unsent bytes then */
	double		 ka_timeout;
	uint64_t	 connected_at;	/* ms, wall clock, at CONNACK */
	uint64_t	 recv_oct, send_oct;	/* per client, for REST */
	uint64_t	 recv_pkt, send_pkt;
	uint64_t	 recv_msg, send_msg;
	uint32_t	 hold_seq;	/* output waits for this storage batch */
	uint32_t	 tx_ok;		/* while held: bytes of tx that may go */
	uint32_t	 hold_idx;	/* 1 + index in w->held, 0 if not held */
	unsigned	 handoff_to;
	struct conn	*tx_next;
	struct conn	*close_next;
	TAILQ_ENTRY(conn) entry;
};

struct conn	*conn_new(struct worker *, int fd, struct listener *,
		    const struct sockaddr *, socklen_t);
/* Adopt a socket handed over by another worker, with its unread bytes
 * and its transport state (taken). */
struct conn	*conn_adopt(struct worker *, int fd, struct listener *,
		    uint8_t family, uint16_t port, const uint8_t *addr,
		    struct buf *rx, struct tls_conn *, struct ws_conn *);
/* The bytes under the WebSocket layer: TLS when c->tls, else the socket
 * (read(2) and write(2) semantics). */
ssize_t		 conn_lower_read(struct conn *, void *, size_t);
ssize_t		 conn_lower_write(struct conn *, const void *, size_t);
/* Detach the socket for a hand-off: the conn is freed, fd kept open. */
void		 conn_release_fd(struct conn *);
void		 conn_close(struct conn *, const char *why);
/* Close every lingering socket now (shutdown). */
void		 conn_linger_stop(struct worker *);
/* Queue bytes already in c->tx for the before-sleep flush. */
void		 conn_want_flush(struct conn *);
void		 conn_before_sleep(struct worker *);
void		 conn_set_state(struct conn *, enum conn_state);
void		 conn_set_keepalive(struct conn *, double seconds);
void		 conn_touch(struct conn *);
/* Re-arm the timer after a deadline changed (retry, pause). */
void		 conn_timer_rearm(struct conn *);
/* "client 'id' 1.2.3.4:5678" for logs; static per-thread buffer. */
const char	*conn_name(const struct conn *);
const char	*conn_addr(const struct conn *);
/* The IP address alone ("::1", "127.0.0.1"); static per-thread buffer. */
const char	*conn_ip(const struct conn *);
void		 conn_resume_reading(struct conn *);
/* True if the client took some of what we sent within the last stall_ms
 * (our writes, or the kernel's send queue going down). */
bool		 conn_draining(struct conn *, uint64_t stall_ms);
/* A subscriber this client feeds is congested (on) or has room (off):
 * reading stops while any is, CONN_THROTTLE_MAX_MS at most. */
void		 conn_throttle(struct conn *, bool on);
/* Charge a received packet to the rate limits; false when paused. */
bool		 conn_rate_charge(struct conn *, size_t bytes, bool publish);

#endif
