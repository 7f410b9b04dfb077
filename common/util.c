/* util.c -- clocks, hashing, strict parsing, symbols, backoff, UTC text,
 * array growth. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t hash64(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

uint64_t hash_str(uint64_t h, const char *s)
{
    return hash64(h, s, strlen(s) + 1);
}

uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = mix64((uint64_t)wall_ms() ^ ((uint64_t)getpid() << 32));
    return v ? v : 1;
}

int parse_double(const char *s, double *out)
{
    char *end;
    double v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

int parse_int64(const char *s, int64_t *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int symbol_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == ':' ||
                 c == '/' || c == '_' || c == '-';
        if (!ok || n + 1 >= SYM_MAX)
            return 0;
    }
    return n > 0;
}

int split_list(char *s, char **items, int max)
{
    int n = 0;
    char *p = s;

    while (p && *p) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma = '\0';
        while (*p == ' ')
            p++;
        size_t len = strlen(p);
        while (len && p[len - 1] == ' ')
            p[--len] = '\0';
        if (*p) {
            if (n == max)
                return -1;
            items[n++] = p;
        }
        p = comma ? comma + 1 : NULL;
    }
    return n;
}

int strfmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return (r < 0 || (size_t)r >= n) ? -1 : r;
}

char *xdg_dir(const char *kind, char *out, size_t n)
{
    int state = strcmp(kind, "state") == 0;
    const char *xdg = getenv(state ? "XDG_STATE_HOME" : "XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    int len;

    if (xdg && *xdg == '/')
        len = snprintf(out, n, "%s/livetrade", xdg);
    else if (home && *home)
        len = snprintf(out, n, "%s/%s/livetrade", home,
                       state ? ".local/state" : ".cache");
    else
        return NULL;
    return len > 0 && (size_t)len < n ? out : NULL;
}

int mkdir_p(const char *dir, char *err)
{
    char path[1024];
    size_t len = strlen(dir);

    if (len == 0 || len >= sizeof path) {
        snprintf(err, ERR_LEN, "directory name is empty or too long");
        return -1;
    }
    memcpy(path, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        path[i] = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            snprintf(err, ERR_LEN, "cannot create %.200s: %s", path,
                     strerror(errno));
            return -1;
        }
        path[i] = i < len ? '/' : '\0';
    }
    return 0;
}

uint32_t crc32_ieee(uint32_t crc, const void *data, size_t len)
{
    static uint32_t table[256];
    static int ready;
    const unsigned char *p = data;

    if (!ready) {                   /* idempotent: a race writes the same */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    crc = ~crc;
    while (len--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int eng_id_valid(const char *s)
{
    size_t n = 0;
    if (!s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
        return 0;
    for (; s[n]; n++) {
        char c = s[n];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                 (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        if (!ok || n + 1 >= ENG_ID_MAX)
            return 0;
    }
    return n > 0;
}

int symbol_shard(const char *sym, int n)
{
    return n > 0 ? (int)(hash64(HASH_INIT, sym, strlen(sym)) %
                         (uint64_t)n) : 0;
}

int open_private(const char *path, int flags)
{
    return open(path, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

FILE *tmp_private(const char *path, char *tmp, size_t n)
{
    FILE *f;
    int fd, e;

    if (strfmt(tmp, n, "%s.XXXXXX", path) < 0) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    fd = mkstemp(tmp);
    if (fd < 0)
        return NULL;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 && (f = fdopen(fd, "w")))
        return f;
    e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return NULL;
}

uint64_t rand_next(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ULL;
    return mix64(*state);
}

int64_t backoff_ms(int64_t base, int64_t max, int attempt, uint64_t rnd)
{
    int64_t d = base > 0 ? base : 1, half;

    if (max < 1)
        max = 1;
    for (int i = 1; i < attempt && d < max; i++)
        d = d > max / 2 ? max : d * 2;
    if (d > max)
        d = max;
    half = d / 2;
    return d - half + (int64_t)(rnd % (uint64_t)(half + 1));
}

int utc_text(char *buf, size_t n, int64_t ms, int style)
{
    static const char *const fmt[] = {
        [UTC_ISO] = "%Y-%m-%dT%H:%M:%SZ",
        [UTC_ISO_MS] = "%Y-%m-%dT%H:%M:%S",
        [UTC_PLAIN] = "%Y-%m-%d %H:%M:%S",
    };
    int64_t sec = ms / 1000 - (ms % 1000 < 0);      /* floor */
    int rest = (int)((ms % 1000 + 1000) % 1000);    /* 0..999 */
    time_t t = (time_t)sec;
    struct tm tm;
    size_t len;

    if (n)
        buf[0] = '\0';
    if (style < UTC_ISO || style > UTC_PLAIN || (int64_t)t != sec ||
        !gmtime_r(&t, &tm))
        return -1;
    len = n ? strftime(buf, n, fmt[style], &tm) : 0;
    if (!len)
        goto toolong;
    if (style == UTC_ISO_MS &&
        strfmt(buf + len, n - len, ".%03dZ", rest) < 0)
        goto toolong;
    return 0;
toolong:
    if (n)
        buf[0] = '\0';
    return -1;
}

int grow(void **p, size_t *cap, size_t need, size_t size, size_t max)
{
    size_t c = *cap ? *cap : GROW_MIN, bytes;
    void *q;

    if (need <= *cap)
        return 0;
    if (need > max || (size && need > SIZE_MAX / size))
        return ERR_TOO_LARGE;
    while (c < need)
        c = c > SIZE_MAX / 2 ? SIZE_MAX : c * 2;
    if (c > max)
        c = max;
    if (size && c > SIZE_MAX / size)
        c = need;                   /* need * size fits, checked above */
    bytes = c * size;
    q = realloc(*p, bytes ? bytes : 1);
    if (!q)
        return ERR_NOMEM;
    *p = q;
    *cap = c;
    return 0;
}
