/* exec_spool.h -- the exec output's spool: its queue of lines for the
 * child, kept in a JSON Lines file so that a sink killed (SIGKILL, a
 * crash, the stop grace period running out) loses none of them.
 *
 *   exec_spool_t *sp = exec_spool_open(path, &due, err);  lines still due
 *   exec_spool_add(sp, l);          each line accepted, before write()
 *                                   returns it as taken
 *   exec_spool_mark(sp, "done", from, to);   written whole to the child
 *   exec_spool_mark(sp, "again", from, to);  its child died unread
 *   exec_spool_delivered(sp, l);    read by the child: leaves the queue
 *   exec_spool_compact(sp, head, sent, 0);   now and then; 1 at exit
 *   exec_spool_destroy(&sp);
 *
 * The file holds, one per line:
 *   - a line for the child, as it gets it (the signal's JSON object);
 *   - {"done":N}: the line at line N of the file was written whole into
 *     a child's stdin (what is in the pipe outlives a killed sink);
 *   - {"again":N}: that child died before reading it: due again;
 *   - {"delivered":ID,"engine":ENG,"seq":SEQ}: a line delivered before the
 *     file was last rewritten, kept for the pipeline's duplicate filter.
 * The file is a spool (spool.h: its lock, one write(2) per record, the
 * read-back and the rewrite, and what a failure does); it is rewritten
 * when opened, once it has grown by SPOOL_COMPACT_LINES lines, and at
 * exit. A line damaged by a crash is skipped with one WARN line. */
#ifndef LT_EXEC_SPOOL_H
#define LT_EXEC_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "spool.h"

/* A line of the exec output's queue. */
struct exec_line {
    struct exec_line *next;
    uint64_t no;                    /* its line in the spool file; 0: none */
    uint64_t seq;                   /* the signal's seq; 0: unknown */
    char id[17];                    /* the signal's id; "": unknown */
    char eng[64];                   /* its engine id; "": unknown */
    size_t len;                     /* bytes in data, the '\n' included */
    char data[];                    /* the JSON and '\n' */
};

/* A line holding a copy of json[0..len) and a '\n', not linked, no =
 * 0; id, eng and seq are the caller's to fill. NULL if out of memory. */
struct exec_line *exec_line_new(const char *json, size_t len);
/* Frees the list starting at l. */
void exec_line_free_all(struct exec_line *l);

typedef struct exec_spool exec_spool_t;

/* Opens the spool at `path` (created if missing, with its directory),
 * takes its lock and reads it back: the lines still due go, in order, to
 * a new list in *due (the caller owns it; NULL if none), the delivered
 * ones to the ids exec_spool_seen() reports. Then rewrites the file with
 * just that. NULL with a reason in err[ERR_LEN] (the file is left as it
 * was). */
exec_spool_t *exec_spool_open(const char *path, struct exec_line **due,
                              char *err);
/* Compacts nothing; syncs and closes the file, releases the lock. Sets
 * *self_p to NULL. Idempotent. */
void exec_spool_destroy(exec_spool_t **self_p);
const char *exec_spool_path(const exec_spool_t *self);

/* Appends l (sets l->no). 0, or -1 (logged, rate-limited; see spool.h's
 * failure policy): the file no longer holds everything until the next
 * rewrite, which exec_spool_compact() then tries once a second. */
int exec_spool_add(exec_spool_t *self, struct exec_line *l);
/* Appends {"op":no} for each line of the list from `from` up to, not
 * including, `to` (NULL: its end), in one write(2). op: "done" or
 * "again". */
void exec_spool_mark(exec_spool_t *self, const char *op,
                     const struct exec_line *from,
                     const struct exec_line *to);
/* Remembers that l's signal was delivered (the last SINK_DEDUP_IDS). */
void exec_spool_delivered(exec_spool_t *self, const struct exec_line *l);
/* Reports the delivered signals remembered, oldest first. */
void exec_spool_seen(const exec_spool_t *self,
                     void (*fn)(void *arg, const char *eng, const char *id,
                                uint64_t seq),
                     void *arg);

/* Rewrites the file from the queue `head` (lines before `sent` written
 * whole to the child, the others due) and the delivered ids, renumbering
 * the lines (l->no), when `force` is set, when it has grown by
 * SPOOL_COMPACT_LINES lines, or (once a second) after a failed write.
 * 0 if the file now holds every line of the queue, -1 if not (logged). */
int exec_spool_compact(exec_spool_t *self, struct exec_line *head,
                       const struct exec_line *sent, int force);
/* The spool file underneath (borrowed). */
spool_t *exec_spool_file(const exec_spool_t *self);

#endif
