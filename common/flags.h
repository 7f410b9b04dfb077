/* flags.h -- the flags skeleton of livetrade's programs: a program's own
 * flags are tables of struct opt (config.h: name, value, setting, help;
 * OPT_SET for a value with its own setter), the flags the programs share
 * are defined here once and taken by name (FLAG_*), one flags_parse
 * reads them all and the usage text is generated from the same tables.
 *
 *   struct flags f = { .prog = PROG, .usage = PROG " [--pub EP] ...",
 *                      .tables = { own },
 *                      .shared = FLAG_SYMBOLS | FLAG_VERBOSE,
 *                      .symbols = "AAPL", .symbols_env = "TRADING_SYMBOLS",
 *                      .symbols_help = "symbols to publish [AAPL]" };
 *   rc = flags_parse(&f, argc, argv, 1, NULL, 0, NULL, err);
 *   if (rc == 1) { flags_usage(&f); exit 0 }
 *   if (rc) exit proc_usage_error(PROG, err);
 *   ... f.syms.v[0 .. f.syms.n) ...
 *   flags_free(&f);
 *
 * The shared flags:
 *   --symbols A,B    a comma-separated list (spaces around a name are
 *                    dropped) of 1 to FLAGS_SYMBOLS_MAX valid symbols
 *                    (symbol_valid), each at most once: a symbol listed
 *                    twice is a usage error naming it, in every program;
 *                    '*' alone means every symbol (syms.all), for the
 *                    programs that set symbols_all (a usage error in
 *                    the others)
 *   --verbose        debug lines in the log (log_level LL_DEBUG)
 *   --metrics H:P    Prometheus metrics on http://H:P/metrics; the
 *                    address is checked (http_metrics_check)
 *   --curve DIR      CURVE keys [env LIVETRADE_CURVE]; the program
 *                    enables them (curve_flag)
 *   --id NAME        the program's id where it has one
 * Every error is one line naming the flag (or the setting it came from),
 * for the caller to print with proc_usage_error (exit 2). */
#ifndef LT_FLAGS_H
#define LT_FLAGS_H

#include "config.h"
#include "symtab.h"

#define FLAGS_SYMBOLS_MAX SYMTAB_MAX /* symbols in one --symbols list */
#define FLAGS_TABLES_MAX 4          /* tables of own flags per program */
#define FLAGS_MAX 96                /* flags of one program, all told */

/* The shared flags a program takes. */
enum {
    FLAG_SYMBOLS = 1 << 0,
    FLAG_VERBOSE = 1 << 1,
    FLAG_METRICS = 1 << 2,
    FLAG_CURVE = 1 << 3,
    FLAG_ID = 1 << 4
};

/* A --symbols list, split. */
struct flags_symbols {
    int n;                          /* symbols; 0: no list (or all) */
    char **v;                       /* in the order given (owned) */
    char *buf;                      /* what v points into (owned) */
    int all;                        /* '*': every symbol (n 0, v NULL) */
};

struct flags {
    /* Set by the program before flags_parse. */
    const char *prog;               /* "livetrade-feeder" */
    const char *usage;              /* the line after "usage: " */
    const struct opt *tables[FLAGS_TABLES_MAX]; /* its own flags, each
                                       ending with { 0 }; NULL: no more */
    unsigned shared;                /* FLAG_* it takes */
    const char *symbols_env;        /* setting of --symbols, or NULL */
    const char *symbols_help;       /* what --symbols means to it */
    int symbols_all;                /* it takes --symbols '*' */
    const char *verbose_help;       /* NULL: "log debug lines" */
    const char *id_help;            /* what --id names */
    /* The shared flags' values: defaults set before, values after. */
    const char *symbols;            /* --symbols as given; NULL: none */
    struct flags_symbols syms;      /* --symbols split (flags_parse) */
    int verbose;                    /* --verbose */
    const char *metrics;            /* --metrics HOST:PORT; NULL: off */
    const char *curve;              /* --curve DIR; NULL: none */
    const char *id;                 /* --id NAME; NULL: none */
};

/* Parses argv[first..] against the program's tables and its shared
 * flags; positional arguments as config_parse. Then splits --symbols
 * (the default too) by the rule above, checks --metrics and applies
 * --verbose. Returns 0, 1 if --help or -h was given (the caller prints
 * flags_usage and exits 0), or ERR_USAGE with one line in err[ERR_LEN]. */
int flags_parse(struct flags *f, int argc, char **argv, int first,
                const char **pos, int maxpos, int *npos, char *err);

/* Prints the usage line and one line per flag, the shared ones last. */
void flags_usage(const struct flags *f);

/* Frees what flags_parse allocated (the split --symbols); idempotent. */
void flags_free(struct flags *f);

/* Splits `list` into s by the rule of --symbols, replacing what s held;
 * `from` names the flag or setting in errors. 0, or ERR_USAGE with one
 * line in err[ERR_LEN] (s then unchanged), or ERR_NOMEM. */
int flags_symbols_split(struct flags_symbols *s, const char *list,
                        const char *from, char *err);
/* Frees the split list; idempotent. */
void flags_symbols_free(struct flags_symbols *s);

#endif
