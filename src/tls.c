/*
 * tls.c: TLS for ssl and wss listeners, with mbedTLS (see tls.h).
 *
 * A struct tls_listener holds one mbedtls_ssl_config with its certificate,
 * key, CA chain and cipher list.  It is built on the main thread when the
 * listener starts and then only read, by every worker at once (mbedTLS
 * allows a shared config; the RNG is getrandom(2), which needs no state).
 * It is refcounted: the listener holds one reference while it runs and
 * each connection one, so a restart with new certificates leaves the
 * older connections on the old ones.
 *
 * A struct tls_conn is one connection's mbedtls_ssl_context, owned by the
 * worker that owns the conn and moved with the socket on a hand-off: the
 * BIO callbacks get the tls_conn (which holds the fd), never the conn.
 * Everything is non-blocking: the handshake is stepped from tls_read and
 * from the flush hook, and WANT_WRITE makes the conn wait for EV_WRITE.
 *
 * mbedTLS rule for writes: after MBEDTLS_ERR_SSL_WANT_WRITE, the same
 * write must be repeated with the same length (the record is already
 * encrypted and partly sent).  conn keeps the head of its tx buffer until
 * a write returns a count, so tls_write remembers the length of a pending
 * record and asks for exactly that again.
 */
#include <sys/random.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mbedtls/debug.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ciphersuites.h>
#include <mbedtls/ssl_internal.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

#define TLS_LISTENER_MAGIC	0x544c534cU
#define TLS_CONN_MAGIC		0x544c5343U

struct tls_listener {
	uint32_t		 magic;
	uint32_t		 refs;		/* atomic */
	char			*id;		/* "ssl:default" */
	int			 verify;	/* enum config_ssl_verify */
	bool			 fail_if_no_peer_cert;
	mbedtls_ssl_config	 conf;
	mbedtls_x509_crt	 cert;		/* our chain */
	mbedtls_pk_context	 key;
	mbedtls_x509_crt	 ca;		/* client certificates' CAs */
	int			*ciphers;	/* 0-terminated, or NULL */
};

struct tls_conn {
	uint32_t		 magic;
	int			 fd;		/* the BIO: the socket */
	struct tls_listener	*tl;		/* a reference */
	mbedtls_ssl_context	 ssl;
	bool			 setup;		/* ssl was set up */
	bool			 done;		/* handshake over and checked */
	bool			 failed;	/* refused or broken: no I/O */
	bool			 hs_write;	/* handshake waits to write */
	size_t			 wlen;		/* length of a pending record */
	uint32_t		 vflags;	/* verification flags seen */
	size_t			 nfirst;
	uint8_t			 first[4];	/* the first bytes received */
	char			*sni_refused;	/* a server name not covered */
	char			*cn, *dn;	/* of a verified client cert */
};

/* Once per process: TLS 1.3 is not in this mbedTLS. */
static int	tls_no13_said;

/* The RNG of every config: the kernel's, thread-safe, no state. */
static int
tls_random(void *p, unsigned char *out, size_t len)
{
	ssize_t	 n;

	(void)p;
	while (len > 0) {
		n = getrandom(out, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return (MBEDTLS_ERR_SSL_INTERNAL_ERROR);
		}
		out += n;
		len -= (size_t)n;
	}
	return (0);
}

/* mbedTLS's own debug lines, at debug level. */
static void
tls_debug_cb(void *p, int level, const char *file, int line, const char *s)
{
	size_t	 n = strlen(s);

	(void)p;
	(void)level;
	while (n > 0 && s[n - 1] == '\n')
		n--;
	log_debug("tls: mbedtls %s:%d: %.*s", file, line, (int)n, s);
}

/* BIO send: the socket, non-blocking. */
static int
tls_bio_send(void *ctx, const unsigned char *p, size_t len)
{
	struct tls_conn	*t = ctx;
	ssize_t		 n;

	n = send(t->fd, p, len, MSG_NOSIGNAL);
	if (n >= 0)
		return ((int)n);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return (MBEDTLS_ERR_SSL_WANT_WRITE);
	if (errno == EPIPE || errno == ECONNRESET)
		return (MBEDTLS_ERR_NET_CONN_RESET);
	return (MBEDTLS_ERR_NET_SEND_FAILED);
}

/* BIO receive: the socket, non-blocking; keeps the first bytes to tell
 * what a client that does not speak TLS sent. */
