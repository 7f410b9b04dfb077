/* lua_broker.c -- the account as a strategy sees it, in backtesting.py's
 * words: self:buy{...} / self:sell{...} (returning the order),
 * self.position, self.trades, self.closed_trades, self.orders and
 * self.equity. Every call is also recorded for the engine, which turns
 * it into a signal. Bar numbers (entry_bar, exit_bar) count from 0, as in
 * backtesting.py. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "lua_int.h"

#define ORDER_MT "livetrade.order"
#define TRADE_MT "livetrade.trade"
#define POSITION_MT "livetrade.position"
#define DEFAULT_SIZE 0.9999999999999998    /* 1 - 2^-52: all available */

/* A handle on an order or trade: live while the broker holds it, else the
 * last state it had. */
struct handle {
    int64_t id;
    union {
        struct order o;
        struct trade t;
    } snap;
};

static struct strat_call *s_new_call(lua_State *L, int act)
{
    struct strategy *s = lt_self(L);
    struct strat_call *c;

    if (!s->in_next) {
        sandbox_error(L, "orders can only be placed in next()");
        return NULL;
    }
    if (s->ncalls == STRAT_MAX_CALLS) {
        sandbox_error(L, "more than %d orders in one bar", STRAT_MAX_CALLS);
        return NULL;
    }
    c = &s->calls[s->ncalls++];
    memset(c, 0, sizeof *c);
    c->act = act;
    c->size = c->limit = c->stop = c->sl = c->tp = c->conf = NAN;
    c->pos = broker_position_size(s->broker);
    return c;
}

static double s_opt_number(lua_State *L, int t, const char *key,
                           const char *fname)
{
    double v = NAN;
    lua_getfield(L, t, key);
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER)
            sandbox_error(L, "%s: '%s' must be a number, got %s", fname, key,
                          luaL_typename(L, -1));
        v = lua_tonumber(L, -1);
        if (!isfinite(v))
            sandbox_error(L, "%s: '%s' must be finite", fname, key);
    }
    lua_pop(L, 1);
    return v;
}

static void s_check_keys(lua_State *L, int t, const char *fname,
                         const char *const *allowed)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        const char *const *a = allowed;
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING)
            for (; *a; a++)
                if (strcmp(*a, lua_tostring(L, -1)) == 0)
                    break;
        if (lua_type(L, -1) != LUA_TSTRING || !*a)
            sandbox_error(L, "%s: unknown argument '%s'", fname,
                          luaL_tolstring(L, -1, NULL));
    }
}

/* {==================== orders =============================== */

static void s_push_order(lua_State *L, const struct order *o)
{
    struct handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->id = o->id;
    h->snap.o = *o;
    luaL_setmetatable(L, ORDER_MT);
}

