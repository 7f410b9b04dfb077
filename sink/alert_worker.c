/* alert_worker.c -- the delivery thread of one alert destination (see
 * alert.h).
 *
 * An actor: the thread owns a libcurl handle, a FIFO of jobs, the
 * destination's rate limit and the retry state of the job at the head.
 * It talks to its owner over an inproc PAIR pipe (jobs in, "$TERM") and
 * sends each outcome to the owner's results socket. Jobs leave in order:
 * the head is retried (exponential backoff with jitter, or the wait a
 * 429 asks for) until it is delivered or given up, then the next one
 * starts. Waiting is a zmq_poll on the pipe, so $TERM is seen at once;
 * a request in flight is bounded by the timeout and aborted when the
 * owner's stop deadline passes. Each destination has its own thread, so
 * a slow or dead one never holds up another, nor the sink's bus. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <zmq.h>

#include "alert.h"
#include "actor.h"
#include "bus.h"
#include "log.h"
#include "util.h"

#define TERM "$TERM"
#define RESP_MAX 4096               /* response body kept for messages */

struct s_node {
    struct alert_job job;
    struct s_node *next;
};

struct alert_worker {
    struct alert_dest d;            /* copy; d.tmpl borrowed */
    struct alert_net net;
    int index;                      /* in results */
    char results_ep[64];
    void *pipe;                     /* owner's end */
    void *peer;                     /* thread's end */
    void *results;                  /* thread's PUSH to the owner */
    pthread_t thread;
    int started;
    atomic_llong stop_at;           /* mono ms: abort a transfer after */
    /* The thread's own from here on. */
    CURL *curl;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    struct s_node *head, *tail;     /* jobs, oldest first */
    int tries;                      /* requests made for the head job */
    int64_t next_ms;                /* head job not before (mono ms) */
    int64_t *sent;                  /* ring: last rate_n request times */
    int nsent, sent_pos;
    char resp[RESP_MAX];            /* response body, cut */
    size_t resp_len;
    int64_t retry_after;            /* ms from the Retry-After header */
    uint64_t rnd;                   /* jitter state */
    struct log_limit lim_retry, lim_fail;
};

/* {==================== libcurl ======================= */

static size_t s_on_body(char *p, size_t size, size_t n, void *arg)
{
    alert_worker_t *self = arg;
    size_t len = size * n, room = RESP_MAX - 1 - self->resp_len;

    if (len < room)
        room = len;
    memcpy(self->resp + self->resp_len, p, room);
    self->resp_len += room;
    self->resp[self->resp_len] = '\0';
    return len;
}

static size_t s_on_header(char *p, size_t size, size_t n, void *arg)
{
    alert_worker_t *self = arg;
    size_t len = size * n;

    if (len > 12 && len < 200 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[200];
        memcpy(v, p + 12, len - 12);
        v[len - 12] = '\0';
        self->retry_after = alert_retry_after_ms(v, (int64_t)time(NULL));
    }
    return len;
}

static int s_on_progress(void *arg, curl_off_t a, curl_off_t b,
                         curl_off_t c, curl_off_t d)
{
    alert_worker_t *self = arg;
    long long at = atomic_load(&self->stop_at);
    (void)a;
    (void)b;
    (void)c;
    (void)d;
    return at && mono_ms() >= at;   /* nonzero aborts the transfer */
}

static int s_curl_init(alert_worker_t *self)
{
    CURL *c = curl_easy_init();

    if (!c)
        return -1;
    self->curl = c;
    self->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (self->hdrs)
        self->hdrs = curl_slist_append(self->hdrs, "Expect:");
    if (!self->hdrs)
        return -1;
    curl_easy_setopt(c, CURLOPT_URL, self->d.url);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, self->hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "livetrade-sink");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)self->net.timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)self->net.timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    /* A fresh connection per request: on a reused one that the server
     * closes without answering, libcurl silently sends the request again,
     * which could deliver it twice and slips past the rate limit. */
    curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, self->errbuf);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, self);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, self);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, s_on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, self);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    return 0;
}

/* }==================================================== */

/* {==================== the thread ==================== */

/* When the rate limit lets the next request go (mono ms). */
static int64_t s_rate_at(const alert_worker_t *self)
{
    if (self->nsent < self->d.rate_n)
        return 0;
    /* The ring is full: the oldest of the last rate_n requests. */
    return self->sent[self->sent_pos] + self->d.rate_ms;
}

static void s_rate_note(alert_worker_t *self, int64_t now)
{
    self->sent[self->sent_pos] = now;
    self->sent_pos = (self->sent_pos + 1) % self->d.rate_n;
    if (self->nsent < self->d.rate_n)
        self->nsent++;
}

