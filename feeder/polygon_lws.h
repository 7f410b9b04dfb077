/* polygon_lws.h -- the libwebsockets transport of polygon_ws: one client
 * connection at a time to a ws:// or wss:// URL, serviced from the
 * feeder's event loop.
 *
 *   struct polygon_lws_events ev = { .opened = ..., .frame = ...,
 *                                    .closed = ..., .arg = ... };
 *   polygon_lws_t *t = polygon_lws_new(url, ca_file, &ev, err);
 *   polygon_lws_connect(t);          outcome: opened() or closed()
 *   polygon_lws_send(t, text, len);  queued, written when writable
 *   polygon_lws_service(t);          from a loop timer; never blocks
 *   polygon_lws_close(t);            no closed() for this connection
 *   polygon_lws_destroy(&t);
 *
 * Integration: lws_service() in 4.1 ignores its timeout and sleeps in
 * poll() until lws has work, unless the timeout is negative, which makes
 * that poll() return at once. polygon_lws_service() uses that, so a loop
 * timer of a few ms services the connection without a second thread and
 * without sharing state. The events are called from inside
 * polygon_lws_service() (and never from inside connect/send/close).
 *
 * While a connection is open, a ping goes out every POLYGON_LWS_PING_MS
 * (or the interval given to polygon_lws_set_ping());
 * each pong is reported through activity(), so the state machine's read
 * deadline holds on a quiet but healthy connection (markets closed).
 *
 * Messages are reassembled from their fragments (lws_is_final_fragment
 * and lws_remaining_packet_payload) up to POLYGON_LWS_MSG_MAX bytes. A
 * longer message is not kept: the rest of it is read and skipped, and
 * at its end it is reported as frame(arg, NULL, its length) -- a length
 * over POLYGON_LWS_MSG_MAX, for the receiver to count and log as too
 * large; the connection stays up. */
#ifndef LT_FEEDER_POLYGON_LWS_H
#define LT_FEEDER_POLYGON_LWS_H

#include <stddef.h>

#define POLYGON_LWS_MSG_MAX (8u << 20)  /* one reassembled message */
#define POLYGON_LWS_OUT_MAX 16          /* queued outgoing messages */
#define POLYGON_LWS_PING_MS 10000       /* keepalive ping interval */

struct polygon_lws_events {
    void (*opened)(void *arg);                  /* handshake done */
    void (*frame)(void *arg, const char *data, size_t len); /* message;
                                   data NULL: skipped, len over the cap */
    void (*closed)(void *arg);                  /* failed or closed */
    void (*activity)(void *arg);                /* a pong; may be NULL */
    void *arg;                                  /* first argument */
};

typedef struct polygon_lws polygon_lws_t;

/* A transport for `url` (ws:// or wss://host[:port]/path). ca_file: a CA
 * bundle for wss://, or NULL for the system's. NULL with a reason in
 * err[ERR_LEN] on a bad URL or if lws cannot start. */
polygon_lws_t *polygon_lws_new(const char *url, const char *ca_file,
                               const struct polygon_lws_events *ev,
                               char *err);
void polygon_lws_destroy(polygon_lws_t **self_p);

/* Starts a connection (dropping any current one silently). 0, or an
 * ERR_* code if it could not even start. */
int polygon_lws_connect(polygon_lws_t *self);
/* Queues one text message on the current connection. 0, ERR_IO (no
 * connection), ERR_TOO_LARGE (queue full) or ERR_NOMEM. */
int polygon_lws_send(polygon_lws_t *self, const char *text, size_t len);
/* Drops the current connection; its close is not reported. */
void polygon_lws_close(polygon_lws_t *self);
/* The keepalive ping interval, ms (> 0). */
void polygon_lws_set_ping(polygon_lws_t *self, int64_t ms);
/* Runs lws once without waiting: reads, writes, timers. */
void polygon_lws_service(polygon_lws_t *self);

#endif
