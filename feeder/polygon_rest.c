/* polygon_rest.c -- Polygon.io REST aggregates over libcurl + jansson.
 * See polygon_rest.h for the contract. */
#include "polygon_rest.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "err.h"
#include "log.h"
#include "util.h"

#define RATE_WINDOW_MS 60000
#define SLEEP_SLICE_MS 100          /* how often sleeps look at cfg.stop */

struct polygon_rest {
    struct polygon_rest_cfg cfg;    /* strings below, not the caller's */
    char *base;                     /* base URL without a trailing '/' */
    char *key;                      /* API key */
    char *ca_file;                  /* or NULL */
    CURL *curl;                     /* one easy handle, reused */
    uint64_t rng;                   /* jitter state */
    polygon_rate_t *rate;           /* the limiter: cfg.rate or own */
    int own_rate;                   /* rate is this client's */
    struct polygon_rest_stats st;   /* counters */
    int global;                     /* curl_global_init() done */
};

/* A response body, bounded. */
struct body {
    char *p;                        /* NUL-terminated */
    size_t n, cap, max;             /* used, allocated, limit */
    int too_big;                    /* the limit was hit */
    long retry_after;               /* seconds; -1 if no header */
};


/* ==== small helpers ================================================= */

char *polygon_rest_redact(const char *url, char *out, size_t n)
{
    static const char tag[] = "REDACTED";
    size_t o = 0;

    if (n == 0)
        return out;
    for (const char *p = url; *p && o + 1 < n;) {
        int param = p == url || p[-1] == '?' || p[-1] == '&' ||
                    p[-1] == ';';
        if (param && strncasecmp(p, "apikey=", 7) == 0) {
            for (int i = 0; i < 7 && o + 1 < n; i++)
                out[o++] = p[i];
            for (size_t i = 0; tag[i] && o + 1 < n; i++)
                out[o++] = tag[i];
            p += 7;
            while (*p && *p != '&' && *p != '#' && *p != ';')
                p++;
            continue;
        }
        out[o++] = *p++;
    }
    out[o] = '\0';
    return out;
}

/* Percent-encodes s into out[n] for a path segment or query value;
 * unreserved characters and ':' pass. 0 or ERR_TOO_LARGE. */
static int s_escape(const char *s, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' ||
            c == ':') {
            if (o + 1 >= n)
                return ERR_TOO_LARGE;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= n)
                return ERR_TOO_LARGE;
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (o >= n)
        return ERR_TOO_LARGE;
    out[o] = '\0';
    return 0;
}

/* The path and query of an absolute or root-relative URL, or NULL. */
static const char *s_rel(const char *url)
{
    const char *p;

    if (url[0] == '/')
        return url[1] == '/' ? strchr(url + 2, '/') : url;
    p = strstr(url, "://");
    if (!p)
        return NULL;
    return strchr(p + 3, '/');
}

int polygon_rest_next_url(const char *base, const char *next_url,
                          const char *api_key, char *out, size_t n,
                          char *err)
{
    char key[256];
    const char *rel = s_rel(next_url);
    char red[POLYGON_URL_MAX];

    if (!rel) {
        snprintf(err, ERR_LEN, "next_url is not a URL: %.120s",
                 polygon_rest_redact(next_url, red, sizeof red));
        return ERR_PARSE;
    }
    if (s_escape(api_key, key, sizeof key)) {
        snprintf(err, ERR_LEN, "API key too long");
        return ERR_TOO_LARGE;
    }
    if (strfmt(out, n, "%s%s%capiKey=%s", base, rel,
               strchr(rel, '?') ? '&' : '?', key) < 0) {
        snprintf(err, ERR_LEN, "next_url too long: %.120s",
                 polygon_rest_redact(next_url, red, sizeof red));
        return ERR_TOO_LARGE;
    }
    return 0;
}

int64_t polygon_rest_tf(int multiplier, const char *timespan)
{
    static const struct { const char *name; int64_t sec; } spans[] = {
        { "second", 1 }, { "minute", 60 }, { "hour", 3600 },
        { "day", 86400 }, { "week", 7 * 86400 }, { "month", 30 * 86400 },
        { "quarter", 91 * 86400 }, { "year", 365 * 86400 },
    };

    if (multiplier < 1 || !timespan)
        return 0;
    for (size_t i = 0; i < sizeof spans / sizeof spans[0]; i++)
        if (strcmp(timespan, spans[i].name) == 0)
            return multiplier > INT32_MAX / spans[i].sec
                       ? 0 : multiplier * spans[i].sec;
    return 0;
}

