/*
 * config.c: load, check and write the configuration (see config.h).
 *
 * Everything is driven by the tables of config_table.h: config_opts[] and
 * listener_opts[] describe each key (path, field offset, type, range), and
 * one parser per type turns a string into a field.  Defaults go through the
 * same parsers as configured values, and the YAML writers print each type
 * in a form its parser reads back to the same value.
 *
 * Loading walks the libyaml document tree, building each value's dotted
 * path on the way down, so nested mappings and dotted keys
 * ("mqtt.max_inflight: 64") are the same thing.  A path is resolved against
 * the tables (after the aliases) only where the tree ends in a value.
 * Environment variables become a path and a YAML value and take the same
 * route.  The first error stops loading; its message names the place
 * (FILE:LINE:COL or the variable), the key and what is wrong.  Where each
 * value came from is kept in struct config_prov for config_check().
 *
 * Not thread-safe while loading; a loaded config is read-only.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "buf.h"
#include "config.h"
#include "log.h"
#include "xmalloc.h"

#define nitems(a)		(sizeof (a) / sizeof (a)[0])
#define CONFIG_MAX_DEPTH	32	/* nesting of mappings */
#define CONFIG_MAX_NODES	100000	/* nodes visited, aliases expanded */
#define CONFIG_MAX_PATH		512
#define CONFIG_MAX_NAME		64	/* listener names */
#define CONFIG_MAX_SEGS		16

enum config_type {
	CT_STRING,
	CT_BOOL,
	CT_INT,
	CT_DURATION,
	CT_SIZE,
	CT_FLOAT,
	CT_RATE,
	CT_BYTERATE,
	CT_ENUM,
	CT_KEYWORD,
	CT_STRLIST,
};

struct config_opt {
	const char		*path;
	size_t			 off;
	enum config_type	 type;
	const char *const	*names;		/* allowed values, or NULL */
	const char *const	*unsupported;	/* EMQX values refused */
	const char		*def;
	double			 min;
	double			 max;		/* CONFIG_NOMAX: none */
	int			 flags;
	const char		*help;
};

#define CONFIG_NAME(c, s)	s,
#define CONFIG_SKIP2(c, s)
#define CONFIG_UNSUP(s)		s,
#define CONFIG_NAMES(list, tag)						\
static const char *const config_names_##list[] = {			\
	CONFIG_CHOICES_##list(CONFIG_NAME, CONFIG_ENUM_SKIP) NULL	\
};									\
static const char *const config_unsup_##list[] = {			\
	CONFIG_CHOICES_##list(CONFIG_SKIP2, CONFIG_UNSUP) NULL		\
};
CONFIG_ENUMS(CONFIG_NAMES)
#define config_names_NONE	NULL
#define config_unsup_NONE	NULL

#define CONFIG_OPT(st, path, field, type, choices, def, min, max, flags, \
	    help)							\
	{ path, offsetof(struct st, field), CT_##type,			\
	    config_names_##choices, config_unsup_##choices, def, min, max, \
	    flags, help },
#define CONFIG_GOPT(...)	CONFIG_OPT(config, __VA_ARGS__)
#define CONFIG_LOPT(...)	CONFIG_OPT(config_listener, __VA_ARGS__)

static const struct config_opt config_opts[] = {
	CONFIG_TABLE(CONFIG_GOPT)
};
static const struct config_opt listener_opts[] = {
	LISTENER_TABLE(CONFIG_LOPT)
};

struct config_alias {
	const char	*from;
	const char	*to;
	int		 env_only;
};

#define CONFIG_ALIAS(from, to, env_only)	{ from, to, env_only },
static const struct config_alias config_aliases[] = {
	CONFIG_ALIASES(CONFIG_ALIAS)
};
static const struct config_alias listener_aliases[] = {
	LISTENER_ALIASES(CONFIG_ALIAS)
};

#define CONFIG_SECTION(name, help)	{ name, help },
static const struct {
	const char	*name;
	const char	*help;
} config_sections[] = {
	CONFIG_SECTIONS(CONFIG_SECTION)
};

/* What each type is called in "expected ..." messages. */
static const char *const config_what[] = {
	[CT_STRING] = "a string",
	[CT_BOOL] = "true or false",
	[CT_INT] = "an integer",
	[CT_DURATION] = "a duration (100ms, 5s, 10m, 1h, 2d)",
	[CT_SIZE] = "a size (512B, 64KB, 1MB, 1GB)",
	[CT_FLOAT] = "a number",
	[CT_RATE] = "a rate (1000/s, 100/10s)",
	[CT_BYTERATE] = "a rate (1MB/s, 10KB/m)",
	[CT_ENUM] = "a name",
	[CT_KEYWORD] = "a name",
	[CT_STRLIST] = "a list",
};

static const struct {
	const char	*name;
	const char	*bind;		/* when a listener has none */
} config_ltypes[] = {
	[CONFIG_L_TCP] = { "tcp", "0.0.0.0:1883" },
	[CONFIG_L_SSL] = { "ssl", "0.0.0.0:8883" },
	[CONFIG_L_WS] = { "ws", "0.0.0.0:8083" },
	[CONFIG_L_WSS] = { "wss", "0.0.0.0:8084" },
};

struct config_unit {
	const char	*name;
	int64_t		 mult;
};

/* Largest first: the writers pick the first unit that divides exactly. */
static const struct config_unit config_dunits[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 },
	{ "ms", 1 }, { NULL, 0 }
};
static const struct config_unit config_sunits[] = {
	{ "GB", 1 << 30 }, { "MB", 1 << 20 }, { "KB", 1 << 10 }, { "B", 1 },
	{ NULL, 0 }
};

/* Environment prefixes: EMQX_ first so that FLOCKMQ_ wins. */
static const struct {
	const char	*prefix;
	int		 strict;	/* unknown roots are errors */
} config_env_prefixes[] = {
	{ "EMQX_", 0 },
	{ "FLOCKMQ_", 1 },
};

/* FLOCKMQ_ variables that belong to tools, not to the configuration. */
static const char *const config_env_ignored[] = {
	"FLOCKMQ_TEST_",
};

struct config_prov {
	char	*key[nitems(config_opts)];
	char	*(*lst)[nitems(listener_opts)];
};

/* A loading pass: one file, or one environment variable. */
struct config_load {
	struct config	*c;
	const char	*name;
	int		 env;
	yaml_document_t	*doc;
	size_t		 nodes;
	char		*cause;
};

enum config_kind {
	CK_UNKNOWN,
	CK_INNER,	/* a prefix of keys */
	CK_LISTENER,	/* listeners.TYPE.NAME */
	CK_KEY,
	CK_LKEY,	/* a key of a listener */
};

struct config_ref {
	enum config_kind	 kind;
	size_t			 idx;
	enum config_listener_type ltype;
	char			*lname;
	char			*why;	/* CK_UNKNOWN with a better message */
};

/* Free a string list's elements. */
static void
config_strlist_free(struct config_strlist *l)
{
	size_t	 i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* Free what a field owns. */
static void
config_field_free(const struct config_opt *o, void *p)
{
	if (o->type == CT_STRING || o->type == CT_KEYWORD) {
		free(*(char **)p);
		*(char **)p = NULL;
	} else if (o->type == CT_STRLIST)
		config_strlist_free(p);
}

/* Compare without case, s against a NUL-terminated name, n bytes of s. */
static int
config_casematch(const char *s, size_t n, const char *name)
{
	return (strlen(name) == n && strncasecmp(s, name, n) == 0);
}

/* Append ", "-separated names to b. */
static void
config_join(struct buf *b, const char *const *names)
{
	size_t	 i;

	for (i = 0; names[i] != NULL; i++) {
		if (i > 0)
			buf_add(b, ", ", 2);
		buf_add(b, names[i], strlen(names[i]));
	}
}

/* Take a buf's bytes as a C string. */
static char *
config_buf_str(struct buf *b)
{
	char	*s;

	buf_add_u8(b, '\0');
	s = xstrdup((const char *)buf_head(b));
	buf_release(b);
	return (s);
}

/*
 * Decode one UTF-8 sequence at s (n bytes left): returns its length and
 * the code point, or 0 if it is not valid UTF-8.
 */
static size_t
config_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t	 len, i;
	uint32_t min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return (1);
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		*cp = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		*cp = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		*cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return (0);
	if (len > n)
		return (0);
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return (0);
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return (0);
	return (len);
}

