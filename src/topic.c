/*
 * topic.c: topic name and filter validation, matching, and the topic trie.
 *
 * A trie node is one topic level.  Its exact children live in kids: none,
 * one inline pointer, or (two or more) an open-addressed table with linear
 * probing, hashed with SipHash-1-3 under a per-trie random key so that
 * clients cannot aim collisions at a node.  The '+' and '#' children sit in
 * their own pointers and are never hashed or stored in kids.
 *
 * A node stores its bytes inline after the header: the full key when the
 * node is a slot (topic_trie_slot was called for it) or sits at depth one
 * (where key and level name are the same bytes), otherwise only its level
 * name.  The level name is always the last namelen of those bytes.  A slot
 * node whose value is removed but which keeps children shrinks back to its
 * name.
 *
 * Invariants: the root has no name and never a value; no node other than
 * the root is both valueless and childless once topic_trie_remove returns
 * (a slot left NULL by its caller stays until removed); kids never holds a
 * node named "+" or "#"; nkids == 1 means kids.one, nkids >= 2 means
 * kids.tab with at most 3/4 of its slots used.
 *
 * Matching recurses only into '+' branches (exact children are followed
 * in a loop) and allocates nothing.  Walks, topic_trie_match_filter and
 * topic_trie_free recurse once per level of the deepest key: callers bound
 * keys with mqtt.max_topic_levels.
 *
 * A trie has one owner thread; nothing here is thread-safe.  Callbacks must
 * not change the trie they are called from.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "buf.h"
#include "topic.h"
#include "xmalloc.h"

#define TOPIC_TAB_MIN	4

struct topic_node;

struct topic_tab {
	uint32_t		 cap;		/* power of two */
	struct topic_node	*slot[];
};

struct topic_node {
	void			*value;
	struct topic_node	*plus;		/* the '+' child */
	struct topic_node	*hash;		/* the '#' child */
	union {
		struct topic_node	*one;	/* nkids == 1 */
		struct topic_tab	*tab;	/* nkids >= 2 */
	}			 kids;
	uint32_t		 nkids;		/* exact children */
	uint32_t		 hv;		/* hash of the level name */
	uint32_t		 namelen;
	uint32_t		 len;		/* bytes stored */
	uint8_t			 bytes[];	/* key or name; name last */
};

struct topic_trie {
	struct topic_node	*root;
	uint64_t		 k0, k1;	/* SipHash key */
	size_t			 mem;		/* bytes of nodes and tables */
};

/* Where a level ends: the next '/' at or after p, or end. */
static const uint8_t *
level_end(const uint8_t *p, const uint8_t *end)
{
	const uint8_t	*q;

	if (p == end)
		return (end);
	q = memchr(p, '/', end - p);
	return (q == NULL ? end : q);
}

/* True if [p, p + len) is the single byte c. */
static inline bool
level_is(const uint8_t *p, size_t len, uint8_t c)
{
	return (len == 1 && p[0] == c);
}

/* Number of levels ("a/b" is 2, "" is 1). */
unsigned
topic_levels(struct str s)
{
	const uint8_t	*p, *end;
	unsigned	 n;

	n = 1;
	if (s.len == 0)
		return (n);
	end = s.p + s.len;
	for (p = s.p; (p = memchr(p, '/', end - p)) != NULL; p++)
		n++;
	return (n);
}

/* True if the filter has '+' or '#'. */
bool
topic_has_wildcard(struct str s)
{
	size_t	 i;

	for (i = 0; i < s.len; i++) {
		if (s.p[i] == '+' || s.p[i] == '#')
			return (true);
	}
	return (false);
}

/*
 * Valid PUBLISH topic name (MQTT-4.7.1-1, MQTT-4.7.3-1, MQTT-4.7.3-2): at
 * least one byte, no wildcard, no NUL.  UTF-8 is the codec's job.
 */
bool
topic_valid_name(struct str s, unsigned max_levels)
{
	unsigned	 levels;
	size_t		 i;

	if (s.len == 0)
		return (false);
	levels = 1;
	for (i = 0; i < s.len; i++) {
		switch (s.p[i]) {
		case '/':
			levels++;
			break;
		case '+':
		case '#':
		case '\0':
			return (false);
		}
	}
	return (max_levels == 0 || levels <= max_levels);
}

/*
 * Valid topic filter (MQTT-4.7.1-2, MQTT-4.7.1-3, MQTT-4.7.3-1,
 * MQTT-4.7.3-2): '#' alone in the last level, '+' alone in its level.
 */
