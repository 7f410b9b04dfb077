/* polygon.c -- source_polygon (see polygon_source.h): REST history, then
 * live aggregates over the WebSocket, gaps filled through REST.
 *
 * Everything runs on the feeder's thread. A 5 ms loop timer services
 * libwebsockets without blocking (polygon_lws.h) and ticks the polygon_ws
 * state machine; bars reach the feeder from inside that timer. REST calls
 * block the loop while they run (retries included); frames meanwhile wait
 * in the socket buffer and are read in order afterwards.
 *
 * A gap fill that fails with a transient error (5xx, 429, transport, a bad
 * body; not 401/403) is tried again later from the tick, up to GAP_TRIES
 * times with a doubling delay (GAP_RETRY_MS first, GAP_RETRY_MAX_MS at
 * most; LIVETRADE_POLYGON_GAP_RETRY_MS sets the first delay). Meanwhile
 * the symbol's live bars after the gap are held (at most GAP_HOLD_MAX):
 * on success the gap bars go out, then the held ones, in order; after the
 * last try (or with the hold full) one WARN line gives the range, the gap
 * is counted in backfill_errors and the held bars go out after it.
 *
 * Ordering: every connection, the first included, leaves each symbol
 * "pending". The first WebSocket bar of a pending symbol that is more
 * than one timeframe after the last bar published first brings the bars
 * in between through REST, so they go out before it. A symbol that has
 * no history yet is not filled (there is nothing to fill from).
 *
 * Timeframes above a minute (multiples of 60 s) are built from AM.* minute
 * bars: open of the first, high max, low min, close of the last, volume
 * summed, vw volume-weighted, n summed (-1 if any is unknown), in buckets
 * aligned to the epoch. A bucket goes out when its last minute arrives,
 * when a minute of a later bucket arrives, or when the feed clock (the end
 * of the newest minute seen, advanced by the monotonic clock) is a minute
 * past the bucket's end. A bucket that a (re)connect cut into is taken
 * from REST instead (multiplier N, minute), as history and gap fills are.
 *
 * Feed health: once a second, while the market is open (--market-hours),
 * a symbol without a WebSocket bar for --stale-after (default three
 * timeframes and 30 s) is reported once (rate-limited WARN) and counted;
 * its next bar clears it. The clock restarts at every market opening.
 *
 * History cache (polygon_cache.h): each symbol's bars, from the file and
 * then every bar handed over, are kept in memory as an unbroken record,
 * saved after the history and at close. A failed gap fill ends the record
 * for the run (the file keeps the bars before the gap). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "polygon_cache.h"
#include "polygon_hours.h"
#include "polygon_lws.h"
#include "polygon_rest.h"
#include "polygon_source.h"
#include "polygon_ws.h"
#include "proc.h"
#include "util.h"

#define TICK_MS 5                   /* lws service and state machine tick */
#define HIST_TRIES 8                /* widenings of the history window */
#define HIST_SPAN_MAX (800LL * 86400000LL)  /* widest history window, ms */
#define HEALTH_MS 1000              /* feed health and bucket checks */
#define STALE_MARGIN_MS 30000       /* added to three timeframes */
#define MINUTE_MS 60000LL
#define GAP_TRIES 5                 /* later tries of a failed gap fill */
#define GAP_RETRY_MS 4000LL         /* delay before the first of them */
#define GAP_RETRY_MAX_MS 60000LL    /* longest delay between them */
#define GAP_HOLD_MAX 512            /* live bars held behind a gap */

