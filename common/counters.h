/* counters.h -- a program's counters described once.
 *
 * Each counter is a uint64_t field of the program's state struct; one
 * table names it for the status reply, the exit line and the metrics
 * page, so adding a counter is one line:
 *
 *   static const struct counter s_counters[] = {
 *       COUNTER(feeder_t, published, "bars_published",
 *               "livetrade_feeder_bars_published_total",
 *               "Live bars published"),
 *       ...
 *   };
 *   counters_pack(pk, s_counters, N, self);      -- N key/value pairs
 *   counters_metrics(reg, s_counters, N, self);
 *   counters_line(buf, sizeof buf, s_counters, N, self);
 *
 * Counters only count up (metrics type counter). */
#ifndef LT_COUNTERS_H
#define LT_COUNTERS_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct counter {
    const char *key;                /* status key, exit-line name */
    const char *metric;             /* metric family; NULL: none */
    const char *help;               /* the metric's help text */
    size_t off;                     /* of the uint64_t in the state */
};

#define COUNTER(type, field, key, metric, help) \
    { (key), (metric), (help), offsetof(type, field) }
#define COUNTERS_N(table) (sizeof (table) / sizeof (table)[0])

/* The counter's value in state `base`. */
uint64_t counter_value(const struct counter *c, const void *base);

/* Packs n key/value pairs (the caller's map counts them). */
void counters_pack(msgpack_packer *pk, const struct counter *c, size_t n,
                   const void *base);

/* Registers each counter with a metric name (read at scrape time: base
 * must outlive m). 0 or ERR_NOMEM. */
int counters_metrics(metrics_t *m, const struct counter *c, size_t n,
                     const void *base);

/* " key value" for each counter, appended at buf's end (truncated to
 * len). Returns buf. */
char *counters_line(char *buf, size_t len, const struct counter *c,
                    size_t n, const void *base);

#endif
