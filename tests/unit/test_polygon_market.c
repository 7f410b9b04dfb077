/* test_polygon_market.c -- feeder/polygon_market: the markets, the bus,
 * REST and WebSocket forms of their symbols; polygon_hours for each
 * market's hours (forex: Sunday 17:00 to Friday 17:00 New York, both
 * sides of the daylight-time changes); polygon_ws for the aggregate
 * events of crypto, forex and indices and for the matching of an event's
 * symbol spelt another way. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../feeder/polygon_hours.h"
#include "../../feeder/polygon_market.h"
#include "../../feeder/polygon_rest.h"
#include "../../feeder/polygon_ws.h"
#include "../../feeder/source.h"
#include "err.h"

static const struct polygon_market *s_m(const char *name)
{
    const struct polygon_market *m = polygon_market_find(name);

    assert_non_null(m);
    return m;
}

static void test_find(void **state)
{
    (void)state;
    assert_string_equal(s_m("stocks")->path, "/stocks");
    assert_string_equal(s_m("crypto")->ev_minute, "XA");
    assert_string_equal(s_m("crypto")->ev_second, "XAS");
    assert_string_equal(s_m("forex")->ev_minute, "CA");
    assert_string_equal(s_m("forex")->ev_second, "CAS");
    assert_string_equal(s_m("indices")->ev_minute, "AM");
    assert_string_equal(s_m("indices")->path, "/indices");
    assert_int_equal(s_m("crypto")->hours, SOURCE_MARKET_ALWAYS);
    assert_int_equal(s_m("forex")->hours, SOURCE_MARKET_FOREX);
    assert_int_equal(s_m("indices")->hours, SOURCE_MARKET_US_EQUITIES);
    assert_false(s_m("crypto")->delayed);
    assert_false(s_m("forex")->delayed);
    assert_true(s_m("indices")->delayed);
    assert_null(polygon_market_find("bonds"));
    assert_null(polygon_market_find("Stocks"));
    assert_null(polygon_market_find(NULL));
}

/* Every spelling in `in` gives bus form `bus`, REST `rest`, WS `ws`. */
static void s_forms(const char *market, const char *const *in,
                    const char *bus, const char *rest, const char *ws)
{
    const struct polygon_market *m = s_m(market);
    char out[SYM_MAX], r[SYM_MAX], w[SYM_MAX], k1[SYM_MAX], k2[SYM_MAX];
    char err[ERR_LEN];

    for (int i = 0; in[i]; i++) {
        if (polygon_market_bus(m, in[i], out, err) != 0)
            fail_msg("%s %s: %s", market, in[i], err);
        assert_string_equal(out, bus);
        m->key(in[i], k1);
        m->key(ws, k2);
        assert_string_equal(k1, k2);
    }
    polygon_market_rest(m, bus, r);
    polygon_market_ws(m, bus, w);
    assert_string_equal(r, rest);
    assert_string_equal(w, ws);
}

static void test_forms(void **state)
{
    static const char *aapl[] = { "AAPL", NULL };
    static const char *brk[] = { "BRK.B", NULL };
    static const char *btc[] = { "BTC-USD", "X:BTCUSD", "X:BTC-USD",
                                 "btc/usd", "x:btcusd", NULL };
    static const char *usdt[] = { "X:ETHUSDT", "ETH-USDT", NULL };
    static const char *ethbtc[] = { "X:ETHBTC", NULL };
    static const char *eur[] = { "EUR-USD", "EUR/USD", "EURUSD",
                                 "C:EURUSD", "c:eur/usd", NULL };
    static const char *spx[] = { "I:SPX", "SPX", NULL };
    static const char *star[] = { "*", NULL };

    (void)state;
    s_forms("stocks", aapl, "AAPL", "AAPL", "AAPL");
    s_forms("stocks", brk, "BRK.B", "BRK.B", "BRK.B");
    s_forms("crypto", btc, "BTC-USD", "X:BTCUSD", "BTC-USD");
    s_forms("crypto", usdt, "ETH-USDT", "X:ETHUSDT", "ETH-USDT");
    s_forms("crypto", ethbtc, "ETH-BTC", "X:ETHBTC", "ETH-BTC");
    s_forms("forex", eur, "EUR-USD", "C:EURUSD", "EUR/USD");
    s_forms("indices", spx, "I:SPX", "I:SPX", "I:SPX");
    for (const char *const *m = (const char *const[]){ "stocks", "crypto",
             "forex", "indices", NULL }; *m; m++) {
        char out[SYM_MAX], err[ERR_LEN];
        assert_int_equal(polygon_market_bus(s_m(*m), star[0], out, err), 0);
        assert_string_equal(out, "*");
    }
}

