/* loop.h -- a small event loop over zmq_poll: ZeroMQ sockets, plain file
 * descriptors and periodic timers. Runs until loop_stop() or proc_stop.
 *
 *   loop_t *l = loop_new();
 *   loop_add_socket(l, sub, on_bar, &state);
 *   loop_add_timer(l, 1000, on_tick, &state);
 *   loop_run(l);
 *   loop_destroy(&l);
 */
#ifndef LT_LOOP_H
#define LT_LOOP_H

#include <stdint.h>

typedef struct loop loop_t;

/* Called when `sock` (or `fd`, with sock NULL) is readable. */
typedef void (loop_io_fn)(loop_t *loop, void *sock, int fd, void *arg);
/* Called every interval. */
typedef void (loop_timer_fn)(loop_t *loop, void *arg);

loop_t *loop_new(void);
void loop_destroy(loop_t **self_p);

/* Watch a socket or a descriptor: 0, or -1 when the loop is full (the
 * caller fails its start with one line). */
int loop_add_socket(loop_t *self, void *sock, loop_io_fn *fn, void *arg);
int loop_add_fd(loop_t *self, int fd, loop_io_fn *fn, void *arg);
/* Stops watching `sock` (before the caller closes it); its handler is
 * not called again, even for an event of the batch being handled. May be
 * called from any handler. */
void loop_remove_socket(loop_t *self, void *sock);
/* A periodic timer: its id (loop_set_timer), or -1 when the loop is
 * full. */
int loop_add_timer(loop_t *self, int64_t interval_ms, loop_timer_fn *fn,
                   void *arg);
/* Changes a timer's interval (for a feeder's --interval); id from add. */
void loop_set_timer(loop_t *self, int id, int64_t interval_ms);

void loop_stop(loop_t *self);
/* Returns 0 when stopped by loop_stop or proc_stop, -1 on a poll error. */
int loop_run(loop_t *self);

#endif
