/* backtest.c -- `livetrade backtest`: a strategy over the bars of a CSV
 * file, with the engine's own strategy, indicator and broker code
 * (engine/backtest.h), reported the way backtesting.py reports a run.
 *
 *   livetrade backtest --strategy strategies/sma_cross.lua --data GOOG.csv
 *
 * prints backtesting.py's statistics table on stdout; --stats-json,
 * --signals, --trades-csv and --equity-csv write the run's details to
 * files (formats below); warnings go to stderr, one line each.
 *
 * Exit code: 0 after a run; 2 for a bad command line (unknown flag, bad
 * value, missing --strategy or --data, bad symbol or broker setting, an
 * unknown strategy parameter); 1 when a file is missing or broken (the
 * CSV, named with its line; the strategy, named with file:line) or an
 * output cannot be written.
 *
 * Output files:
 *   --stats-json   one JSON object: stats_json(), backtesting.py's keys
 *                  in its order
 *   --signals      one JSON line per buy/sell/close call next() made, in
 *                  order, as the file sink writes signals (README, "JSON
 *                  Lines"); engine "backtest", seq 1, 2, ..., pub and ts 0
 *                  (nothing was published), size of a close = portion
 *   --trades-csv   backtesting.py's _trades: Size, EntryBar, ExitBar,
 *                  EntryPrice, ExitPrice, SL, TP, PnL, Commission,
 *                  ReturnPct (a fraction), EntryTime, ExitTime, Duration,
 *                  Tag; closed trades only; SL and TP as the trade had
 *                  them when it closed (struct trade), empty for none
 *   --equity-csv   backtesting.py's _equity_curve with the bar time first:
 *                  time, Equity, DrawdownPct (1 - equity / running peak),
 *                  DrawdownDuration (on the bar that ends a drawdown --
 *                  the next bar back at a peak, or the last bar -- the
 *                  time since the peak it fell from; empty elsewhere)
 * Times are ISO 8601 in UTC without a zone ("2004-08-19T00:00:00", as
 * backtesting.py's naive index), durations as pandas prints a Timedelta
 * ("5 days 00:00:00"), numbers in the shortest form that reads back
 * exactly, NaN as an empty field. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backtest.h"
#include "broker.h"
#include "cmd.h"
#include "config.h"
#include "csv.h"
#include "err.h"
#include "flags.h"
#include "msg_signal.h"
#include "proc.h"
#include "stats.h"
#include "util.h"

#define PROG "livetrade backtest"

struct bt_args {
    const char *strategy;           /* --strategy: Lua file */
    const char *data;               /* --data: CSV file */
    const char *symbol;             /* --symbol, or NULL: from the file */
    struct flags flags;             /* --symbols, as livetrade run's: one
                                       symbol */
    struct broker_cfg broker;       /* --cash ... --exclusive-orders */
    int finalize;                   /* --finalize-trades */
    struct opt_multi params;        /* --param name=value */
    const char *stats_json;         /* output files, or NULL */
    const char *signals;
    const char *trades_csv;
    const char *equity_csv;
    char sym[SYM_MAX];              /* the symbol in use */
};

/* {==================== formatting ====================== */

/* Shortest text that reads back as exactly v; "" for NaN. */
static void s_num(char *buf, size_t n, double v)
{
    double back;

    if (isnan(v)) {
        buf[0] = '\0';
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (parse_double(buf, &back) == 0 && back == v)
            return;
    }
}

/* A time span as pandas prints a Timedelta: "5 days 00:00:00", with
 * ".ffffff" when it has a fraction of a second. */
static void s_duration(char *buf, size_t n, int64_t ms)
{
    int64_t days = ms / 86400000, rest = ms % 86400000;

    if (rest % 1000)
        snprintf(buf, n, "%lld days %02d:%02d:%02d.%06d", (long long)days,
                 (int)(rest / 3600000), (int)(rest / 60000 % 60),
                 (int)(rest / 1000 % 60), (int)(rest % 1000) * 1000);
    else
        snprintf(buf, n, "%lld days %02d:%02d:%02d", (long long)days,
                 (int)(rest / 3600000), (int)(rest / 60000 % 60),
                 (int)(rest / 1000 % 60));
}

/* A CSV field: quoted when it holds a comma, a quote or a line end. */
static void s_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* }==================================================== */

/* {==================== output files ====================== */

static FILE *s_create(const char *path, char *err)
{
    FILE *f = fopen(path, "w");

    if (!f)
        snprintf(err, ERR_LEN, "cannot write '%s': %s", path,
                 strerror(errno));
    return f;
}

