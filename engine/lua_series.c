/* lua_series.c -- series as Lua sees them (self.data.Close, indicator
 * outputs): indexing from the end with negative numbers, #, comparisons
 * of current values; and the backtesting.lib helpers over them
 * (crossover, cross, barssince, quantile), which also take Lua arrays. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>

#include "lua_int.h"

/* {==================== series userdata ====================== */

void lt_push_series(lua_State *L, const struct series *ser, int ind)
{
    struct lseries *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->s = ser;
    u->ind = ind;
    luaL_setmetatable(L, SERIES_MT);
}

struct lseries *lt_toseries(lua_State *L, int idx)
{
    return luaL_testudata(L, idx, SERIES_MT);
}

/* How a series reads in a message: "self.data.Close", "sma1". */
static void s_series_name(lua_State *L, const struct lseries *u, char *buf,
                          size_t size)
{
    struct strategy *s = lt_self(L);
    const struct strat_data *d = s->data;
    const struct series *col[] = { &d->open, &d->high, &d->low, &d->close,
                                   &d->volume, &d->time };
    static const char *const name[] = { "Open", "High", "Low", "Close",
                                        "Volume", "index" };

    snprintf(buf, size, "a series");
    if (u->ind >= 0 && u->ind < s->nind) {
        snprintf(buf, size, "%s", s->ind_name[u->ind]);
        return;
    }
    for (int i = 0; i < 6; i++)
        if (u->s == col[i])
            snprintf(buf, size, "self.data.%s", name[i]);
    for (int j = 0; j < d->nextra; j++)
        if (u->s == &d->extra[j])
            snprintf(buf, size, "self.data.%s", d->extra_name[j]);
}

static int s_series_index(lua_State *L)
{
    struct lseries *u = luaL_checkudata(L, 1, SERIES_MT);
    int isint;
    lua_Integer k = lua_tointegerx(L, 2, &isint);
    size_t len = u->s->len;
    char name[64];

    if (!isint) {
        lua_pushnil(L);
        return 1;
    }
    if (k == 0) {
        /* Python's x[0]: here it would be nil, read as a missing bar. */
        s_series_name(L, u, name, sizeof name);
        return sandbox_error(L, "%s[0]: Lua counts from 1: [1] is the first "
                             "bar, [-1] the current one", name);
    }
    if (k < 0 && (lua_Unsigned)(-k) <= len)
        k = (lua_Integer)len + k + 1;   /* from the first bar, 1-based */
    else if (k < 0 || (lua_Unsigned)k > len) {
        lua_pushnil(L);
        return 1;
    }
    if ((lua_Unsigned)k <= u->s->off) {
        /* Forgotten (--keep-bars): an error rather than a wrong value. */
        s_series_name(L, u, name, sizeof name);
        return sandbox_error(L, "%s[%lld]: bar %lld of %zu is no longer "
                             "held: only the last %zu bars are kept "
                             "(--keep-bars; 0 keeps every bar)", name,
                             (long long)lua_tointeger(L, 2), (long long)k,
                             len, len - u->s->off);
    }
    lua_pushnumber(L, SERIES_AT(u->s, (size_t)k - 1));
    return 1;
}

static int s_series_len(lua_State *L)
{
    struct lseries *u = luaL_checkudata(L, 1, SERIES_MT);
    lua_pushinteger(L, (lua_Integer)u->s->len);
    return 1;
}

/* The current (last) value of a series, or a plain number. */
static int s_last(lua_State *L, int idx, double *x)
{
    struct lseries *u = lt_toseries(L, idx);
    if (u) {
        *x = series_back(u->s, 1);
        return 1;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        *x = lua_tonumber(L, idx);
        return 1;
    }
    return 0;
}

/* Comparisons use current values, as backtesting.py's arrays do. */
static int s_series_lt(lua_State *L)
{
    double a, b;
    if (!s_last(L, 1, &a) || !s_last(L, 2, &b))
        return sandbox_error(L, "cannot compare a series with a %s",
                            luaL_typename(L, lt_toseries(L, 1) ? 2 : 1));
    lua_pushboolean(L, a < b);
    return 1;
}

