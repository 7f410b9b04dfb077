/* resample.h -- backtesting.lib's resample_apply, streaming: a series
 * aggregated into higher-timeframe bins (Open first, High max, Low min,
 * Close last, Volume sum, anything else last), a built-in indicator over
 * the completed bins, and its value mapped back onto every bar as pandas'
 * forward fill does: a bar sees the last bin whose label (its right edge)
 * is not after the bar's time -- the last *completed* bin.
 *
 * Rules: "Nmin" / "NT", "NH" / "Nh", "ND" (N optional; bins closed on the
 * left, labelled on the right, aligned to midnight UTC of the first bar's
 * day, as pandas' default origin 'start_day') and "W" (calendar weeks,
 * Monday to Sunday, as pandas' 'W-SUN'). A week's value is seen from its
 * last bar on; pandas shows it from its label, Sunday 00:00, so for
 * intraday bars on a Sunday it looks ahead at that Sunday's later bars,
 * which a live feed cannot. */
#ifndef LT_RESAMPLE_H
#define LT_RESAMPLE_H

#include <stdint.h>

#include "indicator.h"
#include "series.h"

enum resample_agg { RS_FIRST, RS_MAX, RS_MIN, RS_LAST, RS_SUM };

struct resample {
    int64_t bin_ms;                 /* fixed bins; 0 for weekly */
    int64_t origin;                 /* midnight of the first bar's day */
    int started;                    /* origin is set */
    enum resample_agg agg;
    int open;                       /* a bin is being filled */
    int64_t bin;                    /* its number */
    int64_t label;                  /* its right edge, epoch ms */
    int64_t last_t;                 /* time of the previous bar, -1 */
    int64_t step;                   /* smallest step between bars, ms */
    double acc;                     /* its aggregate so far */
    struct series bins;             /* aggregates of the completed bins */
    struct indicator inner;         /* the indicator over `bins` */
};

/* Parses a rule; 0, or ERR_INVALID with a reason in err[ERR_LEN]. */
int resample_rule(const char *rule, int64_t *bin_ms, char *err);
/* Sets up resampling of a column aggregated by `agg` into bins of bin_ms
 * (0: weekly), with the built-in `kind` (one source) and its parameters
 * over the bins. ERR_INVALID for bad parameters. */
int resample_init(struct resample *r, int64_t bin_ms, enum resample_agg agg,
                  enum ind_kind kind, const double *p);
void resample_free(struct resample *r);
/* Takes the next bar (time t, value x) and writes the value each output
 * has at this bar into y[0..nout-1] (NaN before the first completed bin).
 * 0 or ERR_NOMEM. */
int resample_push(struct resample *r, int64_t t, double x, double *y);

#endif
