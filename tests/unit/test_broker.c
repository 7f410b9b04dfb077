/* The paper broker against backtesting.py 0.6.6's documented rules
 * (BACKTESTING.md 6-9), one rule per case, prices worked out by hand. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

/* cmocka's assert_float_equal compares as float; this one as double. */
#define assert_dbl_equal(a, b, eps) \
    assert_true(fabs((double)(a) - (double)(b)) <= (eps))

#include "broker.h"
#include "err.h"

struct fx {
    struct strat_data d;
    broker_t *b;
    char err[ERR_LEN];
};

static void fx_init(struct fx *f, const struct broker_cfg *cfg)
{
    struct broker_cfg def;
    broker_cfg_default(&def);
    strat_data_init(&f->d);
    f->b = broker_new(cfg ? cfg : &def, f->err);
    assert_non_null(f->b);
}

static void fx_free(struct fx *f)
{
    broker_destroy(&f->b);
    strat_data_free(&f->d);
}

/* Appends a bar and lets the broker process it; returns out-of-money. */
static int bar(struct fx *f, double o, double h, double l, double c)
{
    int64_t t = 86400000LL * (int64_t)f->d.close.len;
    assert_int_equal(strat_data_push(&f->d, t, o, h, l, c, 1000, NULL), 0);
    return broker_next(f->b, &f->d);
}

#define BUY(f, size, limit, stop, sl, tp) \
    broker_order((f)->b, (size), (limit), (stop), (sl), (tp), "", (f)->err)
#define ALL 0.9999999999999998

/* A market order placed at bar i fills at bar i+1's open; the default
 * size is floor(cash * (1 - 2^-52) / price): 99 units at 100, not 100. */
static void test_market_fill_and_default_size(void **st)
{
    struct fx f;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    assert_true(BUY(&f, ALL, NAN, NAN, NAN, NAN) > 0);
    assert_int_equal(broker_ntrades(f.b), 0);       /* not before next bar */
    bar(&f, 100, 105, 99, 104);
    assert_int_equal(broker_ntrades(f.b), 1);
    assert_true(broker_trade(f.b, 0)->size == 99);
    assert_true(broker_trade(f.b, 0)->entry_price == 100);
    assert_int_equal(broker_trade(f.b, 0)->entry_bar, 1);
    assert_dbl_equal(broker_equity(f.b), 10000 + 99 * 4, 1e-9);
    assert_dbl_equal(broker_position_pl_pct(f.b), 4.0, 1e-9);
    fx_free(&f);
}

/* Limit buy: fills when low <= limit, at min(open, limit); a gap down
 * through the limit fills at the (better) open. */
static void test_limit(void **st)
{
    struct fx f;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, 95, NAN, NAN, NAN);
    bar(&f, 100, 101, 96, 98);                      /* not touched */
    assert_int_equal(broker_ntrades(f.b), 0);
    bar(&f, 97, 98, 94, 96);                        /* touched: at 95 */
    assert_true(broker_trade(f.b, 0)->entry_price == 95);
    BUY(&f, 5, 90, NAN, NAN, NAN);
    bar(&f, 85, 88, 84, 86);                        /* gapped: at 85 */
    assert_true(broker_trade(f.b, 1)->entry_price == 85);
    fx_free(&f);
}

/* Stop buy: triggers when high >= stop, fills at max(open, stop); a gap
 * above the stop fills at the (worse) open. */
static void test_stop(void **st)
{
    struct fx f;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, NAN, 103, NAN, NAN);
    bar(&f, 100, 102, 99, 101);
    assert_int_equal(broker_ntrades(f.b), 0);
    bar(&f, 101, 104, 100, 103);
    assert_true(broker_trade(f.b, 0)->entry_price == 103);
    BUY(&f, 5, NAN, 106, NAN, NAN);
    bar(&f, 110, 111, 108, 109);
    assert_true(broker_trade(f.b, 1)->entry_price == 110);
    fx_free(&f);
}