/* self:buy{size=, limit=, stop=, sl=, tp=, tag=, confidence=} */
static int s_order(lua_State *L, int act)
{
    static const char *const keys[] = { "size", "limit", "stop", "sl", "tp",
                                        "tag", "confidence", NULL };
    const char *fname = act == CALL_BUY ? "buy" : "sell";
    struct strategy *s = lt_self(L);
    struct strat_call *c;
    char err[ERR_LEN];
    double size;
    int64_t id;

    lt_check_self(L, NULL, act == CALL_BUY ? "self:buy{...}" :
                  "self:sell{...}");
    c = s_new_call(L, act);

    if (!lua_isnoneornil(L, 2)) {
        if (lua_type(L, 2) != LUA_TTABLE)
            return sandbox_error(L, "%s: expected a table of arguments, "
                                 "got %s", fname, luaL_typename(L, 2));
        s_check_keys(L, 2, fname, keys);
        c->size = s_opt_number(L, 2, "size", fname);
        c->limit = s_opt_number(L, 2, "limit", fname);
        c->stop = s_opt_number(L, 2, "stop", fname);
        c->sl = s_opt_number(L, 2, "sl", fname);
        c->tp = s_opt_number(L, 2, "tp", fname);
        c->conf = s_opt_number(L, 2, "confidence", fname);
        if (!isnan(c->size) && !((c->size > 0 && c->size < 1) ||
                                 (c->size >= 1 &&
                                  c->size == floor(c->size))))
            return sandbox_error(L, "%s: size must be a fraction in (0, 1) "
                                 "or a whole number of units, got %g",
                                 fname, c->size);
        if (!isnan(c->conf) && !(c->conf >= 0 && c->conf <= 1))
            return sandbox_error(L, "%s: confidence must be in [0, 1], got %g",
                                 fname, c->conf);
        lua_getfield(L, 2, "tag");
        if (!lua_isnil(L, -1))
            snprintf(c->tag, sizeof c->tag, "%s",
                     luaL_tolstring(L, -1, NULL));
    }
    size = isnan(c->size) ? DEFAULT_SIZE : c->size;
    id = broker_order(s->broker, act == CALL_BUY ? size : -size, c->limit,
                      c->stop, c->sl, c->tp, c->tag, err);
    if (id < 0)
        return sandbox_error(L, "%s: %s", fname, err);
    s_push_order(L, broker_order_by_id(s->broker, id));
    return 1;
}

int lt_buy(lua_State *L) { return s_order(L, CALL_BUY); }
int lt_sell(lua_State *L) { return s_order(L, CALL_SELL); }

static const struct order *s_order_of(lua_State *L, struct handle *h)
{
    const struct order *o = broker_order_by_id(lt_self(L)->broker, h->id);
    return o ? o : &h->snap.o;
}

static int s_order_cancel(lua_State *L)
{
    struct handle *h;

    lt_check_self(L, ORDER_MT, "order:cancel()");
    h = lua_touserdata(L, 1);
    broker_cancel(lt_self(L)->broker, h->id);
    return 0;
}

static void s_push_opt(lua_State *L, double v)
{
    if (isnan(v))
        lua_pushnil(L);
    else
        lua_pushnumber(L, v);
}

static int s_order_index(lua_State *L)
{
    struct handle *h = luaL_checkudata(L, 1, ORDER_MT);
    const struct order *o = s_order_of(L, h);
    const char *k = luaL_checkstring(L, 2);

    if (!strcmp(k, "size"))
        lua_pushnumber(L, o->size);
    else if (!strcmp(k, "limit"))
        s_push_opt(L, o->limit);
    else if (!strcmp(k, "stop"))
        s_push_opt(L, o->stop);
    else if (!strcmp(k, "sl"))
        s_push_opt(L, o->sl);
    else if (!strcmp(k, "tp"))
        s_push_opt(L, o->tp);
    else if (!strcmp(k, "tag"))
        o->tag[0] ? (void)lua_pushstring(L, o->tag) : lua_pushnil(L);
    else if (!strcmp(k, "is_long"))
        lua_pushboolean(L, o->size > 0);
    else if (!strcmp(k, "is_short"))
        lua_pushboolean(L, o->size < 0);
    else if (!strcmp(k, "is_contingent"))
        lua_pushboolean(L, o->contingent);
    else if (!strcmp(k, "cancel"))
        lua_pushcfunction(L, s_order_cancel);
    else
        lua_pushnil(L);
    return 1;
}

/* }========================================================== */

/* {==================== trades =============================== */

static void s_push_trade(lua_State *L, const struct trade *t)
{
    struct handle *h = lua_newuserdatauv(L, sizeof *h, 0);
    h->id = t->id;
    h->snap.t = *t;
    luaL_setmetatable(L, TRADE_MT);
}

static const struct trade *s_trade_of(lua_State *L, struct handle *h)
{
    const struct trade *t = broker_trade_by_id(lt_self(L)->broker, h->id);
    return t ? t : &h->snap.t;
}

