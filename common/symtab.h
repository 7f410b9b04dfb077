/* symtab.h -- a growing table of symbols: each distinct name gets the
 * next number (0, 1, 2, ...) once and keeps it; lookups by name are one
 * hash probe. The programs number their symbols with it, those listed at
 * start and those a feed brings later (--symbols '*').
 *
 *   symtab_t *t = symtab_new(SYMTAB_MAX);
 *   int i = symtab_add(t, "AAPL");     0; again: 0; "MSFT": 1
 *   symtab_find(t, "MSFT");            1; unknown: -1
 *   symtab_name(t, 1);                 "MSFT"
 *   symtab_destroy(&t);
 *
 * Growth is bounded by the `max` given at creation (a feed cannot make
 * the table grow without end by sending made-up names). */
#ifndef LT_SYMTAB_H
#define LT_SYMTAB_H

#include <stddef.h>

/* Most symbols a program numbers. A whole market is far fewer (about
 * 12,000 US stocks and ETFs, a few thousand forex or crypto pairs); the
 * cap bounds what names from outside can cost (each has a store, a
 * strategy, counters). */
#define SYMTAB_MAX 100000

typedef struct symtab symtab_t;

/* An empty table that will hold at most `max` (>= 1) names. NULL if out
 * of memory. */
symtab_t *symtab_new(int max);
/* Frees the table and sets *self_p to NULL; idempotent. */
void symtab_destroy(symtab_t **self_p);

/* The number of `name`: its old one, or the next one if it is new (the
 * name is copied). ERR_INVALID if it is not a valid symbol
 * (symbol_valid), ERR_TOO_LARGE if the table is full, ERR_NOMEM. */
int symtab_add(symtab_t *self, const char *name);
/* The number of `name`, or -1 if it has none. */
int symtab_find(const symtab_t *self, const char *name);
/* Names numbered so far. */
int symtab_len(const symtab_t *self);
/* The name of number i (0 <= i < symtab_len), valid while the table
 * lives. */
const char *symtab_name(const symtab_t *self, int i);

#endif
