/*
 * t/unit/topic.c: TAP tests for topic validation, matching and the trie.
 *
 * Tables from MQTT 5 section 4.7, then the trie checked against the
 * brute-force topic_match() over random filters and topics drawn from a
 * fixed seed, then memory accounting and a timing diag (not an assertion).
 * Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "tap.h"
#include "topic.h"
#include "xmalloc.h"

#define NFILTERS	400
#define NTOPICS		3000
#define NKEYS		400
#define NQUERIES	3000

struct valid_case {
	const char	*s;
	unsigned	 max_levels;
	bool		 name;
	bool		 filter;
};

static const struct valid_case valid_cases[] = {
	{ "a", 0, true, true },
	{ "a/b/c", 0, true, true },
	{ "/", 0, true, true },
	{ "//", 0, true, true },
	{ "/finance", 0, true, true },
	{ "a/", 0, true, true },
	{ " ", 0, true, true },
	{ "$SYS/broker", 0, true, true },
	{ "sport/tennis/player1", 3, true, true },
	{ "sport/tennis/player1", 2, false, false },
	{ "a/b", 1, false, false },
	{ "a//", 3, true, true },
	{ "a//", 2, false, false },
	{ "", 0, false, false },
	{ "#", 0, false, true },
	{ "+", 0, false, true },
	{ "+/+", 0, false, true },
	{ "/+", 0, false, true },
	{ "+/", 0, false, true },
	{ "sport/#", 0, false, true },
	{ "sport/tennis/#", 3, false, true },
	{ "sport/tennis/#", 2, false, false },
	{ "sport/tennis/player1/#", 0, false, true },
	{ "sport/+/player1", 0, false, true },
	{ "+/tennis/#", 0, false, true },
	{ "a/+/b/+/#", 0, false, true },
	{ "/#", 0, false, true },
	{ "$SYS/#", 0, false, true },
	{ "sport/tennis#", 0, false, false },
	{ "sport/tennis/#/ranking", 0, false, false },
	{ "sport+", 0, false, false },
	{ "sport/+a", 0, false, false },
	{ "a+/b", 0, false, false },
	{ "##", 0, false, false },
	{ "#/", 0, false, false },
	{ "#/a", 0, false, false },
	{ "++", 0, false, false },
	{ "a/#b", 0, false, false },
	{ "a/b#", 0, false, false },
};

struct share_case {
	const char	*s;
	int		 rc;
	const char	*group;
	const char	*filter;
};

static const struct share_case share_cases[] = {
	{ "$share/g/a/b", 1, "g", "a/b" },
	{ "$share/consumer1/sport/tennis/+", 1, "consumer1",
	    "sport/tennis/+" },
	{ "$share/g/#", 1, "g", "#" },
	{ "$share/g//", 1, "g", "/" },
	{ "$share/g/$SYS/#", 1, "g", "$SYS/#" },
	{ "$share/$queue/a", 1, "$queue", "a" },
	{ "$share//a", -1, NULL, NULL },
	{ "$share/g", -1, NULL, NULL },
	{ "$share/g/", -1, NULL, NULL },
	{ "$share/", -1, NULL, NULL },
	{ "$share/g+/a", -1, NULL, NULL },
	{ "$share/+/a", -1, NULL, NULL },
	{ "$share/g#/a", -1, NULL, NULL },
	{ "$share/g/a/#/b", -1, NULL, NULL },
	{ "$share/g/a+", -1, NULL, NULL },
	{ "$share", 0, NULL, NULL },
	{ "$SHARE/g/a", 0, NULL, NULL },
	{ "$sharex/g/a", 0, NULL, NULL },
	{ "share/g/a", 0, NULL, NULL },
	{ "$queue/a", 0, NULL, NULL },
	{ "a/b", 0, NULL, NULL },
};

struct match_case {
	const char	*filter;
	const char	*topic;
	bool		 match;
};

static const struct match_case match_cases[] = {
	/* 4.7.1.2 */
	{ "sport/tennis/player1/#", "sport/tennis/player1", true },
	{ "sport/tennis/player1/#", "sport/tennis/player1/ranking", true },
	{ "sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon",
	    true },
	{ "sport/tennis/player1/#", "sport/tennis/player2", false },
	{ "sport/tennis/player1/#", "sport/tennis", false },
	{ "sport/#", "sport", true },
	{ "sport/#", "sport/", true },
	{ "sport/#", "sports", false },
	{ "#", "sport/tennis", true },
	{ "#", "/", true },
	{ "#", "a", true },
	/* 4.7.1.3 */
	{ "sport/tennis/+", "sport/tennis/player1", true },
	{ "sport/tennis/+", "sport/tennis/player2", true },
	{ "sport/tennis/+", "sport/tennis/player1/ranking", false },
	{ "sport/+", "sport", false },
	{ "sport/+", "sport/", true },
	{ "+/+", "/finance", true },
	{ "/+", "/finance", true },
	{ "+", "/finance", false },
	{ "+", "a", true },
	{ "sport/+/player1", "sport/tennis/player1", true },
	{ "sport/+/player1", "sport/player1", false },
	{ "+/tennis/#", "sport/tennis", true },
	{ "+/tennis/#", "sport/tennis/x/y", true },
	{ "+/tennis/#", "sport/golf", false },
	/* 4.7.2 */
	{ "#", "$SYS/monitor/Clients", false },
	{ "+/monitor/Clients", "$SYS/monitor/Clients", false },
	{ "$SYS/#", "$SYS/monitor/Clients", true },
	{ "$SYS/monitor/+", "$SYS/monitor/Clients", true },
	{ "$SYS/#", "$SYS", true },
	{ "#", "$", false },
	{ "+", "$x", false },
	{ "+/#", "$x/y", false },
	{ "a/+", "a/$x", true },
	{ "a/#", "a/$x", true },
	{ "$x", "$x", true },
	/* empty levels */
	{ "a//b", "a//b", true },
	{ "a/+/b", "a//b", true },
	{ "a//b", "a/b", false },
	{ "/", "/", true },
	{ "+/+", "/", true },
	{ "+", "/", false },
	{ "/#", "/", true },
	{ "+/#", "/", true },
	{ "a/b", "a/b/", false },
	{ "a/b/", "a/b", false },
	{ "a/+/+", "a/b", false },
	{ "a/#", "a", true },
	{ "a/#", "ab", false },
	{ "a/b/#", "a", false },
};

