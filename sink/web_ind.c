/* web_ind.c -- a symbol's indicator lines for the dashboard (see
 * web_ind.h). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"
#include "web_ind.h"

struct web_ind {
    size_t cap;                     /* points kept, at most */
    char eng[64];                   /* whose lines; "" none yet */
    int64_t heard;                  /* mono ms of its last point */
    int nnames;                     /* values per point */
    char names[SIG_MAX_IND][SIG_NAME];
    int64_t *t;                     /* ring of cap bar times, oldest at
                                       head */
    double *v;                      /* cap rows of nnames values */
    size_t head, n;
};

web_ind_t *web_ind_new(size_t cap)
{
    web_ind_t *self = calloc(1, sizeof *self);

    if (!self)
        return NULL;
    self->cap = cap;
    self->t = calloc(cap, sizeof *self->t);
    if (!self->t) {
        free(self);
        return NULL;
    }
    return self;
}

void web_ind_destroy(web_ind_t **self_p)
{
    web_ind_t *self = *self_p;

    if (!self)
        return;
    free(self->t);
    free(self->v);
    free(self);
    *self_p = NULL;
}

size_t web_ind_count(const web_ind_t *self)
{
    return self->n;
}

static int s_same_names(const web_ind_t *self, const struct ind_point *p)
{
    if (p->n != self->nnames)
        return 0;
    for (int k = 0; k < p->n; k++)
        if (strcmp(p->v[k].name, self->names[k]) != 0)
            return 0;
    return 1;
}

/* Empty lines of engine `eng` with p's indicator names. 0 or ERR_NOMEM
 * (then the lines are empty and no engine's). */
static int s_reset(web_ind_t *self, const char *eng,
                   const struct ind_point *p)
{
    double *v = realloc(self->v, self->cap * (size_t)(p->n ? p->n : 1) *
                                 sizeof *v);

    self->n = self->head = 0;
    self->eng[0] = '\0';
    if (!v)
        return ERR_NOMEM;
    self->v = v;
    snprintf(self->eng, sizeof self->eng, "%s", eng);
    self->nnames = p->n;
    for (int k = 0; k < p->n; k++)
        snprintf(self->names[k], sizeof self->names[k], "%s", p->v[k].name);
    return 0;
}

/* Ready for a point of `eng` like p: taken over from a silent engine,
 * started again for new names. 0, ERR_INVALID (another engine's lines)
 * or ERR_NOMEM. */
static int s_adopt(web_ind_t *self, const char *eng,
                   const struct ind_point *p, int64_t silence)
{
    int64_t now = mono_ms();

    if (self->eng[0] && strcmp(self->eng, eng) != 0 &&
        now - self->heard < silence)
        return ERR_INVALID;
    if (strcmp(self->eng, eng) != 0 || !s_same_names(self, p))
        if (s_reset(self, eng, p))
            return ERR_NOMEM;
    self->heard = now;
    return 0;
}

static void s_put(web_ind_t *self, size_t slot, const struct ind_point *p)
{
    self->t[slot] = p->t;
    for (int k = 0; k < self->nnames; k++)
        self->v[slot * (size_t)self->nnames + (size_t)k] =
            k < p->n ? p->v[k].v : NAN;
}

int web_ind_add(web_ind_t *self, const char *eng, const struct ind_point *p,
                int64_t tf_ms)
{
    int64_t silence = 3 * tf_ms > WEB_IND_TAKEOVER_MS ? 3 * tf_ms :
                      WEB_IND_TAKEOVER_MS;
    int64_t last;
    size_t slot;
    int rc = s_adopt(self, eng, p, silence), missing;

    if (rc)
        return rc;
    last = self->n ? self->t[(self->head + self->n - 1) % self->cap] : -1;
    if (self->n && p->t < last)
        return ERR_INVALID;
    missing = !self->n || (tf_ms > 0 && p->t - last > tf_ms);
    if (self->n && p->t == last) {
        slot = (self->head + self->n - 1) % self->cap;
    } else if (self->n < self->cap) {
        slot = (self->head + self->n) % self->cap;
        self->n++;
    } else {
        slot = self->head;
        self->head = (self->head + 1) % self->cap;
    }
    s_put(self, slot, p);
    return missing ? WEB_IND_MISSING : WEB_IND_KEPT;
}

int web_ind_merge(web_ind_t *self, const char *eng,
                  const struct ind_point *p, size_t n)
{
    size_t w, i = 0, j = 0, m = 0, skip;
    int64_t *t;
    double *v;
    int rc;

    if (!n)
        return 0;
    rc = s_adopt(self, eng, &p[n - 1], INT64_MAX);
    if (rc)
        return rc;
    w = (size_t)self->nnames;
    t = malloc((n + self->n) * sizeof *t);
    v = malloc((n + self->n) * (w ? w : 1) * sizeof *v);
    if (!t || !v) {
        free(t);
        free(v);
        return ERR_NOMEM;
    }
    /* Both oldest first: the held point wins a tie. */
    while (i < n || j < self->n) {
        size_t hs = (self->head + j) % self->cap;
        if (j < self->n && (i == n || self->t[hs] <= p[i].t)) {
            if (i < n && self->t[hs] == p[i].t)
                i++;
            t[m] = self->t[hs];
            memcpy(v + m * w, self->v + hs * w, w * sizeof *v);
            m++;
            j++;
        } else {
            if (!m || t[m - 1] < p[i].t) {
                t[m] = p[i].t;
                for (size_t k = 0; k < w; k++)
                    v[m * w + k] = (int)k < p[i].n ? p[i].v[k].v : NAN;
                m++;
            }
            i++;
        }
    }
    skip = m > self->cap ? m - self->cap : 0;
    memcpy(self->t, t + skip, (m - skip) * sizeof *t);
    memcpy(self->v, v + skip * w, (m - skip) * w * sizeof *v);
    self->head = 0;
    self->n = m - skip;
    free(t);
    free(v);
    return 0;
}

json_t *web_ind_json(const web_ind_t *self)
{
    json_t *j = json_object(), *names = json_array(), *pts = json_array();
    size_t w = (size_t)self->nnames;

    for (int k = 0; names && k < self->nnames; k++)
        json_array_append_new(names, json_string(self->names[k]));
    for (size_t i = 0; pts && i < self->n; i++) {
        size_t slot = (self->head + i) % self->cap;
        const double *row = self->v + slot * w;
        json_t *a;
        size_t k;
        for (k = 0; k < w && !isfinite(row[k]); k++)
            ;
        if (k == w)
            continue;               /* before any value: nothing to draw */
        a = json_array();
        json_array_append_new(a, json_integer((json_int_t)self->t[slot]));
        for (k = 0; k < w; k++)
            json_array_append_new(a, isfinite(row[k]) ? json_real(row[k])
                                                      : json_null());
        json_array_append_new(pts, a);
    }
    if (!j || !names || !pts) {
        json_decref(j);
        json_decref(names);
        json_decref(pts);
        return NULL;
    }
    json_object_set_new(j, "eng", json_string(self->eng));
    json_object_set_new(j, "names", names);
    json_object_set_new(j, "points", pts);
    return j;
}
