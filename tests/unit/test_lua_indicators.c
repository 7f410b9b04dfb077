/* The indicator library as strategies see it: every built-in through
 * self:I and called directly, several outputs, Lua functions as
 * indicators (whole series and windowed), barssince and quantile, names
 * in signals, auto-lookback, and errors that name file:line.
 *
 * Most checks run inside the strategy: it raises an error when what it
 * sees is wrong, which disables it, and the test then prints that
 * error. */
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

#include "err.h"
#include "runner.h"
#include "strategy.h"

/* Lua helpers put in front of every strategy (one line, so that line
 * numbers in the sources below stay as written). */
#define PRELUDE \
    "local function near(a, b, what) if a ~= a and b ~= b then return end " \
    "if not (math.abs(a - b) <= 1e-9 * math.max(1, math.abs(b))) then " \
    "error(string.format('%s: %.17g, want %.17g', what, a, b), 2) end end\n"

struct run {
    struct runner r;
    char path[64];
    struct signal s[128];           /* the first signals */
    int n;                          /* signals seen */
};

static void collect(void *arg, struct signal *s)
{
    struct run *x = arg;
    if (x->n < 128)
        x->s[x->n] = *s;
    x->n++;
}

/* Writes PRELUDE + src to a temporary file and loads it: returns the
 * rc of runner_init (its message in err). */
static int start(struct run *x, const char *src, char *err)
{
    int fd, rc;
    size_t n = strlen(PRELUDE), m = strlen(src);

    memset(x, 0, sizeof *x);
    snprintf(x->path, sizeof x->path, "/tmp/lt_ind_XXXXXX.lua");
    fd = mkstemps(x->path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, PRELUDE, n), (ssize_t)n);
    assert_int_equal(write(fd, src, m), (ssize_t)m);
    close(fd);
    rc = runner_init(&x->r, x->path, "TEST", NULL, NULL, err);
    if (rc)
        unlink(x->path);
    return rc;
}

static void start_ok(struct run *x, const char *src)
{
    char err[ERR_LEN];
    if (start(x, src, err)) {
        print_error("%s\n", err);
        fail();
    }
}

static struct bar mkbar(int i)
{
    struct bar b;
    memset(&b, 0, sizeof b);
    snprintf(b.sym, sizeof b.sym, "TEST");
    b.t = 1700000000000LL + i * 60000LL;
    b.tf = 60;
    b.c = 100 + 10 * sin(i / 7.0) + (i % 5) * 0.3;
    b.o = b.c - 0.2;
    b.h = b.c + 1 + (i % 3) * 0.5;
    b.l = b.c - 1 - (i % 2) * 0.5;
    b.vol = 100;
    return b;
}

/* Feeds bars [from, to); each must run without a strategy error. */
static void feed(struct run *x, int from, int to)
{
    for (int i = from; i < to; i++) {
        struct bar b = mkbar(i);
        runner_feed(&x->r, &b, collect, x);
        if (x->r.failed) {
            print_error("bar %d: %s\n", i, x->r.error);
            fail();
        }
    }
}

/* Feeds bars until the strategy fails; returns the bar it failed on. */
static int feed_until_error(struct run *x, int max)
{
    for (int i = 0; i < max; i++) {
        struct bar b = mkbar(i);
        runner_feed(&x->r, &b, collect, x);
        if (x->r.failed)
            return i;
    }
    return -1;
}

static void stop(struct run *x)
{
    runner_free(&x->r);
    unlink(x->path);
}

/* The strategy's error mentions "path:line:" and `what`. */
static void expect_error(const char *msg, const char *path, int line,
                         const char *what)
{
    char want[128];
    snprintf(want, sizeof want, "%s:%d:", path, line);
    if (!strstr(msg, want) || !strstr(msg, what)) {
        print_error("error \"%s\" lacks \"%s\" or \"%s\"\n", msg, want, what);
        fail();
    }
}

/* Every built-in through self:I equals, on every bar, the last value of
 * the same built-in called directly over the series so far. */
