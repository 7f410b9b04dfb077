/* indicator.c -- an indicator's life: parameters and their checks, the
 * warm-up and history each kind needs, and the per-bar update that
 * hands every new source value to the kind's step (indicator_lib.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "indicator.h"

#define EMA_HISTORY 5               /* an EMA(n) asks for 5n extra bars:
                                       the seed's weight falls to e^-10 */
#define WILDER_HISTORY 10           /* Wilder's average (a = 1/n): 10n */

const struct ind_info *indicator_info(enum ind_kind kind)
{
    return (unsigned)kind < IND_NKINDS ? &indicator_kinds[kind] : NULL;
}

int indicator_kind_find(const char *name)
{
    for (int k = 0; k < IND_EXTERNAL; k++)
        if (strcmp(indicator_kinds[k].name, name) == 0)
            return k;
    return -1;
}

/* Parameter j of the kind is a real number, not a window. */
static int s_is_real(enum ind_kind kind, int j)
{
    return kind == IND_BBANDS && j == 1;
}

/* Fills q with p, defaults where p is NaN (or NULL). */
static void s_params(enum ind_kind kind, const double *p, double *q)
{
    const struct ind_info *info = &indicator_kinds[kind];
    for (int j = 0; j < IND_MAX_PARAM; j++)
        q[j] = j < info->nparam && p && !isnan(p[j]) ? p[j] :
               j < info->nparam ? info->def[j] : 0;
}

int indicator_check(enum ind_kind kind, const double *p, char *why,
                    size_t len)
{
    const struct ind_info *info = indicator_info(kind);
    double q[IND_MAX_PARAM];

    if (!info || kind == IND_EXTERNAL) {
        snprintf(why, len, "unknown indicator");
        return ERR_INVALID;
    }
    for (int j = 0; j < info->nreq; j++)
        if (!p || isnan(p[j])) {
            snprintf(why, len, "%s: parameter %s is required", info->name,
                     info->param[j]);
            return ERR_INVALID;
        }
    s_params(kind, p, q);
    for (int j = 0; j < info->nparam; j++) {
        if (s_is_real(kind, j)) {
            if (!isfinite(q[j])) {
                snprintf(why, len, "%s: %s must be a finite number",
                         info->name, info->param[j]);
                return ERR_INVALID;
            }
        } else if (!(q[j] >= 1 && q[j] <= IND_MAX_WINDOW &&
                     q[j] == floor(q[j]))) {
            snprintf(why, len, "%s: %s must be a whole number from 1 to %d, "
                     "got %g", info->name, info->param[j], IND_MAX_WINDOW,
                     q[j]);
            return ERR_INVALID;
        }
    }
    if (kind == IND_STDDEV && q[0] < 2) {
        snprintf(why, len, "STDDEV: n must be >= 2 (sample standard "
                 "deviation)");
        return ERR_INVALID;
    }
    return ERR_OK;
}

/* Bars before the first value on sources valid from index 0, and the
 * extra history a recursive kind wants on top of its warm-up. */
static void s_warmup(struct indicator *ind, int64_t *warm, int64_t *extra)
{
    int64_t n = ind->n, a = (int64_t)ind->p[0], b = (int64_t)ind->p[1],
            c = (int64_t)ind->p[2];

    *extra = 0;
    switch (ind->kind) {
    case IND_EMA:
        *warm = n - 1;
        *extra = EMA_HISTORY * n;
        break;
    case IND_RSI:
    case IND_ATR:
        *warm = n;
        *extra = WILDER_HISTORY * n;
        break;
    case IND_MACD:
        *warm = (a > b ? a : b) - 1 + c - 1;
        *extra = EMA_HISTORY * ((a > b ? a : b) + c);
        break;
    case IND_ROC:
    case IND_MOM:
        *warm = n;
        break;
    case IND_STOCH:
        *warm = a - 1 + b - 1;
        break;
    default:                        /* windows: SMA WMA STDDEV ... */
        *warm = n - 1;
    }
}

static void s_default_name(struct indicator *ind)
{
    const struct ind_info *info = ind->info;
    size_t off = (size_t)snprintf(ind->name, sizeof ind->name, "%s(",
                                  info->name);
    for (int j = 0; j < info->nparam && off < sizeof ind->name; j++)
        off += (size_t)snprintf(ind->name + off, sizeof ind->name - off,
                                "%s%g", j ? "," : "", ind->p[j]);
    if (off < sizeof ind->name)
        snprintf(ind->name + off, sizeof ind->name - off, ")");
}

static void s_clear(struct indicator *ind)
{
    memset(ind, 0, sizeof *ind);
    for (int j = 0; j < IND_MAX_OUT; j++) {
        series_init(&ind->out[j]);
        ind->out_first[j] = -1;
    }
    ind->first_valid = -1;
}

