/* lua_strategy.c -- a strategy's Lua state: the sandbox, the Strategy{}
 * class and its parameters, self.data, orders, and the calls into init()
 * and next(). Series live in lua_series.c, indicators in
 * lua_indicators.c. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "indicator.h"
#include "log.h"
#include "lua_int.h"

#define HOOK_EVERY 1000             /* instructions between budget checks */

/* {==================== sandbox ============================== */

/* Memory every strategy of this process has allocated, against a cap for
 * the whole engine (strategy_set_memory_cap) as well as each instance's. */
static size_t s_mem_total;
static size_t s_mem_total_cap = STRAT_MEM_TOTAL_DEFAULT;

static void *s_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct strategy *s = ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        s->mem_used -= osize;
        s_mem_total -= osize;
        return NULL;
    }
    if (nsize > osize && (s->mem_used + (nsize - osize) > s->mem_cap ||
                          s_mem_total + (nsize - osize) > s_mem_total_cap))
        return NULL;                /* Lua raises "not enough memory" */
    ptr = realloc(ptr, nsize);
    if (ptr) {
        s->mem_used = s->mem_used - osize + nsize;
        s_mem_total = s_mem_total - osize + nsize;
    }
    return ptr;
}

/* Each new instance's own cap (strategy_set_memory_share). */
static size_t s_mem_inst_cap = STRAT_MEM_DEFAULT;

void strategy_set_memory_cap(size_t total)
{
    s_mem_total_cap = total ? total : STRAT_MEM_TOTAL_DEFAULT;
}

int strategy_set_memory_share(int instances, char *err)
{
    size_t share = s_mem_total_cap / (size_t)(instances > 0 ? instances : 1);

    if (share < STRAT_MEM_MIN) {
        snprintf(err, ERR_LEN, "--memory-mb %zu gives each of the %d "
                 "symbols %zu KiB of Lua memory; a strategy needs at least "
                 "%u MiB: raise --memory-mb or run fewer symbols per "
                 "engine", s_mem_total_cap >> 20, instances, share >> 10,
                 STRAT_MEM_MIN >> 20);
        return ERR_USAGE;
    }
    s_mem_inst_cap = share < STRAT_MEM_DEFAULT ? share : STRAT_MEM_DEFAULT;
    return ERR_OK;
}

struct strategy *lt_self(lua_State *L)
{
    return *(struct strategy **)lua_getextraspace(L);
}

int lt_error(lua_State *L, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    luaL_where(L, 1);
    lua_pushstring(L, msg);
    lua_concat(L, 2);
    return lua_error(L);
}

void lt_check_self(lua_State *L, const char *mt, const char *call)
{
    struct strategy *s = lt_self(L);
    char dot[64];
    char *c;
    int ok;

    if (mt) {
        ok = luaL_testudata(L, 1, mt) != NULL;
    } else if (lua_gettop(L) == 0) {
        ok = 0;                             /* self.buy() */
    } else {
        lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_self);
        ok = lua_rawequal(L, 1, -1);
        lua_pop(L, 1);
    }
    if (ok)
        return;
    snprintf(dot, sizeof dot, "%.*s", (int)strcspn(call, "({"), call);
    c = strrchr(dot, ':');
    if (c)
        *c = '.';
    lt_error(L, "%s called with a dot: write %s (a method takes a colon, "
             "which passes the object itself)", dot, call);
}

/* {==================== hints for Python habits ============== */

