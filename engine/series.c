/* series.c -- growable double arrays. */
#include <math.h>
#include <stdlib.h>

#include "err.h"
#include "series.h"

void series_init(struct series *s)
{
    s->v = NULL;
    s->len = s->cap = 0;
}

void series_free(struct series *s)
{
    free(s->v);
    series_init(s);
}

int series_push(struct series *s, double x)
{
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        double *v = realloc(s->v, cap * sizeof *v);
        if (!v)
            return ERR_NOMEM;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->len++] = x;
    return ERR_OK;
}

double series_back(const struct series *s, size_t back)
{
    return back >= 1 && back <= s->len ? s->v[s->len - back] : NAN;
}