static uint64_t	 rng = 0x2545f4914f6cdd1dULL;

/* xorshift64*: a fixed-seed generator so failures reproduce. */
static uint32_t
rnd(uint32_t n)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return ((uint32_t)((rng * 0x2545f4914f6cdd1dULL) >> 32) % n);
}

/* A random topic name or filter over a small alphabet, into buf. */
static struct str
random_key(char *buf, size_t size, bool filter)
{
	static const char	*words[] = {
		"a", "b", "c", "", "$x", "$", "ab", "+", "#"
	};
	unsigned		 nwords, levels, i;
	const char		*w;
	size_t			 len = 0;

	nwords = filter ? 9 : 7;
	levels = 1 + rnd(5);
	for (i = 0; i < levels; i++) {
		w = words[rnd(nwords)];
		if (w[0] == '#' && i != levels - 1)
			w = "+";
		if (len + strlen(w) + 2 > size)
			break;
		if (i != 0)
			buf[len++] = '/';
		memcpy(buf + len, w, strlen(w));
		len += strlen(w);
	}
	buf[len] = '\0';
	if (len == 0)
		return (random_key(buf, size, filter));
	return ((struct str){ (const uint8_t *)buf, len });
}

struct visits {
	unsigned	*seen;		/* per value index */
	char		**keys;
	size_t		 n;
	size_t		 bad_key;
};

