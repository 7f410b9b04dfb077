/* Wire protocol: bar and signal codecs (round trips and rejection of
 * malformed bodies), topic matching over real ZeroMQ sockets, sequence
 * tracking, and the settings parser. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus.h"
#include "config.h"
#include "err.h"
#include "history.h"
#include "mp.h"
#include "msg_bar.h"
#include "msg_ind.h"
#include "msg_replay.h"
#include "msg_signal.h"
#include "msg_status.h"

static struct bar sample_bar(void)
{
    struct bar b;
    memset(&b, 0, sizeof b);
    snprintf(b.src, sizeof b.src, "demo");
    snprintf(b.sym, sizeof b.sym, "BRK.B");
    b.t = 1764000000000LL;
    b.tf = 60;
    b.o = 101.25;
    b.h = 102.5;
    b.l = 100.75;
    b.c = 101.5;
    b.vol = 12345;
    b.vw = 101.4;
    b.n = 77;
    b.seq = 42;
    b.pub = 0x1234567890ULL;
    return b;
}

static void test_bar_roundtrip(void **state)
{
    struct bar a = sample_bar(), b;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct mp_body body;
    char err[ERR_LEN];
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    mp_body_init(&body);
    msg_bar_pack(&pk, &a);
    assert_int_equal(msg_bar_unpack(mp_body_decode(&body, sb.data, sb.size),
                                    &b, err), ERR_OK);
    assert_string_equal(b.sym, "BRK.B");
    assert_string_equal(b.src, "demo");
    assert_true(b.t == a.t && b.tf == 60 && b.seq == 42 && b.pub == a.pub);
    assert_true(b.o == a.o && b.h == a.h && b.l == a.l && b.c == a.c);
    assert_true(b.vol == a.vol && b.vw == a.vw && b.n == 77);

    /* Optional keys left out. */
    a.vw = NAN;
    a.n = -1;
    msgpack_sbuffer_clear(&sb);
    msg_bar_pack(&pk, &a);
    assert_int_equal(msg_bar_unpack(mp_body_decode(&body, sb.data, sb.size),
                                    &b, err), ERR_OK);
    assert_true(isnan(b.vw) && b.n == -1);
    mp_body_free(&body);
    msgpack_sbuffer_destroy(&sb);
}

/* msg_bar_pack() as it was written with msgpack-c's packer, key by key:
 * the bytes on the wire must stay the same. */
static void reference_bar_pack(msgpack_packer *pk, const struct bar *b)
{
    msgpack_pack_map(pk, 12 + !isnan(b->vw) + (b->n >= 0));
    mp_kint(pk, "ver", 1);
    mp_kstr(pk, "src", b->src);
    mp_kstr(pk, "sym", b->sym);
    mp_kint(pk, "t", b->t);
    mp_kint(pk, "tf", b->tf);
    mp_kdbl(pk, "o", b->o);
    mp_kdbl(pk, "h", b->h);
    mp_kdbl(pk, "l", b->l);
    mp_kdbl(pk, "c", b->c);
    mp_kdbl(pk, "vol", b->vol);
    if (!isnan(b->vw))
        mp_kdbl(pk, "vw", b->vw);
    if (b->n >= 0)
        mp_kint(pk, "n", b->n);
    mp_kuint(pk, "seq", b->seq);
    mp_kuint(pk, "pub", b->pub);
}

