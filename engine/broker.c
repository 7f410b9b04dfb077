/* broker.c -- the paper broker: backtesting.py 0.6.6's _Broker, in C.
 *
 * Orders sit in one queue. New orders are appended; orders that close a
 * trade (trade.close(), SL) go to the front; TP orders are appended. At
 * each bar the queue is walked in order on that bar's prices (see
 * s_process), which is what makes the fills, the netting and so the
 * position identical to backtesting.py's, call for call. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "config.h"
#include "err.h"
#include "series.h"
#include "util.h"

#define MAX_WARNINGS 1000
#define KEEP_WARNINGS 16            /* with broker_keep: the first few */

struct broker {
    struct broker_cfg cfg;
    double leverage;                /* 1 / margin */
    double cash;
    const struct strat_data *d;     /* the data, as of the last bar */
    int64_t i;                      /* current bar index */
    struct order *orders;           /* the queue, front first */
    size_t norders, caporders;
    struct trade *trades;           /* open trades, oldest first */
    size_t ntrades, captrades;
    struct trade *closed;           /* closed trades, in closing order */
    size_t nclosed, capclosed;
    size_t keep_closed;             /* 0: every closed trade; else at
                                       least the newest keep_closed */
    uint64_t closed_all;            /* trades closed in all */
    int64_t next_id;
    struct series equity;           /* one value per bar */
    char (*warn)[256];
    size_t nwarn, capwarn;
};

void broker_opts(struct broker_cfg *c, struct opt *out)
{
    const struct opt opts[BROKER_OPTS + 1] = {
        { "cash", OPT_DBL, &c->cash, NULL, "N",
          "paper broker: starting cash (10000)" },
        { "commission", OPT_DBL, &c->commission, NULL, "RATE",
          "paper broker: commission rate per fill, in [-0.1, 0.1) (0)" },
        { "spread", OPT_DBL, &c->spread, NULL, "RATE",
          "paper broker: relative bid-ask spread (0)" },
        { "margin", OPT_DBL, &c->margin, NULL, "RATIO",
          "paper broker: margin ratio in (0, 1]; leverage = 1/margin (1)" },
        { "trade-on-close", OPT_BOOL, &c->trade_on_close, NULL, NULL,
          "paper broker: market orders fill at the signal bar's close" },
        { "hedging", OPT_BOOL, &c->hedging, NULL, NULL,
          "paper broker: allow opposite trades at once" },
        { "exclusive-orders", OPT_BOOL, &c->exclusive_orders, NULL, NULL,
          "paper broker: each order closes the position first" },
        { 0 }
    };

    memcpy(out, opts, sizeof opts);
}

void broker_cfg_default(struct broker_cfg *c)
{
    memset(c, 0, sizeof *c);
    c->cash = 10000;
    c->margin = 1;
}

broker_t *broker_new(const struct broker_cfg *cfg, char *err)
{
    struct broker *b;

    if (!(cfg->cash > 0) || !isfinite(cfg->cash)) {
        snprintf(err, ERR_LEN, "cash must be positive");
        return NULL;
    }
    if (!(cfg->margin > 0 && cfg->margin <= 1)) {
        snprintf(err, ERR_LEN, "margin must be in (0, 1]");
        return NULL;
    }
    if (!(cfg->commission >= -0.1 && cfg->commission < 0.1)) {
        snprintf(err, ERR_LEN, "commission must be in [-0.1, 0.1)");
        return NULL;
    }
    if (!(cfg->spread >= 0 && cfg->spread < 1) ||
        !isfinite(cfg->commission_fixed)) {
        snprintf(err, ERR_LEN, "spread must be in [0, 1)");
        return NULL;
    }
    b = calloc(1, sizeof *b);
    if (!b) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    b->cfg = *cfg;
    b->leverage = 1 / cfg->margin;
    b->cash = cfg->cash;
    b->next_id = 1;
    b->i = -1;
    series_init(&b->equity);
    return b;
}

