/*
 * store.c: the node's LevelDB database (see store.h).
 *
 * Opening runs LevelDB with paranoid checks, so damaged files stop
 * start-up instead of losing data quietly; the messages name the cause and
 * the way out (flockmq store repair, or moving the directory away).  A
 * second process on the same directory fails on LevelDB's LOCK file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <leveldb/c.h>

#include "log.h"
#include "store.h"
#include "xmalloc.h"

static leveldb_t		*store_db;
static leveldb_options_t	*store_options;
static leveldb_readoptions_t	*store_ropts;
static leveldb_writeoptions_t	*store_wopts;
static leveldb_writeoptions_t	*store_wopts_sync;
static char			*store_path;
/* Held for reading around every use of store_db; store_reopen writes. */
static pthread_rwlock_t		 store_lock = PTHREAD_RWLOCK_INITIALIZER;

#define STORE_CLOSED	"the store is closed (it could not be opened again)"
#define STORE_BROKEN	"an earlier write failed; the store takes writes " \
			"again once it has been opened again"

/*
 * Set by a failed write, cleared by store_reopen.  LevelDB goes on
 * appending to a log file whose last record a failed write (a full disk)
 * cut short, and the next start-up finds a checksum mismatch there: no
 * write may follow a failed one on the same handle.
 */
static bool			 store_broken;	/* atomic */

/* Refuse writes after a failed one; see store_broken. */
static bool
store_write_refused(char **err)
{
	if (store_db == NULL) {
		*err = strdup(STORE_CLOSED);
		return (true);
	}
	if (__atomic_load_n(&store_broken, __ATOMIC_ACQUIRE)) {
		*err = strdup(STORE_BROKEN);
		return (true);
	}
	return (false);
}

/* Note a failed write. */
static void
store_write_failed(void)
{
	__atomic_store_n(&store_broken, true, __ATOMIC_RELEASE);
}

static pthread_once_t		 store_crc_once = PTHREAD_ONCE_INIT;
static uint32_t			 store_crc_table[256];