/* Record a visit of value (index + 1) with key. */
static void
visit_cb(struct str key, void *value, void *arg)
{
	struct visits	*v = arg;
	size_t		 i = (uintptr_t)value - 1;

	if (i >= v->n) {
		v->bad_key++;
		return;
	}
	v->seen[i]++;
	if (!str_eq_cstr(key, v->keys[i]))
		v->bad_key++;
}

/* Count visits. */
static void
count_cb(struct str key, void *value, void *arg)
{
	(void)key;
	(void)value;
	(*(size_t *)arg)++;
}

/* Insert s with a value; 1 if new, 0 if already there. */
static int
put(struct topic_trie *t, const char *s, void *value)
{
	void	**slot;

	slot = topic_trie_slot(t, STR(s));
	if (*slot != NULL)
		return (0);
	*slot = value;
	return (1);
}

/* Validation, levels, wildcards and shares. */
static void
test_valid(void)
{
	const struct valid_case	*vc;
	const struct share_case	*sc;
	struct str		 g, f;
	size_t			 i;
	int			 rc, bad;

	for (i = 0; i < sizeof valid_cases / sizeof valid_cases[0]; i++) {
		vc = &valid_cases[i];
		ok(topic_valid_name(STR(vc->s), vc->max_levels) == vc->name,
		    "valid name '%s' max %u is %d", vc->s, vc->max_levels,
		    vc->name);
		ok(topic_valid_filter(STR(vc->s), vc->max_levels) ==
		    vc->filter, "valid filter '%s' max %u is %d", vc->s,
		    vc->max_levels, vc->filter);
	}
	ok(!topic_valid_name((struct str){ (const uint8_t *)"a\0b", 3 }, 0),
	    "NUL in a name is invalid (MQTT-4.7.3-2)");
	ok(!topic_valid_filter((struct str){ (const uint8_t *)"a/\0", 3 }, 0),
	    "NUL in a filter is invalid (MQTT-4.7.3-2)");
	ok(!topic_valid_name(STR_NULL, 0) && !topic_valid_filter(STR_NULL, 0),
	    "NULL view is invalid");

	ok(topic_levels(STR("")) == 1, "levels '' is 1");
	ok(topic_levels(STR("a")) == 1, "levels 'a' is 1");
	ok(topic_levels(STR("a/b")) == 2, "levels 'a/b' is 2");
	ok(topic_levels(STR("/")) == 2, "levels '/' is 2");
	ok(topic_levels(STR("a//b/")) == 4, "levels 'a//b/' is 4");
	ok(topic_levels(STR_NULL) == 1, "levels of NULL view is 1");

	ok(topic_has_wildcard(STR("a/+")), "'a/+' has a wildcard");
	ok(topic_has_wildcard(STR("#")), "'#' has a wildcard");
	ok(!topic_has_wildcard(STR("a/b/$c")), "'a/b/$c' has none");
	ok(!topic_has_wildcard(STR("")), "'' has none");

	for (i = 0; i < sizeof share_cases / sizeof share_cases[0]; i++) {
		sc = &share_cases[i];
		g = f = STR_NULL;
		rc = topic_parse_share(STR(sc->s), &g, &f);
		bad = rc != sc->rc;
		if (!bad && rc == 1)
			bad = !str_eq_cstr(g, sc->group) ||
			    !str_eq_cstr(f, sc->filter);
		ok(!bad, "share '%s' is %d", sc->s, sc->rc);
	}
}

