/* alert.h -- the alert output's parts: destinations and their payloads
 * (alert_format.c), the delivery thread of one destination
 * (alert_worker.c), the spool and dead-letter files (alert_spool.c), and
 * the output itself (alert.c).
 *
 *   struct alert_dest d;
 *   alert_dest_parse(&d, ALERT_SLACK, url, NULL, err);
 *   alert_payload(&d, &signal, &body, &len, err);     caller frees body
 *   alert_worker_t *w = alert_worker_new(&d, &net, 0, results_ep, err);
 *   alert_worker_send(w, &job);          results arrive on results_ep
 *   alert_worker_destroy(&w);
 *
 * Secrets (webhook paths, bot tokens) live in alert_dest.url and
 * alert_dest.secret only; every log line uses alert_dest.name, which
 * never contains them, and alert_scrub() for text that might. */
#ifndef LT_SINK_ALERT_H
#define LT_SINK_ALERT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "msg_signal.h"
#include "spool.h"

#define ALERT_MAX_DESTS 16          /* destinations per sink */
#define ALERT_URL_MAX 2048          /* longest URL, NUL included */
#define ALERT_NAME_MAX 160          /* redacted name for logs */
#define ALERT_KEY_MAX 32            /* "webhook-" + 16 hex + NUL */
#define ALERT_BODY_MAX (64u << 10)  /* largest request body */
#define ALERT_TEMPLATE_MAX (16u << 10)
#define ALERT_PATH_MAX 1024         /* spool and dead-letter paths */

enum alert_kind {
    ALERT_SLACK = 0,                /* POST {"text": ...} */
    ALERT_DISCORD,                  /* POST {"content": ...} */
    ALERT_TELEGRAM,                 /* POST .../bot<T>/sendMessage */
    ALERT_WEBHOOK                   /* POST template or signal JSON */
};

struct alert_dest {
    int kind;                       /* enum alert_kind */
    char url[ALERT_URL_MAX];        /* what is posted to (has the secret) */
    char secret[ALERT_URL_MAX];     /* scrubbed from every message */
    char name[ALERT_NAME_MAX];      /* redacted, for logs and files */
    char key[ALERT_KEY_MAX];        /* stable id in the spool files */
    char chat[128];                 /* Telegram chat_id */
    const char *tmpl;               /* webhook body template, or NULL */
    int rate_n;                     /* at most rate_n requests ... */
    int64_t rate_ms;                /* ... in any rate_ms milliseconds */
};

const char *alert_kind_name(int kind);      /* "slack" ... */

/* Fills `d` for a destination given on the command line: `arg` is the
 * webhook URL (Slack, Discord, generic) or "TOKEN:CHAT_ID" (Telegram,
 * with `api` the Bot API base URL). Sets url, secret, name, key, chat and
 * the kind's default rate limit. 0, or ERR_USAGE with a reason (never
 * showing the secret) in err[ERR_LEN]. */
int alert_dest_parse(struct alert_dest *d, int kind, const char *arg,
                     const char *api, char *err);

/* Writes `url` as scheme://host[:port] followed by "/REDACTED" when
 * anything (path, query) follows the host; user info is dropped. */
void alert_redact_url(const char *url, char *out, size_t n);

/* Copies `text` to out[n] with every occurrence of `secret` (when not
 * empty) replaced by REDACTED. Returns out. */
char *alert_scrub(const char *text, const char *secret, char *out,
                  size_t n);

/* {==================== payloads ====================== */

/* The chat text for a signal, e.g.
 *   "📈 BUY AAPL @ 213.56 | confidence 54% | sma_cross | bar 2026-11-25
 *    15:35:00 UTC\nsma1=213.84 sma2=213.84\nid 3c1f0a9b7d2e4f60"
 * in out[n] (cut if longer). Returns out. */
char *alert_text(const struct signal *s, char *out, size_t n);
/* The chat text `in` made safe for the markup of a destination of kind
 * `kind` (ALERT_*), into out[n], cut if need be: Slack wants &, < and >
 * as entities; Discord reads Markdown, so its marks get a backslash. */
void alert_markup(int kind, const char *in, char *out, size_t n);

/* Expands a webhook template for `s` into a malloc'd, NUL-terminated
 * string (*out, length *len). `{field}` (a name of letters, digits, '_'
 * and '.') is replaced by the field's JSON text, strings without their
 * quotes, so `"{symbol} {action}"` and `{price}` both work; any other
 * '{' or '}' is copied as is (the braces of the JSON around). 0, or
 * ERR_PARSE (unknown field) / ERR_TOO_LARGE / ERR_NOMEM with a reason in
 * err[ERR_LEN]. */
int alert_template_expand(const char *tmpl, const struct signal *s,
                          char **out, size_t *len, char *err);

/* Checks a webhook template: it must expand, for a sample signal, to one
 * JSON value. 0, or ERR_USAGE with a reason in err[ERR_LEN]. */
int alert_template_check(const char *tmpl, char *err);

/* The request body for `s` at destination `d`, malloc'd into *body
 * (length *len). 0, or an ERR_* code with a reason in err[ERR_LEN]. */
int alert_payload(const struct alert_dest *d, const struct signal *s,
                  char **body, size_t *len, char *err);

/* Reads back a signal written by msg_signal_to_json() (the spool and
 * dead-letter files). 0, or ERR_PARSE with a reason in err[ERR_LEN]. */
int alert_signal_from_json(const json_t *o, struct signal *s, char *err);

/* }==================================================== */

/* {==================== retry policy ================== */

