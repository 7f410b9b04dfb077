/* Statistics against backtesting.py 0.6.6's own output for SmaCross on
 * GOOG (../shared/reference), and small cases worked out by hand: no
 * trades, one winning trade, hourly bars over a weekend, weekly bars. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <jansson.h>

#include "err.h"
#include "stats.h"

#define REF_JSON "../shared/reference/sma_cross_close__GOOG.json"
#define GOOG_CSV "../shared/data/GOOG.csv"
#define DAY_MS 86400000.0
#define HOUR_MS 3600000.0
#define REL 1e-6

static const char *const names[] = {
    "Start", "End", "Duration", "Exposure Time [%]", "Equity Final [$]",
    "Equity Peak [$]", "Return [%]", "Buy & Hold Return [%]",
    "Return (Ann.) [%]", "Volatility (Ann.) [%]", "CAGR [%]",
    "Sharpe Ratio", "Sortino Ratio", "Calmar Ratio", "Alpha [%]", "Beta",
    "Max. Drawdown [%]", "Avg. Drawdown [%]", "Max. Drawdown Duration",
    "Avg. Drawdown Duration", "# Trades", "Win Rate [%]", "Best Trade [%]",
    "Worst Trade [%]", "Avg. Trade [%]", "Max. Trade Duration",
    "Avg. Trade Duration", "Profit Factor", "Expectancy [%]", "SQN",
    "Kelly Criterion"
};
#define NNAMES ((int)(sizeof names / sizeof names[0]))

/* Epoch ms of a UTC civil time (days from civil, proleptic Gregorian). */
static double s_epoch_ms(int y, int m, int d, int hh, int mi, int ss)
{
    long long era, yoe, doy, doe, days;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;
    return (double)(days * 86400 + hh * 3600 + mi * 60 + ss) * 1000.0;
}

static double s_iso_ms(const char *s)
{
    int y, m, d, hh = 0, mi = 0, ss = 0;

    assert_true(sscanf(s, "%d-%d-%dT%d:%d:%d", &y, &m, &d, &hh, &mi,
                       &ss) >= 3);
    return s_epoch_ms(y, m, d, hh, mi, ss);
}

static void assert_rel(double got, double want, const char *what)
{
    if (isnan(want) && isnan(got))
        return;
    if (fabs(got - want) <= REL * fmax(fabs(got), fabs(want)))
        return;
    fail_msg("%s: got %.17g, want %.17g", what, got, want);
}

static const struct stat_row *s_find(const struct stat_row *st, int n,
                                 const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(st[i].name, name))
            return &st[i];
    fail_msg("no stat \"%s\"", name);
    return NULL;
}

static double s_v(const struct stat_row *st, int n, const char *name)
{
    return s_find(st, n, name)->v;
}

/* Every stat in names[] order, with "Commissions [$]" after the equity
 * peak when `commissions`. */
static void assert_order(const struct stat_row *st, int n, int commissions)
{
    int k = 0;

    assert_int_equal(n, NNAMES + !!commissions);
    for (int i = 0; i < NNAMES; i++) {
        if (commissions && i == 6)
            assert_string_equal(st[k++].name, "Commissions [$]");
        assert_string_equal(st[k++].name, names[i]);
    }
}

/* {==================================================================
 * The reference run
 * ================================================================== */

struct ref {
    json_t *root;
    size_t n;
    double *equity, *time_ms, *close;
    struct stats_trade *trades;
    size_t ntrades;
};

static void s_ref_free(struct ref *r)
{
    json_decref(r->root);
    free(r->equity);
    free(r->time_ms);
    free(r->close);
    free(r->trades);
}

static void s_load_csv(struct ref *r)
{
    FILE *f = fopen(GOOG_CSV, "r");
    char line[256];
    size_t k = 0;

    assert_non_null(f);
    assert_non_null(fgets(line, sizeof line, f));      /* header */
    while (fgets(line, sizeof line, f)) {
        int y, m, d;
        double o, h, l, c;

        assert_true(k < r->n);
        assert_int_equal(sscanf(line, "%d-%d-%d,%lf,%lf,%lf,%lf", &y, &m,
                                &d, &o, &h, &l, &c), 7);
        r->time_ms[k] = s_epoch_ms(y, m, d, 0, 0, 0);
        r->close[k] = c;
        k++;
    }
    fclose(f);
    assert_int_equal(k, r->n);
}

