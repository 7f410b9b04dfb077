/* lua_indicators.c -- self:I() and the indicator library as Lua sees
 * it: built-in indicators become streaming C indicators (indicator.c);
 * the engine asks here how far they are (warm-up, lookback) and what
 * they read on the current bar. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lua_int.h"

/* {==================== indicators =========================== */

/* SMA(x, n) / EMA(x, n) called directly: computes the whole array over
 * the values so far and returns it as a Lua table. Inside self:I() they
 * become streaming indicators instead. */
static int s_direct(lua_State *L, enum ind_kind kind)
{
    struct lseries *u = luaL_checkudata(L, 1, SERIES_MT);
    lua_Integer n = luaL_checkinteger(L, 2);
    struct indicator ind;

    if (n < 1)
        return lt_error(L, "%s: window must be >= 1", indicator_kind_name(kind));
    indicator_init(&ind, kind, (int)n, u->s, 0, NULL);
    if (indicator_update(&ind)) {
        indicator_free(&ind);
        return luaL_error(L, "not enough memory");
    }
    lua_createtable(L, (int)ind.out.len, 0);
    for (size_t i = 0; i < ind.out.len; i++) {
        lua_pushnumber(L, ind.out.v[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    indicator_free(&ind);
    return 1;
}

static int s_sma(lua_State *L) { return s_direct(L, IND_SMA); }
static int s_ema(lua_State *L) { return s_direct(L, IND_EMA); }

static const char *s_col_abbrev(struct strategy *s, const struct series *x)
{
    const struct strat_data *d = s->data;
    if (x == &d->open) return "O";
    if (x == &d->high) return "H";
    if (x == &d->low) return "L";
    if (x == &d->close) return "C";
    if (x == &d->volume) return "V";
    if (x == &d->time) return "T";
    return NULL;
}

/* self:I(fn, source, n [, {name=...}]) */
int lt_I(lua_State *L)
{
    struct strategy *s = lt_self(L);
    lua_CFunction fn = lua_tocfunction(L, 2);
    struct lseries *src = lt_toseries(L, 3);
    struct indicator *ind;
    enum ind_kind kind;
    lua_Integer n;
    int isint;
    char name[48];
    const char *abbrev;

    luaL_checktype(L, 1, LUA_TTABLE);
    if (fn == s_sma)
        kind = IND_SMA;
    else if (fn == s_ema)
        kind = IND_EMA;
    else
        return lt_error(L, "self:I: the indicator must be a built-in (SMA, "
                       "EMA), got %s", luaL_typename(L, 2));
    if (!src)
        return lt_error(L, "self:I: the source must be a data column or an "
                       "indicator, got %s", luaL_typename(L, 3));
    n = lua_tointegerx(L, 4, &isint);
    if (!isint || n < 1 || n > 1000000)
        return lt_error(L, "self:I: %s window must be a whole number >= 1",
                       indicator_kind_name(kind));
    if (s->nind == MAX_IND)
        return lt_error(L, "self:I: at most %d indicators", MAX_IND);
    if (s->data->close.len > 0)
        return lt_error(L, "self:I must be called in init()");
    abbrev = s_col_abbrev(s, src->s);
    if (abbrev)
        snprintf(name, sizeof name, "%s(%s,%d)", indicator_kind_name(kind),
                 abbrev, (int)n);
    else
        snprintf(name, sizeof name, "%s(%s,%d)", indicator_kind_name(kind),
                 s->ind_name[src->ind], (int)n);
    if (lua_type(L, 5) == LUA_TTABLE) {
        lua_getfield(L, 5, "name");
        if (lua_type(L, -1) == LUA_TSTRING)
            snprintf(name, sizeof name, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    ind = malloc(sizeof *ind);
    if (!ind)
        return luaL_error(L, "not enough memory");
    indicator_init(ind, kind, (int)n, src->s,
                   src->ind >= 0 ? s->ind[src->ind]->warmup : 0, name);
    s->ind[s->nind] = ind;
    snprintf(s->ind_name[s->nind], sizeof s->ind_name[0], "%s", name);
    lt_push_series(L, &ind->out, s->nind);
    s->nind++;
    return 1;
}

/* }========================================================== */

void lt_indicators_register(lua_State *L)
{
    static const luaL_Reg globals[] = {
        { "SMA", s_sma }, { "EMA", s_ema }, { NULL, NULL }
    };
    lua_pushglobaltable(L);
    luaL_setfuncs(L, globals, 0);
    lua_pop(L, 1);
}

/* Names indicators after the attributes that hold them (self.sma1). */
void lt_indicators_name(struct strategy *s, int self)
{
    lua_State *L = s->L;
    lua_pushnil(L);
    while (lua_next(L, self)) {
        struct lseries *u = lt_toseries(L, -1);
        if (u && u->ind >= 0 && lua_type(L, -2) == LUA_TSTRING)
            snprintf(s->ind_name[u->ind], sizeof s->ind_name[0], "%s",
                     lua_tostring(L, -2));
        lua_pop(L, 1);
    }
}

int lt_indicators_step(struct strategy *s, char *err)
{
    int64_t i = (int64_t)s->data->close.len - 1;

    for (int k = 0; k < s->nind; k++)
        if (indicator_update(s->ind[k])) {
            snprintf(err, ERR_LEN, "out of memory updating indicators");
            return ERR_NOMEM;
        }
    if (s->start < 0) {
        /* next() starts one bar after every indicator has a value. */
        int64_t w = 0;
        for (int k = 0; k < s->nind; k++) {
            if (s->ind[k]->first_valid < 0)
                return 0;
            if (s->ind[k]->first_valid > w)
                w = s->ind[k]->first_valid;
        }
        s->start = w + 1;
    }
    return i >= s->start;
}

void lt_indicators_free(struct strategy *s)
{
    for (int i = 0; i < s->nind; i++) {
        indicator_free(s->ind[i]);
        free(s->ind[i]);
    }
    s->nind = 0;
}

int64_t strategy_lookback(const strategy_t *s)
{
    int64_t lb = 2;
    for (int k = 0; k < s->nind; k++)
        if (s->ind[k]->history + 1 > lb)
            lb = s->ind[k]->history + 1;
    if (s->max_int_param + 1 > lb)
        lb = s->max_int_param + 1;
    return lb;
}

int strategy_nind(const strategy_t *s) { return s->nind; }

const char *strategy_ind_name(const strategy_t *s, int i)
{
    return i >= 0 && i < s->nind ? s->ind_name[i] : NULL;
}

double strategy_ind_value(const strategy_t *s, int i, size_t back)
{
    return i >= 0 && i < s->nind ? series_back(&s->ind[i]->out, back) : NAN;
}
