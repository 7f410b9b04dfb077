/* store.c -- per-symbol history store of the feeder (see store.h). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "store.h"
#include "util.h"

/* A bar without what every bar of the store shares (src, sym, pub) and
 * what follows from its position (seq). */
struct rec {
    int64_t t;                      /* bar start, epoch ms */
    int64_t tf;                     /* timeframe, seconds */
    double o, h, l, c;              /* prices */
    double vol;                     /* volume */
    double vw;                      /* vwap, NaN if absent */
    int64_t n;                      /* trade count, -1 if absent */
};

_Static_assert(sizeof(struct rec) == STORE_BAR_BYTES, "STORE_BAR_BYTES");

struct store {
    char src[16];                   /* source name, copied into bars */
    char sym[SYM_MAX];              /* symbol */
    uint64_t pub;                   /* publisher instance for bars */
    struct rec *r;                  /* bars, oldest first */
    size_t len;                     /* bars held */
    size_t cap;                     /* room in r */
    size_t max;                     /* most bars ever held */
    uint64_t first_seq;             /* seq of r[0] */
};

store_t *store_new(const char *src, const char *sym, uint64_t pub,
                   size_t max)
{
    store_t *self;

    assert(src && sym && max >= 8);
    self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->src, sizeof self->src, "%s", src);
    snprintf(self->sym, sizeof self->sym, "%s", sym);
    self->pub = pub;
    self->max = max;
    self->first_seq = 1;
    return self;
}

void store_destroy(store_t **self_p)
{
    if (*self_p) {
        free((*self_p)->r);
        free(*self_p);
        *self_p = NULL;
    }
}

/* Makes room for one more bar: grows the array, or once it holds `max`
 * bars forgets the oldest eighth of them. */
static int s_make_room(store_t *self)
{
    if (self->len < self->cap)
        return ERR_OK;
    if (self->len >= self->max) {
        size_t drop = self->max / 8;
        memmove(self->r, self->r + drop,
                (self->len - drop) * sizeof *self->r);
        self->len -= drop;
        self->first_seq += drop;
        return ERR_OK;
    }
    return grow((void **)&self->r, &self->cap, self->len + 1,
                sizeof *self->r, self->max);
}

int store_append(store_t *self, const struct bar *b, uint64_t *seq)
{
    struct rec *r;
    int rc;

    assert(self && b);
    if (self->len && b->t <= self->r[self->len - 1].t)
        return ERR_OLD;
    rc = s_make_room(self);
    if (rc)
        return rc;
    r = &self->r[self->len++];
    r->t = b->t;
    r->tf = b->tf;
    r->o = b->o;
    r->h = b->h;
    r->l = b->l;
    r->c = b->c;
    r->vol = b->vol;
    r->vw = b->vw;
    r->n = b->n;
    if (seq)
        *seq = self->first_seq + self->len - 1;
    return ERR_OK;
}

size_t store_len(const store_t *self)
{
    return self->len;
}

uint64_t store_last_seq(const store_t *self)
{
    return self->len ? self->first_seq + self->len - 1 : 0;
}

int64_t store_last_t(const store_t *self)
{
    return self->len ? self->r[self->len - 1].t : -1;
}

const char *store_sym(const store_t *self)
{
    return self->sym;
}

void store_get(const store_t *self, size_t i, struct bar *out)
{
    const struct rec *r;

    assert(self && i < self->len);
    r = &self->r[i];
    memset(out, 0, sizeof *out);
    memcpy(out->src, self->src, sizeof out->src);
    memcpy(out->sym, self->sym, sizeof out->sym);
    out->t = r->t;
    out->tf = r->tf;
    out->o = r->o;
    out->h = r->h;
    out->l = r->l;
    out->c = r->c;
    out->vol = r->vol;
    out->vw = r->vw;
    out->n = r->n;
    out->seq = self->first_seq + i;
    out->pub = self->pub;
}

/* Index of the first bar with t > since (len if none); times ascend. */
static size_t s_after(const store_t *self, int64_t since)
{
    size_t lo = 0, hi = self->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->r[mid].t > since)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

size_t store_pack_history(const store_t *self, msgpack_packer *pk,
                          const struct history_req *r, size_t max_bars)
{
    size_t first, n, want;
    struct bar b;

    assert(self && pk && r && r->n >= 1);
    want = (size_t)r->n < max_bars ? (size_t)r->n : max_bars;
    if (r->since == -1) {
        n = want < self->len ? want : self->len;
        first = self->len - n;
    } else {
        first = s_after(self, r->since);
        n = self->len - first;
        if (n > want)
            n = want;
    }
    history_pack_reply_head(pk, self->sym, store_last_seq(self), n);
    for (size_t i = first; i < first + n; i++) {
        store_get(self, i, &b);
        msg_bar_pack(pk, &b);
    }
    return n;
}
