/* lua_sink.c -- the lua output: a Lua 5.4 script decides what to do with
 * each signal.
 *
 *   function on_start() sink.print("time,symbol,action,price") end
 *   function on_signal(sig)
 *     sink.print(sink.iso(sig.bar_ts), sig.symbol, sig.action, sig.price)
 *   end
 *   function on_stop() end
 *
 * The script runs in the strategies' sandbox, lua/sandbox.h (no io, os,
 * debug, package, require or load; text chunks only; a memory cap; an
 * instruction budget per call) and writes only through the `sink` table,
 * to --output (stdout by default). `sig` has the JSON Lines keys
 * (msg_signal_to_json); absent optionals and NaN values are nil.
 *
 * A script that does not load, or whose on_start() fails, stops the sink
 * at start with one line naming file:line. An error in on_signal() --
 * the budget included -- is logged (rate-limited), counted, and the
 * signal counts as handled: the script had it, and sending it again would
 * fail the same way. The next signal is served as usual. */
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "sink.h"
#include "sandbox.h"
#include "util.h"

#define JSON_DEPTH 32               /* nesting sink.json() accepts */
#define SIGS_KEY "livetrade.sink.signals"   /* table -> signal userdata */

/* Settings from the lua output's flags. */
static struct {
    const char *script;             /* --script */
    const char *output;             /* --output, NULL: stdout */
    int64_t budget;                 /* --budget, instructions per call */
    int64_t memory_mb;              /* --memory-mb */
} s_cfg = { NULL, NULL, SANDBOX_BUDGET_DEFAULT, 64 };

static const struct opt s_opts[] = {
    { "script", OPT_STR, &s_cfg.script, NULL, "FILE",
      "Lua script with on_signal(sig) (required)" },
    { "output", OPT_STR, &s_cfg.output, NULL, "FILE",
      "where sink.write/sink.print append (default: stdout)" },
    { "budget", OPT_INT, &s_cfg.budget, NULL, "N",
      "Lua instructions per call (default 100000000)" },
    { "memory-mb", OPT_INT, &s_cfg.memory_mb, NULL, "N",
      "memory cap of the script, MiB (default 64)" },
    { 0 }
};

struct lua_out {
    lua_State *L;
    char script[512];               /* for messages */
    FILE *out;                      /* stdout or --output */
    int own_out;                    /* 1: fclose it */
    int out_errno;                  /* first write error since last check */
    int ref_signal, ref_stop;       /* registry refs; LUA_NOREF if absent */
    uint64_t calls, errors, budget_errors;
    struct log_limit lim_err, lim_budget;   /* one per kind of error */
};

/* The output of the Lua state L. */
static struct lua_out *s_out(lua_State *L)
{
    struct lua_out *lo;
    lua_getfield(L, LUA_REGISTRYINDEX, "livetrade.sink.out");
    lo = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return lo;
}

static void s_put(struct lua_out *lo, const char *p, size_t n)
{
    if (n && fwrite(p, 1, n, lo->out) != n && !lo->out_errno)
        lo->out_errno = errno ? errno : EIO;
}

/* sink.write(...): its arguments (strings or numbers), as they are. */
static int l_write(lua_State *L)
{
    struct lua_out *lo = s_out(L);
    int n = lua_gettop(L);

    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *p = luaL_checklstring(L, i, &len);
        s_put(lo, p, len);
    }
    return 0;
}

/* sink.print(...): like print(), to the output: tostring() of each
 * argument, tab-separated, then a newline. */
static int l_print(lua_State *L)
{
    struct lua_out *lo = s_out(L);
    int n = lua_gettop(L);

    for (int i = 1; i <= n; i++) {
        size_t len;
        const char *p = luaL_tolstring(L, i, &len);
        if (i > 1)
            s_put(lo, "\t", 1);
        s_put(lo, p, len);
        lua_pop(L, 1);
    }
    s_put(lo, "\n", 1);
    return 0;
}

/* sink.log(...): one INFO line on stderr, tab-separated like print. */
static int l_log(lua_State *L)
{
    struct lua_out *lo = s_out(L);
    const char *text = sandbox_join(L);

    log_msg(LL_INFO, "%s: %s", lo->script, text);
    return 0;
}

/* sink.time(): wall-clock time, epoch milliseconds. */
static int l_time(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)wall_ms());
    return 1;
}

/* sink.iso(ms): "2026-01-01T09:30:00.000Z" (UTC). */
static int l_iso(lua_State *L)
{
    lua_Integer ms = luaL_checkinteger(L, 1);
    char buf[64];

    if (utc_text(buf, sizeof buf, (int64_t)ms, UTC_ISO_MS))
        return luaL_error(L, "sink.iso: time out of range");
    lua_pushstring(L, buf);
    return 1;
}

/* {==================== sink.json ============================ */