static void s_load_trades(struct ref *r)
{
    json_t *arr = json_object_get(r->root, "trades"), *t;
    size_t i;

    assert_true(json_is_array(arr));
    r->ntrades = json_array_size(arr);
    r->trades = calloc(r->ntrades ? r->ntrades : 1, sizeof *r->trades);
    assert_non_null(r->trades);
    json_array_foreach(arr, i, t) {
        struct stats_trade *s = &r->trades[i];

        s->size = json_number_value(json_object_get(t, "size"));
        s->entry_bar = json_integer_value(json_object_get(t, "entry_bar"));
        s->exit_bar = json_integer_value(json_object_get(t, "exit_bar"));
        s->entry_price = json_number_value(json_object_get(t,
                                                           "entry_price"));
        s->exit_price = json_number_value(json_object_get(t, "exit_price"));
        s->pnl = json_number_value(json_object_get(t, "pnl"));
        s->commission = json_number_value(json_object_get(t, "commission"));
        /* the reference writes percent; _trades' ReturnPct is a fraction */
        s->return_pct = json_number_value(json_object_get(t, "return_pct"))
                        / 100;
        s->entry_time = (int64_t)s_iso_ms(json_string_value(
            json_object_get(t, "entry_time")));
        s->exit_time = (int64_t)s_iso_ms(json_string_value(
            json_object_get(t, "exit_time")));
    }
}

/* Returns 0 when ../shared is not there. */
static int s_ref_load(struct ref *r)
{
    json_error_t jerr;
    json_t *eq;
    FILE *f = fopen(REF_JSON, "r");

    memset(r, 0, sizeof *r);
    if (!f)
        return 0;
    fclose(f);
    r->root = json_load_file(REF_JSON, 0, &jerr);
    assert_non_null(r->root);
    eq = json_object_get(r->root, "equity");
    r->n = json_array_size(eq);
    assert_int_equal(r->n, json_integer_value(json_object_get(r->root,
                                                              "n_bars")));
    r->equity = malloc(r->n * sizeof *r->equity);
    r->time_ms = malloc(r->n * sizeof *r->time_ms);
    r->close = malloc(r->n * sizeof *r->close);
    assert_true(r->equity && r->time_ms && r->close);
    for (size_t i = 0; i < r->n; i++)
        r->equity[i] = json_number_value(json_array_get(eq, i));
    s_load_csv(r);
    s_load_trades(r);
    return 1;
}

/* Every entry of stats_all, in its order, from stats_json(): numbers to
 * 1e-6 relative, times, durations and counts exactly, null as null. */
static void test_reference_goog(void **state)
{
    struct ref r;
    struct stats_input in;
    struct stat_row st[STATS_MAX];
    json_t *want, *got, *wv;
    const char *key;
    int n, k = 0;
    (void)state;

    if (!s_ref_load(&r)) {
        print_message("skipped: ../shared not found (%s)\n", REF_JSON);
        skip();
    }
    memset(&in, 0, sizeof in);
    in.n = r.n;
    in.equity = r.equity;
    in.time_ms = r.time_ms;
    in.close = r.close;
    in.trades = r.trades;
    in.ntrades = r.ntrades;
    in.cash = json_number_value(json_object_get(
        json_object_get(r.root, "backtest_kwargs"), "cash"));
    /* next() first ran at W + 1 */
    in.warmup = json_integer_value(json_object_get(
        json_object_get(r.root, "next_calls"), "first_bar")) - 1;
    assert_int_equal(in.warmup, 19);

    n = stats_compute(&in, st, STATS_MAX);
    assert_int_equal(n, NNAMES);
    assert_order(st, n, 0);
    got = stats_json(st, n);
    assert_non_null(got);
    want = json_object_get(r.root, "stats_all");
    assert_int_equal(json_object_size(want), json_object_size(got));

    json_object_foreach(want, key, wv) {
        json_t *gv = json_object_get(got, key);

        assert_string_equal(st[k++].name, key);     /* same order */
        assert_non_null(gv);
        if (json_is_null(wv)) {
            assert_true(json_is_null(gv));
        } else if (json_is_string(wv)) {
            assert_true(json_is_string(gv));
            assert_string_equal(json_string_value(gv),
                                json_string_value(wv));
        } else if (json_is_integer(wv)) {
            assert_true(json_is_integer(gv));
            assert_int_equal(json_integer_value(gv),
                             json_integer_value(wv));
        } else {
            assert_true(json_is_real(gv));
            assert_rel(json_real_value(gv), json_real_value(wv), key);
        }
    }
    json_decref(got);
    s_ref_free(&r);
}

