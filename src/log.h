/*
 * log.h: the log sink.
 *
 * One sink for the whole process (stderr in foreground, a file when
 * daemonized).  The macros check the level before formatting anything.
 * Messages are lower case with no full stop, failure first, subject quoted.
 * Thread-safe: each line is written with one write(2).
 */
#ifndef LOG_H
#define LOG_H

#include <stdarg.h>

enum log_level {
	LOG_L_ERROR = 0,
	LOG_L_WARNING,
	LOG_L_NOTICE,
	LOG_L_INFO,
	LOG_L_DEBUG,
};

extern enum log_level log_level;

int	 log_open(const char *path, const char *level, char **cause);
void	 log_close(void);
int	 log_parse_level(const char *, enum log_level *);
void	 log_write(enum log_level, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 log_vwrite(enum log_level, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx_errno(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#define log_at(l, ...) do {						\
	if ((l) <= log_level)						\
		log_write((l), __VA_ARGS__);				\
} while (0)
#define log_err(...)	log_at(LOG_L_ERROR, __VA_ARGS__)
#define log_warn(...)	log_at(LOG_L_WARNING, __VA_ARGS__)
#define log_notice(...)	log_at(LOG_L_NOTICE, __VA_ARGS__)
#define log_info(...)	log_at(LOG_L_INFO, __VA_ARGS__)
#define log_debug(...)	log_at(LOG_L_DEBUG, __VA_ARGS__)

#endif
