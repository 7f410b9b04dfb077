/* Streaming indicators against values worked out independently: by hand
 * for small cases, by brute force over each window for random data, and
 * over millions of bars for drift. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "err.h"
#include "indicator.h"

/* Three columns (high, low, close) and indicators over them. */
struct bars {
    struct series h, l, c;
};

static void bars_init(struct bars *b)
{
    series_init(&b->h);
    series_init(&b->l);
    series_init(&b->c);
}

static void bars_free(struct bars *b)
{
    series_free(&b->h);
    series_free(&b->l);
    series_free(&b->c);
}

/* An indicator of `kind` over the close (or high, low, close). */
static void mk(struct indicator *ind, struct bars *b, enum ind_kind kind,
               double p0, double p1, double p2)
{
    const struct series *src[IND_MAX_IN] = { &b->h, &b->l, &b->c };
    const struct series *one[IND_MAX_IN] = { &b->c, &b->c, &b->c };
    double p[IND_MAX_PARAM] = { p0, p1, p2 };
    int multi = indicator_info(kind)->nin > 1;
    assert_int_equal(indicator_init_ex(ind, kind, multi ? src : one, p, 0,
                                       NULL), 0);
}

static void push(struct bars *b, struct indicator *ind, int nind, double h,
                 double l, double c)
{
    assert_int_equal(series_push(&b->h, h), 0);
    assert_int_equal(series_push(&b->l, l), 0);
    assert_int_equal(series_push(&b->c, c), 0);
    for (int k = 0; k < nind; k++)
        assert_int_equal(indicator_update(&ind[k]), 0);
}

static void feed(struct series *src, struct indicator *ind, double x)
{
    assert_int_equal(series_push(src, x), 0);
    assert_int_equal(indicator_update(ind), 0);
}

/* |got - want| <= tol * max(1, |want|), in double precision (cmocka's
 * assert_float_equal compares floats). */
static void near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fmax(1.0, fabs(want)))) {
        print_error("got %.17g, want %.17g (tolerance %g)\n", got, want, tol);
        fail();
    }
}

/* Expects output j at index i to be `want` (NaN: NaN). */
static void expect(const struct indicator *ind, int j, size_t i, double want,
                   double tol)
{
    assert_true(i < ind->out[j].len);
    if (isnan(want)) {
        if (!isnan(ind->out[j].v[i])) {
            print_error("index %zu: got %.17g, want NaN\n", i,
                        ind->out[j].v[i]);
            fail();
        }
    } else {
        near(ind->out[j].v[i], want, tol);
    }
}

/* {==================== moving averages ====================== */

/* SMA(3) of 1..6 is NaN, NaN, 2, 3, 4, 5. */
static void test_sma_small(void **state)
{
    struct series src;
    struct indicator ind;
    const double want[] = { NAN, NAN, 2, 3, 4, 5 };
    (void)state;

    series_init(&src);
    assert_int_equal(indicator_init(&ind, IND_SMA, 3, &src, 0, NULL), 0);
    for (int i = 0; i < 6; i++) {
        feed(&src, &ind, i + 1);
        expect(&ind, 0, (size_t)i, want[i], 1e-12);
    }
    assert_int_equal(ind.first_valid, 2);
    assert_int_equal(ind.warmup, 2);
    assert_string_equal(ind.name, "SMA(3)");
    indicator_free(&ind);
    series_free(&src);
}

/* SMA, WMA and STDDEV against brute force over each window of 20000
 * random values. */
static void test_windows_brute_force(void **state)
{
    struct bars b;
    struct indicator ind[3];
    const int n = 17;
    (void)state;

    bars_init(&b);
    mk(&ind[0], &b, IND_SMA, n, NAN, NAN);
    mk(&ind[1], &b, IND_WMA, n, NAN, NAN);
    mk(&ind[2], &b, IND_STDDEV, n, NAN, NAN);
    srand(12345);
    for (int i = 0; i < 20000; i++) {
        double x = 100 + (rand() % 10000) / 100.0;
        push(&b, ind, 3, x, x, x);
        if (i >= n - 1) {
            long double sum = 0, wsum = 0, mean, ss = 0;
            for (int k = i - n + 1; k <= i; k++) {
                sum += b.c.v[k];
                wsum += (long double)(k - (i - n)) * b.c.v[k];
            }
            mean = sum / n;
            for (int k = i - n + 1; k <= i; k++)
                ss += (b.c.v[k] - mean) * (b.c.v[k] - mean);
            expect(&ind[0], 0, (size_t)i, (double)mean, 1e-9);
            expect(&ind[1], 0, (size_t)i,
                   (double)(wsum / (n * (n + 1) / 2.0L)), 1e-9);
            expect(&ind[2], 0, (size_t)i, (double)sqrtl(ss / (n - 1)),
                   1e-9);
        }
    }
    for (int k = 0; k < 3; k++)
        indicator_free(&ind[k]);
    bars_free(&b);
}

