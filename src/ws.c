/*
 * ws.c: MQTT over WebSocket (RFC 6455; see ws.h).
 *
 * A struct ws_conn goes through three states: UPGRADE (reading the HTTP
 * request, at most WS_HTTP_MAX bytes), OPEN (frames) and DONE (a close
 * frame or an HTTP refusal is queued: nothing more is read or framed).
 * Raw bytes from below (conn_lower_read: the socket, or TLS for wss) wait
 * in ws->in until they decode; the payload of binary and continuation
 * frames is handed to conn as one byte stream, unmasked in place.  What
 * goes down (the 101 or an HTTP error, frames, pongs, close frames) is
 * put whole in ws->out and written by ws_flush, which conn calls after
 * each write of its tx and when the socket is writable; so frames never
 * interleave.  Control frames are answered from the read path, which
 * asks conn for a flush.
 *
 * Owned by the worker that owns the conn; it holds no pointer to the
 * conn, so it moves with the socket on a hand-off.  Errors end the read
 * path with a pending errno (EPROTO, EMSGSIZE) after the bytes decoded
 * before them were returned; the log line is ours (c->quiet).
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include "config.h"
#include "conn.h"
#include "listener.h"
#include "log.h"
#include "tls.h"
#include "worker.h"
#include "ws.h"
#include "xmalloc.h"

#define WS_MAGIC	0x57534f4bU
/* Largest upgrade request (request line and headers). */
#define WS_HTTP_MAX	8192
/* Largest frame we send; a longer write is cut into several. */
#define WS_FRAME_OUT	65536
/* How long a closed connection's socket is read for the client's close
 * frame and its end of the stream (RFC 6455 7.1.1). */
#define WS_LINGER	2.0
/* RFC 6455 1.3. */
#define WS_GUID		"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

#define WS_OP_CONT	0x0
#define WS_OP_TEXT	0x1
#define WS_OP_BINARY	0x2
#define WS_OP_CLOSE	0x8
#define WS_OP_PING	0x9
#define WS_OP_PONG	0xa

/* Close codes (RFC 6455 7.4.1). */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_PROTOCOL	1002
#define WS_CLOSE_DATA		1003
#define WS_CLOSE_TOO_BIG	1009

enum ws_state {
	WS_S_UPGRADE,		/* reading the HTTP upgrade request */
	WS_S_OPEN,		/* 101 sent; frames both ways */
	WS_S_DONE,		/* close frame or HTTP error queued */
};

/* Header decode result. */
enum ws_hdr {
	WS_HDR_OK,		/* a whole header (and control payload) */
	WS_HDR_MORE,		/* need more bytes */
};

struct ws_conn {
	uint32_t	 magic;
	enum ws_state	 state;
	bool		 msg_open;	/* in a fragmented message */
	bool		 close_sent;
	bool		 eof;		/* read returns 0 from now */
	int		 fail;		/* errno read fails with */
	uint8_t		 mask[4];	/* of the data frame read */
	uint8_t		 mask_off;
	uint64_t	 left;		/* its payload still to come */
	struct buf	 in;		/* raw bytes not decoded yet */
	struct buf	 out;		/* bytes not written below yet */
};

/*
 * A socket kept after its conn closed (a dup of the fd: conn closes its
 * own), read and discarded until the client closes its end or WS_LINGER
 * passes.  Closing at once would make the client's close frame, sent
 * after ours, meet a reset (MQTT.js then reports "write EPIPE").
 */
struct ws_linger {
	ev_io		 io;
	ev_timer	 timer;
	int		 fd;
};

/* Subprotocols we accept, the first offered wins (EMQX's list plus the
 * old 3.1 name). */
static const char *ws_subprotocols[] = {
	"mqtt", "mqttv3.1", "mqtt-v3", "mqtt-v3.1.1", "mqtt-v5",
};

/* The conn's ws state, checked. */
static struct ws_conn *
ws_of(const struct conn *c)
{
	struct ws_conn	*ws = c->ws;

	if (ws != NULL && ws->magic != WS_MAGIC)
		abort();
	return (ws);
}

/* The conn for log lines: "client 'id' addr" after CONNECT, else the
 * address (as conn.c's own lines). */
