/*
 * banned.c: the banned list (see banned.h).
 *
 * One hash map per kind of ban ("as"), from "who" to the ban.  "who" is
 * kept normalised, so that one ban has one spelling: an address as
 * inet_ntop writes it (an IPv4-mapped IPv6 address as IPv4), a network
 * with its host bits cleared and its prefix length.  Regular expressions
 * are POSIX extended ones, compiled once.
 *
 * Threading: CONNECT reads the maps on every worker under banned_rwlock
 * (read), and skips the lock while banned_n (atomic) is 0.  Changes come
 * from the HTTP thread (REST, ctl): banned_mutex serialises them, so a
 * changer reads the maps without the rwlock and takes it (write) only to
 * change them, after the store write; CONNECT never waits for an fsync.
 *
 * Every ban is a "b/" record of the store (docs/storage.md), written
 * synced before the ban applies.  A ban whose "until" has passed stops
 * applying at once; banned_expire (called by every change and listing, and
 * at start-up) deletes it from memory and from the store.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "banned.h"
#include "hmap.h"
#include "log.h"
#include "mqtt.h"
#include "msg.h"
#include "store.h"
#include "xmalloc.h"

enum banned_as {
	BANNED_CLIENTID,
	BANNED_USERNAME,
	BANNED_PEERHOST,
	BANNED_CLIENTID_RE,
	BANNED_USERNAME_RE,
	BANNED_PEERHOST_NET,
	BANNED_N_AS
};

static const char *const banned_as_names[BANNED_N_AS] = {
	"clientid", "username", "peerhost", "clientid_re", "username_re",
	"peerhost_net"
};

#define BANNED_REC_VERSION	1
#define BANNED_REC_LEN		(1 + 8 + 8 + 2 + 2 + 4)
#define BANNED_STR_MAX		65535
/* EMQX's default duration of a ban: a year. */
#define BANNED_DEFAULT_MS	(UINT64_C(31536000) * 1000)

struct ban {
	enum banned_as	 as;
	char		*who;		/* normalised; the map's key */
	char		*by;
	char		*reason;
	uint64_t	 at;		/* ms since the epoch */
	uint64_t	 until;		/* ms since the epoch; 0 never */
	uint64_t	 seq;		/* order of creation or loading */
	bool		 has_re;
	regex_t		 re;		/* _re kinds */
	int		 family;	/* peerhost, peerhost_net */
	uint8_t		 addr[16];
	unsigned	 prefix;	/* peerhost_net */
};

static pthread_rwlock_t	 banned_rwlock = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t	 banned_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct hmap	 banned_map[BANNED_N_AS];
static bool		 banned_maps_init;
static size_t		 banned_n;	/* atomic: bans in memory */
static uint64_t		 banned_seq;		/* banned_mutex */

/* Set up the maps once. */
static void
banned_setup(void)
{
	int	 i;

	if (banned_maps_init)
		return;
	for (i = 0; i < BANNED_N_AS; i++)
		hmap_init(&banned_map[i]);
	banned_maps_init = true;
}

/* The kind named s (n bytes), or -1. */
static int
banned_as_parse(const char *s, size_t n)
{
	int	 i;

	for (i = 0; i < BANNED_N_AS; i++) {
		if (strlen(banned_as_names[i]) == n &&
		    memcmp(banned_as_names[i], s, n) == 0)
			return (i);
	}
	return (-1);
}

/* Free a ban. */
static void
banned_free(struct ban *b)
{
	if (b == NULL)
		return;
	if (b->has_re)
		regfree(&b->re);
	free(b->who);
	free(b->by);
	free(b->reason);
	free(b);
}

/* True if the ban applies at now. */
static bool
banned_in_force(const struct ban *b, uint64_t now)
{
	return (b->until == 0 || now < b->until);
}

/*
 * Parse an address: IPv4, or IPv6 (an IPv4-mapped one becomes IPv4).
 * Fills *family and addr (4 or 16 bytes); -1 if s is not an address.
 */
