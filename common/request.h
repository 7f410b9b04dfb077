/* request.h -- requests that never block an event loop: the client side
 * of livetrade's request/reply endpoints (history, replay, status,
 * indicators), asked from inside a loop (loop.h).
 *
 *   request_t *rq = request_new(loop, err);
 *   int ep = request_endpoint(rq, "tcp://127.0.0.1:5557", BUS_ENGINE);
 *   request_send(rq, ep, sb.data, sb.size, 5000, on_reply, arg, err);
 *   ... returns at once; the loop runs on ...
 *   on_reply(rq, ep, ERR_OK, reply, len, NULL, arg);      or, without a
 *   on_reply(rq, ep, ERR_TIMEOUT, NULL, 0, "why", arg);   reply in time
 *   request_destroy(&rq);
 *
 * Each endpoint has its own DEALER socket in the loop, opened at its
 * first request, and at most one request in flight: the servers (ROUTER,
 * bus_router_reply) send back the body alone, with nothing to match a
 * reply to its request by, so one connection carries one request at a
 * time. A request that times out takes its connection with it (the
 * socket is closed, a later request opens a new one): a late reply goes
 * to a socket that is gone and can never be taken for the answer to the
 * next request. Endpoints are independent: a slow one delays nobody
 * else. Paged answers (more: true) are asked page by page, the next
 * request sent from the callback of the previous reply.
 *
 * CURVE is applied as bus_request() does (`peer`, enum bus_role), and a
 * request that gets no answer because of a handshake failure says so
 * instead of "no reply" (curve_watch). Replies larger than BUS_MAX_BODY
 * close the connection (ZMQ_MAXMSGSIZE): that request times out. */
#ifndef LT_REQUEST_H
#define LT_REQUEST_H

#include <stddef.h>

#include "loop.h"

#define REQUEST_ENDPOINTS_MAX 64    /* endpoints per client */

typedef struct request request_t;

/* The outcome of a request to endpoint `ep`: rc ERR_OK with the reply
 * (`len` bytes, valid during the call only), or ERR_TIMEOUT / ERR_IO
 * with `err` (one line naming the endpoint and the cause) and reply NULL.
 * The endpoint is free again when this is called: it may send the next
 * request (the next page). */
typedef void (request_fn)(request_t *client, int ep, int rc,
                          const void *reply, size_t len, const char *err,
                          void *arg);

/* A client whose sockets and timer live in `loop` (borrowed: destroy the
 * client first). NULL with a reason in err[ERR_LEN]. */
request_t *request_new(loop_t *loop, char *err);
/* Closes every socket; requests in flight are dropped without a call.
 * Idempotent. */
void request_destroy(request_t **self_p);

/* Adds an endpoint (copied) of a program of role `peer` (enum bus_role).
 * Returns its handle (>= 0, in order from 0), or -1 when the client is
 * full or the endpoint too long. Nothing connects yet. */
int request_endpoint(request_t *self, const char *endpoint, int peer);
/* The endpoint of handle `ep`. */
const char *request_name(const request_t *self, int ep);
/* 1 while a request to `ep` is in flight. */
int request_busy(const request_t *self, int ep);

/* Sends `len` bytes of `req` (copied) to endpoint `ep` and returns at
 * once; fn(arg) gets the reply, or the failure, within about timeout_ms
 * from a later turn of the loop, never from this call. 0; or ERR_IO with
 * one line in err[ERR_LEN] when it could not be sent (a request already
 * in flight there, a bad endpoint, a socket option refused): then fn is
 * not called. */
int request_send(request_t *self, int ep, const void *req, size_t len,
                 int timeout_ms, request_fn *fn, void *arg, char *err);

#endif
