/* Requests that never block an event loop (request.h), against real
 * ROUTER endpoints (bus_bind_router, as engines and feeders bind them)
 * served from the same loop: a reply is delivered, a timeout is, a slow
 * endpoint does not delay a fast one, a reply after its timeout is
 * never taken for the next one's, and paged history is asked on page by
 * page (history_call_start). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bus.h"
#include "err.h"
#include "history.h"
#include "loop.h"
#include "mp.h"
#include "request.h"

#define GUARD_MS 20000              /* a test that hangs fails instead */

/* A server: a bound ROUTER and the requests it has not answered. */
struct server {
    void *router;
    char ep[128];
    zmq_msg_t ids[4];               /* peers of the held requests */
    char bodies[4][40];
    int held;
    int answer;                     /* 1: answer at once with "re:body" */
};

/* What the callbacks saw. */
struct seen {
    loop_t *loop;
    request_t *rq;
    struct server *fast, *slow;
    int calls;
    int rc[4];
    char reply[4][32];
    char err[4][ERR_LEN];
    int slow_held_at_fast;          /* requests the slow one held when the
                                       fast reply came */
    int stop_after;                 /* calls that end the test */
};

static void s_server(struct server *sv, int answer)
{
    char err[ERR_LEN];
    size_t n = sizeof sv->ep;

    memset(sv, 0, sizeof *sv);
    sv->router = bus_bind_router("tcp://127.0.0.1:*", err);
    assert_non_null(sv->router);
    assert_int_equal(zmq_getsockopt(sv->router, ZMQ_LAST_ENDPOINT, sv->ep,
                                    &n), 0);
    sv->answer = answer;
}

static void s_server_free(struct server *sv)
{
    for (int i = 0; i < sv->held; i++)
        zmq_msg_close(&sv->ids[i]);
    bus_close(&sv->router);
}

static void s_reply(struct server *sv, int i, const char *text)
{
    msgpack_sbuffer sb = { .size = strlen(text), .data = (char *)text,
                           .alloc = 0 };
    bus_router_reply(sv->router, &sv->ids[i], &sb);
}

static void s_on_server(loop_t *loop, void *sock, int fd, void *arg)
{
    struct server *sv = arg;
    zmq_msg_t id, body;
    int n;
    (void)loop;
    (void)sock;
    (void)fd;

    while ((n = bus_router_recv(sv->router, &id, &body)) >= 0) {
        char text[40];
        snprintf(text, sizeof text, "re:%.*s", n < 30 ? n : 30,
                 (const char *)zmq_msg_data(&body));
        zmq_msg_close(&body);
        if (sv->held == 4) {
            zmq_msg_close(&id);
            continue;
        }
        snprintf(sv->bodies[sv->held], sizeof sv->bodies[0], "%s", text);
        sv->ids[sv->held++] = id;
        if (sv->answer)
            s_reply(sv, sv->held - 1, text);
    }
}

static void s_on_guard(loop_t *loop, void *arg)
{
    (void)arg;
    loop_stop(loop);
}

static void s_on_result(request_t *rq, int ep, int rc, const void *reply,
                        size_t len, const char *err, void *arg)
{
    struct seen *sn = arg;
    int i = sn->calls++;
    (void)rq;
    (void)ep;

    assert_true(i < 4);
    sn->rc[i] = rc;
    if (reply)
        snprintf(sn->reply[i], sizeof sn->reply[i], "%.*s",
                 (int)(len < 30 ? len : 30), (const char *)reply);
    if (err)
        snprintf(sn->err[i], sizeof sn->err[i], "%s", err);
    if (sn->calls >= sn->stop_after)
        loop_stop(sn->loop);
}

static void s_setup(struct seen *sn)
{
    char err[ERR_LEN];

    memset(sn, 0, sizeof *sn);
    sn->loop = loop_new();
    assert_non_null(sn->loop);
    assert_true(loop_add_timer(sn->loop, GUARD_MS, s_on_guard, NULL) >= 0);
    sn->rq = request_new(sn->loop, err);
    assert_non_null(sn->rq);
}

static void s_teardown(struct seen *sn)
{
    request_destroy(&sn->rq);
    request_destroy(&sn->rq);       /* idempotent */
    loop_destroy(&sn->loop);
}

