/* web_ind.h -- the web output's indicator lines of one symbol: the
 * engine's indicator values at each bar (live ind| messages, and the
 * engine's "indicators" history merged in), the newest `cap` bars of
 * them, for the chart to draw a point per bar.
 *
 *   web_ind_t *x = web_ind_new(1000);
 *   rc = web_ind_add(x, eng, &point, tf_ms);    a live point
 *   web_ind_merge(x, eng, points, n);           history, oldest first
 *   j = web_ind_json(x);                        for the browser
 *   web_ind_destroy(&x);
 *
 * The lines are one engine's: the first one heard from. Another engine's
 * values (a second strategy on the symbol) are ignored until the first
 * has been silent for WEB_IND_TAKEOVER_MS. A point whose indicator names
 * differ from the lines' (a reloaded strategy) starts the lines again. */
#ifndef LT_SINK_WEB_IND_H
#define LT_SINK_WEB_IND_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_ind.h"

#define WEB_IND_TAKEOVER_MS 60000   /* silence before another engine's
                                       values replace the lines */

enum { WEB_IND_KEPT = 0, WEB_IND_MISSING = 1 };

typedef struct web_ind web_ind_t;

/* Lines of at most `cap` points (> 0). NULL when out of memory. */
web_ind_t *web_ind_new(size_t cap);
void web_ind_destroy(web_ind_t **self_p);

/* A live point of engine `eng`. WEB_IND_KEPT; WEB_IND_MISSING when kept
 * but points before it are missing (the lines were empty, or it comes
 * more than tf_ms after the last one; tf_ms 0: unknown): ask for
 * history. ERR_INVALID: ignored (another engine's, or older than the
 * last point). ERR_NOMEM. */
int web_ind_add(web_ind_t *self, const char *eng, const struct ind_point *p,
                int64_t tf_ms);
/* Merges points p[n] (oldest first) of engine `eng`'s history with those
 * held (held ones win a tie) and keeps the newest cap. 0, ERR_INVALID
 * (another engine's lines are held) or ERR_NOMEM. */
int web_ind_merge(web_ind_t *self, const char *eng,
                  const struct ind_point *p, size_t n);

size_t web_ind_count(const web_ind_t *self);
/* {"eng":E,"names":[...],"points":[[t,v,...],...]} (null for NaN),
 * oldest first; NULL when out of memory. Caller owns it. */
json_t *web_ind_json(const web_ind_t *self);

#endif
