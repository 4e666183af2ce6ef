/*
 * http.c: the embedded HTTP server (see http.h).
 *
 * Two libmicrohttpd daemons, each with a thread per connection: the
 * dashboard listener (dashboard.listeners.http.bind), which serves
 * admin-ui/, the REST API under /api/v5 and Prometheus, with
 * authentication; and the ctl socket (node.data_dir/ctl.sock, mode 0600),
 * which serves the same API to `flockmq ctl` without authentication.
 *
 * This file holds the server, the routing, the helpers of http_int.h and
 * authentication; the handlers of the broker's state are in http_api.c.
 * Users, API keys, tokens and the failed-login table are shared by every
 * request's thread under http_lock, which is never held across PBKDF2 (a
 * login costs about 100 ms of CPU).  The other state handlers touch has
 * its own lock (banned.c, listener.c, retain.c, store.c, metrics.c) or
 * belongs to a worker, reached by worker_call_wait.  Users ("u/NAME")
 * and API keys ("k/NAME") are records of the store: a version byte, JSON,
 * CRC-32 (docs/storage.md).  Passwords are PBKDF2-HMAC-SHA256 with a
 * random salt; API secrets, random 192-bit strings, are kept as SHA-256.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/sha256.h>
#include <microhttpd.h>

#include "admin_ui.h"
#include "config.h"
#include "ctl.h"
#include "http.h"
#include "http_int.h"
#include "listener.h"
#include "log.h"
#include "mqtt.h"
#include "msg.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

#define HTTP_REQ_MAGIC		0x48545451U
#define HTTP_BODY_MAX		(1024 * 1024)
#define HTTP_PAGE_LIMIT_MAX	10000
#define HTTP_CONNS_MAX		256	/* per daemon; a thread each */
#define HTTP_PBKDF2_ITER	100000
#define HTTP_TOKENS_MAX		1024
#define HTTP_FAILS_MAX		256
/* Failed logins from one address for one user before it is locked. */
#define HTTP_FAILS_LOCK		5
#define HTTP_FAILS_WINDOW_MS	(5 * 60 * 1000)
#define HTTP_LOCK_MS		(60 * 1000)
#define HTTP_PASSWORD_MIN	8
#define HTTP_PASSWORD_MAX	64

struct http_user {
	char		*name;
	char		*role;
	char		*desc;
	uint32_t	 iter;
	uint8_t		 salt[16];
	uint8_t		 hash[32];
};

struct http_key {
	char		*name;
	char		*key;		/* the public part, "a1b2..." */
	uint8_t		 secret[32];	/* SHA-256 of the secret */
	char		*desc;
	bool		 enable;
	int64_t		 expired_at;	/* s since the epoch; 0 never */
	int64_t		 created_at;
};

struct http_token {
	char		 token[65];
	char		*user;
	uint64_t	 expires;	/* ms */
};

struct http_fail {
	char		 key[192];	/* user '\0' address */
	uint32_t	 n;
	uint64_t	 first;		/* ms */
	uint64_t	 locked_until;	/* ms */
};

static struct MHD_Daemon	*http_daemon, *http_ctl_daemon;
static char			*http_ctl_path;
static pthread_mutex_t		 http_lock = PTHREAD_MUTEX_INITIALIZER;
static struct http_user		**http_users;
static size_t			 http_n_users;
static struct http_key		**http_keys;
static size_t			 http_n_keys;
static struct http_token	 http_tokens[HTTP_TOKENS_MAX];
static struct http_fail		 http_fails[HTTP_FAILS_MAX];

unsigned			 http_pbkdf2_iter = HTTP_PBKDF2_ITER;

/* Answer with JSON (takes the reference). */
void
http_json(struct http_req *r, unsigned status, json_t *j)
{
	free(r->resp);
	r->status = status;
	r->resp = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	r->resp_len = r->resp != NULL ? strlen(r->resp) : 0;
	r->ctype = "application/json";
	json_decref(j);
}

/* Answer with EMQX's error object {"code", "message"}. */
void __attribute__((format(printf, 4, 5)))
http_error(struct http_req *r, unsigned status, const char *code,
    const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *p;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("http: out of memory");
	va_end(ap);
	/* It may quote a path or a name that is not UTF-8; JSON must be. */
	if (!mqtt_utf8_valid(STR(msg))) {
		for (p = msg; *p != '\0'; p++) {
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		}
	}
	http_json(r, status, json_pack("{s:s, s:s}", "code", code, "message",
	    msg));
	free(msg);
}

/* Answer with nothing (204 and the like). */
void
http_empty(struct http_req *r, unsigned status)
{
	free(r->resp);
	r->resp = NULL;
	r->resp_len = 0;
	r->status = status;
	r->ctype = NULL;
}

/* Answer with text (takes s, allocated). */
void
http_text(struct http_req *r, unsigned status, const char *ctype, char *s,
    size_t len)
{
	free(r->resp);
	r->status = status;
	r->resp = s;
	r->resp_len = len;
	r->ctype = ctype;
}

/* libmicrohttpd's lookup of a header or query argument. */
static const char *
http_mhd_lookup(const struct http_req *r, int kind, const char *name)
{
	return (MHD_lookup_connection_value(r->mc, kind == HTTP_KIND_ARG ?
	    MHD_GET_ARGUMENT_KIND : MHD_HEADER_KIND, name));
}

/* A query argument, or NULL. */
const char *
http_arg(const struct http_req *r, const char *name)
{
	return (r->lookup(r, HTTP_KIND_ARG, name));
}

/* A request header, or NULL. */
const char *
http_header(const struct http_req *r, const char *name)
{
	return (r->lookup(r, HTTP_KIND_HEADER, name));
}

/* Decode %2F and %25, which http_unescape_cb leaves (see there). */
static void
http_unescape_rest(char *s)
{
	char	*o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '%' && s[1] == '2' &&
		    (s[2] == 'F' || s[2] == 'f' || s[2] == '5')) {
			*o++ = s[2] == '5' ? '%' : '/';
			s += 2;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

/*
 * libmicrohttpd's unescaping, except that %2F and %25 stay: the path is
 * split at '/' before they are decoded, so a client id may hold '/'.
 * Query arguments get http_unescape_rest when read (http_arg_str).
 */
size_t
http_unescape(char *s)
{
	char	*o = s, *p, hex[3];

	for (p = s; *p != '\0'; p++) {
		if (p[0] == '%' && isxdigit((unsigned char)p[1]) &&
		    isxdigit((unsigned char)p[2]) && !(p[1] == '2' &&
		    (p[2] == 'F' || p[2] == 'f' || p[2] == '5'))) {
			hex[0] = p[1];
			hex[1] = p[2];
			hex[2] = '\0';
			*o++ = (char)strtol(hex, NULL, 16);
			p += 2;
		} else
			*o++ = *p;
	}
	*o = '\0';
	return ((size_t)(o - s));
}

/* libmicrohttpd's unescape callback: http_unescape. */
static size_t
http_unescape_cb(void *cls, struct MHD_Connection *mc, char *s)
{
	(void)cls;
	(void)mc;
	return (http_unescape(s));
}

/* A query argument, fully decoded, allocated; NULL if absent. */
char *
http_arg_str(const struct http_req *r, const char *name)
{
	const char	*v = http_arg(r, name);
	char		*s;

	if (v == NULL)
		return (NULL);
	s = xstrdup(v);
	http_unescape_rest(s);
	return (s);
}

/* "2026-11-27T12:56:38.123Z" for ms since the epoch. */
static void
http_time(uint64_t ms, char *s, size_t len)
{
	struct tm	 tm;
	time_t		 t = (time_t)(ms / 1000);
	size_t		 n;

	gmtime_r(&t, &tm);
	n = strftime(s, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(s + n, len - n, ".%03uZ", (unsigned)(ms % 1000));
}

/* A JSON string of http_time. */
json_t *
http_time_json(uint64_t ms)
{
	char	 s[40];

	http_time(ms, s, sizeof s);
	return (json_string(s));
}

/* Parse "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM)" into s since the epoch. */
static int
http_parse_time(const char *s, int64_t *out)
{
	struct tm	 tm;
	const char	*p;
	long		 off = 0;
	int		 h, m;

	memset(&tm, 0, sizeof tm);
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return (-1);
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++)
			;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2]) && p[3] == ':' &&
	    isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5])) {
		h = (p[1] - '0') * 10 + (p[2] - '0');
		m = (p[4] - '0') * 10 + (p[5] - '0');
		if (h > 23 || m > 59)
			return (-1);
		off = (h * 3600L + m * 60L) * (*p == '-' ? -1 : 1);
		p += 6;
	} else
		return (-1);
	if (*p != '\0')
		return (-1);
	*out = (int64_t)timegm(&tm) - off;
	return (0);
}

