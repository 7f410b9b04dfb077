/* curve_watch.c -- names a CURVE mismatch instead of a silent timeout
 * (see curve.h, "Handshake watch").
 *
 * libzmq reports a failed handshake only through zmq_socket_monitor()
 * events: HANDSHAKE_FAILED_PROTOCOL with ZMTP_MECHANISM_MISMATCH when one
 * side uses CURVE and the other not, ..._CRYPTOGRAPHIC on the server when
 * the client holds another server key, HANDSHAKE_FAILED_AUTH when the ZAP
 * handler refused the client key. A client holding another server key
 * sees only HANDSHAKE_FAILED_NO_DETAIL (EPIPE), or connections that close
 * before any handshake succeeded. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "bus.h"
#include "curve.h"
#include "log.h"
#include "util.h"

#define WATCH_EVENTS (ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | \
                      ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
                      ZMQ_EVENT_HANDSHAKE_SUCCEEDED | \
                      ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | \
                      ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
#define LOG_WATCH_MAX 32            /* long-lived sockets watched */
#define LOG_EVERY_MS 60000          /* one line per socket and minute */

/* {==================== one socket ========================== */

int curve_watch_open(struct curve_watch *w, void *sock)
{
    static atomic_uint s_n;         /* requests come from workers too */
    char ep[64];
    int zero = 0;

    memset(w, 0, sizeof *w);
    snprintf(ep, sizeof ep, "inproc://livetrade-watch-%u",
             atomic_fetch_add(&s_n, 1));
    if (zmq_socket_monitor(sock, ep, WATCH_EVENTS) != 0)
        return -1;
    w->pair = zmq_socket(bus_ctx(), ZMQ_PAIR);
    if (!w->pair || zmq_setsockopt(w->pair, ZMQ_LINGER, &zero,
                                   sizeof zero) != 0 ||
        zmq_connect(w->pair, ep) != 0) {
        if (w->pair)
            zmq_close(w->pair);
        w->pair = NULL;
        zmq_socket_monitor(sock, NULL, 0);
        return -1;
    }
    return 0;
}

/* Reads one event (two frames); 0, or -1 if none is waiting (or the
 * context is ending). */
static int s_event(void *pair, int flags, uint16_t *ev, uint32_t *val)
{
    zmq_msg_t m;
    int more;

    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, pair, flags) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    if (zmq_msg_size(&m) >= 6) {
        const uint8_t *d = zmq_msg_data(&m);
        memcpy(ev, d, sizeof *ev);
        memcpy(val, d + 2, sizeof *val);
    } else {
        *ev = 0;
    }
    more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (more) {                     /* the endpoint: known to the caller */
        zmq_msg_init(&m);
        zmq_msg_recv(&m, pair, flags);
        zmq_msg_close(&m);
    }
    return 0;
}

/* Folds one event into the state of a watch. */
static void s_fold(struct curve_watch *w, uint16_t ev, uint32_t val)
{
    switch (ev) {
    case ZMQ_EVENT_CONNECTED:
        w->connected = 1;
        break;
    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        w->succeeded = 1;
        break;
    case ZMQ_EVENT_DISCONNECTED:
        if (w->connected && !w->succeeded)
            w->dropped = 1;
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        /* The most telling one stays: AUTH, then PROTOCOL (a refused
         * client also sees its connection break, NO_DETAIL). */
        if (ev >= w->failed) {
            w->failed = ev;
            w->value = val;
        }
        break;
    default:
        break;
    }
}

