/* symtab.c -- the growing symbol table (see symtab.h): names in one
 * array by number, an open-addressing index of numbers by name hash. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "symtab.h"
#include "util.h"

struct symtab {
    char **names;                   /* by number, each owned */
    size_t len, cap;                /* used, allocated */
    int *index;                     /* slots: a number, or -1 */
    size_t index_cap;               /* slots, a power of two */
    int max;                        /* most names */
};

symtab_t *symtab_new(int max)
{
    symtab_t *self;

    assert(max >= 1);
    self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->max = max;
    return self;
}

void symtab_destroy(symtab_t **self_p)
{
    symtab_t *self = *self_p;

    if (!self)
        return;
    for (size_t i = 0; i < self->len; i++)
        free(self->names[i]);
    free(self->names);
    free(self->index);
    free(self);
    *self_p = NULL;
}

/* The slot of `name`: where its number is, or the empty one where it
 * would go. The index is never more than half full. */
static size_t s_slot(const symtab_t *self, const char *name)
{
    size_t mask = self->index_cap - 1;
    size_t i = (size_t)hash_str(HASH_INIT, name) & mask;

    while (self->index[i] >= 0 &&
           strcmp(self->names[self->index[i]], name) != 0)
        i = (i + 1) & mask;
    return i;
}

/* Doubles the index (16 slots at first) and puts every number back. */
static int s_rehash(symtab_t *self)
{
    size_t cap = self->index_cap ? self->index_cap * 2 : 16;
    int *old = self->index;
    size_t old_cap = self->index_cap;

    self->index = malloc(cap * sizeof *self->index);
    if (!self->index) {
        self->index = old;
        return ERR_NOMEM;
    }
    self->index_cap = cap;
    for (size_t i = 0; i < cap; i++)
        self->index[i] = -1;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] >= 0)
            self->index[s_slot(self, self->names[old[i]])] = old[i];
    free(old);
    return ERR_OK;
}

int symtab_find(const symtab_t *self, const char *name)
{
    assert(self && name);
    if (!self->len)
        return -1;
    return self->index[s_slot(self, name)];
}

int symtab_add(symtab_t *self, const char *name)
{
    size_t slot;
    int rc;

    assert(self && name);
    rc = symtab_find(self, name);
    if (rc >= 0)
        return rc;
    if (!symbol_valid(name))
        return ERR_INVALID;
    if (self->len >= (size_t)self->max)
        return ERR_TOO_LARGE;
    if ((self->len + 1) * 2 > self->index_cap) {
        rc = s_rehash(self);
        if (rc)
            return rc;
    }
    rc = grow((void **)&self->names, &self->cap, self->len + 1,
              sizeof *self->names, (size_t)self->max);
    if (rc)
        return rc;
    self->names[self->len] = strdup(name);
    if (!self->names[self->len])
        return ERR_NOMEM;
    slot = s_slot(self, name);
    self->index[slot] = (int)self->len;
    return (int)self->len++;
}

int symtab_len(const symtab_t *self)
{
    return (int)self->len;
}

const char *symtab_name(const symtab_t *self, int i)
{
    assert(self && i >= 0 && (size_t)i < self->len);
    return self->names[i];
}
