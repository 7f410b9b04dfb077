/* csv.c -- OHLCV bars from a CSV file (see csv.h for the layout, the
 * time formats, the checks and the bounds). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "csv.h"
#include "err.h"
#include "util.h"

#define CHUNK 65536                 /* bytes read from the file at once */

/* What a column holds. Every column that is not COL_TIME or open..volume
 * is also an extra column. */
enum { COL_TIME, COL_OPEN, COL_HIGH, COL_LOW, COL_CLOSE, COL_VOLUME,
       COL_VWAP, COL_TRADES, NROLES };

static const char *const s_aliases[NROLES][8] = {
    { "", "time", "timestamp", "date", "datetime", "index", "t", NULL },
    { "open", "o", NULL },
    { "high", "h", NULL },
    { "low", "l", NULL },
    { "close", "c", NULL },
    { "volume", "vol", "v", NULL },
    { "vwap", "vw", NULL },
    { "trades", "n", NULL },
};

/* Column names for files without a header. */
static const char *const s_positional[] = {
    "time", "open", "high", "low", "close", "volume"
};

/* {==================== times ====================== */

static int s_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t s_days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void s_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly `n` digits at *p into *out and advances *p. 0 or -1. */
static int s_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* Reads a run of digits as milliseconds of a fraction ("5" = 500 ms,
 * "123456" = 123 ms). Needs at least one digit. */
static int s_fraction(const char **p, int64_t *ms)
{
    const char *s = *p;
    int64_t v = 0;
    int k = 0;

    while (*s >= '0' && *s <= '9') {
        if (k < 3)
            v = v * 10 + (*s - '0');
        k++;
        s++;
    }
    if (k == 0)
        return -1;
    for (int i = k; i < 3; i++)
        v *= 10;
    *p = s;
    *ms = v;
    return 0;
}

/* A plain number: epoch seconds, or milliseconds from CSV_EPOCH_MS_FROM. */
static int s_parse_epoch(const char *s, int64_t *ms)
{
    int64_t v = 0, frac = 0;
    int k = 0;

    for (; *s >= '0' && *s <= '9'; s++, k++) {
        if (k == 18)
            return -1;              /* far beyond any bar time */
        v = v * 10 + (*s - '0');
    }
    if (k == 0)
        return -1;
    if (*s == '.') {
        s++;
        if (s_fraction(&s, &frac))
            return -1;
    }
    if (*s)
        return -1;
    if (v >= CSV_EPOCH_MS_FROM) {
        *ms = v;                    /* a fraction of a ms is dropped */
        return 0;
    }
    *ms = v * 1000 + frac;
    return 0;
}

int csv_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, hh = 0, mi = 0, ss = 0, oh = 0, om = 0, sign = 0;
    int64_t frac = 0, days;
    const char *p = s;

    if (!s || !*s)
        return -1;
    if (strpbrk(s, "-:TtZz ") == NULL)
        return s_parse_epoch(s, ms);
    if (s_digits(&p, 4, &y) || *p++ != '-' || s_digits(&p, 2, &mo) ||
        *p++ != '-' || s_digits(&p, 2, &d))
        return -1;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (s_digits(&p, 2, &hh) || *p++ != ':' || s_digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (s_digits(&p, 2, &ss))
                return -1;
            if (*p == '.') {
                p++;
                if (s_fraction(&p, &frac))
                    return -1;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '-' ? -1 : 1;
            if (s_digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (*p && s_digits(&p, 2, &om))
                return -1;
        }
    }
    if (*p)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || hh > 23 || mi > 59 || ss > 59 ||
        oh > 23 || om > 59)
        return -1;
    {
        static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
                                       31, 30, 31 };
        if (d > mdays[mo - 1] + (mo == 2 && s_leap(y)))
            return -1;
    }
    days = s_days_from_civil(y, mo, d);
    *ms = (((days * 24 + hh) * 60 + mi) * 60 + ss) * 1000 + frac -
          (int64_t)sign * (oh * 60 + om) * 60000;
    return 0;
}

