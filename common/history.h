/* history.h -- the history service ("the last N bars of SYMBOL") that
 * every feeder answers on its request endpoint, both sides of it.
 *
 * Request  {ver:1, type:"history", sym:"AAPL", n:500}          last n bars
 *          {ver:1, type:"history", sym:"AAPL", since:T, n:N}   bars with
 *                                       t > T, the first N of them
 * Reply    {ver:1, type:"history", sym:"AAPL", seq:S, bars:[bar, ...]}
 *          bars oldest first; S = sequence number of the newest bar the
 *          feeder has published for the symbol (0 if none yet). A reply
 *          cut to HISTORY_REPLY_BARS has more:true as well: its bars are
 *          the oldest of those asked for, and the client asks on with
 *          since = the last bar's t (history_fetch() does).
 * Error    {ver:1, type:"error", error:"unknown symbol 'X'"} */
#ifndef LT_HISTORY_H
#define LT_HISTORY_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "msg_bar.h"
#include "request.h"

#define HISTORY_MAX 300000      /* bars in one request, at most */
#define HISTORY_REPLY_BARS (BUS_MAX_REPLY / 200)   /* bars in one reply:
                                   a packed bar takes at most ~200 bytes */
#define HISTORY_PAGES_MAX 64    /* replies history_fetch() reads for one
                                   request, at most */

struct history_req {
    char sym[SYM_MAX];
    int64_t n;                  /* bars wanted (>= 1) */
    int64_t since;              /* -1: the last n; else bars with t > since */
};

/* Parses a decoded request map whose type is "history". 0 or ERR_PARSE
 * with a reason. */
int history_req_parse(const msgpack_object *o, struct history_req *r,
                      char *err);

void history_pack_request(msgpack_packer *pk, const char *sym, int64_t n,
                          int64_t since);
/* Packs the reply header and the array header for `nbars` bars; the
 * caller then packs each bar with msg_bar_pack(). */
void history_pack_reply_head(msgpack_packer *pk, const char *sym,
                             uint64_t seq, size_t nbars);
/* The same for a reply cut short (more:true). */
void history_pack_reply_cut(msgpack_packer *pk, const char *sym,
                            uint64_t seq, size_t nbars);
void history_pack_error(msgpack_packer *pk, const char *msg);
/* An error that says "not yet, ask again" (busy:true): the symbol's
 * history is still being loaded. The client sees ERR_TIMEOUT. */
void history_pack_busy(msgpack_packer *pk, const char *msg);

/* Client: asks `endpoint` for history, waiting up to timeout_ms for each
 * reply, and asks on while a reply was cut (at most HISTORY_PAGES_MAX
 * replies). On
 * success *bars (malloc'd, caller frees) holds *nbars valid bars oldest
 * first and *seq the feeder's newest sequence number for the symbol.
 * Invalid bars in the reply are skipped and counted in *bad. */
int history_fetch(const char *endpoint, const struct history_req *r,
                  int timeout_ms, struct bar **bars, size_t *nbars,
                  uint64_t *seq, size_t *bad, char *err);

/* Client inside an event loop: the same request, page by page through
 * the asynchronous client (request.h), never waiting. A call is held by
 * its caller (zeroed before its first use) and must stay where it is
 * while busy; one call per endpoint at a time (the client's rule).
 *
 *   struct history_call c = {0};
 *   history_call_start(&c, rq, ep, &r, 3000, on_history, arg, err);
 *   ... on_history(&c, ERR_OK, bars, n, seq, bad, NULL, arg) later ...
 *   history_call_free(&c);     after request_destroy(), or when done
 *
 * fn gets what history_fetch() returns: rc ERR_OK with `bars` (malloc'd,
 * fn owns and frees them; never NULL) holding n valid bars oldest first,
 * or an error (ERR_NOTFOUND: the feeder lacks the symbol) with a line in
 * err and bars NULL. fn is called from a later turn of the loop, never
 * from history_call_start(), and the call is free again inside it. */
struct history_call;
typedef void (history_fn)(struct history_call *c, int rc, struct bar *bars,
                          size_t n, uint64_t seq, size_t bad,
                          const char *err, void *arg);

struct history_call {
    request_t *rq;                  /* borrowed */
    int ep;
    int busy;                       /* a page in flight */
    struct history_req r, q;        /* as asked; the page in flight */
    struct bar *bars;               /* the pages so far */
    size_t n, cap;
    uint64_t seq;
    size_t bad;
    int pages;
    int timeout_ms;                 /* for each page */
    history_fn *fn;
    void *arg;
};

/* 0, or ERR_IO with a line in err[ERR_LEN] when it could not be sent
 * (fn is not called then). */
int history_call_start(struct history_call *c, request_t *rq, int ep,
                       const struct history_req *r, int timeout_ms,
                       history_fn *fn, void *arg, char *err);
/* Frees what a call holds (the pages of a call dropped by
 * request_destroy()). */
void history_call_free(struct history_call *c);

/* The progress of a warm-up, "history 3,200/11,000 symbols, 29%, about
 * 40 s left", into out[n] (eta_ms < 0: "time left unknown"; done ==
 * total: "done"), as the polygon feeder logs it and `livetrade status`
 * shows it. Returns out. */
char *history_progress(char *out, size_t n, uint64_t done, uint64_t total,
                       int64_t eta_ms);

#endif