/* Is s valid UTF-8? */
static int
config_valid_utf8(const char *s)
{
	size_t		 len = strlen(s), n, i;
	uint32_t	 cp;

	for (i = 0; i < len; i += n) {
		if ((n = config_utf8((const unsigned char *)s + i, len - i,
		    &cp)) == 0)
			return (0);
	}
	return (1);
}

/* Parse decimal digits at *sp into *v; false if none or too large. */
static int
config_digits(const char **sp, int64_t *v, int *overflow)
{
	const char	*s = *sp;
	int64_t		 n = 0;

	if (!isdigit((unsigned char)*s))
		return (0);
	for (; isdigit((unsigned char)*s); s++) {
		if (n > (INT64_MAX - 1 - (*s - '0')) / 10) {
			*overflow = 1;
			return (0);
		}
		n = n * 10 + (*s - '0');
	}
	*sp = s;
	*v = n;
	return (1);
}

/* Parse a decimal number ("1", "1.5", "2e3") at *sp; false if there is none. */
static int
config_number(const char **sp, int sign, double *v)
{
	const char	*s = *sp, *start = s;
	char		*copy, *end;

	if (sign && (*s == '-' || *s == '+'))
		s++;
	if (!isdigit((unsigned char)*s))
		return (0);
	while (isdigit((unsigned char)*s))
		s++;
	if (*s == '.' && isdigit((unsigned char)s[1])) {
		for (s++; isdigit((unsigned char)*s); s++)
			;
	}
	if ((*s == 'e' || *s == 'E') && (isdigit((unsigned char)s[1]) ||
	    ((s[1] == '-' || s[1] == '+') && isdigit((unsigned char)s[2])))) {
		for (s += 2; isdigit((unsigned char)*s); s++)
			;
	}
	copy = xstrndup(start, (size_t)(s - start));
	*v = strtod(copy, &end);
	free(copy);
	*sp = s;
	return (1);
}

/* Find the unit spelled s[0..n) (any case) in a table. */
static const struct config_unit *
config_unit(const struct config_unit *t, const char *s, size_t n)
{
	for (; t->name != NULL; t++) {
		if (config_casematch(s, n, t->name))
			return (t);
	}
	return (NULL);
}

/* Parse "5s", "1h30m", "100ms" or bare milliseconds ("500"). */
static int
config_parse_duration(const char *s, int64_t *v, int *overflow)
{
	const struct config_unit *u;
	const char		*w;
	int64_t			 n, total = 0;

	if (config_digits(&s, &n, overflow) && *s == '\0') {
		*v = n;
		return (1);
	}
	if (*overflow)
		return (0);
	for (;;) {
		for (w = s; isalpha((unsigned char)*w); w++)
			;
		if ((u = config_unit(config_dunits, s, (size_t)(w - s))) ==
		    NULL)
			return (0);
		if (n > (INT64_MAX - 1 - total) / u->mult) {
			*overflow = 1;
			return (0);
		}
		total += n * u->mult;
		if (*(s = w) == '\0')
			break;
		if (!config_digits(&s, &n, overflow))
			return (0);
	}
	*v = total;
	return (1);
}

/* Parse "64KB", "1mb", "512B" or bare bytes. */
static int
config_parse_size(const char *s, int64_t *v, int *overflow)
{
	const struct config_unit *u;
	int64_t			 n;

	if (!config_digits(&s, &n, overflow))
		return (0);
	if (*s == '\0') {
		*v = n;
		return (1);
	}
	if ((u = config_unit(config_sunits, s, strlen(s))) == NULL)
		return (0);
	if (n > (INT64_MAX - 1) / u->mult) {
		*overflow = 1;
		return (0);
	}
	*v = n * u->mult;
	return (1);
}

/* Parse "1000/s", "100/10s", "1MB/s" (bytes), "500" (per second). */
static int
config_parse_rate(const char *s, int bytes, double *v)
{
	const struct config_unit *u = NULL;
	const char		*w;
	char			*den = NULL;
	double			 n;
	int64_t			 ms = 1000;
	int			 overflow = 0, ok;

	if (!config_number(&s, 0, &n))
		return (0);
	for (w = s; isalpha((unsigned char)*w); w++)
		;
	if (w != s && (!bytes ||
	    (u = config_unit(config_sunits, s, (size_t)(w - s))) == NULL))
		return (0);
	if (u != NULL)
		n *= (double)u->mult;
	if (*w != '\0') {
		if (*w++ != '/')
			return (0);
		xasprintf(&den, "%s%s", isdigit((unsigned char)*w) ? "" : "1",
		    w);
		ok = config_parse_duration(den, &ms, &overflow);
		free(den);
		if (!ok || ms == 0)
			return (0);
	}
	*v = n / ((double)ms / 1000.0);
	return (1);
}

/* Match s against a value list; returns the index or -1. */
static int
config_choice(const char *const *names, const char *s)
{
	int	 i;

	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(names[i], s) == 0)
			return (i);
	}
	return (-1);
}

/* Explain why s is not in o's value list. */
static void
config_bad_choice(const struct config_opt *o, const char *s, char **why)
{
	struct buf	 b;
	const char	*fmt = "unknown value '%s'";
	char		*msg;

	buf_init(&b);
	if (o->unsupported != NULL && config_choice(o->unsupported, s) != -1)
		fmt = "'%s' is not supported by flockmq";
	xasprintf(&msg, fmt, s);
	buf_add(&b, msg, strlen(msg));
	free(msg);
	buf_add(&b, " (allowed: ", 11);
	config_join(&b, o->names);
	buf_add_u8(&b, ')');
	*why = config_buf_str(&b);
}

/* Validate and take a list of strings for o. */
static int
config_store_list(const struct config_opt *o, char **v, size_t n, void *dst,
    char **why)
{
	struct config_strlist	*l = dst;
	size_t			 i;

	for (i = 0; o->names != NULL && i < n; i++) {
		if (config_choice(o->names, v[i]) == -1) {
			config_bad_choice(o, v[i], why);
			goto fail;
		}
	}
	config_strlist_free(l);
	l->v = v;
	l->n = n;
	return (0);

fail:
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return (-1);
}

/* Split "a, b,c" or "[a,b]" into a list. */
static int
config_parse_list(const struct config_opt *o, const char *s, void *dst,
    char **why)
{
	const char	*end, *comma;
	char		**v = NULL;
	size_t		 n = 0, len;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	if (end - s >= 2 && *s == '[' && end[-1] == ']') {
		s++;
		end--;
	}
	while (s < end) {
		if ((comma = memchr(s, ',', (size_t)(end - s))) == NULL)
			comma = end;
		len = (size_t)(comma - s);
		while (len > 0 && isspace((unsigned char)*s)) {
			s++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)s[len - 1]))
			len--;
		if (len > 0) {
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n++] = xstrndup(s, len);
		}
		s = comma + 1;
	}
	return (config_store_list(o, v, n, dst, why));
}

/* Write an int64 in the largest unit that divides it exactly. */
static char *
config_fmt_units(const struct config_unit *t, int64_t v)
{
	char	*s;

	if (v == 0)
		return (xstrdup(t == config_dunits ? "0s" : "0B"));
	while (v % t->mult != 0)
		t++;
	xasprintf(&s, "%lld%s", (long long)(v / t->mult), t->name);
	return (s);
}

/* The shortest "%g" that reads back as exactly v. */
static char *
config_fmt_double(double v)
{
	char	*s;
	int	 prec;

	for (prec = 15; prec <= 17; prec++) {
		xasprintf(&s, "%.*g", prec, v);
		if (strtod(s, NULL) == v || prec == 17)
			break;
		free(s);
	}
	return (s);
}

/* Write a rate per second as N/s, N/m or N/h, sizes for byte rates. */
static char *
config_fmt_rate(double v, int bytes)
{
	static const struct {
		const char	*unit;
		double		 secs;
	} dens[] = { { "s", 1 }, { "m", 60 }, { "h", 3600 } };
	char		*s, *num;
	double		 n;
	size_t		 i;

	if (isinf(v))
		return (xstrdup("infinity"));
	for (i = 0; i < nitems(dens); i++) {
		n = rint(v * dens[i].secs);
		if (n < 1 || n > 1e15 || n / dens[i].secs != v)
			continue;
		if (bytes)
			num = config_fmt_units(config_sunits, (int64_t)n);
		else
			xasprintf(&num, "%.0f", n);
		xasprintf(&s, "%s/%s", num, dens[i].unit);
		free(num);
		return (s);
	}
	num = config_fmt_double(v);
	xasprintf(&s, "%s/s", num);
	free(num);
	return (s);
}

