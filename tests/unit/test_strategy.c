/* The Lua strategy API: indexing, when next() first runs, crossover,
 * parameters, errors with file:line, the sandbox. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

/* cmocka's assert_float_equal compares as float; this one as double. */
#define assert_dbl_equal(a, b, eps) \
    assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#include "err.h"
#include "runner.h"
#include "strategy.h"

static char s_path[64];

/* Writes a strategy to a temporary file; returns its path. */
static const char *write_strategy(const char *src)
{
    int fd;
    snprintf(s_path, sizeof s_path, "/tmp/lt_test_XXXXXX.lua");
    fd = mkstemps(s_path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    return s_path;
}

static struct bar mkbar(int i, double c)
{
    struct bar b;
    memset(&b, 0, sizeof b);
    snprintf(b.sym, sizeof b.sym, "TEST");
    b.t = 1700000000000LL + i * 60000LL;
    b.tf = 60;
    b.o = b.h = b.l = b.c = c;
    b.vol = 100;
    return b;
}

struct sink {
    struct signal s[256];
    int n;
};

static void collect(void *arg, struct signal *s)
{
    struct sink *k = arg;
    if (k->n < 256)
        k->s[k->n++] = *s;
}

/* Negative and positive indexing, #, out of range -> nil, #self.data. The
 * strategy encodes what it sees in the tag of a buy() on every bar. */
static void test_indexing(void **state)
{
    const char *p = write_strategy(
        "local S = Strategy{}\n"
        "function S:next()\n"
        "  local c = self.data.Close\n"
        "  local tag = string.format('%g,%g,%g,%d,%d,%s,%s', c[-1], c[-2],\n"
        "    c[1], #c, #self.data, tostring(c[#c + 1]),\n"
        "    tostring(c[-#c - 1]))\n"
        "  self:buy{tag = tag}\n"
        "end\n"
        "return S\n");
    struct runner r;
    struct sink k = { .n = 0 };
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(runner_init(&r, p, "TEST", NULL, NULL, err), 0);
    for (int i = 0; i < 4; i++) {
        struct bar b = mkbar(i, 10 + i);
        runner_feed(&r, &b, collect, &k);
    }
    /* No indicators: next() starts at bar 1. */
    assert_int_equal(k.n, 3);
    assert_string_equal(k.s[0].tag, "11,10,10,2,2,nil,nil");
    assert_string_equal(k.s[2].tag, "13,12,10,4,4,nil,nil");
    assert_int_equal(k.s[2].t, 1700000000000LL + 3 * 60000LL);
    runner_free(&r);
    unlink(p);
}

/* SMA(3) and SMA(5): the last becomes valid at index 4, so next() first
 * runs at index 5, as backtesting.py. */
static void test_first_next(void **state)
{
    const char *p = write_strategy(
        "local S = Strategy{a = 3, b = 5}\n"
        "function S:init()\n"
        "  self.f = self:I(SMA, self.data.Close, self.a)\n"
        "  self.s = self:I(SMA, self.data.Close, self.b)\n"
        "end\n"
        "function S:next() self:buy{tag = tostring(#self.data)} end\n"
        "return S\n");
    struct runner r;
    struct sink k = { .n = 0 };
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(runner_init(&r, p, "TEST", NULL, NULL, err), 0);
    for (int i = 0; i < 8; i++) {
        struct bar b = mkbar(i, 100 + i);
        runner_feed(&r, &b, collect, &k);
    }
    assert_int_equal(k.n, 3);
    assert_string_equal(k.s[0].tag, "6");     /* index 5 = 6 bars */
    assert_int_equal(k.s[0].nind, 2);
    assert_string_equal(k.s[0].ind[0].name, "f");
    assert_dbl_equal(k.s[0].ind[0].v, (103 + 104 + 105) / 3.0, 1e-12);
    assert_dbl_equal(k.s[0].ind[1].v, (101 + 102 + 103 + 104 + 105) / 5.0,
                       1e-12);
    assert_true(strategy_lookback(r.strat) >= 6);
    runner_free(&r);
    unlink(p);
}

/* sma_cross over a zig-zag: every buy/sell must be at a bar where the two
 * SMAs, computed here by brute force, cross in the matching direction. */
static double mean(const double *x, int end, int n)
{
    double s = 0;
    for (int k = end - n + 1; k <= end; k++)
        s += x[k];
    return s / n;
}

static void test_crossover(void **state)
{
    const char *p = write_strategy(
        "local S = Strategy{n1 = 3, n2 = 7}\n"
        "function S:init()\n"
        "  self.a = self:I(SMA, self.data.Close, self.n1)\n"
        "  self.b = self:I(SMA, self.data.Close, self.n2)\n"
        "end\n"
        "function S:next()\n"
        "  if crossover(self.a, self.b) then self:buy()\n"
        "  elseif crossover(self.b, self.a) then self:sell() end\n"
        "end\n"
        "return S\n");
    struct runner r;
    struct sink k = { .n = 0 };
    char err[ERR_LEN];
    double x[200];
    int expect = 0, got = 0;
    (void)state;

    for (int i = 0; i < 200; i++)
        x[i] = 100 + 10 * sin(i / 5.0) + (i % 3);
    assert_int_equal(runner_init(&r, p, "TEST", NULL, NULL, err), 0);
    for (int i = 0; i < 200; i++) {
        struct bar b = mkbar(i, x[i]);
        runner_feed(&r, &b, collect, &k);
    }
    for (int i = 7; i < 200; i++) {
        double a1 = mean(x, i, 3), b1 = mean(x, i, 7);
        double a2 = mean(x, i - 1, 3), b2 = mean(x, i - 1, 7);
        int act = -1;
        if (a2 < b2 && a1 > b1)
            act = SIG_BUY;
        else if (b2 < a2 && b1 > a1)
            act = SIG_SELL;
        if (act < 0)
            continue;
        assert_true(got < k.n);
        assert_int_equal(k.s[got].t, mkbar(i, 0).t);
        assert_int_equal(k.s[got].act, act);
        assert_int_equal(k.s[got].ord, 0);
        assert_true(k.s[got].conf >= 0.5 && k.s[got].conf <= 1);
        got++;
        expect++;
    }
    assert_true(expect > 5);
    assert_int_equal(k.n, expect);
    runner_free(&r);
    unlink(p);
}

/* crossover with numbers and cross() in both directions. */
static void test_crossover_numbers(void **state)
{
    const char *p = write_strategy(
        "local S = Strategy{}\n"
        "function S:next()\n"
        "  local c = self.data.Close\n"
        "  if crossover(c, 10) then self:buy{tag='up'} end\n"
        "  if crossover(10, c) then self:sell{tag='down'} end\n"
        "  if cross(c, 10) then self.position:close() end\n"
        "  if crossover({1, 2}, {2, 1}) then self:buy{tag='tables'} end\n"
        "end\n"
        "return S\n");
    const double x[] = { 9, 11, 10, 10, 9, 12 };
    struct runner r;
    struct sink k = { .n = 0 };
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(runner_init(&r, p, "TEST", NULL, NULL, err), 0);
    for (int i = 0; i < 6; i++) {
        struct bar b = mkbar(i, x[i]);
        runner_feed(&r, &b, collect, &k);
    }
    /* 9->11 up; 11->10 and 10->9 touch 10: no cross; 9->12 up again.
     * Tables: {1,2} vs {2,1} crosses on every bar. */
    assert_int_equal(k.n, 5 + 2 * 2);
    assert_string_equal(k.s[0].tag, "up");
    assert_int_equal(k.s[1].act, SIG_CLOSE);
    assert_int_equal(k.s[1].ord, 1);
    assert_string_equal(k.s[2].tag, "tables");
    runner_free(&r);
    unlink(p);
}

static void test_params(void **state)
{
    const char *p = write_strategy(
        "local S = Strategy{n = 3, mode = 'x', on = true}\n"
        "function S:next()\n"
        "  self:buy{tag = string.format('%s,%s,%s', math.type(self.n),\n"
        "    self.mode, tostring(self.on))}\n"
        "end\n"
        "return S\n");
    struct opt_multi ok = { 3, { "n=5", "mode=fast", "on=false" } };
    struct opt_multi unknown = { 1, { "m=5" } };
    struct opt_multi badnum = { 1, { "n=five" } };
    struct runner r;
    struct sink k = { .n = 0 };
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(runner_init(&r, p, "TEST", &unknown, NULL, err), ERR_USAGE);
    assert_non_null(strstr(err, "unknown strategy parameter 'm'"));
    assert_int_equal(runner_init(&r, p, "TEST", &badnum, NULL, err), ERR_USAGE);
    assert_int_equal(runner_init(&r, p, "TEST", &ok, NULL, err), 0);
    assert_string_equal(strategy_params(r.strat), "mode=fast,n=5,on=false");
    for (int i = 0; i < 2; i++) {
        struct bar b = mkbar(i, 10);
        runner_feed(&r, &b, collect, &k);
    }
    assert_string_equal(k.s[0].tag, "integer,fast,false");
    runner_free(&r);
    unlink(p);
}

/* Errors at load and in init() name file:line; an error in next()
 * disables the strategy with file:line, and later bars are still stored. */
static void test_errors(void **state)
{
    struct runner r;
    char err[ERR_LEN], want[128];
    const char *p;
    (void)state;

    p = write_strategy("local S = Strategy{}\nfunction S:init(\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), ERR_LUA);
    snprintf(want, sizeof want, "%s:3:", p);
    assert_non_null(strstr(err, want));
    unlink(p);

    p = write_strategy("local S = Strategy{}\nfunction S:init()\n"
                       "  error('boom')\nend\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), ERR_LUA);
    snprintf(want, sizeof want, "%s:3: boom", p);
    assert_non_null(strstr(err, want));
    unlink(p);

    assert_int_equal(runner_init(&r, "/nonexistent.lua", "T", NULL, NULL, err),
                     ERR_NOTFOUND);

    p = write_strategy("local S = Strategy{}\nfunction S:next()\n"
                       "  if #self.data == 3 then local x = nil + 1 end\n"
                       "  self:buy()\nend\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
    for (int i = 0; i < 5; i++) {
        struct bar b = mkbar(i, 10);
        int rc = runner_feed(&r, &b, NULL, NULL);
        assert_int_equal(rc, i == 2 ? ERR_LUA : 0);
    }
    assert_true(r.failed);
    snprintf(want, sizeof want, "%s:3:", p);
    assert_non_null(strstr(r.error, want));
    assert_int_equal(r.bars, 5);
    runner_free(&r);
    unlink(p);
}

static void test_sandbox(void **state)
{
    struct runner r;
    char err[ERR_LEN];
    const char *p;
    (void)state;

    p = write_strategy("local S = Strategy{}\nfunction S:init()\n"
                       "  assert(io == nil and os == nil and debug == nil)\n"
                       "  assert(require == nil and load == nil)\n"
                       "  assert(dofile == nil and loadfile == nil)\n"
                       "  assert(string.dump == nil)\n"
                       "  assert(getmetatable('').__index.dump == nil)\n"
                       "  assert(package == nil and collectgarbage)\n"
                       "end\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
    runner_free(&r);
    unlink(p);

    p = write_strategy("local S = Strategy{}\nfunction S:next()\n"
                       "  while true do end\nend\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
    strategy_set_budget(r.strat, 1000000);
    for (int i = 0; i < 2; i++) {
        struct bar b = mkbar(i, 10);
        runner_feed(&r, &b, NULL, NULL);
    }
    assert_true(r.failed);
    assert_non_null(strstr(r.error, "instruction budget"));
    assert_non_null(strstr(r.error, "on T:"));      /* names the symbol */
    runner_free(&r);
    unlink(p);

    p = write_strategy("local S = Strategy{}\nfunction S:next()\n"
                       "  local t = {}\n"
                       "  for i = 1, 1e9 do t[i] = string.rep('x', 1000000) .. i end\n"
                       "end\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
    for (int i = 0; i < 2; i++) {
        struct bar b = mkbar(i, 10);
        runner_feed(&r, &b, NULL, NULL);
    }
    assert_true(r.failed);
    assert_non_null(strstr(r.error, "memory"));
    runner_free(&r);
    unlink(p);

    /* Bytecode is refused: chunks load as text only. */
    p = write_strategy("\x1bLua\x54\x00 not really bytecode");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), ERR_LUA);
    assert_non_null(strstr(err, "binary chunk"));
    unlink(p);

    /* The cap for all strategies together. */
    strategy_set_memory_cap(64 << 10);
    p = write_strategy("local S = Strategy{}\nfunction S:init()\n"
                       "  local t = {}\n"
                       "  for i = 1, 1e6 do t[i] = i end\n"
                       "end\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), ERR_LUA);
    assert_non_null(strstr(err, "memory"));
    strategy_set_memory_cap(0);
    unlink(p);
}

/* Runs the strategy at p on the symbols GOOD and BAD for 30 bars; BAD's
 * next() does `bad` and must be disabled with `msg` in its error, GOOD
 * must run every bar. */
static void s_one_bad(const char *bad, const char *msg)
{
    char src[1024], err[ERR_LEN];
    struct runner good, badr;
    const char *p;

    snprintf(src, sizeof src, "local S = Strategy{}\n"
             "function S:next()\n"
             "  self.n = (self.n or 0) + 1\n"
             "  if self.symbol == 'BAD' then\n    %s\n  end\n"
             "end\nreturn S\n", bad);
    p = write_strategy(src);
    assert_int_equal(runner_init(&good, p, "GOOD", NULL, NULL, err), 0);
    assert_int_equal(runner_init(&badr, p, "BAD", NULL, NULL, err), 0);
    strategy_set_time_limit(badr.strat, 500);
    for (int i = 0; i < 30; i++) {
        struct bar b = mkbar(i, 10 + i);
        runner_feed(&good, &b, NULL, NULL);
        runner_feed(&badr, &b, NULL, NULL);
    }
    assert_false(good.failed);
    assert_true(badr.failed);
    if (!strstr(badr.error, msg) || !strstr(badr.error, p))
        fail_msg("%s: got '%s'", bad, badr.error);
    assert_int_equal(good.bars, 30);
    runner_free(&good);
    runner_free(&badr);
    unlink(p);
}

/* What Lua runs without its count hook (finalizers, C library functions)
 * cannot hold the engine: the call ends with an error naming the file
 * (and, for the limits, the symbol), the symbol's strategy is disabled,
 * other symbols go on. */
static void test_sandbox_no_hang(void **state)
{
    char err[ERR_LEN];
    struct runner r;
    const char *p;
    (void)state;

    s_one_bad("setmetatable({}, {__gc = function() while true do end end})"
              " collectgarbage()", "__gc (a finalizer) is not allowed");
    s_one_bad("string.rep('', math.maxinteger)", "string.rep");
    s_one_bad("local s = ('x'):rep(1e6):rep(1e4)", "string.rep");
    s_one_bad("local s = ('a'):rep(3000):find('.-.-.-.-b')",
              "string.find: pattern");
    s_one_bad("table.move({}, 1, 1e15, 1, {})", "table.move");
    s_one_bad("local s = ('a'):rep(200) while true do s:find('.-.-b') end",
              "strategy lt_test_");
    s_one_bad("while true do pcall(string.find, ('a'):rep(200), '.-.-b') "
              "end", "time limit of 500 ms per call exceeded");
    /* The engine's metatables can be neither read nor replaced, so no
     * later object gets a __gc from a strategy. */
    s_one_bad("getmetatable(self.data.Close).__gc = print",
              "attempt to index a boolean value");
    s_one_bad("setmetatable(S, {})", "cannot change a protected metatable");
    s_one_bad("getmetatable(self).__index = print",
              "attempt to index a boolean value");
    /* A parameter's __tostring is not called (the engine describes the
     * parameters outside of any call). */
    p = write_strategy("return Strategy{n = setmetatable({}, {__tostring = "
                       "function() while true do end end})}\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
    assert_string_equal(strategy_params(r.strat), "n=table");
    runner_free(&r);
    unlink(p);
    /* nor can a Strategy class hold one for its instance */
    p = write_strategy("local S = Strategy{__gc = function() while true do "
                       "end end}\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), ERR_LUA);
    assert_non_null(strstr(err, "__gc (a finalizer) is not allowed"));
    unlink(p);
}

/* A parameter of any size gives a lookback of at most STRAT_LOOKBACK_MAX
 * bars (an engine can ask for no more history), without overflow. */
static void test_huge_lookback(void **state)
{
    static const char *const n[] = { "math.maxinteger", "1000000000000",
                                     "300000", "299999", "50" };
    static const int64_t lb[] = { STRAT_LOOKBACK_MAX, STRAT_LOOKBACK_MAX,
                                  STRAT_LOOKBACK_MAX, STRAT_LOOKBACK_MAX,
                                  51 };
    char src[256], err[ERR_LEN];
    struct runner r;
    const char *p;
    (void)state;

    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        snprintf(src, sizeof src, "return Strategy{n = %s}\n", n[i]);
        p = write_strategy(src);
        assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
        assert_int_equal(strategy_lookback(r.strat), lb[i]);
        runner_free(&r);
        unlink(p);
    }
}

/* The total memory is shared: with 8 symbols in 32 MiB each instance has
 * 4 MiB, so three that hoard memory fail alone and the others go on. */
static void test_memory_share(void **state)
{
    struct runner r[8];
    char err[ERR_LEN];
    const char *p;
    (void)state;

    strategy_set_memory_cap(32u << 20);
    assert_int_equal(strategy_set_memory_share(64, err), ERR_USAGE);
    assert_non_null(strstr(err, "--memory-mb 32 gives each of the 64 "
                            "symbols 512 KiB"));
    assert_int_equal(strategy_set_memory_share(8, err), 0);
    p = write_strategy("local S = Strategy{}\nfunction S:next()\n"
                       "  self.t = {self.data.Close[-1], tostring(#self.data)}"
                       "\n  if self.symbol:sub(1, 3) == 'HOG' then\n"
                       "    self.h = self.h or {}\n"
                       "    for i = 1, 1e5 do self.h[#self.h + 1] = "
                       "('x'):rep(100) .. i end\n"
                       "  end\nend\nreturn S\n");
    for (int k = 0; k < 8; k++) {
        char sym[16];
        snprintf(sym, sizeof sym, "%s%d", k < 3 ? "HOG" : "S", k);
        assert_int_equal(runner_init(&r[k], p, sym, NULL, NULL, err), 0);
    }
    for (int i = 0; i < 40; i++)
        for (int k = 0; k < 8; k++) {
            struct bar b = mkbar(i, 10 + i);
            runner_feed(&r[k], &b, NULL, NULL);
        }
    for (int k = 0; k < 8; k++) {
        if (k < 3) {
            assert_true(r[k].failed);
            assert_non_null(strstr(r[k].error, "not enough memory"));
        } else if (r[k].failed) {
            fail_msg("%s: %s", r[k].sym, r[k].error);
        }
        runner_free(&r[k]);
    }
    strategy_set_memory_cap(0);
    assert_int_equal(strategy_set_memory_share(1, err), 0);
    unlink(p);
}

/* Bad order arguments are strategy errors naming the line. */
static void test_bad_orders(void **state)
{
    struct runner r;
    char err[ERR_LEN], want[128];
    const char *p;
    (void)state;

    p = write_strategy("local S = Strategy{}\nfunction S:next()\n"
                       "  self:buy{size = 1.5}\nend\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
    for (int i = 0; i < 2; i++) {
        struct bar b = mkbar(i, 10);
        runner_feed(&r, &b, NULL, NULL);
    }
    snprintf(want, sizeof want, "%s:3: buy: size must be", p);
    assert_non_null(strstr(r.error, want));
    runner_free(&r);
    unlink(p);

    p = write_strategy("local S = Strategy{}\nfunction S:next()\n"
                       "  self:sell{sizee = 1}\nend\nreturn S\n");
    assert_int_equal(runner_init(&r, p, "T", NULL, NULL, err), 0);
    for (int i = 0; i < 2; i++) {
        struct bar b = mkbar(i, 10);
        runner_feed(&r, &b, NULL, NULL);
    }
    assert_non_null(strstr(r.error, "unknown argument 'sizee'"));
    runner_free(&r);
    unlink(p);
}

/* Runs a strategy whose next() (line 4 of the file) is `body` over 6
 * rising bars; its init() (line 2) is `init`. Returns the line the run
 * failed with (runner_init's or next()'s), "" if it did not, and the
 * signals in *k. */
static const char *run_body(const char *init, const char *body,
                            struct sink *k)
{
    static char err[ERR_LEN];
    char src[1024];
    struct runner r;
    const char *p;

    snprintf(src, sizeof src, "local S = Strategy{}\n"
             "function S:init() %s end\n"
             "function S:next()\n"
             "  %s\n"
             "end\nreturn S\n", init, body);
    p = write_strategy(src);
    k->n = 0;
    err[0] = '\0';
    if (runner_init(&r, p, "T", NULL, NULL, err) == 0) {
        for (int i = 0; i < 6 && !r.failed; i++) {
            struct bar b = mkbar(i, 10 + i);
            runner_feed(&r, &b, collect, k);
        }
        snprintf(err, sizeof err, "%s", r.failed ? r.error : "");
        runner_free(&r);
    }
    unlink(p);
    return err;
}

/* `want` is in `err` after "file:line: ". */
static void assert_error_at(const char *err, int line, const char *want)
{
    char where[96];

    snprintf(where, sizeof where, "%s:%d: ", s_path, line);
    if (!strstr(err, where) || !strstr(err, want) || strchr(err, '\n')) {
        print_error("got '%s', want '%s%s'\n", err, where, want);
        fail();
    }
}

/* Every method called with a dot (Python's habit) fails with one line
 * naming the colon form; before, self.buy{...} ran with its arguments
 * dropped and self.position.close(0.5) closed everything. */
static void test_dot_calls(void **state)
{
    static const struct {
        const char *init, *body, *want;
        int line;
    } cases[] = {
        { "", "self.buy{size = 0.5, sl = 1}",
          "self.buy called with a dot: write self:buy{...}", 4 },
        { "", "self.buy()",
          "self.buy called with a dot: write self:buy{...}", 4 },
        { "", "self.sell{size = 0.5}",
          "self.sell called with a dot: write self:sell{...}", 4 },
        { "", "if self.position.size > 0 then self.position.close(0.5) "
          "else self:buy() end",
          "self.position.close called with a dot: write "
          "self.position:close()", 4 },
        { "", "self:buy(); self.position.close()",
          "self.position.close called with a dot", 4 },
        { "", "local t = self.trades[1]; if t then t.close(0.5) "
          "else self:buy() end",
          "trade.close called with a dot: write trade:close()", 4 },
        { "", "local o = self:buy{limit = 1}; o.cancel()",
          "order.cancel called with a dot: write order:cancel()", 4 },
        { "self.s = self.I(SMA, self.data.Close, 2)", "",
          "self.I called with a dot: write self:I(...)", 2 },
        /* Setters are fields: a dot, and a clear word on a bad value. */
        { "", "local t = self.trades[1]; if t then t.sl = 'x' "
          "else self:buy() end",
          "trade.sl must be a price or nil, got string", 4 },
    };
    struct sink k;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error_at(run_body(cases[i].init, cases[i].body, &k),
                        cases[i].line, cases[i].want);

    /* The colon forms run, with their arguments. */
    assert_string_equal(run_body("self.s = self:I(SMA, self.data.Close, 2)",
                                 "local t = self.trades[1]\n"
                                 "  if t then t:close(0.5); t.sl = 1; "
                                 "t.tp = nil; self.position:close(0.5)\n"
                                 "  else self:buy{size = 0.5, sl = 1} end",
                                 &k), "");
    assert_true(k.n >= 2);
    assert_int_equal(k.s[0].act, SIG_BUY);
    assert_dbl_equal(k.s[0].size, 0.5, 0);
    assert_dbl_equal(k.s[0].sl, 1, 0);
    assert_int_equal(k.s[1].act, SIG_CLOSE);
    assert_dbl_equal(k.s[1].size, 0.5, 0);
    assert_string_equal(run_body("", "local o = self:buy{limit = 1}; "
                                 "o:cancel(); o = self:sell{limit = 99}; "
                                 "self.orders[1]:cancel()", &k), "");
    assert_string_equal(run_body("", "self.buy(self, {size = 2})", &k), "");
    assert_dbl_equal(k.s[0].size, 2, 0);
}

/* A closed trade keeps its sl and tp in Lua, as backtesting.py's. */
static void test_closed_trade_sl_tp(void **state)
{
    struct sink k;
    (void)state;

    /* Bought at bar 1 (close 11), filled at 12 on bar 2, where the TP
     * of 12 closes it at once. */
    assert_string_equal(run_body("",
        "local t = self.closed_trades[1]\n"
        "  if t then self:sell{size = 1, tag = string.format('%g/%g', "
        "t.sl, t.tp)}\n"
        "  elseif #self.orders == 0 then "
        "self:buy{size = 1, sl = 5, tp = 12} end", &k), "");
    assert_true(k.n >= 2);
    assert_string_equal(k.s[1].tag, "5/12");
}

/* What a Python habit does gets a hint naming the Lua form, on one line
 * with file:line; valid Lua is left alone. */
static void test_python_hints(void **state)
{
    static const struct {
        const char *init, *body, *want;
        int line;
    } cases[] = {
        { "", "local x = self.data.Close[0]",
          "self.data.Close[0]: Lua counts from 1: [1] is the first bar, "
          "[-1] the current one", 4 },
        { "self.sma = self:I(SMA, self.data.Close, 2)",
          "local x = self.sma[0]", "sma[0]: Lua counts from 1", 4 },
        { "self.m = self:I(MACD, self.data.Close, 2, 3, 2)",
          "local x = self.m[0]",
          "m[0]: Lua counts from 1: [1] is the first output (macd)", 4 },
        { "", "local n = len(self.data)",
          "(global 'len'); len() is Python: Lua writes #x", 4 },
        { "", "for i in range(3) do end",
          "range() is Python: Lua counts with for i = 1, n do", 4 },
        { "", "if self.position.size == 0 == True then self:buy() end",
          "True is Python: Lua writes true", 4 },
        { "", "local f = False", "False is Python: Lua writes false", 4 },
        { "", "if x == None then end", "None is Python: Lua writes nil",
          4 },
        { "", "local y = np.nan", "numpy is Python: in Lua 0/0 is NaN", 4 },
        { "", "end function S.next()\n  self:buy()",
          "(global 'self'); self is only defined in a method: write "
          "function S:next() with a colon", 5 },
        { "", "self:buy(size = 0.5)",
          "arguments by name are a table in Lua: self:buy{size = 0.5}", 4 },
        { "", "if self.position.size == 0:\n", "without ':'", 4 },
        { "", "if 1 != 2 then end",
          "Lua writes ~= for not equal and `not` for negation", 4 },
        { "", "if #self.data = 3 then end", "Lua compares with ==", 4 },
        { "", "# a comment", "Lua comments start with --", 4 },
    };
    struct sink k;
    (void)state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_error_at(run_body(cases[i].init, cases[i].body, &k),
                        cases[i].line, cases[i].want);
    /* Other unknown globals are still nil, and names can be defined. */
    assert_string_equal(run_body("", "assert(Nothing == nil); "
                                 "True = 1; assert(True == 1); "
                                 "local len = 2; sum = (sum or 0) + len",
                                 &k), "");
    assert_string_equal(run_body("", "assert(self.data.Close[1] == 10 and "
                                 "self.data.Close[1.5] == nil)", &k), "");
}

/* Extra data columns are self.data.<name>, revealed bar by bar. */
static void test_extra_columns(void **state)
{
    const char *p = write_strategy(
        "local S = Strategy{}\n"
        "function S:next()\n"
        "  local x = self.data.Signal\n"
        "  if x[-1] > 0 then\n"
        "    self:buy{tag = string.format('%g/%d', x[-1], #x)}\n"
        "  end\n"
        "end\n"
        "return S\n");
    const char *cols[] = { "Signal" };
    const char *bad[] = { "Close" };
    const double sig[] = { 0, 0, 2, 0, 3 };
    struct runner r;
    struct sink k = { .n = 0 };
    char err[ERR_LEN];
    (void)state;

    assert_int_equal(runner_init_ex(&r, p, "TEST", NULL, NULL, bad, 1, err),
                     ERR_INVALID);
    assert_int_equal(runner_init_ex(&r, p, "TEST", NULL, NULL, cols, 1, err),
                     0);
    for (int i = 0; i < 5; i++) {
        struct bar b = mkbar(i, 10 + i);
        runner_feed_extra(&r, &b, &sig[i], collect, &k);
    }
    assert_int_equal(k.n, 2);
    assert_string_equal(k.s[0].tag, "2/3");
    assert_string_equal(k.s[1].tag, "3/5");
    runner_free(&r);
    unlink(p);
}

static struct signal s_id_signal(const char *params, int ord, int act,
                                 double px)
{
    struct signal s;

    memset(&s, 0, sizeof s);
    snprintf(s.strat, sizeof s.strat, "sma_cross");
    snprintf(s.sym, sizeof s.sym, "AAPL");
    s.t = 1000;
    s.ord = ord;
    s.act = act;
    s.px = px;
    s.size = s.limit = s.stop = s.sl = s.tp = s.pos = NAN;
    msg_signal_make_id(&s, params);
    return s;
}

/* The same call at the same bar of the same data: the same id; another
 * ordinal, parameter set, action or price (another feed or seed): not. */
static void test_signal_ids(void **state)
{
    struct signal a = s_id_signal("n1=10,n2=20", 0, SIG_BUY, 100);
    struct signal b = s_id_signal("n1=10,n2=20", 0, SIG_BUY, 100);
    (void)state;
    assert_string_equal(a.id, b.id);
    assert_int_equal(strlen(a.id), 16);
    b = s_id_signal("n1=10,n2=20", 1, SIG_BUY, 100);
    assert_string_not_equal(a.id, b.id);
    b = s_id_signal("n1=10,n2=21", 0, SIG_BUY, 100);
    assert_string_not_equal(a.id, b.id);
    b = s_id_signal("n1=10,n2=20", 0, SIG_SELL, 100);
    assert_string_not_equal(a.id, b.id);
    b = s_id_signal("n1=10,n2=20", 0, SIG_BUY, 100.01);
    assert_string_not_equal(a.id, b.id);
    b = s_id_signal("n1=10,n2=20", 0, SIG_BUY, 100);
    b.sl = 95;
    msg_signal_make_id(&b, "n1=10,n2=20");
    assert_string_not_equal(a.id, b.id);
    b.pos = 7;                      /* not part of the id */
    b.sl = NAN;
    msg_signal_make_id(&b, "n1=10,n2=20");
    assert_string_equal(a.id, b.id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indexing),
        cmocka_unit_test(test_first_next),
        cmocka_unit_test(test_crossover),
        cmocka_unit_test(test_crossover_numbers),
        cmocka_unit_test(test_params),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_sandbox),
        cmocka_unit_test(test_sandbox_no_hang),
        cmocka_unit_test(test_huge_lookback),
        cmocka_unit_test(test_memory_share),
        cmocka_unit_test(test_bad_orders),
        cmocka_unit_test(test_signal_ids),
        cmocka_unit_test(test_extra_columns),
        cmocka_unit_test(test_dot_calls),
        cmocka_unit_test(test_python_hints),
        cmocka_unit_test(test_closed_trade_sl_tp),
    };
    return cmocka_run_group_tests_name("strategy", tests, NULL, NULL);
}
