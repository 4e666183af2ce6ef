/*
 * wire.h: the node link's frame codec (pure; docs/cluster.md).
 *
 * Every byte between two nodes travels in a frame: an 8-byte header
 * (payload length u32, type u8, subsystem u8, flags u16, all big-endian)
 * and the payload.  wire_decode() is a pure function of its input: it
 * never allocates, keeps no state and returns views into the input, so
 * that the fuzzer can drive it alone.  Encoders append to a struct buf.
 * Nothing here knows about sockets, the loop or the configuration.
 */
#ifndef WIRE_H
#define WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "raft.h"

#define WIRE_HEADER_LEN		8
#define WIRE_NONCE_LEN		32
#define WIRE_MAC_LEN		32
#define WIRE_MAGIC		"FLMQ"
#define WIRE_MAGIC_LEN		4
/* A handshake frame is small; longer is malformed whatever max_size says. */
#define WIRE_HANDSHAKE_MAX	4096

enum wire_status {
	WIRE_OK,		/* a whole frame (or payload) decoded */
	WIRE_MORE,		/* a frame has started; more bytes needed */
	WIRE_MALFORMED,		/* not a frame of this protocol */
	WIRE_TOO_BIG		/* the header announces more than max_size */
};

/* Frame types; a type outside the list is malformed. */
enum wire_type {
	WIRE_HELLO = 1,		/* who I am, what I speak, my challenge */
	WIRE_AUTH = 2,		/* dialer's MAC over both HELLOs */
	WIRE_WELCOME = 3,	/* acceptor's MAC: the link is up */
	WIRE_REFUSE = 4,	/* why the link is refused; then close */
	WIRE_HEARTBEAT = 5,	/* liveness, both ways, on every connection */
	WIRE_DATA = 6,		/* a subsystem's message (none yet) */
	WIRE_TYPE_MAX = 6
};

/* Subsystems, each with its own protocol version range. */
enum wire_subsys {
	WIRE_SUB_LINK,		/* this handshake and heartbeats */
	WIRE_SUB_RAFT,		/* Raft messages (later) */
	WIRE_SUB_ROUTE,		/* route deltas (later) */
	WIRE_SUB_FORWARD,	/* forwarded messages (later) */
	WIRE_SUB_COUNT
};

/* REFUSE codes; the text says more. */
enum wire_refuse {
	WIRE_R_PROTOCOL = 1,	/* garbage, unexpected frame */
	WIRE_R_CLUSTER = 2,	/* another cluster.name */
	WIRE_R_VERSION = 3,	/* no common version for a subsystem */
	WIRE_R_COOKIE = 4,	/* the MAC does not check */
	WIRE_R_DUPLICATE = 5,	/* the other direction's link wins */
	WIRE_R_SELF = 6,	/* a node dialled itself */
	WIRE_R_NODE = 7		/* a node id or name conflict */
};

struct wire_frame {
	uint8_t		 type;
	uint8_t		 subsys;
	uint16_t	 flags;
	struct str	 payload;
};

struct wire_range {
	uint16_t	 min, max;	/* 0..0: not spoken */
};

struct wire_hello {
	uint8_t		 wire_version;	/* of the HELLO layout itself */
	uint8_t		 role;		/* 0 core, 1 replicant */
	uint8_t		 conn_kind;	/* 0 control, 1.. data connection */
	uint8_t		 n_data;	/* data connections the sender wants */
	uint64_t	 node_id;
	uint64_t	 boot;		/* boot counter, the incarnation */
	uint16_t	 listen_port;
	struct str	 cluster;
	struct str	 node_name;
	struct str	 version;	/* software version */
	struct wire_range range[WIRE_SUB_COUNT];
	uint8_t		 nonce[WIRE_NONCE_LEN];
};

struct wire_refusal {
	uint8_t		 code;
	struct str	 reason;
};

/*
 * Decode one frame from p[0..len).  On WIRE_OK fills *f (payload is a view
 * of p) and *used with the bytes the frame took.  A header announcing a
 * payload longer than max_size is WIRE_TOO_BIG; WIRE_MORE means every byte
 * so far is a plausible start.
 */
