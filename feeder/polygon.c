/* polygon.c -- source_polygon (see polygon_source.h): REST history, then
 * live aggregates over the WebSocket, gaps filled through REST.
 *
 * The feeder's thread runs the source: a 5 ms loop timer services
 * libwebsockets without blocking (polygon_lws.h) and ticks the polygon_ws
 * state machine; bars reach the feeder from inside that timer. REST runs
 * on --history-concurrency worker threads (polygon_worker.h), sharing
 * --rate, whose answers come back through the loop, so frames are read
 * while histories and gap fills wait. The histories are queued at open
 * (polygon_history.c); the WebSocket connects once the first answer shows
 * that REST takes the key (at once when the cache serves every symbol),
 * and each symbol goes live when its own history is out.
 *
 * The files of the source (polygon_int.h): this one (open/close, the
 * WebSocket glue, the tick, feed health), polygon_history.c (history and
 * its cache) and polygon_deliver.c (gaps, held bars, buckets).
 *
 * Markets (--market, polygon_market.h): stocks, crypto, forex, indices;
 * each its own WebSocket path, aggregate events and symbol forms. Bars
 * go on the bus under the bus form of each symbol; REST is asked for its
 * ticker, the WebSocket for its topic symbol.
 *
 * Feed health: once a second, while the market is open (the market's
 * hours, or --market-hours), a symbol without a WebSocket bar for
 * --stale-after (default three timeframes and 30 s) is reported once
 * (rate-limited WARN) and counted; its next bar clears it. The clock
 * restarts at every market opening. LIVETRADE_POLYGON_HOURS_AT_MS sets
 * the time feed health starts from (epoch ms; it then runs on), so the
 * hours can be tried at any time of the week. */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "polygon_hours.h"
#include "polygon_int.h"
#include "polygon_market.h"
#include "polygon_source.h"
#include "proc.h"
#include "util.h"

#define TICK_MS 5                   /* lws service and state machine tick */
#define HEALTH_MS 1000              /* feed health and bucket checks */
#define STALE_MARGIN_MS 30000       /* added to three timeframes */
#define HOURS_AT_MAX 4102444800000LL /* LIVETRADE_POLYGON_HOURS_AT_MS cap,
                                       2100-01-01 */
#define WS_HOST "wss://socket.massive.com"
#define WS_DELAYED_HOST "wss://delayed.massive.com"

/* {==================== flags ================================ */

/* Settings from the polygon source's own flags. */
static struct polygon_flags s_flags = {
    .feed = "realtime", .market = "stocks", .hist_conc = 4
};

static const struct opt s_opts[] = {
    { "rest-url", OPT_STR, &s_flags.rest_url, NULL, "URL",
      "polygon: REST base [" POLYGON_REST_BASE "]" },
    { "market", OPT_STR, &s_flags.market, NULL, "MARKET",
      "polygon: stocks, crypto, forex or indices [stocks]" },
    { "ws-url", OPT_STR, &s_flags.ws_url, NULL, "URL",
      "polygon: WebSocket URL [" WS_HOST "/MARKET, delayed: "
      WS_DELAYED_HOST "/MARKET]" },
    { "feed", OPT_STR, &s_flags.feed, NULL, "FEED",
      "polygon: realtime or delayed [realtime]" },
    { "ca-file", OPT_STR, &s_flags.ca_file, NULL, "FILE",
      "polygon: CA bundle for https:// and wss:// [system]" },
    { "rate", OPT_INT, &s_flags.rate, NULL, "N",
      "polygon: REST requests per minute, 5 on the free plan; "
      "0 = no limit [0]" },
    { "cache-dir", OPT_STR, &s_flags.cache_dir, NULL, "DIR",
      "polygon: history cache; \"\" = none "
      "[$XDG_CACHE_HOME/livetrade or ~/.cache/livetrade]" },
    { "market-hours", OPT_STR, &s_flags.market_hours, NULL, "HOURS",
      "polygon: when silence is reported: us-equities (Mon-Fri "
      "09:30-16:00 New York), forex (Sun 17:00-Fri 17:00 New York) or "
      "always [the market's: stocks and indices us-equities, crypto "
      "always, forex forex]" },
    { "history-concurrency", OPT_INT, &s_flags.hist_conc, NULL, "N",
      "polygon: histories fetched at a time, each over its own "
      "connection, within --rate together [4]" },
    { "stale-after", OPT_DBL, &s_flags.stale_after, NULL, "SEC",
      "polygon: report a symbol silent this long while the market "
      "is open [3 timeframes + 30]" },
    { 0 }
};

