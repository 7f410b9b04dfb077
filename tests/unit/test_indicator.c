/* Streaming SMA and EMA against values worked out independently. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "indicator.h"

static void feed(struct series *src, struct indicator *ind, double x)
{
    assert_int_equal(series_push(src, x), 0);
    assert_int_equal(indicator_update(ind), 0);
}

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
        if (isnan(want[i]))
            assert_true(isnan(ind.out.v[i]));
        else
            assert_float_equal(ind.out.v[i], want[i], 1e-12);
    }
    assert_int_equal(ind.first_valid, 2);
    assert_int_equal(ind.warmup, 2);
    indicator_free(&ind);
    series_free(&src);
}

/* Against a brute-force mean of each window, over 20000 random values. */
static void test_sma_brute_force(void **state)
{
    struct series src;
    struct indicator ind;
    const int n = 17;
    (void)state;

    series_init(&src);
    indicator_init(&ind, IND_SMA, n, &src, 0, NULL);
    srand(12345);
    for (int i = 0; i < 20000; i++) {
        feed(&src, &ind, 100 + (rand() % 10000) / 100.0);
        if (i >= n - 1) {
            long double sum = 0;
            for (int k = i - n + 1; k <= i; k++)
                sum += src.v[k];
            assert_float_equal(ind.out.v[i], (double)(sum / n), 1e-9);
        }
    }
    indicator_free(&ind);
    series_free(&src);
}

/* A sliding sum must not drift: 2 million bars of prices near 1e6 with
 * small moves, checked against an exact window mean at the end. */
static void test_sma_no_drift(void **state)
{
    struct series src;
    struct indicator ind;
    const int n = 50, total = 2000000;
    long double sum = 0;
    (void)state;

    series_init(&src);
    indicator_init(&ind, IND_SMA, n, &src, 0, NULL);
    for (int i = 0; i < total; i++)
        feed(&src, &ind, 1e6 + 0.001 * (((long long)i * 7919) % 1000) + 1e-7 * i);
    for (int k = total - n; k < total; k++)
        sum += src.v[k];
    assert_float_equal(ind.out.v[total - 1], (double)(sum / n), 1e-9);
    indicator_free(&ind);
    series_free(&src);
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
    assert_true(isnan(ind.out.v[0]) && isnan(ind.out.v[1]));
    for (int i = 2; i < 10; i++)
        assert_float_equal(ind.out.v[i], i, 1e-12);
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
    assert_float_equal(ind.out.v[3], 10.5, 1e-12);
    assert_float_equal(ind.out.v[4], 14.3, 1e-12);
    assert_float_equal(ind.out.v[5], 10.58, 1e-12);
    indicator_free(&ind);
    series_free(&src);
}

/* An indicator over an indicator: SMA(2) of SMA(3) is first valid at 3,
 * and its warm-up is the sum of both. */
static void test_chained(void **state)
{
    struct series src;
    struct indicator a, b;
    (void)state;

    series_init(&src);
    indicator_init(&a, IND_SMA, 3, &src, 0, NULL);
    indicator_init(&b, IND_SMA, 2, &a.out, a.warmup, NULL);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(series_push(&src, i + 1), 0);
        indicator_update(&a);
        indicator_update(&b);
    }
    assert_int_equal(b.first_valid, 3);
    assert_int_equal(b.warmup, 3);
    assert_float_equal(b.out.v[3], 2.5, 1e-12);     /* (2 + 3) / 2 */
    indicator_free(&b);
    indicator_free(&a);
    series_free(&src);
}

static void test_bad_window(void **state)
{
    struct series src;
    struct indicator ind;
    (void)state;
    series_init(&src);
    assert_int_not_equal(indicator_init(&ind, IND_SMA, 0, &src, 0, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sma_small),
        cmocka_unit_test(test_sma_brute_force),
        cmocka_unit_test(test_sma_no_drift),
        cmocka_unit_test(test_ema_linear),
        cmocka_unit_test(test_ema_hand),
        cmocka_unit_test(test_chained),
        cmocka_unit_test(test_bad_window),
    };
    return cmocka_run_group_tests_name("indicator", tests, NULL, NULL);
}
