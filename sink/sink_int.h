/* sink_int.h -- the sink pipeline's state, shared by sink.c (signals,
 * heartbeats, state) and replay.c (engines' journals and status).
 *
 * Each message from the bus is checked and tracked at once (sink.c), then
 * decided on: written, dropped, or first the engine's journal is read
 * (a replay). Replays and status requests go out through the request
 * client (request.h) and never stop the loop: while one engine's journal
 * is read, what that engine publishes live is held back, in order, and
 * decided on once the replay has ended; other engines' signals and every
 * other output go on meanwhile. */
#ifndef LT_SINK_INT_H
#define LT_SINK_INT_H

#include "bus.h"
#include "loop.h"
#include "request.h"
#include "dedup.h"
#include "log.h"
#include "mp.h"
#include "sink.h"
#include "state.h"

#define REPLAY_TIMEOUT_MS 5000      /* one replay request */
#define STATUS_TIMEOUT_MS 2000      /* one status request (engine id) */
#define RETRY_MS 30000              /* an endpoint that did not answer */
#define REPLAY_PAGES 10000          /* pages in one catch-up, at most */
#define ENDPOINTS_MAX REQUEST_ENDPOINTS_MAX
#define PENDING_MAX 128             /* engines being replayed at once */
#define HELD_MAX 4096               /* live messages held per engine while
                                       its journal is read; more are
                                       dropped and read from the journal
                                       afterwards */

/* An engine's request endpoint and, once it answered, its id. */
struct endpoint {
    char ep[256];
    char eng[64];                   /* "" until known */
    int64_t next_try;               /* mono ms: after no answer, wait */
    int has_run;                    /* the status said pub, seq0, signals */
    uint64_t pub;                   /* the instance that answered */
    uint64_t seq0;                  /* its signals are seq0+1, seq0+2... */
    uint64_t last;                  /* its newest signal then */
    uint64_t taken;                 /* newest seq read from its journal
                                       since it answered as `pub` */
    int asking;                     /* a status request in flight */
    int catch_up;                   /* sink_catch_up once it answers */
};

/* A live message held back, or about to be decided on. */
enum { HELD_SIGNAL = 1, HELD_HB, HELD_WRITE };
struct held {
    int kind;                       /* HELD_*; HELD_WRITE: a signal whose
                                       replay is done, to be written */
    int first;                      /* a new engine instance */
    int track;                      /* TRACK_* of a signal */
    struct signal s;                /* a signal */
    char src[64];                   /* a heartbeat's engine */
    uint64_t pub, seq;              /* its instance and newest seq */
};

/* An engine whose journal is being read (a job) and what it published
 * live meanwhile (held). A slot is free when eng is "". */
enum { JOB_REPLAY = 1, JOB_NEW };
enum { STEP_FIND = 1, STEP_ASK, STEP_PAGE };
struct pending {
    char eng[64];
    int busy;                       /* the job runs */
    int draining;                   /* its held messages are decided on */
    int overflow;                   /* held ones were dropped (HELD_MAX) */
    /* the job */
    int kind;                       /* JOB_* */
    int step;                       /* STEP_*: what it waits for */
    struct endpoint *e;             /* the engine's endpoint, once found */
    uint64_t pub;                   /* JOB_NEW: the instance heard of */
    uint64_t from, after, upto;     /* seqs: start, reached, end */
    int64_t since_ts;               /* >= 0: from that wall ms on */
    int whole;                      /* see replay.c, s_page */
    int page;                       /* pages asked */
    int ended;                      /* the last page came, or none will */
    int stop;                       /* 1 past upto, 2 output gone */
    int answered;                   /* the engine answered a page */
    uint64_t replayed;              /* signals taken by this job */
    /* the held messages, oldest first: q[head .. n-1] */
    struct held *q;
    size_t head, n, cap;
};

/* --since (sink_since) */
enum { SINCE_RUN, SINCE_START, SINCE_ALL, SINCE_TS };

struct sink {
    const struct sink_ops *ops;     /* the output */
    void *state;                    /* its state (borrowed) */
    int track_gaps;                 /* 0: restarts only (symbol filter) */
    struct mp_body body;            /* reused decoder */
    struct bus_track track;         /* per engine id: instance, seq */
    dedup_t *seen;                  /* recent signal ids */
    struct sink_stats st;           /* counters */
    /* One rate limit per kind of bad input, so one does not hide another. */
    struct log_limit lim_frame, lim_topic, lim_msgpack, lim_signal, lim_sym,
        lim_hb, lim_write, lim_replay;
    sink_state_t *state_file;       /* NULL: none */
    struct endpoint *eps;           /* replay endpoints */
    int neps;
    loop_t *loop;                   /* borrowed (sink_attach), or NULL */
    request_t *rq;                  /* requests to eps[i] are its i */
    struct pending *pend;           /* PENDING_MAX slots, or NULL */
    int npend;                      /* slots in use */
    int fatal;                      /* the output is gone for good */
    char *const *syms;              /* --symbols (borrowed), nsyms 0: all */
    int nsyms;
    int64_t start_ms;               /* wall time this sink started */
    int since;                      /* SINCE_*: engines without state */
    int64_t since_ts;               /* SINCE_TS: wall ms */
    int quiet_flat;                 /* leave flat closes out */
};

/* replay.c. Each returns ERR_OK, or ERR_IO once the output is gone for
 * good (self->fatal set, the loop stopped). */
/* Asks every endpoint whose engine is not known yet for its id. */
void sink_discover(sink_t *self);
int sink_taken(const sink_t *self, const char *eng, uint64_t pub,
               uint64_t seq);
/* Starts reading engine `eng`'s journal from `after` up to `upto` (or,
 * sink_replay_new, what --since asks for of an engine without state);
 * messages of `eng` offered meanwhile are held back. */
int sink_replay(sink_t *self, const char *eng, uint64_t after,
                uint64_t upto);
int sink_replay_new(sink_t *self, const char *eng, uint64_t pub,
                    uint64_t upto, int fresh);
/* 1 while `eng` has a replay running. */
int sink_busy(const sink_t *self, const char *eng);
/* A checked message of engine `eng`: decided on now (sink_decide), or
 * held back while a replay of `eng` runs. */
int sink_offer(sink_t *self, const char *eng, const struct held *h);
/* Puts h first among `eng`'s held messages (its replay runs). */
int sink_hold_first(sink_t *self, const char *eng, const struct held *h);
void sink_catch_up_endpoint(sink_t *self, struct endpoint *e);
void sink_pending_free(sink_t *self);

/* sink.c */
int sink_decide(sink_t *self, const struct held *h);
/* 1 once a message of engine `eng` came live (it is tracked). */
int sink_heard(const sink_t *self, const char *eng);
int sink_process(sink_t *self, const struct signal *s, int replayed);
/* 1 if `s` is valid UTF-8 (JSON output needs it: jansson refuses
 * anything else). Overlongs, surrogates and > U+10FFFF are invalid. */
int sink_utf8_valid(const char *s);

#endif