int indicator_init_ex(struct indicator *ind, enum ind_kind kind,
                      const struct series *const *src, const double *p,
                      int64_t src_warmup, const char *name)
{
    char why[128];
    int64_t warm, extra;
    int rc;

    s_clear(ind);
    if (indicator_check(kind, p, why, sizeof why))
        return ERR_INVALID;
    ind->kind = kind;
    ind->info = &indicator_kinds[kind];
    ind->nin = ind->info->nin;
    ind->nout = ind->info->nout;
    for (int j = 0; j < ind->nin; j++)
        ind->src[j] = src[j];
    s_params(kind, p, ind->p);
    ind->n = (int)ind->p[0];
    s_warmup(ind, &warm, &extra);
    ind->warmup = src_warmup + warm;
    ind->history = ind->warmup + 1 + extra;
    if (name)
        snprintf(ind->name, sizeof ind->name, "%s", name);
    else
        s_default_name(ind);

    indicator_roll_init(&ind->roll);
    switch (kind) {
    case IND_EMA:
        indicator_ema_init(&ind->ema[0], ind->n, 2.0 / (ind->n + 1.0));
        break;
    case IND_MACD:
        for (int j = 0; j < 3; j++)
            indicator_ema_init(&ind->ema[j], (int)ind->p[j],
                               2.0 / (ind->p[j] + 1.0));
        break;
    case IND_RSI:
    case IND_ATR:
        indicator_ema_init(&ind->wil[0], ind->n, 1.0 / ind->n);
        indicator_ema_init(&ind->wil[1], ind->n, 1.0 / ind->n);
        break;
    case IND_HIGHEST:
    case IND_LOWEST:
        rc = indicator_deque_init(&ind->dq[0], ind->n, kind == IND_HIGHEST);
        if (rc)
            return rc;
        break;
    case IND_STOCH:
    case IND_DONCHIAN:
        rc = indicator_deque_init(&ind->dq[0], ind->n, 1);
        if (!rc)
            rc = indicator_deque_init(&ind->dq[1], ind->n, 0);
        if (rc)
            return rc;
        break;
    default:
        break;
    }
    return ERR_OK;
}

int indicator_init(struct indicator *ind, enum ind_kind kind, int n,
                   const struct series *src, int64_t src_warmup,
                   const char *name)
{
    double p[IND_MAX_PARAM] = { n, NAN, NAN };
    const struct series *s[IND_MAX_IN] = { src, src, src };
    return indicator_init_ex(ind, kind, s, p, src_warmup, name);
}

int indicator_init_external(struct indicator *ind, int nout,
                            int64_t warmup, int64_t history,
                            const char *name)
{
    s_clear(ind);
    if (nout < 1 || nout > IND_MAX_OUT)
        return ERR_INVALID;
    ind->kind = IND_EXTERNAL;
    ind->info = &indicator_kinds[IND_EXTERNAL];
    ind->nout = nout;
    ind->warmup = warmup;
    ind->history = history;
    snprintf(ind->name, sizeof ind->name, "%s", name ? name : "I");
    return ERR_OK;
}

void indicator_keep(struct indicator *ind, size_t n)
{
    for (int j = 0; j < IND_MAX_OUT; j++)
        series_keep(&ind->out[j], n);
}

void indicator_free(struct indicator *ind)
{
    for (int j = 0; j < IND_MAX_OUT; j++)
        series_free(&ind->out[j]);
    indicator_deque_free(&ind->dq[0]);
    indicator_deque_free(&ind->dq[1]);
}

/* Records the first valid index of each output, and of all of them. */
static void s_note_valid(struct indicator *ind, size_t i)
{
    int all = 1;

    if (ind->first_valid >= 0)
        return;
    for (int j = 0; j < ind->nout; j++) {
        if (ind->out_first[j] < 0 && !isnan(SERIES_AT(&ind->out[j], i)))
            ind->out_first[j] = (int64_t)i;
        all &= ind->out_first[j] >= 0;
    }
    if (all)
        ind->first_valid = (int64_t)i;
}

/* Appends a NaN slot to every output; on failure removes those added. */
static int s_grow(struct indicator *ind)
{
    for (int j = 0; j < ind->nout; j++)
        if (series_push(&ind->out[j], NAN)) {
            while (j-- > 0)
                ind->out[j].len--;
            return ERR_NOMEM;
        }
    return ERR_OK;
}

/* The shortest source length: how far the indicator can go. */
static size_t s_src_len(const struct indicator *ind)
{
    size_t len = ind->src[0]->len;
    for (int j = 1; j < ind->nin; j++)
        if (ind->src[j]->len < len)
            len = ind->src[j]->len;
    return len;
}

int indicator_update(struct indicator *ind)
{
    size_t len;

    if (ind->kind == IND_EXTERNAL)
        return ERR_OK;
    len = s_src_len(ind);
    while (ind->out[0].len < len) {
        size_t i = ind->out[0].len;
        if (s_grow(ind))
            return ERR_NOMEM;
        ind->info->step(ind, i);
        s_note_valid(ind, i);
    }
    return ERR_OK;
}

int indicator_push(struct indicator *ind, const double *y)
{
    size_t i = ind->out[0].len;

    if (s_grow(ind))
        return ERR_NOMEM;
    for (int j = 0; j < ind->nout; j++)
        SERIES_AT(&ind->out[j], i) = y[j];
    s_note_valid(ind, i);
    return ERR_OK;
}