/* Random bytes as lower-case hex (2n characters and a NUL). */
void
http_random_hex(char *out, size_t n)
{
	uint8_t		 b[64];
	size_t		 i;

	if (n > sizeof b || getrandom(b, n, 0) != (ssize_t)n)
		fatal("http: getrandom failed");
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Hex text of n bytes into out (2n + 1). */
static void
http_hex(const uint8_t *p, size_t n, char *out)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* Hex text into n bytes; -1 if it is not exactly that. */
static int
http_unhex(const char *s, uint8_t *p, size_t n)
{
	size_t		 i;
	unsigned	 v;

	if (s == NULL || strlen(s) != 2 * n)
		return (-1);
	for (i = 0; i < n; i++) {
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return (-1);
		p[i] = (uint8_t)v;
	}
	return (0);
}

/* Constant-time comparison. */
static bool
http_same(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint8_t	 d = 0;
	size_t	 i;

	for (i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return (d == 0);
}

/* PBKDF2-HMAC-SHA256 of a password. */
static void
http_pbkdf2(const char *pw, const uint8_t *salt, uint32_t iter,
    uint8_t out[32])
{
	mbedtls_md_context_t	 md;

	mbedtls_md_init(&md);
	if (mbedtls_md_setup(&md, mbedtls_md_info_from_type(
	    MBEDTLS_MD_SHA256), 1) != 0 ||
	    mbedtls_pkcs5_pbkdf2_hmac(&md, (const unsigned char *)pw,
	    strlen(pw), salt, 16, iter, 32, out) != 0)
		fatal("http: PBKDF2 failed");
	mbedtls_md_free(&md);
}

/* Store a record "PREFIX NAME" -> version 1, JSON, CRC-32. */
static int
http_record_put(const char *prefix, const char *name, json_t *j,
    char **cause)
{
	struct buf	 k, v;
	char		*s;
	uint32_t	 crc;
	int		 rc;

	s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	buf_init(&k);
	buf_init(&v);
	buf_add(&k, prefix, strlen(prefix));
	buf_add(&k, name, strlen(name));
	buf_add_u8(&v, 1);
	buf_add(&v, s, strlen(s));
	crc = store_crc32(store_crc32(0, buf_head(&k), buf_used(&k)),
	    buf_head(&v), buf_used(&v));
	buf_add_u32(&v, crc);
	rc = store_put(STRB(&k), STRB(&v), true, cause);
	free(s);
	buf_release(&k);
	buf_release(&v);
	return (rc);
}

/* Delete a record. */
static int
http_record_del(const char *prefix, const char *name, char **cause)
{
	struct buf	 k;
	int		 rc;

	buf_init(&k);
	buf_add(&k, prefix, strlen(prefix));
	buf_add(&k, name, strlen(name));
	rc = store_del(STRB(&k), true, cause);
	buf_release(&k);
	return (rc);
}

/* The JSON of a u/ or k/ record, or NULL if it does not decode. */
static json_t *
http_record_json(struct str key, struct str val)
{
	uint32_t	 crc;

	if (val.len < 6 || val.p[0] != 1)
		return (NULL);
	crc = get_be(val.p + val.len - 4, 4);
	if (store_crc32(store_crc32(0, key.p, key.len), val.p,
	    val.len - 4) != crc)
		return (NULL);
	return (json_loadb((const char *)val.p + 1, val.len - 5, 0, NULL));
}

/* A user from its JSON record, or NULL. */
static struct http_user *
http_user_from(const char *name, json_t *j)
{
	struct http_user	*u;
	const char		*salt = NULL, *hash = NULL, *role = "";
	const char		*desc = "";
	json_int_t		 iter = 0;

	if (j == NULL || json_unpack(j, "{s:I, s:s, s:s, s?s, s?s}",
	    "iter", &iter, "salt", &salt, "hash", &hash, "role", &role,
	    "desc", &desc) != 0 || iter < 1 || iter > 10000000)
		return (NULL);
	u = xcalloc(1, sizeof *u);
	if (http_unhex(salt, u->salt, sizeof u->salt) != 0 ||
	    http_unhex(hash, u->hash, sizeof u->hash) != 0) {
		free(u);
		return (NULL);
	}
	u->iter = (uint32_t)iter;
	u->name = xstrdup(name);
	u->role = xstrdup(role[0] != '\0' ? role : "administrator");
	u->desc = xstrdup(desc);
	return (u);
}

/* An API key from its JSON record, or NULL. */
static struct http_key *
http_key_from(const char *name, json_t *j)
{
	struct http_key		*k;
	const char		*key = NULL, *secret = NULL, *desc = "";
	json_int_t		 exp = 0, created = 0;
	int			 enable = 1;

	if (j == NULL || json_unpack(j, "{s:s, s:s, s?s, s?b, s?I, s?I}",
	    "key", &key, "secret_sha256", &secret, "desc", &desc, "enable",
	    &enable, "expired_at", &exp, "created_at", &created) != 0)
		return (NULL);
	k = xcalloc(1, sizeof *k);
	if (http_unhex(secret, k->secret, sizeof k->secret) != 0) {
		free(k);
		return (NULL);
	}
	k->name = xstrdup(name);
	k->key = xstrdup(key);
	k->desc = xstrdup(desc);
	k->enable = enable != 0;
	k->expired_at = exp;
	k->created_at = created;
	return (k);
}

/* Free a user. */
static void
http_user_free(struct http_user *u)
{
	if (u == NULL)
		return;
	free(u->name);
	free(u->role);
	free(u->desc);
	free(u);
}

/* Free an API key. */
static void
http_key_free(struct http_key *k)
{
	if (k == NULL)
		return;
	free(k->name);
	free(k->key);
	free(k->desc);
	free(k);
}

/* Whether a "u/" or "k/" record decodes (store repair). */
bool
http_record_ok(struct str key, struct str val)
{
	struct http_user	*u = NULL;
	struct http_key		*k = NULL;
	json_t			*j;
	char			*name;
	bool			 ok;

	if (key.len < 3 || (memcmp(key.p, "u/", 2) != 0 &&
	    memcmp(key.p, "k/", 2) != 0))
		return (false);
	if ((j = http_record_json(key, val)) == NULL)
		return (false);
	name = xstrndup((const char *)key.p + 2, key.len - 2);
	if (key.p[0] == 'u')
		u = http_user_from(name, j);
	else
		k = http_key_from(name, j);
	json_decref(j);
	free(name);
	ok = u != NULL || k != NULL;
	http_user_free(u);
	http_key_free(k);
	return (ok);
}

/* A user by name (http_lock held), or NULL. */
static struct http_user *
http_user_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < http_n_users; i++) {
		if (strcmp(http_users[i]->name, name) == 0)
			return (http_users[i]);
	}
	return (NULL);
}

