/* demo.c -- the demo source: deterministic synthetic bars (see demo.h). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"
#include "err.h"
#include "source.h"
#include "util.h"

#define YEAR_SEC (365.25 * 24 * 3600)
#define MU 0.05                     /* annual drift */
#define SIGMA 0.30                  /* annual volatility */
#define WICK 0.5                    /* mean wick ~ 0.4 bar deviations */
#define VOL_SD 0.6                  /* log-volume deviation */
#define PRICE_MIN 0.01              /* the walk is reflected here ... */
#define PRICE_MAX 1e7               /* ... and here, so it stays finite */
#define TWO_PI 6.283185307179586

struct demo {
    uint64_t s[4];                  /* xoshiro256** state */
    double spare;                   /* second Box-Muller variate */
    int has_spare;                  /* spare is valid */
    char sym[SYM_MAX];              /* symbol */
    int64_t tf;                     /* timeframe, seconds */
    int64_t start_ms;               /* start of bar 0 */
    uint64_t k;                     /* bars generated so far */
    double price;                   /* last close; start price at first */
    double drift;                   /* per-bar mean log return */
    double sd;                      /* per-bar log-return deviation */
    double base_vol;                /* typical volume of one bar */
};

/* {==================== PRNG ====================== */

static uint64_t s_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t s_u64(demo_t *self)
{
    uint64_t *s = self->s;
    uint64_t r = s_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s_rotl(s[3], 45);
    return r;
}

/* Uniform in [0, 1), 53 bits. */
static double s_unif(demo_t *self)
{
    return (double)(s_u64(self) >> 11) * 0x1.0p-53;
}

/* Standard normal (Box-Muller, both variates used). */
static double s_normal(demo_t *self)
{
    double u1, u2, r;

    if (self->has_spare) {
        self->has_spare = 0;
        return self->spare;
    }
    u1 = 1.0 - s_unif(self);        /* (0, 1]: log() stays finite */
    u2 = s_unif(self);
    r = sqrt(-2.0 * log(u1));
    self->spare = r * sin(TWO_PI * u2);
    self->has_spare = 1;
    return r * cos(TWO_PI * u2);
}

/* The seed as bytes in a fixed order, so streams match across hosts. */
static uint64_t s_seed_hash(uint64_t seed)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(seed >> (8 * i));
    return hash64(HASH_INIT, b, sizeof b);
}

/* }==================================================== */

double demo_start_price(const char *sym)
{
    uint64_t h = mix64(hash_str(HASH_INIT, sym));
    double u = (double)(h >> 11) * 0x1.0p-53;
    /* Log-uniform over 20..500, whole cents. */
    return round(20.0 * exp(u * log(25.0)) * 100.0) / 100.0;
}

/* Typical volume of a one-minute bar: 2,000 .. 200,000, by symbol. */
static double s_minute_volume(const char *sym)
{
    uint64_t h = mix64(hash_str(HASH_INIT, sym) ^ 0x766f6c756d65ULL);
    double u = (double)(h >> 11) * 0x1.0p-53;
    return 2000.0 * exp(u * log(100.0));
}

demo_t *demo_new(uint64_t seed, const char *sym, int64_t tf,
                 int64_t start_ms)
{
    demo_t *self;
    uint64_t x;
    double dt;

    if (!symbol_valid(sym) || tf < 1 || tf > DEMO_TF_MAX || start_ms < 0)
        return NULL;
    self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    x = mix64(hash_str(s_seed_hash(seed), sym));
    for (int i = 0; i < 4; i++) {   /* splitmix64 fills the state */
        x += 0x9e3779b97f4a7c15ULL;
        self->s[i] = mix64(x);
    }
    snprintf(self->sym, sizeof self->sym, "%s", sym);
    self->tf = tf;
    self->start_ms = start_ms;
    self->price = demo_start_price(sym);
    dt = (double)tf / YEAR_SEC;
    self->drift = (MU - 0.5 * SIGMA * SIGMA) * dt;
    self->sd = SIGMA * sqrt(dt);
    self->base_vol = s_minute_volume(sym) * (double)tf / 60.0;
    return self;
}

