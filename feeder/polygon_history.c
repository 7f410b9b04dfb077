/* polygon_history.c -- the polygon source's history (polygon_int.h).
 *
 * Each symbol's last N bars go to the feeder: from the history cache
 * alone when it reaches the newest complete bar (no request), else
 * through REST (polygon_worker.h, HISTORY asks): the bars after the cache
 * when with them it has enough, else a window widened until N bars are
 * found (weekends, holidays).
 *
 * Symbols wait in a queue (polygon_hist_want(), at open for every symbol
 * and at any time for one added later); each of the --history-concurrency
 * workers fetches one symbol at a time, over its own kept-alive
 * connection, all of them within --rate together. A symbol goes live as
 * soon as its history is out: its WebSocket bars are held until then
 * (the newest HIST_WAIT_MAX; the first one after the history then opens
 * a gap fill, polygon_deliver.c, when bars are missing in between), so
 * no live bar of a symbol precedes its history and other symbols do not
 * wait for it. A history that fails (not found, retries exhausted) is
 * reported in one WARN line and counted; that symbol goes live without
 * one. A refused key or plan (401, 403) ends the feeder.
 *
 * Progress: one INFO line every HIST_LOG_MS while symbols wait
 * ("history 3,200/11,000 symbols, 29%, about 40 s left";
 * LIVETRADE_POLYGON_PROGRESS_MS sets the interval) and one when the last
 * is done; the counters go in the status reply. The estimate follows the
 * pace of the REST answers since the round began.
 *
 * History cache (polygon_cache.h): each symbol's bars, from the file and
 * then every bar handed over, are kept in memory as an unbroken record,
 * saved after the history and at close. A failed gap fill or history
 * ends the record for the run (the file keeps the bars before the gap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "history.h"
#include "log.h"
#include "polygon_cache.h"
#include "polygon_int.h"
#include "util.h"

/* Appends b to symbol i's record (if it is newer). The record keeps the
 * newest POLYGON_CACHE_MAX_BARS bars. */
void polygon_hist_record(struct polygon_src *ps, int i, const struct bar *b)
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
    if (grow((void **)&s->cache, &s->capcache, s->ncache + 1,
             sizeof *s->cache, POLYGON_CACHE_MAX_BARS)) {
        s->cache_ok = 0;            /* the file keeps what it had */
        return;
    }
    s->cache[s->ncache++] = *b;
}

void polygon_hist_save(struct polygon_src *ps, int i)
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

/* {==================== progress ==================== */

int64_t polygon_hist_eta_ms(uint64_t done, uint64_t waiting,
                            int64_t elapsed_ms)
{
    if (!waiting)
        return 0;
    if (!done || elapsed_ms < 0)
        return -1;
    return (int64_t)((double)elapsed_ms * (double)waiting / (double)done);
}

void polygon_hist_tick(struct polygon_src *ps, int64_t now)
{
    char line[160];
    uint64_t waiting = ps->hist_total - ps->hist_done;

    if (!waiting || now < ps->hist_next_log)
        return;
    ps->hist_next_log = now + ps->hist_log_ms;
    history_progress(line, sizeof line, ps->hist_done,
                          ps->hist_total, polygon_hist_eta_ms(
                              ps->hist_fetched - ps->hist_round, waiting,
                              now - ps->hist_t0));
    if (ps->hist_failed)
        log_msg(LL_INFO, "polygon: %s (%llu failed)", line,
                (unsigned long long)ps->hist_failed);
    else
        log_msg(LL_INFO, "polygon: %s", line);
}

/* }========================================================== */

/* {==================== the queue ==================== */

static int s_push(struct polygon_src *ps, int i)
{
    if (ps->hq_head + ps->hq_n == ps->hq_cap && ps->hq_head) {
        memmove(ps->hq, ps->hq + ps->hq_head, ps->hq_n * sizeof *ps->hq);
        ps->hq_head = 0;
    }
    if (grow((void **)&ps->hq, &ps->hq_cap, ps->hq_n + 1, sizeof *ps->hq,
             (size_t)INT32_MAX))
        return ERR_NOMEM;
    ps->hq[ps->hq_head + ps->hq_n++] = i;
    return 0;
}

/* The held WebSocket bars of symbol i, then its later ones, go on. */
static void s_release(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];
    size_t n = s->nwait;

    s->nwait = 0;
    for (size_t j = 0; j < n && !ps->fatal; j++)
        polygon_deliver_ws(ps, i, &s->wait[j]);
    free(s->wait);
    s->wait = NULL;
    s->capwait = 0;
}

