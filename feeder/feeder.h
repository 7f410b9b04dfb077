/* feeder.h -- the body of livetrade-feeder: one source, its history
 * stores, the bar publisher and the request endpoint, wired to a loop.
 *
 *   feeder_t *f = feeder_new(&cfg, loop, err);   binds, loads history
 *   loop_run(loop);                              publishes, answers
 *   feeder_log_counters(f);
 *   feeder_destroy(&f);                          drains, closes sockets
 *   bus_term();
 *
 * With --symbols '*' (cfg->all) the symbols are those the source brings,
 * numbered as they first come; each is then published and served like a
 * listed one. Only push sources can bring symbols.
 *
 * Live bars go out as "bar|SYM|" on the XPUB endpoint, at one bar per
 * symbol per --interval (or as fast as subscribers take them with an
 * interval of 0). The ROUTER endpoint answers "history" (history.h) and
 * "status" requests; anything else gets an error reply. */
#ifndef LT_FEEDER_FEEDER_H
#define LT_FEEDER_FEEDER_H

#include <stdint.h>

#include "loop.h"
#include "metrics.h"
#include "source.h"

#define FEEDER_BURST_BARS 1000      /* bars per loop pass in burst mode */
#define FEEDER_DRAIN_MS 500         /* --exit-when-done: serve this long */

struct feeder_cfg {
    const struct source_ops *ops;   /* the source */
    const char *const *symbols;     /* validated, distinct */
    int nsym;                       /* entries in symbols; 0 with all */
    int all;                        /* --symbols '*': the symbols the
                                       (push) source brings, as they come */
    const char *pub_endpoint;       /* XPUB bind address */
    const char *rep_endpoint;       /* ROUTER bind address */
    uint64_t seed;                  /* for synthetic sources */
    int64_t interval_ms;            /* between live rounds; 0 = burst */
    int64_t tf;                     /* timeframe, seconds */
    int64_t history;                /* bars per symbol before live ones */
    int64_t keep_bars;              /* bars per symbol stored (at most);
                                       0: STORE_MAX_BARS */
    int64_t count;                  /* live bars per symbol; 0 = no end */
    int64_t start_ms;               /* start of bar 0, epoch ms */
    int exit_when_done;             /* stop the loop after `count` */
    int64_t wait_subs;              /* hold live bars until this many
                                       subscriptions to bars arrived */
};

typedef struct feeder feeder_t;

/* Binds both endpoints, opens the source, loads each symbol's history
 * and registers sockets and timers on `loop`. Returns NULL with a
 * one-line reason in err[ERR_LEN] (a bind failure names the endpoint). */
feeder_t *feeder_new(const struct feeder_cfg *cfg, loop_t *loop, char *err);

/* Answers requests still queued, closes the source and both sockets, and
 * sets *self_p to NULL; idempotent. The caller then calls bus_term(). */
void feeder_destroy(feeder_t **self_p);

/* The publisher instance id stamped on every bar. */
uint64_t feeder_instance(const feeder_t *self);

/* 1 if the source met a fatal error (the loop was stopped for it). */
int feeder_failed(const feeder_t *self);

/* Registers the feeder's metrics (and its source's counters) in `m`
 * (--metrics). 0, or ERR_NOMEM. */
int feeder_metrics(feeder_t *self, metrics_t *m);

/* Logs one INFO line with the counters. */
void feeder_log_counters(const feeder_t *self);

#endif