/* The API key from POLYGON_API_KEY, else MASSIVE_API_KEY (environment or
 * .env); NULL if neither is set. */
static const char *s_key(void)
{
    const char *k = config_env("POLYGON_API_KEY");

    if (!k || !*k)
        k = config_env("MASSIVE_API_KEY");
    return k && *k ? k : NULL;
}

/* What config_parse cannot check of the flags, and the API key. */
static int s_check(char *err)
{
    const struct polygon_market *m = polygon_market_find(s_flags.market);

    if (s_flags.rate < 0 || s_flags.rate > 100000) {
        snprintf(err, ERR_LEN, "--rate must be between 0 (no limit) and "
                 "100000 requests per minute");
        return ERR_USAGE;
    }
    if (!m) {
        snprintf(err, ERR_LEN, "--market must be %s, not '%.40s'",
                 polygon_market_names(), s_flags.market);
        return ERR_USAGE;
    }
    if (s_flags.hist_conc < 1 || s_flags.hist_conc > WORKERS_MAX) {
        snprintf(err, ERR_LEN, "--history-concurrency must be between 1 "
                 "and %d", WORKERS_MAX);
        return ERR_USAGE;
    }
    if (s_flags.market_hours &&
        strcmp(s_flags.market_hours, "us-equities") != 0 &&
        strcmp(s_flags.market_hours, "forex") != 0 &&
        strcmp(s_flags.market_hours, "always") != 0) {
        snprintf(err, ERR_LEN, "--market-hours must be us-equities, forex "
                 "or always");
        return ERR_USAGE;
    }
    if (!(s_flags.stale_after >= 0 && s_flags.stale_after <= 86400)) {
        snprintf(err, ERR_LEN, "--stale-after must be between 0 (auto) and "
                 "86400 seconds");
        return ERR_USAGE;
    }
    if (strcmp(s_flags.feed, "realtime") != 0 &&
        strcmp(s_flags.feed, "delayed") != 0) {
        snprintf(err, ERR_LEN, "--feed must be realtime or delayed");
        return ERR_USAGE;
    }
    if (strcmp(s_flags.feed, "delayed") == 0 && !m->delayed &&
        !s_flags.ws_url) {
        snprintf(err, ERR_LEN, "--feed delayed: Polygon has no delayed "
                 "%s feed; use --feed realtime", m->name);
        return ERR_USAGE;
    }
    if (!s_key()) {
        snprintf(err, ERR_LEN, "--source polygon needs an API key: set "
                 "POLYGON_API_KEY (or MASSIVE_API_KEY) in the environment "
                 "or in .env");
        return ERR_USAGE;
    }
    return 0;
}

/* The bus form of a symbol in the --market chosen (source_ops.symbol). */
static int s_symbol(const char *sym, char *out, char *err)
{
    return polygon_market_bus(polygon_market_find(s_flags.market), sym,
                              out, err);
}

/* }========================================================== */


void polygon_fatal(struct polygon_src *ps, const char *msg)
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

int polygon_is_auth(int rc)
{
    return rc == POLYGON_ERR_AUTH || rc == POLYGON_ERR_PLAN;
}

int polygon_ask(struct polygon_src *ps, struct polygon_ask *q, int hist)
{
    int best = -1;

    for (int k = 0; k < ps->nworkers; k++) {
        if (hist && ps->hist_busy[k])
            continue;
        if (best < 0 || ps->busy[k] < ps->busy[best])
            best = k;
    }
    if (best < 0 || ps->fatal)
        return -1;
    if (polygon_worker_ask(ps->workers[best], q)) {
        polygon_fatal(ps, "the REST worker stopped");
        return -1;
    }
    ps->busy[best]++;
    ps->hist_busy[best] += hist != 0;
    return best;
}

