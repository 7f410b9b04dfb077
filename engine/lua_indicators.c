/* lua_indicators.c -- self:I() and the built-in indicators in Lua. The
 * built-ins (SMA, EMA, ...) are streaming C indicators (indicator.c)
 * inside self:I and give Lua arrays when called directly. And what the
 * engine asks of the indicators: warm-up, lookback, and their values,
 * one per output ("macd.signal"). A Lua function given to self:I is
 * lua_indicator_fn.c's, resample_apply lua_resample.c's; both use the
 * helpers here (struct lind, naming, results). */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "lua_int.h"

#define BUILTINS_KEY "livetrade.builtins"   /* registry: fn -> kind */
#define MULTI_MT "livetrade.multi"          /* several outputs */
#define DIRECT_MT "livetrade.direct"        /* direct call's scratch */

struct lind *lt_lind(const struct strategy *s, int k)
{
    return (struct lind *)s->ind[k];
}

/* {==================== arguments ============================ */


enum ind_kind lt_kind_of(lua_State *L, int idx)
{
    int kind = -1;
    if (lua_type(L, idx) != LUA_TFUNCTION)
        return (enum ind_kind)-1;
    lua_getfield(L, LUA_REGISTRYINDEX, BUILTINS_KEY);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TNUMBER)
        kind = (int)lua_tointeger(L, -1);
    lua_pop(L, 2);
    return (enum ind_kind)kind;
}

/* Parses args from stack index `first`. Sources must be series when
 * `in_I`; otherwise they may also be Lua arrays (src left NULL). */
void lt_parse_args(lua_State *L, int first, enum ind_kind kind, int in_I,
                   struct bargs *a)
{
    const struct ind_info *info = indicator_info(kind);
    int top = lua_gettop(L), arg = first;
    char why[160];

    memset(a, 0, sizeof *a);
    for (int j = 0; j < info->nin; j++, arg++) {
        struct lseries *u = lt_toseries(L, arg);
        if (u)
            a->src[j] = u->s;
        else if (in_I || lua_type(L, arg) != LUA_TTABLE ||
                 lua_getmetatable(L, arg))
            sandbox_error(L, "%s: %s must be a series (a data column like "
                          "self.data.%s or an indicator output)%s, got %s",
                          info->name,
                          info->nin > 1 ? info->in[j] : "the source",
                          info->in[j], in_I ? "" : " or an array",
                          luaL_typename(L, arg));
        a->src_arg[j] = arg;
    }
    for (int j = 0; j < IND_MAX_PARAM; j++)
        a->p[j] = NAN;
    for (int j = 0; j < info->nparam && arg <= top; j++, arg++) {
        int t = lua_type(L, arg);
        if (t == LUA_TTABLE && in_I && !lt_toseries(L, arg))
            break;
        if (t != LUA_TNUMBER && t != LUA_TNIL)
            sandbox_error(L, "%s: %s must be a number, got %s", info->name,
                          info->param[j], luaL_typename(L, arg));
        if (t == LUA_TNUMBER)
            a->p[j] = lua_tonumber(L, arg);
    }
    if (arg <= top && in_I && lua_type(L, arg) == LUA_TTABLE &&
        !lt_toseries(L, arg))
        a->opts = arg++;
    if (arg <= top)
        sandbox_error(L, "%s: too many arguments (expected %d series and at "
                      "most %d numbers%s)", info->name, info->nin,
                      info->nparam, in_I ? ", then {name = ...}" : "");
    if (indicator_check(kind, a->p, why, sizeof why))
        sandbox_error(L, "%s", why);
}

/* }========================================================== */

/* {==================== direct calls ========================= */

/* Scratch of a direct call, owned by a userdata so that an error (or a
 * memory error while building the result) frees it. */
struct direct {
    struct indicator ind;
    struct series tmp[IND_MAX_IN];  /* copies of Lua-array sources */
};

/* Frees the C memory; idempotent. Called as soon as the result is
 * built (the collector does not see the size of that memory), and by
 * __gc after an error. */
static void s_direct_release(struct direct *d)
{
    indicator_free(&d->ind);
    for (int j = 0; j < IND_MAX_IN; j++)
        series_free(&d->tmp[j]);
}

static int s_direct_gc(lua_State *L)
{
    s_direct_release(luaL_checkudata(L, 1, DIRECT_MT));
    return 0;
}