/* }================================================================== */

/* {==================================================================
 * Hand-made cases
 * ================================================================== */

/* 30 weekdays, flat equity, no trade: pandas' NaN rules. */
static void test_no_trades(void **state)
{
    double t[30], eq[30], c[30];
    struct stats_input in = { 0 };
    struct stat_row st[STATS_MAX];
    const char *nan_keys[] = {
        "Sharpe Ratio", "Sortino Ratio", "Calmar Ratio",
        "Avg. Drawdown [%]", "Max. Drawdown Duration",
        "Avg. Drawdown Duration", "Win Rate [%]", "Best Trade [%]",
        "Worst Trade [%]", "Avg. Trade [%]", "Max. Trade Duration",
        "Avg. Trade Duration", "Profit Factor", "Expectancy [%]", "SQN",
        "Kelly Criterion"
    };
    json_t *j;
    int n, day = 0;
    (void)state;

    for (int i = 0; i < 30; i++, day++) {
        if (day % 7 == 5)               /* 2024-01-01 is a Monday */
            day += 2;
        t[i] = s_epoch_ms(2024, 1, 1, 0, 0, 0) + day * DAY_MS;
        eq[i] = 10000;
        c[i] = 100 + i;
    }
    in.n = 30;
    in.equity = eq;
    in.time_ms = t;
    in.close = c;
    in.warmup = 4;
    in.cash = 10000;
    n = stats_compute(&in, st, STATS_MAX);
    assert_order(st, n, 0);

    assert_rel(s_v(st, n, "Exposure Time [%]"), 0, "exposure");
    assert_rel(s_v(st, n, "Return [%]"), 0, "return");
    assert_rel(s_v(st, n, "Buy & Hold Return [%]"), 25.0 / 104 * 100,
               "b&h");
    assert_rel(s_v(st, n, "Return (Ann.) [%]"), 0, "ann");
    assert_rel(s_v(st, n, "Volatility (Ann.) [%]"), 0, "vol");
    assert_rel(s_v(st, n, "CAGR [%]"), 0, "cagr");
    assert_rel(s_v(st, n, "Beta"), 0, "beta");
    assert_rel(s_v(st, n, "Alpha [%]"), 0, "alpha");
    /* -np.nan_to_num(0) * 100 is a negative zero, as pandas prints it */
    assert_true(s_v(st, n, "Max. Drawdown [%]") == 0);
    assert_true(signbit(s_v(st, n, "Max. Drawdown [%]")));
    assert_int_equal(s_find(st, n, "Max. Drawdown Duration")->kind,
                     STAT_NUMBER);
    assert_rel(s_v(st, n, "# Trades"), 0, "trades");
    for (size_t i = 0; i < sizeof nan_keys / sizeof *nan_keys; i++)
        if (!isnan(s_v(st, n, nan_keys[i])))
            fail_msg("%s should be NaN", nan_keys[i]);

    j = stats_json(st, n);
    assert_non_null(j);
    assert_true(json_is_null(json_object_get(j, "SQN")));
    assert_true(json_is_null(json_object_get(j, "Max. Trade Duration")));
    assert_int_equal(json_integer_value(json_object_get(j, "# Trades")), 0);
    assert_string_equal(json_string_value(json_object_get(j, "Duration")),
                        "39 days 00:00:00");
    json_decref(j);
}

/* Six daily bars, one long trade from bar 1 to bar 4 that makes 21%, with
 * a 5/110 dip on the way. */
