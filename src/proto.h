/*
 * proto.h: MQTT dispatch: decoded packets to actions, and the only map
 * from errors to reason codes.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt.h"

struct conn;
struct qitem;
struct session;

/*
 * Decode and act on as many whole packets as p[0..len) holds; returns the
 * bytes consumed.  Stops early when the connection closes, pauses or is
 * handed to another worker (then *handoff is set).
 */
size_t	 proto_input(struct conn *, const uint8_t *, size_t, bool *handoff);
/* Encode a PUBLISH for a queued item into the conn; false if over the
 * client's Maximum Packet Size (the caller drops and counts it). */
bool	 proto_send_publish(struct conn *, struct qitem *, bool dup);
void	 proto_send_pubrel(struct conn *, uint16_t pid);
/* Send DISCONNECT (v5 only) with rc, then close. */
void	 proto_disconnect(struct conn *, uint8_t rc, const char *why);
/* Free what proto keeps in a conn (topic aliases); conn.c calls it. */
void	 proto_conn_free(struct conn *);
/* Hand-off arrived: process the CONNECT in the adopted conn's rx. */
void	 proto_adopted(struct conn *);

#endif
