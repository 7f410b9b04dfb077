/* sandbox.c -- the sandbox a strategy's or a script's Lua state runs
 * in: its memory caps, the libraries it is given (no files, no loading of
 * code, print to the log), the metatables locked, caps on the library
 * functions that can loop in C, and the states of scripts (sandbox_new).
 * The limits of each call are sandbox_limits.c's.
 *
 * The instruction budget is a count hook, and Lua runs no hook inside a C
 * library function or a __gc finalizer: a call such as
 * string.rep("", math.maxinteger) or a backtracking pattern would hold
 * the engine for hours. So the sandbox gives Lua code no finalizers
 * (setmetatable refuses a metatable with __gc, and livetrade's own
 * metatables cannot be read or changed), and wraps each library function
 * whose work is not bounded by its arguments' size in memory: the wrapper
 * checks the call's time limit, estimates the work and refuses, with one
 * error line, a call over LT_WORK_MAX steps or LT_RANGE_MAX elements. The
 * time limit of the Lua code between is the watchdog's
 * (sandbox_limits.c). */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

#define LT_WORK_MAX 1e8             /* estimated steps of one call */
#define LT_RANGE_MAX 1e7            /* elements one call may visit */
#define LT_SORT_MAX 1e6             /* elements table.sort may sort */

/* Runs the wrapped library function (upvalue 1) in the wrapper's own
 * frame, so that its errors name the call and the caller's line as they
 * would unwrapped. None of the wrapped functions uses upvalues. */
static int s_orig(lua_State *L)
{
    return lua_tocfunction(L, lua_upvalueindex(1))(L);
}

/* {==================== string ============================== */

static int s_rep(lua_State *L)
{
    size_t l, lsep = 0;
    lua_Integer n;
    double total;

    sandbox_check_time(L);
    luaL_checklstring(L, 1, &l);
    n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &lsep);
    total = (double)n * (double)l + ((double)n - 1) * (double)lsep;
    if (n > 0 && ((double)n > LT_RANGE_MAX ||
                  total > (double)sandbox_self(L)->mem_cap))
        return sandbox_error(L, "string.rep: %lld copies of %zu bytes is over "
                             "the sandbox's limit (%.0f copies, the memory "
                             "cap in bytes)", (long long)n, l, LT_RANGE_MAX);
    return s_orig(L);
}

/* End of the set at p ('['), as lstrlib reads it. */
static const char *s_set_end(const char *p, const char *e)
{
    p++;
    if (p < e && *p == '^')
        p++;
    do {
        if (p >= e)
            return e;
        if (*p++ == '%' && p < e)
            p++;
    } while (p < e && *p != ']');
    return p < e ? p + 1 : e;
}

/* A bound on the steps of matching pattern p against a subject of n
 * bytes at every start: each quantifier (* + -), %b and back reference
 * can try every length (n + 1), ? two ways, and each start may try the
 * whole pattern. */
double sandbox_pattern_cost(const char *p, size_t pl, size_t n)
{
    const char *e = p + pl;
    double base = (double)n + 1, per = (double)pl + 1, starts = base;

    if (p < e && *p == '^') {
        starts = 1;
        p++;
    }
    while (p < e) {
        if (*p == '(' || *p == ')') {
            p++;
            continue;
        }
        if (*p == '%' && p + 1 < e) {
            char k = p[1];
            if (k == 'b' || (k >= '0' && k <= '9')) {
                per *= base;
                p += k == 'b' ? 4 : 2;
                continue;
            }
            if (k == 'f') {
                p += 2;
                if (p < e && *p == '[')
                    p = s_set_end(p, e);
                continue;
            }
            p += 2;
        } else if (*p == '[') {
            p = s_set_end(p, e);
        } else {
            p++;
        }
        if (p < e && (*p == '*' || *p == '+' || *p == '-')) {
            per *= base;
            p++;
        } else if (p < e && *p == '?') {
            per *= 2;
            p++;
        }
    }
    return starts * per;
}

