/* bench_bus.c -- what the bus itself can carry on this machine: the
 * physical limits the pipeline's figures are set beside.
 *
 * Every message is as on livetrade's bus: two frames, a topic
 * ("bar|SYMnnnn|") and a bar packed by msg_bar_pack(); publishers are XPUB
 * with ZMQ_XPUB_NODROP and the bus's high-water marks (BUS_HWM),
 * subscribers SUB with the same receive high-water mark, over ipc:// in a
 * temporary directory. Each side is a process of its own (fork), as the
 * feeder, the engine and the sink are.
 *
 *   bench_bus                        both figures below (make bench)
 *   bench_bus --throughput N         raw PUB->SUB: N messages as fast as
 *                                    they go, nothing lost (the publisher
 *                                    waits while the subscriber is full);
 *                                    msg/s from the first to the last
 *   bench_bus --latency RATE SECS NSYM
 *                                    raw two hops at RATE msg/s: a source,
 *                                    a relay that republishes each message
 *                                    at once (an engine doing nothing),
 *                                    and one observer subscribed to both;
 *                                    the time between a message reaching
 *                                    the observer from the source and from
 *                                    the relay. NSYM symbols a tick, ticks
 *                                    RATE / NSYM a second (a feeder's
 *                                    interval); with SECS 0 one tick of
 *                                    RATE messages at once (a burst)
 *   bench_bus --observe BARS_EP SIGS_EP SECS
 *                                    the observer alone, on a running
 *                                    pipeline: bars from BARS_EP (a
 *                                    feeder), signals from SIGS_EP (the
 *                                    engines, comma-separated); for each
 *                                    signal, the time since its bar (same
 *                                    symbol and t) arrived; SECS after the
 *                                    first bar, or 2 s quiet after it
 *
 * The last three print one line of figures "key=value ..." for
 * tests/bench/pipeline.py. Figures only; exits 1 only if something broke
 * (a process died, nothing arrived). Every wait is bounded. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bus.h"
#include "msg_bar.h"
#include "mp.h"

#define THROUGHPUT_N 1000000        /* messages, full run */
#define BRIEF_N 100000              /* messages, brief run */
#define LAT_RATE 10000              /* messages a second */
#define LAT_NSYM 100                /* symbols a tick */
#define LAT_SECS 5                  /* full run; brief: 1 */
#define BURST_N 11000               /* messages in one burst */
#define WAIT_MS 20000               /* longest wait for anything */
#define MAX_SAMPLES 200000         /* latencies kept */
#define MAX_LATE 100000             /* signals in before their bar */
#define QUIET_MS 2000               /* observer: done after this quiet */

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void s_die(const char *what)
{
    fprintf(stderr, "bench_bus: %s: %s\n", what, zmq_strerror(errno));
    _exit(1);
}

static void s_set(void *s, int opt, int v)
{
    if (zmq_setsockopt(s, opt, &v, sizeof v) != 0)
        s_die("zmq_setsockopt");
}

/* An XPUB as bus_bind_pub() makes it; `verbose` passes on every
 * subscription (so a publisher can count its subscribers). */
static void *s_pub(void *ctx, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_XPUB);
    if (!s)
        s_die("zmq_socket");
    s_set(s, ZMQ_SNDHWM, BUS_HWM);
    s_set(s, ZMQ_XPUB_NODROP, 1);
    s_set(s, ZMQ_XPUB_VERBOSE, 1);
    s_set(s, ZMQ_LINGER, 2000);
    if (zmq_bind(s, ep) != 0)
        s_die(ep);
    return s;
}

static void *s_sub(void *ctx, const char *eps, const char *topic)
{
    char list[1024], *save = NULL;
    void *s = zmq_socket(ctx, ZMQ_SUB);
    if (!s)
        s_die("zmq_socket");
    s_set(s, ZMQ_RCVHWM, BUS_HWM);
    s_set(s, ZMQ_LINGER, 0);
    snprintf(list, sizeof list, "%s", eps);
    for (char *ep = strtok_r(list, ",", &save); ep;
         ep = strtok_r(NULL, ",", &save))
        if (zmq_connect(s, ep) != 0)
            s_die(ep);
    if (zmq_setsockopt(s, ZMQ_SUBSCRIBE, topic, strlen(topic)) != 0)
        s_die("ZMQ_SUBSCRIBE");
    return s;
}

