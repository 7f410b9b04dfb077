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

struct trade {
    int64_t id;
    double size;                /* units, negative for shorts */
    double entry_price;         /* spread-adjusted */
    double exit_price;          /* NaN while open */
    int64_t entry_bar, exit_bar;    /* exit_bar -1 while open */
    int64_t entry_time, exit_time;  /* epoch ms */
    double sl, tp;              /* NaN when not set */
    double commission;          /* paid so far, both legs */
    char tag[64];
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

broker_t *broker_new(const struct broker_cfg *cfg);
void broker_destroy(broker_t **self_p);

#endif
