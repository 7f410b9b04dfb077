/* log.c -- stderr logging with levels and per-kind rate limits. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int log_level = LL_INFO;
static char s_prog[64] = "livetrade";

static const char *s_names[] = { "DEBUG", "INFO ", "WARN ", "ERROR" };

void log_init(const char *prog)
{
    snprintf(s_prog, sizeof s_prog, "%s", prog);
}

static void s_vline(int level, const char *suffix, const char *fmt, va_list ap)
{
    char msg[1024];
    char stamp[32];

    utc_text(stamp, sizeof stamp, wall_ms(), UTC_ISO_MS);
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (level < LL_DEBUG || level > LL_ERROR)
        level = LL_ERROR;
    /* One fprintf per line so lines from several processes don't mix. */
    fprintf(stderr, "%s %s[%d] %s %s%s\n", stamp, s_prog, (int)getpid(),
            s_names[level], msg, suffix ? suffix : "");
}

void log_line(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    s_vline(level, NULL, fmt, ap);
    va_end(ap);
}

void log_limited(struct log_limit *lim, int level, const char *fmt, ...)
{
    int64_t now = mono_ms();
    char suffix[64] = "";
    va_list ap;

    if (level < log_level)
        return;
    if (lim->last_ms && now - lim->last_ms < lim->interval_ms) {
        lim->held++;
        return;
    }
    if (lim->held)
        snprintf(suffix, sizeof suffix, " (%llu more like this not shown)",
                 (unsigned long long)lim->held);
    lim->last_ms = now ? now : 1;
    lim->held = 0;
    va_start(ap, fmt);
    s_vline(level, suffix, fmt, ap);
    va_end(ap);
}