bool
topic_valid_filter(struct str s, unsigned max_levels)
{
	unsigned	 levels;
	size_t		 i;

	if (s.len == 0)
		return (false);
	levels = 1;
	for (i = 0; i < s.len; i++) {
		switch (s.p[i]) {
		case '/':
			levels++;
			break;
		case '#':
			if (i + 1 != s.len)
				return (false);
			/* FALLTHROUGH */
		case '+':
			if (i != 0 && s.p[i - 1] != '/')
				return (false);
			if (i + 1 != s.len && s.p[i + 1] != '/')
				return (false);
			break;
		case '\0':
			return (false);
		}
	}
	return (max_levels == 0 || levels <= max_levels);
}

/*
 * Split "$share/{ShareName}/{filter}" (MQTT 5 section 4.8.2): the share
 * name is one or more bytes without '/', '+' or '#' (MQTT-4.8.2-1,
 * MQTT-4.8.2-2), the filter a valid non-empty filter.
 */
int
topic_parse_share(struct str s, struct str *group, struct str *filter)
{
	static const char	 prefix[] = "$share/";
	const size_t		 plen = sizeof(prefix) - 1;
	const uint8_t		*p, *end, *q;

	if (s.len < plen || memcmp(s.p, prefix, plen) != 0)
		return (0);
	p = s.p + plen;
	end = s.p + s.len;
	q = level_end(p, end);
	if (q == p || q == end)
		return (-1);
	if (memchr(p, '+', q - p) != NULL || memchr(p, '#', q - p) != NULL)
		return (-1);
	group->p = p;
	group->len = q - p;
	filter->p = q + 1;
	filter->len = end - (q + 1);
	if (!topic_valid_filter(*filter, 0))
		return (-1);
	return (1);
}

/*
 * True if topic matches filter.  '+' matches one level, '#' any number
 * including none ("sport/#" matches "sport"), and a filter starting with a
 * wildcard never matches a topic starting with '$' (MQTT-4.7.2-1).
 */
bool
topic_match(struct str filter, struct str topic)
{
	const uint8_t	*f, *fend, *fq, *t, *tend, *tq;

	if (filter.len == 0 || topic.len == 0)
		return (false);
	if (topic.p[0] == '$' && (filter.p[0] == '+' || filter.p[0] == '#'))
		return (false);
	f = filter.p;
	fend = f + filter.len;
	t = topic.p;
	tend = t + topic.len;
	for (;;) {
		fq = level_end(f, fend);
		if (level_is(f, fq - f, '#'))
			return (true);
		tq = level_end(t, tend);
		if (!level_is(f, fq - f, '+') &&
		    (fq - f != tq - t || memcmp(f, t, fq - f) != 0))
			return (false);
		if (fq == fend)
			return (tq == tend);
		f = fq + 1;
		if (tq == tend)
			return (level_is(f, fend - f, '#'));
		t = tq + 1;
	}
}

#define SIP_ROTL(x, b)	(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND do {							\
	v0 += v1; v1 = SIP_ROTL(v1, 13); v1 ^= v0;			\
	v0 = SIP_ROTL(v0, 32);						\
	v2 += v3; v3 = SIP_ROTL(v3, 16); v3 ^= v2;			\
	v0 += v3; v3 = SIP_ROTL(v3, 21); v3 ^= v0;			\
	v2 += v1; v1 = SIP_ROTL(v1, 17); v1 ^= v2;			\
	v2 = SIP_ROTL(v2, 32);						\
} while (0)

/* SipHash-1-3 of a level name under the trie's key, folded to 32 bits. */
static uint32_t
trie_hash(const struct topic_trie *t, const uint8_t *p, size_t len)
{
	uint64_t	 v0, v1, v2, v3, m, b;
	size_t		 i, tail;

	v0 = 0x736f6d6570736575ULL ^ t->k0;
	v1 = 0x646f72616e646f6dULL ^ t->k1;
	v2 = 0x6c7967656e657261ULL ^ t->k0;
	v3 = 0x7465646279746573ULL ^ t->k1;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&m, p + i, sizeof m);
		v3 ^= m;
		SIP_ROUND;
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	for (tail = 0; i + tail < len; tail++)
		b |= (uint64_t)p[i + tail] << (8 * tail);
	v3 ^= b;
	SIP_ROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIP_ROUND;
	SIP_ROUND;
	SIP_ROUND;
	m = v0 ^ v1 ^ v2 ^ v3;
	return ((uint32_t)(m ^ (m >> 32)));
}

