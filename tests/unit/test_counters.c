/* test_counters.c -- common/counters: one table gives a program's status
 * pairs, its exit line and its metrics, each read from the live state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "counters.h"
#include "mp.h"

struct inner {
    int pad;
    uint64_t dropped;
};

struct state {
    char name[5];
    uint64_t bars;
    struct inner pub;
    uint64_t quiet;                 /* no metric */
};

static const struct counter s_table[] = {
    COUNTER(struct state, bars, "bars", "lt_bars_total", "Bars"),
    COUNTER(struct state, pub.dropped, "dropped", "lt_dropped_total",
            "Times left behind"),
    COUNTER(struct state, quiet, "quiet", NULL, NULL),
};

static void test_pack(void **state)
{
    struct state st = { "x", 3, { 0, 5 }, 7 };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    uint64_t v;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, COUNTERS_N(s_table));
    counters_pack(&pk, s_table, COUNTERS_N(s_table), &st);
    msgpack_unpacked_init(&u);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(mp_uint(&u.data, "bars", &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(mp_uint(&u.data, "dropped", &v), 0);
    assert_int_equal(v, 5);
    assert_int_equal(mp_uint(&u.data, "quiet", &v), 0);
    assert_int_equal(v, 7);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

static void test_line(void **state)
{
    struct state st = { "x", 3, { 0, 5 }, 7 };
    char buf[64] = "counters:", tiny[12] = "";
    (void)state;

    counters_line(buf, sizeof buf, s_table, COUNTERS_N(s_table), &st);
    assert_string_equal(buf, "counters: bars 3 dropped 5 quiet 7");
    /* Cut short, still a string. */
    counters_line(tiny, sizeof tiny, s_table, COUNTERS_N(s_table), &st);
    assert_int_equal(strlen(tiny), sizeof tiny - 1);
    assert_memory_equal(tiny, " bars 3 dro", sizeof tiny);
}

static void test_metrics(void **state)
{
    struct state st = { "x", 3, { 0, 5 }, 7 };
    metrics_t *m = metrics_new();
    size_t len;
    char *text;
    (void)state;

    assert_int_equal(counters_metrics(m, s_table, COUNTERS_N(s_table), &st),
                     0);
    st.pub.dropped = 9;             /* read when rendered */
    text = metrics_render(m, &len);
    assert_non_null(text);
    assert_non_null(strstr(text, "# TYPE lt_bars_total counter\n"
                                 "lt_bars_total 3\n"));
    assert_non_null(strstr(text, "lt_dropped_total 9\n"));
    assert_null(strstr(text, "quiet"));
    free(text);
    metrics_destroy(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_line),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests_name("counters", tests, NULL, NULL);
}
