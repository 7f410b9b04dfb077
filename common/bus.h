/* bus.h -- livetrade's ZeroMQ bus: topics, publishers with sequence
 * numbers and heartbeats, subscribers with gap and restart detection, and
 * the request/reply endpoint (history, status).
 *
 * Every message is two frames: a topic and one msgpack map. Topics are
 *   "bar|SYM|"   bars for SYM         "sig|SYM|"   signals for SYM
 *   "hb|"        publisher heartbeat  "ind|SYM|"   indicator values
 *   "pace|"      subscribed to by a reader a demo or csv feeder paces
 *                itself to (an engine, the web sink's chart); rarely
 *                sent, carries nothing
 * The closing '|' cannot occur in a symbol, so a subscription to
 * "bar|AAPL|" never matches "bar|AAPLX|" or "bar|AAPL.B|".
 *
 * Publishers bind an XPUB socket with ZMQ_XPUB_NODROP and never wait in a
 * send: a message that finds a subscriber full goes to the others, and
 * the full one is left behind (ZeroMQ leaves it out until it has read
 * half its queue); it sees the gap in `seq` and recovers through the
 * request endpoint. One subscriber that stops reading therefore never
 * slows the others. A pull source (demo, csv) paces itself to the
 * subscribers of "pace|" (engines, charts) instead: it holds a message
 * back while one of them is full, for at most BUS_SEND_TIMEOUT_MS, then
 * leaves that one behind; any other full subscriber is left behind at
 * once. */
#ifndef LT_BUS_H
#define LT_BUS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "mp.h"
#include "util.h"

#define BUS_TOPIC_MAX 48
#define BUS_PACE_KIND "pace"        /* topic kind of pacing subscribers */
#define BUS_HWM 50000               /* messages queued per peer */
#define BUS_PACE_HWM 10000          /* the same for a pacing publisher:
                                       a full subscriber has room again
                                       once it has read half of it */
#define BUS_SEND_TIMEOUT_MS 5000    /* longest a pull source holds a
                                       message back for a full engine
                                       (a subscriber of pace|) */
#define BUS_HEARTBEAT_MS 1000       /* heartbeat when idle this long */
#define BUS_MAX_BODY (64u << 20)    /* largest body accepted (history) */
#define BUS_MAX_REQUEST (64u << 10) /* largest request a server takes:
                                       a larger one closes its connection
                                       before it is read */
#define BUS_MAX_REPLY (4u << 20)    /* reply bytes a server builds, about:
                                       longer answers are cut (history
                                       pages on) */
#define BUS_ROUTER_SNDHWM 4         /* replies queued per client */
#define BUS_ROUTER_RCVHWM 16        /* requests queued per client */
#define BUS_REQ_BATCH 64            /* requests a server answers before it
                                       turns to its other work */

/* The process-wide ZeroMQ context (created on first use). */
void *bus_ctx(void);
/* Closes every socket's context; call once at exit after closing them. */
void bus_term(void);

/* Writes "kind|sym|" (or "kind|" when sym is NULL) into buf. */
void bus_topic(char *buf, const char *kind, const char *sym);

/* The kinds of topic on the bus (see the README's wire protocol). */
enum bus_kind {
    BUS_K_BAR,                      /* bar|SYM| */
    BUS_K_SIG,                      /* sig|SYM| */
    BUS_K_IND,                      /* ind|SYM| */
    BUS_K_HB,                       /* hb| */
    BUS_K_PACE,                     /* pace| */
    BUS_K_OTHER                     /* anything else */
};

/* A topic read back: its kind and, for bar, sig and ind, its symbol. */
struct bus_topic_of {
    enum bus_kind kind;
    char sym[SYM_MAX];
};

/* Parses a topic the way bus_topic() writes it. 0, or -1 (t->kind still
 * says which kind it claimed to be, BUS_K_OTHER when none) for a topic
 * that is not one of the kinds above, written right: "bar|AAPL|",
 * "hb|"; a symbol is 1 to SYM_MAX - 1 bytes without '|'. */
