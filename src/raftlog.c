/*
 * raftlog.c: Raft groups in LevelDB (see raftlog.h for the keys).
 *
 * Record values (all integers big-endian; the trailing CRC-32 covers the
 * key and every value byte before it, docs/storage.md):
 *
 *   R/G h	ver(1) term(8) vote(8) commit(8) crc(4)
 *   R/G e I	ver(1) term(8) type(1) data crc(4)
 *   R/G s	ver(1) index(8) term(8) conf crc(4)
 *   R/G t O	ver(1) data crc(4)
 *   G/G a	ver(1) index(8) crc(4)
 *   G/G d K	value crc(4)
 *
 * A configuration is n(2), then n times id(8) role(1).  A snapshot stream
 * is the group's G/G d records in key order, each klen(4) key vlen(4)
 * value crc(4) (of key and value), cut into chunks anywhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <leveldb/c.h>

#include "buf.h"
#include "failpoint.h"
#include "log.h"
#include "raftlog.h"
#include "store.h"
#include "xmalloc.h"

#define RAFTLOG_VER	1
#define RAFTLOG_KEY_MAX	13		/* R/ G e INDEX */

struct raftlog {
	leveldb_t		*db;
	leveldb_options_t	*opts;
	leveldb_readoptions_t	*ro;
	leveldb_writeoptions_t	*wo;
	leveldb_writeoptions_t	*wo_sync;
	char			*path;
	uint64_t		 writes;	/* atomic */
	uint64_t		 syncs;		/* atomic */
	uint64_t		 bytes;		/* atomic */
	uint64_t		 write_us;	/* atomic */
	bool			 broken;	/* atomic: a write failed */
};

struct raftlog_batch {
	leveldb_writebatch_t	*wb;
	size_t			 n;
	size_t			 bytes;
};

struct raftlog_view {
	struct raftlog		*rl;
	uint16_t		 group;
	const leveldb_snapshot_t *snap;
	leveldb_readoptions_t	*ro;
	leveldb_iterator_t	*it;
	raft_index		 index;
	uint64_t		 pos;		/* stream offset of rec */
	struct buf		 rec;		/* the record read out */
	bool			 started;
	bool			 end;		/* past the records */
};