/* A Lua value as JSON: a table with keys 1..n only is an array, any other
 * table an object (its keys must be strings); NaN and infinities are
 * null. NULL with an error on the Lua stack's top string in *why. */
static json_t *s_to_json(lua_State *L, int idx, int depth, const char **why)
{
    json_t *j = NULL;

    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        return json_null();
    case LUA_TBOOLEAN:
        return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx))
            return json_integer((json_int_t)lua_tointeger(L, idx));
        {
            double v = lua_tonumber(L, idx);
            return isfinite(v) ? json_real(v) : json_null();
        }
    case LUA_TSTRING: {
        size_t len;
        const char *p = lua_tolstring(L, idx, &len);
        j = json_stringn(p, len);
        if (!j)
            *why = "a string is not UTF-8";
        return j;
    }
    case LUA_TTABLE:
        break;
    default:
        *why = "only nil, booleans, numbers, strings and tables convert";
        return NULL;
    }
    if (depth >= JSON_DEPTH) {
        *why = "tables nested too deep (or a cycle)";
        return NULL;
    }
    idx = lua_absindex(L, idx);
    luaL_checkstack(L, 4, "sink.json");
    {
        lua_Integer n = (lua_Integer)lua_rawlen(L, idx), count = 0;
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            count++;
            lua_pop(L, 1);
        }
        if (n > 0 && count == n) {              /* a sequence */
            j = json_array();
            for (lua_Integer i = 1; j && i <= n; i++) {
                json_t *v;
                lua_rawgeti(L, idx, i);
                v = s_to_json(L, -1, depth + 1, why);
                lua_pop(L, 1);
                if (!v || json_array_append_new(j, v)) {
                    json_decref(j);
                    return NULL;
                }
            }
            return j;
        }
    }
    j = json_object();
    lua_pushnil(L);
    while (j && lua_next(L, idx)) {
        json_t *v;
        if (lua_type(L, -2) != LUA_TSTRING) {
            *why = "an object key is not a string";
            lua_pop(L, 2);
            json_decref(j);
            return NULL;
        }
        v = s_to_json(L, -1, depth + 1, why);
        if (!v || json_object_set_new(j, lua_tostring(L, -2), v)) {
            if (v && !*why)
                *why = "a key is not UTF-8";
            lua_pop(L, 2);
            json_decref(j);
            return NULL;
        }
        lua_pop(L, 1);
    }
    return j;
}

/* sink.json(v): compact JSON, no newline. A signal table as received
 * gives exactly the file output's line for it. */
static int l_json(lua_State *L)
{
    const struct signal *s = NULL;
    const char *why = NULL;
    json_t *j;
    char *text;

    luaL_checkany(L, 1);
    lua_settop(L, 1);
    lua_getfield(L, LUA_REGISTRYINDEX, SIGS_KEY);
    lua_pushvalue(L, 1);
    if (lua_rawget(L, -2) == LUA_TUSERDATA)
        s = lua_touserdata(L, -1);
    lua_pop(L, 2);
    j = s ? msg_signal_to_json(s) : s_to_json(L, 1, 0, &why);
    if (!j)
        return luaL_error(L, "sink.json: %s", why ? why : "out of memory");
    text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    if (!text)
        return luaL_error(L, "sink.json: out of memory");
    lua_pushstring(L, text);
    free(text);
    return 1;
}

/* }========================================================== */

static void s_setnum(lua_State *L, const char *k, double v)
{
    if (!isnan(v)) {
        lua_pushnumber(L, v);
        lua_setfield(L, -2, k);
    }
}

