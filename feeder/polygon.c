/* polygon.c -- source_polygon (see polygon_source.h): REST history, then
 * live aggregates over the WebSocket, gaps filled through REST.
 *
 * Everything runs on the feeder's thread. A 5 ms loop timer services
 * libwebsockets without blocking (polygon_lws.h) and ticks the polygon_ws
 * state machine; bars reach the feeder from inside that timer. REST calls
 * block the loop while they run (retries included); frames meanwhile wait
 * in the socket buffer and are read in order afterwards.
 *
 * Ordering: every connection, the first included, leaves each symbol
 * "pending". The first WebSocket bar of a pending symbol that is more
 * than one timeframe after the last bar published first brings the bars
 * in between through REST, so they go out before it. A symbol that has
 * no history yet is not filled (there is nothing to fill from). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "polygon_lws.h"
#include "polygon_rest.h"
#include "polygon_source.h"
#include "polygon_ws.h"
#include "proc.h"
#include "util.h"

#define TICK_MS 5                   /* lws service and state machine tick */
#define HIST_TRIES 8                /* widenings of the history window */
#define HIST_SPAN_MAX (800LL * 86400000LL)  /* widest history window, ms */

struct psym {
    int64_t last;                   /* t of the last bar handed over, -1 */
    struct bar last_bar;            /* that bar, to tell corrections */
    int pending;                    /* first bar after a connect to come */
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
    struct psym *sym;               /* nsym entries */
    polygon_rest_t *rest;
    polygon_ws_t *ws;
    polygon_lws_t *lws;
    int fatal;                      /* stop requested for an error */
    uint64_t live;                  /* WebSocket bars published */
    uint64_t filled;                /* REST bars published to fill gaps */
    uint64_t fills;                 /* gap fills made */
    uint64_t fill_errors;           /* gap fills that failed */
    uint64_t dups;                  /* re-sent bars dropped */
    uint64_t corrections;           /* changed bars not republished */
    uint64_t resumes;               /* reconnects that streamed again */
    struct log_limit corr_lim;      /* correction log lines */
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

/* Hands bar b of symbol i to the feeder and records it as the last. */
static int s_emit(struct polygon_src *ps, int i, const struct bar *b,
                  int live)
{
    int rc = ps->emit(ps->emit_arg, i, b, live);

    if (rc == 0) {
        ps->sym[i].last = b->t;
        ps->sym[i].last_bar = *b;
    }
    return rc;
}

/* The last `n` complete bars of symbol i, widening the window until n
 * are found (or it spans HIST_SPAN_MAX). 0 or an error code. */
static int s_history(struct polygon_src *ps, int i, int64_t n, char *err)
{
    const char *sym = ps->cfg_tmp->symbols[i];
    int64_t to = wall_ms() - ps->tf_ms, span = n * ps->tf_ms * 3;
    struct bar *bars = NULL;
    size_t got = 0, first;
    int rc = 0;

    if (span < 86400000LL)
        span = 86400000LL;
    for (int k = 0; k < HIST_TRIES; k++, span *= 4) {
        if (span > HIST_SPAN_MAX)
            span = HIST_SPAN_MAX;
        free(bars);
        rc = polygon_rest_aggs(ps->rest, sym, 1, ps->timespan, to - span,
                               to, &bars, &got, err);
        if (rc || (int64_t)got >= n || span == HIST_SPAN_MAX)
            break;
    }
    if (rc)
        return rc;
    first = (int64_t)got > n ? got - (size_t)n : 0;
    for (size_t j = first; j < got; j++)
        s_emit(ps, i, &bars[j], 0);
    log_msg(LL_INFO, "polygon: %s: %zu history bars%s", sym, got - first,
            (int64_t)(got - first) < n ? " (fewer than asked: no more "
            "data in the widest window)" : "");
    free(bars);
    return 0;
}

/* Publishes the bars of symbol i in [from, to_excl) from REST. */
static void s_fill(struct polygon_src *ps, int i, const char *sym,
                   int64_t from, int64_t to_excl)
{
    char err[ERR_LEN];
    struct bar *bars = NULL;
    size_t n = 0, sent = 0;
    int rc;

    ps->fills++;
    rc = polygon_rest_aggs(ps->rest, sym, 1, ps->timespan, from,
                           to_excl - 1, &bars, &n, err);
    if (rc) {
        ps->fill_errors++;
        if (s_is_auth(rc))
            s_fatal(ps, err);
        else
            log_msg(LL_WARN, "polygon: %s: gap from %lld to %lld not "
                    "filled: %s", sym, (long long)from, (long long)to_excl,
                    err);
        return;
    }
    for (size_t j = 0; j < n; j++)
        if (bars[j].t > ps->sym[i].last && bars[j].t < to_excl &&
            s_emit(ps, i, &bars[j], 1) == 0)
            sent++;
    ps->filled += sent;
    log_msg(LL_INFO, "polygon: %s: gap filled through REST: %zu bars "
            "from %lld to %lld", sym, sent, (long long)from,
            (long long)to_excl);
    free(bars);
}

/* ---- polygon_ws callbacks ------------------------------------------ */

static void s_ws_bar(void *arg, int i, const struct bar *b)
{
    struct polygon_src *ps = arg;
    struct psym *s = &ps->sym[i];

    if (ps->fatal)
        return;
    if (s->pending) {
        s->pending = 0;
        if (s->last >= 0 && b->t > s->last + ps->tf_ms)
            s_fill(ps, i, b->sym, s->last + ps->tf_ms, b->t);
        if (ps->fatal)
            return;
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
    ps->dups++;
    log_msg(LL_DEBUG, "polygon: %s: bar at %lld already published",
            b->sym, (long long)b->t);
}

static void s_ws_resumed(void *arg, const int64_t *last_t, int nsym)
{
    struct polygon_src *ps = arg;

    (void)last_t;
    ps->resumes++;
    for (int i = 0; i < nsym && i < ps->nsym; i++)
        ps->sym[i].pending = 1;
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

    (void)loop;
    if (ps->fatal)
        return;
    polygon_lws_service(ps->lws);
    polygon_ws_tick(ps->ws, mono_ms());
    if (polygon_ws_state(ps->ws) == PWS_FAILED)
        s_fatal(ps, NULL);          /* polygon_ws logged the reason */
}

/* ---- source_ops ----------------------------------------------------- */

static void s_close(void *state)
{
    struct polygon_src *ps = state;

    if (!ps)
        return;
    log_msg(LL_INFO, "polygon: live %llu filled %llu fills %llu "
            "fill_errors %llu duplicates %llu corrections %llu reconnects "
            "%llu", (unsigned long long)ps->live,
            (unsigned long long)ps->filled, (unsigned long long)ps->fills,
            (unsigned long long)ps->fill_errors,
            (unsigned long long)ps->dups,
            (unsigned long long)ps->corrections,
            (unsigned long long)ps->resumes);
    if (ps->ws)
        polygon_ws_stop(ps->ws);
    polygon_ws_destroy(&ps->ws);
    polygon_lws_destroy(&ps->lws);
    polygon_rest_destroy(&ps->rest);
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
    if (cfg->tf != 60 && cfg->tf != 1) {
        snprintf(err, ERR_LEN, "polygon: --timeframe must be 60 (minute "
                 "bars, AM.*) or 1 (second bars, A.*)");
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
    ps->timespan = cfg->tf == 60 ? "minute" : "second";
    ps->corr_lim = (struct log_limit)LOG_LIMIT_INIT;
    for (int i = 0; i < ps->nsym; i++) {
        ps->sym[i].last = -1;
        ps->sym[i].pending = 1;     /* the first connect is a resume too */
    }

    polygon_rest_cfg_defaults(&rc_cfg);
    if (cfg->rest_url)
        rc_cfg.base_url = cfg->rest_url;
    rc_cfg.api_key = key;
    rc_cfg.ca_file = cfg->ca_file;
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
    }

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
    wc.channel = cfg->tf == 60 ? "AM" : "A";
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
    return ps;
fail:
    s_close(ps);
    return NULL;
}

const struct source_ops source_polygon = {
    .name = "polygon",
    .open = s_open,
    .next_bar = NULL,
    .close = s_close,
};
