/*
 * ctl.c: `flockmq ctl ...` (see ctl.h).
 *
 * Runs in its own short-lived process, never inside the node.  Each verb
 * is an entry of ctl_table (words, argument counts, usage, function; tmux's
 * cmd_entry).  A verb sends HTTP/1.1 requests to the node's REST API on
 * the unix socket ctl_socket_path(), which http.c serves without
 * authentication (mode 0600: only the node's user gets in), and prints the
 * answers as EMQX's `emqx ctl` does (emqx_mgmt_cli).  One request per
 * connection ("Connection: close"); an answer is read to EOF within
 * CTL_TIMEOUT_MS and CTL_MAX_RESPONSE bytes, with Content-Length or chunked
 * transfer coding.  Results go to stdout, failures to stderr.  Exit
 * status: 0 done, 1 failed (node not running, HTTP error, not found),
 * 2 usage.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "config.h"
#include "ctl.h"
#include "xmalloc.h"

#define CTL_TIMEOUT_MS		30000
#define CTL_MAX_RESPONSE	(256U * 1024 * 1024)
#define CTL_PAGE_LIMIT		10000
/* Ids per POST /clients/kickout/bulk, and bytes (the node takes 1 MiB). */
#define CTL_KICK_BATCH		1000
#define CTL_KICK_BYTES		(256 * 1024)
#define CTL_USAGE_WIDTH		36
#define CTL_USAGE_RULE		"-------------------------------------" \
				"-------------------------------------"
#define CTL_SYSDESCR		"flockmq MQTT broker"

/* An answer from the node. */
struct ctl_resp {
	int		 status;	/* HTTP status code */
	json_t		*json;		/* the body; NULL: none or not JSON */
	char		*text;		/* the body as a C string */
};

/* A verb: argv starts with words, then nargs_min..nargs_max arguments. */
struct ctl_entry {
	const char	*words;
	const char	*args;		/* for the usage */
	int		 nargs_min;
	int		 nargs_max;
	const char	*help;
	int		(*exec)(int, char **);
};

/* How a field of a client object prints. */
enum ctl_fmt {
	CTL_FMT_PLAIN,		/* as Erlang's ~w: null is "undefined" */
	CTL_FMT_PEER,		/* ip_address:port */
	CTL_FMT_TIME,		/* RFC 3339 string to milliseconds */
	CTL_FMT_OPTIONAL_TIME	/* the same, left out when missing */
};

struct ctl_field {
	const char	*label;		/* NULL: the value alone */
	const char	*key;
	enum ctl_fmt	 fmt;
};

/* EMQX's Client(...) line (emqx_mgmt_cli:print/1), from a client object. */
static const struct ctl_field ctl_client_fields[] = {
	{ NULL, "clientid", CTL_FMT_PLAIN },
	{ "username", "username", CTL_FMT_PLAIN },
	{ "peername", "ip_address", CTL_FMT_PEER },
	{ "clean_start", "clean_start", CTL_FMT_PLAIN },
	{ "keepalive", "keepalive", CTL_FMT_PLAIN },
	{ "session_expiry_interval", "expiry_interval", CTL_FMT_PLAIN },
	{ "subscriptions", "subscriptions_cnt", CTL_FMT_PLAIN },
	{ "inflight", "inflight_cnt", CTL_FMT_PLAIN },
	{ "awaiting_rel", "awaiting_rel_cnt", CTL_FMT_PLAIN },
	{ "delivered_msgs", "send_msg", CTL_FMT_PLAIN },
	{ "enqueued_msgs", "mqueue_len", CTL_FMT_PLAIN },
	{ "dropped_msgs", "mqueue_dropped", CTL_FMT_PLAIN },
	{ "connected", "connected", CTL_FMT_PLAIN },
	{ "created_at", "created_at", CTL_FMT_TIME },
	{ "connected_at", "connected_at", CTL_FMT_TIME },
	{ "disconnected_at", "disconnected_at", CTL_FMT_OPTIONAL_TIME }
};

/* The fields of a banned entry, Banned(as=..., ...). */
static const char *ctl_banned_fields[] = {
	"as", "who", "by", "reason", "at", "until"
};

static int	ctl_status(int, char **);
static int	ctl_broker(int, char **);
static int	ctl_broker_stats(int, char **);
static int	ctl_broker_metrics(int, char **);
static int	ctl_broker_kick_all(int, char **);
static int	ctl_cluster_status(int, char **);
static int	ctl_cluster_force_leave(int, char **);
static int	ctl_clients_list(int, char **);
static int	ctl_clients_show(int, char **);
static int	ctl_clients_kick(int, char **);
static int	ctl_subscriptions_list(int, char **);
static int	ctl_subscriptions_show(int, char **);
static int	ctl_topics_list(int, char **);
static int	ctl_topics_show(int, char **);
static int	ctl_listeners(int, char **);
static int	ctl_listeners_action(int, char **);
static int	ctl_banned_list(int, char **);
static int	ctl_banned_add(int, char **);
static int	ctl_banned_del(int, char **);
static int	ctl_admins_passwd(int, char **);