static void test_one_winning_trade(void **state)
{
    double t[6], eq[6] = { 100, 100, 110, 105, 121, 121 };
    double c[6] = { 10, 10, 11, 10.5, 12.1, 12.1 }, r[5], g, var = 0, m = 0;
    double down = 0, ann, years = 7 / 365.25;
    const int days[6] = { 1, 2, 3, 4, 5, 8 };           /* Mon..Fri, Mon */
    struct stats_trade tr = {
        .size = 10, .entry_bar = 1, .exit_bar = 4, .entry_price = 10,
        .exit_price = 12.1, .pnl = 21, .commission = 0, .return_pct = .21
    };
    struct stats_input in = { 0 };
    struct stat_row st[STATS_MAX];
    int n;
    (void)state;

    for (int i = 0; i < 6; i++)
        t[i] = s_epoch_ms(2024, 1, days[i], 0, 0, 0);
    tr.entry_time = (int64_t)t[1];
    tr.exit_time = (int64_t)t[4];
    in.n = 6;
    in.equity = eq;
    in.time_ms = t;
    in.close = c;
    in.warmup = 0;
    in.trades = &tr;
    in.ntrades = 1;
    in.cash = 100;
    n = stats_compute(&in, st, STATS_MAX);
    assert_order(st, n, 0);

    for (int i = 0; i < 5; i++) {
        r[i] = eq[i + 1] / eq[i] - 1;
        m += r[i] / 5;
        down += r[i] < 0 ? r[i] * r[i] / 5 : 0;
    }
    for (int i = 0; i < 5; i++)
        var += (r[i] - m) * (r[i] - m) / 4;
    g = pow(1.21, 1 / 5.0) - 1;
    ann = pow(1 + g, 252) - 1;

    assert_rel(s_v(st, n, "Duration"), 7 * DAY_MS, "duration");
    assert_rel(s_v(st, n, "Exposure Time [%]"), 4 / 6.0 * 100, "exposure");
    assert_rel(s_v(st, n, "Equity Peak [$]"), 121, "peak");
    assert_rel(s_v(st, n, "Return [%]"), 21, "return");
    assert_rel(s_v(st, n, "Buy & Hold Return [%]"), 21, "b&h");
    assert_rel(s_v(st, n, "Return (Ann.) [%]"), ann * 100, "ann");
    assert_rel(s_v(st, n, "Volatility (Ann.) [%]"),
               sqrt(pow(var + (1 + g) * (1 + g), 252) -
                    pow(1 + g, 504)) * 100, "vol");
    assert_rel(s_v(st, n, "CAGR [%]"), (pow(1.21, 1 / years) - 1) * 100,
               "cagr");
    assert_rel(s_v(st, n, "Sortino Ratio"), ann / (sqrt(down) * sqrt(252)),
               "sortino");
    assert_rel(s_v(st, n, "Calmar Ratio"), ann / (5 / 110.0), "calmar");
    assert_rel(s_v(st, n, "Beta"), 1, "beta");
    assert_true(fabs(s_v(st, n, "Alpha [%]")) < 1e-9);
    assert_rel(s_v(st, n, "Max. Drawdown [%]"), -5 / 110.0 * 100, "maxdd");
    assert_rel(s_v(st, n, "Avg. Drawdown [%]"), -5 / 110.0 * 100, "avgdd");
    assert_int_equal(s_find(st, n, "Max. Drawdown Duration")->kind,
                     STAT_DURATION);
    assert_rel(s_v(st, n, "Max. Drawdown Duration"), 2 * DAY_MS, "ddd");
    assert_rel(s_v(st, n, "Avg. Drawdown Duration"), 2 * DAY_MS, "add");
    assert_rel(s_v(st, n, "# Trades"), 1, "trades");
    assert_rel(s_v(st, n, "Win Rate [%]"), 100, "win");
    assert_rel(s_v(st, n, "Best Trade [%]"), 21, "best");
    assert_rel(s_v(st, n, "Worst Trade [%]"), 21, "worst");
    assert_rel(s_v(st, n, "Avg. Trade [%]"), 21, "avg");
    assert_rel(s_v(st, n, "Max. Trade Duration"), 3 * DAY_MS, "tdur");
    assert_rel(s_v(st, n, "Avg. Trade Duration"), 3 * DAY_MS, "tavg");
    assert_rel(s_v(st, n, "Expectancy [%]"), 21, "expectancy");
    assert_true(isnan(s_v(st, n, "Profit Factor")));    /* no loss */
    assert_true(isnan(s_v(st, n, "SQN")));              /* std of one */
    assert_true(isnan(s_v(st, n, "Kelly Criterion")));  /* no loser */

    /* commissions appear, after the equity peak, once non-zero */
    tr.commission = 1.5;
    n = stats_compute(&in, st, STATS_MAX);
    assert_order(st, n, 1);
    assert_rel(s_v(st, n, "Commissions [$]"), 1.5, "commissions");
    assert_int_equal(stats_compute(&in, st, NNAMES), ERR_TOO_LARGE);
}

