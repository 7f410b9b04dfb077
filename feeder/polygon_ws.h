/* polygon_ws.h -- Polygon.io (Massive) live aggregates over WebSocket:
 * the frame parser and the connection state machine, both network-free.
 *
 * Parser. One server text frame is a JSON array of events (POLYGON.md
 * 3.3); status objects and aggregates (AM/A, XA/XAS, CA/CAS) may share a
 * frame. Each status and each valid bar goes to a handler; every other
 * event is skipped and counted by kind. A malformed frame never aborts
 * anything:
 *
 *   struct polygon_ws_counts n = { 0 };
 *   struct polygon_ws_handler h = { .status = on_status, .bar = on_bar,
 *                                   .arg = &state };
 *   polygon_ws_parse(text, len, POLYGON_WS_FRAME_MAX, &h, &n);
 *
 * State machine. polygon_ws_t drives one logical subscription across any
 * number of connections. It performs no I/O: the transport (libwebsockets
 * in the feeder, plain functions in the tests) is a table of callbacks,
 * and the transport reports back through polygon_ws_opened(), _frame(),
 * _activity() and _closed(). Time comes from the caller (monotonic ms):
 *
 *   CONNECTING --opened--> AWAIT_CONNECTED --connected--> AUTHENTICATING
 *     --auth_success--> SUBSCRIBING --acks or first bar--> STREAMING
 *   any state --closed, read deadline, transient status--> BACKOFF
 *   BACKOFF --tick past the retry time--> CONNECTING
 *   max_connections --> BACKOFF of at least cfg.kicked_backoff_ms
 *   auth_failed, every topic denied --> FAILED (fatal)
 *
 * `connected` and the auth answer are accepted in either order, and a
 * `success` status stands for `connected` ("Connected Successfully") or
 * for auth ("authenticated") as POLYGON.md 3.2 says. Every reconnect sends
 * auth and the full subscription again; when the stream is back, the
 * `resumed` callback gets the last bar time of each symbol so the feeder
 * can fetch the missed interval through REST.
 *
 * With cfg.all the subscription is CHANNEL.* (one topic: AM.* or A.*)
 * and each symbol is numbered through io.symbol when its first bar
 * comes. A long list is subscribed in several messages (at most
 * POLYGON_WS_SUB_MSGS of about POLYGON_WS_SUB_BYTES); every topic is
 * acknowledged on its own either way. */
#ifndef LT_FEEDER_POLYGON_WS_H
#define LT_FEEDER_POLYGON_WS_H

#include <stddef.h>
#include <stdint.h>

#include "msg_bar.h"

/* Largest frame the parser accepts. The official clients stop at 1 MB;
 * an AM.* batch at the top of the minute can be larger, so give room. */
#define POLYGON_WS_FRAME_MAX (8u << 20)
#define POLYGON_WS_TEXT_MAX 256     /* status and message strings kept */
/* A subscribe message's params: a longer list goes in several messages
 * (POLYGON.md gives no limit; the official clients' 1 MB frame cap is
 * far above this), each about this long, at most POLYGON_WS_SUB_MSGS of
 * them (longer ones then). */
#define POLYGON_WS_SUB_BYTES (64u << 10)
#define POLYGON_WS_SUB_MSGS 8

/* Fatal error codes of this module, beside the ERR_* codes of err.h. */
enum {
    POLYGON_WS_ERR_AUTH = -111,     /* auth_failed: bad or missing key */
    POLYGON_WS_ERR_PLAN = -112,     /* every topic refused (not authorized) */
    POLYGON_WS_ERR_RETRIES = -114   /* max_reconnects failed in a row */
};

/* ==== Parser ============================================================ */

/* Status kinds, normalised from "status" (and "message" for "success"). */
enum {
    PWS_ST_OTHER = 0,               /* a status this module does not know */
    PWS_ST_CONNECTED,               /* connected / success "Connected..." */
    PWS_ST_AUTH_SUCCESS,            /* auth_success / success "authenticated" */
    PWS_ST_AUTH_FAILED,
    PWS_ST_AUTH_TIMEOUT,
    PWS_ST_AUTH_REQUIRED,
    PWS_ST_SUBSCRIBED,              /* success "subscribed to: X" */
    PWS_ST_UNSUBSCRIBED,            /* success "unsubscribed to: X" */
    PWS_ST_SUCCESS,                 /* any other success */
    PWS_ST_ERROR,                   /* error, e.g. "not authorized" */
    PWS_ST_MAX_CONNECTIONS,
    PWS_ST_FORCE_DISCONNECT,
    PWS_ST_SLOW_CONSUMER,
    PWS_ST_KINDS
};

struct polygon_ws_status {
    int kind;                       /* PWS_ST_* */
    char status[POLYGON_WS_TEXT_MAX];   /* as sent, truncated */
    char message[POLYGON_WS_TEXT_MAX];  /* as sent, truncated; may be "" */
};