/* Starts the WebSocket. 0, or an error code with a reason in err. */
static int s_ws_start(struct polygon_src *ps, char *err)
{
    const char *msg = NULL, *ch;
    int rc;

    ps->ws_started = 1;
    rc = polygon_ws_start(ps->ws, mono_ms());
    if (rc) {
        polygon_ws_error(ps->ws, &msg);
        snprintf(err, ERR_LEN, "polygon: %s", msg ? msg : err_str(rc));
        return rc;
    }
    for (int i = 0; i < ps->nsym; i++)
        ps->sym[i].heard_ms = mono_ms();
    ch = ps->tf_ms == 1000 ? ps->mkt->ev_second : ps->mkt->ev_minute;
    if (ps->all)
        log_msg(LL_INFO, "polygon: streaming %s.* (every symbol, each "
                "published from its first bar on) from %s (%s, feed %s)",
                ch, ps->ws_url, ps->mkt->name, s_flags.feed);
    else
        log_msg(LL_INFO, "polygon: streaming %s.* for %d symbols from %s "
                "(%s, feed %s)", ch, ps->nsym, ps->ws_url, ps->mkt->name,
                s_flags.feed);
    return 0;
}

void polygon_ws_go(struct polygon_src *ps)
{
    char err[ERR_LEN];

    if (ps->ws_started || ps->fatal || !ps->ws)
        return;
    if (s_ws_start(ps, err))
        polygon_fatal(ps, err + strlen("polygon: "));
}

/* {==================== feed health ====================== */

/* The time feed health goes by: the wall clock, or the one set by
 * LIVETRADE_POLYGON_HOURS_AT_MS at open. */
static int64_t s_hours_now(const struct polygon_src *ps)
{
    if (ps->hours_at < 0)
        return wall_ms();
    return ps->hours_at + (mono_ms() - ps->hours_mono);
}

static void s_health(struct polygon_src *ps, int64_t now)
{
    /* With every symbol (--symbols '*') silence is the rule for most of
     * them (illiquid tickers): not reported. */
    if (ps->all || !polygon_market_open(ps->market, s_hours_now(ps))) {
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

/* Symbol i's state before its first bar. */
static void s_psym_init(struct polygon_src *ps, struct psym *s,
                        const char *name)
{
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    polygon_market_rest(ps->mkt, name, s->rest);
    s->last = -1;
    s->pending = 1;                 /* the first connect is a resume too */
    s->agg_fresh = 1;
    s->cut_t = -1;
    s->heard_ms = mono_ms();
}

/* A symbol the feed brings (--symbols '*'): numbered by the feeder, with
 * a state of its own here. Its number, or < 0 if it is not taken. */
static int s_ws_symbol(void *arg, const char *ws)
{
    struct polygon_src *ps = arg;
    char name[SYM_MAX], err[ERR_LEN];
    int i;

    /* The bus form of the event's spelling (EUR/USD is EUR-USD). */
    if (polygon_market_bus(ps->mkt, ws, name, err))
        return ERR_USAGE;
    i = ps->intern(ps->emit_arg, name);
    if (i < 0 || i < ps->nsym)
        return i;
    if (grow((void **)&ps->sym, &ps->capsym, (size_t)i + 1, sizeof *ps->sym,
             SIZE_MAX))
        return ERR_NOMEM;
    while (ps->nsym <= i)           /* i == nsym: the feeder's next one */
        s_psym_init(ps, &ps->sym[ps->nsym++], name);
    ps->new_syms++;
    /* Its history as a listed symbol's (--history): its live bars are
     * held until that is out. */
    polygon_hist_want(ps, i);
    return i;
}

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
    if (polygon_hist_hold(ps, i, b))
        return;                     /* after its history */
    polygon_deliver_ws(ps, i, b);
}

static void s_ws_resumed(void *arg, const int64_t *last_t, int nsym)
{
    struct polygon_src *ps = arg;

    (void)last_t;
    ps->resumes++;
    polygon_hist_resumed(ps);
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
        polygon_fatal(ps, NULL);          /* polygon_ws logged the reason */
        return;
    }
    polygon_gaps_due(ps, now);
    polygon_hist_tick(ps, now);
    if (now < ps->next_check_ms)
        return;
    ps->next_check_ms = now + HEALTH_MS;
    if (ps->mult > 1)
        polygon_buckets_due(ps, now);
    s_health(ps, now);
}

