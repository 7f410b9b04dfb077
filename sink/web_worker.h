/* web_worker.h -- the web output's requests to other livetrade programs,
 * on a worker thread: history from the feeders (for the charts), the
 * engines' indicator values per bar (for the charts' lines) and status
 * from feeders and engines (for the components table).
 *
 * History and indicator requests wait for their replies (up to a few
 * seconds when a program is down); the worker waits so the sink's loop
 * never does. Status polls go out to every endpoint at once in the
 * worker's own loop (request.h): one that is down delays no other. It is
 * an actor: the loop talks to it over an inproc PAIR pipe and shares no
 * state.
 *
 *   web_worker_t *w = web_worker_new(hist_eps, status_eps, 1000, err);
 *   loop_add_socket(loop, web_worker_pipe(w), on_result, ...);
 *   web_worker_history(w, "AAPL");        asks for AAPL's last 1000 bars
 *   web_worker_indicators(w, "AAPL");     ... and the engines for its
 *                                         indicator values at those bars
 *   while ((r = web_worker_recv(w)))      in on_result: history replies,
 *       ...; web_result_free(&r);         and a status reply per endpoint
 *                                         every WEB_STATUS_MS
 *   web_worker_destroy(&w);               stops and joins the thread */
#ifndef LT_SINK_WEB_WORKER_H
#define LT_SINK_WEB_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "msg_bar.h"
#include "msg_ind.h"

#define WEB_MAX_ENDPOINTS 16        /* history + status endpoints */
#define WEB_STATUS_MS 2000          /* status poll interval */
#define WEB_STATUS_TIMEOUT_MS 500   /* wait for one status reply */
#define WEB_HISTORY_TIMEOUT_MS 3000 /* wait for one history reply */

enum { WEB_RES_HISTORY = 1, WEB_RES_STATUS = 2, WEB_RES_IND = 3 };

struct web_result {
    int kind;                       /* WEB_RES_* */
    /* history and indicators */
    char sym[SYM_MAX];              /* the symbol asked for */
    struct bar *bars;               /* oldest first (owned), NULL if none */
    size_t nbars;
    char eng[64];                   /* the engine that answered */
    struct ind_point *points;       /* oldest first (owned), NULL if none */
    size_t npoints;
    int notfound;                   /* every engine answered: none holds
                                       the symbol */
    /* status */
    int index;                      /* endpoint, in web_worker_new order */
    char *json;                     /* the reply as JSON (owned), or NULL */
    int64_t at;                     /* wall ms of the answer (or timeout) */
    /* both */
    int ok;                         /* 1 if a reply came */
    char err[ERR_LEN];              /* why not, when !ok */
};

typedef struct web_worker web_worker_t;

/* Starts the worker. `history` and `status` are endpoint lists (arrays
 * of n strings, copied); history endpoints are asked in order and are
 * polled for status too, first. `nbars`: bars asked for per symbol.
 * NULL with a reason in err[ERR_LEN]. */
web_worker_t *web_worker_new(const char *const *history, int nhistory,
                             const char *const *status, int nstatus,
                             int64_t nbars, char *err);
/* Stops the thread (a request in flight ends within its timeout) and
 * frees undelivered results. Idempotent. */
void web_worker_destroy(web_worker_t **self_p);

/* The loop's end of the pipe: readable when results are waiting. */
void *web_worker_pipe(web_worker_t *self);
/* Queues a history request for `sym`. 0 or ERR_IO. */
int web_worker_history(web_worker_t *self, const char *sym);
/* Queues a request for the indicator values of `sym`'s last `nbars`
 * bars (at most IND_MSG_REQ_MAX) to the status endpoints (the engines),
 * asked in order. 0 or ERR_IO. */
int web_worker_indicators(web_worker_t *self, const char *sym);
/* The next result, or NULL if none is waiting (never blocks). The caller
 * frees it with web_result_free. */
struct web_result *web_worker_recv(web_worker_t *self);
void web_result_free(struct web_result **r_p);

/* Endpoint `i` (history endpoints first, then status ones). */
const char *web_worker_endpoint(const web_worker_t *self, int i);
int web_worker_endpoints(const web_worker_t *self);
/* How many of them are status-only endpoints (the engines). */
int web_worker_engines(const web_worker_t *self);

#endif