/* A paged answer: the next page asked from the reply's callback, on the
 * same connection. */
static void s_on_page(request_t *rq, int ep, int rc, const void *reply,
                      size_t len, const char *err, void *arg)
{
    struct seen *sn = arg;
    char why[ERR_LEN];

    s_on_result(rq, ep, rc, reply, len, err, arg);
    assert_false(request_busy(rq, ep));
    if (sn->calls == 1)
        assert_int_equal(request_send(rq, ep, "two", 3, 5000, s_on_page,
                                      sn, why), ERR_OK);
}

static void test_reply(void **state)
{
    struct seen sn;
    struct server sv;
    char err[ERR_LEN];
    int ep;
    (void)state;

    s_setup(&sn);
    s_server(&sv, 1);
    assert_int_equal(loop_add_socket(sn.loop, sv.router, s_on_server, &sv),
                     0);
    ep = request_endpoint(sn.rq, sv.ep, BUS_ENGINE);
    assert_int_equal(ep, 0);
    assert_string_equal(request_name(sn.rq, ep), sv.ep);
    sn.stop_after = 2;
    assert_int_equal(request_send(sn.rq, ep, "one", 3, 5000, s_on_page,
                                  &sn, err), ERR_OK);
    assert_true(request_busy(sn.rq, ep));
    /* One in flight per endpoint: a second is refused, saying why. */
    assert_int_equal(request_send(sn.rq, ep, "x", 1, 5000, s_on_result,
                                  &sn, err), ERR_IO);
    assert_non_null(strstr(err, "in flight"));
    assert_int_equal(loop_run(sn.loop), 0);
    assert_int_equal(sn.calls, 2);
    assert_int_equal(sn.rc[0], ERR_OK);
    assert_string_equal(sn.reply[0], "re:one");
    assert_int_equal(sn.rc[1], ERR_OK);
    assert_string_equal(sn.reply[1], "re:two");
    assert_false(request_busy(sn.rq, ep));
    assert_int_equal(sv.held, 2);
    loop_remove_socket(sn.loop, sv.router);
    s_server_free(&sv);
    s_teardown(&sn);
}

static void test_timeout(void **state)
{
    struct seen sn;
    struct server sv;
    char err[ERR_LEN];
    int ep;
    (void)state;

    s_setup(&sn);
    s_server(&sv, 0);               /* holds every request */
    assert_int_equal(loop_add_socket(sn.loop, sv.router, s_on_server, &sv),
                     0);
    ep = request_endpoint(sn.rq, sv.ep, BUS_ENGINE);
    sn.stop_after = 1;
    assert_int_equal(request_send(sn.rq, ep, "one", 3, 200, s_on_result,
                                  &sn, err), ERR_OK);
    assert_int_equal(loop_run(sn.loop), 0);
    assert_int_equal(sn.calls, 1);
    assert_int_equal(sn.rc[0], ERR_TIMEOUT);
    assert_non_null(strstr(sn.err[0], "no reply from"));
    assert_non_null(strstr(sn.err[0], sv.ep));
    assert_false(request_busy(sn.rq, ep));
    loop_remove_socket(sn.loop, sv.router);
    s_server_free(&sv);
    s_teardown(&sn);
}

/* The fast endpoint's reply: the slow one still holds its request, and
 * is let go now. */
static void s_on_fast(request_t *rq, int ep, int rc, const void *reply,
                      size_t len, const char *err, void *arg)
{
    struct seen *sn = arg;

    sn->slow_held_at_fast = sn->slow->held;
    s_on_result(rq, ep, rc, reply, len, err, arg);
    if (sn->slow->held)
        s_reply(sn->slow, 0, "re:slow");
}

