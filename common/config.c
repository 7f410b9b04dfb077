/* config.c -- flags, environment and `.env` file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "util.h"

#define ENV_MAX 128

static struct { char *key, *val; } s_env[ENV_MAX];
static int s_nenv = -1;                 /* -1: .env not read yet */

/* Reads KEY=VALUE lines; '#' comments, optional `export `, optional
 * single or double quotes around the value. */
static void s_load_env(void)
{
    const char *path = getenv("LIVETRADE_ENV_FILE");
    char line[1024];
    FILE *f;

    s_nenv = 0;
    f = fopen(path ? path : ".env", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f) && s_nenv < ENV_MAX) {
        char *p = line, *eq, *v;
        size_t n;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        if (strncmp(p, "export ", 7) == 0)
            p += 7;
        eq = strchr(p, '=');
        if (!eq)
            continue;
        *eq = '\0';
        v = eq + 1;
        n = strlen(v);
        while (n && (v[n - 1] == '\n' || v[n - 1] == '\r' ||
                     v[n - 1] == ' '))
            v[--n] = '\0';
        if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
            v[n - 1] = '\0';
            v++;
        }
        n = strlen(p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            p[--n] = '\0';
        s_env[s_nenv].key = strdup(p);
        s_env[s_nenv].val = strdup(v);
        if (s_env[s_nenv].key && s_env[s_nenv].val)
            s_nenv++;
    }
    fclose(f);
}

const char *config_env(const char *name)
{
    const char *v = getenv(name);
    if (v && *v)
        return v;
    if (s_nenv < 0)
        s_load_env();
    for (int i = 0; i < s_nenv; i++)
        if (strcmp(s_env[i].key, name) == 0)
            return s_env[i].val;
    return NULL;
}

/* `from` names where the value came from: "--name" or "VAR". */
static int s_set(const struct opt *o, const char *val, const char *from,
                 char *err)
{
    switch (o->kind) {
    case OPT_STR:
        *(const char **)o->dst = val;
        return 0;
    case OPT_INT:
        if (parse_int64(val, (int64_t *)o->dst) == 0)
            return 0;
        break;
    case OPT_DBL:
        if (parse_double(val, (double *)o->dst) == 0)
            return 0;
        break;
    case OPT_BOOL:
        *(int *)o->dst = strcmp(val, "0") != 0 && strcmp(val, "false") != 0;
        return 0;
    case OPT_REST:
        break;                      /* only `--` sets it */
    case OPT_MULTI: {
        struct opt_multi *m = o->dst;
        if (m->n < OPT_MULTI_MAX) {
            m->v[m->n++] = val;
            return 0;
        }
        snprintf(err, ERR_LEN, "too many --%s values (at most %d)",
                 o->name, OPT_MULTI_MAX);
        return ERR_USAGE;
    }
    }
    snprintf(err, ERR_LEN, "bad value '%s' for %s: expected %s", val,
             from, o->kind == OPT_INT ? "an integer" : "a number");
    return ERR_USAGE;
}

int config_parse(const struct opt *opts, int argc, char **argv, int first,
                 const char **pos, int maxpos, int *npos, char *err)
{
    unsigned char seen[128] = {0};
    int np = 0;

    for (int i = first; i < argc; i++) {
        const char *a = argv[i], *val = NULL, *eq;
        const struct opt *o;
        size_t len;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return 1;
        if (strcmp(a, "--") == 0) {
            for (o = opts; o->name && o->kind != OPT_REST; o++)
                ;
            if (o->name) {
                struct opt_rest *r = o->dst;
                r->argc = argc - i - 1;
                r->argv = argv + i + 1;
                break;
            }
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (np == maxpos) {
                snprintf(err, ERR_LEN, "unexpected argument '%s'", a);
                return ERR_USAGE;
            }
            pos[np++] = a;
            continue;
        }
        a += 2;
        eq = strchr(a, '=');
        len = eq ? (size_t)(eq - a) : strlen(a);
        for (o = opts; o->name; o++)
            if (o->kind != OPT_REST && strlen(o->name) == len &&
                strncmp(o->name, a, len) == 0)
                break;
        if (!o->name) {
            snprintf(err, ERR_LEN, "unknown flag --%.*s (see --help)",
                     (int)len, a);
            return ERR_USAGE;
        }
        if (eq)
            val = eq + 1;
        else if (o->kind == OPT_BOOL)
            val = "1";
        else if (i + 1 < argc)
            val = argv[++i];
        else {
            snprintf(err, ERR_LEN, "flag --%s needs a value", o->name);
            return ERR_USAGE;
        }
        {
            char from[80];
            snprintf(from, sizeof from, "--%s", o->name);
            if (s_set(o, val, from, err))
                return ERR_USAGE;
        }
        if (o - opts < 128)
            seen[o - opts] = 1;
    }
    for (const struct opt *o = opts; o->name; o++) {
        const char *v;
        if (!o->env || o->kind == OPT_REST ||
            (o - opts < 128 && seen[o - opts]))
            continue;
        v = config_env(o->env);
        if (v && s_set(o, v, o->env, err))
            return ERR_USAGE;
    }
    if (npos)
        *npos = np;
    return 0;
}

int config_given(int argc, char **argv, int first, const char *name)
{
    size_t n = strlen(name);

    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0)
            break;
        if (strncmp(a, "--", 2) == 0 && strncmp(a + 2, name, n) == 0 &&
            (a[2 + n] == '\0' || a[2 + n] == '='))
            return 1;
    }
    return 0;
}

void config_usage(const char *usage, const struct opt *opts)
{
    printf("usage: %s\n\n", usage);
    for (const struct opt *o = opts; o->name; o++) {
        char left[64];
        if (o->kind == OPT_REST)
            snprintf(left, sizeof left, "-- %s", o->meta ? o->meta : "ARGS");
        else
            snprintf(left, sizeof left, "--%s%s%s", o->name,
                     o->meta ? " " : "", o->meta ? o->meta : "");
        printf("  %-26s %s", left, o->help ? o->help : "");
        if (o->env)
            printf(" [env %s]", o->env);
        printf("\n");
    }
}
