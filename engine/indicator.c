/* indicator.c -- streaming SMA and EMA.
 *
 * SMA keeps a sliding window sum with Kahan compensation on both the add
 * and the remove (as pandas' rolling mean does), so the sum does not
 * drift over millions of bars; it is also recomputed exactly every
 * SMA_RESYNC bars, at amortised O(1) cost for any window below that.
 * A NaN in the window makes the value NaN (pandas min_periods = n).
 *
 * EMA is seeded with the simple mean of its first n valid source values
 * (first value at index n-1, as TA-Lib), then ema = a*x + (1-a)*ema with
 * a = 2/(n+1). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "indicator.h"

#define SMA_RESYNC 4096         /* exact recomputation interval, bars */
#define EMA_HISTORY 5           /* an EMA(n) asks for 5n extra bars: the
                                   seed's weight falls to e^-10 */

const char *indicator_kind_name(enum ind_kind kind)
{
    switch (kind) {
    case IND_SMA: return "SMA";
    case IND_EMA: return "EMA";
    }
    return "?";
}

int indicator_init(struct indicator *ind, enum ind_kind kind, int n,
                   const struct series *src, int64_t src_warmup,
                   const char *name)
{
    memset(ind, 0, sizeof *ind);
    if (n < 1)
        return ERR_INVALID;
    ind->kind = kind;
    ind->n = n;
    ind->src = src;
    series_init(&ind->out);
    ind->first_valid = -1;
    ind->warmup = src_warmup + n - 1;
    ind->history = ind->warmup + 1;
    if (kind == IND_EMA) {
        ind->alpha = 2.0 / (n + 1.0);
        ind->history += (int64_t)EMA_HISTORY * n;
    }
    if (name)
        snprintf(ind->name, sizeof ind->name, "%s", name);
    else
        snprintf(ind->name, sizeof ind->name, "%s(%d)",
                 indicator_kind_name(kind), n);
    return ERR_OK;
}

void indicator_free(struct indicator *ind)
{
    series_free(&ind->out);
}

/* Kahan: adds x to (sum, comp). */
static void s_kahan(double *sum, double *comp, double x)
{
    double y = x - *comp;
    double t = *sum + y;
    *comp = (t - *sum) - y;
    *sum = t;
}

static double s_sma(struct indicator *ind, size_t i)
{
    const double *v = ind->src->v;
    double x = v[i];
    size_t n = (size_t)ind->n;

    if (isnan(x))
        ind->nan_in_window++;
    else
        s_kahan(&ind->sum, &ind->comp, x);
    if (i >= n) {
        double old = v[i - n];
        if (isnan(old))
            ind->nan_in_window--;
        else
            s_kahan(&ind->sum, &ind->comp, -old);
    }
    if (i % SMA_RESYNC == SMA_RESYNC - 1 && n < SMA_RESYNC) {
        /* Exact window sum, so no error can accumulate. */
        double s = 0, c = 0;
        for (size_t k = i + 1 > n ? i + 1 - n : 0; k <= i; k++)
            if (!isnan(v[k]))
                s_kahan(&s, &c, v[k]);
        ind->sum = s;
        ind->comp = c;
    }
    if (i + 1 < n || ind->nan_in_window)
        return NAN;
    return ind->sum / (double)n;
}

static double s_ema(struct indicator *ind, size_t i)
{
    double x = ind->src->v[i];

    if (ind->seeded < ind->n) {
        if (isnan(x))
            return NAN;         /* still waiting for the source */
        s_kahan(&ind->sum, &ind->comp, x);
        if (++ind->seeded < ind->n)
            return NAN;
        ind->prev = ind->sum / ind->n;
        return ind->prev;
    }
    if (isnan(x))
        return NAN;             /* a gap in the source: keep the state */
    ind->prev = ind->alpha * x + (1.0 - ind->alpha) * ind->prev;
    return ind->prev;
}

int indicator_update(struct indicator *ind)
{
    while (ind->out.len < ind->src->len) {
        size_t i = ind->out.len;
        double y = ind->kind == IND_SMA ? s_sma(ind, i) : s_ema(ind, i);
        if (series_push(&ind->out, y))
            return ERR_NOMEM;
        if (ind->first_valid < 0 && !isnan(y))
            ind->first_valid = (int64_t)i;
    }
    return ERR_OK;
}
