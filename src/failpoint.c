/*
 * failpoint.c: kill the process at a named point (see failpoint.h).
 *
 * The variable is read once; hits are counted with an atomic counter, so
 * any thread may reach a point.  The line written before the kill names
 * the point and the hit, for the test's log.
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
static char		 failpoint_name[64];
static unsigned long	 failpoint_at = 1;
static unsigned long	 failpoint_hits;	/* atomic */

/* Read FLOCKMQ_TEST_FAILPOINT: "name" or "name:N". */
static void
failpoint_init(void)
{
	const char	*v, *colon;
	size_t		 n;

	if ((v = getenv("FLOCKMQ_TEST_FAILPOINT")) == NULL || *v == '\0')
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

/* Kill the process if name is the chosen point and this is its hit. */
void
failpoint_hit(const char *name)
{
	unsigned long	 n;
	char		 line[160];
	int		 len;

	pthread_once(&failpoint_once, failpoint_init);
	if (failpoint_name[0] == '\0' || strcmp(name, failpoint_name) != 0)
		return;
	n = __atomic_add_fetch(&failpoint_hits, 1, __ATOMIC_ACQ_REL);
	if (n != failpoint_at)
		return;
	len = snprintf(line, sizeof line, "failpoint: '%s' hit %lu times, "
	    "killing the process\n", name, n);
	if (len > 0 && write(2, line, (size_t)len) < 0)
		len = 0;
	kill(getpid(), SIGKILL);
	_exit(137);
}

#endif