/* Write s as a double-quoted YAML scalar into b. */
static void
config_fmt_quoted(struct buf *b, const char *s)
{
	const unsigned char	*u = (const unsigned char *)s;
	char			 esc[16];
	size_t			 len = strlen(s), n, i;
	uint32_t		 cp;

	buf_add_u8(b, '"');
	for (i = 0; i < len; i += n) {
		if ((n = config_utf8(u + i, len - i, &cp)) == 0) {
			n = 1;
			cp = u[i];
		}
		if (cp == '"' || cp == '\\') {
			buf_add_u8(b, '\\');
			buf_add_u8(b, (uint8_t)cp);
		} else if (cp >= 0x20 && cp < 0x7f)
			buf_add_u8(b, (uint8_t)cp);
		else if (n > 1 && cp >= 0xa0 && cp != 0xfeff &&
		    !(cp >= 0xfffe && cp <= 0xffff))
			buf_add(b, u + i, n);
		else {
			if (cp > 0xffff)
				snprintf(esc, sizeof esc, "\\U%08x", cp);
			else if (cp > 0xff)
				snprintf(esc, sizeof esc, "\\u%04x", cp);
			else
				snprintf(esc, sizeof esc, "\\x%02x", cp);
			buf_add(b, esc, strlen(esc));
		}
	}
	buf_add_u8(b, '"');
}

/* Write field p of o as YAML that config_parse() reads back unchanged. */
static char *
config_fmt(const struct config_opt *o, const void *p)
{
	const struct config_strlist	*l = p;
	struct buf			 b;
	int64_t				 i = 0;
	char				*s;
	size_t				 k;

	if (o->type == CT_INT || o->type == CT_DURATION || o->type == CT_SIZE) {
		i = *(const int64_t *)p;
		if ((o->flags & CONFIG_F_INF) && i == CONFIG_INFINITY)
			return (xstrdup("infinity"));
		if ((o->flags & CONFIG_F_DISABLED) && i == 0)
			return (xstrdup("disabled"));
	}
	switch (o->type) {
	case CT_BOOL:
		return (xstrdup(*(const bool *)p ? "true" : "false"));
	case CT_INT:
		xasprintf(&s, "%lld", (long long)i);
		return (s);
	case CT_DURATION:
		return (config_fmt_units(config_dunits, i));
	case CT_SIZE:
		return (config_fmt_units(config_sunits, i));
	case CT_FLOAT:
		return (config_fmt_double(*(const double *)p));
	case CT_RATE:
	case CT_BYTERATE:
		return (config_fmt_rate(*(const double *)p,
		    o->type == CT_BYTERATE));
	case CT_ENUM:
		return (xstrdup(o->names[*(const int *)p]));
	case CT_KEYWORD:
		return (xstrdup(*(char *const *)p));
	case CT_STRING:
	case CT_STRLIST:
		break;
	}
	buf_init(&b);
	if (o->type == CT_STRING)
		config_fmt_quoted(&b, *(char *const *)p);
	else {
		buf_add_u8(&b, '[');
		for (k = 0; k < l->n; k++) {
			if (k > 0)
				buf_add(&b, ", ", 2);
			config_fmt_quoted(&b, l->v[k]);
		}
		buf_add_u8(&b, ']');
	}
	return (config_buf_str(&b));
}

/* A number in o's unit, for range messages. */
static char *
config_fmt_bound(const struct config_opt *o, double v)
{
	char	*s;

	if (o->type == CT_DURATION)
		return (config_fmt_units(config_dunits, (int64_t)v));
	if (o->type == CT_SIZE)
		return (config_fmt_units(config_sunits, (int64_t)v));
	xasprintf(&s, "%g", v);
	return (s);
}

/* Describe o's range: "1..65535", "at least 1"; NULL if it has none. */
static char *
config_fmt_range(const struct config_opt *o)
{
	char	*lo, *hi, *s;

	if (o->type != CT_INT && o->type != CT_DURATION &&
	    o->type != CT_SIZE && o->type != CT_FLOAT)
		return (NULL);
	lo = config_fmt_bound(o, o->min);
	if (o->max == CONFIG_NOMAX)
		xasprintf(&s, "at least %s", lo);
	else {
		hi = config_fmt_bound(o, o->max);
		xasprintf(&s, "%s..%s", lo, hi);
		free(hi);
	}
	free(lo);
	return (s);
}

/* Check a parsed number against o's range; sets *why if it is out. */
static int
config_in_range(const struct config_opt *o, const char *s, double v,
    char **why)
{
	char	*range;

	if (o->type != CT_INT && o->type != CT_DURATION &&
	    o->type != CT_SIZE && o->type != CT_FLOAT)
		return (0);
	if (v >= o->min && (o->max == CONFIG_NOMAX || v <= o->max))
		return (0);
	range = config_fmt_range(o);
	xasprintf(why, "%s is out of range (%s)", s, range);
	free(range);
	return (-1);
}

/* Parse s as a value of o and store it in dst; sets *why on error. */
static int
config_parse(const struct config_opt *o, const char *s, void *dst,
    char **why)
{
	const char	*p = s;
	int64_t		 i = 0;
	double		 d = 0;
	int		 overflow = 0, ok = 0, c;

	if ((o->flags & CONFIG_F_INF) && strcmp(s, "infinity") == 0) {
		i = CONFIG_INFINITY;
		goto store;
	}
	if ((o->flags & CONFIG_F_DISABLED) && strcmp(s, "disabled") == 0) {
		i = 0;
		goto store;
	}
	switch (o->type) {
	case CT_STRING:
		if (!config_valid_utf8(s)) {
			*why = xstrdup("not valid UTF-8");
			return (-1);
		}
		free(*(char **)dst);
		*(char **)dst = xstrdup(s);
		return (0);
	case CT_BOOL:
		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
		    strcasecmp(s, "on") == 0)
			i = ok = 1;
		else if (strcasecmp(s, "false") == 0 ||
		    strcasecmp(s, "no") == 0 || strcasecmp(s, "off") == 0)
			ok = 1;
		break;
	case CT_INT:
		if (*p == '-')
			p++;
		ok = config_digits(&p, &i, &overflow) && *p == '\0';
		if (ok && *s == '-')
			i = -i;
		break;
	case CT_DURATION:
		ok = config_parse_duration(s, &i, &overflow);
		break;
	case CT_SIZE:
		ok = config_parse_size(s, &i, &overflow);
		break;
	case CT_FLOAT:
		ok = config_number(&p, 1, &d) && *p == '\0' && isfinite(d);
		break;
	case CT_RATE:
	case CT_BYTERATE:
		if (strcmp(s, "infinity") == 0) {
			*(double *)dst = INFINITY;
			return (0);
		}
		ok = config_parse_rate(s, o->type == CT_BYTERATE, &d);
		if (ok && (!isfinite(d) || d <= 0)) {
			xasprintf(why, "'%s' must be a positive rate or "
			    "infinity", s);
			return (-1);
		}
		break;
	case CT_ENUM:
	case CT_KEYWORD:
		if ((c = config_choice(o->names, s)) == -1) {
			config_bad_choice(o, s, why);
			return (-1);
		}
		if (o->type == CT_ENUM)
			*(int *)dst = c;
		else {
			free(*(char **)dst);
			*(char **)dst = xstrdup(o->names[c]);
		}
		return (0);
	case CT_STRLIST:
		return (config_parse_list(o, s, dst, why));
	}
	if (overflow) {
		xasprintf(why, "'%s' is too large", s);
		return (-1);
	}
	if (!ok) {
		xasprintf(why, "expected %s%s%s, got '%s'",
		    config_what[o->type],
		    (o->flags & CONFIG_F_INF) ? " or infinity" : "",
		    (o->flags & CONFIG_F_DISABLED) ? " or disabled" : "", s);
		return (-1);
	}
	if (o->type == CT_FLOAT || o->type == CT_RATE ||
	    o->type == CT_BYTERATE) {
		if (config_in_range(o, s, d, why) != 0)
			return (-1);
		*(double *)dst = d;
		return (0);
	}
	if (o->type != CT_BOOL && config_in_range(o, s, (double)i, why) != 0)
		return (-1);