static void s_setstr(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static void s_setint(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* Pushes `s` as a table with the JSON Lines keys, remembered (weakly)
 * with a copy of the signal for sink.json. Raises on out of memory: call
 * it protected. */
static int l_push_signal(lua_State *L)
{
    const struct signal *s = lua_touserdata(L, 1);
    struct signal *copy;

    lua_createtable(L, 0, 20);
    s_setint(L, "ver", SIGNAL_VERSION);
    s_setstr(L, "id", s->id);
    s_setstr(L, "engine", s->eng);
    s_setstr(L, "strategy", s->strat);
    s_setstr(L, "symbol", s->sym);
    s_setstr(L, "action", signal_action_name(s->act));
    s_setint(L, "bar_ts", s->t);
    s_setint(L, "ordinal", s->ord);
    s_setnum(L, "price", s->px);
    s_setnum(L, "size", s->size);
    s_setnum(L, "limit", s->limit);
    s_setnum(L, "stop", s->stop);
    s_setnum(L, "sl", s->sl);
    s_setnum(L, "tp", s->tp);
    if (s->tag[0])
        s_setstr(L, "tag", s->tag);
    s_setnum(L, "position", s->pos);
    s_setnum(L, "confidence", s->conf);
    lua_createtable(L, 0, s->nind);
    for (int i = 0; i < s->nind; i++)
        s_setnum(L, s->ind[i].name, s->ind[i].v);
    lua_setfield(L, -2, "indicators");
    s_setint(L, "seq", (lua_Integer)s->seq);
    s_setint(L, "pub", (lua_Integer)s->pub);
    s_setint(L, "ts", s->ts);

    lua_getfield(L, LUA_REGISTRYINDEX, SIGS_KEY);
    lua_pushvalue(L, -2);
    copy = lua_newuserdatauv(L, sizeof *copy, 0);
    *copy = *s;
    lua_rawset(L, -3);
    lua_pop(L, 1);
    return 1;
}

/* on_signal at 1, the struct signal at 2 (light userdata): builds the
 * table and calls on_signal(sig), all under one budget. */
static int l_call_signal(lua_State *L)
{
    lua_pushcfunction(L, l_push_signal);
    lua_pushvalue(L, 2);
    lua_call(L, 1, 1);
    lua_remove(L, 2);
    lua_call(L, 1, 0);
    return 0;
}

/* The sink table, the signal map, and print() writing to the output. */
static void s_register(lua_State *L, struct lua_out *lo)
{
    static const luaL_Reg fns[] = {
        { "write", l_write }, { "print", l_print }, { "log", l_log },
        { "json", l_json }, { "time", l_time }, { "iso", l_iso },
        { NULL, NULL }
    };

    lua_pushlightuserdata(L, lo);
    lua_setfield(L, LUA_REGISTRYINDEX, "livetrade.sink.out");
    lua_newtable(L);                        /* weak-keyed: table -> copy */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, SIGS_KEY);
    luaL_newlib(L, fns);
    lua_pushstring(L, s_cfg.output ? s_cfg.output : "-");
    lua_setfield(L, -2, "output");
    lua_setglobal(L, "sink");
    lua_pushcfunction(L, l_print);
    lua_setglobal(L, "print");
}

/* A callback the script defines: a field of the table the chunk returned
 * (at `mod`, 0: none), else a global. Registry ref or LUA_NOREF. */
static int s_ref_fn(lua_State *L, int mod, const char *name)
{
    if (mod)
        lua_getfield(L, mod, name);
    if (!mod || lua_isnil(L, -1)) {
        if (mod)
            lua_pop(L, 1);
        lua_getglobal(L, name);
    }
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        return LUA_NOREF;
    }
    return luaL_ref(L, LUA_REGISTRYINDEX);
}

/* Flushes the output; ERR_OK, or ERR_IO with errno set. */
static int s_flush(struct lua_out *lo)
{
    int e = lo->out_errno;

    if (fflush(lo->out) != 0 && !e)
        e = errno ? errno : EIO;
    lo->out_errno = 0;
    if (!e)
        return ERR_OK;
    clearerr(lo->out);
    errno = e;
    return ERR_IO;
}

static void s_close(void **state);

static int s_open(void **state, char *info, char *err)
{
    struct lua_out *lo;
    lua_State *L;
    char why[ERR_LEN];
    int mod = 0, ref_start;
    FILE *f;

    if (!s_cfg.script || !s_cfg.script[0]) {
        snprintf(err, ERR_LEN, "lua: --script is required");
        return ERR_USAGE;
    }
    if (s_cfg.budget < 1000 || s_cfg.memory_mb < 1 ||
        s_cfg.memory_mb > 65536) {
        snprintf(err, ERR_LEN, "lua: --budget must be at least 1000 and "
                 "--memory-mb between 1 and 65536");
        return ERR_USAGE;
    }
    f = fopen(s_cfg.script, "r");
    if (!f) {
        snprintf(err, ERR_LEN, "lua: cannot open script %s: %s",
                 s_cfg.script, strerror(errno));
        return ERR_USAGE;
    }
    fclose(f);
    lo = calloc(1, sizeof *lo);
    if (!lo) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    snprintf(lo->script, sizeof lo->script, "%s", s_cfg.script);
    lo->lim_err = lo->lim_budget = (struct log_limit)LOG_LIMIT_INIT;
    lo->ref_signal = lo->ref_stop = LUA_NOREF;
    lo->out = stdout;
    if (s_cfg.output && strcmp(s_cfg.output, "-") != 0) {
        int fd = open(s_cfg.output, O_WRONLY | O_APPEND | O_CREAT |
                      O_CLOEXEC, 0644);
        lo->out = fd >= 0 ? fdopen(fd, "a") : NULL;
        if (!lo->out) {
            snprintf(err, ERR_LEN, "lua: cannot open %s for appending: %s",
                     s_cfg.output, strerror(errno));
            if (fd >= 0)
                close(fd);
            free(lo);
            return ERR_IO;
        }
        lo->own_out = 1;
    }
    *state = lo;
    L = lo->L = sandbox_new(lo->script,
                            (size_t)s_cfg.memory_mb << 20,
                            s_cfg.budget);
    if (!L) {
        snprintf(err, ERR_LEN, "out of memory");
        s_close(state);
        return ERR_NOMEM;
    }
    s_register(L, lo);
    if (luaL_loadfilex(L, lo->script, "t") != LUA_OK) {
        snprintf(err, ERR_LEN, "%s", lua_tostring(L, -1));
        goto fail;
    }
    if (sandbox_pcall(L, 0, 1, why) != ERR_OK) {
        snprintf(err, ERR_LEN, "%s", why);
        goto fail;
    }
    if (lua_istable(L, -1))
        mod = lua_gettop(L);
    lo->ref_signal = s_ref_fn(L, mod, "on_signal");
    lo->ref_stop = s_ref_fn(L, mod, "on_stop");
    ref_start = s_ref_fn(L, mod, "on_start");
    lua_settop(L, 0);
    if (lo->ref_signal == LUA_NOREF) {
        snprintf(err, ERR_LEN, "%.200s: defines no function on_signal(sig)",
                 lo->script);
        goto fail;
    }
    if (ref_start != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref_start);
        luaL_unref(L, LUA_REGISTRYINDEX, ref_start);
        if (sandbox_pcall(L, 0, 0, why) != ERR_OK) {
            snprintf(err, ERR_LEN, "on_start: %.240s", why);
            goto fail;
        }
    }
    if (s_flush(lo) != ERR_OK) {
        snprintf(err, ERR_LEN, "%s: %s", s_cfg.output ? s_cfg.output :
                 "stdout", strerror(errno));
        goto fail;
    }
    snprintf(info, ERR_LEN, "script %.100s writing to %.100s", lo->script,
             s_cfg.output ? s_cfg.output : "stdout");
    return ERR_OK;
