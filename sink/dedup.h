/* dedup.h -- remembers the last N signal ids to drop duplicates.
 *
 * A ring of the most recent ids plus an open-addressing hash set over it:
 * lookups and inserts are O(1), memory is fixed at creation, and when the
 * ring is full the oldest id is forgotten.
 *
 *   dedup_t *d = dedup_new(4096);
 *   if (dedup_has(d, s.id)) ... drop ...
 *   else { ... process ...; dedup_add(d, s.id); }
 *   dedup_destroy(&d);
 */
#ifndef LT_DEDUP_H
#define LT_DEDUP_H

#include <stddef.h>

#define DEDUP_ID 17                 /* longest id + 1 (struct signal.id) */

typedef struct dedup dedup_t;

/* Remembers up to `cap` ids (cap >= 1). NULL on allocation failure. */
dedup_t *dedup_new(size_t cap);
void dedup_destroy(dedup_t **self_p);

/* 1 if `id` is among the remembered ids, else 0. Ids longer than
 * DEDUP_ID - 1 are compared on their first DEDUP_ID - 1 bytes. */
int dedup_has(const dedup_t *self, const char *id);
/* Remembers `id` (no-op if already there), forgetting the oldest id if
 * the ring is full. */
void dedup_add(dedup_t *self, const char *id);
/* Number of ids remembered. */
size_t dedup_size(const dedup_t *self);

#endif
