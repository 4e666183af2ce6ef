/*
 * ws.c: MQTT over WebSocket (see ws.h).  Not written yet: the transport
 * refuses every read, so a ws listener's connections close at once.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "conn.h"
#include "ws.h"

/* Not available yet. */
static ssize_t
ws_read(struct conn *c, void *p, size_t n)
{
	(void)c;
	(void)p;
	(void)n;
	errno = ENOTSUP;
	return (-1);
}

/* Not available yet. */
static ssize_t
ws_write(struct conn *c, const void *p, size_t n)
{
	(void)c;
	(void)p;
	(void)n;
	errno = ENOTSUP;
	return (-1);
}

/* Nothing to close. */
static void
ws_shutdown(struct conn *c)
{
	(void)c;
}

const struct conn_transport ws_transport = {
	.name = "ws",
	.read = ws_read,
	.write = ws_write,
	.shutdown = ws_shutdown,
};

/* Nothing to start. */
void
ws_attach(struct conn *c)
{
	(void)c;
}

/* Nothing to free. */
void
ws_free(struct conn *c)
{
	c->ws = NULL;
}
