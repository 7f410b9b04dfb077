/* bus.c -- ZeroMQ sockets, topics, sequence tracking, request/reply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "curve.h"
#include "err.h"
#include "log.h"
#include "msg_status.h"

static void *s_ctx;

void *bus_ctx(void)
{
    if (!s_ctx)
        s_ctx = zmq_ctx_new();
    return s_ctx;
}

void bus_term(void)
{
    curve_watch_stop();             /* its sockets closed before the term */
    if (s_ctx)
        zmq_ctx_term(s_ctx);
    s_ctx = NULL;
    curve_stop();
}

/* Appends s to buf[0..n), cut at BUS_TOPIC_MAX - 1 bytes; the new n. */
static size_t s_topic_cat(char *buf, size_t n, const char *s)
{
    size_t k = strnlen(s, BUS_TOPIC_MAX - 1 - n);

    memcpy(buf + n, s, k);
    return n + k;
}

/* As snprintf(buf, BUS_TOPIC_MAX, "%s|%s|", kind, sym), without the
 * formatting: the engine builds a topic for every signal. */
void bus_topic(char *buf, const char *kind, const char *sym)
{
    size_t n = s_topic_cat(buf, 0, kind);

    n = s_topic_cat(buf, n, "|");
    if (sym) {
        n = s_topic_cat(buf, n, sym);
        n = s_topic_cat(buf, n, "|");
    }
    buf[n] = '\0';
}

int bus_topic_parse(const char *topic, struct bus_topic_of *t)
{
    static const struct {
        const char *kind;
        enum bus_kind k;
        int has_sym;
    } kinds[] = {
        { "bar|", BUS_K_BAR, 1 }, { "sig|", BUS_K_SIG, 1 },
        { "ind|", BUS_K_IND, 1 }, { "hb|", BUS_K_HB, 0 },
        { BUS_PACE_KIND "|", BUS_K_PACE, 0 },
    };

    t->kind = BUS_K_OTHER;
    t->sym[0] = '\0';
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
        size_t kl = strlen(kinds[i].kind);
        const char *sym, *end;
        if (strncmp(topic, kinds[i].kind, kl) != 0)
            continue;
        t->kind = kinds[i].k;
        sym = topic + kl;
        if (!kinds[i].has_sym)
            return *sym ? -1 : 0;
        end = strchr(sym, '|');
        if (!end || end == sym || end[1] != '\0' ||
            (size_t)(end - sym) >= sizeof t->sym)
            return -1;
        memcpy(t->sym, sym, (size_t)(end - sym));
        t->sym[end - sym] = '\0';
        return 0;
    }
    return -1;
}

static void *s_socket(int type, char *err)
{
    void *s = zmq_socket(bus_ctx(), type);
    if (!s)
        snprintf(err, ERR_LEN, "zmq_socket: %s", zmq_strerror(errno));
    return s;
}

/* Sets an option of type int; 0, or -1 with one line in err naming the
 * option (`what`) and the reason. */
static int s_set_int(void *s, int opt, const char *what, int v, char *err)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) == 0)
        return 0;
    snprintf(err, ERR_LEN, "cannot set %s to %d: %s", what, v,
             zmq_strerror(errno));
    return -1;
}

/* ZMQ_MAXMSGSIZE is an int64_t: set through an int, libzmq refuses it
 * and no limit applies. */
static int s_set_max(void *s, int64_t v, char *err)
{
    if (zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &v, sizeof v) == 0)
        return 0;
    snprintf(err, ERR_LEN, "cannot set ZMQ_MAXMSGSIZE to %lld: %s",
             (long long)v, zmq_strerror(errno));
    return -1;
}

#define SET_INT(s, opt, v, err) s_set_int(s, opt, #opt, v, err)

/* Binds a server socket: CURVE when it is on; a warning for an endpoint
 * reachable beyond this machine without it. */
