/* msg_signal.h -- a trading signal and its codecs: msgpack (wire, version 1)
 * and JSON (file sink, console --json, backtest --signals).
 *
 * Keys: ver id eng strat sym act t ord px size [limit] [stop] [sl] [tp]
 * [tag] [pos] conf ind seq pub ts -- see README.md, "Wire protocol". */
#ifndef LT_SIGNAL_H
#define LT_SIGNAL_H

#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>

#include "util.h"

#define SIGNAL_VERSION 1
#define SIG_MAX_IND 16          /* indicator values carried per signal */
#define SIG_NAME 48             /* indicator name length + 1 */

enum sig_action { SIG_BUY = 0, SIG_SELL = 1, SIG_CLOSE = 2 };

struct sig_ind {
    char name[SIG_NAME];        /* attribute name, e.g. "sma1" */
    double v;                   /* value at the bar; NaN if not yet valid */
};

struct signal {
    char id[17];                /* 16 hex digits, deterministic */
    char eng[64];               /* engine id */
    char strat[64];             /* strategy name */
    char sym[SYM_MAX];
    int act;                    /* enum sig_action */
    int64_t t;                  /* bar start, epoch ms UTC */
    int ord;                    /* ordinal of this call within the bar */
    double px;                  /* reference price: the bar's close */
    double size;                /* NaN: default (all available margin) */
    double limit, stop, sl, tp; /* NaN when not given */
    char tag[64];               /* "" when not given */
    double pos;                 /* the strategy's position (units) just
                                   before the call; NaN: not known */
    double conf;                /* confidence in [0, 1] */
    int nind;
    struct sig_ind ind[SIG_MAX_IND];
    uint64_t seq;               /* engine's signal sequence number */
    uint64_t pub;               /* engine instance id */
    int64_t ts;                 /* wall time of publication, epoch ms */
};

const char *signal_action_name(int act);            /* "buy" ... */
int msg_signal_action_parse(const char *s);             /* -1 if unknown */

/* Deterministic id of signal s: from its strategy name, the strategy's
 * parameters (as a canonical "k=v,..." string), symbol, bar time,
 * ordinal, action, reference price and order fields (size, limit, stop,
 * sl, tp, tag). The same call derived again from the same bars has the
 * same id; a call of another feed or seed at the same bar does not.
 * Writes 16 hex + NUL into s->id. */
void msg_signal_make_id(struct signal *s, const char *params);
/* 1 if s is a close that found no position (it changed nothing). */
int msg_signal_is_flat_close(const struct signal *s);

void msg_signal_pack(msgpack_packer *pk, const struct signal *s);
/* ERR_OK, or ERR_PARSE / ERR_INVALID with a reason in err[ERR_LEN]. */
int msg_signal_unpack(const msgpack_object *o, struct signal *s, char *err);

/* The signal as a JSON object, with descriptive keys (README.md, "JSON
 * Lines"): ver id engine strategy symbol action bar_ts ordinal price size
 * [limit] [stop] [sl] [tp] [tag] [position] confidence indicators seq pub
 * ts. Absent
 * optionals are left out; NaN values become null. Caller owns it. */
json_t *msg_signal_to_json(const struct signal *s);

#endif
