/*
 * http.h: the embedded HTTP server (libmicrohttpd): dashboard, REST API
 * /api/v5, Prometheus metrics; and the ctl socket.
 */
#ifndef HTTP_H
#define HTTP_H

/* Start the dashboard listener and the ctl socket (after the workers). */
int	 http_init(char **cause);
/* Stop both; waits for requests in progress (before the workers stop). */
void	 http_release(void);

#endif
