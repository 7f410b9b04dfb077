/* warmup.c -- how a symbol gets its history: the warm-up before it goes
 * live (the last `lookback` bars with signals off), the resume after a
 * restart (from the journal's mark, with the signals of the bars missed
 * while stopped), the filling of a gap in a live symbol's sequence
 * numbers, and the one line that says which symbols start a new run.
 *
 * Per symbol: the engine SUBSCRIBEs first, then asks for the history;
 * bars that arrive meanwhile are held; the history is run with signals
 * suppressed, then the held bars newer than the history go through live.
 * No request blocks the loop: history comes through cfg.fetch (default:
 * history_call_start() over the bus), one request in flight per endpoint
 * of --history, its answer in engine_history_reply(); a symbol waiting
 * for one holds only its own live bars, every other symbol goes on. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "msg_status.h"
#include "proc.h"
#include "util.h"

#define RECOVER_MAX 100000          /* bars fetched to fill one gap */
#define RETRY_MS 1000               /* a symbol whose history failed */
#define ROUTE_MS 5000               /* feeders' status asked again */

/* Steps of a warm-up: which request it waits for. */
enum {
    WS_FIRST,                       /* the history (around the mark) */
    WS_LAST,                        /* the last `lookback` bars, the
                                       mark not being in the history */
    WS_MORE,                        /* more, some came live meanwhile */
    WS_PAGE                         /* the rest of a long stop */
};

static void s_warm_reply(engine_t *self, struct sym *y, int rc,
                         struct bar *bars, size_t n);
static void s_repair_reply(engine_t *self, struct sym *y, int rc,
                           struct bar *bars, size_t n);

/* {==================== requests ============================= */

/* The endpoint at place j of y's order: the symbol's own feeder first
 * (from the feeders' status), then the others in --history order. */
static int s_ep_at(const struct sym *y, int j)
{
    int first = y->hfirst;

    if (first < 0)
        return j;
    if (j == 0)
        return first;
    return j - 1 < first ? j - 1 : j;
}

/* y asks for history r (for `what`, HIST_*): sent by engine_dispatch()
 * as soon as the endpoint is free. */
static void s_ask(engine_t *self, struct sym *y, int what,
                  const struct history_req *r)
{
    struct history_req q = *r;

    y->hwant = what;
    y->hflight = 0;
    y->hreq = q;
    y->hfirst = y->hist_i;
    y->hj = 0;
    y->hrc = ERR_NOTFOUND;
    engine_dispatch(self);
}

/* y's request has its outcome: the asker takes it. */
static void s_done(engine_t *self, struct sym *y, int rc, struct bar *bars,
                   size_t n)
{
    int what = y->hwant;

    y->hwant = HIST_NONE;
    y->hflight = 0;
    if (what == HIST_REPAIR)
        s_repair_reply(self, y, rc, bars, n);
    else
        s_warm_reply(self, y, rc, bars, n);
}

/* One endpoint's answer to y's request: the bars, or the next endpoint
 * in y's order (all of them said ERR_NOTFOUND, or one did not answer:
 * the request's outcome). */
static void s_ep_answer(engine_t *self, struct sym *y, int ep, int rc,
                        struct bar *bars, size_t n, size_t bad,
                        const char *err)
{
    if (rc == ERR_OK) {
        if (bad)
            log_msg(LL_WARN, "%s: %zu invalid bar(s) in history from %s "
                    "skipped", y->run->sym, bad, self->heps[ep]);
        s_done(self, y, ERR_OK, bars, n);
        return;
    }
    free(bars);
    if (proc_stop) {
        s_done(self, y, rc, NULL, 0);      /* stopping: no news */
        return;
    }
    if (rc != ERR_NOTFOUND) {
        /* Rate-limited: a feeder still loading thousands of histories
         * answers "busy" to each symbol's retry. */
        log_limited(&self->lim_hist, LL_WARN, "%s",
                    err ? err : "history: no answer");
        y->hrc = rc;
    } else {
        log_msg(LL_DEBUG, "%s", err ? err : "history: not found");
    }
    if (++y->hj >= self->nheps)
        s_done(self, y, y->hrc, NULL, 0);
}

