/* polygon_rest.h -- Polygon.io (Massive) REST client for aggregate bars.
 *
 *   struct polygon_rest_cfg cfg;
 *   polygon_rest_cfg_defaults(&cfg);
 *   cfg.api_key = key;
 *   cfg.rate_per_min = 5;                      free plan
 *   polygon_rest_t *pr = polygon_rest_new(&cfg, err);
 *   rc = polygon_rest_aggs(pr, "AAPL", 1, "minute", from_ms, to_ms,
 *                          &bars, &n, err);
 *   ...
 *   free(bars);
 *   polygon_rest_destroy(&pr);
 *
 * One blocking GET per page of /v2/aggs/ticker/{t}/range/{m}/{span}/{from}/
 * {to} (libcurl easy interface, gzip, JSON through jansson). Pages are
 * followed through `next_url`, whose path and query are re-based on the
 * configured base URL with the apiKey added again, so the key never goes to
 * a host other than the configured one. A repeated next_url, too many pages
 * or too many bars stop the call with an error.
 *
 * Failures: 429, 5xx and transport errors are retried with exponential
 * backoff and jitter (Retry-After, in seconds, wins when present), bounded
 * in count and in total waiting time; a client-side limiter keeps to
 * `rate_per_min` requests in any 60 s window (a limiter of its own, or one
 * shared by several clients: polygon_rate_new()). 401 and 403 have their own
 * codes. The API key never appears in a message or a log line: every URL
 * shown goes through polygon_rest_redact().
 *
 * Not thread-safe: one client per thread (a shared limiter is). Each
 * client keeps one libcurl easy handle, so its connection is reused from
 * one request to the next. The first polygon_rest_new()
 * initialises libcurl globally; make it before other threads start. */
#ifndef LT_FEEDER_POLYGON_REST_H
#define LT_FEEDER_POLYGON_REST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "msg_bar.h"

#define POLYGON_REST_BASE "https://api.massive.com"
#define POLYGON_URL_MAX 2048        /* longest URL we build or follow */

/* Error codes of this module, beside the ERR_* codes of err.h. */
enum {
    POLYGON_ERR_AUTH = -101,        /* HTTP 401: missing or unknown key */
    POLYGON_ERR_PLAN = -102         /* HTTP 403: plan not entitled */
};

typedef struct polygon_rate polygon_rate_t;

struct polygon_rest_cfg {
    const char *base_url;           /* scheme://host[:port], no path */
    const char *api_key;            /* required; copied */
    const char *ca_file;            /* CA bundle for TLS; NULL: system */
    long connect_timeout_ms;        /* TCP + TLS handshake */
    long timeout_ms;                /* whole request, one attempt */
    int max_retries;                /* retries per request after the first */
    int64_t retry_budget_ms;        /* total backoff sleep per request */
    int64_t backoff_base_ms;        /* first backoff, doubled per retry */
    int64_t backoff_max_ms;         /* cap of one backoff */
    int rate_per_min;               /* requests per 60 s; 0: no limit */
    polygon_rate_t *rate;           /* shared limiter (then rate_per_min
                                       is unused), or NULL: its own */
    int max_pages;                  /* pages per polygon_rest_aggs() call */
    size_t max_bars;                /* bars per polygon_rest_aggs() call */
    size_t max_body;                /* bytes of one (decoded) response */
    uint64_t seed;                  /* backoff jitter; 0: from the OS */
    const volatile sig_atomic_t *stop; /* set: abort sleeps and transfers */
};

struct polygon_rest_stats {
    uint64_t requests;              /* HTTP requests sent */
    uint64_t retries;               /* of those, retries */
    uint64_t pages;                 /* 200 pages parsed */
    uint64_t bars;                  /* valid bars returned */
    uint64_t skipped;               /* results dropped: invalid, unordered */
    int64_t waited_ms;              /* slept for backoff and rate limit */
};

typedef struct polygon_rest polygon_rest_t;

/* Fills cfg with the defaults: base POLYGON_REST_BASE, connect 10 s,
 * request 60 s, 4 retries within 120 s, backoff 500 ms .. 30 s, no rate
 * limit, 10000 pages, 5 M bars, 256 MiB bodies. */
void polygon_rest_cfg_defaults(struct polygon_rest_cfg *cfg);

/* A client for cfg (copied). NULL with a reason in err[ERR_LEN] on a bad
 * setting (no key, base URL not http(s)://) or if libcurl fails. */
polygon_rest_t *polygon_rest_new(const struct polygon_rest_cfg *cfg,
                                 char *err);

/* Frees the client and sets *self_p to NULL; idempotent. */
void polygon_rest_destroy(polygon_rest_t **self_p);

