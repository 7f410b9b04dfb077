/* engine_int.h -- the engine's state, shared by the files of the engine
 * object (engine.h says which file holds what). Not for use outside
 * them, except by white-box tests. */
#ifndef LT_ENGINE_INT_H
#define LT_ENGINE_INT_H

#include <stdint.h>

#include "bus.h"
#include "counters.h"
#include "engine.h"
#include "http_metrics.h"
#include "journal.h"
#include "log.h"
#include "metrics.h"
#include "mp.h"
#include "request.h"
#include "runner.h"
#include "symtab.h"

#define ENGINE_PROG "livetrade-engine"
#define WARM_BUF_MAX 100000         /* bars held per symbol while its
                                       history is outstanding */
#define HISTORY_TIMEOUT_MS 3000
#define HIST_EPS_MAX 16             /* --history endpoints */
#define ENGINE_KEEP_MIN 1000        /* least default --keep-bars */
#define PEND_MAX 4096               /* ids held per symbol (see struct sym) */
#define PEND_TOTAL_MAX 1000000      /* and for all symbols together */

/* How a symbol's run relates to the journal's last one. */
enum {
    RUN_UNKNOWN,                    /* not decided yet (or no journal) */
    RUN_RESUME,                     /* the same feed, continued */
    RUN_NEW_PARAMS,                 /* new: other strategy or parameters */
    RUN_NEW_BACK,                   /* new: the feed went back to or before
                                       the journal's last bar (a replay) */
    RUN_NEW_FEED,                   /* new: the journal's last bar is not in
                                       the feeders' history */
    RUN_KINDS
};

/* What a symbol's history request is for (struct sym's hwant). */
enum {
    HIST_NONE,                      /* none outstanding */
    HIST_WARM,                      /* a step of its warm-up */
    HIST_REPAIR                     /* a gap in its live bars */
};

/* Endpoint states besides the index of the symbol asking (ep_sym). */
#define EP_FREE (-1)
#define EP_STATUS (-2)              /* the feeder's status (routing) */

struct sym {
    engine_t *owner;                /* the engine (for s_emit) */
    struct runner *run;             /* its own allocation: the strategy
                                       holds the address of its data */
    int live;                       /* warm-up done */
    int64_t warm_bars;              /* history bars taken in warm-up */
    int64_t first_live_t;           /* time of the first live bar, -1 */
    struct bar *buf;                /* live bars held while its history is
                                       outstanding (warm-up, a gap) */
    size_t nbuf, capbuf;
    int64_t next_try;               /* mono ms of the next history try */
    uint64_t last_pub, last_seq;    /* stream position of the newest bar
                                       taken, live or from history */
    double last_c;                  /* close of the newest bar taken */
    int resent;                     /* a restarted feeder is sending bars
                                       this symbol already took */
    int joining;                    /* live, but no live bar newer than
                                       the history taken yet */
    int64_t tf;                     /* its timeframe, s */
    /* From the journal: the newest mark (the bar this symbol had got to;
     * mark_t -1: none) and the ids of the signals written after it, which
     * a restart on the same feed derives again (not published twice). */
    int64_t mark_t, mark_tf;
    double mark_c;
    int mark_params;                /* the mark's parameters: 1 ours,
                                       0 others, -1 not recorded */
    uint64_t *pend;                 /* ids written after the mark, sorted */
    size_t npend, cappend;
    int pend_over;                  /* more than PEND_MAX: the rest are
                                       known by time, up to (jt, jord) */
    int64_t jt;                     /* newest of them: time (-1: none) */
    int jord;                       /* and ordinal */
    int run_kind;                   /* RUN_*: how this run relates to the
                                       journal's */
    uint64_t published;             /* signals published by this run */
    double eq0;                     /* paper equity when it went live */
    int64_t marked_t;               /* last_t when the last mark was written */
    int64_t last_rx;                /* mono ms of the newest bar received
                                       (at start: the start) */
    int stale;                      /* silent past --stale-after */
    int hist_i;                     /* the history endpoint that has it
                                       (from the feeders' status), -1 */
    /* Its history request (warmup.c): asked of each endpoint in turn,
     * its own feeder first, until one has the symbol. */
    int hwant;                      /* HIST_*: what it is for */
    int hflight;                    /* sent; the reply is awaited */
    struct history_req hreq;        /* as asked */
    int hfirst;                     /* hist_i when it was asked */
    int hj;                         /* the endpoint's place in the order */
    int hrc;                        /* ERR_NOTFOUND, or the last failure */
    /* The warm-up in progress (warmup.c). */
    int wstep;                      /* which request it waits for */
    int waited;                     /* "waiting for history" said */
    int wrc;                        /* the first request's outcome */
    int wagain;                     /* requests for more asked */
    int64_t wresume;                /* the resume point, -1 */
    int64_t wlive_t;                /* first bar that came live */
    uint64_t wsig0, wred0;          /* sig_seq, rederived at its start */
    /* A gap being filled (the first held bar revealed it). */
    int repairing;
    int rjoining;
    uint64_t rmissing;
};

