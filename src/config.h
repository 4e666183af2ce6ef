/*
 * config.h: the configuration (see config_table.h for the keys).
 *
 * A struct config holds one typed field per key of CONFIG_TABLE, named by
 * its path with '.' -> '_' (config->mqtt_max_inflight), plus the listeners.
 * config_new() fills every default; config_load_file(), config_load_env()
 * and config_check() are applied to a fresh config, which is swapped in only
 * once it has passed all three.  A struct config is never modified after it
 * is published as `config`, so any thread may read it.
 *
 * Units: DURATION fields are milliseconds, SIZE fields bytes, RATE fields
 * per second (INFINITY, from math.h, when unlimited).  Integer fields that
 * accept "infinity" hold CONFIG_INFINITY.  ENUM fields are int and hold the
 * constants of the matching enum config_* below.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config_table.h"

#define CONFIG_INFINITY	INT64_MAX

struct config_strlist {
	char		**v;
	size_t		  n;
};

#define CONFIG_CTYPE_STRING	char *
#define CONFIG_CTYPE_BOOL	bool
#define CONFIG_CTYPE_INT	int64_t
#define CONFIG_CTYPE_DURATION	int64_t
#define CONFIG_CTYPE_SIZE	int64_t
#define CONFIG_CTYPE_FLOAT	double
#define CONFIG_CTYPE_RATE	double
#define CONFIG_CTYPE_BYTERATE	double
#define CONFIG_CTYPE_ENUM	int
#define CONFIG_CTYPE_KEYWORD	char *
#define CONFIG_CTYPE_STRLIST	struct config_strlist

#define CONFIG_FIELD(path, field, type, choices, def, min, max, flags,	\
	    help)							\
	CONFIG_CTYPE_##type field;
#define CONFIG_ENUM_CONST(c, s)	c,
#define CONFIG_ENUM_SKIP(s)
#define CONFIG_ENUM_DECL(list, tag)					\
	enum config_##tag {						\
		CONFIG_CHOICES_##list(CONFIG_ENUM_CONST, CONFIG_ENUM_SKIP) \
	};
CONFIG_ENUMS(CONFIG_ENUM_DECL)

enum config_listener_type {
	CONFIG_L_TCP,
	CONFIG_L_SSL,
	CONFIG_L_WS,
	CONFIG_L_WSS,
};

struct config_listener {
	enum config_listener_type type;
	char		*name;		/* "default" */
	char		*id;		/* "tcp:default" */
	LISTENER_TABLE(CONFIG_FIELD)
};

struct config_prov;

struct config {
	CONFIG_TABLE(CONFIG_FIELD)
	struct config_listener	*listeners;
	size_t			 n_listeners;
	struct config_prov	*prov;	/* where each value came from */
};

extern struct config *config;	/* the running one, defined by main.c */

struct config	*config_new(void);
void		 config_free(struct config *);
/*
 * Load YAML over c.  Errors look like "FILE:LINE:COL: KEY: what (allowed:
 * ...)".  On failure c is partly loaded: discard it.
 */
int		 config_load_file(struct config *, const char *path,
		    char **cause);
/* The same from a buffer; name is used for FILE in messages. */
int		 config_load_string(struct config *, const char *name,
		    const char *buf, size_t len, char **cause);
/* Apply FLOCKMQ_A__B=v and EMQX_A__B=v from envp (NULL-terminated). */
int		 config_load_env(struct config *, char *const *envp,
		    char **cause);
/* Cross-key checks: node names, binds and clashes, TLS certificates. */
int		 config_check(const struct config *, char **cause);
/* The effective configuration as YAML, every key. */
void		 config_dump(const struct config *, FILE *);
/* The commented example file: every key with its help and default. */
void		 config_example(FILE *);
const struct config_listener *config_find_listener(const struct config *,
		    const char *id);
/*
 * Split a bind ("1883", ":1883", "127.0.0.1:1883", "[::1]:1883") into an IP
 * literal ("0.0.0.0" for a bare port, no brackets; caller frees) and a port
 * (1..65535).  Host names are refused.
 */
int		 config_split_bind(const char *bind, char **host,
		    uint16_t *port);
/* "tcp", "ssl", "ws" or "wss". */
const char	*config_listener_type_name(enum config_listener_type);

#endif