/* The level name of a node. */
static inline const uint8_t *
node_name(const struct topic_node *n)
{
	return (n->bytes + n->len - n->namelen);
}

/* The key of a slot node. */
static inline struct str
node_key(const struct topic_node *n)
{
	return ((struct str){ n->bytes, n->len });
}

/* True if the node is named [p, p + len). */
static inline bool
node_named(const struct topic_node *n, const uint8_t *p, size_t len)
{
	return (n->namelen == len &&
	    (len == 0 || memcmp(node_name(n), p, len) == 0));
}

/* Children of any kind: exact, '+' and '#'. */
static inline size_t
node_children(const struct topic_node *n)
{
	return (n->nkids + (n->plus != NULL) + (n->hash != NULL));
}

/* Make a node named by the last namelen of the len bytes at p. */
static struct topic_node *
node_new(struct topic_trie *t, const uint8_t *p, size_t len, size_t namelen)
{
	struct topic_node	*n;

	assert(len <= UINT32_MAX && namelen <= len);
	n = xcalloc(1, sizeof *n + len);
	if (len != 0)
		memcpy(n->bytes, p, len);
	n->len = len;
	n->namelen = namelen;
	n->hv = trie_hash(t, node_name(n), namelen);
	t->mem += sizeof *n + len;
	return (n);
}

/* Store p as the node's bytes (its full key or its name); may move it. */
static struct topic_node *
node_rebytes(struct topic_trie *t, struct topic_node *n, const uint8_t *p,
    size_t len)
{
	assert(len <= UINT32_MAX && len >= n->namelen);
	if (len < n->len) {
		memmove(n->bytes, node_name(n), n->namelen);
		t->mem -= n->len - len;
		n->len = len;
		return (xrealloc(n, sizeof *n + len));
	}
	n = xrealloc(n, sizeof *n + len);
	memcpy(n->bytes, p, len);
	t->mem += len - n->len;
	n->len = len;
	return (n);
}

/* Free one node and its kids table, not its children. */
static void
node_free(struct topic_trie *t, struct topic_node *n)
{
	if (n->nkids >= 2) {
		t->mem -= sizeof *n->kids.tab +
		    n->kids.tab->cap * sizeof n->kids.tab->slot[0];
		free(n->kids.tab);
	}
	t->mem -= sizeof *n + n->len;
	free(n);
}

/* The table slot holding the child named [p, p + len), or NULL. */
static struct topic_node **
tab_ref(const struct topic_trie *t, struct topic_tab *tab, const uint8_t *p,
    size_t len)
{
	struct topic_node	*c;
	uint32_t		 h, i, mask;

	mask = tab->cap - 1;
	h = trie_hash(t, p, len);
	for (i = h & mask; (c = tab->slot[i]) != NULL; i = (i + 1) & mask) {
		if (c->hv == h && node_named(c, p, len))
			return (&tab->slot[i]);
	}
	return (NULL);
}

/* Where the exact child named [p, p + len) is, or NULL. */
static struct topic_node **
kid_ref(const struct topic_trie *t, struct topic_node *n, const uint8_t *p,
    size_t len)
{
	if (n->nkids == 0)
		return (NULL);
	if (n->nkids == 1)
		return (node_named(n->kids.one, p, len) ? &n->kids.one : NULL);
	return (tab_ref(t, n->kids.tab, p, len));
}

/* The exact child named [p, p + len), or NULL. */
static inline struct topic_node *
kid_find(const struct topic_trie *t, const struct topic_node *n,
    const uint8_t *p, size_t len)
{
	struct topic_node	**r;

	if (n->nkids == 0)
		return (NULL);
	if (n->nkids == 1)
		return (node_named(n->kids.one, p, len) ? n->kids.one : NULL);
	r = tab_ref(t, n->kids.tab, p, len);
	return (r == NULL ? NULL : *r);
}

/* The next child of any kind from position *ip on, or NULL at the end. */
static struct topic_node *
node_next(const struct topic_node *n, uint32_t *ip)
{
	struct topic_node	*c;
	uint32_t		 i, ntab;

	ntab = n->nkids >= 2 ? n->kids.tab->cap : n->nkids;
	for (i = *ip; i < ntab + 2; i++) {
		if (i < ntab)
			c = n->nkids == 1 ? n->kids.one : n->kids.tab->slot[i];
		else
			c = i == ntab ? n->plus : n->hash;
		if (c != NULL) {
			*ip = i + 1;
			return (c);
		}
	}
	*ip = i;
	return (NULL);
}

