/* stats.h -- backtesting.py 0.6.6's statistics (Backtest.run()'s Series:
 * Start ... Kelly Criterion), computed from an equity curve and the closed
 * trades, with the same names, order and definitions
 * (../shared/BACKTESTING.md section 10). */
#ifndef LT_STATS_H
#define LT_STATS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STATS_MAX 40

/* One closed trade, as backtesting.py's _trades row. */
struct stats_trade {
    double size;                /* units; negative for shorts */
    int64_t entry_bar, exit_bar;
    double entry_price, exit_price;
    double pnl;                 /* commissions included */
    double commission;          /* both legs */
    double return_pct;          /* fraction, as _trades' ReturnPct */
    int64_t entry_time, exit_time;  /* epoch ms */
};

struct stats_input {
    size_t n;                   /* bars */
    const double *equity;       /* equity at every bar (cash before the
                                   first next()) */
    const double *time_ms;      /* bar times, epoch ms, ascending */
    const double *close;        /* closes */
    int64_t warmup;             /* W: the first bar all indicators valid
                                   (Buy & Hold starts there) */
    const struct stats_trade *trades;
    size_t ntrades;
    double cash;                /* starting cash (informative: the
                                   statistics start from equity[0]) */
};

enum stat_kind {
    STAT_TIME,                  /* v: epoch ms */
    STAT_DURATION,              /* v: milliseconds; NaN when undefined
                                   (trade durations without trades) */
    STAT_NUMBER,                /* v: a float; NaN prints as NaN / null */
    STAT_COUNT                  /* v: an integer count */
};

struct stat_row {
    const char *name;           /* backtesting.py's key, e.g. "Return [%]" */
    enum stat_kind kind;
    double v;
};

/* Fills out[] in backtesting.py's order; returns how many (31, or 32
 * with the "Commissions [$]" row, present only when commissions are
 * non-zero). The names point to static strings. Returns ERR_INVALID for
 * no bars, a NULL array or a warmup outside [0, n), ERR_TOO_LARGE if
 * `max` is too small, ERR_NOMEM. As in backtesting.py, when no drawdown
 * episode ends (the equity never falls below a peak before the last bar)
 * the two drawdown durations are plain numbers (STAT_NUMBER). */
int stats_compute(const struct stats_input *in, struct stat_row *out,
                  int max);
/* The table as backtesting.py prints it: names left, values right
 * (floats with 5 decimals, trailing zeros trimmed, as pandas). */
void stats_print(FILE *f, const struct stat_row *st, int n);
/* One JSON object keyed by the names, in order: times as ISO 8601
 * strings, durations as "N days HH:MM:SS" (pandas' Timedelta format),
 * counts as integers, NaN and infinities as null. Returns a new reference
 * for the caller to json_decref, or NULL if out of memory. */
json_t *stats_json(const struct stat_row *st, int n);

#endif