static int s_trade_close(lua_State *L)
{
    struct handle *h;
    double portion;

    lt_check_self(L, TRADE_MT, "trade:close()");
    h = lua_touserdata(L, 1);
    portion = luaL_optnumber(L, 2, 1.0);
    if (!(portion > 0 && portion <= 1))
        return sandbox_error(L, "trade:close: portion must be in (0, 1], "
                             "got %g", portion);
    broker_close_trade(lt_self(L)->broker, h->id, portion);
    return 0;
}

static int s_trade_index(lua_State *L)
{
    struct handle *h = luaL_checkudata(L, 1, TRADE_MT);
    const struct trade *t = s_trade_of(L, h);
    broker_t *b = lt_self(L)->broker;
    const char *k = luaL_checkstring(L, 2);

    if (!strcmp(k, "size"))
        lua_pushnumber(L, t->size);
    else if (!strcmp(k, "entry_price"))
        lua_pushnumber(L, t->entry_price);
    else if (!strcmp(k, "exit_price"))
        s_push_opt(L, t->exit_price);
    else if (!strcmp(k, "entry_bar"))
        lua_pushinteger(L, t->entry_bar);
    else if (!strcmp(k, "exit_bar"))
        t->exit_bar < 0 ? lua_pushnil(L) : lua_pushinteger(L, t->exit_bar);
    else if (!strcmp(k, "entry_time"))
        lua_pushinteger(L, t->entry_time);
    else if (!strcmp(k, "exit_time"))
        t->exit_time < 0 ? lua_pushnil(L) : lua_pushinteger(L, t->exit_time);
    else if (!strcmp(k, "pl"))
        lua_pushnumber(L, broker_trade_pl(b, t));
    else if (!strcmp(k, "pl_pct"))
        lua_pushnumber(L, broker_trade_pl_pct(b, t));
    else if (!strcmp(k, "value"))
        lua_pushnumber(L, broker_trade_value(b, t));
    else if (!strcmp(k, "tag"))
        t->tag[0] ? (void)lua_pushstring(L, t->tag) : lua_pushnil(L);
    else if (!strcmp(k, "sl"))
        s_push_opt(L, t->sl);
    else if (!strcmp(k, "tp"))
        s_push_opt(L, t->tp);
    else if (!strcmp(k, "is_long"))
        lua_pushboolean(L, t->size > 0);
    else if (!strcmp(k, "is_short"))
        lua_pushboolean(L, t->size < 0);
    else if (!strcmp(k, "close"))
        lua_pushcfunction(L, s_trade_close);
    else
        lua_pushnil(L);
    return 1;
}

/* trade.sl = price / trade.tp = price (nil removes it) */
static int s_trade_newindex(lua_State *L)
{
    struct handle *h = luaL_checkudata(L, 1, TRADE_MT);
    const char *k = luaL_checkstring(L, 2);
    double price = NAN;
    char err[ERR_LEN];

    if (strcmp(k, "sl") && strcmp(k, "tp"))
        return sandbox_error(L, "trade.%s cannot be set (only sl and tp)", k);
    if (lua_isnumber(L, 3))
        price = lua_tonumber(L, 3);
    else if (!lua_isnil(L, 3))
        return sandbox_error(L, "trade.%s must be a price or nil, got %s", k,
                             luaL_typename(L, 3));
    if (broker_set_contingent(lt_self(L)->broker, h->id, k[0] == 's', price,
                              err))
        return sandbox_error(L, "trade.%s: %s", k, err);
    return 0;
}

/* }========================================================== */

/* {==================== position and the instance ============ */

