/* runrec.h -- where a running `livetrade run` records its endpoints, so
 * that `livetrade status` finds a pipeline whose endpoints are private.
 *
 *   run:     runrec_write(dir, eps, 2, rec, err);   at start
 *            runrec_remove(rec);                    at exit
 *   status:  n = runrec_find(eps, max, bufs, from, sizeof from);
 *
 * The records are files `run-PID` in $XDG_RUNTIME_DIR/livetrade, else in
 * $XDG_STATE_HOME/livetrade (~/.local/state/livetrade): a line `pid N`,
 * a line `dir PATH` (the run's private directory), then one line
 * `status EP` per request endpoint that answers status requests. A record
 * whose process is gone or whose directory no longer exists (the run was
 * killed) is skipped and removed. */
#ifndef LT_RUNREC_H
#define LT_RUNREC_H

#include <limits.h>
#include <stddef.h>

#define RUNREC_EP_MAX 160           /* one endpoint, NUL included */

/* The directory of the records, in out[n]; NULL if neither variable nor
 * HOME is set (or the name is too long). */
char *runrec_dir(char *out, size_t n);

/* Writes the record of this process: `rundir` and the `neps` endpoints
 * status should ask. Its path goes to rec[PATH_MAX] (for runrec_remove).
 * Returns 0, or ERR_IO with the reason in err[ERR_LEN]. */
int runrec_write(const char *rundir, const char *const *eps, int neps,
                 char *rec, char *err);

/* Removes the record written by runrec_write; "" is accepted. */
void runrec_remove(const char *rec);

/* The endpoints of every live recorded run, at most `max`, each in
 * eps[i][RUNREC_EP_MAX]; `where` gets the records' directory (or "" if
 * there is none). Returns how many. */
int runrec_find(char (*eps)[RUNREC_EP_MAX], int max, char *where,
                size_t where_n);

#endif
