/* http_metrics.c -- GET /metrics over HTTP/1.1 on libwebsockets 4.1 (see
 * http_metrics.h). One context with one vhost that does not listen by
 * itself: connections are accepted here and adopted by lws. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "err.h"
#include "http_metrics.h"
#include "log.h"
#include "lwslog.h"
#include "util.h"

#define IDLE_MS 1000                /* service interval without connections */
#define SERVICE_ROUNDS 16           /* lws_service rounds per timer call */
#define SERVICE_BUDGET_MS 4         /* ... for at most about this long */
#define CHUNK (32u << 10)           /* body bytes per write */
#define ACCEPTS_PER_WAKE 16
#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One connection; lws allocates and zeroes it. */
struct conn {
    char *body;                     /* the page being sent (owned) */
    size_t len, off;
};

struct http_metrics {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    metrics_t *reg;                 /* borrowed */
    loop_t *loop;                   /* borrowed */
    int fd;                         /* listening socket */
    int timer;                      /* service timer id */
    int fast;                       /* timer at HTTP_METRICS_BUSY_MS */
    int nconn;                      /* connections adopted, not yet gone */
    int busy;                       /* lws did something this round */
    struct log_limit lim;           /* refused connections */
};

/* {==================== addresses =========================== */

/* Splits ADDR into an IPv4 address and a port. 0 or -1 with err. */
static int s_parse(const char *addr, struct sockaddr_in *sa, char *err)
{
    const char *colon = addr ? strrchr(addr, ':') : NULL;
    char host[64];
    int64_t port;
    size_t hn;

    if (!colon) {
        snprintf(err, ERR_LEN, "--metrics '%.64s' is not HOST:PORT (e.g. "
                 "127.0.0.1:9101)", addr ? addr : "");
        return -1;
    }
    hn = (size_t)(colon - addr);
    if (hn >= sizeof host || parse_int64(colon + 1, &port) || port < 1 ||
        port > 65535) {
        snprintf(err, ERR_LEN, "--metrics '%.64s': expected HOST:PORT with "
                 "a port from 1 to 65535", addr);
        return -1;
    }
    memcpy(host, addr, hn);
    host[hn] = '\0';
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!host[0] || strcmp(host, "*") == 0 || strcmp(host, "0.0.0.0") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_ANY);
    else if (strcmp(host, "localhost") == 0)
        sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, ERR_LEN, "--metrics '%.64s': '%s' is not an IPv4 "
                 "address (or localhost)", addr, host);
        return -1;
    }
    return 0;
}

int http_metrics_check(const char *addr, char *err)
{
    struct sockaddr_in sa;
    return s_parse(addr, &sa, err);
}

static int s_listen(const struct sockaddr_in *sa, char *err)
{
    int one = 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        snprintf(err, ERR_LEN, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 ||
        listen(fd, 64) != 0) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &sa->sin_addr, ip, sizeof ip);
        snprintf(err, ERR_LEN, "metrics: cannot listen on %s:%u: %s", ip,
                 (unsigned)ntohs(sa->sin_port), strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* }========================================================== */

/* {==================== requests ============================ */

