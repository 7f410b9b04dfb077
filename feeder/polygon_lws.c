/* polygon_lws.c -- libwebsockets 4.1 client transport for polygon_ws (see
 * polygon_lws.h). One lws context per transport, one connection at a
 * time; the context is serviced without blocking from the caller's loop. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "err.h"
#include "log.h"
#include "lwslog.h"
#include "polygon_lws.h"
#include "util.h"

#define URL_MAX 1024
#define RX_CHUNK (256u << 10)       /* bytes lws reads per service round */
#define SERVICE_ROUNDS_MIN 8        /* rounds per polygon_lws_service() */
#define SERVICE_ROUNDS_MAX 64       /* ... more while data keeps coming */
#define SERVICE_BUDGET_MS 4         /* ... for at most about this long */

struct out_msg {
    unsigned char *buf;             /* LWS_PRE headroom, then the text */
    size_t len;                     /* text bytes */
};

struct polygon_lws {
    struct lws_context *ctx;        /* one per transport */
    struct lws *wsi;                /* current connection, or NULL */
    struct lws *pending;            /* lws's early copy (ci.pwsi), only
                                       read during connect */
    struct polygon_lws_events ev;   /* where events go */
    char url[URL_MAX];              /* parsed in place by lws_parse_uri */
    const char *host;               /* into url */
    char path[URL_MAX];             /* with its leading '/' */
    int port;
    int tls;                        /* wss:// */
    int in_connect;                 /* inside lws_client_connect_via_info */
    int connect_failed;             /* an error during that call */
    char *rx;                       /* message being reassembled */
    size_t rx_len, rx_cap;
    size_t rx_seen;                 /* bytes of that message so far */
    int rx_drop;                    /* message over the cap: skip to end */
    int rx_any;                     /* data arrived in this service round */
    int open;                       /* handshake done on self->wsi */
    int ping_due;                   /* send a ping when writable */
    int64_t last_ping;              /* mono ms of the last ping (or open) */
    int64_t ping_ms;                /* keepalive interval */
    struct out_msg out[POLYGON_LWS_OUT_MAX];  /* ring of queued messages */
    int out_head, out_n;
};

static void s_out_clear(polygon_lws_t *self)
{
    while (self->out_n) {
        free(self->out[self->out_head].buf);
        self->out[self->out_head].buf = NULL;
        self->out_head = (self->out_head + 1) % POLYGON_LWS_OUT_MAX;
        self->out_n--;
    }
    self->out_head = 0;
}

static void s_reset_conn(polygon_lws_t *self)
{
    self->wsi = NULL;
    self->open = 0;
    self->ping_due = 0;
    self->rx_len = 0;
    self->rx_seen = 0;
    self->rx_drop = 0;
    s_out_clear(self);
}

/* The current connection ended (error or close): report it once. */
static void s_lost(polygon_lws_t *self)
{
    s_reset_conn(self);
    if (self->in_connect) {
        self->connect_failed = 1;
        return;
    }
    if (self->ev.closed)
        self->ev.closed(self->ev.arg);
}

/* Appends a received piece; delivers the message when it is complete.
 * A message over POLYGON_LWS_MSG_MAX is not kept: its remaining pieces
 * are skipped, and at its end it is reported as frame(NULL, its length)
 * so the receiver counts it; the connection stays up. Returns -1 to have
 * lws drop the connection. */