static const struct ctl_entry ctl_table[] = {
	{ "status", "", 0, 0,
	  "Show broker status", ctl_status },
	{ "broker", "", 0, 0,
	  "Show version, description and uptime", ctl_broker },
	{ "broker stats", "", 0, 0,
	  "Statistics of clients, topics, sessions",
	  ctl_broker_stats },
	{ "broker metrics", "", 0, 0,
	  "Show broker metrics", ctl_broker_metrics },
	{ "broker kick all", "", 0, 0,
	  "Kick out every client", ctl_broker_kick_all },
	{ "cluster status", "[--json]", 0, 1,
	  "Cluster status", ctl_cluster_status },
	{ "cluster force-leave", "<Node>", 1, 1,
	  "Force a stopped node out of the cluster (on the metadata leader)",
	  ctl_cluster_force_leave },
	{ "clients list", "", 0, 0,
	  "List all clients", ctl_clients_list },
	{ "clients show", "<ClientId>", 1, 1,
	  "Show a client", ctl_clients_show },
	{ "clients kick", "<ClientId>", 1, 1,
	  "Kick out a client", ctl_clients_kick },
	{ "subscriptions list", "", 0, 0,
	  "List all subscriptions", ctl_subscriptions_list },
	{ "subscriptions show", "<ClientId>", 1, 1,
	  "Show subscriptions of a client", ctl_subscriptions_show },
	{ "topics list", "", 0, 0,
	  "List all topics", ctl_topics_list },
	{ "topics show", "<Topic>", 1, 1,
	  "Show a topic", ctl_topics_show },
	{ "listeners", "", 0, 0,
	  "List listeners", ctl_listeners },
	{ "listeners stop", "<Identifier>", 1, 1,
	  "Stop a listener", ctl_listeners_action },
	{ "listeners start", "<Identifier>", 1, 1,
	  "Start a listener", ctl_listeners_action },
	{ "listeners restart", "<Identifier>", 1, 1,
	  "Restart a listener", ctl_listeners_action },
	{ "banned list", "", 0, 0,
	  "List the banned clients", ctl_banned_list },
	{ "banned add", "--as <As> --who <Who> [--reason <Reason>] "
	  "[--until <RFC3339>]", 4, 8,
	  "Ban a clientid, username or peerhost", ctl_banned_add },
	{ "banned del", "--as <As> --who <Who>", 4, 4,
	  "Lift a ban", ctl_banned_del },
	{ "admins passwd", "<Username> <Password>", 2, 2,
	  "Reset dashboard user password", ctl_admins_passwd },
};
#define CTL_NENTRIES (sizeof ctl_table / sizeof ctl_table[0])

/* node.data_dir/ctl.sock, allocated. */
char *
ctl_socket_path(void)
{
	char	*p;

	xasprintf(&p, "%s/ctl.sock", config->node_data_dir);
	return (p);
}

/* Usage of every verb to stderr, groups (first words) between rules. */
static void
ctl_usage(void)
{
	const struct ctl_entry	*e;
	char			 line[256];
	size_t			 i, n, width = 0;

	for (i = 0; i < CTL_NENTRIES; i++) {
		e = &ctl_table[i];
		snprintf(line, sizeof line, "%s%s%s", e->words,
		    *e->args != '\0' ? " " : "", e->args);
		if (strlen(line) > width && strlen(line) <= CTL_USAGE_WIDTH)
			width = strlen(line);
	}
	fprintf(stderr, "Usage: flockmq [-c FILE] ctl <command> [args]\n");
	for (i = 0; i < CTL_NENTRIES; i++) {
		e = &ctl_table[i];
		n = strcspn(e->words, " ");
		if (i == 0 || n != strcspn(ctl_table[i - 1].words, " ") ||
		    strncmp(e->words, ctl_table[i - 1].words, n) != 0)
			fprintf(stderr, "%s\n", CTL_USAGE_RULE);
		snprintf(line, sizeof line, "%s%s%s", e->words,
		    *e->args != '\0' ? " " : "", e->args);
		if (strlen(line) > width)
			fprintf(stderr, "%s\n%-*s # %s\n", line, (int)width, "",
			    e->help);
		else
			fprintf(stderr, "%-*s # %s\n", (int)width, line,
			    e->help);
	}
}

/* Milliseconds left until deadline (CLOCK_MONOTONIC), at least 0. */
static int
ctl_left(const struct timespec *deadline)
{
	struct timespec	 now;
	long long	 ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return (ms < 0 ? 0 : ms > CTL_TIMEOUT_MS ? CTL_TIMEOUT_MS : (int)ms);
}

/* Connect to the node's socket; prints why not and returns -1. */
static int
ctl_connect(void)
{
	struct sockaddr_un	 sun;
	char			*path = ctl_socket_path();
	int			 fd = -1, ok = 0;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "flockmq ctl: socket path '%s' is too long "
		    "(node.data_dir)\n", path);
		goto fail;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		fprintf(stderr, "flockmq ctl: socket: %s\n", strerror(errno));
		goto fail;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		if (errno == ENOENT)
			fprintf(stderr, "Node '%s' not running (no socket at "
			    "%s)\n", config->node_name, path);
		else if (errno == ECONNREFUSED)
			fprintf(stderr, "Node '%s' not running (connection "
			    "refused at %s)\n", config->node_name, path);
		else
			fprintf(stderr, "Node '%s': cannot connect to %s: "
			    "%s\n", config->node_name, path, strerror(errno));
		goto fail;
	}
	ok = 1;
fail:
	if (!ok && fd != -1) {
		close(fd);
		fd = -1;
	}
	free(path);
	return (fd);
}

/* Write all of b to fd before the deadline. */
static int
ctl_send(int fd, const struct buf *b, const struct timespec *deadline)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };
	size_t		 off = 0;
	ssize_t		 n;
	int		 rv;

	while (off < buf_used(b)) {
		if ((rv = poll(&pfd, 1, ctl_left(deadline))) == -1 &&
		    errno == EINTR)
			continue;
		if (rv <= 0) {
			fprintf(stderr, "flockmq ctl: timed out sending to the "
			    "node\n");
			return (-1);
		}
		n = send(fd, buf_head(b) + off, buf_used(b) - off,
		    MSG_NOSIGNAL);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			fprintf(stderr, "flockmq ctl: cannot send to the node: "
			    "%s\n", strerror(errno));
			return (-1);
		}
		off += (size_t)n;
	}
	return (0);
}

/* Read fd to EOF into b before the deadline. */
static int
ctl_recv(int fd, struct buf *b, const struct timespec *deadline)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	ssize_t		 n;
	int		 rv;

	for (;;) {
		if ((rv = poll(&pfd, 1, ctl_left(deadline))) == -1 &&
		    errno == EINTR)
			continue;
		if (rv <= 0) {
			fprintf(stderr, "flockmq ctl: no answer from the node "
			    "within %d s\n", CTL_TIMEOUT_MS / 1000);
			return (-1);
		}
		buf_reserve(b, 65536);
		n = read(fd, b->data + b->len, b->cap - b->len);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1) {
			fprintf(stderr, "flockmq ctl: cannot read from the "
			    "node: %s\n", strerror(errno));
			return (-1);
		}
		if (n == 0)
			return (0);
		b->len += (uint32_t)n;
		if (buf_used(b) > CTL_MAX_RESPONSE) {
			fprintf(stderr, "flockmq ctl: answer larger than %u "
			    "bytes\n", CTL_MAX_RESPONSE);
			return (-1);
		}
	}
}

