/* series.h -- an array of doubles that grows by appending: one data
 * column (Close, Volume, bar times) or one indicator output.
 *
 * Values are numbered from 0 (the first ever appended) to len - 1 (the
 * newest), and keep their numbers for good. A series may be bounded
 * (series_keep): it then holds only the newest values, at least `keep`
 * of them, and forgets older ones, so its memory stops growing. The
 * values held are numbers off .. len - 1, contiguous in v:
 *
 *   SERIES_AT(s, i)       value number i, off <= i < len (an lvalue)
 *   series_back(s, 1)     the newest value
 *
 * A bounded series is a periodically compacted array: it grows to twice
 * `keep` values, then moves the newest `keep` to the front, so an append
 * is amortised O(1) and allocates nothing once the array is that big. */
#ifndef LT_SERIES_H
#define LT_SERIES_H

#include <stddef.h>

#define SERIES_MAP_MIN (1u << 20)   /* bytes from which a series is
                                       mapped rather than malloc'd */

struct series {
    double *v;                  /* values held: v[0] is number off */
    size_t len;                 /* values appended in all */
    size_t off;                 /* values forgotten (the oldest held) */
    size_t cap;                 /* values allocated */
    size_t keep;                /* 0: hold every value; else at least
                                   the newest keep */
    int mapped;                 /* v is an mmap of cap values */
};

/* Value number i of s; off <= i < len. */
#define SERIES_AT(s, i) ((s)->v[(i) - (s)->off])

void series_init(struct series *s);
void series_free(struct series *s);
/* From now on holds at least the newest `keep` values (0: all of them);
 * takes effect when the array is next full. */
void series_keep(struct series *s, size_t keep);
/* Appends one value; 0 or ERR_NOMEM. */
int series_push(struct series *s, double x);
/* The value `back` places from the end (1 = last); NaN if out of range
 * or no longer held. */
double series_back(const struct series *s, size_t back);
/* Value number i; NaN if i >= len or it is no longer held. */
double series_get(const struct series *s, size_t i);
/* Values held (len - off). */
size_t series_held(const struct series *s);

#endif
