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
#include "http_metrics.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "polygon_rest.h"
#include "polygon_source.h"
#include "polygon_ws.h"
#include "proc.h"
#include "source.h"
#include "store.h"
#include "util.h"

#define PROG "livetrade-feeder"
#define MAX_SYMBOLS 256
#define INTERVAL_MAX 86400.0        /* seconds */
#define START_MAX 253402300799999LL /* 9999-12-31T23:59:59.999Z */
#define START_UNSET INT64_MIN
#define SPEED_MAX 1e9               /* --speed: times real time */

/* Every source the feeder knows; a new source is one line here. */
static const struct source_ops *const s_sources[] = {
    &source_demo,
    &source_csv,
    &source_polygon,
    NULL
};

struct args {
    const char *source;             /* --source */
    const char *symbols;            /* --symbols, comma-separated */
    const char *pub;                /* --pub endpoint */
    const char *rep;                /* --rep endpoint */
    int64_t seed;                   /* --seed */
    double interval;                /* --interval, seconds */
    int64_t timeframe;              /* --timeframe, seconds */
    int64_t history;                /* --history, bars; -1: not given */
    double history_days;            /* --history-days / HISTORICAL_DAYS */
    int64_t count;                  /* --count, live bars per symbol */
    int64_t start;                  /* --start, epoch ms, or START_UNSET */
    int exit_when_done;             /* --exit-when-done */
    int64_t wait_subs;              /* --wait-subscribers */
    int verbose;                    /* --verbose */
    const char *curve;              /* --curve */
    const char *data;               /* --data, csv: the file */
    double speed;                   /* --speed, csv: 0 or times real time */
    char sym[SYM_MAX];              /* csv: symbol from the file name */
    const char *rest_url;           /* --rest-url, polygon */
    const char *ws_url;             /* --ws-url, polygon */
    const char *feed;               /* --feed realtime|delayed, polygon */
    const char *ca_file;            /* --ca-file, polygon */
    int64_t rate;                   /* --rate, polygon */
    const char *cache_dir;          /* --cache-dir, polygon; NULL: default */
    const char *market_hours;       /* --market-hours, polygon */
    double stale_after;             /* --stale-after, polygon; 0: auto */
    const char *metrics;            /* --metrics HOST:PORT, NULL: off */
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

/* Splits and checks --symbols into syms[] (pointing into buf); drops
 * repeats. Returns the count, or -1 with a reason in err. */
static int s_parse_symbols(char *buf, const char **syms, char *err)
{
    char *items[MAX_SYMBOLS];
    int n = split_list(buf, items, MAX_SYMBOLS), k = 0;

    if (n < 0) {
        snprintf(err, ERR_LEN, "too many symbols (at most %d)", MAX_SYMBOLS);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        int seen = 0;
        if (!symbol_valid(items[i])) {
            snprintf(err, ERR_LEN, "invalid symbol '%.40s' (1 to %d of "
                     "A-Z a-z 0-9 . : / _ -)", items[i], SYM_MAX - 1);
            return -1;
        }
        for (int j = 0; j < k && !seen; j++)
            seen = strcmp(syms[j], items[i]) == 0;
        if (!seen)
            syms[k++] = items[i];
    }
    if (k == 0) {
        snprintf(err, ERR_LEN, "no symbols given");
        return -1;
    }
    return k;
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

/* 1 if --name is on the command line (rather than from the environment
 * or the default). */
static int s_given(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);

    for (int i = 1; i < argc; i++)
        if (strncmp(argv[i], "--", 2) == 0 &&
            strncmp(argv[i] + 2, name, n) == 0 &&
            (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
            return 1;
    return 0;
}

/* The flags of --source csv, and the ones that belong to it alone. Picks
 * the symbol from the file name unless --symbols is given. 0, or -1 with
 * a reason. */
static int s_check_csv(struct args *a, int argc, char **argv, char *err)
{
    static const char *const demo_only[] = {
        "seed", "timeframe", "start", "history-days", NULL
    };

    if (strcmp(a->source, "csv") != 0) {
        if (a->data || s_given(argc, argv, "speed")) {
            snprintf(err, ERR_LEN, "--data and --speed need --source csv");
            return -1;
        }
        return 0;
    }
    for (int i = 0; demo_only[i]; i++)
        if (s_given(argc, argv, demo_only[i])) {
            snprintf(err, ERR_LEN, "--%s does not apply to --source csv "
                     "(the file gives the bars and their times)",
                     demo_only[i]);
            return -1;
        }
    if (!a->data || !*a->data) {
        snprintf(err, ERR_LEN, "--source csv needs --data FILE");
        return -1;
    }
    if (s_given(argc, argv, "speed")) {
        if (!isfinite(a->speed) || a->speed <= 0 || a->speed > SPEED_MAX) {
            snprintf(err, ERR_LEN, "--speed must be above 0 and at most "
                     "%.0g (times real time)", SPEED_MAX);
            return -1;
        }
        if (s_given(argc, argv, "interval")) {
            snprintf(err, ERR_LEN, "give --speed or --interval, not both");
            return -1;
        }
    }
    if (!s_given(argc, argv, "symbols")) {
        if (csv_symbol_from_path(a->data, a->sym)) {
            snprintf(err, ERR_LEN, "cannot make a symbol of the file name "
                     "'%.80s'; give --symbols", a->data);
            return -1;
        }
        a->symbols = a->sym;
    }
    return 0;
}

/* The flags of --source polygon, and the ones that belong to it alone.
 * 0, or -1 with a reason (no API key included). */
static int s_check_polygon(const struct args *a, int argc, char **argv,
                           char *err)
{
    static const char *const own[] = {
        "rest-url", "ws-url", "feed", "ca-file", "rate", "cache-dir",
        "market-hours", "stale-after", NULL
    };

    if (strcmp(a->source, "polygon") != 0) {
        for (int i = 0; own[i]; i++)
            if (s_given(argc, argv, own[i])) {
                snprintf(err, ERR_LEN, "--%s needs --source polygon",
                         own[i]);
                return -1;
            }
        return 0;
    }
    if (a->timeframe != 1 && (a->timeframe % 60 ||
                              a->timeframe > POLYGON_TF_MAX)) {
        snprintf(err, ERR_LEN, "--source polygon takes --timeframe 1 "
                 "(second bars) or a multiple of 60 up to %d (minute bars, "
                 "aggregated above 60)", POLYGON_TF_MAX);
        return -1;
    }
    if (a->rate < 0 || a->rate > 100000) {
        snprintf(err, ERR_LEN, "--rate must be between 0 (no limit) and "
                 "100000 requests per minute");
        return -1;
    }
    if (strcmp(a->market_hours, "us-equities") != 0 &&
        strcmp(a->market_hours, "always") != 0) {
        snprintf(err, ERR_LEN, "--market-hours must be us-equities or "
                 "always");
        return -1;
    }
    if (!(a->stale_after >= 0 && a->stale_after <= 86400)) {
        snprintf(err, ERR_LEN, "--stale-after must be between 0 (auto) and "
                 "86400 seconds");
        return -1;
    }
    if (strcmp(a->feed, "realtime") != 0 && strcmp(a->feed, "delayed")) {
        snprintf(err, ERR_LEN, "--feed must be realtime or delayed");
        return -1;
    }
    if (!polygon_source_key()) {
        snprintf(err, ERR_LEN, "--source polygon needs an API key: set "
                 "POLYGON_API_KEY (or MASSIVE_API_KEY) in the environment "
                 "or in .env");
        return -1;
    }
    return 0;
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
        .source = "demo", .symbols = "AAPL",
        .pub = "tcp://127.0.0.1:5555", .rep = "tcp://127.0.0.1:5556",
        .seed = 42, .interval = 1.0, .timeframe = 60, .history = -1,
        .count = 0, .start = START_UNSET, .feed = "realtime",
        .market_hours = "us-equities",
    };
    const struct opt opts[] = {
        { "source", OPT_STR, &a.source, NULL, "NAME",
          "bar source: demo (synthetic) or csv (replay --data) [demo]" },
        { "data", OPT_STR, &a.data, NULL, "FILE",
          "csv: the CSV file to replay" },
        { "symbols", OPT_STR, &a.symbols, "TRADING_SYMBOLS", "A,B",
          "symbols to publish [AAPL]; csv: one [file's base name]" },
        { "pub", OPT_STR, &a.pub, NULL, "ENDPOINT",
          "bind bars here (XPUB) [tcp://127.0.0.1:5555]" },
        { "rep", OPT_STR, &a.rep, NULL, "ENDPOINT",
          "bind history/status requests here (ROUTER) "
          "[tcp://127.0.0.1:5556]" },
        { "seed", OPT_INT, &a.seed, NULL, "N",
          "demo: random seed; same seed, same bars [42]" },
        { "interval", OPT_DBL, &a.interval, NULL, "SEC",
          "seconds between live bars; 0 = as fast as possible [1]" },
        { "speed", OPT_DBL, &a.speed, NULL, "X",
          "csv: pace live bars by their times, X times real time" },
        { "timeframe", OPT_INT, &a.timeframe, NULL, "SEC",
          "bar length in seconds [60]" },
        { "history-days", OPT_DBL, &a.history_days, "HISTORICAL_DAYS",
          "DAYS", "history as days of bars, when --history is not given" },
        { "history", OPT_INT, &a.history, NULL, "N",
          "bars per symbol before the first live bar [500; csv: 0]" },
        { "count", OPT_INT, &a.count, NULL, "N",
          "live bars per symbol, then only serve requests; 0 = no end [0]" },
        { "start", OPT_INT, &a.start, NULL, "MS",
          "epoch ms of the first history bar [now - history bars]" },
        { "wait-subscribers", OPT_INT, &a.wait_subs, NULL, "N",
          "publish live bars only once N subscriptions to bars arrived" },
        { "exit-when-done", OPT_BOOL, &a.exit_when_done, NULL, NULL,
          "with --count (csv: or at the end of the file): exit 0 once "
          "the last bar is out" },
        { "rest-url", OPT_STR, &a.rest_url, NULL, "URL",
          "polygon: REST base [" POLYGON_REST_BASE "]" },
        { "ws-url", OPT_STR, &a.ws_url, NULL, "URL",
          "polygon: WebSocket URL [" POLYGON_WS_URL ", delayed: "
          POLYGON_WS_DELAYED_URL "]" },
        { "feed", OPT_STR, &a.feed, NULL, "FEED",
          "polygon: realtime or delayed [realtime]" },
        { "ca-file", OPT_STR, &a.ca_file, NULL, "FILE",
          "polygon: CA bundle for https:// and wss:// [system]" },
        { "rate", OPT_INT, &a.rate, NULL, "N",
          "polygon: REST requests per minute, 5 on the free plan; "
          "0 = no limit [0]" },
        { "cache-dir", OPT_STR, &a.cache_dir, NULL, "DIR",
          "polygon: history cache; \"\" = none "
          "[$XDG_CACHE_HOME/livetrade or ~/.cache/livetrade]" },
        { "market-hours", OPT_STR, &a.market_hours, NULL, "HOURS",
          "polygon: when silence is reported: us-equities (Mon-Fri "
          "09:30-16:00 New York) or always [us-equities]" },
        { "stale-after", OPT_DBL, &a.stale_after, NULL, "SEC",
          "polygon: report a symbol silent this long while the market "
          "is open [3 timeframes + 30]" },
        { "metrics", OPT_STR, &a.metrics, NULL, "HOST:PORT",
          "serve Prometheus metrics on http://HOST:PORT/metrics [off]" },
        { "verbose", OPT_BOOL, &a.verbose, NULL, NULL, "log debug lines" },
        { "curve", OPT_STR, &a.curve, "LIVETRADE_CURVE", "DIR",
          CURVE_OPT_HELP },
        { 0 }
    };
    const char *syms[MAX_SYMBOLS];
    char err[ERR_LEN], *symbuf = NULL, names[512];
    struct feeder_cfg cfg;
    feeder_t *f = NULL;
    loop_t *loop = NULL;
    metrics_t *reg = NULL;
    http_metrics_t *http = NULL;
    int rc, nsym, npos = 0, code = 1;

    proc_init(PROG);
    rc = config_parse(opts, argc, argv, 1, NULL, 0, &npos, err);
    if (rc == 1) {
        config_usage(s_usage, opts);
        return 0;
    }
    if (rc)
        return proc_usage_error(PROG, err);
    if (strcmp(a.source, "csv") == 0 && a.history == -1)
        a.history = 0;              /* the whole file is replayed */
    if (a.history == -1) {
        if (!(a.history_days >= 0 && a.history_days <= 36600))
            return proc_usage_error(PROG, "--history-days (HISTORICAL_DAYS) "
                                    "must be between 0 and 36600");
        a.history = a.history_days > 0 ?
            (int64_t)(a.history_days * 86400 / (double)a.timeframe) : 500;
        if (a.history > STORE_MAX_BARS)
            a.history = STORE_MAX_BARS;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.ops = s_find_source(a.source, err);
    if (!cfg.ops || s_check_args(&a, err) ||
        (a.metrics && http_metrics_check(a.metrics, err)) ||
        s_check_csv(&a, argc, argv, err) ||
        s_check_polygon(&a, argc, argv, err))
        return proc_usage_error(PROG, err);
    symbuf = strdup(a.symbols);
    if (!symbuf)
        return proc_usage_error(PROG, "out of memory");
    nsym = s_parse_symbols(symbuf, syms, err);
    if (nsym > 1 && cfg.ops == &source_csv) {
        snprintf(err, ERR_LEN, "--source csv replays one symbol per file; "
                 "--symbols names %d", nsym);
        nsym = -1;
    }
    if (cfg.ops == &source_csv && a.start == START_UNSET)
        a.start = 0;                /* bar times come from the file */
    if (nsym < 0 || (a.start == START_UNSET &&
                     s_default_start(&a, &a.start, err))) {
        free(symbuf);
        return proc_usage_error(PROG, err);
    }
    if (a.verbose)
        log_level = LL_DEBUG;
    if ((rc = curve_flag(PROG, a.curve)) != 0) {
        free(symbuf);
        return rc;
    }

    cfg.symbols = syms;
    cfg.nsym = nsym;
    cfg.pub_endpoint = a.pub;
    cfg.rep_endpoint = a.rep;
    cfg.seed = (uint64_t)a.seed;
    cfg.interval_ms = (int64_t)llround(a.interval * 1000.0);
    if (a.interval > 0 && cfg.interval_ms < 1)
        cfg.interval_ms = 1;        /* the loop counts milliseconds */
    if (a.speed > 0)
        cfg.interval_ms = 1;        /* the source holds bars until due */
    cfg.data = a.data;
    cfg.speed = a.speed;
    cfg.tf = a.timeframe;
    cfg.history = a.history;
    cfg.count = a.count;
    cfg.start_ms = a.start;
    cfg.exit_when_done = a.exit_when_done;
    cfg.wait_subs = a.wait_subs;
    cfg.rest_url = a.rest_url;
    cfg.ws_url = a.ws_url;
    cfg.ca_file = a.ca_file;
    cfg.delayed = strcmp(a.feed, "delayed") == 0;
    cfg.rate_per_min = (int)a.rate;
    cfg.cache_dir = a.cache_dir;
    cfg.market_hours = strcmp(a.market_hours, "always") == 0 ?
                       SOURCE_MARKET_ALWAYS : SOURCE_MARKET_US_EQUITIES;
    cfg.stale_ms = (int64_t)llround(a.stale_after * 1000.0);

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
    if (a.metrics) {
        reg = metrics_new();
        if (!reg || feeder_metrics(f, reg)) {
            log_msg(LL_ERROR, "out of memory");
            goto out;
        }
        http = http_metrics_new(a.metrics, reg, loop, err);
        if (!http) {
            log_msg(LL_ERROR, "%s", err);
            goto out;
        }
    }
    names[0] = '\0';
    for (int i = 0, off = 0; i < nsym && off < (int)sizeof names; i++)
        off += snprintf(names + off, sizeof names - (size_t)off, "%s%s",
                        i ? "," : "", syms[i]);
    if (cfg.ops == &source_polygon)
        log_msg(LL_INFO, "source polygon, symbols %s, pub %s, rep %s, "
                "timeframe %llds, history %lld, feed %s, instance %" PRIu64,
                names, a.pub, a.rep, (long long)a.timeframe,
                (long long)a.history, a.feed, feeder_instance(f));
    else if (cfg.ops == &source_csv)
        log_msg(LL_INFO, "source csv, data %s, symbol %s, pub %s, rep %s, "
                "%s %g%s, history %lld, count %lld, instance %" PRIu64,
                a.data, names, a.pub, a.rep, a.speed > 0 ? "speed" :
                "interval", a.speed > 0 ? a.speed : a.interval,
                a.speed > 0 ? "x" : "s", (long long)a.history,
                (long long)a.count, feeder_instance(f));
    else
        log_msg(LL_INFO, "source %s, symbols %s, pub %s, rep %s, seed %lld, "
                "interval %gs, timeframe %llds, history %lld, count %lld, "
                "start %lld, instance %" PRIu64, cfg.ops->name, names, a.pub,
                a.rep, (long long)a.seed, a.interval, (long long)a.timeframe,
                (long long)a.history, (long long)a.count, (long long)a.start,
                feeder_instance(f));

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
    free(symbuf);
    return code;
}
