/* replay.c -- what a sink missed, from the engines' journals: their
 * status (id, instance, where the run began) and replay pages, asked
 * without waiting (request.h); what an engine publishes while its
 * journal is read is held back and decided on afterwards, in order. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mp.h"
#include "msg_replay.h"
#include "msg_status.h"
#include "sink_int.h"

static int s_job_step(sink_t *self, struct pending *p);

/* The output is gone for good: the sink stops. */
static void s_fatal(sink_t *self)
{
    self->fatal = 1;
    if (self->loop)
        loop_stop(self->loop);
}

/* {==================== endpoints' status ================ */

/* e did not answer: asked again in RETRY_MS at the earliest. */
static void s_no_answer(sink_t *self, struct endpoint *e, const char *err)
{
    e->next_try = mono_ms() + RETRY_MS;
    e->catch_up = 0;                /* caught up when it is heard of */
    log_limited(&self->lim_replay, LL_WARN, "replay endpoint %s: %s "
                "(asked again in %d s at the earliest)", e->ep, err,
                RETRY_MS / 1000);
}

/* The status of e's engine: its id, and where its current instance began
 * (pub, seq0) and stands (signals). */
static void s_status(struct endpoint *e, const void *reply, size_t len)
{
    msgpack_unpacked u;

    msgpack_unpacked_init(&u);
    e->eng[0] = '\0';
    e->has_run = 0;
    e->taken = 0;
    if (msgpack_unpack_next(&u, reply, len, NULL) ==
            MSGPACK_UNPACK_SUCCESS &&
        mp_str(&u.data, "id", e->eng, sizeof e->eng) == 0) {
        log_msg(LL_INFO, "replay endpoint %s: engine %s", e->ep, e->eng);
        /* Engines that do not say where their run began are asked for
         * what they published since this sink started instead. */
        e->has_run = mp_uint(&u.data, "pub", &e->pub) == 0 &&
                     mp_uint(&u.data, "seq0", &e->seq0) == 0 &&
                     mp_uint(&u.data, "signals", &e->last) == 0;
    } else {
        e->eng[0] = '\0';
    }
    msgpack_unpacked_destroy(&u);
}

static void s_on_status(request_t *rq, int ep, int rc, const void *reply,
                        size_t len, const char *err, void *arg)
{
    sink_t *self = arg;
    struct endpoint *e = &self->eps[ep];
    (void)rq;

    e->asking = 0;
    if (rc != ERR_OK)
        s_no_answer(self, e, err);
    else
        s_status(e, reply, len);
    if (e->catch_up && e->eng[0] && !self->fatal) {
        e->catch_up = 0;
        sink_catch_up_endpoint(self, e);
    }
    /* Replays that waited for an endpoint to answer go on. */
    for (int i = 0; self->npend && i < PENDING_MAX && !self->fatal; i++) {
        struct pending *p = &self->pend[i];
        if (p->eng[0] && p->busy && (p->step == STEP_FIND ||
                                     (p->step == STEP_ASK && p->e == e)))
            s_job_step(self, p);
    }
}

/* Asks endpoint e for its engine's status (s_on_status takes the
 * answer). 0, or -1 if it could not be asked (logged). */
static int s_ask(sink_t *self, struct endpoint *e)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char err[ERR_LEN];
    int rc = ERR_IO;

    if (e->asking)
        return 0;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_status_pack_request(&pk);
    if (self->rq)
        rc = request_send(self->rq, (int)(e - self->eps), sb.data, sb.size,
                          STATUS_TIMEOUT_MS, s_on_status, self, err);
    else
        snprintf(err, ERR_LEN, "no event loop to ask from");
    msgpack_sbuffer_destroy(&sb);
    if (rc != ERR_OK) {
        s_no_answer(self, e, err);
        return -1;
    }
    e->asking = 1;
    return 0;
}

void sink_discover(sink_t *self)
{
    int64_t now = mono_ms();

    for (int i = 0; i < self->neps; i++)
        if (!self->eps[i].eng[0] && !self->eps[i].asking &&
            now >= self->eps[i].next_try)
            s_ask(self, &self->eps[i]);
}

/* 1 while an endpoint whose engine is not known yet is being asked. */
static int s_discovering(const sink_t *self)
{
    for (int i = 0; i < self->neps; i++)
        if (self->eps[i].asking && !self->eps[i].eng[0])
            return 1;
    return 0;
}

