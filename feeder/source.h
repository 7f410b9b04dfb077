/* source.h -- how a bar source plugs into livetrade-feeder.
 *
 * A source is one const table of operations (one file + one table entry
 * in main.c per source):
 *
 *   const struct source_ops source_demo = {
 *       .name = "demo", .open = s_open, .next_bar = s_next, .close = s_close
 *   };
 *
 * Two kinds of source fit:
 *   pull  the feeder asks for bars: `history` calls of next_bar() per
 *         symbol at start (the history), then one call per symbol on every
 *         tick of --interval (the live bars). Synthetic data, file replay.
 *   push  next_bar is NULL; the source registers its own descriptors and
 *         timers on cfg->loop and hands each bar to cfg->emit, with
 *         live = 0 for history and 1 for bars to publish. Exchange feeds.
 *
 * A push source may also bring symbols of its own (--symbols '*': cfg->all
 * set, cfg->nsym 0): it numbers each new one through cfg->intern before
 * it emits its first bar. Pull sources take a list only.
 *
 * Either way the feeder stamps seq and pub, keeps every bar in its history
 * store and publishes the live ones; a source never touches a socket. */
#ifndef LT_FEEDER_SOURCE_H
#define LT_FEEDER_SOURCE_H

#include <stdint.h>

#include "loop.h"
#include "msg_bar.h"

#define SOURCE_TF_MAX 31622400      /* longest timeframe: 366 days, in s */
#define SOURCE_COUNTERS_MAX 48      /* counters a source may report */

/* When a feed is expected to carry bars (feed health). */
enum {
    SOURCE_MARKET_US_EQUITIES = 0,  /* Mon-Fri 09:30-16:00 New York */
    SOURCE_MARKET_ALWAYS,           /* around the clock */
    SOURCE_MARKET_FOREX             /* Sun 17:00-Fri 17:00 New York */
};

/* One named counter of a source, for status replies and the exit line. */
struct source_counter {
    const char *name;               /* static string, snake_case */
    uint64_t value;
};

/* Hands one bar of symbol number `sym` to the feeder (push sources).
 * Returns 0, or an ERR_* code if the bar was rejected (invalid, older than
 * the last one of that symbol). The feeder copies the bar. */
typedef int (source_emit_fn)(void *arg, int sym, const struct bar *b,
                             int live);

/* The number of symbol `name` (push sources with cfg->all): its number
 * if the feeder has it, else the next one, from then on published and
 * served like a listed symbol. ERR_INVALID (not a valid symbol),
 * ERR_TOO_LARGE (SYMTAB_MAX symbols known already) or ERR_NOMEM. */
typedef int (source_intern_fn)(void *arg, const char *name);

struct source_cfg {
    const char *const *symbols;     /* validated, distinct */
    int nsym;                       /* entries in symbols; 0 with all */
    int all;                        /* --symbols '*': every symbol the
                                       feed brings, through intern */
    uint64_t seed;                  /* --seed, for synthetic sources */
    int64_t tf;                     /* --timeframe, seconds */
    int64_t start_ms;               /* start of bar 0, epoch ms UTC */
    int64_t history;                /* --history, bars per symbol */
    loop_t *loop;                   /* push sources register fds here */
    source_emit_fn *emit;           /* push sources deliver bars here */
    void *emit_arg;                 /* first argument of emit and intern */
    source_intern_fn *intern;       /* push sources: numbers a symbol */
    int *failed;                    /* push sources: set on a fatal
                                       error, then loop_stop() */
};

struct opt;

struct source_ops {
    const char *name;               /* --source value and bar.src */
    /* The source's own flags (config.h), ending with { 0 }, or NULL;
     * their values go to the source's static settings, read by open().
     * livetrade-feeder takes every source's flags and refuses those of a
     * source other than --source. */
    const struct opt *opts;
    /* Optional: checks the values of its flags once parsed, when it is
     * the source chosen. 0, or ERR_USAGE with one line in err[ERR_LEN]. */
    int (*check)(char *err);
    /* Optional: the symbol the bars of `sym` (as the user named it) are
     * published under, in out[SYM_MAX], once check() passed. 0, or
     * ERR_USAGE with one line in err[ERR_LEN]. NULL: as named. */
    int (*symbol)(const char *sym, char *out, char *err);
    /* Opens the source for cfg->symbols. Returns its state, or NULL with
     * a reason in err[ERR_LEN]. cfg is valid only during the call. */
    void *(*open)(const struct source_cfg *cfg, char *err);
    /* Pull sources: writes the next bar of symbol number `sym` to *out.
     * Returns 1 (a bar), 0 (none available yet), ERR_NOTFOUND (the
     * symbol's stream has ended: no more bars) or another ERR_* code
     * (it failed). NULL for push sources. */
    int (*next_bar)(void *state, int sym, struct bar *out);
    /* Releases the state returned by open; NULL is accepted. */
    void (*close)(void *state);
    /* Optional: writes at most `max` counters to out and returns how
     * many (status replies and the exit counters). NULL: none. */
    int (*counters)(void *state, struct source_counter *out, int max);
    /* Optional: 0 while the history of symbol number `sym` is still
     * being loaded (a history request for it is then answered busy, to
     * be asked again), else 1. NULL: always 1. */
    int (*ready)(void *state, int sym);
};

extern const struct source_ops source_demo;

#endif
