/*
 * tls.h: TLS for ssl and wss listeners (mbedTLS), behind the transport
 * vtable of conn.h.
 *
 * A listener's TLS settings (certificates, CA, verification, versions,
 * ciphers) are a struct tls_listener, loaded when the listener starts and
 * shared read-only by every worker; each connection refers to it, so a
 * restart that loads new certificates leaves older connections on the old
 * ones until they go.  A connection's state is a struct tls_conn in
 * c->tls, owned by the worker that owns the conn and moved with it on a
 * hand-off.  Handshakes run inside the worker loops, non-blocking.
 */
#ifndef TLS_H
#define TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct config_listener;
struct conn;
struct conn_transport;
struct tls_listener;

/* MQTT over TLS: read and write are the application data. */
extern const struct conn_transport tls_transport;

/* Load a listener's certificates and settings; NULL and *cause (naming
 * the listener, the file and the reason) if they cannot be used. */
struct tls_listener *tls_listener_new(const struct config_listener *,
	    char **cause);
/* Drop the listener's reference; the last connection frees it. */
void	 tls_listener_unref(struct tls_listener *);
/* Start TLS on an accepted conn of an ssl or wss listener (c->l->tls). */
void	 tls_attach(struct conn *);
/* Free c->tls (NULL is fine); sets it NULL. */
void	 tls_free(struct conn *);
/* Application data in and out (conn_lower_read/write for wss). */
ssize_t	 tls_read(struct conn *, void *, size_t);
ssize_t	 tls_write(struct conn *, const void *, size_t);
/* The CN (dn false) or the DN as text ("C=SE, O=x, CN=y") of the client
 * certificate, if the client sent one and it was verified (verify_peer);
 * else NULL.  For mqtt.peer_cert_as_username and peer_cert_as_clientid. */
const char *tls_peer_name(const struct conn *, bool dn);

#endif