fail:
    /* on_stop belongs to a script that started: not called here. */
    if (lo->ref_stop != LUA_NOREF)
        luaL_unref(L, LUA_REGISTRYINDEX, lo->ref_stop);
    lo->ref_stop = LUA_NOREF;
    s_close(state);
    return ERR_LUA;
}

static int s_write(void *state, const struct signal *s)
{
    struct lua_out *lo = state;
    lua_State *L = lo->L;
    char why[ERR_LEN];

    lo->calls++;
    lua_settop(L, 0);
    lua_pushcfunction(L, l_call_signal);
    lua_rawgeti(L, LUA_REGISTRYINDEX, lo->ref_signal);
    lua_pushlightuserdata(L, (void *)s);
    if (sandbox_pcall(L, 2, 0, why) != ERR_OK) {
        int budget = strstr(why, ": instruction budget of ") != NULL ||
                     strstr(why, ": time limit of ") != NULL;
        lo->errors++;
        lo->budget_errors += (uint64_t)budget;
        log_limited(budget ? &lo->lim_budget : &lo->lim_err, LL_ERROR,
                    "lua: on_signal failed for signal %s (%s %s): %s; "
                    "%llu errors so far", s->id, s->sym,
                    signal_action_name(s->act), why,
                    (unsigned long long)lo->errors);
    }
    lua_settop(L, 0);
    return s_flush(lo);
}

static void s_close(void **state)
{
    struct lua_out *lo = *state;
    char why[ERR_LEN];

    if (!lo)
        return;
    if (lo->L && lo->ref_stop != LUA_NOREF) {
        lua_rawgeti(lo->L, LUA_REGISTRYINDEX, lo->ref_stop);
        if (sandbox_pcall(lo->L, 0, 0, why) != ERR_OK)
            log_msg(LL_ERROR, "lua: on_stop: %s", why);
    }
    if (lo->L && lo->calls)
        log_msg(LL_INFO, "lua: %s: %llu signals handed to on_signal, %llu "
                "errors (%llu over the instruction budget)", lo->script,
                (unsigned long long)lo->calls,
                (unsigned long long)lo->errors,
                (unsigned long long)lo->budget_errors);
    if (lo->out && s_flush(lo) != ERR_OK)
        log_msg(LL_ERROR, "lua: %s: %s", s_cfg.output ? s_cfg.output :
                "stdout", strerror(errno));
    sandbox_close(&lo->L);
    if (lo->own_out && fclose(lo->out) != 0)
        log_msg(LL_ERROR, "lua: %s: close: %s", s_cfg.output,
                strerror(errno));
    free(lo);
    *state = NULL;
}

const struct sink_ops sink_lua = {
    .name = "lua",
    .summary = "hand each signal to on_signal(sig) in a Lua script",
    .usage = "--script FILE [--output FILE] [--budget N] [--memory-mb N]",
    .opts = s_opts,
    .open = s_open,
    .write = s_write,
    .close = s_close,
};