const char *polygon_rest_strerror(int err)
{
    switch (err) {
    case POLYGON_ERR_AUTH: return "bad API key";
    case POLYGON_ERR_PLAN: return "plan not entitled";
    }
    return err_str(err);
}

#define PARSE_RETRIES 2             /* asks again for a page that did not
                                       parse */

/* {==================== the rate limiter ==================== */

/* A ring of the request times (mono ms) in the last window; `cap` is the
 * limit (0: none). One mutex, so clients on several threads share it. */
struct polygon_rate {
    pthread_mutex_t mu;
    int cap;                        /* requests per window; 0: no limit */
    int64_t *stamps;                /* cap entries */
    int nstamp, head;               /* entries used, oldest entry */
};

polygon_rate_t *polygon_rate_new(int per_min)
{
    polygon_rate_t *self;

    if (per_min < 0 || per_min > 100000)
        return NULL;
    self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->cap = per_min;
    self->stamps = calloc(per_min > 0 ? (size_t)per_min : 1,
                          sizeof *self->stamps);
    if (!self->stamps || pthread_mutex_init(&self->mu, NULL)) {
        free(self->stamps);
        free(self);
        return NULL;
    }
    return self;
}

void polygon_rate_destroy(polygon_rate_t **self_p)
{
    polygon_rate_t *self = *self_p;

    if (!self)
        return;
    pthread_mutex_destroy(&self->mu);
    free(self->stamps);
    free(self);
    *self_p = NULL;
}

/* The wait at `now`; the caller holds the mutex. */
static int64_t s_rate_wait(const polygon_rate_t *r, int64_t now)
{
    int64_t until;

    if (r->cap <= 0 || r->nstamp < r->cap)
        return 0;
    until = r->stamps[r->head] + RATE_WINDOW_MS;
    return until > now ? until - now : 0;
}

/* Records a request at `now`; the caller holds the mutex. */
static void s_rate_note(polygon_rate_t *r, int64_t now)
{
    if (r->cap <= 0)
        return;
    if (r->nstamp < r->cap) {
        r->stamps[(r->head + r->nstamp++) % r->cap] = now;
    } else {
        r->stamps[r->head] = now;
        r->head = (r->head + 1) % r->cap;
    }
}

int64_t polygon_rate_take(polygon_rate_t *self, int64_t now)
{
    int64_t wait;

    pthread_mutex_lock(&self->mu);
    wait = s_rate_wait(self, now);
    if (wait == 0)
        s_rate_note(self, now);
    pthread_mutex_unlock(&self->mu);
    return wait;
}

int64_t polygon_rest_rate_wait(const polygon_rest_t *self, int64_t now)
{
    int64_t wait;

    pthread_mutex_lock(&self->rate->mu);
    wait = s_rate_wait(self->rate, now);
    pthread_mutex_unlock(&self->rate->mu);
    return wait;
}

void polygon_rest_rate_note(polygon_rest_t *self, int64_t now)
{
    pthread_mutex_lock(&self->rate->mu);
    s_rate_note(self->rate, now);
    pthread_mutex_unlock(&self->rate->mu);
}

/* }========================================================== */

static int s_stopped(const polygon_rest_t *self)
{
    return self->cfg.stop && *self->cfg.stop;
}

/* Sleeps ms milliseconds in slices; ERR_TIMEOUT if cfg.stop was set. */
static int s_sleep(polygon_rest_t *self, int64_t ms)
{
    int64_t end = mono_ms() + ms, now;

    while ((now = mono_ms()) < end) {
        int64_t step = end - now < SLEEP_SLICE_MS ? end - now
                                                  : SLEEP_SLICE_MS;
        struct timespec ts = { step / 1000, (step % 1000) * 1000000L };
        if (s_stopped(self))
            return ERR_TIMEOUT;
        nanosleep(&ts, NULL);
    }
    self->st.waited_ms += ms;
    return s_stopped(self) ? ERR_TIMEOUT : 0;
}

/* ==== parsing ======================================================== */