static int
banned_parse_ip(const char *s, int *family, uint8_t *addr)
{
	static const uint8_t	 mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0, 0xff, 0xff };

	if (inet_pton(AF_INET, s, addr) == 1) {
		*family = AF_INET;
		return (0);
	}
	if (inet_pton(AF_INET6, s, addr) != 1)
		return (-1);
	if (memcmp(addr, mapped, sizeof mapped) == 0) {
		memmove(addr, addr + 12, 4);
		*family = AF_INET;
	} else
		*family = AF_INET6;
	return (0);
}

/* Clear the bits of addr past prefix. */
static void
banned_mask(uint8_t *addr, int family, unsigned prefix)
{
	unsigned	 i, n = family == AF_INET ? 4 : 16;

	for (i = 0; i < n; i++) {
		if (prefix >= 8 * (i + 1))
			continue;
		if (prefix <= 8 * i)
			addr[i] = 0;
		else
			addr[i] &= (uint8_t)(0xff << (8 - (prefix - 8 * i)));
	}
}

/*
 * Check "who" (len bytes, no NUL) for kind as and fill b with what
 * matching needs: b->who normalised, the address, the compiled regex.
 * -1 and *cause if it is not valid for the kind.
 */
static int
banned_parse_who(struct ban *b, const char *who, size_t len, char **cause)
{
	char		 tmp[INET6_ADDRSTRLEN + 8], text[INET6_ADDRSTRLEN];
	char		 err[128], *slash, *end;
	const char	*name = banned_as_names[b->as];
	unsigned long	 prefix;
	bool		 mapped;
	int		 rv;

	if (len == 0) {
		xasprintf(cause, "\"who\" must not be empty");
		return (-1);
	}
	if (len > BANNED_STR_MAX || memchr(who, '\0', len) != NULL ||
	    !mqtt_utf8_valid((struct str){ (const uint8_t *)who, len })) {
		xasprintf(cause, "\"who\" must be UTF-8 without U+0000, at "
		    "most %d bytes", BANNED_STR_MAX);
		return (-1);
	}
	switch (b->as) {
	case BANNED_CLIENTID:
	case BANNED_USERNAME:
		b->who = xstrndup(who, len);
		return (0);
	case BANNED_CLIENTID_RE:
	case BANNED_USERNAME_RE:
		b->who = xstrndup(who, len);
		if ((rv = regcomp(&b->re, b->who, REG_EXTENDED | REG_NOSUB)) !=
		    0) {
			regerror(rv, &b->re, err, sizeof err);
			xasprintf(cause, "\"who\" is not a POSIX extended "
			    "regular expression for %s: %s", name, err);
			free(b->who);
			b->who = NULL;
			return (-1);
		}
		b->has_re = true;
		return (0);
	case BANNED_PEERHOST:
	case BANNED_PEERHOST_NET:
		break;
	default:
		abort();
	}
	if (len >= sizeof tmp)
		goto bad;
	memcpy(tmp, who, len);
	tmp[len] = '\0';
	if ((slash = strchr(tmp, '/')) != NULL) {
		if (b->as == BANNED_PEERHOST)
			goto bad;
		*slash++ = '\0';
	}
	mapped = strchr(tmp, ':') != NULL;
	if (banned_parse_ip(tmp, &b->family, b->addr) != 0)
		goto bad;
	mapped = mapped && b->family == AF_INET;
	if (b->as == BANNED_PEERHOST) {
		inet_ntop(b->family, b->addr, text, sizeof text);
		b->who = xstrdup(text);
		return (0);
	}
	if (slash == NULL)
		prefix = b->family == AF_INET6 || mapped ? 128 : 32;
	else {
		if (*slash < '0' || *slash > '9')
			goto bad;
		errno = 0;
		prefix = strtoul(slash, &end, 10);
		if (errno != 0 || *end != '\0' ||
		    prefix > (b->family == AF_INET6 || mapped ? 128UL : 32UL))
			goto bad;
	}
	/* An IPv4-mapped network counts its prefix in IPv4 bits. */
	if (mapped) {
		if (prefix < 96)
			goto bad;
		prefix -= 96;
	}
	b->prefix = (unsigned)prefix;
	banned_mask(b->addr, b->family, b->prefix);
	inet_ntop(b->family, b->addr, text, sizeof text);
	xasprintf(&b->who, "%s/%u", text, b->prefix);
	return (0);

bad:
	if (b->as == BANNED_PEERHOST)
		xasprintf(cause, "\"who\" '%.*s' is not an IPv4 or IPv6 "
		    "address",
		    (int)(len > 100 ? 100 : len), who);
	else
		xasprintf(cause, "\"who\" '%.*s' is not a network "
		    "(ADDRESS/PREFIX-LENGTH, IPv4 or IPv6)",
		    (int)(len > 100 ? 100 : len), who);
	return (-1);
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; H. Hinnant). */
static int64_t
banned_days(int64_t y, unsigned m, unsigned d)
{
	int64_t		 era;
	unsigned	 yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return (era * 146097 + (int64_t)doe - 719468);
}

