/* polygon_worker.h -- REST requests off the feeder's thread, so the
 * WebSocket is read promptly while a gap fill waits for Polygon.
 *
 *   polygon_worker_t *w = polygon_worker_new(rest, err);   takes rest
 *   loop_add_socket(loop, polygon_worker_socket(w), on_answer, ps);
 *   polygon_worker_ask(w, &ask);
 *   ...
 *   on_answer: while (polygon_worker_take(w, &a) == 1) { ...; free(a.bars); }
 *   ...
 *   polygon_worker_destroy(&w);
 *
 * An actor: one thread that owns the REST client and talks to its owner
 * over an inproc PAIR pipe only. Asks are served one at a time, in the
 * order they were made (the client's rate limit and backoff hold across
 * them); several workers serve asks side by side, each over its own
 * connection (clients that share a limiter keep to one rate together).
 * Each answer comes back over the same pipe, its bars owned by
 * whoever takes it. The thread signals ready on the pipe when it starts,
 * blocks every signal (they stay with the feeder's thread) and ends on
 * $TERM; destroy also aborts the request in progress (the client's stop
 * flag) so it never waits out a retry budget. */
#ifndef LT_FEEDER_POLYGON_WORKER_H
#define LT_FEEDER_POLYGON_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg_bar.h"
#include "polygon_rest.h"

/* What an ask is for. */
enum {
    POLYGON_ASK_RANGE = 0,          /* the bars in [from_ms, to_ms] */
    POLYGON_ASK_HISTORY             /* a symbol's last n complete bars */
};

#define POLYGON_HIST_TRIES 8        /* widenings of a history window */
#define POLYGON_HIST_SPAN_MAX (800LL * 86400000LL) /* widest window, ms */

/* One request. RANGE: the bars of sym in [from_ms, to_ms], both
 * inclusive. HISTORY: the last n bars of sym that are complete when the
 * ask is served (to = now - tf_ms): when the owner has `have` bars up to
 * after_ms - tf_ms (after_ms >= 0) no older than POLYGON_HIST_SPAN_MAX,
 * first the bars from after_ms on (one call); if with them it has n, the
 * answer is those (after_cache 1). Otherwise a window ending at `to`,
 * 3 n bars wide (a day at least) and widened 4 times per try (weekends,
 * holidays; POLYGON_HIST_TRIES tries, POLYGON_HIST_SPAN_MAX at most),
 * until it holds n bars: the answer is every bar of the last window
 * (after_cache 0), possibly fewer than n. */
struct polygon_ask {
    int kind;                       /* POLYGON_ASK_* */
    int tag;                        /* the owner's, returned as is */
    uint64_t gen;                   /* the owner's, returned as is */
    char sym[SYM_MAX];
    int mult;                       /* REST multiplier */
    const char *timespan;           /* static string: "minute", "second" */
    int64_t from_ms, to_ms;         /* RANGE */
    int64_t n, have, after_ms;      /* HISTORY: wanted, held, first new */
    int64_t tf_ms;                  /* HISTORY: bar length */
};

/* Its answer: polygon_rest_aggs()'s result (HISTORY: of the last call). */
struct polygon_answer {
    int kind;                       /* the ask's */
    int tag;
    uint64_t gen;
    int rc;                         /* 0 or an error code */
    char err[ERR_LEN];              /* the reason when rc != 0 */
    struct bar *bars;               /* malloc'd, the taker frees; or NULL */
    size_t n;
    int after_cache;                /* HISTORY: bars follow the owner's */
    uint64_t requests;              /* HTTP requests this ask made */
};

typedef struct polygon_worker polygon_worker_t;

/* Starts the thread, which takes over `rest` (destroyed with the worker;
 * the caller must not use it again, even on failure). NULL with a reason
 * in err[ERR_LEN]. */
polygon_worker_t *polygon_worker_new(polygon_rest_t *rest, char *err);

/* Ends the thread (an ask in progress is aborted), frees answers not
 * taken and the client; sets *self_p to NULL. Idempotent. */
void polygon_worker_destroy(polygon_worker_t **self_p);

/* The owner's end of the pipe, readable when an answer is waiting. */
void *polygon_worker_socket(polygon_worker_t *self);

/* Queues an ask (never blocks). 0, or ERR_IO. */
int polygon_worker_ask(polygon_worker_t *self, const struct polygon_ask *ask);

/* Takes the next answer without waiting: 1 (in *out), or 0 (none). */
int polygon_worker_take(polygon_worker_t *self, struct polygon_answer *out);

/* The client's counters as of the last answer taken. */
void polygon_worker_stats(const polygon_worker_t *self,
                          struct polygon_rest_stats *st);

#endif
