/*
 * banned.h: the banned list (EMQX's /api/v5/banned): client ids, usernames
 * and peer addresses refused at CONNECT, kept in the store under b/.
 *
 * The list is read at CONNECT on every worker and changed from the HTTP
 * thread (REST, ctl); a rwlock guards it, and an atomic count lets CONNECT
 * skip the lock while the list is empty.
 */
#ifndef BANNED_H
#define BANNED_H

#include <stdbool.h>

#include <jansson.h>

#include "buf.h"

/* Load the list from the store (after store_open). */
int	 banned_init(char **cause);
void	 banned_release(void);
/* True if the client id, username (may be NULL) or address (text, no port)
 * is banned and the ban has not expired. */
bool	 banned_check(const char *clientid, const char *username,
	    const char *ip);
/* True while no ban is in memory (one atomic load): CONNECT skips the rest. */
bool	 banned_empty(void);
/* banned_check for CONNECT: username.p NULL for none; with why, a line
 * describing the ban that matched (kind, who, by, until, reason). */
bool	 banned_match(struct str clientid, struct str username,
	    const char *ip, char *why, size_t whylen);
/* Delete the bans whose "until" has passed (from memory and the store);
 * the REST calls do it too, so a timer is optional. */
void	 banned_expire(void);
/* Every ban in force, as EMQX's objects (as, who, by, reason, at, until),
 * oldest first; new reference. */
json_t	*banned_list(void);
/* Add a ban from an EMQX body ({"as": "clientid", "who": ..., ...}).  0 and
 * *out the stored object; -1 and *cause for a bad body (400), or 1 and
 * *cause if it exists already (409). */
int	 banned_add(const json_t *body, const char *by, json_t **out,
	    char **cause);
/* Remove a ban: 0, or -1 if there is none. */
int	 banned_del(const char *as, const char *who);
/* Whether a b/ record of the store decodes (store repair). */
bool	 banned_record_ok(struct str key, struct str val);

#endif