void broker_destroy(broker_t **self_p)
{
    struct broker *b = *self_p;
    if (!b)
        return;
    free(b->orders);
    free(b->trades);
    free(b->closed);
    free(b->warn);
    series_free(&b->equity);
    free(b);
    *self_p = NULL;
}

/* {==================== small helpers ======================== */

static void s_warn(struct broker *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void s_warn(struct broker *b, const char *fmt, ...)
{
    va_list ap;

    if (grow((void **)&b->warn, &b->capwarn, b->nwarn + 1, sizeof *b->warn,
             b->keep_closed ? KEEP_WARNINGS : MAX_WARNINGS))
        return;
    va_start(ap, fmt);
    vsnprintf(b->warn[b->nwarn++], sizeof b->warn[0], fmt, ap);
    va_end(ap);
}

static double s_last_close(const struct broker *b)
{
    return series_back(&b->d->close, 1);
}

/* Python's float floor division, as `//` computes it. */
static double s_floordiv(double vx, double wx)
{
    double mod = fmod(vx, wx), div = (vx - mod) / wx, fd;
    if (mod != 0) {
        if ((wx < 0) != (mod < 0))
            div -= 1.0;
    }
    if (div != 0) {
        fd = floor(div);
        if (div - fd > 0.5)
            fd += 1.0;
    } else {
        fd = copysign(0.0, vx / wx);
    }
    return fd;
}

static double s_commission(const struct broker *b, double size, double price)
{
    return b->cfg.commission_fixed + fabs(size) * price * b->cfg.commission;
}

static double s_adjusted(const struct broker *b, double size, double price)
{
    return price * (1 + copysign(b->cfg.spread, size));
}

static long s_find_order(const struct broker *b, int64_t id)
{
    for (size_t k = 0; k < b->norders; k++)
        if (b->orders[k].id == id)
            return (long)k;
    return -1;
}

static long s_find_trade(const struct broker *b, int64_t id)
{
    for (size_t k = 0; k < b->ntrades; k++)
        if (b->trades[k].id == id)
            return (long)k;
    return -1;
}

static void s_remove_order(struct broker *b, int64_t id)
{
    long k = s_find_order(b, id);
    if (k < 0)
        return;
    memmove(&b->orders[k], &b->orders[k + 1],
            (b->norders - (size_t)k - 1) * sizeof *b->orders);
    b->norders--;
}

static int s_push_order(struct broker *b, const struct order *o, int front)
{
    if (grow((void **)&b->orders, &b->caporders, b->norders + 1,
             sizeof *b->orders, SIZE_MAX))
        return ERR_NOMEM;
    if (front) {
        memmove(&b->orders[1], &b->orders[0],
                b->norders * sizeof *b->orders);
        b->orders[0] = *o;
    } else {
        b->orders[b->norders] = *o;
    }
    b->norders++;
    return 0;
}

/* }========================================================== */

/* {==================== orders =============================== */

/* A price in a message: "none" for NaN. */
static void s_price(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "none");
    else
        snprintf(buf, size, "%g", v);
}

