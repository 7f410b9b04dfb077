/* test_sink.c -- livetrade-sink: console line format, the duplicate-id
 * filter and the pipeline's handling of good and bad bus messages. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sink/dedup.h"
#include "../../sink/sink_int.h"
#include "../../sink/state.h"
#include "err.h"
#include "log.h"

/* A buy signal as the engine would publish it. */
static void s_make(struct signal *s, const char *id, const char *sym,
                   int act, uint64_t seq)
{
    memset(s, 0, sizeof *s);
    snprintf(s->id, sizeof s->id, "%s", id);
    snprintf(s->eng, sizeof s->eng, "eng-1");
    snprintf(s->strat, sizeof s->strat, "SmaCross");
    snprintf(s->sym, sizeof s->sym, "%s", sym);
    s->act = act;
    s->t = 1795620001000;           /* 2026-11-25 15:20:01 UTC */
    s->px = 187.23;
    s->size = s->limit = s->stop = s->sl = s->tp = s->pos = NAN;
    s->conf = 0.72;
    s->nind = 2;
    snprintf(s->ind[0].name, SIG_NAME, "sma1");
    s->ind[0].v = 186.9;
    snprintf(s->ind[1].name, SIG_NAME, "sma2");
    s->ind[1].v = 186.41;
    s->seq = seq;
    s->pub = 42;
    s->ts = 1795620001500;
}

/* {==================== console_format ================ */

static void test_console_buy(void **state)
{
    struct signal s;
    char buf[512];
    int n;

    (void)state;
    s_make(&s, "00000000000000a1", "AAPL", SIG_BUY, 1);
    n = console_format(&s, 12, 0, buf, sizeof buf);
    assert_string_equal(buf, "#12  2026-11-25 15:20:01  AAPL   "
                        "\xf0\x9f\x93\x88 BUY   @ 187.23  conf 72%  "
                        "sma1=186.90 sma2=186.41");
    assert_int_equal(n, (int)strlen(buf));
}

static void test_console_sell_nan(void **state)
{
    struct signal s;
    char buf[512];

    (void)state;
    s_make(&s, "00000000000000a2", "BRK.B", SIG_SELL, 2);
    s.px = 412.5;
    s.conf = 1;
    s.ind[1].v = NAN;
    console_format(&s, 1, 0, buf, sizeof buf);
    assert_string_equal(buf, "#1   2026-11-25 15:20:01  BRK.B  "
                        "\xf0\x9f\x93\x89 SELL  @ 412.50  conf 100%  "
                        "sma1=186.90 sma2=nan");
}

static void test_console_close_orders(void **state)
{
    struct signal s;
    char buf[512];

    (void)state;
    s_make(&s, "00000000000000a3", "MSFT", SIG_CLOSE, 3);
    s.size = 10;
    s.sl = 180;
    s.tp = 195.5;
    snprintf(s.tag, sizeof s.tag, "exit\x1b[31m");     /* escape: cleaned */
    s.nind = 0;
    console_format(&s, 3, 0, buf, sizeof buf);
    assert_string_equal(buf, "#3   2026-11-25 15:20:01  MSFT   "
                        "\xe2\x9c\x96 CLOSE  @ 187.23  conf 72%  size=10  "
                        "sl=180.00  tp=195.50  tag=exit?[31m");
}

/* The position found: shown for closes and for buys or sells that found
 * one; not for a buy from flat, nor when unknown (NaN). */
static void test_console_position(void **state)
{
    struct signal s;
    char buf[512];

    (void)state;
    s_make(&s, "00000000000000a5", "MSFT", SIG_CLOSE, 5);
    s.nind = 0;
    s.pos = 10;
    console_format(&s, 5, 0, buf, sizeof buf);
    assert_string_equal(buf, "#5   2026-11-25 15:20:01  MSFT   "
                        "\xe2\x9c\x96 CLOSE  @ 187.23  conf 72%  pos 10");
    s.pos = 0;
    console_format(&s, 5, 0, buf, sizeof buf);
    assert_non_null(strstr(buf, "conf 72%  pos 0"));
    s.act = SIG_SELL;
    s.pos = -2.5;
    console_format(&s, 5, 0, buf, sizeof buf);
    assert_non_null(strstr(buf, "conf 72%  pos -2.5"));
    s.act = SIG_BUY;
    s.pos = 0;
    console_format(&s, 5, 0, buf, sizeof buf);
    assert_null(strstr(buf, "pos"));
    s.pos = NAN;
    s.act = SIG_CLOSE;
    console_format(&s, 5, 0, buf, sizeof buf);
    assert_null(strstr(buf, "pos"));
}

