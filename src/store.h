/*
 * store.h: the node's LevelDB database, node.data_dir/store.
 *
 * One handle for the process, opened before the workers start and closed
 * after they stop; LevelDB itself is safe to call from any thread.  The key
 * layout and the record encodings are in docs/storage.md: "m/version"
 * holds STORE_VERSION, "r/TOPIC" the retained messages (retain.c).
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define STORE_VERSION	"1"

/* Called for each record of a scan; return -1 to stop it. */
typedef int	 store_scan_f(struct str key, struct str val, void *arg);
/* Whether a record decodes (store repair keeps only those). */
typedef bool	 store_check_f(struct str key, struct str val);

/* Open (creating it) and check the format version; on failure *cause says
 * what is wrong and what to do. */
int	 store_open(const char *data_dir, char **cause);
void	 store_close(void);
bool	 store_is_open(void);
int	 store_put(struct str key, struct str val, bool sync, char **cause);
int	 store_del(struct str key, bool sync, char **cause);
/* Every record whose key starts with prefix, in key order. */
int	 store_scan(struct str prefix, store_scan_f *, void *arg,
	    char **cause);
/*
 * Offline repair: LevelDB's repair, then every record check() rejects is
 * deleted.  Fills the counts; -1 with *cause if the store is in use or
 * cannot be repaired.
 */
int	 store_repair(const char *data_dir, store_check_f *check,
	    uint64_t *kept, uint64_t *dropped, char **cause);
/* The value of key into *val (caller frees val->p with free()); 1 if found,
 * 0 if not, -1 on a read error. */
int	 store_get(struct str key, struct str *val, char **cause);

/* Writes applied together, or not at all (a LevelDB write batch). */
struct store_batch;
struct store_batch *store_batch_new(void);
void	 store_batch_free(struct store_batch *);
void	 store_batch_put(struct store_batch *, struct str key, struct str val);
void	 store_batch_del(struct store_batch *, struct str key);
bool	 store_batch_empty(const struct store_batch *);
/* Write and empty the batch; with sync, fsync before returning. */
int	 store_batch_write(struct store_batch *, bool sync, char **cause);
/* Compact the key range [from, to) so that deleted records free disk. */
void	 store_compact(struct str from, struct str to);
/*
 * Close and open the database again (after a write error such as a full
 * disk leaves LevelDB refusing writes); calls from other threads wait.
 */
int	 store_reopen(char **cause);
/* False after a failed write, until store_reopen succeeds: every write is
 * refused meanwhile, since LevelDB would append to a damaged log. */
bool	 store_writable(void);

/* CRC-32 (IEEE) of n bytes, continuing from crc (0 to start). */
uint32_t store_crc32(uint32_t crc, const void *p, size_t n);

#endif
