/* web_http.h -- the web output's server: one libwebsockets vhost that
 * serves the dashboard's files over HTTP and live updates over a
 * WebSocket on the same port, serviced from the sink's event loop.
 *
 *   struct web_http_cfg cfg = { "127.0.0.1", 8080, assets, NULL, ... };
 *   web_http_t *h = web_http_new(&cfg, err);      listens
 *   web_http_service(h);                          from a loop timer
 *   web_http_broadcast(h, m, part);               to every client
 *   web_http_destroy(&h);
 *
 * Messages are JSON text, shared between clients by reference count. A
 * new client first gets the snapshot, built part by part as it is ready
 * to write (cfg.snapshot(arg, i) for i = 0, 1, ... until NULL); a live
 * message for a part the client has not had yet is skipped, since the
 * part, built later, includes it.
 *
 * Each client's queue is bounded (WEB_CLIENT_QUEUE messages and
 * WEB_CLIENT_BYTES bytes). A client that fills it but still reads (a burst
 * of bars) starts over from a fresh snapshot; one that reads nothing for
 * WEB_STALL_MS, or fills it again before reading anything, is dropped
 * with one log line. A stalled browser never holds the sink up.
 *
 * Files: only the dashboard's (index.html, app.js, style.css and the
 * chart library) are served, from cfg.assets; anything else is 404.
 * With a token, every request must carry it (?token=, the lt_token
 * cookie the page sets, or "Authorization: Bearer"): else 401. A
 * WebSocket whose Origin is another site than its Host is refused (403).
 * Without a token, a request (HTTP or WebSocket) whose Host is not
 * 127.0.0.1, localhost or [::1] on cfg.port is refused (403): DNS
 * rebinding.
 * Messages from browsers: {"type":"ping"} is answered with a pong;
 * anything else is ignored and counted. */
#ifndef LT_SINK_WEB_HTTP_H
#define LT_SINK_WEB_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define WEB_CLIENT_QUEUE 16384      /* live messages queued per client:
                                       above what one loop round brings */
#define WEB_CLIENT_BYTES (32u << 20) /* ... and their bytes */
#define WEB_CLIENTS_MAX 64          /* WebSocket clients at once */
#define WEB_STALL_MS 10000          /* reading nothing this long: dropped */
#define WEB_RX_MAX 4096             /* largest message taken from a browser */

/* A message: LWS_PRE bytes of headroom, then len bytes of JSON. */
struct web_msg {
    int refs;                       /* clients holding it + the maker */
    size_t len;
    unsigned char *data;            /* the JSON, after the headroom */
    unsigned char buf[];            /* headroom + JSON */
};

/* A message with a copy of json[len]; refs 1. NULL when out of memory. */
struct web_msg *web_msg_new(const char *json, size_t len);
void web_msg_unref(struct web_msg **m_p);

struct web_http_stats {
    uint64_t requests;              /* HTTP requests answered */
    uint64_t unauthorized;          /* ... with 401 */
    uint64_t bad_host;              /* ... with 403: Host not loopback */
    uint64_t clients;               /* WebSocket clients accepted */
    uint64_t dropped;               /* ... dropped as too slow */
    uint64_t resyncs;               /* ... sent a fresh snapshot */
    uint64_t rejected;              /* ... refused (too many, Origin) */
    uint64_t rx_bad;                /* browser messages ignored */
    uint64_t rx_ok;                 /* ... understood */
    int connected;                  /* clients now */
};

struct web_http_cfg {
    const char *host;               /* IPv4 address to bind, or NULL: all */
    int port;
    const char *assets;             /* directory with index.html */
    const char *token;              /* required when not NULL */
    /* Part `i` of the snapshot for a new client, or NULL past the last
     * part. Returned with a reference for the caller. */
    struct web_msg *(*snapshot)(void *arg, size_t i);
    void *arg;
};

typedef struct web_http web_http_t;

/* Starts listening. NULL with a reason in err[ERR_LEN] (port in use,
 * bad address). `cfg`'s strings must outlive the server. */
web_http_t *web_http_new(const struct web_http_cfg *cfg, char *err);
/* Closes every connection and the listener. Idempotent. */
void web_http_destroy(web_http_t **self_p);

/* Runs lws without waiting: accepts, reads, writes. */
void web_http_service(web_http_t *self);
/* Queues `m` for every client that has had snapshot part `part`. */
void web_http_broadcast(web_http_t *self, struct web_msg *m, size_t part);

const struct web_http_stats *web_http_stats(const web_http_t *self);

/* 1 if the strings are equal, in time that does not depend on where
 * they differ. */
int web_token_equal(const char *a, const char *b);

#endif
