/* main.c -- livetrade-feeder: publishes bars for --symbols from one source
 * on the bus and answers history and status requests.
 *
 * --source csv replays the CSV file --data as the bars of one symbol
 * (--symbols, default the file's base name upper-cased): its first
 * --history bars (default 0) are history, the rest go out live at
 * --interval, or paced by their own times at --speed.
 *
 * --source polygon publishes Polygon.io (Massive) aggregates for --symbols:
 * --history bars of REST history per symbol (cached in --cache-dir), then
 * minute (--timeframe 60, AM.*; multiples of 60 aggregated) or second
 * (--timeframe 1, A.*) bars from the WebSocket, gaps after every
 * (re)connect filled through REST at no more than --rate requests a
 * minute. The API key comes from POLYGON_API_KEY or MASSIVE_API_KEY
 * (environment or .env); --rest-url, --ws-url, --feed and --ca-file pick
 * the servers (polygon_source.h); --market-hours and --stale-after say
 * when a silent symbol is reported.
 *
 * The flags of a source are its own table (source_ops.opts): csv's and
 * polygon's are refused with another --source.
 *
 * Exit codes: 0 after SIGINT/SIGTERM (or --exit-when-done), 1 when an
 * endpoint cannot be bound, the source cannot start or fails for good
 * (polygon: key refused, plan not entitled), 2 on bad usage (polygon: no
 * API key). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "config.h"
#include "curve.h"
#include "csv.h"
#include "csv_source.h"
#include "err.h"
#include "feeder.h"
#include "flags.h"
#include "http_metrics.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "polygon_source.h"
#include "proc.h"
#include "source.h"
#include "store.h"
#include "util.h"

#define PROG "livetrade-feeder"
#define INTERVAL_MAX 86400.0        /* seconds */
#define START_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define START_UNSET INT64_MIN

/* Every source the feeder knows; a new source is one line here. */
static const struct source_ops *const s_sources[] = {
    &source_demo,
    &source_csv,
    &source_polygon,
    NULL
};

struct args {
    const char *source;             /* --source */
    const char *pub;                /* --pub endpoint */
    const char *rep;                /* --rep endpoint */
    int64_t seed;                   /* --seed */
    double interval;                /* --interval, seconds */
    int64_t timeframe;              /* --timeframe, seconds */
    int64_t history;                /* --history, bars; -1: not given */
    int64_t keep_bars;              /* --keep-bars; -1: not given */
    double history_days;            /* --history-days / HISTORICAL_DAYS */
    int64_t count;                  /* --count, live bars per symbol */
    int64_t start;                  /* --start, epoch ms, or START_UNSET */
    int exit_when_done;             /* --exit-when-done */
    int64_t wait_subs;              /* --wait-subscribers */
    char sym[SYM_MAX];              /* csv: symbol from the file name */
    struct flags flags;             /* the shared ones */
};

static const char s_usage[] =
    PROG " [--source demo|csv|polygon] [--data FILE] [--symbols A,B] "
    "[--pub EP] "
    "[--rep EP] [options]";

static const struct source_ops *s_find_source(const char *name, char *err)
{
    char list[128] = "";
    size_t off = 0;

    for (int i = 0; s_sources[i]; i++) {
        if (strcmp(s_sources[i]->name, name) == 0)
            return s_sources[i];
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
                                i ? ", " : "", s_sources[i]->name);
        if (off >= sizeof list)
            off = sizeof list - 1;
    }
    snprintf(err, ERR_LEN, "unknown source '%.64s' (expected %s)", name,
             list);
    return NULL;
}

