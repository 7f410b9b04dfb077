/* strategy.h -- one Lua strategy instance for one symbol.
 *
 * A strategy file is Lua in the shape of a backtesting.py strategy (see
 * README.md, "Writing a strategy"): it returns a class made with
 * Strategy{params}, with init() and next(). The runtime is sandboxed (no
 * io, os, debug, require or load; no __gc; memory cap; instruction budget
 * and time limit per call; caps on the library functions that loop).
 *
 * The caller owns the dataset (struct strat_data): it appends one bar to
 * every column, then calls strategy_on_bar(), which updates the indicators
 * in O(1) and runs next() once every indicator has a value (one bar after
 * the last of them became valid, as backtesting.py). The buy/sell/close
 * calls next() made are then read with strategy_calls(). */
#ifndef LT_STRATEGY_H
#define LT_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sandbox.h"
#include "series.h"

#define STRAT_MAX_CALLS 64          /* calls recorded per bar */
#define STRAT_MEM_DEFAULT SANDBOX_MEM_DEFAULT /* per strategy instance */
#define STRAT_MEM_TOTAL_DEFAULT SANDBOX_MEM_TOTAL_DEFAULT /* an engine's */
#define STRAT_MEM_MIN (1u << 20)   /* least share of the total an instance
                                      may get (strategy_set_memory_share) */
#define STRAT_BUDGET_DEFAULT SANDBOX_BUDGET_DEFAULT /* instructions/call */
#define STRAT_TIME_MS_DEFAULT SANDBOX_TIME_MS_DEFAULT /* ms per call */
#define STRAT_LOOKBACK_MAX 300000   /* = HISTORY_MAX: the most bars of
                                       history an engine can ask for */

#define STRAT_MAX_EXTRA 8           /* extra data columns */
#define STRAT_COL_NAME 32

struct strat_data {
    struct series open, high, low, close, volume;
    struct series time;             /* bar start, epoch ms */
    int nextra;                     /* extra columns (self.data.<name>) */
    char extra_name[STRAT_MAX_EXTRA][STRAT_COL_NAME];
    struct series extra[STRAT_MAX_EXTRA];
};

void strat_data_init(struct strat_data *d);
void strat_data_free(struct strat_data *d);
/* Declares an extra column, before the strategy is created. 0, or
 * ERR_INVALID (too many, a bad or taken name). */
int strat_data_add_column(struct strat_data *d, const char *name);
/* Appends one bar; `extra` holds a value per extra column (NULL: NaN for
 * each). 0 or ERR_NOMEM. */
int strat_data_push(struct strat_data *d, int64_t t, double o, double h,
                    double l, double c, double v, const double *extra);
/* Every column holds at least the newest `bars` bars (0: every bar);
 * bar numbers, and the length a strategy sees, stay those of the whole
 * run (series.h). */
void strat_data_keep(struct strat_data *d, size_t bars);

enum { CALL_BUY = 0, CALL_SELL = 1, CALL_CLOSE = 2 };   /* = SIG_* */

struct strat_call {
    int act;                        /* CALL_* */
    double size;                    /* NaN: default */
    double limit, stop, sl, tp;     /* NaN: not given */
    double conf;                    /* NaN: engine's default rule */
    double pos;                     /* position (units) at the call */
    char tag[64];
};

typedef struct strategy strategy_t;

struct broker_cfg;
typedef struct broker broker_t;

/* Loads `path`, applies "name=value" parameter overrides, runs init().
 * The strategy trades through its own paper broker, configured by `bcfg`
 * (NULL: backtesting.py's defaults).
 * On failure returns NULL, sets *rc (ERR_USAGE for a bad or unknown
 * parameter, ERR_NOTFOUND for a missing file, ERR_LUA otherwise) and puts
 * one line in err ("file:line: message" for Lua errors). */
strategy_t *strategy_new(const char *path, const char *symbol,
                         const struct opt_multi *params,
                         const struct broker_cfg *bcfg,
                         struct strat_data *data, int *rc, char *err);
void strategy_destroy(strategy_t **self_p);

/* Call after appending a bar to the dataset: the broker fills what is
 * due on the bar, then next() runs if the indicators are ready. Returns 1
 * if next() ran, 0 if the strategy is still warming up, ERR_LUA (message
 * in err) if it failed or the account ran out of money -- the caller
 * should then stop feeding it. */
int strategy_on_bar(strategy_t *self, char *err);

/* The calls the last next() made, in order. */
const struct strat_call *strategy_calls(const strategy_t *self, int *n);

/* Bars of history the strategy needs before its first live bar. */
int64_t strategy_lookback(const strategy_t *self);
/* Name (Strategy{name=...} or the file's base name) and its parameters as
 * a canonical "k=v,..." string, sorted by name. */
const char *strategy_name(const strategy_t *self);
const char *strategy_params(const strategy_t *self);

/* Indicators in declaration order: attribute name (or default name like
 * "SMA(C,10)") and the value `back` bars from the end (1 = the current
 * bar, 2 = the one before; NaN if there is none). */
int strategy_nind(const strategy_t *self);
const char *strategy_ind_name(const strategy_t *self, int i);
double strategy_ind_value(const strategy_t *self, int i, size_t back);
/* The value of indicator i at bar `bar` of the dataset (0 = the first);
 * NaN if it has none there (a strategy disabled earlier). */
double strategy_ind_at(const strategy_t *self, int i, size_t bar);

/* What a strategy holds per bar (its columns, indicator outputs and
 * equity), in bytes; s may be NULL. */
size_t strat_data_bar_bytes(const struct strat_data *d,
                            const strategy_t *s);
/* The strategy's indicators and equity hold at least the newest `bars`
 * values (0: all), as its dataset does (strat_data_keep). */
void strategy_keep(strategy_t *self, size_t bars);
/* Reads in the strategy that a bound on the bars held can break: indices
 * counted from the first bar (self.data.Close[1], x[#x - k]), loops from
 * bar 1, quantile and barssince over a whole series, Lua-function indicators without a
 * window (found by reading the file; a read the scan misses fails at run
 * time, naming the index and the bound). Returns how many, the first
 * ("file:line: what") in out[len]. */
int strategy_far_reads(const strategy_t *self, char *out, size_t len);

/* The strategy's paper broker. */
broker_t *strategy_broker(const strategy_t *self);
/* Index of the bar next() first ran on (backtesting.py's start = W + 1),
 * or -1 while warming up. */
int64_t strategy_start(const strategy_t *self);

/* 1 once the account ran out of money (next() no longer runs). */
int strategy_out_of_money(const strategy_t *self);

/* Memory for all the strategies of the process together, in bytes (0:
 * the default); each instance also has its own cap (below). */
void strategy_set_memory_cap(size_t total);
/* Shares the total among `instances` strategies: each new instance's
 * cap becomes min(STRAT_MEM_DEFAULT, total / instances), so no instance
 * can take memory the others were given. 0, or ERR_USAGE with one line
 * in err when a share would be under STRAT_MEM_MIN. */
int strategy_set_memory_share(int instances, char *err);
void strategy_set_budget(strategy_t *self, long long instructions);
/* Wall-clock limit of each call into Lua, in ms (<= 0: the default).
 * Past it a watchdog thread makes the count hook fire at the next
 * instruction, and each capped library function checks it, so a call
 * ends within about this long plus one library call. */
void strategy_set_time_limit(strategy_t *self, int64_t ms);

#endif