static void test_console_numbers(void **state)
{
    struct signal s;
    char buf[512];

    (void)state;
    s_make(&s, "00000000000000a4", "BTC-USD", SIG_BUY, 4);
    s.px = 0.00012345;
    s.ind[0].v = 12345678.9;
    s.ind[1].v = 0.0123;
    console_format(&s, 4, 0, buf, sizeof buf);
    assert_non_null(strstr(buf, "@ 0.0001234  "));
    assert_non_null(strstr(buf, "sma1=12345679 sma2=0.0123"));
    assert_non_null(strstr(buf, " BTC-USD "));
}

static void test_console_color(void **state)
{
    struct signal s;
    char buf[512];

    (void)state;
    s_make(&s, "00000000000000a5", "AAPL", SIG_SELL, 5);
    console_format(&s, 5, 1, buf, sizeof buf);
    assert_non_null(strstr(buf, CONSOLE_SELL "\xf0\x9f\x93\x89 SELL"
                           CONSOLE_OFF));
    assert_non_null(strstr(buf, CONSOLE_DIM "sma1=186.90 sma2=186.41"
                           CONSOLE_OFF));
    s.act = SIG_BUY;
    console_format(&s, 5, 1, buf, sizeof buf);
    assert_non_null(strstr(buf, CONSOLE_BUY));
    s.act = SIG_CLOSE;
    console_format(&s, 5, 1, buf, sizeof buf);
    assert_non_null(strstr(buf, CONSOLE_CLOSE));
}

static void test_console_truncated(void **state)
{
    struct signal s;
    char buf[40];
    size_t n;

    (void)state;
    s_make(&s, "00000000000000a6", "AAPL", SIG_BUY, 6);
    assert_int_equal(console_format(&s, 1, 0, buf, sizeof buf), -1);
    assert_int_equal(strlen(buf), sizeof buf - 1);
    assert_int_equal(console_format(&s, 1, 1, buf, sizeof buf), -1);
    n = strlen(buf);
    /* A cut coloured line still ends by resetting the colour. */
    assert_string_equal(buf + n - strlen(CONSOLE_OFF), CONSOLE_OFF);
}

static void test_console_bad_time(void **state)
{
    struct signal s;
    char buf[512];

    (void)state;
    s_make(&s, "00000000000000a7", "AAPL", SIG_BUY, 7);
    s.t = INT64_MAX;
    console_format(&s, 1, 0, buf, sizeof buf);
    assert_non_null(strstr(buf, "#1   (time out of range)  AAPL"));
    s.t = -1;                       /* 1969-12-31 23:59:59.999 */
    console_format(&s, 1, 0, buf, sizeof buf);
    assert_non_null(strstr(buf, "1969-12-31 23:59:59"));
}

/* }==================================================== */

/* {==================== dedup ========================= */

static void test_dedup_basic(void **state)
{
    dedup_t *d = dedup_new(4);

    (void)state;
    assert_non_null(d);
    assert_false(dedup_has(d, "a"));
    dedup_add(d, "a");
    dedup_add(d, "a");              /* no-op */
    assert_true(dedup_has(d, "a"));
    assert_int_equal(dedup_size(d), 1);
    dedup_add(d, "b");
    dedup_add(d, "c");
    dedup_add(d, "d");
    dedup_add(d, "e");              /* forgets "a" */
    assert_false(dedup_has(d, "a"));
    assert_true(dedup_has(d, "b"));
    assert_true(dedup_has(d, "e"));
    assert_int_equal(dedup_size(d), 4);
    /* Over-long ids compare on their first 16 bytes. */
    dedup_add(d, "0123456789abcdefXYZ");
    assert_true(dedup_has(d, "0123456789abcdef"));
    dedup_destroy(&d);
    assert_null(d);
    dedup_destroy(&d);              /* idempotent */
}