/* Range checks that config_parse cannot do. 0, or -1 with a reason. */
static int s_check_args(const struct args *a, char *err)
{
    if (!isfinite(a->interval) || a->interval < 0 ||
        a->interval > INTERVAL_MAX) {
        snprintf(err, ERR_LEN, "--interval must be between 0 and %.0f "
                 "seconds", INTERVAL_MAX);
        return -1;
    }
    if (a->timeframe < 1 || a->timeframe > SOURCE_TF_MAX) {
        snprintf(err, ERR_LEN, "--timeframe must be between 1 and %d "
                 "seconds", SOURCE_TF_MAX);
        return -1;
    }
    if (a->history < 0 || a->history > STORE_MAX_BARS) {
        snprintf(err, ERR_LEN, "--history must be between 0 and %d bars",
                 STORE_MAX_BARS);
        return -1;
    }
    if (a->keep_bars != -1 && (a->keep_bars < STORE_MIN_BARS ||
                               a->keep_bars > STORE_MAX_BARS)) {
        snprintf(err, ERR_LEN, "--keep-bars must be between %d and %d bars",
                 STORE_MIN_BARS, STORE_MAX_BARS);
        return -1;
    }
    if (a->keep_bars != -1 && a->history > a->keep_bars) {
        snprintf(err, ERR_LEN, "--history %lld is more than --keep-bars "
                 "%lld keeps", (long long)a->history,
                 (long long)a->keep_bars);
        return -1;
    }
    if (a->count < 0) {
        snprintf(err, ERR_LEN, "--count must be 0 (no end) or more");
        return -1;
    }
    if (a->start != START_UNSET && (a->start < 0 || a->start > START_MAX)) {
        snprintf(err, ERR_LEN, "--start must be epoch milliseconds between "
                 "0 and %lld", START_MAX);
        return -1;
    }
    if (a->exit_when_done && a->count == 0 &&
        strcmp(a->source, "csv") != 0) {
        snprintf(err, ERR_LEN, "--exit-when-done needs --count");
        return -1;
    }
    return 0;
}

/* A flag of a source other than --source is refused. 0, or -1 with a
 * reason. */
static int s_check_other_sources(const struct source_ops *chosen, int argc,
                                 char **argv, char *err)
{
    for (int i = 0; s_sources[i]; i++) {
        const struct source_ops *s = s_sources[i];
        for (const struct opt *o = s->opts; s != chosen && o && o->name;
             o++)
            if (config_given(argc, argv, 1, o->name)) {
                snprintf(err, ERR_LEN, "--%s is a %s flag: the %s flags "
                         "need --source %s", o->name, s->name, s->name,
                         s->name);
                return -1;
            }
    }
    return 0;
}

/* What --source csv implies of the feeder's flags: the demo's do not
 * apply, --speed paces instead of --interval, and the symbol comes from
 * the file name unless --symbols is given. 0, or -1 with a reason. */
static int s_check_csv(struct args *a, int argc, char **argv, char *err)
{
    static const char *const demo_only[] = {
        "seed", "timeframe", "start", "history-days", NULL
    };
    struct flags *f = &a->flags;

    if (strcmp(a->source, "csv") != 0)
        return 0;
    for (int i = 0; demo_only[i]; i++)
        if (config_given(argc, argv, 1, demo_only[i])) {
            snprintf(err, ERR_LEN, "--%s does not apply to --source csv "
                     "(the file gives the bars and their times)",
                     demo_only[i]);
            return -1;
        }
    if (source_csv_speed() > 0 && config_given(argc, argv, 1, "interval")) {
        snprintf(err, ERR_LEN, "give --speed or --interval, not both");
        return -1;
    }
    if (!config_given(argc, argv, 1, "symbols")) {
        if (csv_symbol_from_path(source_csv_data(), a->sym)) {
            snprintf(err, ERR_LEN, "cannot make a symbol of the file name "
                     "'%.80s'; give --symbols", source_csv_data());
            return -1;
        }
        if (flags_symbols_split(&f->syms, a->sym, "--symbols", err))
            return -1;
    }
    if (f->syms.n > 1) {
        snprintf(err, ERR_LEN, "--source csv replays one symbol per file; "
                 "--symbols names %d", f->syms.n);
        return -1;
    }
    return 0;
}

/* What --source polygon implies of the feeder's flags. 0, or -1 with a
 * reason. */
