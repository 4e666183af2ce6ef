/*
 * fuzz/topic_fuzzer.c: libFuzzer target for topic.c.
 *
 * The input is a filter, a 0 byte and a topic (no 0 byte: all filter, empty
 * topic).  Validation, share parsing and topic_match() run on the raw bytes
 * and must not crash.  The filter and variants of it (see variants()) go
 * into a trie; a valid topic must visit exactly the valid variants that
 * topic_match() says match it.  The topic and its variants go into a
 * second trie, which topic_trie_match_filter() must query as topic_match()
 * does.  Both tries are emptied again and must be pruned back to their
 * root.  Any disagreement aborts.  Built with -fsanitize=fuzzer, or linked
 * with replay.c to replay a corpus from `make check`.  Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "topic.h"
#include "xmalloc.h"

#define FUZZ_MAX_LEVELS	32
#define FUZZ_MAX_KEYS	(2 * FUZZ_MAX_LEVELS + 8)

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct fuzz_keys {
	struct str	 key[FUZZ_MAX_KEYS];
	uint8_t		*mem[FUZZ_MAX_KEYS];
	unsigned	 seen[FUZZ_MAX_KEYS];
	size_t		 n;
};

/* Abort with a message: the fuzzer reports the input. */
static void
fuzz_fail(const char *what, struct str a, struct str b)
{
	fprintf(stderr, "topic_fuzzer: %s: '%.*s' '%.*s'\n", what,
	    (int)a.len, (const char *)a.p, (int)b.len, (const char *)b.p);
	abort();
}

/* Add a copy of [p, p + len) + [tail, tail + tlen) unless already there. */
static void
keys_add(struct fuzz_keys *k, const uint8_t *p, size_t len,
    const char *tail, size_t tlen)
{
	uint8_t	*m;
	size_t	 i;

	if (k->n == FUZZ_MAX_KEYS)
		return;
	m = xmalloc(len + tlen + 1);
	if (len != 0)
		memcpy(m, p, len);
	memcpy(m + len, tail, tlen);
	for (i = 0; i < k->n; i++) {
		if (k->key[i].len == len + tlen &&
		    memcmp(k->key[i].p, m, len + tlen) == 0) {
			free(m);
			return;
		}
	}
	k->mem[k->n] = m;
	k->key[k->n].p = m;
	k->key[k->n].len = len + tlen;
	k->n++;
}

/* Free the keys' copies. */
static void
keys_free(struct fuzz_keys *k)
{
	size_t	 i;

	for (i = 0; i < k->n; i++)
		free(k->mem[i]);
	k->n = 0;
}

/* Count a visit of key index (value - 1). */
static void
visit_cb(struct str key, void *value, void *arg)
{
	struct fuzz_keys	*k = arg;
	size_t			 i = (uintptr_t)value - 1;

	if (i >= k->n || !str_eq(key, k->key[i]))
		fuzz_fail("visit with a wrong key or value", key, STR(""));
	k->seen[i]++;
}

/* Level starts of s (at most FUZZ_MAX_LEVELS); returns their count. */
static size_t
levels_of(struct str s, size_t *start, size_t *end)
{
	size_t	 i, n;

	n = 0;
	start[0] = 0;
	for (i = 0; i < s.len && n < FUZZ_MAX_LEVELS; i++) {
		if (s.p[i] == '/') {
			end[n++] = i;
			start[n] = i + 1;
		}
	}
	if (n < FUZZ_MAX_LEVELS)
		end[n++] = s.len;
	return (n);
}

/*
 * s and its variants into k: each level one byte shorter and the first one
 * up to four bytes shorter (siblings, so nodes get child tables); for a
 * filter also each level made '+', the last made '#', "/#" appended and
 * "#"; for a topic its level prefixes.
 */
static void
variants(struct fuzz_keys *k, struct str s, bool filter)
{
	size_t		 start[FUZZ_MAX_LEVELS + 1], end[FUZZ_MAX_LEVELS];
	size_t		 i, n, cut;
	uint8_t		*m;

	keys_add(k, s.p, s.len, "", 0);
	if (s.len == 0 || topic_levels(s) > FUZZ_MAX_LEVELS)
		return;
	n = levels_of(s, start, end);
	m = xmalloc(s.len + 2);
	for (i = 0; i < n; i++) {
		for (cut = 1; cut <= (i == 0 ? 4 : 1); cut++) {
			if (end[i] - start[i] < cut)
				break;
			memcpy(m, s.p, end[i] - cut);
			memcpy(m + end[i] - cut, s.p + end[i], s.len - end[i]);
			keys_add(k, m, s.len - cut, "", 0);
		}
		if (filter) {
			memcpy(m, s.p, start[i]);
			m[start[i]] = '+';
			memcpy(m + start[i] + 1, s.p + end[i], s.len - end[i]);
			keys_add(k, m, start[i] + 1 + s.len - end[i], "", 0);
		} else if (i + 1 < n)
			keys_add(k, s.p, end[i], "", 0);
	}
	if (filter) {
		keys_add(k, s.p, start[n - 1], "#", 1);
		keys_add(k, s.p, s.len, "/#", 2);
		keys_add(k, NULL, 0, "#", 1);
	}
	free(m);
}