static void test_bad_forms(void **state)
{
    static const struct { const char *market, *sym; } cases[] = {
        { "crypto", "BTCXYZ" },     /* no known quote currency */
        { "crypto", "X:BTC" },
        { "crypto", "BTC-" },
        { "crypto", "-USD" },
        { "crypto", "BTC-USD-EUR" },
        { "crypto", "BT.C-USD" },
        { "forex", "EURUS" },
        { "forex", "EURO-USD" },
        { "forex", "C:EURUSDX" },
        { "forex", "E.R-USD" },
        { "indices", "I:" },
        { "indices", "I:S.PX" },
    };
    char out[SYM_MAX], err[ERR_LEN];

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        if (polygon_market_bus(s_m(cases[i].market), cases[i].sym, out,
                               err) != ERR_USAGE)
            fail_msg("%s %s: accepted as %s", cases[i].market,
                     cases[i].sym, out);
        /* One line naming the market and the symbol. */
        assert_non_null(strstr(err, cases[i].market));
        assert_non_null(strstr(err, cases[i].sym));
        assert_null(strchr(err, '\n'));
    }
}

static void test_forex_hours(void **state)
{
    static const struct { int64_t t; int open; } cases[] = {
        { 1720385940000LL, 0 },     /* Sun 2024-07-07 16:59 EDT */
        { 1720386000000LL, 1 },     /* Sun 17:00 EDT */
        { 1720817940000LL, 1 },     /* Fri 2024-07-12 16:59 EDT */
        { 1720818000000LL, 0 },     /* Fri 17:00 EDT */
        { 1720886400000LL, 0 },     /* Sat 2024-07-13 12:00 */
        { 1720594800000LL, 1 },     /* Wed 03:00 EDT */
        { 1704664740000LL, 0 },     /* Sun 2024-01-07 16:59 EST */
        { 1704664800000LL, 1 },     /* Sun 17:00 EST */
        { 1704491940000LL, 1 },     /* Fri 2024-01-05 16:59 EST */
        { 1704492000000LL, 0 },     /* Fri 17:00 EST */
        { 1704690000000LL, 1 },     /* Mon 2024-01-08 00:00 EST */
        { 1710104340000LL, 0 },     /* Sun 2024-03-10 16:59, DST day */
        { 1710104400000LL, 1 },     /* Sun 2024-03-10 17:00 EDT */
        { 1730494740000LL, 1 },     /* Fri 2024-11-01 16:59 EDT */
        { 1730494800000LL, 0 },     /* Fri 2024-11-01 17:00 EDT */
    };

    (void)state;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (polygon_market_open(SOURCE_MARKET_FOREX, cases[k].t) !=
            cases[k].open)
            fail_msg("case %zu (%lld): expected %d", k,
                     (long long)cases[k].t, cases[k].open);
        assert_int_equal(polygon_market_open(SOURCE_MARKET_ALWAYS,
                                             cases[k].t), 1);
    }
    /* Saturday noon: closed for stocks, indices and forex; crypto trades. */
    assert_int_equal(polygon_market_open(s_m("forex")->hours,
                                         1720886400000LL), 0);
    assert_int_equal(polygon_market_open(s_m("indices")->hours,
                                         1720886400000LL), 0);
    assert_int_equal(polygon_market_open(s_m("crypto")->hours,
                                         1720886400000LL), 1);
}

/* ==== polygon_rest: index values have no volume ========================= */

static void test_rest_index_values(void **state)
{
    /* The docs' sample for I:NDX: o, h, l, c, t and nothing else. */
    static const char body[] =
        "{\"count\":2,\"queryCount\":2,\"request_id\":\"0cf72b6da685bcd38"
        "6548ffe2895904a\",\"results\":[{\"c\":11995.88235998666,"
        "\"h\":12340.44936267155,\"l\":11970.34221717375,"
        "\"o\":12230.83658266843,\"t\":1678341600000},"
        "{\"c\":11830.28178808306,\"h\":12069.62262033557,"
        "\"l\":11789.85923449393,\"o\":12001.69552583921,"
        "\"t\":1678428000000}],\"status\":\"OK\",\"ticker\":\"I:NDX\"}";
    struct polygon_bars out = { .max = 10 };
    char *next = NULL, err[ERR_LEN];

    (void)state;
    assert_int_equal(polygon_rest_parse(body, strlen(body), "I:NDX", 86400,
                                        "u", &out, &next, err), 0);
    assert_int_equal(out.n, 2);
    assert_int_equal(out.skipped, 0);
    assert_true(out.v[0].vol == 0);
    assert_true(isnan(out.v[0].vw));
    assert_int_equal(out.v[1].t, 1678428000000LL);
    free(out.v);
    /* The same results for a stock lack a required key: dropped. */
    memset(&out, 0, sizeof out);
    out.max = 10;
    assert_int_equal(polygon_rest_parse(body, strlen(body), "NDX", 86400,
                                        "u", &out, &next, err), 0);
    assert_int_equal(out.n, 0);
    assert_int_equal(out.skipped, 2);
    free(out.v);
}

