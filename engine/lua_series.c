/* lua_series.c -- series as Lua sees them (self.data.Close, indicator
 * outputs): indexing from the end with negative numbers, #, comparisons
 * of current values; and the backtesting.lib helpers over them. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>

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

static int s_series_index(lua_State *L)
{
    struct lseries *u = luaL_checkudata(L, 1, SERIES_MT);
    int isint;
    lua_Integer k = lua_tointegerx(L, 2, &isint);
    size_t len = u->s->len;

    if (!isint) {
        lua_pushnil(L);
        return 1;
    }
    if (k < 0 && (lua_Unsigned)(-k) <= len)
        lua_pushnumber(L, u->s->v[len + k]);
    else if (k > 0 && (lua_Unsigned)k <= len)
        lua_pushnumber(L, u->s->v[k - 1]);
    else
        lua_pushnil(L);
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
        return lt_error(L, "cannot compare a series with a %s",
                       luaL_typename(L, lt_toseries(L, 1) ? 2 : 1));
    lua_pushboolean(L, a < b);
    return 1;
}

static int s_series_le(lua_State *L)
{
    double a, b;
    if (!s_last(L, 1, &a) || !s_last(L, 2, &b))
        return lt_error(L, "cannot compare a series with a %s",
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
        if (n < 2)
            return 0;
        lua_geti(L, idx, n);
        lua_geti(L, idx, n - 1);
        *x1 = lua_isnumber(L, -2) ? lua_tonumber(L, -2) : NAN;
        *x2 = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : NAN;
        lua_pop(L, 2);
        return 1;
    }
    return lt_error(L, "expected a series, a number or an array, got %s",
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

/* }========================================================== */

void lt_series_register(lua_State *L)
{
    static const luaL_Reg series_mt[] = {
        { "__index", s_series_index }, { "__len", s_series_len },
        { "__lt", s_series_lt }, { "__le", s_series_le },
        { "__tostring", s_series_tostring }, { NULL, NULL }
    };
    static const luaL_Reg globals[] = {
        { "crossover", s_crossover }, { "cross", s_cross }, { NULL, NULL }
    };

    luaL_newmetatable(L, SERIES_MT);
    luaL_setfuncs(L, series_mt, 0);
    lua_pop(L, 1);
    lua_pushglobaltable(L);
    luaL_setfuncs(L, globals, 0);
    lua_pop(L, 1);
}
