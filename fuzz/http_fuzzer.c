/*
 * fuzz/http_fuzzer.c: libFuzzer target for the HTTP request path (http.c,
 * http_api.c): routing, authentication, query arguments, JSON bodies and
 * error answers, through the seam of http_int.h (http_req_init,
 * http_serve), without libmicrohttpd or sockets.
 *
 * The input is a request as on the wire, simplified:
 *
 *	METHOD SP TARGET [SP "CTL"] LF	(CTL: as on the ctl socket)
 *	NAME ":" [SP] VALUE LF		(headers, until an empty line)
 *	LF
 *	BODY				(the rest)
 *
 * CR before LF is dropped.  In header values "$TOKEN" becomes the bearer
 * token of a login as admin and "$BASIC" base64("key:secret") of an API
 * key, both made by the target, so that inputs get past authentication.
 * TARGET is split at '?' and unescaped as libmicrohttpd does (the query's
 * '+' is a space); arguments are NAME[=VALUE] joined by '&'.
 *
 * The node under it is a minimal one: a store in a directory under $TMPDIR
 * (/tmp; removed at exit; /dev/shm spares the disk the synced writes), the
 * banned list, retained messages and one worker thread with no listener,
 * so that handlers that run a function on the workers run it for real.
 * State carries over from input to input, as on a node: keys made, bans,
 * retained messages.  PBKDF2 runs 1 round (the login lock still works).
 * Every answer must have a status of 100 to 599; a JSON answer must
 * parse, and an error one (4xx, 5xx) must be EMQX's {"code", "message"}.
 * Anything else, a crash or a sanitizer report aborts.  Built with
 * -fsanitize=fuzzer, or linked with replay.c to replay a corpus from
 * `make check`.  FUZZ_HTTP_TRACE in the environment prints each request
 * and the start of its answer on stderr.
 */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <mbedtls/base64.h>

#include "banned.h"
#include "config.h"
#include "http_int.h"
#include "log.h"
#include "retain.h"
#include "store.h"
#include "worker.h"
#include "xmalloc.h"

#define FUZZ_KV_MAX	64
#define FUZZ_PASSWORD	"fuzz-admin-pass-1"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* main.c owns the configuration. */
struct config	*config;

struct fuzz_kv {
	char	*name;
	char	*value;
	int	 kind;		/* HTTP_KIND_HEADER or HTTP_KIND_ARG */
};

struct fuzz_req {
	struct fuzz_kv	 kv[FUZZ_KV_MAX];
	size_t		 n;
};

static char	*fuzz_dir;
static char	 fuzz_token[128];
static char	 fuzz_basic[256];

/* The lookup of the seam: the first header (any case) or argument. */
static const char *
fuzz_lookup(const struct http_req *r, int kind, const char *name)
{
	const struct fuzz_req	*fr = r->lookup_arg;
	size_t			 i;

	for (i = 0; i < fr->n; i++) {
		if (fr->kv[i].kind == kind &&
		    strcasecmp(fr->kv[i].name, name) == 0)
			return (fr->kv[i].value);
	}
	return (NULL);
}

/* Add a header or argument (taking name and value). */
static void
fuzz_add(struct fuzz_req *fr, int kind, char *name, char *value)
{
	if (fr->n == FUZZ_KV_MAX) {
		free(name);
		free(value);
		return;
	}
	fr->kv[fr->n].kind = kind;
	fr->kv[fr->n].name = name;
	fr->kv[fr->n++].value = value;
}

/* Replace every "$TOKEN" and "$BASIC" in s (allocated; returns a new one). */
static char *
fuzz_subst(char *s)
{
	struct buf	 b;
	const char	*p;
	char		*out;

	buf_init(&b);
	for (p = s; *p != '\0'; p++) {
		if (strncmp(p, "$TOKEN", 6) == 0) {
			buf_add(&b, fuzz_token, strlen(fuzz_token));
			p += 5;
		} else if (strncmp(p, "$BASIC", 6) == 0) {
			buf_add(&b, fuzz_basic, strlen(fuzz_basic));
			p += 5;
		} else
			buf_add(&b, p, 1);
	}
	out = buf_used(&b) == 0 ? xstrdup("") :
	    xstrndup((const char *)buf_head(&b), buf_used(&b));
	buf_release(&b);
	free(s);
	return (out);
}

