/*
 * tls.c: TLS for ssl and wss listeners (see tls.h).  Not written yet:
 * an ssl or wss listener does not start.
 */
#include <errno.h>
#include <stdlib.h>

#include "config.h"
#include "conn.h"
#include "tls.h"
#include "xmalloc.h"

/* Not available yet. */
static ssize_t
tls_unavailable(struct conn *c, void *p, size_t n)
{
	(void)c;
	(void)p;
	(void)n;
	errno = ENOTSUP;
	return (-1);
}

/* Not available yet. */
ssize_t
tls_read(struct conn *c, void *p, size_t n)
{
	return (tls_unavailable(c, p, n));
}

/* Not available yet. */
ssize_t
tls_write(struct conn *c, const void *p, size_t n)
{
	return (tls_unavailable(c, (void *)(uintptr_t)p, n));
}

/* Nothing to close. */
static void
tls_shutdown(struct conn *c)
{
	(void)c;
}

const struct conn_transport tls_transport = {
	.name = "tls",
	.read = tls_read,
	.write = tls_write,
	.shutdown = tls_shutdown,
};

/* Not available yet. */
struct tls_listener *
tls_listener_new(const struct config_listener *lc, char **cause)
{
	xasprintf(cause, "listener: %s not started: TLS is not available in "
	    "this version", lc->id);
	return (NULL);
}

/* Nothing to drop. */
void
tls_listener_unref(struct tls_listener *t)
{
	(void)t;
}

/* Nothing to start. */
void
tls_attach(struct conn *c)
{
	(void)c;
}

/* Nothing to free. */
void
tls_free(struct conn *c)
{
	c->tls = NULL;
}
