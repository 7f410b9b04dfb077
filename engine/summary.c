/* summary.c -- what the engine says about its run: the summary line
 * every --summary seconds (bars, signals, lag, paper P&L) and at exit,
 * and the per-symbol paper P&L lines at exit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "util.h"

#define SUMMARY_TOP 3               /* best and worst symbols in a summary */
#define EXIT_PL_LINES 10            /* per-symbol P&L lines at exit, most */
#define REPLAY_LAG_S (7 * 86400)    /* bars further behind the clock than
                                       this (past their timeframe) are a
                                       replay of old bars, not a lag */

/* y's paper P&L since its first live bar (0 before it). */
static double s_pl(const struct sym *y)
{
    return y->first_live_t < 0 || isnan(y->eq0) ? 0 :
           engine_equity(y) - y->eq0;
}

static double s_pl_pct(const struct sym *y)
{
    return y->first_live_t < 0 || !(y->eq0 > 0) ? 0 :
           100.0 * s_pl(y) / y->eq0;
}

/* A symbol's place in the P&L order. */
struct pl_key {
    double pct;                     /* s_pl_pct() */
    int k;                          /* the symbol */
};

static int s_by_pl(const void *a, const void *b)
{
    double p = ((const struct pl_key *)a)->pct;
    double q = ((const struct pl_key *)b)->pct;
    return p > q ? -1 : p < q;      /* best first */
}

/* A duration for people: "850 ms", "12.3 s", "4.2 min", "3.1 h", "12 d". */
static void s_fmt_dur(char *out, size_t n, double sec)
{
    double a = fabs(sec);

    if (a < 1)
        snprintf(out, n, "%.0f ms", sec * 1000);
    else if (a < 120)
        snprintf(out, n, "%.1f s", sec);
    else if (a < 7200)
        snprintf(out, n, "%.1f min", sec / 60);
    else if (a < 172800)
        snprintf(out, n, "%.1f h", sec / 3600);
    else
        snprintf(out, n, "%.0f d", sec / 86400);
}

/* Appends " SYM +P&L (+R%, position N)" for y at out[*len] (of n). */
static void s_fmt_sym(char *out, size_t n, int *len, const struct sym *y)
{
    if (*len >= (int)n)
        return;
    *len += snprintf(out + *len, n - (size_t)*len, " %s %+.2f (%+.2f%%, "
                     "position %g)", y->run->sym, s_pl(y), s_pl_pct(y),
                     broker_position_size(strategy_broker(y->run->strat)));
}

/* The symbols sorted best P&L first into order[self->nsym] (caller's).
 * -1 if out of memory. */
static int s_sort_pl(const engine_t *self, int *order)
{
    struct pl_key *keys = malloc((size_t)(self->nsym ? self->nsym : 1) *
                                 sizeof *keys);

    if (!keys)
        return -1;
    for (int k = 0; k < self->nsym; k++) {
        keys[k].pct = s_pl_pct(&self->syms[k]);
        keys[k].k = k;
    }
    qsort(keys, (size_t)self->nsym, sizeof *keys, s_by_pl);
    for (int k = 0; k < self->nsym; k++)
        order[k] = keys[k].k;
    free(keys);
    return 0;
}

/* One line: bars and signals (and what came since the last one), the
 * lag, and the paper P&L since the symbols went live: each symbol's when
 * there are few, else the total with the best and worst SUMMARY_TOP.
 * The lag is the symbol furthest behind's; past REPLAY_LAG_S its bars
 * are a replay, and the line gives the time they have reached. */
