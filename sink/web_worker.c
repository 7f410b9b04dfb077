/* web_worker.c -- the web output's request actor (see web_worker.h).
 *
 * Messages on the pipe: owner -> worker, "H" followed by a symbol (a
 * history request), "I" and a symbol (indicators) or "$TERM"; worker ->
 * owner, one pointer to a struct web_result, which changes owner with the
 * message. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "actor.h"
#include "bus.h"
#include "history.h"
#include "log.h"
#include "loop.h"
#include "mp.h"
#include "msg_status.h"
#include "request.h"
#include "web_worker.h"

#define TERM "$TERM"
#define JSON_DEPTH 8                /* nesting kept from a status reply */

struct web_worker {
    char *ep[WEB_MAX_ENDPOINTS];    /* history endpoints, then status */
    int nhist, nep;
    int64_t nbars;                  /* bars per history request */
    void *pipe;                     /* owner's end */
    void *peer;                     /* thread's end */
    pthread_t thread;
    int started;
};

/* The thread's own state: its loop's request client and decoder. */
struct worker_run {
    web_worker_t *self;
    request_t *rq;                  /* status requests, endpoint i as i */
    struct mp_body body;
};

static void s_hand_over(web_worker_t *self, struct web_result *r)
{
    if (zmq_send(self->peer, &r, sizeof r, 0) != (int)sizeof r)
        web_result_free(&r);        /* the owner is gone */
}

static void s_fetch_history(web_worker_t *self, const char *sym, size_t len)
{
    struct web_result *r = calloc(1, sizeof *r);
    struct history_req req;

    if (!r)
        return;
    r->kind = WEB_RES_HISTORY;
    memcpy(r->sym, sym, len);       /* len < SYM_MAX */
    memcpy(req.sym, sym, len);
    req.sym[len] = '\0';
    req.n = self->nbars;
    req.since = -1;
    snprintf(r->err, sizeof r->err, "no history endpoint");
    for (int i = 0; i < self->nhist && !r->ok; i++) {
        uint64_t seq;
        size_t bad = 0;
        if (history_fetch(self->ep[i], &req, WEB_HISTORY_TIMEOUT_MS,
                          &r->bars, &r->nbars, &seq, &bad, r->err) == ERR_OK)
            r->ok = 1;
    }
    r->at = wall_ms();
    s_hand_over(self, r);
}

/* The points of an "indicators" reply into r; 0, or -1 if it is none
 * (an error reply, or unreadable). */
