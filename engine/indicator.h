/* indicator.h -- streaming technical indicators in O(1) per bar.
 *
 * An indicator reads one source series and appends one value to its own
 * output each time the source grows by one value (indicator_update). Its
 * output has the same length as its source; values before the first valid
 * one are NaN, as in backtesting.py's arrays. Each indicator knows its own
 * warm-up from its parameters, so the engine can work out how much history
 * a strategy needs before its first next() (auto-lookback). */
#ifndef LT_INDICATOR_H
#define LT_INDICATOR_H

#include <stdint.h>

#include "series.h"

enum ind_kind { IND_SMA = 0, IND_EMA = 1 };

struct indicator {
    enum ind_kind kind;
    int n;                      /* window / span */
    const struct series *src;   /* read only; owned elsewhere */
    struct series out;          /* one value per source value */
    int64_t first_valid;        /* index of the first non-NaN output, -1 */
    int64_t warmup;             /* bars before the first valid value, from
                                   the parameters and the source's warm-up */
    int64_t history;            /* bars of history this indicator wants for
                                   an accurate value (recursive ones more) */
    char name[48];              /* e.g. "SMA(C,10)" */
    /* state */
    double sum, comp;           /* SMA: compensated window sum; EMA seed */
    int nan_in_window;          /* SMA: NaN source values in the window */
    int seeded;                 /* EMA: values taken into the seed */
    double prev;                /* EMA: last value */
    double alpha;               /* EMA: 2 / (n + 1) */
};

/* Sets up an indicator over `src` whose own warm-up (bars before its
 * first valid value) is src_warmup. Returns 0, or ERR_INVALID if n < 1. */
int indicator_init(struct indicator *ind, enum ind_kind kind, int n,
                   const struct series *src, int64_t src_warmup,
                   const char *name);
void indicator_free(struct indicator *ind);
/* Consumes every source value not yet seen (normally one). 0 or
 * ERR_NOMEM. */
int indicator_update(struct indicator *ind);

const char *indicator_kind_name(enum ind_kind kind);

#endif