/* SL and TP both inside one bar: the SL (front of the queue) wins. */
static void test_sl_before_tp(void **st)
{
    struct fx f;
    const struct trade *t;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, NAN, NAN, 95, 110);
    bar(&f, 100, 101, 99, 100);                     /* entry at 100 */
    assert_int_equal(broker_norders(f.b), 2);       /* SL and TP */
    bar(&f, 100, 111, 94, 100);                     /* both in range */
    assert_int_equal(broker_nclosed(f.b), 1);
    t = broker_closed(f.b, 0);
    assert_true(t->exit_price == 95 && t->exit_bar == 2);
    assert_int_equal(broker_norders(f.b), 0);       /* OCO: TP gone too */
    fx_free(&f);
}

/* A market entry with an SL that the entry bar already reaches is
 * stopped out on that same bar. */
static void test_sl_on_entry_bar(void **st)
{
    struct fx f;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, NAN, NAN, 97, NAN);
    bar(&f, 100, 101, 96, 98);
    assert_int_equal(broker_nclosed(f.b), 1);
    assert_true(broker_closed(f.b, 0)->exit_price == 97);
    assert_true(broker_closed(f.b, 0)->entry_bar == 1 &&
                broker_closed(f.b, 0)->exit_bar == 1);
    fx_free(&f);
}

/* sl / tp on the wrong side are refused with backtesting.py's message. */
static void test_bad_sl_tp(void **st)
{
    struct fx f;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    assert_int_equal(BUY(&f, 1, NAN, NAN, 101, NAN), ERR_INVALID);
    assert_non_null(strstr(f.err, "a long order needs sl < the last "
                           "close < tp, got sl 101, the last close 100"));
    assert_int_equal(BUY(&f, -1, NAN, NAN, 99, NAN), ERR_INVALID);
    assert_non_null(strstr(f.err, "a short order needs tp < the last "
                           "close < sl, got tp none, the last close 100, "
                           "sl 99"));
    assert_int_equal(BUY(&f, -1, 98, NAN, NAN, 99), ERR_INVALID);
    assert_non_null(strstr(f.err, "tp < limit < sl, got tp 99, limit 98"));
    fx_free(&f);
}

/* Commission (rate) on both legs; the trade's P&L includes both. */
static void test_commission(void **st)
{
    struct fx f;
    struct broker_cfg c;
    const struct trade *t;
    (void)st;
    broker_cfg_default(&c);
    c.commission = 0.01;
    fx_init(&f, &c);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, NAN, NAN, NAN, NAN);
    bar(&f, 100, 101, 99, 100);                     /* 10 @ 100: fee 10 */
    assert_dbl_equal(broker_cash(f.b), 10000 - 10, 1e-9);
    broker_close_position(f.b, 1.0);
    bar(&f, 110, 111, 109, 110);                    /* exit @ 110: fee 11 */
    t = broker_closed(f.b, 0);
    assert_dbl_equal(t->commission, 21, 1e-9);
    assert_dbl_equal(broker_trade_pl(f.b, t), 100 - 21, 1e-9);
    assert_dbl_equal(broker_trade_pl_pct(f.b, t), 0.1 - 21 / 1000.0,
                       1e-12);
    assert_dbl_equal(broker_cash(f.b), 10000 + 100 - 21, 1e-9);
    fx_free(&f);
}

/* Spread worsens the entry only; exits are at raw prices. */
static void test_spread(void **st)
{
    struct fx f;
    struct broker_cfg c;
    (void)st;
    broker_cfg_default(&c);
    c.spread = 0.01;
    fx_init(&f, &c);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, -10, NAN, NAN, NAN, NAN);
    bar(&f, 100, 101, 99, 100);
    assert_dbl_equal(broker_trade(f.b, 0)->entry_price, 99, 1e-12);
    broker_close_position(f.b, 1.0);
    bar(&f, 98, 99, 97, 98);
    assert_dbl_equal(broker_closed(f.b, 0)->exit_price, 98, 1e-12);
    fx_free(&f);
}

/* Without hedging, a sell first reduces the long, oldest trade first (a
 * closed copy of the part sold); the rest stays open with its entry. */