static int s_series_le(lua_State *L)
{
    double a, b;
    if (!s_last(L, 1, &a) || !s_last(L, 2, &b))
        return sandbox_error(L, "cannot compare a series with a %s",
                            luaL_typename(L, lt_toseries(L, 1) ? 2 : 1));
    lua_pushboolean(L, a <= b);
    return 1;
}

static int s_series_tostring(lua_State *L)
{
    struct lseries *u = luaL_checkudata(L, 1, SERIES_MT);
    lua_pushfstring(L, "series(len=%I, last=%f)", (lua_Integer)u->s->len,
                    series_back(u->s, 1));
    return 1;
}

/* }========================================================== */

/* {==================== helpers (backtesting.lib) ============ */

/* A table whose elements are series is an indicator with several
 * outputs (self.macd): the helpers want one of them. */
static void s_not_multi(lua_State *L, int idx, const char *fname)
{
    int multi;
    lua_rawgeti(L, idx, 1);
    multi = lt_toseries(L, -1) != NULL;
    lua_pop(L, 1);
    if (multi)
        sandbox_error(L, "%s: got an indicator with several outputs; pass one "
                      "of them (self.macd.signal)", fname);
}

/* Last two values (a[-1], a[-2]) of a series, number or Lua array. */
static int s_last2(lua_State *L, int idx, double *x1, double *x2)
{
    struct lseries *u = lt_toseries(L, idx);
    if (u) {
        if (u->s->len < 2)
            return 0;
        *x1 = series_back(u->s, 1);
        *x2 = series_back(u->s, 2);
        return 1;
    }
    if (lua_type(L, idx) == LUA_TNUMBER) {
        *x1 = *x2 = lua_tonumber(L, idx);
        return 1;
    }
    if (lua_type(L, idx) == LUA_TTABLE) {
        lua_Integer n = luaL_len(L, idx);
        s_not_multi(L, idx, "crossover");
        if (n < 2)
            return 0;
        lua_geti(L, idx, n);
        lua_geti(L, idx, n - 1);
        *x1 = lua_isnumber(L, -2) ? lua_tonumber(L, -2) : NAN;
        *x2 = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN;
        lua_pop(L, 2);
        return 1;
    }
    return sandbox_error(L, "expected a series, a number or an array, got %s",
                        luaL_typename(L, idx));
}

/* crossover(a, b): a[-2] < b[-2] and a[-1] > b[-1]; NaN is no cross. */
static int s_crossover_at(lua_State *L, int ia, int ib)
{
    double a1, a2, b1, b2;
    if (!s_last2(L, ia, &a1, &a2) || !s_last2(L, ib, &b1, &b2))
        return 0;
    return a2 < b2 && a1 > b1;
}

static int s_crossover(lua_State *L)
{
    lua_pushboolean(L, s_crossover_at(L, 1, 2));
    return 1;
}

static int s_cross(lua_State *L)
{
    lua_pushboolean(L, s_crossover_at(L, 1, 2) || s_crossover_at(L, 2, 1));
    return 1;
}

/* A series or a Lua array as values: either u is set (a series) or the
 * array at idx is read element by element. */
struct vals {
    const struct series *u;
    int idx;
    size_t n;
};

static void s_vals(lua_State *L, int idx, const char *fname, struct vals *x)
{
    struct lseries *u = lt_toseries(L, idx);

    x->u = u ? u->s : NULL;
    x->idx = idx;
    x->n = 0;
    if (u) {
        x->n = series_held(u->s);       /* v[0 .. n-1]: what is held */
    } else if (lua_type(L, idx) == LUA_TTABLE) {
        x->n = (size_t)lua_rawlen(L, idx);
        s_not_multi(L, idx, fname);
    } else {
        sandbox_error(L, "%s: expected a series or an array, got %s", fname,
                      luaL_typename(L, idx));
    }
}

/* Element i (0-based) as a number: NaN unless a number (or, with
 * bools, true is 1 and false 0). */
