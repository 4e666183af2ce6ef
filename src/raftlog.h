/*
 * raftlog.h: the Raft log, hard state, snapshots and state machines of
 * many groups in one LevelDB database.
 *
 * Keys (docs/storage.md; G is the group, 2 bytes big-endian; every value
 * ends with a CRC-32 of its key and of the value before it, checked on
 * every read: a damaged record is refused with a log line, never served):
 *
 *   R/ G h		hard state: term, vote, commit
 *   R/ G e INDEX(8)	one log entry: term, type, data
 *   R/ G s		snapshot meta: index, term, configuration
 *   R/ G t OFFSET(8)	a staged chunk of a snapshot being received
 *   G/ G a		the state machine's applied index
 *   G/ G d KEY		the state machine's records (raftlog_sm_put)
 *
 * ("r/" and "d/" already hold retained and durable messages.)  Applying
 * an entry writes its effects and G/G/a in one batch, so replay after a
 * crash is idempotent.  Compaction deletes entries up to an index and
 * writes the snapshot meta in one batch; a snapshot is the group's "G/ G
 * d" records read through a LevelDB snapshot, streamed as records
 * (raftlog_view) and installed in one batch (raftlog_install).
 *
 * Threads: a struct raftlog may be used from any thread (LevelDB is);
 * a batch or a view has one owner at a time.
 */
#ifndef RAFTLOG_H
#define RAFTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "raft.h"

struct raftlog;
struct raftlog_batch;
struct raftlog_view;

/* A group as read back from the store (raftlog_load). */
struct raftlog_state {
	bool			 found;		/* any record */
	struct raft_hard_state	 hs;
	raft_index		 snap_index;	/* 0: none */
	raft_term		 snap_term;
	struct raft_conf	 snap_conf;
	raft_index		 applied;
	struct raft_entry	*entries;	/* snap_index + 1 ... */
	size_t			 n_entries;
	uint8_t			*arena;		/* entries' data */
	uint64_t		 staged;	/* staged snapshot chunks */
};

struct raftlog_stats {
	uint64_t	 writes;	/* leveldb_write calls */
	uint64_t	 syncs;		/* of them with sync (an fsync) */
	uint64_t	 bytes;		/* batch bytes written */
	uint64_t	 write_us;	/* time in leveldb_write */
};

/* Called for each state machine record of a scan; -1 stops it. */
typedef int	 raftlog_scan_f(struct str key, struct str val, void *arg);

/* Open (creating it) the database in directory path. */
struct raftlog	*raftlog_open(const char *path, char **cause);
void		 raftlog_close(struct raftlog *);
void		 raftlog_stats(struct raftlog *, struct raftlog_stats *);

struct raftlog_batch *raftlog_batch_new(void);
void		 raftlog_batch_free(struct raftlog_batch *);
void		 raftlog_batch_clear(struct raftlog_batch *);
bool		 raftlog_batch_empty(const struct raftlog_batch *);
size_t		 raftlog_batch_bytes(const struct raftlog_batch *);
/* Add src's writes after dst's (group commit). */
void		 raftlog_batch_append(struct raftlog_batch *,
		     const struct raftlog_batch *);
/* Write and clear the batch, fsynced if sync; -1 with *cause. */
int		 raftlog_write(struct raftlog *, struct raftlog_batch *,
		     bool sync, char **cause);

void		 raftlog_put_hs(struct raftlog_batch *, uint16_t,
		     const struct raft_hard_state *);
void		 raftlog_put_entry(struct raftlog_batch *, uint16_t,
		     const struct raft_entry *);
/* Delete the entries from .. to (inclusive). */
void		 raftlog_del_entries(struct raftlog_batch *, uint16_t,
		     raft_index from, raft_index to);
void		 raftlog_put_snap(struct raftlog_batch *, uint16_t,
		     raft_index, raft_term, const struct raft_conf *);
void		 raftlog_put_applied(struct raftlog_batch *, uint16_t,
		     raft_index);
void		 raftlog_stage(struct raftlog_batch *, uint16_t,
		     uint64_t offset, const void *, size_t);

void		 raftlog_unstage_one(struct raftlog_batch *, uint16_t,
		     uint64_t offset);

/* The state machine's records: keys are the machine's own. */
void		 raftlog_sm_put(struct raftlog_batch *, uint16_t,
		     struct str, struct str);
void		 raftlog_sm_del(struct raftlog_batch *, uint16_t,
		     struct str);
/* 1 and *val (free() it) if found, 0 if not, -1 if unreadable. */
int		 raftlog_sm_get(struct raftlog *, uint16_t, struct str,
		     struct str *, char **cause);
/* Every record whose key starts with prefix, in key order. */
int		 raftlog_sm_scan(struct raftlog *, uint16_t, struct str,
		     raftlog_scan_f *, void *, char **cause);

/*
 * Read a group back for raft_restore(): -1 with *cause (naming the group,
 * the record and the damage) if a record does not decode or the log does
 * not hang together.  Release with raftlog_state_release().
 */
int		 raftlog_load(struct raftlog *, uint16_t,
		     struct raftlog_state *, char **cause);
void		 raftlog_state_release(struct raftlog_state *);
/* Add the deletes of every staged chunk of the group to the batch. */
int		 raftlog_unstage(struct raftlog *, struct raftlog_batch *,
		     uint16_t, char **cause);
/* The term of the stored entry at index into *term: 1 found, 0 not, -1. */
int		 raftlog_entry_term(struct raftlog *, uint16_t, raft_index,
		     raft_term *, char **cause);

/*
 * Install a received snapshot: the staged chunks plus the last one given
 * here are decoded and checked, and the batch gets the deletes of the
 * group's state machine records, staged chunks and log entries through
 * drop_to (all of them if drop_to is 0), the snapshot's records, the
 * applied index and the snapshot meta.  -1 with *cause if the chunks do
 * not make a whole snapshot.
 */
int		 raftlog_install(struct raftlog *, struct raftlog_batch *,
		     uint16_t, raft_index, raft_term, const struct raft_conf *,
		     uint64_t last_offset, const void *, size_t,
		     raft_index drop_to, char **cause);

/* A point-in-time view of a group's state machine, for a snapshot. */
struct raftlog_view *raftlog_view_new(struct raftlog *, uint16_t,
		     char **cause);
/* The applied index the view shows. */
raft_index	 raftlog_view_index(const struct raftlog_view *);
/* Up to max bytes of the stream from offset into out; *last at the end. */
int		 raftlog_view_read(struct raftlog_view *, uint64_t offset,
		     size_t max, struct buf *out, bool *last, char **cause);
void		 raftlog_view_free(struct raftlog_view *);

/* Whether a record with an R/ or G/ key decodes (store repair). */
bool		 raftlog_record_ok(struct str key, struct str val);

#endif /* RAFTLOG_H */
