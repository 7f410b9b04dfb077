/* Backtest speed: `livetrade backtest`'s own code (backtest_run: strategy,
 * indicators, broker, statistics) over GOOG's 2148 daily bars, for every
 * example strategy, in bars per second. Prints figures; fails only if a
 * strategy cannot run. Needs ../shared/data/GOOG.csv; says so and skips
 * without it. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backtest.h"
#include "csv.h"
#include "err.h"

static const char *s_strategies[] = {
    "sma_cross", "sma_cross_close", "rsi_reversion", "bollinger_breakout",
    "macd_cross", "sma_sl_tp", "random", NULL
};

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
    const char *data = "../shared/data/GOOG.csv";
    struct csv_opts co;
    struct csv_data d;
    char err[ERR_LEN], path[256];
    int status = 0;

    memset(&co, 0, sizeof co);
    co.symbol = "GOOG";
    csv_data_init(&d);
    if (csv_load(data, &co, &d, err)) {
        printf("backtest speed: skipped (%s: %s)\n", data, err);
        csv_data_free(&d);
        return 0;
    }
    printf("backtest speed on GOOG (%zu daily bars), strategy + broker + "
           "statistics:\n", d.n);
    for (const char **s = s_strategies; *s; s++) {
        struct bt_opts o;
        struct bt_result r;
        double t0, t1;
        int runs = 0, broke = 0;

        memset(&o, 0, sizeof o);
        broker_cfg_default(&o.broker);
        snprintf(path, sizeof path, "strategies/%s.lua", *s);
        t0 = s_now();
        /* Repeat for at least half a second, at most 2000 runs. */
        do {
            if (backtest_run(path, "GOOG", d.bars, d.n, &o, &r, err)) {
                printf("  %-20s failed: %s\n", *s, err);
                status = 1;
                break;
            }
            broke = r.out_of_money;
            bt_result_free(&r);
            runs++;
            t1 = s_now();
        } while (t1 - t0 < 0.5 && runs < 2000);
        if (runs)
            printf("  %-20s %10.0f bars/s  (%d runs, %.2f ms a run)%s\n",
                   *s, (double)d.n * runs / (t1 - t0), runs,
                   (t1 - t0) * 1000 / runs, broke ? "  -- the account runs "
                   "out of money early, so fewer bars are run" : "");
    }
    csv_data_free(&d);
    return status;
}