static int
tls_bio_recv(void *ctx, unsigned char *p, size_t len)
{
	struct tls_conn	*t = ctx;
	ssize_t		 n;
	size_t		 k;

	n = read(t->fd, p, len);
	if (n > 0) {
		for (k = 0; k < (size_t)n && t->nfirst < sizeof t->first; k++)
			t->first[t->nfirst++] = p[k];
		return ((int)n);
	}
	if (n == 0)
		return (0);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return (MBEDTLS_ERR_SSL_WANT_READ);
	if (errno == ECONNRESET || errno == EPIPE)
		return (MBEDTLS_ERR_NET_CONN_RESET);
	return (MBEDTLS_ERR_NET_RECV_FAILED);
}

/* Whether a server name matches a certificate name, with a leading "*."
 * matching exactly one label (RFC 6125 6.4.3). */
static bool
tls_name_match(const char *pat, size_t plen, const char *name)
{
	const char	*dot;
	size_t		 nlen = strlen(name);

	if (plen > 2 && pat[0] == '*' && pat[1] == '.') {
		if ((dot = strchr(name, '.')) == NULL || dot == name)
			return (false);
		nlen -= (size_t)(dot - name);
		return (nlen == plen - 1 &&
		    strncasecmp(dot, pat + 1, plen - 1) == 0);
	}
	return (nlen == plen && strncasecmp(pat, name, plen) == 0);
}

/* Whether our certificate covers a server name: its DNS names, or its CN
 * when it has none.  Some clients (mosquitto) send an IP address, which
 * RFC 6066 does not allow: it must be one of the IP names. */
static bool
tls_cert_covers(const mbedtls_x509_crt *crt, const char *name)
{
	const mbedtls_x509_sequence	*san;
	const mbedtls_x509_name		*n;
	uint8_t				 ip[16];
	size_t				 iplen = 0;
	bool				 any = false;

	if (inet_pton(AF_INET, name, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, name, ip) == 1)
		iplen = 16;
	for (san = &crt->subject_alt_names; iplen != 0 && san != NULL;
	    san = san->next) {
		if (san->buf.p != NULL && san->buf.tag ==
		    (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) &&
		    san->buf.len == iplen && memcmp(san->buf.p, ip, iplen) == 0)
			return (true);
	}
	if (iplen != 0)
		return (false);
	for (san = &crt->subject_alt_names; san != NULL; san = san->next) {
		if (san->buf.p == NULL || san->buf.tag !=
		    (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME))
			continue;
		any = true;
		if (tls_name_match((const char *)san->buf.p, san->buf.len,
		    name))
			return (true);
	}
	if (any)
		return (false);
	for (n = &crt->subject; n != NULL; n = n->next) {
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    tls_name_match((const char *)n->val.p, n->val.len, name))
			return (true);
	}
	return (false);
}

/* SNI: refuse a server name the certificate does not cover. */
static int
tls_sni_cb(void *p, mbedtls_ssl_context *ssl, const unsigned char *name,
    size_t len)
{
	struct tls_listener	*tl = p;
	struct tls_conn		*t = ssl->p_bio;
	char			*s;

	assert(tl->magic == TLS_LISTENER_MAGIC);
	assert(t->magic == TLS_CONN_MAGIC);
	s = xmalloc(len + 1);
	memcpy(s, name, len);
	s[len] = '\0';
	if (strlen(s) == len && tls_cert_covers(&tl->cert, s)) {
		free(s);
		return (0);
	}
	free(t->sni_refused);
	t->sni_refused = s;
	return (-1);
}

/*
 * Certificate verification, per connection: note the flags for the log
 * line.  verify_peer without fail_if_no_peer_cert runs mbedTLS in optional
 * mode, which would let a bad certificate through: a failure there is
 * made fatal (any error but CERT_VERIFY_FAILED is).
 */
static int
tls_verify_cb(void *p, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct tls_conn	*t = p;

	(void)crt;
	assert(t->magic == TLS_CONN_MAGIC);
	t->vflags |= *flags;
	if (depth == 0 && t->vflags != 0 && !t->tl->fail_if_no_peer_cert)
		return (MBEDTLS_ERR_X509_FATAL_ERROR);
	return (0);
}

/* An mbedTLS error as text. */
static const char *
tls_strerror(int ret)
{
	static __thread char	 s[160];

	mbedtls_strerror(ret, s, sizeof s);
	return (s);
}

