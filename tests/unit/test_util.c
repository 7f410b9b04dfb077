/* test_util.c -- common/util: jittered backoff, epoch milliseconds as UTC
 * text (negative times included), array growth. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "util.h"

static void test_backoff(void **state)
{
    uint64_t rng = 42, first;
    (void)state;

    /* Doubling per retry, capped, jittered into [d/2, d]. */
    assert_int_equal(backoff_ms(1000, 8000, 1, 0), 500);
    assert_int_equal(backoff_ms(1000, 8000, 1, 500), 1000);
    assert_int_equal(backoff_ms(1000, 8000, 1, 501), 500);
    assert_int_equal(backoff_ms(1000, 8000, 3, 0), 2000);
    assert_int_equal(backoff_ms(1000, 8000, 3, 2000), 4000);
    assert_int_equal(backoff_ms(1000, 8000, 30, 0), 4000);
    assert_int_equal(backoff_ms(1000, 8000, 30, 4000), 8000);
    /* Odd lengths: never below half, never above the whole. */
    assert_int_equal(backoff_ms(5, 100, 1, 0), 3);
    assert_int_equal(backoff_ms(5, 100, 1, 2), 5);
    /* A base of 0 or less is 1 ms; attempts of 0 or less are the first. */
    assert_int_equal(backoff_ms(0, 100, 1, 7), 1);
    assert_int_equal(backoff_ms(-5, 100, 3, 0), 2);
    assert_int_equal(backoff_ms(400, 1000, 0, 0), 200);
    /* Huge caps and attempt counts do not overflow. */
    assert_int_equal(backoff_ms(INT64_MAX / 3, INT64_MAX, 100, 0),
                     INT64_MAX - INT64_MAX / 2);
    assert_true(backoff_ms(1, INT64_MAX, 1000, UINT64_MAX) > 0);
    for (int i = 0; i < 1000; i++) {
        int64_t b = backoff_ms(300, 60000, 2, rand_next(&rng));
        assert_true(b >= 300 && b <= 600);
    }
    /* The doubling of a client's retries, the same from the same seed and
     * not from another. */
    for (int i = 1; i <= 12; i++) {
        int64_t full = 500LL << (i < 7 ? i - 1 : 6), d;
        uint64_t a = 42, b = 42;
        if (full > 30000)
            full = 30000;
        d = backoff_ms(500, 30000, i, rand_next(&a));
        assert_int_equal(d, backoff_ms(500, 30000, i, rand_next(&b)));
        assert_true(d >= full / 2 && d <= full);
    }
    {
        uint64_t a = 42, b = 43;
        int differ = 0;
        for (int i = 0; i < 8; i++)
            differ |= backoff_ms(500, 30000, 6, rand_next(&a)) !=
                      backoff_ms(500, 30000, 6, rand_next(&b));
        assert_true(differ);
    }
    assert_int_equal(backoff_ms(1, 1, 1, 12345), 1);
    assert_int_equal(backoff_ms(500, 30000, INT32_MAX, 0), 15000);
    /* The sequence repeats from the same seed. */
    rng = 7;
    first = rand_next(&rng);
    assert_true(rand_next(&rng) != first);
    rng = 7;
    assert_true(rand_next(&rng) == first);
}