/* Order.__init__ + _Broker.new_order's checks. */
static int64_t s_new_order(struct broker *b, double size, double limit,
                           double stop, double sl, double tp,
                           int64_t trade, int contingent, const char *tag,
                           int front, char *err)
{
    struct order o;
    double ref;

    if (!isnan(limit) || !isnan(stop) || !isnan(sl) || !isnan(tp)) {
        ref = !isnan(limit) ? limit : !isnan(stop) ? stop :
              s_adjusted(b, size, s_last_close(b));
        /* The price sl and tp are checked against, as it is named. */
        const char *rn = !isnan(limit) ? "limit" : !isnan(stop) ? "stop" :
                         "the last close";
        char a[32], c[32];
        s_price(a, sizeof a, size > 0 ? sl : tp);
        s_price(c, sizeof c, size > 0 ? tp : sl);
        if (size > 0) {
            if (!((isnan(sl) ? -INFINITY : sl) < ref &&
                  ref < (isnan(tp) ? INFINITY : tp))) {
                snprintf(err, ERR_LEN, "a long order needs sl < %s < tp, "
                         "got sl %s, %s %g, tp %s", rn, a, rn, ref, c);
                return ERR_INVALID;
            }
        } else if (!((isnan(tp) ? -INFINITY : tp) < ref &&
                     ref < (isnan(sl) ? INFINITY : sl))) {
            snprintf(err, ERR_LEN, "a short order needs tp < %s < sl, got "
                     "tp %s, %s %g, sl %s", rn, a, rn, ref, c);
            return ERR_INVALID;
        }
    }
    memset(&o, 0, sizeof o);
    o.id = b->next_id++;
    o.size = size;
    o.limit = limit;
    o.stop = stop;
    o.sl = sl;
    o.tp = tp;
    o.trade = trade;
    o.contingent = contingent;
    snprintf(o.tag, sizeof o.tag, "%s", tag ? tag : "");
    if (!trade && b->cfg.exclusive_orders) {
        /* Each new order cancels the pending ones and closes the trades. */
        for (size_t k = 0; k < b->norders;)
            if (!b->orders[k].contingent)
                broker_cancel(b, b->orders[k].id);
            else
                k++;
        for (size_t k = 0; k < b->ntrades; k++)
            broker_close_trade(b, b->trades[k].id, 1.0);
    }
    if (s_push_order(b, &o, front)) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    return o.id;
}

int64_t broker_order(broker_t *b, double size, double limit, double stop,
                     double sl, double tp, const char *tag, char *err)
{
    return s_new_order(b, size, limit, stop, sl, tp, 0, 0, tag, 0, err);
}

int broker_cancel(broker_t *b, int64_t id)
{
    long k = s_find_order(b, id);
    if (k < 0)
        return ERR_NOTFOUND;
    if (b->orders[k].contingent) {
        long t = s_find_trade(b, b->orders[k].trade);
        if (t >= 0) {
            if (b->trades[t].sl_order == id) {
                b->trades[t].sl_order = 0;
                b->trades[t].sl = NAN;
            }
            if (b->trades[t].tp_order == id) {
                b->trades[t].tp_order = 0;
                b->trades[t].tp = NAN;
            }
        }
    }
    s_remove_order(b, id);
    return 0;
}

int broker_close_trade(broker_t *b, int64_t trade_id, double portion)
{
    char err[ERR_LEN];
    long k = s_find_trade(b, trade_id);
    double size, units;

    if (k < 0)
        return ERR_NOTFOUND;
    size = b->trades[k].size;
    units = rint(fabs(size) * portion);     /* round half to even */
    if (units < 1)
        units = 1;
    return s_new_order(b, copysign(units, -size), NAN, NAN, NAN, NAN,
                       trade_id, 0, b->trades[k].tag, 1, err) < 0 ? -1 : 0;
}

void broker_close_position(broker_t *b, double portion)
{
    /* Each close goes to the front: the newest trade is closed first. */
    size_t n = b->ntrades;
    int64_t ids[n ? n : 1];
    for (size_t k = 0; k < n; k++)
        ids[k] = b->trades[k].id;
    for (size_t k = 0; k < n; k++)
        broker_close_trade(b, ids[k], portion);
}