/* The spec's matching examples, through topic_match and the trie. */
static void
test_match_table(void)
{
	const struct match_case	*mc;
	struct topic_trie	*t, *k;
	size_t			 i, n;

	for (i = 0; i < sizeof match_cases / sizeof match_cases[0]; i++) {
		mc = &match_cases[i];
		ok(topic_valid_filter(STR(mc->filter), 0) &&
		    topic_valid_name(STR(mc->topic), 0),
		    "'%s' and '%s' are valid", mc->filter, mc->topic);
		ok(topic_match(STR(mc->filter), STR(mc->topic)) == mc->match,
		    "'%s' %s '%s'", mc->filter,
		    mc->match ? "matches" : "does not match", mc->topic);

		t = topic_trie_new();
		*topic_trie_slot(t, STR(mc->filter)) = (void *)mc;
		n = 0;
		topic_trie_match(t, STR(mc->topic), count_cb, &n);
		ok(n == (mc->match ? 1 : 0), "trie: '%s' %s '%s'", mc->filter,
		    mc->match ? "matches" : "does not match", mc->topic);
		topic_trie_free(t, NULL);

		k = topic_trie_new();
		*topic_trie_slot(k, STR(mc->topic)) = (void *)mc;
		n = 0;
		topic_trie_match_filter(k, STR(mc->filter), count_cb, &n);
		ok(n == (mc->match ? 1 : 0), "key trie: '%s' %s '%s'",
		    mc->filter, mc->match ? "matches" : "does not match",
		    mc->topic);
		topic_trie_free(k, NULL);
	}
}