void demo_destroy(demo_t **self_p)
{
    if (*self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

uint64_t demo_count(const demo_t *self)
{
    assert(self);
    return self->k;
}

int demo_next(demo_t *self, struct bar *out)
{
    double o, c, h, l, z, r, vol, vw, trade;
    int64_t tf_ms;

    assert(self && out);
    tf_ms = self->tf * 1000;
    if (self->k > (uint64_t)((INT64_MAX - self->start_ms) / tf_ms))
        return ERR_TOO_LARGE;

    o = self->price;
    z = s_normal(self);
    r = self->drift + self->sd * z;
    c = o * exp(r);
    if (c < PRICE_MIN || c > PRICE_MAX)
        c = o * exp(-r);            /* reflect at the bounds */
    h = fmax(o, c) * exp(fabs(s_normal(self)) * self->sd * WICK);
    l = fmin(o, c) * exp(-fabs(s_normal(self)) * self->sd * WICK);
    /* Lognormal volume, busier when the bar moves more. */
    vol = self->base_vol * exp(VOL_SD * s_normal(self) -
                               0.5 * VOL_SD * VOL_SD);
    vol = floor(vol * (1.0 + 0.5 * fabs(z))) + 1.0;
    vw = fmin(h, fmax(l, (h + l + c) / 3.0));
    trade = 20.0 + 180.0 * s_unif(self);    /* mean trade size, shares */

    memset(out, 0, sizeof *out);
    snprintf(out->src, sizeof out->src, "demo");
    snprintf(out->sym, sizeof out->sym, "%s", self->sym);
    out->t = self->start_ms + (int64_t)self->k * tf_ms;
    out->tf = self->tf;
    out->o = o;
    out->h = h;
    out->l = l;
    out->c = c;
    out->vol = vol;
    out->vw = vw;
    out->n = 1 + (int64_t)floor(vol / trade);
    out->seq = self->k + 1;
    out->pub = 0;

    self->price = c;
    self->k++;
    return 0;
}

/* {==================== source_demo ====================== */

struct demo_source {
    int n;                          /* symbols */
    demo_t **gen;                   /* one generator per symbol */
};

static void s_close(void *state)
{
    struct demo_source *ds = state;
    if (!ds)
        return;
    for (int i = 0; i < ds->n; i++)
        demo_destroy(&ds->gen[i]);
    free(ds->gen);
    free(ds);
}

static void *s_open(const struct source_cfg *cfg, char *err)
{
    struct demo_source *ds;

    assert(cfg && cfg->nsym >= 1);
    ds = calloc(1, sizeof *ds);
    if (ds)
        ds->gen = calloc((size_t)cfg->nsym, sizeof *ds->gen);
    if (!ds || !ds->gen) {
        snprintf(err, ERR_LEN, "demo: out of memory");
        goto fail;
    }
    ds->n = cfg->nsym;
    for (int i = 0; i < cfg->nsym; i++) {
        ds->gen[i] = demo_new(cfg->seed, cfg->symbols[i], cfg->tf,
                              cfg->start_ms);
        if (!ds->gen[i]) {
            snprintf(err, ERR_LEN, "demo: cannot start a generator for "
                     "'%s' (timeframe %llds, start %lld)", cfg->symbols[i],
                     (long long)cfg->tf, (long long)cfg->start_ms);
            goto fail;
        }
    }
    return ds;
fail:
    s_close(ds);
    return NULL;
}

static int s_next_bar(void *state, int sym, struct bar *out)
{
    struct demo_source *ds = state;
    int rc;

    assert(ds && sym >= 0 && sym < ds->n);
    rc = demo_next(ds->gen[sym], out);
    return rc ? rc : 1;
}

const struct source_ops source_demo = {
    .name = "demo",
    .open = s_open,
    .next_bar = s_next_bar,
    .close = s_close,
};

/* }==================================================== */
