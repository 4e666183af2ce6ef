/*
 * http_int.h: what http.c shares with http_api.c: a request being
 * answered, the route table entries and the helpers that answer.
 */
#ifndef HTTP_INT_H
#define HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"

#define HTTP_MAX_SEGS		8

/* Route flags. */
#define HTTP_F_NOAUTH		0x1	/* served without authentication */
#define HTTP_F_CTL		0x2	/* only on the ctl socket */
#define HTTP_F_USER		0x4	/* a dashboard user, not an API key */

/* What http_lookup_f looks up. */
#define HTTP_KIND_HEADER	0
#define HTTP_KIND_ARG		1	/* a query argument */

struct http_req;
/* A header or query argument of a request, or NULL. */
typedef const char *http_lookup_f(const struct http_req *, int kind,
		    const char *name);

struct http_req {
	uint32_t		 magic;
	struct MHD_Connection	*mc;		/* NULL outside libmicrohttpd */
	http_lookup_f		*lookup;
	void			*lookup_arg;	/* for lookup */
	const char		*method;
	const char		*url;
	bool			 trusted;	/* the ctl socket */
	bool			 too_big;
	bool			 by_key;	/* authenticated by an API key */
	struct buf		 body;
	char			*seg[HTTP_MAX_SEGS];	/* path, decoded */
	size_t			 n_seg;
	const char		*param[HTTP_MAX_SEGS];	/* ":x" captures */
	char			 who[128];	/* user, key or "ctl" */
	char			 ip[64];
	/* The answer. */
	unsigned		 status;
	char			*resp;
	size_t			 resp_len;
	const char		*ctype;
	const char		*www_auth;
	unsigned		 retry_after;
};

typedef void	 http_handler_f(struct http_req *);

struct http_route {
	const char	*method;
	const char	*pattern;	/* "/api/v5/clients/:id" */
	http_handler_f	*fn;
	int		 flags;
};

/*
 * Serving a request without libmicrohttpd (what http.c's callbacks do; the
 * seam of fuzz/http_fuzzer.c): http_req_init, http_req_body for each piece
 * of the body, http_serve (the url already through http_unescape), then
 * read the answer's fields and http_req_release.
 */
void	 http_req_init(struct http_req *, bool trusted, http_lookup_f *,
	    void *lookup_arg);
void	 http_req_body(struct http_req *, const void *, size_t);
void	 http_serve(struct http_req *, const char *method, const char *url,
	    const char *ip);
void	 http_req_release(struct http_req *);
/* libmicrohttpd's unescaping of a path or argument in place (see http.c). */
size_t	 http_unescape(char *);
/* Load the dashboard users and API keys from the store (http_init). */
int	 http_load(char **cause);
/* PBKDF2 rounds for passwords set from now on (the fuzzer lowers it). */
extern unsigned	 http_pbkdf2_iter;

/* The REST API's routes (http_api.c). */
extern const struct http_route	http_api_routes[];
extern const size_t		http_api_n_routes;

/* Answer with JSON (takes the reference). */
void	 http_json(struct http_req *, unsigned status, json_t *);
/* Answer with EMQX's error object {"code", "message"}. */
void	 http_error(struct http_req *, unsigned status, const char *code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Answer with nothing (204 and the like). */
void	 http_empty(struct http_req *, unsigned status);
/* Answer with text (takes s, allocated). */
void	 http_text(struct http_req *, unsigned status, const char *ctype,
	    char *s, size_t len);
/* A query argument as received, or NULL. */
const char *http_arg(const struct http_req *, const char *name);
/* A request header, or NULL. */
const char *http_header(const struct http_req *, const char *name);
/* A query argument, fully decoded, allocated; NULL if absent. */
char	*http_arg_str(const struct http_req *, const char *name);
/* An RFC 3339 JSON string of ms since the epoch. */
json_t	*http_time_json(uint64_t ms);
/* n random bytes as hex into out (2n + 1). */
void	 http_random_hex(char *out, size_t n);
/* The body as JSON (or as an object), or NULL and a 400 answer. */
json_t	*http_body_json(struct http_req *);
json_t	*http_body_object(struct http_req *);
/* A string member of a body; false and a 400 answer if bad. */
bool	 http_member_str(struct http_req *, json_t *obj, const char *name,
	    bool required, const char **out);
/* ?page and ?limit; false and a 400 answer if bad. */
bool	 http_page_args(struct http_req *, long *page, long *limit);
/* Answer one page of an array (takes it): {"data", "meta"}. */
void	 http_page(struct http_req *, json_t *all, long page, long limit);
/* Answer data (taken), the page'th of count items. */
void	 http_page_answer(struct http_req *, json_t *data, long page,
	    long limit, size_t count);
/* Join per-worker arrays (n_workers of them; takes them), sorted by
 * client id then topic. */
json_t	*http_join(json_t **per);

#endif