/* Sends every request waiting whose endpoint is free, in symbol order.
 * Reentrant: an outcome reached inside (a request that could not be
 * sent) may ask again; that is sent by the same call. */
void engine_dispatch(engine_t *self)
{
    char err[ERR_LEN];

    if (self->dispatching) {
        self->redispatch = 1;
        return;
    }
    self->dispatching = 1;
    do {
        self->redispatch = 0;
        for (int k = 0; k < self->nsym; k++) {
            struct sym *y = &self->syms[k];
            int ep, rc;
            if (!y->hwant || y->hflight)
                continue;
            ep = s_ep_at(y, y->hj);
            if (self->ep_sym[ep] != EP_FREE)
                continue;
            rc = self->cfg.fetch(self->cfg.fetch_arg, self, ep,
                                 self->heps[ep], &y->hreq,
                                 HISTORY_TIMEOUT_MS, err);
            if (rc == ERR_OK) {
                self->ep_sym[ep] = k;
                y->hflight = 1;
            } else {
                s_ep_answer(self, y, ep, rc ? rc : ERR_IO, NULL, 0, 0, err);
            }
        }
    } while (self->redispatch);
    self->dispatching = 0;
}

void engine_history_reply(engine_t *self, int ep, int rc, struct bar *bars,
                          size_t n, uint64_t seq, size_t bad,
                          const char *err)
{
    int k = ep >= 0 && ep < self->nheps ? self->ep_sym[ep] : EP_FREE;
    (void)seq;

    if (k < 0) {
        free(bars);                 /* nobody asked: cannot happen */
        return;
    }
    self->ep_sym[ep] = EP_FREE;
    self->syms[k].hflight = 0;
    s_ep_answer(self, &self->syms[k], ep, rc, bars, n, bad, err);
    engine_dispatch(self);
}

/* A feeder's status reply: the symbols it has are routed to it. */
static void s_on_status(request_t *rq, int ep, int rc, const void *reply,
                        size_t len, const char *err, void *arg)
{
    engine_t *self = arg;
    char name[SYM_MAX];
    msgpack_unpacked u;
    const msgpack_object *syms;
    int routed = 0;
    (void)rq; (void)err;

    self->ep_sym[ep] = EP_FREE;
    self->route_wait--;
    if (rc == ERR_OK) {
        self->route_done |= 1u << ep;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, reply, len, NULL) ==
                MSGPACK_UNPACK_SUCCESS &&
            (syms = msg_status_symbols(&u.data)) != NULL) {
            for (uint32_t j = 0; j < syms->via.array.size; j++) {
                int k;
                if (mp_str(&syms->via.array.ptr[j], "sym", name,
                           sizeof name) != 0)
                    continue;
                k = engine_find(self, name);
                if (k >= 0 && self->syms[k].hist_i < 0) {
                    self->syms[k].hist_i = ep;
                    routed++;
                }
            }
        }
        msgpack_unpacked_destroy(&u);
    }
    self->routed += routed;
    if (!self->route_wait && self->routed) {    /* the round is over */
        log_msg(LL_INFO, "history: %d symbol(s) routed to their feeder "
                "from the feeders' status", self->routed);
        self->routed = 0;
    }
    engine_dispatch(self);
}

/* Learns which history endpoint serves each symbol from the feeders'
 * status replies (their "symbols"), so that warm-ups and gap fills ask that
 * feeder first instead of every one in turn: with many symbols over
 * several feeders this divides the requests by the number of feeders.
 * Endpoints that do not answer are asked again later. Returns the status
 * requests in flight: warm-ups wait for them (a few seconds at most). */
