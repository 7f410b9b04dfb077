/* msg_bar.c -- OHLCV bar codec. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "msg_bar.h"
#include "err.h"
#include "mp.h"

/* {==================== packing ============================ */

/* The bytes msgpack-c writes, written straight into a buffer: a bar is
 * packed once per message, so without a call per key. */

static unsigned char *s_put_be(unsigned char *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
    return p + n;
}

/* A string of fewer than 32 bytes (keys; src and sym are shorter). */
static unsigned char *s_put_fixstr(unsigned char *p, const char *s,
                                   size_t n)
{
    *p++ = (unsigned char)(0xa0 | n);
    memcpy(p, s, n);
    return p + n;
}

#define PUT_KEY(p, k) s_put_fixstr(p, k, sizeof k - 1)

/* As msgpack_pack_uint64(): the shortest of fixint, uint8 ... uint64. */
static unsigned char *s_put_uint(unsigned char *p, uint64_t v)
{
    if (v < 0x80) {
        *p++ = (unsigned char)v;
        return p;
    }
    if (v < 0x100) {
        *p++ = 0xcc;
        return s_put_be(p, v, 1);
    }
    if (v < 0x10000) {
        *p++ = 0xcd;
        return s_put_be(p, v, 2);
    }
    if (v < 0x100000000ULL) {
        *p++ = 0xce;
        return s_put_be(p, v, 4);
    }
    *p++ = 0xcf;
    return s_put_be(p, v, 8);
}

/* As msgpack_pack_int64(): a non-negative value as an unsigned one, a
 * negative one as the shortest of fixint, int8 ... int64. */
static unsigned char *s_put_int(unsigned char *p, int64_t v)
{
    if (v >= 0)
        return s_put_uint(p, (uint64_t)v);
    if (v >= -32) {
        *p++ = (unsigned char)(int8_t)v;
        return p;
    }
    if (v >= -128) {
        *p++ = 0xd0;
        return s_put_be(p, (uint64_t)v, 1);
    }
    if (v >= -32768) {
        *p++ = 0xd1;
        return s_put_be(p, (uint64_t)v, 2);
    }
    if (v >= INT32_MIN) {
        *p++ = 0xd2;
        return s_put_be(p, (uint64_t)v, 4);
    }
    *p++ = 0xd3;
    return s_put_be(p, (uint64_t)v, 8);
}

/* As msgpack_pack_double(): float64, big-endian. */
static unsigned char *s_put_dbl(unsigned char *p, double d)
{
    uint64_t v;

    memcpy(&v, &d, sizeof v);
    *p++ = 0xcb;
    return s_put_be(p, v, 8);
}

void msg_bar_pack(msgpack_packer *pk, const struct bar *b)
{
    /* Keys and values: at most 1 + 14 keys of 4 + 9 bytes each, plus the
     * two strings (each shorter than 32 bytes). */
    unsigned char buf[1 + 14 * 13 + 2 * 32], *p = buf;
    size_t src = strnlen(b->src, sizeof b->src - 1);
    size_t sym = strnlen(b->sym, sizeof b->sym - 1);
    int n = 12 + !isnan(b->vw) + (b->n >= 0);

    *p++ = (unsigned char)(0x80 | n);
    p = s_put_int(PUT_KEY(p, "ver"), BAR_VERSION);
    p = s_put_fixstr(PUT_KEY(p, "src"), b->src, src);
    p = s_put_fixstr(PUT_KEY(p, "sym"), b->sym, sym);
    p = s_put_int(PUT_KEY(p, "t"), b->t);
    p = s_put_int(PUT_KEY(p, "tf"), b->tf);
    p = s_put_dbl(PUT_KEY(p, "o"), b->o);
    p = s_put_dbl(PUT_KEY(p, "h"), b->h);
    p = s_put_dbl(PUT_KEY(p, "l"), b->l);
    p = s_put_dbl(PUT_KEY(p, "c"), b->c);
    p = s_put_dbl(PUT_KEY(p, "vol"), b->vol);
    if (!isnan(b->vw))
        p = s_put_dbl(PUT_KEY(p, "vw"), b->vw);
    if (b->n >= 0)
        p = s_put_int(PUT_KEY(p, "n"), b->n);
    p = s_put_uint(PUT_KEY(p, "seq"), b->seq);
    p = s_put_uint(PUT_KEY(p, "pub"), b->pub);
    pk->callback(pk->data, (const char *)buf, (size_t)(p - buf));
}