/* Where the child named [p, p + len) is or goes, wildcards included. */
static struct topic_node **
child_ref(const struct topic_trie *t, struct topic_node *n, const uint8_t *p,
    size_t len)
{
	if (level_is(p, len, '+'))
		return (&n->plus);
	if (level_is(p, len, '#'))
		return (&n->hash);
	return (kid_ref(t, n, p, len));
}

/* Put c in a table with a free slot. */
static void
tab_put(struct topic_tab *tab, struct topic_node *c)
{
	uint32_t	 i, mask;

	mask = tab->cap - 1;
	for (i = c->hv & mask; tab->slot[i] != NULL; i = (i + 1) & mask)
		/* nothing */;
	tab->slot[i] = c;
}

/* Move the node's exact children into a new table of cap slots. */
static void
kids_resize(struct topic_trie *t, struct topic_node *n, uint32_t cap)
{
	struct topic_tab	*tab, *old;
	uint32_t		 i;

	tab = xcalloc(1, sizeof *tab + cap * sizeof tab->slot[0]);
	tab->cap = cap;
	t->mem += sizeof *tab + cap * sizeof tab->slot[0];
	if (n->nkids == 1) {
		tab_put(tab, n->kids.one);
		n->kids.tab = tab;
		return;
	}
	old = n->kids.tab;
	for (i = 0; i < old->cap; i++) {
		if (old->slot[i] != NULL)
			tab_put(tab, old->slot[i]);
	}
	t->mem -= sizeof *old + old->cap * sizeof old->slot[0];
	free(old);
	n->kids.tab = tab;
}

/* Add c, whose name is not among them, to the node's exact children. */
static void
kid_add(struct topic_trie *t, struct topic_node *n, struct topic_node *c)
{
	if (n->nkids == 0)
		n->kids.one = c;
	else {
		if (n->nkids == 1)
			kids_resize(t, n, TOPIC_TAB_MIN);
		else if ((n->nkids + 1) * 4 > n->kids.tab->cap * 3)
			kids_resize(t, n, n->kids.tab->cap * 2);
		tab_put(n->kids.tab, c);
	}
	n->nkids++;
}

/* Drop the exact child at r (from kid_ref) from the node. */
static void
kid_del(struct topic_trie *t, struct topic_node *n, struct topic_node **r)
{
	struct topic_tab	*tab;
	struct topic_node	*last;
	uint32_t		 i, j, home, mask;

	if (n->nkids == 1) {
		n->kids.one = NULL;
		n->nkids = 0;
		return;
	}
	tab = n->kids.tab;
	mask = tab->cap - 1;
	i = r - tab->slot;
	tab->slot[i] = NULL;
	/* Backward-shift deletion keeps probe runs unbroken. */
	for (j = (i + 1) & mask; tab->slot[j] != NULL; j = (j + 1) & mask) {
		home = tab->slot[j]->hv & mask;
		if (((j - home) & mask) >= ((j - i) & mask)) {
			tab->slot[i] = tab->slot[j];
			tab->slot[j] = NULL;
			i = j;
		}
	}
	n->nkids--;
	if (n->nkids == 1) {
		for (i = 0; tab->slot[i] == NULL; i++)
			/* nothing */;
		last = tab->slot[i];
		t->mem -= sizeof *tab + tab->cap * sizeof tab->slot[0];
		free(tab);
		n->kids.one = last;
	} else if (tab->cap > TOPIC_TAB_MIN && n->nkids < tab->cap / 4)
		kids_resize(t, n, tab->cap / 2);
}

/* Where the node's child c is held. */
static struct topic_node **
child_ref_of(const struct topic_trie *t, struct topic_node *n,
    struct topic_node *c)
{
	if (n->plus == c)
		return (&n->plus);
	if (n->hash == c)
		return (&n->hash);
	return (kid_ref(t, n, node_name(c), c->namelen));
}

/* A view's bytes, never NULL even when empty. */
static inline const uint8_t *
str_bytes(struct str s)
{
	return (s.len == 0 ? (const uint8_t *)"" : s.p);
}