static const char *
ws_name(const struct conn *c)
{
	return (c->s != NULL ? conn_name(c) : conn_addr(c));
}

/* XOR payload bytes with the frame's mask from offset *off. */
static void
ws_unmask(uint8_t *p, size_t n, const uint8_t mask[4], uint8_t *off)
{
	size_t	 i;
	uint8_t	 o = *off;

	for (i = 0; i < n; i++)
		p[i] ^= mask[(o + i) & 3];
	*off = (uint8_t)((o + n) & 3);
}

/* Queue one unmasked server frame. */
static void
ws_queue_frame(struct ws_conn *ws, uint8_t op, const void *p, size_t n)
{
	uint8_t	 h[10];
	size_t	 hl;

	h[0] = 0x80 | op;
	if (n < 126) {
		h[1] = (uint8_t)n;
		hl = 2;
	} else if (n <= 0xffff) {
		h[1] = 126;
		h[2] = (uint8_t)(n >> 8);
		h[3] = (uint8_t)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (hl = 0; hl < 8; hl++)
			h[2 + hl] = (uint8_t)((uint64_t)n >> (56 - 8 * hl));
		hl = 10;
	}
	buf_add(&ws->out, h, hl);
	buf_add(&ws->out, p, n);
}

/* Queue a close frame with a status code, once. */
static void
ws_queue_close(struct ws_conn *ws, unsigned code)
{
	uint8_t	 b[2];

	if (ws->close_sent)
		return;
	ws->close_sent = true;
	b[0] = (uint8_t)(code >> 8);
	b[1] = (uint8_t)code;
	ws_queue_frame(ws, WS_OP_CLOSE, b, code != 0 ? 2 : 0);
}

/* Write ws->out below: -1 on error (errno), 0 when all is out, 1 when
 * the socket takes no more now. */
static int
ws_push(struct conn *c, struct ws_conn *ws)
{
	ssize_t	 n;

	while (buf_used(&ws->out) != 0) {
		n = conn_lower_write(c, buf_head(&ws->out), buf_used(&ws->out));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return (1);
			return (-1);
		}
		buf_consume(&ws->out, (size_t)n);
	}
	buf_release(&ws->out);
	return (0);
}

/* End the frame stream: a close frame with code, our log line, and read
 * fails with err from now on. */
static void
ws_fail(struct conn *c, struct ws_conn *ws, unsigned code, int err,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*why;

	va_start(ap, fmt);
	xvasprintf(&why, fmt, ap);
	va_end(ap);
	log_info("ws: %s closed: %s (close %u)", ws_name(c), why, code);
	free(why);
	c->quiet = true;
	ws_queue_close(ws, code);
	ws->state = WS_S_DONE;
	ws->fail = err;
	buf_release(&ws->in);
}

/* Refuse the upgrade with an HTTP status and our log line. */
static void
ws_refuse(struct conn *c, struct ws_conn *ws, int status, const char *why)
{
	const char	*text, *extra = "";
	char		*resp;

	switch (status) {
	case 404:
		text = "Not Found";
		break;
	case 405:
		text = "Method Not Allowed";
		extra = "Allow: GET\r\n";
		break;
	case 426:
		text = "Upgrade Required";
		extra = "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
		break;
	case 431:
		text = "Request Header Fields Too Large";
		break;
	default:
		status = 400;
		text = "Bad Request";
		break;
	}
	log_info("ws: %s closed: upgrade refused with %d: %s", ws_name(c),
	    status, why);
	xasprintf(&resp, "HTTP/1.1 %d %s\r\n%sConnection: close\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s\n",
	    status, text, extra, strlen(why) + 1, why);
	buf_add(&ws->out, resp, strlen(resp));
	free(resp);
	c->quiet = true;
	ws->state = WS_S_DONE;
	ws->fail = EPROTO;
	buf_release(&ws->in);
}

/* Trim spaces and tabs around a view. */
static struct str
ws_trim(struct str s)
{
	while (s.len != 0 && (s.p[0] == ' ' || s.p[0] == '\t')) {
		s.p++;
		s.len--;
	}
	while (s.len != 0 && (s.p[s.len - 1] == ' ' ||
	    s.p[s.len - 1] == '\t'))
		s.len--;
	return (s);
}