int broker_set_contingent(broker_t *b, int64_t trade_id, int is_sl,
                          double price, char *err)
{
    long k = s_find_trade(b, trade_id);
    int64_t id;

    if (k < 0) {
        snprintf(err, ERR_LEN, "the trade is closed");
        return ERR_NOTFOUND;
    }
    if (!isnan(price) && !(price > 0 && isfinite(price))) {
        snprintf(err, ERR_LEN, "%s must be a positive price",
                 is_sl ? "sl" : "tp");
        return ERR_INVALID;
    }
    id = is_sl ? b->trades[k].sl_order : b->trades[k].tp_order;
    if (id)
        broker_cancel(b, id);
    if (isnan(price))
        return 0;
    /* The stop (SL) goes to the front, the limit (TP) to the back. */
    id = s_new_order(b, -b->trades[k].size, is_sl ? NAN : price,
                     is_sl ? price : NAN, NAN, NAN, trade_id, 1,
                     b->trades[k].tag, is_sl, err);
    if (id < 0)
        return (int)id;
    k = s_find_trade(b, trade_id);
    if (is_sl) {
        b->trades[k].sl_order = id;
        b->trades[k].sl = price;
    } else {
        b->trades[k].tp_order = id;
        b->trades[k].tp = price;
    }
    return 0;
}

/* }========================================================== */

/* {==================== trades =============================== */

static void s_close_trade(struct broker *b, int64_t trade_id, double price,
                          int64_t bar)
{
    long k = s_find_trade(b, trade_id);
    struct trade t;
    double c;

    if (k < 0)
        return;
    t = b->trades[k];
    memmove(&b->trades[k], &b->trades[k + 1],
            (b->ntrades - (size_t)k - 1) * sizeof *b->trades);
    b->ntrades--;
    if (t.sl_order)
        s_remove_order(b, t.sl_order);
    if (t.tp_order)
        s_remove_order(b, t.tp_order);
    t.exit_price = price;
    t.exit_bar = bar;
    t.exit_time = (int64_t)SERIES_AT(&b->d->time, bar);
    b->cash += t.size * (price - t.entry_price);
    c = s_commission(b, t.size, price);
    b->cash -= c;
    t.commission += c;
    b->closed_all++;
    if (b->keep_closed && b->nclosed >= 2 * b->keep_closed) {
        /* Bounded (broker_keep): the newest keep_closed stay, in order;
         * amortised O(1), and no allocation once the array is full. */
        memmove(b->closed, b->closed + (b->nclosed - b->keep_closed),
                b->keep_closed * sizeof *b->closed);
        b->nclosed = b->keep_closed;
    }
    if (grow((void **)&b->closed, &b->capclosed, b->nclosed + 1,
             sizeof *b->closed, SIZE_MAX) == 0)
        b->closed[b->nclosed++] = t;
}

/* Closes `size` units (opposite sign to the trade) of a trade: all of it,
 * or a closed copy of that many units while the rest stays open. */
static void s_reduce_trade(struct broker *b, int64_t trade_id, double price,
                           double size, int64_t bar)
{
    long k = s_find_trade(b, trade_id);
    struct trade *t, copy;
    double left;

    if (k < 0)
        return;
    t = &b->trades[k];
    left = t->size + size;
    if (left == 0) {
        s_close_trade(b, trade_id, price, bar);
        return;
    }
    t->size = left;
    if (t->sl_order) {
        long o = s_find_order(b, t->sl_order);
        if (o >= 0)
            b->orders[o].size = -left;
    }
    if (t->tp_order) {
        long o = s_find_order(b, t->tp_order);
        if (o >= 0)
            b->orders[o].size = -left;
    }
    copy = *t;
    copy.id = b->next_id++;
    copy.size = -size;
    copy.sl_order = copy.tp_order = 0;
    copy.sl = copy.tp = NAN;            /* the split-off part has neither */
    copy.commission = 0;
    if (grow((void **)&b->trades, &b->captrades, b->ntrades + 1,
             sizeof *b->trades, SIZE_MAX))
        return;
    b->trades[b->ntrades++] = copy;
    s_close_trade(b, copy.id, price, bar);
}

