/* web_http.c -- the web output's HTTP + WebSocket server on libwebsockets
 * 4.1 (see web_http.h). One context, one vhost, one protocol that takes
 * both the HTTP requests and the WebSocket connections. */
#include <assert.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libwebsockets.h>

#include "err.h"
#include "log.h"
#include "lwslog.h"
#include "util.h"
#include "web_http.h"

#define RX_CHUNK 4096               /* bytes lws reads per callback */
#define SERVICE_ROUNDS 16           /* lws_service rounds per call */
#define SERVICE_BUDGET_MS 4         /* ... for at most about this long */
#define HDR_MAX 512                 /* headers we read (cookie, origin) */
#define COOKIE "lt_token"
#define WRITES_PER_CALL 256         /* messages per writeable callback */

/* One connection (HTTP or WebSocket); lws allocates and zeroes it. */
struct client {
    struct client *next, *prev;     /* WebSocket clients, when linked */
    struct lws *wsi;
    int linked;                     /* in self->clients */
    int dropping;                   /* too slow: being closed */
    int64_t last_write;             /* mono ms of the last message sent */
    uint64_t sent;                  /* messages sent since the (re)start
                                       of its snapshot */
    size_t part;                    /* next snapshot part to send */
    int snap_done;                  /* whole snapshot sent */
    struct web_msg **q;             /* ring of WEB_CLIENT_QUEUE live
                                       messages (owned) */
    int qhead, qn;
    size_t qbytes;
    char rx[WEB_RX_MAX + 1];        /* browser message being read */
    size_t rx_len;
    int rx_over;                    /* over WEB_RX_MAX: skip to its end */
    char peer[64];                  /* address, for log lines */
};

struct web_http {
    struct lws_context *ctx;
    struct lws_vhost *vh;
    struct web_http_cfg cfg;
    struct client *clients;         /* doubly linked */
    struct web_http_stats st;
    int busy;                       /* something happened this round */
    int64_t last_check;             /* mono ms of the last stall check */
    struct log_limit lim_rx, lim_auth, lim_resync, lim_host;
};

struct web_msg *web_msg_new(const char *json, size_t len)
{
    struct web_msg *m = malloc(sizeof *m + LWS_PRE + len + 1);

    if (!m)
        return NULL;
    m->refs = 1;
    m->len = len;
    m->data = m->buf + LWS_PRE;
    memcpy(m->data, json, len);
    m->data[len] = '\0';
    return m;
}

void web_msg_unref(struct web_msg **m_p)
{
    struct web_msg *m = *m_p;

    if (m && --m->refs == 0)
        free(m);
    *m_p = NULL;
}

int web_token_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    unsigned diff = (unsigned)(na ^ nb);

    for (size_t i = 0; i < na; i++)
        diff |= (unsigned char)a[i] ^ (unsigned char)(nb ? b[i % nb] : 0);
    return diff == 0;
}

/* {==================== requests ============================= */

/* The header's value in buf[n] ("" if absent or too long). */
static const char *s_header(struct lws *wsi, enum lws_token_indexes h,
                            char *buf, int n)
{
    buf[0] = '\0';
    if (lws_hdr_total_length(wsi, h) >= n || lws_hdr_copy(wsi, buf, n, h) < 0)
        buf[0] = '\0';
    return buf;
}

/* 1 if the request carries the token; *from_query set when it came in
 * the URL (the page then gets the cookie). */
static int s_authorized(web_http_t *self, struct lws *wsi, int *from_query)
{
    char buf[HDR_MAX];
    const char *v;

    *from_query = 0;
    if (!self->cfg.token)
        return 1;
    v = lws_get_urlarg_by_name(wsi, "token=", buf, sizeof buf);
    if (v && web_token_equal(v, self->cfg.token)) {
        *from_query = 1;
        return 1;
    }
    v = s_header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, buf, sizeof buf);
    if (!strncasecmp(v, "Bearer ", 7) && web_token_equal(v + 7,
                                                        self->cfg.token))
        return 1;
    s_header(wsi, WSI_TOKEN_HTTP_COOKIE, buf, sizeof buf);
    for (char *save = NULL, *c = strtok_r(buf, ";", &save); c;
         c = strtok_r(NULL, ";", &save)) {
        while (*c == ' ')
            c++;
        if (!strncmp(c, COOKIE "=", sizeof COOKIE) &&
            web_token_equal(c + sizeof COOKIE, self->cfg.token))
            return 1;
    }
    self->st.unauthorized++;
    log_limited(&self->lim_auth, LL_INFO, "web: a request without the "
                "token was refused (401)");
    return 0;
}

