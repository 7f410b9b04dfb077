/* test_metrics.c -- common/metrics: the text format 0.0.4 as rendered
 * (HELP/TYPE lines, values read at render time, labelled samples and
 * their escaping, histograms with cumulative buckets, number spelling),
 * and the --metrics address check of common/http_metrics. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "err.h"
#include "http_metrics.h"
#include "metrics.h"

static char *s_render(metrics_t *m)
{
    size_t len = 0;
    char *text = metrics_render(m, &len);

    assert_non_null(text);
    assert_int_equal(strlen(text), len);
    return text;
}

static void test_counter_and_gauge(void **state)
{
    metrics_t *m = metrics_new();
    uint64_t bars = 7;
    int syms = 2;
    double ratio = 0.5;
    char *text;
    (void)state;

    assert_int_equal(metrics_add_u64(m, METRICS_COUNTER, "lt_bars_total",
                                     "Bars received", &bars), 0);
    assert_int_equal(metrics_add_int(m, METRICS_GAUGE, "lt_symbols",
                                     "Symbols", &syms), 0);
    assert_int_equal(metrics_add_dbl(m, METRICS_GAUGE, "lt_ratio",
                                     "A ratio", &ratio), 0);
    bars = 42;                      /* read at render time */
    text = s_render(m);
    assert_string_equal(text,
        "# HELP lt_bars_total Bars received\n"
        "# TYPE lt_bars_total counter\n"
        "lt_bars_total 42\n"
        "# HELP lt_symbols Symbols\n"
        "# TYPE lt_symbols gauge\n"
        "lt_symbols 2\n"
        "# HELP lt_ratio A ratio\n"
        "# TYPE lt_ratio gauge\n"
        "lt_ratio 0.5\n");
    free(text);
    metrics_destroy(&m);
    assert_null(m);
    metrics_destroy(&m);            /* idempotent */
}

static void s_per_symbol(metrics_out_t *out, void *arg)
{
    const char *const *names = arg;
    for (int i = 0; names[i]; i++)
        metrics_out_sample(out, names[i], i + 0.25);
}

static void s_nothing(metrics_out_t *out, void *arg)
{
    (void)out;
    (void)arg;
}

static void test_labels_and_escaping(void **state)
{
    static const char *const names[] = { "AAPL", "BRK.B", "a\"b\\c\nd",
                                         NULL };
    metrics_t *m = metrics_new();
    char *text;
    (void)state;

    assert_int_equal(metrics_add_fn(m, METRICS_GAUGE, "lt_age_seconds",
                                    "Age \\ of\nthe last bar", "symbol",
                                    s_per_symbol, (void *)names), 0);
    assert_int_equal(metrics_add_fn(m, METRICS_COUNTER, "lt_empty_total",
                                    "Nothing yet", NULL, s_nothing, NULL),
                     0);
    text = s_render(m);
    assert_string_equal(text,
        "# HELP lt_age_seconds Age \\\\ of\\nthe last bar\n"
        "# TYPE lt_age_seconds gauge\n"
        "lt_age_seconds{symbol=\"AAPL\"} 0.25\n"
        "lt_age_seconds{symbol=\"BRK.B\"} 1.25\n"
        "lt_age_seconds{symbol=\"a\\\"b\\\\c\\nd\"} 2.25\n"
        "# HELP lt_empty_total Nothing yet\n"
        "# TYPE lt_empty_total counter\n");
    free(text);
    metrics_destroy(&m);
}

static void test_histogram(void **state)
{
    static const double bounds[] = { 0.001, 0.01, 0.1 };
    metrics_t *m = metrics_new();
    metrics_hist_t *h = metrics_add_hist(m, "lt_latency_seconds",
                                         "Latency", bounds, 3);
    char *text;
    (void)state;

    assert_non_null(h);
    metrics_hist_observe(h, 0.0005);
    metrics_hist_observe(h, 0.001);     /* on a bound: that bucket */
    metrics_hist_observe(h, 0.05);
    metrics_hist_observe(h, 3.0);
    metrics_hist_observe(h, NAN);       /* ignored */
    assert_int_equal(metrics_hist_count(h), 4);
    text = s_render(m);
    assert_string_equal(text,
        "# HELP lt_latency_seconds Latency\n"
        "# TYPE lt_latency_seconds histogram\n"
        "lt_latency_seconds_bucket{le=\"0.001\"} 2\n"
        "lt_latency_seconds_bucket{le=\"0.01\"} 2\n"
        "lt_latency_seconds_bucket{le=\"0.1\"} 3\n"
        "lt_latency_seconds_bucket{le=\"+Inf\"} 4\n"
        "lt_latency_seconds_sum 3.0515\n"
        "lt_latency_seconds_count 4\n");
    free(text);
    metrics_destroy(&m);
}

static void test_numbers(void **state)
{
    char buf[64];
    (void)state;

    metrics_format_value(buf, sizeof buf, 0);
    assert_string_equal(buf, "0");
    metrics_format_value(buf, sizeof buf, -3);
    assert_string_equal(buf, "-3");
    metrics_format_value(buf, sizeof buf, 18446744073709551615.0);
    assert_true(strtod(buf, NULL) == 18446744073709551615.0);
    metrics_format_value(buf, sizeof buf, 0.1);
    assert_string_equal(buf, "0.1");
    metrics_format_value(buf, sizeof buf, 1.0 / 3);
    assert_true(strtod(buf, NULL) == 1.0 / 3);
    metrics_format_value(buf, sizeof buf, INFINITY);
    assert_string_equal(buf, "+Inf");
    metrics_format_value(buf, sizeof buf, -INFINITY);
    assert_string_equal(buf, "-Inf");
    metrics_format_value(buf, sizeof buf, NAN);
    assert_string_equal(buf, "NaN");
}

static void test_empty_registry(void **state)
{
    metrics_t *m = metrics_new();
    char *text;
    (void)state;

    text = s_render(m);
    assert_string_equal(text, "");
    free(text);
    metrics_destroy(&m);
}

static void test_address_check(void **state)
{
    static const char *const good[] = {
        "127.0.0.1:9101", "localhost:1", "0.0.0.0:65535", ":9101",
        "*:9101", "10.1.2.3:80", NULL
    };
    static const char *const bad[] = {
        "", "9101", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
        "127.0.0.1:65536", "127.0.0.1:x", "example.com:9101",
        "256.0.0.1:9101", "[::1]:9101", "127.0.0.1:9101 ", NULL
    };
    char err[ERR_LEN];
    (void)state;

    for (int i = 0; good[i]; i++)
        assert_int_equal(http_metrics_check(good[i], err), 0);
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        assert_int_equal(http_metrics_check(bad[i], err), -1);
        assert_non_null(strstr(err, "--metrics"));
        assert_null(strchr(err, '\n'));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counter_and_gauge),
        cmocka_unit_test(test_labels_and_escaping),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_empty_registry),
        cmocka_unit_test(test_address_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
