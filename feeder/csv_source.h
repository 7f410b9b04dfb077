/* csv_source.h -- source_csv: livetrade-feeder replaying one CSV file
 * (common/csv.h) as the bars of one symbol.
 *
 *   cfg.ops = &source_csv;           --data GOOG.csv [--speed X]
 *   feeder_new(&cfg, ...)            as for any source
 *
 * A pull source (source.h). The first cfg->history bars of the file are
 * the history (stored, served on request, not published); the rest are
 * replayed live, one per call of next_bar:
 *   speed == 0   the feeder's --interval paces them (0: as fast as the
 *                subscribers take them)
 *   speed > 0    by the bars' own times, `speed` times faster than real
 *                time: bar k is due (t_k - t_h) / speed after the source
 *                opened, t_h being the time of the last history bar (of
 *                the first bar without history, which is then due at
 *                once); next_bar returns 0 until then. The feeder should
 *                then tick often (every millisecond).
 * At the end of the file next_bar returns ERR_NOTFOUND: the feeder marks
 * the symbol done and keeps serving requests (or exits, with
 * --exit-when-done). */
#ifndef LT_FEEDER_CSV_SOURCE_H
#define LT_FEEDER_CSV_SOURCE_H

#include "source.h"

extern const struct source_ops source_csv;

/* The values of --data (NULL: not given) and --speed (0: not given). */
const char *source_csv_data(void);
double source_csv_speed(void);

#endif