/* 1 if the request may go on as far as its Host header goes. With a
 * token, any Host (the token is the guard). Without one, Host must be a
 * loopback name (127.0.0.1, localhost or [::1]) with the listening port
 * (no port: 80): a page of another site whose name resolves to 127.0.0.1
 * (DNS rebinding) sends its own name and is refused. */
static int s_host_ok(web_http_t *self, struct lws *wsi)
{
    static const char *names[] = { "127.0.0.1", "localhost", "[::1]" };
    char host[HDR_MAX], *end;
    const char *colon;
    size_t len;
    long port = 80;

    if (self->cfg.token)
        return 1;
    s_header(wsi, WSI_TOKEN_HOST, host, sizeof host);
    colon = strrchr(host, ':');
    if (colon && strchr(colon, ']'))
        colon = NULL;               /* "[::1]" without a port */
    len = colon ? (size_t)(colon - host) : strlen(host);
    if (colon) {
        errno = 0;
        port = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end || errno)
            port = -1;
    }
    if (port == self->cfg.port)
        for (size_t i = 0; i < sizeof names / sizeof *names; i++)
            if (strlen(names[i]) == len && !strncasecmp(host, names[i], len))
                return 1;
    self->st.bad_host++;
    log_limited(&self->lim_host, LL_WARN, "web: a request for Host '%.64s' "
                "was refused (403): without --token only 127.0.0.1, "
                "localhost or [::1] on port %d", host, self->cfg.port);
    return 0;
}

/* 1 if a WebSocket's Origin (when sent) names the host it connects to:
 * another site's page must not read the dashboard through a browser. */
static int s_same_origin(struct lws *wsi)
{
    char origin[HDR_MAX], host[HDR_MAX];
    const char *o = s_header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);

    if (!o[0])
        return 1;                   /* not a browser */
    s_header(wsi, WSI_TOKEN_HOST, host, sizeof host);
    if (!strncasecmp(o, "http://", 7))
        o += 7;
    else if (!strncasecmp(o, "https://", 8))
        o += 8;
    else
        return 0;
    return host[0] && strcasecmp(o, host) == 0;
}

/* Ends an HTTP transaction with a status and no file. */
static int s_http_status(struct lws *wsi, unsigned code)
{
    if (lws_return_http_status(wsi, code, NULL))
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* Refuses a WebSocket upgrade with `status` ("401 Unauthorized"). The
 * response is written here: lws's own would say HTTP/1.0 at this stage,
 * which some clients refuse to read. Returns 1 (handled) or -1. */
static int s_refuse(struct lws *wsi, const char *status)
{
    unsigned char buf[LWS_PRE + 160];
    int n = snprintf((char *)buf + LWS_PRE, sizeof buf - LWS_PRE,
                     "HTTP/1.1 %s\r\ncontent-length: 0\r\n"
                     "connection: close\r\n\r\n", status);

    if (n < 0 || n >= (int)(sizeof buf - LWS_PRE) ||
        lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS) < n)
        return -1;
    return 1;
}