/* Only the last bar below the peak: no drawdown episode, and
 * backtesting.py's fallback makes the durations plain numbers (dd). */
static void test_drawdown_fallback(void **state)
{
    double t[3], eq[3] = { 100, 100, 90 }, c[3] = { 1, 1, 1 };
    struct stats_input in = { 0 };
    struct stat_row st[STATS_MAX];
    int n;
    (void)state;

    for (int i = 0; i < 3; i++)
        t[i] = s_epoch_ms(2024, 1, 2 + i, 0, 0, 0);
    in.n = 3;
    in.equity = eq;
    in.time_ms = t;
    in.close = c;
    n = stats_compute(&in, st, STATS_MAX);
    assert_order(st, n, 0);
    assert_rel(s_v(st, n, "Max. Drawdown [%]"), -10, "maxdd");
    assert_rel(s_v(st, n, "Avg. Drawdown [%]"), -10, "avgdd");
    assert_int_equal(s_find(st, n, "Max. Drawdown Duration")->kind,
                     STAT_NUMBER);
    assert_rel(s_v(st, n, "Max. Drawdown Duration"), .1, "ddd");
    assert_rel(s_v(st, n, "Avg. Drawdown Duration"), .1, "add");
    assert_true(isnan(s_v(st, n, "Beta")));     /* constant close */
}

/* Hourly bars Friday to Sunday: daily resampling, 365 periods a year
 * (weekends), durations ceiled to the hour, the printed table. */
static void test_intraday(void **state)
{
    double t[72], eq[72], c[72], g = sqrt(1.1 * .9) - 1, years;
    struct stats_trade tr[2] = {
        { .size = 1, .entry_bar = 2, .exit_bar = 3, .pnl = 5,
          .return_pct = .05 },
        { .size = -1, .entry_bar = 30, .exit_bar = 32, .pnl = -2,
          .return_pct = -.02 },
    };
    struct stats_input in = { 0 };
    struct stat_row st[STATS_MAX];
    char *text = NULL, *line;
    size_t len = 0, width = 0;
    FILE *f;
    json_t *j;
    int n, lines = 0;
    (void)state;

    for (int i = 0; i < 72; i++) {
        t[i] = s_epoch_ms(2024, 1, 5, 0, 0, 0) + i * HOUR_MS;
        eq[i] = i < 24 ? 100 : i < 48 ? 110 : 99;
        c[i] = 50 + i % 5;
    }
    for (int k = 0; k < 2; k++) {
        tr[k].entry_time = (int64_t)t[tr[k].entry_bar];
        tr[k].exit_time = (int64_t)t[tr[k].exit_bar];
    }
    in.n = 72;
    in.equity = eq;
    in.time_ms = t;
    in.close = c;
    in.warmup = 1;
    in.trades = tr;
    in.ntrades = 2;
    in.cash = 100;
    n = stats_compute(&in, st, STATS_MAX);
    assert_order(st, n, 0);

    years = (2 + 23 / 24.0) / 365.25;
    assert_rel(s_v(st, n, "Duration"), 71 * HOUR_MS, "duration");
    assert_rel(s_v(st, n, "Exposure Time [%]"), 5 / 72.0 * 100, "exp");
    assert_rel(s_v(st, n, "Return (Ann.) [%]"),
               (pow(1 + g, 365) - 1) * 100, "ann");
    assert_rel(s_v(st, n, "Volatility (Ann.) [%]"),
               sqrt(pow(.02 + (1 + g) * (1 + g), 365) -
                    pow(1 + g, 730)) * 100, "vol");
    assert_rel(s_v(st, n, "CAGR [%]"), (pow(.99, 1 / years) - 1) * 100,
               "cagr");
    assert_rel(s_v(st, n, "Sortino Ratio"),
               (pow(1 + g, 365) - 1) / (sqrt(.01 / 2) * sqrt(365)),
               "sortino");
    assert_rel(s_v(st, n, "Max. Drawdown [%]"), -10, "maxdd");
    assert_rel(s_v(st, n, "Avg. Drawdown [%]"), -10, "avgdd");
    assert_rel(s_v(st, n, "Max. Drawdown Duration"), 24 * HOUR_MS, "ddd");
    assert_rel(s_v(st, n, "Win Rate [%]"), 50, "win");
    assert_rel(s_v(st, n, "Avg. Trade [%]"),
               (sqrt(1.05 * .98) - 1) * 100, "avg");
    /* 1 h and 2 h: the mean 1:30 is ceiled to the data's hour */
    assert_rel(s_v(st, n, "Max. Trade Duration"), 2 * HOUR_MS, "tmax");
    assert_rel(s_v(st, n, "Avg. Trade Duration"), 2 * HOUR_MS, "tavg");
    assert_rel(s_v(st, n, "Profit Factor"), 2.5, "pf");
    assert_rel(s_v(st, n, "Expectancy [%]"), 1.5, "expectancy");
    assert_rel(s_v(st, n, "SQN"), sqrt(2) * 1.5 / sqrt(24.5), "sqn");
    assert_rel(s_v(st, n, "Kelly Criterion"), .5 - .5 / 2.5, "kelly");

    j = stats_json(st, n);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "Start")),
                        "2024-01-05T00:00:00");
    assert_string_equal(json_string_value(json_object_get(j, "Duration")),
                        "2 days 23:00:00");
    assert_string_equal(json_string_value(json_object_get(j,
                        "Avg. Trade Duration")), "0 days 02:00:00");
    json_decref(j);

    /* names left, values right-aligned in one column */
    f = open_memstream(&text, &len);
    assert_non_null(f);
    stats_print(f, st, n);
    fclose(f);
    for (line = text; *line; line = strchr(line, '\n') + 1) {
        size_t l = (size_t)(strchr(line, '\n') - line);

        if (!width)
            width = l;
        assert_int_equal(l, width);
        lines++;
    }
    /* 22 for the longest name, 3 spaces, 20 for " 2024-01-05 00:00:00" */
    assert_int_equal(width, 45);
    assert_non_null(strstr(text, "Start                     "
                                 "2024-01-05 00:00:00\n"));
    assert_non_null(strstr(text, "\n# Trades   "));
    assert_non_null(strstr(text, " 2\nWin Rate [%]   "));
    assert_non_null(strstr(text, " 50.0\nBest Trade [%]"));
    assert_non_null(strstr(text, " 0 days 02:00:00\nProfit Factor   "));
    assert_non_null(strstr(text, " 2.5\nExpectancy"));
    assert_int_equal(lines, n);
    free(text);
}