/* ==== polygon_ws: other markets' aggregates ============================= */

#define MAXREC 8

static struct bar s_bars[MAXREC];
static int s_nbar;

static void s_rec_bar(void *arg, const struct bar *b)
{
    (void)arg;
    if (s_nbar < MAXREC)
        s_bars[s_nbar] = *b;
    s_nbar++;
}

static int s_parse(const char *text, struct polygon_ws_counts *c)
{
    struct polygon_ws_handler h = { NULL, s_rec_bar, NULL };

    memset(c, 0, sizeof *c);
    s_nbar = 0;
    return polygon_ws_parse(text, strlen(text), POLYGON_WS_FRAME_MAX, &h, c);
}

static void test_ws_events(void **state)
{
    /* The documented samples (tests/polygon_mock/README.md, "Markets"). */
    static const char frame[] =
        "[{\"ev\":\"XA\",\"pair\":\"BCD-USD\",\"v\":951.6112,\"vw\":0.7756,"
        "\"z\":73,\"o\":0.772,\"c\":0.784,\"h\":0.784,\"l\":0.771,"
        "\"s\":1610463240000,\"e\":1610463300000},"
        "{\"ev\":\"CA\",\"pair\":\"USD/EUR\",\"o\":0.8687,\"c\":0.86889,"
        "\"h\":0.86889,\"l\":0.8686,\"v\":20,\"s\":1539145740000},"
        "{\"ev\":\"AM\",\"sym\":\"I:SPX\",\"op\":3985.67,\"o\":3985.67,"
        "\"c\":3985.67,\"h\":3985.67,\"l\":3985.67,\"s\":1678220640000,"
        "\"e\":1678220700000},"
        "{\"ev\":\"XAS\",\"pair\":\"BTC-USD\",\"o\":1,\"c\":1,\"h\":1,"
        "\"l\":1,\"v\":0.5,\"s\":1000},"
        "{\"ev\":\"CAS\",\"pair\":\"EUR/USD\",\"o\":1,\"c\":1,\"h\":1,"
        "\"l\":1,\"v\":3,\"s\":2000},"
        "{\"ev\":\"A\",\"sym\":\"I:NDX\",\"o\":1,\"c\":1,\"h\":1,\"l\":1,"
        "\"s\":3000}]";
    struct polygon_ws_counts c;

    (void)state;
    assert_int_equal(s_parse(frame, &c), 6);
    assert_int_equal(s_nbar, 6);
    assert_string_equal(s_bars[0].sym, "BCD-USD");
    assert_int_equal(s_bars[0].tf, 60);
    assert_true(fabs(s_bars[0].vol - 951.6112) < 1e-9);
    assert_true(fabs(s_bars[0].vw - 0.7756) < 1e-9);
    assert_string_equal(s_bars[1].sym, "USD/EUR");
    assert_int_equal(s_bars[1].t, 1539145740000LL);
    assert_true(isnan(s_bars[1].vw));
    assert_string_equal(s_bars[2].sym, "I:SPX");
    assert_true(s_bars[2].vol == 0);
    assert_int_equal(s_bars[3].tf, 1);
    assert_int_equal(s_bars[4].tf, 1);
    assert_string_equal(s_bars[5].sym, "I:NDX");
    assert_int_equal(s_bars[5].tf, 1);
    /* A stock's aggregate without volume is still refused. */
    assert_int_equal(s_parse("[{\"ev\":\"AM\",\"sym\":\"SPX\",\"o\":1,"
                             "\"c\":1,\"h\":1,\"l\":1,\"s\":1}]", &c), 0);
    assert_int_equal(c.bad[PWS_BAD_MISSING], 1);
    /* Neither "sym" nor "pair". */
    assert_int_equal(s_parse("[{\"ev\":\"XA\",\"o\":1,\"c\":1,\"h\":1,"
                             "\"l\":1,\"v\":1,\"s\":1}]", &c), 0);
    assert_int_equal(c.bad[PWS_BAD_MISSING], 1);
}

