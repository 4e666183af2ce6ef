/*
 * admin_ui.h: the dashboard's files (admin-ui/), embedded at build time by
 * build-aux/embed-admin-ui into the generated src/admin_ui.c.
 */
#ifndef ADMIN_UI_H
#define ADMIN_UI_H

#include <stddef.h>

struct admin_ui_file {
	const char		*path;	/* "/index.html" */
	const char		*type;	/* Content-Type */
	const unsigned char	*data;
	size_t			 len;
};

/* Ends with an entry whose path is NULL. */
extern const struct admin_ui_file admin_ui_files[];

#endif