store:
	if (o->type == CT_BOOL)
		*(bool *)dst = i != 0;
	else
		*(int64_t *)dst = i;
	return (0);
}

/* Parse a table default; a bad one is a bug in config_table.h. */
static void
config_default(const struct config_opt *o, void *dst)
{
	char	*why = NULL;

	if (config_parse(o, o->def, dst, &why) != 0)
		fatal("config: bad default for '%s': %s", o->path, why);
}

/* Find the key path exactly in table t; returns its index or -1. */
static ssize_t
config_find(const struct config_opt *t, size_t n, const char *path)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strcmp(t[i].path, path) == 0)
			return ((ssize_t)i);
	}
	return (-1);
}

/* Is "prefix." the start of a key of t or of an alias? */
static int
config_is_prefix(const struct config_opt *t, size_t n,
    const struct config_alias *a, size_t na, const char *prefix, int env)
{
	size_t	 len = strlen(prefix), i;

	for (i = 0; i < n; i++) {
		if (strncmp(t[i].path, prefix, len) == 0 &&
		    t[i].path[len] == '.')
			return (1);
	}
	for (i = 0; i < na; i++) {
		if ((env || !a[i].env_only) &&
		    strncmp(a[i].from, prefix, len) == 0 &&
		    a[i].from[len] == '.')
			return (1);
	}
	return (0);
}

/* Rewrite an aliased path (or prefix of one); returns a new string. */
static char *
config_unalias(const struct config_alias *a, size_t na, const char *path,
    int env)
{
	size_t	 i, len;
	char	*s;

	for (i = 0; i < na; i++) {
		if (a[i].env_only && !env)
			continue;
		len = strlen(a[i].from);
		if (strncmp(path, a[i].from, len) == 0 &&
		    (path[len] == '\0' || path[len] == '.')) {
			xasprintf(&s, "%s%s", a[i].to, path + len);
			return (s);
		}
	}
	return (xstrdup(path));
}

/* Is name a valid listener name: [a-z0-9_-]+? */
static int
config_valid_lname(const char *name, size_t len)
{
	size_t	 i;

	if (len == 0 || len > CONFIG_MAX_NAME)
		return (0);
	for (i = 0; i < len; i++) {
		if (!islower((unsigned char)name[i]) &&
		    !isdigit((unsigned char)name[i]) && name[i] != '_' &&
		    name[i] != '-')
			return (0);
	}
	return (1);
}

/* Resolve a listeners.TYPE.NAME... path. */
static void
config_resolve_listener(const char *path, int env, struct config_ref *r)
{
	const char	*t = path + strlen("listeners."), *name, *rest;
	char		*sub;
	size_t		 i, len;
	ssize_t		 idx;

	name = strchr(t, '.');
	len = name == NULL ? strlen(t) : (size_t)(name - t);
	for (i = 0; i < nitems(config_ltypes); i++) {
		if (strlen(config_ltypes[i].name) == len &&
		    strncmp(t, config_ltypes[i].name, len) == 0)
			break;
	}
	if (i == nitems(config_ltypes)) {
		xasprintf(&r->why, "unknown listener type '%.*s' in '%s' "
		    "(allowed: tcp, ssl, ws, wss)", (int)len, t, path);
		return;
	}
	r->ltype = (enum config_listener_type)i;
	if (name == NULL) {
		r->kind = CK_INNER;
		return;
	}
	name++;
	rest = strchr(name, '.');
	if (!config_valid_lname(name, rest == NULL ? strlen(name) :
	    (size_t)(rest - name))) {
		xasprintf(&r->why, "invalid listener name in '%s' (a name is "
		    "1 to %d of a-z, 0-9, _ and -)", path, CONFIG_MAX_NAME);
		return;
	}
	r->lname = rest == NULL ? xstrdup(name) :
	    xstrndup(name, (size_t)(rest - name));
	if (rest == NULL) {
		r->kind = CK_LISTENER;
		return;
	}
	sub = config_unalias(listener_aliases, nitems(listener_aliases),
	    rest + 1, env);
	if ((idx = config_find(listener_opts, nitems(listener_opts),
	    sub)) != -1) {
		r->kind = CK_LKEY;
		r->idx = (size_t)idx;
	} else if (config_is_prefix(listener_opts, nitems(listener_opts),
	    listener_aliases, nitems(listener_aliases), sub, env))
		r->kind = CK_INNER;
	free(sub);
}

/* Resolve a dotted path against the tables. */
static void
config_resolve(const char *path, int env, struct config_ref *r)
{
	char	*canon;
	ssize_t	 idx;

	memset(r, 0, sizeof *r);
	if (*path == '\0') {
		r->kind = CK_INNER;
		return;
	}
	canon = config_unalias(config_aliases, nitems(config_aliases), path,
	    env);
	if (strcmp(canon, "listeners") == 0)
		r->kind = CK_INNER;
	else if (strncmp(canon, "listeners.", 10) == 0)
		config_resolve_listener(canon, env, r);
	else if ((idx = config_find(config_opts, nitems(config_opts),
	    canon)) != -1) {
		r->kind = CK_KEY;
		r->idx = (size_t)idx;
	} else if (config_is_prefix(config_opts, nitems(config_opts),
	    config_aliases, nitems(config_aliases), canon, env))
		r->kind = CK_INNER;
	free(canon);
}

/* Release what a resolution holds. */
static void
config_ref_release(struct config_ref *r)
{
	free(r->lname);
	free(r->why);
}

/* Edit distance between a and b (both shorter than CONFIG_MAX_PATH). */
static size_t
config_distance(const char *a, const char *b)
{
	size_t	 la = strlen(a), lb = strlen(b), i, j, d[2][CONFIG_MAX_PATH];
	size_t	 sub, *prev, *cur;

	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		prev = d[(i - 1) % 2];
		cur = d[i % 2];
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			cur[j] = prev[j] + 1 < cur[j - 1] + 1 ?
			    prev[j] + 1 : cur[j - 1] + 1;
			if (sub < cur[j])
				cur[j] = sub;
		}
	}
	return (d[la % 2][lb]);
}

/* The best candidates so far for an unknown key. */
struct config_hint {
	const char	*near;		/* the nearest by edit distance */
	size_t		 dist;
	char		*same;		/* one with the same last segment */
	int		 nsame;
};

/* Offer candidate c for the unknown path. */
static void
config_consider(const char *path, const char *c, struct config_hint *h)
{
	const char	*last = strrchr(path, '.'), *clast = strrchr(c, '.');
	size_t		 d;

	last = last == NULL ? path : last + 1;
	clast = clast == NULL ? c : clast + 1;
	if (strcmp(last, clast) == 0 && h->nsame++ == 0)
		h->same = xstrdup(c);
	if (strlen(c) < CONFIG_MAX_PATH &&
	    (d = config_distance(path, c)) < h->dist) {
		h->dist = d;
		h->near = c;
	}
}

/*
 * Suggest a known key for an unknown path: " (did you mean 'x'?)" or "".
 * The nearest key if it is close, else the only key ending the same way.
 */
static char *
config_suggest(const char *path, int env)
{
	struct config_hint	 h;
	const char		*name, *rest;
	char			*s, *cands[nitems(listener_opts)];
	size_t			 i, len = strlen(path), n = 0;

	if (len >= CONFIG_MAX_PATH)
		return (xstrdup(""));
	memset(&h, 0, sizeof h);
	h.dist = (size_t)-1;
	for (i = 0; i < nitems(config_opts); i++)
		config_consider(path, config_opts[i].path, &h);
	for (i = 0; i < nitems(config_aliases); i++) {
		if (env || !config_aliases[i].env_only)
			config_consider(path, config_aliases[i].from, &h);
	}
	if (strncmp(path, "listeners.", 10) == 0 &&
	    (name = strchr(path + 10, '.')) != NULL &&
	    (rest = strchr(name + 1, '.')) != NULL) {
		for (i = 0; i < nitems(listener_opts); i++) {
			xasprintf(&cands[n], "%.*s.%s", (int)(rest - path),
			    path, listener_opts[i].path);
			config_consider(path, cands[n++], &h);
		}
	}
	if (h.near != NULL && h.dist <= 3 && h.dist * 3 < len)
		xasprintf(&s, " (did you mean '%s'?)", h.near);
	else if (h.nsame == 1)
		xasprintf(&s, " (did you mean '%s'?)", h.same);
	else
		s = xstrdup("");
	for (i = 0; i < n; i++)
		free(cands[i]);
	free(h.same);
	return (s);
}

