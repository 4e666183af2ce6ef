/*
 * ctl.h: `flockmq ctl ...`, the local node's command line.
 *
 * The node serves its REST API without authentication on a unix socket,
 * node.data_dir/ctl.sock, mode 0600 (http.c); ctl sends HTTP/1.1 requests
 * there and prints the answers as EMQX's ctl does.
 */
#ifndef CTL_H
#define CTL_H

/* node.data_dir/ctl.sock, allocated. */
char	*ctl_socket_path(void);
/* Run `ctl ARGS...` (argv[0] is "ctl") against the node of the loaded
 * config: 0 done, 1 failed or node not running, 2 usage. */
int	 ctl_main(int argc, char **argv);

#endif
