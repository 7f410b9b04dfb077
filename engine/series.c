/* series.c -- growable double arrays, optionally bounded (series.h). */
#define _GNU_SOURCE                 /* mremap */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "err.h"
#include "series.h"

#define SERIES_CAP0 256             /* values of the first allocation */

void series_init(struct series *s)
{
    s->v = NULL;
    s->len = s->off = s->cap = s->keep = 0;
    s->mapped = 0;
}

void series_free(struct series *s)
{
    if (s->mapped)
        munmap(s->v, s->cap * sizeof *s->v);
    else
        free(s->v);
    series_init(s);
}

void series_keep(struct series *s, size_t keep)
{
    s->keep = keep;
}

/* Grows to `cap` values. Past SERIES_MAP_MIN bytes the array lives in its
 * own mapping and grows with mremap, which moves page tables instead of
 * copying: growing a million-bar column costs microseconds, not the tens
 * of milliseconds a copy would stall one bar for. */
static int s_grow(struct series *s, size_t cap)
{
    size_t bytes = cap * sizeof *s->v, held = s->len - s->off;
    void *p;

    if (bytes < SERIES_MAP_MIN) {
        p = realloc(s->v, bytes);
        if (!p)
            return ERR_NOMEM;
    } else if (s->mapped) {
        p = mremap(s->v, s->cap * sizeof *s->v, bytes, MREMAP_MAYMOVE);
        if (p == MAP_FAILED)
            return ERR_NOMEM;
    } else {
        p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return ERR_NOMEM;
        if (held)
            memcpy(p, s->v, held * sizeof *s->v);
        free(s->v);
        s->mapped = 1;
    }
    s->v = p;
    s->cap = cap;
    return ERR_OK;
}

/* The array is full: a bounded series holding twice its bound forgets
 * all but the newest `keep` values; otherwise the array grows (a bounded
 * one to twice its bound at most). */
static int s_room(struct series *s)
{
    size_t held = s->len - s->off, cap;

    if (s->keep && held >= 2 * s->keep) {
        memmove(s->v, s->v + (held - s->keep), s->keep * sizeof *s->v);
        s->off += held - s->keep;
        return ERR_OK;
    }
    cap = s->cap ? s->cap * 2 : SERIES_CAP0;
    if (s->keep && cap > 2 * s->keep && 2 * s->keep > s->cap)
        cap = 2 * s->keep;
    return s_grow(s, cap);
}

int series_push(struct series *s, double x)
{
    if (s->len - s->off == s->cap && s_room(s))
        return ERR_NOMEM;
    s->v[s->len++ - s->off] = x;
    return ERR_OK;
}

double series_back(const struct series *s, size_t back)
{
    return back >= 1 && back <= s->len - s->off ? s->v[s->len - s->off -
                                                        back] : NAN;
}

double series_get(const struct series *s, size_t i)
{
    return i >= s->off && i < s->len ? s->v[i - s->off] : NAN;
}

size_t series_held(const struct series *s)
{
    return s->len - s->off;
}