/* A TLS alert's name. */
static const char *
tls_alert_name(int a)
{
	switch (a) {
	case 0:		return ("close_notify");
	case 10:	return ("unexpected_message");
	case 20:	return ("bad_record_mac");
	case 40:	return ("handshake_failure");
	case 42:	return ("bad_certificate");
	case 43:	return ("unsupported_certificate");
	case 44:	return ("certificate_revoked");
	case 45:	return ("certificate_expired");
	case 46:	return ("certificate_unknown");
	case 47:	return ("illegal_parameter");
	case 48:	return ("unknown_ca");
	case 50:	return ("decode_error");
	case 51:	return ("decrypt_error");
	case 70:	return ("protocol_version");
	case 71:	return ("insufficient_security");
	case 80:	return ("internal_error");
	case 90:	return ("user_canceled");
	case 112:	return ("unrecognized_name");
	default:	return ("unknown");
	}
}

/* Why a handshake failed, for its log line. */
static void
tls_why(struct tls_conn *t, int ret, char *s, size_t size)
{
	char	 info[512], *q;
	uint32_t vr;

	/* mbedTLS's own checks (key usage) are in the verify result only. */
	if ((ret == MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE ||
	    ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) &&
	    (vr = mbedtls_ssl_get_verify_result(&t->ssl)) != 0xffffffffU)
		t->vflags |= vr;
	if (t->nfirst > 0 && t->first[0] != 0x16) {
		if (t->first[0] == 0x10)
			snprintf(s, size, "not TLS: looks like MQTT in the "
			    "clear");
		else if (t->nfirst >= 3 && isupper(t->first[0]) &&
		    isupper(t->first[1]) && isupper(t->first[2]))
			snprintf(s, size, "not TLS: looks like HTTP in the "
			    "clear");
		else
			snprintf(s, size, "not TLS: first byte 0x%02x",
			    t->first[0]);
	} else if (t->sni_refused != NULL)
		snprintf(s, size, "server name '%.200s' is not in the "
		    "certificate", t->sni_refused);
	else if (t->vflags != 0) {
		mbedtls_x509_crt_verify_info(info, sizeof info, "",
		    t->vflags);
		while ((q = strrchr(info, '\n')) != NULL && q[1] == '\0')
			*q = '\0';
		while ((q = strchr(info, '\n')) != NULL)
			*q = ';';
		snprintf(s, size, "client certificate refused: %s", info);
	} else if (ret == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)
		snprintf(s, size, "no client certificate "
		    "(fail_if_no_peer_cert)");
	else if (ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE)
		snprintf(s, size, "the client sent alert %d (%s)",
		    t->ssl.in_msg[1], tls_alert_name(t->ssl.in_msg[1]));
	else if (ret == MBEDTLS_ERR_SSL_CONN_EOF || ret == 0)
		snprintf(s, size, "connection closed during the TLS "
		    "handshake");
	else if (ret == MBEDTLS_ERR_NET_CONN_RESET)
		snprintf(s, size, "connection reset during the TLS handshake");
	else
		snprintf(s, size, "TLS handshake failed: %s",
		    tls_strerror(ret));
}

/* Refuse a connection whose handshake failed: one log line, then the
 * conn closes quietly (errno EPROTO or ECONNRESET). */
static void
tls_refuse(struct conn *c, int ret)
{
	struct tls_conn	*t = c->tls;
	char		 why[640];

	tls_why(t, ret, why, sizeof why);
	log_info("tls: %s refused on %s: %s", conn_addr(c),
	    t->tl->id, why);
	t->failed = true;
	c->quiet = true;
	errno = ret == MBEDTLS_ERR_NET_CONN_RESET ? ECONNRESET : EPROTO;
}

/* A name attribute list as "CN=x, O=y", or NULL. */
static char *
tls_dn(const mbedtls_x509_name *dn)
{
	char	 s[1024];

	if (mbedtls_x509_dn_gets(s, sizeof s, dn) < 0)
		return (NULL);
	return (xstrdup(s));
}

/* The CN of a name, or NULL. */
static char *
tls_cn(const mbedtls_x509_name *n)
{
	for (; n != NULL; n = n->next) {
		if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 &&
		    n->val.len > 0 && memchr(n->val.p, '\0', n->val.len) ==
		    NULL)
			return (xstrndup((const char *)n->val.p, n->val.len));
	}
	return (NULL);
}

/* After the handshake: keep the verified client certificate's names. */
static void
tls_handshake_done(struct conn *c)
{
	struct tls_conn		*t = c->tls;
	const mbedtls_x509_crt	*peer;

	t->done = true;
	/* The handshake's own limit is over: CONNECT has the usual one. */
	if (c->state == CONN_S_NEW)
		conn_set_keepalive(c, (double)config->mqtt_idle_timeout /
		    1000.0);
	if (t->tl->verify == CONFIG_VERIFY_PEER &&
	    (peer = mbedtls_ssl_get_peer_cert(&t->ssl)) != NULL &&
	    mbedtls_ssl_get_verify_result(&t->ssl) == 0) {
		t->cn = tls_cn(&peer->subject);
		t->dn = tls_dn(&peer->subject);
	}
	log_debug("tls: %s handshake done: %s %s%s%s", conn_addr(c),
	    mbedtls_ssl_get_version(&t->ssl),
	    mbedtls_ssl_get_ciphersuite(&t->ssl), t->cn != NULL ?
	    ", client certificate CN=" : "", t->cn != NULL ? t->cn : "");
}