/* Make an empty trie. */
struct topic_trie *
topic_trie_new(void)
{
	struct topic_trie	*t;
	uint64_t		 k[2];

	t = xcalloc(1, sizeof *t);
	if (getrandom(k, sizeof k, GRND_NONBLOCK) != sizeof k) {
		k[0] = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ULL;
		k[1] = (uint64_t)(uintptr_t)t * 0xbf58476d1ce4e5b9ULL;
	}
	t->k0 = k[0];
	t->k1 = k[1];
	t->root = node_new(t, NULL, 0, 0);
	return (t);
}

/* Free a subtree, post-order. */
static void
subtree_free(struct topic_trie *t, struct topic_node *n,
    void (*free_value)(void *))
{
	struct topic_node	*c;
	uint32_t		 i = 0;

	while ((c = node_next(n, &i)) != NULL)
		subtree_free(t, c, free_value);
	if (n->value != NULL && free_value != NULL)
		free_value(n->value);
	node_free(t, n);
}

/* Free the trie; free_value (if not NULL) is called on every value. */
void
topic_trie_free(struct topic_trie *t, void (*free_value)(void *))
{
	if (t == NULL)
		return;
	subtree_free(t, t->root, free_value);
	free(t);
}

/*
 * The value slot of key, created empty (NULL) if absent.  The pointer is
 * good until the trie next changes.
 */
void **
topic_trie_slot(struct topic_trie *t, struct str key)
{
	struct topic_node	*n, *c, **r;
	const uint8_t		*k, *p, *q, *end;

	n = t->root;
	k = p = str_bytes(key);
	end = k + key.len;
	for (;;) {
		q = level_end(p, end);
		r = child_ref(t, n, p, q - p);
		if (r != NULL && (c = *r) != NULL) {
			if (q == end && c->len != key.len)
				c = *r = node_rebytes(t, c, k, key.len);
		} else {
			if (q == end)
				c = node_new(t, k, key.len, q - p);
			else
				c = node_new(t, p, q - p, q - p);
			if (r != NULL)
				*r = c;
			else
				kid_add(t, n, c);
		}
		if (q == end)
			return (&c->value);
		n = c;
		p = q + 1;
	}
}

/* The value of key, or NULL. */
void *
topic_trie_get(const struct topic_trie *t, struct str key)
{
	struct topic_node	*n, **r;
	const uint8_t		*p, *q, *end;

	n = t->root;
	p = str_bytes(key);
	end = p + key.len;
	for (;;) {
		q = level_end(p, end);
		r = child_ref(t, n, p, q - p);
		if (r == NULL || *r == NULL)
			return (NULL);
		if (q == end)
			return ((*r)->value);
		n = *r;
		p = q + 1;
	}
}

/*
 * Remove key and prune.  If the key's node is left with no children, the
 * chain above it of nodes with no value and this one child goes with it.
 */
void *
topic_trie_remove(struct topic_trie *t, struct str key)
{
	struct topic_node	*n, *c, *cut, *cut_parent, *next, **r;
	const uint8_t		*p, *q, *end;
	void			*value;

	n = t->root;
	cut = cut_parent = NULL;
	p = str_bytes(key);
	end = p + key.len;
	for (;;) {
		q = level_end(p, end);
		r = child_ref(t, n, p, q - p);
		if (r == NULL || (c = *r) == NULL)
			return (NULL);
		if (cut == NULL) {
			cut = c;
			cut_parent = n;
		}
		if (q == end)
			break;
		if (c->value != NULL || node_children(c) != 1)
			cut = NULL;
		n = c;
		p = q + 1;
	}
	value = TAKE(c->value);
	if (node_children(c) != 0) {
		if (c->len != c->namelen)
			*r = node_rebytes(t, c, NULL, c->namelen);
		return (value);
	}
	r = child_ref_of(t, cut_parent, cut);
	if (r == &cut_parent->plus || r == &cut_parent->hash)
		*r = NULL;
	else
		kid_del(t, cut_parent, r);
	for (n = cut; n != c; n = next) {
		next = node_next(n, &(uint32_t){ 0 });
		node_free(t, n);
	}
	node_free(t, c);
	return (value);
}

/* Call fn for the node if it has a value. */
static inline void
node_visit(const struct topic_node *n, topic_visit_f *fn, void *arg)
{
	if (n->value != NULL)
		fn(node_key(n), n->value, arg);
}

/* True if the node's level name starts with '$'. */
static inline bool
node_dollar(const struct topic_node *n)
{
	return (n->namelen != 0 && node_name(n)[0] == '$');
}

