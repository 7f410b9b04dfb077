/* test_polygon_cache.c -- the polygon source's history cache files and
 * market hours: a round trip, a corrupt file refused, paths kept apart
 * per server, and New York regular hours across daylight time. */
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

#include "../../feeder/polygon_cache.h"
#include "../../feeder/polygon_hours.h"
#include "../../feeder/source.h"
#include "err.h"

static void s_bar(struct bar *b, int64_t t, double c)
{
    memset(b, 0, sizeof *b);
    snprintf(b->src, sizeof b->src, "polygon");
    snprintf(b->sym, sizeof b->sym, "AAPL");
    b->t = t;
    b->tf = 60;
    b->o = c - 0.1;
    b->h = c + 0.5;
    b->l = c - 0.5;
    b->c = c;
    b->vol = 1234;
    b->vw = t % 120000 ? c + 0.01 : NAN;
    b->n = t % 120000 ? 17 : -1;
}

static void test_round_trip(void **state)
{
    char dir[] = "/tmp/lt-cache-XXXXXX", path[256], err[ERR_LEN];
    struct bar in[3], *out = NULL;
    size_t n = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(polygon_cache_path(path, sizeof path, dir,
                                        "http://127.0.0.1:1", "AAPL", 60), 0);
    assert_int_equal(polygon_cache_load(path, "AAPL", 60, &out, &n, err), 0);
    assert_int_equal(n, 0);         /* no file yet: an empty cache */
    for (int i = 0; i < 3; i++)
        s_bar(&in[i], 1704205800000LL + i * 60000, 180.123456789 + i);
    assert_int_equal(polygon_cache_save(path, in, 3, err), 0);
    assert_int_equal(polygon_cache_load(path, "AAPL", 60, &out, &n, err), 0);
    assert_int_equal(n, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(out[i].t, in[i].t);
        assert_true(out[i].c == in[i].c && out[i].vol == in[i].vol);
        assert_true(isnan(in[i].vw) ? isnan(out[i].vw) :
                    out[i].vw == in[i].vw);
        assert_int_equal(out[i].n, in[i].n);
        assert_string_equal(out[i].sym, "AAPL");
    }
    free(out);
    /* Another timeframe or symbol does not read this file. */
    assert_int_equal(polygon_cache_load(path, "AAPL", 300, &out, &n, err),
                     ERR_PARSE);
    assert_int_equal(polygon_cache_load(path, "MSFT", 60, &out, &n, err),
                     ERR_PARSE);
    unlink(path);
    rmdir(dir);
}

static void test_corrupt(void **state)
{
    static const char *const bad[] = {
        "# livetrade polygon cache v1 AAPL 60\n1,2,3\n",
        "# livetrade polygon cache v1 AAPL 60\n"
        "60000,1,2,0.5,1.5,10,,3\n0,1,2,0.5,1.5,10,,3\n",   /* order */
        "# livetrade polygon cache v1 AAPL 60\n"
        "60000,1,0.5,2,1.5,10,,3\n",                        /* h < l */
        "# livetrade polygon cache v1 AAPL 60\n"
        "60000,1,2,0.5,1.5,10,,3",                          /* cut */
        "garbage\n",
    };
    char path[] = "/tmp/lt-cache-bad-XXXXXX", err[ERR_LEN];
    struct bar *out = NULL;
    size_t n = 9;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(bad[k], fp);
        fclose(fp);
        assert_int_equal(polygon_cache_load(path, "AAPL", 60, &out, &n,
                                            err), ERR_PARSE);
        assert_null(out);
        assert_int_equal(n, 0);
    }
    unlink(path);
}

static void test_paths(void **state)
{
    char a[256], b[256];

    (void)state;
    assert_int_equal(polygon_cache_path(a, sizeof a, "/d",
                                        "http://127.0.0.1:1", "AAPL", 60), 0);
    assert_int_equal(polygon_cache_path(b, sizeof b, "/d",
                                        "http://127.0.0.1:2", "AAPL", 60), 0);
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(a, "/d/AAPL-60s-", 12), 0);
}

static void test_us_equities_hours(void **state)
{
    static const struct { int64_t t; int open; } cases[] = {
        { 1719840600000LL, 1 },     /* Mon 2024-07-01 09:30 EDT */
        { 1719840540000LL, 0 },     /* 09:29 EDT */
        { 1719863940000LL, 1 },     /* 15:59 EDT */
        { 1719864000000LL, 0 },     /* 16:00 EDT */
        { 1704205800000LL, 1 },     /* Tue 2024-01-02 09:30 EST */
        { 1704205740000LL, 0 },     /* 09:29 EST */
        { 1720278000000LL, 0 },     /* Sat 2024-07-06 11:00 EDT */
        { 1710163800000LL, 1 },     /* Mon 2024-03-11, DST since Sunday */
        { 1709904600000LL, 0 },     /* Fri 2024-03-08 13:30 UTC = 08:30 */
        { 1709908200000LL, 1 },     /* Fri 2024-03-08 14:30 UTC = 09:30 */
        { 1730730600000LL, 1 },     /* Mon 2024-11-04 14:30 UTC = 09:30 */
        { 1730727000000LL, 0 },     /* Mon 2024-11-04 13:30 UTC = 08:30 */
        { 1730467800000LL, 1 },     /* Fri 2024-11-01 13:30 UTC = 09:30 */
    };

    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        assert_int_equal(polygon_market_open(SOURCE_MARKET_US_EQUITIES,
                                             cases[k].t), cases[k].open);
        assert_int_equal(polygon_market_open(SOURCE_MARKET_ALWAYS,
                                             cases[k].t), 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_us_equities_hours),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