static void test_fifo_netting(void **st)
{
    struct fx f;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, NAN, NAN, NAN, NAN);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 5, NAN, NAN, NAN, NAN);
    bar(&f, 102, 103, 101, 102);
    BUY(&f, -12, NAN, NAN, NAN, NAN);
    bar(&f, 104, 105, 103, 104);
    /* 10 closed whole, 2 of the 5 closed as a copy, 3 left. */
    assert_int_equal(broker_nclosed(f.b), 2);
    assert_true(broker_closed(f.b, 0)->size == 10);
    assert_true(broker_closed(f.b, 1)->size == 2);
    assert_true(broker_closed(f.b, 1)->entry_price == 102);
    assert_int_equal(broker_ntrades(f.b), 1);
    assert_true(broker_trade(f.b, 0)->size == 3);
    assert_true(broker_position_size(f.b) == 3);
    fx_free(&f);
}

static void test_hedging(void **st)
{
    struct fx f;
    struct broker_cfg c;
    (void)st;
    broker_cfg_default(&c);
    c.hedging = 1;
    fx_init(&f, &c);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, NAN, NAN, NAN, NAN);
    BUY(&f, -4, NAN, NAN, NAN, NAN);
    bar(&f, 100, 101, 99, 100);
    assert_int_equal(broker_ntrades(f.b), 2);
    assert_true(broker_position_size(f.b) == 6);
    assert_int_equal(broker_nclosed(f.b), 0);
    fx_free(&f);
}

/* exclusive_orders: a new order cancels pending ones and closes trades. */
static void test_exclusive(void **st)
{
    struct fx f;
    struct broker_cfg c;
    (void)st;
    broker_cfg_default(&c);
    c.exclusive_orders = 1;
    fx_init(&f, &c);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 10, NAN, NAN, NAN, NAN);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 5, 50, NAN, NAN, NAN);                  /* pending limit */
    BUY(&f, -3, NAN, NAN, NAN, NAN);                /* cancels, closes */
    assert_int_equal(broker_norders(f.b), 2);       /* close + the sell */
    bar(&f, 101, 102, 100, 101);
    assert_int_equal(broker_nclosed(f.b), 1);
    assert_true(broker_position_size(f.b) == -3);
    fx_free(&f);
}

/* trade_on_close: a market order fills at the signal bar's close and is
 * recorded on that bar. */
static void test_trade_on_close(void **st)
{
    struct fx f;
    struct broker_cfg c;
    (void)st;
    broker_cfg_default(&c);
    c.trade_on_close = 1;
    fx_init(&f, &c);
    bar(&f, 100, 101, 99, 100.5);
    BUY(&f, 10, NAN, NAN, NAN, NAN);
    bar(&f, 102, 103, 101, 102);
    assert_true(broker_trade(f.b, 0)->entry_price == 100.5);
    assert_int_equal(broker_trade(f.b, 0)->entry_bar, 0);
    fx_free(&f);
}

/* Fractions of available margin; margin gives leverage; an order larger
 * than the margin allows is cancelled with a warning. */
static void test_fraction_and_margin(void **st)
{
    struct fx f;
    struct broker_cfg c;
    (void)st;
    broker_cfg_default(&c);
    c.margin = 0.5;
    fx_init(&f, &c);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 0.5, NAN, NAN, NAN, NAN);
    bar(&f, 100, 101, 99, 100);
    assert_true(broker_trade(f.b, 0)->size == 100);   /* 10000*2*0.5/100 */
    BUY(&f, 500, NAN, NAN, NAN, NAN);               /* needs 50000 */
    bar(&f, 100, 101, 99, 100);
    assert_int_equal(broker_ntrades(f.b), 1);
    assert_true(broker_nwarnings(f.b) >= 1);
    assert_non_null(strstr(broker_warning(f.b, 0), "insufficient margin"));
    fx_free(&f);
}

/* position.close(0.5) closes round-half-even units of each trade. */
static void test_partial_close(void **st)
{
    struct fx f;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, 49, NAN, NAN, NAN, NAN);
    bar(&f, 100, 101, 99, 100);
    broker_close_position(f.b, 0.5);                /* 24.5 -> 24 */
    bar(&f, 100, 101, 99, 100);
    assert_true(broker_closed(f.b, 0)->size == 24);
    assert_true(broker_trade(f.b, 0)->size == 25);
    fx_free(&f);
}

/* A closed trade keeps the SL and TP it had, as backtesting.py's
 * _trades: its SL order's stop and its TP order's limit. A triggered
 * stop is cleared and put back only if it filled at the stop, so an SL
 * that filled at an open beyond it leaves none; the part a partial close
 * splits off has neither; a removed or cancelled one is gone. */
