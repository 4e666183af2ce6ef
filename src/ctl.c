/*
 * ctl.c: `flockmq ctl ...` (see ctl.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "ctl.h"
#include "xmalloc.h"

char *
ctl_socket_path(void)
{
	char	*p;

	xasprintf(&p, "%s/ctl.sock", config->node_data_dir);
	return (p);
}

int
ctl_main(int argc, char **argv)
{
	fprintf(stderr, "flockmq ctl: not yet\n");
	return (2);
}
