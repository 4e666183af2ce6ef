/*
 * xmalloc.h: allocation that aborts on out-of-memory.
 *
 * Limits are enforced by accounting, never by malloc returning NULL; these
 * wrappers call fatal() when the system is out of memory.  Thread-safe.
 */
#ifndef XMALLOC_H
#define XMALLOC_H

#include <stdarg.h>
#include <stddef.h>

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
void	*xmemdup(const void *, size_t);
int	 xasprintf(char **, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 xvasprintf(char **, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));

/* Transfer ownership: yields p and NULLs the source. */
#define TAKE(p) ({ __typeof__(p) take_tmp_ = (p); (p) = NULL; take_tmp_; })

#endif