static int s_http(web_http_t *self, struct lws *wsi, const char *uri)
{
    static const struct { const char *uri, *file, *mime; } files[] = {
        { "/", "index.html", "text/html; charset=utf-8" },
        { "/index.html", "index.html", "text/html; charset=utf-8" },
        { "/app.js", "app.js", "application/javascript" },
        { "/style.css", "style.css", "text/css" },
        { "/lightweight-charts.standalone.production.js",
          "lightweight-charts.standalone.production.js",
          "application/javascript" },
    };
    unsigned char hdr[512], *p = hdr, *end = hdr + sizeof hdr;
    char path[4096], cookie[256];
    int from_query, n;

    self->st.requests++;
    if (!s_host_ok(self, wsi))
        return s_http_status(wsi, HTTP_STATUS_FORBIDDEN);
    if (!s_authorized(self, wsi, &from_query))
        return s_http_status(wsi, HTTP_STATUS_UNAUTHORIZED);
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        if (strcmp(uri, files[i].uri) != 0)
            continue;
        if (strfmt(path, sizeof path, "%s/%s", self->cfg.assets,
                   files[i].file) < 0)
            return s_http_status(wsi, HTTP_STATUS_NOT_FOUND);
        if (lws_add_http_header_by_name(wsi,
                (const unsigned char *)"cache-control:",
                (const unsigned char *)"no-cache", 8, &p, end))
            return -1;
        if (from_query) {
            n = snprintf(cookie, sizeof cookie, COOKIE "=%s; Path=/; "
                         "HttpOnly; SameSite=Strict", self->cfg.token);
            if (n < 0 || n >= (int)sizeof cookie ||
                lws_add_http_header_by_name(wsi,
                    (const unsigned char *)"set-cookie:",
                    (const unsigned char *)cookie, n, &p, end))
                return -1;
        }
        n = lws_serve_http_file(wsi, path, files[i].mime, (const char *)hdr,
                                (int)(p - hdr));
        if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi)))
            return -1;
        return 0;
    }
    return s_http_status(wsi, HTTP_STATUS_NOT_FOUND);
}

/* }========================================================== */

/* {==================== WebSocket clients ==================== */

static void s_clear_queue(struct client *c)
{
    while (c->qn) {
        web_msg_unref(&c->q[c->qhead]);
        c->qhead = (c->qhead + 1) % WEB_CLIENT_QUEUE;
        c->qn--;
    }
    c->qhead = 0;
    c->qbytes = 0;
}

static void s_unlink(web_http_t *self, struct client *c)
{
    if (!c->linked)
        return;
    s_clear_queue(c);
    free(c->q);
    c->q = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        self->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->linked = 0;
    self->st.connected--;
}

