/* deferred.c -- bars read while a history request waits. The history
 * fetch blocks (bus_request() in common/bus.c); meanwhile the bar
 * subscription is still read, through the request pump, into a queue:
 * feeders are never pushed back by an engine that waits for one of them.
 * The queued messages go through, in order, before any newer one
 * (engine_deferred_read). Everything about that queue is here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "util.h"

#define DEFER_MAX 2000000           /* messages read while a request waits */
#define DEFER_BATCH 512             /* of them read at once */
#define SUB_BATCH 10000             /* messages handled a wake-up, most */

/* The request pump: reads the bar subscription into the queue. */
static void s_defer(void *arg)
{
    engine_t *self = arg;
    char topic[BUS_TOPIC_MAX];
    zmq_msg_t msg;

    /* A batch at a time: bus_request() looks at its reply in between,
     * which a subscription that never runs dry would otherwise hold off
     * for as long as the feeders keep publishing at full speed. */
    for (int batch = 0; batch < DEFER_BATCH && self->ndeferred < DEFER_MAX;
         batch++) {
        struct deferred *d;
        int n = bus_recv(self->sub, topic, sizeof topic, &msg);
        if (n == -1)
            return;
        if (n == -2) {
            self->bad++;
            continue;
        }
        if (grow((void **)&self->deferred, &self->capdeferred,
                 self->ndeferred + 1, sizeof *self->deferred, SIZE_MAX)) {
            zmq_msg_close(&msg);
            return;
        }
        d = &self->deferred[self->ndeferred];
        d->body = malloc((size_t)n ? (size_t)n : 1);
        if (!d->body) {
            zmq_msg_close(&msg);
            return;
        }
        memcpy(d->body, zmq_msg_data(&msg), (size_t)n);
        d->len = (size_t)n;
        snprintf(d->topic, sizeof d->topic, "%s", topic);
        self->ndeferred++;
        zmq_msg_close(&msg);
    }
}

void engine_deferred_init(engine_t *self)
{
    bus_request_pump(self->sub, s_defer, self);
}

void engine_deferred_free(engine_t *self)
{
    if (self->sub)
        bus_request_pump(NULL, NULL, NULL);
    for (size_t i = self->headdeferred; i < self->ndeferred; i++)
        free(self->deferred[i].body);
    free(self->deferred);
    self->deferred = NULL;
    self->headdeferred = self->ndeferred = self->capdeferred = 0;
}

int engine_deferred_pending(const engine_t *self)
{
    return self->headdeferred < self->ndeferred;
}

/* Takes what is waiting on the bar subscription `sock`: the queue first,
 * then the socket; but yields to timers and requests now and then so a
 * burst cannot starve them. More may join the queue while its messages
 * are handled (a gap's history request). */
void engine_deferred_read(engine_t *self, void *sock)
{
    char topic[BUS_TOPIC_MAX];
    zmq_msg_t msg;
    int n;

    for (int i = 0; i < SUB_BATCH; i++) {
        if (self->headdeferred < self->ndeferred) {
            struct deferred d = self->deferred[self->headdeferred++];
            engine_on_message(self, d.topic, d.body, d.len);
            free(d.body);
            if (self->headdeferred == self->ndeferred)
                self->headdeferred = self->ndeferred = 0;
            continue;
        }
        n = bus_recv(sock, topic, sizeof topic, &msg);
        if (n == -1)
            return;
        if (n == -2) {
            self->bad++;
            log_limited(&self->lim_bad, LL_WARN, "malformed message on the "
                        "bar bus (not topic + one body); dropped");
            continue;
        }
        engine_on_message(self, topic, zmq_msg_data(&msg), (size_t)n);
        zmq_msg_close(&msg);
    }
}

/* The time of the first bar of `sym` in the queue, or INT64_MAX. */
int64_t engine_deferred_first_t(engine_t *self, const char *sym)
{
    char topic[BUS_TOPIC_MAX];
    struct mp_body body;
    int64_t t = INT64_MAX;

    bus_topic(topic, "bar", sym);
    mp_body_init(&body);
    for (size_t i = self->headdeferred; i < self->ndeferred; i++) {
        const struct deferred *d = &self->deferred[i];
        const msgpack_object *o;
        char why[ERR_LEN];
        struct bar b;

        if (strcmp(d->topic, topic) != 0)
            continue;
        o = mp_body_decode(&body, d->body, d->len);
        if (o && bar_unpack(o, &b, why) == ERR_OK &&
            strcmp(b.sym, sym) == 0) {
            t = b.t;
            break;                  /* the first one is the oldest */
        }
    }
    mp_body_free(&body);
    return t;
}
