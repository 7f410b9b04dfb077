/* Size limits of the bus: the options every socket gets really apply
 * (read back from libzmq), a reply to a peer that is not there fails
 * instead of vanishing, and a cut history reply says more:true. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus.h"
#include "err.h"
#include "history.h"
#include "mp.h"

static int64_t s_opt64(void *s, int opt)
{
    int64_t v = 0;
    size_t n = sizeof v;
    assert_int_equal(zmq_getsockopt(s, opt, &v, &n), 0);
    return v;
}

static int s_opt(void *s, int opt)
{
    int v = 0;
    size_t n = sizeof v;
    assert_int_equal(zmq_getsockopt(s, opt, &v, &n), 0);
    return v;
}

static void test_router_options(void **state)
{
    char err[ERR_LEN];
    void *r = bus_bind_router("inproc://limits-router", err);
    (void)state;

    assert_non_null(r);
    assert_int_equal(s_opt64(r, ZMQ_MAXMSGSIZE), BUS_MAX_REQUEST);
    assert_int_equal(s_opt(r, ZMQ_SNDHWM), BUS_ROUTER_SNDHWM);
    assert_int_equal(s_opt(r, ZMQ_RCVHWM), BUS_ROUTER_RCVHWM);
    bus_close(&r);
}

static void test_sub_options(void **state)
{
    char err[ERR_LEN];
    void *s = bus_connect_sub("inproc://limits-nobody", BUS_ENGINE, err);
    (void)state;

    assert_non_null(s);
    assert_int_equal(s_opt64(s, ZMQ_MAXMSGSIZE), BUS_MAX_BODY);
    bus_close(&s);
}

static void test_reply_to_nobody(void **state)
{
    char err[ERR_LEN];
    void *r = bus_bind_router("inproc://limits-nobody-router", err);
    msgpack_sbuffer sb;
    zmq_msg_t id;
    (void)state;

    assert_non_null(r);
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "\x80", 1);
    zmq_msg_init_size(&id, 5);
    memcpy(zmq_msg_data(&id), "ghost", 5);
    assert_int_equal(bus_router_reply(r, &id, &sb), -1);
    zmq_msg_close(&id);
    msgpack_sbuffer_destroy(&sb);
    bus_close(&r);
}

static void test_history_cut_head(void **state)
{
    msgpack_sbuffer sb;
    msgpack_packer pk;
    struct mp_body body;
    const msgpack_object *o, *m;
    (void)state;

    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    history_pack_reply_cut(&pk, "AAPL", 7, 0);
    mp_body_init(&body);
    o = mp_body_decode(&body, sb.data, sb.size);
    assert_non_null(o);
    m = mp_get(o, "more");
    assert_non_null(m);
    assert_int_equal(m->type, MSGPACK_OBJECT_BOOLEAN);
    assert_true(m->via.boolean);
    assert_true(mp_is(mp_get(o, "type"), "history"));
    mp_body_free(&body);
    msgpack_sbuffer_clear(&sb);
    history_pack_reply_head(&pk, "AAPL", 7, 0);
    mp_body_init(&body);
    o = mp_body_decode(&body, sb.data, sb.size);
    assert_non_null(o);
    assert_null(mp_get(o, "more"));
    mp_body_free(&body);
    msgpack_sbuffer_destroy(&sb);
    /* A cut reply of bars at their largest still fits a client's limit */
    assert_true(HISTORY_REPLY_BARS * 200u + 4096 <= BUS_MAX_BODY);
}

/* Messages a publisher takes for a subscriber that never reads before it
 * leaves it behind: its queue (hwm), and what the kernel's socket buffer
 * has taken off it (ZeroMQ counts that in steps of half the queue). */
static int s_taken_before_left_behind(int paced)
{
    char ep[64], err[ERR_LEN], buf[BUS_TOPIC_MAX + 1];
    struct bus_pub p;
    void *sub;
    int n, one = 1;

    snprintf(ep, sizeof ep, "ipc:///tmp/lt-unit-pace-%d-%d.ipc",
             (int)getpid(), paced);
    assert_int_equal((paced ? bus_pub_init_paced : bus_pub_init)
                     (&p, ep, "test", err), ERR_OK);
    /* A subscriber that holds one message: beyond it, what the kernel
     * buffers and the publisher's queue (its own I/O thread would
     * otherwise take up to its receive queue off the socket). */
    sub = zmq_socket(bus_ctx(), ZMQ_SUB);
    assert_non_null(sub);
    assert_int_equal(zmq_setsockopt(sub, ZMQ_RCVHWM, &one, sizeof one), 0);
    assert_int_equal(zmq_connect(sub, ep), 0);
    assert_int_equal(bus_subscribe(sub, "bar", NULL), 0);
    /* The subscription has arrived once XPUB hands it over. */
    assert_true(zmq_recv(p.sock, buf, sizeof buf, 0) > 0);
    for (n = 0; n < 4 * BUS_HWM && p.dropped == 0; n++) {
        msgpack_pack_bin(&p.pk, 100);
        msgpack_pack_bin_body(&p.pk, ep, 100 > sizeof ep ? sizeof ep : 100);
        assert_int_equal(bus_pub_send(&p, "bar|X|"), 0);
    }
    assert_int_equal(p.dropped, 1);
    zmq_setsockopt(sub, ZMQ_LINGER, &(int){0}, sizeof(int));
    zmq_close(sub);
    bus_pub_free(&p);
    unlink(ep + strlen("ipc://"));
    return n;
}

/* A pacing publisher's queue per subscriber is BUS_PACE_HWM, not the
 * BUS_HWM of others: the option takes only before bind. */
