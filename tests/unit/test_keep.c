/* Bounded series (--keep-bars): the compacted array keeps bar numbers,
 * the length and the newest values, and stops growing; a strategy over a
 * bound sees the same indicator values and makes the same calls as over
 * every bar; a read of a bar no longer held is an error naming it, and
 * the reads a bound can break are found in the strategy's file. */
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
#include "series.h"
#include "../../feeder/store.h"

static char s_path[64];

static const char *write_strategy(const char *src)
{
    int fd;
    snprintf(s_path, sizeof s_path, "/tmp/lt_keep_XXXXXX.lua");
    fd = mkstemps(s_path, 4);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, src, strlen(src)), (ssize_t)strlen(src));
    close(fd);
    return s_path;
}

static struct bar mkbar(int i)
{
    struct bar b;
    memset(&b, 0, sizeof b);
    snprintf(b.sym, sizeof b.sym, "TEST");
    b.t = 1700000000000LL + i * 60000LL;
    b.tf = 60;
    b.c = 100 + 5 * sin(i / 7.0) + 2 * sin(i / 2.3);
    b.o = b.c - 0.3 * cos(i / 3.0);
    b.h = fmax(b.o, b.c) + 0.5 + 0.2 * sin(i);
    b.l = fmin(b.o, b.c) - 0.5 - 0.2 * cos(i);
    b.vol = 100 + i % 17;
    return b;
}

/* Numbers, length and values through many compactions and wraps. */
static void test_series_bounded(void **state)
{
    struct series s;
    double *v = NULL;
    (void)state;

    series_init(&s);
    series_keep(&s, 10);
    for (size_t i = 0; i < 10000; i++) {
        assert_int_equal(series_push(&s, (double)i), 0);
        assert_int_equal(s.len, i + 1);
        assert_true(series_held(&s) >= (i + 1 < 10 ? i + 1 : 10));
        assert_true(series_held(&s) <= 20 || series_held(&s) <= 256);
        for (size_t k = 1; k <= 10 && k <= i + 1; k++)
            assert_true(series_back(&s, k) == (double)(i + 1 - k));
        for (size_t j = s.off; j < s.len; j++)
            assert_true(SERIES_AT(&s, j) == (double)j);
        if (i == 1000)
            v = s.v;
    }
    assert_ptr_equal(s.v, v);           /* no allocation in steady state */
    assert_true(s.cap <= 256);
    assert_true(isnan(series_get(&s, 0)));
    assert_true(isnan(series_get(&s, s.off - 1)));
    assert_true(series_get(&s, 9999) == 9999.0);
    assert_true(isnan(series_get(&s, 10000)));
    assert_true(isnan(series_back(&s, series_held(&s) + 1)));
    series_free(&s);
}

/* A large bound: the array grows to twice it once, then only moves. */
static void test_series_large_bound(void **state)
{
    struct series s;
    size_t cap = 0;
    (void)state;

    series_init(&s);
    series_keep(&s, 100000);
    for (size_t i = 0; i < 1000000; i++) {
        assert_int_equal(series_push(&s, (double)i), 0);
        if (i == 200000)
            cap = s.cap;
    }
    assert_int_equal(s.cap, cap);
    assert_int_equal(s.cap, 200000);
    assert_true(series_held(&s) >= 100000 && series_held(&s) <= 200000);
    assert_true(SERIES_AT(&s, s.len - 100000) == 1000000.0 - 100000);
    series_free(&s);
}

/* Unbounded: nothing is ever forgotten; a bound set late compacts. */
static void test_series_unbounded_then_bound(void **state)
{
    struct series s;
    (void)state;

    series_init(&s);
    for (size_t i = 0; i < 5000; i++)
        assert_int_equal(series_push(&s, (double)i), 0);
    assert_int_equal(s.off, 0);
    assert_true(series_get(&s, 0) == 0.0);
    series_keep(&s, 100);
    for (size_t i = 5000; i < 20000; i++)
        assert_int_equal(series_push(&s, (double)i), 0);
    assert_true(s.off > 0 && series_held(&s) >= 100);
    assert_true(series_back(&s, 100) == 20000.0 - 100);
    series_free(&s);
}