static int s_status(struct lws *wsi, unsigned code)
{
    if (lws_return_http_status(wsi, code, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int s_http(http_metrics_t *self, struct lws *wsi, struct conn *c,
                  const char *uri)
{
    unsigned char hdr[LWS_PRE + 512], *start = hdr + LWS_PRE, *p = start;
    unsigned char *end = hdr + sizeof hdr;

    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 ||
        strcmp(uri, "/metrics") != 0)
        return s_status(wsi, HTTP_STATUS_NOT_FOUND);
    free(c->body);
    c->off = 0;
    c->body = metrics_render(self->reg, &c->len);
    if (!c->body) {
        log_msg(LL_WARN, "metrics: out of memory rendering the page");
        return s_status(wsi, HTTP_STATUS_INTERNAL_SERVER_ERROR);
    }
    if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, CONTENT_TYPE,
                                    (lws_filepos_t)c->len, &p, end) ||
        lws_add_http_header_by_name(wsi,
            (const unsigned char *)"cache-control:",
            (const unsigned char *)"no-store", 8, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

/* Writes the next piece of the page; the transaction ends with it. */
static int s_writeable(struct lws *wsi, struct conn *c)
{
    unsigned char buf[LWS_PRE + CHUNK];
    size_t n;
    int last;

    if (!c->body)
        return 0;
    n = c->len - c->off < CHUNK ? c->len - c->off : CHUNK;
    last = c->off + n == c->len;
    memcpy(buf + LWS_PRE, c->body + c->off, n);
    if (lws_write(wsi, buf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL :
                  LWS_WRITE_HTTP) < (int)n)
        return -1;
    c->off += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    free(c->body);
    c->body = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    http_metrics_t *self = ctx ? lws_context_user(ctx) : NULL;
    struct conn *c = user;
    (void)len;

    if (!self)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        self->busy = 1;
        return c ? s_http(self, wsi, c, in ? (const char *)in : "/") : -1;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        self->busy = 1;
        return c ? s_writeable(wsi, c) : 0;
    case LWS_CALLBACK_HTTP_BODY:
        return 0;                   /* a body is not expected; skipped */
    case LWS_CALLBACK_CLOSED_HTTP:
        if (c) {
            free(c->body);
            c->body = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return -1;                  /* no WebSocket here */
    case LWS_CALLBACK_WSI_DESTROY:
        if (self->nconn > 0)
            self->nconn--;
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    { "livetrade-metrics", s_callback, sizeof(struct conn), 4096, 0, NULL,
      0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

/* }========================================================== */

/* {==================== service ============================= */

static void s_service(http_metrics_t *self)
{
    int64_t start = mono_ms();

    for (int i = 0; i < SERVICE_ROUNDS; i++) {
        self->busy = 0;
        /* Negative: poll() without waiting (0 would wait for work). */
        if (lws_service(self->ctx, -1) < 0 || !self->busy ||
            mono_ms() - start >= SERVICE_BUDGET_MS)
            break;
    }
    if (self->fast != (self->nconn > 0)) {
        self->fast = self->nconn > 0;
        log_msg(LL_DEBUG, "metrics: %d connection(s) open", self->nconn);
        loop_set_timer(self->loop, self->timer, self->fast ?
                       HTTP_METRICS_BUSY_MS : IDLE_MS);
    }
}

static void s_on_timer(loop_t *loop, void *arg)
{
    (void)loop;
    s_service(arg);
}

static void s_on_accept(loop_t *loop, void *sock, int fd, void *arg)
{
    http_metrics_t *self = arg;
    (void)loop;
    (void)sock;

    for (int i = 0; i < ACCEPTS_PER_WAKE; i++) {
        int c = accept(fd, NULL, NULL);
        if (c < 0)
            break;
        if (fcntl(c, F_SETFD, FD_CLOEXEC) < 0 ||
            fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK) < 0) {
            close(c);
            continue;
        }
        if (self->nconn >= HTTP_METRICS_CONN_MAX) {
            log_limited(&self->lim, LL_WARN, "metrics: %d connections "
                        "open; refusing another", self->nconn);
            close(c);
            continue;
        }
        if (!lws_adopt_socket_vhost(self->vh, c))
            continue;               /* lws closed it */
        self->nconn++;
    }
    s_service(self);
}

/* }========================================================== */

http_metrics_t *http_metrics_new(const char *addr, metrics_t *reg,
                                 loop_t *loop, char *err)
{
    struct lws_context_creation_info info;
    struct sockaddr_in sa;
    http_metrics_t *self;
    char ip[INET_ADDRSTRLEN];

    assert(reg && loop);
    if (s_parse(addr, &sa, err))
        return NULL;
    self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->reg = reg;
    self->loop = loop;
    self->lim = (struct log_limit)LOG_LIMIT_INIT;
    self->fd = s_listen(&sa, err);
    if (self->fd < 0) {
        free(self);
        return NULL;
    }
    lwslog_init();
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.gid = -1;
    info.uid = -1;
    info.user = self;
    info.protocols = s_protocols;
    self->ctx = lws_create_context(&info);
    if (self->ctx) {
        info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
        info.vhost_name = "metrics";
        self->vh = lws_create_vhost(self->ctx, &info);
    }
    if (!self->vh) {
        snprintf(err, ERR_LEN, "metrics: libwebsockets cannot start");
        goto fail;
    }
    self->timer = loop_add_timer(loop, IDLE_MS, s_on_timer, self);
    if (self->timer < 0 || loop_add_fd(loop, self->fd, s_on_accept, self)) {
        snprintf(err, ERR_LEN, "metrics: event loop is full");
        goto fail;
    }
    inet_ntop(AF_INET, &sa.sin_addr, ip, sizeof ip);
    log_msg(LL_INFO, "metrics on http://%s:%u/metrics", ip,
            (unsigned)ntohs(sa.sin_port));
    if ((ntohl(sa.sin_addr.s_addr) >> 24) != 127)
        log_msg(LL_WARN, "metrics: %s is not a loopback address: other "
                "hosts can read the page, without authentication", ip);
    return self;
fail:
    if (self->ctx)
        lws_context_destroy(self->ctx);
    close(self->fd);
    free(self);
    return NULL;
}

void http_metrics_destroy(http_metrics_t **self_p)
{
    http_metrics_t *self = *self_p;

    if (!self)
        return;
    lws_context_destroy(self->ctx);     /* CLOSED_HTTP for each first */
    close(self->fd);
    free(self);
    *self_p = NULL;
}
