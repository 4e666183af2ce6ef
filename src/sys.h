/*
 * sys.h: the $SYS/brokers/<node>/... tree, published from the node loop.
 */
#ifndef SYS_H
#define SYS_H

#include <ev.h>
#include <stdbool.h>

void	 sys_init(struct ev_loop *);
void	 sys_release(void);
/* Publish a message made by the node itself to every worker. */
void	 sys_publish(const char *topic, const char *payload, int retain);
double	 sys_uptime(void);

struct conn;
struct worker;
/* $SYS/brokers/<node>/clients/<id>/connected|disconnected (worker). */
void	 sys_client_event(struct worker *, const struct conn *,
	    bool connected, const char *reason);

#endif
