/*
 * link.h: node links, the connections between the nodes of a cluster
 * (docs/cluster.md).
 *
 * The node loop owns every link: the listener on cluster.link.port, the
 * dials to the seeds, the handshake (HELLO, version agreement, HMAC
 * authentication with node.cookie), heartbeats and cut-offs.  Other
 * threads (HTTP) see the peers only through link_peers(), a copy made
 * under a lock that the node loop refreshes on every change of state.
 */
#ifndef LINK_H
#define LINK_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "wire.h"

struct link_peer_info {
	char		 name[256];
	char		 addr[64];	/* host:port last linked or dialled */
	char		 listen[64];	/* host:port it listens on, or "" */
	char		 version[64];	/* software version, "" if never up */
	bool		 running;	/* control connection up and alive */
	int		 role;		/* 0 core, 1 replicant, -1 unknown */
	uint64_t	 node_id;
	uint64_t	 boot;
	int		 data_up;	/* data connections up */
	int		 agreed[WIRE_SUB_COUNT]; /* versions in use, 0 none */
	char		 reason[256];	/* why not running, "" if running */
};

/* Open the listener and start dialling the seeds (static discovery). */
int	 link_init(struct ev_loop *, char **cause);
/* Close every connection and the listener. */
void	 link_release(void);
/* This node's persistent id and boot counter (after link_init). */
uint64_t link_node_id(void);
uint64_t link_boot(void);
/*
 * A copy of the peers (any thread): *out is a new array the caller frees,
 * the return value its length.
 */
size_t	 link_peers(struct link_peer_info **out);
/*
 * What the cluster's glue (cluster.c) hears from the links, on the node
 * loop: a peer's control connection up or down, and DATA frames of a
 * subsystem (at the version agreed with that peer).
 */
struct link_hooks {
	void	(*up)(uint64_t node_id, const char *name, int role,
		    const int agreed[WIRE_SUB_COUNT]);
	void	(*down)(uint64_t node_id, const char *name);
	void	(*data)(uint64_t node_id, const char *name, int subsys,
		    int version, struct str payload);
};
void	 link_set_hooks(const struct link_hooks *);
/*
 * Queue a DATA frame of subsys for the peer with node_id on its control
 * connection (written when the socket takes it).  -1 if that peer has no
 * live control connection or does not speak subsys: the frame is dropped.
 */
int	 link_send(uint64_t node_id, int subsys, struct str payload);
/* The version of subsys agreed with a running peer, 0 if none. */
int	 link_version(uint64_t node_id, int subsys);
/* This node's version ranges, as "link 1..1, raft 1..1, ..." (static). */
const char *link_ranges_text(void);

#endif