/* 1 if signal `seq` of engine `eng`'s instance `pub` was already read
 * from its journal: a replay that went past signals queued live. */
int sink_taken(const sink_t *self, const char *eng, uint64_t pub,
               uint64_t seq)
{
    for (int i = 0; i < self->neps; i++)
        if (strcmp(self->eps[i].eng, eng) == 0)
            return self->eps[i].has_run && self->eps[i].pub == pub &&
                   seq <= self->eps[i].taken;
    return 0;
}

static struct endpoint *s_endpoint_of(sink_t *self, const char *eng)
{
    for (int i = 0; i < self->neps; i++)
        if (strcmp(self->eps[i].eng, eng) == 0)
            return &self->eps[i];
    return NULL;
}

/* }==================================================== */

/* {==================== held messages ================== */

static struct pending *s_pending(const sink_t *self, const char *eng)
{
    for (int i = 0; self->npend && i < PENDING_MAX; i++)
        if (strcmp(self->pend[i].eng, eng) == 0)
            return &self->pend[i];
    return NULL;
}

/* eng's slot, taken if it has none; NULL when every slot is taken. */
static struct pending *s_pending_new(sink_t *self, const char *eng)
{
    struct pending *p = s_pending(self, eng);

    for (int i = 0; !p && self->pend && i < PENDING_MAX; i++)
        if (!self->pend[i].eng[0]) {
            p = &self->pend[i];
            snprintf(p->eng, sizeof p->eng, "%s", eng);
            self->npend++;
        }
    return p;
}

/* Frees p's slot once it has nothing left to do. */
static void s_pending_release(sink_t *self, struct pending *p)
{
    if (!p->eng[0] || p->busy || p->draining || p->head < p->n ||
        p->overflow)
        return;
    free(p->q);
    memset(p, 0, sizeof *p);
    self->npend--;
}

void sink_pending_free(sink_t *self)
{
    for (int i = 0; self->pend && i < PENDING_MAX; i++)
        free(self->pend[i].q);
    free(self->pend);
    self->pend = NULL;
    self->npend = 0;
}

/* Room for one more at p->q's end (one past HELD_MAX, for one put
 * first). 0, or -1. */
static int s_room(struct pending *p)
{
    struct held *q;
    size_t cap;

    if (p->n < p->cap)
        return 0;
    if (p->head > 0) {
        memmove(p->q, p->q + p->head, (p->n - p->head) * sizeof *p->q);
        p->n -= p->head;
        p->head = 0;
        return 0;
    }
    cap = p->cap ? p->cap * 2 : 16;
    if (cap > HELD_MAX + 1)
        cap = HELD_MAX + 1;
    if (cap <= p->cap)
        return -1;
    q = realloc(p->q, cap * sizeof *q);
    if (!q)
        return -1;
    p->q = q;
    p->cap = cap;
    return 0;
}

/* Holds h back (last); one that finds HELD_MAX held is dropped, and the
 * journal read again once those are decided on. */
static void s_hold(sink_t *self, struct pending *p, const struct held *h)
{
    if (p->n - p->head >= HELD_MAX || s_room(p) != 0) {
        if (!p->overflow)
            log_limited(&self->lim_replay, LL_WARN, "engine %s: more than "
                        "%d live messages while its journal is read; the "
                        "newer ones are read from the journal afterwards",
                        p->eng, HELD_MAX);
        p->overflow = 1;
        return;
    }
    p->q[p->n++] = *h;
}

int sink_hold_first(sink_t *self, const char *eng, const struct held *h)
{
    struct pending *p = s_pending(self, eng);

    if (!p || !p->busy)
        return sink_decide(self, h);
    if (p->head > 0) {
        p->q[--p->head] = *h;
    } else if (s_room(p) == 0) {
        memmove(p->q + 1, p->q, p->n * sizeof *p->q);
        p->q[0] = *h;
        p->n++;
    } else {
        s_hold(self, p, h);         /* out of memory: counts as dropped */
    }
    return ERR_OK;
}

int sink_busy(const sink_t *self, const char *eng)
{
    const struct pending *p = s_pending(self, eng);
    return p && p->busy;
}

int sink_offer(sink_t *self, const char *eng, const struct held *h)
{
    struct pending *p = s_pending(self, eng);

    if (self->fatal)
        return ERR_IO;
    if (!p)
        return sink_decide(self, h);
    s_hold(self, p, h);
    return ERR_OK;
}

/* Decides on p's held messages, in order, until one starts a replay
 * that has to wait; then frees p's slot if it is done. */