void csv_format_time(int64_t ms, char *buf, size_t n)
{
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rest = ms - days * 86400000, y;
    int m, d;

    s_civil_from_days(days, &y, &m, &d);
    if (rest % 1000)
        snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d.%03d",
                 (long long)y, m, d, (int)(rest / 3600000),
                 (int)(rest / 60000 % 60), (int)(rest / 1000 % 60),
                 (int)(rest % 1000));
    else
        snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)y,
                 m, d, (int)(rest / 3600000), (int)(rest / 60000 % 60),
                 (int)(rest / 1000 % 60));
}

/* }==================================================== */

/* {==================== lines and fields ====================== */

struct reader {
    FILE *f;
    const char *path;               /* for messages */
    char buf[CHUNK];                /* read-ahead */
    size_t pos, len;                /* unread part of buf */
    int eof;                        /* fread saw the end */
    size_t total, max_bytes;        /* bytes read, and the limit */
    size_t lineno;                  /* line number of `line` */
    char line[CSV_MAX_LINE];        /* the current line, NUL-terminated */
};

/* Reads the next line into r->line without its line end. Returns 1, 0
 * at the end of the file, or an error with the reason in err. */
static int s_read_line(struct reader *r, size_t *len, char *err)
{
    size_t n = 0;
    int got = 0;                    /* bytes of this line seen */

    for (;;) {
        const char *p, *nl;
        size_t take;

        if (r->pos == r->len) {
            if (r->eof)
                break;
            r->pos = 0;
            r->len = fread(r->buf, 1, sizeof r->buf, r->f);
            if (r->len == 0) {
                if (ferror(r->f)) {
                    snprintf(err, ERR_LEN, "%s: read error: %s", r->path,
                             strerror(errno));
                    return ERR_IO;
                }
                r->eof = 1;
                continue;
            }
            r->total += r->len;
            if (r->total > r->max_bytes) {
                snprintf(err, ERR_LEN, "%s: file is larger than %zu bytes "
                         "(the limit)", r->path, r->max_bytes);
                return ERR_TOO_LARGE;
            }
        }
        p = r->buf + r->pos;
        nl = memchr(p, '\n', r->len - r->pos);
        take = nl ? (size_t)(nl - p) : r->len - r->pos;
        got = 1;
        if (n + take >= sizeof r->line) {
            snprintf(err, ERR_LEN, "%s:%zu: line longer than %d bytes",
                     r->path, r->lineno + 1, CSV_MAX_LINE - 1);
            return ERR_TOO_LARGE;
        }
        memcpy(r->line + n, p, take);
        n += take;
        r->pos += take + (nl != NULL);
        if (nl)
            break;
    }
    if (!got)
        return 0;
    r->lineno++;
    if (n && r->line[n - 1] == '\r')
        n--;
    r->line[n] = '\0';
    if (memchr(r->line, '\0', n)) {
        snprintf(err, ERR_LEN, "%s:%zu: NUL byte in line (not a text file?)",
                 r->path, r->lineno);
        return ERR_PARSE;
    }
    *len = n;
    return 1;
}

/* Splits s in place into fields (commas; double quotes with "" for a
 * quote; spaces around a field dropped). Returns the number of fields,
 * -1 if there are more than max, -2 for a broken quote. */
static int s_split(char *s, char **f, int max)
{
    char *p = s;
    int n = 0;

    for (;;) {
        char *start, *end, sep;

        while (*p == ' ' || *p == '\t')
            p++;
        if (n == max)
            return -1;
        if (*p == '"') {
            char *w;
            start = w = ++p;
            for (;;) {
                if (*p == '\0')
                    return -2;
                if (*p == '"') {
                    if (p[1] != '"')
                        break;
                    p++;
                }
                *w++ = *p++;
            }
            p++;                    /* the closing quote */
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != ',' && *p != '\0')
                return -2;
            end = w;
        } else {
            start = p;
            while (*p && *p != ',')
                p++;
            end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
        }
        sep = *p;
        *end = '\0';
        f[n++] = start;
        if (sep == '\0')
            return n;
        p++;
    }
}

/* }==================================================== */

/* {==================== loading ====================== */

struct cols {
    int n;                          /* columns in every row */
    int role[CSV_MAX_COLS];         /* COL_* or -1 */
    int extra[CSV_MAX_COLS];        /* index among extras, or -1 */
    int at[NROLES];                 /* column of each role, or -1 */
    char name[CSV_MAX_COLS][CSV_NAME];  /* for messages */
};

