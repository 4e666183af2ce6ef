/*
 * wire.c: the node link's frame codec (see wire.h, docs/cluster.md).
 *
 * Pure: no allocation but the encoders' buffers, no globals, no I/O.  The
 * decoder checks a header as soon as its 8 bytes are there, so garbage is
 * refused at once rather than after waiting for a payload that will never
 * come; handshake frames may not exceed WIRE_HANDSHAKE_MAX.
 */
#include <string.h>

#include "wire.h"

static const char *wire_subsys_names[WIRE_SUB_COUNT] = {
	"link", "raft", "route", "forward"
};

static const char *wire_type_names[WIRE_TYPE_MAX + 1] = {
	"?", "HELLO", "AUTH", "WELCOME", "REFUSE", "HEARTBEAT", "DATA"
};

/* Big-endian readers over a cursor; false once past the end. */
struct wire_rd {
	const uint8_t	*p;
	size_t		 len, off;
	bool		 ok;
};

/* Take n bytes; NULL (and the reader failed) if there are fewer. */
static const uint8_t *
wire_take(struct wire_rd *r, size_t n)
{
	const uint8_t	*p;

	if (!r->ok || r->len - r->off < n) {
		r->ok = false;
		return (NULL);
	}
	p = r->p + r->off;
	r->off += n;
	return (p);
}

/* Read a big-endian integer of n bytes. */
static uint64_t
wire_uint(struct wire_rd *r, size_t n)
{
	const uint8_t	*p = wire_take(r, n);
	uint64_t	 v = 0;
	size_t		 i;

	if (p == NULL)
		return (0);
	for (i = 0; i < n; i++)
		v = (v << 8) | p[i];
	return (v);
}