/* Find header name in the header block [p, end); its value, or NULL. */
static char *
ctl_header(const char *p, const char *end, const char *name, char *v,
    size_t vlen)
{
	const char	*eol, *q;
	size_t		 nlen = strlen(name), n;

	for (; p < end; p = eol + 2) {
		if ((eol = memmem(p, end - p, "\r\n", 2)) == NULL)
			eol = end;
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			for (q = p + nlen + 1; q < eol && (*q == ' ' ||
			    *q == '\t'); q++)
				;
			n = eol - q;
			while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t'))
				n--;
			if (n >= vlen)
				n = vlen - 1;
			memcpy(v, q, n);
			v[n] = '\0';
			return (v);
		}
		if (eol == end)
			break;
	}
	return (NULL);
}

/* Undo chunked transfer coding of [p, end) into out. */
static int
ctl_dechunk(const char *p, const char *end, struct buf *out)
{
	const char		*eol;
	char			*ep;
	unsigned long long	 n;

	for (;;) {
		if ((eol = memmem(p, end - p, "\r\n", 2)) == NULL ||
		    !isxdigit((unsigned char)*p))
			return (-1);
		errno = 0;
		n = strtoull(p, &ep, 16);
		if (errno != 0 || ep > eol)
			return (-1);
		p = eol + 2;
		if (n == 0)
			return (0);	/* trailers ignored */
		if (n > (unsigned long long)(end - p) ||
		    (size_t)(end - p) - n < 2 || memcmp(p + n, "\r\n", 2) != 0)
			return (-1);
		buf_add(out, p, n);
		p += n + 2;
	}
}

/* Split the answer in raw into r: status line, headers, body. */
static int
ctl_parse(struct buf *raw, struct ctl_resp *r)
{
	const char	*p = (const char *)buf_head(raw), *hend, *body;
	const char	*end = p + buf_used(raw);
	char		 v[64], *ep;
	unsigned long	 cl;
	struct buf	 decoded;
	json_error_t	 jerr;

	buf_init(&decoded);
	if ((hend = memmem(p, end - p, "\r\n\r\n", 4)) == NULL ||
	    end - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    !isdigit((unsigned char)p[9]) ||
	    !isdigit((unsigned char)p[10]) || !isdigit((unsigned char)p[11]))
		goto fail;
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	p = memmem(p, hend + 2 - p, "\r\n", 2) + 2;
	body = hend + 4;
	if (ctl_header(p, hend, "Transfer-Encoding", v, sizeof v) != NULL &&
	    strcasecmp(v, "chunked") == 0) {
		if (ctl_dechunk(body, end, &decoded) != 0)
			goto fail;
	} else if (ctl_header(p, hend, "Content-Length", v, sizeof v) !=
	    NULL) {
		errno = 0;
		cl = strtoul(v, &ep, 10);
		if (errno != 0 || *ep != '\0' || ep == v ||
		    cl > (unsigned long)(end - body))
			goto fail;
		buf_add(&decoded, body, cl);
	} else
		buf_add(&decoded, body, end - body);
	r->text = xstrndup((const char *)buf_head(&decoded),
	    buf_used(&decoded));
	if (buf_used(&decoded) != 0)
		r->json = json_loadb((const char *)buf_head(&decoded),
		    buf_used(&decoded), JSON_DECODE_ANY, &jerr);
	buf_release(&decoded);
	return (0);
fail:
	buf_release(&decoded);
	fprintf(stderr, "flockmq ctl: malformed HTTP answer from the node\n");
	return (-1);
}

/* Free what r holds. */
static void
ctl_resp_release(struct ctl_resp *r)
{
	json_decref(r->json);
	free(r->text);
	memset(r, 0, sizeof *r);
}

/*
 * Send METHOD path (already escaped) with an optional JSON body and read
 * the answer into r.  -1 (message printed) if the node cannot be reached
 * or the answer is unreadable; any HTTP status is 0.
 */
static int
ctl_request(const char *method, const char *path, const json_t *body,
    struct ctl_resp *r)
{
	struct buf	 req, raw;
	struct timespec	 deadline;
	char		*head = NULL, *js = NULL;
	int		 fd, rv = -1;

	memset(r, 0, sizeof *r);
	buf_init(&req);
	buf_init(&raw);
	if ((fd = ctl_connect()) == -1)
		goto fail;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += CTL_TIMEOUT_MS / 1000;
	if (body != NULL)
		js = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	xasprintf(&head, "%s %s HTTP/1.1\r\nHost: localhost\r\n"
	    "User-Agent: flockmq-ctl/%s\r\nAccept: application/json\r\n"
	    "Connection: close\r\n", method, path, PACKAGE_VERSION);
	buf_add(&req, head, strlen(head));
	free(head);
	head = NULL;
	if (js != NULL) {
		xasprintf(&head, "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n", strlen(js));
		buf_add(&req, head, strlen(head));
	}
	buf_add(&req, "\r\n", 2);
	if (js != NULL)
		buf_add(&req, js, strlen(js));
	if (ctl_send(fd, &req, &deadline) != 0 ||
	    ctl_recv(fd, &raw, &deadline) != 0 || ctl_parse(&raw, r) != 0)
		goto fail;
	rv = 0;
fail:
	if (fd != -1)
		close(fd);
	free(head);
	free(js);
	buf_release(&req);
	buf_release(&raw);
	if (rv != 0)
		ctl_resp_release(r);
	return (rv);
}