static void test_slow_does_not_delay_fast(void **state)
{
    struct seen sn;
    struct server fast, slow;
    char err[ERR_LEN];
    int ef, es;
    (void)state;

    s_setup(&sn);
    s_server(&fast, 1);
    s_server(&slow, 0);
    sn.fast = &fast;
    sn.slow = &slow;
    assert_int_equal(loop_add_socket(sn.loop, fast.router, s_on_server,
                                     &fast), 0);
    assert_int_equal(loop_add_socket(sn.loop, slow.router, s_on_server,
                                     &slow), 0);
    es = request_endpoint(sn.rq, slow.ep, BUS_ENGINE);
    ef = request_endpoint(sn.rq, fast.ep, BUS_ENGINE);
    sn.stop_after = 2;
    /* The slow one first, with a timeout far beyond the test's. */
    assert_int_equal(request_send(sn.rq, es, "s", 1, 60000, s_on_result,
                                  &sn, err), ERR_OK);
    assert_int_equal(request_send(sn.rq, ef, "f", 1, 60000, s_on_fast,
                                  &sn, err), ERR_OK);
    assert_int_equal(loop_run(sn.loop), 0);
    assert_int_equal(sn.calls, 2);
    assert_string_equal(sn.reply[0], "re:f");
    assert_int_equal(sn.slow_held_at_fast, 1);
    assert_string_equal(sn.reply[1], "re:slow");
    assert_int_equal(sn.rc[1], ERR_OK);
    loop_remove_socket(sn.loop, fast.router);
    loop_remove_socket(sn.loop, slow.router);
    s_server_free(&fast);
    s_server_free(&slow);
    s_teardown(&sn);
}

/* After the timeout: the next request, and once the server holds both,
 * the late reply goes first. */
static void s_on_late_timeout(request_t *rq, int ep, int rc,
                              const void *reply, size_t len,
                              const char *err, void *arg)
{
    struct seen *sn = arg;
    char why[ERR_LEN];

    s_on_result(rq, ep, rc, reply, len, err, arg);
    assert_int_equal(request_send(rq, ep, "two", 3, 60000, s_on_result,
                                  sn, why), ERR_OK);
}

static void s_on_late_server(loop_t *loop, void *sock, int fd, void *arg)
{
    struct seen *sn = arg;

    struct server *sv = sn->slow;
    int had = sv->held;

    s_on_server(loop, sock, fd, sv);
    if (sv->held > had && strcmp(sv->bodies[sv->held - 1], "re:two") == 0) {
        for (int i = 0; i < sv->held - 1; i++)
            s_reply(sv, i, "re:one (late)");
        s_reply(sv, sv->held - 1, "re:two");
    }
}

static void test_late_reply_ignored(void **state)
{
    struct seen sn;
    struct server sv;
    char err[ERR_LEN];
    int ep;
    (void)state;

    s_setup(&sn);
    s_server(&sv, 0);
    sn.slow = &sv;
    assert_int_equal(loop_add_socket(sn.loop, sv.router, s_on_late_server,
                                     &sn), 0);
    ep = request_endpoint(sn.rq, sv.ep, BUS_ENGINE);
    sn.stop_after = 2;
    assert_int_equal(request_send(sn.rq, ep, "one", 3, 1000,
                                  s_on_late_timeout, &sn, err), ERR_OK);
    assert_int_equal(loop_run(sn.loop), 0);
    assert_int_equal(sn.calls, 2);
    assert_int_equal(sn.rc[0], ERR_TIMEOUT);
    assert_int_equal(sn.rc[1], ERR_OK);
    assert_string_equal(sn.reply[1], "re:two");
    loop_remove_socket(sn.loop, sv.router);
    s_server_free(&sv);
    s_teardown(&sn);
}

static void test_bad_endpoint(void **state)
{
    struct seen sn;
    char err[ERR_LEN];
    int ep;
    (void)state;

    s_setup(&sn);
    ep = request_endpoint(sn.rq, "nowhere://x", BUS_ENGINE);
    assert_int_equal(request_send(sn.rq, ep, "x", 1, 100, s_on_result, &sn,
                                  err), ERR_IO);
    assert_non_null(strstr(err, "nowhere://x"));
    assert_false(request_busy(sn.rq, ep));
    assert_int_equal(sn.calls, 0);
    s_teardown(&sn);
}

#define HT0 1700000000000LL
#define HBARS 5                     /* bars the history server has */
#define HPAGE 2                     /* bars in one of its replies */

/* A history server in the loop: bars 0..HBARS-1 of AAA (a minute
 * apart), at most HPAGE a reply (more: true when cut). */
