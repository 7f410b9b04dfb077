/* csv.h -- OHLCV bars of one symbol from a CSV file: backtesting.py's
 * data files and plain exports, for the csv feeder and `livetrade
 * backtest`.
 *
 *   struct csv_data d;
 *   struct csv_opts o = { .symbol = "GOOG" };
 *   csv_data_init(&d);
 *   if (csv_load("GOOG.csv", &o, &d, err))    err: "GOOG.csv:12: ..."
 *       ...
 *   for (size_t i = 0; i < d.n; i++)          d.bars[i], oldest first
 *       ...
 *   csv_data_free(&d);
 *
 * Layout. The first non-blank line is a header, unless its second field
 * is a number (then the file has no header and its columns are time,
 * open, high, low, close[, volume]). Columns are found by header name,
 * case-insensitively:
 *   time     the first column named "" (pandas' index), time, timestamp,
 *            date, datetime, index or t; else the first column
 *   open high low close      also o h l c; all four required
 *   volume   also vol, v; optional: without it every volume is 0 (not
 *            backtesting.py's NaN: a bar's volume must be a number)
 *   vwap     also vw: bar.vw when a positive number, else absent
 *   trades   also n: bar.n when a whole number >= 0, else absent
 * Every column other than time and open..volume (vwap and trades
 * included) is kept as an extra column: its header name and one double
 * per bar (NaN where empty or not a number), for strategies' extra data.
 * So `,Open,High,Low,Close,Volume` (backtesting.py's GOOG.csv) and
 * `time,open,high,low,close,volume` both load.
 *
 * Fields are separated by commas and may be double-quoted ("" inside
 * quotes is a quote); spaces around a field are ignored; lines end with
 * LF or CRLF; blank lines and a UTF-8 byte order mark are skipped. Every
 * row has as many fields as the header.
 *
 * Times (csv_parse_time), all read as UTC unless they carry an offset:
 *   2004-08-19                 midnight
 *   2017-04-19 09:00[:00[.123456]]   'T' or a space before the time
 *   ...Z, ...+02:00, ...-0500  an offset, converted to UTC
 *   1700000000, 1700000000.5   a number: epoch seconds below 10^11,
 *   1700000000000              epoch milliseconds from 10^11 on (10^11 s
 *                              is the year 5138, 10^11 ms is 1973-03-03)
 * Times are kept to the millisecond (finer digits are dropped).
 * csv_parse_time gives times before 1970 as negative numbers; csv_load
 * refuses them (a bar's time cannot be negative).
 *
 * Checks. Open, high, low and close must be given; every bar must pass
 * msg_bar_check() (positive finite prices, high >= low, volume >= 0). Rows
 * out of time order are sorted by time, as backtesting.py does, and
 * counted in `unsorted` so the caller can warn; two rows with the same
 * time are an error. Errors name the file and line: "GOOG.csv:12: bad
 * Close value 'abc'".
 *
 * Bounds. A file over max_bytes (CSV_MAX_BYTES, 256 MiB) or with more
 * than max_rows bars (CSV_MAX_ROWS, 2,000,000) is refused with
 * ERR_TOO_LARGE, as is a line over CSV_MAX_LINE bytes or a header with
 * more than CSV_MAX_COLS columns.
 *
 * Timeframe. bar.tf of every bar is the most common difference between
 * consecutive bar times (the smaller on a tie), in whole seconds, at
 * least 1; a file of one bar gets one day if that bar starts at midnight,
 * else 60 seconds. */
#ifndef LT_CSV_H
#define LT_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "msg_bar.h"

#define CSV_MAX_BYTES (256u << 20)  /* largest file accepted */
#define CSV_MAX_ROWS 2000000        /* most bars in one file */
#define CSV_MAX_LINE 65536          /* longest line, newline included */
#define CSV_MAX_COLS 64             /* most columns */
#define CSV_NAME 64                 /* longest column name + 1 */
#define CSV_EPOCH_MS_FROM 100000000000LL    /* numbers from here are ms */

struct csv_opts {
    const char *symbol;             /* bar.sym of every bar; must be valid */
    const char *src;                /* bar.src; NULL: "csv" */
    size_t max_rows;                /* 0: CSV_MAX_ROWS */
    size_t max_bytes;               /* 0: CSV_MAX_BYTES */
};

struct csv_data {
    struct bar *bars;               /* n bars, oldest first */
    size_t *line;                   /* line in the file of each bar */
    size_t n;                       /* bars */
    int64_t tf;                     /* timeframe of every bar, seconds */
    int has_header;                 /* 0: positional columns */
    int has_volume;                 /* the file had a volume column */
    size_t unsorted;                /* rows that came after a later one
                                       (0: the file was in order) */
    int nextra;                     /* extra columns */
    char (*extra_name)[CSV_NAME];   /* their names, as in the header */
    double **extra;                 /* extra[j][i]: column j at bar i */
};

/* An empty csv_data (nothing to free). */
void csv_data_init(struct csv_data *d);
/* Frees what csv_load put in d and empties it; idempotent. */
void csv_data_free(struct csv_data *d);

/* Loads `path` into d (which must be empty: csv_data_init). Returns 0, or
 * an error with one line in err[ERR_LEN] that names the file, and the line
 * when one is at fault: ERR_NOTFOUND / ERR_IO (cannot open or read),
 * ERR_PARSE (bad header, field or time), ERR_INVALID (a bar fails
 * msg_bar_check, a duplicate time, no bars), ERR_TOO_LARGE (a bound above),
 * ERR_NOMEM. On error d is left empty. */
int csv_load(const char *path, const struct csv_opts *o, struct csv_data *d,
             char *err);

/* The values of extra column `name` (case-insensitive), d->n of them; NULL
 * if there is no such column. */
const double *csv_column(const struct csv_data *d, const char *name);

/* Parses one time field (formats above) into epoch ms, UTC. 0 or -1. */
int csv_parse_time(const char *s, int64_t *ms);

/* Writes ms as "YYYY-MM-DDTHH:MM:SS", with ".mmm" when the time has
 * milliseconds (UTC, no zone suffix, as backtesting.py's naive index). */
void csv_format_time(int64_t ms, char *buf, size_t n);

/* The symbol a file stands for: its base name without the extension,
 * upper-cased ("data/goog.csv" -> "GOOG"). 0, or -1 if that is not a
 * valid symbol. */
int csv_symbol_from_path(const char *path, char out[SYM_MAX]);

#endif