static int s_push(struct polygon_bars *out, const struct bar *b)
{
    int rc = grow((void **)&out->v, &out->cap, out->n + 1, sizeof *out->v,
                  out->max);

    if (rc)
        return rc;
    out->v[out->n++] = *b;
    return 0;
}

static int s_num(json_t *o, const char *k, double *v)
{
    json_t *x = json_object_get(o, k);

    if (!json_is_number(x))
        return -1;
    *v = json_number_value(x);
    return 0;
}

/* One element of `results` to a bar; -1 if a required key is missing
 * (an index, sym "I:...", has no "v": volume 0). */
static int s_result(json_t *r, const char *sym, int64_t tf, struct bar *b)
{
    int no_volume = strncmp(sym, "I:", 2) == 0;
    static const char *keys[] = { "o", "h", "l", "c", "v" };
    double *dst[] = { &b->o, &b->h, &b->l, &b->c, &b->vol };
    json_t *t = json_object_get(r, "t"), *n = json_object_get(r, "n");
    double d;

    memset(b, 0, sizeof *b);
    strfmt(b->src, sizeof b->src, "polygon");
    strfmt(b->sym, sizeof b->sym, "%s", sym);
    b->tf = tf;
    b->vw = NAN;
    b->n = -1;
    if (!json_is_object(r))
        return -1;
    for (int i = 0; i < 5; i++)
        if (s_num(r, keys[i], dst[i]) &&
            !(i == 4 && no_volume && !json_object_get(r, "v")))
            return -1;
    if (json_is_integer(t)) {
        b->t = json_integer_value(t);
    } else if (json_is_real(t)) {
        d = json_real_value(t);
        if (!(d >= 0 && d < 9.2e18) || d != floor(d))
            return -1;
        b->t = (int64_t)d;
    } else {
        return -1;
    }
    if (s_num(r, "vw", &d) == 0)
        b->vw = d;
    if (json_is_integer(n) && json_integer_value(n) >= 0)
        b->n = json_integer_value(n);
    else if (json_is_real(n) && json_real_value(n) >= 0 &&
             json_real_value(n) < 9.2e18)
        b->n = (int64_t)json_real_value(n);
    return 0;
}

int polygon_rest_parse(const char *body, size_t len, const char *sym,
                       int64_t tf, const char *url, struct polygon_bars *out,
                       char **next_url, char *err)
{
    json_error_t jerr;
    json_t *root, *res, *nu, *st;
    char why[ERR_LEN];
    int rc = 0;

    *next_url = NULL;
    root = json_loadb(body, len, 0, &jerr);
    if (!root) {
        snprintf(err, ERR_LEN, "malformed JSON from %.150s: %.60s", url,
                 jerr.text);
        return ERR_PARSE;
    }
    if (!json_is_object(root)) {
        snprintf(err, ERR_LEN, "malformed response from %.150s: not an "
                 "object", url);
        rc = ERR_PARSE;
        goto out;
    }
    st = json_object_get(root, "status");
    res = json_object_get(root, "results");
    if (json_is_string(st) && strcmp(json_string_value(st), "OK") != 0 &&
        strcmp(json_string_value(st), "DELAYED") != 0 && !res) {
        json_t *m = json_object_get(root, "error");
        if (!json_is_string(m))
            m = json_object_get(root, "message");
        snprintf(err, ERR_LEN, "%.150s: status %.20s: %.60s", url,
                 json_string_value(st),
                 json_is_string(m) ? json_string_value(m) : "");
        rc = ERR_INVALID;
        goto out;
    }
    if (res && !json_is_null(res) && !json_is_array(res)) {
        snprintf(err, ERR_LEN, "malformed response from %.150s: results "
                 "is not an array", url);
        rc = ERR_PARSE;
        goto out;
    }
    for (size_t i = 0; i < json_array_size(res); i++) {
        struct bar b;
        if (s_result(json_array_get(res, i), sym, tf, &b) ||
            msg_bar_check(&b, why) ||
            (out->n > 0 && b.t <= out->v[out->n - 1].t)) {
            out->skipped++;
            continue;
        }
        rc = s_push(out, &b);
        if (rc) {
            snprintf(err, ERR_LEN, "%s: more than %zu bars", sym, out->max);
            goto out;
        }
    }
    nu = json_object_get(root, "next_url");
    if (nu && !json_is_null(nu)) {
        if (!json_is_string(nu)) {
            snprintf(err, ERR_LEN, "malformed response from %.150s: "
                     "next_url is not a string", url);
            rc = ERR_PARSE;
            goto out;
        }
        if (json_string_length(nu) > 0) {
            *next_url = strdup(json_string_value(nu));
            if (!*next_url)
                rc = ERR_NOMEM;
        }
    }
out:
    json_decref(root);
    return rc;
}