/* string.find/match/gmatch/gsub: refused when the pattern could
 * backtrack past LT_WORK_MAX steps on this subject (a plain find: when
 * comparing the pattern at every start could). */
static int s_pattern(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(2));
    size_t l, pl;
    const char *p;
    double cost;

    sandbox_check_time(L);
    luaL_checklstring(L, 1, &l);
    p = luaL_checklstring(L, 2, &pl);
    if (strcmp(name, "find") == 0 &&
        (lua_toboolean(L, 4) || !strpbrk(p, "^$*+?.([%-")))
        /* a plain find compares up to pl bytes at each start */
        cost = pl <= l ? ((double)l - (double)pl + 1) * (double)pl : 0;
    else
        cost = sandbox_pattern_cost(p, pl, l);
    if (cost > LT_WORK_MAX)
        return sandbox_error(L, "string.%s: pattern '%.40s' may backtrack up "
                             "to %.3g steps on a subject of %zu bytes (the "
                             "sandbox allows %.0f; use fewer of * + - or a "
                             "shorter subject)", name, p, cost, l,
                             LT_WORK_MAX);
    return s_orig(L);
}

/* }========================================================== */

/* {==================== table =============================== */

static int s_check_range(lua_State *L, const char *fn, lua_Integer f,
                         lua_Integer e, double max)
{
    double n = (double)e - (double)f + 1;
    if (n > max)
        return sandbox_error(L, "table.%s: a range of %.0f elements is "
                             "over the sandbox's limit of %.0f", fn, n,
                             max);
    return 0;
}

static int s_move(lua_State *L)
{
    sandbox_check_time(L);
    luaL_checkany(L, 1);
    s_check_range(L, "move", luaL_checkinteger(L, 2),
                  luaL_checkinteger(L, 3), LT_RANGE_MAX);
    return s_orig(L);
}

static int s_concat(lua_State *L)
{
    lua_Integer i, j;

    sandbox_check_time(L);
    luaL_checkany(L, 1);
    i = luaL_optinteger(L, 3, 1);
    j = lua_isnoneornil(L, 4) ? luaL_len(L, 1) : luaL_checkinteger(L, 4);
    s_check_range(L, "concat", i, j, LT_RANGE_MAX);
    return s_orig(L);
}

/* table.insert, table.remove and table.sort visit up to #t elements (a
 * __len can claim any length). */
static int s_by_len(lua_State *L)
{
    const char *name = lua_tostring(L, lua_upvalueindex(2));

    sandbox_check_time(L);
    luaL_checkany(L, 1);
    s_check_range(L, name, 1, luaL_len(L, 1),
                  strcmp(name, "sort") ? LT_RANGE_MAX : LT_SORT_MAX);
    return s_orig(L);
}

/* }========================================================== */

/* setmetatable without finalizers: Lua runs no hook in a __gc, so a
 * finalizer could loop for ever. Lua marks an object for finalization
 * only when it gets a metatable holding __gc, so a later __gc field is
 * never called. */
static int s_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        if (lua_rawget(L, 2) != LUA_TNIL)
            return sandbox_error(L, "setmetatable: __gc (a finalizer) is not "
                                 "allowed in a strategy or script");
        lua_pop(L, 1);
    }
    return s_orig(L);
}

static void s_wrap(lua_State *L, const char *lib, const char *name,
                   lua_CFunction f)
{
    if (lib)
        lua_getglobal(L, lib);
    else
        lua_pushglobaltable(L);
    lua_getfield(L, -1, name);
    lua_pushstring(L, name);
    lua_pushcclosure(L, f, 2);
    lua_setfield(L, -2, name);
    lua_pop(L, 1);
}

static void s_caps(lua_State *L)
{
    static const char *const pat[] = { "find", "match", "gmatch", "gsub",
                                       NULL };
    static const char *const bylen[] = { "insert", "remove", "sort",
                                         NULL };

    s_wrap(L, LUA_STRLIBNAME, "rep", s_rep);
    for (const char *const *p = pat; *p; p++)
        s_wrap(L, LUA_STRLIBNAME, *p, s_pattern);
    s_wrap(L, LUA_TABLIBNAME, "move", s_move);
    s_wrap(L, LUA_TABLIBNAME, "concat", s_concat);
    for (const char *const *p = bylen; *p; p++)
        s_wrap(L, LUA_TABLIBNAME, *p, s_by_len);
    s_wrap(L, NULL, "setmetatable", s_setmetatable);
}