/* EMA(3): seed = mean of the first 3 values, then a = 0.5. On 1..10 the
 * seed is 2 at index 2 and each later value is x - 1. */
static void test_ema_linear(void **state)
{
    struct series src;
    struct indicator ind;
    (void)state;

    series_init(&src);
    indicator_init(&ind, IND_EMA, 3, &src, 0, NULL);
    for (int i = 0; i < 10; i++)
        feed(&src, &ind, i + 1);
    assert_true(isnan(ind.out[0].v[0]) && isnan(ind.out[0].v[1]));
    for (int i = 2; i < 10; i++)
        expect(&ind, 0, (size_t)i, i, 1e-12);
    assert_int_equal(ind.first_valid, 2);
    indicator_free(&ind);
    series_free(&src);
}

/* EMA(4) on 10, 11, 9, 12, 20, 5 by hand: a = 0.4; seed 10.5 at index 3;
 * then 0.4*20 + 0.6*10.5 = 14.3; 0.4*5 + 0.6*14.3 = 10.58. */
static void test_ema_hand(void **state)
{
    struct series src;
    struct indicator ind;
    const double x[] = { 10, 11, 9, 12, 20, 5 };
    (void)state;

    series_init(&src);
    indicator_init(&ind, IND_EMA, 4, &src, 0, NULL);
    for (int i = 0; i < 6; i++)
        feed(&src, &ind, x[i]);
    expect(&ind, 0, 3, 10.5, 1e-12);
    expect(&ind, 0, 4, 14.3, 1e-12);
    expect(&ind, 0, 5, 10.58, 1e-12);
    indicator_free(&ind);
    series_free(&src);
}

/* WMA(3) on 1, 2, 3, 4, 10 by hand: (1+4+9)/6, (2+6+12)/6, (3+8+30)/6. */
static void test_wma_hand(void **state)
{
    struct series src;
    struct indicator ind;
    const double x[] = { 1, 2, 3, 4, 10 };
    (void)state;

    series_init(&src);
    indicator_init(&ind, IND_WMA, 3, &src, 0, NULL);
    for (int i = 0; i < 5; i++)
        feed(&src, &ind, x[i]);
    expect(&ind, 0, 1, NAN, 0);
    expect(&ind, 0, 2, 14 / 6.0, 1e-12);
    expect(&ind, 0, 3, 20 / 6.0, 1e-12);
    expect(&ind, 0, 4, 41 / 6.0, 1e-12);
    indicator_free(&ind);
    series_free(&src);
}

/* }========================================================== */

/* {==================== oscillators ========================== */

/* RSI(3) on 10, 11, 10.5, 11.5, 12, 11: changes +1, -.5, +1, +.5, -1.
 * At index 3: gain 2/3, loss 1/6 -> 80. Index 4: gain (2/3*2 + .5)/3 =
 * 11/18, loss (1/6*2)/3 = 2/18 -> 1100/13. Index 5: gain 22/54, loss
 * (4/18 + 1)/3 = 22/54 -> 50. */
static void test_rsi_hand(void **state)
{
    struct series src;
    struct indicator ind;
    const double x[] = { 10, 11, 10.5, 11.5, 12, 11 };
    (void)state;

    series_init(&src);
    indicator_init(&ind, IND_RSI, 3, &src, 0, NULL);
    for (int i = 0; i < 6; i++)
        feed(&src, &ind, x[i]);
    expect(&ind, 0, 2, NAN, 0);
    expect(&ind, 0, 3, 80, 1e-12);
    expect(&ind, 0, 4, 1100 / 13.0, 1e-12);
    expect(&ind, 0, 5, 50, 1e-12);
    assert_int_equal(ind.first_valid, 3);
    assert_int_equal(ind.warmup, 3);
    indicator_free(&ind);
    series_free(&src);
}