static void test_bar_pack_bytes(void **state)
{
    static const int64_t ints[] = { 0, 1, 127, 128, 255, 256, 65535, 65536,
        4294967295LL, 4294967296LL, INT64_MAX, -1, -32, -33, -128, -129,
        -32768, -32769, INT32_MIN, (int64_t)INT32_MIN - 1, INT64_MIN };
    static const uint64_t uints[] = { 0, 127, 128, 255, 256, 65535, 65536,
        4294967295ULL, 4294967296ULL, UINT64_MAX };
    msgpack_sbuffer a, b;
    msgpack_packer pa, pb;
    struct bar x = sample_bar();
    (void)state;

    msgpack_sbuffer_init(&a);
    msgpack_sbuffer_init(&b);
    msgpack_packer_init(&pa, &a, msgpack_sbuffer_write);
    msgpack_packer_init(&pb, &b, msgpack_sbuffer_write);
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        for (size_t j = 0; j < sizeof uints / sizeof *uints; j++) {
            x.t = ints[i];
            x.tf = ints[(i + 3) % (sizeof ints / sizeof *ints)];
            x.n = j % 3 == 0 ? -1 : ints[i] < 0 ? -ints[i] - 1 : ints[i];
            x.vw = j % 2 ? NAN : -0.0;
            x.o = (double)ints[i] / 3;
            x.seq = uints[j];
            x.pub = uints[(j + 1) % (sizeof uints / sizeof *uints)];
            snprintf(x.src, sizeof x.src, "%s", j % 4 ? "demo" : "");
            snprintf(x.sym, sizeof x.sym, "%.*s", (int)(j * 3 + 1),
                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ.:/_-0123456789");
            msgpack_sbuffer_clear(&a);
            msgpack_sbuffer_clear(&b);
            msg_bar_pack(&pa, &x);
            reference_bar_pack(&pb, &x);
            assert_int_equal(a.size, b.size);
            assert_memory_equal(a.data, b.data, a.size);
        }
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}

/* The fast path agrees with the general one: whenever it takes a body,
 * msg_bar_unpack() takes it too and gives the same bar. */
static void check_fast_agrees(const void *data, size_t len, int expect_fast)
{
    struct mp_body body;
    struct bar f, g;
    char err[ERR_LEN];
    int fast, slow;

    mp_body_init(&body);
    fast = msg_bar_decode_fast(data, len, &f);
    slow = msg_bar_unpack(mp_body_decode(&body, data, len), &g, err);
    if (expect_fast >= 0)
        assert_int_equal(fast, expect_fast ? 0 : -1);
    if (fast == 0) {
        assert_int_equal(slow, ERR_OK);
        assert_memory_equal(&f, &g, sizeof f);
    }
    mp_body_free(&body);
}

static void test_bar_fast_path(void **state)
{
    static const unsigned char swaps[] = { 0x00, 0x01, 0x7f, 0x80, 0x8f,
        0xa0, 0xa3, 0xbf, 0xc0, 0xc2, 0xca, 0xcb, 0xcc, 0xcf, 0xd0, 0xd3,
        0xd9, 0xda, 0xde, 0xdf, 0xe0, 0xff };
    struct bar a = sample_bar();
    msgpack_sbuffer sb;
    msgpack_packer pk;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);

    /* As feeders write them, with and without the optional keys. */
    msg_bar_pack(&pk, &a);
    check_fast_agrees(sb.data, sb.size, 1);
    /* Every shorter body, and every byte changed: never taken wrongly
     * (and, under ASan, never read past the end). */
    for (size_t n = 0; n < sb.size; n++)
        check_fast_agrees(sb.data, n, 0);
    for (size_t i = 0; i < sb.size; i++) {
        char orig = sb.data[i];
        for (size_t k = 0; k < sizeof swaps; k++) {
            sb.data[i] = (char)swaps[k];
            check_fast_agrees(sb.data, sb.size, -1);
        }
        sb.data[i] = (char)(orig ^ 1);
        check_fast_agrees(sb.data, sb.size, -1);
        sb.data[i] = orig;
    }
    a.vw = NAN;
    a.n = -1;
    msgpack_sbuffer_clear(&sb);
    msg_bar_pack(&pk, &a);
    check_fast_agrees(sb.data, sb.size, 1);

    /* Other encodings of the same values: keys in another order, small
     * integers as int8, prices as integers and float32, the map as map16,
     * strings as str8. */
    msgpack_sbuffer_clear(&sb);
    sb.data[0] = 0;
    {
        static const char map16[] = "\xde\x00\x0c";
        msgpack_sbuffer_write(&sb, map16, 3);
    }
    mp_kuint(&pk, "pub", 7);
    mp_kuint(&pk, "seq", 3);
    mp_pack_str(&pk, "ver");
    msgpack_pack_int8(&pk, 1);
    mp_pack_str(&pk, "sym");
    msgpack_sbuffer_write(&sb, "\xd9\x04" "AAPL", 6);
    mp_kstr(&pk, "src", "csv");
    mp_kint(&pk, "t", 60000);
    mp_pack_str(&pk, "tf");
    msgpack_pack_int16(&pk, 60);
    mp_kint(&pk, "o", 10);
    mp_pack_str(&pk, "h");
    msgpack_pack_float(&pk, 12.5f);
    mp_kdbl(&pk, "l", 9.5);
    mp_kdbl(&pk, "c", 11);
    mp_kint(&pk, "vol", 0);
    check_fast_agrees(sb.data, sb.size, 1);

    /* Taken by the general path only: another key, a key twice, trailing
     * bytes, a bar that fails the checks. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 13);
    mp_kint(&pk, "ver", 1);
    mp_kstr(&pk, "sym", "X");
    mp_kint(&pk, "t", 1);
    mp_kint(&pk, "tf", 60);
    mp_kdbl(&pk, "o", 1);
    mp_kdbl(&pk, "h", 1);
    mp_kdbl(&pk, "l", 1);
    mp_kdbl(&pk, "c", 1);
    mp_kdbl(&pk, "vol", 1);
    mp_kuint(&pk, "seq", 1);
    mp_kuint(&pk, "pub", 1);
    mp_kstr(&pk, "note", "an extra key");
    mp_kint(&pk, "t", 2);
    check_fast_agrees(sb.data, sb.size, 0);
    sb.data[0] = (char)0x8c;        /* the same without the repeated t */
    check_fast_agrees(sb.data, sb.size - 3, 0);     /* extra key */
    sb.data[0] = (char)0x8b;        /* neither: the fast path takes it */
    check_fast_agrees(sb.data, sb.size - 3 - 18, 1);
    check_fast_agrees(sb.data, sb.size - 3 - 17, 0);    /* trailing */
    a = sample_bar();
    a.h = 1;                        /* high < low */
    msgpack_sbuffer_clear(&sb);
    msg_bar_pack(&pk, &a);
    check_fast_agrees(sb.data, sb.size, 0);
    msgpack_sbuffer_destroy(&sb);
}

/* Packs a bar with one key changed: `key` gets `kind` (0 = removed,
 * 1 = string, 2 = NaN, 3 = -1.0, 4 = value from `x`). */