/* Fill the CRC-32 table (reflected polynomial 0xEDB88320). */
static void
store_crc_init(void)
{
	uint32_t	 c, i, k;

	for (i = 0; i < 256; i++) {
		c = i;
		for (k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		store_crc_table[i] = c;
	}
}

/* CRC-32; see store.h. */
uint32_t
store_crc32(uint32_t crc, const void *p, size_t n)
{
	const uint8_t	*s = p;

	pthread_once(&store_crc_once, store_crc_init);
	crc = ~crc;
	while (n-- > 0)
		crc = store_crc_table[(crc ^ *s++) & 0xff] ^ (crc >> 8);
	return (~crc);
}

/* True if LevelDB's error is its LOCK file being held. */
static bool
store_err_locked(const char *err)
{
	return (strstr(err, "/LOCK") != NULL || strstr(err, "lock ") != NULL);
}

/* The message for a store that another process holds. */
static void
store_cause_locked(char **cause, const char *data_dir, const char *err)
{
	xasprintf(cause, "store: node.data_dir '%s' is in use by another "
	    "flockmq (LevelDB: %s); stop that one, or give this node its own "
	    "node.data_dir", data_dir, err);
}

/* The message for a damaged store. */
static void
store_cause_damaged(char **cause, const char *path, const char *what)
{
	xasprintf(cause, "store: '%s' is damaged (%s); run 'flockmq store "
	    "repair' with the same configuration to keep what can be read, "
	    "or move the directory away to start empty", path, what);
}

/* Options shared by open and repair. */
static leveldb_options_t *
store_make_options(void)
{
	leveldb_options_t	*o;

	o = leveldb_options_create();
	leveldb_options_set_create_if_missing(o, 1);
	leveldb_options_set_paranoid_checks(o, 1);
	return (o);
}

/* True if the database has at least one record. */
static bool
store_has_records(void)
{
	leveldb_iterator_t	*it;
	bool			 any;

	it = leveldb_create_iterator(store_db, store_ropts);
	leveldb_iter_seek_to_first(it);
	any = leveldb_iter_valid(it) != 0;
	leveldb_iter_destroy(it);
	return (any);
}

/* Open and check the version; see store.h. */
int
store_open(const char *data_dir, char **cause)
{
	char	*err = NULL, *v;
	size_t	 vlen;

	xasprintf(&store_path, "%s/store", data_dir);
	store_options = store_make_options();
	store_ropts = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(store_ropts, 1);
	store_wopts = leveldb_writeoptions_create();
	store_wopts_sync = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(store_wopts_sync, 1);
	store_db = leveldb_open(store_options, store_path, &err);
	if (store_db == NULL) {
		if (store_err_locked(err))
			store_cause_locked(cause, data_dir, err);
		else
			store_cause_damaged(cause, store_path, err);
		goto fail;
	}
	v = leveldb_get(store_db, store_ropts, "m/version", 9, &vlen, &err);
	if (err != NULL) {
		store_cause_damaged(cause, store_path, err);
		goto fail;
	}
	if (v == NULL) {
		if (store_has_records()) {
			store_cause_damaged(cause, store_path,
			    "records but no format version");
			goto fail;
		}
		leveldb_put(store_db, store_wopts_sync, "m/version", 9,
		    STORE_VERSION, strlen(STORE_VERSION), &err);
		if (err != NULL) {
			xasprintf(cause, "store: cannot write to '%s': %s",
			    store_path, err);
			goto fail;
		}
		log_info("store: created '%s', format version %s", store_path,
		    STORE_VERSION);
	} else if (vlen != strlen(STORE_VERSION) ||
	    memcmp(v, STORE_VERSION, vlen) != 0) {
		xasprintf(cause, "store: '%s' has format version '%.*s' and "
		    "this flockmq reads format version %s; run the flockmq "
		    "that wrote it, or move the directory away to start empty",
		    store_path, (int)(vlen > 32 ? 32 : vlen), v,
		    STORE_VERSION);
		leveldb_free(v);
		goto fail;
	} else
		leveldb_free(v);
	log_info("store: opened '%s'", store_path);
	return (0);

fail:
	if (err != NULL)
		leveldb_free(err);
	store_close();
	return (-1);
}

/* Close the database. */
void
store_close(void)
{
	if (store_db != NULL)
		leveldb_close(store_db);
	store_db = NULL;
	if (store_options != NULL)
		leveldb_options_destroy(store_options);
	if (store_ropts != NULL)
		leveldb_readoptions_destroy(store_ropts);
	if (store_wopts != NULL)
		leveldb_writeoptions_destroy(store_wopts);
	if (store_wopts_sync != NULL)
		leveldb_writeoptions_destroy(store_wopts_sync);
	store_options = NULL;
	store_ropts = NULL;
	store_wopts = store_wopts_sync = NULL;
	free(store_path);
	store_path = NULL;
}

/* True once store_open succeeded. */
bool
store_is_open(void)
{
	return (store_db != NULL);
}

/* Put (val != NULL) or delete one record. */
static int
store_write_one(struct str key, const struct str *val, bool sync,
    char **cause)
{
	leveldb_writeoptions_t	*wo;
	char			*err = NULL;

	pthread_rwlock_rdlock(&store_lock);
	if (!store_write_refused(&err)) {
		wo = sync ? store_wopts_sync : store_wopts;
		if (val != NULL)
			leveldb_put(store_db, wo, (const char *)key.p, key.len,
			    (const char *)val->p, val->len, &err);
		else
			leveldb_delete(store_db, wo, (const char *)key.p,
			    key.len, &err);
		if (err != NULL)
			store_write_failed();
	}
	pthread_rwlock_unlock(&store_lock);
	if (err != NULL) {
		xasprintf(cause, "%s", err);
		leveldb_free(err);
		return (-1);
	}
	return (0);
}

/* Write one record. */
int
store_put(struct str key, struct str val, bool sync, char **cause)
{
	return (store_write_one(key, &val, sync, cause));
}

/* Delete one record. */
int
store_del(struct str key, bool sync, char **cause)
{
	return (store_write_one(key, NULL, sync, cause));
}

/* Scan a prefix of db; a read error is reported as damage. */
static int
store_scan_db(leveldb_t *db, const char *path, struct str prefix,
    store_scan_f *fn, void *arg, char **cause)
{
	leveldb_readoptions_t	*ro;
	leveldb_iterator_t	*it;
	const char		*k, *v;
	char			*err = NULL;
	size_t			 klen, vlen;
	int			 rv = 0;

	ro = leveldb_readoptions_create();
	leveldb_readoptions_set_verify_checksums(ro, 1);
	leveldb_readoptions_set_fill_cache(ro, 0);
	it = leveldb_create_iterator(db, ro);
	leveldb_iter_seek(it, (const char *)prefix.p, prefix.len);
	for (; leveldb_iter_valid(it); leveldb_iter_next(it)) {
		k = leveldb_iter_key(it, &klen);
		if (klen < prefix.len || memcmp(k, prefix.p, prefix.len) != 0)
			break;
		v = leveldb_iter_value(it, &vlen);
		if (fn((struct str){ (const uint8_t *)k, klen },
		    (struct str){ (const uint8_t *)v, vlen }, arg) != 0) {
			rv = -1;
			break;
		}
	}
	leveldb_iter_get_error(it, &err);
	if (err != NULL) {
		store_cause_damaged(cause, path, err);
		leveldb_free(err);
		rv = -1;
	}
	leveldb_iter_destroy(it);
	leveldb_readoptions_destroy(ro);
	return (rv);
}

/* Scan; see store.h. */
int
store_scan(struct str prefix, store_scan_f *fn, void *arg, char **cause)
{
	int	 rv;

	pthread_rwlock_rdlock(&store_lock);
	if (store_db == NULL) {
		xasprintf(cause, "%s", STORE_CLOSED);
		rv = -1;
	} else
		rv = store_scan_db(store_db, store_path, prefix, fn, arg,
		    cause);
	pthread_rwlock_unlock(&store_lock);
	return (rv);
}

/* Read one record; see store.h. */
int
store_get(struct str key, struct str *val, char **cause)
{
	char	*err = NULL, *v = NULL;
	size_t	 vlen = 0;

	pthread_rwlock_rdlock(&store_lock);
	if (store_db == NULL)
		err = strdup(STORE_CLOSED);
	else
		v = leveldb_get(store_db, store_ropts, (const char *)key.p,
		    key.len, &vlen, &err);
	pthread_rwlock_unlock(&store_lock);
	if (err != NULL) {
		xasprintf(cause, "%s", err);
		leveldb_free(err);
		return (-1);
	}
	if (v == NULL)
		return (0);
	val->p = xmemdup(v, vlen == 0 ? 1 : vlen);
	val->len = vlen;
	leveldb_free(v);
	return (1);
}

struct store_batch {
	leveldb_writebatch_t	*wb;
	size_t			 n;
};

/* A new empty batch. */
struct store_batch *
store_batch_new(void)
{
	struct store_batch	*b;

	b = xcalloc(1, sizeof *b);
	b->wb = leveldb_writebatch_create();
	return (b);
}

/* Free a batch without writing it. */
void
store_batch_free(struct store_batch *b)
{
	if (b == NULL)
		return;
	leveldb_writebatch_destroy(b->wb);
	free(b);
}

/* Add a put. */
void
store_batch_put(struct store_batch *b, struct str key, struct str val)
{
	leveldb_writebatch_put(b->wb, (const char *)key.p, key.len,
	    (const char *)val.p, val.len);
	b->n++;
}

/* Add a delete. */
void
store_batch_del(struct store_batch *b, struct str key)
{
	leveldb_writebatch_delete(b->wb, (const char *)key.p, key.len);
	b->n++;
}

/* True if nothing was added since the last write. */
bool
store_batch_empty(const struct store_batch *b)
{
	return (b->n == 0);
}

/* Write a batch; see store.h. */
int
store_batch_write(struct store_batch *b, bool sync, char **cause)
{
	char	*err = NULL;

	pthread_rwlock_rdlock(&store_lock);
	if (!store_write_refused(&err)) {
		leveldb_write(store_db, sync ? store_wopts_sync : store_wopts,
		    b->wb, &err);
		if (err != NULL)
			store_write_failed();
	}
	pthread_rwlock_unlock(&store_lock);
	leveldb_writebatch_clear(b->wb);
	b->n = 0;
	if (err != NULL) {
		xasprintf(cause, "%s", err);
		leveldb_free(err);
		return (-1);
	}
	return (0);
}

/* Compact a key range; see store.h. */
void
store_compact(struct str from, struct str to)
{
	pthread_rwlock_rdlock(&store_lock);
	if (store_db != NULL)
		leveldb_compact_range(store_db, (const char *)from.p, from.len,
		    (const char *)to.p, to.len);
	pthread_rwlock_unlock(&store_lock);
}

/* Reopen; see store.h. */
int
store_reopen(char **cause)
{
	char	*err = NULL;
	int	 rv = 0;

	pthread_rwlock_wrlock(&store_lock);
	if (store_db != NULL)
		leveldb_close(store_db);
	store_db = leveldb_open(store_options, store_path, &err);
	if (store_db == NULL) {
		xasprintf(cause, "cannot open '%s' again: %s", store_path,
		    err != NULL ? err : "unknown error");
		rv = -1;
	} else
		__atomic_store_n(&store_broken, false, __ATOMIC_RELEASE);
	if (err != NULL)
		leveldb_free(err);
	pthread_rwlock_unlock(&store_lock);
	return (rv);
}

/* True unless a write failed since the store was (re)opened. */
bool
store_writable(void)
{
	return (store_db != NULL &&
	    !__atomic_load_n(&store_broken, __ATOMIC_ACQUIRE));
}

struct store_repair_state {
	leveldb_t		*db;
	leveldb_writeoptions_t	*wo;
	store_check_f		*check;
	uint64_t		 kept, dropped;
	char			*err;
};

/* Keep a record that checks, delete one that does not. */
static int
store_repair_cb(struct str key, struct str val, void *arg)
{
	struct store_repair_state	*rs = arg;

	if (rs->check(key, val)) {
		/* Count what the node stores, not the version record. */
		if (key.len < 2 || memcmp(key.p, "m/", 2) != 0)
			rs->kept++;
		return (0);
	}
	leveldb_delete(rs->db, rs->wo, (const char *)key.p, key.len,
	    &rs->err);
	if (rs->err != NULL)
		return (-1);
	rs->dropped++;
	return (0);
}

/* Read options without checksum checks, made once. */
static leveldb_readoptions_t *
store_ropts_plain(void)
{
	static leveldb_readoptions_t	*ro;

	if (ro == NULL)
		ro = leveldb_readoptions_create();
	return (ro);
}

/* True if another process holds the store's LevelDB lock. */
static bool
store_lock_held(const char *path)
{
	struct flock	 fl;
	char		*lock;
	int		 fd;
	bool		 held = false;

	xasprintf(&lock, "%s/LOCK", path);
	if ((fd = open(lock, O_RDWR)) != -1) {
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
			held = true;
		close(fd);
	}
	free(lock);
	return (held);
}

/* Repair; see store.h. */
int
store_repair(const char *data_dir, store_check_f *check, uint64_t *kept,
    uint64_t *dropped, char **cause)
{
	struct store_repair_state	 rs;
	leveldb_options_t		*o;
	char				*path, *err = NULL, *v;
	size_t				 vlen;
	int				 rv = -1;

	memset(&rs, 0, sizeof rs);
	xasprintf(&path, "%s/store", data_dir);
	o = store_make_options();
	if (store_lock_held(path)) {
		store_cause_locked(cause, data_dir, "LOCK held");
		goto out;
	}
	leveldb_repair_db(o, path, &err);
	if (err != NULL) {
		if (store_err_locked(err))
			store_cause_locked(cause, data_dir, err);
		else
			xasprintf(cause, "store: cannot repair '%s': %s",
			    path, err);
		goto out;
	}
	if ((rs.db = leveldb_open(o, path, &err)) == NULL) {
		if (store_err_locked(err))
			store_cause_locked(cause, data_dir, err);
		else
			xasprintf(cause, "store: '%s' still does not open "
			    "after repair: %s; move it away to start empty",
			    path, err);
		goto out;
	}
	v = leveldb_get(rs.db, store_ropts_plain(), "m/version", 9, &vlen,
	    &err);
	if (err == NULL && v != NULL && (vlen != strlen(STORE_VERSION) ||
	    memcmp(v, STORE_VERSION, vlen) != 0)) {
		xasprintf(cause, "store: '%s' has format version '%.*s'; this "
		    "flockmq repairs format version %s only", path,
		    (int)(vlen > 32 ? 32 : vlen), v, STORE_VERSION);
		leveldb_free(v);
		goto out;
	}
	if (v != NULL)
		leveldb_free(v);
	if (err != NULL) {
		leveldb_free(err);
		err = NULL;
	}
	rs.wo = leveldb_writeoptions_create();
	leveldb_writeoptions_set_sync(rs.wo, 1);
	rs.check = check;
	if (store_scan_db(rs.db, path, (struct str){ (const uint8_t *)"", 0 },
	    store_repair_cb, &rs, cause) != 0) {
		if (rs.err != NULL && *cause == NULL)
			xasprintf(cause, "store: cannot delete a damaged "
			    "record in '%s': %s", path, rs.err);
		goto out;
	}
	/* A store whose version record was lost is still version 1. */
	leveldb_put(rs.db, rs.wo, "m/version", 9, STORE_VERSION,
	    strlen(STORE_VERSION), &err);
	if (err != NULL) {
		xasprintf(cause, "store: cannot write to '%s': %s", path, err);
		goto out;
	}
	*kept = rs.kept;
	*dropped = rs.dropped;
	rv = 0;
out:
	if (err != NULL)
		leveldb_free(err);
	if (rs.err != NULL)
		leveldb_free(rs.err);
	if (rs.wo != NULL)
		leveldb_writeoptions_destroy(rs.wo);
	if (rs.db != NULL)
		leveldb_close(rs.db);
	leveldb_options_destroy(o);
	free(path);
	return (rv);
}
