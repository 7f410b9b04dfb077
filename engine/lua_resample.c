/* lua_resample.c -- resample_apply: a built-in indicator over a column
 * resampled to longer bars (resample.c), as backtesting.lib's
 * resample_apply, with one value per bar of the data. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "lua_int.h"
#include "resample.h"

/* One bar of a resample_apply indicator: the column's new value into its
 * bin, the inner indicator's value at this bar out. */
int lt_resample_step(struct strategy *s, int k, char *err)
{
    struct lind *li = lt_lind(s, k);
    double y[IND_MAX_OUT];

    if (resample_push(li->rs, (int64_t)series_back(&s->data->time, 1),
                      series_back(li->rs_src, 1), y) ||
        indicator_push(&li->ind, y)) {
        snprintf(err, ERR_LEN, "out of memory resampling");
        return ERR_NOMEM;
    }
    return ERR_OK;
}

/* resample_apply(rule, fn, series, params... [, {name = ...}]): the
 * built-in fn over `series` resampled to `rule`, as backtesting.lib's
 * resample_apply called in init(). */
int lt_resample_apply(lua_State *L)
{
    struct strategy *s = lt_self(L);
    const char *rule = luaL_checkstring(L, 1);
    enum ind_kind kind = lt_kind_of(L, 2);
    const struct ind_info *info;
    const struct strat_data *d = s->data;
    struct bargs a;
    struct lind *li;
    enum resample_agg agg = RS_LAST;
    int64_t bin_ms, bars_per_bin, hist;
    char err[ERR_LEN], name[IND_NAME];
    int rc;

    if (d->close.len > 0)
        return sandbox_error(L, "resample_apply must be called in init()");
    if (resample_rule(rule, &bin_ms, err))
        return sandbox_error(L, "resample_apply: %s", err);
    if ((int)kind < 0)
        return sandbox_error(L, "resample_apply: the indicator must be a "
                             "built-in (SMA, EMA, RSI, ...), got %s",
                             luaL_typename(L, 2));
    info = indicator_info(kind);
    if (info->nin != 1)
        return sandbox_error(L, "resample_apply: %s takes %d series; only "
                             "one-series indicators can be resampled",
                             info->name, info->nin);
    lt_parse_args(L, 3, kind, 1, &a);
    if (a.src[0] == &d->open)
        agg = RS_FIRST;
    else if (a.src[0] == &d->high)
        agg = RS_MAX;
    else if (a.src[0] == &d->low)
        agg = RS_MIN;
    else if (a.src[0] == &d->volume)
        agg = RS_SUM;
    snprintf(name, sizeof name, "%s(%s", info->name,
             lt_series_label(s, lt_toseries(L, 3)));
    for (int j = 0; j < info->nparam; j++)
        lt_name_add(name, ",%g", isnan(a.p[j]) ? info->def[j] : a.p[j]);
    lt_name_add(name, ")@%s", rule);
    li = lt_new_lind(L, s);
    li->rs = calloc(1, sizeof *li->rs);
    li->rs_src = a.src[0];
    if (!li->rs) {
        s->nind--;
        free(li);
        return luaL_error(L, "not enough memory");
    }
    rc = resample_init(li->rs, bin_ms, agg, kind, a.p);
    /* History: the inner indicator's need in bins, in bars of at least a
     * minute (a guess: the bar length is not known before the data). */
    bars_per_bin = bin_ms ? bin_ms / 60000 : 7 * 1440;
    if (bars_per_bin < 1)
        bars_per_bin = 1;
    hist = (li->rs->inner.history + 1) * bars_per_bin;
    if (hist > 100000)
        hist = 100000;
    if (rc == ERR_OK)
        rc = indicator_init_external(&li->ind, info->nout, 0, hist, name);
    if (rc) {
        s->nind--;
        resample_free(li->rs);
        free(li->rs);
        indicator_free(&li->ind);
        free(li);
        return luaL_error(L, "not enough memory");
    }
    for (int j = 0; j < info->nout; j++)
        snprintf(li->oname[j], IND_NAME, "%s", info->out[j]);
    if (a.opts) {
        char onames[IND_MAX_OUT][IND_NAME];
        int fixed;
        lt_opt_names(L, a.opts, li->ind.name, onames, &fixed);
        li->fixed = fixed;
    }
    return lt_push_result(L, s);
}


void lt_resample_free(struct lind *li)
{
    if (li->rs) {
        resample_free(li->rs);
        free(li->rs);
    }
}