/* What an error about a name means when the name is Python's. */
static const struct {
    const char *what;               /* "global 'len'" as Lua names it */
    const char *hint;
} s_hints[] = {
    { "global 'len'", "len() is Python: Lua writes #x" },
    { "global 'range'", "range() is Python: Lua counts with "
      "for i = 1, n do ... end" },
    { "global 'enumerate'", "enumerate() is Python: Lua writes "
      "for i, v in ipairs(t) do ... end" },
    { "global 'abs'", "abs() is Python: Lua has math.abs" },
    { "global 'min'", "min() is Python: Lua has math.min" },
    { "global 'max'", "max() is Python: Lua has math.max" },
    { "global 'round'", "round() is Python: Lua writes "
      "math.floor(x + 0.5)" },
    { "global 'sum'", "sum() is Python: Lua adds up an array in a for "
      "loop" },
    { "global 'int'", "int() is Python: Lua has math.floor and "
      "math.tointeger" },
    { "global 'float'", "float() is Python: Lua has tonumber" },
    { "global 'str'", "str() is Python: Lua has tostring" },
    { "global 'np'", "numpy is Python: in Lua 0/0 is NaN, x ~= x tests "
      "for it, and math has floor, sqrt, log, ..." },
    { "global 'self'", "self is only defined in a method: write "
      "function S:next() with a colon" },
    { "field 'isnan'", "isnan is Python: in Lua x ~= x is true only for "
      "NaN" },
    { "method 'append'", "append is Python: Lua writes "
      "table.insert(t, x)" },
    { "')' expected near '='", "arguments by name are a table in Lua: "
      "self:buy{size = 0.5}" },
    { "'then' expected near '='", "Lua compares with ==" },
    { "expected near ':'", "Lua writes if x then ... end and "
      "for ... do ... end, without ':'" },
    { "near '!'", "Lua writes ~= for not equal and `not` for negation" },
    { "unexpected symbol near '#'", "Lua comments start with --" },
};

void lt_hint(char *msg, size_t size)
{
    size_t n = strlen(msg);

    for (size_t i = 0; i < sizeof s_hints / sizeof s_hints[0]; i++)
        if (strstr(msg, s_hints[i].what)) {
            snprintf(msg + n, size - n, "; %s", s_hints[i].hint);
            return;
        }
}

/* The globals' __index: True, False and None are nil in Lua, which would
 * read as false without a word; any other unknown global is nil. */
static int s_global_index(lua_State *L)
{
    static const char *const py[][2] = {
        { "True", "true" }, { "False", "false" }, { "None", "nil" }
    };

    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    for (size_t i = 0; i < sizeof py / sizeof py[0]; i++)
        if (strcmp(lua_tostring(L, 2), py[i][0]) == 0)
            return lt_error(L, "%s is Python: Lua writes %s", py[i][0],
                            py[i][1]);
    return 0;
}

/* }========================================================== */

/* Raises the error that ends a call over its limits, located at the
 * running line: the running function's in a hook, the caller's in a
 * library function. */
static int s_over(lua_State *L, const char *why)
{
    struct strategy *s = lt_self(L);
    lua_Debug ar;
    int level = 0;

    s->ticks = s->budget + 1;               /* pcall lets it through */
    if (lua_getstack(L, 0, &ar) && lua_getinfo(L, "S", &ar) &&
        ar.what[0] == 'C')
        level = 1;
    luaL_where(L, level);
    if (s->sym[0])
        lua_pushfstring(L, "strategy %s on %s: %s", s->name, s->sym, why);
    else
        lua_pushstring(L, why);
    lua_concat(L, 2);
    return lua_error(L);
}

void lt_check_time(lua_State *L)
{
    struct strategy *s = lt_self(L);
    char why[96];

    if (s->deadline && mono_ms() > s->deadline) {
        snprintf(why, sizeof why, "time limit of %lld ms per call exceeded",
                 (long long)s->time_ms);
        s_over(L, why);
    }
}

static void s_hook(lua_State *L, lua_Debug *ar)
{
    struct strategy *s = lt_self(L);
    char why[96];
    (void)ar;
    lt_check_time(L);
    s->ticks += HOOK_EVERY;
    if (s->ticks > s->budget) {
        snprintf(why, sizeof why, "instruction budget of %lld exceeded "
                 "(endless loop?)", s->budget);
        s_over(L, why);
    }
}

/* {==================== watchdog ============================= */