static int s_role(const char *name)
{
    for (int r = 0; r < NROLES; r++)
        for (int k = 0; s_aliases[r][k]; k++)
            if (strcasecmp(name, s_aliases[r][k]) == 0)
                return r;
    return -1;
}

/* Works out the columns from the first line's fields. */
static int s_header(struct cols *c, char **f, int nf, int has_header,
                    const struct reader *r, struct csv_data *d, char *err)
{
    c->n = nf;
    for (int r2 = 0; r2 < NROLES; r2++)
        c->at[r2] = -1;
    if (!has_header) {
        if (nf != 5 && nf != 6) {
            snprintf(err, ERR_LEN, "%s:%zu: no header, so the columns must "
                     "be time,open,high,low,close[,volume]; found %d",
                     r->path, r->lineno, nf);
            return ERR_PARSE;
        }
        for (int j = 0; j < nf; j++) {
            c->role[j] = c->at[j] = j;
            c->extra[j] = -1;
            snprintf(c->name[j], CSV_NAME, "%s", s_positional[j]);
        }
        return 0;
    }
    for (int j = 0; j < nf; j++) {
        int role = s_role(f[j]);
        if (strlen(f[j]) >= CSV_NAME) {
            snprintf(err, ERR_LEN, "%s:%zu: column name '%.40s...' is "
                     "longer than %d characters", r->path, r->lineno, f[j],
                     CSV_NAME - 1);
            return ERR_PARSE;
        }
        if (f[j][0])
            snprintf(c->name[j], CSV_NAME, "%s", f[j]);
        else
            snprintf(c->name[j], CSV_NAME, "col%d", j + 1);
        if (role == COL_TIME && c->at[COL_TIME] >= 0)
            role = -1;              /* a second time-like column: extra */
        if (role >= 0 && c->at[role] >= 0) {
            snprintf(err, ERR_LEN, "%s:%zu: columns '%.40s' and '%.40s' "
                     "both look like %s", r->path, r->lineno,
                     c->name[c->at[role]], c->name[j],
                     s_aliases[role][0]);
            return ERR_PARSE;
        }
        c->role[j] = role;
        if (role >= 0)
            c->at[role] = j;
    }
    if (c->at[COL_TIME] < 0) {
        if (c->role[0] >= 0) {
            snprintf(err, ERR_LEN, "%s:%zu: no time column (name it time "
                     "or date, or leave its name empty, as pandas does)",
                     r->path, r->lineno);
            return ERR_PARSE;
        }
        c->role[0] = COL_TIME;
        c->at[COL_TIME] = 0;
    }
    for (int r2 = COL_OPEN; r2 <= COL_CLOSE; r2++)
        if (c->at[r2] < 0) {
            snprintf(err, ERR_LEN, "%s:%zu: no %s column (the header needs "
                     "Open, High, Low and Close)", r->path, r->lineno,
                     s_aliases[r2][0]);
            return ERR_PARSE;
        }
    d->nextra = 0;
    for (int j = 0; j < nf; j++)
        c->extra[j] = c->role[j] < 0 || c->role[j] >= COL_VWAP ?
                      d->nextra++ : -1;
    if (d->nextra) {
        d->extra_name = calloc((size_t)d->nextra, sizeof *d->extra_name);
        d->extra = calloc((size_t)d->nextra, sizeof *d->extra);
        if (!d->extra_name || !d->extra) {
            snprintf(err, ERR_LEN, "%s: out of memory", r->path);
            return ERR_NOMEM;
        }
        for (int j = 0; j < nf; j++)
            if (c->extra[j] >= 0)
                memcpy(d->extra_name[c->extra[j]], c->name[j], CSV_NAME);
    }
    return 0;
}

/* Makes room for `need` bars, at most `max`, in every array of d (*cap
 * bars each, then as many as the bars got). 0 or ERR_NOMEM. */
static int s_grow(struct csv_data *d, size_t *cap, size_t need, size_t max)
{
    size_t c = *cap, k = *cap;
    int rc;

    rc = grow((void **)&d->bars, &c, need, sizeof *d->bars, max);
    if (!rc)
        rc = grow((void **)&d->line, &k, c, sizeof *d->line, c);
    for (int j = 0; !rc && j < d->nextra; j++) {
        k = *cap;
        rc = grow((void **)&d->extra[j], &k, c, sizeof *d->extra[j], c);
    }
    if (rc)
        return ERR_NOMEM;
    *cap = c;
    return 0;
}