/* Symbol i's history is out (or failed): one more done; the line at the
 * end of a round. */
static void s_done(struct polygon_src *ps, int i, int failed, int save)
{
    struct psym *s = &ps->sym[i];

    s->hist = failed ? HIST_FAILED : HIST_DONE;
    ps->hist_done++;
    ps->hist_failed += (uint64_t)failed;
    if (save)
        polygon_hist_save(ps, i);
    s_release(ps, i);
    if (ps->hist_done == ps->hist_total && ps->hist_total)
        log_msg(LL_INFO, "polygon: history done: %llu symbols in %.1f s "
                "(%llu from the cache alone, %llu REST requests, %llu "
                "failed)", (unsigned long long)ps->hist_total,
                (double)(mono_ms() - ps->hist_t0) / 1000.0,
                (unsigned long long)ps->hist_cached,
                (unsigned long long)ps->hist_requests,
                (unsigned long long)ps->hist_failed);
}

/* The cache of symbol i holds n bars up to the newest complete bar. */
static int s_cache_enough(const struct polygon_src *ps, int i)
{
    const struct psym *s = &ps->sym[i];
    int64_t to = wall_ms() - ps->tf_ms;

    return s->ncache && (int64_t)s->ncache >= ps->hist_n &&
           s->cache[s->ncache - 1].t >= to - to % ps->tf_ms;
}

/* Publishes the last hist_n bars of symbol i's record. */
static void s_emit_cache(struct polygon_src *ps, int i, size_t cached)
{
    struct psym *s = &ps->sym[i];
    size_t first = s->ncache - (size_t)ps->hist_n;

    for (size_t j = first; j < s->ncache; j++)
        polygon_emit(ps, i, &s->cache[j], 0);
    log_msg(LL_DEBUG, "polygon: %s: %lld history bars (%zu from the "
            "cache, %zu through REST)", s->name, (long long)ps->hist_n,
            cached > first ? cached - first : 0,
            s->ncache - (cached > first ? cached : first));
}

void polygon_hist_want(struct polygon_src *ps, int i)
{
    struct psym *s = &ps->sym[i];

    if (ps->hist_n <= 0 || ps->fatal || s->hist != HIST_NONE)
        return;
    if (ps->hist_total == ps->hist_done) {      /* a new round */
        ps->hist_t0 = mono_ms();
        ps->hist_round = ps->hist_fetched;
        ps->hist_next_log = ps->hist_t0 + ps->hist_log_ms;
    }
    ps->hist_total++;
    if (s_cache_enough(ps, i)) {
        ps->hist_cached++;
        s_emit_cache(ps, i, s->ncache);
        s_done(ps, i, 0, 0);
        return;
    }
    if (s_push(ps, i)) {
        polygon_fatal(ps, "out of memory queueing a history");
        return;
    }
    s->hist = HIST_QUEUED;
    polygon_hist_pump(ps);
}

void polygon_hist_pump(struct polygon_src *ps)
{
    while (ps->hq_n && !ps->fatal && ps->workers) {
        int i = ps->hq[ps->hq_head];
        struct psym *s = &ps->sym[i];
        struct polygon_ask q = {
            .kind = POLYGON_ASK_HISTORY, .tag = i, .gen = s->hist_gen + 1,
            .mult = ps->mult, .timespan = ps->timespan, .n = ps->hist_n,
            .have = (int64_t)s->ncache, .after_ms = -1, .tf_ms = ps->tf_ms
        };

        if (s->ncache)
            q.after_ms = s->cache[s->ncache - 1].t + ps->tf_ms;
        snprintf(q.sym, sizeof q.sym, "%s", s->rest);
        if (polygon_ask(ps, &q, 1) < 0)
            return;                 /* every worker is fetching one */
        ps->hq_head++;
        ps->hq_n--;
        if (!ps->hq_n)
            ps->hq_head = 0;
        s->hist_gen++;
        s->hist = HIST_ASKING;
    }
}

/* }========================================================== */

/* {==================== answers ==================== */

/* The bars after symbol i's cache: appended to its record; the last
 * hist_n of it go out. */
static void s_after_cache(struct polygon_src *ps, int i,
                          const struct polygon_answer *a)
{
    size_t cached = ps->sym[i].ncache;

    for (size_t j = 0; j < a->n; j++)
        polygon_hist_record(ps, i, &a->bars[j]);
    s_emit_cache(ps, i, cached);
}