/* Print the node's error answer, "Error: CODE: message", to stderr. */
static void
ctl_http_error(const struct ctl_resp *r)
{
	const char	*code, *msg;

	code = json_string_value(json_object_get(r->json, "code"));
	msg = json_string_value(json_object_get(r->json, "message"));
	if (code != NULL || msg != NULL)
		fprintf(stderr, "Error: %s%s%s\n", code != NULL ? code : "",
		    code != NULL && msg != NULL ? ": " : "",
		    msg != NULL ? msg : "");
	else
		fprintf(stderr, "Error: HTTP status %d%s%.200s\n", r->status,
		    r->text != NULL && *r->text != '\0' ? ": " : "",
		    r->text != NULL ? r->text : "");
}

/* Percent-encode s for a path segment or a query value, allocated. */
static char *
ctl_escape(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*out, *p;
	unsigned char		 c;

	p = out = xmalloc(strlen(s) * 3 + 1);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || strchr("-._~:@", c) != NULL)
			*p++ = c;
		else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return (out);
}

/*
 * GET a paginated list (path has its query string, or none): every
 * page's "data" appended to *all (a new array).  -1 with the error
 * printed.
 */
static int
ctl_get_all(const char *path, json_t **all)
{
	struct ctl_resp	 r;
	json_t		*data, *meta;
	char		*url = NULL;
	int		 page, rv = -1;

	memset(&r, 0, sizeof r);
	*all = json_array();
	for (page = 1;; page++) {
		xasprintf(&url, "%s%slimit=%d&page=%d", path,
		    strchr(path, '?') != NULL ? "&" : "?", CTL_PAGE_LIMIT,
		    page);
		if (ctl_request("GET", url, NULL, &r) != 0)
			goto fail;
		free(url);
		url = NULL;
		if (r.status != 200) {
			ctl_http_error(&r);
			goto fail;
		}
		data = json_object_get(r.json, "data");
		meta = json_object_get(r.json, "meta");
		if (!json_is_array(data)) {
			fprintf(stderr, "flockmq ctl: no list in the answer "
			    "to GET %s\n", path);
			goto fail;
		}
		json_array_extend(*all, data);
		if (!json_is_true(json_object_get(meta, "hasnext")) ||
		    json_array_size(data) == 0)
			break;
		ctl_resp_release(&r);
	}
	rv = 0;
fail:
	free(url);
	ctl_resp_release(&r);
	if (rv != 0) {
		json_decref(*all);
		*all = NULL;
	}
	return (rv);
}

/* GET path expecting 200 and a JSON body in r; -1 with the error printed. */
static int
ctl_get(const char *path, struct ctl_resp *r)
{
	if (ctl_request("GET", path, NULL, r) != 0)
		return (-1);
	if (r->status != 200 || r->json == NULL) {
		ctl_http_error(r);
		ctl_resp_release(r);
		return (-1);
	}
	return (0);
}

/* A JSON value as Erlang's ~w prints it (strings bare, null undefined). */
static const char *
ctl_fmt_value(const json_t *v, char *buf, size_t len)
{
	char	*s;

	if (v == NULL)
		return ("undefined");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return (json_string_value(v));
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return (buf);
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return (buf);
	case JSON_TRUE:
		return ("true");
	case JSON_FALSE:
		return ("false");
	case JSON_OBJECT:
	case JSON_ARRAY:
		s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		snprintf(buf, len, "%s", s != NULL ? s : "");
		free(s);
		return (buf);
	default:
		return ("undefined");
	}
}