static int s_drain_held(sink_t *self, struct pending *p)
{
    int rc = ERR_OK;

    if (p->draining)
        return ERR_OK;              /* the outer call goes on */
    p->draining = 1;
    while (!p->busy && p->head < p->n && rc == ERR_OK) {
        struct held h = p->q[p->head++];
        if (p->head == p->n)
            p->head = p->n = 0;
        rc = sink_decide(self, &h);
    }
    p->draining = 0;
    if (rc == ERR_OK && !p->busy && p->head == p->n && p->overflow) {
        /* Dropped ones: from the journal, up to its end. */
        p->overflow = 0;
        if (self->state_file && sink_state_has(self->state_file, p->eng))
            rc = sink_replay(self, p->eng,
                             sink_state_get(self->state_file, p->eng),
                             UINT64_MAX);
    }
    s_pending_release(self, p);
    if (rc != ERR_OK)
        s_fatal(self);
    return rc;
}

/* }==================================================== */

/* {==================== replay ====================== */

/* No endpoint answers for `eng`: what that costs is said (and, for a
 * gap of a known engine, counted as lost). */
static int s_none(sink_t *self, int kind, const char *eng, uint64_t after,
                  uint64_t upto)
{
    if (kind == JOB_NEW) {
        /* How many that is depends on --since and the engine's run:
         * unknown, so not counted as lost. */
        log_limited(&self->lim_replay, LL_WARN, "engine %s: no replay "
                    "endpoint answers for it (--replay); what it published "
                    "before this sink heard from it is not fetched", eng);
    } else if (upto != UINT64_MAX && upto > after) {
        self->st.lost += upto - after;
        log_limited(&self->lim_replay, LL_WARN, "%llu signal(s) of "
                    "engine %s after seq %llu missed and no replay "
                    "endpoint answers for it (--replay)",
                    (unsigned long long)(upto - after), eng,
                    (unsigned long long)after);
    }
    return ERR_OK;
}

/* One page's reply: the signals of p's engine after p->after (or, on
 * the first page with since_ts >= 0, published at since_ts or later),
 * processed up to p->upto. With since_ts, p->after also moves up to where
 * the answer begins: the signals before it are older than wanted.
 * p->whole: after 0 means the journal's start, so none before it counts
 * as lost. Returns how many the reply held (0: nothing more), or -1 on an
 * error (logged). */
static long s_page(sink_t *self, struct pending *p, int64_t since_ts,
                   const void *reply, size_t len)
{
    const char *ep = p->e->ep, *eng = p->eng;
    msgpack_unpacked u;
    struct replay_reply rr;
    const msgpack_object *sigs;
    char err[ERR_LEN], why[128] = "not msgpack";
    uint64_t first, last;
    long n = -1;

    msgpack_unpacked_init(&u);
    if (msgpack_unpack_next(&u, reply, len, NULL) != MSGPACK_UNPACK_SUCCESS
        || msg_replay_reply_parse(&u.data, &rr, why, sizeof why) != 0) {
        log_limited(&self->lim_replay, LL_WARN, "replay from %s (%s): %s",
                    ep, eng, why);
        goto out;
    }
    self->st.replays++;
    first = rr.first;
    last = rr.last;
    sigs = rr.signals;
    if (since_ts < 0 && first > p->after + 1 && (p->after || !p->whole)) {
        uint64_t gone = (p->upto < first ? p->upto + 1 : first) -
                        (p->after + 1);
        self->st.lost += gone;
        log_msg(LL_WARN, "replay from %s: engine %s's journal starts at "
                "seq %llu; %llu signal(s) after %llu are no longer there",
                ep, eng, (unsigned long long)first,
                (unsigned long long)gone, (unsigned long long)p->after);
    }
    n = (long)sigs->via.array.size;
    if (since_ts >= 0) {
        uint64_t cut = last;
        if (n > 0 && mp_uint(&sigs->via.array.ptr[0], "seq", &cut) == 0 &&
            cut > 0)
            cut--;
        if (cut > p->upto)
            cut = p->upto;
        if (cut > p->after)
            p->after = cut;
    }
    for (uint32_t i = 0; i < sigs->via.array.size && !p->stop; i++) {
        struct signal s;
        if (msg_signal_unpack(&sigs->via.array.ptr[i], &s, err) != ERR_OK ||
            !s.id[0] || !symbol_valid(s.sym) || s.seq <= p->after) {
            self->st.bad++;
            log_limited(&self->lim_replay, LL_WARN, "replay from %s: a bad "
                        "signal skipped: %s", ep, err);
            continue;
        }
        if (s.seq > p->upto) {
            p->stop = 1;
            break;
        }
        p->after = s.seq;
        self->st.replayed++;
        p->replayed++;
        if (sink_process(self, &s, 1) != ERR_OK) {
            p->stop = 2;
            break;
        }
    }
out:
    msgpack_unpacked_destroy(&u);
    return n;
}