/* Waits for n subscriptions on an XPUB; 0, or -1 after WAIT_MS. */
static int s_wait_subs(void *pub, int n)
{
    char buf[256];
    double end = s_now() + WAIT_MS / 1000.0;
    zmq_pollitem_t pi = { pub, 0, ZMQ_POLLIN, 0 };

    while (n > 0) {
        int left = (int)((end - s_now()) * 1000);
        if (left <= 0 || zmq_poll(&pi, 1, left) <= 0)
            return -1;
        while (n > 0) {
            int r = zmq_recv(pub, buf, sizeof buf, ZMQ_DONTWAIT);
            if (r < 0)
                break;
            if (r > 0 && buf[0] == 1)
                n--;
        }
    }
    return 0;
}

/* Bar k of symbol `sym`, packed into sb. */
static void s_bar(msgpack_packer *pk, int sym, int64_t k)
{
    struct bar b;

    memset(&b, 0, sizeof b);
    snprintf(b.src, sizeof b.src, "demo");
    snprintf(b.sym, sizeof b.sym, "SYM%04d", sym);
    b.t = 1600000000000LL + k * 60000;
    b.tf = 60;
    b.o = 100.0 + (double)(k % 100) * 0.01;
    b.h = b.o + 0.5;
    b.l = b.o - 0.5;
    b.c = b.o + 0.1;
    b.vol = 1234;
    b.vw = NAN;
    b.n = -1;
    b.seq = (uint64_t)k + 1;
    b.pub = 12345;
    msg_bar_pack(pk, &b);
}

static int s_send2(void *s, const char *topic, const void *body, size_t n,
                   int flags)
{
    if (zmq_send(s, topic, strlen(topic), ZMQ_SNDMORE | flags) < 0)
        return -1;
    return zmq_send(s, body, n, flags) < 0 ? -1 : 0;
}

