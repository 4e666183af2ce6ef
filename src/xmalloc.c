/*
 * xmalloc.c: allocation that aborts on out-of-memory (see xmalloc.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"

/* Allocate size bytes or die. */
void *
xmalloc(size_t size)
{
	void	*p;

	if ((p = malloc(size == 0 ? 1 : size)) == NULL)
		fatal("xmalloc: out of memory allocating %zu bytes", size);
	return (p);
}

/* Allocate a zeroed array or die. */
void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if (n == 0 || size == 0)
		n = size = 1;
	if ((p = calloc(n, size)) == NULL)
		fatal("xcalloc: out of memory allocating %zu x %zu bytes", n,
		    size);
	return (p);
}

/* Resize or die. */
void *
xrealloc(void *old, size_t size)
{
	void	*p;

	if ((p = realloc(old, size == 0 ? 1 : size)) == NULL)
		fatal("xrealloc: out of memory allocating %zu bytes", size);
	return (p);
}

/* Resize an array, checking for overflow, or die. */
void *
xreallocarray(void *old, size_t n, size_t size)
{
	if (size != 0 && n > ((size_t)-1) / size)
		fatal("xreallocarray: %zu x %zu overflows", n, size);
	return (xrealloc(old, n * size));
}

/* Duplicate a string or die. */
char *
xstrdup(const char *s)
{
	return (xmemdup(s, strlen(s) + 1));
}

/* Duplicate at most n bytes of a string, NUL-terminated, or die. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;
	size_t	 len;

	/* n 0 may come with s NULL (an empty buffer's head). */
	len = n != 0 ? strnlen(s, n) : 0;
	p = xmalloc(len + 1);
	if (len != 0)
		memcpy(p, s, len);
	p[len] = '\0';
	return (p);
}

/* Duplicate a byte range or die. */
void *
xmemdup(const void *s, size_t n)
{
	void	*p;

	p = xmalloc(n);
	if (n != 0)
		memcpy(p, s, n);
	return (p);
}

/* Format into a new string or die; returns its length. */
int
xvasprintf(char **ret, const char *fmt, va_list ap)
{
	int	 n;

	if ((n = vasprintf(ret, fmt, ap)) < 0)
		fatal("xvasprintf: out of memory");
	return (n);
}

/* Format into a new string or die; returns its length. */
int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = xvasprintf(ret, fmt, ap);
	va_end(ap);
	return (n);
}