static void s_open_trade(struct broker *b, double price, double size,
                         double sl, double tp, int64_t bar, const char *tag)
{
    struct trade t;
    char err[ERR_LEN];
    double c;

    memset(&t, 0, sizeof t);
    t.id = b->next_id++;
    t.size = size;
    t.entry_price = price;
    t.exit_price = NAN;
    t.entry_bar = bar;
    t.exit_bar = -1;
    t.entry_time = (int64_t)SERIES_AT(&b->d->time, bar);
    t.exit_time = -1;
    t.sl = t.tp = NAN;
    snprintf(t.tag, sizeof t.tag, "%s", tag);
    c = s_commission(b, size, price);
    b->cash -= c;
    t.commission = c;
    if (grow((void **)&b->trades, &b->captrades, b->ntrades + 1,
             sizeof *b->trades, SIZE_MAX))
        return;
    b->trades[b->ntrades++] = t;
    if (!isnan(tp))
        broker_set_contingent(b, t.id, 0, tp, err);
    if (!isnan(sl))
        broker_set_contingent(b, t.id, 1, sl, err);
}

/* }========================================================== */

double broker_equity(const broker_t *b)
{
    double e = b->cash, c;
    if (!b->d || !b->d->close.len)
        return e;
    c = s_last_close(b);
    for (size_t k = 0; k < b->ntrades; k++)
        e += b->trades[k].size * (c - b->trades[k].entry_price);
    return e;
}

static double s_margin_available(const struct broker *b)
{
    double used = 0, c = s_last_close(b), m;
    for (size_t k = 0; k < b->ntrades; k++)
        used += fabs(b->trades[k].size) * c / b->leverage;
    m = broker_equity(b) - used;
    return m > 0 ? m : 0;
}

/* {==================== the bar's processing ================= */

/* _Broker._process_orders: one walk over the queue on bar i. Returns 1 if
 * the queue must be walked again (an entry's SL/TP on the same bar). */