/* An RFC 3339 time as milliseconds since the epoch; -1 if it is not one. */
static long long
ctl_rfc3339_ms(const char *s)
{
	struct tm	 tm;
	long long	 ms = 0, t;
	int		 n = 0, off = 0, oh, om, digits;
	char		 sign;

	memset(&tm, 0, sizeof tm);
	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &tm.tm_year,
	    &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
	    &n) != 6 || n == 0)
		return (-1);
	s += n;
	if (*s == '.') {
		for (s++, digits = 0; isdigit((unsigned char)*s); s++)
			if (digits++ < 3)
				ms = ms * 10 + (*s - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if (*s == 'Z' || *s == 'z')
		s++;
	else if ((*s == '+' || *s == '-') &&
	    sscanf(s, "%c%2d:%2d%n", &sign, &oh, &om, &n) == 3) {
		off = (oh * 60 + om) * 60 * (sign == '-' ? -1 : 1);
		s += n;
	} else
		return (-1);
	if (*s != '\0')
		return (-1);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	if ((t = timegm(&tm)) == -1)
		return (-1);
	return ((t - off) * 1000 + ms);
}

/* One field of a client object into line; 0, or -1 to leave it out. */
static int
ctl_client_field(const json_t *c, const struct ctl_field *f,
    struct buf *line)
{
	const json_t	*v = json_object_get(c, f->key);
	char		 tmp[64], *s = NULL;
	const char	*val;
	long long	 ms;

	if (v == NULL && f->fmt == CTL_FMT_OPTIONAL_TIME)
		return (-1);
	val = ctl_fmt_value(v, tmp, sizeof tmp);
	switch (f->fmt) {
	case CTL_FMT_PEER:
		if (json_is_string(v))
			xasprintf(&s, "%s:%s", val, ctl_fmt_value(
			    json_object_get(c, "port"), tmp, sizeof tmp));
		break;
	case CTL_FMT_TIME:
	case CTL_FMT_OPTIONAL_TIME:
		if (json_is_string(v) && (ms = ctl_rfc3339_ms(val)) != -1)
			xasprintf(&s, "%lld", ms);
		break;
	case CTL_FMT_PLAIN:
		break;
	}
	if (f->label != NULL) {
		buf_add(line, ", ", 2);
		buf_add(line, f->label, strlen(f->label));
		buf_add(line, "=", 1);
	}
	if (s != NULL)
		val = s;
	buf_add(line, val, strlen(val));
	free(s);
	return (0);
}

/* Print a client object as EMQX's Client(...) line. */
static void
ctl_print_client(const json_t *c)
{
	struct buf	 line;
	size_t		 i;

	buf_init(&line);
	buf_add(&line, "Client(", 7);
	for (i = 0; i < sizeof ctl_client_fields / sizeof
	    ctl_client_fields[0]; i++)
		(void)ctl_client_field(c, &ctl_client_fields[i], &line);
	buf_add(&line, ")\n", 2);
	fwrite(buf_head(&line), 1, buf_used(&line), stdout);
	buf_release(&line);
}

/* Compare two C strings for qsort. */
static int
ctl_strcmp(const void *a, const void *b)
{
	return (strcmp(*(const char *const *)a, *(const char *const *)b));
}

/* Print an object's members sorted, "~-30s: ~w" (broker stats|metrics). */
static int
ctl_print_sorted(const char *path)
{
	struct ctl_resp	 r;
	const char	*key, **keys = NULL;
	json_t		*v, *o;
	char		 tmp[64];
	size_t		 n = 0, i;

	if (ctl_get(path, &r) != 0)
		return (1);
	o = r.json;
	if (json_is_array(o))		/* one object per node */
		o = json_array_get(o, 0);
	keys = xreallocarray(NULL, json_object_size(o) + 1, sizeof *keys);
	json_object_foreach(o, key, v) {
		if (strcmp(key, "node") != 0)
			keys[n++] = key;
	}
	qsort(keys, n, sizeof *keys, ctl_strcmp);
	for (i = 0; i < n; i++)
		printf("%-30s: %s\n", keys[i], ctl_fmt_value(json_object_get(o,
		    keys[i]), tmp, sizeof tmp));
	free(keys);
	ctl_resp_release(&r);
	return (0);
}

/* status: Node 'NAME' VERSION is started. */
static int
ctl_status(int argc, char **argv)
{
	struct ctl_resp	 r;
	const char	*node, *vsn, *st;

	(void)argc;
	(void)argv;
	if (ctl_get("/api/v5/status?format=json", &r) != 0)
		return (1);
	node = json_string_value(json_object_get(r.json, "node_name"));
	vsn = json_string_value(json_object_get(r.json, "rel_vsn"));
	st = json_string_value(json_object_get(r.json, "broker_status"));
	printf("Node '%s' %s is %s\n", node != NULL ? node : config->node_name,
	    vsn != NULL ? vsn : "", st != NULL ? st : "started");
	ctl_resp_release(&r);
	return (0);
}

/* uptime as emqx_utils_calendar:human_readable_duration_string/1. */
static void
ctl_duration(long long ms, char *buf, size_t len)
{
	static const char	*units[] = { "days", "hours", "minutes",
				    "seconds" };
	long long		 s = ms / 1000, v[4];
	size_t			 i, off = 0;
	int			 started = 0;

	v[0] = s / 86400;
	v[1] = s % 86400 / 3600;
	v[2] = s % 3600 / 60;
	v[3] = s % 60;
	buf[0] = '\0';
	for (i = 0; i < 4 && off < len; i++) {
		if (v[i] == 0 && !started && i != 3)
			continue;
		off += snprintf(buf + off, len - off, "%s%lld %s",
		    started ? ", " : "", v[i], units[i]);
		started = 1;
	}
}

/* broker: sysdescr, version, datetime, uptime. */
static int
ctl_broker(int argc, char **argv)
{
	struct ctl_resp	 r;
	const char	*s;
	char		*node = ctl_escape(config->node_name), *url;
	char		 buf[128];
	time_t		 t = time(NULL);
	struct tm	 tm;
	int		 rv;

	(void)argc;
	(void)argv;
	xasprintf(&url, "/api/v5/nodes/%s", node);
	free(node);
	rv = ctl_get(url, &r);
	free(url);
	if (rv != 0)
		return (1);
	s = json_string_value(json_object_get(r.json, "sysdescr"));
	printf("%-10s: %s\n", "sysdescr", s != NULL ? s : CTL_SYSDESCR);
	s = json_string_value(json_object_get(r.json, "version"));
	printf("%-10s: %s\n", "version", s != NULL ? s : "");
	localtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
	printf("%-10s: %s\n", "datetime", buf);
	ctl_duration(json_integer_value(json_object_get(r.json, "uptime")),
	    buf, sizeof buf);
	printf("%-10s: %s\n", "uptime", buf);
	ctl_resp_release(&r);
	return (0);
}

/* broker stats. */
static int
ctl_broker_stats(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return (ctl_print_sorted("/api/v5/stats?aggregate=true"));
}

/* broker metrics. */
static int
ctl_broker_metrics(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return (ctl_print_sorted("/api/v5/metrics?aggregate=true"));
}

/* POST one batch of client ids to kickout/bulk. */
static int
ctl_kick_batch(json_t *ids)
{
	struct ctl_resp	 r;
	int		 rv = 0;

	if (ctl_request("POST", "/api/v5/clients/kickout/bulk", ids, &r) != 0)
		return (-1);
	if (r.status / 100 != 2) {
		ctl_http_error(&r);
		rv = -1;
	}
	ctl_resp_release(&r);
	json_array_clear(ids);
	return (rv);
}

/* broker kick all: every client, in batches. */
static int
ctl_broker_kick_all(int argc, char **argv)
{
	json_t		*all = NULL, *ids = json_array(), *c;
	const char	*id;
	size_t		 i, n = 0, bytes = 0;
	int		 rv = 1;

	(void)argc;
	(void)argv;
	if (ctl_get_all("/api/v5/clients", &all) != 0)
		goto fail;
	json_array_foreach(all, i, c) {
		if ((id = json_string_value(json_object_get(c, "clientid"))) ==
		    NULL)
			continue;
		json_array_append_new(ids, json_string(id));
		bytes += strlen(id) * 6 + 3;
		n++;
		if (json_array_size(ids) >= CTL_KICK_BATCH ||
		    bytes >= CTL_KICK_BYTES) {
			if (ctl_kick_batch(ids) != 0)
				goto fail;
			bytes = 0;
		}
	}
	if (json_array_size(ids) != 0 && ctl_kick_batch(ids) != 0)
		goto fail;
	printf("Kicked out %zu client%s.\n", n, n == 1 ? "" : "s");
	rv = 0;
fail:
	json_decref(all);
	json_decref(ids);
	return (rv);
}

/* Append an Erlang atom, quoted, to b. */
static void
ctl_atom(struct buf *b, const char *s)
{
	buf_add(b, "'", 1);
	for (; *s != '\0'; s++) {
		if (*s == '\'' || *s == '\\')
			buf_add(b, "\\", 1);
		buf_add(b, s, 1);
	}
	buf_add(b, "'", 1);
}

/*
 * cluster status [--json]: running and stopped nodes from GET /nodes: the
 * members of the metadata group (and this node), or before there are any,
 * every node linked or known.
 */
static int
ctl_cluster_status(int argc, char **argv)
{
	struct ctl_resp	 r;
	json_t		*running = NULL, *stopped = NULL, *n, *out = NULL;
	json_t		*lists[2];
	const char	*name, *st;
	const char	*labels[2] = { "running_nodes", "stopped_nodes" };
	struct buf	 b;
	char		*s;
	size_t		 i, j;
	int		 json = argc == 1, members = 0;

	if (argc == 1 && strcmp(argv[0], "--json") != 0)
		return (2);
	buf_init(&b);
	if (ctl_get("/api/v5/nodes", &r) != 0)
		return (1);
	running = json_array();
	stopped = json_array();
	/* The members of the metadata group, once there are any. */
	json_array_foreach(r.json, i, n)
		if (json_is_true(json_object_get(n, "member")))
			members = 1;
	json_array_foreach(r.json, i, n) {
		if ((name = json_string_value(json_object_get(n, "node"))) ==
		    NULL)
			continue;
		if (members && i != 0 &&
		    !json_is_true(json_object_get(n, "member")))
			continue;
		st = json_string_value(json_object_get(n, "node_status"));
		json_array_append_new(st != NULL && strcmp(st, "running") ==
		    0 ? running : stopped, json_string(name));
	}
	lists[0] = running;
	lists[1] = stopped;
	for (i = 0; i < 2; i++) {
		const char	**v = xreallocarray(NULL,
				    json_array_size(lists[i]) + 1, sizeof *v);

		json_array_foreach(lists[i], j, n)
			v[j] = json_string_value(n);
		qsort(v, json_array_size(lists[i]), sizeof *v, ctl_strcmp);
		out = out != NULL ? out : json_object();
		json_object_set_new(out, labels[i], json_array());
		buf_add(&b, i == 0 ? "Cluster status: #{" : ",", i == 0 ?
		    18 : 1);
		buf_add(&b, labels[i], strlen(labels[i]));
		buf_add(&b, " => [", 5);
		for (j = 0; j < json_array_size(lists[i]); j++) {
			json_array_append_new(json_object_get(out, labels[i]),
			    json_string(v[j]));
			if (j != 0)
				buf_add(&b, ",", 1);
			ctl_atom(&b, v[j]);
		}
		buf_add(&b, "]", 1);
		free(v);
	}
	buf_add(&b, "}\n", 2);
	if (json) {
		s = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		printf("%s\n", s);
		free(s);
	} else
		fwrite(buf_head(&b), 1, buf_used(&b), stdout);
	buf_release(&b);
	json_decref(out);
	json_decref(running);
	json_decref(stopped);
	ctl_resp_release(&r);
	return (0);
}

/* cluster force-leave <Node>: DELETE /cluster/:node/force_leave. */
static int
ctl_cluster_force_leave(int argc, char **argv)
{
	struct ctl_resp	 r;
	char		*node, *url = NULL;
	int		 rv = 1;

	(void)argc;
	node = ctl_escape(argv[0]);
	xasprintf(&url, "/api/v5/cluster/%s/force_leave", node);
	memset(&r, 0, sizeof r);
	if (ctl_request("DELETE", url, NULL, &r) != 0)
		goto fail;
	if (r.status != 204) {
		ctl_http_error(&r);
		ctl_resp_release(&r);
		goto fail;
	}
	printf("ok\n");
	ctl_resp_release(&r);
	rv = 0;
fail:
	free(node);
	free(url);
	return (rv);
}

/* clients list. */
static int
ctl_clients_list(int argc, char **argv)
{
	json_t	*all, *c;
	size_t	 i;

	(void)argc;
	(void)argv;
	if (ctl_get_all("/api/v5/clients", &all) != 0)
		return (1);
	if (json_array_size(all) == 0)
		printf("No clients.\n");
	json_array_foreach(all, i, c)
		ctl_print_client(c);
	json_decref(all);
	return (0);
}

/*
 * METHOD /api/v5/<prefix>/<escaped id><suffix>: 0 with r on 2xx; 1 with
 * "Not Found." on 404; 1 with the error printed otherwise.
 */
static int
ctl_on_id(const char *method, const char *prefix, const char *id,
    const char *suffix, struct ctl_resp *r)
{
	char	*e = ctl_escape(id), *url;
	int	 rv;

	xasprintf(&url, "/api/v5/%s/%s%s", prefix, e, suffix);
	free(e);
	rv = ctl_request(method, url, NULL, r);
	free(url);
	if (rv != 0)
		return (1);
	if (r->status / 100 == 2)
		return (0);
	if (r->status == 404)
		fprintf(stderr, "Not Found.\n");
	else
		ctl_http_error(r);
	ctl_resp_release(r);
	return (1);
}

/* clients show <ClientId>. */
static int
ctl_clients_show(int argc, char **argv)
{
	struct ctl_resp	 r;

	(void)argc;
	if (ctl_on_id("GET", "clients", argv[0], "", &r) != 0)
		return (1);
	ctl_print_client(r.json);
	ctl_resp_release(&r);
	return (0);
}

/* clients kick <ClientId>. */
static int
ctl_clients_kick(int argc, char **argv)
{
	struct ctl_resp	 r;

	(void)argc;
	if (ctl_on_id("DELETE", "clients", argv[0], "", &r) != 0)
		return (1);
	printf("ok\n");
	ctl_resp_release(&r);
	return (0);
}

/* One subscription: "clientid -> topic:T qos:Q nl:N rh:R rap:A". */
static void
ctl_print_subscription(const json_t *s)
{
	static const char	*keys[] = { "qos", "nl", "rh", "rap" };
	char			 tmp[64];
	size_t			 i;

	printf("%s -> topic:%s", ctl_fmt_value(json_object_get(s,
	    "clientid"), tmp, sizeof tmp), json_string_value(
	    json_object_get(s, "topic")) != NULL ? json_string_value(
	    json_object_get(s, "topic")) : "");
	for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		json_t	*v = json_object_get(s, keys[i]);

		printf(" %s:%s", keys[i], v != NULL ? ctl_fmt_value(v, tmp,
		    sizeof tmp) : "0");
	}
	printf("\n");
}