void lt_push_array(lua_State *L, const struct series *x, size_t from)
{
    if (from < x->off)
        from = x->off;
    lua_createtable(L, (int)(x->len - from), 0);
    for (size_t i = from; i < x->len; i++) {
        lua_pushnumber(L, SERIES_AT(x, i));
        lua_rawseti(L, -2, (lua_Integer)(i - from + 1));
    }
}

/* SMA(x, n), MACD(x), ATR(h, l, c, n) ... called directly: each output
 * as a Lua array over the whole input; several outputs are several
 * return values. */
static int s_direct(lua_State *L)
{
    enum ind_kind kind = (enum ind_kind)lua_tointeger(L, lua_upvalueindex(1));
    const struct ind_info *info = indicator_info(kind);
    struct bargs a;
    struct direct *d;

    lt_parse_args(L, 1, kind, 0, &a);
    d = lua_newuserdatauv(L, sizeof *d, 0);
    memset(d, 0, sizeof *d);
    for (int j = 0; j < IND_MAX_OUT; j++)
        series_init(&d->ind.out[j]);
    for (int j = 0; j < IND_MAX_IN; j++)
        series_init(&d->tmp[j]);
    luaL_setmetatable(L, DIRECT_MT);
    for (int j = 0; j < info->nin; j++) {
        if (a.src[j] && a.src[j]->off) {
            /* A bounded series: over the values it holds (the newest
             * values come out the same: the kinds stream). */
            for (size_t i = a.src[j]->off; i < a.src[j]->len; i++)
                if (series_push(&d->tmp[j], SERIES_AT(a.src[j], i)))
                    return luaL_error(L, "not enough memory");
            a.src[j] = &d->tmp[j];
        }
        if (a.src[j])
            continue;
        lua_Unsigned n = lua_rawlen(L, a.src_arg[j]);
        for (lua_Unsigned i = 1; i <= n; i++) {
            double x = NAN;
            if (lua_rawgeti(L, a.src_arg[j], (lua_Integer)i) == LUA_TNUMBER)
                x = lua_tonumber(L, -1);
            lua_pop(L, 1);
            if (series_push(&d->tmp[j], x))
                return luaL_error(L, "not enough memory");
        }
        a.src[j] = &d->tmp[j];
    }
    if (indicator_init_ex(&d->ind, kind, a.src, a.p, 0, NULL) ||
        indicator_update(&d->ind))
        return luaL_error(L, "not enough memory");
    luaL_checkstack(L, info->nout, "too many outputs");
    for (int j = 0; j < info->nout; j++)
        lt_push_array(L, &d->ind.out[j], 0);
    s_direct_release(d);
    return info->nout;
}

/* }========================================================== */

/* {==================== self:I ============================== */

static const char *s_col_abbrev(struct strategy *s, const struct series *x)
{
    static const char *const ab[] = { "O", "H", "L", "C", "V", "T" };
    const struct strat_data *d = s->data;
    const struct series *col[] = { &d->open, &d->high, &d->low, &d->close,
                                   &d->volume, &d->time };
    for (int i = 0; i < 6; i++)
        if (x == col[i])
            return ab[i];
    return NULL;
}

/* How a series argument reads in a default name: "C", "sma1", ... */
const char *lt_series_label(struct strategy *s, const struct lseries *u)
{
    const char *ab = s_col_abbrev(s, u->s);
    if (ab)
        return ab;
    if (u->ind >= 0 && u->ind < s->nind) {
        struct lind *li = lt_lind(s, u->ind);
        for (int j = 0; li->ind.nout > 1 && j < li->ind.nout; j++)
            if (u->s == &li->ind.out[j])
                return li->label[j];
        return s->ind_name[u->ind];
    }
    return "?";
}

/* Appends to a default name (IND_NAME bytes), cutting it if need be. */
void lt_name_add(char *name, const char *fmt, ...)
{
    size_t off = strlen(name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name + off, IND_NAME - off, fmt, ap);
    va_end(ap);
}

/* "macd.signal": attribute (or default) name and output name, cut to
 * IND_NAME - 1 characters. */
static void s_set_labels(struct strategy *s, int k)
{
    struct lind *li = lt_lind(s, k);
    char b[2 * IND_NAME + 1];
    for (int j = 0; j < li->ind.nout; j++) {
        snprintf(b, sizeof b, "%s.%s", s->ind_name[k], li->oname[j]);
        snprintf(li->label[j], IND_NAME, "%.*s", IND_NAME - 1, b);
    }
}