static void test_paced_queue(void **state)
{
    int plain = s_taken_before_left_behind(0);
    int paced = s_taken_before_left_behind(1);
    (void)state;

    assert_true(plain >= BUS_HWM);
    assert_true(paced >= BUS_PACE_HWM);
    assert_true(paced < BUS_HWM);
}

/* A pacing publisher and a subscriber of pace| reading as fast as it can
 * in a thread of its own: the publisher holds each message back while
 * the subscriber is full and never leaves it behind. (A subscriber that
 * read half its queue between a failed send and the pace| probe once
 * made the probe pass and the message go out as if someone else were
 * full: counted as left behind, about once in 10,000 messages.) */
#define PACE_N 200000

struct pace_reader {
    char ep[96];
    int got;                        /* bar messages read */
};

static void *s_pace_reader(void *arg)
{
    struct pace_reader *r = arg;
    void *sub = zmq_socket(bus_ctx(), ZMQ_SUB);
    char topic[BUS_TOPIC_MAX], body[256];
    int64_t end = mono_ms() + 60000;        /* bounded */

    if (!sub || zmq_connect(sub, r->ep) || bus_subscribe(sub, "bar", NULL) ||
        bus_subscribe(sub, BUS_PACE_KIND, NULL))
        return NULL;
    while (r->got < PACE_N && mono_ms() < end) {
        zmq_pollitem_t pi = { sub, 0, ZMQ_POLLIN, 0 };
        zmq_poll(&pi, 1, 100);
        while (r->got < PACE_N &&
               zmq_recv(sub, topic, sizeof topic, ZMQ_DONTWAIT) >= 0) {
            zmq_recv(sub, body, sizeof body, 0);
            r->got += topic[0] == 'b';
        }
    }
    zmq_setsockopt(sub, ZMQ_LINGER, &(int){0}, sizeof(int));
    zmq_close(sub);
    return NULL;
}

static void test_paced_never_left_behind(void **state)
{
    struct pace_reader r = { .got = 0 };
    char err[ERR_LEN], pad[100] = "";
    struct bus_pub p;
    pthread_t th;
    int64_t end;
    int sent = 0;
    (void)state;

    snprintf(r.ep, sizeof r.ep, "ipc:///tmp/lt-unit-hold-%d.ipc",
             (int)getpid());
    assert_int_equal(bus_pub_init_paced(&p, r.ep, "test", err), ERR_OK);
    assert_int_equal(pthread_create(&th, NULL, s_pace_reader, &r), 0);
    end = mono_ms() + 60000;                /* bounded */
    while (p.subscribers < 2 && mono_ms() < end) {
        zmq_pollitem_t pi = { p.sock, 0, ZMQ_POLLIN, 0 };
        zmq_poll(&pi, 1, 100);
        bus_pub_read_subs(&p, NULL);        /* bar| and pace| */
    }
    while (sent < PACE_N && p.dropped == 0 && mono_ms() < end) {
        int rc;
        msgpack_pack_bin(&p.pk, sizeof pad);
        msgpack_pack_bin_body(&p.pk, pad, sizeof pad);
        while ((rc = bus_pub_try_send(&p, "bar|X|")) == 1 &&
               mono_ms() < end)
            ;                       /* held back: the reader makes room */
        sent += rc == 0;
        msgpack_sbuffer_clear(&p.sb);
    }
    pthread_join(th, NULL);
    bus_pub_free(&p);
    unlink(r.ep + strlen("ipc://"));
    assert_int_equal(p.dropped, 0);
    assert_int_equal(sent, PACE_N);
    assert_int_equal(r.got, PACE_N);
}

/* Every subscription of a subscriber to many symbols reaches the
 * publisher: ZeroMQ sends them through the subscriber's outgoing queue,
 * and one that finds it full is lost, so an engine of thousands of
 * symbols would wait for bars of some of them for ever. */
static void test_many_subscriptions(void **state)
{
    enum { N = 6000 };
    char dir[] = "/tmp/lt-unit-subs-XXXXXX", ep[128], err[ERR_LEN];
    char sym[16];
    struct bus_pub p;
    void *sub;
    int64_t end;
    int got;
    (void)state;

    assert_non_null(mkdtemp(dir));
    snprintf(ep, sizeof ep, "ipc://%s/pub", dir);
    assert_int_equal(bus_pub_init(&p, ep, "unit", err), ERR_OK);
    sub = bus_connect_sub(ep, BUS_FEEDER, err);
    assert_non_null(sub);
    for (int i = 0; i < N; i++) {
        snprintf(sym, sizeof sym, "S%05d", i);
        assert_int_equal(bus_subscribe(sub, "bar", sym), 0);
    }
    end = mono_ms() + 10000;        /* bounded: all arrive well before */
    while (p.subscribers < N && mono_ms() < end) {
        zmq_pollitem_t pi = { p.sock, 0, ZMQ_POLLIN, 0 };
        zmq_poll(&pi, 1, 100);
        bus_pub_read_subs(&p, "bar|");
    }
    got = p.subscribers;
    bus_close(&sub);                /* before the check: a failed check */
    bus_pub_free(&p);               /* must not leave the context busy */
    snprintf(ep, sizeof ep, "%s/pub", dir);
    unlink(ep);
    rmdir(dir);
    assert_int_equal(got, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_router_options),
        cmocka_unit_test(test_sub_options),
        cmocka_unit_test(test_reply_to_nobody),
        cmocka_unit_test(test_history_cut_head),
        cmocka_unit_test(test_paced_queue),
        cmocka_unit_test(test_many_subscriptions),
        cmocka_unit_test(test_paced_never_left_behind),
    };
    int rc = cmocka_run_group_tests_name("bus_limits", tests, NULL, NULL);
    bus_term();
    return rc;
}