/* A price or volume field. 0, or an error naming the column. */
static int s_number(const char *s, const struct cols *c, int j,
                    const struct reader *r, double *out, char *err)
{
    if (!*s) {
        snprintf(err, ERR_LEN, "%s:%zu: empty %s", r->path, r->lineno,
                 c->name[j]);
        return ERR_PARSE;
    }
    if (parse_double(s, out)) {
        snprintf(err, ERR_LEN, "%s:%zu: bad %s value '%.40s'", r->path,
                 r->lineno, c->name[j], s);
        return ERR_PARSE;
    }
    return 0;
}

/* One data row into bar d->n. */
static int s_row(struct csv_data *d, const struct cols *c, char **f,
                 const struct reader *r, const struct csv_opts *o,
                 char *err)
{
    struct bar *b = &d->bars[d->n];
    const char *ts = f[c->at[COL_TIME]];
    double *px[4] = { &b->o, &b->h, &b->l, &b->c };
    char why[ERR_LEN];
    double v;
    int rc;

    memset(b, 0, sizeof *b);
    snprintf(b->src, sizeof b->src, "%s", o->src ? o->src : "csv");
    snprintf(b->sym, sizeof b->sym, "%s", o->symbol);
    b->vw = NAN;
    b->n = -1;
    b->tf = 1;                      /* set once every time is known */
    if (csv_parse_time(ts, &b->t)) {
        snprintf(err, ERR_LEN, "%s:%zu: bad time '%.40s' (expected "
                 "YYYY-MM-DD[ HH:MM[:SS]], ISO 8601, or epoch seconds or "
                 "milliseconds)", r->path, r->lineno, ts);
        return ERR_PARSE;
    }
    if (b->t < 0) {
        snprintf(err, ERR_LEN, "%s:%zu: time '%.40s' is before 1970",
                 r->path, r->lineno, ts);
        return ERR_PARSE;
    }
    for (int k = 0; k < 4; k++) {
        int j = c->at[COL_OPEN + k];
        rc = s_number(f[j], c, j, r, px[k], err);
        if (rc)
            return rc;
    }
    if (c->at[COL_VOLUME] >= 0) {
        int j = c->at[COL_VOLUME];
        rc = s_number(f[j], c, j, r, &b->vol, err);
        if (rc)
            return rc;
    }
    if (c->at[COL_VWAP] >= 0 && parse_double(f[c->at[COL_VWAP]], &v) == 0 &&
        v > 0)
        b->vw = v;
    if (c->at[COL_TRADES] >= 0 &&
        parse_double(f[c->at[COL_TRADES]], &v) == 0 && v >= 0 &&
        v < 9007199254740992.0 && v == floor(v))
        b->n = (int64_t)v;
    for (int j = 0; j < c->n; j++)
        if (c->extra[j] >= 0)
            d->extra[c->extra[j]][d->n] =
                parse_double(f[j], &v) == 0 ? v : NAN;
    if (msg_bar_check(b, why)) {
        snprintf(err, ERR_LEN, "%.80s:%zu: %.160s", r->path, r->lineno, why);
        return ERR_INVALID;
    }
    d->line[d->n] = r->lineno;
    return 0;
}

struct order_key {
    int64_t t;
    size_t i;                       /* row in file order */
};