/* An API key by name (http_lock held), or NULL. */
static struct http_key *
http_key_find(const char *name)
{
	size_t	 i;

	for (i = 0; i < http_n_keys; i++) {
		if (strcmp(http_keys[i]->name, name) == 0)
			return (http_keys[i]);
	}
	return (NULL);
}

/* Write a user's record. */
static int
http_user_save(const struct http_user *u, char **cause)
{
	char	 salt[33], hash[65];

	http_hex(u->salt, sizeof u->salt, salt);
	http_hex(u->hash, sizeof u->hash, hash);
	return (http_record_put("u/", u->name, json_pack(
	    "{s:I, s:s, s:s, s:s, s:s}", "iter", (json_int_t)u->iter,
	    "salt", salt, "hash", hash, "role", u->role, "desc", u->desc),
	    cause));
}

/* Set a user's password (new salt) and write it (http_lock held). */
static int
http_user_set_password(struct http_user *u, const char *pw, char **cause)
{
	if (getrandom(u->salt, sizeof u->salt, 0) != (ssize_t)sizeof u->salt)
		fatal("http: getrandom failed");
	u->iter = http_pbkdf2_iter;
	http_pbkdf2(pw, u->salt, u->iter, u->hash);
	return (http_user_save(u, cause));
}

/* Write an API key's record. */
static int
http_key_save(const struct http_key *k, char **cause)
{
	char	 secret[65];

	http_hex(k->secret, sizeof k->secret, secret);
	return (http_record_put("k/", k->name, json_pack(
	    "{s:s, s:s, s:s, s:b, s:I, s:I}", "key", k->key,
	    "secret_sha256", secret, "desc", k->desc, "enable", k->enable,
	    "expired_at", (json_int_t)k->expired_at, "created_at",
	    (json_int_t)k->created_at), cause));
}

/* store_scan callback: one u/ or k/ record at start-up. */
static int
http_load_cb(struct str key, struct str val, void *arg)
{
	char		**cause = arg, *name;
	json_t		*j = http_record_json(key, val);
	void		*p;

	name = xstrndup((const char *)key.p + 2, key.len - 2);
	if (key.p[0] == 'u')
		p = http_user_from(name, j);
	else
		p = http_key_from(name, j);
	json_decref(j);
	if (p == NULL) {
		xasprintf(cause, "http: damaged record '%c/%s' in the store; "
		    "stop the node and run 'flockmq store repair'", key.p[0],
		    name);
		free(name);
		return (-1);
	}
	free(name);
	if (key.p[0] == 'u') {
		http_users = xreallocarray(http_users, http_n_users + 1,
		    sizeof *http_users);
		http_users[http_n_users++] = p;
	} else {
		http_keys = xreallocarray(http_keys, http_n_keys + 1,
		    sizeof *http_keys);
		http_keys[http_n_keys++] = p;
	}
	return (0);
}

/* Load users and keys; create the default user on first start. */
int
http_load(char **cause)
{
	struct http_user	*u;

	if (store_scan(STR("u/"), http_load_cb, cause, cause) != 0 ||
	    store_scan(STR("k/"), http_load_cb, cause, cause) != 0)
		return (-1);
	if (http_user_find(config->dashboard_default_username) != NULL)
		return (0);
	u = xcalloc(1, sizeof *u);
	u->name = xstrdup(config->dashboard_default_username);
	u->role = xstrdup("administrator");
	u->desc = xstrdup("dashboard administrator");
	if (http_user_set_password(u, config->dashboard_default_password,
	    cause) != 0) {
		http_user_free(u);
		return (-1);
	}
	http_users = xreallocarray(http_users, http_n_users + 1,
	    sizeof *http_users);
	http_users[http_n_users++] = u;
	log_notice("http: created the dashboard user '%s'", u->name);
	return (0);
}

/* A new login token for user (http_lock held); the oldest goes if full. */
static const char *
http_token_new(const char *user)
{
	struct http_token	*t = NULL;
	uint64_t		 now = now_ms();
	size_t			 i;

	for (i = 0; i < HTTP_TOKENS_MAX; i++) {
		if (http_tokens[i].user == NULL || http_tokens[i].expires <
		    now) {
			t = &http_tokens[i];
			break;
		}
		if (t == NULL || http_tokens[i].expires < t->expires)
			t = &http_tokens[i];
	}
	free(t->user);
	http_random_hex(t->token, 32);
	t->user = xstrdup(user);
	t->expires = now + (uint64_t)config->dashboard_token_expired_time;
	return (t->token);
}

/* Drop a user's tokens but keep (http_lock held). */
static void
http_token_drop_user(const char *user, const char *keep)
{
	size_t	 i;

	for (i = 0; i < HTTP_TOKENS_MAX; i++) {
		if (http_tokens[i].user == NULL ||
		    strcmp(http_tokens[i].user, user) != 0 ||
		    (keep != NULL && strcmp(http_tokens[i].token, keep) == 0))
			continue;
		free(http_tokens[i].user);
		memset(&http_tokens[i], 0, sizeof http_tokens[i]);
	}
}

/* The failed-login entry of a user at an address (http_lock held). */
static struct http_fail *
http_fail_find(const char *user, const char *ip, bool create)
{
	struct http_fail	*f, *old = NULL;
	char			 key[192];
	uint64_t		 now = now_ms();
	size_t			 i;

	memset(key, 0, sizeof key);
	snprintf(key, sizeof key, "%.120s%c%s", user, '\0', ip);
	for (i = 0; i < HTTP_FAILS_MAX; i++) {
		f = &http_fails[i];
		if (f->n != 0 && memcmp(f->key, key, sizeof key) == 0)
			return (f);
		if (old == NULL || f->n == 0 || (old->n != 0 &&
		    f->first < old->first))
			old = f;
	}
	if (!create)
		return (NULL);
	memset(old, 0, sizeof *old);
	memcpy(old->key, key, sizeof key);
	old->first = now;
	return (old);
}

