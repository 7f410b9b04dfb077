/* msg_ind.h -- a strategy's indicator values at one bar (version 1), on
 * the bus and in the engine's "indicators" replies, and the request for
 * them -- see README.md, "Wire protocol".
 *
 *   topic "ind|SYM|"  {ver:1, type:"ind", eng, sym, t, ind:{name:v, ...}}
 *   request           {ver:1, type:"indicators", sym, n}
 *   reply             {ver:1, type:"indicators", eng, sym,
 *                      points:[{t, ind:{name:v, ...}}, ...]}
 *
 * `ind` is the map a signal of that bar carries (its names and values;
 * NaN before an indicator is valid). These messages are no signals: no
 * sequence number, no journal. */
#ifndef LT_MSG_IND_H
#define LT_MSG_IND_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_signal.h"

#define IND_MSG_VERSION 1
#define IND_MSG_REQ_MAX 5000        /* points in one "indicators" reply */

/* The values at one bar. */
struct ind_point {
    int64_t t;                      /* bar start, epoch ms UTC */
    int n;                          /* values in v */
    struct sig_ind v[SIG_MAX_IND];
};

/* A message on "ind|SYM|". */
struct ind_msg {
    char eng[64];                   /* engine id */
    char sym[SYM_MAX];
    struct ind_point p;
};

/* The map {name: value, ...} of v[n] (signals' `ind` too). */
void msg_ind_pack_map(msgpack_packer *pk, const struct sig_ind *v, int n);
/* Reads such a map into v[max]: the number of entries kept (keys that
 * are not strings shorter than SIG_NAME are skipped; values that are not
 * numbers become NaN), or -1 if `map` is not a map. */
int msg_ind_unpack_map(const msgpack_object *map, struct sig_ind *v,
                       int max);

void msg_ind_pack(msgpack_packer *pk, const struct ind_msg *m);
/* ERR_OK, or ERR_PARSE with a reason in err[ERR_LEN]. */
int msg_ind_unpack(const msgpack_object *o, struct ind_msg *m, char *err);

/* {t, ind} of one point in a reply; unpack: 0 or -1. */
void msg_ind_pack_point(msgpack_packer *pk, const struct ind_point *p);
int msg_ind_unpack_point(const msgpack_object *o, struct ind_point *p);

/* The request, its parsing (a decoded map whose type is "indicators":
 * sym valid, n a positive integer, cut to IND_MSG_REQ_MAX; 0 or
 * ERR_PARSE with a reason), and the head of the reply: the caller then
 * packs `npoints` points. */
void msg_ind_pack_request(msgpack_packer *pk, const char *sym, int64_t n);
int msg_ind_req_parse(const msgpack_object *o, char *sym, int64_t *n,
                      char *err);
void msg_ind_pack_reply_head(msgpack_packer *pk, const char *eng,
                             const char *sym, size_t npoints);

#endif