static void test_utc_text(void **state)
{
    char b[40];
    (void)state;

    assert_int_equal(utc_text(b, sizeof b, 1795620000123, UTC_ISO), 0);
    assert_string_equal(b, "2026-11-25T15:20:00Z");
    assert_int_equal(utc_text(b, sizeof b, 1795620000123, UTC_ISO_MS), 0);
    assert_string_equal(b, "2026-11-25T15:20:00.123Z");
    assert_int_equal(utc_text(b, sizeof b, 1795620000123, UTC_PLAIN), 0);
    assert_string_equal(b, "2026-11-25 15:20:00");
    assert_int_equal(utc_text(b, sizeof b, 0, UTC_ISO_MS), 0);
    assert_string_equal(b, "1970-01-01T00:00:00.000Z");

    /* Negative times round down to the second they are in. */
    assert_int_equal(utc_text(b, sizeof b, -1, UTC_ISO_MS), 0);
    assert_string_equal(b, "1969-12-31T23:59:59.999Z");
    assert_int_equal(utc_text(b, sizeof b, -1, UTC_ISO), 0);
    assert_string_equal(b, "1969-12-31T23:59:59Z");
    assert_int_equal(utc_text(b, sizeof b, -1000, UTC_ISO_MS), 0);
    assert_string_equal(b, "1969-12-31T23:59:59.000Z");
    assert_int_equal(utc_text(b, sizeof b, -1001, UTC_PLAIN), 0);
    assert_string_equal(b, "1969-12-31 23:59:58");
    assert_int_equal(utc_text(b, sizeof b, -86400000 * 365LL - 1,
                              UTC_ISO_MS), 0);
    assert_string_equal(b, "1968-12-31T23:59:59.999Z");

    /* Too small a buffer, a time out of the calendar, a bad style. */
    assert_int_equal(utc_text(b, 20, 0, UTC_ISO), -1);
    assert_string_equal(b, "");
    assert_int_equal(utc_text(b, 21, 0, UTC_ISO), 0);
    assert_int_equal(utc_text(b, 24, 0, UTC_ISO_MS), -1);
    assert_string_equal(b, "");
    assert_int_equal(utc_text(b, 25, 0, UTC_ISO_MS), 0);
    assert_int_equal(utc_text(b, 0, 0, UTC_ISO), -1);
    /* The ends of the range are still dates (years of nine digits). */
    assert_int_equal(utc_text(b, sizeof b, INT64_MIN, UTC_ISO_MS), 0);
    assert_string_equal(b, "-292275055-05-16T16:47:04.192Z");
    assert_int_equal(utc_text(b, sizeof b, INT64_MAX, UTC_ISO_MS), 0);
    assert_string_equal(b, "292278994-08-17T07:12:55.807Z");
    assert_int_equal(utc_text(b, sizeof b, 0, 7), -1);
}

static void test_grow(void **state)
{
    int *v = NULL;
    void *p;
    size_t cap = 0;
    (void)state;

    assert_int_equal(grow((void **)&v, &cap, 0, sizeof *v, SIZE_MAX), 0);
    assert_null(v);                 /* nothing needed, nothing made */
    assert_int_equal(grow((void **)&v, &cap, 1, sizeof *v, SIZE_MAX), 0);
    assert_int_equal(cap, GROW_MIN);
    v[0] = 7;
    assert_int_equal(grow((void **)&v, &cap, GROW_MIN, sizeof *v,
                          SIZE_MAX), 0);
    assert_int_equal(cap, GROW_MIN);
    assert_int_equal(grow((void **)&v, &cap, GROW_MIN + 1, sizeof *v,
                          SIZE_MAX), 0);
    assert_int_equal(cap, 2 * GROW_MIN);
    assert_int_equal(grow((void **)&v, &cap, 5 * GROW_MIN, sizeof *v,
                          SIZE_MAX), 0);
    assert_int_equal(cap, 8 * GROW_MIN);
    assert_int_equal(v[0], 7);      /* kept across moves */
    v[cap - 1] = 1;

    /* Clamped to the limit, and refused past it with nothing changed. */
    assert_int_equal(grow((void **)&v, &cap, 8 * GROW_MIN + 1, sizeof *v,
                          10 * GROW_MIN), 0);
    assert_int_equal(cap, 10 * GROW_MIN);
    p = v;
    assert_int_equal(grow((void **)&v, &cap, 10 * GROW_MIN + 1, sizeof *v,
                          10 * GROW_MIN), ERR_TOO_LARGE);
    assert_ptr_equal(v, p);
    assert_int_equal(cap, 10 * GROW_MIN);

    /* Byte counts that overflow size_t are refused before realloc. */
    assert_int_equal(grow((void **)&v, &cap, SIZE_MAX / 2, sizeof *v,
                          SIZE_MAX), ERR_TOO_LARGE);
    assert_int_equal(cap, 10 * GROW_MIN);
    assert_int_equal(v[0], 7);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_utc_text),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