int engine_route(engine_t *self)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char err[ERR_LEN];

    if (self->nheps < 2 || !self->rq || mono_ms() < self->route_next)
        return self->route_wait;    /* one feeder: nothing to choose */
    self->route_next = mono_ms() + ROUTE_MS;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_status_pack_request(&pk);
    for (int i = 0; i < self->nheps; i++) {
        if ((self->route_done & (1u << i)) || self->ep_sym[i] != EP_FREE)
            continue;
        if (request_send(self->rq, i, sb.data, sb.size, HISTORY_TIMEOUT_MS,
                         s_on_status, self, err) != 0) {
            log_msg(LL_DEBUG, "%s", err);
            continue;               /* asked again later */
        }
        self->ep_sym[i] = EP_STATUS;
        self->route_wait++;
    }
    msgpack_sbuffer_destroy(&sb);
    return self->route_wait;
}

/* }========================================================== */

/* Symbol y continues the journal's run on the same feed. */
static void s_resumed(engine_t *self, struct sym *y)
{
    y->run_kind = RUN_RESUME;
    self->runs[RUN_RESUME]++;
}

/* Symbol y's run is a new one (kind RUN_NEW_*), not the journal's
 * continued: every signal of it is published. Said in one line for all
 * symbols (s_runs_report). */
static void s_new_run(engine_t *self, struct sym *y, int kind)
{
    char tb[32];

    y->run_kind = kind;
    engine_pend_free(self, y);
    if (!self->runs[kind]++)
        snprintf(self->run_ex[kind], sizeof self->run_ex[kind], "%s, "
                 "marked at %s", y->run->sym,
                 engine_time(tb, sizeof tb, y->mark_t));
}

/* From the tick, once every symbol is live: one line for the symbols
 * whose run is a new one, if any were not said yet. */
void engine_runs_report(engine_t *self)
{
    char line[1024];
    int n = 0, len = 0;

    for (int k = RUN_NEW_PARAMS; k < RUN_KINDS; k++)
        n += self->runs[k];
    if (self->warming || n == self->runs_said)
        return;
    self->runs_said = n;
    len = snprintf(line, sizeof line, "journal %s: a new run for %d of "
                   "the %d symbol(s) it holds; every signal of theirs is "
                   "published:", self->journal_path, n,
                   n + self->runs[RUN_RESUME]);
    if (self->runs[RUN_NEW_PARAMS] && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " %d with "
                        "another strategy or parameters (the journal's: "
                        "%s; now: %s %s);", self->runs[RUN_NEW_PARAMS],
                        self->jparams, strategy_name(engine_strat(self)),
                        strategy_params(engine_strat(self)));
    if (self->runs[RUN_NEW_BACK] && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " %d whose "
                        "feed starts again at or before the journal's last "
                        "bar, a replay (e.g. %s);", self->runs[RUN_NEW_BACK],
                        self->run_ex[RUN_NEW_BACK]);
    if (self->runs[RUN_NEW_FEED] && len < (int)sizeof line)
        len += snprintf(line + len, sizeof line - (size_t)len, " %d whose "
                        "last journalled bar is not in the feeders' history, "
                        "another feed or seed, or history that no longer "
                        "reaches back (e.g. %s);", self->runs[RUN_NEW_FEED],
                        self->run_ex[RUN_NEW_FEED]);
    if (len > 0 && len < (int)sizeof line && line[len - 1] == ';')
        line[len - 1] = '\0';
    log_msg(LL_INFO, "%s", line);
}

/* Without history, the first live bar of y (at time t) tells a replay
 * of the journal's bars from a feed that went on. */
void engine_run_kind_live(engine_t *self, struct sym *y, int64_t t)
{
    if (t <= y->mark_t)
        s_new_run(self, y, RUN_NEW_BACK);
    else
        s_resumed(self, y);
}

/* Symbol y goes live: said first, then the bars held during its
 * warm-up go through live. nohist says why there was no history to warm
 * up on (the line says it plainly), NULL if there was. */
