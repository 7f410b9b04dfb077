/* backtest.h -- a strategy over a whole series of bars, through the same
 * runner, strategy and broker code the live engine uses, with
 * backtesting.py's results: every call next() made, the trades, the
 * equity curve and the statistics. */
#ifndef LT_BACKTEST_H
#define LT_BACKTEST_H

#include <stddef.h>

#include "broker.h"
#include "config.h"
#include "msg_bar.h"
#include "msg_signal.h"
#include "stats.h"

struct bt_opts {
    struct broker_cfg broker;
    int finalize_trades;            /* close what is open at the end */
    const struct opt_multi *params; /* "name=value" overrides, or NULL */
    int nextra;                     /* extra data columns, by name: */
    const char *const *extra_names; /*   self.data.<name> */
    const double *const *extra;     /*   extra[j][i], column j at bar i */
};

struct bt_result {
    size_t n;                       /* bars */
    double *equity;                 /* equity at each of the n bars */
    struct signal *calls;           /* every buy/sell/close call, in order;
                                       for close, size is the portion */
    size_t ncalls;
    struct trade *trades;           /* closed trades, backtesting.py order */
    size_t ntrades;
    struct trade *open;             /* trades still open at the end */
    size_t nopen;
    struct stat_row stats[STATS_MAX];
    int nstats;
    int out_of_money;               /* equity hit 0: the run stopped */
    char (*warnings)[256];          /* what backtesting.py would warn */
    size_t nwarnings;
};

/* Runs `strategy` (a Lua file) over bars[0..n) of `symbol`. Returns 0,
 * ERR_USAGE for bad parameters, ERR_LUA (file:line in err) if the
 * strategy failed, ERR_INVALID for bad options. The caller frees the
 * result with bt_result_free. */
int backtest_run(const char *strategy, const char *symbol,
                 const struct bar *bars, size_t n, const struct bt_opts *o,
                 struct bt_result *r, char *err);
void bt_result_free(struct bt_result *r);

#endif
