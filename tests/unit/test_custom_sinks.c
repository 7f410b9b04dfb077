/* test_custom_sinks.c -- what the lua and exec outputs rest on: `--` in
 * the flag parser, the script sandbox (budget that pcall cannot swallow,
 * memory cap, no io/os) and sink.json. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <jansson.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../sink/sink.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "sandbox.h"
#include "util.h"

static void test_rest_after_dashes(void **state)
{
    int64_t queue = 0;
    struct opt_rest rest = { 0, NULL };
    const struct opt opts[] = {
        { "queue", OPT_INT, &queue, NULL, "N", "" },
        { "", OPT_REST, &rest, NULL, "CMD", "" },
        { 0 }
    };
    const char *argv[] = { "prog", "exec", "--queue", "5", "--", "cmd",
                           "--queue", "x", "--help", NULL };
    const char *bad[] = { "prog", "exec", "--=cmd", NULL };
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(config_parse(opts, 9, (char **)argv, 2, NULL, 0, NULL,
                                  err), 0);
    assert_int_equal(queue, 5);
    assert_int_equal(rest.argc, 4);
    assert_string_equal(rest.argv[0], "cmd");
    assert_string_equal(rest.argv[3], "--help");
    assert_null(rest.argv[4]);
    /* The rest is reachable through `--` only. */
    assert_int_equal(config_parse(opts, 3, (char **)bad, 2, NULL, 0, NULL,
                                  err), ERR_USAGE);
    assert_non_null(strstr(err, "unknown flag"));
}

static void test_dashes_without_rest(void **state)
{
    const struct opt opts[] = { { 0 } };
    const char *argv[] = { "prog", "--", "a", NULL };
    const char *pos[2];
    char err[ERR_LEN];
    int npos = 0;
    (void)state;

    /* Programs without an OPT_REST entry see `--` as a positional. */
    assert_int_equal(config_parse(opts, 3, (char **)argv, 1, pos, 2, &npos,
                                  err), 0);
    assert_int_equal(npos, 2);
    assert_string_equal(pos[0], "--");
}

/* Runs `code` in a fresh sandbox; its status, message in err. */
static int s_run(const char *code, size_t mem, long long budget, char *err)
{
    lua_State *L = sandbox_new("t", mem, budget);
    int rc;

    assert_non_null(L);
    if (luaL_loadbufferx(L, code, strlen(code), "=t", "t") != LUA_OK) {
        snprintf(err, ERR_LEN, "%s", lua_tostring(L, -1));
        sandbox_close(&L);
        return ERR_PARSE;
    }
    rc = sandbox_pcall(L, 0, 0, err);
    sandbox_close(&L);
    assert_null(L);
    return rc;
}

static void test_sandbox_limits(void **state)
{
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(s_run("assert(io == nil and os == nil and debug == nil "
                           "and require == nil and load == nil and "
                           "string.dump == nil)", 0, 0, err), ERR_OK);
    assert_int_equal(s_run("while true do end", 0, 100000, err), ERR_LUA);
    assert_non_null(strstr(err, "t:1: instruction budget of 100000"));
    /* pcall and xpcall do not swallow the budget. */
    assert_int_equal(s_run("while true do pcall(function() while true do "
                           "end end) end", 0, 100000, err), ERR_LUA);
    assert_non_null(strstr(err, "instruction budget"));
    assert_int_equal(s_run("while true do xpcall(function() while true do "
                           "end end, function(e) return e end) end", 0,
                           100000, err), ERR_LUA);
    assert_non_null(strstr(err, "instruction budget"));
    /* Within the budget they work as usual. */
    assert_int_equal(s_run("local ok, e = pcall(error, 'x', 0) "
                           "assert(not ok and e == 'x') "
                           "local a, b = xpcall(function() return 7 end, "
                           "print) assert(a and b == 7)", 0, 0, err),
                     ERR_OK);
    assert_int_equal(s_run("local t = {} for i = 1, 1e7 do t[i] = i end",
                           1u << 20, 0, err), ERR_LUA);
    assert_non_null(strstr(err, "not enough memory"));
}

/* Runs `code` in a sandbox with a time limit of `ms`; its status, the
 * message in err, and the time it took in *took. */
static int s_run_timed(const char *code, long long budget, int64_t ms,
                       char *err, int64_t *took)
{
    lua_State *L = sandbox_new("t", 0, budget);
    int64_t t0 = mono_ms();
    int rc;

    assert_non_null(L);
    sandbox_set_time_limit(L, ms);
    assert_int_equal(luaL_loadbufferx(L, code, strlen(code), "=t", "t"),
                     LUA_OK);
    rc = sandbox_pcall(L, 0, 0, err);
    sandbox_close(&L);
    *took = mono_ms() - t0;
    return rc;
}

/* What Lua runs without its count hook -- finalizers and C library
 * functions -- cannot hold the process: each case ends at once with one
 * error naming the function. */