/* subscriptions list. */
static int
ctl_subscriptions_list(int argc, char **argv)
{
	json_t	*all, *s;
	size_t	 i;

	(void)argc;
	(void)argv;
	if (ctl_get_all("/api/v5/subscriptions", &all) != 0)
		return (1);
	if (json_array_size(all) == 0)
		printf("No subscriptions.\n");
	json_array_foreach(all, i, s)
		ctl_print_subscription(s);
	json_decref(all);
	return (0);
}

/* subscriptions show <ClientId>. */
static int
ctl_subscriptions_show(int argc, char **argv)
{
	struct ctl_resp	 r;
	json_t		*s, *list;
	size_t		 i;

	(void)argc;
	if (ctl_on_id("GET", "clients", argv[0], "/subscriptions", &r) != 0)
		return (1);
	list = json_is_array(r.json) ? r.json : json_object_get(r.json,
	    "data");
	if (json_array_size(list) == 0)
		printf("No subscriptions.\n");
	json_array_foreach(list, i, s) {
		/* Older answers leave the clientid out of each entry. */
		if (json_object_get(s, "clientid") == NULL)
			json_object_set_new(s, "clientid",
			    json_string(argv[0]));
		ctl_print_subscription(s);
	}
	ctl_resp_release(&r);
	return (0);
}

