/*
 * raftlog.c: the Raft storage layer against a real LevelDB (src/raftlog.c):
 * records read back as written, damage refused with a reason, compaction,
 * snapshot views streamed in chunks and installed elsewhere.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leveldb/c.h>

#include "raftlog.h"
#include "tap.h"

static char	 dir[] = "raftlog-unit.XXXXXX";

/* A database in the test directory. */
static struct raftlog *
open_db(const char *name)
{
	struct raftlog	*rl;
	char		 path[256], *cause = NULL;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((rl = raftlog_open(path, &cause)) == NULL) {
		printf("# %s\n", cause);
		exit(1);
	}
	return (rl);
}

/* Write a batch, failing the test run if it cannot be. */
static void
write_sync(struct raftlog *rl, struct raftlog_batch *b)
{
	char	*cause = NULL;

	if (raftlog_write(rl, b, true, &cause) != 0) {
		printf("# %s\n", cause);
		exit(1);
	}
}

/* Put entries first .. last of term t with data "e<index>". */
static void
put_entries(struct raftlog_batch *b, uint16_t g, raft_index first,
    raft_index last, raft_term t)
{
	struct raft_entry	 e;
	char			 d[32];
	raft_index		 i;

	for (i = first; i <= last; i++) {
		memset(&e, 0, sizeof e);
		e.index = i;
		e.term = t;
		e.len = (size_t)snprintf(d, sizeof d, "e%llu",
		    (unsigned long long)i);
		e.data = d;
		raftlog_put_entry(b, g, &e);
	}
}

static int
count_cb(struct str key, struct str val, void *arg)
{
	(*(int *)arg)++;
	return (0);
}