static int s_position_close(lua_State *L)
{
    struct strategy *s = lt_self(L);
    struct strat_call *c;
    double portion = 1.0;

    lt_check_self(L, POSITION_MT, "self.position:close()");
    c = s_new_call(L, CALL_CLOSE);

    if (!lua_isnoneornil(L, 2)) {
        portion = luaL_checknumber(L, 2);
        if (!(portion > 0 && portion <= 1))
            return sandbox_error(L, "position:close: portion must be in "
                                 "(0, 1], got %g", portion);
    }
    c->size = portion;
    broker_close_position(s->broker, portion);
    return 0;
}

static int s_position_index(lua_State *L)
{
    broker_t *b = lt_self(L)->broker;
    const char *k = luaL_checkstring(L, 2);
    double size = broker_position_size(b);

    if (!strcmp(k, "size"))
        lua_pushnumber(L, size);
    else if (!strcmp(k, "pl"))
        lua_pushnumber(L, broker_position_pl(b));
    else if (!strcmp(k, "pl_pct"))
        lua_pushnumber(L, broker_position_pl_pct(b));
    else if (!strcmp(k, "is_long"))
        lua_pushboolean(L, size > 0);
    else if (!strcmp(k, "is_short"))
        lua_pushboolean(L, size < 0);
    else if (!strcmp(k, "close"))
        lua_pushcfunction(L, s_position_close);
    else
        lua_pushnil(L);
    return 1;
}

/* The instance's __index: account fields are computed when read; every
 * other key comes from the class (upvalue 1). */
static int s_instance_index(lua_State *L)
{
    broker_t *b = lt_self(L)->broker;
    const char *k = lua_tostring(L, 2);

    if (k && lua_type(L, 2) == LUA_TSTRING) {
        if (!strcmp(k, "equity")) {
            lua_pushnumber(L, broker_equity(b));
            return 1;
        }
        if (!strcmp(k, "trades") || !strcmp(k, "closed_trades")) {
            int closed = k[0] == 'c';
            size_t n = closed ? broker_nclosed(b) : broker_ntrades(b);
            lua_createtable(L, (int)n, 0);
            for (size_t i = 0; i < n; i++) {
                s_push_trade(L, closed ? broker_closed(b, i)
                                       : broker_trade(b, i));
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            }
            return 1;
        }
        if (!strcmp(k, "orders")) {
            size_t n = broker_norders(b);
            lua_createtable(L, (int)n, 0);
            for (size_t i = 0; i < n; i++) {
                s_push_order(L, broker_order_at(b, i));
                lua_rawseti(L, -2, (lua_Integer)i + 1);
            }
            return 1;
        }
    }
    lua_pushvalue(L, 2);
    lua_gettable(L, lua_upvalueindex(1));
    return 1;
}

void lt_broker_attach(lua_State *L, int cls, int self)
{
    lua_createtable(L, 0, 1);               /* the instance's metatable */
    lua_pushvalue(L, cls);
    lua_pushcclosure(L, s_instance_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushboolean(L, 0);                  /* hidden: the engine reads */
    lua_setfield(L, -2, "__metatable");     /* self outside of calls */
    lua_setmetatable(L, self);
    lua_newuserdatauv(L, 0, 0);             /* self.position */
    luaL_setmetatable(L, POSITION_MT);
    lua_setfield(L, self, "position");
}

void lt_broker_register(lua_State *L)
{
    static const luaL_Reg order_mt[] = {
        { "__index", s_order_index }, { NULL, NULL }
    };
    static const luaL_Reg trade_mt[] = {
        { "__index", s_trade_index }, { "__newindex", s_trade_newindex },
        { NULL, NULL }
    };
    static const luaL_Reg position_mt[] = {
        { "__index", s_position_index }, { NULL, NULL }
    };
    luaL_newmetatable(L, ORDER_MT);
    luaL_setfuncs(L, order_mt, 0);
    luaL_newmetatable(L, TRADE_MT);
    luaL_setfuncs(L, trade_mt, 0);
    luaL_newmetatable(L, POSITION_MT);
    luaL_setfuncs(L, position_mt, 0);
    lua_pop(L, 3);
}

/* }========================================================== */
