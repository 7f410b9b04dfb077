/* polygon_int.h -- the polygon source's state, shared by its files:
 *   polygon.c          open/close, the WebSocket glue, the tick, health
 *   polygon_history.c  the history (queued, fetched by the workers side
 *                      by side) and the history cache
 *   polygon_deliver.c  live bars to the feeder: gaps, held bars, buckets
 * Not for use outside the source. */
#ifndef LT_FEEDER_POLYGON_INT_H
#define LT_FEEDER_POLYGON_INT_H

#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "loop.h"
#include "msg_bar.h"
#include "polygon_lws.h"
#include "polygon_rest.h"
#include "polygon_worker.h"
#include "polygon_ws.h"
#include "source.h"

/* The polygon source's own flags (polygon.c). */
struct polygon_flags {
    const char *rest_url;           /* --rest-url, or NULL */
    const char *ws_url;             /* --ws-url, or NULL */
    const char *feed;               /* --feed realtime|delayed */
    const char *ca_file;            /* --ca-file, or NULL */
    int64_t rate;                   /* --rate, REST requests per minute;
                                       0 = no limit */
    const char *cache_dir;          /* --cache-dir; "": no history cache,
                                       NULL: the default */
    const char *market;             /* --market */
    const char *market_hours;       /* --market-hours; NULL: the
                                       market's own */
    double stale_after;             /* --stale-after, seconds; 0 = auto */
    int64_t hist_conc;              /* --history-concurrency */
};

#define MINUTE_MS 60000LL
#define GAP_TRIES 5                 /* later tries of a failed gap fill */
#define GAP_RETRY_MS 4000LL         /* delay before the first of them */
#define GAP_RETRY_MAX_MS 60000LL    /* longest delay between them */
#define KICKED_WAIT_MAX_MS 3600000LL /* LIVETRADE_POLYGON_KICKED_WAIT_MS cap */
#define READ_TIMEOUT_MAX_MS 600000LL /* LIVETRADE_POLYGON_READ_TIMEOUT_MS cap */
#define GAP_HOLD_MAX 512            /* live bars held behind a gap */
#define HIST_WAIT_MAX 64            /* live bars held before the history */
#define HIST_LOG_MS 5000            /* between history progress lines */
#define HIST_LOG_MAX_MS 600000LL    /* LIVETRADE_POLYGON_PROGRESS_MS cap */
#define WORKERS_MAX 64              /* --history-concurrency at most */

/* Where a symbol's history is. */
enum {
    HIST_NONE = 0,                  /* none wanted (--history 0) */
    HIST_QUEUED,                    /* waiting for a worker */
    HIST_ASKING,                    /* a worker fetches it */
    HIST_DONE,                      /* published */
    HIST_FAILED                     /* failed: the symbol went live
                                       without it */
};

struct psym {
    char name[SYM_MAX];             /* the symbol, as on the bus */
    char rest[SYM_MAX];             /* its REST ticker */
    int64_t last;                   /* t of the last bar handed over, -1 */
    struct bar last_bar;            /* that bar, to tell corrections */
    int pending;                    /* first bar after a connect to come */
    int64_t heard_ms;               /* mono: last WS bar or market opening */
    int silent;                     /* reported silent, no bar since */
    struct bar agg;                 /* bucket being built (tf > 60) */
    int agg_n;                      /* minutes in agg; 0: none */
    int64_t agg_last;               /* t of the last minute merged */
    int agg_partial;                /* a (re)connect cut into the bucket */
    int agg_fresh;                  /* no minute since the (re)connect */
    int64_t cut_t;                  /* a cut bucket REST should bring; -1 */
    char *cache_path;               /* cache file, or NULL: no cache */
    struct bar *cache;              /* unbroken record, oldest first */
    size_t ncache, capcache;        /* used, allocated */
    int cache_ok;                   /* still appending to the record */
    int64_t gap_from, gap_to;       /* unfilled gap [from, to); to 0: none */
    int gap_tries;                  /* later tries made */
    int64_t gap_next;               /* mono: next try */
    int asking;                     /* a REST ask for the gap is out */
    uint64_t ask_gen;               /* its number; older answers: ignored */
    int64_t ask_to;                 /* the end (exclusive) it asked for */
    struct bar *held;               /* bars after the gap, oldest first */
    size_t nheld;                   /* used (GAP_HOLD_MAX allocated) */
    int hist;                       /* HIST_* */
    uint64_t hist_gen;              /* number of its history ask */
    struct bar *wait;               /* WebSocket bars before the history
                                       is out, oldest first */
    size_t nwait, capwait;          /* used (HIST_WAIT_MAX at most) */
};