/* Authenticate a request; false (and a 401 answer) if it may not pass. */
static bool
http_auth(struct http_req *r)
{
	const char		*h;
	struct http_key		*k;
	uint64_t		 now = now_ms();
	uint8_t			 dec[256], sum[32];
	size_t			 i, n;
	char			*colon;
	bool			 ok = false;

	if (r->trusted) {
		snprintf(r->who, sizeof r->who, "ctl");
		return (true);
	}
	h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	r->www_auth = "Bearer realm=\"flockmq\", Basic realm=\"flockmq\"";
	if (h == NULL) {
		http_error(r, 401, "BAD_TOKEN", "authorization required: a "
		    "bearer token from /api/v5/login or an API key");
		return (false);
	}
	pthread_mutex_lock(&http_lock);
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		/* Constant time: a token is 64 hex digits. */
		for (i = 0; strlen(h) == 64 && i < HTTP_TOKENS_MAX; i++) {
			if (http_tokens[i].user == NULL ||
			    !http_same((const uint8_t *)http_tokens[i].token,
			    (const uint8_t *)h, 64))
				continue;
			if (http_tokens[i].expires < now) {
				pthread_mutex_unlock(&http_lock);
				http_error(r, 401, "TOKEN_TIME_OUT",
				    "token expired; log in again");
				return (false);
			}
			snprintf(r->who, sizeof r->who, "%s",
			    http_tokens[i].user);
			ok = true;
			break;
		}
		pthread_mutex_unlock(&http_lock);
		if (!ok)
			http_error(r, 401, "BAD_TOKEN", "unknown token");
		return (ok);
	}
	if (strncasecmp(h, "Basic ", 6) == 0 &&
	    mbedtls_base64_decode(dec, sizeof dec - 1, &n,
	    (const unsigned char *)h + 6, strlen(h + 6)) == 0) {
		dec[n] = '\0';
		if ((colon = strchr((char *)dec, ':')) != NULL) {
			*colon = '\0';
			mbedtls_sha256_ret((const unsigned char *)colon + 1,
			    strlen(colon + 1), sum, 0);
			for (i = 0; i < http_n_keys; i++) {
				k = http_keys[i];
				if (strcmp(k->key, (char *)dec) != 0 ||
				    !http_same(k->secret, sum, sizeof sum) ||
				    !k->enable || (k->expired_at != 0 &&
				    k->expired_at * 1000 < (int64_t)now))
					continue;
				snprintf(r->who, sizeof r->who, "%s",
				    k->name);
				r->by_key = true;
				ok = true;
			}
		}
	}
	pthread_mutex_unlock(&http_lock);
	if (!ok)
		http_error(r, 401, "BAD_API_KEY_OR_SECRET", "bad API key or "
		    "secret, or the key is disabled or expired");
	return (ok);
}

/* The body as JSON, or NULL (and a 400 answer). */
json_t *
http_body_json(struct http_req *r)
{
	json_error_t	 err;
	json_t		*j;

	if (buf_used(&r->body) == 0) {
		http_error(r, 400, "BAD_REQUEST", "a JSON body is required");
		return (NULL);
	}
	j = json_loadb((const char *)buf_head(&r->body), buf_used(&r->body),
	    JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		http_error(r, 400, "BAD_REQUEST", "bad JSON body: %s (line %d, "
		    "column %d)", err.text, err.line, err.column);
	return (j);
}

/* The body as a JSON object, or NULL (and a 400 answer). */
json_t *
http_body_object(struct http_req *r)
{
	json_t	*j;

	if ((j = http_body_json(r)) != NULL && !json_is_object(j)) {
		json_decref(j);
		http_error(r, 400, "BAD_REQUEST", "the body must be a JSON "
		    "object");
		return (NULL);
	}
	return (j);
}

/*
 * A string member of a body: *out NULL if absent and optional; false (and
 * a 400 answer) if of another type, absent but required, or empty.
 */
bool
http_member_str(struct http_req *r, json_t *obj, const char *name,
    bool required, const char **out)
{
	json_t	*v = json_object_get(obj, name);

	*out = NULL;
	if (v == NULL && !required)
		return (true);
	if (v == NULL || !json_is_string(v)) {
		http_error(r, 400, "BAD_REQUEST", "'%s' %s", name, v == NULL ?
		    "is required" : "must be a string");
		return (false);
	}
	*out = json_string_value(v);
	if (required && **out == '\0') {
		http_error(r, 400, "BAD_REQUEST", "'%s' must not be empty",
		    name);
		return (false);
	}
	return (true);
}

/* Read ?page and ?limit; false (and a 400 answer) if bad. */
bool
http_page_args(struct http_req *r, long *page, long *limit)
{
	const char	*p = http_arg(r, "page"), *l = http_arg(r, "limit");
	char		*end;

	*page = 1;
	*limit = 100;
	if (p != NULL) {
		errno = 0;
		*page = strtol(p, &end, 10);
		if (*p == '\0' || *end != '\0' || errno != 0 || *page < 1 ||
		    *page > LONG_MAX / HTTP_PAGE_LIMIT_MAX) {
			http_error(r, 400, "BAD_REQUEST", "bad page '%s' "
			    "(1 to %ld)", p, LONG_MAX / HTTP_PAGE_LIMIT_MAX);
			return (false);
		}
	}
	if (l != NULL) {
		errno = 0;
		*limit = strtol(l, &end, 10);
		if (*l == '\0' || *end != '\0' || errno != 0 || *limit < 1 ||
		    *limit > HTTP_PAGE_LIMIT_MAX) {
			http_error(r, 400, "BAD_REQUEST", "bad limit '%s' "
			    "(1 to %d)", l, HTTP_PAGE_LIMIT_MAX);
			return (false);
		}
	}
	return (true);
}

/* Answer a page of count items (takes data): {"data", "meta"}. */
void
http_page_answer(struct http_req *r, json_t *data, long page, long limit,
    size_t count)
{
	size_t	 from = (size_t)(page - 1) * (size_t)limit;

	http_json(r, 200, json_pack("{s:o, s:{s:I, s:i, s:I, s:b}}", "data",
	    data, "meta", "page", (json_int_t)page, "limit", (int)limit,
	    "count", (json_int_t)count, "hasnext", from + (size_t)limit <
	    count));
}

/* Answer one page of an array (takes it): {"data", "meta"}. */
void
http_page(struct http_req *r, json_t *all, long page, long limit)
{
	json_t	*data = json_array();
	size_t	 n = json_array_size(all), i, from;

	from = (size_t)(page - 1) * (size_t)limit;
	for (i = from; i < n && i < from + (size_t)limit; i++)
		json_array_append(data, json_array_get(all, i));
	http_page_answer(r, data, page, limit, n);
	json_decref(all);
}

/* qsort: objects by their "clientid" then "topic". */
static int
http_cmp_obj(const void *a, const void *b)
{
	json_t * const	*x = a, * const *y = b;
	const char	*s, *t;
	int		 c;

	s = json_string_value(json_object_get(*x, "clientid"));
	t = json_string_value(json_object_get(*y, "clientid"));
	if ((c = strcmp(s != NULL ? s : "", t != NULL ? t : "")) != 0)
		return (c);
	s = json_string_value(json_object_get(*x, "topic"));
	t = json_string_value(json_object_get(*y, "topic"));
	return (strcmp(s != NULL ? s : "", t != NULL ? t : ""));
}

/* Join per-worker arrays into one, sorted by client id (takes them). */
json_t *
http_join(json_t **per)
{
	json_t	*all = json_array(), **v;
	size_t	 n = 0, i, k;
	unsigned w;

	for (w = 0; w < n_workers; w++)
		n += json_array_size(per[w]);
	v = xreallocarray(NULL, n + 1, sizeof *v);
	for (n = 0, w = 0; w < n_workers; w++) {
		for (i = 0; i < json_array_size(per[w]); i++)
			v[n++] = json_array_get(per[w], i);
	}
	qsort(v, n, sizeof *v, http_cmp_obj);
	for (k = 0; k < n; k++)
		json_array_append(all, v[k]);
	for (w = 0; w < n_workers; w++)
		json_decref(per[w]);
	free(v);
	return (all);
}

/* Whether a password is the default one, which has to be changed. */
static bool
http_is_default_password(const char *pw)
{
	return (strcmp(pw, "public") == 0 ||
	    strcmp(pw, config->dashboard_default_password) == 0);
}

/* A user's salt, rounds and hash, copied (http_lock held); false if none. */
static bool
http_user_secret(const char *name, struct http_user *out)
{
	struct http_user	*u;

	if ((u = http_user_find(name)) == NULL)
		return (false);
	memcpy(out->salt, u->salt, sizeof out->salt);
	memcpy(out->hash, u->hash, sizeof out->hash);
	out->iter = u->iter;
	return (true);
}

/*
 * POST /api/v5/login.  PBKDF2 runs outside http_lock, so that a login does
 * not hold up every other request's authentication.  The attempt is
 * counted as a failure before the password is checked, and forgotten if
 * it was right: concurrent attempts cannot pass HTTP_FAILS_LOCK.
 */
static void
http_login(struct http_req *r)
{
	struct http_user	 u;
	struct http_user	*user;
	struct http_fail	*f;
	json_t			*b;
	const char		*name, *pw, *token;
	uint64_t		 now = now_ms();
	uint8_t			 h[32];
	bool			 ok;

	if ((b = http_body_object(r)) == NULL)
		return;
	if (!http_member_str(r, b, "username", true, &name) ||
	    !http_member_str(r, b, "password", true, &pw))
		goto out;
	pthread_mutex_lock(&http_lock);
	f = http_fail_find(name, r->ip, true);
	if (f->locked_until > now) {
		r->retry_after = (unsigned)((f->locked_until - now) / 1000 + 1);
		pthread_mutex_unlock(&http_lock);
		log_warn("http: login of '%s' from %s refused: locked after "
		    "%d failures", name, r->ip, HTTP_FAILS_LOCK);
		http_error(r, 429, "LOGIN_LOCKED", "too many failed logins; "
		    "try again in %u s", r->retry_after);
		goto out;
	}
	if (f->n == 0 || now - f->first > HTTP_FAILS_WINDOW_MS) {
		f->first = now;
		f->n = 0;
	}
	if (++f->n >= HTTP_FAILS_LOCK)
		f->locked_until = now + HTTP_LOCK_MS;
	ok = http_user_secret(name, &u);
	pthread_mutex_unlock(&http_lock);

	/* An unknown user costs the same time as a wrong password. */
	if (!ok) {
		memcpy(u.salt, "flockmq-no-user.", sizeof u.salt);
		u.iter = http_pbkdf2_iter;
	}
	http_pbkdf2(pw, u.salt, u.iter, h);
	ok = ok && http_same(h, u.hash, sizeof h);
	if (!ok) {
		log_warn("http: login failed for user '%s' from %s", name,
		    r->ip);
		r->www_auth = "Bearer realm=\"flockmq\"";
		http_error(r, 401, "BAD_USERNAME_OR_PWD", "bad username or "
		    "password");
		goto out;
	}
	pthread_mutex_lock(&http_lock);
	if ((f = http_fail_find(name, r->ip, false)) != NULL)
		memset(f, 0, sizeof *f);
	user = http_user_find(name);
	token = http_token_new(name);
	http_json(r, 200, json_pack("{s:s, s:s, s:s, s:{s:s}, s:b}",
	    "token", token, "version", PACKAGE_VERSION, "role", user->role,
	    "license", "edition", "opensource", "must_change_password",
	    http_is_default_password(pw)));
	pthread_mutex_unlock(&http_lock);
	log_info("http: user '%s' logged in from %s", name, r->ip);
out:
	json_decref(b);
}

/* POST /api/v5/logout: the token used ends. */
static void
http_logout(struct http_req *r)
{
	const char	*h;
	size_t		 i;

	h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	pthread_mutex_lock(&http_lock);
	for (i = 0; h != NULL && strncasecmp(h, "Bearer ", 7) == 0 &&
	    i < HTTP_TOKENS_MAX; i++) {
		if (http_tokens[i].user != NULL &&
		    strcmp(http_tokens[i].token, h + 7) == 0) {
			free(http_tokens[i].user);
			memset(&http_tokens[i], 0, sizeof http_tokens[i]);
		}
	}
	pthread_mutex_unlock(&http_lock);
	http_empty(r, 204);
}

/* GET /api/v5/users */
static void
http_get_users(struct http_req *r)
{
	json_t	*a = json_array();
	size_t	 i;

	pthread_mutex_lock(&http_lock);
	for (i = 0; i < http_n_users; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}",
		    "username", http_users[i]->name, "role",
		    http_users[i]->role, "description", http_users[i]->desc));
	pthread_mutex_unlock(&http_lock);
	http_json(r, 200, a);
}

