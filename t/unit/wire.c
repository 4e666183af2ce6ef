/*
 * wire.c: unit tests for the node link's frame codec (src/wire.c), TAP.
 *
 * Round trips of every frame type, every proper prefix needing more,
 * headers the decoder must refuse at once (garbage, oversized), HELLO
 * payloads that must not decode, and version agreement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "tap.h"
#include "wire.h"

/* A HELLO with every field set. */
static void
hello_fill(struct wire_hello *h)
{
	size_t	 i;

	memset(h, 0, sizeof *h);
	h->wire_version = 1;
	h->role = 1;
	h->conn_kind = 2;
	h->n_data = 3;
	h->node_id = 0x0123456789abcdefULL;
	h->boot = 42;
	h->listen_port = 4370;
	h->cluster = STR("flockmqcl");
	h->node_name = STR("n1@127.0.0.1");
	h->version = STR("0.1.0");
	h->range[WIRE_SUB_LINK] = (struct wire_range){ 1, 1 };
	h->range[WIRE_SUB_RAFT] = (struct wire_range){ 2, 5 };
	h->range[WIRE_SUB_FORWARD] = (struct wire_range){ 1, 3 };
	for (i = 0; i < WIRE_NONCE_LEN; i++)
		h->nonce[i] = (uint8_t)(i * 7 + 1);
}

/* Decode b whole; every proper prefix must need more. */
static int
decode_whole(const struct buf *b, struct wire_frame *f)
{
	struct wire_frame	 g;
	size_t			 used = 0, i, u;
	int			 prefixes = 1;

	for (i = 0; i < buf_used(b); i++)
		if (wire_decode(buf_head(b), i, 1 << 20, &g, &u) != WIRE_MORE)
			prefixes = 0;
	ok(prefixes, "every proper prefix of %zu bytes needs more",
	    buf_used(b));
	return (wire_decode(buf_head(b), buf_used(b), 1 << 20, f, &used) ==
	    WIRE_OK && used == buf_used(b));
}