/* Only gains: 100. Flat: 50 (no gain, no loss). Only losses: 0. */
static void test_rsi_edges(void **state)
{
    struct series a, f, d;
    struct indicator up, flat, down;
    (void)state;

    series_init(&a);
    series_init(&f);
    series_init(&d);
    indicator_init(&up, IND_RSI, 4, &a, 0, NULL);
    indicator_init(&flat, IND_RSI, 4, &f, 0, NULL);
    indicator_init(&down, IND_RSI, 4, &d, 0, NULL);
    for (int i = 0; i < 10; i++) {
        feed(&a, &up, 100 + i);
        feed(&f, &flat, 100);
        feed(&d, &down, 100 - i);
    }
    expect(&up, 0, 9, 100, 0);
    expect(&flat, 0, 9, 50, 0);
    expect(&down, 0, 9, 0, 0);
    indicator_free(&up);
    indicator_free(&flat);
    indicator_free(&down);
    series_free(&a);
    series_free(&f);
    series_free(&d);
}

/* MACD(2, 3, 2) on 1..10: EMA(n) of a line lags it by (n-1)/2, so macd
 * = (x - .5) - (x - 1) = .5 from index 2, signal .5 from 3, hist 0. */
static void test_macd_linear(void **state)
{
    struct bars b;
    struct indicator m;
    (void)state;

    bars_init(&b);
    mk(&m, &b, IND_MACD, 2, 3, 2);
    for (int i = 0; i < 10; i++)
        push(&b, &m, 1, 0, 0, i + 1);
    expect(&m, 0, 1, NAN, 0);
    expect(&m, 0, 2, 0.5, 1e-12);
    expect(&m, 1, 2, NAN, 0);
    for (int i = 3; i < 10; i++) {
        expect(&m, 0, (size_t)i, 0.5, 1e-12);
        expect(&m, 1, (size_t)i, 0.5, 1e-12);
        expect(&m, 2, (size_t)i, 0, 1e-12);
    }
    assert_int_equal(m.out_first[0], 2);
    assert_int_equal(m.first_valid, 3);
    assert_int_equal(m.warmup, 3);
    indicator_free(&m);
    bars_free(&b);
}

/* MACD is exactly EMA(fast) - EMA(slow), and its signal exactly an EMA
 * of that line, over random data with the default 12, 26, 9. */
static void test_macd_is_ema_difference(void **state)
{
    struct bars b;
    struct indicator ind[3], sig;
    (void)state;

    bars_init(&b);
    mk(&ind[0], &b, IND_MACD, NAN, NAN, NAN);
    mk(&ind[1], &b, IND_EMA, 12, NAN, NAN);
    mk(&ind[2], &b, IND_EMA, 26, NAN, NAN);
    indicator_init(&sig, IND_EMA, 9, &ind[0].out[0], 0, NULL);
    srand(7);
    for (int i = 0; i < 3000; i++) {
        push(&b, ind, 3, 0, 0, 50 + (rand() % 1000) / 10.0);
        assert_int_equal(indicator_update(&sig), 0);
        if (i < 25)
            continue;
        assert_true(ind[0].out[0].v[i] ==
                    ind[1].out[0].v[i] - ind[2].out[0].v[i]);
        if (i >= 33)
            assert_true(ind[0].out[1].v[i] == sig.out[0].v[i]);
    }
    assert_int_equal(ind[0].first_valid, 33);
    assert_string_equal(ind[0].name, "MACD(12,26,9)");
    for (int k = 0; k < 3; k++)
        indicator_free(&ind[k]);
    indicator_free(&sig);
    bars_free(&b);
}

/* STOCH(3, 2) by hand. Bars (h, l, c): (10,8,9) (11,9,10) (12,10,11)
 * (12,11,11.5) (11,10,10). %K at 2: HH 12, LL 8 -> 100*(11-8)/4 = 75;
 * at 3: HH 12, LL 9 -> 100*2.5/3; at 4: HH 12, LL 10 -> 0. %D = mean of
 * the last two %K. */