static struct pending *s_paging(sink_t *self, int ep)
{
    for (int i = 0; i < PENDING_MAX; i++)
        if (self->pend[i].busy && self->pend[i].step == STEP_PAGE &&
            self->pend[i].e == &self->eps[ep])
            return &self->pend[i];
    return NULL;
}

static void s_on_page(request_t *rq, int ep, int rc, const void *reply,
                      size_t len, const char *err, void *arg)
{
    sink_t *self = arg;
    struct pending *p = s_paging(self, ep);
    long n = -1;
    (void)rq;

    if (!p)
        return;
    if (rc != ERR_OK)
        log_limited(&self->lim_replay, LL_WARN, "replay from %s (%s): %s",
                    p->e->ep, p->eng, err);
    else
        n = s_page(self, p, p->page == 1 ? p->since_ts : -1, reply, len);
    if (n >= 0)
        p->answered = 1;
    if (n <= 0)
        p->ended = 1;
    s_job_step(self, p);
}

/* Asks for p's next page (s_on_page takes it). 0, or -1 (logged). */
static int s_page_send(sink_t *self, struct pending *p)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char err[ERR_LEN];
    int64_t since_ts = p->page ? -1 : p->since_ts;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_replay_pack_request(&pk, &(struct replay_req){
        .after = p->after, .since_ts = since_ts, .n = 0 });
    rc = request_send(self->rq, (int)(p->e - self->eps), sb.data, sb.size,
                      REPLAY_TIMEOUT_MS, s_on_page, self, err);
    msgpack_sbuffer_destroy(&sb);
    if (rc != ERR_OK) {
        log_limited(&self->lim_replay, LL_WARN, "replay from %s (%s): %s",
                    p->e->ep, p->eng, err);
        return -1;
    }
    p->page++;
    return 0;
}

/* Where a JOB_NEW begins, now that its endpoint answered: what --since
 * asks for. An engine with nothing published since needs no page. */
static void s_plan(sink_t *self, struct pending *p)
{
    const struct endpoint *e = p->e;
    int same = e->has_run && (!p->pub || e->pub == p->pub);

    p->step = STEP_PAGE;
    if (p->kind != JOB_NEW)
        return;
    p->after = 0;
    p->since_ts = -1;
    switch (self->since) {
    case SINCE_RUN:
        if (same)
            p->after = e->seq0;
        else
            p->since_ts = self->start_ms;
        break;
    case SINCE_ALL:
        break;
    case SINCE_START:
        p->since_ts = self->start_ms;
        break;
    default:
        p->since_ts = self->since_ts;
        break;
    }
    p->whole = self->since == SINCE_ALL;
    p->from = p->after;
    if (p->since_ts < 0 && same && p->after >= e->last &&
        p->upto == UINT64_MAX) {
        p->after = e->last;         /* nothing published since */
        p->answered = 1;
        p->ended = 1;
    }
}

/* The job ended: its outcome recorded, then what was held back of its
 * engine decided on. */
static int s_finish(sink_t *self, struct pending *p)
{
    struct endpoint *e = p->e;
    int rc;

    p->busy = 0;
    p->step = 0;
    if (!e) {
        s_none(self, p->kind, p->eng, p->after, p->upto);
        return s_drain_held(self, p);
    }
    if (p->replayed && p->after > e->taken)
        e->taken = p->after;
    if (p->replayed && p->since_ts >= 0)
        log_msg(LL_INFO, "replayed engine %s's signals published since %s, "
                "up to %llu, from %s", p->eng,
                p->since_ts == self->start_ms ? "this sink started" :
                "--since", (unsigned long long)p->after, e->ep);
    else if (p->replayed)
        log_msg(LL_INFO, "replayed engine %s's signals %llu..%llu from %s",
                p->eng, (unsigned long long)p->from + 1,
                (unsigned long long)p->after, e->ep);
    if (p->stop == 2) {
        s_fatal(self);
        return ERR_IO;
    }
    rc = p->answered || p->from >= p->upto ? ERR_OK : ERR_TIMEOUT;
    if (p->kind == JOB_NEW && rc == ERR_OK && self->state_file)
        sink_state_set(self->state_file, p->eng, p->after, 0);
    return s_drain_held(self, p);
}

