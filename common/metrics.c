/* metrics.c -- the metrics registry and its text rendering (see
 * metrics.h). Families are kept in registration order in a small array;
 * a render walks them once and appends to one growing buffer. */
#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "metrics.h"
#include "util.h"

enum src_kind { SRC_U64, SRC_INT, SRC_DBL, SRC_FN, SRC_HIST };

struct metrics_hist {
    double bounds[METRICS_HIST_MAX];    /* upper bounds, ascending */
    uint64_t counts[METRICS_HIST_MAX + 1]; /* per bucket, not cumulative;
                                           the last one is +Inf */
    int n;                              /* bounds in use */
    uint64_t count;                     /* observations */
    double sum;                         /* their sum */
};

struct family {
    char *name;
    char *help;
    char *label;                    /* SRC_FN: its label name, or NULL */
    enum metrics_type type;
    enum src_kind kind;
    union {
        const uint64_t *u64;
        const int *i;
        const double *d;
        metrics_hist_t *hist;       /* owned */
    } src;
    metrics_fn *fn;                 /* SRC_FN */
    void *arg;                      /* its argument */
};

struct metrics {
    struct family *f;               /* in registration order */
    int n;
    size_t cap;
};

/* A growing text buffer bounded by METRICS_TEXT_MAX. */
struct metrics_out {
    char *buf;
    size_t len, cap;
    int failed;                     /* out of memory or over the bound */
    const struct family *fam;       /* the family being rendered */
};

metrics_t *metrics_new(void)
{
    return calloc(1, sizeof(metrics_t));
}

void metrics_destroy(metrics_t **self_p)
{
    metrics_t *self = *self_p;

    if (!self)
        return;
    for (int i = 0; i < self->n; i++) {
        free(self->f[i].name);
        free(self->f[i].help);
        free(self->f[i].label);
        if (self->f[i].kind == SRC_HIST)
            free(self->f[i].src.hist);
    }
    free(self->f);
    free(self);
    *self_p = NULL;
}

/* {==================== registration ======================== */

static int s_name_ok(const char *s, int colon)
{
    if (!s || !*s)
        return 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    c == '_' || (colon && c == ':');
        if (!alpha && !(p > s && c >= '0' && c <= '9'))
            return 0;
    }
    return 1;
}

static struct family *s_add(metrics_t *self, enum metrics_type type,
                            const char *name, const char *help)
{
    struct family *f;

    assert(self && s_name_ok(name, 1) && help);
    for (int i = 0; i < self->n; i++)
        assert(strcmp(self->f[i].name, name) != 0);
    if (grow((void **)&self->f, &self->cap, (size_t)self->n + 1,
             sizeof *self->f, SIZE_MAX))
        return NULL;
    f = &self->f[self->n];
    memset(f, 0, sizeof *f);
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help);
    if (!f->name || !f->help) {
        free(f->name);
        free(f->help);
        return NULL;
    }
    self->n++;
    return f;
}

int metrics_add_u64(metrics_t *self, enum metrics_type type,
                    const char *name, const char *help, const uint64_t *src)
{
    struct family *f;

    assert(src && type != METRICS_HISTOGRAM);
    f = s_add(self, type, name, help);
    if (!f)
        return ERR_NOMEM;
    f->kind = SRC_U64;
    f->src.u64 = src;
    return 0;
}

int metrics_add_int(metrics_t *self, enum metrics_type type,
                    const char *name, const char *help, const int *src)
{
    struct family *f;

    assert(src && type != METRICS_HISTOGRAM);
    f = s_add(self, type, name, help);
    if (!f)
        return ERR_NOMEM;
    f->kind = SRC_INT;
    f->src.i = src;
    return 0;
}

int metrics_add_dbl(metrics_t *self, enum metrics_type type,
                    const char *name, const char *help, const double *src)
{
    struct family *f;

    assert(src && type != METRICS_HISTOGRAM);
    f = s_add(self, type, name, help);
    if (!f)
        return ERR_NOMEM;
    f->kind = SRC_DBL;
    f->src.d = src;
    return 0;
}

int metrics_add_fn(metrics_t *self, enum metrics_type type,
                   const char *name, const char *help, const char *label,
                   metrics_fn *fn, void *arg)
{
    struct family *f;
    char *lab = NULL;

    assert(fn && type != METRICS_HISTOGRAM);
    assert(!label || (s_name_ok(label, 0) && strncmp(label, "__", 2)));
    if (label && !(lab = strdup(label)))
        return ERR_NOMEM;
    f = s_add(self, type, name, help);
    if (!f) {
        free(lab);
        return ERR_NOMEM;
    }
    f->kind = SRC_FN;
    f->label = lab;
    f->fn = fn;
    f->arg = arg;
    return 0;
}