static void s_on_history_server(loop_t *loop, void *sock, int fd,
                                void *arg)
{
    int *pages = arg;
    zmq_msg_t id, body;
    struct mp_body mb;
    int n;
    (void)loop; (void)fd;

    mp_body_init(&mb);
    while ((n = bus_router_recv(sock, &id, &body)) >= 0) {
        const msgpack_object *o = mp_body_decode(&mb, zmq_msg_data(&body),
                                                 (size_t)n);
        struct history_req r;
        char err[ERR_LEN];
        msgpack_sbuffer sb;
        msgpack_packer pk;
        int from, to;

        assert_non_null(o);
        assert_int_equal(history_req_parse(o, &r, err), 0);
        from = r.since < 0 ? HBARS - (int)r.n :
               (int)((r.since - HT0) / 60000) + 1;
        from = from < 0 ? 0 : from;
        to = from + (int)r.n < HBARS ? from + (int)r.n : HBARS;
        msgpack_sbuffer_init(&sb);
        msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
        if (to - from > HPAGE) {
            to = from + HPAGE;
            history_pack_reply_cut(&pk, r.sym, HBARS, (size_t)(to - from));
        } else {
            history_pack_reply_head(&pk, r.sym, HBARS, (size_t)(to - from));
        }
        for (int i = from; i < to; i++) {
            struct bar b;
            memset(&b, 0, sizeof b);
            snprintf(b.src, sizeof b.src, "t");
            snprintf(b.sym, sizeof b.sym, "%s", r.sym);
            b.t = HT0 + i * 60000LL;
            b.tf = 60;
            b.o = b.h = b.l = b.c = 100 + i;
            b.vol = 1;
            b.vw = NAN;
            b.n = -1;
            b.seq = (uint64_t)i + 1;
            b.pub = 1;
            msg_bar_pack(&pk, &b);
        }
        bus_router_reply(sock, &id, &sb);
        msgpack_sbuffer_destroy(&sb);
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        (*pages)++;
    }
    mp_body_free(&mb);
}

struct got_history {
    loop_t *loop;
    int calls, rc;
    struct bar *bars;
    size_t n;
    uint64_t seq;
};

static void s_on_history(struct history_call *c, int rc, struct bar *bars,
                         size_t n, uint64_t seq, size_t bad, const char *err,
                         void *arg)
{
    struct got_history *g = arg;
    (void)err;

    assert_false(c->busy);
    assert_int_equal(bad, 0);
    g->calls++;
    g->rc = rc;
    g->bars = bars;
    g->n = n;
    g->seq = seq;
    loop_stop(g->loop);
}

/* The history of a symbol in cut replies: asked on from the callback of
 * each page, the bars together, in order, once. */
static void test_history_pages(void **state)
{
    struct seen sn;
    struct server sv;
    struct history_call c;
    struct history_req r = { .sym = "AAA", .n = HBARS, .since = -1 };
    struct got_history g = { 0 };
    char err[ERR_LEN];
    int pages = 0, ep;
    (void)state;

    s_setup(&sn);
    s_server(&sv, 0);
    assert_int_equal(loop_add_socket(sn.loop, sv.router,
                                     s_on_history_server, &pages), 0);
    ep = request_endpoint(sn.rq, sv.ep, BUS_FEEDER);
    g.loop = sn.loop;
    memset(&c, 0, sizeof c);
    assert_int_equal(history_call_start(&c, sn.rq, ep, &r, 5000,
                                        s_on_history, &g, err), 0);
    assert_true(c.busy);
    assert_int_equal(history_call_start(&c, sn.rq, ep, &r, 5000,
                                        s_on_history, &g, err), ERR_IO);
    assert_int_equal(g.calls, 0);       /* never from the call itself */
    assert_int_equal(loop_run(sn.loop), 0);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.rc, ERR_OK);
    assert_int_equal(pages, 3);
    assert_int_equal(g.n, HBARS);
    assert_int_equal(g.seq, HBARS);
    for (int i = 0; i < HBARS; i++)
        assert_int_equal(g.bars[i].t, HT0 + i * 60000LL);
    free(g.bars);
    history_call_free(&c);
    loop_remove_socket(sn.loop, sv.router);
    s_server_free(&sv);
    s_teardown(&sn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_slow_does_not_delay_fast),
        cmocka_unit_test(test_late_reply_ignored),
        cmocka_unit_test(test_bad_endpoint),
        cmocka_unit_test(test_history_pages),
    };
    int rc = cmocka_run_group_tests_name("request", tests, NULL, NULL);
    bus_term();
    return rc;
}