/* A window of symbol i's bars: a fresh record; the last hist_n go out. */
static void s_window(struct polygon_src *ps, int i,
                     const struct polygon_answer *a)
{
    struct psym *s = &ps->sym[i];
    size_t got = a->n, n = (size_t)ps->hist_n;
    size_t first = got > n ? got - n : 0;

    if (s->cache_path) {
        s->ncache = 0;
        s->cache_ok = 1;
    }
    for (size_t j = 0; j < got; j++)
        if (j < first)
            polygon_hist_record(ps, i, &a->bars[j]);
        else
            polygon_emit(ps, i, &a->bars[j], 0);
    log_msg(LL_DEBUG, "polygon: %s: %zu history bars%s", s->name,
            got - first, got - first < n ? " (fewer than asked: no more "
            "data in the widest window)" : "");
}

void polygon_hist_answer(struct polygon_src *ps,
                         const struct polygon_answer *a)
{
    struct psym *s;

    ps->hist_requests += a->requests;
    if (a->tag < 0 || a->tag >= ps->nsym)
        return;
    s = &ps->sym[a->tag];
    if (s->hist != HIST_ASKING || a->gen != s->hist_gen)
        return;
    if (polygon_is_auth(a->rc)) {
        polygon_fatal(ps, a->err);
        return;
    }
    polygon_ws_go(ps);              /* REST took the key */
    ps->hist_fetched++;
    if (a->rc) {
        s->cache_ok = 0;            /* the record would have a hole */
        log_msg(LL_WARN, "polygon: %s: no history (%s); it goes live "
                "without one", s->name, a->err);
        s_done(ps, a->tag, 1, 0);
    } else {
        if (a->after_cache)
            s_after_cache(ps, a->tag, a);
        else
            s_window(ps, a->tag, a);
        s_done(ps, a->tag, 0, 1);
    }
    polygon_hist_pump(ps);
}

int polygon_hist_hold(struct polygon_src *ps, int i, const struct bar *b)
{
    struct psym *s = &ps->sym[i];

    if (s->hist != HIST_QUEUED && s->hist != HIST_ASKING)
        return 0;
    if (s->nwait == HIST_WAIT_MAX) {
        /* The oldest goes: the gap fill after the history brings it. */
        memmove(s->wait, s->wait + 1, (s->nwait - 1) * sizeof *s->wait);
        s->nwait--;
        ps->hist_dropped++;
    }
    if (grow((void **)&s->wait, &s->capwait, s->nwait + 1,
             sizeof *s->wait, HIST_WAIT_MAX)) {
        ps->hist_dropped += s->nwait + 1;
        s->nwait = 0;               /* the gap fill brings them all */
        return 1;
    }
    s->wait[s->nwait++] = *b;
    return 1;
}

void polygon_hist_resumed(struct polygon_src *ps)
{
    for (int i = 0; i < ps->nsym; i++) {
        ps->hist_dropped += ps->sym[i].nwait;
        ps->sym[i].nwait = 0;
    }
}

/* }========================================================== */

/* Finds each symbol's cache file and reads it. Without a usable
 * directory the cache is off, with one WARN line. */
void polygon_hist_open(struct polygon_src *ps, const struct polygon_flags *f)
{
    char dir[1024], path[1200], err[ERR_LEN];
    const char *base = f->rest_url ? f->rest_url : POLYGON_REST_BASE;

    if (f->cache_dir && !*f->cache_dir)
        return;                     /* --cache-dir "": no cache */
    if (f->cache_dir)
        snprintf(dir, sizeof dir, "%s", f->cache_dir);
    else if (!xdg_dir("cache", dir, sizeof dir)) {
        log_msg(LL_WARN, "polygon: no history cache: neither "
                "XDG_CACHE_HOME nor HOME is set");
        return;
    }
    if (mkdir_p(dir, err)) {
        ps->cache_errors++;
        log_msg(LL_WARN, "polygon: no history cache: %s", err);
        return;
    }
    for (int i = 0; i < ps->nsym; i++) {
        if (polygon_cache_path(path, sizeof path, dir, base,
                               ps->sym[i].name, ps->tf_ms / 1000))
            continue;
        ps->sym[i].cache_path = strdup(path);
        if (!ps->sym[i].cache_path)
            continue;
        ps->sym[i].cache_ok = 1;
        s_cache_load(ps, i, ps->sym[i].name);
    }
}