/* Write n bytes of v big-endian. */
static void
raftlog_be(uint8_t *p, uint64_t v, int n)
{
	int	 i;

	for (i = n - 1; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

/* Read n bytes big-endian. */
static uint64_t
raftlog_get(const uint8_t *p, int n)
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return (v);
}

/* A key: ns ("R/", "G/"), group, kind, then n bytes of v (n may be 0). */
static size_t
raftlog_key(uint8_t *k, const char *ns, uint16_t group, char kind,
    uint64_t v, int n)
{
	k[0] = (uint8_t)ns[0];
	k[1] = '/';
	raftlog_be(k + 2, group, 2);
	k[4] = (uint8_t)kind;
	if (n > 0)
		raftlog_be(k + 5, v, n);
	return (5 + (size_t)n);
}

/* CRC of key and value. */
static uint32_t
raftlog_crc(const void *k, size_t klen, const void *v, size_t vlen)
{
	return (store_crc32(store_crc32(0, k, klen), v, vlen));
}

/* Append the CRC of key and b's bytes to b. */
static void
raftlog_seal(struct buf *b, const uint8_t *k, size_t klen)
{
	buf_add_u32(b, raftlog_crc(k, klen, buf_head(b), buf_used(b)));
}

/* True if val ends with the CRC of key and the rest of val. */
static bool
raftlog_crc_ok(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen)
{
	if (vlen < 4)
		return (false);
	return (raftlog_crc(k, klen, v, vlen - 4) ==
	    (uint32_t)raftlog_get(v + vlen - 4, 4));
}

/* Encode a configuration. */
static void
raftlog_add_conf(struct buf *b, const struct raft_conf *c)
{
	uint8_t	 id[8];
	unsigned i;

	buf_add_u16(b, (uint16_t)c->n);
	for (i = 0; i < c->n; i++) {
		raftlog_be(id, c->m[i].id, 8);
		buf_add(b, id, 8);
		buf_add_u8(b, c->m[i].role);
	}
}

/* Decode a configuration of exactly len bytes; -1 if it does not. */
static int
raftlog_get_conf(const uint8_t *p, size_t len, struct raft_conf *c)
{
	unsigned i, n;

	memset(c, 0, sizeof *c);
	if (len < 2)
		return (-1);
	n = (unsigned)raftlog_get(p, 2);
	if (n > RAFT_MAX_NODES || len != 2 + 9 * (size_t)n)
		return (-1);
	for (i = 0; i < n; i++) {
		c->m[i].id = raftlog_get(p + 2 + 9 * i, 8);
		c->m[i].role = p[2 + 9 * i + 8];
		if (c->m[i].id == 0 || (c->m[i].role != RAFT_VOTER &&
		    c->m[i].role != RAFT_MEMBER_LEARNER))
			return (-1);
	}
	c->n = n;
	return (0);
}

/* Open the database; see raftlog.h. */
struct raftlog *
raftlog_open(const char *path, char **cause)
{
	struct raftlog	*rl;
	char		*err = NULL;

	rl = xcalloc(1, sizeof *rl);
	rl->path = xstrdup(path);
	rl->opts = leveldb_options_create();
	leveldb_options_set_create_if_missing(rl->opts, 1);
	leveldb_options_set_paranoid_checks(rl->opts, 1);
	leveldb_options_set_write_buffer_size(rl->opts, 16 << 20);
	rl->ro = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(rl->ro, 1);
	rl->wo = leveldb_writeoptions_create();
	rl->wo_sync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(rl->wo_sync, 1);
	rl->db = leveldb_open(rl->opts, path, &err);
	if (rl->db == NULL) {
		xasprintf(cause, "raftlog: cannot open '%s': %s", path,
		    err != NULL ? err : "unknown error");
		leveldb_free(err);
		raftlog_close(rl);
		return (NULL);
	}
	return (rl);
}

/* Close the database; NULL is a no-op. */
void
raftlog_close(struct raftlog *rl)
{
	if (rl == NULL)
		return;
	if (rl->db != NULL)
		leveldb_close(rl->db);
	leveldb_options_destroy(rl->opts);
	leveldb_readoptions_destroy(rl->ro);
	leveldb_writeoptions_destroy(rl->wo);
	leveldb_writeoptions_destroy(rl->wo_sync);
	free(rl->path);
	free(rl);
}

/* Counters of writes and fsyncs. */
void
raftlog_stats(struct raftlog *rl, struct raftlog_stats *st)
{
	st->writes = __atomic_load_n(&rl->writes, __ATOMIC_RELAXED);
	st->syncs = __atomic_load_n(&rl->syncs, __ATOMIC_RELAXED);
	st->bytes = __atomic_load_n(&rl->bytes, __ATOMIC_RELAXED);
	st->write_us = __atomic_load_n(&rl->write_us, __ATOMIC_RELAXED);
}

/* A new empty batch. */
struct raftlog_batch *
raftlog_batch_new(void)
{
	struct raftlog_batch *b;

	b = xcalloc(1, sizeof *b);
	b->wb = leveldb_writebatch_create();
	return (b);
}

/* Free a batch; NULL is a no-op. */
void
raftlog_batch_free(struct raftlog_batch *b)
{
	if (b == NULL)
		return;
	leveldb_writebatch_destroy(b->wb);
	free(b);
}

/* Empty a batch. */
void
raftlog_batch_clear(struct raftlog_batch *b)
{
	leveldb_writebatch_clear(b->wb);
	b->n = 0;
	b->bytes = 0;
}

/* True if the batch holds no write. */
bool
raftlog_batch_empty(const struct raftlog_batch *b)
{
	return (b->n == 0);
}

/* Bytes of keys and values in the batch. */
size_t
raftlog_batch_bytes(const struct raftlog_batch *b)
{
	return (b->bytes);
}

/* Append src to dst. */
void
raftlog_batch_append(struct raftlog_batch *dst, const struct raftlog_batch *src)
{
	if (src->n == 0)
		return;
	leveldb_writebatch_append(dst->wb, src->wb);
	dst->n += src->n;
	dst->bytes += src->bytes;
}

/* Add a put. */
static void
raftlog_put(struct raftlog_batch *b, const uint8_t *k, size_t klen,
    const uint8_t *v, size_t vlen)
{
	leveldb_writebatch_put(b->wb, (const char *)k, klen, (const char *)v,
	    vlen);
	b->n++;
	b->bytes += klen + vlen;
}

/* Add a delete. */
static void
raftlog_del(struct raftlog_batch *b, const uint8_t *k, size_t klen)
{
	leveldb_writebatch_delete(b->wb, (const char *)k, klen);
	b->n++;
	b->bytes += klen;
}

/* Write a batch; see raftlog.h. */
int
raftlog_write(struct raftlog *rl, struct raftlog_batch *b, bool sync,
    char **cause)
{
	struct timespec	 t0, t1;
	char		*err = NULL;

	/* LevelDB would go on appending to a log whose last record a
	 * failed write cut short (store.c): refuse until reopened. */
	if (__atomic_load_n(&rl->broken, __ATOMIC_ACQUIRE)) {
		raftlog_batch_clear(b);
		xasprintf(cause, "raftlog: '%s' takes no writes after a failed "
		    "one until the node is restarted", rl->path);
		return (-1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (FAILPOINT_FAIL("raftlog-write-error"))
		err = strdup("IO error: injected by a failpoint");
	else
		leveldb_write(rl->db, sync ? rl->wo_sync : rl->wo, b->wb,
		    &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	__atomic_add_fetch(&rl->write_us, (uint64_t)((t1.tv_sec - t0.tv_sec) *
	    1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000), __ATOMIC_RELAXED);
	__atomic_add_fetch(&rl->writes, 1, __ATOMIC_RELAXED);
	if (sync)
		__atomic_add_fetch(&rl->syncs, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&rl->bytes, b->bytes, __ATOMIC_RELAXED);
	raftlog_batch_clear(b);
	if (err != NULL) {
		__atomic_store_n(&rl->broken, true, __ATOMIC_RELEASE);
		xasprintf(cause, "raftlog: cannot write to '%s': %s", rl->path,
		    err);
		leveldb_free(err);
		return (-1);
	}
	return (0);
}

/* Put a record whose value is v's bytes, sealed with the CRC. */
static void
raftlog_put_sealed(struct raftlog_batch *b, const uint8_t *k, size_t klen,
    struct buf *v)
{
	raftlog_seal(v, k, klen);
	raftlog_put(b, k, klen, buf_head(v), buf_used(v));
	buf_release(v);
}

/* Add the hard state. */
void
raftlog_put_hs(struct raftlog_batch *b, uint16_t group,
    const struct raft_hard_state *hs)
{
	uint8_t		 k[RAFTLOG_KEY_MAX], v[25];
	struct buf	 vb;
	size_t		 klen;

	klen = raftlog_key(k, "R", group, 'h', 0, 0);
	v[0] = RAFTLOG_VER;
	raftlog_be(v + 1, hs->term, 8);
	raftlog_be(v + 9, hs->vote, 8);
	raftlog_be(v + 17, hs->commit, 8);
	buf_init(&vb);
	buf_add(&vb, v, sizeof v);
	raftlog_put_sealed(b, k, klen, &vb);
}

/* Add an entry. */
void
raftlog_put_entry(struct raftlog_batch *b, uint16_t group,
    const struct raft_entry *e)
{
	uint8_t		 k[RAFTLOG_KEY_MAX], v[10];
	struct buf	 vb;
	size_t		 klen;

	klen = raftlog_key(k, "R", group, 'e', e->index, 8);
	v[0] = RAFTLOG_VER;
	raftlog_be(v + 1, e->term, 8);
	v[9] = e->type;
	buf_init(&vb);
	buf_reserve(&vb, sizeof v + e->len + 4);
	buf_add(&vb, v, sizeof v);
	if (e->len > 0)
		buf_add(&vb, e->data, e->len);
	raftlog_put_sealed(b, k, klen, &vb);
}

/* Delete entries from .. to. */
void
raftlog_del_entries(struct raftlog_batch *b, uint16_t group, raft_index from,
    raft_index to)
{
	uint8_t		 k[RAFTLOG_KEY_MAX];
	raft_index	 i;

	for (i = from; i <= to && i != 0; i++)
		raftlog_del(b, k, raftlog_key(k, "R", group, 'e', i, 8));
}

/* Add the snapshot meta. */
void
raftlog_put_snap(struct raftlog_batch *b, uint16_t group, raft_index index,
    raft_term term, const struct raft_conf *conf)
{
	uint8_t		 k[RAFTLOG_KEY_MAX], v[17];
	struct buf	 vb;
	size_t		 klen;

	klen = raftlog_key(k, "R", group, 's', 0, 0);
	v[0] = RAFTLOG_VER;
	raftlog_be(v + 1, index, 8);
	raftlog_be(v + 9, term, 8);
	buf_init(&vb);
	buf_add(&vb, v, sizeof v);
	raftlog_add_conf(&vb, conf);
	raftlog_put_sealed(b, k, klen, &vb);
}

/* Add the applied index. */
void
raftlog_put_applied(struct raftlog_batch *b, uint16_t group, raft_index index)
{
	uint8_t		 k[RAFTLOG_KEY_MAX], v[9];
	struct buf	 vb;
	size_t		 klen;

	klen = raftlog_key(k, "G", group, 'a', 0, 0);
	v[0] = RAFTLOG_VER;
	raftlog_be(v + 1, index, 8);
	buf_init(&vb);
	buf_add(&vb, v, sizeof v);
	raftlog_put_sealed(b, k, klen, &vb);
}

/* Add a staged snapshot chunk. */
void
raftlog_stage(struct raftlog_batch *b, uint16_t group, uint64_t offset,
    const void *data, size_t len)
{
	uint8_t		 k[RAFTLOG_KEY_MAX];
	struct buf	 vb;
	size_t		 klen;

	klen = raftlog_key(k, "R", group, 't', offset, 8);
	buf_init(&vb);
	buf_reserve(&vb, 1 + len + 4);
	buf_add_u8(&vb, RAFTLOG_VER);
	if (len > 0)
		buf_add(&vb, data, len);
	raftlog_put_sealed(b, k, klen, &vb);
}

/* Delete one staged chunk. */
void
raftlog_unstage_one(struct raftlog_batch *b, uint16_t group, uint64_t offset)
{
	uint8_t	 k[RAFTLOG_KEY_MAX];

	raftlog_del(b, k, raftlog_key(k, "R", group, 't', offset, 8));
}

/* The full key of a state machine record into b. */
static void
raftlog_sm_key(struct buf *b, uint16_t group, struct str key)
{
	uint8_t	 k[RAFTLOG_KEY_MAX];

	buf_init(b);
	buf_reserve(b, 5 + key.len);
	buf_add(b, k, raftlog_key(k, "G", group, 'd', 0, 0));
	if (key.len > 0)
		buf_add(b, key.p, key.len);
}

/* Add a state machine record. */
void
raftlog_sm_put(struct raftlog_batch *b, uint16_t group, struct str key,
    struct str val)
{
	struct buf	 kb, vb;

	raftlog_sm_key(&kb, group, key);
	buf_init(&vb);
	buf_reserve(&vb, val.len + 4);
	if (val.len > 0)
		buf_add(&vb, val.p, val.len);
	raftlog_put_sealed(b, buf_head(&kb), buf_used(&kb), &vb);
	buf_release(&kb);
}

/* Delete a state machine record. */
void
raftlog_sm_del(struct raftlog_batch *b, uint16_t group, struct str key)
{
	struct buf	 kb;

	raftlog_sm_key(&kb, group, key);
	raftlog_del(b, buf_head(&kb), buf_used(&kb));
	buf_release(&kb);
}

/* Read one record: 1 and a leveldb_free()d *v if found, 0, -1. */
static int
raftlog_read(struct raftlog *rl, const uint8_t *k, size_t klen, char **v,
    size_t *vlen, char **cause)
{
	char	*err = NULL;

	*v = leveldb_get(rl->db, rl->ro, (const char *)k, klen, vlen, &err);
	if (err != NULL) {
		xasprintf(cause, "raftlog: cannot read '%s': %s", rl->path,
		    err);
		leveldb_free(err);
		return (-1);
	}
	return (*v != NULL);
}

/* Read a state machine record; see raftlog.h. */
int
raftlog_sm_get(struct raftlog *rl, uint16_t group, struct str key,
    struct str *val, char **cause)
{
	struct buf	 kb;
	char		*v;
	size_t		 vlen;
	int		 rv;

	raftlog_sm_key(&kb, group, key);
	rv = raftlog_read(rl, buf_head(&kb), buf_used(&kb), &v, &vlen, cause);
	if (rv == 1) {
		if (!raftlog_crc_ok(buf_head(&kb), buf_used(&kb),
		    (uint8_t *)v, vlen)) {
			xasprintf(cause, "raftlog: group %u: a state machine "
			    "record is damaged (CRC mismatch)", group);
			rv = -1;
		} else {
			val->p = xmemdup(v, vlen - 4 == 0 ? 1 : vlen - 4);
			val->len = vlen - 4;
		}
		leveldb_free(v);
	}
	buf_release(&kb);
	return (rv);
}

/* Called with each record of a key range; -1 stops. */
typedef int	 raftlog_iter_f(const uint8_t *, size_t, const uint8_t *,
		     size_t, void *);

/* Iterate over the keys starting with prefix through ro. */
static int
raftlog_iter(struct raftlog *rl, leveldb_readoptions_t *ro,
    const uint8_t *prefix, size_t plen, raftlog_iter_f *fn, void *arg,
    char **cause)
{
	leveldb_iterator_t	*it;
	const char		*k, *v;
	char			*err = NULL;
	size_t			 klen, vlen;
	int			 rv = 0;

	it = leveldb_create_iterator(rl->db, ro);
	leveldb_iter_seek(it, (const char *)prefix, plen);
	for (; leveldb_iter_valid(it); leveldb_iter_next(it)) {
		k = leveldb_iter_key(it, &klen);
		if (klen < plen || memcmp(k, prefix, plen) != 0)
			break;
		v = leveldb_iter_value(it, &vlen);
		if (fn((const uint8_t *)k, klen, (const uint8_t *)v, vlen,
		    arg) != 0) {
			rv = -1;
			break;
		}
	}
	leveldb_iter_get_error(it, &err);
	if (err != NULL) {
		xasprintf(cause, "raftlog: cannot read '%s': %s", rl->path,
		    err);
		leveldb_free(err);
		rv = -1;
	}
	leveldb_iter_destroy(it);
	return (rv);
}

struct raftlog_sm_scan_arg {
	uint16_t	 group;
	raftlog_scan_f	*fn;
	void		*arg;
	char		*cause;
};

/* One state machine record of a scan. */
static int
raftlog_sm_scan_cb(const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen, void *arg)
{
	struct raftlog_sm_scan_arg *a = arg;

	if (!raftlog_crc_ok(k, klen, v, vlen)) {
		xasprintf(&a->cause, "raftlog: group %u: a state machine "
		    "record is damaged (CRC mismatch)", a->group);
		return (-1);
	}
	return (a->fn((struct str){ k + 5, klen - 5 },
	    (struct str){ v, vlen - 4 }, a->arg));
}

/* Scan state machine records; see raftlog.h. */
int
raftlog_sm_scan(struct raftlog *rl, uint16_t group, struct str prefix,
    raftlog_scan_f *fn, void *arg, char **cause)
{
	struct raftlog_sm_scan_arg a = { group, fn, arg, NULL };
	struct buf	 kb;
	int		 rv;

	raftlog_sm_key(&kb, group, prefix);
	rv = raftlog_iter(rl, rl->ro, buf_head(&kb), buf_used(&kb),
	    raftlog_sm_scan_cb, &a, cause);
	buf_release(&kb);
	if (a.cause != NULL) {
		*cause = a.cause;
		rv = -1;
	}
	return (rv);
}

struct raftlog_load_arg {
	struct raftlog_state	*st;
	uint16_t		 group;
	struct buf		 data;		/* entry data */
	size_t			 cap;
	raft_index		 skipped;	/* under the snapshot */
	char			*cause;
};

/* Name the damage of a group's record. */
static int
raftlog_damaged(char **cause, uint16_t group, const char *what,
    const char *why)
{
	xasprintf(cause, "raftlog: group %u: %s is damaged (%s); the replica "
	    "is not started: move its store away (it catches up from the "
	    "others)", group, what, why);
	return (-1);
}

/* One log entry read back. */
static int
raftlog_load_entry_cb(const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen, void *arg)
{
	struct raftlog_load_arg	*a = arg;
	struct raftlog_state	*st = a->st;
	struct raft_entry	*e;
	raft_index		 index, want;
	char			 what[64];

	if (klen != RAFTLOG_KEY_MAX)
		return (raftlog_damaged(&a->cause, a->group, "a log key",
		    "bad length"));
	index = raftlog_get(k + 5, 8);
	snprintf(what, sizeof what, "log entry %llu",
	    (unsigned long long)index);
	if (!raftlog_crc_ok(k, klen, v, vlen))
		return (raftlog_damaged(&a->cause, a->group, what,
		    "CRC mismatch"));
	if (vlen < 10 + 4 || v[0] != RAFTLOG_VER)
		return (raftlog_damaged(&a->cause, a->group, what,
		    "bad record"));
	if (index <= st->snap_index) {
		a->skipped++;
		return (0);
	}
	want = st->snap_index + 1 + st->n_entries;
	if (index != want) {
		xasprintf(&a->cause, "raftlog: group %u: the log has a gap "
		    "(entry %llu follows %llu); the replica is not started: "
		    "move its store away (it catches up from the others)",
		    a->group, (unsigned long long)index,
		    (unsigned long long)(want - 1));
		return (-1);
	}
	if (st->n_entries == a->cap) {
		a->cap = a->cap == 0 ? 64 : a->cap * 2;
		st->entries = xreallocarray(st->entries, a->cap,
		    sizeof *st->entries);
	}
	e = &st->entries[st->n_entries++];
	e->index = index;
	e->term = raftlog_get(v + 1, 8);
	e->type = v[9];
	e->len = vlen - 10 - 4;
	/* The offset for now; made a pointer once the arena stops moving. */
	e->data = (const void *)(uintptr_t)buf_used(&a->data);
	if (e->len > 0)
		buf_add(&a->data, v + 10, e->len);
	if (st->n_entries > 1 && e->term < e[-1].term) {
		xasprintf(&a->cause, "raftlog: group %u: log entry %llu has "
		    "term %llu, below the term of the entry before it; the "
		    "replica is not started", a->group,
		    (unsigned long long)index, (unsigned long long)e->term);
		return (-1);
	}
	return (0);
}

/* Count a staged chunk. */
static int
raftlog_count_cb(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
    void *arg)
{
	(*(uint64_t *)arg)++;
	return (0);
}

/* Read one of a group's single records: 1 found and checked, 0, -1. */
static int
raftlog_load_one(struct raftlog *rl, uint16_t group, const char *ns,
    char kind, const char *what, size_t minlen, char **v, size_t *vlen,
    char **cause)
{
	uint8_t	 k[RAFTLOG_KEY_MAX];
	size_t	 klen;
	int	 rv;

	klen = raftlog_key(k, ns, group, kind, 0, 0);
	if ((rv = raftlog_read(rl, k, klen, v, vlen, cause)) != 1)
		return (rv);
	if (!raftlog_crc_ok(k, klen, (uint8_t *)*v, *vlen) ||
	    *vlen < minlen + 4 || (uint8_t)(*v)[0] != RAFTLOG_VER) {
		raftlog_damaged(cause, group, what, raftlog_crc_ok(k, klen,
		    (uint8_t *)*v, *vlen) ? "bad record" : "CRC mismatch");
		leveldb_free(*v);
		*v = NULL;
		return (-1);
	}
	return (1);
}

/* Read a group back; see raftlog.h. */
int
raftlog_load(struct raftlog *rl, uint16_t group, struct raftlog_state *st,
    char **cause)
{
	struct raftlog_load_arg	 a;
	uint8_t			 k[RAFTLOG_KEY_MAX];
	const uint8_t		*p;
	char			*v = NULL;
	size_t			 vlen, i;
	int			 rv;

	memset(st, 0, sizeof *st);
	memset(&a, 0, sizeof a);
	a.st = st;
	a.group = group;
	buf_init(&a.data);

	rv = raftlog_load_one(rl, group, "R", 'h', "the hard state", 25, &v,
	    &vlen, cause);
	if (rv == -1)
		goto fail;
	if (rv == 1) {
		p = (const uint8_t *)v;
		st->found = true;
		st->hs.term = raftlog_get(p + 1, 8);
		st->hs.vote = raftlog_get(p + 9, 8);
		st->hs.commit = raftlog_get(p + 17, 8);
		leveldb_free(v);
	}
	rv = raftlog_load_one(rl, group, "R", 's', "the snapshot meta", 17,
	    &v, &vlen, cause);
	if (rv == -1)
		goto fail;
	if (rv == 1) {
		p = (const uint8_t *)v;
		st->found = true;
		st->snap_index = raftlog_get(p + 1, 8);
		st->snap_term = raftlog_get(p + 9, 8);
		rv = raftlog_get_conf(p + 17, vlen - 17 - 4, &st->snap_conf);
		leveldb_free(v);
		if (rv != 0) {
			raftlog_damaged(cause, group, "the snapshot meta",
			    "bad configuration");
			goto fail;
		}
	}
	rv = raftlog_load_one(rl, group, "G", 'a', "the applied index", 9, &v,
	    &vlen, cause);
	if (rv == -1)
		goto fail;
	if (rv == 1) {
		st->found = true;
		st->applied = raftlog_get((const uint8_t *)v + 1, 8);
		leveldb_free(v);
	}
	if (raftlog_iter(rl, rl->ro, k, raftlog_key(k, "R", group, 'e', 0, 0),
	    raftlog_load_entry_cb, &a, cause) != 0) {
		if (a.cause != NULL) {
			free(*cause);
			*cause = TAKE(a.cause);
		}
		goto fail;
	}
	if (raftlog_iter(rl, rl->ro, k, raftlog_key(k, "R", group, 't', 0, 0),
	    raftlog_count_cb, &st->staged, cause) != 0)
		goto fail;
	if (st->n_entries > 0)
		st->found = true;
	st->arena = TAKE(a.data.data);
	for (i = 0; i < st->n_entries; i++)
		st->entries[i].data = st->entries[i].len == 0 ? NULL :
		    st->arena + (uintptr_t)st->entries[i].data;
	if (a.skipped > 0)
		log_info("raftlog: group %u: %llu entries at or below the "
		    "snapshot index %llu are ignored", group,
		    (unsigned long long)a.skipped,
		    (unsigned long long)st->snap_index);
	if (st->applied < st->snap_index ||
	    st->applied > st->snap_index + st->n_entries) {
		xasprintf(cause, "raftlog: group %u: the applied index %llu is "
		    "outside the log (snapshot %llu, last entry %llu); the "
		    "replica is not started", group,
		    (unsigned long long)st->applied,
		    (unsigned long long)st->snap_index,
		    (unsigned long long)(st->snap_index + st->n_entries));
		goto fail;
	}
	if (st->n_entries > 0 && st->snap_index > 0 &&
	    st->entries[0].term < st->snap_term) {
		raftlog_damaged(cause, group, "the log", "an entry's term is "
		    "below the snapshot's");
		goto fail;
	}
	return (0);

fail:
	free(a.cause);
	buf_release(&a.data);
	raftlog_state_release(st);
	return (-1);
}

/* Free what raftlog_load allocated. */
void
raftlog_state_release(struct raftlog_state *st)
{
	free(st->entries);
	free(st->arena);
	st->entries = NULL;
	st->arena = NULL;
	st->n_entries = 0;
}

struct raftlog_del_arg {
	struct raftlog_batch	*b;
	raft_index		 to;		/* entries: 0 for all */
	bool			 entries;
};

/* Delete a record of a scan. */
static int
raftlog_del_cb(const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
    void *arg)
{
	struct raftlog_del_arg	*a = arg;

	if (a->entries && a->to != 0 && klen == RAFTLOG_KEY_MAX &&
	    raftlog_get(k + 5, 8) > a->to)
		return (-1);
	raftlog_del(a->b, k, klen);
	return (0);
}

/* Delete every record of a group's kind (entries through to). */
static int
raftlog_del_kind(struct raftlog *rl, struct raftlog_batch *b, uint16_t group,
    const char *ns, char kind, raft_index to, char **cause)
{
	struct raftlog_del_arg	 a = { b, to, kind == 'e' };
	uint8_t			 k[RAFTLOG_KEY_MAX];
	char			*c = NULL;

	if (raftlog_iter(rl, rl->ro, k, raftlog_key(k, ns, group, kind, 0, 0),
	    raftlog_del_cb, &a, &c) != 0 && c != NULL) {
		*cause = c;
		return (-1);
	}
	return (0);
}

/* Delete staged chunks; see raftlog.h. */
int
raftlog_unstage(struct raftlog *rl, struct raftlog_batch *b, uint16_t group,
    char **cause)
{
	return (raftlog_del_kind(rl, b, group, "R", 't', 0, cause));
}

/* The term of a stored entry; see raftlog.h. */
int
raftlog_entry_term(struct raftlog *rl, uint16_t group, raft_index index,
    raft_term *term, char **cause)
{
	uint8_t	 k[RAFTLOG_KEY_MAX];
	char	*v;
	size_t	 klen, vlen;
	int	 rv;

	klen = raftlog_key(k, "R", group, 'e', index, 8);
	if ((rv = raftlog_read(rl, k, klen, &v, &vlen, cause)) != 1)
		return (rv);
	if (!raftlog_crc_ok(k, klen, (uint8_t *)v, vlen) || vlen < 14) {
		leveldb_free(v);
		return (raftlog_damaged(cause, group, "a log entry",
		    "CRC mismatch"));
	}
	*term = raftlog_get((uint8_t *)v + 1, 8);
	leveldb_free(v);
	return (1);
}

struct raftlog_gather_arg {
	uint16_t	 group;
	struct buf	*out;
	char		*cause;
};

/* Append a staged chunk to the stream, checking that it follows. */
static int
raftlog_gather_cb(const uint8_t *k, size_t klen, const uint8_t *v,
    size_t vlen, void *arg)
{
	struct raftlog_gather_arg *a = arg;

	if (klen != RAFTLOG_KEY_MAX || !raftlog_crc_ok(k, klen, v, vlen) ||
	    vlen < 5 || v[0] != RAFTLOG_VER)
		return (raftlog_damaged(&a->cause, a->group,
		    "a staged snapshot chunk", "CRC mismatch"));
	if (raftlog_get(k + 5, 8) != buf_used(a->out)) {
		xasprintf(&a->cause, "raftlog: group %u: the staged snapshot "
		    "chunks do not follow each other (offset %llu after %zu "
		    "bytes)", a->group,
		    (unsigned long long)raftlog_get(k + 5, 8),
		    buf_used(a->out));
		return (-1);
	}
	buf_add(a->out, v + 1, vlen - 1 - 4);
	return (0);
}

/* Install a snapshot; see raftlog.h. */
int
raftlog_install(struct raftlog *rl, struct raftlog_batch *b, uint16_t group,
    raft_index index, raft_term term, const struct raft_conf *conf,
    uint64_t last_offset, const void *data, size_t len, raft_index drop_to,
    char **cause)
{
	struct raftlog_gather_arg a;
	struct buf		 s;
	uint8_t			 k[RAFTLOG_KEY_MAX];
	const uint8_t		*p;
	size_t			 left, kl, vl;

	buf_init(&s);
	memset(&a, 0, sizeof a);
	a.group = group;
	a.out = &s;
	if (last_offset > 0 && raftlog_iter(rl, rl->ro, k,
	    raftlog_key(k, "R", group, 't', 0, 0), raftlog_gather_cb, &a,
	    cause) != 0) {
		if (a.cause != NULL)
			*cause = TAKE(a.cause);
		goto fail;
	}
	if (buf_used(&s) != last_offset) {
		xasprintf(cause, "raftlog: group %u: %zu bytes of the snapshot "
		    "are staged, the last chunk is at offset %llu", group,
		    buf_used(&s), (unsigned long long)last_offset);
		goto fail;
	}
	if (len > 0)
		buf_add(&s, data, len);
	/* Check the whole stream before touching anything. */
	p = buf_head(&s);
	left = buf_used(&s);
	while (left > 0) {
		/* klen(4) key vlen(4) value crc(4): 12 + kl + vl bytes. */
		if (left < 12 || (kl = raftlog_get(p, 4)) > left - 12 ||
		    (vl = raftlog_get(p + 4 + kl, 4)) > left - 12 - kl ||
		    raftlog_crc(p + 4, kl, p + 8 + kl, vl) !=
		    raftlog_get(p + 8 + kl + vl, 4)) {
			xasprintf(cause, "raftlog: group %u: the snapshot at "
			    "index %llu does not decode at byte %zu", group,
			    (unsigned long long)index, buf_used(&s) - left);
			goto fail;
		}
		p += 12 + kl + vl;
		left -= 12 + kl + vl;
	}
	if (raftlog_del_kind(rl, b, group, "G", 'd', 0, cause) != 0 ||
	    raftlog_del_kind(rl, b, group, "R", 't', 0, cause) != 0 ||
	    raftlog_del_kind(rl, b, group, "R", 'e', drop_to, cause) != 0)
		goto fail;
	p = buf_head(&s);
	left = buf_used(&s);
	while (left > 0) {
		kl = raftlog_get(p, 4);
		vl = raftlog_get(p + 4 + kl, 4);
		raftlog_sm_put(b, group, (struct str){ p + 4, kl },
		    (struct str){ p + 8 + kl, vl });
		p += 12 + kl + vl;
		left -= 12 + kl + vl;
	}
	raftlog_put_applied(b, group, index);
	raftlog_put_snap(b, group, index, term, conf);
	buf_release(&s);
	return (0);

fail:
	buf_release(&s);
	return (-1);
}

/* A view of a group's state machine; see raftlog.h. */
struct raftlog_view *
raftlog_view_new(struct raftlog *rl, uint16_t group, char **cause)
{
	struct raftlog_view	*vw;
	uint8_t			 k[RAFTLOG_KEY_MAX];
	char			*v, *err = NULL;
	size_t			 klen, vlen;

	vw = xcalloc(1, sizeof *vw);
	vw->rl = rl;
	vw->group = group;
	vw->snap = leveldb_create_snapshot(rl->db);
	vw->ro = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(vw->ro, 1);
	leveldb_readoptions_set_fill_cache(vw->ro, 0);
	leveldb_readoptions_set_snapshot(vw->ro, vw->snap);
	buf_init(&vw->rec);
	klen = raftlog_key(k, "G", group, 'a', 0, 0);
	v = leveldb_get(rl->db, vw->ro, (const char *)k, klen, &vlen, &err);
	if (err != NULL) {
		xasprintf(cause, "raftlog: cannot read '%s': %s", rl->path,
		    err);
		leveldb_free(err);
		goto fail;
	}
	if (v != NULL) {
		if (!raftlog_crc_ok(k, klen, (uint8_t *)v, vlen) || vlen < 13) {
			leveldb_free(v);
			raftlog_damaged(cause, group, "the applied index",
			    "CRC mismatch");
			goto fail;
		}
		vw->index = raftlog_get((uint8_t *)v + 1, 8);
		leveldb_free(v);
	}
	return (vw);

fail:
	raftlog_view_free(vw);
	return (NULL);
}

/* The applied index of a view. */
raft_index
raftlog_view_index(const struct raftlog_view *vw)
{
	return (vw->index);
}

/* Load the next record into vw->rec; false at the end. */
static bool
raftlog_view_next(struct raftlog_view *vw, char **cause)
{
	uint8_t		 k[RAFTLOG_KEY_MAX], n[4];
	const char	*key, *val;
	size_t		 klen, vlen, plen;

	plen = raftlog_key(k, "G", vw->group, 'd', 0, 0);
	if (!vw->started) {
		vw->it = leveldb_create_iterator(vw->rl->db, vw->ro);
		leveldb_iter_seek(vw->it, (const char *)k, plen);
		vw->started = true;
	} else if (leveldb_iter_valid(vw->it))
		leveldb_iter_next(vw->it);
	if (!leveldb_iter_valid(vw->it))
		return (false);
	key = leveldb_iter_key(vw->it, &klen);
	if (klen < plen || memcmp(key, k, plen) != 0)
		return (false);
	val = leveldb_iter_value(vw->it, &vlen);
	if (!raftlog_crc_ok((const uint8_t *)key, klen, (const uint8_t *)val,
	    vlen)) {
		raftlog_damaged(cause, vw->group, "a state machine record",
		    "CRC mismatch");
		return (false);
	}
	key += plen;
	klen -= plen;
	vlen -= 4;
	vw->rec.off = vw->rec.len = 0;
	raftlog_be(n, klen, 4);
	buf_add(&vw->rec, n, 4);
	buf_add(&vw->rec, key, klen);
	raftlog_be(n, vlen, 4);
	buf_add(&vw->rec, n, 4);
	buf_add(&vw->rec, val, vlen);
	buf_add_u32(&vw->rec, raftlog_crc(key, klen, val, vlen));
	return (true);
}

/* Read from a view; see raftlog.h. */
int
raftlog_view_read(struct raftlog_view *vw, uint64_t offset, size_t max,
    struct buf *out, bool *last, char **cause)
{
	size_t	 n, want;

	*last = false;
	if (offset < vw->pos) {
		/* A transfer that starts again: from the first record. */
		if (vw->it != NULL)
			leveldb_iter_destroy(vw->it);
		vw->it = NULL;
		vw->started = false;
		vw->end = false;
		vw->pos = 0;
		vw->rec.off = vw->rec.len = 0;
	}
	want = max;
	while (want > 0 || offset > vw->pos) {
		if (buf_used(&vw->rec) == 0) {
			if (vw->end || !raftlog_view_next(vw, cause)) {
				vw->end = true;
				if (*cause != NULL)
					return (-1);
				break;
			}
		}
		n = buf_used(&vw->rec);
		if (offset > vw->pos) {
			if (n > offset - vw->pos)
				n = offset - vw->pos;
		} else {
			if (n > want)
				n = want;
			buf_add(out, buf_head(&vw->rec), n);
			want -= n;
			offset += n;
		}
		buf_consume(&vw->rec, n);
		vw->pos += n;
	}
	if (buf_used(&vw->rec) == 0 && !vw->end) {
		/* Look ahead so the last chunk says so. */
		if (!raftlog_view_next(vw, cause)) {
			vw->end = true;
			if (*cause != NULL)
				return (-1);
		}
	}
	*last = vw->end && buf_used(&vw->rec) == 0;
	return (0);
}

/* Free a view; NULL is a no-op. */
void
raftlog_view_free(struct raftlog_view *vw)
{
	if (vw == NULL)
		return;
	if (vw->it != NULL)
		leveldb_iter_destroy(vw->it);
	leveldb_readoptions_destroy(vw->ro);
	leveldb_release_snapshot(vw->rl->db, vw->snap);
	buf_release(&vw->rec);
	free(vw);
}

/* Whether an R/ or G/ record decodes; see raftlog.h. */
bool
raftlog_record_ok(struct str key, struct str val)
{
	struct raft_conf c;

	if (key.len < 5 || (key.p[0] != 'R' && key.p[0] != 'G') ||
	    key.p[1] != '/' || !raftlog_crc_ok(key.p, key.len, val.p, val.len))
		return (false);
	if (key.p[0] == 'G')
		return (key.p[4] == 'd' || (key.p[4] == 'a' && key.len == 5 &&
		    val.len == 13 && val.p[0] == RAFTLOG_VER));
	switch (key.p[4]) {
	case 'h':
		return (key.len == 5 && val.len == 29 &&
		    val.p[0] == RAFTLOG_VER);
	case 'e':
		return (key.len == RAFTLOG_KEY_MAX && val.len >= 14 &&
		    val.p[0] == RAFTLOG_VER);
	case 's':
		return (key.len == 5 && val.len >= 21 &&
		    val.p[0] == RAFTLOG_VER &&
		    raftlog_get_conf(val.p + 17, val.len - 21, &c) == 0);
	case 't':
		return (key.len == RAFTLOG_KEY_MAX && val.len >= 5 &&
		    val.p[0] == RAFTLOG_VER);
	}
	return (false);
}
