/*
 * failpoint.h: named points where a crash test kills the process.
 *
 * Built with FLOCKMQ_FAILPOINTS (./configure --enable-failpoints, or a
 * test program's own CPPFLAGS), FAILPOINT("name") kills the process with
 * SIGKILL when the environment variable FLOCKMQ_TEST_FAILPOINT names that
 * point: "name" at its first hit, "name:N" at its Nth.  FAILPOINT_FAIL()
 * instead is true at that hit (once), for the caller to fail as an I/O
 * error would.  Without the macro both compile to nothing (false), so
 * production code carries no switch.
 * The points of the Raft storage path are listed in docs/raft.md.
 */
#ifndef FAILPOINT_H
#define FAILPOINT_H

#include <stdbool.h>

#ifdef FLOCKMQ_FAILPOINTS
void	 failpoint_hit(const char *);
bool	 failpoint_fail(const char *);
/* Choose the point ("name" or "name:N") from now on, as the variable. */
void	 failpoint_set(const char *);
#define FAILPOINT(name)		failpoint_hit(name)
#define FAILPOINT_FAIL(name)	failpoint_fail(name)
#else
#define FAILPOINT(name)		do { } while (0)
#define FAILPOINT_FAIL(name)	false
#endif

#endif