/* Step the handshake: 0 when over, 1 when it waits for the socket, -1
 * when refused (logged; errno set). */
static int
tls_handshake(struct conn *c)
{
	struct tls_conn	*t = c->tls;
	int		 ret;

	if (t->done)
		return (0);
	t->hs_write = false;
	ret = mbedtls_ssl_handshake(&t->ssl);
	if (ret == 0 && t->tl->verify == CONFIG_VERIFY_PEER &&
	    mbedtls_ssl_get_peer_cert(&t->ssl) != NULL &&
	    (t->vflags |= mbedtls_ssl_get_verify_result(&t->ssl)) != 0) {
		/* Optional mode lets a wrong key usage through. */
		(void)mbedtls_ssl_send_alert_message(&t->ssl,
		    MBEDTLS_SSL_ALERT_LEVEL_FATAL,
		    MBEDTLS_SSL_ALERT_MSG_UNSUPPORTED_CERT);
		ret = MBEDTLS_ERR_X509_CERT_VERIFY_FAILED;
	} else if (ret == 0) {
		tls_handshake_done(c);
		return (0);
	}
	if (ret == MBEDTLS_ERR_SSL_WANT_READ)
		return (1);
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
		t->hs_write = true;
		return (1);
	}
	tls_refuse(c, ret);
	return (-1);
}

/* Application data in; see tls.h. */
ssize_t
tls_read(struct conn *c, void *p, size_t n)
{
	struct tls_conn	*t = c->tls;
	int		 ret;

	assert(t != NULL && t->magic == TLS_CONN_MAGIC);
	if (t->failed) {
		errno = EPROTO;
		return (-1);
	}
	if (!t->done) {
		ret = tls_handshake(c);
		if (ret < 0)
			return (-1);
		if (ret > 0) {
			if (t->hs_write)
				conn_want_flush(c);
			errno = EAGAIN;
			return (-1);
		}
	}
	if (n > INT32_MAX)
		n = INT32_MAX;
	ret = mbedtls_ssl_read(&t->ssl, p, n);
	if (ret > 0)
		return (ret);
	switch (ret) {
	case 0:
	case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
	case MBEDTLS_ERR_SSL_CONN_EOF:
		return (0);
	case MBEDTLS_ERR_SSL_WANT_READ:
		errno = EAGAIN;
		return (-1);
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		conn_want_flush(c);
		errno = EAGAIN;
		return (-1);
	case MBEDTLS_ERR_NET_CONN_RESET:
		errno = ECONNRESET;
		return (-1);
	default:
		log_info("tls: %s closed: %s", conn_name(c),
		    ret == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE ?
		    tls_alert_name(t->ssl.in_msg[1]) : tls_strerror(ret));
		t->failed = true;
		c->quiet = true;
		errno = EPROTO;
		return (-1);
	}
}

/* Application data out; see tls.h and the rule at the top. */
ssize_t
tls_write(struct conn *c, const void *p, size_t n)
{
	struct tls_conn	*t = c->tls;
	size_t		 max;
	int		 ret;

	assert(t != NULL && t->magic == TLS_CONN_MAGIC);
	if (t->failed) {
		errno = EPIPE;
		return (-1);
	}
	if (n == 0)
		return (0);
	if (t->wlen != 0) {
		/* The same record again: conn's tx head has not moved. */
		assert(n >= t->wlen);
		n = t->wlen;
	} else {
		ret = mbedtls_ssl_get_max_out_record_payload(&t->ssl);
		max = ret > 0 ? (size_t)ret : 16384;
		if (n > max)
			n = max;
	}
	ret = mbedtls_ssl_write(&t->ssl, p, n);
	if (ret >= 0) {
		t->wlen = 0;
		if (!t->done && t->ssl.state == MBEDTLS_SSL_HANDSHAKE_OVER)
			tls_handshake_done(c);
		return (ret);
	}
	switch (ret) {
	case MBEDTLS_ERR_SSL_WANT_WRITE:
		t->wlen = n;
		/* FALLTHROUGH */
	case MBEDTLS_ERR_SSL_WANT_READ:
		errno = EAGAIN;
		return (-1);
	case MBEDTLS_ERR_NET_CONN_RESET:
		errno = ECONNRESET;
		break;
	default:
		log_debug("tls: %s write failed: %s", conn_name(c),
		    tls_strerror(ret));
		errno = EPROTO;
		break;
	}
	t->failed = true;
	return (-1);
}

