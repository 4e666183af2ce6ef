/*
 * banned.c: the banned list (see banned.h).
 */
#include <stdlib.h>

#include "banned.h"

int
banned_init(char **cause)
{
	(void)cause;
	return (0);
}

void
banned_release(void)
{
}

bool
banned_check(const char *clientid, const char *username, const char *ip)
{
	return (false);
}

json_t *
banned_list(void)
{
	return (json_array());
}

int
banned_add(const json_t *body, const char *by, json_t **out, char **cause)
{
	*out = NULL;
	*cause = NULL;
	return (-1);
}

int
banned_del(const char *as, const char *who)
{
	return (-1);
}

bool
banned_record_ok(struct str key, struct str val)
{
	return (false);
}