/* Case-insensitive comparison of a view with a C string. */
static bool
ws_eq_ci(struct str s, const char *t)
{
	return (s.len == strlen(t) &&
	    strncasecmp((const char *)s.p, t, s.len) == 0);
}

/* Does the comma-separated list hold token t (case-insensitive)? */
static bool
ws_has_token(struct str list, const char *t)
{
	const uint8_t	*e;
	struct str	 tok;

	while (list.len != 0) {
		e = memchr(list.p, ',', list.len);
		tok.p = list.p;
		tok.len = e != NULL ? (size_t)(e - list.p) : list.len;
		if (ws_eq_ci(ws_trim(tok), t))
			return (true);
		if (e == NULL)
			break;
		list.len -= tok.len + 1;
		list.p = e + 1;
	}
	return (false);
}

/* The first element of a comma-separated list, trimmed. */
static struct str
ws_first(struct str list)
{
	const uint8_t	*e;

	if (list.len == 0)
		return (list);
	if ((e = memchr(list.p, ',', list.len)) != NULL)
		list.len = (size_t)(e - list.p);
	return (ws_trim(list));
}

/* Take the client's address from the proxy's headers (addr: the first of
 * the list, a v4 or v6 literal; port: a number). */
static void
ws_proxy_address(struct conn *c, struct str addr, struct str port)
{
	char		 a[INET6_ADDRSTRLEN + 2], *end;
	char		 was[INET6_ADDRSTRLEN + 16];
	uint8_t		 bin[16];
	unsigned long	 pn;
	char		 p[8];

	snprintf(was, sizeof was, "%s", conn_addr(c));
	addr = ws_first(addr);
	if (addr.len >= 2 && addr.p[0] == '[' && addr.p[addr.len - 1] == ']') {
		addr.p++;
		addr.len -= 2;
	}
	if (addr.len == 0 || addr.len >= sizeof a) {
		log_debug("ws: %s bad proxy address header ignored",
		    conn_addr(c));
		return;
	}
	memcpy(a, addr.p, addr.len);
	a[addr.len] = '\0';
	if (inet_pton(AF_INET, a, bin) == 1) {
		memset(c->addr, 0, sizeof c->addr);
		memcpy(c->addr, bin, 4);
		c->family = AF_INET;
	} else if (inet_pton(AF_INET6, a, bin) == 1) {
		memcpy(c->addr, bin, 16);
		c->family = AF_INET6;
	} else {
		log_debug("ws: %s proxy address '%s' ignored", conn_addr(c),
		    a);
		return;
	}
	port = ws_first(port);
	if (port.len != 0 && port.len < sizeof p) {
		memcpy(p, port.p, port.len);
		p[port.len] = '\0';
		pn = strtoul(p, &end, 10);
		if (*end == '\0' && pn >= 1 && pn <= 65535)
			c->port = (uint16_t)pn;
	}
	log_debug("ws: %s is %s by the proxy's headers", was, conn_addr(c));
}

/* Sec-WebSocket-Accept for a key (RFC 6455 4.2.2): 28 characters + NUL. */
static int
ws_accept_key(struct str key, char out[29])
{
	mbedtls_sha1_context	 sha;
	uint8_t			 md[20];
	size_t			 olen;
	int			 rc;

	mbedtls_sha1_init(&sha);
	rc = mbedtls_sha1_starts_ret(&sha);
	if (rc == 0)
		rc = mbedtls_sha1_update_ret(&sha, key.p, key.len);
	if (rc == 0)
		rc = mbedtls_sha1_update_ret(&sha, (const uint8_t *)WS_GUID,
		    strlen(WS_GUID));
	if (rc == 0)
		rc = mbedtls_sha1_finish_ret(&sha, md);
	mbedtls_sha1_free(&sha);
	if (rc != 0 || mbedtls_base64_encode((uint8_t *)out, 29, &olen, md,
	    sizeof md) != 0 || olen != 28)
		return (-1);
	return (0);
}

/*
 * Handle a whole upgrade request of len bytes at the head of ws->in
 * (RFC 6455 4.2.1): queue the 101, or refuse.
 */
