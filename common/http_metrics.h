/* http_metrics.h -- the HTTP endpoint of a program's metrics (--metrics
 * ADDR): GET /metrics answers 200 with metrics_render()'s page
 * ("text/plain; version=0.0.4"); any other request gets 404.
 *
 *   if (http_metrics_check(addr, err)) -> usage error (exit 2)
 *   http_metrics_t *h = http_metrics_new(addr, reg, loop, err);  listens
 *   loop_run(loop);                        serves from the program's loop
 *   http_metrics_destroy(&h);              after the loop has stopped
 *
 * The listening socket is the server's own (so a failed bind names its
 * reason); each connection it accepts is handed to libwebsockets, which
 * reads the request and writes the answer. Everything runs on the loop's
 * thread: the listening socket is one of the loop's descriptors (a new
 * connection wakes it at once) and a loop timer services libwebsockets
 * without blocking, every HTTP_METRICS_BUSY_MS while connections are
 * open and once a second otherwise. At most HTTP_METRICS_CONN_MAX
 * connections at once; more are closed at once.
 *
 * The page has no authentication, and so must hold nothing secret: only
 * metric names, fixed help texts, symbols, the sink's output name and
 * numbers (no key, token, URL or address; nothing from the request).
 * Label values are the programs' symbols and output names only. */
#ifndef LT_HTTP_METRICS_H
#define LT_HTTP_METRICS_H

#include "loop.h"
#include "metrics.h"

#define HTTP_METRICS_CONN_MAX 16     /* connections at once */
#define HTTP_METRICS_BUSY_MS 5       /* service interval with connections */

typedef struct http_metrics http_metrics_t;

/* Checks a --metrics value: HOST:PORT, HOST an IPv4 address or
 * "localhost" (":PORT" and "*:PORT" for every interface), PORT 1-65535.
 * 0, or -1 with a one-line reason in err[ERR_LEN]. */
int http_metrics_check(const char *addr, char *err);

/* Listens on `addr` (http_metrics_check'ed) and serves `reg` (borrowed)
 * from `loop`. Logs where it listens, and a warning when the address is
 * not a loopback one. NULL with a reason in err[ERR_LEN] (address in use,
 * not an address of this host, loop full). */
http_metrics_t *http_metrics_new(const char *addr, metrics_t *reg,
                                 loop_t *loop, char *err);
/* Closes every connection and the listening socket; idempotent. */
void http_metrics_destroy(http_metrics_t **self_p);

#endif