static void test_sandbox_no_hang(void **state)
{
    static const struct {
        const char *code, *msg;
    } bad[] = {
        { "setmetatable({}, {__gc = function() while true do end end}) "
          "collectgarbage()", "t:1: setmetatable: __gc" },
        { "string.rep('', math.maxinteger)", "t:1: string.rep" },
        { "local s = ('x'):rep(1e6):rep(1e4)", "string.rep: 10000 copies" },
        { "('a'):rep(3000):find('.-.-.-.-b')", "t:1: string.find: pattern" },
        { "('a'):rep(3000):match('a-a-a-a-b')", "string.match" },
        { "for w in ('a'):rep(1e5):gmatch('a-b') do end", "string.gmatch" },
        { "('a'):rep(1e5):gsub('%s*x', '')", "string.gsub" },
        { "local s = ('a'):rep(1e6) s:find(s:sub(1, 5e5) .. 'b', 1, true)",
          "t:1: string.find: pattern 'aaaa" },
        { "local s = ('a'):rep(1e6) s:find(s:sub(1, 5e5) .. 'b')",
          "string.find" },
        { "table.move({}, 1, 1e15, 1, {})", "t:1: table.move: a range" },
        { "table.concat(setmetatable({}, {__index = table.concat}), '', 1, "
          "1e15)", "table.concat" },
        { "table.concat(setmetatable({}, {__index = table.concat, "
          "__len = function() return 1e15 end}))", "table.concat" },
        { "table.remove(setmetatable({}, {__len = function() return 1e15 "
          "end}), 1)", "table.remove" },
        { "table.insert(setmetatable({}, {__len = function() return 1e15 "
          "end}), 1, 0)", "table.insert" },
        { "table.sort(setmetatable({}, {__len = function() return 2e9 end, "
          "__index = rawlen}), rawequal)", "table.sort" },
        /* a caught refusal does not hide the finalizer either */
        { "local mt = {} pcall(setmetatable, {}, {__gc = print}) "
          "local t = setmetatable({}, mt) mt.__gc = function() while true "
          "do end end t = nil collectgarbage() error('done', 0)", "done" },
    };
    char err[ERR_LEN];
    int64_t took;
    (void)state;

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (s_run_timed(bad[i].code, 0, 0, err, &took) != ERR_LUA ||
            !strstr(err, bad[i].msg))
            fail_msg("%s: got '%s'", bad[i].code, err);
    }
    /* Within the caps they work as usual. */
    assert_int_equal(s_run_timed(
        "assert(('ab'):rep(3, ',') == 'ab,ab,ab') "
        "assert(('x'):rep(0) == '' and #('x'):rep(1e6) == 1e6) "
        "local k, v = ('n=12'):match('^(%w+)=(%d+)$') "
        "assert(k == 'n' and v == '12') "
        "assert(('a b  c'):gsub('%s+', ' ') == 'a b c') "
        "assert(('a.b'):find('.', 1, true) == 2) "
        "local n = 0 for w in ('a,b,c'):gmatch('[^,]+') do n = n + 1 end "
        "assert(n == 3) "
        "local t = {3, 1, 2} table.sort(t) table.insert(t, 4) "
        "table.remove(t, 1) assert(table.concat(t, ',') == '2,3,4') "
        "assert(table.move({1, 2}, 1, 2, 2)[3] == 2) "
        "assert(getmetatable(setmetatable({}, {__index = t})).__index == t)",
        0, 0, err, &took), ERR_OK);
    /* The wall-clock limit: a loop of capped calls each too cheap for the
     * caps, and a loop over a huge budget, both end at the limit; pcall
     * does not swallow it. */
    assert_int_equal(s_run_timed("local s = ('a'):rep(200) while true do "
                                 "s:find('.-.-b') end", 1000000000000000LL,
                                 300, err, &took), ERR_LUA);
    assert_non_null(strstr(err, "time limit of 300 ms per call exceeded"));
    assert_true(took < 10000);
    assert_int_equal(s_run_timed("while true do pcall(function() while true "
                                 "do end end) end", 1000000000000000LL, 300,
                                 err, &took), ERR_LUA);
    assert_non_null(strstr(err, "t:1: time limit of 300 ms"));
    assert_true(took < 10000);
}

/* A loop of instructions each too slow for the count hook's pace: an
 * upper() of 10 MB each, so the hook's HOOK_EVERY (1000) instructions
 * take seconds. The watchdog ends it soon after the time
 * limit all the same. */
static void test_sandbox_watchdog(void **state)
{
    static const char *code = "local s = ('x'):rep(1e7) "
                              "while true do s:upper():upper():upper() end";
    char err[ERR_LEN];
    int64_t took;
    (void)state;

    assert_int_equal(s_run_timed(code, 1000000000000LL, 100, err, &took),
                     ERR_LUA);
    assert_non_null(strstr(err, "t:1: time limit of 100 ms"));
    assert_true(took < 1000);
}

