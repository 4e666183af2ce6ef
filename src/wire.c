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

/* Flags of a raft message, one bit each. */
#define WIRE_RF_PREVOTE		0x01
#define WIRE_RF_TRANSFER	0x02
#define WIRE_RF_REJECT		0x04
#define WIRE_RF_LAST		0x08
#define WIRE_RF_DONE		0x10
#define WIRE_RF_CONF		0x20
#define WIRE_RF_ALL		0x3f
/* Bytes before a message's entry count: kind, group, type, flags, 9 u64. */
#define WIRE_RAFT_HEAD		(1 + 2 + 1 + 1 + 9 * 8)

/* The most entries a payload may hold; see wire.h. */
size_t
wire_raft_max_entries(struct str s)
{
	return (s.len / WIRE_RAFT_ENTRY_MIN);
}

/* Decode a raft payload; see wire.h. */
enum wire_status
wire_raft_decode(struct str s, int v, struct wire_raft *w,
    struct raft_entry *ents, size_t cap, struct raft_conf *conf)
{
	struct wire_rd		 r = { s.p, s.len, 0, true };
	struct raft_msg		*m = &w->msg;
	struct raft_entry	*e;
	uint64_t		 n, i, len;
	unsigned		 flags;

	memset(w, 0, sizeof *w);
	if (v != WIRE_RAFT_V1)
		return (WIRE_MALFORMED);
	w->kind = (uint8_t)wire_uint(&r, 1);
	if (w->kind == WIRE_RAFT_HAVE) {
		w->have = (uint8_t)wire_uint(&r, 1);
		if (!r.ok || r.off != r.len || (w->have & ~1u) != 0)
			return (WIRE_MALFORMED);
		return (WIRE_OK);
	}
	if (w->kind == WIRE_RAFT_REFUSED) {
		n = wire_uint(&r, 2);
		w->reason.p = wire_take(&r, (size_t)n);
		w->reason.len = (size_t)n;
		for (i = 0; r.ok && i < n; i++)
			if (w->reason.p[i] < 0x20 || w->reason.p[i] > 0x7e)
				r.ok = false;
		if (!r.ok || r.off != r.len || n == 0 ||
		    n > WIRE_RAFT_REASON_MAX)
			return (WIRE_MALFORMED);
		return (WIRE_OK);
	}
	if (w->kind != WIRE_RAFT_MSG)
		return (WIRE_MALFORMED);
	w->group = (uint16_t)wire_uint(&r, 2);
	m->type = (uint8_t)wire_uint(&r, 1);
	flags = (unsigned)wire_uint(&r, 1);
	if (m->type < RAFT_MSG_VOTE || m->type > RAFT_MSG_TIMEOUT_NOW ||
	    (flags & ~(unsigned)WIRE_RF_ALL) != 0)
		return (WIRE_MALFORMED);
	m->prevote = (flags & WIRE_RF_PREVOTE) != 0;
	m->transfer = (flags & WIRE_RF_TRANSFER) != 0;
	m->reject = (flags & WIRE_RF_REJECT) != 0;
	m->last = (flags & WIRE_RF_LAST) != 0;
	m->done = (flags & WIRE_RF_DONE) != 0;
	m->from = wire_uint(&r, 8);
	m->to = wire_uint(&r, 8);
	m->term = wire_uint(&r, 8);
	m->index = wire_uint(&r, 8);
	m->log_term = wire_uint(&r, 8);
	m->commit = wire_uint(&r, 8);
	m->hint = wire_uint(&r, 8);
	m->seq = wire_uint(&r, 8);
	m->offset = wire_uint(&r, 8);
	n = wire_uint(&r, 4);
	if (!r.ok || n > cap || n > (r.len - r.off) / WIRE_RAFT_ENTRY_MIN)
		return (WIRE_MALFORMED);
	for (i = 0; i < n; i++) {
		e = &ents[i];
		e->term = wire_uint(&r, 8);
		e->index = wire_uint(&r, 8);
		e->type = (uint8_t)wire_uint(&r, 1);
		len = wire_uint(&r, 4);
		e->data = wire_take(&r, (size_t)len);
		e->len = (size_t)len;
		if (!r.ok || e->type > RAFT_ENTRY_CONF)
			return (WIRE_MALFORMED);
		if (len == 0)
			e->data = NULL;
	}
	m->entries = n != 0 ? ents : NULL;
	m->n_entries = (size_t)n;
	len = wire_uint(&r, 4);
	m->data = wire_take(&r, (size_t)len);
	m->len = (size_t)len;
	if (len == 0)
		m->data = NULL;
	if (flags & WIRE_RF_CONF) {
		memset(conf, 0, sizeof *conf);
		conf->n = (unsigned)wire_uint(&r, 1);
		if (conf->n > RAFT_MAX_NODES)
			return (WIRE_MALFORMED);
		for (i = 0; i < conf->n; i++) {
			conf->m[i].id = wire_uint(&r, 8);
			conf->m[i].role = (uint8_t)wire_uint(&r, 1);
			if (conf->m[i].id == 0 ||
			    (conf->m[i].role != RAFT_VOTER &&
			    conf->m[i].role != RAFT_MEMBER_LEARNER))
				r.ok = false;
		}
		m->conf = conf;
	}
	if (!r.ok || r.off != r.len || m->from == 0 || m->to == 0)
		return (WIRE_MALFORMED);
	return (WIRE_OK);
}