struct engine {
    struct engine_config cfg;       /* as given (strings borrowed) */
    /* state */
    struct sym *syms;
    int nsym;
    struct runner probe;            /* the strategy when a shard holds no
                                       symbol (its name and lookback) */
    int has_probe;                  /* probe was loaded */
    symtab_t *names;                /* the symbols' numbers (index in syms) */
    size_t capsyms;                 /* room in syms */
    int started;                    /* engine_start done: a new symbol
                                       counts in warming */
    loop_t *loop;                   /* the loop (engine_start) */
    struct log_limit lim_new;       /* new symbols (cfg.all) */
    struct log_limit lim_hist;      /* history requests that failed */
    char idbuf[64];
    const char *id;                 /* the engine id */
    int64_t lb;                     /* lookback in use */
    int64_t keep;                   /* bars held per symbol, 0: all */
    int keep_said;                  /* its memory line was logged */
    int warming;                    /* symbols not live yet */
    int wait_logged;
    struct bus_pub pub;
    int pub_open;                   /* pub was initialised */
    void *sub, *router;
    struct mp_body body;
    uint64_t sig_seq;               /* last signal sequence number */
    uint64_t seq0;                  /* sig_seq when this instance started:
                                       its signals are seq0+1, seq0+2... */
    int64_t started_ms;             /* wall time of this instance's start */
    journal_t *journal;             /* NULL: none */
    char journal_path[1024];
    int64_t next_mark_ms;           /* mono: next round of marks */
    /* counters */
    uint64_t bars_in, bad, old, unknown, recovered, heartbeats, requests;
    uint64_t dups;                  /* live bars already had from history */
    uint64_t gaps, missed, restarts;
    uint64_t joined;                /* bars published between the history
                                       and the subscription taking effect,
                                       taken from history (not gaps) */
    uint64_t overflow;              /* bars not buffered during warm-up */
    uint64_t journal_errors;        /* signals not written to the journal */
    uint64_t caught_up;             /* signals of bars missed while down */
    uint64_t rederived;             /* re-derived signals already written */
    int runs[RUN_KINDS];            /* symbols per RUN_* */
    int runs_said;                  /* new runs already logged */
    char run_ex[RUN_KINDS][80];     /* an example symbol of each kind */
    char jparams[256];              /* other parameters found in marks */
    size_t pend_total;              /* ids held in all symbols' pend */
    uint64_t sum_bars, sum_signals; /* at the previous summary */
    uint64_t replays;               /* replay requests answered */
    uint64_t replies_dropped;       /* replies to a client that does not
                                       read them, or is gone */
    uint64_t reloads, reload_errors; /* SIGHUP reloads done, refused */
    uint64_t ind_sent, ind_dropped; /* indicator messages (ind|) */
    char hist_list[1024];           /* --history, split into heps */
    char *heps[HIST_EPS_MAX];
    int nheps;
    int64_t route_next;             /* mono ms: the feeders' status may
                                       be asked again (warmup.c) */
    uint32_t route_done;            /* endpoints whose status was read */
    int route_wait;                 /* status requests in flight */
    int routed;                     /* symbols routed in this round */
    request_t *rq;                  /* requests to the feeders */
    struct history_call calls[HIST_EPS_MAX];  /* one per endpoint */
    int ep_sym[HIST_EPS_MAX];       /* who uses each endpoint: EP_FREE,
                                       EP_STATUS or the symbol's index */
    int dispatching, redispatch;    /* engine_dispatch() is running */
    int warm_timer;                 /* loop timer of the warm-up */
    struct log_limit lim_gap;
    struct log_limit lim_bad, lim_old, lim_unknown, lim_journal;
    struct log_limit lim_ind, lim_replay, lim_request, lim_request_ind;
    /* monitoring */
    metrics_t *metrics;             /* NULL without --metrics */
    http_metrics_t *http;
    metrics_hist_t *latency;        /* bar-to-signal seconds */
    double bar_rx;                  /* mono s the live bar being run was
                                       taken off the bus; 0: none */
    uint64_t signals_run;           /* signals published by this run */
    uint64_t strategy_errors;       /* strategies disabled by an error */
    uint64_t stale_events;          /* symbols that went stale */
    int stale_now;                  /* symbols stale at the moment */
    struct log_limit lim_stale, lim_fresh;
};