/* Why an event or a whole frame was skipped. */
enum {
    PWS_BAD_TOO_LARGE = 0,          /* frame over the cap (whole frame) */
    PWS_BAD_JSON,                   /* not JSON, truncated (whole frame) */
    PWS_BAD_NOT_ARRAY,              /* top level neither array nor object */
    PWS_BAD_NOT_OBJECT,             /* array element not an object */
    PWS_BAD_NO_EV,                  /* no string "ev" */
    PWS_BAD_UNKNOWN_EV,             /* ev neither status nor aggregate */
    PWS_BAD_MISSING,                /* a required key is absent */
    PWS_BAD_TYPE,                   /* a key has the wrong JSON type */
    PWS_BAD_VALUE,                  /* msg_bar_check() refused the bar */
    PWS_BAD_KINDS
};

struct polygon_ws_counts {
    uint64_t frames;                /* frames given to the parser */
    uint64_t events;                /* array elements seen */
    uint64_t statuses;              /* status events delivered */
    uint64_t bars;                  /* bars delivered */
    uint64_t bad[PWS_BAD_KINDS];    /* skipped, by PWS_BAD_* */
};

struct polygon_ws_handler {
    void (*status)(void *arg, const struct polygon_ws_status *st);
    void (*bar)(void *arg, const struct bar *b);
    void *arg;                      /* first argument of both; NULL ok */
};

/* Parses one text frame of `len` bytes (need not be NUL-terminated) and
 * calls h->status / h->bar (either may be NULL) for each good event, in
 * frame order. Aggregates are AM/A (stocks, indices: symbol in "sym"),
 * XA/XAS (crypto) and CA/CAS (forex: symbol in "pair"). Bars have src
 * "polygon", sym as sent, t = "s", tf 60 (AM, XA, CA) or 1 (A, XAS, CAS),
 * vol = "v" (or "dv"; index values, sym "I:...", have none: 0),
 * vw = "vw" (NaN if absent), n = -1 (WS bars carry no trade
 * count; "z" is the average trade size), seq = pub = 0; they passed
 * msg_bar_check(). A lone object is taken as a one-event frame. Counts are
 * added to *c. Returns the number of events delivered, or ERR_TOO_LARGE
 * (len > max_len) or ERR_PARSE (not JSON / not a batch) for the frame. */
int polygon_ws_parse(const char *data, size_t len, size_t max_len,
                     const struct polygon_ws_handler *h,
                     struct polygon_ws_counts *c);

/* The library's own copy of aggregate event name `ev` ("AM", "A", "XA",
 * "XAS", "CA", "CAS"), or NULL if it is none; its bar length in seconds
 * (0 if none). */
const char *polygon_ws_agg(const char *ev);
int64_t polygon_ws_agg_tf(const char *ev);

const char *polygon_ws_status_name(int kind);   /* "connected", ... */
const char *polygon_ws_bad_name(int kind);      /* "json", "missing", ... */

/* ==== State machine ===================================================== */

enum {
    PWS_CONNECTING = 0,             /* transport opening */
    PWS_AWAIT_CONNECTED,            /* open, waiting for `connected` */
    PWS_AUTHENTICATING,             /* auth sent */
    PWS_SUBSCRIBING,                /* subscribe sent, acks pending */
    PWS_STREAMING,                  /* bars flowing */
    PWS_BACKOFF,                    /* closed, waiting to reconnect */
    PWS_FAILED,                     /* fatal; see polygon_ws_error() */
    PWS_STOPPED                     /* polygon_ws_stop() */
};

/* What the state machine asks of the transport and reports to the feeder.
 * connect, send and close are required; the rest may be NULL. */
struct polygon_ws_io {
    /* Starts opening a new connection; its outcome is reported later by
     * polygon_ws_opened() or polygon_ws_closed(). 0, or an ERR_* code
     * (treated like a failed connection). */
    int (*connect)(void *arg);
    /* Queues one text message. 0 or an ERR_* code (the connection is
     * then dropped). */
    int (*send)(void *arg, const char *text, size_t len);
    /* Drops the current connection. The transport must not report this
     * connection's close through polygon_ws_closed() afterwards (a call
     * made from inside close() is ignored). */
    void (*close)(void *arg);
    /* A valid bar of symbol number `sym` (index in cfg.symbols, or the
     * number `symbol` gave it). */
    void (*bar)(void *arg, int sym, const struct bar *b);
    /* Streaming again after a reconnect: last_t[i] is the start of the
     * last bar of symbol i seen so far (-1: none). Called once per
     * reconnect, when the new subscription is acknowledged (or its first
     * bar arrives), before any bar of the new connection. */
    void (*resumed)(void *arg, const int64_t *last_t, int nsym);
    /* The state changed (logging, metrics). */
    void (*state)(void *arg, int from, int to);
    void *arg;                      /* first argument of all of them */
    /* With cfg.all: the number of a symbol not listed, each time a bar
     * of it comes (the same name, the same number; new names go on after
     * the listed symbols, in order of appearance); < 0: its bars are
     * skipped (unknown_sym). Required with cfg.all. */
    int (*symbol)(void *arg, const char *name);
};