static int s_process(struct broker *b)
{
    const struct strat_data *d = b->d;
    size_t i = (size_t)b->i;
    double open = SERIES_AT(&d->open, i), high = SERIES_AT(&d->high, i);
    double low = SERIES_AT(&d->low, i);
    size_t n = b->norders;
    int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
    int again = 0;

    if (!ids)
        return 0;
    for (size_t k = 0; k < n; k++)
        ids[k] = b->orders[k].id;
    for (size_t q = 0; q < n; q++) {
        long k = s_find_order(b, ids[q]);
        struct order *o;
        double stop, price, size, adj, unit;
        int is_long, market;
        int64_t bar;

        if (k < 0)
            continue;                       /* removed meanwhile */
        o = &b->orders[k];
        is_long = o->size > 0;
        stop = o->stop;
        if (!isnan(stop)) {
            if (!(is_long ? high >= stop : low <= stop))
                continue;
            o->stop = NAN;                  /* now a market/limit order */
        }
        if (!isnan(o->limit)) {
            int hit = is_long ? low <= o->limit : high >= o->limit;
            /* A stop-limit whose limit is on the far side of a stop hit in
             * this bar waits for a later bar. */
            int before = hit && (is_long ?
                                 o->limit <= (isnan(stop) ? -INFINITY : stop) :
                                 o->limit >= (isnan(stop) ? INFINITY : stop));
            if (!hit || before)
                continue;
            price = is_long ? fmin(isnan(stop) ? open : stop, o->limit)
                            : fmax(isnan(stop) ? open : stop, o->limit);
        } else {
            price = b->cfg.trade_on_close && !o->contingent && i > 0 ?
                    SERIES_AT(&d->close, i - 1) : open;
            if (!isnan(stop))
                price = is_long ? fmax(price, stop) : fmin(price, stop);
        }
        market = isnan(o->limit) && isnan(stop);
        bar = market && b->cfg.trade_on_close && !o->contingent ?
              b->i - 1 : b->i;

        if (o->trade) {
            /* Closes (part of) the trade it belongs to. */
            int64_t tid = o->trade, oid = o->id;
            long t = s_find_trade(b, tid);
            int own = 0;
            if (t >= 0) {
                double prev = b->trades[t].size;
                own = b->trades[t].sl_order == oid ||
                      b->trades[t].tp_order == oid;
                /* A triggered stop is cleared, and the SL put back only
                 * when it filled at the stop: one filled at an open
                 * beyond it keeps no SL (backtesting.py's _trades). */
                if (b->trades[t].sl_order == oid && price != stop)
                    b->trades[t].sl = NAN;
                size = copysign(fmin(fabs(prev), fabs(o->size)), o->size);
                s_reduce_trade(b, tid, price, size, bar);
            }
            if (!own)
                s_remove_order(b, oid);     /* a trade.close() order */
            continue;
        }

        adj = s_adjusted(b, o->size, price);
        unit = adj + s_commission(b, o->size, price) / fabs(o->size);
        size = o->size;
        if (size > -1 && size < 1) {
            size = copysign(s_floordiv(s_margin_available(b) * b->leverage *
                                       fabs(size), unit), size);
            if (size == 0) {
                s_warn(b, "bar %lld: the broker cancelled an order sized "
                       "as a fraction of the margin: insufficient margin "
                       "for one unit", (long long)b->i);
                s_remove_order(b, o->id);
                continue;
            }
        }
        double need = size;
        if (!b->cfg.hedging) {
            /* Net against opposite trades, oldest first, at the raw price. */
            for (size_t t = 0; t < b->ntrades && need != 0;) {
                struct trade *tr = &b->trades[t];
                if ((tr->size > 0) == is_long) {
                    t++;
                    continue;
                }
                if (fabs(need) >= fabs(tr->size)) {
                    need += tr->size;
                    s_close_trade(b, tr->id, price, bar);
                } else {
                    s_reduce_trade(b, tr->id, price, need, bar);
                    need = 0;
                }
            }
        }
        k = s_find_order(b, ids[q]);
        o = &b->orders[k];
        if (fabs(need) * unit > s_margin_available(b) * b->leverage) {
            s_warn(b, "bar %lld: the broker cancelled an order of %g "
                   "units: insufficient margin", (long long)b->i,
                   fabs(need));
            s_remove_order(b, o->id);
            continue;
        }
        if (need != 0) {
            struct order oc = *o;
            s_open_trade(b, adj, need, oc.sl, oc.tp, bar, oc.tag);
            if (!isnan(oc.sl) || !isnan(oc.tp)) {
                if (market)
                    again = 1;
                else if (!isnan(stop) && isnan(oc.limit) && !isnan(oc.tp) &&
                         ((is_long && oc.tp <= high &&
                           (isnan(oc.sl) ? -INFINITY : oc.sl) < low) ||
                          (!is_long && oc.tp >= low &&
                           (isnan(oc.sl) ? INFINITY : oc.sl) > high)))
                    again = 1;
                else if ((!isnan(oc.sl) && low <= oc.sl && oc.sl <= high) ||
                         (!isnan(oc.tp) && low <= oc.tp && oc.tp <= high))
                    s_warn(b, "bar %lld: an sl or tp is within the bar "
                           "its limit or stop entry filled on; as the order "
                           "within a bar is unknown, it fills from the "
                           "next bar on", (long long)b->i);
            }
        }
        s_remove_order(b, ids[q]);
    }
    free(ids);
    return again;
}

int broker_next(broker_t *b, const struct strat_data *d)
{
    double eq;

    b->d = d;
    b->i = (int64_t)d->close.len - 1;
    for (int pass = 0; pass < 8 && b->norders && s_process(b); pass++)
        ;
    eq = broker_equity(b);
    series_push(&b->equity, eq);
    if (eq <= 0) {
        /* Out of money: close everything at this close; equity stays 0. */
        double c = s_last_close(b);
        while (b->ntrades)
            s_close_trade(b, b->trades[0].id, c, b->i);
        b->cash = 0;
        SERIES_AT(&b->equity, b->equity.len - 1) = 0;
        return 1;
    }
    return 0;
}

