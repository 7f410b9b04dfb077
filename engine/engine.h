/* engine.h -- the live engine as an object: subscribes to bars for its
 * symbols, warms each strategy up from the feeders' history, then runs it
 * live and publishes its signals. livetrade-engine (engine/main.c) parses
 * the flags into a struct engine_config and runs one:
 *
 *   engine_t *e = engine_new(&cfg, err, &status);
 *   engine_start(e, loop, err);  loop_run(loop);
 *   engine_drain(e);  engine_destroy(&e);
 *
 * Where each part lives: engine.c (the object, its set-up and timers),
 * engine_bars.c (bar input and the bar path to signals),
 * engine_journal.c (the signal journal, marks and the signals a restart
 * derives again), warmup.c (history warm-up, resume after a restart, gap
 * repair, its requests in the loop), serve.c
 * (status, replay and indicator requests), engine_metrics.c (metrics and
 * staleness), summary.c (summary lines and the P&L at exit), reload.c
 * (SIGHUP). */
#ifndef LT_ENGINE_H
#define LT_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "broker.h"
#include "config.h"
#include "history.h"
#include "loop.h"

typedef struct engine engine_t;

/* One history request to endpoint `ep` (its index in --history, named
 * `name`), answered within about timeout_ms: returns at once, 0 when it
 * is on its way, or an error with one line in err[ERR_LEN] (no answer
 * will come then). The answer comes later, from the loop, through
 * engine_history_reply(e, ep, ...). One request per endpoint at a time.
 * The default sends it over the bus (history_call_start(), paged as
 * history_fetch() is). */
typedef int (engine_fetch_fn)(void *arg, engine_t *e, int ep,
                              const char *name, const struct history_req *r,
                              int timeout_ms, char *err);

struct engine_config {
    const char *strategy;           /* Lua strategy file */
    const char *symbols;            /* the --symbols list, for the id */
    char *const *syms;              /* the symbols, valid and split */
    int nsym;                       /* 0 with all */
    int all;                        /* --symbols '*': every symbol that
                                       comes on the bar bus (of the shard),
                                       each from its first bar on */
    int shard_i, shard_n;           /* --shard i/n; shard_n 0: none */
    const char *sub_ep, *pub_ep;    /* bar subscription, signal publisher */
    const char *hist_ep;            /* history endpoints; "": none */
    const char *rep_ep;             /* request endpoint */
    const char *id;                 /* NULL: strategy-<hash of symbols> */
    int64_t lookback;               /* -1: the strategy's */
    int64_t keep_bars;              /* bars held per symbol; -1: the
                                       default (engine_keep), 0: all */
    int64_t wait_subs;              /* signal subscriptions before live */
    const char *journal_dir;        /* NULL: default; "": no journal */
    const char *fsync;              /* always, everysec, no */
    int64_t journal_mb, journal_days;
    const struct opt_multi *params; /* --param overrides */
    const struct broker_cfg *bcfg;  /* the paper broker's settings */
    const char *metrics_addr;       /* --metrics HOST:PORT, NULL: off */
    double stale_after;             /* s; 0: per timeframe */
    int64_t summary_s;              /* summary every N s, 0: off */
    engine_fetch_fn *fetch;         /* NULL: history over the bus */
    void *fetch_arg;
};

/* Loads the strategy for each symbol (of the shard), opens the journal
 * (with cfg.all: for each symbol the journal has, of the shard)
 * and settles the engine id and lookback; nothing is bound yet. The
 * config's strings must outlive the engine. Returns NULL with one line
 * in err[ERR_LEN] and *status 2 (the configuration is at fault) or 1. */
engine_t *engine_new(const struct engine_config *cfg, char *err,
                     int *status);
/* Closes the sockets and frees everything; *self_p becomes NULL. */
void engine_destroy(engine_t **self_p);

/* Binds and connects the engine's sockets, registers them and its timers
 * in `loop` and makes the first warm-up attempt. 0, or 1 with one line
 * in err[ERR_LEN]. */
int engine_start(engine_t *self, loop_t *loop, char *err);
/* After the loop: the bars already received are run, the journal gets
 * every symbol's mark and is closed, and the closing lines are logged. */
void engine_drain(engine_t *self);

/* One message of the bar bus (bar|SYM|, hb|, pace|), as read. */
void engine_on_message(engine_t *self, const char *topic, const void *body,
                       size_t len);
/* The answer to a cfg.fetch request to endpoint `ep`, the contract of
 * history_fetch() (common/history.h): on ERR_OK `bars` (malloc'd; the
 * engine takes them) holds n valid bars oldest first, `bad` of the reply
 * were skipped; ERR_NOTFOUND: the endpoint lacks the symbol; any other
 * error: no answer, with one line in err. */
void engine_history_reply(engine_t *self, int ep, int rc, struct bar *bars,
                          size_t n, uint64_t seq, size_t bad,
                          const char *err);
/* One slice of warm-up work (what the warm-up timer does). */
void engine_warm_step(engine_t *self);
/* The reply to a status request. */
void engine_pack_status(engine_t *self, msgpack_packer *pk);
/* The engine id in signals. */
const char *engine_id(const engine_t *self);

#endif
