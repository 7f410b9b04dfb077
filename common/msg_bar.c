/* msg_bar.c -- OHLCV bar codec. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "msg_bar.h"
#include "err.h"
#include "mp.h"

void msg_bar_pack(msgpack_packer *pk, const struct bar *b)
{
    int n = 12 + !isnan(b->vw) + (b->n >= 0);

    msgpack_pack_map(pk, n);
    mp_kint(pk, "ver", BAR_VERSION);
    mp_kstr(pk, "src", b->src);
    mp_kstr(pk, "sym", b->sym);
    mp_kint(pk, "t", b->t);
    mp_kint(pk, "tf", b->tf);
    mp_kdbl(pk, "o", b->o);
    mp_kdbl(pk, "h", b->h);
    mp_kdbl(pk, "l", b->l);
    mp_kdbl(pk, "c", b->c);
    mp_kdbl(pk, "vol", b->vol);
    if (!isnan(b->vw))
        mp_kdbl(pk, "vw", b->vw);
    if (b->n >= 0)
        mp_kint(pk, "n", b->n);
    mp_kuint(pk, "seq", b->seq);
    mp_kuint(pk, "pub", b->pub);
}

int msg_bar_check(const struct bar *b, char *err)
{
    const double px[4] = { b->o, b->h, b->l, b->c };
    static const char *names[4] = { "open", "high", "low", "close" };

    if (!symbol_valid(b->sym)) {
        snprintf(err, ERR_LEN, "bad symbol '%s'", b->sym);
        return ERR_INVALID;
    }
    for (int i = 0; i < 4; i++)
        if (!isfinite(px[i]) || px[i] <= 0) {
            snprintf(err, ERR_LEN, "%s: %s price %g is not positive",
                     b->sym, names[i], px[i]);
            return ERR_INVALID;
        }
    if (b->h < b->l) {
        snprintf(err, ERR_LEN, "%s: high %g < low %g", b->sym, b->h, b->l);
        return ERR_INVALID;
    }
    if (!isfinite(b->vol) || b->vol < 0) {
        snprintf(err, ERR_LEN, "%s: volume %g is negative or NaN", b->sym,
                 b->vol);
        return ERR_INVALID;
    }
    if (b->tf <= 0 || b->t < 0) {
        snprintf(err, ERR_LEN, "%s: bad time %lld or timeframe %lld",
                 b->sym, (long long)b->t, (long long)b->tf);
        return ERR_INVALID;
    }
    return ERR_OK;
}

int msg_bar_unpack(const msgpack_object *o, struct bar *b, char *err)
{
    static const char *dkeys[] = { "o", "h", "l", "c", "vol" };
    double *dst[] = { &b->o, &b->h, &b->l, &b->c, &b->vol };
    int64_t ver;

    memset(b, 0, sizeof *b);
    b->vw = NAN;
    b->n = -1;
    if (!o || o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, ERR_LEN, "bar body is not a msgpack map");
        return ERR_PARSE;
    }
    if (mp_int(o, "ver", &ver) || ver != BAR_VERSION) {
        snprintf(err, ERR_LEN, "bar: missing or unsupported 'ver'");
        return ERR_PARSE;
    }
    if (mp_str(o, "sym", b->sym, sizeof b->sym)) {
        snprintf(err, ERR_LEN, "bar: 'sym' missing or not a short string");
        return ERR_PARSE;
    }
    if (mp_get(o, "src") && mp_str(o, "src", b->src, sizeof b->src)) {
        snprintf(err, ERR_LEN, "bar %s: 'src' is not a short string", b->sym);
        return ERR_PARSE;
    }
    if (mp_int(o, "t", &b->t) || mp_int(o, "tf", &b->tf)) {
        snprintf(err, ERR_LEN, "bar %s: 't' or 'tf' missing or not an "
                 "integer", b->sym);
        return ERR_PARSE;
    }
    for (int i = 0; i < 5; i++)
        if (mp_dbl(o, dkeys[i], dst[i])) {
            snprintf(err, ERR_LEN, "bar %s: '%s' missing or not a number",
                     b->sym, dkeys[i]);
            return ERR_PARSE;
        }
    if (mp_get(o, "vw") && mp_dbl(o, "vw", &b->vw)) {
        snprintf(err, ERR_LEN, "bar %s: 'vw' is not a number", b->sym);
        return ERR_PARSE;
    }
    if (mp_get(o, "n") && mp_int(o, "n", &b->n)) {
        snprintf(err, ERR_LEN, "bar %s: 'n' is not an integer", b->sym);
        return ERR_PARSE;
    }
    if (mp_uint(o, "seq", &b->seq) || mp_uint(o, "pub", &b->pub)) {
        snprintf(err, ERR_LEN, "bar %s: 'seq' or 'pub' missing or not an "
                 "unsigned integer", b->sym);
        return ERR_PARSE;
    }
    return msg_bar_check(b, err);
}