static void *s_bind(void *s, const char *endpoint, char *err)
{
    char why[ERR_LEN];

    if (curve_apply(s, 0, why) != 0) {
        snprintf(err, ERR_LEN, "%.100s: %.150s", endpoint, why);
        zmq_close(s);
        return NULL;
    }
    if (!curve_on() && curve_endpoint_public(endpoint))
        log_msg(LL_WARN, "%s is reachable beyond this machine and --curve "
                "is off: anyone who can reach it can read or send", endpoint);
    curve_watch_log(s, "a client of", 1);
    if (zmq_bind(s, endpoint) != 0) {
        snprintf(err, ERR_LEN, "cannot bind %s: %s", endpoint,
                 zmq_strerror(errno));
        zmq_socket_monitor(s, NULL, 0);
        zmq_close(s);
        return NULL;
    }
    return s;
}

/* An XPUB whose subscribers each get a queue of `hwm` messages: set
 * before bind, as libzmq gives a connection the options the socket had
 * when it was bound. */
static void *s_bind_pub(const char *endpoint, int hwm, char *err)
{
    void *s = s_socket(ZMQ_XPUB, err);
    if (!s)
        return NULL;
    /* Every subscription and every unsubscription is passed on
     * (ZMQ_XPUB_VERBOSER), also those of a subscriber that goes away, so
     * counts of subscribers go down as well as up. */
    /* What comes in is only subscriptions: none may be dropped, however
     * many symbols a subscriber asks for at once. */
    if (SET_INT(s, ZMQ_SNDHWM, hwm, err) ||
        SET_INT(s, ZMQ_RCVHWM, 0, err) ||
        SET_INT(s, ZMQ_XPUB_NODROP, 1, err) ||
        SET_INT(s, ZMQ_XPUB_VERBOSER, 1, err) ||
        SET_INT(s, ZMQ_LINGER, 1000, err)) {
        zmq_close(s);
        return NULL;
    }
    return s_bind(s, endpoint, err);
}

void *bus_bind_pub(const char *endpoint, char *err)
{
    return s_bind_pub(endpoint, BUS_HWM, err);
}

void *bus_bind_router(const char *endpoint, char *err)
{
    void *s = s_socket(ZMQ_ROUTER, err);
    if (!s)
        return NULL;
    /* All before bind. Mandatory routing makes a reply to a peer that is
     * gone or full fail (EHOSTUNREACH, EAGAIN) instead of vanishing, so
     * bus_router_reply() can say so; the small queues bound what a peer
     * that sends without reading can make a server hold. */
    if (SET_INT(s, ZMQ_LINGER, 0, err) ||
        SET_INT(s, ZMQ_ROUTER_MANDATORY, 1, err) ||
        SET_INT(s, ZMQ_SNDHWM, BUS_ROUTER_SNDHWM, err) ||
        SET_INT(s, ZMQ_RCVHWM, BUS_ROUTER_RCVHWM, err) ||
        s_set_max(s, BUS_MAX_REQUEST, err)) {
        zmq_close(s);
        return NULL;
    }
    return s_bind(s, endpoint, err);
}

