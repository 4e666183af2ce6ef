/*
 * hmap.h: a chained hash map from byte-string keys to pointers.
 *
 * Keys are borrowed: the entry points at bytes the value owns (a session's
 * client id), so nothing is copied.  One owner thread; not thread-safe.
 */
#ifndef HMAP_H
#define HMAP_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct hmap_ent {
	struct hmap_ent	*next;
	uint32_t	 hash;
	struct str	 key;
	void		*val;
};

struct hmap {
	struct hmap_ent	**b;
	size_t		 nb;
	size_t		 n;
};

void	 hmap_init(struct hmap *);
void	 hmap_release(struct hmap *);
void	*hmap_get(const struct hmap *, struct str key);
/* Insert or replace; key must stay valid while present. */
void	 hmap_put(struct hmap *, struct str key, void *val);
void	*hmap_del(struct hmap *, struct str key);
/* Iterate: *i starts at 0, *e at NULL; returns the next entry or NULL. */
struct hmap_ent *hmap_next(const struct hmap *, size_t *i, struct hmap_ent *e);

#endif