/* Where a value came from: "FILE:LINE:COL" or the variable's name. */
static char *
config_where(const struct config_load *ld, yaml_mark_t m)
{
	char	*s;

	if (ld->env)
		return (xstrdup(ld->name));
	xasprintf(&s, "%s:%zu:%zu", ld->name, m.line + 1, m.column + 1);
	return (s);
}

/* Record the first error of a pass, prefixed with its place. */
static int
config_fail(struct config_load *ld, yaml_mark_t m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int
config_fail(struct config_load *ld, yaml_mark_t m, const char *fmt, ...)
{
	va_list	 ap;
	char	*where, *msg;

	if (ld->cause != NULL)
		return (-1);
	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	where = config_where(ld, m);
	xasprintf(&ld->cause, "%s: %s", where, msg);
	free(where);
	free(msg);
	return (-1);
}

/* Report an unknown key, with a suggestion. */
static int
config_unknown(struct config_load *ld, yaml_mark_t m, const char *path)
{
	char	*hint;

	hint = config_suggest(path, ld->env);
	config_fail(ld, m, "unknown key '%s'%s", path, hint);
	free(hint);
	return (-1);
}

/* The listener TYPE:NAME, created with its defaults if it is new. */
static struct config_listener *
config_listener_get(struct config *c, enum config_listener_type t,
    const char *name)
{
	struct config_listener	*l;
	size_t			 i;

	for (i = 0; i < c->n_listeners; i++) {
		l = &c->listeners[i];
		if (l->type == t && strcmp(l->name, name) == 0)
			return (l);
	}
	c->listeners = xreallocarray(c->listeners, c->n_listeners + 1,
	    sizeof *c->listeners);
	c->prov->lst = xreallocarray(c->prov->lst, c->n_listeners + 1,
	    sizeof *c->prov->lst);
	memset(c->prov->lst[c->n_listeners], 0, sizeof c->prov->lst[0]);
	l = &c->listeners[c->n_listeners++];
	memset(l, 0, sizeof *l);
	l->type = t;
	l->name = xstrdup(name);
	xasprintf(&l->id, "%s:%s", config_ltypes[t].name, name);
	for (i = 0; i < nitems(listener_opts); i++)
		config_default(&listener_opts[i], (char *)l +
		    listener_opts[i].off);
	free(l->bind);
	l->bind = xstrdup(config_ltypes[t].bind);
	return (l);
}

/* Is n a YAML null: a plain "", "~" or "null"? */
static int
config_is_null(const yaml_node_t *n)
{
	const char	*s = (const char *)n->data.scalar.value;

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return (0);
	return (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

/* A scalar's text, or NULL if it holds a NUL byte. */
static const char *
config_scalar(const yaml_node_t *n)
{
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length) != NULL)
		return (NULL);
	return ((const char *)n->data.scalar.value);
}

/* The field a resolved key refers to, and its provenance slot. */
static void *
config_target(struct config *c, const struct config_ref *r,
    const struct config_opt **o, char ***prov)
{
	struct config_listener	*l;

	if (r->kind == CK_KEY) {
		*o = &config_opts[r->idx];
		*prov = &c->prov->key[r->idx];
		return ((char *)c + (*o)->off);
	}
	l = config_listener_get(c, r->ltype, r->lname);
	*o = &listener_opts[r->idx];
	*prov = &c->prov->lst[l - c->listeners][r->idx];
	return ((char *)l + (*o)->off);
}

/* Set the key r from YAML node n. */
static int
config_set(struct config_load *ld, const struct config_ref *r,
    const char *path, yaml_node_t *n)
{
	const struct config_opt	*o;
	yaml_node_item_t	*it;
	yaml_node_t		*e;
	const char		*s;
	char			**prov, **v = NULL, *why = NULL;
	size_t			 k = 0;
	void			*dst;

	dst = config_target(ld->c, r, &o, &prov);
	if (n->type == YAML_MAPPING_NODE)
		return (config_fail(ld, n->start_mark, "%s: expected %s, got a "
		    "mapping", path, config_what[o->type]));
	if (n->type == YAML_SEQUENCE_NODE && o->type != CT_STRLIST)
		return (config_fail(ld, n->start_mark, "%s: expected %s, got a "
		    "list", path, config_what[o->type]));
	if (n->type == YAML_SEQUENCE_NODE) {
		it = n->data.sequence.items.start;
		for (; it < n->data.sequence.items.top; it++) {
			e = yaml_document_get_node(ld->doc, *it);
			if (e == NULL || e->type != YAML_SCALAR_NODE ||
			    (s = config_scalar(e)) == NULL) {
				xasprintf(&why, "expected a list of strings");
				break;
			}
			v = xreallocarray(v, k + 1, sizeof *v);
			v[k++] = xstrdup(s);
			ld->nodes++;
		}
		if (why == NULL)
			config_store_list(o, TAKE(v), k, dst, &why);
		while (v != NULL && k > 0)
			free(v[--k]);
		free(v);
	} else if ((s = config_scalar(n)) == NULL)
		why = xstrdup("contains a NUL byte");
	else if (config_is_null(n) && o->type != CT_STRING &&
	    o->type != CT_STRLIST)
		xasprintf(&why, "expected %s, got an empty value",
		    config_what[o->type]);
	else
		config_parse(o, config_is_null(n) ? "" : s, dst, &why);
	if (why != NULL) {
		config_fail(ld, n->start_mark, "%s: %s", path, why);
		free(why);
		return (-1);
	}
	free(*prov);
	*prov = config_where(ld, n->start_mark);
	return (0);
}

/* Walk node n found at path (key at mark km) and set what it holds. */
static int
config_walk(struct config_load *ld, const char *path, yaml_mark_t km,
    yaml_node_t *n, int depth)
{
	struct config_ref	 r;
	yaml_node_pair_t	*p;
	yaml_node_t		*k, *v;
	const char		*ks;
	char			*sub = NULL;
	int			 rc = -1;

	memset(&r, 0, sizeof r);
	if (++ld->nodes > CONFIG_MAX_NODES || depth > CONFIG_MAX_DEPTH) {
		config_fail(ld, km, "%s: too deeply nested or too large",
		    *path == '\0' ? "document" : path);
		goto fail;
	}
	config_resolve(path, ld->env, &r);
	switch (r.kind) {
	case CK_KEY:
	case CK_LKEY:
		rc = config_set(ld, &r, path, n);
		goto fail;
	case CK_UNKNOWN:
		if (r.why != NULL) {
			config_fail(ld, km, "%s", r.why);
			goto fail;
		}
		if (n->type != YAML_MAPPING_NODE ||
		    n->data.mapping.pairs.start == n->data.mapping.pairs.top) {
			config_unknown(ld, km, path);
			goto fail;
		}
		break;
	case CK_LISTENER:
		config_listener_get(ld->c, r.ltype, r.lname);
		break;
	case CK_INNER:
		break;
	}
	if (config_is_null(n)) {
		rc = 0;
		goto fail;
	}
	if (n->type != YAML_MAPPING_NODE) {
		if (*path == '\0')
			config_fail(ld, n->start_mark, "expected a mapping of "
			    "keys at the top level");
		else
			config_fail(ld, n->start_mark, "%s: expected a "
			    "mapping, got %s", path,
			    n->type == YAML_SEQUENCE_NODE ? "a list" :
			    "a value");
		goto fail;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	    p++) {
		k = yaml_document_get_node(ld->doc, p->key);
		v = yaml_document_get_node(ld->doc, p->value);
		if (k == NULL || v == NULL)
			continue;
		if (k->type != YAML_SCALAR_NODE ||
		    (ks = config_scalar(k)) == NULL) {
			config_fail(ld, k->start_mark, "%s: keys must be "
			    "strings", *path == '\0' ? "document" : path);
			goto fail;
		}
		if (strlen(path) + strlen(ks) + 2 > CONFIG_MAX_PATH) {
			config_fail(ld, k->start_mark, "key too long");
			goto fail;
		}
		xasprintf(&sub, "%s%s%s", path, *path == '\0' ? "" : ".", ks);
		if (config_walk(ld, sub, k->start_mark, v, depth + 1) != 0)
			goto fail;
		free(sub);
		sub = NULL;
	}
	rc = 0;

fail:
	free(sub);
	config_ref_release(&r);
	return (rc);
}

/* Describe a libyaml error. */
static char *
config_yaml_error(const char *name, int env, const yaml_parser_t *p,
    const char *buf, size_t len)
{
	yaml_mark_t	 m = p->problem_mark;
	const char	*problem = p->problem != NULL ? p->problem : "error";
	char		*s;
	size_t		 i;

	if (p->error == YAML_MEMORY_ERROR)
		fatal("config: out of memory parsing '%s'", name);
	if (p->error == YAML_READER_ERROR) {
		memset(&m, 0, sizeof m);
		for (i = 0; i < p->problem_offset && i < len; i++) {
			if (buf[i] == '\n') {
				m.line++;
				m.column = 0;
			} else
				m.column++;
		}
	}
	if (env)
		xasprintf(&s, "%s: cannot parse value: %s%s%s", name,
		    p->context != NULL ? p->context : "",
		    p->context != NULL ? ", " : "", problem);
	else
		xasprintf(&s, "%s:%zu:%zu: syntax error: %s%s%s", name,
		    m.line + 1, m.column + 1,
		    p->context != NULL ? p->context : "",
		    p->context != NULL ? ", " : "", problem);
	return (s);
}

/* Parse buf as YAML and walk it from path. */
static int
config_load_yaml(struct config_load *ld, const char *path, const char *buf,
    size_t len)
{
	yaml_parser_t	 p;
	yaml_document_t	 doc, more;
	yaml_node_t	*root;
	yaml_mark_t	 m;
	int		 rc = -1;

	memset(&m, 0, sizeof m);
	yaml_parser_initialize(&p);
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&p, &doc)) {
		ld->cause = config_yaml_error(ld->name, ld->env, &p, buf, len);
		goto fail;
	}
	ld->doc = &doc;
	if ((root = yaml_document_get_root_node(&doc)) != NULL)
		rc = config_walk(ld, path, m, root, 0);
	else if (*path != '\0')
		rc = config_fail(ld, m, "%s: no value", path);
	else
		rc = 0;
	ld->doc = NULL;
	yaml_document_delete(&doc);
	if (rc != 0)
		goto fail;
	if (!yaml_parser_load(&p, &more)) {
		ld->cause = config_yaml_error(ld->name, ld->env, &p, buf, len);
		rc = -1;
		goto fail;
	}
	if (yaml_document_get_root_node(&more) != NULL) {
		rc = config_fail(ld, more.start_mark, "only one YAML "
		    "document is allowed");
	}
	yaml_document_delete(&more);