static void test_builtins_streaming_equals_direct(void **state)
{
    struct run x;
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  local d = self.data\n"
        "  self.sma = self:I(SMA, d.Close, 5)\n"
        "  self.ema = self:I(EMA, d.Close, 5)\n"
        "  self.wma = self:I(WMA, d.Close, 5)\n"
        "  self.rsi = self:I(RSI, d.Close)\n"
        "  self.macd = self:I(MACD, d.Close, 5, 10, 4)\n"
        "  self.bb = self:I(BBANDS, d.Close, 10, 2)\n"
        "  self.atr = self:I(ATR, d.High, d.Low, d.Close, 7)\n"
        "  self.sd = self:I(STDDEV, d.Close, 10)\n"
        "  self.hi = self:I(HIGHEST, d.High, 10)\n"
        "  self.lo = self:I(LOWEST, d.Low, 10)\n"
        "  self.roc = self:I(ROC, d.Close, 3)\n"
        "  self.mom = self:I(MOM, d.Close, 3)\n"
        "  self.st = self:I(STOCH, d.High, d.Low, d.Close, 9, 3)\n"
        "  self.dc = self:I(DONCHIAN, d.High, d.Low, 10)\n"
        "  self.sma2 = self:I(SMA, self.sma, 3)\n"
        "end\n"
        "local function last(t) return t[#t] end\n"
        "function S:next()\n"
        "  local d = self.data\n"
        "  near(self.sma[-1], last(SMA(d.Close, 5)), 'sma')\n"
        "  near(self.ema[-1], last(EMA(d.Close, 5)), 'ema')\n"
        "  near(self.wma[-1], last(WMA(d.Close, 5)), 'wma')\n"
        "  near(self.rsi[-1], last(RSI(d.Close, 14)), 'rsi')\n"
        "  local m, s, h = MACD(d.Close, 5, 10, 4)\n"
        "  near(self.macd.macd[-1], last(m), 'macd')\n"
        "  near(self.macd.signal[-1], last(s), 'signal')\n"
        "  near(self.macd.hist[-1], last(h), 'hist')\n"
        "  local u, mid, l = BBANDS(d.Close, 10, 2)\n"
        "  near(self.bb.upper[-1], last(u), 'upper')\n"
        "  near(self.bb.middle[-1], last(mid), 'middle')\n"
        "  near(self.bb.lower[-1], last(l), 'lower')\n"
        "  near(self.atr[-1], last(ATR(d.High, d.Low, d.Close, 7)), 'atr')\n"
        "  near(self.sd[-1], last(STDDEV(d.Close, 10)), 'sd')\n"
        "  near(self.hi[-1], last(HIGHEST(d.High, 10)), 'hi')\n"
        "  near(self.lo[-1], last(LOWEST(d.Low, 10)), 'lo')\n"
        "  near(self.roc[-1], last(ROC(d.Close, 3)), 'roc')\n"
        "  near(self.mom[-1], last(MOM(d.Close, 3)), 'mom')\n"
        "  local k, dd = STOCH(d.High, d.Low, d.Close, 9, 3)\n"
        "  near(self.st.k[-1], last(k), 'k')\n"
        "  near(self.st.d[-1], last(dd), 'd')\n"
        "  local du, dm, dl = DONCHIAN(d.High, d.Low, 10)\n"
        "  near(self.dc.upper[-1], last(du), 'dc upper')\n"
        "  near(self.dc.middle[-1], last(dm), 'dc middle')\n"
        "  near(self.dc.lower[-1], last(dl), 'dc lower')\n"
        "  near(self.sma2[-1], last(SMA(SMA(d.Close, 5), 3)), 'sma2')\n"
        "  near(self.bb.middle[-1], self.sma[-1] * 0 + last(SMA(d.Close, 10)),"
        " 'mid = sma')\n"
        "  assert(self.sma[-1] == self.sma[-1], 'valid on the first call')\n"
        "  self:buy{tag = tostring(#d)}\n"
        "end\n"
        "return S\n");
    feed(&x, 0, 120);
    /* RSI(14) is the last to be valid (index 14): next() from index 15. */
    assert_string_equal(x.s[0].tag, "16");
    assert_int_equal(x.n, 120 - 15);
    stop(&x);
}

/* Several outputs: by number (1-based; negative from the end, as numpy's
 * first axis), by name, #; an unknown output name is an error at its
 * line. BOLLINGER is BBANDS. */
