/* test_demo.c -- the demo source's generator and the feeder's history
 * store (libfeeder.a). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../feeder/demo.h"
#include "../../feeder/source.h"
#include "../../feeder/store.h"
#include "err.h"
#include "mp.h"

#define START 1700000000000LL       /* 2023-11-14T22:13:20Z */

static void s_bars(uint64_t seed, const char *sym, int64_t tf, size_t n,
                   struct bar *out)
{
    demo_t *d = demo_new(seed, sym, tf, START);
    assert_non_null(d);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(demo_next(d, &out[i]), 0);
    assert_int_equal(demo_count(d), n);
    demo_destroy(&d);
    assert_null(d);
    demo_destroy(&d);               /* idempotent */
}

/* Same seed and symbol: identical bars, bit for bit. */
static void test_deterministic(void **state)
{
    enum { N = 10000 };
    struct bar *a = calloc(N, sizeof *a), *b = calloc(N, sizeof *b);
    (void)state;

    assert_non_null(a);
    assert_non_null(b);
    s_bars(42, "AAPL", 60, N, a);
    s_bars(42, "AAPL", 60, N, b);
    for (size_t i = 0; i < N; i++) {
        assert_memory_equal(&a[i].o, &b[i].o, sizeof a[i].o);
        assert_memory_equal(&a[i].h, &b[i].h, sizeof a[i].h);
        assert_memory_equal(&a[i].l, &b[i].l, sizeof a[i].l);
        assert_memory_equal(&a[i].c, &b[i].c, sizeof a[i].c);
        assert_memory_equal(&a[i].vol, &b[i].vol, sizeof a[i].vol);
        assert_memory_equal(&a[i].vw, &b[i].vw, sizeof a[i].vw);
        assert_int_equal(a[i].n, b[i].n);
        assert_int_equal(a[i].t, b[i].t);
        assert_int_equal(a[i].seq, b[i].seq);
    }
    free(a);
    free(b);
}

/* Another seed, or another symbol, gives another path. */
static void test_seed_and_symbol_matter(void **state)
{
    enum { N = 1000 };
    struct bar *a = calloc(N, sizeof *a), *b = calloc(N, sizeof *b);
    struct bar *c = calloc(N, sizeof *c);
    size_t diff_seed = 0, diff_sym = 0;
    (void)state;

    s_bars(42, "AAPL", 60, N, a);
    s_bars(43, "AAPL", 60, N, b);
    s_bars(42, "MSFT", 60, N, c);
    for (size_t i = 0; i < N; i++) {
        diff_seed += a[i].c != b[i].c;
        diff_sym += a[i].c / a[0].o != c[i].c / c[0].o;
    }
    assert_true(diff_seed > N - 10);
    assert_true(diff_sym > N - 10);
    free(a);
    free(b);
    free(c);
}

/* Valid OHLC, volume, vwap and trade count over a long run, for several
 * timeframes (a day's bars move far more than a second's). */
static void test_bars_valid(void **state)
{
    static const int64_t tfs[] = { 1, 60, 86400 };
    (void)state;

    for (size_t k = 0; k < sizeof tfs / sizeof tfs[0]; k++) {
        demo_t *d = demo_new(7, "BRK.B", tfs[k], START);
        char why[ERR_LEN];
        struct bar b;

        assert_non_null(d);
        for (int i = 0; i < 100000; i++) {
            assert_int_equal(demo_next(d, &b), 0);
            assert_true(isfinite(b.o) && isfinite(b.h) && isfinite(b.l) &&
                        isfinite(b.c) && isfinite(b.vol) && isfinite(b.vw));
            assert_true(b.h >= fmax(b.o, b.c));
            assert_true(b.l <= fmin(b.o, b.c));
            assert_true(b.l > 0);
            assert_true(b.vol > 0);
            assert_true(b.vw >= b.l && b.vw <= b.h);
            assert_true(b.n > 0);
            assert_int_equal(msg_bar_check(&b, why), ERR_OK);
        }
        demo_destroy(&d);
    }
}

/* The start price is a property of the symbol, not of the seed. */
static void test_start_price(void **state)
{
    static const char *syms[] = { "AAPL", "MSFT", "BTC/USD", "ES:F", "X" };
    (void)state;

    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
        double p = demo_start_price(syms[i]);
        assert_true(p >= 20.0 && p <= 500.0);
        for (uint64_t seed = 0; seed < 5; seed++) {
            struct bar b;
            demo_t *d = demo_new(seed * 1000003, syms[i], 60, START);
            assert_int_equal(demo_next(d, &b), 0);
            assert_true(b.o == p);
            demo_destroy(&d);
        }
    }
    assert_true(demo_start_price("AAPL") != demo_start_price("MSFT"));
}