struct psym {
    char name[SYM_MAX];             /* the symbol */
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
    char *cache_path;               /* cache file, or NULL: no cache */
    struct bar *cache;              /* unbroken record, oldest first */
    size_t ncache, capcache;        /* used, allocated */
    int cache_ok;                   /* still appending to the record */
    int64_t gap_from, gap_to;       /* unfilled gap [from, to); to 0: none */
    int gap_tries;                  /* later tries made */
    int64_t gap_next;               /* mono: next try */
    struct bar *held;               /* bars after the gap, oldest first */
    size_t nheld;                   /* used (GAP_HOLD_MAX allocated) */
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
    int market;                     /* SOURCE_MARKET_* */
    int64_t stale_ms;               /* silence that is reported */
    int was_open;                   /* market open at the last check */
    int64_t next_check_ms;          /* mono: next health check */
    int64_t feed_t;                 /* end of the newest minute seen */
    int64_t feed_mono;              /* mono when feed_t was seen */
    struct psym *sym;               /* nsym entries */
    polygon_rest_t *rest;
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

const char *polygon_source_key(void)
{
    const char *k = config_env("POLYGON_API_KEY");

    if (!k || !*k)
        k = config_env("MASSIVE_API_KEY");
    return k && *k ? k : NULL;
}

/* Ends the feeder: one clear line (unless msg is NULL: already logged),
 * the fatal flag, the loop stopped. */
static void s_fatal(struct polygon_src *ps, const char *msg)
{
    if (ps->fatal)
        return;
    ps->fatal = 1;
    if (msg)
        log_msg(LL_ERROR, "polygon: %s", msg);
    if (ps->failed)
        *ps->failed = 1;
    loop_stop(ps->loop);
}

static int s_is_auth(int rc)
{
    return rc == POLYGON_ERR_AUTH || rc == POLYGON_ERR_PLAN;
}

/* {==================== history cache ====================== */

/* Appends b to symbol i's record (if it is newer). The record keeps the
 * newest POLYGON_CACHE_MAX_BARS bars. */
static void s_cache_add(struct polygon_src *ps, int i, const struct bar *b)
{
    struct psym *s = &ps->sym[i];

    if (!s->cache_ok || (s->ncache && b->t <= s->cache[s->ncache - 1].t))
        return;
    if (s->ncache == POLYGON_CACHE_MAX_BARS) {
        size_t keep = POLYGON_CACHE_MAX_BARS / 2;
        memmove(s->cache, s->cache + (s->ncache - keep),
                keep * sizeof *s->cache);
        s->ncache = keep;
    }
    if (s->ncache == s->capcache) {
        size_t cap = s->capcache ? s->capcache * 2 : 1024;
        struct bar *v;
        if (cap > POLYGON_CACHE_MAX_BARS)
            cap = POLYGON_CACHE_MAX_BARS;
        v = realloc(s->cache, cap * sizeof *v);
        if (!v) {
            s->cache_ok = 0;        /* the file keeps what it had */
            return;
        }
        s->cache = v;
        s->capcache = cap;
    }
    s->cache[s->ncache++] = *b;
}

static void s_cache_save(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];
    char err[ERR_LEN];

    if (!s->cache_path || !s->ncache)
        return;
    if (polygon_cache_save(s->cache_path, s->cache, s->ncache, err)) {
        ps->cache_errors++;
        log_limited(&ps->cache_lim, LL_WARN, "polygon: history cache not "
                    "saved: %s", err);
    }
}

/* Reads symbol i's cache file into its record; a bad file is ignored
 * with one WARN line (and replaced at the next save). */
static void s_cache_load(struct polygon_src *ps, int i, const char *sym)
{
    struct psym *s = &ps->sym[i];
    char err[ERR_LEN];
    struct bar *bars = NULL;
    size_t n = 0;
    int rc;

    if (!s->cache_path)
        return;
    rc = polygon_cache_load(s->cache_path, sym, ps->tf_ms / 1000, &bars,
                            &n, err);
    if (rc) {
        ps->cache_errors++;
        log_msg(LL_WARN, "polygon: history cache ignored: %s", err);
        return;
    }
    s->cache = bars;
    s->ncache = s->capcache = n;
    ps->cache_bars += n;
}

/* }========================================================== */

/* Hands bar b of symbol i to the feeder and records it as the last. */
static int s_emit(struct polygon_src *ps, int i, const struct bar *b,
                  int live)
{
    int rc = ps->emit(ps->emit_arg, i, b, live);

    if (rc == 0) {
        ps->sym[i].last = b->t;
        ps->sym[i].last_bar = *b;
        s_cache_add(ps, i, b);
    }
    return rc;
}

/* The bars of symbol i from REST in [from, to], both inclusive. */
static int s_fetch(struct polygon_src *ps, const char *sym, int64_t from,
                   int64_t to, struct bar **bars, size_t *n, char *err)
{
    return polygon_rest_aggs(ps->rest, sym, ps->mult, ps->timespan, from,
                             to, bars, n, err);
}