static void test_stoch_hand(void **state)
{
    struct bars b;
    struct indicator st;
    const double bar[][3] = { { 10, 8, 9 }, { 11, 9, 10 }, { 12, 10, 11 },
                              { 12, 11, 11.5 }, { 11, 10, 10 } };
    (void)state;

    bars_init(&b);
    mk(&st, &b, IND_STOCH, 3, 2, NAN);
    for (int i = 0; i < 5; i++)
        push(&b, &st, 1, bar[i][0], bar[i][1], bar[i][2]);
    expect(&st, 0, 1, NAN, 0);
    expect(&st, 0, 2, 75, 1e-12);
    expect(&st, 1, 2, NAN, 0);
    expect(&st, 0, 3, 250 / 3.0, 1e-12);
    expect(&st, 1, 3, (75 + 250 / 3.0) / 2, 1e-12);
    expect(&st, 0, 4, 0, 1e-12);
    expect(&st, 1, 4, 125 / 3.0, 1e-12);
    assert_int_equal(st.first_valid, 3);
    assert_int_equal(st.warmup, 3);
    indicator_free(&st);
    bars_free(&b);
}

/* }========================================================== */

/* {==================== volatility and ranges ================ */

/* BBANDS(4, 2) and STDDEV(4) on 1, 2, 3, 4: mean 2.5, population
 * variance 5/4, sample variance 5/3. */
static void test_bbands_stddev_hand(void **state)
{
    struct bars b;
    struct indicator ind[2];
    (void)state;

    bars_init(&b);
    mk(&ind[0], &b, IND_BBANDS, 4, 2, NAN);
    mk(&ind[1], &b, IND_STDDEV, 4, NAN, NAN);
    for (int i = 0; i < 4; i++)
        push(&b, ind, 2, 0, 0, i + 1);
    expect(&ind[0], 0, 2, NAN, 0);
    expect(&ind[0], 0, 3, 2.5 + 2 * sqrt(1.25), 1e-12);
    expect(&ind[0], 1, 3, 2.5, 1e-12);
    expect(&ind[0], 2, 3, 2.5 - 2 * sqrt(1.25), 1e-12);
    expect(&ind[1], 0, 3, sqrt(5 / 3.0), 1e-12);
    assert_int_equal(ind[0].first_valid, 3);
    for (int k = 0; k < 2; k++)
        indicator_free(&ind[k]);
    bars_free(&b);
}

/* A flat stretch right after a jump: the deviation collapses from 5 to
 * 0.005; it must still be exact, not the difference of large sums. */
static void test_stddev_collapse(void **state)
{
    struct bars b;
    struct indicator sd;
    const double x[] = { 1, 438.08, 440.47, 465.71, 465.70, 465.70 };
    (void)state;

    bars_init(&b);
    mk(&sd, &b, IND_STDDEV, 2, NAN, NAN);
    for (int i = 0; i < 6; i++)
        push(&b, &sd, 1, 0, 0, x[i]);
    expect(&sd, 0, 4, fabs(465.71 - 465.70) / sqrt(2), 1e-15);
    expect(&sd, 0, 5, 0, 1e-15);
    indicator_free(&sd);
    bars_free(&b);
}

/* ATR(3) by hand. True ranges from bar 1: 2, 2, 1.5, then 3.5 (low 9
 * against close 12), then 5.5 (a gap over the close 9.5). First value
 * at 3: 5.5/3; then (atr*2 + tr)/3. */
static void test_atr_hand(void **state)
{
    struct bars b;
    struct indicator atr;
    const double bar[][3] = { { 10, 8, 9 }, { 11, 9, 10 }, { 12, 10, 11.5 },
                              { 13, 11.5, 12 }, { 12.5, 9, 9.5 },
                              { 15, 14, 14.5 } };
    double a3 = 5.5 / 3, a4 = (a3 * 2 + 3.5) / 3, a5 = (a4 * 2 + 5.5) / 3;
    (void)state;

    bars_init(&b);
    mk(&atr, &b, IND_ATR, 3, NAN, NAN);
    for (int i = 0; i < 6; i++)
        push(&b, &atr, 1, bar[i][0], bar[i][1], bar[i][2]);
    expect(&atr, 0, 2, NAN, 0);
    expect(&atr, 0, 3, a3, 1e-12);
    expect(&atr, 0, 4, a4, 1e-12);
    expect(&atr, 0, 5, a5, 1e-12);
    assert_int_equal(atr.first_valid, 3);
    assert_string_equal(atr.name, "ATR(3)");
    indicator_free(&atr);
    bars_free(&b);
}

