/* config.c -- flags, environment and `.env` file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "util.h"

#define ENV_MAX 128
#define NAME_MAX_LEN 64                 /* longer names are never close */
#define PREFIX "LIVETRADE_"

extern char **environ;

static struct { char *key, *val; int line; } s_env[ENV_MAX];
static int s_nenv = -1;                 /* -1: .env not read yet */
static int s_checked;                   /* settings checked once */

/* Every setting livetrade reads from the environment or `.env` besides
 * the flags' own (struct opt .env), and those of the deployments
 * (deploy/.env.example): a new setting is one line here. */
static const char *const s_known[] = {
    "LIVETRADE_AUTOSTART_PIPELINE", "LIVETRADE_AUTOSTART_SINKS",
    "LIVETRADE_BIN", "LIVETRADE_BIN_DIR", "LIVETRADE_CHROMIUM",
    "LIVETRADE_CONSOLE_ARGS", "LIVETRADE_CONSOLE_METRICS_PORT",
    "LIVETRADE_CURVE",
    "LIVETRADE_ENGINE0_METRICS_PORT", "LIVETRADE_ENGINE0_PUB_PORT",
    "LIVETRADE_ENGINE0_REP_PORT", "LIVETRADE_ENGINE1_METRICS_PORT",
    "LIVETRADE_ENGINE1_PUB_PORT", "LIVETRADE_ENGINE1_REP_PORT",
    "LIVETRADE_ENGINE_ARGS", "LIVETRADE_ENV_FILE", "LIVETRADE_FEEDER_ARGS",
    "LIVETRADE_FEEDER_METRICS_PORT", "LIVETRADE_FEEDER_PUB_PORT",
    "LIVETRADE_FEEDER_REP_PORT", "LIVETRADE_FILE_ARGS",
    "LIVETRADE_FILE_METRICS_PORT", "LIVETRADE_HEALTH_ENDPOINT",
    "LIVETRADE_HOST", "LIVETRADE_LOG_DIR",
    "LIVETRADE_POLYGON_GAP_RETRY_MS", "LIVETRADE_POLYGON_KICKED_WAIT_MS",
    "LIVETRADE_POLYGON_PROGRESS_MS",
    "LIVETRADE_POLYGON_READ_TIMEOUT_MS", "LIVETRADE_RUN_DIR",
    "LIVETRADE_SETTINGS_CHECKED", "LIVETRADE_SHARD", "LIVETRADE_SHARE",
    "LIVETRADE_SIGNALS_FILE", "LIVETRADE_SOURCE", "LIVETRADE_STARTRETRIES",
    "LIVETRADE_STATUS", "LIVETRADE_STOPWAITSECS", "LIVETRADE_STOP_GRACE_S",
    "LIVETRADE_STRATEGY", "LIVETRADE_WEB_TOKEN",
    /* without the prefix: checked in `.env` only, for near misses */
    "TRADING_SYMBOLS", "HISTORICAL_DAYS", "POLYGON_API_KEY",
    "MASSIVE_API_KEY", "DISCORD_WEBHOOK_URL", "SLACK_WEBHOOK_URL",
    NULL
};

/* Reads KEY=VALUE lines; '#' comments, optional `export `, optional
 * single or double quotes around the value. A line longer than the
 * buffer is an error that ends the program (exit 2), naming the file and
 * line: it is never read as two settings. */