static void
ws_upgrade(struct conn *c, struct ws_conn *ws, size_t len)
{
	const struct config_listener *lc = c->l != NULL ? c->l->cfg : NULL;
	const char	*path = lc != NULL ? lc->ws_mqtt_path : "/mqtt";
	const char	*xa = lc != NULL ? lc->ws_proxy_address_header : "";
	const char	*xp = lc != NULL ? lc->ws_proxy_port_header : "";
	struct str	 req = { buf_head(&ws->in), len }, line, name, val;
	struct str	 upgrade = STR_NULL, connection = STR_NULL;
	struct str	 version = STR_NULL, key = STR_NULL;
	struct str	 paddr = STR_NULL, pport = STR_NULL, target;
	struct str	 protos[8];
	const uint8_t	*e, *sp;
	const char	*proto = NULL;
	char		 accept[29], *resp, *why = NULL;
	uint8_t		 raw[32];
	size_t		 nprotos = 0, i, j, rawlen, plen;
	int		 status = 400;

	/* The request line: GET target HTTP/1.1 */
	e = memmem(req.p, req.len, "\r\n", 2);
	line.p = req.p;
	line.len = (size_t)(e - req.p);
	if (line.len < 4 || memcmp(line.p, "GET ", 4) != 0) {
		sp = memchr(line.p, ' ', line.len);
		status = sp != NULL ? 405 : 400;
		xasprintf(&why, "not a GET request");
		goto fail;
	}
	target.p = line.p + 4;
	sp = memchr(target.p, ' ', line.len - 4);
	if (sp == NULL) {
		xasprintf(&why, "bad request line");
		goto fail;
	}
	target.len = (size_t)(sp - target.p);
	val.p = sp + 1;
	val.len = line.len - 4 - target.len - 1;
	if (!ws_eq_ci(val, "HTTP/1.1")) {
		xasprintf(&why, "not HTTP/1.1");
		goto fail;
	}
	/* The path, without a query string. */
	if ((e = memchr(target.p, '?', target.len)) != NULL)
		plen = (size_t)(e - target.p);
	else
		plen = target.len;
	if (plen != strlen(path) || memcmp(target.p, path, plen) != 0) {
		status = 404;
		xasprintf(&why, "path '%.*s' is not '%s'",
		    (int)(plen > 200 ? 200 : plen), (const char *)target.p,
		    path);
		goto fail;
	}
	/* Header fields. */
	req.p += line.len + 2;
	req.len -= line.len + 2;
	while (req.len > 2) {
		e = memmem(req.p, req.len, "\r\n", 2);
		line.p = req.p;
		line.len = (size_t)(e - req.p);
		req.p += line.len + 2;
		req.len -= line.len + 2;
		if (line.len == 0)
			break;
		if (line.p[0] == ' ' || line.p[0] == '\t') {
			xasprintf(&why, "folded header line");
			goto fail;
		}
		if ((e = memchr(line.p, ':', line.len)) == NULL ||
		    e == line.p) {
			xasprintf(&why, "bad header line");
			goto fail;
		}
		name.p = line.p;
		name.len = (size_t)(e - line.p);
		val.p = e + 1;
		val.len = line.len - name.len - 1;
		val = ws_trim(val);
		if (ws_eq_ci(name, "upgrade"))
			upgrade = val;
		else if (ws_eq_ci(name, "connection"))
			connection = val;
		else if (ws_eq_ci(name, "sec-websocket-version"))
			version = val;
		else if (ws_eq_ci(name, "sec-websocket-key"))
			key = val;
		else if (ws_eq_ci(name, "sec-websocket-protocol")) {
			if (nprotos < sizeof protos / sizeof protos[0])
				protos[nprotos++] = val;
		} else if (*xa != '\0' && ws_eq_ci(name, xa))
			paddr = val;
		else if (*xp != '\0' && ws_eq_ci(name, xp))
			pport = val;
	}
	if (!ws_has_token(upgrade, "websocket")) {
		status = 426;
		xasprintf(&why, "no 'Upgrade: websocket'");
		goto fail;
	}
	if (!ws_has_token(connection, "upgrade")) {
		xasprintf(&why, "no 'Connection: upgrade'");
		goto fail;
	}
	if (!ws_eq_ci(version, "13")) {
		status = 426;
		xasprintf(&why, "Sec-WebSocket-Version '%.*s', not 13",
		    (int)(version.len > 20 ? 20 : version.len),
		    (const char *)version.p);
		goto fail;
	}
	if (key.len == 0 || mbedtls_base64_decode(raw, sizeof raw, &rawlen,
	    key.p, key.len) != 0 || rawlen != 16) {
		xasprintf(&why, "bad Sec-WebSocket-Key");
		goto fail;
	}
	if (ws_accept_key(key, accept) != 0) {
		xasprintf(&why, "cannot compute Sec-WebSocket-Accept");
		goto fail;
	}
	/* The first subprotocol offered that we know; none is fine. */
	for (i = 0; i < nprotos && proto == NULL; i++) {
		while (protos[i].len != 0 && proto == NULL) {
			val = ws_first(protos[i]);
			for (j = 0; j < sizeof ws_subprotocols /
			    sizeof ws_subprotocols[0]; j++)
				if (ws_eq_ci(val, ws_subprotocols[j]))
					proto = ws_subprotocols[j];
			if ((e = memchr(protos[i].p, ',', protos[i].len)) ==
			    NULL)
				break;
			protos[i].len -= (size_t)(e - protos[i].p) + 1;
			protos[i].p = e + 1;
		}
	}
	if (paddr.len != 0)
		ws_proxy_address(c, paddr, pport);
	xasprintf(&resp, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n%s%s%s\r\n", accept,
	    proto != NULL ? "Sec-WebSocket-Protocol: " : "",
	    proto != NULL ? proto : "", proto != NULL ? "\r\n" : "");
	buf_add(&ws->out, resp, strlen(resp));
	free(resp);
	buf_consume(&ws->in, len);
	ws->state = WS_S_OPEN;
	log_debug("ws: %s upgraded, subprotocol %s", ws_name(c),
	    proto != NULL ? proto : "none");
	conn_want_flush(c);
	return;

fail:
	ws_refuse(c, ws, status, why);
	free(why);
}

