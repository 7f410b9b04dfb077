/* counters.c -- a program's counters described once (see counters.h). */
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "err.h"
#include "mp.h"

uint64_t counter_value(const struct counter *c, const void *base)
{
    uint64_t v;

    memcpy(&v, (const char *)base + c->off, sizeof v);
    return v;
}

void counters_pack(msgpack_packer *pk, const struct counter *c, size_t n,
                   const void *base)
{
    for (size_t i = 0; i < n; i++)
        mp_kuint(pk, c[i].key, counter_value(&c[i], base));
}

int counters_metrics(metrics_t *m, const struct counter *c, size_t n,
                     const void *base)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        if (c[i].metric)
            rc |= metrics_add_u64(m, METRICS_COUNTER, c[i].metric,
                                  c[i].help,
                                  (const uint64_t *)((const char *)base +
                                                     c[i].off));
    return rc ? ERR_NOMEM : 0;
}

char *counters_line(char *buf, size_t len, const struct counter *c,
                    size_t n, const void *base)
{
    size_t off = strnlen(buf, len);

    for (size_t i = 0; i < n && off + 1 < len; i++) {
        int w = snprintf(buf + off, len - off, " %s %llu", c[i].key,
                         (unsigned long long)counter_value(&c[i], base));
        if (w < 0)
            break;
        off += (size_t)w < len - off ? (size_t)w : len - off - 1;
    }
    return buf;
}