int polygon_rest_pager_next(struct polygon_rest_pager *pg, const char *base,
                            const char *key, const char *next_url,
                            char *url, size_t n, char *err)
{
    char red[POLYGON_URL_MAX];
    const char *rel = s_rel(next_url);
    uint64_t h;
    int rc;

    rc = polygon_rest_next_url(base, next_url, key, url, n, err);
    if (rc)
        return rc;
    h = hash_str(HASH_INIT, rel);
    for (size_t i = 0; i < pg->n; i++)
        if (pg->seen[i] == h) {
            snprintf(err, ERR_LEN, "next_url loops back to %.150s",
                     polygon_rest_redact(url, red, sizeof red));
            return ERR_INVALID;
        }
    if (pg->n >= pg->max) {
        snprintf(err, ERR_LEN, "more than %zu pages, stopped at %.150s",
                 pg->max, polygon_rest_redact(url, red, sizeof red));
        return ERR_INVALID;
    }
    pg->seen[pg->n++] = h;
    return 0;
}

/* ==== HTTP =========================================================== */

static size_t s_write(char *p, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t len = size * nmemb;

    if (len > b->max - b->n) {
        b->too_big = 1;
        return 0;                   /* curl fails with CURLE_WRITE_ERROR */
    }
    if (grow((void **)&b->p, &b->cap, b->n + len + 1, 1, b->max + 1))
        return 0;
    memcpy(b->p + b->n, p, len);
    b->n += len;
    b->p[b->n] = '\0';
    return len;
}

/* Picks Retry-After (delay in seconds) out of the response headers. */
static size_t s_header(char *p, size_t size, size_t nmemb, void *arg)
{
    struct body *b = arg;
    size_t len = size * nmemb;
    char v[32];
    size_t i = 12, k = 0;
    int64_t sec;

    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        while (i < len && (p[i] == ' ' || p[i] == '\t'))
            i++;
        while (i < len && k + 1 < sizeof v && isdigit((unsigned char)p[i]))
            v[k++] = p[i++];
        v[k] = '\0';
        if (k > 0 && parse_int64(v, &sec) == 0 && sec <= 86400)
            b->retry_after = (long)sec;
    } else if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        b->retry_after = -1;        /* a new response (after 100, ...) */
    }
    return len;
}

static int s_progress(void *arg, curl_off_t dt, curl_off_t dn,
                      curl_off_t ut, curl_off_t un)
{
    (void)dt, (void)dn, (void)ut, (void)un;
    return s_stopped(arg);
}

/* The message of an error body ("error" or "message"), or "". */
static const char *s_body_msg(const struct body *b, char *out, size_t n)
{
    json_t *root = b->n ? json_loadb(b->p, b->n, 0, NULL) : NULL;
    json_t *m = json_object_get(root, "error");

    if (!json_is_string(m))
        m = json_object_get(root, "message");
    strfmt(out, n, "%s", json_is_string(m) ? json_string_value(m) : "");
    json_decref(root);
    return out;
}

/* One attempt: performs the GET. Returns the curl code; HTTP status in
 * *status. */
static CURLcode s_perform(polygon_rest_t *self, const char *url,
                          struct body *b, long *status, char *cerr)
{
    CURLcode cc;

    b->n = 0;
    b->too_big = 0;
    b->retry_after = -1;
    if (b->p)
        b->p[0] = '\0';
    cerr[0] = '\0';
    curl_easy_setopt(self->curl, CURLOPT_URL, url);
    curl_easy_setopt(self->curl, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(self->curl, CURLOPT_HEADERDATA, b);
    curl_easy_setopt(self->curl, CURLOPT_ERRORBUFFER, cerr);
    cc = curl_easy_perform(self->curl);
    *status = 0;
    curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, status);
    self->st.requests++;
    return cc;
}