static void s_load_env(void)
{
    const char *path = getenv("LIVETRADE_ENV_FILE");
    char line[1024];
    int lineno = 0;
    FILE *f;

    s_nenv = 0;
    f = fopen(path ? path : ".env", "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f) && s_nenv < ENV_MAX) {
        char *p = line, *eq, *v;
        size_t n;
        int c;

        lineno++;
        if (!strchr(line, '\n') && !feof(f) && (c = getc(f)) != EOF) {
            log_msg(LL_ERROR, "%s:%d: line longer than %d characters "
                    "(a setting is KEY=VALUE on one line)",
                    path ? path : ".env", lineno, (int)sizeof line - 2);
            exit(2);
        }
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
        s_env[s_nenv].line = lineno;
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

int config_distance(const char *a, const char *b)
{
    /* Optimal string alignment: insertions, deletions, substitutions and
     * swaps of two neighbours each cost 1. */
    static int d[NAME_MAX_LEN + 1][NAME_MAX_LEN + 1];
    size_t la = strlen(a), lb = strlen(b);

    if (la > NAME_MAX_LEN || lb > NAME_MAX_LEN)
        return NAME_MAX_LEN;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;
            if (d[i - 1][j] + 1 < v)
                v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    return d[la][lb];
}

/* Up to a third of the name may be wrong (at least one character, at
 * most three), or the name may be the start of exactly one candidate. */
const char *config_closest(const char *name, const char *const *cands,
                           int n)
{
    size_t len = strlen(name);
    int best = NAME_MAX_LEN, limit = (int)len / 3, nprefix = 0;
    const char *pick = NULL, *prefix = NULL;

    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    for (int i = 0; i < n && cands[i]; i++) {
        int dist = config_distance(name, cands[i]);
        if (dist < best) {
            best = dist;
            pick = cands[i];
        }
        if (len >= 3 && strncmp(cands[i], name, len) == 0) {
            prefix = cands[i];
            nprefix++;
        }
    }
    if (pick && best <= limit)
        return pick;
    return nprefix == 1 ? prefix : NULL;
}

/* 1 if `name` is a known setting: in s_known or an `env` of `opts`. */
static int s_known_name(const char *name, const struct opt *opts)
{
    for (int i = 0; s_known[i]; i++)
        if (strcmp(s_known[i], name) == 0)
            return 1;
    for (const struct opt *o = opts; o && o->name; o++)
        if (o->env && strcmp(o->env, name) == 0)
            return 1;
    return 0;
}

/* The closest known setting to `name`, or NULL. LIVETRADE_* names are
 * compared without the prefix, so that it does not count as right. */
static const char *s_closest_setting(const char *name,
                                     const struct opt *opts)
{
    const size_t plen = strlen(PREFIX);
    int ours = strncmp(name, PREFIX, plen) == 0;
    const char *all[128], *cands[128], *near;
    int nall = 0, n = 0;

    for (int i = 0; s_known[i] && nall < 100; i++)
        all[nall++] = s_known[i];
    for (const struct opt *o = opts; o && o->name && nall < 127; o++)
        if (o->env)
            all[nall++] = o->env;
    for (int i = 0; i < nall; i++) {
        int theirs = strncmp(all[i], PREFIX, plen) == 0;
        if (ours && theirs)
            cands[n++] = all[i] + plen;
        else if (!ours)
            cands[n++] = all[i];
    }
    cands[n] = NULL;
    near = config_closest(ours ? name + plen : name, cands, n);
    return near && ours ? near - plen : near;
}

/* One warning per unknown LIVETRADE_* setting, in the environment or the
 * `.env` file, and per near miss of a known name in `.env`; once per
 * process, and not in the programs `livetrade run` starts (it checked). */
static void s_check_settings(const struct opt *opts)
{
    const char *file = getenv("LIVETRADE_ENV_FILE");

    if (s_checked++ || getenv("LIVETRADE_SETTINGS_CHECKED"))
        return;
    for (char **e = environ; e && *e; e++) {
        char name[NAME_MAX_LEN + 1];
        const char *eq = strchr(*e, '='), *near;
        size_t n = eq ? (size_t)(eq - *e) : strlen(*e);
        if (strncmp(*e, PREFIX, strlen(PREFIX)) != 0 || n > NAME_MAX_LEN)
            continue;
        memcpy(name, *e, n);
        name[n] = '\0';
        if (s_known_name(name, opts))
            continue;
        near = s_closest_setting(name, opts);
        log_msg(LL_WARN, "unknown setting %s in the environment%s%s%s; "
                "ignored", name, near ? " (did you mean " : "",
                near ? near : "", near ? "?)" : "");
    }
    if (s_nenv < 0)
        s_load_env();
    for (int i = 0; i < s_nenv; i++) {
        const char *name = s_env[i].key, *near;
        int ours = strncmp(name, PREFIX, strlen(PREFIX)) == 0;
        if (s_known_name(name, opts))
            continue;
        near = s_closest_setting(name, opts);
        if (!ours && !near)
            continue;               /* another tool's setting */
        log_msg(LL_WARN, "unknown setting %s in %s line %d%s%s%s; ignored",
                name, file ? file : ".env", s_env[i].line,
                near ? " (did you mean " : "", near ? near : "",
                near ? "?)" : "");
    }
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
    case OPT_SET: {
        const struct opt_setter *s = o->dst;
        return s->set(s->dst, val, from, err) ? ERR_USAGE : 0;
    }
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

    s_check_settings(opts);
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
            const char *names[128], *near;
            char typed[NAME_MAX_LEN + 1];
            int n = 0;
            for (o = opts; o->name && n < 127; o++)
                if (o->kind != OPT_REST)
                    names[n++] = o->name;
            names[n] = NULL;
            strfmt(typed, sizeof typed, "%.*s", (int)len, a);
            near = len <= NAME_MAX_LEN ? config_closest(typed, names, n) :
                   NULL;
            if (near)
                snprintf(err, ERR_LEN, "unknown flag --%.*s (did you mean "
                         "--%s? see --help)", (int)len, a, near);
            else
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