fail:
	yaml_parser_delete(&p);
	return (rc);
}

/* Load YAML from a buffer over c. */
int
config_load_string(struct config *c, const char *name, const char *buf,
    size_t len, char **cause)
{
	struct config_load	 ld;

	memset(&ld, 0, sizeof ld);
	ld.c = c;
	ld.name = name;
	if (config_load_yaml(&ld, "", buf, len) != 0) {
		*cause = ld.cause;
		return (-1);
	}
	return (0);
}

/* Load a YAML file over c. */
int
config_load_file(struct config *c, const char *path, char **cause)
{
	FILE	*f;
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;
	int	 rc = -1;

	if ((f = fopen(path, "r")) == NULL) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		return (-1);
	}
	do {
		if (len == cap) {
			cap = cap == 0 ? 8192 : cap * 2;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		goto fail;
	}
	rc = config_load_string(c, path, buf, len, cause);

fail:
	fclose(f);
	free(buf);
	return (rc);
}

/* Is the first segment of path a top-level key (or an alias's)? */
static int
config_known_root(const char *path)
{
	size_t	 len = strcspn(path, ".");
	char	*root;
	int	 known;

	root = xstrndup(path, len);
	known = strcmp(root, "listeners") == 0 ||
	    config_is_prefix(config_opts, nitems(config_opts), config_aliases,
	    nitems(config_aliases), root, 1);
	free(root);
	return (known);
}

/* Apply one variable: var is "PREFIX_A__B", rest "A__B", value its value. */
static int
config_env_one(struct config *c, const char *var, const char *rest,
    const char *value, int strict, char **cause)
{
	struct config_load	 ld;
	struct config_ref	 r;
	const struct config_opt	*o;
	yaml_mark_t		 m;
	struct buf		 b;
	char			*path, *why = NULL, **prov;
	void			*dst;
	int			 rc = -1;

	buf_init(&b);
	for (; *rest != '\0'; rest++) {
		if (rest[0] == '_' && rest[1] == '_') {
			buf_add_u8(&b, '.');
			rest++;
		} else
			buf_add_u8(&b, (uint8_t)tolower((unsigned char)*rest));
	}
	path = config_buf_str(&b);
	memset(&ld, 0, sizeof ld);
	memset(&m, 0, sizeof m);
	ld.c = c;
	ld.name = var;
	ld.env = 1;
	config_resolve(path, 1, &r);
	if (*path == '\0' || (r.kind == CK_UNKNOWN && r.why == NULL &&
	    !config_known_root(path))) {
		if (!strict) {
			log_debug("config: ignoring %s, not a configuration "
			    "key", var);
			rc = 0;
		} else
			config_unknown(&ld, m, path);
		goto fail;
	}
	if (r.kind == CK_KEY || r.kind == CK_LKEY) {
		dst = config_target(c, &r, &o, &prov);
		/* Strings are taken as they are: passwords may hold '#'. */
		if (o->type == CT_STRING) {
			if (config_parse(o, value, dst, &why) != 0) {
				config_fail(&ld, m, "%s: %s", path, why);
				goto fail;
			}
			free(*prov);
			*prov = xstrdup(var);
			rc = 0;
			goto fail;
		}
	}
	if (*value == '\0')
		value = "~";
	rc = config_load_yaml(&ld, path, value, strlen(value));

fail:
	if (rc != 0)
		*cause = ld.cause;
	else
		free(ld.cause);
	free(why);
	free(path);
	config_ref_release(&r);
	return (rc);
}

/* Apply FLOCKMQ_* and EMQX_* variables; FLOCKMQ_ ones are applied last. */
int
config_load_env(struct config *c, char *const *envp, char **cause)
{
	char *const	*e;
	const char	*prefix, *eq;
	char		*var;
	size_t		 i, j, len;
	int		 rc, skip;

	for (i = 0; envp != NULL && i < nitems(config_env_prefixes); i++) {
		prefix = config_env_prefixes[i].prefix;
		len = strlen(prefix);
		for (e = envp; *e != NULL; e++) {
			if (strncmp(*e, prefix, len) != 0 ||
			    (eq = strchr(*e, '=')) == NULL)
				continue;
			for (skip = 0, j = 0; j < nitems(config_env_ignored);
			    j++) {
				if (strncmp(*e, config_env_ignored[j],
				    strlen(config_env_ignored[j])) == 0)
					skip = 1;
			}
			if (skip)
				continue;
			var = xstrndup(*e, (size_t)(eq - *e));
			rc = config_env_one(c, var, var + len, eq + 1,
			    config_env_prefixes[i].strict, cause);
			free(var);
			if (rc != 0)
				return (-1);
		}
	}
	return (0);
}

/* A config holding every default and the listener tcp:default. */
struct config *
config_new(void)
{
	struct config	*c;
	size_t		 i;

	c = xcalloc(1, sizeof *c);
	c->prov = xcalloc(1, sizeof *c->prov);
	for (i = 0; i < nitems(config_opts); i++)
		config_default(&config_opts[i], (char *)c + config_opts[i].off);
	config_listener_get(c, CONFIG_L_TCP, "default");
	return (c);
}

/* Free a config and everything it holds. */
void
config_free(struct config *c)
{
	struct config_listener	*l;
	size_t			 i, j;

	if (c == NULL)
		return;
	for (i = 0; i < nitems(config_opts); i++) {
		config_field_free(&config_opts[i], (char *)c +
		    config_opts[i].off);
		free(c->prov->key[i]);
	}
	for (i = 0; i < c->n_listeners; i++) {
		l = &c->listeners[i];
		for (j = 0; j < nitems(listener_opts); j++) {
			config_field_free(&listener_opts[j], (char *)l +
			    listener_opts[j].off);
			free(c->prov->lst[i][j]);
		}
		free(l->name);
		free(l->id);
	}
	free(c->listeners);
	free(c->prov->lst);
	free(c->prov);
	free(c);
}