static int unpack_modified(const char *key, int kind, double x, char *err)
{
    struct bar a = sample_bar(), b;
    static const char *keys[] = { "ver", "src", "sym", "t", "tf", "o", "h",
                                  "l", "c", "vol", "seq", "pub" };
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct mp_body body;
    int n = 0, rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 12; i++)
        n += !(kind == 0 && strcmp(keys[i], key) == 0);
    msgpack_pack_map(&pk, (size_t)n);
    for (int i = 0; i < 12; i++) {
        const char *k = keys[i];
        if (strcmp(k, key) == 0) {
            if (kind == 0)
                continue;
            mp_pack_str(&pk, k);
            if (kind == 1)
                mp_pack_str(&pk, "oops");
            else
                msgpack_pack_double(&pk, kind == 2 ? NAN :
                                    kind == 3 ? -1.0 : x);
            continue;
        }
        if (!strcmp(k, "ver")) mp_kint(&pk, k, 1);
        else if (!strcmp(k, "src")) mp_kstr(&pk, k, a.src);
        else if (!strcmp(k, "sym")) mp_kstr(&pk, k, a.sym);
        else if (!strcmp(k, "t")) mp_kint(&pk, k, a.t);
        else if (!strcmp(k, "tf")) mp_kint(&pk, k, a.tf);
        else if (!strcmp(k, "o")) mp_kdbl(&pk, k, a.o);
        else if (!strcmp(k, "h")) mp_kdbl(&pk, k, a.h);
        else if (!strcmp(k, "l")) mp_kdbl(&pk, k, a.l);
        else if (!strcmp(k, "c")) mp_kdbl(&pk, k, a.c);
        else if (!strcmp(k, "vol")) mp_kdbl(&pk, k, a.vol);
        else if (!strcmp(k, "seq")) mp_kuint(&pk, k, a.seq);
        else mp_kuint(&pk, k, a.pub);
    }
    mp_body_init(&body);
    rc = msg_bar_unpack(mp_body_decode(&body, sb.data, sb.size), &b, err);
    mp_body_free(&body);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

static void test_bar_rejects(void **state)
{
    static const char *required[] = { "ver", "sym", "t", "tf", "o", "h",
                                      "l", "c", "vol", "seq", "pub" };
    char err[ERR_LEN];
    struct mp_body body;
    struct bar b;
    (void)state;

    assert_int_equal(unpack_modified("none", 0, 0, err), ERR_OK);
    for (int i = 0; i < 11; i++) {
        assert_int_equal(unpack_modified(required[i], 0, 0, err), ERR_PARSE);
        assert_non_null(strstr(err, required[i]));
        /* a string where a number belongs; a number for the symbol */
        assert_int_not_equal(unpack_modified(required[i],
                                             strcmp(required[i], "sym") ? 1 : 4,
                                             1.0, err), ERR_OK);
    }
    assert_int_equal(unpack_modified("c", 2, 0, err), ERR_INVALID);
    assert_non_null(strstr(err, "close"));
    assert_int_equal(unpack_modified("o", 3, 0, err), ERR_INVALID);
    assert_int_equal(unpack_modified("h", 4, 50.0, err), ERR_INVALID);
    assert_non_null(strstr(err, "high"));
    assert_int_equal(unpack_modified("vol", 3, 0, err), ERR_INVALID);
    assert_int_equal(unpack_modified("ver", 4, 2.0, err), ERR_PARSE);

    /* Not msgpack at all, not a map, trailing garbage. */
    mp_body_init(&body);
    assert_null(mp_body_decode(&body, "\xc1\xc1\xc1", 3));
    assert_null(mp_body_decode(&body, "\x92\x01", 2));   /* truncated */
    assert_null(mp_body_decode(&body, "\x01\x02", 2));   /* two objects */
    /* Headers that claim more than the body holds: no allocation. */
    assert_null(mp_body_decode(&body, "\xdf\xff\xff\xff\xff\xa1\x61\x01", 8));
    assert_null(mp_body_decode(&body, "\xdd\xff\xff\xff\xff\x01", 6));
    assert_null(mp_body_decode(&body, "\xdb\xff\xff\xff\xff\x61", 6));
    assert_non_null(mp_body_decode(&body, "\x82\xa1\x61\x01\xa1\x62\x92\xc3\xcb"
                                   "\x3f\xf0\x00\x00\x00\x00\x00\x00", 17));
    assert_int_equal(msg_bar_unpack(mp_body_decode(&body, "\x01", 1), &b, err),
                     ERR_PARSE);
    assert_int_equal(msg_bar_unpack(NULL, &b, err), ERR_PARSE);
    mp_body_free(&body);
}

static struct signal sample_signal(void)
{
    struct signal s;
    memset(&s, 0, sizeof s);
    snprintf(s.eng, sizeof s.eng, "eng-1");
    snprintf(s.strat, sizeof s.strat, "sma_cross");
    snprintf(s.sym, sizeof s.sym, "AAPL");
    s.act = SIG_SELL;
    s.t = 1764000000000LL;
    s.ord = 1;
    s.px = 187.25;
    s.size = NAN;
    s.limit = 180;
    s.stop = s.tp = NAN;
    s.sl = 190;
    s.pos = 3;
    msg_signal_make_id(&s, "n1=10,n2=20");
    snprintf(s.tag, sizeof s.tag, "x");
    s.conf = 0.75;
    s.nind = 2;
    snprintf(s.ind[0].name, SIG_NAME, "sma1");
    s.ind[0].v = 186.5;
    snprintf(s.ind[1].name, SIG_NAME, "sma2");
    s.ind[1].v = NAN;
    s.seq = 9;
    s.pub = 77;
    s.ts = 1764000000123LL;
    return s;
}