/* n decimal digits at *p into *v. */
static bool
banned_digits(const char **p, int n, unsigned *v)
{
	*v = 0;
	while (n-- > 0) {
		if (**p < '0' || **p > '9')
			return (false);
		*v = *v * 10 + (unsigned)(*(*p)++ - '0');
	}
	return (true);
}

/*
 * An RFC 3339 date-time ("2025-01-31T12:00:00Z", "...T12:00:00.5+02:00")
 * into ms since the epoch; -1 if s is not one or is before 1970.
 */
static int
banned_parse_rfc3339(const char *s, uint64_t *ms)
{
	static const unsigned	 mdays[] = { 31, 29, 31, 30, 31, 30, 31,
	    31, 30, 31, 30, 31 };
	unsigned		 y, mo, d, h, mi, sec, oh, om, frac = 0, scale;
	int64_t			 t, off = 0;
	int			 sign;

	if (!banned_digits(&s, 4, &y) || *s++ != '-' ||
	    !banned_digits(&s, 2, &mo) || *s++ != '-' ||
	    !banned_digits(&s, 2, &d))
		return (-1);
	if (*s != 'T' && *s != 't' && *s != ' ')
		return (-1);
	s++;
	if (!banned_digits(&s, 2, &h) || *s++ != ':' ||
	    !banned_digits(&s, 2, &mi) || *s++ != ':' ||
	    !banned_digits(&s, 2, &sec))
		return (-1);
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return (-1);
		for (scale = 100; *s >= '0' && *s <= '9'; s++, scale /= 10)
			frac += scale * (unsigned)(*s - '0');
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (!banned_digits(&s, 2, &oh) || *s++ != ':' ||
		    !banned_digits(&s, 2, &om) || oh > 23 || om > 59)
			return (-1);
		off = sign * (int64_t)(oh * 3600 + om * 60);
	} else
		return (-1);
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && (y % 4 != 0 ||
	    (y % 100 == 0 && y % 400 != 0))) || h > 23 || mi > 59 || sec > 60)
		return (-1);
	t = banned_days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - off;
	if (t < 0)
		return (-1);
	*ms = (uint64_t)t * 1000 + frac;
	return (0);
}

/* ms since the epoch as RFC 3339 (UTC, whole seconds as in EMQX), or
 * "infinity" for 0. */
static void
banned_fmt_time(uint64_t ms, char *s, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);
	size_t		 n;

	if (ms == 0) {
		snprintf(s, len, "infinity");
		return;
	}
	gmtime_r(&t, &tm);
	n = strftime(s, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(s + n, len - n, "Z");
}

/*
 * The time in field name of body into *ms: an RFC 3339 string, or seconds
 * since the epoch (a JSON integer or a string of digits), or with
 * allow_inf the string "infinity" (0).  1 if the field is absent or null,
 * 0 if it was read, -1 and *cause if it is not a time.
 */
static int
banned_get_time(const json_t *body, const char *name, bool allow_inf,
    uint64_t *ms, char **cause)
{
	const json_t	*v = json_object_get(body, name);
	const char	*s;
	json_int_t	 i;

	if (v == NULL || json_is_null(v))
		return (1);
	if (json_is_integer(v)) {
		i = json_integer_value(v);
		if (i <= 0 || i > INT64_C(253402300799))
			goto bad;
		*ms = (uint64_t)i * 1000;
		return (0);
	}
	if (!json_is_string(v))
		goto bad;
	s = json_string_value(v);
	if (allow_inf && strcmp(s, "infinity") == 0) {
		*ms = 0;
		return (0);
	}
	if (s[0] != '\0' && strspn(s, "0123456789") == strlen(s) &&
	    strlen(s) <= 12) {
		*ms = (uint64_t)strtoull(s, NULL, 10) * 1000;
		if (*ms != 0)
			return (0);
	} else if (banned_parse_rfc3339(s, ms) == 0 && *ms != 0)
		return (0);

bad:
	xasprintf(cause, "\"%s\" must be an RFC 3339 date-time such as "
	    "\"2030-01-31T12:00:00Z\" (or seconds since the epoch)%s", name,
	    allow_inf ? ", or \"infinity\"" : "");
	return (-1);
}