static pthread_mutex_t s_wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_wd_cv = PTHREAD_COND_INITIALIZER;
static struct strategy *s_wd_calls;     /* calls running */
static int s_wd_state;                  /* 0 no thread, 1 idle, 2 timed */
static int64_t s_wd_wake;               /* end of the timed wait */

/* Sleeps until the earliest deadline of the calls running; sets the hook
 * of each call past its deadline to every instruction. */
static void *s_wd_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&s_wd_mu);
    for (;;) {
        int64_t now = mono_ms(), next = 0;
        for (struct strategy *c = s_wd_calls; c; c = c->wd_next) {
            if (c->wd_poked)
                continue;
            if (now > c->deadline) {
                lua_sethook(c->L, s_hook, LUA_MASKCOUNT, 1);
                c->wd_poked = 1;
            } else if (!next || c->deadline < next) {
                next = c->deadline;
            }
        }
        if (next) {
            struct timespec ts;
            int64_t ms = next - now + 1;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += (time_t)(ms / 1000);
            ts.tv_nsec += (long)(ms % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            s_wd_state = 2;
            s_wd_wake = next;
            pthread_cond_timedwait(&s_wd_cv, &s_wd_mu, &ts);
        } else {
            s_wd_state = 1;
            pthread_cond_wait(&s_wd_cv, &s_wd_mu);
        }
    }
    return NULL;
}

int lt_call_begin(struct strategy *s)
{
    pthread_t t;

    if (s->deadline)
        return 0;
    s->deadline = mono_ms() + s->time_ms;
    pthread_mutex_lock(&s_wd_mu);
    if (s_wd_state == 0 && pthread_create(&t, NULL, s_wd_main, NULL) == 0) {
        pthread_detach(t);
        s_wd_state = 2;                 /* it looks at the list first */
        s_wd_wake = INT64_MAX;
    }
    s->wd_poked = 0;
    s->wd_next = s_wd_calls;
    s_wd_calls = s;
    if (s_wd_state == 1 || (s_wd_state == 2 && s->deadline < s_wd_wake))
        pthread_cond_signal(&s_wd_cv);  /* else it wakes early enough */
    pthread_mutex_unlock(&s_wd_mu);
    return 1;
}

void lt_call_end(struct strategy *s, int began)
{
    if (!began)
        return;
    pthread_mutex_lock(&s_wd_mu);
    for (struct strategy **c = &s_wd_calls; *c; c = &(*c)->wd_next)
        if (*c == s) {
            *c = s->wd_next;
            break;
        }
    if (s->wd_poked)
        lua_sethook(s->L, s_hook, LUA_MASKCOUNT, HOOK_EVERY);
    s->wd_poked = 0;
    pthread_mutex_unlock(&s_wd_mu);
    s->deadline = 0;
}

/* }========================================================== */

/* pcall and xpcall that cannot swallow the budget error: once the call
 * is over its budget, whatever the protected function raised is raised
 * again, so `while true do pcall(f) end` still stops. */
static int s_rethrow_if_over(lua_State *L, int status)
{
    struct strategy *s = lt_self(L);
    if (status != LUA_OK && s->ticks > s->budget)
        return lua_error(L);
    lua_pushboolean(L, status == LUA_OK);
    lua_insert(L, 1);
    return lua_gettop(L);
}

static int s_safe_pcall(lua_State *L)
{
    luaL_checkany(L, 1);
    return s_rethrow_if_over(L, lua_pcall(L, lua_gettop(L) - 1,
                                          LUA_MULTRET, 0));
}

static int s_safe_xpcall(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    lua_pushvalue(L, 1);                    /* f */
    lua_rotate(L, 3, 1);                    /* handler, f, args... */
    lua_remove(L, 1);
    n = lua_pcall(L, n - 2, LUA_MULTRET, 1);
    lua_remove(L, 1);                       /* the handler */
    return s_rethrow_if_over(L, n);
}