/* The listener with id "TYPE:NAME", or NULL. */
const struct config_listener *
config_find_listener(const struct config *c, const char *id)
{
	size_t	 i;

	for (i = 0; i < c->n_listeners; i++) {
		if (strcmp(c->listeners[i].id, id) == 0)
			return (&c->listeners[i]);
	}
	return (NULL);
}

/* The name of a listener type. */
const char *
config_listener_type_name(enum config_listener_type t)
{
	return (config_ltypes[t].name);
}

/* Split "PORT", "IP:PORT", ":PORT" or "[IPV6]:PORT". */
int
config_split_bind(const char *bind, char **host, uint16_t *port)
{
	const char	*p, *colon;
	char		*h;
	int64_t		 v;
	int		 overflow = 0, v6 = 0;
	unsigned char	 addr[16];

	if (*bind == '[') {
		if ((p = strchr(bind, ']')) == NULL || p[1] != ':')
			return (-1);
		h = xstrndup(bind + 1, (size_t)(p - bind - 1));
		p += 2;
		v6 = 1;
	} else if ((colon = strrchr(bind, ':')) != NULL) {
		h = xstrndup(bind, (size_t)(colon - bind));
		p = colon + 1;
	} else {
		h = xstrdup("");
		p = bind;
	}
	if (*h == '\0' && !v6) {
		free(h);
		h = xstrdup("0.0.0.0");
	}
	if (inet_pton(v6 ? AF_INET6 : AF_INET, h, addr) != 1 ||
	    !config_digits(&p, &v, &overflow) || *p != '\0' || v < 1 ||
	    v > 65535) {
		free(h);
		return (-1);
	}
	*host = h;
	*port = (uint16_t)v;
	return (0);
}

/* Would two binds take the same address: same port and family, and the
 * same host or a wildcard? */
static int
config_binds_clash(const char *a, const char *b)
{
	char		*ha, *hb;
	uint16_t	 pa, pb;
	int		 clash = 0, v6a, v6b;

	if (config_split_bind(a, &ha, &pa) != 0)
		return (0);
	if (config_split_bind(b, &hb, &pb) != 0) {
		free(ha);
		return (0);
	}
	v6a = strchr(ha, ':') != NULL;
	v6b = strchr(hb, ':') != NULL;
	if (pa == pb && v6a == v6b)
		clash = strcmp(ha, hb) == 0 || strcmp(ha, "0.0.0.0") == 0 ||
		    strcmp(hb, "0.0.0.0") == 0 || strcmp(ha, "::") == 0 ||
		    strcmp(hb, "::") == 0;
	free(ha);
	free(hb);
	return (clash);
}

/* Is s NAME@HOST: one '@', neither part empty, no blanks? */
static int
config_valid_node(const char *s)
{
	const char	*at = strchr(s, '@');
	size_t		 i;

	if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@'))
		return (0);
	for (i = 0; s[i] != '\0'; i++) {
		if (isspace((unsigned char)s[i]) ||
		    iscntrl((unsigned char)s[i]))
			return (0);
	}
	return (1);
}

/* The index of the option at offset off in table t. */
static size_t
config_index(const struct config_opt *t, size_t n, size_t off)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (t[i].off == off)
			break;
	}
	return (i);
}

/* Where listener i's key at off was set, else where the listener was. */
static const char *
config_lwhere(const struct config *c, size_t i, size_t off)
{
	char *const	*row = c->prov->lst[i];
	size_t		 j;

	j = config_index(listener_opts, nitems(listener_opts), off);
	if (row[j] != NULL)
		return (row[j]);
	for (j = 0; j < nitems(listener_opts); j++) {
		if (row[j] != NULL)
			return (row[j]);
	}
	return (NULL);
}

#define CONFIG_GWHERE(c, field)						\
	((c)->prov->key[config_index(config_opts, nitems(config_opts),	\
	    offsetof(struct config, field))])
#define CONFIG_LWHERE(c, i, field)					\
	config_lwhere(c, i, offsetof(struct config_listener, field))