/* Bar k starts at START + k*tf, has seq k+1 and opens at bar k-1's close. */
static void test_sequence(void **state)
{
    demo_t *d = demo_new(42, "AAPL", 300, START);
    struct bar b, prev;
    (void)state;

    for (int64_t k = 0; k < 20000; k++) {
        assert_int_equal(demo_next(d, &b), 0);
        assert_int_equal(b.t, START + k * 300 * 1000);
        assert_int_equal(b.tf, 300);
        assert_int_equal(b.seq, (uint64_t)k + 1);
        assert_string_equal(b.src, "demo");
        assert_string_equal(b.sym, "AAPL");
        if (k > 0)
            assert_memory_equal(&b.o, &prev.c, sizeof b.o);
        prev = b;
    }
    demo_destroy(&d);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_null(demo_new(1, "", 60, START));
    assert_null(demo_new(1, "A|B", 60, START));
    assert_null(demo_new(1, "AAPL", 0, START));
    assert_null(demo_new(1, "AAPL", DEMO_TF_MAX + 1, START));
    assert_null(demo_new(1, "AAPL", 60, -1));
}

/* The source table runs one generator per symbol, same bars as demo_t. */
static void test_source_ops(void **state)
{
    const char *syms[] = { "AAPL", "MSFT" };
    struct source_cfg cfg = { .symbols = syms, .nsym = 2, .seed = 42,
                              .tf = 60, .start_ms = START };
    char err[ERR_LEN] = "";
    struct bar want[3], got;
    void *src;
    (void)state;

    s_bars(42, "MSFT", 60, 3, want);
    src = source_demo.open(&cfg, err);
    assert_non_null(src);
    assert_string_equal(source_demo.name, "demo");
    for (int i = 0; i < 3; i++) {
        assert_int_equal(source_demo.next_bar(src, 0, &got), 1);
        assert_int_equal(source_demo.next_bar(src, 1, &got), 1);
        assert_memory_equal(&got.c, &want[i].c, sizeof got.c);
        assert_int_equal(got.seq, want[i].seq);
    }
    source_demo.close(src);
    source_demo.close(NULL);
}

static struct bar s_bar_at(int64_t t)
{
    struct bar b;
    memset(&b, 0, sizeof b);
    b.t = t;
    b.tf = 60;
    b.o = b.h = b.l = b.c = 10.0;
    b.vol = 1;
    b.vw = NAN;
    b.n = -1;
    return b;
}

/* Replies decode back into the bars that went in. */
static void s_unpack_reply(const msgpack_sbuffer *sb, uint64_t *seq,
                           int64_t *t, size_t *n)
{
    struct mp_body body;
    const msgpack_object *o, *arr;
    char why[ERR_LEN];
    struct bar b;

    mp_body_init(&body);
    o = mp_body_decode(&body, sb->data, sb->size);
    assert_non_null(o);
    assert_true(mp_is(mp_get(o, "type"), "history"));
    assert_int_equal(mp_uint(o, "seq", seq), 0);
    arr = mp_get(o, "bars");
    assert_non_null(arr);
    *n = arr->via.array.size;
    for (size_t i = 0; i < *n; i++) {
        assert_int_equal(msg_bar_unpack(&arr->via.array.ptr[i], &b, why), 0);
        assert_string_equal(b.sym, "AAPL");
        assert_int_equal(b.pub, 77);
        t[i] = b.t;
    }
    mp_body_free(&body);
}

static void test_store(void **state)
{
    store_t *s = store_new("demo", "AAPL", 77, 16);
    struct history_req r = { .sym = "AAPL", .n = 3, .since = -1 };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int64_t t[16];
    uint64_t seq;
    size_t n;
    struct bar b;
    (void)state;

    assert_int_equal(store_last_seq(s), 0);
    for (int64_t k = 1; k <= 10; k++) {
        b = s_bar_at(k * 1000);
        assert_int_equal(store_append(s, &b, &seq), 0);
        assert_int_equal(seq, (uint64_t)k);
    }
    b = s_bar_at(10 * 1000);
    assert_int_equal(store_append(s, &b, &seq), ERR_OLD);
    assert_int_equal(store_len(s), 10);

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    assert_int_equal(store_pack_history(s, &pk, &r, 100), 3);
    s_unpack_reply(&sb, &seq, t, &n);
    assert_int_equal(seq, 10);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], 8000);
    assert_int_equal(t[2], 10000);

    msgpack_sbuffer_clear(&sb);
    r.since = 4000;
    r.n = 2;
    assert_int_equal(store_pack_history(s, &pk, &r, 100), 2);
    s_unpack_reply(&sb, &seq, t, &n);
    assert_int_equal(t[0], 5000);
    assert_int_equal(t[1], 6000);

    /* Past `max` the oldest eighth goes; seqs keep counting. */
    for (int64_t k = 11; k <= 17; k++) {
        b = s_bar_at(k * 1000);
        assert_int_equal(store_append(s, &b, &seq), 0);
    }
    assert_int_equal(seq, 17);
    assert_int_equal(store_len(s), 15);
    store_get(s, 0, &b);
    assert_int_equal(b.seq, 3);
    assert_int_equal(b.t, 3000);

    msgpack_sbuffer_destroy(&sb);
    store_destroy(&s);
    assert_null(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_seed_and_symbol_matter),
        cmocka_unit_test(test_bars_valid),
        cmocka_unit_test(test_start_price),
        cmocka_unit_test(test_sequence),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_source_ops),
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