static void test_closed_sl_tp(void **st)
{
    struct fx f;
    const struct trade *t;
    (void)st;
    fx_init(&f, NULL);
    bar(&f, 100, 101, 99, 100);

    BUY(&f, 10, NAN, NAN, 95, 110);
    bar(&f, 100, 101, 99, 100);                     /* entry at 100 */
    t = broker_trade(f.b, 0);
    assert_true(t->sl == 95 && t->tp == 110);
    bar(&f, 100, 111, 99, 100);                     /* the TP */
    t = broker_closed(f.b, 0);
    assert_true(t->exit_price == 110 && t->sl == 95 && t->tp == 110);

    BUY(&f, 10, NAN, NAN, 95, 110);
    bar(&f, 100, 101, 99, 100);
    bar(&f, 100, 101, 94, 100);                     /* the SL, at 95 */
    t = broker_closed(f.b, 1);
    assert_true(t->exit_price == 95 && t->sl == 95 && t->tp == 110);

    BUY(&f, 10, NAN, NAN, 95, 110);
    bar(&f, 100, 101, 99, 100);
    bar(&f, 90, 92, 89, 91);                        /* the SL, gapped */
    t = broker_closed(f.b, 2);
    assert_true(t->exit_price == 90 && isnan(t->sl) && t->tp == 110);

    BUY(&f, 10, NAN, NAN, 85, 110);
    bar(&f, 100, 101, 99, 100);
    broker_close_position(f.b, 0.5);
    bar(&f, 100, 101, 99, 100);
    t = broker_closed(f.b, 3);                      /* the split-off 5 */
    assert_true(t->size == 5 && isnan(t->sl) && isnan(t->tp));
    t = broker_trade(f.b, 0);
    assert_true(t->size == 5 && t->sl == 85 && t->tp == 110);
    assert_int_equal(broker_set_contingent(f.b, t->id, 1, 80, f.err), 0);
    assert_int_equal(broker_set_contingent(f.b, t->id, 0, NAN, f.err), 0);
    broker_close_position(f.b, 1);
    bar(&f, 100, 101, 99, 100);
    t = broker_closed(f.b, 4);
    assert_true(t->size == 5 && t->sl == 80 && isnan(t->tp));

    BUY(&f, 10, NAN, NAN, 85, 110);
    bar(&f, 100, 101, 99, 100);
    t = broker_trade(f.b, 0);
    assert_int_equal(broker_cancel(f.b, t->sl_order), 0);
    assert_true(isnan(broker_trade(f.b, 0)->sl));
    fx_free(&f);
}

/* Equity at or below zero closes everything at the close and stops. */
static void test_out_of_money(void **st)
{
    struct fx f;
    struct broker_cfg c;
    (void)st;
    broker_cfg_default(&c);
    c.margin = 0.1;                                 /* 10x leverage */
    fx_init(&f, &c);
    bar(&f, 100, 101, 99, 100);
    BUY(&f, ALL, NAN, NAN, NAN, NAN);
    assert_int_equal(bar(&f, 100, 101, 99, 100), 0);
    assert_int_equal(bar(&f, 100, 100, 85, 89), 1);  /* -11% x 10 */
    assert_int_equal(broker_ntrades(f.b), 0);
    assert_true(broker_closed(f.b, 0)->exit_price == 89);
    assert_true(broker_cash(f.b) == 0);
    fx_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_market_fill_and_default_size),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_sl_before_tp),
        cmocka_unit_test(test_sl_on_entry_bar),
        cmocka_unit_test(test_bad_sl_tp),
        cmocka_unit_test(test_commission),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_fifo_netting),
        cmocka_unit_test(test_hedging),
        cmocka_unit_test(test_exclusive),
        cmocka_unit_test(test_trade_on_close),
        cmocka_unit_test(test_fraction_and_margin),
        cmocka_unit_test(test_partial_close),
        cmocka_unit_test(test_out_of_money),
        cmocka_unit_test(test_closed_sl_tp),
    };
    return cmocka_run_group_tests_name("broker", tests, NULL, NULL);
}
