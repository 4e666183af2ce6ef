/*
 * cluster.h: the cluster's glue (docs/cluster.md): this node's Raft driver
 * carried by the node links, and the metadata group (group 0) whose
 * state machine holds the membership records.
 *
 * Everything runs on the node loop but cluster_nodes(), which any thread
 * may call: it merges a copy of the members (kept under a lock, refreshed
 * by the node loop) with link_peers().
 */
#ifndef CLUSTER_H
#define CLUSTER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "link.h"

/* The metadata group (Raft group 0) as this node sees it. */
struct cluster_meta {
	bool		 started;	/* group 0 runs here */
	bool		 member;	/* this node is in its configuration */
	char		 raft_role[16];	/* "leader", "follower", ... */
	uint64_t	 leader;	/* node id, 0 if none known */
	char		 leader_name[256];
	uint64_t	 term, commit, applied, last;
	size_t		 n_members;
};

/* A node of the cluster: a member of the metadata group or a peer. */
struct cluster_node {
	struct link_peer_info link;	/* name always; the rest if linked */
	bool		 self;
	bool		 member;	/* has a membership record */
	bool		 voter;		/* votes in the metadata group */
	bool		 learner;	/* follows it without a vote */
	bool		 running;	/* self, or linked with its id */
	int		 role;		/* 0 core, 1 replicant, -1 unknown */
};

/* Start the driver and the metadata group (after link_init). */
int	 cluster_init(struct ev_loop *, char **cause);
/* Stop them (before link_release). */
void	 cluster_release(void);
/*
 * Every node (any thread): this node first, then the members by name,
 * then the peers that are not members.  *out is a new array the caller
 * frees; meta (may be NULL) gets the metadata group's state.
 */
size_t	 cluster_nodes(struct cluster_node **out, struct cluster_meta *meta);
/*
 * Force the stopped member named name out of the cluster (any thread; on
 * the metadata group's leader only): its removal from the group and the
 * deletion of its record, waited for up to 10 s.  Returns an HTTP status:
 * 204 done; else 400, 404, 503 or 504 with the reason in err.
 */
int	 cluster_force_leave(const char *name, char *err, size_t len);

#endif