/* {==================== memory =============================== */

/* Memory every sandboxed state of this process has allocated, against a
 * cap for them all (sandbox_set_total_cap) as well as each state's. */
static size_t s_mem_total;
static size_t s_mem_total_cap = SANDBOX_MEM_TOTAL_DEFAULT;

static void *s_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    struct sandbox *sb = ud;
    if (!ptr)
        osize = 0;
    if (nsize == 0) {
        free(ptr);
        sb->mem_used -= osize;
        s_mem_total -= osize;
        return NULL;
    }
    if (nsize > osize && (sb->mem_used + (nsize - osize) > sb->mem_cap ||
                          s_mem_total + (nsize - osize) > s_mem_total_cap))
        return NULL;                /* Lua raises "not enough memory" */
    ptr = realloc(ptr, nsize);
    if (ptr) {
        sb->mem_used = sb->mem_used - osize + nsize;
        s_mem_total = s_mem_total - osize + nsize;
    }
    return ptr;
}

void sandbox_set_total_cap(size_t total)
{
    s_mem_total_cap = total ? total : SANDBOX_MEM_TOTAL_DEFAULT;
}

size_t sandbox_total_cap(void)
{
    return s_mem_total_cap;
}

struct sandbox *sandbox_self(lua_State *L)
{
    return *(struct sandbox **)lua_getextraspace(L);
}

/* }========================================================== */

/* {==================== the libraries ======================== */

int sandbox_error(lua_State *L, const char *fmt, ...)
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

const char *sandbox_join(lua_State *L)
{
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
    return lua_tostring(L, -1);
}

static int s_print(lua_State *L)
{
    struct sandbox *sb = sandbox_self(L);
    const char *text = sandbox_join(L);

    log_msg(LL_INFO, "%s [%s]: %s", sb->name, sb->sym, text);
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
     * (chunks are loaded as text only), but no script needs it. */
    lua_getglobal(L, LUA_STRLIBNAME);
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_pop(L, 1);
    lua_pushcfunction(L, s_print);
    lua_setglobal(L, "print");
    s_caps(L);
}

void sandbox_lock(lua_State *L)
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

lua_State *sandbox_open(struct sandbox *sb)
{
    lua_State *L = sb->L = lua_newstate(s_alloc, sb);

    if (!L)
        return NULL;
    *(struct sandbox **)lua_getextraspace(L) = sb;
    s_open_libs(L);
    sandbox_limits_open(L);
    return L;
}

/* }========================================================== */

/* {==================== scripts ============================== */

lua_State *sandbox_new(const char *name, size_t mem_cap, long long budget)
{
    struct sandbox *sb = calloc(1, sizeof *sb);

    if (!sb)
        return NULL;
    snprintf(sb->name, sizeof sb->name, "%s", name);
    sb->mem_cap = mem_cap ? mem_cap : SANDBOX_MEM_DEFAULT;
    sb->budget = budget > 0 ? budget : SANDBOX_BUDGET_DEFAULT;
    sb->time_ms = SANDBOX_TIME_MS_DEFAULT;
    if (!sandbox_open(sb)) {
        free(sb);
        return NULL;
    }
    return sb->L;
}

void sandbox_close(lua_State **Lp)
{
    struct sandbox *sb;

    if (!*Lp)
        return;
    sb = sandbox_self(*Lp);
    lua_close(*Lp);
    free(sb);
    *Lp = NULL;
}

void sandbox_set_time_limit(lua_State *L, int64_t ms)
{
    sandbox_self(L)->time_ms = ms > 0 ? ms : SANDBOX_TIME_MS_DEFAULT;
}

/* }========================================================== */