struct polygon_ws_cfg {
    const char *api_key;            /* required; copied */
    const char *const *symbols;     /* valid symbols; copied */
    int nsym;                       /* 1.. (0.. with all); entries */
    int all;                        /* subscribe CHANNEL.* (every symbol),
                                       numbered through io.symbol */
    const char *channel;            /* aggregate event subscribed: "AM"
                                       (default), "A", "XA", "XAS", "CA"
                                       or "CAS" */
    /* Writes the key a symbol is matched by in out[SYM_MAX], so that
     * events may spell a subscribed symbol another way (EUR-USD for
     * EUR/USD); NULL: the symbol itself. */
    void (*key)(const char *sym, char *out);
    int auth_on_open;               /* 1: send auth before `connected` */
    int64_t handshake_ms;           /* open -> streaming limit per try */
    int64_t read_timeout_ms;        /* streaming: no frame -> reconnect */
    int64_t backoff_base_ms;        /* first backoff, doubled per failure */
    int64_t backoff_max_ms;         /* cap of one backoff */
    int64_t kicked_backoff_ms;      /* least wait after max_connections */
    int64_t stable_ms;              /* streaming this long resets backoff */
    int max_reconnects;             /* failed tries in a row; 0: no limit */
    uint64_t seed;                  /* jitter; 0: from the OS */
};

struct polygon_ws_stats {
    uint64_t connects;              /* connect() calls */
    uint64_t reconnects;            /* connects after the first */
    uint64_t timeouts;              /* handshake or read deadline hits */
    uint64_t unknown_sym;           /* bars of a symbol not subscribed */
    uint64_t wrong_channel;         /* second bars on a minute link or
                                       the reverse: skipped */
    uint64_t kicked;                /* max_connections statuses */
    uint64_t late_status;           /* statuses out of place, ignored */
    struct polygon_ws_counts parse; /* parser counters, all frames */
};

typedef struct polygon_ws polygon_ws_t;

/* Defaults: channel AM, handshake 15 s, read timeout 30 s (the Go
 * client's read deadline), backoff 500 ms .. 30 s, no retry limit, 60 s
 * after max_connections. The backoff grows across links that are dropped
 * before their first bar and before 60 s of streaming (stable_ms). */
void polygon_ws_cfg_defaults(struct polygon_ws_cfg *cfg);

/* Validates cfg and copies it and *io. Returns NULL with a reason in
 * err[ERR_LEN]. Nothing happens until polygon_ws_start(). */
polygon_ws_t *polygon_ws_new(const struct polygon_ws_cfg *cfg,
                             const struct polygon_ws_io *io, char *err);
void polygon_ws_destroy(polygon_ws_t **self_p);

/* First connect() at time `now_ms`. 0, or the code of a fatal state. */
int polygon_ws_start(polygon_ws_t *self, int64_t now_ms);
/* Closes the connection if any and stops for good. */
void polygon_ws_stop(polygon_ws_t *self);

/* Transport events. */
void polygon_ws_opened(polygon_ws_t *self, int64_t now_ms);
void polygon_ws_frame(polygon_ws_t *self, const char *data, size_t len,
                      int64_t now_ms);
void polygon_ws_activity(polygon_ws_t *self, int64_t now_ms);  /* pong */
void polygon_ws_closed(polygon_ws_t *self, int64_t now_ms);

/* Deadlines and reconnects; call at least every few hundred ms. */
void polygon_ws_tick(polygon_ws_t *self, int64_t now_ms);
/* Milliseconds until the next deadline from `now_ms` (-1: none). */
int64_t polygon_ws_next_ms(const polygon_ws_t *self, int64_t now_ms);

int polygon_ws_state(const polygon_ws_t *self);
const char *polygon_ws_state_name(int state);
/* 0, or the fatal code with its reason in *msg (static until destroy). */
int polygon_ws_error(const polygon_ws_t *self, const char **msg);
/* Symbols numbered: cfg.nsym, and those io.symbol gave with cfg.all. */
int polygon_ws_nsym(const polygon_ws_t *self);
/* Start of the last bar of symbol number `sym` (-1: none yet). */
int64_t polygon_ws_last_bar(const polygon_ws_t *self, int sym);
const struct polygon_ws_stats *polygon_ws_stats(const polygon_ws_t *self);

#endif