/* Insert, get, remove and pruning. */
static void
test_trie_basic(void)
{
	static const char	*keys[] = {
		"a", "a/b", "a/b/c", "a/+", "a/#", "+", "#", "+/+", "/", "//",
		"a//c", "$SYS/x", "a/b/c/d/e/f", "x/y/z", "", "a/+/c",
	};
	const size_t		 nkeys = sizeof keys / sizeof keys[0];
	struct topic_trie	*t;
	size_t			 i, j, base, n, mem;
	int			 good;

	t = topic_trie_new();
	base = topic_trie_memory(t);
	ok(topic_trie_count(t) == 0, "empty trie has count 0");
	ok(topic_trie_get(t, STR("a")) == NULL, "get on empty trie is NULL");
	ok(topic_trie_remove(t, STR("a")) == NULL,
	    "remove on empty trie is NULL");

	good = 1;
	for (i = 0; i < nkeys; i++)
		good &= put(t, keys[i], (void *)(uintptr_t)(i + 1));
	ok(good, "insert %zu keys", nkeys);
	ok(topic_trie_count(t) == nkeys, "count is %zu", nkeys);
	good = 1;
	for (i = 0; i < nkeys; i++)
		good &= topic_trie_get(t, STR(keys[i])) ==
		    (void *)(uintptr_t)(i + 1);
	ok(good, "get every key");
	ok(topic_trie_get(t, STR_NULL) == (void *)15,
	    "a NULL view is the key ''");
	ok(topic_trie_get(t, STR("a/b/c/d")) == NULL,
	    "get of an inner node without value is NULL");
	ok(topic_trie_get(t, STR("q")) == NULL, "get of a missing key is NULL");
	ok(topic_trie_get(t, STR("a/b/c/d/e/f/g")) == NULL,
	    "get below a leaf is NULL");
	ok(topic_trie_remove(t, STR("a/b/c/d")) == NULL &&
	    topic_trie_count(t) == nkeys,
	    "remove of an inner node without value changes nothing");
	ok(*topic_trie_slot(t, STR("a/b")) == (void *)2,
	    "slot of an existing key holds its value");

	for (i = 0; i < nkeys; i++) {
		ok(topic_trie_remove(t, STR(keys[i])) ==
		    (void *)(uintptr_t)(i + 1), "remove '%s'", keys[i]);
		good = topic_trie_get(t, STR(keys[i])) == NULL &&
		    topic_trie_count(t) == nkeys - i - 1;
		for (j = i + 1; j < nkeys; j++)
			good &= topic_trie_get(t, STR(keys[j])) ==
			    (void *)(uintptr_t)(j + 1);
		ok(good, "after removing '%s' the others stay", keys[i]);
	}
	ok(topic_trie_memory(t) == base,
	    "trie is pruned back to the root (%zu bytes)", base);

	/* An inner node becomes a slot, then loses its value. */
	put(t, "p/q/r/s", (void *)1);
	mem = topic_trie_memory(t);
	put(t, "p/q", (void *)2);
	ok(topic_trie_memory(t) > mem, "slot on an inner node stores its key");
	ok(topic_trie_remove(t, STR("p/q")) == (void *)2 &&
	    topic_trie_memory(t) == mem,
	    "removing it gives the key's bytes back");
	ok(topic_trie_get(t, STR("p/q/r/s")) == (void *)1,
	    "its child is intact");
	ok(topic_trie_remove(t, STR("p/q/r/s")) == (void *)1 &&
	    topic_trie_memory(t) == base, "last key out prunes all");

	/* A slot left empty is no entry, and is pruned by remove. */
	topic_trie_slot(t, STR("e/f"));
	ok(topic_trie_count(t) == 0 && topic_trie_get(t, STR("e/f")) == NULL,
	    "an empty slot is not an entry");
	n = 0;
	topic_trie_walk(t, count_cb, &n);
	ok(n == 0, "walk skips empty slots");
	ok(topic_trie_remove(t, STR("e/f")) == NULL &&
	    topic_trie_memory(t) == base, "remove prunes an empty slot");

	/* Wide node: table growth, then shrink back to one inline child. */
	{
		char	 buf[32];

		for (i = 0; i < 1000; i++) {
			snprintf(buf, sizeof buf, "w/%zu", i);
			put(t, buf, (void *)(uintptr_t)(i + 1));
		}
		good = topic_trie_count(t) == 1000;
		for (i = 0; i < 1000; i++) {
			snprintf(buf, sizeof buf, "w/%zu", i);
			good &= topic_trie_get(t, STR(buf)) ==
			    (void *)(uintptr_t)(i + 1);
		}
		ok(good, "1000 children of one node");
		for (i = 0; i < 1000; i += 2) {
			snprintf(buf, sizeof buf, "w/%zu", i);
			good &= topic_trie_remove(t, STR(buf)) ==
			    (void *)(uintptr_t)(i + 1);
		}
		for (i = 0; i < 1000; i++) {
			snprintf(buf, sizeof buf, "w/%zu", i);
			good &= topic_trie_get(t, STR(buf)) ==
			    (i % 2 ? (void *)(uintptr_t)(i + 1) : NULL);
		}
		ok(good, "every other child removed, the rest found");
		for (i = 1; i < 979; i += 2) {
			snprintf(buf, sizeof buf, "w/%zu", i);
			topic_trie_remove(t, STR(buf));
		}
		ok(topic_trie_count(t) == 11 &&
		    topic_trie_memory(t) < base + 2048,
		    "11 children left, table shrunk (%zu bytes)",
		    topic_trie_memory(t) - base);
		for (i = 979; i < 999; i += 2) {
			snprintf(buf, sizeof buf, "w/%zu", i);
			topic_trie_remove(t, STR(buf));
		}
		ok(topic_trie_get(t, STR("w/999")) == (void *)1000 &&
		    topic_trie_count(t) == 1, "one child left");
		put(t, "w", (void *)1);
		topic_trie_remove(t, STR("w/999"));
		topic_trie_remove(t, STR("w"));
		ok(topic_trie_memory(t) == base,
		    "tables shrink and are freed (%zu bytes)",
		    topic_trie_memory(t));
	}

	/* Deep keys: 128 levels of '+' (with and without "/#"), 4001 levels. */
	{
		char	 f[2 * 128 + 2], *deep;

		for (i = 0; i < 128; i++) {
			f[2 * i] = '+';
			f[2 * i + 1] = '/';
		}
		f[255] = '\0';
		put(t, f, (void *)1);
		f[255] = '/';
		f[256] = '#';
		f[257] = '\0';
		put(t, f, (void *)2);
		for (i = 0; i < 128; i++)
			f[2 * i] = 'x';
		f[255] = '\0';
		n = 0;
		topic_trie_match(t, STR(f), count_cb, &n);
		ok(n == 2, "128-level topic matches 128 levels of '+', and "
		    "with '/#'");
		deep = xcalloc(1, 4001);
		memset(deep, '/', 4000);
		put(t, deep, (void *)3);
		ok(topic_trie_get(t, STR(deep)) == (void *)3 &&
		    topic_trie_count(t) == 3, "a 4001-level key");
		n = 0;
		topic_trie_match_filter(t, STR("#"), count_cb, &n);
		ok(n == 3, "'#' walks down to it");
		ok(topic_trie_remove(t, STR(deep)) == (void *)3,
		    "and removes it");
		free(deep);
		for (i = 0; i < 128; i++)
			f[2 * i] = '+';
		ok(topic_trie_remove(t, STR(f)) == (void *)1, "remove '+/...'");
		f[255] = '/';
		ok(topic_trie_remove(t, STR(f)) == (void *)2,
		    "remove '+/.../#'");
		ok(topic_trie_memory(t) == base, "deep keys pruned");
	}

	/* Values are handed to free_value. */
	for (i = 0; i < nkeys; i++)
		*topic_trie_slot(t, STR(keys[i])) = xstrdup(keys[i]);
	topic_trie_free(t, free);
	ok(1, "free with free_value (ASan checks for leaks)");
	topic_trie_free(NULL, NULL);
	ok(1, "free(NULL) is a no-op");
}