static void test_signal_roundtrip(void **state)
{
    struct signal a = sample_signal(), b;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct mp_body body;
    char err[ERR_LEN], *js;
    json_t *j;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    mp_body_init(&body);
    msg_signal_pack(&pk, &a);
    assert_int_equal(msg_signal_unpack(mp_body_decode(&body, sb.data, sb.size),
                                       &b, err), ERR_OK);
    assert_string_equal(b.id, a.id);
    assert_string_equal(b.eng, "eng-1");
    assert_int_equal(b.act, SIG_SELL);
    assert_true(b.t == a.t && b.ord == 1 && b.px == a.px && b.conf == 0.75);
    assert_true(isnan(b.size) && isnan(b.stop) && isnan(b.tp));
    assert_true(b.limit == 180 && b.sl == 190);
    assert_string_equal(b.tag, "x");
    assert_int_equal(b.nind, 2);
    assert_string_equal(b.ind[0].name, "sma1");
    assert_true(b.ind[0].v == 186.5 && isnan(b.ind[1].v));
    assert_true(b.seq == 9 && b.pub == 77 && b.ts == a.ts);

    j = msg_signal_to_json(&a);
    js = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(strstr(js, "\"action\":\"sell\""));
    assert_non_null(strstr(js, "\"bar_ts\":1764000000000"));
    assert_non_null(strstr(js, "\"ordinal\":1"));
    assert_non_null(strstr(js, "\"size\":null"));
    assert_non_null(strstr(js, "\"sma2\":null"));
    assert_null(strstr(js, "\"tp\""));
    free(js);
    json_decref(j);

    /* Unknown action, confidence out of range, missing id. */
    a = sample_signal();
    a.conf = 1.5;
    msgpack_sbuffer_clear(&sb);
    msg_signal_pack(&pk, &a);
    assert_int_equal(msg_signal_unpack(mp_body_decode(&body, sb.data, sb.size),
                                       &b, err), ERR_INVALID);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    mp_kint(&pk, "ver", 1);
    mp_kstr(&pk, "act", "hold");
    assert_int_equal(msg_signal_unpack(mp_body_decode(&body, sb.data, sb.size),
                                       &b, err), ERR_PARSE);
    mp_body_free(&body);
    msgpack_sbuffer_destroy(&sb);
}

/* Indicator values: the ind| message and a reply's points round-trip
 * (NaN stays NaN); the "indicators" request is parsed, n cut to its
 * bound, bad ones refused. */
static void test_ind_roundtrip(void **state)
{
    struct ind_msg a, b;
    struct ind_point p;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct mp_body body;
    const msgpack_object *o;
    char err[ERR_LEN], sym[SYM_MAX];
    int64_t n;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    mp_body_init(&body);
    memset(&a, 0, sizeof a);
    snprintf(a.eng, sizeof a.eng, "eng-1");
    snprintf(a.sym, sizeof a.sym, "BRK.B");
    a.p.t = 1764000000000LL;
    a.p.n = 2;
    snprintf(a.p.v[0].name, sizeof a.p.v[0].name, "sma1");
    a.p.v[0].v = 186.5;
    snprintf(a.p.v[1].name, sizeof a.p.v[1].name, "sma2");
    a.p.v[1].v = NAN;
    msg_ind_pack(&pk, &a);
    o = mp_body_decode(&body, sb.data, sb.size);
    assert_true(mp_is(mp_get(o, "type"), "ind"));
    assert_int_equal(msg_ind_unpack(o, &b, err), ERR_OK);
    assert_string_equal(b.eng, "eng-1");
    assert_string_equal(b.sym, "BRK.B");
    assert_true(b.p.t == a.p.t && b.p.n == 2);
    assert_string_equal(b.p.v[1].name, "sma2");
    assert_true(b.p.v[0].v == 186.5 && isnan(b.p.v[1].v));

    msgpack_sbuffer_clear(&sb);
    msg_ind_pack_point(&pk, &a.p);
    o = mp_body_decode(&body, sb.data, sb.size);
    assert_int_equal(msg_ind_unpack_point(o, &p), 0);
    assert_true(p.t == a.p.t && p.n == 2 && p.v[0].v == 186.5);

    /* A signal's body is no indicator message. */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 3);
    mp_kint(&pk, "ver", 1);
    mp_kstr(&pk, "type", "sig");
    mp_kstr(&pk, "sym", "AAPL");
    assert_int_equal(msg_ind_unpack(mp_body_decode(&body, sb.data,
                                                   sb.size), &b, err),
                     ERR_PARSE);

    msgpack_sbuffer_clear(&sb);
    msg_ind_pack_request(&pk, "AAPL", 1000000);
    o = mp_body_decode(&body, sb.data, sb.size);
    assert_int_equal(msg_ind_req_parse(o, sym, &n, err), ERR_OK);
    assert_string_equal(sym, "AAPL");
    assert_int_equal(n, IND_MSG_REQ_MAX);
    for (int i = 0; i < 2; i++) {       /* n not positive; not a symbol */
        msgpack_sbuffer_clear(&sb);
        msg_ind_pack_request(&pk, i ? "AA|PL" : "AAPL", i ? 10 : 0);
        o = mp_body_decode(&body, sb.data, sb.size);
        assert_int_equal(msg_ind_req_parse(o, sym, &n, err), ERR_PARSE);
        assert_non_null(strstr(err, i ? "'sym'" : "'n'"));
    }
    mp_body_free(&body);
    msgpack_sbuffer_destroy(&sb);
}

/* Reads the publisher's subscriptions until side_subs is `want`. */
static int s_side_subs(struct bus_pub *p, int want)
{
    for (int i = 0; i < 250 && p->side_subs != want; i++) {
        zmq_pollitem_t pi = { p->sock, 0, ZMQ_POLLIN, 0 };
        zmq_poll(&pi, 1, 20);
        bus_pub_read_subs(p, "sig|");
    }
    return p->side_subs;
}

