/* resample.c -- higher-timeframe indicators over completed bins. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "resample.h"

#define DAY_MS 86400000LL
#define WEEK_MS (7 * DAY_MS)
#define MONDAY_OFFSET (4 * DAY_MS)  /* 1970-01-05 was a Monday */

int resample_rule(const char *rule, int64_t *bin_ms, char *err)
{
    char *end;
    long n = 1;
    int64_t unit;

    if (!rule || !*rule) {
        snprintf(err, ERR_LEN, "resample rule is empty");
        return ERR_INVALID;
    }
    if (rule[0] >= '0' && rule[0] <= '9') {
        n = strtol(rule, &end, 10);
        if (n < 1 || n > 100000) {
            snprintf(err, ERR_LEN, "resample rule '%s': bad count", rule);
            return ERR_INVALID;
        }
    } else {
        end = (char *)rule;
    }
    if (!strcmp(end, "min") || !strcmp(end, "T"))
        unit = 60000;
    else if (!strcmp(end, "H") || !strcmp(end, "h"))
        unit = 3600000;
    else if (!strcmp(end, "D"))
        unit = DAY_MS;
    else if ((!strcmp(end, "W") || !strcmp(end, "W-SUN")) && n == 1)
        unit = 0;
    else {
        snprintf(err, ERR_LEN, "resample rule '%s' not supported (use N min, "
                 "N H, N D or W)", rule);
        return ERR_INVALID;
    }
    *bin_ms = unit * n;
    return ERR_OK;
}

int resample_init(struct resample *r, int64_t bin_ms, enum resample_agg agg,
                  enum ind_kind kind, const double *p)
{
    const struct series *src[1];
    int rc;

    memset(r, 0, sizeof *r);
    r->bin_ms = bin_ms;
    r->agg = agg;
    series_init(&r->bins);
    src[0] = &r->bins;
    rc = indicator_init_ex(&r->inner, kind, src, p, 0, NULL);
    if (rc)
        return rc;
    /* The inner indicator streams: it reads back its window at most, so
     * the bins and its outputs stay bounded however long the run. */
    series_keep(&r->bins, (size_t)r->inner.history + 2);
    indicator_keep(&r->inner, (size_t)r->inner.history + 2);
    return ERR_OK;
}

void resample_free(struct resample *r)
{
    indicator_free(&r->inner);
    series_free(&r->bins);
}

static int64_t s_floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* The bin of time t and its label (right edge). */
/* The bin of time t and its end. Weeks are calendar weeks, Monday to
 * Sunday (pandas' 'W-SUN' bins once it has moved their edges to the end
 * of the Sunday). */
static void s_bin(const struct resample *r, int64_t t, int64_t *bin,
                  int64_t *end)
{
    int64_t len = r->bin_ms ? r->bin_ms : WEEK_MS;
    int64_t origin = r->bin_ms ? r->origin : MONDAY_OFFSET;

    *bin = s_floordiv(t - origin, len);
    *end = origin + (*bin + 1) * len;
}

static void s_add(struct resample *r, double x)
{
    if (isnan(x))
        return;                     /* pandas' aggregations skip NaN */
    if (isnan(r->acc)) {
        r->acc = x;
        return;
    }
    switch (r->agg) {
    case RS_FIRST: break;
    case RS_MAX: r->acc = fmax(r->acc, x); break;
    case RS_MIN: r->acc = fmin(r->acc, x); break;
    case RS_LAST: r->acc = x; break;
    case RS_SUM: r->acc += x; break;
    }
}

/* Closes the open bin: one more resampled value (dropna: an all-NaN bin
 * is left out, as pandas' dropna() does). */
static int s_close(struct resample *r)
{
    r->open = 0;
    if (isnan(r->acc))
        return ERR_OK;
    if (series_push(&r->bins, r->acc))
        return ERR_NOMEM;
    return indicator_update(&r->inner);
}

int resample_push(struct resample *r, int64_t t, double x, double *y)
{
    int64_t bin, label;

    if (!r->started) {
        r->origin = t - (t % DAY_MS + DAY_MS) % DAY_MS;
        r->started = 1;
        r->last_t = -1;
    }
    s_bin(r, t, &bin, &label);
    if (r->open && bin != r->bin && s_close(r))
        return ERR_NOMEM;
    if (!r->open && bin == r->bin && r->bins.len) {
        /* A late bar of a week already closed: it has no bin to go to. */
        goto out;
    }
    if (!r->open && r->agg == RS_SUM && r->bins.len && bin > r->bin + 1) {
        /* pandas sums an empty bin to 0 and keeps it (dropna() drops only
         * NaN), so a day without bars is a 0 in a Volume series. */
        for (int64_t k = r->bin + 1; k < bin && k < r->bin + 100000; k++)
            if (series_push(&r->bins, 0) || indicator_update(&r->inner))
                return ERR_NOMEM;
    }
    if (!r->open) {
        r->open = 1;
        r->bin = bin;
        r->label = label;
        r->acc = NAN;
    }
    s_add(r, x);
    /* A week ends with its last bar: the one after which the next bar
     * (one step later, as the last one came) would fall in a later week.
     * For daily data that is the Sunday bar, which pandas also counts
     * in its week. Fixed bins end when a bar of a later bin arrives. */
    if (r->last_t >= 0 && (r->step == 0 || t - r->last_t < r->step))
        r->step = t - r->last_t;    /* the bar length: the smallest step */
    r->last_t = t;
    if (!r->bin_ms && r->step > 0 && t + r->step >= r->label && s_close(r))
        return ERR_NOMEM;
out:
    for (int j = 0; j < r->inner.nout; j++)
        y[j] = series_back(&r->inner.out[j], 1);
    return ERR_OK;
}
