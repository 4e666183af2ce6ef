/*
 * topic.h: topic names, topic filters and the topic trie.
 *
 * A trie maps topic filters (or topic names) to one opaque value each.
 * Lookup by topic walks one node per level: O(levels), each level's
 * children in a hash table.  Matching follows MQTT-4.7: '+' matches one
 * level, '#' the rest including the parent level, and a topic whose first
 * level starts with '$' is not matched by a filter whose first level is a
 * wildcard (MQTT-4.7.2-1).  A trie has one owner thread; it is not
 * thread-safe, and visit callbacks must not change the trie they walk.
 * Walks recurse once per level of the deepest key: bound keys with
 * mqtt.max_topic_levels.
 */
#ifndef TOPIC_H
#define TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Valid PUBLISH topic name: non-empty, no '+', '#' or NUL, max_levels (0:
 * no limit) levels at most.  UTF-8 is checked by the codec. */
bool		 topic_valid_name(struct str, unsigned max_levels);
/* Valid filter: non-empty, no NUL, '#' only last and alone in its level,
 * '+' alone in its level, max_levels (0: no limit) levels at most. */
bool		 topic_valid_filter(struct str, unsigned max_levels);
/* True if the filter has '+' or '#'. */
bool		 topic_has_wildcard(struct str);
/* Number of levels ("a/b" is 2, "" is 1). */
unsigned	 topic_levels(struct str);
/*
 * Split "$share/group/filter": returns 1 and sets group and filter if s is a
 * shared subscription, 0 if it is not one, -1 if it starts with "$share/"
 * but is malformed (empty group, group with '+' or '#', no filter, or an
 * invalid filter; the filter's level count is not checked).
 */
int		 topic_parse_share(struct str s, struct str *group,
		    struct str *filter);
/* True if topic matches filter (both already valid). */
bool		 topic_match(struct str filter, struct str topic);

struct topic_trie;

typedef void	 topic_visit_f(struct str key, void *value, void *arg);

struct topic_trie *topic_trie_new(void);
/* Free the trie; free_value (if not NULL) is called on every value. */
void		 topic_trie_free(struct topic_trie *, void (*free_value)(void *));
/* The value slot of key, created empty (NULL) if absent; good until the
 * trie next changes.  A slot left NULL keeps its nodes until removed. */
void		**topic_trie_slot(struct topic_trie *, struct str key);
/* The value of key, or NULL. */
void		*topic_trie_get(const struct topic_trie *, struct str key);
/* Remove key; returns its value (caller frees) or NULL. Prunes nodes. */
void		*topic_trie_remove(struct topic_trie *, struct str key);
/* Number of keys with a non-NULL value: walks the trie, O(nodes). */
size_t		 topic_trie_count(const struct topic_trie *);
/* Bytes the trie holds (nodes, keys, tables), without malloc overhead. */
size_t		 topic_trie_memory(const struct topic_trie *);
/* Keys are filters: call fn for each filter matching the topic name. */
void		 topic_trie_match(const struct topic_trie *, struct str topic,
		    topic_visit_f *fn, void *arg);
/* Keys are topic names: call fn for each key matched by the filter
 * (retained messages on SUBSCRIBE). */
void		 topic_trie_match_filter(const struct topic_trie *,
		    struct str filter, topic_visit_f *fn, void *arg);
/* Call fn for every key with a non-NULL value, in no particular order. */
void		 topic_trie_walk(const struct topic_trie *, topic_visit_f *fn,
		    void *arg);

#endif