/* A publisher counts the subscriptions its side messages (ind|) would
 * reach, apart from those to signals, and forgets a subscriber's when it
 * goes away. */
static void test_side_subs(void **state)
{
    const char *ep = "inproc://side";
    struct bus_pub p;
    char err[ERR_LEN];
    void *a, *b, *c;
    (void)state;

    assert_int_equal(bus_pub_init(&p, ep, "eng", err), ERR_OK);
    p.side_kind = "ind|";
    a = bus_connect_sub(ep, BUS_ENGINE, err);
    b = bus_connect_sub(ep, BUS_ENGINE, err);
    c = bus_connect_sub(ep, BUS_ENGINE, err);
    assert_true(a && b && c);
    bus_subscribe(a, "sig", NULL);
    bus_subscribe(a, "ind", "AAPL");
    bus_subscribe(b, "ind", "AAPL");
    bus_subscribe(c, "bar", NULL);
    assert_int_equal(s_side_subs(&p, 2), 2);
    assert_int_equal(p.subscribers, 1);
    zmq_setsockopt(c, ZMQ_SUBSCRIBE, "", 0);    /* everything */
    assert_int_equal(s_side_subs(&p, 3), 3);
    bus_close(&a);                  /* gone without unsubscribing, while
                                       b holds the same topic */
    assert_int_equal(s_side_subs(&p, 2), 2);
    assert_int_equal(p.subscribers, 0);
    zmq_setsockopt(b, ZMQ_UNSUBSCRIBE, "ind|AAPL|", 9);
    assert_int_equal(s_side_subs(&p, 1), 1);
    bus_close(&c);
    assert_int_equal(s_side_subs(&p, 0), 0);
    /* Nobody: a side message goes nowhere, without waiting. */
    msgpack_pack_nil(&p.pk);
    assert_int_equal(bus_pub_send_side(&p, "ind|AAPL|"), 0);
    assert_int_equal(p.sent, 0);
    bus_close(&b);
    bus_pub_free(&p);
}

/* A replay request and reply read back as packed; bad requests refused
 * with a reason, an error reply's reason passed on. */
static void test_replay_codec(void **state)
{
    struct replay_req in[] = {
        { 41, -1, 0 }, { 0, 1767225600000LL, 0 }, { 7, -1, 500 },
    }, r;
    struct replay_reply rr;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    char err[ERR_LEN], why[64];
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&u);
    for (size_t i = 0; i < sizeof in / sizeof *in; i++) {
        msgpack_sbuffer_clear(&sb);
        msg_replay_pack_request(&pk, &in[i]);
        assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                         MSGPACK_UNPACK_SUCCESS);
        assert_int_equal(msg_replay_req_parse(&u.data, 10000, &r, err), 0);
        assert_int_equal(r.after, in[i].after);
        assert_int_equal(r.since_ts, in[i].since_ts);
        assert_int_equal(r.n, in[i].n ? in[i].n : 10000);
    }
    /* n is cut to the engine's most; neither after nor since_ts, or n 0,
     * is an error with a reason. */
    msgpack_sbuffer_clear(&sb);
    msg_replay_pack_request(&pk, &(struct replay_req){ 1, -1, 99999 });
    msgpack_unpack_next(&u, sb.data, sb.size, NULL);
    assert_int_equal(msg_replay_req_parse(&u.data, 10000, &r, err), 0);
    assert_int_equal(r.n, 10000);
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_map(&pk, 2);
    mp_kint(&pk, "ver", 1);
    mp_kstr(&pk, "type", "replay");
    msgpack_unpack_next(&u, sb.data, sb.size, NULL);
    assert_int_equal(msg_replay_req_parse(&u.data, 10000, &r, err),
                     ERR_PARSE);
    assert_non_null(strstr(err, "after"));
    /* the reply: head, then the caller's array */
    msgpack_sbuffer_clear(&sb);
    msg_replay_pack_reply_head(&pk, "eng1", 3, 9);
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_pack_nil(&pk);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, NULL),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(msg_replay_reply_parse(&u.data, &rr, why, sizeof why),
                     0);
    assert_int_equal(rr.first, 3);
    assert_int_equal(rr.last, 9);
    assert_int_equal(rr.signals->via.array.size, 2);
    /* an error reply: its reason */
    msgpack_sbuffer_clear(&sb);
    history_pack_error(&pk, "this engine keeps no journal");
    msgpack_unpack_next(&u, sb.data, sb.size, NULL);
    assert_int_equal(msg_replay_reply_parse(&u.data, &rr, why, sizeof why),
                     -1);
    assert_string_equal(why, "this engine keeps no journal");
    assert_null(rr.signals);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* Every status reply starts the same way; its symbols are one array
 * under one key. */