/* ---- source_ops ----------------------------------------------------- */

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
    for (int k = 0; ps->workers && k < ps->nworkers; k++)
        polygon_worker_destroy(&ps->workers[k]);
    polygon_rate_destroy(&ps->rate);
    if (ps->hist_done < ps->hist_total)
        log_msg(LL_INFO, "polygon: closing with %llu histories not done",
                (unsigned long long)(ps->hist_total - ps->hist_done));
    for (int i = 0; ps->sym && i < ps->nsym; i++) {
        if (ps->opened)
            polygon_hist_save(ps, i);
        if (ps->sym[i].gap_to && ps->sym[i].nheld)
            log_msg(LL_WARN, "polygon: %s: closing with a gap from %lld "
                    "to %lld open: %zu held bars not published",
                    ps->sym[i].name, (long long)ps->sym[i].gap_from,
                    (long long)ps->sym[i].gap_to, ps->sym[i].nheld);
        free(ps->sym[i].held);
        free(ps->sym[i].wait);
        free(ps->sym[i].cache);
        free(ps->sym[i].cache_path);
    }
    free(ps->sym);
    free(ps->workers);
    free(ps->busy);
    free(ps->hist_busy);
    free(ps->hq);
    free(ps);
}

/* A wait in ms from the environment (or .env), within 1..max; `def`
 * when unset or not a number in range. */
static int64_t s_env_ms(const char *name, int64_t def, int64_t max)
{
    const char *v = config_env(name);
    char *end = NULL;
    long long ms = v ? strtoll(v, &end, 10) : 0;

    if (v && end != v && !*end && ms >= 1 && ms <= max)
        return ms;
    return def;
}

/* Starts n REST workers, each with its own client (connection), all
 * within one --rate limiter, their answers read by the loop. */
static int s_open_workers(struct polygon_src *ps, const char *key, int n,
                          char *err)
{
    struct polygon_rest_cfg rc_cfg;
    polygon_rest_t *rest[WORKERS_MAX] = { 0 };

    ps->rate = polygon_rate_new((int)s_flags.rate);
    ps->workers = calloc((size_t)n, sizeof *ps->workers);
    ps->busy = calloc((size_t)n, sizeof *ps->busy);
    ps->hist_busy = calloc((size_t)n, sizeof *ps->hist_busy);
    if (!ps->rate || !ps->workers || !ps->busy || !ps->hist_busy) {
        snprintf(err, ERR_LEN, "polygon: out of memory");
        return ERR_NOMEM;
    }
    polygon_rest_cfg_defaults(&rc_cfg);
    if (s_flags.rest_url)
        rc_cfg.base_url = s_flags.rest_url;
    rc_cfg.api_key = key;
    rc_cfg.ca_file = s_flags.ca_file;
    rc_cfg.rate_per_min = (int)s_flags.rate;
    rc_cfg.rate = ps->rate;
    rc_cfg.stop = &proc_stop;
    /* Every client before any thread: the first initialises libcurl. */
    for (int k = 0; k < n; k++) {
        rest[k] = polygon_rest_new(&rc_cfg, err);
        if (!rest[k]) {
            while (k-- > 0)
                polygon_rest_destroy(&rest[k]);
            return ERR_IO;
        }
    }
    for (int k = 0; k < n; k++) {
        ps->workers[k] = polygon_worker_new(rest[k], err);
        rest[k] = NULL;             /* the worker's now */
        if (!ps->workers[k]) {
            while (++k < n)
                polygon_rest_destroy(&rest[k]);
            return ERR_IO;
        }
        ps->nworkers = k + 1;
        if (loop_add_socket(ps->loop, polygon_worker_socket(ps->workers[k]),
                            polygon_on_answer, ps) < 0) {
            snprintf(err, ERR_LEN, "polygon: event loop is full");
            for (int j = k + 1; j < n; j++)
                polygon_rest_destroy(&rest[j]);
            return ERR_IO;
        }
    }
    return 0;
}