void engine_summary(engine_t *self, int final)
{
    char line[2048], lag[80];
    double pl = 0, eq0 = 0, maxlag = -INFINITY;
    const char *lagsym = NULL;
    const struct sym *lagy = NULL;
    int len, live = 0, *order = NULL;
    int64_t now = wall_ms();

    for (int k = 0; k < self->nsym; k++) {
        const struct sym *y = &self->syms[k];
        live += y->live;
        if (y->first_live_t >= 0 && !isnan(y->eq0)) {
            pl += s_pl(y);
            eq0 += y->eq0;
        }
        if (y->run->last_t >= 0) {
            double l = (double)(now - y->run->last_t) / 1000.0 -
                       (double)y->tf;
            if (l > maxlag) {
                maxlag = l;
                lagsym = y->run->sym;
                lagy = y;
            }
        }
    }
    if (lagsym) {
        char d[24];
        char tb[32];
        s_fmt_dur(d, sizeof d, fabs(maxlag));
        engine_time(tb, sizeof tb, lagy->run->last_t);
        if (lagy->tf >= 86400 && strlen(tb) > 10)
            tb[10] = '\0';         /* daily bars: the date says it */
        if (maxlag > REPLAY_LAG_S)
            snprintf(lag, sizeof lag, "replaying bars of %s (%.16s)", tb,
                     lagsym);
        else if (maxlag >= 0)
            snprintf(lag, sizeof lag, "lag %s (%.16s)", d, lagsym);
        else                        /* bar times ahead of the clock */
            snprintf(lag, sizeof lag, "no lag (bars %s ahead)", d);
    } else {
        snprintf(lag, sizeof lag, "no bar yet");
    }
    len = snprintf(line, sizeof line, "%s: %d symbol(s), %d live, %d "
                   "stale; %llu bars in (+%llu), %llu signals published "
                   "(+%llu); %s; paper P&L since live %+.2f (%+.2f%%)",
                   final ? "summary at exit" : "summary", self->nsym, live,
                   self->stale_now, (unsigned long long)self->bars_in,
                   (unsigned long long)(self->bars_in - self->sum_bars),
                   (unsigned long long)self->signals_run,
                   (unsigned long long)(self->signals_run - self->sum_signals),
                   lag, pl, eq0 > 0 ? 100.0 * pl / eq0 : 0.0);
    self->sum_bars = self->bars_in;
    self->sum_signals = self->signals_run;
    if (self->nsym > 1)
        order = malloc((size_t)self->nsym * sizeof *order);
    if (order && s_sort_pl(self, order)) {
        free(order);
        order = NULL;
    }
    if (self->nsym == 1) {
        len += snprintf(line + len, sizeof line - (size_t)len, ":");
        s_fmt_sym(line, sizeof line, &len, &self->syms[0]);
    } else if (order && self->nsym <= 2 * SUMMARY_TOP) {
        len += snprintf(line + len, sizeof line - (size_t)len, ":");
        for (int i = 0; i < self->nsym; i++)
            s_fmt_sym(line, sizeof line, &len, &self->syms[order[i]]);
    } else if (order) {
        len += snprintf(line + len, sizeof line - (size_t)len, "; best %d "
                        "of %d:", SUMMARY_TOP, self->nsym);
        for (int i = 0; i < SUMMARY_TOP; i++)
            s_fmt_sym(line, sizeof line, &len, &self->syms[order[i]]);
        if (len < (int)sizeof line)
            len += snprintf(line + len, sizeof line - (size_t)len,
                            "; worst %d:", SUMMARY_TOP);
        for (int i = self->nsym - 1; i >= self->nsym - SUMMARY_TOP; i--)
            s_fmt_sym(line, sizeof line, &len, &self->syms[order[i]]);
    }
    log_msg(LL_INFO, "%s", line);
    free(order);
}

/* At exit: a line per symbol with its paper account, at most
 * EXIT_PL_LINES (the best and the worst half each, and how many more). */
void engine_exit_pl(engine_t *self)
{
    int *order = malloc((size_t)(self->nsym ? self->nsym : 1) *
                        sizeof *order);
    int shown = self->nsym <= EXIT_PL_LINES ? self->nsym : EXIT_PL_LINES;

    if (!order || s_sort_pl(self, order)) {
        free(order);
        return;
    }
    for (int i = 0; i < shown; i++) {
        int k = i < shown / 2 || self->nsym <= EXIT_PL_LINES ? order[i] :
                order[self->nsym - (shown - i)];
        const struct sym *y = &self->syms[k];
        const broker_t *b = strategy_broker(y->run->strat);
        if (self->nsym > EXIT_PL_LINES && i == shown / 2)
            log_msg(LL_INFO, "paper P&L: ... %d more symbol(s) between the "
                    "best %d and the worst %d", self->nsym - shown, shown / 2,
                    shown - shown / 2);
        log_msg(LL_INFO, "paper P&L %s: %+.2f (%+.2f%%) since its first "
                "live bar; position %g, equity %.2f, %llu closed trade(s); "
                "%llu bars (%lld of history), %llu signals published%s",
                y->run->sym, s_pl(y), s_pl_pct(y), broker_position_size(b),
                broker_equity(b),
                (unsigned long long)broker_nclosed_all(b),
                (unsigned long long)y->run->bars, (long long)y->warm_bars,
                (unsigned long long)y->published,
                y->run->failed ? "; strategy disabled" : "");
    }
    free(order);
}
