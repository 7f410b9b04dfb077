/* polygon_cache.h -- the polygon source's history cache: one CSV file per
 * REST server, symbol and timeframe, so a restarted feeder fetches only
 * the bars after the last one it already has.
 *
 *   char path[PATH_MAX];
 *   polygon_cache_path(path, sizeof path, dir, base_url, "AAPL", 60);
 *   rc = polygon_cache_load(path, "AAPL", 60, &bars, &n, err);
 *   ...
 *   rc = polygon_cache_save(path, bars, n, err);
 *
 * File: a first line "# livetrade polygon cache v1 SYM TF", then one line
 * "t,o,h,l,c,v,vw,n" per bar, oldest first (vw empty when absent, n -1).
 * Bars in a file are an unbroken record: every bar the source had between
 * the first and the last one. Saving writes a temporary file beside it and
 * renames it over the old one, so a reader sees the old or the new file,
 * never half of one. */
#ifndef LT_FEEDER_POLYGON_CACHE_H
#define LT_FEEDER_POLYGON_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "msg_bar.h"

#define POLYGON_CACHE_MAX_BARS 100000   /* bars kept per file (newest) */

/* The file for (base_url, sym, tf) in dir: "SYM-TFs-HASH.csv", HASH being
 * a hash of base_url so two servers never share a file. 0, or
 * ERR_TOO_LARGE if it does not fit in n bytes. */
int polygon_cache_path(char *out, size_t n, const char *dir,
                       const char *base_url, const char *sym, int64_t tf);

/* Reads the file at path. Returns 0 with a malloc'd array (NULL when *n
 * is 0; a missing file is 0 bars) that the caller frees; bars have src
 * "polygon", sym and tf stamped. ERR_PARSE (a wrong header, a bad line,
 * bars out of order or refused by msg_bar_check), ERR_IO, ERR_TOO_LARGE or
 * ERR_NOMEM with a reason in err[ERR_LEN]; then *bars is NULL, *n 0. */
int polygon_cache_load(const char *path, const char *sym, int64_t tf,
                       struct bar **bars, size_t *n, char *err);

/* Replaces the file at path with bars[0..n) (ascending t, one symbol and
 * timeframe, taken from bars[0]; n >= 1). 0, or ERR_IO with a reason. */
int polygon_cache_save(const char *path, const struct bar *bars, size_t n,
                       char *err);

#endif