/* Brings symbol i's cached record up to `to` through REST (one call from
 * the bar after the last cached one). 0, or an error code. */
static int s_history_after_cache(struct polygon_src *ps, int i,
                                 const char *sym, int64_t to, char *err)
{
    struct psym *s = &ps->sym[i];
    int64_t from = s->cache[s->ncache - 1].t + ps->tf_ms;
    struct bar *bars = NULL;
    size_t got = 0;
    int rc;

    if (from > to)
        return 0;
    rc = s_fetch(ps, sym, from, to, &bars, &got, err);
    if (rc)
        return rc;
    for (size_t j = 0; j < got; j++)
        s_cache_add(ps, i, &bars[j]);
    free(bars);
    return 0;
}

/* The last `n` complete bars of symbol i: from the cache and the bars
 * after it when the cache has enough, else widening the REST window until
 * n are found (or it spans HIST_SPAN_MAX). 0 or an error code. */
static int s_history(struct polygon_src *ps, int i, int64_t n, char *err)
{
    const char *sym = ps->cfg_tmp->symbols[i];
    struct psym *s = &ps->sym[i];
    int64_t to = wall_ms() - ps->tf_ms, span = n * ps->tf_ms * 3;
    struct bar *bars = NULL;
    size_t got = 0, first, cached = s->ncache;
    int rc = 0;

    if (s->ncache && to - s->cache[s->ncache - 1].t <= HIST_SPAN_MAX) {
        rc = s_history_after_cache(ps, i, sym, to, err);
        if (rc)
            return rc;
        if ((int64_t)s->ncache >= n) {
            first = s->ncache - (size_t)n;
            for (size_t j = first; j < s->ncache; j++)
                s_emit(ps, i, &s->cache[j], 0);
            log_msg(LL_INFO, "polygon: %s: %lld history bars (%zu from the "
                    "cache, %zu through REST)", sym, (long long)n,
                    cached > first ? cached - first : 0,
                    s->ncache - (cached > first ? cached : first));
            return 0;
        }
    }
    if (span < 86400000LL)
        span = 86400000LL;
    for (int k = 0; k < HIST_TRIES; k++, span *= 4) {
        if (span > HIST_SPAN_MAX)
            span = HIST_SPAN_MAX;
        free(bars);
        rc = s_fetch(ps, sym, to - span, to, &bars, &got, err);
        if (rc || (int64_t)got >= n || span == HIST_SPAN_MAX)
            break;
    }
    if (rc)
        return rc;
    if (s->cache_path) {            /* a fresh record, from these bars */
        s->ncache = 0;
        s->cache_ok = 1;
    }
    first = (int64_t)got > n ? got - (size_t)n : 0;
    for (size_t j = 0; j < got; j++)
        if (j < first)
            s_cache_add(ps, i, &bars[j]);
        else
            s_emit(ps, i, &bars[j], 0);
    log_msg(LL_INFO, "polygon: %s: %zu history bars%s", sym, got - first,
            (int64_t)(got - first) < n ? " (fewer than asked: no more "
            "data in the widest window)" : "");
    free(bars);
    return 0;
}

/* One REST try for the bars of symbol i in [from, to_excl): publishes
 * those after the last one. 0, or an error code with err set. */
static int s_fill_try(struct polygon_src *ps, int i, int64_t from,
                      int64_t to_excl, char *err)
{
    struct polygon_rest_stats st0, st1;
    struct bar *bars = NULL;
    size_t n = 0, sent = 0;
    int rc;

    polygon_rest_stats(ps->rest, &st0);
    rc = s_fetch(ps, ps->sym[i].name, from, to_excl - 1, &bars, &n, err);
    polygon_rest_stats(ps->rest, &st1);
    ps->fill_requests += st1.requests - st0.requests;
    if (rc)
        return rc;
    for (size_t j = 0; j < n; j++)
        if (bars[j].t > ps->sym[i].last && bars[j].t < to_excl &&
            s_emit(ps, i, &bars[j], 1) == 0)
            sent++;
    ps->filled += sent;
    log_msg(LL_INFO, "polygon: %s: gap filled through REST: %zu bars "
            "from %lld to %lld", ps->sym[i].name, sent, (long long)from,
            (long long)to_excl);
    free(bars);
    return 0;
}

