/* msg_bar.h -- an OHLCV bar and its wire codec (msgpack map, version 1).
 *
 * Keys: ver src sym t tf o h l c vol [vw] [n] seq pub -- see README.md,
 * "Wire protocol". Prices are float64; t is the bar's start in epoch
 * milliseconds (UTC); tf its length in seconds. */
#ifndef LT_BAR_H
#define LT_BAR_H

#include <msgpack.h>
#include <stdint.h>

#include "util.h"

#define BAR_VERSION 1

struct bar {
    char src[16];           /* feeder source: demo, polygon, csv */
    char sym[SYM_MAX];      /* symbol */
    int64_t t;              /* bar start, epoch ms UTC */
    int64_t tf;             /* timeframe, seconds */
    double o, h, l, c;      /* open, high, low, close */
    double vol;             /* volume */
    double vw;              /* volume-weighted average price; NaN if absent */
    int64_t n;              /* trade count; -1 if absent */
    uint64_t seq;           /* publisher sequence number in this symbol */
    uint64_t pub;           /* publisher instance id */
};

void msg_bar_pack(msgpack_packer *pk, const struct bar *b);

/* Decodes and validates a bar map. On failure returns ERR_PARSE (not a
 * bar: wrong types, missing keys) or ERR_INVALID (NaN or non-positive
 * prices, high < low, bad symbol) and puts the reason in err[ERR_LEN]. */
int msg_bar_unpack(const msgpack_object *o, struct bar *b, char *err);

/* The bus's fast path: decodes a bar body straight from its msgpack bytes,
 * with no allocation and no lookup by key name. 0 when `data` is exactly
 * one map holding each key of a bar once, of the right type, and no other
 * key, and the bar passes msg_bar_check(): *b is then what
 * msg_bar_unpack() gives. -1 otherwise (whatever the reason, *b is
 * garbage): the caller takes the general path (mp_body_decode(),
 * msg_bar_unpack()), which accepts or refuses the body and says why. */
int msg_bar_decode_fast(const void *data, size_t len, struct bar *b);

/* Checks the values of a bar; 0 or ERR_INVALID with a reason. */
int msg_bar_check(const struct bar *b, char *err);

#endif