static int s_check_polygon(const struct args *a, char *err)
{
    if (strcmp(a->source, "polygon") != 0)
        return 0;
    if (a->timeframe != 1 && (a->timeframe % 60 ||
                              a->timeframe > POLYGON_TF_MAX)) {
        snprintf(err, ERR_LEN, "--source polygon takes --timeframe 1 "
                 "(second bars) or a multiple of 60 up to %d (minute bars, "
                 "aggregated above 60)", POLYGON_TF_MAX);
        return -1;
    }
    return 0;
}

/* Replaces the symbols of s by those the source publishes them under
 * (source_ops.symbol); two names of one symbol are refused. 0, or -1
 * with a reason. */
static int s_bus_symbols(const struct source_ops *ops,
                         struct flags_symbols *s, char *err)
{
    char *buf, **v;
    int rc = 0;

    if (!ops->symbol || s->n <= 0)
        return 0;
    buf = calloc((size_t)s->n, SYM_MAX);
    v = calloc((size_t)s->n, sizeof *v);
    if (!buf || !v) {
        snprintf(err, ERR_LEN, "out of memory");
        rc = -1;
        goto out;
    }
    for (int i = 0; i < s->n && !rc; i++) {
        v[i] = buf + (size_t)i * SYM_MAX;
        rc = ops->symbol(s->v[i], v[i], err);
        for (int j = 0; j < i && !rc; j++)
            if (strcmp(v[i], v[j]) == 0) {
                snprintf(err, ERR_LEN, "--symbols names %.40s twice (as "
                         "%.40s and %.40s)", v[i], s->v[j], s->v[i]);
                rc = -1;
            }
    }
    if (rc)
        goto out;
    free(s->v);
    free(s->buf);
    s->v = v;
    s->buf = buf;
    return 0;
out:
    free(buf);
    free(v);
    return -1;
}

/* Default start: the current period, aligned down to the timeframe, less
 * `history` bars; the first live bar is then the current period. */
