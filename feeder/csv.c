/* csv.c -- source_csv: one CSV file replayed as the bars of one symbol
 * (see csv_source.h; the file format is common/csv.h's). */
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "csv.h"
#include "csv_source.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define SPEED_MAX 1e9               /* --speed: times real time */

/* {==================== flags ================================ */

/* Settings from the csv source's own flags. */
static struct {
    const char *data;               /* --data FILE */
    double speed;                   /* --speed; 0: not given */
} s_flags;

/* --speed: above 0, at most SPEED_MAX. */
static int s_set_speed(void *dst, const char *val, const char *from,
                       char *err)
{
    double x;

    if (parse_double(val, &x) || !isfinite(x) || x <= 0 || x > SPEED_MAX) {
        snprintf(err, ERR_LEN, "%s must be above 0 and at most %.0g (times "
                 "real time)", from, SPEED_MAX);
        return ERR_USAGE;
    }
    *(double *)dst = x;
    return 0;
}

static struct opt_setter s_speed = { s_set_speed, &s_flags.speed };

static const struct opt s_opts[] = {
    { "data", OPT_STR, &s_flags.data, NULL, "FILE",
      "csv: the CSV file to replay" },
    { "speed", OPT_SET, &s_speed, NULL, "X",
      "csv: pace live bars by their times, X times real time" },
    { 0 }
};

static int s_check(char *err)
{
    if (!s_flags.data || !*s_flags.data) {
        snprintf(err, ERR_LEN, "--source csv needs --data FILE");
        return ERR_USAGE;
    }
    return 0;
}

const char *source_csv_data(void)
{
    return s_flags.data;
}

double source_csv_speed(void)
{
    return s_flags.speed;
}

/* }========================================================== */

struct csv_source {
    struct csv_data d;              /* every bar of the file */
    const char *path;               /* for log lines */
    size_t next;                    /* next bar to hand out */
    int64_t history;                /* the first bars that are history */
    double speed;                   /* 0, or times real time */
    int64_t origin_mono;            /* mono ms when the source opened */
    int64_t origin_t;               /* the bar time that stands for it */
    int ended;                      /* the end of the file was logged */
};

static void s_close(void *state)
{
    struct csv_source *cs = state;

    if (!cs)
        return;
    csv_data_free(&cs->d);
    free(cs);
}

static void *s_open(const struct source_cfg *cfg, char *err)
{
    struct csv_opts o = { 0 };
    struct csv_source *cs;
    char first[40], last[40];
    size_t nhist;

    assert(cfg && cfg->nsym >= 1);
    if (!s_flags.data) {
        snprintf(err, ERR_LEN, "csv: no file to replay (--data FILE)");
        return NULL;
    }
    if (cfg->nsym != 1) {
        snprintf(err, ERR_LEN, "csv: one file is one symbol; %d symbols "
                 "given", cfg->nsym);
        return NULL;
    }
    cs = calloc(1, sizeof *cs);
    if (!cs) {
        snprintf(err, ERR_LEN, "csv: out of memory");
        return NULL;
    }
    o.symbol = cfg->symbols[0];
    o.src = "csv";
    if (csv_load(s_flags.data, &o, &cs->d, err)) {
        free(cs);
        return NULL;
    }
    cs->path = s_flags.data;
    cs->history = cfg->history;
    cs->speed = s_flags.speed;
    nhist = (uint64_t)cs->history < cs->d.n ? (size_t)cs->history :
            cs->d.n;
    cs->origin_t = cs->d.bars[nhist ? nhist - 1 : 0].t;
    cs->origin_mono = mono_ms();

    csv_format_time(cs->d.bars[0].t, first, sizeof first);
    csv_format_time(cs->d.bars[cs->d.n - 1].t, last, sizeof last);
    log_msg(LL_INFO, "csv: %s: %zu bars of %s, %s to %s, timeframe %llds; "
            "%zu as history, %zu to replay", cs->path, cs->d.n, o.symbol,
            first, last, (long long)cs->d.tf, nhist, cs->d.n - nhist);
    if (cs->d.unsorted)
        log_msg(LL_WARN, "csv: %s: %zu out-of-order rows; replayed sorted "
                "by time", cs->path, cs->d.unsorted);
    if (nhist == cs->d.n)
        log_msg(LL_WARN, "csv: %s: --history %lld covers the whole file; "
                "no bar is replayed live", cs->path,
                (long long)cs->history);
    return cs;
}

static int s_next_bar(void *state, int sym, struct bar *out)
{
    struct csv_source *cs = state;
    const struct bar *b;

    assert(cs && sym == 0);
    (void)sym;
    if (cs->next == cs->d.n) {
        if (!cs->ended)
            log_msg(LL_INFO, "csv: %s: end of the file after %zu bars",
                    cs->path, cs->d.n);
        cs->ended = 1;
        return ERR_NOTFOUND;
    }
    b = &cs->d.bars[cs->next];
    if ((int64_t)cs->next >= cs->history && cs->speed > 0) {
        double due = (double)cs->origin_mono +
                     (double)(b->t - cs->origin_t) / cs->speed;
        if ((double)mono_ms() < due)
            return 0;
    }
    *out = *b;
    cs->next++;
    return 1;
}

const struct source_ops source_csv = {
    .name = "csv",
    .opts = s_opts,
    .check = s_check,
    .open = s_open,
    .next_bar = s_next_bar,
    .close = s_close,
};