/* ==== polygon_ws: a forex subscription through a fake transport ======== */

static char s_sent[4][256];
static int s_nsent, s_fbars, s_fsym;

static int f_connect(void *arg)
{
    (void)arg;
    return 0;
}

static int f_send(void *arg, const char *text, size_t len)
{
    (void)arg;
    (void)len;
    if (s_nsent < 4)
        snprintf(s_sent[s_nsent], sizeof s_sent[0], "%s", text);
    s_nsent++;
    return 0;
}

static void f_close(void *arg)
{
    (void)arg;
}

static void f_bar(void *arg, int sym, const struct bar *b)
{
    (void)arg;
    (void)b;
    s_fbars++;
    s_fsym = sym;
}

static void s_frame(polygon_ws_t *ws, const char *text, int64_t now)
{
    polygon_ws_frame(ws, text, strlen(text), now);
}

static void test_ws_forex_subscription(void **state)
{
    static const struct polygon_ws_io io = {
        f_connect, f_send, f_close, f_bar, NULL, NULL, NULL, NULL
    };
    const struct polygon_market *m = s_m("forex");
    const char *syms[] = { "EUR/USD", "GBP/JPY" };
    struct polygon_ws_cfg cfg;
    char err[ERR_LEN];
    polygon_ws_t *ws;

    (void)state;
    polygon_ws_cfg_defaults(&cfg);
    cfg.api_key = "K";
    cfg.symbols = syms;
    cfg.nsym = 2;
    cfg.channel = m->ev_minute;
    cfg.key = m->key;
    cfg.seed = 1;
    s_nsent = s_fbars = 0;
    ws = polygon_ws_new(&cfg, &io, err);
    assert_non_null(ws);
    assert_int_equal(polygon_ws_start(ws, 0), 0);
    polygon_ws_opened(ws, 1);
    s_frame(ws, "[{\"ev\":\"status\",\"status\":\"connected\","
            "\"message\":\"Connected Successfully\"}]", 2);
    s_frame(ws, "[{\"ev\":\"status\",\"status\":\"auth_success\","
            "\"message\":\"authenticated\"}]", 3);
    assert_int_equal(s_nsent, 2);
    assert_string_equal(s_sent[1], "{\"action\":\"subscribe\","
                        "\"params\":\"CA.EUR/USD,CA.GBP/JPY\"}");
    /* Events spell the pair either way; a CAS bar is another channel. */
    s_frame(ws, "[{\"ev\":\"CA\",\"pair\":\"GBP-JPY\",\"o\":1,\"c\":1,"
            "\"h\":1,\"l\":1,\"v\":2,\"s\":60000}]", 4);
    assert_int_equal(s_fbars, 1);
    assert_int_equal(s_fsym, 1);
    s_frame(ws, "[{\"ev\":\"CA\",\"pair\":\"EUR/USD\",\"o\":1,\"c\":1,"
            "\"h\":1,\"l\":1,\"v\":2,\"s\":60000},"
            "{\"ev\":\"CAS\",\"pair\":\"EUR/USD\",\"o\":1,\"c\":1,"
            "\"h\":1,\"l\":1,\"v\":2,\"s\":61000},"
            "{\"ev\":\"CA\",\"pair\":\"USD/JPY\",\"o\":1,\"c\":1,"
            "\"h\":1,\"l\":1,\"v\":2,\"s\":60000}]", 5);
    assert_int_equal(s_fbars, 2);
    assert_int_equal(s_fsym, 0);
    assert_int_equal(polygon_ws_state(ws), PWS_STREAMING);
    assert_int_equal(polygon_ws_stats(ws)->wrong_channel, 1);
    assert_int_equal(polygon_ws_stats(ws)->unknown_sym, 1);
    polygon_ws_destroy(&ws);
    /* A channel no market has is refused. */
    cfg.channel = "XQ";
    assert_null(polygon_ws_new(&cfg, &io, err));
    assert_non_null(strstr(err, "XQ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_bad_forms),
        cmocka_unit_test(test_forex_hours),
        cmocka_unit_test(test_rest_index_values),
        cmocka_unit_test(test_ws_events),
        cmocka_unit_test(test_ws_forex_subscription),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