/* Put every key in a new trie, value index + 1. */
static struct topic_trie *
trie_of(struct fuzz_keys *k, size_t *base)
{
	struct topic_trie	*t;
	void			**slot;
	size_t			 i;

	t = topic_trie_new();
	*base = topic_trie_memory(t);
	for (i = 0; i < k->n; i++) {
		slot = topic_trie_slot(t, k->key[i]);
		if (*slot != NULL)
			fuzz_fail("slot of a new key not empty", k->key[i],
			    STR(""));
		*slot = (void *)(uintptr_t)(i + 1);
	}
	if (topic_trie_count(t) != k->n)
		fuzz_fail("count", k->key[0], STR(""));
	return (t);
}

/* Remove every key, check values and pruning, free the trie. */
static void
trie_empty(struct topic_trie *t, struct fuzz_keys *k, size_t base)
{
	size_t	 i;

	for (i = 0; i < k->n; i++) {
		if (topic_trie_get(t, k->key[i]) != (void *)(uintptr_t)(i + 1))
			fuzz_fail("get", k->key[i], STR(""));
	}
	for (i = k->n; i-- > 0; ) {
		if (topic_trie_remove(t, k->key[i]) !=
		    (void *)(uintptr_t)(i + 1))
			fuzz_fail("remove", k->key[i], STR(""));
		if (topic_trie_get(t, k->key[i]) != NULL)
			fuzz_fail("get after remove", k->key[i], STR(""));
	}
	if (topic_trie_count(t) != 0 || topic_trie_memory(t) != base)
		fuzz_fail("not pruned", k->key[0], STR(""));
	topic_trie_free(t, NULL);
}

/* One input. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fuzz_keys	 fk, tk;
	struct topic_trie	*t;
	struct str		 filter, topic, g, f;
	const uint8_t		*z;
	size_t			 i, j, base;
	bool			 valid_topic;

	if (size == 0)
		data = (const uint8_t *)"";
	z = memchr(data, 0, size);
	filter.p = data;
	filter.len = z == NULL ? size : (size_t)(z - data);
	topic.p = z == NULL ? (const uint8_t *)"" : z + 1;
	topic.len = z == NULL ? 0 : size - filter.len - 1;

	valid_topic = topic_valid_name(topic, 0);
	(void)topic_valid_name(filter, 3);
	(void)topic_valid_filter(topic, 0);
	(void)topic_valid_filter(filter, 3);
	(void)topic_levels(filter);
	(void)topic_has_wildcard(topic);
	(void)topic_match(filter, topic);
	(void)topic_match(topic, filter);
	if (topic_parse_share(filter, &g, &f) == 1) {
		if (g.len == 0 || !topic_valid_filter(f, 0) ||
		    g.p + g.len + 1 != f.p || f.p + f.len != data + filter.len)
			fuzz_fail("share", filter, topic);
	}

	/* Keys are filters: topic_trie_match. */
	variants(&fk, filter, true);
	t = trie_of(&fk, &base);
	memset(fk.seen, 0, sizeof fk.seen);
	topic_trie_match(t, topic, visit_cb, &fk);
	for (i = 0; i < fk.n && valid_topic; i++) {
		if (!topic_valid_filter(fk.key[i], 0))
			continue;
		if (fk.seen[i] > 1 ||
		    (fk.seen[i] != 0) != topic_match(fk.key[i], topic))
			fuzz_fail("trie match", fk.key[i], topic);
	}
	trie_empty(t, &fk, base);

	/* Keys are topics: topic_trie_match_filter. */
	variants(&tk, topic, false);
	variants(&fk, filter, true);
	t = trie_of(&tk, &base);
	for (i = 0; i < fk.n; i++) {
		memset(tk.seen, 0, sizeof tk.seen);
		topic_trie_match_filter(t, fk.key[i], visit_cb, &tk);
		if (!valid_topic || !topic_valid_filter(fk.key[i], 0))
			continue;
		for (j = 0; j < tk.n; j++) {
			if (!topic_valid_name(tk.key[j], 0))
				continue;
			if (tk.seen[j] > 1 || (tk.seen[j] != 0) !=
			    topic_match(fk.key[i], tk.key[j]))
				fuzz_fail("trie match_filter", fk.key[i],
				    tk.key[j]);
		}
	}
	memset(tk.seen, 0, sizeof tk.seen);
	topic_trie_walk(t, visit_cb, &tk);
	for (i = 0; i < tk.n; i++) {
		if (tk.seen[i] != 1)
			fuzz_fail("walk", tk.key[i], STR(""));
	}
	trie_empty(t, &tk, base);
	keys_free(&fk);
	keys_free(&tk);
	return (0);
}