static int s_cmp_key(const void *a, const void *b)
{
    const struct order_key *x = a, *y = b;

    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Sorts every array of d by time, stably. */
static int s_sort(struct csv_data *d)
{
    struct order_key *k = malloc(d->n * sizeof *k);
    struct bar *b = malloc(d->n * sizeof *b);
    size_t *l = malloc(d->n * sizeof *l);
    int rc = ERR_NOMEM;

    if (!k || !b || !l)
        goto out;
    for (size_t i = 0; i < d->n; i++)
        k[i] = (struct order_key){ d->bars[i].t, i };
    qsort(k, d->n, sizeof *k, s_cmp_key);
    for (size_t i = 0; i < d->n; i++) {
        b[i] = d->bars[k[i].i];
        l[i] = d->line[k[i].i];
    }
    for (int j = 0; j < d->nextra; j++) {
        double *x = malloc(d->n * sizeof *x);
        if (!x)
            goto out;
        for (size_t i = 0; i < d->n; i++)
            x[i] = d->extra[j][k[i].i];
        free(d->extra[j]);
        d->extra[j] = x;
    }
    free(d->bars);
    free(d->line);
    d->bars = b;
    d->line = l;
    b = NULL;
    l = NULL;
    rc = 0;
out:
    free(k);
    free(b);
    free(l);
    return rc;
}

static int s_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The most common gap between consecutive bars, in seconds (csv.h). */
static int s_timeframe(struct csv_data *d, int64_t *tf)
{
    int64_t *g, best = 0;
    size_t best_n = 0, run = 0;

    if (d->n < 2) {
        *tf = d->bars[0].t % 86400000 == 0 ? 86400 : 60;
        return 0;
    }
    g = malloc((d->n - 1) * sizeof *g);
    if (!g)
        return ERR_NOMEM;
    for (size_t i = 1; i < d->n; i++)
        g[i - 1] = d->bars[i].t - d->bars[i - 1].t;
    qsort(g, d->n - 1, sizeof *g, s_cmp_i64);
    for (size_t i = 0; i < d->n - 1; i++) {
        run = i > 0 && g[i] == g[i - 1] ? run + 1 : 1;
        if (run > best_n) {
            best_n = run;
            best = g[i];
        }
    }
    free(g);
    *tf = (best + 500) / 1000;
    if (*tf < 1)
        *tf = 1;
    return 0;
}

void csv_data_init(struct csv_data *d)
{
    memset(d, 0, sizeof *d);
}

void csv_data_free(struct csv_data *d)
{
    for (int j = 0; d->extra && j < d->nextra; j++)
        free(d->extra[j]);
    free(d->extra);
    free(d->extra_name);
    free(d->bars);
    free(d->line);
    memset(d, 0, sizeof *d);
}

/* Opens path, refusing what is not a regular file under the size limit
 * (a FIFO or /dev/stdin is read with the limit counted as it goes). */
static FILE *s_open(const char *path, size_t max_bytes, int *rc, char *err)
{
    struct stat st;
    FILE *f = fopen(path, "rb");

    if (!f) {
        *rc = errno == ENOENT || errno == ENOTDIR ? ERR_NOTFOUND : ERR_IO;
        snprintf(err, ERR_LEN, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fileno(f), &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(err, ERR_LEN, "%s: is a directory", path);
            *rc = ERR_IO;
            fclose(f);
            return NULL;
        }
        if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max_bytes) {
            snprintf(err, ERR_LEN, "%s: file is %lld bytes; the limit is "
                     "%zu", path, (long long)st.st_size, max_bytes);
            *rc = ERR_TOO_LARGE;
            fclose(f);
            return NULL;
        }
    }
    return f;
}