/* Visit every value below n; skip children named "$..." if asked. */
static void
subtree_walk(const struct topic_node *n, bool skip_dollar, topic_visit_f *fn,
    void *arg)
{
	const struct topic_node	*c;
	uint32_t		 i = 0;

	while ((c = node_next(n, &i)) != NULL) {
		if (skip_dollar && node_dollar(c))
			continue;
		node_visit(c, fn, arg);
		subtree_walk(c, false, fn, arg);
	}
}

/* Count visitor for topic_trie_count. */
static void
trie_count_cb(struct str key, void *value, void *arg)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
}

/* Number of keys with a non-NULL value: a walk of the whole trie. */
size_t
topic_trie_count(const struct topic_trie *t)
{
	size_t	 n = 0;

	subtree_walk(t->root, false, trie_count_cb, &n);
	return (n);
}

/* Bytes held by the trie, without malloc overhead or values. */
size_t
topic_trie_memory(const struct topic_trie *t)
{
	return (sizeof *t + t->mem);
}

/* Call fn for every key with a non-NULL value. */
void
topic_trie_walk(const struct topic_trie *t, topic_visit_f *fn, void *arg)
{
	subtree_walk(t->root, false, fn, arg);
}

/* Visit c, reached by a topic's last level, and its '#' child. */
static inline void
match_last(const struct topic_node *c, topic_visit_f *fn, void *arg)
{
	node_visit(c, fn, arg);
	if (c->hash != NULL)
		node_visit(c->hash, fn, arg);
}

/* Visit the filters below n that match the topic levels from p to end. */
static void
match_from(const struct topic_trie *t, const struct topic_node *n,
    const uint8_t *p, const uint8_t *end, bool dollar, topic_visit_f *fn,
    void *arg)
{
	const struct topic_node	*c;
	const uint8_t		*q;

	for (;;) {
		q = level_end(p, end);
		if (!dollar) {
			if (n->hash != NULL)
				node_visit(n->hash, fn, arg);
			if ((c = n->plus) != NULL) {
				if (q == end)
					match_last(c, fn, arg);
				else
					match_from(t, c, q + 1, end, false,
					    fn, arg);
			}
		}
		dollar = false;
		if ((c = kid_find(t, n, p, q - p)) == NULL)
			return;
		if (q == end) {
			match_last(c, fn, arg);
			return;
		}
		n = c;
		p = q + 1;
	}
}

/*
 * Keys are filters: call fn for each filter matching the topic name.  The
 * '#' child of a node matches what is left, even nothing; filters whose
 * first level is a wildcard skip topics starting with '$' (MQTT-4.7.2-1).
 */
void
topic_trie_match(const struct topic_trie *t, struct str topic,
    topic_visit_f *fn, void *arg)
{
	const uint8_t	*p;

	p = str_bytes(topic);
	match_from(t, t->root, p, p + topic.len, p[0] == '$', fn, arg);
}

/* Visit the keys below n that the filter levels from p to end match. */
static void
match_filter_from(const struct topic_trie *t, const struct topic_node *n,
    const uint8_t *p, const uint8_t *end, topic_visit_f *fn, void *arg)
{
	const struct topic_node	*c;
	const uint8_t		*q;
	bool			 first;
	uint32_t		 i = 0;

	first = n == t->root;
	for (;;) {
		q = level_end(p, end);
		if (level_is(p, q - p, '#')) {
			if (!first)
				node_visit(n, fn, arg);
			subtree_walk(n, first, fn, arg);
			return;
		}
		if (level_is(p, q - p, '+'))
			break;
		if ((c = kid_find(t, n, p, q - p)) == NULL)
			return;
		if (q == end) {
			node_visit(c, fn, arg);
			return;
		}
		n = c;
		p = q + 1;
		first = false;
	}
	while ((c = node_next(n, &i)) != NULL) {
		if (first && node_dollar(c))
			continue;
		if (q == end)
			node_visit(c, fn, arg);
		else
			match_filter_from(t, c, q + 1, end, fn, arg);
	}
}

/*
 * Keys are topic names: call fn for each key matched by the filter.  '#'
 * takes its parent and the whole subtree; a filter whose first level is a
 * wildcard skips keys starting with '$' (MQTT-4.7.2-1).
 */
void
topic_trie_match_filter(const struct topic_trie *t, struct str filter,
    topic_visit_f *fn, void *arg)
{
	const uint8_t	*p;

	p = str_bytes(filter);
	match_filter_from(t, t->root, p, p + filter.len, fn, arg);
}