static void test_multi_output_access(void **state)
{
    struct run x;
    int bar;
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  self.macd = self:I(MACD, self.data.Close)\n"
        "  self.bb = self:I(BBANDS, self.data.Close)\n"
        "  self.bol = self:I(BOLLINGER, self.data.Close, 20, 2)\n"
        "end\n"
        "function S:next()\n"
        "  local m = self.macd\n"
        "  assert(#m == 3 and m[4] == nil and m[-4] == nil)\n"
        "  assert(m[1] == m.macd and m[2] == m.signal and m[3] == m.hist)\n"
        "  assert(m[-1] == m.hist and m[-3] == m.macd)\n"
        "  assert(m[1][-1] == m.macd[-1] and #m.macd == #self.data)\n"
        "  assert(m.hist[-1] == m.macd[-1] - m.signal[-1])\n"
        "  assert(self.bb.upper[-1] == self.bol.upper[-1])\n"
        "  assert(self.bb[1] == self.bb.upper and self.bb[3] == self.bb.lower)\n"
        "  assert(self.bb.upper > self.bb.lower)\n"
        "  assert(BOLLINGER == BBANDS)\n"
        "  if #self.data == 40 then local x = m.sig end\n"
        "end\n"
        "return S\n");
    bar = feed_until_error(&x, 60);
    assert_int_equal(bar, 39);
    /* MACD(12, 26, 9) is valid from index 33: next() ran from 34. */
    expect_error(x.r.error, x.path, 19,
                 "has no output 'sig' (its outputs: macd, signal, hist)");
    stop(&x);
}

/* Signals carry one value per output, named attribute.output, in
 * declaration order; explicit names win over attribute names; output
 * names can be given as a list. */
static void test_signal_names(void **state)
{
    struct run x;
    const char *want[] = { "macd.macd", "macd.signal", "macd.hist", "rsi",
                           "fast", "b.u", "b.m", "b.l", "SMA(C,4)" };
    const strategy_t *st;
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  local c = self.data.Close\n"
        "  self.macd = self:I(MACD, c, 3, 6, 3)\n"
        "  self.rsi = self:I(RSI, c, 5)\n"
        "  self.f = self:I(EMA, c, 3, {name = 'fast'})\n"
        "  self.b = self:I(BBANDS, c, 5, 1.5, {name = {'u', 'm', 'l'}})\n"
        "  local hidden = self:I(SMA, c, 4)\n"
        "end\n"
        "function S:next()\n"
        "  self:buy{tag = 'x'}\n"
        "end\n"
        "return S\n");
    feed(&x, 0, 20);
    st = x.r.strat;
    assert_int_equal(strategy_nind(st), 9);
    assert_true(x.n > 0);
    assert_int_equal(x.s[x.n - 1].nind, 9);
    for (int i = 0; i < 9; i++) {
        assert_string_equal(strategy_ind_name(st, i), want[i]);
        assert_string_equal(x.s[x.n - 1].ind[i].name, want[i]);
        assert_true(x.s[x.n - 1].ind[i].v == strategy_ind_value(st, i, 1));
    }
    assert_null(strategy_ind_name(st, 9));
    assert_true(isnan(strategy_ind_value(st, 9, 1)));
    assert_true(strategy_ind_value(st, 2, 1) ==
                strategy_ind_value(st, 0, 1) - strategy_ind_value(st, 1, 1));
    /* At any bar held, runner_ind_at gives what a signal of that bar
     * carried (the engine's ind| messages and "indicators" replies). */
    for (int k = 0; k < x.n && k < 128; k++) {
        struct sig_ind v[SIG_MAX_IND];
        size_t i = (size_t)((x.s[k].t - (int64_t)x.r.data.time.v[0]) /
                            60000);
        assert_int_equal(runner_ind_at(&x.r, i, v), 9);
        for (int j = 0; j < 9; j++) {
            assert_string_equal(v[j].name, want[j]);
            assert_memory_equal(&v[j].v, &x.s[k].ind[j].v, sizeof v[j].v);
        }
    }
    {
        struct sig_ind v[SIG_MAX_IND];
        assert_int_equal(runner_ind_at(&x.r, x.r.data.time.len, v), 9);
        assert_true(isnan(v[0].v));     /* past the last bar */
        runner_ind_at(&x.r, 0, v);
        assert_true(isnan(v[3].v));     /* RSI(5) before it is valid */
    }
    stop(&x);
}

/* A Lua function, re-evaluated over the whole series each bar: a Lua
 * SMA equals the built-in; numbers, booleans and the full length come
 * through; warm-up is its first non-NaN value. */