struct polygon_src {
    const struct source_cfg *cfg_tmp; /* valid during open only */
    source_emit_fn *emit;
    void *emit_arg;
    loop_t *loop;
    int *failed;                    /* the feeder's fatal flag */
    int nsym;
    int64_t tf_ms;                  /* bar length */
    const char *timespan;           /* "minute" or "second" */
    int mult;                       /* REST multiplier; > 1: aggregated */
    int market;                     /* SOURCE_MARKET_*: feed health */
    int64_t hours_at;               /* feed health clock at open (epoch
                                       ms), or -1: the wall clock */
    int64_t hours_mono;             /* mono at open, for hours_at */
    int64_t stale_ms;               /* silence that is reported */
    int was_open;                   /* market open at the last check */
    int64_t next_check_ms;          /* mono: next health check */
    int64_t feed_t;                 /* end of the newest minute seen */
    int64_t feed_mono;              /* mono when feed_t was seen */
    struct psym *sym;               /* nsym entries */
    polygon_rate_t *rate;           /* --rate, shared by the workers */
    polygon_worker_t **workers;     /* REST, side by side */
    int *busy;                      /* asks out, per worker */
    int *hist_busy;                 /* history asks out, per worker */
    int nworkers;
    int ws_started;                 /* the WebSocket was started */
    char ws_url[1024];              /* its URL */
    const struct polygon_market *mkt;   /* --market */
    int64_t hist_n;                 /* --history: bars per symbol */
    int *hq;                        /* symbols waiting for a worker */
    size_t hq_head, hq_n, hq_cap;   /* ring: first, used, allocated */
    uint64_t hist_total;            /* symbols that wanted history */
    uint64_t hist_done;             /* of those, finished (failed too) */
    uint64_t hist_failed;           /* of those, live without history */
    uint64_t hist_cached;           /* served by the cache alone */
    uint64_t hist_requests;         /* REST requests made by history */
    uint64_t hist_dropped;          /* bars not held before the history */
    uint64_t hist_fetched;          /* answered by the workers */
    uint64_t hist_round;            /* hist_fetched when the round began:
                                       the pace of the estimate */
    int64_t hist_t0;                /* mono: the round began */
    int64_t hist_next_log;          /* mono: next progress line */
    int64_t hist_log_ms;            /* between progress lines */
    size_t capsym;                  /* room in sym */
    int all;                        /* --symbols '*': AM.* / A.* */
    source_intern_fn *intern;       /* numbers a new symbol (all) */
    uint64_t new_syms;              /* symbols the feed brought (all) */
    polygon_ws_t *ws;
    polygon_lws_t *lws;
    int fatal;                      /* stop requested for an error */
    int opened;                     /* history loaded: caches are saved */
    uint64_t live;                  /* WebSocket bars published */
    uint64_t filled;                /* REST bars published to fill gaps */
    uint64_t fills;                 /* gap fills made */
    uint64_t fill_errors;           /* gap fills that failed */
    uint64_t dups;                  /* re-sent bars dropped */
    uint64_t old;                   /* bars older than the last: dropped */
    struct log_limit old_lim;
    uint64_t corrections;           /* changed bars not republished */
    uint64_t resumes;               /* reconnects that streamed again */
    uint64_t fill_requests;         /* REST requests made by gap fills */
    uint64_t fill_retries;          /* later tries of failed gap fills */
    int64_t gap_retry_ms;           /* delay before the first of them */
    uint64_t silences;              /* symbols reported silent */
    uint64_t cache_bars;            /* bars read from the cache */
    uint64_t cache_errors;          /* cache files unread or unwritten */
    struct log_limit corr_lim;      /* correction log lines */
    struct log_limit silent_lim;    /* silence log lines */
    struct log_limit cache_lim;     /* cache log lines */
};

