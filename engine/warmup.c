/* warmup.c -- how a symbol gets its history: the warm-up before it goes
 * live (the last `lookback` bars with signals off), the resume after a
 * restart (from the journal's mark, with the signals of the bars missed
 * while stopped), the filling of a gap in a live symbol's sequence
 * numbers, and the one line that says which symbols start a new run.
 *
 * Per symbol: the engine SUBSCRIBEs first, then asks for the history;
 * bars that arrive meanwhile are buffered; the history is run with
 * signals suppressed, then the buffered bars newer than the history go
 * through live. History comes through cfg.fetch (default history_fetch()
 * over the bus), one endpoint of --history at a time. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "proc.h"
#include "util.h"

#define RECOVER_MAX 100000          /* bars fetched to fill one gap */
#define WARM_SLICE_MS 50            /* warm-up work per tick, at most */
#define RETRY_MS 1000               /* a symbol whose history failed */

/* Asks each history endpoint in turn. Returns ERR_OK with the bars,
 * ERR_NOTFOUND if every endpoint answered that it lacks the symbol, or
 * another error if some endpoint did not answer. */
static int s_history(engine_t *self, const struct history_req *r,
                     struct bar **bars, size_t *n, uint64_t *seq)
{
    char err[ERR_LEN];
    int rc = ERR_NOTFOUND, k = engine_find(self, r->sym);
    int first = k >= 0 ? self->syms[k].hist_i : -1;
    char *const *eps = self->heps;

    /* The symbol's own feeder first (s_route), then the others. */
    for (int j = first >= 0 ? -1 : 0; j < self->nheps; j++) {
        int i = j < 0 ? first : j;
        size_t bad;
        int r1;
        if (j >= 0 && i == first)
            continue;
        r1 = self->cfg.fetch(self->cfg.fetch_arg, eps[i], r,
                             HISTORY_TIMEOUT_MS, bars, n, seq, &bad, err);
        if (r1 == ERR_OK) {
            if (bad)
                log_msg(LL_WARN, "%s: %zu invalid bar(s) in history from "
                        "%s skipped", r->sym, bad, eps[i]);
            return ERR_OK;
        }
        if (proc_stop)
            return r1 == ERR_OK ? ERR_TIMEOUT : r1;  /* stopping: no news */
        if (r1 != ERR_NOTFOUND) {
            log_msg(LL_WARN, "%s", err);
            rc = r1;
        } else {
            log_msg(LL_DEBUG, "%s", err);
        }
    }
    return rc;
}

/* Learns which history endpoint serves each symbol from the feeders'
 * status replies (their "syms"), so that warm-ups and gap fills ask that
 * feeder first instead of every one in turn: with many symbols over
 * several feeders this divides the requests by the number of feeders.
 * Endpoints that do not answer are asked again on a later call. */
static void s_route(engine_t *self)
{
    char err[ERR_LEN], name[SYM_MAX];
    int routed = 0;

    if (self->nheps < 2 || mono_ms() < self->route_next)
        return;                     /* one feeder: nothing to choose */
    self->route_next = mono_ms() + 5000;
    for (int i = 0; i < self->nheps; i++) {
        char *reply = NULL;
        size_t len = 0;
        msgpack_unpacked u;
        const msgpack_object *syms;
        if (self->route_done & (1u << i))
            continue;
        if (bus_request_status(self->heps[i], BUS_FEEDER, HISTORY_TIMEOUT_MS,
                               &reply, &len, err) != 0)
            continue;               /* asked again later */
        self->route_done |= 1u << i;
        msgpack_unpacked_init(&u);
        if (msgpack_unpack_next(&u, reply, len, NULL) ==
                MSGPACK_UNPACK_SUCCESS &&
            (syms = mp_get(&u.data, "syms")) != NULL &&
            syms->type == MSGPACK_OBJECT_ARRAY) {
            for (uint32_t j = 0; j < syms->via.array.size; j++) {
                int k;
                if (mp_str(&syms->via.array.ptr[j], "sym", name,
                           sizeof name) != 0)
                    continue;
                k = engine_find(self, name);
                if (k >= 0 && self->syms[k].hist_i < 0) {
                    self->syms[k].hist_i = i;
                    routed++;
                }
            }
        }
        msgpack_unpacked_destroy(&u);
        free(reply);
    }
    if (routed)
        log_msg(LL_INFO, "history: %d symbol(s) routed to their feeder from "
                "the feeders' status", routed);
}

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

