/*
 * ws.h: MQTT over WebSocket (RFC 6455) for ws and wss listeners, behind
 * the transport vtable of conn.h.
 *
 * The HTTP/1.1 upgrade (path websocket.mqtt_path, subprotocol mqtt or
 * mqttv3.1) and the frames run over conn_lower_read/write, so over TLS for
 * wss.  read returns the payload of binary frames as a byte stream (MQTT
 * packets may span frames, and a frame may hold several); write sends
 * binary frames.  A connection's state is a struct ws_conn in c->ws,
 * moved with the conn on a hand-off.
 */
#ifndef WS_H
#define WS_H

struct conn;
struct conn_transport;

extern const struct conn_transport ws_transport;

/* Start WebSocket on an accepted conn of a ws or wss listener. */
void	 ws_attach(struct conn *);
/* Free c->ws (NULL is fine); sets it NULL. */
void	 ws_free(struct conn *);

#endif
