/* bus.h -- livetrade's ZeroMQ bus: topics, publishers with sequence
 * numbers and heartbeats, subscribers with gap and restart detection, and
 * the request/reply endpoint (history, status).
 *
 * Every message is two frames: a topic and one msgpack map. Topics are
 *   "bar|SYM|"   bars for SYM         "sig|SYM|"   signals for SYM
 *   "hb|"        publisher heartbeat  "ind|SYM|"   indicator values
 * The closing '|' cannot occur in a symbol, so a subscription to
 * "bar|AAPL|" never matches "bar|AAPLX|" or "bar|AAPL.B|".
 *
 * Publishers bind an XPUB socket with ZMQ_XPUB_NODROP: a slow subscriber
 * pushes back for up to BUS_SEND_TIMEOUT_MS instead of losing messages
 * silently; past that the message is dropped, counted and logged (and for
 * BUS_STALL_MS the next ones are dropped without waiting, so the process
 * keeps serving its requests), and
 * subscribers see the gap in `seq` and recover through the request
 * endpoint. */
#ifndef LT_BUS_H
#define LT_BUS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "mp.h"
#include "util.h"

#define BUS_TOPIC_MAX 48
#define BUS_HWM 200000              /* messages queued per peer */
#define BUS_SEND_TIMEOUT_MS 2000    /* push-back limit before a drop */
#define BUS_HEARTBEAT_MS 1000       /* heartbeat when idle this long */
#define BUS_STALL_MS 5000           /* after a timed-out send: drops are
                                       immediate for this long */
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
    uint64_t sent, dropped;         /* counters */
    int64_t stalled_until;          /* mono ms: sends do not wait */
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
/* Sends sb's content under topic, then clears sb. 0 or -1 (dropped). */
int bus_pub_send(struct bus_pub *p, const char *topic);
/* Sends sb's content under topic without ever waiting: 1 if a subscriber
 * is full (sb is kept for another try), else as bus_pub_send() (while
 * stalled a full subscriber means a drop, -1). For a source that can hold
 * its next message back (a pull source) and go on serving requests. */
int bus_pub_try_send(struct bus_pub *p, const char *topic);
/* Gives up on a message bus_pub_try_send() could not send for
 * BUS_SEND_TIMEOUT_MS: counted and logged as dropped, sb cleared, and a
 * stalled period begins, as after a timed-out bus_pub_send(). */
void bus_pub_give_up(struct bus_pub *p, const char *topic);
/* Sends sb's content under topic as a side message: not part of the
 * stream (no counters, no effect on heartbeats or stalls) and never
 * waiting -- dropped at once (-1) if a subscriber it goes to is full.
 * Clears sb. 0 or -1. */
int bus_pub_send_side(struct bus_pub *p, const char *topic);
/* 1 while a subscriber is stalled (a send timed out less than
 * BUS_STALL_MS ago): a source that can wait should not generate now. */
int bus_pub_stalled(const struct bus_pub *p);
/* Sends a heartbeat if nothing was sent for BUS_HEARTBEAT_MS. `seq` is the
 * last sequence number of a single-stream publisher (0 otherwise). */
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
 * on a fresh REQ socket (so a lost reply never wedges the client). On
 * success returns 0 and the reply in *reply (caller frees with free());
 * else ERR_TIMEOUT or ERR_IO. */
int bus_request(const char *endpoint, int peer, const msgpack_sbuffer *req,
                int timeout_ms, char **reply, size_t *reply_len, char *err);

/* bus_request() of {ver:1, type:"status"}, the request every program
 * answers on its request endpoint. */
int bus_request_status(const char *endpoint, int peer, int timeout_ms,
                       char **reply, size_t *reply_len, char *err);
/* While bus_request() waits for a reply, fn(arg) is called whenever
 * `sock` is readable: a process that must keep reading a subscription
 * meanwhile (an engine, whose feeders would otherwise be pushed back while
 * they are the ones to answer) sets it once. NULL sock: none. */
typedef void (bus_pump_fn)(void *arg);
void bus_request_pump(void *sock, bus_pump_fn *fn, void *arg);

/* Socket options for sockets made outside this module: an int option
 * (`what` names it in the message), and ZMQ_MAXMSGSIZE (an int64_t). 0,
 * or -1 with one line in err[ERR_LEN]. */
int bus_set_int(void *s, int opt, const char *what, int v, char *err);
int bus_set_maxmsg(void *s, int64_t v, char *err);

#endif
