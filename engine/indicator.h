/* indicator.h -- streaming technical indicators in O(1) per bar.
 *
 * An indicator reads one to three source series (Close; or High, Low,
 * Close) and appends one value to each of its one to three outputs each
 * time its sources grow by one value (indicator_update). Every output has
 * the same length as the sources; values before the first valid one are
 * NaN, as in backtesting.py's arrays. Each indicator knows its own
 * warm-up from its parameters, so the engine can work out how much
 * history a strategy needs before its first next() (auto-lookback).
 *
 * The library (indicator_lib.c) holds what each kind computes; the
 * definitions are in the comment of each kind there and in README.md.
 * IND_EXTERNAL is an indicator whose values are computed elsewhere (a
 * Lua function) and appended with indicator_push(). */
#ifndef LT_INDICATOR_H
#define LT_INDICATOR_H

#include <stddef.h>
#include <stdint.h>

#include "series.h"

#define IND_MAX_IN 3                /* source series */
#define IND_MAX_OUT 3               /* outputs */
#define IND_MAX_PARAM 3             /* numeric parameters */
#define IND_NAME 48                 /* name length + 1 */
#define IND_MAX_WINDOW 1000000      /* largest window parameter */

enum ind_kind {
    IND_SMA = 0, IND_EMA, IND_WMA, IND_RSI, IND_MACD, IND_BBANDS, IND_ATR,
    IND_STDDEV, IND_HIGHEST, IND_LOWEST, IND_ROC, IND_MOM, IND_STOCH,
    IND_DONCHIAN,
    IND_EXTERNAL,                   /* values pushed by the caller */
    IND_NKINDS
};

struct indicator;

/* What a kind takes and gives; one const entry per kind. */
struct ind_info {
    const char *name;               /* "MACD" */
    int nin;                        /* source series */
    const char *in[IND_MAX_IN];     /* their usual columns: "High", ... */
    int nparam;                     /* numeric parameters */
    int nreq;                       /* leading parameters without default */
    const char *param[IND_MAX_PARAM];   /* "n", "fast", "k", ... */
    double def[IND_MAX_PARAM];      /* defaults of the others */
    int nout;                       /* outputs */
    const char *out[IND_MAX_OUT];   /* "macd", "signal", "hist" */
    /* Writes out[j].v[i] for every output j; out[j].len is already i+1
     * (the slot holds NaN) and the sources hold index i. */
    void (*step)(struct indicator *ind, size_t i);
};

/* Sliding compensated sums over the last n values of a series, shifted
 * by k (the window mean at the last exact recomputation) so that the
 * variance does not lose digits to cancellation. */
struct ind_roll {
    double k;                       /* shift */
    double s1, c1;                  /* sum of (x-k), Kahan compensation */
    double s2, c2;                  /* sum of (x-k)^2 */
    double w, cw;                   /* sum of weight*(x-k), weights 1..n */
    int nan;                        /* NaN values in the window */
    int ok;                         /* sums hold the previous window */
    size_t next_sync;               /* index of the next recomputation */
};

/* Exponential average seeded with the mean of its first n values. */
struct ind_ema {
    int n;
    int seeded;                     /* values taken into the seed */
    double alpha;                   /* smoothing factor */
    double sum, comp;               /* seed sum, Kahan compensation */
    double prev;                    /* last value */
};

/* Rolling maximum or minimum: indices of a monotonic deque in a ring. */
struct ind_deque {
    size_t *idx;                    /* n slots; owned */
    size_t head, len, cap;
    int max;                        /* 1: maximum, 0: minimum */
    int nan;                        /* NaN values in the window */
};

struct indicator {
    enum ind_kind kind;
    const struct ind_info *info;
    double p[IND_MAX_PARAM];        /* parameters, defaults filled in */
    int n;                          /* main window: (int)p[0] */
    const struct series *src[IND_MAX_IN];   /* read only; owned elsewhere */
    int nin, nout;
    struct series out[IND_MAX_OUT]; /* one value per source value */
    int64_t out_first[IND_MAX_OUT]; /* first non-NaN index per output, -1 */
    int64_t first_valid;            /* first index at which every output
                                       has had a value, -1 */
    int64_t warmup;                 /* bars before the first valid value,
                                       from the parameters and the
                                       sources' warm-up */
    int64_t history;                /* bars of history this indicator
                                       wants for an accurate value
                                       (recursive ones more) */
    char name[IND_NAME];            /* e.g. "SMA(C,10)" */
    /* state, by kind */
    struct ind_roll roll;           /* SMA WMA STDDEV BBANDS; STOCH %D */
    struct ind_ema ema[3];          /* EMA; MACD fast, slow, signal */
    struct ind_ema wil[2];          /* Wilder averages: RSI gain, loss;
                                       ATR true range */
    struct ind_deque dq[2];         /* HIGHEST LOWEST STOCH DONCHIAN */
    double last;                    /* RSI, ATR: previous source value */
    int have_last;                  /* last is set */
};

/* The description of a kind; NULL if out of range. */
const struct ind_info *indicator_info(enum ind_kind kind);
/* The kind called `name` ("SMA", case-sensitive), or -1. */
int indicator_kind_find(const char *name);

/* Checks parameters p[0..info->nparam-1] of a kind (NaN: take the
 * default). Returns 0, or ERR_INVALID with a reason in why[len]. */
int indicator_check(enum ind_kind kind, const double *p, char *why,
                    size_t len);

/* Sets up an indicator over src[0..info->nin-1] (p: info->nparam values,
 * NaN for a default; NULL for all defaults) whose sources' warm-up is
 * src_warmup bars. Returns 0, ERR_INVALID for bad parameters (see
 * indicator_check) or ERR_NOMEM. Free with indicator_free() even after
 * an error. */
int indicator_init_ex(struct indicator *ind, enum ind_kind kind,
                      const struct series *const *src, const double *p,
                      int64_t src_warmup, const char *name);
/* Shorthand for one source and one parameter (window or span n). */
int indicator_init(struct indicator *ind, enum ind_kind kind, int n,
                   const struct series *src, int64_t src_warmup,
                   const char *name);
/* An IND_EXTERNAL indicator with nout outputs whose warm-up and history
 * the caller states. Values come from indicator_push(). */
int indicator_init_external(struct indicator *ind, int nout,
                            int64_t warmup, int64_t history,
                            const char *name);
void indicator_free(struct indicator *ind);
/* Its outputs hold at least their newest n values (0: all; series.h).
 * The kinds read back their window at most (n+1 values of a source, the
 * d+1 last %K of STOCH), so a bound at its history + 1 keeps them exact;
 * the sources are bounded by their owners. */
void indicator_keep(struct indicator *ind, size_t n);

/* Consumes every source value not yet seen (normally one). 0 or
 * ERR_NOMEM. Does nothing for IND_EXTERNAL. */
int indicator_update(struct indicator *ind);
/* Appends one value to each output (y[0..nout-1]). 0 or ERR_NOMEM. */
int indicator_push(struct indicator *ind, const double *y);

/* The library's step functions and building blocks (indicator_lib.c). */
extern const struct ind_info indicator_kinds[IND_NKINDS];
void indicator_roll_init(struct ind_roll *r);
void indicator_ema_init(struct ind_ema *e, int n, double alpha);
int indicator_deque_init(struct ind_deque *d, int n, int max);
void indicator_deque_free(struct ind_deque *d);

#endif