/* What the state of a watch says, or NULL if nothing points at CURVE. */
static const char *s_reason(const struct curve_watch *w, int server,
                            char *buf, size_t n)
{
    if (w->failed == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        w->value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        return curve_on() ? "this side uses --curve, the other does not" :
               "the other side uses --curve, this one does not";
    if (w->failed == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
        w->value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        return server ? "the client expects another server key (key "
                        "directories of different livetrade keygen runs?)"
                      : "the keys do not match";
    if (w->failed == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf(buf, n, "the server refused this program's client key "
                 "(ZAP status %u): not in its authorized/, or its allow "
                 "line leaves out this endpoint", (unsigned)w->value);
        return buf;
    }
    if (w->failed == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        snprintf(buf, n, "handshake protocol error 0x%x",
                 (unsigned)w->value);
        return buf;
    }
    /* The server saw the mismatch first and hung up: this side only
     * sees the connection break (EPIPE). */
    if ((w->failed == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL || w->dropped)
        && !server && curve_on())
        return "the server closed the connection during the CURVE "
               "handshake: it holds another server key (another keygen "
               "run's? the other role's: a feeder, not an engine, or the "
               "reverse?), or does not use --curve";
    if (w->failed == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL && !server)
        return "the other side uses --curve, this one does not (it closed "
               "the connection during the handshake)";
    if (w->failed == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) {
        snprintf(buf, n, "handshake failed: %s", strerror((int)w->value));
        return buf;
    }
    return NULL;
}

int curve_watch_why(struct curve_watch *w, const char *ep, char *buf,
                    size_t n)
{
    char detail[160];
    const char *why;
    uint16_t ev = 0;
    uint32_t val = 0;

    if (!w->pair)
        return 0;
    while (s_event(w->pair, ZMQ_DONTWAIT, &ev, &val) == 0)
        s_fold(w, ev, val);
    why = s_reason(w, 0, detail, sizeof detail);
    if (!why)
        return 0;
    snprintf(buf, n, "CURVE mismatch likely on %s: %s (give both sides "
             "--curve with keys from one livetrade keygen, or neither)",
             ep, why);
    return 1;
}

void curve_watch_close(struct curve_watch *w, void *sock)
{
    if (!w->pair)
        return;
    if (sock)
        zmq_socket_monitor(sock, NULL, 0);
    zmq_close(w->pair);
    w->pair = NULL;
}

/* }========================================================== */

/* {==================== long-lived sockets ================== */

struct log_watch {
    char inproc[64];                /* the monitor's endpoint */
    char what[48];                  /* "bars from", "a client of" */
    int server;                     /* a bound socket */
    void *pair;                     /* the thread's; NULL until then */
    struct curve_watch w;           /* its state (w.pair unused) */
    int64_t last_ms;                /* last line written */
    unsigned held;                  /* failures since then */
};

static struct {
    pthread_mutex_t mu;
    pthread_t thread;
    int started;
    void *ctx;                      /* the bus context, for its PAIRs */
    atomic_int stop;                /* curve_watch_stop: end the thread */
    int n;                          /* entries registered */
    struct log_watch e[LOG_WATCH_MAX];
} L = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* One failed handshake on a long-lived socket: a line now, or counted
 * into the next one (a client retries every few hundred ms). */
static void s_log(struct log_watch *lw, const char *ep)
{
    char detail[160];
    const char *why = s_reason(&lw->w, lw->server, detail, sizeof detail);
    int64_t now = mono_ms();

    /* A bound socket speaks only of what its clients surely got wrong:
     * a refused key is the ZAP handler's to log, and a client may hang
     * up during a handshake for reasons of its own. */
    if (!why || (lw->server &&
                 lw->w.failed != ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL))
        return;
    if (lw->last_ms && now - lw->last_ms < LOG_EVERY_MS) {
        lw->held++;
        return;
    }
    log_msg(LL_WARN, "CURVE mismatch likely: %s %s failed the handshake: "
            "%s (give both sides --curve with keys from one livetrade "
            "keygen, or neither)%s", lw->what, ep, why,
            lw->held ? " (and again since the last line)" : "");
    lw->last_ms = now ? now : 1;
    lw->held = 0;
}

static void *s_log_thread(void *arg)
{
    zmq_pollitem_t items[LOG_WATCH_MAX];
    int map[LOG_WATCH_MAX];
    (void)arg;

    while (!L.stop) {
        int n = 0;

        pthread_mutex_lock(&L.mu);
        for (int i = 0; i < L.n; i++) {
            struct log_watch *lw = &L.e[i];
            if (!lw->pair) {
                int zero = 0;
                lw->pair = zmq_socket(L.ctx, ZMQ_PAIR);
                if (lw->pair &&
                    (zmq_setsockopt(lw->pair, ZMQ_LINGER, &zero,
                                    sizeof zero) != 0 ||
                     zmq_connect(lw->pair, lw->inproc) != 0)) {
                    zmq_close(lw->pair);
                    lw->pair = NULL;
                }
            }
            if (!lw->pair)
                continue;
            items[n].socket = lw->pair;
            items[n].fd = 0;
            items[n].events = ZMQ_POLLIN;
            items[n].revents = 0;
            map[n++] = i;
        }
        pthread_mutex_unlock(&L.mu);
        if (zmq_poll(items, n, 200) < 0 && zmq_errno() == ETERM)
            break;
        for (int k = 0; k < n; k++) {
            struct log_watch *lw = &L.e[map[k]];
            int i = k;
            zmq_msg_t m;
            char ep[256] = "";
            uint16_t ev = 0;
            uint32_t val = 0;
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, lw->pair, ZMQ_DONTWAIT) >= 0 &&
                zmq_msg_size(&m) >= 6) {
                memcpy(&ev, zmq_msg_data(&m), sizeof ev);
                memcpy(&val, (uint8_t *)zmq_msg_data(&m) + 2, sizeof val);
            }
            if (zmq_msg_more(&m)) {
                zmq_msg_close(&m);
                zmq_msg_init(&m);
                if (zmq_msg_recv(&m, lw->pair, ZMQ_DONTWAIT) >= 0)
                    snprintf(ep, sizeof ep, "%.*s",
                             (int)zmq_msg_size(&m),
                             (const char *)zmq_msg_data(&m));
            }
            zmq_msg_close(&m);
            if (ev == ZMQ_EVENT_CONNECTED || ev == ZMQ_EVENT_ACCEPTED)
                memset(&lw->w, 0, sizeof lw->w);    /* a new attempt */
            s_fold(&lw->w, ev, val);
            if (ev == ZMQ_EVENT_DISCONNECTED ||
                (ev & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                       ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)))
                s_log(lw, ep);
            if (ev == ZMQ_EVENT_DISCONNECTED)
                memset(&lw->w, 0, sizeof lw->w);
        }
    }
    pthread_mutex_lock(&L.mu);
    for (int i = 0; i < L.n; i++)
        if (L.e[i].pair) {
            zmq_close(L.e[i].pair);
            L.e[i].pair = NULL;
        }
    pthread_mutex_unlock(&L.mu);
    return NULL;
}