static void s_go_live(engine_t *self, struct sym *y,
                      const char *nohist)
{
    char tb[32];

    y->live = 1;
    self->warming--;
    if (y->warm_bars > 0 || !nohist)
        log_msg(LL_INFO, "%s: live after %lld bars of history%s%s%s%s",
                y->run->sym, (long long)y->warm_bars,
                y->run->last_t >= 0 ? " (last bar " : "",
                y->run->last_t >= 0 ? engine_time(tb, sizeof tb,
                                                  y->run->last_t) : "",
                y->run->last_t >= 0 ? ")" : "",
                y->run->failed ? " -- strategy disabled" : "");
    else
        log_msg(LL_INFO, "%s: live from its first bar (%s)", y->run->sym,
                nohist);
    engine_release(self, y);
    engine_mark(self, y);
}

/* After a restart: where the journal's mark for y is in the history
 * (the same bar: time and close), or -1 if it is not there (another
 * feed, or history that no longer reaches back). */
static int64_t s_resume_point(struct sym *y, const struct bar *bars,
                              size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bars[i].t == y->mark_t) {
            if (bars[i].c == y->mark_c || (isnan(y->mark_c)))
                return y->mark_t;
            break;
        }
    return -1;
}

/* The time of the first bar of y that reached the engine on the bus
 * during its warm-up (held), or INT64_MAX. A bar the history returns
 * from that time on arrived live, so it goes through live: which bars
 * produce signals does not depend on whether the feeder answered before
 * or after publishing them. */
static int64_t s_first_live(const struct sym *y)
{
    return y->nbuf ? y->buf[0].t : INT64_MAX;
}

/* The index of the first of bars[n] at or after live_t (n if none). */
static size_t s_live_index(const struct bar *bars, size_t n, int64_t live_t)
{
    size_t i = n;

    while (i > 0 && bars[i - 1].t >= live_t)
        i--;
    return i;
}

/* A warm-up request failed: y tries again after RETRY_MS. */
static void s_warm_retry(engine_t *self, struct sym *y)
{
    (void)self;
    y->next_try = mono_ms() + RETRY_MS;
}

/* y's warm-up asks for step `step`'s history r. */
static void s_warm_ask(engine_t *self, struct sym *y, int step,
                       const struct history_req *r)
{
    y->wstep = step;
    s_ask(self, y, HIST_WARM, r);
}

/* One warm-up attempt for a symbol begins: its first request. The last
 * `lookback` bars go through with signals off. After a restart (a mark in
 * the journal) the history starts `lookback` bars before the mark instead,
 * and the bars after the mark -- those that came while the engine was
 * stopped -- go through live, so their signals are published (the ones
 * the journal already holds are not published again). */
static void s_warm(engine_t *self, struct sym *y)
{
    struct history_req r;

    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN && y->mark_params == 0)
        s_new_run(self, y, RUN_NEW_PARAMS);
    if (!self->nheps) {
        s_go_live(self, y, "no history endpoint");
        return;
    }
    memset(&r, 0, sizeof r);
    snprintf(r.sym, sizeof r.sym, "%s", y->run->sym);
    r.n = self->lb;
    r.since = -1;
    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN && y->mark_tf > 0) {
        r.since = y->mark_t - (self->lb + 1) * y->mark_tf * 1000;
        r.n = HISTORY_MAX;
    }
    y->wresume = -1;
    y->wagain = 0;
    y->wsig0 = self->sig_seq;
    y->wred0 = self->rederived;
    s_warm_ask(self, y, WS_FIRST, &r);
}

/* The end of y's warm-up: it goes live. */
static void s_warm_end(engine_t *self, struct sym *y)
{
    if (y->wresume >= 0) {
        char tb[32];
        self->caught_up += self->sig_seq - y->wsig0;
        log_msg(LL_INFO, "%s: caught up from the journal's mark (%s): "
                "%llu signal(s) of bars missed while stopped; %llu the "
                "journal already held not published again", y->run->sym,
                engine_time(tb, sizeof tb, y->wresume),
                (unsigned long long)(self->sig_seq - y->wsig0),
                (unsigned long long)(self->rederived - y->wred0));
    }
    s_go_live(self, y, y->wrc == ERR_NOTFOUND ? "no feeder has history for "
              "it" : y->warm_bars ? NULL : "its feeder has no history of "
              "it yet");
}