/* Fail a check of key path, prefixed with where its value came from. */
static int
config_check_fail(char **cause, const char *where, const char *path,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int
config_check_fail(char **cause, const char *where, const char *path,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;

	va_start(ap, fmt);
	xvasprintf(&msg, fmt, ap);
	va_end(ap);
	if (where != NULL)
		xasprintf(cause, "%s: %s: %s", where, path, msg);
	else
		xasprintf(cause, "%s: %s", path, msg);
	free(msg);
	return (-1);
}

/* Check every element of a node list. */
static int
config_check_nodes(const struct config_strlist *l, const char *where,
    const char *path, char **cause)
{
	size_t	 i;

	for (i = 0; i < l->n; i++) {
		if (!config_valid_node(l->v[i]))
			return (config_check_fail(cause, where, path,
			    "'%s' must be NAME@HOST", l->v[i]));
	}
	return (0);
}

/* The path of listener l's key o, for messages. */
static char *
config_lpath(const struct config_listener *l, const char *key)
{
	char	*s;

	xasprintf(&s, "listeners.%s.%s.%s", config_ltypes[l->type].name,
	    l->name, key);
	return (s);
}

/* Check one listener on its own. */
static int
config_check_listener(const struct config *c, size_t i, char **cause)
{
	const struct config_listener	*l = &c->listeners[i];
	char				*path = NULL, *host;
	uint16_t			 port;
	int				 tls, rc = -1;

	tls = l->type == CONFIG_L_SSL || l->type == CONFIG_L_WSS;
	if (config_split_bind(l->bind, &host, &port) != 0) {
		path = config_lpath(l, "bind");
		config_check_fail(cause, CONFIG_LWHERE(c, i, bind), path,
		    "'%s' is not PORT, IP:PORT or [IPV6]:PORT with a port in "
		    "1..65535", l->bind);
		goto fail;
	}
	free(host);
	if (l->enable && tls && *l->ssl_certfile == '\0') {
		path = config_lpath(l, "ssl_options.certfile");
		config_check_fail(cause, CONFIG_LWHERE(c, i, ssl_certfile),
		    path, "required for an enabled %s listener",
		    config_ltypes[l->type].name);
		goto fail;
	}
	if (l->enable && tls && *l->ssl_keyfile == '\0') {
		path = config_lpath(l, "ssl_options.keyfile");
		config_check_fail(cause, CONFIG_LWHERE(c, i, ssl_keyfile),
		    path, "required for an enabled %s listener",
		    config_ltypes[l->type].name);
		goto fail;
	}
	if (tls && l->ssl_versions.n == 0) {
		path = config_lpath(l, "ssl_options.versions");
		config_check_fail(cause, CONFIG_LWHERE(c, i, ssl_versions),
		    path, "must name at least one TLS version");
		goto fail;
	}
	if (*l->ws_mqtt_path != '/') {
		path = config_lpath(l, "websocket.mqtt_path");
		config_check_fail(cause, CONFIG_LWHERE(c, i, ws_mqtt_path),
		    path, "'%s' must start with '/'", l->ws_mqtt_path);
		goto fail;
	}
	rc = 0;

fail:
	free(path);
	return (rc);
}

/* Cross-key checks, once everything is loaded. */
int
config_check(const struct config *c, char **cause)
{
	const struct config_listener	*l, *m;
	char				*path, *host;
	uint16_t			 port;
	size_t				 i, j;

	if (!config_valid_node(c->node_name))
		return (config_check_fail(cause, CONFIG_GWHERE(c, node_name),
		    "node.name", "'%s' must be NAME@HOST", c->node_name));
	if (config_check_nodes(&c->cluster_static_seeds,
	    CONFIG_GWHERE(c, cluster_static_seeds), "cluster.static.seeds",
	    cause) != 0 || config_check_nodes(&c->cluster_core_nodes,
	    CONFIG_GWHERE(c, cluster_core_nodes), "cluster.core_nodes",
	    cause) != 0)
		return (-1);
	if (config_split_bind(c->dashboard_listeners_http_bind, &host,
	    &port) != 0)
		return (config_check_fail(cause,
		    CONFIG_GWHERE(c, dashboard_listeners_http_bind),
		    "dashboard.listeners.http.bind", "'%s' is not PORT, "
		    "IP:PORT or [IPV6]:PORT with a port in 1..65535",
		    c->dashboard_listeners_http_bind));
	free(host);
	for (i = 0; i < c->n_listeners; i++) {
		l = &c->listeners[i];
		if (config_check_listener(c, i, cause) != 0)
			return (-1);
		if (!l->enable)
			continue;
		if (c->dashboard_listeners_http_enable &&
		    config_binds_clash(l->bind,
		    c->dashboard_listeners_http_bind)) {
			path = config_lpath(l, "bind");
			config_check_fail(cause, CONFIG_LWHERE(c, i, bind),
			    path, "'%s' clashes with "
			    "dashboard.listeners.http.bind '%s'", l->bind,
			    c->dashboard_listeners_http_bind);
			free(path);
			return (-1);
		}
		for (j = 0; j < i; j++) {
			m = &c->listeners[j];
			if (!m->enable || !config_binds_clash(l->bind, m->bind))
				continue;
			path = config_lpath(l, "bind");
			config_check_fail(cause, CONFIG_LWHERE(c, i, bind),
			    path, "'%s' clashes with listener %s ('%s')",
			    l->bind, m->id, m->bind);
			free(path);
			return (-1);
		}
	}
	return (0);
}

/* YAML writer state: the last key written, to nest the next one. */
struct config_emit {
	FILE	*f;
	int	 example;
	int	 fresh;		/* a mapping was just opened */
	char	*prev;
};

/* Write s as "# " comment lines of at most 79 columns, indented by ind. */
static void
config_emit_comment(FILE *f, int ind, const char *s)
{
	int	 width = 79 - ind - 2, len;

	while (*s != '\0') {
		len = (int)strlen(s);
		if (len > width) {
			for (len = width; len > 0 && s[len] != ' '; len--)
				;
			if (len == 0)
				len = (int)strcspn(s, " ");
		}
		fprintf(f, "%*s# %.*s\n", ind, "", len, s);
		s += len;
		while (*s == ' ')
			s++;
	}
}

/* Split a dotted path into segments; returns how many. */
static size_t
config_split(const char *path, const char **seg, size_t *len)
{
	size_t	 n = 0;

	while (path != NULL && n < CONFIG_MAX_SEGS) {
		seg[n] = path;
		len[n] = strcspn(path, ".");
		path = path[len[n]] == '.' ? path + len[n] + 1 : NULL;
		n++;
	}
	return (n);
}

/* Comment an example key: its help, default and allowed values. */
static void
config_emit_help(struct config_emit *e, int ind, const struct config_opt *o,
    const char *value)
{
	struct buf	 b;
	char		*range, *s;

	if (!e->fresh)
		fputc('\n', e->f);
	config_emit_comment(e->f, ind, o->help);
	if (o->flags & CONFIG_F_BUILD) {
		fprintf(e->f, "%*s# default: set when flockmq is built\n",
		    ind, "");
		return;
	}
	buf_init(&b);
	xasprintf(&s, "default: %s", value);
	buf_add(&b, s, strlen(s));
	free(s);
	if ((range = config_fmt_range(o)) != NULL) {
		buf_add(&b, "; range: ", 9);
		buf_add(&b, range, strlen(range));
		free(range);
		if (o->flags & CONFIG_F_INF)
			buf_add(&b, " or infinity", 12);
		if (o->flags & CONFIG_F_DISABLED)
			buf_add(&b, " or disabled", 12);
	}
	if (o->names != NULL) {
		buf_add(&b, "; allowed: ", 11);
		config_join(&b, o->names);
	}
	s = config_buf_str(&b);
	config_emit_comment(e->f, ind, s);
	free(s);
}

/* Write one key, opening the mappings it sits in. */
static void
config_emit_key(struct config_emit *e, const char *path,
    const struct config_opt *o, const char *value)
{
	const char	*seg[CONFIG_MAX_SEGS], *pseg[CONFIG_MAX_SEGS];
	size_t		 len[CONFIG_MAX_SEGS], plen[CONFIG_MAX_SEGS];
	size_t		 n, np, k, i, s;
	int		 ind;

	n = config_split(path, seg, len);
	np = config_split(e->prev, pseg, plen);
	for (k = 0; k + 1 < n && k + 1 < np && len[k] == plen[k] &&
	    memcmp(seg[k], pseg[k], len[k]) == 0; k++)
		;
	for (i = k; i + 1 < n; i++) {
		for (s = 0; i == 0 && e->example &&
		    s < nitems(config_sections); s++) {
			if (config_casematch(seg[0], len[0],
			    config_sections[s].name)) {
				fputc('\n', e->f);
				fprintf(e->f, "#\n");
				config_emit_comment(e->f, 0,
				    config_sections[s].help);
			}
		}
		if (i > 0 && e->example && !e->fresh)
			fputc('\n', e->f);
		fprintf(e->f, "%*s%.*s:\n", (int)i * 2, "", (int)len[i],
		    seg[i]);
		e->fresh = 1;
	}
	ind = (int)(n - 1) * 2;
	if (e->example)
		config_emit_help(e, ind, o, value);
	if (e->example && (o->flags & CONFIG_F_BUILD))
		fprintf(e->f, "%*s# %.*s: %s\n", ind, "", (int)len[n - 1],
		    seg[n - 1], "LOCALSTATEDIR/lib/flockmq");
	else
		fprintf(e->f, "%*s%.*s: %s\n", ind, "", (int)len[n - 1],
		    seg[n - 1], value);
	e->fresh = 0;
	free(e->prev);
	e->prev = xstrdup(path);
}

static const char *const config_example_head[] = {
	"# flockmq.yaml: the flockmq configuration file.",
	"#",
	"# Every key is listed with its help and its default.  Keys nest as "
	"YAML",
	"# mappings or are written dotted (mqtt.max_inflight: 64), as in "
	"EMQX 5.",
	"#   durations  100ms, 5s, 10m, 1h, 2d; a bare number is "
	"milliseconds",
	"#   sizes      512B, 64KB, 1MB, 1GB; a bare number is bytes",
	"#   rates      1000/s, 100/10s, 1MB/s, 10KB/m, or infinity",
	"#   lists      a YAML sequence, [a, b], or \"a,b\"",
	"# The environment overrides this file: FLOCKMQ_MQTT__MAX_INFLIGHT=64 "
	"or",
	"# EMQX_MQTT__MAX_INFLIGHT=64 sets mqtt.max_inflight.",
	"#",
	"# Generated by `flockmq config-example` from src/config_table.h.",
	NULL
};

static const char *const config_example_tail[] = {
	"",
	"  # More listeners sit beside tcp.default, for example:",
	"  # ssl:",
	"  #   default:",
	"  #     bind: \"0.0.0.0:8883\"",
	"  #     ssl_options:",
	"  #       certfile: \"/etc/flockmq/certs/cert.pem\"",
	"  #       keyfile: \"/etc/flockmq/certs/key.pem\"",
	"  # ws:",
	"  #   default:",
	"  #     bind: \"0.0.0.0:8083\"",
	NULL
};

/* Write c as YAML; with comments and the example's text if example. */
static void
config_emit_all(const struct config *c, FILE *f, int example)
{
	struct config_emit		 e;
	const struct config_listener	*l;
	const struct config_opt		*o;
	char				*v, *path;
	size_t				 i, j, t;

	memset(&e, 0, sizeof e);
	e.f = f;
	e.example = example;
	for (i = 0; example && config_example_head[i] != NULL; i++)
		fprintf(f, "%s\n", config_example_head[i]);
	for (i = 0; i < nitems(config_opts); i++) {
		o = &config_opts[i];
		v = config_fmt(o, (const char *)c + o->off);
		config_emit_key(&e, o->path, o, v);
		free(v);
	}
	for (t = 0; t < nitems(config_ltypes); t++) {
		for (i = 0; i < c->n_listeners; i++) {
			l = &c->listeners[i];
			if (l->type != t)
				continue;
			for (j = 0; j < nitems(listener_opts); j++) {
				o = &listener_opts[j];
				v = config_fmt(o, (const char *)l + o->off);
				path = config_lpath(l, o->path);
				config_emit_key(&e, path, o, v);
				free(path);
				free(v);
			}
		}
	}
	for (i = 0; example && config_example_tail[i] != NULL; i++)
		fprintf(f, "%s\n", config_example_tail[i]);
	free(e.prev);
}

/* Write the effective configuration as YAML. */
void
config_dump(const struct config *c, FILE *f)
{
	config_emit_all(c, f, 0);
}

/* Write the documented example file. */
void
config_example(FILE *f)
{
	struct config	*c;

	c = config_new();
	config_emit_all(c, f, 1);
	config_free(c);
}
