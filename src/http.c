/*
 * http.c: the embedded HTTP server (see http.h).
 */
#include "http.h"

int
http_init(char **cause)
{
	(void)cause;
	return (0);
}

void
http_release(void)
{
}
