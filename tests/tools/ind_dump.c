/* ind_dump -- prints the engine's streaming indicators over bars read
 * from stdin, for tests that check them against another implementation
 * (tests/integration/test_indicators.py checks them against pandas and
 * numpy).
 *
 *   ind_dump [--repeat R] [--last N] SPEC... < bars
 *
 * SPEC is an indicator name with its parameters: "SMA:10", "MACD:12,26,9",
 * "BBANDS:20,2", "ATR:14" (omitted parameters take their defaults). Each
 * input line holds "high low close"; indicators of one source read the
 * close, ATR and STOCH read high, low and close, DONCHIAN high and low.
 * Each output line holds, for every SPEC in order, each of its outputs
 * (%.17g, "nan" before the first value), one line per bar, printed as the
 * bar arrives: the values are the streaming ones. --repeat R feeds the
 * bars read R times over (a long series without a long input), --last N
 * prints only the last N bars. Exit 2 on bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "indicator.h"

#define MAX_SPECS 32
#define MAX_REPEAT 100000

static int s_parse_spec(const char *spec, enum ind_kind *kind, double *p)
{
    char name[32];
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    int k, j = 0;

    if (len >= sizeof name)
        return -1;
    memcpy(name, spec, len);
    name[len] = '\0';
    k = indicator_kind_find(name);
    if (k < 0)
        return -1;
    *kind = (enum ind_kind)k;
    for (int i = 0; i < IND_MAX_PARAM; i++)
        p[i] = NAN;
    while (colon && *colon && j < IND_MAX_PARAM) {
        char *end;
        p[j++] = strtod(colon + 1, &end);
        if (end == colon + 1 || (*end && *end != ','))
            return -1;
        colon = *end ? end : NULL;
    }
    return colon ? -1 : 0;
}

static int s_usage(void)
{
    fprintf(stderr, "usage: ind_dump [--repeat R] [--last N] SPEC... < bars "
            "(\"high low close\" per line)\n");
    return 2;
}

/* Appends one bar to the columns and updates every indicator. */
static int s_feed(struct series *col, struct indicator *ind, int n,
                  double h, double l, double c)
{
    if (series_push(&col[0], h) || series_push(&col[1], l) ||
        series_push(&col[2], c))
        return ERR_NOMEM;
    for (int i = 0; i < n; i++)
        if (indicator_update(&ind[i]))
            return ERR_NOMEM;
    return ERR_OK;
}

static void s_print(const struct indicator *ind, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < ind[i].nout; j++)
            printf("%s%.17g", i || j ? " " : "",
                   series_back(&ind[i].out[j], 1));
    putchar('\n');
}

int main(int argc, char **argv)
{
    static struct indicator ind[MAX_SPECS];
    struct series col[3], in[3];        /* high, low, close */
    const struct series *hlc[IND_MAX_IN] = { &col[0], &col[1], &col[2] };
    const struct series *c3[IND_MAX_IN] = { &col[2], &col[2], &col[2] };
    long repeat = 1, last = -1;
    int a = 1, n, rc = 0;
    double h, l, c;
    size_t total;
    char why[160];

    for (; a + 1 < argc && strncmp(argv[a], "--", 2) == 0; a += 2) {
        char *end;
        long v = strtol(argv[a + 1], &end, 10);
        if (*end || v < 1)
            return s_usage();
        if (strcmp(argv[a], "--repeat") == 0 && v <= MAX_REPEAT)
            repeat = v;
        else if (strcmp(argv[a], "--last") == 0)
            last = v;
        else
            return s_usage();
    }
    n = argc - a;
    if (n < 1 || n > MAX_SPECS)
        return s_usage();
    for (int j = 0; j < 3; j++) {
        series_init(&col[j]);
        series_init(&in[j]);
    }
    for (int i = 0; i < n; i++) {
        enum ind_kind kind;
        double p[IND_MAX_PARAM];
        if (s_parse_spec(argv[a + i], &kind, p) ||
            indicator_check(kind, p, why, sizeof why)) {
            fprintf(stderr, "ind_dump: bad indicator '%s'\n", argv[a + i]);
            return 2;
        }
        if (indicator_init_ex(&ind[i], kind,
                              indicator_info(kind)->nin > 1 ? hlc : c3, p, 0,
                              NULL)) {
            fprintf(stderr, "ind_dump: out of memory\n");
            return 1;
        }
    }
    while (scanf("%lf %lf %lf", &h, &l, &c) == 3)
        if (series_push(&in[0], h) || series_push(&in[1], l) ||
            series_push(&in[2], c)) {
            rc = 1;
            goto out;
        }
    total = in[2].len * (size_t)repeat;
    for (long r = 0; r < repeat; r++)
        for (size_t k = 0; k < in[2].len; k++) {
            if (s_feed(col, ind, n, in[0].v[k], in[1].v[k], in[2].v[k])) {
                rc = 1;
                goto out;
            }
            if (last < 0 || col[2].len + (size_t)last > total)
                s_print(ind, n);
        }
out:
    for (int i = 0; i < n; i++)
        indicator_free(&ind[i]);
    for (int j = 0; j < 3; j++) {
        series_free(&col[j]);
        series_free(&in[j]);
    }
    if (rc)
        fprintf(stderr, "ind_dump: out of memory\n");
    return rc;
}