static int s_ind_reply(struct web_result *r, const msgpack_object *o)
{
    const msgpack_object *arr = mp_get(o, "points");

    if (!mp_is(mp_get(o, "type"), "indicators") ||
        mp_str(o, "eng", r->eng, sizeof r->eng) || !arr ||
        arr->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    r->points = malloc((arr->via.array.size ? arr->via.array.size : 1) *
                       sizeof *r->points);
    if (!r->points)
        return -1;
    for (uint32_t i = 0; i < arr->via.array.size; i++)
        if (msg_ind_unpack_point(&arr->via.array.ptr[i],
                                 &r->points[r->npoints]) == 0 &&
            (!r->npoints ||
             r->points[r->npoints].t > r->points[r->npoints - 1].t))
            r->npoints++;
    return 0;
}

/* Asks the engines in turn for the indicator values of sym; the first
 * that holds the symbol answers. */
static void s_fetch_ind(web_worker_t *self, const char *sym, size_t len,
                        struct mp_body *body)
{
    struct web_result *r = calloc(1, sizeof *r);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int answered = 0;

    if (!r)
        return;
    r->kind = WEB_RES_IND;
    memcpy(r->sym, sym, len);       /* len < SYM_MAX */
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_ind_pack_request(&pk, r->sym, self->nbars < IND_MSG_REQ_MAX ?
                         self->nbars : IND_MSG_REQ_MAX);
    snprintf(r->err, sizeof r->err, "no engine to ask (--status)");
    for (int i = self->nhist; i < self->nep && !r->ok; i++) {
        char *reply = NULL;
        size_t rlen = 0;
        const msgpack_object *o;
        if (bus_request(self->ep[i], BUS_ENGINE, &sb,
                        WEB_HISTORY_TIMEOUT_MS, &reply, &rlen,
                        r->err) != ERR_OK)
            continue;
        answered++;
        o = mp_body_decode(body, reply, rlen);
        r->ok = o && s_ind_reply(r, o) == 0;
        if (!r->ok)
            snprintf(r->err, sizeof r->err, "no engine holds %s", r->sym);
        free(reply);
    }
    r->notfound = !r->ok && answered == self->nep - self->nhist;
    msgpack_sbuffer_destroy(&sb);
    r->at = wall_ms();
    s_hand_over(self, r);
}

/* A status reply (or why there is none) of endpoint i, handed over. */
static void s_on_status_reply(request_t *rq, int i, int rc, const void *reply,
                        size_t len, const char *err, void *arg)
{
    struct worker_run *run = arg;
    struct web_result *r = calloc(1, sizeof *r);
    (void)rq;

    if (!r)
        return;
    r->kind = WEB_RES_STATUS;
    r->index = i;
    if (rc == ERR_OK) {
        const msgpack_object *o = mp_body_decode(&run->body, reply, len);
        json_t *j = o ? mp_to_json(o, JSON_DEPTH) : NULL;
        if (j && json_is_object(j)) {
            r->json = json_dumps(j, JSON_COMPACT);
            r->ok = r->json != NULL;
        }
        if (!r->ok)
            snprintf(r->err, sizeof r->err, "unreadable status reply");
        json_decref(j);
    } else {
        snprintf(r->err, sizeof r->err, "%s", err);
    }
    r->at = wall_ms();
    s_hand_over(run->self, r);
}

/* A status round: every endpoint asked at once, each answer handed over
 * as it comes (one that is down delays no other). */
static void s_on_round(loop_t *loop, void *arg)
{
    struct worker_run *run = arg;
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char err[ERR_LEN];
    (void)loop;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_status_pack_request(&pk);
    for (int i = 0; i < run->self->nep; i++)
        if (!request_busy(run->rq, i) &&
            request_send(run->rq, i, sb.data, sb.size,
                         WEB_STATUS_TIMEOUT_MS, s_on_status_reply, run, err))
            s_on_status_reply(run->rq, i, ERR_IO, NULL, 0, err, run);
    msgpack_sbuffer_destroy(&sb);
}

/* A request from the owner: history, indicators (each waits for its
 * replies here, never in the owner's loop), or the end. */
static void s_on_pipe(loop_t *loop, void *sock, int fd, void *arg)
{
    struct worker_run *run = arg;
    char buf[SYM_MAX + 1];          /* 'H' + symbol, or TERM */
    int n = zmq_recv(sock, buf, sizeof buf, ZMQ_DONTWAIT);
    (void)fd;

    if (n < 0 && (zmq_errno() == EAGAIN || zmq_errno() == EINTR))
        return;
    if (n < 0 || (n == (int)strlen(TERM) && !memcmp(buf, TERM, n)))
        loop_stop(loop);
    else if (n > 1 && n <= (int)sizeof buf && buf[0] == 'H')
        s_fetch_history(run->self, buf + 1, (size_t)n - 1);
    else if (n > 1 && n <= (int)sizeof buf && buf[0] == 'I')
        s_fetch_ind(run->self, buf + 1, (size_t)n - 1, &run->body);
}

static void *s_run(void *arg)
{
    struct worker_run run = { .self = arg };
    char err[ERR_LEN] = "out of memory", ready = 1;
    loop_t *loop = loop_new();
    int ok;

    mp_body_init(&run.body);
    run.rq = loop ? request_new(loop, err) : NULL;
    ok = run.rq && loop_add_socket(loop, run.self->peer, s_on_pipe,
                                   &run) == 0 &&
         loop_add_timer(loop, WEB_STATUS_MS, s_on_round, &run) >= 0;
    for (int i = 0; ok && i < run.self->nep; i++)
        ok = request_endpoint(run.rq, run.self->ep[i], i < run.self->nhist
                              ? BUS_FEEDER : BUS_ENGINE) == i;
    zmq_send(run.self->peer, &ready, 1, 0);
    if (ok) {
        s_on_round(loop, &run);
        loop_run(loop);             /* until $TERM (or a stop signal) */
    } else {
        log_msg(LL_ERROR, "web: the request thread cannot start: %s", err);
    }
    request_destroy(&run.rq);
    loop_destroy(&loop);
    mp_body_free(&run.body);
    return NULL;
}

web_worker_t *web_worker_new(const char *const *history, int nhistory,
                             const char *const *status, int nstatus,
                             int64_t nbars, char *err)
{
    web_worker_t *self;

    if (nhistory + nstatus > WEB_MAX_ENDPOINTS) {
        snprintf(err, ERR_LEN, "at most %d --history and --status "
                 "endpoints", WEB_MAX_ENDPOINTS);
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->nbars = nbars;
    for (int i = 0; i < nhistory + nstatus; i++) {
        const char *e = i < nhistory ? history[i] : status[i - nhistory];
        self->ep[i] = strdup(e);
        if (!self->ep[i]) {
            snprintf(err, ERR_LEN, "out of memory");
            web_worker_destroy(&self);
            return NULL;
        }
        self->nep++;
    }
    self->nhist = nhistory;
    if (actor_pipe("web-worker", &self->pipe, &self->peer)) {
        snprintf(err, ERR_LEN, "worker pipe: %s",
                 zmq_strerror(zmq_errno()));
        web_worker_destroy(&self);
        return NULL;
    }
    /* Signals go to the main thread, whose loop acts on them. */
    self->started = actor_start(&self->thread, s_run, self) == 0;
    if (!self->started) {
        snprintf(err, ERR_LEN, "cannot start the request thread");
        web_worker_destroy(&self);
        return NULL;
    }
    actor_wait_ready(self->pipe);
    return self;
}

void web_worker_destroy(web_worker_t **self_p)
{
    web_worker_t *self = self_p ? *self_p : NULL;
    struct web_result *r;

    if (!self)
        return;
    if (self->started) {
        zmq_send(self->pipe, TERM, strlen(TERM), 0);
        pthread_join(self->thread, NULL);
        while ((r = web_worker_recv(self)))
            web_result_free(&r);
    }
    if (self->peer)
        zmq_close(self->peer);
    if (self->pipe)
        zmq_close(self->pipe);
    for (int i = 0; i < self->nep; i++)
        free(self->ep[i]);
    free(self);
    *self_p = NULL;
}

void *web_worker_pipe(web_worker_t *self)
{
    return self->pipe;
}

/* Queues request `kind` ('H', 'I') for sym. 0 or ERR_IO. */
static int s_queue(web_worker_t *self, char kind, const char *sym)
{
    char buf[SYM_MAX + 1];
    int n = snprintf(buf, sizeof buf, "%c%s", kind, sym);

    if (n < 0 || n >= (int)sizeof buf ||
        zmq_send(self->pipe, buf, (size_t)n, 0) != n)
        return ERR_IO;
    return 0;
}

int web_worker_history(web_worker_t *self, const char *sym)
{
    return s_queue(self, 'H', sym);
}

int web_worker_indicators(web_worker_t *self, const char *sym)
{
    return s_queue(self, 'I', sym);
}

struct web_result *web_worker_recv(web_worker_t *self)
{
    struct web_result *r = NULL;

    if (zmq_recv(self->pipe, &r, sizeof r, ZMQ_DONTWAIT) != (int)sizeof r)
        return NULL;
    return r;
}

void web_result_free(struct web_result **r_p)
{
    struct web_result *r = *r_p;

    if (!r)
        return;
    free(r->bars);
    free(r->points);
    free(r->json);
    free(r);
    *r_p = NULL;
}

const char *web_worker_endpoint(const web_worker_t *self, int i)
{
    return i >= 0 && i < self->nep ? self->ep[i] : "";
}

int web_worker_endpoints(const web_worker_t *self)
{
    return self->nep;
}

int web_worker_engines(const web_worker_t *self)
{
    return self->nep - self->nhist;
}