/* Takes what waits on the pipe. 1 on $TERM (or a dead pipe), else 0. */
static int s_take(alert_worker_t *self)
{
    for (;;) {
        struct s_node *n = malloc(sizeof *n);
        int got;
        if (!n)
            return 0;               /* retried at the next wake-up */
        got = zmq_recv(self->peer, &n->job, sizeof n->job, ZMQ_DONTWAIT);
        if (got == (int)sizeof n->job) {
            n->job.s.id[sizeof n->job.s.id - 1] = '\0';
            n->next = NULL;
            if (self->tail)
                self->tail->next = n;
            else
                self->head = n;
            self->tail = n;
            continue;
        }
        free(n);
        if (got < 0 && (zmq_errno() == EAGAIN || zmq_errno() == EINTR))
            return 0;
        return 1;                   /* TERM, or the context is ending */
    }
}

/* Sends the head job's outcome to the owner and drops it. */
static void s_finish(alert_worker_t *self, int ok, const char *why)
{
    struct s_node *n = self->head;
    struct alert_result r;

    memset(&r, 0, sizeof r);
    r.dest = self->index;
    r.ok = ok;
    r.from_dead = n->job.from_dead;
    r.tries = self->tries;
    if (why)
        alert_scrub(why, self->d.secret, r.err, sizeof r.err);
    r.s = n->job.s;
    zmq_send(self->results, &r, sizeof r, 0);
    self->head = n->next;
    if (!self->head)
        self->tail = NULL;
    free(n);
    self->tries = 0;
    self->next_ms = 0;
}

/* The response body as one short printable ASCII line, for messages. */
static void s_resp_line(const alert_worker_t *self, char *out, size_t n)
{
    size_t o = 0;

    for (size_t i = 0; i < self->resp_len && o + 1 < n && o < 100; i++) {
        unsigned char c = (unsigned char)self->resp[i];
        /* ASCII only: a cut UTF-8 sequence would not go into JSON. */
        out[o++] = c < 0x20 || c >= 0x7f ? ' ' : (char)c;
    }
    out[o] = '\0';
}

/* One request for the head job, then what follows from its outcome. */
static void s_attempt(alert_worker_t *self)
{
    struct signal *s = &self->head->job.s;
    char err[ERR_LEN], why[ERR_LEN], line[128];
    char *body = NULL;
    size_t len = 0;
    long status = 0;
    int64_t wait, now;
    CURLcode res;
    int rc, retry;

    rc = alert_payload(&self->d, s, &body, &len, err);
    if (rc) {
        snprintf(why, sizeof why, "cannot make the request: %.200s", err);
        log_limited(&self->lim_fail, LL_ERROR, "alert: %s: signal %s (%s "
                    "%s) given up: %s", self->d.name, s->id, s->sym,
                    signal_action_name(s->act), why);
        s_finish(self, 0, why);
        return;
    }
    s_rate_note(self, mono_ms());
    self->resp_len = 0;
    self->resp[0] = '\0';
    self->retry_after = -1;
    self->errbuf[0] = '\0';
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDSIZE, (long)len);
    res = curl_easy_perform(self->curl);
    curl_easy_setopt(self->curl, CURLOPT_POSTFIELDS, NULL);
    free(body);
    if (res == CURLE_ABORTED_BY_CALLBACK)
        return;                     /* stopping: the spool keeps it */
    self->tries++;
    if (res == CURLE_OK)
        curl_easy_getinfo(self->curl, CURLINFO_RESPONSE_CODE, &status);
    if (res == CURLE_OK && status >= 200 && status <= 299) {
        log_msg(LL_DEBUG, "alert: %s: signal %s delivered (HTTP %ld, try "
                "%d)", self->d.name, s->id, status, self->tries);
        s_finish(self, 1, NULL);
        return;
    }
    if (res == CURLE_OK) {
        s_resp_line(self, line, sizeof line);
        snprintf(err, sizeof err, "HTTP %ld%s%s", status, line[0] ? ": " :
                 "", line);
        retry = alert_status_retryable(status);
    } else if (res == CURLE_OPERATION_TIMEDOUT) {
        snprintf(err, sizeof err, "no answer within %.1f s",
                 (double)self->net.timeout_ms / 1000.0);
        retry = 1;
    } else {
        snprintf(err, sizeof err, "%.60s%s%.180s", curl_easy_strerror(res),
                 self->errbuf[0] ? ": " : "", self->errbuf);
        retry = 1;
    }
    alert_scrub(err, self->d.secret, why, sizeof why);
    if (!retry || self->tries > self->net.retries) {
        char what[ERR_LEN];
        if (retry)
            snprintf(what, sizeof what, "%.200s (given up after %d %s)",
                     why, self->tries, self->tries == 1 ? "try" : "tries");
        else
            snprintf(what, sizeof what, "%.200s (refused; not retried)",
                     why);
        log_limited(&self->lim_fail, LL_ERROR, "alert: %s: signal %s (%s "
                    "%s) not delivered: %s; kept in the dead-letter file",
                    self->d.name, s->id, s->sym, signal_action_name(s->act),
                    what);
        s_finish(self, 0, what);
        return;
    }
    wait = backoff_ms(self->net.backoff_ms, self->net.max_backoff_ms,
                      self->tries, rand_next(&self->rnd));
    if (status == 429) {
        int64_t body_ms = alert_body_retry_after_ms(self->resp,
                                                    self->resp_len);
        int64_t asked = self->retry_after > body_ms ? self->retry_after
                                                    : body_ms;
        if (asked >= 0)
            wait = asked;
    }
    if (wait > self->net.max_backoff_ms)
        wait = self->net.max_backoff_ms;
    now = mono_ms();
    self->next_ms = now + wait;
    log_limited(&self->lim_retry, LL_WARN, "alert: %s: %s for signal %s "
                "(try %d of %d); next try in %.1f s", self->d.name, why,
                s->id, self->tries, self->net.retries + 1,
                (double)wait / 1000.0);
}