/* Symbol y goes live: said first, then the bars buffered during its
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
    for (size_t i = 0; i < y->nbuf; i++)
        engine_live_bar(self, y, &y->buf[i]);
    free(y->buf);
    y->buf = NULL;
    y->nbuf = y->capbuf = 0;
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
 * during its warm-up (buffered, or read while the history request
 * waited), or INT64_MAX. A bar the history returns from that time on
 * arrived live, so it goes through live: which bars produce signals does
 * not depend on whether the feeder answered before or after publishing
 * them. */
static int64_t s_first_live(engine_t *self, struct sym *y)
{
    int64_t t = y->nbuf ? y->buf[0].t : INT64_MAX;
    int64_t d = engine_deferred_first_t(self, y->run->sym);

    return d < t ? d : t;
}

/* The index of the first of bars[n] at or after live_t (n if none). */
static size_t s_live_index(const struct bar *bars, size_t n, int64_t live_t)
{
    size_t i = n;

    while (i > 0 && bars[i - 1].t >= live_t)
        i--;
    return i;
}

/* One warm-up attempt for a symbol; -1 if no feeder answered. The last
 * `lookback` bars go through with signals off. After a restart (a mark in
 * the journal) the history starts `lookback` bars before the mark instead,
 * and the bars after the mark -- those that came while the engine was
 * stopped -- go through live, so their signals are published (the ones
 * the journal already holds are not published again). */
static int s_warm(engine_t *self, struct sym *y)
{
    struct history_req r;
    struct bar *bars = NULL;
    size_t n = 0, first = 0;
    uint64_t seq, sig0 = self->sig_seq;
    int64_t resume = -1, live_t;
    uint64_t red0 = self->rederived;
    int rc;

    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN && y->mark_params == 0)
        s_new_run(self, y, RUN_NEW_PARAMS);
    if (!self->cfg.hist_ep || !*self->cfg.hist_ep) {
        s_go_live(self, y, "no history endpoint");
        return 0;
    }
    memset(&r, 0, sizeof r);
    snprintf(r.sym, sizeof r.sym, "%s", y->run->sym);
    r.n = self->lb;
    r.since = -1;
    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN && y->mark_tf > 0) {
        r.since = y->mark_t - (self->lb + 1) * y->mark_tf * 1000;
        r.n = HISTORY_MAX;
    }
    rc = s_history(self, &r, &bars, &n, &seq);
    if (rc == ERR_NOTFOUND) {
        log_msg(LL_WARN, "%s: no feeder has history for it; going live "
                "without warm-up", y->run->sym);
    } else if (rc != ERR_OK) {
        if (!proc_stop)
            log_msg(LL_INFO, "%s: waiting for history from %s",
                    y->run->sym, self->cfg.hist_ep);
        y->next_try = mono_ms() + RETRY_MS;
        return -1;
    }
    live_t = s_first_live(self, y);
    if (y->mark_t >= 0 && y->run_kind == RUN_UNKNOWN) {
        /* The journal's run goes on only if this is the same feed: its
         * mark is in the history, and the feed did not start again at or
         * before it (a replay of the same bars is a new run). */
        if (live_t <= y->mark_t)
            s_new_run(self, y, RUN_NEW_BACK);
        else if ((resume = s_resume_point(y, bars, n)) < 0)
            s_new_run(self, y, RUN_NEW_FEED);
        else
            s_resumed(self, y);
        if (resume < 0 && r.since >= 0 && rc == ERR_OK) {
            /* The history asked for was around the mark: ask again for
             * the last `lookback` bars. */
            free(bars);
            bars = NULL;
            n = 0;
            r.since = -1;
            r.n = self->lb;
            rc = s_history(self, &r, &bars, &n, &seq);
            if (rc != ERR_OK) {
                y->next_try = mono_ms() + RETRY_MS;
                return -1;
            }
            live_t = s_first_live(self, y);
        }
    }
    if (resume < 0) {
        /* `lookback` bars before the first one that came live; ask for
         * more when the feeder published some of the asked-for bars
         * live before it answered. */
        for (int again = 0; rc == ERR_OK; again++) {
            size_t i0 = s_live_index(bars, n, live_t);
            first = i0 > (size_t)self->lb ? i0 - (size_t)self->lb : 0;
            if (i0 >= (size_t)self->lb || (int64_t)n < r.n || r.since >= 0 ||
                again == 3 || r.n >= HISTORY_MAX)
                break;
            r.n = self->lb + (int64_t)(n - i0) + 64;
            if (r.n > HISTORY_MAX)
                r.n = HISTORY_MAX;
            free(bars);
            bars = NULL;
            n = 0;
            if (s_history(self, &r, &bars, &n, &seq) != ERR_OK) {
                y->next_try = mono_ms() + RETRY_MS;
                return -1;
            }
            live_t = s_first_live(self, y);
        }
    }
    for (;;) {
        for (size_t i = first; i < n; i++)
            engine_feed(self, y, &bars[i], (resume >= 0 &&
                                            bars[i].t > resume) ||
                        bars[i].t >= live_t);
        if (n) {
            y->last_pub = bars[n - 1].pub;
            y->last_seq = bars[n - 1].seq;
            y->joining = 1;
        }
        y->warm_bars += (int64_t)(n - first);
        free(bars);
        bars = NULL;
        /* A long stop: the rest of the missed bars, page by page. */
        if (resume < 0 || (int64_t)n < r.n || proc_stop)
            break;
        r.since = y->run->last_t;
        first = 0;
        if (s_history(self, &r, &bars, &n, &seq) != ERR_OK)
            break;
    }
    if (resume >= 0) {
        self->caught_up += self->sig_seq - sig0;
        char tb[32];
        log_msg(LL_INFO, "%s: caught up from the journal's mark (%s): "
                "%llu signal(s) of bars missed while stopped; %llu the "
                "journal already held not published again", y->run->sym,
                engine_time(tb, sizeof tb, resume),
                (unsigned long long)(self->sig_seq - sig0),
                (unsigned long long)(self->rederived - red0));
    }
    s_go_live(self, y, rc == ERR_NOTFOUND ? "no feeder has history for it" :
              y->warm_bars ? NULL : "its feeder has no history of it yet");
    return 0;
}