enum wire_status wire_decode(const uint8_t *p, size_t len, size_t max_size,
	    struct wire_frame *f, size_t *used);

/* Payload decoders: WIRE_OK or WIRE_MALFORMED; views into the payload. */
enum wire_status wire_hello_decode(struct str, struct wire_hello *);
enum wire_status wire_mac_decode(struct str, uint8_t mac[WIRE_MAC_LEN]);
enum wire_status wire_refuse_decode(struct str, struct wire_refusal *);
enum wire_status wire_heartbeat_decode(struct str, uint64_t *seq);

/* Encoders: append one whole frame to b. */
void	 wire_hello_encode(struct buf *, const struct wire_hello *);
void	 wire_mac_encode(struct buf *, uint8_t type,
	    const uint8_t mac[WIRE_MAC_LEN]);
void	 wire_refuse_encode(struct buf *, uint8_t code, const char *reason);
void	 wire_heartbeat_encode(struct buf *, uint64_t seq);
void	 wire_frame_encode(struct buf *, uint8_t type, uint8_t subsys,
	    struct str payload);

/* Name of a subsystem ("link", "raft", ...), of a frame type, a status. */
const char *wire_subsys_name(unsigned int);
const char *wire_type_name(unsigned int);
const char *wire_status_name(enum wire_status);
/* The subsystem named s (its length n); -1 if none. */
int	 wire_subsys_find(const char *s, size_t n);

/*
 * The raft subsystem (DATA frames of WIRE_SUB_RAFT), layout version 1:
 * a kind byte, then
 *	WIRE_RAFT_MSG	group u16, one struct raft_msg (docs/cluster.md)
 *	WIRE_RAFT_HAVE	flags u8 (bit 0: the sender's store holds the
 *			metadata group), so that a seed never bootstraps a
 *			group its peers already have
 *	WIRE_RAFT_REFUSED  reason: u16 length (1..WIRE_RAFT_REASON_MAX),
 *			printable ASCII (the
 *			metadata group's leader will not add the receiver)
 * A payload of another version is malformed: the caller decodes with the
 * version agreed with that peer.
 */
enum wire_raft_kind {
	WIRE_RAFT_MSG = 1,
	WIRE_RAFT_HAVE = 2,
	WIRE_RAFT_REFUSED = 3
};
#define WIRE_RAFT_V1		1
#define WIRE_RAFT_REASON_MAX	1024
/* Bytes of an entry's fixed part: term, index, type, data length. */
#define WIRE_RAFT_ENTRY_MIN	21

struct wire_raft {
	uint8_t		 kind;
	uint16_t	 group;		/* MSG */
	uint8_t		 have;		/* HAVE */
	struct str	 reason;	/* REFUSED */
	struct raft_msg	 msg;		/* MSG: views into the payload */
};

/* The most entries a payload may hold: size the caller's array. */
size_t	 wire_raft_max_entries(struct str);
/*
 * Decode a raft payload of protocol version v.  Entries go to ents (cap
 * of them; more is malformed), the configuration of a SNAP to *conf;
 * data are views into the payload.
 */
enum wire_status wire_raft_decode(struct str, int v, struct wire_raft *,
	    struct raft_entry *ents, size_t cap, struct raft_conf *conf);
/* Append the payload of a raft message or of a HAVE (version v). */
void	 wire_raft_msg_encode(struct buf *, int v, uint16_t group,
	    const struct raft_msg *);
void	 wire_raft_have_encode(struct buf *, int v, uint8_t have);
/* Append a REFUSED payload (the reason cut at WIRE_RAFT_REASON_MAX bytes,
 * made printable). */
void	 wire_raft_refused_encode(struct buf *, int v, const char *reason);

/*
 * Version agreement for one subsystem: the highest version both ranges
 * hold, 0 if a side does not speak it, -1 if both do and the ranges do
 * not overlap.
 */
int	 wire_agree(struct wire_range ours, struct wire_range theirs);

#endif