/* Print topics "topic -> node"; "No topics." when none and say_none. */
static void
ctl_print_topics(const json_t *all, int say_none)
{
	const json_t	*t;
	char		 a[64], b[64];
	size_t		 i;

	if (json_array_size(all) == 0 && say_none)
		printf("No topics.\n");
	json_array_foreach(all, i, t)
		printf("%s -> %s\n", ctl_fmt_value(json_object_get(t, "topic"),
		    a, sizeof a), ctl_fmt_value(json_object_get(t, "node"), b,
		    sizeof b));
}

/* topics list. */
static int
ctl_topics_list(int argc, char **argv)
{
	json_t	*all;

	(void)argc;
	(void)argv;
	if (ctl_get_all("/api/v5/topics", &all) != 0)
		return (1);
	ctl_print_topics(all, 1);
	json_decref(all);
	return (0);
}

/* topics show <Topic>: its routes (nothing when there are none). */
static int
ctl_topics_show(int argc, char **argv)
{
	json_t	*all;
	char	*e = ctl_escape(argv[0]), *url;
	int	 rv;

	(void)argc;
	xasprintf(&url, "/api/v5/topics?topic=%s", e);
	free(e);
	rv = ctl_get_all(url, &all);
	free(url);
	if (rv != 0)
		return (1);
	ctl_print_topics(all, 0);
	json_decref(all);
	return (0);
}

/* One listener line, "  ~-16s: value". */
static void
ctl_listener_line(const char *label, const char *value)
{
	printf("  %-16s: %s\n", label, value);
}

/* listeners: each with its address, acceptors, state and connections. */
static int
ctl_listeners(int argc, char **argv)
{
	const struct config_listener	*cl;
	struct ctl_resp			 r;
	json_t				*l, *v;
	const char			*id;
	char				 tmp[64];
	size_t				 i;

	(void)argc;
	(void)argv;
	if (ctl_get("/api/v5/listeners", &r) != 0)
		return (1);
	json_array_foreach(r.json, i, l) {
		if ((id = json_string_value(json_object_get(l, "id"))) == NULL)
			continue;
		cl = config_find_listener(config, id);
		printf("%s\n", id);
		ctl_listener_line("listen_on", ctl_fmt_value(
		    json_object_get(l, "bind"), tmp, sizeof tmp));
		if ((v = json_object_get(l, "acceptors")) != NULL)
			ctl_listener_line("acceptors", ctl_fmt_value(v, tmp,
			    sizeof tmp));
		else {
			snprintf(tmp, sizeof tmp, "%lld", cl != NULL ?
			    (long long)cl->acceptors : 16LL);
			ctl_listener_line("acceptors", tmp);
		}
		if ((v = json_object_get(l, "proxy_protocol")) != NULL)
			ctl_listener_line("proxy_protocol", ctl_fmt_value(v,
			    tmp, sizeof tmp));
		else
			ctl_listener_line("proxy_protocol", cl != NULL &&
			    cl->proxy_protocol ? "true" : "false");
		v = json_object_get(l, "running");
		ctl_listener_line("running", json_is_true(v) ? "true" :
		    "false");
		if (!json_is_true(v))
			continue;
		if ((v = json_object_get(l, "current_connections")) != NULL)
			ctl_listener_line("current_conn", ctl_fmt_value(v, tmp,
			    sizeof tmp));
		v = json_object_get(l, "max_connections");
		if (json_is_integer(v) && json_integer_value(v) < 0)
			ctl_listener_line("max_conns", "infinity");
		else if (v != NULL)
			ctl_listener_line("max_conns", ctl_fmt_value(v, tmp,
			    sizeof tmp));
		if ((v = json_object_get(l, "shutdown_count")) != NULL)
			ctl_listener_line("shutdown_count", ctl_fmt_value(v,
			    tmp, sizeof tmp));
	}
	ctl_resp_release(&r);
	return (0);
}