static int s_print(lua_State *L)
{
    struct strategy *s = lt_self(L);
    luaL_Buffer b;
    int n = lua_gettop(L);

    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    log_msg(LL_INFO, "%s [%s]: %s", s->name, s->sym, lua_tostring(L, -1));
    return 0;
}

static void s_open_libs(lua_State *L)
{
    static const luaL_Reg libs[] = {
        { LUA_GNAME, luaopen_base }, { LUA_TABLIBNAME, luaopen_table },
        { LUA_STRLIBNAME, luaopen_string }, { LUA_MATHLIBNAME, luaopen_math },
        { LUA_UTF8LIBNAME, luaopen_utf8 }, { NULL, NULL }
    };
    static const char *banned[] = { "dofile", "loadfile", "load", "require",
                                    NULL };
    for (const luaL_Reg *l = libs; l->func; l++) {
        luaL_requiref(L, l->name, l->func, 1);
        lua_pop(L, 1);
    }
    for (const char **b = banned; *b; b++) {
        lua_pushnil(L);
        lua_setglobal(L, *b);
    }
    /* string.dump would hand out bytecode; nothing here loads it anyway
     * (chunks are loaded as text only), but no strategy needs it. */
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_pushcfunction(L, s_print);
    lua_setglobal(L, "print");
    lua_pushcfunction(L, s_safe_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, s_safe_xpcall);
    lua_setglobal(L, "xpcall");
    lt_sandbox_caps(L);
}

/* Makes every metatable of the engine's (registry "livetrade.*") hidden
 * from getmetatable and fixed for setmetatable, so that no strategy adds
 * a __gc to one that later objects get. */
static void s_lock_metatables(lua_State *L)
{
    lua_pushnil(L);
    while (lua_next(L, LUA_REGISTRYINDEX)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_istable(L, -1) &&
            strncmp(lua_tostring(L, -2), "livetrade.", 10) == 0) {
            lua_pushboolean(L, 0);
            lua_setfield(L, -2, "__metatable");
        }
        lua_pop(L, 1);
    }
}

/* }========================================================== */


/* {==================== the Strategy class =================== */

/* Strategy{n1 = 10, ...}: a class whose fields are the parameters. */
static int s_Strategy(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_newtable(L);                        /* class */
    lua_newtable(L);                        /* __params: name -> true */
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            return lt_error(L, "Strategy{}: parameter names must be strings");
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, 2);                   /* class[k] = v */
        lua_pushvalue(L, -2);
        lua_pushboolean(L, 1);
        lua_rawset(L, 3);                   /* __params[k] = true */
        lua_pop(L, 1);
    }
    lua_setfield(L, -2, "__params");
    lua_pushvalue(L, -1);
    lua_setfield(L, -2, "__index");
    lua_getfield(L, LUA_REGISTRYINDEX, "livetrade.base");
    lua_setmetatable(L, -2);
    return 1;
}

static int s_noop(lua_State *L)
{
    (void)L;
    return 0;
}

static void s_register(lua_State *L)
{
    static const luaL_Reg base[] = {
        { "I", lt_I }, { "buy", lt_buy }, { "sell", lt_sell },
        { "init", s_noop }, { "next", s_noop }, { NULL, NULL }
    };
    static const luaL_Reg globals[] = {
        { "Strategy", s_Strategy }, { NULL, NULL }
    };

    lt_series_register(L);
    lt_indicators_register(L);
    lt_broker_register(L);
    lua_newtable(L);                        /* metatable of classes */
    lua_newtable(L);
    luaL_setfuncs(L, base, 0);
    lua_setfield(L, -2, "__index");
    lua_setfield(L, LUA_REGISTRYINDEX, "livetrade.base");
    lua_pushglobaltable(L);
    luaL_setfuncs(L, globals, 0);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, s_global_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);
}

/* }========================================================== */