void broker_finalize(broker_t *b, const struct strat_data *d)
{
    /* Closes queued oldest first, then the last bar once more. */
    size_t n = b->ntrades;
    int64_t ids[n ? n : 1];
    for (size_t k = 0; k < n; k++)
        ids[k] = b->trades[k].id;
    for (size_t k = n; k-- > 0;)
        broker_close_trade(b, ids[k], 1.0);
    if (!d->close.len)
        return;
    b->d = d;
    b->i = (int64_t)d->close.len - 1;
    for (int pass = 0; pass < 8 && b->norders && s_process(b); pass++)
        ;
    if (b->equity.len)
        SERIES_AT(&b->equity, b->equity.len - 1) = broker_equity(b);
}

/* {==================== queries ============================== */

double broker_cash(const broker_t *b) { return b->cash; }
size_t broker_ntrades(const broker_t *b) { return b->ntrades; }
size_t broker_nclosed(const broker_t *b) { return b->nclosed; }
size_t broker_norders(const broker_t *b) { return b->norders; }
size_t broker_nwarnings(const broker_t *b) { return b->nwarn; }

const struct trade *broker_trade(const broker_t *b, size_t i)
{
    return i < b->ntrades ? &b->trades[i] : NULL;
}

const struct trade *broker_trade_by_id(const broker_t *b, int64_t id)
{
    long k = s_find_trade(b, id);
    if (k >= 0)
        return &b->trades[k];
    for (size_t j = 0; j < b->nclosed; j++)
        if (b->closed[j].id == id)
            return &b->closed[j];
    return NULL;
}

const struct trade *broker_closed(const broker_t *b, size_t i)
{
    return i < b->nclosed ? &b->closed[i] : NULL;
}

const struct order *broker_order_at(const broker_t *b, size_t i)
{
    return i < b->norders ? &b->orders[i] : NULL;
}

const struct order *broker_order_by_id(const broker_t *b, int64_t id)
{
    long k = s_find_order(b, id);
    return k >= 0 ? &b->orders[k] : NULL;
}

const char *broker_warning(const broker_t *b, size_t i)
{
    return i < b->nwarn ? b->warn[i] : NULL;
}

const double *broker_equity_curve(const broker_t *b, size_t *n)
{
    *n = series_held(&b->equity);
    return b->equity.v;
}

void broker_keep(broker_t *b, size_t bars)
{
    series_keep(&b->equity, bars);
    b->keep_closed = bars;
}

uint64_t broker_nclosed_all(const broker_t *b) { return b->closed_all; }

double broker_position_size(const broker_t *b)
{
    double s = 0;
    for (size_t k = 0; k < b->ntrades; k++)
        s += b->trades[k].size;
    return s;
}

double broker_trade_pl(const broker_t *b, const struct trade *t)
{
    if (!isnan(t->exit_price))
        return t->size * (t->exit_price - t->entry_price) - t->commission;
    return t->size * (s_last_close(b) - t->entry_price);
}

double broker_trade_pl_pct(const broker_t *b, const struct trade *t)
{
    double price = isnan(t->exit_price) ? s_last_close(b) : t->exit_price;
    double gross = copysign(1, t->size) * (price / t->entry_price - 1);
    double c = isnan(t->exit_price) ? 0 : t->commission;
    return gross - c / (fabs(t->size) * t->entry_price);
}

double broker_trade_value(const broker_t *b, const struct trade *t)
{
    double price = isnan(t->exit_price) ? s_last_close(b) : t->exit_price;
    return fabs(t->size) * price;
}

double broker_position_pl(const broker_t *b)
{
    double pl = 0;
    for (size_t k = 0; k < b->ntrades; k++)
        pl += broker_trade_pl(b, &b->trades[k]);
    return pl;
}

double broker_position_pl_pct(const broker_t *b)
{
    double w = 0;
    for (size_t k = 0; k < b->ntrades; k++)
        w += fabs(b->trades[k].size) * b->trades[k].entry_price;
    return w ? broker_position_pl(b) / w * 100 : 0;
}

/* }========================================================== */