/* Reads {name = "x"} or {name = {"a", "b"}} from the options at `opts`
 * (0: none): the name into name[IND_NAME] (*fixed set to 1), output
 * names into onames. Returns the number of output names given. */
int lt_opt_names(lua_State *L, int opts, char *name,
                 char onames[][IND_NAME], int *fixed)
{
    int n = 0;

    *fixed = 0;
    if (!opts)
        return 0;
    lua_getfield(L, opts, "name");
    if (lua_type(L, -1) == LUA_TSTRING) {
        snprintf(name, IND_NAME, "%s", lua_tostring(L, -1));
        *fixed = 1;
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        n = (int)lua_rawlen(L, -1);
        if (n < 1 || n > IND_MAX_OUT)
            sandbox_error(L, "self:I: name = {...} takes 1 to %d output names",
                          IND_MAX_OUT);
        for (int j = 0; j < n; j++) {
            if (lua_rawgeti(L, -1, j + 1) != LUA_TSTRING)
                sandbox_error(L, "self:I: output names must be strings");
            snprintf(onames[j], IND_NAME, "%s", lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    } else if (!lua_isnil(L, -1)) {
        sandbox_error(L, "self:I: name must be a string or a list of strings");
    }
    lua_pop(L, 1);
    return n;
}

/* A new indicator, at once in s->ind so that it cannot leak: the caller
 * sets it up right after, before anything can raise. */
struct lind *lt_new_lind(lua_State *L, struct strategy *s)
{
    struct lind *li;
    if (s->nind == MAX_IND)
        sandbox_error(L, "self:I: at most %d indicators", MAX_IND);
    li = calloc(1, sizeof *li);
    if (!li)
        luaL_error(L, "not enough memory");
    s->ind[s->nind++] = &li->ind;
    return li;
}

/* Pushes what self:I returns for the newest indicator: a series, or for
 * several outputs a table of them (by number, from the end and by name)
 * whose metatable reports unknown output names. */
int lt_push_result(lua_State *L, struct strategy *s)
{
    int k = s->nind - 1;
    struct lind *li = lt_lind(s, k);
    int nout = li->ind.nout;

    snprintf(s->ind_name[k], sizeof s->ind_name[0], "%s", li->ind.name);
    s_set_labels(s, k);
    if (nout == 1) {
        lt_push_series(L, &li->ind.out[0], k);
        return 1;
    }
    lua_createtable(L, nout, nout * 2);
    for (int j = 0; j < nout; j++) {
        lt_push_series(L, &li->ind.out[j], k);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, j + 1);
        lua_pushvalue(L, -1);
        lua_rawseti(L, -3, j - nout);
        lua_setfield(L, -2, li->oname[j]);
    }
    luaL_setmetatable(L, MULTI_MT);
    return 1;
}

/* self:I(SMA, source, n [, {name = ...}]) and the other built-ins. */
static int s_I_builtin(lua_State *L, struct strategy *s, enum ind_kind kind)
{
    const struct ind_info *info = indicator_info(kind);
    struct bargs a;
    struct lind *li;
    char name[IND_NAME];
    char onames[IND_MAX_OUT][IND_NAME];
    int64_t w0 = 0, extra = 0;
    int nn, fixed;

    lt_parse_args(L, 3, kind, 1, &a);
    if (a.opts) {
        lua_pushnil(L);
        while (lua_next(L, a.opts)) {
            lua_pop(L, 1);
            if (lua_type(L, -1) != LUA_TSTRING ||
                strcmp(lua_tostring(L, -1), "name") != 0)
                sandbox_error(L, "self:I: %s takes only the option name "
                              "(window is for Lua functions), got '%s'",
                              info->name,
                              luaL_tolstring(L, -1, NULL));
        }
    }
    snprintf(name, sizeof name, "%s(", info->name);
    for (int j = 0; j < info->nin; j++) {
        struct lseries *u = lt_toseries(L, a.src_arg[j]);
        lt_name_add(name, "%s%s", j ? "," : "", lt_series_label(s, u));
        if (u->ind >= 0) {
            const struct indicator *si = s->ind[u->ind];
            if (si->warmup > w0)
                w0 = si->warmup;
            if (si->history - si->warmup - 1 > extra)
                extra = si->history - si->warmup - 1;
        }
    }
    for (int j = 0; j < info->nparam; j++)
        lt_name_add(name, ",%g", isnan(a.p[j]) ? info->def[j] : a.p[j]);
    lt_name_add(name, ")");

    nn = lt_opt_names(L, a.opts, name, onames, &fixed);
    if (nn && nn != info->nout)
        return sandbox_error(L, "self:I: %s has %d outputs, %d names given",
                             info->name, info->nout, nn);
    li = lt_new_lind(L, s);
    for (int j = 0; j < info->nout; j++)
        snprintf(li->oname[j], IND_NAME, "%.*s", IND_NAME - 1,
                 nn ? onames[j] : info->out[j]);
    if (indicator_init_ex(&li->ind, kind, a.src, a.p, w0, name)) {
        s->nind--;                      /* nothing refers to it yet */
        indicator_free(&li->ind);
        free(li);
        return luaL_error(L, "not enough memory");
    }
    li->ind.history += extra;
    li->fixed = fixed;
    return lt_push_result(L, s);
}
int lt_I(lua_State *L)
{
    struct strategy *s = lt_self(L);
    enum ind_kind kind;

    lt_check_self(L, NULL, "self:I(...)");
    if (s->data->close.len > 0)
        return sandbox_error(L, "self:I must be called in init()");
    kind = lt_kind_of(L, 2);
    if ((int)kind >= 0)
        return s_I_builtin(L, s, kind);
    if (lua_type(L, 2) == LUA_TFUNCTION)
        return lt_I_function(L, s);
    return sandbox_error(L, "self:I: expected an indicator (SMA, EMA, ...) "
                         "or a Lua function, got %s", luaL_typename(L, 2));
}

/* }========================================================== */

/* {==================== multi-output objects ================= */

/* self.macd.sigma: an output that does not exist is an error, so that a
 * typo does not read as nil further on. */
static int s_multi_index(lua_State *L)
{
    struct strategy *s = lt_self(L);
    struct lseries *u;
    struct lind *li;
    char outs[IND_MAX_OUT * IND_NAME];
    size_t off = 0;

    lua_rawgeti(L, 1, 1);
    u = lt_toseries(L, -1);
    if (!u || u->ind < 0 || u->ind >= s->nind)
        return 0;
    li = lt_lind(s, u->ind);
    if (lua_isinteger(L, 2) && lua_tointeger(L, 2) == 0)
        return sandbox_error(L, "%s[0]: Lua counts from 1: [1] is the first "
                             "output (%s), [-1] the last", s->ind_name[u->ind],
                             li->oname[0]);
    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;                       /* numbers out of range: nil */
    outs[0] = '\0';
    for (int j = 0; j < li->ind.nout && off < sizeof outs; j++)
        off += (size_t)snprintf(outs + off, sizeof outs - off, "%s%s",
                                j ? ", " : "", li->oname[j]);
    return sandbox_error(L, "%s has no output '%s' (its outputs: %s)",
                         s->ind_name[u->ind], lua_tostring(L, 2), outs);
}

static int s_multi_tostring(lua_State *L)
{
    struct lseries *u;
    lua_rawgeti(L, 1, 1);
    u = lt_toseries(L, -1);
    lua_pushfstring(L, "indicator(%s, %d outputs)", u && u->ind >= 0 ?
                    lt_self(L)->ind_name[u->ind] : "?", (int)lua_rawlen(L, 1));
    return 1;
}

/* }========================================================== */

void lt_indicators_register(lua_State *L)
{
    static const luaL_Reg multi_mt[] = {
        { "__index", s_multi_index }, { "__tostring", s_multi_tostring },
        { NULL, NULL }
    };

    luaL_newmetatable(L, MULTI_MT);
    luaL_setfuncs(L, multi_mt, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, DIRECT_MT);
    lua_pushcfunction(L, s_direct_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_newtable(L);                    /* fn -> kind */
    for (int k = 0; k < IND_EXTERNAL; k++) {
        lua_pushinteger(L, k);
        lua_pushcclosure(L, s_direct, 1);
        lua_pushvalue(L, -1);
        lua_setglobal(L, indicator_kinds[k].name);
        lua_pushinteger(L, k);
        lua_rawset(L, -3);
    }
    lua_getglobal(L, "BBANDS");
    lua_setglobal(L, "BOLLINGER");      /* the same function */
    lua_pushcfunction(L, lt_resample_apply);
    lua_setglobal(L, "resample_apply");
    lua_setfield(L, LUA_REGISTRYINDEX, BUILTINS_KEY);
}

/* Names indicators after the attributes that hold them (self.sma1; for
 * several outputs self.macd gives "macd.macd", "macd.signal", ...),
 * unless self:I was given {name = "..."}. When two attributes hold the
 * same indicator the smaller name wins, so the choice does not depend on
 * the order of a Lua table. */
void lt_indicators_name(struct strategy *s, int self)
{
    lua_State *L = s->sb.L;
    char named[MAX_IND] = { 0 };

    lua_pushnil(L);
    while (lua_next(L, self)) {
        struct lseries *u = NULL;
        if (lua_type(L, -1) == LUA_TTABLE && lua_getmetatable(L, -1)) {
            luaL_getmetatable(L, MULTI_MT);
            if (lua_rawequal(L, -1, -2)) {
                lua_rawgeti(L, -3, 1);
                u = lt_toseries(L, -1);
                lua_pop(L, 1);
            }
            lua_pop(L, 2);
        } else {
            u = lt_toseries(L, -1);
            if (u && u->ind >= 0 && s->ind[u->ind]->nout > 1)
                u = NULL;               /* one output of several */
        }
        if (u && u->ind >= 0 && u->ind < s->nind &&
            !lt_lind(s, u->ind)->fixed && lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            if (!named[u->ind] || strcmp(k, s->ind_name[u->ind]) < 0)
                snprintf(s->ind_name[u->ind], sizeof s->ind_name[0], "%s", k);
            named[u->ind] = 1;
        }
        lua_pop(L, 1);
    }
    for (int k = 0; k < s->nind; k++)
        s_set_labels(s, k);
}

int lt_indicators_step(struct strategy *s, char *err)
{
    int64_t i = (int64_t)s->data->close.len - 1;

    for (int k = 0; k < s->nind; k++) {
        struct indicator *ind = s->ind[k];
        int rc;
        if (lt_lind(s, k)->rs)
            rc = lt_resample_step(s, k, err);
        else if (ind->kind == IND_EXTERNAL)
            rc = lt_fn_step(s, k, err);
        else if ((rc = indicator_update(ind)) != ERR_OK)
            snprintf(err, ERR_LEN, "out of memory updating indicators");
        if (rc)
            return rc;
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
    for (int k = 0; k < s->nind; k++) {
        lt_resample_free(lt_lind(s, k));
        indicator_free(s->ind[k]);
        free(lt_lind(s, k));
    }
    s->nind = 0;
}

int64_t strategy_lookback(const strategy_t *s)
{
    int64_t lb = 2;
    for (int k = 0; k < s->nind; k++)
        if (s->ind[k]->history + 1 > lb)
            lb = s->ind[k]->history + 1;
    if (s->max_int_param >= lb)
        lb = s->max_int_param < STRAT_LOOKBACK_MAX ? s->max_int_param + 1
                                                   : STRAT_LOOKBACK_MAX;
    return lb < STRAT_LOOKBACK_MAX ? lb : STRAT_LOOKBACK_MAX;
}

/* Flat index i (one per output) to indicator k and output j. */
static int s_flat(const strategy_t *s, int i, int *k, int *j)
{
    for (int a = 0; a < s->nind && i >= 0; a++) {
        if (i < s->ind[a]->nout) {
            *k = a;
            *j = i;
            return 1;
        }
        i -= s->ind[a]->nout;
    }
    return 0;
}

int strategy_nind(const strategy_t *s)
{
    int n = 0;
    for (int k = 0; k < s->nind; k++)
        n += s->ind[k]->nout;
    return n;
}

const char *strategy_ind_name(const strategy_t *s, int i)
{
    int k, j;
    if (!s_flat(s, i, &k, &j))
        return NULL;
    return s->ind[k]->nout == 1 ? s->ind_name[k] : lt_lind(s, k)->label[j];
}

double strategy_ind_value(const strategy_t *s, int i, size_t back)
{
    int k, j;
    if (!s_flat(s, i, &k, &j))
        return NAN;
    return series_back(&s->ind[k]->out[j], back);
}

double strategy_ind_at(const strategy_t *s, int i, size_t bar)
{
    int k, j;
    if (!s_flat(s, i, &k, &j))
        return NAN;
    return series_get(&s->ind[k]->out[j], bar);
}