/*
 * Decode the frame header at the head of ws->in; for a control frame,
 * wait for its payload too.  Sets *hl (header length), *op, *fin, *len.
 * Protocol errors end the stream (ws->state DONE) and return WS_HDR_OK
 * with *hl 0.
 */
static enum ws_hdr
ws_header(struct conn *c, struct ws_conn *ws, size_t *hl, uint8_t *op,
    bool *fin, uint64_t *len)
{
	const uint8_t	*p = buf_head(&ws->in);
	size_t		 n = buf_used(&ws->in), need = 2, i;
	int64_t		 max;
	uint64_t	 l;

	*hl = 0;
	if (n < 2)
		return (WS_HDR_MORE);
	l = p[1] & 0x7f;
	if (l == 126)
		need += 2;
	else if (l == 127)
		need += 8;
	need += (p[1] & 0x80) ? 4 : 0;
	if (n < need)
		return (WS_HDR_MORE);
	*fin = (p[0] & 0x80) != 0;
	*op = p[0] & 0x0f;
	if (l == 126)
		l = (uint64_t)p[2] << 8 | p[3];
	else if (l == 127)
		for (i = 0, l = 0; i < 8; i++)
			l = l << 8 | p[2 + i];
	if ((p[0] & 0x70) != 0) {
		ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO, "reserved bits set "
		    "in a frame");
		return (WS_HDR_OK);
	}
	if ((p[1] & 0x80) == 0) {
		ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO, "unmasked client "
		    "frame");
		return (WS_HDR_OK);
	}
	if (l >> 63) {
		ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO, "frame length over "
		    "2^63");
		return (WS_HDR_OK);
	}
	switch (*op) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!*fin || l > 125) {
			ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO, "%s control "
			    "frame", !*fin ? "fragmented" : "long");
			return (WS_HDR_OK);
		}
		if (n < need + l)
			return (WS_HDR_MORE);
		break;
	case WS_OP_TEXT:
		ws_fail(c, ws, WS_CLOSE_DATA, EPROTO, "text frame");
		return (WS_HDR_OK);
	case WS_OP_BINARY:
		if (ws->msg_open) {
			ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO, "binary "
			    "frame inside a fragmented message");
			return (WS_HDR_OK);
		}
		break;
	case WS_OP_CONT:
		if (!ws->msg_open) {
			ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO,
			    "continuation frame without a message");
			return (WS_HDR_OK);
		}
		break;
	default:
		ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO, "unknown opcode %u",
		    *op);
		return (WS_HDR_OK);
	}
	max = c->l != NULL ? c->l->cfg->ws_max_frame_size : CONFIG_INFINITY;
	if (max != CONFIG_INFINITY && l > (uint64_t)max) {
		ws_fail(c, ws, WS_CLOSE_TOO_BIG, EMSGSIZE, "frame of %llu "
		    "bytes over websocket.max_frame_size %lld",
		    (unsigned long long)l, (long long)max);
		return (WS_HDR_OK);
	}
	*hl = need;
	*len = l;
	return (WS_HDR_OK);
}