/* Whether a new password is acceptable; else a 400 answer. */
static bool
http_password_ok(struct http_req *r, const char *pw)
{
	size_t	 n = strlen(pw);

	if (n < HTTP_PASSWORD_MIN || n > HTTP_PASSWORD_MAX) {
		http_error(r, 400, "BAD_REQUEST", "the password must have %d "
		    "to %d characters", HTTP_PASSWORD_MIN, HTTP_PASSWORD_MAX);
		return (false);
	}
	if (http_is_default_password(pw)) {
		http_error(r, 400, "BAD_REQUEST", "choose another password "
		    "than the default");
		return (false);
	}
	return (true);
}

/*
 * Change a password: the shared part of change_pwd and reset_pwd.  As for
 * a login, PBKDF2 runs outside http_lock; the change applies only if the
 * password did not change meanwhile.
 */
static void
http_set_password(struct http_req *r, const char *name, const char *old,
    const char *pw)
{
	struct http_user	 was, now;
	struct http_user	*u;
	const char		*keep = NULL, *h;
	char			*cause = NULL;
	uint8_t			 sum[32];
	bool			 found;

	if (!http_password_ok(r, pw))
		return;
	pthread_mutex_lock(&http_lock);
	found = http_user_secret(name, &was);
	pthread_mutex_unlock(&http_lock);
	if (!found) {
		http_error(r, 404, "NOT_FOUND", "no user '%s'", name);
		return;
	}
	if (old != NULL) {
		http_pbkdf2(old, was.salt, was.iter, sum);
		if (!http_same(sum, was.hash, sizeof sum)) {
			http_error(r, 400, "BAD_REQUEST", "the old password is "
			    "wrong");
			return;
		}
		if (strcmp(old, pw) == 0) {
			http_error(r, 400, "BAD_REQUEST", "the new password "
			    "is the old one");
			return;
		}
	}
	if (getrandom(now.salt, sizeof now.salt, 0) != (ssize_t)sizeof now.salt)
		fatal("http: getrandom failed");
	now.iter = http_pbkdf2_iter;
	http_pbkdf2(pw, now.salt, now.iter, now.hash);

	pthread_mutex_lock(&http_lock);
	u = http_user_find(name);
	if (!http_same(u->hash, was.hash, sizeof was.hash) ||
	    memcmp(u->salt, was.salt, sizeof was.salt) != 0) {
		pthread_mutex_unlock(&http_lock);
		http_error(r, 409, "CONFLICT", "the password of '%s' changed "
		    "meanwhile", name);
		return;
	}
	memcpy(u->salt, now.salt, sizeof u->salt);
	memcpy(u->hash, now.hash, sizeof u->hash);
	u->iter = now.iter;
	if (http_user_save(u, &cause) != 0) {
		memcpy(u->salt, was.salt, sizeof u->salt);
		memcpy(u->hash, was.hash, sizeof u->hash);
		u->iter = was.iter;
		pthread_mutex_unlock(&http_lock);
		http_error(r, 500, "INTERNAL_ERROR", "%s", cause);
		free(cause);
		return;
	}
	h = http_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0)
		keep = h + 7;
	http_token_drop_user(name, keep);
	pthread_mutex_unlock(&http_lock);
	log_notice("http: password of user '%s' changed by '%s'", name,
	    r->who);
	http_empty(r, 204);
}

