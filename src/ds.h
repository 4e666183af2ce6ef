/*
 * ds.h: durable storage (durable_storage.messages.*) and durable sessions.
 *
 * The interface the storage backends share, with its first backend,
 * builtin_local (LevelDB in the node's store, this node only); the Raft
 * backend will sit behind the same calls:
 *
 * - Messages live in shards (durable_storage.messages.n_shards, picked by
 *   the publisher's client id so one publisher's messages keep their
 *   order), each a stream of records keyed by a 64-bit position.
 * - Writes are batched: each worker collects its writes for one loop turn
 *   into a batch; the storage thread commits every batch waiting from all
 *   workers with one write and, when anybody waits for it, one fsync
 *   (group commit; at most durable_sessions.batch_size messages a round,
 *   after at most durable_storage.messages.flush_interval of waiting).
 * - Session state is keyed records: the session ("s/CLIENTID": expiry,
 *   subscriptions, QoS 2 receipts, will) and one queue entry per message
 *   it has not finished ("q/CLIENTID\0POS": shard, qos, state, packet id).
 *
 * A session is durable when it is created by a CONNECT with a Session
 * Expiry Interval above 0 (3.1.1: clean_session 0) and
 * durable_sessions.enable is set.  Its non-shared subscriptions are also
 * in the durable index, which the publisher's worker reads on every
 * publish (read-write lock, skipped while empty): a message that matches
 * is written with a queue entry for each matching durable session before
 * it is routed, and the publisher's acknowledgement waits for the commit.
 * "Waits" means that the connection's output is held: bytes written to it
 * after the hold stay in its buffer until the batch that holds them is on
 * disk (or, when the write fails, the connection is closed with reason
 * 0x97 instead of sending them).  Everything a client must not learn
 * before it is durable is written after such a hold: PUBACK/PUBREC for a
 * stored message, SUBACK/UNSUBACK, PUBREC and PUBCOMP of a durable
 * publisher's QoS 2 flow, and a durable subscriber's QoS 2 PUBLISH and
 * PUBREL (their packet ids must survive a crash for exactly-once).
 *
 * Threads: the index has its own lock; batches and everything else are
 * owned by one worker until submitted, then by the storage thread until
 * they come back to their worker's inbox.
 */
#ifndef DS_H
#define DS_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "loop.h"

struct conn;
struct msg;
struct qitem;
struct session;
struct sub;
struct worker;

/* Load durable sessions and start the storage thread (after store_open,
 * before the workers start); -1 with *cause when the store is damaged. */
int	 ds_init(char **cause);
/* Recreate the loaded sessions on their workers (workers running). */
void	 ds_restore(void);
/* The workers have stopped: commit what they left, stop the thread. */
void	 ds_shutdown(void);
/* True if durable sessions are on. */
bool	 ds_enabled(void);
/* Whether a "s/", "q/", "d/" or "m/" record decodes (store repair). */
bool	 ds_record_ok(struct str key, struct str val);

/* A message is about to be routed: store it if durable sessions want it
 * (sets m->ds).  The caller holds the publisher's acknowledgement. */
void	 ds_publish(struct worker *, struct msg *);
/* A durable session changed: its record is written this turn; with hold,
 * its connection's output waits for the write. */
void	 ds_session_dirty(struct session *, bool hold);
/* A durable session ended: delete it and its queue. */
void	 ds_session_del(struct session *);
/* A session's item changed state (sent, PUBREC): write its entry. */
void	 ds_item_put(struct session *, const struct qitem *, bool hold);
/* A session is done with an item (acknowledged, dropped): delete its
 * entry and clear qi->ds_id. */
void	 ds_item_del(struct session *, struct qitem *);
/* Whether the session has a queue entry for m (see msg_ds). */
bool	 ds_has_entry(const struct session *, const struct msg *);
/* Durable index. */
void	 ds_sub_add(struct session *, const struct sub *);
void	 ds_sub_del(struct session *, const struct sub *);
/* Hold c's output until this turn's batch is committed. */
void	 ds_hold(struct conn *);
/* The conn is being freed: forget its hold. */
void	 ds_conn_free(struct conn *);
/* Write dirty sessions and submit this turn's batch. */
void	 ds_before_sleep(struct worker *);
/* A batch came back from the storage thread. */
void	 ds_done_in(struct worker *, struct inbox_item *);
void	 ds_worker_release(struct worker *);

#endif