void strat_data_init(struct strat_data *d)
{
    series_init(&d->open);
    series_init(&d->high);
    series_init(&d->low);
    series_init(&d->close);
    series_init(&d->volume);
    series_init(&d->time);
    d->nextra = 0;
}

int strat_data_add_column(struct strat_data *d, const char *name)
{
    static const char *taken[] = { "Open", "High", "Low", "Close", "Volume",
                                   "index", NULL };
    size_t n = strlen(name);

    if (d->nextra == STRAT_MAX_EXTRA || n == 0 || n >= STRAT_COL_NAME)
        return ERR_INVALID;
    for (const char **t = taken; *t; t++)
        if (strcmp(*t, name) == 0)
            return ERR_INVALID;
    for (int j = 0; j < d->nextra; j++)
        if (strcmp(d->extra_name[j], name) == 0)
            return ERR_INVALID;
    snprintf(d->extra_name[d->nextra], STRAT_COL_NAME, "%s", name);
    series_init(&d->extra[d->nextra]);
    d->nextra++;
    return ERR_OK;
}

void strat_data_free(struct strat_data *d)
{
    for (int j = 0; j < d->nextra; j++)
        series_free(&d->extra[j]);
    d->nextra = 0;
    series_free(&d->open);
    series_free(&d->high);
    series_free(&d->low);
    series_free(&d->close);
    series_free(&d->volume);
    series_free(&d->time);
}

int strat_data_push(struct strat_data *d, int64_t t, double o, double h,
                    double l, double c, double v, const double *extra)
{
    for (int j = 0; j < d->nextra; j++)
        if (series_push(&d->extra[j], extra ? extra[j] : NAN))
            return ERR_NOMEM;
    if (series_push(&d->open, o) || series_push(&d->high, h) ||
        series_push(&d->low, l) || series_push(&d->close, c) ||
        series_push(&d->volume, v) || series_push(&d->time, (double)t))
        return ERR_NOMEM;
    return ERR_OK;
}

/* Pushes self.data: a table of columns whose # is the number of bars. */
static int s_data_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)lt_self(L)->data->close.len);
    return 1;
}

static void s_push_data(lua_State *L, struct strat_data *d)
{
    lua_createtable(L, 0, 6);
    lt_push_series(L, &d->open, -1);
    lua_setfield(L, -2, "Open");
    lt_push_series(L, &d->high, -1);
    lua_setfield(L, -2, "High");
    lt_push_series(L, &d->low, -1);
    lua_setfield(L, -2, "Low");
    lt_push_series(L, &d->close, -1);
    lua_setfield(L, -2, "Close");
    lt_push_series(L, &d->volume, -1);
    lua_setfield(L, -2, "Volume");
    lt_push_series(L, &d->time, -1);
    lua_setfield(L, -2, "index");
    for (int j = 0; j < d->nextra; j++) {
        lt_push_series(L, &d->extra[j], -1);
        lua_setfield(L, -2, d->extra_name[j]);
    }
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, s_data_len);
    lua_setfield(L, -2, "__len");
    lua_setmetatable(L, -2);
}