/* The feeder's store (--keep-bars K): between 7/8 K and K bars, the
 * newest, their sequence numbers counting on through every compaction;
 * a history reply holds at most those. */
static void test_store_bounded(void **state)
{
    store_t *s = store_new("demo", "AAA", 1, 64);
    struct history_req r = { .sym = "AAA", .n = 100000, .since = -1 };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    uint64_t seq;
    struct bar b;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (uint64_t k = 1; k <= 10000; k++) {
        size_t len;
        b = mkbar((int)k);
        assert_int_equal(store_append(s, &b, &seq), 0);
        assert_int_equal(seq, k);
        len = store_len(s);
        assert_true(len <= 64 && (k < 56 || len >= 56));
        store_get(s, 0, &b);
        assert_int_equal(b.seq, k - len + 1);
        assert_true(b.t == mkbar((int)(k - len + 1)).t);
        store_get(s, len - 1, &b);
        assert_int_equal(b.seq, k);
    }
    assert_int_equal(store_last_seq(s), 10000);
    assert_int_equal(store_pack_history(s, &pk, &r, 100000),
                     store_len(s));
    r.since = 0;                        /* from before the oldest held */
    assert_int_equal(store_pack_history(s, &pk, &r, 100000),
                     store_len(s));
    msgpack_sbuffer_destroy(&sb);
    store_destroy(&s);
}

static const char *ALL_KINDS =
    "local S = Strategy { n = 14 }\n"
    "function S:init()\n"
    "  local d = self.data\n"
    "  self.sma = self:I(SMA, d.Close, 10)\n"
    "  self.ema = self:I(EMA, d.Close, 12)\n"
    "  self.wma = self:I(WMA, d.Close, 9)\n"
    "  self.rsi = self:I(RSI, d.Close, self.n)\n"
    "  self.macd = self:I(MACD, d.Close)\n"
    "  self.bb = self:I(BBANDS, d.Close, 20, 2)\n"
    "  self.atr = self:I(ATR, d.High, d.Low, d.Close, 14)\n"
    "  self.sd = self:I(STDDEV, d.Close, 15)\n"
    "  self.hi = self:I(HIGHEST, d.High, 30)\n"
    "  self.roc = self:I(ROC, d.Close, 7)\n"
    "  self.st = self:I(STOCH, d.High, d.Low, d.Close, 14, 3)\n"
    "  self.dc = self:I(DONCHIAN, d.High, d.Low, 25)\n"
    "  self.ss = self:I(SMA, self.sma, 5)\n"
    "  self.fw = self:I(function(x) return x[#x] - x[1] end, d.Close,\n"
    "                   {window = 8})\n"
    "end\n"
    "function S:next()\n"
    "  local s = SMA(self.data.Close, 5)\n"
    "  if s[#s] ~= self.data.Close[-1] and crossover(self.sma, self.ema)\n"
    "  then self:buy{tag = tostring(#self.data) .. ':' ..\n"
    "                     tostring(self.data.Close[-3])}\n"
    "  elseif crossover(self.ema, self.sma) then self:sell() end\n"
    "end\n"
    "return S\n";

struct sigs {
    int n;
    char tag[256][64];
    int64_t t[256];
};

static void collect(void *arg, struct signal *s)
{
    struct sigs *g = arg;
    if (g->n < 256) {
        snprintf(g->tag[g->n], sizeof g->tag[0], "%s", s->tag);
        g->t[g->n++] = s->t;
    }
}

/* Every indicator and every call the same with a bound near the reach
 * as with every bar; the memory of the bounded run stays put. */