static void test_status_codec(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    char s[32];
    size_t off = 0;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&u);
    msg_status_pack_request(&pk);
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    assert_true(mp_is(mp_get(&u.data, "type"), "status"));
    assert_null(msg_status_symbols(&u.data));
    msgpack_sbuffer_clear(&sb);
    msg_status_pack_head(&pk, 4, "livetrade-feeder");
    mp_pack_str(&pk, "symbols");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_map(&pk, 1);
    mp_kstr(&pk, "sym", "AAPL");
    off = 0;
    assert_int_equal(msgpack_unpack_next(&u, sb.data, sb.size, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, sb.size);
    assert_int_equal(mp_str(&u.data, "prog", s, sizeof s), 0);
    assert_string_equal(s, "livetrade-feeder");
    assert_non_null(msg_status_symbols(&u.data));
    assert_int_equal(msg_status_symbols(&u.data)->via.array.size, 1);
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* A heartbeat read back; one missing or mistyped field refuses it. */
static void test_hb_parse(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_unpacked u;
    struct bus_hb hb;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_unpacked_init(&u);
    for (int bad = 0; bad < 3; bad++) {
        msgpack_sbuffer_clear(&sb);
        msgpack_pack_map(&pk, 6);
        mp_kint(&pk, "ver", bad == 1 ? 2 : 1);
        mp_kstr(&pk, "type", "hb");
        mp_kstr(&pk, "src", "eng1");
        mp_kuint(&pk, "pub", 77);
        if (bad == 2)
            mp_kstr(&pk, "seq", "12");
        else
            mp_kuint(&pk, "seq", 12);
        mp_kint(&pk, "ts", 1767225600000LL);
        msgpack_unpack_next(&u, sb.data, sb.size, NULL);
        assert_int_equal(bus_hb_parse(&u.data, &hb), bad ? -1 : 0);
        if (!bad) {
            assert_string_equal(hb.src, "eng1");
            assert_int_equal(hb.pub, 77);
            assert_int_equal(hb.seq, 12);
            assert_int_equal(hb.ts, 1767225600000LL);
        }
    }
    msgpack_unpacked_destroy(&u);
    msgpack_sbuffer_destroy(&sb);
}

/* Topics read back as bus_topic() writes them; anything else is refused
 * with the kind it claimed. */
/* bus_topic() writes what snprintf("%s|%s|") would, cut the same way. */
static void test_topic_build(void **state)
{
    static const char *kinds[] = { "bar", "sig", "hb", "" };
    static const char *syms[] = { "AAPL", "BRK.B", "", NULL,
        "A123456789B123456789C123456789D123456789E123456789" };
    char a[BUS_TOPIC_MAX], b[BUS_TOPIC_MAX + 64];
    (void)state;

    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        for (size_t j = 0; j < sizeof syms / sizeof *syms; j++) {
            memset(a, 'x', sizeof a);
            bus_topic(a, kinds[i], syms[j]);
            if (syms[j])
                snprintf(b, BUS_TOPIC_MAX, "%s|%s|", kinds[i], syms[j]);
            else
                snprintf(b, BUS_TOPIC_MAX, "%s|", kinds[i]);
            assert_string_equal(a, b);
        }
}

static void test_topic_parse(void **state)
{
    struct bus_topic_of t;
    char topic[BUS_TOPIC_MAX], sym[SYM_MAX + 1];
    (void)state;

    bus_topic(topic, "bar", "BRK.B");
    assert_int_equal(bus_topic_parse(topic, &t), 0);
    assert_int_equal(t.kind, BUS_K_BAR);
    assert_string_equal(t.sym, "BRK.B");
    assert_int_equal(bus_topic_parse("sig|X:BTCUSD|", &t), 0);
    assert_int_equal(t.kind, BUS_K_SIG);
    assert_string_equal(t.sym, "X:BTCUSD");
    assert_int_equal(bus_topic_parse("ind|A|", &t), 0);
    assert_int_equal(t.kind, BUS_K_IND);
    assert_int_equal(bus_topic_parse("hb|", &t), 0);
    assert_int_equal(t.kind, BUS_K_HB);
    assert_string_equal(t.sym, "");
    assert_int_equal(bus_topic_parse("pace|", &t), 0);
    assert_int_equal(t.kind, BUS_K_PACE);
    /* Malformed: the kind it claimed, and -1. */
    assert_int_equal(bus_topic_parse("bar|", &t), -1);
    assert_int_equal(t.kind, BUS_K_BAR);
    assert_int_equal(bus_topic_parse("bar||", &t), -1);
    assert_int_equal(bus_topic_parse("bar|AAPL", &t), -1);
    assert_int_equal(bus_topic_parse("sig|AAPL|x", &t), -1);
    assert_int_equal(t.kind, BUS_K_SIG);
    assert_int_equal(bus_topic_parse("sig|A|B|", &t), -1);
    assert_int_equal(bus_topic_parse("hb|x", &t), -1);
    assert_int_equal(t.kind, BUS_K_HB);
    memset(sym, 'A', SYM_MAX);
    sym[SYM_MAX] = '\0';           /* one byte too long */
    snprintf(topic, sizeof topic, "bar|%s|", sym);
    assert_int_equal(bus_topic_parse(topic, &t), -1);
    sym[SYM_MAX - 1] = '\0';       /* the longest */
    snprintf(topic, sizeof topic, "bar|%s|", sym);
    assert_int_equal(bus_topic_parse(topic, &t), 0);
    assert_string_equal(t.sym, sym);
    assert_int_equal(bus_topic_parse("quote|AAPL|", &t), -1);
    assert_int_equal(t.kind, BUS_K_OTHER);
    assert_int_equal(bus_topic_parse("", &t), -1);
}

/* Subscribing to AAPL delivers AAPL only, never AAPLX or AAPL.B, over a
 * real PUB/SUB pair. */
static void test_topics(void **state)
{
    const char *ep = "inproc://topics";
    const char *syms[] = { "AAPLX", "AAPL.B", "AAP", "AAPL", "X:AAPL" };
    char err[ERR_LEN], topic[BUS_TOPIC_MAX], got[BUS_TOPIC_MAX];
    void *pub, *sub;
    zmq_msg_t msg;
    int n, received = 0;
    (void)state;

    bus_topic(topic, "bar", "AAPL");
    assert_string_equal(topic, "bar|AAPL|");
    bus_topic(topic, "hb", NULL);
    assert_string_equal(topic, "hb|");

    pub = bus_bind_pub(ep, err);
    assert_non_null(pub);
    sub = bus_connect_sub(ep, BUS_ENGINE, err);
    assert_non_null(sub);
    assert_int_equal(bus_subscribe(sub, "bar", "AAPL"), 0);
    /* XPUB hands us the subscription once it has arrived. */
    n = zmq_recv(pub, got, sizeof got, 0);
    assert_true(n > 0 && got[0] == 1);
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 5; i++) {
            bus_topic(topic, "bar", syms[i]);
            zmq_send(pub, topic, strlen(topic), ZMQ_SNDMORE);
            zmq_send(pub, syms[i], strlen(syms[i]), 0);
        }
    /* A marker on the same topic, sent last, ends the wait. */
    zmq_send(pub, "bar|AAPL|", 9, ZMQ_SNDMORE);
    zmq_send(pub, "end", 3, 0);
    for (;;) {
        zmq_pollitem_t pi = { sub, 0, ZMQ_POLLIN, 0 };
        assert_int_equal(zmq_poll(&pi, 1, 5000), 1);
        n = bus_recv(sub, got, sizeof got, &msg);
        assert_true(n >= 0);
        assert_string_equal(got, "bar|AAPL|");
        if (n == 3 && memcmp(zmq_msg_data(&msg), "end", 3) == 0) {
            zmq_msg_close(&msg);
            break;
        }
        assert_int_equal(n, 4);
        zmq_msg_close(&msg);
        received++;
    }
    assert_int_equal(received, 2);
    bus_close(&sub);
    bus_close(&pub);
}

