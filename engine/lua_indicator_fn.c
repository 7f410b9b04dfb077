/* lua_indicator_fn.c -- a Lua function as an indicator: self:I(fn, ...)
 * declares it in init(), and on every bar the function is called over
 * the series so far (or a window of it) and its results are the
 * indicator's values. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "lua_int.h"

#define FUNC_HISTORY 200    /* lookback of a Lua-function indicator
                               without a window or whole-number argument */

/* {==================== self:I(fn, ...) ===================== */

/* Is the value at idx an options table for a Lua-function indicator: a
 * plain table whose keys are all "name" or "window"? */
static int s_is_fn_opts(lua_State *L, int idx)
{
    int keys = 0;

    if (lua_type(L, idx) != LUA_TTABLE || lua_rawlen(L, idx) > 0)
        return 0;
    if (lua_getmetatable(L, idx)) {
        lua_pop(L, 1);
        return 0;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k;
        lua_pop(L, 1);
        k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        if (strcmp(k, "name") != 0 && strcmp(k, "window") != 0) {
            lua_pop(L, 1);
            return 0;
        }
        keys++;
    }
    return keys > 0;
}

/* self:I(fn, args... [, {name = ..., window = N}]) with a Lua function. */
int lt_I_function(lua_State *L, struct strategy *s)
{
    int top = lua_gettop(L), opts = 0, nargs, nout = 1, nn, fixed;
    int fn_ref, args_ref;
    lua_Integer window = 0, maxint = 0;
    char name[IND_NAME], onames[IND_MAX_OUT][IND_NAME];
    struct lind *li;
    int64_t hist, srchist = 0;

    if (top > 2 && s_is_fn_opts(L, top))
        opts = top--;
    nargs = top - 2;
    if (opts) {
        int isint;
        lua_getfield(L, opts, "window");
        if (!lua_isnil(L, -1)) {
            window = lua_tointegerx(L, -1, &isint);
            if (!isint || window < 1 || window > IND_MAX_WINDOW)
                return sandbox_error(L, "self:I: window must be a whole "
                                     "number from 1 to %d", IND_MAX_WINDOW);
        }
        lua_pop(L, 1);
    }
    snprintf(name, sizeof name, "fn(");
    for (int i = 3; i <= top; i++) {
        struct lseries *u = lt_toseries(L, i);
        const char *sep = i > 3 ? "," : "";
        if (lua_isinteger(L, i) && lua_tointeger(L, i) > maxint)
            maxint = lua_tointeger(L, i);
        if (u && u->ind >= 0 && s->ind[u->ind]->history > srchist)
            srchist = s->ind[u->ind]->history;
        if (u)
            lt_name_add(name, "%s%s", sep, lt_series_label(s, u));
        else if (lua_type(L, i) == LUA_TNUMBER)
            lt_name_add(name, "%s%g", sep, lua_tonumber(L, i));
        else
            lt_name_add(name, "%s%s", sep, luaL_typename(L, i));
    }
    lt_name_add(name, ")");

    nn = lt_opt_names(L, opts, name, onames, &fixed);
    if (nn)
        nout = nn;
    if (window)
        hist = window;
    else
        hist = maxint > FUNC_HISTORY ? maxint : FUNC_HISTORY;
    hist += srchist;                    /* over an indicator: its history */
    /* Everything that can raise comes before lt_new_lind (a reference
     * left behind by an error is harmless: the state goes with it). */
    lua_pushvalue(L, 2);
    fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_createtable(L, nargs, 0);
    for (int i = 0; i < nargs; i++) {
        lua_pushvalue(L, 3 + i);
        lua_rawseti(L, -2, i + 1);
    }
    args_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    luaL_where(L, 1);
    li = lt_new_lind(L, s);
    indicator_init_external(&li->ind, nout, hist - 1, hist, name);
    for (int j = 0; j < nout; j++)
        snprintf(li->oname[j], IND_NAME, "%.*s", IND_NAME - 1,
                 nn ? onames[j] : "value");
    snprintf(li->where, sizeof li->where, "%s", lua_tostring(L, -1));
    li->fn_ref = fn_ref;
    li->args_ref = args_ref;
    li->window = (int)window;
    li->fixed = fixed;
    li->nargs = nargs;
    lua_settop(L, top);
    return lt_push_result(L, s);
}