/* A control frame whose payload (len bytes) follows hl header bytes. */
static void
ws_control(struct conn *c, struct ws_conn *ws, size_t hl, uint8_t op,
    size_t len)
{
	uint8_t		 pl[125], off = 0;
	unsigned	 code = 0;

	memcpy(pl, buf_head(&ws->in) + hl, len);
	ws_unmask(pl, len, buf_head(&ws->in) + hl - 4, &off);
	buf_consume(&ws->in, hl + len);
	switch (op) {
	case WS_OP_PING:
		if (!ws->close_sent) {
			ws_queue_frame(ws, WS_OP_PONG, pl, len);
			conn_want_flush(c);
		}
		break;
	case WS_OP_PONG:
		break;
	case WS_OP_CLOSE:
		if (len == 1) {
			ws_fail(c, ws, WS_CLOSE_PROTOCOL, EPROTO, "close frame "
			    "of 1 byte");
			return;
		}
		if (len >= 2)
			code = (unsigned)pl[0] << 8 | pl[1];
		log_debug("ws: %s close frame, code %u", ws_name(c), code);
		/* Echo the code (RFC 6455 5.5.1); an empty one gets 1000. */
		ws_queue_close(ws, code != 0 ? code : WS_CLOSE_NORMAL);
		ws->state = WS_S_DONE;
		ws->eof = true;
		buf_release(&ws->in);
		break;
	}
}

/* Read more raw bytes into ws->in (at most cap in all): bytes read, 0 at
 * the end of the stream, -1 (errno). */
static ssize_t
ws_fill(struct conn *c, struct ws_conn *ws, size_t cap)
{
	ssize_t	 n;
	size_t	 room;

	room = cap - buf_used(&ws->in);
	if (room > 16384)
		room = 16384;
	buf_reserve(&ws->in, room);
	n = conn_lower_read(c, ws->in.data + ws->in.len, room);
	if (n > 0)
		ws->in.len += (uint32_t)n;
	else
		buf_shrink(&ws->in);
	return (n);
}

/* Has the stream a pending end (0) or error (-1)? */
static bool
ws_ended(const struct ws_conn *ws)
{
	return (ws->fail != 0 || ws->eof);
}

/*
 * Read: the payload of binary and continuation frames into p, as much as
 * is decoded, reading from below only when nothing is decoded yet.
 */