/* Many ids through a small ring: exactly the last `cap` are remembered,
 * which exercises deletes in the middle of probe runs. */
static void test_dedup_window(void **state)
{
    enum { CAP = 100, N = 20000 };
    dedup_t *d = dedup_new(CAP);
    char id[DEDUP_ID];

    (void)state;
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "%016llx",
                 (unsigned long long)mix64((uint64_t)i));
        assert_false(dedup_has(d, id));
        dedup_add(d, id);
        assert_true(dedup_has(d, id));
    }
    assert_int_equal(dedup_size(d), CAP);
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "%016llx",
                 (unsigned long long)mix64((uint64_t)i));
        assert_int_equal(dedup_has(d, id), i >= N - CAP);
    }
    dedup_destroy(&d);
}

/* }==================================================== */

/* {==================== pipeline ====================== */

/* An output that remembers what it was given and can be made to fail. */
static struct {
    int writes, fail;
    struct signal last;
} s_mock;

static int s_mock_write(void *st, const struct signal *s)
{
    (void)st;
    if (s_mock.fail) {
        errno = ENOSPC;
        return ERR_IO;
    }
    s_mock.writes++;
    s_mock.last = *s;
    return ERR_OK;
}

static const struct sink_ops s_mock_ops = {
    .name = "mock", .write = s_mock_write,
};

static msgpack_sbuffer s_sb;
static msgpack_packer s_pk;

static void s_pack(const struct signal *s)
{
    msgpack_sbuffer_clear(&s_sb);
    msg_signal_pack(&s_pk, s);
}

static int s_feed(sink_t *k, const char *topic, const struct signal *s)
{
    s_pack(s);
    return sink_handle(k, topic, s_sb.data, s_sb.size);
}

static void s_heartbeat_pack(const char *src, uint64_t pub, uint64_t seq)
{
    msgpack_sbuffer_clear(&s_sb);
    msgpack_pack_map(&s_pk, 6);
    mp_kint(&s_pk, "ver", 1);
    mp_kstr(&s_pk, "type", "hb");
    mp_kstr(&s_pk, "src", src);
    mp_kuint(&s_pk, "pub", pub);
    mp_kuint(&s_pk, "seq", seq);
    mp_kint(&s_pk, "ts", 1);
}

static int s_setup(void **state)
{
    (void)state;
    memset(&s_mock, 0, sizeof s_mock);
    msgpack_sbuffer_init(&s_sb);
    msgpack_packer_init(&s_pk, &s_sb, msgpack_sbuffer_write);
    log_level = LL_ERROR + 1;       /* keep the test output quiet */
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    msgpack_sbuffer_destroy(&s_sb);
    return 0;
}

static void test_pipeline_good_and_duplicate(void **state)
{
    sink_t *k = sink_new(&s_mock_ops, NULL, 1);
    const struct sink_stats *st = sink_stats(k);
    struct signal s;

    (void)state;
    s_make(&s, "00000000000000b1", "AAPL", SIG_BUY, 1);
    assert_int_equal(s_feed(k, "sig|AAPL|", &s), ERR_OK);
    assert_int_equal(s_mock.writes, 1);
    assert_string_equal(s_mock.last.id, "00000000000000b1");
    assert_int_equal(s_feed(k, "sig|AAPL|", &s), ERR_OK);  /* replayed */
    assert_int_equal(s_mock.writes, 1);
    assert_int_equal(st->duplicates, 1);
    s_make(&s, "00000000000000b2", "AAPL", SIG_SELL, 5);  /* 2..4 lost */
    s_feed(k, "sig|AAPL|", &s);
    assert_int_equal(st->gaps, 1);
    assert_int_equal(st->missed, 3);
    assert_int_equal(st->written, 2);
    assert_int_equal(st->signals, 3);
    assert_int_equal(st->received, 3);
    assert_int_equal(st->bad, 0);
    sink_destroy(&k);
}