static int s_default_start(const struct args *a, int64_t *start, char *err)
{
    int64_t tf_ms = a->timeframe * 1000, now = wall_ms();

    *start = now - now % tf_ms - a->history * tf_ms;
    if (*start < 0) {
        snprintf(err, ERR_LEN, "--history %lld bars of %llds reach back "
                 "before 1970; lower one or give --start",
                 (long long)a->history, (long long)a->timeframe);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct args a = {
        .source = "demo",
        .pub = "tcp://127.0.0.1:5555", .rep = "tcp://127.0.0.1:5556",
        .seed = 42, .interval = 1.0, .timeframe = 60, .history = -1,
        .keep_bars = -1,
        .count = 0, .start = START_UNSET,
    };
    const struct opt opts[] = {
        { "source", OPT_STR, &a.source, NULL, "NAME",
          "bar source: demo (synthetic), csv (replay --data) or polygon "
          "[demo]" },
        { "pub", OPT_STR, &a.pub, NULL, "ENDPOINT",
          "bind bars here (XPUB) [tcp://127.0.0.1:5555]" },
        { "rep", OPT_STR, &a.rep, NULL, "ENDPOINT",
          "bind history/status requests here (ROUTER) "
          "[tcp://127.0.0.1:5556]" },
        { "seed", OPT_INT, &a.seed, NULL, "N",
          "demo: random seed; same seed, same bars [42]" },
        { "interval", OPT_DBL, &a.interval, NULL, "SEC",
          "seconds between live bars; 0 = as fast as possible [1]" },
        { "timeframe", OPT_INT, &a.timeframe, NULL, "SEC",
          "bar length in seconds [60]" },
        { "history-days", OPT_DBL, &a.history_days, "HISTORICAL_DAYS",
          "DAYS", "history as days of bars, when --history is not given" },
        { "history", OPT_INT, &a.history, NULL, "N",
          "bars per symbol before the first live bar [500; csv: 0]" },
        { "keep-bars", OPT_INT, &a.keep_bars, NULL, "N",
          "bars per symbol kept for history requests, the newest "
          "[100000, or --history if more]" },
        { "count", OPT_INT, &a.count, NULL, "N",
          "live bars per symbol, then only serve requests; 0 = no end [0]" },
        { "start", OPT_INT, &a.start, NULL, "MS",
          "epoch ms of the first history bar [now - history bars]" },
        { "wait-subscribers", OPT_INT, &a.wait_subs, NULL, "N",
          "publish live bars only once N subscriptions to bars arrived" },
        { "exit-when-done", OPT_BOOL, &a.exit_when_done, NULL, NULL,
          "with --count (csv: or at the end of the file): exit 0 once "
          "the last bar is out" },
        { 0 }
    };
    struct flags *fl = &a.flags;
    char err[ERR_LEN], names[512];
    struct feeder_cfg cfg;
    feeder_t *f = NULL;
    loop_t *loop = NULL;
    metrics_t *reg = NULL;
    http_metrics_t *http = NULL;
    int rc, npos = 0, code = 1;

    proc_init(PROG);
    *fl = (struct flags){
        .prog = PROG, .usage = s_usage, .tables = { opts },
        .shared = FLAG_SYMBOLS | FLAG_METRICS | FLAG_VERBOSE | FLAG_CURVE,
        .symbols = "AAPL", .symbols_env = "TRADING_SYMBOLS",
        .symbols_help = "symbols to publish [AAPL]; polygon: '*' for "
                        "every symbol of the feed; csv: one [file's base "
                        "name]",
        .symbols_all = 1,
    };
    /* Every source's flags, so that one for another source is named. */
    for (int i = 0, n = 1; s_sources[i] && n < FLAGS_TABLES_MAX; i++)
        if (s_sources[i]->opts)
            fl->tables[n++] = s_sources[i]->opts;
    rc = flags_parse(fl, argc, argv, 1, NULL, 0, &npos, err);
    if (rc == 1) {
        flags_usage(fl);
        flags_free(fl);
        return 0;
    }
    if (rc)
        goto usage;
    if (strcmp(a.source, "csv") == 0 && a.history == -1)
        a.history = 0;              /* the whole file is replayed */
    if (a.history == -1) {
        if (!(a.history_days >= 0 && a.history_days <= 36600)) {
            snprintf(err, ERR_LEN, "--history-days (HISTORICAL_DAYS) must "
                     "be between 0 and 36600");
            goto usage;
        }
        a.history = a.history_days > 0 ?
            (int64_t)(a.history_days * 86400 / (double)a.timeframe) : 500;
        if (a.history > STORE_MAX_BARS)
            a.history = STORE_MAX_BARS;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = s_find_source(a.source, err);
    if (!cfg.ops || s_check_other_sources(cfg.ops, argc, argv, err) ||
        (cfg.ops->check && cfg.ops->check(err)) ||
        s_check_args(&a, err) || s_check_csv(&a, argc, argv, err) ||
        s_check_polygon(&a, err) || s_bus_symbols(cfg.ops, &fl->syms, err))
        goto usage;
    if (fl->syms.all && cfg.ops->next_bar) {
        snprintf(err, ERR_LEN, "--symbols '*' needs a source that brings "
                 "its symbols (polygon); --source %s takes a list",
                 cfg.ops->name);
        goto usage;
    }
    if (cfg.ops == &source_csv && a.start == START_UNSET)
        a.start = 0;                /* bar times come from the file */
    if (a.start == START_UNSET && s_default_start(&a, &a.start, err))
        goto usage;
    if ((rc = curve_flag(PROG, fl->curve)) != 0) {
        flags_free(fl);
        return rc;
    }

    cfg.symbols = (const char *const *)fl->syms.v;
    cfg.nsym = fl->syms.n;
    cfg.all = fl->syms.all;
    cfg.pub_endpoint = a.pub;
    cfg.rep_endpoint = a.rep;
    cfg.seed = (uint64_t)a.seed;
    cfg.interval_ms = (int64_t)llround(a.interval * 1000.0);
    if (a.interval > 0 && cfg.interval_ms < 1)
        cfg.interval_ms = 1;        /* the loop counts milliseconds */
    if (cfg.ops == &source_csv && source_csv_speed() > 0)
        cfg.interval_ms = 1;        /* the source holds bars until due */
    cfg.tf = a.timeframe;
    cfg.history = a.history;
    cfg.keep_bars = a.keep_bars != -1 ? a.keep_bars :
                    a.history > STORE_KEEP_DEFAULT ? a.history :
                    STORE_KEEP_DEFAULT;
    cfg.count = a.count;
    cfg.start_ms = a.start;
    cfg.exit_when_done = a.exit_when_done;
    cfg.wait_subs = a.wait_subs;

    loop = loop_new();
    if (!loop) {
        log_msg(LL_ERROR, "out of memory");
        goto out;
    }
    f = feeder_new(&cfg, loop, err);
    if (!f) {
        log_msg(LL_ERROR, "%s", err);
        goto out;
    }
    if (fl->metrics) {
        reg = metrics_new();
        if (!reg || feeder_metrics(f, reg)) {
            log_msg(LL_ERROR, "out of memory");
            goto out;
        }
        http = http_metrics_new(fl->metrics, reg, loop, err);
        if (!http) {
            log_msg(LL_ERROR, "%s", err);
            goto out;
        }
    }
    snprintf(names, sizeof names, "%s", cfg.all ? "* (every symbol of "
             "the feed)" : "");
    for (int i = 0, off = 0; i < cfg.nsym && off < (int)sizeof names; i++)
        off += snprintf(names + off, sizeof names - (size_t)off, "%s%s",
                        i ? "," : "", cfg.symbols[i]);
    if (cfg.ops == &source_polygon) {
        log_msg(LL_INFO, "source polygon, symbols %s, pub %s, rep %s, "
                "timeframe %llds, history %lld, instance %" PRIu64,
                names, a.pub, a.rep, (long long)a.timeframe,
                (long long)a.history, feeder_instance(f));
    } else if (cfg.ops == &source_csv) {
        double speed = source_csv_speed();
        log_msg(LL_INFO, "source csv, data %s, symbol %s, pub %s, rep %s, "
                "%s %g%s, history %lld, count %lld, instance %" PRIu64,
                source_csv_data(), names, a.pub, a.rep, speed > 0 ?
                "speed" : "interval", speed > 0 ? speed : a.interval,
                speed > 0 ? "x" : "s", (long long)a.history,
                (long long)a.count, feeder_instance(f));
    } else {
        log_msg(LL_INFO, "source %s, symbols %s, pub %s, rep %s, seed %lld, "
                "interval %gs, timeframe %llds, history %lld, count %lld, "
                "start %lld, instance %" PRIu64, cfg.ops->name, names, a.pub,
                a.rep, (long long)a.seed, a.interval, (long long)a.timeframe,
                (long long)a.history, (long long)a.count, (long long)a.start,
                feeder_instance(f));
    }
    log_msg(LL_INFO, "keeping the newest %lld bars per symbol for history "
            "(--keep-bars): %.1f MiB per symbol at most", (long long)
            cfg.keep_bars, (double)cfg.keep_bars * STORE_BAR_BYTES /
            (1024.0 * 1024.0));

    rc = loop_run(loop);
    if (rc)
        log_msg(LL_ERROR, "event loop failed; draining");
    else if (proc_stop)
        log_msg(LL_INFO, "stopping (%s): draining", proc_stop_reason());
    else
        log_msg(LL_INFO, "exiting: every symbol is done");
    feeder_log_counters(f);
    code = rc || feeder_failed(f) ? 1 : 0;
out:
    http_metrics_destroy(&http);
    metrics_destroy(&reg);
    feeder_destroy(&f);
    bus_term();
    loop_destroy(&loop);
    flags_free(fl);
    return code;
usage:
    flags_free(fl);
    return proc_usage_error(PROG, err);
}