/* History bars[first..n) go through y's strategy: those from the first
 * live bar on (or after the resume point) live; then the rest of a long
 * stop is asked for, page by page, or y goes live. */
static void s_warm_feed(engine_t *self, struct sym *y, struct bar *bars,
                        size_t n, size_t first)
{
    struct history_req r = y->hreq;

    for (size_t i = first; i < n; i++)
        engine_feed(self, y, &bars[i], (y->wresume >= 0 &&
                                        bars[i].t > y->wresume) ||
                    bars[i].t >= y->wlive_t);
    if (n) {
        y->last_pub = bars[n - 1].pub;
        y->last_seq = bars[n - 1].seq;
        y->joining = 1;
    }
    y->warm_bars += (int64_t)(n - first);
    free(bars);
    /* A long stop: the rest of the missed bars, page by page. */
    if (y->wresume < 0 || (int64_t)n < r.n || proc_stop) {
        s_warm_end(self, y);
        return;
    }
    r.since = y->run->last_t;
    s_warm_ask(self, y, WS_PAGE, &r);
}

/* The last `lookback` bars before the first one that came live; more are
 * asked for when the feeder published some of the asked-for bars live
 * before it answered. */
static void s_warm_last(engine_t *self, struct sym *y, struct bar *bars,
                        size_t n)
{
    struct history_req r = y->hreq;
    size_t i0 = s_live_index(bars, n, y->wlive_t);
    size_t first = i0 > (size_t)self->lb ? i0 - (size_t)self->lb : 0;

    if (y->wrc != ERR_OK || i0 >= (size_t)self->lb || (int64_t)n < r.n ||
        r.since >= 0 || y->wagain == 3 || r.n >= HISTORY_MAX) {
        s_warm_feed(self, y, bars, n, first);
        return;
    }
    free(bars);
    r.n = self->lb + (int64_t)(n - i0) + 64;
    if (r.n > HISTORY_MAX)
        r.n = HISTORY_MAX;
    y->wagain++;
    s_warm_ask(self, y, WS_MORE, &r);
}

/* The answer to a warm-up request of y (its step in y->wstep). */
static void s_warm_reply(engine_t *self, struct sym *y, int rc,
                         struct bar *bars, size_t n)
{
    const struct history_req *r = &y->hreq;

    if (y->wstep == WS_PAGE) {
        if (rc != ERR_OK)
            s_warm_end(self, y);
        else
            s_warm_feed(self, y, bars, n, 0);
        return;
    }
    if (rc != ERR_OK && (y->wstep != WS_FIRST || rc != ERR_NOTFOUND)) {
        if (y->wstep == WS_FIRST && !proc_stop && !y->waited)
            log_msg(LL_INFO, "%s: waiting for history from %s (asked "
                    "again until it comes)", y->run->sym, self->cfg.hist_ep);
        y->waited = 1;
        s_warm_retry(self, y);
        return;
    }
    y->wlive_t = s_first_live(y);
    if (y->wstep == WS_FIRST) {
        y->wrc = rc;
        if (rc == ERR_NOTFOUND)
            log_msg(LL_WARN, "%s: no feeder has history for it; going live "
                    "without warm-up", y->run->sym);
    }
    if (y->wstep == WS_FIRST && y->mark_t >= 0 &&
        y->run_kind == RUN_UNKNOWN) {
        /* The journal's run goes on only if this is the same feed: its
         * mark is in the history, and the feed did not start again at or
         * before it (a replay of the same bars is a new run). */
        if (y->wlive_t <= y->mark_t)
            s_new_run(self, y, RUN_NEW_BACK);
        else if ((y->wresume = s_resume_point(y, bars, n)) < 0)
            s_new_run(self, y, RUN_NEW_FEED);
        else
            s_resumed(self, y);
        if (y->wresume < 0 && r->since >= 0 && rc == ERR_OK) {
            /* The history asked for was around the mark: ask again for
             * the last `lookback` bars. */
            struct history_req q = *r;
            free(bars);
            q.since = -1;
            q.n = self->lb;
            s_warm_ask(self, y, WS_LAST, &q);
            return;
        }
    }
    if (y->wresume >= 0)
        s_warm_feed(self, y, bars, n, 0);
    else
        s_warm_last(self, y, bars, n);
}

