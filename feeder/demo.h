/* demo.h -- synthetic bars for one symbol: a geometric Brownian motion that
 * is a pure function of (seed, symbol, timeframe, start time).
 *
 *   demo_t *d = demo_new(42, "AAPL", 60, start_ms);
 *   struct bar b;
 *   while (demo_next(d, &b) == 0)     bar k: t = start_ms + k*tf*1000,
 *       ...                                  seq = k+1, o = close of k-1
 *   demo_destroy(&d);
 *
 * Same arguments, same bars, bit for bit: the generator has its own PRNG
 * (xoshiro256** seeded through splitmix64 from the seed and the symbol)
 * and no other input. The starting price depends on the symbol alone, so
 * every seed starts AAPL at the same price. Drift is 5% and volatility 30%
 * a year, scaled to the timeframe with a year of 365.25 days of 24 hours
 * (the demo market never closes). Bars are valid: low > 0,
 * low <= min(open, close), high >= max(open, close), vw within
 * [low, high], volume > 0, trade count > 0, all finite.
 *
 * source_demo (source.h) runs one generator per symbol. */
#ifndef LT_FEEDER_DEMO_H
#define LT_FEEDER_DEMO_H

#include <stdint.h>

#include "msg_bar.h"

#define DEMO_TF_MAX 31622400        /* longest timeframe: 366 days, in s */

typedef struct demo demo_t;

/* A generator for `sym` whose bar 0 starts at start_ms with bars of `tf`
 * seconds. Returns NULL if sym is not a valid symbol, tf is outside
 * 1..DEMO_TF_MAX, start_ms is negative, or memory runs out. */
demo_t *demo_new(uint64_t seed, const char *sym, int64_t tf,
                 int64_t start_ms);
/* Frees the generator and sets *self_p to NULL; idempotent. */
void demo_destroy(demo_t **self_p);

/* Writes the next bar to *out (src "demo", pub 0). Returns 0, or
 * ERR_TOO_LARGE once bar times would overflow (never in practice). */
int demo_next(demo_t *self, struct bar *out);

/* Bars generated so far. */
uint64_t demo_count(const demo_t *self);

/* The open of bar 0 for `sym`, between 20 and 500, whatever the seed. */
double demo_start_price(const char *sym);

#endif
