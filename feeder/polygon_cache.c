/* polygon_cache.c -- the polygon source's history cache (see
 * polygon_cache.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "polygon_cache.h"
#include "util.h"

#define LINE_MAX_LEN 512            /* longest line accepted */
#define MAGIC "# livetrade polygon cache v1 "

/* FNV-1a, 64 bits. */
static uint64_t s_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int polygon_cache_path(char *out, size_t n, const char *dir,
                       const char *base_url, const char *sym, int64_t tf)
{
    int len = snprintf(out, n, "%s/%s-%llds-%08llx.csv", dir, sym,
                       (long long)tf,
                       (unsigned long long)(s_hash(base_url) & 0xffffffffu));

    return len > 0 && (size_t)len < n ? 0 : ERR_TOO_LARGE;
}

/* Parses one bar line into b (t, prices, vol, vw, n). 0 or ERR_PARSE. */
static int s_parse_line(char *line, struct bar *b)
{
    char *f[8], *p = line, *end;
    int k = 0;

    for (; k < 8; k++) {
        f[k] = p;
        p = strchr(p, ',');
        if (!p)
            break;
        *p++ = '\0';
    }
    if (k != 7)
        return ERR_PARSE;
    errno = 0;
    b->t = strtoll(f[0], &end, 10);
    if (errno || end == f[0] || *end)
        return ERR_PARSE;
    double *d[5] = { &b->o, &b->h, &b->l, &b->c, &b->vol };
    for (int j = 0; j < 5; j++) {
        *d[j] = strtod(f[j + 1], &end);
        if (end == f[j + 1] || *end)
            return ERR_PARSE;
    }
    b->vw = NAN;
    if (*f[6]) {
        b->vw = strtod(f[6], &end);
        if (*end)
            return ERR_PARSE;
    }
    b->n = strtoll(f[7], &end, 10);
    if (end == f[7] || *end)
        return ERR_PARSE;
    return 0;
}

int polygon_cache_load(const char *path, const char *sym, int64_t tf,
                       struct bar **bars, size_t *n, char *err)
{
    char line[LINE_MAX_LEN], head[LINE_MAX_LEN], why[ERR_LEN];
    struct bar *v = NULL, b;
    size_t cap = 0, used = 0, lineno = 1;
    FILE *fp;
    int rc = 0;

    *bars = NULL;
    *n = 0;
    fp = fopen(path, "r");
    if (!fp) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, ERR_LEN, "%.200s: %s", path, strerror(errno));
        return ERR_IO;
    }
    snprintf(head, sizeof head, MAGIC "%s %lld\n", sym, (long long)tf);
    if (!fgets(line, sizeof line, fp) || strcmp(line, head) != 0) {
        snprintf(err, ERR_LEN, "%.200s: not a cache file of %s at %llds",
                 path, sym, (long long)tf);
        rc = ERR_PARSE;
        goto out;
    }
    while (fgets(line, sizeof line, fp)) {
        size_t len = strlen(line);
        lineno++;
        if (len == 0 || line[len - 1] != '\n') {
            snprintf(err, ERR_LEN, "%.200s:%zu: line cut or too long", path,
                     lineno);
            rc = ERR_PARSE;
            goto out;
        }
        line[len - 1] = '\0';
        memset(&b, 0, sizeof b);
        snprintf(b.src, sizeof b.src, "polygon");
        snprintf(b.sym, sizeof b.sym, "%s", sym);
        b.tf = tf;
        rc = s_parse_line(line, &b);
        if (rc == 0)
            rc = msg_bar_check(&b, why);
        if (rc == 0 && used && b.t <= v[used - 1].t)
            rc = ERR_PARSE;
        if (rc) {
            snprintf(err, ERR_LEN, "%.200s:%zu: bad bar", path, lineno);
            rc = ERR_PARSE;
            goto out;
        }
        rc = grow((void **)&v, &cap, used + 1, sizeof *v,
                  POLYGON_CACHE_MAX_BARS);
        if (rc == ERR_TOO_LARGE)
            snprintf(err, ERR_LEN, "%.200s: more than %d bars", path,
                     POLYGON_CACHE_MAX_BARS);
        else if (rc)
            snprintf(err, ERR_LEN, "out of memory");
        if (rc)
            goto out;
        v[used++] = b;
    }
    if (ferror(fp)) {
        snprintf(err, ERR_LEN, "%.200s: read error", path);
        rc = ERR_IO;
    }
out:
    fclose(fp);
    if (rc) {
        free(v);
        return rc;
    }
    *bars = v;
    *n = used;
    return 0;
}

int polygon_cache_save(const char *path, const struct bar *bars, size_t n,
                       char *err)
{
    char tmp[1100];
    FILE *fp;
    int bad;

    if (n == 0)
        return 0;
    if (snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()) >=
        (int)sizeof tmp) {
        snprintf(err, ERR_LEN, "cache path too long");
        return ERR_IO;
    }
    fp = fopen(tmp, "w");
    if (!fp) {
        snprintf(err, ERR_LEN, "%.200s: %s", tmp, strerror(errno));
        return ERR_IO;
    }
    fprintf(fp, MAGIC "%s %lld\n", bars[0].sym, (long long)bars[0].tf);
    for (size_t i = 0; i < n; i++) {
        const struct bar *b = &bars[i];
        fprintf(fp, "%lld,%.17g,%.17g,%.17g,%.17g,%.17g,", (long long)b->t,
                b->o, b->h, b->l, b->c, b->vol);
        if (!isnan(b->vw))
            fprintf(fp, "%.17g", b->vw);
        fprintf(fp, ",%lld\n", (long long)b->n);
    }
    bad = ferror(fp);
    bad |= fflush(fp) != 0;
    bad |= fsync(fileno(fp)) != 0;
    bad |= fclose(fp) != 0;
    if (bad || rename(tmp, path) != 0) {
        snprintf(err, ERR_LEN, "cannot write %.200s: %s", path,
                 strerror(errno));
        unlink(tmp);
        return ERR_IO;
    }
    return 0;
}
