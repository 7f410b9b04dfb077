/* polygon_market.h -- the Polygon.io (Massive) markets the polygon source
 * speaks (--market): stocks, crypto, forex and indices. Each market has
 * its own WebSocket cluster (path), aggregate events, symbol form and
 * hours (tests/polygon_mock/README.md, "Markets", has the sources).
 *
 * A symbol has three forms:
 *   bus   what livetrade publishes (bar|SYM|) and the user names:
 *         AAPL, BTC-USD, EUR-USD, I:SPX
 *   rest  the REST ticker: AAPL, X:BTCUSD, C:EURUSD, I:SPX
 *   ws    the WebSocket topic symbol: AAPL, BTC-USD, EUR/USD, I:SPX
 *
 *   const struct polygon_market *m = polygon_market_find("crypto");
 *   polygon_market_bus(m, "X:BTCUSD", bus, err);     bus  = "BTC-USD"
 *   polygon_market_rest(m, bus, rest);               rest = "X:BTCUSD"
 *   polygon_market_ws(m, bus, ws);                   ws   = "BTC-USD"
 *
 * Pure functions, no state. */
#ifndef LT_FEEDER_POLYGON_MARKET_H
#define LT_FEEDER_POLYGON_MARKET_H

#include "util.h"

struct polygon_market {
    const char *name;               /* --market value */
    const char *path;               /* WebSocket path: "/crypto" */
    int delayed;                    /* 1: a delayed host serves it too */
    const char *ev_minute;          /* minute aggregates: "AM", "XA" .. */
    const char *ev_second;          /* second aggregates: "A", "XAS" .. */
    int hours;                      /* SOURCE_MARKET_*: feed health */
    /* Writes the key WebSocket events of `sym` are matched by: the same
     * for every spelling of one symbol ("EUR/USD", "EUR-USD", "C:EURUSD"
     * all give "EURUSD"). out has SYM_MAX bytes. */
    void (*key)(const char *sym, char *out);
};

/* The market called `name`, or NULL. */
const struct polygon_market *polygon_market_find(const char *name);

/* "stocks, crypto, forex or indices", for messages. */
const char *polygon_market_names(void);

/* The bus form of `sym` as a user gives it (either form) in out[SYM_MAX]:
 * stocks as given; crypto BASE-QUOTE from BTC-USD, BTC/USD, X:BTCUSD or
 * X:BTC-USD, letters upper-cased (X:BASEQUOTE is split before a known
 * quote currency: USDT, USDC, USD, EUR, GBP, JPY, ...); forex BASE-QUOTE
 * of three letters each from EUR-USD, EUR/USD, EURUSD or C:EURUSD;
 * indices I:NAME from I:SPX or SPX. "*" stays "*". 0, or ERR_USAGE with
 * one line naming the symbol in err[ERR_LEN]. */
int polygon_market_bus(const struct polygon_market *m, const char *sym,
                       char *out, char *err);

/* The REST ticker of bus symbol `bus` in out[SYM_MAX]. */
void polygon_market_rest(const struct polygon_market *m, const char *bus,
                         char *out);

/* The WebSocket topic symbol of bus symbol `bus` in out[SYM_MAX]. */
void polygon_market_ws(const struct polygon_market *m, const char *bus,
                       char *out);

#endif
