/* sink_int.h -- the sink pipeline's state, shared by sink.c (signals,
 * heartbeats, state) and replay.c (engines' journals and status). */
#ifndef LT_SINK_INT_H
#define LT_SINK_INT_H

#include "bus.h"
#include "dedup.h"
#include "log.h"
#include "mp.h"
#include "sink.h"
#include "state.h"

#define REPLAY_TIMEOUT_MS 5000      /* one replay request */
#define STATUS_TIMEOUT_MS 2000      /* one status request (engine id) */
#define RETRY_MS 30000              /* an endpoint that did not answer */
#define REPLAY_PAGES 10000          /* pages in one catch-up, at most */
#define ENDPOINTS_MAX 64

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
    char *const *syms;              /* --symbols (borrowed), nsyms 0: all */
    int nsyms;
    int64_t start_ms;               /* wall time this sink started */
    int since;                      /* SINCE_*: engines without state */
    int64_t since_ts;               /* SINCE_TS: wall ms */
    int quiet_flat;                 /* leave flat closes out */
};

void sink_discover(sink_t *self);
int sink_taken(const sink_t *self, const char *eng, uint64_t pub, uint64_t seq);
int sink_replay(sink_t *self, const char *eng, uint64_t after, uint64_t upto);
int sink_replay_new(sink_t *self, const char *eng, uint64_t pub, uint64_t upto, int fresh);
int sink_process(sink_t *self, const struct signal *s, int replayed);
/* 1 if `s` is valid UTF-8 (JSON output needs it: jansson refuses
 * anything else). Overlongs, surrogates and > U+10FFFF are invalid. */
int sink_utf8_valid(const char *s);

#endif