/* }========================================================== */

/* {==================== Lua-function indicators, per bar ===== */

/* The value an output takes from one result of the function: an array
 * gives its last element, a number itself, a boolean 1 or 0, nil NaN. */
static double s_result_value(lua_State *L, int idx, struct lind *li,
                             const char *name)
{
    struct lseries *u = lt_toseries(L, idx);
    int t = lua_type(L, idx);
    double y = NAN;

    if (u)
        return series_back(u->s, 1);
    if (t == LUA_TTABLE) {
        lua_Unsigned n = lua_rawlen(L, idx);
        if (n == 0)
            return NAN;
        t = lua_rawgeti(L, idx, (lua_Integer)n);
        idx = lua_gettop(L);
    }
    if (t == LUA_TNUMBER)
        y = lua_tonumber(L, idx);
    else if (t == LUA_TBOOLEAN)
        y = lua_toboolean(L, idx);
    else if (t != LUA_TNIL)
        luaL_error(L, "%s indicator '%s' gave a %s, expected an array or a "
                   "number", li->where, name, luaL_typename(L, idx));
    return y;
}

/* Protected: calls the function of the indicator (lightuserdata at 1,
 * its name at 2) over the series so far and appends its values. */
static int s_eval(lua_State *L)
{
    struct lind *li = lua_touserdata(L, 1);
    const char *name = lua_tostring(L, 2);
    int base, nres, nout = li->ind.nout;
    double y[IND_MAX_OUT];

    luaL_checkstack(L, li->nargs + 8, "too many arguments");
    lua_rawgeti(L, LUA_REGISTRYINDEX, li->args_ref);
    base = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, li->fn_ref);
    for (int a = 1; a <= li->nargs; a++) {
        struct lseries *u;
        lua_rawgeti(L, base, a);
        u = lt_toseries(L, -1);
        if (u) {
            size_t len = u->s->len, w = (size_t)li->window;
            lua_pop(L, 1);
            lt_push_array(L, u->s, w && len > w ? len - w : 0);
        }
    }
    lua_call(L, li->nargs, LUA_MULTRET);
    nres = lua_gettop(L) - base;
    if (nres == 1 && lua_type(L, base + 1) == LUA_TTABLE &&
        lua_rawgeti(L, base + 1, 1) == LUA_TTABLE) {
        /* A table of arrays: one output each. */
        nres = (int)lua_rawlen(L, base + 1);
        lua_settop(L, base + 1);
        luaL_checkstack(L, nres, "too many outputs");
        for (int j = 1; j <= nres; j++)
            lua_rawgeti(L, base + 1, j);
        lua_remove(L, base + 1);
    }
    if (nres != nout)
        return luaL_error(L, "%s indicator '%s' gave %d outputs, declared "
                          "%d (name = {...} declares several)", li->where,
                          name, nres, nout);
    for (int j = 0; j < nout; j++)
        y[j] = s_result_value(L, base + 1 + j, li, name);
    if (indicator_push(&li->ind, y))
        return luaL_error(L, "not enough memory");
    return 0;
}

int lt_fn_step(struct strategy *s, int k, char *err)
{
    lua_State *L = s->sb.L;
    int rc;

    lua_pushcfunction(L, s_eval);
    lua_pushlightuserdata(L, lt_lind(s, k));
    lua_pushstring(L, s->ind_name[k]);
    rc = sandbox_pcall(L, 2, 0, err);
    if (rc)
        sandbox_hint(err, ERR_LEN);
    return rc;
}

/* }========================================================== */
