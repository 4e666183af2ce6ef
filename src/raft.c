/*
 * raft.c: one Raft group's consensus state machine as a pure step function
 * (see raft.h for the contract).
 *
 * Skeleton: every function of raft.h is present so that the simulator and
 * the driver compile; the step function is filled in by later commits.
 */
#include <stdlib.h>
#include <string.h>

#include "raft.h"

struct raft {
	struct raft_config	 cfg;
	enum raft_role		 role;
	raft_term		 term;
	raft_id			 vote;
	raft_id			 leader;
};

/* A group with the given settings. */
struct raft *
raft_new(const struct raft_config *cfg)
{
	struct raft	*r;

	if ((r = calloc(1, sizeof *r)) == NULL)
		return (NULL);
	r->cfg = *cfg;
	return (r);
}

/* Free a group; NULL is a no-op. */
void
raft_free(struct raft *r)
{
	free(r);
}

/* Load persisted state. */
int
raft_restore(struct raft *r, const struct raft_restore *rs)
{
	r->term = rs->hs.term;
	r->vote = rs->hs.vote;
	return (0);
}

/* Feed one event. */
enum raft_rc
raft_step(struct raft *r, const struct raft_event *ev, struct raft_update *u)
{
	(void)r;
	memset(u, 0, sizeof *u);
	u->deadline = ev->now + 1000;
	return (RAFT_OK);
}

/* Report the group's state. */
void
raft_status(const struct raft *r, struct raft_status *st)
{
	memset(st, 0, sizeof *st);
	st->id = r->cfg.id;
	st->role = r->role;
	st->term = r->term;
	st->vote = r->vote;
	st->leader = r->leader;
}

/* The group's role. */
enum raft_role
raft_role(const struct raft *r)
{
	return (r->role);
}

/* The leader this replica knows of, 0 if none. */
raft_id
raft_leader(const struct raft *r)
{
	return (r->leader);
}

/* The current term. */
raft_term
raft_current_term(const struct raft *r)
{
	return (r->term);
}

/* Encode a configuration. */
size_t
raft_conf_encode(const struct raft_conf *c, void *buf, size_t cap)
{
	(void)c; (void)buf; (void)cap;
	return (0);
}

/* Decode a configuration. */
int
raft_conf_decode(const void *buf, size_t len, struct raft_conf *c)
{
	(void)buf; (void)len;
	memset(c, 0, sizeof *c);
	return (-1);
}

/* Name of a return code. */
const char *
raft_rc_name(enum raft_rc rc)
{
	(void)rc;
	return ("?");
}

/* Name of a role. */
const char *
raft_role_name(enum raft_role role)
{
	(void)role;
	return ("?");
}

/* Name of a message type. */
const char *
raft_msg_type_name(enum raft_msg_type t)
{
	(void)t;
	return ("?");
}

/* Name of bug bit i. */
const char *
raft_bug_name(unsigned i)
{
	(void)i;
	return (NULL);
}