/* Applies one "name=value" override to the instance at the top. */
static int s_apply_param(lua_State *L, int cls, const char *kv, char *err)
{
    const char *eq = strchr(kv, '=');
    char name[64];
    double num;

    if (!eq || eq == kv || (size_t)(eq - kv) >= sizeof name) {
        snprintf(err, ERR_LEN, "bad --param '%s' (expected name=value)", kv);
        return ERR_USAGE;
    }
    memcpy(name, kv, (size_t)(eq - kv));
    name[eq - kv] = '\0';
    lua_getfield(L, cls, "__params");
    lua_getfield(L, -1, name);
    if (lua_isnil(L, -1)) {
        snprintf(err, ERR_LEN, "unknown strategy parameter '%s'", name);
        lua_pop(L, 2);
        return ERR_USAGE;
    }
    lua_pop(L, 2);
    lua_getfield(L, cls, name);             /* the default decides the type */
    switch (lua_type(L, -1)) {
    case LUA_TNUMBER:
        if (parse_double(eq + 1, &num)) {
            snprintf(err, ERR_LEN, "parameter '%s' expects a number, got "
                     "'%s'", name, eq + 1);
            lua_pop(L, 1);
            return ERR_USAGE;
        }
        if (lua_isinteger(L, -1) && num == floor(num) && fabs(num) < 1e15)
            lua_pushinteger(L, (lua_Integer)num);
        else
            lua_pushnumber(L, num);
        break;
    case LUA_TBOOLEAN:
        if (strcmp(eq + 1, "true") && strcmp(eq + 1, "false")) {
            snprintf(err, ERR_LEN, "parameter '%s' expects true or false, "
                     "got '%s'", name, eq + 1);
            lua_pop(L, 1);
            return ERR_USAGE;
        }
        lua_pushboolean(L, strcmp(eq + 1, "true") == 0);
        break;
    default:
        lua_pushstring(L, eq + 1);
    }
    lua_setfield(L, -3, name);
    lua_pop(L, 1);
    return ERR_OK;
}

static int s_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Canonical parameter string and the largest whole-number parameter. */
static void s_describe_params(struct strategy *s, int cls, int self)
{
    lua_State *L = s->L;
    const char *names[64];
    int n = 0;
    size_t off = 0;

    lua_getfield(L, cls, "__params");
    lua_pushnil(L);
    while (lua_next(L, -2) && n < 64) {
        names[n++] = lua_tostring(L, -2);   /* kept alive by __params */
        lua_pop(L, 1);
    }
    qsort(names, (size_t)n, sizeof names[0], s_cmp_str);
    s->params[0] = '\0';
    for (int i = 0; i < n; i++) {
        const char *v;
        lua_getfield(L, self, names[i]);
        if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > s->max_int_param)
            s->max_int_param = lua_tointeger(L, -1);
        if (lua_type(L, -1) == LUA_TTABLE ||    /* no __tostring: this */
            lua_type(L, -1) == LUA_TUSERDATA)   /* runs outside a call */
            v = lua_pushstring(L, luaL_typename(L, -1));
        else
            v = luaL_tolstring(L, -1, NULL);
        if (off < sizeof s->params)
            off += (size_t)snprintf(s->params + off, sizeof s->params - off,
                                    "%s%s=%s", i ? "," : "", names[i], v);
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

static int s_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    lua_pushstring(L, msg);
    return 1;
}

static int s_pcall(struct strategy *s, int nargs, char *err)
{
    lua_State *L = s->L;
    int base = lua_gettop(L) - nargs, rc, began;

    lua_pushcfunction(L, s_traceback);
    lua_insert(L, base);
    s->ticks = 0;
    began = lt_call_begin(s);
    rc = lua_pcall(L, nargs, 1, base);
    lt_call_end(s, began);
    lua_remove(L, base);
    if (rc != LUA_OK) {
        snprintf(err, ERR_LEN, "%s", lua_tostring(L, -1) ?
                 lua_tostring(L, -1) : "error object is not a string");
        lt_hint(err, ERR_LEN);
        lua_pop(L, 1);
        return ERR_LUA;
    }
    return ERR_OK;
}

strategy_t *strategy_new(const char *path, const char *symbol,
                         const struct opt_multi *params,
                         const struct broker_cfg *bcfg,
                         struct strat_data *data, int *rc, char *err)
{
    struct strategy *s = calloc(1, sizeof *s);
    lua_State *L;
    const char *base;
    int cls, self;
    FILE *f;