/* Seconds from a Retry-After header value (delta-seconds, possibly with a
 * fraction, or an HTTP date relative to `now_s`), in milliseconds; -1 if
 * it cannot be read. */
int64_t alert_retry_after_ms(const char *value, int64_t now_s);

/* The wait a 429 body asks for, in milliseconds: Discord's
 * {"retry_after": seconds} or Telegram's {"parameters": {"retry_after":
 * seconds}}; -1 if absent. */
int64_t alert_body_retry_after_ms(const char *body, size_t len);


/* 1 if an HTTP status is worth retrying (408, 425, 429, 5xx), else 0. */
int alert_status_retryable(long status);

/* }==================================================== */

/* {==================== delivery thread =============== */

/* Network settings shared by every destination. */
struct alert_net {
    int64_t timeout_ms;             /* per request, connect included */
    int retries;                    /* tries after the first */
    int64_t backoff_ms;             /* first wait between tries */
    int64_t max_backoff_ms;         /* cap on waits (Retry-After too) */
};

/* One signal for one destination. */
struct alert_job {
    struct signal s;
    int from_dead;                  /* taken from the dead-letter file */
};

/* Its outcome, sent back on the results socket. */
struct alert_result {
    int dest;                       /* the worker's index */
    int ok;                         /* 1 delivered, 0 given up */
    int from_dead;                  /* as in the job */
    int tries;                      /* requests made */
    char err[ERR_LEN];              /* why it was given up (scrubbed) */
    struct signal s;
};

typedef struct alert_worker alert_worker_t;

/* Starts the delivery thread for `d` (copied), which connects a PUSH
 * socket to `results_ep` (an inproc PULL the caller has bound) and sends
 * one struct alert_result per job there. NULL with a reason in
 * err[ERR_LEN]. curl_global_init() must have been called. */
alert_worker_t *alert_worker_new(const struct alert_dest *d,
                                 const struct alert_net *net, int index,
                                 const char *results_ep, char *err);

/* Stops the thread: a request in flight gets `grace_ms` to finish, jobs
 * not started are dropped (the spool still has them). Sets *self_p to
 * NULL. Idempotent. */
void alert_worker_destroy(alert_worker_t **self_p, int64_t grace_ms);

/* Queues a job (never blocks). 0, or ERR_IO. */
int alert_worker_send(alert_worker_t *self, const struct alert_job *job);

/* }==================================================== */

/* {==================== spool and dead letters ======== */

/* The files of one alert output (alert_spool.c). Destinations are named
 * by index into `keys` (their alert_dest.key). */
struct alert_files {
    char spool[ALERT_PATH_MAX];     /* outbox of accepted signals */
    char dead[ALERT_PATH_MAX];      /* signals given up */
    spool_t *sp;                    /* the spool's file; NULL: closed */
    int ready;                      /* recovered: signals are appended */
    const char *const *keys;        /* configured destinations (borrowed) */
    int nkeys;
    struct log_limit lim_io;        /* dead-letter file errors */
};

/* Sets the paths (NULL: alert-spool.jsonl / alert-dead.jsonl in
 * xdg_dir("state")), creates their directories and takes the spool's
 * lock. 0, or ERR_USAGE / ERR_IO with a reason in err[ERR_LEN]. The
 * spool itself is opened by alert_files_recover(). */
int alert_files_open(struct alert_files *self, const char *spool,
                     const char *dead, const char *const *keys, int nkeys,
                     char *err);

/* Syncs and closes the spool and releases the lock. Idempotent. */
void alert_files_close(struct alert_files *self);

/* What recovery found for destination `dest`: an id delivered there
 * (s NULL), a dead letter to try again, or a spooled signal still due.
 * The callback returns 1 if it queued the signal, else 0. */
enum { ALERT_FOUND_DONE, ALERT_FOUND_DEAD, ALERT_FOUND_DUE };
typedef int (alert_found_fn)(void *arg, int found, int dest, const char *id,
                             const struct signal *s);

/* Reads both files back at start: reports delivered ids first, then
 * dead letters and spooled signals of configured destinations (oldest
 * first); signals due to destinations no longer configured move to the
 * dead-letter file. Then rewrites the spool and opens it for appending.
 * Returns the number of signals the callback queued, or -1 with a reason
 * in err[ERR_LEN]. */
int alert_files_recover(struct alert_files *self, alert_found_fn *fn,
                        void *arg, char *err);

/* Appends a signal accepted for the destinations dests[0..n) to the
 * spool. 0, or ERR_IO (logged, rate-limited; see spool.h's failure
 * policy) / ERR_NOMEM with errno set. */
int alert_spool_add(struct alert_files *self, const struct signal *s,
                    const int *dests, int n);

/* Appends an outcome, op "done" or "dead", for (key, id). Errors are
 * logged (rate-limited; spool.h's failure policy). */
void alert_spool_mark(struct alert_files *self, const char *op,
                      const char *key, const char *id);

/* Rewrites the spool if it has grown enough since the last rewrite, or
 * (once a second) after a failed append. */
void alert_spool_compact(struct alert_files *self);

/* Appends a dead letter: destination key and name, the reason, the
 * requests made and the signal. 0, or -1 (logged, rate-limited). */
int alert_dead_append(struct alert_files *self, const char *key,
                      const char *name, const struct signal *s,
                      const char *why, int tries);

/* Rewrites the dead-letter file without its lines for (key, id). */
void alert_dead_remove(struct alert_files *self, const char *key,
                       const char *id);

/* }==================================================== */

#endif