/* HIGHEST, LOWEST and DONCHIAN against brute force, over random data
 * and over a falling then rising line (the deque's longest case). */
static void test_extremes_brute_force(void **state)
{
    struct bars b;
    struct indicator ind[3];
    const int n = 7;
    (void)state;

    bars_init(&b);
    mk(&ind[0], &b, IND_HIGHEST, n, NAN, NAN);
    mk(&ind[1], &b, IND_LOWEST, n, NAN, NAN);
    mk(&ind[2], &b, IND_DONCHIAN, n, NAN, NAN);
    srand(99);
    for (int i = 0; i < 6000; i++) {
        double c = i < 2000 ? rand() % 50 : i < 4000 ? 4000 - i : i;
        push(&b, ind, 3, c + 1, c - 1, c);
        if (i >= n - 1) {
            double hi = -INFINITY, lo = INFINITY, hh = -INFINITY,
                   ll = INFINITY;
            for (int k = i - n + 1; k <= i; k++) {
                hi = fmax(hi, b.c.v[k]);
                lo = fmin(lo, b.c.v[k]);
                hh = fmax(hh, b.h.v[k]);
                ll = fmin(ll, b.l.v[k]);
            }
            expect(&ind[0], 0, (size_t)i, hi, 0);
            expect(&ind[1], 0, (size_t)i, lo, 0);
            expect(&ind[2], 0, (size_t)i, hh, 0);
            expect(&ind[2], 1, (size_t)i, (hh + ll) / 2, 0);
            expect(&ind[2], 2, (size_t)i, ll, 0);
        } else {
            expect(&ind[0], 0, (size_t)i, NAN, 0);
        }
    }
    for (int k = 0; k < 3; k++)
        indicator_free(&ind[k]);
    bars_free(&b);
}

/* ROC(2) and MOM(2) on 100, 110, 121, 99: first at 2. */
static void test_roc_mom_hand(void **state)
{
    struct bars b;
    struct indicator ind[2];
    const double x[] = { 100, 110, 121, 99 };
    (void)state;

    bars_init(&b);
    mk(&ind[0], &b, IND_ROC, 2, NAN, NAN);
    mk(&ind[1], &b, IND_MOM, 2, NAN, NAN);
    for (int i = 0; i < 4; i++)
        push(&b, ind, 2, 0, 0, x[i]);
    expect(&ind[0], 0, 1, NAN, 0);
    expect(&ind[0], 0, 2, 21, 1e-12);
    expect(&ind[0], 0, 3, -10, 1e-12);
    expect(&ind[1], 0, 2, 21, 1e-12);
    expect(&ind[1], 0, 3, -11, 1e-12);
    assert_int_equal(ind[0].first_valid, 2);
    for (int k = 0; k < 2; k++)
        indicator_free(&ind[k]);
    bars_free(&b);
}

/* }========================================================== */

/* {==================== drift over millions of bars ========== */

/* A sliding sum must not drift: 2 million bars of prices near 1e6 with
 * small moves, checked against an exact window mean at checkpoints. */
static void test_sma_no_drift(void **state)
{
    struct series src;
    struct indicator ind;
    const int n = 50, total = 2000000;
    (void)state;

    series_init(&src);
    indicator_init(&ind, IND_SMA, n, &src, 0, NULL);
    for (int i = 0; i < total; i++) {
        feed(&src, &ind,
             1e6 + 0.001 * (((long long)i * 7919) % 1000) + 1e-7 * i);
        if (i % 250000 == 249999 || i == total - 1) {
            long double sum = 0;
            for (int k = i - n + 1; k <= i; k++)
                sum += src.v[k];
            near(ind.out[0].v[i], (double)(sum / n), 1e-15);
        }
    }
    indicator_free(&ind);
    series_free(&src);
}

/* A random walk near 1.07 with steps of 1e-4 (EURUSD-like: the standard
 * deviation is 1e-4 of the price) for 1.5 million bars: SMA, WMA,
 * STDDEV and BBANDS at checkpoints against exact (long double, two-pass)
 * window values; EMA, RSI and ATR against the same recursions in long
 * double. Nothing may drift. */