/* POST /api/v5/users/:name/change_pwd {"old_pwd", "new_pwd"} */
static void
http_change_pwd(struct http_req *r)
{
	json_t		*b;
	const char	*old, *pw;

	if ((b = http_body_object(r)) == NULL)
		return;
	if (http_member_str(r, b, "old_pwd", true, &old) &&
	    http_member_str(r, b, "new_pwd", true, &pw))
		http_set_password(r, r->param[0], old, pw);
	json_decref(b);
}

/* POST /api/v5/users/:name/reset_pwd {"password"} (ctl socket only) */
static void
http_reset_pwd(struct http_req *r)
{
	json_t		*b;
	const char	*pw;

	if ((b = http_body_object(r)) == NULL)
		return;
	if (http_member_str(r, b, "password", true, &pw))
		http_set_password(r, r->param[0], NULL, pw);
	json_decref(b);
}

/* EMQX's object of an API key (http_lock held). */
static json_t *
http_key_json(const struct http_key *k)
{
	json_t	*j;

	j = json_pack("{s:s, s:s, s:s, s:b, s:o, s:b}", "name", k->name,
	    "api_key", k->key, "desc", k->desc, "enable", k->enable,
	    "created_at", http_time_json((uint64_t)k->created_at * 1000),
	    "expired", k->expired_at != 0 &&
	    k->expired_at * 1000 < (int64_t)now_ms());
	json_object_set_new(j, "expired_at", k->expired_at == 0 ?
	    json_string("infinity") :
	    http_time_json((uint64_t)k->expired_at * 1000));
	return (j);
}

/* GET /api/v5/api_key */
static void
http_get_keys(struct http_req *r)
{
	json_t	*a = json_array();
	size_t	 i;

	pthread_mutex_lock(&http_lock);
	for (i = 0; i < http_n_keys; i++)
		json_array_append_new(a, http_key_json(http_keys[i]));
	pthread_mutex_unlock(&http_lock);
	http_json(r, 200, a);
}

/* Apply desc, enable and expired_at of a body to a key; false if bad. */
static bool
http_key_fields(struct http_req *r, json_t *b, struct http_key *k)
{
	const char	*desc, *exp;
	json_t		*v;
	int64_t		 t = 0;

	if (!http_member_str(r, b, "desc", false, &desc))
		return (false);
	if ((v = json_object_get(b, "enable")) != NULL &&
	    !json_is_boolean(v)) {
		http_error(r, 400, "BAD_REQUEST", "'enable' must be true or "
		    "false");
		return (false);
	}
	if (!http_member_str(r, b, "expired_at", false, &exp))
		return (false);
	if (exp != NULL && strcmp(exp, "infinity") != 0 &&
	    http_parse_time(exp, &t) != 0) {
		http_error(r, 400, "BAD_REQUEST", "bad 'expired_at' '%s' "
		    "(RFC 3339 or \"infinity\")", exp);
		return (false);
	}
	if (desc != NULL) {
		free(k->desc);
		k->desc = xstrdup(desc);
	}
	if (v != NULL)
		k->enable = json_is_true(v);
	if (exp != NULL)
		k->expired_at = strcmp(exp, "infinity") == 0 ? 0 : t;
	return (true);
}

/* POST /api/v5/api_key: the secret is shown in this answer only. */
static void
http_post_key(struct http_req *r)
{
	struct http_key	*k;
	json_t		*b, *j;
	const char	*name, *p;
	char		 secret[49], *cause = NULL;

	if ((b = http_body_object(r)) == NULL)
		return;
	if (!http_member_str(r, b, "name", true, &name))
		goto out;
	for (p = name; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
			break;
	}
	if (*p != '\0' || p - name > 64) {
		http_error(r, 400, "BAD_REQUEST", "bad name '%s' (1 to 64 "
		    "letters, digits, '_' and '-')", name);
		goto out;
	}
	k = xcalloc(1, sizeof *k);
	k->name = xstrdup(name);
	k->key = xmalloc(17);
	http_random_hex(k->key, 8);
	k->desc = xstrdup("");
	k->enable = true;
	k->created_at = (int64_t)(now_ms() / 1000);
	if (!http_key_fields(r, b, k)) {
		http_key_free(k);
		goto out;
	}
	http_random_hex(secret, 24);
	mbedtls_sha256_ret((const unsigned char *)secret, strlen(secret),
	    k->secret, 0);
	pthread_mutex_lock(&http_lock);
	if (http_key_find(name) != NULL) {
		pthread_mutex_unlock(&http_lock);
		http_key_free(k);
		http_error(r, 409, "ALREADY_EXISTS", "an API key '%s' exists "
		    "already", name);
		goto out;
	}
	if (http_key_save(k, &cause) != 0) {
		pthread_mutex_unlock(&http_lock);
		http_key_free(k);
		http_error(r, 500, "INTERNAL_ERROR", "%s", cause);
		free(cause);
		goto out;
	}
	http_keys = xreallocarray(http_keys, http_n_keys + 1,
	    sizeof *http_keys);
	http_keys[http_n_keys++] = k;
	j = http_key_json(k);
	pthread_mutex_unlock(&http_lock);
	json_object_set_new(j, "api_secret", json_string(secret));
	log_notice("http: API key '%s' created by '%s'", name, r->who);
	http_json(r, 200, j);
out:
	json_decref(b);
}

/* GET, PUT and DELETE /api/v5/api_key/:name */
static void
http_one_key(struct http_req *r)
{
	struct http_key	*k, copy;
	json_t		*b = NULL;
	char		*cause = NULL;
	size_t		 i;

	if (strcmp(r->method, "PUT") == 0 && (b = http_body_object(r)) ==
	    NULL)
		return;
	pthread_mutex_lock(&http_lock);
	if ((k = http_key_find(r->param[0])) == NULL) {
		pthread_mutex_unlock(&http_lock);
		http_error(r, 404, "NOT_FOUND", "no API key '%s'",
		    r->param[0]);
		goto out;
	}
	if (strcmp(r->method, "GET") == 0)
		http_json(r, 200, http_key_json(k));
	else if (strcmp(r->method, "DELETE") == 0) {
		if (http_record_del("k/", k->name, &cause) != 0) {
			http_error(r, 500, "INTERNAL_ERROR", "%s", cause);
			free(cause);
		} else {
			for (i = 0; http_keys[i] != k; i++)
				;
			http_keys[i] = http_keys[--http_n_keys];
			log_notice("http: API key '%s' deleted by '%s'",
			    k->name, r->who);
			http_key_free(k);
			http_empty(r, 204);
		}
	} else {
		copy = *k;
		copy.desc = xstrdup(k->desc);
		if (http_key_fields(r, b, &copy)) {
			if (http_key_save(&copy, &cause) != 0) {
				http_error(r, 500, "INTERNAL_ERROR", "%s",
				    cause);
				free(cause);
				free(copy.desc);
			} else {
				free(k->desc);
				*k = copy;
				http_json(r, 200, http_key_json(k));
			}
		} else
			free(copy.desc);
	}
	pthread_mutex_unlock(&http_lock);
out:
	json_decref(b);
}