/* The optional string field name of body (NULL if absent or null); -1 and
 * *cause if it is not a string of at most BANNED_STR_MAX bytes. */
static int
banned_get_str(const json_t *body, const char *name, const char **s,
    char **cause)
{
	const json_t	*v = json_object_get(body, name);

	*s = NULL;
	if (v == NULL || json_is_null(v))
		return (0);
	if (!json_is_string(v) || json_string_length(v) > BANNED_STR_MAX ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		xasprintf(cause, "\"%s\" must be a string (UTF-8 without "
		    "U+0000, at most %d bytes)", name, BANNED_STR_MAX);
		return (-1);
	}
	*s = json_string_value(v);
	return (0);
}

/* The store key of b: "b/" as 0x00 who. */
static void
banned_key(struct buf *k, enum banned_as as, const char *who)
{
	buf_add(k, "b/", 2);
	buf_add(k, banned_as_names[as], strlen(banned_as_names[as]));
	buf_add_u8(k, 0);
	buf_add(k, who, strlen(who));
}

/* The record of b (docs/storage.md): version, at, until, by, reason, and
 * the CRC-32 of the key and everything before it. */
static void
banned_encode(struct buf *v, struct str key, const struct ban *b)
{
	uint32_t	 crc;

	buf_add_u8(v, BANNED_REC_VERSION);
	buf_add_u32(v, (uint32_t)(b->at >> 32));
	buf_add_u32(v, (uint32_t)b->at);
	buf_add_u32(v, (uint32_t)(b->until >> 32));
	buf_add_u32(v, (uint32_t)b->until);
	buf_add_u16(v, (uint16_t)strlen(b->by));
	buf_add(v, b->by, strlen(b->by));
	buf_add_u16(v, (uint16_t)strlen(b->reason));
	buf_add(v, b->reason, strlen(b->reason));
	crc = store_crc32(0, key.p, key.len);
	crc = store_crc32(crc, buf_head(v), buf_used(v));
	buf_add_u32(v, crc);
}

/* The ban a "b/" record holds, or NULL if it does not decode: the CRC, the
 * lengths, a known kind, and a "who" that is valid and normalised. */
static struct ban *
banned_decode(struct str key, struct str val)
{
	struct ban	*b;
	const uint8_t	*p = val.p, *nul;
	size_t		 bylen, rlen;
	char		*cause = NULL;
	int		 as;

	if (key.len < 4 || memcmp(key.p, "b/", 2) != 0 ||
	    (nul = memchr(key.p + 2, '\0', key.len - 2)) == NULL ||
	    (as = banned_as_parse((const char *)key.p + 2,
	    (size_t)(nul - key.p - 2))) == -1 ||
	    val.len < BANNED_REC_LEN || p[0] != BANNED_REC_VERSION)
		return (NULL);
	if (store_crc32(store_crc32(0, key.p, key.len), p, val.len - 4) !=
	    (uint32_t)get_be(p + val.len - 4, 4))
		return (NULL);
	bylen = (size_t)get_be(p + 17, 2);
	if (bylen > val.len - BANNED_REC_LEN)
		return (NULL);
	rlen = (size_t)get_be(p + 19 + bylen, 2);
	if (bylen + rlen != val.len - BANNED_REC_LEN ||
	    !mqtt_utf8_valid((struct str){ p + 19, bylen }) ||
	    !mqtt_utf8_valid((struct str){ p + 21 + bylen, rlen }))
		return (NULL);
	b = xcalloc(1, sizeof *b);
	b->as = (enum banned_as)as;
	if (banned_parse_who(b, (const char *)nul + 1,
	    (size_t)(key.p + key.len - nul - 1), &cause) != 0 ||
	    strlen(b->who) != (size_t)(key.p + key.len - nul - 1) ||
	    memcmp(b->who, nul + 1, strlen(b->who)) != 0) {
		free(cause);
		banned_free(b);
		return (NULL);
	}
	b->at = get_be(p + 1, 8);
	b->until = get_be(p + 9, 8);
	b->by = xstrndup((const char *)p + 19, bylen);
	b->reason = xstrndup((const char *)p + 21 + bylen, rlen);
	return (b);
}