static double s_val(lua_State *L, const struct vals *x, size_t i, int bools)
{
    double y = NAN;
    int t;

    if (x->u)
        return x->u->v[i];
    t = lua_rawgeti(L, x->idx, (lua_Integer)i + 1);
    if (t == LUA_TNUMBER)
        y = lua_tonumber(L, -1);
    else if (bools && t == LUA_TBOOLEAN)
        y = lua_toboolean(L, -1);
    lua_pop(L, 1);
    return y;
}

/* barssince(cond [, default]): bars since cond was last true, counting
 * from the end (0 if cond[-1] is true); default (math.huge if not given)
 * if it never was. cond is a series or an array; true is `true` or a
 * number other than 0 and NaN. */
static int s_barssince(lua_State *L)
{
    struct vals c;

    s_vals(L, 1, "barssince", &c);
    for (size_t k = 0; k < c.n; k++) {
        double y = s_val(L, &c, c.n - 1 - k, 1);
        if (y != 0 && !isnan(y)) {
            lua_pushinteger(L, (lua_Integer)k);
            return 1;
        }
    }
    if (lua_isnoneornil(L, 2))
        lua_pushnumber(L, HUGE_VAL);
    else
        lua_pushvalue(L, 2);
    return 1;
}

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* quantile(s [, q]): without q, the share of the earlier values s[:-1]
 * that are strictly below s[-1] (NaN with fewer than two values); with q
 * in [0, 1], the q-quantile of the values that are not NaN, linearly
 * interpolated, as numpy's nanpercentile(s, 100q). */
static int s_quantile(lua_State *L)
{
    struct vals x;
    double q, *v, pos, a, b, t;
    size_t m = 0, lo;

    s_vals(L, 1, "quantile", &x);
    if (lua_isnoneornil(L, 2)) {
        double last;
        size_t below = 0;
        if (x.n < 2) {
            lua_pushnumber(L, NAN);
            return 1;
        }
        last = s_val(L, &x, x.n - 1, 0);
        for (size_t i = 0; i + 1 < x.n; i++)
            below += s_val(L, &x, i, 0) < last;
        lua_pushnumber(L, (double)below / (double)(x.n - 1));
        return 1;
    }
    q = luaL_checknumber(L, 2);
    if (!(q >= 0 && q <= 1))
        return sandbox_error(L, "quantile: q must be between 0 and 1, "
                             "got %g", q);
    v = lua_newuserdatauv(L, (x.n ? x.n : 1) * sizeof *v, 0);
    for (size_t i = 0; i < x.n; i++) {
        double y = s_val(L, &x, i, 0);
        if (!isnan(y))
            v[m++] = y;
    }
    if (m == 0) {
        lua_pushnumber(L, NAN);
        return 1;
    }
    qsort(v, m, sizeof *v, s_cmp_double);
    pos = (double)(m - 1) * (q * 100.0 / 100.0);
    if (pos >= (double)(m - 1)) {
        lua_pushnumber(L, v[m - 1]);
        return 1;
    }
    lo = (size_t)floor(pos);
    t = pos - (double)lo;
    a = v[lo];
    b = v[lo + 1];
    /* numpy's _lerp: from the nearer end, so that t = 1 gives b. */
    lua_pushnumber(L, t >= 0.5 ? b - (b - a) * (1 - t) : a + (b - a) * t);
    return 1;
}

/* }========================================================== */

void lt_series_register(lua_State *L)
{
    static const luaL_Reg series_mt[] = {
        { "__index", s_series_index }, { "__len", s_series_len },
        { "__lt", s_series_lt }, { "__le", s_series_le },
        { "__tostring", s_series_tostring }, { NULL, NULL }
    };
    static const luaL_Reg globals[] = {
        { "crossover", s_crossover }, { "cross", s_cross },
        { "barssince", s_barssince }, { "quantile", s_quantile },
        { NULL, NULL }
    };

    luaL_newmetatable(L, SERIES_MT);
    luaL_setfuncs(L, series_mt, 0);
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    luaL_setfuncs(L, globals, 0);
    lua_pop(L, 1);
}
