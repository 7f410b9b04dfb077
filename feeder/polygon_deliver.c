/* polygon_deliver.c -- the polygon source's live bars on their way to the
 * feeder (polygon_int.h): gaps filled through REST, bars held behind a
 * gap, buckets of minutes for longer timeframes.
 *
 * Ordering: every connection, the first included, leaves each symbol
 * "pending". The first WebSocket bar of a pending symbol that is more
 * than one timeframe after the last bar published opens a gap: the bars
 * in between are asked of REST (polygon_worker.h, on its own thread, so
 * the WebSocket keeps being read meanwhile) and that bar, with every later
 * one of the symbol, is held (at most GAP_HOLD_MAX) until the answer: the
 * gap's bars go out first, then the held ones, in order. Other symbols
 * stream on. A symbol that has no history yet is not filled (there is
 * nothing to fill from). A reconnect while a gap is open widens it over
 * the bars missed again (REST brings the held ones too).
 *
 * A gap fill that fails with a transient error (5xx, 429, transport, a bad
 * body; not 401/403) is tried again later from the tick, up to GAP_TRIES
 * times with a doubling delay (GAP_RETRY_MS first, GAP_RETRY_MAX_MS at
 * most; LIVETRADE_POLYGON_GAP_RETRY_MS sets the first delay). After the
 * last try (or with the hold full) one WARN line gives the range, the gap
 * is counted in backfill_errors and the held bars go out after it.
 *
 * Timeframes above a minute (multiples of 60 s) are built from AM.* minute
 * bars: open of the first, high max, low min, close of the last, volume
 * summed, vw volume-weighted, n summed (-1 if any is unknown), in buckets
 * aligned to the epoch. A bucket goes out when its last minute arrives,
 * when a minute of a later bucket arrives, or when the feed clock (the end
 * of the newest minute seen, advanced by the monotonic clock) is a minute
 * past the bucket's end. A bucket that a (re)connect cut into is taken
 * from REST instead (multiplier N, minute), as history and gap fills are. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "log.h"
#include "polygon_int.h"
#include "proc.h"
#include "util.h"

int polygon_emit(struct polygon_src *ps, int i, const struct bar *b,
                 int live)
{
    int rc = ps->emit(ps->emit_arg, i, b, live);

    if (rc == 0) {
        ps->sym[i].last = b->t;
        ps->sym[i].last_bar = *b;
        polygon_hist_record(ps, i, b);
    }
    return rc;
}

static void s_deliver(struct polygon_src *ps, int i, const struct bar *b);

/* A bar b that does not advance past ref_t (the last bar published, or
 * held behind a gap; ref is that bar, or NULL if none is at ref_t): a
 * correction when it has other values, out of order when older, else a
 * duplicate. Counted; none is published. */
static void s_stale(struct polygon_src *ps, const struct bar *b,
                    int64_t ref_t, const struct bar *ref)
{
    if (b->t == ref_t && ref && (b->o != ref->o || b->h != ref->h ||
                                 b->l != ref->l || b->c != ref->c ||
                                 b->vol != ref->vol)) {
        ps->corrections++;
        log_limited(&ps->corr_lim, LL_WARN, "polygon: %s: correction of "
                    "the bar at %lld (c %.4f -> %.4f, v %.0f -> %.0f) not "
                    "republished (%llu so far)", b->sym, (long long)b->t,
                    ref->c, b->c, ref->vol, b->vol,
                    (unsigned long long)ps->corrections);
        return;
    }
    if (b->t < ref_t) {
        /* Older than what the bus already has (or will have first). */
        ps->old++;
        log_limited(&ps->old_lim, LL_WARN, "polygon: %s: bar at %lld is "
                    "older than the last published (%lld); dropped (%llu so "
                    "far)", b->sym, (long long)b->t, (long long)ref_t,
                    (unsigned long long)ps->old);
        return;
    }
    ps->dups++;
    log_msg(LL_DEBUG, "polygon: %s: bar at %lld already published",
            b->sym, (long long)b->t);
}

/* {==================== gaps ====================== */

/* Errors worth another try later: not a refused key or plan, not a
 * request the server cannot serve. */