static void test_pipeline_bad_input(void **state)
{
    sink_t *k = sink_new(&s_mock_ops, NULL, 1);
    const struct sink_stats *st = sink_stats(k);
    struct signal s;
    static const char junk[] = "\xc1 not msgpack";

    (void)state;
    s_make(&s, "00000000000000c1", "AAPL", SIG_BUY, 1);
    s_feed(k, "sig|AAPLX|", &s);            /* symbol not the topic's */
    s_feed(k, "sig|AAPL", &s);              /* no closing '|' */
    s_feed(k, "sig||", &s);                 /* empty symbol */
    s_feed(k, "bar|AAPL|", &s);             /* not a signal topic */
    sink_handle(k, "sig|AAPL|", junk, sizeof junk - 1);
    sink_handle(k, "sig|AAPL|", "", 0);
    s.px = NAN;                             /* invalid price */
    s_feed(k, "sig|AAPL|", &s);
    s.px = 1;
    s.id[0] = '\0';                         /* empty id */
    s_feed(k, "sig|AAPL|", &s);
    s_make(&s, "00000000000000c2", "AAPL", SIG_BUY, 2);
    snprintf(s.strat, sizeof s.strat, "\xff\xfe");     /* not UTF-8 */
    s_feed(k, "sig|AAPL|", &s);
    msgpack_sbuffer_clear(&s_sb);           /* a map, wrong types */
    msgpack_pack_map(&s_pk, 1);
    mp_kstr(&s_pk, "ver", "one");
    sink_handle(k, "sig|AAPL|", s_sb.data, s_sb.size);
    sink_handle(k, "hb|", junk, sizeof junk - 1);
    sink_bad_frame(k);
    assert_int_equal(st->bad, 12);
    assert_int_equal(st->received, 12);
    assert_int_equal(s_mock.writes, 0);
    /* Still working afterwards. */
    s_make(&s, "00000000000000c3", "AAPL", SIG_BUY, 3);
    s_feed(k, "sig|AAPL|", &s);
    assert_int_equal(s_mock.writes, 1);
    sink_destroy(&k);
}

static void test_pipeline_restart_by_heartbeat(void **state)
{
    sink_t *k = sink_new(&s_mock_ops, NULL, 1);
    const struct sink_stats *st = sink_stats(k);
    struct signal s;

    (void)state;
    s_heartbeat_pack("eng-1", 42, 0);      /* nothing seen yet: ignored */
    sink_handle(k, "hb|", s_sb.data, s_sb.size);
    s_make(&s, "00000000000000d1", "AAPL", SIG_BUY, 7);
    s_feed(k, "sig|AAPL|", &s);
    s_heartbeat_pack("eng-1", 42, 7);      /* same instance */
    sink_handle(k, "hb|", s_sb.data, s_sb.size);
    assert_int_equal(st->restarts, 0);
    s_heartbeat_pack("eng-1", 43, 0);      /* new instance */
    sink_handle(k, "hb|", s_sb.data, s_sb.size);
    assert_int_equal(st->restarts, 1);
    assert_int_equal(st->heartbeats, 3);
    s_make(&s, "00000000000000d2", "AAPL", SIG_BUY, 1);
    s.pub = 43;
    s_feed(k, "sig|AAPL|", &s);             /* continues: no gap, no restart */
    assert_int_equal(st->restarts, 1);
    assert_int_equal(st->gaps, 0);
    assert_int_equal(st->bad, 0);
    sink_destroy(&k);
}

static void test_pipeline_filter_no_gaps(void **state)
{
    sink_t *k = sink_new(&s_mock_ops, NULL, 0);
    const struct sink_stats *st = sink_stats(k);
    struct signal s;

    (void)state;
    s_make(&s, "00000000000000e1", "AAPL", SIG_BUY, 1);
    s_feed(k, "sig|AAPL|", &s);
    s_make(&s, "00000000000000e2", "AAPL", SIG_BUY, 9);
    s_feed(k, "sig|AAPL|", &s);
    assert_int_equal(st->gaps, 0);
    s_make(&s, "00000000000000e3", "AAPL", SIG_BUY, 10);
    s.pub = 99;
    s_feed(k, "sig|AAPL|", &s);
    assert_int_equal(st->restarts, 1);
    assert_int_equal(st->written, 3);
    sink_destroy(&k);
}