static void test_no_drift_walk(void **state)
{
    struct bars b;
    struct indicator ind[7];
    const int n = 20, total = 1500000;
    long double ema = 0, g = 0, l = 0, atr = 0, a = 2.0L / (n + 1);
    long double seed = 0, gs = 0, ls = 0, ts = 0;
    double x = 1.07;
    uint64_t r = 88172645463325252ULL;
    (void)state;

    bars_init(&b);
    mk(&ind[0], &b, IND_SMA, n, NAN, NAN);
    mk(&ind[1], &b, IND_WMA, n, NAN, NAN);
    mk(&ind[2], &b, IND_STDDEV, n, NAN, NAN);
    mk(&ind[3], &b, IND_BBANDS, n, 2, NAN);
    mk(&ind[4], &b, IND_EMA, n, NAN, NAN);
    mk(&ind[5], &b, IND_RSI, n, NAN, NAN);
    mk(&ind[6], &b, IND_ATR, n, NAN, NAN);
    for (int i = 0; i < total; i++) {
        double h, lo;
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;    /* xorshift64 */
        x += ((double)(r % 2001) - 1000.0) * 1e-7;
        h = x + (double)(r % 7) * 1e-5;
        lo = x - (double)(r % 5) * 1e-5;
        push(&b, ind, 7, h, lo, x);
        /* the long double references */
        if (i < n) {
            seed += x;
            if (i == n - 1)
                ema = seed / n;
        } else {
            ema = a * x + (1 - a) * ema;
        }
        if (i >= 1) {
            long double d = (long double)x - b.c.v[i - 1];
            long double pc = b.c.v[i - 1];
            long double tr = fmaxl(h - lo, fmaxl(fabsl(h - pc),
                                                 fabsl(lo - pc)));
            if (i <= n) {
                gs += d > 0 ? d : 0;
                ls += d < 0 ? -d : 0;
                ts += tr;
                if (i == n) {
                    g = gs / n;
                    l = ls / n;
                    atr = ts / n;
                }
            } else {
                g = (g * (n - 1) + (d > 0 ? d : 0)) / n;
                l = (l * (n - 1) + (d < 0 ? -d : 0)) / n;
                atr = (atr * (n - 1) + tr) / n;
            }
        }
        if (i % 300000 == 299999 || i == total - 1) {
            long double sum = 0, wsum = 0, mean, ss = 0;
            for (int k = i - n + 1; k <= i; k++) {
                sum += b.c.v[k];
                wsum += (long double)(k - (i - n)) * b.c.v[k];
            }
            mean = sum / n;
            for (int k = i - n + 1; k <= i; k++)
                ss += (b.c.v[k] - mean) * (b.c.v[k] - mean);
            near(ind[0].out[0].v[i], (double)mean, 1e-15);
            near(ind[1].out[0].v[i], (double)(wsum / (n * (n + 1) / 2.0L)),
                 1e-15);
            near(ind[2].out[0].v[i] / (double)sqrtl(ss / (n - 1)), 1, 1e-12);
            near((ind[3].out[0].v[i] - ind[3].out[1].v[i]) / 2 /
                 (double)sqrtl(ss / n), 1, 1e-9);
            near(ind[4].out[0].v[i], (double)ema, 1e-15);
            near(ind[5].out[0].v[i], (double)(100 * g / (g + l)), 1e-12);
            near(ind[6].out[0].v[i] / (double)atr, 1, 1e-12);
        }
    }
    for (int k = 0; k < 7; k++)
        indicator_free(&ind[k]);
    bars_free(&b);
}

/* }========================================================== */

/* {==================== warm-up, NaN, chaining, checks ======= */

/* first_valid equals the warm-up each kind predicts from its
 * parameters, on sources valid from the first bar. */