/* Waits for a child; 0 if it exited 0 within WAIT_MS (else killed). */
static int s_reap(pid_t pid)
{
    double end = s_now() + WAIT_MS / 1000.0;
    int st;

    while (s_now() < end) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
        if (r < 0)
            return -1;
        usleep(10000);              /* polling a child's exit, bounded */
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* {==================== throughput ======================== */

static void s_tp_publisher(const char *ep, int n)
{
    void *ctx = zmq_ctx_new();
    void *pub = s_pub(ctx, ep);
    msgpack_sbuffer sb;
    msgpack_packer pk;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    s_bar(&pk, 1, 1);
    if (s_wait_subs(pub, 1))
        _exit(1);
    /* Blocking sends: with NODROP the publisher waits while the
     * subscriber is full, so nothing is lost. */
    for (int i = 0; i < n; i++)
        if (s_send2(pub, "bar|SYM0001|", sb.data, sb.size, 0))
            s_die("send");
    zmq_close(pub);
    zmq_ctx_term(ctx);
    msgpack_sbuffer_destroy(&sb);
    _exit(0);
}

/* Messages a second from the first to the last; < 0 if broken. */
static double s_throughput(const char *dir, int n)
{
    char ep[256], topic[64];
    void *ctx, *sub;
    zmq_msg_t m;
    double t0 = 0, t1 = 0;
    int got = 0;
    pid_t pid;

    snprintf(ep, sizeof ep, "ipc://%s/tp", dir);
    ctx = zmq_ctx_new();
    sub = s_sub(ctx, ep, "bar|");
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        s_tp_publisher(ep, n);
    zmq_msg_init(&m);
    while (got < n) {
        zmq_pollitem_t pi = { sub, 0, ZMQ_POLLIN, 0 };
        if (zmq_poll(&pi, 1, WAIT_MS) <= 0)
            break;
        /* Drain until EAGAIN, as the engine does. */
        while (got < n &&
               zmq_recv(sub, topic, sizeof topic, ZMQ_DONTWAIT) >= 0) {
            if (zmq_msg_recv(&m, sub, 0) < 0)
                s_die("recv");
            if (got++ == 0)
                t0 = s_now();
        }
    }
    t1 = s_now();
    zmq_msg_close(&m);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    if (s_reap(pid) || got < n || n < 2) {
        fprintf(stderr, "bench_bus: throughput: %d of %d messages\n", got,
                n);
        return -1;
    }
    return (double)(n - 1) / (t1 - t0);
}

/* }========================================================== */

/* {==================== latency ============================ */

/* A message's key: its symbol and bar time, read from the body. */
struct key {
    char sym[SYM_MAX];
    int64_t t;
};

static int s_key(struct mp_body *mb, const zmq_msg_t *m, struct key *k)
{
    const msgpack_object *o = mp_body_decode(mb, zmq_msg_data((zmq_msg_t *)m),
                                             zmq_msg_size((zmq_msg_t *)m));
    if (!o || mp_str(o, "sym", k->sym, sizeof k->sym) ||
        mp_int(o, "t", &k->t))
        return -1;
    return 0;
}

/* Bars seen: open addressing by (sym, t), arrival time. */
struct seen {
    struct key k;
    double at;
};

static uint64_t s_hash(const struct key *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = k->sym; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return (h ^ (uint64_t)k->t) * 0x9E3779B97F4A7C15ULL;
}

static struct seen *s_slot(struct seen *tab, size_t cap, const struct key *k)
{
    size_t i = s_hash(k) & (cap - 1);
    while (tab[i].k.sym[0] &&
           (tab[i].k.t != k->t || strcmp(tab[i].k.sym, k->sym) != 0))
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

static int s_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* A signal (or relayed bar) `k` seen at `at`: its latency since its
 * bar, or unmatched. */
static void s_match(const struct key *k, double at, struct seen *tab,
                    size_t cap, double *lat, long *nlat, long *unmatched,
                    long *stalls)
{
    struct seen *e = s_slot(tab, cap, k);
    double d;

    if (!e->k.sym[0]) {
        (*unmatched)++;
        return;
    }
    /* Its bar came in later than it by the other connection: the two
     * were not apart in time. */
    d = at > e->at ? at - e->at : 0;
    if (*nlat < MAX_SAMPLES) {
        lat[(*nlat)++] = d;
        if (d > 0.005)
            (*stalls)++;
    }
}

/* The observer: bars on `bars_ep`, signals (or relayed bars) on `sigs_ep`.
 * Stops `secs` after the first bar (0: no limit), at `want` latencies,
 * or QUIET_MS after the last message. Prints one line; 0 or -1. */
static int s_observe(const char *bars_ep, const char *sigs_ep, double secs,
                     long want, const char *label)
{
    size_t cap = 1u << 19;
    struct seen *tab = calloc(cap, sizeof *tab);
    double *lat = calloc(MAX_SAMPLES, sizeof *lat);
    void *ctx = zmq_ctx_new();
    void *bars = s_sub(ctx, bars_ep, "bar|");
    void *sigs = s_sub(ctx, sigs_ep, "sig|");
    zmq_pollitem_t pi[2] = { { bars, 0, ZMQ_POLLIN, 0 },
                             { sigs, 0, ZMQ_POLLIN, 0 } };
    struct mp_body mb;
    long nbar = 0, nsig = 0, nlat = 0, unmatched = 0, stalls = 0;
    double first = 0, last = s_now(), start = s_now();
    struct seen *late = malloc(MAX_LATE * sizeof *late);
    long nlate = 0;
    char topic[64];
    zmq_msg_t m;
    int rc = -1;

    if (!tab || !lat || !late)
        goto out;
    /* Touched now, not page by page while timing. */
    memset(tab, 0, cap * sizeof *tab);
    memset(lat, 0, MAX_SAMPLES * sizeof *lat);
    memset(late, 0, MAX_LATE * sizeof *late);
    mp_body_init(&mb);
    zmq_msg_init(&m);
    for (;;) {
        double now = s_now();
        if (first > 0 && secs > 0 && now - first > secs)
            break;
        if (want > 0 && nlat >= want)
            break;
        if (now - last > (first > 0 ? QUIET_MS : WAIT_MS) / 1000.0)
            break;
        if (zmq_poll(pi, 2, 100) < 0 && errno != EINTR)
            break;
        /* Bars first. A signal whose bar is not in yet (it comes by
         * another connection) is matched at the end. */
        for (int s = 0; s < 2; s++)
            while (zmq_recv(pi[s].socket, topic, sizeof topic,
                            ZMQ_DONTWAIT) >= 0) {
                struct key k;
                double at = s_now();
                struct seen *e;
                if (zmq_msg_recv(&m, pi[s].socket, 0) < 0)
                    break;
                last = at;
                if (first == 0)
                    first = at;
                if (s_key(&mb, &m, &k))
                    continue;
                e = s_slot(tab, cap, &k);
                if (s == 0) {
                    if ((size_t)nbar * 2 < cap && !e->k.sym[0]) {
                        e->k = k;
                        e->at = at;
                        nbar++;
                    }
                    continue;
                }
                nsig++;
                if (!e->k.sym[0] && nlate < MAX_LATE) {
                    late[nlate].k = k;
                    late[nlate++].at = at;
                    continue;
                }
                s_match(&k, at, tab, cap, lat, &nlat, &unmatched, &stalls);
            }
    }
    for (long i = 0; i < nlate; i++)
        s_match(&late[i].k, late[i].at, tab, cap, lat, &nlat, &unmatched,
                &stalls);
    zmq_msg_close(&m);
    mp_body_free(&mb);
    if (nlat == 0) {
        fprintf(stderr, "bench_bus: %s: %ld bars, %ld signals, none "
                "matched\n", label, nbar, nsig);
        goto out;
    }
    qsort(lat, (size_t)nlat, sizeof *lat, s_cmp);
    printf("%s: n=%ld bars=%ld sigs=%ld unmatched=%ld p50_us=%.0f "
           "p99_us=%.0f max_us=%.0f over5ms=%ld span_s=%.2f\n", label, nlat,
           nbar, nsig, unmatched, lat[nlat / 2] * 1e6,
           lat[(size_t)((double)nlat * 0.99)] * 1e6, lat[nlat - 1] * 1e6,
           stalls, last - (first > 0 ? first : start));
    fflush(stdout);
    rc = 0;
out:
    zmq_close(bars);
    zmq_close(sigs);
    zmq_ctx_term(ctx);
    free(tab);
    free(lat);
    free(late);
    return rc;
}

/* The source: `nsym` bars a tick, `ticks` ticks `period` s apart, after
 * `subs` subscriptions arrived. */
static void s_source(const char *ep, int nsym, long ticks, double period,
                     int subs)
{
    void *ctx = zmq_ctx_new();
    void *pub = s_pub(ctx, ep);
    msgpack_sbuffer sb;
    msgpack_packer pk;
    char topic[BUS_TOPIC_MAX];
    double due;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    if (s_wait_subs(pub, subs))
        _exit(1);
    due = s_now();
    for (long k = 0; k < ticks; k++) {
        for (int i = 0; i < nsym; i++) {
            snprintf(topic, sizeof topic, "bar|SYM%04d|", i);
            msgpack_sbuffer_clear(&sb);
            s_bar(&pk, i, k);
            if (s_send2(pub, topic, sb.data, sb.size, 0))
                s_die("send");
        }
        due += period;
        for (double left; (left = due - s_now()) > 0;) {
            struct timespec ts = { 0, (long)(left * 1e9) };
            nanosleep(&ts, NULL);   /* pacing the feed, as --interval */
        }
    }
    zmq_close(pub);
    zmq_ctx_term(ctx);
    msgpack_sbuffer_destroy(&sb);
    _exit(0);
}

/* The relay: each message from `in` republished on `out` at once under
 * "sig|..." (an engine that does no work), after the observer
 * subscribed to `out`. Ends after QUIET_MS without a message. */
static void s_relay(const char *in, const char *out)
{
    void *ctx = zmq_ctx_new();
    void *pub = s_pub(ctx, out);
    void *sub;
    char topic[64];
    zmq_msg_t m;
    double last;
    int got = 0;

    if (s_wait_subs(pub, 1))
        _exit(1);
    sub = s_sub(ctx, in, "bar|");
    zmq_msg_init(&m);
    last = s_now();
    while (s_now() - last < (QUIET_MS + WAIT_MS) / 1000.0) {
        zmq_pollitem_t pi = { sub, 0, ZMQ_POLLIN, 0 };
        int n;
        if (zmq_poll(&pi, 1, 100) < 0 && errno != EINTR)
            break;
        while ((n = zmq_recv(sub, topic, sizeof topic - 1,
                             ZMQ_DONTWAIT)) >= 0) {
            if (zmq_msg_recv(&m, sub, 0) < 0)
                s_die("relay recv");
            memcpy(topic, "sig", 3);
            if (zmq_send(pub, topic, (size_t)n, ZMQ_SNDMORE) < 0 ||
                zmq_msg_send(&m, pub, 0) < 0)
                s_die("relay send");
            last = s_now();
            got = 1;
        }
        if (got && s_now() - last > QUIET_MS / 1000.0)
            break;
    }
    zmq_msg_close(&m);
    zmq_close(sub);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    _exit(0);
}

/* Raw two hops: source -> relay -> observer, and source -> observer. */
static int s_latency(const char *dir, int rate, double secs, int nsym,
                     const char *label)
{
    char src[256], rel[256];
    long ticks = secs > 0 ? (long)(secs * rate / nsym) : 1;
    double period = secs > 0 ? (double)nsym / rate : 0;
    pid_t ps, pr;
    int rc;

    if (secs <= 0)
        nsym = rate;                /* one burst of `rate` messages */
    snprintf(src, sizeof src, "ipc://%s/src", dir);
    snprintf(rel, sizeof rel, "ipc://%s/relay", dir);
    if ((ps = fork()) == 0)
        s_source(src, nsym, ticks, period, 2);
    if ((pr = fork()) == 0)
        s_relay(src, rel);
    if (ps < 0 || pr < 0)
        return -1;
    rc = s_observe(src, rel, 0, ticks * nsym, label);
    rc |= s_reap(ps);
    rc |= s_reap(pr);
    return rc;
}

/* }========================================================== */

/* The ipc:// endpoints' files in the temporary directory. */
static const char *const s_socks[] = { "tp", "src", "relay" };

/* A number argument: its value, or exit 2 with one line naming it. */
static double s_arg(const char *what, const char *s, double min)
{
    char *end;
    double v = strtod(s, &end);

    if (end == s || *end || !(v >= min) || v > 1e9) {
        fprintf(stderr, "bench_bus: %s: '%s' is not a number >= %g\n",
                what, s, min);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/lt-bench-bus-XXXXXX";
    int brief = getenv("BENCH_BRIEF") != NULL, rc = 0;
    double tp, a2 = 0, a3 = 0, a4 = 0;
    const char *mode = argc > 1 ? argv[1] : "";

    setvbuf(stdout, NULL, _IOLBF, 0);
    /* The arguments checked before anything is made. */
    if (argc == 3 && strcmp(mode, "--throughput") == 0) {
        a2 = s_arg("--throughput N", argv[2], 2);
    } else if (argc == 5 && strcmp(mode, "--latency") == 0) {
        a2 = s_arg("--latency RATE", argv[2], 1);
        a3 = s_arg("--latency SECS", argv[3], 0);
        a4 = s_arg("--latency NSYM", argv[4], 1);
    } else if (argc == 5 && strcmp(mode, "--observe") == 0) {
        a4 = s_arg("--observe SECS", argv[4], 0);
    } else if (argc != 1) {
        fprintf(stderr, "usage: bench_bus [--throughput N | --latency RATE "
                "SECS NSYM | --observe BARS_EP SIGS_EP SECS]\n");
        return 2;
    }
    if (!mkdtemp(dir)) {
        perror("bench_bus: mkdtemp");
        return 1;
    }
    if (argc == 3) {
        tp = s_throughput(dir, (int)a2);
        if (tp > 0)
            printf("raw: msgs_per_s=%.0f\n", tp);
        rc = tp > 0 ? 0 : 1;
    } else if (argc == 5 && strcmp(mode, "--latency") == 0) {
        rc = s_latency(dir, (int)a2, a3, (int)a4, "raw") ? 1 : 0;
    } else if (argc == 5) {
        rc = s_observe(argv[2], argv[3], a4, 0, "pipeline") ? 1 : 0;
    } else if (argc == 1) {
        int n = brief ? BRIEF_N : THROUGHPUT_N;
        tp = s_throughput(dir, n);
        if (tp > 0)
            printf("raw two-frame PUB->SUB over ipc (bar bodies, HWM %d, "
                   "nothing lost): %d messages at %.0f msg/s\n", BUS_HWM,
                   n, tp);
        else
            rc = 1;
        printf("raw two hops (source -> relay -> observer, and source -> "
               "observer), %d msg/s as %d symbols every %.0f ms:\n    ",
               LAT_RATE, LAT_NSYM, 1000.0 * LAT_NSYM / LAT_RATE);
        fflush(stdout);
        if (s_latency(dir, LAT_RATE, brief ? 1 : LAT_SECS, LAT_NSYM, "raw"))
            rc = 1;
        printf("raw two hops, a burst of %d messages at once:\n    ",
               BURST_N);
        fflush(stdout);
        if (s_latency(dir, BURST_N, 0, 1, "raw burst"))
            rc = 1;
    }
    for (size_t i = 0; i < sizeof s_socks / sizeof *s_socks; i++) {
        char path[sizeof dir + 16];
        snprintf(path, sizeof path, "%s/%s", dir, s_socks[i]);
        unlink(path);
    }
    rmdir(dir);
    return rc;
}