static void test_pipeline_failed_write_not_remembered(void **state)
{
    sink_t *k = sink_new(&s_mock_ops, NULL, 1);
    const struct sink_stats *st = sink_stats(k);
    struct signal s;

    (void)state;
    s_make(&s, "00000000000000f1", "AAPL", SIG_BUY, 1);
    s_mock.fail = 1;
    assert_int_equal(s_feed(k, "sig|AAPL|", &s), ERR_OK);
    assert_int_equal(st->failed, 1);
    s_mock.fail = 0;
    s_feed(k, "sig|AAPL|", &s);             /* the retry goes through */
    assert_int_equal(s_mock.writes, 1);
    assert_int_equal(st->duplicates, 0);
    sink_destroy(&k);
}

/* Outputs with quiet_flat_closes leave out closes that found no
 * position (counted, recorded in the state); --flat-closes shows them;
 * other outputs always get them. */
static void test_pipeline_flat_closes(void **state)
{
    static const struct sink_ops quiet = {
        .name = "mock", .write = s_mock_write, .quiet_flat_closes = 1,
    };
    const struct sink_ops *ops[] = { &quiet, &quiet, &s_mock_ops };
    char err[ERR_LEN];

    (void)state;
    for (int k = 0; k < 3; k++) {
        sink_t *p = sink_new(ops[k], NULL, 1);
        const struct sink_stats *st = sink_stats(p);
        struct signal s;
        int left_out = k == 0;

        memset(&s_mock, 0, sizeof s_mock);
        assert_int_equal(sink_resume(p, "", "", NULL, 0, err), ERR_OK);
        if (k == 1)
            sink_show_flat_closes(p, 1);
        s_make(&s, "0000000000000f01", "AAPL", SIG_BUY, 1);
        s.pos = 0;
        s_feed(p, "sig|AAPL|", &s);
        s_make(&s, "0000000000000f02", "AAPL", SIG_CLOSE, 2);
        s.pos = 3;                          /* closes something */
        s_feed(p, "sig|AAPL|", &s);
        s_make(&s, "0000000000000f03", "AAPL", SIG_CLOSE, 3);
        s.pos = 0;                          /* changed nothing */
        s_feed(p, "sig|AAPL|", &s);
        s_feed(p, "sig|AAPL|", &s);         /* again: a duplicate */
        s_make(&s, "0000000000000f04", "AAPL", SIG_CLOSE, 4);
        s.pos = NAN;                        /* not known: shown */
        s_feed(p, "sig|AAPL|", &s);
        assert_int_equal(s_mock.writes, left_out ? 3 : 4);
        assert_int_equal(st->written, left_out ? 3 : 4);
        assert_int_equal(st->flat_closes, left_out ? 1 : 0);
        assert_int_equal(st->duplicates, 1);
        assert_int_equal(st->gaps, 0);
        assert_int_equal(sink_state_get(p->state_file, "eng-1"), 4);
        sink_destroy(&p);
    }
}