static void test_lua_function(void **state)
{
    struct run x;
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "local function mysma(c, n)\n"
        "  local out = {}\n"
        "  for i = 1, #c do\n"
        "    if i < n then out[i] = 0/0 else\n"
        "      local s = 0\n"
        "      for k = i - n + 1, i do s = s + c[k] end\n"
        "      out[i] = s / n\n"
        "    end\n"
        "  end\n"
        "  return out\n"
        "end\n"
        "function S:init()\n"
        "  local c = self.data.Close\n"
        "  self.a = self:I(mysma, c, 4)\n"
        "  self.b = self:I(SMA, c, 4)\n"
        "  self.twice = self:I(function(x) return x[#x] * 2 end, c)\n"
        "  self.up = self:I(function(x) return #x > 1 and x[#x] > x[#x-1] end,"
        " c)\n"
        "  self.len = self:I(function(x) return #x end, c)\n"
        "  self.arr = self:I(function(x, k) assert(type(x) == 'table'"
        " and k == 7) return x end, c, 7)\n"
        "end\n"
        "function S:next()\n"
        "  local c = self.data.Close\n"
        "  near(self.a[-1], self.b[-1], 'a')\n"
        "  near(self.a[-2], self.b[-2], 'a[-2]')\n"
        "  assert(self.twice[-1] == 2 * c[-1])\n"
        "  assert(self.len[-1] == #self.data)\n"
        "  assert(self.arr[-1] == c[-1])\n"
        "  assert(self.up[-1] == (c[-1] > c[-2] and 1 or 0))\n"
        "  assert(barssince(self.up) == (c[-1] > c[-2] and 0 or"
        " barssince(self.up, 'x')))\n"
        "  self:buy{tag = tostring(#self.data)}\n"
        "end\n"
        "return S\n");
    feed(&x, 0, 60);
    assert_string_equal(x.s[0].tag, "5");   /* mysma valid at index 3 */
    /* Default lookback of a function without a window: 200 bars, or
     * its largest whole-number argument if larger. */
    assert_true(strategy_lookback(x.r.strat) >= 201);
    stop(&x);
}

/* {window = N}: the function sees only the last N values; several
 * outputs as several return values or as a table of arrays. */
static void test_lua_function_window_and_outputs(void **state)
{
    struct run x;
    const strategy_t *st;
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "local function max(h)\n"
        "  if #h > 5 then error('window not applied') end\n"
        "  local m = -math.huge\n"
        "  for i = 1, #h do m = math.max(m, h[i]) end\n"
        "  return m\n"
        "end\n"
        "function S:init()\n"
        "  local d = self.data\n"
        "  self.m = self:I(max, d.High, {window = 5})\n"
        "  self.h = self:I(HIGHEST, d.High, 5)\n"
        "  self.n = self:I(function(c) return #c end, d.Close,"
        " {window = 3, name = 'count'})\n"
        "  self.band = self:I(function(h, l) return {h[#h] + 1}, l[#l] - 1 end,"
        " d.High, d.Low, {name = {'hi', 'lo'}, window = 1})\n"
        "  self.band2 = self:I(function(h, l) return {{h[#h]}, {l[#l]}} end,"
        " d.High, d.Low, {name = {'a', 'b'}, window = 2})\n"
        "end\n"
        "function S:next()\n"
        "  local d = self.data\n"
        "  assert(self.m[-1] == self.h[-1] and self.m[-2] == self.h[-2])\n"
        "  assert(self.n[-1] == 3)\n"
        "  assert(self.band.hi[-1] == d.High[-1] + 1)\n"
        "  assert(self.band[2][-1] == d.Low[-1] - 1)\n"
        "  assert(self.band2.a[-1] == d.High[-1])\n"
        "  assert(self.band2.b[-1] == d.Low[-1])\n"
        "  self:buy()\n"
        "end\n"
        "return S\n");
    feed(&x, 0, 30);
    st = x.r.strat;
    assert_int_equal(strategy_nind(st), 7);
    assert_string_equal(strategy_ind_name(st, 2), "count");
    assert_string_equal(strategy_ind_name(st, 3), "band.hi");
    assert_string_equal(strategy_ind_name(st, 6), "band2.b");
    /* The windows are the lookback: HIGHEST(5) wants 5, the functions
     * their windows. */
    assert_int_equal(strategy_lookback(st), 6);
    stop(&x);
}

/* An error in an indicator function is a strategy error at its line;
 * a wrong result names the line of the self:I call. */