/* The dashboard's files; "/" is index.html. */
static void
http_static(struct http_req *r)
{
	const struct admin_ui_file	*f;
	const char			*path = r->url;

	if (strcmp(path, "/") == 0)
		path = "/index.html";
	for (f = admin_ui_files; f->path != NULL; f++) {
		if (strcmp(f->path, path) == 0) {
			http_text(r, 200, f->type, xmemdup(f->data, f->len),
			    f->len);
			return;
		}
	}
	http_error(r, 404, "NOT_FOUND", "no such page: %s", r->url);
}

static const struct http_route http_auth_routes[] = {
	{ "POST", "/api/v5/login", http_login, HTTP_F_NOAUTH },
	{ "POST", "/api/v5/logout", http_logout, HTTP_F_USER },
	{ "GET", "/api/v5/users", http_get_users, HTTP_F_USER },
	{ "POST", "/api/v5/users/:name/change_pwd", http_change_pwd,
	    HTTP_F_USER },
	{ "POST", "/api/v5/users/:name/reset_pwd", http_reset_pwd,
	    HTTP_F_CTL },
	{ "GET", "/api/v5/api_key", http_get_keys, HTTP_F_USER },
	{ "POST", "/api/v5/api_key", http_post_key, HTTP_F_USER },
	{ "GET", "/api/v5/api_key/:name", http_one_key, HTTP_F_USER },
	{ "PUT", "/api/v5/api_key/:name", http_one_key, HTTP_F_USER },
	{ "DELETE", "/api/v5/api_key/:name", http_one_key, HTTP_F_USER },
};

#define HTTP_N_AUTH_ROUTES \
	(sizeof http_auth_routes / sizeof http_auth_routes[0])

/* Whether a route's pattern matches the request's segments. */
static bool
http_route_match(const struct http_route *rt, struct http_req *r)
{
	const char	*p = rt->pattern + 1, *end;
	size_t		 i = 0, n, k = 0;

	for (;;) {
		end = strchr(p, '/');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (i == r->n_seg)
			return (false);
		if (*p == ':')
			r->param[k++] = r->seg[i];
		else if (strlen(r->seg[i]) != n || memcmp(p, r->seg[i], n) != 0)
			return (false);
		i++;
		if (end == NULL)
			break;
		p = end + 1;
	}
	return (i == r->n_seg);
}

/* Split the path into decoded segments; false if it has too many. */
static bool
http_split(struct http_req *r)
{
	const char	*p = r->url, *end;

	if (*p != '/')
		return (false);
	for (p++; *p != '\0'; p = end + 1) {
		end = strchr(p, '/');
		if (r->n_seg == HTTP_MAX_SEGS)
			return (false);
		r->seg[r->n_seg] = end != NULL ? xstrndup(p, (size_t)(end - p)) :
		    xstrdup(p);
		http_unescape_rest(r->seg[r->n_seg++]);
		if (end == NULL)
			break;
	}
	return (true);
}

/* Route a complete request and fill in the answer. */
static void
http_dispatch(struct http_req *r)
{
	const struct http_route	*rt, *found = NULL;
	bool			 path_ok = false;
	size_t			 i;

	if (r->too_big) {
		http_error(r, 413, "PAYLOAD_TOO_LARGE", "the body is over %d "
		    "bytes", HTTP_BODY_MAX);
		return;
	}
	if (strncmp(r->url, "/api/", 5) != 0 && strcmp(r->url, "/status") != 0) {
		if (strcmp(r->method, "GET") != 0 &&
		    strcmp(r->method, "HEAD") != 0) {
			http_error(r, 405, "METHOD_NOT_ALLOWED", "%s not "
			    "allowed here", r->method);
			return;
		}
		http_static(r);
		return;
	}
	if (!http_split(r)) {
		http_error(r, 404, "NOT_FOUND", "no such path: %s", r->url);
		return;
	}
	for (i = 0; i < http_api_n_routes + HTTP_N_AUTH_ROUTES; i++) {
		rt = i < http_api_n_routes ? &http_api_routes[i] :
		    &http_auth_routes[i - http_api_n_routes];
		if (!http_route_match(rt, r))
			continue;
		if ((rt->flags & HTTP_F_CTL) && !r->trusted)
			continue;
		path_ok = true;
		if (strcmp(rt->method, r->method) == 0 ||
		    (strcmp(rt->method, "GET") == 0 &&
		    strcmp(r->method, "HEAD") == 0)) {
			found = rt;
			break;
		}
	}
	if (found == NULL) {
		if (path_ok)
			http_error(r, 405, "METHOD_NOT_ALLOWED", "%s not "
			    "allowed on %s", r->method, r->url);
		else
			http_error(r, 404, "NOT_FOUND", "no such path: %s",
			    r->url);
		return;
	}
	/* Captures again: a later failed match may have overwritten them. */
	(void)http_route_match(found, r);
	if (!(found->flags & HTTP_F_NOAUTH) && !http_auth(r))
		return;
	if ((found->flags & HTTP_F_USER) && r->by_key) {
		http_error(r, 403, "FORBIDDEN", "API keys cannot manage users "
		    "or API keys; log in as a dashboard user");
		return;
	}
	found->fn(r);
}

/* A new request: nothing received yet. */
void
http_req_init(struct http_req *r, bool trusted, http_lookup_f *lookup,
    void *lookup_arg)
{
	memset(r, 0, sizeof *r);
	r->magic = HTTP_REQ_MAGIC;
	r->trusted = trusted;
	r->lookup = lookup;
	r->lookup_arg = lookup_arg;
	buf_init(&r->body);
}

/* A piece of the body; past HTTP_BODY_MAX it is dropped and answered 413. */
void
http_req_body(struct http_req *r, const void *p, size_t len)
{
	if (r->too_big || buf_used(&r->body) + len > HTTP_BODY_MAX)
		r->too_big = true;
	else
		buf_add(&r->body, p, len);
}

/* Answer a complete request (url unescaped by http_unescape). */
void
http_serve(struct http_req *r, const char *method, const char *url,
    const char *ip)
{
	r->method = method;
	r->url = url;
	snprintf(r->ip, sizeof r->ip, "%s", r->trusted ? "ctl" : ip);
	if (config->dashboard_cors && strcmp(method, "OPTIONS") == 0)
		http_empty(r, 204);
	else
		http_dispatch(r);
}

/* Free what a request holds (not r itself). */
void
http_req_release(struct http_req *r)
{
	size_t	 i;

	for (i = 0; i < r->n_seg; i++)
		free(r->seg[i]);
	r->n_seg = 0;
	free(r->resp);
	r->resp = NULL;
	buf_release(&r->body);
}

