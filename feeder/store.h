/* store.h -- the feeder's history store: the bars of one symbol, oldest
 * first, as they were generated or received. A stored bar never changes;
 * the store only appends, and hands each bar its sequence number (1 for
 * the first bar of the symbol, then +1 per bar).
 *
 *   store_t *s = store_new("demo", "AAPL", instance, STORE_MAX_BARS);
 *   store_append(s, &bar, &seq);
 *   store_pack_history(s, &pk, &req, max_bars);   a history reply
 *   store_destroy(&s);
 *
 * Growth is bounded: a store keeps at most `max` bars (the feeder's
 * --keep-bars); past that it forgets the oldest eighth at once (sequence
 * numbers keep counting), so history reaches back at least max*7/8 bars,
 * an append is amortised O(1) and, once the array holds `max` bars, none
 * allocates. */
#ifndef LT_FEEDER_STORE_H
#define LT_FEEDER_STORE_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "history.h"
#include "msg_bar.h"

#define STORE_MAX_BARS 1000000      /* per symbol, about 72 MB */
#define STORE_MIN_BARS 8            /* least `max` */
#define STORE_KEEP_DEFAULT 100000   /* --keep-bars: about 7 MB a symbol */
#define STORE_BAR_BYTES 72          /* memory of one stored bar */

typedef struct store store_t;

/* A store for symbol `sym` of source `src`; bars read back carry `pub`
 * as their publisher instance. `max` >= 8. NULL if out of memory. */
store_t *store_new(const char *src, const char *sym, uint64_t pub,
                   size_t max);
/* Frees the store and sets *self_p to NULL; idempotent. */
void store_destroy(store_t **self_p);

/* Appends a copy of b (its src, sym, seq and pub are ignored) and puts
 * the sequence number it got in *seq. Returns 0, ERR_OLD if b is not
 * newer than the last bar, or ERR_NOMEM. */
int store_append(store_t *self, const struct bar *b, uint64_t *seq);

size_t store_len(const store_t *self);          /* bars held */
uint64_t store_last_seq(const store_t *self);   /* newest seq, 0 if none */
int64_t store_last_t(const store_t *self);      /* newest t, -1 if none */
const char *store_sym(const store_t *self);

/* Bar number i (0 = oldest held) into *out; i < store_len(). */
void store_get(const store_t *self, size_t i, struct bar *out);

/* Packs a complete history reply for r (see history.h): the last r->n
 * bars, or with r->since != -1 the first r->n bars with t > r->since,
 * at most max_bars of them, oldest first. Returns the number of bars. */
size_t store_pack_history(const store_t *self, msgpack_packer *pk,
                          const struct history_req *r, size_t max_bars);

#endif
