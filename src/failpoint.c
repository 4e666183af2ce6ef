/*
 * failpoint.c: kill the process at a named point (see failpoint.h).
 *
 * The variable is read at the first pass of any point; failpoint_set()
 * chooses another point later (a test arms it mid-load).  Hits are counted
 * under a mutex, so any thread may reach a point.  The line written
 * before the kill names the point and the hit, for the test's log.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "failpoint.h"

#ifdef FLOCKMQ_FAILPOINTS

static pthread_once_t	 failpoint_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t	 failpoint_mtx = PTHREAD_MUTEX_INITIALIZER;
static char		 failpoint_name[64];
static unsigned long	 failpoint_at = 1;
static unsigned long	 failpoint_hits;

/* Choose the point: "name" or "name:N" (NULL or "" for none). */
static void
failpoint_parse(const char *v)
{
	const char	*colon;
	size_t		 n;

	failpoint_name[0] = '\0';
	failpoint_at = 1;
	failpoint_hits = 0;
	if (v == NULL || *v == '\0')
		return;
	colon = strchr(v, ':');
	n = colon != NULL ? (size_t)(colon - v) : strlen(v);
	if (n >= sizeof failpoint_name)
		n = sizeof failpoint_name - 1;
	memcpy(failpoint_name, v, n);
	failpoint_name[n] = '\0';
	if (colon != NULL && (failpoint_at = strtoul(colon + 1, NULL, 10)) ==
	    0)
		failpoint_at = 1;
}

/* Read FLOCKMQ_TEST_FAILPOINT. */
static void
failpoint_init(void)
{
	failpoint_parse(getenv("FLOCKMQ_TEST_FAILPOINT"));
}

/* Choose the point from now on, counting hits afresh. */
void
failpoint_set(const char *spec)
{
	pthread_once(&failpoint_once, failpoint_init);
	pthread_mutex_lock(&failpoint_mtx);
	failpoint_parse(spec);
	pthread_mutex_unlock(&failpoint_mtx);
}

/* The hit count if name is the chosen point and this is its hit, else 0. */
static unsigned long
failpoint_count(const char *name)
{
	unsigned long	 n;

	pthread_once(&failpoint_once, failpoint_init);
	pthread_mutex_lock(&failpoint_mtx);
	if (failpoint_name[0] == '\0' || strcmp(name, failpoint_name) != 0) {
		pthread_mutex_unlock(&failpoint_mtx);
		return (0);
	}
	n = ++failpoint_hits;
	pthread_mutex_unlock(&failpoint_mtx);
	return (n == failpoint_at ? n : 0);
}

/* True (once) if name is the chosen point and this is its hit. */
bool
failpoint_fail(const char *name)
{
	char		 line[160];
	int		 len;

	if (failpoint_count(name) == 0)
		return (false);
	len = snprintf(line, sizeof line, "failpoint: '%s' hit, failing\n",
	    name);
	if (len > 0 && write(2, line, (size_t)len) < 0)
		len = 0;
	return (true);
}

/* Kill the process if name is the chosen point and this is its hit. */
void
failpoint_hit(const char *name)
{
	unsigned long	 n;
	char		 line[160];
	int		 len;

	if ((n = failpoint_count(name)) == 0)
		return;
	len = snprintf(line, sizeof line, "failpoint: '%s' hit %lu times, "
	    "killing the process\n", name, n);
	if (len > 0 && write(2, line, (size_t)len) < 0)
		len = 0;
	kill(getpid(), SIGKILL);
	_exit(137);
}

#endif
