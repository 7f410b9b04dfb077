/* lua_int.h -- what the engine's Lua modules share: lua_strategy.c (the
 * sandbox, the Strategy class, orders), lua_series.c (series userdata and
 * the backtesting.lib helpers) and lua_indicators.c (self:I and the
 * indicator library). Nothing outside these files includes it. */
#ifndef LT_LUA_INT_H
#define LT_LUA_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "broker.h"
#include "indicator.h"
#include "strategy.h"
#include "util.h"

#define MAX_IND 64
#define SERIES_MT "livetrade.series"

struct strategy {
    lua_State *L;
    char path[512];
    char sym[SYM_MAX];
    char name[64];
    char params[512];               /* canonical "k=v,..." */
    struct strat_data *data;        /* owned by the caller */
    struct indicator *ind[MAX_IND]; /* declaration order */
    char ind_name[MAX_IND][48];     /* attribute name or default name */
    int nind;
    int64_t start;                  /* first bar index for next(); -1 */
    int ref_self, ref_next;         /* registry refs */
    struct strat_call calls[STRAT_MAX_CALLS];
    int ncalls;
    int in_next;                    /* calls are only recorded in next() */
    size_t mem_used, mem_cap;       /* allocator accounting */
    long long budget, ticks;        /* instruction budget per call */
    int64_t time_ms;                /* wall-clock limit per call */
    int64_t deadline;               /* mono_ms() the call must end by */
    struct strategy *wd_next;       /* in the watchdog's list of calls */
    int wd_poked;                   /* the watchdog set a hook of 1 */
    int64_t max_int_param;          /* largest whole-number parameter */
    broker_t *broker;               /* the strategy's account */
    int stopped;                    /* out of money: no more next() */
};

/* A series as Lua sees it: a data column or an indicator output. */
struct lseries {
    const struct series *s;
    int ind;                        /* indicator index, -1 for data */
};

/* The strategy that owns a Lua state. */
struct strategy *lt_self(lua_State *L);
/* Raises an error located at the Lua line that called the C function. */
int lt_error(lua_State *L, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A method's check of its first argument: unless it is what a colon call
 * passes -- the strategy instance (mt NULL) or a userdata of metatable
 * mt -- raises one error naming the call as written with a dot and with
 * the colon `call` ("self:buy{...}"). A dot call such as self.buy{...}
 * passes its arguments one place early, so it can never run as meant. */
void lt_check_self(lua_State *L, const char *mt, const char *call);
/* Appends to an error message a hint for what a Python habit caused
 * (len(x), range, a method defined with a dot...), if one applies; the
 * message stays one line. */
void lt_hint(char *msg, size_t size);

/* Raises the call's time-limit error once its deadline has passed (the
 * count hook and the capped library functions call it). */
void lt_check_time(lua_State *L);

/* Starts the time limit of a call into Lua and the watchdog's watch of
 * it: once the deadline has passed, a watchdog thread sets the count
 * hook to every instruction (lua_sethook may be called from another
 * thread), so the call ends at its next instruction even when the hook
 * of every HOOK_EVERY instructions is far off. Returns 1, or 0 when a
 * call is running already (its limit holds); pass that to lt_call_end. */
int lt_call_begin(struct strategy *s);
void lt_call_end(struct strategy *s, int began);

/* lua_sandbox.c */
/* Wraps the library functions that loop in C (string.rep, the pattern
 * functions, table.move/concat/insert/remove/sort) and setmetatable
 * (no __gc) with caps; after the libraries are open. */
void lt_sandbox_caps(lua_State *L);
/* A bound on the steps of matching a pattern of pl bytes against a
 * subject of n bytes, over every start position. */
double lt_pattern_cost(const char *p, size_t pl, size_t n);

/* lua_series.c */
void lt_push_series(lua_State *L, const struct series *ser, int ind);
struct lseries *lt_toseries(lua_State *L, int idx);   /* NULL if not one */
void lt_series_register(lua_State *L);      /* metatable, helpers */

/* lua_broker.c: orders, self.position, self.trades, self.orders,
 * self.closed_trades, self.equity */
void lt_broker_register(lua_State *L);
/* Gives the instance at stack index `self` (class at `cls`) its position
 * and the live account fields. */
void lt_broker_attach(lua_State *L, int cls, int self);
int lt_buy(lua_State *L);
int lt_sell(lua_State *L);

/* lua_indicators.c */
void lt_indicators_register(lua_State *L);  /* SMA, EMA, ... globals */
int lt_I(lua_State *L);                     /* self:I(fn, ...) */
/* After init(): names indicators after the attributes of the instance at
 * stack index `self` that hold them (self.sma1). */
void lt_indicators_name(struct strategy *s, int self);
/* Per bar: updates every indicator; 1 if next() is due on this bar, 0 if
 * still warming up, ERR_NOMEM with err set. */
int lt_indicators_step(struct strategy *s, char *err);
void lt_indicators_free(struct strategy *s);

#endif
