/* metrics.h -- a small registry of a program's metrics, rendered in the
 * Prometheus text exposition format 0.0.4 (served by http_metrics.h).
 *
 *   metrics_t *m = metrics_new();
 *   metrics_add_u64(m, METRICS_COUNTER, "livetrade_engine_bars_total",
 *                   "Bars received", &E.bars_in);          read at scrape
 *   metrics_add_fn(m, METRICS_GAUGE, "livetrade_engine_last_bar_age_seconds",
 *                  "Seconds since ...", "symbol", s_ages, NULL);
 *   h = metrics_add_hist(m, "livetrade_engine_latency_seconds", "...",
 *                        bounds, nbounds);
 *   metrics_hist_observe(h, 0.0004);
 *   text = metrics_render(m, &len);  ...  free(text);
 *   metrics_destroy(&m);
 *
 * Counters and gauges are not stored here: the registry keeps a pointer
 * to the program's own variable (read at each scrape) or a function that
 * writes the samples when asked (for labelled families such as one value
 * per symbol). Histograms, with fixed buckets, are kept here. Everything
 * runs on the program's one thread; nothing is locked.
 *
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names
 * [a-zA-Z_][a-zA-Z0-9_]*; a bad name, or one registered twice, is a
 * programming error (assert). */
#ifndef LT_METRICS_H
#define LT_METRICS_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_HIST_MAX 32         /* buckets of a histogram, +Inf aside */
#define METRICS_TEXT_MAX (64u << 20) /* largest rendered page */

enum metrics_type { METRICS_COUNTER, METRICS_GAUGE, METRICS_HISTOGRAM };

typedef struct metrics metrics_t;
typedef struct metrics_hist metrics_hist_t;

/* Where a function family writes its samples during a render. */
typedef struct metrics_out metrics_out_t;
/* Writes the family's samples with metrics_out_sample(); called once per
 * render. */
typedef void (metrics_fn)(metrics_out_t *out, void *arg);

metrics_t *metrics_new(void);
/* Frees the registry and its histograms; idempotent. */
void metrics_destroy(metrics_t **self_p);

/* A counter or gauge read from *src at each render. src must outlive the
 * registry. 0, or ERR_NOMEM. */
int metrics_add_u64(metrics_t *self, enum metrics_type type,
                    const char *name, const char *help, const uint64_t *src);
int metrics_add_int(metrics_t *self, enum metrics_type type,
                    const char *name, const char *help, const int *src);
int metrics_add_dbl(metrics_t *self, enum metrics_type type,
                    const char *name, const char *help, const double *src);

/* A counter or gauge whose samples fn writes at each render. `label` is
 * the name of its one label (e.g. "symbol"), or NULL for a family without
 * labels (fn then writes one sample with label value NULL). A family
 * whose fn writes nothing shows only its HELP and TYPE lines. */
int metrics_add_fn(metrics_t *self, enum metrics_type type,
                   const char *name, const char *help, const char *label,
                   metrics_fn *fn, void *arg);
/* One sample of the family being rendered. `label_value` is escaped as
 * the format requires; NULL for a family without a label. */
void metrics_out_sample(metrics_out_t *out, const char *label_value,
                        double v);

/* A histogram with `n` upper bounds (ascending, finite, at most
 * METRICS_HIST_MAX); the +Inf bucket is added. NULL on allocation
 * failure. Owned by the registry. */
metrics_hist_t *metrics_add_hist(metrics_t *self, const char *name,
                                 const char *help, const double *bounds,
                                 int n);
/* Counts one observation (NaN is ignored). */
void metrics_hist_observe(metrics_hist_t *h, double v);
/* Observations so far (for status replies and tests). */
uint64_t metrics_hist_count(const metrics_hist_t *h);

/* The whole page in text format 0.0.4: families in the order they were
 * registered, each with its HELP and TYPE lines. A NUL-terminated string
 * the caller frees, its length in *len; NULL when out of memory or over
 * METRICS_TEXT_MAX. */
char *metrics_render(metrics_t *self, size_t *len);

/* Writes v as the format spells numbers ("+Inf", "-Inf", "NaN", or the
 * shortest form that reads back exactly) into buf[n]. */
void metrics_format_value(char *buf, size_t n, double v);

#endif
