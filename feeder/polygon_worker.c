/* polygon_worker.c -- the REST actor (see polygon_worker.h).
 *
 * Messages on the pipe are C structs copied by value (both ends are this
 * process): an ask (struct polygon_ask), an answer (struct s_answer, whose
 * bars pointer changes owner), READY (one byte, at start) and TERM. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "actor.h"
#include "bus.h"
#include "log.h"
#include "polygon_worker.h"
#include "util.h"

#define TERM "$TERM"

struct s_answer {
    struct polygon_answer a;
    struct polygon_rest_stats st;   /* the client's, after this ask */
};

struct polygon_worker {
    polygon_rest_t *rest;           /* the thread's while it runs */
    void *pipe;                     /* owner's end */
    void *peer;                     /* thread's end */
    pthread_t thread;
    int started;
    volatile sig_atomic_t stop;     /* set by destroy: abort the ask */
    struct polygon_rest_stats st;   /* as of the last answer taken */
};

/* A HISTORY ask (polygon_worker.h) into m->a. */
static void s_history(polygon_rest_t *rest, const struct polygon_ask *q,
                      struct polygon_answer *a)
{
    int64_t to = wall_ms() - q->tf_ms, span = q->n * q->tf_ms * 3;

    if (q->after_ms >= 0 && to - (q->after_ms - q->tf_ms) <=
        POLYGON_HIST_SPAN_MAX) {
        if (q->after_ms <= to)
            a->rc = polygon_rest_aggs(rest, q->sym, q->mult, q->timespan,
                                      q->after_ms, to, &a->bars, &a->n,
                                      a->err);
        if (a->rc || q->have + (int64_t)a->n >= q->n) {
            a->after_cache = !a->rc;
            return;
        }
        free(a->bars);
        a->bars = NULL;
        a->n = 0;
    }
    if (span < 86400000LL)
        span = 86400000LL;
    for (int k = 0; k < POLYGON_HIST_TRIES; k++, span *= 4) {
        if (span > POLYGON_HIST_SPAN_MAX)
            span = POLYGON_HIST_SPAN_MAX;
        free(a->bars);
        a->bars = NULL;
        a->n = 0;
        a->rc = polygon_rest_aggs(rest, q->sym, q->mult, q->timespan,
                                  to - span, to, &a->bars, &a->n, a->err);
        if (a->rc || (int64_t)a->n >= q->n || span == POLYGON_HIST_SPAN_MAX)
            break;
    }
}

static void s_serve(polygon_worker_t *self, const struct polygon_ask *q)
{
    struct s_answer m;
    struct polygon_rest_stats st0;

    memset(&m, 0, sizeof m);
    m.a.kind = q->kind;
    m.a.tag = q->tag;
    m.a.gen = q->gen;
    polygon_rest_stats(self->rest, &st0);
    if (q->kind == POLYGON_ASK_HISTORY)
        s_history(self->rest, q, &m.a);
    else
        m.a.rc = polygon_rest_aggs(self->rest, q->sym, q->mult,
                                   q->timespan, q->from_ms, q->to_ms,
                                   &m.a.bars, &m.a.n, m.a.err);
    polygon_rest_stats(self->rest, &m.st);
    m.a.requests = m.st.requests - st0.requests;
    if (zmq_send(self->peer, &m, sizeof m, 0) != (int)sizeof m)
        free(m.a.bars);             /* the owner is gone */
}

static void *s_run(void *arg)
{
    polygon_worker_t *self = arg;
    char ready = 1;

    zmq_send(self->peer, &ready, 1, 0);
    for (;;) {
        struct polygon_ask q;
        int n = zmq_recv(self->peer, &q, sizeof q, 0);
        if (n == (int)sizeof q) {
            q.sym[SYM_MAX - 1] = '\0';
            s_serve(self, &q);
        } else if (n < 0 && zmq_errno() == EINTR) {
            continue;
        } else {
            break;                  /* TERM, or the context ends */
        }
    }
    return NULL;
}

polygon_worker_t *polygon_worker_new(polygon_rest_t *rest, char *err)
{
    polygon_worker_t *self = calloc(1, sizeof *self);

    if (!self) {
        polygon_rest_destroy(&rest);
        snprintf(err, ERR_LEN, "polygon: out of memory");
        return NULL;
    }
    self->rest = rest;
    polygon_rest_stats(rest, &self->st);
    polygon_rest_set_stop(rest, &self->stop);
    if (actor_pipe("polygon-worker", &self->pipe, &self->peer)) {
        snprintf(err, ERR_LEN, "polygon: worker pipe: %s",
                 zmq_strerror(zmq_errno()));
        polygon_worker_destroy(&self);
        return NULL;
    }
    self->started = actor_start(&self->thread, s_run, self) == 0;
    if (!self->started) {
        snprintf(err, ERR_LEN, "polygon: cannot start the REST thread");
        polygon_worker_destroy(&self);
        return NULL;
    }
    actor_wait_ready(self->pipe);
    return self;
}

void polygon_worker_destroy(polygon_worker_t **self_p)
{
    polygon_worker_t *self = self_p ? *self_p : NULL;
    struct polygon_answer a;

    if (!self)
        return;
    if (self->started) {
        self->stop = 1;
        zmq_send(self->pipe, TERM, strlen(TERM), 0);
        pthread_join(self->thread, NULL);
        while (polygon_worker_take(self, &a) == 1)
            free(a.bars);
    }
    if (self->peer)
        zmq_close(self->peer);
    if (self->pipe)
        zmq_close(self->pipe);
    polygon_rest_destroy(&self->rest);
    free(self);
    *self_p = NULL;
}

void *polygon_worker_socket(polygon_worker_t *self)
{
    return self->pipe;
}

int polygon_worker_ask(polygon_worker_t *self, const struct polygon_ask *ask)
{
    if (zmq_send(self->pipe, ask, sizeof *ask, 0) != (int)sizeof *ask) {
        log_msg(LL_ERROR, "polygon: REST worker: %s",
                zmq_strerror(zmq_errno()));
        return ERR_IO;
    }
    return 0;
}

int polygon_worker_take(polygon_worker_t *self, struct polygon_answer *out)
{
    struct s_answer m;
    int n = zmq_recv(self->pipe, &m, sizeof m, ZMQ_DONTWAIT);

    if (n != (int)sizeof m)
        return 0;
    *out = m.a;
    self->st = m.st;
    return 1;
}

void polygon_worker_stats(const polygon_worker_t *self,
                          struct polygon_rest_stats *st)
{
    *st = self->st;
}