/* True if a "b/" record decodes (store repair). */
bool
banned_record_ok(struct str key, struct str val)
{
	struct ban	*b;

	if ((b = banned_decode(key, val)) == NULL)
		return (false);
	banned_free(b);
	return (true);
}

/* b as EMQX's object; new reference. */
static json_t *
banned_json(const struct ban *b)
{
	char	 at[40], until[40];

	banned_fmt_time(b->at, at, sizeof at);
	banned_fmt_time(b->until, until, sizeof until);
	return (json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
	    "as", banned_as_names[b->as], "who", b->who, "by", b->by,
	    "reason", b->reason, "at", at, "until", until));
}

/* Add b to the maps (banned_mutex held). */
static void
banned_insert(struct ban *b)
{
	b->seq = banned_seq++;
	pthread_rwlock_wrlock(&banned_rwlock);
	hmap_put(&banned_map[b->as], STR(b->who), b);
	__atomic_add_fetch(&banned_n, 1, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&banned_rwlock);
}

/* Take b out of the maps and free it (banned_mutex held). */
static void
banned_remove(struct ban *b)
{
	pthread_rwlock_wrlock(&banned_rwlock);
	hmap_del(&banned_map[b->as], STR(b->who));
	__atomic_sub_fetch(&banned_n, 1, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&banned_rwlock);
	banned_free(b);
}

/* Delete the record of b; false and a log line if the store refuses. */
static bool
banned_store_del(const struct ban *b)
{
	struct buf	 k;
	char		*cause = NULL;
	bool		 ok = true;

	if (!store_is_open())
		return (true);
	buf_init(&k);
	banned_key(&k, b->as, b->who);
	if (store_del((struct str){ buf_head(&k), buf_used(&k) }, true,
	    &cause) != 0) {
		log_err("banned: cannot delete the ban of %s '%.100s' from "
		    "the store: %s", banned_as_names[b->as], b->who, cause);
		free(cause);
		ok = false;
	}
	buf_release(&k);
	return (ok);
}

/* Delete the bans whose time is up (banned_mutex held). */
static void
banned_expire_locked(void)
{
	struct hmap_ent	*e;
	struct ban	**old = NULL;
	uint64_t	 now = now_ms();
	size_t		 i, j, n = 0;
	int		 as;

	if (__atomic_load_n(&banned_n, __ATOMIC_ACQUIRE) == 0)
		return;
	for (as = 0; as < BANNED_N_AS; as++) {
		for (i = 0, e = NULL;
		    (e = hmap_next(&banned_map[as], &i, e)) != NULL;) {
			if (banned_in_force(e->val, now))
				continue;
			old = xreallocarray(old, n + 1, sizeof *old);
			old[n++] = e->val;
		}
	}
	for (j = 0; j < n; j++) {
		log_info("banned: the ban of %s '%.100s' expired",
		    banned_as_names[old[j]->as], old[j]->who);
		(void)banned_store_del(old[j]);
		banned_remove(old[j]);
	}
	free(old);
}

/* Delete the bans whose time is up; see banned.h. */
void
banned_expire(void)
{
	pthread_mutex_lock(&banned_mutex);
	banned_expire_locked();
	pthread_mutex_unlock(&banned_mutex);
}

struct banned_load {
	size_t		 loaded, expired;
	uint64_t	 now;
	char		*bad;	/* the first record not decoding */
};