/* The query string's arguments, as libmicrohttpd splits them. */
static void
fuzz_args(struct fuzz_req *fr, char *q)
{
	char	*a, *eq, *p;

	while ((a = strsep(&q, "&")) != NULL) {
		if (*a == '\0')
			continue;
		for (p = a; *p != '\0'; p++) {
			if (*p == '+')
				*p = ' ';
		}
		if ((eq = strchr(a, '=')) != NULL)
			*eq++ = '\0';
		http_unescape(a);
		if (eq != NULL)
			http_unescape(eq);
		fuzz_add(fr, HTTP_KIND_ARG, xstrdup(a),
		    xstrdup(eq != NULL ? eq : ""));
	}
}

/* Check an answer; abort if it is not one. */
static void
fuzz_check(const struct http_req *r, const char *what)
{
	json_error_t	 err;
	json_t		*j;

	if (r->status < 100 || r->status > 599 ||
	    (r->resp_len != 0 && r->resp == NULL)) {
		fprintf(stderr, "%s: status %u, %zu bytes\n", what, r->status,
		    r->resp_len);
		abort();
	}
	if (r->ctype == NULL || strcmp(r->ctype, "application/json") != 0)
		return;
	j = json_loadb(r->resp, r->resp_len, JSON_DECODE_ANY, &err);
	if (j == NULL) {
		fprintf(stderr, "%s: %u answer is not JSON: %s\n%.*s\n", what,
		    r->status, err.text, (int)r->resp_len, r->resp);
		abort();
	}
	if (r->status >= 400 && (!json_is_object(j) ||
	    !json_is_string(json_object_get(j, "code")) ||
	    !json_is_string(json_object_get(j, "message")))) {
		fprintf(stderr, "%s: %u answer is not an error object: %.*s\n",
		    what, r->status, (int)r->resp_len, r->resp);
		abort();
	}
	json_decref(j);
}

/* Serve a request made by the target; the answer's JSON, or NULL. */
static json_t *
fuzz_call(bool trusted, const char *method, const char *url, const char *body,
    unsigned *status)
{
	struct fuzz_req	 fr = { .n = 0 };
	struct http_req	 r;
	json_t		*j = NULL;
	char		*u = xstrdup(url);

	http_req_init(&r, trusted, fuzz_lookup, &fr);
	http_req_body(&r, body, strlen(body));
	http_serve(&r, method, u, "fuzz-harness");
	fuzz_check(&r, url);
	*status = r.status;
	if (r.resp != NULL)
		j = json_loadb(r.resp, r.resp_len, JSON_DECODE_ANY, NULL);
	http_req_release(&r);
	free(u);
	return (j);
}

/* Log in as admin into fuzz_token; reset the password if it changed. */
static void
fuzz_login(void)
{
	static const char	*login = "{\"username\":\"admin\","
				    "\"password\":\"" FUZZ_PASSWORD "\"}";
	json_t			*j;
	unsigned		 st;
	int			 i;

	for (i = 0; i < 2; i++) {
		j = fuzz_call(false, "POST", "/api/v5/login", login, &st);
		if (st == 200) {
			snprintf(fuzz_token, sizeof fuzz_token, "%s",
			    json_string_value(json_object_get(j, "token")));
			json_decref(j);
			return;
		}
		json_decref(j);
		j = fuzz_call(true, "POST", "/api/v5/users/admin/reset_pwd",
		    "{\"password\":\"" FUZZ_PASSWORD "\"}", &st);
		json_decref(j);
	}
	fprintf(stderr, "http fuzzer: cannot log in\n");
	abort();
}

/* nftw callback: remove one entry. */
static int
fuzz_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return (remove(path));
}