/* {==================== gaps ================================= */

/* Fills a gap in a live symbol from history, emitting signals: b, the
 * bar that revealed it, is held with the bars that follow until the
 * history has come (s_repair_reply). A gap found while joining (the
 * first live bar after warm-up) is expected: it is said at INFO and
 * counted apart from the gaps. 0, or -1 if b could not be held (it goes
 * through at once, the gap left). */
int engine_recover(engine_t *self, struct sym *y, const struct bar *b,
                   uint64_t missing, int joining)
{
    struct history_req r;

    if (engine_hold(self, y, b))
        return -1;
    y->repairing = 1;
    y->rjoining = joining;
    y->rmissing = missing;
    memset(&r, 0, sizeof r);
    snprintf(r.sym, sizeof r.sym, "%s", y->run->sym);
    r.since = y->run->last_t;
    r.n = missing < RECOVER_MAX ? (int64_t)missing : RECOVER_MAX;
    s_ask(self, y, HIST_REPAIR, &r);
    return 0;
}

/* The gap's history: its bars go through live, then the held ones, the
 * first (the bar that revealed the gap) whether or not the gap was
 * filled. */
static void s_repair_reply(engine_t *self, struct sym *y, int rc,
                           struct bar *bars, size_t n)
{
    uint64_t missing = y->rmissing;
    struct bar b;

    y->repairing = 0;
    if (rc != ERR_OK) {
        if (y->rjoining) {          /* lost after all: a gap */
            self->gaps++;
            self->missed += missing;
        }
        if (!proc_stop)
            log_msg(LL_WARN, "%s: could not fill a gap of %llu bar(s) from "
                    "history", y->run->sym, (unsigned long long)missing);
        n = 0;
    } else {
        for (size_t i = 0; i < n; i++)
            engine_feed(self, y, &bars[i], 1);
        if (n) {
            y->last_pub = bars[n - 1].pub;
            y->last_seq = bars[n - 1].seq;
        }
        if (y->rjoining) {
            self->joined += n;
            log_msg(LL_INFO, "%s: %zu bar(s) published while the engine "
                    "was subscribing, taken from history (expected at "
                    "start)", y->run->sym, n);
        } else {
            self->recovered += n;
            log_msg(LL_INFO, "%s: filled a gap with %zu bar(s) from "
                    "history", y->run->sym, n);
        }
    }
    free(bars);
    if (!y->nbuf)
        return;
    b = y->buf[0];
    memmove(y->buf, y->buf + 1, --y->nbuf * sizeof *y->buf);
    y->last_pub = b.pub;
    if (b.t <= y->run->last_t) {
        y->last_seq = b.seq;        /* the history brought it too */
    } else {
        y->last_seq = b.seq - 1;    /* the gap is behind it now */
        engine_live_bar(self, y, &b);
    }
    engine_release(self, y);
}

/* }========================================================== */

/* Warm-up work, every WARM_TICK_MS while symbols are warming: each
 * symbol due asks for its history (sent as its endpoint is free, the
 * answers run from the loop), once the feeders' status has said which
 * feeder has which symbol. */
void engine_warm_step(engine_t *self)
{
    if (!self->warming)
        return;
    if (self->pub.subscribers < self->cfg.wait_subs) {
        if (!self->wait_logged++)
            log_msg(LL_INFO, "waiting for %lld signal subscriber(s) before "
                    "going live", (long long)self->cfg.wait_subs);
        return;
    }
    if (engine_route(self))
        return;                     /* the status replies first */
    for (int k = 0; k < self->nsym && !proc_stop; k++) {
        struct sym *y = &self->syms[k];
        if (!y->live && !y->hwant && mono_ms() >= y->next_try)
            s_warm(self, y);
    }
}