metrics_hist_t *metrics_add_hist(metrics_t *self, const char *name,
                                 const char *help, const double *bounds,
                                 int n)
{
    metrics_hist_t *h;
    struct family *f;

    assert(bounds && n >= 1 && n <= METRICS_HIST_MAX);
    for (int i = 0; i < n; i++)
        assert(isfinite(bounds[i]) && (i == 0 || bounds[i] > bounds[i - 1]));
    h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    memcpy(h->bounds, bounds, (size_t)n * sizeof *bounds);
    h->n = n;
    f = s_add(self, METRICS_HISTOGRAM, name, help);
    if (!f) {
        free(h);
        return NULL;
    }
    f->kind = SRC_HIST;
    f->src.hist = h;
    return h;
}

void metrics_hist_observe(metrics_hist_t *h, double v)
{
    int i = 0;

    assert(h);
    if (isnan(v))
        return;
    while (i < h->n && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->count++;
    h->sum += v;
}

uint64_t metrics_hist_count(const metrics_hist_t *h)
{
    assert(h);
    return h->count;
}

/* }========================================================== */

/* {==================== rendering =========================== */

void metrics_format_value(char *buf, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, n, "%s", v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
        return;
    }
    /* 15 significant digits read back exactly for most values (ages and
     * ratios of integers); 17 always do. */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, n, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void s_grow(metrics_out_t *o, size_t more)
{
    if (o->failed)
        return;
    if (o->len + more + 1 > METRICS_TEXT_MAX) {
        o->failed = 1;
        return;
    }
    if (grow((void **)&o->buf, &o->cap, o->len + more + 1, 1,
             METRICS_TEXT_MAX))
        o->failed = 1;
}

static void s_put(metrics_out_t *o, const char *s, size_t n)
{
    s_grow(o, n);
    if (o->failed)
        return;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void s_puts(metrics_out_t *o, const char *s)
{
    s_put(o, s, strlen(s));
}

static void s_printf(metrics_out_t *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void s_printf(metrics_out_t *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    s_put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* HELP text escapes '\' and newline; label values also '"'. */
static void s_escaped(metrics_out_t *o, const char *s, int quote)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            s_puts(o, "\\\\");
        else if (*p == '\n')
            s_puts(o, "\\n");
        else if (quote && *p == '"')
            s_puts(o, "\\\"");
        else
            s_put(o, p, 1);
    }
}

static void s_value(metrics_out_t *o, double v)
{
    char num[64];

    metrics_format_value(num, sizeof num, v);
    s_puts(o, num);
}

void metrics_out_sample(metrics_out_t *o, const char *label_value, double v)
{
    const struct family *f;

    assert(o && o->fam);
    f = o->fam;
    s_puts(o, f->name);
    if (f->label && label_value) {
        s_printf(o, "{%s=\"", f->label);
        s_escaped(o, label_value, 1);
        s_puts(o, "\"}");
    }
    s_puts(o, " ");
    s_value(o, v);
    s_puts(o, "\n");
}

static void s_hist(metrics_out_t *o, const struct family *f)
{
    const metrics_hist_t *h = f->src.hist;
    uint64_t cum = 0;
    char le[64];

    for (int i = 0; i <= h->n; i++) {
        cum += h->counts[i];
        if (i < h->n)
            metrics_format_value(le, sizeof le, h->bounds[i]);
        else
            snprintf(le, sizeof le, "+Inf");
        s_printf(o, "%s_bucket{le=\"%s\"} %llu\n", f->name, le,
                 (unsigned long long)cum);
    }
    s_printf(o, "%s_sum ", f->name);
    s_value(o, h->sum);
    s_printf(o, "\n%s_count %llu\n", f->name, (unsigned long long)h->count);
}

char *metrics_render(metrics_t *self, size_t *len)
{
    static const char *const types[] = { "counter", "gauge", "histogram" };
    metrics_out_t o;

    assert(self && len);
    memset(&o, 0, sizeof o);
    s_grow(&o, 0);
    if (!o.failed)
        o.buf[0] = '\0';
    for (int i = 0; i < self->n && !o.failed; i++) {
        const struct family *f = &self->f[i];
        o.fam = f;
        s_printf(&o, "# HELP %s ", f->name);
        s_escaped(&o, f->help, 0);
        s_printf(&o, "\n# TYPE %s %s\n", f->name, types[f->type]);
        switch (f->kind) {
        case SRC_U64:
            metrics_out_sample(&o, NULL, (double)*f->src.u64);
            break;
        case SRC_INT:
            metrics_out_sample(&o, NULL, (double)*f->src.i);
            break;
        case SRC_DBL:
            metrics_out_sample(&o, NULL, *f->src.d);
            break;
        case SRC_FN:
            f->fn(&o, f->arg);
            break;
        case SRC_HIST:
            s_hist(&o, f);
            break;
        }
    }
    if (o.failed) {
        free(o.buf);
        return NULL;
    }
    *len = o.len;
    return o.buf;
}

/* }========================================================== */