static void *s_open(const struct source_cfg *cfg, char *err)
{
    struct polygon_ws_cfg wc;
    struct polygon_ws_io io;
    struct polygon_lws_events ev;
    struct polygon_src *ps;
    const struct polygon_market *m = polygon_market_find(s_flags.market);
    const char *key = s_key();
    const char **ws_syms = NULL;
    char (*ws_names)[SYM_MAX] = NULL;
    int rc;

    assert(cfg && (cfg->nsym >= 1 || cfg->all) && cfg->loop && cfg->emit &&
           m);
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
    if (ps && grow((void **)&ps->sym, &ps->capsym, (size_t)cfg->nsym + 1,
                   sizeof *ps->sym, SIZE_MAX)) {
        free(ps);
        ps = NULL;
    }
    ws_syms = calloc((size_t)cfg->nsym + 1, sizeof *ws_syms);
    ws_names = calloc((size_t)cfg->nsym + 1, sizeof *ws_names);
    if (!ps || !ws_syms || !ws_names) {
        if (ps)
            free(ps->sym);
        free(ps);
        free(ws_syms);
        free(ws_names);
        snprintf(err, ERR_LEN, "polygon: out of memory");
        return NULL;
    }
    ps->cfg_tmp = cfg;
    ps->mkt = m;
    ps->emit = cfg->emit;
    ps->emit_arg = cfg->emit_arg;
    ps->loop = cfg->loop;
    ps->failed = cfg->failed;
    ps->nsym = cfg->nsym;
    ps->all = cfg->all;
    ps->intern = cfg->intern;
    ps->tf_ms = cfg->tf * 1000;
    ps->timespan = cfg->tf == 1 ? "second" : "minute";
    ps->mult = cfg->tf == 1 ? 1 : (int)(cfg->tf / 60);
    ps->market = !s_flags.market_hours ? m->hours :
                 strcmp(s_flags.market_hours, "always") == 0 ?
                 SOURCE_MARKET_ALWAYS :
                 strcmp(s_flags.market_hours, "forex") == 0 ?
                 SOURCE_MARKET_FOREX : SOURCE_MARKET_US_EQUITIES;
    ps->hours_at = s_env_ms("LIVETRADE_POLYGON_HOURS_AT_MS", -1,
                            HOURS_AT_MAX);
    ps->hours_mono = mono_ms();
    ps->stale_ms = s_flags.stale_after > 0 ?
                   (int64_t)llround(s_flags.stale_after * 1000.0) :
                   3 * ps->tf_ms + STALE_MARGIN_MS;
    ps->corr_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->old_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->silent_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->cache_lim = (struct log_limit)LOG_LIMIT_INIT;
    ps->gap_retry_ms = s_env_ms("LIVETRADE_POLYGON_GAP_RETRY_MS",
                                GAP_RETRY_MS, GAP_RETRY_MAX_MS);
    ps->hist_log_ms = s_env_ms("LIVETRADE_POLYGON_PROGRESS_MS", HIST_LOG_MS,
                               HIST_LOG_MAX_MS);
    for (int i = 0; i < ps->nsym; i++) {
        s_psym_init(ps, &ps->sym[i], cfg->symbols[i]);
        polygon_market_ws(m, cfg->symbols[i], ws_names[i]);
        ws_syms[i] = ws_names[i];
    }
    if (cfg->history > 0)
        polygon_hist_open(ps, &s_flags);
    ps->hist_n = cfg->history;
    rc = s_open_workers(ps, key, cfg->history > 0 ?
                        (int)s_flags.hist_conc : 1, err);
    if (rc)
        goto fail;

    snprintf(ps->ws_url, sizeof ps->ws_url, "%s%s", s_flags.ws_url ?
             s_flags.ws_url : strcmp(s_flags.feed, "delayed") == 0 ?
             WS_DELAYED_HOST : WS_HOST, s_flags.ws_url ? "" : m->path);
    memset(&ev, 0, sizeof ev);
    ev.opened = s_lws_opened;
    ev.frame = s_lws_frame;
    ev.closed = s_lws_closed;
    ev.activity = s_lws_activity;
    ev.arg = ps;
    ps->lws = polygon_lws_new(ps->ws_url, s_flags.ca_file, &ev, err);
    if (!ps->lws)
        goto fail;
    polygon_ws_cfg_defaults(&wc);
    wc.api_key = key;
    wc.symbols = ws_syms;
    wc.nsym = cfg->nsym;
    wc.all = cfg->all;
    wc.channel = cfg->tf == 1 ? m->ev_second : m->ev_minute;
    wc.key = m->key;
    wc.kicked_backoff_ms = s_env_ms("LIVETRADE_POLYGON_KICKED_WAIT_MS",
                                    wc.kicked_backoff_ms, KICKED_WAIT_MAX_MS);
    wc.read_timeout_ms = s_env_ms("LIVETRADE_POLYGON_READ_TIMEOUT_MS",
                                  wc.read_timeout_ms, READ_TIMEOUT_MAX_MS);
    if (wc.read_timeout_ms < 1000)
        wc.read_timeout_ms = 1000;
    /* Three pings per read deadline: one lost pong is not a dead link. */
    if (wc.read_timeout_ms / 3 < POLYGON_LWS_PING_MS)
        polygon_lws_set_ping(ps->lws, wc.read_timeout_ms / 3);
    memset(&io, 0, sizeof io);
    io.connect = s_io_connect;
    io.send = s_io_send;
    io.close = s_io_close;
    io.bar = s_ws_bar;
    io.resumed = s_ws_resumed;
    io.symbol = s_ws_symbol;
    io.arg = ps;
    ps->ws = polygon_ws_new(&wc, &io, err);
    if (!ps->ws)
        goto fail;
    if (loop_add_timer(ps->loop, TICK_MS, s_tick, ps) < 0) {
        snprintf(err, ERR_LEN, "polygon: event loop is full");
        goto fail;
    }
    ps->opened = 1;
    for (int i = 0; i < ps->nsym && cfg->history > 0; i++)
        polygon_hist_want(ps, i);
    if (ps->fatal) {
        snprintf(err, ERR_LEN, "polygon: out of memory");
        goto fail;
    }
    if (ps->hist_done == ps->hist_total) {      /* no REST needed */
        rc = s_ws_start(ps, err);
        if (rc)
            goto fail;
    } else {
        log_msg(LL_INFO, "polygon: history of %llu symbols through REST, "
                "%d at a time (%llu from the cache alone); each goes live "
                "when its own is out", (unsigned long long)(ps->hist_total
                - ps->hist_done), ps->nworkers,
                (unsigned long long)ps->hist_cached);
    }
    ps->cfg_tmp = NULL;
    free(ws_syms);
    free(ws_names);
    return ps;
fail:
    s_close(ps);
    free(ws_syms);
    free(ws_names);
    return NULL;
}