/* listeners stop|start|restart <Identifier>; argv[-1] is the action. */
static int
ctl_listeners_action(int argc, char **argv)
{
	static const struct {
		const char	*action;
		const char	*done;
	} msgs[] = {
		{ "stop", "Stop" },
		{ "start", "Started" },
		{ "restart", "Restarted" }
	};
	struct ctl_resp	 r;
	const char	*action = argv[-1], *done = "";
	char		*e = ctl_escape(argv[0]), *url;
	size_t		 i;
	int		 rv;

	(void)argc;
	for (i = 0; i < sizeof msgs / sizeof msgs[0]; i++)
		if (strcmp(action, msgs[i].action) == 0)
			done = msgs[i].done;
	xasprintf(&url, "/api/v5/listeners/%s/%s", e, action);
	free(e);
	rv = ctl_request("POST", url, NULL, &r);
	free(url);
	if (rv != 0)
		return (1);
	if (r.status / 100 == 2) {
		printf("%s %s listener successfully.\n", done, argv[0]);
		rv = 0;
	} else if (r.status == 404) {
		fprintf(stderr, "Invalid listener: \"%s\"\n", argv[0]);
		rv = 1;
	} else {
		fprintf(stderr, "Failed to %s %s listener: ", action, argv[0]);
		ctl_http_error(&r);
		rv = 1;
	}
	ctl_resp_release(&r);
	return (rv);
}

/* banned list: Banned(as=..., who=..., by=..., reason=..., at=...,
 * until=...). */
static int
ctl_banned_list(int argc, char **argv)
{
	json_t	*all, *b;
	char	 tmp[64];
	size_t	 i, j;

	(void)argc;
	(void)argv;
	if (ctl_get_all("/api/v5/banned", &all) != 0)
		return (1);
	if (json_array_size(all) == 0)
		printf("No banned.\n");
	json_array_foreach(all, i, b) {
		printf("Banned(");
		for (j = 0; j < sizeof ctl_banned_fields /
		    sizeof ctl_banned_fields[0]; j++)
			printf("%s%s=%s", j != 0 ? ", " : "",
			    ctl_banned_fields[j], ctl_fmt_value(
			    json_object_get(b, ctl_banned_fields[j]), tmp,
			    sizeof tmp));
		printf(")\n");
	}
	json_decref(all);
	return (0);
}

/* Parse "--name value" pairs of argv into o; -1 on anything else. */
static int
ctl_options(int argc, char **argv, const char **names, size_t nnames,
    json_t *o)
{
	size_t	 i;
	int	 a;

	for (a = 0; a < argc; a += 2) {
		if (strncmp(argv[a], "--", 2) != 0 || a + 1 >= argc)
			return (-1);
		for (i = 0; i < nnames; i++)
			if (strcmp(argv[a] + 2, names[i]) == 0)
				break;
		if (i == nnames || json_object_get(o, names[i]) != NULL)
			return (-1);
		json_object_set_new(o, names[i], json_string(argv[a + 1]));
	}
	if (json_object_get(o, "as") == NULL ||
	    json_object_get(o, "who") == NULL)
		return (-1);
	return (0);
}

/* banned add --as <As> --who <Who> [--reason <R>] [--until <T>]. */
static int
ctl_banned_add(int argc, char **argv)
{
	static const char	*names[] = { "as", "who", "reason", "until" };
	struct ctl_resp		 r;
	json_t			*o = json_object();
	int			 rv = 1;

	if (ctl_options(argc, argv, names, 4, o) != 0) {
		rv = 2;
		goto fail;
	}
	if (ctl_request("POST", "/api/v5/banned", o, &r) != 0)
		goto fail;
	if (r.status / 100 == 2) {
		printf("ok\n");
		rv = 0;
	} else
		ctl_http_error(&r);
	ctl_resp_release(&r);
fail:
	json_decref(o);
	return (rv);
}

/* banned del --as <As> --who <Who>. */
static int
ctl_banned_del(int argc, char **argv)
{
	static const char	*names[] = { "as", "who" };
	struct ctl_resp		 r;
	json_t			*o = json_object();
	char			*as = NULL, *url = NULL;
	int			 rv = 1;

	if (ctl_options(argc, argv, names, 2, o) != 0) {
		rv = 2;
		goto fail;
	}
	as = ctl_escape(json_string_value(json_object_get(o, "as")));
	xasprintf(&url, "banned/%s", as);
	if (ctl_on_id("DELETE", url, json_string_value(json_object_get(o,
	    "who")), "", &r) != 0)
		goto fail;
	printf("ok\n");
	ctl_resp_release(&r);
	rv = 0;
fail:
	free(as);
	free(url);
	json_decref(o);
	return (rv);
}

/* admins passwd <Username> <Password>: no old password on the socket. */
static int
ctl_admins_passwd(int argc, char **argv)
{
	struct ctl_resp	 r;
	json_t		*o;
	char		*e = ctl_escape(argv[0]), *url;
	int		 rv;

	(void)argc;
	xasprintf(&url, "/api/v5/users/%s/reset_pwd", e);
	free(e);
	o = json_pack("{s:s}", "password", argv[1]);
	rv = ctl_request("POST", url, o, &r);
	free(url);
	json_decref(o);
	if (rv != 0)
		return (1);
	if (r.status / 100 == 2) {
		printf("ok\n");
		rv = 0;
	} else {
		ctl_http_error(&r);
		rv = 1;
	}
	ctl_resp_release(&r);
	return (rv);
}

/* Number of words of e that argv starts with, or 0 if not all. */
static int
ctl_match(const struct ctl_entry *e, int argc, char **argv)
{
	const char	*w = e->words;
	size_t		 n;
	int		 i;

	for (i = 0; *w != '\0'; i++) {
		n = strcspn(w, " ");
		if (i >= argc || strlen(argv[i]) != n ||
		    strncmp(argv[i], w, n) != 0)
			return (0);
		w += n;
		w += strspn(w, " ");
	}
	return (i);
}

int
ctl_main(int argc, char **argv)
{
	const struct ctl_entry	*e = NULL;
	size_t			 i;
	int			 n, best = 0, nargs, rv;

	argc--;
	argv++;
	for (i = 0; i < CTL_NENTRIES; i++) {
		n = ctl_match(&ctl_table[i], argc, argv);
		if (n > best) {
			best = n;
			e = &ctl_table[i];
		}
	}
	if (e == NULL)
		goto usage;
	nargs = argc - best;
	if (nargs < e->nargs_min || nargs > e->nargs_max)
		goto usage;
	if ((rv = e->exec(nargs, argv + best)) == 2)
		goto usage;
	fflush(stdout);
	return (rv);
usage:
	ctl_usage();
	return (2);
}