static int s_receive(polygon_lws_t *self, struct lws *wsi, const void *in,
                     size_t len)
{
    int done = lws_is_final_fragment(wsi) &&
               lws_remaining_packet_payload(wsi) == 0;

    self->rx_any = 1;
    self->rx_seen = self->rx_seen + len < self->rx_seen ? SIZE_MAX
                                                        : self->rx_seen + len;
    if (!self->rx_drop && self->rx_len + len > POLYGON_LWS_MSG_MAX) {
        log_msg(LL_DEBUG, "polygon ws: message over %u bytes; skipping it",
                POLYGON_LWS_MSG_MAX);
        self->rx_drop = 1;
        self->rx_len = 0;           /* the kept part is of no use now */
    }
    if (!self->rx_drop && len) {
        if (grow((void **)&self->rx, &self->rx_cap, self->rx_len + len + 1,
                 1, SIZE_MAX)) {
            log_msg(LL_WARN, "polygon ws: out of memory for a message");
            return -1;
        }
        memcpy(self->rx + self->rx_len, in, len);
        self->rx_len += len;
    }
    if (!done)
        return 0;
    if (self->rx_drop) {
        size_t seen = self->rx_seen;
        self->rx_len = 0;
        self->rx_seen = 0;
        self->rx_drop = 0;
        /* the receiver counts and logs it (rate-limited) */
        log_msg(LL_DEBUG, "polygon ws: skipped a message of %zu bytes",
                seen);
        if (self->ev.frame)
            self->ev.frame(self->ev.arg, NULL, seen);
        return self->wsi == wsi ? 0 : -1;
    }
    if (self->ev.frame) {
        self->rx[self->rx_len] = '\0';
        self->ev.frame(self->ev.arg, self->rx, self->rx_len);
    }
    self->rx_len = 0;
    self->rx_seen = 0;
    return self->wsi == wsi ? 0 : -1;   /* closed from the frame handler */
}

