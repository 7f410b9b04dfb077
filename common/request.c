/* request.c -- requests that never block an event loop (see request.h). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bus.h"
#include "curve.h"
#include "err.h"
#include "request.h"
#include "util.h"

#define REQUEST_IDLE_MS 60000       /* the timer's interval with nothing
                                       in flight */

struct slot {
    request_t *owner;
    char ep[256];                   /* the endpoint */
    int peer;                       /* enum bus_role */
    void *sock;                     /* DEALER in the loop, or NULL */
    struct curve_watch watch;       /* until its first reply */
    int watching;
    int busy;                       /* a request in flight */
    int64_t due;                    /* mono ms: its timeout */
    int timeout_ms;
    request_fn *fn;
    void *arg;
};

struct request {
    loop_t *loop;                   /* borrowed */
    int timer;                      /* loop timer id: the nearest due */
    struct slot slots[REQUEST_ENDPOINTS_MAX];
    int n;
};

/* Closes a slot's socket and its watch (the loop no longer sees it). */
static void s_close(struct slot *sl)
{
    if (!sl->sock)
        return;
    loop_remove_socket(sl->owner->loop, sl->sock);
    if (sl->watching)
        curve_watch_close(&sl->watch, sl->sock);
    sl->watching = 0;
    zmq_close(sl->sock);
    sl->sock = NULL;
}

/* Arms the timer for the nearest timeout (or idles it). */
static void s_arm(request_t *self)
{
    int64_t now = mono_ms(), next = REQUEST_IDLE_MS;

    for (int i = 0; i < self->n; i++)
        if (self->slots[i].busy && self->slots[i].due - now < next)
            next = self->slots[i].due - now;
    loop_set_timer(self->loop, self->timer, next < 1 ? 1 : next);
}

/* The request in flight on sl ends: fn gets the outcome. */
static void s_done(struct slot *sl, int rc, const void *reply, size_t len,
                   const char *err)
{
    request_fn *fn = sl->fn;
    void *arg = sl->arg;

    sl->busy = 0;
    sl->fn = NULL;
    sl->arg = NULL;
    fn(sl->owner, (int)(sl - sl->owner->slots), rc, reply, len, err, arg);
}

/* Reads what waits on a slot's socket: the reply is an empty delimiter
 * frame and the body. Anything else (or a reply nobody waits for, which
 * cannot happen with one request per connection) is dropped. */
static void s_on_reply(loop_t *loop, void *sock, int fd, void *arg)
{
    struct slot *sl = arg;
    zmq_msg_t f[2];
    int nf = 0, more = 1;
    (void)loop;
    (void)fd;

    zmq_msg_init(&f[0]);
    if (zmq_msg_recv(&f[0], sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&f[0]);
        return;
    }
    nf = 1;
    more = zmq_msg_more(&f[0]);
    while (more) {                  /* the whole message, whatever it is */
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, sock, 0) < 0) {
            zmq_msg_close(&x);
            break;
        }
        more = zmq_msg_more(&x);
        if (nf < 2)
            f[nf++] = x;
        else
            zmq_msg_close(&x);
        if (nf == 2 && more)
            nf = 3;                 /* too many frames: not a reply */
    }
    if (nf == 2 && zmq_msg_size(&f[0]) == 0 && sl->busy) {
        if (sl->watching)
            curve_watch_close(&sl->watch, sl->sock);
        sl->watching = 0;
        s_done(sl, ERR_OK, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), NULL);
        /* sl may carry a new request now; the frames are still ours. */
    }
    for (int i = 0; i < (nf < 2 ? nf : 2); i++)
        zmq_msg_close(&f[i]);
}

/* The timer: requests past their timeout fail, each with its cause. */
static void s_on_timer(loop_t *loop, void *arg)
{
    request_t *self = arg;
    int64_t now = mono_ms();
    (void)loop;

    for (int i = 0; i < self->n; i++) {
        struct slot *sl = &self->slots[i];
        char err[ERR_LEN];
        if (!sl->busy || now < sl->due)
            continue;
        if (!sl->watching ||
            !curve_watch_why(&sl->watch, sl->ep, err, sizeof err))
            snprintf(err, sizeof err, "no reply from %s within %d ms",
                     sl->ep, sl->timeout_ms);
        s_close(sl);                /* a late reply goes nowhere */
        s_done(sl, ERR_TIMEOUT, NULL, 0, err);
    }
    s_arm(self);
}