static void test_track(void **state)
{
    struct bus_track t;
    uint64_t missing;
    (void)state;

    bus_track_init(&t);
    assert_int_equal(bus_track_see(&t, "AAPL", 5, 1, &missing), TRACK_FIRST);
    assert_int_equal(bus_track_see(&t, "AAPL", 5, 2, &missing), TRACK_OK);
    assert_int_equal(bus_track_see(&t, "MSFT", 5, 7, &missing), TRACK_FIRST);
    assert_int_equal(bus_track_see(&t, "AAPL", 5, 5, &missing), TRACK_GAP);
    assert_int_equal(missing, 2);
    assert_int_equal(bus_track_see(&t, "AAPL", 5, 5, &missing), TRACK_OLD);
    assert_int_equal(bus_track_see(&t, "AAPL", 6, 1, &missing),
                     TRACK_RESTART);
    for (int i = 0; i < 1000; i++) {
        char key[16];
        snprintf(key, sizeof key, "S%d", i);
        assert_int_equal(bus_track_see(&t, key, 1, 1, &missing), TRACK_FIRST);
    }
    assert_int_equal(bus_track_see(&t, "MSFT", 5, 8, &missing), TRACK_OK);
    assert_true(t.gaps == 1 && t.missed == 2 && t.restarts == 1);
    bus_track_free(&t);
}

static void test_config(void **state)
{
    const char *syms = "AAPL", *path = NULL;
    int64_t n = 5;
    double iv = 1.0;
    int flag = 0, npos = 0;
    struct opt_multi params = { 0, { 0 } };
    const char *pos[2];
    char err[ERR_LEN];
    const struct opt opts[] = {
        { "symbols", OPT_STR, &syms, "LT_TEST_SYMBOLS", "A,B", "symbols" },
        { "count", OPT_INT, &n, NULL, "N", "count" },
        { "interval", OPT_DBL, &iv, NULL, "SEC", "interval" },
        { "json", OPT_BOOL, &flag, NULL, NULL, "json" },
        { "param", OPT_MULTI, &params, NULL, "K=V", "param" },
        { "path", OPT_STR, &path, "LT_TEST_PATH", "P", "path" },
        { NULL, 0, NULL, NULL, NULL, NULL }
    };
    const char *ok[] = { "x", "console", "--count", "7", "--interval=0.25",
                   "--json", "--param", "a=1", "--param=b=2", NULL };
    const char *bad1[] = { "x", "--count", "seven", NULL };
    const char *bad2[] = { "x", "--nope", NULL };
    const char *bad3[] = { "x", "--count", NULL };
    FILE *f;
    (void)state;

    setenv("LT_TEST_SYMBOLS", "MSFT,IBM", 1);
    f = fopen("/tmp/lt_test.env", "w");
    fputs("# comment\nexport LT_TEST_PATH=\"/data/x.jsonl\"\n", f);
    fclose(f);
    setenv("LIVETRADE_ENV_FILE", "/tmp/lt_test.env", 1);
    assert_int_equal(config_parse(opts, 9, (char **)ok, 1, pos, 2, &npos, err), 0);
    assert_int_equal(npos, 1);
    assert_string_equal(pos[0], "console");
    assert_true(n == 7 && iv == 0.25 && flag == 1);
    assert_int_equal(params.n, 2);
    assert_string_equal(params.v[1], "b=2");
    assert_string_equal(syms, "MSFT,IBM");          /* from the environment */
    assert_string_equal(path, "/data/x.jsonl");     /* from the .env file */
    assert_int_equal(config_parse(opts, 3, (char **)bad1, 1, pos, 2, &npos, err),
                     ERR_USAGE);
    assert_non_null(strstr(err, "seven"));
    assert_int_equal(config_parse(opts, 2, (char **)bad2, 1, pos, 2, &npos, err),
                     ERR_USAGE);
    assert_non_null(strstr(err, "--nope"));
    assert_int_equal(config_parse(opts, 2, (char **)bad3, 1, pos, 2, &npos, err),
                     ERR_USAGE);
    unlink("/tmp/lt_test.env");
}