static void test_warmups(void **state)
{
    static const struct {
        enum ind_kind kind;
        double p[3];
        int64_t want;
    } c[] = {
        { IND_SMA, { 10, NAN, NAN }, 9 }, { IND_EMA, { 10, NAN, NAN }, 9 },
        { IND_WMA, { 10, NAN, NAN }, 9 }, { IND_RSI, { 14, NAN, NAN }, 14 },
        { IND_MACD, { NAN, NAN, NAN }, 33 },
        { IND_MACD, { 3, 5, 4 }, 7 },
        { IND_BBANDS, { NAN, NAN, NAN }, 19 },
        { IND_ATR, { 14, NAN, NAN }, 14 },
        { IND_STDDEV, { 5, NAN, NAN }, 4 },
        { IND_HIGHEST, { 5, NAN, NAN }, 4 },
        { IND_LOWEST, { 1, NAN, NAN }, 0 },
        { IND_ROC, { NAN, NAN, NAN }, 10 }, { IND_MOM, { 3, NAN, NAN }, 3 },
        { IND_STOCH, { NAN, NAN, NAN }, 15 },
        { IND_DONCHIAN, { NAN, NAN, NAN }, 19 },
    };
    const size_t nc = sizeof c / sizeof c[0];
    struct bars b;
    struct indicator ind[sizeof c / sizeof c[0]];
    (void)state;

    bars_init(&b);
    for (size_t k = 0; k < nc; k++)
        mk(&ind[k], &b, c[k].kind, c[k].p[0], c[k].p[1], c[k].p[2]);
    for (int i = 0; i < 60; i++)
        push(&b, ind, (int)nc, 100 + i % 7 + 1, 100 + i % 7 - 1,
             100 + i % 7);
    for (size_t k = 0; k < nc; k++) {
        if (ind[k].first_valid != c[k].want || ind[k].warmup != c[k].want) {
            print_error("%s: first valid %lld, warm-up %lld, want %lld\n",
                        ind[k].name, (long long)ind[k].first_valid,
                        (long long)ind[k].warmup, (long long)c[k].want);
            fail();
        }
        assert_true(ind[k].history > ind[k].warmup);
        indicator_free(&ind[k]);
    }
    bars_free(&b);
}

/* An indicator over an indicator: SMA(2) of SMA(3) is first valid at 3,
 * and its warm-up is the sum of both; RSI(3) of SMA(3) at 2 + 3. */
static void test_chained(void **state)
{
    struct series src;
    struct indicator a, b, c;
    (void)state;

    series_init(&src);
    indicator_init(&a, IND_SMA, 3, &src, 0, NULL);
    indicator_init(&b, IND_SMA, 2, &a.out[0], a.warmup, NULL);
    indicator_init(&c, IND_RSI, 3, &a.out[0], a.warmup, NULL);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(series_push(&src, i + 1), 0);
        indicator_update(&a);
        indicator_update(&b);
        indicator_update(&c);
    }
    assert_int_equal(b.first_valid, 3);
    assert_int_equal(b.warmup, 3);
    near(b.out[0].v[3], 2.5, 1e-15);     /* (2 + 3) / 2 */
    assert_int_equal(c.first_valid, 5);
    assert_int_equal(c.warmup, 5);
    near(c.out[0].v[5], 100, 1e-15);     /* only gains */
    indicator_free(&c);
    indicator_free(&b);
    indicator_free(&a);
    series_free(&src);
}

/* A NaN in the window gives NaN until it has left, then exact values
 * again; recursive kinds skip it and keep their state. */
static void test_nan_in_source(void **state)
{
    struct bars b;
    struct indicator ind[4];
    const double x[] = { 1, 2, 3, NAN, 5, 6, 7, 8 };
    (void)state;

    bars_init(&b);
    mk(&ind[0], &b, IND_SMA, 2, NAN, NAN);
    mk(&ind[1], &b, IND_HIGHEST, 2, NAN, NAN);
    mk(&ind[2], &b, IND_EMA, 2, NAN, NAN);
    mk(&ind[3], &b, IND_STDDEV, 2, NAN, NAN);
    for (int i = 0; i < 8; i++)
        push(&b, ind, 4, x[i], x[i], x[i]);
    expect(&ind[0], 0, 2, 2.5, 1e-15);
    expect(&ind[0], 0, 3, NAN, 0);
    expect(&ind[0], 0, 4, NAN, 0);
    expect(&ind[0], 0, 5, 5.5, 1e-15);
    expect(&ind[0], 0, 7, 7.5, 1e-15);
    expect(&ind[1], 0, 4, NAN, 0);
    expect(&ind[1], 0, 5, 6, 0);
    expect(&ind[3], 0, 5, sqrt(0.5), 1e-15);
    /* EMA(2), a = 2/3: 1.5, 2.5, NaN (kept), 2/3*5 + 1/3*2.5 = 12.5/3 */
    expect(&ind[2], 0, 3, NAN, 0);
    expect(&ind[2], 0, 4, 12.5 / 3, 1e-15);
    assert_int_equal(ind[0].first_valid, 1);
    for (int k = 0; k < 4; k++)
        indicator_free(&ind[k]);
    bars_free(&b);
}