/* Random distinct keys (filters or topic names) into keys[], in trie t. */
static void
random_keys(struct topic_trie *t, char **keys, size_t n, bool filter)
{
	char	 buf[64];
	size_t	 i;

	for (i = 0; i < n; ) {
		random_key(buf, sizeof buf, filter);
		if (topic_trie_get(t, STR(buf)) != NULL)
			continue;
		keys[i] = xstrdup(buf);
		*topic_trie_slot(t, STR(buf)) = (void *)(uintptr_t)(i + 1);
		i++;
	}
}

/* Trie match over random filters against brute-force topic_match(). */
static void
test_match_random(void)
{
	struct topic_trie	*t;
	struct visits		 v;
	char			 buf[64], *filters[NFILTERS];
	struct str		 topic;
	size_t			 i, j, bad, dups, invalid, base, total;

	t = topic_trie_new();
	base = topic_trie_memory(t);
	random_keys(t, filters, NFILTERS, true);
	invalid = 0;
	for (j = 0; j < NFILTERS; j++)
		invalid += !topic_valid_filter(STR(filters[j]), 0);
	ok(invalid == 0 && topic_trie_count(t) == NFILTERS,
	    "%d distinct valid random filters", NFILTERS);

	v.seen = xcalloc(NFILTERS, sizeof *v.seen);
	v.keys = filters;
	v.n = NFILTERS;
	v.bad_key = 0;
	bad = dups = total = 0;
	for (i = 0; i < NTOPICS; i++) {
		topic = random_key(buf, sizeof buf, false);
		invalid += !topic_valid_name(topic, 0);
		memset(v.seen, 0, NFILTERS * sizeof *v.seen);
		topic_trie_match(t, topic, visit_cb, &v);
		for (j = 0; j < NFILTERS; j++) {
			dups += v.seen[j] > 1;
			total += v.seen[j] != 0;
			if ((v.seen[j] != 0) ==
			    topic_match(STR(filters[j]), topic))
				continue;
			if (bad++ < 5)
				diag("'%s' vs '%s': trie visits %u",
				    filters[j], buf, v.seen[j]);
		}
	}
	ok(invalid == 0, "random topics are valid names");
	ok(bad == 0, "trie match agrees with topic_match: %d topics x %d "
	    "filters, %zu matches", NTOPICS, NFILTERS, total);
	ok(dups == 0, "no filter visited twice");
	ok(v.bad_key == 0, "callbacks get each filter's key");

	bad = 0;
	for (j = 0; j < NFILTERS; j += 2)
		bad += topic_trie_remove(t, STR(filters[j])) !=
		    (void *)(uintptr_t)(j + 1);
	ok(bad == 0 && topic_trie_count(t) == NFILTERS / 2,
	    "remove every other filter");
	for (i = 0; i < NTOPICS / 3; i++) {
		topic = random_key(buf, sizeof buf, false);
		memset(v.seen, 0, NFILTERS * sizeof *v.seen);
		topic_trie_match(t, topic, visit_cb, &v);
		for (j = 0; j < NFILTERS; j++) {
			if ((v.seen[j] != 0) != (j % 2 == 1 &&
			    topic_match(STR(filters[j]), topic)))
				bad++;
		}
	}
	ok(bad == 0, "after removing half, trie match still agrees: %d "
	    "topics", NTOPICS / 3);
	for (j = 1; j < NFILTERS; j += 2)
		topic_trie_remove(t, STR(filters[j]));
	ok(topic_trie_count(t) == 0 && topic_trie_memory(t) == base,
	    "all removed, pruned to the root");
	for (j = 0; j < NFILTERS; j++)
		free(filters[j]);
	free(v.seen);
	topic_trie_free(t, NULL);
}