/* Push out what mbedTLS holds: handshake records or an alert.  A pending
 * application record is the write path's (tx is not empty then). */
static int
tls_flush(struct conn *c)
{
	struct tls_conn	*t = c->tls;
	int		 ret;

	if (t->failed)
		return (0);
	if (!t->done) {
		ret = tls_handshake(c);
		if (ret < 0)
			return (-1);
		return (ret > 0 && t->hs_write ? 1 : 0);
	}
	if (t->wlen != 0)
		return (1);
	if (t->ssl.out_left == 0)
		return (0);
	ret = mbedtls_ssl_flush_output(&t->ssl);
	if (ret == 0)
		return (0);
	if (ret == MBEDTLS_ERR_SSL_WANT_WRITE)
		return (1);
	t->failed = true;
	errno = ret == MBEDTLS_ERR_NET_CONN_RESET ? ECONNRESET : EPROTO;
	return (-1);
}

/* Decrypted bytes not yet returned, or a record already read. */
static bool
tls_buffered(const struct conn *c)
{
	const struct tls_conn	*t = c->tls;

	if (t == NULL || t->failed || !t->done)
		return (false);
	return (mbedtls_ssl_get_bytes_avail(&t->ssl) > 0 ||
	    mbedtls_ssl_check_pending(&t->ssl) != 0);
}

/* Why a conn that never got to CONNECT is closed at its timeout. */
static const char *
tls_stalled(const struct conn *c)
{
	const struct tls_conn	*t = c->tls;

	if (t != NULL && !t->done && !t->failed)
		return ("TLS handshake not finished");
	return (NULL);
}

/* close_notify, best effort, non-blocking. */
static void
tls_shutdown(struct conn *c)
{
	struct tls_conn	*t = c->tls;

	if (t != NULL && t->setup && !t->failed && t->done)
		(void)mbedtls_ssl_close_notify(&t->ssl);
	shutdown(c->fd, SHUT_WR);
}

const struct conn_transport tls_transport = {
	.name = "tls",
	.read = tls_read,
	.write = tls_write,
	.shutdown = tls_shutdown,
	.flush = tls_flush,
	.buffered = tls_buffered,
	.stalled = tls_stalled,
};

/* The verified client certificate's CN, or its DN as text; see tls.h. */
const char *
tls_peer_name(const struct conn *c, bool dn)
{
	const struct tls_conn	*t = c->tls;

	if (t == NULL || !t->done || t->failed)
		return (NULL);
	return (dn ? t->dn : t->cn);
}

/* Map one cipher name: mbedTLS's own (TLS-ECDHE-RSA-WITH-...), IANA's
 * with underscores, or OpenSSL's (ECDHE-RSA-AES256-GCM-SHA384).  0 if
 * unknown. */
static int
tls_cipher_id(const char *name)
{
	const int	*ids;
	const char	*ms, *with;
	char		 buf[128], os[128], *q;
	size_t		 i;
	int		 id;

	if (strlen(name) >= sizeof buf)
		return (0);
	for (i = 0; name[i] != '\0'; i++)
		buf[i] = name[i] == '_' ? '-' : (char)toupper(
		    (unsigned char)name[i]);
	buf[i] = '\0';
	if ((id = mbedtls_ssl_get_ciphersuite_id(buf)) != 0)
		return (id);
	/* OpenSSL names, made from each suite mbedTLS has. */
	for (ids = mbedtls_ssl_list_ciphersuites(); *ids != 0; ids++) {
		ms = mbedtls_ssl_get_ciphersuite_name(*ids);
		if (strncmp(ms, "TLS-", 4) != 0 ||
		    (with = strstr(ms, "-WITH-")) == NULL)
			continue;
		if (strncmp(ms + 4, "RSA-WITH-", 9) != 0)
			snprintf(os, sizeof os, "%.*s-%s",
			    (int)(with - ms - 4), ms + 4, with + 6);
		else
			snprintf(os, sizeof os, "%s", with + 6);
		/* AES-256 -> AES256, CAMELLIA-128 -> CAMELLIA128 ... */
		while ((q = strstr(os, "AES-")) != NULL ||
		    (q = strstr(os, "CAMELLIA-")) != NULL ||
		    (q = strstr(os, "ARIA-")) != NULL) {
			q = strchr(q, '-');
			memmove(q, q + 1, strlen(q));
		}
		if ((q = strstr(os, "-CBC")) != NULL)
			memmove(q, q + 4, strlen(q + 4) + 1);
		if ((q = strstr(os, "-CCM-8")) != NULL)
			memmove(q + 4, q + 5, strlen(q + 5) + 1);
		if ((q = strstr(os, "CHACHA20-POLY1305-SHA256")) != NULL)
			q[strlen("CHACHA20-POLY1305")] = '\0';
		if (strcasecmp(os, name) == 0)
			return (*ids);
	}
	return (0);
}

