/* flags.c -- the flags skeleton (see flags.h): the shared flags, one
 * table of them and a program's own, the rule of --symbols. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curve.h"
#include "err.h"
#include "flags.h"
#include "http_metrics.h"
#include "log.h"
#include "symtab.h"
#include "util.h"

/* The setter of --symbols: the list as given, split at once. */
static int s_set_symbols(void *dst, const char *val, const char *from,
                         char *err)
{
    struct flags *f = dst;
    int rc = flags_symbols_split(&f->syms, val, from, err);

    if (rc == 0)
        f->symbols = val;
    return rc;
}

/* The program's tables and then its shared flags into t[FLAGS_MAX]; the
 * setter of --symbols in *sym. */
static void s_table(struct flags *f, struct opt *t, struct opt_setter *sym)
{
    int n = 0;

    for (int k = 0; k < FLAGS_TABLES_MAX && f->tables[k]; k++)
        for (const struct opt *o = f->tables[k]; o->name; o++)
            if (n < FLAGS_MAX - 6)  /* room for the shared ones + end */
                t[n++] = *o;
    *sym = (struct opt_setter){ s_set_symbols, f };
    if (f->shared & FLAG_SYMBOLS)
        t[n++] = (struct opt){ "symbols", OPT_SET, sym, f->symbols_env,
                               "A,B", f->symbols_help ? f->symbols_help :
                               "symbols (comma-separated)" };
    if (f->shared & FLAG_ID)
        t[n++] = (struct opt){ "id", OPT_STR, &f->id, NULL, "NAME",
                               f->id_help ? f->id_help : "id" };
    if (f->shared & FLAG_METRICS)
        t[n++] = (struct opt){ "metrics", OPT_STR, &f->metrics, NULL,
                               "HOST:PORT", "serve Prometheus metrics on "
                               "http://HOST:PORT/metrics (off)" };
    if (f->shared & FLAG_CURVE)
        t[n++] = (struct opt){ "curve", OPT_STR, &f->curve,
                               "LIVETRADE_CURVE", "DIR", CURVE_OPT_HELP };
    if (f->shared & FLAG_VERBOSE)
        t[n++] = (struct opt){ "verbose", OPT_BOOL, &f->verbose, NULL, NULL,
                               f->verbose_help ? f->verbose_help :
                               "log debug lines" };
    memset(&t[n], 0, sizeof t[n]);
}

int flags_parse(struct flags *f, int argc, char **argv, int first,
                const char **pos, int maxpos, int *npos, char *err)
{
    struct opt t[FLAGS_MAX];
    struct opt_setter sym;
    int rc;

    s_table(f, t, &sym);
    rc = config_parse(t, argc, argv, first, pos, maxpos, npos, err);
    if (rc)
        return rc == 1 ? 1 : ERR_USAGE;
    /* The default, when neither the flag nor its setting gave one. */
    if ((f->shared & FLAG_SYMBOLS) && f->symbols && !f->syms.v &&
        !f->syms.all &&
        flags_symbols_split(&f->syms, f->symbols, "--symbols", err))
        return ERR_USAGE;
    if (f->syms.all && !f->symbols_all) {
        snprintf(err, ERR_LEN, "--symbols '*' (every symbol) is not taken "
                 "by %s: list the symbols", f->prog);
        return ERR_USAGE;
    }
    if ((f->shared & FLAG_METRICS) && f->metrics &&
        http_metrics_check(f->metrics, err))
        return ERR_USAGE;
    if ((f->shared & FLAG_VERBOSE) && f->verbose)
        log_level = LL_DEBUG;
    return 0;
}

void flags_usage(const struct flags *f)
{
    struct opt t[FLAGS_MAX];
    struct opt_setter sym;

    /* The table points into f but nothing is parsed: f stays as it is. */
    s_table((struct flags *)f, t, &sym);
    config_usage(f->usage, t);
}

void flags_free(struct flags *f)
{
    flags_symbols_free(&f->syms);
}

int flags_symbols_split(struct flags_symbols *s, const char *list,
                        const char *from, char *err)
{
    struct flags_symbols out = { 0, NULL, NULL, 0 };
    size_t len = strlen(list);
    symtab_t *seen = NULL;
    int max = 1, rc = ERR_USAGE;

    for (const char *p = list; *p; p++)
        max += *p == ',';
    out.buf = malloc(len + 1);
    out.v = malloc((size_t)max * sizeof *out.v);
    if (!out.buf || !out.v)
        goto nomem;
    memcpy(out.buf, list, len + 1);
    out.n = split_list(out.buf, out.v, max);
    if (out.n == 1 && strcmp(out.v[0], "*") == 0) {
        /* Every symbol: the program numbers them as they appear. */
        flags_symbols_free(&out);
        flags_symbols_free(s);
        s->all = 1;
        return 0;
    }
    if (out.n == 0 || out.n > FLAGS_SYMBOLS_MAX) {
        snprintf(err, ERR_LEN, out.n ? "%s: more than %d symbols" :
                 "%s: no symbol given", from, FLAGS_SYMBOLS_MAX);
        goto bad;
    }
    seen = symtab_new(out.n);
    if (!seen)
        goto nomem;
    for (int i = 0; i < out.n; i++) {
        int k = symtab_add(seen, out.v[i]);
        if (k == ERR_INVALID) {
            snprintf(err, ERR_LEN, "%s: invalid symbol '%.40s' (1 to %d "
                     "of A-Z a-z 0-9 . : / _ -, or '*' alone for every "
                     "symbol)", from, out.v[i], SYM_MAX - 1);
            goto bad;
        }
        if (k < 0)
            goto nomem;
        if (k != symtab_len(seen) - 1 || k != i) {
            snprintf(err, ERR_LEN, "%s: %s is listed twice (give each "
                     "symbol once)", from, out.v[i]);
            goto bad;
        }
    }
    symtab_destroy(&seen);
    flags_symbols_free(s);
    *s = out;
    return 0;
nomem:
    snprintf(err, ERR_LEN, "%s: out of memory", from);
    rc = ERR_NOMEM;
bad:
    symtab_destroy(&seen);
    flags_symbols_free(&out);
    return rc;
}

void flags_symbols_free(struct flags_symbols *s)
{
    free(s->v);
    free(s->buf);
    s->v = NULL;
    s->buf = NULL;
    s->n = 0;
    s->all = 0;
}