/* Trie match_filter over random topic keys against topic_match(). */
static void
test_match_filter_random(void)
{
	struct topic_trie	*t;
	struct visits		 v;
	char			 buf[64], *keys[NKEYS];
	struct str		 filter;
	size_t			 i, j, bad, dups, total, n;

	t = topic_trie_new();
	random_keys(t, keys, NKEYS, false);
	ok(topic_trie_count(t) == NKEYS, "%d distinct random topic keys",
	    NKEYS);

	v.seen = xcalloc(NKEYS, sizeof *v.seen);
	v.keys = keys;
	v.n = NKEYS;
	v.bad_key = 0;
	bad = dups = total = 0;
	for (i = 0; i < NQUERIES; i++) {
		filter = random_key(buf, sizeof buf, true);
		memset(v.seen, 0, NKEYS * sizeof *v.seen);
		topic_trie_match_filter(t, filter, visit_cb, &v);
		for (j = 0; j < NKEYS; j++) {
			dups += v.seen[j] > 1;
			total += v.seen[j] != 0;
			if ((v.seen[j] != 0) ==
			    topic_match(filter, STR(keys[j])))
				continue;
			if (bad++ < 5)
				diag("'%s' vs key '%s': trie visits %u", buf,
				    keys[j], v.seen[j]);
		}
	}
	ok(bad == 0, "match_filter agrees with topic_match: %d filters x %d "
	    "keys, %zu matches", NQUERIES, NKEYS, total);
	ok(dups == 0, "no key visited twice");
	ok(v.bad_key == 0, "callbacks get each key");

	memset(v.seen, 0, NKEYS * sizeof *v.seen);
	topic_trie_walk(t, visit_cb, &v);
	bad = 0;
	for (j = 0; j < NKEYS; j++)
		bad += v.seen[j] != 1;
	ok(bad == 0 && v.bad_key == 0, "walk visits every key once");
	n = 0;
	topic_trie_match_filter(t, STR("#"), count_cb, &n);
	for (j = 0, i = 0; j < NKEYS; j++)
		i += keys[j][0] != '$';
	ok(n == i, "'#' returns the %zu keys not starting with '$'", i);

	for (j = 0; j < NKEYS; j++)
		free(keys[j]);
	free(v.seen);
	topic_trie_free(t, NULL);
}