static void test_runner_parity(void **state)
{
    struct runner a, b;
    static struct sigs ga, gb;
    struct sig_ind va[SIG_MAX_IND], vb[SIG_MAX_IND];
    char err[ERR_LEN];
    const char *path = write_strategy(ALL_KINDS);
    size_t keep;
    (void)state;

    assert_int_equal(runner_init(&a, path, "TEST", NULL, NULL, err), 0);
    assert_int_equal(runner_init(&b, path, "TEST", NULL, NULL, err), 0);
    unlink(path);
    keep = (size_t)runner_reach(&b);
    assert_true(keep >= 30 && keep < 1000);
    runner_keep(&b, keep);
    for (int i = 0; i < 6000; i++) {
        struct bar x = mkbar(i);
        int na, nb;
        assert_true(runner_feed(&a, &x, collect, &ga) >= 0);
        assert_true(runner_feed(&b, &x, collect, &gb) >= 0);
        na = runner_ind_at(&a, (size_t)i, va);
        nb = runner_ind_at(&b, (size_t)i, vb);
        assert_int_equal(na, nb);
        for (int k = 0; k < na; k++)
            assert_true(va[k].v == vb[k].v ||
                        (isnan(va[k].v) && isnan(vb[k].v)));
    }
    assert_false(a.failed || b.failed);
    assert_true(ga.n > 3);
    assert_int_equal(ga.n, gb.n);
    for (int k = 0; k < ga.n; k++) {
        assert_string_equal(ga.tag[k], gb.tag[k]);
        assert_true(ga.t[k] == gb.t[k]);
    }
    assert_int_equal(b.data.close.len, 6000);
    assert_true(series_held(&b.data.close) <= 2 * keep);
    assert_true(b.data.close.cap <= 2 * keep || b.data.close.cap <= 256);
    assert_true(a.data.close.off == 0);
    runner_free(&a);
    runner_free(&b);
}

static const char *FIRST_BAR =
    "local S = Strategy {}\n"
    "function S:next()\n"
    "  if self.data.Close[1] > 0 then end  -- the first bar\n"
    "  if barssince(self.data.Close) > 0 then end\n"
    "end\n"
    "return S\n";

/* A read from the first bar fails once the bar is gone, naming the
 * index and the bound; the file scan finds it first. */
static void test_far_read(void **state)
{
    struct runner r;
    char err[ERR_LEN], far[512];
    const char *path = write_strategy(FIRST_BAR);
    int rc = 0, i;
    (void)state;

    assert_int_equal(runner_init(&r, path, "TEST", NULL, NULL, err), 0);
    assert_int_equal(strategy_far_reads(r.strat, far, sizeof far), 2);
    assert_non_null(strstr(far, ":3: data.Close[1...]"));
    runner_keep(&r, 50);
    for (i = 0; i < 1000 && rc >= 0; i++) {
        struct bar x = mkbar(i);
        rc = runner_feed(&r, &x, NULL, NULL);
    }
    unlink(path);
    assert_int_equal(rc, ERR_LUA);
    assert_true(i > 50);
    assert_non_null(strstr(r.error, "self.data.Close[1]: bar 1 of"));
    assert_non_null(strstr(r.error, "--keep-bars"));
    runner_free(&r);
}

static const char *CLEAN =
    "local S = Strategy { n = 5 }\n"
    "function S:init()\n"
    "  self.s = self:I(SMA, self.data.Close, self.n)\n"
    "  self.f = self:I(function(x) return x end, self.data.Close)\n"
    "end\n"
    "function S:next()\n"
    "  local t = {1, 2}  -- barssince(self.s > 0) in a comment\n"
    "  if self.s[-1] > self.data.Close[-2] and t[1] == 1 then end\n"
    "end\n"
    "return S\n";

/* Negative indices and plain tables are fine; a Lua indicator without a
 * window is named at its self:I line. */
static void test_far_read_scan(void **state)
{
    struct runner r;
    char err[ERR_LEN], far[512];
    const char *path = write_strategy(CLEAN);
    (void)state;

    assert_int_equal(runner_init(&r, path, "TEST", NULL, NULL, err), 0);
    unlink(path);
    assert_int_equal(strategy_far_reads(r.strat, far, sizeof far), 1);
    assert_non_null(strstr(far, ":4: self:I(fn, ...) without {window"));
    runner_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_bounded),
        cmocka_unit_test(test_series_large_bound),
        cmocka_unit_test(test_series_unbounded_then_bound),
        cmocka_unit_test(test_store_bounded),
        cmocka_unit_test(test_runner_parity),
        cmocka_unit_test(test_far_read),
        cmocka_unit_test(test_far_read_scan),
    };
    return cmocka_run_group_tests_name("keep", tests, NULL, NULL);
}