static ssize_t
ws_read(struct conn *c, void *vp, size_t n)
{
	struct ws_conn	*ws = ws_of(c);
	uint8_t		*p = vp, op = 0;
	size_t		 got = 0, k, hl;
	const uint8_t	*e;
	uint64_t	 len = 0;
	ssize_t		 r;
	bool		 fin = false;

	while (got < n) {
		if (ws->fail != 0) {
			if (got != 0)
				break;
			errno = ws->fail;
			return (-1);
		}
		if (ws->eof)
			break;
		if (ws->state == WS_S_UPGRADE) {
			/* MQTT on the wrong port, TLS on a ws one: now. */
			if (buf_used(&ws->in) != 0 &&
			    (buf_head(&ws->in)[0] < 'A' ||
			    buf_head(&ws->in)[0] > 'Z')) {
				ws_refuse(c, ws, 400, "not an HTTP request");
				continue;
			}
			e = buf_used(&ws->in) < 4 ? NULL : memmem(
			    buf_head(&ws->in), buf_used(&ws->in), "\r\n\r\n",
			    4);
			if (e != NULL) {
				ws_upgrade(c, ws, (size_t)(e + 4 -
				    buf_head(&ws->in)));
				continue;
			}
			if (buf_used(&ws->in) >= WS_HTTP_MAX) {
				ws_refuse(c, ws, 431, "request over 8 KiB");
				continue;
			}
			goto more;
		}
		if (ws->left != 0) {
			/* Payload of a data frame. */
			k = n - got;
			if (k > ws->left)
				k = (size_t)ws->left;
			if (buf_used(&ws->in) != 0) {
				if (k > buf_used(&ws->in))
					k = buf_used(&ws->in);
				memcpy(p + got, buf_head(&ws->in), k);
				buf_consume(&ws->in, k);
				buf_shrink(&ws->in);
			} else {
				if (got != 0)
					break;
				/* Straight into the caller's buffer. */
				r = conn_lower_read(c, p, k);
				if (r <= 0)
					return (r);
				k = (size_t)r;
			}
			ws_unmask(p + got, k, ws->mask, &ws->mask_off);
			ws->left -= k;
			got += k;
			continue;
		}
		if (ws_header(c, ws, &hl, &op, &fin, &len) == WS_HDR_MORE)
			goto more;
		if (hl == 0)		/* failed */
			continue;
		if (op & 0x8) {
			ws_control(c, ws, hl, op, (size_t)len);
			continue;
		}
		memcpy(ws->mask, buf_head(&ws->in) + hl - 4, 4);
		ws->mask_off = 0;
		ws->left = len;
		ws->msg_open = !fin;
		buf_consume(&ws->in, hl);
		buf_shrink(&ws->in);
		continue;
more:
		if (got != 0)
			break;
		r = ws_fill(c, ws, ws->state == WS_S_UPGRADE ? WS_HTTP_MAX :
		    buf_used(&ws->in) + 16384);
		if (r <= 0) {
			if (r == 0 && ws->state == WS_S_UPGRADE &&
			    buf_used(&ws->in) != 0)
				log_info("ws: %s closed: upgrade request cut "
				    "short", conn_addr(c));
			return (r);
		}
	}
	if (got == 0 && ws->eof)
		return (0);
	if (got == 0) {
		errno = EAGAIN;
		return (-1);
	}
	return ((ssize_t)got);
}

/* Write: one binary frame of up to WS_FRAME_OUT bytes of p, once the
 * frames before it are out. */
static ssize_t
ws_write(struct conn *c, const void *p, size_t n)
{
	struct ws_conn	*ws = ws_of(c);

	if (ws->state != WS_S_OPEN || ws->close_sent)
		return ((ssize_t)n);	/* nothing goes after a close */
	if (ws_push(c, ws) != 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return (-1);
		errno = EAGAIN;
		return (-1);
	}
	if (n > WS_FRAME_OUT)
		n = WS_FRAME_OUT;
	ws_queue_frame(ws, WS_OP_BINARY, p, n);
	if (ws_push(c, ws) < 0)
		return (-1);
	return ((ssize_t)n);
}

/* Push out what we hold (see conn.h). */
static int
ws_flush(struct conn *c)
{
	struct ws_conn	*ws = ws_of(c);
	int		 tr = 0, rc;

	if (c->tls != NULL && tls_transport.flush != NULL &&
	    (tr = tls_transport.flush(c)) < 0)
		return (-1);
	if ((rc = ws_push(c, ws)) < 0)
		return (-1);
	return (rc != 0 || tr != 0 ? 1 : 0);
}

/* Bytes a read would decode without the socket. */
static bool
ws_buffered(const struct conn *c)
{
	struct ws_conn	*ws = ws_of(c);
	const uint8_t	*p = buf_head(&ws->in);
	size_t		 n = buf_used(&ws->in), need;
	uint64_t	 l;

	if (c->tls != NULL && tls_transport.buffered != NULL &&
	    tls_transport.buffered(c))
		return (true);
	if (ws_ended(ws))
		return (true);
	if (ws->state != WS_S_OPEN || n == 0)
		return (false);
	if (ws->left != 0)
		return (true);
	/* A whole header, and a control frame's payload. */
	if (n < 2)
		return (false);
	l = p[1] & 0x7f;
	need = 2 + (l == 126 ? 2 : l == 127 ? 8 : 0) + ((p[1] & 0x80) ? 4 : 0);
	if (n < need)
		return (false);
	if ((p[0] & 0x08) && l <= 125 && n < need + l)
		return (false);
	return (true);
}