/* TLS 1.3 suites (RFC 8446 B.4), in EMQX's default list: skipped here. */
static bool
tls_cipher_13(const char *name)
{
	static const char *v[] = {
		"TLS_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256",
		"TLS_CHACHA20_POLY1305_SHA256", "TLS_AES_128_CCM_SHA256",
		"TLS_AES_128_CCM_8_SHA256",
	};
	size_t	 i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		if (strcasecmp(name, v[i]) == 0)
			return (true);
	}
	return (false);
}

/* The cipher list: ids into tl->ciphers; -1 and *cause naming the
 * unknown names. */
static int
tls_ciphers(struct tls_listener *tl, const struct config_listener *lc,
    char **cause)
{
	const struct config_strlist	*l = &lc->ssl_ciphers;
	char				*bad = NULL, *tmp;
	size_t				 i, n = 0;
	int				 id;

	if (l->n == 0)
		return (0);
	tl->ciphers = xcalloc(l->n + 1, sizeof *tl->ciphers);
	for (i = 0; i < l->n; i++) {
		if (tls_cipher_13(l->v[i]))
			continue;
		if ((id = tls_cipher_id(l->v[i])) != 0) {
			tl->ciphers[n++] = id;
			continue;
		}
		if (bad == NULL)
			bad = xstrdup(l->v[i]);
		else {
			xasprintf(&tmp, "%s, %s", bad, l->v[i]);
			free(bad);
			bad = tmp;
		}
	}
	if (bad != NULL) {
		xasprintf(cause, "listener: %s: ssl_options.ciphers: unknown "
		    "cipher suites: %s", lc->id, bad);
		free(bad);
		return (-1);
	}
	if (n == 0) {
		xasprintf(cause, "listener: %s: ssl_options.ciphers: only "
		    "TLS 1.3 suites, and this build has TLS 1.2 only", lc->id);
		return (-1);
	}
	mbedtls_ssl_conf_ciphersuites(&tl->conf, tl->ciphers);
	return (0);
}

/* ssl_options.versions: TLS 1.2 only here. */
static int
tls_versions(const struct config_listener *lc, char **cause)
{
	const struct config_strlist	*l = &lc->ssl_versions;
	bool				 v12 = false, v13 = false;
	size_t				 i;

	for (i = 0; i < l->n; i++) {
		if (strcmp(l->v[i], "tlsv1.2") == 0)
			v12 = true;
		else if (strcmp(l->v[i], "tlsv1.3") == 0)
			v13 = true;
	}
	if (!v12) {
		xasprintf(cause, "listener: %s: ssl_options.versions must "
		    "include tlsv1.2: this build's mbedTLS (%s) has no TLS "
		    "1.3", lc->id, MBEDTLS_VERSION_STRING);
		return (-1);
	}
	if (v13 && !__atomic_exchange_n(&tls_no13_said, 1, __ATOMIC_RELAXED))
		log_notice("tls: TLS 1.3 is not available with mbedTLS %s: "
		    "TLS 1.2 only", MBEDTLS_VERSION_STRING);
	return (0);
}

/* Load a PEM file into one of our parsers; -1 and *cause. */
static int
tls_load(const struct config_listener *lc, const char *what,
    const char *path, int ret, char **cause)
{
	if (ret == 0)
		return (0);
	if (access(path, R_OK) != 0)
		xasprintf(cause, "listener: %s: cannot read %s '%s': %s",
		    lc->id, what, path, strerror(errno));
	else if (ret > 0)
		xasprintf(cause, "listener: %s: bad %s '%s': %d certificates "
		    "could not be parsed", lc->id, what, path, ret);
	else
		xasprintf(cause, "listener: %s: bad %s '%s': %s", lc->id,
		    what, path, tls_strerror(ret));
	return (-1);
}