/* --since: the words, durations back from the sink's start, times. */
static void test_pipeline_since(void **state)
{
    static const char *const bad[] = {
        "", "yesterday", "15", "-5m", "5x", "m", "2026-13-01T00:00Z",
        "2026-11-25T15:20:00+01", "2026-11-25", "99999999999999999999d",
    };
    sink_t *p = sink_new(&s_mock_ops, NULL, 1);
    char err[ERR_LEN];

    (void)state;
    assert_int_equal(p->since, SINCE_RUN);
    assert_int_equal(sink_since(p, "all", err), ERR_OK);
    assert_int_equal(p->since, SINCE_ALL);
    assert_int_equal(sink_since(p, "start", err), ERR_OK);
    assert_int_equal(p->since, SINCE_START);
    assert_int_equal(sink_since(p, "run", err), ERR_OK);
    assert_int_equal(p->since, SINCE_RUN);
    assert_int_equal(sink_since(p, "15m", err), ERR_OK);
    assert_int_equal(p->since, SINCE_TS);
    assert_int_equal(p->since_ts, p->start_ms - 15 * 60000);
    assert_int_equal(sink_since(p, "2h", err), ERR_OK);
    assert_int_equal(p->since_ts, p->start_ms - 2 * 3600000);
    assert_int_equal(sink_since(p, "1d", err), ERR_OK);
    assert_int_equal(p->since_ts, p->start_ms - 86400000);
    assert_int_equal(sink_since(p, "30s", err), ERR_OK);
    assert_int_equal(p->since_ts, p->start_ms - 30000);
    assert_int_equal(sink_since(p, "2026-11-25T15:20:01Z", err), ERR_OK);
    assert_int_equal(p->since_ts, 1795620001000);
    assert_int_equal(sink_since(p, "2026-11-25 15:20", err), ERR_OK);
    assert_int_equal(p->since_ts, 1795620000000);
    assert_int_equal(sink_since(p, "2000-02-29T00:00:00", err), ERR_OK);
    assert_int_equal(p->since_ts, 951782400000);
    assert_int_equal(sink_since(p, "1795620001500", err), ERR_OK);
    assert_int_equal(p->since_ts, 1795620001500);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_equal(sink_since(p, bad[i], err), ERR_USAGE);
        assert_non_null(strstr(err, "--since"));
    }
    sink_destroy(&p);
}

/* A new engine is recorded at 0 (known, nothing taken yet), so a sink
 * resumes it from its journal's start after a restart. */
static void test_state_has(void **state)
{
    char err[ERR_LEN], path[] = "/tmp/lt-test-state-XXXXXX";
    int fd = mkstemp(path);
    sink_state_t *st;

    (void)state;
    assert_true(fd >= 0);
    close(fd);
    unlink(path);
    st = sink_state_load(path, err);
    assert_non_null(st);
    assert_false(sink_state_has(st, "e1"));
    sink_state_set(st, "e1", 0, 0);
    assert_true(sink_state_has(st, "e1"));
    assert_int_equal(sink_state_get(st, "e1"), 0);
    assert_int_equal(sink_state_save(st), 0);
    sink_state_free(&st);
    st = sink_state_load(path, err);
    assert_non_null(st);
    assert_true(sink_state_has(st, "e1"));
    assert_false(sink_state_has(st, "e2"));
    sink_state_free(&st);
    unlink(path);
}

static void test_pipeline_utf8(void **state)
{
    (void)state;
    assert_true(sink_utf8_valid(""));
    assert_true(sink_utf8_valid("SmaCross h\xc3\xa9 \xe2\x9c\x96 "
                                "\xf0\x9f\x93\x88"));
    assert_false(sink_utf8_valid("\xc0\xaf"));          /* overlong '/' */
    assert_false(sink_utf8_valid("\xed\xa0\x80"));      /* surrogate */
    assert_false(sink_utf8_valid("\xf4\x90\x80\x80"));  /* above U+10FFFF */
    assert_false(sink_utf8_valid("\xe2\x82"));          /* cut short */
    assert_false(sink_utf8_valid("\x80"));      /* lone continuation */
    assert_false(sink_utf8_valid("\xff"));
}

/* }==================================================== */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_console_buy),
        cmocka_unit_test(test_console_sell_nan),
        cmocka_unit_test(test_console_close_orders),
        cmocka_unit_test(test_console_position),
        cmocka_unit_test(test_console_numbers),
        cmocka_unit_test(test_console_color),
        cmocka_unit_test(test_console_truncated),
        cmocka_unit_test(test_console_bad_time),
        cmocka_unit_test(test_dedup_basic),
        cmocka_unit_test(test_dedup_window),
        cmocka_unit_test_setup_teardown(test_pipeline_good_and_duplicate,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_bad_input,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_restart_by_heartbeat,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_filter_no_gaps,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(
            test_pipeline_failed_write_not_remembered, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_flat_closes,
                                        s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_pipeline_since, s_setup,
                                        s_teardown),
        cmocka_unit_test(test_state_has),
        cmocka_unit_test(test_pipeline_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
