/* dedup.c -- a bounded set of recent signal ids (ring + hash set). */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "util.h"

struct entry {
    char id[DEDUP_ID];              /* the id, NUL-terminated */
    uint64_t h;                     /* its hash, kept for deletes */
};

struct dedup {
    struct entry *ring;             /* ids, oldest at `head` once full */
    size_t cap;                     /* ring size */
    size_t n;                       /* ids held */
    size_t head;                    /* next ring slot to (over)write */
    int32_t *slot;                  /* ring index per slot, -1 if empty */
    size_t mask;                    /* slot count - 1 (a power of two) */
};

static uint64_t s_hash(const char *id)
{
    return mix64(hash64(HASH_INIT, id, strlen(id)));
}

/* Copies at most DEDUP_ID - 1 bytes of `id`, so lookups and inserts
 * agree on what an over-long id is. */
static void s_key(char out[DEDUP_ID], const char *id)
{
    size_t n = strnlen(id, DEDUP_ID - 1);
    memcpy(out, id, n);
    out[n] = '\0';
}

dedup_t *dedup_new(size_t cap)
{
    dedup_t *self;
    size_t slots = 8;

    assert(cap >= 1 && cap < INT32_MAX / 2);
    while (slots < cap * 2)         /* load factor at most 1/2 */
        slots *= 2;
    self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ring = calloc(cap, sizeof *self->ring);
    self->slot = malloc(slots * sizeof *self->slot);
    if (!self->ring || !self->slot) {
        dedup_destroy(&self);
        return NULL;
    }
    for (size_t i = 0; i < slots; i++)
        self->slot[i] = -1;
    self->cap = cap;
    self->mask = slots - 1;
    return self;
}

void dedup_destroy(dedup_t **self_p)
{
    if (*self_p) {
        free((*self_p)->ring);
        free((*self_p)->slot);
        free(*self_p);
        *self_p = NULL;
    }
}

/* The slot holding `key`, or the empty slot where it would go. */
static size_t s_find(const dedup_t *self, const char *key, uint64_t h)
{
    size_t i = h & self->mask;
    while (self->slot[i] >= 0) {
        const struct entry *e = &self->ring[self->slot[i]];
        if (e->h == h && strcmp(e->id, key) == 0)
            break;
        i = (i + 1) & self->mask;
    }
    return i;
}

/* Empties slot i and shifts later members of its probe run back, so
 * every remaining key stays reachable without tombstones. */
static void s_delete(dedup_t *self, size_t i)
{
    size_t j = i;
    for (;;) {
        size_t home;
        j = (j + 1) & self->mask;
        if (self->slot[j] < 0)
            break;
        home = self->ring[self->slot[j]].h & self->mask;
        /* Move j's key into the hole unless its home lies cyclically
         * in (i, j]: then the probe from home never crosses the hole. */
        if (i <= j ? (home <= i || home > j) : (home <= i && home > j)) {
            self->slot[i] = self->slot[j];
            i = j;
        }
    }
    self->slot[i] = -1;
}

int dedup_has(const dedup_t *self, const char *id)
{
    char key[DEDUP_ID];
    assert(self && id);
    s_key(key, id);
    return self->slot[s_find(self, key, s_hash(key))] >= 0;
}

void dedup_add(dedup_t *self, const char *id)
{
    char key[DEDUP_ID];
    struct entry *e;
    uint64_t h;
    size_t i;

    assert(self && id);
    s_key(key, id);
    h = s_hash(key);
    i = s_find(self, key, h);
    if (self->slot[i] >= 0)
        return;
    e = &self->ring[self->head];
    if (self->n == self->cap) {     /* forget the oldest id */
        s_delete(self, s_find(self, e->id, e->h));
        self->n--;
        i = s_find(self, key, h);   /* the shift may have moved the hole */
    }
    memcpy(e->id, key, sizeof key);
    e->h = h;
    self->slot[i] = (int32_t)self->head;
    self->head = (self->head + 1) % self->cap;
    self->n++;
}

size_t dedup_size(const dedup_t *self)
{
    return self->n;
}