/* ECDHE groups offered, in order of preference. */
static const mbedtls_ecp_group_id tls_curves[] = {
	MBEDTLS_ECP_DP_CURVE25519,
	MBEDTLS_ECP_DP_SECP256R1,
	MBEDTLS_ECP_DP_SECP384R1,
	MBEDTLS_ECP_DP_SECP521R1,
	MBEDTLS_ECP_DP_NONE
};

/*
 * mbedTLS keeps the precomputed multiples of an EC group's generator in the
 * group, made on first use: two workers using our key or a CA's key at
 * once for the first time would both write them.  Make them here, on the
 * main thread, before any worker sees the config.
 */
static void
tls_warm_ec(mbedtls_pk_context *pk)
{
	mbedtls_ecp_keypair	*ec;
	mbedtls_ecp_point	 r;
	mbedtls_mpi		 one;

	if (!mbedtls_pk_can_do(pk, MBEDTLS_PK_ECKEY))
		return;
	ec = mbedtls_pk_ec(*pk);
	mbedtls_ecp_point_init(&r);
	mbedtls_mpi_init(&one);
	if (mbedtls_mpi_lset(&one, 1) == 0)
		(void)mbedtls_ecp_mul(&ec->grp, &r, &one, &ec->grp.G,
		    tls_random, NULL);
	mbedtls_mpi_free(&one);
	mbedtls_ecp_point_free(&r);
}