/* Hex to bytes. */
static size_t
hex(uint8_t *out, const char *s)
{
	size_t		 n = 0;
	unsigned int	 v;

	while (*s != '\0') {
		if (*s == ' ') {
			s++;
			continue;
		}
		if (sscanf(s, "%2x", &v) != 1)
			exit(2);
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return (n);
}

/* The status of decoding a header given in hex. */
static enum wire_status
decode_hex(const char *s, size_t max)
{
	uint8_t			 b[64];
	struct wire_frame	 f;
	size_t			 n = hex(b, s), used;

	return (wire_decode(b, n, max, &f, &used));
}

/* Raft messages: every field round trips; damage is refused. */
static void
raft_tests(void)
{
	struct raft_entry	 e[3], d[8];
	struct raft_conf	 conf, conf2;
	struct raft_msg		 m;
	struct wire_raft	 w;
	struct buf		 b;
	size_t			 i, n;
	int			 bad;

	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_APPEND;
	m.from = 0x1122334455667788ULL;
	m.to = 0x0102030405060708ULL;
	m.term = 7;
	m.index = 40;
	m.log_term = 6;
	m.commit = 39;
	m.hint = 3;
	m.seq = 99;
	m.offset = 1u << 20;
	for (i = 0; i < 3; i++) {
		e[i].term = 7;
		e[i].index = 41 + i;
		e[i].type = i == 1 ? RAFT_ENTRY_NOOP : RAFT_ENTRY_NORMAL;
		e[i].data = i == 1 ? NULL : "member record";
		e[i].len = i == 1 ? 0 : 13;
	}
	m.entries = e;
	m.n_entries = 3;
	buf_init(&b);
	wire_raft_msg_encode(&b, WIRE_RAFT_V1, 0, &m);
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf) ==
	    WIRE_OK, "an APPEND with 3 entries decodes");
	ok(w.kind == WIRE_RAFT_MSG && w.group == 0 && w.msg.type ==
	    RAFT_MSG_APPEND && w.msg.from == m.from && w.msg.to == m.to &&
	    w.msg.term == 7 && w.msg.index == 40 && w.msg.log_term == 6 &&
	    w.msg.commit == 39 && w.msg.hint == 3 && w.msg.seq == 99 &&
	    w.msg.offset == 1u << 20 && w.msg.conf == NULL &&
	    w.msg.len == 0, "its fields round trip");
	ok(w.msg.n_entries == 3 && d[0].index == 41 && d[1].type ==
	    RAFT_ENTRY_NOOP && d[1].len == 0 && d[2].len == 13 &&
	    memcmp(d[2].data, "member record", 13) == 0 && d[2].term == 7,
	    "its entries round trip");
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 2, &conf) ==
	    WIRE_MALFORMED, "more entries than the caller's array: refused");
	ok(wire_raft_decode(STRB(&b), 2, &w, d, 8, &conf) == WIRE_MALFORMED,
	    "another version: refused");
	for (n = 0, bad = 0; n < buf_used(&b); n++)
		if (wire_raft_decode((struct str){ buf_head(&b), n },
		    WIRE_RAFT_V1, &w, d, 8, &conf) != WIRE_MALFORMED)
			bad++;
	ok(bad == 0, "every proper prefix is malformed");
	buf_add_u8(&b, 0);
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf) ==
	    WIRE_MALFORMED, "a trailing byte: refused");
	buf_release(&b);

	/* A snapshot chunk with a configuration, flags and data. */
	memset(&m, 0, sizeof m);
	memset(&conf, 0, sizeof conf);
	conf.n = 2;
	conf.m[0].id = 5;
	conf.m[0].role = RAFT_VOTER;
	conf.m[1].id = 9;
	conf.m[1].role = RAFT_MEMBER_LEARNER;
	m.type = RAFT_MSG_SNAP;
	m.from = 5;
	m.to = 9;
	m.last = true;
	m.prevote = true;
	m.transfer = true;
	m.reject = true;
	m.done = true;
	m.data = "chunk";
	m.len = 5;
	m.conf = &conf;
	buf_init(&b);
	wire_raft_msg_encode(&b, WIRE_RAFT_V1, 513, &m);
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_OK && w.group == 513 && w.msg.conf == &conf2 &&
	    conf2.n == 2 && conf2.m[1].id == 9 && conf2.m[1].role ==
	    RAFT_MEMBER_LEARNER && w.msg.last && w.msg.prevote &&
	    w.msg.transfer && w.msg.reject && w.msg.done && w.msg.len == 5 &&
	    memcmp(w.msg.data, "chunk", 5) == 0,
	    "a SNAP with flags, data and conf round trips");
	/* Damage: type 0, an unknown flag, a bad role. */
	((uint8_t *)buf_head(&b))[3] = 0;
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_MALFORMED, "message type 0: refused");
	((uint8_t *)buf_head(&b))[3] = RAFT_MSG_SNAP;
	((uint8_t *)buf_head(&b))[4] |= 0x80;
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_MALFORMED, "an unknown flag: refused");
	((uint8_t *)buf_head(&b))[4] &= 0x7f;
	((uint8_t *)buf_head(&b))[buf_used(&b) - 1] = 7;
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_MALFORMED, "a member role 7: refused");
	buf_release(&b);

	/* An entry count larger than the bytes can hold. */
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_APPEND;
	m.from = 1;
	m.to = 2;
	buf_init(&b);
	wire_raft_msg_encode(&b, WIRE_RAFT_V1, 0, &m);
	((uint8_t *)buf_head(&b))[77] = 0x7f;
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_MALFORMED, "an entry count past the payload: refused");
	buf_release(&b);

	buf_init(&b);
	wire_raft_have_encode(&b, WIRE_RAFT_V1, 1);
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_OK && w.kind == WIRE_RAFT_HAVE && w.have == 1,
	    "HAVE round trips");
	((uint8_t *)buf_head(&b))[1] = 2;
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_MALFORMED, "HAVE with an unknown bit: refused");
	((uint8_t *)buf_head(&b))[0] = 4;
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_MALFORMED, "kind 4: refused");
	buf_release(&b);

	buf_init(&b);
	wire_raft_refused_encode(&b, WIRE_RAFT_V1, "name taken\n");
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_OK && w.kind == WIRE_RAFT_REFUSED && w.reason.len == 11 &&
	    memcmp(w.reason.p, "name taken?", 11) == 0,
	    "REFUSED round trips, made printable");
	buf_truncate(&b, buf_used(&b) - 1);
	ok(wire_raft_decode(STRB(&b), WIRE_RAFT_V1, &w, d, 8, &conf2) ==
	    WIRE_MALFORMED, "REFUSED cut short: refused");
	buf_release(&b);
}

