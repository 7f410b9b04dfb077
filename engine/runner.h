/* runner.h -- one symbol's strategy run: its cumulative dataset, its Lua
 * strategy instance, and the turning of next()'s calls into signals. The
 * live engine and the backtest run the same code through this module. */
#ifndef LT_RUNNER_H
#define LT_RUNNER_H

#include <stdint.h>

#include "err.h"
#include "msg_bar.h"
#include "msg_signal.h"
#include "broker.h"
#include "strategy.h"

/* A strategy that closes while flat (its position size 0) on at least
 * RUNNER_FLAT_MIN calls and on most of the last RUNNER_FLAT_WINDOW bars
 * it ran is warned about, once per symbol (runner_feed). */
#define RUNNER_FLAT_WINDOW 100
#define RUNNER_FLAT_MIN 20

struct runner {
    char sym[SYM_MAX];
    struct strat_data data;         /* the bars since the first, or the
                                       newest of them (runner_keep) */
    strategy_t *strat;              /* the strategy and its account */
    int failed;                     /* disabled: next() no longer runs */
    int64_t last_t;                 /* time of the newest bar, -1 */
    int64_t first_t;                /* time of the first bar, -1 */
    uint64_t bars;                  /* bars taken */
    uint64_t signals;               /* signals emitted */
    char error[ERR_LEN];            /* why the strategy was disabled */
    char path[256];                 /* the strategy file, for messages */
    /* close() while flat, a Python habit (see runner_flat_check): */
    unsigned char flat_win[RUNNER_FLAT_WINDOW]; /* 1: such a bar */
    int flat_i;                     /* next slot in flat_win */
    int flat_in_win;                /* such bars among the last window */
    uint64_t flat_closes;           /* such calls in all */
    int flat_warned;                /* the warning was given */
};

/* Called for each signal; eng, seq, pub and ts are left for the caller. */
typedef void (runner_emit_fn)(void *arg, struct signal *s);

/* Loads the strategy for `sym`. Returns 0, or the error code that
 * strategy_new() gives, with one line in err. */
int runner_init(struct runner *r, const char *path, const char *sym,
                const struct opt_multi *params,
                const struct broker_cfg *bcfg, char *err);
/* The same with extra data columns (self.data.<name>), whose values come
 * with each bar through runner_feed_extra. */
int runner_init_ex(struct runner *r, const char *path, const char *sym,
                   const struct opt_multi *params,
                   const struct broker_cfg *bcfg,
                   const char *const *columns, int ncolumns, char *err);
void runner_free(struct runner *r);
/* From now on holds at least the newest `bars` bars of the dataset, the
 * indicators and the equity (0: every bar). A strategy still sees every
 * bar's number and the whole run's length; a read of a bar no longer
 * held is an error naming it. */
void runner_keep(struct runner *r, size_t bars);
/* The bars a strategy can read back (its auto-lookback: the longest
 * indicator history, Lua-function windows, whole-number parameters) and
 * the confidence's needs: the least runner_keep should be given. */
int64_t runner_reach(const struct runner *r);

/* Feeds one bar (already validated). With emit NULL the calls are
 * suppressed (warm-up); either way they are looked at for close() while
 * flat, which gives one WARN line per symbol naming the strategy file
 * and the fix (in Lua `if not self.position` is never true). Returns
 * the number of signals, ERR_OLD if the bar is not newer than the last
 * one, or ERR_LUA when the strategy failed just now (it is disabled --
 * r->failed -- and the reason is in r->error). A disabled strategy still
 * takes bars into its dataset. */
int runner_feed(struct runner *r, const struct bar *b, runner_emit_fn *emit,
                void *arg);
/* runner_feed with a value for each extra column (NULL: NaN). */
int runner_feed_extra(struct runner *r, const struct bar *b,
                      const double *extra, runner_emit_fn *emit, void *arg);

/* The indicator values at bar i of the dataset (0 = the first bar held)
 * as a signal of that bar carries them: name and value of each of the
 * first SIG_MAX_IND indicators into v[SIG_MAX_IND] (NaN before one is
 * valid, and after the bar a disabled strategy stopped at). Returns how
 * many. */
int runner_ind_at(const struct runner *r, size_t i, struct sig_ind *v);

/* The default confidence for a call made without `confidence=`
 * (README.md, "Confidence"): how decisively the first two indicators
 * (one indicator: the close and it) moved against each other on this bar,
 * compared with the symbol's typical bar-to-bar move:
 *   spread = a - b;  d = |spread[-1] - spread[-2]| / (0.5 * move)
 *   confidence = 0.5 + 0.5 * min(1, d)
 * where move is the mean |close - previous close| over the last 20 bars
 * (computed only when a signal is made, so it costs nothing per bar and
 * depends on those 21 closes alone). No indicators, or no move: 0.5. */
double runner_confidence(const struct runner *r);

#endif