void *bus_connect_sub(const char *endpoints, int peer, char *err)
{
    char list[1024], *items[32];
    int n;
    void *s;

    if (strlen(endpoints) >= sizeof list) {
        snprintf(err, ERR_LEN, "endpoint list too long");
        return NULL;
    }
    snprintf(list, sizeof list, "%s", endpoints);
    n = split_list(list, items, 32);
    if (n <= 0) {
        snprintf(err, ERR_LEN, "no endpoint in '%s'", endpoints);
        return NULL;
    }
    s = s_socket(ZMQ_SUB, err);
    if (!s)
        return NULL;
    /* A SUB sends only its subscriptions, and libzmq drops those past
     * the send high-water mark without a word: no mark, so that tens of
     * thousands of symbols subscribed at once all reach the publisher. */
    if (SET_INT(s, ZMQ_RCVHWM, BUS_HWM, err) ||
        SET_INT(s, ZMQ_SNDHWM, 0, err) ||
        SET_INT(s, ZMQ_LINGER, 0, err) ||
        s_set_max(s, BUS_MAX_BODY, err)) {
        zmq_close(s);
        return NULL;
    }
    if (curve_apply(s, peer, err) != 0) {
        zmq_close(s);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (zmq_connect(s, items[i]) != 0) {
            snprintf(err, ERR_LEN, "cannot connect to %s: %s", items[i],
                     zmq_strerror(errno));
            zmq_close(s);
            return NULL;
        }
    /* After the connects: a socket closed on a bad endpoint leaves no
     * monitor behind. Its first handshakes may go unwatched. */
    curve_watch_log(s, "the subscription to", 0);
    return s;
}

int bus_subscribe(void *sub, const char *kind, const char *sym)
{
    char topic[BUS_TOPIC_MAX];
    bus_topic(topic, kind, sym);
    return zmq_setsockopt(sub, ZMQ_SUBSCRIBE, topic, strlen(topic));
}

void bus_close(void **sock)
{
    if (*sock)
        zmq_close(*sock);
    *sock = NULL;
}

/* {==================== publisher ====================== */

static int s_pub_open(struct bus_pub *p, const char *endpoint,
                      const char *name, int hwm, char *err)
{
    memset(p, 0, sizeof *p);
    p->sock = s_bind_pub(endpoint, hwm, err);
    if (!p->sock)
        return ERR_IO;
    snprintf(p->name, sizeof p->name, "%s", name);
    p->instance = random_u64() & ((1ULL << 53) - 1);
    if (!p->instance)
        p->instance = 1;
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    p->last_send = mono_ms();
    return ERR_OK;
}

void bus_pub_free(struct bus_pub *p)
{
    bus_close(&p->sock);
    msgpack_sbuffer_destroy(&p->sb);
}

int bus_pub_init(struct bus_pub *p, const char *endpoint, const char *name,
                 char *err)
{
    return s_pub_open(p, endpoint, name, BUS_HWM, err);
}

int bus_pub_init_paced(struct bus_pub *p, const char *endpoint,
                       const char *name, char *err)
{
    return s_pub_open(p, endpoint, name, BUS_PACE_HWM, err);
}

/* Sets ZMQ_XPUB_NODROP: on, a send with a full subscriber among those it
 * goes to fails whole (EAGAIN); off, it goes to the others and the full
 * one misses it. 0 or -1 (errno). */
static int s_nodrop(struct bus_pub *p, int on)
{
    return zmq_setsockopt(p->sock, ZMQ_XPUB_NODROP, &on, sizeof on);
}

/* Both frames (topic, then `len` bytes of body) without waiting: 0, or
 * -1 with errno. With NODROP on, the first frame decides for the message:
 * once it is in, the body goes too (a pipe counts whole messages against
 * its high-water mark). */
static int s_frames(void *sock, const char *topic, const void *body,
                    size_t len)
{
    int rc = zmq_send(sock, topic, strlen(topic),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(sock, body, len, ZMQ_DONTWAIT);
    return rc < 0 ? -1 : 0;
}

/* sb's content under topic, without waiting for anyone: to every
 * subscriber with room. 0, or -1 with errno. */
static int s_lossy(struct bus_pub *p, const char *topic)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    int rc, e;

    rc = s_nodrop(p, 0);
    if (rc == 0)
        rc = s_frames(p->sock, topic, p->sb.data, p->sb.size);
    e = errno;
    if (s_nodrop(p, 1) != 0)
        log_limited(&lim, LL_ERROR, "publish on %s: ZMQ_XPUB_NODROP cannot "
                    "be set again (%s)", topic, zmq_strerror(errno));
    errno = e;
    return rc;
}

/* Sends sb's content to every subscriber that has room: the full ones
 * miss it (ZeroMQ then leaves them out of later sends too, until they
 * have read half their queue), which is counted in `dropped` and said in
 * one line. Clears sb. 0, or -1 if the socket refused it. */
static int s_leave_behind(struct bus_pub *p, const char *topic)
{
    static struct log_limit lim = LOG_LIMIT_INIT;
    int rc = s_lossy(p, topic);

    msgpack_sbuffer_clear(&p->sb);
    p->last_send = mono_ms();
    p->dropped++;
    if (rc < 0) {
        log_limited(&lim, LL_WARN, "publish on %s dropped (%s); %llu "
                    "dropped so far", topic, zmq_strerror(errno),
                    (unsigned long long)p->dropped);
        return -1;
    }
    p->sent++;
    log_limited(&lim, LL_WARN, "publish on %s: a subscriber is not reading "
                "and is left behind (the others get every message; it "
                "sees the gap in seq once it reads again); %llu left "
                "behind so far", topic, (unsigned long long)p->dropped);
    return 0;
}

/* 1 if a subscriber of pace| (one a pull source paces itself to) is full;
 * else 0, and those subscribers got a pace message. Asked only when a
 * send found someone full, so it is rare. */
static int s_pacer_full(struct bus_pub *p)
{
    /* {ver: 1, type: "pace"} */
    static const char body[] = "\x82\xa3ver\x01\xa4type\xa4pace";
    char topic[BUS_TOPIC_MAX];

    bus_topic(topic, BUS_PACE_KIND, NULL);
    return s_frames(p->sock, topic, body, sizeof body - 1) < 0 &&
           errno == EAGAIN;
}

#define TRY_SEND_ROUNDS 3           /* sends and probes before leaving
                                       a subscriber behind */

/* sb sent to every subscriber: cleared and counted. */
static int s_sent(struct bus_pub *p)
{
    msgpack_sbuffer_clear(&p->sb);
    p->last_send = mono_ms();
    p->sent++;
    return 0;
}

int bus_pub_send(struct bus_pub *p, const char *topic)
{
    if (s_frames(p->sock, topic, p->sb.data, p->sb.size) == 0)
        return s_sent(p);
    return s_leave_behind(p, topic);
}

int bus_pub_try_send(struct bus_pub *p, const char *topic)
{
    /* A probe that finds every pacer with room may be news: the pacer
     * that was full read half its queue meanwhile (libzmq learns it from
     * a command that any send may take in). So the message is tried
     * again before anyone is left behind: a pacer full again holds it
     * back; the same failure with the pacers still open means another
     * subscriber is full. */
    for (int i = 0; i < TRY_SEND_ROUNDS; i++) {
        if (s_frames(p->sock, topic, p->sb.data, p->sb.size) == 0)
            return s_sent(p);
        if (errno != EAGAIN)
            break;
        if (s_pacer_full(p))
            return 1;               /* sb kept for another try */
    }
    return s_leave_behind(p, topic);
}

int bus_pub_give_up(struct bus_pub *p, const char *topic)
{
    return s_leave_behind(p, topic);
}

int bus_pub_send_side(struct bus_pub *p, const char *topic)
{
    int rc = zmq_send(p->sock, topic, strlen(topic),
                      ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc >= 0)
        rc = zmq_send(p->sock, p->sb.data, p->sb.size, ZMQ_DONTWAIT);
    msgpack_sbuffer_clear(&p->sb);
    return rc < 0 ? -1 : 0;
}

void bus_pub_tick(struct bus_pub *p, uint64_t seq)
{
    char topic[BUS_TOPIC_MAX];

    if (mono_ms() - p->last_send < BUS_HEARTBEAT_MS)
        return;
    bus_topic(topic, "hb", NULL);
    msgpack_pack_map(&p->pk, 6);
    mp_kint(&p->pk, "ver", 1);
    mp_kstr(&p->pk, "type", "hb");
    mp_kstr(&p->pk, "src", p->name);
    mp_kuint(&p->pk, "pub", p->instance);
    mp_kuint(&p->pk, "seq", seq);
    mp_kint(&p->pk, "ts", wall_ms());
    /* A full subscriber is left behind by a heartbeat as by data (one
     * line, counted); heartbeats are not data in `sent`. */
    if (s_frames(p->sock, topic, p->sb.data, p->sb.size) == 0) {
        p->last_send = mono_ms();
        msgpack_sbuffer_clear(&p->sb);
    } else if (s_leave_behind(p, topic) == 0) {
        p->sent--;
    }
}

int bus_hb_parse(const msgpack_object *o, struct bus_hb *hb)
{
    int64_t ver;

    return mp_int(o, "ver", &ver) || ver != 1 ||
           !mp_is(mp_get(o, "type"), "hb") ||
           mp_str(o, "src", hb->src, sizeof hb->src) ||
           mp_uint(o, "pub", &hb->pub) || mp_uint(o, "seq", &hb->seq) ||
           mp_int(o, "ts", &hb->ts) ? -1 : 0;
}

void bus_pub_read_subs(struct bus_pub *p, const char *kind)
{
    char buf[BUS_TOPIC_MAX + 1];
    size_t kl = kind ? strlen(kind) : 0;
    size_t sl = p->side_kind ? strlen(p->side_kind) : 0;
    int n;

    while ((n = zmq_recv(p->sock, buf, sizeof buf, ZMQ_DONTWAIT)) >= 0) {
        int d;
        if (n < 1 || n > (int)sizeof buf || (unsigned char)buf[0] > 1)
            continue;
        d = buf[0] == 1 ? 1 : -1;
        /* A subscription gets a side message if either is a prefix of
         * the other ("" and "in" as well as "ind|AAPL|"). */
        if (p->side_kind && memcmp(buf + 1, p->side_kind,
                                   (size_t)n - 1 < sl ? (size_t)n - 1 : sl)
                            == 0)
            p->side_subs = p->side_subs + d < 0 ? 0 : p->side_subs + d;
        if (kind ? (size_t)n > kl && memcmp(buf + 1, kind, kl) == 0
                 : !(n >= 4 && memcmp(buf + 1, "hb|", 3) == 0))
            p->subscribers = p->subscribers + d < 0 ? 0 :
                             p->subscribers + d;
    }
}

/* }==================================================== */

int bus_recv(void *sock, char *topic, size_t tn, zmq_msg_t *msg)
{
    int more = 0, n;
    size_t ml = sizeof more;

    n = zmq_recv(sock, topic, tn - 1, ZMQ_DONTWAIT);
    if (n < 0)
        return -1;
    topic[(size_t)n < tn - 1 ? (size_t)n : tn - 1] = '\0';
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    if (!more)
        return -2;                  /* one frame only */
    zmq_msg_init(msg);
    if (zmq_msg_recv(msg, sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(msg);
        return -2;
    }
    zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
    if (more) {                     /* drain the extra frames */
        zmq_msg_t extra;
        while (more) {
            zmq_msg_init(&extra);
            zmq_msg_recv(&extra, sock, ZMQ_DONTWAIT);
            zmq_msg_close(&extra);
            zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &ml);
        }
        zmq_msg_close(msg);
        return -2;
    }
    if ((size_t)n >= tn) {          /* topic was truncated */
        zmq_msg_close(msg);
        return -2;
    }
    return (int)zmq_msg_size(msg);
}

/* {==================== sequence tracking ================ */

void bus_track_init(struct bus_track *t)
{
    memset(t, 0, sizeof *t);
}

void bus_track_free(struct bus_track *t)
{
    free(t->e);
    memset(t, 0, sizeof *t);
}

static struct bus_track_entry *s_slot(struct bus_track_entry *e, size_t cap,
                                      const char *key)
{
    size_t i = hash_str(HASH_INIT, key) & (cap - 1);
    while (e[i].key[0] && strcmp(e[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &e[i];
}

static int s_grow(struct bus_track *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    struct bus_track_entry *e = calloc(cap, sizeof *e);
    if (!e)
        return ERR_NOMEM;
    for (size_t i = 0; i < t->cap; i++)
        if (t->e[i].key[0])
            *s_slot(e, cap, t->e[i].key) = t->e[i];
    free(t->e);
    t->e = e;
    t->cap = cap;
    return ERR_OK;
}

int bus_track_see(struct bus_track *t, const char *key, uint64_t pub,
                  uint64_t seq, uint64_t *missing)
{
    static struct log_limit gap_lim = LOG_LIMIT_INIT;
    struct bus_track_entry *e;

    *missing = 0;
    if ((t->n + 1) * 2 > t->cap && s_grow(t))
        return TRACK_OK;            /* cannot track; let it through */
    e = s_slot(t->e, t->cap, key);
    if (!e->key[0]) {
        snprintf(e->key, sizeof e->key, "%s", key);
        e->pub = pub;
        e->seq = seq;
        t->n++;
        return TRACK_FIRST;
    }
    if (e->pub != pub) {
        t->restarts++;
        log_msg(LL_INFO, "publisher of %s restarted (instance %llx -> %llx)",
                key, (unsigned long long)e->pub, (unsigned long long)pub);
        e->pub = pub;
        e->seq = seq;
        return TRACK_RESTART;
    }
    if (seq <= e->seq) {
        t->old++;
        return TRACK_OLD;
    }
    if (seq != e->seq + 1) {
        *missing = seq - e->seq - 1;
        t->gaps++;
        t->missed += *missing;
        log_limited(&gap_lim, LL_WARN, "gap in %s: %llu message(s) missing "
                    "before seq %llu (%llu gaps so far)", key,
                    (unsigned long long)*missing, (unsigned long long)seq,
                    (unsigned long long)t->gaps);
        e->seq = seq;
        return TRACK_GAP;
    }
    e->seq = seq;
    return TRACK_OK;
}

/* }==================================================== */

int bus_router_recv(void *router, zmq_msg_t *idmsg, zmq_msg_t *bodymsg)
{
    int more = 0;
    size_t ml = sizeof more;

    zmq_msg_init(idmsg);
    if (zmq_msg_recv(idmsg, router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(idmsg);
        return -1;
    }
    /* Skip the empty delimiter (REQ clients); take the first non-empty
     * frame as the body; drain anything after it. */
    zmq_msg_init(bodymsg);
    for (;;) {
        zmq_getsockopt(router, ZMQ_RCVMORE, &more, &ml);
        if (!more)
            break;
        zmq_msg_close(bodymsg);
        zmq_msg_init(bodymsg);
        if (zmq_msg_recv(bodymsg, router, 0) < 0)
            break;
        if (zmq_msg_size(bodymsg) > 0) {
            zmq_getsockopt(router, ZMQ_RCVMORE, &more, &ml);
            while (more) {
                zmq_msg_t x;
                zmq_msg_init(&x);
                zmq_msg_recv(&x, router, 0);
                zmq_msg_close(&x);
                zmq_getsockopt(router, ZMQ_RCVMORE, &more, &ml);
            }
            break;
        }
    }
    return (int)zmq_msg_size(bodymsg);
}

int bus_router_reply(void *router, zmq_msg_t *idmsg,
                     const msgpack_sbuffer *sb)
{
    zmq_msg_t id;
    int rc;

    /* Never waits: a peer whose queue is full (it does not read) or
     * that is gone fails the first frame, and then nothing is queued. */
    zmq_msg_init(&id);
    zmq_msg_copy(&id, idmsg);
    rc = zmq_msg_send(&id, router, ZMQ_SNDMORE | ZMQ_DONTWAIT);
    if (rc < 0) {
        zmq_msg_close(&id);
        return -1;
    }
    zmq_send(router, "", 0, ZMQ_SNDMORE);
    rc = zmq_send(router, sb->data, sb->size, 0);
    return rc < 0 ? -1 : 0;
}

int bus_request(const char *endpoint, int peer, const msgpack_sbuffer *req,
                int timeout_ms, char **reply, size_t *reply_len, char *err)
{
    void *s = s_socket(ZMQ_REQ, err);
    zmq_pollitem_t pi[1];
    zmq_msg_t msg;
    int64_t end = mono_ms() + timeout_ms;
    struct curve_watch w;
    char why[ERR_LEN];
    int rc;

    *reply = NULL;
    *reply_len = 0;
    if (!s)
        return ERR_IO;
    if (SET_INT(s, ZMQ_LINGER, 0, err) || s_set_max(s, BUS_MAX_BODY, err)) {
        zmq_close(s);
        return ERR_IO;
    }
    if (curve_apply(s, peer, err) != 0) {
        zmq_close(s);
        return ERR_IO;
    }
    curve_watch_open(&w, s);
    if (zmq_connect(s, endpoint) != 0) {
        snprintf(err, ERR_LEN, "cannot connect to %s: %s", endpoint,
                 zmq_strerror(errno));
        curve_watch_close(&w, s);
        zmq_close(s);
        return ERR_IO;
    }
    if (zmq_send(s, req->data, req->size, 0) < 0) {
        snprintf(err, ERR_LEN, "request to %s: %s", endpoint,
                 zmq_strerror(errno));
        curve_watch_close(&w, s);
        zmq_close(s);
        return ERR_IO;
    }
    memset(pi, 0, sizeof pi);
    pi[0].socket = s;
    pi[0].events = ZMQ_POLLIN;
    for (;;) {
        int64_t left = end - mono_ms();
        rc = left > 0 ? zmq_poll(pi, 1, (long)left) : 0;
        if (rc <= 0 || (pi[0].revents & ZMQ_POLLIN))
            break;                  /* EINTR (a stop signal), timeout, reply */
    }
    if (rc <= 0) {
        if (curve_watch_why(&w, endpoint, why, sizeof why))
            snprintf(err, ERR_LEN, "%s", why);  /* the cause, not the time */
        else
            snprintf(err, ERR_LEN, "no reply from %s within %d ms",
                     endpoint, timeout_ms);
        curve_watch_close(&w, s);
        zmq_close(s);
        return ERR_TIMEOUT;
    }
    curve_watch_close(&w, s);
    zmq_msg_init(&msg);
    if (zmq_msg_recv(&msg, s, 0) < 0) {
        snprintf(err, ERR_LEN, "reply from %s: %s", endpoint,
                 zmq_strerror(errno));
        zmq_msg_close(&msg);
        zmq_close(s);
        return ERR_IO;
    }
    *reply_len = zmq_msg_size(&msg);
    *reply = malloc(*reply_len ? *reply_len : 1);
    if (*reply)
        memcpy(*reply, zmq_msg_data(&msg), *reply_len);
    zmq_msg_close(&msg);
    zmq_close(s);
    if (!*reply) {
        snprintf(err, ERR_LEN, "out of memory");
        return ERR_NOMEM;
    }
    return ERR_OK;
}

int bus_request_status(const char *endpoint, int peer, int timeout_ms,
                       char **reply, size_t *reply_len, char *err)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    int rc;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msg_status_pack_request(&pk);
    rc = bus_request(endpoint, peer, &sb, timeout_ms, reply, reply_len,
                     err);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

int bus_set_int(void *s, int opt, const char *what, int v, char *err)
{
    return s_set_int(s, opt, what, v, err);
}

int bus_set_maxmsg(void *s, int64_t v, char *err)
{
    return s_set_max(s, v, err);
}