/* At exit: stop the worker, close the store, remove the directory. */
static void
fuzz_exit(void)
{
	worker_stop_all();
	worker_join_all();
	retain_release();
	banned_release();
	store_close();
	(void)nftw(fuzz_dir, fuzz_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* The node under the seam, once; see the file header. */
static void
fuzz_init(void)
{
	json_t		*j;
	char		*cause = NULL, *yaml, kb[128];
	size_t		 n;
	unsigned	 st;

	log_level = LOG_L_ERROR;
	http_pbkdf2_iter = 1;
	xasprintf(&fuzz_dir, "%s/flockmq-http-fuzz.XXXXXX",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(fuzz_dir) == NULL)
		goto fail;
	config = config_new();
	xasprintf(&yaml, "node:\n  data_dir: \"%s\"\n", fuzz_dir);
	if (config_load_string(config, "fuzz", yaml, strlen(yaml),
	    &cause) != 0 || store_open(fuzz_dir, &cause) != 0 ||
	    banned_init(&cause) != 0)
		goto fail;
	free(yaml);
	retain_init();
	if (retain_load(&cause) != 0 || worker_start_all(1, &cause) != 0 ||
	    http_load(&cause) != 0)
		goto fail;
	atexit(fuzz_exit);
	fuzz_login();
	j = fuzz_call(true, "POST", "/api/v5/api_key", "{\"name\":\"fuzz\"}",
	    &st);
	if (st != 200 || snprintf(kb, sizeof kb, "%s:%s",
	    json_string_value(json_object_get(j, "api_key")),
	    json_string_value(json_object_get(j, "api_secret"))) < 0 ||
	    mbedtls_base64_encode((unsigned char *)fuzz_basic,
	    sizeof fuzz_basic, &n, (unsigned char *)kb, strlen(kb)) != 0) {
		cause = xstrdup("cannot make an API key");
		goto fail;
	}
	json_decref(j);
	return;

fail:
	fprintf(stderr, "http fuzzer: %s\n", cause != NULL ? cause :
	    "cannot make a directory");
	abort();
}

/* Parse one input, serve it, check the answer. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool	 ready;
	struct fuzz_req	 fr = { .n = 0 };
	struct http_req	 r;
	const char	*p = (const char *)data, *end = p + size, *nl;
	char		*line, *method, *target, *ctl, *q, *colon, *v;
	size_t		 i, len;
	bool		 first = true, trusted = false;

	if (!ready) {
		fuzz_init();
		ready = true;
	}
	fuzz_login();
	method = target = NULL;
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		line = xstrndup(p, len);
		p = nl < end ? nl + 1 : end;
		if (strlen(line) != len) {	/* a NUL: not a request */
			free(line);
			goto out;
		}
		if (first) {
			first = false;
			v = line;
			method = xstrdup(strsep(&v, " "));
			target = xstrdup(v != NULL ? strsep(&v, " ") : "/");
			ctl = v != NULL ? strsep(&v, " ") : NULL;
			trusted = ctl != NULL && strcmp(ctl, "CTL") == 0;
			free(line);
			continue;
		}
		if (len == 0) {
			free(line);
			break;
		}
		if ((colon = strchr(line, ':')) != NULL) {
			*colon++ = '\0';
			colon += strspn(colon, " \t");
			fuzz_add(&fr, HTTP_KIND_HEADER, xstrdup(line),
			    fuzz_subst(xstrdup(colon)));
		}
		free(line);
	}
	if (method == NULL || *method == '\0')
		goto out;
	if ((q = strchr(target, '?')) != NULL) {
		*q++ = '\0';
		fuzz_args(&fr, q);
	}
	http_unescape(target);
	http_req_init(&r, trusted, fuzz_lookup, &fr);
	http_req_body(&r, p, (size_t)(end - p));
	http_serve(&r, method, target, "127.0.0.1");
	fuzz_check(&r, target);
	if (getenv("FUZZ_HTTP_TRACE") != NULL)
		fprintf(stderr, "%s %s%s -> %u %.*s\n", method, target,
		    trusted ? " (ctl)" : "", r.status,
		    (int)(r.resp_len < 120 ? r.resp_len : 120),
		    r.resp != NULL ? r.resp : "");
	http_req_release(&r);

out:
	for (i = 0; i < fr.n; i++) {
		free(fr.kv[i].name);
		free(fr.kv[i].value);
	}
	free(method);
	free(target);
	return (0);
}
