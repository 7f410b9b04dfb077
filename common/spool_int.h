/* spool_int.h -- the state of a spool (spool.c), for the tests that
 * stage what only a failing disk or a long run would: a write that
 * fails, a spool due for its rewrite. Nothing else includes it. */
#ifndef LT_SPOOL_INT_H
#define LT_SPOOL_INT_H

#include <stdint.h>

#include "log.h"
#include "spool.h"

struct spool {
    char path[SPOOL_PATH_MAX];
    char lock[SPOOL_PATH_MAX + 8];  /* path + ".lock" */
    char who[32];                   /* the output, for messages */
    int fd, lock_fd;                /* appending; the lock; -1: none */
    uint64_t lines;                 /* lines in the file */
    uint64_t appended;              /* of them, since the last rewrite */
    int broken;                     /* an append failed: rewrite first */
    int broken_errno;               /* why */
    int64_t retry_at;               /* mono ms of the next rewrite try */
    int reads;                      /* read-backs done */
    struct log_limit lim_io;        /* append and rewrite failures */
};

#endif
