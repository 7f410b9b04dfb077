/* series.h -- a growable array of doubles: one data column (Close,
 * Volume, bar times) or one indicator output. Appends are amortised O(1);
 * history is never trimmed, so x[0] stays the first bar. */
#ifndef LT_SERIES_H
#define LT_SERIES_H

#include <stddef.h>

#define SERIES_MAP_MIN (1u << 20)   /* bytes from which a series is
                                       mapped rather than malloc'd */

struct series {
    double *v;                  /* values, oldest first */
    size_t len;                 /* values in use */
    size_t cap;                 /* values allocated */
    int mapped;                 /* v is an mmap of cap values */
};

void series_init(struct series *s);
void series_free(struct series *s);
/* Appends one value; 0 or ERR_NOMEM. */
int series_push(struct series *s, double x);
/* The value `back` places from the end (1 = last); NaN if out of range. */
double series_back(const struct series *s, size_t back);

#endif
