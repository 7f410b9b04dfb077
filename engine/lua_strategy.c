/* lua_strategy.c -- a strategy as a Lua object: the Strategy{} class and
 * its parameters, self.data, and the calls into the file, init() and
 * next(), and the memory share of each instance. The state it runs in,
 * the limits of each call and the hints for Python habits are the
 * sandbox's (lua/sandbox.h); series live in lua_series.c, orders in
 * lua_broker.c, indicators in lua_indicators.c. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "indicator.h"
#include "lua_int.h"

/* Each new instance's own cap (strategy_set_memory_share). */
static size_t s_mem_inst_cap = STRAT_MEM_DEFAULT;

struct strategy *lt_self(lua_State *L)
{
    return (struct strategy *)sandbox_self(L);
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
    sandbox_error(L, "%s called with a dot: write %s (a method takes a colon, "
                  "which passes the object itself)", dot, call);
}

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
            return sandbox_error(L, "Strategy{}: parameter names must be "
                                 "strings");
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
    lua_pop(L, 1);
    sandbox_hints_globals(L);
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
    lua_State *L = s->sb.L;
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

/* A call into Lua with its limits; the error in err carries a hint for
 * a Python habit. */
static int s_pcall(struct strategy *s, int nargs, char *err)
{
    int rc = sandbox_pcall(s->sb.L, nargs, 1, err);

    if (rc)
        sandbox_hint(err, ERR_LEN);
    return rc;
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
    snprintf(s->sb.sym, sizeof s->sb.sym, "%s", symbol);
    s->data = data;
    s->start = -1;
    s->sb.mem_cap = s_mem_inst_cap;
    {
        struct broker_cfg def;
        broker_cfg_default(&def);
        s->broker = broker_new(bcfg ? bcfg : &def, err);
        if (!s->broker) {
            *rc = ERR_USAGE;
            goto fail;
        }
    }
    s->sb.budget = STRAT_BUDGET_DEFAULT;
    s->sb.time_ms = STRAT_TIME_MS_DEFAULT;
    s->ref_self = s->ref_next = LUA_NOREF;
    base = strrchr(path, '/');
    snprintf(s->sb.name, sizeof s->sb.name, "%s", base ? base + 1 : path);
    if (strlen(s->sb.name) > 4 &&
        strcmp(s->sb.name + strlen(s->sb.name) - 4, ".lua") == 0)
        s->sb.name[strlen(s->sb.name) - 4] = '\0';

    f = fopen(path, "r");
    if (!f) {
        snprintf(err, ERR_LEN, "%s: cannot open strategy file", path);
        *rc = ERR_NOTFOUND;
        goto fail;
    }
    fclose(f);
    L = sandbox_open(&s->sb);
    if (!L) {
        snprintf(err, ERR_LEN, "cannot create a Lua state");
        goto fail;
    }
    s_register(L);
    sandbox_lock(L);

    *rc = ERR_LUA;
    if (luaL_loadfilex(L, path, "t") != LUA_OK) {
        snprintf(err, ERR_LEN, "%s", lua_tostring(L, -1));
        sandbox_hint(err, ERR_LEN);
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
        snprintf(s->sb.name, sizeof s->sb.name, "%s", lua_tostring(L, -1));
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
    if (s->sb.L)
        lua_close(s->sb.L);
    lt_indicators_free(s);
    broker_destroy(&s->broker);
    free(s);
    *self_p = NULL;
}

int strategy_on_bar(strategy_t *s, char *err)
{
    lua_State *L = s->sb.L;
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

const char *strategy_name(const strategy_t *s) { return s->sb.name; }
const char *strategy_params(const strategy_t *s) { return s->params; }

broker_t *strategy_broker(const strategy_t *s) { return s->broker; }
int64_t strategy_start(const strategy_t *s) { return s->start; }
int strategy_out_of_money(const strategy_t *s) { return s->stopped; }

void strategy_set_budget(strategy_t *s, long long instructions)
{
    s->sb.budget = instructions > 0 ? instructions : STRAT_BUDGET_DEFAULT;
}

void strategy_set_time_limit(strategy_t *s, int64_t ms)
{
    s->sb.time_ms = ms > 0 ? ms : STRAT_TIME_MS_DEFAULT;
}

void strategy_set_memory_cap(size_t total)
{
    sandbox_set_total_cap(total);
}

int strategy_set_memory_share(int instances, char *err)
{
    size_t total = sandbox_total_cap();
    size_t share = total / (size_t)(instances > 0 ? instances : 1);

    if (share < STRAT_MEM_MIN) {
        snprintf(err, ERR_LEN, "--memory-mb %zu gives each of the %d "
                 "symbols %zu KiB of Lua memory; a strategy needs at least "
                 "%u MiB: raise --memory-mb or run fewer symbols per "
                 "engine", total >> 20, instances, share >> 10,
                 STRAT_MEM_MIN >> 20);
        return ERR_USAGE;
    }
    s_mem_inst_cap = share < STRAT_MEM_DEFAULT ? share : STRAT_MEM_DEFAULT;
    return ERR_OK;
}

/* {==================== the bars kept (--keep-bars) ========== */

void strat_data_keep(struct strat_data *d, size_t bars)
{
    series_keep(&d->open, bars);
    series_keep(&d->high, bars);
    series_keep(&d->low, bars);
    series_keep(&d->close, bars);
    series_keep(&d->volume, bars);
    series_keep(&d->time, bars);
    for (int j = 0; j < d->nextra; j++)
        series_keep(&d->extra[j], bars);
}

size_t strat_data_bar_bytes(const struct strat_data *d, const strategy_t *s)
{
    return (size_t)(6 + d->nextra + (s ? strategy_nind(s) : 0) + 1) *
           sizeof(double);
}

void strategy_keep(strategy_t *s, size_t bars)
{
    for (int k = 0; k < s->nind; k++)
        indicator_keep(s->ind[k], bars);
    broker_keep(s->broker, bars);
}

static const char *s_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* At p (just after a series expression): `[` and a whole number or `#`,
 * an index counted from the first bar. */
static int s_from_first(const char *p)
{
    p = s_skip_ws(p);
    if (*p != '[')
        return 0;
    p = s_skip_ws(p + 1);
    return (*p >= '1' && *p <= '9') || *p == '#';
}

static int s_ident(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* One line of source (comment cut off): what in it reads bars counted
 * from the first, into what[len]; 0 if nothing. */
static int s_far_read(const struct strategy *s, const char *line,
                      char *what, size_t len)
{
    const char *p, *q;

    for (p = line; (p = strstr(p, "data.")) != NULL; p++) {
        if (p > line && s_ident((unsigned char)p[-1]))
            continue;
        for (q = p + 5; s_ident((unsigned char)*q); q++)
            ;
        if (q > p + 5 && s_from_first(q)) {
            snprintf(what, len, "%.*s[%c...] (an index counted from the "
                     "first bar)", (int)(q - p), p, *s_skip_ws(
                     s_skip_ws(q) + 1));
            return 1;
        }
    }
    for (int k = 0; k < s->nind; k++) {
        const char *nm = s->ind_name[k];
        size_t n = strlen(nm);
        if (!n || !s_ident((unsigned char)nm[0]) || strchr(nm, '('))
            continue;
        for (p = line; (p = strstr(p, "self.")) != NULL; p++)
            if (strncmp(p + 5, nm, n) == 0 &&
                !s_ident((unsigned char)p[5 + n]) &&
                s_from_first(p + 5 + n)) {
                snprintf(what, len, "self.%s[...] (an index counted from "
                         "the first bar)", nm);
                return 1;
            }
    }
    if ((p = strstr(line, "quantile(")) != NULL &&
        strncmp(s_skip_ws(p + 9), "self.", 5) == 0) {
        snprintf(what, len, "quantile(self....) (every bar of a series)");
        return 1;
    }
    if ((p = strstr(line, "barssince(")) != NULL &&
        strncmp(s_skip_ws(p + 10), "self.", 5) == 0) {
        snprintf(what, len, "barssince(self....) (back to the first bar "
                 "when the condition was never true)");
        return 1;
    }
    for (p = line; (p = strchr(p, '#')) != NULL; p++) {
        q = p;
        while (q > line && (q[-1] == ' ' || q[-1] == '\t'))
            q--;
        if (q > line && q[-1] == ',') {
            q--;
            while (q > line && (q[-1] == ' ' || q[-1] == '\t'))
                q--;
            if (q > line && q[-1] == '1' &&
                (q - 1 == line || !s_ident((unsigned char)q[-2]))) {
                snprintf(what, len, "a loop from bar 1 to #... (every "
                         "bar)");
                return 1;
            }
        }
    }
    return 0;
}

int strategy_far_reads(const strategy_t *s, char *out, size_t len)
{
    FILE *f = fopen(s->path, "r");
    char line[1024], what[160];
    int found = 0, lineno = 0;

    out[0] = '\0';
    for (int k = 0; k < s->nind; k++) {
        struct lind *li = lt_lind(s, k);
        if (s->ind[k]->kind != IND_EXTERNAL || li->rs || li->window)
            continue;
        if (!found++)
            snprintf(out, len, "%s%sself:I(fn, ...) without {window = "
                     "N} (its function is passed every bar)", li->where,
                     li->where[0] && li->where[strlen(li->where) - 1] ==
                     ' ' ? "" : " ");
    }
    while (f && fgets(line, sizeof line, f)) {
        char *c = strstr(line, "--");
        lineno++;
        if (c)
            *c = '\0';
        if (!s_far_read(s, line, what, sizeof what))
            continue;
        if (!found++)
            snprintf(out, len, "%s:%d: %s", s->path, lineno, what);
    }
    if (f)
        fclose(f);
    return found;
}

/* }========================================================== */