/* Errors worth another try later: not a refused key or plan, not a
 * request the server cannot serve. */
static int s_is_transient(int rc)
{
    return rc == ERR_IO || rc == ERR_TIMEOUT || rc == ERR_PARSE;
}

static void s_deliver(struct polygon_src *ps, int i, const struct bar *b);

/* Ends symbol i's gap retries: publishes the held bars, oldest first. */
static void s_gap_release(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];
    size_t n = s->nheld;
    int pending = s->pending;       /* a reconnect with no bar since */

    s->gap_to = 0;
    s->gap_tries = 0;
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

/* Publishes the bars of symbol i in [from, to_excl) from REST; after a
 * transient failure the gap stays open (gap_to set) for later tries. */
static void s_fill(struct polygon_src *ps, int i, const char *sym,
                   int64_t from, int64_t to_excl)
{
    struct psym *s = &ps->sym[i];
    char err[ERR_LEN];
    int rc;

    ps->fills++;
    rc = s_fill_try(ps, i, from, to_excl, err);
    if (!rc)
        return;
    if (s_is_auth(rc)) {
        ps->fill_errors++;
        s_fatal(ps, err);
        return;
    }
    s->gap_from = from;
    s->gap_to = to_excl;
    s->gap_tries = 0;
    s->nheld = 0;
    if (!s_is_transient(rc) || proc_stop) {
        s_gap_fail(ps, i, err);
        return;
    }
    s->gap_next = mono_ms() + s_gap_delay(ps, 0);
    log_msg(LL_WARN, "polygon: %s: gap from %lld to %lld not filled yet: "
            "%s; trying again in %lld ms, the bars after it held", sym,
            (long long)from, (long long)to_excl, err,
            (long long)s_gap_delay(ps, 0));
}