/* Weekly bars: 52 periods a year, one return per calendar week. */
static void test_weekly(void **state)
{
    double t[5], eq[5] = { 100, 110, 99, 108.9, 98.01 }, c[5];
    struct stats_input in = { 0 };
    struct stat_row st[STATS_MAX];
    int n;
    (void)state;

    for (int i = 0; i < 5; i++) {
        t[i] = s_epoch_ms(2024, 1, 5, 0, 0, 0) + 7 * i * DAY_MS;
        c[i] = 10 + i;
    }
    in.n = 5;
    in.equity = eq;
    in.time_ms = t;
    in.close = c;
    n = stats_compute(&in, st, STATS_MAX);
    assert_order(st, n, 0);
    assert_rel(s_v(st, n, "Return (Ann.) [%]"),
               (pow(.99, 52 / 2.0) - 1) * 100, "ann");
}

static void test_bad_input(void **state)
{
    double t[2] = { 0, DAY_MS }, eq[2] = { 1, 1 }, c[2] = { 1, 1 };
    struct stats_input in = { 0 };
    struct stat_row st[STATS_MAX];
    (void)state;

    assert_int_equal(stats_compute(&in, st, STATS_MAX), ERR_INVALID);
    in.n = 2;
    in.equity = eq;
    in.time_ms = t;
    in.close = c;
    in.warmup = 2;                      /* past the last bar */
    assert_int_equal(stats_compute(&in, st, STATS_MAX), ERR_INVALID);
    in.warmup = 1;
    assert_int_equal(stats_compute(&in, st, STATS_MAX), NNAMES);
}

/* }================================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_goog),
        cmocka_unit_test(test_no_trades),
        cmocka_unit_test(test_one_winning_trade),
        cmocka_unit_test(test_drawdown_fallback),
        cmocka_unit_test(test_intraday),
        cmocka_unit_test(test_weekly),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