static int s_is_transient(int rc)
{
    return rc == ERR_IO || rc == ERR_TIMEOUT || rc == ERR_PARSE;
}

/* Ends symbol i's gap: publishes the held bars, oldest first. */
static void s_gap_release(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];
    size_t n = s->nheld;
    int pending = s->pending;       /* a reconnect with no bar since */

    s->gap_to = 0;
    s->gap_tries = 0;
    s->asking = 0;                  /* an answer still out is ignored */
    s->nheld = 0;
    s->pending = 0;                 /* so nothing below holds or fills */
    for (size_t j = 0; j < n && !ps->fatal; j++)
        s_deliver(ps, i, &s->held[j]);
    s->pending = pending;
}

/* Symbol i's gap stays: one line, counted, the held bars go out. */
static void s_gap_fail(struct polygon_src *ps, int i, const char *why)
{
    struct psym *s = &ps->sym[i];

    ps->fill_errors++;
    s->cache_ok = 0;                /* the record would have a hole */
    log_msg(LL_WARN, "polygon: %s: gap from %lld to %lld not filled after "
            "%d tries (%s); publishing the %zu bars held after it",
            s->name, (long long)s->gap_from, (long long)s->gap_to,
            s->gap_tries + 1, why, s->nheld);
    s_gap_release(ps, i);
}

/* The delay before later try number k (0 = first). */
static int64_t s_gap_delay(const struct polygon_src *ps, int k)
{
    int64_t d = ps->gap_retry_ms;

    while (k-- > 0 && d < GAP_RETRY_MAX_MS)
        d *= 2;
    return d < GAP_RETRY_MAX_MS ? d : GAP_RETRY_MAX_MS;
}

/* Asks REST for symbol i's open gap, [gap_from, gap_to). */
static void s_gap_ask(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];
    struct polygon_ask q = {
        .tag = i, .gen = ++s->ask_gen, .mult = ps->mult,
        .timespan = ps->timespan, .from_ms = s->gap_from,
        .to_ms = s->gap_to - 1
    };

    snprintf(q.sym, sizeof q.sym, "%s", s->rest);
    if (polygon_ask(ps, &q, 0) < 0)
        return;                     /* fatal: the worker stopped */
    s->asking = 1;
    s->ask_to = s->gap_to;
}

/* Opens a gap over [from, to_excl) for symbol i and asks REST for it. */
static void s_fill(struct polygon_src *ps, int i, int64_t from,
                   int64_t to_excl)
{
    struct psym *s = &ps->sym[i];

    ps->fills++;
    s->gap_from = from;
    s->gap_to = to_excl;
    s->gap_tries = 0;
    s->nheld = 0;
    s_gap_ask(ps, i);
}

/* The bars REST answered for symbol i's gap: those after the last go out;
 * then the held bars, unless the gap widened meanwhile (asked again). */
static void s_gap_filled(struct polygon_src *ps, int i,
                         const struct polygon_answer *a)
{
    struct psym *s = &ps->sym[i];
    size_t sent = 0;

    for (size_t j = 0; j < a->n; j++)
        if (a->bars[j].t > s->last && a->bars[j].t < s->ask_to &&
            polygon_emit(ps, i, &a->bars[j], 1) == 0)
            sent++;
    ps->filled += sent;
    log_msg(LL_INFO, "polygon: %s: gap filled through REST: %zu bars "
            "from %lld to %lld", s->name, sent, (long long)s->gap_from,
            (long long)s->ask_to);
    if (s->cut_t >= 0 && s->cut_t < s->ask_to) {
        if (s->last < s->cut_t)
            log_msg(LL_WARN, "polygon: %s: bar at %lld incomplete (cut by "
                    "a reconnect) and not served by REST: not published",
                    s->name, (long long)s->cut_t);
        s->cut_t = -1;
    }
    if (s->gap_to > s->ask_to) {    /* widened by a reconnect */
        s->gap_from = s->ask_to;
        s_gap_ask(ps, i);
        return;
    }
    if (s->gap_tries)
        log_msg(LL_INFO, "polygon: %s: gap filled on try %d; %zu held "
                "bars follow", s->name, s->gap_tries + 1, s->nheld);
    s_gap_release(ps, i);
}

