/*
 * wire_fuzzer.c: libFuzzer target for the node link's frame codec.
 *
 * The input is decoded as a stream of frames (max_size from its first
 * byte, so that both WIRE_TOO_BIG and large frames are reached), and each
 * frame's payload goes through the decoder of its type.  Invariants: a
 * frame decoded whole needs more for every proper prefix; a HELLO, REFUSE,
 * HEARTBEAT or MAC frame decoded re-encodes to bytes that decode to the
 * same fields.  A broken invariant aborts.  Built with -fsanitize=fuzzer,
 * or linked with replay.c to replay a corpus from `make check`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "wire.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #c);					\
		abort();						\
	}								\
} while (0)

/* Re-encode a HELLO and compare. */
static void
fuzz_hello(const struct wire_hello *h)
{
	struct wire_hello	 h2;
	struct wire_frame	 f;
	struct buf		 b;
	size_t			 used, i;

	/* Strings longer than the layout allows are not re-encodable. */
	buf_init(&b);
	wire_hello_encode(&b, h);
	CHECK(wire_decode(buf_head(&b), buf_used(&b), 1 << 20, &f, &used) ==
	    WIRE_OK);
	CHECK(used == buf_used(&b) && f.type == WIRE_HELLO);
	if (h->wire_version == 1) {
		CHECK(wire_hello_decode(f.payload, &h2) == WIRE_OK);
		CHECK(h2.node_id == h->node_id && h2.boot == h->boot);
		CHECK(h2.role == h->role && h2.conn_kind == h->conn_kind);
		CHECK(h2.n_data == h->n_data);
		CHECK(h2.listen_port == h->listen_port);
		CHECK(str_eq(h2.cluster, h->cluster));
		CHECK(str_eq(h2.node_name, h->node_name));
		CHECK(str_eq(h2.version, h->version));
		CHECK(memcmp(h2.nonce, h->nonce, WIRE_NONCE_LEN) == 0);
		for (i = 0; i < WIRE_SUB_COUNT; i++) {
			CHECK(h2.range[i].min == h->range[i].min);
			CHECK(h2.range[i].max == h->range[i].max);
		}
	}
	buf_release(&b);
}

/* Decode a DATA frame of the raft subsystem, re-encode, compare. */
static void
fuzz_raft(struct str payload)
{
	static struct raft_entry ents[1 << 16], ents2[1 << 16];
	struct raft_conf	 conf, conf2;
	struct wire_raft	 w, w2;
	struct buf		 b;
	size_t			 cap = wire_raft_max_entries(payload), i;

	if (cap > sizeof ents / sizeof ents[0])
		return;
	if (wire_raft_decode(payload, WIRE_RAFT_V1, &w, ents, cap, &conf) !=
	    WIRE_OK)
		return;
	CHECK(wire_raft_decode(payload, 2, &w2, ents2, cap, &conf2) ==
	    WIRE_MALFORMED);
	buf_init(&b);
	if (w.kind == WIRE_RAFT_HAVE)
		wire_raft_have_encode(&b, WIRE_RAFT_V1, w.have);
	else if (w.kind == WIRE_RAFT_REFUSED) {
		char	 reason[WIRE_RAFT_REASON_MAX + 1];

		memcpy(reason, w.reason.p, w.reason.len);
		reason[w.reason.len] = '\0';
		wire_raft_refused_encode(&b, WIRE_RAFT_V1, reason);
	} else
		wire_raft_msg_encode(&b, WIRE_RAFT_V1, w.group, &w.msg);
	/* The layout has one spelling for each message. */
	CHECK(buf_used(&b) == payload.len &&
	    memcmp(buf_head(&b), payload.p, payload.len) == 0);
	CHECK(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w2, ents2, cap,
	    &conf2) == WIRE_OK);
	CHECK(w2.msg.n_entries == w.msg.n_entries);
	for (i = 0; i < w.msg.n_entries; i++)
		CHECK(ents2[i].len == ents[i].len &&
		    ents2[i].index == ents[i].index);
	buf_release(&b);
}

/* Check a frame's payload against the decoder of its type. */
static void
fuzz_payload(const struct wire_frame *f)
{
	struct wire_hello	 h;
	struct wire_refusal	 rf, rf2;
	struct wire_frame	 g;
	struct buf		 b;
	uint8_t			 mac[WIRE_MAC_LEN];
	uint64_t		 seq, seq2;
	size_t			 used;
	char			 reason[300];

	buf_init(&b);
	switch (f->type) {
	case WIRE_HELLO:
		if (wire_hello_decode(f->payload, &h) == WIRE_OK)
			fuzz_hello(&h);
		break;
	case WIRE_AUTH:
	case WIRE_WELCOME:
		if (wire_mac_decode(f->payload, mac) != WIRE_OK)
			break;
		wire_mac_encode(&b, f->type, mac);
		CHECK(buf_used(&b) == WIRE_HEADER_LEN + f->payload.len);
		CHECK(memcmp(buf_head(&b) + WIRE_HEADER_LEN, f->payload.p,
		    f->payload.len) == 0);
		break;
	case WIRE_REFUSE:
		if (wire_refuse_decode(f->payload, &rf) != WIRE_OK ||
		    rf.reason.len >= 255)
			break;
		memcpy(reason, rf.reason.p, rf.reason.len);
		reason[rf.reason.len] = '\0';
		/* A NUL in the reason ends it: printable only, so none. */
		wire_refuse_encode(&b, rf.code, reason);
		CHECK(wire_decode(buf_head(&b), buf_used(&b), 4096, &g,
		    &used) == WIRE_OK);
		CHECK(wire_refuse_decode(g.payload, &rf2) == WIRE_OK);
		CHECK(rf2.code == rf.code && str_eq(rf2.reason, rf.reason));
		break;
	case WIRE_HEARTBEAT:
		if (wire_heartbeat_decode(f->payload, &seq) != WIRE_OK)
			break;
		wire_heartbeat_encode(&b, seq);
		CHECK(wire_decode(buf_head(&b), buf_used(&b), 4096, &g,
		    &used) == WIRE_OK);
		CHECK(wire_heartbeat_decode(g.payload, &seq2) == WIRE_OK);
		CHECK(seq2 == seq);
		break;
	case WIRE_DATA:
		if (f->subsys == WIRE_SUB_RAFT)
			fuzz_raft(f->payload);
		break;
	default:
		break;
	}
	buf_release(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_frame	 f, g;
	enum wire_status	 st;
	size_t			 off, used, gused, max, i;

	if (size == 0)
		return (0);
	max = (size_t)data[0] << 4;
	for (off = 1; off < size;) {
		st = wire_decode(data + off, size - off, max, &f, &used);
		if (st != WIRE_OK)
			break;
		CHECK(used >= WIRE_HEADER_LEN && used <= size - off);
		CHECK(f.payload.len == used - WIRE_HEADER_LEN);
		for (i = 0; i < used; i++)
			CHECK(wire_decode(data + off, i, max, &g, &gused) ==
			    WIRE_MORE);
		fuzz_payload(&f);
		off += used;
	}
	return (0);
}