/* See tls.h. */
struct tls_listener *
tls_listener_new(const struct config_listener *lc, char **cause)
{
	struct tls_listener	*tl;
	mbedtls_x509_crt	*crt;
	int			 ret, authmode;

	tl = xcalloc(1, sizeof *tl);
	tl->magic = TLS_LISTENER_MAGIC;
	tl->refs = 1;
	tl->id = xstrdup(lc->id);
	tl->verify = lc->ssl_verify;
	tl->fail_if_no_peer_cert = lc->ssl_fail_if_no_peer_cert;
	mbedtls_ssl_config_init(&tl->conf);
	mbedtls_x509_crt_init(&tl->cert);
	mbedtls_x509_crt_init(&tl->ca);
	mbedtls_pk_init(&tl->key);

	if (tls_versions(lc, cause) != 0)
		goto fail;
	if (lc->ssl_certfile[0] == '\0' || lc->ssl_keyfile[0] == '\0') {
		xasprintf(cause, "listener: %s: ssl_options.certfile and "
		    "ssl_options.keyfile must be set", lc->id);
		goto fail;
	}
	if (tls_load(lc, "certfile", lc->ssl_certfile,
	    mbedtls_x509_crt_parse_file(&tl->cert, lc->ssl_certfile),
	    cause) != 0)
		goto fail;
	if (tls_load(lc, "keyfile", lc->ssl_keyfile,
	    mbedtls_pk_parse_keyfile(&tl->key, lc->ssl_keyfile, NULL),
	    cause) != 0)
		goto fail;
	if ((ret = mbedtls_pk_check_pair(&tl->cert.pk, &tl->key)) != 0) {
		xasprintf(cause, "listener: %s: keyfile '%s' is not the key "
		    "of certfile '%s': %s", lc->id, lc->ssl_keyfile,
		    lc->ssl_certfile, tls_strerror(ret));
		goto fail;
	}
	if (mbedtls_x509_time_is_past(&tl->cert.valid_to))
		log_warn("listener: %s: certfile '%s' has expired", lc->id,
		    lc->ssl_certfile);
	if (lc->ssl_cacertfile[0] != '\0' && tls_load(lc, "cacertfile",
	    lc->ssl_cacertfile, mbedtls_x509_crt_parse_file(&tl->ca,
	    lc->ssl_cacertfile), cause) != 0)
		goto fail;
	if (tl->verify == CONFIG_VERIFY_PEER && lc->ssl_cacertfile[0] ==
	    '\0') {
		xasprintf(cause, "listener: %s: verify_peer needs "
		    "ssl_options.cacertfile", lc->id);
		goto fail;
	}

	if ((ret = mbedtls_ssl_config_defaults(&tl->conf, MBEDTLS_SSL_IS_SERVER,
	    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT)) != 0) {
		xasprintf(cause, "listener: %s: %s", lc->id,
		    tls_strerror(ret));
		goto fail;
	}
	mbedtls_ssl_conf_rng(&tl->conf, tls_random, NULL);
	mbedtls_ssl_conf_dbg(&tl->conf, tls_debug_cb, NULL);
	if (log_level >= LOG_L_DEBUG)
		mbedtls_debug_set_threshold(1);
	mbedtls_ssl_conf_min_version(&tl->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_max_version(&tl->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_renegotiation(&tl->conf,
	    MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	/* mbedTLS prefers the largest curve, secp521r1, whose key exchange
	 * costs several milliseconds of CPU per handshake; offer what
	 * clients use, fastest first (OpenSSL's order). */
	mbedtls_ssl_conf_curves(&tl->conf, tls_curves);
	if ((ret = mbedtls_ssl_conf_own_cert(&tl->conf, &tl->cert,
	    &tl->key)) != 0) {
		xasprintf(cause, "listener: %s: certfile '%s': %s", lc->id,
		    lc->ssl_certfile, tls_strerror(ret));
		goto fail;
	}
	if (tl->verify == CONFIG_VERIFY_PEER) {
		authmode = tl->fail_if_no_peer_cert ?
		    MBEDTLS_SSL_VERIFY_REQUIRED : MBEDTLS_SSL_VERIFY_OPTIONAL;
		mbedtls_ssl_conf_ca_chain(&tl->conf, &tl->ca, NULL);
	} else
		authmode = MBEDTLS_SSL_VERIFY_NONE;
	mbedtls_ssl_conf_authmode(&tl->conf, authmode);
	mbedtls_ssl_conf_sni(&tl->conf, tls_sni_cb, tl);
	if (tls_ciphers(tl, lc, cause) != 0)
		goto fail;
	tls_warm_ec(&tl->key);
	for (crt = &tl->ca; crt != NULL && crt->raw.p != NULL; crt = crt->next)
		tls_warm_ec(&crt->pk);
	log_info("listener: %s: certificate '%s' loaded (%s)", lc->id,
	    lc->ssl_certfile, tl->verify == CONFIG_VERIFY_PEER ?
	    (tl->fail_if_no_peer_cert ? "client certificates required" :
	    "client certificates verified") : "no client certificates");
	return (tl);
fail:
	tl->refs = 0;
	tls_listener_unref(tl);
	return (NULL);
}

/* Free a listener's TLS state. */
static void
tls_listener_free(struct tls_listener *tl)
{
	mbedtls_ssl_config_free(&tl->conf);
	mbedtls_x509_crt_free(&tl->cert);
	mbedtls_x509_crt_free(&tl->ca);
	mbedtls_pk_free(&tl->key);
	free(tl->ciphers);
	free(tl->id);
	tl->magic = 0;
	free(tl);
}

/* A new reference. */
static struct tls_listener *
tls_listener_ref(struct tls_listener *tl)
{
	__atomic_add_fetch(&tl->refs, 1, __ATOMIC_RELAXED);
	return (tl);
}

/* Drop a reference; see tls.h.  A failed tls_listener_new frees at 0. */
void
tls_listener_unref(struct tls_listener *tl)
{
	if (tl == NULL)
		return;
	assert(tl->magic == TLS_LISTENER_MAGIC);
	if (tl->refs == 0 ||
	    __atomic_sub_fetch(&tl->refs, 1, __ATOMIC_ACQ_REL) == 0)
		tls_listener_free(tl);
}

/* See tls.h. */
void
tls_attach(struct conn *c)
{
	struct tls_conn	*t;
	struct tls_listener *tl = c->l != NULL ? c->l->tls : NULL;
	int		 ret;

	t = xcalloc(1, sizeof *t);
	t->magic = TLS_CONN_MAGIC;
	t->fd = c->fd;
	c->tls = t;
	if (tl == NULL) {	/* stopped meanwhile: refuse on first read */
		t->failed = true;
		return;
	}
	t->tl = tls_listener_ref(tl);
	mbedtls_ssl_init(&t->ssl);
	if ((ret = mbedtls_ssl_setup(&t->ssl, &tl->conf)) != 0)
		fatal("tls: cannot set up a connection: %s",
		    tls_strerror(ret));
	t->setup = true;
	mbedtls_ssl_set_bio(&t->ssl, t, tls_bio_send, tls_bio_recv, NULL);
	if (tl->verify == CONFIG_VERIFY_PEER)
		mbedtls_ssl_set_verify(&t->ssl, tls_verify_cb, t);
}

/* See tls.h. */
void
tls_free(struct conn *c)
{
	struct tls_conn	*t = c->tls;

	if (t == NULL)
		return;
	assert(t->magic == TLS_CONN_MAGIC);
	if (t->setup)
		mbedtls_ssl_free(&t->ssl);
	tls_listener_unref(t->tl);
	free(t->sni_refused);
	free(t->cn);
	free(t->dn);
	t->magic = 0;
	free(t);
	c->tls = NULL;
}
