/*
 * log.c: the log sink (see log.h).
 *
 * Lines look like "2026-11-27T05:40:01.123Z [info] text".  Each is built in
 * a stack buffer and written with one write(2), so lines from different
 * threads never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"

enum log_level	 log_level = LOG_L_INFO;
static int	 log_fd = 2;

static const char *log_names[] = {
	"error", "warning", "notice", "info", "debug"
};

/* Map a level name (EMQX's names; "warn" too) to its value. */
int
log_parse_level(const char *s, enum log_level *l)
{
	size_t	 i;

	if (strcmp(s, "warn") == 0) {
		*l = LOG_L_WARNING;
		return (0);
	}
	if (strcmp(s, "critical") == 0 || strcmp(s, "alert") == 0 ||
	    strcmp(s, "emergency") == 0) {
		*l = LOG_L_ERROR;
		return (0);
	}
	for (i = 0; i < sizeof log_names / sizeof log_names[0]; i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*l = (enum log_level)i;
			return (0);
		}
	}
	return (-1);
}

/* Open the sink: a file path, or NULL for stderr. */
int
log_open(const char *path, const char *level, char **cause)
{
	int	 fd;

	if (level != NULL && log_parse_level(level, &log_level) != 0) {
		xasprintf(cause, "log: unknown level '%s'", level);
		return (-1);
	}
	if (path == NULL || *path == '\0')
		return (0);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd == -1) {
		xasprintf(cause, "log: cannot open '%s': %s", path,
		    strerror(errno));
		return (-1);
	}
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	return (0);
}

/* Close a file sink and go back to stderr. */
void
log_close(void)
{
	if (log_fd > 2)
		close(log_fd);
	log_fd = 2;
}

/* Format and write one line. */
void
log_vwrite(enum log_level l, const char *fmt, va_list ap)
{
	char		 line[2048];
	struct timeval	 tv;
	struct tm	 tm;
	size_t		 n;
	int		 r;
	ssize_t		 w;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof line - n, ".%03dZ [%s] ",
	    (int)(tv.tv_usec / 1000), log_names[l]);
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
	if (r > 0)
		n += (size_t)r < sizeof line - n - 1 ? (size_t)r :
		    sizeof line - n - 2;
	line[n++] = '\n';
	do
		w = write(log_fd, line, n);
	while (w == -1 && errno == EINTR);
}

/* Write one line at level l. */
void
log_write(enum log_level l, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(l, fmt, ap);
	va_end(ap);
}

/* Log and exit: for start-up failures and out-of-memory only. */
void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_L_ERROR, fmt, ap);
	va_end(ap);
	exit(1);
}

/* Log with strerror(errno) appended and exit. */
void
fatalx_errno(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 saved = errno;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	log_write(LOG_L_ERROR, "%s: %s", s != NULL ? s : fmt,
	    strerror(saved));
	exit(1);
}