static void test_lua_function_errors(void **state)
{
    struct run x;
    char err[ERR_LEN];
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  self.x = self:I(function(c)\n"
        "    if #c == 3 then error('bad bar') end\n"
        "    return c[#c]\n"
        "  end, self.data.Close)\n"
        "end\n"
        "return S\n");
    assert_int_equal(feed_until_error(&x, 10), 2);
    expect_error(x.r.error, x.path, 5, "bad bar");
    stop(&x);

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  self.x = self:I(function(c) return c[#c] + c[#c - 5] end,"
        " self.data.Close)\n"
        "end\n"
        "return S\n");
    assert_int_equal(feed_until_error(&x, 10), 0);
    expect_error(x.r.error, x.path, 4, "arithmetic on a nil value");
    stop(&x);

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  self.x = self:I(function(c) return 'no' end, self.data.Close)\n"
        "end\n"
        "return S\n");
    assert_int_equal(feed_until_error(&x, 10), 0);
    expect_error(x.r.error, x.path, 4, "indicator 'x' gave a string");
    stop(&x);

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  self.x = self:I(function(c) return 1, 2 end, self.data.Close)\n"
        "end\n"
        "return S\n");
    assert_int_equal(feed_until_error(&x, 10), 0);
    expect_error(x.r.error, x.path, 4, "gave 2 outputs, declared 1");
    stop(&x);

    /* Bad arguments to self:I stop the strategy at load. */
    assert_int_equal(start(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  self.x = self:I(RSI, self.data.Close, 0)\n"
        "end\n"
        "return S\n", err), ERR_LUA);
    expect_error(err, x.path, 4, "RSI: n must be a whole number");
}

/* barssince and quantile over arrays (in init) and series (in next). */
static void test_helpers(void **state)
{
    struct run x;
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "local function eq(a, b)\n"
        "  if not (a == b or (a ~= a and b ~= b)) then\n"
        "    error(string.format('%s, want %s', a, b), 2) end\n"
        "end\n"
        "function S:init()\n"
        "  local inf, nan = math.huge, 0/0\n"
        "  eq(barssince({true, false, false}), 2)\n"
        "  eq(barssince({false, true}), 0)\n"
        "  eq(barssince({false, false}), inf)\n"
        "  eq(barssince({false, false}, -1), -1)\n"
        "  eq(barssince({0, 1, 0, nan}), 2)\n"
        "  eq(barssince({}, 7), 7)\n"
        "  eq(math.type(barssince({true})), 'integer')\n"
        "  eq(quantile({1, 2, 3, 4, 5}), 1)\n"
        "  eq(quantile({5, 1, 2, 3}), 2/3)\n"
        "  eq(quantile({3, 3}), 0)\n"
        "  eq(quantile({3}), nan)\n"
        "  eq(quantile({1, 2, 3, 4}, 0.5), 2.5)\n"
        "  eq(quantile({4, 3, 2, 1}, 0.25), 1.75)\n"
        "  eq(quantile({1, nan, 3}, 0.5), 2)\n"
        "  eq(quantile({1, 2, 3}, 1), 3)\n"
        "  eq(quantile({1, 2, 3}, 0), 1)\n"
        "  eq(quantile({nan}, 0.5), nan)\n"
        "  local ok, e = pcall(quantile, {1}, 1.5)\n"
        "  assert(not ok and e:find('q must be between 0 and 1'))\n"
        "  ok, e = pcall(barssince, true)\n"
        "  assert(not ok and e:find('expected a series or an array'))\n"
        "  local m = self:I(MACD, self.data.Close, 2, 3, 2)\n"
        "  ok, e = pcall(crossover, m, 1)\n"
        "  assert(not ok and e:find('several outputs; pass one'))\n"
        "  ok, e = pcall(quantile, m)\n"
        "  assert(not ok and e:find('several outputs; pass one'))\n"
        "  self.up = self:I(function(c) return #c > 1 and c[#c] > c[#c-1] end,"
        " self.data.Close)\n"
        "end\n"
        "function S:next()\n"
        "  local c, n, below = self.data.Close, #self.data, 0\n"
        "  for i = 1, n - 1 do if c[i] < c[-1] then below = below + 1 end end\n"
        "  eq(quantile(c), below / (n - 1))\n"
        "  local k = 0\n"
        "  while k < n and self.up[-1 - k] ~= 1 do k = k + 1 end\n"
        "  eq(barssince(self.up), k < n and k or math.huge)\n"
        "  local lo, hi = math.huge, -math.huge\n"
        "  for i = 1, n do lo = math.min(lo, c[i]); hi = math.max(hi, c[i]) end\n"
        "  eq(quantile(c, 0), lo)\n"
        "  eq(quantile(c, 1), hi)\n"
        "end\n"
        "return S\n");
    feed(&x, 0, 80);
    stop(&x);
}