/* A string with a u8 length; names must be printable ASCII. */
static struct str
wire_string(struct wire_rd *r, size_t min, bool printable)
{
	size_t		 n = (size_t)wire_uint(r, 1), i;
	const uint8_t	*p;

	if (n < min)
		r->ok = false;
	if ((p = wire_take(r, n)) == NULL)
		return (STR_NULL);
	for (i = 0; printable && i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			r->ok = false;
	return ((struct str){ p, n });
}

/* Append a big-endian integer of n bytes. */
static void
wire_put_uint(struct buf *b, uint64_t v, size_t n)
{
	uint8_t		 t[8];
	size_t		 i;

	for (i = 0; i < n; i++)
		t[n - 1 - i] = (uint8_t)(v >> (8 * i));
	buf_add(b, t, n);
}

/* Append a string with a u8 length (truncated at 255 bytes). */
static void
wire_put_string(struct buf *b, struct str s)
{
	size_t		 n = s.len > 255 ? 255 : s.len;

	buf_add_u8(b, (uint8_t)n);
	if (n != 0)
		buf_add(b, s.p, n);
}

/* Decode one frame; see wire.h. */
enum wire_status
wire_decode(const uint8_t *p, size_t len, size_t max_size,
    struct wire_frame *f, size_t *used)
{
	uint32_t	 n;
	uint8_t		 type, subsys;
	uint16_t	 flags;

	if (len < WIRE_HEADER_LEN) {
		/* What there is of the header must already be plausible. */
		if (len >= 5) {
			n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			    (uint32_t)p[2] << 8 | p[3];
			if (p[4] == 0 || p[4] > WIRE_TYPE_MAX ||
			    (p[4] != WIRE_DATA && n > WIRE_HANDSHAKE_MAX))
				return (WIRE_MALFORMED);
		}
		if (len >= 6 && p[5] != WIRE_SUB_LINK && p[4] != WIRE_DATA)
			return (WIRE_MALFORMED);
		if (len >= 7 && p[6] != 0)
			return (WIRE_MALFORMED);
		return (WIRE_MORE);
	}
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	type = p[4];
	subsys = p[5];
	flags = (uint16_t)(p[6] << 8 | p[7]);
	if (type == 0 || type > WIRE_TYPE_MAX || flags != 0)
		return (WIRE_MALFORMED);
	/* Only DATA frames belong to another subsystem than the link. */
	if (type != WIRE_DATA && subsys != WIRE_SUB_LINK)
		return (WIRE_MALFORMED);
	if (type != WIRE_DATA && n > WIRE_HANDSHAKE_MAX)
		return (WIRE_MALFORMED);
	if (n > max_size)
		return (WIRE_TOO_BIG);
	if (len - WIRE_HEADER_LEN < n)
		return (WIRE_MORE);
	f->type = type;
	f->subsys = subsys;
	f->flags = flags;
	f->payload = (struct str){ p + WIRE_HEADER_LEN, n };
	*used = WIRE_HEADER_LEN + (size_t)n;
	return (WIRE_OK);
}

/* Decode a HELLO payload. */
enum wire_status
wire_hello_decode(struct str s, struct wire_hello *h)
{
	struct wire_rd	 r = { s.p, s.len, 0, true };
	const uint8_t	*p;
	unsigned int	 i, n, id, seen = 0;
	uint16_t	 min, max;

	memset(h, 0, sizeof *h);
	if ((p = wire_take(&r, WIRE_MAGIC_LEN)) == NULL ||
	    memcmp(p, WIRE_MAGIC, WIRE_MAGIC_LEN) != 0)
		return (WIRE_MALFORMED);
	h->wire_version = (uint8_t)wire_uint(&r, 1);
	h->role = (uint8_t)wire_uint(&r, 1);
	h->conn_kind = (uint8_t)wire_uint(&r, 1);
	h->n_data = (uint8_t)wire_uint(&r, 1);
	h->node_id = wire_uint(&r, 8);
	h->boot = wire_uint(&r, 8);
	h->listen_port = (uint16_t)wire_uint(&r, 2);
	h->cluster = wire_string(&r, 1, true);
	h->node_name = wire_string(&r, 1, true);
	h->version = wire_string(&r, 0, true);
	n = (unsigned int)wire_uint(&r, 1);
	for (i = 0; r.ok && i < n; i++) {
		id = (unsigned int)wire_uint(&r, 1);
		min = (uint16_t)wire_uint(&r, 2);
		max = (uint16_t)wire_uint(&r, 2);
		if (min > max || (min == 0 && max != 0))
			return (WIRE_MALFORMED);
		/* A subsystem we do not know is one we do not speak. */
		if (id >= WIRE_SUB_COUNT)
			continue;
		if (seen & (1u << id))
			return (WIRE_MALFORMED);
		seen |= 1u << id;
		h->range[id].min = min;
		h->range[id].max = max;
	}
	if ((p = wire_take(&r, WIRE_NONCE_LEN)) == NULL)
		return (WIRE_MALFORMED);
	memcpy(h->nonce, p, WIRE_NONCE_LEN);
	if (!r.ok || h->wire_version == 0 || h->role > 1)
		return (WIRE_MALFORMED);
	/* Version 1 ends here; later layouts may append fields. */
	if (h->wire_version == 1 && r.off != r.len)
		return (WIRE_MALFORMED);
	return (WIRE_OK);
}

/* Decode an AUTH or WELCOME payload: exactly one MAC. */
enum wire_status
wire_mac_decode(struct str s, uint8_t mac[WIRE_MAC_LEN])
{
	if (s.len != WIRE_MAC_LEN)
		return (WIRE_MALFORMED);
	memcpy(mac, s.p, WIRE_MAC_LEN);
	return (WIRE_OK);
}

/* Decode a REFUSE payload: code, then a printable reason. */
enum wire_status
wire_refuse_decode(struct str s, struct wire_refusal *rf)
{
	size_t		 i;

	if (s.len < 1)
		return (WIRE_MALFORMED);
	rf->code = s.p[0];
	rf->reason = (struct str){ s.p + 1, s.len - 1 };
	for (i = 0; i < rf->reason.len; i++)
		if (rf->reason.p[i] < 0x20 || rf->reason.p[i] > 0x7e)
			return (WIRE_MALFORMED);
	return (rf->code == 0 ? WIRE_MALFORMED : WIRE_OK);
}

/* Decode a HEARTBEAT payload: a u64 sequence number. */
enum wire_status
wire_heartbeat_decode(struct str s, uint64_t *seq)
{
	struct wire_rd	 r = { s.p, s.len, 0, true };

	if (s.len != 8)
		return (WIRE_MALFORMED);
	*seq = wire_uint(&r, 8);
	return (WIRE_OK);
}

/* Append a frame header and its payload. */
void
wire_frame_encode(struct buf *b, uint8_t type, uint8_t subsys,
    struct str payload)
{
	wire_put_uint(b, payload.len, 4);
	buf_add_u8(b, type);
	buf_add_u8(b, subsys);
	buf_add_u16(b, 0);
	if (payload.len != 0)
		buf_add(b, payload.p, payload.len);
}

/* Append a HELLO frame. */
void
wire_hello_encode(struct buf *b, const struct wire_hello *h)
{
	struct buf	 p;
	unsigned int	 i, n = 0;

	buf_init(&p);
	buf_add(&p, WIRE_MAGIC, WIRE_MAGIC_LEN);
	buf_add_u8(&p, h->wire_version);
	buf_add_u8(&p, h->role);
	buf_add_u8(&p, h->conn_kind);
	buf_add_u8(&p, h->n_data);
	wire_put_uint(&p, h->node_id, 8);
	wire_put_uint(&p, h->boot, 8);
	wire_put_uint(&p, h->listen_port, 2);
	wire_put_string(&p, h->cluster);
	wire_put_string(&p, h->node_name);
	wire_put_string(&p, h->version);
	for (i = 0; i < WIRE_SUB_COUNT; i++)
		if (h->range[i].max != 0)
			n++;
	buf_add_u8(&p, (uint8_t)n);
	for (i = 0; i < WIRE_SUB_COUNT; i++) {
		if (h->range[i].max == 0)
			continue;
		buf_add_u8(&p, (uint8_t)i);
		buf_add_u16(&p, h->range[i].min);
		buf_add_u16(&p, h->range[i].max);
	}
	buf_add(&p, h->nonce, WIRE_NONCE_LEN);
	wire_frame_encode(b, WIRE_HELLO, WIRE_SUB_LINK, STRB(&p));
	buf_release(&p);
}

/* Append an AUTH or WELCOME frame. */
void
wire_mac_encode(struct buf *b, uint8_t type, const uint8_t mac[WIRE_MAC_LEN])
{
	wire_frame_encode(b, type, WIRE_SUB_LINK,
	    (struct str){ mac, WIRE_MAC_LEN });
}

/* Append a REFUSE frame; the reason is cut to fit a handshake frame. */
void
wire_refuse_encode(struct buf *b, uint8_t code, const char *reason)
{
	uint8_t		 t[256];
	size_t		 n = strlen(reason), i;

	if (n > sizeof t - 1)
		n = sizeof t - 1;
	t[0] = code;
	for (i = 0; i < n; i++)
		t[i + 1] = reason[i] >= 0x20 && reason[i] <= 0x7e ?
		    (uint8_t)reason[i] : '?';
	wire_frame_encode(b, WIRE_REFUSE, WIRE_SUB_LINK,
	    (struct str){ t, n + 1 });
}

/* Append a HEARTBEAT frame. */
void
wire_heartbeat_encode(struct buf *b, uint64_t seq)
{
	uint8_t		 t[8];
	size_t		 i;

	for (i = 0; i < 8; i++)
		t[7 - i] = (uint8_t)(seq >> (8 * i));
	wire_frame_encode(b, WIRE_HEARTBEAT, WIRE_SUB_LINK,
	    (struct str){ t, 8 });
}

/* Name of a subsystem. */
const char *
wire_subsys_name(unsigned int i)
{
	return (i < WIRE_SUB_COUNT ? wire_subsys_names[i] : "?");
}

/* Name of a frame type. */
const char *
wire_type_name(unsigned int t)
{
	return (t <= WIRE_TYPE_MAX ? wire_type_names[t] : "?");
}

/* Name of a decoder status. */
const char *
wire_status_name(enum wire_status st)
{
	switch (st) {
	case WIRE_OK:
		return ("ok");
	case WIRE_MORE:
		return ("more");
	case WIRE_MALFORMED:
		return ("malformed");
	case WIRE_TOO_BIG:
		return ("too big");
	}
	return ("?");
}

/* The subsystem named s; -1 if none. */
int
wire_subsys_find(const char *s, size_t n)
{
	unsigned int	 i;

	for (i = 0; i < WIRE_SUB_COUNT; i++)
		if (strlen(wire_subsys_names[i]) == n &&
		    memcmp(wire_subsys_names[i], s, n) == 0)
			return ((int)i);
	return (-1);
}

/* The highest common version; see wire.h. */
int
wire_agree(struct wire_range ours, struct wire_range theirs)
{
	uint16_t	 lo, hi;

	if (ours.max == 0 || theirs.max == 0)
		return (0);
	lo = ours.min > theirs.min ? ours.min : theirs.min;
	hi = ours.max < theirs.max ? ours.max : theirs.max;
	return (lo > hi ? -1 : (int)hi);
}