int
main(void)
{
	struct raftlog		*rl, *rl2;
	struct raftlog_batch	*b;
	struct raftlog_state	 st;
	struct raftlog_view	*vw;
	struct raft_hard_state	 hs = { 7, 2, 40 };
	struct raft_conf	 conf;
	struct buf		 out;
	struct str		 v;
	char			*cause = NULL, path[256], key[32], val[64];
	leveldb_options_t	*o;
	leveldb_writeoptions_t	*wo;
	leveldb_t		*db;
	uint8_t			 bad[40];
	uint64_t		 off;
	size_t			 vlen;
	char			*raw;
	bool			 last;
	int			 i, n, rv;

	if (mkdtemp(dir) == NULL)
		return (1);
	rl = open_db("a");
	b = raftlog_batch_new();
	memset(&conf, 0, sizeof conf);
	conf.n = 3;
	for (i = 0; i < 3; i++) {
		conf.m[i].id = (raft_id)i + 1;
		conf.m[i].role = RAFT_VOTER;
	}

	/* An unknown group is empty. */
	ok(raftlog_load(rl, 9, &st, &cause) == 0 && !st.found &&
	    st.n_entries == 0, "a group never written loads empty");
	raftlog_state_release(&st);

	/* Hard state and entries of two groups read back. */
	raftlog_put_hs(b, 1, &hs);
	put_entries(b, 1, 1, 50, 3);
	put_entries(b, 2, 1, 5, 1);
	write_sync(rl, b);
	rv = raftlog_load(rl, 1, &st, &cause);
	ok(rv == 0 && st.found && st.hs.term == 7 && st.hs.vote == 2 &&
	    st.hs.commit == 40, "the hard state reads back");
	ok(rv == 0 && st.n_entries == 50 && st.entries[0].index == 1 &&
	    st.entries[49].index == 50 && st.entries[49].term == 3 &&
	    st.entries[49].len == 3 &&
	    memcmp(st.entries[49].data, "e50", 3) == 0,
	    "fifty entries read back in order with their data");
	raftlog_state_release(&st);
	rv = raftlog_load(rl, 2, &st, &cause);
	ok(rv == 0 && st.n_entries == 5, "groups do not mix");
	raftlog_state_release(&st);

	/* Truncation then new entries of a later term. */
	raftlog_del_entries(b, 1, 41, 50);
	put_entries(b, 1, 41, 45, 4);
	write_sync(rl, b);
	rv = raftlog_load(rl, 1, &st, &cause);
	ok(rv == 0 && st.n_entries == 45 && st.entries[44].term == 4 &&
	    st.entries[39].term == 3, "a truncated tail is replaced");
	raftlog_state_release(&st);

	/* Compaction: entries through 30 go, the snapshot meta says so. */
	raftlog_del_entries(b, 1, 1, 30);
	raftlog_put_snap(b, 1, 30, 3, &conf);
	raftlog_put_applied(b, 1, 35);
	write_sync(rl, b);
	rv = raftlog_load(rl, 1, &st, &cause);
	ok(rv == 0 && st.snap_index == 30 && st.snap_term == 3 &&
	    st.snap_conf.n == 3 && st.snap_conf.m[2].id == 3 &&
	    st.n_entries == 15 && st.entries[0].index == 31 &&
	    st.applied == 35, "compaction leaves the snapshot meta and the "
	    "entries after it");
	raftlog_state_release(&st);

	/* State machine records and a view of them. */
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof key, "k%03d", i);
		snprintf(val, sizeof val, "value of %d", i * i);
		raftlog_sm_put(b, 1, STR(key), STR(val));
	}
	raftlog_sm_put(b, 2, STR("other"), STR("group"));
	write_sync(rl, b);
	rv = raftlog_sm_get(rl, 1, STR("k042"), &v, &cause);
	ok(rv == 1 && v.len == strlen("value of 1764") &&
	    memcmp(v.p, "value of 1764", v.len) == 0,
	    "a state machine record reads back");
	if (rv == 1)
		free((void *)v.p);
	n = 0;
	ok(raftlog_sm_scan(rl, 1, STR("k0"), count_cb, &n, &cause) == 0 &&
	    n == 100, "a scan sees the group's records only");

	vw = raftlog_view_new(rl, 1, &cause);
	ok(vw != NULL && raftlog_view_index(vw) == 35,
	    "a view shows the applied index");
	/* Changes after the view are not in it. */
	raftlog_sm_put(b, 1, STR("k999"), STR("late"));
	write_sync(rl, b);

	/* Stream it in chunks of 97 bytes into another database. */
	rl2 = open_db("b");
	buf_init(&out);
	off = 0;
	rv = 0;
	raftlog_sm_put(b, 1, STR("stale"), STR("to be replaced"));
	put_entries(b, 1, 1, 3, 1);
	write_sync(rl2, b);
	for (i = 0; i < 10000; i++) {
		out.off = out.len = 0;
		if (raftlog_view_read(vw, off, 97, &out, &last, &cause) != 0) {
			rv = -1;
			break;
		}
		if (last)
			break;
		raftlog_stage(b, 1, off, buf_head(&out), buf_used(&out));
		write_sync(rl2, b);
		off += buf_used(&out);
	}
	ok(rv == 0 && last && off > 97 * 10, "the view streams to its end");
	/* A restart from offset 0 gives the same bytes. */
	{
		struct buf	 again;
		bool		 l2;

		buf_init(&again);
		ok(raftlog_view_read(vw, 0, 97, &again, &l2, &cause) == 0 &&
		    buf_used(&again) == 97 && !l2,
		    "a view reads again from offset 0");
		buf_release(&again);
		/* Back where the loop was, for the last chunk. */
		out.off = out.len = 0;
		ok(raftlog_view_read(vw, off, 97, &out, &last, &cause) == 0 &&
		    last, "and again at the last chunk's offset");
	}
	rv = raftlog_install(rl2, b, 1, 35, 3, &conf, off, buf_head(&out),
	    buf_used(&out), 0, &cause);
	ok(rv == 0, "the chunks install (%s)", rv == 0 ? "ok" : cause);
	write_sync(rl2, b);
	n = 0;
	ok(raftlog_sm_scan(rl2, 1, STR(""), count_cb, &n, &cause) == 0 &&
	    n == 100, "the installed state machine has the view's 100 "
	    "records, not the later one nor the stale one");
	rv = raftlog_load(rl2, 1, &st, &cause);
	ok(rv == 0 && st.snap_index == 35 && st.applied == 35 &&
	    st.n_entries == 0 && st.staged == 0, "the install leaves the "
	    "snapshot meta and applied index, no entries, no staged chunks");
	raftlog_state_release(&st);
	raftlog_view_free(vw);
	buf_release(&out);

	/* A snapshot with a chunk missing is refused. */
	raftlog_stage(b, 3, 0, "abc", 3);
	write_sync(rl2, b);
	rv = raftlog_install(rl2, b, 3, 10, 1, &conf, 10, "xyz", 3, 0,
	    &cause);
	ok(rv == -1 && cause != NULL && strstr(cause, "staged") != NULL,
	    "a snapshot with a missing chunk is refused: %s", cause);
	free(cause);
	cause = NULL;
	raftlog_batch_clear(b);

	/* Streams that do not decode are refused, whatever their bytes. */
	{
		static const struct {
			const char	*what;
			const char	*bytes;
			size_t		 len;
		} bad_streams[] = {
			{ "5 bytes", "\0\0\0\1k", 5 },
			{ "a record cut short", "\0\0\0\1k\0\0\0\1v\0", 11 },
			{ "a key longer than the stream",
			    "\0\0\1\0kkkk\0\0\0\0\0\0\0\0", 16 },
			{ "a value longer than the stream",
			    "\0\0\0\1k\0\0\1\0vvvv\0\0\0\0", 17 },
			{ "a value length of 4 GB",
			    "\0\0\0\1k\xff\xff\xff\xff\0\0\0\0", 13 },
			{ "a bad CRC", "\0\0\0\1k\0\0\0\1vABCD", 14 },
		};
		size_t	 bi;

		for (bi = 0; bi < sizeof bad_streams / sizeof *bad_streams;
		    bi++) {
			rv = raftlog_install(rl2, b, 4, 10, 1, &conf, 0,
			    bad_streams[bi].bytes, bad_streams[bi].len, 0,
			    &cause);
			ok(rv == -1 && cause != NULL &&
			    strstr(cause, "does not decode") != NULL &&
			    raftlog_batch_empty(b), "a snapshot stream with %s "
			    "is refused, nothing written", bad_streams[bi].what);
			free(cause);
			cause = NULL;
		}
	}
	raftlog_close(rl2);

	/* Damage: an entry whose bytes changed is refused at load. */
	raftlog_batch_free(b);
	raftlog_close(rl);
	snprintf(path, sizeof path, "%s/a", dir);
	o = leveldb_options_create();
	wo = leveldb_writeoptions_create();
	db = leveldb_open(o, path, &cause);
	ok(db != NULL, "the database opens raw");
	{
		uint8_t	 k[13] = { 'R', '/', 0, 1, 'e', 0, 0, 0, 0, 0, 0,
			     0, 40 };
		leveldb_readoptions_t *ro = leveldb_readoptions_create();

		raw = leveldb_get(db, ro, (char *)k, sizeof k, &vlen, &cause);
		leveldb_readoptions_destroy(ro);
		ok(raw != NULL && vlen < sizeof bad, "entry 40 is there");
		memcpy(bad, raw, vlen);
		bad[10] ^= 0x20;
		leveldb_put(db, wo, (char *)k, sizeof k, (char *)bad, vlen,
		    &cause);
		leveldb_free(raw);
		ok(raftlog_record_ok((struct str){ k, sizeof k },
		    (struct str){ bad, vlen }) == false,
		    "store repair would drop it");
	}
	leveldb_close(db);
	rl = open_db("a");
	rv = raftlog_load(rl, 1, &st, &cause);
	ok(rv == -1 && strstr(cause, "log entry 40 is damaged (CRC "
	    "mismatch)") != NULL, "a damaged entry is refused: %s", cause);
	free(cause);
	cause = NULL;
	rv = raftlog_load(rl, 2, &st, &cause);
	ok(rv == 0 && st.n_entries == 5, "other groups still load");
	raftlog_state_release(&st);

	/* A gap in the log is refused too. */
	b = raftlog_batch_new();
	raftlog_del_entries(b, 2, 3, 3);
	write_sync(rl, b);
	rv = raftlog_load(rl, 2, &st, &cause);
	ok(rv == -1 && strstr(cause, "gap") != NULL,
	    "a log with a gap is refused: %s", cause);
	free(cause);
	raftlog_batch_free(b);
	raftlog_close(rl);
	leveldb_options_destroy(o);
	leveldb_writeoptions_destroy(wo);
	return (tap_done());
}