request_t *request_new(loop_t *loop, char *err)
{
    request_t *self = calloc(1, sizeof *self);

    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->loop = loop;
    self->timer = loop_add_timer(loop, REQUEST_IDLE_MS, s_on_timer, self);
    if (self->timer < 0) {
        snprintf(err, ERR_LEN, "event loop is full (timers)");
        free(self);
        return NULL;
    }
    return self;
}

void request_destroy(request_t **self_p)
{
    request_t *self = *self_p;

    if (!self)
        return;
    for (int i = 0; i < self->n; i++)
        s_close(&self->slots[i]);
    /* The timer stays in the loop, idle: loops cannot drop timers. */
    loop_set_timer(self->loop, self->timer, REQUEST_IDLE_MS);
    free(self);
    *self_p = NULL;
}

int request_endpoint(request_t *self, const char *endpoint, int peer)
{
    struct slot *sl;

    assert(self);
    if (self->n == REQUEST_ENDPOINTS_MAX ||
        strlen(endpoint) >= sizeof sl->ep)
        return -1;
    sl = &self->slots[self->n];
    memset(sl, 0, sizeof *sl);
    sl->owner = self;
    snprintf(sl->ep, sizeof sl->ep, "%s", endpoint);
    sl->peer = peer;
    return self->n++;
}

const char *request_name(const request_t *self, int ep)
{
    assert(self && ep >= 0 && ep < self->n);
    return self->slots[ep].ep;
}

int request_busy(const request_t *self, int ep)
{
    assert(self && ep >= 0 && ep < self->n);
    return self->slots[ep].busy;
}

/* Opens a slot's DEALER: options, CURVE, the watch, the connection, the
 * loop. 0, or -1 with one line in err. */
static int s_open(struct slot *sl, char *err)
{
    void *s = zmq_socket(bus_ctx(), ZMQ_DEALER);

    if (!s) {
        snprintf(err, ERR_LEN, "zmq_socket: %s", zmq_strerror(errno));
        return -1;
    }
    if (bus_set_int(s, ZMQ_LINGER, "ZMQ_LINGER", 0, err) ||
        bus_set_maxmsg(s, BUS_MAX_BODY, err) ||
        curve_apply(s, sl->peer, err) != 0)
        goto fail;
    sl->watching = curve_watch_open(&sl->watch, s) == 0;
    if (zmq_connect(s, sl->ep) != 0) {
        snprintf(err, ERR_LEN, "cannot connect to %s: %s", sl->ep,
                 zmq_strerror(errno));
        goto fail;
    }
    if (loop_add_socket(sl->owner->loop, s, s_on_reply, sl) != 0) {
        snprintf(err, ERR_LEN, "request to %s: event loop is full", sl->ep);
        goto fail;
    }
    sl->sock = s;
    return 0;
fail:
    if (sl->watching)
        curve_watch_close(&sl->watch, s);
    sl->watching = 0;
    zmq_close(s);
    return -1;
}

int request_send(request_t *self, int ep, const void *req, size_t len,
                 int timeout_ms, request_fn *fn, void *arg, char *err)
{
    struct slot *sl;

    assert(self && ep >= 0 && ep < self->n && fn);
    sl = &self->slots[ep];
    if (sl->busy) {
        snprintf(err, ERR_LEN, "request to %s: one is already in flight",
                 sl->ep);
        return ERR_IO;
    }
    if (!sl->sock && s_open(sl, err) != 0)
        return ERR_IO;
    /* Queued at once (a connecting DEALER holds it until the connection
     * is up); one request in flight never fills the queue. */
    if (zmq_send(sl->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(sl->sock, req, len, ZMQ_DONTWAIT) < 0) {
        snprintf(err, ERR_LEN, "request to %s: %s", sl->ep,
                 zmq_strerror(errno));
        s_close(sl);
        return ERR_IO;
    }
    sl->busy = 1;
    sl->timeout_ms = timeout_ms;
    sl->due = mono_ms() + timeout_ms;
    sl->fn = fn;
    sl->arg = arg;
    s_arm(self);
    return ERR_OK;
}