/* Why a conn that never sent CONNECT is closed at its timeout. */
static const char *
ws_stalled(const struct conn *c)
{
	struct ws_conn	*ws = ws_of(c);
	const char	*why;

	if (c->tls != NULL && tls_transport.stalled != NULL &&
	    (why = tls_transport.stalled(c)) != NULL)
		return (why);
	if (ws->state == WS_S_UPGRADE)
		return ("WebSocket upgrade not finished");
	return (NULL);
}

/* Stop lingering: close the kept socket. */
static void
ws_linger_end(struct ev_loop *loop, struct ws_linger *l)
{
	ev_io_stop(loop, &l->io);
	ev_timer_stop(loop, &l->timer);
	close(l->fd);
	free(l);
}

/* Discard what comes; end at the client's end of the stream. */
static void
ws_linger_io_cb(EV_P_ ev_io *io, int revents)
{
	struct ws_linger	*l = io->data;
	uint8_t			 b[4096];
	ssize_t			 n;
	int			 i;

	(void)revents;
	for (i = 0; i < 16; i++) {
		if ((n = read(l->fd, b, sizeof b)) > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
		    errno == EINTR))
			return;
		break;
	}
	if (i == 16)		/* a client that keeps sending: enough */
		return;
	ws_linger_end(EV_A, l);
}

/* WS_LINGER passed. */
static void
ws_linger_timer_cb(EV_P_ ev_timer *t, int revents)
{
	(void)revents;
	ws_linger_end(EV_A, t->data);
}

/* Keep reading the socket of a closing conn for a while (see above). */
static void
ws_linger(struct conn *c)
{
	struct ws_linger	*l;
	int			 fd;

	if (c->w->stopping || (fd = dup(c->fd)) == -1)
		return;
	l = xcalloc(1, sizeof *l);
	l->fd = fd;
	ev_io_init(&l->io, ws_linger_io_cb, fd, EV_READ);
	l->io.data = l;
	ev_timer_init(&l->timer, ws_linger_timer_cb, WS_LINGER, 0.);
	l->timer.data = l;
	ev_io_start(c->w->loop.ev, &l->io);
	ev_timer_start(c->w->loop.ev, &l->timer);
	loop_touch(&c->w->loop);
}

/* Before close: a close frame (1000) unless one went, what we hold, then
 * the layer below, best effort; then linger, unless the client closed. */
static void
ws_shutdown(struct conn *c)
{
	struct ws_conn	*ws = ws_of(c);

	if (ws->state == WS_S_OPEN)
		ws_queue_close(ws, WS_CLOSE_NORMAL);
	(void)ws_push(c, ws);
	if (c->tls != NULL)
		tls_transport.shutdown(c);
	else
		shutdown(c->fd, SHUT_WR);
	/* A refusal or close frame we sent: the client may still be
	 * sending (its close frame, the rest of a request). */
	if ((ws->close_sent || ws->state == WS_S_DONE) && !ws->eof)
		ws_linger(c);
}

const struct conn_transport ws_transport = {
	.name = "ws",
	.read = ws_read,
	.write = ws_write,
	.shutdown = ws_shutdown,
	.flush = ws_flush,
	.buffered = ws_buffered,
	.stalled = ws_stalled,
};

/* Start WebSocket on an accepted conn: wait for the upgrade request. */
void
ws_attach(struct conn *c)
{
	struct ws_conn	*ws;

	ws = xcalloc(1, sizeof *ws);
	ws->magic = WS_MAGIC;
	ws->state = WS_S_UPGRADE;
	buf_init(&ws->in);
	buf_init(&ws->out);
	c->ws = ws;
}

/* Free the conn's WebSocket state. */
void
ws_free(struct conn *c)
{
	struct ws_conn	*ws = ws_of(c);

	if (ws == NULL)
		return;
	buf_release(&ws->in);
	buf_release(&ws->out);
	ws->magic = 0;
	free(ws);
	c->ws = NULL;
}