/* }========================================================== */

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

/* {==================== the fast path ======================= */

/* A cursor over msgpack bytes. Every read checks that its bytes are
 * there; a failed one returns -1 and leaves the cursor where it was. */
struct rd {
    const unsigned char *p, *end;
};

static uint64_t s_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* A string header and its bytes: 0 with *s and *n, or -1. */
static int s_rd_str(struct rd *r, const char **s, size_t *n)
{
    const unsigned char *p = r->p;
    size_t len, hl;

    if (p >= r->end)
        return -1;
    if ((*p & 0xe0) == 0xa0) {
        len = *p & 0x1f;
        hl = 1;
    } else if (*p >= 0xd9 && *p <= 0xdb) {
        int w = 1 << (*p - 0xd9);           /* 1, 2 or 4 length bytes */
        if (r->end - p < 1 + w)
            return -1;
        len = (size_t)s_be(p + 1, w);
        hl = 1 + (size_t)w;
    } else {
        return -1;
    }
    if ((size_t)(r->end - p) - hl < len)
        return -1;
    *s = (const char *)p + hl;
    *n = len;
    r->p = p + hl + len;
    return 0;
}

/* A number as msgpack-c decodes it: *kind 1 for a positive integer (in
 * *u), 2 for a negative one (in *i), 3 for a float (in *d); -1 if the
 * value is not a number. */
static int s_rd_num(struct rd *r, int *kind, uint64_t *u, int64_t *i,
                    double *d)
{
    const unsigned char *p = r->p;
    unsigned char c;
    int w;

    if (p >= r->end)
        return -1;
    c = *p;
    if (c <= 0x7f) {
        *kind = 1;
        *u = c;
        r->p = p + 1;
        return 0;
    }
    if (c >= 0xe0) {
        *kind = 2;
        *i = (int8_t)c;
        r->p = p + 1;
        return 0;
    }
    if (c == 0xca || c == 0xcb) {
        w = c == 0xca ? 4 : 8;
        if (r->end - p < 1 + w)
            return -1;
        if (w == 4) {
            uint32_t b32 = (uint32_t)s_be(p + 1, 4);
            float f;
            memcpy(&f, &b32, sizeof f);
            *d = (double)f;
        } else {
            uint64_t b64 = s_be(p + 1, 8);
            memcpy(d, &b64, sizeof *d);
        }
        *kind = 3;
        r->p = p + 1 + w;
        return 0;
    }
    if (c >= 0xcc && c <= 0xd3) {
        int sgn = c >= 0xd0;
        uint64_t v;
        w = 1 << ((c - 0xcc) & 3);          /* 1, 2, 4 or 8 bytes */
        if (r->end - p < 1 + w)
            return -1;
        v = s_be(p + 1, w);
        r->p = p + 1 + w;
        if (sgn && (v >> (8 * w - 1)) & 1) {
            /* Negative: sign-extend from w bytes. */
            *i = w == 8 ? (int64_t)v :
                 (int64_t)(v | ~((UINT64_C(1) << (8 * w)) - 1));
            *kind = 2;
        } else {
            *u = v;
            *kind = 1;
        }
        return 0;
    }
    return -1;
}

/* As mp_dbl(): a float or an integer. */
static int s_rd_dbl(struct rd *r, double *out)
{
    int kind;
    uint64_t u;
    int64_t i;

    if (s_rd_num(r, &kind, &u, &i, out))
        return -1;
    if (kind == 1)
        *out = (double)u;
    else if (kind == 2)
        *out = (double)i;
    return 0;
}

/* As mp_int(): an integer that fits in int64_t. */
static int s_rd_int(struct rd *r, int64_t *out)
{
    int kind;
    uint64_t u;
    double d;

    if (s_rd_num(r, &kind, &u, out, &d) || kind == 3 ||
        (kind == 1 && u > (uint64_t)INT64_MAX))
        return -1;
    if (kind == 1)
        *out = (int64_t)u;
    return 0;
}

/* As mp_uint(): a positive integer. */
static int s_rd_uint(struct rd *r, uint64_t *out)
{
    int kind;
    int64_t i;
    double d;

    return s_rd_num(r, &kind, out, &i, &d) || kind != 1 ? -1 : 0;
}