static int s_retryable_curl(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
        return 1;
    default:
        return 0;
    }
}

/* GET url with retries; on 0 the 200 body is in *b. `red` is the
 * redacted URL for messages. */
static int s_get(polygon_rest_t *self, const char *url, const char *red,
                 struct body *b, char *err)
{
    char cerr[CURL_ERROR_SIZE], msg[160], tmp[CURL_ERROR_SIZE];
    int64_t slept = 0, wait;
    int rc;

    for (int attempt = 0;; attempt++) {
        long status;
        CURLcode cc;

        /* Another client sharing the limiter may take the slot first:
         * wait again until one is ours. */
        for (int k = 0; (wait = polygon_rate_take(self->rate,
                                                  mono_ms())) > 0; k++) {
            if (!k)
                log_msg(LL_INFO, "polygon: rate limit %d/min, waiting "
                        "%lld ms", self->rate->cap, (long long)wait);
            if (s_sleep(self, wait)) {
                snprintf(err, ERR_LEN, "interrupted before %.180s", red);
                return ERR_TIMEOUT;
            }
        }
        if (attempt > 0)
            self->st.retries++;
        cc = s_perform(self, url, b, &status, cerr);
        if (cc == CURLE_OK && status == 200)
            return 0;

        if (cc == CURLE_ABORTED_BY_CALLBACK || s_stopped(self)) {
            snprintf(err, ERR_LEN, "interrupted: %.180s", red);
            return ERR_TIMEOUT;
        }
        if (cc == CURLE_WRITE_ERROR && b->too_big) {
            snprintf(err, ERR_LEN, "response over %zu bytes from %.150s",
                     b->max, red);
            return ERR_TOO_LARGE;
        }
        if (cc != CURLE_OK) {
            polygon_rest_redact(cerr[0] ? cerr : curl_easy_strerror(cc),
                                tmp, sizeof tmp);
            snprintf(err, ERR_LEN, "%.150s: %.90s", red, tmp);
            rc = cc == CURLE_OPERATION_TIMEDOUT ? ERR_TIMEOUT : ERR_IO;
            if (!s_retryable_curl(cc))
                return rc;
        } else {
            s_body_msg(b, msg, sizeof msg);
            if (status == 401) {
                snprintf(err, ERR_LEN, "bad API key (HTTP 401: %.60s) "
                         "for %.150s", msg, red);
                return POLYGON_ERR_AUTH;
            }
            if (status == 403) {
                snprintf(err, ERR_LEN, "plan not entitled (HTTP 403: "
                         "%.90s) for %.120s", msg, red);
                return POLYGON_ERR_PLAN;
            }
            snprintf(err, ERR_LEN, "HTTP %ld from %.150s%s%.60s", status,
                     red, msg[0] ? ": " : "", msg);
            if (status == 429) {
                rc = ERR_TIMEOUT;
            } else if (status >= 500 && status <= 599) {
                rc = ERR_IO;
            } else {
                return ERR_INVALID;     /* 400, 404, other: no retry */
            }
        }

        if (attempt >= self->cfg.max_retries) {
            log_msg(LL_WARN, "polygon: giving up after %d attempts: %s",
                    attempt + 1, err);
            return rc;
        }
        if (cc == CURLE_OK && b->retry_after >= 0)
            wait = (int64_t)b->retry_after * 1000;
        else
            wait = backoff_ms(self->cfg.backoff_base_ms,
                              self->cfg.backoff_max_ms, attempt + 1,
                              rand_next(&self->rng));
        if (slept + wait > self->cfg.retry_budget_ms) {
            log_msg(LL_WARN, "polygon: retry budget of %lld ms spent: %s",
                    (long long)self->cfg.retry_budget_ms, err);
            return rc;
        }
        log_msg(LL_WARN, "polygon: %s; retry %d/%d in %lld ms", err,
                attempt + 1, self->cfg.max_retries, (long long)wait);
        if (s_sleep(self, wait)) {
            snprintf(err, ERR_LEN, "interrupted: %.180s", red);
            return ERR_TIMEOUT;
        }
        slept += wait;
    }
}

/* ==== the client ===================================================== */