void curve_watch_log(void *sock, const char *what, int server)
{
    struct log_watch *lw;
    int events = WATCH_EVENTS | (server ? ZMQ_EVENT_ACCEPTED : 0);

    pthread_mutex_lock(&L.mu);
    if (L.n == LOG_WATCH_MAX) {
        pthread_mutex_unlock(&L.mu);
        return;                     /* more sockets than any program has */
    }
    lw = &L.e[L.n];
    memset(lw, 0, sizeof *lw);
    snprintf(lw->inproc, sizeof lw->inproc, "inproc://livetrade-log-%d",
             L.n);
    snprintf(lw->what, sizeof lw->what, "%s", what);
    lw->server = server;
    if (zmq_socket_monitor(sock, lw->inproc, events) != 0) {
        pthread_mutex_unlock(&L.mu);
        return;                     /* a watch is a nicety: go without */
    }
    L.n++;
    if (!L.started) {
        sigset_t all, old;
        L.ctx = bus_ctx();          /* not bus_ctx() in the thread: it
                                       would make a new one after
                                       bus_term */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        L.started = pthread_create(&L.thread, NULL, s_log_thread,
                                   NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    pthread_mutex_unlock(&L.mu);
}

void curve_watch_stop(void)
{
    L.stop = 1;
    if (L.started)
        pthread_join(L.thread, NULL);
    L.started = 0;
    L.stop = 0;
    L.n = 0;
}

/* }========================================================== */
