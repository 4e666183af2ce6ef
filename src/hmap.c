/*
 * hmap.c: chained hash map with borrowed keys (see hmap.h).
 */
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "msg.h"
#include "xmalloc.h"

/* Make an empty map; it allocates on first insert. */
void
hmap_init(struct hmap *m)
{
	m->b = NULL;
	m->nb = m->n = 0;
}

/* Free the map's entries (not the values). */
void
hmap_release(struct hmap *m)
{
	struct hmap_ent	*e, *next;
	size_t		 i;

	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(m->b);
	hmap_init(m);
}

/* Double the bucket array. */
static void
hmap_grow(struct hmap *m)
{
	struct hmap_ent	**nb, *e, *next;
	size_t		 n, i;

	n = m->nb == 0 ? 16 : m->nb * 2;
	nb = xcalloc(n, sizeof *nb);
	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
		}
	}
	free(m->b);
	m->b = nb;
	m->nb = n;
}

/* Find the entry for key. */
static struct hmap_ent **
hmap_find(const struct hmap *m, struct str key, uint32_t h)
{
	struct hmap_ent	**ep;

	if (m->nb == 0)
		return (NULL);
	for (ep = &m->b[h & (m->nb - 1)]; *ep != NULL; ep = &(*ep)->next) {
		if ((*ep)->hash == h && str_eq((*ep)->key, key))
			return (ep);
	}
	return (NULL);
}

/* Value for key, or NULL. */
void *
hmap_get(const struct hmap *m, struct str key)
{
	struct hmap_ent	**ep;

	ep = hmap_find(m, key, hash_bytes(key.p, key.len));
	return (ep == NULL ? NULL : (*ep)->val);
}

/* Insert or replace key. */
void
hmap_put(struct hmap *m, struct str key, void *val)
{
	struct hmap_ent	**ep, *e;
	uint32_t	 h;

	h = hash_bytes(key.p, key.len);
	if ((ep = hmap_find(m, key, h)) != NULL) {
		(*ep)->key = key;
		(*ep)->val = val;
		return;
	}
	if (m->n >= m->nb)
		hmap_grow(m);
	e = xmalloc(sizeof *e);
	e->hash = h;
	e->key = key;
	e->val = val;
	e->next = m->b[h & (m->nb - 1)];
	m->b[h & (m->nb - 1)] = e;
	m->n++;
}

/* Remove key; returns its value or NULL. */
void *
hmap_del(struct hmap *m, struct str key)
{
	struct hmap_ent	**ep, *e;
	void		*val;

	if ((ep = hmap_find(m, key, hash_bytes(key.p, key.len))) == NULL)
		return (NULL);
	e = *ep;
	*ep = e->next;
	val = e->val;
	free(e);
	m->n--;
	return (val);
}

/* Iterate over entries. */
struct hmap_ent *
hmap_next(const struct hmap *m, size_t *i, struct hmap_ent *e)
{
	if (e != NULL && e->next != NULL)
		return (e->next);
	if (e != NULL)
		(*i)++;
	for (; *i < m->nb; (*i)++) {
		if (m->b[*i] != NULL)
			return (m->b[*i]);
	}
	return (NULL);
}