int bus_topic_parse(const char *topic, struct bus_topic_of *t);

/* A heartbeat on "hb|" (bus_pub_tick() writes it):
 * {ver:1, type:"hb", src, pub, seq, ts}: publisher `src`, its instance,
 * the newest seq it published, its clock. */
struct bus_hb {
    char src[64];
    uint64_t pub, seq;
    int64_t ts;
};

/* Reads a decoded heartbeat. 0, or -1 if it is not one of the right
 * shape. */
int bus_hb_parse(const msgpack_object *o, struct bus_hb *hb);

/* The role of the program a socket connects to: with CURVE its server
 * key is that role's (curve.h). */
enum bus_role { BUS_FEEDER = 1, BUS_ENGINE = 2 };

/* Socket set-up. Each returns NULL and fills err[ERR_LEN] on failure.
 * Endpoints lists are comma-separated; `peer` is an enum bus_role. */
void *bus_bind_pub(const char *endpoint, char *err);       /* XPUB */
void *bus_connect_sub(const char *endpoints, int peer, char *err); /* SUB */
void *bus_bind_router(const char *endpoint, char *err);    /* ROUTER */
int bus_subscribe(void *sub, const char *kind, const char *sym);
void bus_close(void **sock);        /* linger 0 for SUB, short for PUB */

/* A publishing stream: one XPUB socket, one instance id, heartbeats. */
struct bus_pub {
    void *sock;                     /* XPUB */
    char name[64];                  /* source or engine id in heartbeats */
    uint64_t instance;              /* random per start, 53 bits */
    msgpack_sbuffer sb;             /* reused for every body */
    msgpack_packer pk;              /* packs into sb */
    int64_t last_send;              /* mono ms of the last message */
    uint64_t sent;                  /* messages published */
    uint64_t dropped;               /* times a full subscriber was left
                                       behind (it misses that message
                                       and the next ones until it has
                                       read half its queue) */
    int subscribers;                /* subscriptions seen (XPUB_VERBOSER):
                                       each subscriber's topics count */
    const char *side_kind;          /* topic kind of side messages
                                       ("ind|"), set by the owner; NULL:
                                       none */
    int side_subs;                  /* subscriptions that match it */
};

int bus_pub_init(struct bus_pub *p, const char *endpoint, const char *name,
                 char *err);
void bus_pub_free(struct bus_pub *p);
/* bus_pub_init() of a pacing publisher: each subscriber's queue at the
 * publisher holds BUS_PACE_HWM messages, so one that reads again soon has
 * room again soon (bus_pub_try_send()). */
int bus_pub_init_paced(struct bus_pub *p, const char *endpoint,
                       const char *name, char *err);
/* Sends sb's content under topic without waiting, then clears sb: to
 * every subscriber with room; a full one is left behind (counted in
 * dropped, logged). 0, or -1 if the socket refused the message. */
int bus_pub_send(struct bus_pub *p, const char *topic);
/* As bus_pub_send(), but a full subscriber of "pace|" holds the message
 * back: 1 (sb is kept for another try), for a source that can pace itself
 * (a pull source) and go on serving requests meanwhile. Any other full
 * subscriber is left behind as by bus_pub_send(). */
int bus_pub_try_send(struct bus_pub *p, const char *topic);
/* Sends a message bus_pub_try_send() held back for BUS_SEND_TIMEOUT_MS
 * to every subscriber with room, leaving the full ones behind. As
 * bus_pub_send(). */
int bus_pub_give_up(struct bus_pub *p, const char *topic);
/* Sends sb's content under topic as a side message: not part of the
 * stream (no counters, no effect on heartbeats or stalls) and never
 * waiting -- dropped at once (-1) if a subscriber it goes to is full.
 * Clears sb. 0 or -1. */