/* A later try of symbol i's open gap, from the tick. */
static void s_gap_retry(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];
    char err[ERR_LEN];
    int rc;

    s->gap_tries++;
    ps->fill_retries++;
    rc = s_fill_try(ps, i, s->gap_from, s->gap_to, err);
    if (!rc) {
        log_msg(LL_INFO, "polygon: %s: gap filled on try %d; %zu held "
                "bars follow", s->name, s->gap_tries + 1, s->nheld);
        s_gap_release(ps, i);
        return;
    }
    if (s_is_auth(rc)) {
        ps->fill_errors++;
        s_fatal(ps, err);
        return;
    }
    if (!s_is_transient(rc) || s->gap_tries >= GAP_TRIES || proc_stop) {
        s_gap_fail(ps, i, err);
        return;
    }
    s->gap_next = mono_ms() + s_gap_delay(ps, s->gap_tries);
    log_msg(LL_WARN, "polygon: %s: gap from %lld to %lld not filled on try "
            "%d: %s; trying again in %lld ms", s->name,
            (long long)s->gap_from, (long long)s->gap_to, s->gap_tries + 1,
            err, (long long)s_gap_delay(ps, s->gap_tries));
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
    if (b->t <= ref) {
        ps->dups++;
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

/* Publishes a complete bar of symbol i (from the WebSocket, or a bucket
 * of them): fills the gap before it first, after a (re)connect; a bar
 * that does not advance is a duplicate or a correction, not published. */
static void s_deliver(struct polygon_src *ps, int i, const struct bar *b)
{
    struct psym *s = &ps->sym[i];

    if (s->gap_to) {
        s_hold(ps, i, b);
        return;
    }
    if (s->pending) {
        s->pending = 0;
        if (s->last >= 0 && b->t > s->last + ps->tf_ms)
            s_fill(ps, i, b->sym, s->last + ps->tf_ms, b->t);
        if (ps->fatal)
            return;
        if (s->gap_to) {
            s_hold(ps, i, b);
            return;
        }
    }
    if (b->t > s->last) {
        if (s_emit(ps, i, b, 1) == 0)
            ps->live++;
        return;
    }
    if (b->t == s->last && (b->o != s->last_bar.o || b->h != s->last_bar.h
                            || b->l != s->last_bar.l ||
                            b->c != s->last_bar.c ||
                            b->vol != s->last_bar.vol)) {
        ps->corrections++;
        log_limited(&ps->corr_lim, LL_WARN, "polygon: %s: correction of "
                    "the bar at %lld (c %.4f -> %.4f, v %.0f -> %.0f) not "
                    "republished (%llu so far)", b->sym, (long long)b->t,
                    s->last_bar.c, b->c, s->last_bar.vol, b->vol,
                    (unsigned long long)ps->corrections);
        return;
    }
    if (b->t < s->last) {
        /* Older than what the bus already has: out of order. */
        ps->old++;
        log_limited(&ps->old_lim, LL_WARN, "polygon: %s: bar at %lld is "
                    "older than the last published (%lld); dropped (%llu so "
                    "far)", b->sym, (long long)b->t, (long long)s->last,
                    (unsigned long long)ps->old);
        return;
    }
    ps->dups++;
    log_msg(LL_DEBUG, "polygon: %s: bar at %lld already published",
            b->sym, (long long)b->t);
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
    if (s->gap_to) {                /* widen the open gap over it */
        if (b.t + ps->tf_ms > s->gap_to) {
            s->gap_to = b.t + ps->tf_ms;
            s->nheld = 0;
        }
        return;
    }
    s_fill(ps, i, b.sym, s->last >= 0 ? s->last + ps->tf_ms : b.t,
           b.t + ps->tf_ms);
    if (!ps->fatal && !s->gap_to && s->last < b.t)
        log_msg(LL_WARN, "polygon: %s: bar at %lld incomplete (cut by a "
                "reconnect) and not served by REST: not published", b.sym,
                (long long)b.t);
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

/* Buckets whose end the feed clock passed a minute ago go out. */
static void s_agg_check(struct polygon_src *ps, int64_t now)
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

/* {==================== feed health ====================== */

static void s_health(struct polygon_src *ps, int64_t now)
{
    if (!polygon_market_open(ps->market, wall_ms())) {
        ps->was_open = 0;
        return;
    }
    if (!ps->was_open) {            /* an opening: every clock restarts */
        ps->was_open = 1;
        for (int i = 0; i < ps->nsym; i++)
            ps->sym[i].heard_ms = now;
    }
    for (int i = 0; i < ps->nsym; i++) {
        struct psym *s = &ps->sym[i];
        if (s->silent || now - s->heard_ms < ps->stale_ms)
            continue;
        s->silent = 1;
        ps->silences++;
        log_limited(&ps->silent_lim, LL_WARN, "polygon: %s: no bar for "
                    "%lld s while the market is open (%llu silences so "
                    "far)", s->name, (long long)(now - s->heard_ms)
                    / 1000, (unsigned long long)ps->silences);
    }
}

/* }========================================================== */

/* ---- polygon_ws callbacks ------------------------------------------ */

static void s_ws_bar(void *arg, int i, const struct bar *b)
{
    struct polygon_src *ps = arg;
    struct psym *s = &ps->sym[i];

    if (ps->fatal)
        return;
    s->heard_ms = mono_ms();
    if (s->silent) {
        s->silent = 0;
        log_msg(LL_INFO, "polygon: %s: bars again", b->sym);
    }
    if (ps->mult > 1)
        s_agg_minute(ps, i, b);
    else
        s_deliver(ps, i, b);
}

static void s_ws_resumed(void *arg, const int64_t *last_t, int nsym)
{
    struct polygon_src *ps = arg;

    (void)last_t;
    ps->resumes++;
    for (int i = 0; i < nsym && i < ps->nsym; i++) {
        ps->sym[i].pending = 1;
        ps->sym[i].agg_fresh = 1;
        if (ps->sym[i].agg_n)
            ps->sym[i].agg_partial = 1;
    }
    log_msg(LL_INFO, "polygon: stream resumed (reconnect %llu); gaps are "
            "filled through REST before the next bars",
            (unsigned long long)ps->resumes);
}

static int s_io_connect(void *arg)
{
    struct polygon_src *ps = arg;
    return polygon_lws_connect(ps->lws);
}

static int s_io_send(void *arg, const char *text, size_t len)
{
    struct polygon_src *ps = arg;
    return polygon_lws_send(ps->lws, text, len);
}

static void s_io_close(void *arg)
{
    struct polygon_src *ps = arg;
    polygon_lws_close(ps->lws);
}

/* ---- polygon_lws events -------------------------------------------- */

static void s_lws_opened(void *arg)
{
    struct polygon_src *ps = arg;
    polygon_ws_opened(ps->ws, mono_ms());
}

static void s_lws_frame(void *arg, const char *data, size_t len)
{
    struct polygon_src *ps = arg;
    polygon_ws_frame(ps->ws, data, len, mono_ms());
}

static void s_lws_closed(void *arg)
{
    struct polygon_src *ps = arg;
    polygon_ws_closed(ps->ws, mono_ms());
}

static void s_lws_activity(void *arg)
{
    struct polygon_src *ps = arg;
    log_msg(LL_DEBUG, "polygon ws: pong");
    polygon_ws_activity(ps->ws, mono_ms());
}

static void s_tick(loop_t *loop, void *arg)
{
    struct polygon_src *ps = arg;

    int64_t now;

    (void)loop;
    if (ps->fatal)
        return;
    polygon_lws_service(ps->lws);
    now = mono_ms();
    polygon_ws_tick(ps->ws, now);
    if (polygon_ws_state(ps->ws) == PWS_FAILED) {
        s_fatal(ps, NULL);          /* polygon_ws logged the reason */
        return;
    }
    for (int i = 0; i < ps->nsym && !ps->fatal; i++)
        if (ps->sym[i].gap_to && now >= ps->sym[i].gap_next) {
            s_gap_retry(ps, i);
            now = mono_ms();
        }
    if (now < ps->next_check_ms)
        return;
    ps->next_check_ms = now + HEALTH_MS;
    if (ps->mult > 1)
        s_agg_check(ps, now);
    s_health(ps, now);
}

/* ---- source_ops ----------------------------------------------------- */

/* Finds each symbol's cache file and reads it. Without a usable
 * directory the cache is off, with one WARN line. */
static void s_cache_open(struct polygon_src *ps, const struct source_cfg *cfg)
{
    char dir[1024], path[1200], err[ERR_LEN];
    const char *base = cfg->rest_url ? cfg->rest_url : POLYGON_REST_BASE;

    if (cfg->cache_dir && !*cfg->cache_dir)
        return;                     /* --cache-dir "": no cache */
    if (cfg->cache_dir)
        snprintf(dir, sizeof dir, "%s", cfg->cache_dir);
    else if (!polygon_cache_default_dir(dir, sizeof dir)) {
        log_msg(LL_WARN, "polygon: no history cache: neither "
                "XDG_CACHE_HOME nor HOME is set");
        return;
    }
    if (polygon_cache_mkdir(dir, err)) {
        ps->cache_errors++;
        log_msg(LL_WARN, "polygon: no history cache: %s", err);
        return;
    }
    for (int i = 0; i < ps->nsym; i++) {
        if (polygon_cache_path(path, sizeof path, dir, base,
                               cfg->symbols[i], cfg->tf))
            continue;
        ps->sym[i].cache_path = strdup(path);
        if (!ps->sym[i].cache_path)
            continue;
        ps->sym[i].cache_ok = 1;
        s_cache_load(ps, i, cfg->symbols[i]);
    }
}

static void s_close(void *state)
{
    struct polygon_src *ps = state;

    if (!ps)
        return;
    log_msg(LL_INFO, "polygon: live %llu filled %llu fills %llu "
            "fill_retries %llu fill_errors %llu duplicates %llu corrections %llu reconnects "
            "%llu silences %llu out_of_order %llu",
            (unsigned long long)ps->live,
            (unsigned long long)ps->filled, (unsigned long long)ps->fills,
            (unsigned long long)ps->fill_retries,
            (unsigned long long)ps->fill_errors,
            (unsigned long long)ps->dups,
            (unsigned long long)ps->corrections,
            (unsigned long long)ps->resumes,
            (unsigned long long)ps->silences,
            (unsigned long long)ps->old);
    if (ps->ws)
        polygon_ws_stop(ps->ws);
    polygon_ws_destroy(&ps->ws);
    polygon_lws_destroy(&ps->lws);
    polygon_rest_destroy(&ps->rest);
    for (int i = 0; ps->sym && i < ps->nsym; i++) {
        if (ps->opened)
            s_cache_save(ps, i);
        if (ps->sym[i].gap_to && ps->sym[i].nheld)
            log_msg(LL_WARN, "polygon: %s: closing with a gap from %lld "
                    "to %lld open: %zu held bars not published",
                    ps->sym[i].name, (long long)ps->sym[i].gap_from,
                    (long long)ps->sym[i].gap_to, ps->sym[i].nheld);
        free(ps->sym[i].held);
        free(ps->sym[i].cache);
        free(ps->sym[i].cache_path);
    }
    free(ps->sym);
    free(ps);
}

static void *s_open(const struct source_cfg *cfg, char *err)
{
    struct polygon_rest_cfg rc_cfg;
    struct polygon_ws_cfg wc;
    struct polygon_ws_io io;
    struct polygon_lws_events ev;
    struct polygon_src *ps;
    const char *key = polygon_source_key();
    const char *ws_url;
    int rc;

    assert(cfg && cfg->nsym >= 1 && cfg->loop && cfg->emit);
    if (!key) {
        snprintf(err, ERR_LEN, "polygon: no API key: set POLYGON_API_KEY "
                 "(or MASSIVE_API_KEY) in the environment or .env");
        return NULL;
    }
    if (cfg->tf != 1 && (cfg->tf % 60 || cfg->tf > POLYGON_TF_MAX)) {
        snprintf(err, ERR_LEN, "polygon: --timeframe must be 1 (second "
                 "bars, A.*) or a multiple of 60 up to %d (minute bars, "
                 "AM.*, aggregated)", POLYGON_TF_MAX);
        return NULL;
    }
    ps = calloc(1, sizeof *ps);
    if (ps)
        ps->sym = calloc((size_t)cfg->nsym, sizeof *ps->sym);
    if (!ps || !ps->sym) {
        free(ps);
        snprintf(err, ERR_LEN, "polygon: out of memory");
        return NULL;
    }
    ps->cfg_tmp = cfg;
    ps->emit = cfg->emit;
    ps->emit_arg = cfg->emit_arg;
    ps->loop = cfg->loop;
    ps->failed = cfg->failed;
    ps->nsym = cfg->nsym;
    ps->tf_ms = cfg->tf * 1000;
    ps->timespan = cfg->tf == 1 ? "second" : "minute";
    ps->mult = cfg->tf == 1 ? 1 : (int)(cfg->tf / 60);
    ps->market = cfg->market_hours;
    ps->stale_ms = cfg->stale_ms > 0 ? cfg->stale_ms :
                   3 * ps->tf_ms + STALE_MARGIN_MS;
    ps->corr_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->old_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->silent_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->cache_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->gap_retry_ms = GAP_RETRY_MS;
    {
        const char *v = config_env("LIVETRADE_POLYGON_GAP_RETRY_MS");
        char *end = NULL;
        long long ms = v ? strtoll(v, &end, 10) : 0;
        if (v && end != v && !*end && ms >= 1 && ms <= GAP_RETRY_MAX_MS)
            ps->gap_retry_ms = ms;
    }
    for (int i = 0; i < ps->nsym; i++) {
        snprintf(ps->sym[i].name, sizeof ps->sym[i].name, "%s",
                 cfg->symbols[i]);
        ps->sym[i].last = -1;
        ps->sym[i].pending = 1;     /* the first connect is a resume too */
        ps->sym[i].agg_fresh = 1;
    }
    if (cfg->history > 0)
        s_cache_open(ps, cfg);

    polygon_rest_cfg_defaults(&rc_cfg);
    if (cfg->rest_url)
        rc_cfg.base_url = cfg->rest_url;
    rc_cfg.api_key = key;
    rc_cfg.ca_file = cfg->ca_file;
    rc_cfg.rate_per_min = cfg->rate_per_min;
    rc_cfg.stop = &proc_stop;
    ps->rest = polygon_rest_new(&rc_cfg, err);
    if (!ps->rest)
        goto fail;
    for (int i = 0; i < ps->nsym && cfg->history > 0; i++) {
        char why[ERR_LEN];
        rc = s_history(ps, i, cfg->history, why);
        if (rc) {
            snprintf(err, ERR_LEN, "polygon: %.240s", why);
            goto fail;
        }
        if (proc_stop) {
            snprintf(err, ERR_LEN, "polygon: stopped during the history");
            goto fail;
        }
        s_cache_save(ps, i);
    }
    ps->opened = 1;

    ws_url = cfg->ws_url ? cfg->ws_url : cfg->delayed ?
             POLYGON_WS_DELAYED_URL : POLYGON_WS_URL;
    memset(&ev, 0, sizeof ev);
    ev.opened = s_lws_opened;
    ev.frame = s_lws_frame;
    ev.closed = s_lws_closed;
    ev.activity = s_lws_activity;
    ev.arg = ps;
    ps->lws = polygon_lws_new(ws_url, cfg->ca_file, &ev, err);
    if (!ps->lws)
        goto fail;
    polygon_ws_cfg_defaults(&wc);
    wc.api_key = key;
    wc.symbols = cfg->symbols;
    wc.nsym = cfg->nsym;
    wc.channel = cfg->tf == 1 ? "A" : "AM";
    memset(&io, 0, sizeof io);
    io.connect = s_io_connect;
    io.send = s_io_send;
    io.close = s_io_close;
    io.bar = s_ws_bar;
    io.resumed = s_ws_resumed;
    io.arg = ps;
    ps->ws = polygon_ws_new(&wc, &io, err);
    if (!ps->ws)
        goto fail;
    rc = polygon_ws_start(ps->ws, mono_ms());
    if (rc) {
        const char *msg = NULL;
        polygon_ws_error(ps->ws, &msg);
        snprintf(err, ERR_LEN, "polygon: %s", msg ? msg : err_str(rc));
        goto fail;
    }
    if (loop_add_timer(ps->loop, TICK_MS, s_tick, ps) < 0) {
        snprintf(err, ERR_LEN, "polygon: event loop is full");
        goto fail;
    }
    log_msg(LL_INFO, "polygon: streaming %s.* for %d symbols from %s",
            wc.channel, ps->nsym, ws_url);
    ps->cfg_tmp = NULL;
    for (int i = 0; i < ps->nsym; i++)
        ps->sym[i].heard_ms = mono_ms();
    return ps;
fail:
    s_close(ps);
    return NULL;
}

static int s_counters(void *state, struct source_counter *c, int max)
{
    struct polygon_src *ps = state;
    struct polygon_rest_stats st;
    uint64_t silent = 0;
    int k = 0;

    polygon_rest_stats(ps->rest, &st);
    for (int i = 0; i < ps->nsym; i++)
        silent += (uint64_t)ps->sym[i].silent;
#define C(n, v) do { if (k < max) c[k++] = (struct source_counter){ n, v }; \
                } while (0)
    C("live_bars", ps->live);
    C("reconnects", ps->resumes);
    C("backfills", ps->fills);
    C("backfill_bars", ps->filled);
    C("backfill_requests", ps->fill_requests);
    C("backfill_retries", ps->fill_retries);
    C("backfill_errors", ps->fill_errors);
    C("duplicates", ps->dups);
    C("out_of_order", ps->old);
    C("corrections", ps->corrections);
    C("silences", ps->silences);
    C("silent_now", silent);
    C("rest_requests", st.requests);
    C("rest_retries", st.retries);
    C("cache_bars", ps->cache_bars);
    C("cache_errors", ps->cache_errors);
    if (ps->ws) {
        /* WebSocket events skipped, by why (PWS_BAD_* order). */
        _Static_assert(PWS_BAD_KINDS == 9, "a name per PWS_BAD kind");
        static const char *const bad[PWS_BAD_KINDS] = {
            "bad_too_large", "bad_json", "bad_not_array", "bad_not_object",
            "bad_no_ev", "bad_unknown_ev", "bad_missing", "bad_type",
            "bad_value"
        };
        const struct polygon_ws_stats *ws = polygon_ws_stats(ps->ws);
        for (int j = 0; j < PWS_BAD_KINDS; j++)
            C(bad[j], ws->parse.bad[j]);
    }
#undef C
    return k;
}

const struct source_ops source_polygon = {
    .name = "polygon",
    .open = s_open,
    .next_bar = NULL,
    .close = s_close,
    .counters = s_counters,
};
