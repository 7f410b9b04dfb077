/* log.h -- logging to stderr, one line per event.
 *
 * Lines look like
 *   2026-11-25T15:20:01.123Z livetrade-engine[812] WARN  text
 * log_msg() is a macro that costs one comparison below the level.
 * Never call from a signal handler. */
#ifndef LT_LOG_H
#define LT_LOG_H

#include <stdint.h>

enum { LL_DEBUG = 0, LL_INFO = 1, LL_WARN = 2, LL_ERROR = 3 };

extern int log_level;               /* lines below this level are skipped */

void log_init(const char *prog);    /* program name shown in every line */
void log_line(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_msg(lvl, ...) \
    do { if ((lvl) >= log_level) log_line((lvl), __VA_ARGS__); } while (0)

/* A rate limit for one kind of repeated event (bad frames, gaps): at most
 * one line per `interval_ms`; the lines it held back are counted and
 * reported with the next line that passes. */
struct log_limit {
    int64_t interval_ms;            /* minimum time between two lines */
    int64_t last_ms;                /* when the last line was written */
    uint64_t held;                  /* lines suppressed since then */
};
#define LOG_LIMIT_INIT { 5000, 0, 0 }

void log_limited(struct log_limit *lim, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