/* polygon.c: ends the feeder with one line (msg NULL: already logged). */
void polygon_fatal(struct polygon_src *ps, const char *msg);
int polygon_is_auth(int rc);
/* Queues q with the worker that has the fewest asks out (hist: one that
 * has no history ask out; -1 if none). The worker's number, or -1. */
int polygon_ask(struct polygon_src *ps, struct polygon_ask *q, int hist);
/* Starts the WebSocket once (REST took the key, or nothing to ask). */
void polygon_ws_go(struct polygon_src *ps);

/* polygon_history.c */
/* Finds and reads each symbol's cache file (f->cache_dir; the file names
 * depend on f->rest_url). */
void polygon_hist_open(struct polygon_src *ps, const struct polygon_flags *f);
/* Appends b to symbol i's record, if newer. */
void polygon_hist_record(struct polygon_src *ps, int i, const struct bar *b);
/* Writes symbol i's record to its cache file. */
void polygon_hist_save(struct polygon_src *ps, int i);
/* Fetches the history of symbol i (its last ps->hist_n bars), at any
 * time: from the cache at once when it reaches the newest complete bar,
 * else queued for the workers (at most --history-concurrency fetches
 * out). Until it is out, the symbol's WebSocket bars are held (the newest
 * HIST_WAIT_MAX; a gap fill brings the others). Once per symbol: a
 * symbol whose history was wanted already (done or failed too) is left
 * alone. */
void polygon_hist_want(struct polygon_src *ps, int i);
/* Hands queued symbols to idle workers. */
void polygon_hist_pump(struct polygon_src *ps);
/* A HISTORY answer of a worker. */
void polygon_hist_answer(struct polygon_src *ps,
                         const struct polygon_answer *a);
/* 1 if symbol i's live bars must wait for its history (then b is kept). */
int polygon_hist_hold(struct polygon_src *ps, int i, const struct bar *b);
/* A (re)connect: held bars of symbols still waiting are dropped (the
 * gap fill after their history brings them). */
void polygon_hist_resumed(struct polygon_src *ps);
/* The progress line, from the tick: every hist_log_ms while symbols
 * wait, and once when the last is done. */
void polygon_hist_tick(struct polygon_src *ps, int64_t now);

/* The time left for `waiting` symbols when `done` took elapsed_ms;
 * -1 when unknown (none done yet). */
int64_t polygon_hist_eta_ms(uint64_t done, uint64_t waiting,
                            int64_t elapsed_ms);

/* polygon_deliver.c */
/* Hands bar b of symbol i to the feeder and records it as the last. */
int polygon_emit(struct polygon_src *ps, int i, const struct bar *b,
                 int live);
/* A WebSocket bar of symbol i (a minute merged into its bucket when the
 * timeframe is longer). */
void polygon_deliver_ws(struct polygon_src *ps, int i, const struct bar *b);
/* Answers from the REST worker (loop callback, arg: ps). */
void polygon_on_answer(loop_t *loop, void *sock, int fd, void *arg);
/* Gap tries that are due and buckets that are over, from the tick. */
void polygon_gaps_due(struct polygon_src *ps, int64_t now);
void polygon_buckets_due(struct polygon_src *ps, int64_t now);

#endif
