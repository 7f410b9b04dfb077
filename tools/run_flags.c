/* run_flags.c -- `livetrade run`'s flags and their checks (run.h). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "csv.h"
#include "err.h"
#include "flags.h"
#include "run.h"
#include "util.h"

#include "../feeder/polygon_market.h"

/* ===== flags ========================================================= */

/* Shortest text that reads back as exactly `v`. */
void run_fmt_double(char *buf, size_t n, double v)
{
    double back;

    strfmt(buf, n, "%.15g", v);
    if (parse_double(buf, &back) != 0 || back != v)
        strfmt(buf, n, "%.17g", v);
}

/* Joins --symbols, split, into r->syms: "AAPL,MSFT" ("*" for every
 * symbol), each in its bus form for a polygon --market (X:BTCUSD is
 * BTC-USD on the bus, which the engine subscribes to). 0, or ERR_USAGE
 * naming the symbol, or ERR_NOMEM, with a line in err. */
static int s_symbols(struct run *r, char *err)
{
    const struct polygon_market *m = NULL;
    size_t len = 0, cap = 2;
    char bus[SYM_MAX];

    if (r->market && !(m = polygon_market_find(r->market))) {
        strfmt(err, ERR_LEN, "unknown --market '%s' (expected %s)",
               r->market, polygon_market_names());
        return ERR_USAGE;
    }
    /* A bus form is at most SYM_MAX - 1 bytes. */
    cap += (size_t)r->flags.syms.n * SYM_MAX;
    r->syms = malloc(cap);
    if (!r->syms) {
        strfmt(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    strfmt(r->syms, cap, "%s", r->flags.syms.all ? "*" : "");
    for (int i = 0; i < r->flags.syms.n; i++) {
        const char *sym = r->flags.syms.v[i];
        if (m) {
            if (polygon_market_bus(m, sym, bus, err))
                return ERR_USAGE;
            sym = bus;
        }
        len += (size_t)strfmt(r->syms + len, cap - len, "%s%s",
                              i ? "," : "", sym);
    }
    return 0;
}

/* What run allocated besides its flags; idempotent. */
void run_free(struct run *r)
{
    flags_free(&r->flags);
    free(r->syms);
    r->syms = NULL;
}

/* A relative strategy path that is not here is also looked for where
 * `make install` puts the examples: <bindir>/../share/livetrade/. */
static void s_installed(struct run *r)
{
    static char path[PATH_MAX];
    char exe[PATH_MAX];
    struct stat st;
    ssize_t n;
    char *slash;

    if (r->strategy[0] == '/' || stat(r->strategy, &st) == 0)
        return;
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    if (strfmt(path, sizeof path, "%s/../share/livetrade/%s", exe,
               r->strategy) >= 0 && stat(path, &st) == 0)
        r->strategy = path;
}

static int s_strategy(struct run *r, char *err)
{
    struct stat st;

    s_installed(r);
    if (stat(r->strategy, &st) < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            strfmt(err, ERR_LEN, "strategy file '%s' not found",
                   r->strategy);
        else
            strfmt(err, ERR_LEN, "strategy file '%s': %s", r->strategy,
                   strerror(errno));
        return ERR_USAGE;
    }
    if (S_ISDIR(st.st_mode)) {
        strfmt(err, ERR_LEN, "strategy file '%s' is a directory",
               r->strategy);
        return ERR_USAGE;
    }
    if (access(r->strategy, R_OK) < 0) {
        strfmt(err, ERR_LEN, "strategy file '%s' is not readable: %s",
               r->strategy, strerror(errno));
        return ERR_USAGE;
    }
    return 0;
}

/* --symbol, and the flags of --data-source csv: the symbol is --symbols
 * or --symbol if given on the command line, else the file's base name
 * upper-cased (as `livetrade backtest` names it); the file gives the bar
 * times and the timeframe, so --seed and --timeframe do not apply; every
 * bar is live (the strategy warms up on the first ones, as in a
 * backtest), so --history does not either. */
static int s_check_csv(struct run *r, int argc, char **argv, char *err)
{
    static const char *const demo_only[] = {
        "seed", "timeframe", "history", NULL
    };
    int given = config_given(argc, argv, 1, "symbols");

    if (r->symbol) {
        if (given) {
            strfmt(err, ERR_LEN, "give --symbol or --symbols, not both");
            return ERR_USAGE;
        }
        if (flags_symbols_split(&r->flags.syms, r->symbol, "--symbol", err))
            return ERR_USAGE;
        given = 1;
    }
    r->csv = strcmp(r->source, "csv") == 0;
    if (!r->csv) {
        if (r->data) {
            strfmt(err, ERR_LEN, "--data needs --data-source csv");
            return ERR_USAGE;
        }
        return 0;
    }
    if (!r->data || !*r->data) {
        strfmt(err, ERR_LEN, "--data-source csv needs --data FILE");
        return ERR_USAGE;
    }
    for (int i = 0; demo_only[i]; i++)
        if (config_given(argc, argv, 1, demo_only[i])) {
            strfmt(err, ERR_LEN, "--%s does not apply to --data-source csv "
                   "(the file gives the bars and their times, and every "
                   "bar is replayed live)", demo_only[i]);
            return ERR_USAGE;
        }
    if (access(r->data, R_OK) < 0) {
        strfmt(err, ERR_LEN, "--data: cannot read '%s': %s", r->data,
               strerror(errno));
        return ERR_USAGE;
    }
    if (!given) {
        if (csv_symbol_from_path(r->data, r->csv_sym)) {
            strfmt(err, ERR_LEN, "cannot make a symbol of the file name "
                   "'%.80s'; give --symbol", r->data);
            return ERR_USAGE;
        }
        if (flags_symbols_split(&r->flags.syms, r->csv_sym, "--symbol",
                                err))
            return ERR_USAGE;
    }
    return 0;
}

/* Returns 0, 1 after --help, or ERR_USAGE with the reason in `err`. */
int run_parse(struct run *r, int argc, char **argv, char *err)
{
    const struct opt opts[] = {
        { "strategy", OPT_STR, &r->strategy, NULL, "FILE",
          "Lua strategy (default strategies/sma_cross_close.lua)" },
        { "symbol", OPT_STR, &r->symbol, NULL, "SYM",
          "the same as --symbols, for one symbol" },
        { "data-source", OPT_STR, &r->source, NULL, "NAME",
          "where bars come from: demo, csv or polygon (default demo)" },
        { "data", OPT_STR, &r->data, NULL, "FILE",
          "csv: the CSV file to replay (as livetrade backtest reads)" },
        { "lookback", OPT_INT, &r->lookback, NULL, "N",
          "warm-up bars (default: from the strategy)" },
        { "duration", OPT_DBL, &r->duration, NULL, "MIN",
          "minutes to run, fractions allowed (default 60)" },
        { "param", OPT_MULTI, &r->params, NULL, "NAME=VALUE",
          "strategy parameter; repeatable" },
        { "seed", OPT_INT, &r->seed, NULL, "N",
          "demo data seed (default 42)" },
        { "interval", OPT_DBL, &r->interval, NULL, "SEC",
          "demo, csv: seconds between bars, 0 = no wait (default 1)" },
        { "timeframe", OPT_INT, &r->timeframe, NULL, "SEC",
          "bar length in seconds (default 60)" },
        { "history", OPT_INT, &r->history, NULL, "N",
          "bars the feeder holds for warm-up (default: the feeder's)" },
        { "rest-url", OPT_STR, &r->rest_url, NULL, "URL",
          "polygon: REST base URL" },
        { "ws-url", OPT_STR, &r->ws_url, NULL, "URL",
          "polygon: WebSocket URL" },
        { "ca-file", OPT_STR, &r->ca_file, NULL, "FILE",
          "polygon: CA bundle for https:// and wss://" },
        { "feed", OPT_STR, &r->feed, NULL, "realtime|delayed",
          "polygon: feed cluster (default realtime)" },
        { "rate", OPT_STR, &r->rate, NULL, "N",
          "polygon: REST requests per minute (free plan: 5)" },
        { "market", OPT_STR, &r->market, NULL,
          "stocks|crypto|forex|indices",
          "polygon: the market streamed (default stocks)" },
        { "json", OPT_BOOL, &r->json, NULL, NULL,
          "print signals as JSON lines" },
        { "flat-closes", OPT_BOOL, &r->flat_closes, NULL, NULL,
          "also show closes that found no position (left out by "
          "default)" },
        { 0 }
    };
    int rc;

    r->flags = (struct flags){
        .prog = PROG, .usage = PROG " run [flags]", .tables = { opts },
        .shared = FLAG_SYMBOLS | FLAG_VERBOSE,
        .symbols = "AAPL", .symbols_env = "TRADING_SYMBOLS",
        .symbols_help = "symbols to trade (default AAPL; csv: the file's "
                        "base name; polygon: '*' for every symbol)",
        .symbols_all = 1,
        .verbose_help = "debug logs from every program",
    };
    r->strategy = "strategies/sma_cross_close.lua";
    r->source = "demo";
    r->lookback = NO_LOOKBACK;
    r->duration = 60;
    r->seed = 42;
    r->interval = 1.0;
    r->timeframe = 60;
    r->history = NO_LOOKBACK;

    rc = flags_parse(&r->flags, argc, argv, 1, NULL, 0, NULL, err);
    if (rc == 1) {
        flags_usage(&r->flags);
        printf("\nStarts livetrade-sink, -engine and -feeder from the "
               "directory of this program\n(or $LIVETRADE_BIN_DIR) and "
               "stops them after --duration or on Ctrl-C\n(csv: also at "
               "the end of the file). `livetrade status` finds the "
               "running pipeline.\n");
        return 1;
    }
    if (rc)
        return ERR_USAGE;
    if (strcmp(r->source, "demo") != 0 && strcmp(r->source, "csv") != 0 &&
        strcmp(r->source, "polygon") != 0) {
        strfmt(err, ERR_LEN, "unknown data source '%s' (expected demo, csv "
               "or polygon)", r->source);
        return ERR_USAGE;
    }
    rc = s_check_csv(r, argc, argv, err);
    if (rc)
        return rc;
    if (r->flags.syms.all && strcmp(r->source, "polygon") != 0) {
        strfmt(err, ERR_LEN, "--symbols '*' needs --data-source polygon "
               "(a feed that brings its symbols); %s takes a list",
               r->source);
        return ERR_USAGE;
    }
    if (strcmp(r->source, "polygon") != 0 &&
        (r->rest_url || r->ws_url || r->ca_file || r->feed || r->rate ||
         r->market)) {
        strfmt(err, ERR_LEN, "--rest-url, --ws-url, --ca-file, --feed, "
               "--rate and --market need --data-source polygon");
        return ERR_USAGE;
    }
    if (r->history != NO_LOOKBACK && r->history < 0) {
        strfmt(err, ERR_LEN, "--history must be >= 0");
        return ERR_USAGE;
    }
    if (!(r->duration > 0)) {
        strfmt(err, ERR_LEN, "--duration must be > 0 (minutes)");
        return ERR_USAGE;
    }
    if (r->lookback != NO_LOOKBACK && r->lookback < 0) {
        strfmt(err, ERR_LEN, "--lookback must be >= 0");
        return ERR_USAGE;
    }
    if (r->seed < 0) {
        strfmt(err, ERR_LEN, "--seed must be >= 0");
        return ERR_USAGE;
    }
    if (!(r->interval >= 0)) {
        strfmt(err, ERR_LEN, "--interval must be >= 0 (seconds)");
        return ERR_USAGE;
    }
    if (r->timeframe <= 0) {
        strfmt(err, ERR_LEN, "--timeframe must be > 0 (seconds)");
        return ERR_USAGE;
    }
    for (int i = 0; i < r->params.n; i++) {
        const char *p = r->params.v[i], *eq = strchr(p, '=');
        if (!eq || eq == p) {
            strfmt(err, ERR_LEN, "bad --param '%s' (expected "
                   "NAME=VALUE)", p);
            return ERR_USAGE;
        }
    }
    if (strcmp(r->source, "polygon") == 0) {
        const char *k = config_env("POLYGON_API_KEY");
        if (!k || !*k)
            k = config_env("MASSIVE_API_KEY");
        if (!k || !*k) {
            strfmt(err, ERR_LEN, "--data-source polygon needs an API key: "
                   "set POLYGON_API_KEY (or MASSIVE_API_KEY) in the "
                   "environment or in .env");
            return ERR_USAGE;
        }
    }
    rc = s_symbols(r, err);
    if (rc)
        return rc;
    return s_strategy(r, err);
}