/* As mp_str(): a string shorter than n, without NUL. */
static int s_rd_cstr(struct rd *r, char *out, size_t n)
{
    const char *s;
    size_t len;

    if (s_rd_str(r, &s, &len) || len >= n || memchr(s, '\0', len))
        return -1;
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}

enum {
    K_VER, K_SRC, K_SYM, K_T, K_TF, K_O, K_H, K_L, K_C, K_VOL, K_VW, K_N,
    K_SEQ, K_PUB, K_COUNT
};

/* The key's index, by length and bytes; -1 for any other key. */
static int s_key(const char *k, size_t n)
{
    switch (n) {
    case 1:
        switch (k[0]) {
        case 't': return K_T;
        case 'o': return K_O;
        case 'h': return K_H;
        case 'l': return K_L;
        case 'c': return K_C;
        case 'n': return K_N;
        default:  return -1;
        }
    case 2:
        if (k[0] == 't' && k[1] == 'f')
            return K_TF;
        if (k[0] == 'v' && k[1] == 'w')
            return K_VW;
        return -1;
    case 3:
        if (memcmp(k, "ver", 3) == 0) return K_VER;
        if (memcmp(k, "src", 3) == 0) return K_SRC;
        if (memcmp(k, "sym", 3) == 0) return K_SYM;
        if (memcmp(k, "vol", 3) == 0) return K_VOL;
        if (memcmp(k, "seq", 3) == 0) return K_SEQ;
        if (memcmp(k, "pub", 3) == 0) return K_PUB;
        return -1;
    default:
        return -1;
    }
}

int msg_bar_decode_fast(const void *data, size_t len, struct bar *b)
{
    struct rd r = { data, (const unsigned char *)data + len };
    const char *k;
    size_t kn;
    uint32_t seen = 0, need;
    int64_t ver = 0;
    uint64_t n;
    char why[ERR_LEN];

    if (!data || len == 0)
        return -1;
    if ((*r.p & 0xf0) == 0x80) {
        n = *r.p & 0x0f;
        r.p++;
    } else if (*r.p == 0xde && len >= 3) {
        n = s_be(r.p + 1, 2);
        r.p += 3;
    } else {
        return -1;                  /* map32 or not a map */
    }
    memset(b, 0, sizeof *b);
    b->vw = NAN;
    b->n = -1;
    for (uint64_t j = 0; j < n; j++) {
        int key, rc;
        if (s_rd_str(&r, &k, &kn) || kn == 0 ||
            (key = s_key(k, kn)) < 0 || (seen >> key) & 1)
            return -1;              /* another key, or one twice */
        seen |= 1u << key;
        switch (key) {
        case K_VER: rc = s_rd_int(&r, &ver); break;
        case K_SRC: rc = s_rd_cstr(&r, b->src, sizeof b->src); break;
        case K_SYM: rc = s_rd_cstr(&r, b->sym, sizeof b->sym); break;
        case K_T:   rc = s_rd_int(&r, &b->t); break;
        case K_TF:  rc = s_rd_int(&r, &b->tf); break;
        case K_O:   rc = s_rd_dbl(&r, &b->o); break;
        case K_H:   rc = s_rd_dbl(&r, &b->h); break;
        case K_L:   rc = s_rd_dbl(&r, &b->l); break;
        case K_C:   rc = s_rd_dbl(&r, &b->c); break;
        case K_VOL: rc = s_rd_dbl(&r, &b->vol); break;
        case K_VW:  rc = s_rd_dbl(&r, &b->vw); break;
        case K_N:   rc = s_rd_int(&r, &b->n); break;
        case K_SEQ: rc = s_rd_uint(&r, &b->seq); break;
        default:    rc = s_rd_uint(&r, &b->pub); break;
        }
        if (rc)
            return -1;
    }
    /* Every key but the optional src, vw and n; nothing after the map. */
    need = ((1u << K_COUNT) - 1) &
           ~((1u << K_SRC) | (1u << K_VW) | (1u << K_N));
    if ((seen & need) != need || r.p != r.end || ver != BAR_VERSION)
        return -1;
    return msg_bar_check(b, why) == ERR_OK ? 0 : -1;
}

/* }========================================================== */
