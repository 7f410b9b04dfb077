/* series.c -- growable double arrays. */
#define _GNU_SOURCE                 /* mremap */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "err.h"
#include "series.h"

void series_init(struct series *s)
{
    s->v = NULL;
    s->len = s->cap = 0;
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

/* Grows to `cap` values. Past SERIES_MAP_MIN bytes the array lives in its
 * own mapping and grows with mremap, which moves page tables instead of
 * copying: growing a million-bar column costs microseconds, not the tens
 * of milliseconds a copy would stall one bar for. */
static int s_grow(struct series *s, size_t cap)
{
    size_t bytes = cap * sizeof *s->v;
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
        if (s->len)
            memcpy(p, s->v, s->len * sizeof *s->v);
        free(s->v);
        s->mapped = 1;
    }
    s->v = p;
    s->cap = cap;
    return ERR_OK;
}

int series_push(struct series *s, double x)
{
    if (s->len == s->cap && s_grow(s, s->cap ? s->cap * 2 : 256))
        return ERR_NOMEM;
    s->v[s->len++] = x;
    return ERR_OK;
}

double series_back(const struct series *s, size_t back)
{
    return back >= 1 && back <= s->len ? s->v[s->len - back] : NAN;
}