/* Fills a gap in a live symbol from history, emitting signals. A gap
 * found while joining (the first live bar after warm-up) is expected:
 * it is said at INFO and counted apart from the gaps. */
void engine_recover(engine_t *self, struct sym *y, uint64_t missing,
                    int joining)
{
    struct history_req r;
    struct bar *bars = NULL;
    size_t n = 0;
    uint64_t seq;

    memset(&r, 0, sizeof r);
    snprintf(r.sym, sizeof r.sym, "%s", y->run->sym);
    r.since = y->run->last_t;
    r.n = missing < RECOVER_MAX ? (int64_t)missing : RECOVER_MAX;
    if (s_history(self, &r, &bars, &n, &seq) != ERR_OK) {
        if (joining) {              /* lost after all: a gap */
            self->gaps++;
            self->missed += missing;
        }
        if (!proc_stop)
            log_msg(LL_WARN, "%s: could not fill a gap of %llu bar(s) from "
                    "history", y->run->sym, (unsigned long long)missing);
        return;
    }
    for (size_t i = 0; i < n; i++)
        engine_feed(self, y, &bars[i], 1);
    if (n) {
        y->last_pub = bars[n - 1].pub;
        y->last_seq = bars[n - 1].seq;
    }
    free(bars);
    if (joining) {
        self->joined += n;
        log_msg(LL_INFO, "%s: %zu bar(s) published while the engine was "
                "subscribing, taken from history (expected at start)",
                y->run->sym, n);
        return;
    }
    self->recovered += n;
    log_msg(LL_INFO, "%s: filled a gap with %zu bar(s) from history",
            y->run->sym, n);
}

/* Warm-up work, every WARM_TICK_MS while symbols are warming: at most
 * WARM_SLICE_MS at a time, so bars keep being read in between, but often,
 * so that a thousand symbols warm up while their feeders publish at full
 * speed. */
void engine_warm_step(engine_t *self)
{
    if (!self->warming)
        return;
    if (self->pub.subscribers < self->cfg.wait_subs) {
        if (!self->wait_logged++)
            log_msg(LL_INFO, "waiting for %lld signal subscriber(s) before "
                    "going live", (long long)self->cfg.wait_subs);
    } else {
        int64_t now = mono_ms();
        /* After one symbol's request goes unanswered, leave the others
         * for the next tick rather than wait once per symbol; and give
         * the bar subscription its turn every WARM_SLICE_MS, so that
         * feeders are never pushed back by an engine warming up. */
        s_route(self);
        for (int k = 0; k < self->nsym && !proc_stop; k++) {
            if (!self->syms[k].live && now >= self->syms[k].next_try &&
                s_warm(self, &self->syms[k]) < 0)
                break;
            if (mono_ms() - now >= WARM_SLICE_MS)
                break;
        }
    }
}

