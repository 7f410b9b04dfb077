/* actor.c -- threads as actors (see actor.h). */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <zmq.h>

#include "actor.h"
#include "bus.h"

static void *s_pair(const char *endpoint, int bind_it)
{
    void *s = zmq_socket(bus_ctx(), ZMQ_PAIR);
    int zero = 0;

    if (!s)
        return NULL;
    if (zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero) ||
        zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero) ||
        zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero) ||
        (bind_it ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)) != 0) {
        zmq_close(s);
        return NULL;
    }
    return s;
}

int actor_pipe(const char *name, void **pipe, void **peer)
{
    static atomic_int s_count;
    char endpoint[128];

    snprintf(endpoint, sizeof endpoint, "inproc://%.60s-%d", name,
             atomic_fetch_add(&s_count, 1));
    *pipe = s_pair(endpoint, 1);
    *peer = *pipe ? s_pair(endpoint, 0) : NULL;
    if (*peer)
        return 0;
    if (*pipe)
        zmq_close(*pipe);
    *pipe = NULL;
    return -1;
}

int actor_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc == 0 ? 0 : -1;
}

void actor_wait_ready(void *pipe)
{
    char ready;
    while (zmq_recv(pipe, &ready, 1, 0) < 0 && zmq_errno() == EINTR)
        ;
}
