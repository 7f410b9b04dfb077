/* spool.h -- a file of lines that one process appends records to and
 * reads back at its next start, so that what it took on survives a
 * SIGKILL: the durable queue under livetrade-sink's alert and exec
 * outputs. What a line holds and when it is done is the caller's; this
 * module owns the file.
 *
 *   spool_t *sp = spool_open(path, "exec", err);    the lock taken
 *   spool_read(sp, on_line, arg, err);              what the last run left
 *   spool_rewrite(sp, write_all, arg);              just that; appends go
 *                                                   to the new file
 *   spool_append(sp, buf, n, 1);                    each record
 *   spool_compact(sp, write_all, arg, 0);           now and then
 *   spool_destroy(&sp);                             synced, lock released
 *
 * - The lock (PATH.lock, flock) keeps a second process off the file.
 * - Records are appended with one write(2) each (O_APPEND, mode 0600,
 *   never through a symbolic link) and not fsync'ed: the page cache
 *   outlives the process, an fsync per record would cost milliseconds.
 * - Reading back passes each whole line with its number in the file;
 *   a last line without its '\n' (cut short by a crash) is skipped, as
 *   are lines the caller cannot read. A symbolic link is refused.
 * - A rewrite goes to a temporary file beside it (mkstemp), fsync'ed,
 *   renamed over it, then the directory fsync'ed.
 *
 * Failure policy. A failed append is one rate-limited ERROR line naming
 * the file; the caller keeps going (what it holds in memory is intact),
 * but the file may now lack that record or end in a torn one, so nothing
 * more is appended until a rewrite succeeds: spool_compact() tries one
 * at once a second (SPOOL_RETRY_MS) and that rewrite recovers the file.
 * A failed rewrite while running is logged the same way and leaves the
 * old file in place. Only spool_open(), spool_read() and spool_rewrite()
 * return their failure to the caller unlogged, for a start that must
 * not go on without its spool. */
#ifndef LT_SPOOL_H
#define LT_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SPOOL_PATH_MAX 1024         /* longest path, NUL included */
#define SPOOL_COMPACT_LINES 20000   /* appended lines between rewrites */
#define SPOOL_LINE_MAX (1u << 20)   /* longer lines read back: skipped */
#define SPOOL_RETRY_MS 1000         /* between rewrites after a failure */

typedef struct spool spool_t;

/* Takes the lock of the spool at `path` (PATH.lock), creating the
 * directories up to it; `who` (e.g. "exec") names the output in
 * messages. The file itself is not opened. NULL with a reason in
 * err[ERR_LEN]. */
spool_t *spool_open(const char *path, const char *who, char *err);

/* Syncs what was appended, closes the file and releases the lock. Sets
 * *self_p to NULL. Idempotent. */
void spool_destroy(spool_t **self_p);

const char *spool_path(const spool_t *self);

/* What spool_read() does with one line: line[0..len) is whole, its '\n'
 * included (len >= 2: empty lines are skipped, though numbered), `no`
 * its number in the file from 1. Returns 0, 1 if the line is not one the
 * caller can read (skipped and counted), or ERR_NOMEM to stop. */
typedef int (spool_line_fn)(void *arg, const char *line, size_t len,
                            uint64_t no);

/* Reads the file back (a missing file is empty), each line to fn. The
 * first read of a spool logs one WARN line for the lines it skipped.
 * 0, or -1 with errno set and a reason in err[ERR_LEN]. */
int spool_read(spool_t *self, spool_line_fn *fn, void *arg, char *err);

/* What a rewrite writes: the records to keep, to f. Returns the number of
 * lines written, or -1 with errno set. */
typedef long (spool_write_fn)(void *arg, FILE *f);

/* Replaces the file by what fn writes (see above), then appends to the
 * new one, its lines numbered on from those fn wrote. 0, or -1 with errno
 * set: the file is as it was, unless it was replaced but cannot be opened
 * again (then nothing is appended until the next rewrite). Not logged. */
int spool_rewrite(spool_t *self, spool_write_fn *fn, void *arg);

/* Rewrites the file (spool_rewrite) when `force` is set, once
 * SPOOL_COMPACT_LINES lines have been appended since the last rewrite,
 * or, once a second, after a failure. A failure is logged (rate-limited).
 * 1 if rewritten (the lines fn wrote are now the file's first), 0 if
 * not but the file holds every record appended, -1 if it does not. */
int spool_compact(spool_t *self, spool_write_fn *fn, void *arg, int force);

/* Appends buf[0..n), `lines` whole lines, with one write(2) (looping on
 * a short write only). 0, or -1 with errno set (see the failure policy
 * above; while nothing is appended, errno is that of the failure). */
int spool_append(spool_t *self, const char *buf, size_t n, uint64_t lines);

/* The number of lines in the file: the last appended is line
 * spool_lines(). */
uint64_t spool_lines(const spool_t *self);

/* {==================== plain files =================== */

/* Appends buf[0..n) to the file at `path` (created, mode 0600; never
 * through a symbolic link), after ending with a '\n' a last line a crash
 * cut short. 0, or -1 with errno set. */
int spool_file_append(const char *path, const char *buf, size_t n);

/* Puts the finished temporary file f (named tmp, from tmp_private()) in
 * place of `path`: flushes, fsyncs and closes it, renames it, fsyncs the
 * directory. 0, or -1 with errno set (tmp removed, path as it was). */
int spool_file_replace(FILE *f, const char *tmp, const char *path);

/* }==================================================== */

#endif