    *rc = ERR_NOMEM;
    if (!s) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", path);
    snprintf(s->sym, sizeof s->sym, "%s", symbol);
    s->data = data;
    s->start = -1;
    s->mem_cap = s_mem_inst_cap;
    {
        struct broker_cfg def;
        broker_cfg_default(&def);
        s->broker = broker_new(bcfg ? bcfg : &def, err);
        if (!s->broker) {
            *rc = ERR_USAGE;
            goto fail;
        }
    }
    s->budget = STRAT_BUDGET_DEFAULT;
    s->time_ms = STRAT_TIME_MS_DEFAULT;
    s->ref_self = s->ref_next = LUA_NOREF;
    base = strrchr(path, '/');
    snprintf(s->name, sizeof s->name, "%s", base ? base + 1 : path);
    if (strlen(s->name) > 4 && strcmp(s->name + strlen(s->name) - 4,
                                      ".lua") == 0)
        s->name[strlen(s->name) - 4] = '\0';

    f = fopen(path, "r");
    if (!f) {
        snprintf(err, ERR_LEN, "%s: cannot open strategy file", path);
        *rc = ERR_NOTFOUND;
        goto fail;
    }
    fclose(f);
    L = s->L = lua_newstate(s_alloc, s);
    if (!L) {
        snprintf(err, ERR_LEN, "cannot create a Lua state");
        goto fail;
    }
    *(struct strategy **)lua_getextraspace(L) = s;
    s_open_libs(L);
    s_register(L);
    s_lock_metatables(L);
    lua_sethook(L, s_hook, LUA_MASKCOUNT, HOOK_EVERY);

    *rc = ERR_LUA;
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        snprintf(err, ERR_LEN, "%s", lua_tostring(L, -1));
        lt_hint(err, ERR_LEN);
        goto fail;
    }
    if (s_pcall(s, 0, err))
        goto fail;
    if (lua_type(L, -1) != LUA_TTABLE) {
        snprintf(err, ERR_LEN, "%s: the file must return its strategy "
                 "(return MyStrategy)", path);
        goto fail;
    }
    lua_getfield(L, -1, "__params");
    if (!lua_istable(L, -1)) {
        snprintf(err, ERR_LEN, "%s: the returned table is not a Strategy{} "
                 "class", path);
        goto fail;
    }
    lua_pop(L, 1);
    cls = lua_gettop(L);
    lua_getfield(L, cls, "name");
    if (lua_type(L, -1) == LUA_TSTRING)
        snprintf(s->name, sizeof s->name, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);

    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, cls) != LUA_TNIL) {
        snprintf(err, ERR_LEN, "%s: __gc (a finalizer) is not allowed in "
                 "a strategy class", path);
        goto fail;
    }
    lua_pop(L, 1);
    lua_newtable(L);                        /* the instance */
    self = lua_gettop(L);
    lua_pushvalue(L, cls);
    lua_setmetatable(L, self);
    for (int i = 0; params && i < params->n; i++)
        if ((*rc = s_apply_param(L, cls, params->v[i], err)) != ERR_OK)
            goto fail;
    *rc = ERR_LUA;
    s_push_data(L, data);
    lua_setfield(L, self, "data");
    lt_broker_attach(L, cls, self);
    lua_pushstring(L, symbol);
    lua_setfield(L, self, "symbol");
    s_describe_params(s, cls, self);
    lua_pushvalue(L, self);                 /* methods check their self */
    s->ref_self = luaL_ref(L, LUA_REGISTRYINDEX);

    lua_getfield(L, self, "init");
    lua_pushvalue(L, self);
    if (s_pcall(s, 1, err))
        goto fail;
    lua_pop(L, 1);
    lt_indicators_name(s, self);

    lua_getfield(L, self, "next");
    if (!lua_isfunction(L, -1)) {
        snprintf(err, ERR_LEN, "%s: next is not a function", path);
        goto fail;
    }
    s->ref_next = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    *rc = ERR_OK;
    return s;
fail:
    strategy_destroy(&s);
    return NULL;
}

void strategy_destroy(strategy_t **self_p)
{
    struct strategy *s = *self_p;
    if (!s)
        return;
    if (s->L)
        lua_close(s->L);
    lt_indicators_free(s);
    broker_destroy(&s->broker);
    free(s);
    *self_p = NULL;
}

