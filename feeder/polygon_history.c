/* polygon_history.c -- the polygon source's history (polygon_int.h).
 *
 * At open, each symbol's last N bars go to the feeder: from the history
 * cache and the bars after it when the cache has enough, else through
 * REST, widening the window (weekends, holidays) until N bars are found.
 *
 * History cache (polygon_cache.h): each symbol's bars, from the file and
 * then every bar handed over, are kept in memory as an unbroken record,
 * saved after the history and at close. A failed gap fill ends the record
 * for the run (the file keeps the bars before the gap). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "polygon_cache.h"
#include "polygon_int.h"
#include "util.h"

#define HIST_TRIES 8                /* widenings of the history window */
#define HIST_SPAN_MAX (800LL * 86400000LL)  /* widest history window, ms */

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

/* The bars of REST ticker `sym` in [from, to], both inclusive. */
static int s_fetch(struct polygon_src *ps, const char *sym, int64_t from,
                   int64_t to, struct bar **bars, size_t *n, char *err)
{
    return polygon_rest_aggs(ps->rest, sym, ps->mult, ps->timespan, from,
                             to, bars, n, err);
}

/* Brings symbol i's cached record up to `to` through REST (ticker `sym`,
 * one call from the bar after the last cached one). 0, or an error code. */
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
        polygon_hist_record(ps, i, &bars[j]);
    free(bars);
    return 0;
}

/* The last `n` complete bars of symbol i: from the cache and the bars
 * after it when the cache has enough, else widening the REST window until
 * n are found (or it spans HIST_SPAN_MAX). 0 or an error code. */
int polygon_history(struct polygon_src *ps, int i, int64_t n, char *err)
{
    const char *sym = ps->sym[i].name;
    struct psym *s = &ps->sym[i];
    int64_t to = wall_ms() - ps->tf_ms, span = n * ps->tf_ms * 3;
    struct bar *bars = NULL;
    size_t got = 0, first, cached = s->ncache;
    int rc = 0;

    if (s->ncache && to - s->cache[s->ncache - 1].t <= HIST_SPAN_MAX) {
        rc = s_history_after_cache(ps, i, s->rest, to, err);
        if (rc)
            return rc;
        if ((int64_t)s->ncache >= n) {
            first = s->ncache - (size_t)n;
            for (size_t j = first; j < s->ncache; j++)
                polygon_emit(ps, i, &s->cache[j], 0);
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
        rc = s_fetch(ps, s->rest, to - span, to, &bars, &got, err);
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
            polygon_hist_record(ps, i, &bars[j]);
        else
            polygon_emit(ps, i, &bars[j], 0);
    log_msg(LL_INFO, "polygon: %s: %zu history bars%s", sym, got - first,
            (int64_t)(got - first) < n ? " (fewer than asked: no more "
            "data in the widest window)" : "");
    free(bars);
    return 0;
}

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