/* Append a raft message's payload; see wire.h. */
void
wire_raft_msg_encode(struct buf *b, int v, uint16_t group,
    const struct raft_msg *m)
{
	const struct raft_entry	*e;
	unsigned		 flags = 0;
	size_t			 i;

	(void)v;	/* only version 1 so far */
	flags |= m->prevote ? WIRE_RF_PREVOTE : 0;
	flags |= m->transfer ? WIRE_RF_TRANSFER : 0;
	flags |= m->reject ? WIRE_RF_REJECT : 0;
	flags |= m->last ? WIRE_RF_LAST : 0;
	flags |= m->done ? WIRE_RF_DONE : 0;
	flags |= m->conf != NULL ? WIRE_RF_CONF : 0;
	buf_reserve(b, WIRE_RAFT_HEAD + 8 + m->len + m->n_entries *
	    WIRE_RAFT_ENTRY_MIN);
	buf_add_u8(b, WIRE_RAFT_MSG);
	wire_put_uint(b, group, 2);
	buf_add_u8(b, m->type);
	buf_add_u8(b, (uint8_t)flags);
	wire_put_uint(b, m->from, 8);
	wire_put_uint(b, m->to, 8);
	wire_put_uint(b, m->term, 8);
	wire_put_uint(b, m->index, 8);
	wire_put_uint(b, m->log_term, 8);
	wire_put_uint(b, m->commit, 8);
	wire_put_uint(b, m->hint, 8);
	wire_put_uint(b, m->seq, 8);
	wire_put_uint(b, m->offset, 8);
	wire_put_uint(b, m->n_entries, 4);
	for (i = 0; i < m->n_entries; i++) {
		e = &m->entries[i];
		wire_put_uint(b, e->term, 8);
		wire_put_uint(b, e->index, 8);
		buf_add_u8(b, e->type);
		wire_put_uint(b, e->len, 4);
		if (e->len != 0)
			buf_add(b, e->data, e->len);
	}
	wire_put_uint(b, m->len, 4);
	if (m->len != 0)
		buf_add(b, m->data, m->len);
	if (m->conf != NULL) {
		buf_add_u8(b, (uint8_t)m->conf->n);
		for (i = 0; i < m->conf->n; i++) {
			wire_put_uint(b, m->conf->m[i].id, 8);
			buf_add_u8(b, m->conf->m[i].role);
		}
	}
}

/* Append a HAVE payload; see wire.h. */
void
wire_raft_have_encode(struct buf *b, int v, uint8_t have)
{
	(void)v;
	buf_add_u8(b, WIRE_RAFT_HAVE);
	buf_add_u8(b, have);
}

/* Append a REFUSED payload; see wire.h. */
void
wire_raft_refused_encode(struct buf *b, int v, const char *reason)
{
	size_t	 n = strlen(reason), i;

	(void)v;
	if (n > WIRE_RAFT_REASON_MAX)
		n = WIRE_RAFT_REASON_MAX;
	buf_add_u8(b, WIRE_RAFT_REFUSED);
	wire_put_uint(b, n, 2);
	for (i = 0; i < n; i++)
		buf_add_u8(b, reason[i] >= 0x20 && reason[i] <= 0x7e ?
		    (uint8_t)reason[i] : '?');
}