/* One stored ban into the maps. */
static int
banned_load_cb(struct str key, struct str val, void *arg)
{
	struct banned_load	*ld = arg;
	struct ban		*b;
	char			*cause = NULL;
	size_t			 i, n = key.len > 200 ? 200 : key.len;

	if ((b = banned_decode(key, val)) == NULL) {
		/* The key with its NUL shown as a space. */
		ld->bad = xmalloc(n + 1);
		for (i = 0; i < n; i++)
			ld->bad[i] = key.p[i] == '\0' ? ' ' : (char)key.p[i];
		ld->bad[n] = '\0';
		return (-1);
	}
	if (!banned_in_force(b, ld->now)) {
		if (store_del(key, false, &cause) != 0)
			free(cause);
		banned_free(b);
		ld->expired++;
		return (0);
	}
	banned_insert(b);
	ld->loaded++;
	return (0);
}

/* Load the list from the store; see banned.h. */
int
banned_init(char **cause)
{
	struct banned_load	 ld;
	int			 rv = 0;

	*cause = NULL;
	pthread_mutex_lock(&banned_mutex);
	banned_setup();
	if (!store_is_open())
		goto out;
	memset(&ld, 0, sizeof ld);
	ld.now = now_ms();
	if (store_scan(STR("b/"), banned_load_cb, &ld, cause) != 0) {
		if (ld.bad != NULL && *cause == NULL)
			xasprintf(cause, "store: the ban record '%s' is "
			    "damaged (it does not decode); run 'flockmq store "
			    "repair' with the same configuration to drop it "
			    "and keep the rest", ld.bad);
		free(ld.bad);
		rv = -1;
		goto out;
	}
	if (ld.loaded != 0 || ld.expired != 0)
		log_info("banned: %zu bans loaded from the store%s",
		    ld.loaded, ld.expired != 0 ? " (expired ones deleted)" :
		    "");
out:
	pthread_mutex_unlock(&banned_mutex);
	return (rv);
}

/* Free the list (the workers and the HTTP thread stopped). */
void
banned_release(void)
{
	struct hmap_ent	*e;
	size_t		 i;
	int		 as;

	pthread_mutex_lock(&banned_mutex);
	pthread_rwlock_wrlock(&banned_rwlock);
	if (banned_maps_init) {
		for (as = 0; as < BANNED_N_AS; as++) {
			for (i = 0, e = NULL;
			    (e = hmap_next(&banned_map[as], &i, e)) != NULL;)
				banned_free(e->val);
			hmap_release(&banned_map[as]);
		}
		banned_maps_init = false;
	}
	__atomic_store_n(&banned_n, 0, __ATOMIC_RELEASE);
	pthread_rwlock_unlock(&banned_rwlock);
	pthread_mutex_unlock(&banned_mutex);
}

/* True if no ban is in memory: CONNECT need not look further. */
bool
banned_empty(void)
{
	return (__atomic_load_n(&banned_n, __ATOMIC_ACQUIRE) == 0);
}

/* The first ban in force that matches, or NULL; banned_rwlock held. */
static const struct ban *
banned_find(struct str clientid, struct str username, const char *ip,
    uint64_t now)
{
	const struct hmap	*m = banned_map;
	struct hmap_ent		*e;
	const struct ban	*b = NULL;
	uint8_t			 addr[16];
	char			 text[INET6_ADDRSTRLEN], *s = NULL;
	size_t			 i;
	int			 family, as;

	if ((b = hmap_get(&m[BANNED_CLIENTID], clientid)) != NULL &&
	    banned_in_force(b, now))
		return (b);
	if (username.p != NULL &&
	    (b = hmap_get(&m[BANNED_USERNAME], username)) != NULL &&
	    banned_in_force(b, now))
		return (b);
	b = NULL;
	if (ip != NULL && (m[BANNED_PEERHOST].n != 0 ||
	    m[BANNED_PEERHOST_NET].n != 0) &&
	    banned_parse_ip(ip, &family, addr) == 0) {
		inet_ntop(family, addr, text, sizeof text);
		if ((b = hmap_get(&m[BANNED_PEERHOST], STR(text))) != NULL &&
		    banned_in_force(b, now))
			return (b);
		b = NULL;
		for (i = 0, e = NULL; (e = hmap_next(&m[BANNED_PEERHOST_NET],
		    &i, e)) != NULL;) {
			const struct ban	*n = e->val;
			uint8_t			 a[16];

			if (n->family != family || !banned_in_force(n, now))
				continue;
			memcpy(a, addr, sizeof a);
			banned_mask(a, family, n->prefix);
			if (memcmp(a, n->addr, family == AF_INET ? 4 : 16) ==
			    0)
				return (n);
		}
	}
	for (as = BANNED_CLIENTID_RE; as <= BANNED_USERNAME_RE; as++) {
		struct str	 v = as == BANNED_CLIENTID_RE ? clientid :
		    username;

		if (m[as].n == 0 || v.p == NULL)
			continue;
		s = xstrndup((const char *)v.p, v.len);
		for (i = 0, e = NULL; (e = hmap_next(&m[as], &i, e)) != NULL;) {
			const struct ban	*r = e->val;

			if (banned_in_force(r, now) &&
			    regexec(&r->re, s, 0, NULL, 0) == 0) {
				b = r;
				break;
			}
		}
		free(s);
		if (b != NULL)
			return (b);
	}
	return (NULL);
}