/* Seconds on the monotonic clock. */
static double
now(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* The i-th filter of a fleet-like subscription set. */
static void
fleet_filter(char *buf, size_t size, size_t i)
{
	switch (i % 10) {
	case 6:
	case 7:
		snprintf(buf, size, "devices/dev%06zu/+/state", i);
		break;
	case 8:
		snprintf(buf, size, "sites/site%04zu/+/temperature", i / 10);
		break;
	case 9:
		snprintf(buf, size, "sites/site%04zu/#", i / 10);
		break;
	default:
		snprintf(buf, size, "devices/dev%06zu/commands", i);
		break;
	}
}

/* Bytes per filter, and the trie given back on removal. */
static void
test_memory(void)
{
	struct topic_trie	*t;
	char			 buf[64];
	size_t			 i, base, mem, n = 10000;

	t = topic_trie_new();
	base = topic_trie_memory(t);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "devices/dev%06zu/commands", i);
		*topic_trie_slot(t, STR(buf)) = (void *)1;
	}
	mem = topic_trie_memory(t) - base;
	diag("memory: %zu filters 'devices/devNNNNNN/commands': %zu bytes, "
	    "%.1f per filter (without malloc overhead)", n, mem,
	    (double)mem / n);
	ok(mem / n < 160, "one subscription per client costs %zu < 160 "
	    "bytes", mem / n);
	for (i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "devices/dev%06zu/commands", i);
		topic_trie_remove(t, STR(buf));
	}
	ok(topic_trie_memory(t) == base, "all memory given back");

	for (i = 0; i < n; i++) {
		fleet_filter(buf, sizeof buf, i);
		*topic_trie_slot(t, STR(buf)) = (void *)1;
	}
	mem = topic_trie_memory(t) - base;
	diag("memory: %zu mixed filters (%zu distinct): %zu bytes, %.1f per "
	    "filter", n, topic_trie_count(t), mem,
	    (double)mem / topic_trie_count(t));
	ok(mem / topic_trie_count(t) < 200, "mixed filters cost < 200 bytes");
	topic_trie_free(t, NULL);
}

/* Timing diag: 1M topics against 10k filters. */
static void
bench_match(void)
{
	struct topic_trie	*t;
	char			 buf[64], *topics[4096];
	size_t			 i, j, n, nfilters = 10000, ntopics = 1000000;
	double			 t0, t1;

	t = topic_trie_new();
	for (i = 0; i < nfilters; i++) {
		fleet_filter(buf, sizeof buf, i);
		*topic_trie_slot(t, STR(buf)) = (void *)1;
	}
	for (i = 0; i < 4096; i++) {
		j = rnd(nfilters);
		switch (rnd(4)) {
		case 0:
			snprintf(buf, sizeof buf, "devices/dev%06zu/commands",
			    j);
			break;
		case 1:
			snprintf(buf, sizeof buf,
			    "devices/dev%06zu/relay/state", j);
			break;
		case 2:
			snprintf(buf, sizeof buf,
			    "sites/site%04zu/room%zu/temperature", j / 10,
			    j % 7);
			break;
		default:
			snprintf(buf, sizeof buf, "devices/dev%06zu/telemetry",
			    j);
			break;
		}
		topics[i] = xstrdup(buf);
	}
	n = 0;
	t0 = now();
	for (i = 0; i < ntopics; i++)
		topic_trie_match(t, STR(topics[i & 4095]), count_cb, &n);
	t1 = now();
	diag("bench: %zu topics x %zu filters: %.3f s, %.0f ns/topic, %zu "
	    "matches", ntopics, topic_trie_count(t), t1 - t0,
	    (t1 - t0) * 1e9 / ntopics, n);
	for (i = 0; i < 4096; i++)
		free(topics[i]);
	topic_trie_free(t, NULL);
}

int
main(void)
{
	test_valid();
	test_match_table();
	test_trie_basic();
	test_match_random();
	test_match_filter_random();
	test_memory();
	bench_match();
	return (tap_done());
}
