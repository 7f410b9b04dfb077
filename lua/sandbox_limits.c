/* sandbox_limits.c -- the limits of each call into Lua: the instruction
 * budget (a count hook every HOOK_EVERY instructions), the wall-clock
 * time limit (a deadline the hook checks, and a watchdog thread that
 * makes the hook run at the next instruction once a deadline has
 * passed), pcall and xpcall that cannot swallow the error that ends a
 * call over its limits, and sandbox_pcall, the protected call into Lua that
 * runs under them. The library functions that loop in C check the time
 * limit themselves (sandbox.c). */
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "err.h"
#include "sandbox.h"
#include "util.h"

#define HOOK_EVERY 1000             /* instructions between budget checks */

/* {==================== budget and time limit ================ */

/* Raises the error that ends a call over its limits, located at the
 * running line: the running function's in a hook, the caller's in a
 * library function. */
static int s_over(lua_State *L, const char *why)
{
    struct sandbox *s = sandbox_self(L);
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

void sandbox_check_time(lua_State *L)
{
    struct sandbox *s = sandbox_self(L);
    char why[96];

    if (s->deadline && mono_ms() > s->deadline) {
        snprintf(why, sizeof why, "time limit of %lld ms per call exceeded",
                 (long long)s->time_ms);
        s_over(L, why);
    }
}

static void s_hook(lua_State *L, lua_Debug *ar)
{
    struct sandbox *s = sandbox_self(L);
    char why[96];
    (void)ar;
    sandbox_check_time(L);
    s->ticks += HOOK_EVERY;
    if (s->ticks > s->budget) {
        snprintf(why, sizeof why, "instruction budget of %lld exceeded "
                 "(endless loop?)", s->budget);
        s_over(L, why);
    }
}

/* }========================================================== */

/* {==================== watchdog ============================= */

static pthread_mutex_t s_wd_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_wd_cv = PTHREAD_COND_INITIALIZER;
static struct sandbox *s_wd_calls;     /* calls running */
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
        for (struct sandbox *c = s_wd_calls; c; c = c->wd_next) {
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

/* Starts the time limit of a call into Lua and the watchdog's watch of
 * it: once the deadline has passed, the watchdog thread sets the count
 * hook to every instruction (lua_sethook may be called from another
 * thread), so the call ends at its next instruction even when the hook
 * of every HOOK_EVERY instructions is far off. Returns 1, or 0 when a
 * call is running already (its limit holds); pass that to s_call_end. */
static int s_call_begin(struct sandbox *s)
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

static void s_call_end(struct sandbox *s, int began)
{
    if (!began)
        return;
    pthread_mutex_lock(&s_wd_mu);
    for (struct sandbox **c = &s_wd_calls; *c; c = &(*c)->wd_next)
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

/* {==================== protected calls ====================== */

/* pcall and xpcall that cannot swallow the budget error: once the call
 * is over its budget, whatever the protected function raised is raised
 * again, so `while true do pcall(f) end` still stops. */
static int s_rethrow_if_over(lua_State *L, int status)
{
    struct sandbox *s = sandbox_self(L);
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

void sandbox_limits_open(lua_State *L)
{
    lua_pushcfunction(L, s_safe_pcall);
    lua_setglobal(L, "pcall");
    lua_pushcfunction(L, s_safe_xpcall);
    lua_setglobal(L, "xpcall");
    lua_sethook(L, s_hook, LUA_MASKCOUNT, HOOK_EVERY);
}

/* sandbox_pcall's message handler: the error as a string, which names the
 * line already. */
static int s_traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg)
        msg = luaL_tolstring(L, 1, NULL);
    lua_pushstring(L, msg);
    return 1;
}

int sandbox_pcall(lua_State *L, int nargs, int nres, char *err)
{
    struct sandbox *s = sandbox_self(L);
    int base = lua_gettop(L) - nargs, rc, began;

    lua_pushcfunction(L, s_traceback);
    lua_insert(L, base);
    s->ticks = 0;
    began = s_call_begin(s);
    rc = lua_pcall(L, nargs, nres, base);
    s_call_end(s, began);
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