int bus_pub_send_side(struct bus_pub *p, const char *topic);
/* Sends a heartbeat if nothing was sent for BUS_HEARTBEAT_MS. `seq` is the
 * last sequence number of a single-stream publisher (0 otherwise). A
 * subscriber that is full is left behind, as by bus_pub_send(). */
void bus_pub_tick(struct bus_pub *p, uint64_t seq);
/* Reads pending (un)subscription messages from the XPUB socket and counts
 * subscriptions whose topic starts with `kind` (NULL: all but "hb|") in
 * p->subscribers, and those that match some topic starting with
 * p->side_kind in p->side_subs. A subscriber leaving takes its
 * subscriptions with it. (A subscriber that subscribes to one topic
 * twice counts twice but leaves once: counts err towards publishing.) */
void bus_pub_read_subs(struct bus_pub *p, const char *kind);

/* Receives one two-frame message without blocking. Returns the body
 * length (>= 0), -1 if nothing was waiting, -2 for a malformed message
 * (wrong frame count, oversized); the topic is NUL-terminated. The body
 * points into `msg`, which the caller closes with zmq_msg_close. */
int bus_recv(void *sock, char *topic, size_t tn, zmq_msg_t *msg);

/* Sequence tracking on the subscriber side, one entry per stream key
 * (a symbol for bars, an engine id for signals). */
enum { TRACK_OK = 0, TRACK_FIRST, TRACK_GAP, TRACK_RESTART, TRACK_OLD };

struct bus_track_entry {
    char key[64];
    uint64_t pub;                   /* publisher instance last seen */
    uint64_t seq;                   /* last sequence number seen */
};

struct bus_track {
    struct bus_track_entry *e;      /* open-addressing table */
    size_t cap, n;
    uint64_t gaps, missed, restarts, old;   /* counters */
};

void bus_track_init(struct bus_track *t);
void bus_track_free(struct bus_track *t);
/* Records (pub, seq) for key. Returns TRACK_* and, for a gap, the number
 * of missing messages in *missing. Logs gaps and restarts. */
int bus_track_see(struct bus_track *t, const char *key, uint64_t pub,
                  uint64_t seq, uint64_t *missing);

/* Request/reply. Servers bind a ROUTER; clients send one msgpack map with
 * a "type" key (an empty delimiter frame first, so ZMQ_REQ clients work
 * too) and get one map back. */
/* Server side: receives a request (non-blocking). Returns the body length,
 * -1 if none. The peer identity is kept for bus_reply. */
int bus_router_recv(void *router, zmq_msg_t *idmsg, zmq_msg_t *bodymsg);
/* Replies to the peer whose identity is in idmsg, with sb's content,
 * without waiting. -1 when the reply is dropped: the peer is gone, or
 * already has BUS_ROUTER_SNDHWM replies it has not read (the caller
 * counts these). */
int bus_router_reply(void *router, zmq_msg_t *idmsg,
                     const msgpack_sbuffer *sb);

/* Client side: one request to a `peer` (enum bus_role) with a timeout,
 * on a fresh REQ socket (so a lost reply never wedges the client); it
 * waits, so it is for the command line and threads of their own (a loop
 * asks through request.h). On
 * success returns 0 and the reply in *reply (caller frees with free());
 * else ERR_TIMEOUT or ERR_IO. */
int bus_request(const char *endpoint, int peer, const msgpack_sbuffer *req,
                int timeout_ms, char **reply, size_t *reply_len, char *err);

/* bus_request() of {ver:1, type:"status"} (msg_status.h). */
int bus_request_status(const char *endpoint, int peer, int timeout_ms,
                       char **reply, size_t *reply_len, char *err);
/* Socket options for sockets made outside this module: an int option
 * (`what` names it in the message), and ZMQ_MAXMSGSIZE (an int64_t). 0,
 * or -1 with one line in err[ERR_LEN]. */
int bus_set_int(void *s, int opt, const char *what, int v, char *err);
int bus_set_maxmsg(void *s, int64_t v, char *err);

#endif