int csv_load(const char *path, const struct csv_opts *o, struct csv_data *d,
             char *err)
{
    struct reader *r = NULL;
    struct cols *c = NULL;
    char *f[CSV_MAX_COLS + 1];
    size_t cap = 0, max_rows, len;
    int64_t tmax = INT64_MIN;
    int rc = 0, nf, first = 1;

    csv_data_init(d);
    if (!o || !o->symbol || !symbol_valid(o->symbol)) {
        snprintf(err, ERR_LEN, "%s: bad symbol '%.40s'", path,
                 o && o->symbol ? o->symbol : "");
        return ERR_INVALID;
    }
    max_rows = o->max_rows ? o->max_rows : CSV_MAX_ROWS;
    r = calloc(1, sizeof *r);
    c = calloc(1, sizeof *c);
    if (!r || !c) {
        snprintf(err, ERR_LEN, "%s: out of memory", path);
        rc = ERR_NOMEM;
        goto out;
    }
    r->path = path;
    r->max_bytes = o->max_bytes ? o->max_bytes : CSV_MAX_BYTES;
    r->f = s_open(path, r->max_bytes, &rc, err);
    if (!r->f)
        goto out;

    for (;;) {
        char *line;
        rc = s_read_line(r, &len, err);
        if (rc <= 0)
            break;
        line = r->line;
        if (r->lineno == 1 && (unsigned char)line[0] == 0xEF &&
            (unsigned char)line[1] == 0xBB && (unsigned char)line[2] == 0xBF)
            line += 3;              /* UTF-8 byte order mark */
        if (line[strspn(line, " \t")] == '\0')
            continue;               /* blank line */
        nf = s_split(line, f, CSV_MAX_COLS);
        if (nf == -1) {
            snprintf(err, ERR_LEN, "%s:%zu: more than %d fields", path,
                     r->lineno, CSV_MAX_COLS);
            rc = ERR_TOO_LARGE;
            goto out;
        }
        if (nf == -2) {
            snprintf(err, ERR_LEN, "%s:%zu: unterminated or misplaced "
                     "double quote", path, r->lineno);
            rc = ERR_PARSE;
            goto out;
        }
        if (first) {
            double x;
            first = 0;
            d->has_header = !(nf >= 2 && parse_double(f[1], &x) == 0);
            rc = s_header(c, f, nf, d->has_header, r, d, err);
            if (rc)
                goto out;
            if (d->has_header)
                continue;
        }
        if (nf != c->n) {
            snprintf(err, ERR_LEN, "%s:%zu: %d fields, expected %d (as %s)",
                     path, r->lineno, nf, c->n,
                     d->has_header ? "the header" : "the first line");
            rc = ERR_PARSE;
            goto out;
        }
        if (d->n == max_rows) {
            snprintf(err, ERR_LEN, "%s:%zu: more than %zu rows (the limit)",
                     path, r->lineno, max_rows);
            rc = ERR_TOO_LARGE;
            goto out;
        }
        if (s_grow(d, &cap, d->n + 1, max_rows)) {
            snprintf(err, ERR_LEN, "%s: out of memory", path);
            rc = ERR_NOMEM;
            goto out;
        }
        rc = s_row(d, c, f, r, o, err);
        if (rc)
            goto out;
        if (d->bars[d->n].t < tmax)
            d->unsorted++;
        else
            tmax = d->bars[d->n].t;
        d->n++;
    }
    if (rc < 0)
        goto out;
    d->has_volume = c->at[COL_VOLUME] >= 0;
    if (d->n == 0) {
        snprintf(err, ERR_LEN, "%s: no bars (%s)", path, first ?
                 "the file is empty" : "only a header");
        rc = ERR_INVALID;
        goto out;
    }
    if (d->unsorted && s_sort(d)) {
        snprintf(err, ERR_LEN, "%s: out of memory", path);
        rc = ERR_NOMEM;
        goto out;
    }
    for (size_t i = 1; i < d->n; i++)
        if (d->bars[i].t == d->bars[i - 1].t) {
            char when[40];
            size_t a = d->line[i - 1], b = d->line[i];
            csv_format_time(d->bars[i].t, when, sizeof when);
            snprintf(err, ERR_LEN, "%s:%zu: time %s repeats line %zu", path,
                     a > b ? a : b, when, a > b ? b : a);
            rc = ERR_INVALID;
            goto out;
        }
    rc = s_timeframe(d, &d->tf);
    if (rc) {
        snprintf(err, ERR_LEN, "%s: out of memory", path);
        goto out;
    }
    for (size_t i = 0; i < d->n; i++)
        d->bars[i].tf = d->tf;
out:
    if (r && r->f)
        fclose(r->f);
    free(r);
    free(c);
    if (rc)
        csv_data_free(d);
    return rc;
}

/* }==================================================== */

const double *csv_column(const struct csv_data *d, const char *name)
{
    for (int j = 0; j < d->nextra; j++)
        if (strcasecmp(d->extra_name[j], name) == 0)
            return d->extra[j];
    return NULL;
}

int csv_symbol_from_path(const char *path, char out[SYM_MAX])
{
    const char *base = strrchr(path, '/'), *dot;
    size_t n;

    base = base ? base + 1 : path;
    dot = strrchr(base, '.');
    n = dot ? (size_t)(dot - base) : strlen(base);
    if (n == 0 || n >= SYM_MAX)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char ch = base[i];
        out[i] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') : ch;
    }
    out[n] = '\0';
    return symbol_valid(out) ? 0 : -1;
}