static void test_config_did_you_mean(void **state)
{
    const char *syms = "AAPL";
    int64_t n = 5;
    int flag = 0;
    char err[ERR_LEN];
    const struct opt opts[] = {
        { "symbols", OPT_STR, &syms, NULL, "A,B", "symbols" },
        { "duration", OPT_INT, &n, NULL, "N", "minutes" },
        { "json", OPT_BOOL, &flag, NULL, NULL, "json" },
        { NULL, 0, NULL, NULL, NULL, NULL }
    };
    const char *const names[] = { "symbols", "duration", "json", NULL };
    const char *typo[] = { "x", "--duraton=3", NULL };
    const char *far[] = { "x", "--colour", NULL };
    (void)state;

    assert_int_equal(config_distance("duration", "duration"), 0);
    assert_int_equal(config_distance("duraton", "duration"), 1);
    assert_int_equal(config_distance("jsno", "json"), 1);   /* a swap */
    assert_int_equal(config_distance("", "abc"), 3);
    assert_string_equal(config_closest("symbol", names, 3), "symbols");
    assert_string_equal(config_closest("jsno", names, 3), "json");
    assert_string_equal(config_closest("dur", names, 3), "duration");
    assert_null(config_closest("colour", names, 3));
    assert_null(config_closest("x", names, 3));
    assert_int_equal(config_parse(opts, 2, (char **)typo, 1, NULL, 0, NULL,
                                  err), ERR_USAGE);
    assert_string_equal(err, "unknown flag --duraton (did you mean "
                        "--duration? see --help)");
    assert_int_equal(config_parse(opts, 2, (char **)far, 1, NULL, 0, NULL,
                                  err), ERR_USAGE);
    assert_string_equal(err, "unknown flag --colour (see --help)");
}

static void test_symbols(void **state)
{
    (void)state;
    assert_true(symbol_valid("AAPL"));
    assert_true(symbol_valid("BRK.B"));
    assert_true(symbol_valid("X:BTCUSD"));
    assert_true(symbol_valid("EUR/USD"));
    assert_true(symbol_valid("ES-2026"));
    assert_false(symbol_valid(""));
    assert_false(symbol_valid("A|B"));
    assert_false(symbol_valid("A B"));
    assert_false(symbol_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"));
}

static void test_eng_ids(void **state)
{
    char id[65];
    (void)state;
    assert_true(eng_id_valid("sma_cross-831fb789"));
    assert_true(eng_id_valid("a.b_c-D9"));
    assert_true(eng_id_valid("..."));
    assert_false(eng_id_valid(NULL));
    assert_false(eng_id_valid(""));
    assert_false(eng_id_valid("."));
    assert_false(eng_id_valid(".."));
    assert_false(eng_id_valid("../x"));
    assert_false(eng_id_valid("a/b"));
    assert_false(eng_id_valid("a b"));
    assert_false(eng_id_valid("a\nb"));
    memset(id, 'x', 63);
    id[63] = '\0';
    assert_true(eng_id_valid(id));                  /* 63 characters */
    id[63] = 'x';
    id[64] = '\0';
    assert_false(eng_id_valid(id));
}

/* Private files: created 0600 whatever the umask, never through a link;
 * temporary files are fresh names beside the target. */
static void test_private_files(void **state)
{
    char dir[] = "/tmp/lt_unit_privXXXXXX", path[256], link[256];
    char tmp[300];
    struct stat st;
    mode_t old = umask(022);
    FILE *f;
    int fd;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f", dir);
    snprintf(link, sizeof link, "%s/l", dir);
    fd = open_private(path, O_WRONLY | O_CREAT);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x\n", 2), 2);
    close(fd);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(symlink(path, link), 0);
    assert_int_equal(open_private(link, O_RDWR), -1);
    assert_int_equal(errno, ELOOP);
    f = tmp_private(path, tmp, sizeof tmp);
    assert_non_null(f);
    assert_int_equal(strncmp(tmp, path, strlen(path)), 0);
    assert_int_equal(fstat(fileno(f), &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    fclose(f);
    assert_int_equal(rename(tmp, link), 0);   /* replaces the link only */
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_size, 2);
    assert_null(tmp_private(path, tmp, 8));     /* does not fit */
    unlink(link);
    unlink(path);
    rmdir(dir);
    umask(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bar_roundtrip),
        cmocka_unit_test(test_bar_rejects),
        cmocka_unit_test(test_bar_fast_path),
        cmocka_unit_test(test_bar_pack_bytes),
        cmocka_unit_test(test_signal_roundtrip),
        cmocka_unit_test(test_ind_roundtrip),
        cmocka_unit_test(test_side_subs),
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_topic_parse),
        cmocka_unit_test(test_topic_build),
        cmocka_unit_test(test_replay_codec),
        cmocka_unit_test(test_status_codec),
        cmocka_unit_test(test_hb_parse),
        cmocka_unit_test(test_track),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_config_did_you_mean),
        cmocka_unit_test(test_symbols),
        cmocka_unit_test(test_eng_ids),
        cmocka_unit_test(test_private_files),
    };
    int rc = cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
    bus_term();
    return rc;
}