static void s_drop(web_http_t *self, struct client *c, const char *why)
{
    log_msg(LL_WARN, "web: client %s %s; dropping it", c->peer, why);
    self->st.dropped++;
    c->dropping = 1;
    s_clear_queue(c);
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* Queues `m` for `c`. A client over its bounds that still reads starts
 * again from a fresh snapshot (which holds `m`); one that has read
 * nothing since its snapshot started is dropped. */
static void s_push(web_http_t *self, struct client *c, struct web_msg *m)
{
    char why[128];

    if (c->dropping)
        return;
    if (c->qn == WEB_CLIENT_QUEUE || c->qbytes + m->len > WEB_CLIENT_BYTES) {
        if (c->sent == 0) {
            snprintf(why, sizeof why, "does not keep up (%d messages, %zu "
                     "bytes waiting)", c->qn, c->qbytes);
            s_drop(self, c, why);
            return;
        }
        log_limited(&self->lim_resync, LL_INFO, "web: client %s fell "
                    "behind (%d messages waiting); it gets a fresh snapshot",
                    c->peer, c->qn);
        self->st.resyncs++;
        s_clear_queue(c);
        c->part = 0;
        c->snap_done = 0;
        c->sent = 0;
        lws_callback_on_writable(c->wsi);
        return;
    }
    m->refs++;
    c->q[(c->qhead + c->qn) % WEB_CLIENT_QUEUE] = m;
    c->qn++;
    c->qbytes += m->len;
    lws_callback_on_writable(c->wsi);
}

static int s_ws_write(struct lws *wsi, struct web_msg *m)
{
    int n = lws_write(wsi, m->data, m->len, LWS_WRITE_TEXT);
    return n < (int)m->len ? -1 : 0;
}

/* Sends one message: the next snapshot part, else the next queued.
 * 1 if one was sent, 0 if there was none, -1 to drop the connection. */
static int s_send_one(web_http_t *self, struct client *c)
{
    struct web_msg *m = NULL;
    int rc;

    if (!c->snap_done) {
        m = self->cfg.snapshot(self->cfg.arg, c->part);
        if (m)
            c->part++;
        else
            c->snap_done = 1;
    }
    if (!m && c->qn) {
        m = c->q[c->qhead];
        c->q[c->qhead] = NULL;
        c->qhead = (c->qhead + 1) % WEB_CLIENT_QUEUE;
        c->qn--;
        c->qbytes -= m->len;
    }
    if (!m)
        return 0;
    rc = s_ws_write(c->wsi, m);
    web_msg_unref(&m);
    if (rc) {
        log_msg(LL_DEBUG, "web: write to %s failed", c->peer);
        return -1;
    }
    c->sent++;
    c->last_write = mono_ms();
    return 1;
}

/* Writes while the socket takes more (up to WRITES_PER_CALL messages),
 * then asks to be called again if anything is left. */
static int s_writeable(web_http_t *self, struct client *c)
{
    if (c->dropping)
        return -1;
    for (int i = 0; i < WRITES_PER_CALL; i++) {
        int rc = s_send_one(self, c);
        if (rc <= 0)
            return rc;
        if (lws_send_pipe_choked(c->wsi))
            break;
    }
    if (!c->snap_done || c->qn)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static void s_reply(web_http_t *self, struct client *c, const char *json)
{
    struct web_msg *m = web_msg_new(json, strlen(json));

    if (m) {
        s_push(self, c, m);
        web_msg_unref(&m);
    }
}

/* A whole message from a browser: only {"type":"ping"} means something. */
static void s_message(web_http_t *self, struct client *c, int binary)
{
    json_t *j = NULL, *type;
    const char *why = "not JSON";

    if (c->rx_over) {
        why = "too large";
    } else if (binary) {
        why = "binary";
    } else {
        c->rx[c->rx_len] = '\0';
        j = json_loadb(c->rx, c->rx_len, 0, NULL);
        type = j ? json_object_get(j, "type") : NULL;
        if (j && !json_is_object(j))
            why = "not an object";
        else if (j && !json_is_string(type))
            why = "no type";
        else if (j && strcmp(json_string_value(type), "ping") != 0)
            why = "unknown type";
        else if (j)
            why = NULL;
    }
    json_decref(j);
    c->rx_len = 0;
    c->rx_over = 0;
    if (why) {
        self->st.rx_bad++;
        log_limited(&self->lim_rx, LL_WARN, "web: ignored a message from "
                    "%s: %s (%llu so far)", c->peer, why,
                    (unsigned long long)self->st.rx_bad);
        return;
    }
    self->st.rx_ok++;
    s_reply(self, c, "{\"type\":\"pong\"}");
}

static void s_receive(web_http_t *self, struct client *c, const void *in,
                      size_t len)
{
    struct lws *wsi = c->wsi;

    if (!c->rx_over && c->rx_len + len > WEB_RX_MAX)
        c->rx_over = 1;
    if (!c->rx_over) {
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi))
        s_message(self, c, lws_frame_is_binary(wsi));
}

/* }========================================================== */

static int s_callback(struct lws *wsi, enum lws_callback_reasons reason,
                      void *user, void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    web_http_t *self = ctx ? lws_context_user(ctx) : NULL;
    struct client *c = user;
    int from_query;

    if (!self)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        self->busy = 1;
        return s_http(self, wsi, in ? (const char *)in : "/");
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        self->st.requests++;
        if (!s_host_ok(self, wsi))
            return s_refuse(wsi, "403 Forbidden");
        if (!s_authorized(self, wsi, &from_query))
            return s_refuse(wsi, "401 Unauthorized");
        if (!s_same_origin(wsi) || self->st.connected >= WEB_CLIENTS_MAX) {
            self->st.rejected++;
            log_msg(LL_WARN, "web: WebSocket refused: %s",
                    self->st.connected >= WEB_CLIENTS_MAX ?
                    "too many clients" : "Origin is another site");
            return s_refuse(wsi, "403 Forbidden");
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        memset(c, 0, sizeof *c);
        c->q = calloc(WEB_CLIENT_QUEUE, sizeof *c->q);
        if (!c->q) {
            log_msg(LL_ERROR, "web: out of memory for a client");
            return -1;
        }
        c->wsi = wsi;
        c->last_write = mono_ms();
        lws_get_peer_simple(wsi, c->peer, sizeof c->peer);
        c->next = self->clients;
        if (self->clients)
            self->clients->prev = c;
        self->clients = c;
        c->linked = 1;
        self->st.connected++;
        self->st.clients++;
        self->busy = 1;
        log_msg(LL_INFO, "web: client %s connected (%d now)", c->peer,
                self->st.connected);
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        self->busy = 1;
        return c ? s_writeable(self, c) : 0;
    case LWS_CALLBACK_RECEIVE:
        self->busy = 1;
        if (c && c->linked)
            s_receive(self, c, in, len);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (c && c->linked) {
            s_unlink(self, c);
            log_msg(LL_INFO, "web: client %s disconnected (%d now)",
                    c->peer, self->st.connected);
        }
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols s_protocols[] = {
    { "livetrade", s_callback, sizeof(struct client), RX_CHUNK, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 }
};

web_http_t *web_http_new(const struct web_http_cfg *cfg, char *err)
{
    struct lws_context_creation_info info;
    web_http_t *self = calloc(1, sizeof *self);

    assert(cfg && cfg->snapshot && cfg->assets);
    if (!self) {
        snprintf(err, ERR_LEN, "out of memory");
        return NULL;
    }
    self->cfg = *cfg;
    self->lim_rx = self->lim_auth = self->lim_resync = self->lim_host =
        (struct log_limit)LOG_LIMIT_INIT;
    lwslog_init();
    memset(&info, 0, sizeof info);
    info.options = LWS_SERVER_OPTION_EXPLICIT_VHOSTS |
                   LWS_SERVER_OPTION_DISABLE_IPV6;
    info.gid = -1;
    info.uid = -1;
    info.user = self;
    info.protocols = s_protocols;
    self->ctx = lws_create_context(&info);
    if (!self->ctx) {
        snprintf(err, ERR_LEN, "libwebsockets: cannot create a context");
        free(self);
        return NULL;
    }
    info.port = cfg->port;
    info.iface = cfg->host;
    info.vhost_name = "livetrade";
    self->vh = lws_create_vhost(self->ctx, &info);
    if (!self->vh) {
        snprintf(err, ERR_LEN, "cannot listen on %s:%d (address in use, "
                 "or not an address of this host)",
                 cfg->host ? cfg->host : "0.0.0.0", cfg->port);
        lws_context_destroy(self->ctx);
        free(self);
        return NULL;
    }
    return self;
}

void web_http_destroy(web_http_t **self_p)
{
    web_http_t *self = *self_p;

    if (!self)
        return;
    lws_context_destroy(self->ctx); /* CLOSED for each client first */
    while (self->clients)
        s_unlink(self, self->clients);
    free(self);
    *self_p = NULL;
}

/* Drops the clients that have had something to read for WEB_STALL_MS
 * and read none of it (their socket stays full). */
static void s_check_stalls(web_http_t *self, int64_t now)
{
    char why[128];

    self->last_check = now;
    for (struct client *c = self->clients; c; c = c->next)
        if (!c->dropping && (c->qn || !c->snap_done) &&
            now - c->last_write > WEB_STALL_MS) {
            snprintf(why, sizeof why, "has read nothing for %d s",
                     WEB_STALL_MS / 1000);
            s_drop(self, c, why);
        }
}

void web_http_service(web_http_t *self)
{
    int64_t start = mono_ms();

    if (start - self->last_check >= 1000)
        s_check_stalls(self, start);

    for (int i = 0; i < SERVICE_ROUNDS; i++) {
        self->busy = 0;
        /* Negative: poll() without waiting (0 would wait for work). */
        if (lws_service(self->ctx, -1) < 0 || !self->busy ||
            mono_ms() - start >= SERVICE_BUDGET_MS)
            break;
    }
}

void web_http_broadcast(web_http_t *self, struct web_msg *m, size_t part)
{
    for (struct client *c = self->clients; c; c = c->next) {
        if (c->part > part) {
            s_push(self, c, m);
        } else if (c->snap_done && !c->dropping) {
            /* A new part (a new symbol): send it; it holds `m` too. */
            c->snap_done = 0;
            lws_callback_on_writable(c->wsi);
        }
    }
}

const struct web_http_stats *web_http_stats(const web_http_t *self)
{
    return &self->st;
}