/* libmicrohttpd's access handler: collect the body, then dispatch. */
static enum MHD_Result
http_access_cb(void *cls, struct MHD_Connection *mc, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct http_req			*r = *con_cls;
	struct MHD_Response		*resp;
	const union MHD_ConnectionInfo	*ci;
	const struct sockaddr		*sa;
	enum MHD_Result			 ret;
	char				 n[16], ip[64] = "?";

	(void)version;
	if (r == NULL) {
		r = xmalloc(sizeof *r);
		http_req_init(r, cls == &http_ctl_daemon, http_mhd_lookup,
		    NULL);
		*con_cls = r;
		return (MHD_YES);
	}
	if (r->magic != HTTP_REQ_MAGIC)
		fatal("http: bad request magic");
	if (*upload_data_size != 0) {
		http_req_body(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return (MHD_YES);
	}
	r->mc = mc;
	ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!r->trusted && ci != NULL && (sa = ci->client_addr) != NULL) {
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    sa)->sin_addr, ip, sizeof ip);
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    sa)->sin6_addr, ip, sizeof ip);
	}
	http_serve(r, method, url, ip);
	resp = MHD_create_response_from_buffer(r->resp_len, r->resp,
	    MHD_RESPMEM_MUST_FREE);
	r->resp = NULL;
	if (r->ctype != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
		    r->ctype);
	if (r->status == 401 && r->www_auth != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
		    r->www_auth);
	if (r->retry_after != 0) {
		snprintf(n, sizeof n, "%u", r->retry_after);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, n);
	}
	if (config->dashboard_cors) {
		MHD_add_response_header(resp,
		    MHD_HTTP_HEADER_ACCESS_CONTROL_ALLOW_ORIGIN, "*");
		MHD_add_response_header(resp, "Access-Control-Allow-Headers",
		    "Authorization, Content-Type");
		MHD_add_response_header(resp, "Access-Control-Allow-Methods",
		    "GET, POST, PUT, DELETE, OPTIONS");
	}
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (r->status >= 400 || strcmp(method, "GET") != 0)
		log_debug("http: %s %s %s -> %u", r->ip, method, url,
		    r->status);
	ret = MHD_queue_response(mc, r->status, resp);
	MHD_destroy_response(resp);
	return (ret);
}

/* A request is over: free it. */
static void
http_completed_cb(void *cls, struct MHD_Connection *mc, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct http_req	*r = *con_cls;

	(void)cls;
	(void)mc;
	(void)toe;
	if (r == NULL)
		return;
	http_req_release(r);
	free(r);
	*con_cls = NULL;
}

/* libmicrohttpd's messages go to our log. */
static void
http_log_cb(void *cls, const char *fmt, va_list ap)
{
	char	*s;

	(void)cls;
	if (vasprintf(&s, fmt, ap) == -1)
		return;
	s[strcspn(s, "\n")] = '\0';
	log_warn("http: %s", s);
	free(s);
}

/*
 * Start one daemon on a listening socket: a thread per connection, so that
 * one long request (a page of 10,000 clients) holds up no other.  A thread
 * pool (MHD_OPTION_THREAD_POOL_SIZE) would not do: it pins a connection to
 * one thread, and a keep-alive connection waits for whatever else that
 * thread serves.  HTTP_CONNS_MAX bounds the threads.
 */
static struct MHD_Daemon *
http_daemon_start(int fd, void *cls, char **cause)
{
	struct MHD_Daemon	*d;

	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG | MHD_USE_POLL,
	    0, NULL, NULL, http_access_cb,
	    cls, MHD_OPTION_EXTERNAL_LOGGER, http_log_cb, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd,
	    MHD_OPTION_NOTIFY_COMPLETED, http_completed_cb, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, http_unescape_cb, NULL,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_CONNS_MAX,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u,
	    MHD_OPTION_END);
	if (d == NULL) {
		xasprintf(cause, "http: cannot start the HTTP server");
		close(fd);
	}
	return (d);
}

/* The ctl socket: stale ones are replaced, a live one is an error. */
static int
http_ctl_socket(char **cause)
{
	struct sockaddr_un	 sun;
	int			 fd;
	mode_t			 old;

	http_ctl_path = ctl_socket_path();
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(http_ctl_path) >= sizeof sun.sun_path) {
		xasprintf(cause, "http: ctl socket path '%s' is too long "
		    "(over %zu bytes): use a shorter node.data_dir",
		    http_ctl_path, sizeof sun.sun_path - 1);
		return (-1);
	}
	strcpy(sun.sun_path, http_ctl_path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		goto fail;
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		close(fd);
		xasprintf(cause, "http: another node is running in '%s' (its "
		    "ctl socket answers)", config->node_data_dir);
		return (-1);
	}
	(void)unlink(http_ctl_path);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		umask(old);
		goto fail;
	}
	umask(old);
	if (chmod(http_ctl_path, 0600) != 0 || listen(fd, 64) != 0)
		goto fail;
	return (fd);
fail:
	xasprintf(cause, "http: cannot create the ctl socket '%s': %s",
	    http_ctl_path, strerror(errno));
	if (fd != -1)
		close(fd);
	return (-1);
}

/* The dashboard's listening socket. */
static int
http_listen_socket(char **cause)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, one = 1;

	if (listener_parse_bind(config->dashboard_listeners_http_bind, &ss,
	    &len, cause) != 0)
		return (-1);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    listen(fd, 128) != 0)
		goto fail;
	return (fd);
fail:
	xasprintf(cause, "http: cannot bind the dashboard '%s': %s",
	    config->dashboard_listeners_http_bind, strerror(errno));
	if (fd != -1)
		close(fd);
	return (-1);
}

/* Start the ctl socket, and the dashboard listener if enabled. */
int
http_init(char **cause)
{
	int	 fd;

	if (http_load(cause) != 0)
		return (-1);
	if ((fd = http_ctl_socket(cause)) == -1)
		return (-1);
	if ((http_ctl_daemon = http_daemon_start(fd, &http_ctl_daemon,
	    cause)) == NULL)
		return (-1);
	if (!config->dashboard_listeners_http_enable)
		return (0);
	if ((fd = http_listen_socket(cause)) == -1)
		return (-1);
	if ((http_daemon = http_daemon_start(fd, &http_daemon, cause)) ==
	    NULL)
		return (-1);
	return (0);
}

/* Stop both daemons (requests in progress finish first). */
void
http_release(void)
{
	size_t	 i;

	if (http_daemon != NULL)
		MHD_stop_daemon(http_daemon);
	if (http_ctl_daemon != NULL)
		MHD_stop_daemon(http_ctl_daemon);
	http_daemon = http_ctl_daemon = NULL;
	if (http_ctl_path != NULL)
		(void)unlink(http_ctl_path);
	free(http_ctl_path);
	http_ctl_path = NULL;
	for (i = 0; i < http_n_users; i++)
		http_user_free(http_users[i]);
	free(http_users);
	http_users = NULL;
	http_n_users = 0;
	for (i = 0; i < http_n_keys; i++)
		http_key_free(http_keys[i]);
	free(http_keys);
	http_keys = NULL;
	http_n_keys = 0;
	for (i = 0; i < HTTP_TOKENS_MAX; i++)
		free(http_tokens[i].user);
	memset(http_tokens, 0, sizeof http_tokens);
}
