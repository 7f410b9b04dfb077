/* lua_int.h -- what the engine's Lua modules share: lua_strategy.c (the
 * Strategy class and the calls into it; its state runs in the sandbox of
 * lua/sandbox.h), lua_series.c (series userdata and the backtesting.lib
 * helpers), lua_broker.c (orders and the account), lua_indicators.c
 * (self:I and the built-in indicators), lua_indicator_fn.c (Lua functions
 * as indicators) and lua_resample.c (resample_apply). Nothing outside
 * these files includes it. */
#ifndef LT_LUA_INT_H
#define LT_LUA_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "broker.h"
#include "indicator.h"
#include "sandbox.h"
#include "strategy.h"
#include "util.h"

#define MAX_IND 64
#define SERIES_MT "livetrade.series"

struct strategy {
    struct sandbox sb;              /* first member: sandbox_self(L) is the
                                       strategy; its state, name, symbol
                                       and limits */
    char path[512];
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
    int64_t max_int_param;          /* largest whole-number parameter */
    broker_t *broker;               /* the strategy's account */
    int stopped;                    /* out of money: no more next() */
};

/* A series as Lua sees it: a data column or an indicator output. */
struct lseries {
    const struct series *s;
    int ind;                        /* indicator index, -1 for data */
};

/* lua_strategy.c */
/* The strategy that owns a Lua state. */
struct strategy *lt_self(lua_State *L);
/* A method's check of its first argument: unless it is what a colon call
 * passes -- the strategy instance (mt NULL) or a userdata of metatable
 * mt -- raises one error naming the call as written with a dot and with
 * the colon `call` ("self:buy{...}"). A dot call such as self.buy{...}
 * passes its arguments one place early, so it can never run as meant. */
void lt_check_self(lua_State *L, const char *mt, const char *call);

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
/* An indicator as the strategy holds it; s->ind[k] points at .ind. */
struct lind {
    struct indicator ind;           /* first member */
    char oname[IND_MAX_OUT][IND_NAME];  /* output names */
    char label[IND_MAX_OUT][IND_NAME];  /* "macd.signal" (several) */
    int fn_ref, args_ref;           /* Lua function: registry refs */
    int nargs;                      /* its arguments */
    int window;                     /* values passed per series; 0: all */
    int fixed;                      /* named by {name = "..."} */
    char where[96];                 /* "file:line:" of the self:I call */
    struct resample *rs;            /* resample_apply: the bins */
    const struct series *rs_src;    /* resample_apply: the column */
};

/* A built-in's arguments: sources, then numbers (nil: default), then,
 * in self:I only, an options table. */
struct bargs {
    const struct series *src[IND_MAX_IN];
    int src_arg[IND_MAX_IN];        /* stack index of each source */
    double p[IND_MAX_PARAM];
    int opts;                       /* stack index of options, 0 */
};

void lt_indicators_register(lua_State *L);  /* SMA, EMA, ... globals */
int lt_I(lua_State *L);                     /* self:I(fn, ...) */
/* After init(): names indicators after the attributes of the instance at
 * stack index `self` that hold them (self.sma1). */
void lt_indicators_name(struct strategy *s, int self);
/* Per bar: updates every indicator; 1 if next() is due on this bar, 0 if
 * still warming up, ERR_NOMEM with err set. */
int lt_indicators_step(struct strategy *s, char *err);
void lt_indicators_free(struct strategy *s);
struct lind *lt_lind(const struct strategy *s, int k);  /* s->ind[k] */
/* The built-in the function at idx is, or -1 if it is none. */
enum ind_kind lt_kind_of(lua_State *L, int idx);
/* Parses a built-in's arguments from stack index `first`; raises one
 * error naming what is wrong. Sources must be series when `in_I`;
 * otherwise they may also be Lua arrays (src left NULL). */
void lt_parse_args(lua_State *L, int first, enum ind_kind kind, int in_I,
                   struct bargs *a);
/* Pushes the values of x from number `from` (or the oldest held) on as a
 * Lua array. */
void lt_push_array(lua_State *L, const struct series *x, size_t from);
/* How a series argument reads in a default name: "C", "sma1", ... */
const char *lt_series_label(struct strategy *s, const struct lseries *u);
/* Appends to a default name (IND_NAME bytes), cutting it if need be. */
void lt_name_add(char *name, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Reads {name = "x"} or {name = {"a", "b"}} from the options at `opts`
 * (0: none): the name into name[IND_NAME] (*fixed set to 1), output
 * names into onames. Returns the number of output names given. */
int lt_opt_names(lua_State *L, int opts, char *name,
                 char onames[][IND_NAME], int *fixed);
/* A new indicator, at once in s->ind so that it cannot leak: the caller
 * sets it up right after, before anything can raise. */
struct lind *lt_new_lind(lua_State *L, struct strategy *s);
/* Pushes what self:I returns for the newest indicator (a series, or a
 * table of them for several outputs) and names it; returns 1. */
int lt_push_result(lua_State *L, struct strategy *s);

/* lua_indicator_fn.c */
/* self:I(fn, args... [, {name = ..., window = N}]) with a Lua function. */
int lt_I_function(lua_State *L, struct strategy *s);
/* Runs the function of indicator k on the newest bar. 0 or ERR_LUA with
 * the message ("file:line: ...") in err. */
int lt_fn_step(struct strategy *s, int k, char *err);

/* lua_resample.c */
int lt_resample_apply(lua_State *L);        /* resample_apply(...) */
/* One bar of the resample_apply indicator k; ERR_NOMEM with err set. */
int lt_resample_step(struct strategy *s, int k, char *err);
/* Frees the bins of li, if it is a resample_apply indicator. */
void lt_resample_free(struct lind *li);

#endif