/* Whether the client is banned, describing the ban in why; see banned.h. */
bool
banned_match(struct str clientid, struct str username, const char *ip,
    char *why, size_t whylen)
{
	const struct ban	*b;
	char			 until[40];

	if (banned_empty())
		return (false);
	pthread_rwlock_rdlock(&banned_rwlock);
	if (banned_maps_init &&
	    (b = banned_find(clientid, username, ip, now_ms())) != NULL) {
		if (why != NULL) {
			banned_fmt_time(b->until, until, sizeof until);
			snprintf(why, whylen, "banned (%s '%.100s' by '%.50s' "
			    "until %s%s%.100s%s)", banned_as_names[b->as],
			    b->who, b->by, until, b->reason[0] != '\0' ?
			    ": '" : "", b->reason, b->reason[0] != '\0' ?
			    "'" : "");
		}
		pthread_rwlock_unlock(&banned_rwlock);
		return (true);
	}
	pthread_rwlock_unlock(&banned_rwlock);
	return (false);
}

/* True if the client is banned; see banned.h. */
bool
banned_check(const char *clientid, const char *username, const char *ip)
{
	return (banned_match(STR(clientid != NULL ? clientid : ""),
	    username != NULL ? STR(username) : STR_NULL, ip, NULL, 0));
}

/* Order of the list: by "at", then by creation. */
static int
banned_cmp(const void *a, const void *b)
{
	const struct ban	*x = *(struct ban *const *)a;
	const struct ban	*y = *(struct ban *const *)b;

	if (x->at != y->at)
		return (x->at < y->at ? -1 : 1);
	return (x->seq < y->seq ? -1 : x->seq > y->seq);
}

/* Every ban in force; see banned.h. */
json_t *
banned_list(void)
{
	struct hmap_ent	*e;
	struct ban	**v = NULL;
	json_t		*a = json_array();
	size_t		 i, n = 0;
	int		 as;

	pthread_mutex_lock(&banned_mutex);
	banned_setup();
	banned_expire_locked();
	for (as = 0; as < BANNED_N_AS; as++) {
		for (i = 0, e = NULL;
		    (e = hmap_next(&banned_map[as], &i, e)) != NULL;) {
			v = xreallocarray(v, n + 1, sizeof *v);
			v[n++] = e->val;
		}
	}
	if (n != 0)
		qsort(v, n, sizeof *v, banned_cmp);
	for (i = 0; i < n; i++)
		json_array_append_new(a, banned_json(v[i]));
	pthread_mutex_unlock(&banned_mutex);
	free(v);
	return (a);
}

