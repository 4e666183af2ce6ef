/*
 * sys.h: the $SYS/brokers/<node>/... tree, published from the node loop.
 */
#ifndef SYS_H
#define SYS_H

#include <ev.h>

void	 sys_init(struct ev_loop *);
void	 sys_release(void);
/* Publish a message made by the node itself to every worker. */
void	 sys_publish(const char *topic, const char *payload, int retain);
double	 sys_uptime(void);

#endif
