/* config.h -- command-line flags, environment and `.env` settings.
 *
 * Each program describes its flags in a table of struct opt. A value comes
 * from the flag, else from the environment variable named in `env`, else
 * from that name in a `.env` file (./.env, or the file named by
 * LIVETRADE_ENV_FILE), else the default already in the destination.
 *
 *   static const struct opt opts[] = {
 *       { "symbols", OPT_STR, &symbols, "TRADING_SYMBOLS", "A,B",
 *         "symbols to trade" },
 *       { 0 }
 *   };
 *   rc = config_parse(opts, argc, argv, 1, pos, 4, &npos, err);
 *   if (rc == 1) { config_usage("prog [flags]", opts); exit(0); }
 *
 * Flags are `--name value` or `--name=value`; OPT_BOOL takes no value.
 * An OPT_SET entry converts and checks its value with its own setter.
 * Positional arguments are returned through `pos`/`npos`. An unknown flag
 * is named with the closest known one ("did you mean --symbols?").
 *
 * The first config_parse of a process also warns (log line) about each
 * unknown LIVETRADE_* setting in the environment or `.env`, and about a
 * near miss of a known name in `.env` ("TRADING_SYMBOL"), with the
 * closest known name; the known names are the flags' `env` and the list
 * in config.c. LIVETRADE_SETTINGS_CHECKED in the environment turns this
 * off (livetrade run sets it for the programs it starts). */
#ifndef LT_CONFIG_H
#define LT_CONFIG_H

#include <stdint.h>

enum opt_kind {
    OPT_STR,            /* const char *; the flag's argv string */
    OPT_INT,            /* int64_t */
    OPT_DBL,            /* double */
    OPT_BOOL,           /* int, set to 1 */
    OPT_MULTI,          /* struct opt_multi: repeatable, keeps every value */
    OPT_REST,           /* struct opt_rest: every argument after `--` */
    OPT_SET             /* struct opt_setter: a value for its setter */
};

#define OPT_MULTI_MAX 64

struct opt_multi {
    int n;                          /* values given */
    const char *v[OPT_MULTI_MAX];   /* in command-line order */
};

/* OPT_REST: `--` ends the flags; what follows (a command and its own
 * arguments, flags included) is kept as is. The entry's name is never
 * matched as a flag (--help shows it as `-- META`). Without an OPT_REST
 * entry, `--` is an ordinary positional argument. */
struct opt_rest {
    int argc;                       /* 0: no `--` given */
    char **argv;                    /* argv[0..argc), NULL-terminated */
};

/* OPT_SET: the setter converts, checks and stores the value in `dst`.
 * 0, or ERR_USAGE with one line naming `from` -- the flag or the setting
 * the value came from -- in err[ERR_LEN]. */
struct opt_setter {
    int (*set)(void *dst, const char *val, const char *from, char *err);
    void *dst;
};

struct opt {
    const char *name;               /* flag without the leading "--" */
    enum opt_kind kind;
    void *dst;                      /* where the value goes */
    const char *env;                /* environment / .env name, or NULL */
    const char *meta;               /* value placeholder for --help */
    const char *help;               /* one line for --help */
};

/* Parses argv[first..]. Returns 0, 1 if --help or -h was given (the
 * caller prints usage and exits 0), or ERR_USAGE with a one-line reason.
 * Positional arguments are stored in pos[0..*npos) (at most `maxpos`).
 * Programs parse through flags_parse (flags.h), which adds the flags
 * they share. */
int config_parse(const struct opt *opts, int argc, char **argv, int first,
                 const char **pos, int maxpos, int *npos, char *err);

/* Edit distance between two names (insert, delete, substitute, swap two
 * neighbours: 1 each); names over 64 characters count as 64 apart. */
int config_distance(const char *a, const char *b);

/* The one of cands[0..n) that `name` most likely meant -- a third of its
 * characters wrong at most (1 to 3), or it is the start of only that one
 * -- or NULL. "did you mean --x" for flags, settings alike. */
const char *config_closest(const char *name, const char *const *cands,
                           int n);

/* 1 if --name (or --name=...) is among argv[first..], before any `--`:
 * given on the command line rather than by the environment or the
 * default. */
int config_given(int argc, char **argv, int first, const char *name);

/* Prints usage: `usage` line, then one line per flag. */
void config_usage(const char *usage, const struct opt *opts);

/* A setting from the environment, else from the `.env` file; NULL if
 * neither has it. The returned string lives until exit. */
const char *config_env(const char *name);

#endif
