/* actor.h -- threads as actors, the way CZMQ's zactor has them: a thread
 * that shares nothing mutable with its owner and talks to it over an
 * inproc PAIR pipe only (STYLE.md).
 *
 *   void *pipe, *peer;
 *   actor_pipe("polygon-worker", &pipe, &peer);     owner's end, thread's
 *   actor_start(&thread, s_run, self);              signals stay here
 *   actor_wait_ready(pipe);                         s_run sends one byte
 *   ...
 *   zmq_send(pipe, "$TERM", 5, 0); pthread_join(thread, NULL);
 *
 * Both ends have unbounded queues (the owner bounds what it asks) and
 * linger 0. */
#ifndef LT_ACTOR_H
#define LT_ACTOR_H

#include <pthread.h>

/* A connected pair of PAIR sockets on a fresh inproc endpoint named after
 * `name`. 0, or -1 (zmq_errno() says why; nothing is left open). */
int actor_pipe(const char *name, void **pipe, void **peer);

/* Starts fn(arg) on a new thread with every signal blocked in it, so that
 * signals reach the owner's thread (whose event loop acts on them).
 * 0, or -1. */
int actor_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* Waits for the one-byte "ready" message the thread sends first. */
void actor_wait_ready(void *pipe);

#endif