int strategy_on_bar(strategy_t *s, char *err)
{
    lua_State *L = s->L;
    int due;

    s->ncalls = 0;
    if (s->stopped) {
        snprintf(err, ERR_LEN, "the account is out of money");
        return ERR_LUA;
    }
    due = lt_indicators_step(s, err);
    if (due < 0)
        return ERR_LUA;
    if (broker_next(s->broker, s->data)) {
        s->stopped = 1;
        snprintf(err, ERR_LEN, "out of money: equity fell to 0 at bar %lld; "
                 "every trade was closed and the strategy is stopped",
                 (long long)s->data->close.len - 1);
        return ERR_LUA;
    }
    if (!due)
        return 0;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_next);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->ref_self);
    s->in_next = 1;
    int rc = s_pcall(s, 1, err);
    s->in_next = 0;
    if (rc) {
        s->ncalls = 0;
        return ERR_LUA;
    }
    lua_settop(L, 0);
    return 1;
}

const struct strat_call *strategy_calls(const strategy_t *s, int *n)
{
    *n = s->ncalls;
    return s->calls;
}

const char *strategy_name(const strategy_t *s) { return s->name; }
const char *strategy_params(const strategy_t *s) { return s->params; }

broker_t *strategy_broker(const strategy_t *s) { return s->broker; }
int64_t strategy_start(const strategy_t *s) { return s->start; }
int strategy_out_of_money(const strategy_t *s) { return s->stopped; }

void strategy_set_budget(strategy_t *s, long long instructions)
{
    s->budget = instructions > 0 ? instructions : STRAT_BUDGET_DEFAULT;
}

void strategy_set_time_limit(strategy_t *s, int64_t ms)
{
    s->time_ms = ms > 0 ? ms : STRAT_TIME_MS_DEFAULT;
}

/* {==================== sandbox for other scripts ============ */

lua_State *strategy_sandbox_new(const char *name, size_t mem_cap,
                                long long budget)
{
    struct strategy *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    snprintf(s->name, sizeof s->name, "%s", name);
    s->mem_cap = mem_cap ? mem_cap : STRAT_MEM_DEFAULT;
    s->budget = budget > 0 ? budget : STRAT_BUDGET_DEFAULT;
    s->time_ms = STRAT_TIME_MS_DEFAULT;
    s->start = -1;
    s->ref_self = s->ref_next = LUA_NOREF;
    s->L = lua_newstate(s_alloc, s);
    if (!s->L) {
        free(s);
        return NULL;
    }
    *(struct strategy **)lua_getextraspace(s->L) = s;
    s_open_libs(s->L);
    lua_sethook(s->L, s_hook, LUA_MASKCOUNT, HOOK_EVERY);
    return s->L;
}

void strategy_sandbox_close(lua_State **Lp)
{
    struct strategy *s;

    if (!*Lp)
        return;
    s = lt_self(*Lp);
    lua_close(*Lp);
    free(s);
    *Lp = NULL;
}

void strategy_sandbox_set_time_limit(lua_State *L, int64_t ms)
{
    strategy_set_time_limit(lt_self(L), ms);
}

int strategy_sandbox_pcall(lua_State *L, int nargs, int nres, char *err)
{
    int base = lua_gettop(L) - nargs, rc, began;

    lua_pushcfunction(L, s_traceback);
    lua_insert(L, base);
    lt_self(L)->ticks = 0;
    began = lt_call_begin(lt_self(L));
    rc = lua_pcall(L, nargs, nres, base);
    lt_call_end(lt_self(L), began);
    lua_remove(L, base);
    if (rc != LUA_OK) {
        snprintf(err, ERR_LEN, "%s", lua_tostring(L, -1) ?
                 lua_tostring(L, -1) : "error object is not a string");
        lua_pop(L, 1);
        return ERR_LUA;
    }
    return ERR_OK;
}

/* }========================================================== */