/* One answer of the REST worker. */
static void s_answer(struct polygon_src *ps, const struct polygon_answer *a)
{
    struct psym *s;
    int64_t delay;

    ps->fill_requests += a->requests;
    if (a->tag < 0 || a->tag >= ps->nsym)
        return;
    s = &ps->sym[a->tag];
    if (!s->asking || a->gen != s->ask_gen)
        return;                     /* the gap was given up meanwhile */
    s->asking = 0;
    if (!a->rc) {
        s_gap_filled(ps, a->tag, a);
        return;
    }
    if (polygon_is_auth(a->rc)) {
        ps->fill_errors++;
        polygon_fatal(ps, a->err);
        return;
    }
    if (!s_is_transient(a->rc) || s->gap_tries >= GAP_TRIES || proc_stop) {
        s_gap_fail(ps, a->tag, a->err);
        return;
    }
    delay = s_gap_delay(ps, s->gap_tries);
    s->gap_next = mono_ms() + delay;
    if (!s->gap_tries)
        log_msg(LL_WARN, "polygon: %s: gap from %lld to %lld not filled "
                "yet: %s; trying again in %lld ms, the bars after it held",
                s->name, (long long)s->gap_from, (long long)s->gap_to,
                a->err, (long long)delay);
    else
        log_msg(LL_WARN, "polygon: %s: gap from %lld to %lld not filled on "
                "try %d: %s; trying again in %lld ms", s->name,
                (long long)s->gap_from, (long long)s->gap_to,
                s->gap_tries + 1, a->err, (long long)delay);
}

void polygon_on_answer(loop_t *loop, void *sock, int fd, void *arg)
{
    struct polygon_src *ps = arg;
    struct polygon_answer a;
    int k = 0;

    (void)loop;
    (void)fd;
    while (k < ps->nworkers && polygon_worker_socket(ps->workers[k]) != sock)
        k++;
    if (k == ps->nworkers)
        return;
    while (polygon_worker_take(ps->workers[k], &a) == 1) {
        ps->busy[k]--;
        if (a.kind == POLYGON_ASK_HISTORY)
            ps->hist_busy[k]--;
        if (!ps->fatal && a.kind == POLYGON_ASK_HISTORY)
            polygon_hist_answer(ps, &a);
        else if (!ps->fatal)
            s_answer(ps, &a);
        free(a.bars);
    }
}

void polygon_gaps_due(struct polygon_src *ps, int64_t now)
{
    for (int i = 0; i < ps->nsym && !ps->fatal; i++) {
        struct psym *s = &ps->sym[i];
        if (!s->gap_to || s->asking || now < s->gap_next)
            continue;
        s->gap_tries++;
        ps->fill_retries++;
        s_gap_ask(ps, i);
    }
}

/* Keeps bar b of symbol i, whose gap is open, for after the gap. A new
 * gap after a reconnect widens the open one (REST then brings the held
 * bars too). */
static void s_hold(struct polygon_src *ps, int i, const struct bar *b)
{
    struct psym *s = &ps->sym[i];
    int64_t ref = s->nheld ? s->held[s->nheld - 1].t : s->gap_to - ps->tf_ms;

    if (s->pending) {
        s->pending = 0;
        if (b->t > ref + ps->tf_ms) {
            s->gap_to = b->t;
            s->nheld = 0;
            ref = b->t - ps->tf_ms;
        }
    }
    if (b->t <= s->last) {
        s_stale(ps, b, s->last, &s->last_bar);
        return;
    }
    if (b->t <= ref) {              /* in the gap, or held already */
        s_stale(ps, b, ref, s->nheld ? &s->held[s->nheld - 1] : NULL);
        return;
    }
    if (!s->held)
        s->held = malloc(GAP_HOLD_MAX * sizeof *s->held);
    if (!s->held || s->nheld == GAP_HOLD_MAX) {
        s_gap_fail(ps, i, s->held ? "too many bars held" : "out of memory");
        if (!ps->fatal)
            s_deliver(ps, i, b);
        return;
    }
    s->held[s->nheld++] = *b;
}

/* }========================================================== */