/* Closes f, reporting a write error on path. 0 or -1. */
static int s_finish(FILE *f, const char *path, char *err)
{
    int bad = ferror(f);

    if (fclose(f) != 0 || bad) {
        snprintf(err, ERR_LEN, "cannot write '%s': %s", path,
                 strerror(errno ? errno : EIO));
        return -1;
    }
    return 0;
}

static int s_write_stats(const char *path, const struct bt_result *r,
                         char *err)
{
    json_t *j = stats_json(r->stats, r->nstats);
    FILE *f;
    int rc;

    if (!j) {
        snprintf(err, ERR_LEN, "statistics: out of memory");
        return -1;
    }
    f = s_create(path, err);
    if (!f) {
        json_decref(j);
        return -1;
    }
    rc = json_dumpf(j, f, JSON_INDENT(2));
    fputc('\n', f);
    json_decref(j);
    if (rc) {
        fclose(f);
        snprintf(err, ERR_LEN, "cannot write '%s'", path);
        return -1;
    }
    return s_finish(f, path, err);
}

static int s_write_signals(const char *path, const struct bt_result *r,
                           char *err)
{
    FILE *f = s_create(path, err);

    if (!f)
        return -1;
    for (size_t i = 0; i < r->ncalls; i++) {
        struct signal s = r->calls[i];
        json_t *j;
        char *line;

        if (!s.eng[0])
            snprintf(s.eng, sizeof s.eng, "backtest");
        s.seq = i + 1;
        s.pub = 0;
        s.ts = 0;
        j = msg_signal_to_json(&s);
        line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        if (!line) {
            fclose(f);
            snprintf(err, ERR_LEN, "signals: out of memory");
            return -1;
        }
        fputs(line, f);
        fputc('\n', f);
        free(line);
    }
    return s_finish(f, path, err);
}

/* A bar's time by index, else `fallback` (the trade's own record). */
static int64_t s_bar_time(const struct csv_data *d, int64_t i,
                          int64_t fallback)
{
    return i >= 0 && (uint64_t)i < d->n ? d->bars[i].t : fallback;
}

static int s_write_trades(const char *path, const struct bt_result *r,
                          const struct csv_data *d, char *err)
{
    FILE *f = s_create(path, err);

    if (!f)
        return -1;
    fputs("Size,EntryBar,ExitBar,EntryPrice,ExitPrice,SL,TP,PnL,"
          "Commission,ReturnPct,EntryTime,ExitTime,Duration,Tag\n", f);
    for (size_t i = 0; i < r->ntrades; i++) {
        const struct trade *t = &r->trades[i];
        /* As backtesting.py's Trade.pl and pl_pct, commissions of both
         * legs included. */
        double pnl = t->size * (t->exit_price - t->entry_price) -
                     t->commission;
        double ret = copysign(1, t->size) *
                     (t->exit_price / t->entry_price - 1) -
                     t->commission / (fabs(t->size) * t->entry_price);
        int64_t et = s_bar_time(d, t->entry_bar, t->entry_time);
        int64_t xt = s_bar_time(d, t->exit_bar, t->exit_time);
        const double v[] = { t->size, t->entry_price, t->exit_price, t->sl,
                             t->tp, pnl, t->commission, ret };
        char num[8][40], et_s[40], xt_s[40], dur[48];

        for (int k = 0; k < 8; k++)
            s_num(num[k], sizeof num[k], v[k]);
        csv_format_time(et, et_s, sizeof et_s);
        csv_format_time(xt, xt_s, sizeof xt_s);
        s_duration(dur, sizeof dur, xt - et);
        fprintf(f, "%s,%lld,%lld,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,", num[0],
                (long long)t->entry_bar, (long long)t->exit_bar, num[1],
                num[2], num[3], num[4], num[5], num[6], num[7], et_s, xt_s,
                dur);
        s_field(f, t->tag);
        fputc('\n', f);
    }
    return s_finish(f, path, err);
}

/* backtesting.py's _equity_curve: drawdown 1 - E/cummax(E), and the
 * duration of each drawdown on the bar that ends it. */
