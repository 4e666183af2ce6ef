/*
 * http.h: the embedded HTTP server (libmicrohttpd): dashboard, REST API
 * /api/v5, Prometheus metrics; and the ctl socket.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>

/* Start the dashboard listener and the ctl socket (after the workers). */
int	 http_init(char **cause);
/* Stop both; waits for requests in progress (before the workers stop). */
void	 http_release(void);

struct str;
/* Whether a "u/" (dashboard user) or "k/" (API key) record decodes (store
 * repair). */
bool	 http_record_ok(struct str key, struct str val);

#endif