/* Takes p's job as far as it goes without waiting. ERR_OK (it waits, or
 * it ended), or ERR_IO once the output is gone. */
static int s_job_step(sink_t *self, struct pending *p)
{
    switch (p->step) {
    case STEP_FIND:
        p->e = s_endpoint_of(self, p->eng);
        if (!p->e) {
            sink_discover(self);
            if (s_discovering(self))
                return ERR_OK;      /* an answer may name it */
            return s_finish(self, p);
        }
        if (p->kind == JOB_NEW && p->pub && p->e->pub != p->pub) {
            /* Restarted since it answered: its new seq0. */
            p->step = STEP_ASK;
            if (s_ask(self, p->e) == 0)
                return ERR_OK;
        }
        s_plan(self, p);
        break;
    case STEP_ASK:
        if (p->e->asking)
            return ERR_OK;
        s_plan(self, p);
        break;
    default:
        break;
    }
    if (!p->ended && p->page < REPLAY_PAGES && !p->stop &&
        p->after < p->upto && s_page_send(self, p) == 0)
        return ERR_OK;              /* s_on_page goes on */
    return s_finish(self, p);
}

/* Starts a job for `eng` (see sink_replay). */
static int s_start(sink_t *self, int kind, const char *eng, uint64_t pub,
                   uint64_t after, uint64_t upto)
{
    struct pending *p = self->neps ? s_pending_new(self, eng) : NULL;

    if (!p) {
        if (self->neps && self->pend)
            log_limited(&self->lim_replay, LL_WARN, "engine %s: %d engines' "
                        "journals are being read already; not read", eng,
                        PENDING_MAX);
        return s_none(self, kind, eng, after, upto);
    }
    if (p->busy)
        return ERR_OK;              /* already read (cannot happen) */
    p->busy = 1;
    p->kind = kind;
    p->step = STEP_FIND;
    p->e = NULL;
    p->pub = pub;
    p->from = p->after = after;
    p->upto = upto;
    p->since_ts = -1;
    p->whole = 0;
    p->page = p->ended = p->stop = p->answered = 0;
    p->replayed = 0;
    return s_job_step(self, p);
}

int sink_replay(sink_t *self, const char *eng, uint64_t after,
                uint64_t upto)
{
    return s_start(self, JOB_REPLAY, eng, 0, after, upto);
}

/* An engine this sink holds no state for, whose instance `pub` (0: not
 * known) it has just heard of: the signals --since asks for, up to
 * `upto`. Once the engine answered, it is in the state (at the last
 * signal taken, or where --since began), so from then on it is resumed
 * like any other. `fresh`: a new instance, for which endpoints that did
 * not answer before are asked again. */
int sink_replay_new(sink_t *self, const char *eng, uint64_t pub,
                    uint64_t upto, int fresh)
{
    if (upto == 0) {                /* its first signal: nothing before */
        if (self->state_file)
            sink_state_set(self->state_file, eng, 0, 0);
        return ERR_OK;
    }
    /* Endpoints that did not answer before may be this engine, just
     * started: asked again, once per new engine instance. */
    for (int i = 0; fresh && i < self->neps; i++)
        if (!self->eps[i].eng[0])
            self->eps[i].next_try = 0;
    return s_start(self, JOB_NEW, eng, pub, 0, upto);
}

/* Catching up with e's engine, which has just answered (sink_catch_up):
 * unless it was heard live before this answer came, which took care of
 * what the sink lacked (a first signal or heartbeat asks, see
 * sink_decide) as the catch-up would have. */
void sink_catch_up_endpoint(sink_t *self, struct endpoint *e)
{
    if (!self->state_file || s_pending(self, e->eng) ||
        sink_heard(self, e->eng))
        return;
    if (sink_state_has(self->state_file, e->eng))
        sink_replay(self, e->eng, sink_state_get(self->state_file, e->eng),
                    UINT64_MAX);
    else if (self->since != SINCE_RUN || e->has_run)
        sink_replay_new(self, e->eng, e->pub, UINT64_MAX, 0);
    /* else no seq0: at its first message */
}

/* }==================================================== */