static int s_write_equity(const char *path, const struct bt_result *r,
                          const struct csv_data *d, char *err)
{
    size_t n = r->n < d->n ? r->n : d->n, prev = 0;
    double *dd = malloc((n ? n : 1) * sizeof *dd), peak = -INFINITY;
    FILE *f;

    if (!dd) {
        snprintf(err, ERR_LEN, "equity: out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (r->equity[i] > peak)
            peak = r->equity[i];
        dd[i] = 1 - r->equity[i] / peak;
    }
    f = s_create(path, err);
    if (!f) {
        free(dd);
        return -1;
    }
    fputs("time,Equity,DrawdownPct,DrawdownDuration\n", f);
    for (size_t i = 0; i < n; i++) {
        char when[40], eq[40], ddp[40], dur[48] = "";
        /* Episodes run between consecutive bars at a peak (dd == 0, and
         * the last bar); one ends at i if it spans more than one bar. */
        if (dd[i] == 0 || i == n - 1) {
            if (i > prev + 1)
                s_duration(dur, sizeof dur, d->bars[i].t - d->bars[prev].t);
            prev = i;
        }
        csv_format_time(d->bars[i].t, when, sizeof when);
        s_num(eq, sizeof eq, r->equity[i]);
        s_num(ddp, sizeof ddp, dd[i]);
        fprintf(f, "%s,%s,%s,%s\n", when, eq, ddp, dur);
    }
    free(dd);
    return s_finish(f, path, err);
}

/* }==================================================== */

/* --symbols as livetrade run takes it ("A, B"), for one symbol: sets
 * a->symbol. 0, or -1 with the reason in err. */
static int s_one_symbol(struct bt_args *a, char *err)
{
    const struct flags_symbols *s = &a->flags.syms;

    if (s->n != 1) {
        strfmt(err, ERR_LEN, "--symbols: a backtest runs one symbol, got "
               "'%.80s'; run it once per symbol", a->flags.symbols);
        return -1;
    }
    if (a->symbol && strcmp(a->symbol, s->v[0]) != 0) {
        strfmt(err, ERR_LEN, "--symbol %.40s and --symbols %.40s differ; "
               "give one of them", a->symbol, s->v[0]);
        return -1;
    }
    a->symbol = s->v[0];
    return 0;
}

/* Returns 0, 1 after --help, or 2 with the reason printed. */
static int s_parse(struct bt_args *a, int argc, char **argv)
{
    const struct opt opts[] = {
        { "strategy", OPT_STR, &a->strategy, NULL, "FILE",
          "Lua strategy (required)" },
        { "data", OPT_STR, &a->data, NULL, "CSV",
          "bars: backtesting.py's CSV layout or time,open,high,low,close"
          "[,volume] (required)" },
        { "symbol", OPT_STR, &a->symbol, NULL, "SYM",
          "symbol in signals (default: the file's base name, upper-cased)" },
        { "finalize-trades", OPT_BOOL, &a->finalize, NULL, NULL,
          "close trades still open at the end; count them in the stats" },
        { "param", OPT_MULTI, &a->params, NULL, "NAME=VALUE",
          "strategy parameter; repeatable" },
        { "stats-json", OPT_STR, &a->stats_json, NULL, "FILE",
          "write the statistics as one JSON object" },
        { "signals", OPT_STR, &a->signals, NULL, "FILE",
          "write every buy/sell/close call as JSON Lines" },
        { "trades-csv", OPT_STR, &a->trades_csv, NULL, "FILE",
          "write the closed trades (backtesting.py's _trades)" },
        { "equity-csv", OPT_STR, &a->equity_csv, NULL, "FILE",
          "write the equity curve and drawdown, one row per bar" },
        { 0 }
    };
    struct opt broker[BROKER_OPTS + 1];
    char err[ERR_LEN];
    broker_t *b;
    int rc;

    a->flags = (struct flags){
        .prog = PROG, .usage = PROG " --strategy FILE --data CSV [flags]",
        .tables = { opts, broker }, .shared = FLAG_SYMBOLS,
        .symbols_help = "the same as --symbol (livetrade run's flag); one "
                        "symbol",
    };
    broker_opts(&a->broker, broker);
    broker_cfg_default(&a->broker);
    rc = flags_parse(&a->flags, argc, argv, 1, NULL, 0, NULL, err);
    if (rc == 1) {
        flags_usage(&a->flags);
        printf("\nRuns the strategy over every bar of the CSV file with "
               "backtesting.py's rules\nand prints its statistics table. "
               "Exit code 0; 2 for bad flags; 1 when a file\nis missing or "
               "broken.\n");
        return 1;
    }
    if (rc)
        return proc_usage_error(PROG, err);
    if (!a->strategy || !*a->strategy)
        return proc_usage_error(PROG, "--strategy FILE is required");
    if (!a->data || !*a->data)
        return proc_usage_error(PROG, "--data CSV is required");
    if (a->flags.symbols && s_one_symbol(a, err))
        return proc_usage_error(PROG, err);
    if (a->symbol) {
        if (!symbol_valid(a->symbol)) {
            strfmt(err, sizeof err, "--symbol%s: invalid symbol '%.40s' "
                   "(1 to %d of A-Z a-z 0-9 . : / _ -)",
                   a->flags.symbols ? "s" : "", a->symbol, SYM_MAX - 1);
            return proc_usage_error(PROG, err);
        }
        snprintf(a->sym, sizeof a->sym, "%s", a->symbol);
    } else if (csv_symbol_from_path(a->data, a->sym)) {
        strfmt(err, sizeof err, "cannot make a symbol of the file name "
               "'%.80s'; give --symbol", a->data);
        return proc_usage_error(PROG, err);
    }
    /* The broker's own checks, before any work. */
    b = broker_new(&a->broker, err);
    if (!b)
        return proc_usage_error(PROG, err);
    broker_destroy(&b);
    return 0;
}

/* Warnings about the data, as backtesting.py gives them. */
static void s_data_warnings(const struct bt_args *a,
                            const struct csv_data *d)
{
    if (d->unsorted)
        fprintf(stderr, PROG ": warning: %s: %zu out-of-order rows; sorted "
                "by time\n", a->data, d->unsorted);
    for (size_t i = 0; i < d->n; i++)
        if (d->bars[i].c > a->broker.cash) {
            fprintf(stderr, PROG ": warning: Some prices are larger than "
                    "initial cash value. Only whole units are traded: "
                    "raise --cash to buy at those prices.\n");
            break;
        }
}

int cmd_backtest(int argc, char **argv)
{
    struct bt_args a;
    struct csv_data d;
    struct csv_opts co = { 0 };
    struct bt_opts bo;
    struct bt_result r;
    char err[ERR_LEN];
    int rc, code = 1;

    memset(&a, 0, sizeof a);
    memset(&r, 0, sizeof r);
    csv_data_init(&d);
    rc = s_parse(&a, argc, argv);
    flags_free(&a.flags);           /* the symbol is in a.sym */
    a.symbol = NULL;
    if (rc)
        return rc == 1 ? 0 : rc;

    co.symbol = a.sym;
    co.src = "csv";
    if (csv_load(a.data, &co, &d, err)) {
        fprintf(stderr, PROG ": %s\n", err);
        return 1;
    }
    s_data_warnings(&a, &d);

    memset(&bo, 0, sizeof bo);
    bo.broker = a.broker;
    bo.finalize_trades = a.finalize;
    bo.params = &a.params;
    /* The file's other columns reach the strategy as self.data.<name>. */
    const char *xnames[STRAT_MAX_EXTRA];
    const double *xcols[STRAT_MAX_EXTRA];
    for (int j = 0; j < d.nextra; j++) {
        if (bo.nextra == STRAT_MAX_EXTRA) {
            fprintf(stderr, PROG ": warning: only the first %d extra "
                    "columns reach the strategy\n", STRAT_MAX_EXTRA);
            break;
        }
        xnames[bo.nextra] = d.extra_name[j];
        xcols[bo.nextra++] = d.extra[j];
    }
    bo.extra_names = xnames;
    bo.extra = xcols;
    rc = backtest_run(a.strategy, a.sym, d.bars, d.n, &bo, &r, err);
    if (rc) {
        fprintf(stderr, PROG ": %s\n", err);
        code = rc == ERR_USAGE || rc == ERR_INVALID ? 2 : 1;
        goto out;
    }
    for (size_t i = 0; i < r.nwarnings; i++)
        fprintf(stderr, PROG ": warning: %s\n", r.warnings[i]);
    if (r.out_of_money)
        fprintf(stderr, PROG ": warning: the equity fell to 0; the run "
                "stopped there\n");
    if (r.nstats < 0) {
        fprintf(stderr, PROG ": statistics: %s\n", err_str(r.nstats));
        goto out;
    }
    stats_print(stdout, r.stats, r.nstats);
    if (fflush(stdout) != 0)
        goto out;

    if ((a.stats_json && s_write_stats(a.stats_json, &r, err)) ||
        (a.signals && s_write_signals(a.signals, &r, err)) ||
        (a.trades_csv && s_write_trades(a.trades_csv, &r, &d, err)) ||
        (a.equity_csv && s_write_equity(a.equity_csv, &r, &d, err))) {
        fprintf(stderr, PROG ": %s\n", err);
        goto out;
    }
    code = 0;
out:
    bt_result_free(&r);
    csv_data_free(&d);
    return code;
}
