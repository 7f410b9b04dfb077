/* run.h -- `livetrade run`'s state, shared by run.c (the children, their
 * supervision) and run_flags.c (its flags and their checks). */
#ifndef LT_TOOLS_RUN_H
#define LT_TOOLS_RUN_H

#include <limits.h>
#include <stdint.h>

#include "child.h"
#include "config.h"
#include "flags.h"
#include "util.h"

#define PROG "livetrade"
#define GRACE_SEC 5.0               /* per child, SIGTERM to SIGKILL */
#define EP_MAX 160                  /* "ipc://" + socket path */
#define NO_LOOKBACK INT64_MIN       /* --lookback not given */


struct run {
    /* flags */
    const char *strategy;           /* Lua file, checked to exist */
    struct flags flags;             /* --symbols, --verbose */
    const char *symbol;             /* --symbol: --symbols, one name */
    const char *source;             /* "demo", "csv" or "polygon" */
    const char *data;               /* csv: the file to replay */
    int csv;                        /* --data-source csv */
    int64_t lookback;               /* NO_LOOKBACK unless given */
    double duration;                /* minutes, > 0 */
    int json;                       /* console sink prints JSON lines */
    int flat_closes;                /* console shows closes while flat */
    struct opt_multi params;        /* --param name=value, in order */
    int64_t seed;                   /* demo feeder's seed */
    double interval;                /* demo: seconds between bars */
    int64_t timeframe;              /* bar length in seconds */
    int64_t history;                /* feeder --history; NO_LOOKBACK unless
                                     * given */
    const char *rest_url;           /* polygon: passed through if given */
    const char *ws_url;
    const char *ca_file;
    const char *feed;
    const char *rate;               /* polygon: feeder --rate */
    const char *market;             /* polygon: feeder --market */

    /* derived */
    char *syms;                     /* canonical: "AAPL,MSFT", or "*"
                                       (malloc'd) */
    char bindir[PATH_MAX];          /* where the children's binaries are */
    char dir[PATH_MAX];             /* private ipc directory, "" if none */
    char ep_bars[EP_MAX];           /* feeder PUB -> engine SUB */
    char ep_hist[EP_MAX];           /* feeder history REP */
    char ep_sig[EP_MAX];            /* engine PUB -> sink SUB */
    char ep_eng[EP_MAX];            /* engine request endpoint */
    char a_lookback[32];            /* numbers as children's arguments */
    char a_seed[32];
    char a_journal[PATH_MAX];       /* the engine's journal, in dir */
    char a_interval[40];
    char a_timeframe[32];
    char a_history[32];
    char csv_sym[SYM_MAX];          /* csv: symbol from the file name */
    char rec[PATH_MAX];             /* the record status finds, or "" */

    struct child sink, engine, feeder;
    int failed;                     /* a child did not end cleanly */
    int signals_seen;               /* proc_signals when stopping began */
    int said_patience;              /* "already stopping" was said */
    char why[96];                   /* why the pipeline stopped */
};

/* Parses and checks the flags into r (run_flags.c). 0; 1 after --help;
 * ERR_USAGE or another code with one line in err[ERR_LEN]. */
int run_parse(struct run *r, int argc, char **argv, char *err);

/* Frees what run_parse allocated; idempotent. */
void run_free(struct run *r);

/* Shortest text that reads back as exactly `v`, in buf[n]. */
void run_fmt_double(char *buf, size_t n, double v);

#endif