/* The pattern cost estimate: linear for no quantifier, a power of the
 * subject length per quantifier, one start when anchored. */
static void test_pattern_cost(void **state)
{
    (void)state;
    assert_true(sandbox_pattern_cost("abc", 3, 9) == 10 * 4);
    assert_true(sandbox_pattern_cost("^abc", 4, 9) == 5);
    assert_true(sandbox_pattern_cost("a*b", 3, 9) == 10 * 4 * 10);
    assert_true(sandbox_pattern_cost("[%]*]+", 6, 9) == 10 * 7 * 10);
    assert_true(sandbox_pattern_cost("%b()%1", 6, 9) == 10 * 7 * 100);
    assert_true(sandbox_pattern_cost("a?", 2, 9) == 10 * 3 * 2);
}

/* Reads `path` into buf[n] (what fits), NUL-terminated. */
static void s_slurp(const char *path, char *buf, size_t n)
{
    FILE *f = fopen(path, "r");
    size_t k;

    assert_non_null(f);
    k = fread(buf, 1, n - 1, f);
    buf[k] = '\0';
    fclose(f);
}

/* sink.json and sink.iso as a script of the lua output sees them: the
 * signal's JSON Lines object, tables, NaN, and an error (not a crash)
 * for a value JSON cannot hold. */
static void test_sink_json(void **state)
{
    static const char code[] =
        "function on_signal(sig)\n"
        "  assert(sig.symbol == 'AAPL' and sig.action == 'sell')\n"
        "  assert(sig.size == nil and sig.tp == 105 and sig.tag == 'x')\n"
        "  assert(sig.indicators.a == 1.5 and sig.indicators.b == nil)\n"
        "  assert(math.type(sig.bar_ts) == 'integer')\n"
        "  sink.print(sink.json(sig))\n"
        "  sink.print(sink.json({1, 2, {k = 'v'}}))\n"
        "  sink.print(sink.json({}), sink.json(0/0), sink.iso(sig.bar_ts))\n"
        "  sink.print(pcall(sink.json, sink.write))\n"
        "end\n";
    char dir[] = "/tmp/lt_test_XXXXXX", script[64], out[64], arg_s[80],
        arg_o[80], err[ERR_LEN], info[ERR_LEN], buf[4096], head[2048],
        *want;
    const char *argv[] = { "lua", arg_s, arg_o, NULL };
    void *lo = NULL;
    struct signal s;
    json_t *j;
    FILE *f;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(script, sizeof script, "%s/s.lua", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(arg_s, sizeof arg_s, "--script=%s", script);
    snprintf(arg_o, sizeof arg_o, "--output=%s", out);
    f = fopen(script, "w");
    assert_non_null(f);
    fputs(code, f);
    fclose(f);
    assert_int_equal(config_parse(sink_lua.opts, 3, (char **)argv, 1, NULL,
                                  0, NULL, err), 0);
    assert_int_equal(sink_lua.open(&lo, info, err), 0);

    memset(&s, 0, sizeof s);
    snprintf(s.id, sizeof s.id, "0123456789abcdef");
    snprintf(s.eng, sizeof s.eng, "e1");
    snprintf(s.strat, sizeof s.strat, "s");
    snprintf(s.sym, sizeof s.sym, "AAPL");
    snprintf(s.tag, sizeof s.tag, "x");
    s.act = SIG_SELL;
    s.t = 1767225600000;
    s.px = 100.25;
    s.size = s.limit = s.stop = s.sl = s.pos = NAN;
    s.tp = 105;
    s.conf = 0.5;
    s.nind = 2;
    snprintf(s.ind[0].name, SIG_NAME, "a");
    s.ind[0].v = 1.5;
    snprintf(s.ind[1].name, SIG_NAME, "b");
    s.ind[1].v = NAN;
    s.seq = 3;
    s.pub = 9;
    assert_int_equal(sink_lua.write(lo, &s), 0);
    sink_lua.close(&lo);
    assert_null(lo);

    j = msg_signal_to_json(&s);
    want = json_dumps(j, JSON_COMPACT);
    snprintf(head, sizeof head, "%s\n[1,2,{\"k\":\"v\"}]\n"
             "{}\tnull\t2026-01-01T00:00:00.000Z\nfalse\t", want);
    s_slurp(out, buf, sizeof buf);
    assert_int_equal(strncmp(buf, head, strlen(head)), 0);
    /* Values JSON cannot hold are errors, not crashes. */
    assert_non_null(strstr(buf + strlen(head), "sink.json"));
    free(want);
    json_decref(j);
    unlink(script);
    unlink(out);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rest_after_dashes),
        cmocka_unit_test(test_dashes_without_rest),
        cmocka_unit_test(test_sandbox_limits),
        cmocka_unit_test(test_sandbox_no_hang),
        cmocka_unit_test(test_pattern_cost),
        cmocka_unit_test(test_sandbox_watchdog),
        cmocka_unit_test(test_sink_json),
    };
    log_level = LL_ERROR;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