static int s_writeable(polygon_lws_t *self, struct lws *wsi)
{
    struct out_msg *m;
    unsigned char ping[LWS_PRE + 1];
    int n;

    if (self->ping_due) {
        self->ping_due = 0;
        if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0) {
            log_msg(LL_WARN, "polygon ws: ping failed");
            return -1;
        }
        if (self->out_n)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (!self->out_n)
        return 0;
    m = &self->out[self->out_head];
    n = lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
    free(m->buf);
    m->buf = NULL;
    self->out_head = (self->out_head + 1) % POLYGON_LWS_OUT_MAX;
    self->out_n--;
    if (n < (int)m->len) {
        log_msg(LL_WARN, "polygon ws: write failed");
        return -1;
    }
    if (self->out_n)
        lws_callback_on_writable(wsi);
    return 0;
}

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    polygon_lws_t *self = ctx ? lws_context_user(ctx) : NULL;
    int mine = self && (wsi == self->wsi ||
                        (self->in_connect && wsi == self->pending));

    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (!mine)
            return -1;
        self->open = 1;
        self->last_ping = mono_ms();
        if (self->ev.opened)
            self->ev.opened(self->ev.arg);
        return self->wsi == wsi ? 0 : -1;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (!mine)
            return -1;
        return s_receive(self, wsi, in, len);
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        if (mine && self->ev.activity)
            self->ev.activity(self->ev.arg);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!mine)
            return -1;
        return s_writeable(self, wsi);
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        if (mine) {
            log_msg(LL_WARN, "polygon ws: connection failed: %s",
                    in ? (const char *)in : "unknown error");
            s_lost(self);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (mine) {
            log_msg(LL_DEBUG, "polygon ws: connection closed");
            s_lost(self);
        }
        return 0;
    case LWS_CALLBACK_WSI_DESTROY:
        if (mine)                   /* gone without a close callback */
            s_lost(self);
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    { "livetrade-polygon", s_callback, 0, RX_CHUNK, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

polygon_lws_t *polygon_lws_new(const char *url, const char *ca_file,
                               const struct polygon_lws_events *ev,
                               char *err)
{
    struct lws_context_creation_info info;
    polygon_lws_t *self;
    const char *prot = NULL, *ads = NULL, *path = NULL;
    int port = 0;

    assert(url && ev);
    if (strlen(url) >= URL_MAX) {
        snprintf(err, ERR_LEN, "--ws-url is too long");
        return NULL;
    }
    self = calloc(1, sizeof *self);
    if (self)
        self->ping_ms = POLYGON_LWS_PING_MS;
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->ev = *ev;
    snprintf(self->url, sizeof self->url, "%s", url);
    if (lws_parse_uri(self->url, &prot, &ads, &port, &path) || !*ads ||
        (strcmp(prot, "ws") != 0 && strcmp(prot, "wss") != 0)) {
        snprintf(err, ERR_LEN, "--ws-url '%.200s' is not ws://host[:port]"
                 "/path or wss://...", url);
        free(self);
        return NULL;
    }
    self->tls = strcmp(prot, "wss") == 0;
    self->host = ads;
    self->port = port;
    snprintf(self->path, sizeof self->path, "/%s", path ? path : "");

    lwslog_init();
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.gid = -1;
    info.uid = -1;
    info.pt_serv_buf_size = RX_CHUNK;   /* lws reads at most this at once */
    info.user = self;
    info.options = self->tls ? LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT : 0;
    info.client_ssl_ca_filepath = ca_file;
    self->ctx = lws_create_context(&info);
    if (!self->ctx) {
        snprintf(err, ERR_LEN, "libwebsockets: cannot create a context%s",
                 ca_file ? " (check --ca-file)" : "");
        free(self);
        return NULL;
    }
    return self;
}

void polygon_lws_destroy(polygon_lws_t **self_p)
{
    polygon_lws_t *self = *self_p;

    if (!self)
        return;
    self->wsi = NULL;               /* no events during teardown */
    self->ev.opened = NULL;
    self->ev.frame = NULL;
    self->ev.closed = NULL;
    self->ev.activity = NULL;
    lws_context_destroy(self->ctx);
    s_out_clear(self);
    free(self->rx);
    free(self);
    *self_p = NULL;
}

int polygon_lws_connect(polygon_lws_t *self)
{
    struct lws_client_connect_info ci;
    struct lws *wsi;

    assert(self);
    polygon_lws_close(self);
    memset(&ci, 0, sizeof ci);
    ci.context = self->ctx;
    ci.address = self->host;
    ci.port = self->port;
    ci.path = self->path;
    ci.host = self->host;
    ci.origin = self->host;
    ci.ssl_connection = self->tls ? LCCSCF_USE_SSL : 0;
    ci.protocol = NULL;             /* Polygon wants no subprotocol */
    ci.local_protocol_name = s_protocols[0].name;
    ci.pwsi = &self->pending;       /* set before any callback */
    self->pending = NULL;
    self->in_connect = 1;
    self->connect_failed = 0;
    wsi = lws_client_connect_via_info(&ci);
    self->in_connect = 0;
    self->pending = NULL;
    if (!wsi || self->connect_failed) {
        s_reset_conn(self);
        return ERR_IO;
    }
    self->wsi = wsi;
    return 0;
}

int polygon_lws_send(polygon_lws_t *self, const char *text, size_t len)
{
    struct out_msg *m;

    assert(self && text);
    if (!self->wsi)
        return ERR_IO;
    if (self->out_n == POLYGON_LWS_OUT_MAX)
        return ERR_TOO_LARGE;
    m = &self->out[(self->out_head + self->out_n) % POLYGON_LWS_OUT_MAX];
    m->buf = malloc(LWS_PRE + len + 1);
    if (!m->buf)
        return ERR_NOMEM;
    memcpy(m->buf + LWS_PRE, text, len);
    m->len = len;
    self->out_n++;
    lws_callback_on_writable(self->wsi);
    return 0;
}

void polygon_lws_close(polygon_lws_t *self)
{
    assert(self);
    if (self->wsi)                  /* lws frees it on its next service */
        lws_set_timeout(self->wsi, PENDING_TIMEOUT_USER_OK,
                        LWS_TO_KILL_ASYNC);
    s_reset_conn(self);
}

void polygon_lws_set_ping(polygon_lws_t *self, int64_t ms)
{
    assert(self && ms > 0);
    self->ping_ms = ms;
}

void polygon_lws_service(polygon_lws_t *self)
{
    int64_t start;

    assert(self);
    if (self->wsi && self->open && !self->ping_due &&
        mono_ms() - self->last_ping >= self->ping_ms) {
        self->ping_due = 1;
        self->last_ping = mono_ms();
        lws_callback_on_writable(self->wsi);
    }
    /* Negative: poll() without waiting (a timeout of 0 would sleep until
     * lws has work, since 3.2). Each round reads at most RX_CHUNK; rounds
     * go on while data keeps coming, within a small time budget, so a
     * message of many MiB is read in a few ticks and not thousands. */
    start = mono_ms();
    for (int i = 0; i < SERVICE_ROUNDS_MAX; i++) {
        self->rx_any = 0;
        if (lws_service(self->ctx, -1) < 0)
            break;
        if (i + 1 >= SERVICE_ROUNDS_MIN &&
            (!self->rx_any || mono_ms() - start >= SERVICE_BUDGET_MS))
            break;
    }
}