static void test_bad_params(void **state)
{
    struct series src;
    struct indicator ind;
    char why[160];
    const double zero[3] = { 0, NAN, NAN }, frac[3] = { 2.5, NAN, NAN },
                 one[3] = { 1, NAN, NAN }, badk[3] = { 20, NAN, NAN },
                 infk[3] = { 20, INFINITY, NAN }, big[3] = { 2e6, NAN, NAN };
    (void)state;

    series_init(&src);
    assert_int_not_equal(indicator_init(&ind, IND_SMA, 0, &src, 0, NULL), 0);
    indicator_free(&ind);
    assert_int_equal(indicator_check(IND_SMA, zero, why, sizeof why),
                     ERR_INVALID);
    assert_non_null(strstr(why, "SMA: n must be a whole number"));
    assert_int_equal(indicator_check(IND_EMA, frac, why, sizeof why),
                     ERR_INVALID);
    assert_int_equal(indicator_check(IND_SMA, big, why, sizeof why),
                     ERR_INVALID);
    assert_int_equal(indicator_check(IND_SMA, NULL, why, sizeof why),
                     ERR_INVALID);
    assert_non_null(strstr(why, "parameter n is required"));
    assert_int_equal(indicator_check(IND_STDDEV, one, why, sizeof why),
                     ERR_INVALID);
    assert_int_equal(indicator_check(IND_BBANDS, badk, why, sizeof why), 0);
    assert_int_equal(indicator_check(IND_BBANDS, infk, why, sizeof why),
                     ERR_INVALID);
    assert_int_equal(indicator_check(IND_RSI, NULL, why, sizeof why), 0);
    assert_int_equal(indicator_kind_find("MACD"), IND_MACD);
    assert_int_equal(indicator_kind_find("macd"), -1);
    assert_int_equal(indicator_kind_find("I"), -1);
    series_free(&src);
}

/* Values pushed from outside (a Lua function): first valid index per
 * output and for all of them. */
static void test_external(void **state)
{
    struct indicator ind;
    const double y0[2] = { NAN, NAN }, y1[2] = { 1, NAN },
                 y2[2] = { NAN, 2 };
    (void)state;

    assert_int_equal(indicator_init_external(&ind, 2, 9, 10, "f"), 0);
    assert_int_equal(indicator_update(&ind), 0);
    assert_int_equal(indicator_push(&ind, y0), 0);
    assert_int_equal(indicator_push(&ind, y1), 0);
    assert_int_equal(ind.first_valid, -1);
    assert_int_equal(indicator_push(&ind, y2), 0);
    assert_int_equal(ind.out_first[0], 1);
    assert_int_equal(ind.first_valid, 2);
    assert_int_equal(ind.out[1].len, 3);
    assert_int_equal(ind.history, 10);
    indicator_free(&ind);
    assert_int_not_equal(indicator_init_external(&ind, 4, 0, 1, NULL), 0);
}

/* }========================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sma_small),
        cmocka_unit_test(test_windows_brute_force),
        cmocka_unit_test(test_ema_linear),
        cmocka_unit_test(test_ema_hand),
        cmocka_unit_test(test_wma_hand),
        cmocka_unit_test(test_rsi_hand),
        cmocka_unit_test(test_rsi_edges),
        cmocka_unit_test(test_macd_linear),
        cmocka_unit_test(test_macd_is_ema_difference),
        cmocka_unit_test(test_stoch_hand),
        cmocka_unit_test(test_bbands_stddev_hand),
        cmocka_unit_test(test_stddev_collapse),
        cmocka_unit_test(test_atr_hand),
        cmocka_unit_test(test_extremes_brute_force),
        cmocka_unit_test(test_roc_mom_hand),
        cmocka_unit_test(test_sma_no_drift),
        cmocka_unit_test(test_no_drift_walk),
        cmocka_unit_test(test_warmups),
        cmocka_unit_test(test_chained),
        cmocka_unit_test(test_nan_in_source),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_external),
    };
    return cmocka_run_group_tests_name("indicator", tests, NULL, NULL);
}