/* engine.c */
strategy_t *engine_strat(const engine_t *self);     /* name, lookback */
/* Settles the bars each symbol holds (--keep-bars, at least what the
 * strategy reads back; with `say`, the lines about it) and applies it to
 * every symbol's runner. */
void engine_keep(engine_t *self, int say);
/* Once, at the first bar with a timeframe: what a symbol's memory comes
 * to per day at that timeframe. */
void engine_keep_said(engine_t *self, int64_t tf);
int engine_find(const engine_t *self, const char *sym); /* index or -1 */
/* With cfg.all: the index of a symbol not had before, of this shard, its
 * strategy loaded and its warm-up due. syms may move: no struct sym *
 * is held across a call. An index, or -1 (another shard's symbol, or it
 * could not be added: logged). */
int engine_add(engine_t *self, const char *sym);
const char *engine_time(char *out, size_t n, int64_t ms); /* ISO time */

/* engine_bars.c: a bar through a symbol's strategy, live (signals
 * published) or in warm-up; a live bar checked against the stream. */
void engine_feed(engine_t *self, struct sym *y, const struct bar *b,
                 int live);
void engine_live_bar(engine_t *self, struct sym *y, const struct bar *b);
/* Holds a live bar of y while its history is outstanding (bounded by
 * WARM_BUF_MAX: past it the bar is dropped, left to history). 0, or -1
 * if it was not held. */
int engine_hold(engine_t *self, struct sym *y, const struct bar *b);
/* The held bars of y go through live, in order (held again from a bar
 * that opens a new gap on). */
void engine_release(engine_t *self, struct sym *y);
double engine_equity(const struct sym *y);

/* engine_journal.c */
int engine_journal_open(engine_t *self, char *err);
void engine_mark(engine_t *self, struct sym *y);
void engine_mark_live(engine_t *self);   /* every live symbol's mark */
int engine_pend_has(const struct sym *y, const struct signal *s);
void engine_pend_free(engine_t *self, struct sym *y);

/* warmup.c */
void engine_run_kind_live(engine_t *self, struct sym *y, int64_t t);
int engine_recover(engine_t *self, struct sym *y, const struct bar *b,
                   uint64_t missing, int joining);
void engine_runs_report(engine_t *self);
void engine_dispatch(engine_t *self);   /* sends what endpoints are free for */
int engine_route(engine_t *self);       /* asks the feeders' status */

/* serve.c */
void engine_on_request(loop_t *loop, void *sock, int fd, void *arg);

/* engine_metrics.c */
extern const struct counter engine_counters[];  /* status, exit, metrics */
extern const size_t engine_ncounters;
int engine_metrics_open(engine_t *self, loop_t *loop, char *err);
void engine_metrics_close(engine_t *self);
void engine_stale_check(engine_t *self);
void engine_stale_clear(engine_t *self, struct sym *y);

/* summary.c */
void engine_summary(engine_t *self, int final);
void engine_exit_pl(engine_t *self);

/* reload.c */
void engine_reload(engine_t *self);

#endif