/* Publishes a complete bar of symbol i (from the WebSocket, or a bucket
 * of them): opens a gap before it first, after a (re)connect; a bar that
 * does not advance is a duplicate or a correction, not published. */
static void s_deliver(struct polygon_src *ps, int i, const struct bar *b)
{
    struct psym *s = &ps->sym[i];

    if (s->gap_to) {
        s_hold(ps, i, b);
        return;
    }
    if (s->pending) {
        s->pending = 0;
        if (s->last >= 0 && b->t > s->last + ps->tf_ms) {
            s_fill(ps, i, s->last + ps->tf_ms, b->t);
            if (!ps->fatal)
                s_hold(ps, i, b);
            return;
        }
    }
    if (b->t > s->last) {
        if (polygon_emit(ps, i, b, 1) == 0)
            ps->live++;
        return;
    }
    s_stale(ps, b, s->last, &s->last_bar);
}

/* {==================== buckets (tf > 60 s) ====================== */

/* Sends symbol i's bucket on: as built, or from REST when a (re)connect
 * cut into it (the fill then covers every bar up to and with it). */
static void s_agg_flush(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];
    struct bar b = s->agg;

    s->agg_n = 0;
    if (!s->agg_partial) {
        s_deliver(ps, i, &b);
        return;
    }
    s->agg_partial = 0;
    s->pending = 0;
    if (b.t <= s->last)
        return;
    s->cut_t = b.t;
    if (s->gap_to) {                /* widen the open gap over it */
        if (b.t + ps->tf_ms > s->gap_to) {
            s->gap_to = b.t + ps->tf_ms;
            s->nheld = 0;
        }
        return;
    }
    s_fill(ps, i, s->last >= 0 ? s->last + ps->tf_ms : b.t,
           b.t + ps->tf_ms);
}

/* Merges one WebSocket minute bar of symbol i into its bucket. */
static void s_agg_minute(struct polygon_src *ps, int i, const struct bar *m)
{
    struct psym *s = &ps->sym[i];
    struct bar *a = &s->agg;
    int64_t start = m->t - m->t % ps->tf_ms;

    if (m->t + MINUTE_MS > ps->feed_t) {
        ps->feed_t = m->t + MINUTE_MS;
        ps->feed_mono = mono_ms();
    }
    if (s->agg_n && start > a->t)
        s_agg_flush(ps, i);
    if (ps->fatal)
        return;
    if (s->agg_n && (start < a->t || m->t <= s->agg_last)) {
        ps->dups++;                 /* a minute already merged or sent */
        return;
    }
    if (!s->agg_n) {
        if (start <= s->last) {
            ps->dups++;             /* its bucket is out already */
            return;
        }
        *a = *m;
        a->t = start;
        a->tf = ps->tf_ms / 1000;
        s->agg_partial = s->agg_fresh && m->t != start;
    } else {
        double v = a->vol + m->vol;
        if (isnan(a->vw) || isnan(m->vw))
            a->vw = NAN;
        else if (v > 0)
            a->vw = (a->vw * a->vol + m->vw * m->vol) / v;
        a->h = m->h > a->h ? m->h : a->h;
        a->l = m->l < a->l ? m->l : a->l;
        a->c = m->c;
        a->vol = v;
        a->n = a->n < 0 || m->n < 0 ? -1 : a->n + m->n;
    }
    s->agg_fresh = 0;
    s->agg_n++;
    s->agg_last = m->t;
    if (m->t + MINUTE_MS >= start + ps->tf_ms)
        s_agg_flush(ps, i);         /* its last minute: complete */
}

void polygon_buckets_due(struct polygon_src *ps, int64_t now)
{
    int64_t feed_now = ps->feed_t + (now - ps->feed_mono);

    if (ps->feed_t <= 0)
        return;
    for (int i = 0; i < ps->nsym && !ps->fatal; i++)
        if (ps->sym[i].agg_n &&
            feed_now >= ps->sym[i].agg.t + ps->tf_ms + MINUTE_MS)
            s_agg_flush(ps, i);
}

/* }========================================================== */

void polygon_deliver_ws(struct polygon_src *ps, int i, const struct bar *b)
{
    if (ps->mult > 1)
        s_agg_minute(ps, i, b);
    else
        s_deliver(ps, i, b);
}
