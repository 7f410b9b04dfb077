/* loop.c -- zmq_poll event loop with timers. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "loop.h"
#include "proc.h"
#include "util.h"

#define LOOP_MAX_IO 96               /* a sink's 64 request endpoints too */
#define LOOP_MAX_TIMERS 16

struct io {
    loop_io_fn *fn;                 /* NULL: removed, dropped before the
                                       next poll */
    void *arg;
};

struct timer {
    int64_t interval;               /* ms; 0 = as often as possible */
    int64_t due;                    /* mono ms of the next call */
    loop_timer_fn *fn;
    void *arg;
};

struct loop {
    zmq_pollitem_t items[LOOP_MAX_IO];  /* what zmq_poll watches */
    struct io io[LOOP_MAX_IO];          /* handler per item */
    int nio;
    int removed;                    /* items removed since the last poll */
    struct timer timers[LOOP_MAX_TIMERS];
    int ntimers;
    int stop;                           /* set by loop_stop */
};

loop_t *loop_new(void)
{
    return calloc(1, sizeof(loop_t));
}

void loop_destroy(loop_t **self_p)
{
    if (*self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

static int s_add(loop_t *self, void *sock, int fd, loop_io_fn *fn, void *arg)
{
    assert(self);
    if (self->nio == LOOP_MAX_IO)
        return -1;
    self->items[self->nio].socket = sock;
    self->items[self->nio].fd = fd;
    self->items[self->nio].events = ZMQ_POLLIN;
    self->items[self->nio].revents = 0;
    self->io[self->nio].fn = fn;
    self->io[self->nio].arg = arg;
    self->nio++;
    return 0;
}

int loop_add_socket(loop_t *self, void *sock, loop_io_fn *fn, void *arg)
{
    return s_add(self, sock, 0, fn, arg);
}

int loop_add_fd(loop_t *self, int fd, loop_io_fn *fn, void *arg)
{
    return s_add(self, NULL, fd, fn, arg);
}

void loop_remove_socket(loop_t *self, void *sock)
{
    assert(self && sock);
    for (int i = 0; i < self->nio; i++)
        if (self->io[i].fn && self->items[i].socket == sock) {
            self->io[i].fn = NULL;
            self->items[i].revents = 0;
            self->removed = 1;
        }
}

/* Drops the removed items, keeping the others in order. */
static void s_compact(loop_t *self)
{
    int n = 0;

    for (int i = 0; i < self->nio; i++)
        if (self->io[i].fn) {
            self->items[n] = self->items[i];
            self->io[n] = self->io[i];
            n++;
        }
    self->nio = n;
    self->removed = 0;
}

int loop_add_timer(loop_t *self, int64_t interval_ms, loop_timer_fn *fn,
                   void *arg)
{
    struct timer *t;
    assert(self);
    if (self->ntimers == LOOP_MAX_TIMERS)
        return -1;
    t = &self->timers[self->ntimers];
    t->interval = interval_ms;
    t->due = mono_ms() + interval_ms;
    t->fn = fn;
    t->arg = arg;
    return self->ntimers++;
}

void loop_set_timer(loop_t *self, int id, int64_t interval_ms)
{
    assert(self && id >= 0 && id < self->ntimers);
    self->timers[id].interval = interval_ms;
    self->timers[id].due = mono_ms() + interval_ms;
}

void loop_stop(loop_t *self)
{
    self->stop = 1;
}

int loop_run(loop_t *self)
{
    while (!self->stop && !proc_stop) {
        int64_t now = mono_ms(), wait = 1000;
        int rc;

        if (self->removed)
            s_compact(self);
        for (int i = 0; i < self->ntimers; i++) {
            int64_t left = self->timers[i].due - now;
            if (left < wait)
                wait = left < 0 ? 0 : left;
        }
        rc = zmq_poll(self->items, self->nio, (long)wait);
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            log_msg(LL_ERROR, "zmq_poll: %s", zmq_strerror(errno));
            return -1;
        }
        for (int i = 0; i < self->nio && rc > 0; i++)
            if ((self->items[i].revents & ZMQ_POLLIN) && self->io[i].fn)
                self->io[i].fn(self, self->items[i].socket,
                               self->items[i].fd, self->io[i].arg);
        now = mono_ms();
        for (int i = 0; i < self->ntimers; i++) {
            struct timer *t = &self->timers[i];
            if (now >= t->due) {
                /* Catch up without bursting after a stall. */
                t->due += t->interval;
                if (t->due < now)
                    t->due = now + t->interval;
                t->fn(self, t->arg);
            }
        }
    }
    return 0;
}