void polygon_rest_cfg_defaults(struct polygon_rest_cfg *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->base_url = POLYGON_REST_BASE;
    cfg->connect_timeout_ms = 10000;
    cfg->timeout_ms = 60000;
    cfg->max_retries = 4;
    cfg->retry_budget_ms = 120000;
    cfg->backoff_base_ms = 500;
    cfg->backoff_max_ms = 30000;
    cfg->rate_per_min = 0;
    cfg->max_pages = 10000;
    cfg->max_bars = 5000000;
    cfg->max_body = 256u << 20;
}

polygon_rest_t *polygon_rest_new(const struct polygon_rest_cfg *cfg,
                                 char *err)
{
    polygon_rest_t *self;
    const char *base = cfg->base_url ? cfg->base_url : POLYGON_REST_BASE;
    size_t len = strlen(base);

    if (!cfg->api_key || !cfg->api_key[0]) {
        snprintf(err, ERR_LEN, "polygon: no API key (POLYGON_API_KEY)");
        return NULL;
    }
    if (strncmp(base, "http://", 7) != 0 &&
        strncmp(base, "https://", 8) != 0) {
        snprintf(err, ERR_LEN, "polygon: base URL '%.100s' is not "
                 "http(s)://", base);
        return NULL;
    }
    if (cfg->max_pages < 1 || cfg->max_bars < 1 || cfg->max_body < 1 ||
        cfg->max_retries < 0 || cfg->rate_per_min < 0 ||
        cfg->rate_per_min > 100000 || len >= POLYGON_URL_MAX / 2) {
        snprintf(err, ERR_LEN, "polygon: bad client limits");
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (!self)
        goto nomem;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, ERR_LEN, "polygon: libcurl initialisation failed");
        polygon_rest_destroy(&self);
        return NULL;
    }
    self->global = 1;
    self->cfg = *cfg;
    while (len > 0 && base[len - 1] == '/')
        len--;
    self->base = strndup(base, len);
    self->key = strdup(cfg->api_key);
    self->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
    if (cfg->rate) {
        self->rate = cfg->rate;
    } else {
        self->rate = polygon_rate_new(cfg->rate_per_min);
        self->own_rate = 1;
    }
    if (!self->base || !self->key || !self->rate ||
        (cfg->ca_file && !self->ca_file))
        goto nomem;
    self->cfg.base_url = self->base;
    self->cfg.api_key = self->key;
    self->cfg.ca_file = self->ca_file;
    self->rng = cfg->seed ? cfg->seed : random_u64();
    self->curl = curl_easy_init();
    if (!self->curl) {
        snprintf(err, ERR_LEN, "polygon: curl_easy_init failed");
        polygon_rest_destroy(&self);
        return NULL;
    }
    curl_easy_setopt(self->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(self->curl, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(self->curl, CURLOPT_CONNECTTIMEOUT_MS,
                     cfg->connect_timeout_ms);
    curl_easy_setopt(self->curl, CURLOPT_TIMEOUT_MS, cfg->timeout_ms);
    curl_easy_setopt(self->curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(self->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(self->curl, CURLOPT_USERAGENT, "livetrade-feeder");
    curl_easy_setopt(self->curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(self->curl, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(self->curl, CURLOPT_XFERINFOFUNCTION, s_progress);
    curl_easy_setopt(self->curl, CURLOPT_XFERINFODATA, self);
    curl_easy_setopt(self->curl, CURLOPT_NOPROGRESS, 0L);
    if (self->ca_file)
        curl_easy_setopt(self->curl, CURLOPT_CAINFO, self->ca_file);
    return self;
nomem:
    snprintf(err, ERR_LEN, "polygon: out of memory");
    polygon_rest_destroy(&self);
    return NULL;
}

void polygon_rest_destroy(polygon_rest_t **self_p)
{
    polygon_rest_t *self = *self_p;

    if (!self)
        return;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    if (self->global)
        curl_global_cleanup();      /* paired with new's global init */
    if (self->key)
        memset(self->key, 0, strlen(self->key));
    free(self->key);
    free(self->base);
    free(self->ca_file);
    if (self->own_rate)
        polygon_rate_destroy(&self->rate);
    free(self);
    *self_p = NULL;
}

void polygon_rest_set_stop(polygon_rest_t *self,
                           const volatile sig_atomic_t *stop)
{
    self->cfg.stop = stop;
}

void polygon_rest_stats(const polygon_rest_t *self,
                        struct polygon_rest_stats *st)
{
    *st = self->st;
}

int polygon_rest_aggs(polygon_rest_t *self, const char *ticker,
                      int multiplier, const char *timespan, int64_t from_ms,
                      int64_t to_ms, struct bar **bars, size_t *n, char *err)
{
    struct polygon_bars out = { .max = self->cfg.max_bars };
    struct polygon_rest_pager pg = { .max = (size_t)self->cfg.max_pages };
    struct body b = { .max = self->cfg.max_body, .retry_after = -1 };
    char url[POLYGON_URL_MAX], red[POLYGON_URL_MAX], sym[3 * SYM_MAX];
    char key[256];
    char *next = NULL;
    int64_t tf = polygon_rest_tf(multiplier, timespan);
    size_t len;
    int rc, parse_retries = 0;

    *bars = NULL;
    *n = 0;
    if (!ticker || !symbol_valid(ticker) || tf == 0 || from_ms < 0 ||
        to_ms < from_ms) {
        snprintf(err, ERR_LEN, "polygon: bad request %.40s %d %.10s "
                 "%lld..%lld", ticker ? ticker : "(null)", multiplier,
                 timespan ? timespan : "(null)", (long long)from_ms,
                 (long long)to_ms);
        return ERR_USAGE;
    }
    pg.seen = calloc(pg.max, sizeof *pg.seen);
    if (!pg.seen) {
        snprintf(err, ERR_LEN, "polygon: out of memory");
        return ERR_NOMEM;
    }
    if (s_escape(ticker, sym, sizeof sym) ||
        s_escape(self->key, key, sizeof key) ||
        strfmt(url, sizeof url, "%s/v2/aggs/ticker/%s/range/%d/%s/%lld/"
               "%lld?adjusted=true&sort=asc&limit=50000",
               self->base, sym, multiplier, timespan, (long long)from_ms,
               (long long)to_ms) < 0) {
        snprintf(err, ERR_LEN, "polygon: request URL too long");
        rc = ERR_TOO_LARGE;
        goto out;
    }
    pg.seen[pg.n++] = hash_str(HASH_INIT, s_rel(url));  /* before the key */
    len = strlen(url);
    if (strfmt(url + len, sizeof url - len, "&apiKey=%s", key) < 0) {
        snprintf(err, ERR_LEN, "polygon: request URL too long");
        rc = ERR_TOO_LARGE;
        goto out;
    }
    for (;;) {
        polygon_rest_redact(url, red, sizeof red);
        log_msg(LL_DEBUG, "polygon: GET %s", red);
        rc = s_get(self, url, red, &b, err);
        if (rc)
            goto out;
        rc = polygon_rest_parse(b.p ? b.p : "", b.n, ticker, tf, red, &out,
                                &next, err);
        if (rc == ERR_PARSE && parse_retries < PARSE_RETRIES) {
            /* A 200 whose body does not parse is usually cut short on
             * the way: ask for the same page again, a few times. */
            int64_t wait = backoff_ms(self->cfg.backoff_base_ms,
                                      self->cfg.backoff_max_ms,
                                      ++parse_retries,
                                      rand_next(&self->rng));
            log_msg(LL_WARN, "%s; asking again in %lld ms", err,
                    (long long)wait);
            self->st.retries++;
            if (s_sleep(self, wait)) {
                rc = ERR_TIMEOUT;
                goto out;
            }
            continue;
        }
        if (rc)
            goto out;
        parse_retries = 0;
        self->st.pages++;
        if (!next)
            break;
        rc = polygon_rest_pager_next(&pg, self->base, self->key, next, url,
                                     sizeof url, err);
        free(next);
        next = NULL;
        if (rc)
            goto out;
    }
    *bars = out.v;
    *n = out.n;
    out.v = NULL;
    self->st.bars += *n;
out:
    self->st.skipped += out.skipped;
    if (out.skipped)
        log_msg(LL_WARN, "polygon: %s: %zu results skipped (invalid or "
                "out of order)", ticker, out.skipped);
    free(out.v);
    free(pg.seen);
    free(b.p);
    free(next);
    memset(key, 0, sizeof key);
    memset(url, 0, sizeof url);
    return rc;
}