static int s_counters(void *state, struct source_counter *c, int max)
{
    struct polygon_src *ps = state;
    struct polygon_rest_stats st;
    uint64_t silent = 0;
    int k = 0;

    memset(&st, 0, sizeof st);
    for (int j = 0; j < ps->nworkers; j++) {
        struct polygon_rest_stats w;
        polygon_worker_stats(ps->workers[j], &w);
        st.requests += w.requests;
        st.retries += w.retries;
    }
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
    C("market_open", (uint64_t)polygon_market_open(ps->market,
                                                   s_hours_now(ps)));
    C("symbols_now", (uint64_t)ps->nsym);
    C("new_symbols", ps->new_syms);
    C("rest_requests", st.requests);
    C("rest_retries", st.retries);
    C("cache_bars", ps->cache_bars);
    C("cache_errors", ps->cache_errors);
    if (ps->hist_n > 0) {
        int64_t eta = polygon_hist_eta_ms(ps->hist_fetched - ps->hist_round,
                                          ps->hist_total - ps->hist_done,
                                          mono_ms() - ps->hist_t0);
        C("history_symbols_now", ps->hist_total);
        C("history_done", ps->hist_done);
        C("history_failed", ps->hist_failed);
        /* Seconds left, rounded up; 0: done or not known yet. */
        C("history_left_s_now", eta > 0 ? (uint64_t)(eta + 999) / 1000 : 0);
    }
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
        C("ws_connects", ws->connects);
        C("ws_timeouts", ws->timeouts);
        C("ws_kicked", ws->kicked);
        C("ws_wrong_channel", ws->wrong_channel);
        C("ws_unknown_symbol", ws->unknown_sym);
    }
#undef C
    return k;
}

static int s_ready(void *state, int i)
{
    const struct polygon_src *ps = state;

    return ps->sym[i].hist != HIST_QUEUED && ps->sym[i].hist != HIST_ASKING;
}

const struct source_ops source_polygon = {
    .name = "polygon",
    .opts = s_opts,
    .check = s_check,
    .symbol = s_symbol,
    .open = s_open,
    .next_bar = NULL,
    .close = s_close,
    .counters = s_counters,
    .ready = s_ready,
};