static void *s_run(void *arg)
{
    alert_worker_t *self = arg;
    char ready = 1;

    zmq_send(self->peer, &ready, 1, 0);
    for (;;) {
        zmq_pollitem_t it = { self->peer, 0, ZMQ_POLLIN, 0 };
        int64_t now = mono_ms(), at = 0, wait = -1;
        if (self->head) {
            at = s_rate_at(self);
            if (self->next_ms > at)
                at = self->next_ms;
            wait = at > now ? at - now : 0;
        }
        if (zmq_poll(&it, 1, (long)wait) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if ((it.revents & ZMQ_POLLIN) && s_take(self))
            break;
        if (self->head && mono_ms() >= at)
            s_attempt(self);
    }
    return NULL;
}

/* }==================================================== */

alert_worker_t *alert_worker_new(const struct alert_dest *d,
                                 const struct alert_net *net, int index,
                                 const char *results_ep, char *err)
{
    alert_worker_t *self = calloc(1, sizeof *self);

    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->d = *d;
    self->net = *net;
    self->index = index;
    self->rnd = random_u64();
    self->lim_retry = self->lim_fail = (struct log_limit)LOG_LIMIT_INIT;
    snprintf(self->results_ep, sizeof self->results_ep, "%s", results_ep);
    self->sent = calloc((size_t)d->rate_n, sizeof *self->sent);
    if (!self->sent || s_curl_init(self)) {
        snprintf(err, ERR_LEN, "%s: out of memory", d->name);
        alert_worker_destroy(&self, 0);
        return NULL;
    }
    if (actor_pipe("alert-worker", &self->pipe, &self->peer))
        self->pipe = self->peer = NULL;
    self->results = zmq_socket(bus_ctx(), ZMQ_PUSH);
    if (self->results) {
        int zero = 0;
        if (zmq_setsockopt(self->results, ZMQ_SNDHWM, &zero,
                           sizeof zero) != 0 ||
            zmq_setsockopt(self->results, ZMQ_LINGER, &zero,
                           sizeof zero) != 0 ||
            zmq_connect(self->results, results_ep) != 0) {
            zmq_close(self->results);
            self->results = NULL;
        }
    }
    if (!self->peer || !self->results) {
        snprintf(err, ERR_LEN, "%s: worker pipe: %s", d->name,
                 zmq_strerror(zmq_errno()));
        alert_worker_destroy(&self, 0);
        return NULL;
    }
    self->started = actor_start(&self->thread, s_run, self) == 0;
    if (!self->started) {
        snprintf(err, ERR_LEN, "%s: cannot start its thread", d->name);
        alert_worker_destroy(&self, 0);
        return NULL;
    }
    actor_wait_ready(self->pipe);
    return self;
}

void alert_worker_destroy(alert_worker_t **self_p, int64_t grace_ms)
{
    alert_worker_t *self = self_p ? *self_p : NULL;

    if (!self)
        return;
    if (self->started) {
        atomic_store(&self->stop_at, (long long)(mono_ms() + grace_ms));
        zmq_send(self->pipe, TERM, strlen(TERM), 0);
        pthread_join(self->thread, NULL);
    }
    while (self->head) {
        struct s_node *n = self->head;
        self->head = n->next;
        free(n);
    }
    if (self->results)
        zmq_close(self->results);
    if (self->peer)
        zmq_close(self->peer);
    if (self->pipe)
        zmq_close(self->pipe);
    if (self->curl)
        curl_easy_cleanup(self->curl);
    curl_slist_free_all(self->hdrs);
    free(self->sent);
    free(self);
    *self_p = NULL;
}

int alert_worker_send(alert_worker_t *self, const struct alert_job *job)
{
    if (zmq_send(self->pipe, job, sizeof *job, 0) != (int)sizeof *job) {
        log_msg(LL_ERROR, "alert: %s: worker pipe: %s", self->d.name,
                zmq_strerror(zmq_errno()));
        return ERR_IO;
    }
    return 0;
}