/* Fetches every bar of `ticker` from from_ms to to_ms (epoch ms, both
 * inclusive as Polygon snaps them), `multiplier` x `timespan` (second,
 * minute, hour, day, week, month, quarter, year), oldest first. On success
 * returns 0 with a malloc'd array in *bars (NULL when *n is 0) that the
 * caller frees. Bars have src "polygon", sym = ticker, tf in seconds
 * (month 30 d, quarter 91 d, year 365 d), vw and n when present; results
 * that fail msg_bar_check() or do not advance in time are skipped and counted
 * in the stats. On failure returns ERR_USAGE, ERR_PARSE, ERR_INVALID,
 * ERR_TOO_LARGE, ERR_IO, ERR_TIMEOUT, ERR_NOMEM, POLYGON_ERR_AUTH or
 * POLYGON_ERR_PLAN with a reason (redacted URL included) in err[ERR_LEN];
 * *bars is NULL and *n 0. */
int polygon_rest_aggs(polygon_rest_t *self, const char *ticker,
                      int multiplier, const char *timespan, int64_t from_ms,
                      int64_t to_ms, struct bar **bars, size_t *n, char *err);

/* A request limiter that clients on several threads may share
 * (cfg.rate): at most per_min requests in any 60 s window; 0: no limit.
 * NULL if out of memory or per_min is not within 0..100000. */
polygon_rate_t *polygon_rate_new(int per_min);
/* Frees it (after every client that uses it) and sets *self_p to NULL. */
void polygon_rate_destroy(polygon_rate_t **self_p);
/* 0 if a request may go out at `now` (then it is recorded), else the
 * milliseconds to wait before asking again. Thread-safe. */
int64_t polygon_rate_take(polygon_rate_t *self, int64_t now);

/* Points the client's stop flag elsewhere (a worker thread's own). */
void polygon_rest_set_stop(polygon_rest_t *self,
                           const volatile sig_atomic_t *stop);

/* Counters since the client was created. */
void polygon_rest_stats(const polygon_rest_t *self,
                        struct polygon_rest_stats *st);

/* Text for a POLYGON_ERR_* code, else err_str(err). */
const char *polygon_rest_strerror(int err);

/* ---- the page logic, public for tests and tools -------------------- */

/* A growing bar array for one call; bounded by `max`. */
struct polygon_bars {
    struct bar *v;                  /* bars, oldest first */
    size_t n, cap;                  /* used, allocated */
    size_t max;                     /* ERR_TOO_LARGE beyond this */
    size_t skipped;                 /* results dropped */
};

/* Seconds in `multiplier` x `timespan`; 0 if unknown or out of range. */
int64_t polygon_rest_tf(int multiplier, const char *timespan);

/* Parses one 200 response body: appends the valid bars of `results`
 * (missing, null or [] give none) to out, stamped with sym and tf; the
 * results of an index (sym "I:...") are values without "v": volume 0. Sets
 * *next_url to a malloc'd copy of `next_url`, or NULL on the last page.
 * Returns 0, ERR_PARSE (not JSON, not an object, wrong types; the reason
 * names `url`, which must already be redacted), ERR_INVALID (a body whose
 * status reports an error), ERR_TOO_LARGE or ERR_NOMEM. */
int polygon_rest_parse(const char *body, size_t len, const char *sym,
                       int64_t tf, const char *url, struct polygon_bars *out,
                       char **next_url, char *err);

/* The URL to request for `next_url`: its path and query on `base`, with
 * apiKey=<key> appended. Returns 0, or ERR_PARSE / ERR_TOO_LARGE. */
int polygon_rest_next_url(const char *base, const char *next_url,
                          const char *api_key, char *out, size_t n,
                          char *err);

/* Copies url to out[n] with the value of every apiKey parameter replaced
 * by REDACTED (truncating if needed, always terminated). Returns out. */
char *polygon_rest_redact(const char *url, char *out, size_t n);

/* {==================== inside the client ==================== */

/* Milliseconds to wait at `now` before a request may go out, by the
 * limit of rate_per_min requests in any 60 s window. */
int64_t polygon_rest_rate_wait(const polygon_rest_t *self, int64_t now);
/* Records a request sent at `now`. */
void polygon_rest_rate_note(polygon_rest_t *self, int64_t now);

/* The pages of one call, to catch a server that loops. */
struct polygon_rest_pager {
    uint64_t *seen;                 /* hashes of path+query requested */
    size_t n, max;                  /* used, page limit */
};
/* Follows `next_url`: the URL to request goes to url[n]. ERR_INVALID if
 * that page was already requested in this call (a server loop) or the
 * page limit is reached. */
int polygon_rest_pager_next(struct polygon_rest_pager *pg, const char *base,
                            const char *key, const char *next_url,
                            char *url, size_t n, char *err);

/* }========================================================== */

#endif