/* Direct calls take series or Lua arrays and give arrays; bad
 * arguments are errors with a reason. */
static void test_direct_calls(void **state)
{
    struct run x;
    (void)state;

    start_ok(&x,
        "local S = Strategy{}\n"
        "function S:init()\n"
        "  local s = SMA({1, 2, 3, 4}, 2)\n"
        "  assert(#s == 4 and s[1] ~= s[1] and s[2] == 1.5 and s[4] == 3.5)\n"
        "  local m, sg, h = MACD({1, 2, 3, 4, 5, 6}, 2, 3, 2)\n"
        "  assert(m[3] == 0.5 and sg[4] == 0.5 and h[6] == 0)\n"
        "  local a = ATR({11, 12, 13}, {9, 10, 11}, {10, 11, 12}, 2)\n"
        "  assert(a[2] ~= a[2] and a[3] == 2)\n"
        "  assert(#RSI({}, 3) == 0)\n"
        "  local function fails(pat, f, ...)\n"
        "    local ok, e = pcall(f, ...)\n"
        "    if ok or not e:find(pat, 1, true) then\n"
        "      error('expected an error with ' .. pat .. ', got ' ..\n"
        "            tostring(e), 2) end\n"
        "  end\n"
        "  fails('SMA: parameter n is required', SMA, {1, 2, 3})\n"
        "  fails('SMA: n must be a whole number', SMA, {1, 2, 3}, 0)\n"
        "  fails('STDDEV: n must be >= 2', STDDEV, {1, 2, 3}, 1)\n"
        "  fails('must be a series', SMA, 5, 2)\n"
        "  fails('too many arguments', SMA, {1}, 2, 3)\n"
        "  fails('must be a series', self.I, self, SMA, {1, 2, 3}, 2)\n"
        "  fails('takes only the option name', self.I, self, SMA,\n"
        "        self.data.Close, 2, {window = 3})\n"
        "  fails('expected an indicator', self.I, self, 42)\n"
        "  fails('2 names given', self.I, self, MACD, self.data.Close,\n"
        "        {name = {'a', 'b'}})\n"
        "  fails('window must be a whole number', self.I, self,\n"
        "        function() end, {window = 0})\n"
        "end\n"
        "return S\n");
    feed(&x, 0, 5);
    assert_int_equal(strategy_nind(x.r.strat), 0);
    stop(&x);
}

/* Auto-lookback: warm-up plus what recursive indicators need to forget
 * their seed, through chains; windows of Lua functions. */
static void test_lookback(void **state)
{
    static const struct {
        const char *decl;
        int64_t want;
    } c[] = {
        { "self:I(SMA, self.data.Close, 20)", 21 },
        { "self:I(EMA, self.data.Close, 10)", 9 + 1 + 50 + 1 },
        { "self:I(RSI, self.data.Close, 14)", 14 + 1 + 140 + 1 },
        { "self:I(MACD, self.data.Close)", 33 + 1 + 5 * (26 + 9) + 1 },
        { "self:I(EMA, self:I(EMA, self.data.Close, 10), 5)",
          13 + 1 + 25 + 50 + 1 },
        { "self:I(function(c) return c end, self.data.Close, {window = 30})",
          31 },
        { "self:I(function(c) return c end, self.data.Close)", 201 },
        { "self:I(function(c, n) return c end, self.data.Close, 500)", 501 },
    };
    char src[512];
    struct run x;
    (void)state;

    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        snprintf(src, sizeof src, "local S = Strategy{}\n"
                 "function S:init() self.x = %s end\nreturn S\n", c[i].decl);
        start_ok(&x, src);
        if (strategy_lookback(x.r.strat) != c[i].want) {
            print_error("%s: lookback %lld, want %lld\n", c[i].decl,
                        (long long)strategy_lookback(x.r.strat),
                        (long long)c[i].want);
            fail();
        }
        stop(&x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtins_streaming_equals_direct),
        cmocka_unit_test(test_multi_output_access),
        cmocka_unit_test(test_signal_names),
        cmocka_unit_test(test_lua_function),
        cmocka_unit_test(test_lua_function_window_and_outputs),
        cmocka_unit_test(test_lua_function_errors),
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_direct_calls),
        cmocka_unit_test(test_lookback),
    };
    return cmocka_run_group_tests_name("lua_indicators", tests, NULL, NULL);
}