int
main(void)
{
	struct wire_hello	 h, h2;
	struct wire_frame	 f;
	struct wire_refusal	 rf;
	struct buf		 b, p;
	uint8_t			 mac[WIRE_MAC_LEN], mac2[WIRE_MAC_LEN];
	uint64_t		 seq;
	size_t			 i;

	/* HELLO round trip. */
	buf_init(&b);
	hello_fill(&h);
	wire_hello_encode(&b, &h);
	ok(decode_whole(&b, &f) && f.type == WIRE_HELLO &&
	    f.subsys == WIRE_SUB_LINK, "HELLO frame decodes");
	ok(wire_hello_decode(f.payload, &h2) == WIRE_OK, "HELLO payload");
	ok(h2.node_id == h.node_id && h2.boot == 42 && h2.role == 1 &&
	    h2.conn_kind == 2 && h2.n_data == 3 && h2.listen_port == 4370,
	    "HELLO numbers");
	ok(str_eq(h2.cluster, h.cluster) && str_eq(h2.node_name,
	    h.node_name) && str_eq(h2.version, h.version), "HELLO strings");
	ok(h2.range[WIRE_SUB_RAFT].min == 2 && h2.range[WIRE_SUB_RAFT].max ==
	    5 && h2.range[WIRE_SUB_ROUTE].max == 0 &&
	    h2.range[WIRE_SUB_FORWARD].max == 3, "HELLO ranges");
	ok(memcmp(h2.nonce, h.nonce, WIRE_NONCE_LEN) == 0, "HELLO nonce");

	/* HELLO payloads that must not decode. */
	buf_init(&p);
	buf_add(&p, f.payload.p, f.payload.len);
	buf_add_u8(&p, 0);
	ok(wire_hello_decode(STRB(&p), &h2) == WIRE_MALFORMED,
	    "HELLO v1 with a trailing byte");
	ok(wire_hello_decode((struct str){ f.payload.p, f.payload.len - 1 },
	    &h2) == WIRE_MALFORMED, "HELLO cut short");
	buf_truncate(&p, 0);
	buf_add(&p, f.payload.p, f.payload.len);
	p.data[p.off] = 'X';
	ok(wire_hello_decode(STRB(&p), &h2) == WIRE_MALFORMED,
	    "HELLO with a bad magic");
	hello_fill(&h);
	h.node_name = STR("n 1");
	buf_truncate(&b, 0);
	wire_hello_encode(&b, &h);
	wire_decode(buf_head(&b), buf_used(&b), 1 << 20, &f, &i);
	ok(wire_hello_decode(f.payload, &h2) == WIRE_MALFORMED,
	    "HELLO with a blank in the node name");
	hello_fill(&h);
	h.cluster = STR("");
	buf_truncate(&b, 0);
	wire_hello_encode(&b, &h);
	wire_decode(buf_head(&b), buf_used(&b), 1 << 20, &f, &i);
	ok(wire_hello_decode(f.payload, &h2) == WIRE_MALFORMED,
	    "HELLO with an empty cluster name");
	hello_fill(&h);
	h.range[WIRE_SUB_RAFT] = (struct wire_range){ 3, 2 };
	buf_truncate(&b, 0);
	wire_hello_encode(&b, &h);
	wire_decode(buf_head(&b), buf_used(&b), 1 << 20, &f, &i);
	ok(wire_hello_decode(f.payload, &h2) == WIRE_MALFORMED,
	    "HELLO with a range min > max");
	/* A subsystem id this build does not know is ignored. */
	hello_fill(&h);
	buf_truncate(&b, 0);
	wire_hello_encode(&b, &h);
	wire_decode(buf_head(&b), buf_used(&b), 1 << 20, &f, &i);
	buf_truncate(&p, 0);
	/* Rewrite the range count and append an unknown subsystem. */
	{
		size_t	 at = f.payload.len - WIRE_NONCE_LEN - 3 * 5 - 1;

		buf_add(&p, f.payload.p, at);
		buf_add_u8(&p, 4);
		buf_add(&p, f.payload.p + at + 1, 3 * 5);
		buf_add_u8(&p, 200);
		buf_add_u16(&p, 1);
		buf_add_u16(&p, 9);
		buf_add(&p, h.nonce, WIRE_NONCE_LEN);
		ok(wire_hello_decode(STRB(&p), &h2) == WIRE_OK &&
		    h2.range[WIRE_SUB_RAFT].max == 5,
		    "HELLO with an unknown subsystem decodes");
		p.data[p.off + at + 1 + 3 * 5] = WIRE_SUB_RAFT;
		ok(wire_hello_decode(STRB(&p), &h2) == WIRE_MALFORMED,
		    "HELLO with a subsystem twice");
	}
	buf_release(&p);

	/* AUTH, WELCOME, REFUSE, HEARTBEAT round trips. */
	for (i = 0; i < WIRE_MAC_LEN; i++)
		mac[i] = (uint8_t)(255 - i);
	buf_truncate(&b, 0);
	wire_mac_encode(&b, WIRE_AUTH, mac);
	ok(decode_whole(&b, &f) && f.type == WIRE_AUTH &&
	    wire_mac_decode(f.payload, mac2) == WIRE_OK &&
	    memcmp(mac, mac2, WIRE_MAC_LEN) == 0, "AUTH round trip");
	ok(wire_mac_decode((struct str){ f.payload.p, 31 }, mac2) ==
	    WIRE_MALFORMED, "a MAC of 31 bytes");
	buf_truncate(&b, 0);
	wire_refuse_encode(&b, WIRE_R_COOKIE, "wrong cookie");
	ok(decode_whole(&b, &f) && f.type == WIRE_REFUSE &&
	    wire_refuse_decode(f.payload, &rf) == WIRE_OK &&
	    rf.code == WIRE_R_COOKIE && str_eq_cstr(rf.reason, "wrong cookie"),
	    "REFUSE round trip");
	buf_truncate(&b, 0);
	wire_heartbeat_encode(&b, 0xfedcba9876543210ULL);
	ok(decode_whole(&b, &f) && f.type == WIRE_HEARTBEAT &&
	    wire_heartbeat_decode(f.payload, &seq) == WIRE_OK &&
	    seq == 0xfedcba9876543210ULL, "HEARTBEAT round trip");
	ok(buf_used(&b) == 16 && memcmp(buf_head(&b),
	    "\0\0\0\x08\x05\0\0\0\xfe\xdc\xba\x98\x76\x54\x32\x10", 16) == 0,
	    "HEARTBEAT bytes");
	buf_release(&b);

	/* Headers. */
	ok(decode_hex("", 4096) == WIRE_MORE, "nothing needs more");
	ok(decode_hex("00 00 00 08 05", 4096) == WIRE_MORE,
	    "half a heartbeat header needs more");
	ok(decode_hex("47 45 54 20 2f", 4096) == WIRE_MALFORMED,
	    "\"GET /\" is garbage after 5 bytes");
	ok(decode_hex("00 00 00 00 00", 4096) == WIRE_MALFORMED,
	    "frame type 0");
	ok(decode_hex("00 00 00 00 07 00 00 00", 4096) == WIRE_MALFORMED,
	    "frame type 7");
	ok(decode_hex("00 00 00 00 05 00 00 01", 4096) == WIRE_MALFORMED,
	    "flags set");
	ok(decode_hex("00 00 00 00 05 01 00 00", 4096) == WIRE_MALFORMED,
	    "a heartbeat for another subsystem");
	ok(decode_hex("00 00 00 00 06 03 00 00", 4096) == WIRE_OK,
	    "an empty DATA frame for forward");
	ok(decode_hex("00 00 10 01 01", 1 << 20) == WIRE_MALFORMED,
	    "a HELLO over 4096 bytes, refused from its header");
	ok(decode_hex("00 10 00 01 06 02 00 00", 1 << 20) == WIRE_TOO_BIG,
	    "a DATA frame over max_size");
	ok(decode_hex("00 10 00 00 06 02 00 00", 1 << 20) == WIRE_MORE,
	    "a DATA frame of max_size needs more");

	raft_tests();

	/* Versions. */
	ok(wire_agree((struct wire_range){ 1, 2 },
	    (struct wire_range){ 2, 4 }) == 2, "1..2 and 2..4 agree on 2");
	ok(wire_agree((struct wire_range){ 1, 5 },
	    (struct wire_range){ 2, 4 }) == 4, "1..5 and 2..4 agree on 4");
	ok(wire_agree((struct wire_range){ 1, 2 },
	    (struct wire_range){ 3, 4 }) == -1, "1..2 and 3..4 do not");
	ok(wire_agree((struct wire_range){ 0, 0 },
	    (struct wire_range){ 3, 4 }) == 0, "one side not speaking: 0");
	ok(wire_subsys_find("raft", 4) == WIRE_SUB_RAFT &&
	    wire_subsys_find("rafts", 5) == -1, "subsystem names");
	return (tap_done());
}
