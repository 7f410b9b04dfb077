/* broker.h -- a paper broker with backtesting.py 0.6.6's rules (fills at
 * the next bar's open, limit/stop with gaps, sl/tp, FIFO netting, margin,
 * spread, commission, hedging, exclusive orders; BACKTESTING.md 6-9). The
 * live engine and `livetrade backtest` run the same broker, from the first
 * bar of the data, so a strategy sees the same position in both. */
#ifndef LT_BROKER_H
#define LT_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "strategy.h"

struct broker_cfg {
    double cash;                /* default 10000 */
    double commission;          /* rate, [-0.1, 0.1) */
    double commission_fixed;    /* per fill, added to the rate part */
    double spread;              /* relative */
    double margin;              /* (0, 1]; leverage = 1 / margin */
    int trade_on_close;
    int hedging;
    int exclusive_orders;
};

void broker_cfg_default(struct broker_cfg *c);

/* The paper broker's flags (--cash, --commission, --spread, --margin,
 * --trade-on-close, --hedging, --exclusive-orders) into c, for a
 * program's flags tables (flags.h): out gets BROKER_OPTS entries and the
 * closing { 0 }. */
#define BROKER_OPTS 7
struct opt;
void broker_opts(struct broker_cfg *c, struct opt *out);

struct trade {
    int64_t id;
    double size;                /* units, negative for shorts */
    double entry_price;         /* spread-adjusted */
    double exit_price;          /* NaN while open */
    int64_t entry_bar, exit_bar;    /* exit_bar -1 while open */
    int64_t entry_time, exit_time;  /* epoch ms */
    double sl, tp;              /* its SL / TP order's price, NaN when
                                   it has none; kept once closed, as
                                   backtesting.py's _trades: NaN for a
                                   part split off by a partial close and
                                   for an SL that filled at a gap */
    double commission;          /* paid so far, both legs */
    char tag[64];
    int64_t sl_order, tp_order; /* ids of its contingent orders, or 0 */
};

struct order {
    int64_t id;
    double size;                /* negative for sells; (0,1) fraction */
    double limit, stop, sl, tp; /* NaN when not given */
    int64_t trade;              /* id of the trade it closes (SL, TP,
                                   close), or 0 */
    int contingent;             /* an SL or TP order */
    char tag[64];
};

typedef struct broker broker_t;

/* Returns NULL with a reason in err for a bad configuration. */
broker_t *broker_new(const struct broker_cfg *cfg, char *err);
void broker_destroy(broker_t **self_p);

/* Bar i of `d` has just been appended: fills and triggers the queued
 * orders on its prices, then records the equity at its close. Returns 1
 * if the account is out of money (every trade closed at the close, equity
 * 0: the run must stop), else 0. */
int broker_next(broker_t *self, const struct strat_data *d);

/* Orders placed in next() at the current (last) bar. size: > 0 buy, < 0
 * sell; |size| in (0, 1) a fraction of available margin, else whole
 * units. NaN means "not given". Returns the order id, or ERR_INVALID with
 * backtesting.py's message in err (sl/tp on the wrong side). */
int64_t broker_order(broker_t *self, double size, double limit, double stop,
                     double sl, double tp, const char *tag, char *err);
/* position.close(portion) / trade.close(portion): market orders at the
 * front of the queue. */
void broker_close_position(broker_t *self, double portion);
int broker_close_trade(broker_t *self, int64_t trade_id, double portion);
/* trade.sl = price / trade.tp = price (NaN removes it). */
int broker_set_contingent(broker_t *self, int64_t trade_id, int is_sl,
                          double price, char *err);
int broker_cancel(broker_t *self, int64_t order_id);
/* At the end of a backtest with finalize_trades: close every open trade
 * and run the last bar's orders once more. */
void broker_finalize(broker_t *self, const struct strat_data *d);

/* The account as next() sees it at the current bar. */
double broker_equity(const broker_t *self);
double broker_cash(const broker_t *self);
double broker_position_size(const broker_t *self);
double broker_position_pl(const broker_t *self);
double broker_position_pl_pct(const broker_t *self);
size_t broker_ntrades(const broker_t *self);
const struct trade *broker_trade(const broker_t *self, size_t i);
const struct trade *broker_trade_by_id(const broker_t *self, int64_t id);
size_t broker_nclosed(const broker_t *self);
const struct trade *broker_closed(const broker_t *self, size_t i);
size_t broker_norders(const broker_t *self);
const struct order *broker_order_at(const broker_t *self, size_t i);
const struct order *broker_order_by_id(const broker_t *self, int64_t id);
/* Trade value and P&L at the current close (pl includes commissions only
 * once the trade is closed, as backtesting.py's Trade.pl). */
double broker_trade_pl(const broker_t *self, const struct trade *t);
double broker_trade_pl_pct(const broker_t *self, const struct trade *t);
double broker_trade_value(const broker_t *self, const struct trade *t);

/* Equity at every bar so far (NaN for bars before the first broker_next
 * that saw an order: the caller back-fills them with cash); with
 * broker_keep, at the bars still held only. */
const double *broker_equity_curve(const broker_t *self, size_t *n);
/* Holds the equity of the newest `bars` bars at least, the newest `bars`
 * closed trades at least (broker_nclosed, broker_closed: those held) and
 * its first 16 warnings; 0: all of them (warnings: the first 1000). */
void broker_keep(broker_t *self, size_t bars);
/* Trades closed in all, held or not. */
uint64_t broker_nclosed_all(const broker_t *self);
/* Warnings (cancelled orders etc.), oldest first. */
size_t broker_nwarnings(const broker_t *self);
const char *broker_warning(const broker_t *self, size_t i);

#endif