/* Add a ban from an EMQX body; see banned.h. */
int
banned_add(const json_t *body, const char *by, json_t **out, char **cause)
{
	struct ban	*b = NULL, *old;
	struct buf	 k, v;
	const json_t	*j;
	const char	*byf, *reason;
	char		 t[40], *err = NULL;
	uint64_t	 now = now_ms();
	int		 as, rv = -1;

	*out = NULL;
	*cause = NULL;
	buf_init(&k);
	buf_init(&v);
	if (!json_is_object(body)) {
		xasprintf(cause, "the body must be a JSON object");
		goto fail;
	}
	j = json_object_get(body, "as");
	if (j == NULL || !json_is_string(j) ||
	    (as = banned_as_parse(json_string_value(j),
	    json_string_length(j))) == -1) {
		xasprintf(cause, "\"as\" must be one of \"clientid\", "
		    "\"username\", \"peerhost\", \"clientid_re\", "
		    "\"username_re\", \"peerhost_net\"");
		goto fail;
	}
	j = json_object_get(body, "who");
	if (j == NULL || !json_is_string(j)) {
		xasprintf(cause, "\"who\" must be a string");
		goto fail;
	}
	b = xcalloc(1, sizeof *b);
	b->as = (enum banned_as)as;
	if (banned_parse_who(b, json_string_value(j), json_string_length(j),
	    cause) != 0 ||
	    banned_get_str(body, "by", &byf, cause) != 0 ||
	    banned_get_str(body, "reason", &reason, cause) != 0)
		goto fail;
	b->by = xstrdup(byf != NULL ? byf : by != NULL && strlen(by) <=
	    BANNED_STR_MAX ? by : "mgmt_api");
	b->reason = xstrdup(reason != NULL ? reason : "");
	switch (banned_get_time(body, "at", false, &b->at, cause)) {
	case -1:
		goto fail;
	case 1:
		b->at = now;
		break;
	}
	switch (banned_get_time(body, "until", true, &b->until, cause)) {
	case -1:
		goto fail;
	case 1:
		b->until = b->at + BANNED_DEFAULT_MS;
		break;
	}
	if (b->until != 0 && b->until <= now) {
		banned_fmt_time(b->until, t, sizeof t);
		xasprintf(cause, "\"until\" (%s) is in the past: the ban "
		    "would never apply", t);
		goto fail;
	}
	if (b->until != 0 && b->until <= b->at) {
		xasprintf(cause, "\"until\" must be later than \"at\"");
		goto fail;
	}

	pthread_mutex_lock(&banned_mutex);
	banned_setup();
	banned_expire_locked();
	if ((old = hmap_get(&banned_map[b->as], STR(b->who))) != NULL) {
		banned_fmt_time(old->until, t, sizeof t);
		xasprintf(cause, "%s '%.100s' is banned already (until %s)",
		    banned_as_names[b->as], b->who, t);
		pthread_mutex_unlock(&banned_mutex);
		rv = 1;
		goto fail;
	}
	if (store_is_open()) {
		banned_key(&k, b->as, b->who);
		banned_encode(&v, (struct str){ buf_head(&k), buf_used(&k) },
		    b);
		if (store_put((struct str){ buf_head(&k), buf_used(&k) },
		    (struct str){ buf_head(&v), buf_used(&v) }, true,
		    &err) != 0) {
			xasprintf(cause, "cannot store the ban: %s", err);
			free(err);
			pthread_mutex_unlock(&banned_mutex);
			goto fail;
		}
	}
	*out = banned_json(b);
	banned_fmt_time(b->until, t, sizeof t);
	log_info("banned: %s '%.100s' banned by '%.50s' until %s",
	    banned_as_names[b->as], b->who, b->by, t);
	banned_insert(TAKE(b));
	pthread_mutex_unlock(&banned_mutex);
	rv = 0;

fail:
	banned_free(b);
	buf_release(&k);
	buf_release(&v);
	return (rv);
}

/* Remove a ban; see banned.h. */
int
banned_del(const char *as, const char *who)
{
	struct ban	 tmp, *b;
	char		*cause = NULL;
	int		 kind, rv = -1;

	if (as == NULL || who == NULL ||
	    (kind = banned_as_parse(as, strlen(as))) == -1)
		return (-1);
	memset(&tmp, 0, sizeof tmp);
	tmp.as = (enum banned_as)kind;
	/* Normalise who as banned_add did (a regex is kept as it is). */
	if (kind == BANNED_CLIENTID_RE || kind == BANNED_USERNAME_RE)
		tmp.as = BANNED_CLIENTID;
	if (banned_parse_who(&tmp, who, strlen(who), &cause) != 0) {
		free(cause);
		return (-1);
	}
	pthread_mutex_lock(&banned_mutex);
	banned_setup();
	banned_expire_locked();
	if ((b = hmap_get(&banned_map[kind], STR(tmp.who))) != NULL) {
		(void)banned_store_del(b);
		log_info("banned: the ban of %s '%.100s' lifted", as, b->who);
		banned_remove(b);
		rv = 0;
	}
	pthread_mutex_unlock(&banned_mutex);
	free(tmp.who);
	return (rv);
}
